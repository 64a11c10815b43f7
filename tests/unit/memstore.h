/*
 * memstore.h - an in-memory backing store behind struct pager_ops, for the
 * pager tests (test_pager.c, test_model_pager.c).  The store is cap bytes,
 * zero past size; it counts its calls, can fail the next reads or writes
 * with -EIO, and once marked dead (its VMO detached or gone) fails the
 * test on any call.  Include after vmtest.h.
 */
#ifndef MEMSTORE_H
#define MEMSTORE_H

#include <errno.h>
#include <sys/uio.h>

#include "pager.h"

struct memstore {
	unsigned char	*b;		/* cap bytes, zero past size */
	uint64_t	cap, size;
	int		reads, writes, syncs;	/* calls so far */
	int		fail_read, fail_write;	/* so many next ones fail: -EIO */
	bool		dead;		/* detached: nobody may call */
	struct memstore	*next;		/* for the caller's lists */
};

/* An empty store of cap bytes (all zero). */
static inline struct memstore *
memstore_new(uint64_t cap)
{
	struct memstore *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->b = calloc(1, cap);
	assert_non_null(s->b);
	s->cap = cap;
	return s;
}

/* A store of cap bytes holding size bytes of the pattern of seed (the
 * pattern of vt_fill: byte i is seed * 131 + i * 7 + (i >> 12)). */
static inline struct memstore *
memstore_pattern(uint64_t cap, uint64_t size, unsigned seed)
{
	struct memstore *s = memstore_new(cap);
	uint64_t i;

	s->size = size;
	for (i = 0; i < size; i++)
		s->b[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 12));
	return s;
}

static inline void
memstore_free(struct memstore *s)
{
	free(s->b);
	free(s);
}

static inline void
ms_alive(struct memstore *s)
{
	if (s->dead)
		fail_msg("pager op on store %p after vmo_pager_detach/unref", (void *)s);
}

static inline int
ms_read(void *ctx, uint64_t off, void *page)
{
	struct memstore *s = ctx;

	ms_alive(s);
	assert_true(off % P == 0);
	s->reads++;
	if (s->fail_read > 0) {
		s->fail_read--;
		return -EIO;
	}
	memset(page, 0, P);
	if (off < s->size)
		memcpy(page, s->b + off, s->size - off < P ? s->size - off : P);
	return 0;
}

static inline int
ms_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct memstore *s = ctx;

	ms_alive(s);
	if (s->fail_write > 0) {
		s->fail_write--;
		return -EIO;
	}
	assert_true(len <= P && off + len <= s->cap);
	memcpy(s->b + off, buf, len);
	if (off + len > s->size)
		s->size = off + len;
	s->writes++;
	return 0;
}

static inline int
ms_resize(void *ctx, uint64_t size)
{
	struct memstore *s = ctx;

	ms_alive(s);
	assert_true(size <= s->cap);
	if (size < s->size)
		memset(s->b + size, 0, s->size - size);
	s->size = size;
	return 0;
}

static inline int
ms_sync(void *ctx)
{
	struct memstore *s = ctx;

	ms_alive(s);
	s->syncs++;
	return 0;
}

static inline int
ms_readv(void *ctx, uint64_t off, const struct iovec *iov, int n)
{
	int i, err;

	for (i = 0; i < n; i++) {
		assert_int_equal(iov[i].iov_len, P);
		if ((err = ms_read(ctx, off + (uint64_t)i * P, iov[i].iov_base)) != 0)
			return err;
	}
	return 0;
}

/* Both ways of paging in: runs through readv, and page by page. */
static const struct pager_ops memstore_ops_v = {
	ms_read, ms_write, ms_resize, ms_sync, ms_readv
};
static const struct pager_ops memstore_ops_1 = {
	ms_read, ms_write, ms_resize, ms_sync, NULL
};

#endif /* MEMSTORE_H */
