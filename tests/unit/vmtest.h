/*
 * vmtest.h - small helpers shared by the libvm unit tests.
 */
#ifndef VMTEST_H
#define VMTEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fault.h"
#include "vmo.h"
#include "vm_testing.h"

#define P 4096u

static inline struct vm *
vt_vm(uint64_t pages)
{
	struct vm_config cfg = { .limit_bytes = pages * P, .ncpu = 2, .pcache_reserve = 8 };
	struct vm *vm = NULL;

	assert_int_equal(vm_create(&cfg, &vm), 0);
	return vm;
}

static inline struct vmo *
vt_vmo(struct vm *vm, uint64_t size)
{
	struct vmo *v = NULL;

	assert_int_equal(vmo_create(vm, size, VMO_RESIZABLE, &v), 0);
	return v;
}

/* Fill [off, off+len) with a pattern derived from seed. */
static inline void
vt_fill(struct vmo *v, uint64_t off, size_t len, unsigned seed)
{
	unsigned char *b = malloc(len);
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(seed * 131 + (off + i) * 7 + ((off + i) >> 12));
	assert_int_equal(vmo_write(v, b, off, len), (ssize_t)len);
	free(b);
}

/* Check [off, off+len) holds the pattern of seed (or zeros if seed < 0). */
static inline void
vt_expect(struct vmo *v, uint64_t off, size_t len, int seed)
{
	unsigned char *b = malloc(len);
	size_t i;

	assert_int_equal(vmo_read(v, b, off, len), (ssize_t)len);
	for (i = 0; i < len; i++) {
		unsigned char want = seed < 0 ? 0 :
		    (unsigned char)((unsigned)seed * 131 + (off + i) * 7 + ((off + i) >> 12));
		if (b[i] != want)
			fail_msg("byte %zu: got %u want %u", (size_t)(off + i), b[i], want);
	}
	free(b);
}

/* a[aoff..] and b[boff..] hold the same len bytes. */
static inline void
vt_same(struct vmo *a, uint64_t aoff, struct vmo *b, uint64_t boff, size_t len)
{
	unsigned char *x = malloc(len), *y = malloc(len);

	assert_int_equal(vmo_read(a, x, aoff, len), (ssize_t)len);
	assert_int_equal(vmo_read(b, y, boff, len), (ssize_t)len);
	assert_memory_equal(x, y, len);
	free(x);
	free(y);
}

/* Sum of scaled over VMOs == pages in use (rounding: 1 byte per VMO). */
static inline void
vt_scaled_sum(struct vm *vm, struct vmo **v, int n)
{
	uint64_t sum = 0, used = vm_test_used_pages(vm) * P;
	struct vmo_attr a;
	int i;

	for (i = 0; i < n; i++) {
		if (v[i] == NULL)
			continue;
		assert_int_equal(vmo_get_attr(v[i], &a), 0);
		sum += a.scaled;
	}
	if (sum + (uint64_t)n < used || sum > used + (uint64_t)n)
		fail_msg("scaled sum %llu != used %llu", (unsigned long long)sum,
		    (unsigned long long)used);
}

/*
 * The model tests' full check of the live VMOs vs[0..n): every hierarchy
 * invariant (vm/testing.c), attribution through the viewer index equal to
 * attribution by definition, slot references against share counts, and
 * the scaled sum against the pages in use.
 */
static inline void
vt_check_vmos(struct vm *vm, struct vmo **vs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct vmo_attr x, y;

		vmo_test_check(vs[i]);
		assert_int_equal(vmo_get_attr(vs[i], &x), 0);
		vm_test_set_vindex(false);
		assert_int_equal(vmo_get_attr(vs[i], &y), 0);
		vm_test_set_vindex(true);
		assert_memory_equal(&x, &y, sizeof(x));
	}
	vm_test_check_refs(vm, vs, n);
	vt_scaled_sum(vm, vs, n);
}

/* xorshift64 on *state: a number in [0, n), 0 when n is 0. */
static inline uint64_t
vt_rnd(uint64_t *state, uint64_t n)
{
	uint64_t x = *state;

	x ^= x << 13; x ^= x >> 7; x ^= x << 17;
	*state = x;
	return n ? x % n : 0;
}

/* len bytes for the model tests' writes: random, or (half the time) runs
 * of one byte, which compress. */
static inline void
vt_mixed_bytes(unsigned char *buf, size_t len, uint64_t *state)
{
	size_t k;

	if (vt_rnd(state, 2)) {
		for (k = 0; k < len; k++)
			buf[k] = (unsigned char)vt_rnd(state, 256);
	} else {
		unsigned char c = (unsigned char)vt_rnd(state, 256);

		for (k = 0; k < len; k++) {
			if (vt_rnd(state, 64) == 0)
				c = (unsigned char)vt_rnd(state, 256);
			buf[k] = c;
		}
	}
}

#endif
