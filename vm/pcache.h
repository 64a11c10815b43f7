/*
 * pcache.h - per-CPU page cache in front of the PMM, as Zircon's PageCache
 * (shared/seeds/000).  See pcache.c for the design.
 *
 * Each CPU (sched_getcpu) has a reserve of free pages guarded by a cache
 * lock, and a fill lock that serialises refills.  An allocation takes a
 * page from its CPU's reserve; when the reserve is empty it allocates from
 * the PMM and refills the reserve in one batch, with the cache lock
 * dropped.  Frees go to the CPU's reserve; excess goes back to the PMM.
 * Filling is deferred until a CPU's first allocation.
 */
#ifndef VM_PCACHE_H
#define VM_PCACHE_H

#include <stddef.h>
#include <stdint.h>
#include "page.h"

struct pmm;
struct pcache;

struct pcache_stats {
	uint64_t hits;		/* allocations served from a reserve */
	uint64_t misses;	/* allocations that went to the PMM */
	uint64_t refills;	/* batch refills of a reserve */
	uint64_t refill_pages;	/* pages moved PMM -> reserves by refills */
	uint64_t returns;	/* batch returns of excess to the PMM */
	uint64_t return_pages;	/* pages moved reserves -> PMM */
	uint64_t steals;	/* allocations served from another CPU's reserve */
	uint64_t cached;	/* pages sitting in reserves now */
	uint32_t ncpu;		/* number of per-CPU reserves */
	uint32_t reserve;	/* target reserve per CPU, pages */
};

/*
 * ncpu 0 = the number of configured CPUs.  reserve = pages kept per CPU
 * (0 = no caching: every call goes straight to the PMM).  Returns 0,
 * -EINVAL, or -ENOMEM.
 */
int pcache_create(struct pmm *pmm, unsigned ncpu, unsigned reserve,
    struct pcache **out);
/* Returns every cached page to the PMM and frees the cache. */
void pcache_destroy(struct pcache *pc);

/*
 * One page, state VM_PAGE_ALLOC.  Falls back to the PMM; when the PMM is
 * empty, takes a page from another CPU's reserve before giving up, so the
 * cache never makes a limit look smaller than it is.  0 or -ENOSPC.
 */
int pcache_alloc(struct pcache *pc, struct vm_page **out);
void pcache_free(struct pcache *pc, struct vm_page *page);
/* Return every cached page to the PMM (reclaim, tests). */
void pcache_drain(struct pcache *pc);
void pcache_get_stats(struct pcache *pc, struct pcache_stats *st);
struct pmm *pcache_pmm(struct pcache *pc);

/*
 * testing: make the calling thread use reserve cpu % ncpu instead of
 * sched_getcpu()'s (thread-local; -1 = back to sched_getcpu()).
 */
void pcache_test_set_cpu(int cpu);

#endif /* VM_PCACHE_H */
