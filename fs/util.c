/*
 * util.c - small helpers every fs/ module shares: the RANGE and size
 * grammars, the one place where libvm's negative errnos become reply
 * errnos, a monotonic clock, and logging (stderr in the foreground, syslog
 * once daemonised).
 *
 * Grammar (SPEC 2, shared by mkdir names and xattr values):
 *   NUM   := ( [0-9]+ | 0x[0-9a-fA-F]+ ) [KMG]?     binary suffixes
 *   RANGE := NUM '+' NUM
 * Anything else, or a value that overflows 64 bits, is -EINVAL.
 */
#include "vmofs.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/*
 * Parse one NUM at s.  On success *out is the value and *end points past
 * it (if end is NULL the number must end the string).
 */
int
vfs_parse_num(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0, base = 10, d, mult = 1;
	const char *p = s;
	int ndig = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++, ndig++) {
		if (isdigit((unsigned char)*p))
			d = (uint64_t)(*p - '0');
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = (uint64_t)(tolower((unsigned char)*p) - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	if (ndig == 0)
		return -EINVAL;
	switch (*p) {
	case 'K': case 'k': mult = 1ull << 10; p++; break;
	case 'M': case 'm': mult = 1ull << 20; p++; break;
	case 'G': case 'g': mult = 1ull << 30; p++; break;
	default: break;
	}
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	if (end)
		*end = p;
	else if (*p != '\0')
		return -EINVAL;
	*out = v * mult;
	return 0;
}

/* Parse "OFFSET+LENGTH"; the sum must not overflow. */
int
vfs_parse_range(const char *s, uint64_t *off, uint64_t *len)
{
	const char *p;

	if (vfs_parse_num(s, off, &p) != 0 || *p != '+')
		return -EINVAL;
	if (vfs_parse_num(p + 1, len, NULL) != 0)
		return -EINVAL;
	if (*off + *len < *off)
		return -EINVAL;
	return 0;
}

/* The size= option: NUM, or N% of physical memory.  0 is -EINVAL. */
int
vfs_parse_size(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t v;

	if (n > 1 && s[n - 1] == '%') {
		char buf[32];
		long pages = sysconf(_SC_PHYS_PAGES);
		long psz = sysconf(_SC_PAGESIZE);

		if (n - 1 >= sizeof(buf) || pages <= 0 || psz <= 0)
			return -EINVAL;
		memcpy(buf, s, n - 1);
		buf[n - 1] = '\0';
		if (vfs_parse_num(buf, &v, NULL) != 0 || v == 0 || v > 100 ||
		    buf[0] == '0')
			return -EINVAL;
		*out = (uint64_t)pages * (uint64_t)psz / 100 * v;
		return 0;
	}
	if (vfs_parse_num(s, &v, NULL) != 0 || v < VFS_PAGE)
		return -EINVAL;
	*out = v;
	return 0;
}

/* CLOCK_MONOTONIC in nanoseconds (the spins of conn.c and uring.c). */
int64_t
vfs_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void
vfs_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vfs.foreground) {
		fputs("vmofs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}

/*
 * The one place where a libvm result becomes a reply errno.  libvm returns
 * negative errnos that are already what the user should see (ENOSPC when
 * the page limit is hit, as tmpfs; EFBIG past a slice's end; EBUSY for
 * pins), so this only flips the sign and guards against a non-errno.
 */
int
vfs_errno(long neg)
{
	if (neg >= 0 || neg < -4095)
		return EIO;
	return (int)-neg;
}
