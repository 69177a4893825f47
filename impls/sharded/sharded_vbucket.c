/*
 * sharded_vbucket — 2^k shards of versioned buckets: one cache line per
 * bucket holds a version word, three keys and their values, and a lookup
 * validates the one line it reads.  Writers take their shard's lock;
 * readers write nothing.
 *
 * Why: sharded_seq's hit costs two dependent lines (a tag line, usually in
 * L3, then the slot line, usually in DRAM), and its readers re-read a
 * shard-level sequence counter that every write to the shard changes, so
 * with two cores a reader often finds that line in the other core's cache.
 * Here a hit costs the bucket's line (plus the read-mostly table pointer,
 * which stays cached), and the version a reader checks lives on the line it
 * reads anyway: a write makes only the lines it changes leave other cores'
 * caches.
 *
 * Layout.  The map is one block, aligned to VB_LINE_BYTES:
 *
 *     [ vb_map header + tables[0 .. 2^k-1] | pad | writer 0 | writer 1 | ... ]
 *
 * The header (seed, k) is written only by create(); tables[s] is shard s's
 * current table, written only when that shard grows, so the header line(s)
 * stay shared in every core's cache.  Each vb_writer (lock, count,
 * bookkeeping) is one line of its own that readers never read.  A table is
 * one allocation:
 *
 *     [ vb_table header (one line) | bucket 0 | bucket 1 | ... ]   buckets: 2^j
 *
 *     bucket (64 bytes, one line):
 *       offset  0: _Atomic uint64_t meta
 *       offset  8: keys[0..2]  (_Atomic uint64_t each)
 *       offset 32: vals[0..2]
 *       offset 56: 8 bytes unused (a 4th key/value pair does not fit beside
 *                  the meta)
 *     Keys first, not {key, val} pairs: measured, see "Tried" below.
 *
 *     meta, one word so a reader gets all of it with one load:
 *       bits  0..31  version: odd while a writer changes the bucket's slots,
 *                    and odd forever once the bucket's table was replaced
 *                    by a grown one ("moved": readers then retry on the new
 *                    table)
 *       bits 32..34  used: bit s set = slot s holds an entry
 *       bits 35..63  passed: how many entries' probes passed THROUGH this
 *                    bucket, i.e. entries whose home bucket is this one or
 *                    an earlier one in probe order and that are stored in a
 *                    later one (saturating at VB_PASSED_MAX, then sticky)
 *
 * Keys: u64 -> u64 only (key_bytes = val_bytes = 8): a reader must read key
 * and value as atomic words (trait u64-only).  A slot is occupied by its
 * used bit; an empty slot's key word holds the shard's EMPTY KEY, the
 * smallest key whose hash selects another shard (t->empty_key).  No key
 * looked up in shard s equals s's empty key, so a reader compares the three
 * keys with k and needs no used bit (every key is still a valid key: the
 * empty key of shard s is an ordinary key of some other shard).
 *
 * Hash: h = mb_hash_u64(key, seed); shard = the HIGH k bits of h, home
 * bucket = the low bits (h & mask): independent bits of one hash.
 *
 * Probe: linear over buckets.  An insert puts a new key into the first
 * bucket from its home that has a free slot, and adds 1 to `passed` of every
 * (full) bucket it went past.  A lookup reads its home bucket; if the key is
 * not there and the home's `passed` is 0, no key stored later ever probed
 * from here or earlier, so the answer is "absent" after one line; otherwise
 * it reads the next bucket, by the same rule.  This is F14's (folly)
 * outbound-overflow count, per bucket instead of per 14-slot chunk.
 * Deletion: clear the slot, then subtract 1 from `passed` of the buckets
 * from the key's home up to the one before its bucket: no tombstones, no
 * moves, and a bucket's `passed` is exact again once the writer is done
 * (it never drops below the true count while the writer works: inserts add
 * before they place, deletes subtract after they clear).  Entries never move
 * between buckets except when a table grows.
 *
 * Max load 3/4 of the slots (VB_LOAD_NUM / VB_LOAD_DEN), tables doubling
 * (power-of-two bucket counts): at N = 1e6 in 16 shards each shard has 2^15
 * buckets at load 0.64, where (simulated, random homes) 11.5% of the keys
 * sit past their home bucket, a hit reads 1.19 buckets on average, and 20%
 * of the buckets have passed > 0 (so 80% of misses read one line); the
 * measured longest probe over the 16 shards is 29 buckets.  A lower bound
 * (3/8: load 0.32 at 1e6, twice the memory) made 1e6 hits no faster (50.6
 * vs 51.9 ns/op, one pair of runs, with the branch-free reader of "Tried"):
 * the displaced keys are not what a hit pays for here.
 *
 * Reader (Boehm's seqlock, "Can seqlocks get along with programming
 * language memory models?", 2012, applied per bucket):
 *     t = tables[s] (acquire); b = home bucket of t;
 *     m1 = b->meta (acquire); relaxed loads of the slots' keys (and the
 *     matching slot's val); acquire fence; m2 = b->meta (relaxed);
 *     the bucket's reading stands iff m1 == m2 and m1's version is even.
 * A probe that goes on validates every bucket it reads, one at a time; a
 * reading that does not stand restarts the whole lookup, reloading tables[s]
 * (so a reader that held the old table when it grew moves to the new one).
 * Why per-bucket validation suffices: entries do not move between buckets,
 * so a key present throughout a lookup sits in one bucket j, and every
 * bucket from its home to j has passed >= 1 the whole time; the lookup then
 * reaches j and its validated reading of j finds the key.  A miss therefore
 * means the key was absent at some moment of the lookup; a hit is the value
 * at the moment its bucket was validated.  A probe reads at most every bucket
 * once (bounded even while racing a writer).  The first bucket's read is
 * inline; further buckets and retries are in noinline functions.
 *
 * The reader's slot match branches (key 0, then 1, then 2): measured faster
 * than a branch-free select of the value (see "Tried").
 *
 * Writers, under the shard lock (a test-and-test-and-set spinlock as in
 * sharded_seq: pause while spinning, sched_yield after MB_SPIN_BEFORE_YIELD
 * tries): a change of a bucket's slots is   meta = v + 1 (relaxed); release
 * fence; relaxed stores to the slots; meta = v + 2 with the new used bits
 * (release).  A change of `passed` alone is one release store of the meta
 * with v + 2 (a single word: a reader's m1 is then either wholly before or
 * wholly after it, and its m2 comparison fails if it straddles it).  An
 * insert or delete changes the key's bucket and, when the key is displaced,
 * the `passed` of the buckets before it, in the order given above.  The
 * writers' probe (vb_find_for_write) matches keys as readers do, and also
 * notes the first bucket with room, where a new key goes (one probe).
 *
 * Growth: when an insert would pass 3/4 of the slots, the writer builds a
 * table with twice the buckets (not yet visible, so plain building), puts the
 * key there too, then marks every old bucket moved (meta + 1: odd for good),
 * and then publishes tables[s] (release).  A reader of the old table whose
 * reading of a bucket stands read it before its mark, i.e. while the old
 * table was current and frozen under the grower's lock; any later reading
 * sees odd and retries on the new table.  Readers meeting a moved bucket
 * before the publication spin until it (the rest of the marking loop).
 *
 * Reclamation rule (as sharded_seq, for the same reasons): old tables are
 * NEVER freed during the run; each shard keeps them on a list that destroy()
 * frees.  Epochs would make every lookup announce itself (a store per lookup
 * to a per-thread line), the cost this design exists to avoid; the kept
 * memory is bounded because tables only double and never shrink, so a
 * shard's old tables together are smaller than its current one, and
 * stats.bytes counts them (trait old-tables-kept-until-destroy).
 *
 * Shrink: never (no MB_F_SHRINK); clear() empties the buckets in place and
 * keeps capacity (trait clear-keeps-capacity): a fresh smaller table would
 * retire the current one, growing the kept memory with every clear.
 *
 * Capacity hint: per shard q + 3 sqrt(q) + 1 with q = ceil(hint / 2^k), as
 * `sharded` does (the binomial spread of keys over shards).
 *
 * Lock order: iterate, clear, stats and check take every shard lock in index
 * order.  Errors: an insert that cannot grow returns MB_ENOMEM before it
 * changes anything, so the map is unchanged.
 *
 * Stats: capacity = slots (3 per bucket); max_probe / mean_probe count
 * BUCKETS (lines) a hit reads, 1 = found in its home bucket.
 *
 * Tried (lookup_hit / lookup_miss at N = 1e6 through `mapbench time`, ns/op,
 * swiss in the same run beside it; this 2-core VM is shared and noisy, so
 * only pairs run back to back are compared):
 *   - reader selecting the value branch-free (and-or of the three values by
 *     the key-match mask, used bits consulted): hit 47.1 / 38.3 (swiss
 *     27.7 / 27.9); branching on the slot, used bits consulted: 38.6 / 47.1
 *     (swiss 25.7 / 31.5); branching, no used bits (the empty key): 36.0 /
 *     42.2 (swiss 27.0 / 32.4).  Kept: branching + empty key.  A branch-free
 *     select makes the answer wait on the whole line; the branch lets the
 *     CPU run on into the next lookups.
 *   - each key's preferred slot from its hash, compared first (inserts take
 *     it when free): hit 53.7 / 52.0 vs 41.2 / 40.8 for the fixed order 0,
 *     1, 2.  Rejected.
 *   - {key, val} pairs vs keys first: hit/swiss 1.42 / 1.33 / 1.62 with pairs,
 *     1.12 / 1.22 / 1.25 keys first (three interleaved pairs).  Kept: keys
 *     first.
 *   - prefetching the home bucket (for writing) before the writer's lock, so
 *     the probe after the lock's locked instruction need not wait for DRAM
 *     alone: mb_threads 90/10 T=1 19.5 / 23.3 Mops/s without, 23.0 / 19.9
 *     with; 0/100 T=1 16.4 / 14.6 / 14.2 without, 15.4 / 14.7 / 14.4 with
 *     (interleaved); no effect beyond the noise, so not kept.
 *   - max load 3/8 (above).
 * Why this layout loses at 1e6 on this VM (AMD EPYC, 32 MiB L3): the tables
 * (32 MiB) are about L3's size; swiss and sharded_seq answer a miss, and
 * sharded_seq finds an insert's free slot, from a cache-resident tag array
 * (2 MiB), while here every miss and every insert of a new key must read its
 * bucket's line, and a writer reads it after the lock's locked instruction,
 * which waits for the earlier lookups' misses.  One line per hit does not
 * make up for it: a hit costs one line here, but the tag line sharded_seq
 * reads first is usually cached.  Writers' step 2 (the bucket's version as
 * its lock, no shard lock) was not built: what a write waits for here is its
 * bucket's line, which the version CAS would need as well.
 *
 * Figures, N = 1e6 u64 uniform, this 2-core VM (AMD EPYC, 32 MiB L3),
 * 2026-12-01 15:19-15:31 UTC, load average 1.0-2.6 (other work ran beside
 * it in bursts: ceil_x1, the ceiling's own 2-thread ratio, says how free the
 * 2nd core was).  `mb_threads --n 1000000 --ops 8000000 --mixes 90,100,50,0
 * --threads 1,2 --impl sharded_seq,sharded_vbucket --reps 5`, 8 rounds, the
 * order of the two maps alternating:
 *   90/10  T=1 20.1-26.1 Mops/s (xceil 0.56-0.66; sharded_seq 26.3-31.7,
 *          xceil 0.82-0.88).  T=2 in the rounds with ceil_x1 >= 2: 56.8 and
 *          46.8 (x1 2.16 and 2.14, xceil 0.62 and 0.68); sharded_seq in its
 *          such rounds 43.2-64.9 (x1 1.44-2.01, xceil 0.64-0.80).
 *   100/0  T=1 21.6-28.5 (xceil 0.66-0.84; sharded_seq 28.5-35.6); T=2 61.3
 *          (x1 2.15, xceil 0.66) in its one round with ceil_x1 >= 2.
 *   50/50  T=1 15.5-22.0 (xceil 0.42-0.46; sharded_seq 21.7-26.5);
 *   0/100  T=1 14.7-17.7 (xceil 0.12-0.14; sharded_seq 19.4-23.6).
 * So it scales from 1 to 2 threads as well as the ceiling does (no line that
 * every write changes is read by every lookup), but from a lower 1-thread
 * rate, and it does NOT beat sharded_seq at 90/10, T=2.
 * callgrind (`mapbench run --metric icount`, hint 0, harness loop included):
 * lookup_hit 219.3 Ir/op (sharded_seq 224.0, swiss 205.0), lookup_miss 176.0
 * (163.7, 142.8), insert 421.8 (345.5, 244.0; 470.3 before growth's plain
 * put, vb_put_unpublished).  Memory after inserting 1e6 keys without a hint
 * (`mapbench mem-case`): 67.1 bytes/entry including the kept tables (the
 * current tables alone: 33.6), sharded_seq 71.3, swiss 35.7.
 */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../mb_map.h"

#define VB_LINE_BYTES 64u
#define VB_SLOTS 3u
#define VB_DEFAULT_LOG2 4u     /* 16 shards, as `sharded` (see its top comment) */
_Static_assert(VB_DEFAULT_LOG2 >= 1, "the empty key needs a second shard to belong to");
#define VB_MAX_LOG2 16u
#define VB_MIN_BUCKETS 4u      /* 12 slots */
#ifndef VB_LOAD_NUM
#define VB_LOAD_NUM 3u         /* max load VB_LOAD_NUM / VB_LOAD_DEN of the slots */
#define VB_LOAD_DEN 4u
#endif

/* meta word fields (see the top comment) */
#define VB_VERSION_MASK 0xffffffffull
#define VB_USED_SHIFT 32
#define VB_USED_MASK (7ull << VB_USED_SHIFT)
#define VB_PASSED_SHIFT 35
#define VB_PASSED_MAX ((1ull << 29) - 1)
#define VB_PASSED_ONE (1ull << VB_PASSED_SHIFT)

#define VB_INLINE static inline __attribute__((always_inline))

static inline void vb_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* ---- the writers' lock (shard.h: the spinlock sharded_seq uses too) --------------- */

#define MB_SHARD_LOCK_SPIN 1
#include "shard.h"

/* ---- layout ------------------------------------------------------------------- */

typedef struct vb_bucket {
    alignas(VB_LINE_BYTES) _Atomic uint64_t meta; /* version | used | passed */
    _Atomic uint64_t keys[VB_SLOTS];
    _Atomic uint64_t vals[VB_SLOTS];
} vb_bucket;

_Static_assert(sizeof(vb_bucket) == VB_LINE_BYTES, "a bucket must be exactly one cache line");
_Static_assert(VB_SLOTS <= 3, "the used field has 3 bits");

typedef struct vb_table {
    alignas(VB_LINE_BYTES) struct vb_table *older; /* the shard's previous table (kept) */
    size_t mask;                                   /* buckets - 1 */
    size_t bytes;                                  /* this allocation */
    uint64_t empty_key;                            /* the key every empty slot holds */
    vb_bucket buckets[];                           /* mask + 1 of them */
} vb_table;

_Static_assert(offsetof(vb_table, buckets) == VB_LINE_BYTES, "buckets start on a line");

/* What only the shard's writers touch: one line, never read by a lookup. */
typedef struct vb_writer {
    alignas(VB_LINE_BYTES) mb_shard_lock lock;
    size_t count;       /* live entries (under lock) */
    size_t kept_bytes;  /* bytes of the older tables */
    size_t grow_events;
} vb_writer;

_Static_assert(sizeof(vb_writer) == VB_LINE_BYTES, "a shard's writer state is one line");

typedef struct vb_map {
    alignas(VB_LINE_BYTES) mb_alloc alloc;
    uint64_t seed;
    unsigned shards_log2;
    size_t nshards;
    size_t block_bytes;
    vb_writer *writers;            /* inside the block, after tables[] */
    _Atomic(vb_table *) tables[];  /* nshards: read-mostly (written on growth) */
} vb_map;

static size_t vb_writers_offset(size_t nshards)
{
    size_t end = sizeof(vb_map) + nshards * sizeof(_Atomic(vb_table *));
    return (end + VB_LINE_BYTES - 1) & ~(size_t)(VB_LINE_BYTES - 1);
}

static size_t vb_block_bytes(size_t nshards)
{
    return vb_writers_offset(nshards) + nshards * sizeof(vb_writer);
}

static size_t vb_table_bytes(size_t buckets)
{
    return sizeof(vb_table) + buckets * sizeof(vb_bucket);
}

static uint64_t vb_load_key(const void *key)
{
    uint64_t k;
    memcpy(&k, key, 8);
    return k;
}

static uint64_t vb_hash(const vb_map *m, uint64_t k)
{
    return mb_hash_u64(k, m->seed);
}

static size_t vb_shard_index(const vb_map *m, uint64_t h)
{
    /* the high k bits, branch-free also for k = 0: (h >> 1) has bit 63 clear */
    return (size_t)((h >> 1) >> (63 - m->shards_log2));
}

static size_t vb_home(const vb_table *t, uint64_t h)
{
    return (size_t)h & t->mask;
}

static size_t vb_max_entries(size_t buckets)
{
    return buckets * VB_SLOTS / VB_LOAD_DEN * VB_LOAD_NUM;
}

static uint64_t vb_passed(uint64_t meta)
{
    return meta >> VB_PASSED_SHIFT;
}

static bool vb_slot_used(uint64_t meta, unsigned s)
{
    return (meta >> (VB_USED_SHIFT + s)) & 1;
}

static bool vb_full(uint64_t meta)
{
    return (meta & VB_USED_MASK) == VB_USED_MASK;
}

static uint64_t vb_meta(const vb_bucket *b)
{
    return atomic_load_explicit(&b->meta, memory_order_relaxed);
}

static uint64_t vb_key_at(const vb_bucket *b, unsigned s)
{
    return atomic_load_explicit(&b->keys[s], memory_order_relaxed);
}

static uint64_t vb_val_at(const vb_bucket *b, unsigned s)
{
    return atomic_load_explicit(&b->vals[s], memory_order_relaxed);
}

/* Returns an empty table with room for `entries` whose empty slots hold
 * empty_key, or NULL. */
static vb_table *vb_table_new(const mb_alloc *a, size_t entries, uint64_t empty_key)
{
    size_t buckets = VB_MIN_BUCKETS;
    while (vb_max_entries(buckets) < entries)
        buckets *= 2;
    size_t bytes = vb_table_bytes(buckets);
    vb_table *t = mb_alloc_bytes(a, bytes, VB_LINE_BYTES);
    if (!t)
        return NULL;
    memset(t, 0, bytes); /* before publication: nobody else can see it */
    t->mask = buckets - 1;
    t->bytes = bytes;
    t->empty_key = empty_key;
    for (size_t i = 0; i < buckets; i++)
        for (unsigned s = 0; s < VB_SLOTS; s++)
            atomic_init(&t->buckets[i].keys[s], empty_key);
    return t;
}

/* ---- reading a bucket ------------------------------------------------------------- */

/* Returns the slot of b whose key is k, or VB_SLOTS (readers and writers).  An
 * empty slot holds the shard's empty key, which no key looked up in this
 * shard equals, so the used bits need not be consulted (a reading that
 * stands saw a consistent bucket).  Branches: the CPU predicts a slot and
 * goes on to the next operation's loads while this bucket's line arrives. */
VB_INLINE unsigned vb_match_reader(const vb_bucket *b, uint64_t k)
{
    return vb_key_at(b, 0) == k ? 0 : vb_key_at(b, 1) == k ? 1 : vb_key_at(b, 2) == k ? 2 : VB_SLOTS;
}

enum { VB_RACED = -2 }; /* a reading that did not stand: restart the lookup */

/* The reader's probe of t from bucket i on (its first bucket already read by
 * the caller when `from_home` is false).  Returns MB_FOUND (value in *v),
 * MB_NOTFOUND, or VB_RACED.  Reads at most every bucket once. */
static int vb_probe(const vb_table *t, size_t i, uint64_t k, uint64_t *v)
{
    for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
        const vb_bucket *b = &t->buckets[i];
        uint64_t m1 = atomic_load_explicit(&b->meta, memory_order_acquire), x = 0;
        unsigned s = vb_match_reader(b, k);
        if (s < VB_SLOTS)
            x = vb_val_at(b, s);
        atomic_thread_fence(memory_order_acquire);
        if ((m1 & 1) | (vb_meta(b) != m1))
            return VB_RACED;
        if (s < VB_SLOTS) {
            *v = x;
            return MB_FOUND;
        }
        if (vb_passed(m1) == 0)
            return MB_NOTFOUND;
    }
    return MB_NOTFOUND; /* every bucket read and validated: k was in none */
}

/* Everything but the first bucket's first read: later buckets, retries after
 * a reading overlapped a writer (or the table was replaced). */
static __attribute__((noinline)) int vb_lookup_slow(vb_map *m, uint64_t h, uint64_t k,
                                                    const vb_table *t, size_t from,
                                                    void *val_out)
{
    uint64_t v = 0;
    int r = t ? vb_probe(t, from, k, &v) : VB_RACED;
    while (r == VB_RACED) {
        vb_pause();
        t = atomic_load_explicit(&m->tables[vb_shard_index(m, h)], memory_order_acquire);
        r = vb_probe(t, vb_home(t, h), k, &v);
    }
    if (r == MB_FOUND && val_out)
        memcpy(val_out, &v, 8);
    return r;
}

/* One optimistic read of the home bucket inline; anything more (a displaced
 * key, a reading that overlapped a writer) goes to vb_lookup_slow. */
static int vb_lookup(void *mp, const void *key, void *val_out)
{
    vb_map *m = mp;
    uint64_t k = vb_load_key(key), h = vb_hash(m, k), v = 0;
    const vb_table *t = atomic_load_explicit(&m->tables[vb_shard_index(m, h)],
                                             memory_order_acquire);
    size_t i = vb_home(t, h);
    const vb_bucket *b = &t->buckets[i];
    uint64_t m1 = atomic_load_explicit(&b->meta, memory_order_acquire);
    unsigned s = vb_match_reader(b, k);
    if (s < VB_SLOTS)
        v = vb_val_at(b, s);
    atomic_thread_fence(memory_order_acquire);
    if (__builtin_expect((m1 & 1) | (vb_meta(b) != m1), 0))
        return vb_lookup_slow(m, h, k, NULL, 0, val_out);
    if (s < VB_SLOTS) {
        if (val_out)
            memcpy(val_out, &v, 8);
        return MB_FOUND;
    }
    if (vb_passed(m1) == 0)
        return MB_NOTFOUND;
    return vb_lookup_slow(m, h, k, t, (i + 1) & t->mask, val_out);
}

/* ---- writing a bucket (PRECONDITION for all: the shard lock is held) -------------- */

/* Opens b's odd section and returns the meta it had. */
static uint64_t vb_write_begin(vb_bucket *b)
{
    uint64_t m0 = vb_meta(b);
    atomic_store_explicit(&b->meta, m0 + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    return m0;
}

/* Closes the odd section opened when the meta was m0, with new used bits /
 * passed taken from `fields` (a meta whose version bits are ignored). */
static void vb_write_end(vb_bucket *b, uint64_t m0, uint64_t fields)
{
    uint64_t version = (m0 + 2) & VB_VERSION_MASK;
    atomic_store_explicit(&b->meta, (fields & ~VB_VERSION_MASK) | version, memory_order_release);
}

/* Adds delta (+1 or -1) to b's passed count: one store, version + 2.  A
 * saturated count stays (see the top comment). */
static void vb_passed_add(vb_bucket *b, int delta)
{
    uint64_t m0 = vb_meta(b), p = vb_passed(m0);
    if (p == VB_PASSED_MAX)
        return;
    uint64_t fields = delta > 0 ? m0 + VB_PASSED_ONE : m0 - VB_PASSED_ONE;
    uint64_t version = (m0 + 2) & VB_VERSION_MASK;
    atomic_store_explicit(&b->meta, (fields & ~VB_VERSION_MASK) | version, memory_order_release);
}

static unsigned vb_free_slot(uint64_t meta)
{
    unsigned s = 0;
    while (vb_slot_used(meta, s))
        s++;
    return s; /* PRECONDITION: the bucket is not full */
}

/* Puts k -> v into bucket j of t, whose probe from `home` passed the full
 * buckets home .. j-1: their passed counts first, then the slot (so a reader
 * never finds the key and then, on a later lookup, misses it). */
static void vb_place(vb_table *t, size_t home, size_t j, uint64_t k, uint64_t v)
{
    for (size_t c = home; c != j; c = (c + 1) & t->mask)
        vb_passed_add(&t->buckets[c], +1);
    vb_bucket *b = &t->buckets[j];
    uint64_t m0 = vb_write_begin(b);
    unsigned s = vb_free_slot(m0);
    atomic_store_explicit(&b->keys[s], k, memory_order_relaxed);
    atomic_store_explicit(&b->vals[s], v, memory_order_relaxed);
    vb_write_end(b, m0, m0 | 1ull << (VB_USED_SHIFT + s));
}

/* The writer's probe.  Returns true with (*at, *slot) where k lives, or false
 * with *at = the first bucket from k's home with a free slot (where k goes).
 * PRECONDITION: the lock is held and t has a free slot. */
static bool vb_find_for_write(const vb_table *t, uint64_t h, uint64_t k, size_t *at,
                              unsigned *slot)
{
    size_t i = vb_home(t, h), room = SIZE_MAX;
    for (size_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
        const vb_bucket *b = &t->buckets[i];
        uint64_t m1 = vb_meta(b);
        unsigned s = vb_match_reader(b, k); /* the lock holder's bucket is consistent */
        if (s < VB_SLOTS) {
            *at = i;
            *slot = s;
            return true;
        }
        if (room == SIZE_MAX && !vb_full(m1))
            room = i;
        if (vb_passed(m1) == 0)
            break;
    }
    if (room == SIZE_MAX) { /* stopped at a full bucket i: room lies beyond it */
        room = i;
        while (vb_full(vb_meta(&t->buckets[room])))
            room = (room + 1) & t->mask;
    }
    *at = room;
    return false;
}

/* Insert into a table nobody else can see yet (growth): k absent, room for
 * it.  No reader can be inside it, so no odd sections and no version bumps:
 * the passed counts and the slot are set with plain (relaxed) stores, and the
 * publication's release store orders them all before any reader. */
static void vb_put_unpublished(vb_table *t, uint64_t h, uint64_t k, uint64_t v)
{
    size_t j = vb_home(t, h);
    uint64_t mj;
    while (vb_full(mj = vb_meta(&t->buckets[j]))) {
        if (vb_passed(mj) != VB_PASSED_MAX)
            atomic_store_explicit(&t->buckets[j].meta, mj + VB_PASSED_ONE, memory_order_relaxed);
        j = (j + 1) & t->mask;
    }
    vb_bucket *b = &t->buckets[j];
    unsigned s = 0;
    while (vb_slot_used(mj, s))
        s++;
    atomic_store_explicit(&b->keys[s], k, memory_order_relaxed);
    atomic_store_explicit(&b->vals[s], v, memory_order_relaxed);
    atomic_store_explicit(&b->meta, mj | 1ull << (VB_USED_SHIFT + s), memory_order_relaxed);
}

/* ---- create / destroy --------------------------------------------------------------- */

static void vb_free_tables(const mb_alloc *a, vb_table *t)
{
    while (t) {
        vb_table *older = t->older;
        mb_free_bytes(a, t, t->bytes, VB_LINE_BYTES);
        t = older;
    }
}

static void vb_destroy(void *mp)
{
    vb_map *m = mp;
    mb_alloc a = m->alloc;
    for (size_t s = 0; s < m->nshards; s++)
        vb_free_tables(&a, atomic_load_explicit(&m->tables[s], memory_order_relaxed));
    mb_free_bytes(&a, m, m->block_bytes, VB_LINE_BYTES);
}

/* Returns the key shard s's empty slots hold: the smallest key whose hash
 * selects another shard, so no key ever looked up in shard s equals it.
 * PRECONDITION: k >= 1 (two shards at least). */
static uint64_t vb_empty_key(const vb_map *m, size_t s)
{
    uint64_t k = 0;
    while (vb_shard_index(m, vb_hash(m, k)) == s)
        k++;
    return k;
}

static void *vb_create(const mb_alloc *a, const mb_map_config *cfg)
{
    if (cfg->key_bytes != 8 || cfg->val_bytes != 8)
        return NULL;
    unsigned k = cfg->shards_log2 ? cfg->shards_log2 : VB_DEFAULT_LOG2;
    if (k > VB_MAX_LOG2)
        k = VB_MAX_LOG2;
    size_t nshards = (size_t)1 << k, bytes = vb_block_bytes(nshards);
    vb_map *m = mb_alloc_bytes(a, bytes, VB_LINE_BYTES);
    if (!m)
        return NULL;
    memset(m, 0, bytes);
    m->alloc = *a;
    m->seed = cfg->seed;
    m->shards_log2 = k;
    m->block_bytes = bytes;
    m->writers = (vb_writer *)((char *)m + vb_writers_offset(nshards));
    size_t hint = mb_shard_hint(cfg->capacity_hint, k);
    for (size_t s = 0; s < nshards; s++) {
        vb_table *t = vb_table_new(a, hint, vb_empty_key(m, s));
        if (!t) {
            vb_destroy(m); /* the m->nshards shards built so far */
            return NULL;
        }
        mb_shard_lock_init(&m->writers[s].lock);
        atomic_init(&m->tables[s], t);
        m->nshards = s + 1;
    }
    return m;
}

/* ---- ops ------------------------------------------------------------------------------ */

/* Builds the doubled table of t holding t's entries and k -> v.  Returns it
 * (unpublished) or NULL.  PRECONDITION: the lock is held. */
static vb_table *vb_grown(const vb_map *m, const vb_table *t, size_t entries, uint64_t h,
                          uint64_t k, uint64_t v)
{
    size_t buckets = (t->mask + 1) * 2;
    while (vb_max_entries(buckets) < entries)
        buckets *= 2;
    vb_table *nt = vb_table_new(&m->alloc, vb_max_entries(buckets), t->empty_key);
    if (!nt)
        return NULL;
    for (size_t i = 0; i <= t->mask; i++) {
        const vb_bucket *b = &t->buckets[i];
        uint64_t mb = vb_meta(b);
        for (unsigned s = 0; s < VB_SLOTS; s++) {
            if (vb_slot_used(mb, s)) {
                uint64_t ks = vb_key_at(b, s);
                vb_put_unpublished(nt, vb_hash(m, ks), ks, vb_val_at(b, s));
            }
        }
    }
    vb_put_unpublished(nt, h, k, v);
    return nt;
}

static int vb_insert(void *mp, const void *key, const void *val)
{
    vb_map *m = mp;
    uint64_t k = vb_load_key(key), h = vb_hash(m, k), v;
    size_t si = vb_shard_index(m, h);
    vb_writer *w = &m->writers[si];
    memcpy(&v, val, 8);

    mb_shard_lock_acquire(&w->lock);
    vb_table *t = atomic_load_explicit(&m->tables[si], memory_order_relaxed);
    size_t at;
    unsigned slot = 0;
    if (vb_find_for_write(t, h, k, &at, &slot)) {
        vb_bucket *b = &t->buckets[at];
        uint64_t m0 = vb_write_begin(b);
        atomic_store_explicit(&b->vals[slot], v, memory_order_relaxed);
        vb_write_end(b, m0, m0);
        mb_shard_lock_release(&w->lock);
        return MB_REPLACED;
    }
    if (w->count + 1 > vb_max_entries(t->mask + 1)) {
        vb_table *nt = vb_grown(m, t, w->count + 1, h, k, v);
        if (!nt) {
            mb_shard_lock_release(&w->lock);
            return MB_ENOMEM; /* nothing was changed */
        }
        for (size_t i = 0; i <= t->mask; i++) /* moved: odd for good (see the top) */
            atomic_store_explicit(&t->buckets[i].meta, vb_meta(&t->buckets[i]) + 1,
                                  memory_order_relaxed);
        nt->older = t;
        w->kept_bytes += t->bytes;
        w->grow_events++;
        atomic_store_explicit(&m->tables[si], nt, memory_order_release);
    } else {
        vb_place(t, vb_home(t, h), at, k, v);
    }
    w->count++;
    mb_shard_lock_release(&w->lock);
    return MB_INSERTED;
}

static int vb_remove(void *mp, const void *key)
{
    vb_map *m = mp;
    uint64_t k = vb_load_key(key), h = vb_hash(m, k);
    size_t si = vb_shard_index(m, h);
    vb_writer *w = &m->writers[si];

    mb_shard_lock_acquire(&w->lock);
    vb_table *t = atomic_load_explicit(&m->tables[si], memory_order_relaxed);
    size_t at;
    unsigned slot = 0;
    bool found = vb_find_for_write(t, h, k, &at, &slot);
    if (found) {
        vb_bucket *b = &t->buckets[at];
        uint64_t m0 = vb_write_begin(b);
        atomic_store_explicit(&b->keys[slot], t->empty_key, memory_order_relaxed);
        atomic_store_explicit(&b->vals[slot], 0, memory_order_relaxed);
        vb_write_end(b, m0, m0 & ~(1ull << (VB_USED_SHIFT + slot)));
        /* the slot first, then the counts of the buckets its probe passed */
        for (size_t c = vb_home(t, h); c != at; c = (c + 1) & t->mask)
            vb_passed_add(&t->buckets[c], -1);
        w->count--;
    }
    mb_shard_lock_release(&w->lock);
    return found ? MB_FOUND : MB_NOTFOUND;
}

static void vb_lock_all(vb_map *m)
{
    for (size_t s = 0; s < m->nshards; s++)
        mb_shard_lock_acquire(&m->writers[s].lock);
}

static void vb_unlock_all(vb_map *m)
{
    for (size_t s = m->nshards; s-- > 0;)
        mb_shard_lock_release(&m->writers[s].lock);
}

static void vb_clear(void *mp)
{
    vb_map *m = mp;
    vb_lock_all(m);
    for (size_t s = 0; s < m->nshards; s++) {
        vb_table *t = atomic_load_explicit(&m->tables[s], memory_order_relaxed);
        for (size_t i = 0; i <= t->mask; i++) {
            vb_bucket *b = &t->buckets[i];
            if (!(vb_meta(b) & ~VB_VERSION_MASK))
                continue; /* empty and passed by nothing */
            uint64_t m0 = vb_write_begin(b);
            for (unsigned j = 0; j < VB_SLOTS; j++) {
                atomic_store_explicit(&b->keys[j], t->empty_key, memory_order_relaxed);
                atomic_store_explicit(&b->vals[j], 0, memory_order_relaxed);
            }
            vb_write_end(b, m0, 0);
        }
        m->writers[s].count = 0;
    }
    vb_unlock_all(m);
}

/* PRECONDITION: fn does not call into this map (every shard lock is held). */
static int vb_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    vb_map *m = mp;
    int r = 0;
    vb_lock_all(m);
    for (size_t s = 0; s < m->nshards && r == 0; s++) {
        const vb_table *t = atomic_load_explicit(&m->tables[s], memory_order_relaxed);
        for (size_t i = 0; i <= t->mask && r == 0; i++) {
            const vb_bucket *b = &t->buckets[i];
            uint64_t mb = vb_meta(b);
            for (unsigned j = 0; j < VB_SLOTS && r == 0; j++) {
                if (!vb_slot_used(mb, j))
                    continue;
                uint64_t k = vb_key_at(b, j), v = vb_val_at(b, j);
                r = fn(ud, &k, &v);
            }
        }
    }
    vb_unlock_all(m);
    return r;
}

/* ---- stats ---------------------------------------------------------------------------- */

static void vb_stats(const void *mp, mb_map_stats *out)
{
    vb_map *m = (vb_map *)mp; /* the locks are the only thing written */
    double probes = 0;
    mb_stats_init(out);
    out->count = out->capacity = out->max_probe = out->grow_events = 0;
    out->shrink_events = out->rehash_events = 0;
    out->bytes = m->block_bytes;
    vb_lock_all(m);
    for (size_t s = 0; s < m->nshards; s++) {
        const vb_writer *w = &m->writers[s];
        const vb_table *t = atomic_load_explicit(&m->tables[s], memory_order_relaxed);
        out->count += w->count;
        out->capacity += (t->mask + 1) * VB_SLOTS;
        out->grow_events += w->grow_events;
        out->bytes += t->bytes + w->kept_bytes;
        for (size_t i = 0; i <= t->mask; i++) {
            const vb_bucket *b = &t->buckets[i];
            uint64_t mb = vb_meta(b);
            for (unsigned j = 0; j < VB_SLOTS; j++) {
                if (!vb_slot_used(mb, j))
                    continue;
                size_t p = ((i - vb_home(t, vb_hash(m, vb_key_at(b, j)))) & t->mask) + 1;
                probes += (double)p;
                if (p > out->max_probe)
                    out->max_probe = p;
            }
        }
    }
    vb_unlock_all(m);
    out->mean_probe = out->count ? probes / (double)out->count : 0.0;
}

/* ---- check ---------------------------------------------------------------------------- */

/* How far (in buckets) the farthest entry of t lies from its home. */
static size_t vb_max_displacement(const vb_map *m, const vb_table *t)
{
    size_t d = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        const vb_bucket *b = &t->buckets[i];
        for (unsigned j = 0; j < VB_SLOTS; j++) {
            if (!vb_slot_used(vb_meta(b), j))
                continue;
            size_t dj = (i - vb_home(t, vb_hash(m, vb_key_at(b, j)))) & t->mask;
            d = dj > d ? dj : d;
        }
    }
    return d;
}

/* The exact passed count of bucket c: entries stored after c whose home is c
 * or earlier (cyclically), found among the `maxd` buckets after c. */
static uint64_t vb_exact_passed(const vb_map *m, const vb_table *t, size_t c, size_t maxd)
{
    uint64_t n = 0;
    for (size_t d = 1; d <= maxd; d++) {
        size_t j = (c + d) & t->mask;
        const vb_bucket *b = &t->buckets[j];
        for (unsigned s = 0; s < VB_SLOTS; s++) {
            if (!vb_slot_used(vb_meta(b), s))
                continue;
            size_t home = vb_home(t, vb_hash(m, vb_key_at(b, s)));
            if (((j - home) & t->mask) >= d) /* its probe started at or before c */
                n++;
        }
    }
    return n;
}

static const char *vb_check_shard(const vb_map *m, size_t si)
{
    const vb_writer *w = &m->writers[si];
    const vb_table *t = atomic_load_explicit(&m->tables[si], memory_order_relaxed);
    size_t used = 0, kept = 0, buckets = t->mask + 1;
    if (buckets & t->mask || buckets < VB_MIN_BUCKETS)
        return "a table's bucket count is not a power of two >= VB_MIN_BUCKETS";
    if (t->bytes != vb_table_bytes(buckets))
        return "a table's bytes do not match its buckets";
    size_t maxd = vb_max_displacement(m, t);
    for (size_t i = 0; i <= t->mask; i++) {
        const vb_bucket *b = &t->buckets[i];
        uint64_t mb = vb_meta(b);
        if (mb & 1)
            return "a bucket's version is odd outside a write";
        uint64_t exact = vb_exact_passed(m, t, i, maxd), p = vb_passed(mb);
        if (p != exact && p != VB_PASSED_MAX)
            return "a bucket's passed count is not the number of entries whose probe passed it";
        for (unsigned s = 0; s < VB_SLOTS; s++) {
            uint64_t k = vb_key_at(b, s);
            if (!vb_slot_used(mb, s)) {
                if (k != t->empty_key || vb_val_at(b, s))
                    return "an empty slot holds a key other than the shard's empty key, or a value";
                continue;
            }
            uint64_t h = vb_hash(m, k), v;
            used++;
            if (vb_shard_index(m, h) != si)
                return "a key lives in a shard its hash does not select";
            size_t at;
            unsigned slot;
            if (!vb_find_for_write(t, h, k, &at, &slot) || at != i || slot != s)
                return "an entry is not found by probing from its home (or is a duplicate)";
            if (vb_probe(t, vb_home(t, h), k, &v) != MB_FOUND || v != vb_val_at(b, s))
                return "the reader's probe does not find an entry";
        }
    }
    if (used != w->count)
        return "a shard's count does not match its occupied slots";
    if (used > vb_max_entries(buckets))
        return "a table is above load 3/4";
    size_t newer_mask = t->mask;
    for (const vb_table *o = t->older; o; newer_mask = o->mask, o = o->older) {
        if (o->mask >= newer_mask)
            return "a kept table is not smaller than its successor";
        for (size_t i = 0; i <= o->mask; i++)
            if (!(vb_meta(&o->buckets[i]) & 1))
                return "a kept table's bucket is not marked moved (odd)";
        kept += o->bytes;
    }
    if (kept != w->kept_bytes)
        return "kept_bytes does not match the kept tables";
    return NULL;
}

static const char *vb_check(const void *mp)
{
    vb_map *m = (vb_map *)mp;
    const char *why = NULL;
    if (m->nshards != (size_t)1 << m->shards_log2 || m->block_bytes != vb_block_bytes(m->nshards) ||
        m->writers != (vb_writer *)((char *)m + vb_writers_offset(m->nshards)))
        return "the shard count does not match shards_log2 and the block layout";
    vb_lock_all(m);
    for (size_t s = 0; s < m->nshards && !why; s++)
        why = vb_check_shard(m, s);
    vb_unlock_all(m);
    return why;
}

const mb_map_ops mb_sharded_vbucket_ops = {
    .name = "sharded_vbucket",
    .family = "sharded",
    .traits = "thread-safe,lock-free-reads,seqlock-per-bucket,lock-per-shard-writers,"
              "spinlock-writers,line-buckets,3-slots-per-line,overflow-counts,u64-only,"
              "old-tables-kept-until-destroy,no-shrink,clear-keeps-capacity,no-tombstones",
    .flags = MB_F_THREAD_SAFE | MB_F_OWN_ALLOC,
    .create = vb_create,
    .destroy = vb_destroy,
    .insert = vb_insert,
    .lookup = vb_lookup,
    .remove = vb_remove,
    .clear = vb_clear,
    .iterate = vb_iterate,
    .stats = vb_stats,
    .check = vb_check,
};
