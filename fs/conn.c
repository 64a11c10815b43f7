/*
 * conn.c - what the FUSE connection needs beyond libfuse 3.14: the kernel's
 * FUSE_HANDLE_KILLPRIV_V2, which 3.14 cannot ask for, and the mount's
 * readahead (below).
 *
 * Why: before every buffered write(2) the kernel must decide whether to
 * strip setuid/setgid bits and security.capability (file_remove_privs).
 * Unless the inode is marked S_NOSEC that costs a GETXATTR round trip
 * ("security.capability") per write, as many round trips as the WRITE
 * itself.  The kernel marks inodes S_NOSEC only on superblocks with
 * SB_NOSEC, and FUSE sets SB_NOSEC only when the daemon answers INIT with
 * FUSE_HANDLE_KILLPRIV_V2.  With it, the first write after each attribute
 * refresh still asks (and learns there is no capability), later ones do
 * not: 4 KiB writes cost one round trip instead of two.
 *
 * How: libfuse 3.14 builds the INIT reply from the capabilities it knows,
 * so the flag is added on the way out.  fuse_session_custom_io() gives the
 * session our read and writev: read notes the INIT request (its unique and
 * whether the kernel offers the flag), writev sets the flag in the reply to
 * that request.  Everything else passes through untouched.
 *
 * Splice: the custom io also has a splice_receive, a plain splice(2).
 * Without one libfuse 3.14 does not even offer FUSE_CAP_SPLICE_READ, and
 * io_write_buf then gets every WRITE's data in libfuse's buffer instead of
 * reading it from the pipe straight into VMO pages (one copy more).  INIT
 * itself is always read with read(2), through conn_read: libfuse splices
 * only once INIT has set the protocol version and the SPLICE_READ want.
 * libfuse also needs its pipe to hold a whole request (1 MiB + 4 KiB),
 * above fs.pipe-max-size without CAP_SYS_RESOURCE; without either it
 * reads every request (docs/design.md).
 *
 * What the daemon owes in return (the contract of KILLPRIV_V2), done by
 * conn_kill_priv() in the handlers: a write or an O_TRUNC open by a caller
 * without CAP_FSETID clears setuid, and setgid where it is effective;
 * a truncate says so itself (FATTR_KILL_SUIDGID, libfuse's
 * FUSE_SET_ATTR_KILL_SUID); chown clears them always.  libfuse 3.14 does
 * not pass the write and open flags that carry the kernel's verdict, so
 * "without CAP_FSETID" is read as "not uid 0".  security.capability is
 * still removed by the kernel itself (REMOVEXATTR) as before.
 *
 * The same hooks serve FUSE over io_uring (uring.c): the INIT reply
 * offers FUSE_OVER_IO_URING when the rings are ready, and a reply to a
 * request that came through a ring goes back into that ring's buffers
 * (uring_reply) instead of to /dev/fuse.
 *
 * Readahead: the kernel caps buffered reads of a FUSE mount at its
 * backing device's readahead, 128 KiB by default, so a cold 1 MiB read(2)
 * costs eight READ requests.  The daemon raises the mount's
 * /sys/class/bdi/MAJ:MIN/read_ahead_kb to max_write (1 MiB: one request
 * per read(2)).  It must do so after the kernel has taken the INIT reply,
 * which lowers the readahead to the reply's max_readahead (libfuse echoes
 * the kernel's 128 KiB); before that, the write is undone.  The device
 * number comes from /proc/self/mountinfo at mount time: stat()ing the
 * mountpoint would wait on this very daemon.  Needs root; without it the
 * mount keeps the kernel's readahead and the daemon says so (LOG_INFO).
 *
 * The ceiling is 1/256 of size= (a mount of 256 MiB or more gets 1 MiB;
 * 32 MiB and less keep 128 KiB), because reads can cost memory: a
 * compressed or evicted page was brought back into the arena to be read.
 * On a 4 MiB compress or backed mount under load, readers with 1 MiB
 * readahead took so much of the limit that writes failed (test_load's
 * tight runs).  libvm now serves such reads from a copy when memory is
 * short (vmo.c, fault_room); the ceiling stays as a second guard.
 * Measured in docs/benchmarks.md.
 *
 * Spinning receive (-o spin=USEC, default 30): a worker that has served
 * a request first polls for the next one for up to USEC microseconds, with
 * non-blocking reads of a clone of the session's /dev/fuse descriptor
 * (FUSE_DEV_IOC_CLONE, opened O_NONBLOCK once INIT is answered), and only
 * then sleeps in a blocking read of the session's own descriptor.  Why: a
 * caller doing synchronous I/O sends its next request a few microseconds
 * after the reply, and a sleeping worker must then be woken; on a virtual
 * machine whose idle vCPUs halt, that costs an IPI and an exit per request
 * (the same reason uring.c spins; the same USEC serves both).  Workers
 * spin only while spinning and busy ones together are fewer than the CPUs
 * the daemon may run on, less one for the caller; with one CPU, never.
 * An idle mount costs nothing.
 *
 * The kernel puts a request read from a descriptor on that descriptor's
 * processing list, and takes its reply only there: a worker notes
 * (spin_got, per thread) which one its request came from, and writev
 * answers through it.  Replies are always sent by the worker that read the
 * request; a reply that still finds ENOENT is tried on the other
 * descriptor (not a notification, unique 0: any descriptor takes those,
 * and ENOENT there means the kernel has no such inode cached).  Measured
 * in docs/benchmarks.md ("Spinning receive").
 *
 * State: conn.killpriv is written once, while INIT is answered (before
 * any other request is read), and only read afterwards; so is spin.fd.
 */
#include "vmofs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * FUSE_DIRECT_IO_ALLOW_MMAP (protocol 7.39, kernel 6.6; bit 36, so bit 4
 * of flags2): shared mmap of a direct_io file goes through the page cache
 * instead of failing with ENODEV.  Neither libfuse 3.14 nor bookworm's
 * <linux/fuse.h> (7.38) knows it; asked for only with -o direct_io and
 * -o writeback_cache (whose aliased files are direct_io, io.c).
 */
#define VMOFS_DIO_ALLOW_MMAP2	(1u << (36 - 32))
/* FUSE_OVER_IO_URING (7.42, Linux 6.14; bit 41): the rings of uring.c. */
#define VMOFS_OVER_IO_URING2	(1u << (41 - 32))

static struct {
	uint64_t init_unique;	/* unique of the INIT request; 0: none seen */
	bool	 offered;	/* the kernel offers KILLPRIV_V2 */
	bool	 killpriv;	/* negotiated */
	bool	 dio_offered;	/* the kernel offers DIRECT_IO_ALLOW_MMAP */
	bool	 uring_offered;	/* the kernel offers FUSE_OVER_IO_URING */
	char	 bdi[48];	/* the mount's /sys/class/bdi/MAJ:MIN; "" unknown */
	uint64_t ra_max;	/* readahead ceiling, bytes: size= / 256 */
	uint64_t dirty_max;	/* writeback_cache: dirty bytes wanted; 0 none */
} conn;

/*
 * Does the mountinfo field f (octal escapes for space, tab, newline and
 * backslash) name path?
 */
static bool
conn_same_path(const char *f, const char *path)
{
	for (; *f; path++) {
		int c = (unsigned char)*f++;

		if (c == '\\' && f[0] >= '0' && f[0] <= '3' && f[1] >= '0' &&
		    f[1] <= '7' && f[2] >= '0' && f[2] <= '7') {
			c = (f[0] - '0') << 6 | (f[1] - '0') << 3 | (f[2] - '0');
			f += 3;
		}
		if ((unsigned char)*path != c)
			return false;
	}
	return *path == '\0';
}

/* Note the read_ahead_kb file of the mount at mnt (the last one wins). */
static void
conn_find_bdi(const char *mnt)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	conn.bdi[0] = '\0';
	if (!f) {
		vfs_log(LOG_INFO, "readahead: /proc/self/mountinfo: %s",
		    strerror(errno));
		return;
	}
	while (getline(&line, &cap, f) > 0) {
		char *save, *fld[5];
		int i;

		fld[0] = strtok_r(line, " ", &save);
		for (i = 1; i < 5 && fld[i - 1]; i++)
			fld[i] = strtok_r(NULL, " ", &save);
		if (i == 5 && fld[4] && conn_same_path(fld[4], mnt))
			snprintf(conn.bdi, sizeof(conn.bdi),
			    "/sys/class/bdi/%s", fld[2]);
	}
	free(line);
	fclose(f);
	if (!conn.bdi[0])
		vfs_log(LOG_INFO, "readahead: %s is not in "
		    "/proc/self/mountinfo", mnt);
}

/*
 * Raise the number in the mount's bdi file name to want (never lower it);
 * what and unit name the setting in the log line when that fails (no root).
 */
static void
conn_bdi_raise(const char *name, unsigned long long want, const char *what,
    const char *unit)
{
	char path[80], buf[32];
	unsigned long long cur = 0;
	ssize_t n;
	int fd;

	if (!conn.bdi[0] || want == 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", conn.bdi, name);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		vfs_log(LOG_INFO, "%s stays the kernel's: %s: %s", what, path,
		    strerror(errno));
		return;
	}
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		cur = strtoull(buf, NULL, 10);
	}
	n = snprintf(buf, sizeof(buf), "%llu", want);
	if (cur < want && pwrite(fd, buf, (size_t)n, 0) != n)
		vfs_log(LOG_INFO, "%s stays at %llu %s: %s: %s", what, cur,
		    unit, path, strerror(errno));
	close(fd);
}

/*
 * The kernel has taken the INIT reply: raise readahead to max_write, or
 * to the mount's ceiling if that is lower.
 */
static void
conn_raise_readahead(uint32_t max_write)
{
	conn_bdi_raise("read_ahead_kb", (max_write < conn.ra_max ? max_write :
	    conn.ra_max) / 1024, "readahead", "KiB");
}

/*
 * -o writeback_cache: the kernel lets a FUSE mount hold at most 1% of its
 * dirty threshold in dirty pages (bdi max_ratio 1, strict_limit: about
 * 44 MiB on a 24 GiB machine), to keep an untrusted server from pinning
 * memory.  A writer then waits on each write-back once that much is
 * dirty, and 1 MiB writes ran at passthrough_hp's speed, a third of
 * tmpfs's.  vmofs runs as root and its bytes live in memory anyway, so it
 * raises its own mount's max_bytes to a quarter of size=, at most 1 GiB
 * (never lowering it): docs/benchmarks.md has the figures.  Needs root;
 * without it the kernel's limit stays (LOG_INFO).
 */
static void
conn_raise_dirty(void)
{
	conn_bdi_raise("max_bytes", conn.dirty_max,
	    "writeback_cache: dirty limit", "bytes");
}

static struct {
	int	 fd;		/* O_NONBLOCK clone of the session's fd; -1: off */
	int	 max;		/* spinning + busy workers: CPUs to run on - 1 */
	int	 now;		/* workers spinning (low 16 bits) and busy (<< 16) */
	uint64_t served;	/* requests a spinning worker caught */
} spin = { .fd = -1 };

#define SPIN_BUSY	(1 << 16)

static __thread bool spin_got;	/* this thread's request came from spin.fd */
/* Non-NULL while this thread is counted busy in spin.now; a worker that
 * exits with its request served is uncounted by the key's destructor. */
static pthread_key_t spin_busy;

/* The worker is back for its next request, or exits: no longer busy. */
static void
conn_spin_idle(void *busy)
{
	if (busy != NULL) {
		__atomic_sub_fetch(&spin.now, SPIN_BUSY, __ATOMIC_RELEASE);
		(void)pthread_setspecific(spin_busy, NULL);
	}
}

/* CPUs the daemon may run on (its affinity mask), at least 1. */
static int
conn_ncpu(void)
{
	cpu_set_t cpus;
	long n;

	n = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ?
	    CPU_COUNT(&cpus) : sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/*
 * (N) The read gate: at most gate.max workers (CPUs + 1) wait in the
 * kernel for a request at once; the others park here.  libfuse 3.14 keeps
 * every worker a burst started (ending them on idleness makes them die
 * and start again at nearly every request once two callers run), and the
 * kernel hands each request to the worker that has waited longest, so
 * after a burst a lone caller's requests went round ten or more workers,
 * each one cold (docs/design.md, "Workers").  A parked worker is let in
 * only when no worker is left waiting in the kernel, so libfuse, which
 * counts parked workers as idle and starts a new one only when none is,
 * always has a reader: while any worker is parked, one at least is in.
 * Cancellation (libfuse's exit) may find a worker parked: the cleanup
 * handler gives the lock back.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t	cv;
	int	 max;		/* workers let in at once; 0: no gate */
	int	 in;		/* workers past the gate, not yet with a request */
	int	 parked;
	int	 admits;	/* parked workers let in, not yet woken */
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0 };

static void
conn_gate_cancelled(void *arg)
{
	(void)arg;
	gate.parked--;
	pthread_mutex_unlock(&gate.lock);
}

static void
conn_gate_enter(void)
{
	if (gate.max == 0)
		return;
	pthread_mutex_lock(&gate.lock);
	if (gate.in < gate.max) {
		gate.in++;
	} else {
		gate.parked++;
		pthread_cleanup_push(conn_gate_cancelled, NULL);
		while (gate.admits == 0)
			pthread_cond_wait(&gate.cv, &gate.lock);
		pthread_cleanup_pop(0);
		gate.parked--;
		gate.admits--;	/* the admitter counted this worker in */
	}
	pthread_mutex_unlock(&gate.lock);
}

/* Back from the kernel, with a request or an error. */
static void
conn_gate_leave(void)
{
	if (gate.max == 0)
		return;
	pthread_mutex_lock(&gate.lock);
	if (--gate.in == 0 && gate.parked > gate.admits) {
		gate.admits++;
		gate.in++;
		pthread_cond_signal(&gate.cv);
	}
	pthread_mutex_unlock(&gate.lock);
}

/* The kernel has taken the INIT reply: open the descriptor to spin on. */
static void
conn_spin_start(int fd)
{
	uint32_t from = (uint32_t)fd;
	int sfd, ncpu = conn_ncpu();

	if (vfs.spin_ns <= 0)
		return;
	if (ncpu < 2) {
		/* A spinner would only hold the CPU the caller needs. */
		vfs_log(LOG_INFO, "spin: one CPU to run on; workers sleep "
		    "between requests");
		return;
	}
	if ((sfd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK)) < 0) {
		vfs_log(LOG_INFO, "spin: /dev/fuse: %s; workers sleep between "
		    "requests", strerror(errno));
		return;
	}
	if (ioctl(sfd, FUSE_DEV_IOC_CLONE, &from) != 0) {
		vfs_log(LOG_INFO, "spin: FUSE_DEV_IOC_CLONE: %s; workers sleep "
		    "between requests", strerror(errno));
		close(sfd);
		return;
	}
	if ((errno = pthread_key_create(&spin_busy, conn_spin_idle)) != 0) {
		vfs_log(LOG_INFO, "spin: pthread_key_create: %s; workers sleep "
		    "between requests", strerror(errno));
		close(sfd);
		return;
	}
	spin.max = ncpu - 1;
	__atomic_store_n(&spin.fd, sfd, __ATOMIC_RELEASE);
}

/*
 * Take a spinner's place if fewer than spin.max workers spin or serve a
 * request now (the caller needs a CPU too).
 */
static bool
conn_spin_enter(void)
{
	int n = __atomic_load_n(&spin.now, __ATOMIC_RELAXED);

	do {
		if ((n & (SPIN_BUSY - 1)) + n / SPIN_BUSY >= spin.max)
			return false;
	} while (!__atomic_compare_exchange_n(&spin.now, &n, n + 1, true,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return true;
}

/*
 * Poll spin.fd for a request for up to vfs.spin_ns: splice (pipe) or read
 * (buf) it.  Returns its length, or -1 if none came (or the spin is off or
 * full): the caller then sleeps on the session's descriptor.
 */
static ssize_t
conn_spin(int sfd, void *buf, size_t len, int pipe_fd, unsigned int flags)
{
	int64_t t0;
	ssize_t n = -1;

	spin_got = false;
	if (sfd < 0)
		return -1;
	conn_spin_idle(pthread_getspecific(spin_busy));
	if (!conn_spin_enter())
		return -1;
	t0 = vfs_now_ns();
	do {
		if (pipe_fd >= 0)
			n = splice(sfd, NULL, pipe_fd, NULL, len,
			    flags | SPLICE_F_NONBLOCK);
		else
			n = read(sfd, buf, len);
		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			break;
	} while (vfs_now_ns() - t0 < vfs.spin_ns);
	__atomic_sub_fetch(&spin.now, 1, __ATOMIC_RELEASE);
	if (n < 0)
		return -1;	/* none; or an error the session's fd will repeat */
	spin_got = true;
	__atomic_add_fetch(&spin.served, 1, __ATOMIC_RELAXED);
	return n;
}

/* A request came (n >= 0; sfd: spin.fd when it was looked for): busy. */
static void
conn_spin_busy(ssize_t n, int sfd)
{
	if (n >= 0 && sfd >= 0 &&
	    pthread_setspecific(spin_busy, &spin) == 0)
		__atomic_add_fetch(&spin.now, SPIN_BUSY, __ATOMIC_RELAXED);
}

uint64_t
conn_spin_served(void)
{
	return __atomic_load_n(&spin.served, __ATOMIC_RELAXED);
}

/* After the loop: no worker reads or answers any more. */
void
conn_stop(void)
{
	if (spin.fd >= 0) {
		close(spin.fd);
		(void)pthread_key_delete(spin_busy);
	}
	spin.fd = -1;
}

static ssize_t
conn_read(int fd, void *buf, size_t len, void *userdata)
{
	const struct fuse_in_header *h = buf;
	int sfd = __atomic_load_n(&spin.fd, __ATOMIC_ACQUIRE);
	ssize_t n;

	(void)userdata;
	conn_gate_enter();
	if ((n = conn_spin(sfd, buf, len, -1, 0)) < 0)
		n = read(fd, buf, len);
	conn_gate_leave();
	conn_spin_busy(n, sfd);
	if (n >= (ssize_t)(sizeof(*h) + offsetof(struct fuse_init_in, flags) +
	    sizeof(uint32_t)) && h->opcode == FUSE_INIT) {
		const struct fuse_init_in *in = (const void *)(h + 1);
		bool ext = (in->flags & FUSE_INIT_EXT) &&
		    n >= (ssize_t)(sizeof(*h) + offsetof(struct fuse_init_in, flags2) +
		    sizeof(uint32_t));

		conn.init_unique = h->unique;
		conn.offered = (in->flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
		conn.dio_offered = ext && (in->flags2 & VMOFS_DIO_ALLOW_MMAP2);
		conn.uring_offered = ext && (in->flags2 & VMOFS_OVER_IO_URING2);
	}
	return n;
}

static ssize_t
conn_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout,
    size_t len, unsigned int flags, void *userdata)
{
	int sfd = __atomic_load_n(&spin.fd, __ATOMIC_ACQUIRE);
	ssize_t n;

	(void)userdata;
	conn_gate_enter();
	n = conn_spin(sfd, NULL, len, fdout, flags);
	if (n < 0)
		n = splice(fdin, offin, fdout, offout, len, flags);
	conn_gate_leave();
	conn_spin_busy(n, sfd);
	return n;
}

/*
 * The INIT reply: add the flags libfuse 3.14 does not know.  Returns the
 * reply's body, or NULL if it is an error or too short to read max_write;
 * *uring: it asks for the ring (uring.c), to be started once the kernel
 * has taken the reply.
 */
static const struct fuse_init_out *
conn_init_reply(struct iovec *iov, bool *uring)
{
	struct fuse_out_header *h = iov[0].iov_base;
	struct fuse_init_out *out = iov[1].iov_base;
	bool ext;

	conn.init_unique = 0;
	*uring = false;
	if (h->error != 0 || iov[1].iov_len <
	    offsetof(struct fuse_init_out, max_write) + sizeof(uint32_t))
		return NULL;
	if (conn.offered) {
		out->flags |= FUSE_HANDLE_KILLPRIV_V2;
		__atomic_store_n(&conn.killpriv, true, __ATOMIC_RELEASE);
	}
	ext = (out->flags & FUSE_INIT_EXT) && iov[1].iov_len >=
	    offsetof(struct fuse_init_out, flags2) + sizeof(uint32_t);
	if (vfs.direct_io || vfs.writeback) {	/* writeback: io.c's direct files */
		if (conn.dio_offered && ext)
			out->flags2 |= VMOFS_DIO_ALLOW_MMAP2;
		else
			vfs_log(LOG_WARNING, "direct_io files: the kernel has no "
			    "FUSE_DIRECT_IO_ALLOW_MMAP (Linux 6.6+): shared "
			    "mmap of data files fails with ENODEV");
	}
	if (uring_armed()) {
		if (conn.uring_offered && ext) {
			out->flags2 |= VMOFS_OVER_IO_URING2;
			*uring = true;
		} else {
			vfs_log(LOG_WARNING, "uring: the kernel did not offer "
			    "FUSE over io_uring at INIT (enable_uring switched "
			    "off?); requests go through /dev/fuse");
		}
	}
	return out;
}

static ssize_t
conn_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fuse_out_header *h = iov[0].iov_base;
	const struct fuse_init_out *out = NULL;
	bool uring = false;
	int first, other;
	ssize_t n;

	(void)userdata;
	if (uring_reply(iov, count)) {
		for (n = 0; count-- > 0; iov++)
			n += (ssize_t)iov->iov_len;
		return n;
	}
	if (conn.init_unique && count >= 2 && iov[0].iov_len >= sizeof(*h) &&
	    h->unique == conn.init_unique)
		out = conn_init_reply(iov, &uring);
	/* The reply goes where its request came from (spin_got); ENOENT
	 * there: try the other descriptor (see the header). */
	first = spin_got ? spin.fd : fd;
	other = spin_got ? fd : spin.fd;
	n = writev(first, iov, count);
	if (n < 0 && errno == ENOENT && h->unique != 0 && other >= 0)
		n = writev(other, iov, count);
	if (out && n >= 0) {
		/* The kernel has taken the reply: fc->initialized is set. */
		conn_raise_readahead(out->max_write);
		conn_raise_dirty();
		if (uring)
			uring_go(out->max_write, out->max_pages);
		else
			conn_spin_start(fd);
	}
	return n;
}

/*
 * After fuse_session_mount: route the session's reads and writes here,
 * and find the mount's readahead setting (limit: size=, in bytes).
 */
int
conn_setup(struct fuse_session *se, const char *mountpoint, uint64_t limit)
{
	static const struct fuse_custom_io io = {
		.read = conn_read,
		.writev = conn_writev,
		.splice_receive = conn_splice_receive,
	};

	gate.max = conn_ncpu() + 1;
	conn.ra_max = limit / 256;
	conn.dirty_max = !vfs.writeback ? 0 : limit / 4 < (1ull << 30) ?
	    limit / 4 : 1ull << 30;
	conn_find_bdi(mountpoint);
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}

bool
conn_killpriv(void)
{
	return __atomic_load_n(&conn.killpriv, __ATOMIC_ACQUIRE);
}


/*
 * (N) Clear the setuid/setgid bits of m as the kernel would
 * (setattr_should_drop_suidgid, chown_common):
 *   KP_WRITE  a write or O_TRUNC open: nothing when the caller is uid 0
 *             (standing in for CAP_FSETID), else as KP_TRUNC;
 *   KP_TRUNC  the kernel found no CAP_FSETID: setuid, and setgid when
 *             group execute is set or the caller's gid is not the file's
 *             (its primary gid only: libfuse would read /proc for more);
 *   KP_CHOWN  setuid always, setgid with group execute.
 * Returns whether the mode changed; the caller then refreshes the
 * kernel's copy of the attributes (notify_attr).
 */
bool
conn_kill_priv(struct vmeta *m, const struct fuse_ctx *ctx, enum kp_why why)
{
	mode_t old = m->mode;

	vfs_assert_locked();
	if (!S_ISREG(m->mode) || !(m->mode & (S_ISUID | S_ISGID)))
		return false;
	if (why == KP_WRITE && ctx->uid == 0)
		return false;
	m->mode &= ~(mode_t)S_ISUID;
	if ((m->mode & S_IXGRP) || (why != KP_CHOWN && ctx->gid != m->gid))
		m->mode &= ~(mode_t)S_ISGID;
	if (m->mode == old)
		return false;
	vnode_touch(m, false);
	return true;
}
