/*
 * vmoctl.c - command line of vmoctl, and the commands that change things.
 *
 * vmoctl [OPTIONS] COMMAND ARGS...   options may also follow the command;
 * "--" ends them.  The command table below is the single source of each
 * command's synopsis, argument count, accepted options and help text.
 *
 * The changing commands are thin:
 *   clone SRC NAME [RANGE]   mkdir SRC/clones/NAME[~KIND][@RANGE]
 *                            (--aolw, --modified: KIND)
 *   slice SRC NAME RANGE     mkdir SRC/slices/NAME@RANGE
 *   ref SRC NAME             mkdir SRC/refs/NAME
 *   contig MOUNT NAME SIZE   mkdir MOUNT/NAME~contig=SIZE
 *   ACTION PATH [RANGE]      setxattr PATH/data user.vmo.ACTION = RANGE|"all"
 * RANGE and NAME are checked here first so a typo gets a precise message
 * (exit 2); the daemon checks them again and is the authority.
 *
 * A range action longer than ACTION_CHUNK (commit, prefetch, zero... of
 * gigabytes) is sent as one setxattr per chunk, chunk boundaries at
 * multiples of ACTION_CHUNK, with a progress bar on a terminal.  Every
 * action is page-wise or byte-exact, so the chunks do what the whole
 * range would; a failure stops at the chunk that failed and says how far
 * it got.  pin and unpin stay one request: all or nothing.
 */
#include "vmoctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

enum {
	F_JSON = 1 << 0,	/* accepts --json */
	F_BYTES = 1 << 1,	/* accepts --bytes */
	F_KIND = 1 << 2,	/* accepts --aolw / --modified */
};

struct ctl_command {
	const char *name;
	const char *args;	/* synopsis after the name */
	int min_args, max_args;
	unsigned flags;
	int (*run)(const struct ctl_command *c, int argc, char **argv,
		   const struct ctl_opts *o);
	const char *summary;	/* one line for the command list */
	const char *help;	/* the rest of "vmoctl CMD --help" */
};

/* ------------------------------------------------------------------ */
/* read commands: adapters to vmoctl_show.c                            */

static int run_info(const struct ctl_command *c, int argc, char **argv,
		    const struct ctl_opts *o)
{
	(void)c;
	return cmd_info(argc, argv, o);
}

static int run_tree(const struct ctl_command *c, int argc, char **argv,
		    const struct ctl_opts *o)
{
	(void)c;
	return cmd_tree(argc, argv, o);
}

static int run_stats(const struct ctl_command *c, int argc, char **argv,
		     const struct ctl_opts *o)
{
	(void)c;
	return cmd_stats(argc, argv, o);
}

static int run_list(const struct ctl_command *c, int argc, char **argv,
		    const struct ctl_opts *o)
{
	(void)c;
	return cmd_list(argc, argv, o);
}

/* ------------------------------------------------------------------ */
/* clone, slice and ref                                                */

/* A child name must be one plain path component without '@'. */
static bool name_ok(const char *name)
{
	if (name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		ctl_errx("invalid NAME '%s'", name);
		return false;
	}
	if (strchr(name, '/') || strchr(name, '@')) {
		ctl_errx("invalid NAME '%s': it may not contain '/' or '@'",
			 name);
		return false;
	}
	return true;
}

/*
 * Check a clone or slice RANGE; *whole is set for "all" (clone only).
 * Offsets must be page aligned (SPEC section 2).
 */
static bool child_range_ok(const char *s, bool allow_all, bool *whole)
{
	struct ctl_range r;
	const char *why;

	if (!ctl_range_parse(s, &r, &why)) {
		ctl_errx("invalid RANGE '%s': %s", s, why);
		return false;
	}
	if (r.all && !allow_all) {
		ctl_errx("invalid RANGE '%s': a slice needs OFFSET+LENGTH", s);
		return false;
	}
	if (!r.all && r.off % CTL_PAGE_SIZE) {
		ctl_errx("invalid RANGE '%s': OFFSET must be a multiple of "
			 "the page size (%u)", s, CTL_PAGE_SIZE);
		return false;
	}
	*whole = r.all;
	return true;
}

/* clone SRC NAME [RANGE], slice SRC NAME RANGE and ref SRC NAME. */
static int run_child(const struct ctl_command *c, int argc, char **argv,
		     const struct ctl_opts *o)
{
	bool is_clone = strcmp(c->name, "clone") == 0, whole = true;
	bool is_ref = strcmp(c->name, "ref") == 0;
	const char *range = argc > 2 ? argv[2] : NULL;
	char *sub, *target;
	struct ctl_vmo v;
	int rc = CTL_OK;

	if (!name_ok(argv[1]))
		return CTL_USAGE;
	if (range && !child_range_ok(range, is_clone, &whole))
		return CTL_USAGE;
	if (!ctl_vmo_resolve(argv[0], &v))
		return CTL_FAIL;
	sub = ctl_path_join(v.dir, is_clone ? "clones" : is_ref ? "refs" :
			    "slices");
	target = ctl_xasprintf("%s/%s%s%s%s%s", sub, argv[1],
			       o->kind ? "~" : "", o->kind ? o->kind : "",
			       whole ? "" : "@", whole ? "" : range);
	if (mkdir(target, 0777) < 0) {
		int err = errno;

		if (err == EOPNOTSUPP && o->kind && !strcmp(o->kind, "aolw"))
			ctl_errx("%s: %s (--aolw needs a RAM mount, and a VMO "
				 "that is not discardable)", target,
				 strerror(err));
		else if (err == EOPNOTSUPP)
			ctl_errx("%s: %s (a discardable VMO has no clones; an "
				 "--aolw clone of a live VMO takes --aolw clones "
				 "only)", target, strerror(err));
		else if (err == EINVAL && range)
			ctl_errx("%s: %s (is RANGE %s inside %s?)", target,
				 strerror(err), range, argv[0]);
		else
			ctl_err(target, err);
		rc = CTL_FAIL;
	}
	free(target);
	free(sub);
	ctl_vmo_free(&v);
	return rc;
}

/* contig MOUNT NAME SIZE: a contiguous VMO at the top of MOUNT. */
static int run_contig(const struct ctl_command *c, int argc, char **argv,
		      const struct ctl_opts *o)
{
	struct ctl_range r;
	const char *why = NULL;
	char *num, *target;
	bool ok;
	int rc = CTL_OK;

	(void)c; (void)argc; (void)o;
	if (!name_ok(argv[1]))
		return CTL_USAGE;
	num = ctl_xasprintf("0+%s", argv[2]);
	ok = ctl_range_parse(num, &r, &why) && !r.all;
	free(num);
	if (!ok || r.len == 0) {
		ctl_errx("invalid SIZE '%s': %s", argv[2], ok ? "a contiguous "
			 "VMO has a size" : why ? why : "expected a number");
		return CTL_USAGE;
	}
	target = ctl_xasprintf("%s/%s~contig=%s", argv[0], argv[1], argv[2]);
	if (mkdir(target, 0777) < 0) {
		int err = errno;

		if (err == ENOSPC)
			ctl_errx("%s: %s (no run of %s free in the mount)", target,
				 strerror(err), argv[2]);
		else
			ctl_err(target, err);
		rc = CTL_FAIL;
	}
	free(target);
	return rc;
}

/* ------------------------------------------------------------------ */
/* range actions                                                       */

#define ACTION_CHUNK (64ull << 20)	/* bytes per setxattr of a long action */

/* The error of a failed action: one line, with a hint where one helps. */
static void action_error(const char *path, int err, bool all, uint64_t done,
			 uint64_t total)
{
	const char *hint = NULL;
	char h1[32], h2[32], after[96] = "";

	if (err == EINVAL)
		hint = all ? NULL : "is RANGE inside the VMO?";
	else if (err == EBUSY)
		hint = "a pinned range is in the way";
	else if (err == ENOSPC)
		hint = "the mount's size limit is reached";
	else if (err == ENOTSUP)
		hint = "not on vmofs?";
	if (done > 0) {
		ctl_human(done, h1, sizeof(h1));
		ctl_human(total, h2, sizeof(h2));
		snprintf(after, sizeof(after), "%sdone: %s of %s", hint ? "; " : "",
			 h1, h2);
	}
	if (hint || after[0])
		ctl_errx("%s: %s (%s%s)", path, strerror(err), hint ? hint : "",
			 after);
	else
		ctl_err(path, err);
}

/*
 * setxattr name = "OFF+LEN" for [off, off+len) in chunks; *done counts
 * the bytes done.  0 or an errno.
 */
static int action_chunked(const char *data, const char *name,
			  const char *what, uint64_t off, uint64_t len,
			  uint64_t *done)
{
	uint64_t pos, next, end = off + len;
	char val[64];
	int err = 0;

	ctl_progress_begin(what, len);
	for (pos = off; pos < end; pos = next) {
		next = (pos / ACTION_CHUNK + 1) * ACTION_CHUNK;
		if (next > end)
			next = end;
		snprintf(val, sizeof(val), "%llu+%llu", (unsigned long long)pos,
			 (unsigned long long)(next - pos));
		if (setxattr(data, name, val, strlen(val), 0) < 0) {
			err = errno;
			break;
		}
		*done = next - off;
		ctl_progress(*done);
	}
	ctl_progress_end();
	return err;
}

static int run_action(const struct ctl_command *c, int argc, char **argv,
		      const struct ctl_opts *o)
{
	const char *range = argc > 1 ? argv[1] : "all", *why;
	bool whole_only = !strcmp(c->name, "pin") || !strcmp(c->name, "unpin");
	bool chunked = false;
	uint64_t done = 0;
	struct ctl_range r;
	struct ctl_vmo v;
	struct stat st;
	char name[64];
	int err = 0;

	(void)o;
	if (!ctl_range_parse(range, &r, &why)) {
		ctl_errx("invalid RANGE '%s': %s", range, why);
		return CTL_USAGE;
	}
	if (!ctl_vmo_resolve(argv[0], &v))
		return CTL_FAIL;
	snprintf(name, sizeof(name), "user.vmo.%s", c->name);
	/*
	 * Chunks only for a long range inside the content size: one past the
	 * end stays one request, which the daemon refuses whole (EINVAL).
	 * "all" is the size now (a VMO shrunk meanwhile: EINVAL part way).
	 */
	if (!whole_only && stat(v.data, &st) == 0) {
		if (r.all) {
			r.off = 0;
			r.len = (uint64_t)st.st_size;
		}
		chunked = r.len > ACTION_CHUNK &&
			  r.off + r.len <= (uint64_t)st.st_size;
	}
	if (!chunked) {
		if (setxattr(v.data, name, range, strlen(range), 0) < 0)
			err = errno;
	} else {
		err = action_chunked(v.data, name, c->name, r.off, r.len, &done);
	}
	if (err)
		action_error(argv[0], err, r.all, done, r.len);
	ctl_vmo_free(&v);
	return err ? CTL_FAIL : CTL_OK;
}

/* ------------------------------------------------------------------ */
/* the command table                                                   */

#define PATH_HELP \
	"PATH is a VMO directory (MOUNT/NAME, MOUNT/NAME/clones/C, ...) or\n" \
	"its data file.\n"
#define RANGE_SYNTAX \
	"RANGE is OFFSET+LENGTH, each decimal or 0x hex with an optional\n" \
	"K, M or G suffix (0+1M, 4K+8K, 0x1000+0x2000)"
#define RANGE_HELP RANGE_SYNTAX "; empty or \"all\" is the\n" \
	"whole VMO, which is also the default.\n"
#define SETFATTR_HEX \
	"(setfattr reads a value that starts with 0x as hex-encoded bytes and\n" \
	"refuses a 0x RANGE with \"bad input encoding\", setting nothing: quote\n" \
	"it, -v '\"0x1000+0x1000\"'.  vmoctl passes RANGE as text.)\n"
#define ACTION(n, sum, what, chunked)                                     \
	{ n, "PATH [RANGE]", 1, 2, 0, run_action, sum,                      \
	  what "\n\nSame as: setfattr -n user.vmo." n " -v RANGE PATH/data\n" \
	  SETFATTR_HEX chunked "\n" PATH_HELP RANGE_HELP }
/* lock, trylock, unlock: the whole VMO, no RANGE (vmoctl(1)) */
#define WHOLE_ACTION(n, sum, what)                                        \
	{ n, "PATH", 1, 1, 0, run_action, sum,                              \
	  what "\n\nSame as: setfattr -n user.vmo." n " PATH/data\n\n"      \
	  PATH_HELP }
#define CHUNKED \
	"\nA RANGE over 64 MiB is sent in 64 MiB steps, with a progress bar\n" \
	"on a terminal (stderr).\n"
#define ONE_STEP \
	"\nThe RANGE is one request, whatever its length: all or nothing.\n"

static const struct ctl_command commands[] = {
	{ "info", "PATH", 1, 1, F_JSON | F_BYTES, run_info,
	  "show a VMO's id, kind, parent, sizes, counters",
	  "Print the VMO's info file: id, kind, parent, size, committed,\n"
	  "populated, private, scaled, pinned and children.  Byte counts are\n"
	  "shown in K/M/G with the exact count in parentheses; --bytes "
	  "prints\nexact counts only.\n\n" PATH_HELP },
	{ "tree", "MOUNT", 1, 1, F_JSON | F_BYTES, run_tree,
	  "show the clone and slice tree, memory per VMO",
	  "Walk every VMO of MOUNT and, recursively, its clones/, slices/ "
	  "and refs/;\nprint one line per VMO: name, kind, size, committed, "
	  "private and\nscaled bytes (K/M/G; exact with --bytes).  MOUNT may "
	  "also be a VMO\ndirectory: the first line is then that VMO, and "
	  "its clones, slices\nand references hang from it.  With --json: "
	  "{\"path\", \"vmos\": [...]},\neach VMO an object with its info "
	  "keys and \"clones\", \"slices\" and\n\"refs\" arrays.\n" },
	{ "list", "MOUNT", 1, 1, F_JSON | F_BYTES, run_list,
	  "list every VMO: path, kind, memory, children",
	  "Walk every VMO of MOUNT as tree does and print one aligned row per\n"
	  "VMO, parents before their clones and slices: path, kind, size,\n"
	  "committed, private, shared (committed - private: bytes other VMOs\n"
	  "see too), scaled bytes (K/M/G; exact with --bytes) and the number\n"
	  "of child VMOs.  MOUNT may also be a VMO directory.  With --json:\n"
	  "{\"path\", \"vmos\": [...]}, one object per VMO.\n" },
	{ "stats", "MOUNT", 1, 1, F_JSON | F_BYTES, run_stats,
	  "show allocator, per-CPU cache and COW counters",
	  "Print the mount's counters, the user.vmofs.stats attribute of its\n"
	  "root directory, one per line.  Amounts of pages (..._pages, q_...)\n"
	  "are followed by their size in K/M/G, amounts of bytes shown in\n"
	  "K/M/G with the exact count after; --bytes prints every value as\n"
	  "the attribute has it.\n" },
	{ "clone", "SRC NAME [RANGE]", 2, 3, F_KIND, run_child,
	  "make a copy-on-write snapshot SRC/clones/NAME",
	  "Make NAME, a copy-on-write clone of SRC, as SRC/clones/NAME: it "
	  "sees\nSRC's bytes as they are now; later writes on either side "
	  "stay\nprivate.  With RANGE, the clone covers only that window of "
	  "SRC\n(OFFSET page aligned).\n\n"
	  "  --aolw      snapshot at least on write: NAME sees SRC's later "
	  "writes\n              to every page it has not written itself, "
	  "and none after\n              it has (RAM mounts only)\n"
	  "  --modified  snapshot of what SRC modified (on vmofs: a "
	  "snapshot)\n\n"
	  "Same as: mkdir SRC/clones/NAME[~aolw|~modified][@RANGE]\n\n"
	  "SRC is a VMO directory or its data file.\n" RANGE_HELP },
	{ "slice", "SRC NAME RANGE", 3, 3, 0, run_child,
	  "make SRC/slices/NAME, a window onto SRC's pages",
	  "Make NAME, a slice of SRC, as SRC/slices/NAME: it shares SRC's "
	  "pages\nin RANGE, so a write through either is seen by the other.  "
	  "OFFSET\nmust be page aligned; the slice's size is fixed.\n\n"
	  "Same as: mkdir SRC/slices/NAME@RANGE\n\n"
	  "SRC is a VMO directory or its data file.\n" RANGE_SYNTAX ".\n"
	  "A slice needs a RANGE: it has no default, and \"all\" is "
	  "refused.\n" },
	{ "ref", "SRC NAME", 2, 2, 0, run_child,
	  "make SRC/refs/NAME, a second VMO onto all of SRC",
	  "Make NAME, a reference to SRC, as SRC/refs/NAME: it shares all "
	  "of\nSRC's pages and its size, so a write, truncate or growth "
	  "through\neither is seen by the other, like another open file of "
	  "SRC.  Unlike\na slice it follows SRC's size.  It is charged no "
	  "memory (SRC is), and\nwhile its data is open it keeps SRC's pages "
	  "alive.  No RANGE: a window\nis a slice.\n\n"
	  "Same as: mkdir SRC/refs/NAME\n\n"
	  "SRC is a VMO directory or its data file.\n" },
	{ "contig", "MOUNT NAME SIZE", 3, 3, 0, run_contig,
	  "make MOUNT/NAME, SIZE bytes in contiguous pages",
	  "Make NAME, a contiguous VMO of SIZE bytes, at the top of MOUNT: "
	  "its\npages are one run of the mount's memory, committed and "
	  "pinned from\nthe start; its size is fixed; it has slices but no "
	  "clones or\nreferences.  Pages it decommits are lent: other VMOs "
	  "use them when\nthe mount is otherwise full, and a commit or write "
	  "takes them back,\nmoving the borrowers' bytes to other pages "
	  "(user.vmofs.stats:\nlent_pages, borrowed, loan_migrations).\n\n"
	  "Same as: mkdir MOUNT/NAME~contig=SIZE\n\n"
	  "SIZE is a NUM: decimal or 0x hex, optional K, M or G suffix.\n" },
	ACTION("commit", "allocate the pages of RANGE now",
	       "Allocate every page of RANGE now (on a clone: private copies).",
	       CHUNKED),
	ACTION("decommit", "free the pages of RANGE; it reads zero",
	       "Free the pages of RANGE; it reads zero afterwards.", CHUNKED),
	ACTION("zero", "zero RANGE byte-exactly",
	       "Zero RANGE byte-exactly, freeing whole pages where it can.",
	       CHUNKED),
	ACTION("pin", "commit RANGE and hold it resident",
	       "Commit RANGE and hold it resident: pinned pages are never\n"
	       "evicted, compressed, decommitted or truncated away (EBUSY).\n"
	       "Pins are counted; each pin needs an unpin.", ONE_STEP),
	ACTION("unpin", "release a pin of RANGE",
	       "Release one pin of RANGE.", ONE_STEP),
	ACTION("prefetch", "bring RANGE in from backing store",
	       "Bring RANGE in: page it in from the backing file, decompress\n"
	       "compressed pages.", CHUNKED),
	ACTION("dontneed", "hint: reclaim RANGE first",
	       "Eviction hint: reclaim the pages of RANGE first.", CHUNKED),
	ACTION("alwaysneed", "commit RANGE and never reclaim it",
	       "Eviction hint: commit RANGE and never reclaim it until\n"
	       "dontneed.", CHUNKED),
	WHOLE_ACTION("lock", "lock a discardable VMO (say if it was discarded)",
	       "Lock a discardable VMO (mkdir NAME~discardable) against\n"
	       "discard; locks are counted.  Whether the contents were\n"
	       "discarded: getfattr -n user.vmo.lock_state."),
	WHOLE_ACTION("trylock", "lock unless discarded (EBUSY then)",
	       "As lock, but a discarded VMO stays unlocked and the command\n"
	       "fails with EBUSY."),
	WHOLE_ACTION("unlock", "unlock: discardable again at the last unlock",
	       "Drop one lock; at the last one the VMO may be discarded under\n"
	       "memory pressure, oldest unlock first."),
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct ctl_command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void usage_all(FILE *f)
{
	fprintf(f,
		"Usage: vmoctl [OPTIONS] COMMAND [ARGS]\n"
		"Inspect and drive the VMOs of a mounted vmofs.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		char syn[64];

		snprintf(syn, sizeof(syn), "%s %s", commands[i].name,
			 commands[i].args);
		fprintf(f, "  %-28s %s\n", syn, commands[i].summary);
	}
	fprintf(f,
		"\n" PATH_HELP RANGE_SYNTAX "; empty or \"all\" is the\n"
		"whole VMO, the default where RANGE may be left out (not for "
		"slice).\n\n"
		"Options:\n"
		"  -j, --json     JSON output (info, tree, list, stats)\n"
		"  -b, -H, --bytes\n"
		"                 exact counts, not K/M/G (info, tree, list, "
		"stats)\n"
		"  --aolw, --modified\n"
		"                 the clone's kind (clone; default a "
		"snapshot)\n"
		"  -h, --help     this help; 'vmoctl COMMAND --help' for one "
		"command\n"
		"  -V, --version  print the version and exit\n\n"
		"Exit status: 0 success, 1 an operation failed, 2 usage "
		"error.\nSee vmoctl(1) and vmofs(1).\n");
}

static void usage_one(FILE *f, const struct ctl_command *c)
{
	fprintf(f, "Usage: vmoctl %s%s%s%s %s\n\n%s", c->name,
		(c->flags & F_JSON) ? " [--json]" : "",
		(c->flags & F_BYTES) ? " [--bytes]" : "",
		(c->flags & F_KIND) ? " [--aolw|--modified]" : "", c->args,
		c->help);
}

/* A usage error: message, hint, exit status 2. */
static int usage_error(const struct ctl_command *c, const char *fmt,
		       const char *arg)
{
	ctl_errx(fmt, arg);
	if (c)
		fprintf(stderr, "Usage: vmoctl %s %s\n"
			"Try 'vmoctl %s --help' for more information.\n",
			c->name, c->args, c->name);
	else
		fprintf(stderr,
			"Try 'vmoctl --help' for more information.\n");
	return CTL_USAGE;
}

/* What the command line asked for. */
struct ctl_args {
	struct ctl_opts o;
	bool help, version;
	bool two_kinds;		/* both --aolw and --modified */
	const char *bad;	/* the first unknown option */
	char **pos;		/* positional arguments: COMMAND ARGS... */
	int npos;
};

/* Options may come anywhere; "--" ends them; the rest is positional. */
static void parse_args(int argc, char **argv, struct ctl_args *a)
{
	bool opts_done = false;

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (opts_done || s[0] != '-' || s[1] == '\0')
			a->pos[a->npos++] = argv[i];
		else if (strcmp(s, "--") == 0)
			opts_done = true;
		else if (!strcmp(s, "-j") || !strcmp(s, "--json"))
			a->o.json = true;
		else if (!strcmp(s, "-b") || !strcmp(s, "-H") ||
			 !strcmp(s, "--bytes"))
			a->o.bytes = true;
		else if (!strcmp(s, "--aolw") || !strcmp(s, "--modified")) {
			if (a->o.kind && strcmp(a->o.kind, s + 2))
				a->two_kinds = true;
			a->o.kind = s + 2;
		} else if (!strcmp(s, "-h") || !strcmp(s, "--help"))
			a->help = true;
		else if (!strcmp(s, "-V") || !strcmp(s, "--version"))
			a->version = true;
		else if (!a->bad)
			a->bad = s;
	}
	if (a->npos > 0 && strcmp(a->pos[0], "help") == 0) {
		a->help = true;
		a->pos++;
		a->npos--;
	}
}

/* Check a command's options and argument count; 0 or CTL_USAGE. */
static int check_args(const struct ctl_command *c, const struct ctl_args *a)
{
	int nargs = a->npos - 1;

	if (a->o.json && !(c->flags & F_JSON))
		return usage_error(c, "%s", "--json applies to info, tree, "
				   "list and stats only");
	if (a->o.bytes && !(c->flags & F_BYTES))
		return usage_error(c, "%s", "--bytes applies to info, tree, "
				   "list and stats only");
	if (a->o.kind && !(c->flags & F_KIND))
		return usage_error(c, "--%s applies to clone only", a->o.kind);
	if (a->two_kinds)
		return usage_error(c, "%s", "--aolw and --modified: one kind "
				   "per clone");
	if (nargs < c->min_args)
		return usage_error(c, "%s", "missing argument");
	if (nargs > c->max_args)
		return usage_error(c, "unexpected argument '%s'",
				   a->pos[1 + c->max_args]);
	return 0;
}

/* Everything but allocating the positional array; returns the exit status. */
static int vmoctl_main(int argc, char **argv, char **pos)
{
	const struct ctl_command *c = NULL;
	struct ctl_args a = { .pos = pos };
	int rc;

	parse_args(argc, argv, &a);
	if (a.npos > 0) {
		c = find_command(a.pos[0]);
		if (!c && !a.help && !a.version)
			return usage_error(NULL, "unknown command '%s'",
					   a.pos[0]);
		ctl_cmd = c ? c->name : NULL;
	}
	if (a.bad && !a.help && !a.version)
		return usage_error(c, "unknown option '%s'", a.bad);
	if (a.help) {
		if (c)
			usage_one(stdout, c);
		else
			usage_all(stdout);
		return CTL_OK;
	}
	if (a.version) {
		printf("vmoctl (vmofs) %s\n", VMOFS_VERSION);
		return CTL_OK;
	}
	if (!c)
		return usage_error(NULL, "%s", "missing COMMAND");
	if ((rc = check_args(c, &a)) != 0)
		return rc;
	rc = c->run(c, a.npos - 1, a.pos + 1, &a.o);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_errx("write error on standard output");
		rc = CTL_FAIL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	int rc;

	if (!pos) {
		perror("vmoctl");
		return CTL_FAIL;
	}
	rc = vmoctl_main(argc, argv, pos);
	free(pos);
	return rc;
}
