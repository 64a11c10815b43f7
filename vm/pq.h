/*
 * pq.h - page queues: which pages in objects to reclaim first, after
 * Zircon's PageQueues.  Design in pq.c and docs/reclaim.md.
 *
 * Every page in an object (state VM_PAGE_OBJECT) that may ever be
 * reclaimed is on exactly one queue.  A page's *base kind* says what it is
 * (anonymous, pager-backed clean, pager-backed dirty); pins and hints
 * override where it sits:
 *
 *   queue            holds                              reclaimed
 *   PQ_Q_DONTNEED    hinted dontneed (FIFO)             1st, in hint order
 *   PQ_Q_PAGER_CLEAN clean pager pages, ngen ages       2nd, oldest first
 *   PQ_Q_PAGER_DIRTY dirty pager pages (FIFO)           3rd, after writeback
 *   PQ_Q_ANON        anonymous pages, ngen ages         4th, oldest first
 *   PQ_Q_WIRED       pinned (pin_count > 0)             never
 *   PQ_Q_ALWAYSNEED  hinted alwaysneed                  never
 *
 * Precedence: pinned > alwaysneed > dontneed > base kind.  A page that is
 * both pinned and alwaysneed sits on WIRED and returns to ALWAYSNEED when
 * unpinned.
 *
 * The page-queue state lives in vm_page.queue (bits defined in pq.c) and
 * the page's `link` while it is queued; `link` is the free list's while the
 * page is free, so pq_remove must come before the page goes back to the
 * PMM or a per-CPU cache, and pq_insert after it is in its object.
 *
 * Locking.  One mutex per pq (the (Q) lock of page.h), a leaf lock: it is
 * taken under a hierarchy lock and nothing is taken under it.  Callers of
 * every function but pq_touch hold the owning node's hierarchy lock
 * exclusively (the page cannot change owner under them); pq_touch needs it
 * only shared and takes no lock at all (one atomic OR on vm_page.queue).
 *
 * Errors.  Nothing here allocates after pq_create, so only pq_create can
 * fail (NULL: vm_calloc failed or ngen out of range).  Misuse (inserting a
 * queued page, removing one that is not queued) is an assert.
 */
#ifndef VM_PQ_H
#define VM_PQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "page.h"

struct pq;

/* Base kinds a page is inserted with. */
enum pq_kind {
	PQ_ANON = 0,		/* anonymous: reclaim = compress (or zero marker) */
	PQ_PAGER_CLEAN = 1,	/* pager-backed, same as the store: drop it */
	PQ_PAGER_DIRTY = 2,	/* pager-backed, differs: write back, then drop */
};

/* Queues, as counted by pq_stats and returned by pq_page_queue. */
enum pq_queue {
	PQ_Q_NONE = 0,
	PQ_Q_ANON,
	PQ_Q_PAGER_CLEAN,
	PQ_Q_PAGER_DIRTY,
	PQ_Q_WIRED,
	PQ_Q_DONTNEED,
	PQ_Q_ALWAYSNEED,
	PQ_Q_COUNT
};

/* vm_page.queue bit set by pq_touch (the rest of the byte: pq.c). */
#define PQ_ACCESSED 0x80u

#define PQ_MAX_GEN 8		/* generations of the aged queues, at most */
#define PQ_DEFAULT_GEN 4

/*
 * Counters for user.vmofs.stats.  size[q]: pages on queue q now (exact).
 * gen_anon/gen_clean[g]: pages physically in generation g (0 = newest) of
 * the two aged queues; a page touched since its last scan is counted where
 * it sits, not as newest (see pq.c "Aging").
 */
struct pq_stats {
	uint64_t size[PQ_Q_COUNT];	/* pages per queue (PQ_Q_NONE: 0) */
	uint64_t gen_anon[PQ_MAX_GEN];	/* anonymous pages per generation */
	uint64_t gen_clean[PQ_MAX_GEN];	/* clean pager pages per generation */
	unsigned ngen;			/* generations in use */
	uint64_t inserts;		/* pq_insert calls */
	uint64_t removes;		/* pq_remove calls */
	uint64_t rotations;		/* pq_rotate calls (aging ticks) */
	uint64_t hints_dontneed;	/* pq_hint_dontneed calls */
	uint64_t hints_alwaysneed;	/* pq_hint_alwaysneed(.., true) calls */
	uint64_t scans;			/* pq_reclaim_candidates calls */
	uint64_t candidates;		/* pages returned by those scans */
	uint64_t second_chances;	/* touched pages a scan moved to newest */
	uint64_t refused;		/* pages a scan's accept() turned down */
};

/* A pq with ngen generations (1..PQ_MAX_GEN) per aged queue; NULL on
 * allocation failure (vm_calloc) or a bad ngen. */
struct pq *pq_create(unsigned ngen);
/* Destroy; asserts that no page is queued any more. */
void pq_destroy(struct pq *pq);

/*
 * Queue a page that has just been put in an object, as the newest of its
 * kind.  Precondition: the page is not queued (its `link` is free for us).
 * Pin count is not looked at: a page inserted pinned must be followed by
 * pq_set_pinned(pq, page, true).
 */
void pq_insert(struct pq *pq, struct vm_page *page, enum pq_kind kind);
/* Dequeue a page that is leaving its object (freed, or moved to a node
 * of another VM).  Clears every hint.  Precondition: queued. */
void pq_remove(struct pq *pq, struct vm_page *page);
/* pq_remove if the page is queued (checked under the lock); true if it was. */
bool pq_dequeue(struct pq *pq, struct vm_page *page);
/* True if the page is on some queue (pq lock not needed; a snapshot). */
bool pq_queued(const struct vm_page *page);

/*
 * An access (read, write, lookup that hands the page out).  Lock free: it
 * sets the page's accessed bit, once.  The next reclaim scan that reaches
 * the page moves it to the newest generation instead of returning it, and
 * a touched dontneed page loses its hint.  Safe on a page that is not
 * queued (the bit is cleared by pq_insert).
 */
void pq_touch_slow(struct vm_page *page);	/* the bit was clear */

static inline void
pq_touch(struct pq *pq, struct vm_page *page)
{
	(void)pq;
	/* Load first: a page touched again costs one shared cache-line read. */
	if (!(__atomic_load_n(&page->queue, __ATOMIC_RELAXED) & PQ_ACCESSED))
		pq_touch_slow(page);
}

/* Pin count went 0 -> >0 (true) or >0 -> 0 (false). */
void pq_set_pinned(struct pq *pq, struct vm_page *page, bool pinned);
/* Reclaim this page first.  Clears alwaysneed (SPEC 4: alwaysneed lasts
 * "until dontneed"). */
void pq_hint_dontneed(struct pq *pq, struct vm_page *page);
/* Never reclaim (true: also cancels a dontneed hint, the newer hint
 * wins), or back to the base kind's queue (false). */
void pq_hint_alwaysneed(struct pq *pq, struct vm_page *page, bool on);
/* Pager-backed page written (clean -> dirty) or written back (dirty ->
 * clean); or found to hold bytes the store does not (a clone's: -> anon). */
void pq_mark_dirty(struct pq *pq, struct vm_page *page);
void pq_mark_clean(struct pq *pq, struct vm_page *page);
void pq_mark_anon(struct pq *pq, struct vm_page *page);

/* Age: every aged queue's generations move one older (the two oldest
 * merge) and a fresh newest one begins.  O(ngen), timer driven. */
void pq_rotate(struct pq *pq);

/*
 * Up to max pages in reclaim order: dontneed (hint order), pager clean
 * (oldest first), pager dirty (oldest first), anonymous (oldest first).
 * Never a pinned or alwaysneed page.  Touched pages met on the way get a
 * second chance (moved to the newest generation, accessed bit cleared)
 * and may still be returned later in the same scan, as the newest.
 *
 * The pages stay queued: this is a list of suggestions made under the pq
 * lock, which is dropped on return.  The caller (reclaim) must, for each
 * page, take the owner's hierarchy lock and re-check that the page is
 * still in that object, unpinned and of the kind it expected
 * (pq_page_queue) before evicting it; then pq_remove it.  Descriptors live
 * as long as the PMM, so reading a stale pointer is safe.
 * Returns the number of pages written to out.
 */
size_t pq_reclaim_candidates(struct pq *pq, struct vm_page **out, size_t max);

/*
 * pq_reclaim_candidates with a filter: accept(ctx, page) is called under
 * the pq lock for each page about to be returned (it may read the page's
 * owner: while a page is queued its owner is a live node, because owners
 * change and pages leave their objects only under this lock -- see
 * pq_lock).  A refused page moves to the newest end of its queue when
 * the scan ends, and is looked at once per scan.  At most 4 * max + 64
 * pages are looked at, plus one lap of every scanned queue (touched pages
 * get their second chance on the way).
 */
typedef bool (*pq_accept_fn)(void *ctx, struct vm_page *page);
size_t pq_reclaim_scan(struct pq *pq, struct vm_page **out, size_t max,
		       pq_accept_fn accept, void *ctx);
/*
 * The zero-page scanner's walk: the oldest generation of the anonymous
 * queue from its head, each page looked at moved to that generation's
 * tail (so successive calls go round it; within one generation pages are
 * equally old), until max pages are picked, *budget pages are looked at
 * (*budget is decreased by the pages looked at), or the walk comes back to
 * its first page.  Touched pages get their
 * second chance as in a reclaim scan (to the newest generation, bit
 * cleared); pick(ctx, page) runs under the pq lock as pq_reclaim_scan's
 * accept.  Returns the number of pages written to out.
 */
size_t pq_zero_scan(struct pq *pq, struct vm_page **out, size_t max,
		    size_t *budget, pq_accept_fn pick, void *ctx);
/* Move a queued page to the newest end of the queue it is on (a page the
 * reclaimer looked at and left). */
void pq_requeue(struct pq *pq, struct vm_page *page);
/*
 * The pq lock, for callers that change a queued page's owner/offset (a
 * page moving between cow nodes) or check that a page is still queued in
 * a given object: the reclaimer reads owner under it.  A leaf lock.
 */
void pq_lock(struct pq *pq);
void pq_unlock(struct pq *pq);

/* The queue a page is on now (snapshot without the lock). */
enum pq_queue pq_page_queue(const struct vm_page *page);
/* Its base kind (meaningful only while queued). */
enum pq_kind pq_page_kind(const struct vm_page *page);

/* Counters.  O(ngen + pages in the aged queues): walks the generations
 * for the per-generation figures, under the lock. */
void pq_stats(struct pq *pq, struct pq_stats *out);
/* The counters and exact queue sizes only (gen_* left 0): O(1). */
void pq_counters(struct pq *pq, struct pq_stats *out);

/* Test only: the generation (0 = newest) of an aged page, or -1 if it is
 * not on an aged queue; a touched page reports 0 (where it will go). */
int pq_test_page_gen(struct pq *pq, struct vm_page *page);
/* Test only: check every invariant (list linkage, counts, bits); asserts. */
void pq_test_check(struct pq *pq);

#endif /* VM_PQ_H */
