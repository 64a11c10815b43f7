/*
 * plist.h - sparse page list, as Zircon's VmPageList (shared/seeds/002).
 * See plist.c for the design.
 *
 * A plist maps page-aligned byte offsets to slots.  Slots live in nodes
 * of PLIST_FANOUT (16) consecutive pages, and the nodes in a red-black
 * tree (libbsd <bsd/sys/tree.h>) keyed by their first offset.  A slot is
 *   empty   (PLIST_EMPTY)  - nothing here: look further up the clone chain;
 *   marker  (PLIST_MARKER) - explicitly zero: stop looking, read zeros;
 *   page    (a struct vm_page *, 8-byte aligned);
 *   compressed (a zstore handle) and store (PLIST_STORE): below.
 *
 * Skew: every offset is shifted by the list's skew before it is split into
 * node key and slot index.  A child in a clone tree gets skew =
 * (parent skew + parent_offset) mod (16 pages), so offset o in the child
 * and o + parent_offset in the parent sit in the same slot index and whole
 * nodes line up when pages move between them.
 *
 * Not thread safe: the owner's lock (the hierarchy lock) guards a plist.
 * Offsets must be page aligned (asserted).  No function here frees pages;
 * slots are handed back to the caller.
 */
#ifndef VM_PLIST_H
#define VM_PLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <bsd/sys/tree.h>
#include "page.h"

#define PLIST_FANOUT 16
#define PLIST_NODE_BYTES ((uint64_t)PLIST_FANOUT * VM_PAGE_SIZE)

typedef uintptr_t plist_slot_t;
#define PLIST_EMPTY  ((plist_slot_t)0)
#define PLIST_MARKER ((plist_slot_t)1)

/*
 * A third kind of slot: a page's bytes held compressed (vm/zstore.c), a
 * 32-bit store handle tagged with the low bit (pages are 8-byte aligned;
 * handle 0 would be PLIST_MARKER and is never issued).  It shows bytes
 * like a page but has no page: plist_page gives NULL.
 */
/*
 * A fourth kind: PLIST_STORE, "the backing store's bytes" -- a page of a
 * pager-backed hierarchy that was evicted from a node other than the top
 * one (pager.c, "Evicted pages").  Like a marker it has no page; unlike
 * one, it reads the store.  All ones: odd, and no 32-bit handle makes it.
 */
#define PLIST_STORE  (~(plist_slot_t)0)

static inline bool plist_is_page(plist_slot_t s) { return s != 0 && (s & 1) == 0; }
static inline bool plist_is_comp(plist_slot_t s)
{
	return (s & 1) != 0 && s != PLIST_MARKER && s != PLIST_STORE;
}
static inline uint32_t plist_comp_handle(plist_slot_t s) { return (uint32_t)(s >> 1); }
static inline plist_slot_t plist_from_comp(uint32_t h) { return ((plist_slot_t)h << 1) | 1; }
/* Holds bytes in memory (a page or compressed ones): not empty, not a
 * marker (zero), not PLIST_STORE (the bytes are in the backing store). */
static inline bool plist_has_data(plist_slot_t s)
{
	return s != 0 && s != PLIST_MARKER && s != PLIST_STORE;
}
static inline struct vm_page *plist_page(plist_slot_t s)
{
	return plist_is_page(s) ? (struct vm_page *)s : NULL;
}
static inline plist_slot_t plist_from_page(struct vm_page *p) { return (plist_slot_t)p; }

struct plist_node {
	RB_ENTRY(plist_node) link;
	uint64_t	key;		/* (first offset + skew), node aligned */
	uint32_t	used;		/* non-empty slots */
	plist_slot_t	slots[PLIST_FANOUT];
};
RB_HEAD(plist_tree, plist_node);

struct plist {
	struct plist_tree tree;
	uint64_t	skew;		/* < PLIST_NODE_BYTES, page aligned */
	uint64_t	npages;		/* page slots */
	uint64_t	nmarkers;	/* marker slots */
	uint64_t	ncomp;		/* compressed slots */
	uint64_t	nstore;		/* PLIST_STORE slots */
};

void plist_init(struct plist *pl, uint64_t skew);
/* The list must be empty (asserted); frees nothing else. */
void plist_fini(struct plist *pl);
/* Non-empty slots, of every kind. */
static inline uint64_t plist_nslots(const struct plist *pl)
{
	return pl->npages + pl->nmarkers + pl->ncomp + pl->nstore;
}
static inline bool plist_is_empty(const struct plist *pl)
{
	return pl->npages == 0 && pl->nmarkers == 0 && pl->ncomp == 0 &&
	    pl->nstore == 0;
}

/* The slot at off (PLIST_EMPTY if none). */
plist_slot_t plist_lookup(const struct plist *pl, uint64_t off);
/*
 * Store slot at off (slot may be PLIST_EMPTY: same as plist_remove).
 * Returns 0 or -ENOMEM (node allocation, vm_calloc: the fault injector
 * applies).  *old, if not NULL, receives the previous slot.  On -ENOMEM
 * nothing changed.
 */
int plist_set(struct plist *pl, uint64_t off, plist_slot_t slot, plist_slot_t *old);
/* Clear the slot at off and return what was there; frees emptied nodes. */
plist_slot_t plist_remove(struct plist *pl, uint64_t off);

/*
 * First non-empty slot with start <= offset < end.  Returns true and
 * fills *off and *slot, or false when there is none.
 */
bool plist_next(const struct plist *pl, uint64_t start, uint64_t end,
    uint64_t *off, plist_slot_t *slot);
/* True if any slot in [start, end) is non-empty. */
bool plist_any(const struct plist *pl, uint64_t start, uint64_t end);

/*
 * Visit the non-empty slots in [start, end) in offset order.  fn may
 * change *slot (e.g. to PLIST_EMPTY or to another page): counts and empty
 * nodes are fixed up after fn returns (only slots fn changed are
 * accounted).  fn must not otherwise modify pl.  A non-zero return from
 * fn stops the walk and is returned.  A walk that may change slots needs
 * the owner's lock exclusively; readers use plist_visit.
 */
typedef int (*plist_slot_fn)(void *ctx, uint64_t off, plist_slot_t *slot);
int plist_foreach(struct plist *pl, uint64_t start, uint64_t end,
    plist_slot_fn fn, void *ctx);
/*
 * Read-only: call fn with each non-empty slot of [start, end) in offset
 * order; a non-zero return stops the walk and is returned.  Writes nothing
 * (the list is const), so readers sharing the owner's lock may each run
 * one: every walk under a shared hierarchy lock must be this one, never
 * plist_foreach (which may free nodes and rewrite counts).  fn must not
 * modify pl.
 */
typedef int (*plist_visit_fn)(void *ctx, uint64_t off, plist_slot_t slot);
int plist_visit(const struct plist *pl, uint64_t start, uint64_t end,
    plist_visit_fn fn, void *ctx);
/*
 * As plist_foreach, and also call gap_fn once for every maximal run
 * [gstart, gend) of empty slots in [start, end).  Either fn may be NULL.
 */
typedef int (*plist_gap_fn)(void *ctx, uint64_t gstart, uint64_t gend);
int plist_foreach_with_gaps(struct plist *pl, uint64_t start, uint64_t end,
    plist_slot_fn fn, plist_gap_fn gap_fn, void *ctx);
/*
 * Call fn once per maximal run [rstart, rend) of consecutive *page* slots
 * (markers and empties end a run) within [start, end).
 */
typedef int (*plist_run_fn)(void *ctx, uint64_t rstart, uint64_t rend);
int plist_foreach_run(const struct plist *pl, uint64_t start, uint64_t end,
    plist_run_fn fn, void *ctx);

/*
 * Splice lists: take every slot of [start, end) out of pl into out
 * (initialised here; offsets in out are relative to start, skew chosen so
 * nodes line up), and supply a splice back into a list at a new base.
 * plist_take never fails (nodes move when they line up, else are
 * re-homed; a node allocation that fails falls back to moving slots into
 * an existing node... see plist.c) -- it returns 0 or -ENOMEM with pl
 * unchanged.  plist_supply moves every slot of sp into pl at base + off;
 * slots already occupied in pl are left alone and the incoming slot is
 * handed to drop_fn (may be NULL only if none collide).  sp is empty
 * afterwards.  Returns 0 or -ENOMEM (then sp keeps what was not moved).
 */
int plist_take(struct plist *pl, uint64_t start, uint64_t end, struct plist *out);
int plist_supply(struct plist *pl, uint64_t base, struct plist *sp,
    void (*drop_fn)(void *ctx, uint64_t off, plist_slot_t slot), void *ctx);

/* Heap bytes held by the list's nodes (for the metadata-per-page figure). */
size_t plist_node_bytes(const struct plist *pl);

/*
 * Testing: assert the list's invariants (npages/nmarkers match the slots,
 * every node's used count is exact and non-zero, keys node aligned and
 * increasing, no slot below offset 0).  Walks the whole list.
 */
void plist_check(const struct plist *pl);

#endif /* VM_PLIST_H */
