/*
 * test_pcache.c - the per-CPU page cache (vm/pcache.h).
 *
 * Invariant under test throughout: free pages = PMM free + cached, and
 * every page is free or held by the test; the cache never makes the limit
 * look smaller (an allocation fails only when every page is held).
 * Tests pin themselves to a reserve with pcache_test_set_cpu.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "pcache.h"
#include "pmm.h"

struct fix {
	struct pmm	*pmm;
	struct pcache	*pc;
	uint64_t	npages;
};

static struct fix
mk(uint64_t npages, unsigned ncpu, unsigned reserve)
{
	struct fix f = { .npages = npages };

	assert_int_equal(pmm_create(npages, &f.pmm), 0);
	assert_int_equal(pcache_create(f.pmm, ncpu, reserve, &f.pc), 0);
	pcache_test_set_cpu(0);
	return f;
}

static void
rm(struct fix *f)
{
	pcache_destroy(f->pc);
	assert_int_equal(pmm_free_count(f->pmm), f->npages);
	pmm_destroy(f->pmm);
	pcache_test_set_cpu(-1);
}

static struct pcache_stats
cst(struct fix *f)
{
	struct pcache_stats st;

	pcache_get_stats(f->pc, &st);
	return st;
}

/* PMM free + cached == npages - held. */
static void
check_sum(struct fix *f, uint64_t held)
{
	assert_int_equal(pmm_free_count(f->pmm) + cst(f).cached, f->npages - held);
}

static void
test_create_edges(void **state)
{
	struct pmm *pmm;
	struct pcache *pc = NULL;
	struct pcache_stats st;
	long nconf = sysconf(_SC_NPROCESSORS_CONF);

	(void)state;
	assert_int_equal(pmm_create(64, &pmm), 0);
	assert_int_equal(pcache_create(pmm, 0, 8, &pc), 0);
	pcache_get_stats(pc, &st);
	assert_int_equal(st.ncpu, nconf > 0 ? nconf : 1);
	assert_int_equal(st.reserve, 8);
	assert_ptr_equal(pcache_pmm(pc), pmm);
	pcache_destroy(pc);
	assert_int_equal(pcache_create(NULL, 1, 8, &pc), -EINVAL);
	assert_int_equal(pcache_create(pmm, 1, 8, NULL), -EINVAL);
	assert_int_equal(pcache_create(pmm, 1u << 30, 8, &pc), -EINVAL);
	assert_int_equal(pcache_create(pmm, 1, UINT32_MAX, &pc), -EINVAL);
	/* Heap failure at create: -ENOMEM, nothing leaked (ASan). */
	for (uint64_t n = 1; n <= 10; n++) {
		assert_true(n < 10);
		fault_set(n, 0);
		fault_set_kind(FAULT_HEAP);
		pc = NULL;
		int err = pcache_create(pmm, 4, 8, &pc);
		uint64_t failed = fault_failures();
		fault_clear();
		if (failed == 0) {
			assert_int_equal(err, 0);
			pcache_destroy(pc);
			break;
		}
		assert_int_equal(err, -ENOMEM);
	}
	assert_int_equal(pmm_free_count(pmm), 64);
	pmm_destroy(pmm);
}

/* Hit, miss, refill, return, with exact counters, on one CPU. */
static void
test_counters(void **state)
{
	struct fix f = mk(256, 1, 8);
	struct vm_page *pg[40], *p;
	struct pcache_stats st;
	int i;

	(void)state;
	/* Deferred fill: nothing taken from the PMM until the first alloc. */
	assert_int_equal(pmm_free_count(f.pmm), 256);
	assert_int_equal(cst(&f).cached, 0);
	/* First alloc: miss, refill 8 + 1 handed out. */
	assert_int_equal(pcache_alloc(f.pc, &pg[0]), 0);
	st = cst(&f);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.refills, 1);
	assert_int_equal(st.refill_pages, 8);
	assert_int_equal(st.cached, 8);
	assert_int_equal(pmm_free_count(f.pmm), 256 - 9);
	/* Next 8: hits. */
	for (i = 1; i <= 8; i++)
		assert_int_equal(pcache_alloc(f.pc, &pg[i]), 0);
	st = cst(&f);
	assert_int_equal(st.hits, 8);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.cached, 0);
	/* Tenth: miss again. */
	assert_int_equal(pcache_alloc(f.pc, &pg[9]), 0);
	st = cst(&f);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.refills, 2);
	assert_int_equal(st.refill_pages, 16);
	check_sum(&f, 10);
	/* Hit path is LIFO: a freed page comes straight back. */
	pcache_free(f.pc, pg[9]);
	assert_int_equal(pg[9]->state, VM_PAGE_CACHED);
	assert_int_equal(pcache_alloc(f.pc, &p), 0);
	assert_ptr_equal(p, pg[9]);
	assert_int_equal(p->state, VM_PAGE_ALLOC);
	assert_int_equal(cst(&f).hits, 9);
	/* Frees fill the reserve to 2R = 16, the 17th returns down to R. */
	for (i = 10; i < 30; i++)
		assert_int_equal(pcache_alloc(f.pc, &pg[i]), 0);
	check_sum(&f, 30);
	st = cst(&f);
	assert_int_equal(st.returns, 0);
	for (i = 0; i < 30; i++) {
		pcache_free(f.pc, pg[i]);
		st = cst(&f);
		assert_true(st.cached <= 16);
		check_sum(&f, 29 - i);
	}
	st = cst(&f);
	assert_true(st.returns >= 1);
	assert_true(st.return_pages >= 9);
	assert_true(st.cached >= 8 && st.cached <= 16);
	assert_int_equal(st.steals, 0);
	rm(&f);
}

static void
test_exact_return(void **state)
{
	struct fix f = mk(64, 1, 4);
	struct vm_page *pg[13];
	struct pcache_stats st;
	int i;

	(void)state;
	for (i = 0; i < 13; i++)
		assert_int_equal(pcache_alloc(f.pc, &pg[i]), 0);
	/* 13 = 3 refills of 5 less the 2 left cached. */
	assert_int_equal(cst(&f).cached, 2);
	for (i = 0; i < 6; i++)
		pcache_free(f.pc, pg[i]);
	assert_int_equal(cst(&f).cached, 8);	/* 2R: full */
	assert_int_equal(cst(&f).returns, 0);
	pcache_free(f.pc, pg[6]);		/* the 2R+1th: back to R */
	st = cst(&f);
	assert_int_equal(st.cached, 4);
	assert_int_equal(st.returns, 1);
	assert_int_equal(st.return_pages, 5);
	/* The page just freed stays: it is the hot one. */
	assert_int_equal(pg[6]->state, VM_PAGE_CACHED);
	assert_int_equal(pg[0]->state, VM_PAGE_FREE);
	for (i = 7; i < 13; i++)
		pcache_free(f.pc, pg[i]);
	check_sum(&f, 0);
	rm(&f);
}

static void
test_states_and_drain(void **state)
{
	struct fix f = mk(32, 2, 4);
	struct vm_page *p, *q;
	struct pcache_stats st;

	(void)state;
	assert_int_equal(pcache_alloc(f.pc, &p), 0);
	assert_int_equal(p->state, VM_PAGE_ALLOC);
	p->state = VM_PAGE_OBJECT;	/* as a cow node would have it */
	pcache_free(f.pc, p);
	assert_int_equal(p->state, VM_PAGE_CACHED);
	pcache_test_set_cpu(1);
	assert_int_equal(pcache_alloc(f.pc, &q), 0);
	assert_int_equal(cst(&f).cached, 5 + 4);
	pcache_drain(f.pc);
	st = cst(&f);
	assert_int_equal(st.cached, 0);
	assert_int_equal(st.returns, 2);
	assert_int_equal(st.return_pages, 9);
	assert_int_equal(p->state, VM_PAGE_FREE);
	assert_int_equal(pmm_free_count(f.pmm), 31);
	/* Drain of an empty cache is a no-op. */
	pcache_drain(f.pc);
	assert_int_equal(cst(&f).returns, 2);
	pcache_free(f.pc, q);
	rm(&f);
}

static void
test_reserve_zero(void **state)
{
	struct fix f = mk(8, 2, 0);
	struct vm_page *pg[8], *p;
	struct pcache_stats st;
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		assert_int_equal(pcache_alloc(f.pc, &pg[i]), 0);
		assert_int_equal(pmm_free_count(f.pmm), 7 - i);
	}
	assert_int_equal(pcache_alloc(f.pc, &p), -ENOSPC);
	pcache_free(f.pc, pg[0]);
	assert_int_equal(pg[0]->state, VM_PAGE_FREE);
	assert_int_equal(pmm_free_count(f.pmm), 1);
	st = cst(&f);
	assert_int_equal(st.cached, 0);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.misses, 9);
	assert_int_equal(st.refills, 0);
	for (i = 1; i < 8; i++)
		pcache_free(f.pc, pg[i]);
	rm(&f);
}

/*
 * Steal: pages parked in CPU 0's reserve are still allocatable from CPU 1
 * once the PMM is empty; every page of the limit can be had.
 */
static void
test_steal(void **state)
{
	struct fix f = mk(32, 4, 8);
	struct vm_page *pg[33];
	struct pcache_stats st;
	uint64_t parked;
	int i, n;

	(void)state;
	/* CPU 0 takes 16 and frees them: its reserve holds 16. */
	for (i = 0; i < 16; i++)
		assert_int_equal(pcache_alloc(f.pc, &pg[i]), 0);
	for (i = 0; i < 16; i++)
		pcache_free(f.pc, pg[i]);
	check_sum(&f, 0);
	parked = cst(&f).cached;
	assert_true(parked >= 8 && parked <= 16);
	/* CPU 1 allocates until it fails: must get all 32. */
	pcache_test_set_cpu(1);
	for (n = 0; n < 33; n++)
		if (pcache_alloc(f.pc, &pg[n]) != 0)
			break;
	assert_int_equal(n, 32);
	st = cst(&f);
	assert_int_equal(st.cached, 0);
	assert_int_equal(pmm_free_count(f.pmm), 0);
	assert_int_equal(st.steals, parked);
	/* Recovery: one page freed on CPU 2 is found from CPU 3. */
	pcache_test_set_cpu(2);
	pcache_free(f.pc, pg[31]);
	pcache_test_set_cpu(3);
	assert_int_equal(pcache_alloc(f.pc, &pg[31]), 0);
	assert_int_equal(cst(&f).steals, parked + 1);
	assert_int_equal(pcache_alloc(f.pc, &pg[32]), -ENOSPC);
	for (i = 0; i < 32; i++)
		pcache_free(f.pc, pg[i]);
	check_sum(&f, 0);
	rm(&f);
}

/*
 * Exhaustion and recovery through the cache with ncpu = 1: exactly the
 * limit, then -ENOSPC, then one page after a free.
 */
static void
test_exhaust_recover(void **state)
{
	struct fix f = mk(50, 1, 8);
	struct vm_page *pg[50], *p;
	int i;

	(void)state;
	for (i = 0; i < 50; i++)
		assert_int_equal(pcache_alloc(f.pc, &pg[i]), 0);
	assert_int_equal(pcache_alloc(f.pc, &p), -ENOSPC);
	assert_int_equal(pcache_alloc(f.pc, &p), -ENOSPC);
	pcache_free(f.pc, pg[17]);
	assert_int_equal(pcache_alloc(f.pc, &p), 0);
	assert_ptr_equal(p, pg[17]);
	for (i = 0; i < 50; i++)
		pcache_free(f.pc, pg[i]);
	rm(&f);
}

/*
 * Fault injection: fail the Nth page allocation of a refill for N = 1, 2,
 * ...  N = 1 gets nothing from the PMM and, with nothing to steal, fails
 * (fatal: -ENOSPC); a later N cuts the refill short (benign: the
 * allocation succeeds with a smaller reserve).  Pages always add up.
 */
static void
test_fault(void **state)
{
	struct fix f = mk(40, 1, 6);
	struct vm_page *p;
	uint64_t nth;
	int err;

	(void)state;
	for (nth = 1;; nth++) {
		fault_set(nth, 0);
		fault_set_kind(FAULT_PAGE);
		err = pcache_alloc(f.pc, &p);
		if (fault_failures() == 0) {
			fault_clear();
			assert_int_equal(err, 0);
			assert_int_equal(cst(&f).cached, 6);
			pcache_free(f.pc, p);
			break;
		}
		fault_clear();
		if (nth == 1) {
			assert_int_equal(err, -ENOSPC);
			check_sum(&f, 0);
		} else {
			assert_int_equal(err, 0);
			assert_int_equal(p->state, VM_PAGE_ALLOC);
			assert_int_equal(cst(&f).cached, nth - 2);
			check_sum(&f, 1);
			pcache_free(f.pc, p);
		}
		pcache_drain(f.pc);
		assert_int_equal(pmm_free_count(f.pmm), 40);
	}
	assert_int_equal(nth, 8);
	/* With another CPU's reserve to steal from, N = 1 is not fatal. */
	pcache_destroy(f.pc);
	assert_int_equal(pcache_create(f.pmm, 2, 6, &f.pc), 0);
	pcache_test_set_cpu(1);
	assert_int_equal(pcache_alloc(f.pc, &p), 0);
	pcache_free(f.pc, p);
	pcache_test_set_cpu(0);
	fault_set(1, 0);
	fault_set_kind(FAULT_PAGE);
	err = pcache_alloc(f.pc, &p);
	assert_int_equal(fault_failures(), 1);
	fault_clear();
	assert_int_equal(err, 0);
	assert_int_equal(cst(&f).steals, 1);
	pcache_free(f.pc, p);
	check_sum(&f, 0);
	rm(&f);
}

/* ---- threads ---- */

#define HOLD 48

/* Start every worker at once, so that they really overlap. */
static pthread_barrier_t start;

struct worker {
	struct fix	*f;
	unsigned	seed;
	int		id;
	int		rounds;
	bool		exhaust;	/* allocate until -ENOSPC, never free */
	uint64_t	allocs;
	uint64_t	frees;
	uint64_t	enospc;
	uint64_t	held;
	int		bad;
};

static uint64_t
tag(struct worker *w, struct vm_page *p)
{
	return ((uint64_t)w->id << 48) ^ (uintptr_t)p;
}

static void *
worker(void *arg)
{
	struct worker *w = arg;
	struct vm_page *held[HOLD];
	uint64_t *word;
	int n = 0, r;

	pcache_test_set_cpu(w->id % 3 == 2 ? -1 : w->id % 4);
	pthread_barrier_wait(&start);
	for (r = 0; r < w->rounds; r++) {
		/* Now and then migrate, as a thread would between CPUs. */
		if (w->id % 3 == 1 && rand_r(&w->seed) % 64 == 0)
			pcache_test_set_cpu((int)(rand_r(&w->seed) % 4));
		if (n < HOLD && (n == 0 || rand_r(&w->seed) % 5 < 3)) {
			if (pcache_alloc(w->f->pc, &held[n]) != 0) {
				w->enospc++;
				continue;
			}
			if (held[n]->state != VM_PAGE_ALLOC)
				w->bad++;
			word = pmm_page_addr(w->f->pmm, held[n]);
			*word = tag(w, held[n]);
			n++;
			w->allocs++;
		} else {
			int i = (int)(rand_r(&w->seed) % (unsigned)n);

			word = pmm_page_addr(w->f->pmm, held[i]);
			if (*word != tag(w, held[i]))
				w->bad++;	/* handed to two threads */
			pcache_free(w->f->pc, held[i]);
			held[i] = held[--n];
			w->frees++;
		}
	}
	w->held = (uint64_t)n;
	while (n > 0) {
		pcache_free(w->f->pc, held[--n]);
		w->frees++;
	}
	pcache_test_set_cpu(-1);
	return NULL;
}

static void
run_workers(struct fix *f, int nt, int rounds, struct worker *w)
{
	pthread_t t[8];
	int i;

	assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)nt), 0);
	for (i = 0; i < nt; i++) {
		w[i] = (struct worker){ .f = f, .seed = 31u * i + 5, .id = i,
		    .rounds = rounds };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (i = 0; i < nt; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&start);
}

/*
 * 8 threads on 4 reserves alloc and free at random, holding up to HOLD
 * pages each against a limit smaller than 8 * HOLD, so reserves run dry,
 * steal and return; each page carries its holder's tag to catch a page
 * handed out twice.  At the end every page is back and counts add up.
 */
static void
test_stress(void **state)
{
	enum { NT = 8 };
	struct fix f = mk(300, 4, 8);
	struct worker w[NT];
	struct pcache_stats st;
	struct pmm_stats ps;
	uint64_t allocs = 0, frees = 0;
	int i;

	(void)state;
	pmm_set_release_threshold(f.pmm, 32);
	run_workers(&f, NT, 300000, w);
	for (i = 0; i < NT; i++) {
		assert_int_equal(w[i].bad, 0);
		allocs += w[i].allocs;
		frees += w[i].frees;
	}
	assert_int_equal(allocs, frees);
	st = cst(&f);
	if (getenv("PCACHE_TEST_VERBOSE") != NULL)
		print_message("allocs %llu hits %llu misses %llu steals %llu "
		    "returns %llu enospc %llu\n", (unsigned long long)allocs,
		    (unsigned long long)st.hits, (unsigned long long)st.misses,
		    (unsigned long long)st.steals, (unsigned long long)st.returns,
		    (unsigned long long)(w[0].enospc + w[1].enospc + w[2].enospc +
		    w[3].enospc + w[4].enospc + w[5].enospc + w[6].enospc +
		    w[7].enospc));
	assert_true(st.hits + st.steals <= allocs);
	assert_true(st.hits + st.misses + st.steals >= allocs);
	assert_true(st.cached <= 4 * 16);
	check_sum(&f, 0);
	pcache_drain(f.pc);
	pmm_get_stats(f.pmm, &ps);
	assert_int_equal(ps.free_pages, 300);
	assert_int_equal(ps.allocs, ps.frees);
	st = cst(&f);
	assert_int_equal(st.cached, 0);
	assert_true(ps.allocs >= st.refill_pages);
	assert_true(st.returns >= 4);	/* the drain, at least */
	rm(&f);
}

static void *
exhauster(void *arg)
{
	struct worker *w = arg;
	struct vm_page **held = calloc(w->rounds, sizeof(*held));
	int n = 0;

	pcache_test_set_cpu(w->id);
	pthread_barrier_wait(&start);
	while (n < w->rounds && pcache_alloc(w->f->pc, &held[n]) == 0)
		n++;
	w->allocs = (uint64_t)n;
	/* Hold until all have failed: then free. */
	return held;
}

/*
 * The limit under concurrency: 4 threads on 4 reserves allocate until
 * -ENOSPC, never freeing; together they must get exactly every page
 * (pages parked in reserves or in transit between PMM and a reserve must
 * not cause a false -ENOSPC).
 */
static void
test_concurrent_limit(void **state)
{
	enum { NT = 4, N = 2000 };
	struct fix f;
	struct worker w[NT];
	pthread_t t[NT];
	struct vm_page **held[NT];
	uint64_t total;
	int i, round;

	(void)state;
	for (round = 0; round < 50; round++) {
		f = mk(N, NT, 8);
		/* Park pages in every reserve first. */
		for (i = 0; i < NT; i++) {
			struct vm_page *pg[12];
			int k;

			pcache_test_set_cpu(i);
			for (k = 0; k < 12; k++)
				assert_int_equal(pcache_alloc(f.pc, &pg[k]), 0);
			for (k = 0; k < 12; k++)
				pcache_free(f.pc, pg[k]);
		}
		assert_int_equal(pthread_barrier_init(&start, NULL, NT), 0);
		for (i = 0; i < NT; i++) {
			w[i] = (struct worker){ .f = &f, .id = i, .rounds = N + 1 };
			assert_int_equal(pthread_create(&t[i], NULL, exhauster,
			    &w[i]), 0);
		}
		total = 0;
		for (i = 0; i < NT; i++) {
			void *ret;

			assert_int_equal(pthread_join(t[i], &ret), 0);
			held[i] = ret;
			total += w[i].allocs;
		}
		pthread_barrier_destroy(&start);
		assert_int_equal(total, N);
		for (i = 0; i < NT; i++) {
			while (w[i].allocs > 0)
				pcache_free(f.pc, held[i][--w[i].allocs]);
			free(held[i]);
		}
		rm(&f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_edges),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_exact_return),
		cmocka_unit_test(test_states_and_drain),
		cmocka_unit_test(test_reserve_zero),
		cmocka_unit_test(test_steal),
		cmocka_unit_test(test_exhaust_recover),
		cmocka_unit_test(test_fault),
		cmocka_unit_test(test_stress),
		cmocka_unit_test(test_concurrent_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
