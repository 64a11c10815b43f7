/*
 * cow.c - clone trees of copy-on-write page lists (Zircon's VmCowPages).
 *
 * A VMO's pages live in its visible cow node.  Taking a snapshot clone
 * turns that node into a *hidden* node, frozen, and gives the VMO a fresh
 * empty leaf beside the clone's leaf.  Both see the hidden node's pages
 * through their parent link until they write:
 *
 *        before clone              after clone            after B writes p1
 *                                      H [p0 p1 p2]           H [p0 p1 p2]
 *     A [p0 p1 p2]     ==>            /        \      ==>     /        \
 *                                   A []       B []         A []       B [p1']
 *
 * Lookup walks from the leaf to the root and stops at the first slot: a
 * page, or a marker (explicit zero).  Each node sees its parent only for
 * its offsets below parent_limit, shifted by parent_off (range clones,
 * shrinks), so past the limit a node reads zero.
 *
 * Who sees a page.  Nothing on a page records who shares it; the tree
 * does.  cow_viewers(X, o) counts the visible nodes whose lookup of the
 * corresponding offset ends at X's slot o: walk X's children, skipping a
 * child whose window misses o or that has a slot of its own there.  From
 * that one function follow every rule:
 *   - first write to a page found in an ancestor: if this leaf is its only
 *     viewer, the page *moves* down (no copy); else it is *copied*;
 *   - when a leaf stops seeing a range (shrink, destroy, a decommit that
 *     leaves markers), pages above with no viewer left are freed
 *     (cow_release), so hidden nodes never hold unreachable pages and the
 *     attribution of all VMOs adds up to the pages in use;
 *   - a hidden node left with one child is merged into it: its pages that
 *     child sees move down, the rest are freed, and the child takes its
 *     place (cow_merge).  With none, it goes too.
 * Hidden nodes may have any number of children: cloning a leaf that has no
 * page of its own attaches the clone beside it, to the leaf's parent, so
 * repeated clones of an untouched VMO stay one level deep ("attach as high
 * as they can").
 *
 * At-least-on-write clones (cow_clone_aolw) are the one case of a visible
 * node with children: the clone hangs below the live VMO's own node, so
 * its lookups read that node's pages as the VMO writes them, until it
 * has a slot of its own.  cow_viewers counts them through their parent,
 * and the writer's subtree is what "sole viewer" excludes; a snapshot of
 * the VMO moves them onto its new leaf; the VMO's end leaves its node
 * hidden for them (cow_hide); a snapshot of a node that reads a live one
 * is refused (cow_live_above).
 *
 * Pinned pages never live in hidden nodes: a clone of a VMO with pinned
 * pages copies them into the hidden node and keeps the pinned originals in
 * the VMO's new leaf, so a pin is always on a page its VMO owns.
 *
 * Locking: every function here requires the hierarchy lock; functions
 * that change anything require it exclusively (HIER_ASSERT_WLOCKED).
 * Lookups and cow_viewers need it shared.  Nothing here drops it.
 * Skew: a child's page list is skewed by (parent skew + parent_off) mod
 * one plist node, so o in the child and o + parent_off in the parent share
 * a slot index (plist.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "pq.h"
#include "vm_internal.h"
#include "zstore.h"

static uint64_t
child_skew(const struct cow_node *parent, uint64_t parent_off)
{
	return (parent->pages.skew + parent_off) % PLIST_NODE_BYTES;
}

struct cow_node *
cow_node_new(struct hier *h, uint64_t skew)
{
	struct cow_node *n = vm_calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->h = h;
	LIST_INIT(&n->children);
	plist_init(&n->pages, skew % PLIST_NODE_BYTES);
	return n;
}

/* Free a node that holds no slots and no children, and is detached. */
void
cow_node_free_empty(struct vm *vm, struct cow_node *n)
{
	assert(plist_is_empty(&n->pages) && "cow node freed with slots");
	assert(n->nchildren == 0 && LIST_EMPTY(&n->children));
	if (n->hidden)
		atomic_fetch_sub(&vm->nhidden, 1);
	plist_fini(&n->pages);
	n->parent = (void *)0xdeadbeef;	/* poison: catch use after free */
	free(n);
}

/*
 * The slot that n's offset off resolves to: the first non-empty slot on
 * the way to the root, with its owner and the owner's offset.  PLIST_EMPTY
 * means zero (nothing anywhere).  Hierarchy lock held (shared is enough).
 */
plist_slot_t
cow_lookup(struct cow_node *n, uint64_t off, struct cow_node **owner,
    uint64_t *owner_off)
{
	for (;;) {
		plist_slot_t s = plist_lookup(&n->pages, off);

		if (s != PLIST_EMPTY) {
			*owner = n;
			*owner_off = off;
			return s;
		}
		if (n->parent == NULL || off >= n->parent_limit)
			return PLIST_EMPTY;
		off += n->parent_off;
		n = n->parent;
	}
}

/*
 * Does n read through a visible ancestor -- is n (or a node between) an
 * at-least-on-write clone of a live VMO, whose pages can still change
 * under it?  Then what n sees of its ancestors is not frozen: a zero it
 * makes must be a marker even where nothing shows yet, and a snapshot of
 * it would not be one (cow_clone refuses).  Lock held (shared is enough).
 */
bool
cow_live_above(const struct cow_node *n)
{
	for (n = n->parent; n != NULL; n = n->parent)
		if (!n->hidden)
			return true;
	return false;
}

/*
 * Lookup cursor (Zircon's LookupCursor).  A deep clone chain makes every
 * lookup walk every level; the cursor walks them once per *run*: a range
 * of leaf offsets in which no level below some base node has a slot.
 * Inside the run a lookup starts at the base, so reading a page untouched
 * since the root costs about the same at depth 1000 as at depth 1, once
 * the run is long (docs/benchmarks.md, "deep chains").
 */
void
cow_cursor_init(struct cow_cursor *c, struct cow_node *leaf)
{
	c->leaf = leaf;
	c->run_start = c->run_end = 0;
	c->base = NULL;
	c->disp = 0;
}

static void
cursor_fill(struct cow_cursor *c, uint64_t off, uint64_t end)
{
	struct cow_node *n = c->leaf;
	uint64_t disp = 0, rend = end, nx;
	plist_slot_t ns;

	for (;;) {
		uint64_t o = off + disp;

		if (plist_lookup(&n->pages, o) != PLIST_EMPTY) {
			c->base = n;
			break;
		}
		if (plist_next(&n->pages, o, rend + disp, &nx, &ns))
			rend = nx - disp;
		if (n->parent == NULL || o >= n->parent_limit) {
			c->base = NULL;
			break;
		}
		if (n->parent_limit - disp < rend)
			rend = n->parent_limit - disp;
		disp += n->parent_off;
		n = n->parent;
	}
	c->disp = disp;
	c->run_start = off;
	c->run_end = rend;
}

/* The slot leaf offset off resolves to; end bounds the run to cache. */
plist_slot_t
cow_cursor_lookup(struct cow_cursor *c, uint64_t off, uint64_t end)
{
	struct cow_node *b, *owner;
	uint64_t o, oo;
	plist_slot_t s;

	if (off < c->run_start || off >= c->run_end)
		cursor_fill(c, off, end);
	b = c->base;
	if (b == NULL)
		return PLIST_EMPTY;
	o = off + c->disp;
	s = plist_lookup(&b->pages, o);
	if (s != PLIST_EMPTY || b->parent == NULL || o >= b->parent_limit)
		return s;
	return cow_lookup(b->parent, o + b->parent_off, &owner, &oo);
}

/*
 * Count the VMOs whose view of x's offset off ends at x's slot there,
 * stopping once cap is reached (cap 0: no cap).  A visible node is one
 * viewer, plus, with with_slices, each slice of its VMO covering off.
 * Hierarchy lock held (shared is enough).
 */
static uint64_t
viewers_capped(struct cow_node *x, uint64_t off, bool with_slices, uint64_t cap,
    const struct cow_node *skip)
{
	struct cow_node *c;
	uint64_t n = 0;

	if (x == skip)
		return 0;
	if (!x->hidden) {
		struct vmo *s;

		n = 1;
		if (with_slices && x->vmo != NULL) {
			LIST_FOREACH(s, &x->vmo->slices, slice_link)
				if (off >= s->slice_off && off - s->slice_off < s->size)
					n++;
		}
		/* A visible node's children are at-least-on-write clones:
		 * they see its slot where they have none of their own. */
		if (x->nchildren == 0 || (cap != 0 && n >= cap))
			return n;
	}
	/*
	 * Two passes: visible children first, so a capped count (do any /
	 * two see it?) stops before descending into a deep hidden child --
	 * freeing a 1000-level chain was quadratic without it.
	 */
	for (int pass = 0; pass < 2; pass++) {
		LIST_FOREACH(c, &x->children, sibling) {
			uint64_t co;

			if (c->hidden != (pass == 1) || off < c->parent_off)
				continue;
			co = off - c->parent_off;
			if (co >= c->parent_limit ||
			    plist_lookup(&c->pages, co) != PLIST_EMPTY)
				continue;
			n += viewers_capped(c, co, with_slices, cap ? cap - n : 0, skip);
			if (cap != 0 && n >= cap)
				return n;
		}
	}
	return n;
}

uint64_t
cow_viewers(struct cow_node *x, uint64_t off, bool with_slices)
{
	return viewers_capped(x, off, with_slices, 0, NULL);
}

/*
 * Put page p, fresh from the allocator or moved, at n's offset off.  A
 * page goes on the page queues when it first settles (reclaim.c): as
 * anonymous, or in a pager-backed hierarchy as clean or dirty pager page
 * (reclaim finds out, page by page, which of those the store holds:
 * pager_evict).  A queued page changes owner under the pq lock, which is
 * what lets the reclaimer follow page->owner (pq.h, pq_lock).  Pages
 * shared by copy_file_range stay off the queues.
 */
void
cow_page_settle(struct vm_page *p, struct cow_node *n, uint64_t off)
{
	struct vm *vm = n->h->vm;

	if (pq_queued(p)) {
		pq_lock(vm->pq);
		p->owner = n;
		p->offset = off;
		pq_unlock(vm->pq);
		return;
	}
	p->state = VM_PAGE_OBJECT;
	p->owner = n;
	p->offset = off;
	if (atomic_load(&p->share) == 0 && !(p->flags & VM_PAGE_F_SHARED)) {
		pq_insert(vm->pq, p, n->h->pops == NULL ? PQ_ANON :
		    (p->flags & VM_PAGE_F_DIRTY) ? PQ_PAGER_DIRTY : PQ_PAGER_CLEAN);
		if (p->pin_count > 0)
			pq_set_pinned(vm->pq, p, true);
	}
}

/*
 * Bring n's compressed slot at off back as a page in the same slot (in
 * the same node: a hidden node's page stays shared).  0, -ENOSPC (no page;
 * nothing changed) or -EIO (the store lost it: a bug).  Exclusive lock.
 */
int
cow_decompress(struct vm *vm, struct cow_node *n, uint64_t off)
{
	plist_slot_t s = plist_lookup(&n->pages, off);
	struct vm_page *p;
	uint32_t hnd;
	int err;

	HIER_ASSERT_WLOCKED(n->h);
	assert(plist_is_comp(s) && vm->zs != NULL);
	hnd = plist_comp_handle(s);
	if ((err = vm_page_alloc(vm, &p)) != 0)
		return err;
	if (zstore_get(vm->zs, hnd, vm_page_addr(vm, p)) != 0) {
		vm_page_free(vm, p);
		return -EIO;
	}
	/* Replacing a slot allocates nothing. */
	plist_set(&n->pages, off, plist_from_page(p), NULL);
	cow_page_settle(p, n, off);
	zstore_free(vm->zs, hnd);
	vm_zs_balance(vm);
	atomic_fetch_add_explicit(&vm->decompressed, 1, memory_order_relaxed);
	return 0;
}

/* A slot is going away: drop its page reference or its compressed bytes. */
void
cow_slot_drop(struct vm *vm, plist_slot_t s)
{
	if (plist_is_page(s)) {
		vm_page_unref(vm, plist_page(s));
	} else if (plist_is_comp(s)) {
		zstore_free(vm->zs, plist_comp_handle(s));
		vm_zs_balance(vm);
	}
}

/*
 * cow_get_writable's last step: page p of n is about to be written.  It
 * is young again, worth trying to compress (and zero-scan) again, and
 * dirty if n is the pager VMO's.
 */
static int
hand_out(struct vm *vm, struct cow_node *n, struct vm_page *p, struct vm_page **out)
{
	if (p->flags & (VM_PAGE_F_NOCOMP | VM_PAGE_F_ZSCANNED))
		vm_page_flag_clear(p, VM_PAGE_F_NOCOMP | VM_PAGE_F_ZSCANNED);
	pq_touch(vm->pq, p);
	pager_note_dirty(n, p);
	*out = p;
	return 0;
}

/*
 * Make n's page at off private and writable: n's own page as is; else the
 * ancestor's page moved down (sole viewer) or copied (shared), or a fresh
 * zero page (nothing above, or a marker).  fill says what the caller
 * will write: COW_NOFILL, every byte (skip the copy and the zero fill);
 * COW_NOZERO, maybe not every byte, but it zeroes what it leaves of a fresh
 * page itself, told by *undefined (may be NULL for the other modes).  n is
 * a visible node.  Hierarchy lock held exclusively.  0, -ENOSPC (no page; nothing
 * changed), -ENOMEM (page list node; nothing changed).
 */
int
cow_get_writable(struct vm *vm, struct cow_node *n, uint64_t off,
    enum cow_fill fill, struct vm_page **out, bool *undefined)
{
	struct cow_node *owner = NULL;
	struct vm_page *p, *up = NULL;
	plist_slot_t s, above = PLIST_EMPTY;
	uint64_t oo = 0;
	bool sole = false;
	int err;

	HIER_ASSERT_WLOCKED(n->h);
	assert(!n->hidden);
	s = plist_lookup(&n->pages, off);
	if ((s == PLIST_STORE || (s == PLIST_EMPTY && n->parent == NULL)) &&
	    fill != COW_NOFILL && pager_in_store(n, off)) {
		/* The store's page, in our own slot (evicted), or we are the
		 * root: only we see it. */
		if ((err = pager_page_in(vm, n, off)) != 0)
			return err;
		s = plist_lookup(&n->pages, off);
	}
	if (plist_is_comp(s)) {
		if ((err = cow_decompress(vm, n, off)) != 0)
			return err;
		s = plist_lookup(&n->pages, off);
	}
	if (plist_is_page(s)) {
		up = plist_page(s);
		if (atomic_load(&up->share) == 0) {
			/* Once shared, now ours alone: the backlink may name a
			 * slot that let go of it; set it right (and queue it). */
			if (up->flags & VM_PAGE_F_SHARED) {
				vm_page_flag_clear(up, VM_PAGE_F_SHARED);
				cow_page_settle(up, n, off);
			}
			return hand_out(vm, n, up, out);
		}
		/* Our own slot, but the page is shared: copy, drop our ref. */
		owner = n;
		oo = off;
		goto copy;
	}
	if (s == PLIST_EMPTY && n->parent != NULL && off < n->parent_limit) {
		struct cow_node *top;
		uint64_t to;

		above = cow_lookup(n->parent, off + n->parent_off, &owner, &oo);
		if ((above == PLIST_EMPTY || above == PLIST_STORE) && n->h->pops != NULL &&
		    cow_lookup_top(n->parent, off + n->parent_off, &top, &to) ==
		    PLIST_EMPTY && top != NULL && pager_in_store(top, to)) {
			/* Page it in where everyone sees it (pager.c: true
			 * snapshots), then copy or move it as any other. */
			if ((err = pager_page_in(vm, top, to)) != 0)
				return err;
			above = cow_lookup(n->parent, off + n->parent_off, &owner, &oo);
		}
		if (plist_is_comp(above)) {
			if ((err = cow_decompress(vm, owner, oo)) != 0)
				return err;
			above = plist_lookup(&owner->pages, oo);
		}
	}
	up = plist_page(above);
	/* Sole viewer: nobody outside n's subtree (n and the at-least-on-
	 * write clones that read through it) sees the slot above. */
	if (up != NULL && viewers_capped(owner, oo, false, 1, n) == 0) {
		if (atomic_load(&up->share) != 0) {
			sole = true;	/* copy, then drop the slot above */
			goto copy;
		}
		/* Only we see it: move it down.  Insert first: can fail. */
		err = plist_set(&n->pages, off, above, NULL);
		if (err != 0)
			return err;
		plist_remove(&owner->pages, oo);
		/* Once shared, now in one slot: the backlink is right again. */
		if (up->flags & VM_PAGE_F_SHARED)
			vm_page_flag_clear(up, VM_PAGE_F_SHARED);
		cow_page_settle(up, n, off);
		atomic_fetch_add_explicit(&vm->cow_moves, 1, memory_order_relaxed);
		return hand_out(vm, n, up, out);
	}
copy:
	err = vm_page_alloc_movable(vm, &p);	/* may borrow (contig.c) */
	if (err != 0)
		return err;
	if (up != NULL) {
		if (fill != COW_NOFILL)
			memcpy(vm_page_addr(vm, p), vm_page_addr(vm, up), VM_PAGE_SIZE);
		atomic_fetch_add_explicit(&vm->cow_copies, 1, memory_order_relaxed);
	} else {
		if (fill == COW_FILL)
			memset(vm_page_addr(vm, p), 0, VM_PAGE_SIZE);
		else if (undefined != NULL)
			*undefined = true;
		atomic_fetch_add_explicit(&vm->zero_fills, 1, memory_order_relaxed);
	}
	/* Replacing our own slot allocates nothing; a new slot may fail. */
	err = plist_set(&n->pages, off, plist_from_page(p), NULL);
	if (err != 0) {
		vm_page_free(vm, p);
		return err;
	}
	cow_page_settle(p, n, off);
	if (owner == n) {
		vm_page_unref(vm, up);
	} else if (sole) {
		plist_remove(&owner->pages, oo);
		vm_page_unref(vm, up);
	} else if (up != NULL) {
		/* up stays above, for the clones that see it. */
		pager_note_copied(n, up);
	} else if (above == PLIST_MARKER && viewers_capped(owner, oo, false, 1, NULL) == 0) {
		/* A marker above that only we saw is dead now: drop it. */
		plist_remove(&owner->pages, oo);
	}
	return hand_out(vm, n, p, out);
}

struct release_ctx {
	struct vm	*vm;
	struct cow_node	*x;
};

static int
release_cb(void *ctx, uint64_t off, plist_slot_t *slot)
{
	struct release_ctx *rc = ctx;

	if (viewers_capped(rc->x, off, false, 1, NULL) != 0)
		return 0;
	cow_slot_drop(rc->vm, *slot);
	*slot = PLIST_EMPTY;
	return 0;
}

/*
 * Visit x and then its ancestors, carrying the range [start, end) of x's
 * offsets up through each window: fn(ctx, n, s, e, disp) gets n's offsets
 * [s, e) and disp = n's offset minus x's.  Stops when the range empties,
 * at the root, or when fn returns non-zero (returned).  Lock held.
 */
int
cow_walk_up(struct cow_node *x, uint64_t start, uint64_t end,
    int (*fn)(void *ctx, struct cow_node *n, uint64_t s, uint64_t e, uint64_t disp),
    void *ctx)
{
	uint64_t disp = 0;
	int r;

	while (x != NULL && start < end) {
		if ((r = fn(ctx, x, start, end, disp)) != 0)
			return r;
		if (x->parent == NULL)
			break;
		if (end > x->parent_limit)
			end = x->parent_limit;
		start += x->parent_off;
		end += x->parent_off;
		disp += x->parent_off;
		x = x->parent;
	}
	return 0;
}

static int
release_level(void *ctx, struct cow_node *x, uint64_t s, uint64_t e, uint64_t disp)
{
	struct release_ctx *rc = ctx;

	(void)disp;
	if (x->hidden) {
		rc->x = x;
		plist_foreach(&x->pages, s, e, release_cb, rc);
	}
	return 0;
}

/*
 * Some node stopped seeing [start, end) of x (x's offsets): free every
 * slot of x, and of x's ancestors through x's window, that no VMO sees any
 * more.  x is hidden (a visible node's pages are its own).  Never fails.
 * Hierarchy lock held exclusively.
 */
void
cow_release_above(struct vm *vm, struct cow_node *x, uint64_t start, uint64_t end)
{
	struct release_ctx rc = { .vm = vm };

	HIER_ASSERT_WLOCKED(x->h);
	cow_walk_up(x, start, end, release_level, &rc);
}

struct free_ctx {
	struct vm	*vm;
	struct cow_node	*n;
};

static int
free_cb(void *ctx, uint64_t off, plist_slot_t *slot)
{
	struct free_ctx *fc = ctx;
	struct vm_page *p = plist_page(*slot);

	(void)off;
	if (p != NULL) {
		if (p->pin_count > 0) {	/* pins die with their pages' owner */
			assert(p->owner == fc->n && "pinned page backlink");
			p->pin_count = 0;
			fc->n->npinned--;
		}
		vm_page_unref(fc->vm, p);
	} else {
		cow_slot_drop(fc->vm, *slot);
	}
	*slot = PLIST_EMPTY;
	return 0;
}

/* Free n's own slots in [start, end).  Exclusive lock; pins already checked. */
void
cow_free_pages(struct vm *vm, struct cow_node *n, uint64_t start, uint64_t end)
{
	struct free_ctx fc = { .vm = vm, .n = n };

	HIER_ASSERT_WLOCKED(n->h);
	plist_foreach(&n->pages, start, end, free_cb, &fc);
}

static int
pinned_cb(void *ctx, uint64_t off, plist_slot_t slot)
{
	(void)ctx;
	(void)off;
	return plist_is_page(slot) && plist_page(slot)->pin_count > 0;
}

/* True if n owns a pinned page in [start, end).  Lock held (shared ok). */
bool
cow_any_pinned(struct cow_node *n, uint64_t start, uint64_t end)
{
	return n->npinned != 0 && plist_visit(&n->pages, start, end, pinned_cb, NULL) != 0;
}

/*
 * Make [start, end) of visible node n read zero without holding pages:
 * free n's own pages there, and where an ancestor still shows a page put a
 * marker, then release what nobody sees.  Pages must be unpinned (caller
 * checks).  0 or -ENOMEM (a marker's list node); on -ENOMEM the range is
 * zero up to the page that failed.  Exclusive lock.
 */
int
cow_mark_zero(struct vm *vm, struct cow_node *n, uint64_t start, uint64_t end)
{
	struct cow_node *owner;
	uint64_t off, oo, lim;
	plist_slot_t old;
	bool live;
	int err = 0;

	HIER_ASSERT_WLOCKED(n->h);
	lim = n->parent != NULL ? n->parent_limit : 0;
	/* Below a live VMO (at-least-on-write) a gap would show its later
	 * writes: the zero must be a marker wherever n sees its parent. */
	live = lim > start && cow_live_above(n);
	for (off = start; off < end; off += VM_PAGE_SIZE) {
		struct cow_node *top = NULL;
		bool shown = live && off < lim;

		if (off < lim && !shown) {
			plist_slot_t up = cow_lookup_top(n->parent,
			    off + n->parent_off, &top, &oo);

			shown = plist_has_data(up) || (up == PLIST_EMPTY &&
			    top != NULL && pager_in_store(top, oo));
		}
		(void)owner;

		if (shown) {
			err = plist_set(&n->pages, off, PLIST_MARKER, &old);
			if (err != 0)
				break;
		} else {
			old = plist_remove(&n->pages, off);
		}
		cow_slot_drop(vm, old);
	}
	if (lim > start && n->parent != NULL)
		cow_release_above(vm, n->parent, start + n->parent_off,
		    (off < lim ? off : lim) + n->parent_off);
	return err;
}

/*
 * Move n's pinned pages into leaf l, leaving a copy of each in n (which
 * is about to become hidden).  0, or -ENOSPC/-ENOMEM with n and l as they
 * were.  Exclusive lock.
 */
struct pinmove_ctx {
	struct vm	*vm;
	struct cow_node	*n, *l;
	int		err;
};

static int
pinmove_cb(void *ctx, uint64_t off, plist_slot_t *slot)
{
	struct pinmove_ctx *pm = ctx;
	struct vm_page *p = plist_page(*slot), *q;

	if (p == NULL || p->pin_count == 0)
		return 0;
	if ((pm->err = vm_page_alloc(pm->vm, &q)) != 0)
		return 1;
	if ((pm->err = plist_set(&pm->l->pages, off, *slot, NULL)) != 0) {
		vm_page_free(pm->vm, q);
		return 1;
	}
	memcpy(vm_page_addr(pm->vm, q), vm_page_addr(pm->vm, p), VM_PAGE_SIZE);
	cow_page_settle(q, pm->n, off);
	cow_page_settle(p, pm->l, off);
	*slot = plist_from_page(q);
	return 0;
}

static int
pinundo_cb(void *ctx, uint64_t off, plist_slot_t *slot)
{
	struct pinmove_ctx *pm = ctx;
	struct vm_page *p = plist_page(*slot);
	struct vm_page *q = plist_page(plist_lookup(&pm->n->pages, off));
	plist_slot_t old;

	/* The slot exists in n: replacing it allocates nothing. */
	plist_set(&pm->n->pages, off, *slot, &old);
	cow_page_settle(p, pm->n, off);
	vm_page_free(pm->vm, q);
	*slot = PLIST_EMPTY;
	return 0;
}

static int
move_pinned(struct vm *vm, struct cow_node *n, struct cow_node *l)
{
	struct pinmove_ctx pm = { .vm = vm, .n = n, .l = l };

	/* Clones are O(1): no scan unless something is pinned. */
	if (n->npinned == 0)
		return 0;
	if (plist_foreach(&n->pages, 0, COW_END, pinmove_cb, &pm) != 0) {
		plist_foreach(&l->pages, 0, COW_END, pinundo_cb, &pm);
		return pm.err;
	}
	l->npinned = n->npinned;
	n->npinned = 0;
	return 0;
}

/*
 * After a clone: the copies of pinned pages that the clone's window does
 * not cover are seen by nobody (the VMO has the pinned originals): free
 * them.  Removing slots never allocates.
 */
struct unshown_ctx {
	struct vm	*vm;
	struct cow_node	*h;
	uint64_t	ws, we;
};

static int
drop_unshown_cb(void *ctx, uint64_t off, plist_slot_t *slot)
{
	struct unshown_ctx *uc = ctx;
	plist_slot_t q;

	(void)slot;
	if (off >= uc->ws && off < uc->we)
		return 0;
	q = plist_remove(&uc->h->pages, off);
	cow_slot_drop(uc->vm, q);
	return 0;
}

static void
attach(struct cow_node *parent, struct cow_node *c, uint64_t off, uint64_t limit)
{
	c->parent = parent;
	c->parent_off = off;
	c->parent_limit = limit;
	LIST_INSERT_HEAD(&parent->children, c, sibling);
	parent->nchildren++;
}

/*
 * Snapshot of visible node src's offsets [off, off + win) (page aligned;
 * win already clipped to what src shows).  *out is the clone's new leaf.
 * src's VMO gets a new leaf when src has to become hidden.  0, -ENOMEM,
 * -ENOSPC (copies of pinned pages), -EOPNOTSUPP (src reads through a live
 * VMO: cow_live_above); nothing changed on error.  Exclusive.
 */
int
cow_clone(struct vm *vm, struct cow_node *src, uint64_t off, uint64_t win,
    struct cow_node **out)
{
	struct cow_node *c, *l, *k, *p = src->parent;
	uint64_t lim;
	int err;

	HIER_ASSERT_WLOCKED(src->h);
	assert(!src->hidden && src->vmo != NULL);
	/* An at-least-on-write clone of a live VMO sees pages that can
	 * still change: freezing them would mean copying them all. */
	if (cow_live_above(src))
		return -EOPNOTSUPP;
	if ((plist_is_empty(&src->pages) && src != src->h->pnode) || win == 0) {
		/* Nothing of its own: the clone shares src's parent, if any. */
		lim = (p != NULL && off < src->parent_limit) ? src->parent_limit - off : 0;
		if (lim > win)
			lim = win;
		if (lim == 0)
			p = NULL;
		c = cow_node_new(src->h, p ? child_skew(p, src->parent_off + off) : 0);
		if (c == NULL)
			return -ENOMEM;
		if (p != NULL)
			attach(p, c, src->parent_off + off, lim);
		*out = c;
		return 0;
	}
	c = cow_node_new(src->h, child_skew(src, off));
	l = cow_node_new(src->h, src->pages.skew);
	if (c == NULL || l == NULL) {
		free(c);
		free(l);
		return -ENOMEM;
	}
	err = move_pinned(vm, src, l);
	if (err != 0) {
		free(c);
		free(l);
		return err;
	}
	/* src becomes the hidden node H; the VMO moves to leaf l, and its
	 * at-least-on-write clones with it: they go on seeing the live VMO
	 * (l, empty so far, then H: the same bytes as before), the new
	 * snapshot sees H.  l has src's skew, so theirs stay right. */
	while ((k = LIST_FIRST(&src->children)) != NULL) {
		LIST_REMOVE(k, sibling);
		src->nchildren--;
		attach(l, k, k->parent_off, k->parent_limit);
	}
	src->hidden = true;
	atomic_fetch_add(&vm->nhidden, 1);
	l->vmo = src->vmo;
	l->vmo->cow = l;
	src->vmo = NULL;
	attach(src, l, 0, vm_page_roundup(l->vmo->size));
	attach(src, c, off, win);
	if (!plist_is_empty(&l->pages)) {
		struct unshown_ctx uc = { .vm = vm, .h = src, .ws = off, .we = off + win };

		plist_foreach(&l->pages, 0, COW_END, drop_unshown_cb, &uc);
	}
	*out = c;
	return 0;
}

/*
 * At-least-on-write clone (Zircon's SNAPSHOT_AT_LEAST_ON_WRITE) of visible
 * node src's offsets [off, off + win): the clone's leaf hangs below src
 * itself, which stays visible, so the clone reads src's pages as they are
 * now and as src writes them later, until it writes (copies) a page of
 * its own.  Nothing is frozen, nothing is copied: O(1).  The clone of a
 * clone that sees nothing (win 0) has no parent.  0 or -ENOMEM.  Exclusive.
 */
int
cow_clone_aolw(struct vm *vm, struct cow_node *src, uint64_t off, uint64_t win,
    struct cow_node **out)
{
	struct cow_node *c;

	(void)vm;
	HIER_ASSERT_WLOCKED(src->h);
	assert(!src->hidden && src->vmo != NULL);
	c = cow_node_new(src->h, win != 0 ? child_skew(src, off) : 0);
	if (c == NULL)
		return -ENOMEM;
	if (win != 0)
		attach(src, c, off, win);
	*out = c;
	return 0;
}

/*
 * src shrank to newp bytes (page aligned): its at-least-on-write clones
 * stop seeing it past there, so growing it again shows them zero, as
 * Zircon clips a child's parent limit.  What only they saw above is
 * released by the caller's release of src's own range.  Exclusive.
 */
void
cow_clip_children(struct cow_node *src, uint64_t newp)
{
	struct cow_node *k;

	HIER_ASSERT_WLOCKED(src->h);
	assert(!src->hidden);
	LIST_FOREACH(k, &src->children, sibling) {
		uint64_t lim = newp > k->parent_off ? newp - k->parent_off : 0;

		if (k->parent_limit > lim)
			k->parent_limit = lim;
	}
}

static int
drop_markers_cb(void *ctx, uint64_t off, plist_slot_t *slot)
{
	(void)ctx;
	(void)off;
	if (*slot == PLIST_MARKER)
		*slot = PLIST_EMPTY;
	return 0;
}

struct merge_ctx {
	struct vm	*vm;
	struct cow_node	*c;
	uint64_t	base;
};

static int
merge_cb(void *ctx, uint64_t off, plist_slot_t *slot)
{
	struct merge_ctx *mc = ctx;
	uint64_t co = off - mc->base;
	int err;

	if (plist_lookup(&mc->c->pages, co) == PLIST_EMPTY) {
		err = plist_set(&mc->c->pages, co, *slot, NULL);
		if (err != 0)
			return err;
		if (plist_is_page(*slot))
			cow_page_settle(plist_page(*slot), mc->c, co);
	} else {
		cow_slot_drop(mc->vm, *slot);
	}
	*slot = PLIST_EMPTY;
	return 0;
}

struct absorb_ctx {
	struct vm	*vm;
	struct cow_node	*h;
};

/* c's slot at off is about to move up into h: h's own slot there, which
 * c's hid, is freed, and c's page gets its new owner.  Touches h's list
 * only (removing a slot never allocates); c's slot stays as it is. */
static int
absorb_cb(void *ctx, uint64_t off, plist_slot_t slot)
{
	struct absorb_ctx *ac = ctx;

	cow_slot_drop(ac->vm, plist_remove(&ac->h->pages, off));
	if (plist_is_page(slot))
		cow_page_settle(plist_page(slot), ac->h, off);
	return 0;
}

/*
 * The other way round from cow_merge, when c sits at offset 0 of h and
 * holds fewer slots: c's slots move up into h, and h takes c's place (its
 * VMO, its children).  Removing a clone of a 1 GiB file then costs the
 * pages its sibling wrote, not the file's 262,144 (docs/bench-libvm.md,
 * finding 2).  Never fails: c and h have the same skew (offset 0), so
 * once h's slots under c's are gone plist_supply moves or merges whole
 * nodes without allocating.  (It used to plist_set slot by slot and, on a
 * failed node allocation, leave the rest to cow_merge, which then freed
 * the slots already moved up from past c's window -- c's own pages, and
 * pinned ones among them: issue #16, test_fault_absorb.)  Exclusive lock.
 */
static void
cow_absorb(struct vm *vm, struct cow_node *h, struct cow_node *c)
{
	struct absorb_ctx ac = { .vm = vm, .h = h };
	struct cow_node *k;
	int err;

	assert(c->parent_off == 0 && c->pages.skew == h->pages.skew);
	/* h's slots past c's window are nobody's: free them first, before
	 * c's own slots there (c may have grown past it) move up. */
	cow_free_pages(vm, h, c->parent_limit, COW_END);
	plist_visit(&c->pages, 0, COW_END, absorb_cb, &ac);
	err = plist_supply(&h->pages, 0, &c->pages, NULL, NULL);
	assert(err == 0 && "aligned supply cannot fail");
	(void)err;
	LIST_REMOVE(c, sibling);
	h->nchildren = 0;
	while ((k = LIST_FIRST(&c->children)) != NULL) {
		LIST_REMOVE(k, sibling);
		c->nchildren--;
		attach(h, k, k->parent_off, k->parent_limit);
	}
	if (h->parent_limit > c->parent_limit)
		h->parent_limit = c->parent_limit;
	if (!c->hidden) {
		h->hidden = false;
		atomic_fetch_sub(&vm->nhidden, 1);
		h->vmo = c->vmo;
		h->vmo->cow = h;
		c->vmo = NULL;
	}
	h->npinned = c->npinned;
	c->npinned = 0;
	if (h->parent == NULL && !h->hidden && h->pages.nmarkers != 0 &&
	    h->h->pnode != h)	/* a root reads zero past its slots anyway */
		plist_foreach(&h->pages, 0, COW_END, drop_markers_cb, NULL);
	cow_node_free_empty(vm, c);
	atomic_fetch_add(&vm->merges, 1);
}

/*
 * Hidden h has exactly one child c: move the pages c sees into c, free the
 * rest, and put c in h's place.  If a page list node cannot be allocated
 * the merge stops and h stays (a hidden node with one child is a valid,
 * if wasteful, state: benign).  Exclusive lock.
 */
static void
cow_merge(struct vm *vm, struct cow_node *h)
{
	struct cow_node *c = LIST_FIRST(&h->children), *g = h->parent;
	struct merge_ctx mc = { .vm = vm, .c = c, .base = c->parent_off };
	bool identity = c->parent_off == 0;
	uint64_t lim;

	assert(h->hidden && h->nchildren == 1);
	if (c->parent_off == 0 &&
	    plist_nslots(&c->pages) < plist_nslots(&h->pages)) {
		cow_absorb(vm, h, c);
		return;
	}
	if (plist_foreach(&h->pages, c->parent_off, c->parent_off + c->parent_limit,
	    merge_cb, &mc) != 0)
		return;
	cow_free_pages(vm, h, 0, COW_END);
	LIST_REMOVE(c, sibling);
	h->nchildren = 0;
	if (g != NULL) {
		lim = h->parent_limit > c->parent_off ? h->parent_limit - c->parent_off : 0;
		if (lim > c->parent_limit)
			lim = c->parent_limit;
		LIST_REMOVE(h, sibling);
		g->nchildren--;
		attach(g, c, c->parent_off + h->parent_off, lim);
	} else {
		c->parent = NULL;
		c->parent_off = c->parent_limit = 0;
		pager_node_gone(h, identity ? c : NULL);
		/* A root reads zero past its slots, unless a store backs it. */
		if (c->pages.nmarkers != 0 && c->h->pnode != c)
			plist_foreach(&c->pages, 0, COW_END,
			    drop_markers_cb, NULL);
	}
	cow_node_free_empty(vm, h);
	atomic_fetch_add(&vm->merges, 1);
}

/*
 * After a child left hidden node h: merge h into its last child, or free
 * it when none is left and go on with its parent.  Exclusive lock.
 */
static void
cow_fixup(struct vm *vm, struct cow_node *h)
{
	while (h != NULL && h->hidden) {
		struct cow_node *g = h->parent;

		if (h->nchildren == 1) {
			cow_merge(vm, h);
			return;
		}
		if (h->nchildren > 1)
			return;
		cow_free_pages(vm, h, 0, COW_END);
		if (g != NULL) {
			LIST_REMOVE(h, sibling);
			g->nchildren--;
		}
		pager_node_gone(h, NULL);
		cow_node_free_empty(vm, h);
		h = g;
	}
}

static int
unpin_cb(void *ctx, uint64_t off, plist_slot_t slot)
{
	struct cow_node *n = ctx;
	struct vm_page *p = plist_page(slot);

	(void)off;
	if (p != NULL && p->pin_count > 0) {
		p->pin_count = 0;
		n->npinned--;
		if (pq_queued(p))
			pq_set_pinned(n->h->vm->pq, p, false);
	}
	return 0;
}

/*
 * The VMO of visible node n dies while at-least-on-write clones read
 * through n: n stays, hidden and from now on frozen, for them.  Its pins
 * die with the VMO; what no clone sees, in n and above, is released; then
 * n merges into its last child if only one is left.  Exclusive lock.
 */
static void
cow_hide(struct vm *vm, struct cow_node *n)
{
	assert(!n->hidden && n->nchildren > 0);
	if (n->npinned != 0)
		plist_visit(&n->pages, 0, COW_END, unpin_cb, n);
	assert(n->npinned == 0);
	n->vmo = NULL;
	n->hidden = true;
	atomic_fetch_add(&vm->nhidden, 1);
	cow_release_above(vm, n, 0, COW_END);
	cow_fixup(vm, n);
}

/*
 * The VMO of visible node leaf is going away: free its pages (pins die
 * with it), detach it, release what only it saw, and merge or free its
 * parent as needed.  leaf is freed -- unless at-least-on-write clones
 * read through it (cow_hide).  Never fails.  Exclusive lock.
 */
void
cow_detach_leaf(struct vm *vm, struct cow_node *leaf)
{
	struct cow_node *p = leaf->parent;

	HIER_ASSERT_WLOCKED(leaf->h);
	assert(!leaf->hidden);
	if (leaf->nchildren > 0) {
		cow_hide(vm, leaf);
		return;
	}
	cow_free_pages(vm, leaf, 0, COW_END);
	if (p != NULL) {
		LIST_REMOVE(leaf, sibling);
		p->nchildren--;
		cow_release_above(vm, p, leaf->parent_off,
		    leaf->parent_off + leaf->parent_limit);
	}
	leaf->vmo = NULL;
	cow_node_free_empty(vm, leaf);
	cow_fixup(vm, p);
}
