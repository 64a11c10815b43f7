/*
 * vmoctl_show.c - the read commands: info, tree, list and stats.
 *
 * Each reads what vmofs publishes and prints it twice over: as text for
 * people (byte counts in K/M/G unless --bytes) or, with --json, as one
 * JSON document on stdout.
 *
 *   info  PATH    the VMO's "info" file (its getxattr values if the file
 *                 cannot be read), one "key: value" per line
 *   tree  MOUNT   readdir of MOUNT, then of each VMO's clones/, slices/ and refs/,
 *                 recursively; each node's numbers come from its info file
 *   list  MOUNT   the same walk, one aligned row per VMO (like zfs list)
 *   stats MOUNT   the root directory's user.vmofs.stats xattr
 *
 * JSON keys mean one thing wherever they appear.  A VMO is an object with
 * "name" (its entry name), "path", the info keys ("children" is always
 * the number of live child VMOs, as in user.vmo.children) and "shared"
 * (committed - private: bytes it sees that other VMOs see too); tree adds
 * the arrays "clones", "slices" and "refs" of child objects; tree and list wrap
 * the VMOs in {"path": MOUNT, "vmos": [...]}.
 *
 * The tree walk opens each directory relative to its parent (openat), so
 * a deep clone chain is not limited by PATH_MAX; one directory stream is
 * open per level while its children are walked.
 */
#include "vmoctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The keys of SPEC section 4, in the order the info file gives them. */
static const char *const info_keys[] = {
	"id", "kind", "parent", "size", "committed", "populated",
	"private", "scaled", "pinned", "children",
};
#define N_INFO_KEYS (sizeof(info_keys) / sizeof(info_keys[0]))

/* ------------------------------------------------------------------ */
/* reading one VMO                                                     */

/* Fill l from the user.vmo.* xattrs of data; -errno if none could be read. */
static int vmo_load_xattrs(const char *data, struct ctl_kvlist *l)
{
	int first_err = 0;

	l->v = NULL;
	l->n = 0;
	for (size_t i = 0; i < N_INFO_KEYS; i++) {
		char name[64], *val;
		int rc;

		snprintf(name, sizeof(name), "user.vmo.%s", info_keys[i]);
		rc = ctl_getxattr(data, name, &val, NULL);
		if (rc < 0) {
			if (!first_err)
				first_err = rc;
			continue;
		}
		l->v = ctl_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n].key = ctl_xstrdup(info_keys[i]);
		l->v[l->n].val = val;
		l->n++;
	}
	return l->n ? 0 : first_err;
}

/* Read a VMO's info: the info file, else its xattrs.  Reports errors. */
static bool vmo_load(const struct ctl_vmo *v, struct ctl_kvlist *l)
{
	char *info = ctl_path_join(v->dir, "info"), *text;
	int rc;

	rc = ctl_read_file_at(AT_FDCWD, info, &text, NULL);
	if (rc == 0) {
		ctl_kv_parse(text, l);
		free(text);
	} else if (vmo_load_xattrs(v->data, l) < 0) {
		ctl_err(info, -rc);
		free(info);
		return false;
	}
	free(info);
	return true;
}

/* Print one key's value: human units for byte counts unless --bytes. */
static void show_value(const char *key, const char *val, bool exact,
		       bool with_bytes)
{
	char h[32];
	uint64_t v;

	if (exact || !ctl_key_is_bytes(key) || !ctl_is_u64(val, &v)) {
		fputs(val, stdout);
		return;
	}
	ctl_human(v, h, sizeof(h));
	if (with_bytes && v >= 1024)
		printf("%s (%llu)", h, (unsigned long long)v);
	else
		fputs(h, stdout);
}

/* committed - private: the bytes a VMO sees that other VMOs see too. */
static bool vmo_shared(const struct ctl_kvlist *l, uint64_t *shared)
{
	const char *c = ctl_kv_get(l, "committed"), *p = ctl_kv_get(l, "private");
	uint64_t cv, pv;

	if (!c || !p || !ctl_is_u64(c, &cv) || !ctl_is_u64(p, &pv) || pv > cv)
		return false;
	*shared = cv - pv;
	return true;
}

/*
 * The members of one VMO object: name, path, its info keys (numbers as
 * JSON numbers) and, after "private", "shared".
 */
static void json_vmo_members(const char *name, const char *path,
			     const struct ctl_kvlist *l)
{
	uint64_t shared;

	json_key("name");
	json_str(name);
	json_key("path");
	json_str(path);
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].key[0] == '\0')
			continue;
		json_key(l->v[i].key);
		json_auto(l->v[i].val);
		if (strcmp(l->v[i].key, "private") == 0 &&
		    vmo_shared(l, &shared)) {
			json_key("shared");
			json_u64(shared);
		}
	}
}

/* ------------------------------------------------------------------ */
/* info                                                                */

int cmd_info(int argc, char **argv, const struct ctl_opts *o)
{
	struct ctl_kvlist l;
	struct ctl_vmo v;
	size_t w = strlen("path");
	int rc = CTL_OK;

	(void)argc;
	if (!ctl_vmo_resolve(argv[0], &v))
		return CTL_FAIL;
	if (!vmo_load(&v, &l)) {
		ctl_vmo_free(&v);
		return CTL_FAIL;
	}
	if (o->json) {
		char *name = ctl_basename(v.dir);

		json_obj_begin();
		json_vmo_members(name, v.dir, &l);
		json_obj_end();
		free(name);
		if (!json_done())
			rc = CTL_FAIL;
	} else {
		for (size_t i = 0; i < l.n; i++)
			if (strlen(l.v[i].key) > w)
				w = strlen(l.v[i].key);
		printf("%-*s %s\n", (int)w + 1, "path:", v.dir);
		for (size_t i = 0; i < l.n; i++) {
			if (l.v[i].key[0] == '\0') {
				printf("%s\n", l.v[i].val);
				continue;
			}
			printf("%s:%*s ", l.v[i].key,
			       (int)(w - strlen(l.v[i].key)), "");
			show_value(l.v[i].key, l.v[i].val, o->bytes, true);
			putchar('\n');
		}
	}
	ctl_kv_free(&l);
	ctl_vmo_free(&v);
	return rc;
}

/* ------------------------------------------------------------------ */
/* tree                                                                */

struct tnode {
	char *name;		/* entry name, e.g. "snap" */
	char *path;		/* full path, for JSON and messages */
	struct ctl_kvlist kv;	/* the info file */
	struct tnode **kids;	/* clones, then slices, then refs (each sorted) */
	size_t nkids;
	size_t nclones;		/* kids[0..nclones) are the clones */
	size_t nslices_end;	/* kids[nclones..nslices_end) the slices */
};

struct twalk {
	bool failed;		/* some node could not be read */
	size_t count;		/* VMOs loaded */
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The sorted entry names of the directory open as fd (consumed), except
 * "." and "..".  Returns -errno on a readdir failure.
 */
static int tree_list(int fd, char ***names, size_t *n)
{
	struct dirent *de;
	DIR *d = fdopendir(fd);
	int err = 0;

	*names = NULL;
	*n = 0;
	if (!d) {
		err = errno;
		close(fd);
		return -err;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			err = errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		*names = ctl_xrealloc(*names, (*n + 1) * sizeof(**names));
		(*names)[(*n)++] = ctl_xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(*names, *n, sizeof(**names), name_cmp);
	return -err;
}

static struct tnode *tree_load(int parentfd, const char *name,
			       const char *path, struct twalk *w);

/* Add the VMOs in vfd/sub ("clones", "slices", "refs") as children of t. */
static void tree_load_kids(int vfd, const char *sub, struct tnode *t,
			   struct twalk *w)
{
	char *subpath = ctl_path_join(t->path, sub), **names;
	size_t n;
	int fd, rc;

	fd = openat(vfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ctl_err(subpath, errno);
		w->failed = true;
		free(subpath);
		return;
	}
	/* Keep a second descriptor to open the children from. */
	int dfd = dup(fd);

	rc = tree_list(fd, &names, &n);
	if (rc < 0) {
		ctl_err(subpath, -rc);
		w->failed = true;
	}
	for (size_t i = 0; i < n; i++) {
		char *kpath = ctl_path_join(subpath, names[i]);
		struct tnode *k = dfd < 0 ? NULL :
				  tree_load(dfd, names[i], kpath, w);

		if (k) {
			t->kids = ctl_xrealloc(t->kids, (t->nkids + 1) *
					       sizeof(*t->kids));
			t->kids[t->nkids++] = k;
		}
		free(kpath);
		free(names[i]);
	}
	if (dfd >= 0)
		close(dfd);
	free(names);
	free(subpath);
}

/* Load the VMO directory parentfd/name and everything below it. */
static struct tnode *tree_load(int parentfd, const char *name,
			       const char *path, struct twalk *w)
{
	struct tnode *t;
	char *text;
	int vfd, rc;

	vfd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vfd < 0) {
		ctl_err(path, errno);
		w->failed = true;
		return NULL;
	}
	rc = ctl_read_file_at(vfd, "info", &text, NULL);
	if (rc < 0) {
		char *ipath = ctl_path_join(path, "info");

		ctl_err(ipath, -rc);
		free(ipath);
		w->failed = true;
		close(vfd);
		return NULL;
	}
	t = ctl_xmalloc(sizeof(*t));
	t->name = ctl_xstrdup(name);
	t->path = ctl_xstrdup(path);
	t->kids = NULL;
	t->nkids = t->nclones = t->nslices_end = 0;
	ctl_kv_parse(text, &t->kv);
	free(text);
	w->count++;
	tree_load_kids(vfd, "clones", t, w);
	t->nclones = t->nkids;
	tree_load_kids(vfd, "slices", t, w);
	t->nslices_end = t->nkids;
	tree_load_kids(vfd, "refs", t, w);
	close(vfd);
	return t;
}

static void tree_free(struct tnode *t)
{
	for (size_t i = 0; i < t->nkids; i++)
		tree_free(t->kids[i]);
	free(t->kids);
	ctl_kv_free(&t->kv);
	free(t->name);
	free(t->path);
	free(t);
}

/* Display width of a UTF-8 string: one column per character. */
static size_t cols(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* The widest "prefix + name" below t, at depth (levels of 4 columns). */
static size_t tree_name_width(const struct tnode *t, size_t depth)
{
	size_t w = depth * 4 + cols(t->name);

	for (size_t i = 0; i < t->nkids; i++) {
		size_t k = tree_name_width(t->kids[i], depth + 1);

		if (k > w)
			w = k;
	}
	return w;
}

/*
 * A table of VMOs: a label column (tree: the drawing and name; list: the
 * path), KIND, then value columns named by their info keys ("shared" is
 * derived).  Byte counts in K/M/G unless --bytes.
 */
#define MAX_COLS 8
struct tlayout {
	const char *const *keys, *const *titles;
	size_t ncols;
	size_t name_w, kind_w, num_w[MAX_COLS];
	bool bytes;
};

static const char *const tree_keys[] = { "size", "committed", "private",
					 "scaled" };
static const char *const tree_titles[] = { "SIZE", "COMMITTED", "PRIVATE",
					   "SCALED" };
static const char *const list_keys[] = { "size", "committed", "private",
					 "shared", "scaled", "children" };
static const char *const list_titles[] = { "SIZE", "COMMITTED", "PRIVATE",
					   "SHARED", "SCALED", "CHILDREN" };

static void layout_init(struct tlayout *L, const char *const *keys,
			const char *const *titles, size_t ncols,
			const char *label, const struct ctl_opts *o)
{
	memset(L, 0, sizeof(*L));
	L->keys = keys;
	L->titles = titles;
	L->ncols = ncols;
	L->name_w = cols(label);
	L->kind_w = strlen("KIND");
	L->bytes = o->bytes;
	for (size_t c = 0; c < ncols; c++)
		L->num_w[c] = strlen(titles[c]);
}

static void vmo_cell(const struct tnode *t, const char *key, bool bytes,
		     char *buf, size_t n)
{
	const char *v = ctl_kv_get(&t->kv, key);
	uint64_t x;

	if (strcmp(key, "shared") == 0) {
		if (!vmo_shared(&t->kv, &x))
			snprintf(buf, n, "-");
		else if (bytes)
			snprintf(buf, n, "%llu", (unsigned long long)x);
		else
			ctl_human(x, buf, n);
	} else if (!v) {
		snprintf(buf, n, "-");
	} else if (!bytes && ctl_key_is_bytes(key) && ctl_is_u64(v, &x)) {
		ctl_human(x, buf, n);
	} else {
		snprintf(buf, n, "%s", v);
	}
}

/* Widen L's KIND and value columns for t (and, if deep, all below it). */
static void layout_measure(const struct tnode *t, struct tlayout *L, bool deep)
{
	const char *kind = ctl_kv_get(&t->kv, "kind");
	char buf[32];

	if (kind && strlen(kind) > L->kind_w)
		L->kind_w = strlen(kind);
	for (size_t c = 0; c < L->ncols; c++) {
		vmo_cell(t, L->keys[c], L->bytes, buf, sizeof(buf));
		if (strlen(buf) > L->num_w[c])
			L->num_w[c] = strlen(buf);
	}
	if (deep)
		for (size_t i = 0; i < t->nkids; i++)
			layout_measure(t->kids[i], L, true);
}

static void layout_header(const char *label, const struct tlayout *L)
{
	printf("%s%*s  %-*s", label, (int)(L->name_w - cols(label)), "",
	       (int)L->kind_w, "KIND");
	for (size_t c = 0; c < L->ncols; c++)
		printf("  %*s", (int)L->num_w[c], L->titles[c]);
	putchar('\n');
}

/* The rest of t's row, after a label used columns wide. */
static void layout_row(const struct tnode *t, size_t used,
		       const struct tlayout *L)
{
	const char *kind = ctl_kv_get(&t->kv, "kind");
	char buf[32];

	printf("%*s  %-*s", (int)(L->name_w - used), "", (int)L->kind_w,
	       kind ? kind : "-");
	for (size_t c = 0; c < L->ncols; c++) {
		vmo_cell(t, L->keys[c], L->bytes, buf, sizeof(buf));
		printf("  %*s", (int)L->num_w[c], buf);
	}
	putchar('\n');
}

/*
 * One line per node.  prefix holds the "│   " / "    " runs of the
 * ancestors; pcols is its width in columns.
 */
static void tree_print(const struct tnode *t, const char *prefix,
		       size_t pcols, bool last, const struct tlayout *L)
{
	char *kp;

	printf("%s%s%s", prefix, last ? "└── " : "├── ", t->name);
	layout_row(t, pcols + 4 + cols(t->name), L);
	kp = ctl_xasprintf("%s%s", prefix, last ? "    " : "│   ");
	for (size_t i = 0; i < t->nkids; i++)
		tree_print(t->kids[i], kp, pcols + 4, i + 1 == t->nkids, L);
	free(kp);
}

static void tree_json(const struct tnode *t)
{
	json_obj_begin();
	json_vmo_members(t->name, t->path, &t->kv);
	json_key("clones");
	json_arr_begin();
	for (size_t i = 0; i < t->nclones; i++)
		tree_json(t->kids[i]);
	json_arr_end();
	json_key("slices");
	json_arr_begin();
	for (size_t i = t->nclones; i < t->nslices_end; i++)
		tree_json(t->kids[i]);
	json_arr_end();
	json_key("refs");
	json_arr_begin();
	for (size_t i = t->nslices_end; i < t->nkids; i++)
		tree_json(t->kids[i]);
	json_arr_end();
	json_obj_end();
}

/* {"path": root, "vmos": [each(tops[i])...]}, tree's and list's --json. */
static bool
vmos_json(const char *root, struct tnode **tops, size_t n,
    void (*each)(const struct tnode *))
{
	json_obj_begin();
	json_key("path");
	json_str(root);
	json_key("vmos");
	json_arr_begin();
	for (size_t i = 0; i < n; i++)
		each(tops[i]);
	json_arr_end();
	json_obj_end();
	return json_done();
}


/*
 * The text tree.  Its first line is ROOT as given: the mount (no numbers)
 * or, when ROOT is a VMO directory, that VMO's own row; what lies below
 * hangs from it.
 */
static void tree_output(const char *root, struct tnode **tops, size_t n,
			bool vmo_root, const struct twalk *w,
			const struct ctl_opts *o)
{
	struct tnode **below = vmo_root ? tops[0]->kids : tops;
	size_t nbelow = vmo_root ? tops[0]->nkids : n;
	struct tlayout L;

	layout_init(&L, tree_keys, tree_titles, 4, "NAME", o);
	if (vmo_root) {
		if (cols(root) > L.name_w)
			L.name_w = cols(root);
		layout_measure(tops[0], &L, false);
	}
	for (size_t i = 0; i < nbelow; i++) {
		size_t k = tree_name_width(below[i], 1);

		if (k > L.name_w)
			L.name_w = k;
		layout_measure(below[i], &L, true);
	}
	layout_header("NAME", &L);
	fputs(root, stdout);
	if (vmo_root)
		layout_row(tops[0], cols(root), &L);
	else
		putchar('\n');
	for (size_t i = 0; i < nbelow; i++)
		tree_print(below[i], "", 0, i + 1 == nbelow, &L);
	printf("\n%zu VMO%s\n", w->count, w->count == 1 ? "" : "s");
}

/* True if path is a VMO directory itself (it has an info file). */
static bool is_vmo_dir(const char *path)
{
	char *info = ctl_path_join(path, "info"), *clones;
	struct stat st;
	bool yes;

	clones = ctl_path_join(path, "clones");
	yes = stat(info, &st) == 0 && S_ISREG(st.st_mode) &&
	      stat(clones, &st) == 0 && S_ISDIR(st.st_mode);
	free(info);
	free(clones);
	return yes;
}

/*
 * Load what tree and list show for root: the VMO itself if root is a VMO
 * directory (*vmo_root), else every VMO in it.  *tops gets the loaded
 * nodes.
 */
static void tree_load_root(const char *root, struct tnode ***tops, size_t *n,
			   bool *vmo_root, struct twalk *w)
{
	char **names;
	size_t nn;
	int fd, dfd, rc;

	*tops = NULL;
	*n = 0;
	*vmo_root = is_vmo_dir(root);
	if (*vmo_root) {
		struct tnode *t = tree_load(AT_FDCWD, root, root, w);

		if (t) {
			free(t->name);
			t->name = ctl_basename(root);
			*tops = ctl_xmalloc(sizeof(**tops));
			(*tops)[(*n)++] = t;
		} else {
			*vmo_root = false;
		}
		return;
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dfd = fd < 0 ? -1 : dup(fd);
	if (fd < 0 || dfd < 0) {
		ctl_err(root, errno);
		if (fd >= 0)
			close(fd);
		w->failed = true;
		return;
	}
	rc = tree_list(fd, &names, &nn);
	if (rc < 0) {
		ctl_err(root, -rc);
		w->failed = true;
	}
	*tops = ctl_xmalloc(nn * sizeof(**tops));
	for (size_t i = 0; i < nn; i++) {
		char *p = ctl_path_join(root, names[i]);
		struct tnode *t = tree_load(dfd, names[i], p, w);

		if (t)
			(*tops)[(*n)++] = t;
		free(p);
		free(names[i]);
	}
	free(names);
	close(dfd);
}

/* Check that root is a directory; report and return false if not. */
static bool walk_root_ok(const char *root)
{
	struct stat st;

	if (stat(root, &st) < 0) {
		ctl_err(root, errno);
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		ctl_errx("%s: not a directory (give the mount point or a VMO "
			 "directory)", root);
		return false;
	}
	return true;
}

int cmd_tree(int argc, char **argv, const struct ctl_opts *o)
{
	const char *root = argv[0];
	struct twalk w = { 0 };
	struct tnode **tops;
	bool vmo_root;
	size_t n;

	(void)argc;
	if (!walk_root_ok(root))
		return CTL_FAIL;
	tree_load_root(root, &tops, &n, &vmo_root, &w);
	if (o->json) {
		if (!vmos_json(root, tops, n, tree_json))
			w.failed = true;
	} else {
		tree_output(root, tops, n, vmo_root, &w, o);
	}
	for (size_t i = 0; i < n; i++)
		tree_free(tops[i]);
	free(tops);
	return w.failed ? CTL_FAIL : CTL_OK;
}

/* ------------------------------------------------------------------ */
/* list                                                                */

/* The path list shows: "./a" of "list ." reads "a". */
static const char *list_label(const char *path)
{
	return strncmp(path, "./", 2) == 0 && path[2] ? path + 2 : path;
}

static void list_measure(const struct tnode *t, struct tlayout *L)
{
	size_t w = cols(list_label(t->path));

	if (w > L->name_w)
		L->name_w = w;
	layout_measure(t, L, false);
	for (size_t i = 0; i < t->nkids; i++)
		list_measure(t->kids[i], L);
}

/* t, then its clones, then its slices (each in name order), recursively. */
static void list_print(const struct tnode *t, const struct tlayout *L)
{
	const char *label = list_label(t->path);

	fputs(label, stdout);
	layout_row(t, cols(label), L);
	for (size_t i = 0; i < t->nkids; i++)
		list_print(t->kids[i], L);
}

static void list_json(const struct tnode *t)
{
	json_obj_begin();
	json_vmo_members(t->name, t->path, &t->kv);
	json_obj_end();
	for (size_t i = 0; i < t->nkids; i++)
		list_json(t->kids[i]);
}

int cmd_list(int argc, char **argv, const struct ctl_opts *o)
{
	const char *root = argv[0];
	struct twalk w = { 0 };
	struct tnode **tops;
	struct tlayout L;
	bool vmo_root;
	size_t n;

	(void)argc;
	if (!walk_root_ok(root))
		return CTL_FAIL;
	tree_load_root(root, &tops, &n, &vmo_root, &w);
	if (o->json) {
		if (!vmos_json(root, tops, n, list_json))
			w.failed = true;
	} else {
		layout_init(&L, list_keys, list_titles, 6, "PATH", o);
		for (size_t i = 0; i < n; i++)
			list_measure(tops[i], &L);
		layout_header("PATH", &L);
		for (size_t i = 0; i < n; i++)
			list_print(tops[i], &L);
	}
	for (size_t i = 0; i < n; i++)
		tree_free(tops[i]);
	free(tops);
	return w.failed ? CTL_FAIL : CTL_OK;
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * A counter's value for people: an amount of pages ("..._pages", the
 * queues "q_...", "zstore_ballast") gets its size after it, an amount of
 * bytes ("..._bytes") is shown as info shows sizes; event counters as they
 * are.  --bytes: every value as the daemon gives it.
 */
static void stats_value(const char *key, const char *val, bool exact)
{
	char h[32];
	uint64_t v;

	if (exact || !ctl_is_u64(val, &v) || v == 0) {
		fputs(val, stdout);
	} else if (ends_with(key, "_pages") || strncmp(key, "q_", 2) == 0 ||
		   strcmp(key, "zstore_ballast") == 0) {
		ctl_human(v * CTL_PAGE_SIZE, h, sizeof(h));
		printf("%s (%s)", val, h);
	} else if (ends_with(key, "_bytes")) {
		show_value("size", val, false, true);
	} else {
		fputs(val, stdout);
	}
}

int cmd_stats(int argc, char **argv, const struct ctl_opts *o)
{
	const char *mnt = argv[0];
	struct ctl_kvlist l;
	size_t w = 0;
	char *text;
	int rc;

	(void)argc;
	rc = ctl_getxattr(mnt, "user.vmofs.stats", &text, NULL);
	if (rc == -ENODATA || rc == -ENOTSUP) {
		ctl_errx("%s: not the root of a vmofs mount (no "
			 "user.vmofs.stats)", mnt);
		return CTL_FAIL;
	}
	if (rc < 0) {
		ctl_err(mnt, -rc);
		return CTL_FAIL;
	}
	ctl_kv_parse(text, &l);
	free(text);
	if (o->json) {
		json_obj_begin();
		for (size_t i = 0; i < l.n; i++) {
			if (l.v[i].key[0] == '\0')
				continue;
			json_key(l.v[i].key);
			json_auto(l.v[i].val);
		}
		json_obj_end();
		rc = json_done() ? CTL_OK : CTL_FAIL;
	} else {
		for (size_t i = 0; i < l.n; i++)
			if (strlen(l.v[i].key) > w)
				w = strlen(l.v[i].key);
		for (size_t i = 0; i < l.n; i++) {
			if (l.v[i].key[0] == '\0') {
				printf("%s\n", l.v[i].val);
				continue;
			}
			printf("%s:%*s ", l.v[i].key,
			       (int)(w - strlen(l.v[i].key)), "");
			stats_value(l.v[i].key, l.v[i].val, o->bytes);
			putchar('\n');
		}
		rc = CTL_OK;
	}
	ctl_kv_free(&l);
	return rc;
}
