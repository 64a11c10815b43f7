/*
 * pcache.c - the per-CPU page cache in front of the PMM, after Zircon's
 * PageCache (shared/seeds/000).  See pcache.h for the contract.
 *
 * What it owns: the free pages in the reserves (state CACHED), and nothing
 * else.  Everything else belongs to the PMM (FREE) or to callers (ALLOC and
 * after).  Callers: vm.c, the benchmarks and the tests.
 *
 * Layout.  One cache-line aligned struct per CPU (picked by sched_getcpu()
 * modulo ncpu), a stack of page pointers, and a spill buffer the slow paths
 * use to talk to the PMM with the cache lock dropped:
 *
 *   cpu[0]  fill_lock cache_lock  slots[0 .. 2R)     spill[0 .. 2R]
 *           count: [ cold ... hot ]<- push/pop (LIFO)
 *   cpu[1]  ...
 *
 * Paths (R = reserve):
 *   alloc, hit     cache lock; pop the hottest page.
 *   alloc, miss    (pcache_alloc_slow, out of line so the hit path stays
 *                  small) fill lock, cache lock, re-check (another thread
 *                  may have refilled while we waited), drop the cache lock,
 *                  pmm_alloc_batch(R + 1) into spill, retake the cache lock,
 *                  stash R of them, hand out one.  The fill lock serialises
 *                  refills of one CPU: a thread that waited on it usually
 *                  finds the reserve full and never goes to the PMM.
 *                  Reserves fill on their first allocation, not at create.
 *   alloc, empty   the PMM gave nothing: take one page from another CPU's
 *                  reserve, one cache lock at a time, so pages parked in
 *                  reserves never make the limit look smaller (steal).
 *   free           cache lock; push.  When the stack is full (2R) the slow
 *                  path takes the fill lock, moves the coldest pages out to
 *                  spill so that R remain, and returns them to the PMM in
 *                  one pmm_free_batch with the cache lock dropped.
 *   R == 0         every call goes straight to the PMM.
 *
 * Pages in transit.  Between pmm_alloc_batch and the stash, or between the
 * unstash and pmm_free_batch, pages are in neither the PMM nor a reserve.
 * A thread that finds both empty then would fail falsely, so those windows
 * are bracketed by `transit` (how many are open) and `gen` (bumped as each
 * closes): a failing allocation retries while a window was open during its
 * scan, and gives -ENOSPC only when none was (bounded: PCACHE_RETRIES).
 *
 * Errors.  Allocation failure is -ENOSPC (the PMM's limit).  A short refill
 * (PMM nearly empty, or the fault injector cut the batch) is benign: the
 * caller gets a page if the batch had one.  A refill that gets nothing is
 * the fatal case only when stealing finds nothing too.
 *
 * Lock order: fill_lock -> cache_lock of the same CPU -> pmm->lock.  No
 * path holds two CPUs' locks at once (steal, stats and drain take them one
 * at a time).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "pcache.h"
#include "pmm.h"

#define PCACHE_LINE	64
#define PCACHE_MAX_NCPU	4096u
#define PCACHE_MAX_RESERVE (1u << 20)
/* Retries of an allocation that lost a race with pages in transit. */
#define PCACHE_RETRIES	16

#ifdef NDEBUG
#define PCACHE_ASSERT(c, p) ((void)sizeof(c), (void)(p))
#define PCACHE_ASSERT_LOCKED(c) ((void)(c))
#else
#define PCACHE_ASSERT(c, p)						\
	do {								\
		if (__builtin_expect(!(c), 0))				\
			pcache_assert_fail(__func__, __LINE__, #c, (p));\
	} while (0)
#define PCACHE_ASSERT_LOCKED(c)						\
	PCACHE_ASSERT((c)->locked && pthread_equal((c)->owner,		\
	    pthread_self()), (c))
#endif

/*
 * Lock legend: (C) this CPU's cache_lock; (P) this CPU's fill_lock;
 * (A) atomic, relaxed; (c) constant after pcache_create.
 * Aligned (and so padded) to a cache line: CPUs never share a line.
 */
struct pcache_cpu {
	pthread_mutex_t	fill_lock;
	pthread_mutex_t	cache_lock;
	struct vm_page	**slots;	/* (c) array; contents (C) */
	struct vm_page	**spill;	/* (c) array of 2R + 1; contents (P) */
	uint32_t	count;		/* (C) pages in slots[0 .. count) */
	bool		locked;		/* (C) for assertions */
	pthread_t	owner;		/* (C) cache lock holder, assertions */
	uint64_t	hits;		/* (C) allocations served from slots */
	uint64_t	misses;		/* (C) allocations that went to the PMM */
	uint64_t	refills;	/* (C) batch refills */
	uint64_t	refill_pages;	/* (C) pages PMM -> slots */
	uint64_t	returns;	/* (C) batch returns to the PMM */
	uint64_t	return_pages;	/* (C) pages slots -> PMM */
	uint64_t	steals;		/* (C) pages stolen from these slots */
	_Atomic uint64_t direct;	/* (A) R == 0: allocations (misses) */
} __attribute__((aligned(PCACHE_LINE)));

struct pcache {
	struct pmm	*pmm;		/* (c) */
	struct pcache_cpu *cpu;		/* (c) ncpu entries */
	unsigned	ncpu;		/* (c) */
	unsigned	reserve;	/* (c) R */
	unsigned	cap;		/* (c) 2R: slots per CPU */
	_Atomic uint64_t transit;	/* (A) open PMM <-> slots windows */
	_Atomic uint64_t gen;		/* (A) windows closed, ever */
};

/* Testing: a thread's CPU override; -1 = sched_getcpu(). */
static _Thread_local int pcache_cpu_override = -1;

static void __attribute__((noreturn, cold, unused))
pcache_assert_fail(const char *fn, int line, const char *what, const void *p)
{
	fprintf(stderr, "pcache: %s:%d: %p: assertion failed: %s\n", fn, line,
	    p, what);
	abort();
}

void
pcache_test_set_cpu(int cpu)
{
	pcache_cpu_override = cpu;
}

static struct pcache_cpu *
pcache_this_cpu(struct pcache *pc)
{
	int cpu = pcache_cpu_override;

	if (cpu < 0)
		cpu = sched_getcpu();
	if (cpu < 0)
		cpu = 0;
	return &pc->cpu[(unsigned)cpu % pc->ncpu];
}

static void
pcache_lock(struct pcache_cpu *c)
{
	pthread_mutex_lock(&c->cache_lock);
#ifndef NDEBUG
	c->owner = pthread_self();
	c->locked = true;
#endif
}

static void
pcache_unlock(struct pcache_cpu *c)
{
#ifndef NDEBUG
	PCACHE_ASSERT_LOCKED(c);
	c->locked = false;
#endif
	pthread_mutex_unlock(&c->cache_lock);
}


/* Open / close a window in which pages are in neither PMM nor slots. */
static void
pcache_transit_begin(struct pcache *pc)
{
	atomic_fetch_add(&pc->transit, 1);
}

static void
pcache_transit_end(struct pcache *pc)
{
	atomic_fetch_add(&pc->gen, 1);
	atomic_fetch_sub(&pc->transit, 1);
}

int
pcache_create(struct pmm *pmm, unsigned ncpu, unsigned reserve,
    struct pcache **out)
{
	struct pcache *pc;
	struct vm_page **arrays = NULL;
	long nconf;
	unsigned i;
	size_t per;

	if (pmm == NULL || out == NULL || reserve > PCACHE_MAX_RESERVE)
		return -EINVAL;
	if (ncpu == 0) {
		nconf = sysconf(_SC_NPROCESSORS_CONF);
		ncpu = nconf > 0 ? (unsigned)nconf : 1;
	}
	if (ncpu > PCACHE_MAX_NCPU)
		return -EINVAL;
	pc = vm_calloc(1, sizeof(*pc));
	if (pc == NULL)
		return -ENOMEM;
	pc->pmm = pmm;
	pc->ncpu = ncpu;
	pc->reserve = reserve;
	pc->cap = 2 * reserve;
	pc->cpu = aligned_alloc(PCACHE_LINE, ncpu * sizeof(pc->cpu[0]));
	if (pc->cpu == NULL || fault_hit(FAULT_HEAP))
		goto err_out1;
	memset(pc->cpu, 0, ncpu * sizeof(pc->cpu[0]));
	/* slots (2R) and spill (2R + 1) of every CPU in one allocation. */
	per = reserve > 0 ? 4 * (size_t)reserve + 1 : 0;
	if (per > 0 && (arrays = vm_calloc(ncpu * per, sizeof(*arrays))) == NULL)
		goto err_out1;
	for (i = 0; i < ncpu; i++) {
		pthread_mutex_init(&pc->cpu[i].fill_lock, NULL);
		pthread_mutex_init(&pc->cpu[i].cache_lock, NULL);
		if (per > 0) {
			pc->cpu[i].slots = arrays + i * per;
			pc->cpu[i].spill = pc->cpu[i].slots + pc->cap;
		}
	}
	*out = pc;
	return 0;

err_out1:
	free(pc->cpu);
	free(pc);
	return -ENOMEM;
}

void
pcache_destroy(struct pcache *pc)
{
	unsigned i;

	if (pc == NULL)
		return;
	pcache_drain(pc);
	for (i = 0; i < pc->ncpu; i++) {
		PCACHE_ASSERT(pc->cpu[i].count == 0, &pc->cpu[i]);
		pthread_mutex_destroy(&pc->cpu[i].fill_lock);
		pthread_mutex_destroy(&pc->cpu[i].cache_lock);
	}
	PCACHE_ASSERT(atomic_load(&pc->transit) == 0, pc);
	if (pc->reserve > 0)
		free(pc->cpu[0].slots);
	free(pc->cpu);
	free(pc);
}

/* Pop the hottest page of c, now ALLOC; NULL if empty.  Requires (C). */
static struct vm_page *
pcache_pop_locked(struct pcache_cpu *c)
{
	struct vm_page *p;

	PCACHE_ASSERT_LOCKED(c);
	if (c->count == 0)
		return NULL;
	p = c->slots[--c->count];
	PCACHE_ASSERT(p->state == VM_PAGE_CACHED && p->pin_count == 0, p);
	p->state = VM_PAGE_ALLOC;
	return p;
}

/* Push p (any state but FREE/CACHED) onto c's stack.  Requires (C). */
static void
pcache_push_locked(struct pcache *pc, struct pcache_cpu *c, struct vm_page *p)
{
	PCACHE_ASSERT_LOCKED(c);
	PCACHE_ASSERT(c->count < pc->cap, c);
	PCACHE_ASSERT(p->state != VM_PAGE_FREE && p->state != VM_PAGE_CACHED &&
	    "freeing a free page", p);
	PCACHE_ASSERT(p->pin_count == 0 && "freeing a pinned page", p);
	p->state = VM_PAGE_CACHED;
	c->slots[c->count++] = p;
}

/*
 * Take the n coldest pages of c (slots[0 .. n)) into c->spill, now ALLOC,
 * ready for pmm_free_batch.  Requires (P) and (C).
 */
static void
pcache_unstash_locked(struct pcache_cpu *c, uint32_t n)
{
	uint32_t i;

	PCACHE_ASSERT_LOCKED(c);
	PCACHE_ASSERT(n <= c->count, c);
	for (i = 0; i < n; i++) {
		c->spill[i] = c->slots[i];
		PCACHE_ASSERT(c->spill[i]->state == VM_PAGE_CACHED, c->spill[i]);
		c->spill[i]->state = VM_PAGE_ALLOC;
	}
	memmove(c->slots, c->slots + n, (c->count - n) * sizeof(c->slots[0]));
	c->count -= n;
}

/*
 * One page from another CPU's reserve (not self's: the caller just found
 * it empty); NULL if every one is empty.  Takes one cache lock at a time;
 * call with none held.
 */
static struct vm_page *
pcache_steal(struct pcache *pc, struct pcache_cpu *self)
{
	struct pcache_cpu *c;
	struct vm_page *p;
	unsigned i, first = (unsigned)(self - pc->cpu);

	for (i = 1; i < pc->ncpu; i++) {
		c = &pc->cpu[(first + i) % pc->ncpu];
		pcache_lock(c);
		p = pcache_pop_locked(c);
		if (p != NULL)
			c->steals += 1;
		pcache_unlock(c);
		if (p != NULL)
			return p;
	}
	return NULL;
}

/*
 * Refill c from the PMM and hand out one page; NULL if the PMM gave none.
 * Requires (P); takes and drops (C), which is not held across the PMM.
 */
static struct vm_page *
pcache_refill(struct pcache *pc, struct pcache_cpu *c)
{
	struct vm_page *p;
	size_t n, i, keep;

	pcache_transit_begin(pc);
	n = pmm_alloc_batch(pc->pmm, (size_t)pc->reserve + 1, c->spill);
	pcache_lock(c);
	c->misses++;
	if (n == 0) {
		pcache_unlock(c);
		pcache_transit_end(pc);
		return NULL;
	}
	/* Frees may have refilled c meanwhile: stash only what fits. */
	keep = n - 1;
	if (keep > pc->cap - c->count)
		keep = pc->cap - c->count;
	for (i = 0; i < keep; i++)
		pcache_push_locked(pc, c, c->spill[n - 1 - i]);
	if (keep > 0) {
		c->refills += 1;
		c->refill_pages += keep;
	}
	pcache_unlock(c);
	p = c->spill[0];
	/* Rare: the overflow goes straight back (spill[1 .. n - keep)). */
	if (n - 1 > keep)
		pmm_free_batch(pc->pmm, c->spill + 1, n - 1 - keep);
	pcache_transit_end(pc);
	return p;
}

/*
 * The miss path, out of line so that pcache_alloc's hit path stays small.
 * Steps: (1) under the fill lock, re-check the reserve; (2) refill from
 * the PMM; (3) steal; (4) retry while pages were in transit.
 */
static int __attribute__((noinline))
pcache_alloc_slow(struct pcache *pc, struct pcache_cpu *c,
    struct vm_page **out)
{
	struct vm_page *p;
	uint64_t gen;
	int tries;

	for (tries = 0; tries < PCACHE_RETRIES; tries++) {
		gen = atomic_load(&pc->gen);
		/* 1. Another thread may have refilled while we waited. */
		pthread_mutex_lock(&c->fill_lock);
		pcache_lock(c);
		p = pcache_pop_locked(c);
		if (p != NULL)
			c->hits += 1;
		pcache_unlock(c);
		/* 2. Refill from the PMM: one window of our own (gen + 1). */
		if (p == NULL) {
			p = pcache_refill(pc, c);
			gen++;
		}
		pthread_mutex_unlock(&c->fill_lock);
		/* 3. The PMM is empty (or refused): other CPUs' reserves. */
		if (p == NULL)
			p = pcache_steal(pc, c);
		if (p != NULL) {
			*out = p;
			return 0;
		}
		/* 4. Truly empty unless a transit window overlapped us. */
		if (atomic_load(&pc->transit) == 0 &&
		    atomic_load(&pc->gen) == gen)
			break;
		sched_yield();
	}
	return -ENOSPC;
}

int
pcache_alloc(struct pcache *pc, struct vm_page **out)
{
	struct pcache_cpu *c = pcache_this_cpu(pc);
	struct vm_page *p;

	if (pc->reserve == 0) {
		atomic_fetch_add_explicit(&c->direct, 1, memory_order_relaxed);
		return pmm_alloc(pc->pmm, out);
	}
	pcache_lock(c);
	p = pcache_pop_locked(c);
	if (p != NULL)
		c->hits++;
	pcache_unlock(c);
	if (p == NULL)
		return pcache_alloc_slow(pc, c, out);
	*out = p;
	return 0;
}

/*
 * Give the n pages just unstashed into c->spill back to the PMM.  Called
 * with (P) and (C) held; drops (C) for the PMM call (in transit, so an
 * allocation scanning for pages meanwhile retries), then drops (P).
 */
static void
pcache_spill_unlock(struct pcache *pc, struct pcache_cpu *c, uint32_t n)
{
	if (n > 0) {
		c->returns += 1;
		c->return_pages += n;
	}
	pcache_transit_begin(pc);
	pcache_unlock(c);
	pmm_free_batch(pc->pmm, c->spill, n);
	pcache_transit_end(pc);
	pthread_mutex_unlock(&c->fill_lock);
}

/*
 * The reserve is full: return its coldest pages to the PMM so that R
 * remain with page among them.  Takes (P), then (C); drops (C) for the
 * PMM call.
 */
static void __attribute__((noinline))
pcache_free_slow(struct pcache *pc, struct pcache_cpu *c, struct vm_page *page)
{
	uint32_t n;

	pthread_mutex_lock(&c->fill_lock);
	pcache_lock(c);
	if (c->count < pc->cap) {
		/* Someone trimmed it while we waited for the fill lock. */
		pcache_push_locked(pc, c, page);
		pcache_unlock(c);
		pthread_mutex_unlock(&c->fill_lock);
		return;
	}
	n = c->count + 1 - pc->reserve;
	pcache_unstash_locked(c, n);
	pcache_push_locked(pc, c, page);
	pcache_spill_unlock(pc, c, n);
}

void
pcache_free(struct pcache *pc, struct vm_page *page)
{
	struct pcache_cpu *c;

	if (pc->reserve == 0) {
		pmm_free(pc->pmm, page);
		return;
	}
	c = pcache_this_cpu(pc);
	pcache_lock(c);
	if (c->count < pc->cap) {
		pcache_push_locked(pc, c, page);
		pcache_unlock(c);
		return;
	}
	pcache_unlock(c);
	pcache_free_slow(pc, c, page);
}

void
pcache_drain(struct pcache *pc)
{
	struct pcache_cpu *c;
	uint32_t n;
	unsigned i;

	if (pc->reserve == 0)
		return;
	for (i = 0; i < pc->ncpu; i++) {
		c = &pc->cpu[i];
		pthread_mutex_lock(&c->fill_lock);
		pcache_lock(c);
		n = c->count;
		pcache_unstash_locked(c, n);
		pcache_spill_unlock(pc, c, n);
	}
}

void
pcache_get_stats(struct pcache *pc, struct pcache_stats *st)
{
	struct pcache_cpu *c;
	unsigned i;

	memset(st, 0, sizeof(*st));
	st->ncpu = pc->ncpu;
	st->reserve = pc->reserve;
	for (i = 0; i < pc->ncpu; i++) {
		c = &pc->cpu[i];
		pcache_lock(c);
		st->cached += c->count;
		st->hits += c->hits;
		st->misses += c->misses;
		st->refills += c->refills;
		st->refill_pages += c->refill_pages;
		st->returns += c->returns;
		st->return_pages += c->return_pages;
		st->steals += c->steals;
		pcache_unlock(c);
		st->misses += atomic_load_explicit(&c->direct,
		    memory_order_relaxed);
	}
}

struct pmm *
pcache_pmm(struct pcache *pc)
{
	return pc->pmm;
}
