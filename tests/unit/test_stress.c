/*
 * test_stress.c - multithreaded stress over several clone hierarchies.
 *
 * Each worker owns a hierarchy: it writes a pattern, clones, writes the
 * clone, reads both back and checks them, slices and destroys, in a loop.
 * Two more threads share one hierarchy, each on its own VMO of it, so the
 * hierarchy lock is contended.  At the end every page is back.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vmtest.h"

#define ROUNDS 150

struct worker {
	struct vm	*vm;
	struct vmo	*shared;	/* NULL: own hierarchy */
	unsigned	seed;
	int		failed;
};

static int
check(struct vmo *v, uint64_t off, size_t len, unsigned seed)
{
	unsigned char b[4 * P];
	size_t i;

	if (vmo_read(v, b, off, len) != (ssize_t)len)
		return 1;
	for (i = 0; i < len; i++)
		if (b[i] != (unsigned char)(seed * 131 + (off + i) * 7 + ((off + i) >> 12)))
			return 1;
	return 0;
}

static void
fill(struct vmo *v, uint64_t off, size_t len, unsigned seed)
{
	unsigned char b[4 * P];
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(seed * 131 + (off + i) * 7 + ((off + i) >> 12));
	if (vmo_write(v, b, off, len) != (ssize_t)len)
		abort();
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct vmo *a, *c, *s;
	int r;

	for (r = 0; r < ROUNDS && !w->failed; r++) {
		unsigned s1 = w->seed + (unsigned)r, s2 = s1 + 1000;

		if (w->shared != NULL) {
			if (vmo_clone(w->shared, 0, 32 * P, &a) != 0)
				abort();
		} else if (vmo_create(w->vm, 0, VMO_RESIZABLE, &a) != 0) {
			abort();
		}
		fill(a, 0, 4 * P, s1);
		fill(a, 16 * P, 4 * P, s1);
		if (vmo_clone(a, 0, VMO_WHOLE, &c) != 0 || vmo_slice(a, 16 * P, 4 * P, &s) != 0)
			abort();
		fill(c, 0, 4 * P, s2);
		fill(a, 16 * P, 2 * P, s2);
		w->failed |= check(a, 0, 4 * P, s1);
		w->failed |= check(c, 0, 4 * P, s2);
		w->failed |= check(c, 16 * P, 4 * P, s1);
		w->failed |= check(a, 16 * P, 2 * P, s2);
		vmo_unref(s);
		if (r & 1) {
			vmo_unref(a);
			w->failed |= check(c, 16 * P, 4 * P, s1);
			vmo_unref(c);
		} else {
			vmo_unref(c);
			vmo_unref(a);
		}
	}
	return NULL;
}

/* Reclaim, as the reclaimer thread would, until told to stop. */
struct reclaimer {
	struct vm	*vm;
	_Atomic int	stop;
	uint64_t	got;
};

static void *
reclaim_loop(void *arg)
{
	struct reclaimer *rc = arg;
	unsigned n = 0;

	while (!atomic_load(&rc->stop)) {
		rc->got += vm_test_reclaim(rc->vm, 16);
		if (++n % 64 == 0)
			vm_test_age(rc->vm);
		if (n % 16 == 0)
			vm_test_zero_scan(rc->vm);
	}
	return NULL;
}

/*
 * The workers, and with compress a thread reclaiming all along: pages
 * are compressed and zero-deduped under the workers' feet (in leaves and
 * hidden nodes, racing clones, merges and destroys) and must read back
 * exactly.
 */
static void
run_stress(bool compress)
{
	enum { NOWN = 4, NSHARED = 3 };
	struct vm_config cfg = { .limit_bytes = 8192 * P, .ncpu = 2,
	    .pcache_reserve = 8, .compress = compress };
	struct vm *vm = NULL;
	struct vmo *shared;
	struct worker w[NOWN + NSHARED];
	pthread_t t[NOWN + NSHARED], rt;
	struct reclaimer rc = { .got = 0 };
	int i;

	assert_int_equal(vm_create(&cfg, &vm), 0);
	shared = vt_vmo(vm, 0);
	rc.vm = vm;
	vt_fill(shared, 0, 32 * P, 77);
	if (compress) {
		assert_int_equal(pthread_create(&rt, NULL, reclaim_loop, &rc), 0);
		assert_int_equal(vm_reclaimer_start(vm), 0);	/* and the real one */
	}
	for (i = 0; i < NOWN + NSHARED; i++) {
		w[i] = (struct worker){ .vm = vm, .seed = (unsigned)i * 17,
		    .shared = i >= NOWN ? shared : NULL };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (i = 0; i < NOWN + NSHARED; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failed, 0);
	}
	if (compress) {
		struct vm_stats st;

		atomic_store(&rc.stop, 1);
		pthread_join(rt, NULL);
		vm_get_stats(vm, &st);
		print_message("reclaimed %llu: compressed %llu decompressed %llu zero %llu\n",
		    (unsigned long long)rc.got, (unsigned long long)st.compressed,
		    (unsigned long long)st.decompressed, (unsigned long long)st.zero_deduped);
		assert_true(st.compressed > 0);
	}
	vt_expect(shared, 0, 32 * P, 77);
	vmo_test_check(shared);
	vmo_unref(shared);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

static void
test_stress(void **state)
{
	(void)state;
	run_stress(false);
}

static void
test_stress_compress(void **state)
{
	(void)state;
	run_stress(true);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress),
		cmocka_unit_test(test_stress_compress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
