/*
 * pmm.h - the physical memory manager: an arena of pages and their
 * descriptors.  See pmm.c for the design.
 *
 * The arena is reserved address space (mmap MAP_NORESERVE) the size of the
 * mount's limit; pages are touched as they are first used, and when many
 * free pages are resident, freed memory goes back to the OS (madvise), so
 * an idle mount with a 12 GiB limit does not cost 12 GiB -- unless
 * pmm_prealloc asked for the whole arena up front.
 *
 * All functions are thread safe (one internal mutex; the per-CPU cache in
 * pcache.h sits in front to keep it cold).
 */
#ifndef VM_PMM_H
#define VM_PMM_H

#include <stddef.h>
#include <stdint.h>
#include "page.h"

struct pmm;

struct pmm_stats {
	uint64_t total_pages;	/* arena size in pages */
	uint64_t free_pages;	/* on the PMM free lists */
	uint64_t resident_free;	/* free pages whose memory is still touched */
	uint64_t allocs;	/* pages handed out, ever */
	uint64_t frees;		/* pages given back, ever */
	uint64_t alloc_fails;	/* allocations refused (empty or injected) */
	uint64_t released;	/* pages madvise()d back to the OS, ever */
};

/*
 * Create an arena of npages pages (npages >= 1).  Returns 0, -EINVAL
 * (npages 0 or too large for the address space), or -ENOMEM.
 */
int pmm_create(uint64_t npages, struct pmm **out);
/* Destroy; every page must be free (asserted in debug builds). */
void pmm_destroy(struct pmm *pmm);

/*
 * Allocate one page; *out is in state VM_PAGE_ALLOC, contents undefined.
 * Returns 0 or -ENOSPC when no page is free (the mount's limit: ENOSPC,
 * as tmpfs, not ENOMEM) or when the fault injector says so.
 */
int pmm_alloc(struct pmm *pmm, struct vm_page **out);
/*
 * Allocate up to n pages into pages[]; returns how many (0..n).  One lock
 * acquisition for the batch.  Each page counts once for the injector.
 */
size_t pmm_alloc_batch(struct pmm *pmm, size_t n, struct vm_page **pages);
/* Free pages (any state but FREE/CACHED).  pin_count must be 0. */
void pmm_free(struct pmm *pmm, struct vm_page *page);
void pmm_free_batch(struct pmm *pmm, struct vm_page **pages, size_t n);

void *pmm_page_addr(const struct pmm *pmm, const struct vm_page *page);
/* The page holding addr, or NULL if addr is outside the arena. */
struct vm_page *pmm_addr_page(const struct pmm *pmm, const void *addr);
uint64_t pmm_page_index(const struct pmm *pmm, const struct vm_page *page);

void pmm_get_stats(struct pmm *pmm, struct pmm_stats *st);
uint64_t pmm_free_count(struct pmm *pmm);

/*
 * Release threshold: when more than this many free pages are resident,
 * frees madvise() the excess back to the OS.  Default 8192 (32 MiB).
 */
void pmm_set_release_threshold(struct pmm *pmm, uint64_t pages);
/*
 * Fault the whole arena in now and keep every free page resident from then
 * on (the threshold no longer applies).  0, -EOPNOTSUPP (no
 * MADV_POPULATE_WRITE: Linux before 5.14), -ENOMEM (the OS has not the
 * memory) or another madvise errno; after an error nothing changed but
 * some pages may be resident early.
 */
int pmm_prealloc(struct pmm *pmm);

#endif /* VM_PMM_H */
