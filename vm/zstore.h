/*
 * zstore.h - the compressed store for cold anonymous pages (LZ4).  Design
 * in zstore.c and docs/reclaim.md.
 *
 * A page goes in (zstore_put) and comes back as a 32-bit handle, stable
 * until zstore_free; zstore_get decompresses it into a page-sized buffer.
 * The page slot that held the page keeps the handle instead (the caller's
 * business: cow.c/plist.c), so the store knows nothing of objects.
 *
 * Who owns what.  A handle is owned by exactly one slot; the caller
 * serialises get/free of one handle (the owner's hierarchy lock), while
 * any number of threads may put/get/free different handles at once.
 *
 * Errors: 0 or a negative errno; put has two positive non-errors, below.
 */
#ifndef VM_ZSTORE_H
#define VM_ZSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zstore;

/* zstore_put results besides 0 (stored, handle set) and -errno. */
#define ZSTORE_ZERO 1		/* the page is all zero: store a marker, no handle */

/* A page compresses "well enough" if it fits in this many bytes (3/4 of a
 * page): less saves too little for the cost of decompressing it. */
#define ZSTORE_MAX_COMPRESSED 3072u

/* True if the page (VM_PAGE_SIZE bytes) is all zero: zstore_put's first
 * check, for callers that only dedup zero pages. */
bool zstore_is_zero(const void *page);

/* Handle 0 is never issued: callers may use it for "none". */
#define ZSTORE_NONE 0u

struct zstore_stats {
	uint64_t stored;	/* pages in the store now */
	uint64_t bytes;		/* compressed bytes held now (payload) */
	uint64_t limit;		/* byte limit (0 = none) */
	uint64_t compressions;	/* pages compressed (put calls past the zero check) */
	uint64_t decompressions;/* zstore_get calls that succeeded */
	uint64_t incompressible;/* puts refused with -E2BIG */
	uint64_t zero_pages;	/* puts answered ZSTORE_ZERO */
	uint64_t failures;	/* puts that failed -ENOMEM / -ENOSPC */
	uint64_t saved;		/* stored * page size - bytes, now */
	uint64_t handles;	/* handle table capacity */
};

/* A store whose compressed payload may not exceed limit_bytes (0 = no
 * limit); NULL when vm_calloc fails. */
struct zstore *zstore_create(uint64_t limit_bytes);
/* Destroy, freeing every entry still stored. */
void zstore_destroy(struct zstore *z);

/*
 * Compress one page (VM_PAGE_SIZE bytes at page, 8-byte aligned).  Returns
 *   0            stored: *handle_out is its handle;
 *   ZSTORE_ZERO  the page is all zero: nothing stored (zero-page dedup:
 *                the caller puts a marker in the slot and frees the page);
 *   -E2BIG       incompressible (over ZSTORE_MAX_COMPRESSED): nothing
 *                stored; the caller leaves the page resident and should not
 *                try it again until it is written (the page is "marked");
 *   -ENOSPC      the store's byte limit would be exceeded;
 *   -ENOMEM      a heap allocation failed (fault injector or malloc).
 * On any result but 0, *handle_out is ZSTORE_NONE and the store is
 * unchanged (the counters aside).  Compression runs outside the lock.
 */
int zstore_put(struct zstore *z, const void *page, uint32_t *handle_out);
/* Decompress handle into page_out (VM_PAGE_SIZE bytes).  The entry stays.
 * 0, or -EINVAL for a handle that is not stored, -EIO for corrupt data. */
int zstore_get(struct zstore *z, uint32_t handle, void *page_out);
/* Drop handle; it may be issued again.  0, or -EINVAL if not stored. */
int zstore_free(struct zstore *z, uint32_t handle);

void zstore_stats(struct zstore *z, struct zstore_stats *out);

/* Test only: check the handle table and the counters (asserts). */
void zstore_test_check(struct zstore *z);

/*
 * Memory the store holds now, as its owner should count it against a
 * limit: the compressed payload plus ZSTORE_ENTRY_OVERHEAD bytes per
 * entry (its 16-byte table entry and the allocator's ~16-byte header).
 */
#define ZSTORE_ENTRY_OVERHEAD 32u
uint64_t zstore_footprint(struct zstore *z);

#endif /* VM_ZSTORE_H */
