/*
 * vm_internal.h - struct bodies shared by vm.c, cow.c and vmo.c, and by
 * the tests' introspection (vm_testing.h).  Not for fs/.
 *
 * Objects and their locks
 * -----------------------
 *   struct vm      one per mount: the PMM, the per-CPU cache, counters.
 *   struct hier    one per clone hierarchy: the rwlock that guards every
 *                  cow node, every page list and every VMO field tagged (H)
 *                  in it.  Readers (read, attribution, seek) share it;
 *                  anything that changes a page list or the tree takes it
 *                  exclusively.  Different hierarchies never share a lock,
 *                  so they run in parallel.  Lock order: hier -> pcache ->
 *                  pmm; no code holds two hierarchy locks (but
 *                  vmo_share_range, in address order).  hier -> rqlock:
 *                  the page-request mutex is a leaf (pager.c).
 *   struct cow_node  a node of a clone tree (Zircon VmCowPages): visible
 *                  (owned by exactly one non-slice VMO) or hidden (a frozen
 *                  snapshot shared by its children).
 *   struct vmo     the handle: anonymous root, clone, slice, or reference
 *                  (a second handle onto another VMO: every call made on
 *                  it is made on its target, vmo_target).
 *
 * Tags: (c) constant after creation; (H) hierarchy lock, shared to read,
 * exclusive to write; (A) atomic.
 */
#ifndef VM_INTERNAL_H
#define VM_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <bsd/sys/queue.h>

#include "page.h"
#include "plist.h"
#include "vmo.h"

struct pmm;
struct pcache;
struct pq;
struct zstore;

struct vm {
	struct pmm	*pmm;		/* (c) */
	struct pcache	*pc;		/* (c) NULL when cfg.no_pcache */
	void		*zero_region;	/* (c) VM_ZERO_REGION read-only zero bytes */
	_Atomic uint64_t next_id;	/* (A) next VMO id */
	_Atomic uint64_t used_pages;	/* (A) pages in cow nodes */
	_Atomic uint64_t nvmos;		/* (A) live VMOs */
	_Atomic uint64_t nhidden;	/* (A) live hidden nodes */
	_Atomic uint64_t cow_copies;	/* (A) shared page copied on write */
	_Atomic uint64_t cow_moves;	/* (A) unshared page moved on write */
	_Atomic uint64_t merges;	/* (A) hidden node merged into child */
	_Atomic uint64_t zero_fills;	/* (A) zero pages allocated */
	pthread_mutex_t	plock;		/* guards paged */
	LIST_HEAD(, hier) paged;	/* (plock) pager-backed hierarchies */
	_Atomic uint64_t npaged;	/* (A) length of paged */
	_Atomic uint64_t evicted;	/* (A) clean store pages dropped */
	_Atomic uint64_t written_back;	/* (A) pages written to a store */
	_Atomic uint64_t paged_in;	/* (A) pages read from a store */
	_Atomic uint64_t preq_reads;	/* (A) page requests that read the store */
	_Atomic uint64_t preq_waits;	/* (A) readers that waited on another's request */
	_Atomic uint64_t preq_stale;	/* (A) requests whose bytes were thrown away */
	/* Reclaim of anonymous pages (reclaim.c, docs/reclaim.md). */
	struct pq	*pq;		/* (c) page queues of anonymous pages */
	struct zstore	*zs;		/* (c) compressed store, NULL without compress */
	pthread_mutex_t	zlock;		/* guards ballast, nballast */
	struct vm_page_list ballast;	/* (zlock) arena pages standing for zs's bytes */
	uint64_t	nballast;	/* (zlock) */
	uint64_t	low_pages;	/* (c) background reclaim below this many free */
	uint64_t	high_pages;	/* (c) ... until this many are free */
	_Atomic uint64_t reclaimed;	/* (A) pages freed by reclaim, all kinds */
	_Atomic uint64_t compressed;	/* (A) pages put in the compressed store */
	_Atomic uint64_t decompressed;	/* (A) pages brought back from it */
	_Atomic uint64_t zero_deduped;	/* (A) all-zero pages swapped for markers */
	_Atomic uint64_t zero_scanned;	/* (A) pages the zero scanner looked at */
	_Atomic uint64_t incompressible;/* (A) pages left resident: did not fit */
	/* Discardable VMOs (discard.c). */
	pthread_mutex_t	dlock;		/* guards dq, ndq, dseq; leaf: under hier */
	TAILQ_HEAD(, hier) dq;		/* (dlock) unlocked discardables, oldest first */
	uint64_t	ndq;		/* (dlock) length of dq */
	uint64_t	dseq;		/* (dlock) unlock sequence: dq is sorted by it */
	_Atomic uint64_t discarded_vmos;/* (A) discardable VMOs dropped whole */
	_Atomic uint64_t discarded_pages;/* (A) pages those discards freed */
	_Atomic uint64_t ncontig;	/* (A) live contiguous VMOs */
	_Atomic uint64_t loan_migrations;/* (A) borrowed pages moved for a lender */
	_Atomic uint64_t reclaim_direct;/* (A) vm_reserve calls that reclaimed */
	_Atomic uint64_t reclaim_bg;	/* (A) background reclaim passes */
	/* The reclaimer thread (vm_reclaimer_start). */
	pthread_t	rthread;
	_Atomic bool	rthread_on;	/* set once by vm_reclaimer_start */
	pthread_mutex_t	rlock;		/* guards rstop, rkick */
	pthread_cond_t	rcond;
	bool		rstop, rkick;	/* (rlock) */
	_Atomic bool	rkicked;	/* (A) a wakeup is pending: no repeats */
};

/* Past every offset any node uses: offsets stay below 2 * VMO_MAX_SIZE. */
#define COW_END		(VMO_MAX_SIZE << 1)

#define VM_ZERO_REGION	(1u << 20)	/* bytes of zeros for read_iov holes */

struct pager_ops;
struct pager_req;

struct hier {
	pthread_rwlock_t lock;
	struct vm	*vm;		/* (c) */
	_Atomic uint64_t refs;		/* (A) VMOs in this hierarchy */
	bool		wlocked;	/* (H) for assertions: held exclusively */
	/* Pager-backed hierarchies (pager.c); pops NULL otherwise. */
	const struct pager_ops *pops;	/* (H) the store, NULL once detached */
	void		*pctx;		/* (H) */
	struct cow_node	*pnode;		/* (H) topmost node: absent = in store */
	struct vmo	*pvmo;		/* (H) the pager-backed VMO */
	uint64_t	pextent;	/* (H) store bytes that may hold data */
	_Atomic uint64_t pdirtied;	/* (A) pages dirtied since writeback */
	LIST_ENTRY(hier) plink;		/* (vm->plock) in vm->paged */
	bool		plisted;	/* (vm->plock) */
	/*
	 * Page requests in flight (pager.c, "Page requests"): reads of the
	 * store done with the hierarchy lock dropped.  rqlock is a leaf
	 * (hier -> rqlock; nothing is taken under it).
	 */
	pthread_mutex_t	rqlock;
	pthread_cond_t	rqcond;		/* rq_calls fell to 0 */
	LIST_HEAD(, pager_req) preqs;	/* (rqlock) published, not done */
	uint64_t	rq_calls;	/* (rqlock) requests that may still call the store */
	/*
	 * A discardable VMO's hierarchy (discard.c): it is the only VMO
	 * in it (no clones, no slices).  dstate changes under H exclusive;
	 * dq membership also takes vm->dlock (hier -> dlock).
	 */
	struct vmo	*dvmo;		/* (H) the VMO; NULL if not discardable or gone */
	uint8_t		dstate;		/* (H) enum discard_state */
	uint64_t	dlocks;		/* (H) lock count */
	bool		dlast;		/* (H) the last lock's report: discarded */
	TAILQ_ENTRY(hier) dlink;	/* (vm->dlock) in vm->dq */
	uint64_t	dseq;		/* (vm->dlock) its unlock's place in dq */
	bool		dlisted;	/* (vm->dlock) on vm->dq */
	/*
	 * A contiguous VMO's hierarchy (contig.c): the VMO and its slices.
	 * Its page at offset i * P is always cbase + i, in its slot or lent.
	 */
	struct vm_page	*cbase;		/* (c) first page of the run; NULL if not */
	uint64_t	cpages;		/* (c) pages in the run */
};

/* Zircon's DiscardableState; a hierarchy that is not discardable is NONE. */
enum discard_state {
	DISCARD_NONE = 0,
	DISCARD_UNSET,		/* created, never unlocked: not a candidate */
	DISCARD_LOCKED,		/* dlocks > 0 (Zircon kUnreclaimable) */
	DISCARD_UNLOCKED,	/* dlocks == 0, on vm->dq (kReclaimable) */
	DISCARD_DISCARDED,	/* dropped; off dq until locked again */
};

LIST_HEAD(cow_list, cow_node);

struct cow_node {
	struct hier	*h;		/* (c) */
	struct cow_node	*parent;	/* (H) hidden parent (visible: we are its
					 * at-least-on-write clone), NULL: root */
	LIST_ENTRY(cow_node) sibling;	/* (H) in parent->children */
	struct cow_list	children;	/* (H) >= 1 if hidden; a visible node's
					 * are at-least-on-write clones */
	uint32_t	nchildren;	/* (H) */
	bool		hidden;		/* (H) */
	uint64_t	parent_off;	/* (H) our offset 0 is parent's parent_off */
	uint64_t	parent_limit;	/* (H) our offsets < this see the parent */
	struct plist	pages;		/* (H) */
	struct vmo	*vmo;		/* (H) owning VMO when visible, else NULL */
	uint64_t	npinned;	/* (H) pages with pin_count > 0 in pages */
};

LIST_HEAD(vmo_list, vmo);

struct vmo {
	struct vm	*vm;		/* (c) */
	struct hier	*h;		/* (c) */
	_Atomic uint64_t refs;		/* (A) */
	uint64_t	id;		/* (c) */
	uint64_t	parent_id;	/* (c) VMO this was made from, 0 none */
	enum vmo_kind	kind;		/* (c) */
	unsigned	flags;		/* (c) VMO_RESIZABLE */
	enum vmo_clone_kind ckind;	/* (c) clones: how it was made */
	uint64_t	size;		/* (H) content size, bytes */
	struct cow_node	*cow;		/* (H) leaf node; NULL for slices */
	struct vmo	*root;		/* (c) slices: the VMO whose pages it shows;
					 * references: the target (ref held) */
	uint64_t	slice_off;	/* (c) slices: window offset in root */
	struct vmo_list	slices;		/* (H) slices whose root is this VMO */
	LIST_ENTRY(vmo)	slice_link;	/* (H) in root->slices */
	struct vmo	*origin;	/* (H) weak: the VMO this was made from */
	struct vmo_list	made;		/* (H) live VMOs whose origin is this */
	LIST_ENTRY(vmo)	made_link;	/* (H) in origin->made */
	uint64_t	nmade;		/* (H) length of made */
};

/*
 * The VMO a call on v acts on: v itself, or a reference's target (never a
 * reference: a reference of a reference targets the same VMO).  The public
 * functions of vmo.c resolve their handle with it on entry, so that the
 * code below them never sees a reference.  Constant: no lock needed.
 */
static inline struct vmo *
vmo_target(struct vmo *v)
{
	return v->kind == VMO_REF ? v->root : v;
}

/* The leaf node holding v's bytes and the offset of v's byte 0 there (a
 * slice's bytes are its root's, a reference's its target's).  Locked, or
 * a kind that cannot change. */
static inline struct cow_node *
vmo_leaf(struct vmo *v, uint64_t *base)
{
	v = vmo_target(v);
	if (v->kind == VMO_SLICE) {
		*base = v->slice_off;
		return v->root->cow;
	}
	*base = 0;
	return v->cow;
}

/* Locking helpers with assertion support. */
static inline void hier_rlock(struct hier *h) { pthread_rwlock_rdlock(&h->lock); }
static inline void hier_wlock(struct hier *h)
{
	pthread_rwlock_wrlock(&h->lock);
	h->wlocked = true;
}
static inline void hier_runlock(struct hier *h) { pthread_rwlock_unlock(&h->lock); }
static inline void hier_unlock(struct hier *h)
{
	h->wlocked = false;
	pthread_rwlock_unlock(&h->lock);
}
#define HIER_ASSERT_WLOCKED(h) assert((h)->wlocked && "hierarchy lock not held exclusively")

/* vm.c: page allocation for objects. */
int vm_page_alloc(struct vm *vm, struct vm_page **out);
int vm_page_alloc_movable(struct vm *vm, struct vm_page **out);
void vm_page_free(struct vm *vm, struct vm_page *p);
void vm_page_unref(struct vm *vm, struct vm_page *p);
void *vm_page_addr(struct vm *vm, struct vm_page *p);

/* cow.c: the clone tree (see cow.c for contracts). */
struct cow_node *cow_node_new(struct hier *h, uint64_t skew);
void cow_node_free_empty(struct vm *vm, struct cow_node *n);
plist_slot_t cow_lookup(struct cow_node *n, uint64_t off,
    struct cow_node **owner, uint64_t *owner_off);
/* How cow_get_writable fills a page it has to make (see cow.c). */
enum cow_fill {
	COW_FILL,	/* copy the shared page, or zero a fresh one */
	COW_NOZERO,	/* copy a shared page; leave a fresh one undefined */
	COW_NOFILL,	/* the caller overwrites every byte: neither */
};
int cow_get_writable(struct vm *vm, struct cow_node *n, uint64_t off,
    enum cow_fill fill, struct vm_page **out, bool *undefined);
uint64_t cow_viewers(struct cow_node *x, uint64_t off, bool with_slices);
int cow_walk_up(struct cow_node *x, uint64_t start, uint64_t end,
    int (*fn)(void *ctx, struct cow_node *n, uint64_t s, uint64_t e, uint64_t disp),
    void *ctx);
void cow_release_above(struct vm *vm, struct cow_node *n, uint64_t start, uint64_t end);
int cow_clone(struct vm *vm, struct cow_node *src, uint64_t off, uint64_t len,
    struct cow_node **out);
void cow_detach_leaf(struct vm *vm, struct cow_node *leaf);
int cow_clone_aolw(struct vm *vm, struct cow_node *src, uint64_t off, uint64_t win,
    struct cow_node **out);
void cow_clip_children(struct cow_node *src, uint64_t newp);
bool cow_live_above(const struct cow_node *n);
void cow_free_pages(struct vm *vm, struct cow_node *n, uint64_t start, uint64_t end);
int cow_mark_zero(struct vm *vm, struct cow_node *n, uint64_t start, uint64_t end);
bool cow_any_pinned(struct cow_node *n, uint64_t start, uint64_t end);

/* pager.c: the store behind a pager-backed hierarchy. */
/* Page p, fresh or moved, now sits at n's offset off: owner, offset and
 * its page queue (a fresh page of a backed hierarchy joins as clean). */
void cow_page_settle(struct vm_page *p, struct cow_node *n, uint64_t off);
plist_slot_t cow_lookup_top(struct cow_node *n, uint64_t off,
    struct cow_node **top, uint64_t *top_off);
bool pager_in_store(struct cow_node *top, uint64_t off);
int pager_page_in(struct vm *vm, struct cow_node *top, uint64_t off);
#define PAGER_RUN 64	/* pages paged in by one store read at most */
int pager_page_in_run(struct vm *vm, struct cow_node *top, uint64_t off, uint64_t n);
void pager_note_dirty(struct cow_node *n, struct vm_page *p);
void pager_note_copied(struct cow_node *n, struct vm_page *up);
int pager_fault(struct vmo *v, uint64_t off, uint64_t len, bool all);
void pager_req_init(struct hier *h);
void pager_req_fini(struct hier *h);
void pager_req_invalidate(struct hier *h, uint64_t start, uint64_t end);
int pager_detach_locked(struct vmo *v, bool dying);
void pager_node_gone(struct cow_node *gone, struct cow_node *heir);
int pager_shrink_keep(struct vmo *v, uint64_t size);
void pager_shrink_cut(struct vmo *v, uint64_t size);
void pager_unlist(struct hier *h);
int pager_evict(struct vm *vm, struct cow_node *n, uint64_t off, struct vm_page *p);
uint64_t vm_zero_scan(struct vm *vm);
void vm_reserve(struct vm *vm, uint64_t pages);
/* An allocation met -ENOSPC: reclaim with no lock held, and say whether to
 * try again (vmo.c, issue #16).  idle starts at 0; progress: the caller
 * got on since its last call. */
bool vm_room_retry(struct vm *vm, size_t want, bool progress, unsigned *idle);

/* contig.c: contiguous VMOs and page loaning. */
int contig_fill(struct vmo *v, uint64_t start, uint64_t end);
int contig_decommit(struct vmo *v, uint64_t start, uint64_t end);
void contig_destroy(struct vmo *v);
int contig_unloan(struct vm *vm, struct cow_node *n, uint64_t off,
    struct vm_page **pp);
static inline bool hier_is_contig(const struct hier *h) { return h->cbase != NULL; }

/* discard.c: discardable VMOs. */
void discard_init(struct vm *vm);
void discard_fini(struct vm *vm);
void discard_make(struct vmo *v);
void discard_forget(struct hier *h);
uint64_t discard_reclaim(struct vm *vm, uint64_t want);
uint64_t discard_candidates(struct vm *vm);

/* reclaim.c: anonymous pages (page queues, compressed store, zero pages). */
int cow_decompress(struct vm *vm, struct cow_node *n, uint64_t off);
void cow_slot_drop(struct vm *vm, plist_slot_t s);
void vm_zs_balance(struct vm *vm);
uint64_t vm_reclaim_pages(struct vm *vm, uint64_t want);
int vm_reclaim_init(struct vm *vm, const struct vm_config *cfg);
void vm_reclaim_fini(struct vm *vm);
void hier_put(struct hier *h);

/* Cursor: resolves runs of offsets to the node that can hold their pages. */
struct cow_cursor {
	struct cow_node	*leaf;
	uint64_t	run_start, run_end;	/* leaf offsets of the cached run */
	struct cow_node	*base;		/* first level with slots in run, or NULL */
	uint64_t	disp;		/* base offset = leaf offset + disp */
};
void cow_cursor_init(struct cow_cursor *c, struct cow_node *leaf);
plist_slot_t cow_cursor_lookup(struct cow_cursor *c, uint64_t off, uint64_t end);

#endif /* VM_INTERNAL_H */
