/*
 * test_pmm.c - the physical memory manager (vm/pmm.h).
 *
 * Invariant under test throughout: every page of the arena is in exactly
 * one place, free (pmm_free_count) or held by the test, whatever happens,
 * including injected allocation failures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"
#include "pmm.h"

#define P VM_PAGE_SIZE

static struct pmm *
mk(uint64_t npages)
{
	struct pmm *pmm = NULL;

	assert_int_equal(pmm_create(npages, &pmm), 0);
	assert_non_null(pmm);
	return pmm;
}

static struct pmm_stats
stats(struct pmm *pmm)
{
	struct pmm_stats st;

	pmm_get_stats(pmm, &st);
	return st;
}

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static void
test_create_edges(void **state)
{
	struct pmm *pmm = NULL;
	int err;

	(void)state;
	assert_int_equal(pmm_create(0, &pmm), -EINVAL);
	assert_int_equal(pmm_create(UINT64_MAX, &pmm), -EINVAL);
	assert_int_equal(pmm_create(UINT64_MAX / P + 1, &pmm), -EINVAL);
	assert_int_equal(pmm_create(1ull << 40, &pmm), -EINVAL);
	/* The largest accepted size may or may not map: never a crash. */
	err = pmm_create(1ull << 35, &pmm);
	assert_true(err == 0 || err == -ENOMEM || err == -EINVAL);
	if (err == 0)
		pmm_destroy(pmm);
	/* Heap failure: -ENOMEM, nothing leaked (ASan). */
	fault_set(1, 0);
	fault_set_kind(FAULT_HEAP);
	assert_int_equal(pmm_create(8, &pmm), -ENOMEM);
	assert_int_equal(fault_failures(), 1);
	fault_clear();
	pmm = mk(1);
	assert_int_equal(pmm_free_count(pmm), 1);
	pmm_destroy(pmm);
	/* A large arena costs address space only: create is instant. */
	pmm = mk(1ull << 22);		/* 16 GiB */
	assert_int_equal(pmm_free_count(pmm), 1ull << 22);
	pmm_destroy(pmm);
}

static void
test_single_exhaust_recover(void **state)
{
	struct vm_page *pg[16], *p, *extra;
	struct pmm *pmm = mk(16);
	struct pmm_stats st;
	int i, j;

	(void)state;
	for (i = 0; i < 16; i++) {
		assert_int_equal(pmm_alloc(pmm, &pg[i]), 0);
		assert_int_equal(pg[i]->state, VM_PAGE_ALLOC);
		assert_int_equal(pg[i]->pin_count, 0);
		for (j = 0; j < i; j++)
			assert_ptr_not_equal(pg[i], pg[j]);
	}
	assert_int_equal(pmm_free_count(pmm), 0);
	assert_int_equal(pmm_alloc(pmm, &p), -ENOSPC);
	assert_int_equal(pmm_alloc(pmm, &p), -ENOSPC);
	st = stats(pmm);
	assert_int_equal(st.alloc_fails, 2);
	assert_int_equal(st.allocs, 16);
	/* Recovery: a freed page is allocatable again. */
	pmm_free(pmm, pg[5]);
	assert_int_equal(pmm_free_count(pmm), 1);
	assert_int_equal(pmm_alloc(pmm, &extra), 0);
	assert_ptr_equal(extra, pg[5]);
	assert_int_equal(pmm_alloc(pmm, &p), -ENOSPC);
	for (i = 0; i < 16; i++)
		pmm_free(pmm, pg[i]);
	st = stats(pmm);
	assert_int_equal(st.free_pages, 16);
	assert_int_equal(st.allocs, 17);
	assert_int_equal(st.frees, 17);
	assert_int_equal(st.alloc_fails, 3);
	pmm_destroy(pmm);
}

static void
test_batch(void **state)
{
	struct vm_page *pg[100];
	struct pmm *pmm = mk(64);
	size_t n, i, j;

	(void)state;
	assert_int_equal(pmm_alloc_batch(pmm, 0, pg), 0);
	n = pmm_alloc_batch(pmm, 40, pg);
	assert_int_equal(n, 40);
	assert_int_equal(pmm_free_count(pmm), 24);
	/* Short batch: only what is left. */
	n = pmm_alloc_batch(pmm, 40, pg + 40);
	assert_int_equal(n, 24);
	assert_int_equal(pmm_alloc_batch(pmm, 5, pg + 64), 0);
	for (i = 0; i < 64; i++)
		for (j = i + 1; j < 64; j++)
			assert_ptr_not_equal(pg[i], pg[j]);
	assert_int_equal(stats(pmm).alloc_fails, 2);
	pmm_free_batch(pmm, pg, 0);
	pmm_free_batch(pmm, pg, 30);
	assert_int_equal(pmm_free_count(pmm), 30);
	pmm_free_batch(pmm, pg + 30, 34);
	assert_int_equal(pmm_free_count(pmm), 64);
	assert_int_equal(stats(pmm).frees, 64);
	pmm_destroy(pmm);
}

static void
test_addr_mapping(void **state)
{
	struct vm_page *pg[32];
	struct pmm *pmm = mk(32);
	unsigned char *base, *a;
	size_t i;

	(void)state;
	assert_int_equal(pmm_alloc_batch(pmm, 32, pg), 32);
	base = NULL;
	for (i = 0; i < 32; i++) {
		a = pmm_page_addr(pmm, pg[i]);
		assert_int_equal((uintptr_t)a % P, 0);
		if (pmm_page_index(pmm, pg[i]) == 0)
			base = a;
		assert_ptr_equal(pmm_addr_page(pmm, a), pg[i]);
		assert_ptr_equal(pmm_addr_page(pmm, a + 1), pg[i]);
		assert_ptr_equal(pmm_addr_page(pmm, a + P - 1), pg[i]);
		assert_true(pmm_page_index(pmm, pg[i]) < 32);
		memset(a, (int)(i + 1), P);
	}
	assert_non_null(base);
	for (i = 0; i < 32; i++) {
		a = pmm_page_addr(pmm, pg[i]);
		assert_ptr_equal(a, base + pmm_page_index(pmm, pg[i]) * P);
		assert_int_equal(a[0], i + 1);
		assert_int_equal(a[P - 1], i + 1);
	}
	assert_null(pmm_addr_page(pmm, base - 1));
	assert_null(pmm_addr_page(pmm, base + 32 * P));
	assert_null(pmm_addr_page(pmm, NULL));
	assert_null(pmm_addr_page(pmm, &i));
	pmm_free_batch(pmm, pg, 32);
	pmm_destroy(pmm);
}

/* Free then alloc: the page just freed comes back first (cache-warm). */
static void
test_lifo(void **state)
{
	struct vm_page *pg[8], *p;
	struct pmm *pmm = mk(8);

	(void)state;
	assert_int_equal(pmm_alloc_batch(pmm, 8, pg), 8);
	pmm_free(pmm, pg[3]);
	pmm_free(pmm, pg[6]);
	assert_int_equal(pmm_alloc(pmm, &p), 0);
	assert_ptr_equal(p, pg[6]);
	assert_int_equal(pmm_alloc(pmm, &p), 0);
	assert_ptr_equal(p, pg[3]);
	pmm_free_batch(pmm, pg, 8);
	pmm_destroy(pmm);
}

static void
test_states(void **state)
{
	static const uint8_t kinds[] = { VM_PAGE_ALLOC, VM_PAGE_OBJECT,
	    VM_PAGE_WIRED };
	struct vm_page *p;
	struct pmm *pmm = mk(4);
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(kinds); k++) {
		assert_int_equal(pmm_alloc(pmm, &p), 0);
		assert_int_equal(p->state, VM_PAGE_ALLOC);
		assert_null(p->owner);
		assert_int_equal(p->resident, 1);
		p->state = kinds[k];
		p->owner = pmm;
		p->offset = 12345 * P;
		p->flags = 3;
		pmm_free(pmm, p);
		assert_int_equal(p->state, VM_PAGE_FREE);
		assert_null(p->owner);
		assert_int_equal(p->offset, 0);
		assert_int_equal(p->flags, 0);
	}
	assert_int_equal(pmm_free_count(pmm), 4);
	pmm_destroy(pmm);
}

/* Run fn in a child; it must die of an assertion (SIGABRT). */
static void
expect_abort(void (*fn)(struct pmm *))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct pmm *pmm = NULL;

		/* Keep the expected assertion message out of the log. */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(2);
		if (pmm_create(4, &pmm) != 0)
			_exit(2);
		fn(pmm);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void
do_double_free(struct pmm *pmm)
{
	struct vm_page *p;

	if (pmm_alloc(pmm, &p) != 0)
		_exit(2);
	pmm_free(pmm, p);
	pmm_free(pmm, p);
}

static void
do_pinned_free(struct pmm *pmm)
{
	struct vm_page *p;

	if (pmm_alloc(pmm, &p) != 0)
		_exit(2);
	p->pin_count = 1;
	pmm_free(pmm, p);
}

static void
do_foreign_free(struct pmm *pmm)
{
	struct vm_page fake;

	memset(&fake, 0, sizeof(fake));
	fake.state = VM_PAGE_ALLOC;
	pmm_free(pmm, &fake);
}

static void
do_destroy_busy(struct pmm *pmm)
{
	struct vm_page *p;

	if (pmm_alloc(pmm, &p) != 0)
		_exit(2);
	pmm_destroy(pmm);
}

static void
test_asserts(void **state)
{
	(void)state;
	expect_abort(do_double_free);
	expect_abort(do_pinned_free);
	expect_abort(do_foreign_free);
	expect_abort(do_destroy_busy);
}

static void
test_counters(void **state)
{
	struct vm_page *pg[10];
	struct pmm *pmm = mk(10);
	struct pmm_stats st;

	(void)state;
	st = stats(pmm);
	assert_int_equal(st.total_pages, 10);
	assert_int_equal(st.free_pages, 10);
	assert_int_equal(st.resident_free, 0);
	assert_int_equal(st.allocs + st.frees + st.alloc_fails + st.released, 0);
	assert_int_equal(pmm_alloc_batch(pmm, 10, pg), 10);
	pmm_free_batch(pmm, pg, 7);
	st = stats(pmm);
	assert_int_equal(st.free_pages, 7);
	assert_int_equal(st.resident_free, 7);
	assert_int_equal(st.allocs, 10);
	assert_int_equal(st.frees, 7);
	pmm_free_batch(pmm, pg + 7, 3);
	assert_int_equal(stats(pmm).resident_free, 10);
	pmm_destroy(pmm);
}

/*
 * Release to the OS: with a low threshold, freeing many pages madvises
 * the excess; those pages read zero afterwards and can be reused.
 */
static void
test_release(void **state)
{
	enum { N = 600, T = 16 };
	struct vm_page **pg = calloc(N, sizeof(*pg));
	struct pmm *pmm = mk(N);
	struct pmm_stats st;
	size_t i, nreleased = 0, nres = 0;
	unsigned char *a;

	(void)state;
	pmm_set_release_threshold(pmm, T);
	assert_int_equal(pmm_alloc_batch(pmm, N, pg), N);
	for (i = 0; i < N; i++)
		memset(pmm_page_addr(pmm, pg[i]), 0xa5, P);
	/* One by one: releases happen in hysteresis steps. */
	for (i = 0; i < N / 2; i++)
		pmm_free(pmm, pg[i]);
	/* And a big batch. */
	pmm_free_batch(pmm, pg + N / 2, N - N / 2);
	st = stats(pmm);
	assert_int_equal(st.free_pages, N);
	assert_true(st.resident_free <= T);
	assert_true(st.released >= N - T);
	for (i = 0; i < N; i++) {
		a = pmm_page_addr(pmm, pg[i]);
		assert_int_equal(pg[i]->state, VM_PAGE_FREE);
		if (pg[i]->resident) {
			nres++;
			continue;
		}
		nreleased++;
		assert_true(all_zero(a, P));
	}
	assert_int_equal(nres, st.resident_free);
	assert_int_equal(nreleased + nres, N);
	/* Reusable: allocate everything again, write and check. */
	assert_int_equal(pmm_alloc_batch(pmm, N, pg), N);
	for (i = 0; i < N; i++)
		memset(pmm_page_addr(pmm, pg[i]), (int)(i & 0xff), P);
	for (i = 0; i < N; i++) {
		a = pmm_page_addr(pmm, pg[i]);
		assert_int_equal(a[0], i & 0xff);
		assert_int_equal(a[P - 1], i & 0xff);
	}
	pmm_free_batch(pmm, pg, N);
	/* Raising the threshold releases nothing; lowering it releases now. */
	pmm_set_release_threshold(pmm, 1000000);
	st = stats(pmm);
	pmm_set_release_threshold(pmm, 0);
	assert_int_equal(stats(pmm).resident_free, 0);
	assert_true(stats(pmm).released >= st.released + st.resident_free);
	assert_int_equal(pmm_free_count(pmm), N);
	pmm_destroy(pmm);
	free(pg);
}

/* mincore: is the page at a resident? */
static bool
page_resident(void *a)
{
	unsigned char v = 0;

	assert_int_equal(mincore(a, P, &v), 0);
	return v & 1;
}

/*
 * pmm_prealloc: every page is resident before it is handed out, pages in
 * use keep their bytes, and nothing is released afterwards whatever the
 * threshold says.
 */
static void
test_prealloc(void **state)
{
	enum { N = 600, K = 10 };
	struct vm_page **pg = calloc(N, sizeof(*pg));
	struct pmm *pmm = mk(N);
	size_t i;
	int r;

	(void)state;
	assert_int_equal(pmm_alloc_batch(pmm, K, pg), K);
	for (i = 0; i < K; i++)
		memset(pmm_page_addr(pmm, pg[i]), 0x5a, P);
	r = pmm_prealloc(pmm);
	if (r == -EOPNOTSUPP) {
		pmm_free_batch(pmm, pg, K);
		pmm_destroy(pmm);
		free(pg);
		skip();		/* Linux before 5.14 */
	}
	assert_int_equal(r, 0);
	for (i = 0; i < K; i++) {
		unsigned char *a = pmm_page_addr(pmm, pg[i]);

		assert_int_equal(a[0], 0x5a);
		assert_int_equal(a[P - 1], 0x5a);
	}
	assert_int_equal(pmm_alloc_batch(pmm, N - K, pg + K), N - K);
	for (i = 0; i < N; i++)
		assert_true(page_resident(pmm_page_addr(pmm, pg[i])));
	pmm_set_release_threshold(pmm, 16);
	pmm_free_batch(pmm, pg, N);
	assert_int_equal(stats(pmm).released, 0);
	assert_int_equal(stats(pmm).resident_free, N);
	for (i = 0; i < N; i++)
		assert_true(page_resident(pmm_page_addr(pmm, pg[i])));
	pmm_set_release_threshold(pmm, 0);
	assert_int_equal(stats(pmm).released, 0);
	pmm_destroy(pmm);
	free(pg);
}

/*
 * Fault injection: fail the Nth page allocation for N = 1, 2, ... until
 * a batch goes through with no failure; after each failure every page is
 * either handed out or free, and undoing leaves the free count unchanged.
 */
static void
test_fault_batch(void **state)
{
	enum { N = 8 };
	struct vm_page *pg[N], *p;
	struct pmm *pmm = mk(32);
	uint64_t nth, fails0;
	size_t n;

	(void)state;
	/* Prime: some resident and some fresh pages in play. */
	assert_int_equal(pmm_alloc_batch(pmm, 3, pg), 3);
	pmm_free_batch(pmm, pg, 3);
	for (nth = 1;; nth++) {
		fails0 = stats(pmm).alloc_fails;
		fault_set(nth, 0);
		fault_set_kind(FAULT_PAGE);
		n = pmm_alloc_batch(pmm, N, pg);
		if (fault_failures() == 0) {
			fault_clear();
			assert_int_equal(n, N);
			assert_true(nth > N);
			pmm_free_batch(pmm, pg, n);
			break;
		}
		fault_clear();
		assert_int_equal(n, nth - 1);
		assert_int_equal(stats(pmm).alloc_fails, fails0 + 1);
		assert_int_equal(pmm_free_count(pmm), 32 - n);
		pmm_free_batch(pmm, pg, n);
		assert_int_equal(pmm_free_count(pmm), 32);
	}
	/* Single allocation, and the heap kind does not touch pages. */
	fault_set(1, 0);
	fault_set_kind(FAULT_PAGE);
	assert_int_equal(pmm_alloc(pmm, &p), -ENOSPC);
	assert_int_equal(fault_failures(), 1);
	fault_set(1, 0);
	fault_set_kind(FAULT_HEAP);
	assert_int_equal(pmm_alloc(pmm, &p), 0);
	fault_clear();
	pmm_free(pmm, p);
	/* Random failures: the count still adds up. */
	fault_set(0, 300000);
	fault_set_kind(FAULT_PAGE);
	n = pmm_alloc_batch(pmm, N, pg);
	fault_clear();
	assert_int_equal(pmm_free_count(pmm), 32 - n);
	pmm_free_batch(pmm, pg, n);
	assert_int_equal(pmm_free_count(pmm), 32);
	pmm_destroy(pmm);
}

struct pmm_worker {
	struct pmm	*pmm;
	unsigned	seed;
	uint64_t	got;
};

static void *
pmm_worker(void *arg)
{
	struct pmm_worker *w = arg;
	struct vm_page *pg[16];
	size_t n, i;
	int round;
	uint64_t *word;

	for (round = 0; round < 3000; round++) {
		n = pmm_alloc_batch(w->pmm, 1 + rand_r(&w->seed) % 16, pg);
		for (i = 0; i < n; i++) {
			word = pmm_page_addr(w->pmm, pg[i]);
			*word = (uintptr_t)w ^ i;
		}
		for (i = 0; i < n; i++) {
			word = pmm_page_addr(w->pmm, pg[i]);
			if (*word != ((uintptr_t)w ^ i) ||
			    pg[i]->state != VM_PAGE_ALLOC)
				return (void *)1;
		}
		w->got += n;
		pmm_free_batch(w->pmm, pg, n);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	enum { NT = 6 };
	struct pmm_worker w[NT];
	pthread_t t[NT];
	struct pmm *pmm = mk(64);	/* < NT * 16: exhaustion happens */
	struct pmm_stats st;
	uint64_t got = 0;
	void *ret;
	int i;

	(void)state;
	pmm_set_release_threshold(pmm, 8);
	for (i = 0; i < NT; i++) {
		w[i] = (struct pmm_worker){ .pmm = pmm, .seed = 7u * i + 1 };
		assert_int_equal(pthread_create(&t[i], NULL, pmm_worker, &w[i]), 0);
	}
	for (i = 0; i < NT; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
		got += w[i].got;
	}
	st = stats(pmm);
	assert_int_equal(st.free_pages, 64);
	assert_int_equal(st.allocs, got);
	assert_int_equal(st.frees, got);
	pmm_destroy(pmm);
}

/*
 * Contiguous runs and the loan state machine (pmm_alloc_contig,
 * pmm_loan, pmm_alloc_loaned, pmm_reclaim_loan, pmm_end_loans): a lent
 * page is never handed out by pmm_alloc, comes back to the loaned list
 * when its borrower frees it, and once cancelled waits for its lender.
 */
static void
test_contig_and_loans(void **state)
{
	struct pmm *pmm = mk(16);
	struct vm_page *run, *q, *pages[16];
	size_t n;

	(void)state;
	assert_int_equal(pmm_alloc_contig(pmm, 0, &run), -EINVAL);
	assert_int_equal(pmm_alloc_contig(pmm, 17, &run), -ENOSPC);
	assert_int_equal(pmm_alloc_contig(pmm, 4, &run), 0);
	for (int i = 1; i < 4; i++)
		assert_ptr_equal(pmm_page_addr(pmm, run + i),
		    (char *)pmm_page_addr(pmm, run) + i * P);
	assert_int_equal(pmm_free_count(pmm), 12);
	/* lend two: ordinary allocations never see them */
	pmm_loan(pmm, run + 1);
	pmm_loan(pmm, run + 2);
	assert_true(pmm_page_lent(run + 1));
	assert_int_equal(stats(pmm).lent, 2);
	assert_int_equal(stats(pmm).loaned_free, 2);
	assert_int_equal(pmm_free_count(pmm), 12);
	n = pmm_alloc_batch(pmm, 16, pages);
	assert_int_equal(n, 12);
	for (size_t i = 0; i < n; i++)
		assert_false(pmm_page_lent(pages[i]));
	/* a borrower takes one; freed, it goes back on loan */
	assert_int_equal(pmm_alloc_loaned(pmm, &q), 0);
	assert_true(q == run + 1 || q == run + 2);
	assert_int_equal(stats(pmm).borrowed, 1);
	pmm_free(pmm, q);
	assert_int_equal(stats(pmm).loaned_free, 2);
	assert_int_equal(pmm_free_count(pmm), 0);
	/* the lender takes a free one back at once */
	assert_int_equal(pmm_reclaim_loan(pmm, run + 1), 0);
	assert_false(pmm_page_lent(run + 1));
	assert_int_equal(stats(pmm).lent, 1);
	/* a borrowed one: cancelled, then it waits for its lender */
	assert_int_equal(pmm_alloc_loaned(pmm, &q), 0);
	assert_ptr_equal(q, run + 2);
	assert_int_equal(pmm_reclaim_loan(pmm, run + 2), -EBUSY);
	pmm_free(pmm, q);
	assert_int_equal(stats(pmm).loaned_free, 0);
	assert_int_equal(pmm_alloc_loaned(pmm, &q), -ENOSPC);	/* not lent again */
	assert_int_equal(pmm_reclaim_loan(pmm, run + 2), 0);
	assert_int_equal(stats(pmm).lent, 0);
	/* the lender goes: lent pages become ordinary ones */
	pmm_loan(pmm, run + 3);
	assert_int_equal(pmm_alloc_loaned(pmm, &q), 0);	/* borrowed */
	pmm_loan(pmm, run + 2);				/* free on loan */
	pmm_end_loans(pmm, run, 4);
	assert_int_equal(stats(pmm).lent, 0);
	assert_false(pmm_page_lent(q));
	assert_int_equal(pmm_free_count(pmm), 1);
	pmm_free(pmm, q);
	assert_int_equal(pmm_free_count(pmm), 2);
	pmm_free(pmm, run);
	pmm_free(pmm, run + 1);
	pmm_free_batch(pmm, pages, n);
	assert_int_equal(pmm_free_count(pmm), 16);
	/* with the fresh tail gone, a run is found among freed pages */
	n = pmm_alloc_batch(pmm, 16, pages);
	assert_int_equal(n, 16);
	for (size_t i = 0; i < n; i += 2)
		pmm_free(pmm, pages[i]);
	assert_int_equal(pmm_alloc_contig(pmm, 2, &run), -ENOSPC);
	for (size_t i = 1; i < n; i += 2)
		pmm_free(pmm, pages[i]);
	assert_int_equal(pmm_alloc_contig(pmm, 16, &run), 0);
	for (int i = 0; i < 16; i++)
		pmm_free(pmm, run + i);
	assert_int_equal(pmm_free_count(pmm), 16);
	pmm_destroy(pmm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_edges),
		cmocka_unit_test(test_single_exhaust_recover),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_addr_mapping),
		cmocka_unit_test(test_lifo),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_asserts),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_prealloc),
		cmocka_unit_test(test_fault_batch),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_contig_and_loans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
