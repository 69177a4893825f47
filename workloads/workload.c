/* workload.c — see workload.h. */
#include "workload.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t mb_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t mb_key_at(const mb_stream *s, uint64_t i)
{
    if (s->dist == MB_DIST_SEQUENTIAL || s->dist == MB_DIST_SHUFFLED)
        return i;
    /* splitmix64's output function is a bijection of its state, and the
     * state is seed + (i + 1) * gamma, itself a bijection of i. */
    uint64_t state = s->seed + i * 0x9e3779b97f4a7c15ULL;
    return mb_splitmix64(&state);
}

uint64_t mb_val_for(uint64_t k)
{
    return k * 0xd6e8feb86659fd93ULL + 0x2545f4914f6cdd1dULL;
}

void mb_fill_bytes(uint64_t x, unsigned char *out, size_t n)
{
    uint64_t st = x;
    memcpy(out, &x, 8);
    for (size_t i = 8; i < n; i += 8) {
        uint64_t w = mb_splitmix64(&st);
        memcpy(out + i, &w, n - i < 8 ? n - i : 8);
    }
}

int mb_decode_bytes(const unsigned char *p, size_t n, uint64_t *x)
{
    unsigned char buf[MB_VAL_MAX_BYTES > MB_KEY_MAX_BYTES ? MB_VAL_MAX_BYTES : MB_KEY_MAX_BYTES];
    uint64_t v;
    if (n > sizeof buf)
        return -1;
    memcpy(&v, p, 8);
    mb_fill_bytes(v, buf, n);
    if (memcmp(buf, p, n) != 0)
        return -1;
    *x = v;
    return 0;
}

static const char *const phase_names[MB_PHASE_COUNT_] = {
    "insert", "lookup_hit", "lookup_miss", "delete_all", "clear", "mixed_rw",
    "lookup_half_hit", "delete_half", "iterate", "reinsert",
};

const char *mb_phase_name(mb_phase p)
{
    return (unsigned)p < MB_PHASE_COUNT_ ? phase_names[p] : "?";
}

int mb_phase_parse(const char *s)
{
    for (int i = 0; i < MB_PHASE_COUNT_; i++)
        if (strcmp(s, phase_names[i]) == 0)
            return i;
    return -1;
}

size_t mb_map_count(const mb_map_ops *ops, void *m)
{
    mb_map_stats st;
    ops->stats(m, &st);
    return st.count;
}

/* The checksum mixes every answer with its position, so a map that returns
 * the right multiset of answers for the wrong keys still fails. */
static uint64_t wl_mix(uint64_t acc, uint64_t x)
{
    return (acc ^ x) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
}

mb_phase_result mb_run_phase(const mb_map_ops *ops, void *m, const mb_stream *s, mb_phase p,
                             size_t n)
{
    if (p == MB_PHASE_LOOKUP_MISS)
        return mb_run_phase_range(ops, m, s, p, n, 2 * n);
    if (p == MB_PHASE_DELETE_HALF)
        return mb_run_phase_range(ops, m, s, p, 0, n / 2);
    return mb_run_phase_range(ops, m, s, p, 0, n);
}

/* ---- order of the operations ------------------------------------------------ */

/* A keyed bijection of [0, len): a 4-round Feistel network on the smallest
 * even number of bits covering len, cycle-walked back into range (at most
 * ~4 steps on average, since 2^bits < 4 len). */
static uint64_t wl_permute(uint64_t x, uint64_t len, uint64_t seed)
{
    unsigned bits = 2;
    while (bits < 64 && ((uint64_t)1 << bits) < len)
        bits += 2;
    unsigned half = bits / 2;
    uint64_t mask = ((uint64_t)1 << half) - 1;
    do {
        uint64_t l = x >> half, r = x & mask;
        for (unsigned round = 0; round < 4; round++) {
            uint64_t f = mb_hash_u64(r ^ ((uint64_t)round << 56), seed) & mask;
            uint64_t t = r;
            r = l ^ f;
            l = t;
        }
        x = (l << half) | r;
    } while (x >= len);
    return x;
}

/* The key index of the j-th operation of a phase over [begin, end). */
static size_t wl_index(const mb_stream *s, size_t begin, size_t end, size_t j)
{
    if (s->dist == MB_DIST_SHUFFLED)
        return begin + (size_t)wl_permute(j, end - begin, s->seed);
    return begin + j;
}

/* ---- one operation each --------------------------------------------------------- */

static void wl_insert_one(const mb_map_ops *ops, void *m, const mb_stream *s, size_t i,
                          mb_phase_result *r)
{
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    mb_objects *obj = s->objects;
    uint64_t k = mb_key_at(s, i);
    void *o = NULL;
    mb_fill_bytes(k, key, s->key_bytes);
    r->expected = wl_mix(r->expected, MB_INSERTED);
    if (obj) {
        o = mb_alloc_bytes(&obj->alloc, obj->object_bytes, 8);
        if (!o) {
            r->enomem = 1;
            r->checksum = wl_mix(r->checksum, (uint64_t)MB_ENOMEM);
            return;
        }
        mb_fill_bytes(mb_val_for(k), o, obj->object_bytes);
        memcpy(val, &o, sizeof o);
    } else {
        mb_fill_bytes(mb_val_for(k), val, s->val_bytes);
    }
    int rc = ops->insert(m, key, val);
    if (rc == MB_ENOMEM)
        r->enomem = 1;
    if (obj && rc == MB_INSERTED)
        obj->by_index[i] = o;
    else if (obj)
        mb_free_bytes(&obj->alloc, o, obj->object_bytes, 8);
    r->checksum = wl_mix(r->checksum, (uint64_t)rc);
}

/* Looks key i up; hit says whether it must be there. */
static void wl_lookup_one(const mb_map_ops *ops, void *m, const mb_stream *s, size_t i, int hit,
                          mb_phase_result *r)
{
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    uint64_t k = mb_key_at(s, i), v = 0;
    mb_fill_bytes(k, key, s->key_bytes);
    memset(val, 0, s->val_bytes);
    int rc = ops->lookup(m, key, val);
    if (rc == MB_FOUND && s->objects) { /* follow the pointer, as map[int]*T does */
        const unsigned char *o;
        memcpy(&o, val, sizeof o);
        if (!o || mb_decode_bytes(o, s->objects->object_bytes, &v) != 0)
            v = ~mb_val_for(k);
    } else if (rc == MB_FOUND && mb_decode_bytes(val, s->val_bytes, &v) != 0) {
        v = ~mb_val_for(k); /* a torn value: make the checksum fail */
    }
    r->checksum = wl_mix(r->checksum, rc == MB_FOUND ? v ^ 1 : 0);
    r->expected = wl_mix(r->expected, hit ? mb_val_for(k) ^ 1 : 0);
}

static void wl_remove_one(const mb_map_ops *ops, void *m, const mb_stream *s, size_t i,
                          mb_phase_result *r)
{
    unsigned char key[MB_KEY_MAX_BYTES];
    mb_fill_bytes(mb_key_at(s, i), key, s->key_bytes);
    int rc = ops->remove(m, key);
    if (s->objects && rc == MB_FOUND) {
        mb_free_bytes(&s->objects->alloc, s->objects->by_index[i], s->objects->object_bytes, 8);
        s->objects->by_index[i] = NULL;
    }
    r->checksum = wl_mix(r->checksum, (uint64_t)rc);
    r->expected = wl_mix(r->expected, MB_FOUND);
}

typedef struct wl_iter {
    const mb_stream *s;
    uint64_t sum;
    size_t visits;
    int torn;
} wl_iter;

/* Order-independent: the sum of key + value over every visited entry. */
static int wl_visit(void *ud, const void *key, const void *val)
{
    wl_iter *it = ud;
    uint64_t k = 0, v = 0;
    if (mb_decode_bytes(key, it->s->key_bytes, &k) != 0)
        it->torn = 1;
    if (it->s->objects) {
        const unsigned char *o;
        memcpy(&o, val, sizeof o);
        if (!o || mb_decode_bytes(o, it->s->objects->object_bytes, &v) != 0)
            it->torn = 1;
    } else if (mb_decode_bytes(val, it->s->val_bytes, &v) != 0) {
        it->torn = 1;
    }
    it->sum += k * 0x9e3779b97f4a7c15ULL + v;
    it->visits++;
    return 0;
}

/* ---- phases --------------------------------------------------------------------------- */

mb_phase_result mb_run_phase_range(const mb_map_ops *ops, void *m, const mb_stream *s,
                                   mb_phase p, size_t begin, size_t end)
{
    size_t n = end - begin;
    mb_phase_result r = { 0, 0, n, 0, NULL };

    if (s->objects && (end > s->objects->cap || s->val_bytes != sizeof(void *))) {
        r.error = "pointer values: key range beyond the object index, or values not pointers";
        return r;
    }
    switch (p) {
    case MB_PHASE_INSERT:
    case MB_PHASE_REINSERT:
        for (size_t j = 0; j < n; j++)
            wl_insert_one(ops, m, s, wl_index(s, begin, end, j), &r);
        break;
    case MB_PHASE_LOOKUP_HIT:
        for (size_t j = 0; j < n; j++) {
            size_t i = s->hot ? begin + s->hot[j % s->hot_len] % n : wl_index(s, begin, end, j);
            wl_lookup_one(ops, m, s, i, 1, &r);
        }
        break;
    case MB_PHASE_LOOKUP_MISS:
        for (size_t j = 0; j < n; j++)
            wl_lookup_one(ops, m, s, wl_index(s, begin, end, j), 0, &r);
        break;
    case MB_PHASE_LOOKUP_HALF_HIT: /* even ops hit key j, odd ops miss key end + j */
        for (size_t j = 0; j < n; j++) {
            size_t i = wl_index(s, begin, end, j);
            wl_lookup_one(ops, m, s, j % 2 ? i + n : i, j % 2 == 0, &r);
        }
        break;
    case MB_PHASE_DELETE_ALL:
    case MB_PHASE_DELETE_HALF:
        for (size_t j = 0; j < n; j++)
            wl_remove_one(ops, m, s, wl_index(s, begin, end, j), &r);
        break;
    case MB_PHASE_CLEAR:
        ops->clear(m); /* ops stays n: clear is reported per entry cleared */
        if (s->objects)
            mb_objects_free_all(s->objects);
        break;
    case MB_PHASE_ITERATE: {
        wl_iter it = { s, 0, 0, 0 };
        ops->iterate(m, wl_visit, &it);
        uint64_t expect = 0;
        for (size_t i = begin; i < end; i++) {
            uint64_t k = mb_key_at(s, i);
            expect += k * 0x9e3779b97f4a7c15ULL + mb_val_for(k);
        }
        r.checksum = wl_mix(it.sum, it.visits + (size_t)it.torn);
        r.expected = wl_mix(expect, n);
        break;
    }
    default:
        r.error = "phase not runnable here (mixed_rw: mb_run_mixed)";
        return r;
    }
    if (r.checksum != r.expected)
        r.error = r.enomem ? "out of memory during the phase" : "checksum mismatch";
    return r;
}

size_t mb_phase_count_after(mb_phase p, size_t n)
{
    if (p == MB_PHASE_DELETE_ALL || p == MB_PHASE_CLEAR)
        return 0;
    if (p == MB_PHASE_DELETE_HALF)
        return n - n / 2;
    return n;
}

int mb_zipf_init(mb_stream *s, size_t n, double exponent, uint64_t seed)
{
    /* inverse CDF over ranks 1..n, ranks mapped to key indexes by a keyed
     * permutation so the popular keys are not simply the first inserted */
    double *cdf = malloc((n ? n : 1) * sizeof *cdf);
    uint32_t *hot = malloc((n ? n : 1) * sizeof *hot);
    if (!cdf || !hot || n > UINT32_MAX) {
        free(cdf);
        free(hot);
        return MB_ENOMEM;
    }
    double total = 0;
    for (size_t r = 0; r < n; r++)
        cdf[r] = total += 1.0 / pow((double)(r + 1), exponent);
    uint64_t st = seed ^ 0x5a17f00dULL;
    for (size_t j = 0; j < n; j++) {
        double u = (double)(mb_splitmix64(&st) >> 11) * 0x1.0p-53 * total;
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        hot[j] = (uint32_t)wl_permute(lo, n, seed);
    }
    free(cdf);
    s->hot = hot;
    s->hot_len = n;
    return 0;
}

void mb_zipf_fini(mb_stream *s)
{
    free((void *)s->hot);
    s->hot = NULL;
    s->hot_len = 0;
}

int mb_objects_init(mb_objects *o, const mb_alloc *a, size_t cap, size_t object_bytes)
{
    o->alloc = *a;
    o->cap = cap;
    o->object_bytes = object_bytes;
    o->by_index = calloc(cap ? cap : 1, sizeof *o->by_index); /* bookkeeping, not counted */
    return o->by_index ? 0 : MB_ENOMEM;
}

void mb_objects_free_all(mb_objects *o)
{
    for (size_t i = 0; i < o->cap; i++)
        if (o->by_index[i]) {
            mb_free_bytes(&o->alloc, o->by_index[i], o->object_bytes, 8);
            o->by_index[i] = NULL;
        }
}

void mb_objects_fini(mb_objects *o)
{
    mb_objects_free_all(o);
    free(o->by_index);
    o->by_index = NULL;
}
