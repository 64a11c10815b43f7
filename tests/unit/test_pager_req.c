/*
 * test_pager_req.c - page requests (vm/pager.c, "Page requests"): a read
 * of a page only the store holds reads it with the hierarchy lock
 * dropped.  Invariants guarded:
 *   (a) while one page-in sleeps in the store, resident pages of the same
 *       VMO, another VMO of the same clone tree, and writes to resident
 *       pages go on at once (until 2026-12-07 they waited for the store:
 *       the page-in held the tree's exclusive lock);
 *   (b) N readers of one missing page cost exactly one store read;
 *   (c) whatever happens to the page while its request is out -- written,
 *       decommitted, cut by a shrink, written back and evicted (the store
 *       changed), its store detached with the VMO's end -- the request's
 *       bytes never replace what the VMO shows now, and no store op runs
 *       after the VMO is gone.
 * The store is memstore.h's, with its gate: the next read copies its
 * bytes and then waits until the test opens the gate (3 s watchdog).
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "vmtest.h"
#include "memstore.h"

#define SCAP	(64 * P)
#define FAST_MS	500	/* "at once": far below the gate's 3 s */

struct reader {
	struct vmo	*v;
	uint64_t	off;
	size_t		len;
	unsigned char	buf[4 * P];
	ssize_t		ret;
	pthread_t	t;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;

	r->ret = vmo_read(r->v, r->buf, r->off, r->len);
	return NULL;
}

static void
reader_start(struct reader *r, struct vmo *v, uint64_t off, size_t len)
{
	r->v = v;
	r->off = off;
	r->len = len;
	assert_int_equal(pthread_create(&r->t, NULL, reader_main, r), 0);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct vmo *
paged(struct vm *vm, struct memstore *s)
{
	struct vmo *v;

	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v), 0);
	return v;
}

static void
finish(struct vm *vm, struct memstore *s)
{
	assert_int_equal(vm_test_used_pages(vm), 0);
	memstore_free(s);
	vm_destroy(vm);
}

/* (a) A page-in sleeping in the store stalls nothing else of its tree. */
static void
test_others_proceed(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 32 * P, 1);
	unsigned char b[P], w[P];
	struct vmo *v, *c;
	struct vmo_attr a;
	struct reader r;
	double t0, dt;

	(void)state;
	v = paged(vm, s);
	assert_int_equal(vmo_read(v, b, 0, P), P);		/* page 0 resident */
	assert_int_equal(vmo_clone(v, 0, VMO_WHOLE, &c), 0);
	memstore_gate(s, 1);
	reader_start(&r, v, 10 * P, P);				/* sleeps in the store */
	memstore_wait_held(s, 1);
	t0 = now_ms();
	assert_int_equal(vmo_read(v, b, 0, P), P);		/* resident, same VMO */
	assert_memory_equal(b, s->b, P);
	assert_int_equal(vmo_read(c, b, 0, P), P);		/* another VMO */
	assert_memory_equal(b, s->b, P);
	memset(w, 0x5a, P);
	assert_int_equal(vmo_write(c, w, 0, P), P);		/* a write: exclusive */
	assert_int_equal(vmo_get_attr(v, &a), 0);
	dt = now_ms() - t0;
	print_message("resident reads, a write and attr while a page-in sleeps: "
	    "%.2f ms\n", dt);
	assert_true(dt < FAST_MS);
	assert_true(memstore_open(s));
	pthread_join(r.t, NULL);
	assert_int_equal(r.ret, P);
	assert_memory_equal(r.buf, s->b + 10 * P, P);
	vmo_test_check(v);
	vmo_unref(c);
	vmo_unref(v);
	finish(vm, s);
}

#define NREADERS 8

/* (b) Readers of one missing page, from two VMOs, share one store read. */
static void
test_shared_request(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 32 * P, 2);
	struct reader r[NREADERS];
	struct vm_stats st0, st;
	struct vmo *v, *c;
	double t0;
	int i, reads;

	(void)state;
	v = paged(vm, s);
	assert_int_equal(vmo_clone(v, 0, VMO_WHOLE, &c), 0);	/* pnode shared */
	vm_get_stats(vm, &st0);
	reads = s->reads;
	memstore_gate(s, NREADERS);	/* hold every read that comes */
	for (i = 0; i < NREADERS; i++)
		reader_start(&r[i], i % 2 ? c : v, 7 * P, P);
	memstore_wait_held(s, 1);
	/* Wait until the others have joined the request in flight. */
	t0 = now_ms();
	do {
		vm_get_stats(vm, &st);
		usleep(1000);
	} while (st.page_request_waits - st0.page_request_waits < NREADERS - 1 &&
	    now_ms() - t0 < 1000);
	assert_int_equal(st.page_request_waits - st0.page_request_waits, NREADERS - 1);
	assert_true(memstore_open(s));
	for (i = 0; i < NREADERS; i++) {
		pthread_join(r[i].t, NULL);
		assert_int_equal(r[i].ret, P);
		assert_memory_equal(r[i].buf, s->b + 7 * P, P);
	}
	assert_int_equal(s->reads - reads, 1);
	vm_get_stats(vm, &st);
	assert_int_equal(st.page_requests - st0.page_requests, 1);
	assert_int_equal(st.paged_in - st0.paged_in, 1);
	vmo_test_check(v);
	vmo_unref(c);
	vmo_unref(v);
	finish(vm, s);
}

enum change { CH_WRITE, CH_DECOMMIT, CH_SHRINK, CH_EVICT };

/*
 * (c) The page changes while its request is out; the reader and later
 * readers see the change, never the request's bytes over it.
 */
static void
change_under_request(enum change ch)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 32 * P, 3);
	unsigned char w[P], z[P], b[P], old[P];
	struct vm_stats st;
	struct reader r;
	struct vmo *v;

	v = paged(vm, s);
	memcpy(old, s->b + 4 * P, P);
	memset(w, 0xbb, P);
	memset(z, 0, P);
	memstore_gate(s, 1);
	reader_start(&r, v, 4 * P, P);
	memstore_wait_held(s, 1);	/* it has the old bytes, sleeping */
	switch (ch) {
	case CH_WRITE:
		assert_int_equal(vmo_write(v, w, 4 * P, P), P);
		break;
	case CH_DECOMMIT:
		assert_int_equal(vmo_decommit(v, 4 * P, P), 0);
		break;
	case CH_SHRINK:
		assert_int_equal(vmo_resize(v, 2 * P), 0);
		break;
	case CH_EVICT:
		/* The store's bytes change: written, written back, dropped,
		 * and the slot is the gap the request expects again. */
		assert_int_equal(vmo_write(v, w, 4 * P, P), P);
		assert_int_equal(vmo_writeback(v), 0);
		(void)vm_test_reclaim(vm, 64);
		assert_memory_equal(s->b + 4 * P, w, P);
		break;
	}
	assert_true(memstore_open(s));
	pthread_join(r.t, NULL);
	vm_get_stats(vm, &st);
	switch (ch) {
	case CH_WRITE:
	case CH_EVICT:
		assert_int_equal(r.ret, P);
		assert_memory_equal(r.buf, w, P);
		assert_int_equal(vmo_read(v, b, 4 * P, P), P);
		assert_memory_equal(b, w, P);
		if (ch == CH_EVICT)
			assert_true(st.page_request_stale >= 1);
		assert_int_equal(vmo_writeback(v), 0);
		assert_memory_equal(s->b + 4 * P, w, P);	/* never lost */
		break;
	case CH_DECOMMIT:
		assert_int_equal(r.ret, P);
		assert_memory_equal(r.buf, z, P);
		assert_int_equal(vmo_read(v, b, 4 * P, P), P);
		assert_memory_equal(b, z, P);
		break;
	case CH_SHRINK:
		assert_int_equal(r.ret, 0);		/* past the end now */
		assert_int_equal(vmo_resize(v, 32 * P), 0);
		assert_int_equal(vmo_read(v, b, 4 * P, P), P);
		assert_memory_equal(b, z, P);		/* not the old bytes */
		break;
	}
	(void)old;
	vmo_test_check(v);
	vmo_unref(v);
	finish(vm, s);
}

static void test_change_write(void **state) { (void)state; change_under_request(CH_WRITE); }
static void test_change_decommit(void **state) { (void)state; change_under_request(CH_DECOMMIT); }
static void test_change_shrink(void **state) { (void)state; change_under_request(CH_SHRINK); }
static void test_change_evict(void **state) { (void)state; change_under_request(CH_EVICT); }

struct unref_arg {
	struct vmo	*v;
	pthread_t	t;
	_Atomic bool	done;
};

static void *
unref_main(void *arg)
{
	struct unref_arg *u = arg;

	vmo_unref(u->v);
	u->done = true;
	return NULL;
}

/*
 * (c) The pager VMO goes (its store with it) while a clone's page-in is
 * out: the end waits for the store read, the clone keeps its snapshot,
 * and the store is never called after the end returned.
 */
static void
test_destroy_under_request(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 32 * P, 4);
	unsigned char *snap = malloc(32 * P), *b = malloc(32 * P);
	struct unref_arg u = { 0 };
	struct reader r;
	struct vmo *v, *c;

	(void)state;
	v = paged(vm, s);
	memcpy(snap, s->b, 32 * P);
	assert_int_equal(vmo_clone(v, 0, VMO_WHOLE, &c), 0);
	memstore_gate(s, 1);
	reader_start(&r, c, 6 * P, P);
	memstore_wait_held(s, 1);
	u.v = v;
	assert_int_equal(pthread_create(&u.t, NULL, unref_main, &u), 0);
	usleep(50 * 1000);
	assert_false(u.done);		/* waiting for the store read */
	assert_true(memstore_open(s));
	pthread_join(u.t, NULL);
	s->dead = true;			/* any later op fails the test */
	pthread_join(r.t, NULL);
	assert_int_equal(r.ret, P);
	assert_memory_equal(r.buf, snap + 6 * P, P);
	assert_int_equal(vmo_read(c, b, 0, 32 * P), 32 * P);
	assert_memory_equal(b, snap, 32 * P);
	vmo_test_check(c);
	vmo_unref(c);
	free(snap);
	free(b);
	finish(vm, s);
}

/* A store error reaches the reader that owns the request; a reader that
 * waited on it reads again itself. */
static void
test_error_shared(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 32 * P, 5);
	struct reader r1, r2;
	struct vm_stats st0, st;
	struct vmo *v;
	double t0;

	(void)state;
	v = paged(vm, s);
	vm_get_stats(vm, &st0);
	memstore_gate(s, 1);
	pthread_mutex_lock(&s->mu);
	s->fail_read = 0;
	pthread_mutex_unlock(&s->mu);
	reader_start(&r1, v, 3 * P, P);
	memstore_wait_held(s, 1);
	reader_start(&r2, v, 3 * P, P);
	t0 = now_ms();
	do {
		vm_get_stats(vm, &st);
		usleep(1000);
	} while (st.page_request_waits == st0.page_request_waits && now_ms() - t0 < 1000);
	assert_true(memstore_open(s));
	pthread_join(r1.t, NULL);
	pthread_join(r2.t, NULL);
	assert_int_equal(r1.ret, P);
	assert_int_equal(r2.ret, P);
	assert_memory_equal(r1.buf, s->b + 3 * P, P);
	assert_memory_equal(r2.buf, s->b + 3 * P, P);
	/* Now a failing store: the reader gets the error, nothing stays. */
	s->fail_read = 1;
	assert_int_equal(vmo_read(v, r1.buf, 9 * P, P), -EIO);
	assert_int_equal(vmo_read(v, r1.buf, 9 * P, P), P);
	assert_memory_equal(r1.buf, s->b + 9 * P, P);
	vmo_test_check(v);
	vmo_unref(v);
	finish(vm, s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_others_proceed),
		cmocka_unit_test(test_shared_request),
		cmocka_unit_test(test_change_write),
		cmocka_unit_test(test_change_decommit),
		cmocka_unit_test(test_change_shrink),
		cmocka_unit_test(test_change_evict),
		cmocka_unit_test(test_destroy_under_request),
		cmocka_unit_test(test_error_shared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
