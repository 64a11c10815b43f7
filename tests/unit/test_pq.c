/*
 * test_pq.c - page queues (vm/pq.c) against their contract in vm/pq.h.
 *
 * Invariant guarded throughout: every queued page is on exactly the list
 * its queue byte names, the per-queue sizes are exact (pq_test_check), and
 * a reclaim scan never returns a pinned or alwaysneed page and returns
 * pages in the order dontneed, clean (oldest first), dirty, anonymous
 * (oldest first).  Pages are fake descriptors in a static array: pq never
 * looks at anything but `link` and `queue`.
 *
 * The randomized test prints its seed; rerun one with PQ_SEED=<seed>.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "pq.h"

#define NPG 4096
static struct vm_page pg[NPG];

static void
reset_pages(void)
{
	memset(pg, 0, sizeof(pg));
	for (unsigned i = 0; i < NPG; i++)
		pg[i].state = VM_PAGE_OBJECT;
}

static struct pq *
mk(unsigned ngen)
{
	struct pq *pq = pq_create(ngen);

	assert_non_null(pq);
	reset_pages();
	return pq;
}

/* Scan everything and compare with the expected order (page indices). */
static void
expect_order(struct pq *pq, const int *want, size_t n)
{
	struct vm_page *out[NPG];
	size_t got = pq_reclaim_candidates(pq, out, NPG), i;

	for (i = 0; i < got && i < n; i++)
		if (out[i] != &pg[want[i]])
			fail_msg("candidate %zu: got page %td want %d", i, out[i] - pg, want[i]);
	assert_int_equal(got, n);
}

static void
remove_all(struct pq *pq)
{
	for (unsigned i = 0; i < NPG; i++)
		if (pq_queued(&pg[i]))
			pq_remove(pq, &pg[i]);
	pq_test_check(pq);
}

static void
test_create_bad(void **state)
{
	(void)state;
	assert_null(pq_create(0));
	assert_null(pq_create(PQ_MAX_GEN + 1));
	pq_destroy(pq_create(PQ_MAX_GEN));
	pq_destroy(NULL);
}

/* Each kind lands on its queue; sizes follow; removal empties. */
static void
test_insert_remove(void **state)
{
	struct pq *pq = mk(4);
	struct pq_stats st;

	(void)state;
	for (unsigned i = 0; i < 30; i++)
		pq_insert(pq, &pg[i], (enum pq_kind)(i % 3));
	pq_test_check(pq);
	assert_int_equal(pq_page_queue(&pg[0]), PQ_Q_ANON);
	assert_int_equal(pq_page_queue(&pg[1]), PQ_Q_PAGER_CLEAN);
	assert_int_equal(pq_page_queue(&pg[2]), PQ_Q_PAGER_DIRTY);
	assert_int_equal(pq_page_kind(&pg[2]), PQ_PAGER_DIRTY);
	pq_stats(pq, &st);
	assert_int_equal(st.size[PQ_Q_ANON], 10);
	assert_int_equal(st.size[PQ_Q_PAGER_CLEAN], 10);
	assert_int_equal(st.size[PQ_Q_PAGER_DIRTY], 10);
	assert_int_equal(st.gen_anon[0], 10);
	assert_int_equal(st.inserts, 30);
	/* remove from the middle, the head and the tail of a generation */
	pq_remove(pq, &pg[15]);
	pq_remove(pq, &pg[0]);
	pq_remove(pq, &pg[27]);
	assert_false(pq_queued(&pg[27]));
	assert_int_equal(pq_page_queue(&pg[27]), PQ_Q_NONE);
	pq_test_check(pq);
	pq_stats(pq, &st);
	assert_int_equal(st.size[PQ_Q_ANON], 7);
	assert_int_equal(st.removes, 3);
	remove_all(pq);
	pq_stats(pq, &st);
	for (unsigned q = 0; q < PQ_Q_COUNT; q++)
		assert_int_equal(st.size[q], 0);
	pq_destroy(pq);
}

/* Reclaim order: dontneed, clean oldest first, dirty, anon oldest first;
 * never pinned, never alwaysneed. */
static void
test_order(void **state)
{
	struct pq *pq = mk(4);
	struct vm_page *out[4];

	(void)state;
	pq_insert(pq, &pg[0], PQ_ANON);
	pq_insert(pq, &pg[1], PQ_PAGER_CLEAN);
	pq_insert(pq, &pg[2], PQ_PAGER_DIRTY);
	pq_rotate(pq);
	pq_insert(pq, &pg[3], PQ_ANON);
	pq_insert(pq, &pg[4], PQ_PAGER_CLEAN);
	pq_insert(pq, &pg[5], PQ_PAGER_DIRTY);
	pq_rotate(pq);
	pq_insert(pq, &pg[6], PQ_ANON);
	pq_insert(pq, &pg[7], PQ_PAGER_CLEAN);
	pq_insert(pq, &pg[8], PQ_ANON);
	pq_insert(pq, &pg[9], PQ_PAGER_CLEAN);
	pq_hint_dontneed(pq, &pg[8]);		/* newest anon, but first */
	pq_hint_dontneed(pq, &pg[6]);		/* second, hint order */
	pq_hint_alwaysneed(pq, &pg[7], true);	/* never */
	pq_set_pinned(pq, &pg[3], true);	/* never */
	pq_test_check(pq);
	{
		static const int want[] = { 8, 6, 1, 4, 9, 2, 5, 0 };
		expect_order(pq, want, 8);
	}
	/* max is honoured */
	assert_int_equal(pq_reclaim_candidates(pq, out, 3), 3);
	assert_ptr_equal(out[2], &pg[1]);
	assert_int_equal(pq_reclaim_candidates(pq, out, 0), 0);
	remove_all(pq);
	pq_destroy(pq);
}

/* A touched page moves to the newest generation; rotation ages the rest;
 * generations saturate at the oldest. */
static void
test_touch_rotate(void **state)
{
	struct pq *pq = mk(4);
	struct pq_stats st;

	(void)state;
	for (int i = 0; i < 4; i++) {
		pq_insert(pq, &pg[i], PQ_ANON);
		pq_rotate(pq);
	}
	assert_int_equal(pq_test_page_gen(pq, &pg[0]), 3);
	assert_int_equal(pq_test_page_gen(pq, &pg[1]), 3);	/* merged */
	assert_int_equal(pq_test_page_gen(pq, &pg[2]), 2);
	assert_int_equal(pq_test_page_gen(pq, &pg[3]), 1);
	pq_touch(pq, &pg[0]);
	pq_touch(pq, &pg[0]);			/* second touch: no-op */
	assert_int_equal(pq_test_page_gen(pq, &pg[0]), 0);
	pq_rotate(pq);
	{
		static const int want[] = { 1, 2, 3, 0 };
		expect_order(pq, want, 4);
	}
	pq_stats(pq, &st);
	assert_int_equal(st.second_chances, 1);
	assert_int_equal(st.rotations, 5);
	assert_int_equal(st.gen_anon[0], 1);	/* pg[0] physically newest now */
	assert_int_equal(pq_test_page_gen(pq, &pg[0]), 0);
	/* many rotations: everything ends in the oldest generation */
	for (int i = 0; i < 10; i++)
		pq_rotate(pq);
	pq_stats(pq, &st);
	assert_int_equal(st.gen_anon[3], 4);
	/* a touched clean and dirty page get their second chance too */
	pq_insert(pq, &pg[10], PQ_PAGER_DIRTY);
	pq_insert(pq, &pg[11], PQ_PAGER_DIRTY);
	pq_touch(pq, &pg[10]);
	{
		static const int want[] = { 11, 10, 1, 2, 3, 0 };
		expect_order(pq, want, 6);
	}
	/* pq_insert clears a stale accessed bit */
	pq_remove(pq, &pg[11]);
	pq_touch(pq, &pg[11]);
	pq_insert(pq, &pg[11], PQ_ANON);
	assert_int_equal(pq_test_page_gen(pq, &pg[11]), 0);
	pq_test_check(pq);
	remove_all(pq);
	pq_destroy(pq);
}

/* ngen = 1: rotation is a no-op, order is insertion order. */
static void
test_one_gen(void **state)
{
	struct pq *pq = mk(1);

	(void)state;
	pq_insert(pq, &pg[0], PQ_ANON);
	pq_rotate(pq);
	pq_insert(pq, &pg[1], PQ_ANON);
	{
		static const int want[] = { 0, 1 };
		expect_order(pq, want, 2);
	}
	remove_all(pq);
	pq_destroy(pq);
}

/*
 * A touched page gets its second chance and, like any other, comes round
 * again in the same scan: also the last page of its list, where the walk
 * used to end with it (one scan then found nothing on a queue holding one
 * evictable page).  A dirty pager page is its own home.
 */
static void
test_last_touched(void **state)
{
	struct pq *pq = mk(4);
	struct vm_page *out[4];

	(void)state;
	pq_insert(pq, &pg[0], PQ_ANON);
	pq_touch(pq, &pg[0]);
	assert_int_equal(pq_reclaim_candidates(pq, out, 4), 1);
	assert_ptr_equal(out[0], &pg[0]);
	pq_insert(pq, &pg[1], PQ_PAGER_DIRTY);
	pq_touch(pq, &pg[1]);
	pq_touch(pq, &pg[0]);
	assert_int_equal(pq_reclaim_candidates(pq, out, 4), 2);
	assert_ptr_equal(out[0], &pg[1]);
	assert_ptr_equal(out[1], &pg[0]);
	remove_all(pq);
	pq_destroy(pq);
}

/* accept() for test_refused_once: refuse the first *ctx pages of pg. */
static bool
refuse_low(void *ctx, struct vm_page *p)
{
	return p - pg >= *(long *)ctx;
}

/*
 * A page a scan's accept() refuses is looked at once per scan, then goes
 * to the newest end of its queue, in the order met; the pages behind it,
 * on its list and on later queues, are still offered.  Before issue #16
 * a refused page went to the tail of the list being walked at once, the
 * walk met it again and again, and 1,000 refused dontneed pages (plus the
 * same on the anonymous queue) used up the scan's budget: the dirty page
 * after them was never offered, and reclaim gave up.
 */
static void
test_refused_once(void **state)
{
	struct pq *pq = mk(4);
	struct vm_page *out[4];
	struct pq_stats st;
	long nref = 2000;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		pq_insert(pq, &pg[i], PQ_ANON);
		pq_hint_dontneed(pq, &pg[i]);
	}
	for (; i < 2000; i++)
		pq_insert(pq, &pg[i], PQ_ANON);
	pq_insert(pq, &pg[2000], PQ_PAGER_DIRTY);
	pq_insert(pq, &pg[2001], PQ_ANON);
	assert_int_equal(pq_reclaim_scan(pq, out, 4, refuse_low, &nref), 2);
	assert_ptr_equal(out[0], &pg[2000]);
	assert_ptr_equal(out[1], &pg[2001]);
	pq_counters(pq, &st);
	assert_int_equal(st.refused, 2000);
	assert_int_equal(st.size[PQ_Q_DONTNEED], 1000);
	pq_test_check(pq);
	/* They went back behind the others, in order: accepted now, the
	 * dontneed ones first, oldest first. */
	nref = 0;
	assert_int_equal(pq_reclaim_scan(pq, out, 4, refuse_low, &nref), 4);
	for (i = 0; i < 4; i++)
		assert_ptr_equal(out[i], &pg[i]);
	remove_all(pq);
	pq_destroy(pq);
}

/* Hints and pins set and reversed, in every order that matters. */
static void
test_hints(void **state)
{
	struct pq *pq = mk(4);
	struct pq_stats st;

	(void)state;
	for (int i = 0; i < 8; i++)
		pq_insert(pq, &pg[i], i < 4 ? PQ_ANON : PQ_PAGER_CLEAN);
	/* dontneed, then an access: the hint is cancelled by the next scan */
	pq_hint_dontneed(pq, &pg[3]);
	assert_int_equal(pq_page_queue(&pg[3]), PQ_Q_DONTNEED);
	pq_touch(pq, &pg[3]);
	{
		static const int want[] = { 4, 5, 6, 7, 0, 1, 2, 3 };
		expect_order(pq, want, 8);
	}
	assert_int_equal(pq_page_queue(&pg[3]), PQ_Q_ANON);
	/* an access before the hint does not cancel it */
	pq_touch(pq, &pg[2]);
	pq_hint_dontneed(pq, &pg[2]);
	{
		static const int want[] = { 2, 4, 5, 6, 7, 0, 1, 3 };
		expect_order(pq, want, 8);
	}
	/* alwaysneed on and off */
	pq_hint_alwaysneed(pq, &pg[0], true);
	assert_int_equal(pq_page_queue(&pg[0]), PQ_Q_ALWAYSNEED);
	pq_hint_alwaysneed(pq, &pg[0], false);
	assert_int_equal(pq_page_queue(&pg[0]), PQ_Q_ANON);
	pq_hint_alwaysneed(pq, &pg[0], false);	/* not set: no-op */
	/* alwaysneed "until dontneed" */
	pq_hint_alwaysneed(pq, &pg[4], true);
	pq_hint_dontneed(pq, &pg[4]);
	assert_int_equal(pq_page_queue(&pg[4]), PQ_Q_DONTNEED);
	/* alwaysneed on a dontneed page wins; off again: back to its kind */
	pq_hint_alwaysneed(pq, &pg[4], true);
	assert_int_equal(pq_page_queue(&pg[4]), PQ_Q_ALWAYSNEED);
	pq_hint_alwaysneed(pq, &pg[4], false);
	assert_int_equal(pq_page_queue(&pg[4]), PQ_Q_PAGER_CLEAN);
	/* pinned and alwaysneed: unpin returns to alwaysneed */
	pq_hint_alwaysneed(pq, &pg[5], true);
	pq_set_pinned(pq, &pg[5], true);
	assert_int_equal(pq_page_queue(&pg[5]), PQ_Q_WIRED);
	pq_hint_alwaysneed(pq, &pg[5], false);
	pq_hint_alwaysneed(pq, &pg[5], true);
	assert_int_equal(pq_page_queue(&pg[5]), PQ_Q_WIRED);
	pq_set_pinned(pq, &pg[5], false);
	assert_int_equal(pq_page_queue(&pg[5]), PQ_Q_ALWAYSNEED);
	/* dontneed on a pinned alwaysneed page: alwaysneed goes, pin stays */
	pq_set_pinned(pq, &pg[5], true);
	pq_hint_dontneed(pq, &pg[5]);
	assert_int_equal(pq_page_queue(&pg[5]), PQ_Q_WIRED);
	pq_set_pinned(pq, &pg[5], false);
	assert_int_equal(pq_page_queue(&pg[5]), PQ_Q_PAGER_CLEAN);
	/* pinning drops dontneed */
	pq_hint_dontneed(pq, &pg[6]);
	pq_set_pinned(pq, &pg[6], true);
	pq_set_pinned(pq, &pg[6], false);
	assert_int_equal(pq_page_queue(&pg[6]), PQ_Q_PAGER_CLEAN);
	pq_set_pinned(pq, &pg[6], false);	/* not pinned: no-op */
	/* dirty and clean: between queues, and in the bits under hints */
	pq_mark_dirty(pq, &pg[7]);
	assert_int_equal(pq_page_queue(&pg[7]), PQ_Q_PAGER_DIRTY);
	pq_mark_dirty(pq, &pg[7]);
	pq_mark_clean(pq, &pg[7]);
	assert_int_equal(pq_page_queue(&pg[7]), PQ_Q_PAGER_CLEAN);
	pq_set_pinned(pq, &pg[7], true);
	pq_mark_dirty(pq, &pg[7]);
	assert_int_equal(pq_page_queue(&pg[7]), PQ_Q_WIRED);
	pq_set_pinned(pq, &pg[7], false);
	assert_int_equal(pq_page_queue(&pg[7]), PQ_Q_PAGER_DIRTY);
	pq_hint_dontneed(pq, &pg[7]);
	pq_mark_clean(pq, &pg[7]);
	assert_int_equal(pq_page_queue(&pg[7]), PQ_Q_DONTNEED);
	assert_int_equal(pq_page_kind(&pg[7]), PQ_PAGER_CLEAN);
	pq_test_check(pq);
	pq_stats(pq, &st);
	assert_int_equal(st.hints_dontneed, 6);
	assert_int_equal(st.hints_alwaysneed, 5);
	assert_int_equal(st.size[PQ_Q_DONTNEED], 2);	/* pg[2], pg[7] */
	remove_all(pq);
	pq_destroy(pq);
}

/* ---- randomized, single thread, against a model -------------------- */

struct mpage {
	bool in, pinned, always, dontneed;
	enum pq_kind kind;
};

static enum pq_queue
model_queue(const struct mpage *m)
{
	if (!m->in)
		return PQ_Q_NONE;
	if (m->pinned)
		return PQ_Q_WIRED;
	if (m->always)
		return PQ_Q_ALWAYSNEED;
	if (m->dontneed)
		return PQ_Q_DONTNEED;
	return m->kind == PQ_ANON ? PQ_Q_ANON :
	       m->kind == PQ_PAGER_CLEAN ? PQ_Q_PAGER_CLEAN : PQ_Q_PAGER_DIRTY;
}

static const int rank[PQ_Q_COUNT] = {
	[PQ_Q_DONTNEED] = 0, [PQ_Q_PAGER_CLEAN] = 1, [PQ_Q_PAGER_DIRTY] = 2,
	[PQ_Q_ANON] = 3,
};

#define MN 256
static void
test_random(void **state)
{
	static struct mpage m[MN];
	struct vm_page *out[MN];
	struct pq *pq = mk(3);
	unsigned seed = getenv("PQ_SEED") ? (unsigned)atoi(getenv("PQ_SEED"))
					  : (unsigned)time(NULL);

	(void)state;
	print_message("seed %u\n", seed);
	srand(seed);
	memset(m, 0, sizeof(m));
	for (int step = 0; step < 20000; step++) {
		int i = rand() % MN, op = rand() % 11;
		struct vm_page *p = &pg[i];

		if (!m[i].in) {
			m[i] = (struct mpage){ .in = true, .kind = (enum pq_kind)(rand() % 3) };
			pq_insert(pq, p, m[i].kind);
			continue;
		}
		switch (op) {
		case 0: pq_remove(pq, p); m[i].in = false; break;
		case 1: pq_touch(pq, p); break;
		case 2: pq_set_pinned(pq, p, true); m[i].pinned = true; m[i].dontneed = false; break;
		case 3: pq_set_pinned(pq, p, false); m[i].pinned = false; break;
		case 4:
			pq_hint_dontneed(pq, p);
			m[i].always = false;
			m[i].dontneed = !m[i].pinned;
			break;
		case 5: pq_hint_alwaysneed(pq, p, true); m[i].always = true; m[i].dontneed = false; break;
		case 6:
			pq_hint_alwaysneed(pq, p, false);
			m[i].always = false;
			break;
		case 7:
			if (m[i].kind != PQ_ANON) {
				pq_mark_dirty(pq, p);
				m[i].kind = PQ_PAGER_DIRTY;
			}
			break;
		case 8:
			if (m[i].kind != PQ_ANON) {
				pq_mark_clean(pq, p);
				m[i].kind = PQ_PAGER_CLEAN;
			}
			break;
		case 9: pq_rotate(pq); break;
		case 10: {
			size_t n = pq_reclaim_candidates(pq, out, (size_t)(rand() % MN));
			int last = -1;

			for (size_t k = 0; k < n; k++) {
				int j = (int)(out[k] - pg);
				enum pq_queue q;

				assert_true(j >= 0 && j < MN && m[j].in);
				/* a touched dontneed page went back to its kind */
				if (m[j].dontneed && pq_page_queue(out[k]) != PQ_Q_DONTNEED)
					m[j].dontneed = false;
				q = model_queue(&m[j]);
				assert_int_equal(pq_page_queue(out[k]), q);
				assert_true(q != PQ_Q_WIRED && q != PQ_Q_ALWAYSNEED);
				assert_true(rank[q] >= last);
				last = rank[q];
			}
			/* scans also move touched dontneed pages not returned */
			for (int j = 0; j < MN; j++)
				if (m[j].in && m[j].dontneed &&
				    pq_page_queue(&pg[j]) != PQ_Q_DONTNEED)
					m[j].dontneed = false;
			break;
		}
		}
		if (m[i].in)
			assert_int_equal(pq_page_queue(p), model_queue(&m[i]));
		if (step % 512 == 0)
			pq_test_check(pq);
	}
	pq_test_check(pq);
	remove_all(pq);
	pq_destroy(pq);
}

/* ---- threads ---------------------------------------------------------- */

#define NTHR 4
#define PER (NPG / NTHR)
static struct pq *mt_pq;
static _Atomic int mt_stop;

/* Each worker owns pages [id*PER, (id+1)*PER): insert/remove/hint/pin
 * them (as if under their hierarchy's lock), and touches anyone's. */
static void *
mt_worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, r = id * 7919 + 1;
	struct vm_page *base = &pg[id * PER];

	for (int step = 0; step < 200000; step++) {
		unsigned i, op;

		r = r * 1103515245u + 12345u;
		i = (r >> 8) % PER;
		op = (r >> 20) % 16;
		if (!pq_queued(&base[i])) {
			pq_insert(mt_pq, &base[i], (enum pq_kind)(op % 3));
			continue;
		}
		if (op == 0)
			pq_remove(mt_pq, &base[i]);
		else if (op == 1)
			pq_hint_dontneed(mt_pq, &base[i]);
		else if (op == 2)
			pq_set_pinned(mt_pq, &base[i], (r >> 30) & 1);
		else if (op == 3)
			pq_hint_alwaysneed(mt_pq, &base[i], (r >> 30) & 1);
		else
			pq_touch(mt_pq, &pg[(r >> 4) % NPG]);	/* anyone's */
	}
	return NULL;
}

static void *
mt_ager(void *arg)
{
	static struct vm_page *out[512];
	unsigned n = 0;

	(void)arg;
	while (!mt_stop) {
		size_t k = pq_reclaim_candidates(mt_pq, out, 512);

		for (size_t j = 0; j < k; j++) {
			enum pq_queue q = pq_page_queue(out[j]);
			/* may have moved since: but never onto a page we got
			 * while it was wired or alwaysneed (checked in-lock by
			 * pq_test_check below); here just sanity */
			assert_true(q < PQ_Q_COUNT);
		}
		if (++n % 8 == 0)
			pq_rotate(mt_pq);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t t[NTHR], ager;
	struct pq_stats st;

	(void)state;
	mt_pq = mk(4);
	mt_stop = 0;
	assert_int_equal(pthread_create(&ager, NULL, mt_ager, NULL), 0);
	for (uintptr_t i = 0; i < NTHR; i++)
		assert_int_equal(pthread_create(&t[i], NULL, mt_worker, (void *)i), 0);
	for (int i = 0; i < NTHR; i++)
		pthread_join(t[i], NULL);
	mt_stop = 1;
	pthread_join(ager, NULL);
	pq_test_check(mt_pq);
	pq_stats(mt_pq, &st);
	print_message("threads: %llu inserts, %llu rotations, %llu scans, "
		      "%llu second chances\n", (unsigned long long)st.inserts,
		      (unsigned long long)st.rotations, (unsigned long long)st.scans,
		      (unsigned long long)st.second_chances);
	assert_true(st.rotations > 0 && st.scans > 0);
	remove_all(mt_pq);
	pq_destroy(mt_pq);
}

/* The one allocation (pq_create) fails cleanly, and nothing else
 * allocates: a whole workload under "fail every allocation" works. */
static void
test_fault(void **state)
{
	struct pq *pq;

	(void)state;
	fault_set(1, 0);
	assert_null(pq_create(4));
	assert_int_equal(fault_failures(), 1);
	fault_clear();
	pq = mk(4);
	fault_set(0, 1000000);			/* every allocation fails */
	for (int i = 0; i < 64; i++)
		pq_insert(pq, &pg[i], (enum pq_kind)(i % 3));
	pq_rotate(pq);
	pq_hint_dontneed(pq, &pg[3]);
	pq_set_pinned(pq, &pg[4], true);
	{
		struct vm_page *out[64];

		assert_int_equal(pq_reclaim_candidates(pq, out, 64), 63);
	}
	assert_int_equal(fault_failures(), 0);
	fault_clear();
	pq_test_check(pq);
	remove_all(pq);
	pq_destroy(pq);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bad),
		cmocka_unit_test(test_insert_remove),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_touch_rotate),
		cmocka_unit_test(test_one_gen),
		cmocka_unit_test(test_last_touched),
		cmocka_unit_test(test_refused_once),
		cmocka_unit_test(test_hints),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
