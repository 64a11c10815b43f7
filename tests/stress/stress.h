/*
 * stress.h - vmofs-stress, a model-based concurrent tester of the daemon.
 *
 * Three parts, one file each:
 *   model.c   the reference model: a table of VMOs (name, kind, place in
 *             the namespace, expected bytes, pins), its locks, and the
 *             accounting that decides when ENOSPC is an allowed answer;
 *   ops.c     the operations a worker issues through the mount, each
 *             checking the daemon's answer against the model;
 *   main.c    options, phases (one mount each), workers, the monitor
 *             (hangs, a dead daemon), end-of-phase checks, the summary.
 *
 * Model.  A top-level VMO and a clone own their bytes: a byte array
 * (zero past the content size, the daemon's tail invariant) and a pin
 * count per page.  A slice owns nothing: it is a window (soff, slen) onto
 * its owner, the non-slice VMO whose pages it shares (a slice of a slice
 * is re-homed onto the same owner, as in libvm).  A clone copies its
 * parent's view at mkdir.
 *
 * Locks (tester side; they decide what may run at once in the daemon):
 *   (T) tab_lock, a mutex: the table, every entry's state, users, name,
 *       kids; held briefly, never across an owner lock wait.
 *   (O) the owner's rwlock (mv_olock(v) = v->owner->lock): a VMO's bytes,
 *       size and pins, and the owner's slice set.  Reads take it shared,
 *       changes exclusive.  Every op on a slice takes its owner's lock, so
 *       ops through aliases are serialized and the model stays exact;
 *       ops on different owners -- a parent and its clone in one clone
 *       tree included -- run at once, which is what stresses the daemon's
 *       hierarchy locking.
 *   Order: O before T.  A subtree op (rmdir -r, rename) marks the subtree
 *   BUSY under T, waits until no op holds a member (users == 0), and then
 *   owns it; removing a slice also takes its owner's lock (O), since the
 *   owner's slice set changes.
 */
#ifndef TESTS_STRESS_H
#define TESTS_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define P		((uint64_t)4096)
#define PGUP(x)		(((x) + P - 1) & ~(P - 1))
#define PGDN(x)		((x) & ~(P - 1))
/*
 * Paths are built with snprintf into fixed buffers: names are under 40
 * bytes and nesting under MAXDEPTH, so a path stays far below the 1 KiB
 * buffers, which gcc cannot see.
 */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define MAXV		1024	/* table slots */
#define LOGN		48	/* op log entries per worker */
#define LOGW		200	/* bytes per op log entry */
#define MAXDEPTH	6	/* clone/slice nesting */
#define MAXPIN		4	/* pins per page the tester stacks at most */
#define NERR		134	/* errno values counted */
#define NUNK		16	/* unknown ranges kept per owner */

enum mkind { MK_TOP, MK_CLONE, MK_SLICE };
enum mstate { MS_CREATING, MS_LIVE, MS_BUSY, MS_REMOVING };

struct mvmo {
	int		slot;		/* (T) index in the table */
	char		name[40];	/* (T) entry name (mkdir's, less @RANGE) */
	char		oldname[40];	/* (T) while a rename is in flight */
	enum mkind	kind;
	struct mvmo	*parent;	/* namespace parent VMO; NULL: top */
	struct mvmo	*owner;		/* pages' owner: self, or a slice's root */
	int		depth;		/* 0 top, +1 per clones/ or slices/ */
	enum mstate	state;		/* (T) */
	int		users;		/* (T) ops holding it */
	int		nkids;		/* (T) entries in its clones/ and slices/ */
	uint64_t	id;		/* user.vmo.id, read after mkdir */
	/* non-slice only: */
	pthread_rwlock_t lock;		/* the (O) lock of this owner */
	unsigned char	*buf;		/* (O) expected bytes, zero past size */
	size_t		cap;		/* (O) bytes allocated in buf */
	uint64_t	size;		/* (O) content size */
	uint8_t		*pins;		/* (O) pin count per page */
	size_t		npins;		/* (O) entries in pins */
	int		nslices;	/* (O) live slices re-homed here */
	/* (O) byte ranges whose contents are unknown: a write-back failed
	 * there (ENOSPC on an anonymous mount), so the kernel's page cache
	 * and the daemon may disagree until something writes them again */
	uint64_t	unk_s[NUNK], unk_e[NUNK];
	int		nunk;
	_Atomic int64_t	slice_rm_ms;	/* last removal of one of them */
	/* slice only: */
	uint64_t	soff, slen;	/* window onto owner: offset, size */
};

/* One phase: one mount with one option string. */
struct phase {
	const char	*spec;		/* as given (--mount-opts), seeds from it */
	char		opts[512];	/* what the daemon gets */
	char		bkdir[256];	/* backing DIR ("" if none) */
	bool		bk_auto;	/* bkdir made by us: removed at the end */
	bool		backed;
	bool		compress;
	bool		pressure;	/* small: make the VMOs outgrow it */
	uint64_t	limit;		/* size= in bytes */
	uint64_t	max_size;	/* largest VMO the tester makes */
	int		max_vmos;
	uint64_t	seed;
};

enum op {
	OP_FILL, OP_MKTOP, OP_WRITE, OP_READ, OP_TRUNC, OP_MMAP, OP_CLONE, OP_RCLONE,
	OP_SLICE, OP_RMTREE, OP_RENAME, OP_XATTR, OP_FSYNC, OP_STATS,
	OP_VSTATS, OP_READDIR, OP_ERRNO, OP_N
};
extern const char *const op_names[OP_N];

struct worker {
	int		id;
	pthread_t	th;
	uint64_t	rng;
	uint64_t	opno;		/* ops started */
	uint64_t	nops[OP_N];
	uint64_t	nerr[NERR];	/* answers by errno (0: none) */
	char		log[LOGN][LOGW];
	unsigned	logpos;		/* next entry */
	_Atomic int64_t	op_start_ms;	/* 0 when between ops */
	unsigned	seq;		/* names made */
	unsigned char	*buf, *buf2;	/* scratch, 2 x max_size + 1 MiB */
	size_t		bufsz;
	char		path[1024];	/* the picked VMO's directory */
	char		path2[1024];
	atomic_int	done;		/* set by the worker as it ends */
};

/* ---- main.c: the run ---------------------------------------------- */

extern struct phase *PH;	/* the phase running */
extern char MNT[128];		/* its mount point */
extern atomic_int stop_flag;	/* workers: end after this op */
extern int nworkers;
extern struct worker *workers;
extern int verbose;
extern FILE *trace;		/* --trace: every op log entry */
extern pthread_mutex_t trace_lock;

int64_t now_ms(void);
/* Report a model or errno mismatch: the run fails; the worker stops. */
void fail(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool failed(void);

/* ---- model.c ------------------------------------------------------- */

extern pthread_mutex_t tab_lock;
extern struct mvmo *tab[MAXV];
extern int ntab;		/* (T) entries in use, any state */
extern atomic_int_fast64_t bound_pages;	/* sum of PGUP(size)/P, non-slice */
extern atomic_int_fast64_t inflight_pages;	/* what ops in flight may take */
extern atomic_int_fast64_t clone_bytes;	/* sum of clone sizes */
extern atomic_int_fast64_t pinned_pages;	/* pages with a pin */
extern atomic_int_fast64_t peak_pages;	/* highest bound_pages seen */

uint64_t rnd(struct worker *w);
uint64_t rnd_below(struct worker *w, uint64_t n);	/* [0, n) */
bool chance(struct worker *w, unsigned pct);

void model_reset(void);
struct mvmo *mv_new(enum mkind k, struct mvmo *parent, const char *name);
void mv_free(struct mvmo *v);
/* Under T: v's directory, relative to the mount, into buf. */
void mv_path(const struct mvmo *v, char *buf, size_t len);
/* Under T: v's full data path etc. */
pthread_rwlock_t *mv_olock(struct mvmo *v);
uint64_t mv_vsize(const struct mvmo *v);	/* (O) its file size */
/* (O) Copy the view of v: bytes [off, off+len), zero past its end. */
void mv_view(const struct mvmo *v, uint64_t off, size_t len, unsigned char *out);
/* (O, exclusive) Apply n bytes written at off through v. */
void mv_write(struct mvmo *v, uint64_t off, const unsigned char *d, size_t n);
void mv_zero(struct mvmo *v, uint64_t off, uint64_t len);	/* exclusive */
void mv_resize(struct mvmo *v, uint64_t size);	/* non-slice, exclusive */
/* (O) Pages [s, e) of v's view (page numbers), mapped onto the owner's. */
bool mv_any_pinned(const struct mvmo *v, uint64_t s, uint64_t e);
bool mv_all_pinned(const struct mvmo *v, uint64_t s, uint64_t e);
void mv_pin(struct mvmo *v, uint64_t s, uint64_t e, int delta);
uint64_t mv_pinned_bytes(const struct mvmo *v);	/* pages it sees pinned */
/* (O) Would shrinking owner v to size hit one of its live slices? */
bool mv_slice_blocks(const struct mvmo *v, uint64_t size);
/* (O) [off, off+len) of v's view is unknown now (exclusive). */
void mv_unknown(struct mvmo *v, uint64_t off, uint64_t len);
/* (O) Where v's view [off, off+n) is unknown, copy got into exp, so that
 * a comparison skips those bytes. */
void mv_mask_unknown(const struct mvmo *v, uint64_t off, size_t n,
    unsigned char *exp, const unsigned char *got);
/* (O) Set a new clone's bytes from parent p's view [off, off+len). */
void mv_clone_from(struct mvmo *c, const struct mvmo *p, uint64_t off,
    uint64_t len);

/* Pick a LIVE VMO (users++), filtered by want; NULL if none.  Fills
 * w->path.  mv_put drops it. */
enum { PK_ANY = 0, PK_NOSLICE = 1, PK_TOP = 2, PK_SLICE = 4, PK_KIDS = 8,
    PK_SHALLOW = 16 };
struct mvmo *mv_pick(struct worker *w, unsigned want);
void mv_put(struct mvmo *v);
int mv_count(unsigned want);

/* ENOSPC may be answered now: an anonymous mount near its limit. */
bool enospc_ok(void);
extern bool known_backed_enospc;	/* model.c */
extern _Atomic long backed_enospc_seen;

/* ---- ops.c --------------------------------------------------------- */

void worker_op(struct worker *w);
/* End of a phase, no worker running: everything checked once more. */
int check_quiescent(struct worker *w);
/* Backed phase, after unmount: DIR holds every top-level VMO's bytes. */
int check_backing_files(struct worker *w);
/* op log */
void lg(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lg_more(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
