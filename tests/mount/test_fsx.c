/*
 * test_fsx.c - randomized exerciser in the spirit of fsx: random pread,
 * pwrite, truncate, fallocate, xattr zero, mmap read/write, clone and
 * slice creation over several files, each checked against an in-memory
 * model after every step.
 *
 * Model: every non-slice VMO owns a byte array (bytes past its size are
 * kept zero); a slice is a window (root, off, len) onto its root's array,
 * so slices and roots alias exactly as vmofs promises.  A clone copies
 * its source's bytes at mkdir time.
 *
 * FSX_SEED (default: time) and FSX_OPS (default 1500) come from the
 * environment; the seed is printed so a failure can be replayed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mountlib.h"

#define MAXF	(256 * 1024)
#define NFILES	10
#define PG	4096

struct mfile {
	char	 path[512];
	int	 fd;
	int	 slice;		/* window onto files[root] */
	int	 root;		/* self for non-slices */
	uint64_t off, len;	/* slice window in the root */
	uint64_t size;		/* non-slices */
	unsigned char *data;	/* non-slices: MAXF bytes */
};

static struct ml_mount M;
static struct mfile F[NFILES];
static int nf;
static uint64_t rng;
static long step;

static uint64_t
rnd(uint64_t n)
{
	return n ? ml_rand(&rng) % n : 0;
}

static uint64_t
fsize(struct mfile *f)
{
	return f->slice ? f->len : f->size;
}

static unsigned char *
fbytes(struct mfile *f)
{
	return f->slice ? F[f->root].data + f->off : f->data;
}

static void
verify(int i)
{
	struct mfile *f = &F[i];
	static unsigned char got[MAXF];
	struct stat st;
	uint64_t sz = fsize(f), j;

	assert_int_equal(fstat(f->fd, &st), 0);
	if ((uint64_t)st.st_size != sz)
		fail_msg("step %ld: %s size %lld, model %llu", step, f->path,
		    (long long)st.st_size, (unsigned long long)sz);
	assert_int_equal(pread(f->fd, got, sz, 0), (ssize_t)sz);
	for (j = 0; j < sz; j++)
		if (got[j] != fbytes(f)[j])
			fail_msg("step %ld: %s byte %llu is %u, model %u", step,
			    f->path, (unsigned long long)j, got[j],
			    fbytes(f)[j]);
}

/* verify f and everything aliasing it */
static void
verify_group(int i)
{
	int r = F[i].root, j;

	for (j = 0; j < nf; j++)
		if (j == i || F[j].root == r)
			verify(j);
}

static void
add_file(const char *path, int slice, int root, uint64_t off, uint64_t len)
{
	struct mfile *f = &F[nf];

	snprintf(f->path, sizeof(f->path), "%s/data", path);
	f->fd = open(f->path, O_RDWR);
	if (f->fd < 0)
		fail_msg("open %s: %s", f->path, strerror(errno));
	f->slice = slice;
	f->root = slice ? root : nf;
	f->off = off;
	f->len = len;
	if (!slice)
		f->data = calloc(1, MAXF);
	nf++;
}

static uint64_t
max_slice_end(int r)
{
	uint64_t e = 0;
	int j;

	for (j = 0; j < nf; j++)
		if (F[j].slice && F[j].root == r && F[j].off + F[j].len > e)
			e = F[j].off + F[j].len;
	return e;
}

static void
op_write(struct mfile *f)
{
	static unsigned char buf[16384];
	uint64_t lim = f->slice ? f->len : MAXF, len, off;

	if (lim == 0)
		return;
	len = 1 + rnd(lim < sizeof(buf) ? lim : sizeof(buf));
	off = rnd(lim - len + 1);
	ml_fill(buf, len, ml_rand(&rng));
	assert_int_equal(pwrite(f->fd, buf, len, (off_t)off), (ssize_t)len);
	memcpy(fbytes(f) + off, buf, len);
	if (!f->slice && off + len > f->size)
		f->size = off + len;
	if (f->slice && rnd(4) == 0) {	/* past a slice's end */
		assert_int_equal(pwrite(f->fd, buf, 1, (off_t)f->len), -1);
		assert_int_equal(errno, EFBIG);
	}
}

static void
op_read(struct mfile *f)
{
	static unsigned char got[MAXF];
	uint64_t sz = fsize(f), off = rnd(sz + 1), len = rnd(sz - off + 100);
	ssize_t want = off >= sz ? 0 : (ssize_t)(len < sz - off ? len : sz - off);

	assert_int_equal(pread(f->fd, got, len, (off_t)off), want);
	if (want > 0)
		assert_memory_equal(got, fbytes(f) + off, (size_t)want);
}

static void
op_truncate(struct mfile *f, int i)
{
	uint64_t ns = rnd(MAXF + 1), min = max_slice_end(i);

	if (f->slice)
		return;
	if (ns < min)
		ns = min;
	assert_int_equal(ftruncate(f->fd, (off_t)ns), 0);
	if (ns < f->size)
		memset(f->data + ns, 0, f->size - ns);
	f->size = ns;
}

static void
op_zero(struct mfile *f, int how)
{
	uint64_t sz = fsize(f), off, len;
	char v[64];

	if (sz == 0)
		return;
	off = rnd(sz);
	len = 1 + rnd(sz - off);
	if (how == 0) {
		assert_int_equal(fallocate(f->fd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len), 0);
	} else {
		snprintf(v, sizeof(v), "%llu+%llu", (unsigned long long)off,
		    (unsigned long long)len);
		assert_int_equal(ml_setx(f->path, "user.vmo.zero", v), 0);
	}
	memset(fbytes(f) + off, 0, len);
}

static void
op_grow(struct mfile *f)
{
	uint64_t off = rnd(MAXF), len = 1 + rnd(MAXF - off);

	if (f->slice)
		return;
	assert_int_equal(fallocate(f->fd, 0, (off_t)off, (off_t)len), 0);
	if (off + len > f->size)
		f->size = off + len;
}

static void
op_mmap(struct mfile *f, int write)
{
	uint64_t sz = fsize(f), off, len;
	unsigned char *m;

	if (sz == 0)
		return;
	m = mmap(NULL, sz, PROT_READ | (write ? PROT_WRITE : 0), MAP_SHARED,
	    f->fd, 0);
	assert_true(m != MAP_FAILED);
	if (write) {
		off = rnd(sz);
		len = 1 + rnd(sz - off < 8192 ? sz - off : 8192);
		ml_fill(m + off, len, ml_rand(&rng));
		memcpy(fbytes(f) + off, m + off, len);
		assert_int_equal(msync(m, sz, MS_SYNC), 0);
	} else {
		assert_memory_equal(m, fbytes(f), sz);
	}
	assert_int_equal(munmap(m, sz), 0);
}

static void
op_clone(int i)
{
	struct mfile *f = &F[i];
	char dir[512], name[600];
	uint64_t sz = fsize(f), off = 0, len = sz;
	int whole = rnd(2);

	if (nf >= NFILES)
		return;
	snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(f->path) - 5), f->path);
	if (whole) {
		snprintf(name, sizeof(name), "%s/clones/c%ld", dir, step);
	} else {
		off = rnd(sz / PG + 2) * PG;
		if (off > MAXF)
			off = MAXF;
		len = rnd(MAXF - off + 1);
		snprintf(name, sizeof(name), "%s/clones/c%ld@%llu+%llu", dir, step,
		    (unsigned long long)off, (unsigned long long)len);
	}
	assert_int_equal(mkdir(name, 0755), 0);
	snprintf(name, sizeof(name), "%s/clones/c%ld", dir, step);
	add_file(name, 0, 0, 0, 0);
	F[nf - 1].size = len;
	if (off < sz)
		memcpy(F[nf - 1].data, fbytes(f) + off,
		    len < sz - off ? len : sz - off);
}

static void
op_slice(int i)
{
	struct mfile *f = &F[i];
	char dir[512], name[600];
	uint64_t lim = f->slice ? f->len : f->size / PG * PG, off, len;

	if (nf >= NFILES || lim < PG)
		return;
	snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(f->path) - 5), f->path);
	off = rnd(lim / PG) * PG;
	len = 1 + rnd(lim - off);
	snprintf(name, sizeof(name), "%s/slices/s%ld@%llu+%llu", dir, step,
	    (unsigned long long)off, (unsigned long long)len);
	assert_int_equal(mkdir(name, 0755), 0);
	snprintf(name, sizeof(name), "%s/slices/s%ld", dir, step);
	add_file(name, 1, f->root, (f->slice ? f->off : 0) + off, len);
}

static void
test_fsx(void **state)
{
	const char *s = getenv("FSX_SEED"), *o = getenv("FSX_OPS");
	uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
	long ops = o ? atol(o) : 1500;
	int i, j;

	(void)state;
	printf("fsx: FSX_SEED=%llu FSX_OPS=%ld\n", (unsigned long long)seed, ops);
	fflush(stdout);
	rng = seed;
	for (i = 0; i < 2; i++) {
		char p[600];

		snprintf(p, sizeof(p), "%s/f%d", M.dir, i);
		assert_int_equal(mkdir(p, 0755), 0);
		add_file(p, 0, 0, 0, 0);
	}
	for (step = 0; step < ops; step++) {
		i = (int)rnd((uint64_t)nf);
		switch (rnd(20)) {
		case 0: case 1: case 2: case 3: case 4: op_write(&F[i]); break;
		case 5: case 6: case 7: op_read(&F[i]); break;
		case 8: case 9: op_truncate(&F[i], i); break;
		case 10: op_zero(&F[i], 0); break;
		case 11: op_zero(&F[i], 1); break;
		case 12: op_grow(&F[i]); break;
		case 13: case 14: op_mmap(&F[i], 0); break;
		case 15: case 16: op_mmap(&F[i], 1); break;
		case 17: op_clone(i); break;
		case 18: op_slice(i); break;
		default: op_read(&F[i]); break;
		}
		verify_group(i);
		if (step % 100 == 99)
			for (j = 0; j < nf; j++)
				verify(j);
	}
	for (j = 0; j < nf; j++)
		verify(j);
	for (j = 0; j < nf; j++) {
		close(F[j].fd);
		free(F[j].data);
	}
}

static int
setup(void **state)
{
	(void)state;
	return ml_mount(&M, "size=256M");
}

static int
teardown(void **state)
{
	(void)state;
	return ml_umount(&M);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsx),
	};

	ml_watchdog(150);
	return cmocka_run_group_tests(tests, setup, teardown);
}
