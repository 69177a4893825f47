/*
 * plant.c — deliberate defects for the test suite, compiled only into the
 * build configured with -DMB_PLANT=ON (build-plant/), never into a normal one.
 *
 * That build registers this wrapper in place of oa_linear, under the same
 * name, so a planted run is compared case by case with a clean run.  The
 * environment variable MB_PLANT picks the defect when a map is created:
 *
 *   lookup_work   every lookup does a few extra instructions of dependent work
 *                 (about +3% of a lookup_hit phase's instructions per op)
 *                 (the gate must see instructions per op go up)
 *   slow_lookup   every lookup also runs a chain of dependent multiplies its
 *                 answer waits for (wall time of lookup_hit about 3x, its
 *                 instructions +63%): the gate's wall-time check must fire
 *                 with the default sample counts
 *   capacity      the table is created much larger than needed (bytes per entry up)
 *   wrong_value   every 1000th found value comes back with one bit flipped
 *                 (the checksum must fail the case)
 *   wrong_answer  every 1000th miss answers MB_FOUND, every 1000th new key's
 *                 insert answers MB_REPLACED, every 1000th removal answers
 *                 MB_NOTFOUND (and removes nothing), iterate skips every
 *                 1000th entry: the phases that never look at a value must
 *                 fail too (tests/test_timing_lean.py)
 *   unset/other   no defect: behaves exactly like oa_linear
 */
#include <stdlib.h>
#include <string.h>

#include "../../impls/mb_map.h"

extern const mb_map_ops mb_oa_linear_ops;

/* slow_lookup's dependent multiplies per lookup (3 cycles each).  Large on
 * purpose: a host's noisy spells slow a whole timing process, both its
 * repetitions, by up to ~1.8x (seen: 13 -> 23 ns a lookup_hit), and a slowdown
 * below that lets one slow baseline process overlap the planted samples and
 * cost the 6-vs-6 rank test its p.  12 steps (+45%) failed that way in 5 of 8
 * tries in one such spell; 36 steps (about 3x) keeps the two sets apart.  The
 * gate's sensitivity near its 1.15 ratio is tested on doctored samples. */
#define PL_SLOW_STEPS 36

typedef enum { PL_NONE, PL_LOOKUP_WORK, PL_SLOW_LOOKUP, PL_CAPACITY, PL_WRONG_VALUE, PL_WRONG_ANSWER } pl_kind;

typedef struct pl_map {
    void *inner;
    pl_kind kind;
    unsigned long lookups;
    unsigned long misses, inserts, removes; /* wrong_answer's counters */
    mb_alloc alloc;
} pl_map;

static pl_kind pl_kind_from_env(void)
{
    const char *v = getenv("MB_PLANT");
    if (!v)
        return PL_NONE;
    if (strcmp(v, "lookup_work") == 0)
        return PL_LOOKUP_WORK;
    if (strcmp(v, "slow_lookup") == 0)
        return PL_SLOW_LOOKUP;
    if (strcmp(v, "capacity") == 0)
        return PL_CAPACITY;
    if (strcmp(v, "wrong_value") == 0)
        return PL_WRONG_VALUE;
    if (strcmp(v, "wrong_answer") == 0)
        return PL_WRONG_ANSWER;
    return PL_NONE;
}

static void *pl_create(const mb_alloc *a, const mb_map_config *cfg)
{
    pl_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(pl_map));
    if (!m)
        return NULL;
    mb_map_config c = *cfg;
    m->kind = pl_kind_from_env();
    m->lookups = m->misses = m->inserts = m->removes = 0;
    m->alloc = *a;
    if (m->kind == PL_CAPACITY)
        c.capacity_hint = 4 * cfg->capacity_hint + 16384; /* 4x a small map's table */
    m->inner = mb_oa_linear_ops.create(a, &c);
    if (!m->inner) {
        mb_free_bytes(a, m, sizeof *m, _Alignof(pl_map));
        return NULL;
    }
    return m;
}

static void pl_destroy(void *mp)
{
    pl_map *m = mp;
    mb_alloc a = m->alloc;
    mb_oa_linear_ops.destroy(m->inner);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(pl_map));
}

static int pl_insert(void *mp, const void *k, const void *v)
{
    pl_map *m = mp;
    int rc = mb_oa_linear_ops.insert(m->inner, k, v);
    if (m->kind == PL_WRONG_ANSWER && rc == MB_INSERTED && ++m->inserts % 1000 == 0)
        rc = MB_REPLACED;
    return rc;
}

static int pl_lookup(void *mp, const void *k, void *out)
{
    pl_map *m = mp;
    int rc = mb_oa_linear_ops.lookup(m->inner, k, out);
    if (m->kind == PL_LOOKUP_WORK || m->kind == PL_SLOW_LOOKUP) {
        /* one branch for both: the path with no plant pays no extra compare */
        uint64_t x;
        memcpy(&x, k, 8);
        for (int i = 0; i < 3; i++) {
            x = x * 0x9e3779b97f4a7c15ULL + (uint64_t)i;
            __asm__ volatile("" : "+r"(x)); /* work the optimiser cannot remove */
        }
        if (m->kind == PL_SLOW_LOOKUP)
            for (int i = 3; i < PL_SLOW_STEPS; i++) {
                x = x * 0x9e3779b97f4a7c15ULL + (uint64_t)i;
                __asm__ volatile("" : "+r"(x));
            }
        if (x == 0x5eed5eed5eed5eedULL)
            rc = mb_oa_linear_ops.lookup(m->inner, k, out);
    }
    if (m->kind == PL_WRONG_VALUE && rc == MB_FOUND && out && ++m->lookups % 1000 == 0)
        ((unsigned char *)out)[0] ^= 1;
    if (m->kind == PL_WRONG_ANSWER && rc == MB_NOTFOUND && ++m->misses % 1000 == 0)
        rc = MB_FOUND; /* out keeps whatever it held */
    return rc;
}

static int pl_remove(void *mp, const void *k)
{
    pl_map *m = mp;
    if (m->kind == PL_WRONG_ANSWER && ++m->removes % 1000 == 0)
        return MB_NOTFOUND;
    return mb_oa_linear_ops.remove(m->inner, k);
}

static void pl_clear(void *mp)
{
    mb_oa_linear_ops.clear(((pl_map *)mp)->inner);
}

typedef struct pl_skip {
    mb_visit_fn fn;
    void *ud;
    unsigned long seen;
} pl_skip;

static int pl_visit_skipping(void *ud, const void *k, const void *v)
{
    pl_skip *sk = ud;
    return ++sk->seen % 1000 == 0 ? 0 : sk->fn(sk->ud, k, v);
}

static int pl_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    pl_map *m = mp;
    if (m->kind == PL_WRONG_ANSWER) {
        pl_skip sk = { fn, ud, 0 };
        return mb_oa_linear_ops.iterate(m->inner, pl_visit_skipping, &sk);
    }
    return mb_oa_linear_ops.iterate(m->inner, fn, ud);
}

static void pl_stats(const void *mp, mb_map_stats *out)
{
    mb_oa_linear_ops.stats(((const pl_map *)mp)->inner, out);
    if (out->bytes != MB_NA)
        out->bytes += sizeof(pl_map);
}

static const char *pl_check(const void *mp)
{
    return mb_oa_linear_ops.check(((const pl_map *)mp)->inner);
}

const mb_map_ops mb_oa_linear_planted_ops = {
    .name = "oa_linear",
    .family = "open-addressing",
    .traits = "tombstones,tombstone-purge,clear-keeps-capacity,PLANTED-TEST-BUILD",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_SHRINK | MB_F_OWN_ALLOC,
    .create = pl_create,
    .destroy = pl_destroy,
    .insert = pl_insert,
    .lookup = pl_lookup,
    .remove = pl_remove,
    .clear = pl_clear,
    .iterate = pl_iterate,
    .stats = pl_stats,
    .check = pl_check,
};
