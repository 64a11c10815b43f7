/*
 * vmofs.h - the daemon's internal interface, shared by the fs/ modules.
 *
 * fs/ is the only place that speaks FUSE.  It maps libvm's VMOs onto a
 * namespace (docs/semantics.md):
 *
 *   MOUNT/               root (vnode 0)
 *   MOUNT/NAME/          a VMO directory          kind VK_DIR
 *   MOUNT/NAME/data      the VMO's bytes          kind VK_DATA
 *   MOUNT/NAME/info      read-only text           kind VK_INFO
 *   MOUNT/NAME/clones/   children made by clone   kind VK_CLONES
 *   MOUNT/NAME/slices/   children made by slice   kind VK_SLICES
 *   MOUNT/NAME/refs/     references to NAME       kind VK_REFS
 *
 * One struct vnode stands for one VMO and all six of its inodes; the
 * inode number encodes both: ino = vnode id << 3 | kind.  vnode ids are
 * never reused, so generation is always 0.  The root is vnode 0 with kind
 * VK_DIR, which makes its inode number FUSE_ROOT_ID (1).
 *
 * Modules:
 *   main.c    options, mount, daemonise, session loop, teardown
 *   inode.c   the vnode table, lookup/open counts, FORGET, attributes
 *   ns.c      namespace requests (lookup, mkdir, rmdir, rename, readdir...)
 *   io.c      data/info file requests (open, read, write_buf, fallocate...)
 *   xattr.c   extended attributes: VMO actions and values, stored user.*
 *   notify.c  the coherence notifier thread (kernel cache invalidation)
 *   backing.c persistent mode (-o backing=DIR): host files, writeback
 *   util.c    RANGE/size parsing, errno mapping, logging (log=, rejections)
 *   conn.c    connection set-up libfuse cannot do (KILLPRIV_V2, readahead)
 *   uring.c   FUSE over io_uring (-o uring): per-CPU request rings
 */
#ifndef FS_VMOFS_H
#define FS_VMOFS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
/* libbsd's RB_GENERATE_STATIC marks helpers __unused, which glibc lacks. */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <bsd/sys/queue.h>
#include <bsd/sys/tree.h>

#include "vmo.h"

#define VFS_PAGE	4096u

enum vkind {
	VK_DIR = 1,	/* the VMO's directory (or the mount root) */
	VK_DATA = 2,
	VK_INFO = 3,
	VK_CLONES = 4,
	VK_SLICES = 5,
	VK_REFS = 6,
	VK_NKINDS = 7	/* array size: index by kind, 0 unused */
};

/* A VMO directory's child lists: clones/ (the root's top level too),
 * slices/, refs/.  vnode_list maps the directory kind to its index. */
#define VNODE_NLISTS	3
static inline int
vnode_list(enum vkind pdir)
{
	return pdir == VK_SLICES ? 1 : pdir == VK_REFS ? 2 : 0;
}

#define VFS_INO(id, kind)	(((fuse_ino_t)(id) << 3) | (fuse_ino_t)(kind))
#define VFS_INO_ID(ino)		((uint64_t)(ino) >> 3)
#define VFS_INO_KIND(ino)	((enum vkind)((ino) & 7))

/* A stored user.* extended attribute, on one inode. */
struct vxattr {
	LIST_ENTRY(vxattr) link;
	char	*name;
	size_t	 len;
	char	 value[];
};
LIST_HEAD(vxattr_list, vxattr);

/* Per-inode metadata that is not derived from the VMO. */
struct vmeta {
	mode_t	mode;			/* type and permission bits */
	uid_t	uid;
	gid_t	gid;
	struct timespec atime, mtime, ctime;
	struct vxattr_list xattrs;
};

/*
 * An alias group: a root VMO and every slice and reference of it (a slice
 * of a slice is a slice of the same root; a reference stands where its
 * target does: the whole root, or the slice's window).  They share bytes,
 * so a change through one must invalidate the kernel's page cache of the
 * others.  Made when the first slice or reference is, freed with its
 * last member.
 */
struct vgroup {
	unsigned members;			/* (N) */
	TAILQ_HEAD(, vnode) list;		/* (N) */
};

/*
 * Lock legend:
 *   (N)  vfs.ns_lock
 *   (c)  constant after the vnode is published
 *   (o)  constant while the data file is open (nopen > 0)
 *
 * Lifetime: a vnode is "linked" while it appears in the namespace.  Its
 * VMO reference is dropped when it is unlinked and its data file is not
 * open (so rmdir frees the pages at once, and an open descriptor of a
 * removed data keeps working); the vnode itself is freed when, in
 * addition, the kernel holds no lookup reference to any of its inodes.
 */
/* A directory's VMOs: by id (readdir's order and cookies) and by name. */
RB_HEAD(vnode_ids, vnode);
RB_HEAD(vnode_names, vnode);

struct vnode {
	uint64_t	 id;			/* (c) */
	struct vmo	*vmo;			/* (N,o) reference owned; NULL once released */
	char		*name;			/* (N) */
	struct vnode	*parent;		/* (N) VMO it was made from; NULL: top level or root */
	enum vkind	 pdir;			/* (N) VK_DIR (root), VK_CLONES, VK_SLICES or VK_REFS */
	RB_ENTRY(vnode)	 sib;			/* (N) in parent's kids[] */
	RB_ENTRY(vnode)	 nsib;			/* (N) in parent's names[] */
	struct vnode_ids kids[VNODE_NLISTS];	/* (N) [0] clones (root: top level), [1] slices, [2] refs */
	struct vnode_names names[VNODE_NLISTS];	/* (N) the same VMOs by name */
	unsigned	 nkids[VNODE_NLISTS];	/* (N) */
	bool		 linked;		/* (N) */
	unsigned	 removed;		/* (N) fixed entries unlinked or rmdir'd: 1 << kind */
	uint64_t	 nlookup[VK_NKINDS];	/* (N) kernel lookup references per inode */
	unsigned	 nopen;			/* (N) open data file handles */
	struct vmeta	 meta[VK_NKINDS];	/* (N) */
	struct vgroup	*group;			/* (N) alias group, or NULL */
	bool		 aolw;			/* (c) an at-least-on-write clone: reads its parent live */
	bool		 has_aolw;		/* (N; atomic read) ever had an aolw clone (sticky) */
	uint64_t	 slice_off;		/* (c) window offset in the group root (slices, refs of one) */
	uint64_t	 slice_len;		/* (c) window length (slices, refs of one); 0: all */
	TAILQ_ENTRY(vnode) glink;		/* (N) in group->list */
	struct bstore	*store;			/* (N) backing file (top level, backing mode) */
	fuse_ino_t	 cow_stale;		/* (N) unlinked clone: data inode whose st_blocks its end changes, or 0 */
	bool		 bk_sizechg;		/* (N) size changed, not yet written back */
	unsigned	 nwcache;		/* (N) writable opens through the page cache (-o writeback_cache) */
	TAILQ_ENTRY(vnode) wclink;		/* (N) in vfs.wcached while nwcache > 0 */
	RB_ENTRY(vnode)	 tlink;			/* (N) in vfs.table */
};

RB_HEAD(vnode_tree, vnode);

/* Daemon-wide state. */
struct vfs {
	struct fuse_session *se;		/* (c) */
	struct vm	*vm;			/* (c) */
	bool		 foreground;		/* (c) */
	char		*mountpoint;		/* (c) */
	pthread_mutex_t	 ns_lock;
	struct vnode_tree table;		/* (N) every vnode by id */
	struct vnode	*root;			/* (c) */
	uint64_t	 next_id;		/* (N) */
	uint64_t	 nvnodes;		/* (N) */
	double		 timeout;		/* (c) entry/attr timeout, seconds */
	int		 backing_fd;		/* (c) DIR of backing=DIR, or -1 */
	bool		 direct_io;		/* (c) -o direct_io: data bypasses the page cache */
	bool		 writeback;		/* (c) -o writeback_cache: the kernel holds dirty pages */
	TAILQ_HEAD(, vnode) wcached;		/* (N) vnodes with nwcache > 0 */
	unsigned	 nwcached;		/* (N) their number */
	int64_t		 spin_ns;		/* (c) -o spin=USEC: workers poll before sleeping */
};

extern struct vfs vfs;

/* uring.c: FUSE over io_uring. */
int uring_check(void);
void uring_start(int fuse_fd);
void uring_stop(void);
bool uring_armed(void);
void uring_go(uint32_t max_write, uint32_t max_pages);
bool uring_reply(const struct iovec *iov, int count);
uint64_t uring_served(void);

/* util.c */
int vfs_parse_num(const char *s, uint64_t *out, const char **end);
int vfs_parse_range(const char *s, uint64_t *off, uint64_t *len);
int vfs_parse_size(const char *s, uint64_t *out);
int64_t vfs_now_ns(void);
/* One log line: to the -o log= file, stderr (-f) or syslog (util.c). */
void vfs_log(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* -o log=PATH (main.c, before the mount): 0, or -1 after one stderr line. */
int vfs_log_open(const char *path);
int vfs_log_sighup(void);	/* SIGHUP reopens the log= file; 0 or -errno */
void vfs_log_close(void);
bool vfs_log_to_file(void);
/*
 * Log a rejection and return err, for the reply:
 *
 *	err = vfs_reject(req, "mkdir", name, EINVAL, "a VMO name has no '@'");
 *	goto out_err;
 *
 * A rejection is a request refused for what it asked: a bad name, range
 * or value, an entry kind vmofs does not make, a busy pin, a forbidden
 * rename -- anything that makes a user ask "why did that fail?".  Not a
 * rejection, and not to be logged: a lookup of a name that is not there
 * (ENOENT), an xattr that is not set (ENODATA from getxattr of a stored
 * name: getfattr -d and cp -a probe for them), ERANGE of the size-0
 * protocol, EINTR, ENOSYS of opendir (statelessness, semantics.md).
 * Logged at LOG_INFO as
 *	OP "NAME": EINVAL (Invalid argument): WHY (pid P, uid U)
 * at most 50 a second (the rest counted; the count rides on the next
 * line).  req gives the caller's pid and uid (NULL: none); name may be
 * NULL (an inode number goes in fmt); fmt says why, never empty.  It
 * takes only its own leaf mutex and writes one line, so it may be called
 * with any lock held, though not from a signal handler.
 */
int vfs_reject(fuse_req_t req, const char *op, const char *name, int err,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/*
 * The same for a name outside a fixed set: WHY lists the valid names,
 * each prefix + valid[i] ("user.vmo." + "commit").  For xattr.c's EINVAL
 * on setting an unknown user.vmo.* name:
 *	vfs_reject_names(req, "setxattr", name, EINVAL, "user.vmo.",
 *	    xa_actions, XA_NACTIONS)
 */
int vfs_reject_names(fuse_req_t req, const char *op, const char *name,
    int err, const char *prefix, const char *const *valid, size_t nvalid);
int vfs_errno(long neg);
/* Why libvm refused a resize or a range: -EPERM, -EBUSY, -EFBIG; else NULL. */
const char *vfs_resize_why(long neg);

/* inode.c: every function here takes vfs.ns_lock itself unless marked (N). */
void vfs_lock(void);
void vfs_unlock(void);
void vfs_assert_locked(void);
int vnode_table_init(void);
void vnode_table_fini(void);
struct vnode *vnode_new(struct vmo *vmo, const char *name, mode_t dmode,
    const struct fuse_ctx *ctx);		/* (N) */
struct vnode *vnode_get(uint64_t id);		/* (N) */
/* (N) d's child in list i (vnode_list: clones or top level, slices, refs): by name; the
 * first with id >= min_id; the next sibling of c (ascending id). */
struct vnode *vnode_kid(struct vnode *d, int i, const char *name);
struct vnode *vnode_kid_from(struct vnode *d, int i, uint64_t min_id);
struct vnode *vnode_kid_next(struct vnode *c);
#define VNODE_FOREACH_KID(c, d, i) \
	for ((c) = vnode_kid_from((d), (i), 0); (c); (c) = vnode_kid_next(c))
/* (N) Give the linked v a new name (name is malloc'd; v owns it now). */
void vnode_rename(struct vnode *v, char *name);
/* (N) true: parent's directory attributes queued for invalidation (refs/
 * got its first or lost its last reference); reply after notify_settle. */
bool vnode_link(struct vnode *parent, enum vkind pdir, struct vnode *v);
bool vnode_unlink(struct vnode *v);		/* (N) */
void vnode_maybe_free(struct vnode *v);		/* (N) */
void vnode_lookup_ref(struct vnode *v, enum vkind k);	/* (N) */
void vnode_forget(fuse_ino_t ino, uint64_t n);
struct vmo *vnode_vmo_get(struct vnode *v);	/* (N) referenced, or NULL */
void vnode_fill_stat(struct vnode *v, enum vkind k, struct stat *st);	/* (N) */
void vnode_stat_vmo(struct vmo *vmo, struct stat *st);
void vnode_fill_entry(struct vnode *v, enum vkind k,
    struct fuse_entry_param *e);		/* (N) */
/* vnode_reply_entry flags */
#define VR_VOLATILE	0x1	/* the kernel's name is not the real one: no dentry cache */
#define VR_SETTLE	0x2	/* queued notifications done first (notify_settle) */
int vnode_reply_entry(fuse_req_t req, struct vnode *v, enum vkind k,
    unsigned flags);
fuse_ino_t vnode_page_owner(struct vnode *v);	/* (N) */
/* vfs_reject of op on v, named by v's VMO directory; takes ns_lock. */
int vnode_reject(fuse_req_t req, const char *op, struct vnode *v, int err,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void vnode_touch(struct vmeta *m, bool mtime);	/* (N) */
/* (N) Does the linked VMO directory v show its entry k (VK_DIR: itself)? */
bool vnode_shows(struct vnode *v, enum vkind k);
/* (N) Does v's directory list its entry k: it shows, and refs/ only while
 * it holds a reference (k == VK_REFS: nkids[2] > 0)? */
bool vnode_listed(struct vnode *v, enum vkind k);
/* (N) Show v's removed fixed entry k again, as a new inode: mode, ctx's
 * owner, new times, no stored xattrs. */
void vnode_reshow(struct vnode *v, enum vkind k, mode_t mode,
    const struct fuse_ctx *ctx);
int vnode_info_text(struct vmo *vmo, char *buf, size_t size);
/* Restores (issue #19): has val the form of info's key?  Is buf info text? */
bool vnode_value_form(const char *key, const char *val, size_t len);
bool vnode_info_form(const char *buf, size_t len);

/* ns.c */
bool ns_name_ok(const char *name);
void ns_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void ns_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void ns_forget_multi(fuse_req_t req, size_t count,
    struct fuse_forget_data *forgets);
void ns_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ns_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
    int to_set, struct fuse_file_info *fi);
void ns_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
    mode_t mode);
void ns_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ns_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ns_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags);
void ns_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
    mode_t mode, dev_t rdev);
void ns_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
    const char *name);
void ns_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
    const char *newname);
void ns_create(fuse_req_t req, fuse_ino_t parent, const char *name,
    mode_t mode, struct fuse_file_info *fi);
void ns_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ns_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi);
void ns_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
    off_t off, struct fuse_file_info *fi);
void ns_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ns_statfs(fuse_req_t req, fuse_ino_t ino);

/* io.c */
void io_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* Open (v, k) into fi without replying (create's open); 0 or an errno.
 * No lock held.  io_open_undo takes it back when the reply fails. */
int io_open_fi(fuse_req_t req, struct vnode *v, enum vkind k,
    struct fuse_file_info *fi);
void io_open_undo(struct vnode *v, enum vkind k, struct fuse_file_info *fi);
void io_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi);
uint64_t io_spliced(void);	/* WRITEs whose data came through a splice pipe */
void io_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
    off_t off, struct fuse_file_info *fi);
void io_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi);
void io_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void io_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
    off_t len, struct fuse_file_info *fi);
void io_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
    struct fuse_file_info *fi);
void io_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
    struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
    struct fuse_file_info *fi_out, size_t len, int flags);

/* xattr.c */
void xa_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
    const char *value, size_t size, int flags);
void xa_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
    size_t size);
void xa_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void xa_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void xa_free_list(struct vxattr_list *l);	/* (N) */

/* backing.c (persistent mode; all no-ops when vfs.backing_fd < 0) */
struct bstore;
int backing_open(const char *dir);
int backing_load(const char *dir);
int backing_start(void);
int backing_stop(void);
void backing_fini(void);
int backing_create(const char *name, mode_t mode, struct vmo **vmo,
    struct bstore **store);			/* (N) */
void backing_create_undo(const char *name, struct vmo *vmo,
    struct bstore *s);				/* (N) */
int backing_rename(struct bstore *s, const char *from, const char *to);	/* (N) */
int backing_remove_begin(struct bstore *s, const char *name);	/* (N) */
void backing_remove_end(struct bstore *s, struct vmo *vmo);
int backing_fsync(struct vnode *v);
void backing_size_changed(struct vnode *v);

/* conn.c: INIT flags libfuse 3.14 lacks; the mount's readahead */
enum kp_why { KP_WRITE, KP_TRUNC, KP_CHOWN };
int conn_setup(struct fuse_session *se, const char *mountpoint,
    uint64_t limit);
bool conn_killpriv(void);
uint64_t conn_spin_served(void);	/* requests caught by a spinning worker */
void conn_stop(void);
bool conn_kill_priv(struct vmeta *m, const struct fuse_ctx *ctx,
    enum kp_why why);				/* (N) */

/* notify.c */
int notify_start(void);
void notify_stop(void);
/*
 * Bytes [off, off+len) of v's VMO changed (len VMO_WHOLE: to the end):
 * invalidate the kernel cache of every other inode aliasing them, and of
 * v's own data inode too when self is true.  resized: the attributes of
 * the aliases changed as well.  Waits (bounded) until the kernel has done
 * it.  Call with no lock held.
 */
void notify_changed(struct vnode *v, uint64_t off, uint64_t len, bool self);
/* The attributes of ino changed behind the kernel: drop its copy (waits, bounded). */
void notify_attr(fuse_ino_t ino);
/* The same, queued only: any lock may be held (nq.lock is a leaf). */
void notify_attr_async(fuse_ino_t ino);
/* Wait (bounded) until everything queued so far is done; no lock held. */
void notify_settle(void);
/*
 * -o writeback_cache: have the kernel write back its dirty pages of the
 * inodes that alias [off, off+len) of v (v's own with self) before the
 * caller reads or changes those bytes behind the kernel's back (a clone's
 * snapshot, stats, zero, a write through a slice).  v NULL: every inode.
 * No lock held.  0 (also when nothing is dirty, or without the option),
 * or -EAGAIN when the kernel did not finish in time (logged).
 */
int notify_flush(struct vnode *v, uint64_t off, uint64_t len, bool self);
int notify_flush_ino(fuse_ino_t ino);
/* Invalidate a dentry parent/name (asynchronous; never waits). */
void notify_entry(fuse_ino_t parent, const char *name);

#endif /* FS_VMOFS_H */
