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

#include <stdbool.h>
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
	uint64_t loaned_free;	/* lent pages free on the loaned list now */
	uint64_t lent;		/* lent pages now, free or borrowed */
	uint64_t borrowed;	/* loaned pages allocated by borrowers, ever */
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
/* The descriptor of page idx, or NULL past the arena. */
struct vm_page *pmm_index_page(const struct pmm *pmm, uint64_t idx);

/*
 * Contiguous runs and page loaning (Zircon's pmm_alloc_contiguous,
 * pmm_begin_loan / pmm_cancel_loan / pmm_end_loan; vm/contig.c uses them).
 *
 * pmm_alloc_contig: n pages at consecutive indices (so consecutive
 *   addresses); *first is the lowest, first + i the others.  Counts once
 *   for the injector.  0 or -ENOSPC (no free run that long).
 * pmm_loan: the lender frees page p as a loan: it goes on the loaned list,
 *   which ordinary allocations never take from.  Whenever a borrower frees
 *   it, it goes back there (or, once cancelled, waits for the lender).
 * pmm_alloc_loaned: a borrower takes a loaned page (the caller must be
 *   able to give it back by migrating it, contig.c).  0 or -ENOSPC.
 * pmm_reclaim_loan: the lender wants p back.  0: p is the lender's again
 *   (ALLOC, loan NONE).  -EBUSY: a borrower holds it; the loan is now
 *   cancelled (it is never lent again), the caller migrates the
 *   borrower's page away and asks again.
 * pmm_end_loans: the lender of [first, first + n) is going: every lent
 *   page of the run becomes an ordinary page (free ones go on the free
 *   lists, borrowed ones stay the borrowers').
 * pmm_page_lent: is p lent (or cancelled) now?  Any lock; a page being
 *   freed by its holder cannot change from lent to not lent meanwhile
 *   except through pmm_end_loans, after which either answer is right.
 */
int pmm_alloc_contig(struct pmm *pmm, uint64_t n, struct vm_page **first);
void pmm_loan(struct pmm *pmm, struct vm_page *p);
int pmm_alloc_loaned(struct pmm *pmm, struct vm_page **out);
int pmm_reclaim_loan(struct pmm *pmm, struct vm_page *p);
void pmm_end_loans(struct pmm *pmm, struct vm_page *first, uint64_t n);
static inline bool
pmm_page_lent(const struct vm_page *p)
{
	return __atomic_load_n(&p->loan, __ATOMIC_RELAXED) != VM_PAGE_LOAN_NONE;
}

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
