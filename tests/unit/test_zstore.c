/*
 * test_zstore.c - the compressed store (vm/zstore.c) against its contract
 * in vm/zstore.h.
 *
 * Invariant guarded throughout: every stored handle gives back exactly
 * the page that was put (a model keeps a copy of each), the counters match
 * the model, and the handle table is consistent (zstore_test_check) after
 * every failure, injected or not.
 *
 * test_figures prints compression speed and ratio on a text/zero/random
 * mix; docs/reclaim.md quotes it (run the -O2 build).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "page.h"
#include "zstore.h"

#define PG VM_PAGE_SIZE

static uint64_t
xr(uint64_t *s)
{
	*s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
	return *s;
}

/* Page contents by kind: 0 zeros, 1 text, 2 random, 3 sparse (mostly zero
 * with a few words: compresses very well), seeded. */
static void
fill(void *page, int kind, uint64_t seed)
{
	static const char *words[] = { "the ", "page ", "queue ", "clone ", "of ",
		"memory ", "vmofs ", "pressure\n", "reclaim ", "compressed ", "and ",
		"a ", "hidden ", "node ", "0x7f3a ", "{ int i; }\n" };
	unsigned char *b = page;
	uint64_t s = seed * 2654435761u + 1;
	size_t i = 0;

	memset(b, 0, PG);
	if (kind == 1) {
		while (i < PG) {
			const char *w = words[xr(&s) % 16];
			size_t l = strlen(w);

			if (i + l > PG)
				l = PG - i;
			memcpy(b + i, w, l);
			i += l;
		}
	} else if (kind == 2) {
		for (i = 0; i < PG; i += 8) {
			uint64_t v = xr(&s);
			memcpy(b + i, &v, 8);
		}
	} else if (kind == 3) {
		for (i = 0; i < 16; i++)
			b[(xr(&s) % (PG / 8)) * 8] = (unsigned char)(xr(&s) | 1);
	}
}

static void *
page_alloc(void)
{
	void *p = aligned_alloc(PG, PG);

	assert_non_null(p);
	return p;
}

static void
test_roundtrip(void **state)
{
	struct zstore *z = zstore_create(0);
	unsigned char *in = page_alloc(), *out = page_alloc();
	struct zstore_stats st;
	uint32_t h, h2;

	(void)state;
	assert_non_null(z);
	fill(in, 1, 1);
	assert_int_equal(zstore_put(z, in, &h), 0);
	assert_int_not_equal(h, ZSTORE_NONE);
	memset(out, 0xaa, PG);
	assert_int_equal(zstore_get(z, h, out), 0);
	assert_memory_equal(in, out, PG);
	assert_int_equal(zstore_get(z, h, out), 0);	/* get keeps it */
	fill(in, 3, 2);
	assert_int_equal(zstore_put(z, in, &h2), 0);
	assert_int_equal(zstore_get(z, h2, out), 0);
	assert_memory_equal(in, out, PG);
	zstore_stats(z, &st);
	assert_int_equal(st.stored, 2);
	assert_int_equal(st.compressions, 2);
	assert_int_equal(st.decompressions, 3);
	assert_true(st.bytes > 0 && st.bytes < 2 * ZSTORE_MAX_COMPRESSED);
	assert_int_equal(st.saved, 2 * PG - st.bytes);
	/* bad handles */
	assert_int_equal(zstore_get(z, ZSTORE_NONE, out), -EINVAL);
	assert_int_equal(zstore_get(z, 12345, out), -EINVAL);
	assert_int_equal(zstore_free(z, 12345), -EINVAL);
	assert_int_equal(zstore_free(z, h), 0);
	assert_int_equal(zstore_free(z, h), -EINVAL);	/* double free */
	assert_int_equal(zstore_get(z, h, out), -EINVAL);
	zstore_test_check(z);
	zstore_destroy(z);	/* frees h2 */
	zstore_destroy(NULL);
	free(in);
	free(out);
}

/* Zero pages are reported, not stored; random pages are refused. */
static void
test_zero_random(void **state)
{
	struct zstore *z = zstore_create(0);
	unsigned char *in = page_alloc();
	struct zstore_stats st;
	uint32_t h = 77;

	(void)state;
	fill(in, 0, 0);
	assert_int_equal(zstore_put(z, in, &h), ZSTORE_ZERO);
	assert_int_equal(h, ZSTORE_NONE);
	in[PG - 1] = 1;				/* last byte: not zero */
	assert_int_equal(zstore_put(z, in, &h), 0);
	assert_int_equal(zstore_free(z, h), 0);
	fill(in, 2, 3);
	assert_int_equal(zstore_put(z, in, &h), -E2BIG);
	assert_int_equal(h, ZSTORE_NONE);
	zstore_stats(z, &st);
	assert_int_equal(st.zero_pages, 1);
	assert_int_equal(st.incompressible, 1);
	assert_int_equal(st.compressions, 2);
	assert_int_equal(st.stored, 0);
	assert_int_equal(st.bytes, 0);
	zstore_test_check(z);
	zstore_destroy(z);
	free(in);
}

/* Freed handles are issued again (LIFO); live ones never move. */
static void
test_handle_reuse(void **state)
{
	struct zstore *z = zstore_create(0);
	unsigned char *in = page_alloc(), *out = page_alloc();
	uint32_t h[200], again;

	(void)state;
	for (int i = 0; i < 200; i++) {		/* crosses table growth */
		fill(in, 1, (uint64_t)i);
		assert_int_equal(zstore_put(z, in, &h[i]), 0);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(h[i], h[j]);
	}
	assert_int_equal(zstore_free(z, h[50]), 0);
	assert_int_equal(zstore_free(z, h[7]), 0);
	fill(in, 1, 1000);
	assert_int_equal(zstore_put(z, in, &again), 0);
	assert_int_equal(again, h[7]);
	assert_int_equal(zstore_put(z, in, &again), 0);
	assert_int_equal(again, h[50]);
	for (int i = 0; i < 200; i++) {
		if (i == 7 || i == 50)
			continue;
		fill(in, 1, (uint64_t)i);
		assert_int_equal(zstore_get(z, h[i], out), 0);
		assert_memory_equal(in, out, PG);
	}
	zstore_test_check(z);
	zstore_destroy(z);
	free(in);
	free(out);
}

/* The byte limit: -ENOSPC when a page would not fit, room after a free. */
static void
test_limit(void **state)
{
	unsigned char *in = page_alloc();
	struct zstore_stats st;
	struct zstore *z;
	uint32_t h[64];
	int n = 0, r;

	(void)state;
	fill(in, 1, 9);
	z = zstore_create(1);			/* learn one block's size */
	assert_int_equal(zstore_put(z, in, &h[0]), -ENOSPC);
	zstore_destroy(z);
	z = zstore_create(3 * 1024);
	while ((r = zstore_put(z, in, &h[n])) == 0)
		n++;
	assert_int_equal(r, -ENOSPC);
	assert_true(n >= 1);
	zstore_stats(z, &st);
	assert_true(st.bytes <= st.limit);
	assert_int_equal(st.failures, 1);
	assert_int_equal(zstore_free(z, h[0]), 0);
	assert_int_equal(zstore_put(z, in, &h[0]), 0);
	zstore_test_check(z);
	zstore_destroy(z);
	free(in);
}

/* Every heap allocation failing in turn: -ENOMEM, store unchanged. */
static void
test_fault(void **state)
{
	unsigned char *in = page_alloc(), *out = page_alloc();
	struct zstore_stats st0, st;
	struct zstore *z;
	uint32_t h[100];

	(void)state;
	fault_set(1, 0);
	assert_null(zstore_create(0));
	fault_clear();
	z = zstore_create(0);
	assert_non_null(z);
	for (int i = 0; i < 100; i++) {
		fill(in, 1 + (i % 3 == 0) * 2, (uint64_t)i);
		for (uint64_t nth = 1;; nth++) {
			int r;

			zstore_stats(z, &st0);
			fault_set(nth, 0);
			r = zstore_put(z, in, &h[i]);
			fault_clear();
			zstore_test_check(z);
			if (r == 0)
				break;
			assert_int_equal(r, -ENOMEM);
			assert_int_equal(h[i], ZSTORE_NONE);
			zstore_stats(z, &st);
			assert_int_equal(st.stored, st0.stored);
			assert_int_equal(st.bytes, st0.bytes);
			assert_true(nth < 4);
		}
	}
	for (int i = 0; i < 100; i++) {
		fill(in, 1 + (i % 3 == 0) * 2, (uint64_t)i);
		assert_int_equal(zstore_get(z, h[i], out), 0);
		assert_memory_equal(in, out, PG);
	}
	/* random failures over a workload: still consistent */
	fault_set(0, 200000);
	for (int i = 0; i < 100; i++) {
		uint32_t x;

		fill(in, 1, (uint64_t)i + 500);
		if (zstore_put(z, in, &x) == 0)
			assert_int_equal(zstore_free(z, x), 0);
	}
	fault_clear();
	zstore_test_check(z);
	zstore_destroy(z);
	free(in);
	free(out);
}

/* Mixed workload against a model that keeps each stored page's seed. */
static void
test_model(void **state)
{
	enum { N = 512 };
	static struct { uint32_t h; int kind; uint64_t seed; bool in; } m[N];
	unsigned char *in = page_alloc(), *out = page_alloc();
	uint64_t s = 12345, stored = 0, zeros = 0, big = 0;
	struct zstore *z = zstore_create(0);
	struct zstore_stats st;

	(void)state;
	memset(m, 0, sizeof(m));
	for (int step = 0; step < 20000; step++) {
		int i = (int)(xr(&s) % N), r;

		if (!m[i].in) {
			m[i].kind = (int)(xr(&s) % 4);
			m[i].seed = xr(&s);
			fill(in, m[i].kind, m[i].seed);
			r = zstore_put(z, in, &m[i].h);
			if (m[i].kind == 0) {
				assert_int_equal(r, ZSTORE_ZERO);
				zeros++;
			} else if (m[i].kind == 2) {
				assert_int_equal(r, -E2BIG);
				big++;
			} else {
				assert_int_equal(r, 0);
				m[i].in = true;
				stored++;
			}
		} else if (xr(&s) % 2) {
			fill(in, m[i].kind, m[i].seed);
			assert_int_equal(zstore_get(z, m[i].h, out), 0);
			assert_memory_equal(in, out, PG);
		} else {
			assert_int_equal(zstore_free(z, m[i].h), 0);
			m[i].in = false;
			stored--;
		}
	}
	zstore_stats(z, &st);
	assert_int_equal(st.stored, stored);
	assert_int_equal(st.zero_pages, zeros);
	assert_int_equal(st.incompressible, big);
	zstore_test_check(z);
	zstore_destroy(z);
	free(in);
	free(out);
}

/* ---- threads ---------------------------------------------------------- */

static struct zstore *mt_z;

static void *
mt_worker(void *arg)
{
	enum { K = 64 };
	uint64_t s = (uint64_t)(uintptr_t)arg * 977 + 3;
	unsigned char *in = aligned_alloc(PG, PG), *out = aligned_alloc(PG, PG);
	uint32_t h[K];
	uint64_t seed[K];
	bool have[K] = { false };

	for (int step = 0; step < 6000; step++) {
		int i = (int)(xr(&s) % K);

		if (!have[i]) {
			seed[i] = xr(&s);
			fill(in, 1, seed[i]);
			if (zstore_put(mt_z, in, &h[i]) != 0)
				abort();
			have[i] = true;
		} else if (xr(&s) % 3) {
			fill(in, 1, seed[i]);
			if (zstore_get(mt_z, h[i], out) != 0 || memcmp(in, out, PG))
				abort();
		} else {
			if (zstore_free(mt_z, h[i]) != 0)
				abort();
			have[i] = false;
		}
	}
	for (int i = 0; i < K; i++)
		if (have[i])
			zstore_free(mt_z, h[i]);
	free(in);
	free(out);
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t t[4];
	struct zstore_stats st;

	(void)state;
	mt_z = zstore_create(0);
	for (uintptr_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, mt_worker, (void *)i), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	zstore_test_check(mt_z);
	zstore_stats(mt_z, &st);
	assert_int_equal(st.stored, 0);
	assert_int_equal(st.bytes, 0);
	zstore_destroy(mt_z);
}

/* ---- figures for docs/reclaim.md ------------------------------------- */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One kind (or the mix, kind < 0: 40% text, 20% sparse, 20% zero, 20%
 * random): put every page, get every stored one, print speed and ratio. */
static void
figure(const char *name, int kind, int npages)
{
	unsigned char *buf = malloc((size_t)npages * PG), *out = page_alloc();
	uint32_t *h = calloc((size_t)npages, sizeof(*h));
	struct zstore *z = zstore_create(0);
	struct zstore_stats st;
	double t0, t1, t2;
	int i, stored = 0;

	assert_true(buf && h && z);
	for (i = 0; i < npages; i++) {
		static const int mix[10] = { 1, 1, 1, 1, 3, 3, 0, 0, 2, 2 };

		fill(buf + (size_t)i * PG, kind >= 0 ? kind : mix[i % 10], (uint64_t)i);
	}
	t0 = now();
	for (i = 0; i < npages; i++)
		stored += zstore_put(z, buf + (size_t)i * PG, &h[i]) == 0;
	t1 = now();
	for (i = 0; i < npages; i++)
		if (h[i] != ZSTORE_NONE)
			assert_int_equal(zstore_get(z, h[i], out), 0);
	t2 = now();
	zstore_stats(z, &st);
	print_message("%-7s %6d pages: put %7.0f MiB/s (%5.2f us/page), "
		      "get %7.0f MiB/s (%5.2f us/page), stored %d, "
		      "ratio %.2f (4096 / mean block %.0f B), zero %llu, "
		      "incompressible %llu\n", name, npages,
		      npages * (double)PG / (1 << 20) / (t1 - t0),
		      (t1 - t0) * 1e6 / npages,
		      stored ? stored * (double)PG / (1 << 20) / (t2 - t1) : 0.0,
		      stored ? (t2 - t1) * 1e6 / stored : 0.0, stored,
		      st.bytes ? (double)stored * PG / (double)st.bytes : 0.0,
		      stored ? (double)st.bytes / stored : 0.0,
		      (unsigned long long)st.zero_pages,
		      (unsigned long long)st.incompressible);
	zstore_destroy(z);
	free(buf);
	free(out);
	free(h);
}

static void
test_figures(void **state)
{
	int n = getenv("ZS_FIG_PAGES") ? atoi(getenv("ZS_FIG_PAGES")) : 4096;

	(void)state;
	figure("text", 1, n);
	figure("sparse", 3, n);
	figure("zero", 0, n);
	figure("random", 2, n);
	figure("mix", -1, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_zero_random),
		cmocka_unit_test(test_handle_reuse),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_fault),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_figures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
