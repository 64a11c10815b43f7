/*
 * inode.c - the vnode table: one vnode per VMO (plus the root), found by
 * id from any of its six inode numbers (see vmofs.h for the encoding).
 *
 * Everything here is protected by vfs.ns_lock, one mutex for the whole
 * namespace.  Namespace operations are short (libvm calls made under it
 * are O(1): create, clone, slice, unref), and file I/O never takes it on
 * the hot path: an open data file pins its vnode and VMO (nopen > 0), so
 * read/write use fi->fh without the lock.
 *
 * Reference rules:
 *  - the kernel's lookup references are counted per inode in nlookup[]
 *    (every fuse_reply_entry adds one; FORGET drops n);
 *  - nopen counts open data file handles;
 *  - linked says the namespace still shows the VMO.
 * The VMO reference is dropped when !linked && nopen == 0 (vnode_release);
 * the vnode is freed when, in addition, every nlookup is 0.  Unmount may
 * send no FORGET: vnode_table_fini frees whatever is left.
 */
#include "vmofs.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int
vnode_cmp(const struct vnode *a, const struct vnode *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_GENERATE_STATIC(vnode_tree, vnode, tlink, vnode_cmp)
RB_GENERATE_STATIC(vnode_ids, vnode, sib, vnode_cmp)

static int
vnode_name_cmp(const struct vnode *a, const struct vnode *b)
{
	return strcmp(a->name, b->name);
}

RB_GENERATE_STATIC(vnode_names, vnode, nsib, vnode_name_cmp)

struct vnode *
vnode_kid(struct vnode *d, int i, const char *name)
{
	struct vnode key = { .name = (char *)name };

	vfs_assert_locked();
	return RB_FIND(vnode_names, &d->names[i], &key);
}

struct vnode *
vnode_kid_from(struct vnode *d, int i, uint64_t min_id)
{
	struct vnode key = { .id = min_id };

	vfs_assert_locked();
	return RB_NFIND(vnode_ids, &d->kids[i], &key);
}

struct vnode *
vnode_kid_next(struct vnode *c)
{
	vfs_assert_locked();
	return RB_NEXT(vnode_ids, NULL, c);
}

void
vfs_lock(void)
{
	pthread_mutex_lock(&vfs.ns_lock);
}

void
vfs_unlock(void)
{
	pthread_mutex_unlock(&vfs.ns_lock);
}

/* Assert the caller holds ns_lock (an error-checking mutex). */
void
vfs_assert_locked(void)
{
#ifndef NDEBUG
	/* trylock on an error-checking mutex we own returns EDEADLK. */
	int r = pthread_mutex_trylock(&vfs.ns_lock);

	if (r == 0) {
		pthread_mutex_unlock(&vfs.ns_lock);
		assert(!"vfs.ns_lock not held");
	}
	assert(r == EDEADLK || r == EBUSY);
#endif
}

static void
meta_init(struct vmeta *m, mode_t mode, uid_t uid, gid_t gid)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	m->mode = mode;
	m->uid = uid;
	m->gid = gid;
	m->atime = m->mtime = m->ctime = now;
	LIST_INIT(&m->xattrs);
}

void
vnode_touch(struct vmeta *m, bool mtime)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	m->ctime = now;
	if (mtime)
		m->mtime = now;
}

bool
vnode_shows(struct vnode *v, enum vkind k)
{
	vfs_assert_locked();
	return v->linked && !(v->removed & (1u << k));
}

/*
 * (N) refs/ is listed only while it holds a reference: few VMOs have one, and
 * a listed refs/ costs every rm -r of a VMO about five requests more
 * (READDIRPLUS, READDIR, RMDIR, GETATTR, FORGET; docs/benchmarks.md).
 * Unlisted it is still there for LOOKUP, stat, mkdir refs/R and rmdir.
 */
bool
vnode_listed(struct vnode *v, enum vkind k)
{
	return vnode_shows(v, k) &&
	    (k != VK_REFS || v->nkids[vnode_list(VK_REFS)] > 0);
}

/*
 * (N) refs/ of d just got its first reference or lost its last: d's
 * listing gained or lost it, and with it a link (vnode_fill_stat), but
 * the kernel saw a change in refs/, not in d.  It caches d's attributes
 * for the whole timeout, and without OPENDIR d's listing too, until d's
 * mtime changes (FOPEN_CACHE_DIR, ns.c).  So d's mtime moves and its
 * attributes are queued for invalidation; true if so (the caller's reply
 * waits: notify_settle).  test_refs test_ref_listing guards both.
 */
static bool
vnode_refs_toggled(struct vnode *d)
{
	vnode_touch(&d->meta[VK_DIR], true);
	if (d->nlookup[VK_DIR] == 0)
		return false;
	notify_attr_async(VFS_INO(d->id, VK_DIR));
	return true;
}

void
vnode_reshow(struct vnode *v, enum vkind k, mode_t mode,
    const struct fuse_ctx *ctx)
{
	struct vmeta *m = &v->meta[k];

	vfs_assert_locked();
	assert(v != vfs.root && (v->removed & (1u << k)));
	xa_free_list(&m->xattrs);
	meta_init(m, (m->mode & S_IFMT) | (mode & 07777), ctx->uid, ctx->gid);
	v->removed &= ~(1u << k);
	vnode_touch(&v->meta[VK_DIR], true);
}

/*
 * (N) Make a vnode for vmo (reference consumed; NULL for the root) named
 * name, its directory mode dmode, owned by ctx's caller.  Not yet linked.
 * NULL if out of memory (the VMO reference is then still the caller's).
 */
struct vnode *
vnode_new(struct vmo *vmo, const char *name, mode_t dmode,
    const struct fuse_ctx *ctx)
{
	struct vnode *v;
	uid_t uid = ctx ? ctx->uid : getuid();
	gid_t gid = ctx ? ctx->gid : getgid();
	mode_t perm = dmode & 07777;

	vfs_assert_locked();
	v = calloc(1, sizeof(*v));
	if (!v || !(v->name = strdup(name))) {
		free(v);
		return NULL;
	}
	v->id = vfs.next_id++;
	v->vmo = vmo;
	for (int i = 0; i < VNODE_NLISTS; i++) {
		RB_INIT(&v->kids[i]);
		RB_INIT(&v->names[i]);
	}
	meta_init(&v->meta[VK_DIR], S_IFDIR | perm, uid, gid);
	/* data takes the directory's rw bits, info its r bits. */
	meta_init(&v->meta[VK_DATA], S_IFREG | (perm & 0666), uid, gid);
	meta_init(&v->meta[VK_INFO], S_IFREG | (perm & 0444), uid, gid);
	meta_init(&v->meta[VK_CLONES], S_IFDIR | (perm & 0777), uid, gid);
	meta_init(&v->meta[VK_SLICES], S_IFDIR | (perm & 0777), uid, gid);
	meta_init(&v->meta[VK_REFS], S_IFDIR | (perm & 0777), uid, gid);
	RB_INSERT(vnode_tree, &vfs.table, v);
	vfs.nvnodes++;
	return v;
}

/* (N) The vnode with this id, or NULL. */
struct vnode *
vnode_get(uint64_t id)
{
	struct vnode key = { .id = id };

	vfs_assert_locked();
	return RB_FIND(vnode_tree, &vfs.table, &key);
}

/*
 * (N) Show v in parent's directory pdir (VK_DIR of the root, VK_CLONES,
 * VK_SLICES, VK_REFS): in its tree by id, which readdir walks and seeks in (its
 * cookies are ids, ns.c), and in its tree by name, which lookups search.
 * No other child of parent may have v's name.  True if the kernel's
 * attributes of parent's directory were queued for invalidation (its
 * first reference: refs/ is listed now, vnode_listed); the caller's reply
 * should wait for it (notify_settle).
 */
bool
vnode_link(struct vnode *parent, enum vkind pdir, struct vnode *v)
{
	int i = vnode_list(pdir);
	struct vnode *dup;

	vfs_assert_locked();
	assert(!v->linked);
	v->parent = parent == vfs.root ? NULL : parent;
	v->pdir = pdir;
	RB_INSERT(vnode_ids, &parent->kids[i], v);
	dup = RB_INSERT(vnode_names, &parent->names[i], v);
	assert(!dup);
	(void)dup;
	parent->nkids[i]++;
	v->linked = true;
	vnode_touch(&parent->meta[pdir], true);
	return pdir == VK_REFS && parent->nkids[i] == 1 &&
	    vnode_refs_toggled(parent);
}

static struct vnode *
vnode_container(struct vnode *v)
{
	return v->parent ? v->parent : vfs.root;
}

void
vnode_rename(struct vnode *v, char *name)
{
	struct vnode *c = vnode_container(v), *dup;
	int i = vnode_list(v->pdir);

	vfs_assert_locked();
	assert(v->linked);
	RB_REMOVE(vnode_names, &c->names[i], v);
	free(v->name);
	v->name = name;
	dup = RB_INSERT(vnode_names, &c->names[i], v);
	assert(!dup);
	(void)dup;
}

/*
 * (N) The data inode whose st_blocks counts v's pages: v's, or for a slice
 * or a reference its root's or target's (their pages are those; their own
 * st_blocks is 0).
 * What changes them behind the kernel: a clone of v, made and ended (the
 * pages of the owner's own node move to the hidden node above it, and
 * back), and commit, pin, prefetch and alwaysneed through xattrs.  0 if the kernel
 * caches nothing of it.
 */
fuse_ino_t
vnode_page_owner(struct vnode *v)
{
	while ((v->pdir == VK_SLICES || v->pdir == VK_REFS) && v->parent)
		v = v->parent;
	if (v->nlookup[VK_DATA] == 0 && v->nopen == 0)
		return 0;
	return VFS_INO(v->id, VK_DATA);
}

int
vnode_reject(fuse_req_t req, const char *op, struct vnode *v, int err,
    const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vfs_lock();	/* v->name is (N) */
	vfs_reject(req, op, v->name, err, "%s", why);
	vfs_unlock();
	return err;
}

/*
 * (N) Drop the VMO once nothing can reach it any more.  The end of a clone
 * hands its hidden node's pages back to its source: the kernel's copy of
 * that one's st_blocks is stale (queued here; ns_rmdir waits for it).
 */
static void
vnode_release(struct vnode *v)
{
	vfs_assert_locked();
	if (v->linked || v->nopen || !v->vmo)
		return;
	vmo_unref(v->vmo);
	v->vmo = NULL;
	if (v->cow_stale)
		notify_attr_async(v->cow_stale);
}

/*
 * (N) Remove v from the namespace (it must have no linked children).
 * True as for vnode_link: v was its parent's last reference.
 */
bool
vnode_unlink(struct vnode *v)
{
	struct vnode *c = vnode_container(v);
	int i = vnode_list(v->pdir);
	bool queued;

	vfs_assert_locked();
	assert(v->linked && !v->nkids[0] && !v->nkids[1] && !v->nkids[2]);
	RB_REMOVE(vnode_ids, &c->kids[i], v);
	RB_REMOVE(vnode_names, &c->names[i], v);
	c->nkids[i]--;
	v->linked = false;
	/* the source may be gone by the time an open clone is closed */
	if (v->pdir == VK_CLONES)
		v->cow_stale = vnode_page_owner(c);
	vnode_touch(&c->meta[v->pdir], true);
	queued = v->pdir == VK_REFS && c->nkids[i] == 0 &&
	    vnode_refs_toggled(c);
	vnode_release(v);
	return queued;
}

static void
vnode_free(struct vnode *v)
{
	int k;

	if (v->group) {
		TAILQ_REMOVE(&v->group->list, v, glink);
		if (--v->group->members == 0)
			free(v->group);
		v->group = NULL;
	}
	for (k = 0; k < VK_NKINDS; k++)
		xa_free_list(&v->meta[k].xattrs);
	RB_REMOVE(vnode_tree, &vfs.table, v);
	vfs.nvnodes--;
	free(v->name);
	/* Poison: a use after free shows up at once. */
	memset(v, 0x6b, sizeof(*v));
	free(v);
}

/*
 * (N) Drop v's VMO if it is unlinked and not open, and free v if in
 * addition the kernel holds no reference to any of its inodes.
 */
void
vnode_maybe_free(struct vnode *v)
{
	int k;

	vfs_assert_locked();
	if (v == vfs.root)
		return;
	vnode_release(v);
	if (v->linked || v->nopen)
		return;
	for (k = 0; k < VK_NKINDS; k++)
		if (v->nlookup[k])
			return;
	assert(!v->vmo);
	vnode_free(v);
}

/* (N) The kernel got one more reference to inode (v, k). */
void
vnode_lookup_ref(struct vnode *v, enum vkind k)
{
	vfs_assert_locked();
	v->nlookup[k]++;
}

/* FORGET: drop n of the kernel's references to ino. */
void
vnode_forget(fuse_ino_t ino, uint64_t n)
{
	struct vnode *v;
	enum vkind k = VFS_INO_KIND(ino);

	vfs_lock();
	v = vnode_get(VFS_INO_ID(ino));
	if (v && v != vfs.root && k > 0 && k < VK_NKINDS) {
		assert(v->nlookup[k] >= n);
		v->nlookup[k] = v->nlookup[k] >= n ? v->nlookup[k] - n : 0;
		vnode_maybe_free(v);
	}
	vfs_unlock();
}

/* (N) v's VMO with a new reference for the caller, or NULL if released. */
struct vmo *
vnode_vmo_get(struct vnode *v)
{
	vfs_assert_locked();
	if (v->vmo)
		vmo_ref(v->vmo);
	return v->vmo;
}

/*
 * The facts of a data file that come from the VMO: size, and blocks =
 * the pages its own node holds (O(1), unlike vmo_get_attr).
 */
void
vnode_stat_vmo(struct vmo *vmo, struct stat *st)
{
	st->st_size = (off_t)vmo_size(vmo);
	st->st_blocks = (blkcnt_t)(vmo_blocks_bytes(vmo) / 512);
}

/*
 * Restoring a copy (issue #19).  info and the read-only user.vmo.* values
 * are derived from the VMO, and backup tools copy them out like any file
 * or xattr; when they put a copy back they write them again.  Such a
 * write is accepted and dropped (the value stays what the VMO says) when
 * it has the form the value has -- anything else is not a restore and is
 * refused.  The forms: a kind name for kind, a decimal number (1-20
 * digits) for the others; info, lines "key: value\n" of info's keys.
 */
static const char *const info_keys[] = {	/* vnode_info_text's order */
	"id", "kind", "parent", "size", "committed", "populated", "private",
	"scaled", "pinned", "children",
};

bool
vnode_value_form(const char *key, const char *val, size_t len)
{
	static const char *const kinds[] = { "anonymous", "pager", "clone",
		"slice", "reference" };
	size_t i;

	if (strcmp(key, "kind") == 0) {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (len == strlen(kinds[i]) && memcmp(val, kinds[i], len) == 0)
				return true;
		return false;
	}
	if (strcmp(key, "lock_state") == 0) {	/* xattr.c: "none", or
						 * "STATE locks=N discarded=D" */
		static const char *const st[] = { "none", "locked ",
			"discarded ", "new ", "unlocked " };

		for (i = 0; i < sizeof(st) / sizeof(st[0]); i++)
			if (len >= strlen(st[i]) && memcmp(val, st[i],
			    strlen(st[i])) == 0)
				return i > 0 || len == 4;
		return false;
	}
	if (len == 0 || len > 20)
		return false;
	for (i = 0; i < len; i++)
		if (val[i] < '0' || val[i] > '9')
			return false;
	return true;
}

bool
vnode_info_form(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl, *colon;
	size_t i;

	if (len == 0)
		return false;
	for (; p < end; p = nl + 1) {
		if (!(nl = memchr(p, '\n', (size_t)(end - p))) ||
		    !(colon = memchr(p, ':', (size_t)(nl - p))) ||
		    colon + 2 > nl || colon[1] != ' ')
			return false;
		for (i = 0; i < sizeof(info_keys) / sizeof(info_keys[0]); i++)
			if ((size_t)(colon - p) == strlen(info_keys[i]) &&
			    memcmp(p, info_keys[i], (size_t)(colon - p)) == 0)
				break;
		if (i == sizeof(info_keys) / sizeof(info_keys[0]) ||
		    !vnode_value_form(info_keys[i], colon + 2,
		    (size_t)(nl - colon - 2)))
			return false;
	}
	return true;
}

/* Render the info file (SPEC 4): returns its length (may exceed size). */
int
vnode_info_text(struct vmo *vmo, char *buf, size_t size)
{
	struct vmo_attr a;

	memset(&a, 0, sizeof(a));
	vmo_get_attr(vmo, &a);
	return snprintf(buf, size,
	    "id: %llu\nkind: %s\nparent: %llu\nsize: %llu\ncommitted: %llu\n"
	    "populated: %llu\nprivate: %llu\nscaled: %llu\npinned: %llu\n"
	    "children: %llu\n",
	    (unsigned long long)vmo_id(vmo), vmo_kind_name(vmo_kind(vmo)),
	    (unsigned long long)vmo_parent_id(vmo),
	    (unsigned long long)vmo_size(vmo),
	    (unsigned long long)a.committed, (unsigned long long)a.populated,
	    (unsigned long long)a.private_bytes, (unsigned long long)a.scaled,
	    (unsigned long long)a.pinned,
	    (unsigned long long)vmo_children(vmo));
}

/*
 * (N) Fill st for inode (v, k) from the vnode only.  Data size/blocks and
 * info size come from the VMO: callers add them with vnode_stat_vmo
 * outside the lock (vmo_get_attr walks pages).
 */
void
vnode_fill_stat(struct vnode *v, enum vkind k, struct stat *st)
{
	struct vmeta *m = &v->meta[k];

	vfs_assert_locked();
	memset(st, 0, sizeof(*st));
	st->st_ino = VFS_INO(v->id, k);
	st->st_mode = m->mode;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_atim = m->atime;
	st->st_mtim = m->mtime;
	st->st_ctim = m->ctime;
	st->st_blksize = VFS_PAGE;
	switch (k) {
	case VK_DIR:
		if (v == vfs.root)
			st->st_nlink = 2 + v->nkids[0];
		else
			/* 2 + the subdirectories its listing has (find's
			 * leaf optimisation counts on that): not an
			 * unlisted refs/ */
			st->st_nlink = v->linked ? 2 + vnode_listed(v, VK_CLONES) +
			    vnode_listed(v, VK_SLICES) + vnode_listed(v, VK_REFS) : 0;
		break;
	case VK_CLONES:
	case VK_SLICES:
	case VK_REFS:
		st->st_nlink = vnode_shows(v, k) ? 2 + v->nkids[vnode_list(k)] : 0;
		break;
	default:
		st->st_nlink = vnode_shows(v, k) ? 1 : 0;
		break;
	}
}

/* (N) Entry for inode (v, k); does not take the lookup reference. */
void
vnode_fill_entry(struct vnode *v, enum vkind k, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = VFS_INO(v->id, k);
	e->generation = 0;
	e->attr_timeout = k == VK_INFO ? 0 : vfs.timeout;
	e->entry_timeout = vfs.timeout;
	vnode_fill_stat(v, k, &e->attr);
}

/*
 * Reply with the entry (v, k), taking a lookup reference.  Called with
 * ns_lock held, and v's VMO (if any) referenced by the caller so its size
 * can be read; the lock is dropped around the reply and retaken.  If the
 * reply fails (the caller was interrupted) the reference is given back.
 * flags: VR_VOLATILE, the kernel's name for it is not the real one (mkdir
 * "C@RANGE" makes "C"), so the dentry must not be cached; VR_SETTLE, the
 * notifications queued so far are done before the reply (a new clone's
 * source: its st_blocks changed, and a stat right after mkdir must see it).
 */
int
vnode_reply_entry(fuse_req_t req, struct vnode *v, enum vkind k,
    unsigned flags)
{
	struct fuse_entry_param e;
	struct vmo *vmo = NULL;
	int r;

	vfs_assert_locked();
	vnode_fill_entry(v, k, &e);
	if (flags & VR_VOLATILE)
		e.entry_timeout = 0;
	if (k == VK_DATA || k == VK_INFO)
		vmo = vnode_vmo_get(v);
	vnode_lookup_ref(v, k);
	vfs_unlock();
	if (vmo) {
		if (k == VK_DATA) {
			vnode_stat_vmo(vmo, &e.attr);
		} else {
			char buf[512];

			e.attr.st_size = vnode_info_text(vmo, buf, sizeof(buf));
		}
		vmo_unref(vmo);
	}
	if (flags & VR_SETTLE)
		notify_settle();
	r = fuse_reply_entry(req, &e);
	vfs_lock();
	if (r != 0) {
		v->nlookup[k]--;
		vnode_maybe_free(v);
	}
	return r;
}

int
vnode_table_init(void)
{
	pthread_mutexattr_t ma;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&vfs.ns_lock, &ma);
	pthread_mutexattr_destroy(&ma);
	RB_INIT(&vfs.table);
	TAILQ_INIT(&vfs.wcached);
	vfs.next_id = 0;
	vfs_lock();
	vfs.root = vnode_new(NULL, "", 0755, NULL);
	if (vfs.root) {
		vfs.root->linked = true;
		vfs.root->meta[VK_DIR].mode = S_IFDIR | 0755;
	}
	vfs_unlock();
	return vfs.root ? 0 : -ENOMEM;
}

/* Drop v's subtree, children first, so each VMO dies after its clones. */
static void
vnode_destroy_tree(struct vnode *v)
{
	struct vnode *c;
	int i;

	for (i = 0; i < VNODE_NLISTS; i++) {
		while ((c = RB_MIN(vnode_ids, &v->kids[i])) != NULL) {
			vnode_destroy_tree(c);
		}
	}
	if (v == vfs.root)
		return;
	v->nopen = 0;
	memset(v->nlookup, 0, sizeof(v->nlookup));
	vnode_unlink(v);
	vnode_maybe_free(v);
}

/* At unmount: free everything, whatever the kernel still referenced. */
void
vnode_table_fini(void)
{
	struct vnode *v, *n;

	vfs_lock();
	vnode_destroy_tree(vfs.root);
	RB_FOREACH_SAFE(v, vnode_tree, &vfs.table, n) {
		if (v == vfs.root)
			continue;
		v->nopen = 0;
		memset(v->nlookup, 0, sizeof(v->nlookup));
		vnode_maybe_free(v);
	}
	vnode_free(vfs.root);
	vfs.root = NULL;
	vfs_unlock();
	pthread_mutex_destroy(&vfs.ns_lock);
}
