/*
 * pager.c - pager-backed VMOs: bytes in a backing store, paged in on first
 * touch, written back when dirty (Zircon's pager-backed VMOs; the Akaros
 * page map's writeback before removal).
 *
 * A pager-backed hierarchy remembers its store (ops, ctx), its extent (the
 * store's bytes that may hold data) and its topmost node, pnode.  An
 * offset that resolves to *nothing* all the way up to pnode, below the
 * extent, holds the store's bytes: the page is read and put into pnode.
 *
 * True snapshots.  A clone of the pager-backed VMO P turns P's node into a
 * hidden node; that hidden node is pnode, and it stays the topmost node.
 * Pages are always paged in *into pnode*, never into a leaf, and the store
 * only ever changes through P's writeback.  So before P writes page X, the
 * write path pages X into pnode (where the clone sees it) and copies it on
 * write; afterwards the store gets P's new X and pnode keeps the old one
 * for the clone.  A page the clone never read stays unread, and the store
 * still has the clone's bytes for it, as long as P has not written it.
 * Rule: before the store's bytes at X change, pnode holds X if anyone but
 * P's own node sees pnode's X (and so does every node with a PLIST_STORE
 * slot at X).  Writes go through cow_get_writable, which pages in first
 * (cow.c); shrink and detach page in explicitly.
 *
 * Dirty pages: every page made writable for P (or its slices, which write
 * P's node) is flagged VM_PAGE_F_DIRTY.  vmo_writeback writes the flagged
 * pages P sees, clears the flags, sets the store's size and syncs -- with
 * the hierarchy lock held, so no write can slip between writing a page
 * and clearing its flag (a write after it flags the page again).
 *
 * Eviction: pages sit on the global page queues (pq.c) as clean or dirty
 * pager pages; reclaim drops the ones the store holds and leaves a gap
 * (pnode) or a PLIST_STORE slot (below it) -- "Evicted pages" below.
 *
 * Simplifications, documented in docs/semantics.md: decommit and zero on a
 * pager-backed VMO write zero pages instead of freeing them (the store must
 * read zero too); SEEK_DATA reports everything below the extent as data.
 *
 * Reads page in through page requests, with the lock dropped while the
 * store is read ("Page requests" below).  Writes, shrink, detach, zero
 * and eviction still call the store under the exclusive lock.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "pager.h"
#include "pmm.h"
#include "pq.h"
#include "vm_internal.h"

/*
 * cow_lookup, also telling where an unresolved walk ended: *top is the
 * node where the store's bytes would come from -- the topmost node reached
 * (one with no parent), or a node whose slot is PLIST_STORE (an evicted
 * page) -- and *top_off the offset there; or NULL when a window cut the
 * walk short (the offset reads zero).  PLIST_EMPTY in both store cases.
 */
plist_slot_t
cow_lookup_top(struct cow_node *n, uint64_t off, struct cow_node **top,
    uint64_t *top_off)
{
	*top = NULL;
	for (;;) {
		plist_slot_t s = plist_lookup(&n->pages, off);

		if (s == PLIST_STORE) {
			*top = n;
			*top_off = off;
			return PLIST_EMPTY;
		}
		if (s != PLIST_EMPTY)
			return s;
		if (n->parent == NULL) {
			*top = n;
			*top_off = off;
			return PLIST_EMPTY;
		}
		if (off >= n->parent_limit)
			return PLIST_EMPTY;
		off += n->parent_off;
		n = n->parent;
	}
}

/*
 * Does top's slot at off show the store's bytes: a PLIST_STORE slot
 * (always: it was made from a page the store holds), or nothing at all in
 * pnode below the extent (past it a gap reads zero).  The caller knows
 * the slot is empty or PLIST_STORE (cow_lookup_top stopped there), so a
 * lookup is needed only away from pnode's store range, in a node that
 * has PLIST_STORE slots at all: reads of a backed file do not look the
 * slot up twice.  Locked.
 *
 * The extent.  pnode's gaps read the store below h->pextent.  It starts
 * at the store's size, shrinks with the VMO, and grows only while nobody
 * but the VMO sees pnode (pnode is the VMO's own node): a clone taken
 * while the VMO was larger than the store sees zero in pnode's gaps past
 * the extent, and must go on seeing zero after the VMO writes bytes there
 * and writes them back.  Pages the VMO evicts past the extent leave
 * PLIST_STORE slots, which need no extent.  The store reads zero in
 * pnode's gaps past the extent anyway: whatever the VMO ever wrote there
 * sits in a slot of its chain.
 */
bool
pager_in_store(struct cow_node *top, uint64_t off)
{
	struct hier *h = top->h;

	if (h->pops == NULL)
		return false;
	if (top == h->pnode && off < h->pextent)
		return true;
	return top->pages.nstore != 0 &&
	    plist_lookup(&top->pages, off) == PLIST_STORE;
}

/* A fresh page holding the store's bytes at off.  0 or an error. */
static int
pager_read_page(struct vm *vm, struct hier *h, uint64_t off, struct vm_page **out)
{
	struct vm_page *p;
	int err;

	if ((err = vm_page_alloc(vm, &p)) != 0)
		return err;
	if ((err = h->pops->read(h->pctx, off, vm_page_addr(vm, p))) != 0) {
		vm_page_free(vm, p);
		return err;
	}
	*out = p;
	return 0;
}

int
pager_page_in(struct vm *vm, struct cow_node *top, uint64_t off)
{
	struct hier *h = top->h;
	struct vm_page *p;
	int err;

	HIER_ASSERT_WLOCKED(h);
	assert(pager_in_store(top, off) &&
	    !plist_has_data(plist_lookup(&top->pages, off)));
	if ((err = pager_read_page(vm, h, off, &p)) != 0)
		return err;
	/* Replacing a PLIST_STORE slot allocates nothing; a new one may. */
	if ((err = plist_set(&top->pages, off, plist_from_page(p), NULL)) != 0) {
		vm_page_free(vm, p);
		return err;
	}
	cow_page_settle(p, top, off);
	atomic_fetch_add_explicit(&vm->paged_in, 1, memory_order_relaxed);
	return 0;
}

/*
 * Page in n consecutive pages of top from off (each pager_in_store) with one store
 * call when the store offers readv (a 1 MiB read: one preadv, not 256
 * preads).  Falls back to page by page.  0 or an error (pages read before
 * it stay).  Exclusive lock.
 */
int
pager_page_in_run(struct vm *vm, struct cow_node *top, uint64_t off, uint64_t n)
{
	struct hier *h = top->h;
	struct vm_page *pages[PAGER_RUN];
	struct iovec iov[PAGER_RUN];
	uint64_t i, got;
	int err = 0;

	HIER_ASSERT_WLOCKED(h);
	if (n == 1 || h->pops->readv == NULL) {
		for (i = 0; i < n && err == 0; i++)
			err = pager_page_in(vm, top, off + i * VM_PAGE_SIZE);
		return err;
	}
	for (got = 0; got < n; got++) {
		if ((err = vm_page_alloc(vm, &pages[got])) != 0)
			break;
		iov[got].iov_base = vm_page_addr(vm, pages[got]);
		iov[got].iov_len = VM_PAGE_SIZE;
	}
	if (got > 0 && (err = h->pops->readv(h->pctx, off, iov, (int)got)) == 0) {
		for (i = 0; i < got; i++) {
			if ((err = plist_set(&top->pages, off + i * VM_PAGE_SIZE,
			    plist_from_page(pages[i]), NULL)) != 0)
				break;
			cow_page_settle(pages[i], top, off + i * VM_PAGE_SIZE);
		}
		atomic_fetch_add_explicit(&vm->paged_in, i, memory_order_relaxed);
	} else {
		i = 0;
	}
	for (; i < got; i++)
		vm_page_free(vm, pages[i]);
	return err;
}

/* p was made writable for node n: if n is the pager VMO's, it is dirty. */
void
pager_note_dirty(struct cow_node *n, struct vm_page *p)
{
	struct hier *h = n->h;

	if (h->pops == NULL || h->pvmo == NULL || n->vmo != h->pvmo)
		return;
	if (!(p->flags & VM_PAGE_F_DIRTY)) {
		vm_page_flag_set(p, VM_PAGE_F_DIRTY);
		atomic_fetch_add_explicit(&h->pdirtied, 1, memory_order_relaxed);
		if (pq_queued(p))
			pq_mark_dirty(h->vm->pq, p);
	}
}

/*
 * The pager VMO's node n has just copied page up of an ancestor (a hidden
 * node a clone split off) to write it: from now on only clones see up,
 * and the VMO never will again (its own slot hides it for good), so up is
 * an anonymous page: not dirty (the store must never get these bytes) and
 * on the anonymous queue.  Reclaim would find that out too (pager_evict,
 * then pq_mark_anon) but only by looking at every such page first: after
 * a clone and an overwrite of the whole VMO, all of its old pages sat
 * ahead of the VMO's new dirty pages on the dirty queue (issue #16,
 * bug 2).  Exclusive lock.
 */
void
pager_note_copied(struct cow_node *n, struct vm_page *up)
{
	struct hier *h = n->h;

	HIER_ASSERT_WLOCKED(h);
	if (h->pops == NULL || h->pvmo == NULL || n->vmo != h->pvmo)
		return;
	if (up->flags & VM_PAGE_F_DIRTY)
		vm_page_flag_clear(up, VM_PAGE_F_DIRTY);
	if (pq_queued(up) && pq_page_kind(up) != PQ_ANON)
		pq_mark_anon(h->vm->pq, up);
}

/*
 * Page requests: reads of the store with the hierarchy lock dropped
 * (Zircon's PageRequest, issue #17 item 5).
 *
 * Until 2026-12-07 a read that met a page only the store holds took the
 * hierarchy lock exclusively and read the store under it, so one slow
 * read of a backing file stalled every VMO of the clone tree -- clones,
 * slices, resident pages, writeback -- and two readers of one missing
 * page read it twice.  Now a reader (pager_fault, entered with the lock
 * shared):
 *
 *   1. scan    under the shared lock and rqlock: for each page of the
 *              range that resolves to the store (cow_lookup_top,
 *              pager_in_store), join a request in flight that covers its
 *              store offset, or publish one of its own (a run of up to
 *              PAGER_RUN pages, fresh pages allocated for it) on
 *              h->preqs.  Requests are keyed by *store offset*: in a
 *              pager-backed tree every slot that reads the store (pnode's
 *              gaps, PLIST_STORE slots of the pager VMO's chain) sits at
 *              the offset it reads, so two clones missing the same page
 *              share one request;
 *   2. read    with no hierarchy lock: its own requests' store reads
 *              (readv: one call per run);
 *   3. install under the exclusive lock, re-validating each page: the
 *              request is not stale, the store is the same, and the
 *              reader's own view of that offset still ends in a slot that
 *              reads the store at that very offset (pages may have been
 *              written, decommitted, evicted, paged in by a writer, cut
 *              by a shrink, nodes merged or freed meanwhile).  A page that
 *              fails the check is freed: what is in the slot now wins;
 *   4. done    the request leaves h->preqs and its waiters wake; they
 *              and the owner scan again under the shared lock.  A reader
 *              returns only after a scan that found nothing to page in.
 *
 * Stale.  A store read can race with a change of the store's bytes (the
 * pager VMO's writeback, the eviction of a dirty page, a shrink).  Each
 * of those happens under the exclusive lock and first marks the requests
 * that cover its offsets stale (pager_req_invalidate); a stale request's
 * pages are thrown away and the page is read again.  Without it a read of
 * X could fetch the old bytes, the VMO write X, reclaim write X back and
 * drop it -- leaving the gap the request expects -- and the old bytes
 * would be installed over the new ones.
 *
 * Lifetime.  The reader holds a reference on its VMO, so the hierarchy
 * lives.  The store's ctx is the pager VMO's, which may be another VMO
 * (a clone reading pnode's gaps) and may go away: every published
 * request counts in h->rq_calls until its store call has returned, and
 * forgetting the store (detach, the VMO's end, pnode's end) waits,
 * under the exclusive lock, until rq_calls is 0 (pr_drain).  No request
 * is published while that lock is held, and a request's owner holds no
 * hierarchy lock while it reads, so the wait ends.  Requests live on
 * their owner's stack; the owner waits for its waiters to leave before
 * it returns (they hold no lock but rqlock while they wait).
 *
 * Locks: hier -> rqlock.  rqlock guards h->preqs, rq_calls and each
 * request's waiters/done/err; stale is set under both the exclusive
 * hierarchy lock and rqlock, so either suffices to read it.  The owner
 * allocates its pages under the shared lock (hier -> pcache -> pmm) and
 * never reclaims while a request of its own is published: reclaim takes
 * hierarchy locks, and a drain holding this one would wait for it.
 * vm_reserve runs before the scan, with no lock.
 */
struct pager_req {
	uint64_t	off, end;	/* (rqlock) store offsets [off, end) */
	uint64_t	lo;		/* (owner) the owner's leaf offset of off */
	const struct pager_ops *ops;	/* (owner) the store, taken under H */
	void		*ctx;		/* (owner) */
	LIST_ENTRY(pager_req) link;	/* (rqlock) in h->preqs until done */
	pthread_cond_t	cond;		/* done, or the last waiter left */
	unsigned	waiters;	/* (rqlock) threads waiting on it */
	bool		done;		/* (rqlock) */
	bool		stale;		/* (H excl + rqlock) the store changed */
	int		err;		/* (rqlock) the owner's store result */
	uint64_t	got;		/* (owner) pages allocated */
	struct vm_page	*pages[PAGER_RUN];	/* (owner) */
};

#define PR_OWN	4	/* requests one pass may own: 4 runs, 1 MiB */
#define PR_JOIN	8	/* others' requests one pass may wait for */

struct pr_pass {
	struct pager_req own[PR_OWN];
	int		nown;
	uint64_t	join[PR_JOIN];	/* store offsets inside others' requests */
	int		njoin;
	uint64_t	next;		/* VMO offset the scan stopped at */
	bool		nospc;		/* it stopped for want of a page */
};

void
pager_req_init(struct hier *h)
{
	pthread_mutex_init(&h->rqlock, NULL);
	pthread_cond_init(&h->rqcond, NULL);
	LIST_INIT(&h->preqs);
	h->rq_calls = 0;
}

void
pager_req_fini(struct hier *h)
{
	assert(LIST_EMPTY(&h->preqs) && h->rq_calls == 0 &&
	    "hierarchy freed with page requests in flight");
	pthread_cond_destroy(&h->rqcond);
	pthread_mutex_destroy(&h->rqlock);
}

/* The request in flight covering store offset so, or NULL.  rqlock. */
static struct pager_req *
pr_find(struct hier *h, uint64_t so)
{
	struct pager_req *r;

	LIST_FOREACH(r, &h->preqs, link)
		if (so >= r->off && so < r->end)
			return r;
	return NULL;
}

/*
 * The store's bytes in [start, end) are about to change: requests reading
 * them are stale (their pages will be thrown away).  Exclusive lock.
 */
void
pager_req_invalidate(struct hier *h, uint64_t start, uint64_t end)
{
	struct pager_req *r;

	HIER_ASSERT_WLOCKED(h);
	pthread_mutex_lock(&h->rqlock);
	LIST_FOREACH(r, &h->preqs, link)
		if (r->off < end && start < r->end)
			r->stale = true;
	pthread_mutex_unlock(&h->rqlock);
}

/*
 * The store is being forgotten: mark every request stale and wait until
 * none can call it any more (the caller may free ctx afterwards).
 * Exclusive lock, held throughout: owners read without it.
 */
static void
pr_drain(struct hier *h)
{
	HIER_ASSERT_WLOCKED(h);
	pager_req_invalidate(h, 0, UINT64_MAX);
	pthread_mutex_lock(&h->rqlock);
	while (h->rq_calls != 0)
		pthread_cond_wait(&h->rqcond, &h->rqlock);
	pthread_mutex_unlock(&h->rqlock);
}

/* A fresh page for request r, or false (the PMM is empty). */
static bool
pr_grow(struct vm *vm, struct pager_req *r)
{
	if (vm_page_alloc(vm, &r->pages[r->got]) != 0)
		return false;
	r->got++;
	return true;
}

/* Is r one of this pass's own requests? */
static bool
pr_mine(const struct pr_pass *ps, const struct pager_req *r)
{
	int i;

	for (i = 0; i < ps->nown; i++)
		if (&ps->own[i] == r)
			return true;
	return false;
}

/*
 * Step 1: scan v's [pos, end) and publish or join requests for the pages
 * that read the store.  Shared lock (at least).
 */
static void
pr_scan(struct vmo *v, uint64_t pos, uint64_t end, struct pr_pass *ps)
{
	struct hier *h = v->h;
	struct cow_node *leaf, *top;
	struct pager_req *cur = NULL, *last = NULL, *r;
	uint64_t base, pg, to;

	ps->nown = ps->njoin = 0;
	ps->nospc = false;
	leaf = vmo_leaf(v, &base);
	pthread_mutex_lock(&h->rqlock);
	for (pg = pos; pg < end; pg += VM_PAGE_SIZE) {
		if (cow_lookup_top(leaf, base + pg, &top, &to) != PLIST_EMPTY ||
		    top == NULL || !pager_in_store(top, to)) {
			cur = NULL;
			continue;
		}
		if ((r = pr_find(h, to)) != NULL) {
			cur = NULL;
			if (r == last || pr_mine(ps, r))
				continue;
			if (ps->njoin == PR_JOIN)
				break;
			ps->join[ps->njoin++] = to;
			last = r;
			atomic_fetch_add_explicit(&v->vm->preq_waits, 1,
			    memory_order_relaxed);
			continue;
		}
		if (cur != NULL && cur->end == to && cur->got < PAGER_RUN &&
		    cur->lo + (cur->end - cur->off) == base + pg) {
			if (!pr_grow(v->vm, cur)) {
				ps->nospc = true;
				break;
			}
			cur->end += VM_PAGE_SIZE;
			continue;
		}
		if (ps->nown == PR_OWN)
			break;
		cur = &ps->own[ps->nown];
		memset(cur, 0, offsetof(struct pager_req, pages));
		if (!pr_grow(v->vm, cur)) {
			ps->nospc = true;
			break;
		}
		ps->nown++;
		cur->off = to;
		cur->end = to + VM_PAGE_SIZE;
		cur->lo = base + pg;
		cur->ops = h->pops;
		cur->ctx = h->pctx;
		pthread_cond_init(&cur->cond, NULL);
		LIST_INSERT_HEAD(&h->preqs, cur, link);
		h->rq_calls++;
	}
	ps->next = pg;
	pthread_mutex_unlock(&h->rqlock);
}

/* Step 2: r's store read, no hierarchy lock held. */
static void
pr_read(struct vm *vm, struct hier *h, struct pager_req *r)
{
	struct iovec iov[PAGER_RUN];
	uint64_t i;
	bool stale;
	int err = 0;

	pthread_mutex_lock(&h->rqlock);
	stale = r->stale;
	pthread_mutex_unlock(&h->rqlock);
	if (!stale && r->got > 1 && r->ops->readv != NULL) {
		for (i = 0; i < r->got; i++) {
			iov[i].iov_base = vm_page_addr(vm, r->pages[i]);
			iov[i].iov_len = VM_PAGE_SIZE;
		}
		err = r->ops->readv(r->ctx, r->off, iov, (int)r->got);
	} else if (!stale) {
		for (i = 0; i < r->got && err == 0; i++)
			err = r->ops->read(r->ctx, r->off + i * VM_PAGE_SIZE,
			    vm_page_addr(vm, r->pages[i]));
	}
	if (!stale && err == 0)
		atomic_fetch_add_explicit(&vm->preq_reads, 1, memory_order_relaxed);
	pthread_mutex_lock(&h->rqlock);
	r->err = err;
	if (--h->rq_calls == 0)
		pthread_cond_broadcast(&h->rqcond);
	pthread_mutex_unlock(&h->rqlock);
}

/*
 * Step 3: put r's pages where v still sees the store at their offsets;
 * free the rest.  Pages installed, or -ENOMEM (a page-list node).
 * Exclusive lock.
 */
static int
pr_install(struct vmo *v, struct pager_req *r)
{
	struct hier *h = v->h;
	struct cow_node *leaf, *top;
	uint64_t base, i, to, n = 0;
	int err = 0;

	HIER_ASSERT_WLOCKED(h);
	leaf = vmo_leaf(v, &base);
	for (i = 0; i < r->got; i++) {
		struct vm_page *p = r->pages[i];
		uint64_t so = r->off + i * VM_PAGE_SIZE;

		if (r->err == 0 && !r->stale && err == 0 && h->pops == r->ops &&
		    h->pctx == r->ctx &&
		    cow_lookup_top(leaf, r->lo + i * VM_PAGE_SIZE, &top, &to) ==
		    PLIST_EMPTY && top != NULL && to == so && pager_in_store(top, to)) {
			/* Replacing a PLIST_STORE slot allocates nothing. */
			if ((err = plist_set(&top->pages, to, plist_from_page(p),
			    NULL)) == 0) {
				cow_page_settle(p, top, to);
				n++;
				continue;
			}
		}
		vm_page_free(v->vm, p);
	}
	r->got = 0;
	atomic_fetch_add_explicit(&v->vm->paged_in, n, memory_order_relaxed);
	if (r->stale)
		atomic_fetch_add_explicit(&v->vm->preq_stale, 1, memory_order_relaxed);
	return err != 0 ? err : (int)n;
}

/* Wait for the request covering store offset so, if one is in flight.
 * Its owner's result (0 if it was gone already).  No hierarchy lock. */
static int
pr_wait(struct hier *h, uint64_t so)
{
	struct pager_req *r;
	int err = 0;

	pthread_mutex_lock(&h->rqlock);
	if ((r = pr_find(h, so)) != NULL) {
		r->waiters++;
		while (!r->done)
			pthread_cond_wait(&r->cond, &h->rqlock);
		err = r->err;
		if (--r->waiters == 0)
			pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&h->rqlock);
	return err;
}

/*
 * Steps 2 to 4 for one pass; called with no hierarchy lock, returns with
 * none.  *progress: pages installed plus others' requests that succeeded.
 * The first error of the pass (a store's, or -ENOMEM), or 0.
 */
static int
pr_serve(struct vmo *v, struct pr_pass *ps, uint64_t *progress)
{
	struct hier *h = v->h;
	int i, r, err = 0;

	*progress = 0;
	for (i = 0; i < ps->nown; i++)
		pr_read(v->vm, h, &ps->own[i]);
	if (ps->nown > 0) {
		hier_wlock(h);
		for (i = 0; i < ps->nown; i++) {
			if (ps->own[i].err != 0 && err == 0)
				err = ps->own[i].err;
			if ((r = pr_install(v, &ps->own[i])) < 0 && err == 0)
				err = r;
			else if (r > 0)
				*progress += (uint64_t)r;
		}
		pthread_mutex_lock(&h->rqlock);
		for (i = 0; i < ps->nown; i++) {
			ps->own[i].done = true;
			LIST_REMOVE(&ps->own[i], link);
			pthread_cond_broadcast(&ps->own[i].cond);
		}
		pthread_mutex_unlock(&h->rqlock);
		hier_unlock(h);
		/* The requests live on this stack: let their waiters go. */
		pthread_mutex_lock(&h->rqlock);
		for (i = 0; i < ps->nown; i++) {
			while (ps->own[i].waiters != 0)
				pthread_cond_wait(&ps->own[i].cond, &h->rqlock);
			pthread_cond_destroy(&ps->own[i].cond);
		}
		pthread_mutex_unlock(&h->rqlock);
	}
	for (i = 0; i < ps->njoin; i++)
		if (pr_wait(h, ps->join[i]) == 0)
			(*progress)++;
	return err;
}

/* Does a page of v's [start, end) still read the store?  Locked. */
static bool
pr_holes(struct vmo *v, uint64_t start, uint64_t end)
{
	struct cow_node *leaf, *top;
	uint64_t base, pg, to;

	leaf = vmo_leaf(v, &base);
	for (pg = start; pg < end; pg += VM_PAGE_SIZE)
		if (cow_lookup_top(leaf, base + pg, &top, &to) == PLIST_EMPTY &&
		    top != NULL && pager_in_store(top, to))
			return true;
	return false;
}

#define PR_STALE_TRIES	64	/* passes in a row that only met stale requests */

/*
 * Page in every page of v's [off, off+len) that reads the store, through
 * page requests (above).  Entered with the hierarchy lock shared; drops
 * and retakes it.  A sweep goes through the range once, a few runs per
 * pass; with all, sweeps repeat until one finds nothing to page in (a page
 * may be evicted again behind the sweep: after ROOM_RETRIES-like rounds
 * of vm_room_retry that is -ENOSPC, as before); without it (prefetch) one
 * sweep is enough.  0 with the shared lock held again (and, with all, no
 * page of the range left in the store, or the store gone: callers look
 * again at what they see), or an error with no lock held: the store's,
 * -ENOSPC (no page even after reclaim), -ENOMEM, -EAGAIN (the store's
 * bytes changed under PR_STALE_TRIES passes in a row).
 */
int
pager_fault(struct vmo *v, uint64_t off, uint64_t len, bool all)
{
	struct hier *h = v->h;
	struct pr_pass ps;
	uint64_t start = vm_page_trunc(off), pos = start, end, progress;
	uint64_t want = len / VM_PAGE_SIZE + 2;
	unsigned idle = 0, sweeps_idle = 0, stale = 0;
	bool did = false;
	int err;

	end = off + len < off ? UINT64_MAX : off + len;
	/* Room first, with no lock: nothing may reclaim once a request of
	 * ours is published (see above). */
	hier_runlock(h);
	vm_reserve(v->vm, want > 1024 ? 1024 : want);
	hier_rlock(h);
	for (;;) {
		if (h->pops == NULL)
			return 0;
		pr_scan(v, pos, end, &ps);
		if (ps.nown == 0 && ps.njoin == 0 && !ps.nospc) {
			/* A sweep is over. */
			if (!did || !all || !pr_holes(v, start, end))
				return 0;
			hier_runlock(h);
			/* Pages went again behind it (reclaim): bounded. */
			if (!vm_room_retry(v->vm, len, false, &sweeps_idle))
				return -ENOSPC;
			hier_rlock(h);
			pos = start;
			did = false;
			continue;
		}
		did = true;
		hier_runlock(h);
		err = pr_serve(v, &ps, &progress);
		if (err != 0 && err != -ENOSPC)
			return err;
		if (ps.nospc || err == -ENOSPC) {
			if (!vm_room_retry(v->vm, len, progress > 0, &idle))
				return -ENOSPC;
		} else if (progress == 0 && ++stale > PR_STALE_TRIES) {
			return -EAGAIN;	/* the store keeps changing under us */
		}
		if (progress > 0)
			stale = 0;
		/* Go on where the scan stopped; a stale run is met again at
		 * the next sweep. */
		pos = ps.next;
		hier_rlock(h);
	}
}

struct keep_ctx {
	struct vm	*vm;
	struct cow_node	*top;
	uint64_t	end;
	struct vmo	*except;	/* a VMO whose view does not count */
	int		err;
};

/* Does VMO v see top's (absent) offset o, i.e. the store's bytes there? */
static bool
sees_store(struct vmo *v, struct cow_node *top, uint64_t o)
{
	struct cow_node *t;
	uint64_t to = 0;

	return cow_lookup_top(v->cow, o, &t, &to) == PLIST_EMPTY && t == top && to == o;
}

static int
keep_gap(void *ctx, uint64_t s, uint64_t e)
{
	struct keep_ctx *kc = ctx;
	uint64_t o, n;

	for (o = s; o < e && o < kc->end; o += VM_PAGE_SIZE) {
		n = cow_viewers(kc->top, o, false);
		if (n > 0 && kc->except != NULL && sees_store(kc->except, kc->top, o))
			n--;
		if (n > 0 && (kc->err = pager_page_in(kc->vm, kc->top, o)) != 0)
			return 1;
	}
	return 0;
}

/* A PLIST_STORE slot of a node of P's chain: page it in if someone (but
 * except) sees it.  Replacing the slot in place is allowed in a walk. */
static int
keep_store_cb(void *ctx, uint64_t o, plist_slot_t *slot)
{
	struct keep_ctx *kc = ctx;
	struct vm_page *p;
	uint64_t n;

	if (*slot != PLIST_STORE)
		return 0;
	n = cow_viewers(kc->top, o, false);
	if (n > 0 && kc->except != NULL && sees_store(kc->except, kc->top, o))
		n--;
	if (n == 0)
		return 0;
	if ((kc->err = pager_read_page(kc->vm, kc->top->h, o, &p)) != 0)
		return 1;
	*slot = plist_from_page(p);
	cow_page_settle(p, kc->top, o);
	atomic_fetch_add_explicit(&kc->vm->paged_in, 1, memory_order_relaxed);
	return 0;
}

/*
 * Page in whatever someone (but except) still sees in [s, e) that only the
 * store holds -- pnode's gaps and the PLIST_STORE slots of the nodes of
 * the pager VMO's chain (the only nodes that have them: pager.c, "Evicted
 * pages") -- before the store loses those bytes.  Exclusive.
 */
static int
pager_keep(struct hier *h, uint64_t s, uint64_t e, struct vmo *except)
{
	struct keep_ctx kc = { .vm = h->vm, .top = h->pnode, .end = h->pextent,
	    .except = except };
	struct cow_node *n;

	if (h->pops == NULL || h->pnode == NULL)
		return 0;
	if (s < h->pextent)
		plist_foreach_with_gaps(&h->pnode->pages, s, e, NULL, keep_gap, &kc);
	/* PLIST_STORE slots read the store wherever they are. */
	for (n = h->pvmo != NULL ? h->pvmo->cow : NULL; n != NULL && kc.err == 0;
	    n = n->parent) {
		if (n->pages.nstore == 0)
			continue;
		kc.top = n;
		plist_foreach(&n->pages, s, COW_END, keep_store_cb, &kc);
	}
	return kc.err;
}

/*
 * The store is going away: keep what is seen, then forget it.  dying: v
 * itself is being destroyed, so only others' views count, and the store
 * is forgotten even if keeping failed (the error is returned: clones lost
 * the pages the store alone held).  Exclusive lock.
 */
int
pager_detach_locked(struct vmo *v, bool dying)
{
	struct hier *h = v->h;
	int err;

	HIER_ASSERT_WLOCKED(h);
	if (h->pops == NULL || h->pvmo != v)
		return 0;
	err = pager_keep(h, 0, h->pextent, dying ? v : NULL);
	if (err != 0 && !dying)
		return err;
	pr_drain(h);	/* no page request may call ctx after this */
	pager_unlist(h);
	h->pops = NULL;
	h->pctx = NULL;
	h->pnode = NULL;
	h->pvmo = NULL;
	return err;
}

/*
 * Node gone is leaving the tree: merged into heir (NULL: freed).  If it
 * was pnode, heir takes over when it sits at offset 0 of it; else the
 * store has no node left to back.  Exclusive lock.
 */
void
pager_node_gone(struct cow_node *gone, struct cow_node *heir)
{
	struct hier *h = gone->h;

	if (h->pnode != gone)
		return;
	if (heir != NULL && heir->parent_off == 0 && heir->parent == NULL) {
		h->pnode = heir;
		return;
	}
	pr_drain(h);
	pager_unlist(h);
	h->pnode = NULL;
	h->pops = NULL;
	h->pvmo = NULL;
}

/*
 * Shrinking the pager VMO to size, in two steps around vmo_resize's own
 * work.  First, before anything is freed: page into pnode whatever others
 * (clones) see past the new end that only the store holds -- the one step
 * that can fail, and then nothing has changed.  Exclusive lock.
 */
int
pager_shrink_keep(struct vmo *v, uint64_t size)
{
	struct hier *h = v->h;

	if (h->pops == NULL || h->pvmo != v)
		return 0;
	return pager_keep(h, vm_page_roundup(size), h->pextent, v);
}

/*
 * Then, after the pages past the end are gone: cut the store.  A store
 * error leaves the memory side shrunk (the bytes were being thrown away)
 * and marks the VMO dirty so writeback sets the size again.  Exclusive.
 */
void
pager_shrink_cut(struct vmo *v, uint64_t size)
{
	struct hier *h = v->h;

	if (h->pops == NULL || h->pvmo != v)
		return;
	pager_req_invalidate(h, vm_page_trunc(size), UINT64_MAX);
	if (h->pops->resize(h->pctx, size) != 0)
		atomic_fetch_add(&h->pdirtied, 1);
	if (h->pextent > size)
		h->pextent = size;
}

int
vmo_create_paged(struct vm *vm, uint64_t size, const struct pager_ops *ops,
    void *ctx, struct vmo **out)
{
	struct vmo *v;
	int err;

	if (ops == NULL || ops->read == NULL || ops->write == NULL ||
	    ops->resize == NULL || ops->sync == NULL)
		return -EINVAL;
	if ((err = vmo_create(vm, size, VMO_RESIZABLE, &v)) != 0)
		return err;
	hier_wlock(v->h);
	v->kind = VMO_PAGER;
	v->h->pops = ops;
	v->h->pctx = ctx;
	v->h->pnode = v->cow;
	v->h->pvmo = v;
	v->h->pextent = size;
	pthread_mutex_lock(&vm->plock);
	LIST_INSERT_HEAD(&vm->paged, v->h, plink);
	v->h->plisted = true;
	atomic_fetch_add(&vm->npaged, 1);
	pthread_mutex_unlock(&vm->plock);
	hier_unlock(v->h);
	*out = v;
	return 0;
}

/* h no longer has a store: off the reclaim list.  Hierarchy lock held. */
void
pager_unlist(struct hier *h)
{
	struct vm *vm = h->vm;

	pthread_mutex_lock(&vm->plock);
	if (h->plisted) {
		LIST_REMOVE(h, plink);
		h->plisted = false;
		atomic_fetch_sub(&vm->npaged, 1);
	}
	pthread_mutex_unlock(&vm->plock);
}

/*
 * Evicted pages.  A page of a pager-backed hierarchy that the pager VMO P
 * itself sees, at the very offset it sits at in its node (P's chain of
 * nodes has no offsets), holds the store's bytes once it is clean; so it
 * can be dropped, and the slot says where the bytes are: in pnode below
 * the extent nothing (a gap reads the store), anywhere else PLIST_STORE --
 * P's own leaf after a clone, a hidden node between it and pnode, or
 * pnode past the extent (pager_in_store says why the extent cannot grow
 * while clones see pnode).
 * Such a slot is paged in, in place, by whoever reads it (cow_lookup_top
 * stops there), so a clone that shares it reads what P read.
 *
 * True snapshots still hold: the store's bytes at X change only when P's
 * own page at X is written to it (writeback, or eviction of a dirty page
 * below).  P sees that page, so any PLIST_STORE slot at X in P's chain is
 * above it -- and P got a page below such a slot only through
 * cow_get_writable, which pages the slot in first and copies.  Shrink and
 * detach page in what others see (pager_keep).  So a PLIST_STORE slot or
 * pnode gap someone sees always reads the bytes it read when created.
 * (Sharing pages into or out of a pager-backed hierarchy, which would
 * bypass cow_get_writable, is refused: vmo_share_range.)
 *
 * A page P does not see is a clone's, or old bytes only clones still see:
 * reclaim treats it as anonymous (compress or zero marker, never dropped).
 *
 * pager_evict: n's page p at off, unpinned, unshared, on the page queues,
 * checked by the caller (reclaim.c) under the exclusive lock.  A dirty
 * page is written to the store first (the store file's fsync comes with
 * the next writeback: the page still counts in pdirtied).  Returns 1
 * (evicted, p freed), 0 (not P's: the caller may compress it) or the
 * store's error (p kept, still dirty).
 */
int
pager_evict(struct vm *vm, struct cow_node *n, uint64_t off, struct vm_page *p)
{
	struct hier *h = n->h;
	struct cow_node *owner;
	uint64_t oo;
	int err;

	HIER_ASSERT_WLOCKED(h);
	if (h->pops == NULL || h->pvmo == NULL || h->pnode == NULL ||
	    off >= vm_page_roundup(h->pvmo->size) ||
	    cow_lookup(h->pvmo->cow, off, &owner, &oo) != plist_from_page(p) ||
	    owner != n || oo != off)
		return 0;
	if (p->flags & VM_PAGE_F_DIRTY) {
		pager_req_invalidate(h, off, off + VM_PAGE_SIZE);
		if ((err = h->pops->write(h->pctx, off, vm_page_addr(vm, p),
		    VM_PAGE_SIZE)) != 0)
			return err;
		vm_page_flag_clear(p, VM_PAGE_F_DIRTY);
		pq_mark_clean(vm->pq, p);
		atomic_fetch_add_explicit(&vm->written_back, 1, memory_order_relaxed);
		/* The extent may grow while only the VMO sees pnode. */
		if (n == h->pnode && n == h->pvmo->cow && h->pextent < off + VM_PAGE_SIZE)
			h->pextent = off + VM_PAGE_SIZE;
	}
	/* A gap reads the store only in pnode, below the extent. */
	if (n == h->pnode && off < h->pextent)
		plist_remove(&n->pages, off);
	else
		plist_set(&n->pages, off, PLIST_STORE, NULL);	/* in place */
	vm_page_free(vm, p);
	atomic_fetch_add_explicit(&vm->evicted, 1, memory_order_relaxed);
	return 1;
}

struct wb_ctx {
	struct vmo	*v;
	struct cow_node	*leaf, *level;
	uint64_t	disp;
	int		err;
};

static int
wb_page(void *ctx, uint64_t off, plist_slot_t slot)
{
	struct wb_ctx *wc = ctx;
	struct vm_page *p = plist_page(slot);
	struct cow_node *owner;
	uint64_t oo, voff = off - wc->disp;
	int err;

	if (p == NULL || !(p->flags & VM_PAGE_F_DIRTY))
		return 0;
	if (wc->level != wc->leaf &&
	    (cow_lookup(wc->leaf, voff, &owner, &oo) == PLIST_EMPTY ||
	    owner != wc->level || oo != off))
		return 0;	/* hidden below: not P's bytes any more */
	pager_req_invalidate(wc->v->h, voff, voff + VM_PAGE_SIZE);
	err = wc->v->h->pops->write(wc->v->h->pctx, voff,
	    vm_page_addr(wc->v->vm, p), VM_PAGE_SIZE);
	if (err != 0) {
		if (wc->err == 0)
			wc->err = err;
		return 0;
	}
	vm_page_flag_clear(p, VM_PAGE_F_DIRTY);
	if (pq_queued(p))
		pq_mark_clean(wc->v->vm->pq, p);
	return 0;
}

static int
wb_level(void *ctx, struct cow_node *x, uint64_t s, uint64_t e, uint64_t disp)
{
	struct wb_ctx *wc = ctx;

	wc->level = x;
	wc->disp = disp;
	plist_visit(&x->pages, s, e, wb_page, wc);
	return 0;
}

int
vmo_writeback(struct vmo *v)
{
	struct wb_ctx wc = { .v = v = vmo_target(v) };	/* a reference: its target */
	struct hier *h = v->h;
	int err;

	hier_wlock(h);
	if (v->kind != VMO_PAGER || h->pops == NULL || h->pvmo != v) {
		hier_unlock(h);
		return v->kind == VMO_PAGER ? 0 : -EINVAL;
	}
	atomic_store(&h->pdirtied, 0);
	wc.leaf = v->cow;
	cow_walk_up(v->cow, 0, vm_page_roundup(v->size), wb_level, &wc);
	err = wc.err;
	if (err == 0) {
		pager_req_invalidate(h, vm_page_trunc(v->size), UINT64_MAX);
		err = h->pops->resize(h->pctx, v->size);
	}
	if (err == 0) {
		/* pager_in_store: the extent grows only while nobody but
		 * the VMO sees pnode. */
		if (h->pnode == v->cow || h->pextent > v->size)
			h->pextent = v->size;
		err = h->pops->sync(h->pctx);
	}
	if (err != 0)	/* try again next time */
		atomic_fetch_add(&h->pdirtied, 1);
	hier_unlock(h);
	return err;
}

int
vmo_pager_detach(struct vmo *v)
{
	unsigned idle = 0;
	int err;

	v = vmo_target(v);	/* a reference: its target */
	/* What the clones still see of the store comes in as anonymous
	 * pages: room for them may be taken by concurrent writers (each
	 * pass keeps what it paged in, so a retry goes on from there). */
	for (;;) {
		hier_wlock(v->h);
		err = pager_detach_locked(v, false);
		hier_unlock(v->h);
		if (err != -ENOSPC ||
		    !vm_room_retry(v->vm, PAGER_RUN * VM_PAGE_SIZE, false, &idle))
			return err;
	}
}

uint64_t
vmo_dirty_pages(struct vmo *v)
{
	return atomic_load(&v->h->pdirtied);
}
