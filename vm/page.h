/*
 * page.h - the vm_page: one descriptor per page of the PMM arena.
 *
 * Every page of the arena has exactly one struct vm_page, kept in a flat
 * array beside the arena so that page <-> address is index arithmetic
 * (pmm_page_addr / pmm_addr_page).  The descriptor says who owns the page
 * and where: a page in an object (a cow node of a clone hierarchy) points
 * back at that node and at its offset there, so reclaim can go from a page
 * to its owner (FreeBSD vm_page.object/pindex, Zircon vm_page.object).
 *
 * Size matters: the budget is 64 bytes of metadata per committed page,
 * descriptor and page-list slot together (docs/design.md).  It is 48.
 *
 * Locking legend:
 *   (F) the PMM free-list lock, or the per-CPU cache lock, whichever list
 *       the page is on while it is free;
 *   (H) the hierarchy lock of the owning cow node while state is OBJECT;
 *   (Q) the page-queue lock (issue 4: page queues);
 *   (c) constant after pmm_create;
 *   (A) atomic.
 * Fields with two tags: either lock to read, both to write.
 */
#ifndef VM_PAGE_H
#define VM_PAGE_H

#include <stdint.h>
#include <bsd/sys/queue.h>

#define VM_PAGE_SIZE  4096u
#define VM_PAGE_SHIFT 12
#define VM_PAGE_MASK  ((uint64_t)VM_PAGE_SIZE - 1)

/* Round down / up to a page.  vm_page_roundup saturates instead of wrapping. */
static inline uint64_t vm_page_trunc(uint64_t x) { return x & ~VM_PAGE_MASK; }
static inline uint64_t vm_page_roundup(uint64_t x)
{
	return x > UINT64_MAX - VM_PAGE_MASK ? UINT64_MAX & ~VM_PAGE_MASK
					     : (x + VM_PAGE_MASK) & ~VM_PAGE_MASK;
}

enum vm_page_state {
	VM_PAGE_FREE = 0,	/* on a PMM free list */
	VM_PAGE_CACHED,		/* in a per-CPU cache reserve: free, but not the PMM's */
	VM_PAGE_ALLOC,		/* handed out, not yet in an object */
	VM_PAGE_OBJECT,		/* in a cow node's page list: owner/offset valid */
	VM_PAGE_WIRED,		/* allocated for the VM's own use */
	VM_PAGE_NSTATES
};

/* flags */
#define VM_PAGE_F_UNDEF	0x01	/* contents not yet defined (vmo_write_iov) */
#define VM_PAGE_F_DIRTY	0x04	/* pager-backed: differs from the store */
#define VM_PAGE_F_ALWAYSNEED 0x08	/* hint: never reclaim */
#define VM_PAGE_F_DONTNEED 0x10	/* hint: reclaim first */
#define VM_PAGE_F_NOCOMP	0x20	/* anonymous: neither zero nor compressible
				   when last looked at; cleared on write */
#define VM_PAGE_F_ZSCANNED 0x40	/* the zero scanner found it not zero;
				   cleared on write */
#define VM_PAGE_F_SHARED 0x02	/* has been shared by vmo_share_range: the
				   owner/offset backlink may be stale */

struct vm_page {
	TAILQ_ENTRY(vm_page) link;	/* free list or page queue (F,Q) */
	void		*owner;		/* struct cow_node * when OBJECT (H; and Q
					   while queued: see pq_lock) */
	uint64_t	offset;		/* byte offset in owner (as owner) */
	uint32_t	pin_count;	/* pins held; >0 = never reclaimed (H) */
	uint8_t		state;		/* enum vm_page_state (F,H) */
	uint8_t		flags;		/* VM_PAGE_F_* (A): vm_page_flag_* */
	uint8_t		queue;		/* page queue index, issue 4 (Q) */
	uint8_t		resident;	/* arena memory touched since last madvise (F) */
	uint8_t		loan;		/* enum vm_page_loan: a contiguous VMO's page
					   lent out (PMM lock to change; atomic
					   loads elsewhere, pmm_page_lent) */
	_Atomic uint32_t share;		/* extra slots referencing the page:
					   >0 = never written in place (A) */
};

TAILQ_HEAD(vm_page_list, vm_page);

/* Page loaning (pmm.c, vm/contig.c): a page a contiguous VMO decommitted. */
enum vm_page_loan {
	VM_PAGE_LOAN_NONE = 0,	/* an ordinary page */
	VM_PAGE_LOAN_LENT,	/* lent: free on the PMM's loaned list, or
				   in use by a borrower */
	VM_PAGE_LOAN_CANCELLED,	/* its lender wants it back: never lent
				   again; freed, it waits for the lender */
};

/*
 * Page flags are changed atomically: a page shared by copy_file_range sits
 * in slots of two hierarchies, each under its own lock, so no one lock
 * covers its flags.  Reads may be plain loads (a stale bit is re-checked
 * under the caller's own hierarchy lock where it matters).
 */
static inline void vm_page_flag_set(struct vm_page *p, uint8_t f)
{
	__atomic_fetch_or(&p->flags, f, __ATOMIC_RELAXED);
}
static inline void vm_page_flag_clear(struct vm_page *p, uint8_t f)
{
	__atomic_fetch_and(&p->flags, (uint8_t)~f, __ATOMIC_RELAXED);
}

#endif /* VM_PAGE_H */
