/*
 * test_vmo.c - the rules of libvm's VMOs (vm/vmo.h), one test each:
 * read/write and content size, clones and hidden nodes, slices, range
 * operations, pins, attribution, seek, and every allocation failing in
 * turn.  Each test opens with the invariant it guards.
 */
#include <errno.h>
#include <unistd.h>

#include "vmtest.h"

static void check_unchanged(struct vmo *v, const unsigned char *ref, size_t len);

/* Bytes written read back; writing past the end grows with a zero gap. */
static void
test_rw_grow(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *v = vt_vmo(vm, 0);
	char buf[16];

	(void)state;
	assert_int_equal(vmo_size(v), 0);
	assert_int_equal(vmo_read(v, buf, 0, sizeof(buf)), 0);
	vt_fill(v, 10000, 5000, 1);
	assert_int_equal(vmo_size(v), 15000);
	vt_expect(v, 0, 10000, -1);
	vt_expect(v, 10000, 5000, 1);
	assert_int_equal(vmo_read(v, buf, 14995, 16), 5);
	assert_int_equal(vmo_read(v, buf, 20000, 16), 0);
	assert_int_equal(vmo_write(v, buf, 0, 0), 0);
	assert_int_equal(vmo_write(v, buf, VMO_MAX_SIZE, 1), -EFBIG);
	assert_int_equal(vmo_write(v, buf, UINT64_MAX - 2, 8), -EINVAL);
	/* Only pages touched are committed: 10000..15000 is pages 2 and 3. */
	assert_int_equal(vmo_blocks_bytes(v), 2 * P);
	vmo_unref(v);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* Shrink frees pages past the end and zeroes the tail; growing reads zero. */
static void
test_resize(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *v = vt_vmo(vm, 0), *fixed = NULL;

	(void)state;
	vt_fill(v, 0, 8 * P, 2);
	assert_int_equal(vm_test_used_pages(vm), 8);
	assert_int_equal(vmo_resize(v, 100), 0);
	assert_int_equal(vmo_size(v), 100);
	assert_int_equal(vm_test_used_pages(vm), 1);
	assert_int_equal(vmo_resize(v, 8 * P), 0);
	vt_expect(v, 0, 100, 2);
	vt_expect(v, 100, 8 * P - 100, -1);
	assert_int_equal(vmo_resize(v, VMO_MAX_SIZE + 1), -EFBIG);
	assert_int_equal(vmo_create(vm, 10, 0, &fixed), 0);
	assert_int_equal(vmo_resize(fixed, 20), -EPERM);
	assert_int_equal(vmo_create(vm, 10, 0x80, &v), -EINVAL);
	assert_int_equal(vmo_create(vm, VMO_MAX_SIZE + 1, 0, &v), -EFBIG);
	vmo_unref(fixed);
	vmo_unref(v);
	vm_destroy(vm);
}

/*
 * A VMO made without VMO_RESIZABLE keeps its size, as a slice does:
 * resize is -EPERM (any size, even its own), a write past the end -EFBIG,
 * one across it is cut at the end, even inside the last page.  Clones of
 * it are resizable (Zircon: children of a non-resizable VMO can be).
 */
static void
test_fixed_size(void **state)
{
	static const struct { uint64_t off, len; ssize_t want; } w[] = {
		{ 0, 10, 10 },
		{ 3 * P, 10, 10 },
		{ 3 * P + 5, 10, 5 },		/* cut at the content size */
		{ 3 * P + 10, 1, -EFBIG },	/* inside the last page: no */
		{ 4 * P, 1, -EFBIG },
		{ 0, 4 * P, 3 * P + 10 },
	};
	struct vm *vm = vt_vm(64);
	struct vmo *f, *c;
	unsigned char b[4 * P];
	size_t i;

	(void)state;
	memset(b, 0x33, sizeof(b));
	assert_int_equal(vmo_create(vm, 3 * P + 10, 0, &f), 0);
	assert_false(vmo_is_resizable(f));
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		assert_int_equal(vmo_write(f, b, w[i].off, w[i].len), w[i].want);
		assert_int_equal(vmo_size(f), 3 * P + 10);
	}
	assert_int_equal(vmo_resize(f, 3 * P + 10), -EPERM);
	assert_int_equal(vmo_resize(f, 0), -EPERM);
	assert_int_equal(vmo_resize(f, 8 * P), -EPERM);
	assert_int_equal(vmo_clone(f, 0, VMO_WHOLE, &c), 0);
	assert_true(vmo_is_resizable(c));
	assert_int_equal(vmo_resize(c, 8 * P), 0);
	assert_int_equal(vmo_size(f), 3 * P + 10);
	vt_expect(c, 3 * P + 10, 5 * P - 10, -1);
	vmo_unref(c);
	vmo_unref(f);
	vm_destroy(vm);
}

/*
 * A clone sees the parent as it was; later writes on either side stay
 * private; the first write to a shared page copies it, the first write to
 * a page only one side still sees moves it.
 */
static void
test_clone_snapshot(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *b = NULL;
	struct vm_stats st;

	(void)state;
	vt_fill(a, 0, 16 * P, 3);
	assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &b), 0);
	assert_int_equal(vm_test_used_pages(vm), 16);	/* O(1): nothing copied */
	assert_int_equal(vmo_size(b), 16 * P);
	assert_int_equal(vmo_kind(b), VMO_CLONE);
	assert_int_equal(vmo_parent_id(b), vmo_id(a));
	assert_int_equal(vmo_children(a), 1);
	vt_fill(b, 0, P, 4);		/* shared: copied */
	vt_fill(a, 0, P, 5);		/* now only a sees the old page: moved */
	vm_get_stats(vm, &st);
	assert_int_equal(st.cow_copies, 1);
	assert_int_equal(st.cow_moves, 1);
	assert_int_equal(st.hidden_nodes, 1);
	assert_int_equal(vm_test_used_pages(vm), 17);
	vt_expect(a, 0, P, 5);
	vt_expect(b, 0, P, 4);
	vt_expect(a, P, 15 * P, 3);
	vt_expect(b, P, 15 * P, 3);
	assert_true(vmo_test_check(a) == 3);
	/* Destroying the clone merges the hidden node back into a. */
	vmo_unref(b);
	vm_get_stats(vm, &st);
	assert_int_equal(st.hidden_nodes, 0);
	assert_int_equal(st.merges, 1);
	assert_int_equal(vmo_test_depth(a), 1);
	assert_int_equal(vm_test_used_pages(vm), 16);
	assert_int_equal(vmo_children(a), 0);
	vt_expect(a, 0, P, 5);
	vt_expect(a, P, 15 * P, 3);
	vmo_unref(a);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* The parent can go first; the clone keeps every byte it saw. */
static void
test_clone_parent_dies(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *b, *c;

	(void)state;
	vt_fill(a, 0, 8 * P, 6);
	assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &b), 0);
	assert_int_equal(vmo_clone(b, 0, VMO_WHOLE, &c), 0);
	vt_fill(a, 0, 8 * P, 7);		/* a forks everything */
	vmo_unref(a);
	assert_int_equal(vmo_parent_id(b), vmo_id(b) - 1);
	vt_expect(b, 0, 8 * P, 6);
	vt_expect(c, 0, 8 * P, 6);
	assert_int_equal(vm_test_used_pages(vm), 8);
	vmo_test_check(b);
	vmo_unref(b);
	vt_expect(c, 0, 8 * P, 6);
	assert_int_equal(vmo_test_depth(c), 1);
	assert_int_equal(vm_test_used_pages(vm), 8);
	vmo_unref(c);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* A range clone shows its window; past the parent's end it reads zero. */
static void
test_clone_range(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *b, *c, *d;

	(void)state;
	vt_fill(a, 0, 8 * P, 8);
	assert_int_equal(vmo_clone(a, 3, P, &b), -EINVAL);
	assert_int_equal(vmo_clone(a, 2 * P, 3 * P + 100, &b), 0);
	assert_int_equal(vmo_size(b), 3 * P + 100);
	{
		unsigned char buf[3 * P + 100], want[3 * P + 100];
		assert_int_equal(vmo_read(a, want, 2 * P, sizeof(want)), (ssize_t)sizeof(want));
		assert_int_equal(vmo_read(b, buf, 0, sizeof(buf)), (ssize_t)sizeof(buf));
		assert_memory_equal(buf, want, sizeof(buf));
	}
	/* The tail past the clone's end is zero when it grows. */
	assert_int_equal(vmo_resize(b, 5 * P), 0);
	vt_expect(b, 3 * P + 100, 2 * P - 100, -1);
	/* Clone past the parent's end: zeros, and it can be written. */
	assert_int_equal(vmo_clone(a, 6 * P, 4 * P, &c), 0);
	assert_int_equal(vmo_size(c), 4 * P);
	vt_expect(c, 2 * P, 2 * P, -1);
	assert_int_equal(vmo_clone(a, 100 * P, 2 * P, &d), 0);
	vt_expect(d, 0, 2 * P, -1);
	vt_fill(d, 0, 2 * P, 9);
	vt_expect(d, 0, 2 * P, 9);
	vmo_test_check(a);
	vmo_unref(a);
	vmo_unref(d);
	vmo_unref(c);
	vmo_unref(b);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* Clones of an untouched VMO attach beside it: chains stay shallow. */
static void
test_clone_attach_high(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *c[11];
	struct vm_stats st;
	int i;

	(void)state;
	vt_fill(a, 0, 4 * P, 10);
	c[10] = a;
	for (i = 0; i < 10; i++)
		assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &c[i]), 0);
	vm_get_stats(vm, &st);
	assert_int_equal(st.hidden_nodes, 1);
	assert_int_equal(vmo_test_depth(a), 2);
	for (i = 0; i < 10; i++) {
		assert_int_equal(vmo_test_depth(c[i]), 2);
		vt_expect(c[i], 0, 4 * P, 10);
	}
	vt_scaled_sum(vm, c, 11);
	/* Each clone writes a page of its own; a clone of a clone hangs a
	 * hidden child off the shared node.  Index and definition agree. */
	for (i = 0; i < 10; i++)
		vt_fill(c[i], (uint64_t)(i % 4) * P, 10, 50 + i);
	{
		struct vmo *cc;
		struct vmo_attr x, y;

		assert_int_equal(vmo_clone(c[3], 0, VMO_WHOLE, &cc), 0);
		vt_fill(cc, 2 * P, 10, 99);
		for (i = 0; i < 11; i++) {
			assert_int_equal(vmo_get_attr(c[i], &x), 0);
			vm_test_set_vindex(false);
			assert_int_equal(vmo_get_attr(c[i], &y), 0);
			vm_test_set_vindex(true);
			assert_memory_equal(&x, &y, sizeof(x));
		}
		vmo_unref(cc);
	}
	vt_scaled_sum(vm, c, 11);
	for (i = 0; i < 10; i++)
		vmo_unref(c[i]);
	assert_int_equal(vmo_test_depth(a), 1);
	vmo_unref(a);
	vm_destroy(vm);
}

/* A slice shares pages both ways, has a fixed size, and pins its root's end. */
static void
test_slice(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *s, *s2, *cl, *all[4];
	char buf[8] = "abcdefg";

	(void)state;
	vt_fill(a, 0, 8 * P, 11);
	assert_int_equal(vmo_slice(a, 100, P, &s), -EINVAL);
	assert_int_equal(vmo_slice(a, 4 * P, 5 * P, &s), -EINVAL);
	assert_int_equal(vmo_slice(a, 0, 0, &s), -EINVAL);
	assert_int_equal(vmo_slice(a, 2 * P, 4 * P, &s), 0);
	assert_int_equal(vmo_kind(s), VMO_SLICE);
	assert_int_equal(vmo_size(s), 4 * P);
	assert_false(vmo_is_resizable(s));
	vt_same(s, 0, a, 2 * P, 4 * P);
	/* Writes seen both ways. */
	assert_int_equal(vmo_write(s, buf, 10, 7), 7);
	vt_same(s, 0, a, 2 * P, 4 * P);
	vt_fill(a, 3 * P, P, 12);
	vt_same(s, 0, a, 2 * P, 4 * P);
	/* Fixed size. */
	assert_int_equal(vmo_write(s, buf, 4 * P, 1), -EFBIG);
	assert_int_equal(vmo_write(s, buf, 4 * P - 3, 7), 3);
	assert_int_equal(vmo_resize(s, P), -EPERM);
	/* Root cannot shrink below the slice's end. */
	assert_int_equal(vmo_resize(a, 5 * P), -EBUSY);
	assert_int_equal(vmo_resize(a, 6 * P), 0);
	/* Slice of a slice is a slice of the root. */
	assert_int_equal(vmo_slice(s, P, 2 * P, &s2), 0);
	assert_int_equal(vmo_slice_offset(s2), 3 * P);
	assert_int_equal(vmo_parent_id(s2), vmo_id(s));
	vt_fill(s2, 0, 100, 13);
	vt_same(s2, 0, a, 3 * P, 2 * P);
	assert_int_equal(vmo_children(a), 1);
	assert_int_equal(vmo_children(s), 1);
	/* A clone of a slice is a snapshot of its window. */
	assert_int_equal(vmo_clone(s, 0, VMO_WHOLE, &cl), 0);
	assert_int_equal(vmo_size(cl), 4 * P);
	vt_same(cl, 0, a, 2 * P, 4 * P);
	{
		static unsigned char snap[4 * P], now[4 * P];

		assert_int_equal(vmo_read(cl, snap, 0, 4 * P), 4 * P);
		vt_fill(a, 2 * P, 4 * P, 14);
		vt_same(s, 0, a, 2 * P, 4 * P);
		assert_int_equal(vmo_read(cl, now, 0, 4 * P), 4 * P);
		assert_memory_equal(snap, now, 4 * P);	/* not the new bytes */
	}
	all[0] = a; all[1] = s; all[2] = s2; all[3] = cl;
	vt_scaled_sum(vm, all, 4);
	vmo_test_check(a);
	/* Dropping the root handle first: slices keep it alive. */
	vmo_unref(a);
	vt_fill(s, 0, P, 15);
	vt_expect(s, 0, P, 15);
	vmo_unref(s);
	vmo_unref(s2);
	vmo_unref(cl);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* commit allocates (privately on a clone); decommit reads zero after. */
static void
test_commit_decommit(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 10 * P), *b;
	struct vmo_attr at;

	(void)state;
	assert_int_equal(vmo_commit(a, 100, 2 * P), 0);	/* rounds out: 3 pages */
	assert_int_equal(vm_test_used_pages(vm), 3);
	assert_int_equal(vmo_commit(a, 0, VMO_WHOLE), 0);
	assert_int_equal(vm_test_used_pages(vm), 10);
	assert_int_equal(vmo_commit(a, 11 * P, P), -EINVAL);
	assert_int_equal(vmo_commit(a, 5 * P, UINT64_MAX - P), -EINVAL);
	vt_fill(a, 0, 10 * P, 16);
	assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &b), 0);
	assert_int_equal(vmo_commit(b, 0, 2 * P), 0);
	assert_int_equal(vm_test_used_pages(vm), 12);
	vt_expect(b, 0, 10 * P, 16);
	/* Decommit on a clone: zeros, parent untouched, pages released. */
	assert_int_equal(vmo_decommit(b, P, 3 * P), 0);
	vt_expect(b, P, 3 * P, -1);
	vt_expect(b, 4 * P, 6 * P, 16);
	vt_expect(a, 0, 10 * P, 16);
	assert_int_equal(vmo_get_attr(b, &at), 0);
	assert_int_equal(at.committed, 7 * P);
	/* Decommit on a root frees. */
	vmo_unref(b);
	assert_int_equal(vmo_decommit(a, 0, 5 * P), 0);
	vt_expect(a, 0, 5 * P, -1);
	assert_int_equal(vm_test_used_pages(vm), 5);
	vmo_unref(a);
	vm_destroy(vm);
}

/* zero is byte exact; whole pages are freed or hidden by markers. */
static void
test_zero(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *b;
	unsigned char buf[6 * P], ref[6 * P];

	(void)state;
	vt_fill(a, 0, 6 * P, 17);
	assert_int_equal(vmo_read(a, ref, 0, sizeof(ref)), sizeof(ref));
	assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &b), 0);
	assert_int_equal(vmo_zero(b, 100, 4 * P), 0);
	memset(ref + 100, 0, 4 * P);
	assert_int_equal(vmo_read(b, buf, 0, sizeof(buf)), sizeof(buf));
	assert_memory_equal(buf, ref, sizeof(buf));
	/* b forked the two edge pages only; the three whole pages are markers. */
	assert_int_equal(vmo_blocks_bytes(b), 2 * P);
	assert_int_equal(vmo_zero(a, 10, 20), 0);
	vt_expect(a, 10, 20, -1);
	assert_int_equal(vmo_zero(a, 0, 7 * P), -EINVAL);
	assert_int_equal(vmo_zero(a, 5, 0), 0);
	vmo_test_check(a);
	vmo_unref(a);
	vmo_unref(b);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* Pinned pages block decommit and shrink; pins are counted; clones copy. */
static void
test_pin(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 8 * P), *b;
	struct vmo_attr at;

	(void)state;
	assert_int_equal(vmo_pin(a, 2 * P, 2 * P), 0);
	assert_int_equal(vmo_pin(a, 2 * P, P), 0);
	assert_int_equal(vmo_get_attr(a, &at), 0);
	assert_int_equal(at.pinned, 2 * P);
	assert_int_equal(vmo_decommit(a, 0, VMO_WHOLE), -EBUSY);
	assert_int_equal(vmo_resize(a, P), -EBUSY);
	assert_int_equal(vmo_unpin(a, 0, P), -EINVAL);
	vt_fill(a, 0, 8 * P, 18);
	/* Clone: the pinned pages stay a's, the clone sees a copy. */
	assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &b), 0);
	vmo_test_check(a);
	vt_expect(b, 0, 8 * P, 18);
	vt_fill(a, 2 * P, P, 19);
	vt_expect(b, 0, 8 * P, 18);
	assert_int_equal(vmo_zero(a, 2 * P, P), 0);	/* pinned: zeroed in place */
	vt_expect(a, 2 * P, P, -1);
	assert_int_equal(vmo_get_attr(a, &at), 0);
	assert_int_equal(at.pinned, 2 * P);
	assert_int_equal(vmo_unpin(a, 2 * P, P), 0);
	assert_int_equal(vmo_unpin(a, 2 * P, 2 * P), 0);
	assert_int_equal(vmo_unpin(a, 2 * P, P), -EINVAL);
	assert_int_equal(vmo_resize(a, P), 0);
	vmo_unref(b);
	vmo_unref(a);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* Attribution by Zircon's rules; scaled adds up to the pages in use. */
static void
test_attribution(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *v[4] = { vt_vmo(vm, 0) };
	struct vmo_attr at;

	(void)state;
	vt_fill(v[0], 0, 10 * P, 20);
	assert_int_equal(vmo_get_attr(v[0], &at), 0);
	assert_int_equal(at.committed, 10 * P);
	assert_int_equal(at.private_bytes, 10 * P);
	assert_int_equal(at.scaled, 10 * P);
	assert_int_equal(vmo_clone(v[0], 0, VMO_WHOLE, &v[1]), 0);
	assert_int_equal(vmo_get_attr(v[1], &at), 0);
	assert_int_equal(at.committed, 10 * P);
	assert_int_equal(at.private_bytes, 0);
	assert_int_equal(at.scaled, 5 * P);
	vt_fill(v[1], 0, P, 21);
	assert_int_equal(vmo_get_attr(v[1], &at), 0);
	assert_int_equal(at.committed, 10 * P);
	assert_int_equal(at.private_bytes, P);
	assert_int_equal(at.scaled, P + 9 * P / 2);
	assert_int_equal(vmo_clone(v[1], 0, 4 * P, &v[2]), 0);
	assert_int_equal(vmo_slice(v[0], 0, 2 * P, &v[3]), 0);
	vt_scaled_sum(vm, v, 4);
	assert_int_equal(vmo_get_attr(v[3], &at), 0);
	assert_int_equal(at.committed, 2 * P);
	assert_int_equal(at.private_bytes, 0);
	vmo_unref(v[3]);
	vmo_unref(v[0]);
	v[0] = v[3] = NULL;
	vt_scaled_sum(vm, v, 4);
	vmo_unref(v[1]);
	vmo_unref(v[2]);
	vm_destroy(vm);
}

/* SEEK_DATA / SEEK_HOLE follow committed pages through the chain. */
static void
test_seek(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 20 * P), *b;
	uint64_t r;

	(void)state;
	vt_fill(a, 4 * P, 2 * P, 22);
	assert_int_equal(vmo_seek(a, 0, SEEK_DATA, &r), 0);
	assert_int_equal(r, 4 * P);
	assert_int_equal(vmo_seek(a, 4 * P + 10, SEEK_DATA, &r), 0);
	assert_int_equal(r, 4 * P + 10);
	assert_int_equal(vmo_seek(a, 4 * P, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 6 * P);
	assert_int_equal(vmo_seek(a, 6 * P, SEEK_DATA, &r), -ENXIO);
	assert_int_equal(vmo_seek(a, 20 * P, SEEK_HOLE, &r), -ENXIO);
	assert_int_equal(vmo_seek(a, 19 * P, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 19 * P);
	assert_int_equal(vmo_seek(a, 0, 99, &r), -EINVAL);
	assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &b), 0);
	vt_fill(b, 10 * P, P, 23);
	assert_int_equal(vmo_decommit(b, 4 * P, P), 0);
	assert_int_equal(vmo_seek(b, 0, SEEK_DATA, &r), 0);
	assert_int_equal(r, 5 * P);
	assert_int_equal(vmo_seek(b, 6 * P, SEEK_DATA, &r), 0);
	assert_int_equal(r, 10 * P);
	vmo_unref(b);
	vmo_unref(a);
	vm_destroy(vm);
}

static int
iov_cb(void *ctx, const struct iovec *iov, int cnt)
{
	unsigned char *out = ctx;
	int i;

	for (i = 0; i < cnt; i++) {
		memcpy(out, iov[i].iov_base, iov[i].iov_len);
		out += iov[i].iov_len;
	}
	return cnt;
}

static ssize_t
wiov_cb(void *ctx, const struct iovec *iov, int cnt)
{
	const unsigned char *in = ctx;
	ssize_t n = 0;
	int i;

	for (i = 0; i < cnt; i++) {
		memcpy(iov[i].iov_base, in + n, iov[i].iov_len);
		n += (ssize_t)iov[i].iov_len;
	}
	return n;
}

/*
 * Sharing pages between VMOs of different hierarchies: no page is copied,
 * either side's first write copies, attribution splits a shared page
 * between its places, and the last reference frees it.
 */
static void
test_share_range(void **state)
{
	struct vm *vm = vt_vm(256);
	struct vmo *a = vt_vmo(vm, 0), *b = vt_vmo(vm, 0), *v[2];
	struct vmo_attr at;
	struct vm_stats st;

	(void)state;
	vt_fill(a, 0, 8 * P, 40);
	vt_fill(b, 0, 2 * P, 41);
	assert_int_equal(vmo_share_range(b, P, a, 2 * P, 100), -EINVAL);
	assert_int_equal(vmo_share_range(b, P, a, 8 * P, P), -EINVAL);
	assert_int_equal(vmo_share_range(a, P, a, 2 * P, 2 * P), -EINVAL);
	{	/* past a slice's fixed end: EFBIG, nothing shared */
		struct vmo *sl;

		assert_int_equal(vmo_slice(b, 0, 2 * P, &sl), 0);
		assert_int_equal(vmo_share_range(sl, P, a, 0, 2 * P), -EFBIG);
		assert_int_equal(vmo_share_range(sl, 2 * P, a, 0, P), -EFBIG);
		vmo_unref(sl);
	}
	assert_int_equal(vmo_share_range(b, P, a, 2 * P, 4 * P), 4 * P);
	assert_int_equal(vm_test_used_pages(vm), 8 + 1);	/* b's page 1 freed */
	assert_int_equal(vmo_size(b), 5 * P);
	vt_same(b, P, a, 2 * P, 4 * P);
	vt_expect(b, 0, P, 41);
	v[0] = a; v[1] = b;
	vt_scaled_sum(vm, v, 2);
	assert_int_equal(vmo_get_attr(b, &at), 0);
	assert_int_equal(at.committed, 5 * P);
	assert_int_equal(at.private_bytes, P);
	assert_int_equal(at.scaled, P + 4 * P / 2);
	/* Either side's write copies; the other keeps the old bytes. */
	vm_get_stats(vm, &st);
	vt_fill(a, 2 * P, P, 42);
	vt_fill(b, 2 * P, P, 43);
	vt_expect(a, 2 * P, P, 42);
	vt_expect(b, 2 * P, P, 43);
	vt_same(b, 3 * P, a, 4 * P, 2 * P);
	/* Pinned pages: in dst, EBUSY; in src, copied rather than shared. */
	assert_int_equal(vmo_pin(b, 0, P), 0);
	assert_int_equal(vmo_share_range(b, 0, a, 0, P), -EBUSY);
	assert_int_equal(vmo_pin(a, 7 * P, P), 0);
	assert_int_equal(vmo_share_range(b, 6 * P, a, 7 * P, P), P);
	vt_same(b, 6 * P, a, 7 * P, P);
	assert_int_equal(vmo_unpin(b, 0, P), 0);
	assert_int_equal(vmo_unpin(a, 7 * P, P), 0);
	vmo_test_check(a);
	vmo_test_check(b);
	vt_scaled_sum(vm, v, 2);
	/* The source goes first: b keeps every byte. */
	{
		static unsigned char want[7 * P];
		assert_int_equal(vmo_read(b, want, 0, 7 * P), 7 * P);
		vmo_unref(a);
		v[0] = NULL;
		vt_scaled_sum(vm, v, 2);
		check_unchanged(b, want, 7 * P);
	}
	vmo_unref(b);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* Fill only the first 6000 bytes of what vmo_write_iov offers. */
static ssize_t
short_cb(void *ctx, const struct iovec *iov, int cnt)
{
	size_t want = 6000, done = 0;
	int i;

	(void)ctx;
	for (i = 0; i < cnt && done < want; i++) {
		size_t n = iov[i].iov_len < want - done ? iov[i].iov_len : want - done;

		memset(iov[i].iov_base, 0xee, n);
		done += n;
	}
	return (ssize_t)done;
}

/*
 * A callback that fills less than offered: the size covers only what was
 * filled, and the fresh pages it left read zero (they were not zeroed up
 * front), while a page that existed keeps its bytes.
 */
static void
test_write_iov_short(void **state)
{
	struct vm *vm = vt_vm(64);
	struct vmo *a = vt_vmo(vm, 0);
	unsigned char b[4 * P];

	(void)state;
	/* Dirty the arena so fresh pages are not zero by luck. */
	vt_fill(a, 0, 16 * P, 30);
	assert_int_equal(vmo_resize(a, 0), 0);
	vt_fill(a, 3 * P, P, 31);		/* an existing page at 3P */
	assert_int_equal(vmo_resize(a, 0), 0);
	vt_fill(a, 3 * P, P, 31);
	assert_int_equal(vmo_write_iov(a, 0, 4 * P, short_cb, NULL), 6000);
	assert_int_equal(vmo_size(a), 4 * P);	/* the page at 3P made it 4P */
	assert_int_equal(vmo_read(a, b, 0, 4 * P), 4 * P);
	for (size_t i = 0; i < 6000; i++)
		assert_int_equal(b[i], 0xee);
	for (size_t i = 6000; i < 3 * P; i++)
		if (b[i] != 0)
			fail_msg("byte %zu not zero: %u", i, b[i]);
	vt_expect(a, 3 * P, P, 31);
	vmo_unref(a);
	vm_destroy(vm);
}

/* The zero-copy paths give the same bytes as vmo_read/vmo_write. */
static void
test_iov(void **state)
{
	struct vm *vm = vt_vm(1024);
	struct vmo *a = vt_vmo(vm, 0);
	static unsigned char in[300 * P], out[300 * P], ref[300 * P];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 13 + 7);
	assert_int_equal(vmo_write_iov(a, 50 * P + 3, 200 * P, wiov_cb, in), 200 * P);
	assert_int_equal(vmo_size(a), 250 * P + 3);
	assert_int_equal(vmo_read(a, ref, 0, sizeof(ref)), 250 * P + 3);
	assert_memory_equal(ref + 50 * P + 3, in, 200 * P);
	memset(out, 0xaa, sizeof(out));
	assert_true(vmo_read_iov(a, 0, sizeof(out), iov_cb, out) > 0);
	assert_memory_equal(out, ref, 250 * P + 3);
	assert_int_equal(vmo_read_iov(a, 1ull << 60, 10, iov_cb, out), 0);
	vmo_unref(a);
	vm_destroy(vm);
}

/* A read of a page untouched since the root, 1000 levels down, is right. */
static void
test_deep_chain(void **state)
{
	enum { DEPTH = 1000 };
	struct vm *vm = vt_vm(4096);
	struct vmo **c = calloc(DEPTH + 1, sizeof(*c));
	int i;

	(void)state;
	c[0] = vt_vmo(vm, 0);
	vt_fill(c[0], 0, 2048 * P, 24);
	for (i = 1; i <= DEPTH; i++) {
		assert_int_equal(vmo_clone(c[i - 1], 0, VMO_WHOLE, &c[i]), 0);
		vt_fill(c[i], (uint64_t)(i % 1024) * P, 10, 100 + i);
	}
	assert_true(vmo_test_depth(c[DEPTH]) > DEPTH / 2);
	vt_expect(c[DEPTH], 1500 * P, 100 * P, 24);
	vt_expect(c[DEPTH], (DEPTH % 1024) * P, 10, 100 + DEPTH);
	/* Destroy in a scrambled order; the survivors keep their bytes. */
	for (i = 1; i <= DEPTH; i += 2) {
		vmo_unref(c[i]);
		c[i] = NULL;
	}
	vmo_test_check(c[DEPTH]);
	vt_expect(c[DEPTH], 1500 * P, 100 * P, 24);
	vt_expect(c[DEPTH - 2], ((DEPTH - 2) % 1024) * P, 10, 100 + DEPTH - 2);
	vt_scaled_sum(vm, c, DEPTH + 1);
	for (i = 0; i <= DEPTH; i += 2)
		vmo_unref(c[i]);
	assert_int_equal(vm_test_used_pages(vm), 0);
	free(c);
	vm_destroy(vm);
}

/* Running out of pages: the write keeps what fit, and ENOSPC says so. */
static void
test_enospc(void **state)
{
	struct vm *vm = vt_vm(16);
	struct vmo *a = vt_vmo(vm, 0), *b;
	static unsigned char buf[32 * P];

	(void)state;
	/* Not zero: all-zero pages would be reclaimed as zero markers. */
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(vmo_write(a, buf, 0, sizeof(buf)), 16 * P);
	assert_int_equal(vmo_write(a, buf, 16 * P, P), -ENOSPC);
	assert_int_equal(vmo_size(a), 16 * P);
	assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &b), 0);
	assert_int_equal(vmo_write(b, buf, 0, 1), -ENOSPC);
	assert_int_equal(vmo_commit(b, 0, P), -ENOSPC);
	vmo_unref(a);
	/* Now b is the only viewer: its writes move pages, no allocation. */
	assert_int_equal(vmo_write(b, buf, 0, 16 * P), 16 * P);
	vmo_unref(b);
	vm_destroy(vm);
}

/*
 * Every allocation failing in turn (pages and heap) leaves each operation
 * either done or without any visible change.
 */
static void
check_unchanged(struct vmo *v, const unsigned char *ref, size_t len)
{
	static unsigned char now[64 * P];

	assert_int_equal(vmo_size(v), len);
	assert_int_equal(vmo_read(v, now, 0, len), (ssize_t)len);
	assert_memory_equal(now, ref, len);
	vmo_test_check(v);
}

static void
test_fault_each(void **state)
{
	static unsigned char ref[64 * P], buf[64 * P];
	struct vm *vm = vt_vm(512);
	struct vmo *a, *b, *c;
	uint64_t n, used, failed;
	int op, err;

	(void)state;
	for (op = 0; op < 7; op++) {
		a = vt_vmo(vm, 0);
		vt_fill(a, 0, 16 * P, 25);
		assert_int_equal(vmo_pin(a, 0, P), 0);
		assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &b), 0);
		assert_int_equal(vmo_read(b, ref, 0, 16 * P), 16 * P);
		memset(buf, 0x5a, sizeof(buf));
		for (n = 1;; n++) {
			used = vm_test_used_pages(vm);
			c = NULL;
			fault_set(n, 0);
			switch (op) {
			case 0: err = (int)vmo_write(b, buf, 0, 8 * P); break;
			case 1: err = vmo_commit(b, 0, VMO_WHOLE); break;
			case 2: err = vmo_clone(b, P, 8 * P, &c); break;
			case 3: err = vmo_clone(a, 0, VMO_WHOLE, &c); break;
			case 4: err = vmo_zero(b, 100, 8 * P); break;
			case 5: err = vmo_pin(b, 0, 4 * P); break;
			default: err = vmo_slice(b, 0, 4 * P, &c); break;
			}
			failed = fault_failures();	/* fault_clear resets it */
			fault_clear();
			if (failed == 0 || err >= 0)
				break;
			/* Failed: nothing visible changed. */
			assert_true(err == -ENOSPC || err == -ENOMEM);
			check_unchanged(b, ref, 16 * P);
			if (op != 1 && op != 4)
				assert_int_equal(vm_test_used_pages(vm), used);
		}
		if (err > 0 || err == 0) {
			if (c != NULL)
				vmo_unref(c);
		} else if (err < 0 && c != NULL) {
			vmo_unref(c);
		}
		vmo_test_check(a);
		vmo_unref(b);
		vmo_unref(a);
		assert_int_equal(vm_test_used_pages(vm), 0);
	}
	vm_destroy(vm);
}

/*
 * Removing a clone merges the hidden level into the VMO's leaf; when the
 * leaf sits at offset 0 and holds fewer slots its slots move *up*
 * (cow_absorb).  Invariant: a page-list node allocation failing in that
 * merge loses no byte and no pin of the surviving VMO.  The leaf here has
 * pages past its window (the VMO grew after the clone), in two page-list
 * nodes, and one of them pinned.  Before the fix, absorb moved them up
 * one by one, stopped at the failed node allocation, and the fallback
 * merge freed the ones already moved (past the window: "nobody's"):
 * page 100 read zero, and freeing the pinned one underflowed npinned.
 */
static void
test_fault_absorb(void **state)
{
	struct vm *vm = vt_vm(512);
	struct vmo *a, *b;
	uint64_t n;

	(void)state;
	for (n = 1; n < 16; n++) {
		a = vt_vmo(vm, 0);
		vt_fill(a, 0, 64 * P, 31);
		assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &b), 0);
		vt_fill(a, 100 * P, P, 32);		/* past the window */
		vt_fill(a, 200 * P, P, 33);		/* another node */
		vt_fill(a, 300 * P, P, 34);		/* and a third */
		assert_int_equal(vmo_pin(a, 300 * P, P), 0);
		fault_set_kind(FAULT_HEAP);
		fault_set(n, 0);
		vmo_unref(b);				/* merge, maybe failing */
		fault_clear();
		fault_set_kind(FAULT_ANY);
		vt_expect(a, 0, 64 * P, 31);
		vt_expect(a, 64 * P, 36 * P, -1);
		vt_expect(a, 100 * P, P, 32);
		vt_expect(a, 200 * P, P, 33);
		vt_expect(a, 300 * P, P, 34);
		vmo_test_check(a);
		assert_int_equal(vmo_unpin(a, 300 * P, P), 0);
		vmo_unref(a);
		assert_int_equal(vm_test_used_pages(vm), 0);
	}
	vm_destroy(vm);
}

/*
 * At-least-on-write clones (vmo_clone_as VMO_CLONE_AOLW).  Invariant
 * guarded: the clone reads its parent live until it owns a page, never
 * after; a snapshot of the parent leaves it live; a shrink of the parent
 * cuts its view for good; when the parent dies first (pinned pages and
 * all) the clone keeps what it saw; the trees stay valid and attribution
 * adds up at every step (vt_check_vmos).
 */
static void
test_clone_aolw(void **state)
{
	struct vm *vm = vt_vm(512);
	struct vmo *a, *c, *s, *s2 = NULL, *all[4];

	(void)state;
	a = vt_vmo(vm, 0);
	vt_fill(a, 0, 4 * P, 1);
	assert_int_equal(vmo_pin(a, 3 * P, P), 0);
	assert_int_equal(vmo_clone_as(a, VMO_CLONE_AOLW, 0, VMO_WHOLE, &c), 0);
	assert_int_equal(vmo_clone_kind(c), VMO_CLONE_AOLW);
	assert_true(vmo_reads_live(c) && !vmo_reads_live(a));
	vt_expect(c, 0, 4 * P, 1);
	vt_fill(a, 0, P, 2);			/* the parent writes: seen */
	vt_expect(c, 0, P, 2);
	vt_fill(c, P, P, 3);			/* the clone writes, then the parent */
	vt_fill(a, P, P, 4);
	vt_expect(c, P, P, 3);
	vt_expect(a, P, P, 4);
	all[0] = a;
	all[1] = c;
	vt_check_vmos(vm, all, 2);
	/* A snapshot of the parent: frozen; the aolw clone stays live. */
	assert_int_equal(vmo_clone(a, 0, VMO_WHOLE, &s), 0);
	vt_fill(a, 2 * P, P, 5);
	vt_expect(c, 2 * P, P, 5);
	vt_expect(s, 2 * P, P, 1);
	vt_expect(s, 0, P, 2);
	all[2] = s;
	vt_check_vmos(vm, all, 3);
	/* No snapshot of what reads a live VMO. */
	assert_int_equal(vmo_clone(c, 0, VMO_WHOLE, &s2), -EOPNOTSUPP);
	assert_int_equal(vmo_clone_as(c, VMO_CLONE_MODIFIED, 0, VMO_WHOLE, &s2), -EOPNOTSUPP);
	/* A shrink cuts the clone's view: growing again shows it zero. */
	assert_int_equal(vmo_unpin(a, 3 * P, P), 0);
	assert_int_equal(vmo_resize(a, P), 0);
	assert_int_equal(vmo_resize(a, 4 * P), 0);
	vt_fill(a, 2 * P, P, 6);
	vt_expect(c, 2 * P, 2 * P, -1);
	vt_expect(c, 0, P, 2);
	vt_expect(c, P, P, 3);
	vt_check_vmos(vm, all, 3);
	/* The parent dies first, pinned: the clone keeps what it saw. */
	assert_int_equal(vmo_pin(a, 0, P), 0);
	vmo_unref(a);
	vt_expect(c, 0, P, 2);
	vt_expect(c, P, P, 3);
	assert_false(vmo_reads_live(c));
	assert_int_equal(vmo_clone(c, 0, VMO_WHOLE, &s2), 0);
	vt_fill(c, 0, P, 7);
	vt_expect(s2, 0, P, 2);
	all[0] = s2;
	vt_check_vmos(vm, all, 3);
	vmo_unref(c);
	vmo_unref(s);
	vt_expect(s2, 0, P, 2);
	vt_expect(s2, P, P, 3);
	vmo_test_check(s2);
	vmo_unref(s2);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

/* An aolw clone that fails to allocate (its node, its partial last page)
 * changes nothing; an aolw clone of an aolw clone of a slice works. */
static void
test_clone_aolw_fault(void **state)
{
	static unsigned char ref[8 * P];
	struct vm *vm = vt_vm(512);
	struct vmo *a, *sl, *c = NULL, *d = NULL;
	uint64_t n, used;
	int err;

	(void)state;
	a = vt_vmo(vm, 0);
	vt_fill(a, 0, 8 * P, 8);
	assert_int_equal(vmo_read(a, ref, 0, 8 * P), 8 * P);
	for (n = 1;; n++) {
		uint64_t failed;

		used = vm_test_used_pages(vm);
		fault_set(n, 0);
		err = vmo_clone_as(a, VMO_CLONE_AOLW, P, 2 * P + 100, &c);
		failed = fault_failures();	/* fault_clear resets it */
		fault_clear();
		if (failed == 0 || err == 0)
			break;
		assert_true(err == -ENOSPC || err == -ENOMEM);
		assert_int_equal(vm_test_used_pages(vm), used);
		check_unchanged(a, ref, 8 * P);
	}
	assert_int_equal(err, 0);
	assert_true(n > 2);			/* the node, the last page at least */
	assert_int_equal(vmo_size(c), 2 * P + 100);
	/* Seen but in its partial last page, its own since creation. */
	vt_fill(a, P, 3 * P, 9);
	vt_same(c, 0, a, P, 2 * P);
	{
		unsigned char b[P];

		assert_int_equal(vmo_read(c, b, 2 * P, 100), 100);
		assert_memory_equal(b, ref + 3 * P, 100);

		assert_int_equal(vmo_resize(c, 3 * P), 0);
		assert_int_equal(vmo_read(c, b, 2 * P + 100, P - 100), P - 100);
		for (n = 0; n < P - 100; n++)
			assert_int_equal(b[n], 0);
	}
	assert_int_equal(vmo_slice(a, 4 * P, 4 * P, &sl), 0);
	assert_int_equal(vmo_clone_as(sl, VMO_CLONE_AOLW, 0, VMO_WHOLE, &d), 0);
	vmo_unref(c);
	assert_int_equal(vmo_clone_as(d, VMO_CLONE_AOLW, P, P, &c), 0);
	vt_fill(sl, P, P, 10);			/* through the slice: both see it */
	{
		unsigned char x[P], y[P];

		assert_int_equal(vmo_read(c, x, 0, P), P);
		assert_int_equal(vmo_read(a, y, 5 * P, P), P);
		assert_memory_equal(x, y, P);
		assert_int_equal(vmo_read(d, x, P, P), P);
		assert_memory_equal(x, y, P);
	}
	vmo_unref(sl);
	vmo_unref(a);
	vmo_unref(d);
	vmo_test_check(c);
	vmo_unref(c);
	assert_int_equal(vm_test_used_pages(vm), 0);
	vm_destroy(vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rw_grow),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_fixed_size),
		cmocka_unit_test(test_clone_snapshot),
		cmocka_unit_test(test_clone_parent_dies),
		cmocka_unit_test(test_clone_range),
		cmocka_unit_test(test_clone_attach_high),
		cmocka_unit_test(test_slice),
		cmocka_unit_test(test_commit_decommit),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_attribution),
		cmocka_unit_test(test_seek),
		cmocka_unit_test(test_iov),
		cmocka_unit_test(test_write_iov_short),
		cmocka_unit_test(test_share_range),
		cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_fault_each),
		cmocka_unit_test(test_fault_absorb),
		cmocka_unit_test(test_clone_aolw),
		cmocka_unit_test(test_clone_aolw_fault),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
