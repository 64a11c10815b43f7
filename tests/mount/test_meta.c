/*
 * test_meta.c - what the metadata and small-write speed work changed that
 * a user can see (docs/semantics.md, docs/benchmarks.md):
 *  - listings are stateless (no OPENDIR; READDIR resumes from a cookie):
 *    an entry present for the whole listing is listed exactly once, even
 *    while VMOs are made and removed between getdents calls;
 *  - READDIRPLUS hands out lookup references: after listings with
 *    attributes (ls -l, find, rm -r) and forgetting, no node is left;
 *  - a directory finds its VMOs by name in a tree (fs/inode.c): with
 *    thousands of them, after renames in both directions, every name
 *    leads to its own VMO, old names are free again, and the listing
 *    holds each exactly once;
 *  - FUSE_HANDLE_KILLPRIV_V2 (fs/conn.c) leaves clearing setuid/setgid to
 *    the daemon: a write, truncate or O_TRUNC open by a caller without
 *    CAP_FSETID clears them as on tmpfs, chown clears them, root's
 *    writes keep them.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

static uint64_t
vnodes(void)
{
	return ml_stat(&M, "vnodes");
}

/*
 * One getdents64 call into a small buffer; returns bytes, marks every
 * "kN" name seen in seen[N].
 */
static long
dents_once(int fd, char *buf, size_t size, int *seen, int n)
{
	long got = syscall(SYS_getdents64, fd, buf, size), pos;

	for (pos = 0; pos < got; ) {
		struct { uint64_t ino; int64_t off; unsigned short reclen;
		    unsigned char type; char name[]; } *d = (void *)(buf + pos);
		int i;

		if (sscanf(d->name, "k%d", &i) == 1 && i >= 0 && i < n)
			seen[i]++;
		pos += d->reclen;
	}
	return got;
}

/*
 * A listing read a few entries at a time while VMOs come and go: the 300
 * that stay are each seen exactly once, whatever happened between calls.
 */
static void
test_listing_stable_under_change(void **state)
{
	enum { N = 300 };
	int seen[N + 400] = { 0 }, i, fd, churn = 0;
	char buf[512];
	long got;

	(void)state;
	for (i = 0; i < N; i++)
		ml_mkdir(P("k%d", i));
	assert_true((fd = open(P("."), O_RDONLY | O_DIRECTORY)) >= 0);
	do {
		got = dents_once(fd, buf, sizeof(buf), seen, N + 400);
		assert_true(got >= 0);
		/* remove one that was listed or not, add one past the end */
		if (churn < 100) {
			ml_mkdir(P("k%d", N + churn));
			assert_int_equal(ml_sh("rm -r %s", P("k%d", N + churn)), 0);
			ml_mkdir(P("k%d", N + 100 + churn));
			churn++;
		}
	} while (got > 0);
	close(fd);
	for (i = 0; i < N; i++)
		if (seen[i] != 1)
			fail_msg("k%d listed %d times", i, seen[i]);
	for (i = N; i < N + 400; i++)
		assert_true(seen[i] <= 1);
	/* a VMO directory lists its four entries, in order, and only them
	 * (refs/ only while it holds a reference, test_refs) */
	assert_int_equal(ml_sh("test \"$(ls -f %s | tr '\\n' ' ')\" = "
	    "'. .. data info clones slices '", P("k0")), 0);
	assert_int_equal(ml_sh("rm -r %s/k*", P(".")), 0);
	assert_int_equal(ml_sh("test -z \"$(ls -A %s)\"", P(".")), 0);
}

/* Does P(name)/data hold the 8 bytes "%07d\n" of tag? */
static void
assert_tag(const char *path, int tag)
{
	char want[16], got[16] = "";
	int fd;

	snprintf(want, sizeof(want), "%07d\n", tag);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(read(fd, got, sizeof(got)), 8);
	close(fd);
	got[8] = '\0';
	if (strcmp(got, want) != 0)
		fail_msg("%s holds %s, expected %s", path, got, want);
}

/*
 * 2,000 VMOs in one directory and in one clones/: each name finds its
 * own VMO after every second one is renamed (to a name sorting before
 * and after the rest), the freed names can be made again, and a listing
 * has each current name once.
 */
static void
test_many_names(void **state)
{
	enum { N = 2000 };
	static int seen[2 * N];
	char buf[4096];
	long got;
	int i, fd;

	(void)state;
	memset(seen, 0, sizeof(seen));
	ml_mkdir(P("big"));
	for (i = 0; i < N; i++) {
		const char *dir = i % 2 ? P("k%d", i) : P("big/clones/k%d", i);
		char tag[16], data[600];

		ml_mkdir(dir);
		snprintf(tag, sizeof(tag), "%07d\n", i);
		snprintf(data, sizeof(data), "%s/data", dir);
		assert_int_equal(ml_write_at(data, tag, 8, 0), 0);
	}
	for (i = 0; i < N; i += 4) {
		assert_int_equal(rename(P("big/clones/k%d", i),
		    P("big/clones/A%d", i)), 0);
		assert_int_equal(rename(P("k%d", i + 1), P("z%d", i + 1)), 0);
	}
	for (i = 0; i < N; i++) {
		const char *now = i % 2 ?
		    (i % 4 == 1 ? P("z%d/data", i) : P("k%d/data", i)) :
		    (i % 4 == 0 ? P("big/clones/A%d/data", i) :
		    P("big/clones/k%d/data", i));

		assert_tag(now, i);
	}
	for (i = 0; i < N; i += 4) {
		struct stat st;

		assert_int_equal(stat(P("big/clones/k%d", i), &st), -1);
		assert_int_equal(errno, ENOENT);
		ml_mkdir(P("big/clones/k%d", i));	/* the old name is free */
		assert_int_equal(stat(P("big/clones/k%d/data", i), &st), 0);
		assert_int_equal(st.st_size, 0);
	}
	assert_true((fd = open(P("."), O_RDONLY | O_DIRECTORY)) >= 0);
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		long pos;

		for (pos = 0; pos < got; ) {
			struct { uint64_t ino; int64_t off; unsigned short
			    reclen; unsigned char type; char name[]; } *d =
			    (void *)(buf + pos);
			char c;
			int k;

			if (sscanf(d->name, "%c%d", &c, &k) == 2 &&
			    (c == 'k' || c == 'z') && k >= 0 && k < N)
				seen[k + (c == 'z' ? N : 0)]++;
			pos += d->reclen;
		}
	}
	assert_int_equal(got, 0);
	close(fd);
	for (i = 1; i < N; i += 2) {
		bool renamed = i % 4 == 1;

		if (seen[i] != !renamed || seen[N + i] != renamed)
			fail_msg("k%d listed %d times, z%d %d times", i,
			    seen[i], i, seen[N + i]);
	}
	assert_int_equal(ml_sh("rm -r %s/k* %s/z* %s", P("."), P("."),
	    P("big")), 0);
	assert_int_equal(ml_sh("test -z \"$(ls -A %s)\"", P(".")), 0);
}

/* READDIRPLUS references are exact: every node goes once forgotten. */
static void
test_readdirplus_references(void **state)
{
	uint64_t base, now = 0;
	int i, tries;

	(void)state;
	assert_int_equal(ml_sh("echo 2 > /proc/sys/vm/drop_caches"), 0);
	base = vnodes();
	for (i = 0; i < 100; i++) {
		ml_mkdir(P("rp%d", i));
		if (i % 10 == 0)
			ml_mkdir(P("rp%d/clones/c", i));
		if (i % 10 == 5)	/* a listed refs/ */
			ml_mkdir(P("rp%d/refs/r", i));
	}
	assert_int_equal(ml_sh("ls -lR %s > /dev/null", P(".")), 0);
	assert_int_equal(ml_sh("find %s -ls > /dev/null", P(".")), 0);
	assert_int_equal(ml_sh("echo 2 > /proc/sys/vm/drop_caches"), 0);
	assert_int_equal(ml_sh("ls -l %s/rp5 > /dev/null", P(".")), 0);
	assert_int_equal(ml_sh("rm -r %s/rp*", P(".")), 0);
	for (tries = 0; tries < 50; tries++) {
		assert_int_equal(ml_sh("echo 2 > /proc/sys/vm/drop_caches"), 0);
		if ((now = vnodes()) == base)
			break;
		usleep(100 * 1000);
	}
	if (now != base)
		fail_msg("vnodes %llu, started at %llu", (unsigned long long)now,
		    (unsigned long long)base);
}

static mode_t
mode_of(const char *p)
{
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 07777;
}

/* As nobody: append to, truncate, or O_TRUNC-open p; 0 on success. */
static int
as_nobody(const char *p, int what)
{
	pid_t pid = fork();
	int status, fd;

	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		if (what == 0) {
			if ((fd = open(p, O_WRONLY | O_APPEND)) < 0 ||
			    write(fd, "x", 1) != 1)
				_exit(11);
		} else if (what == 1) {
			if (truncate(p, 100) != 0)
				_exit(12);
		} else if ((fd = open(p, O_WRONLY | O_TRUNC)) < 0) {
			_exit(13);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WEXITSTATUS(status);
}

static const char *
suid_file(const char *name, mode_t mode)
{
	ml_mkdir(P("%s", name));
	assert_int_equal(chmod(P("%s", name), 0777), 0);
	assert_int_equal(chmod(P("%s/data", name), mode), 0);
	return P("%s/data", name);
}

/*
 * Setuid/setgid bits, as tmpfs clears them (KILLPRIV_V2 makes this the
 * daemon's job): cleared by a write, truncate or O_TRUNC open by a
 * caller without CAP_FSETID and by chown; kept by root's writes.  setgid
 * without group execute goes too when the writer is not in the group.
 */
static void
test_suid_cleared(void **state)
{
	const char *p;
	int what;

	(void)state;
	assert_int_equal(chmod(M.dir, 0777), 0);
	for (what = 0; what < 3; what++) {
		char name[16];

		snprintf(name, sizeof(name), "su%d", what);
		p = suid_file(name, 06777);
		assert_int_equal(as_nobody(p, what), 0);
		assert_int_equal(mode_of(p), 0777);
	}
	p = suid_file("sg", 02767);
	assert_int_equal(as_nobody(p, 0), 0);
	assert_int_equal(mode_of(p), 0767);

	p = suid_file("root", 06777);
	assert_int_equal(ml_write_at(p, "x", 1, 0), 0);
	assert_int_equal(truncate(p, 10), 0);
	assert_int_equal(mode_of(p), 06777);
	/* and a later write by nobody still clears (no stale S_NOSEC) */
	assert_int_equal(as_nobody(p, 0), 0);
	assert_int_equal(mode_of(p), 0777);

	p = suid_file("own", 06777);
	assert_int_equal(chown(p, 1, 1), 0);
	assert_int_equal(mode_of(p), 0777);
	p = suid_file("own2", 06777);
	assert_int_equal(chown(p, (uid_t)-1, (gid_t)-1), 0);
	assert_int_equal(mode_of(p), 0777);
	/* plain files are untouched by all this */
	p = suid_file("plain", 0666);
	assert_int_equal(as_nobody(p, 0), 0);
	assert_int_equal(mode_of(p), 0666);
	assert_int_equal(chmod(M.dir, 0755), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listing_stable_under_change),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_readdirplus_references),
		cmocka_unit_test(test_suid_cleared),
	};

	ml_watchdog(120);
	return cmocka_run_group_tests(tests, setup, teardown);
}
