/*
 * main.c - the vmofs daemon: options, mount, daemonise, serve, unwind.
 *
 *   vmofs [options] MOUNTPOINT
 *   vmofs SOURCE MOUNTPOINT -o opts      (as mount.fuse3 runs it)
 *
 * Options beside libfuse's: -f (foreground), -d (debug, implies -f),
 * -o size=BYTES|N% (page limit; default 50% of RAM), -o backing=DIR
 * (persistent mode, backing.c), -o compress (cold anonymous pages go to
 * libvm's LZ4 store under pressure), and the speed options -o direct_io
 * (data opens bypass the kernel page cache) and -o prealloc (the page
 * arena is faulted in at start and kept) and -o uring (FUSE over io_uring,
 * uring.c); -o spin=USEC (how long a worker polls for the next request
 * before it sleeps, conn.c; default 30, 0 never), -o log=FILE (log lines
 * go to FILE, appended, instead of syslog or stderr; SIGHUP reopens it,
 * util.c).  Every problem found before
 * the mount is one line on stderr and exit status 1; nothing is mounted.
 * default_permissions is always on: the kernel enforces the modes and
 * owners we store.
 *
 * Order: parse -> vm -> vnode table -> backing files -> session -> mount
 * -> daemonise -> prealloc -> notifier and writeback threads ->
 * multithreaded loop;
 * teardown unwinds in reverse through the err_outN ladder: when the loop
 * ends (unmount, SIGTERM, SIGINT) every backed VMO is written back before
 * the mount goes.  Threads start after fuse_daemonize (fork).
 */
#include "vmofs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

struct vfs vfs;

#define VFS_SPIN_US_DEFAULT	30	/* -o spin=: docs/benchmarks.md */
#define VFS_SPIN_US_MAX		1000

struct vopts {
	char	*size;
	char	*backing;
	int	 compress;
	int	 direct_io;
	int	 prealloc;
	int	 uring;
	int	 writeback;
	char	*spin;
	char	*log;
	int	 foreground;
	int	 help;
	int	 version;
	int	 npos;
	char	*pos[2];
	int	 too_many;
};

enum { KEY_FG, KEY_DEBUG, KEY_HELP, KEY_VERSION };

#define VOPT(t, f, v) { t, offsetof(struct vopts, f), v }
static const struct fuse_opt vopt_spec[] = {
	VOPT("size=%s", size, 0),
	VOPT("backing=%s", backing, 0),
	VOPT("compress", compress, 1),
	VOPT("direct_io", direct_io, 1),
	VOPT("prealloc", prealloc, 1),
	VOPT("uring", uring, 1),
	VOPT("writeback_cache", writeback, 1),
	VOPT("spin=%s", spin, 0),
	VOPT("log=%s", log, 0),
	FUSE_OPT_KEY("-f", KEY_FG),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

static int
vopt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct vopts *o = data;

	(void)outargs;
	switch (key) {
	case KEY_FG:
		o->foreground = 1;
		return 0;
	case KEY_DEBUG:
		o->foreground = 1;
		return 1;	/* libfuse's session takes -d too */
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (o->npos < 2)
			o->pos[o->npos++] = strdup(arg);
		else
			o->too_many = 1;
		return 0;
	default:
		return 1;
	}
}

static void
usage(const char *prog)
{
	printf("usage: %s [options] MOUNTPOINT\n"
	    "       %s SOURCE MOUNTPOINT [-o options]\n\n"
	    "    -f                 stay in the foreground\n"
	    "    -d                 debug output (implies -f)\n"
	    "    -o size=BYTES      memory limit: K, M, G suffix or N%% of RAM"
	    " (default 50%%)\n"
	    "    -o backing=DIR     persistent mode: VMO NAME is the file DIR/NAME\n"
	    "    -o compress        compress cold anonymous pages under memory pressure\n"
	    "    -o direct_io       data files bypass the kernel page cache (faster\n"
	    "                       large writes, slower small reads; docs/usage.md)\n"
	    "    -o prealloc        hold the whole size in memory from the start\n"
	    "                       (no first-touch cost on writes; docs/usage.md)\n"
	    "    -o uring           FUSE over io_uring: requests through per-CPU\n"
	    "                       rings (Linux 6.14+, enable_uring; docs/usage.md)\n"
	    "    -o writeback_cache the kernel gathers small writes before sending\n"
	    "                       them (faster; write errors show at fsync/close;\n"
	    "                       docs/usage.md)\n"
	    "    -o spin=USEC       workers poll this long for the next request\n"
	    "                       before sleeping (default 30, 0: never)\n"
	    "    -o log=FILE        append log lines to FILE (default: syslog;\n"
	    "                       with -f, stderr); SIGHUP reopens it\n"
	    "    -o OPT             any FUSE mount option\n", prog, prog);
}

/*
 * -o writeback_cache: bytes that write(2) reported written may still be
 * dirty in the kernel's page cache, and when the daemon leaves they are
 * gone.  Unmounting writes them first (the kernel syncs the superblock);
 * SIGTERM and SIGINT must too, so they first reach wb_exit_main, which
 * writes back every file open for writing through the cache, one by one,
 * waiting for each (the WRITEs come to the still-running workers, and in
 * backing mode backing_stop then writes them to the files), and then
 * raises the signal again for libfuse's handler.  syncfs(2) alone is not
 * enough: FUSE marks its mappings as having no data integrity, and
 * sync_inodes_sb then starts their write-back without waiting for it (the
 * daemon left with the WRITEs still queued; docs/testing.md).  Every page
 * dirty in the kernel belongs to such a file: close writes a file's pages
 * back, and a mapping keeps its file open.  A second signal while
 * that runs goes to libfuse's handler at once.  SIGKILL keeps what was
 * fsynced, as SPEC 6 says.
 */
static int wb_pipe[2] = { -1, -1 };

/*
 * -o writeback_cache needs FUSE's write-back without temporary pages
 * (Linux 6.16): a folio then stays under writeback until the daemon has
 * answered its WRITE, so notify_flush's sync_file_range(WAIT_AFTER) returns
 * only once the bytes are here.  Older kernels end a folio's writeback as
 * soon as they have copied it aside: the flush before a clone's snapshot
 * could return with the WRITEs still queued, and the close of the handle
 * it opened would take the inode lock that the caller of a setxattr or
 * fallocate being served holds.  1 (after a line on stderr) if the running
 * kernel is older; 0 if newer or not known.
 */
static int
wb_kernel_check(void)
{
	struct utsname u;
	const char *rel = getenv("VMOFS_TEST_KERNEL");	/* tests: pretend */
	unsigned maj, min;

	if (!rel || !*rel)
		rel = uname(&u) == 0 ? u.release : "";
	if (sscanf(rel, "%u.%u", &maj, &min) != 2)
		return 0;
	if (maj > 6 || (maj == 6 && min >= 16))
		return 0;
	fprintf(stderr, "vmofs: option writeback_cache needs Linux 6.16 or "
	    "later (this is %s): older kernels end a page's write-back before "
	    "the daemon has its bytes, so a clone could miss them\n", rel);
	return 1;
}
static struct sigaction wb_old_term, wb_old_int;
static volatile sig_atomic_t wb_signalled;

static void
wb_signal(int sig)
{
	char c = (char)sig;
	struct sigaction *old = sig == SIGTERM ? &wb_old_term : &wb_old_int;

	if (wb_signalled++ && old->sa_handler != SIG_DFL &&
	    old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	if (write(wb_pipe[1], &c, 1) < 0)
		_exit(1);
}

static void *
wb_exit_main(void *arg)
{
	char c = SIGTERM;
	int fd;

	(void)arg;
	while (read(wb_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	/* start every file's write-back at once (syncfs does not wait) */
	fd = open(vfs.mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) != 0)
		vfs_log(LOG_WARNING, "writeback_cache: syncfs of %s before "
		    "leaving: %s", vfs.mountpoint, strerror(errno));
	if (fd >= 0)
		close(fd);
	/* then each file still open for writing, one by one, waited for */
	if (notify_flush(NULL, 0, VMO_WHOLE, true) != 0)
		vfs_log(LOG_ERR, "writeback_cache: a file's cached bytes did not "
		    "reach the daemon before leaving");
	else
		vfs_log(LOG_INFO, "writeback_cache: synced before leaving");
	sigaction(SIGTERM, &wb_old_term, NULL);
	sigaction(SIGINT, &wb_old_int, NULL);
	kill(getpid(), c);
	return NULL;
}

/* After daemonising: route SIGTERM and SIGINT through wb_exit_main. */
static int
wb_signals(void)
{
	struct sigaction sa = { .sa_handler = wb_signal };
	pthread_t t;
	int r;

	if (pipe2(wb_pipe, O_CLOEXEC) != 0)
		return -errno;
	if ((r = pthread_create(&t, NULL, wb_exit_main, NULL)) != 0)
		return -r;
	pthread_detach(t);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, &wb_old_term) != 0 ||
	    sigaction(SIGINT, &sa, &wb_old_int) != 0)
		return -errno;
	return 0;
}

/* INIT: -o writeback_cache asks for the kernel's writeback cache. */
static void
vfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (!vfs.writeback)
		return;
	if (conn->capable & FUSE_CAP_WRITEBACK_CACHE)
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		vfs_log(LOG_WARNING, "writeback_cache: the kernel does not "
		    "offer it; every write goes to the daemon");
}

static const struct fuse_lowlevel_ops vfs_ops = {
	.init = vfs_init,
	.lookup = ns_lookup,
	.forget = ns_forget,
	.forget_multi = ns_forget_multi,
	.getattr = ns_getattr,
	.setattr = ns_setattr,
	.mknod = ns_mknod,
	.mkdir = ns_mkdir,
	.unlink = ns_unlink,
	.rmdir = ns_rmdir,
	.symlink = ns_symlink,
	.rename = ns_rename,
	.link = ns_link,
	.create = ns_create,
	.opendir = ns_opendir,
	.readdir = ns_readdir,
	.readdirplus = ns_readdirplus,
	.releasedir = ns_releasedir,
	.statfs = ns_statfs,
	.open = io_open,
	.read = io_read,
	.write_buf = io_write_buf,
	/* no .flush: ENOSYS, and the kernel sends no more FLUSH (no_flush).
	 * Every write is in the VMO when its reply leaves, so a close has
	 * nothing to wait for; opens say noflush, which the kernel ignores
	 * under -o writeback_cache, where each close sent one FLUSH (after
	 * its write-back, whose errors close(2) still reports). */
	.fsync = io_fsync,
	.release = io_release,
	.fallocate = io_fallocate,
	.lseek = io_lseek,
	.copy_file_range = io_copy_file_range,
	.setxattr = xa_setxattr,
	.getxattr = xa_getxattr,
	.listxattr = xa_listxattr,
	.removexattr = xa_removexattr,
};

/* MemAvailable from /proc/meminfo, in bytes; 0 if unknown. */
static uint64_t
vfs_mem_available(void)
{
	unsigned long long kb = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/*
 * -o prealloc: fault the arena in, after the fork of fuse_daemonize (which
 * would make every page copy-on-write again) and before the loop serves a
 * request, so the first writes find their pages ready.  On failure the
 * mount goes on without it (pages come from the OS as they are used).
 */
static void
vfs_prealloc(uint64_t limit)
{
	struct timespec t0, t1;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = vm_prealloc(vfs.vm);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r != 0) {
		vfs_log(LOG_WARNING, "prealloc: cannot fault in %llu MiB: %s; "
		    "going on without it", (unsigned long long)(limit >> 20),
		    strerror(-r));
		return;
	}
	vfs_log(LOG_INFO, "prealloc: %llu MiB resident in %.1f s",
	    (unsigned long long)(limit >> 20), (double)(t1.tv_sec - t0.tv_sec) +
	    (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

/*
 * Daemonising without -o log=: the log goes to syslog, which drops it
 * where nothing listens on /dev/log (containers, minimal systems).  Say
 * so once, on the terminal, while there still is one.
 */
static void
vfs_warn_no_syslog(void)
{
	struct stat st;

	if (stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode))
		return;
	fprintf(stderr, "vmofs: warning: no syslog (/dev/log): the daemon's "
	    "log lines will be lost; use -o log=FILE or -f\n");
}

/* Check the options that need no libfuse; 0 or exit status. */
static int
vfs_check_opts(struct vopts *o, const char *prog, uint64_t *limit)
{
	struct stat st;

	if (o->too_many || o->npos == 0) {
		fprintf(stderr, "vmofs: %s\n", o->npos ? "too many arguments" :
		    "no mountpoint given");
		fprintf(stderr, "usage: %s [options] MOUNTPOINT\n", prog);
		return 1;
	}
	if (o->log && vfs_log_open(o->log) != 0)
		return 1;
	if (o->backing && backing_open(o->backing) != 0)
		return 1;
	if (o->size) {
		if (vfs_parse_size(o->size, limit) != 0) {
			fprintf(stderr, "vmofs: option size=%s: expected BYTES "
			    "(at least 4096, K/M/G suffix) or N%% of RAM\n",
			    o->size);
			return 1;
		}
	} else {
		*limit = (uint64_t)sysconf(_SC_PHYS_PAGES) *
		    (uint64_t)sysconf(_SC_PAGESIZE) / 2;
	}
	if (o->prealloc) {
		uint64_t avail = vfs_mem_available();

		if (avail != 0 && *limit > avail) {
			fprintf(stderr, "vmofs: option prealloc: size %llu MiB "
			    "is more than the memory available now (%llu MiB)\n",
			    (unsigned long long)(*limit >> 20),
			    (unsigned long long)(avail >> 20));
			return 1;
		}
	}
	if (o->uring && uring_check() != 0)
		return 1;
	if (o->writeback && (o->direct_io || o->uring)) {
		/* direct_io: nothing would be cached.  uring: a handler
		 * waiting for the kernel's write-back (notify_flush) may be
		 * the one thread of the ring those WRITEs come through. */
		fprintf(stderr, "vmofs: option writeback_cache cannot go with "
		    "%s\n", o->direct_io ? "direct_io" : "uring");
		return 1;
	}
	if (o->writeback && wb_kernel_check() != 0)
		return 1;
	vfs.spin_ns = VFS_SPIN_US_DEFAULT * 1000;
	if (o->spin) {
		uint64_t us;

		if (vfs_parse_num(o->spin, &us, NULL) != 0 ||
		    us > VFS_SPIN_US_MAX) {
			fprintf(stderr, "vmofs: option spin=%s: expected "
			    "microseconds, 0 to %d\n", o->spin, VFS_SPIN_US_MAX);
			return 1;
		}
		vfs.spin_ns = (int64_t)us * 1000;
	}
	if (stat(vfs.mountpoint, &st) != 0) {
		fprintf(stderr, "vmofs: mountpoint %s: %s\n", vfs.mountpoint,
		    strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vmofs: mountpoint %s: not a directory\n",
		    vfs.mountpoint);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_loop_config *lcfg = NULL;
	struct vm_config vcfg = { 0 };
	struct vopts o = { 0 };
	char fsopt[PATH_MAX + 64];
	uint64_t limit = 0;
	int ret = 1, r;

	if (fuse_opt_parse(&args, &o, vopt_spec, vopt_proc) != 0)
		goto err_out0;
	if (o.help) {
		usage(argv[0]);
		ret = 0;
		goto err_out0;
	}
	if (o.version) {
		printf("vmofs 0.1, libfuse %s\n", fuse_pkgversion());
		ret = 0;
		goto err_out0;
	}
	vfs.backing_fd = -1;
	vfs.foreground = o.foreground;
	vfs.timeout = 86400.0;
	if (o.npos > 0)
		vfs.mountpoint = realpath(o.pos[o.npos - 1], NULL);
	if (o.npos > 0 && !vfs.mountpoint) {
		fprintf(stderr, "vmofs: mountpoint %s: %s\n", o.pos[o.npos - 1],
		    strerror(errno));
		goto err_out0;
	}
	if ((ret = vfs_check_opts(&o, argv[0], &limit)) != 0)
		goto err_out0;
	ret = 1;
	snprintf(fsopt, sizeof(fsopt),
	    "-odefault_permissions,subtype=vmofs,fsname=%s",
	    o.npos == 2 ? o.pos[0] : "vmofs");
	if (fuse_opt_add_arg(&args, fsopt) != 0)
		goto err_out0;

	vcfg.limit_bytes = limit;
	vcfg.compress = o.compress != 0;
	vfs.direct_io = o.direct_io != 0;
	vfs.writeback = o.writeback != 0;
	if ((r = vm_create(&vcfg, &vfs.vm)) != 0) {
		fprintf(stderr, "vmofs: cannot create the VM (size %llu): %s\n",
		    (unsigned long long)limit, strerror(-r));
		goto err_out0;
	}
	if (vnode_table_init() != 0) {
		fprintf(stderr, "vmofs: out of memory\n");
		goto err_out1;
	}
	if (o.backing && backing_load(o.backing) != 0)
		goto err_out2;
	vfs.se = fuse_session_new(&args, &vfs_ops, sizeof(vfs_ops), NULL);
	if (!vfs.se)
		goto err_out2;	/* libfuse said why */
	if (fuse_set_signal_handlers(vfs.se) != 0)
		goto err_out3;
	if ((r = vfs_log_sighup()) != 0) {
		fprintf(stderr, "vmofs: option log=: cannot handle SIGHUP: %s\n",
		    strerror(-r));
		goto err_out4;
	}
	if (fuse_session_mount(vfs.se, vfs.mountpoint) != 0)
		goto err_out4;	/* libfuse said why */
	if (conn_setup(vfs.se, vfs.mountpoint, limit) != 0)
		goto err_out5;
	if (!vfs.foreground && !vfs_log_to_file())
		vfs_warn_no_syslog();
	if (fuse_daemonize(vfs.foreground) != 0)
		goto err_out5;
	if (!vfs.foreground && !vfs_log_to_file())
		openlog("vmofs", LOG_PID, LOG_DAEMON);
	if (o.prealloc)
		vfs_prealloc(limit);
	if ((r = notify_start()) != 0) {
		vfs_log(LOG_ERR, "cannot start the notifier: %s", strerror(-r));
		goto err_out5;
	}
	if (vfs.writeback && (r = wb_signals()) != 0) {
		vfs_log(LOG_ERR, "writeback_cache: cannot handle SIGTERM: %s",
		    strerror(-r));
		goto err_out6;
	}
	if ((r = vm_reclaimer_start(vfs.vm)) != 0) {
		vfs_log(LOG_ERR, "cannot start the reclaimer: %s", strerror(-r));
		goto err_out6;
	}
	if ((r = backing_start()) != 0) {
		vfs_log(LOG_ERR, "cannot start the writeback thread: %s",
		    strerror(-r));
		goto err_out6;
	}
	if (!(lcfg = fuse_loop_cfg_create()))
		goto err_out7;
	fuse_loop_cfg_set_clone_fd(lcfg, 0);
	/* Idle workers: libfuse's default, every one kept; fs/conn.c's read
	 * gate keeps all but CPUs + 1 of them out of the kernel's read. */
	/* writeback_cache: a handler may wait for the kernel's WRITEs
	 * (notify_flush), which other workers must be free to serve */
	if (vfs.writeback)
		fuse_loop_cfg_set_max_threads(lcfg, 64);
	if (o.uring)
		uring_start(fuse_session_fd(vfs.se));
	ret = fuse_session_loop_mt(vfs.se, lcfg) != 0;
	uring_stop();	/* before writeback: no request is served after */
	conn_stop();
	fuse_loop_cfg_destroy(lcfg);

err_out7:
	/* Unmount, SIGTERM or SIGINT: write back everything before leaving. */
	if (backing_stop() != 0)
		ret = 1;
err_out6:
	notify_stop();
err_out5:
	fuse_session_unmount(vfs.se);
err_out4:
	fuse_remove_signal_handlers(vfs.se);
err_out3:
	fuse_session_destroy(vfs.se);
err_out2:
	vnode_table_fini();
err_out1:
	vm_destroy(vfs.vm);
err_out0:
	backing_fini();	/* after the VMOs: closes the backing files */
	vfs_log_close();
	free(o.size);
	free(o.log);
	free(o.backing);
	free(o.spin);
	free(o.pos[0]);
	free(o.pos[1]);
	free(vfs.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
