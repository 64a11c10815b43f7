/*
 * test_plist.c - the sparse page list (vm/plist.c) against its contract in
 * vm/plist.h.
 *
 * Invariant guarded throughout: after every operation the list holds
 * exactly the slots a plain array model says it holds, npages/nmarkers
 * match, and no empty node survives (plist_check).  Pages are fake: the
 * addresses of a static vm_page array; the list never dereferences them.
 *
 * Fault tests fail the Nth heap allocation for N = 1, 2, ... until the
 * operation completes with no failure, checking after each -ENOMEM that
 * the list is what the contract says it is.  The randomized test prints
 * its seed; rerun one with PLIST_SEED=<seed>.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "plist.h"

#define PG		VM_PAGE_SIZE
#define NB		PLIST_NODE_BYTES
#define VMO_MAX		(1ull << 52)
#define NFAKE		4096

static struct vm_page fake[NFAKE];

static plist_slot_t P(unsigned i) { return plist_from_page(&fake[i % NFAKE]); }

static size_t
nodes(const struct plist *pl)
{
	return plist_node_bytes(pl) / sizeof(struct plist_node);
}

/* Remove everything (markers and pages alike) and fini. */
static int
clear_fn(void *ctx, uint64_t off, plist_slot_t *slot)
{
	(void)ctx; (void)off;
	*slot = PLIST_EMPTY;
	return 0;
}

static void
drain(struct plist *pl)
{
	assert_int_equal(plist_foreach(pl, 0, UINT64_MAX, clear_fn, NULL), 0);
	plist_check(pl);
	assert_true(plist_is_empty(pl));
	assert_int_equal(nodes(pl), 0);
	plist_fini(pl);
}

/* ------------------------------------------------------------------ */
/* An array model: slot i is offset origin + i * 4096.                 */

struct model {
	uint64_t	origin;
	size_t		n;
	plist_slot_t	*s;
};

static void
model_init(struct model *m, uint64_t origin, size_t n)
{
	m->origin = origin;
	m->n = n;
	m->s = calloc(n, sizeof(*m->s));
	assert_non_null(m->s);
}

static uint64_t moff(const struct model *m, size_t i) { return m->origin + i * PG; }

static int
count_fn(void *ctx, uint64_t off, plist_slot_t *slot)
{
	(void)off; (void)slot;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* pl holds exactly the model's slots, nothing outside it. */
static void
model_compare(const struct plist *pl, const struct model *m)
{
	uint64_t pages = 0, markers = 0, seen = 0;

	plist_check(pl);
	for (size_t i = 0; i < m->n; i++) {
		assert_true(plist_lookup(pl, moff(m, i)) == m->s[i]);
		pages += plist_is_page(m->s[i]);
		markers += m->s[i] == PLIST_MARKER;
	}
	assert_int_equal(pl->npages, pages);
	assert_int_equal(pl->nmarkers, markers);
	assert_int_equal(plist_foreach((struct plist *)pl, 0, UINT64_MAX,
	    count_fn, &seen), 0);
	assert_int_equal(seen, pages + markers);
}

static void
model_fill(struct plist *pl, struct model *m, size_t i, plist_slot_t x)
{
	assert_int_equal(plist_set(pl, moff(m, i), x, NULL), 0);
	m->s[i] = x;
}

/* ------------------------------------------------------------------ */

static void
test_set_lookup_remove(void **state)
{
	struct plist pl;
	plist_slot_t old = 42;

	(void)state;
	plist_init(&pl, 0);
	assert_true(plist_is_empty(&pl));
	assert_true(plist_lookup(&pl, 0) == PLIST_EMPTY);
	assert_true(plist_remove(&pl, 0) == PLIST_EMPTY);

	/* Page, then marker over it, then empty over it. */
	assert_int_equal(plist_set(&pl, 5 * PG, P(1), &old), 0);
	assert_true(old == PLIST_EMPTY);
	assert_true(plist_lookup(&pl, 5 * PG) == P(1));
	assert_true(plist_page(plist_lookup(&pl, 5 * PG)) == &fake[1]);
	assert_int_equal(pl.npages, 1);
	assert_int_equal(pl.nmarkers, 0);
	assert_int_equal(nodes(&pl), 1);

	assert_int_equal(plist_set(&pl, 5 * PG, PLIST_MARKER, &old), 0);
	assert_true(old == P(1));
	assert_true(plist_page(plist_lookup(&pl, 5 * PG)) == NULL);
	assert_int_equal(pl.npages, 0);
	assert_int_equal(pl.nmarkers, 1);
	plist_check(&pl);

	assert_int_equal(plist_set(&pl, 5 * PG, PLIST_EMPTY, &old), 0);
	assert_true(old == PLIST_MARKER);
	assert_true(plist_is_empty(&pl));
	assert_int_equal(nodes(&pl), 0);	/* emptied node freed */

	/* Two nodes; removing the last slot of one frees just that one. */
	assert_int_equal(plist_set(&pl, 0, P(2), NULL), 0);
	assert_int_equal(plist_set(&pl, 15 * PG, PLIST_MARKER, NULL), 0);
	assert_int_equal(plist_set(&pl, 16 * PG, P(3), NULL), 0);
	assert_int_equal(nodes(&pl), 2);
	assert_int_equal(plist_set(&pl, 16 * PG, P(4), &old), 0);
	assert_true(old == P(3));
	assert_int_equal(pl.npages, 2);
	assert_true(plist_remove(&pl, 16 * PG) == P(4));
	assert_int_equal(nodes(&pl), 1);
	assert_true(plist_remove(&pl, 16 * PG) == PLIST_EMPTY);
	assert_true(plist_remove(&pl, 0) == P(2));
	assert_int_equal(nodes(&pl), 1);
	assert_true(plist_remove(&pl, 15 * PG) == PLIST_MARKER);
	assert_int_equal(nodes(&pl), 0);
	plist_check(&pl);
	plist_fini(&pl);
}

/* Offsets 0, the VMO max, node boundaries, under every interesting skew. */
static void
test_offsets_and_skew(void **state)
{
	static const uint64_t skews[] = { 0, PG, 7 * PG, 8 * PG, 15 * PG };
	(void)state;

	for (size_t k = 0; k < sizeof(skews) / sizeof(skews[0]); k++) {
		uint64_t sk = skews[k], b = NB - sk;	/* b: first offset of node 2 */
		struct plist pl;
		uint64_t off;
		plist_slot_t x;

		plist_init(&pl, sk);
		assert_int_equal(plist_set(&pl, 0, P(1), NULL), 0);
		assert_int_equal(plist_set(&pl, VMO_MAX - PG, P(2), NULL), 0);
		assert_int_equal(nodes(&pl), 2);
		assert_true(plist_lookup(&pl, 0) == P(1));
		assert_true(plist_lookup(&pl, VMO_MAX - PG) == P(2));
		assert_true(plist_lookup(&pl, VMO_MAX) == PLIST_EMPTY);

		/* b - PG and b sit in different nodes, b and b + 15 pages in one. */
		assert_int_equal(plist_set(&pl, b - PG, PLIST_MARKER, NULL), 0);
		assert_int_equal(nodes(&pl), sk == 0 ? 2 : 2);
		assert_int_equal(plist_set(&pl, b, P(3), NULL), 0);
		assert_int_equal(nodes(&pl), 3);
		assert_int_equal(plist_set(&pl, b + 15 * PG, P(4), NULL), 0);
		assert_int_equal(nodes(&pl), 3);
		assert_int_equal(plist_set(&pl, b + 16 * PG, P(5), NULL), 0);
		assert_int_equal(nodes(&pl), 4);
		plist_check(&pl);

		/* next across the boundary and to the very end. */
		assert_true(plist_next(&pl, PG, UINT64_MAX, &off, &x));
		assert_true(off == (b - PG == 0 ? b : b - PG));
		assert_true(plist_next(&pl, b + PG, UINT64_MAX, &off, &x));
		assert_true(off == b + 15 * PG && x == P(4));
		assert_true(plist_next(&pl, b + 17 * PG, UINT64_MAX, &off, &x));
		assert_true(off == VMO_MAX - PG && x == P(2));
		assert_false(plist_next(&pl, VMO_MAX, UINT64_MAX, &off, &x));
		assert_false(plist_any(&pl, b + 17 * PG, VMO_MAX - PG));
		assert_true(plist_any(&pl, b + 17 * PG, VMO_MAX));

		/* Far above the VMO max (no wrap near 2^64). */
		off = UINT64_MAX - 4 * NB + 1;	/* page and node aligned */
		assert_int_equal(plist_set(&pl, off, P(6), NULL), 0);
		assert_true(plist_lookup(&pl, off) == P(6));
		assert_true(plist_any(&pl, off, UINT64_MAX));
		assert_true(plist_remove(&pl, off) == P(6));
		drain(&pl);
	}
}

static void
test_next_any(void **state)
{
	struct plist pl;
	uint64_t off;
	plist_slot_t x;

	(void)state;
	plist_init(&pl, 3 * PG);
	assert_false(plist_next(&pl, 0, UINT64_MAX, &off, &x));
	assert_false(plist_any(&pl, 0, UINT64_MAX));
	/* One slot in node 0, one marker a thousand nodes on. */
	assert_int_equal(plist_set(&pl, 2 * PG, P(1), NULL), 0);
	assert_int_equal(plist_set(&pl, 16000 * PG, PLIST_MARKER, NULL), 0);
	assert_true(plist_next(&pl, 0, 3 * PG, &off, &x));
	assert_true(off == 2 * PG && x == P(1));
	assert_false(plist_next(&pl, 0, 2 * PG, &off, &x));
	assert_false(plist_next(&pl, 3 * PG, 16000 * PG, &off, &x));
	assert_true(plist_next(&pl, 3 * PG, 16001 * PG, &off, &x));
	assert_true(off == 16000 * PG && x == PLIST_MARKER);
	assert_false(plist_any(&pl, 16001 * PG, UINT64_MAX));
	assert_false(plist_any(&pl, 5 * PG, 5 * PG));		/* empty range */
	assert_false(plist_any(&pl, 9 * PG, 5 * PG));		/* inverted */
	assert_true(plist_any(&pl, 16000 * PG, 16000 * PG + 1)); /* end rounds up */
	assert_true(plist_next(&pl, 0, UINT64_MAX, NULL, NULL));
	drain(&pl);
}

/* foreach: a callback that removes, replaces and marks; early stop. */
struct fe_ctx {
	uint64_t	offs[64];
	int		n;
	int		stop_at;
};

static int
fe_fn(void *ctx, uint64_t off, plist_slot_t *slot)
{
	struct fe_ctx *c = ctx;
	uint64_t i = off / PG;

	c->offs[c->n++] = off;
	if (i % 3 == 0)
		*slot = PLIST_EMPTY;
	else if (i % 3 == 1)
		*slot = PLIST_MARKER;
	else
		*slot = P((unsigned)i + 100);
	return c->n == c->stop_at ? 77 : 0;
}

static void
test_foreach_modify(void **state)
{
	struct plist pl;
	struct fe_ctx c = { .n = 0, .stop_at = -1 };

	(void)state;
	plist_init(&pl, 5 * PG);
	for (unsigned i = 0; i < 48; i++)
		if (i % 2 == 0 || i >= 40)
			assert_int_equal(plist_set(&pl, i * PG, P(i), NULL), 0);
	plist_check(&pl);
	/* [4, 44): visits 4,6,...,38,40..43 in order. */
	assert_int_equal(plist_foreach(&pl, 4 * PG, 44 * PG, fe_fn, &c), 0);
	assert_int_equal(c.n, 18 + 4);
	for (int k = 1; k < c.n; k++)
		assert_true(c.offs[k] > c.offs[k - 1]);
	plist_check(&pl);
	for (unsigned i = 0; i < 48; i++) {
		plist_slot_t want = PLIST_EMPTY;

		if (i % 2 == 0 || i >= 40)
			want = P(i);
		if (want != PLIST_EMPTY && i >= 4 && i < 44)
			want = i % 3 == 0 ? PLIST_EMPTY : i % 3 == 1 ? PLIST_MARKER
			    : P(i + 100);
		assert_true(plist_lookup(&pl, i * PG) == want);
	}

	/* Emptying a whole node through foreach frees it. */
	assert_int_equal(plist_foreach(&pl, 0, 11 * PG, clear_fn, NULL), 0);
	assert_false(plist_any(&pl, 0, 11 * PG));
	plist_check(&pl);	/* would trip on an empty node */
	assert_int_equal(nodes(&pl), 3);

	/* Early stop: the return value comes back, the last change sticks. */
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	assert_int_equal(plist_foreach(&pl, 0, UINT64_MAX, fe_fn, &c), 77);
	assert_int_equal(c.n, 2);
	plist_check(&pl);
	drain(&pl);
}

/* Gaps and runs are collected and compared as lists of ranges. */
struct ranges {
	uint64_t	r[256][2];
	int		n;
	int		stop_at;
	uint64_t	slots;
};

static int
range_fn(void *ctx, uint64_t s, uint64_t e)
{
	struct ranges *g = ctx;

	assert_true(g->n < 256);
	assert_true(s < e);
	g->r[g->n][0] = s;
	g->r[g->n][1] = e;
	return ++g->n == g->stop_at ? 9 : 0;
}

static int
slot_count_fn(void *ctx, uint64_t off, plist_slot_t *slot)
{
	(void)off; (void)slot;
	((struct ranges *)ctx)->slots++;
	return 0;
}

/* Expected maximal runs over model slots [a, b) where pred holds. */
static void
model_ranges(const struct model *m, size_t a, size_t b, int want_pages,
    struct ranges *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = a; i < b;) {
		bool in = want_pages ? plist_is_page(m->s[i]) : m->s[i] == PLIST_EMPTY;
		size_t j = i;

		if (!in) {
			i++;
			continue;
		}
		while (j < b && (want_pages ? plist_is_page(m->s[j])
		    : m->s[j] == PLIST_EMPTY))
			j++;
		out->r[out->n][0] = moff(m, i);
		out->r[out->n][1] = moff(m, j);
		out->n++;
		i = j;
	}
}

static void
ranges_equal(const struct ranges *a, const struct ranges *b)
{
	assert_int_equal(a->n, b->n);
	for (int k = 0; k < a->n; k++) {
		assert_true(a->r[k][0] == b->r[k][0]);
		assert_true(a->r[k][1] == b->r[k][1]);
	}
}

static void
test_gaps_and_runs(void **state)
{
	struct plist pl;
	struct model m;
	struct ranges got, want;

	(void)state;
	plist_init(&pl, 9 * PG);
	model_init(&m, 0, 80);
	/* Pages, markers and holes across node boundaries (skewed ones). */
	for (size_t i = 3; i < 30; i++)
		model_fill(&pl, &m, i, i % 11 == 0 ? PLIST_MARKER : P((unsigned)i));
	model_fill(&pl, &m, 40, P(40));
	model_fill(&pl, &m, 41, PLIST_MARKER);
	model_fill(&pl, &m, 42, P(42));
	model_fill(&pl, &m, 79, P(79));

	for (size_t a = 0; a < 80; a += 3) {
		for (size_t b = a; b <= 80; b += 5) {
			memset(&got, 0, sizeof(got));
			assert_int_equal(plist_foreach_with_gaps(&pl, a * PG, b * PG,
			    slot_count_fn, range_fn, &got), 0);
			model_ranges(&m, a, b, 0, &want);
			ranges_equal(&got, &want);
			memset(&got, 0, sizeof(got));
			assert_int_equal(plist_foreach_run(&pl, a * PG, b * PG,
			    range_fn, &got), 0);
			model_ranges(&m, a, b, 1, &want);
			ranges_equal(&got, &want);
		}
	}
	/* Whole list: gaps [0,3) [30,40) [43,79) and up to the end. */
	memset(&got, 0, sizeof(got));
	assert_int_equal(plist_foreach_with_gaps(&pl, 0, UINT64_MAX, NULL,
	    range_fn, &got), 0);
	assert_int_equal(got.n, 4);
	assert_true(got.r[0][0] == 0 && got.r[0][1] == 3 * PG);
	assert_true(got.r[2][0] == 43 * PG && got.r[2][1] == 79 * PG);
	assert_true(got.r[3][0] == 80 * PG && got.r[3][1] == (UINT64_MAX & ~VM_PAGE_MASK));
	/* Gap-only walk of an empty list: one gap; slot-only walk of a gap. */
	{
		struct plist e;
		plist_init(&e, 0);
		memset(&got, 0, sizeof(got));
		assert_int_equal(plist_foreach_with_gaps(&e, PG, 9 * PG, NULL,
		    range_fn, &got), 0);
		assert_int_equal(got.n, 1);
		assert_true(got.r[0][0] == PG && got.r[0][1] == 9 * PG);
		plist_fini(&e);
	}
	/* Stops: a gap callback's and a run callback's value comes back. */
	memset(&got, 0, sizeof(got));
	got.stop_at = 2;
	assert_int_equal(plist_foreach_with_gaps(&pl, 0, UINT64_MAX, NULL,
	    range_fn, &got), 9);
	assert_int_equal(got.n, 2);
	memset(&got, 0, sizeof(got));
	got.stop_at = 1;
	assert_int_equal(plist_foreach_run(&pl, 0, UINT64_MAX, range_fn, &got), 9);
	assert_int_equal(got.n, 1);
	model_compare(&pl, &m);
	drain(&pl);
	free(m.s);
}

/* ------------------------------------------------------------------ */
/* take and supply                                                      */

struct drops {
	uint64_t	off[512];
	plist_slot_t	slot[512];
	int		n;
};

static void
drop_fn(void *ctx, uint64_t off, plist_slot_t slot)
{
	struct drops *d = ctx;

	assert_true(d->n < 512);
	d->off[d->n] = off;
	d->slot[d->n++] = slot;
}

/* out holds model slots [a, b) at offsets relative to moff(a). */
static void
check_taken(const struct plist *out, const struct model *m, const plist_slot_t *orig,
    size_t a, size_t b)
{
	uint64_t seen = 0, pages = 0, markers = 0;

	plist_check(out);
	for (size_t i = a; i < b; i++) {
		assert_true(plist_lookup(out, (i - a) * PG) == orig[i]);
		pages += plist_is_page(orig[i]);
		markers += orig[i] == PLIST_MARKER;
	}
	assert_int_equal(out->npages, pages);
	assert_int_equal(out->nmarkers, markers);
	assert_int_equal(plist_foreach((struct plist *)out, 0, UINT64_MAX,
	    count_fn, &seen), 0);
	assert_int_equal(seen, pages + markers);
	(void)m;
}

static void
test_take_supply(void **state)
{
	static const uint64_t skews[] = { 0, PG, 6 * PG, 15 * PG };
	(void)state;

	for (size_t k = 0; k < 4; k++) {
		for (size_t k2 = 0; k2 < 4; k2++) {
			/* a, b: node interior on both edges; and aligned ones. */
			static const size_t ab[][2] = {
				{ 5, 75 }, { 0, 96 }, { 16, 32 }, { 3, 9 }, { 17, 18 },
				{ 30, 30 }, { 0, 1 }, { 95, 96 }, { 10, 26 },
			};
			for (size_t r = 0; r < sizeof(ab) / sizeof(ab[0]); r++) {
				size_t a = ab[r][0], b = ab[r][1];
				struct plist pl, out, dst;
				struct model m, md;
				struct drops d = { .n = 0 };
				plist_slot_t *orig;
				size_t base = 7;	/* supply out at dst offset 7 pages */

				plist_init(&pl, skews[k]);
				plist_init(&dst, skews[k2]);
				model_init(&m, 0, 96);
				model_init(&md, 0, 200);
				for (size_t i = 0; i < 96; i++)
					if (i % 7 != 3)
						model_fill(&pl, &m, i, i % 5 == 0 ?
						    PLIST_MARKER : P((unsigned)i));
				/* dst: collisions at a few places. */
				for (size_t i = 0; i < 200; i += 4)
					model_fill(&dst, &md, i, P(1000 + (unsigned)i));
				orig = malloc(96 * sizeof(*orig));
				memcpy(orig, m.s, 96 * sizeof(*orig));

				assert_int_equal(plist_take(&pl, a * PG, b * PG, &out), 0);
				assert_int_equal(out.skew, (skews[k] + a * PG) % NB);
				check_taken(&out, &m, orig, a, b);
				for (size_t i = a; i < b; i++)
					m.s[i] = PLIST_EMPTY;
				model_compare(&pl, &m);

				assert_int_equal(plist_supply(&dst, base * PG, &out,
				    drop_fn, &d), 0);
				plist_check(&out);
				assert_true(plist_is_empty(&out));
				plist_fini(&out);
				int nd = 0;
				for (size_t i = a; i < b; i++) {
					size_t j = base + i - a;

					if (orig[i] == PLIST_EMPTY)
						continue;
					if (md.s[j] == PLIST_EMPTY) {
						md.s[j] = orig[i];
						continue;
					}
					assert_true(nd < d.n);
					assert_true(d.off[nd] == j * PG);
					assert_true(d.slot[nd] == orig[i]);
					nd++;
				}
				assert_int_equal(nd, d.n);
				model_compare(&dst, &md);
				drain(&pl);
				drain(&dst);
				free(m.s);
				free(md.s);
				free(orig);
			}
		}
	}
}

/* Aligned skews: supply moves nodes and never allocates. */
static void
test_supply_aligned_no_alloc(void **state)
{
	struct plist pl, out, dst;
	struct drops d = { .n = 0 };

	(void)state;
	plist_init(&pl, 2 * PG);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(plist_set(&pl, i * PG, P(i), NULL), 0);
	assert_int_equal(plist_take(&pl, 20 * PG, 90 * PG, &out), 0);
	/* dst skew chosen so out's nodes line up at base 3 pages. */
	plist_init(&dst, (out.skew + NB - 3 * PG) % NB);
	assert_int_equal(plist_set(&dst, 3 * PG, PLIST_MARKER, NULL), 0);
	fault_set(1, 0);
	fault_set_kind(FAULT_HEAP);
	assert_int_equal(plist_supply(&dst, 3 * PG, &out, drop_fn, &d), 0);
	assert_int_equal(fault_failures(), 0);
	assert_int_equal(fault_count(), 0);
	fault_clear();
	assert_int_equal(d.n, 1);
	assert_true(d.off[0] == 3 * PG && d.slot[0] == P(20));
	assert_int_equal(dst.npages, 69);
	assert_int_equal(dst.nmarkers, 1);
	for (unsigned i = 21; i < 90; i++)
		assert_true(plist_lookup(&dst, (i - 20 + 3) * PG) == P(i));
	plist_check(&dst);
	plist_fini(&out);
	drain(&dst);
	drain(&pl);
}

/* ------------------------------------------------------------------ */
/* Fault injection                                                      */

static void
fault_on(uint64_t n)
{
	fault_set(n, 0);
	fault_set_kind(FAULT_HEAP);
}

static void
test_fault_set(void **state)
{
	struct plist pl;
	struct model m;
	uint64_t n;
	int rc;

	(void)state;
	plist_init(&pl, 4 * PG);
	model_init(&m, 0, 64);
	model_fill(&pl, &m, 1, P(1));
	for (n = 1;; n++) {
		plist_slot_t old = 99;

		fault_on(n);
		rc = plist_set(&pl, 40 * PG, PLIST_MARKER, &old);	/* new node */
		fault_clear();
		if (rc == 0)
			break;
		assert_int_equal(rc, -ENOMEM);
		assert_true(old == 99);
		model_compare(&pl, &m);
	}
	assert_int_equal(n, 2);
	m.s[40] = PLIST_MARKER;
	model_compare(&pl, &m);
	/* Setting into an existing node allocates nothing. */
	fault_on(1);
	assert_int_equal(plist_set(&pl, 2 * PG, P(2), NULL), 0);
	fault_clear();
	m.s[2] = P(2);
	model_compare(&pl, &m);
	drain(&pl);
	free(m.s);
}

static void
test_fault_take(void **state)
{
	static const size_t ab[][2] = { { 5, 75 }, { 3, 9 }, { 16, 64 }, { 5, 64 } };
	(void)state;

	for (size_t r = 0; r < 4; r++) {
		size_t a = ab[r][0], b = ab[r][1];
		uint64_t n;
		int failures = 0;

		for (n = 1;; n++) {
			struct plist pl, out;
			struct model m;
			plist_slot_t *orig;
			int rc;

			plist_init(&pl, 11 * PG);
			model_init(&m, 0, 96);
			for (size_t i = 0; i < 96; i++)
				model_fill(&pl, &m, i, i % 4 ? P((unsigned)i) : PLIST_MARKER);
			orig = malloc(96 * sizeof(*orig));
			memcpy(orig, m.s, 96 * sizeof(*orig));
			fault_on(n);
			rc = plist_take(&pl, a * PG, b * PG, &out);
			fault_clear();
			if (rc != 0) {
				assert_int_equal(rc, -ENOMEM);
				failures++;
				model_compare(&pl, &m);	/* pl unchanged */
				plist_check(&out);
				assert_true(plist_is_empty(&out));
				plist_fini(&out);
			} else {
				check_taken(&out, &m, orig, a, b);
				for (size_t i = a; i < b; i++)
					m.s[i] = PLIST_EMPTY;
				model_compare(&pl, &m);
				drain(&out);
			}
			drain(&pl);
			free(m.s);
			free(orig);
			if (rc == 0)
				break;
		}
		/* Nodes to split: one per unaligned edge (skew 11 pages). */
		assert_int_equal(failures, (int)((a + 11) % 16 != 0) +
		    (int)((b + 11) % 16 != 0 && (a + 11) / 16 != (b + 10) / 16));
	}
}

static void
test_fault_supply(void **state)
{
	uint64_t n;

	(void)state;
	for (n = 1;; n++) {
		struct plist dst, sp;
		struct model md, ms;
		struct drops d = { .n = 0 };
		plist_slot_t *dorig;
		const size_t base = 5;	/* pages */
		int rc;

		/* sp skew 0, dst skew 3 pages: not aligned, slot by slot. */
		plist_init(&sp, 0);
		plist_init(&dst, 3 * PG);
		model_init(&ms, 0, 64);
		model_init(&md, 0, 80);
		for (size_t i = 0; i < 64; i++)
			if (i % 3)
				model_fill(&sp, &ms, i, P((unsigned)i));
		/*
		 * dst (skewed +3 pages) has nodes at keys 0 and 64 pages only;
		 * the incoming offsets 5..68 (keys 0..64) need three more.
		 */
		for (size_t i = 0; i < 80; i++)
			if (i == 0 || i == 10 || i == 70 || i == 75)
				model_fill(&dst, &md, i, PLIST_MARKER);
		dorig = malloc(80 * sizeof(*dorig));
		memcpy(dorig, md.s, 80 * sizeof(*dorig));

		fault_on(n);
		rc = plist_supply(&dst, base * PG, &sp, drop_fn, &d);
		fault_clear();
		plist_check(&sp);
		plist_check(&dst);
		if (rc != 0)
			assert_int_equal(rc, -ENOMEM);
		/*
		 * Every original sp slot is in exactly one place: still in sp,
		 * moved into a dst slot that was empty, or dropped on a dst
		 * slot that was not.  dst's own slots are untouched.
		 */
		int nd = 0;
		for (size_t i = 0; i < 64; i++) {
			size_t j = base + i;
			plist_slot_t in_sp = plist_lookup(&sp, i * PG);

			if (ms.s[i] == PLIST_EMPTY) {
				assert_true(in_sp == PLIST_EMPTY);
				continue;
			}
			if (in_sp != PLIST_EMPTY) {
				assert_true(rc != 0 && in_sp == ms.s[i]);
				assert_true(plist_lookup(&dst, j * PG) == dorig[j]);
				continue;
			}
			if (dorig[j] == PLIST_EMPTY) {
				assert_true(plist_lookup(&dst, j * PG) == ms.s[i]);
				md.s[j] = ms.s[i];
			} else {
				assert_true(nd < d.n);
				assert_true(d.off[nd] == j * PG && d.slot[nd] == ms.s[i]);
				nd++;
			}
			ms.s[i] = PLIST_EMPTY;
		}
		assert_int_equal(nd, d.n);
		model_compare(&sp, &ms);
		model_compare(&dst, &md);
		/* Finish the job without faults. */
		assert_int_equal(plist_supply(&dst, base * PG, &sp, drop_fn, &d), 0);
		assert_true(plist_is_empty(&sp));
		plist_fini(&sp);
		for (size_t i = 0; i < 64; i++)
			if (ms.s[i] != PLIST_EMPTY && md.s[base + i] == PLIST_EMPTY)
				md.s[base + i] = ms.s[i];
		model_compare(&dst, &md);
		drain(&dst);
		free(md.s);
		free(ms.s);
		free(dorig);
		if (rc == 0)
			break;
	}
	assert_int_equal(n, 4);	/* three node allocations, each failed once */
}

/* ------------------------------------------------------------------ */
/* Randomized against the array model                                   */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static size_t rn(size_t n) { return (size_t)(rnd() % n); }

static plist_slot_t
rnd_slot(void)
{
	switch (rn(8)) {
	case 0: return PLIST_EMPTY;
	case 1: case 2: return PLIST_MARKER;
	default: return P((unsigned)rn(NFAKE));
	}
}

#define RM 384	/* model pages: 24 nodes */

struct rctx {
	struct model	*m;
	uint64_t	last;
	bool		any;
	int		calls, stop_at;
};

static int
rand_fe_fn(void *ctx, uint64_t off, plist_slot_t *slot)
{
	struct rctx *c = ctx;
	size_t i = (off - c->m->origin) / PG;

	assert_true(off >= c->m->origin && i < c->m->n);
	assert_true(!c->any || off > c->last);
	c->any = true;
	c->last = off;
	assert_true(*slot != PLIST_EMPTY && *slot == c->m->s[i]);
	if (rn(2))
		*slot = c->m->s[i] = rnd_slot();
	return ++c->calls == c->stop_at ? 5 : 0;
}

static void
rand_range(size_t *a, size_t *b)
{
	*a = rn(RM + 1);
	*b = *a + rn(RM + 1 - *a);
}

static void
rand_op(struct plist *pl, struct model *m, struct plist *other, struct model *mo)
{
	size_t a, b, i = rn(RM);
	uint64_t end, off;
	plist_slot_t x, old;

	switch (rn(9)) {
	case 0: case 1: case 2:		/* set */
		x = rnd_slot();
		assert_int_equal(plist_set(pl, moff(m, i), x, &old), 0);
		assert_true(old == m->s[i]);
		m->s[i] = x;
		break;
	case 3:				/* remove */
		assert_true(plist_remove(pl, moff(m, i)) == m->s[i]);
		m->s[i] = PLIST_EMPTY;
		break;
	case 4: {			/* next / any */
		rand_range(&a, &b);
		end = rn(4) == 0 ? UINT64_MAX : moff(m, b);
		if (end == UINT64_MAX)
			b = RM;
		size_t j = a;
		while (j < b && m->s[j] == PLIST_EMPTY)
			j++;
		assert_int_equal(plist_next(pl, moff(m, a), end, &off, &x), j < b);
		assert_int_equal(plist_any(pl, moff(m, a), end), j < b);
		if (j < b)
			assert_true(off == moff(m, j) && x == m->s[j]);
		break;
	}
	case 5: {			/* foreach, mutating, maybe stopping */
		struct rctx c = { .m = m, .stop_at = rn(3) ? -1 : (int)rn(8) + 1 };
		int rc;

		rand_range(&a, &b);
		rc = plist_foreach(pl, moff(m, a), moff(m, b), rand_fe_fn, &c);
		assert_int_equal(rc, c.calls == c.stop_at ? 5 : 0);
		break;
	}
	case 6: {			/* gaps and runs */
		struct ranges got, want;

		rand_range(&a, &b);
		memset(&got, 0, sizeof(got));
		assert_int_equal(plist_foreach_with_gaps(pl, moff(m, a), moff(m, b),
		    slot_count_fn, range_fn, &got), 0);
		model_ranges(m, a, b, 0, &want);
		ranges_equal(&got, &want);
		memset(&got, 0, sizeof(got));
		assert_int_equal(plist_foreach_run(pl, moff(m, a), moff(m, b),
		    range_fn, &got), 0);
		model_ranges(m, a, b, 1, &want);
		ranges_equal(&got, &want);
		break;
	}
	default: {			/* take from pl, supply into other */
		struct plist out;
		struct drops d = { .n = 0 };
		size_t base;

		rand_range(&a, &b);
		base = rn(RM - (b - a) + 1);
		assert_int_equal(plist_take(pl, moff(m, a), moff(m, b), &out), 0);
		check_taken(&out, m, m->s, a, b);
		assert_int_equal(plist_supply(other, moff(mo, base), &out,
		    drop_fn, &d), 0);
		plist_fini(&out);
		int nd = 0;
		for (size_t k = a; k < b; k++) {
			size_t j = base + k - a;

			if (m->s[k] == PLIST_EMPTY)
				continue;
			if (mo->s[j] == PLIST_EMPTY) {
				mo->s[j] = m->s[k];
			} else {
				assert_true(nd < d.n);
				assert_true(d.off[nd] == moff(mo, j) && d.slot[nd] == m->s[k]);
				nd++;
			}
			m->s[k] = PLIST_EMPTY;
		}
		assert_int_equal(nd, d.n);
		break;
	}
	}
}

static void
test_random(void **state)
{
	const char *env = getenv("PLIST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;

	(void)state;
	print_message("plist random: PLIST_SEED=%" PRIu64 "\n", seed);
	rng_state = seed ? seed : 1;
	for (int round = 0; round < 6; round++) {
		/* Both lists share an origin: 0, a node-unaligned one, or the VMO top. */
		uint64_t origin = round % 3 == 0 ? 0 : round % 3 == 1 ? 37 * PG
		    : VMO_MAX - RM * PG;
		struct plist A, B;
		struct model ma, mb;

		plist_init(&A, rn(PLIST_FANOUT) * PG);
		plist_init(&B, rn(PLIST_FANOUT) * PG);
		model_init(&ma, origin, RM);
		model_init(&mb, origin, RM);
		for (int op = 0; op < 4000; op++) {
			if (rn(2))
				rand_op(&A, &ma, &B, &mb);
			else
				rand_op(&B, &mb, &A, &ma);
			plist_check(&A);
			plist_check(&B);
			if (op % 16 == 0) {
				model_compare(&A, &ma);
				model_compare(&B, &mb);
			}
		}
		model_compare(&A, &ma);
		model_compare(&B, &mb);
		drain(&A);
		drain(&B);
		free(ma.s);
		free(mb.s);
	}
}

/* Metadata per page of a dense 1 GiB list. */
static void
test_density(void **state)
{
	const uint64_t npg = (1ull << 30) / PG;
	struct plist pl;
	size_t bytes;

	(void)state;
	plist_init(&pl, 0);
	for (uint64_t i = 0; i < npg; i++)
		assert_int_equal(plist_set(&pl, i * PG, P((unsigned)i), NULL), 0);
	assert_int_equal(pl.npages, npg);
	bytes = plist_node_bytes(&pl);
	assert_int_equal(bytes, npg / PLIST_FANOUT * sizeof(struct plist_node));
	print_message("plist: dense 1 GiB: %zu node bytes, %.2f bytes/page "
	    "(node %zu bytes / %d slots)\n", bytes, (double)bytes / (double)npg,
	    sizeof(struct plist_node), PLIST_FANOUT);
	plist_check(&pl);
	drain(&pl);
}

/*
 * Walks that change no slot write nothing, so readers sharing the owner's
 * lock may run them at once (issue #16: attribution under the shared
 * hierarchy lock).  Four threads walk one list of 4096 slots (pages and
 * markers, skewed) RO_ROUNDS times each, with plist_visit and with
 * plist_foreach and a callback that changes nothing; the list must still
 * be exact and every walk must have seen every slot.  Before the fix,
 * plist_foreach did used-- / used++ on every slot it visited: with two
 * foreach walks per round this aborted on "n->used > 0" in six runs of
 * six (about a second each).
 */
#define RO_ROUNDS 6000

static int
ro_visit_fn(void *ctx, uint64_t off, plist_slot_t slot)
{
	(void)off;
	*(uint64_t *)ctx += slot != PLIST_EMPTY;
	return 0;
}

static int
ro_foreach_fn(void *ctx, uint64_t off, plist_slot_t *slot)
{
	(void)off;
	*(uint64_t *)ctx += *slot != PLIST_EMPTY;
	return 0;
}

struct ro_walk {
	struct plist	*pl;
	int		bad;
};

static void *
ro_walker(void *arg)
{
	struct ro_walk *w = arg;

	for (int i = 0; i < RO_ROUNDS; i++) {
		uint64_t a = 0, b = 0;

		plist_visit(w->pl, 0, UINT64_MAX, ro_visit_fn, &a);
		plist_foreach(w->pl, 0, UINT64_MAX, ro_foreach_fn, &b);
		w->bad |= a != 4096 || b != 4096;
	}
	return NULL;
}

static void
test_readers_write_nothing(void **state)
{
	struct ro_walk w[4];
	pthread_t t[4];
	struct plist pl;
	int i;

	(void)state;
	plist_init(&pl, 5 * PG);
	for (i = 0; i < 4096; i++)
		assert_int_equal(plist_set(&pl, (uint64_t)i * PG,
		    i % 7 == 0 ? PLIST_MARKER : P((unsigned)i), NULL), 0);
	for (i = 0; i < 4; i++) {
		w[i].pl = &pl;
		w[i].bad = 0;
		assert_int_equal(pthread_create(&t[i], NULL, ro_walker, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	plist_check(&pl);
	assert_int_equal(pl.npages + pl.nmarkers, 4096);
	drain(&pl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_lookup_remove),
		cmocka_unit_test(test_offsets_and_skew),
		cmocka_unit_test(test_next_any),
		cmocka_unit_test(test_foreach_modify),
		cmocka_unit_test(test_gaps_and_runs),
		cmocka_unit_test(test_take_supply),
		cmocka_unit_test(test_supply_aligned_no_alloc),
		cmocka_unit_test(test_fault_set),
		cmocka_unit_test(test_fault_take),
		cmocka_unit_test(test_fault_supply),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_density),
		cmocka_unit_test(test_readers_write_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
