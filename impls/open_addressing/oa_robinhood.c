/*
 * oa_robinhood — Robin Hood linear probing with backward-shift delete:
 * no tombstones, ever.
 *
 * Layout: one allocation holding a distance array (one byte per slot) followed
 * by the slots, each key_bytes + val_bytes, packed.  Capacity is a power of
 * two (>= RH_MIN_CAP), so the home slot of a key is hash & (cap - 1).
 *
 *     dist[i] = 0          slot i is empty
 *     dist[i] = d, 1..255  slot i is full and its key sits d - 1 slots after
 *                          its home slot (d = slots a hit on it examines)
 *
 * Robin Hood invariant: walking right (wrapping), every cluster is ordered by
 * home slot, which is the same as dist[i + 1] <= dist[i] + 1 for every i
 * (an empty slot counts as 0, so the slot after it has dist <= 1).
 *
 * Probe rule: from the home slot with d = 1, step +1 and d + 1 until
 * dist[i] < d (the key would have been placed here or earlier: a miss stops,
 * often long before an empty slot) or dist[i] == d and the key matches.  Only
 * slots with dist[i] == d can hold the key, so the others are skipped without
 * touching their key.
 *
 * Insert: probe as above; the new key goes to the first slot with dist[i] < d,
 * after any entries with the same home ("first come, first placed").  The
 * entries from there up to the next empty slot shift right by one (each dist
 * + 1; memmove in at most three pieces when the run wraps), which is exactly
 * what the classic swap-and-carry loop produces up to the order of entries
 * sharing a home.
 *
 * Delete (backward shift): the entries after the removed one, up to the next
 * empty slot or the next entry already at home (dist == 1), shift left by one
 * (each dist - 1, again by memmove), and the last slot of the run becomes
 * empty.  The table is
 * then exactly as if the key had never been inserted.
 *
 * Growth: an insert that would take count above 7/8 of the capacity doubles
 * it first.  7/8 matches oa_linear and swiss, so bytes per entry compare like
 * for like; Robin Hood keeps the probe-length variance low at that load (the
 * mean hit examines ~(1 + 1/(1-a))/2 = 4.5 slots, misses stop early at the
 * first richer slot) so the longest probe stays a few dozen slots.  An insert
 * that would push any distance past 255 (one byte) also doubles the capacity;
 * with mb_hash_u64 this does not happen at 7/8 in practice.
 *
 * Shrink (MB_SHRINK_LOW_WATER only): when a remove leaves count below 1/8 of
 * the capacity, the table is rebuilt at the smallest power of two holding
 * count at load <= 1/2.  If that allocation fails (or a distance would
 * overflow), the table stays as it is: larger and valid.
 *
 * clear() keeps the capacity (a memset of the distance bytes).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../mb_map.h"

#define RH_MIN_CAP 8u
#define RH_DIST_MAX 255u   /* largest storable dist: a probe of 255 slots */
#define RH_OVERFLOW (-2)   /* internal: a distance would not fit in a byte */

typedef struct rh_map {
    mb_alloc alloc;
    size_t key_bytes, val_bytes, slot_bytes;
    uint64_t seed;
    mb_shrink_policy shrink;
    size_t cap;          /* power of two */
    size_t count;        /* slots with dist != 0 */
    uint8_t *dist;       /* cap bytes (padded to 8), then the slots */
    unsigned char *slots;
    size_t block_bytes;  /* size of the dist+slots allocation */
    size_t grow_events, shrink_events;
} rh_map;

/* ---- layout ------------------------------------------------------------- */

static size_t rh_dist_bytes(size_t cap)
{
    return (cap + 7) & ~(size_t)7;
}

static size_t rh_block_bytes(size_t cap, size_t slot_bytes)
{
    return rh_dist_bytes(cap) + cap * slot_bytes;
}

static unsigned char *rh_slot(const rh_map *m, size_t i)
{
    return m->slots + i * m->slot_bytes;
}

static size_t rh_max_count(size_t cap)
{
    return cap - cap / 8;
}

/* Returns the largest capacity the map will ever ask for with these slots,
 * so that the size of a block never overflows a size_t. */
static size_t rh_cap_limit(size_t slot_bytes)
{
    size_t lim = (size_t)1 << (sizeof(size_t) * 8 - 2);
    while (lim > RH_MIN_CAP && lim > (SIZE_MAX / 2) / (slot_bytes + 1))
        lim /= 2;
    return lim;
}

/* Returns the smallest power-of-two capacity that holds n entries under the
 * max load, or 0 when n is beyond any capacity this map can allocate. */
static size_t rh_cap_for(size_t n, size_t slot_bytes)
{
    size_t cap = RH_MIN_CAP, lim = rh_cap_limit(slot_bytes);
    while (rh_max_count(cap) < n) {
        if (cap >= lim)
            return 0;
        cap *= 2;
    }
    return cap;
}

static uint64_t rh_hash(const rh_map *m, const void *key)
{
    return mb_hash_key(key, m->key_bytes, m->seed);
}

/* ---- probe -------------------------------------------------------------- */

/* Returns the slot holding key, or SIZE_MAX. */
static size_t rh_find(const rh_map *m, const void *key, uint64_t h)
{
    size_t mask = m->cap - 1, i = h & mask;
    for (unsigned d = 1;; d++, i = (i + 1) & mask) {
        unsigned c = m->dist[i];
        if (c < d)
            return SIZE_MAX; /* also ends the walk at d = 256 */
        if (c == d && mb_key_eq(rh_slot(m, i), key, m->key_bytes))
            return i;
    }
}

/* Returns where a new key with hash h goes (after the entries that share its
 * home) and its dist there in *d_out (may be RH_DIST_MAX + 1).
 * PRECONDITION: the key is absent. */
static size_t rh_seek(const rh_map *m, uint64_t h, unsigned *d_out)
{
    size_t mask = m->cap - 1, i = h & mask;
    unsigned d = 1;
    while (m->dist[i] >= d)
        i = (i + 1) & mask, d++;
    *d_out = d;
    return i;
}

/* Moves the run of len entries that ends just before slot end (wrapping)
 * one slot right, each dist + 1.  Copies contiguous pieces with memmove.
 * PRECONDITION: slot end is empty. */
static void rh_shift_right(rh_map *m, size_t end, size_t len)
{
    size_t sb = m->slot_bytes;
    while (len > 0) {
        if (end == 0) { /* the entry in the last slot wraps to slot 0 */
            memcpy(rh_slot(m, 0), rh_slot(m, m->cap - 1), sb);
            m->dist[0] = (uint8_t)(m->dist[m->cap - 1] + 1);
            end = m->cap - 1;
            len--;
            continue;
        }
        size_t n = len < end ? len : end, from = end - n;
        memmove(rh_slot(m, from + 1), rh_slot(m, from), n * sb);
        memmove(m->dist + from + 1, m->dist + from, n);
        for (size_t p = from + 1; p <= end; p++)
            m->dist[p]++;
        end = from;
        len -= n;
    }
}

/* Moves the run of len entries that starts at slot start (wrapping) one slot
 * left, each dist - 1, and empties the slot the run's last entry left.
 * PRECONDITION: every entry of the run has dist >= 2. */
static void rh_shift_left(rh_map *m, size_t start, size_t len)
{
    size_t sb = m->slot_bytes, mask = m->cap - 1;
    size_t last = (start + len - 1) & mask;
    while (len > 0) {
        if (start == 0) { /* the entry in slot 0 wraps to the last slot */
            memcpy(rh_slot(m, m->cap - 1), rh_slot(m, 0), sb);
            m->dist[m->cap - 1] = (uint8_t)(m->dist[0] - 1);
            start = 1;
            len--;
            continue;
        }
        size_t n = len < m->cap - start ? len : m->cap - start;
        memmove(rh_slot(m, start - 1), rh_slot(m, start), n * sb);
        memmove(m->dist + start - 1, m->dist + start, n);
        for (size_t p = start - 1; p < start - 1 + n; p++)
            m->dist[p]--;
        start = (start + n) & mask;
        len -= n;
    }
    m->dist[last] = 0;
}

/* Puts (key, val) at slot i with dist d, shifting the run that starts at i
 * right by one.  Returns 0, or RH_OVERFLOW with the map unchanged when d or a
 * shifted entry's dist would exceed RH_DIST_MAX.
 * PRECONDITION: i, d come from rh_seek; the table has an empty slot. */
static int rh_place(rh_map *m, size_t i, unsigned d, const void *key, const void *val)
{
    size_t mask = m->cap - 1, j = i, len = 0;
    if (d > RH_DIST_MAX)
        return RH_OVERFLOW;
    for (; m->dist[j] != 0; j = (j + 1) & mask, len++)
        if (m->dist[j] == RH_DIST_MAX)
            return RH_OVERFLOW;
    rh_shift_right(m, j, len); /* [i, j) to [i + 1, j] */
    m->dist[i] = (uint8_t)d;
    memcpy(rh_slot(m, i), key, m->key_bytes);
    memcpy(rh_slot(m, i) + m->key_bytes, val, m->val_bytes);
    return 0;
}

/* ---- grow / shrink -------------------------------------------------------- */

/* Rebuilds the table at new_cap.  Returns 0, MB_ENOMEM or RH_OVERFLOW; on
 * either failure the map is unchanged. */
static int rh_resize(rh_map *m, size_t new_cap)
{
    size_t bytes = rh_block_bytes(new_cap, m->slot_bytes);
    uint8_t *dist = mb_alloc_bytes(&m->alloc, bytes, 8);
    if (!dist)
        return MB_ENOMEM;
    memset(dist, 0, new_cap);

    rh_map next = *m;
    next.cap = new_cap;
    next.dist = dist;
    next.slots = dist + rh_dist_bytes(new_cap);
    next.block_bytes = bytes;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->dist[i] == 0)
            continue;
        const unsigned char *s = rh_slot(m, i);
        unsigned d;
        size_t j = rh_seek(&next, rh_hash(m, s), &d);
        if (rh_place(&next, j, d, s, s + m->key_bytes) != 0) {
            mb_free_bytes(&m->alloc, dist, bytes, 8);
            return RH_OVERFLOW;
        }
    }
    mb_free_bytes(&m->alloc, m->dist, m->block_bytes, 8);
    if (new_cap > m->cap)
        next.grow_events++;
    else if (new_cap < m->cap)
        next.shrink_events++;
    *m = next;
    return 0;
}

/* Doubles the capacity (more than once if distances overflow on the way).
 * Returns 0 or MB_ENOMEM (map unchanged). */
static int rh_grow(rh_map *m)
{
    size_t lim = rh_cap_limit(m->slot_bytes);
    for (size_t cap = m->cap * 2; cap <= lim; cap *= 2) {
        int rc = rh_resize(m, cap);
        if (rc != RH_OVERFLOW)
            return rc;
    }
    return MB_ENOMEM;
}

static void rh_maybe_shrink(rh_map *m)
{
    if (m->shrink != MB_SHRINK_LOW_WATER || m->cap <= RH_MIN_CAP || m->count >= m->cap / 8)
        return;
    size_t cap = RH_MIN_CAP;
    while (cap / 2 < m->count)
        cap *= 2;
    if (cap < m->cap)
        (void)rh_resize(m, cap); /* on ENOMEM or overflow it simply stays larger */
}

/* ---- ops ------------------------------------------------------------------ */

static void *rh_create(const mb_alloc *a, const mb_map_config *cfg)
{
    size_t slot_bytes = cfg->key_bytes + cfg->val_bytes;
    size_t cap = rh_cap_for(cfg->capacity_hint, slot_bytes);
    if (cap == 0)
        return NULL;
    rh_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(rh_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->slot_bytes = slot_bytes;
    m->seed = cfg->seed;
    m->shrink = cfg->shrink;
    m->cap = cap;
    m->block_bytes = rh_block_bytes(cap, slot_bytes);
    m->dist = mb_alloc_bytes(a, m->block_bytes, 8);
    if (!m->dist) {
        mb_free_bytes(a, m, sizeof *m, _Alignof(rh_map));
        return NULL;
    }
    memset(m->dist, 0, cap);
    m->slots = m->dist + rh_dist_bytes(cap);
    return m;
}

static void rh_destroy(void *mp)
{
    rh_map *m = mp;
    mb_alloc a = m->alloc;
    mb_free_bytes(&a, m->dist, m->block_bytes, 8);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(rh_map));
}

static int rh_insert(void *mp, const void *key, const void *val)
{
    rh_map *m = mp;
    uint64_t h = rh_hash(m, key);
    size_t mask = m->cap - 1, i = h & mask;
    unsigned d = 1;

    for (;; d++, i = (i + 1) & mask) {
        unsigned c = m->dist[i];
        if (c < d)
            break;
        if (c == d && mb_key_eq(rh_slot(m, i), key, m->key_bytes)) {
            memcpy(rh_slot(m, i) + m->key_bytes, val, m->val_bytes);
            return MB_REPLACED;
        }
    }
    /* absent: i, d is where it goes, unless the table must grow first */
    if (m->count + 1 > rh_max_count(m->cap)) {
        if (rh_grow(m) != 0)
            return MB_ENOMEM;
        i = rh_seek(m, h, &d);
    }
    while (rh_place(m, i, d, key, val) != 0) {
        if (rh_grow(m) != 0)
            return MB_ENOMEM;
        i = rh_seek(m, h, &d);
    }
    m->count++;
    return MB_INSERTED;
}

static int rh_lookup(void *mp, const void *key, void *val_out)
{
    rh_map *m = mp;
    size_t i = rh_find(m, key, rh_hash(m, key));
    if (i == SIZE_MAX)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, rh_slot(m, i) + m->key_bytes, m->val_bytes);
    return MB_FOUND;
}

static int rh_remove(void *mp, const void *key)
{
    rh_map *m = mp;
    size_t i = rh_find(m, key, rh_hash(m, key));
    if (i == SIZE_MAX)
        return MB_NOTFOUND;
    /* backward shift: pull the run after i left until an empty or home slot */
    size_t mask = m->cap - 1, j = (i + 1) & mask, len = 0;
    for (; m->dist[j] > 1; j = (j + 1) & mask)
        len++;
    if (len)
        rh_shift_left(m, (i + 1) & mask, len);
    else
        m->dist[i] = 0;
    m->count--;
    rh_maybe_shrink(m);
    return MB_FOUND;
}

static void rh_clear(void *mp)
{
    rh_map *m = mp;
    memset(m->dist, 0, m->cap);
    m->count = 0;
}

static int rh_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    rh_map *m = mp;
    int r = 0;
    for (size_t i = 0; i < m->cap && r == 0; i++)
        if (m->dist[i] != 0)
            r = fn(ud, rh_slot(m, i), rh_slot(m, i) + m->key_bytes);
    return r;
}

static void rh_stats(const void *mp, mb_map_stats *out)
{
    const rh_map *m = mp;
    size_t total = 0;
    mb_stats_init(out);
    out->count = m->count;
    out->capacity = m->cap;
    out->tombstones = 0; /* by design: backward-shift delete leaves none */
    out->max_probe = 0;
    for (size_t i = 0; i < m->cap; i++) {
        size_t d = m->dist[i];
        total += d;
        if (d > out->max_probe)
            out->max_probe = d;
    }
    out->mean_probe = m->count ? (double)total / (double)m->count : 0.0;
    out->grow_events = m->grow_events;
    out->shrink_events = m->shrink_events;
    out->rehash_events = 0; /* never rebuilds at the same size */
    out->bytes = sizeof *m + m->block_bytes;
}

/* ---- check ---------------------------------------------------------------- */

static const char *rh_check(const void *mp)
{
    const rh_map *m = mp;
    size_t full = 0, mask = m->cap - 1;

    if (m->cap < RH_MIN_CAP || (m->cap & mask) != 0)
        return "capacity is not a power of two >= RH_MIN_CAP";
    if (m->block_bytes != rh_block_bytes(m->cap, m->slot_bytes))
        return "block_bytes does not match capacity";
    if (m->slots != m->dist + rh_dist_bytes(m->cap))
        return "slots do not follow the distance bytes";
    for (size_t i = 0; i < m->cap; i++) {
        unsigned d = m->dist[i];
        if (m->dist[(i + 1) & mask] > d + 1)
            return "Robin Hood order broken: dist[i+1] > dist[i] + 1";
        if (d == 0)
            continue;
        full++;
        const unsigned char *k = rh_slot(m, i);
        uint64_t h = rh_hash(m, k);
        if (((i - (h & mask)) & mask) + 1 != d)
            return "a stored distance differs from the slot's real distance from home";
        if (rh_find(m, k, h) != i)
            return "a key is stored twice";
    }
    if (full != m->count)
        return "count does not match full slots";
    if (full > rh_max_count(m->cap))
        return "count exceeds the max load";
    return NULL;
}

const mb_map_ops mb_oa_robinhood_ops = {
    .name = "oa_robinhood",
    .family = "open-addressing",
    .traits = "robin-hood,backward-shift-delete,no-tombstones,clear-keeps-capacity",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_SHRINK | MB_F_OWN_ALLOC,
    .create = rh_create,
    .destroy = rh_destroy,
    .insert = rh_insert,
    .lookup = rh_lookup,
    .remove = rh_remove,
    .clear = rh_clear,
    .iterate = rh_iterate,
    .stats = rh_stats,
    .check = rh_check,
};
