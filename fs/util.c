/*
 * util.c - small helpers every fs/ module shares: the RANGE and size
 * grammars, the one place where libvm's negative errnos become reply
 * errnos, a monotonic clock, and logging.
 *
 * Grammar (SPEC 2, shared by mkdir names and xattr values):
 *   NUM   := ( [0-9]+ | 0x[0-9a-fA-F]+ ) [KMG]?     binary suffixes
 *   RANGE := NUM '+' NUM
 * Anything else, or a value that overflows 64 bits, is -EINVAL.
 *
 * Logging: vfs_log() writes one line to one of three places, chosen in
 * main() before any thread starts and fixed from then on:
 *
 *   -o log=FILE   appended to FILE: "2025-01-02T03:04:05.678+0100
 *                 vmofs[PID]: info: text".  The file is opened O_APPEND
 *                 and each line is one write(2), so lines of concurrent
 *                 threads never interleave and nothing is buffered (a
 *                 crash loses no line already logged).  SIGHUP reopens
 *                 the path (logrotate's "mv, then kill -HUP"): the handler
 *                 opens it anew and dup3()s the new descriptor over the
 *                 old one, all async-signal-safe, so a writer writes
 *                 either to the old file or to the new, never to nothing.
 *   -f, -d        stderr, "vmofs: text", one write(2) per line.
 *   otherwise     syslog(3), LOG_DAEMON, opened after daemonising.  Where
 *                 there is no /dev/log these lines are lost: main() warns
 *                 at mount time and points at -o log=.
 *
 * Rejections: vfs_reject() is the one place where a request refused for
 * what it asked (a bad name or range, a forbidden kind of entry, a busy
 * pin) is logged, at LOG_INFO: op, the name it got, the errno by name,
 * why, and the caller's pid and uid.  At most VFS_REJECT_BURST of them
 * are logged per second; the rest are counted and the count is logged
 * with the next line that gets through.
 */
#include "vmofs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define VFS_LOG_LINE		2048	/* longer lines are cut, ending "..." */
#define VFS_REJECT_BURST	50	/* rejections logged per second, at most */

/*
 * Lock legend: (c) set in main() before any thread starts, then constant;
 * (A) atomic; (R) vlog.rlock.
 */
static struct {
	int		 fd;		/* (c) the log= file, or -1; dup3()'d over on SIGHUP */
	char		*path;		/* (c) its absolute path */
	_Atomic int	 reopen_err;	/* (A) errno of a failed SIGHUP reopen, or 0 */
	pthread_mutex_t	 rlock;
	int64_t		 rsec;		/* (R) the second being counted */
	unsigned	 rlogged;	/* (R) rejections logged in it */
	uint64_t	 rdropped;	/* (R) rejections not logged since the last one that was */
} vlog = { .fd = -1, .rlock = PTHREAD_MUTEX_INITIALIZER };

/*
 * Parse one NUM at s.  On success *out is the value and *end points past
 * it (if end is NULL the number must end the string).
 */
int
vfs_parse_num(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0, base = 10, d, mult = 1;
	const char *p = s;
	int ndig = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++, ndig++) {
		if (isdigit((unsigned char)*p))
			d = (uint64_t)(*p - '0');
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = (uint64_t)(tolower((unsigned char)*p) - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	if (ndig == 0)
		return -EINVAL;
	switch (*p) {
	case 'K': case 'k': mult = 1ull << 10; p++; break;
	case 'M': case 'm': mult = 1ull << 20; p++; break;
	case 'G': case 'g': mult = 1ull << 30; p++; break;
	default: break;
	}
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	if (end)
		*end = p;
	else if (*p != '\0')
		return -EINVAL;
	*out = v * mult;
	return 0;
}

/* Parse "OFFSET+LENGTH"; the sum must not overflow. */
int
vfs_parse_range(const char *s, uint64_t *off, uint64_t *len)
{
	const char *p;

	if (vfs_parse_num(s, off, &p) != 0 || *p != '+')
		return -EINVAL;
	if (vfs_parse_num(p + 1, len, NULL) != 0)
		return -EINVAL;
	if (*off + *len < *off)
		return -EINVAL;
	return 0;
}

/* The size= option: NUM, or N% of physical memory.  0 is -EINVAL. */
int
vfs_parse_size(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t v;

	if (n > 1 && s[n - 1] == '%') {
		char buf[32];
		long pages = sysconf(_SC_PHYS_PAGES);
		long psz = sysconf(_SC_PAGESIZE);

		if (n - 1 >= sizeof(buf) || pages <= 0 || psz <= 0)
			return -EINVAL;
		memcpy(buf, s, n - 1);
		buf[n - 1] = '\0';
		if (vfs_parse_num(buf, &v, NULL) != 0 || v == 0 || v > 100 ||
		    buf[0] == '0')
			return -EINVAL;
		*out = (uint64_t)pages * (uint64_t)psz / 100 * v;
		return 0;
	}
	if (vfs_parse_num(s, &v, NULL) != 0 || v < VFS_PAGE)
		return -EINVAL;
	*out = v;
	return 0;
}

/* CLOCK_MONOTONIC in nanoseconds (the spins of conn.c and uring.c). */
int64_t
vfs_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Open the log file; O_NONBLOCK only so that a FIFO does not wait for a reader. */
static int
vfs_log_openfd(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY | O_NONBLOCK, 0640);

	if (fd >= 0)
		(void)fcntl(fd, F_SETFL, O_APPEND);	/* writes block again */
	return fd;
}

/*
 * -o log=PATH: open PATH for appending (created 0640 if missing) before
 * the mount.  A relative PATH is taken from the current directory now
 * (the daemon moves to / when it forks).  0, or -1 after one line on
 * stderr.
 */
int
vfs_log_open(const char *path)
{
	char cwd[PATH_MAX];
	struct stat st;
	int fd;

	if (path[0] == '\0') {
		fprintf(stderr, "vmofs: option log=: expected a file name\n");
		return -1;
	}
	if (path[0] == '/')
		vlog.path = strdup(path);
	else if (getcwd(cwd, sizeof(cwd)) &&
	    asprintf(&vlog.path, "%s/%s", cwd, path) < 0)
		vlog.path = NULL;
	if (!vlog.path) {
		fprintf(stderr, "vmofs: option log=%s: %s\n", path,
		    strerror(errno ? errno : ENOMEM));
		return -1;
	}
	fd = vfs_log_openfd(vlog.path);
	/* A file, or a character device (/dev/null, /dev/console); not a
	 * FIFO, whose reader could stall every thread that logs. */
	if (fd < 0 || fstat(fd, &st) != 0 ||
	    !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
		fprintf(stderr, "vmofs: option log=%s: %s\n", path,
		    fd < 0 ? strerror(errno) :
		    "not a regular file or character device");
		if (fd >= 0)
			close(fd);
		free(vlog.path);
		vlog.path = NULL;
		return -1;
	}
	vlog.fd = fd;
	return 0;
}

/* SIGHUP: reopen the log file (async-signal-safe: open, fcntl, dup3, close). */
static void
vfs_log_hup(int sig)
{
	int saved = errno, fd;

	(void)sig;
	fd = vfs_log_openfd(vlog.path);
	if (fd < 0) {
		atomic_store(&vlog.reopen_err, errno);
	} else {
		if (dup3(fd, vlog.fd, O_CLOEXEC) < 0)
			atomic_store(&vlog.reopen_err, errno);
		close(fd);
	}
	errno = saved;
}

/*
 * With -o log=: make SIGHUP reopen the file instead of ending the daemon
 * (libfuse's handler).  Call after fuse_set_signal_handlers(); libfuse's
 * fuse_remove_signal_handlers() then leaves SIGHUP alone.  0 or -errno.
 */
int
vfs_log_sighup(void)
{
	struct sigaction sa;

	if (vlog.fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vfs_log_hup;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGHUP, &sa, NULL) == 0 ? 0 : -errno;
}

/* At exit: SIGHUP is ignored from now on, then the file is closed. */
void
vfs_log_close(void)
{
	if (vlog.fd < 0)
		return;
	signal(SIGHUP, SIG_IGN);
	close(vlog.fd);
	vlog.fd = -1;
	free(vlog.path);
	vlog.path = NULL;
}

bool
vfs_log_to_file(void)
{
	return vlog.fd >= 0;
}

static const char *
vfs_prio_name(int prio)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "error", "warning", "notice", "info",
		"debug",
	};

	return names[LOG_PRI(prio) & 7];
}

/* Write the n bytes of buf whole (a short write to a full disk is dropped). */
static void
vfs_log_write(int fd, const char *buf, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

/* Format one line into buf after its prefix p bytes; the line's length. */
static size_t
vfs_log_format(char *buf, size_t p, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf + p, VFS_LOG_LINE - p - 1, fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n >= VFS_LOG_LINE - p - 1) {
		n = (int)(VFS_LOG_LINE - p - 2);
		memcpy(buf + p + n - 3, "...", 3);
	}
	buf[p + (size_t)n] = '\n';
	return p + (size_t)n + 1;
}

static void
vfs_vlog(int prio, const char *fmt, va_list ap)
{
	char buf[VFS_LOG_LINE];
	struct timespec ts;
	struct tm tm;
	size_t p;
	int e;

	if (vlog.fd >= 0 && (e = atomic_exchange(&vlog.reopen_err, 0)) != 0) {
		p = (size_t)snprintf(buf, sizeof(buf), "vmofs[%d]: error: "
		    "SIGHUP: cannot reopen %s: %s; still writing to the file "
		    "it had\n", (int)getpid(), vlog.path, strerror(e));
		vfs_log_write(vlog.fd, buf, p < sizeof(buf) ? p : sizeof(buf) - 1);
	}
	if (vlog.fd >= 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		p = strftime(buf, 64, "%Y-%m-%dT%H:%M:%S", &tm);
		p += (size_t)snprintf(buf + p, 16, ".%03ld", ts.tv_nsec / 1000000);
		p += strftime(buf + p, 16, "%z", &tm);
		p += (size_t)snprintf(buf + p, 64, " vmofs[%d]: %s: ",
		    (int)getpid(), vfs_prio_name(prio));
		vfs_log_write(vlog.fd, buf, vfs_log_format(buf, p, fmt, ap));
	} else if (vfs.foreground) {
		memcpy(buf, "vmofs: ", 7);
		vfs_log_write(STDERR_FILENO, buf, vfs_log_format(buf, 7, fmt, ap));
	} else {
		vsyslog(prio, fmt, ap);
	}
}

void
vfs_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfs_vlog(prio, fmt, ap);
	va_end(ap);
}

/*
 * May one more rejection be logged now?  If so, *dropped is how many were
 * not, since the last one that was.
 */
static bool
vfs_reject_ok(uint64_t *dropped)
{
	int64_t sec = vfs_now_ns() / 1000000000;
	bool ok;

	pthread_mutex_lock(&vlog.rlock);
	if (sec != vlog.rsec) {
		vlog.rsec = sec;
		vlog.rlogged = 0;
	}
	ok = vlog.rlogged < VFS_REJECT_BURST;
	if (ok) {
		vlog.rlogged++;
		*dropped = vlog.rdropped;
		vlog.rdropped = 0;
	} else {
		vlog.rdropped++;
	}
	pthread_mutex_unlock(&vlog.rlock);
	return ok;
}

int
vfs_reject(fuse_req_t req, const char *op, const char *name, int err,
    const char *fmt, ...)
{
	const struct fuse_ctx *ctx = req ? fuse_req_ctx(req) : NULL;
	const char *ename = strerrorname_np(err);
	char why[512], who[64] = "", more[64] = "";
	uint64_t dropped;
	va_list ap;

	if (!vfs_reject_ok(&dropped))
		return err;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (ctx)
		snprintf(who, sizeof(who), " (pid %d, uid %u)", (int)ctx->pid,
		    (unsigned)ctx->uid);
	if (dropped)
		snprintf(more, sizeof(more), " [%llu more rejections not logged]",
		    (unsigned long long)dropped);
	vfs_log(LOG_INFO, "%s%s%s%s: %s (%s): %s%s%s", op, name ? " \"" : "",
	    name ? name : "", name ? "\"" : "", ename ? ename : "errno",
	    strerror(err), why, who, more);
	return err;
}

int
vfs_reject_names(fuse_req_t req, const char *op, const char *name, int err,
    const char *prefix, const char *const *valid, size_t nvalid)
{
	char list[1024];
	size_t n = 0, i;
	int w;

	list[0] = '\0';
	for (i = 0; i < nvalid && n < sizeof(list); i++) {
		w = snprintf(list + n, sizeof(list) - n, "%s%s%s",
		    i ? ", " : "", prefix, valid[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	return vfs_reject(req, op, name, err, "unknown name; valid names: %s",
	    list);
}

/*
 * The one place where a libvm result becomes a reply errno.  libvm returns
 * negative errnos that are already what the user should see (ENOSPC when
 * the page limit is hit, as tmpfs; EFBIG past a slice's end; EBUSY for
 * pins), so this only flips the sign and guards against a non-errno.
 */
const char *
vfs_resize_why(long neg)
{
	switch (neg) {
	case -EPERM:
		return "a slice's size and a ~fixed= VMO's are fixed";
	case -EBUSY:
		return "a pinned page, or a slice, lies in the way";
	case -EFBIG:
		return "past the largest VMO size";
	default:
		return NULL;
	}
}

int
vfs_errno(long neg)
{
	if (neg >= 0 || neg < -4095)
		return EIO;
	return (int)-neg;
}
