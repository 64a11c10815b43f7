/*
 * memstore.h - an in-memory backing store behind struct pager_ops, for the
 * pager tests (test_pager.c, test_model_pager.c).  The store is cap bytes,
 * zero past size; it counts its calls, can fail the next reads or writes
 * with -EIO, and once marked dead (its VMO detached or gone) fails the
 * test on any call.  Include after vmtest.h.
 *
 * Page requests (vm/pager.c) call read/readv with no lock, from several
 * threads at once and beside writes: counts are atomic and the bytes sit
 * behind a mutex.  A *gate* makes the store slow on demand: the next
 * memstore_gate(n) reads copy their bytes, then wait (holding no lock of
 * the store) until memstore_open, or GATE_MS as a watchdog, so a test can
 * act while a page-in is outstanding.
 */
#ifndef MEMSTORE_H
#define MEMSTORE_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>
#include <time.h>

#include "pager.h"

struct memstore {
	unsigned char	*b;		/* cap bytes, zero past size */
	uint64_t	cap, size;
	_Atomic int	reads, writes, syncs;	/* calls so far */
	int		fail_read, fail_write;	/* (mu) so many next ones fail: -EIO */
	_Atomic bool	dead;		/* detached: nobody may call */
	pthread_mutex_t	mu;		/* guards b, size, fail_*, the gate */
	pthread_cond_t	cv;
	int		gate;		/* (mu) reads still to hold */
	int		held;		/* (mu) reads holding now */
	bool		timed_out;	/* (mu) a held read hit the watchdog */
	unsigned	gen;		/* (mu) memstore_open calls */
	struct memstore	*next;		/* for the caller's lists */
};

/* An empty store of cap bytes (all zero). */
static inline struct memstore *
memstore_new(uint64_t cap)
{
	struct memstore *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->b = calloc(1, cap);
	assert_non_null(s->b);
	s->cap = cap;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	return s;
}

/* A store of cap bytes holding size bytes of the pattern of seed (the
 * pattern of vt_fill: byte i is seed * 131 + i * 7 + (i >> 12)). */
static inline struct memstore *
memstore_pattern(uint64_t cap, uint64_t size, unsigned seed)
{
	struct memstore *s = memstore_new(cap);
	uint64_t i;

	s->size = size;
	for (i = 0; i < size; i++)
		s->b[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 12));
	return s;
}

static inline void
memstore_free(struct memstore *s)
{
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->b);
	free(s);
}

#define GATE_MS	3000	/* a held read goes on by itself after this */

/* Hold the next n reads (after they copied their bytes). */
static inline void
memstore_gate(struct memstore *s, int n)
{
	pthread_mutex_lock(&s->mu);
	s->gate = n;
	pthread_mutex_unlock(&s->mu);
}

/* Wait until n reads are held (fails after GATE_MS / 2). */
static inline void
memstore_wait_held(struct memstore *s, int n)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += GATE_MS / 2000;
	pthread_mutex_lock(&s->mu);
	while (s->held < n)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0)
			break;
	n = s->held - n;
	pthread_mutex_unlock(&s->mu);
	assert_true(n >= 0);
}

/* Let every held read go, hold no more; were all let go by us? */
static inline bool
memstore_open(struct memstore *s)
{
	bool ok;

	pthread_mutex_lock(&s->mu);
	s->gate = 0;
	s->gen++;
	pthread_cond_broadcast(&s->cv);
	while (s->held > 0)
		pthread_cond_wait(&s->cv, &s->mu);
	ok = !s->timed_out;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* A read that met the gate waits here.  mu held. */
static inline void
ms_hold(struct memstore *s)
{
	struct timespec dl;
	unsigned g = s->gen;

	if (s->gate <= 0)
		return;
	s->gate--;
	s->held++;
	pthread_cond_broadcast(&s->cv);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += GATE_MS / 1000;
	while (s->gen == g)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) != 0) {
			s->timed_out = true;
			break;
		}
	s->held--;
	pthread_cond_broadcast(&s->cv);
}

static inline void
ms_alive(struct memstore *s)
{
	if (s->dead)
		fail_msg("pager op on store %p after vmo_pager_detach/unref", (void *)s);
}

static inline int
ms_read(void *ctx, uint64_t off, void *page)
{
	struct memstore *s = ctx;

	ms_alive(s);
	assert_true(off % P == 0);
	s->reads++;
	pthread_mutex_lock(&s->mu);
	if (s->fail_read > 0) {
		s->fail_read--;
		pthread_mutex_unlock(&s->mu);
		return -EIO;
	}
	memset(page, 0, P);
	if (off < s->size)
		memcpy(page, s->b + off, s->size - off < P ? s->size - off : P);
	ms_hold(s);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static inline int
ms_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct memstore *s = ctx;

	ms_alive(s);
	pthread_mutex_lock(&s->mu);
	if (s->fail_write > 0) {
		s->fail_write--;
		pthread_mutex_unlock(&s->mu);
		return -EIO;
	}
	assert_true(len <= P && off + len <= s->cap);
	memcpy(s->b + off, buf, len);
	if (off + len > s->size)
		s->size = off + len;
	pthread_mutex_unlock(&s->mu);
	s->writes++;
	return 0;
}

static inline int
ms_resize(void *ctx, uint64_t size)
{
	struct memstore *s = ctx;

	ms_alive(s);
	assert_true(size <= s->cap);
	pthread_mutex_lock(&s->mu);
	if (size < s->size)
		memset(s->b + size, 0, s->size - size);
	s->size = size;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static inline int
ms_sync(void *ctx)
{
	struct memstore *s = ctx;

	ms_alive(s);
	s->syncs++;
	return 0;
}

static inline int
ms_readv(void *ctx, uint64_t off, const struct iovec *iov, int n)
{
	int i, err;

	for (i = 0; i < n; i++) {
		assert_int_equal(iov[i].iov_len, P);
		if ((err = ms_read(ctx, off + (uint64_t)i * P, iov[i].iov_base)) != 0)
			return err;
	}
	return 0;
}

/* Both ways of paging in: runs through readv, and page by page. */
static const struct pager_ops memstore_ops_v = {
	ms_read, ms_write, ms_resize, ms_sync, ms_readv
};
static const struct pager_ops memstore_ops_1 = {
	ms_read, ms_write, ms_resize, ms_sync, NULL
};

#endif /* MEMSTORE_H */
