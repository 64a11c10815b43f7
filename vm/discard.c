/*
 * discard.c - discardable VMOs (Zircon's ZX_VMO_DISCARDABLE and
 * DiscardableVmoTracker; the contract is in vmo.h).
 *
 * A discardable VMO is a cache its user can rebuild: while it is unlocked
 * reclaim may drop all of it at once, and the next lock says so.  Each
 * such VMO is the only VMO of its hierarchy (clones and slices are
 * refused), so its one cow node is a root and dropping it is freeing
 * every slot of that node: nothing above can show through, it reads zero.
 *
 * States (struct hier's dstate; Zircon's names in brackets):
 *
 *   UNSET --lock--> LOCKED --unlock (count 1 -> 0)--> UNLOCKED --reclaim--> DISCARDED
 *   [kUnset]          ^  [kUnreclaimable]  <--lock--   [kReclaimable]  [kDiscarded]
 *                     +------------------------lock (reports discarded)----------+
 *
 * Only UNLOCKED hierarchies are candidates; they sit on vm->dq in the
 * order of their unlocks (appended at unlock, dseq increasing), so the
 * head is the one unlocked longest ago: reclaim takes it first.
 *
 * Locks: dstate and dlocks change under the hierarchy lock held
 * exclusively; dq, its links and dseq under vm->dlock, a leaf lock taken
 * with the hierarchy lock held (hier -> dlock), never the other way.
 * Reclaim therefore takes a candidate off dq and pins its hierarchy
 * (h->refs, as reclaim.c's accept_page) under dlock, drops dlock, takes
 * the hierarchy lock, and re-checks the state there: a lock may have
 * come in between, or the VMO may be gone (discard_forget, from
 * vmo_destroy, sets dvmo NULL and dstate NONE under the hierarchy lock).
 * While a hierarchy is on dq its VMO's reference on it is held (vmo_destroy
 * unlists before hier_put), so the pin never sees refs == 0.
 *
 * Nothing here allocates: lock, unlock and discard cannot fail for want
 * of memory (the fault-injection test checks that they work while every
 * allocation fails).
 */
#include <errno.h>

#include "pq.h"
#include "vm_internal.h"

void
discard_init(struct vm *vm)
{
	pthread_mutex_init(&vm->dlock, NULL);
	TAILQ_INIT(&vm->dq);
	vm->ndq = 0;
	vm->dseq = 0;
}

void
discard_fini(struct vm *vm)
{
	assert(TAILQ_EMPTY(&vm->dq) && vm->ndq == 0 && "discard_fini with listed VMOs");
	pthread_mutex_destroy(&vm->dlock);
}

/* Put h at dq's tail (newest unlock).  dlock held. */
static void
dq_append(struct vm *vm, struct hier *h)
{
	assert(!h->dlisted && "hierarchy listed twice");
	h->dseq = ++vm->dseq;
	TAILQ_INSERT_TAIL(&vm->dq, h, dlink);
	h->dlisted = true;
	vm->ndq++;
}

/* Take h off dq if it is there.  dlock held. */
static void
dq_remove(struct vm *vm, struct hier *h)
{
	if (!h->dlisted)
		return;
	TAILQ_REMOVE(&vm->dq, h, dlink);
	h->dlisted = false;
	h->dlink.tqe_next = (void *)0xdeadbeef;
	assert(vm->ndq > 0);
	vm->ndq--;
}

/* A freshly created discardable VMO v: its hierarchy starts UNSET. */
void
discard_make(struct vmo *v)
{
	struct hier *h = v->h;

	assert(v->kind == VMO_ANON && (v->flags & VMO_DISCARDABLE));
	h->dvmo = v;
	h->dstate = DISCARD_UNSET;
	h->dlocks = 0;
}

/* h's discardable VMO is going: off dq for good.  Exclusive lock. */
void
discard_forget(struct hier *h)
{
	HIER_ASSERT_WLOCKED(h);
	if (h->dstate == DISCARD_NONE)
		return;
	pthread_mutex_lock(&h->vm->dlock);
	dq_remove(h->vm, h);
	pthread_mutex_unlock(&h->vm->dlock);
	h->dvmo = NULL;
	h->dstate = DISCARD_NONE;
}

bool
vmo_is_discardable(const struct vmo *v)
{
	return (v->flags & VMO_DISCARDABLE) != 0;
}

/* vmo_lock and vmo_trylock.  Takes and drops the hierarchy lock. */
static int
lock_common(struct vmo *v, bool try, bool *discarded)
{
	struct hier *h = v->h;
	bool was;
	int err = 0;

	if (!vmo_is_discardable(v))
		return -EOPNOTSUPP;
	hier_wlock(h);
	assert(h->dvmo == v && "discardable VMO not its hierarchy's");
	was = h->dstate == DISCARD_DISCARDED;
	if (was && try) {
		err = -EAGAIN;
		goto out;
	}
	if (h->dlocks == UINT64_MAX) {
		err = -EOVERFLOW;
		goto out;
	}
	if (h->dlocks++ == 0) {
		assert(h->dstate != DISCARD_LOCKED);
		if (h->dstate == DISCARD_UNLOCKED) {
			pthread_mutex_lock(&v->vm->dlock);
			dq_remove(v->vm, h);
			pthread_mutex_unlock(&v->vm->dlock);
		}
		h->dstate = DISCARD_LOCKED;
	}
	assert(h->dstate == DISCARD_LOCKED);
out:
	h->dlast = was;
	hier_unlock(h);
	if (discarded != NULL)
		*discarded = was;
	return err;
}

int
vmo_lock(struct vmo *v, bool *discarded)
{
	return lock_common(v, false, discarded);
}

int
vmo_trylock(struct vmo *v, bool *discarded)
{
	return lock_common(v, true, discarded);
}

int
vmo_unlock(struct vmo *v)
{
	struct hier *h = v->h;
	int err = 0;

	if (!vmo_is_discardable(v))
		return -EOPNOTSUPP;
	hier_wlock(h);
	if (h->dlocks == 0) {
		err = -EINVAL;
		goto out;
	}
	assert(h->dstate == DISCARD_LOCKED);
	if (--h->dlocks == 0) {
		h->dstate = DISCARD_UNLOCKED;
		pthread_mutex_lock(&v->vm->dlock);
		dq_append(v->vm, h);
		pthread_mutex_unlock(&v->vm->dlock);
	}
out:
	hier_unlock(h);
	return err;
}

int
vmo_lock_state(struct vmo *v, struct vmo_lock_state *out)
{
	struct hier *h = v->h;

	if (!vmo_is_discardable(v))
		return -EOPNOTSUPP;
	hier_rlock(h);
	out->locks = h->dlocks;
	out->discarded = h->dstate == DISCARD_DISCARDED;
	out->candidate = h->dstate == DISCARD_UNLOCKED;
	out->was_discarded = h->dlast;
	out->never_unlocked = h->dstate == DISCARD_UNSET;
	hier_runlock(h);
	return 0;
}

/*
 * Drop h's VMO whole if it is still an unlocked candidate: every slot of
 * its node freed, DISCARDED.  A VMO with pinned pages is passed over and
 * goes back to dq's tail.  Returns the resident pages freed.  Takes and
 * drops h's lock; the caller's pin on h is its own to drop.
 */
static uint64_t
discard_one(struct vm *vm, struct hier *h)
{
	struct cow_node *n;
	uint64_t freed = 0;

	hier_wlock(h);
	if (h->dstate != DISCARD_UNLOCKED)	/* locked meanwhile, or gone */
		goto out;
	assert(h->dvmo != NULL && h->dlocks == 0);
	n = h->dvmo->cow;
	assert(n->parent == NULL && !n->hidden && "a discardable VMO has no clones");
	pthread_mutex_lock(&vm->dlock);
	dq_remove(vm, h);		/* a lock and unlock may have relisted it */
	if (n->npinned != 0) {
		dq_append(vm, h);
		pthread_mutex_unlock(&vm->dlock);
		goto out;
	}
	pthread_mutex_unlock(&vm->dlock);
	freed = n->pages.npages;
	cow_free_pages(vm, n, 0, COW_END);
	assert(plist_is_empty(&n->pages));
	h->dstate = DISCARD_DISCARDED;
	atomic_fetch_add_explicit(&vm->discarded_vmos, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&vm->discarded_pages, freed, memory_order_relaxed);
out:
	hier_unlock(h);
	return freed;
}

/*
 * Reclaim's first step: discard unlocked discardable VMOs, oldest unlock
 * first, until want pages are freed or every candidate listed on entry
 * was looked at.  No hierarchy lock held.  Returns the pages freed.
 */
uint64_t
discard_reclaim(struct vm *vm, uint64_t want)
{
	uint64_t got = 0, looks;
	struct hier *h;

	pthread_mutex_lock(&vm->dlock);
	looks = vm->ndq;
	while (got < want && looks-- > 0 && (h = TAILQ_FIRST(&vm->dq)) != NULL) {
		dq_remove(vm, h);
		/* On dq, the VMO's own reference is held: refs > 0. */
		assert(atomic_load(&h->refs) > 0);
		atomic_fetch_add(&h->refs, 1);
		pthread_mutex_unlock(&vm->dlock);
		got += discard_one(vm, h);
		hier_put(h);
		pthread_mutex_lock(&vm->dlock);
	}
	pthread_mutex_unlock(&vm->dlock);
	return got;
}

/* For vm_get_stats: candidates now. */
uint64_t
discard_candidates(struct vm *vm)
{
	uint64_t n;

	pthread_mutex_lock(&vm->dlock);
	n = vm->ndq;
	pthread_mutex_unlock(&vm->dlock);
	return n;
}
