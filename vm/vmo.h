/*
 * vmo.h - libvm's public interface: a VM (one per mount) and its VMOs.
 *
 * This is all fs/ and tools see of libvm.  A VMO is a resizable array of
 * bytes backed by pages from the VM's PMM, with copy-on-write snapshot
 * clones (hidden-node trees, as Zircon's VmCowPages), slices (windows
 * sharing a VMO's pages) and references (second handles onto all of a
 * VMO).  Contiguous VMOs hold one run of arena pages and lend what they
 * decommit (vm/contig.c).  See vm/cow.c and docs/design.md.
 *
 * Every function returns 0 (or a byte count) on success and a negative
 * errno on failure; each documents its errnos.  Common ones:
 *   -EINVAL  bad offset/length/flags, or a range that overflows;
 *   -ENOSPC  the VM's page limit is reached (as tmpfs: not ENOMEM);
 *   -ENOMEM  a heap allocation for metadata failed;
 *   -EBUSY   pinned pages (or a slice) are in the way;
 *   -EFBIG   past the maximum size, or past a slice's fixed end;
 *   -EPERM   the VMO cannot do this (resize of a slice or non-resizable).
 * On any error nothing observable changed (tested under fault injection),
 * except where a function says it can stop part way.
 *
 * Thread safety: all functions may be called from any thread.  Each clone
 * hierarchy has one lock; different hierarchies run in parallel.  VMO
 * handles are reference counted: vmo_create/clone/slice/reference return one
 * reference; vmo_unref drops it and the VMO dies with the last one.
 */
#ifndef VM_VMO_H
#define VM_VMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define VMO_MAX_SIZE	((uint64_t)1 << 52)	/* 4 PiB: offsets never overflow */
#define VMO_WHOLE	UINT64_MAX		/* length meaning "to the end" */

struct vm;
struct vmo;

struct vm_config {
	uint64_t limit_bytes;	/* page limit (rounded down to pages, >= 1 page) */
	unsigned ncpu;		/* per-CPU caches; 0 = configured CPUs */
	unsigned pcache_reserve;/* pages per CPU reserve; 0 = default (64) */
	bool	 no_pcache;	/* allocate straight from the PMM (benchmarks) */
	bool	 compress;	/* reclaim cold anonymous pages into an LZ4 store */
};

int vm_create(const struct vm_config *cfg, struct vm **out);
/* All VMOs must be gone (asserted).  Stops the reclaimer thread. */
void vm_destroy(struct vm *vm);
/*
 * Start the background reclaimer thread: it ages the page queues every
 * second and, when free pages fall below the low watermark (1/32 of the
 * limit), reclaims up to the high watermark.  Call after any fork (a
 * daemon starts it after daemonising).  0 or -errno; a second call is 0.
 */
int vm_reclaimer_start(struct vm *vm);
/*
 * Fault the whole page arena in now and keep freed pages resident from
 * then on, so that no write waits for the OS to provide memory (mount
 * option prealloc).  Takes seconds per GiB.  Call after any fork.  0,
 * -EOPNOTSUPP (Linux before 5.14) or -ENOMEM; on error the VM works as
 * without it.
 */
int vm_prealloc(struct vm *vm);

/* Allocator and VM-wide counters, for user.vmofs.stats and vmoctl stats. */
struct vm_stats {
	uint64_t limit_pages;	/* PMM arena size */
	uint64_t used_pages;	/* pages in objects (committed anywhere) */
	uint64_t free_pages;	/* PMM free + per-CPU cached */
	uint64_t cached_pages;	/* in per-CPU reserves */
	uint64_t pmm_allocs, pmm_frees, pmm_alloc_fails, pmm_released;
	uint64_t pcache_hits, pcache_misses, pcache_refills, pcache_returns,
		 pcache_steals;
	uint64_t vmos;		/* live VMOs */
	uint64_t hidden_nodes;	/* live hidden cow nodes */
	uint64_t cow_copies;	/* pages copied on first write to shared page */
	uint64_t cow_moves;	/* pages moved on first write to unshared page */
	uint64_t merges;	/* hidden nodes merged into their last child */
	uint64_t zero_fills;	/* fresh zero pages allocated */
	uint64_t paged_in;	/* pages read from a backing store */
	uint64_t page_requests;	/* store reads done with the hierarchy lock dropped */
	uint64_t page_request_waits;	/* reads that waited on another reader's request */
	uint64_t page_request_stale;	/* requests whose bytes changed under them: read again */
	uint64_t evicted;	/* clean store pages dropped under pressure */
	uint64_t written_back;	/* dirty pages written to make room */
	uint64_t paged_vmos;	/* hierarchies with a backing store */
	uint64_t reclaimed;	/* pages freed by reclaim (all kinds below) */
	uint64_t compressed;	/* anonymous pages put in the compressed store */
	uint64_t decompressed;	/* pages brought back from it */
	uint64_t zero_deduped;	/* all-zero anonymous pages swapped for markers */
	uint64_t zero_scanned;	/* pages the idle zero-page scanner looked at */
	uint64_t incompressible;/* pages compression left resident */
	uint64_t zstore_pages;	/* pages in the compressed store now */
	uint64_t zstore_bytes;	/* memory it holds (payload + per-entry cost) */
	uint64_t zstore_ballast;/* arena pages held back to count that memory */
	uint64_t discarded_vmos;/* unlocked discardable VMOs dropped whole */
	uint64_t discarded_pages;/* pages those discards freed */
	uint64_t q_discardable;	/* discardable VMOs unlocked now (candidates) */
	uint64_t reclaim_direct;/* allocations that had to reclaim first */
	uint64_t reclaim_bg;	/* background reclaim passes */
	uint64_t pq_rotations;	/* page-queue aging ticks */
	uint64_t q_anon, q_wired, q_dontneed, q_alwaysneed;	/* pages per queue */
	uint64_t q_pager_clean, q_pager_dirty;
	uint64_t contig_vmos;	/* live contiguous VMOs */
	uint64_t lent_pages;	/* their decommitted pages, on loan now */
	uint64_t loaned_free;	/* of those, free (counted in free_pages) */
	uint64_t borrowed;	/* loaned pages other VMOs took, ever */
	uint64_t loan_migrations;/* borrowed pages moved away to give one back */
};
void vm_get_stats(struct vm *vm, struct vm_stats *st);

enum vmo_kind { VMO_ANON = 0, VMO_PAGER, VMO_CLONE, VMO_SLICE, VMO_REF };
const char *vmo_kind_name(enum vmo_kind kind);	/* "anonymous", ... */

#define VMO_RESIZABLE	0x1u
#define VMO_DISCARDABLE	0x2u	/* reclaim may drop it whole while unlocked */

/*
 * Create an empty anonymous VMO of size bytes (content size; the VMO is
 * that rounded up to a page).  Without VMO_RESIZABLE the size is fixed:
 * vmo_resize is -EPERM and writes past the end -EFBIG (Zircon's
 * ZX_ERR_UNAVAILABLE and ZX_ERR_OUT_OF_RANGE).  VMO_DISCARDABLE: see
 * vmo_lock below.  0, -EINVAL (flags), -EFBIG (size > VMO_MAX_SIZE),
 * -ENOMEM.
 */
int vmo_create(struct vm *vm, uint64_t size, unsigned flags, struct vmo **out);

/*
 * Contiguous VMO (Zircon's zx_vmo_create_contiguous): size bytes whose
 * pages are one run of consecutive arena pages, committed, zeroed and
 * pinned from the start (user.vmo.pinned = its size), fixed size, no
 * clones or references (-EOPNOTSUPP) but slices, no shared pages
 * (vmo_share_range -EXDEV).  vmo_decommit lends its pages: other VMOs
 * borrow them when nothing else is free, and any later write, commit or
 * pin of the range takes them back, moving a borrower's bytes to another
 * page first (its data is kept).  A user pin counts above the base pin:
 * unpin never drops the base pin (-EINVAL), decommit of a user-pinned
 * page is -EBUSY.  vm/contig.c.  0, -EINVAL (size 0), -EFBIG, -ENOSPC (no
 * free run that long), -ENOMEM.
 */
int vmo_create_contiguous(struct vm *vm, uint64_t size, struct vmo **out);
bool vmo_is_contiguous(const struct vmo *vmo);

/*
 * Snapshot clone of src's bytes [off, off+len) (len VMO_WHOLE: to src's
 * end), O(1): no page is copied.  off must be page aligned; the range may
 * extend past src's end (reads zero there).  The clone's content size is
 * len (or src's size - off) and it is resizable.  Cloning a slice clones
 * its window.  0, -EINVAL (unaligned off, overflow), -EFBIG, -ENOMEM.
 */
int vmo_clone(struct vmo *src, uint64_t off, uint64_t len, struct vmo **out);

/*
 * Clone kinds (Zircon's zx_vmo_create_child options; docs/semantics.md,
 * "Clone kinds"):
 *   SNAPSHOT  vmo_clone: the bytes as they are now, both ways private.
 *   AOLW      snapshot at least on write: the clone reads src's pages
 *             live -- src's later writes (and zero, decommit, share) show
 *             in every page the clone has not itself written (or zeroed,
 *             committed, pinned: made its own) -- and never src's writes
 *             after it has.  src shrinking cuts the clone's view there for
 *             good (it reads zero past it, as after any shrink).  When src
 *             dies first, the clone keeps what it sees then.  O(1), src
 *             keeps writing in place.  Not in a pager-backed hierarchy
 *             (-EOPNOTSUPP).  A snapshot (or MODIFIED clone) of a VMO that
 *             reads through a live one this way is -EOPNOTSUPP too
 *             (vmo_reads_live): it could not be frozen without a copy.
 *   MODIFIED  snapshot of what src has modified, the store's pages still
 *             read from the store: here that is SNAPSHOT, which already
 *             copies nothing and leaves unread pages in the store, and
 *             keeps them a true snapshot where Zircon would let the clone
 *             see the parent's later writes to unmodified pages (allowed:
 *             Zircon's guarantee is "at least" a snapshot on write).
 * 0 and the errors of vmo_clone, -EINVAL (unknown kind), -EOPNOTSUPP.
 */
enum vmo_clone_kind { VMO_CLONE_SNAPSHOT = 0, VMO_CLONE_AOLW, VMO_CLONE_MODIFIED };
int vmo_clone_as(struct vmo *src, enum vmo_clone_kind kind, uint64_t off,
    uint64_t len, struct vmo **out);
/* How clone v was made (SNAPSHOT for VMOs that are not clones). */
enum vmo_clone_kind vmo_clone_kind(const struct vmo *v);
const char *vmo_clone_kind_name(enum vmo_clone_kind kind);	/* "aolw", ... */
/* Does v read through a live VMO (it, or a VMO it was cloned from, is an
 * AOLW clone of a VMO still alive)?  Then a snapshot of v is -EOPNOTSUPP. */
bool vmo_reads_live(struct vmo *v);

/*
 * Slice: a window [off, off+len) of src's pages, shared both ways.  off
 * page aligned, off+len within src's page-rounded size; the slice's size
 * is fixed.  A slice of a slice is a slice of the same root.  While a slice
 * lives, src cannot shrink below its end (-EBUSY).  0, -EINVAL, -ENOMEM.
 */
int vmo_slice(struct vmo *src, uint64_t off, uint64_t len, struct vmo **out);

/*
 * Reference (Zircon's ZX_VMO_CHILD_REFERENCE): a second VMO onto all of
 * src's pages and its content size, in both directions -- an extra open
 * file of src, with its own id.  Every call made on the reference acts on
 * src: reads, writes, resizes (a reference follows src's size, unlike a
 * slice), range operations, clones and slices (of src's bytes; they count
 * as the reference's children).  The reference holds a reference on src,
 * so src's pages live while it does.  Its kind is VMO_REF; resizable as
 * src is.  A reference of a reference refers to the same VMO; one of a
 * slice shows the slice's window.  Attribution: none (vmo_get_attr all
 * zero, vmo_blocks_bytes 0): the pages are charged once, to src, whose
 * own numbers do not change (Zircon: "a reference never has memory
 * attributed to it").  0, -EOPNOTSUPP (src is discardable: no children,
 * as for clones), -ENOMEM.
 */
int vmo_reference(struct vmo *src, struct vmo **out);

void vmo_ref(struct vmo *vmo);
void vmo_unref(struct vmo *vmo);

/* Read-only facts.  Cheap; take the hierarchy lock briefly. */
uint64_t vmo_id(const struct vmo *vmo);		/* unique, never reused */
enum vmo_kind vmo_kind(const struct vmo *vmo);
uint64_t vmo_size(struct vmo *vmo);		/* content size in bytes */
bool vmo_is_resizable(const struct vmo *vmo);
/* For a slice: the window offset in its root; else 0.  (For a reference:
 * its target's.) */
uint64_t vmo_slice_offset(const struct vmo *vmo);
/* A slice, or a reference of one: a fixed window onto another VMO. */
bool vmo_is_slice(const struct vmo *vmo);

/*
 * Byte-granular read of [off, off+len), clipped to the content size.
 * Returns bytes read (0 at or past the end) or an error.  Anonymous VMOs
 * never allocate (a compressed page is decompressed into buf).  A
 * pager-backed hierarchy pages the range in first: -ENOSPC when no page
 * can be had, or the store's error.
 */
ssize_t vmo_read(struct vmo *vmo, void *buf, uint64_t off, size_t len);

/*
 * Zero-copy read: build an iovec of [off, off+len) (clipped to content
 * size) pointing straight at the pages (a shared zero page for holes) and
 * call fn(ctx, iov, iovcnt) with the hierarchy lock held shared, so the
 * pages stay put while fn runs (fs: fuse_reply_iov).  fn must not call
 * back into this hierarchy.  Returns fn's return value, or -ENOMEM if the
 * iovec could not be built (then fn was not called).
 */
typedef int (*vmo_iov_fn)(void *ctx, const struct iovec *iov, int iovcnt);
int vmo_read_iov(struct vmo *vmo, uint64_t off, size_t len,
    vmo_iov_fn fn, void *ctx);

/*
 * Byte-granular write; grows the content size when writing past it (gap
 * reads zero) unless the VMO is a slice or non-resizable (-EFBIG past the
 * end).  Copy-on-write happens here.  Returns bytes written; a write that
 * runs out of pages part way, and still finds nothing to reclaim after
 * vm_room_retry's rounds, returns the bytes written so far (> 0) or
 * -ENOSPC when none were.  -EINVAL, -EFBIG, -ENOSPC, -ENOMEM.
 */
ssize_t vmo_write(struct vmo *vmo, const void *buf, uint64_t off, size_t len);

/*
 * Write by callback (fs write_buf: splice from the FUSE pipe straight into
 * pages): make [off, off+len) writable (copy-on-write, zero fill), then call
 * fn(ctx, iov, iovcnt) with iovecs onto the page bytes, under the hierarchy
 * lock held exclusively.  fn returns how many bytes it filled (from the
 * start) or a negative errno; the content size grows to cover only what
 * was filled.  Returns that count, or a negative errno.  fn is a stream:
 * when pages run out part way and fn filled all it was given, the lock is
 * dropped, room made (vm_room_retry) and fn called again for the rest,
 * going on where it stopped (the FUSE pipe does; issue #16).
 */
ssize_t vmo_write_iov(struct vmo *vmo, uint64_t off, size_t len,
    ssize_t (*fn)(void *ctx, const struct iovec *iov, int iovcnt), void *ctx);

/*
 * Set the content size.  Shrinking frees whole pages past the new end and
 * zeroes the tail of the last page; growing reads zero.  -EPERM (slice or
 * not resizable), -EFBIG, -EBUSY (a pinned page or a slice past the new
 * end), -ENOMEM.
 */
int vmo_resize(struct vmo *vmo, uint64_t size);

/*
 * Range operations.  Ranges are [off, off+len) in bytes (len VMO_WHOLE: to
 * the page-rounded end); all are -EINVAL when off+len overflows or ends
 * past the page-rounded size.  An empty range is 0 and touches nothing,
 * except for pin/unpin (below).  Only decommit and zero change bytes, and
 * never one outside the range.
 *
 * commit:   allocate every page touching the range (rounds out, as Zircon);
 *           on a clone, private copies.  A range longer than one
 *           reservation (1,024 pages) makes room again as it goes;
 *           -ENOSPC part way keeps what was committed.
 * decommit: free the pages of the range; it reads zero afterwards (on a
 *           clone, markers hide the parent's pages).  As Zircon, off must be
 *           page aligned and so must off+len, except where the rest of that
 *           page is past the content (v's size; for a slice, its root's):
 *           else -EINVAL and nothing changes.  -EBUSY if any page in it is
 *           pinned.  On a pager-backed VMO the store must read zero too:
 *           zero pages are written instead (dirty), in chunks with the lock
 *           dropped between them, so it can stop part way with an error.
 * zero:     zero the bytes exactly (on a slice, never past its end: its
 *           last page goes on with its root's bytes); whole pages are
 *           freed or marked, partial pages and pinned pages zeroed in place
 *           (pager-backed: as decommit).  The partial pages at either end
 *           are made writable before either is zeroed: -ENOSPC there
 *           changes nothing.
 * pin/unpin: commit and count a pin on each page (rounds out, both); an
 *           empty range is -EINVAL (Zircon forbids empty pins); unpin of
 *           an unpinned page is -EINVAL and unpins nothing.
 */
int vmo_commit(struct vmo *vmo, uint64_t off, uint64_t len);
int vmo_decommit(struct vmo *vmo, uint64_t off, uint64_t len);
int vmo_zero(struct vmo *vmo, uint64_t off, uint64_t len);
int vmo_pin(struct vmo *vmo, uint64_t off, uint64_t len);
int vmo_unpin(struct vmo *vmo, uint64_t off, uint64_t len);

/*
 * copy_file_range without copying: make dst's [doff, doff+len) show src's
 * [soff, soff+len) by sharing the very pages, copy-on-write (a shared page
 * is copied by whichever side writes it first; neither ever writes it in
 * place).  doff, soff and len page aligned; src's range within its
 * page-rounded size; dst grows to cover the range (as a write would).  The
 * two may be any VMOs, of the same hierarchy or not; within one VMO the
 * ranges must not overlap.  A page referenced from k places counts P/k to
 * each place in attribution.  Returns bytes shared, or -EINVAL, -EFBIG
 * (past a slice's end or the maximum size), -EBUSY (pinned pages in dst's
 * range), -EXDEV (either side is pager-backed: copy instead), -ENOMEM (a
 * page-list node; part may be done: the count says).
 */
int64_t vmo_share_range(struct vmo *dst, uint64_t doff, struct vmo *src,
    uint64_t soff, uint64_t len);

/*
 * Eviction hints on [off, off+len) (rounded out; len VMO_WHOLE: to the
 * end).  DONTNEED: reclaim these pages first (and drop ALWAYSNEED).
 * ALWAYSNEED: bring them in now (page in from the store, or commit) and
 * never reclaim them until DONTNEED.  Hints sit on the pages this VMO
 * sees; pages it later copies on write do not inherit them.  0, -EINVAL,
 * -ENOSPC, or a store error.
 */
enum vmo_hint { VMO_HINT_DONTNEED = 1, VMO_HINT_ALWAYSNEED = 2 };
int vmo_hint(struct vmo *vmo, uint64_t off, uint64_t len, enum vmo_hint hint);

/*
 * Bring [off, off+len) in (rounded out): page in from a backing store.
 * Anonymous pages are always resident (the compressed store is not wired
 * yet): nothing to do.  0, -EINVAL (range), -ENOSPC, or a store error.
 */
int vmo_prefetch(struct vmo *vmo, uint64_t off, uint64_t len);

/*
 * SEEK_DATA / SEEK_HOLE over committed pages (a page this VMO can see,
 * its own or an ancestor's, holds data; markers and absent pages are
 * holes).  whence is SEEK_DATA or SEEK_HOLE.  0 with *result, -ENXIO (no
 * data at or after off, or off >= size), -EINVAL.
 */
int vmo_seek(struct vmo *vmo, uint64_t off, int whence, uint64_t *result);

/*
 * Memory attribution, in bytes, by Zircon's rules:
 *   committed  pages this VMO can see (its own and its ancestors'), resident;
 *   populated  committed plus compressed (issue 4: equal until then);
 *   private    pages no other VMO can see;
 *   scaled     sum over the pages it sees of P/n, n = VMOs that see the page;
 *   pinned     bytes in pinned pages it can see;
 *   priv_pages pages held privately (st_blocks).
 * Slices see their root's pages in their window and count among the n.
 * Across all VMOs scaled adds up to the pages in use (tested).
 */
struct vmo_attr {
	uint64_t committed;
	uint64_t populated;
	uint64_t private_bytes;
	uint64_t scaled;
	uint64_t pinned;
};
int vmo_get_attr(struct vmo *vmo, struct vmo_attr *out);

/*
 * Bytes in pages this VMO holds in its own node (st_blocks): O(1).  A
 * fresh clone holds none; a slice always reports 0 (its root holds them).
 */
uint64_t vmo_blocks_bytes(struct vmo *vmo);

/*
 * Discardable VMOs (Zircon's ZX_VMO_DISCARDABLE, vm/discard.c).  A VMO
 * created with VMO_DISCARDABLE may be dropped whole by reclaim while it
 * is unlocked: every page freed at once, size kept, reading zero after.
 * Reclaim does so before it takes any other page (SPEC 5's list comes
 * after), oldest unlock first.  Locks count: n vmo_lock need n
 * vmo_unlock.  A new VMO is unlocked but not yet a candidate: it becomes
 * one at its first unlock (Zircon's kUnset state), so one that is never
 * locked is never discarded.  Reads and writes are allowed locked or
 * not; one that runs while the VMO is unlocked may see it discarded part
 * way.  A VMO discarded and written since stays out of reclaim's list
 * until it is locked and unlocked again.  Discardable VMOs have no
 * clones or slices (-EOPNOTSUPP, as Zircon) and share no pages
 * (vmo_share_range: -EXDEV); a VMO holding pinned pages is passed over.
 *
 * vmo_lock:    lock (count + 1); *discarded says whether the contents were
 *              discarded since the last lock (then the VMO reads zero).
 *              0, -EOPNOTSUPP (not discardable), -EOVERFLOW (count).
 * vmo_trylock: as vmo_lock, but a discarded VMO is left unlocked and the
 *              call fails with -EAGAIN (Zircon's ZX_ERR_UNAVAILABLE),
 *              *discarded true.
 * vmo_unlock:  count - 1; at 0 the VMO joins the tail of reclaim's list.
 *              0, -EINVAL (not locked: Zircon's ZX_ERR_BAD_STATE),
 *              -EOPNOTSUPP.
 * vmo_lock_state: the count and the state, for getfattr/info.
 */
int vmo_lock(struct vmo *vmo, bool *discarded);
int vmo_trylock(struct vmo *vmo, bool *discarded);
int vmo_unlock(struct vmo *vmo);
bool vmo_is_discardable(const struct vmo *vmo);
struct vmo_lock_state {
	uint64_t locks;		/* outstanding vmo_lock calls */
	bool	 discarded;	/* discarded, not locked since */
	bool	 candidate;	/* unlocked and on reclaim's list */
	bool	 was_discarded;	/* what the last vmo_lock/trylock reported */
	bool	 never_unlocked;/* new: not a candidate until its first unlock */
};
int vmo_lock_state(struct vmo *vmo, struct vmo_lock_state *out);

/* Number of live VMOs (clones and slices) made from this one. */
uint64_t vmo_children(struct vmo *vmo);
/* The id of the VMO this one was cloned or sliced from (0: none/gone). */
uint64_t vmo_parent_id(struct vmo *vmo);

#endif /* VM_VMO_H */
