/*
 * test_model.c - randomized model test of libvm.  Thousands of random
 * create / write / clone (with ranges) / slice / resize / zero / commit /
 * decommit / pin / unpin / destroy steps over a growing tree of VMOs;
 * any VMO may also have a reference (vmo_reference), through which half
 * of its steps are then made and every check is read as well, since a
 * reference must act exactly as its target;
 * after every step every live VMO is compared byte for byte with a plain
 * array model, and every few steps the hierarchy invariants and the
 * attribution sum (scaled adds up to the pages in use) are checked.  At
 * the end every page is back in the PMM.
 *
 * Clones are of the three kinds (vmo_clone_as).  An at-least-on-write
 * (AOLW) clone is modelled as its live parent (lp), its offset and window
 * there, and the pages it owns: a page it has not made its own (written,
 * zeroed, decommitted, committed, pinned, shared into, its partial last
 * page at creation) reads the parent's current view; owning a page copies
 * that view first (mown).  When the parent dies the child keeps what the
 * parent showed of its own pages and reads through to the parent's live
 * parent elsewhere.  A snapshot of a VMO that reads through a live parent
 * is refused (-EOPNOTSUPP).
 *
 * VM_MODEL_SEED=N picks the seed (printed), VM_MODEL_STEPS=N the length.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "vmtest.h"

#define CAP	(64 * P)		/* model capacity per VMO */
#define MAXV	28

struct mvmo {
	struct vmo	*v;
	struct vmo	*ref;		/* a reference to v (maybe of a reference), or NULL */
	bool		alive, slice;
	unsigned char	*b;		/* non-slice: bytes, zero past size */
	uint64_t	size;		/* non-slice: content size */
	uint16_t	pins[CAP / P];	/* non-slice */
	int		nslices;	/* non-slice: live slices on it */
	int		root;		/* slice: model index of root */
	uint64_t	soff, slen;	/* slice window */
	int		lp;		/* AOLW: model index of the live parent, or -1 */
	uint64_t	loff, lwin;	/* AOLW: offset in lp, window (page multiple) */
	unsigned char	own[CAP / P];	/* AOLW: pages it holds itself (in b) */
};

static struct mvmo m[MAXV * 8];
static int nm;
static uint64_t rng;
static int trace;
/* What the run exercised of AOLW: clones made, parents that died under
 * one, snapshots refused, parent writes a clone saw. */
static uint64_t n_aolw, n_orphaned, n_refused;
#define TRACE(...) do { if (trace) fprintf(stderr, __VA_ARGS__); } while (0)

static uint64_t rnd(uint64_t n) { return vt_rnd(&rng, n); }

/* The handle a step uses: v, or half the time its reference. */
static struct vmo *
H(int i)
{
	return m[i].ref != NULL && rnd(2) ? m[i].ref : m[i].v;
}

static uint64_t msize(int i) { return m[i].slice ? m[i].slen : m[i].size; }
static uint64_t proundup(uint64_t x) { return (x + P - 1) / P * P; }

/*
 * Where VMO i's byte off comes from: a pointer into the model array that
 * holds it (NULL: zero), and in *n (at most one page's worth, asked) how
 * many bytes from off come from the same place.
 */
static const unsigned char *
mres(int i, uint64_t off, uint64_t *n)
{
	for (;;) {
		if (m[i].slice) {
			if (off >= m[i].slen)
				return NULL;
			if (*n > m[i].slen - off)
				*n = m[i].slen - off;
			off += m[i].soff;
			i = m[i].root;
			continue;
		}
		if (off >= CAP)
			return NULL;
		if (m[i].lp >= 0 && off < m[i].lwin && !m[i].own[off / P]) {
			off += m[i].loff;
			i = m[i].lp;
			continue;
		}
		return m[i].b + off;
	}
}

/* Model bytes [off, off+len) of VMO i's view into out. */
static void
mview(int i, uint64_t off, uint64_t len, unsigned char *out)
{
	while (len > 0) {
		uint64_t n = P - off % P;
		const unsigned char *src;

		if (n > len)
			n = len;
		src = mres(i, off, &n);
		if (src != NULL)
			memcpy(out, src, n);
		else
			memset(out, 0, n);
		out += n;
		off += n;
		len -= n;
	}
}

/* Model byte i of VMO i's view. */
static unsigned char
mget(int i, uint64_t off)
{
	unsigned char c;

	mview(i, off, 1, &c);
	return c;
}

/* AOLW: non-slice i makes page pg its own, with the bytes it sees now. */
static void
mown(int i, uint64_t pg)
{
	unsigned char tmp[P];

	if (m[i].lp < 0 || pg >= CAP / P || m[i].own[pg])
		return;
	mview(i, pg * P, P, tmp);
	memcpy(m[i].b + pg * P, tmp, P);
	m[i].own[pg] = 1;
}

/* The same for i's pages [s, e) (a slice's: its root's). */
static void
mown_range(int i, uint64_t s, uint64_t e)
{
	if (m[i].slice) {
		s += m[i].soff;
		e += m[i].soff;
		i = m[i].root;
	}
	for (s = s / P; s * P < e; s++)
		mown(i, s);
}

static void
mset(int i, uint64_t off, unsigned char c)
{
	if (m[i].slice) {
		off += m[i].soff;
		i = m[i].root;
	}
	mown(i, off / P);
	m[i].b[off] = c;
}

/* Does i read through a live parent (itself or, for a slice, its root)? */
static bool
mlive(int i)
{
	return m[m[i].slice ? m[i].root : i].lp >= 0;
}

static int
pick(bool want_nonslice)
{
	int tries, i;

	for (tries = 0; tries < 100; tries++) {
		i = (int)rnd((uint64_t)nm);
		if (m[i].alive && (!want_nonslice || !m[i].slice))
			return i;
	}
	return -1;
}

static int
nlive(void)
{
	int i, n = 0;

	for (i = 0; i < nm; i++)
		n += m[i].alive;
	return n;
}

static int
new_slot(void)
{
	assert_true(nm < MAXV * 8);
	memset(&m[nm], 0, sizeof(m[nm]));
	m[nm].b = calloc(1, CAP);
	m[nm].alive = true;
	m[nm].lp = -1;
	return nm++;
}

static void
verify(int i)
{
	static unsigned char got[CAP + P], want[CAP + P];
	uint64_t s = msize(i), k;

	mview(i, 0, s, want);
	assert_int_equal(vmo_size(m[i].v), s);
	if (m[i].ref != NULL) {		/* the same size and bytes */
		assert_int_equal(vmo_size(m[i].ref), s);
		assert_int_equal(vmo_read(m[i].ref, got, 0, sizeof(got)), (ssize_t)s);
		if (memcmp(got, want, s) != 0)
			fail_msg("vmo %d: its reference reads other bytes", i);
	}
	assert_int_equal(vmo_read(m[i].v, got, 0, sizeof(got)), (ssize_t)s);
	if (memcmp(got, want, s) == 0)
		return;
	for (k = 0; k < s; k++)
		if (got[k] != mget(i, k) && (trace ? (vmo_test_dump(m[i].v), 1) : 1))
			fail_msg("vmo %d (model) byte %llu: got %u want %u", i,
			    (unsigned long long)k, got[k], mget(i, k));
}

/* The page-owner model for pins: root model index and page offset. */
static int
owner(int i, uint64_t *off)
{
	if (m[i].slice) {
		*off += m[i].soff;
		return m[i].root;
	}
	return i;
}

static bool
pinned_in(int o, uint64_t s, uint64_t e)
{
	for (; s < e && s < CAP; s += P)
		if (m[o].pins[s / P])
			return true;
	return false;
}

static void
step_write(int i)
{
	unsigned char buf[3 * P];
	uint64_t off = rnd(CAP - 3 * P), len = 1 + rnd(3 * P), k;
	ssize_t r;

	vt_mixed_bytes(buf, len, &rng);
	TRACE("write %d off %llu len %llu\n", i, (unsigned long long)off, (unsigned long long)len);
	r = vmo_write(H(i), buf, off, len);
	if (m[i].slice) {
		if (off >= m[i].slen) {
			assert_int_equal(r, -EFBIG);
			return;
		}
		if (len > m[i].slen - off)
			len = m[i].slen - off;
	}
	assert_int_equal(r, (ssize_t)len);
	for (k = 0; k < len; k++)
		mset(i, off + k, buf[k]);
	if (m[i].slice) {
		int ro = m[i].root;
		if (m[i].soff + off + len > m[ro].size)
			m[ro].size = m[i].soff + off + len;
	} else if (off + len > m[i].size) {
		m[i].size = off + len;
	}
}

static void
step_clone(int i)
{
	uint64_t s = msize(i), off = rnd(s / P + 3) * P, len, k, win, send;
	bool whole = rnd(2);
	enum vmo_clone_kind kind = (enum vmo_clone_kind)rnd(3);
	struct vmo *v = NULL;
	int j, err;

	len = whole ? (s > off ? s - off : 0) : rnd(24 * P);
	err = vmo_clone_as(H(i), kind, off, whole ? VMO_WHOLE : len, &v);
	TRACE("clone %d kind %d off %llu len %llu whole %d -> %d (%d)\n", i, kind,
	    (unsigned long long)off, (unsigned long long)len, whole, err, nm);
	if (kind != VMO_CLONE_AOLW && mlive(i)) {
		assert_int_equal(err, -EOPNOTSUPP);
		n_refused++;
		return;
	}
	n_aolw += kind == VMO_CLONE_AOLW;
	assert_int_equal(err, 0);
	j = new_slot();
	m[j].v = v;
	m[j].size = len;
	if (kind != VMO_CLONE_AOLW) {
		for (k = 0; k < len; k++)
			m[j].b[k] = mget(i, off + k);
		return;
	}
	/* AOLW: the window is what i shows, cut at the clone's pages. */
	win = proundup(s) > off ? proundup(s) - off : 0;
	if (win > proundup(len))
		win = proundup(len);
	if (win > 0) {
		m[j].lp = m[i].slice ? m[i].root : i;
		m[j].loff = (m[i].slice ? m[i].soff : 0) + off;
		m[j].lwin = win;
	}
	/* Partial pages it must not see past: a slice's end, its own end. */
	send = s > off ? s - off : 0;
	if (m[i].slice && send <= len && send % P != 0) {
		mown(j, send / P);
		for (k = send; k < proundup(send) && k < CAP; k++)
			m[j].b[k] = 0;
	}
	if ((len < send || len / P * P < win) && len % P != 0) {
		mown(j, len / P);
		for (k = len; k < proundup(len) && k < CAP; k++)
			m[j].b[k] = 0;
	}
}

static void
step_slice(int i)
{
	uint64_t top = proundup(msize(i)), off = rnd(top / P + 1) * P;
	uint64_t len = rnd(top + P);
	struct vmo *v = NULL;
	int err = vmo_slice(H(i), off, len, &v), j, ro;

	TRACE("slice %d off %llu len %llu -> %d\n", i, (unsigned long long)off, (unsigned long long)len, err);

	if (len == 0 || off + len > top) {
		assert_int_equal(err, -EINVAL);
		return;
	}
	assert_int_equal(err, 0);
	j = new_slot();
	m[j].v = v;
	m[j].slice = true;
	ro = m[i].slice ? m[i].root : i;
	m[j].root = ro;
	m[j].soff = (m[i].slice ? m[i].soff : 0) + off;
	m[j].slen = len;
	m[ro].nslices++;
}

static void
step_resize(int i)
{
	uint64_t ns = rnd(48 * P), k;
	int err = vmo_resize(H(i), ns), j;
	bool busy = false;

	TRACE("resize %d %llu -> %d\n", i, (unsigned long long)ns, err);

	if (m[i].slice) {
		assert_int_equal(err, -EPERM);
		return;
	}
	if (ns < m[i].size) {
		for (j = 0; j < nm; j++)
			if (m[j].alive && m[j].slice && m[j].root == i &&
			    m[j].soff + m[j].slen > proundup(ns))
				busy = true;
		busy |= pinned_in(i, proundup(ns), CAP);
	}
	if (busy) {
		assert_int_equal(err, -EBUSY);
		return;
	}
	assert_int_equal(err, 0);
	if (ns < m[i].size) {
		uint64_t newp = proundup(ns);

		if (ns % P != 0)
			mown(i, ns / P);	/* its tail is zeroed: its own */
		if (m[i].lp >= 0 && m[i].lwin > newp)
			m[i].lwin = newp;
		/* Its AOLW clones stop seeing it past the new end. */
		for (j = 0; j < nm; j++) {
			uint64_t lim;

			if (!m[j].alive || m[j].slice || m[j].lp != i)
				continue;
			lim = newp > m[j].loff ? newp - m[j].loff : 0;
			if (m[j].lwin > lim)
				m[j].lwin = lim;
		}
	}
	for (k = ns; k < CAP; k++)
		m[i].b[k] = 0;
	m[i].size = ns;
}

/*
 * May decommit [off, off+len) of i free the pages around it (vmo.h)?  off
 * aligned, and the end aligned or past the bytes of the pages' owner.
 */
static bool
decommit_ok(int i, uint64_t off, uint64_t len)
{
	uint64_t named = off + len < msize(i) ? off + len : msize(i);
	uint64_t base = m[i].slice ? m[i].soff : 0;
	uint64_t osize = m[i].slice ? m[m[i].root].size : m[i].size;

	if (len == 0)
		return true;
	if (off % P != 0)
		return false;
	return proundup(off + len) == named || base + named >= osize;
}

/* zero (exact), decommit (whole pages only), commit, pin, unpin. */
static void
step_range(int i, int what)
{
	uint64_t top = proundup(msize(i)), off = rnd(top + P), len = rnd(8 * P);
	uint64_t s, e, k, po;
	bool whole = rnd(8) == 0;
	int err, o;

	if (what == 1 && rnd(4) != 0) {	/* decommit: mostly a valid range */
		off = off / P * P;
		len = rnd(2) ? len / P * P : (msize(i) > off ? msize(i) - off : 0);
	}
	if (whole) {
		off = 0;
		len = top;
	}
	switch (what) {
	case 0: err = vmo_zero(H(i), off, whole ? VMO_WHOLE : len); break;
	case 1: err = vmo_decommit(H(i), off, whole ? VMO_WHOLE : len); break;
	case 2: err = vmo_commit(H(i), off, whole ? VMO_WHOLE : len); break;
	case 3: err = vmo_pin(H(i), off, whole ? VMO_WHOLE : len); break;
	default: err = vmo_unpin(H(i), off, whole ? VMO_WHOLE : len); break;
	}
	TRACE("range %d what %d off %llu len %llu whole %d -> %d\n", i, what, (unsigned long long)off, (unsigned long long)len, whole, err);
	if (off + len > top) {
		assert_int_equal(err, -EINVAL);
		return;
	}
	s = off / P * P;
	e = len == 0 ? s : proundup(off + len);
	po = s;
	o = owner(i, &po);
	switch (what) {
	case 0:
		assert_int_equal(err, 0);
		for (k = off; k < off + len && k < msize(i); k++)
			mset(i, k, 0);
		break;
	case 1:
		if (!decommit_ok(i, off, len)) {
			assert_int_equal(err, -EINVAL);
			break;
		}
		if (pinned_in(o, po, po + (e - s))) {
			assert_int_equal(err, -EBUSY);
			break;
		}
		assert_int_equal(err, 0);
		for (k = s; k < e; k++)
			mset(i, k, 0);
		break;
	case 2:
		assert_int_equal(err, 0);
		mown_range(i, s, e);	/* commit: private pages */
		break;
	case 3:
		if (len == 0) {
			assert_int_equal(err, -EINVAL);
			break;
		}
		assert_int_equal(err, 0);
		mown_range(i, s, e);
		for (k = po; k < po + (e - s); k += P)
			m[o].pins[k / P]++;
		break;
	default:
		if (len == 0) {
			assert_int_equal(err, -EINVAL);
			break;
		}
		for (k = po; k < po + (e - s); k += P)
			if (m[o].pins[k / P] == 0)
				break;
		if (k < po + (e - s)) {
			assert_int_equal(err, -EINVAL);
			break;
		}
		assert_int_equal(err, 0);
		for (k = po; k < po + (e - s); k += P)
			m[o].pins[k / P]--;
		break;
	}
}

/* copy_file_range's page sharing: dst's range takes src's bytes. */
static void
step_share(int d, int sidx)
{
	uint64_t stop = proundup(msize(sidx)), soff = rnd(stop / P + 2) * P;
	uint64_t len = rnd(8) * P, doff = rnd(40) * P, k, po;
	unsigned char tmp[8 * P];
	int64_t r = vmo_share_range(H(d), doff, H(sidx), soff, len);
	int o;
	bool same = (m[d].slice ? m[d].root : d) == (m[sidx].slice ? m[sidx].root : sidx);
	uint64_t dabs = (m[d].slice ? m[d].soff : 0) + doff;
	uint64_t sabs = (m[sidx].slice ? m[sidx].soff : 0) + soff;

	TRACE("share %d@%llu <- %d@%llu len %llu -> %lld (dslice %d root %d soff %llu slen %llu; sslice %d root %d soff %llu slen %llu size %llu)\n", d, (unsigned long long)doff,
	    sidx, (unsigned long long)soff, (unsigned long long)len, (long long)r,
	    m[d].slice, m[d].root, (unsigned long long)m[d].soff, (unsigned long long)m[d].slen,
	    m[sidx].slice, m[sidx].root, (unsigned long long)m[sidx].soff, (unsigned long long)m[sidx].slen, (unsigned long long)msize(sidx));
	if (len == 0) {
		assert_int_equal(r, 0);
		return;
	}
	if (soff + len > stop || (same && dabs < sabs + len && sabs < dabs + len)) {
		assert_int_equal(r, -EINVAL);
		return;
	}
	if (m[d].slice ? doff + len > m[d].slen : doff + len > CAP) {
		if (m[d].slice)
			assert_int_equal(r, -EFBIG);
		else
			vmo_decommit(m[d].v, 0, 0);	/* past the model: not run */
		if (!m[d].slice)
			fail_msg("model bound");
		return;
	}
	po = doff;
	o = owner(d, &po);
	if (pinned_in(o, po, po + len)) {
		assert_int_equal(r, -EBUSY);
		return;
	}
	assert_int_equal(r, (int64_t)len);
	for (k = 0; k < len; k++)
		tmp[k] = mget(sidx, soff + k);
	for (k = 0; k < len; k++)
		mset(d, doff + k, tmp[k]);
	if (m[d].slice) {
		int ro = m[d].root;
		if (m[d].soff + doff + len > m[ro].size)
			m[ro].size = m[d].soff + doff + len;
	} else if (doff + len > m[d].size) {
		m[d].size = doff + len;
	}
}

/*
 * AOLW parent p dies: each clone j of it keeps what p shows of p's own
 * pages (and zero past p's window), and reads p's live parent elsewhere.
 */
static void
orphan_aolw(int p)
{
	int j;

	for (j = 0; j < nm; j++) {
		uint64_t pg, po, nl;

		if (!m[j].alive || m[j].slice || m[j].lp != p)
			continue;
		n_orphaned++;
		for (pg = 0; pg * P < m[j].lwin && pg < CAP / P; pg++) {
			po = m[j].loff + pg * P;
			if (!m[j].own[pg] && (m[p].lp < 0 || po >= m[p].lwin ||
			    po >= CAP || m[p].own[po / P]))
				mown(j, pg);
		}
		if (m[p].lp < 0) {
			m[j].lp = -1;
			continue;
		}
		nl = m[p].lwin > m[j].loff ? m[p].lwin - m[j].loff : 0;
		if (m[j].lwin > nl)
			m[j].lwin = nl;
		m[j].loff += m[p].loff;
		m[j].lp = m[p].lp;
	}
}

/* i's own handle is gone: its reference alone still shows its bytes. */
static void
verify_ref_alone(int i)
{
	struct vmo *v = m[i].v;

	m[i].v = m[i].ref;
	verify(i);
	m[i].v = v;
}

/* Give i a reference (sometimes one of a reference), or drop it. */
static void
step_ref(int i)
{
	struct vmo *r = NULL, *r2 = NULL;

	if (m[i].ref != NULL) {
		TRACE("unref ref of %d\n", i);
		vmo_unref(m[i].ref);
		m[i].ref = NULL;
		return;
	}
	assert_int_equal(vmo_reference(m[i].v, &r), 0);
	if (rnd(2)) {
		assert_int_equal(vmo_reference(r, &r2), 0);
		vmo_unref(r);
		r = r2;
	}
	TRACE("ref of %d\n", i);
	m[i].ref = r;
}

static void
destroy(int i)
{
	TRACE("destroy %d\n", i);
	if (!m[i].slice)
		orphan_aolw(i);
	/* Either handle may go first: a reference keeps its target. */
	if (m[i].ref != NULL && rnd(2)) {
		vmo_unref(m[i].v);
		verify_ref_alone(i);
		vmo_unref(m[i].ref);
	} else {
		vmo_unref(m[i].ref);
		vmo_unref(m[i].v);
	}
	m[i].ref = NULL;
	m[i].alive = false;
	if (m[i].slice)
		m[m[i].root].nslices--;
}

/* dontneed / alwaysneed / prefetch over a range: no change in content. */
static void
step_hint(int i)
{
	uint64_t sz = vmo_size(H(i)), off = sz ? rnd(sz) : 0, len = sz - off;
	int what = (int)rnd(3), err;

	len = len ? rnd(len) + 1 : 0;
	if (what == 2)
		err = vmo_prefetch(H(i), off, len);
	else
		err = vmo_hint(H(i), off, len, what ? VMO_HINT_ALWAYSNEED : VMO_HINT_DONTNEED);
	TRACE("hint %d what %d off %llu len %llu -> %d\n", i, what,
	    (unsigned long long)off, (unsigned long long)len, err);
	if (what == 1 && mlive(i)) {	/* alwaysneed commits: private pages */
		assert_int_equal(err, 0);
		mown_range(i, off / P * P, len ? proundup(off + len) : off / P * P);
	}
	assert_true(err == 0 || err == -ENOSPC);
}

static void
check_all(struct vm *vm)
{
	struct vmo *vs[2 * MAXV * 8];
	int i, n = 0;

	for (i = 0; i < nm; i++) {
		if (m[i].alive)
			vs[n++] = m[i].v;
		if (m[i].alive && m[i].ref != NULL)
			vs[n++] = m[i].ref;	/* charged nothing: the sum holds */
	}
	vt_check_vmos(vm, vs, n);
}

/*
 * The model run.  With compress, the VM has a compressed store and every
 * few steps reclaim runs (pages become zero markers or compressed slots,
 * oldest first; the queues age), so every operation also meets pages that
 * are not resident, in leaves and in hidden nodes; hints join the steps.
 */
static void
run_model(bool compress)
{
	const char *e = getenv("VM_MODEL_SEED"), *st = getenv("VM_MODEL_STEPS");
	uint64_t seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
	long steps = st ? atol(st) : 5000, n;
	struct vm_config cfg = { .limit_bytes = (MAXV * 8 * 64 + 64) * P, .ncpu = 2,
	    .pcache_reserve = 8, .compress = compress };
	struct vm *vm = NULL;
	int i, op, every;

	assert_int_equal(vm_create(&cfg, &vm), 0);
	print_message("VM_MODEL_SEED=%llu VM_MODEL_STEPS=%ld compress=%d\n",
	    (unsigned long long)seed, steps, compress);
	rng = seed * 2654435761u + 1;
	trace = getenv("VM_MODEL_TRACE") != NULL;
	every = trace ? 1 : 16;
	nm = 0;
	n_aolw = n_orphaned = n_refused = 0;
	for (n = 0; n < steps; n++) {
		op = (int)rnd(100);
		if (nlive() == 0 || (op < 6 && nlive() < MAXV)) {
			i = new_slot();
			assert_int_equal(vmo_create(vm, rnd(16 * P), VMO_RESIZABLE, &m[i].v), 0);
			TRACE("create %d size %llu\n", i, (unsigned long long)vmo_size(m[i].v));
			m[i].size = vmo_size(m[i].v);
			continue;
		}
		i = pick(false);
		if (i < 0)
			continue;
		if (rnd(40) == 0)
			step_ref(i);
		if (op < 40)
			step_write(i);
		else if (op < 50 && nlive() < MAXV)
			step_clone(i);
		else if (op < 55 && nlive() < MAXV)
			step_slice(i);
		else if (op < 62)
			step_resize(i);
		else if (op < 84)
			step_range(i, (int)rnd(5));
		else if (op < 90 && pick(false) >= 0)
			step_share(i, pick(false));
		else if (op < 97 && (m[i].slice || m[i].nslices == 0))
			destroy(i);
		else if (compress && op < 99)
			step_hint(i);
		else if (compress) {
			uint64_t want = rnd(96) + 1, got = vm_test_reclaim(vm, want);

			TRACE("reclaim %llu -> %llu\n", (unsigned long long)want,
			    (unsigned long long)got);
			if (rnd(4) == 0)
				vm_test_age(vm);
			if (rnd(3) == 0) {
				got = vm_test_zero_scan(vm);
				TRACE("zero scan -> %llu\n", (unsigned long long)got);
			}
		}
		for (i = 0; i < nm; i++)
			if (m[i].alive)
				verify(i);
		if (n % every == 0)
			check_all(vm);
		if (nm > MAXV * 8 - 2) {
			/* Compact: keep the live ones, renumbering roots. */
			int map[MAXV * 8], k = 0;
			for (i = 0; i < nm; i++) {
				map[i] = k;
				if (m[i].alive)
					m[k++] = m[i];
				else
					free(m[i].b);
			}
			for (i = 0; i < k; i++) {
				if (m[i].slice)
					m[i].root = map[m[i].root];
				if (m[i].lp >= 0)
					m[i].lp = map[m[i].lp];
			}
			nm = k;
		}
	}
	check_all(vm);
	print_message("aolw clones %llu, orphaned %llu, snapshots refused %llu\n",
	    (unsigned long long)n_aolw, (unsigned long long)n_orphaned,
	    (unsigned long long)n_refused);
	if (steps >= 2000)
		assert_true(n_aolw > 0 && n_orphaned > 0 && n_refused > 0);
	for (i = 0; i < nm; i++)
		if (m[i].alive && m[i].slice)
			destroy(i);
	for (i = 0; i < nm; i++) {
		if (m[i].alive)
			destroy(i);
		free(m[i].b);
	}
	assert_int_equal(vm_test_used_pages(vm), 0);
	if (compress) {
		struct vm_stats vs;

		vm_get_stats(vm, &vs);
		print_message("compressed %llu decompressed %llu zero %llu incompressible %llu\n",
		    (unsigned long long)vs.compressed, (unsigned long long)vs.decompressed,
		    (unsigned long long)vs.zero_deduped, (unsigned long long)vs.incompressible);
		/* The run must have exercised the store both ways. */
		if (steps >= 2000) {
			assert_true(vs.compressed > 0 && vs.decompressed > 0);
			assert_true(vs.zero_deduped > 0 && vs.incompressible > 0);
		}
	}
	vm_destroy(vm);
}

static void
test_model(void **state)
{
	(void)state;
	run_model(false);
}

static void
test_model_compress(void **state)
{
	(void)state;
	run_model(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_model_compress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
