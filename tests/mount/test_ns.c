/*
 * test_ns.c - SPEC 1-2 through real syscalls and tools: mount options,
 * the VMO-as-directory namespace, clone/slice ranges, removal, rename,
 * creation refused, modes and owners, unlinked open files, statfs, clone
 * kinds (~aolw, ~modified).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mountlib.h"

static struct ml_mount M;
#define P(...) ml_path(&M, __VA_ARGS__)

static int
setup(void **state)
{
	(void)state;
	return ml_mount(&M, "size=256M,allow_other");
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

/* Names in dir, sorted, joined by ' ' (without . and ..). */
static const char *
listing(const char *dir)
{
	static char out[4096];
	struct dirent **ents;
	int n, i;

	out[0] = '\0';
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return "ERR";
	for (i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
			if (out[0])
				strcat(out, " ");
			strcat(out, ents[i]->d_name);
		}
		free(ents[i]);
	}
	free(ents);
	return out;
}

static void
test_mkdir_layout(void **state)
{
	struct stat st;

	(void)state;
	ml_mkdir(P("a"));
	assert_int_equal(stat(P("a"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_string_equal(listing(P("a")), "clones data info slices");
	assert_int_equal(stat(P("a/data"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 0);
	assert_int_equal(stat(P("a/info"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(stat(P("a/clones"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(stat(P("a/slices"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(mkdir_err(P("a")), EEXIST);
	assert_true(strstr(listing(M.dir), "a") != NULL);
	assert_int_equal(stat(P("nope/data"), &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_create_refused(void **state)
{
	int fd;

	(void)state;
	ml_mkdir(P("cr"));
	assert_int_equal(open(P("cr/file"), O_CREAT | O_WRONLY, 0644), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(open(P("file"), O_CREAT | O_WRONLY, 0644), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(mkdir_err(P("cr/sub")), EPERM);
	assert_int_equal(mkdir_err(P("cr/data")), EEXIST);
	assert_int_equal(symlink("x", P("cr/ln")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(symlink("x", P("ln")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(mknod(P("cr/fifo"), S_IFIFO | 0644, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(link(P("cr/data"), P("cr/data2")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(mkdir_err(P("x@0+4K")), EINVAL);
	assert_string_equal(listing(P("cr")), "clones data info slices");
	/* info is read-only: only a restore of info text can be written
	 * (and is dropped, test_xattr test_restore_writes) */
	fd = open(P("cr/info"), O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), -1);
	assert_int_equal(errno, EINVAL);
	close(fd);
}

static void
test_clone_whole_and_window(void **state)
{
	char buf[16384], got[16384];
	struct stat st;

	(void)state;
	ml_mkdir(P("c"));
	ml_fill(buf, sizeof(buf), 1);
	assert_int_equal(ml_write_at(P("c/data"), buf, sizeof(buf), 0), 0);
	ml_mkdir(P("c/clones/whole"));
	assert_int_equal(ml_read_at(P("c/clones/whole/data"), got, sizeof(got), 0),
	    sizeof(got));
	assert_memory_equal(buf, got, sizeof(buf));
	ml_mkdir(P("c/clones/win@4K+8K"));
	assert_int_equal(stat(P("c/clones/win/data"), &st), 0);
	assert_int_equal(st.st_size, 8192);
	assert_int_equal(ml_read_at(P("c/clones/win/data"), got, 8192, 0), 8192);
	assert_memory_equal(buf + 4096, got, 8192);
	assert_string_equal(listing(P("c/clones")), "whole win");
	assert_int_equal(stat(P("c/clones/win@4K+8K"), &st), -1);
	/* hex and decimal forms */
	ml_mkdir(P("c/clones/hex@0x1000+0x2000"));
	assert_int_equal(stat(P("c/clones/hex/data"), &st), 0);
	assert_int_equal(st.st_size, 0x2000);
	ml_mkdir(P("c/clones/dec@8192+100"));
	assert_int_equal(stat(P("c/clones/dec/data"), &st), 0);
	assert_int_equal(st.st_size, 100);
	/* a window past the end reads zero there */
	ml_mkdir(P("c/clones/past@12K+8K"));
	assert_int_equal(ml_read_at(P("c/clones/past/data"), got, 8192, 0), 8192);
	assert_memory_equal(buf + 12288, got, 4096);
	for (int i = 4096; i < 8192; i++)
		assert_int_equal(got[i], 0);
	/* clone of a clone */
	ml_mkdir(P("c/clones/whole/clones/gc"));
	assert_int_equal(ml_read_at(P("c/clones/whole/clones/gc/data"), got,
	    sizeof(got), 0), sizeof(got));
	assert_memory_equal(buf, got, sizeof(buf));
}

static void
test_bad_ranges(void **state)
{
	static const char *bad[] = {
		"b@", "b@1", "b@+1", "b@1+", "b@0x+1", "b@1Q+1", "b@1+2+3",
		"b@-1+2", "b@4097+4096", "b@99999999999999999999+1",
		"b@0xffffffffffffffff+2", "@0+1",
	};
	size_t i;

	(void)state;
	ml_mkdir(P("br"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int e = mkdir_err(P("br/clones/%s", bad[i]));

		if (e != EINVAL)
			fail_msg("mkdir clones/%s: %s, want EINVAL", bad[i],
			    strerror(e));
	}
	assert_int_equal(mkdir_err(P("br/slices/s")), EINVAL);	/* range required */
	assert_int_equal(mkdir_err(P("br/slices/s@1+4096")), EINVAL);
	assert_string_equal(listing(P("br/clones")), "");
	assert_string_equal(listing(P("br/slices")), "");
}

static void
test_clone_is_snapshot(void **state)
{
	char a[8192], b[8192], got[8192];

	(void)state;
	ml_mkdir(P("snap"));
	ml_fill(a, sizeof(a), 2);
	ml_fill(b, sizeof(b), 3);
	assert_int_equal(ml_write_at(P("snap/data"), a, sizeof(a), 0), 0);
	ml_mkdir(P("snap/clones/s1"));
	assert_int_equal(ml_write_at(P("snap/data"), b, 4096, 0), 0);
	assert_int_equal(ml_read_at(P("snap/clones/s1/data"), got, 8192, 0), 8192);
	assert_memory_equal(got, a, 8192);
	assert_int_equal(ml_write_at(P("snap/clones/s1/data"), b + 4096, 4096,
	    4096), 0);
	assert_int_equal(ml_read_at(P("snap/data"), got, 8192, 0), 8192);
	assert_memory_equal(got, b, 4096);
	assert_memory_equal(got + 4096, a + 4096, 4096);
	/* clone grows, truncates independently */
	assert_int_equal(truncate(P("snap/clones/s1/data"), 100), 0);
	assert_int_equal(truncate(P("snap/clones/s1/data"), 50000), 0);
	assert_int_equal(ml_read_at(P("snap/data"), got, 8192, 0), 8192);
	assert_memory_equal(got + 4096, a + 4096, 4096);
}

static void
test_slice_rules(void **state)
{
	char a[16384], got[16384];
	struct stat st;
	int fd;

	(void)state;
	ml_mkdir(P("sl"));
	ml_fill(a, sizeof(a), 4);
	assert_int_equal(ml_write_at(P("sl/data"), a, sizeof(a), 0), 0);
	ml_mkdir(P("sl/slices/s@4K+8K"));
	assert_int_equal(stat(P("sl/slices/s/data"), &st), 0);
	assert_int_equal(st.st_size, 8192);
	assert_int_equal(ml_read_at(P("sl/slices/s/data"), got, 8192, 0), 8192);
	assert_memory_equal(got, a + 4096, 8192);
	/* write past the end: EFBIG; truncate: EPERM */
	fd = open(P("sl/slices/s/data"), O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "x", 1, 8192), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(ftruncate(fd, 100), -1);
	assert_int_equal(errno, EPERM);
	close(fd);
	/* parent cannot shrink below the slice's end */
	assert_int_equal(truncate(P("sl/data"), 8192), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(truncate(P("sl/data"), 12288), 0);
	/* slice of a slice is a slice of the root */
	ml_mkdir(P("sl/slices/s/slices/ss@4K+4K"));
	assert_int_equal(ml_write_at(P("sl/slices/s/slices/ss/data"), "HELLO", 5, 0),
	    0);
	assert_int_equal(ml_read_at(P("sl/data"), got, 5, 8192), 5);
	assert_memory_equal(got, "HELLO", 5);
	assert_string_equal(ml_getx(P("sl/slices/s/slices/ss/data"),
	    "user.vmo.kind"), "slice");
	/* a slice's window must lie within the parent */
	assert_int_equal(mkdir_err(P("sl/slices/big@0+1G")), EINVAL);
}

static void
test_rmdir_and_rm_r(void **state)
{
	struct stat st;

	(void)state;
	ml_mkdir(P("rm"));
	ml_mkdir(P("rm/clones/c1"));
	ml_mkdir(P("rm/clones/c1/clones/c2"));
	assert_int_equal(ml_write_at(P("rm/data"), "abc", 3, 0), 0);
	ml_mkdir(P("rm/slices/s@0+4K"));
	assert_int_equal(rmdir(P("rm")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(rmdir(P("rm/clones/c1")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(rmdir(P("rm/clones")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(rmdir(P("rm/clones/c1/clones/c2")), 0);
	assert_int_equal(stat(P("rm/clones/c1/clones/c2"), &st), -1);
	assert_int_equal(errno, ENOENT);
	/* unlink of data takes its name; the VMO goes with the directory */
	assert_int_equal(unlink(P("rm/data")), 0);
	assert_int_equal(stat(P("rm/data"), &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(ml_sh("rm -r %s", P("rm")), 0);
	assert_int_equal(stat(P("rm"), &st), -1);
	assert_int_equal(errno, ENOENT);
	/* the name can be reused, and is a fresh VMO */
	ml_mkdir(P("rm"));
	assert_int_equal(stat(P("rm/data"), &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(rmdir(P("rm")), 0);
	assert_int_equal(rmdir(P("never")), -1);
	assert_int_equal(errno, ENOENT);
}

/* open(O_CREAT|O_EXCL|O_WRONLY) as tar does; the descriptor or -errno. */
static int
create_excl(const char *p, mode_t mode)
{
	int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, mode);

	return fd >= 0 ? fd : -errno;
}

/*
 * Invariant (issue #16 bug 4): every call on a VMO's fixed entries does
 * what its result says.  unlink of data used to return 0 and leave it
 * there, and tar -x, which unlinks and creates again until the create
 * succeeds, looped for ever.  Now a removal that returns 0 has removed
 * the name, a create brings it back as a new file, and everything else
 * fails with an errno and changes nothing.
 */
static void
test_fixed_entries_removable(void **state)
{
	char buf[16];
	struct stat st;
	int fd, old;

	(void)state;
	ml_mkdir(P("fx"));
	assert_int_equal(ml_write_at(P("fx/data"), "abcdef", 6, 0), 0);
	old = open(P("fx/data"), O_RDWR);
	assert_true(old >= 0);
	/* unlink data: gone, and only once */
	assert_int_equal(unlink(P("fx/data")), 0);
	assert_int_equal(stat(P("fx/data"), &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(listing(P("fx")), "clones info slices");
	assert_int_equal(unlink(P("fx/data")), -1);
	assert_int_equal(errno, ENOENT);
	/* the open descriptor goes on, with st_nlink 0 */
	assert_int_equal(fstat(old, &st), 0);
	assert_int_equal(st.st_nlink, 0);
	assert_int_equal(pread(old, buf, 6, 0), 6);
	assert_memory_equal(buf, "abcdef", 6);
	/* nothing else can take the name; a create brings data back, empty */
	assert_int_equal(mkdir_err(P("fx/data")), EPERM);
	assert_int_equal(mknod(P("fx/data"), S_IFIFO | 0644, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(symlink("info", P("fx/data")), -1);
	assert_int_equal(errno, EPERM);
	fd = create_excl(P("fx/data"), 0640);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(write(fd, "xyz", 3), 3);
	close(fd);
	assert_int_equal(create_excl(P("fx/data"), 0640), -EEXIST);
	assert_string_equal(listing(P("fx")), "clones data info slices");
	assert_int_equal(ml_read_at(P("fx/data"), buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "xyz", 3);
	/* it is the same VMO: the old descriptor sees the new bytes */
	assert_int_equal(pread(old, buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "xyz", 3);
	close(old);
	/* info: unlink, then mknod (or create) brings it back */
	assert_int_equal(unlink(P("fx/info")), 0);
	assert_int_equal(stat(P("fx/info"), &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mknod(P("fx/info"), S_IFREG | 0444, 0), 0);
	assert_int_equal(ml_read_at(P("fx/info"), buf, 9, 0), 9);
	assert_memory_equal(buf, "id: ", 4);
	assert_int_equal(mknod(P("fx/info"), S_IFREG | 0444, 0), -1);
	assert_int_equal(errno, EEXIST);
	/* clones/ and slices/: rmdir when empty, mkdir again */
	ml_mkdir(P("fx/clones/c"));
	assert_int_equal(rmdir(P("fx/clones")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(rmdir(P("fx/clones/c")), 0);
	assert_int_equal(rmdir(P("fx/clones")), 0);
	assert_int_equal(stat(P("fx/clones"), &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rmdir(P("fx/clones")), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(mkdir_err(P("fx/clones/c")), ENOENT);
	assert_int_equal(rmdir(P("fx/slices")), 0);
	/* refs/ is still there, but unlisted while empty: no link */
	assert_int_equal(stat(P("fx"), &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_string_equal(listing(P("fx")), "data info");
	ml_mkdir(P("fx/refs/r"));
	assert_string_equal(listing(P("fx")), "data info refs");
	assert_int_equal(stat(P("fx"), &st), 0);
	assert_int_equal(st.st_nlink, 3);
	assert_int_equal(rmdir(P("fx/refs")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(rmdir(P("fx/refs/r")), 0);
	assert_int_equal(rmdir(P("fx/refs")), 0);
	assert_int_equal(stat(P("fx/refs"), &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(listing(P("fx")), "data info");
	assert_int_equal(stat(P("fx"), &st), 0);
	assert_int_equal(st.st_nlink, 2);
	ml_mkdir(P("fx/clones"));
	ml_mkdir(P("fx/slices"));
	ml_mkdir(P("fx/refs"));
	assert_int_equal(mkdir_err(P("fx/clones")), EEXIST);
	assert_string_equal(listing(P("fx/clones")), "");
	ml_mkdir(P("fx/clones/c"));
	assert_int_equal(ml_read_at(P("fx/clones/c/data"), buf, sizeof(buf), 0), 3);
	/* other names stay refused, and rename cannot bring a name in */
	assert_int_equal(create_excl(P("fx/other"), 0644), -EPERM);
	assert_int_equal(link(P("fx/clones/c/data"), P("fx/data2")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(unlink(P("fx/data")), 0);
	assert_int_equal(rename(P("fx/clones/c/data"), P("fx/data")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(link(P("fx/clones/c/data"), P("fx/data")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(stat(P("fx/data"), &st), -1);
	/* a VMO whose data is gone is still a VMO with a child */
	assert_int_equal(rmdir(P("fx")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(ml_sh("rm -r %s", P("fx")), 0);
	assert_int_equal(stat(P("fx"), &st), -1);
}

/*
 * The create that brings data back empties the VMO; where it cannot, it
 * says so and the name stays away: pinned pages (EBUSY).  A slice's size
 * is fixed: its data comes back as its window, its parent untouched.
 */
static void
test_fixed_recreate_limits(void **state)
{
	char want[8192], got[8192];
	struct stat st;
	int fd, keep;

	(void)state;
	ml_mkdir(P("fp"));
	ml_fill(want, sizeof(want), 7);
	assert_int_equal(ml_write_at(P("fp/data"), want, sizeof(want), 0), 0);
	/* a slice: unlink and create its data, the window stays */
	ml_mkdir(P("fp/slices/s@4K+4K"));
	assert_int_equal(unlink(P("fp/slices/s/data")), 0);
	fd = create_excl(P("fp/slices/s/data"), 0644);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 4096);
	close(fd);
	assert_int_equal(ml_read_at(P("fp/slices/s/data"), got, 4096, 0), 4096);
	assert_memory_equal(got, want + 4096, 4096);
	assert_int_equal(ml_read_at(P("fp/data"), got, 8192, 0), 8192);
	assert_memory_equal(got, want, 8192);
	assert_int_equal(ml_sh("rm -r %s", P("fp/slices/s")), 0);
	/* pinned pages: the create cannot empty it, EBUSY, no name */
	keep = open(P("fp/data"), O_RDONLY);
	assert_true(keep >= 0);
	assert_int_equal(ml_setx(P("fp/data"), "user.vmo.pin", "0+4K"), 0);
	assert_int_equal(unlink(P("fp/data")), 0);
	assert_int_equal(create_excl(P("fp/data"), 0644), -EBUSY);
	assert_int_equal(stat(P("fp/data"), &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(pread(keep, got, 8192, 0), 8192);
	assert_memory_equal(got, want, 8192);
	/* unpinned, it can */
	assert_int_equal(fsetxattr(keep, "user.vmo.unpin", "0+4K", 4, 0), 0);
	fd = create_excl(P("fp/data"), 0644);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 0);
	close(fd);
	assert_int_equal(fstat(keep, &st), 0);
	assert_int_equal(st.st_size, 0);
	close(keep);
	assert_int_equal(ml_sh("rm -r %s", P("fp")), 0);
}

static void
test_rename(void **state)
{
	struct stat st;

	(void)state;
	ml_mkdir(P("rn1"));
	ml_mkdir(P("rn2"));
	assert_int_equal(ml_write_at(P("rn1/data"), "one", 3, 0), 0);
	assert_int_equal(rename(P("rn1"), P("rn3")), 0);
	assert_int_equal(stat(P("rn1"), &st), -1);
	assert_int_equal(stat(P("rn3/data"), &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(ml_sh("mv %s %s", P("rn3"), P("rn4")), 0);
	assert_int_equal(stat(P("rn4/data"), &st), 0);
	/* onto an existing VMO: never empty */
	assert_int_equal(rename(P("rn4"), P("rn2")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	/* across directories, or the fixed entries: EPERM */
	ml_mkdir(P("rn2/clones/c"));
	assert_int_equal(rename(P("rn2/clones/c"), P("rn5")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(rename(P("rn2/clones/c"), P("rn2/clones/d")), 0);
	assert_int_equal(stat(P("rn2/clones/d/data"), &st), 0);
	assert_int_equal(rename(P("rn2/data"), P("rn2/data2")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(rename(P("rn2/clones"), P("rn2/c2")), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(rename(P("rn4"), P("x@0+1")), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_modes_and_owners(void **state)
{
	struct stat st;
	pid_t pid;
	int status;

	(void)state;
	assert_int_equal(mkdir(P("own"), 0750), 0);
	assert_int_equal(stat(P("own"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750 & ~umask(022));
	umask(022);
	assert_int_equal(chmod(P("own/data"), 0600), 0);
	assert_int_equal(chown(P("own/data"), 1234, 5678), 0);
	assert_int_equal(stat(P("own/data"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(chmod(P("own"), 0755), 0);
	assert_int_equal(chmod(M.dir, 0777), 0);
	/* enforced: nobody cannot read a 0600 file owned by 1234 */
	pid = fork();
	if (pid == 0) {
		int ok = 1;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (open(P("own/data"), O_RDONLY) != -1 || errno != EACCES)
			ok = 0;
		if (mkdir(P("own/clones/x"), 0755) != -1 || errno != EACCES)
			ok = 0;
		if (mkdir(P("mine"), 0755) != 0)	/* root dir is 0777 now */
			ok = 0;
		_exit(ok ? 0 : 11);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(stat(P("mine"), &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(stat(P("mine/data"), &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(chmod(M.dir, 0755), 0);
}

static void
test_unlinked_open_keeps_working(void **state)
{
	char buf[8192], got[8192];
	struct stat st;
	int fd;

	(void)state;
	ml_mkdir(P("ul"));
	ml_fill(buf, sizeof(buf), 5);
	fd = open(P("ul/data"), O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, 4096, 0), 4096);
	assert_int_equal(rmdir(P("ul")), 0);
	assert_int_equal(stat(P("ul"), &st), -1);
	assert_int_equal(pwrite(fd, buf + 4096, 4096, 4096), 4096);
	assert_int_equal(pread(fd, got, 8192, 0), 8192);
	assert_memory_equal(buf, got, 8192);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 8192);
	assert_int_equal(close(fd), 0);
	/* the name is free again */
	ml_mkdir(P("ul"));
	assert_int_equal(stat(P("ul/data"), &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void
test_info_format(void **state)
{
	static const char *keys[] = { "id", "kind", "parent", "size",
		"committed", "populated", "private", "scaled", "pinned",
		"children" };
	char buf[1024], *line, *save;
	ssize_t n;
	size_t i = 0;

	(void)state;
	ml_mkdir(P("inf"));
	assert_int_equal(ml_write_at(P("inf/data"), "hello", 5, 0), 0);
	ml_mkdir(P("inf/clones/c"));
	n = ml_read_at(P("inf/info"), buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(buf[n - 1], '\n');
	for (line = strtok_r(buf, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save), i++) {
		char want[64];

		assert_true(i < 10);
		snprintf(want, sizeof(want), "%s: ", keys[i]);
		assert_memory_equal(line, want, strlen(want));
		if (i == 1)
			assert_string_equal(line, "kind: anonymous");
		if (i == 3)
			assert_string_equal(line, "size: 5");
		if (i == 9)
			assert_string_equal(line, "children: 1");
	}
	assert_int_equal(i, 10);
	n = ml_read_at(P("inf/clones/c/info"), buf, sizeof(buf) - 1, 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "kind: clone\n"));
	/* cat works */
	assert_int_equal(ml_sh("cat %s | grep -q '^size: 5$'", P("inf/info")), 0);
}

static void
test_statfs(void **state)
{
	struct statvfs a, b;
	char buf[65536];
	int i;

	(void)state;
	ml_mkdir(P("sf"));
	assert_int_equal(statvfs(M.dir, &a), 0);
	assert_int_equal(a.f_bsize, 4096);
	assert_int_equal(a.f_blocks, 256 * 256);	/* size=256M */
	ml_fill(buf, sizeof(buf), 6);
	for (i = 0; i < 16; i++)
		assert_int_equal(ml_write_at(P("sf/data"), buf, sizeof(buf),
		    (off_t)i * (off_t)sizeof(buf)), 0);
	assert_int_equal(statvfs(M.dir, &b), 0);
	assert_true(a.f_bfree - b.f_bfree >= 256);
	assert_true(b.f_bavail <= b.f_blocks);
	assert_int_equal(ml_sh("df %s >/dev/null", M.dir), 0);
	assert_int_equal(ml_sh("rm -r %s", P("sf")), 0);
}

/* Options: each bad one is a one-line error, non-zero exit, no mount. */
static void
test_bad_options(void **state)
{
	static const char *bad[][2] = {
		{ "size=abc", "size" }, { "size=0", "size" },
		{ "size=12X", "size" }, { "size=200%", "size" },
		{ "backing=/nonexistent/vmofs-backing",
		  "option backing=/nonexistent/vmofs-backing" },
		{ "bogus_option", "bogus_option" },
	};
	char dir[64], err[1024];
	size_t i;

	(void)state;
	ml_dir_template(dir, sizeof(dir));
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { (char *)ml_bin(), "-f", "-o",
			(char *)bad[i][0], dir, NULL };
		int st = ml_run(argv, err, sizeof(err));

		if (st == 0 || !strstr(err, bad[i][1]) ||
		    strchr(err, '\n') != err + strlen(err) - 1)
			fail_msg("-o %s: status %d, output '%s'", bad[i][0],
			    st, err);
		assert_false(ml_is_mounted(dir));
	}
	{
		char *argv[] = { (char *)ml_bin(), "-f", "/nonexistent/dir",
			NULL };

		assert_int_not_equal(ml_run(argv, err, sizeof(err)), 0);
		assert_non_null(strstr(err, "/nonexistent/dir"));
	}
	{
		char *argv[] = { (char *)ml_bin(), NULL };

		assert_int_not_equal(ml_run(argv, err, sizeof(err)), 0);
	}
	rmdir(dir);
}

/* "vmofs SOURCE MOUNTPOINT -o opts" as mount.fuse3 runs it; daemonises. */
static void
test_source_form_and_daemon(void **state)
{
	char dir[64], err[1024], line[4096];
	char *argv[] = { (char *)ml_bin(), "vmofs", dir, "-o", "size=64M",
		NULL };
	char *um[] = { "fusermount3", "-u", dir, NULL };
	struct statvfs sv;
	FILE *f;
	int found = 0, i;

	(void)state;
	ml_dir_template(dir, sizeof(dir));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(ml_run(argv, err, sizeof(err)), 0);
	assert_true(ml_is_mounted(dir));
	assert_int_equal(statvfs(dir, &sv), 0);
	assert_int_equal(sv.f_blocks, 64 * 256);
	f = fopen("/proc/mounts", "r");
	while (fgets(line, sizeof(line), f))
		if (strstr(line, dir) && strstr(line, "fuse.vmofs"))
			found = 1;
	fclose(f);
	assert_true(found);
	assert_int_equal(ml_run(um, err, sizeof(err)), 0);
	for (i = 0; i < 100 && ml_is_mounted(dir); i++)
		usleep(10000);
	assert_false(ml_is_mounted(dir));
	rmdir(dir);
}

/* The daemon's vnode count from user.vmofs.stats. */
static uint64_t
vnodes(void)
{
	return ml_stat(&M, "vnodes");
}

/*
 * Lookup counts are exact: after many VMOs are made, looked up, cloned,
 * sliced and removed, and the kernel forgets its inodes (drop_caches sends
 * FORGETs), the daemon's node count comes back to where it started.  A
 * leaked lookup reference would keep a removed node forever.
 */
static void
test_forget_exact(void **state)
{
	uint64_t base, mid, now = 0;
	char p[256];
	struct stat st;
	int i, tries;

	(void)state;
	assert_int_equal(ml_sh("echo 2 > /proc/sys/vm/drop_caches"), 0);
	base = vnodes();
	for (i = 0; i < 200; i++) {
		snprintf(p, sizeof(p), "fg%d", i);
		ml_mkdir(P("%s", p));
		assert_int_equal(ml_write_at(P("%s/data", p), "x", 1, 0), 0);
		assert_int_equal(stat(P("%s/info", p), &st), 0);
		if (i % 10 == 0) {
			ml_mkdir(P("%s/clones/c", p));
			ml_mkdir(P("%s/slices/s@0+4K", p));
			assert_int_equal(stat(P("%s/clones/c/data", p), &st), 0);
		}
	}
	mid = vnodes();
	assert_true(mid >= base + 200);
	assert_int_equal(ml_sh("rm -r %s/fg*", P(".")), 0);
	for (tries = 0; tries < 50; tries++) {
		assert_int_equal(ml_sh("echo 2 > /proc/sys/vm/drop_caches"), 0);
		if ((now = vnodes()) == base)
			break;
		usleep(100 * 1000);
	}
	if (now != base)
		fail_msg("vnodes %llu, started at %llu (peak %llu)",
		    (unsigned long long)now, (unsigned long long)base,
		    (unsigned long long)mid);
}

/*
 * Clone kinds (docs/semantics.md): C~aolw reads its parent live until it
 * writes a page, and never sees the parent's writes to that page after;
 * C~modified is a snapshot on a RAM mount; C alone is a snapshot as ever.
 * Invariant guarded: the page cache of an aolw clone follows its parent's
 * writes (notify.c), and st_blocks / user.vmo.private count the parent's
 * pages to the parent while a clone shares them.
 */
static void
test_clone_kinds(void **state)
{
	char a[3 * 4096], b[3 * 4096], c[4096], got[3 * 4096];
	struct stat st;

	(void)state;
	ml_mkdir(P("ck"));
	ml_fill(a, sizeof(a), 11);
	ml_fill(b, sizeof(b), 12);
	ml_fill(c, sizeof(c), 13);
	assert_int_equal(ml_write_at(P("ck/data"), a, sizeof(a), 0), 0);
	ml_mkdir(P("ck/clones/live~aolw"));
	assert_string_equal(ml_getx(P("ck/clones/live/data"), "user.vmo.kind"), "clone");
	/* read first, so the kernel caches the clone's pages */
	assert_int_equal(ml_read_at(P("ck/clones/live/data"), got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, a, sizeof(got));
	/* the pages stay the parent's (st_blocks), seen by two (scaled) */
	assert_int_equal(stat(P("ck/data"), &st), 0);
	assert_int_equal(st.st_blocks, 3 * 8);
	assert_int_equal(ml_getx_u64(P("ck/data"), "user.vmo.committed"), 3 * 4096);
	assert_int_equal(ml_getx_u64(P("ck/data"), "user.vmo.private"), 0);
	assert_int_equal(ml_getx_u64(P("ck/data"), "user.vmo.scaled"), 3 * 4096 / 2);
	assert_int_equal(ml_getx_u64(P("ck/clones/live/data"), "user.vmo.committed"), 3 * 4096);
	assert_int_equal(ml_getx_u64(P("ck/clones/live/data"), "user.vmo.private"), 0);
	assert_int_equal(ml_getx_u64(P("ck/clones/live/data"), "user.vmo.scaled"), 3 * 4096 / 2);
	assert_int_equal(stat(P("ck/clones/live/data"), &st), 0);
	assert_int_equal(st.st_blocks, 0);
	ml_mkdir(P("ck/clones/mod~modified"));
	ml_mkdir(P("ck/clones/snap"));
	assert_string_equal(listing(P("ck/clones")), "live mod snap");
	/* the parent writes page 0: the aolw clone sees it, the others not */
	assert_int_equal(ml_write_at(P("ck/data"), b, 4096, 0), 0);
	assert_int_equal(ml_read_at(P("ck/clones/live/data"), got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, b, 4096);
	assert_memory_equal(got + 4096, a + 4096, 2 * 4096);
	assert_int_equal(ml_read_at(P("ck/clones/mod/data"), got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, a, sizeof(got));
	assert_int_equal(ml_read_at(P("ck/clones/snap/data"), got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, a, sizeof(got));
	/* the clone writes page 1, then the parent does: the clone keeps its own */
	assert_int_equal(ml_write_at(P("ck/clones/live/data"), c, 4096, 4096), 0);
	assert_int_equal(ml_write_at(P("ck/data"), b + 4096, 2 * 4096, 4096), 0);
	assert_int_equal(ml_read_at(P("ck/clones/live/data"), got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, b, 4096);
	assert_memory_equal(got + 4096, c, 4096);
	assert_memory_equal(got + 2 * 4096, b + 2 * 4096, 4096);
	assert_int_equal(ml_read_at(P("ck/data"), got, sizeof(got), 0), sizeof(got));
	assert_memory_equal(got, b, sizeof(got));
	assert_int_equal(stat(P("ck/clones/live/data"), &st), 0);
	assert_int_equal(st.st_blocks, 8);
	assert_int_equal(ml_getx_u64(P("ck/clones/live/data"), "user.vmo.private"), 4096);
	/* a decommit of the parent is a write of zeros to the clone */
	assert_int_equal(ml_setx(P("ck/data"), "user.vmo.decommit", "8K+4K"), 0);
	assert_int_equal(ml_read_at(P("ck/clones/live/data"), got, sizeof(got), 0), sizeof(got));
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(got[2 * 4096 + i], 0);
	/* a snapshot of an aolw clone is refused; an aolw clone of it is not */
	assert_int_equal(mkdir_err(P("ck/clones/live/clones/s")), EOPNOTSUPP);
	assert_int_equal(mkdir_err(P("ck/clones/live/clones/m~modified")), EOPNOTSUPP);
	ml_mkdir(P("ck/clones/live/clones/l2~aolw"));
	assert_int_equal(ml_write_at(P("ck/data"), a, 4096, 0), 0);
	assert_int_equal(ml_read_at(P("ck/clones/live/clones/l2/data"), got, 4096, 0), 4096);
	assert_memory_equal(got, a, 4096);
	/* a snapshot of the parent freezes it, its aolw clones stay live */
	ml_mkdir(P("ck/clones/snap2"));
	assert_int_equal(ml_write_at(P("ck/data"), b, 4096, 0), 0);
	assert_int_equal(ml_read_at(P("ck/clones/live/data"), got, 4096, 0), 4096);
	assert_memory_equal(got, b, 4096);
	assert_int_equal(ml_read_at(P("ck/clones/snap2/data"), got, 4096, 0), 4096);
	assert_memory_equal(got, a, 4096);
	/* bad kinds: EINVAL; an option word anywhere else too */
	assert_int_equal(mkdir_err(P("ck/clones/x~aolw,modified")), EINVAL);
	assert_int_equal(mkdir_err(P("ck/clones/x~discardable")), EINVAL);
	assert_int_equal(mkdir_err(P("ck/slices/x~aolw@0+4K")), EINVAL);
	assert_int_equal(mkdir_err(P("top~aolw")), EINVAL);
	/* another '~' is part of the name, as it always was */
	ml_mkdir(P("ck/clones/x~y"));
	assert_int_equal(stat(P("ck/clones/x~y/data"), &st), 0);
	assert_int_equal(st.st_size, sizeof(a));
	/* a ranged aolw clone with a partial last page: past its end zero,
	 * even after the parent writes there */
	ml_mkdir(P("ck/clones/part~aolw@4K+100"));
	assert_int_equal(ml_write_at(P("ck/data"), c, 4096, 4096), 0);
	assert_int_equal(truncate(P("ck/clones/part/data"), 4096), 0);
	assert_int_equal(ml_read_at(P("ck/clones/part/data"), got, 4096, 0), 4096);
	for (size_t i = 100; i < 4096; i++)
		assert_int_equal(got[i], 0);
	/* rmdir order: the parent goes last (ENOTEMPTY before), then the
	 * aolw clone outlives it while open, with what it saw */
	assert_int_equal(rmdir(P("ck")), -1);
	assert_int_equal(errno, ENOTEMPTY);
	assert_int_equal(ml_sh("rm -r '%s' '%s' '%s' '%s' '%s'", P("ck/clones/mod"),
	    P("ck/clones/snap"), P("ck/clones/snap2"), P("ck/clones/x~y"),
	    P("ck/clones/part")), 0);
	{
		int fd = open(P("ck/clones/live/clones/l2/data"), O_RDONLY);
		char want[4096];

		assert_true(fd >= 0);
		assert_int_equal(ml_read_at(P("ck/clones/live/data"), want, 4096, 0), 4096);
		assert_int_equal(rmdir(P("ck/clones/live/clones/l2")), 0);
		assert_int_equal(rmdir(P("ck/clones/live")), 0);
		assert_int_equal(rmdir(P("ck")), 0);
		assert_int_equal(pread(fd, got, 4096, 0), 4096);
		assert_memory_equal(got, want, 4096);
		assert_int_equal(close(fd), 0);
	}
}

/* ~aolw on a backed mount: refused (EOPNOTSUPP); ~modified is a snapshot. */
static void
test_clone_kinds_backed(void **state)
{
	struct ml_mount bm;
	char dir[256], a[4096], b[4096], got[4096];
	int r1, r2, r3;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vmofs-ck.XXXXXX");
	assert_int_equal(ml_mount_backed(&bm, dir, "size=64M"), 0);
	ml_fill(a, sizeof(a), 21);
	ml_fill(b, sizeof(b), 22);
	ml_mkdir(ml_path(&bm, "f"));
	r1 = ml_write_at(ml_path(&bm, "f/data"), a, sizeof(a), 0);
	r2 = mkdir_err(ml_path(&bm, "f/clones/l~aolw"));
	r3 = mkdir_err(ml_path(&bm, "f/clones/m~modified"));
	if (r1 == 0 && r3 == 0)
		r1 = ml_write_at(ml_path(&bm, "f/data"), b, sizeof(b), 0);
	if (r1 == 0 && r3 == 0 && ml_read_at(ml_path(&bm, "f/clones/m/data"),
	    got, sizeof(got), 0) != sizeof(got))
		r1 = -1;
	assert_int_equal(ml_umount_backed(&bm, dir), 0);
	assert_int_equal(r1, 0);
	assert_int_equal(r2, EOPNOTSUPP);
	assert_int_equal(r3, 0);
	assert_memory_equal(got, a, sizeof(got));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mkdir_layout),
		cmocka_unit_test(test_create_refused),
		cmocka_unit_test(test_clone_whole_and_window),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_clone_is_snapshot),
		cmocka_unit_test(test_slice_rules),
		cmocka_unit_test(test_rmdir_and_rm_r),
		cmocka_unit_test(test_fixed_entries_removable),
		cmocka_unit_test(test_fixed_recreate_limits),
		cmocka_unit_test(test_rename),
		cmocka_unit_test(test_modes_and_owners),
		cmocka_unit_test(test_unlinked_open_keeps_working),
		cmocka_unit_test(test_info_format),
		cmocka_unit_test(test_statfs),
		cmocka_unit_test(test_forget_exact),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_source_form_and_daemon),
		cmocka_unit_test(test_clone_kinds),
		cmocka_unit_test(test_clone_kinds_backed),
	};

	ml_watchdog(120);
	return cmocka_run_group_tests(tests, setup, teardown);
}
