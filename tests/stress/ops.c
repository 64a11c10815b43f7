/*
 * ops.c - what a vmofs-stress worker does: one random operation at a
 * time through the mount, each answer checked against the model.
 *
 * Every op has the same shape: pick a VMO (mv_pick: it cannot be removed
 * or renamed until mv_put), take its owner's lock (shared to look, exclusive
 * to change), log what it is about to do, issue the syscalls, compare the
 * answer with what SPEC and docs/semantics.md say (errno included), apply
 * the effect to the model, unlock.  A mismatch calls fail(), which records
 * the first failure of the run; the worker then stops.
 *
 * Answers the model cannot predict exactly, and how they are judged:
 *  - ENOSPC, or a short write, on an anonymous mount: allowed only when
 *    the pages the VMOs may hold come near the limit (enospc_ok); never
 *    on a backed mount, where the tester keeps the unreclaimable part
 *    (clones' bytes, pins) under a quarter of the limit;
 *  - a failed msync there: each byte the daemon holds (read O_DIRECT,
 *    past the page cache) must be old or new; the kernel may still show
 *    the new bytes from its cache until something drops it, so the range
 *    becomes unknown in the model (reads skip it) until a write, zero or
 *    truncate covers it again; a clone copies the unknown ranges;
 *  - EBUSY from shrinking an owner right after one of its slices was
 *    removed: the kernel sends RELEASE after close() returns, so a slice
 *    closed just before its rmdir may live on for a moment; retried for
 *    up to 2 s, then a failure;
 *  - user.vmo.* ranges follow docs/semantics.md's table (round out,
 *    EINVAL for an empty pin and an unaligned decommit, zero byte exact);
 *    a decommit ending unaligned at a slice's end: EINVAL or exact;
 *  - an O_DIRECT write that the daemon answers short (through a slice,
 *    across its end): the kernel turns a short asynchronous direct write
 *    into EIO (fuse_get_res_by_io; libfuse asks for async DIO), EFBIG
 *    when a later piece starts past the end; the bytes up to the end are
 *    written all the same.  On a mount near its limit such a write is not
 *    sent O_DIRECT, and if it fails anyway the range is judged as after
 *    a failed msync.
 */
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MIB	(1024ull * 1024)

/* ---- op log --------------------------------------------------------- */

void
lg(struct worker *w, const char *fmt, ...)
{
	char *e = w->log[w->logpos % LOGN];
	va_list ap;
	int n;

	n = snprintf(e, LOGW, "#%" PRIu64 " ", w->opno);
	va_start(ap, fmt);
	vsnprintf(e + n, LOGW - (size_t)n, fmt, ap);
	va_end(ap);
	w->logpos++;
}

/* Append to the entry lg made last. */
void
lg_more(struct worker *w, const char *fmt, ...)
{
	char *e = w->log[(w->logpos + LOGN - 1) % LOGN];
	size_t l = strlen(e);
	va_list ap;

	if (l + 2 >= LOGW)
		return;
	va_start(ap, fmt);
	vsnprintf(e + l, LOGW - l, fmt, ap);
	va_end(ap);
}

/* ---- helpers -------------------------------------------------------- */

static const char *
ename(int e)
{
	static const struct { int e; const char *n; } t[] = {
		{ 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
		{ EIO, "EIO" }, { EBADF, "EBADF" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" },
		{ EXDEV, "EXDEV" }, { ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" }, { EFBIG, "EFBIG" }, { ENOSPC, "ENOSPC" },
		{ ERANGE, "ERANGE" }, { ENODATA, "ENODATA" },
		{ ENOTEMPTY, "ENOTEMPTY" }, { ENOTSUP, "ENOTSUP" },
		{ ENOTCONN, "ENOTCONN" }, { ECONNABORTED, "ECONNABORTED" },
		{ ENOSYS, "ENOSYS" }, { EINTR, "EINTR" }, { EAGAIN, "EAGAIN" },
	};
	static __thread char buf[16];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

const char *errno_name(int e);
const char *
errno_name(int e)
{
	return ename(e);
}

static void
count(struct worker *w, int e)
{
	w->nerr[e > 0 && e < NERR ? e : e == 0 ? 0 : NERR - 1]++;
}

/* The connection is gone: the daemon died or was aborted. */
static bool
dead(int e)
{
	return e == ENOTCONN || e == ECONNABORTED;
}

/*
 * Judge an answer: got (0 or an errno) against want; ENOSPC also passes
 * when enospc says it may.  Logs the answer; false (after fail) if wrong.
 */
static bool
judge(struct worker *w, const char *what, int got, int want, bool enospc)
{
	lg_more(w, " -> %s", ename(got));
	count(w, got);
	if (got == want)
		return true;
	if (got == ENOSPC && enospc && enospc_ok()) {
		if (PH->backed)
			atomic_fetch_add(&backed_enospc_seen, 1);
		return true;
	}
	if (dead(got))
		fail(w, "%s: %s: the daemon is gone", what, ename(got));
	else
		fail(w, "%s: got %s, expected %s%s", what, ename(got),
		    ename(want), got == ENOSPC ? (PH->backed ?
		    " (ENOSPC on a backed mount)" : " (ENOSPC far from the limit)")
		    : "");
	return false;
}

static const char *
mp(struct worker *w, const char *rel, const char *tail)
{
	snprintf(w->path2, sizeof(w->path2), "%s/%s%s", MNT, rel, tail);
	return w->path2;
}

/* Data path of the picked VMO (w->path). */
static const char *
datap(struct worker *w)
{
	static __thread char b[1100];

	snprintf(b, sizeof(b), "%s/%s/data", MNT, w->path);
	return b;
}

/* A RANGE value, written in one of the grammar's forms. */
static void
fmt_range(struct worker *w, char *b, size_t l, uint64_t off, uint64_t len)
{
	unsigned k = (unsigned)rnd_below(w, 4);

	if (k == 1 && off % 1024 == 0 && len % 1024 == 0 && len)
		snprintf(b, l, "%" PRIu64 "K+%" PRIu64 "K", off / 1024, len / 1024);
	else if (k == 2)
		snprintf(b, l, "0x%" PRIx64 "+0x%" PRIx64, off, len);
	else
		snprintf(b, l, "%" PRIu64 "+%" PRIu64, off, len);
}

/*
 * Fill n bytes meant for offset off: mostly "tagged" cells (8 bytes at an
 * 8-aligned file offset hold the worker, the op number and the cell index,
 * so stale bytes in a failed read say which op wrote them), else short
 * repeated runs (LZ4 shrinks them: compress has work), random, or zero.
 */
static void
fill(struct worker *w, unsigned char *b, uint64_t off, size_t n)
{
	unsigned k = (unsigned)rnd_below(w, 100), rl;
	uint64_t o, r = 0, tag;
	size_t i;

	if (k < 60) {
		tag = ((uint64_t)(w->id + 1) << 56) |
		    ((w->opno & 0xffffffffffull) << 16);
		for (i = 0; i < n; i++) {
			o = off + i;
			b[i] = (unsigned char)((tag | ((o / 8) & 0xffff)) >>
			    (8 * (o % 8)));
		}
	} else if (k < 85) {
		rl = 1 + (unsigned)rnd_below(w, 64);
		for (i = 0; i < n && i < rl; i++)
			b[i] = (unsigned char)rnd(w);
		for (; i < n; i++)
			b[i] = b[i - rl];
	} else if (k < 95) {
		for (i = 0; i < n; i++) {
			if (i % 8 == 0)
				r = rnd(w);
			b[i] = (unsigned char)(r >> (8 * (i % 8)));
		}
	} else {
		memset(b, 0, n);
	}
}

/* Describe the 8-byte cell at off of b, which holds [boff, boff+n):
 * which op wrote it, if tagged. */
static void
cell(char *out, size_t l, const unsigned char *b, uint64_t off, uint64_t boff,
    size_t n)
{
	uint64_t a = off & ~7ull, v = 0;
	int i;

	if (a < boff || a + 8 > boff + n) {
		snprintf(out, l, "byte %02x", b[off - boff]);
		return;
	}
	for (i = 0; i < 8; i++)
		v |= (uint64_t)b[a - boff + (uint64_t)i] << (8 * i);
	if (v >> 56 && v >> 56 <= 64 && (v & 0xffff) == ((a / 8) & 0xffff))
		snprintf(out, l, "%016" PRIx64 " (tagged: worker %d op #%" PRIu64 ")",
		    v, (int)(v >> 56) - 1, (uint64_t)((v >> 16) & 0xffffffffffull));
	else
		snprintf(out, l, "%016" PRIx64, v);
}

/*
 * Compare what the daemon gave (got, n bytes read at off of v) with the
 * model.  Owner lock held.  false after fail().
 */
static bool
check_view(struct worker *w, struct mvmo *v, const char *how, uint64_t off,
    const unsigned char *got, size_t n)
{
	uint64_t first = UINT64_MAX, last = 0, bad = 0, i;
	char ce[96], cg[96];

	mv_view(v, off, n, w->buf2);
	mv_mask_unknown(v, off, n, w->buf2, got);
	if (memcmp(w->buf2, got, n) == 0)
		return true;
	for (i = 0; i < n; i++)
		if (w->buf2[i] != got[i]) {
			if (first == UINT64_MAX)
				first = i;
			last = i;
			bad++;
		}
	cell(ce, sizeof(ce), w->buf2, off + first, off, n);
	cell(cg, sizeof(cg), got, off + first, off, n);
	fail(w, "%s %s: %" PRIu64 " of %zu bytes differ in [%" PRIu64 ", %"
	    PRIu64 "] (first at %" PRIu64 ", page %" PRIu64 "); expected cell "
	    "%s, got %s; model size %" PRIu64, how, w->path, bad, n,
	    off + first, off + last, off + first, (off + first) / P, ce, cg,
	    mv_vsize(v));
	return false;
}

static ssize_t
pread_full(int fd, unsigned char *b, size_t len, off_t off)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, b + got, len - got, off + (off_t)got);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* A length: mostly small, sometimes across the 1 MiB request size. */
static size_t
pick_len(struct worker *w, uint64_t max)
{
	unsigned k = (unsigned)rnd_below(w, 100);
	uint64_t l;

	if (k < 35)
		l = 1 + rnd_below(w, 4096);
	else if (k < 50)
		l = P * (1 + rnd_below(w, 16));
	else if (k < 75)
		l = 1 + rnd_below(w, 65536);
	else if (k < 92)
		l = 65536 + rnd_below(w, 196608);
	else
		l = 256 * 1024 + rnd_below(w, MIB);
	return (size_t)(l < max ? l : max);
}

/* An offset for an op on a file of size vs that may go up to max. */
static uint64_t
pick_off(struct worker *w, uint64_t vs, uint64_t max)
{
	unsigned k = (unsigned)rnd_below(w, 100);
	uint64_t o;

	if (k < 55)
		o = rnd_below(w, vs + 1);
	else if (k < 80)
		o = PGDN(rnd_below(w, vs + P)) + (chance(w, 50) ? 0 :
		    rnd_below(w, 64));
	else if (k < 90)
		o = vs ? vs - rnd_below(w, vs < 100 ? vs + 1 : 100) : 0;
	else
		o = vs + rnd_below(w, 262144);
	return o < max ? o : max > 0 ? rnd_below(w, max) : 0;
}

/* Backed mounts: growing a clone by grow bytes keeps clones in budget. */
static bool
clone_room(const struct mvmo *v, uint64_t oldsize, uint64_t newsize)
{
	if (!PH->backed || v->owner->kind != MK_CLONE || newsize <= oldsize)
		return true;
	return (uint64_t)atomic_load(&clone_bytes) + (newsize - oldsize) <=
	    PH->limit / 4;
}

static int
xget(const char *path, const char *name, char *buf, size_t len)
{
	ssize_t n = getxattr(path, name, buf, len - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

/* user.vmo.NAME of path as a number; false (after fail) on error. */
static bool
xget_u64(struct worker *w, const char *path, const char *name, uint64_t *v)
{
	char b[64], *end;
	int n = xget(path, name, b, sizeof(b));

	if (n < 0) {
		fail(w, "getxattr %s %s: %s", path, name, ename(-n));
		return false;
	}
	*v = strtoull(b, &end, 10);
	if (n == 0 || *end != '\0') {
		fail(w, "getxattr %s %s: '%s' is not a number", path, name, b);
		return false;
	}
	return true;
}

/* (T) Fill v->id after its mkdir. */
static bool
read_id(struct worker *w, struct mvmo *v, const char *dir)
{
	char p[1100];
	uint64_t pid;

	snprintf(p, sizeof(p), "%s/data", dir);
	if (!xget_u64(w, p, "user.vmo.id", &v->id))
		return false;
	if (!xget_u64(w, p, "user.vmo.parent", &pid))
		return false;
	if (v->parent && pid != v->parent->id && pid != v->owner->id) {
		fail(w, "%s: user.vmo.parent %" PRIu64 ", expected %" PRIu64
		    " (its parent)", dir, pid, v->parent->id);
		return false;
	}
	if (!v->parent && pid != 0) {
		fail(w, "%s: top-level VMO with user.vmo.parent %" PRIu64, dir, pid);
		return false;
	}
	return true;
}

/*
 * A new entry is created: LIVE, unless a subtree op owns its parent (it
 * marked the subtree BUSY while the creator held the parent): then the
 * new entry belongs to that op too, or another op could pick it while
 * the subtree is being removed or renamed.
 */
static void
publish(struct mvmo *v)
{
	pthread_mutex_lock(&tab_lock);
	v->state = v->parent && v->parent->state == MS_BUSY ? MS_BUSY : MS_LIVE;
	pthread_mutex_unlock(&tab_lock);
}

static void
set_state(struct mvmo *v, enum mstate s)
{
	pthread_mutex_lock(&tab_lock);
	v->state = s;
	pthread_mutex_unlock(&tab_lock);
}

static void
drop_new(struct mvmo *v)
{
	pthread_mutex_lock(&tab_lock);
	mv_free(v);
	pthread_mutex_unlock(&tab_lock);
}

/* Backed: the host file of top-level VMO o equals its model. */
static bool
check_host_file(struct worker *w, struct mvmo *o, const char *why)
{
	char p[600];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", PH->bkdir, o->name);
	fd = open(p, O_RDONLY);
	if (fd < 0) {
		fail(w, "%s: backing file %s: %s", why, p, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != o->size) {
		fail(w, "%s: backing file %s has %lld bytes, the VMO %" PRIu64,
		    why, p, (long long)st.st_size, o->size);
		close(fd);
		return false;
	}
	n = pread_full(fd, w->buf, o->size, 0);
	close(fd);
	if (n != (ssize_t)o->size) {
		fail(w, "%s: read backing file %s: %zd", why, p, n);
		return false;
	}
	if (o->size && memcmp(w->buf, o->buf, o->size) != 0) {
		uint64_t i = 0;

		while (w->buf[i] == o->buf[i])
			i++;
		fail(w, "%s: backing file %s differs from the VMO at byte %"
		    PRIu64 " (page %" PRIu64 ")", why, p, i, i / P);
		return false;
	}
	return true;
}

/* ---- namespace ops ---------------------------------------------------- */

static void
op_mktop(struct worker *w)
{
	struct mvmo *v;
	char name[40], dir[1100];
	int e;

	snprintf(name, sizeof(name), "v%d.%u", w->id, w->seq++);
	pthread_mutex_lock(&tab_lock);
	v = ntab < PH->max_vmos ? mv_new(MK_TOP, NULL, name) : NULL;
	pthread_mutex_unlock(&tab_lock);
	if (!v)
		return;
	snprintf(dir, sizeof(dir), "%s/%s", MNT, name);
	lg(w, "mkdir %s", name);
	e = mkdir(dir, 0755) == 0 ? 0 : errno;
	if (!judge(w, "mkdir", e, 0, false)) {
		drop_new(v);
		return;
	}
	if (!read_id(w, v, dir)) {
		drop_new(v);
		return;
	}
	if (PH->backed) {
		struct stat st;
		char p[600];

		snprintf(p, sizeof(p), "%s/%s", PH->bkdir, name);
		if (stat(p, &st) != 0 || st.st_size != 0)
			fail(w, "mkdir %s: no empty backing file %s", name, p);
	}
	publish(v);
}

/* mkdir V/clones/C[~modified][@RANGE]. */
static void
op_clone(struct worker *w, bool ranged)
{
	struct mvmo *v, *c;
	char name[40], rs[64], dir[1200];
	const char *kind;
	uint64_t vs, off = 0, len;
	bool pinned_src;
	int e;

	if (mv_count(0xff) >= PH->max_vmos)
		return;
	v = mv_pick(w, PK_SHALLOW);
	if (!v)
		return;
	pthread_rwlock_rdlock(mv_olock(v));
	vs = mv_vsize(v);
	len = vs;
	if (ranged) {
		off = PGDN(pick_off(w, vs, PH->max_size));
		len = chance(w, 20) ? P * (1 + rnd_below(w, 8)) :
		    1 + rnd_below(w, PH->max_size);
		if (chance(w, 30) && off < vs)
			len = vs - off;
	}
	if (len > PH->max_size || (PH->backed &&
	    (uint64_t)atomic_load(&clone_bytes) + len > PH->limit / 4))
		goto out;
	snprintf(name, sizeof(name), "c%d.%u", w->id, w->seq++);
	/* ~modified is a snapshot on vmofs (docs/semantics.md, "Clone
	 * kinds"): the same model, through the kind's name */
	kind = chance(w, 20) ? "~modified" : "";
	if (ranged) {
		fmt_range(w, rs, sizeof(rs), off, len);
		snprintf(dir, sizeof(dir), "%s/%s/clones/%s%s@%s", MNT, w->path, name,
		    kind, rs);
	} else {
		snprintf(dir, sizeof(dir), "%s/%s/clones/%s%s", MNT, w->path, name, kind);
	}
	pthread_mutex_lock(&tab_lock);
	c = mv_new(MK_CLONE, v, name);
	pthread_mutex_unlock(&tab_lock);
	if (!c)
		goto out;
	lg(w, "clone %s (view size %" PRIu64 ")", dir + strlen(MNT) + 1, vs);
	/* a clone copies the source's pinned pages (pins never live in hidden
	 * nodes, cow.c): anonymous, unevictable memory, which a backed mount
	 * may lack -- then ENOSPC is an answer, not a lost write */
	pinned_src = PH->backed && mv_any_pinned(v, 0, PGUP(vs) / P);
	atomic_fetch_add(&inflight_pages, 4);
	e = mkdir(dir, 0755) == 0 ? 0 : errno;
	atomic_fetch_sub(&inflight_pages, 4);
	if (e == ENOSPC && pinned_src) {
		lg_more(w, " -> ENOSPC (backed, the source's pins are copied)");
		count(w, e);
		drop_new(c);
		goto out;
	}
	if (!judge(w, "mkdir clone", e, 0, true) || e) {
		drop_new(c);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/%s/clones/%s", MNT, w->path, name);
	mv_clone_from(c, v, off, len);
	if (!read_id(w, c, dir)) {
		drop_new(c);
		goto out;
	}
	publish(c);
out:
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

/* mkdir V/slices/S@RANGE, valid or not. */
static void
op_slice(struct worker *w)
{
	struct mvmo *v, *s;
	char name[40], rs[64], dir[1200];
	uint64_t vs, top, off, len;
	int e, want = 0, bad;

	if (mv_count(0xff) >= PH->max_vmos)
		return;
	v = mv_pick(w, PK_SHALLOW);
	if (!v)
		return;
	pthread_rwlock_wrlock(mv_olock(v));
	vs = mv_vsize(v);
	top = PGUP(vs);
	off = top ? PGDN(rnd_below(w, top)) : 0;
	len = top > off ? 1 + rnd_below(w, top - off) : 0;
	bad = chance(w, 12) ? 1 + (int)rnd_below(w, 4) : 0;
	if (len == 0 && !bad)
		bad = 2;
	switch (bad) {
	case 1: off += 1 + rnd_below(w, P - 1); break;	/* unaligned */
	case 2: len = 0; break;
	case 3: len = top - off + 1 + rnd_below(w, 3 * P); break; /* past */
	}
	if (bad)
		want = EINVAL;
	snprintf(name, sizeof(name), "s%d.%u", w->id, w->seq++);
	fmt_range(w, rs, sizeof(rs), off, len);
	if (bad == 4)
		snprintf(dir, sizeof(dir), "%s/%s/slices/%s", MNT, w->path, name);
	else
		snprintf(dir, sizeof(dir), "%s/%s/slices/%s@%s", MNT, w->path,
		    name, rs);
	pthread_mutex_lock(&tab_lock);
	s = mv_new(MK_SLICE, v, name);
	pthread_mutex_unlock(&tab_lock);
	if (!s)
		goto out;
	lg(w, "slice %s (view size %" PRIu64 ")", dir + strlen(MNT) + 1, vs);
	e = mkdir(dir, 0755) == 0 ? 0 : errno;
	if (!judge(w, "mkdir slice", e, want, false) || e) {
		drop_new(s);
		goto out;
	}
	s->soff = (v->kind == MK_SLICE ? v->soff : 0) + off;
	s->slen = len;
	snprintf(dir, sizeof(dir), "%s/%s/slices/%s", MNT, w->path, name);
	if (!read_id(w, s, dir)) {
		drop_new(s);
		goto out;
	}
	v->owner->nslices++;
	publish(s);
out:
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

/* (T) Is a in the subtree of r (r itself included)? */
static bool
in_subtree(const struct mvmo *a, const struct mvmo *r)
{
	for (; a; a = a->parent)
		if (a == r)
			return true;
	return false;
}

/*
 * Own the subtree of v (which the caller picked): mark it BUSY, drop the
 * caller's use of v, and wait until no op holds any member and none is
 * being created.  false, with v put back, if another subtree op holds
 * part of it.  Fills list with the members, deepest first (post-order).
 */
static bool
own_subtree(struct worker *w, struct mvmo *v, struct mvmo **list, int *n)
{
	bool ok;
	int i, k;

	pthread_mutex_lock(&tab_lock);
	for (i = 0; i < MAXV; i++)
		if (tab[i] && in_subtree(tab[i], v) && tab[i]->state != MS_LIVE &&
		    tab[i]->state != MS_CREATING) {
			v->users--;
			pthread_mutex_unlock(&tab_lock);
			return false;
		}
	v->users--;
	for (;;) {
		ok = true;
		for (i = 0; i < MAXV; i++) {
			struct mvmo *a = tab[i];

			if (!a || !in_subtree(a, v))
				continue;
			if (a->state == MS_LIVE)
				a->state = MS_BUSY;
			if (a->state == MS_CREATING || a->users)
				ok = false;
		}
		if (ok || failed())
			break;
		pthread_mutex_unlock(&tab_lock);
		usleep(500);
		pthread_mutex_lock(&tab_lock);
	}
	/* post-order: deeper first (children are deeper than parents) */
	*n = 0;
	for (k = MAXDEPTH + 2; k >= 0; k--)
		for (i = 0; i < MAXV; i++)
			if (tab[i] && in_subtree(tab[i], v) && tab[i]->depth == k)
				list[(*n)++] = tab[i];
	pthread_mutex_unlock(&tab_lock);
	(void)w;
	return ok;
}

static void
release_subtree(struct mvmo **list, int n)
{
	int i;

	pthread_mutex_lock(&tab_lock);
	for (i = 0; i < n; i++)
		if (list[i]->state == MS_BUSY)
			list[i]->state = MS_LIVE;
	pthread_mutex_unlock(&tab_lock);
}

/* rm -r of a VMO and everything under it, deepest first. */
static void
op_rmtree(struct worker *w)
{
	static __thread struct mvmo *list[MAXV];
	struct mvmo *v, *u, *o;
	char rel[1024];
	int n, i, e, nclones;
	bool rmr;

	v = mv_pick(w, chance(w, 70) ? PK_ANY : PK_TOP);
	if (!v)
		return;
	if (!own_subtree(w, v, list, &n))
		return;
	lg(w, "rm -r %s (%d VMOs)", w->path, n);
	if (n > 1 && chance(w, 40)) {
		/* not on its own: ENOTEMPTY, and clones/ too if it has any */
		e = rmdir(mp(w, w->path, "")) == 0 ? 0 : errno;
		if (!judge(w, "rmdir of a VMO with children", e, ENOTEMPTY, false))
			goto out;
		nclones = 0;
		for (i = 0; i < n; i++)
			nclones += list[i]->parent == v && list[i]->kind != MK_SLICE;
		if (nclones) {
			e = rmdir(mp(w, w->path, "/clones")) == 0 ? 0 : errno;
			if (!judge(w, "rmdir clones/ with clones", e, ENOTEMPTY, false))
				goto out;
		}
	}
	for (i = 0; i < n; i++) {
		u = list[i];
		pthread_mutex_lock(&tab_lock);
		mv_path(u, rel, sizeof(rel));
		pthread_mutex_unlock(&tab_lock);
		rmr = chance(w, 50);
		lg(w, "  rmdir %s%s", rel, rmr ? " (rm -r style)" : "");
		if (rmr) {
			/* what rm -r does first: all four answer 0, change nothing */
			static const char *const tails[] = { "/data", "/info" };
			int j;

			for (j = 0; j < 2; j++) {
				e = unlink(mp(w, rel, tails[j])) == 0 ? 0 : errno;
				if (!judge(w, tails[j] + 1, e, 0, false))
					goto out;
			}
			e = rmdir(mp(w, rel, "/clones")) == 0 ? 0 : errno;
			if (!judge(w, "rmdir clones/", e, 0, false))
				goto out;
			e = rmdir(mp(w, rel, "/slices")) == 0 ? 0 : errno;
			if (!judge(w, "rmdir slices/", e, 0, false))
				goto out;
		}
		o = u->kind == MK_SLICE ? u->owner : NULL;
		if (o)
			pthread_rwlock_wrlock(&o->lock);
		set_state(u, MS_REMOVING);
		e = rmdir(mp(w, rel, "")) == 0 ? 0 : errno;
		if (!judge(w, "rmdir", e, 0, false)) {
			if (o)
				pthread_rwlock_unlock(&o->lock);
			set_state(u, MS_BUSY);
			goto out;
		}
		if (PH->backed && !u->parent) {
			struct stat st;
			char p[600];

			snprintf(p, sizeof(p), "%s/%s", PH->bkdir, u->name);
			if (stat(p, &st) == 0)
				fail(w, "rmdir %s: backing file %s still there", rel, p);
		}
		pthread_mutex_lock(&tab_lock);
		list[i] = NULL;
		mv_free(u);
		pthread_mutex_unlock(&tab_lock);
		if (o) {
			o->nslices--;
			atomic_store(&o->slice_rm_ms, now_ms());
			pthread_rwlock_unlock(&o->lock);
		}
	}
	return;
out:
	for (i = 0, e = 0; i < n; i++)
		if (list[i])
			list[e++] = list[i];
	release_subtree(list, e);
}

/* mv within one directory: a fresh name, onto a sibling, or elsewhere. */
static void
op_rename(struct worker *w)
{
	static __thread struct mvmo *list[MAXV];
	struct mvmo *v, *s = NULL;
	char from[1200], to[1200], nn[40], pdir[1100];
	unsigned k = (unsigned)rnd_below(w, 100);
	int n, i, e;

	v = mv_pick(w, PK_ANY);
	if (!v)
		return;
	if (!own_subtree(w, v, list, &n))
		return;
	pthread_mutex_lock(&tab_lock);
	if (v->parent) {
		mv_path(v->parent, pdir, sizeof(pdir));
		snprintf(pdir + strlen(pdir), sizeof(pdir) - strlen(pdir), "/%s",
		    v->kind == MK_SLICE ? "slices" : "clones");
	} else {
		pdir[0] = '\0';
	}
	snprintf(from, sizeof(from), "%s/%s%s%s", MNT, pdir, *pdir ? "/" : "",
	    v->name);
	if (k >= 70 && k < 90) {	/* onto a live sibling */
		for (i = 0; i < MAXV; i++)
			if (tab[i] && tab[i] != v && tab[i]->parent == v->parent &&
			    tab[i]->state == MS_LIVE &&
			    (tab[i]->kind == MK_SLICE) == (v->kind == MK_SLICE)) {
				s = tab[i];
				s->users++;
				break;
			}
	}
	if (s) {
		snprintf(to, sizeof(to), "%s/%s%s%s", MNT, pdir, *pdir ? "/" : "",
		    s->name);
	} else if (k >= 90 && v->parent) {	/* across directories */
		snprintf(to, sizeof(to), "%s/x%d.%u", MNT, w->id, w->seq++);
	} else {
		snprintf(nn, sizeof(nn), "%c%d.%u", v->kind == MK_TOP ? 'v' :
		    v->kind == MK_CLONE ? 'c' : 's', w->id, w->seq++);
		snprintf(to, sizeof(to), "%s/%s%s%s", MNT, pdir, *pdir ? "/" : "",
		    nn);
		snprintf(v->oldname, sizeof(v->oldname), "%s", v->name);
		snprintf(v->name, sizeof(v->name), "%s", nn);
	}
	pthread_mutex_unlock(&tab_lock);
	lg(w, "mv %s %s", from + strlen(MNT) + 1, to + strlen(MNT) + 1);
	e = rename(from, to) == 0 ? 0 : errno;
	if (s) {
		if (judge(w, "mv onto a VMO", e, ENOTEMPTY, false)) {
			e = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE)
			    == 0 ? 0 : errno;
			judge(w, "mv onto a VMO, RENAME_NOREPLACE", e, EEXIST, false);
		}
		mv_put(s);
	} else if (k >= 90 && v->parent) {
		judge(w, "mv across directories", e, EPERM, false);
	} else if (judge(w, "mv", e, 0, false)) {
		if (PH->backed && !v->parent) {
			struct stat st;
			char p[600];

			snprintf(p, sizeof(p), "%s/%s", PH->bkdir, v->name);
			if (stat(p, &st) != 0)
				fail(w, "mv: no backing file %s after it", p);
			snprintf(p, sizeof(p), "%s/%s", PH->bkdir, v->oldname);
			if (stat(p, &st) == 0)
				fail(w, "mv: backing file %s still there", p);
		}
		pthread_mutex_lock(&tab_lock);
		v->oldname[0] = '\0';
		pthread_mutex_unlock(&tab_lock);
	}
	release_subtree(list, n);
}

/* ---- data ops ----------------------------------------------------------- */

static uint64_t vs_of(const struct mvmo *v) { return mv_vsize(v); }
static void adopt_uncertain(struct worker *w, struct mvmo *v, uint64_t off,
    size_t len);
static void write_at(struct worker *w, struct mvmo *v, uint64_t off,
    size_t len, int flags, const char *what);

static void
op_write(struct worker *w)
{
	struct mvmo *v;
	uint64_t vs, off, max;
	size_t len;
	int flags = O_WRONLY;

	v = mv_pick(w, PK_ANY);
	if (!v)
		return;
	pthread_rwlock_wrlock(mv_olock(v));
	vs = mv_vsize(v);
	max = v->kind == MK_SLICE ? v->slen + P : PH->max_size;
	off = pick_off(w, vs, max);
	if (chance(w, 25))
		off = PGDN(off);
	len = pick_len(w, max - off ? max - off : 1);
	if (v->kind != MK_SLICE && off + len > PH->max_size)
		len = PH->max_size - off;
	if (len == 0 || !clone_room(v, v->owner->size, v->kind == MK_SLICE ?
	    v->owner->size : off + len))
		goto out;
	if (chance(w, 10) && !enospc_ok())
		flags |= O_DIRECT;
	write_at(w, v, off, len, flags, "write");
out:
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

/*
 * Write len fresh bytes at off of v (picked, owner lock exclusive) and
 * judge the answer: a slice clips at its end (EFBIG past it), ENOSPC or
 * a short count only where enospc_ok.
 */
static void
write_at(struct worker *w, struct mvmo *v, uint64_t off, size_t len,
    int flags, const char *what)
{
	uint64_t want, vs = mv_vsize(v);
	ssize_t n;
	int fd, e, err;
	struct stat st;

	fill(w, w->buf, off, len);
	lg(w, "%s %s off=%" PRIu64 " len=%zu%s (size %" PRIu64 ")", what, w->path,
	    off, len, flags & O_DIRECT ? " O_DIRECT" : "", vs);
	fd = open(datap(w), flags);
	if (fd < 0) {
		judge(w, "open data", errno, 0, false);
		return;
	}
	want = len;
	e = 0;
	if (v->kind == MK_SLICE) {
		if (off >= v->slen)
			e = EFBIG;
		else if (len > v->slen - off)
			want = v->slen - off;
	}
	atomic_fetch_add(&inflight_pages, (int64_t)(len / P + 3));
	n = pwrite(fd, w->buf, len, (off_t)off);
	err = errno;
	atomic_fetch_sub(&inflight_pages, (int64_t)(len / P + 3));
	if (n < 0 && (flags & O_DIRECT) && !e && want < len &&
	    (err == EIO || err == EFBIG)) {
		/* short async direct write: the kernel's EIO (see the top) */
		lg_more(w, " -> %s (short direct write)", ename(err));
		count(w, err);
		mv_write(v, off, w->buf, (size_t)want);
	} else if (n < 0 && (flags & O_DIRECT) && !e && enospc_ok() &&
	    (err == EIO || err == ENOSPC)) {
		lg_more(w, " -> %s (allowed)", ename(err));
		count(w, err);
		adopt_uncertain(w, v, off, len);
	} else if (n < 0) {
		judge(w, "write", err, e, true);
	} else if (e) {
		lg_more(w, " -> %zd", n);
		fail(w, "write: wrote %zd bytes, expected %s", n, ename(e));
	} else if ((uint64_t)n != want && !(n > 0 && enospc_ok())) {
		lg_more(w, " -> %zd", n);
		fail(w, "write: wrote %zd bytes of %zu, expected %" PRIu64 "%s",
		    n, len, want, PH->backed ? " (short on a backed mount)" : "");
	} else {
		lg_more(w, " -> %zd", n);
		count(w, 0);
		if ((uint64_t)n != want && PH->backed)
			atomic_fetch_add(&backed_enospc_seen, 1);
		mv_write(v, off, w->buf, (size_t)n);
		if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != mv_vsize(v))
			fail(w, "write: fstat size %lld after it, model %" PRIu64,
			    (long long)st.st_size, mv_vsize(v));
	}
	close(fd);
}

/*
 * Memory pressure: large writes that grow a VMO (appends, or a hole
 * filled), so that on a small mount the VMOs hold more than size=.  On a
 * backed mount only top-level VMOs, whose pages reclaim can write back
 * and evict.
 */
static void
op_fill(struct worker *w)
{
	struct mvmo *v;
	uint64_t off;
	size_t len;

	v = mv_pick(w, PH->backed ? PK_TOP : PK_NOSLICE);
	if (!v)
		return;
	pthread_rwlock_wrlock(mv_olock(v));
	off = chance(w, 70) ? v->size : PGDN(rnd_below(w, v->size + 1));
	if (off >= PH->max_size)
		off = PGDN(rnd_below(w, PH->max_size / 2));
	len = (size_t)(262144 + rnd_below(w, 786432));
	if (off + len > PH->max_size)
		len = (size_t)(PH->max_size - off);
	if (len && clone_room(v, v->size, off + len))
		write_at(w, v, off, len, O_WRONLY, "fill");
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

static void
op_read(struct worker *w)
{
	struct mvmo *v;
	uint64_t vs, off, want;
	size_t len;
	ssize_t n;
	int fd, flags = O_RDONLY;
	struct stat st;

	v = mv_pick(w, PK_ANY);
	if (!v)
		return;
	pthread_rwlock_rdlock(mv_olock(v));
	vs = mv_vsize(v);
	off = pick_off(w, vs, vs + P);
	len = chance(w, 15) ? (size_t)(vs > off ? vs - off : 1) :
	    pick_len(w, PH->max_size);
	if (chance(w, 10))
		flags |= O_DIRECT;
	lg(w, "read %s off=%" PRIu64 " len=%zu%s (size %" PRIu64 ")", w->path,
	    off, len, flags & O_DIRECT ? " O_DIRECT" : "", vs);
	fd = open(datap(w), flags);
	if (fd < 0) {
		judge(w, "open data", errno, 0, false);
		goto out;
	}
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != vs) {
		lg_more(w, " -> stat size %lld", (long long)st.st_size);
		fail(w, "read: fstat size %lld, model %" PRIu64,
		    (long long)st.st_size, vs);
		close(fd);
		goto out;
	}
	n = pread_full(fd, w->buf, len, (off_t)off);
	want = off >= vs ? 0 : (vs - off < len ? vs - off : len);
	if (n < 0) {
		judge(w, "read", (int)-n, 0, false);
	} else if ((uint64_t)n != want) {
		lg_more(w, " -> %zd", n);
		fail(w, "read: %zd bytes, expected %" PRIu64, n, want);
	} else {
		lg_more(w, " -> %zd", n);
		count(w, 0);
		check_view(w, v, "read", off, w->buf, (size_t)n);
	}
	close(fd);
out:
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

static void
op_trunc(struct worker *w)
{
	struct mvmo *v;
	uint64_t ns, vs;
	unsigned k = (unsigned)rnd_below(w, 100), how = (unsigned)rnd_below(w, 3);
	int fd, e, want = 0, tries;
	struct stat st;

	v = mv_pick(w, chance(w, 90) ? PK_NOSLICE : PK_ANY);
	if (!v)
		return;
	pthread_rwlock_wrlock(mv_olock(v));
	vs = mv_vsize(v);
	if (k < 30)
		ns = rnd_below(w, vs + 1);
	else if (k < 50)
		ns = PGDN(rnd_below(w, vs + 1));
	else if (k < 80)
		ns = vs + 1 + rnd_below(w, 262144);
	else if (k < 90)
		ns = 0;
	else
		ns = vs + 1 > 8 ? vs - rnd_below(w, 8) : vs;
	if (ns > PH->max_size)
		ns = PH->max_size;
	if (!clone_room(v, vs, ns))
		goto out;
	if (v->kind == MK_SLICE)	/* to its own size: a restore, a no-op */
		want = ns == vs ? 0 : EPERM;
	else if (ns < v->size && (mv_slice_blocks(v, ns) ||
	    mv_any_pinned(v, PGUP(ns) / P, v->npins)))
		want = EBUSY;
	if (ns != 0 && how == 2)
		how = 1;
	lg(w, "truncate %s %" PRIu64 " -> %" PRIu64 " (%s)", w->path, vs, ns,
	    how == 0 ? "truncate" : how == 1 ? "ftruncate" : "O_TRUNC");
	atomic_fetch_add(&inflight_pages, 3);
	for (tries = 0; ; tries++) {
		e = 0;
		if (how == 0) {
			e = truncate(datap(w), (off_t)ns) == 0 ? 0 : errno;
		} else {
			fd = open(datap(w), O_WRONLY | (how == 2 ? O_TRUNC : 0));
			if (fd < 0)
				e = errno;
			else {
				if (how == 1 && ftruncate(fd, (off_t)ns) != 0)
					e = errno;
				close(fd);
			}
		}
		/* a slice closed just before its rmdir lives until RELEASE */
		if (e == EBUSY && want == 0 && tries < 100 &&
		    now_ms() - atomic_load(&v->slice_rm_ms) < 3000) {
			usleep(20000);
			continue;
		}
		break;
	}
	atomic_fetch_sub(&inflight_pages, 3);
	if (!judge(w, "truncate", e, want, v->kind != MK_SLICE) || e)
		goto out;
	if (v->kind != MK_SLICE)	/* a slice's own size: nothing changed */
		mv_resize(v, ns);
	if (stat(datap(w), &st) != 0 || (uint64_t)st.st_size != ns)
		fail(w, "truncate: stat size %lld after it, expected %" PRIu64,
		    (long long)st.st_size, ns);
out:
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

static __thread sigjmp_buf bus_jmp;
static __thread volatile int bus_armed;

void stress_sigbus(int sig);
void
stress_sigbus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * A write of w->buf to [off, off+len) failed on a mount where that may
 * happen (msync, O_DIRECT: ENOSPC/EIO).  What the daemon holds is read
 * with O_DIRECT (past the page cache): each byte must be old or new.  The
 * page cache may keep the new bytes (clean) all the same, and show them
 * until something drops it, so the range becomes unknown in the model:
 * reads skip it until a write, zero or truncate covers it again.
 * Exclusive owner lock.
 */
static void
adopt_uncertain(struct worker *w, struct mvmo *v, uint64_t off, size_t len)
{
	unsigned char *old = w->buf2, *got = w->buf2 + len;
	ssize_t n;
	size_t i;
	int fd;

	if (off >= vs_of(v))
		return;
	if (len > vs_of(v) - off)	/* a slice: up to its end */
		len = (size_t)(vs_of(v) - off);
	mv_view(v, off, len, old);
	fd = open(datap(w), O_RDONLY | O_DIRECT);
	if (fd < 0) {
		judge(w, "open data O_DIRECT", errno, 0, false);
		return;
	}
	/* the flush before a direct read may report the write-back error */
	for (i = 0; i < 3; i++)
		if ((n = pread_full(fd, got, len, (off_t)off)) != -ENOSPC && n != -EIO)
			break;
	close(fd);
	if (n < (ssize_t)len) {
		fail(w, "O_DIRECT read after a failed write: %zd of %zu", n, len);
		return;
	}
	mv_mask_unknown(v, off, len, old, got);	/* unknown before: any */
	for (i = 0; i < len; i++)
		if (got[i] != old[i] && got[i] != w->buf[i]) {
			fail(w, "after a failed write byte %" PRIu64 " is neither "
			    "old (%02x) nor new (%02x): %02x", off + i, old[i],
			    w->buf[i], got[i]);
			return;
		}
	mv_write(v, off, got, len);
	mv_unknown(v, off, len);
	lg_more(w, " (range now unknown)");
}

static void
op_mmap(struct worker *w)
{
	struct mvmo *v;
	bool wr = chance(w, 60);
	uint64_t vs, off, ms;
	size_t len, ml;
	unsigned char *p;
	int fd, e;

	v = mv_pick(w, PK_ANY);
	if (!v)
		return;
	if (wr)
		pthread_rwlock_wrlock(mv_olock(v));
	else
		pthread_rwlock_rdlock(mv_olock(v));
	vs = mv_vsize(v);
	/* through a slice, a write-back of whole pages past the root's size
	 * would grow the root by the kernel's page rounding: stay inside */
	if (wr && v->kind == MK_SLICE && v->soff + v->slen > v->owner->size)
		wr = false;
	if (vs == 0)
		goto out;
	off = rnd_below(w, vs);
	len = 1 + (size_t)rnd_below(w, vs - off < 524288 ? vs - off : 524288);
	ms = PGDN(off);
	ml = (size_t)(off + len - ms);
	lg(w, "mmap %s %s off=%" PRIu64 " len=%zu (size %" PRIu64 ")",
	    wr ? "write+msync" : "read", w->path, off, len, vs);
	fd = open(datap(w), wr ? O_RDWR : O_RDONLY);
	if (fd < 0) {
		judge(w, "open data", errno, 0, false);
		goto out;
	}
	p = mmap(NULL, ml, wr ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
	    fd, (off_t)ms);
	if (p == MAP_FAILED) {
		judge(w, "mmap", errno, 0, false);
		close(fd);
		goto out;
	}
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		lg_more(w, " -> SIGBUS");
		fail(w, "mmap %s: SIGBUS inside the file's size", w->path);
		munmap(p, ml);
		close(fd);
		goto out;
	}
	bus_armed = 1;
	if (wr) {
		fill(w, w->buf, off, len);
		atomic_fetch_add(&inflight_pages, (int64_t)(len / P + 3));
		memcpy(p + (off - ms), w->buf, len);
		e = msync(p, ml, MS_SYNC) == 0 ? 0 : errno;
		atomic_fetch_sub(&inflight_pages, (int64_t)(len / P + 3));
		bus_armed = 0;
		munmap(p, ml);
		if (e && (e == ENOSPC || e == EIO) && enospc_ok()) {
			lg_more(w, " -> %s (allowed)", ename(e));
			count(w, e);
			adopt_uncertain(w, v, off, len);
		} else if (judge(w, "msync", e, 0, false)) {
			mv_write(v, off, w->buf, len);
		}
	} else {
		memcpy(w->buf, p + (off - ms), len);
		bus_armed = 0;
		munmap(p, ml);
		lg_more(w, " -> ok");
		count(w, 0);
		check_view(w, v, "mmap read", off, w->buf, len);
	}
	close(fd);
out:
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

/* user.vmo.<action> with a page-aligned RANGE (zero: sometimes not). */
static void
op_xattr(struct worker *w)
{
	static const char *const acts[] = { "commit", "decommit", "zero", "pin",
	    "unpin", "prefetch", "dontneed", "alwaysneed" };
	static const unsigned wt[] = { 18, 14, 20, 16, 16, 6, 5, 5 };
	struct mvmo *v;
	unsigned k = (unsigned)rnd_below(w, 100), a = 0, acc = 0;
	uint64_t vs, off, len, s, e;
	char val[64], name[40], what[80];
	bool excl, unal = false, past = false;
	int r, want = 0;

	while (k >= acc + wt[a])
		acc += wt[a++];
	if (a == 7 && PH->backed)
		a = 5;	/* alwaysneed pages are never reclaimed: not on backed */
	excl = a >= 1 && a <= 4;
	v = mv_pick(w, PK_ANY);
	if (!v)
		return;
	if (excl)
		pthread_rwlock_wrlock(mv_olock(v));
	else
		pthread_rwlock_rdlock(mv_olock(v));
	vs = mv_vsize(v);
	k = (unsigned)rnd_below(w, 100);
	if (k < 12) {
		off = 0;
		len = vs;
		snprintf(val, sizeof(val), "%s", chance(w, 50) ? "all" : "");
	} else {
		off = PGDN(rnd_below(w, vs + 1));
		len = PGDN(rnd_below(w, vs - off + 1));
		if (k >= 78 && k < 90) {	/* unaligned: rounds out, or not */
			off = rnd_below(w, vs + 1);
			len = rnd_below(w, vs - off + 1);
		} else if (k >= 90) {
			len = vs - off + 1 + PGDN(rnd_below(w, 3 * P));
			past = true;
		}
		fmt_range(w, val, sizeof(val), off, len);
	}
	/* docs/semantics.md's table: commit, prefetch, the hints, pin and
	 * unpin round out to whole pages; pin and unpin of nothing: EINVAL;
	 * decommit needs an aligned OFFSET and an end aligned or at the end
	 * of the file, and a slice's unaligned end only where its last page
	 * shows no parent bytes past it (EINVAL or exact here); zero is byte
	 * exact */
	s = off / P;
	e = PGUP(off + len) / P;
	if (past)
		want = EINVAL;
	else if ((a == 3 || a == 4) && len == 0)
		want = EINVAL;
	else if (a == 1 && len && (off % P || ((off + len) % P && off + len != vs)))
		want = EINVAL;
	else if (len == 0)
		want = 0;
	else if (a == 1 && mv_any_pinned(v, s, e))
		want = EBUSY;
	else if (a == 4 && !mv_all_pinned(v, s, e))
		want = EINVAL;
	unal = a == 1 && !past && len && !(off % P) && v->kind == MK_SLICE &&
	    (off + len) % P && (want == 0 || want == EBUSY);
	if (a == 3 && !past && len) {
		uint64_t pg;

		if (PH->backed && (uint64_t)atomic_load(&pinned_pages) + (e - s) >
		    PH->limit / P / 8)
			goto out;
		for (pg = s; pg < e; pg++)
			if (v->owner->pins[v->kind == MK_SLICE ? v->soff / P + pg : pg]
			    >= MAXPIN)
				goto out;
	}
	snprintf(name, sizeof(name), "user.vmo.%s", acts[a]);
	lg(w, "setfattr %s '%s' %s (size %" PRIu64 ")", name, val, w->path, vs);
	if (a == 0 || a == 3 || a == 5 || a == 7)
		atomic_fetch_add(&inflight_pages, (int64_t)(e - s + 2));
	r = setxattr(datap(w), name, val, strlen(val), 0) == 0 ? 0 : errno;
	if (a == 0 || a == 3 || a == 5 || a == 7)
		atomic_fetch_sub(&inflight_pages, (int64_t)(e - s + 2));
	if (unal && r == EINVAL) {	/* a slice's unaligned end, see above */
		lg_more(w, " -> EINVAL (a slice's unaligned end, allowed)");
		count(w, r);
		goto out;
	}
	snprintf(what, sizeof(what), "setfattr %s", name);
	if (!judge(w, what, r, want, a != 1 && a != 4 && a != 6) || r || !len)
		goto out;
	switch (a) {
	case 1: mv_zero(v, s * P, (e - s) * P); break;
	case 2: mv_zero(v, off, len); break;
	case 3: mv_pin(v, s, e, 1); break;
	case 4: mv_pin(v, s, e, -1); break;
	}
	if (a == 1 || a == 2) {	/* read it back: the caches saw it too */
		uint64_t ro = a == 1 ? s * P : off, rl = a == 1 ? (e - s) * P : len;
		ssize_t n;
		int fd = open(datap(w), O_RDONLY);

		if (ro + rl > vs)
			rl = vs - ro;
		if (fd < 0) {
			judge(w, "open data", errno, 0, false);
			goto out;
		}
		n = pread_full(fd, w->buf, rl, (off_t)ro);
		close(fd);
		if (n != (ssize_t)rl)
			fail(w, "read after %s: %zd of %" PRIu64, name, n, rl);
		else
			check_view(w, v, what, ro, w->buf, rl);
	}
out:
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

static void
op_fsync(struct worker *w)
{
	struct mvmo *v, *o;
	int fd, e;
	bool data = chance(w, 50);

	v = mv_pick(w, PK_ANY);
	if (!v)
		return;
	pthread_rwlock_rdlock(mv_olock(v));
	lg(w, "%s %s", data ? "fdatasync" : "fsync", w->path);
	fd = open(datap(w), chance(w, 50) ? O_RDONLY : O_WRONLY);
	if (fd < 0) {
		judge(w, "open data", errno, 0, false);
		goto out;
	}
	e = (data ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : errno;
	close(fd);
	if (!judge(w, "fsync", e, 0, false))
		goto out;
	o = v->owner;
	if (PH->backed && !o->parent)
		check_host_file(w, o, "after fsync");
out:
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

/* "name: value" lines, every value a number; the value of one name. */
static bool
stats_parse(struct worker *w, const char *t, const char *want, uint64_t *val)
{
	const char *p = t, *nl;
	bool found = false;

	while (*p) {
		const char *c = strchr(p, ':');
		char *end;
		uint64_t x;

		nl = strchr(p, '\n');
		if (!nl || !c || c > nl || c == p || c[1] != ' ') {
			fail(w, "user.vmofs.stats: bad line '%.*s'",
			    (int)(nl ? nl - p : (long)strlen(p)), p);
			return false;
		}
		x = strtoull(c + 2, &end, 10);
		if (end != nl || end == c + 2) {
			fail(w, "user.vmofs.stats: bad value in '%.*s'",
			    (int)(nl - p), p);
			return false;
		}
		if ((size_t)(c - p) == strlen(want) && !strncmp(p, want, (size_t)(c - p))) {
			*val = x;
			found = true;
		}
		p = nl + 1;
	}
	if (!found)
		fail(w, "user.vmofs.stats: no %s", want);
	return found;
}

static void
op_stats(struct worker *w)
{
	static __thread char t[8192];
	uint64_t lim = 0, used = 0, fr = 0;
	struct statfs sf;
	int n;

	lg(w, "getfattr user.vmofs.stats; statfs");
	n = xget(MNT, "user.vmofs.stats", t, sizeof(t));
	if (n < 0) {
		judge(w, "getxattr user.vmofs.stats", -n, 0, false);
		return;
	}
	if (!stats_parse(w, t, "limit_pages", &lim) ||
	    !stats_parse(w, t, "used_pages", &used) ||
	    !stats_parse(w, t, "free_pages", &fr))
		return;
	lg_more(w, " -> used %" PRIu64 " free %" PRIu64 " of %" PRIu64, used, fr, lim);
	count(w, 0);
	if (lim != PH->limit / P || used > lim || fr > lim)
		fail(w, "user.vmofs.stats: limit_pages %" PRIu64 " (size= gives %"
		    PRIu64 "), used_pages %" PRIu64 ", free_pages %" PRIu64,
		    lim, PH->limit / P, used, fr);
	if (statfs(MNT, &sf) != 0) {
		judge(w, "statfs", errno, 0, false);
		return;
	}
	if (sf.f_bsize != P || (uint64_t)sf.f_blocks != lim || sf.f_bfree > sf.f_blocks)
		fail(w, "statfs: bsize %ld blocks %llu bfree %llu, limit %" PRIu64,
		    (long)sf.f_bsize, (unsigned long long)sf.f_blocks,
		    (unsigned long long)sf.f_bfree, lim);
}

/* The number after "key: " in an info text; false if missing. */
static bool
info_val(const char *info, const char *key, uint64_t *v)
{
	char k[40];
	const char *p;

	snprintf(k, sizeof(k), "\n%s: ", key);
	if (!strncmp(info, k + 1, strlen(k + 1)))
		p = info + strlen(k + 1);
	else if ((p = strstr(info, k)) != NULL)
		p += strlen(k);
	else
		return false;
	*v = strtoull(p, NULL, 10);
	return true;
}

/*
 * user.vmo.* and info of one VMO against the model.  Each getxattr is a
 * fresh vmo_get_attr, and other ops may page in, compress or copy in
 * between, so the invariants between counters are checked on info (one
 * vmo_get_attr for all of them); the xattrs are each checked alone.
 */
static bool
vstats_check(struct worker *w, struct mvmo *v, const char *why)
{
	static const char *const names[] = { "id", "size", "pinned",
	    "committed", "populated", "private", "scaled", "children", "parent" };
	uint64_t x[9], y[9], vs = mv_vsize(v), i, pin = mv_pinned_bytes(v);
	char kind[32], want[32], nm[40], info[1024];
	const char *d = datap(w);
	int n, fd;

	for (i = 0; i < 9; i++) {
		snprintf(nm, sizeof(nm), "user.vmo.%s", names[i]);
		if (!xget_u64(w, d, nm, &x[i]))
			return false;
	}
	n = xget(d, "user.vmo.kind", kind, sizeof(kind));
	snprintf(want, sizeof(want), "%s", v->kind == MK_SLICE ? "slice" :
	    v->kind == MK_CLONE ? "clone" : PH->backed ? "pager" : "anonymous");
	if (n < 0 || strcmp(kind, want) != 0) {
		fail(w, "%s %s: user.vmo.kind '%s', expected '%s'", why, w->path,
		    n < 0 ? ename(-n) : kind, want);
		return false;
	}
	if (x[0] != v->id || x[1] != vs || x[2] != pin || x[3] > PGUP(vs) ||
	    x[4] > PGUP(vs) || x[5] > PGUP(vs) || x[6] > PGUP(vs)) {
		fail(w, "%s %s: user.vmo.id %" PRIu64 " size %" PRIu64 " pinned %"
		    PRIu64 " committed %" PRIu64 " populated %" PRIu64 " private %"
		    PRIu64 " scaled %" PRIu64 "; model: id %" PRIu64 " size %"
		    PRIu64 " pinned %" PRIu64, why, w->path, x[0], x[1], x[2],
		    x[3], x[4], x[5], x[6], v->id, vs, pin);
		return false;
	}
	snprintf(info, sizeof(info), "%s/%s/info", MNT, w->path);
	fd = open(info, O_RDONLY);
	if (fd < 0) {
		fail(w, "open %s: %s", info, strerror(errno));
		return false;
	}
	n = (int)read(fd, info, sizeof(info) - 1);
	close(fd);
	if (n <= 0) {
		fail(w, "read info of %s: %d", w->path, n);
		return false;
	}
	info[n] = '\0';
	for (i = 0; i < 9; i++)
		if (!info_val(info, names[i], &y[i])) {
			fail(w, "%s %s: no %s in info:\n%s", why, w->path, names[i],
			    info);
			return false;
		}
	if (!strstr(info, want) || y[0] != v->id || y[1] != vs || y[2] != pin ||
	    y[3] > PGUP(vs) || y[4] < y[3] || y[4] > PGUP(vs) || y[5] > y[3] ||
	    y[6] > y[3] + 1 || y[8] != x[8]) {
		fail(w, "%s %s: info says\n%s(model: id %" PRIu64 " size %" PRIu64
		    " pinned %" PRIu64 " kind %s; committed <= size rounded up, "
		    "private and scaled <= committed <= populated)", why, w->path,
		    info, v->id, vs, pin, want);
		return false;
	}
	return true;
}

static void
op_vstats(struct worker *w)
{
	struct mvmo *v = mv_pick(w, PK_ANY);

	if (!v)
		return;
	pthread_rwlock_rdlock(mv_olock(v));
	lg(w, "user.vmo.* and info of %s", w->path);
	if (vstats_check(w, v, "stats")) {
		lg_more(w, " -> ok");
		count(w, 0);
	}
	pthread_rwlock_unlock(mv_olock(v));
	mv_put(v);
}

/*
 * (T) List dir (a VMO's clones/ or slices/, or the root when d is NULL)
 * against the table: each name listed is a child the table knows (its
 * name, or its old one while a rename is in flight); each child that
 * exists for sure (LIVE or BUSY, no rename in flight) is listed once.
 */
static bool
list_check(struct worker *w, struct mvmo *d, bool slices, const char *dir,
    bool exact)
{
	static __thread int seen[MAXV];
	struct dirent *de;
	DIR *dp;
	int i;

	memset(seen, 0, sizeof(seen));
	dp = opendir(dir);
	if (!dp) {
		fail(w, "opendir %s: %s", dir, strerror(errno));
		return false;
	}
	while ((de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		for (i = 0; i < MAXV; i++) {
			struct mvmo *c = tab[i];

			if (c && c->parent == d && (c->kind == MK_SLICE) == slices &&
			    (!strcmp(c->name, de->d_name) ||
			    (c->oldname[0] && !strcmp(c->oldname, de->d_name))))
				break;
		}
		if (i == MAXV || seen[i]++) {
			fail(w, "readdir %s: '%s' %s", dir, de->d_name, i == MAXV ?
			    "is no VMO the model knows" : "listed twice");
			closedir(dp);
			return false;
		}
	}
	closedir(dp);
	for (i = 0; i < MAXV; i++) {
		struct mvmo *c = tab[i];

		if (c && c->parent == d && (c->kind == MK_SLICE) == slices &&
		    !seen[i] && (exact || ((c->state == MS_LIVE ||
		    c->state == MS_BUSY) && !c->oldname[0]))) {
			fail(w, "readdir %s: '%s' missing (state %d)", dir, c->name,
			    c->state);
			return false;
		}
	}
	return true;
}

static void
op_readdir(struct worker *w)
{
	struct mvmo *v = chance(w, 30) ? NULL : mv_pick(w, PK_ANY);
	bool sl = chance(w, 40);
	char dir[1200];

	if (v)
		snprintf(dir, sizeof(dir), "%s/%s/%s", MNT, w->path,
		    sl ? "slices" : "clones");
	else
		snprintf(dir, sizeof(dir), "%s", MNT);
	lg(w, "ls %s", dir + strlen(MNT));
	pthread_mutex_lock(&tab_lock);
	if (list_check(w, v, v ? sl : false, dir, false)) {
		lg_more(w, " -> ok");
		count(w, 0);
	}
	pthread_mutex_unlock(&tab_lock);
	if (v)
		mv_put(v);
}

/* The documented errno of a misuse (SPEC 2, 4; docs/semantics.md). */
static void
op_errno(struct worker *w)
{
	struct mvmo *v = mv_pick(w, PK_ANY), *kid = NULL;
	unsigned k = (unsigned)rnd_below(w, 16);
	char b[64], p[1200];
	int e = 0, want = 0, i;
	const char *what = "";

	if (!v)
		return;
	lg(w, "errno check %u on %s", k, w->path);
	switch (k) {
	case 0: what = "unlink VMO dir"; want = EISDIR;
		e = unlink(mp(w, w->path, "")) ? errno : 0; break;
	case 1: what = "creat in VMO dir"; want = EPERM;
		e = open(mp(w, w->path, "/file"), O_CREAT | O_WRONLY, 0644);
		if (e >= 0) { close(e); e = 0; } else e = errno;
		break;
	case 2: what = "mkdir other in VMO dir"; want = EPERM;
		e = mkdir(mp(w, w->path, "/other"), 0755) ? errno : 0; break;
	case 3: what = "mkdir data"; want = EEXIST;
		e = mkdir(mp(w, w->path, "/data"), 0755) ? errno : 0; break;
	case 4: what = "rmdir data"; want = ENOTDIR;
		e = rmdir(mp(w, w->path, "/data")) ? errno : 0; break;
	case 5: what = "symlink in clones/"; want = EPERM;
		e = symlink("data", mp(w, w->path, "/clones/lnk")) ? errno : 0; break;
	case 6: what = "link data"; want = EPERM;
		snprintf(p, sizeof(p), "%s", datap(w));
		e = link(p, mp(w, w->path, "/data2")) ? errno : 0; break;
	case 7: what = "clone at an unaligned offset"; want = EINVAL;
		snprintf(p, sizeof(p), "x%d.%u@1+4096", w->id, w->seq++);
		snprintf(w->path2, sizeof(w->path2), "%s/%s/clones/%s", MNT,
		    w->path, p);
		e = mkdir(w->path2, 0755) ? errno : 0; break;
	case 8: what = "slice without a range"; want = EINVAL;
		snprintf(w->path2, sizeof(w->path2), "%s/%s/slices/x%d.%u", MNT,
		    w->path, w->id, w->seq++);
		e = mkdir(w->path2, 0755) ? errno : 0; break;
	case 9: what = "setfattr unknown user.vmo name"; want = EINVAL;
		e = setxattr(datap(w), "user.vmo.bogus", "", 0, 0) ? errno : 0; break;
	case 10: what = "getfattr unknown user.vmo name"; want = ENODATA;
		e = getxattr(datap(w), "user.vmo.bogus", b, sizeof(b)) < 0 ? errno : 0;
		break;
	case 11:	/* a read-only value: one of its form is a restore,
			 * taken and ignored; any other is EPERM */
		what = "setfattr user.vmo.size not a number"; want = EPERM;
		e = setxattr(datap(w), "user.vmo.size", "1x", 2, 0) ? errno : 0; break;
	case 12: what = "setfattr bad RANGE"; want = EINVAL;
		e = setxattr(datap(w), "user.vmo.commit", "0+x", 3, 0) ? errno : 0;
		break;
	case 13: what = "getfattr stats, small buffer"; want = ERANGE;
		e = getxattr(MNT, "user.vmofs.stats", b, 4) < 0 ? errno : 0; break;
	case 14:	/* info opens for writing (a restore of a copy), but
			 * only info text is taken: anything else EINVAL */
		what = "write of non-info text to info"; want = EINVAL;
		e = open(mp(w, w->path, "/info"), O_WRONLY);
		if (e >= 0) {
			int fd = e;

			e = write(fd, "garbage\n", 8) < 0 ? errno : 0;
			close(fd);
		} else {
			e = errno;
		}
		break;
	case 15:	/* rmdir of a VMO whose child is held live */
		what = "rmdir with a live child"; want = ENOTEMPTY;
		pthread_mutex_lock(&tab_lock);
		for (i = 0; i < MAXV; i++)
			if (tab[i] && tab[i]->parent == v && tab[i]->state == MS_LIVE) {
				kid = tab[i];
				kid->users++;
				break;
			}
		pthread_mutex_unlock(&tab_lock);
		if (!kid) {
			lg_more(w, " (no child)");
			goto out;
		}
		e = rmdir(mp(w, w->path, "")) ? errno : 0;
		mv_put(kid);
		break;
	}
	judge(w, what, e, want, false);
out:
	mv_put(v);
}

/* ---- the worker ----------------------------------------------------- */

static const unsigned op_weight[OP_N] = {
	[OP_FILL] = 2, [OP_MKTOP] = 3, [OP_WRITE] = 20, [OP_READ] = 16, [OP_TRUNC] = 5,
	[OP_MMAP] = 6, [OP_CLONE] = 5, [OP_RCLONE] = 4, [OP_SLICE] = 4,
	[OP_RMTREE] = 5, [OP_RENAME] = 2, [OP_XATTR] = 13, [OP_FSYNC] = 4,
	[OP_STATS] = 2, [OP_VSTATS] = 4, [OP_READDIR] = 3, [OP_ERRNO] = 4,
};

const char *const op_names[OP_N] = {
	[OP_FILL] = "fill", [OP_MKTOP] = "mkdir", [OP_WRITE] = "write",
	[OP_READ] = "read", [OP_TRUNC] = "truncate", [OP_MMAP] = "mmap",
	[OP_CLONE] = "clone", [OP_RCLONE] = "rclone", [OP_SLICE] = "slice",
	[OP_RMTREE] = "rm-r", [OP_RENAME] = "mv", [OP_XATTR] = "xattr",
	[OP_FSYNC] = "fsync", [OP_STATS] = "stats", [OP_VSTATS] = "vstats",
	[OP_READDIR] = "readdir", [OP_ERRNO] = "errno",
};

/* On a small mount, fill more (and truncate less), to reach the limit. */
static unsigned
weight(int o)
{
	if (!PH->pressure)
		return op_weight[o];
	return o == OP_FILL ? 14 : o == OP_TRUNC ? 2 : op_weight[o];
}

void
worker_op(struct worker *w)
{
	unsigned k, acc = 0, total = 0, mark = w->logpos;
	int o = 0;

	for (o = 0; o < OP_N; o++)
		total += weight(o);
	k = (unsigned)rnd_below(w, total);
	for (o = 0; k >= acc + weight(o); o++)
		acc += weight(o);
	if (mv_count(PK_TOP) < 2 || (mv_count(0xff) < 4 && chance(w, 50)))
		o = OP_MKTOP;
	if ((o == OP_CLONE || o == OP_RCLONE || o == OP_SLICE || o == OP_MKTOP) &&
	    mv_count(0xff) >= PH->max_vmos)
		o = OP_RMTREE;
	w->opno++;
	w->nops[o]++;
	atomic_store(&w->op_start_ms, now_ms());
	switch (o) {
	case OP_FILL:	op_fill(w); break;
	case OP_MKTOP:	op_mktop(w); break;
	case OP_WRITE:	op_write(w); break;
	case OP_READ:	op_read(w); break;
	case OP_TRUNC:	op_trunc(w); break;
	case OP_MMAP:	op_mmap(w); break;
	case OP_CLONE:	op_clone(w, false); break;
	case OP_RCLONE:	op_clone(w, true); break;
	case OP_SLICE:	op_slice(w); break;
	case OP_RMTREE:	op_rmtree(w); break;
	case OP_RENAME:	op_rename(w); break;
	case OP_XATTR:	op_xattr(w); break;
	case OP_FSYNC:	op_fsync(w); break;
	case OP_STATS:	op_stats(w); break;
	case OP_VSTATS:	op_vstats(w); break;
	case OP_READDIR: op_readdir(w); break;
	case OP_ERRNO:	op_errno(w); break;
	}
	atomic_store(&w->op_start_ms, 0);
	if (trace) {
		pthread_mutex_lock(&trace_lock);
		for (; mark != w->logpos; mark++)
			fprintf(trace, "w%d %s\n", w->id, w->log[mark % LOGN]);
		pthread_mutex_unlock(&trace_lock);
	}
}

/* ---- end of a phase ------------------------------------------------ */

static int
check_tree(struct worker *w, struct mvmo *d)
{
	char rel[1024], dir[1200];
	int i;

	if (d) {
		mv_path(d, rel, sizeof(rel));
		snprintf(dir, sizeof(dir), "%s/%s/clones", MNT, rel);
		if (!list_check(w, d, false, dir, true))
			return -1;
		snprintf(dir, sizeof(dir), "%s/%s/slices", MNT, rel);
		if (!list_check(w, d, true, dir, true))
			return -1;
	} else if (!list_check(w, NULL, false, MNT, true)) {
		return -1;
	}
	for (i = 0; i < MAXV; i++)
		if (tab[i] && tab[i]->parent == d && check_tree(w, tab[i]) != 0)
			return -1;
	return 0;
}

/* Quiet: the sum of every VMO's user.vmo.scaled. */
static int
scaled_sum(struct worker *w, uint64_t *sum)
{
	uint64_t x;
	int i;

	*sum = 0;
	pthread_mutex_lock(&tab_lock);
	for (i = 0; i < MAXV; i++) {
		if (!tab[i])
			continue;
		mv_path(tab[i], w->path, sizeof(w->path));
		if (!xget_u64(w, datap(w), "user.vmo.scaled", &x)) {
			pthread_mutex_unlock(&tab_lock);
			return -1;
		}
		*sum += x;
	}
	pthread_mutex_unlock(&tab_lock);
	return 0;
}

int
check_quiescent(struct worker *w)
{
	static char t[8192];
	uint64_t used = 0, scaled, sum = 0, bound;
	ssize_t n;
	int i, fd, tries, nv = 0;

	usleep(300000);		/* let the kernel's RELEASEs arrive */
	w->opno++;
	lg(w, "end of phase: every VMO read whole and its stats checked");
	pthread_mutex_lock(&tab_lock);
	for (i = 0; i < MAXV && !failed(); i++) {
		struct mvmo *v = tab[i];
		uint64_t vs;

		if (!v)
			continue;
		nv++;
		mv_path(v, w->path, sizeof(w->path));
		vs = mv_vsize(v);
		fd = open(datap(w), O_RDONLY);
		if (fd < 0) {
			fail(w, "open %s: %s", datap(w), strerror(errno));
			break;
		}
		n = pread_full(fd, w->buf, vs + 1, 0);
		close(fd);
		if (n != (ssize_t)vs) {
			fail(w, "final read of %s: %zd bytes, model %" PRIu64,
			    w->path, n, vs);
			break;
		}
		if (!check_view(w, v, "final read", 0, w->buf, vs) ||
		    !vstats_check(w, v, "final stats"))
			break;
		if (!xget_u64(w, datap(w), "user.vmo.scaled", &scaled))
			break;
		sum += scaled;
	}
	if (!failed())
		check_tree(w, NULL);
	pthread_mutex_unlock(&tab_lock);
	if (failed())
		return -1;
	/* Pages in use: within what the VMOs' sizes allow (no leak), and
	 * the VMOs' scaled bytes add up to them (SPEC 4); a RELEASE still in
	 * flight may hold a removed VMO's pages for a moment. */
	bound = (uint64_t)atomic_load(&bound_pages);
	for (tries = 0; tries < 20; tries++) {
		if (tries && scaled_sum(w, &sum) != 0)
			return -1;
		if (xget(MNT, "user.vmofs.stats", t, sizeof(t)) < 0 ||
		    !stats_parse(w, t, "used_pages", &used))
			return -1;
		if (used <= bound && sum + (uint64_t)nv + 16 >= used * P &&
		    sum <= used * P + (uint64_t)nv + 16)
			break;
		usleep(100000);
	}
	if (verbose)
		printf("  end: %d VMOs, %" PRIu64 " pages in use, sizes allow %"
		    PRIu64 ", scaled bytes add up to %" PRIu64 " (%.1f pages)\n",
		    nv, used, bound, sum, (double)sum / P);
	if (used > bound) {
		fail(w, "%" PRIu64 " pages in use at the end, but the %d VMOs' "
		    "sizes allow %" PRIu64 ": pages leaked", used, nv, bound);
		return -1;
	}
	if (sum + (uint64_t)nv + 16 < used * P || sum > used * P + (uint64_t)nv + 16) {
		fail(w, "the %d VMOs' user.vmo.scaled add up to %" PRIu64 " bytes, "
		    "the pages in use are %" PRIu64 " x 4096 = %" PRIu64, nv, sum,
		    used, used * P);
		return -1;
	}
	return 0;
}

int
check_backing_files(struct worker *w)
{
	struct dirent *de;
	DIR *dp;
	int i;

	w->opno++;
	lg(w, "after unmount: backing files against the model");
	for (i = 0; i < MAXV; i++)
		if (tab[i] && !tab[i]->parent &&
		    !check_host_file(w, tab[i], "after unmount"))
			return -1;
	dp = opendir(PH->bkdir);
	if (!dp) {
		fail(w, "opendir %s: %s", PH->bkdir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		for (i = 0; i < MAXV; i++)
			if (tab[i] && !tab[i]->parent && !strcmp(tab[i]->name, de->d_name))
				break;
		if (i == MAXV) {
			fail(w, "after unmount: %s/%s is no VMO", PH->bkdir, de->d_name);
			break;
		}
	}
	closedir(dp);
	return failed() ? -1 : 0;
}
