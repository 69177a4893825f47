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
 * Memory: libJudy allocates every node through four functions a program may
 * supply itself, JudyMalloc / JudyFree / JudyMallocVirtual / JudyFreeVirtual
 * (sizes in words; libJudy.a's JudyMalloc.o is their malloc default, and
 * peers.cmake links libJudy statically so the definitions below win).  They
 * take no context, so the adapter points a thread-local (ju_current) at the
 * map for the duration of each op that may allocate or free, as stb_ds.c
 * does (trait "thread-local-alloc-hook"): every node then goes through the
 * map's mb_alloc (MB_F_OWN_ALLOC), and check() holds the counted bytes
 * against JudyLMemUsed(), Judy's own count.  With no map current (a Judy
 * user elsewhere in the process, such as bench/adapter_tax's bare loop) the
 * hooks are plain malloc / free.
 *
 * Failure: Judy turns a NULL from JudyMalloc into PJERR / JERR, but its
 * error paths are not clean: with the counting allocator refusing the 12th
 * block of 60 inserts, the failed insert kept the array's entries yet left a
 * 568-byte node allocated and unreachable (JudyLFreeArray never freed it).
 * And JudyLDel allocates too (leaves are kept sized to their population, so
 * a delete copies into a smaller node), which the contract's remove cannot
 * report.  So the adapter never lets Judy see a refused block: when mb_alloc
 * returns NULL (only injected failures do, short of a real OOM) the block is
 * taken from malloc instead, uncounted, and remembered in a small list so
 * that JudyFree gives it back to malloc (trait "refused-blocks-from-malloc").
 * insert then returns MB_ENOMEM only when malloc itself fails.
 *
 * The capacity hint and the shrink policy are ignored (Judy has neither).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <Judy.h>

#include "../mb_map.h"

_Static_assert(sizeof(Word_t) == 8, "JudyL must map 64-bit words for u64 keys");

typedef struct ju_map {
    mb_alloc alloc;
    Pvoid_t array;        /* the JudyL array; NULL when empty */
    size_t count;         /* live entries, kept by the adapter */
    size_t table_bytes;   /* bytes Judy holds through mb_alloc */
    void **fallback;      /* blocks taken from malloc when mb_alloc refused (malloc'ed array) */
    size_t fallback_len, fallback_cap;
    size_t fallback_bytes;
} ju_map;

#define JU_ALIGN _Alignof(max_align_t) /* what JudyMalloc's malloc gives */

/* The map whose op is running on this thread, or NULL. */
static _Thread_local ju_map *ju_current;

/* ---- allocation hooks (libJudy calls these) ------------------------------------ */

/* Returns 1 and forgets p if it is a malloc fallback block. */
static int ju_forget_fallback(ju_map *m, void *p, size_t bytes)
{
    for (size_t i = 0; i < m->fallback_len; i++) {
        if (m->fallback[i] == p) {
            m->fallback[i] = m->fallback[--m->fallback_len];
            m->fallback_bytes -= bytes;
            return 1;
        }
    }
    return 0;
}

/* Returns a malloc block in place of one mb_alloc refused, or NULL. */
static void *ju_fallback_alloc(ju_map *m, size_t bytes)
{
    if (m->fallback_len == m->fallback_cap) {
        size_t cap = m->fallback_cap ? 2 * m->fallback_cap : 8;
        void **grown = realloc(m->fallback, cap * sizeof *grown);
        if (!grown)
            return NULL;
        m->fallback = grown;
        m->fallback_cap = cap;
    }
    void *p = malloc(bytes);
    if (p) {
        m->fallback[m->fallback_len++] = p;
        m->fallback_bytes += bytes;
    }
    return p;
}

Word_t JudyMalloc(Word_t words)
{
    ju_map *m = ju_current;
    size_t bytes = (size_t)words * sizeof(Word_t);
    if (!m)
        return (Word_t)malloc(bytes);
    void *p = mb_alloc_bytes(&m->alloc, bytes, JU_ALIGN);
    if (p)
        m->table_bytes += bytes;
    else
        p = ju_fallback_alloc(m, bytes);
    return (Word_t)p;
}

void JudyFree(Pvoid_t p, Word_t words)
{
    ju_map *m = ju_current;
    size_t bytes = (size_t)words * sizeof(Word_t);
    if (!m || (m->fallback_len && ju_forget_fallback(m, p, bytes))) {
        free(p);
        return;
    }
    m->table_bytes -= bytes;
    mb_free_bytes(&m->alloc, p, bytes, JU_ALIGN);
}

Word_t JudyMallocVirtual(Word_t words) { return JudyMalloc(words); }
void JudyFreeVirtual(Pvoid_t p, Word_t words) { JudyFree(p, words); }

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
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    return m;
}

static void ju_destroy(void *mp)
{
    ju_map *m = mp;
    mb_alloc a = m->alloc;
    ju_current = m;
    JudyLFreeArray(&m->array, PJE0);
    ju_current = NULL;
    free(m->fallback);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(ju_map));
}

static int ju_insert(void *mp, const void *key, const void *val)
{
    ju_map *m = mp;
    ju_current = m;
    PWord_t pv = (PWord_t)JudyLIns(&m->array, ju_load(key), PJE0);
    ju_current = NULL;
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
    ju_current = m;
    int rc = JudyLDel(&m->array, ju_load(key), PJE0);
    ju_current = NULL;
    if (rc != 1)
        return MB_NOTFOUND; /* 0: absent; JERR: malloc itself failed */
    m->count--;
    return MB_FOUND;
}

static void ju_clear(void *mp)
{
    ju_map *m = mp;
    ju_current = m;
    JudyLFreeArray(&m->array, PJE0);
    ju_current = NULL;
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
    out->bytes = sizeof *m + m->table_bytes;
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
    if ((size_t)JudyLMemUsed(m->array) != m->table_bytes + m->fallback_bytes)
        return "bytes counted through the hooks differ from JudyLMemUsed()";
    if (m->array == NULL && m->table_bytes + m->fallback_bytes != 0)
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
              "thread-local-alloc-hook,refused-blocks-from-malloc,ignores-hint",
    .flags = MB_F_OWN_ALLOC, /* u64 keys and u64 values only */
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
