/*
 * testing.c - the introspection of vm_testing.h.  Compiled into every
 * build (it costs nothing unless called); only tests and benchmarks call
 * it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pcache.h"
#include "pmm.h"
#include "pq.h"
#include "vm_internal.h"
#include "vm_testing.h"
#include "zstore.h"


uint64_t
vm_test_reclaim(struct vm *vm, uint64_t pages)
{
	return vm_reclaim_pages(vm, pages);
}

void
vm_test_age(struct vm *vm)
{
	pq_rotate(vm->pq);
}

uint64_t
vm_test_zero_scan(struct vm *vm)
{
	return vm_zero_scan(vm);
}

uint64_t
vmo_test_depth(struct vmo *v)
{
	struct cow_node *n;
	uint64_t d = 0, base;

	hier_rlock(v->h);
	n = vmo_leaf(v, &base);
	for (; n != NULL; n = n->parent)
		d++;
	hier_runlock(v->h);
	return d;
}

uint64_t
vm_test_used_pages(struct vm *vm)
{
	return atomic_load(&vm->used_pages);
}

uint64_t
vm_test_free_pages(struct vm *vm)
{
	struct vm_stats st;

	vm_get_stats(vm, &st);
	return st.free_pages;
}

struct check_ctx {
	struct cow_node *n;
	uint64_t	pinned;
};

static int
dump_cb(void *ctx, uint64_t off, plist_slot_t slot)
{
	(void)ctx;
	fprintf(stderr, " %llu%s", (unsigned long long)(off / VM_PAGE_SIZE),
	    slot == PLIST_MARKER ? "m" : slot == PLIST_STORE ? "s" :
	    plist_is_comp(slot) ? "z" :
	    (plist_page(slot)->pin_count ? "p" : ""));
	return 0;
}

static void
dump_node(struct cow_node *n, int depth)
{
	struct cow_node *c;

	fprintf(stderr, "%*s%p %s vmo=%llu off=%llu lim=%llu size=%llu:", depth * 2, "",
	    (void *)n, n->hidden ? "H" : "V",
	    n->vmo ? (unsigned long long)n->vmo->id : 0ull,
	    (unsigned long long)n->parent_off / VM_PAGE_SIZE,
	    (unsigned long long)n->parent_limit / VM_PAGE_SIZE,
	    n->vmo ? (unsigned long long)n->vmo->size : 0ull);
	plist_visit(&n->pages, 0, COW_END, dump_cb, NULL);
	fprintf(stderr, "\n");
	LIST_FOREACH(c, &n->children, sibling)
		dump_node(c, depth + 1);
}

void
vmo_test_dump(struct vmo *v)
{
	uint64_t base;
	struct cow_node *n = vmo_leaf(v, &base);

	while (n->parent != NULL)
		n = n->parent;
	dump_node(n, 0);
}

static int
check_cb(void *ctx, uint64_t off, plist_slot_t slot)
{
	struct check_ctx *cc = ctx;
	struct vm_page *p = plist_page(slot);

	if (cc->n->hidden && cow_viewers(cc->n, off, false) == 0) {
		struct cow_node *r = cc->n;
		while (r->parent != NULL)
			r = r->parent;
		fprintf(stderr, "unreachable: node %p page %llu\n", (void *)cc->n,
		    (unsigned long long)(off / VM_PAGE_SIZE));
		dump_node(r, 0);
	}
	if (cc->n->hidden)
		assert(cow_viewers(cc->n, off, false) >= 1 && "unreachable slot in hidden node");
	if (slot == PLIST_STORE)
		assert(cc->n->h->pops != NULL && "store slot without a store");
	if (p == NULL)
		return 0;
	if (!(p->flags & VM_PAGE_F_SHARED)) {
		assert(p->owner == cc->n && "page backlink: owner");
		assert(p->offset == off && "page backlink: offset");
	}
	assert(p->state == VM_PAGE_OBJECT);
	assert(!(cc->n->hidden && p->pin_count > 0) && "pinned page in hidden node");
	/* Page queues: every page is queued but the shared ones; pinned
	 * ones on wired; a pager-backed hierarchy's dirty ones as dirty. */
	if (atomic_load(&p->share) != 0 || (p->flags & VM_PAGE_F_SHARED))
		assert(!pq_queued(p) && "shared page on a page queue");
	else
		assert(pq_queued(p) && "page not queued");
	if (pq_queued(p) && cc->n->h->pops != NULL)
		assert((!(p->flags & VM_PAGE_F_DIRTY) || pq_page_kind(p) == PQ_PAGER_DIRTY) &&
		    "dirty pager page not queued as dirty");
	if (pq_queued(p) && (pq_page_queue(p) == PQ_Q_WIRED) != (p->pin_count > 0))
		fprintf(stderr, "DBG page %p q=%d pin=%u node %p off %llu hidden %d\n", (void *)p,
		    pq_page_queue(p), p->pin_count, (void *)cc->n, (unsigned long long)off, cc->n->hidden);
	if (pq_queued(p))
		assert((pq_page_queue(p) == PQ_Q_WIRED) == (p->pin_count > 0) &&
		    "pinned page off the wired queue, or unpinned on it");
	cc->pinned += p->pin_count > 0;
	return 0;
}

static uint64_t
check_node(struct cow_node *n)
{
	struct check_ctx cc = { .n = n };
	struct cow_node *c;
	uint64_t cnt = 1, k = 0;

	plist_check(&n->pages);		/* counts, used, keys */
	plist_visit(&n->pages, 0, COW_END, check_cb, &cc);
	if (cc.pinned != n->npinned) {
		struct cow_node *r = n;
		while (r->parent != NULL)
			r = r->parent;
		fprintf(stderr, "npinned: node %p counts %llu, has %llu\n", (void *)n,
		    (unsigned long long)n->npinned, (unsigned long long)cc.pinned);
		dump_node(r, 0);
	}
	assert(cc.pinned == n->npinned && "npinned out of step");
	assert(n->hidden == (n->vmo == NULL));
	if (!n->hidden)
		assert(n->vmo->cow == n);
	LIST_FOREACH(c, &n->children, sibling) {
		assert(c->parent == n);
		assert(c->pages.skew == (n->pages.skew + c->parent_off) % PLIST_NODE_BYTES);
		cnt += check_node(c);
		k++;
	}
	assert(k == n->nchildren);
	assert(!n->hidden || n->nchildren >= 1);
	return cnt;
}

uint64_t
vmo_test_check(struct vmo *v)
{
	struct cow_node *n;
	uint64_t cnt, base;

	hier_rlock(v->h);
	n = vmo_leaf(v, &base);
	while (n->parent != NULL)
		n = n->parent;
	cnt = check_node(n);
	/* A discardable VMO: alone in its hierarchy, its state and count agree. */
	if (v->flags & VMO_DISCARDABLE) {
		struct hier *h = v->h;

		assert(h->dvmo == v && n == v->cow && LIST_EMPTY(&n->children));
		assert((h->dlocks > 0) == (h->dstate == DISCARD_LOCKED));
		assert(h->dstate != DISCARD_NONE);
		pthread_mutex_lock(&v->vm->dlock);
		assert(h->dlisted == (h->dstate == DISCARD_UNLOCKED) &&
		    "an unlocked candidate is on dq, nothing else is");
		pthread_mutex_unlock(&v->vm->dlock);
	} else {
		assert(v->h->dstate == DISCARD_NONE || v->kind == VMO_SLICE);
	}
	hier_runlock(v->h);
	vm_test_check_discard(v->vm);
	return cnt;
}

uint64_t
vmo_test_plist_bytes(struct vmo *v)
{
	uint64_t b, base;

	hier_rlock(v->h);
	b = plist_node_bytes(&vmo_leaf(v, &base)->pages);
	hier_runlock(v->h);
	return b;
}

struct refs_ctx {
	struct vm	*vm;
	uint32_t	*refs;
	struct vm_page	**pages;
	uint64_t	ncomp;
};

static int
refs_cb(void *ctx, uint64_t off, plist_slot_t slot)
{
	struct refs_ctx *rc = ctx;
	struct vm_page *p = plist_page(slot);

	(void)off;
	rc->ncomp += plist_is_comp(slot);
	if (p != NULL) {
		uint64_t k = pmm_page_index(rc->vm->pmm, p);

		rc->refs[k]++;
		rc->pages[k] = p;
	}
	return 0;
}

static void
refs_node(struct refs_ctx *rc, struct cow_node *n)
{
	struct cow_node *c;

	plist_visit(&n->pages, 0, COW_END, refs_cb, rc);
	LIST_FOREACH(c, &n->children, sibling)
		refs_node(rc, c);
}

/*
 * Every page's slot references across the given VMOs' hierarchies equal
 * its share count + 1.  The VMOs must cover every hierarchy that holds
 * pages of the VM; no lock may be held; nothing may run concurrently.
 */
void
vm_test_check_refs(struct vm *vm, struct vmo **v, int n)
{
	struct pmm_stats ps;
	struct refs_ctx rc = { .vm = vm };
	struct cow_node **roots;
	int i, j, nr = 0;
	uint64_t k, base;

	pmm_get_stats(vm->pmm, &ps);
	rc.refs = calloc(ps.total_pages, sizeof(uint32_t));
	rc.pages = calloc(ps.total_pages, sizeof(*rc.pages));
	roots = calloc((size_t)n + 1, sizeof(*roots));
	for (i = 0; i < n; i++) {
		struct cow_node *r;

		if (v[i] == NULL)
			continue;
		r = vmo_leaf(v[i], &base);
		while (r->parent != NULL)
			r = r->parent;
		for (j = 0; j < nr && roots[j] != r; j++)
			;
		if (j == nr) {
			roots[nr++] = r;
			refs_node(&rc, r);
		}
	}
	for (k = 0; k < ps.total_pages; k++) {
		struct vm_page *p;

		if (rc.refs[k] == 0)
			continue;
		p = rc.pages[k];
		if (rc.refs[k] != atomic_load(&p->share) + 1)
			fprintf(stderr, "page %llu: %u slots, share %u\n",
			    (unsigned long long)k, rc.refs[k], atomic_load(&p->share));
		assert(rc.refs[k] == atomic_load(&p->share) + 1 && "share count");
	}
	/* Every compressed slot owns one store entry; the ballast covers
	 * the store's memory. */
	if (vm->zs != NULL) {
		struct zstore_stats zs;

		zstore_stats(vm->zs, &zs);
		assert(rc.ncomp == zs.stored && "compressed slots vs store entries");
		assert(vm->nballast == (zstore_footprint(vm->zs) + VM_PAGE_SIZE - 1) /
		    VM_PAGE_SIZE && "ballast out of step with the store");
	} else {
		assert(rc.ncomp == 0);
	}
	free(roots);
	free(rc.pages);
	free(rc.refs);
}

uint64_t
vm_test_check_discard(struct vm *vm)
{
	struct hier *h;
	uint64_t n = 0, seq = 0;

	pthread_mutex_lock(&vm->dlock);
	TAILQ_FOREACH(h, &vm->dq, dlink) {
		assert(h->dlisted && "on dq but not marked listed");
		assert(h->dseq > seq && "dq not in unlock order");
		assert(h->dseq <= vm->dseq);
		seq = h->dseq;
		n++;
	}
	assert(n == vm->ndq && "dq length miscounted");
	pthread_mutex_unlock(&vm->dlock);
	return n;
}

uint64_t
vm_test_discard_order(struct vm *vm, uint64_t *ids, uint64_t max)
{
	struct hier *h;
	uint64_t n = 0;

	pthread_mutex_lock(&vm->dlock);
	TAILQ_FOREACH(h, &vm->dq, dlink) {
		/* dvmo is (H), but it is set before the hierarchy can be
		 * listed and cleared only after it is unlisted (dlock). */
		if (n < max)
			ids[n] = h->dvmo->id;
		n++;
	}
	pthread_mutex_unlock(&vm->dlock);
	return n;
}

int64_t
vmo_test_page_index(struct vmo *v, uint64_t off)
{
	struct cow_node *leaf, *owner;
	uint64_t base, oo;
	plist_slot_t s;
	int64_t r = -1;

	hier_rlock(v->h);
	leaf = vmo_leaf(v, &base);
	s = cow_lookup(leaf, base + off, &owner, &oo);
	if (plist_is_page(s))
		r = (int64_t)pmm_page_index(v->vm->pmm, plist_page(s));
	hier_runlock(v->h);
	return r;
}

bool
vm_test_page_lent(struct vm *vm, uint64_t idx)
{
	struct vm_page *p = pmm_index_page(vm->pmm, idx);

	return p != NULL && pmm_page_lent(p);
}

uint64_t
vmo_test_check_contig(struct vmo *v)
{
	struct hier *h = v->h;
	uint64_t i, held = 0;

	hier_rlock(h);
	assert(hier_is_contig(h));
	for (i = 0; i < h->cpages; i++) {
		struct cow_node *leaf = vmo_leaf(v, &(uint64_t){0});
		plist_slot_t s = plist_lookup(&leaf->pages, i * VM_PAGE_SIZE);
		struct vm_page *x = h->cbase + i;

		if (plist_is_page(s)) {
			assert(plist_page(s) == x && "slot i holds page first + i");
			assert(x->pin_count >= 1 && "the base pin");
			assert(!pmm_page_lent(x));
			held++;
		} else {
			assert(s == PLIST_EMPTY && "a missing page leaves no marker");
			assert(pmm_page_lent(x) && "a missing page is lent");
		}
	}
	hier_runlock(h);
	return held;
}
