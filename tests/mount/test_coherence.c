/*
 * test_coherence.c - the kernel caches pages per inode (keep_cache, long
 * timeouts), so every change that reaches bytes through another name
 * must invalidate the aliases.  Invariant guarded: after a syscall that
 * changed bytes returns, read(2) and mmap through every alias (slice,
 * root, sibling slice) see the new bytes.  Each test first reads the
 * victim so its pages are cached, then changes them through another path.
 * Also: a clone taken while another thread writes holds every write that
 * returned before mkdir.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mountlib.h"

static struct ml_mount M;
#define P(...) ml_path(&M, __VA_ARGS__)
#define SZ (64 * 1024)

static int
setup(void **state)
{
	(void)state;
	return ml_mount(&M, "size=512M");
}

static int
teardown(void **state)
{
	(void)state;
	return ml_umount(&M);
}

/* Make NAME with SZ pattern bytes and slices s1@4K+16K, s2@8K+16K. */
static void
mkgroup(const char *name, char *pattern)
{
	if (mkdir(P("%s", name), 0755) != 0)
		fail_msg("mkdir %s: %s", name, strerror(errno));
	ml_fill(pattern, SZ, 30);
	assert_int_equal(ml_write_at(P("%s/data", name), pattern, SZ, 0), 0);
	assert_int_equal(mkdir(P("%s/slices/s1@4K+16K", name), 0755), 0);
	assert_int_equal(mkdir(P("%s/slices/s2@8K+16K", name), 0755), 0);
}

static int
xopen(const char *p)
{
	int fd = open(p, O_RDWR);

	if (fd < 0)
		fail_msg("open %s: %s", p, strerror(errno));
	return fd;
}

/* pread through fd must equal want */
static void
check(int fd, off_t off, const void *want, size_t len)
{
	char got[SZ];

	assert_int_equal(pread(fd, got, len, off), (ssize_t)len);
	assert_memory_equal(got, want, len);
}

static void
test_write_slice_read_root(void **state)
{
	char pat[SZ], all[SZ];
	int root, s1;

	(void)state;
	mkgroup("g1", pat);
	root = xopen(P("g1/data"));
	s1 = xopen(P("g1/slices/s1/data"));
	assert_int_equal(pread(root, all, SZ, 0), SZ);	/* cache it */
	assert_int_equal(pwrite(s1, "SLICE", 5, 100), 5);
	check(root, 4096 + 100, "SLICE", 5);
	/* sibling slice s2 sees it too (s1 off 4K == s2 off ... 8K-4K) */
	{
		int s2 = xopen(P("g1/slices/s2/data"));

		assert_int_equal(pwrite(s1, "SIB", 3, 4096 + 7), 3);
		check(s2, 7, "SIB", 3);
		assert_int_equal(pwrite(s2, "TWO", 3, 9), 3);
		check(s1, 4096 + 9, "TWO", 3);
		check(root, 8192 + 9, "TWO", 3);
		close(s2);
	}
	close(root);
	close(s1);
}

static void
test_write_root_read_slice(void **state)
{
	char pat[SZ], buf[16384];
	int root, s1;

	(void)state;
	mkgroup("g2", pat);
	root = xopen(P("g2/data"));
	s1 = xopen(P("g2/slices/s1/data"));
	assert_int_equal(pread(s1, buf, sizeof(buf), 0), sizeof(buf));
	assert_memory_equal(buf, pat + 4096, sizeof(buf));
	assert_int_equal(pwrite(root, "ROOT", 4, 4096 + 50), 4);
	check(s1, 50, "ROOT", 4);
	/* a large write across the window */
	ml_fill(buf, sizeof(buf), 31);
	assert_int_equal(pwrite(root, buf, sizeof(buf), 2048), sizeof(buf));
	check(s1, 0, buf + 2048, sizeof(buf) - 2048);
	close(root);
	close(s1);
}

static void
test_mmap_aliases(void **state)
{
	char pat[SZ];
	char *m;
	int root, s1;

	(void)state;
	mkgroup("g3", pat);
	root = xopen(P("g3/data"));
	s1 = xopen(P("g3/slices/s1/data"));
	/* root mapped; write(2) through the slice shows in the mapping */
	m = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, root, 0);
	assert_true(m != MAP_FAILED);
	assert_memory_equal(m + 4096, pat + 4096, 16);
	assert_int_equal(pwrite(s1, "MAPPED", 6, 0), 6);
	assert_memory_equal(m + 4096, "MAPPED", 6);
	/* store through the root mapping + msync shows through the slice */
	memcpy(m + 4096 + 200, "STORE", 5);
	assert_int_equal(msync(m, SZ, MS_SYNC), 0);
	check(s1, 200, "STORE", 5);
	assert_int_equal(munmap(m, SZ), 0);
	/* slice mapped, root written */
	m = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_SHARED, s1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(m[300], pat[4096 + 300]);
	assert_int_equal(pwrite(root, "R2S", 3, 4096 + 300), 3);
	assert_memory_equal(m + 300, "R2S", 3);
	memcpy(m + 400, "S2R", 3);
	assert_int_equal(msync(m, 16384, MS_SYNC), 0);
	check(root, 4096 + 400, "S2R", 3);
	assert_int_equal(munmap(m, 16384), 0);
	close(root);
	close(s1);
}

static void
test_xattr_zero_decommit(void **state)
{
	char pat[SZ], zero[8192];
	int root, s1;

	(void)state;
	memset(zero, 0, sizeof(zero));
	mkgroup("g4", pat);
	root = xopen(P("g4/data"));
	s1 = xopen(P("g4/slices/s1/data"));
	check(root, 0, pat, SZ);
	check(s1, 0, pat + 4096, 16384);
	/* zero through the root's xattr: root itself and the slice */
	assert_int_equal(ml_setx(P("g4/data"), "user.vmo.zero", "4096+100"), 0);
	check(root, 4096, zero, 100);
	check(root, 4196, pat + 4196, 100);
	check(s1, 0, zero, 100);
	/* decommit through the slice: the root sees zeros */
	assert_int_equal(ml_setx(P("g4/slices/s1/data"), "user.vmo.decommit",
	    "4K+4K"), 0);
	check(s1, 4096, zero, 4096);
	check(root, 8192, zero, 4096);
	/* the slice's own cached pages after a zero through itself */
	assert_int_equal(ml_setx(P("g4/slices/s1/data"), "user.vmo.zero",
	    "12K+10"), 0);
	check(s1, 12288, zero, 10);
	close(root);
	close(s1);
}

static void
test_fallocate_and_truncate(void **state)
{
	char pat[SZ], zero[8192];
	int root, s1, fd;
	struct stat st;

	(void)state;
	memset(zero, 0, sizeof(zero));
	mkgroup("g5", pat);
	root = xopen(P("g5/data"));
	s1 = xopen(P("g5/slices/s1/data"));
	check(s1, 0, pat + 4096, 16384);
	assert_int_equal(fallocate(root, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    4096, 8192), 0);
	check(s1, 0, zero, 8192);
	check(s1, 8192, pat + 12288, 100);
	/* O_TRUNC / truncate of the root to the slice end: allowed, no change */
	assert_int_equal(ftruncate(root, 8192 + 16384), 0);
	check(s1, 8192, pat + 12288, 100);
	assert_int_equal(fstat(s1, &st), 0);
	assert_int_equal(st.st_size, 16384);
	/* a clone truncated does not disturb anyone */
	assert_int_equal(mkdir(P("g5/clones/c"), 0755), 0);
	fd = open(P("g5/clones/c/data"), O_RDWR | O_TRUNC);
	assert_true(fd >= 0);
	close(fd);
	check(root, 8192 + 4096, pat + 12288, 100);
	close(root);
	close(s1);
}

/* copy_file_range into a root shows in its slice */
static void
test_copy_into_alias(void **state)
{
	char pat[SZ];
	int root, s1, src;
	loff_t oi = 0, oo = 4096 + 10;

	(void)state;
	mkgroup("g6", pat);
	assert_int_equal(mkdir(P("g6src"), 0755), 0);
	assert_int_equal(ml_write_at(P("g6src/data"), "COPIED", 6, 0), 0);
	root = xopen(P("g6/data"));
	s1 = xopen(P("g6/slices/s1/data"));
	src = xopen(P("g6src/data"));
	check(s1, 0, pat + 4096, 100);
	assert_int_equal(copy_file_range(src, &oi, root, &oo, 6, 0), 6);
	check(s1, 10, "COPIED", 6);
	close(root);
	close(s1);
	close(src);
}

/* A clone taken while a writer runs holds every write that returned. */
struct writer {
	int	 fd;
	volatile int stop;
	int	 done;		/* blocks fully written (atomic) */
};

#define BLK 4096
#define NBLK 2048

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	char buf[BLK];
	int i;

	for (i = 0; i < NBLK && !w->stop; i++) {
		memset(buf, (i % 250) + 1, sizeof(buf));
		memcpy(buf, &i, sizeof(i));
		if (pwrite(w->fd, buf, BLK, (off_t)i * BLK) != BLK)
			break;
		__atomic_store_n(&w->done, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void
test_clone_during_writes(void **state)
{
	struct writer w = { 0 };
	pthread_t t;
	char buf[BLK];
	int round, fd, i, n;

	(void)state;
	assert_int_equal(mkdir(P("cw"), 0755), 0);
	w.fd = xopen(P("cw/data"));
	assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
	for (round = 0; round < 10; round++) {
		usleep(2000);
		n = __atomic_load_n(&w.done, __ATOMIC_ACQUIRE);
		assert_int_equal(mkdir(P("cw/clones/c%d", round), 0755), 0);
		fd = xopen(P("cw/clones/c%d/data", round));
		for (i = 0; i < n; i++) {
			assert_int_equal(pread(fd, buf, BLK, (off_t)i * BLK), BLK);
			if (memcmp(buf, &i, sizeof(i)) != 0 ||
			    buf[BLK - 1] != (char)((i % 250) + 1))
				fail_msg("clone c%d block %d (of %d done) lost",
				    round, i, n);
		}
		close(fd);
	}
	w.stop = 1;
	pthread_join(t, NULL);
	close(w.fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_slice_read_root),
		cmocka_unit_test(test_write_root_read_slice),
		cmocka_unit_test(test_mmap_aliases),
		cmocka_unit_test(test_xattr_zero_decommit),
		cmocka_unit_test(test_fallocate_and_truncate),
		cmocka_unit_test(test_copy_into_alias),
		cmocka_unit_test(test_clone_during_writes),
	};

	ml_watchdog(120);
	return cmocka_run_group_tests(tests, setup, teardown);
}
