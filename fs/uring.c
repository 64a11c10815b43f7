/*
 * uring.c - FUSE over io_uring (-o uring): requests come in, and replies go
 * out, through ring buffers the daemon registers per CPU, instead of one
 * read(2) and one writev(2) on /dev/fuse each.
 *
 * Why: every FUSE request costs two system calls and, usually, a wakeup of
 * a daemon thread on another CPU.  With the ring (Linux 6.14+, protocol
 * 7.42) a request is handed to a thread of the queue of the CPU the caller
 * runs on, and one io_uring_enter both commits the reply and waits for the
 * next request.  libfuse 3.14 has no ring support, so this file carries the
 * protocol and hands each request to libfuse's fuse_session_process_buf(),
 * which dispatches it to our handlers like any other.
 *
 * The kernel's side (fs/fuse/dev_uring.c): a "queue" per possible CPU; each
 * queue holds "entries", each a pair of buffers the daemon registered with
 * FUSE_IO_URING_CMD_REGISTER:
 *
 *   iov[0] struct uring_req_header      iov[1] payload (max_write bytes)
 *     in_out  fuse_in_header / fuse_out_header
 *     op_in   the opcode's fixed struct (fuse_write_in, ...)
 *     ent     commit id, payload_sz
 *
 * A request fills an available entry of its CPU's queue and completes the
 * entry's command (a CQE); the daemon answers with
 * FUSE_IO_URING_CMD_COMMIT_AND_FETCH, which posts the reply and makes the
 * entry available again.  Until every queue has an entry, requests wait;
 * a failed REGISTER makes the kernel fall back to /dev/fuse.  FORGETs,
 * INTERRUPTs and our notifications still use /dev/fuse, so the usual
 * session loop keeps running beside the rings.
 *
 * Our side: a worker thread per entry, UR_PER_QUEUE per CPU queue, pinned
 * to its CPU, each with its own small ring (one URING_CMD and one read of
 * its stop eventfd in flight).  One entry per thread means the kernel only
 * hands a request to an idle thread; a handler that waits (notify.c's
 * bounded wait for an invalidation) holds up its own thread, not the
 * queue.  The request is laid out for libfuse as one contiguous message,
 * with no copy of the payload:
 *
 *   mem:  [ ..scratch.. | in_header | op_in ][ payload ......... ]
 *                         ^ copied here       ^ iov[1]: the kernel's copy
 *
 * The reply comes back through conn.c's writev hook (uring_reply()): the
 * worker's thread-local ur_cur says which entry the handler is serving,
 * and a reply with that entry's unique goes into the entry's buffers (the
 * out header into in_out, the body into the payload) instead of to
 * /dev/fuse.  Any other message (an EAGAIN to an INTERRUPT, a
 * notification) takes /dev/fuse as before.  Handlers reply on the thread
 * that serves the request (fs/ never replies from another thread); a
 * handler that returns without replying is answered EIO and logged, so a
 * bug cannot leak an entry.
 *
 * Lifecycle: uring_start() after fuse_daemonize() makes the workers, each
 * makes its ring and waits.  conn.c offers FUSE_OVER_IO_URING in the INIT
 * reply when uring_armed(), and calls uring_go() once the kernel has
 * taken the reply; the workers then size their payload buffers from the
 * negotiated max_write and register.  uring_stop() after the session loop
 * wakes every worker through its eventfd and joins it.  When the
 * connection ends the kernel completes every entry with ENOTCONN; the
 * worker leaves on that too.
 *
 * Locks: ur.lock guards ur.state and ur.ready (start-up handshake only).
 * A worker's struct is its own thread's, apart from its ring and eventfd,
 * made before and closed after the thread runs; its request count is
 * read by uring_served() (per worker: no cache line shared on the hot path).
 */
#include "vmofs.h"

#include <errno.h>
#include <liburing.h>
#include <stddef.h>
#include <linux/fuse.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * The ring ABI of include/uapi/linux/fuse.h (protocol 7.42); bookworm's
 * <linux/fuse.h> (7.38) predates it.  The INIT flag is conn.c's.
 */
#define UR_CMD_REGISTER		1u
#define UR_CMD_COMMIT_AND_FETCH	2u
#define UR_HDR_SZ		128

struct uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;		/* the request's unique */
	uint32_t payload_sz;		/* bytes used in the payload buffer */
	uint32_t padding;
	uint64_t reserved;
};

struct uring_req_header {
	char	 in_out[UR_HDR_SZ];	/* fuse_in_header / fuse_out_header */
	char	 op_in[UR_HDR_SZ];	/* the opcode's fixed argument */
	struct uring_ent_in_out ent;
};

struct uring_cmd_req {			/* in the SQE's 80-byte command area */
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t	 padding[6];
};

#define UR_PER_QUEUE	2	/* worker threads (one entry each) per CPU */
#define UR_SCRATCH	4096	/* room before the payload for the headers */
#define UR_SQES		4
#define UD_CMD		1	/* user_data of the entry's URING_CMD */
#define UD_STOP		2	/* user_data of the eventfd read */
#define UR_PATH_ENABLE	"/sys/module/fuse/parameters/enable_uring"

struct uworker {
	struct io_uring	 ring;
	pthread_t	 thread;
	unsigned	 qid;		/* the CPU whose queue it serves */
	int		 stopfd;	/* eventfd: uring_stop() writes it */
	uint64_t	 stopval;	/* the eventfd read's buffer */
	struct uring_req_header hdr;	/* iov[0] */
	char		*mem;		/* UR_SCRATCH + payload, mmap'd */
	size_t		 paysz;		/* payload capacity */
	struct iovec	 iov[2];
	bool		 replied;	/* the reply to hdr.ent.commit_id is in */
	uint64_t	 served;	/* atomic (written by its thread only) */
	bool		 ring_ok;	/* ring and eventfd made */
	bool		 running;	/* thread created */
};

enum ur_state { UR_IDLE, UR_GO, UR_STOP };

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	enum ur_state	 state;		/* (lock) */
	unsigned	 ready;		/* (lock) workers done with set-up */
	struct uworker	*w;
	unsigned	 nw;
	int		 fd;		/* /dev/fuse */
	size_t		 paysz;		/* set by uring_go(), before UR_GO */
	bool		 armed;		/* every worker has its ring */
	uint32_t	 failed;	/* atomic: a REGISTER was refused */
} ur = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static __thread struct uworker *ur_cur;	/* entry this thread is serving */

/*
 * -o uring at option time: can this kernel do it?  0, or 1 with one line on
 * stderr saying why not and what to do.
 */
int
uring_check(void)
{
	struct io_uring ring;
	char c = 0;
	FILE *f = fopen(UR_PATH_ENABLE, "r");
	int r;

	if (!f) {
		fprintf(stderr, "vmofs: option uring: this kernel has no FUSE "
		    "over io_uring (%s: Linux 6.14+ built with "
		    "CONFIG_FUSE_IO_URING)\n", UR_PATH_ENABLE);
		return 1;
	}
	if (fread(&c, 1, 1, f) != 1)
		c = 0;
	fclose(f);
	if (c != 'Y' && c != '1') {
		fprintf(stderr, "vmofs: option uring: FUSE over io_uring is off "
		    "in this kernel; as root: echo Y > %s\n", UR_PATH_ENABLE);
		return 1;
	}
	r = io_uring_queue_init(UR_SQES, &ring, IORING_SETUP_SQE128);
	if (r < 0) {
		fprintf(stderr, "vmofs: option uring: cannot make an io_uring "
		    "(%s; see sysctl kernel.io_uring_disabled)\n", strerror(-r));
		return 1;
	}
	io_uring_queue_exit(&ring);
	return 0;
}

/* Queues the kernel makes: one per possible CPU (num_possible_cpus()). */
static unsigned
ur_ncpus(void)
{
	char buf[256], *p = buf;
	unsigned n = 0;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");

	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	while (*p) {		/* "0-15" or "0,2-3" */
		unsigned long a, b;
		char *e;

		a = strtoul(p, &e, 10);
		if (e == p)
			break;
		b = a;
		if (*e == '-')
			b = strtoul(e + 1, &e, 10);
		if (b >= a)
			n += (unsigned)(b - a + 1);
		p = *e == ',' ? e + 1 : e + strlen(e);
	}
	return n;
}

/* Fill sqe as the entry's URING_CMD: cmd on queue w->qid for commit_id. */
static void
ur_prep_cmd(struct uworker *w, unsigned cmd, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	struct uring_cmd_req *req;

	/* Never NULL: at most one command and one read are ever queued. */
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, ur.fd, w->iov, 2, 0);
	sqe->cmd_op = cmd;
	req = (void *)((char *)sqe + offsetof(struct io_uring_sqe, cmd));
	memset(req, 0, 80);
	req->commit_id = commit_id;
	req->qid = (uint16_t)w->qid;
	io_uring_sqe_set_data64(sqe, UD_CMD);
}

/* Answer w's request (hdr.ent.commit_id) with error err, no body. */
static void
ur_reply_err(struct uworker *w, int err)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh), .error = -err, .unique = w->hdr.ent.commit_id,
	};

	memcpy(w->hdr.in_out, &oh, sizeof(oh));
	w->hdr.ent.payload_sz = 0;
}

/*
 * Serve the request the kernel put into w's buffers, leaving the reply
 * there; the caller commits it.
 */
static void
ur_serve(struct uworker *w)
{
	struct fuse_in_header ih;
	struct fuse_buf buf = { 0 };
	uint32_t pay = w->hdr.ent.payload_sz;
	size_t oplen;
	char *start;

	memcpy(&ih, w->hdr.in_out, sizeof(ih));
	if (pay > w->paysz || ih.len < sizeof(ih) + pay ||
	    (oplen = ih.len - sizeof(ih) - pay) > UR_HDR_SZ) {
		vfs_log(LOG_ERR, "uring: request %llu (opcode %u): length %u "
		    "with payload %u does not add up; answering EIO",
		    (unsigned long long)ih.unique, ih.opcode, ih.len, pay);
		ur_reply_err(w, EIO);
		return;
	}
	start = w->mem + UR_SCRATCH - sizeof(ih) - oplen;
	memcpy(start, &ih, sizeof(ih));
	memcpy(start + sizeof(ih), w->hdr.op_in, oplen);
	buf.mem = start;
	buf.size = ih.len;
	w->replied = false;
	ur_cur = w;
	fuse_session_process_buf(vfs.se, &buf);
	ur_cur = NULL;
	if (!w->replied) {
		vfs_log(LOG_ERR, "uring: request %llu (opcode %u) got no reply; "
		    "answering EIO", (unsigned long long)ih.unique, ih.opcode);
		ur_reply_err(w, EIO);
	}
	__atomic_store_n(&w->served, w->served + 1, __ATOMIC_RELAXED);
}

/*
 * (conn.c's writev hook) If this thread is serving a ring request and iov
 * is its reply, put the reply into the entry's buffers and return true;
 * false: the message goes to /dev/fuse.
 */
bool
uring_reply(const struct iovec *iov, int count)
{
	struct uworker *w = ur_cur;
	struct fuse_out_header oh;
	size_t body = 0;
	char *dst;
	int i;

	if (!w || count < 1 || iov[0].iov_len < sizeof(oh))
		return false;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (oh.unique != w->hdr.ent.commit_id || w->replied)
		return false;
	for (i = 1; i < count; i++)
		body += iov[i].iov_len;
	w->replied = true;
	if (body > w->paysz) {
		vfs_log(LOG_ERR, "uring: reply to %llu is %zu bytes, more than "
		    "the %zu of the ring buffer; answering EIO",
		    (unsigned long long)oh.unique, body, w->paysz);
		ur_reply_err(w, EIO);
		return true;
	}
	/* memmove: a body may point into the request, which shares the room. */
	dst = w->mem + UR_SCRATCH;
	for (i = 1; i < count; i++) {
		memmove(dst, iov[i].iov_base, iov[i].iov_len);
		dst += iov[i].iov_len;
	}
	memcpy(w->hdr.in_out, &oh, sizeof(oh));
	w->hdr.ent.payload_sz = (uint32_t)body;
	return true;
}

/* Set-up done (ok or not): count it and wait for the go or the stop. */
static enum ur_state
ur_wait_go(void)
{
	enum ur_state s;

	pthread_mutex_lock(&ur.lock);
	ur.ready++;
	pthread_cond_broadcast(&ur.cond);
	while (ur.state == UR_IDLE)
		pthread_cond_wait(&ur.cond, &ur.lock);
	s = ur.state;
	pthread_mutex_unlock(&ur.lock);
	return s;
}

/*
 * Register the entry, retrying while the kernel is not yet initialised.
 * A refused REGISTER completes at once; an accepted one only when the
 * first request comes (that CQE is left for ur_loop).
 */
static int
ur_register(struct uworker *w)
{
	struct __kernel_timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
	struct io_uring_cqe *cqe;
	int r, tries;

	for (tries = 0; tries < 100; tries++) {
		ur_prep_cmd(w, UR_CMD_REGISTER, 0);
		if ((r = io_uring_submit(&w->ring)) < 0)
			return r;
		r = io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts);
		if (r == -ETIME)
			return 0;
		if (r < 0)
			return r;
		if (cqe->user_data != UD_CMD || cqe->res >= 0)
			return 0;
		r = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
		if (r != -EAGAIN)
			return r;
	}
	return -EAGAIN;
}

static inline void
ur_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/*
 * Submit what is queued (the commit of the last reply) and wait for the
 * next completion, spinning up to vfs.spin_ns (-o spin=) before sleeping.
 *
 * Why spin: a caller doing synchronous I/O sends its next request a few
 * microseconds after the reply.  A worker that sleeps must then be woken,
 * and on a virtual machine a halted vCPU costs an IPI and an exit; the
 * spinning worker instead finds the request's task work flagged
 * (IORING_SQ_TASKRUN), runs it (io_uring_get_events) and serves at once.
 * The caller usually runs on this very CPU (the queue is its CPU's), so
 * the two take turns on one CPU with no wakeup across.  The cost is
 * bounded: at most vfs.spin_ns of CPU after each request, nothing when
 * idle.  Measured in docs/benchmarks.md (FUSE over io_uring).
 */
static int
ur_wait(struct uworker *w)
{
	int64_t t0;
	int r;

	if ((r = io_uring_submit(&w->ring)) < 0)
		return r;
	t0 = vfs_now_ns();
	do {
		if (io_uring_cq_ready(&w->ring))
			return 0;
		if (IO_URING_READ_ONCE(*w->ring.sq.kflags) & IORING_SQ_TASKRUN)
			(void)io_uring_get_events(&w->ring);
		else
			ur_cpu_relax();
	} while (vfs_now_ns() - t0 < vfs.spin_ns);
	return io_uring_submit_and_wait(&w->ring, 1);
}

/* The worker's loop: serve, commit and fetch, until stopped or closed. */
static void
ur_loop(struct uworker *w)
{
	struct io_uring_cqe *cqe;
	int r;

	for (;;) {
		r = ur_wait(w);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			vfs_log(LOG_ERR, "uring: queue %u: %s", w->qid,
			    strerror(-r));
			return;
		}
		while (io_uring_peek_cqe(&w->ring, &cqe) == 0) {
			uint64_t ud = cqe->user_data;
			int res = cqe->res;

			io_uring_cqe_seen(&w->ring, cqe);
			if (ud == UD_STOP)
				return;
			if (res < 0) {
				/* ENOTCONN/ECONNABORTED/ECANCELED: unmounted. */
				if (res != -ENOTCONN && res != -ECONNABORTED &&
				    res != -ECANCELED)
					vfs_log(LOG_ERR, "uring: queue %u: %s",
					    w->qid, strerror(-res));
				return;
			}
			ur_serve(w);
			ur_prep_cmd(w, UR_CMD_COMMIT_AND_FETCH,
			    w->hdr.ent.commit_id);
		}
	}
}

static void *
ur_thread(void *arg)
{
	struct uworker *w = arg;
	struct io_uring_sqe *sqe;
	cpu_set_t cpus;
	sigset_t all;
	int r;

	sigfillset(&all);		/* signals are the session loop's */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	CPU_ZERO(&cpus);
	CPU_SET(w->qid, &cpus);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	r = io_uring_queue_init(UR_SQES, &w->ring, IORING_SETUP_SQE128 |
	    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
	    IORING_SETUP_TASKRUN_FLAG);
	if (r < 0)		/* before 6.1: without the hints */
		r = io_uring_queue_init(UR_SQES, &w->ring, IORING_SETUP_SQE128);
	if (r < 0) {
		vfs_log(LOG_ERR, "uring: queue %u: cannot make a ring: %s",
		    w->qid, strerror(-r));
	} else if ((w->stopfd = eventfd(0, EFD_CLOEXEC)) < 0) {
		vfs_log(LOG_ERR, "uring: eventfd: %s", strerror(errno));
		io_uring_queue_exit(&w->ring);
	} else {
		w->ring_ok = true;
	}
	if (ur_wait_go() != UR_GO || !w->ring_ok)
		return NULL;
	w->paysz = ur.paysz;
	w->mem = mmap(NULL, UR_SCRATCH + w->paysz, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->mem == MAP_FAILED) {
		w->mem = NULL;
		vfs_log(LOG_ERR, "uring: queue %u: no memory for the buffers",
		    w->qid);
		return NULL;
	}
	w->iov[0] = (struct iovec){ &w->hdr, sizeof(w->hdr) };
	w->iov[1] = (struct iovec){ w->mem + UR_SCRATCH, w->paysz };
	sqe = io_uring_get_sqe(&w->ring);
	io_uring_prep_read(sqe, w->stopfd, &w->stopval, sizeof(w->stopval), 0);
	io_uring_sqe_set_data64(sqe, UD_STOP);
	if ((r = ur_register(w)) != 0) {
		if (__atomic_fetch_add(&ur.failed, 1, __ATOMIC_RELAXED) == 0)
			vfs_log(LOG_WARNING, "uring: the kernel refused the ring "
			    "(%s); requests go through /dev/fuse", strerror(-r));
		return NULL;
	}
	ur_loop(w);
	return NULL;
}

/*
 * After fuse_daemonize, before the session loop: make the workers and
 * their rings.  On failure the mount goes on through /dev/fuse; the INIT
 * reply will not offer the ring (uring_armed() false).
 */
void
uring_start(int fuse_fd)
{
	unsigned ncpu = ur_ncpus(), i, ok = 0;

	if (ncpu == 0 || ncpu > 4096 ||
	    !(ur.w = calloc((size_t)ncpu * UR_PER_QUEUE, sizeof(*ur.w)))) {
		vfs_log(LOG_WARNING, "uring: cannot size the queues; requests "
		    "go through /dev/fuse");
		return;
	}
	ur.fd = fuse_fd;
	for (i = 0; i < ncpu * UR_PER_QUEUE; i++) {
		struct uworker *w = &ur.w[ur.nw];

		w->qid = i / UR_PER_QUEUE;
		w->stopfd = -1;
		if (pthread_create(&w->thread, NULL, ur_thread, w) != 0) {
			vfs_log(LOG_ERR, "uring: cannot start a worker");
			break;
		}
		w->running = true;
		ur.nw++;
	}
	pthread_mutex_lock(&ur.lock);
	while (ur.ready < ur.nw)
		pthread_cond_wait(&ur.cond, &ur.lock);
	pthread_mutex_unlock(&ur.lock);
	for (i = 0; i < ur.nw; i++)
		ok += ur.w[i].ring_ok;
	ur.armed = ur.nw == ncpu * UR_PER_QUEUE && ok == ur.nw;
	if (!ur.armed) {
		vfs_log(LOG_WARNING, "uring: %u of %u rings made; requests go "
		    "through /dev/fuse", ok, ncpu * UR_PER_QUEUE);
		uring_stop();
	} else
		vfs_log(LOG_INFO, "uring: %u queues, %u workers each", ncpu,
		    UR_PER_QUEUE);
}

/* Offer FUSE_OVER_IO_URING in the INIT reply? */
bool
uring_armed(void)
{
	return ur.armed;
}

/*
 * (conn.c) The kernel took an INIT reply that asked for the ring: size the
 * payload buffers as the kernel will (at least max_write and max_pages
 * pages, FUSE_MIN_READ_BUFFER) and let the workers register.
 */
void
uring_go(uint32_t max_write, uint32_t max_pages)
{
	size_t p = max_write;

	if ((size_t)max_pages * VFS_PAGE > p)
		p = (size_t)max_pages * VFS_PAGE;
	if (p < 8192)
		p = 8192;
	pthread_mutex_lock(&ur.lock);
	if (ur.state == UR_IDLE) {
		ur.paysz = (p + VFS_PAGE - 1) & ~(size_t)(VFS_PAGE - 1);
		ur.state = UR_GO;
		pthread_cond_broadcast(&ur.cond);
	}
	pthread_mutex_unlock(&ur.lock);
}

/* After the session loop: stop and join every worker, free the rings. */
void
uring_stop(void)
{
	uint64_t one = 1;
	unsigned i;

	pthread_mutex_lock(&ur.lock);
	ur.state = UR_STOP;
	pthread_cond_broadcast(&ur.cond);
	pthread_mutex_unlock(&ur.lock);
	for (i = 0; i < ur.nw; i++) {
		struct uworker *w = &ur.w[i];

		if (w->stopfd >= 0 && write(w->stopfd, &one, sizeof(one)) < 0)
			vfs_log(LOG_DEBUG, "uring: eventfd write: %s",
			    strerror(errno));
		if (w->running)
			pthread_join(w->thread, NULL);
		if (w->ring_ok) {
			io_uring_queue_exit(&w->ring);
			close(w->stopfd);
		}
		if (w->mem)
			munmap(w->mem, UR_SCRATCH + w->paysz);
	}
	free(ur.w);
	ur.w = NULL;
	ur.nw = 0;
}

/* Requests served through the rings (the stats).  Read while the
 * workers exist: from handlers, which uring_stop() outlives. */
uint64_t
uring_served(void)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < ur.nw; i++)
		n += __atomic_load_n(&ur.w[i].served, __ATOMIC_RELAXED);
	return n;
}
