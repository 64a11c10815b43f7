/*
 * vmoctl.h - shared declarations of the vmoctl tool.
 *
 * vmoctl is a plain client of a mounted vmofs: it only makes directories
 * (mkdir), reads and sets extended attributes (getxattr, setxattr,
 * listxattr), lists directories (readdir), reads the "info" files and
 * stat()s the paths the user names to tell a VMO directory from its data
 * file.  Everything it does can be done with coreutils and attr(1); see
 * docs/vmoctl.1.
 *
 *   vmoctl.c        command line, usage texts, dispatch, clone/slice/actions
 *   vmoctl_show.c   the read commands: info, tree, list, stats (text, JSON)
 *   vmoctl_util.c   RANGE syntax, path resolution, xattr and file reading,
 *                   human units, the JSON writer, the progress bar, error
 *                   messages
 *
 * Bash completion: dist/vmoctl.bash (installed as
 * share/bash-completion/completions/vmoctl); its command and option lists
 * are checked against "vmoctl --help" by tests/shell/test_tools.sh.
 *
 * Exit status: 0 success, 1 an operation failed, 2 a usage error.
 */
#ifndef VMOCTL_H
#define VMOCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef VMOFS_VERSION
#define VMOFS_VERSION "0.1"
#endif

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

/* The page size of vmofs (SPEC: P = 4096).  Only used to check clone and
 * slice offsets before asking the daemon, which stays the authority. */
#define CTL_PAGE_SIZE 4096u

/* Options common to every command, filled by the command-line parser. */
struct ctl_opts {
	bool json;	/* --json: machine-readable output (read commands) */
	bool bytes;	/* -b, -H, --bytes: exact counts instead of K/M/G */
	const char *kind;	/* clone: --aolw "aolw", --modified "modified", else NULL */
};

/* The command being run, for error messages ("vmoctl: CMD: ..."). */
extern const char *ctl_cmd;

/* ---- errors (vmoctl_util.c) ---- */

/* "vmoctl: CMD: PATH: strerror(err)" on stderr. */
void ctl_err(const char *path, int err);
/* "vmoctl: CMD: <formatted>" on stderr. */
void ctl_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Out of memory is not worth recovering from in a command-line tool. */
void *ctl_xmalloc(size_t n);
void *ctl_xrealloc(void *p, size_t n);
char *ctl_xstrdup(const char *s);
char *ctl_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- RANGE (vmoctl_util.c) ---- */

/*
 * RANGE grammar (SPEC section 2), shared with the daemon:
 *   RANGE  := "" | "all" | NUM "+" NUM        (OFFSET+LENGTH)
 *   NUM    := DIGITS | "0x" HEXDIGITS, then an optional K, M or G (x 1024^n)
 */
struct ctl_range {
	bool all;	/* empty or "all": the whole VMO */
	uint64_t off;
	uint64_t len;
};

/* Parse s; on failure return false and point *why at a reason. */
bool ctl_range_parse(const char *s, struct ctl_range *r, const char **why);

/* ---- paths (vmoctl_util.c) ---- */

/*
 * A VMO named on the command line: either its directory or its data file
 * (or its info file).  Both strings are heap-allocated.
 */
struct ctl_vmo {
	char *dir;	/* the VMO directory */
	char *data;	/* dir/data */
};

/* Resolve PATH; on failure print the error and return false. */
bool ctl_vmo_resolve(const char *path, struct ctl_vmo *v);
void ctl_vmo_free(struct ctl_vmo *v);
/* The last component of path (trailing slashes ignored), heap-allocated. */
char *ctl_basename(const char *path);
/* Join "a/b" without doubling the slash. */
char *ctl_path_join(const char *a, const char *b);

/* ---- reading (vmoctl_util.c) ---- */

/* getxattr(path, name) into a NUL-terminated heap buffer; -errno on error. */
int ctl_getxattr(const char *path, const char *name, char **val, size_t *len);
/* Read a whole file (openat(dirfd, name)) into a NUL-terminated buffer. */
int ctl_read_file_at(int dirfd, const char *name, char **buf, size_t *len);

/* A "key: value" list, as in the info file and user.vmofs.stats. */
struct ctl_kv {
	char *key;
	char *val;
};
struct ctl_kvlist {
	struct ctl_kv *v;
	size_t n;
};
/* Parse "key: value" lines; other lines are kept with an empty key. */
void ctl_kv_parse(const char *text, struct ctl_kvlist *l);
const char *ctl_kv_get(const struct ctl_kvlist *l, const char *key);
void ctl_kv_free(struct ctl_kvlist *l);
/* True if s is a plain decimal unsigned integer; stores it in *v. */
bool ctl_is_u64(const char *s, uint64_t *v);
/* True for the info keys that count bytes (size, committed, ...). */
bool ctl_key_is_bytes(const char *key);

/* ---- output (vmoctl_util.c) ---- */

/* Human units: "512", "4.0K", "1.5M", "2.0G", "1.0T" (binary, 1 decimal). */
void ctl_human(uint64_t v, char *buf, size_t n);

/*
 * A tiny streaming JSON writer on stdout, pretty-printed with two-space
 * indents.  Nesting and commas are tracked internally; keys are only
 * valid inside objects.
 */
void json_obj_begin(void);
void json_obj_end(void);
void json_arr_begin(void);
void json_arr_end(void);
void json_key(const char *k);
void json_str(const char *s);
void json_u64(uint64_t v);
/* A value from a text file: a JSON number if it is a decimal integer. */
void json_auto(const char *s);
/* Finish the document (newline, flush); returns false on a write error. */
bool json_done(void);

/*
 * A progress bar on stderr, for range actions done in chunks; drawn only
 * when stderr is a terminal, so scripts and logs never see it.
 * ctl_progress_begin(what, total), ctl_progress(done) after each chunk,
 * ctl_progress_end() erases the line (before any error message).
 */
void ctl_progress_begin(const char *what, uint64_t total);
void ctl_progress(uint64_t done);
void ctl_progress_end(void);

/* ---- commands ---- */
int cmd_info(int argc, char **argv, const struct ctl_opts *o);
int cmd_tree(int argc, char **argv, const struct ctl_opts *o);
int cmd_list(int argc, char **argv, const struct ctl_opts *o);
int cmd_stats(int argc, char **argv, const struct ctl_opts *o);

#endif /* VMOCTL_H */
