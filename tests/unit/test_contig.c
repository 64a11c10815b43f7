/*
 * test_contig.c - contiguous VMOs and page loaning (vm/contig.c, pmm.c).
 *
 * Invariants guarded: a contiguous VMO's page at offset i * P is arena
 * page first + i, whenever it holds one (vmo_test_check_contig); its
 * decommitted pages are lent and used by other VMOs only when nothing
 * else is free; taking one back (write, commit, pin) migrates the
 * borrower's bytes to another page, so the borrower reads what it wrote
 * and the contiguous VMO gets its own physical page back; a borrowed page
 * is never pinned or shared in place; ending the lender ends its loans.
 * Every test ends with no page in use and no page on loan (vm_destroy
 * asserts both).
 */
#include "vmtest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* A VM without per-CPU reserves: which page comes next is deterministic. */
static struct vm *
plain_vm(uint64_t pages)
{
	struct vm_config cfg = { .limit_bytes = pages * P, .ncpu = 1,
		.no_pcache = true };
	struct vm *vm = NULL;

	assert_int_equal(vm_create(&cfg, &vm), 0);
	return vm;
}

static struct vm_stats
stats(struct vm *vm)
{
	struct vm_stats st;

	vm_get_stats(vm, &st);
	return st;
}

/* Every page of [0, n) of v sits at first + i. */
static void
expect_run(struct vmo *v, uint64_t n)
{
	int64_t first = vmo_test_page_index(v, 0);
	uint64_t i;

	assert_true(first >= 0);
	for (i = 1; i < n; i++)
		assert_int_equal(vmo_test_page_index(v, i * P), first + (int64_t)i);
}

/* Made committed, zeroed, pinned, fixed; what it refuses. */
static void
test_contig_create(void **state)
{
	struct vm *vm = plain_vm(64);
	struct vmo *c, *s, *x = NULL, *a = vt_vmo(vm, 0);
	struct vmo_attr at;

	(void)state;
	assert_int_equal(vmo_create_contiguous(vm, 0, &c), -EINVAL);
	assert_int_equal(vmo_create_contiguous(vm, 65 * P, &c), -ENOSPC);
	assert_int_equal(vmo_create_contiguous(vm, 8 * P - 100, &c), 0);
	assert_true(vmo_is_contiguous(c));
	assert_false(vmo_is_contiguous(a));
	assert_false(vmo_is_resizable(c));
	assert_int_equal(vmo_size(c), 8 * P - 100);
	expect_run(c, 8);
	assert_int_equal(vmo_test_check_contig(c), 8);
	vt_expect(c, 0, 8 * P - 100, -1);
	assert_int_equal(vmo_get_attr(c, &at), 0);
	assert_int_equal(at.committed, 8 * P);
	assert_int_equal(at.pinned, 8 * P);
	assert_int_equal(stats(vm).contig_vmos, 1);
	vt_fill(c, 0, 8 * P - 100, 1);
	vt_expect(c, 0, 8 * P - 100, 1);
	/* fixed size; no clones, references or shared pages; slices yes */
	assert_int_equal(vmo_resize(c, P), -EPERM);
	assert_int_equal(vmo_clone(c, 0, VMO_WHOLE, &x), -EOPNOTSUPP);
	assert_int_equal(vmo_reference(c, &x), -EOPNOTSUPP);
	assert_null(x);
	vt_fill(a, 0, P, 2);
	assert_int_equal(vmo_share_range(a, 0, c, 0, P), -EXDEV);
	assert_int_equal(vmo_share_range(c, 0, a, 0, P), -EXDEV);
	assert_int_equal(vmo_slice(c, 2 * P, 2 * P, &s), 0);
	vt_same(s, 0, c, 2 * P, 2 * P);
	/* the base pin is not the caller's; a user pin counts above it */
	assert_int_equal(vmo_unpin(c, 0, P), -EINVAL);
	assert_int_equal(vmo_pin(s, 0, P), 0);
	assert_int_equal(vmo_decommit(c, 2 * P, P), -EBUSY);
	assert_int_equal(vmo_unpin(c, 2 * P, P), 0);
	assert_int_equal(vmo_unpin(c, 2 * P, P), -EINVAL);
	assert_int_equal(vmo_test_check_contig(c), 8);
	vmo_test_check(c);
	vmo_unref(s);
	vmo_unref(c);
	vmo_unref(a);
	assert_int_equal(stats(vm).contig_vmos, 0);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* With the fresh tail used up, a run is found among freed pages. */
static void
test_contig_run_after_frees(void **state)
{
	struct vm *vm = plain_vm(32);
	struct vmo *a = vt_vmo(vm, 0), *b = vt_vmo(vm, 0), *c;
	uint64_t i;

	(void)state;
	/* a and b take alternate pages of the whole arena */
	for (i = 0; i < 16; i++) {
		vt_fill(a, i * P, P, 3);
		vt_fill(b, i * P, P, 4);
	}
	assert_int_equal(vmo_create_contiguous(vm, P, &c), -ENOSPC);
	vmo_unref(a);		/* 16 free pages, none adjacent */
	assert_int_equal(vmo_create_contiguous(vm, 2 * P, &c), -ENOSPC);
	assert_int_equal(vmo_create_contiguous(vm, P, &c), 0);
	vmo_unref(c);
	vmo_unref(b);
	assert_int_equal(vmo_create_contiguous(vm, 20 * P, &c), 0);
	expect_run(c, 20);
	vt_expect(c, 0, 20 * P, -1);	/* freed pages come back zeroed */
	vmo_unref(c);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/*
 * The loan: decommitted pages are borrowed only when the PMM is otherwise
 * short; a commit takes them back, migrating the borrower's pages, whose
 * bytes stay; the contiguous VMO has its own physical pages again.
 */
static void
test_contig_loan_reclaimed(void **state)
{
	struct vm *vm = plain_vm(32);
	struct vmo *c, *a = vt_vmo(vm, 0);
	int64_t first;
	uint64_t i;

	(void)state;
	assert_int_equal(vmo_create_contiguous(vm, 8 * P, &c), 0);
	first = vmo_test_page_index(c, 0);
	vt_fill(c, 0, 8 * P, 5);
	vt_fill(a, 0, 20 * P, 6);		/* 4 pages left free */
	assert_int_equal(vmo_decommit(c, 2 * P, 4 * P), 0);
	vt_expect(c, 2 * P, 4 * P, -1);
	vt_expect(c, 0, 2 * P, 5);
	vt_expect(c, 6 * P, 2 * P, 5);
	assert_int_equal(vmo_test_check_contig(c), 4);
	assert_int_equal(stats(vm).lent_pages, 4);
	assert_int_equal(stats(vm).loaned_free, 4);
	assert_int_equal(stats(vm).free_pages, 8);
	/* the 4 ordinary free pages go first: no borrowing yet */
	vt_fill(a, 20 * P, 4 * P, 6);
	assert_int_equal(stats(vm).borrowed, 0);
	for (i = 20; i < 24; i++)
		assert_true(vmo_test_page_index(a, i * P) < first ||
		    vmo_test_page_index(a, i * P) >= first + 8);
	/* now the PMM is short: the lent pages are borrowed */
	vt_fill(a, 24 * P, 4 * P, 6);
	assert_int_equal(stats(vm).borrowed, 4);
	assert_int_equal(stats(vm).loaned_free, 0);
	for (i = 24; i < 28; i++) {
		int64_t k = vmo_test_page_index(a, i * P);

		assert_true(k >= first + 2 && k < first + 6);
		assert_true(vm_test_page_lent(vm, (uint64_t)k));
	}
	/* taking them back needs ordinary pages to move a's bytes into */
	assert_int_equal(vmo_decommit(a, 0, 4 * P), 0);
	assert_int_equal(vmo_commit(c, 2 * P, 4 * P), 0);
	assert_int_equal(stats(vm).loan_migrations, 4);
	assert_int_equal(stats(vm).lent_pages, 0);
	expect_run(c, 8);
	assert_int_equal(vmo_test_check_contig(c), 8);
	vt_expect(c, 2 * P, 4 * P, -1);		/* recommitted: zero */
	vt_expect(c, 0, 2 * P, 5);
	vt_expect(a, 4 * P, 24 * P, 6);		/* the borrower's bytes kept */
	vt_expect(a, 0, 4 * P, -1);
	for (i = 24; i < 28; i++)
		assert_false(vm_test_page_lent(vm,
		    (uint64_t)vmo_test_page_index(a, i * P)));
	vmo_test_check(a);
	vmo_test_check(c);
	vmo_unref(a);
	vmo_unref(c);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* A write into a decommitted page takes it back the same way. */
static void
test_contig_write_takes_back(void **state)
{
	struct vm *vm = plain_vm(16);
	struct vmo *c, *s, *a = vt_vmo(vm, 0);
	char buf[4] = "abc";

	(void)state;
	assert_int_equal(vmo_create_contiguous(vm, 4 * P, &c), 0);
	assert_int_equal(vmo_slice(c, 2 * P, 2 * P, &s), 0);
	vt_fill(a, 0, 11 * P, 7);		/* one page left */
	assert_int_equal(vmo_decommit(s, 0, 2 * P), 0);	/* through the slice */
	vt_fill(a, 11 * P, 3 * P, 7);		/* 1 ordinary, 2 borrowed */
	assert_int_equal(stats(vm).borrowed, 2);
	assert_int_equal(vmo_decommit(a, 0, P), 0);
	/* one page written: only it comes back */
	assert_int_equal(vmo_write(c, buf, 3 * P + 5, 3), 3);
	assert_int_equal(stats(vm).loan_migrations, 1);
	assert_int_equal(stats(vm).lent_pages, 1);
	assert_int_equal(vmo_test_check_contig(c), 3);
	vt_expect(a, P, 13 * P, 7);
	vt_expect(s, P, 5, -1);
	/* no ordinary page left to move a's bytes to: ENOSPC, nothing lost */
	assert_int_equal(vmo_write(s, buf, 0, 3), -ENOSPC);
	assert_int_equal(vmo_commit(s, 0, P), -ENOSPC);
	assert_int_equal(vmo_pin(s, 0, P), -ENOSPC);
	assert_int_equal(vmo_test_check_contig(c), 3);
	vt_expect(a, P, 13 * P, 7);
	assert_int_equal(vmo_decommit(a, P, P), 0);
	assert_int_equal(vmo_write(s, buf, 0, 3), 3);
	assert_int_equal(vmo_test_check_contig(c), 4);
	expect_run(c, 4);
	vt_expect(a, 2 * P, 12 * P, 7);
	vmo_unref(s);
	vmo_unref(a);
	vmo_unref(c);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* A borrowed page is never pinned or shared in place: a copy is. */
static void
test_contig_borrowed_stays_movable(void **state)
{
	struct vm *vm = plain_vm(16);
	struct vmo *c, *a = vt_vmo(vm, 0), *b = vt_vmo(vm, 0);
	int64_t first, k;

	(void)state;
	assert_int_equal(vmo_create_contiguous(vm, 2 * P, &c), 0);
	first = vmo_test_page_index(c, 0);
	vt_fill(a, 0, 12 * P, 8);		/* 2 pages left */
	assert_int_equal(vmo_decommit(c, 0, 2 * P), 0);
	vt_fill(a, 12 * P, 2 * P, 8);		/* the ordinary two */
	vt_fill(a, 14 * P, 2 * P, 8);		/* both borrowed */
	assert_int_equal(stats(vm).borrowed, 2);
	/* pin a borrowed page: a copy is pinned, the loan page freed */
	assert_int_equal(vmo_decommit(a, 0, 3 * P), 0);	/* 3 ordinary free */
	assert_int_equal(vmo_pin(a, 14 * P, P), 0);
	k = vmo_test_page_index(a, 14 * P);
	assert_true(k < first || k >= first + 2);
	vt_expect(a, 14 * P, 2 * P, 8);
	/* share a borrowed page: dst gets a copy */
	assert_int_equal(vmo_share_range(b, 0, a, 15 * P, P), P);
	assert_true(vmo_test_page_index(b, 0) != vmo_test_page_index(a, 15 * P));
	vt_same(b, 0, a, 15 * P, P);
	/* both come back: one free, one moved (into the last ordinary page) */
	assert_int_equal(vmo_commit(c, 0, VMO_WHOLE), 0);
	assert_int_equal(vmo_test_check_contig(c), 2);
	vt_expect(a, 14 * P, 2 * P, 8);
	assert_int_equal(vmo_unpin(a, 14 * P, P), 0);
	vmo_unref(b);
	vmo_unref(a);
	vmo_unref(c);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* The lender goes while its pages are borrowed: the loans end. */
static void
test_contig_destroy_ends_loans(void **state)
{
	struct vm *vm = plain_vm(16);
	struct vmo *c, *a = vt_vmo(vm, 0);

	(void)state;
	assert_int_equal(vmo_create_contiguous(vm, 4 * P, &c), 0);
	vt_fill(a, 0, 12 * P, 9);
	assert_int_equal(vmo_decommit(c, 0, 4 * P), 0);
	vt_fill(a, 12 * P, 2 * P, 9);		/* 2 borrowed, 2 lent free */
	vmo_unref(c);
	assert_int_equal(stats(vm).lent_pages, 0);
	assert_int_equal(stats(vm).free_pages, 2);
	vt_expect(a, 0, 14 * P, 9);
	vt_fill(a, 14 * P, 2 * P, 9);		/* ordinary pages now */
	vmo_unref(a);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* Reclaim frees a borrowed all-zero page: it goes back on loan. */
static void
test_contig_reclaim_returns_loan(void **state)
{
	struct vm *vm = plain_vm(16);
	struct vmo *c, *a = vt_vmo(vm, 0);

	(void)state;
	assert_int_equal(vmo_create_contiguous(vm, 2 * P, &c), 0);
	vt_fill(a, 0, 14 * P, 10);
	assert_int_equal(vmo_decommit(c, 0, 2 * P), 0);
	assert_int_equal(vmo_resize(a, 16 * P), 0);
	assert_int_equal(vmo_commit(a, 14 * P, 2 * P), 0);	/* zero, borrowed */
	assert_int_equal(stats(vm).loaned_free, 0);
	assert_true(vm_test_reclaim(vm, 2) >= 2);
	assert_int_equal(stats(vm).loaned_free, 2);
	assert_int_equal(stats(vm).lent_pages, 2);
	assert_int_equal(vmo_commit(c, 0, 2 * P), 0);
	assert_int_equal(stats(vm).loan_migrations, 0);
	assert_int_equal(vmo_test_check_contig(c), 2);
	vmo_unref(a);
	vmo_unref(c);
	vm_destroy(vm);
}

/*
 * With per-CPU reserves: lent pages are borrowed only once reserves and
 * PMM are empty, and a freed borrowed page goes back to its lender, never
 * into a reserve (else the commit below could not get it back).
 */
static void
test_contig_loan_with_pcache(void **state)
{
	struct vm *vm = vt_vm(64);
	struct vmo *c, *a = vt_vmo(vm, 0);
	uint64_t n = 0;

	(void)state;
	assert_int_equal(vmo_create_contiguous(vm, 8 * P, &c), 0);
	assert_int_equal(vmo_decommit(c, 0, VMO_WHOLE), 0);
	for (;;) {
		char b[P];

		memset(b, (int)(n + 1), sizeof(b));
		if (vmo_write(a, b, n * P, P) != P)
			break;
		n++;
	}
	assert_int_equal(n, 64);		/* every page, lent ones too */
	assert_int_equal(stats(vm).borrowed, 8);
	assert_int_equal(vmo_decommit(a, 0, 16 * P), 0);
	assert_int_equal(vmo_commit(c, 0, VMO_WHOLE), 0);
	assert_int_equal(vmo_test_check_contig(c), 8);
	expect_run(c, 8);
	for (uint64_t i = 16; i < n; i++) {
		char b[P], w[P];

		memset(w, (int)(i + 1), sizeof(w));
		assert_int_equal(vmo_read(a, b, i * P, P), P);
		assert_memory_equal(b, w, P);
	}
	vmo_test_check(a);
	vmo_unref(a);
	vmo_unref(c);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/*
 * Concurrency: a lender decommits and takes back its pages in a loop
 * while borrowers write, verify, pin and drop pages of their own.  Each
 * borrower's page i holds a byte only it writes (its model); a migration
 * that lost or crossed a byte shows as a mismatch.  ENOSPC is allowed.
 */
struct borrower {
	struct vmo	*v;
	unsigned	 seed;
	unsigned char	 model[24];
	int		 bad;
};

static _Atomic int cc_stop;

static void *
borrower_main(void *arg)
{
	struct borrower *b = arg;
	char buf[P], got[P];
	unsigned x = b->seed;

	while (!atomic_load(&cc_stop)) {
		unsigned i = (x = x * 1103515245 + 12345) >> 16;
		unsigned pg = i % 24, op = (i >> 5) % 8;

		if (op < 4) {			/* write page pg */
			unsigned char c = (unsigned char)(1 + (x >> 8) % 250);

			memset(buf, c, P);
			if (vmo_write(b->v, buf, pg * P, P) == P)
				b->model[pg] = c;
		} else if (op < 6) {		/* verify page pg */
			memset(buf, b->model[pg], P);
			if (vmo_read(b->v, got, pg * P, P) != P ||
			    memcmp(got, buf, P) != 0)
				b->bad++;
		} else if (op == 6) {		/* drop it */
			if (vmo_decommit(b->v, pg * P, P) == 0)
				b->model[pg] = 0;
		} else {			/* pin and unpin it */
			if (vmo_pin(b->v, pg * P, P) == 0)
				assert_int_equal(vmo_unpin(b->v, pg * P, P), 0);
		}
	}
	return NULL;
}

static void
test_contig_concurrent(void **state)
{
	struct vm *vm = vt_vm(60);	/* 16 + 2 x 24 > 60: they must borrow */
	struct borrower b[2];
	pthread_t t[2];
	struct vmo *c;
	char buf[P], got[P];
	int i, j, rounds = 0, bad = 0;

	(void)state;
	assert_int_equal(vmo_create_contiguous(vm, 16 * P, &c), 0);
	for (i = 0; i < 2; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].v = vt_vmo(vm, 0);
		assert_int_equal(vmo_resize(b[i].v, 24 * P), 0);
		b[i].seed = 17u + (unsigned)i;
	}
	atomic_store(&cc_stop, 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, borrower_main, &b[i]), 0);
	for (rounds = 0; rounds < 150; rounds++) {
		unsigned char v = (unsigned char)(rounds % 250 + 1);
		int err;

		assert_int_equal(vmo_decommit(c, 0, VMO_WHOLE), 0);
		usleep(100);
		memset(buf, v, P);
		for (j = 0; j < 16; j++) {
			err = (int)vmo_write(c, buf, (uint64_t)j * P, P);
			if (err == -ENOSPC)
				break;
			assert_int_equal(err, P);
		}
		for (i = 0; i < j; i++) {
			assert_int_equal(vmo_read(c, got, (uint64_t)i * P, P), P);
			if (memcmp(got, buf, P) != 0)
				bad++;
		}
	}
	atomic_store(&cc_stop, 1);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		bad += b[i].bad;
	}
	assert_int_equal(bad, 0);
	assert_true(stats(vm).borrowed > 0);
	assert_true(stats(vm).loan_migrations > 0);
	/* room for every borrowed page, then all of c comes back */
	for (j = 0; j < 12; j++) {
		assert_int_equal(vmo_decommit(b[0].v, (uint64_t)j * P, P), 0);
		b[0].model[j] = 0;
	}
	assert_int_equal(vmo_commit(c, 0, VMO_WHOLE), 0);
	assert_int_equal(vmo_test_check_contig(c), 16);
	expect_run(c, 16);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 24; j++) {
			memset(buf, b[i].model[j], P);
			assert_int_equal(vmo_read(b[i].v, got, (uint64_t)j * P, P), P);
			assert_memory_equal(got, buf, P);
		}
		vmo_test_check(b[i].v);
		vmo_unref(b[i].v);
	}
	vmo_unref(c);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* Each allocation failing in turn: no VMO, nothing in use. */
static void
test_contig_fault_each(void **state)
{
	struct vm *vm = plain_vm(32);
	struct vmo *c;
	uint64_t n, failed;
	int err;

	(void)state;
	for (n = 1;; n++) {
		c = NULL;
		fault_set(n, 0);
		err = vmo_create_contiguous(vm, 20 * P, &c);
		failed = fault_failures();
		fault_clear();
		if (failed == 0 || err == 0)
			break;
		assert_true(err == -ENOMEM || err == -ENOSPC);
		assert_int_equal(vm_test_used_pages(vm), 0);
		assert_int_equal(stats(vm).vmos, 0);
	}
	assert_int_equal(err, 0);
	assert_int_equal(vmo_test_check_contig(c), 20);
	vmo_unref(c);
	vm_destroy(vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contig_create),
		cmocka_unit_test(test_contig_run_after_frees),
		cmocka_unit_test(test_contig_loan_reclaimed),
		cmocka_unit_test(test_contig_write_takes_back),
		cmocka_unit_test(test_contig_borrowed_stays_movable),
		cmocka_unit_test(test_contig_destroy_ends_loans),
		cmocka_unit_test(test_contig_reclaim_returns_loan),
		cmocka_unit_test(test_contig_loan_with_pcache),
		cmocka_unit_test(test_contig_concurrent),
		cmocka_unit_test(test_contig_fault_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
