/*
 * pmm.c - the physical memory manager: one arena of pages, one descriptor
 * per page, and the free lists (see pmm.h for the contract).
 *
 * What it owns: the arena (reserved address space), the descriptor array,
 * and every page while it is FREE.  Pages handed out belong to the caller
 * until they come back through pmm_free*; the per-CPU cache (pcache.c) is
 * one such caller and the only one that keeps free pages of its own.
 *
 * Layout.  Page i lives at arena + i * 4096 and is described by pages[i],
 * so page <-> address is index arithmetic, no lookup:
 *
 *     pages[]  [ d0 | d1 | d2 | ... | d(n-1) ]      40-byte vm_page each
 *                 |    |    |
 *     arena    [ p0 | p1 | p2 | ... | p(n-1) ]      4096 bytes each
 *
 * Both are mmap(MAP_NORESERVE) anonymous: a mount with a 12 GiB limit costs
 * address space, not memory, until pages are used.
 *
 * Free pages sit in one of three places, tried in this order on alloc:
 *
 *   1. resident   touched memory; LIFO, so the page freed last (still in
 *                 the CPU caches) is reused first.
 *   2. released   madvise(MADV_DONTNEED)ed back to the OS: reads as zeros,
 *                 costs nothing until touched again.
 *   3. fresh      [fresh_next, npages): never handed out; their descriptors
 *                 are still the zero page of the mmap (state FREE), so
 *                 creating a huge arena touches no descriptor either.
 *
 * Prealloc (pmm_prealloc, the mount option prealloc): the whole arena and
 * the descriptors are faulted in at once and nothing is released after,
 * so no allocation ever meets a page the OS has yet to provide.  On this
 * project's VMs the first touch of memory costs more than the write that
 * touches it (docs/benchmarks.md): a fresh 1 GiB direct_io write ran at
 * ~1.7 GB/s, the same write into touched pages at ~3.5 GB/s.  The cost is
 * the limit's worth of memory held from the start, as QEMU's -mem-prealloc
 * holds a guest's.
 *
 * Release.  When more than release_threshold free pages are resident, the
 * freeing call releases the coldest ones (the resident list's tail) until
 * 3/4 of the threshold remain: hysteresis, so a steady free/alloc pattern
 * at the threshold does not madvise on every call.  Each batch of up to
 * PMM_RELEASE_BATCH pages is sorted by address so that contiguous runs go
 * to the OS in one madvise.  This runs under the lock: pages in flight to
 * the OS must still count as free, or a concurrent allocation could see a
 * false -ENOSPC; the hysteresis keeps it rare.
 *
 * Contiguous runs and loans (vm/contig.c).  pmm_alloc_contig finds n free
 * pages at consecutive indices: the fresh tail when it is long enough
 * (the common case: a contiguous VMO made early), else a scan of the
 * descriptors (rare, O(arena)).  A contiguous VMO that decommits a page
 * lends it (pmm_loan): the page sits on a fourth list, loaned, which
 * pmm_alloc_batch never takes from -- only pmm_alloc_loaned does, for a
 * borrower that can give it back by migrating (vm.c's movable
 * allocations, used only when nothing else is free).  The page's loan
 * state lives in its descriptor (vm_page.loan), so wherever it is freed
 * it comes back here to the loaned list.  When the lender wants it back
 * (pmm_reclaim_loan) a free one is simply taken; a borrowed one has its
 * loan cancelled (never lent again; freed, it waits unlisted) while the
 * lender migrates the borrower's page, then takes it (Zircon's
 * pmm_cancel_loan / pmm_end_loan, seed 001).  Loaned free pages are not
 * counted by pmm_free_count (ordinary allocations cannot have them); the
 * stats give them apart.
 *
 * Errors.  A full arena is -ENOSPC, not -ENOMEM: the arena is the mount's
 * size limit, as a full tmpfs is (Linux shmem).  Every page handed out asks
 * the fault injector first (fault_hit(FAULT_PAGE)); an injected failure
 * looks exactly like an empty arena to the caller.  Whether that is fatal
 * is the caller's business (pcache: a short refill is benign).
 *
 * Locking: one mutex, pmm->lock, guards every field tagged (L) and the
 * (F) fields of free pages (page.h).  It is a leaf lock: nothing here calls
 * out while holding it, except madvise.  Lock order: pcache -> pmm.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fault.h"
#include "pmm.h"

#define PMM_DEFAULT_THRESHOLD	8192u
/* Largest arena: 2^35 pages = 128 TiB, the x86-64 user address space. */
#define PMM_MAX_PAGES		(1ull << 35)
/* Pages sorted and madvised per step of a release (on the stack). */
#define PMM_RELEASE_BATCH	256u
#define PMM_POISON		((void *)0xdeadbeefUL)

#ifdef NDEBUG
#define PMM_ASSERT(c, p) ((void)sizeof(c), (void)(p))
#define PMM_ASSERT_LOCKED(pmm) ((void)(pmm))
#else
#define PMM_ASSERT(c, p)						\
	do {								\
		if (__builtin_expect(!(c), 0))				\
			pmm_assert_fail(__func__, __LINE__, #c, (p));	\
	} while (0)
#define PMM_ASSERT_LOCKED(pmm)						\
	PMM_ASSERT((pmm)->locked && pthread_equal((pmm)->owner,	\
	    pthread_self()), (pmm))
#endif

/*
 * Lock legend: (L) pmm->lock; (c) constant after pmm_create.
 */
struct pmm {
	pthread_mutex_t	lock;
	uint8_t		*arena;		/* (c) npages * 4096 bytes */
	struct vm_page	*pages;		/* (c) npages descriptors */
	uint64_t	npages;		/* (c) */
	size_t		arena_len;	/* (c) bytes mapped for the arena */
	size_t		pages_len;	/* (c) bytes mapped for descriptors */
	struct vm_page_list resident;	/* (L) free, touched; LIFO at head */
	struct vm_page_list released;	/* (L) free, madvised */
	struct vm_page_list loaned;	/* (L) free, lent by a contiguous VMO */
	uint64_t	nresident;	/* (L) pages on resident */
	uint64_t	nreleased;	/* (L) pages on released */
	uint64_t	nloaned;	/* (L) pages on loaned */
	uint64_t	nlent;		/* (L) pages whose loan is not NONE */
	uint64_t	borrowed;	/* (L) pmm_alloc_loaned successes, ever */
	uint64_t	fresh_next;	/* (L) pages >= this never handed out */
	uint64_t	threshold;	/* (L) release above this many resident */
	uint64_t	allocs;		/* (L) pages handed out, ever */
	uint64_t	frees;		/* (L) pages given back, ever */
	uint64_t	alloc_fails;	/* (L) requests refused or cut short */
	uint64_t	released_ever;	/* (L) pages madvised, ever */
	bool		populated;	/* (L) pmm_prealloc ran: keep all */
	pthread_t	owner;		/* (L) lock holder, for assertions */
	bool		locked;		/* (L) */
};

static void __attribute__((noreturn, cold, unused))
pmm_assert_fail(const char *fn, int line, const char *what, const void *p)
{
	fprintf(stderr, "pmm: %s:%d: %p: assertion failed: %s\n", fn, line,
	    p, what);
	abort();
}

static void
pmm_lock(struct pmm *pmm)
{
	pthread_mutex_lock(&pmm->lock);
#ifndef NDEBUG
	pmm->owner = pthread_self();
	pmm->locked = true;
#endif
}

static void
pmm_unlock(struct pmm *pmm)
{
#ifndef NDEBUG
	PMM_ASSERT_LOCKED(pmm);
	pmm->locked = false;
#endif
	pthread_mutex_unlock(&pmm->lock);
}

/* The page is one of this arena's descriptors (not a stray pointer). */
static bool
pmm_owns(const struct pmm *pmm, const struct vm_page *page)
{
	uintptr_t p = (uintptr_t)page, base = (uintptr_t)pmm->pages;

	return p >= base && p < base + pmm->npages * sizeof(*page) &&
	    (p - base) % sizeof(*page) == 0;
}

int
pmm_create(uint64_t npages, struct pmm **out)
{
	struct pmm *pmm;
	int err;

	if (npages == 0 || npages > PMM_MAX_PAGES || out == NULL)
		return -EINVAL;
	pmm = vm_calloc(1, sizeof(*pmm));
	if (pmm == NULL)
		return -ENOMEM;
	pmm->npages = npages;
	pmm->arena_len = (size_t)npages * VM_PAGE_SIZE;
	pmm->pages_len = (size_t)npages * sizeof(struct vm_page);
	pmm->arena = mmap(NULL, pmm->arena_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pmm->arena == MAP_FAILED) {
		err = -ENOMEM;
		goto err_out1;
	}
	/* Zero-filled: every descriptor starts FREE, never touched. */
	pmm->pages = mmap(NULL, pmm->pages_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pmm->pages == MAP_FAILED) {
		err = -ENOMEM;
		goto err_out2;
	}
	err = pthread_mutex_init(&pmm->lock, NULL);
	if (err != 0) {
		err = -err;
		goto err_out3;
	}
	TAILQ_INIT(&pmm->resident);
	TAILQ_INIT(&pmm->released);
	TAILQ_INIT(&pmm->loaned);
	pmm->threshold = PMM_DEFAULT_THRESHOLD;
	*out = pmm;
	return 0;

err_out3:
	munmap(pmm->pages, pmm->pages_len);
err_out2:
	munmap(pmm->arena, pmm->arena_len);
err_out1:
	free(pmm);
	return err;
}

void
pmm_destroy(struct pmm *pmm)
{
	uint64_t i;

	if (pmm == NULL)
		return;
	PMM_ASSERT(pmm->nresident + pmm->nreleased + pmm->npages -
	    pmm->fresh_next == pmm->npages && "pmm_destroy with pages in use",
	    pmm);
	PMM_ASSERT(pmm->nlent == 0 && "pmm_destroy with pages on loan", pmm);
	for (i = 0; i < pmm->fresh_next; i++)
		PMM_ASSERT(pmm->pages[i].state == VM_PAGE_FREE &&
		    pmm->pages[i].pin_count == 0, &pmm->pages[i]);
	pthread_mutex_destroy(&pmm->lock);
	munmap(pmm->pages, pmm->pages_len);
	munmap(pmm->arena, pmm->arena_len);
	free(pmm);
}

/* Free pages, all three places.  Requires pmm->lock. */
static void pmm_prefault(struct pmm *pmm, struct vm_page **pages, size_t n);

static uint64_t
pmm_nfree_locked(const struct pmm *pmm)
{
	PMM_ASSERT_LOCKED(pmm);
	return pmm->nresident + pmm->nreleased + (pmm->npages - pmm->fresh_next);
}

/*
 * Take one free page, resident first, then released, then fresh; NULL if
 * none.  The page is ALLOC and counted as resident (the caller will touch
 * it).  Does not consult the injector.  Requires pmm->lock.
 */
static void pmm_hand_out_locked(struct pmm *pmm, struct vm_page *p);

static struct vm_page *
pmm_take_locked(struct pmm *pmm)
{
	struct vm_page *p;

	PMM_ASSERT_LOCKED(pmm);
	if ((p = TAILQ_FIRST(&pmm->resident)) != NULL) {
		TAILQ_REMOVE(&pmm->resident, p, link);
		pmm->nresident--;
		PMM_ASSERT(p->resident, p);
	} else if ((p = TAILQ_FIRST(&pmm->released)) != NULL) {
		TAILQ_REMOVE(&pmm->released, p, link);
		pmm->nreleased--;
		PMM_ASSERT(!p->resident, p);
	} else if (pmm->fresh_next < pmm->npages) {
		p = &pmm->pages[pmm->fresh_next++];
	} else {
		return NULL;
	}
	pmm_hand_out_locked(pmm, p);
	return p;
}

/* The common part of handing out page p (off every list).  (L) */
static void
pmm_hand_out_locked(struct pmm *pmm, struct vm_page *p)
{
	PMM_ASSERT(p->state == VM_PAGE_FREE && p->pin_count == 0, p);
	p->state = VM_PAGE_ALLOC;
	p->resident = 1;
	p->owner = NULL;
	p->offset = 0;
	/* the reclaimer reads these of any page without the PMM lock
	 * (pq_bits, vm_page_flag_*): relaxed stores, like its loads */
	__atomic_store_n(&p->flags, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->queue, 0, __ATOMIC_RELAXED);
	TAILQ_NEXT(p, link) = PMM_POISON;
	p->link.tqe_prev = PMM_POISON;
	pmm->allocs++;
}

/*
 * Put an allocated page back: on the resident list, or for a lent page
 * on the loaned list, or for a cancelled loan nowhere (it waits for its
 * lender, pmm_reclaim_loan).  Requires pmm->lock.
 */
static void
pmm_put_locked(struct pmm *pmm, struct vm_page *p)
{
	PMM_ASSERT_LOCKED(pmm);
	PMM_ASSERT(pmm_owns(pmm, p), p);
	PMM_ASSERT(p->state != VM_PAGE_FREE && p->state != VM_PAGE_CACHED &&
	    p->state < VM_PAGE_NSTATES && "freeing a free page", p);
	PMM_ASSERT(p->pin_count == 0 && "freeing a pinned page", p);
	p->state = VM_PAGE_FREE;
	p->resident = 1;
	p->owner = NULL;
	p->offset = 0;
	/* the reclaimer reads these of any page without the PMM lock
	 * (pq_bits, vm_page_flag_*): relaxed stores, like its loads */
	__atomic_store_n(&p->flags, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&p->queue, 0, __ATOMIC_RELAXED);
	pmm->frees++;
	if (p->loan == VM_PAGE_LOAN_LENT) {
		TAILQ_INSERT_HEAD(&pmm->loaned, p, link);
		pmm->nloaned++;
		return;
	}
	if (p->loan == VM_PAGE_LOAN_CANCELLED) {
		TAILQ_NEXT(p, link) = PMM_POISON;
		p->link.tqe_prev = PMM_POISON;
		return;
	}
	TAILQ_INSERT_HEAD(&pmm->resident, p, link);
	pmm->nresident++;
}

static int
pmm_page_cmp(const void *a, const void *b)
{
	const struct vm_page *x = *(const struct vm_page *const *)a;
	const struct vm_page *y = *(const struct vm_page *const *)b;

	return x < y ? -1 : x > y;
}

/*
 * madvise the n pages of batch[] (sorted by address) back to the OS, one
 * call per contiguous run.  A failed madvise is harmless (the memory just
 * stays resident), so it is not an error.  Requires pmm->lock.
 */
static void
pmm_madvise_runs(struct pmm *pmm, struct vm_page **batch, size_t n)
{
	size_t i, start;

	PMM_ASSERT_LOCKED(pmm);
	for (start = 0; start < n; start = i) {
		for (i = start + 1; i < n && batch[i] == batch[i - 1] + 1; i++)
			;
		(void)madvise(pmm_page_addr(pmm, batch[start]),
		    (i - start) * VM_PAGE_SIZE, MADV_DONTNEED);
	}
}

/*
 * If more than threshold free pages are resident, release the coldest
 * down to 3/4 of the threshold.  Requires pmm->lock (held across the
 * madvise calls; see the essay).
 */
static void
pmm_maybe_release_locked(struct pmm *pmm)
{
	struct vm_page *batch[PMM_RELEASE_BATCH], *p;
	uint64_t low;
	size_t n, i;

	PMM_ASSERT_LOCKED(pmm);
	if (pmm->populated || pmm->nresident <= pmm->threshold)
		return;
	low = pmm->threshold - pmm->threshold / 4;
	while (pmm->nresident > low) {
		/* 1. Unlink a batch of the coldest pages. */
		for (n = 0; n < PMM_RELEASE_BATCH && pmm->nresident > low; n++) {
			p = TAILQ_LAST(&pmm->resident, vm_page_list);
			TAILQ_REMOVE(&pmm->resident, p, link);
			pmm->nresident--;
			batch[n] = p;
		}
		/* 2. Sort by address and hand contiguous runs to the OS. */
		qsort(batch, n, sizeof(batch[0]), pmm_page_cmp);
		pmm_madvise_runs(pmm, batch, n);
		/* 3. File them as released, in address order. */
		for (i = 0; i < n; i++) {
			PMM_ASSERT(batch[i]->state == VM_PAGE_FREE &&
			    batch[i]->resident, batch[i]);
			batch[i]->resident = 0;
			TAILQ_INSERT_TAIL(&pmm->released, batch[i], link);
		}
		pmm->nreleased += n;
		pmm->released_ever += n;
	}
}

int
pmm_alloc(struct pmm *pmm, struct vm_page **out)
{
	return pmm_alloc_batch(pmm, 1, out) == 1 ? 0 : -ENOSPC;
}

size_t
pmm_alloc_batch(struct pmm *pmm, size_t n, struct vm_page **pages)
{
	struct vm_page *p;
	size_t i, ncold = 0;

	pmm_lock(pmm);
	for (i = 0; i < n; i++) {
		/* Ask the injector only when there is a page to refuse. */
		if (pmm_nfree_locked(pmm) == 0 || fault_hit(FAULT_PAGE))
			break;
		ncold += TAILQ_EMPTY(&pmm->resident) && !pmm->populated;
		p = pmm_take_locked(pmm);
		PMM_ASSERT(p != NULL, pmm);
		pages[i] = p;
	}
	if (i < n)
		pmm->alloc_fails++;
	pmm_unlock(pmm);
	if (ncold > 1)
		pmm_prefault(pmm, pages, i);
	return i;
}

/*
 * Pages never touched (fresh) or given back to the OS (released) fault
 * on first write, one trap per page: measured here, a 512 MiB write into a
 * fresh arena ran at ~780 MiB/s against ~4300 MiB/s for a rewrite.  A
 * batch prefaults them with one MADV_POPULATE_WRITE per contiguous run
 * (fresh pages come off the watermark in address order, so a refill is
 * usually one run).  Resident pages in the batch are prefaulted again at
 * no cost; a kernel without MADV_POPULATE_WRITE (before 5.14) answers
 * EINVAL and we fall back to faulting.  Called without the lock.
 */
static void
pmm_prefault(struct pmm *pmm, struct vm_page **pages, size_t n)
{
#ifdef MADV_POPULATE_WRITE
	size_t i, start;

	for (start = 0; start < n; start = i) {
		for (i = start + 1; i < n && pages[i] == pages[i - 1] + 1; i++)
			;
		(void)madvise(pmm_page_addr(pmm, pages[start]),
		    (i - start) * VM_PAGE_SIZE, MADV_POPULATE_WRITE);
	}
#else
	(void)pmm; (void)pages; (void)n;
#endif
}

void
pmm_free(struct pmm *pmm, struct vm_page *page)
{
	pmm_free_batch(pmm, &page, 1);
}

void
pmm_free_batch(struct pmm *pmm, struct vm_page **pages, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	pmm_lock(pmm);
	for (i = 0; i < n; i++)
		pmm_put_locked(pmm, pages[i]);
	pmm_maybe_release_locked(pmm);
	pmm_unlock(pmm);
}

void *
pmm_page_addr(const struct pmm *pmm, const struct vm_page *page)
{
	return pmm->arena + pmm_page_index(pmm, page) * VM_PAGE_SIZE;
}

struct vm_page *
pmm_addr_page(const struct pmm *pmm, const void *addr)
{
	uintptr_t a = (uintptr_t)addr, base = (uintptr_t)pmm->arena;

	if (a < base || a - base >= pmm->arena_len)
		return NULL;
	return &pmm->pages[(a - base) >> VM_PAGE_SHIFT];
}

uint64_t
pmm_page_index(const struct pmm *pmm, const struct vm_page *page)
{
	PMM_ASSERT(pmm_owns(pmm, page) && "page not of this arena", page);
	return (uint64_t)(page - pmm->pages);
}

struct vm_page *
pmm_index_page(const struct pmm *pmm, uint64_t idx)
{
	return idx < pmm->npages ? &pmm->pages[idx] : NULL;
}

void
pmm_get_stats(struct pmm *pmm, struct pmm_stats *st)
{
	pmm_lock(pmm);
	st->total_pages = pmm->npages;
	st->free_pages = pmm_nfree_locked(pmm);
	st->resident_free = pmm->nresident;
	st->allocs = pmm->allocs;
	st->frees = pmm->frees;
	st->alloc_fails = pmm->alloc_fails;
	st->released = pmm->released_ever;
	st->loaned_free = pmm->nloaned;
	st->lent = pmm->nlent;
	st->borrowed = pmm->borrowed;
	pmm_unlock(pmm);
}

uint64_t
pmm_free_count(struct pmm *pmm)
{
	uint64_t n;

	pmm_lock(pmm);
	n = pmm_nfree_locked(pmm);
	pmm_unlock(pmm);
	return n;
}

/*
 * Fault in the descriptors and the whole arena now (MADV_POPULATE_WRITE:
 * the kernel allocates, nothing is written through our mapping, so pages
 * already in use keep their bytes) and never release again.  Call after
 * any fork: a fork would make every page copy-on-write, and the first
 * write to each would fault again.  Not under the lock: the kernel works
 * for seconds per GiB and allocation may go on meanwhile.
 */
int
pmm_prealloc(struct pmm *pmm)
{
#ifdef MADV_POPULATE_WRITE
	if (madvise(pmm->pages, pmm->pages_len, MADV_POPULATE_WRITE) != 0 ||
	    madvise(pmm->arena, pmm->arena_len, MADV_POPULATE_WRITE) != 0)
		return errno == EINVAL ? -EOPNOTSUPP : -errno;
	pmm_lock(pmm);
	pmm->populated = true;
	pmm_unlock(pmm);
	return 0;
#else
	(void)pmm;
	return -EOPNOTSUPP;
#endif
}

void
pmm_set_release_threshold(struct pmm *pmm, uint64_t pages)
{
	pmm_lock(pmm);
	pmm->threshold = pages;
	pmm_maybe_release_locked(pmm);
	pmm_unlock(pmm);
}

/* ---- contiguous runs and loans ------------------------------------------ */

/* Prefault the n pages from run (as pmm_prefault does a batch).  No lock. */
static void
pmm_prefault_run(struct pmm *pmm, struct vm_page *run, uint64_t n)
{
#ifdef MADV_POPULATE_WRITE
	(void)madvise(pmm_page_addr(pmm, run), n * VM_PAGE_SIZE,
	    MADV_POPULATE_WRITE);
#else
	(void)pmm; (void)run; (void)n;
#endif
}

/* May page i start or continue a contiguous run?  (L) */
static bool
pmm_run_ok(const struct pmm *pmm, uint64_t i)
{
	const struct vm_page *p = &pmm->pages[i];

	return i >= pmm->fresh_next ||
	    (p->state == VM_PAGE_FREE && p->loan == VM_PAGE_LOAN_NONE);
}

/* Take the free page i off its list (resident or released).  (L) */
static void
pmm_unlist_locked(struct pmm *pmm, struct vm_page *p)
{
	PMM_ASSERT(p->state == VM_PAGE_FREE && p->loan == VM_PAGE_LOAN_NONE, p);
	if (p->resident) {
		TAILQ_REMOVE(&pmm->resident, p, link);
		pmm->nresident--;
	} else {
		TAILQ_REMOVE(&pmm->released, p, link);
		pmm->nreleased--;
	}
}

int
pmm_alloc_contig(struct pmm *pmm, uint64_t n, struct vm_page **first)
{
	uint64_t start = 0, len = 0, i, j;
	struct vm_page *run;

	if (n == 0)
		return -EINVAL;
	pmm_lock(pmm);
	if (n > pmm->npages || fault_hit(FAULT_PAGE))
		goto fail;
	/* 1. The fresh tail, else the first free run of n from the bottom. */
	if (pmm->npages - pmm->fresh_next >= n) {
		start = pmm->fresh_next;
		len = n;
	} else {
		for (i = 0; i < pmm->npages && len < n; i++) {
			if (!pmm_run_ok(pmm, i)) {
				len = 0;
				continue;
			}
			if (len++ == 0)
				start = i;
		}
	}
	if (len < n)
		goto fail;
	/* 2. Fresh pages below the run's end become ordinary released ones
	 * (never touched: they read zero), the run's own are taken. */
	for (j = pmm->fresh_next; j < start + n; j++) {
		struct vm_page *p = &pmm->pages[j];

		p->state = VM_PAGE_FREE;
		p->resident = 0;
		if (j < start) {
			TAILQ_INSERT_TAIL(&pmm->released, p, link);
			pmm->nreleased++;
		}
	}
	for (j = start; j < start + n; j++) {
		struct vm_page *p = &pmm->pages[j];

		if (j < pmm->fresh_next)
			pmm_unlist_locked(pmm, p);
		pmm_hand_out_locked(pmm, p);
	}
	if (pmm->fresh_next < start + n)
		pmm->fresh_next = start + n;
	run = &pmm->pages[start];
	pmm_unlock(pmm);
	pmm_prefault_run(pmm, run, n);
	*first = run;
	return 0;
fail:
	pmm->alloc_fails++;
	pmm_unlock(pmm);
	return -ENOSPC;
}

void
pmm_loan(struct pmm *pmm, struct vm_page *p)
{
	pmm_lock(pmm);
	PMM_ASSERT(p->loan == VM_PAGE_LOAN_NONE && "lending a lent page", p);
	__atomic_store_n(&p->loan, VM_PAGE_LOAN_LENT, __ATOMIC_RELAXED);
	pmm->nlent++;
	pmm_put_locked(pmm, p);
	pmm_unlock(pmm);
}

int
pmm_alloc_loaned(struct pmm *pmm, struct vm_page **out)
{
	struct vm_page *p;

	pmm_lock(pmm);
	if ((p = TAILQ_FIRST(&pmm->loaned)) == NULL || fault_hit(FAULT_PAGE)) {
		pmm_unlock(pmm);
		return -ENOSPC;
	}
	TAILQ_REMOVE(&pmm->loaned, p, link);
	pmm->nloaned--;
	pmm_hand_out_locked(pmm, p);
	pmm->borrowed++;
	pmm_unlock(pmm);
	*out = p;
	return 0;
}

int
pmm_reclaim_loan(struct pmm *pmm, struct vm_page *p)
{
	int err = 0;

	pmm_lock(pmm);
	PMM_ASSERT(p->loan != VM_PAGE_LOAN_NONE && "reclaiming a page not lent", p);
	if (p->state != VM_PAGE_FREE) {
		/* Borrowed: never lent again; the caller migrates it. */
		__atomic_store_n(&p->loan, VM_PAGE_LOAN_CANCELLED, __ATOMIC_RELAXED);
		err = -EBUSY;
		goto out;
	}
	if (p->loan == VM_PAGE_LOAN_LENT) {
		TAILQ_REMOVE(&pmm->loaned, p, link);
		pmm->nloaned--;
	}
	__atomic_store_n(&p->loan, VM_PAGE_LOAN_NONE, __ATOMIC_RELAXED);
	pmm->nlent--;
	pmm_hand_out_locked(pmm, p);
out:
	pmm_unlock(pmm);
	return err;
}

void
pmm_end_loans(struct pmm *pmm, struct vm_page *first, uint64_t n)
{
	uint64_t i;

	pmm_lock(pmm);
	for (i = 0; i < n; i++) {
		struct vm_page *p = first + i;

		if (p->loan == VM_PAGE_LOAN_NONE)
			continue;
		if (p->state == VM_PAGE_FREE) {
			if (p->loan == VM_PAGE_LOAN_LENT) {
				TAILQ_REMOVE(&pmm->loaned, p, link);
				pmm->nloaned--;
			}
			TAILQ_INSERT_HEAD(&pmm->resident, p, link);
			pmm->nresident++;
		}
		__atomic_store_n(&p->loan, VM_PAGE_LOAN_NONE, __ATOMIC_RELAXED);
		pmm->nlent--;
	}
	pmm_maybe_release_locked(pmm);
	pmm_unlock(pmm);
}
