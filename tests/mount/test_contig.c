/*
 * test_contig.c - contiguous VMOs and page loaning through the mount
 * (mkdir NAME~contig=SIZE, issue #17 item 4; vm/contig.c).
 *
 * Invariant guarded: pages a contiguous VMO decommits are lent, other
 * VMOs borrow them when the mount is otherwise full, and a commit of the
 * contiguous VMO takes every one back -- the borrowers' bytes moved to
 * other pages, not lost -- with the counters saying so.  Also the
 * refusals: no clones or references, a fixed size, a size that fits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mountlib.h"

static struct ml_mount M;
#define P(...) ml_path(&M, __VA_ARGS__)
#define MIB (1024 * 1024)

static int
setup(void **state)
{
	(void)state;
	return ml_mount(&M, "size=4M");
}

static int
teardown(void **state)
{
	(void)state;
	return ml_umount(&M);
}

static int
mkdir_err(const char *p)
{
	return mkdir(p, 0755) == 0 ? 0 : errno;
}

static void
test_contig_refusals(void **state)
{
	char buf[8192];

	(void)state;
	ml_mkdir(P("c~contig=64K"));
	assert_int_equal(ml_getx_u64(P("c/data"), "user.vmo.size"), 65536);
	assert_int_equal(ml_getx_u64(P("c/data"), "user.vmo.committed"), 65536);
	assert_int_equal(ml_getx_u64(P("c/data"), "user.vmo.pinned"), 65536);
	assert_int_equal(ml_stat(&M, "contig_vmos"), 1);
	assert_int_equal(ml_read_at(P("c/data"), buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(mkdir_err(P("c/clones/k")), EOPNOTSUPP);
	assert_int_equal(mkdir_err(P("c/refs/r")), EOPNOTSUPP);
	assert_int_equal(truncate(P("c/data"), 4096), -1);
	assert_int_equal(errno, EPERM);
	ml_mkdir(P("c/slices/s@4K+8K"));
	assert_int_equal(ml_write_at(P("c/slices/s/data"), "SL", 2, 0), 0);
	assert_int_equal(ml_read_at(P("c/data"), buf, 2, 4096), 2);
	assert_memory_equal(buf, "SL", 2);
	/* the base pin is not a user's */
	assert_int_equal(ml_setx(P("c/data"), "user.vmo.unpin", "0+4K"), -EINVAL);
	assert_int_equal(mkdir_err(P("x~contig=0")), EINVAL);
	assert_int_equal(mkdir_err(P("y~contig=8M")), ENOSPC);
	assert_int_equal(mkdir_err(P("z~contig=4K,fixed=4K")), EINVAL);
	assert_int_equal(mkdir_err(P("z~contig=4K,discardable")), EINVAL);
	assert_int_equal(ml_sh("rm -r %s", P("c")), 0);
	assert_int_equal(ml_stat(&M, "contig_vmos"), 0);
}

/* The loan: lent on decommit, borrowed when full, taken back on commit. */
static void
test_contig_loan_reclaimed(void **state)
{
	static char pat[4 * MIB], got[4 * MIB];
	uint64_t borrowed, migr0;
	char zero[4096];
	int fd, i;

	(void)state;
	memset(zero, 0, sizeof(zero));
	migr0 = ml_stat(&M, "loan_migrations");
	ml_mkdir(P("c~contig=1M"));
	ml_fill(pat, MIB, 7);
	assert_int_equal(ml_write_at(P("c/data"), pat, MIB, 0), 0);
	assert_int_equal(ml_setx(P("c/data"), "user.vmo.decommit", "all"), 0);
	assert_int_equal(ml_stat(&M, "lent_pages"), 256);
	assert_int_equal(ml_getx_u64(P("c/data"), "user.vmo.committed"), 0);
	assert_int_equal(ml_read_at(P("c/data"), got, 4096, 0), 4096);
	assert_memory_equal(got, zero, 4096);
	/* 3.25 MiB of other data on a 4 MiB mount with 1 MiB lent (3 MiB
	 * of ordinary pages): it must borrow */
	ml_mkdir(P("a"));
	ml_fill(pat, sizeof(pat), 8);
	fd = open(P("a/data"), O_RDWR);
	assert_true(fd >= 0);
	for (i = 0; i < 13; i++)
		assert_int_equal(pwrite(fd, pat + i * (MIB / 4), MIB / 4,
		    i * (MIB / 4)), MIB / 4);
	assert_int_equal(fsync(fd), 0);
	borrowed = ml_stat(&M, "borrowed");
	assert_true(borrowed > 0);
	assert_true(ml_stat(&M, "loaned_free") < 256);
	/* room to move the borrowed pages to, then take them back */
	assert_int_equal(ml_setx(P("a/data"), "user.vmo.decommit", "0+1M"), 0);
	assert_int_equal(ml_setx(P("c/data"), "user.vmo.commit", "all"), 0);
	assert_int_equal(ml_stat(&M, "lent_pages"), 0);
	assert_true(ml_stat(&M, "loan_migrations") - migr0 >= 1);
	assert_int_equal(ml_getx_u64(P("c/data"), "user.vmo.pinned"), MIB);
	/* the borrower kept its bytes (read past the page cache) */
	close(fd);
	fd = open(P("a/data"), O_RDONLY | O_DIRECT);
	if (fd < 0)
		fd = open(P("a/data"), O_RDONLY);
	assert_true(fd >= 0);
	{
		char *b = aligned_alloc(4096, 9 * MIB / 4);

		assert_int_equal(pread(fd, b, 9 * MIB / 4, MIB), 9 * MIB / 4);
		assert_memory_equal(b, pat + MIB, 9 * MIB / 4);
		free(b);
	}
	close(fd);
	/* the contiguous VMO reads zero, and takes writes again */
	assert_int_equal(ml_read_at(P("c/data"), got, MIB, 0), MIB);
	for (i = 0; i < MIB; i += 4096)
		assert_memory_equal(got + i, zero, 4096);
	ml_fill(pat, MIB, 9);
	assert_int_equal(ml_write_at(P("c/data"), pat, MIB, 0), 0);
	assert_int_equal(ml_read_at(P("c/data"), got, MIB, 0), MIB);
	assert_memory_equal(got, pat, MIB);
	assert_int_equal(ml_sh("rm -r %s %s", P("a"), P("c")), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contig_refusals),
		cmocka_unit_test(test_contig_loan_reclaimed),
	};

	ml_watchdog(120);
	return cmocka_run_group_tests(tests, setup, teardown);
}
