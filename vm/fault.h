/*
 * fault.h - allocation fault injection for tests (SQLite's *fault.test,
 * Redis' dictTryExpand).  One process-wide injector serves page allocations
 * (pmm_alloc*) and heap allocations made by libvm (vm_malloc/vm_calloc).
 *
 * fault_set(nth, ppm): the nth counted allocation from now fails (1 = the
 * next one; 0 = none), and independently each allocation fails with
 * probability ppm per million (0 = never).  Every counted allocation that
 * fails bumps fault_failures().  Thread safe (atomics).
 *
 * Which failures are fatal and which benign is the caller's business: a
 * per-CPU refill that fails is benign (the allocation goes to the PMM), a
 * write that cannot get a page is fatal (-ENOSPC up to the caller).
 */
#ifndef VM_FAULT_H
#define VM_FAULT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum fault_kind { FAULT_PAGE = 1, FAULT_HEAP = 2, FAULT_ANY = 3 };

void fault_set(uint64_t nth, uint32_t ppm);
/* Restrict the injector to one kind of allocation (default FAULT_ANY). */
void fault_set_kind(enum fault_kind kind);
void fault_clear(void);
/* True if this allocation of the given kind must fail.  Counts it. */
bool fault_hit(enum fault_kind kind);
uint64_t fault_failures(void);
/* Allocations counted since the last fault_set/fault_clear. */
uint64_t fault_count(void);

/* libvm's heap allocators: malloc/calloc that honour the injector. */
void *vm_malloc(size_t n);
void *vm_calloc(size_t nmemb, size_t size);

#endif /* VM_FAULT_H */
