/*
 * backing.c - persistent mode, -o backing=DIR (SPEC 6).
 *
 * Each top-level VMO NAME is a pager-backed VMO (vm/pager.h) over the host
 * file DIR/NAME, reached through a struct bstore (an O_RDWR fd) that is
 * the pager ops' ctx.  Clones and slices live in memory only.
 *
 *   mount      every regular file of DIR whose name is a valid VMO name
 *              becomes a VMO of the file's size; nothing is read until
 *              touched (libvm pages in lazily)
 *   mkdir      DIR/NAME created O_CREAT|O_EXCL, mode from the mkdir
 *   rmdir      the file is renamed to a name no VMO can have (it holds
 *              '@') under the namespace lock, then, without the lock,
 *              vmo_pager_detach (clones keep their snapshot), unlink, close
 *   rename     renameat2(RENAME_NOREPLACE) in DIR, under the namespace lock
 *   writeback  a thread: every BK_PERIOD seconds, vmo_writeback of every
 *              backed VMO with dirty pages; fsync does it at once; at
 *              unmount / SIGTERM / SIGINT backing_flush_all before exit
 *
 * The pager ops only do I/O on the fd, never call libvm, and take no lock
 * of ours (bk_err: bk_lock, a leaf).  write, resize and sync run with the
 * VMO's hierarchy lock held; read and readv, for page-ins, with no lock
 * (libvm's page requests), several at once and beside writes: pread and
 * pwrite on one fd are safe for that.
 *
 * Testing aid: VMOFS_TEST_STORE_DELAY_MS=N in the daemon's environment
 * makes every store read (read, readv) sleep N ms first (at most 60000),
 * a slow disk on demand.  tests/mount/test_backing's test_slow_store uses
 * it to show that a read that sleeps in the store stalls nothing else.  Writeback never
 * runs under vfs.ns_lock: it takes VMO references under it, drops it,
 * then writes back.
 *
 * A bstore lives on a global list (bk_lock) from creation to backing_fini,
 * except when it is detached at rmdir: then it is freed right away.  If a
 * detach fails (no memory to page in what clones still see), the store is
 * kept, unlinked but open, so the VMO stays correct; it is closed at exit.
 */
#include "vmofs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pager.h"

#define BK_PERIOD	2	/* seconds between writeback passes */

struct bstore {
	int		 fd;
	bool		 failed;	/* last writeback failed (log once) */
	char		 name[300];	/* (bk_lock) file name in DIR */
	LIST_ENTRY(bstore) link;	/* (bk_lock) */
};

static LIST_HEAD(, bstore) bk_stores = LIST_HEAD_INITIALIZER(bk_stores);
static pthread_mutex_t bk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t bk_wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bk_wcond = PTHREAD_COND_INITIALIZER;
static bool bk_stop;
static bool bk_running;
static pthread_t bk_thread;
static uint64_t bk_rm_seq;
static unsigned bk_delay_ms;	/* VMOFS_TEST_STORE_DELAY_MS (testing aid) */

/* The testing aid's sleep before a store read. */
static void
bk_delay(void)
{
	struct timespec ts;

	if (bk_delay_ms == 0)
		return;
	ts.tv_sec = bk_delay_ms / 1000;
	ts.tv_nsec = (long)(bk_delay_ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- pager ops: I/O on the fd only (hierarchy lock held) ---- */

/* Log a store error (no libvm call, only bk_lock); returns -err. */
static int
bk_err(struct bstore *s, const char *what, uint64_t off, int err)
{
	char name[sizeof(s->name)];

	pthread_mutex_lock(&bk_lock);
	memcpy(name, s->name, sizeof(name));
	pthread_mutex_unlock(&bk_lock);
	vfs_log(LOG_ERR, "backing: %s of %s at %llu: %s", what, name,
	    (unsigned long long)off, strerror(err));
	return -err;
}

static int
bk_read(void *ctx, uint64_t off, void *page)
{
	struct bstore *s = ctx;
	size_t done = 0;
	ssize_t n;

	bk_delay();
	while (done < VFS_PAGE) {
		n = pread(s->fd, (char *)page + done, VFS_PAGE - done,
		    (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return bk_err(s, "read", off, errno);
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	if (done < VFS_PAGE)
		memset((char *)page + done, 0, VFS_PAGE - done);
	return 0;
}

static int
bk_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct bstore *s = ctx;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(s->fd, (const char *)buf + done, len - done,
		    (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return bk_err(s, "write", off, errno);
		}
		if (n == 0)
			return bk_err(s, "write", off, EIO);
		done += (size_t)n;
	}
	return 0;
}

static int
bk_resize(void *ctx, uint64_t size)
{
	struct bstore *s = ctx;

	return ftruncate(s->fd, (off_t)size) == 0 ? 0 :
	    bk_err(s, "truncate", size, errno);
}

static int
bk_sync(void *ctx)
{
	struct bstore *s = ctx;

	return fdatasync(s->fd) == 0 ? 0 : bk_err(s, "fdatasync", 0, errno);
}

/*
 * n consecutive pages from off in one preadv (lazy page-in of a 1 MiB read
 * is one call, not 256).  Past the file's end the pages read zero.
 */
static int
bk_readv(void *ctx, uint64_t off, const struct iovec *iov, int n)
{
	struct bstore *s = ctx;
	size_t total = (size_t)n * VFS_PAGE, done = 0;
	ssize_t r;
	int i;

	bk_delay();
	while (done < total) {
		struct iovec rest[64];
		size_t skip = done;
		int k = 0;

		/* The iovecs not yet filled, the first one trimmed. */
		for (i = 0; i < n && k < 64; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			rest[k].iov_base = (char *)iov[i].iov_base + skip;
			rest[k].iov_len = iov[i].iov_len - skip;
			skip = 0;
			k++;
		}
		r = preadv(s->fd, rest, k, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return bk_err(s, "read", off + done, errno);
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	for (i = 0; i < n; i++) {	/* zero what lies past the end */
		size_t a = (size_t)i * VFS_PAGE;

		if (done < a + VFS_PAGE)
			memset((char *)iov[i].iov_base + (done > a ? done - a : 0), 0,
			    VFS_PAGE - (done > a ? done - a : 0));
	}
	return 0;
}

static const struct pager_ops bk_ops = {
	.readv = bk_readv,
	.read = bk_read,
	.write = bk_write,
	.resize = bk_resize,
	.sync = bk_sync,
};

/* ---- stores ---- */

static struct bstore *
bk_store_new(int fd, const char *name)
{
	struct bstore *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->fd = fd;
	pthread_mutex_lock(&bk_lock);
	LIST_INSERT_HEAD(&bk_stores, s, link);
	pthread_mutex_unlock(&bk_lock);
	return s;
}

static void
bk_store_free(struct bstore *s)
{
	pthread_mutex_lock(&bk_lock);
	LIST_REMOVE(s, link);
	pthread_mutex_unlock(&bk_lock);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/*
 * Check DIR before mounting: an existing, writable directory.  Prints the
 * one-line error itself; 0 or -1.
 */
int
backing_open(const char *dir)
{
	const char *d = getenv("VMOFS_TEST_STORE_DELAY_MS");
	struct stat st;
	int fd;

	if (d != NULL && *d != '\0') {
		char *end;
		unsigned long ms = strtoul(d, &end, 10);

		if (*end != '\0' || ms > 60000) {
			fprintf(stderr, "vmofs: VMOFS_TEST_STORE_DELAY_MS=%s: "
			    "not a number of ms up to 60000\n", d);
			return -1;
		}
		bk_delay_ms = (unsigned)ms;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vmofs: option backing=%s: %s\n", dir,
		    errno == ENOTDIR ? "not a directory" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vmofs: option backing=%s: not a directory\n",
		    dir);
		close(fd);
		return -1;
	}
	if (faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
		fprintf(stderr, "vmofs: option backing=%s: directory not "
		    "writable (%s)\n", dir, strerror(errno));
		close(fd);
		return -1;
	}
	vfs.backing_fd = fd;
	return 0;
}

/*
 * (N) Make a pager-backed VMO over fd (consumed on success) for name.
 * 0 with *vmo and *store, or a negative errno.
 */
static int
bk_make(int fd, const char *name, uint64_t size, struct vmo **vmo,
    struct bstore **store)
{
	struct bstore *s = bk_store_new(fd, name);
	int r;

	if (!s)
		return -ENOMEM;
	r = vmo_create_paged(vfs.vm, size, &bk_ops, s, vmo);
	if (r != 0) {
		s->fd = -1;	/* still the caller's */
		bk_store_free(s);
		return r;
	}
	*store = s;
	return 0;
}

/* Load one regular file DIR/name; 0 or -1 (the error printed). */
static int
bk_load_one(const char *dir, const char *name)
{
	struct vnode *v;
	struct vmo *vmo;
	struct bstore *s;
	struct stat st;
	mode_t perm;
	int fd, r;

	fd = openat(vfs.backing_fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "vmofs: backing file %s/%s: %s\n", dir, name,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	vfs_lock();
	r = bk_make(fd, name, (uint64_t)st.st_size, &vmo, &s);
	if (r != 0) {
		vfs_unlock();
		fprintf(stderr, "vmofs: backing file %s/%s: %s\n", dir, name,
		    strerror(-r));
		close(fd);
		return -1;
	}
	/* The directory gets x where the file has r; data keeps the rw bits. */
	perm = st.st_mode & 0666;
	v = vnode_new(vmo, name, perm | ((perm & 0444) >> 2), NULL);
	if (!v) {
		vfs_unlock();
		/* Detach first: the VMO must not use s after it is freed. */
		vmo_pager_detach(vmo);
		vmo_unref(vmo);
		bk_store_free(s);
		fprintf(stderr, "vmofs: out of memory\n");
		return -1;
	}
	v->store = s;
	for (int k = VK_DIR; k < VK_NKINDS; k++) {
		v->meta[k].uid = st.st_uid;
		v->meta[k].gid = st.st_gid;
	}
	v->meta[VK_DATA].atime = st.st_atim;
	v->meta[VK_DATA].mtime = st.st_mtim;
	v->meta[VK_DATA].ctime = st.st_ctim;
	vnode_link(vfs.root, VK_DIR, v);
	vfs_unlock();
	return 0;
}

/*
 * At mount, before serving: every regular file of DIR becomes a top-level
 * VMO.  Names that are not VMO names (with '@': our own leftovers of an
 * interrupted rmdir among them) and other kinds of entries are skipped
 * with a log line.  0, or -1 with the error printed.
 */
int
backing_load(const char *dir)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, ret = 0;

	fd = openat(vfs.backing_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		fprintf(stderr, "vmofs: option backing=%s: %s\n", dir,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(vfs.backing_fd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0)
			continue;	/* gone meanwhile */
		if (!S_ISREG(st.st_mode)) {
			vfs_log(LOG_INFO, "backing %s/%s: not a regular file, "
			    "skipped", dir, de->d_name);
			continue;
		}
		if (!ns_name_ok(de->d_name)) {
			vfs_log(LOG_WARNING, "backing %s/%s: not a valid VMO "
			    "name, skipped", dir, de->d_name);
			continue;
		}
		ret = bk_load_one(dir, de->d_name);
	}
	closedir(d);
	return ret;
}

/*
 * (N) mkdir ROOT/name in backing mode: create DIR/name and a pager-backed
 * VMO over it.  0 with *vmo and *store, or an errno.
 */
int
backing_create(const char *name, mode_t mode, struct vmo **vmo,
    struct bstore **store)
{
	int fd, r;

	vfs_assert_locked();
	fd = openat(vfs.backing_fd, name,
	    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 0666);
	if (fd < 0) {
		r = errno;
		if (r != EEXIST)
			vfs_log(LOG_ERR, "backing: cannot create %s: %s", name,
			    strerror(r));
		return r;
	}
	r = bk_make(fd, name, 0, vmo, store);
	if (r != 0) {
		unlinkat(vfs.backing_fd, name, 0);
		close(fd);
		return vfs_errno(r);
	}
	return 0;
}

/*
 * (N) mkdir failed after backing_create (no memory for the vnode): undo.
 * The VMO is unreferenced here.
 */
void
backing_create_undo(const char *name, struct vmo *vmo, struct bstore *s)
{
	vfs_assert_locked();
	vmo_pager_detach(vmo);	/* fresh, no clones: cannot fail */
	vmo_unref(vmo);
	unlinkat(vfs.backing_fd, name, 0);
	bk_store_free(s);
}

/* (N) rename ROOT/from to ROOT/to (to free in the namespace).  0 or errno. */
int
backing_rename(struct bstore *s, const char *from, const char *to)
{
	vfs_assert_locked();
	if (renameat2(vfs.backing_fd, from, vfs.backing_fd, to,
	    RENAME_NOREPLACE) != 0) {
		int r = errno;

		vfs_log(LOG_ERR, "backing: cannot rename %s to %s: %s", from,
		    to, strerror(r));
		return r;
	}
	pthread_mutex_lock(&bk_lock);
	snprintf(s->name, sizeof(s->name), "%s", to);
	pthread_mutex_unlock(&bk_lock);
	return 0;
}

/*
 * (N) rmdir of a backed top-level VMO, first half: move its file out of
 * the way, to "NAME@rm.N" (no VMO name has '@', so no mkdir can collide
 * and a later mount skips it).  0 or an errno (nothing changed).
 */
int
backing_remove_begin(struct bstore *s, const char *name)
{
	char tmp[300];

	vfs_assert_locked();
	snprintf(tmp, sizeof(tmp), "%.200s@rm.%llu", name,
	    (unsigned long long)++bk_rm_seq);
	if (renameat2(vfs.backing_fd, name, vfs.backing_fd, tmp,
	    RENAME_NOREPLACE) != 0) {
		int r = errno;

		vfs_log(LOG_ERR, "backing: cannot remove %s: %s", name,
		    strerror(r));
		return r;
	}
	pthread_mutex_lock(&bk_lock);
	snprintf(s->name, sizeof(s->name), "%s", tmp);
	pthread_mutex_unlock(&bk_lock);
	return 0;
}

/*
 * rmdir, second half, with no lock held: the VMO (a reference the caller
 * took while it was linked, consumed here) lets go of the store, paging in
 * what its clones still see, then the file goes.  If the detach fails the
 * store stays open (unlinked) so the VMO keeps every byte; closed at exit.
 */
void
backing_remove_end(struct bstore *s, struct vmo *vmo)
{
	char name[sizeof(s->name)];
	int r;

	r = vmo_pager_detach(vmo);
	pthread_mutex_lock(&bk_lock);
	memcpy(name, s->name, sizeof(name));
	pthread_mutex_unlock(&bk_lock);
	if (unlinkat(vfs.backing_fd, name, 0) != 0)
		vfs_log(LOG_ERR, "backing: cannot unlink %s: %s", name,
		    strerror(errno));
	if (r != 0)
		vfs_log(LOG_ERR, "backing: detach of removed %s failed (%s): "
		    "its file stays open until unmount", name, strerror(-r));
	else
		bk_store_free(s);
	vmo_unref(vmo);
}

/* ---- writeback ---- */

struct bk_item {
	struct vmo	*vmo;
	char		 name[256];
};

/*
 * Take references to the backed top-level VMOs: all of them (all), or
 * those with dirty pages or a size change not yet written.  *n items,
 * NULL if none or no memory.
 */
static struct bk_item *
bk_collect(bool all, size_t *n)
{
	struct bk_item *it;
	struct vnode *v;
	size_t i = 0;

	vfs_lock();
	it = calloc(vfs.root->nkids[0] + 1, sizeof(*it));
	if (it) {
		VNODE_FOREACH_KID(v, vfs.root, 0) {
			if (!v->store || !v->vmo)
				continue;
			if (!all && !v->bk_sizechg && vmo_dirty_pages(v->vmo) == 0)
				continue;
			v->bk_sizechg = false;
			vmo_ref(v->vmo);
			it[i].vmo = v->vmo;
			snprintf(it[i].name, sizeof(it[i].name), "%s", v->name);
			i++;
		}
	}
	vfs_unlock();
	*n = i;
	return it;
}

/* Write back what bk_collect found; 0 or the first error (logged). */
static int
bk_writeback(bool all)
{
	struct bk_item *it;
	size_t n, i;
	int r, ret = 0;

	if (!(it = bk_collect(all, &n)))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		r = vmo_writeback(it[i].vmo);
		if (r != 0) {
			vfs_log(LOG_ERR, "backing: writeback of %s failed: %s",
			    it[i].name, strerror(-r));
			if (ret == 0)
				ret = r;
		}
		vmo_unref(it[i].vmo);
	}
	free(it);
	return ret;
}

static void *
bk_main(void *arg)
{
	struct timespec t;

	(void)arg;
	pthread_mutex_lock(&bk_wlock);
	while (!bk_stop) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += BK_PERIOD;
		while (!bk_stop &&
		    pthread_cond_timedwait(&bk_wcond, &bk_wlock, &t) != ETIMEDOUT)
			;
		if (bk_stop)
			break;
		pthread_mutex_unlock(&bk_wlock);
		/* -o writeback_cache: the kernel's dirty pages first, so
		 * that bytes reach the file within BK_PERIOD as without it */
		(void)notify_flush(NULL, 0, VMO_WHOLE, true);
		bk_writeback(false);
		pthread_mutex_lock(&bk_wlock);
	}
	pthread_mutex_unlock(&bk_wlock);
	return NULL;
}

/* Start the writeback thread (after daemonising).  0 or a negative errno. */
int
backing_start(void)
{
	pthread_condattr_t ca;
	int r;

	if (vfs.backing_fd < 0)
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&bk_wcond);
	pthread_cond_init(&bk_wcond, &ca);
	pthread_condattr_destroy(&ca);
	bk_stop = false;
	r = pthread_create(&bk_thread, NULL, bk_main, NULL);
	if (r != 0)
		return -r;
	bk_running = true;
	return 0;
}

/*
 * Stop the writeback thread and write back every backed VMO with dirty
 * pages or a size change (session end, SIGTERM, SIGINT); clean ones are
 * left alone, so a mount that changed nothing does not touch DIR's files.
 * 0 or the first error (logged).
 */
int
backing_stop(void)
{
	if (vfs.backing_fd < 0)
		return 0;
	if (bk_running) {
		pthread_mutex_lock(&bk_wlock);
		bk_stop = true;
		pthread_cond_signal(&bk_wcond);
		pthread_mutex_unlock(&bk_wlock);
		pthread_join(bk_thread, NULL);
		bk_running = false;
	}
	return bk_writeback(false);
}

/* (N) The vnode whose store holds v's bytes: v, or what a chain of
 * slices and references leads up to. */
static struct vnode *
bk_owner(struct vnode *v)
{
	while (v->linked && (v->pdir == VK_SLICES || v->pdir == VK_REFS) &&
	    v->parent)
		v = v->parent;
	return v;
}

/*
 * fsync of data of v: write back the backed VMO whose pages v writes (v
 * itself, or the top-level root of a chain of slices and references).
 * Clones live in memory only: 0.  No lock held; 0 or an errno.
 */
int
backing_fsync(struct vnode *v)
{
	struct vmo *vmo = NULL;
	struct vnode *u;
	int r;

	if (vfs.backing_fd < 0)
		return 0;
	vfs_lock();
	u = bk_owner(v);
	if (u->store)
		vmo = vnode_vmo_get(u);
	vfs_unlock();
	if (!vmo)
		return 0;
	r = vmo_writeback(vmo);
	vmo_unref(vmo);
	if (r != 0) {
		vfs_log(LOG_ERR, "backing: fsync writeback failed: %s",
		    strerror(-r));
		return vfs_errno(r);
	}
	return 0;
}

/*
 * v's size may have changed without dirtying a page (truncate, fallocate):
 * have the next writeback pass set the file's size.  Takes ns_lock.
 */
void
backing_size_changed(struct vnode *v)
{
	if (vfs.backing_fd < 0)
		return;
	vfs_lock();
	v = bk_owner(v);	/* a reference resizes its target */
	if (v->store)
		v->bk_sizechg = true;
	vfs_unlock();
}

/* At exit, after the VMOs are gone: close every store. */
void
backing_fini(void)
{
	struct bstore *s;

	if (vfs.backing_fd < 0)
		return;
	while ((s = LIST_FIRST(&bk_stores)) != NULL)
		bk_store_free(s);
	close(vfs.backing_fd);
	vfs.backing_fd = -1;
}
