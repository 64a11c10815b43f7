/*
 * pager.h - pager-backed VMOs: a VMO whose bytes live in a backing store
 * (for vmofs: one host file per top-level VMO, backing=DIR), paged in on
 * first access and written back when dirty.  As Zircon's pager-backed
 * VMOs and the Akaros page map.  See vm/pager.c for the design.
 *
 * The store is reached only through struct pager_ops, so another store
 * could stand behind the same VMO.  Every op returns 0 or a negative errno
 * and may be called with the VMO's hierarchy lock held: ops must not call
 * back into libvm.  read and readv are also called with no lock (page
 * requests, pager.c), from several threads at once and beside write,
 * resize and sync; libvm discards what such a read returns if the store's
 * bytes there change meanwhile through write or resize.  No op is called
 * once vmo_pager_detach or the VMO's end has returned.
 */
#ifndef VM_PAGER_H
#define VM_PAGER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct vm;
struct vmo;

struct pager_ops {
	/* Fill one page from the store at off (page aligned); bytes past
	 * the store's end read zero. */
	int (*read)(void *ctx, uint64_t off, void *page);
	/* Write len bytes (<= one page) at off. */
	int (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
	/* Set the store's size (the VMO's content size). */
	int (*resize)(void *ctx, uint64_t size);
	/* Make the store durable (fdatasync). */
	int (*sync)(void *ctx);
	/* Optional: fill n consecutive pages from off with one call (preadv);
	 * iov[i] is page i, 4096 bytes.  NULL: read() per page. */
	int (*readv)(void *ctx, uint64_t off, const struct iovec *iov, int n);
};

/*
 * A pager-backed VMO of the given content size (the store's size now),
 * resizable, kind VMO_PAGER.  Nothing is read until touched.  ctx is the
 * ops' argument, owned by the caller until vmo_pager_detach or the VMO's
 * end.  0, -EINVAL, -EFBIG, -ENOMEM.
 */
int vmo_create_paged(struct vm *vm, uint64_t size, const struct pager_ops *ops,
    void *ctx, struct vmo **out);

/*
 * Write every dirty page of the VMO to the store (and the size), then
 * sync.  A write that lands on a page while it is being written back keeps
 * it dirty.  0 or the first store error (the pages it failed on stay
 * dirty).  -EINVAL if vmo is not pager-backed.
 */
int vmo_writeback(struct vmo *vmo);

/*
 * The store is going away (the file is deleted): page in whatever clones
 * of this VMO can still see but have not read yet, so they stay true
 * snapshots, then stop using ops/ctx.  After it returns the caller may
 * free ctx.  0, or -ENOSPC/-EIO if the page-in failed (then nothing is
 * detached; the caller may retry or give up on the clones' unread pages).
 */
int vmo_pager_detach(struct vmo *vmo);

/* Dirty pages waiting for writeback (stats; O(1)). */
uint64_t vmo_dirty_pages(struct vmo *vmo);

#endif /* VM_PAGER_H */
