/*
 * vm.c - a VM instance: one PMM arena, the per-CPU page cache in front of
 * it, the read-only zero region, and the VM-wide counters.  One per mount.
 *
 * Object pages come from vm_page_alloc (per-CPU cache, or the PMM straight
 * when the cache is off) and go back through vm_page_free; both keep
 * used_pages exact, which is what attribution must add up to.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fault.h"
#include "pcache.h"
#include "pmm.h"
#include "pq.h"
#include "vm_internal.h"
#include "zstore.h"

#define VM_DEFAULT_RESERVE 64

int
vm_create(const struct vm_config *cfg, struct vm **out)
{
	struct vm *vm;
	uint64_t npages;
	int err;

	if (cfg == NULL || out == NULL)
		return -EINVAL;
	npages = cfg->limit_bytes / VM_PAGE_SIZE;
	if (npages == 0)
		return -EINVAL;
	vm = vm_calloc(1, sizeof(*vm));
	if (vm == NULL)
		return -ENOMEM;
	err = pmm_create(npages, &vm->pmm);
	if (err != 0)
		goto err_out1;
	if (!cfg->no_pcache) {
		err = pcache_create(vm->pmm, cfg->ncpu,
		    cfg->pcache_reserve ? cfg->pcache_reserve : VM_DEFAULT_RESERVE,
		    &vm->pc);
		if (err != 0)
			goto err_out2;
	}
	/* Never written: every page of it maps the kernel's zero page. */
	vm->zero_region = mmap(NULL, VM_ZERO_REGION, PROT_READ,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->zero_region == MAP_FAILED) {
		err = -ENOMEM;
		goto err_out3;
	}
	atomic_init(&vm->next_id, 1);
	pthread_mutex_init(&vm->plock, NULL);
	LIST_INIT(&vm->paged);
	discard_init(vm);
	if ((err = vm_reclaim_init(vm, cfg)) != 0)
		goto err_out4;
	*out = vm;
	return 0;

err_out4:
	discard_fini(vm);
	pthread_mutex_destroy(&vm->plock);
	munmap(vm->zero_region, VM_ZERO_REGION);
err_out3:
	if (vm->pc != NULL)
		pcache_destroy(vm->pc);
err_out2:
	pmm_destroy(vm->pmm);
err_out1:
	free(vm);
	return err;
}

void
vm_destroy(struct vm *vm)
{
	if (vm == NULL)
		return;
	assert(atomic_load(&vm->nvmos) == 0 && "vm_destroy with live VMOs");
	assert(atomic_load(&vm->used_pages) == 0);
	assert(LIST_EMPTY(&vm->paged));
	vm_reclaim_fini(vm);
	discard_fini(vm);
	pthread_mutex_destroy(&vm->plock);
	munmap(vm->zero_region, VM_ZERO_REGION);
	if (vm->pc != NULL)
		pcache_destroy(vm->pc);
	pmm_destroy(vm->pmm);
	free(vm);
}

int
vm_prealloc(struct vm *vm)
{
	return pmm_prealloc(vm->pmm);
}

/*
 * One page for an object, state VM_PAGE_ALLOC, contents undefined.
 * 0 or -ENOSPC (limit reached, or injected failure).
 */
int
vm_page_alloc(struct vm *vm, struct vm_page **out)
{
	int err;

	err = vm->pc != NULL ? pcache_alloc(vm->pc, out) : pmm_alloc(vm->pmm, out);
	if (err == 0)
		atomic_fetch_add_explicit(&vm->used_pages, 1, memory_order_relaxed);
	return err;
}

/*
 * The same for a page the caller can give back by migration (contig.c):
 * an anonymous page filled by copy-on-write or zero fill.  When nothing
 * else is free, a page a contiguous VMO lent (decommitted) will do.
 */
int
vm_page_alloc_movable(struct vm *vm, struct vm_page **out)
{
	int err = vm_page_alloc(vm, out);

	if (err == -ENOSPC && pmm_alloc_loaned(vm->pmm, out) == 0) {
		atomic_fetch_add_explicit(&vm->used_pages, 1, memory_order_relaxed);
		err = 0;
	}
	return err;
}

void
vm_page_free(struct vm *vm, struct vm_page *p)
{
	assert(p->pin_count == 0 || !"freeing a pinned page");
	if (pq_queued(p))
		pq_dequeue(vm->pq, p);
	p->owner = NULL;
	p->offset = 0;
	p->flags = 0;
	if (pmm_page_lent(p))	/* back to its lender's list, not a reserve */
		pmm_free(vm->pmm, p);
	else if (vm->pc != NULL)
		pcache_free(vm->pc, p);
	else
		pmm_free(vm->pmm, p);
	atomic_fetch_sub_explicit(&vm->used_pages, 1, memory_order_relaxed);
}

/*
 * Drop one slot's reference to p: the last one frees it.  Shared pages
 * (vmo_share_range) may be referenced from several hierarchies, each
 * under its own lock, so the count is atomic and decremented with CAS:
 * of two racing droppers exactly one sees zero and frees.
 */
void
vm_page_unref(struct vm *vm, struct vm_page *p)
{
	uint32_t s = atomic_load(&p->share);

	while (s > 0)
		if (atomic_compare_exchange_weak(&p->share, &s, s - 1))
			return;
	vm_page_free(vm, p);
}

void *
vm_page_addr(struct vm *vm, struct vm_page *p)
{
	return pmm_page_addr(vm->pmm, p);
}

void
vm_get_stats(struct vm *vm, struct vm_stats *st)
{
	struct pmm_stats ps;
	struct pcache_stats cs;

	memset(st, 0, sizeof(*st));
	memset(&cs, 0, sizeof(cs));
	pmm_get_stats(vm->pmm, &ps);
	if (vm->pc != NULL)
		pcache_get_stats(vm->pc, &cs);
	st->limit_pages = ps.total_pages;
	st->used_pages = atomic_load(&vm->used_pages);
	st->free_pages = ps.free_pages + cs.cached + ps.loaned_free;
	st->loaned_free = ps.loaned_free;
	st->lent_pages = ps.lent;
	st->borrowed = ps.borrowed;
	st->loan_migrations = atomic_load(&vm->loan_migrations);
	st->contig_vmos = atomic_load(&vm->ncontig);
	st->cached_pages = cs.cached;
	st->pmm_allocs = ps.allocs;
	st->pmm_frees = ps.frees;
	st->pmm_alloc_fails = ps.alloc_fails;
	st->pmm_released = ps.released;
	st->pcache_hits = cs.hits;
	st->pcache_misses = cs.misses;
	st->pcache_refills = cs.refills;
	st->pcache_returns = cs.returns;
	st->pcache_steals = cs.steals;
	st->vmos = atomic_load(&vm->nvmos);
	st->hidden_nodes = atomic_load(&vm->nhidden);
	st->cow_copies = atomic_load(&vm->cow_copies);
	st->cow_moves = atomic_load(&vm->cow_moves);
	st->merges = atomic_load(&vm->merges);
	st->zero_fills = atomic_load(&vm->zero_fills);
	st->paged_in = atomic_load(&vm->paged_in);
	st->page_requests = atomic_load(&vm->preq_reads);
	st->page_request_waits = atomic_load(&vm->preq_waits);
	st->page_request_stale = atomic_load(&vm->preq_stale);
	st->evicted = atomic_load(&vm->evicted);
	st->written_back = atomic_load(&vm->written_back);
	st->paged_vmos = atomic_load(&vm->npaged);
	st->reclaimed = atomic_load(&vm->reclaimed);
	st->compressed = atomic_load(&vm->compressed);
	st->decompressed = atomic_load(&vm->decompressed);
	st->zero_deduped = atomic_load(&vm->zero_deduped);
	st->discarded_vmos = atomic_load(&vm->discarded_vmos);
	st->discarded_pages = atomic_load(&vm->discarded_pages);
	st->q_discardable = discard_candidates(vm);
	st->zero_scanned = atomic_load(&vm->zero_scanned);
	st->incompressible = atomic_load(&vm->incompressible);
	st->reclaim_direct = atomic_load(&vm->reclaim_direct);
	st->reclaim_bg = atomic_load(&vm->reclaim_bg);
	if (vm->zs != NULL) {
		struct zstore_stats zst;

		zstore_stats(vm->zs, &zst);
		st->zstore_pages = zst.stored;
		st->zstore_bytes = zst.bytes + zst.stored * ZSTORE_ENTRY_OVERHEAD;
		pthread_mutex_lock(&vm->zlock);
		st->zstore_ballast = vm->nballast;
		pthread_mutex_unlock(&vm->zlock);
	}
	{
		struct pq_stats qs;

		pq_counters(vm->pq, &qs);
		st->pq_rotations = qs.rotations;
		st->q_anon = qs.size[PQ_Q_ANON];
		st->q_wired = qs.size[PQ_Q_WIRED];
		st->q_pager_clean = qs.size[PQ_Q_PAGER_CLEAN];
		st->q_pager_dirty = qs.size[PQ_Q_PAGER_DIRTY];
		st->q_dontneed = qs.size[PQ_Q_DONTNEED];
		st->q_alwaysneed = qs.size[PQ_Q_ALWAYSNEED];
	}
}
