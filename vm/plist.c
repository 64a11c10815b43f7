/*
 * plist.c - the sparse page list (after Zircon's VmPageList, seeds/002).
 *
 * What it owns: the nodes, and nothing else.  Slots hold page pointers or
 * markers that belong to the caller (a cow node); no function here frees
 * or even dereferences a page.  The caller's hierarchy lock guards the
 * whole list; nothing here locks.
 *
 * Layout.  An offset o is shifted by the list's skew, then split:
 *
 *      o + skew = key + slot * 4096,   key = (o + skew) & ~(64 KiB - 1)
 *
 *      tree (RB, by key)     node key K          node key K + 64 KiB
 *        ...  ------>  [ s0 s1 ... s15 ]  ---> [ s0 s1 ... s15 ] ...
 *                        |
 *                        o = K + 4096 * i - skew
 *
 * A node is 176 bytes and carries 16 slots: 11 bytes per page when the
 * list is dense (plist_node_bytes), well inside the 64-byte budget of
 * page.h with the 40-byte vm_page.  Nodes exist only while non-empty: every
 * path that can empty a slot frees the node the moment its used count
 * reaches zero, so "a node exists" implies "it has a slot" and scans
 * (plist_next, plist_any) never see more than two partial nodes before
 * they hit a non-empty slot.
 *
 * Skew.  Clone trees give a child skew (parent skew + parent offset) mod
 * 64 KiB, so the child's offset o and the parent's o + parent_offset fall
 * in the same slot index.  plist_take exploits it: the splice it returns
 * has skew (skew + start) mod 64 KiB, every node wholly inside the range
 * is moved by re-keying (no copy, no allocation), and only the (at most
 * two) nodes straddling the range's ends are split slot by slot into
 * nodes allocated up front, so that a failed allocation leaves pl as it
 * was.  plist_supply moves whole nodes in the same way when the skews line
 * up and falls back to plist_set slot by slot when they do not.
 *
 * Limits.  Offsets are page aligned and below PLIST_OFF_LIMIT (2^64 less
 * 128 KiB), so that off + skew + 64 KiB never wraps; VMOs stop at 2^52.
 * Range ends are rounded up to a page (saturating) and clamped to the
 * limit, so end = UINT64_MAX means "to the end of the list".
 *
 * Errors: plist_set, plist_take and plist_supply return -ENOMEM when
 * vm_calloc (fault injector included) fails; see each for what is left.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "plist.h"

/* First offset that cannot be stored: keeps key + 64 KiB from wrapping. */
#define PLIST_OFF_LIMIT (UINT64_MAX - 2 * PLIST_NODE_BYTES + 1)
#define PLIST_POISON ((void *)0xdeadbeefUL)

#ifdef NDEBUG
#define PLIST_ASSERT(c, p) ((void)sizeof(c), (void)(p))
#else
#define PLIST_ASSERT(c, p)						\
	do {								\
		if (__builtin_expect(!(c), 0))				\
			plist_assert_fail(__func__, __LINE__, #c, (p));	\
	} while (0)
#endif

static void __attribute__((noreturn, cold, unused))
plist_assert_fail(const char *fn, int line, const char *what, const void *p)
{
	fprintf(stderr, "plist: %s:%d: %p: assertion failed: %s\n", fn, line,
	    p, what);
	abort();
}

static int
plist_node_cmp(const struct plist_node *a, const struct plist_node *b)
{
	return a->key < b->key ? -1 : a->key > b->key;
}

/*
 * RB_GENERATE_STATIC marks its functions __unused, which libbsd leaves
 * undefined (Linux headers use the name for struct members): define it
 * for this one expansion only, after every header is in.
 */
#ifndef __unused
#define __unused __attribute__((__unused__))
#define PLIST_UNDEF_UNUSED
#endif
RB_GENERATE_STATIC(plist_tree, plist_node, link, plist_node_cmp)
#ifdef PLIST_UNDEF_UNUSED
#undef __unused
#undef PLIST_UNDEF_UNUSED
#endif

static inline uint64_t plist_node_trunc(uint64_t x) { return x & ~(PLIST_NODE_BYTES - 1); }
static inline unsigned plist_slot_index(uint64_t x)
{
	return (unsigned)((x % PLIST_NODE_BYTES) >> VM_PAGE_SHIFT);
}

/*
 * The RB functions take a non-const head even to search; the read-only
 * entry points cast const away here and nowhere else.
 */
static struct plist_node *
plist_node_find(const struct plist *pl, uint64_t key)
{
	struct plist_node k = { .key = key };

	return RB_FIND(plist_tree, (struct plist_tree *)&pl->tree, &k);
}

/* First node with key >= key. */
static struct plist_node *
plist_node_nfind(const struct plist *pl, uint64_t key)
{
	struct plist_node k = { .key = key };

	return RB_NFIND(plist_tree, (struct plist_tree *)&pl->tree, &k);
}

static void
plist_node_insert(struct plist *pl, struct plist_node *n)
{
	struct plist_node *dup = RB_INSERT(plist_tree, &pl->tree, n);

	PLIST_ASSERT(dup == NULL, n);
	(void)dup;
}

/* Unlink an empty node and free it, poisoning its links first. */
static void
plist_node_free(struct plist *pl, struct plist_node *n)
{
	PLIST_ASSERT(n->used == 0, n);
	RB_REMOVE(plist_tree, &pl->tree, n);
	n->link.rbe_left = n->link.rbe_right = n->link.rbe_parent = PLIST_POISON;
	n->key = UINT64_MAX;
	free(n);
}

/* Account a slot changing from was to now in node n of pl. */
static inline void
plist_account(struct plist *pl, struct plist_node *n, plist_slot_t was,
    plist_slot_t now)
{
	if (was != PLIST_EMPTY) {
		PLIST_ASSERT(n->used > 0, n);
		n->used--;
		if (was == PLIST_MARKER)
			pl->nmarkers--;
		else if (was == PLIST_STORE)
			pl->nstore--;
		else if (plist_is_comp(was))
			pl->ncomp--;
		else
			pl->npages--;
	}
	if (now != PLIST_EMPTY) {
		PLIST_ASSERT(now == PLIST_MARKER || now == PLIST_STORE ||
		    plist_is_comp(now) || (now & 7) == 0, (void *)now);
		n->used++;
		if (now == PLIST_MARKER)
			pl->nmarkers++;
		else if (now == PLIST_STORE)
			pl->nstore++;
		else if (plist_is_comp(now))
			pl->ncomp++;
		else
			pl->npages++;
	}
}

/* Pages, markers, compressed and store slots of a node, to move its
 * counts between lists. */
struct plist_counts {
	uint64_t	pages, markers, comp, store;
};

static void
plist_node_counts(const struct plist_node *n, struct plist_counts *c)
{
	c->pages = c->markers = c->comp = c->store = 0;
	for (unsigned i = 0; i < PLIST_FANOUT; i++) {
		if (n->slots[i] == PLIST_MARKER)
			c->markers++;
		else if (n->slots[i] == PLIST_STORE)
			c->store++;
		else if (plist_is_comp(n->slots[i]))
			c->comp++;
		else if (n->slots[i] != PLIST_EMPTY)
			c->pages++;
	}
}

/* Move node n (already out of any tree) into pl under key. */
static void
plist_node_adopt(struct plist *pl, struct plist_node *n, uint64_t key,
    const struct plist_counts *c)
{
	n->key = key;
	plist_node_insert(pl, n);
	pl->npages += c->pages;
	pl->nmarkers += c->markers;
	pl->ncomp += c->comp;
	pl->nstore += c->store;
}

static void
plist_node_orphan(struct plist *pl, struct plist_node *n, struct plist_counts *c)
{
	plist_node_counts(n, c);
	RB_REMOVE(plist_tree, &pl->tree, n);
	pl->npages -= c->pages;
	pl->nmarkers -= c->markers;
	pl->ncomp -= c->comp;
	pl->nstore -= c->store;
}

/*
 * Normalise [start, end) to skewed bounds [*s, *e); false if empty.
 * start must be page aligned; end is rounded up and clamped (see top).
 */
static bool
plist_range(const struct plist *pl, uint64_t start, uint64_t end,
    uint64_t *s, uint64_t *e)
{
	PLIST_ASSERT((start & VM_PAGE_MASK) == 0, pl);
	end = vm_page_roundup(end);
	if (end > PLIST_OFF_LIMIT)
		end = PLIST_OFF_LIMIT;
	if (start >= end)
		return false;
	*s = start + pl->skew;
	*e = end + pl->skew;
	return true;
}

void
plist_init(struct plist *pl, uint64_t skew)
{
	PLIST_ASSERT(skew < PLIST_NODE_BYTES && (skew & VM_PAGE_MASK) == 0, pl);
	RB_INIT(&pl->tree);
	pl->skew = skew;
	pl->npages = 0;
	pl->nmarkers = 0;
	pl->ncomp = 0;
	pl->nstore = 0;
}

void
plist_fini(struct plist *pl)
{
	PLIST_ASSERT(plist_is_empty(pl), pl);
	PLIST_ASSERT(RB_EMPTY(&pl->tree), pl);
	pl->skew = UINT64_MAX;
}

plist_slot_t
plist_lookup(const struct plist *pl, uint64_t off)
{
	struct plist_node *n;

	PLIST_ASSERT((off & VM_PAGE_MASK) == 0, pl);
	if (off >= PLIST_OFF_LIMIT)
		return PLIST_EMPTY;
	n = plist_node_find(pl, plist_node_trunc(off + pl->skew));
	return n ? n->slots[plist_slot_index(off + pl->skew)] : PLIST_EMPTY;
}

int
plist_set(struct plist *pl, uint64_t off, plist_slot_t slot, plist_slot_t *old)
{
	uint64_t x = off + pl->skew;
	struct plist_node *n;
	plist_slot_t was;

	PLIST_ASSERT((off & VM_PAGE_MASK) == 0 && off < PLIST_OFF_LIMIT, pl);
	if (slot == PLIST_EMPTY) {
		was = plist_remove(pl, off);
		goto out;
	}
	n = plist_node_find(pl, plist_node_trunc(x));
	if (n == NULL) {
		n = vm_calloc(1, sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		n->key = plist_node_trunc(x);
		plist_node_insert(pl, n);
	}
	was = n->slots[plist_slot_index(x)];
	n->slots[plist_slot_index(x)] = slot;
	plist_account(pl, n, was, slot);
out:
	if (old != NULL)
		*old = was;
	return 0;
}

plist_slot_t
plist_remove(struct plist *pl, uint64_t off)
{
	uint64_t x = off + pl->skew;
	struct plist_node *n;
	plist_slot_t was;

	PLIST_ASSERT((off & VM_PAGE_MASK) == 0, pl);
	if (off >= PLIST_OFF_LIMIT)
		return PLIST_EMPTY;
	n = plist_node_find(pl, plist_node_trunc(x));
	if (n == NULL)
		return PLIST_EMPTY;
	was = n->slots[plist_slot_index(x)];
	n->slots[plist_slot_index(x)] = PLIST_EMPTY;
	plist_account(pl, n, was, PLIST_EMPTY);
	if (n->used == 0)
		plist_node_free(pl, n);
	return was;
}

/*
 * Slot bounds [*lo, *hi) of node n that fall in skewed [s, e).  The node
 * must overlap the range.
 */
static inline void
plist_node_bounds(const struct plist_node *n, uint64_t s, uint64_t e,
    unsigned *lo, unsigned *hi)
{
	*lo = s > n->key ? plist_slot_index(s) : 0;
	*hi = e < n->key + PLIST_NODE_BYTES ? plist_slot_index(e) : PLIST_FANOUT;
}

bool
plist_next(const struct plist *pl, uint64_t start, uint64_t end,
    uint64_t *off, plist_slot_t *slot)
{
	struct plist_node *n;
	uint64_t s, e;
	unsigned lo, hi;

	if (!plist_range(pl, start, end, &s, &e))
		return false;
	/*
	 * Nodes are never empty, so at most the first node (partly before s)
	 * and the last (partly after e) can come up blank: this is
	 * O(log nodes + 32 slots).
	 */
	for (n = plist_node_nfind(pl, plist_node_trunc(s)); n && n->key < e;
	    n = RB_NEXT(plist_tree, &pl->tree, n)) {
		plist_node_bounds(n, s, e, &lo, &hi);
		for (unsigned i = lo; i < hi; i++) {
			if (n->slots[i] == PLIST_EMPTY)
				continue;
			if (off != NULL)
				*off = n->key + ((uint64_t)i << VM_PAGE_SHIFT) - pl->skew;
			if (slot != NULL)
				*slot = n->slots[i];
			return true;
		}
	}
	return false;
}

bool
plist_any(const struct plist *pl, uint64_t start, uint64_t end)
{
	return plist_next(pl, start, end, NULL, NULL);
}

/*
 * The walk behind plist_foreach and plist_foreach_with_gaps.  Gaps are
 * computed from the slots as they were before fn saw them; gap_end is the
 * caller's (rounded, unclamped) end so the last gap covers all of it.
 */
static int
plist_walk(struct plist *pl, uint64_t start, uint64_t end, plist_slot_fn fn,
    plist_gap_fn gap_fn, void *ctx)
{
	struct plist_node *n, *next;
	uint64_t s, e, o, expect = start, gap_end = vm_page_roundup(end);
	unsigned lo, hi;
	plist_slot_t was;
	int rc = 0;

	if (!plist_range(pl, start, end, &s, &e))
		goto tail;
	for (n = plist_node_nfind(pl, plist_node_trunc(s)); n && n->key < e;
	    n = next) {
		next = RB_NEXT(plist_tree, &pl->tree, n);
		plist_node_bounds(n, s, e, &lo, &hi);
		for (unsigned i = lo; i < hi && rc == 0; i++) {
			if ((was = n->slots[i]) == PLIST_EMPTY)
				continue;
			o = n->key + ((uint64_t)i << VM_PAGE_SHIFT) - pl->skew;
			if (gap_fn != NULL && o != expect)
				rc = gap_fn(ctx, expect, o);
			expect = o + VM_PAGE_SIZE;
			if (rc != 0 || fn == NULL)
				continue;
			rc = fn(ctx, o, &n->slots[i]);
			/* Only a changed slot is accounted: a visit that
			 * changes nothing writes nothing (see plist_visit). */
			if (n->slots[i] != was)
				plist_account(pl, n, was, n->slots[i]);
		}
		if (n->used == 0)
			plist_node_free(pl, n);
		if (rc != 0)
			return rc;
	}
tail:
	if (gap_fn != NULL && expect < gap_end)
		rc = gap_fn(ctx, expect, gap_end);
	return rc;
}

int
plist_foreach(struct plist *pl, uint64_t start, uint64_t end,
    plist_slot_fn fn, void *ctx)
{
	return plist_walk(pl, start, end, fn, NULL, ctx);
}

int
plist_foreach_with_gaps(struct plist *pl, uint64_t start, uint64_t end,
    plist_slot_fn fn, plist_gap_fn gap_fn, void *ctx)
{
	return plist_walk(pl, start, end, fn, gap_fn, ctx);
}

/*
 * The read-only walk.  It writes nothing, not even a count that goes down
 * and back up, so any number of threads may run it on one list at once
 * (under the hierarchy lock held shared).  plist_foreach with a callback
 * that leaves the slots alone was once used for this and is not safe:
 * before it accounted only changed slots it did used-- and used++ on
 * every slot visited, and two attribution walks of one hidden node under
 * the shared lock lost updates of a node's used count until a later walk
 * met used == 0 with slots left (issue #16: the n->used > 0 abort).
 */
int
plist_visit(const struct plist *pl, uint64_t start, uint64_t end,
    plist_visit_fn fn, void *ctx)
{
	struct plist_node *n;
	uint64_t s, e;
	unsigned lo, hi;
	int rc;

	if (!plist_range(pl, start, end, &s, &e))
		return 0;
	for (n = plist_node_nfind(pl, plist_node_trunc(s)); n && n->key < e;
	    n = RB_NEXT(plist_tree, (struct plist_tree *)&pl->tree, n)) {
		plist_node_bounds(n, s, e, &lo, &hi);
		for (unsigned i = lo; i < hi; i++) {
			if (n->slots[i] == PLIST_EMPTY)
				continue;
			rc = fn(ctx, n->key + ((uint64_t)i << VM_PAGE_SHIFT) - pl->skew,
			    n->slots[i]);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

int
plist_foreach_run(const struct plist *pl, uint64_t start, uint64_t end,
    plist_run_fn fn, void *ctx)
{
	struct plist_node *n;
	uint64_t s, e, o, rs = 0, re = 0;	/* current run [rs, re); empty if equal */
	unsigned lo, hi;
	int rc;

	if (!plist_range(pl, start, end, &s, &e))
		return 0;
	for (n = plist_node_nfind(pl, plist_node_trunc(s)); n && n->key < e;
	    n = RB_NEXT(plist_tree, &pl->tree, n)) {
		plist_node_bounds(n, s, e, &lo, &hi);
		for (unsigned i = lo; i < hi; i++) {
			if (!plist_is_page(n->slots[i]))
				continue;
			o = n->key + ((uint64_t)i << VM_PAGE_SHIFT) - pl->skew;
			if (o == re && rs != re) {
				re += VM_PAGE_SIZE;
				continue;
			}
			if (rs != re && (rc = fn(ctx, rs, re)) != 0)
				return rc;
			rs = o;
			re = o + VM_PAGE_SIZE;
		}
	}
	return rs != re ? fn(ctx, rs, re) : 0;
}

/* What plist_take does with a node overlapping the range. */
enum plist_take_kind { PLIST_TAKE_NONE, PLIST_TAKE_MOVE, PLIST_TAKE_SPLIT };

static enum plist_take_kind
plist_take_kind(const struct plist_node *n, uint64_t s, uint64_t e)
{
	unsigned lo, hi, in = 0;

	plist_node_bounds(n, s, e, &lo, &hi);
	for (unsigned i = lo; i < hi; i++)
		in += n->slots[i] != PLIST_EMPTY;
	if (in == 0)
		return PLIST_TAKE_NONE;
	return in == n->used ? PLIST_TAKE_MOVE : PLIST_TAKE_SPLIT;
}

/*
 * Take [start, end) out of pl into out (see plist.h).
 *
 * out gets skew (pl->skew + start) mod 64 KiB, so a slot keeps its index
 * and a node's key drops by delta = trunc64K(start + pl->skew).
 *  1. Count the nodes that must be split (at most two: those holding the
 *     range's first and last pages, when they also hold slots outside it)
 *     and allocate a node for each.  Failure: free them, -ENOMEM, pl and
 *     out (empty) untouched.
 *  2. Walk the nodes overlapping the range: move each whole node whose
 *     slots all lie inside, split the others into a spare node.
 */
int
plist_take(struct plist *pl, uint64_t start, uint64_t end, struct plist *out)
{
	struct plist_node *spare[2] = { NULL, NULL }, *n, *next, *m;
	uint64_t s, e, delta;
	struct plist_counts cnt;
	unsigned nspare = 0, lo, hi;

	plist_init(out, (pl->skew + start) % PLIST_NODE_BYTES);
	if (!plist_range(pl, start, end, &s, &e))
		return 0;
	delta = plist_node_trunc(s);

	/* 1. */
	n = plist_node_find(pl, plist_node_trunc(s));
	if (n != NULL && plist_take_kind(n, s, e) == PLIST_TAKE_SPLIT)
		nspare++;
	m = plist_node_find(pl, plist_node_trunc(e - 1));
	if (m != NULL && m != n && plist_take_kind(m, s, e) == PLIST_TAKE_SPLIT)
		nspare++;
	for (unsigned i = 0; i < nspare; i++) {
		if ((spare[i] = vm_calloc(1, sizeof(*spare[i]))) == NULL) {
			while (i-- > 0)
				free(spare[i]);
			return -ENOMEM;
		}
	}

	/* 2. */
	for (n = plist_node_nfind(pl, delta); n && n->key < e; n = next) {
		next = RB_NEXT(plist_tree, &pl->tree, n);
		switch (plist_take_kind(n, s, e)) {
		case PLIST_TAKE_NONE:
			break;
		case PLIST_TAKE_MOVE:
			plist_node_orphan(pl, n, &cnt);
			plist_node_adopt(out, n, n->key - delta, &cnt);
			break;
		case PLIST_TAKE_SPLIT:
			PLIST_ASSERT(nspare > 0, pl);
			m = spare[--nspare];
			m->key = n->key - delta;
			plist_node_bounds(n, s, e, &lo, &hi);
			for (unsigned i = lo; i < hi; i++) {
				if (n->slots[i] == PLIST_EMPTY)
					continue;
				m->slots[i] = n->slots[i];
				n->slots[i] = PLIST_EMPTY;
				plist_account(pl, n, m->slots[i], PLIST_EMPTY);
				plist_account(out, m, PLIST_EMPTY, m->slots[i]);
			}
			PLIST_ASSERT(n->used > 0 && m->used > 0, n);
			plist_node_insert(out, m);
			break;
		}
	}
	PLIST_ASSERT(nspare == 0, pl);
	return 0;
}

/*
 * Supply one node of sp whose slot indices line up with pl's (shift is
 * the key difference).  Never allocates: the node moves whole when pl has
 * no node at its key, else slots merge into pl's node one by one.
 */
static void
plist_supply_aligned(struct plist *pl, uint64_t base, struct plist *sp,
    struct plist_node *n, uint64_t shift,
    void (*drop_fn)(void *, uint64_t, plist_slot_t), void *ctx)
{
	struct plist_node *d = plist_node_find(pl, n->key + shift);
	struct plist_counts cnt;
	uint64_t o;
	plist_slot_t x;

	if (d == NULL) {
		plist_node_orphan(sp, n, &cnt);
		plist_node_adopt(pl, n, n->key + shift, &cnt);
		return;
	}
	for (unsigned i = 0; i < PLIST_FANOUT; i++) {
		if ((x = n->slots[i]) == PLIST_EMPTY)
			continue;
		n->slots[i] = PLIST_EMPTY;
		plist_account(sp, n, x, PLIST_EMPTY);
		if (d->slots[i] == PLIST_EMPTY) {
			d->slots[i] = x;
			plist_account(pl, d, PLIST_EMPTY, x);
			continue;
		}
		o = n->key + ((uint64_t)i << VM_PAGE_SHIFT) - sp->skew;
		PLIST_ASSERT(drop_fn != NULL, sp);
		drop_fn(ctx, base + o, x);
	}
	plist_node_free(sp, n);
}

/* Supply one node of sp slot by slot through plist_set. */
static int
plist_supply_slots(struct plist *pl, uint64_t base, struct plist *sp,
    struct plist_node *n, void (*drop_fn)(void *, uint64_t, plist_slot_t),
    void *ctx)
{
	uint64_t o;
	plist_slot_t x;
	int rc = 0;

	for (unsigned i = 0; i < PLIST_FANOUT; i++) {
		if ((x = n->slots[i]) == PLIST_EMPTY)
			continue;
		o = base + n->key + ((uint64_t)i << VM_PAGE_SHIFT) - sp->skew;
		PLIST_ASSERT(o < PLIST_OFF_LIMIT, sp);
		if (plist_lookup(pl, o) != PLIST_EMPTY) {
			PLIST_ASSERT(drop_fn != NULL, sp);
			drop_fn(ctx, o, x);
		} else if ((rc = plist_set(pl, o, x, NULL)) != 0) {
			break;
		}
		n->slots[i] = PLIST_EMPTY;
		plist_account(sp, n, x, PLIST_EMPTY);
	}
	if (n->used == 0)
		plist_node_free(sp, n);
	return rc;
}

/*
 * Move every slot of sp into pl at base + off (see plist.h); drop_fn gets
 * the offset in pl where the incoming slot collided.  With skews that
 * line up ((base + pl->skew - sp->skew) a multiple of 64 KiB) nothing is
 * allocated and this cannot fail; otherwise each slot goes through
 * plist_set, and on -ENOMEM the slots not yet moved stay in sp (a valid
 * list), those moved or dropped are gone from it.
 */
int
plist_supply(struct plist *pl, uint64_t base, struct plist *sp,
    void (*drop_fn)(void *ctx, uint64_t off, plist_slot_t slot), void *ctx)
{
	uint64_t shift = base + pl->skew - sp->skew;	/* mod 2^64 */
	struct plist_node *n, *next, *last;
	int rc;

	PLIST_ASSERT((base & VM_PAGE_MASK) == 0 && pl != sp, pl);
	if ((last = RB_MAX(plist_tree, &sp->tree)) != NULL) {
		/* Every destination offset stays below the limit. */
		unsigned i = PLIST_FANOUT - 1;

		while (last->slots[i] == PLIST_EMPTY)
			i--;
		PLIST_ASSERT(base < PLIST_OFF_LIMIT &&
		    last->key + ((uint64_t)i << VM_PAGE_SHIFT) - sp->skew <
		    PLIST_OFF_LIMIT - base, sp);
	}
	for (n = RB_MIN(plist_tree, &sp->tree); n != NULL; n = next) {
		next = RB_NEXT(plist_tree, &sp->tree, n);
		if (shift % PLIST_NODE_BYTES == 0) {
			plist_supply_aligned(pl, base, sp, n, shift, drop_fn, ctx);
		} else if ((rc = plist_supply_slots(pl, base, sp, n, drop_fn, ctx)) != 0) {
			return rc;
		}
	}
	PLIST_ASSERT(plist_is_empty(sp) && RB_EMPTY(&sp->tree), sp);
	return 0;
}

size_t
plist_node_bytes(const struct plist *pl)
{
	struct plist_node *n;
	size_t nodes = 0;

	RB_FOREACH(n, plist_tree, (struct plist_tree *)&pl->tree)
		nodes++;
	return nodes * sizeof(struct plist_node);
}

void
plist_check(const struct plist *pl)
{
	struct plist_node *n;
	uint64_t pages = 0, markers = 0, comp = 0, store = 0, prev = 0;
	bool first = true;

	PLIST_ASSERT(pl->skew < PLIST_NODE_BYTES && (pl->skew & VM_PAGE_MASK) == 0, pl);
	RB_FOREACH(n, plist_tree, (struct plist_tree *)&pl->tree) {
		unsigned used = 0;

		PLIST_ASSERT(n->key % PLIST_NODE_BYTES == 0, n);
		PLIST_ASSERT(first || n->key > prev, n);
		PLIST_ASSERT(n->key < PLIST_OFF_LIMIT + PLIST_NODE_BYTES, n);
		for (unsigned i = 0; i < PLIST_FANOUT; i++) {
			plist_slot_t x = n->slots[i];

			if (x == PLIST_EMPTY)
				continue;
			/* No slot below offset 0. */
			PLIST_ASSERT(n->key + ((uint64_t)i << VM_PAGE_SHIFT) >= pl->skew, n);
			PLIST_ASSERT(x == PLIST_MARKER || x == PLIST_STORE ||
			    plist_is_comp(x) || (x & 7) == 0, n);
			used++;
			if (x == PLIST_MARKER)
				markers++;
			else if (x == PLIST_STORE)
				store++;
			else if (plist_is_comp(x))
				comp++;
			else
				pages++;
		}
		PLIST_ASSERT(used > 0 && used == n->used, n);
		prev = n->key;
		first = false;
	}
	PLIST_ASSERT(pages == pl->npages && markers == pl->nmarkers &&
	    comp == pl->ncomp && store == pl->nstore, pl);
	PLIST_ASSERT(!RB_EMPTY(&pl->tree) || plist_is_empty(pl), pl);
}
