/*
 * sharded_seq — 2^k shards whose lookups take no lock: each shard is a
 * seqlock over an open-addressing table of atomic words.  Writers take the
 * shard's lock; readers write nothing at all.
 *
 * Why: `sharded` takes its shard's mutex on every lookup, so every op writes
 * the mutex's line, and with two cores that line is usually in the other
 * core's cache (issue 14 measured 1.06x from 1 to 2 threads).  Here a lookup
 * only reads: its shard's line (sequence counter + table pointer) stays
 * shared in every core's cache until a writer changes that shard.
 *
 * Layout: one block, aligned to SQ_LINE_BYTES:
 *
 *     [ sq_map header | shard 0 | shard 1 | ... ]
 *
 * The header is written only by create().  Each shard is two lines: the
 * first holds what readers read (seq, table) and the live count, the second
 * the writers' lock and the bookkeeping only writers touch.  A shard's
 * table is a separate allocation, tags first (as swiss keeps its control
 * bytes apart from its slots):
 *
 *     [ sq_table header | tag 0 .. tag S-1 | pad to 16 | slot 0 .. slot S-1 ]
 *     tag  = _Atomic uint8_t: 0 empty, else 0x80 | 7 bits of the hash
 *     slot = { _Atomic uint64_t key, val }
 *
 * every tag and word accessed with relaxed atomics (so a reader racing a
 * writer is not a data race, and TSan agrees).  Why tags apart: a probe
 * scans tags, one byte per slot, 64 slots per line, and touches a slot only
 * on a tag match, so a miss usually costs one tag line, and at N = 1e6 the
 * tags of all shards (2 MB) mostly stay in cache while the slots (32 MB) do
 * not.  (The first version kept a 64-bit meta word in 24-byte slots: its
 * misses ran at 1/3 of swiss's rate.)
 *
 * Keys: u64 -> u64 only (key_bytes = val_bytes = 8): a reader must read the
 * key and value as atomic words, and the suite's wider blueprints would need
 * word-by-word atomic copies (trait u64-only).
 *
 * Hash: h = mb_hash_u64(key, seed); shard = the HIGH k bits of h, home slot
 * = bits 1.. ((h >> 1) & mask), tag = bits 48..54: independent bits of one
 * hash, one hash per op.  (A shard's keys share their top k bits, so the
 * tag must not come from the top.)
 *
 * Probe: linear, max load 3/4 (linear probing's expected probe length grows
 * as 1/(1-a)^2 for misses: 16 slots at 3/4, 64 at 7/8; the table is the
 * reader's whole cost, so memory is traded for short probes), deletion by
 * backward shift (a moved entry's home is recomputed from its key's hash),
 * so there are no tombstones and a table never needs a same-size rebuild.
 * A reader's probe is bounded by the slot count, so a reader racing a shift
 * always terminates (and then retries).
 *
 * Seqlock protocol (Boehm, "Can seqlocks get along with programming
 * language memory models?", 2012):
 *   writer: lock; s = seq; store seq = s + 1 (relaxed); release fence;
 *           relaxed stores to slots / table pointer; store seq = s + 2
 *           (release); unlock.
 *   reader: s1 = load seq (acquire); if odd, retry; t = load table
 *           (acquire); relaxed loads of the probe; acquire fence;
 *           s2 = load seq (relaxed); the answer stands iff s1 == s2.
 * The answer is written to val_out only once it stands.
 *
 * The reader's path: one optimistic read inline (hash, shard line, table
 * header, tags, slot, seq again; the odd check waits until the end, since
 * reading a table mid-write is safe: atomic words, a bounded probe), the
 * probe inlined, the shard picked without a branch, and the retry loop a
 * separate noinline function reached only when the read overlapped a
 * writer.  callgrind, N = 1e6 u64 (harness loop included): lookup_hit
 * 243.0 -> 224.0 Ir/op, lookup_miss 183.7 -> 163.6 (swiss 205.0, 142.8);
 * then 220.6 and 161.3 (insert with a hint 176.2 -> 163.2), 2026-12-02:
 * the shard's byte offset is one shift and one and of h (shard_shift,
 * shard_offset_mask), one comparison, seq against s1 with its low bit
 * cleared, catches both an odd s1 and a changed seq, and the probe reads
 * the table's mask once.  Wall time, paired against the file before (90/10,
 * a busy host): 1.01 at T=1, 1.04 at T=2 (20 rounds), then 0.96 / 1.03
 * (16): no change that this host can show.  Then (2026-12-02 08:00) 217.6
 * and 159.3, delete_all 193.5 -> 175.4: the seed is mixed once at create
 * (mb_hash_u64_mixed: one xor and one 64-bit constant fewer per hash), the
 * probe and the seq check are one function (sq_read) whose every exit has
 * its own path to the check (the old reader tested "found?" a second time),
 * and remove inlines the writers' probe.  Wall time, paired by each run's
 * best rep (/work/issues/s19/abmax.py, 20 rounds): 0.995 at T=1, 1.03 at
 * T=2; by medians 1.00 / 1.02 (16 rounds): no loss.
 * Why instructions count here, not only lines: at N = 1e6 the lookups are
 * independent DRAM misses, and how many overlap is bounded by how many
 * lookups fit in the core's reorder window.  Sixteen nops added to this
 * reader (about 84 instructions a lookup with the harness loop) cost 12%
 * of read-only throughput at T=1 (0.877, 16 paired rounds).  swiss runs
 * fewer instructions a lookup (44 against 57 in the mixed loop) but its
 * slot load waits for its control bytes; this reader's slot load does not
 * wait for the tag, so the two meet at about the same rate.
 * Tried and rejected by wall time: matching 8 tags per relaxed 64-bit load
 * (SWAR, as swiss matches 16 with SSE2) ran at 0.5 of the ceiling where
 * this byte loop ran at 0.85 (1 thread, 90% and 100% lookups): with SWAR the
 * slot's index depends on the loaded tag word, so the slot's cache miss
 * waits for the tag's; the byte loop's branch predicts "the home slot
 * matches" and the CPU issues the home slot's key load beside the tag load.
 * Prefetching the home slot won that back but no more, and it cost more
 * instructions (91 vs 64 per hit).
 *
 * What the writes cost at 90/10 (N = 1e6, mb_threads, the 2-core VM).  With
 * every insert and remove a no-op (an unsafe build, 1 thread), throughput
 * rose 1.10x, to the ceiling: the lookups match swiss, and the 10% writes
 * cost the rest.  The locked exchange is not that cost: in a bare loop of
 * random loads over 32 MB, an xchg every 10th op cost 0.5-1.7% (12.87 ->
 * 12.94 and 13.82 -> 14.06 ns/op, two runs).  Tried against this file and
 * not kept (ratio of xceil, the variant's to this file's, paired per round,
 * 12-16 rounds in alternating order; this build against a copy of itself
 * reads 1.00 at T=1, 0.99 at T=2, and 0.96 for both when the copy always
 * runs second, as in the runs marked "not paired", which are therefore no
 * change):
 *   prefetching the write's home tag and slot lines before the lock
 *     (a prefetch does not wait for the lock): 0.98 at T=1, 0.96 at T=2;
 *   the writers' probe matching 8 tags per load, no data-dependent trip
 *     count: 0.95 / 0.95 (not paired);
 *   table pointer | log2(slots) in one word on the seq line, so a lookup
 *     reads no table header: 0.90 / 0.91;
 *   readers' table pointers in an array apart from the seq lines, so the
 *     probe does not wait for a seq line the other core took: 0.97 / 0.98
 *     (not paired), and paired in 20 rounds (2026-12-02): 0.915 / 0.99;
 *   home and home + 1 matched (tag and key) with one branch: 0.66 / 0.68:
 *     that branch waits for the slot line, where the byte loop's branch
 *     waits only for the tag and lets the CPU run on;
 *   tables at most 3/8 full instead of 3/4 (more hits in their home slot,
 *     twice the bytes): 0.98 / 0.97;
 *   the reader's first look at the four keys of its home slot's line
 *     (slots line-aligned), compared without a branch, no tag read, the
 *     probe only when none matched (2026-12-02, 12 rounds): 0.725 / 0.68;
 *     at N = 1e5, 100% lookups: 0.77 / 0.80.  Its one branch waits for
 *     the slot line, as the home + 1 variant's did;
 *   each slot's distance from its home kept in a byte array beside the
 *     tags, so a backward shift reads no key and hashes nothing for an
 *     entry that cannot move (the mix's remove scans the cluster after its
 *     slot): 0.99 / 1.01 (30 rounds), so not kept;
 *   (2026-12-02 07:20-07:45, busy host) a seq word per group of slots
 *     instead of one per shard, so a write makes only its own group's
 *     line leave the other core's cache, and the readers' shard line is
 *     written only on growth.  The gain it could have, measured as its upper
 *     bound (writers never touch the readers' line: an unsafe build):
 *     1.01 at T=1, 1.05 at T=2 (20 rounds).  Built safely (a reader
 *     validates each group its probe enters, two at most, the rare third
 *     under the lock; a shift keeps one group odd at a time):
 *       - the seq in each tag line (60 tags + the seq word, homes over 60
 *         places by multiply): 0.78 / 0.83 (16 rounds); with the tag from
 *         h's low bits, which mix least, 0.76 / 0.83.  Its position
 *         arithmetic costs a hit 28 instructions (248.8 against 220.6 Ir),
 *         which (see the nops above) costs more than the line saves;
 *       - the seqs in an array beside the tags (64 slots a seq): 0.89 /
 *         0.93 (16 rounds): one more line, and the group test on every
 *         probe step;
 *   tables of any multiple of 16 slots (home by multiply-high), so a shard
 *     holds 0.72 of its slots instead of 0.48 and the tables a third fewer
 *     bytes: 1.00 / 0.95 (16 rounds).
 * Where the writes' cost lies, at T = 1 (variant over this file, paired,
 * 12 rounds, busy host, 2026-12-02): every insert and remove a no-op 1.14;
 * each one only taking and releasing its shard lock 1.16; the real writes
 * with the lock's exchange replaced by a plain store 1.04.  So the lock
 * costs little; the writes' own table work costs the rest.
 * The writes cost an unsynchronized map as much: swiss itself, doing the
 * mix's real inserts and removes at 1 thread (mb_threads --threads 1
 * --impl swiss,sharded_seq), reads 0.925 of the ceiling (median of 14
 * rounds, 0.84-0.96; this map in the same processes, run after it, 1.02),
 * and 0.935 against this map's 0.93 in 6 rounds of alternating order
 * (2026-12-01 22:29-23:22, a busy host: 14-20 Mops/s at 1 thread).  So on
 * a busy host, at 1 thread the distance to the ceiling is the writing.  Not
 * on a quiet one: in the two quiet rounds of 2026-12-02 03:11-03:13 (24.5
 * and 27.0 Mops/s at 1 thread) swiss with the writes read 0.98 and 0.95 of
 * the ceiling and this map 0.85 and 0.85 (xceil at T=1: 0.84 and 0.81; at
 * T=2: 0.84 and 0.83, x1 2.12 and 2.14).  There the distance is this map's
 * own 1-thread cost (more instructions per lookup, the shard line and the
 * table header before the tags), and the second thread adds next to none.
 * Where memory is slower the same file meets the ceiling.  On another VM
 * of this kind with another CPU (2026-12-02 17:40-18:40 UTC; lscpu: family
 * 25 model 1, L1d 32 KiB and L2 512 KiB a core, where the VM above had 48
 * KiB and 1 MiB) the ceiling ran 6-9 Mops/s at T=1, where the VM above ran
 * 23-27 (slower or more shared memory, not told apart).  There 13 rounds of
 * `mapbench run --phase mixed_rw --mix 90,read-only --threads 1,2 --n
 * 1000000` read x1 1.87 (1.64-2.24) and xceil 0.99 at T=1, 0.96
 * (0.82-1.08) at T=2, both met in 10 rounds; an independent pthread loop
 * over the vtable (no harness code), 6 rounds: x1 1.88, xceil 0.90 at T=2.
 * My reading (not measured apart): longer waits for memory leave room in
 * the reorder window for this map's extra instructions.
 * On a third VM (2026-12-03 10:11-10:45 UTC; lscpu: Intel family 6 model
 * 207, 2 cores, 260 MiB of L3, larger than the 34 MB table) 12 rounds of
 * the same run read xceil 0.89 at T=1 and 0.92 (0.77-1.04) at T=2, met in
 * 10 rounds, but x1 1.50 (1.38-1.79), never 1.8: the ceiling itself read
 * x1 1.49 (1.34-1.73).  There the machine sets x1, not the map: a loop of
 * 12 independent add chains per thread (no memory, nothing shared; each
 * thread pinned to its own CPU) ran 2 threads at 1.23-2.52x one, median
 * 1.78 of 20 tries, the one-thread time moving 0.32-0.53 s while two
 * threads took 0.36-0.65 s (the core's clock or the host's other tenants).
 * Back on the family 25 model 1 CPU (2026-12-03 23:06-23:22 UTC, another
 * VM, where the ceiling moved 10-18 Mops/s at T=1 from one process to the
 * next) 8 rounds read, at 90/10, x1 1.73 (met in 2) and xceil 0.83 at
 * T=2 (met in 3), read-only x1 1.72 and xceil 0.89; the ceiling's own x1
 * was 1.69 and 1.61: this map's x1 follows the ceiling's, and the 1.8 is
 * met where the ceiling reaches it.
 *
 * Writers' lock: a test-and-test-and-set spinlock per shard (pause while
 * spinning, sched_yield after MB_SPIN_BEFORE_YIELD tries, shard.h, since a
 * preempted holder on an oversubscribed 2-core box would otherwise burn
 * whole time slices), on the shard's second line so a writer's lock word
 * never invalidates the readers' line while it waits.  Measured against
 * one line per write (ratio of xceil, variant over this file, paired per
 * round in alternating order, 90/10 16 rounds, write-only 8; 2026-12-02
 * 01:22-01:32 UTC, a host busy enough that T=1 read 1.02 of the ceiling):
 *   the same spinlock moved onto the readers' line, beside seq: 0.96 at
 *     T=1, 0.93 at T=2; write-only 1.00 / 0.91;
 *   seq itself as the lock (its top bit taken by a compare-and-swap loop,
 *     a call gcc did not inline; readers' comparison ignores the bit; a
 *     write then touches one shard line, not two): 0.945 / 0.94;
 *     write-only 0.88 / 0.90.
 * Kept: the lock on its own line (two lines per write).  Against
 * pthread_mutex_t (-DSQ_SPINLOCK=0, trait mutex-writers): one locked
 * instruction per write instead of two (the unlock is a release store; on
 * x86 every locked instruction waits for the op's earlier cache misses) and
 * no library call: insert 252.7 -> 186.2 Ir/op with the single probe below,
 * delete 264.3 -> 218.3, and the write-only mix at 1 thread 4.5-5.0 ->
 * 5.8-8.0 Mops/s (noisy shared VM, interleaved runs).  Inserts probe once:
 * the writer's probe returns the empty slot it stopped at, where the key
 * goes.
 *
 * Growth: when an insert would pass 3/4, the writer builds a table of twice
 * the slots (not yet visible), inserts the key there, and publishes the new
 * pointer inside its odd-seq section.  The old table may still be read by a
 * reader that loaded the pointer before (it will fail its seq check and
 * retry on the new one), so it cannot be freed at once.  Reclamation rule:
 * old tables are NEVER freed during the run; each shard keeps them on a
 * list that destroy() frees.  Why this and not epochs: readers would then
 * have to announce themselves (a store per lookup to a per-thread line, plus
 * a registration), the cost this map exists to avoid, while the retained
 * memory is bounded: tables only double and never shrink, so a shard's old
 * tables together are smaller than its current one (at most 2x the table
 * bytes, which stats.bytes reports honestly; trait old-tables-kept).
 *
 * Shrink: never (no MB_F_SHRINK); clear() zeroes the slots under the seqlock
 * and keeps capacity (trait clear-keeps-capacity): a fresh smaller table
 * would retire the current one, growing the kept memory with every clear.
 *
 * Shards: 128 by default (cfg.shards_log2 chooses), where `sharded` and
 * `sharded_rw` keep 16.  A write dirties its shard's two lines, and the
 * other core's next lookup in that shard misses on the first; my reading
 * (not measured apart) is that with more shards fewer of the other core's
 * lookups in flight meet a line a write has just taken.  Measured,
 * mb_threads --n 1000000 --ops 8000000 --reps 3, processes interleaved
 * (median xceil of 5-16 rounds; one T=2 figure moves +-15% per process):
 *   90/10  T=2: 4 shards 0.68, 16 0.74-0.80, 64 0.80-0.82, 128 0.80-0.825,
 *               256 0.785-0.805, 1024 0.765, 4096 0.74 (4096: T=1 falls to
 *               0.78 as the shard lines leave L1); T=1 0.83-0.88 for 4..1024;
 *   128 against 16 shards at T=2, side by side: 90/10 ahead by 0.025-0.05
 *               in four runs, level in one; 100/0 0.93 / 0.92; 50/50
 *               0.445-0.58 / 0.41-0.51; write-only 0.125-0.14 / 0.085-0.12;
 *               T=1 the same within 0.015.
 * The cost: 128 shard headers (16 KiB) and 128 minimum tables in a map of
 * any size.
 *
 * Capacity hint: per shard q + 3 sqrt(q) + 1 with q = ceil(hint / 2^k), as
 * `sharded` does (the binomial spread of keys over shards).
 *
 * Lock order: iterate, clear, stats and check take every shard lock in index
 * order.  Errors: an insert that cannot grow returns MB_ENOMEM before its
 * odd-seq section, so the map is unchanged.
 */
#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../mb_map.h"

#define SQ_LINE_BYTES 64u
#define SQ_DEFAULT_LOG2 7u     /* 128 shards: see "Shards" at the top */
#define SQ_MAX_LOG2 16u
#define SQ_MIN_SLOTS 16u

/* ---- the writers' lock (shard.h) ------------------------------------------------ */

#ifndef SQ_SPINLOCK
#define SQ_SPINLOCK 1 /* see "Writers' lock" at the top; -DSQ_SPINLOCK=0: pthread mutex */
#endif
#define MB_SHARD_LOCK_SPIN SQ_SPINLOCK
#include "shard.h"
#define SQ_LOCK_TRAIT MB_SHARD_LOCK_NAME "-writers"

/* ---- layout ------------------------------------------------------------------- */

#define SQ_TAG_FULL 0x80u

typedef struct sq_slot {
    _Atomic uint64_t key;
    _Atomic uint64_t val;
} sq_slot;

typedef struct sq_table {
    struct sq_table *older;    /* the shard's previous table (kept until destroy) */
    size_t mask;               /* slots - 1 */
    size_t bytes;              /* this allocation */
    sq_slot *slots;            /* inside this allocation, after the tags */
    _Atomic uint8_t tags[];    /* mask + 1 of them */
} sq_table;

typedef struct sq_shard {
    /* line 0: what readers read, and the count writers keep next to it */
    alignas(SQ_LINE_BYTES) _Atomic uint32_t seq; /* odd while a writer changes the table */
    _Atomic(sq_table *) table; /* current table; written inside the odd section */
    size_t count;              /* live entries (under lock) */
    /* line 1: writers only */
    alignas(SQ_LINE_BYTES) mb_shard_lock lock;
    size_t kept_bytes;         /* bytes of the older tables */
    size_t grow_events;
} sq_shard;

#define SQ_SHARD_BYTES_LOG2 7u
_Static_assert(sizeof(sq_shard) % SQ_LINE_BYTES == 0, "a shard must fill whole lines");
_Static_assert(sizeof(sq_shard) == 1u << SQ_SHARD_BYTES_LOG2, "sq_shard_of scales by the shard size");
_Static_assert(offsetof(sq_shard, lock) >= SQ_LINE_BYTES, "readers' line holds no lock");

typedef struct sq_map {
    alignas(SQ_LINE_BYTES) mb_alloc alloc;
    uint64_t hash_seed;        /* mb_hash_seed_mix(cfg->seed), mixed once */
    unsigned shards_log2;
    unsigned shard_shift;      /* 64 - shards_log2 - SQ_SHARD_BYTES_LOG2 (see sq_shard_of) */
    uint64_t shard_offset_mask; /* (nshards - 1) << SQ_SHARD_BYTES_LOG2 */
    size_t nshards;
    size_t block_bytes;
    sq_shard shards[];
} sq_map;

static size_t sq_block_bytes(size_t nshards)
{
    return sizeof(sq_map) + nshards * sizeof(sq_shard);
}

/* Offset of the slots: after the tags, rounded up to 16 bytes. */
static size_t sq_slots_offset(size_t slots)
{
    return (sizeof(sq_table) + slots + 15) & ~(size_t)15;
}

static size_t sq_table_bytes(size_t slots)
{
    return sq_slots_offset(slots) + slots * sizeof(sq_slot);
}

static uint64_t sq_load_key(const void *key)
{
    uint64_t k;
    memcpy(&k, key, 8);
    return k;
}

static uint64_t sq_hash(const sq_map *m, uint64_t k)
{
    return mb_hash_u64_mixed(k, m->hash_seed);
}

static sq_shard *sq_shard_of(sq_map *m, uint64_t h)
{
    /* the high k bits, as a byte offset: h's top k + 7 bits, the low 7
     * cleared (one shift and one and; k = 0: the mask is 0) */
    return (sq_shard *)((char *)m->shards + ((h >> m->shard_shift) & m->shard_offset_mask));
}

static uint8_t sq_tag(uint64_t h)
{
    return (uint8_t)(SQ_TAG_FULL | ((h >> 48) & 0x7f));
}

static size_t sq_home(const sq_table *t, uint64_t h)
{
    return (size_t)(h >> 1) & t->mask;
}

static bool sq_fits(size_t slots, size_t entries)
{
    return entries <= slots / 4 * 3;
}

/* Returns a zeroed table with room for `entries`, or NULL. */
static sq_table *sq_table_new(const mb_alloc *a, size_t entries)
{
    size_t slots = SQ_MIN_SLOTS;
    while (!sq_fits(slots, entries))
        slots *= 2;
    size_t bytes = sq_table_bytes(slots);
    sq_table *t = mb_alloc_bytes(a, bytes, SQ_LINE_BYTES);
    if (!t)
        return NULL;
    memset(t, 0, bytes); /* before publication: nobody else can see it */
    t->mask = slots - 1;
    t->bytes = bytes;
    t->slots = (sq_slot *)((char *)t + sq_slots_offset(slots));
    return t;
}

/* ---- the seqlock ---------------------------------------------------------------- */

static void sq_write_begin(sq_shard *sh)
{
    uint32_t s = atomic_load_explicit(&sh->seq, memory_order_relaxed);
    atomic_store_explicit(&sh->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static void sq_write_end(sq_shard *sh)
{
    uint32_t s = atomic_load_explicit(&sh->seq, memory_order_relaxed);
    atomic_store_explicit(&sh->seq, s + 1, memory_order_release);
}

/* ---- probe ------------------------------------------------------------------------ */

static uint8_t sq_tag_at(const sq_table *t, size_t i)
{
    return atomic_load_explicit(&t->tags[i], memory_order_relaxed);
}

static uint64_t sq_key_at(const sq_table *t, size_t i)
{
    return atomic_load_explicit(&t->slots[i].key, memory_order_relaxed);
}

static uint64_t sq_val_at(const sq_table *t, size_t i)
{
    return atomic_load_explicit(&t->slots[i].val, memory_order_relaxed);
}

#define SQ_INLINE static inline __attribute__((always_inline))

/* What one optimistic read returns besides MB_FOUND and MB_NOTFOUND. */
#define SQ_READ_AGAIN (-1) /* a writer was inside, or came since: read again */

/* One optimistic read of sh: the probe of the table, then the seq check.
 * Safe racing a writer: atomic words, at most mask + 1 slots read.  The value
 * is written to *val only on MB_FOUND.  Each exit of the probe has its own
 * path to the check, so nothing is tested twice. */
static inline int sq_read(const sq_shard *sh, uint64_t h, uint64_t k, uint64_t *val)
{
    uint32_t s1 = atomic_load_explicit(&sh->seq, memory_order_acquire);
    const sq_table *t = atomic_load_explicit(&sh->table, memory_order_acquire);
    const uint8_t tag = sq_tag(h);
    const size_t mask = t->mask; /* read once: the atomic loads below make gcc reload it */
    int rc;
    for (size_t i = sq_home(t, h), left = mask;; i = (i + 1) & mask, left--) {
        uint8_t tg = sq_tag_at(t, i);
        if (tg == 0) {
            rc = MB_NOTFOUND;
            break;
        }
        if (tg == tag && sq_key_at(t, i) == k) {
            *val = sq_val_at(t, i);
            rc = MB_FOUND;
            break;
        }
        if (left == 0) {
            rc = MB_NOTFOUND;
            break;
        }
    }
    atomic_thread_fence(memory_order_acquire);
    /* one test for both "a writer was inside (s1 odd)" and "a writer came
     * since": an odd s1 rounds down to a value seq has already passed */
    if (__builtin_expect(atomic_load_explicit(&sh->seq, memory_order_relaxed) != (s1 & ~1u), 0))
        return SQ_READ_AGAIN;
    return rc;
}

static void sq_slot_set(sq_table *t, size_t i, uint8_t tag, uint64_t k, uint64_t v)
{
    atomic_store_explicit(&t->slots[i].key, k, memory_order_relaxed);
    atomic_store_explicit(&t->slots[i].val, v, memory_order_relaxed);
    atomic_store_explicit(&t->tags[i], tag, memory_order_relaxed);
}

/* The writer's probe (PRECONDITION: the shard lock is held, so the table is
 * not changing): returns the slot holding k, or SIZE_MAX with *empty = the
 * empty slot the probe ended at, which is where k goes (so an insert probes
 * once).  Bounded like the reader's, so check() ends on a table with no
 * empty slot (*empty = SIZE_MAX; the 3/4 cap keeps a live table from it). */
SQ_INLINE size_t sq_find_for_insert(const sq_table *t, uint64_t h, uint64_t k, size_t *empty)
{
    const uint8_t tag = sq_tag(h);
    const size_t mask = t->mask;
    *empty = SIZE_MAX;
    for (size_t i = sq_home(t, h), left = mask + 1; left; i = (i + 1) & mask, left--) {
        uint8_t tg = sq_tag_at(t, i);
        if (tg == 0) {
            *empty = i;
            return SIZE_MAX;
        }
        if (tg == tag && sq_key_at(t, i) == k)
            return i;
    }
    return SIZE_MAX;
}

/* The writers' lookup (PRECONDITION: the shard lock is held). */
SQ_INLINE size_t sq_find(const sq_table *t, uint64_t h, uint64_t k)
{
    size_t empty;
    return sq_find_for_insert(t, h, k, &empty);
}

/* PRECONDITION: k absent, room for one more. */
static void sq_put(sq_table *t, uint64_t h, uint64_t k, uint64_t v)
{
    size_t i = sq_home(t, h);
    while (sq_tag_at(t, i))
        i = (i + 1) & t->mask;
    sq_slot_set(t, i, sq_tag(h), k, v);
}

/* Backward-shift delete of slot i.  PRECONDITION: inside the odd section. */
static void sq_delete_at(const sq_map *m, sq_table *t, size_t i)
{
    for (size_t j = (i + 1) & t->mask;; j = (j + 1) & t->mask) {
        uint8_t tg = sq_tag_at(t, j);
        if (tg == 0)
            break;
        uint64_t k = sq_key_at(t, j);
        size_t home = sq_home(t, sq_hash(m, k));
        /* slot j may fill the hole i when i lies cyclically in [home, j) */
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            sq_slot_set(t, i, tg, k, sq_val_at(t, j));
            i = j;
        }
    }
    sq_slot_set(t, i, 0, 0, 0);
}

/* ---- create / destroy --------------------------------------------------------------- */

static void sq_free_tables(const mb_alloc *a, sq_table *t)
{
    while (t) {
        sq_table *older = t->older;
        mb_free_bytes(a, t, t->bytes, SQ_LINE_BYTES);
        t = older;
    }
}

static void sq_destroy(void *mp)
{
    sq_map *m = mp;
    mb_alloc a = m->alloc;
    for (size_t s = 0; s < m->nshards; s++) {
        sq_free_tables(&a, atomic_load_explicit(&m->shards[s].table, memory_order_relaxed));
        mb_shard_lock_fini(&m->shards[s].lock);
    }
    mb_free_bytes(&a, m, m->block_bytes, SQ_LINE_BYTES);
}

static void *sq_create(const mb_alloc *a, const mb_map_config *cfg)
{
    if (cfg->key_bytes != 8 || cfg->val_bytes != 8)
        return NULL;
    unsigned k = cfg->shards_log2 ? cfg->shards_log2 : SQ_DEFAULT_LOG2;
    if (k > SQ_MAX_LOG2)
        k = SQ_MAX_LOG2;
    size_t nshards = (size_t)1 << k, bytes = sq_block_bytes(nshards);
    sq_map *m = mb_alloc_bytes(a, bytes, SQ_LINE_BYTES);
    if (!m)
        return NULL;
    memset(m, 0, bytes);
    m->alloc = *a;
    m->hash_seed = mb_hash_seed_mix(cfg->seed);
    m->shards_log2 = k;
    m->shard_shift = 64 - k - SQ_SHARD_BYTES_LOG2;
    m->shard_offset_mask = (uint64_t)(nshards - 1) << SQ_SHARD_BYTES_LOG2;
    m->block_bytes = bytes;
    size_t hint = mb_shard_hint(cfg->capacity_hint, k);
    for (size_t s = 0; s < nshards; s++) {
        sq_shard *sh = &m->shards[s];
        sq_table *t = sq_table_new(a, hint);
        if (t && mb_shard_lock_init(&sh->lock) == 0) {
            atomic_init(&sh->seq, 0);
            atomic_init(&sh->table, t);
            m->nshards = s + 1;
            continue;
        }
        mb_free_bytes(a, t, t ? t->bytes : 0, SQ_LINE_BYTES);
        sq_destroy(m); /* the m->nshards shards built so far */
        return NULL;
    }
    return m;
}

/* ---- ops ------------------------------------------------------------------------------ */

/* The retrying reader: taken only when the first read overlapped a writer.
 * Kept out of line so the first read's path stays small (registers, code). */
static __attribute__((noinline)) int sq_lookup_retry(sq_map *m, uint64_t k, void *val_out)
{
    uint64_t h = sq_hash(m, k), v = 0;
    const sq_shard *sh = sq_shard_of(m, h);
    int rc;
    while ((rc = sq_read(sh, h, k, &v)) == SQ_READ_AGAIN) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause(); /* the writer is likely still inside */
#endif
    }
    if (rc == MB_FOUND && val_out)
        memcpy(val_out, &v, 8);
    return rc;
}

/* One optimistic read; if it overlapped a writer, the answer is thrown away
 * and sq_lookup_retry reads again. */
static int sq_lookup(void *mp, const void *key, void *val_out)
{
    sq_map *m = mp;
    uint64_t k = sq_load_key(key), h = sq_hash(m, k), v = 0;
    int rc = sq_read(sq_shard_of(m, h), h, k, &v);
    if (__builtin_expect(rc == SQ_READ_AGAIN, 0))
        return sq_lookup_retry(m, k, val_out);
    if (rc == MB_FOUND && val_out)
        memcpy(val_out, &v, 8);
    return rc;
}

static int sq_insert(void *mp, const void *key, const void *val)
{
    sq_map *m = mp;
    uint64_t k = sq_load_key(key), h = sq_hash(m, k), v;
    sq_shard *sh = sq_shard_of(m, h);
    int rc = MB_INSERTED;
    memcpy(&v, val, 8);

    mb_shard_lock_acquire(&sh->lock);
    sq_table *t = atomic_load_explicit(&sh->table, memory_order_relaxed), *nt = NULL;
    size_t empty = SIZE_MAX, i = sq_find_for_insert(t, h, k, &empty);
    if (i == SIZE_MAX && !sq_fits(t->mask + 1, sh->count + 1)) {
        /* build the grown table outside the odd section: readers keep going */
        if (!(nt = sq_table_new(&m->alloc, sh->count + 1))) {
            mb_shard_lock_release(&sh->lock);
            return MB_ENOMEM;
        }
        for (size_t j = 0; j <= t->mask; j++) {
            if (sq_tag_at(t, j)) {
                uint64_t kj = sq_key_at(t, j);
                sq_put(nt, sq_hash(m, kj), kj, sq_val_at(t, j));
            }
        }
    }
    sq_write_begin(sh);
    if (i != SIZE_MAX) {
        atomic_store_explicit(&t->slots[i].val, v, memory_order_relaxed);
        rc = MB_REPLACED;
    } else {
        if (nt) {
            sq_put(nt, h, k, v);
            nt->older = t;
            sh->kept_bytes += t->bytes;
            sh->grow_events++;
            atomic_store_explicit(&sh->table, nt, memory_order_release);
        } else {
            assert(empty != SIZE_MAX); /* the 3/4 cap leaves empty slots */
            sq_slot_set(t, empty, sq_tag(h), k, v);
        }
        sh->count++;
    }
    sq_write_end(sh);
    mb_shard_lock_release(&sh->lock);
    return rc;
}

static int sq_remove(void *mp, const void *key)
{
    sq_map *m = mp;
    uint64_t k = sq_load_key(key), h = sq_hash(m, k);
    sq_shard *sh = sq_shard_of(m, h);

    mb_shard_lock_acquire(&sh->lock);
    sq_table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    size_t i = sq_find(t, h, k);
    if (i != SIZE_MAX) {
        sq_write_begin(sh);
        sq_delete_at(m, t, i);
        sh->count--;
        sq_write_end(sh);
    }
    mb_shard_lock_release(&sh->lock);
    return i != SIZE_MAX ? MB_FOUND : MB_NOTFOUND;
}

static void sq_lock_all(sq_map *m)
{
    for (size_t s = 0; s < m->nshards; s++)
        mb_shard_lock_acquire(&m->shards[s].lock);
}

static void sq_unlock_all(sq_map *m)
{
    for (size_t s = m->nshards; s-- > 0;)
        mb_shard_lock_release(&m->shards[s].lock);
}

static void sq_clear(void *mp)
{
    sq_map *m = mp;
    sq_lock_all(m);
    for (size_t s = 0; s < m->nshards; s++) {
        sq_shard *sh = &m->shards[s];
        sq_table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
        sq_write_begin(sh);
        for (size_t i = 0; i <= t->mask; i++)
            sq_slot_set(t, i, 0, 0, 0);
        sh->count = 0;
        sq_write_end(sh);
    }
    sq_unlock_all(m);
}

/* PRECONDITION: fn does not call into this map (every shard lock is held). */
static int sq_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    sq_map *m = mp;
    int r = 0;
    sq_lock_all(m);
    for (size_t s = 0; s < m->nshards && r == 0; s++) {
        const sq_table *t = atomic_load_explicit(&m->shards[s].table, memory_order_relaxed);
        for (size_t i = 0; i <= t->mask && r == 0; i++) {
            if (!sq_tag_at(t, i))
                continue;
            uint64_t k = sq_key_at(t, i), v = sq_val_at(t, i);
            r = fn(ud, &k, &v);
        }
    }
    sq_unlock_all(m);
    return r;
}

/* ---- stats ---------------------------------------------------------------------------- */

/* Probe length of the entry in slot i (1 = in its home slot). */
static size_t sq_probe_len(const sq_map *m, const sq_table *t, size_t i)
{
    return ((i - sq_home(t, sq_hash(m, sq_key_at(t, i)))) & t->mask) + 1;
}

static void sq_stats(const void *mp, mb_map_stats *out)
{
    sq_map *m = (sq_map *)mp; /* the locks are the only thing written */
    double probes = 0;
    mb_stats_init(out);
    out->count = out->capacity = out->max_probe = out->grow_events = 0;
    out->shrink_events = out->rehash_events = 0;
    out->bytes = m->block_bytes;
    sq_lock_all(m);
    for (size_t s = 0; s < m->nshards; s++) {
        const sq_shard *sh = &m->shards[s];
        const sq_table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
        out->count += sh->count;
        out->capacity += t->mask + 1;
        out->grow_events += sh->grow_events;
        out->bytes += t->bytes + sh->kept_bytes;
        for (size_t i = 0; i <= t->mask; i++) {
            if (!sq_tag_at(t, i))
                continue;
            size_t p = sq_probe_len(m, t, i);
            probes += (double)p;
            if (p > out->max_probe)
                out->max_probe = p;
        }
    }
    sq_unlock_all(m);
    out->mean_probe = out->count ? probes / (double)out->count : 0.0;
}

/* ---- check ---------------------------------------------------------------------------- */

static const char *sq_check_shard(const sq_map *m, size_t s)
{
    const sq_shard *sh = &m->shards[s];
    const sq_table *t = atomic_load_explicit(&sh->table, memory_order_relaxed);
    size_t used = 0, kept = 0;
    if (atomic_load_explicit(&sh->seq, memory_order_relaxed) & 1)
        return "a shard's sequence is odd outside a write";
    if ((t->mask + 1) & t->mask || t->mask + 1 < SQ_MIN_SLOTS)
        return "a table's slot count is not a power of two >= SQ_MIN_SLOTS";
    if (t->bytes != sq_table_bytes(t->mask + 1))
        return "a table's bytes do not match its slots";
    if (t->slots != (const sq_slot *)((const char *)t + sq_slots_offset(t->mask + 1)))
        return "a table's slots do not follow its tags";
    for (size_t i = 0; i <= t->mask; i++) {
        uint8_t tg = sq_tag_at(t, i);
        if (!tg) {
            if (sq_key_at(t, i) || sq_val_at(t, i))
                return "an empty slot holds a key or value";
            continue;
        }
        uint64_t k = sq_key_at(t, i);
        uint64_t h = sq_hash(m, k);
        used++;
        if (tg != sq_tag(h))
            return "a slot's tag is not its key's hash tag";
        if (sq_shard_of((sq_map *)m, h) != sh)
            return "a key lives in a shard its hash does not select";
        if (sq_find(t, h, k) != i)
            return "an entry is not found by probing from its home (a gap or a duplicate)";
    }
    if (used != sh->count)
        return "a shard's count does not match its occupied slots";
    if (!sq_fits(t->mask + 1, used))
        return "a table is above load 3/4";
    size_t newer_mask = t->mask;
    for (const sq_table *o = t->older; o; newer_mask = o->mask, o = o->older) {
        if (o->mask >= newer_mask)
            return "a kept table is not smaller than its successor";
        kept += o->bytes;
    }
    if (kept != sh->kept_bytes)
        return "kept_bytes does not match the kept tables";
    return NULL;
}

static const char *sq_check(const void *mp)
{
    sq_map *m = (sq_map *)mp;
    const char *why = NULL;
    if (m->nshards != (size_t)1 << m->shards_log2 || m->block_bytes != sq_block_bytes(m->nshards))
        return "the shard count does not match shards_log2 and the block size";
    if (m->shard_shift != 64 - m->shards_log2 - SQ_SHARD_BYTES_LOG2 ||
        m->shard_offset_mask != (uint64_t)(m->nshards - 1) << SQ_SHARD_BYTES_LOG2)
        return "shard_shift or shard_offset_mask does not match shards_log2";
    sq_lock_all(m);
    for (size_t s = 0; s < m->nshards && !why; s++)
        why = sq_check_shard(m, s);
    sq_unlock_all(m);
    return why;
}

const mb_map_ops mb_sharded_seq_ops = {
    .name = "sharded_seq",
    .family = "sharded",
    .traits = "thread-safe,lock-free-reads,seqlock-per-shard,lock-per-shard-writers," SQ_LOCK_TRAIT ","
              "tag-bytes,u64-only,"
              "old-tables-kept-until-destroy,no-shrink,clear-keeps-capacity,backward-shift",
    .flags = MB_F_THREAD_SAFE | MB_F_OWN_ALLOC,
    .create = sq_create,
    .destroy = sq_destroy,
    .insert = sq_insert,
    .lookup = sq_lookup,
    .remove = sq_remove,
    .clear = sq_clear,
    .iterate = sq_iterate,
    .stats = sq_stats,
    .check = sq_check,
};
