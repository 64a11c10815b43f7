/*
 * zstore.c - the compressed store for cold anonymous pages.  Contract in
 * zstore.h; where it sits in reclaim, docs/reclaim.md.
 *
 * What it owns: one heap buffer per stored page (its LZ4 block, exactly
 * as long as the block) and the handle table.  Callers: reclaim (put),
 * the fault path of cow.c (get then free), decommit/destroy (free).
 *
 * Layout.  A flat table of entries indexed by handle - 1; free entries
 * are chained through `next` (LIFO, so a freed handle is the next issued):
 *
 *   ent[0] {data, len}   ent[1] {NULL, next=3}   ent[2] {data, len} ...
 *   free_head = 1 -> 3 -> ... -> ZS_END
 *
 * The table doubles when full (vm_malloc + copy, under the lock; a failure
 * leaves the old table in place: -ENOMEM).  An entry is 16 bytes; each
 * payload is a separate vm_malloc, so the real heap cost per page is the
 * block plus the allocator's overhead (about 16 bytes with glibc).  This
 * is the simple and honest choice; a slab of size classes (zsmalloc) would
 * cut the overhead and fragmentation and can replace it behind the same
 * API.
 *
 * Paths.
 *   put   1. all-zero check (no lock): ZSTORE_ZERO;
 *         2. LZ4_compress_default into a stack buffer of
 *            ZSTORE_MAX_COMPRESSED bytes (no lock): 0 = did not fit: -E2BIG;
 *         3. vm_malloc the payload (no lock): -ENOMEM;
 *         4. lock: limit check (-ENOSPC), take a handle (grow: -ENOMEM),
 *            store; unlock.  Failure after 3 frees the payload.
 *   get   lock, read {data, len}, unlock, decompress.  The payload cannot
 *         go away meanwhile: only the handle's owner frees it, and the
 *         owner is the caller (zstore.h).
 *   free  lock, unlink, unlock, free the payload.
 *
 * Locking legend: (Z) z->lock; (A) atomic; (c) constant after create.
 */
#include <assert.h>
#include <errno.h>
#include <lz4.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "page.h"
#include "zstore.h"

#define ZS_END UINT32_MAX	/* end of the free chain */
#define ZS_INIT_CAP 64u

struct zentry {
	void		*data;	/* LZ4 block, NULL when free (Z) */
	uint32_t	len;	/* bytes in data (Z) */
	uint32_t	next;	/* next free index when free (Z) */
};

struct zstore {
	pthread_mutex_t	lock;
	struct zentry	*ent;		/* handle - 1 -> entry (Z) */
	uint32_t	cap;		/* entries in ent (Z) */
	uint32_t	used;		/* entries ever handed out: ent[used..] untouched (Z) */
	uint32_t	free_head;	/* first free index below used, or ZS_END (Z) */
	uint64_t	limit;		/* payload byte limit, 0 = none (c) */
	uint64_t	stored;		/* live entries (Z) */
	uint64_t	bytes;		/* payload bytes of live entries (Z) */
	_Atomic uint64_t compressions, decompressions, incompressible,
			 zero_pages, failures;	/* (A) */
};

struct zstore *
zstore_create(uint64_t limit_bytes)
{
	struct zstore *z = vm_calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	pthread_mutex_init(&z->lock, NULL);
	z->free_head = ZS_END;
	z->limit = limit_bytes;
	return z;
}

void
zstore_destroy(struct zstore *z)
{
	uint32_t i;

	if (z == NULL)
		return;
	for (i = 0; i < z->used; i++)
		free(z->ent[i].data);
	free(z->ent);
	pthread_mutex_destroy(&z->lock);
	free(z);
}

/* True if the page is all zero.  Word at a time; most non-zero pages
 * differ in the first words, so this is cheap for them too. */
bool
zstore_is_zero(const void *page)
{
	const uint64_t *w = page;
	size_t i;

	for (i = 0; i < VM_PAGE_SIZE / sizeof(*w); i += 4)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
			return false;
	return true;
}

/* Make room for one more entry.  Caller holds the lock.  -ENOMEM leaves
 * the table as it was. */
static int
zstore_grow(struct zstore *z)
{
	uint32_t ncap;
	struct zentry *n;

	if (z->free_head != ZS_END || z->used < z->cap)
		return 0;
	if (z->cap >= (UINT32_MAX - 1) / 2)
		return -ENOMEM;		/* handles are 32 bits: table full */
	ncap = z->cap ? z->cap * 2 : ZS_INIT_CAP;
	n = vm_malloc((size_t)ncap * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	if (z->cap)
		memcpy(n, z->ent, (size_t)z->cap * sizeof(*n));
	free(z->ent);
	z->ent = n;
	z->cap = ncap;
	return 0;
}

/* Store {data, len} under the lock; the handle, or a negative errno. */
static int64_t
zstore_insert(struct zstore *z, void *data, uint32_t len)
{
	uint32_t i;
	int err;

	if (z->limit != 0 && z->bytes + len > z->limit)
		return -ENOSPC;
	if ((err = zstore_grow(z)) != 0)
		return err;
	if (z->free_head != ZS_END) {
		i = z->free_head;
		z->free_head = z->ent[i].next;
	} else {
		i = z->used++;
	}
	z->ent[i].data = data;
	z->ent[i].len = len;
	z->ent[i].next = ZS_END;
	z->stored++;
	z->bytes += len;
	return (int64_t)i + 1;
}

int
zstore_put(struct zstore *z, const void *page, uint32_t *handle_out)
{
	char buf[ZSTORE_MAX_COMPRESSED];
	void *data;
	int64_t h;
	int len;

	*handle_out = ZSTORE_NONE;
	if (zstore_is_zero(page)) {				/* 1 */
		atomic_fetch_add(&z->zero_pages, 1);
		return ZSTORE_ZERO;
	}
	atomic_fetch_add(&z->compressions, 1);			/* 2 */
	len = LZ4_compress_default(page, buf, VM_PAGE_SIZE, sizeof(buf));
	if (len <= 0) {
		atomic_fetch_add(&z->incompressible, 1);
		return -E2BIG;
	}
	data = vm_malloc((size_t)len);				/* 3 */
	if (data == NULL) {
		atomic_fetch_add(&z->failures, 1);
		return -ENOMEM;
	}
	memcpy(data, buf, (size_t)len);
	pthread_mutex_lock(&z->lock);				/* 4 */
	h = zstore_insert(z, data, (uint32_t)len);
	pthread_mutex_unlock(&z->lock);
	if (h < 0) {
		free(data);
		atomic_fetch_add(&z->failures, 1);
		return (int)h;
	}
	*handle_out = (uint32_t)h;
	return 0;
}

/* The live entry of handle h, or NULL.  Caller holds the lock. */
static struct zentry *
zstore_entry(struct zstore *z, uint32_t h)
{
	if (h == ZSTORE_NONE || h > z->used || z->ent[h - 1].data == NULL)
		return NULL;
	return &z->ent[h - 1];
}

int
zstore_get(struct zstore *z, uint32_t handle, void *page_out)
{
	struct zentry *e;
	const void *data;
	uint32_t len;
	int n;

	pthread_mutex_lock(&z->lock);
	e = zstore_entry(z, handle);
	data = e ? e->data : NULL;
	len = e ? e->len : 0;
	pthread_mutex_unlock(&z->lock);
	if (data == NULL)
		return -EINVAL;
	n = LZ4_decompress_safe(data, page_out, (int)len, VM_PAGE_SIZE);
	if (n != (int)VM_PAGE_SIZE)
		return -EIO;
	atomic_fetch_add(&z->decompressions, 1);
	return 0;
}

int
zstore_free(struct zstore *z, uint32_t handle)
{
	struct zentry *e;
	void *data;

	pthread_mutex_lock(&z->lock);
	e = zstore_entry(z, handle);
	if (e == NULL) {
		pthread_mutex_unlock(&z->lock);
		return -EINVAL;
	}
	data = e->data;
	z->stored--;
	z->bytes -= e->len;
	e->data = NULL;
	e->len = 0;
	e->next = z->free_head;
	z->free_head = handle - 1;
	pthread_mutex_unlock(&z->lock);
	free(data);
	return 0;
}

void
zstore_stats(struct zstore *z, struct zstore_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&z->lock);
	out->stored = z->stored;
	out->bytes = z->bytes;
	out->handles = z->cap;
	pthread_mutex_unlock(&z->lock);
	out->limit = z->limit;
	out->saved = out->stored * VM_PAGE_SIZE - out->bytes;
	out->compressions = atomic_load(&z->compressions);
	out->decompressions = atomic_load(&z->decompressions);
	out->incompressible = atomic_load(&z->incompressible);
	out->zero_pages = atomic_load(&z->zero_pages);
	out->failures = atomic_load(&z->failures);
}

void
zstore_test_check(struct zstore *z)
{
	uint64_t live = 0, bytes = 0, nfree = 0;
	uint32_t i;

	pthread_mutex_lock(&z->lock);
	assert(z->used <= z->cap);
	for (i = 0; i < z->used; i++) {
		if (z->ent[i].data != NULL) {
			assert(z->ent[i].len > 0 && z->ent[i].len <= ZSTORE_MAX_COMPRESSED);
			live++;
			bytes += z->ent[i].len;
		}
	}
	for (i = z->free_head; i != ZS_END; i = z->ent[i].next) {
		assert(i < z->used && z->ent[i].data == NULL);
		assert(++nfree <= z->used);
	}
	assert(live == z->stored && bytes == z->bytes);
	assert(live + nfree == z->used);
	assert(z->limit == 0 || z->bytes <= z->limit);
	pthread_mutex_unlock(&z->lock);
}

uint64_t
zstore_footprint(struct zstore *z)
{
	uint64_t n;

	pthread_mutex_lock(&z->lock);
	n = z->bytes + z->stored * ZSTORE_ENTRY_OVERHEAD;
	pthread_mutex_unlock(&z->lock);
	return n;
}
