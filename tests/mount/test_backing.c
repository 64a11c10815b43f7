/*
 * test_backing.c - persistent mode under concurrency (SPEC 6).
 *
 * Writers (some fsyncing) on backed VMOs, a namespace thread doing
 * mkdir/mv/clone/rm -r of other backed VMOs, and the daemon's writeback
 * thread all at once for BK_SECONDS (default 3).  Then: every writer's
 * file in DIR equals its shadow copy after the unmount, the namespace
 * thread's leftovers are exactly the files it expects, and a second mount
 * shows the same bytes, paged in lazily.  The tests in
 * tests/shell/test_backing.sh check the single features one by one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mountlib.h"

#define NW	3
#define FSZ	(1u << 20)

static struct ml_mount M;
static char bkdir[] = "/tmp/vmofs-bk.XXXXXX";
static char *shadow[NW];
static volatile int stop;
static int errors;

static void
err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
}

static void *
writer(void *arg)
{
	int w = (int)(intptr_t)arg, fd, n = 0;
	uint64_t rs = 0x9e3779b97f4a7c15ull * (uint64_t)(w + 1);
	char buf[6000];

	fd = open(ml_path(&M, "w%d/data", w), O_RDWR);
	if (fd < 0) {
		err("open w%d: %s", w, strerror(errno));
		return NULL;
	}
	while (!stop) {
		size_t len = 1 + ml_rand(&rs) % sizeof(buf);
		off_t off = (off_t)(ml_rand(&rs) % (FSZ - len));

		ml_fill(buf, len, ml_rand(&rs));
		if (pwrite(fd, buf, len, off) != (ssize_t)len) {
			err("pwrite w%d: %s", w, strerror(errno));
			break;
		}
		memcpy(shadow[w] + off, buf, len);
		if (w == 0 && ++n % 64 == 0 && fsync(fd) != 0)
			err("fsync w0: %s", strerror(errno));
	}
	close(fd);
	return NULL;
}

/* mkdir, write, mv, clone, rm -r, over and over; keeps every 4th. */
static void *
nsloop(void *arg)
{
	char a[64], b[64], buf[100];
	int i, fd;

	(void)arg;
	for (i = 0; !stop; i++) {
		snprintf(a, sizeof(a), "n%d", i);
		snprintf(b, sizeof(b), "m%d", i);
		if (mkdir(ml_path(&M, "%s", a), 0755) != 0) {
			err("mkdir %s: %s", a, strerror(errno));
			break;
		}
		snprintf(buf, sizeof(buf), "vmo %d", i);
		if ((fd = open(ml_path(&M, "%s/data", a), O_WRONLY)) < 0 ||
		    write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
			err("write %s: %s", a, strerror(errno));
			break;
		}
		close(fd);
		if (rename(ml_path(&M, "%s", a), ml_path(&M, "%s", b)) != 0 ||
		    mkdir(ml_path(&M, "%s/clones/c", b), 0755) != 0) {
			err("mv/clone %s: %s", b, strerror(errno));
			break;
		}
		if (i % 4 != 0 && ml_sh("rm -r %s", ml_path(&M, "%s", b)) != 0) {
			err("rm -r %s", b);
			break;
		}
	}
	return (void *)(intptr_t)i;
}

static void
check_dir_file(int w)
{
	char path[128], *got = malloc(FSZ);
	int fd;

	snprintf(path, sizeof(path), "%s/w%d", bkdir, w);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, got, FSZ, 0), FSZ);
	close(fd);
	if (memcmp(got, shadow[w], FSZ) != 0)
		fail_msg("%s differs from what was written", path);
	free(got);
}

static void
test_concurrent_writeback(void **state)
{
	pthread_t wt[NW], nt;
	unsigned secs = getenv("BK_SECONDS") ? (unsigned)atoi(getenv("BK_SECONDS")) : 3;
	void *ret;
	int i, n, fd;
	char path[128], *got;
	struct dirent *de;
	DIR *d;

	(void)state;
	for (i = 0; i < NW; i++) {
		assert_int_equal(mkdir(ml_path(&M, "w%d", i), 0755), 0);
		assert_non_null(shadow[i] = calloc(1, FSZ));
		assert_int_equal(truncate(ml_path(&M, "w%d/data", i), FSZ), 0);
	}
	for (i = 0; i < NW; i++)
		pthread_create(&wt[i], NULL, writer, (void *)(intptr_t)i);
	pthread_create(&nt, NULL, nsloop, NULL);
	sleep(secs);
	stop = 1;
	for (i = 0; i < NW; i++)
		pthread_join(wt[i], NULL);
	pthread_join(nt, &ret);
	n = (int)(intptr_t)ret;
	assert_int_equal(errors, 0);
	assert_true(n > 0);

	/* Unmounted: DIR holds exactly w*, and m<i> for every 4th i. */
	assert_int_equal(ml_umount(&M), 0);
	for (i = 0; i < NW; i++)
		check_dir_file(i);
	assert_non_null(d = opendir(bkdir));
	while ((de = readdir(d)) != NULL) {
		int k;

		if (de->d_name[0] == '.' || de->d_name[0] == 'w')
			continue;
		if (sscanf(de->d_name, "m%d", &k) != 1 || k % 4 != 0 || k >= n)
			fail_msg("unexpected file %s in DIR", de->d_name);
	}
	closedir(d);
	for (i = 0; i < n; i += 4) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/m%d", bkdir, i);
		if (stat(path, &st) != 0)
			fail_msg("%s missing", path);
	}

	/* A second mount: lazy, same bytes. */
	snprintf(path, sizeof(path), "backing=%s,size=256M", bkdir);
	assert_int_equal(ml_mount(&M, path), 0);
	assert_int_equal(ml_getx_u64(ml_path(&M, "w1/data"), "user.vmo.committed"), 0);
	assert_non_null(got = malloc(FSZ));
	for (i = 0; i < NW; i++) {
		fd = open(ml_path(&M, "w%d/data", i), O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, got, FSZ, 0), FSZ);
		close(fd);
		if (memcmp(got, shadow[i], FSZ) != 0)
			fail_msg("w%d differs after remount", i);
	}
	free(got);
	assert_true(ml_getx_u64(ml_path(&M, "w1/data"), "user.vmo.committed") >= FSZ);
}

static int
setup(void **state)
{
	(void)state;
	return ml_mount_backed(&M, bkdir, "size=256M");
}

static int
teardown(void **state)
{
	(void)state;
	return ml_umount_backed(&M, bkdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_writeback),
	};

	ml_watchdog(50);
	return cmocka_run_group_tests(tests, setup, teardown);
}
