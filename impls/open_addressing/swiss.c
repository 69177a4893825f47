/*
 * swiss — a Swiss table after abseil's raw_hash_set: one control byte per
 * slot, probed 16 at a time with SSE2.  The speed flagship of the suite.
 *
 * Layout: one allocation, the control bytes then the slots (key|value packed,
 * slot_bytes = key_bytes + val_bytes), parallel arrays indexed alike:
 *
 *     ctrl: [0 .. cap-1] one byte per slot
 *           [cap]        SW_SENTINEL
 *           [cap+1 .. cap+15]  clones of ctrl[0 .. 14] (SW_EMPTY past the
 *                        table when cap < 15), so an unaligned 16-byte load at
 *                        any position 0..cap sees the wrapped-around bytes
 *     (padding to 8 bytes)
 *     slots: cap * slot_bytes
 *
 * Capacity is 0 (no allocation: ctrl points at a static group holding one
 * sentinel and 15 empties) or 2^k - 1, so cap is also the probe mask, and a
 * group loaded at position p covers slots (p + bit) & cap: position cap is
 * the sentinel, and the clone at cap + 1 + j wraps to slot j.
 *
 * Control bytes (as int8_t):
 *
 *     SW_EMPTY    0b10000000  -128  never held anything since the last rebuild
 *     SW_DELETED  0b11111110    -2  tombstone
 *     SW_SENTINEL 0b11111111    -1  end of the table, at ctrl[cap]
 *     full        0b0hhhhhhh  0..127  H2 = the low 7 bits of the key's hash
 *
 * Hash split: H1 = hash >> 7 picks the probe start, H2 = hash & 0x7f is the
 * tag.  mb_hash_u64 mixes both ends, so H1 and H2 are independent.
 *
 * Probe rule: group i starts at (H1 + 16 * i * (i + 1) / 2) & cap (triangular
 * steps over groups: with 2^k positions this visits every group start before
 * repeating).  In each group, every byte equal to H2 is a candidate whose key
 * is compared; a group holding an SW_EMPTY ends the probe (the key would have
 * been placed there).  A lookup touches 1 group and ~1 slot on average.
 *
 * Insert: probe for the key; if absent, take the first EMPTY or DELETED
 * byte on the probe sequence (from the very group the probe ended in when
 * that was the first one, the usual case, without probing again).
 *
 * Tombstone rule (abseil's "was never full"): remove writes SW_EMPTY unless
 * some 16-byte window through the slot might have been seen full by a probe,
 * i.e. unless the non-empty run around the slot (empties after it within the
 * group starting at the slot, before it within the group ending just before
 * it) spans >= 16 bytes; then it writes SW_DELETED.  Tables of one group
 * (cap <= 15) therefore never hold tombstones.
 *
 * Growth accounting: growth_left = cap - cap/8 - count - tombstones is how
 * many EMPTY bytes an insert may still claim.  Max load 7/8, abseil's: at
 * 7/8 a hit still loads 1.08 groups on average (15 at worst in 2^20 slots),
 * so a higher load buys little memory for longer miss probes.  Claiming a
 * DELETED byte does not consume growth.  When an insert needs an EMPTY byte
 * and growth_left is 0: if cap > 16 and count <= 25/32 of cap, tombstones are
 * what fill the table and it is rebuilt in place ("drop deletes without
 * resize": no allocation, cannot fail); otherwise the capacity doubles
 * (cap * 2 + 1).  If that allocation fails but tombstones exist, the in-place
 * rebuild is used instead; else the insert returns MB_ENOMEM, map unchanged.
 *
 * Capacity hint: the smallest 2^k - 1 whose growth holds the hint.
 *
 * Shrink (MB_SHRINK_LOW_WATER only): when a remove leaves count below cap/8,
 * the table is rebuilt at the smallest capacity holding count at load <= 1/2
 * (an empty map drops its table: cap 0).  If the allocation fails, the table
 * stays larger and valid.
 *
 * clear() keeps the capacity (resets the control bytes).
 *
 * Specialisation: each op tests the map's shape once; u64 -> u64 runs the
 * always-inline body with key and slot sizes as constants (the key compares
 * as one uint64_t, slot offsets are shifts), and the other shapes (u64 ->
 * 64-byte values, string keys) go to an out-of-line copy of the same body,
 * so the u64 path keeps a lean frame.  The test is the same on every call of
 * a map and the predictor learns it: against calling the constant-size body
 * directly (what a per-map function pointer chosen at create would give,
 * minus the extra indirect call) it measured no difference at N = 1e6.
 * The resize loop is specialised the same way.  No prefetching: prefetching
 * the group's slot lines alongside the control bytes did not measure faster.
 *
 * Measured (callgrind, N = 1e5 uniform u64 -> u64, whole lookup phase with the
 * workload's own key generation): 164.5 instructions per hit and 85.0 per
 * miss against absl::flat_hash_map's 174.5 and 92.0.  With murmur3's fmix64
 * as the shared hash (before mb_hash_u64 took abseil's one-multiply mixer)
 * swiss was ~10% slower than absl on hits; with the same kind of mixer it is
 * on par or ahead.
 *
 * stats(): max_probe and mean_probe count the groups a hit loads (1 = found
 * in its first group), not slots.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../mb_map.h"

#define SW_GROUP 16u               /* control bytes per probe step */
#define SW_CLONED (SW_GROUP - 1u)  /* clones after the sentinel */
#define SW_SLOT_MAX (MB_KEY_MAX_BYTES + MB_VAL_MAX_BYTES)
#define SW_INLINE static inline __attribute__((always_inline))

typedef int8_t sw_ctrl;

enum {
    SW_EMPTY = -128,   /* 0b10000000 */
    SW_DELETED = -2,   /* 0b11111110 */
    SW_SENTINEL = -1,  /* 0b11111111 */
};

/* A map's key/value shape, fixed at create: picks the specialised body. */
typedef enum sw_shape { SW_K8V8 = 0, SW_K8V64 = 1, SW_GENERIC = 2 } sw_shape;

typedef struct sw_map {
    /* hot: read by every op */
    sw_ctrl *ctrl;        /* cap + 16 control bytes, or sw_empty_group */
    unsigned char *slots; /* cap slots after the control bytes */
    size_t cap;           /* 0 or 2^k - 1; the probe mask */
    size_t count;         /* full slots */
    size_t growth_left;   /* EMPTY bytes inserts may still claim */
    uint64_t seed;
    sw_shape shape;
    mb_shrink_policy shrink;
    /* cold */
    size_t key_bytes, val_bytes, slot_bytes;
    size_t block_bytes;   /* size of the ctrl+slots allocation; 0 when cap == 0 */
    size_t grow_events, shrink_events, rehash_events;
    mb_alloc alloc;
} sw_map;

/* The table of a map with cap 0: a sentinel (position 0 = cap) and empties,
 * so a lookup ends in its first group and an insert sees growth_left 0.
 * Never written. */
static const sw_ctrl sw_empty_group[SW_GROUP] __attribute__((aligned(16))) = {
    SW_SENTINEL, SW_EMPTY, SW_EMPTY, SW_EMPTY, SW_EMPTY, SW_EMPTY, SW_EMPTY, SW_EMPTY,
    SW_EMPTY,    SW_EMPTY, SW_EMPTY, SW_EMPTY, SW_EMPTY, SW_EMPTY, SW_EMPTY, SW_EMPTY,
};

/* ---- layout ------------------------------------------------------------- */

static bool sw_is_full(sw_ctrl c)
{
    return c >= 0;
}

/* Returns how many entries a table of cap slots may hold: 7/8 of it (all of
 * it below 8 slots, where a group load always also sees the empty bytes past
 * the clones, so a probe still ends). */
static size_t sw_growth(size_t cap)
{
    return cap - cap / 8;
}

static size_t sw_ctrl_bytes(size_t cap)
{
    return (cap + 1 + SW_CLONED + 7) & ~(size_t)7;
}

static size_t sw_block_bytes(size_t cap, size_t slot_bytes)
{
    return cap ? sw_ctrl_bytes(cap) + cap * slot_bytes : 0;
}

/* Returns the largest capacity this map will ask for, so that a block's size
 * never overflows a size_t. */
static size_t sw_cap_limit(size_t slot_bytes)
{
    size_t lim = ((size_t)1 << (sizeof(size_t) * 8 - 2)) - 1;
    while (lim > SW_GROUP && lim > (SIZE_MAX / 2) / (slot_bytes + 1))
        lim /= 2;
    return lim;
}

/* Returns the smallest capacity (0 or 2^k - 1) whose growth holds n entries,
 * or SIZE_MAX when n is beyond any capacity this map can allocate. */
static size_t sw_cap_for(size_t n, size_t slot_bytes)
{
    size_t cap = 0, lim = sw_cap_limit(slot_bytes);
    while (sw_growth(cap) < n) {
        if (cap >= lim)
            return SIZE_MAX;
        cap = cap * 2 + 1;
    }
    return cap;
}

/* Sets ctrl[i] and its clone in a table of capacity cap.  For i >= 15 the
 * second store hits ctrl[i] again; for i < 15 it hits ctrl[cap + 1 + i]
 * (abseil's formula, which also holds for cap < 15).  Takes the array and
 * capacity rather than the map: a char store may alias any field, and the
 * hot paths should not reload them. */
SW_INLINE void sw_set_ctrl_at(sw_ctrl *ctrl, size_t cap, size_t i, sw_ctrl c)
{
    ctrl[i] = c;
    ctrl[((i - SW_CLONED) & cap) + (SW_CLONED & cap)] = c;
}

SW_INLINE void sw_set_ctrl(sw_map *m, size_t i, sw_ctrl c)
{
    sw_set_ctrl_at(m->ctrl, m->cap, i, c);
}

/* Empties every control byte of a table with cap > 0 and places the sentinel. */
static void sw_reset_ctrl(sw_ctrl *ctrl, size_t cap)
{
    memset(ctrl, SW_EMPTY, cap + 1 + SW_CLONED);
    ctrl[cap] = SW_SENTINEL;
}

/* ---- group matching ------------------------------------------------------- */

/* Each match returns a 16-bit mask: bit b is set when byte b of the group
 * (position p + b) qualifies. */
#if defined(__SSE2__)

typedef __m128i sw_group;

SW_INLINE sw_group sw_group_load(const sw_ctrl *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

SW_INLINE uint32_t sw_match_tag(sw_group g, sw_ctrl h2)
{
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_set1_epi8(h2), g));
}

SW_INLINE uint32_t sw_match_empty(sw_group g)
{
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_set1_epi8(SW_EMPTY), g));
}

/* EMPTY (-128) and DELETED (-2) are the bytes below SENTINEL (-1). */
SW_INLINE uint32_t sw_match_empty_or_deleted(sw_group g)
{
    return (uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_set1_epi8(SW_SENTINEL), g));
}

/* Full bytes are the ones with the top bit clear. */
SW_INLINE uint32_t sw_match_full(sw_group g)
{
    return (uint32_t)_mm_movemask_epi8(g) ^ 0xffffu;
}

#else /* portable fallback: a plain loop over 16 bytes */

typedef struct sw_group { sw_ctrl b[SW_GROUP]; } sw_group;

SW_INLINE sw_group sw_group_load(const sw_ctrl *p)
{
    sw_group g;
    memcpy(g.b, p, SW_GROUP);
    return g;
}

SW_INLINE uint32_t sw_match_tag(sw_group g, sw_ctrl h2)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < SW_GROUP; i++)
        r |= (uint32_t)(g.b[i] == h2) << i;
    return r;
}

SW_INLINE uint32_t sw_match_empty(sw_group g)
{
    return sw_match_tag(g, SW_EMPTY);
}

SW_INLINE uint32_t sw_match_empty_or_deleted(sw_group g)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < SW_GROUP; i++)
        r |= (uint32_t)(g.b[i] < SW_SENTINEL) << i;
    return r;
}

SW_INLINE uint32_t sw_match_full(sw_group g)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < SW_GROUP; i++)
        r |= (uint32_t)(g.b[i] >= 0) << i;
    return r;
}

#endif

SW_INLINE unsigned sw_lowest(uint32_t mask)
{
    return (unsigned)__builtin_ctz(mask);
}

/* Leading zeros of a nonzero 16-bit mask. */
SW_INLINE unsigned sw_leading16(uint32_t mask)
{
    return (unsigned)__builtin_clz(mask) - 16u;
}

/* ---- probe ---------------------------------------------------------------- */

SW_INLINE uint64_t sw_hash_kb(const sw_map *m, const void *key, size_t kb)
{
    return mb_hash_key(key, kb, m->seed);
}

SW_INLINE sw_ctrl sw_h2(uint64_t h)
{
    return (sw_ctrl)(h & 0x7f);
}

SW_INLINE size_t sw_h1(uint64_t h)
{
    return (size_t)(h >> 7);
}

/* Returns the slot holding key (hash h), or SIZE_MAX.  kb, sb are the key and
 * slot sizes (constants in the specialised callers). */
SW_INLINE size_t sw_find_kb(const sw_map *m, const void *key, uint64_t h, size_t kb, size_t sb)
{
    const sw_ctrl *ctrl = m->ctrl;
    const unsigned char *slots = m->slots;
    size_t mask = m->cap, offset = sw_h1(h) & mask, step = 0;
    sw_ctrl h2 = sw_h2(h);
    if (mask > SIZE_MAX / 4)
        __builtin_unreachable(); /* sw_cap_limit: so no slot index is SIZE_MAX */
    for (;;) {
        sw_group g = sw_group_load(ctrl + offset);
        for (uint32_t match = sw_match_tag(g, h2); match; match &= match - 1) {
            size_t i = (offset + sw_lowest(match)) & mask;
            if (__builtin_expect(mb_key_eq(slots + i * sb, key, kb), 1))
                return i;
        }
        if (__builtin_expect(sw_match_empty(g) != 0, 1))
            return SIZE_MAX;
        step += SW_GROUP;
        offset = (offset + step) & mask;
    }
}

/* Returns the first EMPTY or DELETED slot on the probe sequence of hash h.
 * PRECONDITION: the table has one (cap > 0 and growth was accounted). */
static size_t sw_find_first_non_full(const sw_map *m, uint64_t h)
{
    size_t mask = m->cap, offset = sw_h1(h) & mask, step = 0;
    for (;;) {
        uint32_t free_mask = sw_match_empty_or_deleted(sw_group_load(m->ctrl + offset));
        if (free_mask)
            return (offset + sw_lowest(free_mask)) & mask;
        step += SW_GROUP;
        offset = (offset + step) & mask;
    }
}

/* Returns the groups a probe for hash h loads to reach slot i (1 = the first). */
static size_t sw_probe_groups(const sw_map *m, uint64_t h, size_t i)
{
    size_t mask = m->cap, offset = sw_h1(h) & mask, step = 0, groups = 1;
    while (((i - offset) & mask) >= SW_GROUP) {
        step += SW_GROUP;
        offset = (offset + step) & mask;
        groups++;
    }
    return groups;
}

/* ---- grow / rehash / shrink ------------------------------------------------ */

/* Moves every entry of from into to, a fresh table (no tombstones) with room
 * for them.  kb, sb: key and slot sizes (constants in the specialised
 * callers).  Reads from's control bytes 16 at a time. */
SW_INLINE void sw_transfer_kv(const sw_map *from, sw_map *to, size_t kb, size_t sb)
{
    const sw_ctrl *old_ctrl = from->ctrl;
    const unsigned char *old_slots = from->slots;
    sw_ctrl *ctrl = to->ctrl;
    unsigned char *slots = to->slots;
    size_t old_cap = from->cap, mask = to->cap;
    for (size_t base = 0; base < old_cap; base += SW_GROUP) {
        uint32_t full = sw_match_full(sw_group_load(old_ctrl + base));
        if (old_cap - base < SW_GROUP)
            full &= (1u << (old_cap - base)) - 1; /* not the sentinel or clones */
        for (; full; full &= full - 1) {
            const unsigned char *s = old_slots + (base + sw_lowest(full)) * sb;
            uint64_t h = mb_hash_key(s, kb, from->seed);
            size_t offset = sw_h1(h) & mask, step = 0;
            uint32_t free_mask;
            while (!(free_mask = sw_match_empty(sw_group_load(ctrl + offset)))) {
                step += SW_GROUP;
                offset = (offset + step) & mask;
            }
            size_t j = (offset + sw_lowest(free_mask)) & mask;
            sw_set_ctrl_at(ctrl, mask, j, sw_h2(h));
            memcpy(slots + j * sb, s, sb);
        }
    }
}

static void sw_transfer(const sw_map *from, sw_map *to)
{
    if (from->shape == SW_K8V8)
        sw_transfer_kv(from, to, 8, 16);
    else if (from->shape == SW_K8V64)
        sw_transfer_kv(from, to, 8, 72);
    else
        sw_transfer_kv(from, to, from->key_bytes, from->slot_bytes);
}

/* Rebuilds the table at new_cap (0 or 2^k - 1, with room for count).
 * Returns 0, or MB_ENOMEM with the map unchanged. */
static int sw_resize(sw_map *m, size_t new_cap)
{
    size_t bytes = sw_block_bytes(new_cap, m->slot_bytes);
    sw_map next = *m;
    next.cap = new_cap;
    next.block_bytes = bytes;
    if (new_cap == 0) {
        next.ctrl = (sw_ctrl *)sw_empty_group; /* never written while cap == 0 */
        next.slots = NULL;
    } else {
        next.ctrl = mb_alloc_bytes(&m->alloc, bytes, SW_GROUP);
        if (!next.ctrl)
            return MB_ENOMEM;
        next.slots = (unsigned char *)next.ctrl + sw_ctrl_bytes(new_cap);
        sw_reset_ctrl(next.ctrl, new_cap);
    }
    sw_transfer(m, &next);
    if (m->cap)
        mb_free_bytes(&m->alloc, m->ctrl, m->block_bytes, SW_GROUP);
    next.growth_left = sw_growth(new_cap) - m->count;
    if (new_cap > m->cap)
        next.grow_events++;
    else if (new_cap < m->cap)
        next.shrink_events++;
    *m = next;
    return 0;
}

/* Rebuilds the table in place, turning every tombstone back into growth
 * (abseil's drop_deletes_without_resize).  Allocates nothing.
 *   - every DELETED byte becomes EMPTY, every full byte DELETED ("to do");
 *   - each "to do" slot goes to the first non-full slot of its probe: it
 *     stays if that is in its current group, moves if the target is EMPTY,
 *     and swaps with the target (then that slot is redone) if it is "to do".
 * PRECONDITION: cap > 16. */
static void sw_drop_deletes(sw_map *m)
{
    size_t cap = m->cap, sb = m->slot_bytes;
    unsigned char tmp[SW_SLOT_MAX];
    for (size_t i = 0; i < cap; i++)
        m->ctrl[i] = sw_is_full(m->ctrl[i]) ? SW_DELETED : SW_EMPTY;
    for (size_t j = 0; j < SW_CLONED; j++)
        m->ctrl[cap + 1 + j] = m->ctrl[j];
    m->ctrl[cap] = SW_SENTINEL;

    for (size_t i = 0; i < cap; i++) {
        if (m->ctrl[i] != SW_DELETED)
            continue;
        unsigned char *s = m->slots + i * sb;
        uint64_t h = mb_hash_key(s, m->key_bytes, m->seed);
        size_t target = sw_find_first_non_full(m, h);
        size_t start = sw_h1(h) & cap;
        if (((target - start) & cap) / SW_GROUP == ((i - start) & cap) / SW_GROUP) {
            sw_set_ctrl(m, i, sw_h2(h)); /* already in the best group */
            continue;
        }
        unsigned char *t = m->slots + target * sb;
        if (m->ctrl[target] == SW_EMPTY) {
            sw_set_ctrl(m, target, sw_h2(h));
            memcpy(t, s, sb);
            sw_set_ctrl(m, i, SW_EMPTY);
        } else { /* a "to do" slot: swap, then redo slot i */
            sw_set_ctrl(m, target, sw_h2(h));
            memcpy(tmp, t, sb);
            memcpy(t, s, sb);
            memcpy(s, tmp, sb);
            i--;
        }
    }
    m->growth_left = sw_growth(cap) - m->count;
    m->rehash_events++;
}

/* Makes growth_left > 0.  Returns 0 or MB_ENOMEM (map unchanged). */
static __attribute__((noinline)) int sw_rehash_and_grow(sw_map *m)
{
    bool has_tombs = sw_growth(m->cap) - m->count - m->growth_left > 0;
    if (m->cap > SW_GROUP && has_tombs && (uint64_t)m->count * 32 <= (uint64_t)m->cap * 25) {
        sw_drop_deletes(m);
        return 0;
    }
    if (m->cap >= sw_cap_limit(m->slot_bytes) || sw_resize(m, m->cap * 2 + 1) != 0) {
        if (m->cap > SW_GROUP && has_tombs) {
            sw_drop_deletes(m); /* no memory to grow, but tombstones to reclaim */
            return 0;
        }
        return MB_ENOMEM;
    }
    return 0;
}

static void sw_maybe_shrink(sw_map *m)
{
    if (m->shrink != MB_SHRINK_LOW_WATER || m->count >= m->cap / 8)
        return;
    size_t cap = 0;
    while (cap / 2 < m->count)
        cap = cap * 2 + 1;
    if (cap < m->cap)
        (void)sw_resize(m, cap); /* on ENOMEM the table simply stays larger */
}

/* ---- ops bodies, specialised by key/value size ----------------------------- */

SW_INLINE int sw_lookup_kv(sw_map *m, const void *key, void *val_out, size_t kb, size_t vb)
{
    size_t i = sw_find_kb(m, key, sw_hash_kb(m, key, kb), kb, kb + vb);
    if (i == SIZE_MAX)
        return MB_NOTFOUND;
    if (val_out)
        memcpy(val_out, m->slots + i * (kb + vb) + kb, vb);
    return MB_FOUND;
}

/* Stores (key, val) with hash h in free slot i, claiming growth if EMPTY. */
SW_INLINE void sw_put(sw_map *m, size_t i, uint64_t h, const void *key, const void *val,
                      size_t kb, size_t vb)
{
    sw_ctrl *ctrl = m->ctrl;
    size_t cap = m->cap;
    unsigned char *s = m->slots + i * (kb + vb);
    m->growth_left -= ctrl[i] == SW_EMPTY;
    m->count++;
    sw_set_ctrl_at(ctrl, cap, i, sw_h2(h));
    memcpy(s, key, kb);
    memcpy(s + kb, val, vb);
}

/* The insert of an absent key that needs an EMPTY byte when growth_left is
 * 0: rehash or grow, then place it.  Out of line: it is rare, and keeping
 * its call out of the hot path keeps that path free of saved registers. */
static __attribute__((noinline)) int sw_insert_grow(sw_map *m, uint64_t h, const void *key,
                                                    const void *val)
{
    if (sw_rehash_and_grow(m) != 0)
        return MB_ENOMEM;
    sw_put(m, sw_find_first_non_full(m, h), h, key, val, m->key_bytes, m->val_bytes);
    return MB_INSERTED;
}

SW_INLINE int sw_insert_kv(sw_map *m, const void *key, const void *val, size_t kb, size_t vb)
{
    size_t sb = kb + vb;
    uint64_t h = sw_hash_kb(m, key, kb);
    sw_ctrl h2 = sw_h2(h);
    const sw_ctrl *ctrl = m->ctrl;
    unsigned char *slots = m->slots;
    size_t mask = m->cap, offset = sw_h1(h) & mask, step = 0, i;
    sw_group g;

    for (;;) {
        g = sw_group_load(ctrl + offset);
        for (uint32_t match = sw_match_tag(g, h2); match; match &= match - 1) {
            unsigned char *s = slots + ((offset + sw_lowest(match)) & mask) * sb;
            if (__builtin_expect(mb_key_eq(s, key, kb), 1)) {
                memcpy(s + kb, val, vb);
                return MB_REPLACED;
            }
        }
        if (__builtin_expect(sw_match_empty(g) != 0, 1))
            break;
        step += SW_GROUP;
        offset = (offset + step) & mask;
    }
    /* absent: the first free byte on the probe is in the first group when
     * the probe ended there, else probe again for it */
    if (__builtin_expect(step == 0, 1))
        i = (offset + sw_lowest(sw_match_empty_or_deleted(g))) & mask;
    else
        i = sw_find_first_non_full(m, h);
    if (__builtin_expect(m->growth_left == 0 && ctrl[i] != SW_DELETED, 0))
        return sw_insert_grow(m, h, key, val);
    sw_put(m, i, h, key, val, kb, vb);
    return MB_INSERTED;
}

SW_INLINE int sw_remove_kv(sw_map *m, const void *key, size_t kb, size_t vb)
{
    size_t i = sw_find_kb(m, key, sw_hash_kb(m, key, kb), kb, kb + vb);
    if (i == SIZE_MAX)
        return MB_NOTFOUND;
    sw_ctrl *ctrl = m->ctrl;
    size_t cap = m->cap, before = (i - SW_GROUP) & cap;
    uint32_t empty_after = sw_match_empty(sw_group_load(ctrl + i));
    uint32_t empty_before = sw_match_empty(sw_group_load(ctrl + before));
    /* Could a probe window through i have been full?  Only if the non-empty
     * run around i is at least a group long. */
    bool was_never_full = empty_before && empty_after &&
                          sw_lowest(empty_after) + sw_leading16(empty_before) < SW_GROUP;
    m->count--;
    m->growth_left += was_never_full;
    sw_set_ctrl_at(ctrl, cap, i, was_never_full ? SW_EMPTY : SW_DELETED);
    if (__builtin_expect(m->shrink == MB_SHRINK_LOW_WATER, 0))
        sw_maybe_shrink(m);
    return MB_FOUND;
}

/* ---- ops ------------------------------------------------------------------ */

static void *sw_create(const mb_alloc *a, const mb_map_config *cfg)
{
    size_t slot_bytes = cfg->key_bytes + cfg->val_bytes;
    size_t cap = sw_cap_for(cfg->capacity_hint, slot_bytes);
    if (cap == SIZE_MAX)
        return NULL;
    sw_map *m = mb_alloc_bytes(a, sizeof *m, _Alignof(sw_map));
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->alloc = *a;
    m->key_bytes = cfg->key_bytes;
    m->val_bytes = cfg->val_bytes;
    m->slot_bytes = slot_bytes;
    m->seed = cfg->seed;
    m->shrink = cfg->shrink;
    m->shape = cfg->key_bytes != 8 ? SW_GENERIC : cfg->val_bytes == 8 ? SW_K8V8
             : cfg->val_bytes == 64 ? SW_K8V64 : SW_GENERIC;
    m->ctrl = (sw_ctrl *)sw_empty_group;
    if (cap && sw_resize(m, cap) != 0) {
        mb_free_bytes(a, m, sizeof *m, _Alignof(sw_map));
        return NULL;
    }
    m->grow_events = 0; /* sizing to the hint is not a grow */
    return m;
}

static void sw_destroy(void *mp)
{
    sw_map *m = mp;
    mb_alloc a = m->alloc;
    if (m->cap)
        mb_free_bytes(&a, m->ctrl, m->block_bytes, SW_GROUP);
    mb_free_bytes(&a, m, sizeof *m, _Alignof(sw_map));
}

/* The other shapes, out of line so that the u64 -> u64 path keeps a lean
 * frame (no callee-saved registers for the generic memcmp path). */
static __attribute__((noinline)) int sw_insert_other(sw_map *m, const void *key, const void *val)
{
    if (m->shape == SW_K8V64)
        return sw_insert_kv(m, key, val, 8, 64);
    return sw_insert_kv(m, key, val, m->key_bytes, m->val_bytes);
}

static __attribute__((noinline)) int sw_lookup_other(sw_map *m, const void *key, void *val_out)
{
    if (m->shape == SW_K8V64)
        return sw_lookup_kv(m, key, val_out, 8, 64);
    return sw_lookup_kv(m, key, val_out, m->key_bytes, m->val_bytes);
}

static __attribute__((noinline)) int sw_remove_other(sw_map *m, const void *key)
{
    if (m->shape == SW_K8V64)
        return sw_remove_kv(m, key, 8, 64);
    return sw_remove_kv(m, key, m->key_bytes, m->val_bytes);
}

static int sw_insert(void *mp, const void *key, const void *val)
{
    sw_map *m = mp;
    if (__builtin_expect(m->shape == SW_K8V8, 1))
        return sw_insert_kv(m, key, val, 8, 8);
    return sw_insert_other(m, key, val);
}

static int sw_lookup(void *mp, const void *key, void *val_out)
{
    sw_map *m = mp;
    if (__builtin_expect(m->shape == SW_K8V8, 1))
        return sw_lookup_kv(m, key, val_out, 8, 8);
    return sw_lookup_other(m, key, val_out);
}

static int sw_remove(void *mp, const void *key)
{
    sw_map *m = mp;
    if (__builtin_expect(m->shape == SW_K8V8, 1))
        return sw_remove_kv(m, key, 8, 8);
    return sw_remove_other(m, key);
}

static void sw_clear(void *mp)
{
    sw_map *m = mp;
    if (m->cap)
        sw_reset_ctrl(m->ctrl, m->cap);
    m->count = 0;
    m->growth_left = sw_growth(m->cap);
}

static int sw_iterate(void *mp, mb_visit_fn fn, void *ud)
{
    sw_map *m = mp;
    int r = 0;
    for (size_t i = 0; i < m->cap && r == 0; i++)
        if (sw_is_full(m->ctrl[i])) {
            const unsigned char *s = m->slots + i * m->slot_bytes;
            r = fn(ud, s, s + m->key_bytes);
        }
    return r;
}

static void sw_stats(const void *mp, mb_map_stats *out)
{
    const sw_map *m = mp;
    size_t total = 0;
    mb_stats_init(out);
    out->count = m->count;
    out->capacity = m->cap;
    out->tombstones = sw_growth(m->cap) - m->count - m->growth_left;
    out->max_probe = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (!sw_is_full(m->ctrl[i]))
            continue;
        const unsigned char *s = m->slots + i * m->slot_bytes;
        size_t groups = sw_probe_groups(m, mb_hash_key(s, m->key_bytes, m->seed), i);
        total += groups;
        if (groups > out->max_probe)
            out->max_probe = groups;
    }
    out->mean_probe = m->count ? (double)total / (double)m->count : 0.0;
    out->grow_events = m->grow_events;
    out->shrink_events = m->shrink_events;
    out->rehash_events = m->rehash_events;
    out->bytes = sizeof *m + m->block_bytes;
}

/* ---- check ---------------------------------------------------------------- */

static const char *sw_check(const void *mp)
{
    const sw_map *m = mp;
    size_t cap = m->cap, full = 0, tombs = 0;

    if (cap == 0) {
        if (m->ctrl != sw_empty_group || m->block_bytes != 0)
            return "a map of capacity 0 holds a table";
        if (m->count != 0 || m->growth_left != 0)
            return "a map of capacity 0 has entries or growth";
        return NULL;
    }
    if ((cap & (cap + 1)) != 0)
        return "capacity is not 2^k - 1";
    if (m->block_bytes != sw_block_bytes(cap, m->slot_bytes))
        return "block_bytes does not match capacity";
    if (m->slots != (unsigned char *)m->ctrl + sw_ctrl_bytes(cap))
        return "slots do not follow the control bytes";
    if (m->ctrl[cap] != SW_SENTINEL)
        return "sentinel missing at ctrl[cap]";
    for (size_t j = 0; j < SW_CLONED; j++) {
        sw_ctrl want = j < cap ? m->ctrl[j] : SW_EMPTY;
        if (m->ctrl[cap + 1 + j] != want)
            return "a cloned control byte differs from its original";
    }
    for (size_t i = 0; i < cap; i++) {
        sw_ctrl c = m->ctrl[i];
        if (c == SW_DELETED) {
            tombs++;
            continue;
        }
        if (c == SW_EMPTY)
            continue;
        if (!sw_is_full(c))
            return "a control byte is neither EMPTY, DELETED nor full";
        full++;
        const unsigned char *s = m->slots + i * m->slot_bytes;
        uint64_t h = mb_hash_key(s, m->key_bytes, m->seed);
        if (c != sw_h2(h))
            return "a control byte is not the H2 of its slot's key";
        size_t found = sw_find_kb(m, s, h, m->key_bytes, m->slot_bytes);
        if (found == SIZE_MAX)
            return "a key is not findable by the probe from its H1";
        if (found != i)
            return "a key is stored twice";
    }
    if (full != m->count)
        return "count does not match full control bytes";
    if (full + tombs > sw_growth(cap))
        return "entries plus tombstones exceed the max load";
    if (m->growth_left != sw_growth(cap) - full - tombs)
        return "growth_left != growth(cap) - count - tombstones";
    if (tombs && cap <= SW_GROUP)
        return "a table of one group holds a tombstone";
    return NULL;
}

const mb_map_ops mb_swiss_ops = {
    .name = "swiss",
    .family = "open-addressing",
    .traits = "simd-groups,tombstones,in-place-rehash,clear-keeps-capacity",
    .flags = MB_F_STR_KEYS | MB_F_BIG_VALUES | MB_F_SHRINK | MB_F_OWN_ALLOC,
    .create = sw_create,
    .destroy = sw_destroy,
    .insert = sw_insert,
    .lookup = sw_lookup,
    .remove = sw_remove,
    .clear = sw_clear,
    .iterate = sw_iterate,
    .stats = sw_stats,
    .check = sw_check,
};
