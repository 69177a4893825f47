/*
 * gomap_swiss — a C model of Go 1.24's runtime map (internal/runtime/maps).
 *
 * Go 1.24 replaced the bucket map that gomap.c models (Go 1.19's
 * runtime/map.go) with a Swiss table split across a directory of tables.
 * Held against src/internal/runtime/maps/{map.go,table.go,group.go} of the
 * Go 1.24 release (GOEXPERIMENT=swissmap, the default; abi.SwissMapType).
 * Go's names are kept: Map (used, seed, dirPtr, dirLen, globalDepth,
 * globalShift, clearSeq), table (used, capacity, growthLeft, localDepth,
 * index, groups), groupsReference (data, lengthMask), ctrlGroup, ctrl,
 * bitset, probeSeq, and the functions, which carry this file's gs_ prefix
 * (gs_PutSlot is table.PutSlot, gs_Map_PutSlot is Map.PutSlot, gs_split is
 * table.split ...), so grep finds both sides.
 *
 * Layout (group.go).  A group is
 *
 *     ctrls   ctrlGroup: 8 control bytes in one uint64, byte i for slot i
 *     slots   8 x { key, elem }   (key and elem interleaved, per slot)
 *
 * so typ.SlotSize = key_bytes + val_bytes (both multiples of 8 here, so
 * ElemOff = key_bytes, no padding) and typ.GroupSize = 8 + 8*SlotSize: 136
 * bytes for u64->u64.  A control byte is
 *
 *     ctrlEmpty    1000 0000
 *     ctrlDeleted  1111 1110   (the tombstone)
 *     full         0hhh hhhh   h = H2, the low 7 bits of the hash
 *
 * and H1 = hash >> 7 (the other 57 bits) picks the first group.  A table
 * is a power-of-two array of groups (capacity = slots = 8 * groups, at most
 * maxTableCapacity = 1024) plus its counters; the Map holds a directory of
 * 2^globalDepth table pointers indexed by the top globalDepth bits of the
 * hash (extendible hashing).  A table created at localDepth <= globalDepth
 * fills 2^(globalDepth - localDepth) consecutive directory entries starting
 * at its index.  Small-map case (map.go "Small map optimization"): a map that
 * has only ever held <= 8 entries has no directory; dirPtr points straight
 * at one group and dirLen is 0.  An empty map made without a hint > 8 holds
 * no group at all until its first insert (growToSmall).
 *
 * Probe rule (table.go probeSeq): groups H1 & mask, then triangular steps
 * p(i) = p(i-1) + i (mod groups), which visit every group once.  A group is
 * matched 8 slots at a time (ctrlGroup.matchH2 and friends, SWAR on the
 * control word).  A lookup stops at the first group with an empty slot; a
 * tombstone behaves as a full slot that matches nothing.  The small map
 * scans its single group and never needs an empty slot.
 *
 * Insert (table.PutSlot): walk the probe sequence looking for the key,
 * remembering the first tombstone; at the first group with an empty slot the
 * key is absent: reuse the remembered tombstone (growthLeft unchanged) or
 * take the empty slot (growthLeft - 1).  When growthLeft is 0 and there is
 * no tombstone to reuse, rehash: the table is replaced and the insert starts
 * over in the Map, which finds the key's new table.  growthLeft starts at
 * 7/8 of capacity (maxAvgGroupLoad = 7 per 8-slot group; capacity - 1 for a
 * one-group table), so used + tombstones never exceed 7/8 of the slots
 * (load factor 7/8, Abseil's, with one free slot per group on average).
 * The small map inserts into any empty slot; the 9th PutSlot on a small map
 * (used == 8) first converts it to a table of 16 slots (growToTable) — even
 * when the key is already present, as Go's TODO says.
 *
 * Tombstone rule (table.Delete): a deleted slot becomes ctrlEmpty (and
 * growthLeft + 1) if its group still has an empty slot — no probe sequence
 * can run through such a group — else ctrlDeleted.  The small map always
 * empties the slot.  Tombstones are cleared only by growth: a rehash copies
 * the live entries into new groups.  Go 1.24 has no rehash in place (the
 * rehash comment: it would break iteration) and no tombstone pruning
 * (table.pruneTombstones, which clears the tombstones no probe sequence
 * needs when they are >= 10% of a table, arrived in Go 1.25: not modelled).
 * So under delete/insert churn a table whose tombstones eat its growthLeft
 * grows (or splits) although its live count did not change: golang/go#70886
 * ("Swiss Table maps can double size multiple times when deleting/adding
 * elements", fixed in Go 1.25 by pruneTombstones).  Measured here with
 * `mapbench churn-case --impl gomap_swiss --n 100000 --rounds 60`: 1e5 live
 * keys, capacity 262144 slots (4.73 MB) until ~2.4e6 steps while tombstones
 * climb to ~111k, then splits to 524288 slots (9.46 MB) at the same 1e5
 * keys by ~4.5e6 steps (tests/test_gomap_swiss.py holds the small case).
 *
 * Growth (table.rehash): a table of capacity c < 1024 is replaced by one of
 * 2c (table.grow, same localDepth and directory entries); a table of 1024 is
 * split (table.split) into two tables of 1024 at localDepth + 1, entries
 * going left or right by hash bit (64 - localDepth - 1) from the top; if the
 * table's localDepth was globalDepth, the directory doubles first
 * (Map.installTableSplit: every entry duplicated, globalDepth + 1).  A grow
 * or split moves one table only: at most 896 entries per insert, Go's bound
 * on grow latency.  makemap's hint (NewMap): hint <= 8 allocates nothing;
 * else targetCapacity = hint*8/7 slots spread over dirSize = pow2ceil(
 * targetCapacity/1024) tables of pow2ceil(targetCapacity/dirSize) slots.
 *
 * Shrink: never.  Deleting every entry keeps every table, every group and
 * the directory; a small map keeps its group.  clear() is Map.Clear: every
 * table's groups are zeroed, growthLeft reset, nothing freed (the directory
 * keeps its size: Go's "TODO: shrink directory?"); a clear of a map with
 * used == 0 does nothing at all, so it keeps any tombstones (Go 1.24; Go
 * 1.25 added tombstonePossible for that case).  Delete of the last entry and
 * Clear draw a new seed (go.dev/issue/25237).
 *
 * Iteration visits directory entries in order, each table once (skipping
 * the 2^(globalDepth - localDepth) entries it covers), its groups and slots
 * in order.  Go starts at a random entryOffset / dirOffset; for this
 * contract (no writes during iteration) a fixed start is enough, and the
 * grown-table re-lookups of Iter.Next are not needed.
 *
 * Deviations from Go 1.24, all deliberate:
 *  1. Allocation failure.  Go panics; we return MB_ENOMEM.  Every step that
 *     allocates gets all its memory first: growToSmall / growToTable before
 *     touching the small map, grow its new table, split both new tables and
 *     (if needed) the doubled directory, and only then moves anything.  So
 *     a failed insert has lost, duplicated or changed no entry and check()
 *     passes.  The one thing it may leave behind: if a split left one half
 *     with no growthLeft (every entry went one way), the retried PutSlot
 *     splits again, and if that second split fails the first one stays —
 *     the same entries in a different set of tables.
 *  2. Sizes.  Every allocation is rounded up to Go's malloc size classes
 *     (runtime/sizeclasses.go as of Go 1.19, the table gomap.c uses; taken
     to be unchanged in 1.24, not checked against 1.24's file; pages of
     8 KiB above 32 KiB), so the bytes
 *     are what Go's heap hands out: a full table's 128 groups of 136 bytes
 *     (17408) take 18432.  The Map header is this file's struct (it carries
 *     what Go's type descriptor and GC know: sizes, the allocator), not Go's
 *     48 bytes; the table struct is Go's 32 bytes.  A replaced table or
 *     directory is freed at once, where Go's garbage collector frees it
 *     later.  Delete clears the elem (Go always does, go.dev/issue/25936);
 *     the key is left in place (Go clears keys only when they hold pointers).
 *  3. Hash and seed.  mb_hash_key with mb_map_config.seed, not aeshash /
 *     memhash with rand(); where Go draws a new seed (delete of the last
 *     entry, Clear) we step a splitmix-style generator, so runs repeat.
 *  4. ctrlGroup matching is group.go's portable SWAR code on every
 *     platform (Go may compile matchH2 and friends to SSE2 on amd64); the
 *     portable matchH2 has rare false positives, which the key compare
 *     rejects, so only the work differs.
 *  5. Not modelled: the writing flag (single-threaded by contract), indirect
 *     keys / elems (Go stores keys or elems > 128 bytes behind a pointer;
 *     ours are <= 48 / 64), a small map's group on the stack (escape
 *     analysis), iteration's randomisation and grown-table handling (see
 *     above), Go 1.25's pruneTombstones.  For 8-byte keys the small-map
 *     lookup compares keys without hashing, as runtime_fast64_swiss.go's
 *     mapaccess does; everything else follows the generic path.
 *
 * Measured (mapbench mem-case, u64->u64 uniform keys, glibc; map bytes are
 * exact counts, so no noise): bytes/entry after insert, gomap (Go 1.19
 * model) vs gomap_swiss: 41.1 vs 37.1 at 1e3, 27.7 vs 23.6 at 1e5, 40.1 vs
 * 37.7 at 1e6; both hold 100% of it after delete_all.  The real Go map here
 * is Go 1.19 (Debian 12's golang): after delete_all + GC its heap holds
 * 41.2 / 27.8 / 40.1 bytes per original entry, gomap's figures.  After the
 * delete of the last key the seed changes, so a reinsert of the same keys
 * meets tables full of tombstones and spread differently over them: at 1e5
 * it grows the map to 27.0 bytes/entry (+14%); with one key kept (no
 * reseed) the same reinsert reuses the tombstones and allocates nothing.  Peak bytes while inserting 1e6: 37.7/entry (one
 * table of 1024 slots is copied at a time) against gomap's 63.2 (old and
 * new bucket arrays during evacuation).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../mb_map.h"
#include "go_malloc.h"

/* ---- constants (group.go, table.go, abi) ------------------------------------ */

enum {
    SwissMapGroupSlotsBits = 3,
    SwissMapGroupSlots = 1 << SwissMapGroupSlotsBits, /* slots per group (abi) */
    maxAvgGroupLoad = 7,      /* max load: 7 of 8 slots per group, on average */
    maxTableCapacity = 1024,  /* slots in a table before it splits instead of growing */
    ctrlGroupsSize = 8,       /* bytes of the control word ... */
    groupSlotsOffset = 8,     /* ... which the slots follow */
};

typedef uint8_t ctrl;
enum {
    ctrlEmpty = 0x80,   /* 1000 0000 */
    ctrlDeleted = 0xfe, /* 1111 1110: the tombstone */
};

#define bitsetLSB 0x0101010101010101ULL
#define bitsetMSB 0x8080808080808080ULL
#define bitsetEmpty (bitsetLSB * (uint64_t)ctrlEmpty)

/* Go's heap limit (the size classes and page rounding are in go_malloc.h). */
#define GS_MAX_ALLOC ((uint64_t)1 << 48) /* maxAlloc on linux/amd64 */

/* ---- layout ----------------------------------------------------------------- */

/* A set of slots of one group: byte i is 0x80 if slot i is in the set. */
typedef uint64_t bitset;

/* 8 control bytes; byte i (little-endian) belongs to slot i. */
typedef uint64_t ctrlGroup;

/* An array of 2^k groups. */
typedef struct groupsReference {
    unsigned char *data; /* (lengthMask + 1) groups of typ.GroupSize bytes */
    uint64_t lengthMask; /* groups - 1 */
} groupsReference;

/* A complete Swiss table serving the hashes of its directory entries. */
typedef struct table {
    uint16_t used;       /* full slots */
    uint16_t capacity;   /* slots, 2^k, = (groups.lengthMask + 1) * 8 */
    uint16_t growthLeft; /* empty slots inserts may still fill before a rehash */
    uint8_t localDepth;  /* hash bits the directory uses to reach this table */
    int64_t index;       /* first directory entry holding this table (-1: stale) */
    groupsReference groups;
} table;

/* What Go's abi.SwissMapType tells the map about its types. */
typedef struct gs_type {
    size_t KeySize, ElemSize;
    size_t SlotSize;  /* key + elem */
    size_t ElemOff;   /* elem's offset in a slot */
    size_t GroupSize; /* 8 + 8 * SlotSize */
} gs_type;

typedef struct Map {
    uint64_t used;      /* live entries in every table (or the small group) */
    uint64_t seed;      /* hash seed */
    void *dirPtr;       /* table *[dirLen], or the small map's one group, or NULL */
    size_t dirLen;      /* 2^globalDepth, or 0 for a small (or group-less) map */
    uint8_t globalDepth;/* hash bits used to index the directory */
    uint8_t globalShift;/* 64 - globalDepth */
    uint64_t clearSeq;  /* calls to Clear that did something */
    /* What Go's type descriptor and allocator know (deviation 2): */
    gs_type typ;
    mb_alloc alloc;
    size_t grow_events; /* capacity increases: growToSmall, growToTable, grow, split */
} Map;

/* ---- Go's allocator sizes ---------------------------------------------------- */

/* mallocgc stand-in: size bytes (rounded like Go), not zeroed, or NULL. */
static void *gs_mallocgc(const Map *m, size_t size)
{
    return mb_alloc_bytes(&m->alloc, go_roundupsize(size), _Alignof(uint64_t));
}

static void gs_freegc(const Map *m, void *p, size_t size)
{
    mb_free_bytes(&m->alloc, p, go_roundupsize(size), _Alignof(uint64_t));
}

/* ---- group.go -------------------------------------------------------------- */

/* first: the index of the first slot in b (8 if b is empty). */
static unsigned gs_bitset_first(bitset b)
{
    return b ? (unsigned)__builtin_ctzll(b) >> 3 : SwissMapGroupSlots;
}

/* removeFirst: b without its first slot. */
static bitset gs_bitset_removeFirst(bitset b)
{
    return b & (b - 1);
}

static ctrlGroup gs_ctrls(const unsigned char *g)
{
    ctrlGroup c;
    memcpy(&c, g, sizeof c);
    return c;
}

static ctrl gs_ctrl_get(const unsigned char *g, unsigned i)
{
    return g[i]; /* little-endian: byte i of the word */
}

static void gs_ctrl_set(unsigned char *g, unsigned i, ctrl c)
{
    g[i] = c;
}

static void gs_ctrl_setEmpty(unsigned char *g)
{
    ctrlGroup c = bitsetEmpty;
    memcpy(g, &c, sizeof c);
}

/* matchH2: the full slots whose H2 is h (rare false positives, never on
 * empty or deleted slots; the key compare rejects them). */
static bitset gs_matchH2(ctrlGroup g, uint64_t h)
{
    uint64_t v = g ^ (bitsetLSB * h);
    return ((v - bitsetLSB) & ~v) & bitsetMSB;
}

/* matchEmpty: bit 7 set and bit 1 clear. */
static bitset gs_matchEmpty(ctrlGroup g)
{
    return (g & ~(g << 6)) & bitsetMSB;
}

/* matchEmptyOrDeleted: bit 7 set. */
static bitset gs_matchEmptyOrDeleted(ctrlGroup g)
{
    return g & bitsetMSB;
}

/* matchFull: bit 7 clear. */
static bitset gs_matchFull(ctrlGroup g)
{
    return ~g & bitsetMSB;
}

static unsigned char *gs_group(const Map *m, const groupsReference *gr, uint64_t i)
{
    return gr->data + (size_t)i * m->typ.GroupSize;
}

static unsigned char *gs_key(const Map *m, unsigned char *g, unsigned i)
{
    return g + groupSlotsOffset + i * m->typ.SlotSize;
}

static unsigned char *gs_elem(const Map *m, unsigned char *g, unsigned i)
{
    return g + groupSlotsOffset + i * m->typ.SlotSize + m->typ.ElemOff;
}

/* alignUpPow2: n rounded up to a power of two (0 stays 0). */
static uint64_t gs_alignUpPow2(uint64_t n)
{
    if (n <= 1)
        return n;
    if (n > ((uint64_t)1 << 63))
        return 0; /* overflow */
    return (uint64_t)1 << (64 - __builtin_clzll(n - 1));
}

/* ---- map.go: hash, directory ----------------------------------------------------- */

/* h1: the upper 57 bits of a hash; picks the first group. */
static uint64_t gs_h1(uint64_t h)
{
    return h >> 7;
}

/* h2: the low 7 bits of a hash; a full slot's control byte. */
static uint64_t gs_h2(uint64_t h)
{
    return h & 0x7f;
}

static uint64_t gs_hash(const Map *m, const void *key)
{
    return mb_hash_key(key, m->typ.KeySize, m->seed);
}

/* rand() stand-in for the reseeds (deviation 3). */
static uint64_t gs_rand(uint64_t prev)
{
    return mb_hash_u64(prev + 0x9e3779b97f4a7c15ULL, 0x243f6a8885a308d3ULL);
}

static uint8_t gs_depthToShift(uint8_t depth)
{
    return (uint8_t)(64 - depth);
}

static table **gs_directory(const Map *m)
{
    return (table **)m->dirPtr;
}

static size_t gs_directoryIndex(const Map *m, uint64_t hash)
{
    if (m->dirLen == 1)
        return 0;
    return (size_t)(hash >> (m->globalShift & 63));
}

static table *gs_directoryAt(const Map *m, size_t i)
{
    return gs_directory(m)[i];
}

/* replaceTable installs nt in its 2^(globalDepth - localDepth) entries. */
static void gs_replaceTable(Map *m, table *nt)
{
    size_t entries = (size_t)1 << (m->globalDepth - nt->localDepth);
    for (size_t i = 0; i < entries; i++)
        gs_directory(m)[nt->index + (int64_t)i] = nt;
}

/* ---- probe sequence (table.go) ------------------------------------------------ */

typedef struct probeSeq {
    uint64_t mask, offset, index;
} probeSeq;

static probeSeq gs_makeProbeSeq(uint64_t hash, uint64_t mask)
{
    return (probeSeq){ mask, hash & mask, 0 };
}

static probeSeq gs_probeSeq_next(probeSeq s)
{
    s.index++;
    s.offset = (s.offset + s.index) & s.mask;
    return s;
}

/* ---- tables: allocation (table.go newTable, reset) ---------------------------------- */

static size_t gs_groups_bytes(const Map *m, uint64_t ngroups)
{
    return (size_t)ngroups * m->typ.GroupSize;
}

/* resetGrowthLeft.  PRECONDITION: t is empty (no full or deleted slot). */
static void gs_resetGrowthLeft(table *t)
{
    if (t->capacity <= SwissMapGroupSlots)
        /* One group: every slot but one (an empty slot ends every find). */
        t->growthLeft = (uint16_t)(t->capacity - 1);
    else
        t->growthLeft = (uint16_t)((t->capacity * maxAvgGroupLoad) / SwissMapGroupSlots);
}

/* The most slots a table may have full or deleted: 7/8 of capacity. */
static unsigned gs_maxGrowth(const table *t)
{
    return (unsigned)(t->capacity * maxAvgGroupLoad) / SwissMapGroupSlots;
}

/* tombstones: deleted slots, from the counters. */
static unsigned gs_tombstones(const table *t)
{
    return gs_maxGrowth(t) - t->used - t->growthLeft;
}

static void gs_freeTable(Map *m, table *t)
{
    gs_freegc(m, t->groups.data, gs_groups_bytes(m, t->groups.lengthMask + 1));
    gs_freegc(m, t, sizeof *t);
}

/* newTable: an empty table of at least capacity slots (>= 8, a power of
 * two, <= maxTableCapacity), or NULL when an allocation fails. */
static table *gs_newTable(Map *m, uint64_t capacity, int64_t index, uint8_t localDepth)
{
    if (capacity < SwissMapGroupSlots)
        capacity = SwissMapGroupSlots;
    capacity = gs_alignUpPow2(capacity); /* probeSeq needs 2^k groups */
    table *t = gs_mallocgc(m, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->index = index;
    t->localDepth = localDepth;
    /* reset: new, empty groups of the requested capacity. */
    uint64_t groupCount = capacity / SwissMapGroupSlots;
    size_t bytes = gs_groups_bytes(m, groupCount);
    t->groups.data = gs_mallocgc(m, bytes);
    if (!t->groups.data) {
        gs_freegc(m, t, sizeof *t);
        return NULL;
    }
    memset(t->groups.data, 0, bytes); /* Go's newarray zeroes */
    t->groups.lengthMask = groupCount - 1;
    t->capacity = (uint16_t)capacity;
    gs_resetGrowthLeft(t);
    for (uint64_t i = 0; i <= t->groups.lengthMask; i++)
        gs_ctrl_setEmpty(gs_group(m, &t->groups, i));
    return t;
}

/* ---- tables: lookup, insert, delete (table.go) ------------------------------------ */

/* getWithKey: the slot holding key (its group in *gout, slot index
 * returned), or -1.  probes (if not NULL) gets the groups loaded. */
static int gs_getWithKey(const Map *m, const table *t, uint64_t hash, const void *key,
                         unsigned char **gout, size_t *probes)
{
    probeSeq seq = gs_makeProbeSeq(gs_h1(hash), t->groups.lengthMask);
    for (size_t n = 1;; seq = gs_probeSeq_next(seq), n++) {
        unsigned char *g = gs_group(m, &t->groups, seq.offset);
        ctrlGroup c = gs_ctrls(g);
        for (bitset match = gs_matchH2(c, gs_h2(hash)); match; match = gs_bitset_removeFirst(match)) {
            unsigned i = gs_bitset_first(match);
            if (mb_key_eq(key, gs_key(m, g, i), m->typ.KeySize)) {
                *gout = g;
                if (probes)
                    *probes = n;
                return (int)i;
            }
        }
        /* Finding an empty slot means we've reached the end of the probe
         * sequence.  (A probe sequence visits every group once, and every
         * table keeps an empty slot, so this ends; n bounds it anyway.) */
        if (gs_matchEmpty(c) || n > t->groups.lengthMask)
            return -1;
    }
}

/* What table.PutSlot tells Map.PutSlot. */
enum { gs_put_rehashed = 0 }; /* the table was replaced: find the key's table again */

/* Writes key and elem into slot i of g and marks it full with H2. */
static void gs_fill_slot(Map *m, unsigned char *g, unsigned i, uint64_t hash, const void *key,
                         const void *elem)
{
    memcpy(gs_key(m, g, i), key, m->typ.KeySize);
    memcpy(gs_elem(m, g, i), elem, m->typ.ElemSize);
    gs_ctrl_set(g, i, (ctrl)gs_h2(hash));
}

static int gs_rehash(Map *m, table *t);

/* PutSlot: insert or replace key in t.  Returns MB_REPLACED, MB_INSERTED,
 * gs_put_rehashed (t is gone: the caller must look up the key's table
 * again), or MB_ENOMEM (the rehash could not allocate; nothing changed). */
static int gs_PutSlot(Map *m, table *t, uint64_t hash, const void *key, const void *elem)
{
    probeSeq seq = gs_makeProbeSeq(gs_h1(hash), t->groups.lengthMask);
    /* As we look for a match, keep track of the first deleted slot we
     * find, which we'll use to insert the new entry if necessary. */
    unsigned char *firstDeletedGroup = NULL;
    unsigned firstDeletedSlot = 0;

    for (;; seq = gs_probeSeq_next(seq)) {
        unsigned char *g = gs_group(m, &t->groups, seq.offset);
        ctrlGroup c = gs_ctrls(g);
        /* Look for an existing slot containing this key. */
        for (bitset match = gs_matchH2(c, gs_h2(hash)); match; match = gs_bitset_removeFirst(match)) {
            unsigned i = gs_bitset_first(match);
            if (mb_key_eq(key, gs_key(m, g, i), m->typ.KeySize)) {
                memcpy(gs_elem(m, g, i), elem, m->typ.ElemSize);
                return MB_REPLACED;
            }
        }
        /* No existing slot for this key in this group.  Is this the end
         * of the probe sequence? */
        bitset match = gs_matchEmptyOrDeleted(c);
        if (match == 0)
            continue; /* nothing but filled slots: keep probing */
        unsigned i = gs_bitset_first(match);
        if (gs_ctrl_get(g, i) == ctrlDeleted) {
            /* There are some deleted slots.  Remember the first one, and
             * keep probing. */
            if (!firstDeletedGroup) {
                firstDeletedGroup = g;
                firstDeletedSlot = i;
            }
            continue;
        }
        /* We've found an empty slot: the end of the probe sequence.  A
         * deleted slot found along the way is reused without consuming
         * growthLeft. */
        if (firstDeletedGroup) {
            g = firstDeletedGroup;
            i = firstDeletedSlot;
            t->growthLeft++; /* decremented below: a no-op */
        }
        /* If there is room left to grow, just insert the new entry. */
        if (t->growthLeft > 0) {
            gs_fill_slot(m, g, i, hash, key, elem);
            t->growthLeft--;
            t->used++;
            m->used++;
            return MB_INSERTED;
        }
        int rc = gs_rehash(m, t);
        return rc == 0 ? gs_put_rehashed : rc;
    }
}

/* uncheckedPutSlot: insert a key known to be absent into a table with room
 * and no tombstones (grow / split / growToTable targets).  Updates
 * growthLeft, not used. */
static void gs_uncheckedPutSlot(Map *m, table *t, uint64_t hash, const void *key,
                                const void *elem)
{
    probeSeq seq = gs_makeProbeSeq(gs_h1(hash), t->groups.lengthMask);
    for (;; seq = gs_probeSeq_next(seq)) {
        unsigned char *g = gs_group(m, &t->groups, seq.offset);
        bitset match = gs_matchEmptyOrDeleted(gs_ctrls(g));
        if (match != 0) {
            gs_fill_slot(m, g, gs_bitset_first(match), hash, key, elem);
            t->growthLeft--;
            return;
        }
    }
}

/* Delete: remove key from t if present.  Returns MB_FOUND or MB_NOTFOUND. */
static int gs_Delete(Map *m, table *t, uint64_t hash, const void *key)
{
    probeSeq seq = gs_makeProbeSeq(gs_h1(hash), t->groups.lengthMask);
    for (uint64_t n = 0;; seq = gs_probeSeq_next(seq), n++) {
        unsigned char *g = gs_group(m, &t->groups, seq.offset);
        ctrlGroup c = gs_ctrls(g);
        for (bitset match = gs_matchH2(c, gs_h2(hash)); match; match = gs_bitset_removeFirst(match)) {
            unsigned i = gs_bitset_first(match);
            if (!mb_key_eq(key, gs_key(m, g, i), m->typ.KeySize))
                continue;
            t->used--;
            m->used--;
            /* Always clear the elem (go.dev/issue/25936); keys hold no
             * pointers here, so Go leaves them. */
            memset(gs_elem(m, g, i), 0, m->typ.ElemSize);
            /* Only a full group can appear in the middle of a probe
             * sequence (a group with an empty slot terminates probing).
             * Once a group becomes full, it stays full until rehashing.
             * So if the group isn't full now, simply empty the slot;
             * otherwise leave a tombstone. */
            if (gs_matchEmpty(c) != 0) {
                gs_ctrl_set(g, i, ctrlEmpty);
                t->growthLeft++;
            } else {
                gs_ctrl_set(g, i, ctrlDeleted);
            }
            return MB_FOUND;
        }
        if (gs_matchEmpty(c) != 0 || n >= t->groups.lengthMask)
            return MB_NOTFOUND; /* the end of the probe sequence */
    }
}

/* Clear: every group emptied, growthLeft reset; the groups stay. */
static void gs_table_Clear(Map *m, table *t)
{
    memset(t->groups.data, 0, gs_groups_bytes(m, t->groups.lengthMask + 1));
    for (uint64_t i = 0; i <= t->groups.lengthMask; i++)
        gs_ctrl_setEmpty(gs_group(m, &t->groups, i));
    t->used = 0;
    gs_resetGrowthLeft(t);
}

/* ---- grow and split (table.go rehash, grow, split; map.go installTableSplit) ---- */

/* Moves every full slot of old into dst (or, for a split, into left or
 * right by the localDepth bit mask). */
static void gs_move_entries(Map *m, const table *old, table *left, table *right, uint64_t mask)
{
    for (uint64_t gi = 0; gi <= old->groups.lengthMask; gi++) {
        unsigned char *g = gs_group(m, &old->groups, gi);
        for (bitset full = gs_matchFull(gs_ctrls(g)); full; full = gs_bitset_removeFirst(full)) {
            unsigned j = gs_bitset_first(full);
            const unsigned char *key = gs_key(m, g, j);
            uint64_t hash = gs_hash(m, key);
            table *nt = (right && (hash & mask) != 0) ? right : left;
            gs_uncheckedPutSlot(m, nt, hash, key, gs_elem(m, g, j));
            nt->used++;
        }
    }
}

/* grow replaces t with a table of newCapacity holding t's entries (its
 * tombstones dropped).  Returns 0, or MB_ENOMEM with nothing changed. */
static int gs_grow(Map *m, table *t, uint16_t newCapacity)
{
    table *nt = gs_newTable(m, newCapacity, t->index, t->localDepth);
    if (!nt)
        return MB_ENOMEM;
    gs_move_entries(m, t, nt, NULL, 0);
    gs_replaceTable(m, nt);
    t->index = -1;
    gs_freeTable(m, t); /* Go: garbage once no iterator holds it */
    m->grow_events++;
    return 0;
}

/* localDepthMask: the hash bit that splits a table going to localDepth. */
static uint64_t gs_localDepthMask(uint8_t localDepth)
{
    return (uint64_t)1 << (64 - localDepth);
}

/* installTableSplit puts left and right where old was, first doubling the
 * directory into newDir (allocated by the caller) if old used every
 * directory bit. */
static void gs_installTableSplit(Map *m, table *old, table *left, table *right, table **newDir)
{
    if (old->localDepth == m->globalDepth) {
        /* No room for another level in the directory: grow it. */
        table **dir = gs_directory(m);
        for (size_t i = 0; i < m->dirLen; i++) {
            table *t = dir[i];
            newDir[2 * i] = t;
            newDir[2 * i + 1] = t;
            /* t may fill several entries; update its index once (the first
             * time we meet it, while it is still the old index). */
            if (t->index == (int64_t)i)
                t->index = (int64_t)(2 * i);
        }
        gs_freegc(m, dir, m->dirLen * sizeof *dir);
        m->globalDepth++;
        m->globalShift--;
        m->dirPtr = newDir;
        m->dirLen *= 2;
    }
    /* left and right may still fill several entries if the directory has
     * grown several times since old was last split. */
    left->index = old->index;
    gs_replaceTable(m, left);
    size_t entries = (size_t)1 << (m->globalDepth - left->localDepth);
    right->index = left->index + (int64_t)entries;
    gs_replaceTable(m, right);
}

/* split t into two tables of maxTableCapacity at localDepth + 1.  Returns
 * 0, or MB_ENOMEM with nothing changed. */
static int gs_split(Map *m, table *t)
{
    uint8_t localDepth = (uint8_t)(t->localDepth + 1);
    table **newDir = NULL;
    if (t->localDepth == m->globalDepth) {
        if (m->globalDepth >= 63)
            return MB_ENOMEM; /* no hash bit left to split on */
        newDir = gs_mallocgc(m, 2 * m->dirLen * sizeof *newDir);
        if (!newDir)
            return MB_ENOMEM;
    }
    table *left = gs_newTable(m, maxTableCapacity, -1, localDepth);
    table *right = left ? gs_newTable(m, maxTableCapacity, -1, localDepth) : NULL;
    if (!right) {
        if (left)
            gs_freeTable(m, left);
        if (newDir)
            gs_freegc(m, newDir, 2 * m->dirLen * sizeof *newDir);
        return MB_ENOMEM;
    }
    /* Split in half at the localDepth bit from the top. */
    gs_move_entries(m, t, left, right, gs_localDepthMask(localDepth));
    gs_installTableSplit(m, t, left, right, newDir);
    t->index = -1;
    gs_freeTable(m, t);
    m->grow_events++;
    return 0;
}

/* rehash replaces t with one larger table, or two split tables, to fit more
 * entries.  Returns 0 (t is gone) or MB_ENOMEM (nothing changed).  Go 1.24
 * has no rehash in place: tombstones are only dropped by this. */
static int gs_rehash(Map *m, table *t)
{
    unsigned newCapacity = 2u * t->capacity;
    if (newCapacity <= maxTableCapacity)
        return gs_grow(m, t, (uint16_t)newCapacity);
    return gs_split(m, t);
}

/* ---- the small map (map.go) ------------------------------------------------------ */

static unsigned char *gs_smallGroup(const Map *m)
{
    return (unsigned char *)m->dirPtr;
}

/* getWithKeySmall: the slot of key in the small group, or -1.  For 8-byte
 * keys the keys are compared directly, unhashed (runtime_fast64_swiss.go). */
static int gs_getWithKeySmall(const Map *m, const void *key)
{
    unsigned char *g = gs_smallGroup(m);
    ctrlGroup c = gs_ctrls(g);
    if (m->typ.KeySize == 8) {
        for (bitset full = gs_matchFull(c); full; full = gs_bitset_removeFirst(full)) {
            unsigned i = gs_bitset_first(full);
            if (mb_key_eq(key, gs_key(m, g, i), 8))
                return (int)i;
        }
        return -1;
    }
    uint64_t h2 = gs_h2(gs_hash(m, key));
    for (unsigned i = 0; i < SwissMapGroupSlots; i++)
        if (gs_ctrl_get(g, i) == h2 && mb_key_eq(key, gs_key(m, g, i), m->typ.KeySize))
            return (int)i;
    return -1;
}

/* putSlotSmall.  PRECONDITION: used < 8, so an empty slot exists (small
 * maps never have deleted slots). */
static int gs_putSlotSmall(Map *m, uint64_t hash, const void *key, const void *elem)
{
    unsigned char *g = gs_smallGroup(m);
    ctrlGroup c = gs_ctrls(g);
    for (bitset match = gs_matchH2(c, gs_h2(hash)); match; match = gs_bitset_removeFirst(match)) {
        unsigned i = gs_bitset_first(match);
        if (mb_key_eq(key, gs_key(m, g, i), m->typ.KeySize)) {
            memcpy(gs_elem(m, g, i), elem, m->typ.ElemSize);
            return MB_REPLACED;
        }
    }
    gs_fill_slot(m, g, gs_bitset_first(gs_matchEmptyOrDeleted(c)), hash, key, elem);
    m->used++;
    return MB_INSERTED;
}

/* growToSmall: the first insert's group.  Returns 0 or MB_ENOMEM. */
static int gs_growToSmall(Map *m)
{
    unsigned char *g = gs_mallocgc(m, m->typ.GroupSize);
    if (!g)
        return MB_ENOMEM;
    memset(g, 0, m->typ.GroupSize);
    gs_ctrl_setEmpty(g);
    m->dirPtr = g;
    m->grow_events++;
    return 0;
}

/* growToTable: the small group becomes a one-table directory of 16 slots.
 * Returns 0, or MB_ENOMEM with the small map unchanged. */
static int gs_growToTable(Map *m)
{
    table *tab = gs_newTable(m, 2 * SwissMapGroupSlots, 0, 0);
    if (!tab)
        return MB_ENOMEM;
    table **directory = gs_mallocgc(m, sizeof *directory);
    if (!directory) {
        gs_freeTable(m, tab);
        return MB_ENOMEM;
    }
    unsigned char *g = gs_smallGroup(m);
    for (bitset full = gs_matchFull(gs_ctrls(g)); full; full = gs_bitset_removeFirst(full)) {
        unsigned i = gs_bitset_first(full);
        const unsigned char *key = gs_key(m, g, i);
        gs_uncheckedPutSlot(m, tab, gs_hash(m, key), key, gs_elem(m, g, i));
        tab->used++;
    }
    gs_freegc(m, g, m->typ.GroupSize);
    directory[0] = tab;
    m->dirPtr = directory;
    m->dirLen = 1;
    m->globalDepth = 0;
    m->globalShift = gs_depthToShift(0);
    m->grow_events++;
    return 0;
}

/* ---- Map operations (map.go) -------------------------------------------------------- */

/* Map.PutSlot (+ the elem write of Map.Put).  Returns MB_INSERTED,
 * MB_REPLACED or MB_ENOMEM (entries unchanged; see deviation 1). */
static int gs_Map_PutSlot(Map *m, const void *key, const void *elem)
{
    uint64_t hash = gs_hash(m, key);
    if (!m->dirPtr && gs_growToSmall(m) != 0)
        return MB_ENOMEM;
    if (m->dirLen == 0) {
        if (m->used < SwissMapGroupSlots)
            return gs_putSlotSmall(m, hash, key, elem);
        /* Can't fit another entry: grow to a full size map (even when
         * this is an update of an existing key, as in Go). */
        if (gs_growToTable(m) != 0)
            return MB_ENOMEM;
    }
    for (;;) {
        int rc = gs_PutSlot(m, gs_directoryAt(m, gs_directoryIndex(m, hash)), hash, key, elem);
        if (rc != gs_put_rehashed)
            return rc;
    }
}

static int gs_Map_Get(const Map *m, const void *key, void *val_out)
{
    unsigned char *g;
    int i;
    if (m->used == 0)
        return MB_NOTFOUND;
    if (m->dirLen == 0) {
        g = gs_smallGroup(m);
        i = gs_getWithKeySmall(m, key);
    } else {
        uint64_t hash = gs_hash(m, key);
        i = gs_getWithKey(m, gs_directoryAt(m, gs_directoryIndex(m, hash)), hash, key, &g, NULL);
    }
    if (i < 0)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, gs_elem(m, g, (unsigned)i), m->typ.ElemSize);
    return MB_FOUND;
}

/* deleteSmall: one group, so the slot is emptied at once (no tombstones). */
static int gs_deleteSmall(Map *m, const void *key)
{
    int i = gs_getWithKeySmall(m, key);
    if (i < 0)
        return MB_NOTFOUND;
    unsigned char *g = gs_smallGroup(m);
    m->used--;
    memset(gs_elem(m, g, (unsigned)i), 0, m->typ.ElemSize);
    gs_ctrl_set(g, (unsigned)i, ctrlEmpty);
    return MB_FOUND;
}

static int gs_Map_Delete(Map *m, const void *key)
{
    int rc;
    if (m->used == 0)
        return MB_NOTFOUND;
    if (m->dirLen == 0) {
        rc = gs_deleteSmall(m, key);
    } else {
        uint64_t hash = gs_hash(m, key);
        rc = gs_Delete(m, gs_directoryAt(m, gs_directoryIndex(m, hash)), hash, key);
    }
    if (m->used == 0)
        /* Reset the hash seed to make it more difficult for attackers to
         * repeatedly trigger hash collisions (go.dev/issue/25237). */
        m->seed = gs_rand(m->seed);
    return rc;
}

/* Map.Clear: nothing when used == 0; else every table (or the small group)
 * emptied in place, nothing freed. */
static void gs_Map_Clear(Map *m)
{
    if (m->used == 0)
        return;
    if (m->dirLen == 0) {
        unsigned char *g = gs_smallGroup(m); /* clearSmall */
        memset(g, 0, m->typ.GroupSize);
        gs_ctrl_setEmpty(g);
    } else {
        table *lastTab = NULL;
        for (size_t i = 0; i < m->dirLen; i++) {
            table *t = gs_directoryAt(m, i);
            if (t == lastTab)
                continue;
            gs_table_Clear(m, t);
            lastTab = t;
        }
        /* TODO in Go: shrink directory? */
    }
    m->used = 0;
    m->clearSeq++;
    m->seed = gs_rand(m->seed);
}

/* NewMap's initial directory for hint > 8.  Returns 0 (also when Go would
 * return an empty map for an absurd hint) or MB_ENOMEM (m's directory
 * left NULL). */
static int gs_NewMap_directory(Map *m, uint64_t hint)
{
    if (hint <= SwissMapGroupSlots)
        return 0; /* a small map: the first insert allocates its group */
    uint64_t targetCapacity = (hint * SwissMapGroupSlots) / maxAvgGroupLoad;
    if (targetCapacity < hint || hint > UINT64_MAX / SwissMapGroupSlots)
        return 0; /* overflow: an empty map */
    uint64_t dirSize = gs_alignUpPow2((targetCapacity + maxTableCapacity - 1) / maxTableCapacity);
    if (dirSize == 0 || dirSize > UINT64_MAX / maxTableCapacity ||
        dirSize * maxTableCapacity > GS_MAX_ALLOC / m->typ.GroupSize)
        return 0; /* reject hints that are obviously too large */
    uint8_t globalDepth = (uint8_t)__builtin_ctzll(dirSize);
    table **directory = gs_mallocgc(m, (size_t)dirSize * sizeof *directory);
    if (!directory)
        return MB_ENOMEM;
    for (uint64_t i = 0; i < dirSize; i++) {
        directory[i] = gs_newTable(m, targetCapacity / dirSize, (int64_t)i, globalDepth);
        if (!directory[i]) {
            while (i-- > 0)
                gs_freeTable(m, directory[i]);
            gs_freegc(m, directory, (size_t)dirSize * sizeof *directory);
            return MB_ENOMEM;
        }
    }
    m->globalDepth = globalDepth;
    m->globalShift = gs_depthToShift(globalDepth);
    m->dirPtr = directory;
    m->dirLen = (size_t)dirSize;
    return 0;
}

/* ---- ops ------------------------------------------------------------------------- */

static void gs_destroy(void *mp);

static void *gs_create(const mb_alloc *a, const mb_map_config *cfg)
{
    Map tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.alloc = *a;
    Map *m = gs_mallocgc(&tmp, sizeof *m);
    if (!m)
        return NULL;
    *m = tmp;
    m->typ.KeySize = cfg->key_bytes;
    m->typ.ElemSize = cfg->val_bytes;
    m->typ.ElemOff = cfg->key_bytes; /* keys are multiples of 8 bytes: no padding */
    m->typ.SlotSize = cfg->key_bytes + cfg->val_bytes;
    m->typ.GroupSize = ctrlGroupsSize + SwissMapGroupSlots * m->typ.SlotSize;
    m->seed = cfg->seed;
    m->globalShift = gs_depthToShift(0);
    if (gs_NewMap_directory(m, cfg->capacity_hint) != 0) {
        gs_destroy(m);
        return NULL;
    }
    return m;
}

static void gs_destroy(void *mp)
{
    Map *m = mp;
    if (m->dirLen == 0) {
        if (m->dirPtr)
            gs_freegc(m, m->dirPtr, m->typ.GroupSize);
    } else {
        table *lastTab = NULL;
        for (size_t i = 0; i < m->dirLen; i++) {
            table *t = gs_directoryAt(m, i);
            if (t != lastTab)
                gs_freeTable(m, t);
            lastTab = t;
        }
        gs_freegc(m, m->dirPtr, m->dirLen * sizeof(table *));
    }
    Map tmp = *m;
    gs_freegc(&tmp, m, sizeof *m);
}

static int gs_insert(void *mp, const void *key, const void *val)
{
    return gs_Map_PutSlot(mp, key, val);
}

static int gs_lookup(void *mp, const void *key, void *val_out)
{
    return gs_Map_Get(mp, key, val_out);
}

static int gs_remove(void *mp, const void *key)
{
    return gs_Map_Delete(mp, key);
}

static void gs_clear(void *mp)
{
    gs_Map_Clear(mp);
}

/* Calls fn on every full slot of n groups at data.  Returns fn's first
 * nonzero answer. */
static int gs_iterate_groups(Map *m, const groupsReference *gr, mb_visit_fn fn, void *ud)
{
    for (uint64_t gi = 0; gi <= gr->lengthMask; gi++) {
        unsigned char *g = gs_group(m, gr, gi);
        for (bitset full = gs_matchFull(gs_ctrls(g)); full; full = gs_bitset_removeFirst(full)) {
            unsigned j = gs_bitset_first(full);
            int r = fn(ud, gs_key(m, g, j), gs_elem(m, g, j));
            if (r)
                return r;
        }
    }
    return 0;
}

/* Iter.Init + Iter.Next from directory entry 0, entry 0 (see the top). */
static int gs_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    Map *m = mp;
    if (m->used == 0)
        return 0;
    if (m->dirLen == 0) {
        groupsReference small = { gs_smallGroup(m), 0 };
        return gs_iterate_groups(m, &small, fn, ud);
    }
    int r = 0;
    for (size_t i = 0; i < m->dirLen && r == 0;) {
        table *t = gs_directoryAt(m, i);
        r = gs_iterate_groups(m, &t->groups, fn, ud);
        i += (size_t)1 << (m->globalDepth - t->localDepth); /* Iter.nextDirIdx */
    }
    return r;
}

/* ---- stats -------------------------------------------------------------------------- */

/* Adds t's deleted slots and its hits' probe lengths (groups loaded). */
static void gs_stats_table(const Map *m, const table *t, mb_map_stats *out, size_t *total)
{
    for (uint64_t gi = 0; gi <= t->groups.lengthMask; gi++) {
        unsigned char *g = gs_group(m, &t->groups, gi);
        ctrlGroup c = gs_ctrls(g);
        for (unsigned i = 0; i < SwissMapGroupSlots; i++)
            if (gs_ctrl_get(g, i) == ctrlDeleted)
                out->tombstones++;
        for (bitset full = gs_matchFull(c); full; full = gs_bitset_removeFirst(full)) {
            const unsigned char *key = gs_key(m, g, gs_bitset_first(full));
            unsigned char *fg;
            size_t probes = 0;
            (void)gs_getWithKey(m, t, gs_hash(m, key), key, &fg, &probes);
            *total += probes;
            if (probes > out->max_probe)
                out->max_probe = probes;
        }
    }
}

static void gs_stats(const void *mp, mb_map_stats *out)
{
    const Map *m = mp;
    size_t total = 0;
    mb_stats_init(out);
    out->count = (size_t)m->used;
    out->capacity = 0;
    out->tombstones = 0;
    out->max_probe = 0;
    out->bytes = go_roundupsize(sizeof *m);
    if (m->dirLen == 0 && m->dirPtr) {
        out->capacity = SwissMapGroupSlots;
        out->bytes += go_roundupsize(m->typ.GroupSize);
        total = (size_t)m->used; /* one group: every hit loads one */
        out->max_probe = m->used ? 1 : 0;
    } else if (m->dirLen) {
        out->bytes += go_roundupsize(m->dirLen * sizeof(table *));
        for (size_t i = 0; i < m->dirLen;) {
            const table *t = gs_directoryAt(m, i);
            out->capacity += t->capacity;
            out->bytes += go_roundupsize(sizeof *t) +
                          go_roundupsize(gs_groups_bytes(m, t->groups.lengthMask + 1));
            gs_stats_table(m, t, out, &total);
            i += (size_t)1 << (m->globalDepth - t->localDepth);
        }
    }
    out->overflow = MB_NA; /* no overflow buckets: a full group sends the probe on */
    out->mean_probe = m->used ? (double)total / (double)m->used : 0.0;
    out->grow_events = m->grow_events;
    out->shrink_events = 0;
    out->rehash_events = 0; /* Go 1.24 never rebuilds a table at the same size */
}

/* ---- check -------------------------------------------------------------------------------- */

/* The small map: no tombstones, control bytes match H2, used counts the
 * full slots, no key twice. */
static const char *gs_check_small(const Map *m)
{
    unsigned char *g = gs_smallGroup(m);
    unsigned full = 0;
    for (unsigned i = 0; i < SwissMapGroupSlots; i++) {
        ctrl c = gs_ctrl_get(g, i);
        if (c == ctrlEmpty)
            continue;
        if (c & ctrlEmpty)
            return "a small map has a deleted or invalid control byte";
        full++;
        const unsigned char *key = gs_key(m, g, i);
        if (c != gs_h2(gs_hash(m, key)))
            return "a small map's control byte does not match its key's H2";
        if (gs_getWithKeySmall(m, key) != (int)i)
            return "a small map holds a key twice";
    }
    if (full != m->used)
        return "used does not match the small group's full slots";
    return NULL;
}

/* One table: capacity and groups agree, the counters match the control
 * bytes (used = full, tombstones = 7/8 capacity - used - growthLeft), an
 * empty slot remains, and every key is in the table its hash picks, in the
 * group its probe sequence reaches first (every group before it full or
 * deleted), with its H2, once. */
static const char *gs_check_table(const Map *m, const table *t, size_t *live)
{
    if (t->capacity < SwissMapGroupSlots || t->capacity > maxTableCapacity ||
        (t->capacity & (t->capacity - 1)) != 0)
        return "a table's capacity is not a power of two in [8, 1024]";
    if ((uint64_t)t->capacity != (t->groups.lengthMask + 1) * SwissMapGroupSlots)
        return "a table's capacity does not match its groups";
    if (t->localDepth > m->globalDepth)
        return "a table's localDepth exceeds globalDepth";
    if ((unsigned)t->used + t->growthLeft > gs_maxGrowth(t))
        return "used + growthLeft exceed 7/8 of a table's capacity";
    unsigned full = 0, deleted = 0, empty = 0;
    for (uint64_t gi = 0; gi <= t->groups.lengthMask; gi++) {
        unsigned char *g = gs_group(m, &t->groups, gi);
        ctrlGroup cg = gs_ctrls(g);
        /* Delete leaves a tombstone only in a group without an empty slot,
         * and nothing but a rehash or Clear empties a slot of it again. */
        if (gs_matchEmpty(cg) && (gs_matchEmptyOrDeleted(cg) & ~gs_matchEmpty(cg)))
            return "a group has both a tombstone and an empty slot";
        for (unsigned i = 0; i < SwissMapGroupSlots; i++) {
            ctrl c = gs_ctrl_get(g, i);
            if (c == ctrlEmpty) {
                empty++;
                continue;
            }
            if (c == ctrlDeleted) {
                deleted++;
                continue;
            }
            if (c & ctrlEmpty)
                return "a control byte is neither empty, deleted nor full";
            full++;
            const unsigned char *key = gs_key(m, g, i);
            uint64_t hash = gs_hash(m, key);
            if (c != gs_h2(hash))
                return "a control byte does not match its key's H2";
            if (gs_directoryAt(m, gs_directoryIndex(m, hash)) != t)
                return "a key is in a table its hash does not pick";
            probeSeq seq = gs_makeProbeSeq(gs_h1(hash), t->groups.lengthMask);
            for (uint64_t n = 0; seq.offset != gi; seq = gs_probeSeq_next(seq), n++) {
                if (n >= t->groups.lengthMask)
                    return "a key's group is not on its probe sequence";
                if (gs_matchEmpty(gs_ctrls(gs_group(m, &t->groups, seq.offset))))
                    return "a key lies past an empty slot on its probe sequence";
            }
            unsigned char *fg;
            if (gs_getWithKey(m, t, hash, key, &fg, NULL) != (int)i || fg != g)
                return "a key is stored twice (a lookup finds another slot)";
        }
    }
    if (full != t->used)
        return "a table's used does not match its full slots";
    if (deleted != gs_tombstones(t))
        return "a table's tombstones do not match capacity*7/8 - used - growthLeft";
    if (empty == 0)
        return "a table has no empty slot (probes could not end)";
    *live += full;
    return NULL;
}

static const char *gs_check(const void *mp)
{
    const Map *m = mp;
    if (!m->dirPtr) {
        if (m->used || m->dirLen || m->globalDepth)
            return "no directory and no group, yet the map is not empty";
        return NULL;
    }
    if (m->dirLen == 0) {
        if (m->globalDepth)
            return "a small map with a globalDepth";
        return gs_check_small(m);
    }
    if (m->globalDepth > 63 || m->dirLen != (size_t)1 << m->globalDepth)
        return "dirLen is not 2^globalDepth";
    if (m->globalShift != gs_depthToShift(m->globalDepth))
        return "globalShift is not 64 - globalDepth";
    size_t live = 0;
    for (size_t i = 0; i < m->dirLen;) {
        const table *t = gs_directoryAt(m, i);
        if (!t)
            return "a directory entry is NULL";
        if (t->localDepth > m->globalDepth)
            return "a table's localDepth exceeds globalDepth";
        size_t entries = (size_t)1 << (m->globalDepth - t->localDepth);
        if (t->index != (int64_t)i)
            return "a table's index is not its first directory entry (or it appears twice)";
        if (i % entries != 0)
            return "a table's directory entries are not aligned to 2^(globalDepth-localDepth)";
        for (size_t j = i; j < i + entries; j++)
            if (gs_directoryAt(m, j) != t)
                return "a table does not fill its 2^(globalDepth-localDepth) entries";
        const char *why = gs_check_table(m, t, &live);
        if (why)
            return why;
        i += entries;
    }
    if (live != m->used)
        return "Map.used does not match the tables' full slots";
    return NULL;
}

const mb_map_ops mb_gomap_swiss_ops = {
    .name = "gomap_swiss",
    .family = "bucketed",
    .traits = "swiss,tombstones,no-shrink,table-directory,split-at-1024,small-map-group,"
              "tombstones-cleared-by-growth,clear-keeps-capacity,clear-keeps-directory",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    .create = gs_create,
    .destroy = gs_destroy,
    .insert = gs_insert,
    .lookup = gs_lookup,
    .remove = gs_remove,
    .clear = gs_clear,
    .iterate = gs_iterate,
    .stats = gs_stats,
    .check = gs_check,
};
