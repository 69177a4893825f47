/*
 * mb_map.h — the whole contract between the mapbench harness and a map.
 *
 * A map is a table of function pointers (mb_map_ops) plus an opaque handle.
 * The harness includes this header and nothing else from impls/.
 *
 * Keys and values are fixed-size byte blobs chosen at create time
 * (mb_map_config.key_bytes / val_bytes).  The blueprints the suite uses:
 *
 *     u64 -> u64          key_bytes = 8,  val_bytes = 8
 *     u64 -> 64-byte val  key_bytes = 8,  val_bytes = 64
 *     str -> u64          key_bytes = 16 or 48 (fixed-length strings), val_bytes = 8
 *
 * A map may pick a specialised path for key_bytes == 8 at create time; it must
 * then compare keys as uint64_t loaded with memcpy (keys are not aligned).
 *
 * Memory: an own map allocates every byte through the mb_alloc it is given,
 * so the harness knows the map's bytes exactly.  free() receives the size and
 * alignment that were allocated.  Requests with align >= MB_PAGE_BYTES are served by the
 * counting allocator straight from mmap, so they go back to the OS on free.
 *
 * Failure: when an allocation fails, the operation returns MB_ENOMEM and the
 * map is left exactly as it was before the call: valid (check() passes),
 * holding the same entries, and leak-free once destroyed.
 *
 * Threads: a map is single-threaded unless its flags say MB_F_THREAD_SAFE.
 */
#ifndef MB_MAP_H
#define MB_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MB_PAGE_BYTES 4096u
#define MB_KEY_MAX_BYTES 64u
#define MB_VAL_MAX_BYTES 64u

/* "Not measured" for any size_t statistic.  Never a fake zero. */
#define MB_NA ((size_t)-1)

/* Results.  Distinct values so that a confused caller is caught by checksums. */
typedef enum mb_result {
    MB_ENOMEM   = -1, /* allocation failed; the map is unchanged */
    MB_NOTFOUND = 0,  /* lookup / remove: the key is absent */
    MB_FOUND    = 1,  /* lookup / remove: the key was present */
    MB_INSERTED = 2,  /* insert: the key was new */
    MB_REPLACED = 3,  /* insert: the key existed; its value was overwritten */
} mb_result;

/* ---- allocator ---------------------------------------------------------- */

typedef struct mb_alloc {
    /* Returns size bytes aligned to align (a power of two), or NULL. */
    void *(*alloc)(void *ctx, size_t size, size_t align);
    /* PRECONDITION: p came from alloc with this exact size and align
     * (p may be NULL). */
    void (*free)(void *ctx, void *p, size_t size, size_t align);
    void *ctx;
} mb_alloc;

static inline void *mb_alloc_bytes(const mb_alloc *a, size_t size, size_t align)
{
    return a->alloc(a->ctx, size, align);
}

static inline void mb_free_bytes(const mb_alloc *a, void *p, size_t size, size_t align)
{
    if (p)
        a->free(a->ctx, p, size, align);
}

/* ---- configuration ------------------------------------------------------ */

typedef enum mb_shrink_policy {
    MB_SHRINK_NEVER = 0,     /* capacity never goes down (Go's map, most tables) */
    MB_SHRINK_LOW_WATER = 1, /* shrink when load falls below the map's low-water mark */
} mb_shrink_policy;

typedef struct mb_map_config {
    size_t key_bytes;        /* 8, 16 or 48 */
    size_t val_bytes;        /* 8 or 64 */
    size_t capacity_hint;    /* entries the caller expects; 0 = no hint */
    mb_shrink_policy shrink;
    unsigned shards_log2;    /* sharded maps: 2^shards_log2 shards; 0 = map's default */
    uint64_t seed;           /* hash seed */
} mb_map_config;

/* ---- statistics ----------------------------------------------------------- */

typedef struct mb_map_stats {
    size_t count;            /* live entries */
    size_t capacity;         /* slots (open addressing), buckets*8 (gomap), chain heads (chained) */
    size_t tombstones;       /* deleted markers still occupying slots; MB_NA if the design has none */
    size_t overflow;         /* overflow buckets (gomap), nodes beyond chain heads; MB_NA if none */
    size_t max_probe;        /* longest probe / chain walked by a hit, in slots or nodes */
    double mean_probe;       /* mean over live entries; negative = not measured */
    size_t grow_events;      /* capacity increases */
    size_t shrink_events;    /* capacity decreases */
    size_t rehash_events;    /* same-size rebuilds (tombstone purge, gomap same-size grow) */
    size_t bytes;            /* bytes the map holds through mb_alloc, by its own account */
} mb_map_stats;

/* Sets every field to "not measured"; maps then fill what they know. */
static inline void mb_stats_init(mb_map_stats *s)
{
    s->count = s->capacity = s->tombstones = s->overflow = MB_NA;
    s->max_probe = s->grow_events = s->shrink_events = s->rehash_events = s->bytes = MB_NA;
    s->mean_probe = -1.0;
}

/* ---- the plugin ----------------------------------------------------------- */

/* Returns nonzero to stop the iteration early. */
typedef int (*mb_visit_fn)(void *ud, const void *key, const void *val);

enum mb_map_flags {
    MB_F_THREAD_SAFE = 1u << 0, /* every op may be called concurrently */
    MB_F_STR_KEYS    = 1u << 1, /* supports key_bytes 16 and 48 */
    MB_F_BIG_VALUES  = 1u << 2, /* supports val_bytes 64 */
    MB_F_SHRINK      = 1u << 3, /* honours MB_SHRINK_LOW_WATER */
    MB_F_OWN_ALLOC   = 1u << 4, /* every byte goes through mb_alloc */
    MB_F_CALIBRATION = 1u << 5, /* an instrument, not a map (impls/calibration/):
                                   left out of suites and generic tests, run only by name */
};

typedef struct mb_map_ops {
    const char *name;    /* "oa_linear" */
    const char *family;  /* "open-addressing", "chained", "sharded", "arena", "bucketed", "peer" */
    const char *traits;  /* comma-separated: "tombstones,no-shrink,clear-keeps-capacity" */
    unsigned flags;      /* mb_map_flags */

    /* Returns a new empty map, or NULL when an allocation fails.
     * PRECONDITION: cfg is supported (see flags). */
    void *(*create)(const mb_alloc *a, const mb_map_config *cfg);
    /* Frees every byte the map holds.  m may not be used afterwards. */
    void (*destroy)(void *m);
    /* Returns MB_INSERTED, MB_REPLACED or MB_ENOMEM (map unchanged). */
    int (*insert)(void *m, const void *key, const void *val);
    /* Returns MB_FOUND (copying the value to val_out unless NULL) or MB_NOTFOUND. */
    int (*lookup)(void *m, const void *key, void *val_out);
    /* Returns MB_FOUND or MB_NOTFOUND.  May allocate only for deferred work
     * (a shrink, gomap's incremental evacuation); if that allocation fails
     * the removal still succeeds and the map stays valid, just larger. */
    int (*remove)(void *m, const void *key);
    /* Removes every entry.  Whether capacity is kept is in traits. */
    void (*clear)(void *m);
    /* Calls fn once per live entry, in unspecified order.  The map must not
     * be modified during iteration.  Returns what the last fn call returned. */
    int (*iterate)(void *m, mb_visit_fn fn, void *ud);
    void (*stats)(const void *m, mb_map_stats *out);
    /* Walks every invariant.  Returns NULL when consistent, else a static
     * string naming the first violated invariant. */
    const char *(*check)(const void *m);
} mb_map_ops;

/* ---- registry (impls/registry.c) ------------------------------------------ */

extern const mb_map_ops *const mb_registry[]; /* NULL-terminated */
const mb_map_ops *mb_registry_find(const char *name);

/* Returns NULL if ops can build a map with cfg, else why not. */
const char *mb_config_unsupported(const mb_map_ops *ops, const mb_map_config *cfg);

/* ---- hashing shared by the own maps --------------------------------------- */

/* The seed's part of mb_hash_u64, for a map that mixes it once at create. */
static inline uint64_t mb_hash_seed_mix(uint64_t seed)
{
    return seed ^ 0x243f6a8885a308d3ULL;
}

/* mb_hash_u64 for a seed already mixed by mb_hash_seed_mix: one xor and one
 * 64-bit constant fewer per hash. */
static inline uint64_t mb_hash_u64_mixed(uint64_t x, uint64_t mixed_seed)
{
    __uint128_t p = (__uint128_t)(x ^ mixed_seed) * 0x9ddfea08eb382d69ULL;
    return (uint64_t)(p >> 64) ^ (uint64_t)p;
}

/* The mixing step of abseil's hash: one 64x64->128-bit multiply by an odd
 * constant, folded by xoring the halves.  Both halves depend on every input
 * bit, so the low bits (bucket index) and the high bits (tags, tophash, shard)
 * are both usable, and it costs one multiply where murmur3's fmix64 costs two
 * multiplies and three shift-xors (measured: the mixer is on every probe's
 * critical path, so the cheaper one moves lookups by ~10% at 1e6 entries). */
static inline uint64_t mb_hash_u64(uint64_t x, uint64_t seed)
{
    return mb_hash_u64_mixed(x, mb_hash_seed_mix(seed));
}

/* Hash of a fixed-size key blob; equals mb_hash_u64 for 8-byte keys. */
static inline uint64_t mb_hash_key(const void *key, size_t key_bytes, uint64_t seed)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t w, h;
    if (key_bytes == 8) {
        memcpy(&w, p, 8);
        return mb_hash_u64(w, seed);
    }
    h = seed ^ (key_bytes * 0x9e3779b97f4a7c15ULL);
    for (; key_bytes >= 8; key_bytes -= 8, p += 8) {
        memcpy(&w, p, 8);
        h = mb_hash_u64(h ^ w, 0x9e3779b97f4a7c15ULL);
    }
    if (key_bytes) {
        w = 0;
        memcpy(&w, p, key_bytes);
        h = mb_hash_u64(h ^ w, 0x9e3779b97f4a7c15ULL);
    }
    return h;
}

static inline int mb_key_eq(const void *a, const void *b, size_t key_bytes)
{
    if (key_bytes == 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x == y;
    }
    return memcmp(a, b, key_bytes) == 0;
}

#endif /* MB_MAP_H */
