/*
 * oa_linear — open addressing with linear probing and tombstones.
 *
 * Layout: one allocation holding a control array (one byte per slot: EMPTY,
 * FULL or TOMB) followed by the slots, each key_bytes + val_bytes, packed.
 * Capacity is a power of two (>= OL_MIN_CAP), so the home slot of a key is
 * hash & (cap - 1).
 *
 * Probe rule: from the home slot, step +1 (wrapping) until the key or an EMPTY
 * slot is found.  A TOMB does not stop a lookup; an insert remembers the first
 * TOMB it passes and reuses it.
 *
 * Tombstone rule: remove marks the slot TOMB, unless the next slot is EMPTY,
 * in which case no probe sequence can run through this slot and it becomes
 * EMPTY at once.
 *
 * Growth: an insert that would take used (= count + tombstones) above 7/8 of
 * the capacity rebuilds the table first.  If the live entries fill at most
 * 25/32 of it (abseil's threshold), it is a same-size rehash (a purge:
 * tombstones are what is full, not the table); otherwise the capacity
 * doubles.  (An earlier rule, "purge when tombstones are a quarter of used",
 * doubled tables under constant-size churn whose live count never grew.)
 * 7/8 keeps the expected probe length of a miss under ~32 slots for linear
 * probing (Knuth: 1/2(1+1/(1-a)^2)).
 *
 * Shrink (MB_SHRINK_LOW_WATER only): when a remove leaves count below 1/8 of
 * the capacity, the table is rebuilt at the smallest power of two holding
 * count at load <= 1/2.  If that allocation fails, the table stays as it is.
 *
 * clear() keeps the capacity (a memset of the control bytes).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../mb_map.h"

#define OL_MIN_CAP 8u

enum { OL_EMPTY = 0, OL_FULL = 1, OL_TOMB = 2 };

typedef struct ol_map {
    mb_alloc alloc;
    size_t key_bytes, val_bytes, slot_bytes;
    uint64_t seed;
    mb_shrink_policy shrink;
    size_t cap;          /* power of two */
    size_t count;        /* FULL slots */
    size_t tombs;        /* TOMB slots */
    uint8_t *ctrl;       /* cap bytes, then the slots */
    unsigned char *slots;
    size_t block_bytes;  /* size of the ctrl+slots allocation */
    size_t grow_events, shrink_events, rehash_events;
} ol_map;

/* ---- layout ------------------------------------------------------------- */

static size_t ol_block_bytes(size_t cap, size_t slot_bytes)
{
    return ((cap + 7) & ~(size_t)7) + cap * slot_bytes;
}

static unsigned char *ol_slot(const ol_map *m, size_t i)
{
    return m->slots + i * m->slot_bytes;
}

static size_t ol_max_used(size_t cap)
{
    return cap - cap / 8;
}

/* Returns the largest capacity the map will ever ask for with these slots,
 * so that the size of a block never overflows a size_t. */
static size_t ol_cap_limit(size_t slot_bytes)
{
    size_t lim = (size_t)1 << (sizeof(size_t) * 8 - 2);
    while (lim > OL_MIN_CAP && lim > (SIZE_MAX / 2) / (slot_bytes + 1))
        lim /= 2;
    return lim;
}

/* Returns the smallest power-of-two capacity that holds n entries under the
 * max load, or 0 when n is beyond any capacity this map can allocate (a huge
 * hint used to spin here forever once cap overflowed to 0). */
static size_t ol_cap_for(size_t n, size_t slot_bytes)
{
    size_t cap = OL_MIN_CAP, lim = ol_cap_limit(slot_bytes);
    while (ol_max_used(cap) < n) {
        if (cap >= lim)
            return 0;
        cap *= 2;
    }
    return cap;
}

/* ---- probe -------------------------------------------------------------- */

/* Returns the slot holding key, or SIZE_MAX. */
static size_t ol_find(const ol_map *m, const void *key, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        uint8_t c = m->ctrl[i];
        if (c == OL_EMPTY)
            return SIZE_MAX;
        if (c == OL_FULL && mb_key_eq(ol_slot(m, i), key, m->key_bytes))
            return i;
    }
}

/* Returns the first EMPTY or TOMB slot on key's probe sequence.
 * PRECONDITION: the key is absent and the table has a free slot. */
static size_t ol_find_free(const ol_map *m, uint64_t h)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->ctrl[i] == OL_FULL)
        i = (i + 1) & mask;
    return i;
}

/* ---- grow / rehash -------------------------------------------------------- */

/* Rebuilds the table at new_cap, dropping tombstones.
 * Returns 0, or MB_ENOMEM with the map unchanged. */
static int ol_resize(ol_map *m, size_t new_cap)
{
    size_t bytes = ol_block_bytes(new_cap, m->slot_bytes);
    uint8_t *ctrl = mb_alloc_bytes(&m->alloc, bytes, 8);
    if (!ctrl)
        return MB_ENOMEM;
    memset(ctrl, OL_EMPTY, new_cap);

    ol_map next = *m;
    next.cap = new_cap;
    next.ctrl = ctrl;
    next.slots = (unsigned char *)ctrl + ((new_cap + 7) & ~(size_t)7);
    next.block_bytes = bytes;
    next.tombs = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->ctrl[i] != OL_FULL)
            continue;
        const unsigned char *s = ol_slot(m, i);
        size_t j = ol_find_free(&next, mb_hash_key(s, m->key_bytes, m->seed));
        next.ctrl[j] = OL_FULL;
        memcpy(ol_slot(&next, j), s, m->slot_bytes);
    }
    mb_free_bytes(&m->alloc, m->ctrl, m->block_bytes, 8);
    if (new_cap > m->cap)
        next.grow_events++;
    else if (new_cap < m->cap)
        next.shrink_events++;
    else
        next.rehash_events++;
    *m = next;
    return 0;
}

/* Makes room for one more used slot.  Returns 0 or MB_ENOMEM (unchanged). */
static int ol_reserve_one(ol_map *m)
{
    size_t used = m->count + m->tombs;
    if (used + 1 <= ol_max_used(m->cap))
        return 0;
    /* abseil's rule: if the live entries alone fill at most 25/32 of the
     * table, tombstones are what is full: purge in place (the next purge is
     * at least 3/32 of the capacity in inserts away, so the amortised cost
     * stays O(1)); otherwise the table really is full: double. */
    if (m->count + 1 <= m->cap / 32 * 25)
        return ol_resize(m, m->cap);
    if (m->cap >= ol_cap_limit(m->slot_bytes))
        return MB_ENOMEM;
    return ol_resize(m, m->cap * 2);
}

/* ---- ops ------------------------------------------------------------------ */

static void *ol_create(const mb_alloc *a, const mb_map_config *cfg)
{
    size_t cap = ol_cap_for(cfg->capacity_hint, cfg->key_bytes + cfg->val_bytes);
    if (cap == 0)
        return NULL;
    ol_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(ol_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->slot_bytes = cfg->key_bytes + cfg->val_bytes;
    m->seed = cfg->seed;
    m->shrink = cfg->shrink;
    m->cap = cap;
    m->block_bytes = ol_block_bytes(m->cap, m->slot_bytes);
    m->ctrl = mb_alloc_bytes(a, m->block_bytes, 8);
    if (!m->ctrl) {
        mb_free_bytes(a, m, sizeof *m, _Alignof(ol_map));
        return NULL;
    }
    memset(m->ctrl, OL_EMPTY, m->cap);
    m->slots = (unsigned char *)m->ctrl + ((m->cap + 7) & ~(size_t)7);
    return m;
}

static void ol_destroy(void *mp)
{
    ol_map *m = mp;
    mb_alloc a = m->alloc;
    mb_free_bytes(&a, m->ctrl, m->block_bytes, 8);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(ol_map));
}

static int ol_insert(void *mp, const void *key, const void *val)
{
    ol_map *m = mp;
    uint64_t h = mb_hash_key(key, m->key_bytes, m->seed);
    size_t mask = m->cap - 1, tomb = SIZE_MAX, i;

    for (i = h & mask;; i = (i + 1) & mask) {
        uint8_t c = m->ctrl[i];
        if (c == OL_EMPTY)
            break;
        if (c == OL_TOMB) {
            if (tomb == SIZE_MAX)
                tomb = i;
        } else if (mb_key_eq(ol_slot(m, i), key, m->key_bytes)) {
            memcpy(ol_slot(m, i) + m->key_bytes, val, m->val_bytes);
            return MB_REPLACED;
        }
    }
    if (tomb != SIZE_MAX) {
        i = tomb; /* reusing a tombstone never raises used */
        m->tombs--;
    } else {
        if (ol_reserve_one(m) != 0)
            return MB_ENOMEM;
        i = ol_find_free(m, h);
        if (m->ctrl[i] == OL_TOMB)
            m->tombs--;
    }
    m->ctrl[i] = OL_FULL;
    memcpy(ol_slot(m, i), key, m->key_bytes);
    memcpy(ol_slot(m, i) + m->key_bytes, val, m->val_bytes);
    m->count++;
    return MB_INSERTED;
}

static int ol_lookup(void *mp, const void *key, void *val_out)
{
    ol_map *m = mp;
    size_t i = ol_find(m, key, mb_hash_key(key, m->key_bytes, m->seed));
    if (i == SIZE_MAX)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, ol_slot(m, i) + m->key_bytes, m->val_bytes);
    return MB_FOUND;
}

static void ol_maybe_shrink(ol_map *m)
{
    if (m->shrink != MB_SHRINK_LOW_WATER || m->cap <= OL_MIN_CAP || m->count >= m->cap / 8)
        return;
    size_t cap = OL_MIN_CAP;
    while (cap / 2 < m->count)
        cap *= 2;
    if (cap < m->cap)
        (void)ol_resize(m, cap); /* on ENOMEM the table simply stays larger */
}

static int ol_remove(void *mp, const void *key)
{
    ol_map *m = mp;
    size_t i = ol_find(m, key, mb_hash_key(key, m->key_bytes, m->seed));
    if (i == SIZE_MAX)
        return MB_NOTFOUND;
    if (m->ctrl[(i + 1) & (m->cap - 1)] == OL_EMPTY) {
        m->ctrl[i] = OL_EMPTY;
    } else {
        m->ctrl[i] = OL_TOMB;
        m->tombs++;
    }
    m->count--;
    ol_maybe_shrink(m);
    return MB_FOUND;
}

static void ol_clear(void *mp)
{
    ol_map *m = mp;
    memset(m->ctrl, OL_EMPTY, m->cap);
    m->count = m->tombs = 0;
}

static int ol_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    ol_map *m = mp;
    int r = 0;
    for (size_t i = 0; i < m->cap && r == 0; i++)
        if (m->ctrl[i] == OL_FULL)
            r = fn(ud, ol_slot(m, i), ol_slot(m, i) + m->key_bytes);
    return r;
}

static void ol_stats(const void *mp, mb_map_stats *out)
{
    const ol_map *m = mp;
    size_t total = 0;
    mb_stats_init(out);
    out->count = m->count;
    out->capacity = m->cap;
    out->tombstones = m->tombs;
    out->max_probe = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->ctrl[i] != OL_FULL)
            continue;
        size_t home = mb_hash_key(ol_slot(m, i), m->key_bytes, m->seed) & (m->cap - 1);
        size_t len = ((i - home) & (m->cap - 1)) + 1;
        total += len;
        if (len > out->max_probe)
            out->max_probe = len;
    }
    out->mean_probe = m->count ? (double)total / (double)m->count : 0.0;
    out->grow_events = m->grow_events;
    out->shrink_events = m->shrink_events;
    out->rehash_events = m->rehash_events;
    out->bytes = sizeof *m + m->block_bytes;
}

/* ---- check ---------------------------------------------------------------- */

static const char *ol_check(const void *mp)
{
    const ol_map *m = mp;
    size_t full = 0, tombs = 0, mask = m->cap - 1;

    if (m->cap < OL_MIN_CAP || (m->cap & mask) != 0)
        return "capacity is not a power of two >= OL_MIN_CAP";
    if (m->block_bytes != ol_block_bytes(m->cap, m->slot_bytes))
        return "block_bytes does not match capacity";
    for (size_t i = 0; i < m->cap; i++) {
        uint8_t c = m->ctrl[i];
        if (c == OL_TOMB) {
            tombs++;
            continue;
        }
        if (c != OL_FULL) {
            if (c != OL_EMPTY)
                return "control byte is not EMPTY, FULL or TOMB";
            continue;
        }
        full++;
        const unsigned char *k = ol_slot(m, i);
        size_t home = mb_hash_key(k, m->key_bytes, m->seed) & mask;
        for (size_t j = home; j != i; j = (j + 1) & mask)
            if (m->ctrl[j] == OL_EMPTY)
                return "an EMPTY slot lies between a key's home and its slot";
        if (ol_find(m, k, mb_hash_key(k, m->key_bytes, m->seed)) != i)
            return "a key is stored twice";
    }
    if (full != m->count)
        return "count does not match FULL slots";
    if (tombs != m->tombs)
        return "tombstone count does not match TOMB slots";
    if (full + tombs > ol_max_used(m->cap))
        return "used slots exceed the max load";
    return NULL;
}

const mb_map_ops mb_oa_linear_ops = {
    .name = "oa_linear",
    .family = "open-addressing",
    .traits = "tombstones,tombstone-purge,clear-keeps-capacity",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_SHRINK | MB_F_OWN_ALLOC,
    .create = ol_create,
    .destroy = ol_destroy,
    .insert = ol_insert,
    .lookup = ol_lookup,
    .remove = ol_remove,
    .clear = ol_clear,
    .iterate = ol_iterate,
    .stats = ol_stats,
    .check = ol_check,
};
