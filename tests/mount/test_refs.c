/*
 * test_refs.c - references (mkdir NAME/refs/R, issue #17): a second VMO
 * onto all of NAME's pages and its content size.
 *
 * Invariants guarded: after a syscall that changed bytes or the size
 * through one side returns, read(2), fstat and mmap through the other see
 * it, although the kernel caches pages and attributes per inode (each
 * test reads the victim first so that they are cached); a reference is
 * charged no memory and its original's numbers do not change; an open
 * reference keeps the bytes after rm -r of the original; bad requests get
 * their errno.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mountlib.h"

static struct ml_mount M;
#define P(...) ml_path(&M, __VA_ARGS__)
#define SZ (64 * 1024)

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

/* Make NAME with SZ pattern bytes and its reference NAME/refs/r. */
static void
mkref(const char *name, char *pattern)
{
	ml_mkdir(P("%s", name));
	ml_fill(pattern, SZ, 40);
	assert_int_equal(ml_write_at(P("%s/data", name), pattern, SZ, 0), 0);
	ml_mkdir(P("%s/refs/r", name));
}

static int
xopen(const char *p)
{
	int fd = open(p, O_RDWR);

	if (fd < 0)
		fail_msg("open %s: %s", p, strerror(errno));
	return fd;
}

static void
check(int fd, off_t off, const void *want, size_t len)
{
	char got[SZ];

	assert_int_equal(pread(fd, got, len, off), (ssize_t)len);
	assert_memory_equal(got, want, len);
}

static off_t
fsize(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_size;
}

static int
mkdir_err(const char *p)
{
	return mkdir(p, 0755) == 0 ? 0 : errno;
}

/* Writes through either side are read through the other, at once. */
static void
test_ref_write_both_ways(void **state)
{
	char pat[SZ], buf[SZ];
	int a, r;

	(void)state;
	mkref("w", pat);
	a = xopen(P("w/data"));
	r = xopen(P("w/refs/r/data"));
	check(r, 0, pat, SZ);			/* both cached */
	check(a, 0, pat, SZ);
	assert_int_equal(pwrite(r, "REF", 3, 5000), 3);
	check(a, 5000, "REF", 3);
	assert_int_equal(pwrite(a, "ORIG", 4, 7000), 4);
	check(r, 7000, "ORIG", 4);
	/* by path, through a fresh open as well */
	assert_int_equal(ml_read_at(P("w/refs/r/data"), buf, 4, 7000), 4);
	assert_memory_equal(buf, "ORIG", 4);
	/* xattr actions through the reference act on the shared pages */
	assert_int_equal(ml_setx(P("w/refs/r/data"), "user.vmo.zero", "0+100"), 0);
	memset(buf, 0, 100);
	check(a, 0, buf, 100);
	check(r, 0, buf, 100);
	assert_int_equal(fallocate(a, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    8192, 4096), 0);
	memset(buf, 0, 4096);
	check(r, 8192, buf, 4096);
	close(a);
	close(r);
}

/* The size is one: growth and truncation through either side. */
static void
test_ref_size_follows(void **state)
{
	char pat[SZ], zero[8192];
	int a, r, fd;

	(void)state;
	memset(zero, 0, sizeof(zero));
	mkref("s", pat);
	a = xopen(P("s/data"));
	r = xopen(P("s/refs/r/data"));
	assert_int_equal(fsize(r), SZ);
	check(r, 0, pat, SZ);
	/* truncate the original up: the reference grows, the gap is zero */
	assert_int_equal(ftruncate(a, SZ + 8192), 0);
	assert_int_equal(fsize(r), SZ + 8192);
	check(r, SZ, zero, 8192);
	/* and down: the reference shrinks, its cached tail is gone */
	assert_int_equal(truncate(P("s/data"), 10000), 0);
	assert_int_equal(fsize(r), 10000);
	{
		char buf[SZ];

		assert_int_equal(pread(r, buf, SZ, 0), 10000);
		assert_memory_equal(buf, pat, 10000);
	}
	/* a write past the end through the reference grows the original */
	assert_int_equal(pwrite(r, "END", 3, 20000), 3);
	assert_int_equal(fsize(a), 20003);
	check(a, 10000, zero, 8192);
	check(a, 20000, "END", 3);
	/* truncate through the reference, and O_TRUNC */
	assert_int_equal(ftruncate(r, 4096), 0);
	assert_int_equal(fsize(a), 4096);
	fd = open(P("s/refs/r/data"), O_RDWR | O_TRUNC);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(fsize(a), 0);
	assert_int_equal(ml_getx_u64(P("s/data"), "user.vmo.size"), 0);
	close(a);
	close(r);
}

/* mmap of either side sees write(2) through the other, and msync back. */
static void
test_ref_mmap(void **state)
{
	char pat[SZ];
	char *m;
	int a, r;

	(void)state;
	mkref("m", pat);
	a = xopen(P("m/data"));
	r = xopen(P("m/refs/r/data"));
	m = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, r, 0);
	assert_true(m != MAP_FAILED);
	assert_memory_equal(m + 100, pat + 100, 16);
	assert_int_equal(pwrite(a, "MAPPED", 6, 100), 6);
	assert_memory_equal(m + 100, "MAPPED", 6);
	memcpy(m + 9000, "STORE", 5);
	assert_int_equal(msync(m, SZ, MS_SYNC), 0);
	check(a, 9000, "STORE", 5);
	assert_int_equal(munmap(m, SZ), 0);
	m = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(m[300], pat[300]);
	assert_int_equal(pwrite(r, "R2A", 3, 300), 3);
	assert_memory_equal(m + 300, "R2A", 3);
	assert_int_equal(munmap(m, SZ), 0);
	close(a);
	close(r);
}

/* kind, parent, attribution, xattrs, children of a reference. */
static void
test_ref_values(void **state)
{
	char pat[SZ], kind[32];
	uint64_t committed;
	ssize_t n;

	(void)state;
	mkref("v", pat);
	n = getxattr(P("v/refs/r/data"), "user.vmo.kind", kind, sizeof(kind) - 1);
	assert_true(n > 0);
	kind[n] = '\0';
	assert_string_equal(kind, "reference");
	assert_int_equal(ml_getx_u64(P("v/refs/r/data"), "user.vmo.parent"),
	    ml_getx_u64(P("v/data"), "user.vmo.id"));
	assert_int_equal(ml_getx_u64(P("v/data"), "user.vmo.children"), 1);
	assert_int_equal(ml_getx_u64(P("v/refs/r/data"), "user.vmo.size"), SZ);
	/* charged once, to the original */
	committed = ml_getx_u64(P("v/data"), "user.vmo.committed");
	assert_int_equal(committed, SZ);
	assert_int_equal(ml_getx_u64(P("v/data"), "user.vmo.private"), SZ);
	assert_int_equal(ml_getx_u64(P("v/refs/r/data"), "user.vmo.committed"), 0);
	assert_int_equal(ml_getx_u64(P("v/refs/r/data"), "user.vmo.scaled"), 0);
	/* commit and decommit through the reference: the original's pages */
	assert_int_equal(truncate(P("v/refs/r/data"), 2 * SZ), 0);
	assert_int_equal(ml_setx(P("v/refs/r/data"), "user.vmo.commit", "all"), 0);
	assert_int_equal(ml_getx_u64(P("v/data"), "user.vmo.committed"), 2 * SZ);
	assert_int_equal(ml_setx(P("v/refs/r/data"), "user.vmo.decommit",
	    "64K+64K"), 0);
	assert_int_equal(ml_getx_u64(P("v/data"), "user.vmo.committed"), SZ);
	/* a pin through the reference stops a shrink through the original */
	assert_int_equal(ml_setx(P("v/refs/r/data"), "user.vmo.pin", "0+4K"), 0);
	assert_int_equal(truncate(P("v/data"), 0), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(ml_setx(P("v/data"), "user.vmo.unpin", "0+4K"), 0);
	/* a clone of the reference snapshots the shared bytes */
	ml_mkdir(P("v/refs/r/clones/c"));
	assert_int_equal(ml_write_at(P("v/data"), "NEW", 3, 0), 0);
	{
		char buf[4];

		assert_int_equal(ml_read_at(P("v/refs/r/clones/c/data"), buf, 3, 0), 3);
		assert_memory_equal(buf, pat, 3);
	}
	assert_int_equal(ml_getx_u64(P("v/refs/r/data"), "user.vmo.children"), 1);
	/* a slice of the reference is a window of the original */
	ml_mkdir(P("v/refs/r/slices/s@4K+4K"));
	assert_int_equal(ml_write_at(P("v/refs/r/slices/s/data"), "SL", 2, 0), 0);
	{
		char buf[4];

		assert_int_equal(ml_read_at(P("v/data"), buf, 2, 4096), 2);
		assert_memory_equal(buf, "SL", 2);
	}
	/* a reference of a reference, and of a slice (fixed like it) */
	ml_mkdir(P("v/refs/r/refs/rr"));
	assert_int_equal(ml_getx_u64(P("v/refs/r/refs/rr/data"), "user.vmo.size"),
	    2 * SZ);
	ml_mkdir(P("v/refs/r/slices/s/refs/sr"));
	assert_int_equal(ml_getx_u64(P("v/refs/r/slices/s/refs/sr/data"),
	    "user.vmo.size"), 4096);
	assert_int_equal(truncate(P("v/refs/r/slices/s/refs/sr/data"), 100), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ml_sh("rm -r %s", P("v")), 0);
}

/* Names and refusals; rmdir and rm -r; rename within refs/. */
static void
test_ref_namespace(void **state)
{
	char pat[SZ];
	struct stat st;

	(void)state;
	mkref("n", pat);
	assert_int_equal(mkdir_err(P("n/refs/r")), EEXIST);
	assert_int_equal(mkdir_err(P("n/refs/x@0+4K")), EINVAL);
	assert_int_equal(mkdir_err(P("n/refs/@0+4K")), EINVAL);
	assert_int_equal(mkdir_err(P("n/refs/r/refs/..")), EEXIST);
	assert_int_equal(mkdir_err(P("n/refs")), EEXIST);
	/* the original cannot go while a reference lives */
	assert_int_equal(rmdir(P("n")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(rmdir(P("n/refs")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(stat(P("n"), &st), 0);
	assert_int_equal(st.st_nlink, 5);
	assert_int_equal(stat(P("n/refs"), &st), 0);
	assert_int_equal(st.st_nlink, 3);
	/* rename within refs/, not out of it */
	assert_int_equal(rename(P("n/refs/r"), P("n/refs/q")), 0);
	assert_int_equal(rename(P("n/refs/q"), P("n/clones/q")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(rmdir(P("n/refs/q")), 0);
	assert_int_equal(ml_getx_u64(P("n/data"), "user.vmo.children"), 0);
	assert_int_equal(rmdir(P("n")), 0);
	/* a discardable VMO has no references */
	ml_mkdir(P("d~discardable"));
	assert_int_equal(mkdir_err(P("d/refs/r")), EOPNOTSUPP);
	assert_int_equal(rmdir(P("d")), 0);
	/* rm -r takes references with the rest */
	mkref("t", pat);
	ml_mkdir(P("t/refs/r/refs/r2"));
	assert_int_equal(ml_sh("rm -r %s", P("t")), 0);
	assert_int_equal(stat(P("t"), &st), -1);
}

/*
 * The entries of dir after "." and "..", from cookie off on, joined by
 * ' ' in the order readdir gives them: one getdents64 call per entry (a
 * buffer that holds one), so that the kernel asks again at every cookie
 * (READDIRPLUS at 0, READDIR after) unless it has the listing cached.
 * The kernel caches a whole listing (no OPENDIR means FOPEN_CACHE_DIR)
 * until the directory's mtime or version changes; drop: throw that cache
 * away first (POSIX_FADV_DONTNEED), so the daemon answers at off.  offs[]
 * gets each entry's d_off; *n their count.
 */
static const char *
dents_from(const char *dir, off_t off, bool drop, off_t *offs, int *n)
{
	static char out[256];
	char buf[40];
	long got;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	if (drop)
		assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	assert_int_equal(lseek(fd, off, SEEK_SET), off);
	out[0] = '\0';
	*n = 0;
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		struct { uint64_t ino; int64_t off; unsigned short reclen;
		    unsigned char type; char name[]; } *d = (void *)buf;

		assert_int_equal(got, d->reclen);	/* one at a time */
		if (!strcmp(d->name, ".") || !strcmp(d->name, ".."))
			continue;
		if (out[0])
			strcat(out, " ");
		strcat(out, d->name);
		assert_true(*n < 8);
		offs[(*n)++] = d->off;
	}
	assert_int_equal(got, 0);
	close(fd);
	return out;
}

/*
 * What dir lists, as the kernel gives it (from its cache where it has
 * one: the change must have reached it), then checked from every cookie
 * the daemon hands out: resumed at an entry's d_off, a listing gives
 * exactly the entries after that one.
 */
static void
check_listing(const char *dir, const char *want)
{
	char all[256], rest[256];
	off_t offs[8], o2[8];
	const char *p;
	int n, n2, i;

	snprintf(all, sizeof(all), "%s", dents_from(dir, 0, false, offs, &n));
	if (strcmp(all, want) != 0)
		fail_msg("%s lists \"%s\", expected \"%s\"", dir, all, want);
	assert_string_equal(dents_from(dir, 0, true, o2, &n2), all);
	for (i = 0, p = all; i < n; i++) {
		p = strchr(p, ' ');
		snprintf(rest, sizeof(rest), "%s", p ? p + 1 : "");
		assert_string_equal(dents_from(dir, offs[i], true, o2, &n2), rest);
		assert_int_equal(n2, n - i - 1);
		if (p)
			p++;
	}
}

static nlink_t
nlinks(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return st.st_nlink;
}

/* nftw callback of rm_r: remove each entry after its contents. */
static int walked;
static char walk_seen[1024];

static int
rm_entry(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	walked++;
	if (strlen(walk_seen) + strlen(p + f->base) + 2 < sizeof(walk_seen)) {
		strcat(walk_seen, " ");
		strcat(walk_seen, p + f->base);
	}
	return (type == FTW_DP ? rmdir(p) : unlink(p)) == 0 ? 0 : errno;
}

/* rm -r of path with nftw (FTW_DEPTH): 0 or the first errno; counts. */
static int
rm_r(const char *path)
{
	walked = 0;
	walk_seen[0] = '\0';
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Invariant: a VMO directory lists data, info, clones/ and slices/ (SPEC
 * 2), and refs/ only while it holds a reference; st_nlink counts the
 * listed subdirectories (2 + 2, or 2 + 3), even where the kernel cached
 * the old value, and the kernel's cached listing follows too (refs/
 * changes without a change in the VMO directory the kernel sees: the
 * daemon invalidates its attributes, and the new mtime drops the cache).
 * refs/ itself is always there: stat, an empty listing, mkdir refs/R.  Every cookie of either listing resumes exactly after
 * its entry.  rm -r, which removes what it lists, removes a VMO with
 * and without a reference and leaves nothing.  (Before, every VMO
 * directory listed refs/, and rm -r listed and removed it each time:
 * about five requests more per VMO.)
 */
static void
test_ref_listing(void **state)
{
	struct stat st;
	off_t offs[8];
	int n;

	(void)state;
	ml_mkdir(P("lst"));
	check_listing(P("lst"), "data info clones slices");
	assert_int_equal(nlinks(P("lst")), 4);		/* cached from here on */
	assert_int_equal(stat(P("lst/refs"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_nlink, 2);
	assert_string_equal(dents_from(P("lst/refs"), 0, false, offs, &n), "");
	/* the first reference: refs/ is listed, with its link */
	ml_mkdir(P("lst/refs/r"));
	check_listing(P("lst"), "data info clones slices refs");
	assert_int_equal(nlinks(P("lst")), 5);
	check_listing(P("lst/refs"), "r");
	check_listing(P("lst/refs/r"), "data info clones slices");
	ml_mkdir(P("lst/refs/q"));
	assert_int_equal(nlinks(P("lst")), 5);
	assert_int_equal(rmdir(P("lst/refs/q")), 0);
	check_listing(P("lst"), "data info clones slices refs");
	/* the last one gone: unlisted again, still there */
	assert_int_equal(rmdir(P("lst/refs/r")), 0);
	check_listing(P("lst"), "data info clones slices");
	assert_int_equal(nlinks(P("lst")), 4);
	assert_int_equal(stat(P("lst/refs"), &st), 0);
	assert_int_equal(mkdir_err(P("lst/refs")), EEXIST);
	/* an rm -r of its own: every entry it lists, children first */
	assert_int_equal(rm_r(P("lst")), 0);
	assert_string_equal(walk_seen, " data info clones slices lst");
	assert_int_equal(stat(P("lst"), &st), -1);
	assert_int_equal(errno, ENOENT);
	/* with a reference (and the reference's own reference) */
	ml_mkdir(P("lsr"));
	ml_mkdir(P("lsr/refs/r"));
	ml_mkdir(P("lsr/refs/r/refs/r2"));
	ml_mkdir(P("lsr/clones/c"));
	assert_int_equal(rm_r(P("lsr")), 0);
	assert_string_equal(walk_seen, " data info"
	    " data info clones slices c clones slices"
	    " data info clones slices data info clones slices r2 refs r refs"
	    " lsr");
	assert_int_equal(walked, 22);	/* 4 VMOs of 5, 2 listed refs/ */
	assert_int_equal(stat(P("lsr"), &st), -1);
	assert_int_equal(errno, ENOENT);
}

/*
 * An open reference keeps its original's bytes after rm -r of the whole
 * tree (Zircon: a reference keeps the object alive); they go at its last
 * close.
 */
static void
test_ref_keeps_alive(void **state)
{
	char pat[SZ];
	uint64_t used0, used;
	int r, i;

	(void)state;
	used0 = ml_stat(&M, "used_pages");
	mkref("k", pat);
	r = xopen(P("k/refs/r/data"));
	assert_int_equal(ml_sh("rm -r %s", P("k")), 0);
	check(r, 0, pat, SZ);
	assert_int_equal(pwrite(r, "LIVE", 4, SZ), 4);
	check(r, SZ, "LIVE", 4);
	assert_int_equal(fsize(r), SZ + 4);
	assert_true(ml_stat(&M, "used_pages") >= used0 + SZ / 4096);
	close(r);
	/* RELEASE is asynchronous to close(2) */
	for (i = 0; i < 50; i++) {
		used = ml_stat(&M, "used_pages");
		if (used <= used0)
			break;
		usleep(100000);
	}
	assert_true(used <= used0);
}

/*
 * backing=DIR: a reference's bytes are its original's, so they reach
 * DIR/NAME; fsync of the reference writes the original back, and a
 * truncate through it shrinks the file.
 */
static void
test_ref_backed(void **state)
{
	static struct ml_mount B;
	char dir[64] = "/tmp/vmofs-refs.XXXXXX", buf[8];
	struct stat st;
	int r;

	(void)state;
	assert_int_equal(ml_mount_backed(&B, dir, "size=64M"), 0);
	ml_mkdir(ml_path(&B, "f"));
	ml_mkdir(ml_path(&B, "f/refs/r"));
	r = xopen(ml_path(&B, "f/refs/r/data"));
	assert_int_equal(pwrite(r, "BACKED", 6, 8192), 6);
	assert_int_equal(fsync(r), 0);
	{
		char path[128];
		int fd;

		snprintf(path, sizeof(path), "%s/f", dir);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size, 8192 + 6);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, buf, 6, 8192), 6);
		assert_memory_equal(buf, "BACKED", 6);
		close(fd);
		assert_int_equal(ftruncate(r, 100), 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size, 100);
	}
	close(r);
	assert_int_equal(ml_umount_backed(&B, dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_write_both_ways),
		cmocka_unit_test(test_ref_size_follows),
		cmocka_unit_test(test_ref_mmap),
		cmocka_unit_test(test_ref_values),
		cmocka_unit_test(test_ref_namespace),
		cmocka_unit_test(test_ref_listing),
		cmocka_unit_test(test_ref_keeps_alive),
		cmocka_unit_test(test_ref_backed),
	};

	ml_watchdog(120);
	return cmocka_run_group_tests(tests, setup, teardown);
}
