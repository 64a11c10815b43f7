/*
 * ns.c - namespace requests: every VMO is a directory (SPEC 2).
 *
 *   ROOT/NAME            mkdir: vmo_create (size 0, resizable; NAME~OPTS:
 *                        discardable, fixed=SIZE -- ns_create_opts)
 *   NAME/clones/C[@R]    mkdir: vmo_clone of NAME (window R, else whole);
 *                        C~aolw, C~modified: the other clone kinds
 *                        (ns_clone_opts, vmo_clone_as)
 *   NAME/slices/S@R      mkdir: vmo_slice of NAME (R required)
 *   NAME/refs/R          mkdir: vmo_reference of NAME (no range: all of it)
 *   NAME/{data,info,clones,slices,refs}   fixed; exist as long as NAME does
 *                        (readdir lists refs/ only while it holds a
 *                        reference; LOOKUP finds it always: vnode_listed)
 *
 * rmdir of a VMO with linked children is ENOTEMPTY.  The fixed entries
 * can be removed, as on any filesystem, so that `rm -r` works and every
 * call does what it says (issue #16 bug 4: unlink of data used to return
 * 0 and change nothing, and tar, which unlinks and creates again until
 * the create succeeds, looped for ever):
 *
 *   unlink NAME/data, NAME/info       the name goes (v->removed); the VMO
 *   rmdir NAME/clones, slices, refs   stays with its directory, and its
 *                                     bytes until data is created again
 *   create/mknod NAME/data, info      the name comes back as a new file:
 *   mkdir NAME/clones, slices, refs   data emptied (a slice keeps its
 *                                     fixed window), the directories empty
 *
 * Any other creation (files, links, device nodes, other directories) is
 * EPERM.  Rename moves a VMO within one directory only.
 *
 * Backing mode (backing.c): mkdir, rmdir and rename of a top-level VMO
 * create, delete and rename DIR/NAME; the file operations are short and
 * run under the lock, the detach at rmdir (it may page in) after it.
 *
 * Locking: every handler takes vfs.ns_lock for its namespace work and
 * replies after dropping it (vnode_reply_entry drops it around the
 * reply).  libvm calls made under it are O(1) (create, clone, slice);
 * vmo_resize and vmo_get_attr run outside it on a referenced VMO.
 */
#include "vmofs.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

static const char *const fixed_names[VK_NKINDS] = {
	[VK_DATA] = "data", [VK_INFO] = "info",
	[VK_CLONES] = "clones", [VK_SLICES] = "slices", [VK_REFS] = "refs",
};

/* (N) Resolve ino to its vnode and kind; NULL if unknown. */
static struct vnode *
ns_node(fuse_ino_t ino, enum vkind *k)
{
	struct vnode *v;

	*k = VFS_INO_KIND(ino);
	if (*k < VK_DIR || *k >= VK_NKINDS)
		return NULL;
	v = vnode_get(VFS_INO_ID(ino));
	if (v == vfs.root && *k != VK_DIR)
		return NULL;
	return v;
}

static enum vkind
ns_fixed_kind(const char *name)
{
	int k;

	for (k = VK_DATA; k < VK_NKINDS; k++)
		if (strcmp(name, fixed_names[k]) == 0)
			return (enum vkind)k;
	return 0;
}

/*
 * (N) The child list a directory inode holds: 0 (root's top level or
 * clones/), 1 (slices/), 2 (refs/), or -1 (not a VMO-holding directory).
 */
static int
ns_list_of(struct vnode *d, enum vkind k)
{
	if (k == VK_DIR && d == vfs.root)
		return 0;
	if (k == VK_CLONES || k == VK_SLICES || k == VK_REFS)
		return vnode_list(k);
	return -1;
}

/* (N) May the directory inode (d, k) be used: d linked, k not removed? */
static bool
ns_dir_live(struct vnode *d, enum vkind k)
{
	return d == vfs.root || vnode_shows(d, k);
}

void
ns_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vnode *d, *c;
	enum vkind k, ck;
	int err = ENOENT, i;

	vfs_lock();
	d = ns_node(parent, &k);
	if (!d || !ns_dir_live(d, k))
		goto out_err;
	i = ns_list_of(d, k);
	if (i >= 0) {
		c = vnode_kid(d, i, name);
		ck = VK_DIR;
	} else if (k == VK_DIR) {
		c = d;
		ck = ns_fixed_kind(name);
		if (ck && !vnode_shows(d, ck))
			ck = 0;		/* removed: ENOENT */
	} else {
		err = ENOTDIR;
		goto out_err;
	}
	if (!c || !ck)
		goto out_err;
	vnode_reply_entry(req, c, ck, 0);
	vfs_unlock();
	return;
out_err:
	vfs_unlock();
	fuse_reply_err(req, err);
}

void
ns_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	vnode_forget(ino, nlookup);
	fuse_reply_none(req);
}

void
ns_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	size_t i;

	for (i = 0; i < count; i++)
		vnode_forget(f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

/* Reply with the attributes of (v, k); called with ns_lock held, drops it. */
static void
ns_reply_attr(fuse_req_t req, struct vnode *v, enum vkind k)
{
	struct stat st;
	struct vmo *vmo = NULL;

	vnode_fill_stat(v, k, &st);
	if (k == VK_DATA || k == VK_INFO)
		vmo = vnode_vmo_get(v);
	vfs_unlock();
	if (vmo) {
		if (k == VK_DATA) {
			vnode_stat_vmo(vmo, &st);
		} else {
			char buf[512];

			st.st_size = vnode_info_text(vmo, buf, sizeof(buf));
		}
		vmo_unref(vmo);
	}
	fuse_reply_attr(req, &st, k == VK_INFO ? 0 : vfs.timeout);
}

void
ns_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vnode *v;
	enum vkind k;

	(void)fi;
	vfs_lock();
	v = ns_node(ino, &k);
	if (!v) {
		vfs_unlock();
		fuse_reply_err(req, ENOENT);
		return;
	}
	ns_reply_attr(req, v, k);
}

/* Truncate data of v to size; no lock held.  0 or an errno (logged). */
static int
ns_truncate(fuse_req_t req, struct vnode *v, uint64_t size)
{
	struct vmo *vmo;
	uint64_t old;
	int r;

	vfs_lock();
	vmo = vnode_vmo_get(v);
	vfs_unlock();
	if (!vmo)
		return ENOENT;
	old = vmo_size(vmo);
	/* A slice's size is fixed; to its own size is no change at all (a
	 * restore truncates to the size it writes).  So for a reference of
	 * one. */
	r = old == size && vmo_is_slice(vmo) ? 0 : vmo_resize(vmo, size);
	vmo_unref(vmo);
	if (vfs_resize_why(r))
		vnode_reject(req, "truncate", v, -r, "to %llu bytes: %s",
		    (unsigned long long)size, vfs_resize_why(r));
	if (r < 0)
		return vfs_errno(r);
	backing_size_changed(v);
	/* Our own inode: the kernel truncates its cache; aliases: we do. */
	notify_changed(v, old < size ? old : size, VMO_WHOLE, false);
	return 0;
}

static void
ns_set_time(struct timespec *t, const struct timespec *val, bool now)
{
	if (now)
		clock_gettime(CLOCK_REALTIME, t);
	else
		*t = *val;
}

/*
 * (N) With KILLPRIV_V2 (conn.c) the kernel leaves clearing setuid/setgid
 * to us: a truncate by a caller without CAP_FSETID says so
 * (FUSE_SET_ATTR_KILL_SUID is the kernel's FATTR_KILL_SUIDGID), and chown
 * (a setattr of uid or gid, or of nothing at all: chown(f, -1, -1),
 * whose ctime the kernel does not send) always clears them.  The reply carries the new mode, so no notification.
 */
static void
ns_kill_priv(fuse_req_t req, struct vmeta *m, int to_set)
{
	if (to_set & FUSE_SET_ATTR_KILL_SUID)
		conn_kill_priv(m, fuse_req_ctx(req), KP_TRUNC);
	if ((to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) ||
	    (to_set & ~FUSE_SET_ATTR_CTIME) == 0)
		conn_kill_priv(m, fuse_req_ctx(req), KP_CHOWN);
}

void
ns_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
    struct fuse_file_info *fi)
{
	struct vnode *v;
	struct vmeta *m;
	enum vkind k;
	int err = ENOENT;

	(void)fi;
	vfs_lock();
	v = ns_node(ino, &k);
	if (!v)
		goto out_err;
	if ((to_set & FUSE_SET_ATTR_SIZE) && k == VK_INFO) {
		/* info's size is its text's: a restore truncates it (O_TRUNC,
		 * ftruncate) before writing it back; nothing to do (io.c) */
		to_set &= ~FUSE_SET_ATTR_SIZE;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (k != VK_DATA) {
			err = vfs_reject(req, "truncate", v->name, EISDIR,
			    "only data has a size to set");
			goto out_err;
		}
		vfs_unlock();	/* v stays: the kernel holds a reference */
		err = ns_truncate(req, v, (uint64_t)attr->st_size);
		vfs_lock();
		if (err)
			goto out_err;
		vnode_touch(&v->meta[k], true);
	}
	m = &v->meta[k];
	if (to_set & FUSE_SET_ATTR_MODE)
		m->mode = (m->mode & S_IFMT) | (attr->st_mode & 07777);
	if (conn_killpriv())
		ns_kill_priv(req, m, to_set);
	if (to_set & FUSE_SET_ATTR_UID)
		m->uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		m->gid = attr->st_gid;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW))
		ns_set_time(&m->atime, &attr->st_atim,
		    to_set & FUSE_SET_ATTR_ATIME_NOW);
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW))
		ns_set_time(&m->mtime, &attr->st_mtim,
		    to_set & FUSE_SET_ATTR_MTIME_NOW);
	vnode_touch(m, false);
	if (to_set & FUSE_SET_ATTR_CTIME)
		m->ctime = attr->st_ctim;
	ns_reply_attr(req, v, k);
	return;
out_err:
	vfs_unlock();
	fuse_reply_err(req, err);
}

/* A VMO name: not empty, no '@' (it introduces a RANGE), fits NAME_MAX. */
bool
ns_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 255 && !strchr(name, '@') &&
	    strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/*
 * (N) Put slice or reference s of src into src's alias group (made on
 * first use).  A slice's window is len bytes at its offset in the root; a
 * reference (len 0) stands where src does: the whole root, or src's
 * window when src is a slice or a reference of one.
 */
static int
ns_group_join(struct vnode *src, struct vnode *s, uint64_t len)
{
	struct vgroup *g = src->group;

	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return ENOMEM;
		TAILQ_INIT(&g->list);
		TAILQ_INSERT_TAIL(&g->list, src, glink);
		g->members = 1;
		__atomic_store_n(&src->group, g, __ATOMIC_RELEASE);
	}
	s->slice_off = vmo_slice_offset(s->vmo);
	s->slice_len = len ? len : src->slice_len;
	TAILQ_INSERT_TAIL(&g->list, s, glink);
	g->members++;
	__atomic_store_n(&s->group, g, __ATOMIC_RELEASE);
	return 0;
}

/*
 * A top-level mkdir's create options (issue #17): NAME~OPT[,OPT...] with
 * OPT "discardable" (VMO_DISCARDABLE), "fixed=SIZE" (not resizable,
 * SIZE bytes: NUM grammar) or "contig=SIZE" (vmo_create_contiguous: SIZE
 * bytes in consecutive pages, committed and pinned; *contig set).  Only a
 * suffix that parses is taken; any other '~' is part of the name.  Cuts
 * the suffix off name (cname) and returns true with *flags and *size set.
 */
static bool
ns_create_opts(char *cname, unsigned *flags, uint64_t *size, int *contig)
{
	char *t = strrchr(cname, '~'), buf[256], *o, *save = NULL;
	unsigned f = VMO_RESIZABLE;
	uint64_t sz = 0;
	const char *end;

	if (!t || t == cname || strlen(t + 1) >= sizeof(buf) || !t[1])
		return false;
	strcpy(buf, t + 1);
	for (o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (strcmp(o, "discardable") == 0)
			f |= VMO_DISCARDABLE;
		else if (strncmp(o, "fixed=", 6) == 0 &&
		    vfs_parse_num(o + 6, &sz, &end) == 0 && *end == '\0')
			f &= ~VMO_RESIZABLE;
		else if (strncmp(o, "contig=", 7) == 0 &&
		    vfs_parse_num(o + 7, &sz, &end) == 0 && *end == '\0')
			(*contig)++;
		else
			return false;
	}
	*t = '\0';
	*flags = f;
	*size = sz;
	return true;
}

/*
 * Is cname's '~' suffix made of option words only (discardable, fixed=...,
 * aolw, modified)?  Then it is meant as options, wherever it is; a suffix
 * with any other word stays part of the name, as it always has.  Returns
 * the '~' or NULL.
 */
static char *
ns_opt_words(char *cname)
{
	char *t = strrchr(cname, '~'), buf[256], *o, *save = NULL;

	if (!t || t == cname || strlen(t + 1) >= sizeof(buf) || !t[1])
		return NULL;
	strcpy(buf, t + 1);
	for (o = strtok_r(buf, ",", &save); o; o = strtok_r(NULL, ",", &save))
		if (strcmp(o, "discardable") != 0 && strncmp(o, "fixed=", 6) != 0 &&
		    strcmp(o, "aolw") != 0 && strcmp(o, "modified") != 0)
			return NULL;
	return t;
}

/*
 * A clone's kind (issue #17): clones/C~aolw (snapshot at least on write)
 * or clones/C~modified (snapshot-modified); no suffix, a snapshot as
 * always.  Cuts the suffix off cname.  0 with *kind, or -1: option words
 * that are not exactly one clone kind (the caller rejects them: EINVAL).
 */
static int
ns_clone_opts(char *cname, enum vmo_clone_kind *kind)
{
	char *t = ns_opt_words(cname);

	*kind = VMO_CLONE_SNAPSHOT;
	if (t == NULL)
		return 0;
	if (strcmp(t + 1, "aolw") == 0)
		*kind = VMO_CLONE_AOLW;
	else if (strcmp(t + 1, "modified") == 0)
		*kind = VMO_CLONE_MODIFIED;
	else
		return -1;
	*t = '\0';
	return 0;
}

/* The log line of a refused clone: which of the EOPNOTSUPP cases it is. */
static int
ns_clone_refused(fuse_req_t req, struct vnode *d, const char *name,
    enum vmo_clone_kind kind)
{
	if (vmo_is_discardable(d->vmo))
		return vfs_reject(req, "mkdir", name, EOPNOTSUPP, "a "
		    "discardable VMO has no clones, slices or references");
	if (vmo_is_contiguous(d->vmo))
		return vfs_reject(req, "mkdir", name, EOPNOTSUPP, "a "
		    "contiguous VMO has no clones or references (its slices "
		    "share its pages)");
	if (kind == VMO_CLONE_AOLW)
		return vfs_reject(req, "mkdir", name, EOPNOTSUPP, "~aolw needs "
		    "a VMO that no store backs (a RAM mount): a backed VMO's "
		    "clones are snapshots");
	return vfs_reject(req, "mkdir", name, EOPNOTSUPP, "this VMO reads "
	    "through a live VMO (it or a VMO it was cloned from is an ~aolw "
	    "clone): a snapshot of it would need a copy of every page; "
	    "clone it ~aolw, or remove that VMO first");
}

/*
 * (N) Make the VMO for mkdir NAME in directory (d, k): split "C@RANGE",
 * check the name, and create/clone/slice.  Returns 0 with *out (a VMO
 * reference) and the bare name in cname, or an errno.
 */
static int
ns_make_vmo(fuse_req_t req, struct vnode *d, enum vkind k, const char *name,
    char *cname, struct vmo **out, uint64_t *slen, mode_t mode,
    struct bstore **store)
{
	const char *at = strchr(name, '@');
	uint64_t off = 0, len = VMO_WHOLE, csize = 0;
	size_t n = at ? (size_t)(at - name) : strlen(name);
	unsigned cflags = VMO_RESIZABLE;
	enum vmo_clone_kind ckind = VMO_CLONE_SNAPSHOT;
	bool opts = false;
	int r, contig = 0;

	if (n == 0 || n > 255)
		return vfs_reject(req, "mkdir", name, EINVAL, n ? "a VMO name "
		    "is at most 255 bytes" : "no VMO name before the '@'");
	memcpy(cname, name, n);
	cname[n] = '\0';
	if (k == VK_DIR)
		opts = ns_create_opts(cname, &cflags, &csize, &contig);
	if (k == VK_DIR && !opts && ns_opt_words(cname))
		return vfs_reject(req, "mkdir", name, EINVAL, "~aolw and "
		    "~modified are clone kinds (NAME/clones/C~aolw), not options "
		    "of a new VMO (~discardable, ~fixed=SIZE)");
	if (k == VK_CLONES && ns_clone_opts(cname, &ckind) != 0)
		return vfs_reject(req, "mkdir", name, EINVAL, "a clone takes one "
		    "kind: C~aolw or C~modified (C alone: a snapshot)");
	if ((k == VK_SLICES || k == VK_REFS) && ns_opt_words(cname))
		return vfs_reject(req, "mkdir", name, EINVAL, "a slice takes no "
		    "~options, nor does a reference (each shares its parent's "
		    "pages)");
	if (!ns_name_ok(cname))
		return vfs_reject(req, "mkdir", name, EINVAL, "\".\" and "
		    "\"..\" are not VMO names");
	if (opts && vfs.backing_fd >= 0)
		return vfs_reject(req, "mkdir", name, EINVAL, "~discardable "
		    "~fixed= and ~contig= need a RAM mount (a backed VMO lives "
		    "in its file)");
	if (opts && contig && (contig > 1 || cflags != VMO_RESIZABLE))
		return vfs_reject(req, "mkdir", name, EINVAL, "~contig=SIZE "
		    "goes alone: a contiguous VMO is fixed-size and never "
		    "discardable");
	if (at && k == VK_DIR)
		return vfs_reject(req, "mkdir", name, EINVAL, "a VMO name has "
		    "no '@' (a RANGE is for clones/NAME@RANGE and "
		    "slices/NAME@RANGE)");
	if (at && k == VK_REFS)
		return vfs_reject(req, "mkdir", name, EINVAL, "a reference "
		    "shares the whole VMO: no RANGE (refs/NAME; a window is "
		    "slices/NAME@RANGE)");
	if (at && vfs_parse_range(at + 1, &off, &len) != 0)
		return vfs_reject(req, "mkdir", name, EINVAL, "not NAME@OFFSET+"
		    "LENGTH, each NUM decimal or 0x hex with an optional "
		    "K/M/G suffix");
	if (vnode_kid(d, ns_list_of(d, k), cname))
		return EEXIST;
	if (k == VK_DIR && vfs.backing_fd >= 0) {
		return backing_create(cname, mode, out, store);
	} else if (k == VK_DIR && contig) {
		r = vmo_create_contiguous(vfs.vm, csize, out);
		if (r == -EINVAL || r == -ENOSPC || r == -EFBIG)
			return vfs_reject(req, "mkdir", name, -r, r == -EINVAL ?
			    "a contiguous VMO has a size (~contig=SIZE, SIZE > 0)" :
			    r == -ENOSPC ? "no run of free pages that long "
			    "(the mount's size= limit, or fragmented)" :
			    "larger than the largest VMO");
	} else if (k == VK_DIR) {
		r = vmo_create(vfs.vm, csize, cflags, out);
	} else if (k == VK_CLONES) {
		if (off % VFS_PAGE)
			return vfs_reject(req, "mkdir", name, EINVAL, "a clone's "
			    "OFFSET is a multiple of the page size (%u)",
			    VFS_PAGE);
		r = vmo_clone_as(d->vmo, ckind, off, len, out);
		if (r == -EOPNOTSUPP)
			return ns_clone_refused(req, d, name, ckind);
	} else if (k == VK_REFS && vfs.writeback) {
		return vfs_reject(req, "mkdir", name, EOPNOTSUPP, "no references "
		    "with -o writeback_cache: a reference shares its VMO's "
		    "size, and the kernel then keeps each file's size itself");
	} else if (k == VK_REFS) {
		r = vmo_reference(d->vmo, out);
	} else {
		if (!at || len == 0 || off % VFS_PAGE)
			return vfs_reject(req, "mkdir", name, EINVAL, !at ?
			    "a slice needs a range: slices/NAME@OFFSET+LENGTH" :
			    len == 0 ? "a slice's LENGTH is not 0" : "a slice's "
			    "OFFSET is a multiple of the page size");
		r = vmo_slice(d->vmo, off, len, out);
		*slen = len;
	}
	if (r == -EOPNOTSUPP)
		return vfs_reject(req, "mkdir", name, EOPNOTSUPP,
		    d->vmo && vmo_is_contiguous(d->vmo) ? "a contiguous VMO has no "
		    "clones or references (its slices share its pages)" : "a "
		    "discardable VMO has no clones, slices or references");
	if (r == -EINVAL || r == -EFBIG)
		return vfs_reject(req, "mkdir", name, -r, k == VK_SLICES ?
		    "the range is not within the parent's size (rounded up "
		    "to a page)" : "the range goes past the largest VMO size");
	return r < 0 ? vfs_errno(r) : 0;
}

/*
 * (N) Give back d's removed fixed entry fk as a new entry (the table at
 * the top): data is emptied first (ns_lock dropped around the truncate),
 * except a slice's, whose size is fixed, so it shows its window again.
 * mode: the new inode's permission bits.  0, or EEXIST (it is there), or
 * ENOENT (d went meanwhile), or the truncate's errno (EBUSY: pinned
 * pages, or a slice past 0); with ns_lock held either way.
 */
static int
ns_restore_fixed(fuse_req_t req, struct vnode *d, enum vkind fk, mode_t mode)
{
	struct vmo *vmo;
	uint64_t old;
	int r;

	if (vnode_shows(d, fk))
		return EEXIST;
	if (fk == VK_DATA && !vmo_is_slice(d->vmo)) {
		vmo = vnode_vmo_get(d);
		vfs_unlock();		/* d stays: the kernel holds its directory */
		old = vmo_size(vmo);
		r = old ? vmo_resize(vmo, 0) : 0;
		vmo_unref(vmo);
		if (r == 0 && old) {
			backing_size_changed(d);
			/* the kernel may still cache the old file's pages */
			notify_changed(d, 0, VMO_WHOLE, true);
		}
		vfs_lock();
		if (r < 0)
			return vfs_errno(r);
		if (!d->linked)
			return ENOENT;
		if (vnode_shows(d, fk))
			return EEXIST;
	}
	vnode_reshow(d, fk, mode, fuse_req_ctx(req));
	return 0;
}

void
ns_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct vnode *d, *v;
	struct vmo *vmo = NULL;
	struct bstore *store = NULL;
	char cname[256];
	uint64_t slen = 0;
	fuse_ino_t owner;
	unsigned flags;
	enum vkind k;
	int err = ENOENT;

	/*
	 * -o writeback_cache: a clone sees every write(2) that returned
	 * before (SPEC 2), and a slice's range is checked against a size
	 * that counts them, so the kernel's dirty pages of the source come
	 * first (notify_flush).  The source stays: the kernel holds the dir.
	 */
	if (vfs.writeback && (VFS_INO_KIND(parent) == VK_CLONES ||
	    VFS_INO_KIND(parent) == VK_SLICES)) {
		vfs_lock();
		d = vnode_get(VFS_INO_ID(parent));
		vfs_unlock();
		if (d && notify_flush(d, 0, VMO_WHOLE, true) != 0) {
			fuse_reply_err(req, vfs_reject(req, "mkdir", name, EAGAIN,
			    "the kernel did not write back the source's dirty "
			    "pages in time (writeback_cache)"));
			return;
		}
	}
	vfs_lock();
	d = ns_node(parent, &k);
	if (!d || !ns_dir_live(d, k))
		goto out_err;
	if (ns_list_of(d, k) < 0) {
		enum vkind fk = k == VK_DIR ? ns_fixed_kind(name) : 0;

		err = EPERM;
		if (fk && vnode_shows(d, fk))
			err = EEXIST;
		else if (fk == VK_CLONES || fk == VK_SLICES || fk == VK_REFS)
			err = ns_restore_fixed(req, d, fk, mode);
		else
			vfs_reject(req, "mkdir", name, EPERM, "a VMO directory "
			    "holds only data, info, clones/, slices/ and refs/; "
			    "make VMOs at the top, in clones/, slices/ or refs/");
		if (err == 0) {
			vnode_reply_entry(req, d, fk, 0);
			vfs_unlock();
			return;
		}
		goto out_err;
	}
	err = ns_make_vmo(req, d, k, name, cname, &vmo, &slen, mode, &store);
	if (err)
		goto out_err;
	err = ENOMEM;
	v = vnode_new(vmo, cname, mode, ctx);
	if (!v) {
		if (store)
			backing_create_undo(cname, vmo, store);
		else
			vmo_unref(vmo);
		goto out_err;
	}
	v->store = store;
	if ((k == VK_SLICES || k == VK_REFS) && ns_group_join(d, v, slen) != 0) {
		vnode_maybe_free(v);	/* unlinked, unreferenced: drops vmo */
		goto out_err;
	}
	if (k == VK_CLONES && vmo_clone_kind(vmo) == VMO_CLONE_AOLW) {
		/* d's changes must reach v's page cache (notify.c) */
		v->aolw = true;
		__atomic_store_n(&d->has_aolw, true, __ATOMIC_RELEASE);
	}
	flags = strcmp(cname, name) != 0 ? VR_VOLATILE : 0;
	if (vnode_link(d, k, v))
		flags |= VR_SETTLE;	/* d lists refs/ now: its st_nlink */
	if (k == VK_CLONES && (owner = vnode_page_owner(d)) != 0) {
		/* d's own pages went to the hidden node: its st_blocks */
		notify_attr_async(owner);
		flags |= VR_SETTLE;
	}
	vnode_reply_entry(req, v, VK_DIR, flags);
	vfs_unlock();
	return;
out_err:
	vfs_unlock();
	fuse_reply_err(req, err);
}

void
ns_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vnode *d, *c;
	struct bstore *store = NULL;
	struct vmo *vmo = NULL;
	enum vkind k, fk;
	bool settle = false;
	int err = ENOENT, i;

	vfs_lock();
	d = ns_node(parent, &k);
	if (!d || !ns_dir_live(d, k))
		goto out_err;
	i = ns_list_of(d, k);
	if (i < 0) {
		if (k != VK_DIR)
			goto out_err;
		/* clones/ slices/ refs/ of a VMO: removed when empty (mkdir again) */
		fk = ns_fixed_kind(name);
		if (!fk || !vnode_shows(d, fk))
			err = ENOENT;
		else if (fk == VK_DATA || fk == VK_INFO)
			err = vfs_reject(req, "rmdir", name, ENOTDIR, "data and "
			    "info are files (unlink them)");
		else if (d->nkids[vnode_list(fk)])
			err = vfs_reject(req, "rmdir", name, ENOTEMPTY, "%s/ "
			    "still holds %u VMOs", name, d->nkids[vnode_list(fk)]);
		else {
			d->removed |= 1u << fk;
			vnode_touch(&d->meta[VK_DIR], true);
			vnode_touch(&d->meta[fk], false);
			err = 0;
		}
		goto out_err;
	}
	c = vnode_kid(d, i, name);
	if (!c)
		goto out_err;
	if (c->nkids[0] || c->nkids[1] || c->nkids[2]) {
		err = vfs_reject(req, "rmdir", name, ENOTEMPTY, "the VMO still "
		    "has %u clones, %u slices and %u references (rm -r removes "
		    "them first)", c->nkids[0], c->nkids[1], c->nkids[2]);
		goto out_err;
	}
	if (c->store) {
		/* The file leaves the name now; detach and unlink below. */
		if ((err = backing_remove_begin(c->store, c->name)) != 0)
			goto out_err;
		store = c->store;
		c->store = NULL;
		vmo = vnode_vmo_get(c);
	}
	/* d's last reference: d's VMO directory lists no refs/ (st_nlink) */
	settle = vnode_unlink(c);
	/* a clone's end queued its source's st_blocks (vnode_release) */
	settle |= c->cow_stale && !c->vmo;
	vnode_maybe_free(c);
	err = 0;
out_err:
	vfs_unlock();
	if (store)
		backing_remove_end(store, vmo);
	if (settle)
		notify_settle();
	fuse_reply_err(req, err);
}

void
ns_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vnode *d;
	enum vkind k, fk;
	int err = ENOENT, i;

	vfs_lock();
	d = ns_node(parent, &k);
	if (!d || !ns_dir_live(d, k))
		goto out_err;
	i = ns_list_of(d, k);
	if (i >= 0) {
		if (vnode_kid(d, i, name))
			err = vfs_reject(req, "unlink", name, EISDIR, "a VMO is "
			    "a directory (rmdir, or rm -r with its clones)");
		goto out_err;
	}
	if (k != VK_DIR)
		goto out_err;
	fk = ns_fixed_kind(name);
	if (!fk || !vnode_shows(d, fk)) {
		err = ENOENT;
	} else if (fk == VK_DATA || fk == VK_INFO) {
		/* The name goes; the VMO stays with its directory (rm -r
		 * removes that next), an open descriptor keeps working. */
		d->removed |= 1u << fk;
		vnode_touch(&d->meta[VK_DIR], true);
		vnode_touch(&d->meta[fk], false);
		err = 0;
	} else {
		err = vfs_reject(req, "unlink", name, EISDIR, "clones/, "
		    "slices/ and refs/ are directories (rmdir when empty)");
	}
out_err:
	vfs_unlock();
	fuse_reply_err(req, err);
}

void
ns_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct vnode *d, *c, *t;
	enum vkind k;
	char *nn;
	int err = ENOENT, i;

	vfs_lock();
	d = ns_node(parent, &k);
	if (!d || !ns_dir_live(d, k))
		goto out_err;
	i = ns_list_of(d, k);
	if (i < 0 || parent != newparent) {
		err = vfs_reject(req, "rename", name, EPERM, i < 0 ? "only a "
		    "VMO is renamed (data, info, clones/, slices/ and refs/ "
		    "keep their names)" : "a VMO stays in its directory (to \"%s\" "
		    "in another)", newname);
		goto out_err;
	}
	err = ENOENT;
	if (!(c = vnode_kid(d, i, name)))
		goto out_err;
	err = EINVAL;
	if (flags & ~RENAME_NOREPLACE) {
		vfs_reject(req, "rename", name, err, "flags 0x%x: only "
		    "RENAME_NOREPLACE is supported", flags);
		goto out_err;
	}
	if (!ns_name_ok(newname)) {
		vfs_reject(req, "rename", name, err, "\"%s\" is not a VMO "
		    "name (1 to 255 bytes, no '@', not . or ..)", newname);
		goto out_err;
	}
	t = vnode_kid(d, i, newname);
	err = 0;
	if (t == c)
		goto out_err;
	/* A VMO directory always holds data and info: never empty. */
	if (t) {
		err = vfs_reject(req, "rename", name, flags & RENAME_NOREPLACE ?
		    EEXIST : ENOTEMPTY, "the VMO \"%s\" is there (a VMO "
		    "directory is never empty: rmdir it first)", newname);
		goto out_err;
	}
	err = ENOMEM;
	if (!(nn = strdup(newname)))
		goto out_err;
	if (c->store && (err = backing_rename(c->store, name, newname)) != 0) {
		free(nn);
		goto out_err;
	}
	vnode_rename(c, nn);
	vnode_touch(&d->meta[k], true);
	vnode_touch(&c->meta[VK_DIR], false);
	err = 0;
out_err:
	vfs_unlock();
	fuse_reply_err(req, err);
}

/* (any lock) Reject a creation: what a VMO directory may hold.  EPERM. */
static int
ns_reject_create(fuse_req_t req, const char *what, const char *name)
{
	return vfs_reject(req, what, name, EPERM, "only data and info (after "
	    "unlink) can be created in a VMO directory, and nothing else "
	    "anywhere (mkdir makes VMOs)");
}

/*
 * mknod and create make only what was removed: data or info of a VMO
 * directory (ns_restore_fixed).  (N) The fixed kind, or 0 if refused.
 */
static enum vkind
ns_creatable(struct vnode *d, enum vkind k, const char *name, mode_t mode)
{
	enum vkind fk = ns_fixed_kind(name);

	if (k != VK_DIR || d == vfs.root || !S_ISREG(mode) ||
	    (fk != VK_DATA && fk != VK_INFO))
		return 0;
	return fk;
}

void
ns_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    dev_t rdev)
{
	struct vnode *d;
	enum vkind k, fk;
	int err = ENOENT;

	(void)rdev;
	vfs_lock();
	d = ns_node(parent, &k);
	if (!d || !ns_dir_live(d, k))
		goto out_err;
	if (!(fk = ns_creatable(d, k, name, mode))) {
		err = ns_reject_create(req, "mknod", name);
		goto out_err;
	}
	if ((err = ns_restore_fixed(req, d, fk, mode)) != 0)
		goto out_err;
	vnode_reply_entry(req, d, fk, 0);
	vfs_unlock();
	return;
out_err:
	vfs_unlock();
	fuse_reply_err(req, err);
}

void
ns_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
    const char *name)
{
	(void)link; (void)parent;
	fuse_reply_err(req, ns_reject_create(req, "symlink", name));
}

void
ns_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
    const char *newname)
{
	(void)ino; (void)newparent;
	fuse_reply_err(req, ns_reject_create(req, "link", newname));
}

/* (N) Give back the lookup reference an entry reply did not deliver. */
static void
ns_entry_undo(struct vnode *v, enum vkind k)
{
	assert(v->nlookup[k] > 0);
	v->nlookup[k]--;
	vnode_maybe_free(v);
}

void
ns_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct vnode *d;
	struct vmo *vmo;
	enum vkind k, fk;
	char text[512];
	int err = ENOENT;

	vfs_lock();
	d = ns_node(parent, &k);
	if (!d || !ns_dir_live(d, k))
		goto out_err;
	if (!(fk = ns_creatable(d, k, name, S_IFREG | mode))) {
		err = ns_reject_create(req, "create", name);
		goto out_err;
	}
	if ((err = ns_restore_fixed(req, d, fk, mode)) != 0)
		goto out_err;
	vnode_fill_entry(d, fk, &e);
	vnode_lookup_ref(d, fk);
	vmo = vnode_vmo_get(d);
	vfs_unlock();
	if (vmo) {
		if (fk == VK_DATA)
			vnode_stat_vmo(vmo, &e.attr);
		else
			e.attr.st_size = vnode_info_text(vmo, text, sizeof(text));
		vmo_unref(vmo);
	}
	err = io_open_fi(req, d, fk, fi);
	if (err == 0 && fuse_reply_create(req, &e, fi) == 0)
		return;
	if (err == 0)
		io_open_undo(d, fk, fi);	/* interrupted: nothing arrived */
	vfs_lock();
	ns_entry_undo(d, fk);
	if (err == 0) {
		vfs_unlock();
		return;
	}
out_err:
	vfs_unlock();
	fuse_reply_err(req, err);
}

/*
 * Directory listings are stateless: opendir answers ENOSYS, so the kernel
 * stops sending OPENDIR and RELEASEDIR for the whole mount (no_opendir),
 * two round trips less per directory that rm -r walks.  (It then also
 * caches each complete listing, FOPEN_CACHE_DIR, until the directory
 * changes through it or its mtime does: a listing that changes without
 * that must move the mtime, vnode_refs_toggled.)  Each entry carries
 * a cookie (its d_off is the cookie of the entry after it), computed from
 * what it is, so a later READDIR resumes from the offset alone:
 *
 *   0 "."   1 ".."                  every directory
 *   2..6    data info clones slices refs  a VMO directory: the kind
 *   id + 2  a child VMO              root, clones/, slices/, refs/
 *
 * Children sit in their list in ascending id (vnode_link keeps the order),
 * so an entry present throughout a listing is listed exactly once, whatever
 * mkdir, rmdir and rename do meanwhile.  A fixed entry that is not listed
 * (removed, or refs/ while it holds no reference: vnode_listed) is skipped
 * and keeps its cookie: slices' d_off is 6 either way, and a listing
 * resumed there gives refs/ if it is listed by then, else nothing.
 *
 * READDIRPLUS hands the kernel each entry with its attributes, as a LOOKUP
 * would (and taking a lookup reference the same way, "." and ".." aside):
 * rm -r then needs no LOOKUP for info, clones/ and slices/, and an empty
 * refs/, unlisted, costs it nothing.
 */
struct dent {
	fuse_ino_t	 ino;
	mode_t		 type;
	off_t		 next;		/* cookie of the entry after this one */
	struct vnode	*v;		/* NULL for "." and ".." */
	enum vkind	 k;
	char		 name[256];
};

/* (N) The inode of d's parent directory (for ".."). */
static fuse_ino_t
ns_dotdot(struct vnode *d, enum vkind k)
{
	if (d == vfs.root)
		return FUSE_ROOT_ID;
	if (k != VK_DIR)
		return VFS_INO(d->id, VK_DIR);
	if (!d->parent)
		return FUSE_ROOT_ID;
	return VFS_INO(d->parent->id, d->pdir);
}

static void
dent_set(struct dent *e, fuse_ino_t ino, mode_t type, off_t next,
    struct vnode *v, enum vkind k, const char *name)
{
	e->ino = ino;
	e->type = type;
	e->next = next;
	e->v = v;
	e->k = k;
	snprintf(e->name, sizeof(e->name), "%s", name);
}

/*
 * (N) Up to max entries of directory (d, k) from cookie off into out;
 * returns how many, or -errno.
 */
static int
ns_list(struct vnode *d, enum vkind k, off_t off, struct dent *out, int max)
{
	struct vnode *c;
	int n = 0, i, fk;

	if (k == VK_DATA || k == VK_INFO)
		return -ENOTDIR;
	if (off < 0)
		return 0;
	if (off == 0 && n < max)
		dent_set(&out[n++], VFS_INO(d->id, k), S_IFDIR, 1, NULL, 0, ".");
	if (off <= 1 && n < max)
		dent_set(&out[n++], ns_dotdot(d, k), S_IFDIR, 2, NULL, 0, "..");
	if (!ns_dir_live(d, k))
		return n;		/* removed: empty */
	i = ns_list_of(d, k);
	if (i < 0) {
		for (fk = off > VK_DATA ? (int)off : VK_DATA;
		    fk < VK_NKINDS && n < max; fk++)
			if (vnode_listed(d, (enum vkind)fk))
				dent_set(&out[n++], VFS_INO(d->id, fk),
				    d->meta[fk].mode & S_IFMT, fk + 1, d,
				    (enum vkind)fk, fixed_names[fk]);
		return n;
	}
	for (c = vnode_kid_from(d, i, off > 2 ? (uint64_t)off - 2 : 0);
	    c && n < max; c = vnode_kid_next(c)) {
		dent_set(&out[n++], VFS_INO(c->id, VK_DIR), S_IFDIR,
		    (off_t)c->id + 3, c, VK_DIR, c->name);
	}
	return n;
}

/*
 * Collect the listing of ino from off, enough to fill size bytes at
 * entsize bytes an entry at least.  plus: take a lookup reference and
 * fill e[] for every entry but "." and "..", with the VMO references that
 * data and info need in vmos[] (see ns_plus_undo).  Returns the count or
 * -errno; *outp is the malloc'd array.
 */
static int
ns_collect(fuse_ino_t ino, size_t size, off_t off, size_t entsize, bool plus,
    struct dent **outp, struct fuse_entry_param **ep, struct vmo ***vmosp)
{
	struct dent *out;
	struct vnode *d;
	enum vkind k;
	int max = (int)(size / entsize) + 1, n, j;

	*outp = NULL;
	if (!(out = malloc(sizeof(*out) * (size_t)max)))
		return -ENOMEM;
	if (plus) {
		*ep = calloc((size_t)max, sizeof(**ep));
		*vmosp = calloc((size_t)max, sizeof(**vmosp));
		if (!*ep || !*vmosp) {
			free(*ep);
			free(*vmosp);
			free(out);
			return -ENOMEM;
		}
	}
	vfs_lock();
	d = ns_node(ino, &k);
	n = d ? ns_list(d, k, off, out, max) : -ENOENT;
	for (j = 0; plus && j < n; j++) {
		if (!out[j].v)
			continue;
		vnode_fill_entry(out[j].v, out[j].k, &(*ep)[j]);
		if (out[j].k == VK_DATA || out[j].k == VK_INFO)
			(*vmosp)[j] = vnode_vmo_get(out[j].v);
		vnode_lookup_ref(out[j].v, out[j].k);
	}
	vfs_unlock();
	if (n < 0) {
		free(out);
		if (plus) {
			free(*ep);
			free(*vmosp);
		}
		return n;
	}
	*outp = out;
	return n;
}

/* Give back the lookup references of entries [from, n) that were not sent. */
static void
ns_plus_undo(struct dent *out, int from, int n)
{
	int j;

	if (from >= n)
		return;
	vfs_lock();
	for (j = from; j < n; j++) {
		if (!out[j].v)
			continue;
		assert(out[j].v->nlookup[out[j].k] > 0);
		out[j].v->nlookup[out[j].k]--;
		vnode_maybe_free(out[j].v);
	}
	vfs_unlock();
}

void
ns_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct dent *out;
	struct stat st;
	size_t used = 0, len;
	char *buf = NULL;
	int n, j, err = ENOMEM;

	(void)fi;
	n = ns_collect(ino, size, off, 24, false, &out, NULL, NULL);
	if (n < 0) {
		err = -n;
		goto out_err;
	}
	if (!(buf = malloc(size)))
		goto out_err;
	memset(&st, 0, sizeof(st));
	for (j = 0; j < n; j++) {
		st.st_ino = out[j].ino;
		st.st_mode = out[j].type;
		len = fuse_add_direntry(req, buf + used, size - used,
		    out[j].name, &st, out[j].next);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
	free(out);
	return;
out_err:
	free(out);
	fuse_reply_err(req, err);
}

void
ns_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct fuse_entry_param *e = NULL, dot;
	struct vmo **vmos = NULL;
	struct dent *out;
	size_t used = 0, len;
	char *buf = NULL, text[512];
	int n, j, sent = 0, err = ENOMEM;

	(void)fi;
	/* An entry is 152 bytes plus its name, 8-aligned. */
	n = ns_collect(ino, size, off, 160, true, &out, &e, &vmos);
	if (n < 0) {
		fuse_reply_err(req, -n);
		return;
	}
	/* Sizes come from the VMOs, outside the namespace lock. */
	for (j = 0; j < n; j++) {
		if (!vmos[j])
			continue;
		if (out[j].k == VK_DATA)
			vnode_stat_vmo(vmos[j], &e[j].attr);
		else
			e[j].attr.st_size = vnode_info_text(vmos[j], text,
			    sizeof(text));
		vmo_unref(vmos[j]);
	}
	if (!(buf = malloc(size)))
		goto out_err;
	for (j = 0; j < n; j++) {
		if (!out[j].v) {
			/* "." and "..": no attributes, no reference */
			memset(&dot, 0, sizeof(dot));
			dot.attr.st_ino = out[j].ino;
			dot.attr.st_mode = out[j].type;
		}
		len = fuse_add_direntry_plus(req, buf + used, size - used,
		    out[j].name, out[j].v ? &e[j] : &dot, out[j].next);
		if (len > size - used)
			break;
		used += len;
	}
	sent = j;
	ns_plus_undo(out, sent, n);
	if (fuse_reply_buf(req, buf, used) != 0)
		ns_plus_undo(out, 0, sent);	/* interrupted: nothing arrived */
	free(buf);
	free(out);
	free(e);
	free(vmos);
	return;
out_err:
	ns_plus_undo(out, 0, n);
	free(out);
	free(e);
	free(vmos);
	fuse_reply_err(req, err);
}

/*
 * ENOSYS switches OPENDIR and RELEASEDIR off for the rest of the mount
 * (the kernel's no_opendir): readdir needs no per-open state here.
 */
void
ns_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino; (void)fi;
	fuse_reply_err(req, ENOSYS);
}

void
ns_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino; (void)fi;
	fuse_reply_err(req, 0);
}

void
ns_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	struct vm_stats st;
	uint64_t nv;

	(void)ino;
	vm_get_stats(vfs.vm, &st);
	vfs_lock();
	nv = vfs.nvnodes;
	vfs_unlock();
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = VFS_PAGE;
	sv.f_frsize = VFS_PAGE;
	sv.f_blocks = st.limit_pages;
	sv.f_bfree = st.free_pages;
	sv.f_bavail = st.free_pages;
	/* Inodes: six per VMO, never short of them beyond the page limit. */
	sv.f_files = nv * 6 + st.free_pages;
	sv.f_ffree = st.free_pages;
	sv.f_favail = st.free_pages;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}
