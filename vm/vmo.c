/*
 * vmo.c - VMO handles (Zircon's VmObjectPaged): the public API of libvm.
 *
 * A VMO is one of
 *   anonymous  a root: its leaf cow node has no parent at first;
 *   clone      a snapshot: its leaf hangs below a hidden node (cow.c);
 *   slice      a window [slice_off, slice_off + size) onto another VMO's
 *              leaf, holding no node of its own.  Every operation on a
 *              slice is done on its root's leaf at slice_off + offset, so
 *              writes are seen both ways at once.
 *   reference  a second handle onto another VMO (its target, in root),
 *              with its own id and children.  Every public function below
 *              starts with v = vmo_target(v): the call is made on the
 *              target, so pages, content size and resizes are shared by
 *              construction and nothing needs propagating.  Attribution
 *              is the exception: a reference is charged nothing.
 * This file turns byte ranges into page operations on cow nodes, keeps
 * content sizes, and does the bookkeeping of ids, children and slices.
 *
 * Content size and the tail.  A VMO's size is in bytes; its pages cover
 * that rounded up.  Invariant: bytes past the content size inside the last
 * page read zero.  Shrinking zeroes the tail; a clone whose length is not
 * page aligned zeroes its own tail at creation; growing then has nothing
 * to do.  (Slices see whole pages, so the tail must really be zero.)
 *
 * Locking: each public function takes the hierarchy lock once, shared for
 * reads and exclusive for changes, and releases it before returning; the
 * helpers below say "locked" and assert it.  Refs are atomic; the last
 * vmo_unref takes the lock to unhook the VMO.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "pager.h"
#include "pmm.h"
#include "pq.h"
#include "vm_internal.h"
#include "vm_testing.h"
#include "zstore.h"

const char *
vmo_kind_name(enum vmo_kind kind)
{
	switch (kind) {
	case VMO_ANON:	return "anonymous";
	case VMO_PAGER:	return "pager";
	case VMO_CLONE:	return "clone";
	case VMO_SLICE:	return "slice";
	case VMO_REF:	return "reference";
	}
	return "unknown";
}

static struct hier *
hier_new(struct vm *vm)
{
	struct hier *h = vm_calloc(1, sizeof(*h));
	pthread_rwlockattr_t a;

	if (h == NULL)
		return NULL;
	/* Writers must not starve behind a stream of readers. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&h->lock, &a);
	pthread_rwlockattr_destroy(&a);
	pager_req_init(h);
	h->vm = vm;
	return h;
}

/* Drop a reference; the last one frees the hierarchy. */
void
hier_put(struct hier *h)
{
	if (atomic_fetch_sub(&h->refs, 1) == 1) {
		pthread_rwlock_destroy(&h->lock);
		pager_req_fini(h);
		free(h);
	}
}

static struct vmo *
vmo_new(struct vm *vm, struct hier *h, enum vmo_kind kind)
{
	struct vmo *v = vm_calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->vm = vm;
	v->h = h;
	v->kind = kind;
	atomic_init(&v->refs, 1);
	LIST_INIT(&v->slices);
	LIST_INIT(&v->made);
	return v;
}

/* Publish a fully built VMO: id, counters, origin link.  Locked (excl). */
static void
vmo_publish(struct vmo *v, struct vmo *origin)
{
	v->id = atomic_fetch_add(&v->vm->next_id, 1);
	atomic_fetch_add(&v->vm->nvmos, 1);
	atomic_fetch_add(&v->h->refs, 1);
	if (origin != NULL) {
		v->origin = origin;
		v->parent_id = origin->id;
		LIST_INSERT_HEAD(&origin->made, v, made_link);
		origin->nmade++;
	}
}

int
vmo_create(struct vm *vm, uint64_t size, unsigned flags, struct vmo **out)
{
	struct hier *h;
	struct vmo *v;

	if ((flags & ~(VMO_RESIZABLE | VMO_DISCARDABLE)) != 0 || out == NULL)
		return -EINVAL;
	if (size > VMO_MAX_SIZE)
		return -EFBIG;
	h = hier_new(vm);
	if (h == NULL)
		return -ENOMEM;
	v = vmo_new(vm, h, VMO_ANON);
	if (v == NULL)
		goto err_out1;
	v->cow = cow_node_new(h, 0);
	if (v->cow == NULL)
		goto err_out2;
	v->cow->vmo = v;
	v->flags = flags;
	v->size = size;
	if (flags & VMO_DISCARDABLE)
		discard_make(v);
	vmo_publish(v, NULL);
	*out = v;
	return 0;

err_out2:
	free(v);
err_out1:
	pthread_rwlock_destroy(&h->lock);
	pager_req_fini(h);
	free(h);
	return -ENOMEM;
}


/*
 * Zero bytes [start, end) of one page of leaf n (a page's worth at most),
 * copying on write only if that page shows anything.  Locked (excl).
 */
static int
zero_prep(struct vm *vm, struct cow_node *n, uint64_t start, uint64_t end,
    struct vm_page **pp)
{
	uint64_t pg = vm_page_trunc(start), oo;
	struct cow_node *owner;

	*pp = NULL;
	if (end <= start)
		return 0;
	assert(end - pg <= VM_PAGE_SIZE);
	/* Nothing to zero where nothing shows -- but a page still in a
	 * backing store shows its bytes (evicted, or never read). */
	if (!plist_has_data(cow_lookup(n, pg, &owner, &oo))) {
		struct cow_node *top;

		if (n->h->pops != NULL && cow_lookup_top(n, pg, &top, &oo) ==
		    PLIST_EMPTY && top != NULL && pager_in_store(top, oo))
			goto writable;
		/* Below a live VMO (at-least-on-write) nothing shows yet,
		 * but its later writes would: a marker keeps the page zero. */
		if (n->parent != NULL && pg < n->parent_limit &&
		    plist_lookup(&n->pages, pg) == PLIST_EMPTY && cow_live_above(n))
			return plist_set(&n->pages, pg, PLIST_MARKER, NULL);
		return 0;
	}
writable:
	/* A private copy with the same bytes: nothing visible changes
	 * until the caller zeroes it. */
	return cow_get_writable(vm, n, pg, COW_FILL, pp, NULL);
}

static void
zero_apply(struct vm *vm, struct vm_page *p, uint64_t start, uint64_t end)
{
	if (p != NULL)
		memset((char *)vm_page_addr(vm, p) + (start - vm_page_trunc(start)),
		    0, end - start);
}

static int
zero_in_page(struct vm *vm, struct cow_node *n, uint64_t start, uint64_t end)
{
	struct vm_page *p;
	int err;

	if ((err = zero_prep(vm, n, start, end, &p)) == 0)
		zero_apply(vm, p, start, end);
	return err;
}

/*
 * Zero two partial pages, [s1, e1) and [s2, e2), all or nothing: both
 * pages are made writable before either is zeroed.  Locked (excl).
 */
static int
zero_two_partials(struct vm *vm, struct cow_node *n, uint64_t s1, uint64_t e1,
    uint64_t s2, uint64_t e2)
{
	struct vm_page *p1, *p2;
	int err;

	if ((err = zero_prep(vm, n, s1, e1, &p1)) != 0 ||
	    (err = zero_prep(vm, n, s2, e2, &p2)) != 0)
		return err;
	/* The second prep cannot have moved the first page: they differ. */
	zero_apply(vm, p1, s1, e1);
	zero_apply(vm, p2, s2, e2);
	return 0;
}

static int
clone_once(struct vmo *handle, enum vmo_clone_kind kind, uint64_t off,
    uint64_t len, struct vmo **out)
{
	struct vmo *src = vmo_target(handle);	/* origin stays the handle */
	struct vm *vm = src->vm;
	struct cow_node *leaf, *c;
	struct vmo *v;
	uint64_t base, shown, win, size, send;
	int err;

	if ((off & VM_PAGE_MASK) != 0 || off > VMO_MAX_SIZE || out == NULL)
		return -EINVAL;
	/* As Zircon: a discardable VMO has no children (discard.c), a
	 * contiguous one no clones (contig.c). */
	if (vmo_is_discardable(src) || hier_is_contig(src->h))
		return -EOPNOTSUPP;
	if (kind != VMO_CLONE_SNAPSHOT && kind != VMO_CLONE_AOLW &&
	    kind != VMO_CLONE_MODIFIED)
		return -EINVAL;
	if (len != VMO_WHOLE && (len > VMO_MAX_SIZE || off + len > 2 * VMO_MAX_SIZE))
		return len > VMO_MAX_SIZE ? -EFBIG : -EINVAL;
	v = vmo_new(vm, src->h, VMO_CLONE);
	if (v == NULL)
		return -ENOMEM;
	vm_reserve(vm, 4);
	hier_wlock(src->h);
	leaf = vmo_leaf(src, &base);
	size = len == VMO_WHOLE ? (src->size > off ? src->size - off : 0) : len;
	shown = vm_page_roundup(src->size);
	win = shown > off ? shown - off : 0;
	if (win > vm_page_roundup(size))
		win = vm_page_roundup(size);
	if (kind == VMO_CLONE_AOLW && src->h->pops != NULL)
		err = -EOPNOTSUPP;	/* not over a store (yet): docs/semantics.md */
	else if (kind == VMO_CLONE_AOLW)
		err = cow_clone_aolw(vm, leaf, base + off, win, &c);
	else	/* SNAPSHOT_MODIFIED is a snapshot here: vmo.h */
		err = cow_clone(vm, leaf, base + off, win, &c);
	if (err != 0)
		goto err_out;
	c->vmo = v;
	v->cow = c;
	v->size = size;
	v->flags = VMO_RESIZABLE;
	v->ckind = kind;
	/*
	 * Two partial pages may show bytes the clone must not see, and only
	 * then do we touch a page (a clone copies nothing otherwise):
	 *  - past a slice source's end, which need not be page aligned (past
	 *    a VMO's end the bytes are zero already: the tail invariant);
	 *  - past the clone's own end when that falls inside the source's
	 *    bytes (to keep the tail invariant for the clone), and for an
	 *    at-least-on-write clone whenever its end is not page aligned:
	 *    the source may write past the clone's end later.
	 */
	send = src->size > off ? src->size - off : 0;
	if ((src->kind == VMO_SLICE && send <= size && (send & VM_PAGE_MASK) != 0 &&
	    zero_in_page(vm, c, send, vm_page_roundup(send)) != 0) ||
	    ((size < send || (kind == VMO_CLONE_AOLW && vm_page_trunc(size) < win)) &&
	    (size & VM_PAGE_MASK) != 0 && zero_in_page(vm, c, size,
	    vm_page_roundup(size)) != 0)) {
		cow_detach_leaf(vm, c);
		err = -ENOSPC;
		goto err_out;
	}
	vmo_publish(v, handle);
	hier_unlock(src->h);
	*out = v;
	return 0;

err_out:
	hier_unlock(src->h);
	free(v);
	return err;
}

/* A clone that met -ENOSPC changed nothing: make it again while reclaim
 * can make room (vm_room_retry); a clone of pinned pages copies them. */
int
vmo_clone_as(struct vmo *src, enum vmo_clone_kind kind, uint64_t off,
    uint64_t len, struct vmo **out)
{
	unsigned idle = 0;
	int err;

	while ((err = clone_once(src, kind, off, len, out)) == -ENOSPC &&
	    vm_room_retry(src->vm, 4 * VM_PAGE_SIZE, false, &idle))
		;
	return err;
}

int
vmo_clone(struct vmo *src, uint64_t off, uint64_t len, struct vmo **out)
{
	return vmo_clone_as(src, VMO_CLONE_SNAPSHOT, off, len, out);
}

enum vmo_clone_kind
vmo_clone_kind(const struct vmo *v)
{
	return v->ckind;
}

const char *
vmo_clone_kind_name(enum vmo_clone_kind kind)
{
	switch (kind) {
	case VMO_CLONE_SNAPSHOT:	return "snapshot";
	case VMO_CLONE_AOLW:		return "aolw";
	case VMO_CLONE_MODIFIED:	return "modified";
	}
	return "unknown";
}

bool
vmo_reads_live(struct vmo *v)
{
	uint64_t base;
	bool live;

	v = vmo_target(v);
	hier_rlock(v->h);
	live = cow_live_above(vmo_leaf(v, &base));
	hier_runlock(v->h);
	return live;
}

int
vmo_slice(struct vmo *handle, uint64_t off, uint64_t len, struct vmo **out)
{
	struct vmo *src = vmo_target(handle), *v, *root;
	int err = 0;

	if ((off & VM_PAGE_MASK) != 0 || len == 0 || len > VMO_MAX_SIZE ||
	    off > VMO_MAX_SIZE || out == NULL)
		return -EINVAL;
	if (vmo_is_discardable(src))
		return -EOPNOTSUPP;
	root = src->kind == VMO_SLICE ? src->root : src;
	v = vmo_new(src->vm, src->h, VMO_SLICE);
	if (v == NULL)
		return -ENOMEM;
	hier_wlock(src->h);
	if (off + len > vm_page_roundup(src->size)) {
		err = -EINVAL;
		goto out;
	}
	vmo_ref(root);
	v->root = root;
	v->slice_off = (src->kind == VMO_SLICE ? src->slice_off : 0) + off;
	v->size = len;
	LIST_INSERT_HEAD(&root->slices, v, slice_link);
	vmo_publish(v, handle);
	*out = v;
out:
	hier_unlock(src->h);
	if (err != 0)
		free(v);
	return err;
}

int
vmo_reference(struct vmo *handle, struct vmo **out)
{
	struct vmo *src, *v;

	if (handle == NULL || out == NULL)
		return -EINVAL;
	src = vmo_target(handle);
	/* As clones; Zircon: no references of a contiguous VMO (slices). */
	if (vmo_is_discardable(src) || hier_is_contig(src->h))
		return -EOPNOTSUPP;
	v = vmo_new(src->vm, src->h, VMO_REF);
	if (v == NULL)
		return -ENOMEM;
	hier_wlock(src->h);
	vmo_ref(src);
	v->root = src;
	v->flags = src->flags;
	vmo_publish(v, handle);
	hier_unlock(src->h);
	*out = v;
	return 0;
}

void
vmo_ref(struct vmo *v)
{
	atomic_fetch_add(&v->refs, 1);
}

/* The last reference is gone: unhook v and free what only it held. */
static void
vmo_destroy(struct vmo *v)
{
	struct hier *h = v->h;
	struct vmo *c, *root = NULL;

	hier_wlock(h);
	while ((c = LIST_FIRST(&v->made)) != NULL) {
		LIST_REMOVE(c, made_link);
		c->origin = NULL;
	}
	if (v->origin != NULL) {
		LIST_REMOVE(v, made_link);
		v->origin->nmade--;
	}
	if (v->kind == VMO_REF) {
		root = v->root;		/* its target: nothing else to unhook */
	} else if (v->kind == VMO_SLICE) {
		LIST_REMOVE(v, slice_link);
		root = v->root;
	} else {
		assert(LIST_EMPTY(&v->slices) && "slices hold a ref on their root");
		discard_forget(h);
		if (hier_is_contig(h))
			contig_destroy(v);
		/* Clones keep what they see; on failure their unread pages
		 * are lost with the store (logged by the caller's detach). */
		(void)pager_detach_locked(v, true);
		cow_detach_leaf(v->vm, v->cow);
	}
	hier_unlock(h);
	atomic_fetch_sub(&v->vm->nvmos, 1);
	v->cow = (void *)0xdeadbeef;
	free(v);
	hier_put(h);
	if (root != NULL)
		vmo_unref(root);
}

void
vmo_unref(struct vmo *v)
{
	if (v != NULL && atomic_fetch_sub(&v->refs, 1) == 1)
		vmo_destroy(v);
}

uint64_t vmo_id(const struct vmo *v) { return v->id; }
enum vmo_kind vmo_kind(const struct vmo *v) { return v->kind; }
bool vmo_is_resizable(const struct vmo *v)
{
	v = vmo_target((struct vmo *)v);
	return v->kind != VMO_SLICE && (v->flags & VMO_RESIZABLE);
}
bool vmo_is_slice(const struct vmo *v)
{
	return vmo_target((struct vmo *)v)->kind == VMO_SLICE;
}
uint64_t
vmo_slice_offset(const struct vmo *v)
{
	v = vmo_target((struct vmo *)v);
	return v->kind == VMO_SLICE ? v->slice_off : 0;
}
uint64_t vmo_parent_id(struct vmo *v) { return v->parent_id; }

uint64_t
vmo_size(struct vmo *v)
{
	uint64_t s;

	v = vmo_target(v);
	hier_rlock(v->h);
	s = v->size;
	hier_runlock(v->h);
	return s;
}

uint64_t
vmo_children(struct vmo *v)
{
	uint64_t n;

	hier_rlock(v->h);
	n = v->nmade;
	hier_runlock(v->h);
	return n;
}

uint64_t
vmo_blocks_bytes(struct vmo *v)
{
	uint64_t n;

	if (v->kind == VMO_SLICE || v->kind == VMO_REF)
		return 0;	/* a root holds them; a reference is charged none */
	hier_rlock(v->h);
	n = v->cow->pages.npages * VM_PAGE_SIZE;
	hier_runlock(v->h);
	return n;
}

/* ---- reads ------------------------------------------------------------ */

/* Clip [off, off+len) to the content size; 0 if nothing is left. */
static size_t
clip_read(struct vmo *v, uint64_t off, size_t len)
{
	if (off >= v->size)
		return 0;
	return len > v->size - off ? v->size - off : len;
}

/* Does any page of v's [off, off+len) read the store?  Locked. */
static bool
store_holes(struct vmo *v, uint64_t off, size_t len)
{
	struct cow_node *leaf, *top;
	uint64_t base, pg, to, end = off + len;

	leaf = vmo_leaf(v, &base);
	for (pg = vm_page_trunc(off); pg < end; pg += VM_PAGE_SIZE)
		if (cow_lookup_top(leaf, base + pg, &top, &to) == PLIST_EMPTY &&
		    top != NULL && pager_in_store(top, to))
			return true;
	return false;
}

/*
 * An operation stopped for want of pages (issue #16: vm_reserve is
 * advisory, and
 * concurrent writers take each other's room).  With no lock held, reclaim
 * again and say whether to try the rest.  progress: the caller got on
 * since the last call.  A round that finds nothing to reclaim and no
 * free pages waits a little (1, 2, 4 ... 8 ms) before it says yes: another
 * thread's reclaim may hold the candidates, its write-back in flight, and
 * free them a moment later.  After ROOM_RETRIES rounds in a row that gave
 * the caller nothing, nothing more is reclaimable for it, and ENOSPC is
 * SPEC 5's answer (about 0.1 s at most).
 */
#define ROOM_RETRIES	16

bool
vm_room_retry(struct vm *vm, size_t want, bool progress, unsigned *idle)
{
	uint64_t need = want / VM_PAGE_SIZE + 2;

	if (need > 1024)
		need = 1024;
	*idle = progress ? 0 : *idle + 1;
	if (*idle > ROOM_RETRIES)
		return false;
	atomic_fetch_add_explicit(&vm->reclaim_direct, 1, memory_order_relaxed);
	if (vm_reclaim_pages(vm, 2 * need + 64) == 0 && pmm_free_count(vm->pmm) < 2) {
		struct timespec ts = { 0, 1000000L << (*idle < 4 ? *idle : 3) };

		nanosleep(&ts, NULL);
	}
	return true;
}

/*
 * A read of a pager-backed hierarchy: page in what the range needs from
 * the store, with the lock dropped while the store is read (pager_fault:
 * page requests, shared by readers of the same pages).  Shared lock held;
 * 0 with it held and nothing of the range left in the store, or an error
 * with no lock held.  The fast path, every page resident, takes no other
 * lock (until 2026-12-07 every read of a backed file took the exclusive
 * lock here, and read the store under it).
 */
static int
read_page_in(struct vmo *v, uint64_t off, size_t len)
{
	if (len > v->size - (off < v->size ? off : v->size))
		len = off < v->size ? v->size - off : 0;
	if (len == 0 || !store_holes(v, off, len))
		return 0;	/* nothing to page in */
	return pager_fault(v, off, len, true);
}


/*
 * Bring back, as pages in their slots, the compressed pages v's
 * [off, off+len) shows (a fault on compressed memory: reads that hand
 * out page addresses, prefetch).  Takes the exclusive lock itself.
 * 0 or the first error.
 */
static int
z_populate(struct vmo *v, uint64_t off, uint64_t len)
{
	struct cow_node *leaf, *owner;
	uint64_t base, pg, end, oo;
	int err = 0;

	if (v->vm->zs == NULL)
		return 0;
	end = off + len < off ? UINT64_MAX : off + len;
	vm_reserve(v->vm, len / VM_PAGE_SIZE + 2 > 1024 ? 1024 : len / VM_PAGE_SIZE + 2);
	hier_wlock(v->h);
	leaf = vmo_leaf(v, &base);
	for (pg = vm_page_trunc(off); pg < end && err == 0; pg += VM_PAGE_SIZE)
		if (plist_is_comp(cow_lookup(leaf, base + pg, &owner, &oo)))
			err = cow_decompress(v->vm, owner, oo);
	hier_unlock(v->h);
	return err;
}

/*
 * Room for a read to bring n pages back (decompressed, or paged in from
 * the store) without reclaiming?  Without it vmo_read_iov hands over a copy
 * (read_bounce) and the pages stay where they are: a read must not take
 * arena pages from writers for what it needs only while the kernel copies
 * the reply (the kernel's page cache keeps its own copy).  On a 4 MiB
 * mount with 1 MiB readahead, readers that faulted in 1 MiB each took the
 * whole limit and writes failed with ENOSPC (test_load's tight runs).
 */
static bool
fault_room(struct vm *vm, uint64_t pages)
{
	return pmm_free_count(vm->pmm) >= pages + vm->high_pages;
}

/*
 * n bytes at in of a page that is not resident, into dst, without
 * bringing it back: compressed slot s decompressed, or (s not compressed)
 * the store's page at top's offset to.  Lock held (shared ok: freeing a
 * handle, or changing what an absent page of the store holds, needs the
 * exclusive lock).  0 or an error.
 */
static int
read_away(struct vmo *v, plist_slot_t s, uint64_t to, void *dst,
    uint64_t in, size_t n)
{
	char tmp[VM_PAGE_SIZE];
	void *pg = n == VM_PAGE_SIZE ? dst : tmp;
	int err;

	if (plist_is_comp(s))
		err = zstore_get(v->vm->zs, plist_comp_handle(s), pg) != 0 ?
		    -EIO : 0;
	else
		err = v->h->pops->read(v->h->pctx, to, pg);
	if (err == 0 && pg == tmp)
		memcpy(dst, tmp + in, n);
	return err;
}

/*
 * vmo_read; fault: page in from the store first, as a read fault would
 * (else store pages are read into buf and stay out, like compressed ones).
 */
static ssize_t
read_copy(struct vmo *v, void *buf, uint64_t off, size_t len, bool fault)
{
	struct cow_cursor cur;
	struct cow_node *leaf, *top;
	uint64_t base, pos, end, to;
	char *dst = buf;
	int err;

	if (off > VMO_MAX_SIZE)
		return 0;
	hier_rlock(v->h);
	if (fault && v->h->pops != NULL && (err = read_page_in(v, off, len)) != 0)
		return err;
	len = clip_read(v, off, len);
	leaf = vmo_leaf(v, &base);
	cow_cursor_init(&cur, leaf);
	for (pos = off, end = off + len; pos < end; ) {
		uint64_t pg = vm_page_trunc(pos), in = pos - pg;
		size_t n = VM_PAGE_SIZE - in < end - pos ? VM_PAGE_SIZE - in : end - pos;
		plist_slot_t s = cow_cursor_lookup(&cur, base + pg, base + end);

		if (plist_is_page(s)) {
			pq_touch(v->vm->pq, plist_page(s));
			memcpy(dst, (char *)vm_page_addr(v->vm, plist_page(s)) + in, n);
		} else if (plist_is_comp(s) || (!fault && v->h->pops != NULL &&
		    cow_lookup_top(leaf, base + pg, &top, &to) == PLIST_EMPTY &&
		    top != NULL && pager_in_store(top, to))) {
			/* A copy; the page stays compressed, or in the store. */
			if ((err = read_away(v, s, to, dst, in, n)) != 0) {
				hier_runlock(v->h);
				return err;
			}
		} else {
			memset(dst, 0, n);
		}
		dst += n;
		pos += n;
	}
	hier_runlock(v->h);
	return (ssize_t)len;
}

ssize_t
vmo_read(struct vmo *v, void *buf, uint64_t off, size_t len)
{
	return read_copy(vmo_target(v), buf, off, len, true);
}

struct iov_builder {
	struct iovec	*iov;
	int		cnt;
	bool		last_zero;
	const char	*zero;
};

static void
iov_add(struct iov_builder *b, const void *p, size_t n, bool zero)
{
	struct iovec *l = b->cnt ? &b->iov[b->cnt - 1] : NULL;

	if (l != NULL && zero && b->last_zero && l->iov_len + n <= VM_ZERO_REGION) {
		l->iov_len += n;
		return;
	}
	if (l != NULL && !zero && !b->last_zero &&
	    (const char *)l->iov_base + l->iov_len == (const char *)p) {
		l->iov_len += n;
		return;
	}
	b->iov[b->cnt].iov_base = (void *)p;
	b->iov[b->cnt].iov_len = n;
	b->cnt++;
	b->last_zero = zero;
}

/* vmo_read_iov's way out when memory is short or compressed pages keep
 * coming back: read a copy into a buffer (compressed and store pages
 * decompressed or read into it, not brought back) and hand that over. */
static int
read_bounce(struct vmo *v, uint64_t off, size_t len, vmo_iov_fn fn, void *ctx)
{
	struct iovec iov;
	ssize_t r;
	int ret;

	iov.iov_base = vm_malloc(len ? len : 1);
	if (iov.iov_base == NULL)
		return -ENOMEM;
	r = read_copy(v, iov.iov_base, off, len, false);
	if (r < 0) {
		free(iov.iov_base);
		return (int)r;
	}
	iov.iov_len = (size_t)r;
	ret = fn(ctx, &iov, 1);
	free(iov.iov_base);
	return ret;
}

int
vmo_read_iov(struct vmo *v, uint64_t off, size_t len, vmo_iov_fn fn, void *ctx)
{
	struct iovec stack_iov[66];
	struct iov_builder b = { .iov = stack_iov };
	struct cow_cursor cur;
	struct cow_node *leaf;
	uint64_t base, pos, end;
	size_t maxv;
	int ret, tries = 0;
	bool comp;

	v = vmo_target(v);
	if (off > VMO_MAX_SIZE)
		len = 0;
again:
	comp = false;
	hier_rlock(v->h);
	if (v->h->pops != NULL && !fault_room(v->vm, len / VM_PAGE_SIZE + 2) &&
	    store_holes(v, off, clip_read(v, off, len))) {
		/* Paging in would need reclaim: a copy read from the store. */
		hier_runlock(v->h);
		return read_bounce(v, off, len, fn, ctx);
	}
	if (v->h->pops != NULL && (ret = read_page_in(v, off, len)) != 0)
		return ret;
	len = off > VMO_MAX_SIZE ? 0 : clip_read(v, off, len);
	maxv = len / VM_PAGE_SIZE + 2;
	b.iov = stack_iov;
	b.cnt = 0;
	b.last_zero = false;
	if (maxv > sizeof(stack_iov) / sizeof(stack_iov[0])) {
		b.iov = vm_malloc(maxv * sizeof(*b.iov));
		if (b.iov == NULL) {
			hier_runlock(v->h);
			return -ENOMEM;
		}
	}
	b.zero = v->vm->zero_region;
	leaf = vmo_leaf(v, &base);
	cow_cursor_init(&cur, leaf);
	for (pos = off, end = off + len; pos < end; ) {
		uint64_t pg = vm_page_trunc(pos), in = pos - pg;
		size_t n = VM_PAGE_SIZE - in < end - pos ? VM_PAGE_SIZE - in : end - pos;
		plist_slot_t s = cow_cursor_lookup(&cur, base + pg, base + end);

		if (plist_is_page(s)) {
			pq_touch(v->vm->pq, plist_page(s));
			iov_add(&b, (char *)vm_page_addr(v->vm, plist_page(s)) + in, n, false);
		} else if (plist_is_comp(s)) {
			comp = true;	/* fault it in, then look again */
			break;
		} else {
			iov_add(&b, b.zero, n, true);
		}
		pos += n;
	}
	if (comp) {
		hier_runlock(v->h);
		if (b.iov != stack_iov)
			free(b.iov);
		/* Reclaim may take a page back between the fault and the
		 * look: a few tries, then a decompressed copy; at once if
		 * decompressing would need reclaim (fault_room). */
		if (tries++ < 3 && fault_room(v->vm, len / VM_PAGE_SIZE + 2) &&
		    z_populate(v, off, len) == 0)
			goto again;
		return read_bounce(v, off, len, fn, ctx);
	}
	ret = fn(ctx, b.iov, b.cnt);
	hier_runlock(v->h);
	if (b.iov != stack_iov)
		free(b.iov);
	return ret;
}

/* ---- writes ----------------------------------------------------------- */

/*
 * Check and clip a write of [off, off+*len) to what v can hold.  0, or
 * -EFBIG when not one byte fits, -EINVAL on overflow.  Locked.  A slice
 * and a non-resizable VMO hold their content size exactly (SPEC 2's
 * slice rule for both): a write does not grow a fixed VMO even inside
 * its last page (until issue #17 it could, up to the page's end).
 */
static int
clip_write(struct vmo *v, uint64_t off, size_t *len)
{
	uint64_t max = VMO_MAX_SIZE;

	if (off + *len < off)
		return -EINVAL;
	if (v->kind == VMO_SLICE || !(v->flags & VMO_RESIZABLE))
		max = v->size;
	if (off >= max)
		return -EFBIG;
	if (*len > max - off)
		*len = max - off;
	return 0;
}

/*
 * Pages a write of len bytes may allocate, for vm_reserve: one per page,
 * and two with a compressed store or on a VM with backing stores -- a
 * page a clone shares may first have to come back (decompressed, or paged
 * in from the store into the hidden node) and then be copied.  Reserving
 * too little makes a write come back short at the limit while pages could
 * still be reclaimed: after a backed file was evicted, cloned and written
 * over, each 1 MiB write came back with 161 of its 256 pages (issue #16;
 * test_reclaim's test_backed_overwrite_after_clone).  npaged, not v's own
 * store: the lock is not held here, and the figure is advisory anyway.
 */
static uint64_t
write_need(struct vmo *v, size_t len)
{
	uint64_t n = len / VM_PAGE_SIZE + 2;

	return v->vm->zs != NULL || atomic_load(&v->vm->npaged) != 0 ? 2 * n : n;
}

/* After writing bytes up to end of v: grow v (and, for a slice, its root). */
static void
note_written(struct vmo *v, uint64_t end)
{
	if (v->kind == VMO_SLICE) {
		end += v->slice_off;
		v = v->root;
	}
	if (end > v->size)
		v->size = end;
}

/* One locked pass of vmo_write: bytes written, or a negative errno;
 * *why is the error that stopped it part way (0 when none). */
static ssize_t
write_once(struct vmo *v, const char *src, uint64_t off, size_t len, int *why)
{
	struct cow_node *leaf;
	uint64_t base, pos;
	int err;

	vm_reserve(v->vm, write_need(v, len));
	hier_wlock(v->h);
	err = clip_write(v, off, &len);
	if (err == 0 && hier_is_contig(v->h))
		err = contig_fill(v, off, off + len);	/* its own pages back */
	if (err != 0) {
		hier_unlock(v->h);
		return err;
	}
	leaf = vmo_leaf(v, &base);
	for (pos = off; pos < off + len; ) {
		uint64_t pg = vm_page_trunc(pos), in = pos - pg;
		size_t n = VM_PAGE_SIZE - in < off + len - pos ? VM_PAGE_SIZE - in : off + len - pos;
		struct vm_page *p;

		err = cow_get_writable(v->vm, leaf, base + pg,
		    n == VM_PAGE_SIZE ? COW_NOFILL : COW_FILL, &p, NULL);
		if (err != 0)
			break;
		memcpy((char *)vm_page_addr(v->vm, p) + in, src, n);
		src += n;
		pos += n;
	}
	if (pos > off)
		note_written(v, pos);
	hier_unlock(v->h);
	*why = err;
	return pos > off ? (ssize_t)(pos - off) : err;
}

ssize_t
vmo_write(struct vmo *v, const void *buf, uint64_t off, size_t len)
{
	const char *src = buf;
	size_t done = 0;
	unsigned idle = 0;

	v = vmo_target(v);
	while (done < len) {
		int why = 0;
		ssize_t r = write_once(v, src + done, off + done, len - done, &why);

		if (r > 0)
			done += (size_t)r;
		if (r > 0 && done == len)
			break;
		if ((r < 0 ? (int)r : why) != -ENOSPC ||
		    !vm_room_retry(v->vm, len - done, r > 0, &idle))
			return done > 0 ? (ssize_t)done : r;
	}
	return (ssize_t)done;
}

/*
 * After vmo_write_iov's callback filled [off, filled) of what it was given,
 * [off, to): pages made fresh for it without zeroing (VM_PAGE_F_UNDEF) read
 * zero from the first byte the callback did not write.  Pages that existed
 * before are not flagged and keep their bytes.  Clears the flags.
 * Locked (excl).
 */
static void
settle_fresh(struct vmo *v, struct cow_node *leaf, uint64_t base,
    uint64_t off, uint64_t filled, uint64_t to)
{
	uint64_t pg;

	for (pg = vm_page_trunc(off); pg < to; pg += VM_PAGE_SIZE) {
		struct vm_page *p = plist_page(plist_lookup(&leaf->pages, base + pg));
		uint64_t z = filled > pg ? filled - pg : 0;

		if (p == NULL || !(p->flags & VM_PAGE_F_UNDEF))
			continue;
		vm_page_flag_clear(p, VM_PAGE_F_UNDEF);
		if (z < VM_PAGE_SIZE)
			memset((char *)vm_page_addr(v->vm, p) + z, 0, VM_PAGE_SIZE - z);
	}
}

/*
 * One locked pass of vmo_write_iov.  *more: the pass stopped for want of
 * pages after fn filled all it was given (or before fn was called), so the
 * rest may be tried again once reclaim has run.
 */
static ssize_t
write_iov_once(struct vmo *v, uint64_t off, size_t len,
    ssize_t (*fn)(void *ctx, const struct iovec *iov, int iovcnt), void *ctx,
    bool *more)
{
	struct iovec stack_iov[66];
	struct iov_builder b = { .iov = stack_iov };
	struct cow_node *leaf;
	uint64_t base, pos, nundef = 0;
	ssize_t ret;
	int err = 0;

	*more = false;
	vm_reserve(v->vm, write_need(v, len));
	hier_wlock(v->h);
	ret = clip_write(v, off, &len);
	if (ret == 0 && hier_is_contig(v->h))
		ret = contig_fill(v, off, off + len);	/* its own pages back */
	if (ret != 0)
		goto out;
	if (len / VM_PAGE_SIZE + 2 > sizeof(stack_iov) / sizeof(stack_iov[0])) {
		b.iov = vm_malloc((len / VM_PAGE_SIZE + 2) * sizeof(*b.iov));
		if (b.iov == NULL) {
			ret = -ENOMEM;
			goto out;
		}
	}
	leaf = vmo_leaf(v, &base);
	for (pos = off; pos < off + len; ) {
		uint64_t pg = vm_page_trunc(pos), in = pos - pg;
		size_t n = VM_PAGE_SIZE - in < off + len - pos ? VM_PAGE_SIZE - in : off + len - pos;
		struct vm_page *p;
		bool undef = false;

		/* Full pages: fn fills them, so a fresh one needs no zeroing
		 * now; what fn leaves unfilled is zeroed below. */
		err = cow_get_writable(v->vm, leaf, base + pg,
		    n == VM_PAGE_SIZE ? COW_NOZERO : COW_FILL, &p, &undef);
		if (err != 0)
			break;
		if (undef) {
			vm_page_flag_set(p, VM_PAGE_F_UNDEF);
			nundef++;
		}
		iov_add(&b, (char *)vm_page_addr(v->vm, p) + in, n, false);
		pos += n;
	}
	if (pos == off) {
		ret = err;
		*more = err == -ENOSPC;
		goto out;
	}
	ret = fn(ctx, b.iov, b.cnt);
	if (ret > (ssize_t)(pos - off))
		ret = (ssize_t)(pos - off);
	*more = err == -ENOSPC && ret == (ssize_t)(pos - off);
	if (nundef != 0)
		settle_fresh(v, leaf, base, off, off + (ret > 0 ? (uint64_t)ret : 0), pos);
	if (ret > 0)
		note_written(v, off + (uint64_t)ret);
	/* fn filled less: pages made for it past the (new) end go again. */
	if (v->kind != VMO_SLICE && vm_page_roundup(v->size) < vm_page_roundup(pos))
		cow_free_pages(v->vm, leaf, base + vm_page_roundup(v->size),
		    base + vm_page_roundup(pos));
out:
	hier_unlock(v->h);
	if (b.iov != stack_iov)
		free(b.iov);
	return ret;
}

ssize_t
vmo_write_iov(struct vmo *v, uint64_t off, size_t len,
    ssize_t (*fn)(void *ctx, const struct iovec *iov, int iovcnt), void *ctx)
{
	size_t done = 0;
	unsigned idle = 0;

	v = vmo_target(v);
	while (done < len) {
		bool more;
		ssize_t r = write_iov_once(v, off + done, len - done, fn, ctx, &more);

		if (r > 0)
			done += (size_t)r;
		if (!more || done == len ||
		    !vm_room_retry(v->vm, len - done, r > 0, &idle)) {
			return done > 0 ? (ssize_t)done : r;
		}
	}
	return (ssize_t)done;
}

/* ---- size ------------------------------------------------------------- */

static int
resize_once(struct vmo *v, uint64_t size)
{
	struct cow_node *n;
	struct vmo *s;
	uint64_t newp, lim;
	int err = 0;

	if (v->kind == VMO_SLICE || !(v->flags & VMO_RESIZABLE))
		return -EPERM;
	if (size > VMO_MAX_SIZE)
		return -EFBIG;
	vm_reserve(v->vm, 2);
	hier_wlock(v->h);
	n = v->cow;
	newp = vm_page_roundup(size);
	if (size >= v->size)
		goto set;
	LIST_FOREACH(s, &v->slices, slice_link) {
		if (s->slice_off + s->size > newp) {
			err = -EBUSY;
			goto out;
		}
	}
	if (cow_any_pinned(n, newp, COW_END)) {
		err = -EBUSY;
		goto out;
	}
	/* Pager-backed: keep what clones see before anything goes (it may
	 * fail; paging in for clones changes no byte anyone sees). */
	if ((err = pager_shrink_keep(v, size)) != 0)
		goto out;
	if (size != newp) {
		err = zero_in_page(v->vm, n, size, newp < v->size ? newp : v->size);
		if (err != 0)
			goto out;
	}
	cow_free_pages(v->vm, n, newp, COW_END);
	cow_clip_children(n, newp);
	if (n->parent != NULL && n->parent_limit > newp) {
		lim = n->parent_limit;
		n->parent_limit = newp;
		cow_release_above(v->vm, n->parent, newp + n->parent_off,
		    lim + n->parent_off);
	}
	pager_shrink_cut(v, size);
set:
	v->size = size;
out:
	hier_unlock(v->h);
	return err;
}

/* A shrink that met -ENOSPC (a partial last page to zero, or what clones
 * see of a store to keep) changed nothing: again while room can be made. */
int
vmo_resize(struct vmo *v, uint64_t size)
{
	unsigned idle = 0;
	int err;

	v = vmo_target(v);
	while ((err = resize_once(v, size)) == -ENOSPC &&
	    vm_room_retry(v->vm, PAGER_RUN * VM_PAGE_SIZE, false, &idle))
		;
	return err;
}

/* ---- range operations ------------------------------------------------- */

/*
 * The entry checks of the range operations (vmo.h), one place for all:
 *
 *   op                  bounds              alignment
 *   commit, prefetch,   end <= page-rounded  rounds out to whole pages
 *   dontneed/alwaysneed size                 (no byte changes)
 *   pin, unpin          the same; empty:     rounds out, the same for both
 *                       -EINVAL (Zircon)
 *   decommit            the same             off page aligned; the end page
 *                                            aligned or past the bytes of
 *                                            the page's owner (decommit_exact)
 *   zero                the same; a slice    byte exact
 *                       stops at its end
 *
 * An empty range changes nothing and touches no page (an unaligned empty
 * range used to round out to the page around it).
 */

/*
 * Resolve a user range on v to leaf offsets, page-rounded outwards (empty:
 * *s == *e).  len VMO_WHOLE: to the end.  -EINVAL on overflow, or a range
 * past the page-rounded size.  Locked.
 */
static int
range_resolve(struct vmo *v, uint64_t off, uint64_t len, uint64_t *s,
    uint64_t *e, uint64_t *boff, uint64_t *bend)
{
	uint64_t top = vm_page_roundup(v->size);

	if (len == VMO_WHOLE)
		len = off < top ? top - off : 0;
	if (off + len < off || off > top || off + len > top)
		return -EINVAL;
	*boff = off;
	*bend = off + len;
	*s = vm_page_trunc(off);
	*e = len == 0 ? *s : vm_page_roundup(off + len);
	return 0;
}

/*
 * May decommit free the whole pages around [bo, be) of v?  It frees pages,
 * so every byte of them outside the range must read zero to everyone who
 * sees it (Zircon demands page alignment "to not give surprising user
 * semantics"; issue #16 bug 3: 16+256 zeroed the whole first page).  So bo
 * must be page aligned, and the end too unless the bytes after it are past
 * the content of the VMO whose pages these are (the tail invariant makes
 * them zero): v itself, or a slice's root, whose bytes go on past the
 * slice's own end.  Locked.
 */
static bool
decommit_exact(struct vmo *v, uint64_t bo, uint64_t be)
{
	struct vmo *owner = v->kind == VMO_SLICE ? v->root : v;
	uint64_t base = v->kind == VMO_SLICE ? v->slice_off : 0;
	uint64_t named = be < v->size ? be : v->size;	/* v's bytes it names */

	if (bo == be)
		return true;
	if ((bo & VM_PAGE_MASK) != 0)
		return false;
	/* [named, roundup(be)) goes too: nothing, or only zero bytes */
	return vm_page_roundup(be) == named || base + named >= owner->size;
}

/*
 * Pages an operation on len bytes may allocate, for vm_reserve: bounded,
 * since vm_reserve is advisory and a huge range is done page by page
 * anyway (and then may meet ENOSPC, as it would without a store).
 */
static uint64_t
reserve_for(struct vmo *v, uint64_t len)
{
	uint64_t n = len;

	if (len == VMO_WHOLE)
		n = vm_page_roundup(vmo_size(v));	/* takes the lock */
	n = n / VM_PAGE_SIZE + 2;
	return n > 1024 ? 1024 : n;
}

/*
 * A commit or pin of [off, off+len) met -ENOSPC at pos: the first
 * vm_reserve covers 1024 pages at most, and concurrent allocations take
 * room too, so make room again with the lock dropped (reclaim takes
 * hierarchy locks; vm_room_retry decides when to stop: progress says
 * whether pos moved since the last call) and look the range up again (it
 * may have shrunk meanwhile: *e, *leaf, *base updated).  Returns 0 to go
 * on from pos, -ENOSPC when nothing more can be reclaimed, or the range's
 * error.  The lock is held again on return.
 */
static int
range_make_room(struct vmo *v, uint64_t off, uint64_t len, uint64_t pos,
    uint64_t *e, struct cow_node **leaf, uint64_t *base, bool progress,
    unsigned *idle)
{
	uint64_t s2, e2, bo, be;
	bool again;
	int err;

	hier_unlock(v->h);
	again = vm_room_retry(v->vm, *e - pos, progress, idle);
	hier_wlock(v->h);
	if (!again)
		return -ENOSPC;
	if ((err = range_resolve(v, off, len, &s2, &e2, &bo, &be)) != 0)
		return err;
	if (e2 < *e)
		*e = e2;
	*leaf = vmo_leaf(v, base);
	return 0;
}

int
vmo_commit(struct vmo *v, uint64_t off, uint64_t len)
{
	struct cow_node *leaf;
	uint64_t base, s, e, bo, be, pos, tried = UINT64_MAX;
	struct vm_page *p;
	unsigned idle = 0;
	int err;

	v = vmo_target(v);
again:
	vm_reserve(v->vm, reserve_for(v, len));
	hier_wlock(v->h);
	err = range_resolve(v, off, len, &s, &e, &bo, &be);
	if (err == 0 && hier_is_contig(v->h) &&
	    (err = contig_fill(v, s, e)) == -ENOSPC) {	/* its own pages back */
		hier_unlock(v->h);
		if (vm_room_retry(v->vm, e - s, false, &idle))
			goto again;
		return err;
	}
	leaf = vmo_leaf(v, &base);
	for (pos = s; err == 0 && pos < e; ) {
		err = cow_get_writable(v->vm, leaf, base + pos, COW_FILL, &p, NULL);
		if (err == -ENOSPC) {
			err = range_make_room(v, off, len, pos, &e, &leaf, &base,
			    tried != pos, &idle);
			tried = pos;
			continue;
		}
		if (err == 0)
			pos += VM_PAGE_SIZE;
	}
	hier_unlock(v->h);
	return err;
}

/* Free or mark [s, e) of leaf n (leaf offsets).  Locked (excl). */
static int
drop_range(struct vm *vm, struct cow_node *n, uint64_t s, uint64_t e)
{
	struct vm_page *p;
	int err;

	if (n->h->pops != NULL && n->vmo == n->h->pvmo) {
		/* Pager-backed: the store must read zero too, so the pages
		 * are written with zeros (and so dirty) rather than freed. */
		for (; s < e; s += VM_PAGE_SIZE) {
			if ((err = cow_get_writable(vm, n, s, COW_NOFILL, &p, NULL)) != 0)
				return err;
			memset(vm_page_addr(vm, p), 0, VM_PAGE_SIZE);
		}
		return 0;
	}
	if (n->parent != NULL)
		return cow_mark_zero(vm, n, s, e);
	cow_free_pages(vm, n, s, e);
	return 0;
}

/*
 * Whole pages [s, e) (v's offsets) of a pager-backed VMO read zero: the
 * store must read zero too, so zero pages are written, in chunks, with the
 * lock dropped and room made between chunks (the pages written back and
 * evicted as it goes), so zeroing a file larger than the memory limit
 * works.  Not atomic: an error part way leaves [s, where it stopped) zero.
 * Called without the lock.
 */
#define ZERO_CHUNK 64

static int
pager_zero_pages(struct vmo *v, uint64_t s, uint64_t e)
{
	struct cow_node *leaf;
	uint64_t base, pos, end;
	int err = 0;

	unsigned idle = 0;
	bool progress = true;

	for (pos = s; pos < e && err == 0; ) {
		end = e - pos > ZERO_CHUNK * VM_PAGE_SIZE ? pos + ZERO_CHUNK * VM_PAGE_SIZE : e;
		vm_reserve(v->vm, ZERO_CHUNK + 2);
		hier_wlock(v->h);
		leaf = vmo_leaf(v, &base);
		err = drop_range(v->vm, leaf, base + pos, base + end);
		hier_unlock(v->h);
		if (err == -ENOSPC && vm_room_retry(v->vm, end - pos, progress, &idle)) {
			/* Pages zeroed before it stay zero: do the chunk again. */
			err = 0;
			progress = false;
			continue;
		}
		progress = true;
		pos = end;
	}
	return err;
}

/* Is v a pager-backed VMO (or a slice of one) whose bytes a store keeps? */
static bool
store_backed(struct vmo *v)
{
	struct cow_node *leaf;
	uint64_t base;

	leaf = vmo_leaf(v, &base);
	return v->h->pops != NULL && leaf->vmo == v->h->pvmo;
}

static int
decommit_once(struct vmo *v, uint64_t off, uint64_t len)
{
	struct cow_node *leaf;
	uint64_t base, s, e, bo, be;
	int err;

	vm_reserve(v->vm, reserve_for(v, len));
	hier_wlock(v->h);
	err = range_resolve(v, off, len, &s, &e, &bo, &be);
	if (err == 0 && !decommit_exact(v, bo, be))
		err = -EINVAL;
	if (err != 0 || s == e)
		goto out;
	if (hier_is_contig(v->h)) {	/* its pages are lent (contig.c) */
		err = contig_decommit(v, s, e);
		goto out;
	}
	leaf = vmo_leaf(v, &base);
	if (cow_any_pinned(leaf, base + s, base + e)) {
		err = -EBUSY;
		goto out;
	}
	if (store_backed(v)) {
		hier_unlock(v->h);
		return pager_zero_pages(v, s, e);
	}
	err = drop_range(v->vm, leaf, base + s, base + e);
out:
	hier_unlock(v->h);
	return err;
}

static int
zero_once(struct vmo *v, uint64_t off, uint64_t len)
{
	struct cow_node *leaf;
	uint64_t base, s, e, bo, be, ws, we, pos;
	int err;

	vm_reserve(v->vm, reserve_for(v, len));
	hier_wlock(v->h);
	err = range_resolve(v, off, len, &s, &e, &bo, &be);
	/* A slice's last page goes on with its root's bytes, which are not
	 * the slice's: zero stops at its end.  (Past another VMO's end the
	 * bytes read zero already, and zeroing them changes nothing.) */
	if (err == 0 && v->kind == VMO_SLICE && be > v->size)
		be = bo > v->size ? bo : v->size;
	if (err != 0 || bo == be)
		goto out;
	leaf = vmo_leaf(v, &base);
	ws = vm_page_roundup(bo);	/* whole pages: [ws, we) */
	we = vm_page_trunc(be);
	if (ws >= we) {			/* inside one page, or two partials */
		uint64_t mid = ws < be ? ws : be;

		err = zero_two_partials(v->vm, leaf, base + bo, base + mid,
		    base + mid, base + (mid < be ? be : mid));
		goto out;
	}
	/* The partial head and tail first, all or nothing: then the whole
	 * pages (which need no new page unless pager-backed or pinned). */
	if ((err = zero_two_partials(v->vm, leaf, base + bo, base + ws,
	    base + we, base + be)) != 0)
		goto out;
	if (!cow_any_pinned(leaf, base + ws, base + we)) {
		if (store_backed(v)) {
			hier_unlock(v->h);
			return pager_zero_pages(v, ws, we);
		}
		err = drop_range(v->vm, leaf, base + ws, base + we);
		goto out;
	}
	/* Pinned pages stay resident: zero those in place, drop the rest. */
	for (pos = ws; err == 0 && pos < we; pos += VM_PAGE_SIZE) {
		struct vm_page *p = plist_page(plist_lookup(&leaf->pages, base + pos));

		if (p != NULL && p->pin_count > 0) {
			memset(vm_page_addr(v->vm, p), 0, VM_PAGE_SIZE);
			pager_note_dirty(leaf, p);	/* the store must read zero */
		} else
			err = drop_range(v->vm, leaf, base + pos, base + pos + VM_PAGE_SIZE);
	}
out:
	hier_unlock(v->h);
	return err;
}

/* Undo pins on [s, upto) of leaf n (leaf offsets).  Locked (excl). */
static void
unpin_pages(struct cow_node *n, uint64_t s, uint64_t upto)
{
	for (; s < upto; s += VM_PAGE_SIZE) {
		struct vm_page *p = plist_page(plist_lookup(&n->pages, s));

		assert(p != NULL && p->pin_count > 0);
		if (--p->pin_count == 0) {
			n->npinned--;
			if (pq_queued(p))
				pq_set_pinned(n->h->vm->pq, p, false);
		}
	}
}

/* Undo vmo_pin's pins on [s, upto) after the lock was dropped on the way:
 * a racing unpin may have taken some already, so pages without a pin are
 * skipped rather than asserted.  Locked (excl). */
static void
unpin_pages_tolerant(struct cow_node *n, uint64_t s, uint64_t upto)
{
	for (; s < upto; s += VM_PAGE_SIZE) {
		struct vm_page *p = plist_page(plist_lookup(&n->pages, s));

		if (p != NULL && p->pin_count > 0)
			unpin_pages(n, s, s + VM_PAGE_SIZE);
	}
}

int
vmo_pin(struct vmo *v, uint64_t off, uint64_t len)
{
	struct cow_node *leaf;
	uint64_t base, s, e, bo, be, pos, tried = UINT64_MAX;
	struct vm_page *p;
	unsigned idle = 0;
	int err;

	v = vmo_target(v);
again:
	vm_reserve(v->vm, reserve_for(v, len));
	hier_wlock(v->h);
	err = range_resolve(v, off, len, &s, &e, &bo, &be);
	if (err == 0 && s == e)
		err = -EINVAL;		/* nothing to hold (Zircon: the same) */
	if (err == 0 && hier_is_contig(v->h) &&
	    (err = contig_fill(v, s, e)) == -ENOSPC) {	/* its own pages back */
		hier_unlock(v->h);
		if (vm_room_retry(v->vm, e - s, false, &idle))
			goto again;
		return err;
	}
	if (err != 0)
		goto out;
	leaf = vmo_leaf(v, &base);
	for (pos = s; pos < e; pos += VM_PAGE_SIZE) {
		err = cow_get_writable(v->vm, leaf, base + pos, COW_FILL, &p, NULL);
		/* A borrowed page must stay movable: pin a copy instead. */
		if (err == 0 && p->pin_count == 0 && pmm_page_lent(p))
			err = contig_unloan(v->vm, leaf, base + pos, &p);
		if (err == -ENOSPC) {
			/* Make room (pinned pages are never reclaimed while
			 * the lock is down), then retry. */
			err = range_make_room(v, off, len, pos, &e, &leaf, &base,
			    tried != pos, &idle);
			tried = pos;
			if (err == 0) {
				pos -= VM_PAGE_SIZE;
				continue;
			}
		}
		if (err != 0) {
			if (tried != UINT64_MAX)
				unpin_pages_tolerant(leaf, base + s,
				    base + (pos < e ? pos : e));
			else
				unpin_pages(leaf, base + s, base + pos);
			goto out;
		}
		if (p->pin_count++ == 0) {
			leaf->npinned++;
			if (pq_queued(p))
				pq_set_pinned(v->vm->pq, p, true);
		}
	}
out:
	hier_unlock(v->h);
	return err;
}

int
vmo_unpin(struct vmo *v, uint64_t off, uint64_t len)
{
	struct cow_node *leaf;
	uint64_t base, s, e, bo, be, pos;
	int err;

	v = vmo_target(v);
	hier_wlock(v->h);
	err = range_resolve(v, off, len, &s, &e, &bo, &be);
	if (err == 0 && s == e)
		err = -EINVAL;		/* as pin: an empty range holds nothing */
	if (err != 0)
		goto out;
	leaf = vmo_leaf(v, &base);
	for (pos = s; pos < e; pos += VM_PAGE_SIZE) {
		struct vm_page *p = plist_page(plist_lookup(&leaf->pages, base + pos));

		/* A contiguous VMO's base pin is not the caller's. */
		if (p == NULL || p->pin_count <= (hier_is_contig(v->h) ? 1u : 0u)) {
			err = -EINVAL;
			goto out;
		}
	}
	unpin_pages(leaf, base + s, base + e);
out:
	hier_unlock(v->h);
	return err;
}

/* ---- page sharing between VMOs ---------------------------------------- */

/* Lock two hierarchies (or one) in address order: no deadlock. */
static void
lock_pair(struct hier *w, struct hier *r)
{
	if (w == r) {
		hier_wlock(w);
	} else if ((uintptr_t)w < (uintptr_t)r) {
		hier_wlock(w);
		hier_rlock(r);
	} else {
		hier_rlock(r);
		hier_wlock(w);
	}
}

static void
unlock_pair(struct hier *w, struct hier *r)
{
	if (w != r)
		hier_runlock(r);
	hier_unlock(w);
}

/*
 * Share [soff, soff+len) of src into dst at doff, page by page: dst's
 * slot takes a reference to the very page src sees (or reads zero where
 * src does).  Locked: dst's hierarchy exclusive, src's shared.  Returns
 * bytes done; *err says why it stopped short.
 */
static uint64_t
share_pages(struct vmo *dst, uint64_t doff, struct vmo *src, uint64_t soff,
    uint64_t len, int *err)
{
	struct cow_node *dl, *sl, *owner;
	uint64_t db, sb, i, oo;
	plist_slot_t s, old;

	dl = vmo_leaf(dst, &db);
	sl = vmo_leaf(src, &sb);
	*err = 0;
	for (i = 0; i < len; i += VM_PAGE_SIZE) {
		uint64_t d = db + doff + i;

		s = cow_lookup(sl, sb + soff + i, &owner, &oo);
		if (src->kind == VMO_SLICE && soff + i + VM_PAGE_SIZE > src->size &&
		    plist_is_page(s)) {
			/* A slice ends mid-page: past its end the page holds
			 * its root's bytes, which dst must not see.  Copy the
			 * slice's part, zero the rest. */
			uint64_t keep = src->size > soff + i ? src->size - soff - i : 0;
			struct vm_page *q;
			char *qa;

			if ((*err = cow_get_writable(dst->vm, dl, d, COW_NOFILL, &q, NULL)) != 0)
				break;
			qa = vm_page_addr(dst->vm, q);
			memcpy(qa, vm_page_addr(dst->vm, plist_page(s)), keep);
			memset(qa + keep, 0, VM_PAGE_SIZE - keep);
			continue;
		}
		if (plist_is_comp(s)) {
			/* Compressed: dst gets a copy (of what src shows of it). */
			uint64_t keep = VM_PAGE_SIZE;
			char tmp[VM_PAGE_SIZE];
			struct vm_page *q;

			if (src->kind == VMO_SLICE && soff + i + VM_PAGE_SIZE > src->size)
				keep = src->size > soff + i ? src->size - soff - i : 0;
			if (zstore_get(dst->vm->zs, plist_comp_handle(s), tmp) != 0) {
				*err = -EIO;
				break;
			}
			if ((*err = cow_get_writable(dst->vm, dl, d, COW_NOFILL, &q, NULL)) != 0)
				break;
			memcpy(vm_page_addr(dst->vm, q), tmp, keep);
			memset((char *)vm_page_addr(dst->vm, q) + keep, 0, VM_PAGE_SIZE - keep);
			continue;
		}
		if (!plist_is_page(s)) {
			if ((*err = cow_mark_zero(dst->vm, dl, d, d + VM_PAGE_SIZE)) != 0)
				break;
			continue;
		}
		if (plist_page(s)->pin_count > 0 || pmm_page_lent(plist_page(s))) {
			/* A pinned page stays its VMO's own, a borrowed one
			 * movable (contig.c): copy it instead. */
			struct vm_page *q;

			if ((*err = cow_get_writable(dst->vm, dl, d, COW_NOFILL, &q, NULL)) != 0)
				break;
			memcpy(vm_page_addr(dst->vm, q), vm_page_addr(dst->vm,
			    plist_page(s)), VM_PAGE_SIZE);
			continue;
		}
		/* A page in two slots is off the page queues for good
		 * (its owner backlink can go stale): never reclaimed. */
		pq_dequeue(dst->vm->pq, plist_page(s));
		atomic_fetch_add(&plist_page(s)->share, 1);
		vm_page_flag_set(plist_page(s), VM_PAGE_F_SHARED);
		if ((*err = plist_set(&dl->pages, d, s, &old)) != 0) {
			atomic_fetch_sub(&plist_page(s)->share, 1);
			break;
		}
		cow_slot_drop(dst->vm, old);
	}
	/* dst's own slots now hide what its ancestors showed there. */
	if (i > 0 && dl->parent != NULL && db + doff < dl->parent_limit)
		cow_release_above(dst->vm, dl->parent, db + doff + dl->parent_off,
		    (db + doff + i < dl->parent_limit ? db + doff + i :
		    dl->parent_limit) + dl->parent_off);
	return i;
}

int64_t
vmo_share_range(struct vmo *dst, uint64_t doff, struct vmo *src, uint64_t soff,
    uint64_t len)
{
	uint64_t done, max;
	int err;

	if (((doff | soff | len) & VM_PAGE_MASK) != 0 || soff + len < soff ||
	    doff + len < doff)
		return -EINVAL;
	if (len == 0)
		return 0;
	dst = vmo_target(dst);
	src = vmo_target(src);
	if (hier_is_contig(dst->h) || hier_is_contig(src->h))
		return -EXDEV;	/* its pages stay in it (contig.c): copy */
	lock_pair(dst->h, src->h);
	/* A pager-backed side: its pages come from and go to a store
	 * (paging in, dirty tracking, true snapshots: pager.c), which
	 * sharing slots would bypass.  The caller copies instead.  So does
	 * a discardable side: a discard must free what it counts. */
	err = -EXDEV;
	if (dst->h->pops != NULL || src->h->pops != NULL ||
	    vmo_is_discardable(dst) || vmo_is_discardable(src))
		goto out;
	err = -EINVAL;
	if (soff + len > vm_page_roundup(src->size))
		goto out;
	if (vmo_leaf(dst, &done) == vmo_leaf(src, &max)) {
		/* The same pages on both sides: ranges must not overlap. */
		uint64_t d = done + doff, s = max + soff;
		if (d < s + len && s < d + len)
			goto out;
	}
	err = -EFBIG;
	max = dst->kind == VMO_SLICE ? dst->size : VMO_MAX_SIZE;
	if (doff >= max || len > max - doff)
		goto out;
	err = -EBUSY;
	if (cow_any_pinned(vmo_leaf(dst, &done), done + doff, done + doff + len))
		goto out;
	done = share_pages(dst, doff, src, soff, len, &err);
	if (done > 0)
		note_written(dst, doff + done);
	unlock_pair(dst->h, src->h);
	return done > 0 ? (int64_t)done : err;
out:
	unlock_pair(dst->h, src->h);
	return err;
}

/* ---- hints ------------------------------------------------------------ */

int
vmo_hint(struct vmo *v, uint64_t off, uint64_t len, enum vmo_hint hint)
{
	struct cow_node *leaf, *owner;
	uint64_t base, s, e, bo, be, pos, oo;
	struct vm_page *p;
	bool paged;
	int err;

	if (hint != VMO_HINT_DONTNEED && hint != VMO_HINT_ALWAYSNEED)
		return -EINVAL;
	v = vmo_target(v);
	hier_rlock(v->h);
	err = range_resolve(v, off, len, &s, &e, &bo, &be);
	paged = v->h->pops != NULL;
	hier_runlock(v->h);
	if (err != 0)
		return err;
	if (hint == VMO_HINT_ALWAYSNEED) {
		/* Bring the range in: from the store, or fresh zero pages. */
		err = paged ? vmo_prefetch(v, s, e - s) : vmo_commit(v, s, e - s);
		if (err != 0)
			return err;
	}
	hier_wlock(v->h);
	leaf = vmo_leaf(v, &base);
	for (pos = s; pos < e; pos += VM_PAGE_SIZE) {
		p = plist_page(cow_lookup(leaf, base + pos, &owner, &oo));
		if (p == NULL)
			continue;
		vm_page_flag_clear(p, hint == VMO_HINT_ALWAYSNEED ?
		    VM_PAGE_F_DONTNEED : VM_PAGE_F_ALWAYSNEED);
		vm_page_flag_set(p, hint == VMO_HINT_ALWAYSNEED ?
		    VM_PAGE_F_ALWAYSNEED : VM_PAGE_F_DONTNEED);
		if (!pq_queued(p))
			continue;
		if (hint == VMO_HINT_ALWAYSNEED)
			pq_hint_alwaysneed(v->vm->pq, p, true);
		else
			pq_hint_dontneed(v->vm->pq, p);
	}
	hier_unlock(v->h);
	return 0;
}

static int
prefetch_once(struct vmo *v, uint64_t off, uint64_t len)
{
	uint64_t s, e, bo, be;
	bool paged;
	int err;

	hier_rlock(v->h);
	err = range_resolve(v, off, len, &s, &e, &bo, &be);
	paged = v->h->pops != NULL;
	if (err == 0 && paged) {
		/* Page requests: the store is read with the lock dropped. */
		if ((err = pager_fault(v, s, e - s, false)) == 0)
			hier_runlock(v->h);
		return err;
	}
	hier_runlock(v->h);
	if (err != 0)
		return err;
	return z_populate(v, s, e - s);	/* decompress */
}

/* ---- seek ------------------------------------------------------------- */

/*
 * Range operations that leave nothing changed on -ENOSPC, or (zeroing a
 * store's pages) only a zeroed prefix, done again whole while reclaim can
 * still make room (vm_room_retry).  Without this a zero or prefetch failed
 * with ENOSPC on a backed mount whenever concurrent writers took the room
 * vm_reserve had made (issue #16, vmofs-stress's backed phase).  Commit
 * and pin retry from the page they reached instead (range_make_room); a
 * hint brings pages in through vmo_prefetch or vmo_commit.
 */
static int
range_retry(struct vmo *v, uint64_t off, uint64_t len,
    int (*op)(struct vmo *, uint64_t, uint64_t))
{
	unsigned idle = 0;
	int err;

	v = vmo_target(v);
	while ((err = op(v, off, len)) == -ENOSPC && vm_room_retry(v->vm,
	    len > 1024 * VM_PAGE_SIZE ? 1024 * VM_PAGE_SIZE : len, false, &idle))
		;
	return err;
}

int
vmo_decommit(struct vmo *v, uint64_t off, uint64_t len)
{
	return range_retry(v, off, len, decommit_once);
}

int
vmo_zero(struct vmo *v, uint64_t off, uint64_t len)
{
	return range_retry(v, off, len, zero_once);
}

int
vmo_prefetch(struct vmo *v, uint64_t off, uint64_t len)
{
	return range_retry(v, off, len, prefetch_once);
}

/* First offset in [o, end) of n's view that shows a page, or end. */
static uint64_t
seek_data(struct cow_node *n, uint64_t o, uint64_t end)
{
	while (o < end) {
		/* A store's bytes count as data (pager-backed). */
		if (n->parent == NULL && pager_in_store(n, o) &&
		    plist_lookup(&n->pages, o) != PLIST_MARKER)
			return o;
		uint64_t x = end, pe;
		plist_slot_t s = PLIST_EMPTY;
		bool has = plist_next(&n->pages, o, end, &x, &s);

		if (n->parent != NULL && o < n->parent_limit) {
			pe = x < n->parent_limit ? x : n->parent_limit;
			if (o < pe) {
				uint64_t r = seek_data(n->parent, o + n->parent_off,
				    pe + n->parent_off);

				if (r < pe + n->parent_off)
					return r - n->parent_off;
			}
		}
		if (!has)
			return end;
		if (plist_has_data(s) || s == PLIST_STORE)	/* evicted: data */
			return x;
		o = x + VM_PAGE_SIZE;	/* a marker: a hole */
	}
	return end;
}

int
vmo_seek(struct vmo *v, uint64_t off, int whence, uint64_t *result)
{
	struct cow_cursor cur;
	struct cow_node *leaf;
	uint64_t base, top, pos, r;
	int err = 0;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	v = vmo_target(v);
	hier_rlock(v->h);
	if (off >= v->size) {
		err = -ENXIO;
		goto out;
	}
	leaf = vmo_leaf(v, &base);
	top = vm_page_roundup(v->size);
	if (whence == SEEK_DATA) {
		r = seek_data(leaf, base + vm_page_trunc(off), base + top) - base;
		if (r >= v->size) {
			err = -ENXIO;
			goto out;
		}
		*result = r > off ? r : off;
		goto out;
	}
	cow_cursor_init(&cur, leaf);
	for (pos = vm_page_trunc(off); pos < top; pos += VM_PAGE_SIZE) {
		struct cow_node *t;
		uint64_t to;
		plist_slot_t sl = cow_cursor_lookup(&cur, base + pos, base + top);

		if (plist_has_data(sl))
			continue;
		if ((sl == PLIST_EMPTY || sl == PLIST_STORE) && v->h->pops != NULL &&
		    cow_lookup_top(leaf, base + pos, &t, &to) == PLIST_EMPTY &&
		    t != NULL && pager_in_store(t, to))
			continue;
		break;
	}
	r = pos > off ? pos : off;
	*result = r < v->size ? r : v->size;
out:
	hier_runlock(v->h);
	return err;
}

/* ---- attribution ------------------------------------------------------ */

/*
 * Viewer index of one hidden level, so that attribution does not walk every
 * child for every page (100 clones of a 256 MiB file: 6.5M lookups per
 * query, ~200 ms).  For the level's visible children it keeps their windows
 * (sorted starts and ends) and the level offsets where one of them has a
 * slot of its own (sorted): a page there is seen by
 *     #windows covering it - #own slots at it + what hidden children see,
 * each term a binary search (hidden children, rare here, are walked as
 * before).  Built only when no visible child has slices (they count per
 * offset); else attribution falls back to cow_viewers.
 */
struct vindex {
	uint64_t	*starts, *ends, *own;
	size_t		nwin, nown;
	struct cow_node	*x;
};

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* How many of the n sorted values are <= key. */
static size_t
count_le(const uint64_t *v, size_t n, uint64_t key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct own_ctx {
	struct vindex	*vi;
	uint64_t	base;
};

static int
own_cb(void *ctx, uint64_t off, plist_slot_t slot)
{
	struct own_ctx *oc = ctx;

	(void)slot;
	oc->vi->own[oc->vi->nown++] = oc->base + off;
	return 0;
}

static void
vindex_free(struct vindex *vi)
{
	free(vi->starts);
	free(vi->ends);
	free(vi->own);
	memset(vi, 0, sizeof(*vi));
}

/* Testing switch (vm_testing.h): attribution without the index. */
static _Atomic bool vindex_disabled;

void
vm_test_set_vindex(bool on)
{
	atomic_store(&vindex_disabled, !on);
}

/* Build x's index; false (and nothing to free) if it cannot or should not. */
static bool
vindex_build(struct vindex *vi, struct cow_node *x)
{
	struct cow_node *c;
	size_t nvis = 0, nslots = 0;

	memset(vi, 0, sizeof(*vi));
	if (!x->hidden || x->nchildren < 4 || atomic_load(&vindex_disabled))
		return false;
	LIST_FOREACH(c, &x->children, sibling) {
		if (c->hidden)
			continue;
		/* Slices count per offset, at-least-on-write clones of the
		 * child per slot of theirs: walk those as cow_viewers does. */
		if ((c->vmo != NULL && !LIST_EMPTY(&c->vmo->slices)) || c->nchildren != 0)
			return false;
		nvis++;
		nslots += plist_nslots(&c->pages);
	}
	vi->starts = vm_malloc((nvis + 1) * sizeof(uint64_t));
	vi->ends = vm_malloc((nvis + 1) * sizeof(uint64_t));
	vi->own = vm_malloc((nslots + 1) * sizeof(uint64_t));
	if (vi->starts == NULL || vi->ends == NULL || vi->own == NULL) {
		vindex_free(vi);
		return false;
	}
	LIST_FOREACH(c, &x->children, sibling) {
		struct own_ctx oc = { .vi = vi, .base = c->parent_off };

		if (c->hidden || c->parent_limit == 0)
			continue;
		vi->starts[vi->nwin] = c->parent_off;
		vi->ends[vi->nwin++] = c->parent_off + c->parent_limit;
		plist_visit(&c->pages, 0, c->parent_limit, own_cb, &oc);
	}
	qsort(vi->starts, vi->nwin, sizeof(uint64_t), u64_cmp);
	qsort(vi->ends, vi->nwin, sizeof(uint64_t), u64_cmp);
	qsort(vi->own, vi->nown, sizeof(uint64_t), u64_cmp);
	vi->x = x;
	return true;
}

/* cow_viewers(x, off, true), through the index. */
static uint64_t
vindex_viewers(struct vindex *vi, uint64_t off)
{
	struct cow_node *c;
	uint64_t n;

	n = count_le(vi->starts, vi->nwin, off) - count_le(vi->ends, vi->nwin, off);
	n -= count_le(vi->own, vi->nown, off) - (off ? count_le(vi->own, vi->nown, off - 1) : 0);
	LIST_FOREACH(c, &vi->x->children, sibling) {
		uint64_t co;

		if (!c->hidden || off < c->parent_off)
			continue;
		co = off - c->parent_off;
		if (co < c->parent_limit && plist_lookup(&c->pages, co) == PLIST_EMPTY)
			n += cow_viewers(c, co, true);
	}
	return n;
}

struct attr_ctx {
	struct cow_node	*leaf, *level;
	uint64_t	disp;		/* level offset = leaf offset + disp */
	double		scaled;
	uint64_t	comp;		/* compressed bytes the VMO sees */
	struct vmo_attr	*a;
	struct vindex	*vi;		/* the level's index, or NULL */
};

static int
attr_cb(void *ctx, uint64_t off, plist_slot_t slot)
{
	struct attr_ctx *ac = ctx;
	struct vm_page *p = plist_page(slot);
	struct cow_node *owner;
	uint64_t oo, n, k;

	if (p == NULL && !plist_is_comp(slot))
		return 0;
	/* Seen by our VMO only if nothing below this level covers it. */
	/* (Compare where the lookup ends, not the page: after a share one
	 * page can sit in two slots of the same chain.) */
	if (ac->level != ac->leaf &&
	    (cow_lookup(ac->leaf, off - ac->disp, &owner, &oo) == PLIST_EMPTY ||
	    owner != ac->level || oo != off))
		return 0;
	if (p == NULL) {		/* compressed: populated, not committed */
		ac->comp += VM_PAGE_SIZE;
		return 0;
	}
	n = ac->vi != NULL ? vindex_viewers(ac->vi, off) :
	    cow_viewers(ac->level, off, true);
	assert(n >= 1);
	/* k slots share the page: each gets P/k, split among its viewers. */
	k = (uint64_t)atomic_load(&p->share) + 1;
	ac->a->committed += VM_PAGE_SIZE;
	ac->scaled += (double)VM_PAGE_SIZE / (double)(n * k);
	if (n == 1 && k == 1)
		ac->a->private_bytes += VM_PAGE_SIZE;
	if (p->pin_count > 0)
		ac->a->pinned += VM_PAGE_SIZE;
	return 0;
}

/* One level of vmo_get_attr: its pages in [s, e) that the VMO sees. */
static int
attr_level(void *ctx, struct cow_node *x, uint64_t s, uint64_t e, uint64_t disp)
{
	struct attr_ctx *ac = ctx;
	struct vindex vi;

	ac->level = x;
	ac->disp = disp;
	ac->vi = vindex_build(&vi, x) ? &vi : NULL;
	plist_visit(&x->pages, s, e, attr_cb, ac);
	if (ac->vi != NULL)
		vindex_free(&vi);
	return 0;
}

int
vmo_get_attr(struct vmo *v, struct vmo_attr *a)
{
	struct attr_ctx ac = { .a = a };
	uint64_t base, start, end;

	memset(a, 0, sizeof(*a));
	if (v->kind == VMO_REF)
		return 0;	/* charged to its target only (Zircon's rule) */
	hier_rlock(v->h);
	ac.leaf = vmo_leaf(v, &base);
	start = base;
	end = base + (v->kind == VMO_SLICE ? v->size : vm_page_roundup(v->size));
	end = vm_page_roundup(end);
	cow_walk_up(ac.leaf, start, end, attr_level, &ac);
	hier_runlock(v->h);
	a->populated = a->committed + ac.comp;
	a->scaled = (uint64_t)(ac.scaled + 0.5);
	return 0;
}
