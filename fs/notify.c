/*
 * notify.c - keeps the kernel's page cache coherent across aliases.
 *
 * The kernel caches pages per inode (we set keep_cache and long
 * timeouts).  A write(2) to an inode updates that inode's cache, but bytes
 * also change behind the kernel's back:
 *   - a slice and its root share pages, and so do all slices of a root:
 *     a write through one makes the others' cached pages stale;
 *   - zero/decommit through xattrs, PUNCH_HOLE/ZERO_RANGE, truncate of a
 *     root that a slice overlaps;
 *   - an at-least-on-write clone (clones/C~aolw) reads its parent's pages
 *     live, so any change to the parent (or to the parent's slices, or to
 *     an aolw clone's own aolw parent) makes the clone's cached pages, and
 *     its slices', stale.  Those are invalidated whole (the clone's
 *     window and what it owns by now are libvm's business), through the
 *     namespace's clones/ lists: a removed clone that is still open is not
 *     reached (docs/semantics.md, "Clone kinds").
 * For each of those the handler calls notify_changed(), which computes
 * every inode aliasing the changed bytes (the vnode's alias group, see
 * struct vgroup) and queues fuse_lowlevel_notify_inval_inode() for each.
 *
 * libfuse forbids calling the notify functions inside a handler or while
 * holding a lock a handler may wait on (it can deadlock: the kernel waits
 * for page locks held by requests we are serving).  So one notifier
 * thread makes the calls.  The handler then waits until its entries are
 * done before replying, so that when write(2) returns, a read through an
 * alias already sees the new bytes - but it waits at most
 * NOTIFY_WAIT_MS: if the invalidation is stuck behind page locks of
 * another request in flight (two writers crossing on aliases), the
 * handler replies anyway and the invalidation completes as soon as that
 * request is answered.  A stuck invalidation therefore delays, never
 * blocks, request handling.
 *
 *   handler --(queue: ino,off,len,seq)--> notifier thread --> /dev/fuse
 *      \____ waits until no queued/in-flight entry has seq <= its own
 *
 * Queued entries for the same inode merge (their range becomes the hull,
 * the entry keeps the older seq), so a burst of writes costs one call per
 * inode.  Lock: nq.lock, a leaf lock (nothing is taken under it).
 */
#include "vmofs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOTIFY_WAIT_MS	1000
#define NOTIFY_FLUSH_MS	30000	/* notify_flush: then the caller fails */

struct nentry {
	TAILQ_ENTRY(nentry) link;
	uint64_t	 seq;
	fuse_ino_t	 ino;		/* inode, or parent for an entry */
	uint64_t	 off, end;	/* byte range; end UINT64_MAX: to EOF */
	char		*name;		/* dentry to invalidate, or NULL */
	bool		 attr;		/* attributes only (no pages) */
	bool		 grow;		/* the kernel's size to at least off */
	unsigned char	 last;		/* grow: the byte at off - 1 */
};

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 work;		/* entries queued, or stopping */
	pthread_cond_t	 done;		/* an entry completed */
	TAILQ_HEAD(, nentry) q;		/* (lock) FIFO, seq nondecreasing */
	struct nentry	*inflight;	/* (lock) being processed */
	uint64_t	 seq;		/* (lock) last seq handed out */
	bool		 stop;		/* (lock) */
	bool		 running;
	bool		 no_handle;	/* VMOFS_TEST_NO_HANDLE: as non-root */
	pthread_t	 thread;
} nq = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.q = TAILQ_HEAD_INITIALIZER(nq.q),
};

/* (nq.lock) Lowest seq not yet completed, UINT64_MAX if all done. */
static uint64_t
notify_low(void)
{
	struct nentry *h = TAILQ_FIRST(&nq.q);

	if (nq.inflight)
		return nq.inflight->seq;
	return h ? h->seq : UINT64_MAX;
}

static void *
notify_main(void *arg)
{
	struct nentry *e;

	(void)arg;
	pthread_mutex_lock(&nq.lock);
	for (;;) {
		while (!nq.stop && TAILQ_EMPTY(&nq.q))
			pthread_cond_wait(&nq.work, &nq.lock);
		if (nq.stop)
			break;
		e = TAILQ_FIRST(&nq.q);
		TAILQ_REMOVE(&nq.q, e, link);
		nq.inflight = e;
		pthread_mutex_unlock(&nq.lock);
		if (e->name) {
			fuse_lowlevel_notify_inval_entry(vfs.se, e->ino,
			    e->name, strlen(e->name));
		} else if (e->grow) {
			/*
			 * -o writeback_cache: the kernel keeps a file's size
			 * itself and ignores ours, but a store past its end
			 * raises it: the last byte again, from the VMO.  A slice's write that
			 * grows its root needs that (notify_changed).
			 */
			struct fuse_bufvec b = FUSE_BUFVEC_INIT(1);

			b.buf[0].mem = &e->last;
			fuse_lowlevel_notify_store(vfs.se, e->ino,
			    (off_t)e->off - 1, &b, 0);
		} else if (e->attr) {
			/* A negative offset: attributes only. */
			fuse_lowlevel_notify_inval_inode(vfs.se, e->ino, -1, 0);
		} else {
			/* len 0 means "to the end" to the kernel. */
			off_t len = e->end == UINT64_MAX ? 0 :
			    (off_t)(e->end - e->off);

			fuse_lowlevel_notify_inval_inode(vfs.se, e->ino,
			    (off_t)e->off, len);
		}
		pthread_mutex_lock(&nq.lock);
		nq.inflight = NULL;
		pthread_cond_broadcast(&nq.done);
		free(e->name);
		free(e);
	}
	pthread_mutex_unlock(&nq.lock);
	return NULL;
}

int
notify_start(void)
{
	pthread_condattr_t ca;
	int r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nq.done, &ca);
	pthread_cond_init(&nq.work, NULL);
	pthread_condattr_destroy(&ca);
	/* tests: flush as a daemon without CAP_DAC_READ_SEARCH would */
	nq.no_handle = getenv("VMOFS_TEST_NO_HANDLE") != NULL;
	r = pthread_create(&nq.thread, NULL, notify_main, NULL);
	if (r != 0)
		return -r;
	nq.running = true;
	return 0;
}

void
notify_stop(void)
{
	struct nentry *e;

	if (!nq.running)
		return;
	pthread_mutex_lock(&nq.lock);
	nq.stop = true;
	pthread_cond_broadcast(&nq.work);
	pthread_mutex_unlock(&nq.lock);
	pthread_join(nq.thread, NULL);
	nq.running = false;
	while ((e = TAILQ_FIRST(&nq.q)) != NULL) {
		TAILQ_REMOVE(&nq.q, e, link);
		free(e->name);
		free(e);
	}
	pthread_cond_broadcast(&nq.done);
}

/* (nq.lock) Queue an inode range, merging with a queued entry for ino. */
static void
notify_queue_inode(fuse_ino_t ino, uint64_t off, uint64_t end, uint64_t seq)
{
	struct nentry *e;

	TAILQ_FOREACH(e, &nq.q, link) {
		if (e->ino == ino && !e->name && !e->attr && !e->grow) {
			if (off < e->off)
				e->off = off;
			if (end > e->end)
				e->end = end;
			return;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return;		/* benign: the cache stays stale, as without us */
	e->seq = seq;
	e->ino = ino;
	e->off = off;
	e->end = end;
	TAILQ_INSERT_TAIL(&nq.q, e, link);
}

static struct vnode *notify_group_root(struct vnode *v);

/* (nq.lock) Queue a size raise of ino to size (merged: the larger). */
static void
notify_queue_grow(fuse_ino_t ino, uint64_t size, unsigned char last,
    uint64_t seq)
{
	struct nentry *e;

	TAILQ_FOREACH(e, &nq.q, link) {
		if (e->ino == ino && e->grow) {
			if (size > e->off) {
				e->off = size;
				e->last = last;
			}
			return;
		}
	}
	if (!(e = calloc(1, sizeof(*e))))
		return;		/* benign: the root shows its old size */
	e->seq = seq;
	e->ino = ino;
	e->off = size;
	e->last = last;
	e->grow = true;
	TAILQ_INSERT_TAIL(&nq.q, e, link);
}

/* Is v's data inode known to the kernel (else it caches nothing)? (N) */
static bool
notify_kernel_has(struct vnode *v)
{
	return v->nlookup[VK_DATA] > 0 || v->nopen > 0;
}

struct nrange { fuse_ino_t ino; uint64_t off, end; };

/*
 * (N) Collect the inodes aliasing [off, end) of v, in their own offsets.
 * The group root has slice_len 0 and spans everything.
 */
static int
notify_collect(struct vnode *v, uint64_t off, uint64_t end, bool self,
    struct nrange *out, int max, bool (*has)(struct vnode *))
{
	struct vnode *m;
	uint64_t roff, rend;
	int n = 0;

	if (self && has(v) && n < max)
		out[n++] = (struct nrange){ VFS_INO(v->id, VK_DATA), off, end };
	if (!v->group)
		return n;
	/* To root coordinates. */
	roff = off;
	rend = end;
	if (v->slice_len) {
		if (off >= v->slice_len)
			return n;
		if (end > v->slice_len)
			end = v->slice_len;
		roff = v->slice_off + off;
		rend = v->slice_off + end;
	}
	TAILQ_FOREACH(m, &v->group->list, glink) {
		uint64_t a = roff, b = rend;

		if (m == v || !has(m) || n >= max)
			continue;
		if (m->slice_len) {
			uint64_t ws = m->slice_off, we = m->slice_off + m->slice_len;

			if (a < ws)
				a = ws;
			if (b > we)
				b = we;
			if (a >= b)
				continue;
			a -= ws;
			b -= ws;
		}
		out[n++] = (struct nrange){ VFS_INO(m->id, VK_DATA), a, b };
	}
	return n;
}

/*
 * (N) Add the data inodes that read v's bytes live: v's at-least-on-write
 * clones, their slices, and theirs in turn, whole.  Counts past max too,
 * so the caller can size its array.
 */
static int
notify_collect_live(struct vnode *v, struct nrange *out, int n, int max)
{
	struct vnode *c, *m;

	if (!v->has_aolw)
		return n;
	VNODE_FOREACH_KID(c, v, 0) {
		if (!c->aolw)
			continue;
		if (notify_kernel_has(c) && n++ < max)
			out[n - 1] = (struct nrange){ VFS_INO(c->id, VK_DATA), 0, UINT64_MAX };
		n = notify_collect_live(c, out, n, max);
		if (!c->group)
			continue;
		TAILQ_FOREACH(m, &c->group->list, glink) {
			if (m == c)
				continue;
			if (notify_kernel_has(m) && n++ < max)
				out[n - 1] = (struct nrange){ VFS_INO(m->id, VK_DATA), 0, UINT64_MAX };
			n = notify_collect_live(m, out, n, max);
		}
	}
	return n;
}

/* (N) notify_collect_live for v and every member of v's alias group. */
static int
notify_collect_all_live(struct vnode *v, struct nrange *out, int n, int max)
{
	struct vnode *m;

	if (!v->group)
		return notify_collect_live(v, out, n, max);
	TAILQ_FOREACH(m, &v->group->list, glink)
		n = notify_collect_live(m, out, n, max);
	return n;
}

/*
 * (nq.lock) Wait until every entry up to seq is done, at most
 * NOTIFY_WAIT_MS (see the top of this file: a stuck invalidation delays
 * the reply, never blocks it).
 */
static bool
notify_wait_ms(uint64_t seq, fuse_ino_t ino, long ms)
{
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (!nq.stop && notify_low() <= seq) {
		if (pthread_cond_timedwait(&nq.done, &nq.lock, &dl) == ETIMEDOUT) {
			if (ms == NOTIFY_WAIT_MS)
				vfs_log(LOG_DEBUG, "invalidation of ino %llu "
				    "slow: replying before it completes",
				    (unsigned long long)ino);
			return notify_low() > seq;
		}
	}
	return true;
}

static void
notify_wait(uint64_t seq, fuse_ino_t ino)
{
	(void)notify_wait_ms(seq, ino, NOTIFY_WAIT_MS);
}

void
notify_changed(struct vnode *v, uint64_t off, uint64_t len, bool self)
{
	struct nrange stackr[16], *r = stackr;
	uint64_t end = len == VMO_WHOLE || off + len < off ? UINT64_MAX :
	    off + len;
	uint64_t seq, grow = 0, rend = 0;
	struct vnode *root;
	struct vmo *rvmo = NULL;
	unsigned char last = 0;
	fuse_ino_t grow_ino = 0;
	int n, max = 16, i, live;

	if (!self && !__atomic_load_n(&v->group, __ATOMIC_ACQUIRE) &&
	    !__atomic_load_n(&v->has_aolw, __ATOMIC_ACQUIRE))
		return;		/* the hot path: no alias, nothing to do */
	vfs_lock();
	live = notify_collect_all_live(v, NULL, 0, 0);
	if ((v->group && v->group->members + live > (unsigned)max) ||
	    live + 1 > max) {
		max = (int)(v->group ? v->group->members : 0) + live + 1;
		r = malloc(sizeof(*r) * (size_t)max);
		if (!r) {
			r = stackr;
			max = 16;
		}
	}
	n = notify_collect(v, off, end, self, r, max, notify_kernel_has);
	n = notify_collect_all_live(v, r, n, max);
	if (n > max)
		n = max;	/* benign: the rest stay stale, as without us */
	if (vfs.writeback && v->group && (root = notify_group_root(v)) != v &&
	    notify_kernel_has(root) && (rvmo = vnode_vmo_get(root)) != NULL) {
		grow_ino = VFS_INO(root->id, VK_DATA);
		/* the change's end in the root's bytes */
		rend = v->slice_len ? v->slice_off + (end < v->slice_len ?
		    end : v->slice_len) : end;
	}
	vfs_unlock();
	if (grow_ino) {
		/*
		 * -o writeback_cache: a slice's write may have grown its
		 * root.  Every growth is told as it happens, so a root that
		 * reaches past this change's end was not grown by it.
		 */
		grow = vmo_size(rvmo);
		if (grow == 0 || grow > rend ||
		    vmo_read(rvmo, &last, grow - 1, 1) != 1)
			grow_ino = 0;
		vmo_unref(rvmo);
	}
	if (n == 0 && grow_ino == 0)
		goto out;

	pthread_mutex_lock(&nq.lock);
	if (nq.stop) {
		pthread_mutex_unlock(&nq.lock);
		goto out;
	}
	seq = ++nq.seq;
	for (i = 0; i < n; i++)
		notify_queue_inode(r[i].ino, r[i].off, r[i].end, seq);
	if (grow_ino)
		notify_queue_grow(grow_ino, grow, last, seq);
	pthread_cond_signal(&nq.work);
	notify_wait(seq, n ? r[0].ino : grow_ino);
	pthread_mutex_unlock(&nq.lock);
out:
	if (r != stackr)
		free(r);
}

void
notify_entry(fuse_ino_t parent, const char *name)
{
	struct nentry *e = calloc(1, sizeof(*e));

	if (!e || !(e->name = strdup(name))) {
		free(e);
		return;
	}
	e->ino = parent;
	pthread_mutex_lock(&nq.lock);
	e->seq = ++nq.seq;
	TAILQ_INSERT_TAIL(&nq.q, e, link);
	pthread_cond_signal(&nq.work);
	pthread_mutex_unlock(&nq.lock);
}

/*
 * Queue an attribute invalidation of ino (merged with one queued for it);
 * with wait, wait (bounded) until it is done.  Takes only nq.lock.
 */
static void
notify_attr_queue(fuse_ino_t ino, bool wait)
{
	struct nentry *e = calloc(1, sizeof(*e)), *q;
	uint64_t seq;

	if (!e)
		return;		/* benign: stale until the attribute timeout */
	e->ino = ino;
	e->attr = true;
	pthread_mutex_lock(&nq.lock);
	if (nq.stop) {
		pthread_mutex_unlock(&nq.lock);
		free(e);
		return;
	}
	TAILQ_FOREACH(q, &nq.q, link)
		if (q->ino == ino && q->attr)
			break;
	if (q) {
		free(e);
		seq = q->seq;
	} else {
		seq = e->seq = ++nq.seq;
		TAILQ_INSERT_TAIL(&nq.q, e, link);
		pthread_cond_signal(&nq.work);
	}
	if (wait)
		notify_wait(seq, ino);	/* e is the notifier's now */
	pthread_mutex_unlock(&nq.lock);
}

void
notify_attr(fuse_ino_t ino)
{
	notify_attr_queue(ino, true);
}

void
notify_attr_async(fuse_ino_t ino)
{
	notify_attr_queue(ino, false);
}

void
notify_settle(void)
{
	pthread_mutex_lock(&nq.lock);
	if (!nq.stop)
		notify_wait(nq.seq, 0);
	pthread_mutex_unlock(&nq.lock);
}

/*
 * -o writeback_cache (docs/design.md, "The writeback cache").  The kernel
 * then keeps written bytes in its page cache, dirty, and sends them later
 * (at close, fsync, memory pressure or its dirty timer); the daemon cannot
 * see them.  Before anything reads or changes the bytes behind the
 * kernel's back it makes the kernel write them here: an invalidation of
 * a dirty page launders it first (invalidate_inode_pages2 ->
 * launder_folio: a WRITE that another worker serves), and the wait is
 * for those WRITEs to be answered.  Only data files opened writable
 * through the cache count (vnode.nwcache, the vfs.wcached list); every
 * other data file is direct_io in this mode (io.c), so it has no dirty
 * pages.  The wait is long (NOTIFY_FLUSH_MS): the caller's result depends
 * on it.
 */
static bool
notify_wcache(struct vnode *v)
{
	return v->nwcache > 0;
}

/* (N) The group root of v: its members share bytes (struct vgroup). */
static struct vnode *
notify_group_root(struct vnode *v)
{
	struct vnode *m;

	if (!v->group)
		return v;
	TAILQ_FOREACH(m, &v->group->list, glink)
		if (m->pdir != VK_SLICES && m->pdir != VK_REFS)
			return m;
	return v;
}

/* (N) Append the writeback-cached inodes of m's group, whole. */
static int
notify_collect_wc_group(struct vnode *m, struct nrange *out, int n, int max)
{
	if (n >= max)
		return n;
	return n + notify_collect(m, 0, UINT64_MAX, true, out + n, max - n,
	    notify_wcache);
}

/*
 * Write back the kernel's dirty pages of ino in [off, end) the way fsync
 * does (1 MiB WRITEs, clean pages stay cached): open the inode by its
 * handle (FUSE encodes a handle as nodeid and generation, and finds an
 * inode the kernel still has without asking us) and sync_file_range it.
 * The root is opened and closed each time: a descriptor kept open in the
 * mount would make unmounting it fail with EBUSY.  Needs
 * CAP_DAC_READ_SEARCH; without it (a non-root daemon), or if the kernel
 * no longer has the inode, -errno, and the caller invalidates instead,
 * which launders dirty pages one page a WRITE.
 */
static int
notify_sync_ino(fuse_ino_t ino, uint64_t off, uint64_t end)
{
	uint32_t w[3] = {
		(uint32_t)((uint64_t)ino >> 32), (uint32_t)ino,
		0			/* generation: ids are never reused */
	};
	struct {
		struct file_handle fh;
		unsigned char bytes[sizeof(w)];
	} h;
	int mfd, fd, r = 0;

	if (nq.no_handle)
		return -EPERM;
	h.fh.handle_bytes = sizeof(w);
	h.fh.handle_type = 0x81;	/* FILEID_INO64_GEN: fuse_encode_fh */
	memcpy(h.bytes, w, sizeof(w));
	mfd = open(vfs.mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	close(mfd);
	if (fd < 0)
		return r;
	if (sync_file_range(fd, (off64_t)off, end == UINT64_MAX ? 0 :
	    (off64_t)(end - off), SYNC_FILE_RANGE_WAIT_BEFORE |
	    SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) != 0)
		r = -errno;
	close(fd);
	return r;
}

int
notify_flush(struct vnode *v, uint64_t off, uint64_t len, bool self)
{
	uint64_t end = len == VMO_WHOLE || off + len < off ? UINT64_MAX :
	    off + len;
	struct nrange *r;
	struct vnode *m, *a;
	uint64_t seq;
	bool done;
	int n = 0, max, i, k;

	if (!vfs.writeback)
		return 0;
	vfs_lock();
	if (vfs.nwcached == 0) {
		vfs_unlock();
		return 0;	/* nothing dirty can be in the kernel */
	}
	max = (int)vfs.nwcached;
	if (!(r = malloc(sizeof(*r) * (size_t)max))) {
		vfs_unlock();
		return -ENOMEM;
	}
	if (!v) {
		TAILQ_FOREACH(m, &vfs.wcached, wclink)
			if (n < max)
				r[n++] = (struct nrange){ VFS_INO(m->id, VK_DATA),
				    0, UINT64_MAX };
	} else {
		n = notify_collect(v, off, end, self, r, max, notify_wcache);
		/* What v reads live: the parents of ~aolw clones, up. */
		for (a = notify_group_root(v); a->aolw && a->parent;
		    a = notify_group_root(a->parent))
			n = notify_collect_wc_group(a->parent, r, n, max);
	}
	vfs_unlock();
	/* The common way: the kernel's own bulk write-back of each inode. */
	for (i = 0, k = 0; i < n; i++)
		if (notify_sync_ino(r[i].ino, r[i].off, r[i].end) != 0)
			r[k++] = r[i];
	n = k;
	if (n == 0) {
		free(r);
		return 0;
	}
	pthread_mutex_lock(&nq.lock);
	if (nq.stop) {
		pthread_mutex_unlock(&nq.lock);
		free(r);
		return 0;
	}
	seq = ++nq.seq;
	for (i = 0; i < n; i++)
		notify_queue_inode(r[i].ino, r[i].off, r[i].end, seq);
	pthread_cond_signal(&nq.work);
	done = notify_wait_ms(seq, r[0].ino, NOTIFY_FLUSH_MS);
	pthread_mutex_unlock(&nq.lock);
	if (!done)
		vfs_log(LOG_WARNING, "writeback_cache: the kernel did not write "
		    "back the dirty pages of ino %llu (and %d more) within %d s",
		    (unsigned long long)r[0].ino, n - 1, NOTIFY_FLUSH_MS / 1000);
	free(r);
	return done ? 0 : -EAGAIN;
}

int
notify_flush_ino(fuse_ino_t ino)
{
	struct vnode *v;

	if (!vfs.writeback)
		return 0;
	if (ino == FUSE_ROOT_ID)
		return notify_flush(NULL, 0, VMO_WHOLE, true);
	vfs_lock();
	v = vnode_get(VFS_INO_ID(ino));
	vfs_unlock();
	/* v stays: the kernel holds a lookup reference to ino */
	return v ? notify_flush(v, 0, VMO_WHOLE, true) : 0;
}
