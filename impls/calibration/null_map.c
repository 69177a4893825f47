/*
 * null_map.c — the calibration "map": answers from the key, holds no table.
 *
 * Purpose: run through the very same timed loops as a real map, it gives
 * each phase's own cost per operation (the harness floor): key array loads,
 * the indirect call, the answer bookkeeping.  A figure minus the floor is
 * roughly what the map itself costs.  It is registered with
 * MB_F_CALIBRATION, so suites and the generic tests (which compare maps with
 * a Python dict on arbitrary keys) leave it out; it runs only when named
 * (`--impl null_map`).
 *
 * How it knows without a table.  The workload's uniform keys are
 *     key i = mix(seed + (i + 1) * GAMMA)       (workloads' mb_key_at)
 * where mix is splitmix64's output function, a bijection.  The map is
 * created with the same seed (mb_map_config.seed is the stream's seed in
 * every harness mode), so it inverts mix and recovers i from the key: three
 * xor-shift inversions and three multiplies by modular inverses.  It keeps
 * the present keys as one index range [lo, hi):
 *
 *     insert(key i):  i == hi  -> hi++, INSERTED;  lo <= i < hi -> REPLACED
 *     remove(key i):  i == lo  -> lo++, FOUND;     outside      -> NOTFOUND
 *     lookup(key i):  lo <= i < hi -> FOUND with mb_val_for(key)
 *     clear():        lo = hi = 0;   iterate: keys lo .. hi-1, regenerated
 *
 * The value is not stored either: it is the workload's value function
 * (key * VAL_MUL + VAL_ADD, mb_val_for), and insert checks that the value it
 * is given is that one.  So the answers are exactly a real map's for the
 * streams the harness runs in order: uniform u64 -> u64 keys, inserted and
 * removed in index order (the default distribution).  Anything the range
 * cannot represent (an insert out of order, a removal from the middle, a
 * value that is not mb_val_for(key), other key orders or blueprints) marks the
 * map broken: check() then says so, and the phase's own verification fails
 * because the answers stop being right.  It is an instrument, not a map.
 *
 * Its own cost per lookup: ~20 instructions (the inversion, a range compare,
 * the value multiply-add), 3 multiplies deep.  The floor therefore slightly
 * overstates the harness's share: a real map pays a hash of similar depth.
 *
 * The constants below are copies of workloads/workload.c's mb_key_at and
 * mb_val_for (impls/ may not include workloads/); tests/test_timing_lean.py
 * runs every phase on this map, so a change there fails the test here.
 */
#include "../mb_map.h"

#define NM_GAMMA 0x9e3779b97f4a7c15ULL   /* splitmix64's increment */
#define NM_MIX1 0xbf58476d1ce4e5b9ULL    /* splitmix64's multipliers */
#define NM_MIX2 0x94d049bb133111ebULL
#define NM_VAL_MUL 0xd6e8feb86659fd93ULL /* mb_val_for */
#define NM_VAL_ADD 0x2545f4914f6cdd1dULL

typedef struct nm_map {
    mb_alloc alloc;
    uint64_t seed;
    uint64_t inv_gamma, inv_mix1, inv_mix2; /* multiplicative inverses mod 2^64 */
    uint64_t lo, hi;          /* present key indexes: [lo, hi) */
    const char *broken;       /* the first operation the range model could not represent */
} nm_map;

/* Returns a^-1 mod 2^64 for odd a (Newton's iteration doubles the correct bits). */
static uint64_t nm_inverse(uint64_t a)
{
    uint64_t x = a; /* correct to 3 bits for odd a */
    for (int i = 0; i < 5; i++)
        x *= 2 - a * x;
    return x;
}

static uint64_t nm_key_at(const nm_map *m, uint64_t i)
{
    uint64_t z = m->seed + (i + 1) * NM_GAMMA;
    z = (z ^ (z >> 30)) * NM_MIX1;
    z = (z ^ (z >> 27)) * NM_MIX2;
    return z ^ (z >> 31);
}

/* The stream index of key k (the inverse of nm_key_at). */
static inline uint64_t nm_index_of(const nm_map *m, const void *key)
{
    uint64_t z;
    memcpy(&z, key, 8);
    z ^= (z >> 31) ^ (z >> 62);
    z *= m->inv_mix2;
    z ^= (z >> 27) ^ (z >> 54);
    z *= m->inv_mix1;
    z ^= (z >> 30) ^ (z >> 60);
    return (z - m->seed) * m->inv_gamma - 1;
}

static uint64_t nm_val_for(uint64_t k)
{
    return k * NM_VAL_MUL + NM_VAL_ADD;
}

static void *nm_create(const mb_alloc *a, const mb_map_config *cfg)
{
    nm_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(nm_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->seed = cfg->seed;
    m->inv_gamma = nm_inverse(NM_GAMMA);
    m->inv_mix1 = nm_inverse(NM_MIX1);
    m->inv_mix2 = nm_inverse(NM_MIX2);
    return m;
}

static void nm_destroy(void *mp)
{
    nm_map *m = mp;
    mb_alloc a = m->alloc;
    mb_free_bytes(&a, m, sizeof *m, _Alignof(nm_map));
}

static int nm_insert(void *mp, const void *key, const void *val)
{
    nm_map *m = mp;
    uint64_t i = nm_index_of(m, key), k, v;
    memcpy(&k, key, 8);
    memcpy(&v, val, 8);
    if (v != nm_val_for(k) && !m->broken)
        m->broken = "null map: a value that is not mb_val_for(key)";
    if (i >= m->lo && i < m->hi)
        return MB_REPLACED;
    if (m->lo == m->hi)
        m->lo = m->hi = i;
    else if (i != m->hi && !m->broken)
        m->broken = "null map: an insert out of index order";
    m->hi = i + 1;
    return MB_INSERTED;
}

static int nm_lookup(void *mp, const void *key, void *val_out)
{
    const nm_map *m = mp;
    uint64_t i = nm_index_of(m, key);
    if (i - m->lo >= m->hi - m->lo) /* i outside [lo, hi), one compare */
        return MB_NOTFOUND;
    if (val_out) {
        uint64_t k, v;
        memcpy(&k, key, 8);
        v = nm_val_for(k);
        memcpy(val_out, &v, 8);
    }
    return MB_FOUND;
}

static int nm_remove(void *mp, const void *key)
{
    nm_map *m = mp;
    uint64_t i = nm_index_of(m, key);
    if (i - m->lo >= m->hi - m->lo)
        return MB_NOTFOUND;
    if (i != m->lo && !m->broken)
        m->broken = "null map: a removal from the middle of its range";
    m->lo = i + 1 < m->hi ? i + 1 : m->hi;
    if (m->lo == m->hi)
        m->lo = m->hi = 0;
    return MB_FOUND;
}

static void nm_clear(void *mp)
{
    nm_map *m = mp;
    m->lo = m->hi = 0;
}

static int nm_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    const nm_map *m = mp;
    int rc = 0;
    for (uint64_t i = m->lo; i < m->hi && rc == 0; i++) {
        uint64_t k = nm_key_at(m, i), v = nm_val_for(k);
        rc = fn(ud, &k, &v);
    }
    return rc;
}

static void nm_stats(const void *mp, mb_map_stats *out)
{
    const nm_map *m = mp;
    mb_stats_init(out);
    out->count = (size_t)(m->hi - m->lo);
    out->capacity = 0;
    out->grow_events = out->shrink_events = out->rehash_events = 0;
    out->bytes = sizeof *m;
}

static const char *nm_check(const void *mp)
{
    const nm_map *m = mp;
    if (m->broken)
        return m->broken;
    if (m->lo > m->hi)
        return "null map: lo > hi";
    return NULL;
}

const mb_map_ops mb_null_map_ops = {
    .name = "null_map",
    .family = "calibration",
    .traits = "calibration,no-table,uniform-u64-in-order-only",
    .flags = MB_F_CALIBRATION | MB_F_OWN_ALLOC,
    .create = nm_create,
    .destroy = nm_destroy,
    .insert = nm_insert,
    .lookup = nm_lookup,
    .remove = nm_remove,
    .clear = nm_clear,
    .iterate = nm_iterate,
    .stats = nm_stats,
    .check = nm_check,
};
