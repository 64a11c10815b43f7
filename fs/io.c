/*
 * io.c - file requests on data and info (SPEC 3).
 *
 * data: fi->fh is the vnode; nopen > 0 keeps the vnode and its VMO alive,
 * so the I/O paths below run without vfs.ns_lock (it is taken only to
 * count opens and to stamp mtime).  The page cache is kept between opens
 * (keep_cache); coherence with aliases is notify.c's job, called after
 * every change that bypasses the inode's own page cache.
 *
 *   read       vmo_read_iov -> fuse_reply_iov straight from the pages
 *   write_buf  vmo_write_iov -> fuse_buf_copy from the FUSE pipe into
 *              the pages (one copy, no libfuse buffer)
 *
 * info: generated once at open into fi->fh (struct itext), served with
 * direct_io so every open shows fresh numbers.  It is derived, so it
 * cannot be written; but backup tools copy it out as a file and write it
 * back when they restore (issue #19): an open for writing (and O_TRUNC)
 * is allowed where the mode allows, a write of info text (whole lines
 * "key: value" of info's keys) is accepted and dropped, any other EINVAL.
 */
#include "vmofs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IO_PAGE_SIZE	4096u
#define IO_PAGE_MASK	(IO_PAGE_SIZE - 1)
#define IO_COPY_CHUNK	(1u << 20)

struct itext {
	size_t	len;
	char	text[512];
};

/* fi->fh of data: the vnode, and this bit for a writable open through
 * the writeback cache (vnode.nwcache counts those). */
#define IO_FH_WCACHE	((uint64_t)1)

static struct vnode *
io_vnode(struct fuse_file_info *fi)
{
	return (struct vnode *)(uintptr_t)(fi->fh & ~IO_FH_WCACHE);
}

/*
 * (N) -o writeback_cache: may v's data go through the kernel's writeback
 * cache?  Only a plain resizable VMO that nothing aliases: the kernel then
 * owns the file's size and holds written bytes for a while, so
 *  - a slice, a reference and their group (shared bytes and size), an
 *    ~aolw clone and a VMO that has had one (bytes read live) are direct:
 *    their reads and writes reach the daemon, which first flushes any
 *    cached writer of the same bytes (notify_flush);
 *  - a fixed-size, contiguous or discardable VMO is direct, so that a
 *    write past its end fails in write(2) (EFBIG), and a discard is never
 *    undone by a late write-back.
 * docs/design.md, "The writeback cache".
 */
static bool
io_wb_cached(struct vnode *v)
{
	return !v->group && !v->aolw && !v->has_aolw &&
	    vmo_is_resizable(v->vmo) && !vmo_is_discardable(v->vmo) &&
	    vmo_kind(v->vmo) != VMO_SLICE && vmo_kind(v->vmo) != VMO_REF;
}

/* (N) A writable open through the writeback cache starts or ends. */
static void
io_wcache(struct vnode *v, bool open)
{
	if (open && v->nwcache++ == 0) {
		TAILQ_INSERT_TAIL(&vfs.wcached, v, wclink);
		vfs.nwcached++;
	} else if (!open && --v->nwcache == 0) {
		TAILQ_REMOVE(&vfs.wcached, v, wclink);
		vfs.nwcached--;
	}
}

/* Flush cached writers aliasing [off, off+len) of v; -EIO if it failed. */
static int
io_flush_aliases(struct vnode *v, uint64_t off, uint64_t len)
{
	if (!vfs.writeback || (!__atomic_load_n(&v->group, __ATOMIC_ACQUIRE) &&
	    !v->aolw))
		return 0;
	return notify_flush(v, off, len, false) == 0 ? 0 : -EIO;
}

/* Open info into fi: its text, generated now.  0 or an errno. */
static int
io_open_info(struct vnode *v, struct fuse_file_info *fi)
{
	struct itext *t;
	struct vmo *vmo;

	/* info counts pages: the kernel's dirty ones first (-EAGAIN: stale) */
	(void)notify_flush(v, 0, VMO_WHOLE, true);
	vfs_lock();
	vmo = vnode_vmo_get(v);
	vfs_unlock();
	if (!vmo)
		return ENOENT;
	if ((t = malloc(sizeof(*t))) == NULL) {
		vmo_unref(vmo);
		return ENOMEM;
	}
	t->len = (size_t)vnode_info_text(vmo, t->text, sizeof(t->text));
	if (t->len >= sizeof(t->text))
		t->len = sizeof(t->text) - 1;
	vmo_unref(vmo);
	fi->fh = (uintptr_t)t;
	fi->direct_io = 1;
	return 0;
}

/*
 * O_TRUNC arrives with open (libfuse enables atomic_o_trunc): truncate
 * here; the kernel drops its own cache, the aliases are ours.  No lock
 * held; the caller's open count keeps the VMO.  0 or an errno.
 */
static int
io_trunc_open(fuse_req_t req, struct vnode *v)
{
	bool killed;
	int r;

	/* KILLPRIV_V2 (conn.c): an O_TRUNC open drops setuid as a write does */
	vfs_lock();
	killed = conn_killpriv() &&
	    conn_kill_priv(&v->meta[VK_DATA], fuse_req_ctx(req), KP_WRITE);
	vfs_unlock();
	if (killed)
		notify_attr(VFS_INO(v->id, VK_DATA));
	if (vmo_size(v->vmo) == 0)
		return 0;
	r = vmo_resize(v->vmo, 0);
	if (vfs_resize_why(r))
		return vnode_reject(req, "open O_TRUNC", v, -r, "%s",
		    vfs_resize_why(r));
	if (r < 0)
		return vfs_errno(r);
	vfs_lock();
	vnode_touch(&v->meta[VK_DATA], true);
	vfs_unlock();
	notify_changed(v, 0, VMO_WHOLE, false);
	return 0;
}

/* Open data into fi: count the open, O_TRUNC.  0 or an errno. */
static int
io_open_data(fuse_req_t req, struct vnode *v, struct fuse_file_info *fi)
{
	bool wb = false, wc = false;
	int err;

	vfs_lock();
	if (!v->vmo) {
		vfs_unlock();
		return ENOENT;
	}
	v->nopen++;
	if (vfs.writeback) {
		wb = io_wb_cached(v);
		wc = wb && (fi->flags & O_ACCMODE) != O_RDONLY;
		if (wc)
			io_wcache(v, true);
	}
	vfs_unlock();
	if ((fi->flags & O_TRUNC) && (err = io_trunc_open(req, v)) != 0) {
		vfs_lock();
		if (wc)
			io_wcache(v, false);
		v->nopen--;
		vnode_maybe_free(v);
		vfs_unlock();
		return err;
	}
	fi->fh = (uintptr_t)v | (wc ? IO_FH_WCACHE : 0);
	fi->noflush = 1;
	if (vfs.direct_io || (vfs.writeback && !wb))
		fi->direct_io = 1;	/* no kernel page cache (see above) */
	else
		fi->keep_cache = 1;
	return 0;
}

int
io_open_fi(fuse_req_t req, struct vnode *v, enum vkind k,
    struct fuse_file_info *fi)
{
	if (k == VK_INFO)
		return io_open_info(v, fi);
	if (k != VK_DATA)
		return EISDIR;
	return io_open_data(req, v, fi);
}

void
io_open_undo(struct vnode *v, enum vkind k, struct fuse_file_info *fi)
{
	if (k == VK_INFO) {
		free((void *)(uintptr_t)fi->fh);
		return;
	}
	vfs_lock();
	if (fi->fh & IO_FH_WCACHE)
		io_wcache(v, false);
	v->nopen--;
	vnode_maybe_free(v);
	vfs_unlock();
}

void
io_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vnode *v;
	enum vkind k = VFS_INO_KIND(ino);
	int err;

	vfs_lock();
	v = vnode_get(VFS_INO_ID(ino));
	err = !v ? ENOENT : v == vfs.root ? EISDIR : 0;
	vfs_unlock();
	/* v stays: the kernel holds a lookup reference to the inode */
	if (err == 0)
		err = io_open_fi(req, v, k, fi);
	if (err != 0) {
		fuse_reply_err(req, err);
		return;
	}
	if (fuse_reply_open(req, fi) != 0)
		io_open_undo(v, k, fi);
}

void
io_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vnode *v;

	if (VFS_INO_KIND(ino) == VK_INFO) {
		free((void *)(uintptr_t)fi->fh);
	} else {
		v = io_vnode(fi);
		vfs_lock();
		if (fi->fh & IO_FH_WCACHE)
			io_wcache(v, false);
		v->nopen--;
		vnode_maybe_free(v);	/* last close of a removed data */
		vfs_unlock();
	}
	fuse_reply_err(req, 0);
}

struct read_ctx {
	fuse_req_t req;
	bool	   replied;
};

/* Runs under the hierarchy lock (shared): the pages stay put meanwhile. */
static int
io_read_cb(void *arg, const struct iovec *iov, int iovcnt)
{
	struct read_ctx *c = arg;

	c->replied = true;
	if (iovcnt == 0)
		return fuse_reply_buf(c->req, NULL, 0);
	return fuse_reply_iov(c->req, iov, iovcnt);
}

void
io_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct read_ctx c = { .req = req };
	int r;

	if (VFS_INO_KIND(ino) == VK_INFO) {
		struct itext *t = (struct itext *)(uintptr_t)fi->fh;
		char copy[sizeof(t->text)];

		if ((size_t)off >= t->len)
			size = 0;
		else if (size > t->len - (size_t)off)
			size = t->len - (size_t)off;
		/*
		 * Reply from a copy: once the kernel has the reply, the
		 * reader may close and RELEASE free t on another thread
		 * before fuse_reply_buf returns (ASan sees writev's buffer
		 * read back after the call).
		 */
		memcpy(copy, t->text + (size ? off : 0), size);
		fuse_reply_buf(req, size ? copy : NULL, size);
		return;
	}
	if ((r = io_flush_aliases(io_vnode(fi), (uint64_t)off, size)) == 0)
		r = vmo_read_iov(io_vnode(fi)->vmo, (uint64_t)off, size,
		    io_read_cb, &c);
	if (!c.replied)
		fuse_reply_err(req, vfs_errno(r < 0 ? r : -EIO));
}

struct write_ctx {
	struct fuse_bufvec *src;
	size_t	 consumed;
};

/*
 * Runs under the hierarchy lock (exclusive): copy the request's bytes (a
 * pipe when splicing) straight into the page iovecs.
 */
static ssize_t
io_write_cb(void *arg, const struct iovec *iov, int iovcnt)
{
	struct write_ctx *c = arg;
	struct fuse_bufvec *dst;
	ssize_t n;
	int i;

	dst = calloc(1, sizeof(*dst) + (size_t)iovcnt * sizeof(dst->buf[0]));
	if (!dst)
		return -ENOMEM;
	dst->count = (size_t)iovcnt;
	for (i = 0; i < iovcnt; i++) {
		dst->buf[i].mem = iov[i].iov_base;
		dst->buf[i].size = iov[i].iov_len;
	}
	n = fuse_buf_copy(dst, c->src, 0);
	free(dst);
	if (n > 0)
		c->consumed += (size_t)n;
	return n;
}

/* Throw away what the request carried and we did not use (pipe data). */
static void
io_drain(struct fuse_bufvec *src, size_t left)
{
	struct fuse_bufvec sink = FUSE_BUFVEC_INIT(left);

	if (!left || !(src->buf[0].flags & FUSE_BUF_IS_FD))
		return;
	sink.buf[0].mem = malloc(left);
	if (sink.buf[0].mem)
		fuse_buf_copy(&sink, src, 0);
	free(sink.buf[0].mem);
}

/* WRITE requests whose data came through the splice pipe (stats). */
static uint64_t io_nspliced;

uint64_t
io_spliced(void)
{
	return __atomic_load_n(&io_nspliced, __ATOMIC_RELAXED);
}

/*
 * A write to info: a restore of a copy writes info text, which is dropped
 * (info stays what the VMO says); anything else is refused.
 */
static void
io_write_info(fuse_req_t req, struct fuse_bufvec *bufv, off_t off)
{
	size_t len = fuse_buf_size(bufv);
	struct fuse_bufvec dst = FUSE_BUFVEC_INIT(len);
	char *buf = len <= 65536 ? malloc(len ? len : 1) : NULL;
	ssize_t n = 0;

	if (buf) {
		dst.buf[0].mem = buf;
		n = fuse_buf_copy(&dst, bufv, 0);
	} else {
		io_drain(bufv, len);	/* too long to be info text */
	}
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else if (buf && n == (ssize_t)len && vnode_info_form(buf, len))
		fuse_reply_write(req, len);
	else
		fuse_reply_err(req, vfs_reject(req, "write", "info", EINVAL,
		    "%zu bytes at %lld: info is read-only (a restore of a "
		    "copy writes info text, which is ignored)", len,
		    (long long)off));
	free(buf);
}

void
io_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
    off_t off, struct fuse_file_info *fi)
{
	struct vnode *v = io_vnode(fi);
	struct write_ctx c = { .src = bufv };
	size_t len = fuse_buf_size(bufv);
	bool killed;
	ssize_t r;

	if (VFS_INO_KIND(ino) == VK_INFO) {
		io_write_info(req, bufv, off);
		return;
	}
	if (bufv->buf[0].flags & FUSE_BUF_IS_FD)
		__atomic_fetch_add(&io_nspliced, 1, __ATOMIC_RELAXED);
	/* Older bytes of an alias still in the kernel must land first. */
	if ((r = io_flush_aliases(v, (uint64_t)off, len)) == 0)
		r = vmo_write_iov(v->vmo, (uint64_t)off, len, io_write_cb, &c);
	io_drain(bufv, len - c.consumed);
	if (r < 0) {
		fuse_reply_err(req, vfs_errno(r));
		return;
	}
	vfs_lock();
	vnode_touch(&v->meta[VK_DATA], true);
	killed = conn_killpriv() &&
	    conn_kill_priv(&v->meta[VK_DATA], fuse_req_ctx(req), KP_WRITE);
	vfs_unlock();
	if (killed)
		notify_attr(ino);
	notify_changed(v, (uint64_t)off, (uint64_t)r, false);
	if (fi->writepage && (size_t)r < len) {
		/*
		 * The kernel's write-back of mmap'd (or cached) pages ignores
		 * the count of a WRITE reply and only records an error
		 * (fuse_writepage_end): a short count would have msync(2)
		 * report success for bytes that never arrived.  So a short
		 * write-back is ENOSPC, which msync and fsync then return.
		 */
		vfs_log(LOG_INFO, "write-back of %zu bytes at %lld: only %zd "
		    "fit (%s)", len, (long long)off, r, strerror(ENOSPC));
		fuse_reply_err(req, ENOSPC);
		return;
	}
	fuse_reply_write(req, (size_t)r);
}

/*
 * Nothing is volatile in RAM mode: every write is already in the VMO.  In
 * backing mode, data of a backed VMO (or of a slice of one) is written
 * back and synced; clones live in memory only.
 */
void
io_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi)
{
	(void)datasync;
	if (VFS_INO_KIND(ino) != VK_DATA) {
		fuse_reply_err(req, 0);
		return;
	}
	fuse_reply_err(req, backing_fsync(io_vnode(fi)));
}

/* Zero [off, off+len) clipped to the size; 0 or a negative errno. */
static int
io_zero(struct vnode *v, uint64_t off, uint64_t len)
{
	uint64_t size = vmo_size(v->vmo);
	uint64_t end = off + len > size ? size : off + len;
	int r;

	if (off >= end)
		return 0;
	r = vmo_zero(v->vmo, off, end - off);
	if (r == 0)
		notify_changed(v, off, end - off, true);
	return r;
}

/* Commit the pages of [off, off+len) (clipped to the page-rounded size). */
static int
io_commit(struct vnode *v, uint64_t off, uint64_t len)
{
	uint64_t size = vmo_size(v->vmo);
	uint64_t psize = (size + VFS_PAGE - 1) & ~(uint64_t)(VFS_PAGE - 1);
	uint64_t end = off + len > psize ? psize : off + len;

	if (off >= end)
		return 0;
	return vmo_commit(v->vmo, off, end - off);
}

void
io_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
    off_t len, struct fuse_file_info *fi)
{
	struct vnode *v = io_vnode(fi);
	uint64_t o = (uint64_t)off, l = (uint64_t)len, old;
	bool grow = !(mode & FALLOC_FL_KEEP_SIZE);
	const char *why = NULL;
	int r = -EOPNOTSUPP;

	(void)ino;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
	    FALLOC_FL_ZERO_RANGE)) {
		why = "modes: 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE";
		goto out;
	}
	r = -EINVAL;
	why = "offset below 0, length not above 0, or their sum overflows";
	if (off < 0 || len <= 0 || o + l < o)
		goto out;
	r = -EFBIG;
	why = NULL;	/* vfs_resize_why says why */
	if (o + l > VMO_MAX_SIZE)
		goto out;
	/* the kernel wrote back v's own range; an alias's is ours */
	if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) &&
	    (r = io_flush_aliases(v, o, l)) < 0)
		goto out;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		r = -EOPNOTSUPP;
		why = "PUNCH_HOLE goes with KEEP_SIZE";
		if (mode & FALLOC_FL_KEEP_SIZE) {
			r = io_zero(v, o, l);
			why = NULL;
		}
		goto out;
	}
	old = vmo_size(v->vmo);
	if (grow && o + l > old && (r = vmo_resize(v->vmo, o + l)) < 0)
		goto out;
	if (mode & FALLOC_FL_ZERO_RANGE)
		r = io_zero(v, o, l);
	else
		r = io_commit(v, o, l);
	if (r < 0 && grow && o + l > old)
		vmo_resize(v->vmo, old);	/* nothing observable changed */
out:
	if (!why)
		why = vfs_resize_why(r);
	if (r < 0 && why)
		vnode_reject(req, "fallocate", v, -r, "%s", why);
	if (r == 0) {
		vfs_lock();
		vnode_touch(&v->meta[VK_DATA], true);
		vfs_unlock();
		backing_size_changed(v);
	}
	fuse_reply_err(req, r < 0 ? vfs_errno(r) : 0);
}

void
io_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
    struct fuse_file_info *fi)
{
	struct vnode *v = io_vnode(fi);
	uint64_t res, size;
	int r = -EINVAL;

	(void)ino;
	if ((whence == SEEK_DATA || whence == SEEK_HOLE) && off >= 0) {
		/* writeback_cache: pages still in the kernel are data too */
		(void)notify_flush(v, 0, VMO_WHOLE, true);
		r = vmo_seek(v->vmo, (uint64_t)off, whence, &res);
		size = vmo_size(v->vmo);
		if (r == 0 && res > size)
			res = size;
	}
	if (r < 0)
		fuse_reply_err(req, vfs_errno(r));
	else
		fuse_reply_lseek(req, (off_t)res);
}

/*
 * Copy len bytes src@off_in -> dst@off_out through a bounce buffer.
 * Returns bytes copied, or a negative errno if none were.
 */
static ssize_t
io_copy_bytes(struct vmo *src, uint64_t off_in, struct vmo *dst,
    uint64_t off_out, size_t len)
{
	size_t total = 0, chunk = len < IO_COPY_CHUNK ? len : IO_COPY_CHUNK;
	ssize_t n, w = 0;
	char *buf;

	if (len == 0)
		return 0;
	if ((buf = malloc(chunk)) == NULL)
		return -ENOMEM;
	while (total < len) {
		size_t want = len - total < chunk ? len - total : chunk;

		n = vmo_read(src, buf, off_in + total, want);
		if (n <= 0)
			break;
		w = vmo_write(dst, buf, off_out + total, (size_t)n);
		if (w <= 0)
			break;
		total += (size_t)w;
		if (w < n)
			break;
	}
	free(buf);
	return total == 0 && w < 0 ? w : (ssize_t)total;
}

/*
 * copy_file_range: where both offsets sit at the same place in a page, the
 * whole pages in the middle are shared copy-on-write (vmo_share_range: no
 * byte moves, either side's first write copies); the unaligned head and
 * tail, and everything when the offsets disagree, are copied.  Sharing
 * that fails (a pinned page in the way, no memory for a list node) falls
 * back to copying.
 */
void
io_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
    struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
    struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct vnode *src, *dst;
	uint64_t in, out, size, head, mid;
	size_t total = 0;
	ssize_t r = 0;
	int64_t sh;
	int err;

	if (VFS_INO_KIND(ino_in) != VK_DATA || VFS_INO_KIND(ino_out) != VK_DATA) {
		/* the kernel copies through read and write instead */
		err = vfs_reject(req, "copy_file_range", "info", EOPNOTSUPP,
		    "only between data files");
		goto out_err;
	}
	if (flags != 0 || off_in < 0 || off_out < 0) {
		err = vfs_reject(req, "copy_file_range", NULL, EINVAL, "flags "
		    "0x%x (none are defined), offsets %lld and %lld (not below "
		    "0)", flags, (long long)off_in, (long long)off_out);
		goto out_err;
	}
	src = io_vnode(fi_in);
	dst = io_vnode(fi_out);
	in = (uint64_t)off_in;
	out = (uint64_t)off_out;
	/* The kernel wrote back both files' own ranges; aliases are ours. */
	if (io_flush_aliases(src, in, len) < 0 ||
	    io_flush_aliases(dst, out, len) < 0) {
		err = EIO;
		goto out_err;
	}
	size = vmo_size(src->vmo);
	if (in >= size)
		len = 0;
	else if (len > size - in)
		len = (size_t)(size - in);
	head = len;
	mid = 0;
	if ((in & IO_PAGE_MASK) == (out & IO_PAGE_MASK)) {
		head = (IO_PAGE_SIZE - (in & IO_PAGE_MASK)) & IO_PAGE_MASK;
		if (head > len)
			head = len;
		mid = (len - head) & ~(uint64_t)IO_PAGE_MASK;
	}
	r = io_copy_bytes(src->vmo, in, dst->vmo, out, head);
	if (r > 0)
		total += (size_t)r;
	if (r == (ssize_t)head && mid > 0) {
		sh = vmo_share_range(dst->vmo, out + head, src->vmo, in + head, mid);
		if (sh < 0)
			sh = io_copy_bytes(src->vmo, in + head, dst->vmo, out + head, mid);
		r = (ssize_t)sh;
		if (r > 0)
			total += (size_t)r;
	}
	if (total == head + mid && total < len) {
		r = io_copy_bytes(src->vmo, in + total, dst->vmo, out + total, len - total);
		if (r > 0)
			total += (size_t)r;
	}
	if (total == 0 && r < 0) {
		err = vfs_errno((int)r);
		goto out_err;
	}
	if (total) {
		vfs_lock();
		vnode_touch(&dst->meta[VK_DATA], true);
		vfs_unlock();
		/* the kernel drops dst's own cached range; aliases are ours */
		notify_changed(dst, (uint64_t)off_out, total, false);
	}
	fuse_reply_write(req, total);
	return;
out_err:
	fuse_reply_err(req, err);
}
