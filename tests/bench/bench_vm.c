/*
 * bench_vm.c - libvm's own figures, straight through vmo.h (no FUSE):
 *
 *   1. clone time of a committed VMO (1 MiB, 1 GiB) and of a 64 GiB sparse
 *      one: must not grow with size;
 *   2. vmo_write / vmo_read / vmo_read_iov bandwidth over a committed VMO,
 *      as a ratio to plain memcpy of the same bytes in the same run;
 *   3. reads of pages untouched since the root from the deepest of 1 and of
 *      1000 nested clones (bulk: 1 MiB and 128 KiB reads; single: 4 KiB
 *      reads at random offsets), and the teardown of both chains;
 *   4. metadata bytes per committed page of a dense VMO.
 * (Page alloc+free through the per-CPU cache is bench_pcache's job.)
 * Method and results: docs/bench-libvm.md.
 *
 * Usage: bench_vm [-q] [-r REPS] [-f FIGURES]
 *   -q  quick: small sizes (64 MiB instead of 1 GiB, 4 MiB deep reads),
 *       a smoke test that finishes in seconds, also under ASan;
 *   -r  repetitions per timed figure (default 5); each figure is the median;
 *   -f  run only these figures, e.g. -f 13 (default 1234; for profiling).
 *
 * Output: a Markdown table on stdout, then one TSV line per figure:
 *   tsv <TAB> key <TAB> value <TAB> unit <TAB> target <TAB> met
 * with met one of yes / no / - (no target).  Progress goes to stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "page.h"
#include "vm_testing.h"
#include "vmo.h"

#define KiB		((uint64_t)1 << 10)
#define MiB		((uint64_t)1 << 20)
#define GiB		((uint64_t)1 << 30)
#define PAGE		((uint64_t)VM_PAGE_SIZE)
#define CHUNK		MiB		/* read/write call size */
#define FUSE_CHUNK	(128 * KiB)	/* FUSE's usual read size */
#define MAX_REPS	64
#define DEPTH_PREFIX	(4 * MiB)	/* each level writes one page in here */

static int reps = 5;

/* Sizes; -q shrinks them. */
static uint64_t big_size = GiB;		/* figures 1, 2, 4 */
static uint64_t small_size = MiB;	/* figure 1, the flat reference */
static uint64_t sparse_size = 64 * GiB;	/* figure 1 */
static int clone_inner = 20;		/* clone+unref cycles per repetition */
static int depth_levels = 1000;		/* figure 3 */
static uint64_t depth_read = 64 * MiB;	/* bytes read past DEPTH_PREFIX */
static int single_reads = 4096;		/* 4 KiB reads per repetition */

static void
die(const char *what, long err)
{
	fprintf(stderr, "bench_vm: %s: %s\n", what,
	    err < 0 ? strerror((int)-err) : "failed");
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keep the compiler from dropping stores into memory it never sees read. */
static void
clobber(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Page aligned, as the arena's pages are: plain malloc of 1 GiB returns
 * mmap + 16, and copies between differently aligned buffers are slower
 * (vmo_read's 4 KiB memcpys into such a buffer split every other
 * cache line), which would measure malloc, not libvm.
 */
static void *
xmalloc_faulted(size_t n, int fill)
{
	void *p = NULL;

	if (posix_memalign(&p, PAGE, n) != 0)
		die("posix_memalign", -ENOMEM);
	memset(p, fill, n);	/* pre-fault every page */
	return p;
}

static const char *
size_name(uint64_t n, char *buf, size_t len)
{
	if (n >= GiB && n % GiB == 0)
		snprintf(buf, len, "%" PRIu64 " GiB", n / GiB);
	else if (n >= MiB && n % MiB == 0)
		snprintf(buf, len, "%" PRIu64 " MiB", n / MiB);
	else
		snprintf(buf, len, "%" PRIu64 " KiB", n / KiB);
	return buf;
}

/* --- Results ------------------------------------------------------------ */

struct row {
	char	fig[8];
	char	what[160];
	char	key[64];
	double	value;
	char	unit[16];
	char	target[64];
	int	met;		/* 1 yes, 0 no, -1 no target */
};

static struct row rows[64];
static int nrows;

static void
add_row(const char *fig, const char *key, double value, const char *unit,
    const char *target, int met, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void
add_row(const char *fig, const char *key, double value, const char *unit,
    const char *target, int met, const char *fmt, ...)
{
	struct row *r;
	va_list ap;

	if (nrows == (int)(sizeof(rows) / sizeof(rows[0])))
		die("too many rows", 0);
	r = &rows[nrows++];
	snprintf(r->fig, sizeof(r->fig), "%s", fig);
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->target, sizeof(r->target), "%s", target);
	r->value = value;
	r->met = met;
	va_start(ap, fmt);
	vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	fprintf(stderr, "  %-28s %12.3f %s\n", key, value, unit);
}

static const char *
met_name(int met)
{
	return met < 0 ? "-" : met ? "yes" : "no";
}

static void
print_results(void)
{
	int i;

	printf("| # | figure | value | unit | target | met |\n");
	printf("|---|---|---:|---|---|---|\n");
	for (i = 0; i < nrows; i++)
		printf("| %s | %s | %.3f | %s | %s | %s |\n", rows[i].fig,
		    rows[i].what, rows[i].value, rows[i].unit,
		    rows[i].target[0] ? rows[i].target : "-",
		    met_name(rows[i].met));
	printf("\n");
	for (i = 0; i < nrows; i++)
		printf("tsv\t%s\t%.6g\t%s\t%s\t%s\n", rows[i].key,
		    rows[i].value, rows[i].unit,
		    rows[i].target[0] ? rows[i].target : "-",
		    met_name(rows[i].met));
}

static void
print_loadavg(const char *when)
{
	char buf[128] = "";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	printf("<!-- loadavg %s: %s -->\n", when, buf);
}

/* --- Helpers over vmo.h ------------------------------------------------- */

static struct vmo *
make_vmo(struct vm *vm, uint64_t size)
{
	struct vmo *v;
	int err = vmo_create(vm, size, VMO_RESIZABLE, &v);

	if (err != 0)
		die("vmo_create", err);
	return v;
}

/* Write [0, len) of v from src in CHUNK calls. */
static void
write_all(struct vmo *v, const char *src, uint64_t off, uint64_t len)
{
	uint64_t pos;
	ssize_t n;

	for (pos = 0; pos < len; pos += CHUNK) {
		size_t c = len - pos < CHUNK ? (size_t)(len - pos) : CHUNK;

		n = vmo_write(v, src + pos, off + pos, c);
		if (n != (ssize_t)c)
			die("vmo_write", n < 0 ? n : 0);
	}
}

static void
read_all(struct vmo *v, char *dst, uint64_t off, uint64_t len)
{
	uint64_t pos;
	ssize_t n;

	for (pos = 0; pos < len; pos += CHUNK) {
		size_t c = len - pos < CHUNK ? (size_t)(len - pos) : CHUNK;

		n = vmo_read(v, dst + pos, off + pos, c);
		if (n != (ssize_t)c)
			die("vmo_read", n < 0 ? n : 0);
	}
}

/* The daemon's read path: fuse_reply_iov copies the iovecs; so do we. */
struct iov_sink {
	char	*dst;
	size_t	bytes;
};

static uint64_t iov_calls, iov_vecs;	/* iovecs per call, for the table */

static int
iov_copy(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct iov_sink *s = ctx;
	int i;

	for (i = 0; i < iovcnt; i++) {
		memcpy(s->dst + s->bytes, iov[i].iov_base, iov[i].iov_len);
		s->bytes += iov[i].iov_len;
	}
	iov_calls++;
	iov_vecs += (uint64_t)iovcnt;
	return 0;
}

static void
read_iov_all(struct vmo *v, char *dst, uint64_t len)
{
	struct iov_sink s = { .dst = dst };
	uint64_t pos;
	int err;

	for (pos = 0; pos < len; pos += CHUNK) {
		size_t c = len - pos < CHUNK ? (size_t)(len - pos) : CHUNK;

		err = vmo_read_iov(v, pos, c, iov_copy, &s);
		if (err != 0)
			die("vmo_read_iov", err);
	}
	if (s.bytes != len)
		die("vmo_read_iov: short", 0);
}

static void
check_equal(const char *a, const char *b, size_t n, const char *what)
{
	if (memcmp(a, b, n) != 0) {
		fprintf(stderr, "bench_vm: %s: data mismatch\n", what);
		exit(1);
	}
}

/* --- Figure 1: clone time ---------------------------------------------- */

/*
 * Median over reps of the mean of clone_inner clone+unref cycles of src,
 * clone and unref timed separately (microseconds).
 */
static void
time_clone(struct vmo *src, double *clone_us, double *unref_us)
{
	double tc[MAX_REPS], tu[MAX_REPS];
	int r, i;

	for (r = 0; r < reps; r++) {
		double c = 0, u = 0;

		for (i = 0; i < clone_inner; i++) {
			struct vmo *cl;
			double t0, t1, t2;
			int err;

			t0 = now();
			err = vmo_clone(src, 0, VMO_WHOLE, &cl);
			t1 = now();
			if (err != 0)
				die("vmo_clone", err);
			vmo_unref(cl);
			t2 = now();
			c += t1 - t0;
			u += t2 - t1;
		}
		tc[r] = c / clone_inner * 1e6;
		tu[r] = u / clone_inner * 1e6;
	}
	*clone_us = median(tc, reps);
	*unref_us = median(tu, reps);
}

static void
fig_clone(struct vm *vm, struct vmo *big, const char *pattern)
{
	struct vmo *small, *sparse;
	double c_small, u_small, c_big, u_big, c_sparse, u_sparse;
	double worst;
	char sb[32], bb[32], pb[32], target[64];
	uint64_t off;
	int i;

	fprintf(stderr, "figure 1: clone\n");
	small = make_vmo(vm, small_size);
	write_all(small, pattern, 0, small_size);
	sparse = make_vmo(vm, sparse_size);
	/* A few pages, spread over the 64 GiB. */
	for (i = 0; i < 8; i++) {
		off = vm_page_trunc(sparse_size / 8 * (uint64_t)i + 12345 * PAGE);
		if (vmo_write(sparse, pattern, off, PAGE) != (ssize_t)PAGE)
			die("vmo_write sparse", 0);
	}
	time_clone(small, &c_small, &u_small);
	time_clone(big, &c_big, &u_big);
	time_clone(sparse, &c_sparse, &u_sparse);
	size_name(small_size, sb, sizeof(sb));
	size_name(big_size, bb, sizeof(bb));
	size_name(sparse_size, pb, sizeof(pb));
	snprintf(target, sizeof(target), "flat: <= 2x %s", sb);
	add_row("1", "clone_small_us", c_small, "us", "", -1,
	    "vmo_clone, %s committed", sb);
	worst = c_big / c_small;
	add_row("1", "clone_big_us", c_big, "us", target, worst <= 2.0,
	    "vmo_clone, %s committed (%.2fx the %s clone)", bb, worst, sb);
	worst = c_sparse / c_small;
	add_row("1", "clone_sparse_us", c_sparse, "us", target, worst <= 2.0,
	    "vmo_clone, %s sparse, 8 pages written (%.2fx the %s clone)",
	    pb, worst, sb);
	add_row("1", "unref_small_us", u_small, "us", "", -1,
	    "vmo_unref of that clone (hidden node merges back), %s", sb);
	add_row("1", "unref_big_us", u_big, "us", "", -1,
	    "vmo_unref of that clone (hidden node merges back), %s", bb);
	add_row("1", "unref_sparse_us", u_sparse, "us", "", -1,
	    "vmo_unref of that clone (hidden node merges back), %s sparse", pb);
	if (vm_test_used_pages(vm) == 0)
		die("no pages used?", 0);
	vmo_unref(small);
	vmo_unref(sparse);
}

/* --- Figure 2: bandwidth ----------------------------------------------- */

static double
time_memcpy(char *a, char *b)
{
	double t0 = now();

	memcpy(b, a, big_size);
	clobber(b);
	return now() - t0;
}

/*
 * Each repetition times memcpy and then the VMO operation over the same
 * bytes, so a burst of background load hits both: the figure is the median
 * of the per-repetition ratios (memcpy time / operation time).
 */
static struct vmo *
fig_bandwidth(struct vm *vm, char *a, char *b)
{
	double tm[MAX_REPS], tw[MAX_REPS], tr[MAX_REPS], ti[MAX_REPS],
	    ta[MAX_REPS], rw[MAX_REPS], rr[MAX_REPS], ri[MAX_REPS],
	    ra[MAX_REPS], t0, m;
	struct vmo *v = NULL;
	char bb[32];
	double gib = (double)big_size / (double)GiB;
	int r;

	fprintf(stderr, "figure 2: bandwidth\n");
	size_name(big_size, bb, sizeof(bb));
	(void)time_memcpy(a, b);	/* warm up */

	/* First write into a new VMO: every page is allocated on the way. */
	for (r = 0; r < reps; r++) {
		if (v != NULL)
			vmo_unref(v);
		v = make_vmo(vm, big_size);
		m = time_memcpy(a, b);
		t0 = now();
		write_all(v, a, 0, big_size);
		ta[r] = now() - t0;
		ra[r] = m / ta[r];
	}

	for (r = 0; r < reps; r++) {
		tm[r] = time_memcpy(a, b);
		t0 = now();
		write_all(v, a, 0, big_size);
		tw[r] = now() - t0;
		rw[r] = tm[r] / tw[r];

		m = time_memcpy(a, b);
		memset(b, 0, 4096);
		t0 = now();
		read_all(v, b, 0, big_size);
		tr[r] = now() - t0;
		clobber(b);
		rr[r] = m / tr[r];
		if (r == 0)
			check_equal(a, b, big_size, "vmo_read");

		m = time_memcpy(a, b);
		memset(b, 0, 4096);
		t0 = now();
		read_iov_all(v, b, big_size);
		ti[r] = now() - t0;
		clobber(b);
		ri[r] = m / ti[r];
		if (r == 0)
			check_equal(a, b, big_size, "vmo_read_iov");
	}

	add_row("2", "memcpy_GiBps", gib / median(tm, reps), "GiB/s", "", -1,
	    "memcpy %s between page-aligned pre-faulted buffers (the reference)",
	    bb);
	m = median(ra, reps);
	add_row("2", "write_alloc_ratio", m, "x memcpy", "", -1,
	    "vmo_write of %s into a new VMO (allocating), 1 MiB calls: "
	    "%.2f GiB/s", bb, gib / median(ta, reps));
	m = median(rw, reps);
	add_row("2", "write_ratio", m, "x memcpy", ">= 0.7", m >= 0.7,
	    "vmo_write over %s committed, 1 MiB calls: %.2f GiB/s", bb,
	    gib / median(tw, reps));
	m = median(rr, reps);
	add_row("2", "read_ratio", m, "x memcpy", ">= 0.7", m >= 0.7,
	    "vmo_read of %s committed, 1 MiB calls: %.2f GiB/s", bb,
	    gib / median(tr, reps));
	m = median(ri, reps);
	add_row("2", "read_iov_ratio", m, "x memcpy", ">= 0.7", m >= 0.7,
	    "vmo_read_iov of %s committed, 1 MiB calls, callback memcpy's the "
	    "iovecs (%.1f per call): %.2f GiB/s", bb,
	    (double)iov_vecs / (double)(iov_calls ? iov_calls : 1),
	    gib / median(ti, reps));
	return v;
}

/* --- Figure 4: metadata ------------------------------------------------ */

static void
fig_metadata(struct vmo *v, size_t heap_delta)
{
	uint64_t pages = vm_page_roundup(vmo_size(v)) / PAGE;
	double plist = (double)vmo_test_plist_bytes(v) / (double)pages;
	double total = (double)sizeof(struct vm_page) + plist;
	char bb[32];

	fprintf(stderr, "figure 4: metadata\n");
	size_name(big_size, bb, sizeof(bb));
	add_row("4", "meta_bytes_per_page", total, "B/page", "<= 64",
	    total <= 64,
	    "metadata per committed page, dense %s: %zu (vm_page) + %.2f "
	    "(page list)", bb, sizeof(struct vm_page), plist);
	add_row("4", "heap_bytes_per_page", (double)heap_delta / (double)pages,
	    "B/page", "", -1,
	    "cross-check: malloc heap growth (mallinfo2) while creating and "
	    "filling it, per page");
}

/* --- Figure 3: deep clone chains --------------------------------------- */

struct chain {
	struct vmo	**v;	/* v[0] root ... v[levels] deepest */
	int		levels;
};

static void
chain_build(struct vm *vm, struct chain *c, int levels, const char *pattern)
{
	uint64_t size = DEPTH_PREFIX + depth_read;
	int i, err;

	c->levels = levels;
	c->v = calloc((size_t)levels + 1, sizeof(*c->v));
	if (c->v == NULL)
		die("calloc", -ENOMEM);
	/*
	 * The root commits only what is read: the prefix holds the levels'
	 * own pages.  (Every root page costs O(depth) per VMO torn down.)
	 */
	c->v[0] = make_vmo(vm, size);
	write_all(c->v[0], pattern + DEPTH_PREFIX, DEPTH_PREFIX, depth_read);
	for (i = 1; i <= levels; i++) {
		err = vmo_clone(c->v[i - 1], 0, VMO_WHOLE, &c->v[i]);
		if (err != 0)
			die("vmo_clone (chain)", err);
		/* One page of its own, at a distinct offset: no level collapses. */
		if (vmo_write(c->v[i], pattern + PAGE, (uint64_t)i * PAGE, PAGE) !=
		    (ssize_t)PAGE)
			die("vmo_write (chain)", 0);
	}
}

static void
chain_free(struct chain *c)
{
	int i;

	for (i = c->levels; i >= 0; i--)
		vmo_unref(c->v[i]);
	free(c->v);
}

/* Seconds per page reading [DEPTH_PREFIX, +depth_read) in chunk calls. */
static double
time_bulk(struct vmo *v, char *buf, size_t chunk)
{
	double t0 = now();
	uint64_t pos;

	for (pos = 0; pos < depth_read; pos += chunk)
		if (vmo_read(v, buf, DEPTH_PREFIX + pos, chunk) != (ssize_t)chunk)
			die("vmo_read (chain)", 0);
	clobber(buf);
	return (now() - t0) / (double)(depth_read / PAGE);
}

/* Seconds per 4 KiB vmo_read at the given page offsets. */
static double
time_single(struct vmo *v, char *buf, const uint64_t *offs)
{
	double t0 = now();
	int i;

	for (i = 0; i < single_reads; i++)
		if (vmo_read(v, buf, offs[i], PAGE) != (ssize_t)PAGE)
			die("vmo_read (single)", 0);
	clobber(buf);
	return (now() - t0) / single_reads;
}

static void
fig_depth(struct vm *vm, const char *pattern)
{
	struct chain shallow, deep;
	struct vmo *d1, *dn;
	uint64_t *offs, dep1, depn, npages = depth_read / PAGE;
	double tb1[MAX_REPS], tbn[MAX_REPS], ts1[MAX_REPS], tsn[MAX_REPS],
	    rb[MAX_REPS], rs[MAX_REPS], tk1[MAX_REPS], tkn[MAX_REPS],
	    rk[MAX_REPS];
	double b1, bn, s1, sn, k1, kn, rbulk, rfuse, rsingle, t0, tn;
	char *buf;
	char rdb[32], target[32];
	int i, r;

	fprintf(stderr, "figure 3: depth\n");
	if ((uint64_t)depth_levels >= DEPTH_PREFIX / PAGE)
		die("too many levels for the prefix", 0);
	t0 = now();
	chain_build(vm, &shallow, 1, pattern);
	chain_build(vm, &deep, depth_levels, pattern);
	fprintf(stderr, "  built the chains in %.2f s\n", now() - t0);
	d1 = shallow.v[1];
	dn = deep.v[depth_levels];
	dep1 = vmo_test_depth(d1);
	depn = vmo_test_depth(dn);
	fprintf(stderr, "  depth of deepest clone: %" PRIu64 " and %" PRIu64
	    " levels\n", dep1, depn);
	if (depn < (uint64_t)depth_levels)
		die("chain collapsed", 0);

	buf = xmalloc_faulted(CHUNK, 0);
	/* The content is the root's, past the prefix. */
	if (vmo_read(dn, buf, DEPTH_PREFIX, CHUNK) != (ssize_t)CHUNK)
		die("vmo_read", 0);
	check_equal(pattern + DEPTH_PREFIX, buf, CHUNK, "deep read");

	offs = malloc((size_t)single_reads * sizeof(*offs));
	if (offs == NULL)
		die("malloc", -ENOMEM);
	srand(1);
	for (i = 0; i < single_reads; i++)
		offs[i] = DEPTH_PREFIX + (uint64_t)rand() % npages * PAGE;

	/* Warm both once, then alternate so load bursts hit both. */
	(void)time_bulk(d1, buf, CHUNK);
	(void)time_bulk(dn, buf, CHUNK);
	for (r = 0; r < reps; r++) {
		tb1[r] = time_bulk(d1, buf, CHUNK);
		tbn[r] = time_bulk(dn, buf, CHUNK);
		rb[r] = tbn[r] / tb1[r];
		tk1[r] = time_bulk(d1, buf, FUSE_CHUNK);
		tkn[r] = time_bulk(dn, buf, FUSE_CHUNK);
		rk[r] = tkn[r] / tk1[r];
		ts1[r] = time_single(d1, buf, offs);
		tsn[r] = time_single(dn, buf, offs);
		rs[r] = tsn[r] / ts1[r];
	}
	b1 = median(tb1, reps);
	bn = median(tbn, reps);
	s1 = median(ts1, reps);
	sn = median(tsn, reps);
	rbulk = median(rb, reps);
	k1 = median(tk1, reps);
	kn = median(tkn, reps);
	rfuse = median(rk, reps);
	rsingle = median(rs, reps);

	size_name(depth_read, rdb, sizeof(rdb));
	add_row("3", "bulk_depth1_ns", b1 * 1e9, "ns/page", "", -1,
	    "read %s untouched since the root, 1 MiB vmo_read calls, "
	    "clone depth %" PRIu64 " (1 clone)", rdb, dep1);
	add_row("3", "bulk_deep_ns", bn * 1e9, "ns/page", "", -1,
	    "the same from the deepest of %d nested clones (depth %" PRIu64 ")",
	    depth_levels, depn);
	snprintf(target, sizeof(target), "<= 2");
	add_row("3", "bulk_ratio", rbulk, "x", target, rbulk <= 2.0,
	    "bulk read: depth %" PRIu64 " / depth %" PRIu64, depn, dep1);
	add_row("3", "bulk128k_depth1_ns", k1 * 1e9, "ns/page", "", -1,
	    "the same %s in 128 KiB vmo_read calls (FUSE's usual read size), "
	    "depth %" PRIu64, rdb, dep1);
	add_row("3", "bulk128k_deep_ns", kn * 1e9, "ns/page", "", -1,
	    "the same in 128 KiB calls, depth %" PRIu64, depn);
	add_row("3", "bulk128k_ratio", rfuse, "x", "", -1,
	    "128 KiB calls: depth %" PRIu64 " / depth %" PRIu64
	    " (no target; one chain walk per call)", depn, dep1);
	add_row("3", "single_depth1_ns", s1 * 1e9, "ns/read", "", -1,
	    "one 4 KiB vmo_read at a random untouched offset, depth %" PRIu64,
	    dep1);
	add_row("3", "single_deep_ns", sn * 1e9, "ns/read", "", -1,
	    "the same, depth %" PRIu64, depn);
	add_row("3", "single_ratio", rsingle, "x", "", -1,
	    "single-page reads: depth %" PRIu64 " / depth %" PRIu64
	    " (no target; each call walks the chain)", depn, dep1);
	free(offs);
	free(buf);
	t0 = now();
	chain_free(&shallow);
	t0 = now() - t0;
	tn = now();
	chain_free(&deep);
	tn = now() - tn;
	add_row("3", "teardown_depth1_ms", t0 * 1e3, "ms", "", -1,
	    "vmo_unref of the root and its clone (%" PRIu64 " root pages), "
	    "once", depth_read / PAGE);
	add_row("3", "teardown_deep_ms", tn * 1e3, "ms", "", -1,
	    "vmo_unref of all %d VMOs of the nested chain, deepest first, once",
	    depth_levels + 1);
}

/* ----------------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: bench_vm [-q] [-r REPS] [-f FIGURES]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct vm_config cfg;
	struct vm *vm;
	struct vmo *big;
	struct mallinfo2 m0, m1;
	char *a, *b, *pattern;
	uint64_t pattern_size;
	double t0;
	const char *figs = "1234";
	bool quick = false;
	int c, err;

	while ((c = getopt(argc, argv, "f:qr:h")) != -1) {
		switch (c) {
		case 'f':
			figs = optarg;
			if (strspn(figs, "1234") != strlen(figs))
				usage();
			break;
		case 'q':
			quick = true;
			break;
		case 'r':
			reps = atoi(optarg);
			if (reps < 1 || reps > MAX_REPS)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (quick) {
		big_size = 64 * MiB;
		depth_read = 4 * MiB;
		clone_inner = 5;
		single_reads = 1024;
	}
	t0 = now();
	printf("<!-- bench_vm%s: reps %d (median), %ld CPUs -->\n",
	    quick ? " -q" : "", reps, sysconf(_SC_NPROCESSORS_ONLN));
	print_loadavg("at start");

	/* Committed pages: one big VMO at a time, plus two depth chains. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.limit_bytes = big_size + 2 * (DEPTH_PREFIX + depth_read) + 256 * MiB;
	err = vm_create(&cfg, &vm);
	if (err != 0)
		die("vm_create", err);

	a = xmalloc_faulted(big_size, 0);
	b = xmalloc_faulted(big_size, 0);
	for (uint64_t i = 0; i < big_size; i += sizeof(uint64_t)) {
		uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;

		memcpy(a + i, &x, sizeof(x));
	}
	pattern = a;
	pattern_size = big_size;
	if (pattern_size < DEPTH_PREFIX + depth_read)
		die("pattern smaller than the depth VMO", 0);

	m0 = mallinfo2();
	if (strchr(figs, '2') != NULL) {
		big = fig_bandwidth(vm, a, b);
	} else {
		big = make_vmo(vm, big_size);
		write_all(big, a, 0, big_size);
	}
	m1 = mallinfo2();
	if (strchr(figs, '4') != NULL)
		fig_metadata(big, m1.uordblks > m0.uordblks ?
		    m1.uordblks - m0.uordblks : 0);
	if (strchr(figs, '1') != NULL)
		fig_clone(vm, big, pattern);
	vmo_unref(big);
	if (strchr(figs, '3') != NULL)
		fig_depth(vm, pattern);

	if (vm_test_used_pages(vm) != 0)
		die("pages left in use", 0);
	vm_destroy(vm);
	free(a);
	free(b);
	print_loadavg("at end");
	printf("<!-- total %.1f s -->\n\n", now() - t0);
	print_results();
	return 0;
}
