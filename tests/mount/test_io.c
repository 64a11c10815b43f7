/*
 * test_io.c - SPEC 3: data as a file.  read/write/grow, truncate,
 * fallocate modes, SEEK_DATA/SEEK_HOLE, st_blocks, copy_file_range,
 * shared and private mmap, large transfers, fsync.
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
#include <unistd.h>

#include "mountlib.h"

static struct ml_mount M;
#define P(...) ml_path(&M, __VA_ARGS__)

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

/* mkdir NAME and open its data O_RDWR. */
static int
mkvmo(const char *name)
{
	int fd;

	if (mkdir(P("%s", name), 0755) != 0)
		fail_msg("mkdir %s: %s", name, strerror(errno));
	fd = open(P("%s/data", name), O_RDWR);
	assert_true(fd >= 0);
	return fd;
}

static void
assert_zero(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i])
			fail_msg("byte %zu is %d, want 0", i, buf[i]);
}

static void
test_write_read_grow(void **state)
{
	char buf[10000], got[20000];
	struct stat st;
	int fd = mkvmo("wr");

	(void)state;
	ml_fill(buf, sizeof(buf), 10);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 10000);
	/* past the end: the gap reads zero */
	assert_int_equal(pwrite(fd, buf, 100, 15000), 100);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 15100);
	assert_int_equal(pread(fd, got, sizeof(got), 0), 15100);
	assert_memory_equal(got, buf, 10000);
	assert_zero(got + 10000, 5000);
	assert_memory_equal(got + 15000, buf, 100);
	/* short read at the end, zero past it */
	assert_int_equal(pread(fd, got, 100, 15050), 50);
	assert_int_equal(pread(fd, got, 100, 20000), 0);
	/* O_APPEND */
	close(fd);
	fd = open(P("wr/data"), O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "tail", 4), 4);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 15104);
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(fdatasync(fd), 0);
	close(fd);
	/* shell tools */
	assert_int_equal(ml_sh("echo hello > %s", P("wr/data")), 0);
	assert_int_equal(ml_sh("grep -qx hello %s", P("wr/data")), 0);
	assert_int_equal(ml_sh("dd if=/dev/zero of=%s bs=64k count=16 "
	    "status=none", P("wr/data")), 0);
	assert_int_equal(stat(P("wr/data"), &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
}

static void
test_truncate(void **state)
{
	char buf[12288], got[12288];
	struct stat st;
	int fd = mkvmo("tr");

	(void)state;
	ml_fill(buf, sizeof(buf), 11);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(ftruncate(fd, 5000), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 5000);
	assert_int_equal(ftruncate(fd, 12288), 0);
	assert_int_equal(pread(fd, got, sizeof(got), 0), 12288);
	assert_memory_equal(got, buf, 5000);
	assert_zero(got + 5000, 12288 - 5000);
	assert_int_equal(truncate(P("tr/data"), 0), 0);
	assert_int_equal(pread(fd, got, 10, 0), 0);
	close(fd);
	/* O_TRUNC */
	assert_int_equal(ml_write_at(P("tr/data"), buf, 100, 0), 0);
	fd = open(P("tr/data"), O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	close(fd);
	/* info's size is its text's: a truncate (a restore does one) is no
	 * change */
	assert_int_equal(stat(P("tr/info"), &st), 0);
	assert_true(st.st_size > 0);
	assert_int_equal(truncate(P("tr/info"), 0), 0);
	assert_int_equal(stat(P("tr/info"), &st), 0);
	assert_true(st.st_size > 0);
}

static void
test_fallocate(void **state)
{
	char buf[16384], got[16384];
	struct stat st;
	int fd = mkvmo("fa");
	uint64_t c0, c1;

	(void)state;
	c0 = ml_getx_u64(P("fa/data"), "user.vmo.committed");
	assert_int_equal(c0, 0);
	/* mode 0: grows and commits */
	assert_int_equal(fallocate(fd, 0, 0, 16384), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 16384);
	c1 = ml_getx_u64(P("fa/data"), "user.vmo.committed");
	assert_int_equal(c1, 16384);
	assert_true(st.st_blocks >= 32);
	/* KEEP_SIZE: size unchanged */
	assert_int_equal(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 65536), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 16384);
	/* PUNCH_HOLE zeroes, byte exact */
	ml_fill(buf, sizeof(buf), 12);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    100, 8192), 0);
	assert_int_equal(pread(fd, got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, buf, 100);
	assert_zero(got + 100, 8192);
	assert_memory_equal(got + 8292, buf + 8292, sizeof(buf) - 8292);
	/* the whole page in the middle is freed */
	assert_true(ml_getx_u64(P("fa/data"), "user.vmo.committed") <= 12288);
	/* ZERO_RANGE; beyond the end grows */
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE, 4096, 20000) == 0) {
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_size, 24096);
		assert_int_equal(pread(fd, got, sizeof(got), 0), sizeof(got));
		assert_memory_equal(got, buf, 4096);
		assert_zero(got + 4096, sizeof(got) - 4096);
	} else {
		assert_int_equal(errno, EOPNOTSUPP);	/* older kernels */
	}
	close(fd);
	/* shell tool */
	assert_int_equal(ml_sh("fallocate -l 1M %s", P("fa/data")), 0);
	assert_int_equal(stat(P("fa/data"), &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
}

static void
test_seek_data_hole(void **state)
{
	int fd = mkvmo("sk");
	off_t r;

	(void)state;
	assert_int_equal(ftruncate(fd, 10 * 4096), 0);
	assert_int_equal(pwrite(fd, "x", 1, 4 * 4096 + 5), 1);
	r = lseek(fd, 0, SEEK_DATA);
	assert_int_equal(r, 4 * 4096);
	r = lseek(fd, 4 * 4096, SEEK_HOLE);
	assert_int_equal(r, 5 * 4096);
	r = lseek(fd, 0, SEEK_HOLE);
	assert_int_equal(r, 0);
	r = lseek(fd, 6 * 4096, SEEK_DATA);
	assert_int_equal(r, -1);
	assert_int_equal(errno, ENXIO);
	r = lseek(fd, 10 * 4096, SEEK_HOLE);
	assert_int_equal(r, -1);
	assert_int_equal(errno, ENXIO);
	close(fd);
}

static void
test_st_blocks(void **state)
{
	char buf[8192];
	struct stat st;
	int fd = mkvmo("bl");

	(void)state;
	ml_fill(buf, sizeof(buf), 13);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_blocks, 0);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_blocks, 16);
	assert_int_equal(st.st_blksize, 4096);
	/* a fresh clone holds nothing of its own */
	assert_int_equal(mkdir(P("bl/clones/c"), 0755), 0);
	assert_int_equal(stat(P("bl/clones/c/data"), &st), 0);
	assert_int_equal(st.st_blocks, 0);
	assert_int_equal(ml_write_at(P("bl/clones/c/data"), buf, 10, 0), 0);
	assert_int_equal(stat(P("bl/clones/c/data"), &st), 0);
	assert_int_equal(st.st_blocks, 8);
	close(fd);
}

static void
test_copy_file_range(void **state)
{
	char buf[20000], got[20000];
	int a = mkvmo("cfa"), b = mkvmo("cfb");
	loff_t oi = 0, oo = 4096;
	ssize_t n;

	(void)state;
	ml_fill(buf, sizeof(buf), 14);
	assert_int_equal(pwrite(a, buf, sizeof(buf), 0), sizeof(buf));
	n = copy_file_range(a, &oi, b, &oo, sizeof(buf), 0);
	assert_int_equal(n, sizeof(buf));
	assert_int_equal(pread(b, got, sizeof(got), 4096), sizeof(got));
	assert_memory_equal(got, buf, sizeof(buf));
	/* unaligned */
	oi = 3;
	oo = 7;
	n = copy_file_range(a, &oi, b, &oo, 5000, 0);
	assert_int_equal(n, 5000);
	assert_int_equal(pread(b, got, 5000, 7), 5000);
	assert_memory_equal(got, buf + 3, 5000);
	/* cp between data files */
	assert_int_equal(ml_sh("cp %s %s", P("cfa/data"), P("cfb/data")), 0);
	assert_int_equal(ml_sh("cmp %s %s", P("cfa/data"), P("cfb/data")), 0);
	close(a);
	close(b);
}

/*
 * An aligned copy_file_range shares pages copy-on-write: the destination
 * costs no new page, each side's scaled share halves, and a write on
 * either side after the copy stays on that side.
 */
static void
test_copy_file_range_shares(void **state)
{
	enum { LEN = 1 << 20 };
	char *buf = malloc(LEN), *got = malloc(LEN), w[4096];
	int a = mkvmo("sha"), b = mkvmo("shb");
	loff_t oi = 0, oo = 8192;
	uint64_t used0, used1;

	(void)state;
	ml_fill(buf, LEN, 21);
	assert_int_equal(pwrite(a, buf, LEN, 0), LEN);
	used0 = ml_getx_u64(P("sha/data"), "user.vmo.committed");
	assert_int_equal(used0, LEN);
	assert_int_equal(copy_file_range(a, &oi, b, &oo, LEN, 0), LEN);
	assert_int_equal(pread(b, got, LEN, 8192), LEN);
	assert_memory_equal(got, buf, LEN);
	/* Shared, not copied: b holds the same pages, each side half of them. */
	assert_int_equal(ml_getx_u64(P("shb/data"), "user.vmo.committed"), LEN);
	assert_int_equal(ml_getx_u64(P("sha/data"), "user.vmo.scaled"), LEN / 2);
	assert_int_equal(ml_getx_u64(P("shb/data"), "user.vmo.scaled"), LEN / 2);
	assert_int_equal(ml_getx_u64(P("shb/data"), "user.vmo.private"), 0);
	/* Writes after the copy stay private to their side. */
	memset(w, 'A', sizeof(w));
	assert_int_equal(pwrite(a, w, sizeof(w), 0), sizeof(w));
	memset(w, 'B', sizeof(w));
	assert_int_equal(pwrite(b, w, sizeof(w), 8192 + 4096), sizeof(w));
	assert_int_equal(pread(b, got, 4096, 8192), 4096);
	assert_memory_equal(got, buf, 4096);
	assert_int_equal(pread(a, got, 4096, 4096), 4096);
	assert_memory_equal(got, buf + 4096, 4096);
	/* b's page 3 is its own copy, and page 2 is now b's alone: a copied
	 * its page 0 away and dropped its reference. */
	used1 = ml_getx_u64(P("shb/data"), "user.vmo.private");
	assert_int_equal(used1, 2 * 4096);
	close(a);
	close(b);
	free(buf);
	free(got);
}

static void
test_mmap_shared_private(void **state)
{
	char buf[16384], got[16384];
	char *m;
	int fd = mkvmo("mm");

	(void)state;
	ml_fill(buf, sizeof(buf), 15);
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), sizeof(buf));
	m = mmap(NULL, sizeof(buf), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	assert_memory_equal(m, buf, sizeof(buf));
	memcpy(m + 100, "shared!", 7);
	assert_int_equal(msync(m, sizeof(buf), MS_SYNC), 0);
	assert_int_equal(munmap(m, sizeof(buf)), 0);
	/* a clone taken after msync sees it */
	assert_int_equal(mkdir(P("mm/clones/c"), 0755), 0);
	assert_int_equal(ml_read_at(P("mm/clones/c/data"), got, sizeof(got), 0),
	    sizeof(got));
	assert_memory_equal(got + 100, "shared!", 7);
	/* private: the file does not change */
	m = mmap(NULL, sizeof(buf), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	assert_true(m != MAP_FAILED);
	memcpy(m, "private", 7);
	assert_int_equal(munmap(m, sizeof(buf)), 0);
	assert_int_equal(pread(fd, got, 7, 0), 7);
	assert_memory_equal(got, buf, 7);
	close(fd);
}

static void
test_large_transfer(void **state)
{
	size_t len = 32u << 20;
	char *buf = malloc(len), *got = malloc(len);
	int fd = mkvmo("big");
	size_t off;

	(void)state;
	ml_fill(buf, len, 16);
	for (off = 0; off < len; off += 1 << 20)
		assert_int_equal(pwrite(fd, buf + off, 1 << 20, (off_t)off),
		    1 << 20);
	close(fd);
	assert_int_equal(ml_read_at(P("big/data"), got, len, 0), (ssize_t)len);
	assert_memory_equal(buf, got, len);
	/* clone of 32 MiB is instant and equal */
	assert_int_equal(mkdir(P("big/clones/c"), 0755), 0);
	assert_int_equal(ml_sh("cmp %s %s", P("big/data"), P("big/clones/c/data")),
	    0);
	assert_int_equal(ml_sh("rm -r %s", P("big")), 0);
	free(buf);
	free(got);
}

static void
test_enospc(void **state)
{
	struct ml_mount s;
	char buf[65536];
	int fd, i, r = 0;

	(void)state;
	assert_int_equal(ml_mount(&s, "size=1M"), 0);
	assert_int_equal(mkdir(ml_path(&s, "v"), 0755), 0);
	fd = open(ml_path(&s, "v/data"), O_WRONLY);
	assert_true(fd >= 0);
	memset(buf, 1, sizeof(buf));
	for (i = 0; i < 64 && r >= 0; i++)
		r = (int)pwrite(fd, buf, sizeof(buf), (off_t)i * 65536);
	assert_int_equal(r, -1);
	assert_int_equal(errno, ENOSPC);
	close(fd);
	assert_int_equal(ml_umount(&s), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_grow),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_fallocate),
		cmocka_unit_test(test_seek_data_hole),
		cmocka_unit_test(test_st_blocks),
		cmocka_unit_test(test_copy_file_range),
		cmocka_unit_test(test_copy_file_range_shares),
		cmocka_unit_test(test_mmap_shared_private),
		cmocka_unit_test(test_large_transfer),
		cmocka_unit_test(test_enospc),
	};

	ml_watchdog(120);
	return cmocka_run_group_tests(tests, setup, teardown);
}
