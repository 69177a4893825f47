/*
 * stb_ds — the stb_ds hash map (libstb-dev 0.0~git20220623, stb_ds v0.67)
 * behind the mapbench vtable.
 *
 * What the library is: a dense array of entries { key, value } (entry 0 is a
 * "default" entry the library keeps in front) plus a separate hash index:
 * buckets of 8 slots, each slot a full hash (size_t) and an entry index
 * (ptrdiff_t), so 16 bytes per slot.  Probing: start at hash & (slots - 1),
 * scan the rest of that 8-slot bucket, then its front, then jump to the next
 * bucket quadratically (+8, +16, +24 ... slots).  Hash values 0 and 1 mark
 * EMPTY and DELETED slots.
 *
 * Layout here: the adapter uses stb_ds's size-generic entry points
 * (stbds_hmput_key / stbds_hmget_key_ts / stbds_hmdel_key, which the
 * hmput/hmget/hmdel macros wrap) with entry = key_bytes + val_bytes, key
 * first, compared with memcmp (STBDS_HM_BINARY).  So every blueprint works,
 * including 16/48-byte keys and 64-byte values.
 *
 * Hash (library): 8-byte keys take stb_ds's Thomas-Wang-style 64-bit mix;
 * 16/48-byte keys take its SipHash-like byte hash; both with a per-table seed.
 * The seed comes from a hidden global that stb_ds advances with an LCG each
 * time it makes a new table (stbds_rand_seed sets it).  The adapter sets it to
 * cfg.seed just before its map creates its first table, so a map's hashing is
 * reproducible; the global is shared by every stb_ds map in the process and is
 * not thread-safe (trait "global-seed").
 * Known defect of this stb_ds release, kept as shipped: both hashes load each
 * 8-byte word as d[0] | d[1] << 8 | d[2] << 16 | d[3] << 24 on a promoted int,
 * so when bit 31 is set the int is negative, sign-extends to size_t, and the
 * word's bytes 4..7 no longer affect the hash (stb PR #1188, unmerged).
 * Keys that differ only there collide outright: 1000 keys (j << 32) | 2^31
 * probe 1000 slots deep (trait "hash-bit31-defect").  The same shift is UB
 * that UBSan reports, so peers.cmake turns off -fsanitize=shift-base for
 * this file under sanitizers.
 *
 * Tombstones (library): delete swaps the last entry into the hole (the array
 * stays dense) and marks the index slot DELETED.
 * Growth (library): index doubles when used slots reach 3/4 of the slots
 * (tombstones do not count); a delete rebuilds the index at the same size
 * when tombstones exceed 3/16 of the slots, and halves it when used slots
 * fall below 1/4 (shrink regardless of cfg.shrink; trait "index-shrinks").
 * The entry array grows by doubling (min 4) and never shrinks.  The capacity
 * hint is ignored (stb_ds has no index reserve).
 *
 * Allocation: STBDS_REALLOC / STBDS_FREE are routed to the map's mb_alloc.
 * stb_ds passes no context (always NULL) and no size to free, so the adapter
 * (1) points a thread-local at the map for the duration of each op, and
 * (2) keeps a 16-byte size header in front of every block so free hands the
 * counting allocator the exact size.  Those headers are counted in bytes.
 *
 * Failure: stb_ds never checks its allocations (a NULL would be written
 * through).  The adapter therefore never lets it see one: before an op that
 * will allocate, it predicts the exact blocks stb_ds will ask for, from the
 * same thresholds stb_ds tests (new map: array of 4 + 8-slot index; index
 * grow at used >= 3/4; entry array grow when full; delete-time shrink or
 * purge), allocates them up front, and returns MB_ENOMEM with the map
 * untouched if any fails; the REALLOC hook then hands out the reserved
 * blocks.  When a delete's shrink/purge block cannot be reserved, the delete
 * still happens with the rebuild suppressed for that call, and a purge left
 * pending is done (or refused with MB_ENOMEM) by the next insert before it
 * may take an EMPTY slot, so at least one slot always stays EMPTY.  A block
 * stb_ds asks for that was not predicted is taken from mb_alloc directly and
 * counted; check() reports it (it would mean the library changed).  Only if
 * that unpredicted allocation also fails does the adapter abort().
 *
 * clear() frees the entry array and the index (stb_ds has no clear).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mb_map.h"

static void *sd_realloc(void *p, size_t bytes);
static void sd_free(void *p);
#define STBDS_REALLOC(ctx, p, size) sd_realloc((p), (size))
#define STBDS_FREE(ctx, p) sd_free((p))
#define STBDS_NO_SHORT_NAMES
#define STB_DS_IMPLEMENTATION
#include <stb_ds.h>

#define SD_HEADER_BYTES 16u /* size header in front of every stb_ds block */
#define SD_MAX_RESERVED 3   /* purge index + grown index + grown array */

typedef struct sd_block {
    void *p;                /* user pointer (after the size header), or NULL */
    size_t bytes;           /* user bytes */
} sd_block;

typedef struct sd_map {
    mb_alloc alloc;
    size_t key_bytes, val_bytes, entry_bytes;
    uint64_t seed;
    unsigned char *hm;      /* stb_ds's map pointer (after the default entry); NULL if none */
    size_t block_bytes;     /* live bytes of stb_ds blocks, headers included */
    sd_block reserved[SD_MAX_RESERVED]; /* handed to stb_ds by sd_realloc */
    size_t unreserved_allocs; /* blocks stb_ds asked for that were not predicted */
    size_t grow_events, shrink_events, rehash_events;
} sd_map;

/* The map whose op is running on this thread: stb_ds gives its hooks no context. */
static _Thread_local sd_map *sd_current;

/* ---- blocks ---------------------------------------------------------------- */

static void *sd_block_alloc(sd_map *m, size_t bytes)
{
    unsigned char *raw = mb_alloc_bytes(&m->alloc, SD_HEADER_BYTES + bytes, SD_HEADER_BYTES);
    if (!raw)
        return NULL;
    memcpy(raw, &bytes, sizeof bytes);
    m->block_bytes += SD_HEADER_BYTES + bytes;
    return raw + SD_HEADER_BYTES;
}

static size_t sd_block_size(const void *p)
{
    size_t bytes;
    memcpy(&bytes, (const unsigned char *)p - SD_HEADER_BYTES, sizeof bytes);
    return bytes;
}

static void sd_block_free(sd_map *m, void *p)
{
    if (!p)
        return;
    size_t bytes = sd_block_size(p);
    m->block_bytes -= SD_HEADER_BYTES + bytes;
    mb_free_bytes(&m->alloc, (unsigned char *)p - SD_HEADER_BYTES, SD_HEADER_BYTES + bytes,
                  SD_HEADER_BYTES);
}

/* Allocates every block in want[0..n).  Returns 0, or MB_ENOMEM having
 * allocated nothing. */
static int sd_reserve(sd_map *m, const size_t *want, int n)
{
    for (int i = 0; i < n; i++) {
        m->reserved[i].p = sd_block_alloc(m, want[i]);
        m->reserved[i].bytes = want[i];
        if (!m->reserved[i].p) {
            while (i-- > 0) {
                sd_block_free(m, m->reserved[i].p);
                m->reserved[i].p = NULL;
            }
            return MB_ENOMEM;
        }
    }
    return 0;
}

/* Frees reserved blocks stb_ds did not take (the prediction allowed for a
 * new key, or for a grow the library skipped). */
static void sd_release(sd_map *m)
{
    for (int i = 0; i < SD_MAX_RESERVED; i++) {
        sd_block_free(m, m->reserved[i].p);
        m->reserved[i].p = NULL;
    }
}

/* STBDS_REALLOC: a reserved block of exactly this size if there is one. */
static void *sd_realloc(void *p, size_t bytes)
{
    sd_map *m = sd_current;
    void *q = NULL;

    for (int i = 0; i < SD_MAX_RESERVED && !q; i++)
        if (m->reserved[i].p && m->reserved[i].bytes == bytes) {
            q = m->reserved[i].p;
            m->reserved[i].p = NULL;
        }
    if (!q) {
        m->unreserved_allocs++;
        q = sd_block_alloc(m, bytes);
        if (!q) { /* stb_ds would write through NULL; nothing safe is left */
            fputs("stb_ds adapter: unpredicted allocation failed\n", stderr);
            abort();
        }
    }
    if (p) {
        size_t old = sd_block_size(p);
        memcpy(q, p, old < bytes ? old : bytes);
        sd_block_free(m, p);
    }
    return q;
}

/* STBDS_FREE */
static void sd_free(void *p)
{
    sd_block_free(sd_current, p);
}

/* ---- layout: the sizes stb_ds will ask for ------------------------------------ */

static unsigned char *sd_raw(const sd_map *m)
{
    return m->hm - m->entry_bytes; /* the default entry, where stb_ds's array starts */
}

static stbds_array_header *sd_header(const sd_map *m)
{
    return stbds_header(sd_raw(m));
}

static stbds_hash_index *sd_index(const sd_map *m)
{
    return sd_header(m)->hash_table;
}

/* What stbds_make_hash_index(slots, ...) allocates. */
static size_t sd_index_bytes(size_t slots)
{
    return (slots >> STBDS_BUCKET_SHIFT) * sizeof(stbds_hash_bucket) + sizeof(stbds_hash_index) +
           STBDS_CACHE_LINE_SIZE - 1;
}

/* What stbds_arrgrowf(a, entry, 1, 0) allocates for an array of len / cap. */
static size_t sd_array_bytes_after_add(const sd_map *m, size_t len, size_t cap)
{
    size_t new_cap = len + 1;
    if (new_cap < 2 * cap)
        new_cap = 2 * cap;
    else if (new_cap < 4)
        new_cap = 4;
    return m->entry_bytes * new_cap + sizeof(stbds_array_header);
}

/* ---- probe ------------------------------------------------------------------ */

/* Returns the entry index of key (0-based, after the default entry), or -1. */
static ptrdiff_t sd_find(const sd_map *m, const void *key)
{
    ptrdiff_t idx;
    if (!m->hm)
        return -1;
    (void)stbds_hmget_key_ts(m->hm, m->entry_bytes, (void *)key, m->key_bytes, &idx,
                             STBDS_HM_BINARY);
    return idx;
}

/* Returns stb_ds's stored hash for key in table t (never 0 or 1). */
static size_t sd_hash(const sd_map *m, const stbds_hash_index *t, const void *key)
{
    size_t h = stbds_hash_bytes((void *)key, m->key_bytes, t->seed);
    return h < 2 ? h + 2 : h;
}

/* Returns the number of index slots a lookup of key examines (stb_ds's probe
 * order), up to and including the one holding it or the EMPTY that ends it. */
static size_t sd_probe_len(const sd_map *m, const stbds_hash_index *t, const void *key)
{
    size_t h = sd_hash(m, t, key), pos = h & (t->slot_count - 1), step = STBDS_BUCKET_LENGTH;
    size_t n = 0;
    for (;;) {
        const stbds_hash_bucket *b = &t->storage[pos >> STBDS_BUCKET_SHIFT];
        size_t start = pos & STBDS_BUCKET_MASK;
        for (size_t k = 0; k < STBDS_BUCKET_LENGTH; k++) {
            size_t i = (start + k) & STBDS_BUCKET_MASK;
            n++;
            if (b->hash[i] == STBDS_HASH_EMPTY)
                return n;
            if (b->hash[i] == h &&
                memcmp(m->hm + (size_t)b->index[i] * m->entry_bytes, key, m->key_bytes) == 0)
                return n;
        }
        pos = (pos + step) & (t->slot_count - 1);
        step += STBDS_BUCKET_LENGTH;
    }
}

/* ---- grow / rebuild ------------------------------------------------------------ */

/* Rebuilds the index at the same size (drops tombstones), as stbds_hmdel_key
 * does.  PRECONDITION: a block of sd_index_bytes(slot_count) is reserved. */
static void sd_purge(sd_map *m)
{
    stbds_hash_index *t = sd_index(m);
    sd_header(m)->hash_table = stbds_make_hash_index(t->slot_count, t);
    sd_free(t);
    m->rehash_events++;
}

/* ---- ops ------------------------------------------------------------------ */

static void *sd_create(const mb_alloc *a, const mb_map_config *cfg)
{
    sd_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(sd_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->entry_bytes = cfg->key_bytes + cfg->val_bytes;
    m->seed = cfg->seed;
    return m; /* stb_ds makes its array and index on the first insert */
}

static void sd_free_all(sd_map *m)
{
    if (!m->hm)
        return;
    sd_current = m;
    stbds_hmfree_func(sd_raw(m), m->entry_bytes);
    m->hm = NULL;
}

static void sd_destroy(void *mp)
{
    sd_map *m = mp;
    mb_alloc a = m->alloc;
    sd_free_all(m);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(sd_map));
}

static int sd_insert(void *mp, const void *key, const void *val)
{
    sd_map *m = mp;
    size_t want[SD_MAX_RESERVED], len_before = 0, slots_before = 0;
    int nwant = 0;
    bool purge = false;

    sd_current = m;
    if (!m->hm) {
        want[nwant++] = sd_array_bytes_after_add(m, 0, 0);
        want[nwant++] = sd_index_bytes(STBDS_BUCKET_LENGTH);
    } else {
        stbds_array_header *hdr = sd_header(m);
        stbds_hash_index *t = hdr->hash_table;
        len_before = hdr->length;
        slots_before = t->slot_count;
        if (t->tombstone_count > t->tombstone_count_threshold) { /* left by a delete */
            purge = true;
            want[nwant++] = sd_index_bytes(t->slot_count);
        }
        if (t->used_count >= t->used_count_threshold)
            want[nwant++] = sd_index_bytes(t->slot_count * 2);
        if (hdr->length + 1 > hdr->capacity)
            want[nwant++] = sd_array_bytes_after_add(m, hdr->length, hdr->capacity);
        if (nwant) { /* only a new key needs them */
            ptrdiff_t idx = sd_find(m, key);
            if (idx >= 0) {
                memcpy(m->hm + (size_t)idx * m->entry_bytes + m->key_bytes, val, m->val_bytes);
                return MB_REPLACED;
            }
        }
    }
    if (nwant && sd_reserve(m, want, nwant) != 0)
        return MB_ENOMEM;
    if (purge)
        sd_purge(m);
    if (!m->hm)
        stbds_rand_seed((size_t)m->seed); /* the seed the new table takes */
    m->hm = stbds_hmput_key(m->hm, m->entry_bytes, (void *)key, m->key_bytes, STBDS_HM_BINARY);
    sd_release(m);

    stbds_array_header *hdr = sd_header(m);
    memcpy(m->hm + (size_t)hdr->temp * m->entry_bytes + m->key_bytes, val, m->val_bytes);
    if (sd_index(m)->slot_count > slots_before && slots_before)
        m->grow_events++;
    return hdr->length > len_before ? MB_INSERTED : MB_REPLACED;
}

static int sd_lookup(void *mp, const void *key, void *val_out)
{
    sd_map *m = mp;
    ptrdiff_t idx = sd_find(m, key);
    if (idx < 0)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, m->hm + (size_t)idx * m->entry_bytes + m->key_bytes, m->val_bytes);
    return MB_FOUND;
}

static int sd_remove(void *mp, const void *key)
{
    sd_map *m = mp;
    if (!m->hm)
        return MB_NOTFOUND;
    stbds_hash_index *t = sd_index(m);
    size_t want = 0, slots_before = t->slot_count;
    if (t->used_count == 0)
        return MB_NOTFOUND;

    /* the rebuild stbds_hmdel_key does after removing an entry, if any */
    if (t->used_count - 1 < t->used_count_shrink_threshold && t->slot_count > STBDS_BUCKET_LENGTH)
        want = sd_index_bytes(t->slot_count >> 1);
    else if (t->tombstone_count + 1 > t->tombstone_count_threshold)
        want = sd_index_bytes(t->slot_count);
    if (want && sd_find(m, key) < 0)
        return MB_NOTFOUND;

    sd_current = m;
    if (want && sd_reserve(m, &want, 1) != 0) {
        /* no block: remove without the rebuild; a purge stays pending */
        size_t shrink_at = t->used_count_shrink_threshold, purge_at = t->tombstone_count_threshold;
        t->used_count_shrink_threshold = 0;
        t->tombstone_count_threshold = SIZE_MAX;
        m->hm = stbds_hmdel_key(m->hm, m->entry_bytes, (void *)key, m->key_bytes, 0,
                                STBDS_HM_BINARY);
        t->used_count_shrink_threshold = shrink_at;
        t->tombstone_count_threshold = purge_at;
    } else {
        m->hm = stbds_hmdel_key(m->hm, m->entry_bytes, (void *)key, m->key_bytes, 0,
                                STBDS_HM_BINARY);
        sd_release(m);
    }
    if (sd_index(m) != t) {
        if (sd_index(m)->slot_count < slots_before)
            m->shrink_events++;
        else
            m->rehash_events++;
    }
    return sd_header(m)->temp == 1 ? MB_FOUND : MB_NOTFOUND;
}

static void sd_clear(void *mp)
{
    sd_free_all(mp);
}

static int sd_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    sd_map *m = mp;
    int r = 0;
    size_t count = m->hm ? sd_header(m)->length - 1 : 0;
    for (size_t i = 0; i < count && r == 0; i++) {
        const unsigned char *e = m->hm + i * m->entry_bytes;
        r = fn(ud, e, e + m->key_bytes);
    }
    return r;
}

static void sd_stats(const void *mp, mb_map_stats *out)
{
    const sd_map *m = mp;
    size_t count = m->hm ? sd_header(m)->length - 1 : 0, total = 0;

    mb_stats_init(out);
    out->count = count;
    out->capacity = m->hm ? sd_index(m)->slot_count : 0;
    out->tombstones = m->hm ? sd_index(m)->tombstone_count : 0;
    out->max_probe = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = sd_probe_len(m, sd_index(m), m->hm + i * m->entry_bytes);
        total += len;
        if (len > out->max_probe)
            out->max_probe = len;
    }
    out->mean_probe = count ? (double)total / (double)count : 0.0;
    out->grow_events = m->grow_events;
    out->shrink_events = m->shrink_events;
    out->rehash_events = m->rehash_events;
    out->bytes = sizeof *m + m->block_bytes;
}

/* ---- check ---------------------------------------------------------------- */

static const char *sd_check(const void *mp)
{
    const sd_map *m = mp;
    if (m->unreserved_allocs)
        return "stb_ds allocated a block the adapter did not predict";
    for (int i = 0; i < SD_MAX_RESERVED; i++)
        if (m->reserved[i].p)
            return "a reserved block outlived its op";
    if (!m->hm)
        return m->block_bytes == 0 ? NULL : "a map without an array still holds blocks";

    const stbds_array_header *hdr = sd_header(m);
    const stbds_hash_index *t = hdr->hash_table;
    if (!t)
        return "the entry array has no hash index";
    if (hdr->length < 1 || hdr->length > hdr->capacity)
        return "array length is not in [1, capacity]";
    if (t->slot_count < STBDS_BUCKET_LENGTH || (t->slot_count & (t->slot_count - 1)) != 0)
        return "slot count is not a power of two >= 8";
    if (m->block_bytes != 2 * SD_HEADER_BYTES + sd_index_bytes(t->slot_count) +
                              m->entry_bytes * hdr->capacity + sizeof(stbds_array_header))
        return "block bytes do not match the array capacity and index size";

    size_t count = hdr->length - 1, used = 0, tombs = 0, empty = 0;
    for (size_t s = 0; s < t->slot_count; s++) {
        const stbds_hash_bucket *b = &t->storage[s >> STBDS_BUCKET_SHIFT];
        size_t h = b->hash[s & STBDS_BUCKET_MASK];
        ptrdiff_t idx = b->index[s & STBDS_BUCKET_MASK];
        if (h == STBDS_HASH_EMPTY) {
            if (idx != STBDS_INDEX_EMPTY)
                return "an EMPTY slot has an index";
            empty++;
        } else if (h == STBDS_HASH_DELETED) {
            if (idx != STBDS_INDEX_DELETED)
                return "a DELETED slot has an index";
            tombs++;
        } else {
            if (idx < 0 || (size_t)idx >= count)
                return "a used slot's index is outside the entries";
            if (sd_hash(m, t, m->hm + (size_t)idx * m->entry_bytes) != h)
                return "a used slot's stored hash does not match its entry";
            used++;
        }
    }
    if (used != count || t->used_count != count)
        return "used slots / used_count do not match the entry count";
    if (tombs != t->tombstone_count)
        return "tombstone_count does not match DELETED slots";
    if (empty == 0)
        return "no EMPTY slot is left: a miss would probe forever";
    for (size_t i = 0; i < count; i++)
        if (sd_find(m, m->hm + i * m->entry_bytes) != (ptrdiff_t)i)
            return "an entry is not found at its own index (or is stored twice)";
    return NULL;
}

const mb_map_ops mb_stb_ds_ops = {
    .name = "stb_ds",
    .family = "peer",
    .traits = "open-addressing,dense-entry-array,tombstones,swap-delete,stb-hash,"
              "hash-bit31-defect,global-seed,index-shrinks,entries-never-shrink,ignores-hint,"
              "clear-frees-all,oom-by-prediction",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_OWN_ALLOC,
    .create = sd_create,
    .destroy = sd_destroy,
    .insert = sd_insert,
    .lookup = sd_lookup,
    .remove = sd_remove,
    .clear = sd_clear,
    .iterate = sd_iterate,
    .stats = sd_stats,
    .check = sd_check,
};
