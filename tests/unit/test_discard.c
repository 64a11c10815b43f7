/*
 * test_discard.c - discardable VMOs (vm/discard.c, the contract in vmo.h).
 *
 * Invariants guarded:
 *  - only an unlocked discardable VMO that was unlocked at least once is
 *    ever discarded, whole, and the next lock says so (and only that one);
 *  - reclaim discards before it takes any other page, oldest unlock first;
 *  - locks count; trylock of a discarded VMO fails and leaves it unlocked;
 *  - a discarded VMO keeps its size and reads zero;
 *  - nothing here needs memory: lock, unlock and discard work while every
 *    allocation fails, and a failed create leaves nothing behind.
 * test_model_random runs all of it against a byte-array model.
 */
#include <errno.h>
#include <stdio.h>

#include "vmtest.h"

static struct vmo *
dvmo(struct vm *vm, uint64_t size)
{
	struct vmo *v = NULL;

	assert_int_equal(vmo_create(vm, size, VMO_RESIZABLE | VMO_DISCARDABLE, &v), 0);
	return v;
}

static void
lstate(struct vmo *v, uint64_t locks, bool discarded, bool candidate)
{
	struct vmo_lock_state ls;

	assert_int_equal(vmo_lock_state(v, &ls), 0);
	assert_int_equal(ls.locks, locks);
	assert_int_equal(ls.discarded, discarded);
	assert_int_equal(ls.candidate, candidate);
	vmo_test_check(v);
}

static uint64_t
committed(struct vmo *v)
{
	struct vmo_attr a;

	assert_int_equal(vmo_get_attr(v, &a), 0);
	return a.committed;
}

/* Lock, fill npg pages with seed's pattern, unlock. */
static void
fill_unlocked(struct vmo *v, uint64_t npg, unsigned seed)
{
	bool d;

	assert_int_equal(vmo_lock(v, &d), 0);
	vt_fill(v, 0, npg * P, seed);
	assert_int_equal(vmo_unlock(v), 0);
}

/* Errors and lock counting, no pressure. */
static void
test_lock_counting(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *plain = vt_vmo(vm, P), *v = dvmo(vm, 0), *c;
	bool d = true;
	struct vmo_lock_state ls;

	(void)state;
	assert_false(vmo_is_discardable(plain));
	assert_true(vmo_is_discardable(v));
	assert_int_equal(vmo_lock(plain, &d), -EOPNOTSUPP);
	assert_int_equal(vmo_trylock(plain, &d), -EOPNOTSUPP);
	assert_int_equal(vmo_unlock(plain), -EOPNOTSUPP);
	assert_int_equal(vmo_lock_state(plain, &ls), -EOPNOTSUPP);
	lstate(v, 0, false, false);		/* new: unlocked, not a candidate */
	assert_int_equal(vmo_unlock(v), -EINVAL);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(vmo_lock(v, &d), 0);
		assert_false(d);
		lstate(v, i, false, false);
	}
	assert_int_equal(vmo_trylock(v, &d), 0);
	lstate(v, 4, false, false);
	for (int i = 3; i >= 0; i--) {
		assert_int_equal(vmo_unlock(v), 0);
		lstate(v, i, false, i == 0);
	}
	assert_int_equal(vmo_unlock(v), -EINVAL);
	lstate(v, 0, false, true);
	/* No children, no shared pages (as Zircon). */
	assert_int_equal(vmo_clone(v, 0, VMO_WHOLE, &c), -EOPNOTSUPP);
	assert_int_equal(vmo_slice(v, 0, P, &c), -EOPNOTSUPP);
	vt_fill(plain, 0, P, 1);
	assert_int_equal(vmo_share_range(v, 0, plain, 0, P), -EXDEV);
	assert_int_equal(vmo_share_range(plain, 0, v, 0, P), -EXDEV);
	/* Flags: only the two known bits. */
	assert_int_equal(vmo_create(vm, 0, 0x4, &c), -EINVAL);
	vmo_unref(plain);
	vmo_unref(v);
	assert_int_equal(vm_test_check_discard(vm), 0);
	vm_destroy(vm);
}

/*
 * Reclaim discards before anything else, oldest unlock first, and only
 * as many VMOs as it needs; a VMO never unlocked and a locked one stay.
 */
static void
test_discard_order(void **state)
{
	struct vm_config cfg = { .limit_bytes = 1024 * P, .ncpu = 1,
	    .no_pcache = true, .compress = true };
	struct vm *vm = NULL;
	struct vmo *a, *b, *c, *never, *locked, *anon;
	struct vm_stats st;
	uint64_t ids[8];
	bool d;

	(void)state;
	assert_int_equal(vm_create(&cfg, &vm), 0);
	anon = vt_vmo(vm, 0);
	vt_fill(anon, 0, 16 * P, 9);		/* compressible, and oldest */
	a = dvmo(vm, 0);
	b = dvmo(vm, 0);
	c = dvmo(vm, 0);
	never = dvmo(vm, 0);
	locked = dvmo(vm, 0);
	vt_fill(never, 0, 8 * P, 4);
	assert_int_equal(vmo_lock(locked, &d), 0);
	vt_fill(locked, 0, 8 * P, 5);
	fill_unlocked(b, 8, 2);			/* unlock order: b, a, c */
	fill_unlocked(a, 4, 1);
	fill_unlocked(c, 8, 3);
	assert_int_equal(vm_test_discard_order(vm, ids, 8), 3);
	assert_int_equal(ids[0], vmo_id(b));
	assert_int_equal(ids[1], vmo_id(a));
	assert_int_equal(ids[2], vmo_id(c));

	/* 10 pages: b (8) is not enough, a (4) makes 12; c stays. */
	assert_int_equal(vm_test_reclaim(vm, 10), 12);
	vm_get_stats(vm, &st);
	assert_int_equal(st.discarded_vmos, 2);
	assert_int_equal(st.discarded_pages, 12);
	assert_int_equal(st.compressed, 0);	/* nothing else was touched */
	assert_int_equal(st.q_discardable, 1);
	assert_int_equal(committed(anon), 16 * P);
	lstate(b, 0, true, false);
	lstate(a, 0, true, false);
	lstate(c, 0, false, true);
	/* Discarded: size kept, reads zero, holds nothing. */
	assert_int_equal(vmo_size(b), 8 * P);
	assert_int_equal(committed(b), 0);
	vt_expect(b, 0, 8 * P, -1);
	vt_expect(c, 0, 8 * P, 3);
	vt_expect(never, 0, 8 * P, 4);
	vt_expect(locked, 0, 8 * P, 5);
	/* The lock reports it once. */
	assert_int_equal(vmo_lock(b, &d), 0);
	assert_true(d);
	lstate(b, 1, false, false);
	assert_int_equal(vmo_unlock(b), 0);
	assert_int_equal(vmo_lock(b, &d), 0);
	assert_false(d);
	assert_int_equal(vmo_unlock(b), 0);

	/* Next: c, then b (an empty one is discarded too, freeing 0),
	 * then the page queues (compression of anon). */
	assert_int_equal(vm_test_discard_order(vm, ids, 8), 2);
	assert_int_equal(ids[0], vmo_id(c));
	assert_int_equal(ids[1], vmo_id(b));
	vm_test_reclaim(vm, 9);
	lstate(c, 0, true, false);
	lstate(b, 0, true, false);
	vt_expect(anon, 0, 16 * P, 9);
	vt_expect(locked, 0, 8 * P, 5);
	vt_expect(never, 0, 8 * P, 4);
	vm_get_stats(vm, &st);
	assert_int_equal(st.discarded_vmos, 4);
	assert_int_equal(st.discarded_pages, 20);
	assert_int_equal(st.q_discardable, 0);
	assert_int_equal(vmo_unlock(locked), 0);
	vmo_unref(a); vmo_unref(b); vmo_unref(c); vmo_unref(never);
	vmo_unref(locked); vmo_unref(anon);
	vm_destroy(vm);
}

/* trylock of a discarded VMO fails, leaves it unlocked, reports it. */
static void
test_trylock(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *v = dvmo(vm, 0);
	bool d = false;

	(void)state;
	fill_unlocked(v, 4, 7);
	assert_int_equal(vm_test_reclaim(vm, 1), 4);
	assert_int_equal(vmo_trylock(v, &d), -EAGAIN);
	assert_true(d);
	lstate(v, 0, true, false);
	assert_int_equal(vmo_unlock(v), -EINVAL);
	/* Writes while unlocked are allowed; it stays off the list. */
	vt_fill(v, 0, P, 8);
	lstate(v, 0, true, false);
	assert_int_equal(vm_test_reclaim(vm, 1), 0);	/* not zero: stays */
	vt_expect(v, 0, P, 8);
	assert_int_equal(vmo_lock(v, &d), 0);
	assert_true(d);
	assert_int_equal(vmo_unlock(v), 0);
	assert_int_equal(vmo_trylock(v, &d), 0);
	assert_false(d);
	assert_int_equal(vmo_unlock(v), 0);
	vmo_unref(v);
	vm_destroy(vm);
}

/* Pinned pages are never reclaimed: such a VMO is passed over. */
static void
test_pinned_passed_over(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *v = dvmo(vm, 0), *w = dvmo(vm, 0);
	uint64_t ids[2];

	(void)state;
	fill_unlocked(v, 4, 1);
	fill_unlocked(w, 2, 2);
	assert_int_equal(vmo_pin(v, 0, P), 0);
	assert_int_equal(vm_test_reclaim(vm, 3), 2);	/* w only */
	lstate(v, 0, false, true);
	lstate(w, 0, true, false);
	assert_int_equal(vm_test_discard_order(vm, ids, 2), 1);
	vt_expect(v, 0, 4 * P, 1);
	assert_int_equal(vmo_unpin(v, 0, P), 0);
	assert_int_equal(vm_test_reclaim(vm, 1), 4);
	lstate(v, 0, true, false);
	vmo_unref(v);
	vmo_unref(w);
	vm_destroy(vm);
}

/*
 * Under memory pressure, with the reclaimer thread running: writes that
 * need the room get it by discarding the unlocked VMO; the locked one
 * and every byte written survive.
 */
static void
test_pressure(void **state)
{
	struct vm *vm = vt_vm(1024);
	struct vmo *l = dvmo(vm, 0), *u = dvmo(vm, 0), *big = vt_vmo(vm, 0);
	struct vm_stats st;
	bool d;

	(void)state;
	assert_int_equal(vm_reclaimer_start(vm), 0);
	assert_int_equal(vmo_lock(l, &d), 0);
	vt_fill(l, 0, 128 * P, 1);
	fill_unlocked(u, 256, 2);
	/* 128 + 256 + 640 pages = the whole limit: u must go. */
	for (uint64_t off = 0; off < 640 * P; off += 32 * P)
		vt_fill(big, off, 32 * P, 3);
	vt_expect(big, 0, 640 * P, 3);
	vt_expect(l, 0, 128 * P, 1);
	assert_int_equal(vmo_trylock(u, &d), -EAGAIN);
	assert_true(d);
	assert_int_equal(vmo_lock(l, &d), 0);
	assert_false(d);
	vm_get_stats(vm, &st);
	assert_int_equal(st.discarded_vmos, 1);
	assert_int_equal(st.discarded_pages, 256);
	assert_int_equal(vmo_unlock(l), 0);
	assert_int_equal(vmo_unlock(l), 0);
	/* Now l is the oldest unlock: more pressure takes it. */
	vt_fill(big, 640 * P, 200 * P, 4);
	lstate(l, 0, true, false);
	vt_expect(big, 0, 640 * P, 3);
	vmo_unref(l);
	vmo_unref(u);
	vmo_unref(big);
	vm_destroy(vm);
}

/*
 * Fault injection: with every allocation failing, lock, unlock, trylock,
 * the discard and destroy still work; a create fails cleanly at each of
 * its allocations.
 */
static void
test_faults(void **state)
{
	struct vm_config cfg = { .limit_bytes = 256 * P, .ncpu = 1, .no_pcache = true };
	struct vm *vm = NULL;
	struct vmo *v = NULL, *w;
	unsigned char b[P];
	uint64_t nth;
	bool d;
	int r;

	(void)state;
	assert_int_equal(vm_create(&cfg, &vm), 0);
	for (nth = 1; ; nth++) {
		fault_set(nth, 0);
		r = vmo_create(vm, 0, VMO_RESIZABLE | VMO_DISCARDABLE, &v);
		fault_clear();
		if (r == 0)
			break;
		assert_int_equal(r, -ENOMEM);
		assert_int_equal(vm_test_check_discard(vm), 0);
	}
	assert_true(nth > 1);
	fill_unlocked(v, 4, 1);
	memset(b, 0x5a, sizeof(b));
	fault_set(0, 1000000);
	/* Locked: the write's retries (vmo.c) reclaim, and would discard v
	 * itself if it were unlocked. */
	assert_int_equal(vmo_lock(v, &d), 0);
	assert_false(d);
	assert_int_equal(vmo_write(v, b, 4 * P, P), -ENOSPC);	/* fatal: no page */
	assert_int_equal(vmo_unlock(v), 0);
	assert_int_equal(vm_test_reclaim(vm, 1), 4);
	assert_int_equal(vmo_trylock(v, &d), -EAGAIN);
	assert_int_equal(vmo_lock(v, &d), 0);
	assert_true(d);
	assert_int_equal(vmo_write(v, b, 0, P), -ENOSPC);
	assert_int_equal(vmo_unlock(v), 0);
	assert_true(fault_failures() >= 2);
	fault_clear();
	lstate(v, 0, false, true);
	vt_expect(v, 0, 4 * P, -1);
	assert_int_equal(vmo_size(v), 4 * P);
	/* Destroyed while a candidate, under faults: unlisted, nothing leaks. */
	w = dvmo(vm, 0);
	fill_unlocked(w, 2, 2);
	fault_set(0, 1000000);
	vmo_unref(v);
	vmo_unref(w);
	fault_clear();
	assert_int_equal(vm_test_check_discard(vm), 0);
	vm_destroy(vm);
}

/* ---- the model ------------------------------------------------------ */

#define MV	6		/* VMOs */
#define MPG	12		/* pages each, at most */

struct mvmo {
	struct vmo	*v;
	unsigned char	bytes[MPG * P];
	bool		page[MPG];	/* committed */
	uint64_t	size;
	uint64_t	locks;
	enum { M_UNSET, M_LOCKED, M_UNLOCKED, M_DISCARDED } st;
	uint64_t	seq;		/* unlock order */
};

static unsigned long rs = 12345;
static unsigned rnd(unsigned n) { rs = rs * 6364136223846793005ul + 1442695040888963407ul; return (unsigned)(rs >> 33) % n; }

static uint64_t
m_pages(struct mvmo *m)
{
	uint64_t n = 0;

	for (int i = 0; i < MPG; i++)
		n += m->page[i];
	return n;
}

/* The model's reclaim(want): oldest unlocked first, until want freed. */
static uint64_t
m_reclaim(struct mvmo *m, uint64_t want)
{
	uint64_t got = 0;

	for (;;) {
		struct mvmo *o = NULL;

		for (int i = 0; i < MV; i++)
			if (m[i].st == M_UNLOCKED && (o == NULL || m[i].seq < o->seq))
				o = &m[i];
		if (o == NULL || got >= want)
			return got;
		got += m_pages(o);
		memset(o->bytes, 0, sizeof(o->bytes));
		memset(o->page, 0, sizeof(o->page));
		o->st = M_DISCARDED;
	}
}

static void
m_check(struct vm *vm, struct mvmo *m)
{
	static unsigned char buf[MPG * P];
	uint64_t ids[MV], order[MV], n = 0;

	for (int i = 0; i < MV; i++) {
		struct vmo_lock_state ls;

		assert_int_equal(vmo_lock_state(m[i].v, &ls), 0);
		assert_int_equal(ls.locks, m[i].locks);
		assert_int_equal(ls.discarded, m[i].st == M_DISCARDED);
		assert_int_equal(ls.candidate, m[i].st == M_UNLOCKED);
		assert_int_equal(vmo_size(m[i].v), m[i].size);
		assert_int_equal(vmo_read(m[i].v, buf, 0, sizeof(buf)), (ssize_t)m[i].size);
		assert_memory_equal(buf, m[i].bytes, m[i].size);
		assert_int_equal(committed(m[i].v), m_pages(&m[i]) * P);
		vmo_test_check(m[i].v);
	}
	/* Reclaim's list is the unlocked ones by unlock order. */
	for (uint64_t s = 0, last = 0; ; last = s) {
		int pick = -1;

		for (int i = 0; i < MV; i++)
			if (m[i].st == M_UNLOCKED && m[i].seq > last &&
			    (pick < 0 || m[i].seq < m[pick].seq))
				pick = i;
		if (pick < 0)
			break;
		s = m[pick].seq;
		order[n++] = vmo_id(m[pick].v);
	}
	assert_int_equal(vm_test_discard_order(vm, ids, MV), n);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(ids[i], order[i]);
}

static void
m_step(struct vm *vm, struct mvmo *m, uint64_t *seq)
{
	struct mvmo *x = &m[rnd(MV)];
	unsigned char b[3 * P];
	bool d;
	int r;

	switch (rnd(8)) {
	case 0:
		assert_int_equal(vmo_lock(x->v, &d), 0);
		assert_int_equal(d, x->st == M_DISCARDED);
		x->locks++;
		x->st = M_LOCKED;
		break;
	case 1:
		r = vmo_trylock(x->v, &d);
		assert_int_equal(d, x->st == M_DISCARDED);
		if (x->st == M_DISCARDED) {
			assert_int_equal(r, -EAGAIN);
		} else {
			assert_int_equal(r, 0);
			x->locks++;
			x->st = M_LOCKED;
		}
		break;
	case 2:
	case 3:
	case 4:
		r = vmo_unlock(x->v);
		if (x->locks == 0) {
			assert_int_equal(r, -EINVAL);
		} else {
			assert_int_equal(r, 0);
			if (--x->locks == 0) {
				x->st = M_UNLOCKED;
				x->seq = ++*seq;
			}
		}
		break;
	case 5: {	/* a write of nonzero bytes (no page ever all zero) */
		uint64_t off = rnd(MPG * P - sizeof(b)), len = 1 + rnd(sizeof(b));

		for (uint64_t i = 0; i < len; i++)
			b[i] = (unsigned char)(1 + rnd(255));
		assert_int_equal(vmo_write(x->v, b, off, len), (ssize_t)len);
		memcpy(x->bytes + off, b, len);
		for (uint64_t p = off / P; p <= (off + len - 1) / P; p++)
			x->page[p] = true;
		if (off + len > x->size)
			x->size = off + len;
		break;
	}
	case 6: {	/* shrink or grow to a page multiple */
		uint64_t npg = rnd(MPG + 1);

		assert_int_equal(vmo_resize(x->v, npg * P), 0);
		if (npg * P < x->size)
			memset(x->bytes + npg * P, 0, sizeof(x->bytes) - npg * P);
		for (uint64_t p = npg; p < MPG; p++)
			x->page[p] = false;
		x->size = npg * P;
		break;
	}
	case 7: {
		uint64_t want = rnd(2 * MPG), got;
		uint64_t expect = m_reclaim(m, want);

		got = vm_test_reclaim(vm, want);
		/* Past the discards, the queues give nothing: no page is
		 * all zero and there is no compressed store. */
		assert_int_equal(got, expect);
		break;
	}
	}
}

static void
test_model_random(void **state)
{
	struct vm *vm = vt_vm(1024);
	struct mvmo *m = calloc(MV, sizeof(*m));
	uint64_t seq = 0;

	(void)state;
	for (int i = 0; i < MV; i++) {
		m[i].v = dvmo(vm, 0);
		m[i].st = M_UNSET;
	}
	for (int step = 0; step < 20000; step++) {
		m_step(vm, m, &seq);
		if (step % 16 == 0)
			m_check(vm, m);
	}
	m_check(vm, m);
	{
		struct vm_stats st;

		vm_get_stats(vm, &st);
		/* The run did discard, many times (seed fixed). */
		fprintf(stderr, "model: %llu discards, %llu pages\n", (unsigned long long)st.discarded_vmos, (unsigned long long)st.discarded_pages);
		assert_true(st.discarded_vmos > 200);
		assert_true(st.discarded_pages > 500);
	}
	for (int i = 0; i < MV; i++)
		vmo_unref(m[i].v);
	free(m);
	vm_destroy(vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_counting),
		cmocka_unit_test(test_discard_order),
		cmocka_unit_test(test_trylock),
		cmocka_unit_test(test_pinned_passed_over),
		cmocka_unit_test(test_pressure),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_model_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
