/*
 * vmoctl_util.c - the plumbing every vmoctl command shares.
 *
 * Owns: error messages (one format, "vmoctl: CMD: PATH: reason"), the
 * client-side RANGE parser, resolving a VMO named by its directory or its
 * data file, reading xattrs and small files whole, "key: value" parsing,
 * human units, a streaming JSON writer and the progress bar.
 *
 * Nothing here talks to vmofs beyond stat, getxattr and reading a file;
 * every result is either returned or reported to stderr exactly once.
 */
#include "vmoctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

const char *ctl_cmd = NULL;

/* ------------------------------------------------------------------ */
/* errors and allocation                                               */

static void ctl_prefix(void)
{
	fputs("vmoctl: ", stderr);
	if (ctl_cmd)
		fprintf(stderr, "%s: ", ctl_cmd);
}

void ctl_err(const char *path, int err)
{
	ctl_prefix();
	fprintf(stderr, "%s: %s\n", path, strerror(err));
}

void ctl_errx(const char *fmt, ...)
{
	va_list ap;

	ctl_prefix();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void ctl_oom(void)
{
	ctl_errx("%s", strerror(ENOMEM));
	exit(CTL_FAIL);
}

void *ctl_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		ctl_oom();
	return p;
}

void *ctl_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		ctl_oom();
	return p;
}

char *ctl_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		ctl_oom();
	return p;
}

char *ctl_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		ctl_oom();
	return s;
}

/* ------------------------------------------------------------------ */
/* RANGE                                                               */

/* One NUM of the grammar; *end is left after it.  false + *why on error. */
static bool ctl_num_parse(const char *s, const char **end, uint64_t *v,
			  const char **why)
{
	unsigned base = 10, shift = 0;
	uint64_t x = 0;
	const char *p = s;
	int digits = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++, digits++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (x > (UINT64_MAX - d) / base) {
			*why = "number too large";
			return false;
		}
		x = x * base + d;
	}
	if (digits == 0) {
		*why = base == 16 ? "no hex digits after 0x"
				  : "expected a number";
		return false;
	}
	switch (*p) {
	case 'K': shift = 10; p++; break;
	case 'M': shift = 20; p++; break;
	case 'G': shift = 30; p++; break;
	}
	if (shift && x > (UINT64_MAX >> shift)) {
		*why = "number too large";
		return false;
	}
	*v = x << shift;
	*end = p;
	return true;
}

bool ctl_range_parse(const char *s, struct ctl_range *r, const char **why)
{
	const char *p;

	memset(r, 0, sizeof(*r));
	if (s[0] == '\0' || strcmp(s, "all") == 0) {
		r->all = true;
		return true;
	}
	if (!ctl_num_parse(s, &p, &r->off, why))
		return false;
	if (*p != '+') {
		*why = "expected OFFSET+LENGTH";
		return false;
	}
	if (!ctl_num_parse(p + 1, &p, &r->len, why))
		return false;
	if (*p != '\0') {
		*why = "trailing characters (suffixes are K, M, G)";
		return false;
	}
	if (r->off > UINT64_MAX - r->len) {
		*why = "OFFSET+LENGTH overflows";
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* paths                                                               */

char *ctl_path_join(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (n > 0 && a[n - 1] == '/')
		return ctl_xasprintf("%s%s", a, b);
	return ctl_xasprintf("%s/%s", a, b);
}

/* The directory part of path, as dirname(1) would print it. */
static char *ctl_dirname(const char *path)
{
	char *d = ctl_xstrdup(path);
	size_t n = strlen(d);

	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	while (n > 0 && d[n - 1] != '/')
		n--;
	while (n > 1 && d[n - 1] == '/')
		n--;
	if (n == 0) {
		free(d);
		return ctl_xstrdup(".");
	}
	d[n] = '\0';
	return d;
}

/* The last path component, ignoring trailing slashes. */
static const char *ctl_basename_ptr(const char *path, size_t *len)
{
	size_t n = strlen(path), b;

	while (n > 1 && path[n - 1] == '/')
		n--;
	b = n;
	while (b > 0 && path[b - 1] != '/')
		b--;
	*len = n - b;
	return path + b;
}

char *ctl_basename(const char *path)
{
	size_t n;
	const char *b = ctl_basename_ptr(path, &n);

	return ctl_xasprintf("%.*s", (int)n, b);
}

bool ctl_vmo_resolve(const char *path, struct ctl_vmo *v)
{
	struct stat st;
	const char *base;
	size_t blen;

	v->dir = v->data = NULL;
	if (stat(path, &st) < 0) {
		ctl_err(path, errno);
		return false;
	}
	if (S_ISDIR(st.st_mode)) {
		v->dir = ctl_xstrdup(path);
	} else if (S_ISREG(st.st_mode)) {
		base = ctl_basename_ptr(path, &blen);
		if (!((blen == 4 && memcmp(base, "data", 4) == 0) ||
		      (blen == 4 && memcmp(base, "info", 4) == 0))) {
			ctl_errx("%s: not a VMO directory or data file", path);
			return false;
		}
		v->dir = ctl_dirname(path);
	} else {
		ctl_errx("%s: not a VMO directory or data file", path);
		return false;
	}
	v->data = ctl_path_join(v->dir, "data");
	if (stat(v->data, &st) < 0) {
		if (errno == ENOENT)
			ctl_errx("%s: not a VMO directory (no data file)",
				 path);
		else
			ctl_err(v->data, errno);
		ctl_vmo_free(v);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		ctl_errx("%s: not a VMO directory (no data file)", path);
		ctl_vmo_free(v);
		return false;
	}
	return true;
}

void ctl_vmo_free(struct ctl_vmo *v)
{
	free(v->dir);
	free(v->data);
	v->dir = v->data = NULL;
}

/* ------------------------------------------------------------------ */
/* reading                                                             */

int ctl_getxattr(const char *path, const char *name, char **val, size_t *len)
{
	char *buf = NULL;
	ssize_t n;
	int tries;

	/* Size, then value; the value may grow in between (ERANGE): retry. */
	for (tries = 0; tries < 8; tries++) {
		n = getxattr(path, name, NULL, 0);
		if (n < 0)
			break;
		buf = ctl_xrealloc(buf, (size_t)n + 1);
		n = getxattr(path, name, buf, (size_t)n);
		if (n >= 0 || errno != ERANGE)
			break;
	}
	if (n < 0) {
		int err = errno;

		free(buf);
		return -err;
	}
	buf = ctl_xrealloc(buf, (size_t)n + 1);
	buf[n] = '\0';
	*val = buf;
	if (len)
		*len = (size_t)n;
	return 0;
}

int ctl_read_file_at(int dirfd, const char *name, char **out, size_t *len)
{
	size_t cap = 4096, used = 0;
	char *buf;
	ssize_t n;
	int fd, err;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = ctl_xmalloc(cap);
	for (;;) {
		if (used + 1 >= cap)
			buf = ctl_xrealloc(buf, cap *= 2);
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	err = n < 0 ? errno : 0;
	close(fd);
	if (err) {
		free(buf);
		return -err;
	}
	buf[used] = '\0';
	*out = buf;
	if (len)
		*len = used;
	return 0;
}

void ctl_kv_parse(const char *text, struct ctl_kvlist *l)
{
	const char *p = text;

	l->v = NULL;
	l->n = 0;
	while (*p) {
		const char *nl = strchr(p, '\n'), *colon;
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		struct ctl_kv kv;

		colon = memchr(p, ':', n);
		if (n == 0) {
			p += nl ? 1 : 0;
			continue;
		}
		if (colon) {
			const char *vs = colon + 1;

			while (vs < p + n && (*vs == ' ' || *vs == '\t'))
				vs++;
			kv.key = ctl_xasprintf("%.*s", (int)(colon - p), p);
			kv.val = ctl_xasprintf("%.*s", (int)(p + n - vs), vs);
		} else {
			kv.key = ctl_xstrdup("");
			kv.val = ctl_xasprintf("%.*s", (int)n, p);
		}
		l->v = ctl_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = kv;
		p += n + (nl ? 1 : 0);
	}
}

const char *ctl_kv_get(const struct ctl_kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, key) == 0)
			return l->v[i].val;
	return NULL;
}

void ctl_kv_free(struct ctl_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].val);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

bool ctl_is_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (v)
		*v = x;
	return true;
}

bool ctl_key_is_bytes(const char *key)
{
	static const char *const keys[] = {
		"size", "committed", "populated", "private", "scaled", "pinned",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* human units                                                         */

void ctl_human(uint64_t v, char *buf, size_t n)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	int u = -1;

	if (v < 1024) {
		snprintf(buf, n, "%llu", (unsigned long long)v);
		return;
	}
	while (d >= 1024.0 && u < 5) {
		d /= 1024.0;
		u++;
	}
	/* 1023.96K would print as "1024.0K": move up a unit instead. */
	if (d >= 1023.95 && u < 5) {
		d /= 1024.0;
		u++;
	}
	snprintf(buf, n, "%.1f%c", d, units[u]);
}

/* ------------------------------------------------------------------ */
/* JSON writer                                                         */

/*
 * State: one frame per open object or array; "first" says whether a comma
 * is due before the next member.  after_key is set between a key and its
 * value so the value is written on the key's line.
 */
static struct {
	bool *first;
	size_t depth, cap;
	bool after_key;
} js;

static void json_indent(void)
{
	putchar('\n');
	for (size_t i = 0; i < js.depth; i++)
		fputs("  ", stdout);
}

/* Called before any value or key is written. */
static void json_sep(void)
{
	if (js.after_key) {
		js.after_key = false;
		return;
	}
	if (js.depth > 0) {
		if (!js.first[js.depth - 1])
			putchar(',');
		js.first[js.depth - 1] = false;
		json_indent();
	}
}

static void json_push(char c)
{
	json_sep();
	putchar(c);
	if (js.depth == js.cap) {
		js.cap = js.cap ? js.cap * 2 : 16;
		js.first = ctl_xrealloc(js.first, js.cap * sizeof(*js.first));
	}
	js.first[js.depth++] = true;
}

static void json_pop(char c)
{
	bool empty = js.first[--js.depth];

	if (!empty)
		json_indent();
	putchar(c);
}

void json_obj_begin(void) { json_push('{'); }
void json_obj_end(void) { json_pop('}'); }
void json_arr_begin(void) { json_push('['); }
void json_arr_end(void) { json_pop(']'); }

/* Length of a valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
static void json_put_string(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	putchar('"');
	while (*s) {
		size_t n = utf8_len(s);

		if (n == 0) {
			fputs("\\ufffd", stdout);
			s++;
		} else if (*s == '"' || *s == '\\') {
			printf("\\%c", *s++);
		} else if (*s == '\n') {
			fputs("\\n", stdout);
			s++;
		} else if (*s == '\t') {
			fputs("\\t", stdout);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			printf("\\u%04x", *s++);
		} else {
			fwrite(s, 1, n, stdout);
			s += n;
		}
	}
	putchar('"');
}

void json_key(const char *k)
{
	json_sep();
	json_put_string(k);
	fputs(": ", stdout);
	js.after_key = true;
}

void json_str(const char *s)
{
	json_sep();
	json_put_string(s);
}

void json_u64(uint64_t v)
{
	json_sep();
	printf("%llu", (unsigned long long)v);
}

void json_auto(const char *s)
{
	uint64_t v;

	if (ctl_is_u64(s, &v))
		json_u64(v);
	else
		json_str(s);
}

bool json_done(void)
{
	putchar('\n');
	free(js.first);
	js.first = NULL;
	js.depth = js.cap = 0;
	return fflush(stdout) == 0 && !ferror(stdout);
}

/* ------------------------------------------------------------------ */
/* progress bar                                                        */

#define PROGRESS_WIDTH 30	/* cells of the bar */

static struct {
	bool on;		/* stderr is a terminal and a bar is drawn */
	const char *what;
	uint64_t total;
} prog;

void ctl_progress_begin(const char *what, uint64_t total)
{
	prog.on = isatty(STDERR_FILENO) && total > 0;
	prog.what = what;
	prog.total = total;
	ctl_progress(0);
}

void ctl_progress(uint64_t done)
{
	char h1[32], h2[32], bar[PROGRESS_WIDTH + 1];
	unsigned pct, fill;

	if (!prog.on)
		return;
	if (done > prog.total)
		done = prog.total;
	pct = (unsigned)((long double)done * 100 / prog.total);
	fill = (unsigned)((long double)done * PROGRESS_WIDTH / prog.total);
	memset(bar, '#', fill);
	memset(bar + fill, '.', PROGRESS_WIDTH - fill);
	bar[PROGRESS_WIDTH] = '\0';
	ctl_human(done, h1, sizeof(h1));
	ctl_human(prog.total, h2, sizeof(h2));
	fprintf(stderr, "\r\033[Kvmoctl: %s: [%s] %3u%% %s of %s", prog.what,
		bar, pct, h1, h2);
	fflush(stderr);
}

void ctl_progress_end(void)
{
	if (!prog.on)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	prog.on = false;
}
