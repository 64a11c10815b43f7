/*
 * test_model_mt.c - randomized model test of one clone tree driven by
 * several threads at once (issue #16, bug 1).
 *
 * Invariant guarded: the page lists of a clone tree stay exact (every
 * node's used count and every list's page/marker counts match its slots:
 * plist_check, run by vmo_test_check) and every VMO reads what its byte
 * model says, while threads write, clone, slice, resize, zero, decommit,
 * pin and destroy VMOs of the *same* hierarchy and, at the same time, ask
 * for attribution (vmo_get_attr: what every lookup of an `info` file and
 * every readdirplus of a VMO directory does in the daemon).
 *
 * The bug it was written for: attribution walked page lists with
 * plist_foreach under the shared hierarchy lock, and that walk did
 * used-- / used++ on every slot it visited.  Two readers of one hidden
 * node lost updates of its nodes' used counts, and the next walk that
 * emptied such a node (rmdir of a clone: cow_release_above, cow_merge)
 * aborted on "n->used > 0" in plist_account.  Before the fix this test
 * aborted that way within a second (or failed plist_check) on every seed.
 *
 * Layout.  Thread 0 owns the root VMO R (anonymous, filled at start) and
 * may write and resize it; every thread owns up to MAXV VMOs of R's tree:
 * clones of R (whole or ranged, at offsets that are any page, so windows
 * do not line up with page-list nodes), clones of its own VMOs (clones of
 * clones, ranged, of slices too), slices of its own VMOs.  A VMO is only
 * ever touched by its owner, so each thread keeps an exact byte model of
 * its VMOs; R's model and every clone of R are taken under rmu, so a clone
 * of R copies the model R had when the clone was made.  Each thread
 * destroys its VMOs in random order while siblings, parents and clones
 * live on, in the other threads too.
 *
 * The op sequence of each thread is decided by its seed alone
 * (VM_MODEL_SEED + thread), the interleaving by the scheduler: a failure
 * prints the seed and the thread, and VM_MODEL_THREADS=1 replays one
 * thread's sequence without the others.  VM_MODEL_STEPS=N steps per
 * thread, VM_MODEL_THREADS=N threads (default 4).  The second run adds
 * reclaim: a compressed store, the reclaimer thread, and forced reclaim,
 * queue aging and zero scans by the threads, so pages turn into zero
 * markers and compressed slots in leaves and hidden nodes meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "vmtest.h"

#define CAP	(96 * P)	/* model capacity per VMO: six page-list nodes */
#define MAXV	12		/* live VMOs per thread */
#define MAXT	8

struct mv {
	struct vmo	*v;
	bool		alive, slice;
	unsigned char	*b;		/* non-slice: bytes, zero past size */
	uint64_t	size;		/* non-slice: content size */
	uint16_t	pins[CAP / P];	/* non-slice */
	int		nslices;	/* non-slice: live slices on it */
	int		root;		/* slice: index of its root */
	uint64_t	soff, slen;	/* slice window */
};

struct thr {
	int		id;
	uint64_t	rng, seed;
	long		steps, done;
	struct mv	m[MAXV];	/* thread 0: m[0] is R */
	jmp_buf		bail;
	bool		holds_rmu;
	char		why[256];
	pthread_t	tid;
};

static struct vm *vm;
static pthread_mutex_t rmu = PTHREAD_MUTEX_INITIALIZER;	/* R and its model */
static struct thr thr[MAXT];
static int nthr;
static _Atomic bool stop;
static bool with_reclaim;	/* compress, the reclaimer thread, forced reclaim */

#define R (&thr[0].m[0])

static uint64_t rnd(struct thr *t, uint64_t n) { return vt_rnd(&t->rng, n); }
static uint64_t proundup(uint64_t x) { return (x + P - 1) / P * P; }

static void __attribute__((format(printf, 2, 3), noreturn))
bail(struct thr *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
	atomic_store(&stop, true);
	if (t->holds_rmu)
		pthread_mutex_unlock(&rmu);
	t->holds_rmu = false;
	longjmp(t->bail, 1);
}

#define EXPECT(t, cond, ...) do { if (!(cond)) bail((t), __VA_ARGS__); } while (0)

/* rmu, remembered so that bail can let go of it. */
static void
lock_r(struct thr *t)
{
	pthread_mutex_lock(&rmu);
	t->holds_rmu = true;
}

static void
unlock_r(struct thr *t)
{
	t->holds_rmu = false;
	pthread_mutex_unlock(&rmu);
}

static uint64_t msize(struct thr *t, int i)
{
	return t->m[i].slice ? t->m[i].slen : t->m[i].size;
}

static unsigned char
mget(struct thr *t, int i, uint64_t off)
{
	struct mv *x = &t->m[i];

	if (x->slice)
		return off < x->slen ? t->m[x->root].b[x->soff + off] : 0;
	return off < CAP ? x->b[off] : 0;
}

static void
mset(struct thr *t, int i, uint64_t off, unsigned char c)
{
	struct mv *x = &t->m[i];

	if (x->slice)
		t->m[x->root].b[x->soff + off] = c;
	else
		x->b[off] = c;
}

/* A free slot, or -1. */
static int
new_slot(struct thr *t)
{
	for (int i = 0; i < MAXV; i++) {
		if (!t->m[i].alive) {
			free(t->m[i].b);
			memset(&t->m[i], 0, sizeof(t->m[i]));
			t->m[i].b = calloc(1, CAP);
			t->m[i].alive = true;
			return i;
		}
	}
	return -1;
}

static int
pick(struct thr *t)
{
	for (int tries = 0; tries < 64; tries++) {
		int i = (int)rnd(t, MAXV);

		if (t->m[i].alive)
			return i;
	}
	return -1;
}

static int
nlive(struct thr *t)
{
	int n = 0;

	for (int i = 0; i < MAXV; i++)
		n += t->m[i].alive;
	return n;
}

static void
verify(struct thr *t, int i)
{
	static _Thread_local unsigned char got[CAP + P];
	uint64_t s = msize(t, i), k;
	ssize_t r;

	EXPECT(t, vmo_size(t->m[i].v) == s, "vmo %d: size %llu, model %llu", i,
	    (unsigned long long)vmo_size(t->m[i].v), (unsigned long long)s);
	r = vmo_read(t->m[i].v, got, 0, sizeof(got));
	EXPECT(t, r == (ssize_t)s, "vmo %d: read %zd of %llu", i, r,
	    (unsigned long long)s);
	for (k = 0; k < s; k++)
		EXPECT(t, got[k] == mget(t, i, k), "vmo %d byte %llu: got %u want %u",
		    i, (unsigned long long)k, got[k], mget(t, i, k));
}

static void
verify_all(struct thr *t)
{
	for (int i = 0; i < MAXV; i++)
		if (t->m[i].alive)
			verify(t, i);
}

static bool is_r(struct thr *t, int i) { return t->id == 0 && i == 0; }

/* Does an op on VMO i change R's bytes or size (R, or a slice of it)?
 * Then it runs under rmu, as clones of R by other threads do. */
static bool
touches_r(struct thr *t, int i)
{
	return is_r(t, i) || (t->id == 0 && t->m[i].slice && t->m[i].root == 0);
}

/* Owner of page offset *off of VMO i (pins live on the root's pages). */
static int
owner(struct thr *t, int i, uint64_t *off)
{
	if (t->m[i].slice) {
		*off += t->m[i].soff;
		return t->m[i].root;
	}
	return i;
}

static bool
pinned_in(struct thr *t, int o, uint64_t s, uint64_t e)
{
	for (; s < e && s < CAP; s += P)
		if (t->m[o].pins[s / P])
			return true;
	return false;
}

static void
step_write(struct thr *t, int i)
{
	unsigned char buf[3 * P];
	uint64_t off = rnd(t, CAP - 3 * P), len = 1 + rnd(t, 3 * P), k;
	struct mv *x = &t->m[i];
	ssize_t r;

	vt_mixed_bytes(buf, len, &t->rng);
	if (touches_r(t, i))
		lock_r(t);
	r = vmo_write(x->v, buf, off, len);
	if (x->slice) {
		if (off >= x->slen) {
			EXPECT(t, r == -EFBIG, "write past slice %d: %zd", i, r);
			goto out;
		}
		if (len > x->slen - off)
			len = x->slen - off;
	}
	EXPECT(t, r == (ssize_t)len, "write %d off %llu: %zd of %llu", i,
	    (unsigned long long)off, r, (unsigned long long)len);
	for (k = 0; k < len; k++)
		mset(t, i, off + k, buf[k]);
	if (x->slice) {
		struct mv *ro = &t->m[x->root];

		if (x->soff + off + len > ro->size)
			ro->size = x->soff + off + len;
	} else if (off + len > x->size) {
		x->size = off + len;
	}
out:
	if (touches_r(t, i))
		unlock_r(t);
}

/* Clone src (own VMO si, or R when si < 0) into a new slot. */
static void
step_clone(struct thr *t, int si)
{
	struct thr *rt = &thr[0];
	int src = si < 0 ? 0 : si, j;
	struct thr *st = si < 0 ? rt : t;
	uint64_t s, off, len, k;
	bool whole = rnd(t, 2);
	struct vmo *c = NULL;
	int err;

	if ((j = new_slot(t)) < 0)
		return;
	if (si < 0 || is_r(t, si))
		lock_r(t);
	s = msize(st, src);
	off = rnd(t, s / P + 3) * P;	/* any page: windows skew the lists */
	len = whole ? (s > off ? s - off : 0) : rnd(t, 40 * P);
	err = vmo_clone(st->m[src].v, off, whole ? VMO_WHOLE : len, &c);
	if (err == 0)
		for (k = 0; k < len && k < CAP; k++)
			t->m[j].b[k] = mget(st, src, off + k);
	if (si < 0 || is_r(t, si))
		unlock_r(t);
	EXPECT(t, err == 0, "clone of %d off %llu len %llu: %d", si,
	    (unsigned long long)off, (unsigned long long)len, err);
	t->m[j].v = c;
	t->m[j].size = len;
	if (len > CAP) {	/* past the model: too big to follow */
		vmo_unref(c);
		t->m[j].alive = false;
	}
}

static void
step_slice(struct thr *t, int i)
{
	uint64_t top = proundup(msize(t, i)), off = rnd(t, top / P + 1) * P;
	uint64_t len = rnd(t, top + P);
	struct vmo *v = NULL;
	int err, j, ro;

	if (is_r(t, i))
		lock_r(t);
	err = vmo_slice(t->m[i].v, off, len, &v);
	if (is_r(t, i))
		unlock_r(t);
	if (len == 0 || off + len > top) {
		EXPECT(t, err == -EINVAL, "bad slice of %d: %d", i, err);
		return;
	}
	EXPECT(t, err == 0, "slice of %d: %d", i, err);
	if ((j = new_slot(t)) < 0) {
		vmo_unref(v);
		return;
	}
	ro = t->m[i].slice ? t->m[i].root : i;
	t->m[j].v = v;
	t->m[j].slice = true;
	t->m[j].root = ro;
	t->m[j].soff = (t->m[i].slice ? t->m[i].soff : 0) + off;
	t->m[j].slen = len;
	t->m[ro].nslices++;
}

static void
step_resize(struct thr *t, int i)
{
	uint64_t ns = rnd(t, 80 * P), k;
	struct mv *x = &t->m[i];
	bool busy = false;
	int err;

	if (is_r(t, i))
		lock_r(t);
	err = vmo_resize(x->v, ns);
	if (x->slice) {
		EXPECT(t, err == -EPERM, "resize of slice %d: %d", i, err);
		goto out;
	}
	if (ns < x->size) {
		for (int j = 0; j < MAXV; j++)
			if (t->m[j].alive && t->m[j].slice && t->m[j].root == i &&
			    t->m[j].soff + t->m[j].slen > proundup(ns))
				busy = true;
		busy |= pinned_in(t, i, proundup(ns), CAP);
	}
	if (busy) {
		EXPECT(t, err == -EBUSY, "resize %d to %llu: %d, want EBUSY", i,
		    (unsigned long long)ns, err);
		goto out;
	}
	EXPECT(t, err == 0, "resize %d to %llu: %d", i, (unsigned long long)ns, err);
	for (k = ns; k < CAP; k++)
		x->b[k] = 0;
	x->size = ns;
out:
	if (is_r(t, i))
		unlock_r(t);
}

/*
 * May decommit [off, off+len) of i free the pages around it (vmo.h)?  off
 * aligned, and the end aligned or past the bytes of the pages' owner (a
 * slice's root), as test_model's decommit_ok.
 */
static bool
decommit_ok(struct thr *t, int i, uint64_t off, uint64_t len)
{
	struct mv *x = &t->m[i];
	uint64_t named = off + len < msize(t, i) ? off + len : msize(t, i);
	uint64_t base = x->slice ? x->soff : 0;
	uint64_t osize = x->slice ? t->m[x->root].size : x->size;

	if (len == 0)
		return true;
	if (off % P != 0)
		return false;
	return proundup(off + len) == named || base + named >= osize;
}

/*
 * zero (exact; on a slice it stops at the slice's end), decommit (whole
 * pages only: an unaligned range is EINVAL, decommit_ok), commit, pin, unpin (an empty pin or
 * unpin is EINVAL, vmo.h).
 */
static void
step_range(struct thr *t, int i, int what)
{
	uint64_t top = proundup(msize(t, i)), off = rnd(t, top + P), len = rnd(t, 8 * P);
	uint64_t s, e, k, po;
	bool whole = rnd(t, 8) == 0, r = touches_r(t, i);
	int err, o;

	if (what == 1 && rnd(t, 4) != 0) {	/* decommit: mostly a valid range */
		off = off / P * P;
		len = rnd(t, 2) ? len / P * P : (msize(t, i) > off ? msize(t, i) - off : 0);
	}
	if (whole) {
		off = 0;
		len = top;
	}
	if (r)
		lock_r(t);
	switch (what) {
	case 0: err = vmo_zero(t->m[i].v, off, whole ? VMO_WHOLE : len); break;
	case 1: err = vmo_decommit(t->m[i].v, off, whole ? VMO_WHOLE : len); break;
	case 2: err = vmo_commit(t->m[i].v, off, whole ? VMO_WHOLE : len); break;
	case 3: err = vmo_pin(t->m[i].v, off, whole ? VMO_WHOLE : len); break;
	default: err = vmo_unpin(t->m[i].v, off, whole ? VMO_WHOLE : len); break;
	}
	if (off + len > top) {
		EXPECT(t, err == -EINVAL, "range %d op %d past end: %d", i, what, err);
		goto out;
	}
	s = off / P * P;
	e = len == 0 ? s : proundup(off + len);
	po = s;
	o = owner(t, i, &po);
	if ((what == 3 || what == 4) && len == 0) {
		EXPECT(t, err == -EINVAL, "empty pin/unpin %d: %d", i, err);
		goto out;
	}
	switch (what) {
	case 0:
		EXPECT(t, err == 0, "zero %d: %d", i, err);
		for (k = off; k < off + len && k < msize(t, i); k++)
			mset(t, i, k, 0);
		break;
	case 1:
		if (!decommit_ok(t, i, off, len)) {
			EXPECT(t, err == -EINVAL, "decommit %d unaligned: %d", i, err);
			break;
		}
		if (pinned_in(t, o, po, po + (e - s))) {
			EXPECT(t, err == -EBUSY, "decommit %d pinned: %d", i, err);
			break;
		}
		EXPECT(t, err == 0, "decommit %d off %llu len %llu whole %d size %llu slice %d: %d", i, (unsigned long long)off, (unsigned long long)len, whole, (unsigned long long)msize(t, i), t->m[i].slice, err);
		for (k = s; k < e; k++)
			mset(t, i, k, 0);
		break;
	case 2:
		EXPECT(t, err == 0, "commit %d: %d", i, err);
		break;
	case 3:
		EXPECT(t, err == 0, "pin %d: %d", i, err);
		for (k = po; k < po + (e - s); k += P)
			t->m[o].pins[k / P]++;
		break;
	default:
		for (k = po; k < po + (e - s); k += P)
			if (t->m[o].pins[k / P] == 0)
				break;
		if (k < po + (e - s)) {
			EXPECT(t, err == -EINVAL, "unpin %d unpinned: %d", i, err);
			break;
		}
		EXPECT(t, err == 0, "unpin %d: %d", i, err);
		for (k = po; k < po + (e - s); k += P)
			t->m[o].pins[k / P]--;
		break;
	}
out:
	if (r)
		unlock_r(t);
}

/* Attribution of one of our VMOs, or of R: a reader of the whole chain. */
static void
step_attr(struct thr *t, int i)
{
	struct vmo_attr a;
	struct vmo *v = t->m[i].v;

	if (rnd(t, 4) == 0 && !is_r(t, i)) {
		lock_r(t);	/* R stays alive: thread 0 owns it */
		v = R->v;
		vmo_ref(v);
		unlock_r(t);
		EXPECT(t, vmo_get_attr(v, &a) == 0, "attr of R");
		vmo_unref(v);
		return;
	}
	EXPECT(t, vmo_get_attr(v, &a) == 0, "attr of %d", i);
	EXPECT(t, a.committed <= CAP + P && a.private_bytes <= a.committed &&
	    a.scaled <= a.committed, "attr of %d: committed %llu private %llu "
	    "scaled %llu", i, (unsigned long long)a.committed,
	    (unsigned long long)a.private_bytes, (unsigned long long)a.scaled);
}

static void
destroy(struct thr *t, int i)
{
	vmo_unref(t->m[i].v);
	t->m[i].alive = false;
	if (t->m[i].slice)
		t->m[t->m[i].root].nslices--;
	memset(t->m[i].pins, 0, sizeof(t->m[i].pins));
}

static void
one_step(struct thr *t)
{
	int op = (int)rnd(t, 100), i;

	if (nlive(t) == 0) {
		step_clone(t, -1);
		return;
	}
	if ((i = pick(t)) < 0)
		return;
	if (op < 28)
		step_write(t, i);
	else if (op < 36)
		step_clone(t, i);
	else if (op < 42)
		step_clone(t, -1);		/* a sibling under R's levels */
	else if (op < 47)
		step_slice(t, i);
	else if (op < 54)
		step_resize(t, i);
	else if (op < 68)
		step_range(t, i, (int)rnd(t, 5));
	else if (op < 88)
		step_attr(t, i);
	else if (op < 97) {
		if (!is_r(t, i) && (t->m[i].slice || t->m[i].nslices == 0))
			destroy(t, i);
	} else if (with_reclaim && rnd(t, 2)) {
		/* Pages go compressed or become zero markers under the
		 * others' feet; bytes must not change. */
		vm_test_reclaim(vm, rnd(t, 64) + 1);
		if (rnd(t, 4) == 0)
			vm_test_age(vm);
		if (rnd(t, 4) == 0)
			vm_test_zero_scan(vm);
	} else {
		vmo_test_check(t->m[i].v);	/* whole tree, shared lock */
	}
	if (i >= 0 && t->m[i].alive)
		verify(t, i);
}

static void *
thr_main(void *arg)
{
	struct thr *t = arg;

	if (setjmp(t->bail) != 0)
		return NULL;
	for (t->done = 0; t->done < t->steps && !atomic_load(&stop); t->done++) {
		one_step(t);
		if (t->done % 32 == 0)
			verify_all(t);
	}
	verify_all(t);
	return NULL;
}

static void
run_model(bool reclaim)
{
	const char *e = getenv("VM_MODEL_SEED"), *st = getenv("VM_MODEL_STEPS");
	const char *tn = getenv("VM_MODEL_THREADS");
	uint64_t seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
	long steps = st ? atol(st) : 3000;
	struct vm_config cfg = { .limit_bytes = 16384ull * P, .ncpu = 2,
	    .pcache_reserve = 8, .compress = reclaim };
	struct vmo *vs[MAXT * MAXV];
	unsigned char buf[64 * P];
	int i, n;

	with_reclaim = reclaim;
	nthr = tn ? atoi(tn) : 4;
	if (nthr < 1 || nthr > MAXT)
		nthr = 4;
	print_message("VM_MODEL_SEED=%llu VM_MODEL_STEPS=%ld VM_MODEL_THREADS=%d "
	    "reclaim=%d\n", (unsigned long long)seed, steps, nthr, reclaim);
	assert_int_equal(vm_create(&cfg, &vm), 0);
	if (reclaim)
		assert_int_equal(vm_reclaimer_start(vm), 0);
	atomic_store(&stop, false);
	memset(thr, 0, sizeof(thr));
	for (i = 0; i < nthr; i++) {
		thr[i].id = i;
		thr[i].seed = seed + (uint64_t)i;
		thr[i].rng = thr[i].seed * 2654435761u + 1;
		thr[i].steps = steps;
	}
	/* R: 64 pages of thread 0's random bytes, then the threads. */
	thr[0].m[0].alive = true;
	thr[0].m[0].b = calloc(1, CAP);
	assert_int_equal(vmo_create(vm, 0, VMO_RESIZABLE, &R->v), 0);
	vt_mixed_bytes(buf, sizeof(buf), &thr[0].rng);
	assert_int_equal(vmo_write(R->v, buf, 0, sizeof(buf)), (ssize_t)sizeof(buf));
	memcpy(R->b, buf, sizeof(buf));
	R->size = sizeof(buf);
	for (i = 0; i < nthr; i++)
		assert_int_equal(pthread_create(&thr[i].tid, NULL, thr_main, &thr[i]), 0);
	for (i = 0; i < nthr; i++)
		pthread_join(thr[i].tid, NULL);
	for (i = 0; i < nthr; i++)
		if (thr[i].why[0] != '\0')
			fail_msg("seed %llu thread %d step %ld: %s",
			    (unsigned long long)seed, i, thr[i].done, thr[i].why);
	/* Quiet now: the whole check, attribution sum included. */
	for (n = 0, i = 0; i < nthr; i++)
		for (int j = 0; j < MAXV; j++)
			if (thr[i].m[j].alive)
				vs[n++] = thr[i].m[j].v;
	vt_check_vmos(vm, vs, n);
	/* Slices first (they hold their roots), then the rest, mixed. */
	for (i = 0; i < nthr; i++)
		for (int j = 0; j < MAXV; j++)
			if (thr[i].m[j].alive && thr[i].m[j].slice)
				destroy(&thr[i], j);
	for (int j = MAXV - 1; j >= 0; j--)
		for (i = 0; i < nthr; i++)
			if (thr[i].m[j].alive)
				destroy(&thr[i], j);
	for (i = 0; i < nthr; i++)
		for (int j = 0; j < MAXV; j++)
			free(thr[i].m[j].b);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

static void
test_model_mt(void **state)
{
	(void)state;
	run_model(false);
}

/* The same with compress, the reclaimer thread running and the threads
 * forcing reclaim, aging and zero scans between their steps. */
static void
test_model_mt_reclaim(void **state)
{
	(void)state;
	run_model(true);
}

/*
 * At-least-on-write clones under concurrency.  Invariant guarded: while
 * one thread rewrites whole pages of R (each page one byte value, a
 * generation that only grows), others take ~aolw clones of R and
 * snapshots of R (which move the aolw clones onto R's new leaf), read
 * them, write pages of their own and destroy them, and ask for
 * attribution: every page an aolw clone reads is whole (one value: no
 * torn view of a page R was moving) and never older than what R held when
 * the clone was made, its own pages keep what it wrote, a snapshot keeps
 * what it saw, and the tree stays valid.  At the end R dies first and
 * the clones still alive keep what they last read.
 */
#define AO_PAGES	32
#define AO_THREADS	3

struct ao_ctx {
	struct vm	*vm;
	struct vmo	*r;
	_Atomic unsigned char gen;	/* R's newest value, every page */
	_Atomic bool	stop;
	long		steps;
	uint64_t	seed;
};

static bool
ao_page_is(const unsigned char *pg, unsigned char *val)
{
	size_t k;

	for (k = 1; k < P; k++)
		if (pg[k] != pg[0])
			return false;
	*val = pg[0];
	return true;
}

static void *
ao_writer(void *arg)
{
	struct ao_ctx *ac = arg;
	static unsigned char buf[P];
	uint64_t rng = ac->seed * 2654435761u + 7;
	int first;

	while (!atomic_load(&ac->stop)) {
		unsigned char g = atomic_load(&ac->gen);

		/* one page at a time, newest value first: a page never goes back */
		if (g == 250)
			break;
		g++;
		atomic_store(&ac->gen, g);
		memset(buf, g, P);
		first = (int)vt_rnd(&rng, AO_PAGES);	/* a round starts anywhere */
		for (int i = 0; i < AO_PAGES; i++)
			assert_int_equal(vmo_write(ac->r, buf,
			    (uint64_t)((first + i) % AO_PAGES) * P, P), P);
	}
	return NULL;
}

struct ao_thr {
	struct ao_ctx	*ac;
	int		id;
	struct vmo	*keep;		/* an aolw clone left alive at the end */
	unsigned char	seen[AO_PAGES];	/* keep's pages as last read */
};

static void *
ao_reader(void *arg)
{
	struct ao_thr *t = arg;
	struct ao_ctx *ac = t->ac;
	static __thread unsigned char buf[AO_PAGES * P];
	uint64_t rng = (ac->seed + (uint64_t)t->id) * 2654435761u + 1;

	for (long n = 0; n < ac->steps; n++) {
		struct vmo *c = NULL, *s = NULL;
		/* gen g is set before R's pages get g: all hold g - 1 at least */
		unsigned char floor = (unsigned char)(atomic_load(&ac->gen) - 1), v;
		unsigned char own = (unsigned char)(251 + t->id);
		struct vmo_attr a;
		int mine = (int)vt_rnd(&rng, AO_PAGES);

		assert_int_equal(vmo_clone_as(ac->r, VMO_CLONE_AOLW, 0, VMO_WHOLE, &c), 0);
		if (vt_rnd(&rng, 3) == 0)
			assert_int_equal(vmo_clone(ac->r, 0, VMO_WHOLE, &s), 0);
		memset(buf, own, P);
		assert_int_equal(vmo_write(c, buf, (uint64_t)mine * P, P), P);
		assert_int_equal(vmo_read(c, buf, 0, sizeof(buf)), (ssize_t)sizeof(buf));
		for (int i = 0; i < AO_PAGES; i++) {
			if (!ao_page_is(buf + (size_t)i * P, &v))
				fail_msg("thread %d step %ld: page %d of an aolw clone torn", t->id, n, i);
			if (i == mine)
				assert_int_equal(v, own);
			else if (v < floor)
				fail_msg("thread %d: page %d reads %u, older than %u", t->id, i, v, floor);
		}
		assert_int_equal(vmo_get_attr(c, &a), 0);
		assert_true(a.committed <= AO_PAGES * P && a.private_bytes >= P);
		if (s != NULL) {
			assert_int_equal(vmo_clone_as(c, VMO_CLONE_SNAPSHOT, 0, VMO_WHOLE, &s), -EOPNOTSUPP);
			vmo_unref(s);
		}
		if (t->keep == NULL && n == ac->steps / 2) {
			t->keep = c;
			continue;
		}
		vmo_unref(c);
	}
	return NULL;
}

static void
test_model_mt_aolw(void **state)
{
	const char *e = getenv("VM_MODEL_SEED");
	struct vm_config cfg = { .limit_bytes = 4096ull * P, .ncpu = 2, .pcache_reserve = 8 };
	struct ao_ctx ac = { .steps = 300 };
	struct ao_thr th[AO_THREADS];
	pthread_t w, rt[AO_THREADS];
	static unsigned char buf[AO_PAGES * P];
	int i;

	(void)state;
	ac.seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL);
	print_message("VM_MODEL_SEED=%llu\n", (unsigned long long)ac.seed);
	assert_int_equal(vm_create(&cfg, &ac.vm), 0);
	ac.r = vt_vmo(ac.vm, AO_PAGES * P);
	memset(buf, 1, sizeof(buf));
	assert_int_equal(vmo_write(ac.r, buf, 0, sizeof(buf)), (ssize_t)sizeof(buf));
	atomic_store(&ac.gen, 1);
	assert_int_equal(pthread_create(&w, NULL, ao_writer, &ac), 0);
	for (i = 0; i < AO_THREADS; i++) {
		th[i] = (struct ao_thr){ .ac = &ac, .id = i };
		assert_int_equal(pthread_create(&rt[i], NULL, ao_reader, &th[i]), 0);
	}
	for (i = 0; i < AO_THREADS; i++)
		pthread_join(rt[i], NULL);
	atomic_store(&ac.stop, true);
	pthread_join(w, NULL);
	print_message("R rewritten %u times\n", (unsigned)atomic_load(&ac.gen) - 1);
	/* R dies first: each kept clone keeps what it reads now. */
	for (i = 0; i < AO_THREADS; i++) {
		vmo_test_check(th[i].keep);
		assert_int_equal(vmo_read(th[i].keep, buf, 0, sizeof(buf)), (ssize_t)sizeof(buf));
		for (int k = 0; k < AO_PAGES; k++)
			assert_true(ao_page_is(buf + (size_t)k * P, &th[i].seen[k]));
	}
	vmo_unref(ac.r);
	for (i = 0; i < AO_THREADS; i++) {
		unsigned char v;

		assert_int_equal(vmo_read(th[i].keep, buf, 0, sizeof(buf)), (ssize_t)sizeof(buf));
		for (int k = 0; k < AO_PAGES; k++) {
			assert_true(ao_page_is(buf + (size_t)k * P, &v));
			assert_int_equal(v, th[i].seen[k]);
		}
		vmo_test_check(th[i].keep);
		vmo_unref(th[i].keep);
	}
	assert_int_equal(vm_test_used_pages(ac.vm), 0);
	vm_destroy(ac.vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_mt),
		cmocka_unit_test(test_model_mt_reclaim),
		cmocka_unit_test(test_model_mt_aolw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
