/*
 * bench_pcache.c - page alloc+free pairs per second through the per-CPU
 * cache (pcache.h) against straight from the PMM (pcache reserve 0).
 *
 * Usage: bench_pcache [-t SECONDS] [-r RESERVE] [THREADS...]
 *   default: -t 1 -r 64 (vm.c's default reserve), threads "1 2".
 *
 * Each thread loops for the duration: allocate BATCH pages one call at a
 * time, free them again one call at a time (what vm_page_alloc/free do),
 * and counts pairs.  The pages are not touched: this measures the
 * allocator, not memory.  Output, one row per thread count and mode:
 *
 *   threads  mode    Mops/s  cache/pmm
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pcache.h"
#include "pmm.h"

#define BATCH	32
#define NPAGES	(1u << 16)	/* 256 MiB of address space, never all used */
#define MAX_THREADS 256

struct bench {
	struct pcache	*pc;
	pthread_barrier_t start;
	atomic_bool	stop;
};

struct worker {
	struct bench	*b;
	pthread_t	tid;
	uint64_t	pairs;
	int		err;
};

static void *
worker(void *arg)
{
	struct worker *w = arg;
	struct vm_page *pg[BATCH];
	uint64_t pairs = 0;
	int i, err;

	pthread_barrier_wait(&w->b->start);
	while (!atomic_load_explicit(&w->b->stop, memory_order_relaxed)) {
		for (i = 0; i < BATCH; i++) {
			err = pcache_alloc(w->b->pc, &pg[i]);
			if (err != 0) {
				w->err = err;
				goto out;
			}
		}
		for (i = BATCH - 1; i >= 0; i--)
			pcache_free(w->b->pc, pg[i]);
		pairs += BATCH;
	}
out:
	w->pairs = pairs;
	return NULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Mops/s (million alloc+free pairs per second), or < 0 on error. */
static double
run(int nthreads, unsigned reserve, double secs)
{
	struct bench b;
	struct worker *w;
	struct pmm *pmm;
	uint64_t pairs = 0;
	double t0, t1;
	int i, err, failed = 0;

	if ((err = pmm_create(NPAGES, &pmm)) != 0) {
		fprintf(stderr, "pmm_create: %s\n", strerror(-err));
		return -1;
	}
	if ((err = pcache_create(pmm, 0, reserve, &b.pc)) != 0) {
		fprintf(stderr, "pcache_create: %s\n", strerror(-err));
		pmm_destroy(pmm);
		return -1;
	}
	atomic_init(&b.stop, false);
	pthread_barrier_init(&b.start, NULL, (unsigned)nthreads + 1);
	w = calloc((size_t)nthreads, sizeof(*w));
	for (i = 0; i < nthreads; i++) {
		w[i].b = &b;
		if (pthread_create(&w[i].tid, NULL, worker, &w[i]) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&b.start);
	t0 = now();
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&b.stop, true);
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		pairs += w[i].pairs;
		if (w[i].err != 0) {
			fprintf(stderr, "thread %d: alloc: %s\n", i,
			    strerror(-w[i].err));
			failed = 1;
		}
	}
	t1 = now();
	free(w);
	pthread_barrier_destroy(&b.start);
	pcache_destroy(b.pc);
	pmm_destroy(pmm);
	return failed ? -1 : (double)pairs / (t1 - t0) / 1e6;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_pcache [-t SECONDS] [-r RESERVE] "
	    "[THREADS...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const int defaults[] = { 1, 2 };
	int threads[64], nt = 0, i, c;
	double secs = 1.0, cache, direct;
	unsigned reserve = 64;

	while ((c = getopt(argc, argv, "t:r:h")) != -1) {
		switch (c) {
		case 't':
			secs = atof(optarg);
			if (secs <= 0)
				usage();
			break;
		case 'r':
			reserve = (unsigned)atoi(optarg);
			if (reserve == 0)
				usage();
			break;
		default:
			usage();
		}
	}
	for (i = optind; i < argc && nt < 64; i++) {
		threads[nt] = atoi(argv[i]);
		if (threads[nt] < 1 || threads[nt] > MAX_THREADS)
			usage();
		nt++;
	}
	if (nt == 0)
		for (nt = 0; nt < 2; nt++)
			threads[nt] = defaults[nt];
	printf("# per thread: loop {alloc %d, free %d}, %.1f s per row, "
	    "reserve %u, %ld CPUs\n", BATCH, BATCH, secs, reserve,
	    sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-8s %-6s %10s %10s\n", "threads", "mode", "Mops/s", "cache/pmm");
	for (i = 0; i < nt; i++) {
		direct = run(threads[i], 0, secs);
		cache = run(threads[i], reserve, secs);
		if (direct < 0 || cache < 0)
			return 1;
		printf("%-8d %-6s %10.2f %10s\n", threads[i], "pmm", direct, "");
		printf("%-8d %-6s %10.2f %9.2fx\n", threads[i], "cache", cache,
		    cache / direct);
		fflush(stdout);
	}
	return 0;
}
