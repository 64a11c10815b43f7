/*
 * vmoctl_show.c - the read commands: info, tree and stats.
 *
 * Each reads what vmofs publishes and prints it twice over: as text for
 * people (byte counts in K/M/G unless --bytes) or, with --json, as one
 * JSON document on stdout.
 *
 *   info  PATH    the VMO's "info" file (its getxattr values if the file
 *                 cannot be read), one "key: value" per line
 *   tree  MOUNT   readdir of MOUNT, then of each VMO's clones/ and slices/,
 *                 recursively; each node's numbers come from its info file
 *   stats MOUNT   the root directory's user.vmofs.stats xattr
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

/* The members of one VMO object: its keys, numbers as JSON numbers. */
static void json_vmo_members(const struct ctl_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].key[0] == '\0')
			continue;
		json_key(l->v[i].key);
		json_auto(l->v[i].val);
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
		json_obj_begin();
		json_key("path");
		json_str(v.dir);
		json_vmo_members(&l);
		json_obj_end();
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
	struct tnode **kids;	/* clones (sorted), then slices (sorted) */
	size_t nkids;
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

/* Add the VMOs in vfd/sub ("clones" or "slices") as children of t. */
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
	t->nkids = 0;
	ctl_kv_parse(text, &t->kv);
	free(text);
	w->count++;
	tree_load_kids(vfd, "clones", t, w);
	tree_load_kids(vfd, "slices", t, w);
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

/* The columns after the name, and their header titles. */
static const char *const tree_cols[] = { "size", "committed", "private",
					 "scaled" };
static const char *const tree_titles[] = { "SIZE", "COMMITTED", "PRIVATE",
					   "SCALED" };
#define N_TREE_COLS 4

struct tlayout {
	size_t name_w, kind_w, num_w[N_TREE_COLS];
	bool bytes;
};

static void tree_cell(const struct tnode *t, size_t c, bool bytes,
		      char *buf, size_t n)
{
	const char *v = ctl_kv_get(&t->kv, tree_cols[c]);
	uint64_t x;

	if (!v)
		snprintf(buf, n, "-");
	else if (!bytes && ctl_is_u64(v, &x))
		ctl_human(x, buf, n);
	else
		snprintf(buf, n, "%s", v);
}

static void tree_measure(const struct tnode *t, struct tlayout *L)
{
	const char *kind = ctl_kv_get(&t->kv, "kind");
	char buf[32];

	if (kind && strlen(kind) > L->kind_w)
		L->kind_w = strlen(kind);
	for (size_t c = 0; c < N_TREE_COLS; c++) {
		tree_cell(t, c, L->bytes, buf, sizeof(buf));
		if (strlen(buf) > L->num_w[c])
			L->num_w[c] = strlen(buf);
	}
	for (size_t i = 0; i < t->nkids; i++)
		tree_measure(t->kids[i], L);
}

/*
 * One line per node.  prefix holds the "│   " / "    " runs of the
 * ancestors; pcols is its width in columns.
 */
static void tree_print(const struct tnode *t, const char *prefix,
		       size_t pcols, bool last, const struct tlayout *L)
{
	const char *kind = ctl_kv_get(&t->kv, "kind");
	size_t used = pcols + 4 + cols(t->name);
	char buf[32], *kp;

	printf("%s%s%s%*s", prefix, last ? "└── " : "├── ", t->name,
	       (int)(L->name_w - used), "");
	printf("  %-*s", (int)L->kind_w, kind ? kind : "-");
	for (size_t c = 0; c < N_TREE_COLS; c++) {
		tree_cell(t, c, L->bytes, buf, sizeof(buf));
		printf("  %*s", (int)L->num_w[c], buf);
	}
	putchar('\n');
	kp = ctl_xasprintf("%s%s", prefix, last ? "    " : "│   ");
	for (size_t i = 0; i < t->nkids; i++)
		tree_print(t->kids[i], kp, pcols + 4, i + 1 == t->nkids, L);
	free(kp);
}

static void tree_json(const struct tnode *t)
{
	json_obj_begin();
	json_key("name");
	json_str(t->name);
	json_key("path");
	json_str(t->path);
	json_vmo_members(&t->kv);
	json_key("children");
	json_arr_begin();
	for (size_t i = 0; i < t->nkids; i++)
		tree_json(t->kids[i]);
	json_arr_end();
	json_obj_end();
}

static void tree_output(const char *root, struct tnode **tops, size_t n,
			const struct twalk *w, const struct ctl_opts *o)
{
	struct tlayout L = { .name_w = cols("NAME"), .kind_w = strlen("KIND"),
			     .bytes = o->bytes };

	for (size_t c = 0; c < N_TREE_COLS; c++)
		L.num_w[c] = strlen(tree_titles[c]);
	for (size_t i = 0; i < n; i++) {
		size_t k = tree_name_width(tops[i], 1);

		if (k > L.name_w)
			L.name_w = k;
		tree_measure(tops[i], &L);
	}
	printf("%-*s  %-*s", (int)L.name_w, "NAME", (int)L.kind_w, "KIND");
	for (size_t c = 0; c < N_TREE_COLS; c++)
		printf("  %*s", (int)L.num_w[c], tree_titles[c]);
	printf("\n%s\n", root);
	for (size_t i = 0; i < n; i++)
		tree_print(tops[i], "", 0, i + 1 == n, &L);
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
 * Load what tree shows for root: the VMO itself if root is a VMO
 * directory, else every VMO in it.  *tops gets the loaded nodes.
 */
static void tree_load_root(const char *root, struct tnode ***tops, size_t *n,
			   struct twalk *w)
{
	char **names;
	size_t nn;
	int fd, dfd, rc;

	*tops = NULL;
	*n = 0;
	if (is_vmo_dir(root)) {
		struct tnode *t = tree_load(AT_FDCWD, root, root, w);

		if (t) {
			free(t->name);
			t->name = ctl_basename(root);
			*tops = ctl_xmalloc(sizeof(**tops));
			(*tops)[(*n)++] = t;
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

int cmd_tree(int argc, char **argv, const struct ctl_opts *o)
{
	const char *root = argv[0];
	struct twalk w = { 0 };
	struct tnode **tops;
	struct stat st;
	size_t n;

	(void)argc;
	if (stat(root, &st) < 0) {
		ctl_err(root, errno);
		return CTL_FAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		ctl_errx("%s: not a directory (give the mount point or a VMO "
			 "directory)", root);
		return CTL_FAIL;
	}
	tree_load_root(root, &tops, &n, &w);
	if (o->json) {
		json_obj_begin();
		json_key("path");
		json_str(root);
		json_key("children");
		json_arr_begin();
		for (size_t i = 0; i < n; i++)
			tree_json(tops[i]);
		json_arr_end();
		json_obj_end();
		if (!json_done())
			w.failed = true;
	} else {
		tree_output(root, tops, n, &w, o);
	}
	for (size_t i = 0; i < n; i++)
		tree_free(tops[i]);
	free(tops);
	return w.failed ? CTL_FAIL : CTL_OK;
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

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
			if (l.v[i].key[0] == '\0')
				printf("%s\n", l.v[i].val);
			else
				printf("%s:%*s %s\n", l.v[i].key,
				       (int)(w - strlen(l.v[i].key)), "",
				       l.v[i].val);
		}
		rc = CTL_OK;
	}
	ctl_kv_free(&l);
	return rc;
}
