/*
 * mountlib.h - mount a fresh vmofs for a test, and always take it down.
 *
 * ml_mount() starts "$VMOFS_BIN -f [-o OPTS] DIR" on a new mkdtemp
 * directory (ml_dir_template: "/tmp/vmofs-test.XXXXXX") as a child
 * process and waits until the mount shows in /proc/mounts.  ml_umount() runs
 * fusermount3 -u, waits for the daemon (bounded), and when the
 * connection is stuck aborts it through /sys/fs/fuse/connections/N/abort,
 * kills the daemon and detaches the mount.  Every mount is registered:
 * an atexit handler and a SIGALRM watchdog (ml_watchdog) take down
 * whatever is left, so a failing or hanging test never leaves a mount.
 */
#ifndef TESTS_MOUNTLIB_H
#define TESTS_MOUNTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ml_mount {
	char	dir[64];
	pid_t	pid;
	dev_t	dev;
	int	active;
};

/*
 * A fresh mount-point template, "/tmp/TAG.XXXXXX" for mkdtemp: TAG is
 * $VMOFS_TEST_TAG (set per run by tests/run-tests.sh, so that its cleanup
 * between programs touches its own mounts only) or "vmofs-test".
 */
void ml_dir_template(char *buf, size_t len);

/*
 * A backed mount: a fresh backing directory from template dir (a writable
 * "/tmp/NAME.XXXXXX", filled in by mkdtemp), then ml_mount with
 * "backing=DIR,opts".  0 or -1.  ml_umount_backed undoes both.
 */
int ml_mount_backed(struct ml_mount *m, char *dir, const char *opts);
/* ml_umount (if still mounted), then remove the backing directory dir. */
int ml_umount_backed(struct ml_mount *m, const char *dir);

/* mkdir(p, 0755), failing the test with errno's text if it fails. */
void ml_mkdir(const char *p);

/*
 * Mount with opts ("" or NULL for none); 0 or -1 (message printed).
 * $VMOFS_TEST_OPTS, when set, is appended to every mount's options:
 * tests/run-tests.sh runs programs again with "uring" that way.
 */
int ml_mount(struct ml_mount *m, const char *opts);
/* 0, or -1 if the daemon was stuck or did not exit cleanly (status 0). */
int ml_umount(struct ml_mount *m);
/* Arm a watchdog: after sec seconds, unmount everything and exit(1). */
void ml_watchdog(unsigned sec);

/* The daemon binary ($VMOFS_BIN, else build/vmofs). */
const char *ml_bin(void);

/* Run argv (NULL-terminated) with output to errbuf; exit status or -1. */
int ml_run(char *const argv[], char *errbuf, size_t errsize);
/* Run a shell command line (stdout/stderr to /dev/null unless verbose). */
int ml_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Is dir a mountpoint in /proc/mounts? */
int ml_is_mounted(const char *dir);

/* path helpers: a static ring of buffers, fine for a few at once */
const char *ml_path(const struct ml_mount *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* whole-file helpers; return 0 or -errno */
int ml_write_at(const char *path, const void *buf, size_t len, off_t off);
ssize_t ml_read_at(const char *path, void *buf, size_t len, off_t off);
int ml_setx(const char *path, const char *name, const char *value);
/* getxattr into a static buffer, NUL terminated; NULL and errno on error */
const char *ml_getx(const char *path, const char *name);
uint64_t ml_getx_u64(const char *path, const char *name);
/*
 * Counter name of a user.vmofs.stats text (lines "name: value"), and of
 * mount m's root right now.  A missing counter or an unreadable attribute
 * fails the running cmocka test.
 */
uint64_t ml_stat_in(const char *text, const char *name);
uint64_t ml_stat(const struct ml_mount *m, const char *name);
/* fill buf with a pattern from seed */
void ml_fill(void *buf, size_t len, uint64_t seed);
uint64_t ml_rand(uint64_t *state);

#endif
