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
	assert_int_equal(setx_err(P("er/data"), "user.vmo.size", "big"), EPERM);
	assert_int_equal(setx_err(P("er/data"), "user.vmo.id", "-1"), EPERM);
	assert_int_equal(getx_err(P("er/data"), "user.vmo.commit"), ENODATA);
	assert_int_equal(removexattr(P("er/data"), "user.vmo.commit"), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(setx_err(P("er/data"), "trusted.x", "1"), ENOTSUP);
	assert_int_equal(getx_err(P("er/data"), "trusted.x"), ENOTSUP);
	assert_int_equal(setx_err(P("er/data"), "security.x", "1"), ENOTSUP);
	/* reserved names elsewhere */
	assert_int_equal(setx_err(P("er"), "user.vmo.commit", "all"), EINVAL);
	assert_int_equal(getx_err(P("er"), "user.vmo.size"), ENODATA);
	assert_int_equal(setx_err(M.dir, "user.vmofs.stats", "x"), EPERM);
}

/* The whole of path must be want[0, len), byte for byte. */
static void
same_bytes(const char *path, const char *want, size_t len, const char *what)
{
	static char got[65536];
	struct stat st;
	size_t i;

	assert_int_equal(stat(path, &st), 0);
	if ((size_t)st.st_size != len)
		fail_msg("%s: size %lld, want %zu", what, (long long)st.st_size, len);
	assert_int_equal(ml_read_at(path, got, sizeof(got), 0), (ssize_t)len);
	for (i = 0; i < len; i++)
		if (got[i] != want[i])
			fail_msg("%s: byte %zu is %d, want %d", what, i, got[i], want[i]);
}

static int
setx_raw(const char *path, const char *name, const char *value, size_t size)
{
	return setxattr(path, name, value, size, 0) == 0 ? 0 : errno;
}

/*
 * Invariant (issue #16 bug 3): a range action never changes a byte
 * outside its range, and a refused one changes nothing at all.
 * decommit frees whole pages, so it takes only page-aligned ranges (or
 * one that ends at the end of the file); it used to round out, and
 * decommit 16+256 zeroed bytes 0-15 and 272-4095 too.
 */
#define RC_SIZE	(3 * 4096 + 100)

static void
test_decommit_exact(void **state)
{
	static char want[RC_SIZE];
	char f[512];		/* ml_path's ring has 8 slots: keep our own */

	(void)state;
	snprintf(f, sizeof(f), "%s", P("rc/data"));
	mkvmo("rc", 0);
	ml_fill(want, sizeof(want), 30);
	assert_int_equal(ml_write_at(f, want, sizeof(want), 0), 0);
	assert_string_equal(ml_getx(f, "user.vmo.committed"), "16384");
	/* unaligned: refused, nothing changed */
	assert_int_equal(setx_err(f, "user.vmo.decommit", "16+256"), EINVAL);
	assert_int_equal(setx_err(f, "user.vmo.decommit", "16+4080"), EINVAL);
	assert_int_equal(setx_err(f, "user.vmo.decommit", "0+100"), EINVAL);
	assert_int_equal(setx_err(f, "user.vmo.decommit", "4K+5000"), EINVAL);
	assert_int_equal(setx_err(f, "user.vmo.decommit", "100+12288"), EINVAL);
	same_bytes(f, want, sizeof(want), "after refused decommits");
	assert_string_equal(ml_getx(f, "user.vmo.committed"), "16384");
	/* aligned: exactly those pages */
	assert_int_equal(ml_setx(f, "user.vmo.decommit", "4K+4K"), 0);
	memset(want + 4096, 0, 4096);
	same_bytes(f, want, sizeof(want), "after decommit 4K+4K");
	assert_string_equal(ml_getx(f, "user.vmo.committed"), "12288");
	/* to the end of the file, which ends mid-page: allowed */
	assert_int_equal(ml_setx(f, "user.vmo.decommit", "12K+100"), 0);
	memset(want + 12288, 0, 100);
	same_bytes(f, want, sizeof(want), "after decommit 12K+100 (to EOF)");
	/* empty ranges change nothing, aligned or not */
	assert_int_equal(ml_setx(f, "user.vmo.decommit", "16+0"), 0);
	assert_int_equal(ml_setx(f, "user.vmo.decommit", "12388+0"), 0);
	same_bytes(f, want, sizeof(want), "after empty decommits");
	assert_string_equal(ml_getx(f, "user.vmo.committed"), "8192");
	/* all: the end of the file, mid-page */
	assert_int_equal(ml_setx(f, "user.vmo.decommit", "all"), 0);
	memset(want, 0, sizeof(want));
	same_bytes(f, want, sizeof(want), "after decommit all");
	assert_string_equal(ml_getx(f, "user.vmo.committed"), "0");
}

/*
 * Every range-taking action refuses the same malformed or out-of-range
 * values with EINVAL and leaves bytes, committed and pinned pages alone.
 */
static void
test_range_refusals(void **state)
{
	static const char *const acts[] = { "commit", "decommit", "zero", "pin",
		"unpin", "prefetch", "dontneed", "alwaysneed" };
	static const char *const bad[] = {
		"0+12389",			/* past the end by one */
		"12389+0",			/* starts past the end */
		"16K+0",
		"0+1G",
		"18446744073709551615+1",	/* wraps 2^64 */
		"0xffffffffffffffff+0x1",
		"1+18446744073709551615",
		"17179869184G+0",		/* 2^34 G: NUM overflows with its suffix */
		"99999999999999999999999+1",	/* NUM overflows */
		"-1+1", "0+-1", "+4K", "4K+", "4K", "0+4Kx", "0+4K ", " 0+4K",
		"0+4K\n\n", "0+4KK", "1+2+3", "0x+1", "0+0x", "ALL", "all ",
		"0+4Q", "0 + 4K",
	};
	static char want[RC_SIZE];
	char longv[80], key[64];
	char f[512];		/* ml_path's ring has 8 slots: keep our own */
	size_t i, j;

	(void)state;
	snprintf(f, sizeof(f), "%s", P("rr/data"));
	mkvmo("rr", 0);
	ml_fill(want, sizeof(want), 31);
	assert_int_equal(ml_write_at(f, want, sizeof(want), 0), 0);
	assert_int_equal(ml_setx(f, "user.vmo.pin", "0+1"), 0);
	memset(longv, '1', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
		snprintf(key, sizeof(key), "user.vmo.%s", acts[i]);
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
			if (setx_err(f, key, bad[j]) != EINVAL)
				fail_msg("%s %s: not EINVAL", key, bad[j]);
		/* a NUL byte with more after it, and a value too long */
		if (setx_raw(f, key, "0+4\0junk", 8) != EINVAL)
			fail_msg("%s with a NUL inside: not EINVAL", key);
		if (setx_err(f, key, longv) != EINVAL)
			fail_msg("%s with an 79-byte value: not EINVAL", key);
	}
	same_bytes(f, want, sizeof(want), "after every refusal");
	assert_string_equal(ml_getx(f, "user.vmo.committed"), "16384");
	assert_string_equal(ml_getx(f, "user.vmo.pinned"), "4096");
	/* pin and unpin: empty ranges hold nothing, refused alike */
	assert_int_equal(setx_err(f, "user.vmo.pin", "0+0"), EINVAL);
	assert_int_equal(setx_err(f, "user.vmo.unpin", "100+0"), EINVAL);
	assert_string_equal(ml_getx(f, "user.vmo.pinned"), "4096");
	/* both round out: unpin of pages 0-1 fails whole (1 not pinned) */
	assert_int_equal(setx_err(f, "user.vmo.unpin", "4000+200"), EINVAL);
	assert_string_equal(ml_getx(f, "user.vmo.pinned"), "4096");
	assert_int_equal(ml_setx(f, "user.vmo.unpin", "100+1"), 0);
	assert_string_equal(ml_getx(f, "user.vmo.pinned"), "0");
	/* the rest take an empty range as a no-op */
	assert_int_equal(ml_setx(f, "user.vmo.decommit", "8K+4K"), 0);
	memset(want + 8192, 0, 4096);
	assert_int_equal(ml_setx(f, "user.vmo.commit", "8200+0"), 0);
	assert_int_equal(ml_setx(f, "user.vmo.alwaysneed", "8200+0"), 0);
	assert_int_equal(ml_setx(f, "user.vmo.zero", "8200+0"), 0);
	assert_string_equal(ml_getx(f, "user.vmo.committed"), "12288");
	/* commit rounds out: one byte commits its page */
	assert_int_equal(ml_setx(f, "user.vmo.commit", "8200+1"), 0);
	assert_string_equal(ml_getx(f, "user.vmo.committed"), "16384");
	/* zero stays byte exact, across a page boundary */
	assert_int_equal(ml_setx(f, "user.vmo.zero", "4090+10"), 0);
	memset(want + 4090, 0, 10);
	same_bytes(f, want, sizeof(want), "after zero 4090+10");
}

/*
 * A slice's last page goes on with its parent's bytes: decommit of the
 * slice to its end would free them, so it is refused; zero stops at the
 * slice's end.
 */
static void
test_slice_ranges(void **state)
{
	static char want[8192];
	char f[512];		/* ml_path's ring has 8 slots: keep our own */

	(void)state;
	snprintf(f, sizeof(f), "%s", P("sr/slices/s/data"));
	mkvmo("sr", 0);
	ml_fill(want, sizeof(want), 32);
	assert_int_equal(ml_write_at(P("sr/data"), want, sizeof(want), 0), 0);
	if (mkdir(P("sr/slices/s@4K+100"), 0755) != 0)
		fail_msg("mkdir slice: %s", strerror(errno));
	assert_int_equal(setx_err(f, "user.vmo.decommit", "all"), EINVAL);
	assert_int_equal(setx_err(f, "user.vmo.decommit", "0+100"), EINVAL);
	same_bytes(P("sr/data"), want, sizeof(want), "parent after slice decommit");
	assert_int_equal(ml_setx(f, "user.vmo.zero", "all"), 0);
	memset(want + 4096, 0, 100);
	same_bytes(P("sr/data"), want, sizeof(want), "parent after slice zero");
	same_bytes(f, want + 4096, 100, "slice after zero");
}

/*
 * Invariant (issue #19): restoring a copy of a mount never fails on the
 * derived values the copy carries, and never makes them stale.  Backup
 * tools write back what they copied out: the read-only user.vmo.* values,
 * user.vmofs.stats, the info file.  A write in the value's own form is
 * taken and dropped; rsync -X removes what its copy lacks, a no-op too;
 * anything else is refused as before.
 */
static void
test_restore_writes(void **state)
{
	static const char *const vals[][2] = {
		{ "id", "12345" }, { "kind", "clone" }, { "parent", "0" },
		{ "size", "1" }, { "committed", "4096" }, { "populated", "0" },
		{ "private", "99999999999999999999" }, { "scaled", "7" },
		{ "pinned", "0" }, { "children", "3" }, { "lock_state", "none" },
		{ "lock_state", "unlocked locks=0 discarded=1" },
	};
	static const char *const bad[][2] = {
		{ "size", "x" }, { "size", "" }, { "size", "1 " }, { "size", "1\n" },
		{ "id", "123456789012345678901" }, { "kind", "Clone" },
		{ "kind", "3" }, { "children", "0x1" },
	};
	char info[512], again[512], key[64];
	char f[512];		/* ml_path's ring has 8 slots: keep our own */
	struct stat st;
	ssize_t n;
	size_t i;
	int fd;

	(void)state;
	snprintf(f, sizeof(f), "%s", P("rw/data"));
	mkvmo("rw", 5000);
	n = ml_read_at(P("rw/info"), info, sizeof(info), 0);
	assert_true(n > 0);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		snprintf(key, sizeof(key), "user.vmo.%s", vals[i][0]);
		if (setx_err(f, key, vals[i][1]) != 0)
			fail_msg("restore of %s=%s refused", key, vals[i][1]);
		assert_int_equal(removexattr(f, key), 0);
		assert_int_equal(setxattr(f, key, vals[i][1], strlen(vals[i][1]),
		    XATTR_CREATE), -1);
		assert_int_equal(errno, EEXIST);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(key, sizeof(key), "user.vmo.%s", bad[i][0]);
		if (setx_err(f, key, bad[i][1]) != EPERM)
			fail_msg("%s=\"%s\" not EPERM", key, bad[i][1]);
	}
	/* nothing changed: values, the listing, info */
	assert_string_equal(ml_getx(f, "user.vmo.size"), "5000");
	assert_string_equal(ml_getx(f, "user.vmo.kind"), "anonymous");
	assert_int_equal(ml_sh("test $(getfattr -d -m '^user\\.vmo\\.' %s | "
	    "grep -c '^user.vmo.') = 11", f), 0);	/* SPEC's 10, lock_state */
	assert_int_equal(ml_read_at(P("rw/info"), again, sizeof(again), 0), n);
	assert_memory_equal(info, again, (size_t)n);
	/* the root's stats: a restore of stats text, or a removal */
	assert_int_equal(ml_setx(M.dir, "user.vmofs.stats", "vmos: 3\nused_pages: 9\n"), 0);
	assert_int_equal(removexattr(M.dir, "user.vmofs.stats"), 0);
	assert_int_equal(setx_err(M.dir, "user.vmofs.stats", "vmos 3\n"), EPERM);
	assert_non_null(ml_getx(M.dir, "user.vmofs.stats"));
	/* info: opened for writing (root), info text taken and dropped */
	fd = open(P("rw/info"), O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "id: 7\nkind: slice\nsize: 1\n", 26), 26);
	assert_int_equal(write(fd, "x\n", 2), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(write(fd, "id: 7", 5), -1);	/* not a whole line */
	assert_int_equal(errno, EINVAL);
	assert_int_equal(write(fd, "colour: 7\n", 10), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ftruncate(fd, 3), 0);
	close(fd);
	assert_int_equal(stat(P("rw/info"), &st), 0);
	assert_int_equal(st.st_size, n);
	assert_int_equal(ml_read_at(P("rw/info"), again, sizeof(again), 0), n);
	assert_memory_equal(info, again, (size_t)n);
	/* a slice's fixed size: truncating to it is no change, else EPERM */
	if (mkdir(P("rw/slices/s@0+4K"), 0755) != 0)
		fail_msg("mkdir slice: %s", strerror(errno));
	assert_int_equal(truncate(P("rw/slices/s/data"), 4096), 0);
	assert_int_equal(truncate(P("rw/slices/s/data"), 100), -1);
	assert_int_equal(errno, EPERM);
	assert_string_equal(ml_getx(f, "user.vmo.size"), "5000");
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
	/* a length query and the read after it see one snapshot, however
	 * the counters move in between (rsync -X needs both to agree) */
	{
		ssize_t len = getxattr(M.dir, "user.vmofs.stats", NULL, 0);
		char *buf = malloc((size_t)len), name[32];
		int i;

		assert_true(len > 0);
		for (i = 0; i < 50; i++) {	/* move the counters */
			snprintf(name, sizeof(name), "sn%d", i);
			mkvmo(name, 4096);
		}
		assert_non_null(buf);
		assert_int_equal(getxattr(M.dir, "user.vmofs.stats", buf,
		    (size_t)len), len);
		s = ml_getx(M.dir, "user.vmofs.stats");	/* afresh */
		assert_non_null(s);
		assert_true(strlen(s) != (size_t)len || memcmp(s, buf, (size_t)len));
		free(buf);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_size_protocol),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_decommit_exact),
		cmocka_unit_test(test_range_refusals),
		cmocka_unit_test(test_slice_ranges),
		cmocka_unit_test(test_restore_writes),
		cmocka_unit_test(test_stored),
		cmocka_unit_test(test_stats),
	};

	ml_watchdog(120);
	return cmocka_run_group_tests(tests, setup, teardown);
}
