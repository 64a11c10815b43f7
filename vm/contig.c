/*
 * contig.c - contiguous VMOs and page loaning (issue #17 item 4; Zircon's
 * VmObjectPaged::CreateContiguous and PhysicalPageProvider, seed 001).
 *
 * A contiguous VMO's pages are one run of the arena, in order:
 *
 *     arena  [ ... | c0 | c1 | c2 | ... | c(n-1) | ... ]     run from pmm_alloc_contig
 *     VMO     offset 0    P    2P        (n-1)P              slot i holds ci, or nothing
 *
 * It is made committed and pinned (every page holds a base pin of 1, so
 * reclaim never takes one and user.vmo.pinned is its size); its size is
 * fixed; it has slices but no clones or references (Zircon: none), and
 * shares no pages (copy_file_range copies).  Slot i holds page ci or is
 * empty: nothing else ever goes there.
 *
 * Loaning.  Decommit of a range (no user pin in it) drops the base pins
 * and lends the pages to the PMM (pmm_loan): they read zero here, and
 * wait on the loaned list.  Movable allocations (vm_page_alloc_movable:
 * copy-on-write and zero fill of anonymous pages) borrow them when nothing
 * else is free.  A borrowed page is kept movable: pinning it, or sharing
 * it with copy_file_range, first moves its bytes to an ordinary page
 * (contig_unloan, vmo.c), and compression never keeps one as ballast.
 *
 * Taking it back.  Any operation of the contiguous VMO that fills slots
 * (write, commit, pin) first calls contig_fill for its range: each empty
 * slot i gets ci back (pmm_reclaim_loan).  If a borrower holds ci, the
 * loan is cancelled (ci is never lent again) and the borrower's page is
 * migrated: a fresh ordinary page gets its bytes, flags and queue, takes
 * its slot, and ci, freed, waits for us.  The borrower's data is kept;
 * if no ordinary page is free the fill fails -ENOSPC (the caller's room
 * retry reclaims and tries again).
 *
 * Locks.  contig_fill runs under the contiguous hierarchy's lock and takes
 * the borrower's (page -> hierarchy as reclaim does: a hierarchy reference
 * taken under the pq lock, then the lock, then a re-check).  That is the
 * one place a contiguous hierarchy's lock is held with another: nobody
 * holding a borrower's lock takes a contiguous hierarchy's (they share no
 * pages, vmo_share_range refuses them before locking), so the order
 * contiguous -> borrower cannot deadlock.  A contiguous hierarchy never
 * borrows its own pages (its slots are filled only here), and migration
 * refuses one that would.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "pmm.h"
#include "pq.h"
#include "vm_internal.h"

#define CONTIG_TRIES	10000	/* waits for a borrowed page in flight */

int
vmo_create_contiguous(struct vm *vm, uint64_t size, struct vmo **out)
{
	uint64_t n = vm_page_roundup(size) / VM_PAGE_SIZE, i;
	struct vm_page *run;
	struct cow_node *leaf;
	struct vmo *v;
	int err;

	if (size == 0 || out == NULL)
		return -EINVAL;
	if ((err = vmo_create(vm, size, 0, &v)) != 0)
		return err;
	if ((err = pmm_alloc_contig(vm->pmm, n, &run)) != 0) {
		vmo_unref(v);
		return err;
	}
	atomic_fetch_add_explicit(&vm->used_pages, n, memory_order_relaxed);
	hier_wlock(v->h);
	leaf = v->cow;
	for (i = 0; i < n; i++) {
		struct vm_page *p = run + i;

		memset(vm_page_addr(vm, p), 0, VM_PAGE_SIZE);
		if ((err = plist_set(&leaf->pages, i * VM_PAGE_SIZE,
		    plist_from_page(p), NULL)) != 0)
			goto err_out;
		p->pin_count = 1;	/* the base pin: before settle queues it */
		cow_page_settle(p, leaf, i * VM_PAGE_SIZE);
		leaf->npinned++;
	}
	v->h->cbase = run;
	v->h->cpages = n;
	hier_unlock(v->h);
	atomic_fetch_add(&vm->ncontig, 1);
	*out = v;
	return 0;

err_out:
	/* Pages 0..i-1 are in slots, pinned; the rest only allocated. */
	for (uint64_t j = 0; j < n; j++) {
		struct vm_page *p = run + j;

		if (j < i) {
			plist_remove(&leaf->pages, j * VM_PAGE_SIZE);
			p->pin_count = 0;
			leaf->npinned--;
		}
		vm_page_free(vm, p);
	}
	hier_unlock(v->h);
	vmo_unref(v);
	return err;
}

bool
vmo_is_contiguous(const struct vmo *v)
{
	return hier_is_contig(v->h);
}

/*
 * Page p, borrowed, sits in n's slot at off: give its bytes, flags and
 * queue to a fresh ordinary page, which takes the slot; p is freed (to
 * its lender).  *pp becomes the new page.  n's hierarchy locked
 * exclusively; p unpinned and unshared.  0 or -ENOSPC (nothing changed).
 */
int
contig_unloan(struct vm *vm, struct cow_node *n, uint64_t off,
    struct vm_page **pp)
{
	struct vm_page *p = *pp, *q;
	uint8_t flags = p->flags & (uint8_t)~VM_PAGE_F_SHARED;
	int err;

	HIER_ASSERT_WLOCKED(n->h);
	assert(p->pin_count == 0 && atomic_load(&p->share) == 0);
	if ((err = vm_page_alloc(vm, &q)) != 0)
		return err;
	memcpy(vm_page_addr(vm, q), vm_page_addr(vm, p), VM_PAGE_SIZE);
	__atomic_store_n(&q->flags, flags, __ATOMIC_RELAXED);
	/* Replacing a slot allocates nothing. */
	plist_set(&n->pages, off, plist_from_page(q), NULL);
	cow_page_settle(q, n, off);
	if (flags & VM_PAGE_F_ALWAYSNEED)
		pq_hint_alwaysneed(vm->pq, q, true);
	else if (flags & VM_PAGE_F_DONTNEED)
		pq_hint_dontneed(vm->pq, q);
	vm_page_free(vm, p);
	*pp = q;
	return 0;
}

/*
 * Move the borrower's copy of lent page x off it (contig_unloan under the
 * borrower's lock), so that x comes back to its lender.  self: the
 * lender's hierarchy (locked by the caller).  0 (x is free now), -EAGAIN
 * (x is in flight: not in a slot right now; ask again), -EBUSY (pinned or
 * shared: cannot move, or it is self's), -ENOSPC.
 */
static int
contig_migrate(struct vm *vm, struct vm_page *x, struct hier *self)
{
	struct cow_node *n = NULL;
	struct hier *h;
	uint64_t r, off = 0;
	bool ok;
	int err;

	pq_lock(vm->pq);
	if (!pq_queued(x) || x->state != VM_PAGE_OBJECT || x->owner == NULL) {
		pq_unlock(vm->pq);
		return -EAGAIN;
	}
	h = ((struct cow_node *)x->owner)->h;
	r = atomic_load(&h->refs);
	do {
		if (r == 0) {		/* being torn down: x is freed soon */
			pq_unlock(vm->pq);
			return -EAGAIN;
		}
	} while (!atomic_compare_exchange_weak(&h->refs, &r, r + 1));
	pq_unlock(vm->pq);
	if (h == self) {
		hier_put(h);
		return -EBUSY;
	}
	hier_wlock(h);
	pq_lock(vm->pq);
	ok = pq_queued(x) && x->state == VM_PAGE_OBJECT && x->owner != NULL &&
	    ((struct cow_node *)x->owner)->h == h;
	if (ok) {
		n = x->owner;
		off = x->offset;
	}
	pq_unlock(vm->pq);
	if (!ok || plist_lookup(&n->pages, off) != plist_from_page(x))
		err = -EAGAIN;
	else if (x->pin_count > 0 || atomic_load(&x->share) != 0 ||
	    (x->flags & VM_PAGE_F_SHARED))
		err = -EBUSY;
	else
		err = contig_unloan(vm, n, off, &x);
	hier_unlock(h);
	hier_put(h);
	if (err == 0)
		atomic_fetch_add_explicit(&vm->loan_migrations, 1,
		    memory_order_relaxed);
	return err;
}

/* Get lent page x back for h (locked).  0 (x is ALLOC, ours) or -errno. */
static int
contig_take_back(struct vm *vm, struct vm_page *x, struct hier *h)
{
	unsigned tries;
	int err;

	for (tries = 0;; tries++) {
		if (pmm_reclaim_loan(vm->pmm, x) == 0) {
			atomic_fetch_add_explicit(&vm->used_pages, 1,
			    memory_order_relaxed);
			return 0;
		}
		err = contig_migrate(vm, x, h);
		if (err == 0)
			continue;
		if (err != -EAGAIN)
			return err;
		if (tries == CONTIG_TRIES)
			return -EBUSY;
		sched_yield();
	}
}

/*
 * v (a contiguous VMO or a slice of one, not a reference) is about to
 * fill [start, end) of its own offsets: give every empty slot of it its
 * page back.  Exclusive lock held (and kept).  0, or -ENOSPC/-EBUSY/
 * -ENOMEM with the slots done so far filled (each reads zero either way).
 */
int
contig_fill(struct vmo *v, uint64_t start, uint64_t end)
{
	struct vm *vm = v->vm;
	struct hier *h = v->h;
	struct cow_node *leaf;
	uint64_t base, o, lim;
	int err;

	HIER_ASSERT_WLOCKED(h);
	assert(hier_is_contig(h));
	leaf = vmo_leaf(v, &base);
	lim = h->cpages * VM_PAGE_SIZE;
	for (o = base + vm_page_trunc(start); o < base + end && o < lim;
	    o += VM_PAGE_SIZE) {
		struct vm_page *x = h->cbase + o / VM_PAGE_SIZE;
		plist_slot_t s = plist_lookup(&leaf->pages, o);

		if (plist_is_page(s)) {
			assert(plist_page(s) == x && "a contiguous VMO's slot "
			    "holds its own page");
			continue;
		}
		if ((err = contig_take_back(vm, x, h)) != 0)
			return err;
		memset(vm_page_addr(vm, x), 0, VM_PAGE_SIZE);
		if ((err = plist_set(&leaf->pages, o, plist_from_page(x), NULL)) != 0) {
			atomic_fetch_sub_explicit(&vm->used_pages, 1,
			    memory_order_relaxed);
			pmm_loan(vm->pmm, x);
			return err;
		}
		x->pin_count = 1;
		cow_page_settle(x, leaf, o);
		leaf->npinned++;
	}
	return 0;
}

/*
 * Decommit [start, end) (page aligned, v's offsets) of contiguous v: its
 * pages are lent.  Exclusive lock held.  0, or -EBUSY (a user pin in the
 * range: nothing changed).
 */
int
contig_decommit(struct vmo *v, uint64_t start, uint64_t end)
{
	struct vm *vm = v->vm;
	struct cow_node *leaf;
	uint64_t base, o;

	HIER_ASSERT_WLOCKED(v->h);
	leaf = vmo_leaf(v, &base);
	for (o = base + start; o < base + end; o += VM_PAGE_SIZE) {
		struct vm_page *p = plist_page(plist_lookup(&leaf->pages, o));

		if (p != NULL && p->pin_count > 1)
			return -EBUSY;
	}
	for (o = base + start; o < base + end; o += VM_PAGE_SIZE) {
		struct vm_page *p = plist_page(plist_lookup(&leaf->pages, o));

		if (p == NULL)
			continue;
		plist_remove(&leaf->pages, o);
		p->pin_count = 0;
		leaf->npinned--;
		if (pq_queued(p))
			pq_dequeue(vm->pq, p);
		p->owner = NULL;
		p->offset = 0;
		__atomic_store_n(&p->flags, 0, __ATOMIC_RELAXED);
		atomic_fetch_sub_explicit(&vm->used_pages, 1, memory_order_relaxed);
		pmm_loan(vm->pmm, p);
	}
	return 0;
}

/*
 * The contiguous VMO v is going (vmo_destroy, lock held): its pins go,
 * and its loans end -- lent pages become ordinary ones, free or the
 * borrowers' for good.  Its own pages are freed with its leaf after.
 */
void
contig_destroy(struct vmo *v)
{
	struct hier *h = v->h;
	struct cow_node *leaf = v->cow;
	uint64_t i;

	HIER_ASSERT_WLOCKED(h);
	for (i = 0; i < h->cpages; i++) {
		struct vm_page *p = plist_page(plist_lookup(&leaf->pages,
		    i * VM_PAGE_SIZE));

		if (p == NULL || p->pin_count == 0)
			continue;
		p->pin_count = 0;
		leaf->npinned--;
		if (pq_queued(p))
			pq_set_pinned(v->vm->pq, p, false);
	}
	pmm_end_loans(v->vm->pmm, h->cbase, h->cpages);
	atomic_fetch_sub(&v->vm->ncontig, 1);
}
