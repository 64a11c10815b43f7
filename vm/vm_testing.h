/*
 * vm_testing.h - test-only introspection of libvm (SQLite's
 * sqlite3PcacheStats under SQLITE_TEST).  Tests call these instead of
 * reaching into structs.  Not for fs/.
 */
#ifndef VM_TESTING_H
#define VM_TESTING_H

#include <stdbool.h>
#include <stdint.h>
#include "vmo.h"

/* Levels from the VMO's leaf to its root (1 = no parent). */
uint64_t vmo_test_depth(struct vmo *vmo);
/* Pages in the VM's objects right now. */
uint64_t vm_test_used_pages(struct vm *vm);
/* Free pages: PMM plus per-CPU reserves. */
uint64_t vm_test_free_pages(struct vm *vm);
/*
 * Check every invariant of the VMO's whole hierarchy (asserts): page-list
 * counts (plist_check on every node), page backlinks and states, child counts, no pinned page in a hidden node,
 * every page of a hidden node seen by some VMO.  Returns the number of
 * nodes checked.
 */
uint64_t vmo_test_check(struct vmo *vmo);
/* Heap bytes of the page lists of the VMO's leaf (metadata figure). */
uint64_t vmo_test_plist_bytes(struct vmo *vmo);

/* Attribution's per-level viewer index on (default) or off. */
void vm_test_set_vindex(bool on);

/* Every page's slot references == its share count + 1 (see testing.c). */
void vm_test_check_refs(struct vm *vm, struct vmo **v, int n);

/*
 * Check the list of discardable candidates (discard.c): sorted by unlock,
 * every entry marked listed, its length counted right.  Returns the
 * length.  Also run by vmo_test_check.
 */
uint64_t vm_test_check_discard(struct vm *vm);
/* Discardable VMOs' ids on reclaim's list, oldest unlock first; returns
 * how many there are (up to n stored). */
uint64_t vm_test_discard_order(struct vm *vm, uint64_t *ids, uint64_t n);

/*
 * Arena index of the page the VMO shows at off (its own or an
 * ancestor's), or -1 for none; and whether arena page idx is lent by a
 * contiguous VMO now (contig.c).
 */
int64_t vmo_test_page_index(struct vmo *vmo, uint64_t off);
bool vm_test_page_lent(struct vm *vm, uint64_t idx);
/*
 * A contiguous VMO's invariant: slot i holds arena page first + i or
 * nothing, each held page carries the base pin, each missing one is lent.
 * Returns the pages it holds.  (Asserts.)
 */
uint64_t vmo_test_check_contig(struct vmo *vmo);

/* Print the VMO's whole clone tree to stderr (debugging). */
void vmo_test_dump(struct vmo *vmo);

/*
 * Run reclaim now, as vm_reserve would when short, for up to pages pages
 * (pager-backed, then anonymous: zero markers, and compression if the VM
 * has a store); returns the pages freed.  No lock may be held.
 */
uint64_t vm_test_reclaim(struct vm *vm, uint64_t pages);
/* One aging tick of the page queues (the reclaimer thread's timer). */
void vm_test_age(struct vm *vm);
/* One pass of the idle zero-page scanner (the reclaimer thread runs one
 * per tick); returns the pages it swapped for zero markers. */
uint64_t vm_test_zero_scan(struct vm *vm);

#endif /* VM_TESTING_H */
