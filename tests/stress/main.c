/*
 * main.c - vmofs-stress: N workers issue random operations through a
 * fresh vmofs mount, each answer checked against a model (model.c,
 * ops.c); docs/testing.md says how to run it and replay a failure.
 *
 *   vmofs-stress [--seconds S] [--workers N] [--seed X] [--vmofs PATH]
 *                [--mount-opts OPTS]... [--max-vmos N] [--max-size BYTES]
 *                [--hang S] [--no-aslr] [--results FILE] [--trace FILE]
 *                [--verbose]
 *
 * Each --mount-opts is one phase (one mount, S / phases seconds); with
 * none, four: room to spare, a small anonymous mount (ENOSPC allowed near
 * the limit), the same with compress, a backed mount (ENOSPC never).  In
 * OPTS, a bare "backing" means a fresh backing directory made and removed
 * by the tester; "backing=DIR" uses DIR (it must be empty; it is kept).
 *
 * A phase: mount (the daemon's stdout and stderr go to a log file), run
 * the workers while a monitor watches for a dead daemon and for ops stuck
 * longer than --hang seconds (then the FUSE connection is aborted, so
 * nothing waits forever), stop, check everything once more while quiet
 * (every VMO read whole, stats, the whole tree listed, no page leaked),
 * unmount (the daemon must exit 0: ASan's leak check runs then), scan the
 * daemon's log for sanitizer reports and failed assertions, and on a
 * backed phase compare DIR's files with the model, mount DIR again and
 * check it once more.  The mount is always taken down and the daemon
 * never left running: mountlib's atexit handler, SIGINT, SIGTERM and a
 * SIGALRM watchdog, which abort the connection first, and a guardian
 * process for when the tester dies without running any of them.
 *
 * Seeds: each worker's random stream comes from (--seed, the phase's OPTS
 * as written, the worker's number), so a seed replays the same sequence
 * of choices per worker; which VMO an op meets depends on the other
 * workers, so the interleaving differs from run to run (--workers 1
 * replays exactly, up to reclaim timing).
 *
 * Output: one cmocka-style test per phase, the summary lines
 * tests/run-tests.sh counts, exit status 1 if any phase failed.
 */
#include "stress.h"
#include "../mount/mountlib.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MAXPH	16

const char *errno_name(int e);
void stress_sigbus(int sig);

struct phase *PH;
char MNT[128];
atomic_int stop_flag;
int nworkers = 4;
struct worker *workers;
int verbose;
FILE *trace;
pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

static struct ml_mount M;
static struct phase phases[MAXPH];
static int nphases;
static double seconds = 60;
static uint64_t seed;
static int hang_s = 60, max_vmos = 40;
static uint64_t max_size_opt;
static const char *results;
static char work[64];		/* /tmp/vmofs-stress.XXXXXX: logs */
static char logpath[128];
static int keep_work;

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int failed_flag;
static int fail_worker;
static char fail_msg[8192];

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fail_lock);
	if (!atomic_load(&failed_flag)) {
		va_start(ap, fmt);
		vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
		va_end(ap);
		fail_worker = w ? w->id : -1;
		atomic_store(&failed_flag, 1);
	}
	pthread_mutex_unlock(&fail_lock);
	if (w)
		lg_more(w, " FAILED");
	atomic_store(&stop_flag, 1);
}

bool
failed(void)
{
	return atomic_load(&failed_flag) != 0;
}

/* ---- options ------------------------------------------------------ */

static uint64_t
parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; break;
	case 'm': case 'M': v <<= 20; break;
	case 'g': case 'G': v <<= 30; break;
	case '%': v = (uint64_t)sysconf(_SC_PHYS_PAGES) * P * v / 100; break;
	}
	return v;
}

static uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Fill a phase from its OPTS; the backing DIR is made at mount time. */
static int
phase_init(struct phase *ph, const char *spec)
{
	char buf[512], *tok, *save;

	memset(ph, 0, sizeof(*ph));
	ph->spec = spec;
	ph->limit = (uint64_t)sysconf(_SC_PHYS_PAGES) * P / 2;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "size=", 5))
			ph->limit = PGDN(parse_size(tok + 5));
		else if (!strcmp(tok, "compress"))
			ph->compress = true;
		else if (!strcmp(tok, "backing"))
			ph->backed = ph->bk_auto = true;
		else if (!strncmp(tok, "backing=", 8)) {
			ph->backed = true;
			snprintf(ph->bkdir, sizeof(ph->bkdir), "%s", tok + 8);
		}
	}
	/* 64 MiB and less: a pressure phase, whose VMOs outgrow the limit */
	ph->pressure = ph->limit <= 64 * 1048576;
	ph->max_size = max_size_opt ? PGDN(max_size_opt) :
	    ph->pressure ? ph->limit / 4 : ph->limit / 8;
	if (ph->max_size > 4 * 1048576)
		ph->max_size = 4 * 1048576;
	if (ph->max_size < 65536)
		ph->max_size = 65536;
	ph->max_vmos = max_vmos;
	ph->seed = seed ^ fnv(spec);
	return 0;
}

/* The daemon's options: OPTS with a bare "backing" given its DIR. */
static int
phase_opts(struct phase *ph, int pi)
{
	char buf[512], out[512], *tok, *save;
	size_t l = 0;

	if (ph->bk_auto) {
		snprintf(ph->bkdir, sizeof(ph->bkdir), "%s/backing-%d", work, pi);
		if (mkdir(ph->bkdir, 0755) != 0) {
			perror(ph->bkdir);
			return -1;
		}
	}
	out[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", ph->spec);
	for (tok = strtok_r(buf, ",", &save); tok && l < sizeof(out);
	    tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "backing"))
			l += (size_t)snprintf(out + l, sizeof(out) - l,
			    "%sbacking=%s", l ? "," : "", ph->bkdir);
		else
			l += (size_t)snprintf(out + l, sizeof(out) - l, "%s%s",
			    l ? "," : "", tok);
	}
	memcpy(ph->opts, out, sizeof(out));
	return 0;
}

/* ---- the guardian ------------------------------------------------- */

/*
 * A child forked before the first mount that outlives the tester: each
 * mount (directory, daemon pid, device) and unmount is written to it down
 * a pipe, and when the pipe closes -- the tester exited, normally or not:
 * a crash, SIGKILL, a sanitizer's abort, where no atexit handler runs --
 * it aborts the connection of whatever is still mounted, detaches the
 * mount and kills its daemon (if /proc says it still serves that
 * directory).  The pipe is close-on-exec, so no daemon holds it open.
 */
static int guard_fd = -1;

struct guarded { char dir[64]; int pid; unsigned minor; };

static void
guard_clean(const struct guarded *g)
{
	char p[96], cmd[512];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/sys/fs/fuse/connections/%u/abort", g->minor);
	if ((fd = open(p, O_WRONLY)) >= 0) {
		if (write(fd, "1", 1) < 0)
			(void)0;
		close(fd);
	}
	umount2(g->dir, MNT_DETACH);
	snprintf(p, sizeof(p), "/proc/%d/cmdline", g->pid);
	if ((fd = open(p, O_RDONLY)) >= 0) {
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n > 0) {
			ssize_t i;

			for (i = 0; i < n; i++)
				if (cmd[i] == '\0')
					cmd[i] = ' ';
			cmd[n] = '\0';
			if (strstr(cmd, g->dir))
				kill(g->pid, SIGKILL);
		}
	}
	rmdir(g->dir);
	fprintf(stderr, "vmofs-stress guardian: the tester is gone: took down "
	    "%s (daemon %d)\n", g->dir, g->pid);
}

static void
guard_main(int rfd)
{
	struct guarded g[8];
	char line[256], c;
	size_t l = 0;
	int i, n = 0;

	signal(SIGINT, SIG_IGN);	/* a terminal's ^C: the tester cleans up */
	signal(SIGTERM, SIG_IGN);	/* timeout(1) signals the whole group */
	signal(SIGHUP, SIG_IGN);
	while (read(rfd, &c, 1) == 1) {
		if (c != '\n') {
			if (l < sizeof(line) - 1)
				line[l++] = c;
			continue;
		}
		line[l] = '\0';
		l = 0;
		if (line[0] == 'M' && n < 8 && sscanf(line, "M %63s %d %u", g[n].dir,
		    &g[n].pid, &g[n].minor) == 3)
			n++;
		else if (line[0] == 'U')
			for (i = 0; i < n; i++)
				if (!strcmp(g[i].dir, line + 2))
					g[i] = g[--n];
	}
	for (i = 0; i < n; i++)
		guard_clean(&g[i]);
	_exit(0);
}

static void
guard_start(void)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		close(p[1]);
		if (nul >= 0) {		/* hold no pipe a caller waits on */
			dup2(nul, 0);
			dup2(nul, 1);
			close(nul);
		}
		guard_main(p[0]);
	}
	close(p[0]);
	if (pid < 0) {
		close(p[1]);
		return;
	}
	guard_fd = p[1];
	fcntl(guard_fd, F_SETFD, FD_CLOEXEC);
}

static void
guard_note(char kind)
{
	char b[128];
	int n;

	if (guard_fd < 0)
		return;
	if (kind == 'M')
		n = snprintf(b, sizeof(b), "M %s %d %u\n", M.dir, (int)M.pid,
		    minor(M.dev));
	else
		n = snprintf(b, sizeof(b), "U %s\n", M.dir);
	if (write(guard_fd, b, (size_t)n) != n)
		perror("vmofs-stress: guardian");
}

/* ml_umount, and the guardian forgets the mount. */
static int
umount_noted(void)
{
	int r = ml_umount(&M);

	guard_note('U');
	return r;
}

/* ---- the daemon --------------------------------------------------- */

/* Mount with the daemon's stdout and stderr going to logpath. */
static int
mount_logged(const char *opts)
{
	int fd, o1, o2, r;

	fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) {
		perror(logpath);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	o1 = dup(1);
	o2 = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	r = ml_mount(&M, opts);
	dup2(o1, 1);
	dup2(o2, 2);
	close(o1);
	close(o2);
	if (r == 0) {
		snprintf(MNT, sizeof(MNT), "%s", M.dir);
		guard_note('M');
	}
	return r;
}

static bool
daemon_alive(void)
{
	char p[64], b[512], *c;
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)M.pid);
	f = fopen(p, "r");
	if (!f)
		return false;
	n = fread(b, 1, sizeof(b) - 1, f);
	fclose(f);
	b[n] = '\0';
	c = strrchr(b, ')');
	return c && c[1] == ' ' && c[2] != 'Z' && c[2] != 'X';
}

/* Abort the FUSE connection: every syscall waiting on it returns. */
static void
abort_conn(void)
{
	char p[96];
	int fd;

	if (!M.active || !M.dev)
		return;
	snprintf(p, sizeof(p), "/sys/fs/fuse/connections/%u/abort", minor(M.dev));
	fd = open(p, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			perror(p);
		close(fd);
	}
}

/* Lines of the daemon's log that mean a failure, and what follows. */
static int
scan_log(void)
{
	static const char *const bad[] = { "AddressSanitizer", "LeakSanitizer",
	    "ThreadSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
	    "Assertion", "assertion", "SUMMARY:" };
	char line[2048];
	int hits = 0, after = 0;
	size_t i;
	FILE *f = fopen(logpath, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (strstr(line, bad[i]))
				break;
		if (i < sizeof(bad) / sizeof(bad[0])) {
			if (!hits)
				printf("  daemon log %s reports:\n", logpath);
			hits++;
			after = 60;
		}
		if (after > 0 && hits <= 20) {
			printf("    | %s", line);
			after--;
		}
	}
	fclose(f);
	return hits;
}

static void
log_tail(int lines)
{
	char cmd[256];

	printf("  daemon log %s (last %d lines):\n", logpath, lines);
	fflush(stdout);
	snprintf(cmd, sizeof(cmd), "tail -n %d '%s' | sed 's/^/    | /'", lines,
	    logpath);
	if (system(cmd) != 0)
		printf("    (no log)\n");
}

static char sigmsg[160] = "vmofs-stress: signal: aborting the mount\n";

static void
on_signal(int sig)
{
	if (write(2, sigmsg, strlen(sigmsg)) < 0)
		_exit(3);
	abort_conn();
	umount_noted();
	_exit(sig == SIGALRM ? 2 : 128 + sig);
}

/* ---- a phase ------------------------------------------------------ */

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&stop_flag) && !failed())
		worker_op(w);
	atomic_store(&w->done, 1);
	return NULL;
}

static void
worker_init(struct worker *w, int id, const struct phase *ph)
{
	int i;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->rng = ph->seed + 0x632be59bd9b4e019ull * (uint64_t)(id + 1);
	for (i = 0; i < 4; i++)
		(void)rnd(w);
	w->bufsz = 2 * ph->max_size + 2 * 1048576;
	w->buf = malloc(w->bufsz);
	w->buf2 = malloc(w->bufsz);
	if (!w->buf || !w->buf2) {
		perror("malloc");
		exit(1);
	}
}

static void
print_log(const struct worker *w, unsigned last)
{
	unsigned n = w->logpos < LOGN ? w->logpos : LOGN, i;

	if (last < n)
		n = last;
	for (i = w->logpos - n; i < w->logpos; i++)
		printf("    %s\n", w->log[i % LOGN]);
}

static void
report_failure(const struct phase *ph, struct worker *mw)
{
	int i;

	printf("  FAILED (seed 0x%" PRIx64 ", phase '%s', worker %d): %s\n", seed,
	    ph->spec, fail_worker, fail_msg);
	printf("  replay: vmofs-stress --vmofs %s --seed 0x%" PRIx64
	    " --workers %d --seconds %.0f --mount-opts '%s'\n", ml_bin(), seed,
	    nworkers, seconds / nphases, ph->spec);
	printf("  (the seed gives each worker the same random stream; the "
	    "interleaving of the workers differs from run to run: --workers 1 "
	    "replays exactly)\n");
	for (i = 0; i <= nworkers; i++) {
		const struct worker *w = i < nworkers ? &workers[i] : mw;

		if (w->id != fail_worker)
			continue;
		printf("  op log of %s %d, oldest first:\n", i < nworkers ?
		    "worker" : "checker", w->id);
		print_log(w, LOGN);
	}
	for (i = 0; i < nworkers; i++)
		if (workers[i].id != fail_worker) {
			printf("  last ops of worker %d:\n", i);
			print_log(&workers[i], 4);
		}
}

/* After a backed phase's unmount: mount DIR again, check it, unmount. */
static int
remount_check(struct worker *mw)
{
	int i, k;

	/* clones, slices and pins live in memory only: deepest first */
	pthread_mutex_lock(&tab_lock);
	for (k = MAXDEPTH + 2; k >= 1; k--)
		for (i = 0; i < MAXV; i++)
			if (tab[i] && tab[i]->depth == k)
				mv_free(tab[i]);
	for (i = 0; i < MAXV; i++)
		if (tab[i]) {
			size_t j;

			for (j = 0; j < tab[i]->npins; j++)
				if (tab[i]->pins[j]) {
					tab[i]->pins[j] = 0;
					atomic_fetch_sub(&pinned_pages, 1);
				}
			tab[i]->nslices = 0;
		}
	pthread_mutex_unlock(&tab_lock);
	if (mount_logged(PH->opts) != 0) {
		fail(mw, "remount of %s failed", PH->bkdir);
		return -1;
	}
	pthread_mutex_lock(&tab_lock);
	for (i = 0; i < MAXV; i++)
		if (tab[i]) {
			char p[1200], b[32];
			ssize_t n;

			snprintf(p, sizeof(p), "%s/%s/data", MNT, tab[i]->name);
			n = getxattr(p, "user.vmo.id", b, sizeof(b) - 1);
			if (n <= 0) {
				fail(mw, "after remount: %s: %s", p, strerror(errno));
				break;
			}
			b[n] = '\0';
			tab[i]->id = strtoull(b, NULL, 10);
		}
	pthread_mutex_unlock(&tab_lock);
	if (!failed())
		check_quiescent(mw);
	if (umount_noted() != 0)
		fail(mw, "the daemon of the second mount ended badly");
	return failed() ? -1 : 0;
}

struct phase_result {
	uint64_t ops, nops[OP_N], nerr[NERR];
	double secs;
	bool ok;
};

static void
print_counts(const struct phase_result *r)
{
	int o, e, col = 0;

	printf("  %" PRIu64 " ops in %.1f s (%.0f ops/s):", r->ops, r->secs,
	    r->secs > 0 ? (double)r->ops / r->secs : 0.0);
	for (o = 0; o < OP_N; o++)
		printf("%s %s %" PRIu64, o ? "," : "", op_names[o], r->nops[o]);
	printf("\n  answers by errno:");
	for (e = 1; e < NERR; e++)
		if (r->nerr[e]) {
			printf("%s %s %" PRIu64, col++ ? "," : "",
			    e == NERR - 1 ? "other" : errno_name(e), r->nerr[e]);
		}
	printf("%s (0: %" PRIu64 ")\n", col ? "" : " none", r->nerr[0]);
}

static void
run_phase(int pi, struct phase *ph, double secs, struct phase_result *res)
{
	static struct worker mw;
	int64_t t0, deadline, last = 0;
	int i, o;
	bool mounted = false;

	PH = ph;
	memset(res, 0, sizeof(*res));
	model_reset();
	atomic_store(&stop_flag, 0);
	atomic_store(&failed_flag, 0);
	fail_worker = -1;
	memset(&mw, 0, sizeof(mw));
	mw.id = nworkers;
	snprintf(logpath, sizeof(logpath), "%s/daemon-%d.log", work, pi);
	workers = calloc((size_t)nworkers, sizeof(*workers));
	for (i = 0; i < nworkers; i++)
		worker_init(&workers[i], i, ph);
	mw.bufsz = workers[0].bufsz;
	mw.buf = malloc(mw.bufsz);
	mw.buf2 = malloc(mw.bufsz);
	if (phase_opts(ph, pi) != 0 || mount_logged(ph->opts) != 0) {
		fail(NULL, "mount with -o '%s' failed", ph->opts);
		log_tail(20);
		goto out;
	}
	mounted = true;
	printf("  seed 0x%" PRIx64 ", %d workers, %.0f s, -o %s on %s, daemon "
	    "pid %d, log %s\n", seed, nworkers, secs, ph->opts, MNT, (int)M.pid,
	    logpath);
	fflush(stdout);
	t0 = now_ms();
	deadline = t0 + (int64_t)(secs * 1000);
	for (i = 0; i < nworkers; i++)
		pthread_create(&workers[i].th, NULL, worker_main, &workers[i]);
	while (!failed()) {
		int64_t t = now_ms();

		if (t >= deadline)
			break;
		if (!daemon_alive()) {
			fail(NULL, "the daemon (pid %d) died", (int)M.pid);
			break;
		}
		for (i = 0; i < nworkers; i++) {
			int64_t s = atomic_load(&workers[i].op_start_ms);

			if (s && t - s > (int64_t)hang_s * 1000) {
				fail(&workers[i], "op stuck for %d s (daemon "
				    "deadlock?): the connection is aborted", hang_s);
				break;
			}
		}
		if (verbose && t - last >= 10000) {
			uint64_t n = 0;

			for (i = 0; i < nworkers; i++)
				n += workers[i].opno;
			printf("  %.0f s: %" PRIu64 " ops, %d VMOs\n",
			    (double)(t - t0) / 1000, n, mv_count(0xff));
			fflush(stdout);
			last = t;
		}
		usleep(50000);
	}
	atomic_store(&stop_flag, 1);
	/* Workers finish their op; a stuck one is freed by an abort. */
	for (;;) {
		int64_t oldest = 0, t = now_ms();

		for (i = 0, o = 0; i < nworkers; i++) {
			int64_t s = atomic_load(&workers[i].op_start_ms);

			o += !atomic_load(&workers[i].done);
			if (s && (!oldest || s < oldest))
				oldest = s;
		}
		if (!o)
			break;
		if (oldest && t - oldest > (int64_t)hang_s * 1000) {
			if (!failed())
				fail(NULL, "an op stuck for %d s at the end", hang_s);
			abort_conn();
		} else if (!daemon_alive() && !failed()) {
			fail(NULL, "the daemon (pid %d) died", (int)M.pid);
		}
		if (!daemon_alive())
			abort_conn();
		usleep(20000);
	}
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i].th, NULL);
	res->secs = (double)(now_ms() - t0) / 1000;
	if (!failed() && daemon_alive())
		check_quiescent(&mw);
	if (!failed() && !daemon_alive())
		fail(NULL, "the daemon (pid %d) died", (int)M.pid);
	if (failed())
		abort_conn();
	if (umount_noted() != 0 && !failed())
		fail(NULL, "the daemon ended badly at unmount (exit status not 0: "
		    "a sanitizer report, a leak, a crash)");
	mounted = false;
	if (!failed() && ph->backed && check_backing_files(&mw) == 0)
		remount_check(&mw);
out:
	if (mounted)
		umount_noted();
	if (scan_log() && !failed())
		fail(NULL, "the daemon's log reports a sanitizer error or a failed "
		    "assertion");
	for (i = 0; i < nworkers; i++) {
		res->ops += workers[i].opno;
		for (o = 0; o < OP_N; o++)
			res->nops[o] += workers[i].nops[o];
		for (o = 0; o < NERR; o++)
			res->nerr[o] += workers[i].nerr[o];
	}
	print_counts(res);
	printf("  the VMOs' sizes peaked at %" PRId64 " pages, %.0f%% of the "
	    "limit (%" PRIu64 " pages)\n", (int64_t)atomic_load(&peak_pages),
	    100.0 * (double)atomic_load(&peak_pages) / (double)(ph->limit / P),
	    ph->limit / P);
	res->ok = !failed();
	if (!res->ok) {
		report_failure(ph, &mw);
		if (fail_worker < 0 || strstr(fail_msg, "daemon"))
			log_tail(40);
		keep_work = 1;
	}
	for (i = 0; i < nworkers; i++) {
		free(workers[i].buf);
		free(workers[i].buf2);
	}
	free(mw.buf);
	free(mw.buf2);
	free(workers);
	workers = NULL;
	model_reset();
	if (ph->bk_auto && res->ok) {
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ph->bkdir);
		if (system(cmd) != 0)
			fprintf(stderr, "vmofs-stress: could not remove %s\n", ph->bkdir);
	}
}

/* ---- main --------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: vmofs-stress [--seconds S] [--workers N] "
	    "[--seed X] [--vmofs PATH]\n"
	    "    [--mount-opts OPTS]... [--max-vmos N] [--max-size BYTES] "
	    "[--hang S]\n    [--no-aslr] [--results FILE] [--trace FILE] [--verbose]\n");
	exit(2);
}

static void
sanitizer_env(void)
{
	char supp[600], opt[800];

	/* the daemon's reports go to its log; a report fails the phase */
	setenv("ASAN_OPTIONS", "halt_on_error=1:abort_on_error=0:"
	    "detect_leaks=1:exitcode=66:handle_abort=1", 0);
	setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1", 0);
	if (realpath("tests/stress/tsan.supp", supp))
		snprintf(opt, sizeof(opt), "halt_on_error=0:exitcode=66:"
		    "second_deadlock_stack=1:handle_abort=1:suppressions=%s", supp);
	else
		snprintf(opt, sizeof(opt), "halt_on_error=0:exitcode=66:"
		    "second_deadlock_stack=1:handle_abort=1");
	setenv("TSAN_OPTIONS", opt, 0);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", 1, NULL, 's' }, { "workers", 1, NULL, 'w' },
		{ "seed", 1, NULL, 'S' }, { "vmofs", 1, NULL, 'b' },
		{ "mount-opts", 1, NULL, 'o' }, { "max-vmos", 1, NULL, 'n' },
		{ "max-size", 1, NULL, 'm' }, { "hang", 1, NULL, 'H' },
		{ "no-aslr", 0, NULL, 'A' },
		{ "known-backed-enospc", 0, NULL, 'K' }, { "results", 1, NULL, 'r' },
		{ "verbose", 0, NULL, 'v' }, { "trace", 1, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const defaults[] = { "size=256M", "size=12M",
	    "size=24M,compress", "size=32M,backing" };
	const char *specs[MAXPH];
	struct phase_result res[MAXPH], tot;
	int c, i, o, nspec = 0, npassed = 0;
	bool seeded = false, no_aslr = false;
	struct sigaction sa;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': seconds = atof(optarg); break;
		case 'w': nworkers = atoi(optarg); break;
		case 'S': seed = strtoull(optarg, NULL, 0); seeded = true; break;
		case 'b': setenv("VMOFS_BIN", optarg, 1); break;
		case 'o':
			if (nspec == MAXPH)
				usage();
			specs[nspec++] = optarg;
			break;
		case 'n': max_vmos = atoi(optarg); break;
		case 'm': max_size_opt = parse_size(optarg); break;
		case 'H': hang_s = atoi(optarg); break;
		case 'A': no_aslr = true; break;
		case 'K': known_backed_enospc = true; break;
		case 'r': results = optarg; break;
		case 'v': verbose = 1; break;
		case 't':
			trace = fopen(optarg, "w");
			if (!trace) {
				perror(optarg);
				return 2;
			}
			break;
		default: usage();
		}
	}
	if (optind != argc || nworkers < 1 || nworkers > 64 || seconds <= 0 ||
	    max_vmos < 2 || max_vmos > MAXV / 2)
		usage();
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^
		    ((uint64_t)getpid() << 40);
	}
	if (nspec == 0)
		for (; nspec < 4; nspec++)
			specs[nspec] = defaults[nspec];
	nphases = nspec;
	for (i = 0; i < nphases; i++)
		phase_init(&phases[i], specs[i]);
	/* TSan needs a layout it knows: ASLR off for the daemon (inherited) */
	if (no_aslr && personality(0xffffffff) != -1)
		personality((unsigned long)personality(0xffffffff) | ADDR_NO_RANDOMIZE);
	sanitizer_env();
	guard_start();
	snprintf(work, sizeof(work), "/tmp/vmofs-stress.XXXXXX");
	if (!mkdtemp(work)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sigmsg, sizeof(sigmsg), "vmofs-stress: signal: aborting the "
	    "mount; logs kept in %s\n", work);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = stress_sigbus;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)(seconds + nphases * (2 * hang_s + 60) + 60));
	setvbuf(stdout, NULL, _IOLBF, 0);

	printf("vmofs-stress: seed 0x%" PRIx64 ", %d workers, %.0f s, daemon %s\n",
	    seed, nworkers, seconds, ml_bin());
	printf("[==========] Running %d test(s).\n", nphases);
	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < nphases; i++) {
		printf("[ RUN      ] stress %s\n", phases[i].spec);
		run_phase(i, &phases[i], seconds / nphases, &res[i]);
		printf("%s stress %s\n", res[i].ok ? "[       OK ]" : "[  FAILED  ]",
		    phases[i].spec);
		npassed += res[i].ok;
		tot.ops += res[i].ops;
		tot.secs += res[i].secs;
		for (o = 0; o < OP_N; o++)
			tot.nops[o] += res[i].nops[o];
		for (o = 0; o < NERR; o++)
			tot.nerr[o] += res[i].nerr[o];
	}
	alarm(0);
	printf("vmofs-stress total, seed 0x%" PRIx64 ":\n", seed);
	if (known_backed_enospc)
		printf("  KNOWN (issue #16, open; docs/testing.md): %ld ENOSPC "
		    "or short answers on backed mounts, allowed by "
		    "--known-backed-enospc\n", atomic_load(&backed_enospc_seen));
	print_counts(&tot);
	if (results) {
		FILE *f = fopen(results, "a");
		time_t t = time(NULL);
		char when[64];

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
		if (f) {
			fprintf(f, "%s vmofs-stress daemon=%s seed=0x%" PRIx64
			    " workers=%d seconds=%.0f result=%s\n", when, ml_bin(),
			    seed, nworkers, seconds, npassed == nphases ? "PASSED" :
			    "FAILED");
			for (i = 0; i < nphases; i++) {
				fprintf(f, "  phase '%s': %s, %" PRIu64 " ops, %.0f ops/s",
				    phases[i].spec, res[i].ok ? "ok" : "FAILED",
				    res[i].ops, res[i].secs > 0 ?
				    (double)res[i].ops / res[i].secs : 0.0);
				for (o = 1; o < NERR; o++)
					if (res[i].nerr[o])
						fprintf(f, ", %s %" PRIu64, o == NERR - 1 ?
						    "other" : errno_name(o), res[i].nerr[o]);
				fprintf(f, "\n");
			}
			fprintf(f, "  total: %" PRIu64 " ops in %.0f s, %.0f ops/s\n",
			    tot.ops, tot.secs, tot.secs > 0 ? (double)tot.ops / tot.secs : 0.0);
			fclose(f);
		} else {
			perror(results);
		}
	}
	printf("[==========] %d test(s) run.\n", nphases);
	printf("[  PASSED  ] %d test(s).\n", npassed);
	if (npassed != nphases) {
		printf("[  FAILED  ] %d test(s), listed below:\n", nphases - npassed);
		for (i = 0; i < nphases; i++)
			if (!res[i].ok)
				printf("[  FAILED  ] stress %s\n", phases[i].spec);
		printf("  (logs kept in %s)\n", work);
	}
	if (!keep_work) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
		if (system(cmd) != 0)
			fprintf(stderr, "vmofs-stress: could not remove %s\n", work);
	}
	return npassed == nphases ? 0 : 1;
}
