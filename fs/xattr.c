/*
 * xattr.c - extended attributes (SPEC 4).
 *
 * Three kinds of names:
 *   user.vmo.<action> on data   setxattr runs a VMO range operation with a
 *                               RANGE value ("" or "all": the whole VMO);
 *   user.vmo.<value> on data    read-only numbers (decimal ASCII, no
 *                               newline) from vmo_get_attr and friends;
 *   user.vmofs.stats on root    "key: value\n" lines of struct vm_stats;
 *   any other user.* name       stored per inode, on every inode (cp -a).
 * user.vmo.* and user.vmofs.* are reserved on every inode.  A read-only
 * value is derived: setting it with a value of its form, or removing it,
 * is what a backup tool restoring a copy does (cp --preserve=xattr, tar
 * --xattrs, rsync -X, issue #19), and is accepted and changes nothing;
 * another value is EPERM.  Other reserved names are EPERM to remove; an
 * unknown one ENODATA to get and EINVAL to set.  Other namespaces
 * (trusted, security, system) ENOTSUP.
 *
 * Stored attributes live in the vnode's struct vmeta, under vfs.ns_lock.
 */
#include "vmofs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#define XA_VMO		"user.vmo."
#define XA_VMOFS	"user.vmofs."
#define XA_STATS	"user.vmofs.stats"
#define XA_MAX_VALUE	65536

enum xa_action {
	XA_COMMIT, XA_DECOMMIT, XA_ZERO, XA_PIN, XA_UNPIN, XA_PREFETCH,
	XA_DONTNEED, XA_ALWAYSNEED, XA_NACTIONS
};

/*
 * Every name that can be set on data, for the EINVAL of an unknown one:
 * the actions (enum order), then the whole-VMO lock actions of
 * discardable VMOs (issue #17), which take no RANGE.  The read-only
 * values take only a restore of their own form, so they are not listed.
 */
#define XA_NSETTABLE	(XA_NACTIONS + 3)
static const char *const xa_actions[XA_NSETTABLE] = {
	"commit", "decommit", "zero", "pin", "unpin", "prefetch", "dontneed",
	"alwaysneed", "lock", "trylock", "unlock",
};
#define xa_locks	(xa_actions + XA_NACTIONS)

enum xa_value {
	XV_ID, XV_KIND, XV_PARENT, XV_SIZE, XV_COMMITTED, XV_POPULATED,
	XV_PRIVATE, XV_SCALED, XV_PINNED, XV_CHILDREN, XV_LOCK_STATE, XV_NVALUES
};

static const char *const xa_values[XV_NVALUES] = {
	"id", "kind", "parent", "size", "committed", "populated", "private",
	"scaled", "pinned", "children", "lock_state",
};



static int
xa_index(const char *const *tab, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i], s) == 0)
			return i;
	return -1;
}

static bool
xa_reserved(const char *name)
{
	return strncmp(name, XA_VMO, strlen(XA_VMO)) == 0 ||
	    strncmp(name, XA_VMOFS, strlen(XA_VMOFS)) == 0;
}

/* Resolve ino; returns the vnode with ns_lock held, or NULL unlocked. */
static struct vnode *
xa_node(fuse_ino_t ino, enum vkind *k)
{
	struct vnode *v;

	*k = VFS_INO_KIND(ino);
	vfs_lock();
	v = vnode_get(VFS_INO_ID(ino));
	if (!v || *k < VK_DIR || *k >= VK_NKINDS) {
		vfs_unlock();
		return NULL;
	}
	return v;
}

/* (N) Is name one of the read-only values listxattr shows on (v, k)? */
static bool
xa_listed(struct vnode *v, enum vkind k, const char *name)
{
	if (v == vfs.root && k == VK_DIR)
		return strcmp(name, XA_STATS) == 0;
	return k == VK_DATA && strncmp(name, XA_VMO, strlen(XA_VMO)) == 0 &&
	    xa_index(xa_values, XV_NVALUES, name + strlen(XA_VMO)) >= 0;
}

/* (N) */
static struct vxattr *
xa_find(struct vmeta *m, const char *name)
{
	struct vxattr *x;

	LIST_FOREACH(x, &m->xattrs, link)
		if (strcmp(x->name, name) == 0)
			return x;
	return NULL;
}

/* (N) */
void
xa_free_list(struct vxattr_list *l)
{
	struct vxattr *x;

	while ((x = LIST_FIRST(l)) != NULL) {
		LIST_REMOVE(x, link);
		free(x->name);
		free(x);
	}
}

/*
 * Parse and check an action's RANGE value against the VMO's content size
 * (the table in docs/semantics.md): "" or "all" is the whole VMO; one
 * trailing newline is tolerated; a RANGE must lie within the content
 * size.  Per action: decommit frees whole pages, so OFFSET must be page
 * aligned and so must the end, unless it is the end of the file (the
 * rest of that page reads zero); pin and unpin need a non-empty range;
 * the others round out (commit, prefetch, hints: they change no byte) or
 * are byte exact (zero).  0, or -EINVAL with *why the reason to log.
 * libvm checks the same at its entry points (vm/vmo.c).
 */
static int
xa_range(struct vmo *vmo, enum xa_action a, const char *value, size_t size,
    uint64_t *off, uint64_t *len, const char **why)
{
	char buf[64];
	const char *p;
	uint64_t vsize = vmo_size(vmo), end;

	*why = "value too long for a RANGE";
	if (size >= sizeof(buf))
		return -EINVAL;
	*why = "NUL byte in the value";
	if (memchr(value, '\0', size))
		return -EINVAL;
	memcpy(buf, value, size);
	buf[size] = '\0';
	if (size && buf[size - 1] == '\n')
		buf[--size] = '\0';
	if (size == 0 || strcmp(buf, "all") == 0) {
		*off = 0;
		*len = vsize;
	} else {
		*why = "not OFFSET+LENGTH, each NUM decimal or 0x hex with an "
		    "optional K/M/G, below 2^64";
		if (vfs_parse_num(buf, off, &p) != 0 || *p != '+' ||
		    vfs_parse_num(p + 1, len, NULL) != 0)
			return -EINVAL;
		*why = "OFFSET+LENGTH overflows 64 bits";
		if (*off + *len < *off)
			return -EINVAL;
		*why = "range ends past the end of the file";
		if (*off + *len > vsize)
			return -EINVAL;
	}
	end = *off + *len;
	switch (a) {
	case XA_DECOMMIT:
		*why = "decommit frees whole pages: OFFSET must be page aligned";
		if (*len && *off % VFS_PAGE)
			return -EINVAL;
		*why = "decommit frees whole pages: the end must be page aligned "
		    "or the end of the file";
		if (*len && end % VFS_PAGE && end != vsize)
			return -EINVAL;
		break;
	case XA_PIN:
	case XA_UNPIN:
		*why = "empty range: nothing to pin or unpin";
		if (*len == 0)
			return -EINVAL;
		break;
	default:
		break;
	}
	return 0;
}

/* Why libvm refused action a with err (the fs checks passed). */
static const char *
xa_act_why(enum xa_action a, int err)
{
	switch (err) {
	case -EBUSY:
		return "a pinned page is in the range";
	case -ENOSPC:
		return "out of memory (size= reached)";
	case -EINVAL:
		if (a == XA_UNPIN)
			return "a page in the range is not pinned";
		if (a == XA_DECOMMIT)
			return "decommit would free bytes outside the range "
			    "(a slice whose last page goes on with its parent's bytes)";
		return "range no longer within the file";
	default:
		return strerror(-err);
	}
}

/*
 * A value for a log line: printable ASCII, others as '?', cut at 64
 * bytes ("..." after).
 */
static void
xa_log_value(char *out, size_t osize, const char *value, size_t size)
{
	size_t i, n = size < osize - 4 ? size : osize - 4;

	for (i = 0; i < n; i++)
		out[i] = value[i] >= 0x20 && value[i] < 0x7f ? value[i] : '?';
	strcpy(out + n, n < size ? "..." : "");
}

/* Log a refused setxattr of name = value (vfs_reject); err negative. */
static void
xa_log_reject(fuse_req_t req, const char *name, const char *value,
    size_t size, int err, const char *why)
{
	char shown[72];

	xa_log_value(shown, sizeof(shown), value, size);
	vfs_reject(req, "setxattr", name, -err, "%s (value \"%s\")", why,
	    shown);
}

/*
 * Pages came into v's VMO (commit, pin, prefetch, alwaysneed) behind the
 * kernel's back: drop its copy of the owner's st_blocks (zero and
 * decommit invalidate the whole inode already).  No lock held.
 */
static void
xa_blocks_changed(struct vnode *v)
{
	fuse_ino_t ino;

	vfs_lock();
	ino = vnode_page_owner(v);
	vfs_unlock();
	if (ino)
		notify_attr(ino);
}

/* Run action a on v's VMO; no lock held.  0 or a negative errno. */
static int
xa_act(struct vnode *v, struct vmo *vmo, enum xa_action a, uint64_t off,
    uint64_t len)
{
	uint64_t o, e;
	int r = 0;

	if (len == 0)
		return 0;
	switch (a) {
	case XA_COMMIT:
		return vmo_commit(vmo, off, len);
	case XA_ALWAYSNEED:	/* bring in, never reclaim until dontneed */
		return vmo_hint(vmo, off, len, VMO_HINT_ALWAYSNEED);
	case XA_DONTNEED:	/* reclaim these first */
		return vmo_hint(vmo, off, len, VMO_HINT_DONTNEED);
	case XA_PREFETCH:	/* page in from the backing store */
		return vmo_prefetch(vmo, off, len);
	case XA_PIN:
		return vmo_pin(vmo, off, len);
	case XA_UNPIN:
		return vmo_unpin(vmo, off, len);
	case XA_DECOMMIT:
		r = vmo_decommit(vmo, off, len);
		/* decommit rounds out to whole pages */
		o = off & ~(uint64_t)(VFS_PAGE - 1);
		e = (off + len + VFS_PAGE - 1) & ~(uint64_t)(VFS_PAGE - 1);
		if (r == 0)
			notify_changed(v, o, e - o, true);
		return r;
	case XA_ZERO:
		r = vmo_zero(vmo, off, len);
		if (r == 0)
			notify_changed(v, off, len, true);
		return r;
	default:
		return -EINVAL;
	}
}

/*
 * user.vmo.lock / trylock / unlock (which: 0, 1, 2) on vmo: the whole VMO,
 * so the value must be "" or "all".  The lock's report is read back with
 * getfattr user.vmo.lock_state.  0 or a negative errno, *why set then:
 * -EINVAL (a RANGE; not discardable; unlock of an unlocked VMO), -EBUSY
 * (trylock of a discarded VMO: it stays unlocked).
 */
static int
xa_lock(struct vmo *vmo, int which, const char *value, size_t size,
    const char **why)
{
	bool d;
	int r;

	if (size && value[size - 1] == '\n')
		size--;
	*why = "lock, trylock and unlock take the whole VMO: value \"\" or \"all\"";
	if (size != 0 && !(size == 3 && memcmp(value, "all", 3) == 0))
		return -EINVAL;
	r = which == 0 ? vmo_lock(vmo, &d) : which == 1 ? vmo_trylock(vmo, &d) :
	    vmo_unlock(vmo);
	switch (r) {
	case 0:
		return 0;
	case -EOPNOTSUPP:	/* Zircon: ZX_ERR_NOT_SUPPORTED */
		*why = "not a discardable VMO (mkdir NAME~discardable)";
		return -EINVAL;
	case -EAGAIN:
		/* EBUSY, not libvm's EAGAIN: an EAGAIN reply to SETXATTR
		 * reached setfattr as EOPNOTSUPP (Linux 6.x, measured). */
		*why = "trylock: the VMO was discarded (it stays unlocked; "
		    "lock it to reuse it)";
		return -EBUSY;
	case -EINVAL:
		*why = "unlock of a VMO that is not locked";
		return r;
	default:
		*why = strerror(-r);
		return r;
	}
}

/* Is value user.vmofs.stats text: lines "name: number"? */
static bool
xa_stats_form(const char *value, size_t size)
{
	const char *p = value, *end = value + size, *nl, *q;

	if (size == 0)
		return false;
	for (; p < end; p = nl + 1) {
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			return false;
		for (q = p; q < nl && ((*q >= 'a' && *q <= 'z') || *q == '_'); q++)
			;
		if (q == p || q + 2 >= nl || q[0] != ':' || q[1] != ' ')
			return false;
		for (q += 2; q < nl && *q >= '0' && *q <= '9'; q++)
			;
		if (q != nl)
			return false;
	}
	return true;
}

/*
 * A write of a read-only value (name, whose form is given by ok): a
 * restore of a copy, accepted and dropped (inode.c, vnode_value_form);
 * XATTR_CREATE finds it there (EEXIST); another value is EPERM, logged.
 */
static int
xa_set_readonly(fuse_req_t req, const char *name, const char *value,
    size_t size, int flags, bool ok)
{
	if (ok)
		return flags & XATTR_CREATE ? -EEXIST : 0;
	xa_log_reject(req, name, value, size, -EPERM, "read-only value (a restore "
	    "of a copy writes one of its form, and is ignored)");
	return -EPERM;
}

/* setxattr of a user.vmo.* / user.vmofs.* name on (v, k); ns_lock held, dropped. */
static int
xa_set_reserved(fuse_req_t req, struct vnode *v, enum vkind k,
    const char *name, const char *value, size_t size, int flags)
{
	const char *rest = name + strlen(XA_VMO), *why;
	struct vmo *vmo;
	uint64_t off, len;
	int a, r;

	if (k == VK_DIR && v == vfs.root && strcmp(name, XA_STATS) == 0) {
		vfs_unlock();
		return xa_set_readonly(req, name, value, size, flags,
		    xa_stats_form(value, size));
	}
	if (k != VK_DATA || strncmp(name, XA_VMO, strlen(XA_VMO)) != 0) {
		vfs_unlock();
		xa_log_reject(req, name, value, size, -EINVAL, k != VK_DATA ?
		    "user.vmo.* and user.vmofs.* are reserved; actions exist "
		    "on data only" : "unknown reserved name");
		return -EINVAL;
	}
	vmo = vnode_vmo_get(v);
	vfs_unlock();
	if (!vmo)
		return -ENOENT;
	a = xa_index(xa_actions, XA_NACTIONS, rest);
	if (a < 0 && xa_index(xa_locks, 3, rest) >= 0) {
		r = xa_lock(vmo, xa_index(xa_locks, 3, rest), value, size, &why);
	} else if (a < 0 && xa_index(xa_values, XV_NVALUES, rest) >= 0) {
		vmo_unref(vmo);
		return xa_set_readonly(req, name, value, size, flags,
		    vnode_value_form(rest, value, size));
	} else if (a < 0) {
		vmo_unref(vmo);
		vfs_reject_names(req, "setxattr", name, EINVAL, XA_VMO,
		    xa_actions, XA_NSETTABLE);
		return -EINVAL;
	} else {
		r = xa_range(vmo, (enum xa_action)a, value, size, &off, &len,
		    &why);
		if (r == 0) {
			r = xa_act(v, vmo, (enum xa_action)a, off, len);
			why = r ? xa_act_why((enum xa_action)a, r) : NULL;
		}
		if (r == 0 && len && (a == XA_COMMIT || a == XA_PIN ||
		    a == XA_PREFETCH || a == XA_ALWAYSNEED))
			xa_blocks_changed(v);
	}
	vmo_unref(vmo);
	if (r < 0)
		xa_log_reject(req, name, value, size, r, why);
	return r;
}

void
xa_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
    const char *value, size_t size, int flags)
{
	struct vnode *v;
	struct vxattr *x, *old;
	enum vkind k;
	int err = ENOTSUP;

	if (strncmp(name, "user.", 5) != 0) {
		vfs_reject(req, "setxattr", name, err, "only user.* attributes "
		    "are kept (no trusted, security or system namespace)");
		goto out_err;
	}
	/* -o writeback_cache: bytes still in the kernel land before a zero */
	err = EAGAIN;
	if (VFS_INO_KIND(ino) == VK_DATA && (strcmp(name, XA_VMO "zero") == 0 ||
	    strcmp(name, XA_VMO "decommit") == 0) && notify_flush_ino(ino) != 0)
		goto out_err;
	err = ENOENT;
	if (!(v = xa_node(ino, &k)))
		goto out_err;
	if (xa_reserved(name)) {
		int r = xa_set_reserved(req, v, k, name, value, size, flags);

		err = r < 0 ? vfs_errno(r) : 0;
		goto out_err;
	}
	old = xa_find(&v->meta[k], name);
	err = EEXIST;
	if (old && (flags & XATTR_CREATE))
		goto out_unlock;
	err = ENODATA;
	if (!old && (flags & XATTR_REPLACE))
		goto out_unlock;
	err = E2BIG;
	if (size > XA_MAX_VALUE) {
		vfs_reject(req, "setxattr", name, err, "a value of %zu bytes; "
		    "at most %d", size, XA_MAX_VALUE);
		goto out_unlock;
	}
	err = ENOMEM;
	if (!(x = malloc(sizeof(*x) + size)) || !(x->name = strdup(name))) {
		free(x);
		goto out_unlock;
	}
	x->len = size;
	memcpy(x->value, value, size);
	if (old) {
		LIST_REMOVE(old, link);
		free(old->name);
		free(old);
	}
	LIST_INSERT_HEAD(&v->meta[k].xattrs, x, link);
	vnode_touch(&v->meta[k], false);
	err = 0;
out_unlock:
	vfs_unlock();
out_err:
	fuse_reply_err(req, err);
}

/* Reply with a value following the size-0 / ERANGE protocol. */
static void
xa_reply_value(fuse_req_t req, const char *val, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

/* Render a read-only user.vmo.* value; the length, or -ENODATA. */
static int
xa_vmo_value(struct vmo *vmo, const char *rest, char *buf, size_t bsize)
{
	struct vmo_attr a;
	uint64_t val;
	int i = xa_index(xa_values, XV_NVALUES, rest);

	memset(&a, 0, sizeof(a));
	if (i >= XV_COMMITTED && i <= XV_PINNED)
		vmo_get_attr(vmo, &a);
	switch (i) {
	case XV_ID:	   val = vmo_id(vmo); break;
	case XV_KIND:
		return snprintf(buf, bsize, "%s", vmo_kind_name(vmo_kind(vmo)));
	case XV_PARENT:	   val = vmo_parent_id(vmo); break;
	case XV_SIZE:	   val = vmo_size(vmo); break;
	case XV_COMMITTED: val = a.committed; break;
	case XV_POPULATED: val = a.populated; break;
	case XV_PRIVATE:   val = a.private_bytes; break;
	case XV_SCALED:	   val = a.scaled; break;
	case XV_PINNED:	   val = a.pinned; break;
	case XV_CHILDREN:  val = vmo_children(vmo); break;
	case XV_LOCK_STATE: {
		struct vmo_lock_state ls;

		if (vmo_lock_state(vmo, &ls) != 0)
			return snprintf(buf, bsize, "none");
		return snprintf(buf, bsize, "%s locks=%" PRIu64 " discarded=%d",
		    ls.locks ? "locked" : ls.discarded ? "discarded" :
		    ls.never_unlocked ? "new" : "unlocked", ls.locks,
		    ls.was_discarded);
	}
	default:	   return -ENODATA;
	}
	return snprintf(buf, bsize, "%" PRIu64, val);
}

/*
 * The user.vmofs.stats text into a malloc'd buffer; its length or -ENOMEM.
 * nvnodes was read under the namespace lock by the caller.
 */
static int
xa_stats_text(char **out, uint64_t nvnodes)
{
	struct vm_stats s;
	char *buf;
	int n = 0;

	vm_get_stats(vfs.vm, &s);
	if (!(buf = malloc(4096)))
		return -ENOMEM;
#define XS(f) n += snprintf(buf + n, 4096 - (size_t)n, #f ": %" PRIu64 "\n", s.f)
	XS(limit_pages); XS(used_pages); XS(free_pages); XS(cached_pages);
	XS(pmm_allocs); XS(pmm_frees); XS(pmm_alloc_fails); XS(pmm_released);
	XS(pcache_hits); XS(pcache_misses); XS(pcache_refills);
	XS(pcache_returns); XS(pcache_steals); XS(vmos); XS(hidden_nodes);
	XS(cow_copies); XS(cow_moves); XS(merges); XS(zero_fills);
	XS(paged_in); XS(page_requests); XS(page_request_waits);
	XS(page_request_stale); XS(evicted); XS(written_back); XS(paged_vmos);
	XS(reclaimed); XS(compressed); XS(decompressed); XS(zero_deduped);
	XS(discarded_vmos); XS(discarded_pages); XS(q_discardable);
	XS(zero_scanned); XS(incompressible);
	XS(zstore_pages); XS(zstore_bytes); XS(zstore_ballast);
	XS(reclaim_direct); XS(reclaim_bg); XS(pq_rotations);
	XS(q_anon); XS(q_pager_clean); XS(q_pager_dirty); XS(q_wired);
	XS(q_dontneed); XS(q_alwaysneed);
	XS(contig_vmos); XS(lent_pages); XS(loaned_free); XS(borrowed);
	XS(loan_migrations);
#undef XS
	/* The daemon's own: VMO nodes it keeps (live, or removed but still
	 * looked up or open).  Back to its baseline once the kernel forgets. */
	n += snprintf(buf + n, 4096 - (size_t)n, "vnodes: %" PRIu64 "\n", nvnodes);
	/* Requests served through FUSE over io_uring (-o uring). */
	n += snprintf(buf + n, 4096 - (size_t)n, "uring_requests: %" PRIu64 "\n",
	    uring_served());
	/* WRITEs whose data was spliced into VMO pages (fs/conn.c). */
	n += snprintf(buf + n, 4096 - (size_t)n, "spliced_writes: %" PRIu64 "\n",
	    io_spliced());
	/* Requests a worker caught while spinning (fs/conn.c, -o spin=). */
	n += snprintf(buf + n, 4096 - (size_t)n, "spun_requests: %" PRIu64 "\n",
	    conn_spin_served());
	*out = buf;
	return n;
}

/*
 * Derived values move (the counters), and tools read an xattr in two
 * calls: its length (size 0), then the value into a buffer of that
 * length; rsync -X insists that both agree, and failed on user.vmofs.stats
 * as the counters grew a digit in between.  So the text a length query
 * rendered is kept for that caller's next read of the same name on the
 * same inode (its pid, within a second): both calls see one snapshot.
 * A few slots, the oldest replaced; a read without a snapshot renders
 * afresh.
 */
#define XA_SNAPS	16
#define XA_SNAP_NS	1000000000LL

struct xa_snap {
	pid_t		 pid;			/* (S) 0: free */
	fuse_ino_t	 ino;			/* (S) */
	char		 name[32];		/* (S) */
	int64_t		 when;			/* (S) vfs_now_ns */
	char		*text;			/* (S) malloc'd */
	size_t		 len;			/* (S) */
};

/* Lock legend: (S) xa_snap_lock. */
static pthread_mutex_t xa_snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xa_snap xa_snaps[XA_SNAPS];

/* Keep text (copied) for req's caller's next read of (ino, name). */
static void
xa_snap_put(fuse_req_t req, fuse_ino_t ino, const char *name,
    const char *text, size_t len)
{
	struct xa_snap *sn, *old = &xa_snaps[0];
	char *copy;
	int i;

	if (strlen(name) >= sizeof(old->name) || !(copy = malloc(len ? len : 1)))
		return;			/* benign: the read renders afresh */
	memcpy(copy, text, len);
	pthread_mutex_lock(&xa_snap_lock);
	for (i = 0; i < XA_SNAPS; i++) {
		sn = &xa_snaps[i];
		if (sn->pid == fuse_req_ctx(req)->pid && sn->ino == ino &&
		    strcmp(sn->name, name) == 0) {
			old = sn;
			break;
		}
		if (sn->when < old->when)
			old = sn;	/* free slots have when 0 */
	}
	free(old->text);
	old->pid = fuse_req_ctx(req)->pid;
	old->ino = ino;
	snprintf(old->name, sizeof(old->name), "%s", name);
	old->when = vfs_now_ns();
	old->text = copy;
	old->len = len;
	pthread_mutex_unlock(&xa_snap_lock);
}

/*
 * For a read (size > 0): req's caller's snapshot of (ino, name), if it is
 * fresh and fits size, handed over in *text (malloc'd) with its length
 * returned; else 0 (render afresh).  A length query takes none.
 */
static int
xa_snap_take(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size,
    char **text)
{
	struct xa_snap *sn;
	int i, n = 0;

	if (size == 0)
		return 0;
	pthread_mutex_lock(&xa_snap_lock);
	for (i = 0; i < XA_SNAPS; i++) {
		sn = &xa_snaps[i];
		if (sn->pid != fuse_req_ctx(req)->pid || sn->ino != ino ||
		    strcmp(sn->name, name) != 0)
			continue;
		if (vfs_now_ns() - sn->when < XA_SNAP_NS && sn->len <= size &&
		    sn->len > 0) {
			*text = sn->text;
			n = (int)sn->len;
			sn->text = NULL;
		}
		free(sn->text);
		memset(sn, 0, sizeof(*sn));
		break;
	}
	pthread_mutex_unlock(&xa_snap_lock);
	return n;
}

/* Reply with a derived value; a length query keeps it for the read. */
static void
xa_reply_derived(fuse_req_t req, fuse_ino_t ino, const char *name,
    const char *text, size_t len, size_t size)
{
	if (size == 0)
		xa_snap_put(req, ino, name, text, len);
	xa_reply_value(req, text, len, size);
}

void
xa_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct vnode *v;
	struct vxattr *x;
	struct vmo *vmo;
	enum vkind k;
	char buf[64], *text;
	int err = ENOTSUP, n;

	if (strncmp(name, "user.", 5) != 0)
		goto out_err;
	/* -o writeback_cache: the numbers count the kernel's dirty pages */
	err = EAGAIN;
	if (xa_reserved(name) && (ino == FUSE_ROOT_ID ||
	    VFS_INO_KIND(ino) == VK_DATA) && notify_flush_ino(ino) != 0)
		goto out_err;
	err = ENOENT;
	if (!(v = xa_node(ino, &k)))
		goto out_err;
	if (!xa_reserved(name)) {
		x = xa_find(&v->meta[k], name);
		if (x)
			xa_reply_value(req, x->value, x->len, size);
		vfs_unlock();
		if (x)
			return;
		err = ENODATA;
		goto out_err;
	}
	if (v == vfs.root && strcmp(name, XA_STATS) == 0) {
		uint64_t nv = vfs.nvnodes;

		vfs_unlock();
		if ((n = xa_snap_take(req, ino, name, size, &text)) == 0)
			n = xa_stats_text(&text, nv);
		if (n < 0) {
			err = -n;
			goto out_err;
		}
		xa_reply_derived(req, ino, name, text, (size_t)n, size);
		free(text);
		return;
	}
	vmo = k == VK_DATA && strncmp(name, XA_VMO, strlen(XA_VMO)) == 0 ?
	    vnode_vmo_get(v) : NULL;
	vfs_unlock();
	err = ENODATA;
	if (!vmo)
		goto out_err;
	if ((n = xa_snap_take(req, ino, name, size, &text)) == 0) {
		n = xa_vmo_value(vmo, name + strlen(XA_VMO), buf, sizeof(buf));
		text = n >= 0 ? strndup(buf, (size_t)n) : NULL;
		if (n >= 0 && !text)
			n = -ENOMEM;
	}
	vmo_unref(vmo);
	if (n < 0) {
		err = -n;
		goto out_err;
	}
	xa_reply_derived(req, ino, name, text, (size_t)n, size);
	free(text);
	return;
out_err:
	fuse_reply_err(req, err);
}

void
xa_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct vnode *v;
	struct vxattr *x;
	enum vkind k;
	size_t len = 0, n;
	char *buf, *p;
	int i;

	if (!(v = xa_node(ino, &k))) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (k == VK_DATA)
		for (i = 0; i < XV_NVALUES; i++)
			len += strlen(XA_VMO) + strlen(xa_values[i]) + 1;
	if (v == vfs.root)
		len += sizeof(XA_STATS);
	LIST_FOREACH(x, &v->meta[k].xattrs, link)
		len += strlen(x->name) + 1;
	if (size == 0 || size < len) {
		vfs_unlock();
		if (size == 0)
			fuse_reply_xattr(req, len);
		else
			fuse_reply_err(req, ERANGE);
		return;
	}
	if (!(p = buf = malloc(len + 1))) {
		vfs_unlock();
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (k == VK_DATA)
		for (i = 0; i < XV_NVALUES; i++)
			p += sprintf(p, "%s%s", XA_VMO, xa_values[i]) + 1;
	if (v == vfs.root)
		p += sprintf(p, "%s", XA_STATS) + 1;
	LIST_FOREACH(x, &v->meta[k].xattrs, link) {
		n = strlen(x->name) + 1;
		memcpy(p, x->name, n);
		p += n;
	}
	vfs_unlock();
	fuse_reply_buf(req, buf, len);
	free(buf);
}

void
xa_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct vnode *v;
	struct vxattr *x;
	enum vkind k;
	int err = ENOTSUP;

	if (strncmp(name, "user.", 5) != 0)
		goto out_err;
	err = ENOENT;
	if (!(v = xa_node(ino, &k)))
		goto out_err;
	if (xa_reserved(name)) {
		/* A listed read-only value: rsync -X removes what its source
		 * lacks; the value cannot go, so that is a no-op (issue #19). */
		err = xa_listed(v, k, name) ? 0 : EPERM;
		vfs_unlock();
		if (err)
			vfs_reject(req, "removexattr", name, err, "user.vmo.* and "
			    "user.vmofs.* are reserved: an action or value, not "
			    "a stored attribute");
		goto out_err;
	}
	x = xa_find(&v->meta[k], name);
	err = ENODATA;
	if (x) {
		LIST_REMOVE(x, link);
		free(x->name);
		free(x);
		vnode_touch(&v->meta[k], false);
		err = 0;
	}
	vfs_unlock();
out_err:
	fuse_reply_err(req, err);
}
