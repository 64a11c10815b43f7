/*
 * pq.c - page queues, after Zircon's PageQueues.  Contract in pq.h; the
 * whole reclaim design (order, wiring into cow.c, clones) in
 * docs/reclaim.md.
 *
 * What it owns: the `link` of every queued page and its `queue` byte, and
 * nothing else.  It never frees, moves or looks into a page; reclaim.c
 * (the caller) does that under the owner's hierarchy lock.
 *
 * Layout.  Two aged queues, each an array of ngen generation lists, and
 * four plain FIFO lists.  Every list has its oldest page at the head and
 * its newest at the tail:
 *
 *   anon[0]  newest   head(old) p p p p tail(new)   <- pq_insert (anon)
 *   anon[1]           ...
 *   anon[ngen-1] oldest                             -> reclaimed first
 *   clean[0..ngen-1]  the same, for clean pager-backed pages
 *   dirty             FIFO in order of dirtying
 *   dontneed          FIFO in hint order
 *   wired, always     never scanned
 *
 * The queue byte of a page (vm_page.queue):
 *
 *   bit  7         6        5       4 3      2 1 0
 *        ACCESSED  ALWAYS   PINNED  kind     enum pq_queue (0 = not queued)
 *
 * Aging.  pq_touch is the hot path: it sets ACCESSED with one atomic OR
 * and takes no lock (after a plain load, so a hot page costs a shared read,
 * as Zircon's MarkAccessed).  pq_rotate shifts the generation lists one
 * older by list concatenation, O(ngen) whatever the page count: the two
 * oldest merge (older pages stay ahead), and anon[0]/clean[0] start empty.
 * Touched pages are not moved at rotation (that would be a walk of every
 * page under the lock); the reclaim scan moves them instead when it meets
 * them (a second chance, as a CLOCK): a touched page found in any
 * generation goes to the tail of the newest with ACCESSED cleared.  So the
 * scan only ever returns pages that were not touched since they were last
 * scanned or queued, oldest generation first.
 *
 * Why a page need not know its generation.  Rotation moves whole lists,
 * so a page's generation would go stale; it is not stored.  Unlinking from
 * a TAILQ needs the head only when the page is a list's tail, and then the
 * head is the one of the ngen whose tqh_last points at the page
 * (pq_aged_head: O(ngen)).  The per-queue sizes are exact; the
 * per-generation ones are counted by walking (pq_stats, a query).
 *
 * Locking.  pq->lock guards every list, every counter and every bit of
 * the queue byte but ACCESSED.  ACCESSED is set without the lock by
 * pq_touch, so every write of the byte, even under the lock, is an atomic
 * compare-and-swap that keeps or clears ACCESSED on purpose (pq_bits_set).
 * The lock is a leaf: no lock is taken under it, nothing is allocated.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "pq.h"

#define PQB_QMASK	0x07u	/* enum pq_queue */
#define PQB_KSHIFT	3
#define PQB_KMASK	0x18u	/* enum pq_kind << 3 */
#define PQB_PINNED	0x20u	/* pin_count > 0: on wired */
#define PQB_ALWAYS	0x40u	/* alwaysneed hint */
#define PQB_ACCESSED	PQ_ACCESSED

#define PQ_POISON ((void *)0xdeadbeefUL)

/*
 * Locking legend: (Q) pq->lock; (c) constant after pq_create.
 */
struct pq {
	pthread_mutex_t lock;
	unsigned ngen;				/* (c) */
	struct vm_page_list anon[PQ_MAX_GEN];	/* [0] newest (Q) */
	struct vm_page_list clean[PQ_MAX_GEN];	/* [0] newest (Q) */
	struct vm_page_list dirty;		/* (Q) */
	struct vm_page_list wired;		/* (Q) */
	struct vm_page_list dontneed;		/* (Q) */
	struct vm_page_list always;		/* (Q) */
	struct pq_stats st;			/* counters; sizes exact (Q) */
};

#define PQ_ASSERT_LOCKED(pq) \
	assert(pthread_mutex_trylock(&(pq)->lock) != 0 && "pq lock not held")

static inline uint8_t
pq_bits(const struct vm_page *p)
{
	return __atomic_load_n(&p->queue, __ATOMIC_RELAXED);
}

/* Replace every bit of the byte but ACCESSED with `bits`; clear ACCESSED
 * too when clear_accessed.  A CAS, so a concurrent pq_touch is not lost. */
static void
pq_bits_set(struct vm_page *p, uint8_t bits, bool clear_accessed)
{
	uint8_t old = pq_bits(p), nw;

	do {
		nw = (uint8_t)(bits & ~PQB_ACCESSED);
		if (!clear_accessed)
			nw |= old & PQB_ACCESSED;
	} while (!__atomic_compare_exchange_n(&p->queue, &old, nw, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

static inline enum pq_queue
pq_bits_queue(uint8_t b)
{
	return (enum pq_queue)(b & PQB_QMASK);
}

static inline enum pq_kind
pq_bits_kind(uint8_t b)
{
	return (enum pq_kind)((b & PQB_KMASK) >> PQB_KSHIFT);
}

/* The queue a page with these bits belongs on, ignoring dontneed. */
static enum pq_queue
pq_home(uint8_t b)
{
	if (b & PQB_PINNED)
		return PQ_Q_WIRED;
	if (b & PQB_ALWAYS)
		return PQ_Q_ALWAYSNEED;
	switch (pq_bits_kind(b)) {
	case PQ_ANON:		return PQ_Q_ANON;
	case PQ_PAGER_CLEAN:	return PQ_Q_PAGER_CLEAN;
	default:		return PQ_Q_PAGER_DIRTY;
	}
}

struct pq *
pq_create(unsigned ngen)
{
	struct pq *pq;
	unsigned g;

	if (ngen == 0 || ngen > PQ_MAX_GEN)
		return NULL;
	pq = vm_calloc(1, sizeof(*pq));
	if (pq == NULL)
		return NULL;
	pthread_mutex_init(&pq->lock, NULL);
	pq->ngen = ngen;
	for (g = 0; g < PQ_MAX_GEN; g++) {
		TAILQ_INIT(&pq->anon[g]);
		TAILQ_INIT(&pq->clean[g]);
	}
	TAILQ_INIT(&pq->dirty);
	TAILQ_INIT(&pq->wired);
	TAILQ_INIT(&pq->dontneed);
	TAILQ_INIT(&pq->always);
	pq->st.ngen = ngen;
	return pq;
}

void
pq_destroy(struct pq *pq)
{
	unsigned q;

	if (pq == NULL)
		return;
	for (q = 0; q < PQ_Q_COUNT; q++)
		if (pq->st.size[q] != 0) {
			fprintf(stderr, "%s: pq %p: queue %u holds %llu pages\n",
				__func__, (void *)pq, q,
				(unsigned long long)pq->st.size[q]);
			abort();
		}
	pthread_mutex_destroy(&pq->lock);
	free(pq);
}

/* The aged lists of queue q, or NULL if q is a plain list. */
static struct vm_page_list *
pq_aged(struct pq *pq, enum pq_queue q)
{
	return q == PQ_Q_ANON ? pq->anon : q == PQ_Q_PAGER_CLEAN ? pq->clean : NULL;
}

static struct vm_page_list *
pq_plain(struct pq *pq, enum pq_queue q)
{
	switch (q) {
	case PQ_Q_PAGER_DIRTY:	return &pq->dirty;
	case PQ_Q_WIRED:	return &pq->wired;
	case PQ_Q_DONTNEED:	return &pq->dontneed;
	case PQ_Q_ALWAYSNEED:	return &pq->always;
	default:		return NULL;
	}
}

/*
 * The head of the list page p is on (queue q).  For an aged queue the head
 * matters to TAILQ_REMOVE only when p is a tail; then it is the generation
 * whose tqh_last points at p.  Otherwise any generation's head will do.
 */
static struct vm_page_list *
pq_head_of(struct pq *pq, struct vm_page *p, enum pq_queue q)
{
	struct vm_page_list *gens = pq_aged(pq, q);
	unsigned g;

	if (gens == NULL)
		return pq_plain(pq, q);
	if (TAILQ_NEXT(p, link) != NULL)
		return &gens[0];
	for (g = 0; g < pq->ngen; g++)
		if (gens[g].tqh_last == &TAILQ_NEXT(p, link))
			return &gens[g];
	fprintf(stderr, "%s: page %p is a tail of no generation\n", __func__, (void *)p);
	abort();
}

/* Take p off its list (queue bits unchanged).  Caller holds the lock. */
static void
pq_unlink(struct pq *pq, struct vm_page *p)
{
	enum pq_queue q = pq_bits_queue(pq_bits(p));

	PQ_ASSERT_LOCKED(pq);
	assert(q != PQ_Q_NONE && "page not queued");
	TAILQ_REMOVE(pq_head_of(pq, p, q), p, link);
	pq->st.size[q]--;
}

/* Put p at the newest end of queue q and record q in its byte, with the
 * other bits `b`.  Caller holds the lock; p is unlinked. */
static void
pq_link(struct pq *pq, struct vm_page *p, enum pq_queue q, uint8_t b, bool clear_accessed)
{
	struct vm_page_list *gens = pq_aged(pq, q);

	PQ_ASSERT_LOCKED(pq);
	TAILQ_INSERT_TAIL(gens != NULL ? &gens[0] : pq_plain(pq, q), p, link);
	pq->st.size[q]++;
	pq_bits_set(p, (uint8_t)((b & ~PQB_QMASK) | q), clear_accessed);
}

/* Move p to queue q (to its newest end, even if already on q) with bits b. */
static void
pq_move(struct pq *pq, struct vm_page *p, enum pq_queue q, uint8_t b, bool clear_accessed)
{
	pq_unlink(pq, p);
	pq_link(pq, p, q, b, clear_accessed);
}

/* Re-home p after its bits changed to b: where pq_home says, except that a
 * dontneed page whose home is its base kind stays on dontneed.  A page
 * already on its queue keeps its place. */
static void
pq_rehome(struct pq *pq, struct vm_page *p, uint8_t b)
{
	enum pq_queue cur = pq_bits_queue(b), home = pq_home(b);

	if (cur == PQ_Q_DONTNEED && home != PQ_Q_WIRED && home != PQ_Q_ALWAYSNEED)
		home = PQ_Q_DONTNEED;
	if (home == cur)
		pq_bits_set(p, b, false);
	else
		pq_move(pq, p, home, b, false);
}

void
pq_insert(struct pq *pq, struct vm_page *p, enum pq_kind kind)
{
	uint8_t b = (uint8_t)(kind << PQB_KSHIFT);

	assert(kind == PQ_ANON || kind == PQ_PAGER_CLEAN || kind == PQ_PAGER_DIRTY);
	pthread_mutex_lock(&pq->lock);
	assert(pq_bits_queue(pq_bits(p)) == PQ_Q_NONE && "page already queued");
	pq_link(pq, p, pq_home(b), b, true);
	pq->st.inserts++;
	pthread_mutex_unlock(&pq->lock);
}

/* Take p off the queues for good.  Caller holds the lock; p is queued. */
static void
pq_drop(struct pq *pq, struct vm_page *p)
{
	pq_unlink(pq, p);
	pq_bits_set(p, 0, true);
	p->link.tqe_next = PQ_POISON;
	p->link.tqe_prev = PQ_POISON;
	pq->st.removes++;
}

void
pq_remove(struct pq *pq, struct vm_page *p)
{
	pthread_mutex_lock(&pq->lock);
	pq_drop(pq, p);
	pthread_mutex_unlock(&pq->lock);
}

bool
pq_dequeue(struct pq *pq, struct vm_page *p)
{
	bool was;

	pthread_mutex_lock(&pq->lock);
	was = pq_bits_queue(pq_bits(p)) != PQ_Q_NONE;
	if (was)
		pq_drop(pq, p);
	pthread_mutex_unlock(&pq->lock);
	return was;
}

bool
pq_queued(const struct vm_page *p)
{
	return pq_bits_queue(pq_bits(p)) != PQ_Q_NONE;
}

enum pq_queue
pq_page_queue(const struct vm_page *p)
{
	return pq_bits_queue(pq_bits(p));
}

enum pq_kind
pq_page_kind(const struct vm_page *p)
{
	return pq_bits_kind(pq_bits(p));
}

/* Out of line: the inline pq_touch found the bit clear. */
void
pq_touch_slow(struct vm_page *p)
{
	__atomic_fetch_or(&p->queue, (uint8_t)PQB_ACCESSED, __ATOMIC_RELAXED);
}

void
pq_set_pinned(struct pq *pq, struct vm_page *p, bool pinned)
{
	uint8_t b;

	pthread_mutex_lock(&pq->lock);
	b = pq_bits(p);
	assert(pq_bits_queue(b) != PQ_Q_NONE && "page not queued");
	if (pinned) {
		/* A pinned page is in use: its dontneed hint goes (it returns
		 * to its base queue when unpinned), alwaysneed stays. */
		pq_move(pq, p, PQ_Q_WIRED, (uint8_t)(b | PQB_PINNED), false);
	} else if (b & PQB_PINNED) {
		b &= (uint8_t)~PQB_PINNED;
		pq_move(pq, p, pq_home(b), b, false);
	}
	pthread_mutex_unlock(&pq->lock);
}

void
pq_hint_dontneed(struct pq *pq, struct vm_page *p)
{
	uint8_t b;

	pthread_mutex_lock(&pq->lock);
	b = (uint8_t)(pq_bits(p) & ~PQB_ALWAYS);
	assert(pq_bits_queue(b) != PQ_Q_NONE && "page not queued");
	pq->st.hints_dontneed++;
	if (b & PQB_PINNED)
		pq_bits_set(p, b, false);		/* only alwaysneed goes */
	else if (pq_bits_queue(b) != PQ_Q_DONTNEED)
		/* A hint is news: an access before it does not void it. */
		pq_move(pq, p, PQ_Q_DONTNEED, b, true);
	else
		pq_bits_set(p, b, true);
	pthread_mutex_unlock(&pq->lock);
}

void
pq_hint_alwaysneed(struct pq *pq, struct vm_page *p, bool on)
{
	uint8_t b;

	pthread_mutex_lock(&pq->lock);
	b = pq_bits(p);
	assert(pq_bits_queue(b) != PQ_Q_NONE && "page not queued");
	if (on) {
		pq->st.hints_alwaysneed++;
		b |= PQB_ALWAYS;
		pq_rehome(pq, p, b);
	} else if (b & PQB_ALWAYS) {
		b &= (uint8_t)~PQB_ALWAYS;
		pq_rehome(pq, p, b);
	}
	pthread_mutex_unlock(&pq->lock);
}

static void
pq_set_kind(struct pq *pq, struct vm_page *p, enum pq_kind kind)
{
	uint8_t b;

	pthread_mutex_lock(&pq->lock);
	b = pq_bits(p);
	assert(pq_bits_queue(b) != PQ_Q_NONE && "page not queued");
	if (pq_bits_kind(b) != kind) {
		b = (uint8_t)((b & ~PQB_KMASK) | (kind << PQB_KSHIFT));
		pq_rehome(pq, p, b);
	}
	pthread_mutex_unlock(&pq->lock);
}

void
pq_mark_dirty(struct pq *pq, struct vm_page *p)
{
	pq_set_kind(pq, p, PQ_PAGER_DIRTY);
}

void
pq_mark_clean(struct pq *pq, struct vm_page *p)
{
	pq_set_kind(pq, p, PQ_PAGER_CLEAN);
}

void
pq_mark_anon(struct pq *pq, struct vm_page *p)
{
	pq_set_kind(pq, p, PQ_ANON);
}

/* Shift one aged queue's generations one older: the two oldest merge. */
static void
pq_age(struct vm_page_list *gens, unsigned ngen)
{
	unsigned g;

	if (ngen < 2)
		return;
	TAILQ_CONCAT(&gens[ngen - 1], &gens[ngen - 2], link);
	for (g = ngen - 2; g > 0; g--)
		TAILQ_CONCAT(&gens[g], &gens[g - 1], link);	/* gens[g] empty */
}

void
pq_rotate(struct pq *pq)
{
	pthread_mutex_lock(&pq->lock);
	pq_age(pq->anon, pq->ngen);
	pq_age(pq->clean, pq->ngen);
	pq->st.rotations++;
	pthread_mutex_unlock(&pq->lock);
}

/* Clear p's ACCESSED bit if set; true if it was. */
static bool
pq_take_accessed(struct vm_page *p)
{
	uint8_t b = pq_bits(p);

	if (!(b & PQB_ACCESSED))
		return false;
	pq_bits_set(p, b, true);
	return true;
}

/*
 * Scan one list from its head for untouched pages into out[*n..max).
 * A touched page gets its second chance: to the newest end of its home
 * queue (for a dontneed page, its base queue: an access cancels the hint).
 * A page the caller's accept() refuses (it cannot be reclaimed now: not
 * compressible, shared, its hierarchy going away) is set aside on
 * *refused, off every list, and goes to the newest end of the queue it was
 * on when the whole scan ends (pq_reclaim_scan), so that this scan does
 * not meet it again and the next looks at others first.  *budget bounds
 * the pages looked at (a touched page comes round again).
 *
 * Refused pages used to go straight to the tail of their queue, often the
 * very list being walked: the walk met them again and again, refused each
 * time, until the budget ran out.  1024 dontneed pages that cannot go (not
 * zero, no compress) ate every scan's budget and hid the dirty pages after
 * them: a backed write failed with ENOSPC (issue #16, bug 2).
 */
static void
pq_scan_list(struct pq *pq, struct vm_page_list *l, struct vm_page **out,
	     size_t *n, size_t max, pq_accept_fn accept, void *ctx, size_t *budget,
	     struct vm_page_list *refused)
{
	struct vm_page *p, *next;
	uint8_t b;

	for (p = TAILQ_FIRST(l); p != NULL && *n < max && *budget > 0; p = next) {
		next = TAILQ_NEXT(p, link);
		(*budget)--;
		if (!pq_take_accessed(p)) {
			if (accept == NULL || accept(ctx, p)) {
				out[(*n)++] = p;
				continue;
			}
			pq_unlink(pq, p);	/* queue bits kept: see pq_reclaim_scan */
			TAILQ_INSERT_TAIL(refused, p, link);
			pq->st.refused++;
			continue;
		}
		b = pq_bits(p);
		pq_move(pq, p, pq_home(b), b, false);
		pq->st.second_chances++;
		/* Moved to the tail of this very list, and it was the last:
		 * the walk would end here without the lap every other
		 * touched page gets; look at it once more, untouched now. */
		if (next == NULL && TAILQ_LAST(l, vm_page_list) == p)
			next = p;
	}
}

size_t
pq_reclaim_scan(struct pq *pq, struct vm_page **out, size_t max,
		pq_accept_fn accept, void *ctx)
{
	struct vm_page_list refused = TAILQ_HEAD_INITIALIZER(refused);
	size_t n = 0, budget = 4 * max + 64;
	struct vm_page *p;
	int g;

	pthread_mutex_lock(&pq->lock);
	/* A touched page costs one look and comes round again untouched (a
	 * CLOCK): allow a whole lap of every scanned queue on top (pages
	 * being written are all touched: the dirty FIFO needs its lap too). */
	budget += pq->st.size[PQ_Q_ANON] + pq->st.size[PQ_Q_PAGER_CLEAN] +
	    pq->st.size[PQ_Q_PAGER_DIRTY] + pq->st.size[PQ_Q_DONTNEED];
	pq->st.scans++;
	/* 1. dontneed, in hint order */
	pq_scan_list(pq, &pq->dontneed, out, &n, max, accept, ctx, &budget, &refused);
	/* 2. clean pager-backed, oldest generation first */
	for (g = (int)pq->ngen - 1; g >= 0; g--)
		pq_scan_list(pq, &pq->clean[g], out, &n, max, accept, ctx, &budget,
		    &refused);
	/* 3. dirty pager-backed, oldest first: the caller writes back */
	pq_scan_list(pq, &pq->dirty, out, &n, max, accept, ctx, &budget, &refused);
	/* 4. anonymous, oldest generation first: compress or mark zero */
	for (g = (int)pq->ngen - 1; g >= 0; g--)
		pq_scan_list(pq, &pq->anon[g], out, &n, max, accept, ctx, &budget,
		    &refused);
	/* The refused ones back, in the order met, at the newest end of the
	 * queue each was on (its queue bits never changed). */
	while ((p = TAILQ_FIRST(&refused)) != NULL) {
		uint8_t b = pq_bits(p);

		TAILQ_REMOVE(&refused, p, link);
		pq_link(pq, p, pq_bits_queue(b), b, false);
	}
	pq->st.candidates += n;
	pthread_mutex_unlock(&pq->lock);
	return n;
}

size_t
pq_reclaim_candidates(struct pq *pq, struct vm_page **out, size_t max)
{
	return pq_reclaim_scan(pq, out, max, NULL, NULL);
}

size_t
pq_zero_scan(struct pq *pq, struct vm_page **out, size_t max, size_t *budgetp,
	     pq_accept_fn pick, void *ctx)
{
	size_t budget = *budgetp;
	struct vm_page_list *l;
	struct vm_page *p, *first = NULL;
	size_t n = 0;

	pthread_mutex_lock(&pq->lock);
	l = &pq->anon[pq->ngen - 1];
	while (n < max && budget > 0 && (p = TAILQ_FIRST(l)) != NULL && p != first) {
		budget--;
		if (pq_take_accessed(p)) {
			/* Touched since it was queued or last looked at: a
			 * second chance, as a reclaim scan gives. */
			uint8_t b = pq_bits(p);

			pq_move(pq, p, pq_home(b), b, false);
			pq->st.second_chances++;
			continue;
		}
		if (first == NULL)
			first = p;
		/* Same list, same counts: no pq_move bookkeeping needed. */
		TAILQ_REMOVE(l, p, link);
		TAILQ_INSERT_TAIL(l, p, link);
		if (pick(ctx, p))
			out[n++] = p;
	}
	pthread_mutex_unlock(&pq->lock);
	*budgetp = budget;
	return n;
}

void
pq_requeue(struct pq *pq, struct vm_page *p)
{
	uint8_t b;

	pthread_mutex_lock(&pq->lock);
	b = pq_bits(p);
	if (pq_bits_queue(b) != PQ_Q_NONE)
		pq_move(pq, p, pq_bits_queue(b), b, false);
	pthread_mutex_unlock(&pq->lock);
}

void
pq_lock(struct pq *pq)
{
	pthread_mutex_lock(&pq->lock);
}

void
pq_unlock(struct pq *pq)
{
	pthread_mutex_unlock(&pq->lock);
}

static uint64_t
pq_list_len(const struct vm_page_list *l)
{
	const struct vm_page *p;
	uint64_t n = 0;

	TAILQ_FOREACH(p, l, link)
		n++;
	return n;
}

void
pq_counters(struct pq *pq, struct pq_stats *out)
{
	pthread_mutex_lock(&pq->lock);
	*out = pq->st;
	pthread_mutex_unlock(&pq->lock);
}

void
pq_stats(struct pq *pq, struct pq_stats *out)
{
	unsigned g;

	pthread_mutex_lock(&pq->lock);
	*out = pq->st;
	for (g = 0; g < pq->ngen; g++) {
		out->gen_anon[g] = pq_list_len(&pq->anon[g]);
		out->gen_clean[g] = pq_list_len(&pq->clean[g]);
	}
	pthread_mutex_unlock(&pq->lock);
}

int
pq_test_page_gen(struct pq *pq, struct vm_page *p)
{
	struct vm_page_list *gens;
	struct vm_page *x;
	uint8_t b;
	int g, r = -1;

	pthread_mutex_lock(&pq->lock);
	b = pq_bits(p);
	gens = pq_aged(pq, pq_bits_queue(b));
	if (gens != NULL && (b & PQB_ACCESSED))
		r = 0;
	for (g = 0; gens != NULL && r < 0 && g < (int)pq->ngen; g++)
		TAILQ_FOREACH(x, &gens[g], link)
			if (x == p)
				r = g;
	pthread_mutex_unlock(&pq->lock);
	return r;
}

/* Check one list: linkage, and that every page's byte names queue q. */
static uint64_t
pq_check_list(struct vm_page_list *l, enum pq_queue q)
{
	struct vm_page *p, **prev = &TAILQ_FIRST(l);
	uint64_t n = 0;
	uint8_t b;

	TAILQ_FOREACH(p, l, link) {
		b = pq_bits(p);
		assert(p->link.tqe_prev == prev);
		assert(pq_bits_queue(b) == q);
		assert(pq_bits_kind(b) <= PQ_PAGER_DIRTY);
		assert((q == PQ_Q_WIRED) == !!(b & PQB_PINNED));
		assert(q != PQ_Q_ALWAYSNEED || (b & PQB_ALWAYS));
		assert(q == PQ_Q_WIRED || q == PQ_Q_ALWAYSNEED || !(b & PQB_ALWAYS));
		assert(q != PQ_Q_PAGER_CLEAN || pq_bits_kind(b) == PQ_PAGER_CLEAN);
		assert(q != PQ_Q_PAGER_DIRTY || pq_bits_kind(b) == PQ_PAGER_DIRTY);
		assert(q != PQ_Q_ANON || pq_bits_kind(b) == PQ_ANON);
		prev = &TAILQ_NEXT(p, link);
		n++;
	}
	assert(l->tqh_last == prev);
	return n;
}

void
pq_test_check(struct pq *pq)
{
	uint64_t na = 0, nc = 0;
	unsigned g;

	pthread_mutex_lock(&pq->lock);
	for (g = 0; g < PQ_MAX_GEN; g++) {
		assert(g < pq->ngen || (TAILQ_EMPTY(&pq->anon[g]) && TAILQ_EMPTY(&pq->clean[g])));
		na += pq_check_list(&pq->anon[g], PQ_Q_ANON);
		nc += pq_check_list(&pq->clean[g], PQ_Q_PAGER_CLEAN);
	}
	assert(na == pq->st.size[PQ_Q_ANON]);
	assert(nc == pq->st.size[PQ_Q_PAGER_CLEAN]);
	assert(pq_check_list(&pq->dirty, PQ_Q_PAGER_DIRTY) == pq->st.size[PQ_Q_PAGER_DIRTY]);
	assert(pq_check_list(&pq->wired, PQ_Q_WIRED) == pq->st.size[PQ_Q_WIRED]);
	assert(pq_check_list(&pq->dontneed, PQ_Q_DONTNEED) == pq->st.size[PQ_Q_DONTNEED]);
	assert(pq_check_list(&pq->always, PQ_Q_ALWAYSNEED) == pq->st.size[PQ_Q_ALWAYSNEED]);
	assert(pq->st.size[PQ_Q_NONE] == 0);
	pthread_mutex_unlock(&pq->lock);
}
