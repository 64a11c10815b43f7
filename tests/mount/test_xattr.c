/*
 * test_xattr.c - SPEC 4: user.vmo.* actions and values, stored user.*
 * attributes, user.vmofs.stats, and every error code.
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
#include <sys/xattr.h>
#include <unistd.h>

#include "mountlib.h"

static struct ml_mount M;
#define P(...) ml_path(&M, __VA_ARGS__)

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

static void
mkvmo(const char *name, size_t size)
{
	char *buf = malloc(size ? size : 1);

	if (mkdir(P("%s", name), 0755) != 0)
		fail_msg("mkdir %s: %s", name, strerror(errno));
	ml_fill(buf, size, 20);
	if (size)
		assert_int_equal(ml_write_at(P("%s/data", name), buf, size, 0), 0);
	free(buf);
}

static int
setx_err(const char *path, const char *name, const char *value)
{
	int r = ml_setx(path, name, value);

	return r < 0 ? -r : 0;
}

static int
getx_err(const char *path, const char *name)
{
	return ml_getx(path, name) ? 0 : errno;
}

static void
test_values(void **state)
{
	uint64_t id, cid;

	(void)state;
	mkvmo("v", 10000);
	id = ml_getx_u64(P("v/data"), "user.vmo.id");
	assert_true(id > 0 && id != UINT64_MAX);
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.kind"), "anonymous");
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.parent"), "0");
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.size"), "10000");
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.committed"), "12288");
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.populated"), "12288");
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.private"), "12288");
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.scaled"), "12288");
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.pinned"), "0");
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.children"), "0");
	assert_int_equal(mkdir(P("v/clones/c"), 0755), 0);
	assert_int_equal(mkdir(P("v/slices/s@0+4K"), 0755), 0);
	assert_string_equal(ml_getx(P("v/data"), "user.vmo.children"), "2");
	cid = ml_getx_u64(P("v/clones/c/data"), "user.vmo.id");
	assert_true(cid != id);
	assert_string_equal(ml_getx(P("v/clones/c/data"), "user.vmo.kind"), "clone");
	assert_int_equal(ml_getx_u64(P("v/clones/c/data"), "user.vmo.parent"), id);
	assert_string_equal(ml_getx(P("v/slices/s/data"), "user.vmo.kind"), "slice");
	assert_int_equal(ml_getx_u64(P("v/slices/s/data"), "user.vmo.parent"), id);
	/* shared pages: scaled splits them */
	assert_true(ml_getx_u64(P("v/data"), "user.vmo.scaled") < 12288);
	/* getfattr lists and dumps them */
	assert_int_equal(ml_sh("getfattr -d -m user.vmo %s 2>/dev/null | "
	    "grep -q '^user.vmo.kind=\"anonymous\"'", P("v/data")), 0);
}

static void
test_size_protocol(void **state)
{
	char small[2], big[64];

	(void)state;
	mkvmo("sp", 123456);
	assert_int_equal(getxattr(P("sp/data"), "user.vmo.size", NULL, 0), 6);
	assert_int_equal(getxattr(P("sp/data"), "user.vmo.size", small,
	    sizeof(small)), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(getxattr(P("sp/data"), "user.vmo.size", big,
	    sizeof(big)), 6);
	assert_memory_equal(big, "123456", 6);
	/* listxattr: size 0, ERANGE, content */
	{
		ssize_t n = listxattr(P("sp/data"), NULL, 0);
		char *l = malloc((size_t)n);

		assert_true(n > 0);
		assert_int_equal(listxattr(P("sp/data"), small, sizeof(small)), -1);
		assert_int_equal(errno, ERANGE);
		assert_int_equal(listxattr(P("sp/data"), l, (size_t)n), n);
		assert_non_null(memmem(l, (size_t)n, "user.vmo.id\0", 12));
		assert_non_null(memmem(l, (size_t)n, "user.vmo.children\0", 18));
		free(l);
	}
	/* a directory with no attributes lists nothing */
	assert_int_equal(listxattr(P("sp/clones"), NULL, 0), 0);
}

static void
test_actions(void **state)
{
	char buf[4], got[16384];
	int fd;

	(void)state;
	mkvmo("ac", 0);
	assert_int_equal(truncate(P("ac/data"), 16384), 0);
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.commit", "4K+8K"), 0);
	assert_string_equal(ml_getx(P("ac/data"), "user.vmo.committed"), "8192");
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.commit", ""), 0);
	assert_string_equal(ml_getx(P("ac/data"), "user.vmo.committed"), "16384");
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.decommit", "0+4096"), 0);
	assert_string_equal(ml_getx(P("ac/data"), "user.vmo.committed"), "12288");
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.decommit", "all"), 0);
	assert_string_equal(ml_getx(P("ac/data"), "user.vmo.committed"), "0");
	/* zero: byte exact */
	ml_fill(got, sizeof(got), 21);
	assert_int_equal(ml_write_at(P("ac/data"), got, sizeof(got), 0), 0);
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.zero", "10+20"), 0);
	fd = open(P("ac/data"), O_RDONLY);
	assert_int_equal(pread(fd, buf, 4, 8), 4);
	assert_int_not_equal(buf[0] | buf[1], 0);
	assert_int_equal(buf[2] | buf[3], 0);
	assert_int_equal(pread(fd, buf, 4, 28), 4);
	assert_int_equal(buf[0] | buf[1], 0);
	close(fd);
	/* pin / unpin */
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.pin", "0+8K"), 0);
	assert_string_equal(ml_getx(P("ac/data"), "user.vmo.pinned"), "8192");
	assert_int_equal(setx_err(P("ac/data"), "user.vmo.decommit", "0+4K"), EBUSY);
	assert_int_equal(truncate(P("ac/data"), 100), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.unpin", "0+8K"), 0);
	assert_string_equal(ml_getx(P("ac/data"), "user.vmo.pinned"), "0");
	assert_int_equal(setx_err(P("ac/data"), "user.vmo.unpin", "0+4K"), EINVAL);
	/* hints */
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.prefetch", "all"), 0);
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.dontneed", "0+4K"), 0);
	assert_int_equal(ml_setx(P("ac/data"), "user.vmo.alwaysneed", "0+4K"), 0);
	/* setfattr works too */
	assert_int_equal(ml_sh("setfattr -n user.vmo.commit -v 0+4K %s",
	    P("ac/data")), 0);
}

static void
test_errors(void **state)
{
	static const char *bad[] = { "x", "1", "1+", "+1", "0+16K1", "0+32K",
		"16K+1", "0x+1", "all1", "-1+1" };
	size_t i;

	(void)state;
	mkvmo("er", 16384);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (setx_err(P("er/data"), "user.vmo.commit", bad[i]) != EINVAL)
			fail_msg("commit %s: not EINVAL", bad[i]);
	assert_int_equal(setx_err(P("er/data"), "user.vmo.bogus", "all"), EINVAL);
	assert_int_equal(getx_err(P("er/data"), "user.vmo.bogus"), ENODATA);
	assert_int_equal(setx_err(P("er/data"), "user.vmo.size", "1"), EPERM);
	assert_int_equal(setx_err(P("er/data"), "user.vmo.id", "1"), EPERM);
	assert_int_equal(getx_err(P("er/data"), "user.vmo.commit"), ENODATA);
	assert_int_equal(removexattr(P("er/data"), "user.vmo.size"), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(setx_err(P("er/data"), "trusted.x", "1"), ENOTSUP);
	assert_int_equal(getx_err(P("er/data"), "trusted.x"), ENOTSUP);
	assert_int_equal(setx_err(P("er/data"), "security.x", "1"), ENOTSUP);
	/* reserved names elsewhere */
	assert_int_equal(setx_err(P("er"), "user.vmo.commit", "all"), EINVAL);
	assert_int_equal(getx_err(P("er"), "user.vmo.size"), ENODATA);
	assert_int_equal(setx_err(M.dir, "user.vmofs.stats", "x"), EPERM);
}

static void
test_stored(void **state)
{
	char v[100];

	(void)state;
	mkvmo("st", 10);
	assert_int_equal(ml_setx(P("st/data"), "user.mine", "value1"), 0);
	assert_string_equal(ml_getx(P("st/data"), "user.mine"), "value1");
	assert_int_equal(ml_setx(P("st"), "user.dir", "d"), 0);
	assert_string_equal(ml_getx(P("st"), "user.dir"), "d");
	assert_int_equal(ml_setx(P("st/info"), "user.i", ""), 0);
	assert_int_equal(getxattr(P("st/info"), "user.i", v, sizeof(v)), 0);
	assert_int_equal(setxattr(P("st/data"), "user.mine", "x", 1,
	    XATTR_CREATE), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(setxattr(P("st/data"), "user.none", "x", 1,
	    XATTR_REPLACE), -1);
	assert_int_equal(errno, ENODATA);
	assert_int_equal(setxattr(P("st/data"), "user.mine", "v2", 2,
	    XATTR_REPLACE), 0);
	assert_string_equal(ml_getx(P("st/data"), "user.mine"), "v2");
	assert_int_equal(getx_err(P("st/data"), "user.none"), ENODATA);
	assert_int_equal(ml_sh("getfattr -d %s 2>/dev/null | grep -q user.mine",
	    P("st/data")), 0);
	assert_int_equal(removexattr(P("st/data"), "user.mine"), 0);
	assert_int_equal(getx_err(P("st/data"), "user.mine"), ENODATA);
	assert_int_equal(removexattr(P("st/data"), "user.mine"), -1);
	assert_int_equal(errno, ENODATA);
	/* cp -a to another filesystem keeps them */
	assert_int_equal(ml_setx(P("st/data"), "user.keep", "k"), 0);
	assert_int_equal(ml_sh("cp -a %s /tmp/vmofs-xattr-copy.$$ && "
	    "getfattr -n user.keep /tmp/vmofs-xattr-copy.$$ >/dev/null 2>&1; "
	    "r=$?; rm -f /tmp/vmofs-xattr-copy.$$; exit $r", P("st/data")), 0);
}

static void
test_stats(void **state)
{
	static const char *keys[] = { "limit_pages", "used_pages", "free_pages",
		"cached_pages", "pmm_allocs", "pmm_frees", "pmm_alloc_fails",
		"pmm_released", "pcache_hits", "pcache_misses", "pcache_refills",
		"pcache_returns", "pcache_steals", "vmos", "hidden_nodes",
		"cow_copies", "cow_moves", "merges", "zero_fills" };
	const char *s;
	char want[64];
	size_t i;

	(void)state;
	s = ml_getx(M.dir, "user.vmofs.stats");
	assert_non_null(s);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(want, sizeof(want), "%s: ", keys[i]);
		if (!strstr(s, want))
			fail_msg("stats lack %s:\n%s", keys[i], s);
	}
	assert_non_null(strstr(s, "limit_pages: 65536\n"));
	assert_int_equal(s[strlen(s) - 1], '\n');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_size_protocol),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_stored),
		cmocka_unit_test(test_stats),
	};

	ml_watchdog(120);
	return cmocka_run_group_tests(tests, setup, teardown);
}
