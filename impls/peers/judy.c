/*
 * judy — JudyL (libjudy-dev 1.0.5) behind the mapbench vtable.  u64 -> u64
 * only: a JudyL array maps one machine word to one machine word.
 *
 * What the library is: a 256-ary digital tree (radix trie) over the key's
 * bytes, with nodes chosen by population to stay cache-line sized.  A
 * branch is linear (few children: a sorted byte list), bitmap (256-bit map +
 * packed child pointers) or uncompressed (256 pointers); the leaves hold the
 * remaining key bytes and the values packed in arrays sized to the
 * population; a small array is one root leaf.  Keys shared by prefixes cost
 * nothing to repeat, so the memory shape depends on the key distribution,
 * not on a load factor: dense sequential keys pack to ~1-2 words per entry,
 * uniform random keys need more nodes.  No hashing (cfg.seed ignored, trait
 * "no-hash"), no tombstones (erase restructures), shrinks as it empties
 * (trait "shrinks-always"), iterates in key order (trait "ordered").
 *
 * Layout here: the value is stored in the JudyL value word itself, as a
 * Judy user would; there are no nodes of the adapter's own.  Keys and
 * values are read with memcpy (the contract's blobs are unaligned).
 *
 * insert must say inserted vs replaced.  JudyLIns gives a pointer to the
 * value word, zero for a new index but also zero for a stored value 0, so
 * it cannot tell; the adapter compares JudyLCount(0, -1) (the root's
 * population: O(1)) with its own count after the insert.
 *
 * Memory: Judy allocates through its own JudyMalloc (malloc), which takes no
 * context, so its nodes cannot go through mb_alloc (flag MB_F_OWN_ALLOC
 * off, trait "table-bytes-uncounted": only the adapter struct is counted;
 * the tree shows in the allocator's in-use bytes).  stats.bytes is the
 * struct plus JudyLMemUsed(), Judy's own exact count of its malloc'ed bytes.
 *
 * Failure: Judy reports a failed malloc as PJERR / JERR instead of aborting;
 * insert then returns MB_ENOMEM.  That path can only be hit by a real
 * malloc failure, never by the counting allocator's injection (trait
 * "oom-uninjectable"), and JudyLDel may allocate too (a node converted to a
 * smaller kind), which the contract's remove cannot report: trait
 * "oom-unsafe-remove".  The allocation-failure sweep only reaches create.
 *
 * The capacity hint and the shrink policy are ignored (Judy has neither).
 */
#include <stdint.h>
#include <string.h>

#include <Judy.h>

#include "../mb_map.h"

_Static_assert(sizeof(Word_t) == 8, "JudyL must map 64-bit words for u64 keys");

typedef struct ju_map {
    mb_alloc alloc;
    Pvoid_t array;     /* the JudyL array; NULL when empty */
    size_t count;      /* live entries, kept by the adapter */
} ju_map;

static Word_t ju_load(const void *p)
{
    Word_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* ---- ops ------------------------------------------------------------------ */

static void *ju_create(const mb_alloc *a, const mb_map_config *cfg)
{
    ju_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(ju_map));
    if (!m)
        return NULL;
    m->alloc = *a;
    m->array = NULL;
    m->count = 0;
    return m;
}

static void ju_destroy(void *mp)
{
    ju_map *m = mp;
    mb_alloc a = m->alloc;
    JudyLFreeArray(&m->array, PJE0);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(ju_map));
}

static int ju_insert(void *mp, const void *key, const void *val)
{
    ju_map *m = mp;
    PWord_t pv = (PWord_t)JudyLIns(&m->array, ju_load(key), PJE0);
    if (pv == PJERR)
        return MB_ENOMEM;
    memcpy(pv, val, sizeof *pv);
    if (JudyLCount(m->array, 0, (Word_t)-1, PJE0) == m->count)
        return MB_REPLACED;
    m->count++;
    return MB_INSERTED;
}

static int ju_lookup(void *mp, const void *key, void *val_out)
{
    ju_map *m = mp;
    PWord_t pv = (PWord_t)JudyLGet(m->array, ju_load(key), PJE0);
    if (!pv)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, pv, sizeof *pv);
    return MB_FOUND;
}

static int ju_remove(void *mp, const void *key)
{
    ju_map *m = mp;
    if (JudyLDel(&m->array, ju_load(key), PJE0) != 1)
        return MB_NOTFOUND; /* 0: absent; JERR: see "Failure" */
    m->count--;
    return MB_FOUND;
}

static void ju_clear(void *mp)
{
    ju_map *m = mp;
    JudyLFreeArray(&m->array, PJE0);
    m->count = 0;
}

static int ju_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    ju_map *m = mp;
    Word_t k = 0;
    int r = 0;
    for (PWord_t pv = (PWord_t)JudyLFirst(m->array, &k, PJE0); pv && r == 0;
         pv = (PWord_t)JudyLNext(m->array, &k, PJE0))
        r = fn(ud, &k, pv);
    return r;
}

static void ju_stats(const void *mp, mb_map_stats *out)
{
    const ju_map *m = mp;
    mb_stats_init(out);
    out->count = m->count;
    out->tombstones = MB_NA; /* none in the design */
    out->bytes = sizeof *m + (size_t)JudyLMemUsed(m->array);
}

/* Walks the array in order: keys strictly ascending, each found by JudyLGet
 * at the same value word, as many as the adapter's count and Judy's
 * population; an empty array is NULL and holds no bytes. */
static const char *ju_check(const void *mp)
{
    const ju_map *m = mp;
    Word_t k = 0, prev = 0, seen = 0;

    if ((m->array == NULL) != (m->count == 0))
        return "the array is NULL exactly when the map is empty";
    if (JudyLCount(m->array, 0, (Word_t)-1, PJE0) != m->count)
        return "Judy's population does not match the adapter's count";
    if (m->array == NULL && JudyLMemUsed(m->array) != 0)
        return "an empty array still holds bytes";
    for (PWord_t pv = (PWord_t)JudyLFirst(m->array, &k, PJE0); pv;
         pv = (PWord_t)JudyLNext(m->array, &k, PJE0)) {
        if (seen && k <= prev)
            return "iteration is not in strictly ascending key order";
        if ((PWord_t)JudyLGet(m->array, k, PJE0) != pv)
            return "an iterated key is not found at its value word";
        if (++seen > m->count)
            return "iteration visits more entries than the count";
        prev = k;
    }
    if (seen != m->count)
        return "the count does not match iteration";
    return NULL;
}

const mb_map_ops mb_judy_ops = {
    .name = "judy",
    .family = "peer",
    .traits = "radix-trie,ordered,u64-only,no-hash,no-tombstones,shrinks-always,"
              "table-bytes-uncounted,oom-uninjectable,oom-unsafe-remove,ignores-hint",
    .flags = 0, /* u64 keys and u64 values only; no MB_F_OWN_ALLOC */
    .create = ju_create,
    .destroy = ju_destroy,
    .insert = ju_insert,
    .lookup = ju_lookup,
    .remove = ju_remove,
    .clear = ju_clear,
    .iterate = ju_iterate,
    .stats = ju_stats,
    .check = ju_check,
};
