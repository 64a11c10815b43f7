/*
 * reclaim.c - making room (SPEC 5; docs/reclaim.md).
 *
 * Two ways in:
 *   vm_reserve      direct reclaim: every operation that may allocate calls
 *                   it first, with no hierarchy lock held, saying how many
 *                   pages it may need.  If the PMM is short it reclaims
 *                   there and then.
 *   the reclaimer   a thread (vm_reclaimer_start) that ages the page queues once
 *                   a second and, when free pages fall below the low
 *                   watermark (vm_reserve wakes it), reclaims up to the
 *                   high watermark, so most writes never wait for reclaim.
 * Both take pages off the page queues in SPEC 5's order (pq.c): dontneed
 * first (in hint order), then clean pager-backed pages, dirty ones, and
 * anonymous ones, each oldest generation first.  A page of a pager-backed
 * hierarchy that the pager VMO itself sees is dropped, written back first
 * if dirty (pager_evict: the store holds it).  Any other page -- an
 * anonymous hierarchy's, or a clone's in a pager-backed one -- that is all
 * zero becomes a zero marker (zero-page dedup, with or without compress);
 * with compress, any other page goes into the LZ4 store (zstore.c) if it
 * fits in 3/4 of a page, and its slot holds the store's handle (plist.h).
 * A page that is neither is flagged NOCOMP and left alone until it is
 * written again.  Pinned pages sit on the wired queue and alwaysneed pages
 * on theirs: never scanned.  A pass goes on until it has freed what it
 * was asked for or a lap of candidates freed nothing (queue_reclaim):
 * only then is nothing reclaimable, and only then may a write fail.
 *
 * The store's memory counts against the limit.  Its entries live on the
 * heap, so for every page's worth of compressed bytes (payload plus the
 * per-entry cost) one arena page is held back as *ballast*: allocated,
 * never used, its memory given back to the OS.  Resident pages plus store
 * never exceed the limit, and the store shrinks the ballast as it empties.
 *
 * Locks: a candidate comes out of pq_reclaim_scan with a reference on its
 * hierarchy taken under the pq lock (where page->owner is valid); then the
 * hierarchy lock is taken exclusively and the page re-checked under the pq
 * lock again (still queued, still in this hierarchy).  Order: hierarchy ->
 * pq; hierarchy -> zlock -> zstore / pmm.  Nothing here runs with a
 * hierarchy lock held on entry.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "fault.h"
#include "pmm.h"
#include "pq.h"
#include "vm_internal.h"
#include "zstore.h"

#define VM_RESERVE_SLACK 64	/* pages kept free beyond a request */
#define RECLAIM_BATCH	32	/* candidates per queue scan */
#define RECLAIM_TICK_MS	1000	/* page-queue aging period */

/* ---- the store's ballast ------------------------------------------------ */

/* Hold p (an allocated page no object uses any more) as ballast; its
 * memory goes back to the OS.  zlock held. */
static void
ballast_push(struct vm *vm, struct vm_page *p)
{
	(void)madvise(vm_page_addr(vm, p), VM_PAGE_SIZE, MADV_DONTNEED);
	p->state = VM_PAGE_WIRED;
	p->owner = NULL;
	p->flags = 0;
	TAILQ_INSERT_TAIL(&vm->ballast, p, link);
	vm->nballast++;
}

static uint64_t
ballast_want(struct vm *vm)
{
	return (zstore_footprint(vm->zs) + VM_PAGE_SIZE - 1) / VM_PAGE_SIZE;
}

/*
 * Make the ballast match the store: one arena page per page's worth of
 * store memory.  Growing can fail when the PMM is empty (then the limit
 * is overshot by less than a page per put until the next balance);
 * compression itself never needs to grow it (see keep_or_free).
 */
void
vm_zs_balance(struct vm *vm)
{
	struct vm_page *p;
	uint64_t want;

	if (vm->zs == NULL)
		return;
	pthread_mutex_lock(&vm->zlock);
	want = ballast_want(vm);
	while (vm->nballast < want && pmm_alloc(vm->pmm, &p) == 0)
		ballast_push(vm, p);
	while (vm->nballast > want) {
		p = TAILQ_FIRST(&vm->ballast);
		TAILQ_REMOVE(&vm->ballast, p, link);
		vm->nballast--;
		pmm_free(vm->pmm, p);
	}
	pthread_mutex_unlock(&vm->zlock);
}

/* A page just compressed: it becomes ballast if the store needs another
 * page's worth, else it is freed.  True if it was freed. */
static bool
keep_or_free(struct vm *vm, struct vm_page *p)
{
	bool keep;

	pq_dequeue(vm->pq, p);
	pthread_mutex_lock(&vm->zlock);
	/* A borrowed page must stay movable (contig.c): never ballast. */
	keep = !pmm_page_lent(p) && vm->nballast < ballast_want(vm);
	if (keep) {
		atomic_fetch_sub_explicit(&vm->used_pages, 1, memory_order_relaxed);
		ballast_push(vm, p);
	}
	pthread_mutex_unlock(&vm->zlock);
	if (!keep)
		vm_page_free(vm, p);
	return !keep;
}

/* ---- reclaim off the page queues ----------------------------------------- */

struct cand {
	struct vm_page	*p;
	struct hier	*h;
};

struct scan_ctx {
	struct cand	c[RECLAIM_BATCH];
	size_t		n;
};

/* Under the pq lock: can p be reclaimed, and if so pin its hierarchy.
 * (An incompressible pager page may still be the store's: not skipped.) */
static bool
accept_page(void *ctx, struct vm_page *p)
{
	struct scan_ctx *sc = ctx;
	struct cow_node *n = p->owner;
	struct hier *h;
	uint64_t r;

	if (sc->n == RECLAIM_BATCH || n == NULL ||
	    (p->flags & (VM_PAGE_F_SHARED | VM_PAGE_F_ALWAYSNEED)) ||
	    ((p->flags & VM_PAGE_F_NOCOMP) && pq_page_kind(p) == PQ_ANON) ||
	    atomic_load(&p->share) != 0)
		return false;
	h = n->h;
	r = atomic_load(&h->refs);
	do {
		if (r == 0)		/* the hierarchy is being torn down */
			return false;
	} while (!atomic_compare_exchange_weak(&h->refs, &r, r + 1));
	sc->c[sc->n].p = p;
	sc->c[sc->n].h = h;
	sc->n++;
	return true;
}

/*
 * Lock candidate c's hierarchy exclusively and check that c's page is
 * still where the scan saw it: queued, owned by a node of that hierarchy
 * whose slot holds it, unpinned, unshared, not alwaysneed.  True with the
 * lock held and *np, *offp set; false with the lock held too.
 */
static bool
cand_lock(struct vm *vm, struct cand *c, struct cow_node **np, uint64_t *offp)
{
	struct vm_page *p = c->p;
	struct cow_node *n = NULL;
	uint64_t off = 0;
	bool ok;

	hier_wlock(c->h);
	pq_lock(vm->pq);
	ok = pq_queued(p) && p->state == VM_PAGE_OBJECT && p->owner != NULL &&
	    ((struct cow_node *)p->owner)->h == c->h;
	if (ok) {
		n = p->owner;
		off = p->offset;
	}
	pq_unlock(vm->pq);
	/* Owner and slot are stable now: they change only under h's lock. */
	if (!ok || plist_lookup(&n->pages, off) != plist_from_page(p) ||
	    p->pin_count > 0 || atomic_load(&p->share) != 0 ||
	    (p->flags & (VM_PAGE_F_SHARED | VM_PAGE_F_ALWAYSNEED)))
		return false;
	*np = n;
	*offp = off;
	return true;
}

/* n's page p at off reads zero: a marker where a parent or the store
 * would show through, else nothing; the page is freed.  Exclusive lock. */
static void
zero_dedup(struct vm *vm, struct cow_node *n, uint64_t off, struct vm_page *p)
{
	if (n->h->pops != NULL || (n->parent != NULL && off < n->parent_limit))
		plist_set(&n->pages, off, PLIST_MARKER, NULL);	/* in place */
	else
		plist_remove(&n->pages, off);
	vm_page_free(vm, p);
	atomic_fetch_add_explicit(&vm->zero_deduped, 1, memory_order_relaxed);
}

/*
 * Reclaim candidate c: evicted to the store, a zero marker, a compressed
 * slot, or nothing.  Returns the pages freed (0 or 1).  Drops c's
 * hierarchy reference.
 */
static uint64_t
evict_page(struct vm *vm, struct cand *c)
{
	struct hier *h = c->h;
	struct vm_page *p = c->p;
	struct cow_node *n = NULL;
	uint64_t off = 0, freed = 0;
	uint32_t hnd = ZSTORE_NONE;
	int r;

	if (!cand_lock(vm, c, &n, &off))
		goto out;
	if (h->pops != NULL) {
		/* The store's page: drop it (written back first if dirty). */
		r = pager_evict(vm, n, off, p);
		if (r > 0) {
			freed = 1;
			goto out;
		}
		if (r < 0) {
			pq_requeue(vm->pq, p);	/* the store failed */
			goto out;
		}
		/* Not the store's (a clone's bytes): it stays anonymous for
		 * good -- the pager VMO never sees it again (pager.c). */
		if (p->flags & VM_PAGE_F_DIRTY)
			vm_page_flag_clear(p, VM_PAGE_F_DIRTY);
		pq_mark_anon(vm->pq, p);
	}
	if (p->flags & VM_PAGE_F_NOCOMP) {
		pq_requeue(vm->pq, p);
		goto out;
	}
	if (vm->zs != NULL)
		r = zstore_put(vm->zs, vm_page_addr(vm, p), &hnd);
	else
		r = zstore_is_zero(vm_page_addr(vm, p)) ? ZSTORE_ZERO : -E2BIG;
	if (r == ZSTORE_ZERO) {
		zero_dedup(vm, n, off, p);
		freed = 1;
	} else if (r == 0) {
		plist_set(&n->pages, off, plist_from_comp(hnd), NULL);
		freed = keep_or_free(vm, p);
		atomic_fetch_add_explicit(&vm->compressed, 1, memory_order_relaxed);
	} else {
		/* -E2BIG: incompressible (or not zero, without compress);
		 * -ENOSPC/-ENOMEM: the store is full.  Leave it be. */
		if (r == -E2BIG) {
			vm_page_flag_set(p, VM_PAGE_F_NOCOMP);
			atomic_fetch_add_explicit(&vm->incompressible, 1,
			    memory_order_relaxed);
		}
		pq_requeue(vm->pq, p);
	}
out:
	hier_unlock(h);
	hier_put(h);
	return freed;
}

/*
 * Take up to want pages off the queues.  No hierarchy lock held.
 *
 * Stops when want pages are freed, when a scan finds no candidate at all,
 * or when a lap's worth of candidates in a row -- as many as the scanned
 * queues held pages when it started -- freed nothing.  A candidate that
 * cannot go is requeued at the newest end of its queue, or refused by
 * accept_page from then on (NOCOMP), so after such a lap every page has
 * been looked at since the last one was freed: nothing more can be
 * written back, evicted, compressed or deduped now (SPEC 5).
 *
 * It used to stop after 4 + want/16 rounds of 32 candidates, freed or not.
 * A clone's old pages under a backed VMO that was overwritten since (a
 * hidden node full of what once were the VMO's dirty pages, still queued
 * as such) fill the head of the dirty queue; every round went to them and
 * a write failed with ENOSPC while the VMO's own dirty pages behind them
 * could all have been written back (issue #16, test_reclaim's
 * test_reclaim_past_clone_pages).
 */
static uint64_t
queue_reclaim(struct vm *vm, uint64_t want)
{
	struct vm_page *out[RECLAIM_BATCH];
	struct pq_stats qs;
	uint64_t got = 0, dry = 0, lap;
	size_t i;

	pq_counters(vm->pq, &qs);
	lap = qs.size[PQ_Q_DONTNEED] + qs.size[PQ_Q_PAGER_CLEAN] +
	    qs.size[PQ_Q_PAGER_DIRTY] + qs.size[PQ_Q_ANON] + RECLAIM_BATCH;
	while (got < want && dry < lap) {
		struct scan_ctx sc = { .n = 0 };
		size_t ask = want - got < RECLAIM_BATCH ? want - got : RECLAIM_BATCH;

		if (pq_reclaim_scan(vm->pq, out, ask, accept_page, &sc) == 0)
			break;
		for (i = 0; i < sc.n; i++) {
			if (evict_page(vm, &sc.c[i]) != 0) {
				got++;
				dry = 0;
			} else {
				dry++;
			}
		}
	}
	return got;
}

/*
 * Reclaim up to want pages: unlocked discardable VMOs first, whole,
 * oldest unlock first (discard.c: their user said they can go, as
 * Zircon's evictor discards before it evicts), then SPEC 5's order off
 * the page queues.  No hierarchy lock held.
 */
uint64_t
vm_reclaim_pages(struct vm *vm, uint64_t want)
{
	uint64_t got = discard_reclaim(vm, want);

	if (got < want)
		got += queue_reclaim(vm, want - got);

	atomic_fetch_add_explicit(&vm->reclaimed, got, memory_order_relaxed);
	return got;
}

/* ---- the zero-page scanner ---------------------------------------------- */

/*
 * Zero pages are found by reclaim when it reaches them, but only under
 * pressure.  The scanner finds them in idle memory too (Zircon's zero
 * page scanner): every tick of the reclaimer thread it looks at up to
 * ZSCAN_LOOK pages of the oldest anonymous generation (pages untouched for
 * a few ticks) and swaps the all-zero ones for zero markers.  A page found
 * not zero is flagged ZSCANNED and passed over until it is written again,
 * so idle memory is read once, not every tick.
 */
#define ZSCAN_LOOK	4096	/* pages looked at per tick, at most (16 MiB) */

/* Under the pq lock: worth a zero check?  Pins the hierarchy if so. */
static bool
zscan_pick(void *ctx, struct vm_page *p)
{
	if (p->flags & (VM_PAGE_F_NOCOMP | VM_PAGE_F_ZSCANNED))
		return false;
	return accept_page(ctx, p);
}

/* Zero-check the scanner's picks: a marker for each all-zero one, the
 * ZSCANNED flag for the others.  Returns the pages freed. */
static uint64_t
zscan_batch(struct vm *vm, struct scan_ctx *sc)
{
	uint64_t freed = 0;
	size_t i;

	for (i = 0; i < sc->n; i++) {
		struct cand *c = &sc->c[i];
		struct cow_node *n;
		uint64_t off;

		if (cand_lock(vm, c, &n, &off)) {
			atomic_fetch_add_explicit(&vm->zero_scanned, 1,
			    memory_order_relaxed);
			if (zstore_is_zero(vm_page_addr(vm, c->p)) &&
			    !(c->p->flags & VM_PAGE_F_DIRTY)) {
				zero_dedup(vm, n, off, c->p);
				freed++;
			} else {
				vm_page_flag_set(c->p, VM_PAGE_F_ZSCANNED);
			}
		}
		hier_unlock(c->h);
		hier_put(c->h);
	}
	return freed;
}

uint64_t
vm_zero_scan(struct vm *vm)
{
	struct vm_page *out[RECLAIM_BATCH];
	size_t budget = ZSCAN_LOOK;
	uint64_t freed = 0;

	while (budget > 0) {
		struct scan_ctx sc = { .n = 0 };

		if (pq_zero_scan(vm->pq, out, RECLAIM_BATCH, &budget, zscan_pick,
		    &sc) == 0)
			break;
		freed += zscan_batch(vm, &sc);
	}
	return freed;
}

/* ---- the reclaimer thread ----------------------------------------------- */

static void
reclaimer_kick(struct vm *vm)
{
	if (!vm->rthread_on || atomic_exchange(&vm->rkicked, true))
		return;
	pthread_mutex_lock(&vm->rlock);
	vm->rkick = true;
	pthread_cond_signal(&vm->rcond);
	pthread_mutex_unlock(&vm->rlock);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *
reclaimer_main(void *arg)
{
	struct vm *vm = arg;
	uint64_t last = now_ms(), free;
	struct timespec dl;

	pthread_mutex_lock(&vm->rlock);
	while (!vm->rstop) {
		if (!vm->rkick) {
			clock_gettime(CLOCK_MONOTONIC, &dl);
			dl.tv_sec += RECLAIM_TICK_MS / 1000;
			pthread_cond_timedwait(&vm->rcond, &vm->rlock, &dl);
		}
		vm->rkick = false;
		pthread_mutex_unlock(&vm->rlock);
		if (now_ms() - last >= RECLAIM_TICK_MS) {
			pq_rotate(vm->pq);
			vm_zero_scan(vm);
			last = now_ms();
		}
		free = pmm_free_count(vm->pmm);
		if (free < vm->low_pages) {
			vm_reclaim_pages(vm, vm->high_pages - free);
			atomic_fetch_add(&vm->reclaim_bg, 1);
		}
		atomic_store(&vm->rkicked, false);
		pthread_mutex_lock(&vm->rlock);
	}
	pthread_mutex_unlock(&vm->rlock);
	return NULL;
}

/* ---- entry points ------------------------------------------------------- */

/*
 * Make room for an operation about to allocate up to pages pages.  Called
 * with no hierarchy lock held.  Advisory: a racing allocation can still
 * take the room, and then the operation fails with -ENOSPC as it would
 * have.
 */
void
vm_reserve(struct vm *vm, uint64_t pages)
{
	uint64_t free = pmm_free_count(vm->pmm);

	if (free < vm->low_pages)
		reclaimer_kick(vm);
	if (free >= pages + VM_RESERVE_SLACK)
		return;
	atomic_fetch_add_explicit(&vm->reclaim_direct, 1, memory_order_relaxed);
	vm_reclaim_pages(vm, pages + VM_RESERVE_SLACK - free);
}

int
vm_reclaim_init(struct vm *vm, const struct vm_config *cfg)
{
	uint64_t total = cfg->limit_bytes / VM_PAGE_SIZE;

	vm->pq = pq_create(PQ_DEFAULT_GEN);
	if (vm->pq == NULL)
		return -ENOMEM;
	if (cfg->compress && (vm->zs = zstore_create(0)) == NULL) {
		pq_destroy(vm->pq);
		return -ENOMEM;
	}
	pthread_mutex_init(&vm->zlock, NULL);
	TAILQ_INIT(&vm->ballast);
	/* Watermarks: 1/32 of the limit, at least twice the reserve slack. */
	vm->low_pages = total / 32 > 2 * VM_RESERVE_SLACK ? total / 32 : 2 * VM_RESERVE_SLACK;
	vm->high_pages = vm->low_pages + vm->low_pages / 2;
	pthread_mutex_init(&vm->rlock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&vm->rcond, &ca);
		pthread_condattr_destroy(&ca);
	}
	return 0;
}

int
vm_reclaimer_start(struct vm *vm)
{
	int err;

	if (vm->rthread_on)
		return 0;
	if ((err = pthread_create(&vm->rthread, NULL, reclaimer_main, vm)) != 0)
		return -err;
	vm->rthread_on = true;
	return 0;
}

void
vm_reclaim_fini(struct vm *vm)
{
	struct vm_page *p;

	if (vm->rthread_on) {
		pthread_mutex_lock(&vm->rlock);
		vm->rstop = true;
		pthread_cond_signal(&vm->rcond);
		pthread_mutex_unlock(&vm->rlock);
		pthread_join(vm->rthread, NULL);
		vm->rthread_on = false;
	}
	while ((p = TAILQ_FIRST(&vm->ballast)) != NULL) {
		TAILQ_REMOVE(&vm->ballast, p, link);
		pmm_free(vm->pmm, p);
	}
	vm->nballast = 0;
	pthread_cond_destroy(&vm->rcond);
	pthread_mutex_destroy(&vm->rlock);
	pthread_mutex_destroy(&vm->zlock);
	if (vm->zs != NULL)
		zstore_destroy(vm->zs);
	vm->zs = NULL;
	pq_destroy(vm->pq);
	vm->pq = NULL;
}
