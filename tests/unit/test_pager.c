/*
 * test_pager.c - pager-backed VMOs (vm/pager.h) over an in-memory store:
 * lazy page-in, dirty tracking and writeback, true snapshots of clones
 * (the store changes under them and they do not see it), shrink and
 * detach keeping what clones see, zeroing written through, store errors.
 */
#include <errno.h>
#include <unistd.h>

#include "vmtest.h"
#include "memstore.h"

#define SCAP (1024 * P)

static void
expect_store(struct vmo *v, uint64_t off, size_t len, const unsigned char *want)
{
	unsigned char *got = malloc(len);

	assert_int_equal(vmo_read(v, got, off, len), (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(got);
}

/* Nothing is read until touched; reads show the store's bytes. */
static void
test_lazy(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 10 * P + 100, 1);
	struct vmo *v;
	struct vmo_attr a;
	uint64_t r;

	(void)state;
	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v), 0);
	assert_int_equal(vmo_kind(v), VMO_PAGER);
	assert_int_equal(vmo_size(v), 10 * P + 100);
	assert_int_equal(vmo_get_attr(v, &a), 0);
	assert_int_equal(a.committed, 0);
	assert_int_equal(s->reads, 0);
	/* Unread pages are data for SEEK_DATA. */
	assert_int_equal(vmo_seek(v, 0, SEEK_DATA, &r), 0);
	assert_int_equal(r, 0);
	assert_int_equal(vmo_seek(v, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 10 * P + 100);
	expect_store(v, 2 * P, 2 * P, s->b + 2 * P);
	assert_int_equal(s->reads, 2);
	assert_int_equal(vmo_get_attr(v, &a), 0);
	assert_int_equal(a.committed, 2 * P);
	expect_store(v, 0, 10 * P + 100, s->b);
	assert_int_equal(s->reads, 11);
	vmo_unref(v);
	assert_int_equal(vm_test_used_pages(vm), 0);
	memstore_free(s);
	vm_destroy(vm);
}

/* Writes are dirty until written back; size changes reach the store. */
static void
test_writeback(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 8 * P, 2);
	unsigned char buf[100];
	struct vmo *v;

	(void)state;
	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v), 0);
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(vmo_write(v, buf, 3 * P + 10, sizeof(buf)), sizeof(buf));
	assert_true(vmo_dirty_pages(v) > 0);
	assert_int_equal(s->reads, 1);		/* partial write: paged in */
	assert_int_not_equal(s->b[3 * P + 10], 0xab);
	assert_int_equal(vmo_writeback(v), 0);
	assert_int_equal(vmo_dirty_pages(v), 0);
	assert_int_equal(s->b[3 * P + 10], 0xab);
	assert_int_equal(s->writes, 1);
	assert_int_equal(s->syncs, 1);
	/* Nothing dirty: nothing written. */
	assert_int_equal(vmo_writeback(v), 0);
	assert_int_equal(s->writes, 1);
	/* Grow by writing, shrink by resize. */
	assert_int_equal(vmo_write(v, buf, 12 * P, 10), 10);
	assert_int_equal(vmo_writeback(v), 0);
	assert_int_equal(s->size, 12 * P + 10);
	assert_int_equal(s->b[12 * P + 9], 0xab);
	assert_int_equal(vmo_resize(v, 5 * P + 1), 0);
	assert_int_equal(s->size, 5 * P + 1);
	/* A failed store write keeps the page dirty; the next one lands. */
	assert_int_equal(vmo_write(v, buf, 0, 10), 10);
	s->fail_write = 1;
	assert_int_equal(vmo_writeback(v), -EIO);
	assert_true(vmo_dirty_pages(v) > 0);
	assert_int_equal(vmo_writeback(v), 0);
	assert_int_equal(s->b[0], 0xab);
	/* A failed store read fails the read. */
	s->fail_read = 1;
	assert_int_equal(vmo_read(v, buf, 4 * P, 10), -EIO);
	assert_int_equal(vmo_read(v, buf, 4 * P, 10), 10);
	/* decommit: zeros, in the store too. */
	assert_int_equal(vmo_decommit(v, P, P), 0);
	vt_expect(v, P, P, -1);
	assert_int_equal(vmo_writeback(v), 0);
	for (int i = 0; i < (int)P; i++)
		assert_int_equal(s->b[P + i], 0);
	vmo_unref(v);
	memstore_free(s);
	vm_destroy(vm);
}

/*
 * A clone is a true snapshot: the parent writes pages the clone never
 * read, writes them back, shrinks the store; the clone still reads the
 * bytes it had when taken.
 */
static void
test_snapshot(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 16 * P, 3);
	static unsigned char orig[16 * P];
	unsigned char buf[P];
	struct vmo *v, *c, *c2;

	(void)state;
	memcpy(orig, s->b, sizeof(orig));
	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v), 0);
	expect_store(v, 0, P, orig);			/* one page read before */
	assert_int_equal(vmo_clone(v, 0, VMO_WHOLE, &c), 0);
	assert_int_equal(vmo_clone(v, 4 * P, 4 * P, &c2), 0);
	memset(buf, 0x11, sizeof(buf));
	for (int i = 0; i < 16; i += 2)
		assert_int_equal(vmo_write(v, buf, (uint64_t)i * P, P), P);
	assert_int_equal(vmo_writeback(v), 0);
	assert_int_equal(s->b[2 * P], 0x11);
	expect_store(c, 0, 16 * P, orig);
	expect_store(c2, 0, 4 * P, orig + 4 * P);
	/* Shrink the parent: the store loses the tail, the clones do not. */
	assert_int_equal(vmo_resize(v, 3 * P), 0);
	assert_int_equal(s->size, 3 * P);
	expect_store(c, 0, 16 * P, orig);
	expect_store(c2, 0, 4 * P, orig + 4 * P);
	vmo_test_check(v);
	vmo_unref(c2);
	vmo_unref(c);
	/* Merged back: the parent still pages in from the store. */
	assert_int_equal(vmo_test_depth(v), 1);
	assert_int_equal(vmo_resize(v, 8 * P), 0);
	vt_expect(v, 3 * P, 5 * P, -1);
	vmo_unref(v);
	assert_int_equal(vm_test_used_pages(vm), 0);
	memstore_free(s);
	vm_destroy(vm);
}

/* Detach (the file is deleted): clones keep every byte they could see. */
static void
test_detach(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 8 * P, 4);
	static unsigned char orig[8 * P];
	struct vmo *v, *c, *v2, *c2;

	(void)state;
	memcpy(orig, s->b, sizeof(orig));
	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v), 0);
	assert_int_equal(vmo_clone(v, 0, VMO_WHOLE, &c), 0);
	assert_int_equal(vmo_pager_detach(v), 0);
	memset(s->b, 0xee, s->cap);		/* the store is gone */
	expect_store(c, 0, 8 * P, orig);
	expect_store(v, 0, 8 * P, orig);		/* an open fd keeps working */
	assert_int_equal(vmo_writeback(v), 0);		/* nothing to write to */
	vmo_unref(v);
	vmo_unref(c);
	/* The VMO going away without a detach does the same. */
	memcpy(s->b, orig, sizeof(orig));
	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v2), 0);
	assert_int_equal(vmo_clone(v2, 0, VMO_WHOLE, &c2), 0);
	vmo_unref(v2);
	memset(s->b, 0xee, s->cap);
	expect_store(c2, 0, 8 * P, orig);
	vmo_unref(c2);
	assert_int_equal(vm_test_used_pages(vm), 0);
	memstore_free(s);
	vm_destroy(vm);
}

/*
 * A store four times the memory limit: everything can be read and written,
 * clean pages are evicted (dirty ones written back first), resident pages
 * never exceed the limit, hints decide who goes first, and a clone's
 * snapshot survives the pressure.
 */
static void
test_reclaim(void **state)
{
	enum { LIM = 256, NP = 1024 };
	struct vm *vm = vt_vm(LIM);
	struct memstore *s = memstore_pattern(SCAP, NP * P, 5);
	static unsigned char orig[NP * P], buf[16 * P];
	struct vm_stats st;
	struct vmo *v, *c;
	uint64_t i, reads;

	(void)state;
	memcpy(orig, s->b, sizeof(orig));
	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v), 0);
	/* Read all of it, 64 KiB at a time. */
	for (i = 0; i < NP; i += 16)
		expect_store(v, i * P, 16 * P, orig + i * P);
	vm_get_stats(vm, &st);
	assert_true(st.evicted > 0);
	assert_true(st.used_pages <= LIM);
	/* Write all of it: dirty pages are written back to make room. */
	memset(buf, 0x5c, sizeof(buf));
	for (i = 0; i < NP; i += 16)
		assert_int_equal(vmo_write(v, buf, i * P, 16 * P), 16 * P);
	assert_int_equal(vmo_writeback(v), 0);
	for (i = 0; i < NP * P; i++)
		if (s->b[i] != 0x5c)
			fail_msg("store byte %llu: %u", (unsigned long long)i, s->b[i]);
	vm_get_stats(vm, &st);
	assert_true(st.written_back > 0);
	/* alwaysneed pages stay: with the store failing, they still read. */
	assert_int_equal(vmo_hint(v, 0, 16 * P, VMO_HINT_ALWAYSNEED), 0);
	for (i = 16; i < NP; i += 16)
		assert_int_equal(vmo_read(v, buf, i * P, 16 * P), 16 * P);
	reads = (uint64_t)s->reads;
	assert_int_equal(vmo_read(v, buf, 0, 16 * P), 16 * P);
	assert_int_equal((uint64_t)s->reads, reads);
	/* dontneed pages go first: the next pressure takes them. */
	assert_int_equal(vmo_read(v, buf, 100 * P, 16 * P), 16 * P);
	assert_int_equal(vmo_hint(v, 100 * P, 16 * P, VMO_HINT_DONTNEED), 0);
	assert_int_equal(vmo_hint(v, 0, 16 * P, VMO_HINT_DONTNEED), 0);
	for (i = 500; i < 564; i += 16)				/* pressure: 64 pages */
		assert_int_equal(vmo_read(v, buf, i * P, 16 * P), 16 * P);
	vm_get_stats(vm, &st);
	reads = (uint64_t)s->reads;
	assert_int_equal(vmo_read(v, buf, 100 * P, P), P);
	assert_int_equal(vmo_read(v, buf, 0, P), P);
	assert_int_equal((uint64_t)s->reads, reads + 2);		/* gone, read again */
	assert_int_equal(vmo_hint(v, NP * P, P, VMO_HINT_DONTNEED), -EINVAL);
	/* A clone stays a true snapshot under pressure. */
	memcpy(orig, s->b, sizeof(orig));
	assert_int_equal(vmo_clone(v, 0, VMO_WHOLE, &c), 0);
	memset(buf, 0x77, sizeof(buf));
	for (i = 0; i < 64; i += 16)		/* overwrite a part: old bytes */
		assert_int_equal(vmo_write(v, buf, i * P, 16 * P), 16 * P);
	assert_int_equal(vmo_writeback(v), 0);	/* now only in memory */
	for (i = 64; i < NP; i += 16)		/* pressure from the rest */
		assert_int_equal(vmo_read(v, buf, i * P, 16 * P), 16 * P);
	for (i = 0; i < NP; i += 16)
		expect_store(c, i * P, 16 * P, orig + i * P);
	vm_get_stats(vm, &st);
	assert_true(st.used_pages <= LIM);
	vmo_unref(c);
	vmo_unref(v);
	/* An empty store grown by writes under pressure: evicted dirty pages
	 * are in the store, and read back from it. */
	s->size = 0;
	assert_int_equal(vmo_create_paged(vm, 0, &memstore_ops_v, s, &v), 0);
	for (i = 0; i < NP; i += 16) {
		memset(buf, (int)(i / 16 + 1), sizeof(buf));
		assert_int_equal(vmo_write(v, buf, i * P, 16 * P), 16 * P);
	}
	for (i = 0; i < NP; i += 16) {
		assert_int_equal(vmo_read(v, buf, i * P, 16 * P), 16 * P);
		for (uint64_t b = 0; b < 16 * P; b += 997)
			if (buf[b] != (unsigned char)(i / 16 + 1))
				fail_msg("page %llu byte %llu: %u", (unsigned long long)i,
				    (unsigned long long)b, buf[b]);
	}
	vmo_unref(v);
	assert_int_equal(vm_test_used_pages(vm), 0);
	memstore_free(s);
	vm_destroy(vm);
}

/*
 * Pages of the pager VMO below pnode (its own leaf after a clone, hidden
 * nodes between) are evicted too: they become PLIST_STORE slots that read
 * the store.  A clone plus an overwrite of the parent under a tight limit
 * fits (it used to fail with ENOSPC), the clone keeps its snapshot, a
 * clone made after the eviction shares the evicted slots and reads them
 * from the store, and a write of the parent after that still leaves that
 * clone its bytes.
 */
static void
test_clone_evict(void **state)
{
	enum { LIM = 256, NP = 512, OW = 150 };
	struct vm *vm = vt_vm(LIM);
	struct memstore *s = memstore_pattern(SCAP, NP * P, 6);
	static unsigned char orig[NP * P], now[NP * P], buf[16 * P];
	struct vm_stats st0, st;
	struct vmo *v, *c, *c2;
	uint64_t i, reads;

	(void)state;
	memcpy(orig, s->b, sizeof(orig));
	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v), 0);
	for (i = 0; i < NP; i += 16)		/* fill memory with clean pages */
		expect_store(v, i * P, 16 * P, orig + i * P);
	assert_int_equal(vmo_clone(v, 0, VMO_WHOLE, &c), 0);
	vm_get_stats(vm, &st0);
	/* Overwrite OW pages of P, several times: the old bytes of each stay
	 * for c (OW pages), P's new ones are written back and evicted. */
	memcpy(now, orig, sizeof(now));
	for (int round = 0; round < 4; round++) {
		for (i = 0; i < OW; i++) {
			memset(buf, 0x30 + round, P);
			buf[0] = (unsigned char)i;
			assert_int_equal(vmo_write(v, buf, i * P, P), P);
			memcpy(now + i * P, buf, P);
		}
		for (i = 160; i < NP; i += 16)	/* pressure */
			expect_store(v, i * P, 16 * P, now + i * P);
		vmo_test_check(v);
	}
	vm_get_stats(vm, &st);
	assert_true(st.evicted > st0.evicted);
	assert_true(st.written_back > st0.written_back);
	assert_true(st.used_pages <= LIM);
	for (i = 0; i < NP; i += 16) {
		expect_store(c, i * P, 16 * P, orig + i * P);
		expect_store(v, i * P, 16 * P, now + i * P);
	}
	/* Evict everything P sees; a new clone shares the evicted slots. */
	assert_int_equal(vmo_writeback(v), 0);
	assert_memory_equal(s->b, now, NP * P);
	vm_test_reclaim(vm, LIM);
	vmo_test_check(v);
	assert_int_equal(vmo_clone(v, 0, 64 * P, &c2), 0);
	reads = (uint64_t)s->reads;
	expect_store(c2, 0, 16 * P, now);		/* read from the store */
	assert_true((uint64_t)s->reads > reads);
	/* P writes what c2 has not read yet: c2 still reads the old bytes. */
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(vmo_write(v, buf, 32 * P, 16 * P), 16 * P);
	assert_int_equal(vmo_writeback(v), 0);
	expect_store(c2, 32 * P, 16 * P, now + 32 * P);
	expect_store(v, 32 * P, 16 * P, buf);
	/* Shrink and detach keep what the clones see (c2's 64 pages: all of
	 * c's would not fit in memory without compress). */
	vmo_unref(c);
	assert_int_equal(vmo_resize(v, 8 * P), 0);
	vm_test_reclaim(vm, LIM);
	expect_store(c2, 0, 64 * P, now);
	assert_int_equal(vmo_pager_detach(v), 0);
	memset(s->b, 0xee, s->cap);
	expect_store(c2, 0, 64 * P, now);
	vmo_test_check(v);
	vmo_unref(c2);
	vmo_unref(v);
	assert_int_equal(vm_test_used_pages(vm), 0);
	memstore_free(s);
	vm_destroy(vm);
}

/* copy_file_range's sharing is refused on a pager-backed side (-EXDEV:
 * the caller copies), so nothing bypasses paging in and dirty tracking. */
static void
test_no_share(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 8 * P, 7);
	struct vmo *v, *a;

	(void)state;
	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v), 0);
	assert_int_equal(vmo_create(vm, 8 * P, 0, &a), 0);
	assert_int_equal(vmo_share_range(a, 0, v, 0, 4 * P), -EXDEV);
	assert_int_equal(vmo_share_range(v, 0, a, 0, 4 * P), -EXDEV);
	vmo_unref(a);
	vmo_unref(v);
	memstore_free(s);
	vm_destroy(vm);
}

/*
 * Reclaim meets a store that fails the write of a dirty page: the page
 * stays, still dirty, with its bytes; the next writeback puts it in the
 * store, and then it can go.
 */
static void
test_evict_write_error(void **state)
{
	struct vm *vm = vt_vm(256);
	struct memstore *s = memstore_pattern(SCAP, 4 * P, 8);
	unsigned char buf[P];
	struct vm_stats st0, st;
	struct vmo *v;

	(void)state;
	assert_int_equal(vmo_create_paged(vm, s->size, &memstore_ops_v, s, &v), 0);
	memset(buf, 0x3c, P);
	assert_int_equal(vmo_write(v, buf, P, P), P);
	assert_int_equal(vmo_dirty_pages(v), 1);
	vm_get_stats(vm, &st0);
	s->fail_write = 1000;		/* every write, for now */
	for (int i = 0; i < 4; i++)	/* touched pages need a second look */
		vm_test_reclaim(vm, 16);
	vm_get_stats(vm, &st);
	assert_int_equal(st.written_back, st0.written_back);
	assert_int_not_equal(s->b[P], 0x3c);		/* not in the store */
	expect_store(v, P, P, buf);			/* still in memory */
	assert_true(s->fail_write < 1000);		/* it was tried */
	vmo_test_check(v);				/* still dirty, queued so */
	s->fail_write = 0;
	assert_int_equal(vmo_writeback(v), 0);
	assert_memory_equal(s->b + P, buf, P);
	for (int i = 0; i < 2; i++)	/* touched again by the read */
		vm_test_reclaim(vm, 16);
	vm_get_stats(vm, &st);
	assert_true(st.evicted > st0.evicted);
	expect_store(v, P, P, buf);			/* paged in again */
	vmo_unref(v);
	assert_int_equal(vm_test_used_pages(vm), 0);
	memstore_free(s);
	vm_destroy(vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy),
		cmocka_unit_test(test_writeback),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_detach),
		cmocka_unit_test(test_reclaim),
		cmocka_unit_test(test_clone_evict),
		cmocka_unit_test(test_no_share),
		cmocka_unit_test(test_evict_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
