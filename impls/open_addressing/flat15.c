/*
 * flat15 — groups of 15 slots with one overflow byte each, after the design
 * of boost::unordered_flat_map (Boost 1.81, foa.hpp), written from its
 * description: 16-byte group metadata, 8-bit reduced hashes, no tombstones,
 * max load 7/8.  Differences from boost: the group count is 1 or a prime,
 * not a power of two (the home group comes from a multiply), the probe is
 * double hashing instead of quadratic, and deletes charge a budget rule of
 * this file's own.
 *
 * Layout: one allocation of 64-byte alignment, the metadata then the slots:
 *
 *     ctrl:  n_groups * 16 bytes; group g is ctrl[16g .. 16g+15]:
 *              bytes 0..14  one tag per slot of the group
 *              byte  15     the overflow byte
 *     slots: n_groups * 15 slots, slot_bytes = key_bytes + val_bytes each;
 *            slot s of group g is slots[(15g + s) * slot_bytes]
 *
 * A slot is named by its position p = 16g + s, the offset of its tag in
 * ctrl; its slot index is p - p/16.  Bytes: 16 + 15 * slot_bytes per group
 * (256 for u64 -> u64, boost's figure too) plus the map struct.
 *
 * A map with no table (n_groups == 0) points ctrl at a static group of
 * zeros, so a lookup ends in it and an insert sees growth_left == 0.
 *
 * Tags: 0 = free slot.  A full slot holds the low byte of the key's hash,
 * 0 mapped to 1: 8 bits of hash (255 values) where a swiss control byte
 * keeps 7, so a chance tag match is half as likely (the byte needs no
 * EMPTY/DELETED codes: there are no tombstones).  The comparand comes from a
 * 4 KiB read-only table of the 256 splatted tags: one aligned load (SSE2 has
 * no byte broadcast).
 *
 * Hash split (h = mb_hash_u64, whose folded 128-bit product makes every bit
 * depend on every key bit):
 *     home group   = ((h >> 32) * n_groups) >> 32   the high half scaled to
 *                    [0, n_groups) ("fastrange"): any group count, one
 *                    64-bit multiply, no fixed registers
 *     tag          = h & 0xff (0 -> 1)              the low byte
 *     overflow bit = 1 << (h & 7)                   the tag's low 3 bits, as
 *                    in boost (a tag match implies the same bit)
 *     probe step   = 1 + (((h & 0xffffffff) * (n_groups - 1)) >> 32)
 *
 * Probe rule: double hashing over groups, g, g + step, g + 2 step, ... mod
 * n_groups; n_groups prime makes every step coprime with it, so a probe
 * visits every group once in n_groups steps.  In each group every tag equal
 * to the key's is a candidate whose key is compared.  The probe ends at the
 * first group whose overflow byte lacks the key's overflow bit: an insert
 * sets that bit in every full group it passes, so a key is never beyond such
 * a group.  With 8 bits a group that overflowed for some keys still ends the
 * probe of most others; a miss usually reads one 16-byte group and no slot.
 * A probe visits at most n_groups groups (stale bits could in principle
 * cover the whole table).
 *
 * Why double hashing: linear probing over groups (the first version) piles
 * overflow into runs.  In a Python model of this placement (8191 groups
 * filled to 7/8): linear, a miss reads 1.49 groups on average (36 at most),
 * a hit 1.14 (40 at most), 41% of groups overflowed; double hashing 1.13 (5),
 * 1.09 (12), 36%.  boost gets the same from quadratic steps over 2^k groups,
 * which need a power of two to reach every group.
 *
 * Insert: look in the home group (inline); if the key is absent there, the
 * home group has not overflowed for it, has a free slot and the budget
 * allows, take its lowest free slot.  Otherwise (out of line) probe on from
 * the next group, then claim the first group with a free slot on the probe,
 * setting the overflow bit in each full group passed.
 *
 * Delete: the tag becomes 0.  There are no tombstones; overflow bits are
 * cleared only by a rebuild or clear(), so a deleted entry that had been
 * displaced out of its home group leaves bits behind that lengthen probes.
 * Rule (this file's own, after boost's idea of charging such deletes so
 * probes cannot drift longer forever): deleting an entry that sits outside
 * its home group does not give its slot back to the insert budget; it
 * counts in `lost` until the next rebuild.  Entries in their home group (all
 * but a few percent) give their slot back.  Stale bits are thus bounded by
 * the budget: churn that keeps displacing entries ends in a rebuild, which
 * clears every bit.
 *
 * Growth accounting: max_load(G) = floor(15 * G * 7 / 8), boost's load
 * factor.  growth_left = max_load - count - lost.  An insert of a new key
 * when growth_left == 0 rebuilds into a fresh table:
 *   - at the same size when count + 1 <= 7/8 of max_load: lost slots are
 *     what fill the table (a rehash event);
 *   - else at groups_for(2 * (count + 1)): the smallest prime group count
 *     holding twice the entries (1, 3, 7, 17, 37, 79, ..., 87719, 175447,
 *     ... from empty: about x2 per step, like boost's 2^k).
 * On ENOMEM the map is unchanged.  A rebuild is a streaming pass: the home
 * group is monotone in h, so walking the old groups in order writes the new
 * groups nearly in order.
 *
 * Capacity hint: the smallest prime group count whose max_load holds the
 * hint (boost rounds a reserve up to 2^k groups; a hinted flat15 of 1e6
 * entries takes 76207 groups, 19.5 MB, where boost takes 131072, 33.6 MB).
 *
 * Shrink (MB_SHRINK_LOW_WATER only): when a remove leaves count below
 * max_load / 8, the table is rebuilt at groups_for(2 * count) (an empty map
 * drops its table).  If that allocation fails, the table stays larger.
 *
 * clear() keeps the capacity (zeroes the metadata, overflow bytes included).
 *
 * Specialisation, as in swiss.c: u64 -> u64 runs the always-inline bodies
 * with constant key and slot sizes; the other shapes call an out-of-line
 * copy of the same bodies.  Each hot path handles only the home group
 * inline; the rest of a probe is an out-of-line call.  Lookup and remove
 * prefetch the group's first slot line as soon as the home group shows a
 * tag match (most entries sit in the low slots: a group fills from slot 0),
 * so that line is on its way while the tag mask is decoded; a miss with no
 * tag match prefetches nothing.
 *
 * stats(): capacity = 15 * n_groups slots; tombstones = MB_NA (none);
 * overflow = groups whose overflow byte is nonzero; max_probe / mean_probe
 * = groups a hit loads (1 = found in its home group); rehash_events =
 * same-size rebuilds.
 *
 * ---- what was tried and measured (bench/flagship.cc, see its header) ----
 *
 * Conditions: bench/flagship.cc (mb_flagship_bench), u64 -> u64, uniform
 * keys, no capacity hint, gcc 12 -O2 (SSE2 baseline), Boost 1.81 headers;
 * a 2-core AMD EPYC (Zen 5) KVM guest, L2 1 MiB/core, L3 32 MiB, shared
 * with four other jobs (load average 4-6).  Times: thread CPU time, median
 * of 5 interleaved repetitions, ratios the median of per-repetition pairs;
 * they still swing by 1.5x between runs minutes apart, so read ratios, and
 * callgrind counts (exact, Ir/op of the phase alone) for the code.
 * "boost" = boost::unordered_flat_map used bare (inline, xmx mixing);
 * "boost_vt" = the same behind an mb_map_ops table, as flat15 is called.
 *
 * 1. First version: linear group probing, growth 3/2, any group count
 *    (no primes), find returning a slot index (/15, %15), generic rest paths.
 *    Ir/op at 1e5 through the vtable: insert 234, hit 81, miss 70, delete
 *    92 (boost bare: 117, 43, 35, 54).  Hit at 1e6 1.5x boost.
 * 2. Home-group hot paths (rest out of line, no callee-saved registers),
 *    the splat table, 32-bit fastrange (the 128-bit multiply needed rdx:rax
 *    and spilled), positions 16g + s instead of /15: hit 81 -> 69, insert
 *    234 -> 210.
 * 3. Growth 3/2 vs 2 (same code otherwise, flat15 inline): insert 198 vs
 *    137 Ir/op at 1e5, 217 vs 124 at 1e6 (twice the moves), and 3x boost's
 *    insert time at 1e5.  Growth 2 kept.  (A 3/2 step would lower the mean
 *    bytes/entry over N spread evenly in log N by ~12%: the mean load is
 *    7/8 (g-1)/(g ln g), 0.72 * 7/8 at g = 2, 0.82 * 7/8 at g = 3/2.)
 * 4. Linear -> double hashing over prime group counts (the Python model's
 *    figures are in "Why double hashing" above): at 1e5, miss 64.6 -> 56.8
 *    Ir/op through the vtable (fewer second groups at high load).
 *    Max load 15/16 tried in the model: a miss then reads 1.29 groups, a
 *    hit 1.17; 7/8 kept.
 * 5. Seed pre-xored into the hash: -2 Ir/op on every op.
 * 6. Prefetch of the first slot line: at the group load (parallel with it)
 *    vs after a tag match (boost's choice) vs none, flat15 inline / boost
 *    hit ratio at 1e6 in paired runs: 0.95, 0.80 vs 0.85, 0.79 vs 1.25,
 *    1.01.  After a match kept: as good on hits and it costs a miss nothing
 *    (the early prefetch made misses at 6e5 ~20% slower).
 * 7. First probe step to the adjacent group (same cache line 3/4 of the
 *    time, as boost's first quadratic step), double hashing after: miss
 *    ratio -3..-9% at 1e3 and 1e5, +2..+8% at 1e6 in two paired runs at
 *    load average 10; within the noise, not kept.
 *
 * Result (final code; Ir/op, vtable flat15 | flat15 inline | boost bare |
 * boost_vt; the same at 1e3, 1e5, 1e6 within a few Ir):
 *     insert 146 | 120 | 147 | 179        (1e6; growth included)
 *     hit     67 |  45 |  40 |  63
 *     miss    55 |  35 |  34 |  53
 *     delete  64 |  46 |  52 |  71
 * The design is on par with boost's code (inline: hit +12%, miss +3%,
 * delete -11%, insert -18%); the vtable costs ~22 Ir per op, boost the same.
 *
 * Times, flat15 / boost ratio (bytes/entry flat15 vs boost):
 *     N      insert  hit   miss  delete   B/entry        vs boost_vt: hit miss
 *     1e3    0.82    1.50  2.12  1.36     20.4 vs 32.8   1.02  1.16
 *     1e5    2.64    1.23  0.89  1.08     28.0 vs 21.0   0.98  0.70
 *     1e6    1.00    1.25  1.83  1.06     22.5 vs 33.6   0.97  1.47
 *     1e7    1.66    1.41  1.61  1.15     35.9 vs 26.8   1.11  1.22
 * At 1e6 over three more runs: insert 0.85-1.00, hit 0.76-1.28, miss
 * 1.48-1.71, delete 0.71-1.20 (0.76 and 0.71 in a quieter wall-clock run).
 * Targets at 1e6 (hit <= 0.9, miss <= 0.9, insert <= 1.0 at bytes <= boost):
 * bytes and insert met, hit met in one run of four, miss not met.
 *
 * Diagnosis.  The code is not what separates the two; where N falls on
 * each table's growth steps is.  Both grow x2 at load 7/8, but flat15's
 * prime sizes (87719 groups at 1e6) sit between boost's 2^k (131072):
 *   - at 1e6 flat15 is at 0.76 load in 0.67x the bytes, boost at 0.51.  At
 *     higher load more misses meet a tag match (computed: 4.4% vs 3%, a
 *     slot line read) or an overflowed home group (model: ~4% vs ~1%, a
 *     second group), each a cache miss and a mispredicted branch: misses
 *     lose 1.5x.  Boost at the same load (N = 1.5e6) misses in 6.9 ns,
 *     flat15 at 1e6 in 5.3-6.5 ns (separate runs).
 *   - at 1e5 and 1e7 flat15 holds 1.34x the bytes: inserts pay for it in
 *     first-touch page faults (the kernel zeroes every fresh page; ~1.4 us a
 *     fault on this guest): at 1e5, 12.7 faults per 1000 inserts vs boost's
 *     0.5 (glibc trims flat15's freed tables, whose sizes sum just over its
 *     dynamic trim threshold, and recycles boost's), 2.6x the insert time
 *     for 1.1x (inline) to 1.35x (vtable) the instructions.  With the thresholds fixed
 *     (GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456:
 *     glibc.malloc.mmap_threshold=33554432) flat15 takes no faults and the
 *     ratio drops from 2.68 to 1.67 in the same minute; the rest is the
 *     bigger table (2.8 vs 2.1 MB against a 1 MiB L2) and 1.3x the moves.
 *   - averaged over N (--mem-sweep, 97 log-spaced N from 1e3 to 1e7), the
 *     bytes/entry are equal: flat15 27.62, boost 27.71, swiss 27.63.
 * So "0.9x on hit and miss at 1e6 at <= boost's bytes" is a point where
 * flat15 is small and full and boost is large and sparse: misses there
 * favour boost.  Beating boost by 10% on lookups at every N would need a
 * probe that is cheaper than one 16-byte group load plus a tag compare;
 * neither design spends anything else on a miss.  Through the mb_map_ops
 * vtable (the harness's interface) the ~22 Ir/op call tax alone is half of
 * boost's whole lookup.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../mb_map.h"

#define F15_SLOTS 15u               /* slots per group */
#define F15_GROUP_BYTES 16u         /* metadata bytes per group */
#define F15_OVERFLOW 15u            /* index of the overflow byte in a group */
#define F15_ALIGN 64u               /* the block's alignment */
#define F15_INLINE static inline __attribute__((always_inline))

/* Growth step: a grow sizes the table for F15_GROW_NUM / F15_GROW_DEN times
 * the entries: 2 (the design comment says why not 3/2; the macros let a
 * build -D them for that experiment). */
#ifndef F15_GROW_NUM
#define F15_GROW_NUM 2u
#define F15_GROW_DEN 1u
#endif

typedef enum f15_shape { F15_K8V8 = 0, F15_K8V64 = 1, F15_GENERIC = 2 } f15_shape;

typedef struct f15_map {
    /* hot: read by every op */
    uint8_t *ctrl;          /* n_groups * 16 metadata bytes, or f15_empty_group */
    unsigned char *slots;   /* n_groups * 15 slots after the metadata */
    size_t n_groups;        /* 0 = no table */
    size_t count;           /* full slots */
    size_t growth_left;     /* = max_load - count - lost: free slots inserts may claim */
    uint64_t seed_mixed;    /* seed ^ F15_HASH_XOR (f15_hash) */
    uint64_t seed;
    f15_shape shape;
    mb_shrink_policy shrink;
    /* cold */
    size_t lost;            /* slots of displaced entries deleted since the last rebuild */
    size_t key_bytes, val_bytes, slot_bytes;
    size_t block_bytes;     /* size of the allocation; 0 when n_groups == 0 */
    size_t grow_events, shrink_events, rehash_events;
    mb_alloc alloc;
} f15_map;

/* The metadata of a map without a table: one group, every slot free, no
 * overflow bit, so every probe ends in it.  Never written. */
static const uint8_t f15_empty_group[F15_GROUP_BYTES] __attribute__((aligned(16))) = {0};

/* ---- layout --------------------------------------------------------------- */

/* Returns how many entries a table of g groups may hold: 7/8 of its slots. */
static size_t f15_max_load(size_t g)
{
    return g * F15_SLOTS * 7 / 8;
}

static size_t f15_block_bytes(size_t g, size_t slot_bytes)
{
    return g * (F15_GROUP_BYTES + F15_SLOTS * slot_bytes);
}

/* Returns the largest group count this map will allocate, so that a block's
 * size (and 15 * g * 7) never overflows a size_t. */
static size_t f15_groups_limit(size_t slot_bytes)
{
    size_t lim = (SIZE_MAX / 4) / (F15_GROUP_BYTES + F15_SLOTS * slot_bytes);
    return lim < 0xffffffffu ? lim : 0xffffffffu; /* f15_home scales 32 bits */
}

static bool f15_is_prime(size_t n)
{
    if (n < 2 || n % 2 == 0)
        return n == 2;
    for (size_t d = 3; d * d <= n; d += 2)
        if (n % d == 0)
            return false;
    return true;
}

/* Returns the smallest group count (0, 1 or a prime) whose max_load holds n
 * entries, or SIZE_MAX when that is beyond f15_groups_limit.  Prime counts
 * make every probe step coprime with the table (see f15_step). */
static size_t f15_groups_for(size_t n, size_t slot_bytes)
{
    size_t lim = f15_groups_limit(slot_bytes);
    /* max_load(g) = floor(105 g / 8) >= n  <=>  g >= 8 n / 105 */
    size_t g = n > f15_max_load(lim) ? lim : (n / 105) * 8 + ((n % 105) * 8 + 104) / 105;
    while (g > 1 && !f15_is_prime(g))
        g++;
    return g > lim ? SIZE_MAX : g;
}

/* ---- hash split ------------------------------------------------------------ */

/* Home group: the high 32 bits of h scaled to [0, n_groups) (n_groups <=
 * 2^32 - 1, f15_groups_limit): one 64-bit multiply and a shift, no fixed
 * registers as a 128-bit multiply would need. */
F15_INLINE size_t f15_home(uint64_t h, size_t n_groups)
{
    return (size_t)(((h >> 32) * (uint64_t)n_groups) >> 32);
}


/* The key's hash: mb_hash_key (for 8-byte keys mb_hash_u64, which xors the
 * key with the seed and its constant 0x243f6a8885a308d3 before the
 * multiply).  For 8-byte keys the map keeps seed ^ that constant
 * (seed_mixed), and passing the constant as the seed lets the compiler fold
 * the two xors into one: same value, two instructions fewer.  check()
 * compares it with mb_hash_key for every entry. */
#define F15_HASH_XOR 0x243f6a8885a308d3ULL

F15_INLINE uint64_t f15_hash(uint64_t seed_mixed, uint64_t seed, const void *key, size_t kb)
{
    if (kb == 8) {
        uint64_t w;
        memcpy(&w, key, 8);
        return mb_hash_u64(w ^ seed_mixed, F15_HASH_XOR);
    }
    return mb_hash_key(key, kb, seed);
}

#define F15_HASH(m, key, kb) f15_hash((m)->seed_mixed, (m)->seed, (key), (kb))

/* Returns nonzero when the group whose metadata is c has overflowed for
 * hash h (h's overflow bit, h & 7, is set in its overflow byte). */
F15_INLINE unsigned f15_overflowed(const uint8_t *c, uint64_t h)
{
    return ((unsigned)c[F15_OVERFLOW] >> (h & 7)) & 1u;
}

F15_INLINE void f15_mark_overflow(uint8_t *c, uint64_t h)
{
    c[F15_OVERFLOW] |= (uint8_t)(1u << (h & 7));
}

/* The probe step of hash h: 1 + the low half of h scaled to [0, n - 1), so
 * in [1, n - 1]; with n prime every step is coprime with n and the probe
 * visits every group once in n steps (double hashing: keys sharing a home
 * group spread out instead of piling up as linear probing's runs do). */
F15_INLINE size_t f15_step(uint64_t h, size_t n_groups)
{
    return 1 + (size_t)(((h & 0xffffffffu) * (uint64_t)(n_groups - 1)) >> 32);
}

/* The group after g on a probe of step `step` (< n_groups). */
F15_INLINE size_t f15_next(size_t g, size_t step, size_t n_groups)
{
    g += step;
    return g >= n_groups ? g - n_groups : g;
}

/* ---- group matching ---------------------------------------------------------- */

/* Each match returns a 15-bit mask: bit s set when slot s of the group
 * qualifies (the overflow byte is never part of a match). */

/* f15_splats[b] = 16 copies of the tag of a hash whose low byte is b: one
 * aligned load gives the comparand (SSE2 has no byte broadcast: it would be
 * a movd and three shuffles, plus the 0 -> 1 fix). 4 KiB, read-only. */
#define F15_T(b) ((b) == 0 ? 1 : (b))
#define F15_S1(b) {F15_T(b), F15_T(b), F15_T(b), F15_T(b), F15_T(b), F15_T(b), F15_T(b), \
                   F15_T(b), F15_T(b), F15_T(b), F15_T(b), F15_T(b), F15_T(b), F15_T(b), \
                   F15_T(b), F15_T(b)}
#define F15_S4(b) F15_S1(b), F15_S1((b) + 1), F15_S1((b) + 2), F15_S1((b) + 3)
#define F15_S16(b) F15_S4(b), F15_S4((b) + 4), F15_S4((b) + 8), F15_S4((b) + 12)
#define F15_S64(b) F15_S16(b), F15_S16((b) + 16), F15_S16((b) + 32), F15_S16((b) + 48)
static const uint8_t f15_splats[256][F15_GROUP_BYTES] __attribute__((aligned(16))) = {
    F15_S64(0), F15_S64(64), F15_S64(128), F15_S64(192),
};

/* Returns the tag of hash h: its low byte, 0 mapped to 1. */
F15_INLINE uint8_t f15_tag(uint64_t h)
{
    return f15_splats[h & 0xff][0];
}

#if defined(__SSE2__)

typedef __m128i f15_group;

F15_INLINE f15_group f15_load(const uint8_t *c)
{
    return _mm_load_si128((const __m128i *)(const void *)c);
}

F15_INLINE f15_group f15_splat(uint64_t h)
{
    return f15_load(f15_splats[h & 0xff]);
}

F15_INLINE uint32_t f15_match(f15_group g, f15_group tags)
{
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(g, tags)) & 0x7fffu;
}

F15_INLINE uint32_t f15_match_free(f15_group g)
{
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(g, _mm_setzero_si128())) & 0x7fffu;
}

#else /* portable fallback: a loop over the 15 tag bytes */

typedef struct f15_group { uint8_t b[F15_GROUP_BYTES]; } f15_group;

F15_INLINE f15_group f15_load(const uint8_t *c)
{
    f15_group g;
    memcpy(g.b, c, F15_GROUP_BYTES);
    return g;
}

F15_INLINE f15_group f15_splat(uint64_t h)
{
    return f15_load(f15_splats[h & 0xff]);
}

F15_INLINE uint32_t f15_match(f15_group g, f15_group tags)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < F15_SLOTS; i++)
        r |= (uint32_t)(g.b[i] == tags.b[0]) << i;
    return r;
}

F15_INLINE uint32_t f15_match_free(f15_group g)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < F15_SLOTS; i++)
        r |= (uint32_t)(g.b[i] == 0) << i;
    return r;
}

#endif

F15_INLINE uint32_t f15_match_full(f15_group g)
{
    return f15_match_free(g) ^ 0x7fffu;
}

F15_INLINE size_t f15_lowest(uint32_t mask)
{
    return (size_t)__builtin_ctzll(mask);
}

/* ---- probe ------------------------------------------------------------------
 *
 * A slot is named by its position p = 16 g + s: the offset of its tag in
 * ctrl.  Its slot index is p - g = 15 g + s, so slot p lives at
 * slots + (p - p / 16) * slot_bytes. */

F15_INLINE size_t f15_pos_slot(size_t p)
{
    return p - (p >> 4);
}

/* Returns the position holding key (hash h) in group g, or SIZE_MAX.
 * kb, sb: key and slot sizes (constants in the specialised callers). */
F15_INLINE size_t f15_find_in(const f15_map *m, const void *key, uint64_t h, size_t g,
                              size_t kb, size_t sb)
{
    const unsigned char *gs = m->slots + g * (F15_SLOTS * sb);
    for (uint32_t match = f15_match(f15_load(m->ctrl + g * F15_GROUP_BYTES), f15_splat(h));
         match; match &= match - 1) {
        size_t s = f15_lowest(match);
        if (__builtin_expect(mb_key_eq(gs + s * sb, key, kb), 1))
            return g * F15_GROUP_BYTES + s;
    }
    return SIZE_MAX;
}

/* Returns the position holding key (hash h), or SIZE_MAX: the probe from
 * group g on, g being its `visited`-th group (g = home, visited = 1 for the
 * whole probe).  The hot paths look in the home group themselves and come
 * here, from the group after it, only when it has overflowed for h. */
F15_INLINE size_t f15_find_from(const f15_map *m, const void *key, uint64_t h, size_t g,
                                size_t visited, size_t kb, size_t sb)
{
    size_t n = m->n_groups, step = f15_step(h, n);
    for (; visited <= n; visited++) {
        size_t p = f15_find_in(m, key, h, g, kb, sb);
        if (p != SIZE_MAX)
            return p;
        if (!f15_overflowed(m->ctrl + g * F15_GROUP_BYTES, h))
            return SIZE_MAX;
        g = f15_next(g, step, n);
    }
    return SIZE_MAX;
}

F15_INLINE size_t f15_find_kb(const f15_map *m, const void *key, uint64_t h, size_t kb, size_t sb)
{
    return f15_find_from(m, key, h, f15_home(h, m->n_groups), 1, kb, sb);
}

/* f15_find_kb for the map's own shape; out of line (check, stats). */
static __attribute__((noinline)) size_t f15_find(const f15_map *m, const void *key, uint64_t h)
{
    if (m->shape == F15_K8V8)
        return f15_find_kb(m, key, h, 8, 16);
    return f15_find_kb(m, key, h, m->key_bytes, m->slot_bytes);
}

/* Returns the first free position on the probe of hash h in a table with
 * room, setting h's overflow bit in every full group passed.
 * PRECONDITION: n_groups > 0 and count < 15 * n_groups. */
F15_INLINE size_t f15_claim(uint8_t *ctrl, size_t n, uint64_t h)
{
    size_t g = f15_home(h, n);
    for (;;) {
        uint8_t *c = ctrl + g * F15_GROUP_BYTES;
        uint32_t free_mask = f15_match_free(f15_load(c));
        if (__builtin_expect(free_mask != 0, 1))
            return g * F15_GROUP_BYTES + f15_lowest(free_mask);
        f15_mark_overflow(c, h);
        g = f15_next(g, f15_step(h, n), n);
    }
}

/* Returns the groups a probe for hash h loads to reach position p (1 = home). */
static size_t f15_probe_groups(const f15_map *m, uint64_t h, size_t p)
{
    size_t n = m->n_groups, step = f15_step(h, n), groups = 1;
    for (size_t g = f15_home(h, n); g != p / F15_GROUP_BYTES; g = f15_next(g, step, n))
        groups++;
    return groups;
}

/* ---- rebuild: grow / same-size / shrink ---------------------------------------- */

/* Moves every entry of from into to, a fresh zeroed table with room.
 * Walks from's groups in order; the home group is monotone in h, so the
 * writes into to go forward too. */
F15_INLINE void f15_transfer_kv(const f15_map *from, f15_map *to, size_t kb, size_t sb)
{
    const uint8_t *old_ctrl = from->ctrl;
    const unsigned char *old_slots = from->slots;
    uint8_t *ctrl = to->ctrl;
    unsigned char *slots = to->slots;
    size_t n = to->n_groups;
    uint64_t seed = from->seed, seed_mixed = from->seed_mixed;
    for (size_t g = 0; g < from->n_groups; g++) {
        const unsigned char *gs = old_slots + g * (F15_SLOTS * sb);
        for (uint32_t full = f15_match_full(f15_load(old_ctrl + g * F15_GROUP_BYTES)); full;
             full &= full - 1) {
            const unsigned char *s = gs + f15_lowest(full) * sb;
            uint64_t h = f15_hash(seed_mixed, seed, s, kb);
            size_t p = f15_claim(ctrl, n, h);
            ctrl[p] = f15_tag(h);
            memcpy(slots + f15_pos_slot(p) * sb, s, sb);
        }
    }
}

static void f15_transfer(const f15_map *from, f15_map *to)
{
    if (from->shape == F15_K8V8)
        f15_transfer_kv(from, to, 8, 16);
    else if (from->shape == F15_K8V64)
        f15_transfer_kv(from, to, 8, 72);
    else
        f15_transfer_kv(from, to, from->key_bytes, from->slot_bytes);
}

/* Rebuilds the table at n_groups groups (0, or with room for count).
 * Returns 0, or MB_ENOMEM with the map unchanged. */
static int f15_rebuild(f15_map *m, size_t n_groups)
{
    size_t bytes = f15_block_bytes(n_groups, m->slot_bytes);
    f15_map next = *m;
    next.n_groups = n_groups;
    next.block_bytes = bytes;
    if (n_groups == 0) {
        next.ctrl = (uint8_t *)f15_empty_group; /* never written while n_groups == 0 */
        next.slots = NULL;
    } else {
        next.ctrl = mb_alloc_bytes(&m->alloc, bytes, F15_ALIGN);
        if (!next.ctrl)
            return MB_ENOMEM;
        next.slots = next.ctrl + n_groups * F15_GROUP_BYTES;
        memset(next.ctrl, 0, n_groups * F15_GROUP_BYTES);
    }
    f15_transfer(m, &next);
    if (m->n_groups)
        mb_free_bytes(&m->alloc, m->ctrl, m->block_bytes, F15_ALIGN);
    next.lost = 0;
    next.growth_left = f15_max_load(n_groups) - m->count;
    if (n_groups > m->n_groups)
        next.grow_events++;
    else if (n_groups < m->n_groups)
        next.shrink_events++;
    else
        next.rehash_events++;
    *m = next;
    return 0;
}

/* Makes growth_left > 0 for one more entry.  When the live entries (plus
 * the new one) fill at most 7/8 of max_load, lost slots are what fill the
 * table: rebuild at the same size.  Otherwise grow to the smallest table
 * holding twice the entries.  Returns 0 or MB_ENOMEM (map unchanged). */
static int f15_make_room(f15_map *m)
{
    size_t g = m->n_groups;
    if (m->count + 1 > f15_max_load(g) / 8 * 7) {
        size_t want = m->count + 1;
        want += want / F15_GROW_DEN * (F15_GROW_NUM - F15_GROW_DEN);
        g = f15_groups_for(want, m->slot_bytes);
        if (g == SIZE_MAX) {
            g = f15_groups_for(m->count + 1, m->slot_bytes); /* at least one more entry */
            if (g == SIZE_MAX)
                return MB_ENOMEM;
        }
        if (g < m->n_groups)
            g = m->n_groups;
    }
    return f15_rebuild(m, g);
}

static void f15_maybe_shrink(f15_map *m)
{
    if (m->shrink != MB_SHRINK_LOW_WATER || m->count >= f15_max_load(m->n_groups) / 8)
        return;
    size_t g = f15_groups_for(2 * m->count, m->slot_bytes);
    if (g < m->n_groups)
        (void)f15_rebuild(m, g); /* on ENOMEM the table simply stays larger */
}

/* ---- ops bodies, specialised by key/value size ----------------------------------
 *
 * Each hot path handles the home group inline (one group load, the tag
 * compare, at most a key compare or two) and ends there unless the home group
 * has overflowed for the key's bit (or, for insert, is full or the table
 * needs room); the rest is an out-of-line call, so the common path needs no
 * callee-saved registers.  The rest paths are specialised like the hot ones. */

F15_INLINE int f15_lookup_rest_kv(f15_map *m, const void *key, void *val_out, uint64_t h,
                                  size_t g, size_t kb, size_t vb)
{
    size_t n = m->n_groups;
    size_t p = f15_find_from(m, key, h, f15_next(g, f15_step(h, n), n), 2, kb, kb + vb);
    if (p == SIZE_MAX)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, m->slots + f15_pos_slot(p) * (kb + vb) + kb, vb);
    return MB_FOUND;
}

/* The lookup of a key whose home group has overflowed for it: the probe
 * from the group after home (g) on. */
static __attribute__((noinline)) int f15_lookup_rest(f15_map *m, const void *key, void *val_out,
                                                     uint64_t h, size_t g)
{
    if (m->shape == F15_K8V8)
        return f15_lookup_rest_kv(m, key, val_out, h, g, 8, 8);
    return f15_lookup_rest_kv(m, key, val_out, h, g, m->key_bytes, m->val_bytes);
}

F15_INLINE int f15_lookup_kv(f15_map *m, const void *key, void *val_out, size_t kb, size_t vb)
{
    size_t sb = kb + vb;
    uint64_t h = F15_HASH(m, key, kb);
    size_t g = f15_home(h, m->n_groups);
    const uint8_t *c = m->ctrl + g * F15_GROUP_BYTES;
    const unsigned char *gs = m->slots + g * (F15_SLOTS * sb);
    uint32_t match = f15_match(f15_load(c), f15_splat(h));
    if (match)
        __builtin_prefetch(gs); /* the group's first slot line, before the key compare */
    for (; match; match &= match - 1) {
        const unsigned char *s = gs + f15_lowest(match) * sb;
        if (__builtin_expect(mb_key_eq(s, key, kb), 1)) {
            if (val_out)
                memcpy(val_out, s + kb, vb);
            return MB_FOUND;
        }
    }
    if (__builtin_expect(!f15_overflowed(c, h), 1))
        return MB_NOTFOUND;
    return f15_lookup_rest(m, key, val_out, h, g);
}

/* Stores (key, val) with hash h at the free position p. */
F15_INLINE void f15_put(f15_map *m, size_t p, uint64_t h, const void *key, const void *val,
                        size_t kb, size_t vb)
{
    unsigned char *s = m->slots + f15_pos_slot(p) * (kb + vb);
    m->ctrl[p] = f15_tag(h);
    m->growth_left--;
    m->count++;
    memcpy(s, key, kb);
    memcpy(s + kb, val, vb);
}

/* Every insert the hot path does not finish: the key may be beyond its home
 * group g (when g has overflowed for h), g may be full, or the table may
 * need room.  The hot path has already compared the keys in g. */
F15_INLINE int f15_insert_slow_kv(f15_map *m, const void *key, const void *val, uint64_t h,
                                  size_t g, size_t kb, size_t vb)
{
    if (f15_overflowed(m->ctrl + g * F15_GROUP_BYTES, h)) {
        size_t n = m->n_groups;
    size_t p = f15_find_from(m, key, h, f15_next(g, f15_step(h, n), n), 2, kb, kb + vb);
        if (p != SIZE_MAX) {
            memcpy(m->slots + f15_pos_slot(p) * (kb + vb) + kb, val, vb);
            return MB_REPLACED;
        }
    }
    if (m->growth_left == 0 && f15_make_room(m) != 0)
        return MB_ENOMEM;
    f15_put(m, f15_claim(m->ctrl, m->n_groups, h), h, key, val, kb, vb);
    return MB_INSERTED;
}

static __attribute__((noinline)) int f15_insert_slow(f15_map *m, const void *key,
                                                     const void *val, uint64_t h, size_t g)
{
    if (m->shape == F15_K8V8)
        return f15_insert_slow_kv(m, key, val, h, g, 8, 8);
    return f15_insert_slow_kv(m, key, val, h, g, m->key_bytes, m->val_bytes);
}

F15_INLINE int f15_insert_kv(f15_map *m, const void *key, const void *val, size_t kb, size_t vb)
{
    size_t sb = kb + vb;
    uint64_t h = F15_HASH(m, key, kb);
    size_t g = f15_home(h, m->n_groups);
    uint8_t *c = m->ctrl + g * F15_GROUP_BYTES;
    unsigned char *gs = m->slots + g * (F15_SLOTS * sb);
    f15_group grp = f15_load(c);
    for (uint32_t match = f15_match(grp, f15_splat(h)); match; match &= match - 1) {
        unsigned char *s = gs + f15_lowest(match) * sb;
        if (__builtin_expect(mb_key_eq(s, key, kb), 1)) {
            memcpy(s + kb, val, vb);
            return MB_REPLACED;
        }
    }
    uint32_t free_mask = f15_match_free(grp);
    if (__builtin_expect(!f15_overflowed(c, h) && free_mask != 0 && m->growth_left != 0, 1)) {
        /* absent (the probe ends at home) and home has a free slot */
        size_t s = f15_lowest(free_mask);
        unsigned char *slot = gs + s * sb;
        c[s] = f15_tag(h);
        m->growth_left--;
        m->count++;
        memcpy(slot, key, kb);
        memcpy(slot + kb, val, vb);
        return MB_INSERTED;
    }
    return f15_insert_slow(m, key, val, h, g);
}

/* The removal of a key beyond its home group: its slot goes to `lost`. */
static __attribute__((noinline)) int f15_remove_rest(f15_map *m, const void *key, uint64_t h)
{
    size_t p = f15_find(m, key, h);
    if (p == SIZE_MAX)
        return MB_NOTFOUND;
    m->ctrl[p] = 0;
    m->count--;
    if (p / F15_GROUP_BYTES == f15_home(h, m->n_groups))
        m->growth_left++; /* (only a tag collision in the home group gets here) */
    else
        m->lost++; /* displaced: its overflow bits stay behind until a rebuild */
    if (__builtin_expect(m->shrink == MB_SHRINK_LOW_WATER, 0))
        f15_maybe_shrink(m);
    return MB_FOUND;
}

F15_INLINE int f15_remove_kv(f15_map *m, const void *key, size_t kb, size_t vb)
{
    size_t sb = kb + vb;
    uint64_t h = F15_HASH(m, key, kb);
    size_t g = f15_home(h, m->n_groups);
    uint8_t *c = m->ctrl + g * F15_GROUP_BYTES;
    const unsigned char *gs = m->slots + g * (F15_SLOTS * sb);
    uint32_t match = f15_match(f15_load(c), f15_splat(h));
    if (match)
        __builtin_prefetch(gs); /* as in lookup */
    for (; match; match &= match - 1) {
        size_t s = f15_lowest(match);
        if (__builtin_expect(mb_key_eq(gs + s * sb, key, kb), 1)) {
            c[s] = 0;
            m->count--;
            m->growth_left++; /* in its home group: no overflow bit of its own */
            if (__builtin_expect(m->shrink == MB_SHRINK_LOW_WATER, 0))
                f15_maybe_shrink(m);
            return MB_FOUND;
        }
    }
    if (__builtin_expect(!f15_overflowed(c, h), 1))
        return MB_NOTFOUND;
    return f15_remove_rest(m, key, h);
}

/* ---- ops ---------------------------------------------------------------------- */

static void *f15_create(const mb_alloc *a, const mb_map_config *cfg)
{
    size_t slot_bytes = cfg->key_bytes + cfg->val_bytes;
    size_t g = f15_groups_for(cfg->capacity_hint, slot_bytes);
    if (g == SIZE_MAX)
        return NULL;
    f15_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(f15_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->slot_bytes = slot_bytes;
    m->seed = cfg->seed;
    m->seed_mixed = cfg->seed ^ F15_HASH_XOR;
    m->shrink = cfg->shrink;
    m->shape = cfg->key_bytes != 8 ? F15_GENERIC : cfg->val_bytes == 8 ? F15_K8V8
             : cfg->val_bytes == 64 ? F15_K8V64 : F15_GENERIC;
    m->ctrl = (uint8_t *)f15_empty_group;
    if (g && f15_rebuild(m, g) != 0) {
        mb_free_bytes(a, m, sizeof *m, _Alignof(f15_map));
        return NULL;
    }
    m->grow_events = 0; /* sizing to the hint is not a grow */
    return m;
}

static void f15_destroy(void *mp)
{
    f15_map *m = mp;
    mb_alloc a = m->alloc;
    if (m->n_groups)
        mb_free_bytes(&a, m->ctrl, m->block_bytes, F15_ALIGN);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(f15_map));
}

static __attribute__((noinline)) int f15_insert_other(f15_map *m, const void *key,
                                                      const void *val)
{
    if (m->shape == F15_K8V64)
        return f15_insert_kv(m, key, val, 8, 64);
    return f15_insert_kv(m, key, val, m->key_bytes, m->val_bytes);
}

static __attribute__((noinline)) int f15_lookup_other(f15_map *m, const void *key, void *val_out)
{
    if (m->shape == F15_K8V64)
        return f15_lookup_kv(m, key, val_out, 8, 64);
    return f15_lookup_kv(m, key, val_out, m->key_bytes, m->val_bytes);
}

static __attribute__((noinline)) int f15_remove_other(f15_map *m, const void *key)
{
    if (m->shape == F15_K8V64)
        return f15_remove_kv(m, key, 8, 64);
    return f15_remove_kv(m, key, m->key_bytes, m->val_bytes);
}

static int f15_insert(void *mp, const void *key, const void *val)
{
    f15_map *m = mp;
    if (__builtin_expect(m->shape == F15_K8V8, 1))
        return f15_insert_kv(m, key, val, 8, 8);
    return f15_insert_other(m, key, val);
}

static int f15_lookup(void *mp, const void *key, void *val_out)
{
    f15_map *m = mp;
    if (__builtin_expect(m->shape == F15_K8V8, 1))
        return f15_lookup_kv(m, key, val_out, 8, 8);
    return f15_lookup_other(m, key, val_out);
}

static int f15_remove(void *mp, const void *key)
{
    f15_map *m = mp;
    if (__builtin_expect(m->shape == F15_K8V8, 1))
        return f15_remove_kv(m, key, 8, 8);
    return f15_remove_other(m, key);
}

static void f15_clear(void *mp)
{
    f15_map *m = mp;
    if (m->n_groups)
        memset(m->ctrl, 0, m->n_groups * F15_GROUP_BYTES);
    m->count = 0;
    m->lost = 0;
    m->growth_left = f15_max_load(m->n_groups);
}

static int f15_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    f15_map *m = mp;
    int r = 0;
    for (size_t g = 0; g < m->n_groups && r == 0; g++)
        for (uint32_t full = f15_match_full(f15_load(m->ctrl + g * F15_GROUP_BYTES));
             full && r == 0; full &= full - 1) {
            const unsigned char *s = m->slots + (g * F15_SLOTS + f15_lowest(full)) * m->slot_bytes;
            r = fn(ud, s, s + m->key_bytes);
        }
    return r;
}

static void f15_stats(const void *mp, mb_map_stats *out)
{
    const f15_map *m = mp;
    size_t total = 0;
    mb_stats_init(out);
    out->count = m->count;
    out->capacity = m->n_groups * F15_SLOTS;
    out->overflow = 0;
    out->max_probe = 0;
    for (size_t g = 0; g < m->n_groups; g++) {
        const uint8_t *c = m->ctrl + g * F15_GROUP_BYTES;
        out->overflow += c[F15_OVERFLOW] != 0;
        for (uint32_t full = f15_match_full(f15_load(c)); full; full &= full - 1) {
            size_t sl = f15_lowest(full);
            const unsigned char *s = m->slots + (g * F15_SLOTS + sl) * m->slot_bytes;
            size_t groups = f15_probe_groups(m, mb_hash_key(s, m->key_bytes, m->seed),
                                             g * F15_GROUP_BYTES + sl);
            total += groups;
            if (groups > out->max_probe)
                out->max_probe = groups;
        }
    }
    out->mean_probe = m->count ? (double)total / (double)m->count : 0.0;
    out->grow_events = m->grow_events;
    out->shrink_events = m->shrink_events;
    out->rehash_events = m->rehash_events;
    out->bytes = sizeof *m + m->block_bytes;
}

/* ---- check -------------------------------------------------------------------- */

static const char *f15_check(const void *mp)
{
    const f15_map *m = mp;
    size_t n = m->n_groups, full = 0;

    if (n == 0) {
        if (m->ctrl != f15_empty_group || m->block_bytes != 0 || m->slots != NULL)
            return "a map of no groups holds a table";
        if (m->count != 0 || m->growth_left != 0 || m->lost != 0)
            return "a map of no groups has entries, growth or lost slots";
        return NULL;
    }
    if (n > f15_groups_limit(m->slot_bytes))
        return "group count beyond the limit";
    if (n > 1 && !f15_is_prime(n))
        return "group count is neither 1 nor a prime";
    if (m->block_bytes != f15_block_bytes(n, m->slot_bytes))
        return "block_bytes does not match the group count";
    if (m->slots != m->ctrl + n * F15_GROUP_BYTES)
        return "slots do not follow the metadata";
    if (((uintptr_t)m->ctrl & (F15_ALIGN - 1)) != 0)
        return "metadata not 64-byte aligned";
    for (size_t g = 0; g < n; g++) {
        const uint8_t *c = m->ctrl + g * F15_GROUP_BYTES;
        for (unsigned s = 0; s < F15_SLOTS; s++) {
            if (c[s] == 0)
                continue;
            full++;
            size_t i = g * F15_SLOTS + s;
            const unsigned char *slot = m->slots + i * m->slot_bytes;
            uint64_t h = mb_hash_key(slot, m->key_bytes, m->seed);
            if (F15_HASH(m, slot, m->key_bytes) != h)
                return "f15_hash differs from mb_hash_key";
            if (c[s] != f15_tag(h))
                return "a tag is not the reduced hash of its slot's key";
            /* every group from home up to (not including) g has h's bit */
            for (size_t p = f15_home(h, n), st = f15_step(h, n); p != g; p = f15_next(p, st, n))
                if (!f15_overflowed(m->ctrl + p * F15_GROUP_BYTES, h))
                    return "a group on a displaced key's probe lacks its overflow bit";
            size_t found = f15_find(m, slot, h);
            if (found == SIZE_MAX)
                return "a key is not findable from its home group";
            if (found != g * F15_GROUP_BYTES + s)
                return "a key is stored twice";
        }
    }
    if (full != m->count)
        return "count does not match full tags";
    if (m->count + m->lost > f15_max_load(n))
        return "entries plus lost slots exceed the max load";
    if (m->growth_left != f15_max_load(n) - m->count - m->lost)
        return "growth_left != max_load - count - lost";
    return NULL;
}

const mb_map_ops mb_flat15_ops = {
    .name = "flat15",
    .family = "open-addressing",
    .traits = "simd-groups,overflow-bits,no-tombstones,growth-3/2,clear-keeps-capacity",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_SHRINK | MB_F_OWN_ALLOC,
    .create = f15_create,
    .destroy = f15_destroy,
    .insert = f15_insert,
    .lookup = f15_lookup,
    .remove = f15_remove,
    .clear = f15_clear,
    .iterate = f15_iterate,
    .stats = f15_stats,
    .check = f15_check,
};
