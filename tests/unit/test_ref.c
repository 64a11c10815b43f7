/*
 * test_ref.c - references (vmo_reference, Zircon's ZX_VMO_CHILD_REFERENCE):
 * a second VMO onto all of another's pages and its content size.
 *
 * Invariants guarded: bytes and size are one, both ways, through every
 * call (read, write, resize, range operations, clones and slices of
 * either); a reference keeps its target's pages alive after the target's
 * handle is gone; attribution is charged to the target only, so the
 * scaled sum still adds up to the pages in use; a failed reference (heap
 * allocation) changes nothing.
 */
#include "vmtest.h"
#include "memstore.h"

#include <errno.h>
#include <unistd.h>

/* Write through one side, read through the other; sizes follow. */
static void
test_ref_shares_bytes_and_size(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *r, *r2;
	char buf[8] = "abcdefg";

	(void)state;
	vt_fill(a, 0, 3 * P, 1);
	assert_int_equal(vmo_reference(a, &r), 0);
	assert_int_equal(vmo_kind(r), VMO_REF);
	assert_string_equal(vmo_kind_name(vmo_kind(r)), "reference");
	assert_true(vmo_id(r) != vmo_id(a));
	assert_int_equal(vmo_parent_id(r), vmo_id(a));
	assert_int_equal(vmo_children(a), 1);
	assert_int_equal(vmo_size(r), 3 * P);
	assert_true(vmo_is_resizable(r));
	assert_false(vmo_is_slice(r));
	vt_expect(r, 0, 3 * P, 1);
	/* A write through the reference is the original's, and grows both. */
	vt_fill(r, 2 * P, 2 * P, 2);
	assert_int_equal(vmo_size(a), 4 * P);
	vt_expect(a, 2 * P, 2 * P, 2);
	vt_same(a, 0, r, 0, 4 * P);
	/* A write through the original, past the end: the gap reads zero. */
	assert_int_equal(vmo_write(a, buf, 6 * P + 5, 7), 7);
	assert_int_equal(vmo_size(r), 6 * P + 12);
	vt_expect(r, 4 * P, 2 * P, -1);
	vt_same(a, 0, r, 0, 6 * P + 12);
	/* Resizes through either side: the other follows, unlike a slice. */
	assert_int_equal(vmo_resize(r, P + 10), 0);
	assert_int_equal(vmo_size(a), P + 10);
	assert_int_equal(vmo_resize(a, 5 * P), 0);
	assert_int_equal(vmo_size(r), 5 * P);
	vt_expect(r, P + 10, 4 * P - 10, -1);	/* shrunk bytes read zero */
	/* A reference of a reference refers to the same VMO. */
	assert_int_equal(vmo_reference(r, &r2), 0);
	assert_int_equal(vmo_parent_id(r2), vmo_id(r));
	assert_int_equal(vmo_children(r), 1);
	vt_fill(r2, 0, P, 3);
	vt_expect(a, 0, P, 3);
	vt_expect(r, 0, P, 3);
	assert_int_equal(vmo_resize(r2, 2 * P), 0);
	assert_int_equal(vmo_size(a), 2 * P);
	assert_int_equal(vmo_size(r), 2 * P);
	vmo_test_check(r2);
	vmo_unref(r2);
	assert_int_equal(vmo_children(r), 0);
	vmo_unref(r);
	assert_int_equal(vmo_children(a), 0);
	vmo_unref(a);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* Range operations and seek act on the shared pages. */
static void
test_ref_range_ops(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *r;
	struct vmo_attr at;
	uint64_t res;

	(void)state;
	assert_int_equal(vmo_resize(a, 8 * P), 0);
	assert_int_equal(vmo_reference(a, &r), 0);
	/* commit through the reference: the original's pages */
	assert_int_equal(vmo_commit(r, 0, 4 * P), 0);
	assert_int_equal(vmo_get_attr(a, &at), 0);
	assert_int_equal(at.committed, 4 * P);
	assert_int_equal(vmo_blocks_bytes(a), 4 * P);
	assert_int_equal(vmo_seek(r, 0, SEEK_HOLE, &res), 0);
	assert_int_equal(res, 4 * P);
	/* pin through one side holds the page for both */
	assert_int_equal(vmo_pin(r, P, P), 0);
	assert_int_equal(vmo_decommit(a, P, P), -EBUSY);
	assert_int_equal(vmo_resize(a, P), -EBUSY);
	assert_int_equal(vmo_resize(r, P), -EBUSY);
	assert_int_equal(vmo_unpin(a, P, P), 0);
	/* decommit and zero through the reference */
	vt_fill(a, 0, 4 * P, 4);
	assert_int_equal(vmo_decommit(r, 0, 2 * P), 0);
	vt_expect(a, 0, 2 * P, -1);
	vt_expect(a, 2 * P, 2 * P, 4);
	assert_int_equal(vmo_zero(r, 2 * P + 10, 100), 0);
	vt_expect(a, 2 * P + 10, 100, -1);
	assert_int_equal(vmo_get_attr(a, &at), 0);
	assert_int_equal(at.committed, 2 * P);
	/* hints and prefetch go through too */
	assert_int_equal(vmo_hint(r, 0, VMO_WHOLE, VMO_HINT_DONTNEED), 0);
	assert_int_equal(vmo_prefetch(r, 0, VMO_WHOLE), 0);
	assert_int_equal(vmo_decommit(r, 100, P), -EINVAL);	/* as the original */
	vmo_test_check(a);
	vmo_unref(a);
	vmo_unref(r);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/*
 * Attribution: a reference is charged nothing and changes nothing of its
 * target's numbers (Zircon: "a reference never has memory attributed to
 * it"), so across all VMOs the scaled bytes still add up.
 */
static void
test_ref_attribution(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *v[5] = { vt_vmo(vm, 0) };
	struct vmo_attr at, before;

	(void)state;
	vt_fill(v[0], 0, 6 * P, 5);
	assert_int_equal(vmo_get_attr(v[0], &before), 0);
	assert_int_equal(vmo_reference(v[0], &v[1]), 0);
	assert_int_equal(vmo_get_attr(v[0], &at), 0);
	assert_memory_equal(&at, &before, sizeof(at));
	assert_int_equal(at.private_bytes, 6 * P);
	assert_int_equal(vmo_get_attr(v[1], &at), 0);
	assert_int_equal(at.committed, 0);
	assert_int_equal(at.scaled, 0);
	assert_int_equal(at.private_bytes, 0);
	assert_int_equal(vmo_blocks_bytes(v[1]), 0);
	/* a clone of the reference is a clone of the original's bytes */
	assert_int_equal(vmo_clone(v[1], 0, VMO_WHOLE, &v[2]), 0);
	assert_int_equal(vmo_parent_id(v[2]), vmo_id(v[1]));
	assert_int_equal(vmo_children(v[1]), 1);
	assert_int_equal(vmo_children(v[0]), 1);
	vt_same(v[2], 0, v[0], 0, 6 * P);
	vt_fill(v[1], 0, P, 6);			/* the clone keeps the old page */
	vt_expect(v[2], 0, P, 5);
	vt_expect(v[0], 0, P, 6);
	/* a slice of the reference: a window of the original */
	assert_int_equal(vmo_slice(v[1], P, 2 * P, &v[3]), 0);
	assert_int_equal(vmo_slice_offset(v[3]), P);
	vt_fill(v[3], 0, P, 7);
	vt_same(v[3], 0, v[0], P, 2 * P);
	/* the original cannot shrink below the slice through the reference */
	assert_int_equal(vmo_resize(v[1], 2 * P), -EBUSY);
	/* a reference of a slice: the slice's window, fixed */
	assert_int_equal(vmo_reference(v[3], &v[4]), 0);
	assert_true(vmo_is_slice(v[4]));
	assert_false(vmo_is_resizable(v[4]));
	assert_int_equal(vmo_size(v[4]), 2 * P);
	assert_int_equal(vmo_slice_offset(v[4]), P);
	assert_int_equal(vmo_resize(v[4], P), -EPERM);
	vt_same(v[4], 0, v[0], P, 2 * P);
	vt_scaled_sum(vm, v, 5);
	vt_check_vmos(vm, v, 5);
	vmo_unref(v[4]);
	vmo_unref(v[3]);
	vmo_unref(v[2]);
	vmo_unref(v[1]);
	vmo_unref(v[0]);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* The original's handle goes first: the reference keeps everything. */
static void
test_ref_keeps_alive(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *r, *c;

	(void)state;
	vt_fill(a, 0, 4 * P, 8);
	assert_int_equal(vmo_reference(a, &r), 0);
	vmo_unref(a);
	assert_int_equal(vm_test_used_pages(vm), 4);
	vt_expect(r, 0, 4 * P, 8);
	vt_fill(r, 4 * P, P, 9);
	assert_int_equal(vmo_size(r), 5 * P);
	assert_int_equal(vmo_clone(r, 0, VMO_WHOLE, &c), 0);
	vt_expect(c, 4 * P, P, 9);
	vmo_test_check(r);
	vmo_unref(r);
	vt_expect(c, 0, 4 * P, 8);
	vmo_unref(c);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* Refused: a discardable VMO has no children of any kind (as Zircon). */
static void
test_ref_refused(void **state)
{
	struct vm *vm = vt_vm(64);
	struct vmo *d, *f, *r = NULL;

	(void)state;
	assert_int_equal(vmo_create(vm, P, VMO_RESIZABLE | VMO_DISCARDABLE, &d), 0);
	assert_int_equal(vmo_reference(d, &r), -EOPNOTSUPP);
	assert_null(r);
	assert_int_equal(vmo_reference(d, NULL), -EINVAL);
	/* a reference of a fixed-size VMO is fixed too */
	assert_int_equal(vmo_create(vm, 2 * P, 0, &f), 0);
	assert_int_equal(vmo_reference(f, &r), 0);
	assert_false(vmo_is_resizable(r));
	assert_int_equal(vmo_resize(r, P), -EPERM);
	assert_int_equal(vmo_write(r, "x", 2 * P, 1), -EFBIG);
	vmo_unref(r);
	vmo_unref(f);
	vmo_unref(d);
	vm_destroy(vm);
}

/* Each heap allocation failing in turn: nothing made, nothing changed. */
static void
test_ref_fault_each(void **state)
{
	struct vm *vm = vt_vm(64);
	struct vmo *a = vt_vmo(vm, 0), *r;
	uint64_t n, used, failed;
	int err;

	(void)state;
	vt_fill(a, 0, 2 * P, 10);
	for (n = 1;; n++) {
		used = vm_test_used_pages(vm);
		r = NULL;
		fault_set(n, 0);
		err = vmo_reference(a, &r);
		failed = fault_failures();	/* fault_clear resets it */
		fault_clear();
		if (failed == 0 || err == 0)
			break;
		assert_int_equal(err, -ENOMEM);
		assert_null(r);
		assert_int_equal(vmo_children(a), 0);
		assert_int_equal(vm_test_used_pages(vm), used);
		vt_expect(a, 0, 2 * P, 10);
	}
	assert_int_equal(err, 0);
	vmo_unref(r);
	vmo_unref(a);
	vm_destroy(vm);
}

/* A reference of a pager-backed VMO: pages in, writes back, as its target. */
static void
test_ref_pager(void **state)
{
	struct vm *vm = vt_vm(64);
	struct memstore *s = memstore_pattern(16 * P, 4 * P, 11);
	struct vmo *a, *r;

	(void)state;
	assert_int_equal(vmo_create_paged(vm, 4 * P, &memstore_ops_v, s, &a), 0);
	assert_int_equal(vmo_reference(a, &r), 0);
	vt_expect(r, 0, 4 * P, 11);
	vt_fill(r, 4 * P, P, 12);
	assert_true(vmo_dirty_pages(r) > 0);
	assert_int_equal(vmo_writeback(r), 0);
	assert_int_equal(s->size, 5 * P);
	assert_int_equal(vmo_dirty_pages(a), 0);
	vmo_unref(a);		/* the reference holds it */
	vt_expect(r, 4 * P, P, 12);
	assert_int_equal(vmo_pager_detach(r), 0);
	vmo_unref(r);
	assert_int_equal(vm_test_used_pages(vm), 0);
	memstore_free(s);
	vm_destroy(vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_shares_bytes_and_size),
		cmocka_unit_test(test_ref_range_ops),
		cmocka_unit_test(test_ref_attribution),
		cmocka_unit_test(test_ref_keeps_alive),
		cmocka_unit_test(test_ref_refused),
		cmocka_unit_test(test_ref_fault_each),
		cmocka_unit_test(test_ref_pager),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
