/*
 * test_load.c - writers, readers and clone makers at once.  Every block
 * carries a header (file, block, version) and bytes derived from it, so
 * any block read at any time must be self-consistent (or never written:
 * all zero).  At the end every file must hold exactly each block's last
 * version.  LOAD_SECONDS (default 4) sets the duration.  Run three times:
 * with room to spare; under -o size=4M,compress with 8 MiB of files
 * (blocks that LZ4 shrinks), so reclaim compresses and brings pages back
 * under the readers', writers' and clone makers' feet; and the same on a
 * backed mount, where the files' pages are evicted and paged in again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "mountlib.h"

#define NF	4
#define NB	512		/* blocks per file: 2 MiB */
#define BS	4096

struct hdr { uint32_t file, block, version, magic; };

static struct ml_mount M;
static uint32_t last[NF][NB];	/* written by the file's writer only */
static volatile int stop;
static int errors;
static int packable;		/* blocks repeat a 240-byte run: compressible */

static void
mkblock(char *b, uint32_t f, uint32_t blk, uint32_t ver)
{
	struct hdr h = { f, blk, ver, 0x564d4f46 };

	ml_fill(b + sizeof(h), BS - sizeof(h),
	    ((uint64_t)f << 48) ^ ((uint64_t)blk << 24) ^ ver);
	if (packable)
		for (int i = 256; i < BS; i++)
			b[i] = b[sizeof(h) + (i - 256) % 240];
	memcpy(b, &h, sizeof(h));
}

/* 0 if b is a valid block for (f, blk) or all zero. */
static int
checkblock(const char *b, uint32_t f, uint32_t blk)
{
	static __thread char want[BS];
	struct hdr h;
	int i;

	memcpy(&h, b, sizeof(h));
	if (h.magic == 0) {
		for (i = 0; i < BS; i++)
			if (b[i])
				return -1;
		return 0;
	}
	if (h.magic != 0x564d4f46 || h.file != f || h.block != blk)
		return -1;
	mkblock(want, f, blk, h.version);
	return memcmp(want, b, BS) ? -1 : 0;
}

/* Version v of block (f, blk); version 0 is a block never written: zeros. */
static void
version_block(char *want, uint32_t f, uint32_t blk, uint32_t v)
{
	if (v == 0)
		memset(want, 0, BS);
	else
		mkblock(want, f, blk, v);
}

/* Bytes at the head and at the tail of b equal to version v of (f, blk). */
static void
match_ends(const char *b, uint32_t f, uint32_t blk, uint32_t v, int *head,
    int *tail)
{
	char want[BS];

	version_block(want, f, blk, v);
	for (*head = 0; *head < BS && b[*head] == want[*head]; (*head)++)
		;
	for (*tail = 0; *tail < BS && b[BS - 1 - *tail] == want[BS - 1 - *tail]; (*tail)++)
		;
}

static const char zmap[64];

/* Say what an inconsistent block holds: its header, and for versions
 * near the header's, how many leading bytes match (a torn read shows
 * one version's head and another's tail). */
static void
diagnose(const char *b, uint32_t f, uint32_t blk)
{
	struct hdr h;
	int i, head, tail;

	memcpy(&h, b, sizeof(h));
	fprintf(stderr, "load:   header file %u block %u version %u magic %#x;"
	    " last written %u\n", h.file, h.block, h.version, h.magic,
	    last[f][blk]);
	for (uint32_t v = h.version > 2 ? h.version - 2 : 0; v <= h.version + 2; v++) {
		match_ends(b, f, blk, v, &head, &tail);
		fprintf(stderr, "load:   vs version %u: first %d and last %d bytes match\n",
		    v, head, tail);
	}
	for (i = 0; i < BS && !b[i]; i++)
		;
	fprintf(stderr, "load:   first nonzero byte at %d\n", i);
	/* Per 64 bytes: which version they are (0: zeros, ?: none near). */
	{
		char map[BS / 64 + 1], w[5][BS];
		uint32_t v0 = h.version > 2 ? h.version - 2 : 0;

		for (int k = 0; k < 5; k++)
			version_block(w[k], f, blk, v0 + k);
		for (i = 0; i < BS / 64; i++) {
			map[i] = '?';
			if (!memcmp(b + 64 * i, zmap, 64))
				map[i] = '0';
			for (int k = 0; k < 5; k++)
				if (!memcmp(b + 64 * i, w[k] + 64 * i, 64))
					map[i] = (char)('a' + k);
		}
		map[BS / 64] = '\0';
		fprintf(stderr, "load:   64-byte map (a = version %u, b = %u, ...): %s\n",
		    v0, v0 + 1, map);
	}
}

/*
 * A read that met a write of the same block in the kernel's page cache:
 * the writer copies into a cached page that readers copy out of without a
 * lock (so on tmpfs and ext4 too: Linux does not make buffered read(2)
 * atomic against write(2) -- XFS does, by locking).  Either copy may be
 * preempted part way, so the block can be any interleaving of the two
 * versions: seen here, v's head and v-1's tail, and v, then v+1, then v
 * again.  So: every byte is that of the header's version or of the version
 * next to it (the same one throughout).  A block's first write met that
 * way shows zeros (version 0) with no header at the head and version 1 at
 * the tail.  Anything else is a bug.
 */
static int torn_reads;

static int
torn(const char *b, uint32_t f, uint32_t blk)
{
	char cur[BS], other[BS];
	struct hdr h;
	int d, i;

	memcpy(&h, b, sizeof(h));
	if (memcmp(b, zmap, sizeof(h)) != 0 &&	/* a zero head: version 0 */
	    (h.magic != 0x564d4f46 || h.file != f || h.block != blk))
		return 0;
	version_block(cur, f, blk, h.version);
	for (d = -1; d <= 1; d += 2) {
		version_block(other, f, blk, h.version + (uint32_t)d);
		for (i = 0; i < BS && (b[i] == cur[i] || b[i] == other[i]); i++)
			;
		if (i == BS)
			return 1;
	}
	return 0;
}

static void
bad(const char *what, int f, int blk)
{
	fprintf(stderr, "load: %s: file %d block %d inconsistent\n", what, f, blk);
	__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
}

static void *
writer(void *arg)
{
	int f = (int)(intptr_t)arg, fd;
	uint64_t s = (uint64_t)f * 77 + 1;
	char b[BS];

	fd = open(ml_path(&M, "f%d/data", f), O_RDWR);
	while (!stop && fd >= 0) {
		uint32_t blk = (uint32_t)(ml_rand(&s) % NB);

		mkblock(b, (uint32_t)f, blk, last[f][blk] + 1);
		if (pwrite(fd, b, BS, (off_t)blk * BS) != BS) {
			bad("write", f, (int)blk);
			break;
		}
		last[f][blk]++;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *
reader(void *arg)
{
	uint64_t s = (uint64_t)(intptr_t)arg * 1234567 + 3;
	char b[BS];
	int fds[NF], f;

	for (f = 0; f < NF; f++)
		fds[f] = open(ml_path(&M, "f%d/data", f), O_RDONLY);
	while (!stop) {
		uint32_t blk = (uint32_t)(ml_rand(&s) % NB);

		f = (int)(ml_rand(&s) % NF);
		if (pread(fds[f], b, BS, (off_t)blk * BS) != BS) {
			bad("read", f, (int)blk);
		} else if (checkblock(b, (uint32_t)f, blk)) {
			if (torn(b, (uint32_t)f, blk)) {
				__atomic_fetch_add(&torn_reads, 1, __ATOMIC_RELAXED);
				continue;
			}
			bad("read", f, (int)blk);
			diagnose(b, (uint32_t)f, blk);
		}
	}
	for (f = 0; f < NF; f++)
		close(fds[f]);
	return NULL;
}

static void *
cloner(void *arg)
{
	uint64_t s = (uint64_t)(intptr_t)arg * 99 + 5;
	char b[BS];
	int n = 0, f, fd, blk;

	while (!stop) {
		f = (int)(ml_rand(&s) % NF);
		if (mkdir(ml_path(&M, "f%d/clones/t%d-%d", f, (int)(intptr_t)arg,
		    n), 0755) != 0) {
			bad("mkdir clone", f, -1);
			break;
		}
		fd = open(ml_path(&M, "f%d/clones/t%d-%d/data", f,
		    (int)(intptr_t)arg, n), O_RDONLY);
		for (blk = 0; fd >= 0 && blk < NB; blk++)
			if (pread(fd, b, BS, (off_t)blk * BS) != BS ||
			    checkblock(b, (uint32_t)f, (uint32_t)blk))
				bad("clone", f, blk);
		if (fd >= 0)
			close(fd);
		if (rmdir(ml_path(&M, "f%d/clones/t%d-%d", f, (int)(intptr_t)arg,
		    n)) != 0)
			bad("rmdir clone", f, -1);
		n++;
	}
	return NULL;
}

static void
run_load(void)
{
	const char *e = getenv("LOAD_SECONDS");
	int secs = e ? atoi(e) : 4, f, i, blk, fd;
	pthread_t tw[NF], tr[3], tc[2];
	char *zero = calloc(1, (size_t)NB * BS), b[BS];

	stop = 0;
	errors = 0;
	torn_reads = 0;
	memset(last, 0, sizeof(last));
	for (f = 0; f < NF; f++) {
		assert_int_equal(mkdir(ml_path(&M, "f%d", f), 0755), 0);
		assert_int_equal(ml_write_at(ml_path(&M, "f%d/data", f), zero,
		    (size_t)NB * BS, 0), 0);
	}
	for (f = 0; f < NF; f++)
		pthread_create(&tw[f], NULL, writer, (void *)(intptr_t)f);
	for (i = 0; i < 3; i++)
		pthread_create(&tr[i], NULL, reader, (void *)(intptr_t)i);
	for (i = 0; i < 2; i++)
		pthread_create(&tc[i], NULL, cloner, (void *)(intptr_t)i);
	sleep((unsigned)secs);
	stop = 1;
	for (f = 0; f < NF; f++)
		pthread_join(tw[f], NULL);
	for (i = 0; i < 3; i++)
		pthread_join(tr[i], NULL);
	for (i = 0; i < 2; i++)
		pthread_join(tc[i], NULL);
	if (torn_reads)
		printf("load: %d reads met a write of their block in the kernel's "
		    "page cache (torn, as on tmpfs)\n", torn_reads);
	assert_int_equal(errors, 0);
	for (f = 0; f < NF; f++) {
		fd = open(ml_path(&M, "f%d/data", f), O_RDONLY);
		assert_true(fd >= 0);
		for (blk = 0; blk < NB; blk++) {
			struct hdr h;

			assert_int_equal(pread(fd, b, BS, (off_t)blk * BS), BS);
			assert_int_equal(checkblock(b, (uint32_t)f, (uint32_t)blk), 0);
			memcpy(&h, b, sizeof(h));
			if (h.version != last[f][blk])
				fail_msg("file %d block %d: version %u, want %u",
				    f, blk, h.version, last[f][blk]);
		}
		close(fd);
	}
	free(zero);
}

static void
test_load(void **state)
{
	(void)state;
	packable = 0;
	run_load();
}


static void
test_load_compress_tight(void **state)
{
	(void)state;
	packable = 1;
	run_load();
	printf("load size=4M,compress: compressed %llu, decompressed %llu, "
	    "zero pages %llu\n", (unsigned long long)ml_stat(&M, "compressed"),
	    (unsigned long long)ml_stat(&M, "decompressed"),
	    (unsigned long long)ml_stat(&M, "zero_deduped"));
	assert_true(ml_stat(&M, "compressed") > 0 && ml_stat(&M, "decompressed") > 0);
	packable = 0;
}

/*
 * The same on a backed mount, size=4M with 8 MiB of files and compress:
 * the files' pages are written back and evicted, the clones' old bytes
 * compressed, under every thread's feet.  After unmounting, the files in
 * the backing directory hold each block's last version.
 */
static char bkdir[64];

static void
test_load_backed_tight(void **state)
{
	char *b = malloc(BS), path[128];
	int f, blk, fd;

	(void)state;
	packable = 1;
	run_load();
	printf("load backing,size=4M,compress: evicted %llu, written back %llu, "
	    "paged in %llu, compressed %llu\n",
	    (unsigned long long)ml_stat(&M, "evicted"),
	    (unsigned long long)ml_stat(&M, "written_back"),
	    (unsigned long long)ml_stat(&M, "paged_in"),
	    (unsigned long long)ml_stat(&M, "compressed"));
	assert_true(ml_stat(&M, "evicted") > 0 && ml_stat(&M, "paged_in") > 0);
	assert_int_equal(ml_umount(&M), 0);
	for (f = 0; f < NF; f++) {
		snprintf(path, sizeof(path), "%s/f%d", bkdir, f);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		for (blk = 0; blk < NB; blk++) {
			struct hdr h;

			assert_int_equal(pread(fd, b, BS, (off_t)blk * BS), BS);
			memcpy(&h, b, sizeof(h));
			if (checkblock(b, (uint32_t)f, (uint32_t)blk) != 0 ||
			    h.version != last[f][blk])
				fail_msg("backing file %d block %d: version %u, want %u",
				    f, blk, h.version, last[f][blk]);
		}
		close(fd);
	}
	packable = 0;
	free(b);
}

static int
setup(void **state)
{
	(void)state;
	return ml_mount(&M, "size=512M");
}

/*
 * The tight mounts read with 1 MiB readahead, as a large mount does (the
 * daemon keeps a 4 MiB mount at the kernel's 128 KiB): READs of 1 MiB of
 * compressed or evicted pages must not take the pages writers need
 * (vmo.c, z_room).  Root only; others keep the daemon's setting.
 */
static void
big_readahead(void)
{
	char path[96];
	struct stat st;
	FILE *f;

	if (stat(ml_path(&M, "."), &st) != 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
	    major(st.st_dev), minor(st.st_dev));
	if ((f = fopen(path, "w")) != NULL) {
		fputs("1024", f);
		if (fclose(f) == 0)
			printf("load: %s set to 1024 KiB\n", path);
	}
}

static int
setup_backed_tight(void **state)
{
	int r;

	(void)state;
	strcpy(bkdir, "/tmp/vmofs-loadbk.XXXXXX");
	if ((r = ml_mount_backed(&M, bkdir, "size=4M,compress")) == 0)
		big_readahead();
	return r;
}

static int
teardown_backed(void **state)
{
	(void)state;
	return ml_umount_backed(&M, bkdir);
}

static int
setup_tight(void **state)
{
	(void)state;
	int r;

	if ((r = ml_mount(&M, "size=4M,compress")) == 0)
		big_readahead();
	return r;
}

static int
teardown(void **state)
{
	(void)state;
	return ml_umount(&M);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_compress_tight,
		    setup_tight, teardown),
		cmocka_unit_test_setup_teardown(test_load_backed_tight,
		    setup_backed_tight, teardown_backed),
	};

	ml_watchdog(100);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
