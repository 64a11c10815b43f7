/*
 * fault.c - the allocation fault injector (see fault.h).
 *
 * One process-wide state in atomics, so that any thread's allocation can
 * be the one that fails.  Tests drive it: fail the Nth allocation after
 * fault_set, in turn for N = 1, 2, ... until an operation succeeds with no
 * failure injected, checking after each failure that state is intact.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "fault.h"

static _Atomic uint64_t fault_nth;	/* fail when count reaches this */
static _Atomic uint64_t fault_counter;	/* counted allocations */
static _Atomic uint32_t fault_ppm;	/* random failure rate */
static _Atomic uint64_t fault_failed;	/* failures injected */
static _Atomic int	fault_kinds = FAULT_ANY;
static _Atomic uint64_t fault_rng = 0x9e3779b97f4a7c15ull;

void
fault_set(uint64_t nth, uint32_t ppm)
{
	atomic_store(&fault_counter, 0);
	atomic_store(&fault_failed, 0);
	atomic_store(&fault_ppm, ppm);
	atomic_store(&fault_nth, nth);
}

void
fault_set_kind(enum fault_kind kind)
{
	atomic_store(&fault_kinds, kind);
}

void
fault_clear(void)
{
	fault_set(0, 0);
	fault_set_kind(FAULT_ANY);
}

bool
fault_hit(enum fault_kind kind)
{
	uint64_t nth = atomic_load_explicit(&fault_nth, memory_order_relaxed);
	uint32_t ppm = atomic_load_explicit(&fault_ppm, memory_order_relaxed);
	uint64_t n, x;

	if ((nth == 0 && ppm == 0) || !(atomic_load(&fault_kinds) & kind))
		return false;
	n = atomic_fetch_add(&fault_counter, 1) + 1;
	if (n == nth)
		goto fail;
	if (ppm != 0) {
		/* xorshift64*: cheap, and good enough to spread failures. */
		x = atomic_load_explicit(&fault_rng, memory_order_relaxed);
		x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
		atomic_store_explicit(&fault_rng, x, memory_order_relaxed);
		if ((x * 0x2545F4914F6CDD1Dull) % 1000000 < ppm)
			goto fail;
	}
	return false;
fail:
	atomic_fetch_add(&fault_failed, 1);
	return true;
}

uint64_t
fault_failures(void)
{
	return atomic_load(&fault_failed);
}

uint64_t
fault_count(void)
{
	return atomic_load(&fault_counter);
}

void *
vm_malloc(size_t n)
{
	return fault_hit(FAULT_HEAP) ? NULL : malloc(n);
}

void *
vm_calloc(size_t nmemb, size_t size)
{
	return fault_hit(FAULT_HEAP) ? NULL : calloc(nmemb, size);
}
