/*
 * mountlib.c - see mountlib.h.  Not thread safe for mount/umount (tests
 * mount from their main thread); the I/O helpers are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mountlib.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define ML_MAX 8

static struct ml_mount *ml_reg[ML_MAX];
static int ml_atexit_done;

const char *
ml_bin(void)
{
	const char *b = getenv("VMOFS_BIN");

	return b && *b ? b : "build/vmofs";
}

static void
ml_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int
ml_is_mounted(const char *dir)
{
	char line[4096], mp[4096];
	FILE *f = fopen("/proc/mounts", "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %4095s", mp) == 1 && strcmp(mp, dir) == 0)
			found = 1;
	fclose(f);
	return found;
}

/* Wait up to ms for pid; 1 if it exited (reaped), 0 if still running. */
static int
ml_wait_pid(pid_t pid, int ms, int *status)
{
	int st, i;

	for (i = 0; i < ms / 10 + 1; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			if (status)
				*status = st;
			return 1;
		}
		if (r < 0 && errno == ECHILD)
			return 1;
		ml_sleep_ms(10);
	}
	return 0;
}

static void
ml_abort_conn(dev_t dev)
{
	char p[128];
	int fd;

	if (!dev)
		return;
	mkdir("/sys/fs/fuse/connections", 0755);
	mount("none", "/sys/fs/fuse/connections", "fusectl", 0, NULL);
	snprintf(p, sizeof(p), "/sys/fs/fuse/connections/%u/abort",
	    minor(dev));
	fd = open(p, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			perror(p);
		close(fd);
	}
}

static void
ml_unregister(struct ml_mount *m)
{
	int i;

	for (i = 0; i < ML_MAX; i++)
		if (ml_reg[i] == m)
			ml_reg[i] = NULL;
}

int
ml_umount(struct ml_mount *m)
{
	char *argv[] = { "fusermount3", "-u", "-q", m->dir, NULL };
	int st = 0, ret = 0;

	if (!m->active)
		return 0;
	m->active = 0;
	ml_unregister(m);
	if (ml_is_mounted(m->dir))
		ml_run(argv, NULL, 0);
	if (!ml_wait_pid(m->pid, 10000, &st)) {
		fprintf(stderr, "mountlib: %s stuck: aborting connection\n",
		    m->dir);
		ml_abort_conn(m->dev);
		kill(m->pid, SIGKILL);
		ml_wait_pid(m->pid, 5000, NULL);
		ret = -1;
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		/* a crash, or a sanitizer report at exit (leaks) */
		fprintf(stderr, "mountlib: daemon for %s ended badly (status "
		    "0x%x)\n", m->dir, st);
		ret = -1;
	}
	if (ml_is_mounted(m->dir)) {
		char *lz[] = { "fusermount3", "-u", "-z", "-q", m->dir, NULL };

		ml_abort_conn(m->dev);
		ml_run(lz, NULL, 0);
		if (ml_is_mounted(m->dir))
			umount2(m->dir, MNT_DETACH);
	}
	rmdir(m->dir);
	return ret;
}

static void
ml_umount_all(void)
{
	int i;

	for (i = 0; i < ML_MAX; i++)
		if (ml_reg[i])
			(void)ml_umount(ml_reg[i]);
}

static void
ml_alarm(int sig)
{
	static const char msg[] = "mountlib: watchdog fired: unmounting\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	ml_umount_all();
	_exit(2);
}

void
ml_watchdog(unsigned sec)
{
	signal(SIGALRM, ml_alarm);
	alarm(sec);
}

int
ml_mount_backed(struct ml_mount *m, char *dir, const char *opts)
{
	char o[512];

	if (!mkdtemp(dir))
		return -1;
	snprintf(o, sizeof(o), "backing=%s%s%s", dir, opts && *opts ? "," : "",
	    opts ? opts : "");
	return ml_mount(m, o);
}

int
ml_umount_backed(struct ml_mount *m, const char *dir)
{
	int r = ml_umount(m);

	ml_sh("rm -rf %s", dir);
	return r;
}

void
ml_mkdir(const char *p)
{
	if (mkdir(p, 0755) != 0)
		fail_msg("mkdir %s: %s", p, strerror(errno));
}

void
ml_dir_template(char *buf, size_t len)
{
	const char *tag = getenv("VMOFS_TEST_TAG");
	size_t i;

	if (tag == NULL || *tag == '\0' || strlen(tag) > 32)
		tag = "vmofs-test";
	for (i = 0; tag[i] != '\0'; i++)	/* a plain name, nothing else */
		if (!isalnum((unsigned char)tag[i]) && tag[i] != '-' && tag[i] != '_')
			tag = "vmofs-test";
	snprintf(buf, len, "/tmp/%s.XXXXXX", tag);
}

int
ml_mount(struct ml_mount *m, const char *opts)
{
	const char *extra = getenv("VMOFS_TEST_OPTS");
	char all[1024];
	struct stat st;
	int i;

	memset(m, 0, sizeof(*m));
	if (!ml_atexit_done) {
		atexit(ml_umount_all);
		ml_atexit_done = 1;
	}
	ml_dir_template(m->dir, sizeof(m->dir));
	if (!mkdtemp(m->dir)) {
		perror("mkdtemp");
		return -1;
	}
	if (extra && *extra) {	/* $VMOFS_TEST_OPTS: a whole program again */
		snprintf(all, sizeof(all), "%s%s%s", opts ? opts : "",
		    opts && *opts ? "," : "", extra);
		opts = all;
	}
	m->pid = fork();
	if (m->pid < 0)
		return -1;
	if (m->pid == 0) {
		if (opts && *opts)
			execl(ml_bin(), ml_bin(), "-f", "-o", opts, m->dir,
			    (char *)NULL);
		else
			execl(ml_bin(), ml_bin(), "-f", m->dir, (char *)NULL);
		perror(ml_bin());
		_exit(127);
	}
	m->active = 1;
	for (i = 0; i < ML_MAX; i++)
		if (!ml_reg[i]) {
			ml_reg[i] = m;
			break;
		}
	for (i = 0; i < 1000; i++) {
		if (ml_is_mounted(m->dir)) {
			if (stat(m->dir, &st) == 0)
				m->dev = st.st_dev;
			return 0;
		}
		if (waitpid(m->pid, NULL, WNOHANG) == m->pid) {
			fprintf(stderr, "mountlib: %s exited before mounting\n",
			    ml_bin());
			m->active = 0;
			ml_unregister(m);
			rmdir(m->dir);
			return -1;
		}
		ml_sleep_ms(10);
	}
	fprintf(stderr, "mountlib: %s did not mount in 10 s\n", ml_bin());
	ml_umount(m);
	return -1;
}

int
ml_run(char *const argv[], char *errbuf, size_t errsize)
{
	int pfd[2], st;
	pid_t pid;
	size_t got = 0;
	ssize_t n;

	if (pipe(pfd) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		if (nul > 2)
			close(nul);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char tmp[512];

		n = read(pfd[0], tmp, sizeof(tmp));
		if (n <= 0)
			break;
		if (errbuf && got + 1 < errsize) {
			size_t c = (size_t)n < errsize - 1 - got ? (size_t)n :
			    errsize - 1 - got;

			memcpy(errbuf + got, tmp, c);
			got += c;
		}
	}
	close(pfd[0]);
	if (errbuf && errsize)
		errbuf[got] = '\0';
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
ml_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *
ml_path(const struct ml_mount *m, const char *fmt, ...)
{
	static __thread char ring[8][512];
	static __thread int idx;
	char *p = ring[idx++ % 8];
	int n;
	va_list ap;

	n = snprintf(p, 512, "%s/", m->dir);
	va_start(ap, fmt);
	vsnprintf(p + n, 512 - (size_t)n, fmt, ap);
	va_end(ap);
	return p;
}

int
ml_write_at(const char *path, const void *buf, size_t len, off_t off)
{
	int fd = open(path, O_WRONLY), r = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, buf, len, off);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

ssize_t
ml_read_at(const char *path, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

int
ml_setx(const char *path, const char *name, const char *value)
{
	return setxattr(path, name, value, strlen(value), 0) == 0 ? 0 : -errno;
}

const char *
ml_getx(const char *path, const char *name)
{
	static __thread char buf[4096];
	ssize_t n = getxattr(path, name, buf, sizeof(buf) - 1);

	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

uint64_t
ml_getx_u64(const char *path, const char *name)
{
	const char *s = ml_getx(path, name);

	return s ? strtoull(s, NULL, 10) : UINT64_MAX;
}

uint64_t
ml_stat_in(const char *text, const char *name)
{
	size_t l = strlen(name);
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, l) == 0 && p[l] == ':')
			return strtoull(p + l + 1, NULL, 10);
	fail_msg("no %s in user.vmofs.stats:\n%s", name, text);
	return 0;
}

uint64_t
ml_stat(const struct ml_mount *m, const char *name)
{
	const char *t = ml_getx(m->dir, "user.vmofs.stats");

	if (t == NULL)
		fail_msg("getxattr %s user.vmofs.stats: %s", m->dir, strerror(errno));
	return ml_stat_in(t, name);
}

uint64_t
ml_rand(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
ml_fill(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t s = seed, r = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0)
			r = ml_rand(&s);
		p[i] = (unsigned char)(r >> (8 * (i % 8)));
	}
}
