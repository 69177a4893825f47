/* workload.c — see workload.h. */
#include "workload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


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
    "lookup_half_hit", "delete_half", "iterate", "reinsert", "lookup_hit_dependent",
    "lookup_hit_cold",
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
    case MB_PHASE_LOOKUP_HIT_DEPENDENT:
    case MB_PHASE_LOOKUP_HIT_COLD: { /* only in the lean form: prepare, run, verify */
        mb_prepared pp;
        if (mb_phase_prepare_range(&pp, ops, s, p, begin, end) == 0)
            mb_phase_run_prepared(&pp, m);
        r = mb_phase_verify(&pp);
        mb_phase_release(&pp);
        return r;
    }
    case MB_PHASE_INSERT:
    case MB_PHASE_REINSERT:
        /* a failed allocation ends the phase at once: no retrying a huge
         * malloc per remaining insert */
        for (size_t j = 0; j < n && !r.enomem; j++)
            wl_insert_one(ops, m, s, wl_index(s, begin, end, j), &r);
        if (r.enomem) {
            r.error = "out of memory during the phase";
            return r;
        }
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

/* ---- lean timed loops (see workload.h) ------------------------------------------------- */

static uint64_t wl_load64(const void *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* The last 8 bytes of a blob of n >= 8 bytes (for n == 8, the blob itself). */
static uint64_t wl_last64(const void *p, size_t n)
{
    return wl_load64((const unsigned char *)p + n - 8);
}

/* The last word of mb_fill_bytes(x, ., n). */
static uint64_t wl_fill_last64(uint64_t x, size_t n)
{
    unsigned char buf[MB_VAL_MAX_BYTES > MB_KEY_MAX_BYTES ? MB_VAL_MAX_BYTES : MB_KEY_MAX_BYTES];
    mb_fill_bytes(x, buf, n);
    return wl_last64(buf, n);
}

size_t mb_cold_target_bytes(void)
{
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    size_t target = llc > 0 ? 2 * (size_t)llc : 0;
    if (target < ((size_t)32 << 20))
        target = (size_t)32 << 20;
    if (target > ((size_t)256 << 20))
        target = (size_t)256 << 20;
    return target;
}

static int wl_is_lookup(mb_phase p)
{
    return p == MB_PHASE_LOOKUP_HIT || p == MB_PHASE_LOOKUP_MISS ||
           p == MB_PHASE_LOOKUP_HALF_HIT || p == MB_PHASE_LOOKUP_HIT_DEPENDENT ||
           p == MB_PHASE_LOOKUP_HIT_COLD;
}

/* The copies' allocator: malloc, with the bytes counted (workloads cannot
 * use the harness's counting allocator; the copies are not measured, only
 * sized). */
struct wl_cold_alloc {
    size_t live_bytes;
};

static void *wl_cold_alloc_fn(void *ctx, size_t size, size_t align)
{
    struct wl_cold_alloc *c = ctx;
    void *p = align <= _Alignof(max_align_t) ? malloc(size ? size : 1)
                                             : aligned_alloc(align, (size + align - 1) & ~(align - 1));
    if (p)
        c->live_bytes += size;
    return p;
}

static void wl_cold_free_fn(void *ctx, void *p, size_t size, size_t align)
{
    struct wl_cold_alloc *c = ctx;
    if (p)
        c->live_bytes -= size;
    free(p);
}

/* Builds lookup_hit_cold's extra copies: as many as the working set needs. */
static int wl_prepare_cold(mb_prepared *pp)
{
    const mb_stream *s = pp->s;
    size_t n = pp->end - pp->begin;
    mb_map_config cfg = { s->key_bytes, s->val_bytes, 0, MB_SHRINK_NEVER, 0, s->seed };
    if (s->objects) {
        pp->error = "lookup_hit_cold: inline values only";
        return MB_ENOMEM;
    }
    pp->cold_alloc = calloc(1, sizeof *pp->cold_alloc);
    if (!pp->cold_alloc) {
        pp->error = "lookup_hit_cold: out of memory for the copies of the map";
        return MB_ENOMEM;
    }
    mb_alloc a = { wl_cold_alloc_fn, wl_cold_free_fn, pp->cold_alloc };
    size_t target = mb_cold_target_bytes(), cap = 1, per_map = 0;
    mb_prepared fill; /* the inserts that fill each copy */
    if (mb_phase_prepare_range(&fill, pp->ops, s, MB_PHASE_INSERT, pp->begin, pp->end) != 0) {
        pp->error = fill.error;
        mb_phase_release(&fill);
        return MB_ENOMEM;
    }
    pp->copies = calloc(cap, sizeof *pp->copies);
    pp->n_copies = 1; /* copies[0]: the caller's map, set by each run */
    /* at most target / (16 bytes x n) copies: a real map holds more than 16
     * bytes per u64 entry, so this bounds only instruments such as the null
     * map, whose few bytes would otherwise ask for millions of copies */
    size_t max_copies = target / (16 * (n ? n : 1));
    max_copies = max_copies < 1 ? 1 : max_copies;
    while (pp->copies) {
        if (pp->n_copies >= max_copies || (per_map && pp->n_copies * per_map >= target))
            break;
        if (pp->n_copies == cap) {
            void **c = realloc(pp->copies, 2 * cap * sizeof *c);
            if (!c)
                break;
            pp->copies = c;
            cap *= 2;
        }
        void *m = pp->ops->create(&a, &cfg);
        if (!m)
            break;
        pp->copies[pp->n_copies++] = m;
        mb_phase_run_prepared(&fill, m);
        if (mb_phase_verify(&fill).error) {
            pp->error = "lookup_hit_cold: building a copy of the map failed";
            break;
        }
        if (!per_map) {
            mb_map_stats st;
            pp->ops->stats(m, &st);
            per_map = pp->cold_alloc->live_bytes;
            if (per_map == 0) /* a map that does not allocate through mb_alloc */
                per_map = st.bytes != MB_NA ? st.bytes : 2 * n * (s->key_bytes + s->val_bytes);
            if (per_map == 0)
                per_map = 1;
        }
    }
    mb_phase_release(&fill);
    if (pp->error)
        return MB_ENOMEM;
    if (!pp->copies || (pp->n_copies < max_copies && pp->n_copies * per_map < target)) {
        pp->error = "lookup_hit_cold: out of memory for the copies of the map";
        return MB_ENOMEM;
    }
    pp->cold_bytes = pp->n_copies * per_map;
    return 0;
}

int mb_phase_prepare_range(mb_prepared *pp, const mb_map_ops *ops, const mb_stream *s,
                           mb_phase p, size_t begin, size_t end)
{
    size_t n = end - begin, kb = s->key_bytes;
    size_t wide = s->objects ? s->objects->object_bytes : s->val_bytes > 8 ? s->val_bytes : 0;
    memset(pp, 0, sizeof *pp);
    pp->check_each = 1; /* the timed callers clear it (workload.h) */
    pp->ops = ops;
    pp->s = s;
    pp->phase = p;
    pp->begin = begin;
    pp->end = end;
    pp->ops_count = n;
    if (s->objects && (end > s->objects->cap || s->val_bytes != sizeof(void *))) {
        pp->error = "pointer values: key range beyond the object index, or values not pointers";
        return MB_ENOMEM;
    }
    if (p == MB_PHASE_CLEAR)
        return 0;
    if (p == MB_PHASE_ITERATE) {
        for (size_t i = begin; i < end; i++) {
            uint64_t k = mb_key_at(s, i), v = mb_val_for(k);
            pp->want_sum += k * 0x9e3779b97f4a7c15ULL + v;
            pp->want_tail_sum += (kb > 8 ? wl_fill_last64(k, kb) : k) +
                                 (wide ? wl_fill_last64(v, wide) : v);
        }
        return 0;
    }
    if (p == MB_PHASE_MIXED_RW || (unsigned)p >= MB_PHASE_COUNT_) {
        pp->error = "phase not runnable here (mixed_rw: mb_run_mixed)";
        return MB_ENOMEM;
    }
    int insert = p == MB_PHASE_INSERT || p == MB_PHASE_REINSERT;
    pp->keys = malloc((n ? n : 1) * kb);
    if (s->objects)
        pp->index = malloc((n ? n : 1) * sizeof *pp->index);
    if (wide && wl_is_lookup(p))
        pp->tail = malloc((n ? n : 1) * sizeof *pp->tail);
    if (wide && insert)
        pp->vals = malloc((n ? n : 1) * wide);
    if (!pp->keys || (s->objects && !pp->index) || (wide && wl_is_lookup(p) && !pp->tail) ||
        (wide && insert && !pp->vals) || (s->objects && end > UINT32_MAX)) {
        pp->error = "out of memory for the prepared keys";
        return MB_ENOMEM;
    }
    for (size_t j = 0; j < n; j++) {
        size_t i;
        int hit = 1;
        if ((p == MB_PHASE_LOOKUP_HIT || p == MB_PHASE_LOOKUP_HIT_DEPENDENT ||
             p == MB_PHASE_LOOKUP_HIT_COLD) && s->hot)
            i = begin + s->hot[j % s->hot_len] % n;
        else
            i = wl_index(s, begin, end, j);
        if (p == MB_PHASE_LOOKUP_HALF_HIT && j % 2) {
            i += n; /* odd operations miss: a key beyond the range */
            hit = 0;
        }
        if (p == MB_PHASE_LOOKUP_MISS)
            hit = 0;
        uint64_t k = mb_key_at(s, i), v = mb_val_for(k);
        mb_fill_bytes(k, pp->keys + j * kb, kb);
        if (pp->index)
            pp->index[j] = (uint32_t)i;
        if (pp->tail)
            pp->tail[j] = wl_fill_last64(v, wide);
        if (pp->vals)
            mb_fill_bytes(v, pp->vals + j * wide, wide);
        pp->zero_value |= v == 0;
        if (p == MB_PHASE_LOOKUP_HIT)
            pp->want_sum += v;
        pp->want_found += hit;
    }
    if (p == MB_PHASE_LOOKUP_HIT_COLD)
        return wl_prepare_cold(pp);
    return 0;
}

int mb_phase_prepare(mb_prepared *pp, const mb_map_ops *ops, const mb_stream *s, mb_phase p,
                     size_t n)
{
    if (p == MB_PHASE_LOOKUP_MISS)
        return mb_phase_prepare_range(pp, ops, s, p, n, 2 * n);
    if (p == MB_PHASE_DELETE_HALF)
        return mb_phase_prepare_range(pp, ops, s, p, 0, n / 2);
    return mb_phase_prepare_range(pp, ops, s, p, 0, n);
}

void mb_phase_release(mb_prepared *pp)
{
    for (size_t c = 1; c < pp->n_copies; c++)
        pp->ops->destroy(pp->copies[c]);
    free(pp->copies);
    free(pp->cold_alloc);
    free(pp->keys);
    free(pp->index);
    free(pp->tail);
    free(pp->vals);
    memset(pp, 0, sizeof *pp);
}

/* The value word a found answer holds: the value itself, or for pointer
 * values the first word of the object it points to (following the pointer,
 * as map[int]*T does).  *last gets the value's (object's) last word. */
static inline uint64_t wl_found_words(const mb_stream *s, const unsigned char *val, uint64_t *last)
{
    if (s->objects) {
        const unsigned char *o;
        memcpy(&o, val, sizeof o);
        if (!o) {
            *last = 0;
            return ~(uint64_t)0; /* not mb_val_for of any key a test would meet by chance */
        }
        *last = wl_last64(o, s->objects->object_bytes);
        return wl_load64(o);
    }
    *last = wl_last64(val, s->val_bytes);
    return wl_load64(val);
}

/* u64 keys and u64 values: the loops the throughput figures come from. */
static void wl_run_lookup_u64(mb_prepared *pp, void *m)
{
    const uint64_t *keys = (const uint64_t *)(void *)pp->keys;
    int (*lookup)(void *, const void *, void *) = pp->ops->lookup;
    size_t n = pp->ops_count, found = 0, bogus = 0, odd_found = 0;
    uint64_t bad = 0, v = 0;
    switch (pp->phase) {
    /* hit and miss: no count at all, every answer must be one value, so one
     * OR proves them all (rc ^ MB_FOUND and rc are 0 exactly when right) */
    case MB_PHASE_LOOKUP_HIT:
        if (!pp->check_each) { /* the timed form: a sum, checked after the loop */
            uint64_t sum = 0;
            for (size_t j = 0; j < n; j++) {
                lookup(m, &keys[j], &v);
                sum += v;
            }
            pp->sum = sum;
            bad = sum ^ pp->want_sum;
        } else if (pp->zero_value) { /* a value 0 is expected: check the answer code too */
            for (size_t j = 0; j < n; j++) {
                int rc = lookup(m, &keys[j], &v);
                bad |= (v ^ mb_val_for(keys[j])) | (uint64_t)(rc ^ MB_FOUND);
            }
        } else { /* 0 is no key's value: a lookup that wrote nothing is wrong */
            for (size_t j = 0; j < n; j++) {
                v = 0;
                lookup(m, &keys[j], &v);
                bad |= v ^ mb_val_for(keys[j]);
            }
        }
        found = pp->want_found; /* bad == 0 proves the answers (workload.h) */
        break;
    case MB_PHASE_LOOKUP_MISS:
        for (size_t j = 0; j < n; j++)
            bad |= (uint64_t)lookup(m, &keys[j], &v); /* MB_NOTFOUND == 0 */
        found = pp->want_found; /* proven by bad == 0, as in hit */
        break;
    case MB_PHASE_LOOKUP_HALF_HIT: /* even operations hit, odd ones miss */
        for (size_t j = 0; j < n; j++) {
            int rc = lookup(m, &keys[j], &v);
            size_t f = rc == MB_FOUND;
            found += f;
            odd_found += f & j;
            bogus += (unsigned)rc > 1u;
            bad |= (v ^ mb_val_for(keys[j])) & -(uint64_t)f;
        }
        break;
    case MB_PHASE_LOOKUP_HIT_DEPENDENT: {
        uint64_t fix = 0; /* v ^ expected of the previous lookup: 0 when it was right */
        for (size_t j = 0; j < n; j++) {
            uint64_t k = keys[j] ^ fix;
            int rc = lookup(m, &k, &v);
            fix = v ^ mb_val_for(keys[j]);
            bad |= fix | (uint64_t)(rc ^ MB_FOUND);
        }
        found = pp->want_found; /* bad == 0 proves every answer was MB_FOUND */
        break;
    }
    case MB_PHASE_LOOKUP_HIT_COLD: {
        void *const *copies = pp->copies;
        size_t c = pp->cursor, nc = pp->n_copies;
        for (size_t j = 0; j < n; j++) {
            int rc = lookup(copies[c], &keys[j], &v);
            bad |= (v ^ mb_val_for(keys[j])) | (uint64_t)(rc ^ MB_FOUND);
            if (++c == nc)
                c = 0;
        }
        found = pp->want_found; /* bad == 0 proves every answer was MB_FOUND */
        pp->cursor = c;
        break;
    }
    default:
        break;
    }
    pp->found = found, pp->bogus = bogus, pp->odd_found = odd_found, pp->bad = bad;
}

/* Any other blueprint: wide keys, wide values, pointer values. */
static void wl_run_lookup_wide(mb_prepared *pp, void *m)
{
    const mb_stream *s = pp->s;
    size_t kb = s->key_bytes, n = pp->ops_count, c = pp->cursor;
    unsigned char val[MB_VAL_MAX_BYTES], key[MB_KEY_MAX_BYTES];
    int half = pp->phase == MB_PHASE_LOOKUP_HALF_HIT, miss = pp->phase == MB_PHASE_LOOKUP_MISS;
    int dep = pp->phase == MB_PHASE_LOOKUP_HIT_DEPENDENT, cold = pp->copies != NULL;
    uint64_t fix = 0, bad = 0;
    size_t found = 0, bogus = 0, odd_found = 0;
    memset(val, 0, sizeof val);
    for (size_t j = 0; j < n; j++) {
        const unsigned char *kp = pp->keys + j * kb;
        uint64_t k0 = wl_load64(kp);
        if (dep) { /* the key depends on the previous answer */
            memcpy(key, kp, kb);
            uint64_t w = k0 ^ fix;
            memcpy(key, &w, 8);
            kp = key;
        }
        void *map = m;
        if (cold) {
            map = pp->copies[c];
            if (++c == pp->n_copies)
                c = 0;
        }
        int rc = pp->ops->lookup(map, kp, val);
        bogus += (unsigned)rc > 1u;
        if (rc != MB_FOUND || miss) {
            found += rc == MB_FOUND;
            fix = 1;
            continue;
        }
        found++;
        odd_found += j & 1;
        uint64_t last, v = wl_found_words(s, val, &last);
        fix = v ^ mb_val_for(k0);
        bad |= fix | (pp->tail ? last ^ pp->tail[j] : 0);
    }
    pp->cursor = c;
    pp->found = found, pp->bogus = bogus, pp->odd_found = half ? odd_found : 0, pp->bad = bad;
}

static void wl_run_insert(mb_prepared *pp, void *m)
{
    const mb_stream *s = pp->s;
    mb_objects *obj = s->objects;
    size_t kb = s->key_bytes, vb = s->val_bytes, n = pp->ops_count, inserted = 0, enomem = 0;
    int (*insert)(void *, const void *, const void *) = pp->ops->insert;
    if (!obj && kb == 8 && vb == 8) {
        const uint64_t *keys = (const uint64_t *)(void *)pp->keys;
        for (size_t j = 0; j < n; j++) {
            uint64_t v = mb_val_for(keys[j]);
            int rc = insert(m, &keys[j], &v);
            if (rc == MB_ENOMEM) { /* the phase ends at the first failed allocation */
                enomem = 1;
                break;
            }
            inserted += rc == MB_INSERTED;
        }
    } else {
        for (size_t j = 0; j < n; j++) {
            const unsigned char *kp = pp->keys + j * kb;
            uint64_t v = mb_val_for(wl_load64(kp));
            const void *vp = &v;
            void *o = NULL;
            if (!obj && vb > 8)
                vp = pp->vals + j * vb;
            if (obj) { /* the object is allocated and written as part of the insert */
                o = mb_alloc_bytes(&obj->alloc, obj->object_bytes, 8);
                if (!o) {
                    enomem = 1;
                    break;
                }
                memcpy(o, pp->vals + j * obj->object_bytes, obj->object_bytes);
                vp = &o;
            }
            int rc = insert(m, kp, vp);
            inserted += rc == MB_INSERTED;
            if (obj && rc == MB_INSERTED)
                obj->by_index[pp->index[j]] = o;
            else if (obj)
                mb_free_bytes(&obj->alloc, o, obj->object_bytes, 8);
            if (rc == MB_ENOMEM) { /* the phase ends at the first failed allocation */
                enomem = 1;
                break;
            }
        }
    }
    pp->inserted = inserted, pp->enomem = enomem;
}

static void wl_run_remove(mb_prepared *pp, void *m)
{
    const mb_stream *s = pp->s;
    size_t kb = s->key_bytes, n = pp->ops_count, found = 0, bogus = 0;
    int (*remove)(void *, const void *) = pp->ops->remove;
    for (size_t j = 0; j < n; j++) {
        int rc = remove(m, pp->keys + j * kb);
        found += rc == MB_FOUND;
        bogus += (unsigned)rc > 1u;
        if (s->objects && rc == MB_FOUND) {
            mb_objects *o = s->objects;
            mb_free_bytes(&o->alloc, o->by_index[pp->index[j]], o->object_bytes, 8);
            o->by_index[pp->index[j]] = NULL;
        }
    }
    pp->found = found, pp->bogus = bogus;
}

/* Order-independent sums over the visited entries: first words and last words. */
static int wl_visit_lean(void *ud, const void *key, const void *val)
{
    mb_prepared *pp = ud;
    const mb_stream *s = pp->s;
    uint64_t k = wl_load64(key), v, last;
    if (s->objects || s->val_bytes > 8) {
        v = wl_found_words(s, val, &last);
    } else {
        v = wl_load64(val);
        last = v;
    }
    pp->sum += k * 0x9e3779b97f4a7c15ULL + v;
    pp->tail_sum += wl_last64(key, s->key_bytes) + last;
    pp->visits++;
    return 0;
}

size_t mb_phase_run_prepared(mb_prepared *pp, void *m)
{
    const mb_stream *s = pp->s;
    pp->found = pp->inserted = pp->enomem = pp->odd_found = pp->bogus = pp->visits = 0;
    pp->bad = pp->sum = pp->tail_sum = 0;
    if (pp->copies)
        pp->copies[0] = m;
    switch (pp->phase) {
    case MB_PHASE_INSERT:
    case MB_PHASE_REINSERT:
        wl_run_insert(pp, m);
        break;
    case MB_PHASE_DELETE_ALL:
    case MB_PHASE_DELETE_HALF:
        wl_run_remove(pp, m);
        break;
    case MB_PHASE_CLEAR:
        pp->ops->clear(m); /* reported per entry cleared */
        if (s->objects)
            mb_objects_free_all(s->objects);
        break;
    case MB_PHASE_ITERATE:
        pp->ops->iterate(m, wl_visit_lean, pp);
        break;
    default:
        if (!wl_is_lookup(pp->phase))
            break;
        if (s->key_bytes == 8 && s->val_bytes == 8 && !s->objects)
            wl_run_lookup_u64(pp, m);
        else
            wl_run_lookup_wide(pp, m);
        break;
    }
    return pp->ops_count;
}

mb_phase_result mb_phase_verify(const mb_prepared *pp)
{
    mb_phase_result r = { 0, 0, pp->ops_count, pp->enomem != 0, NULL };
    size_t n = pp->ops_count;
    if (pp->error) {
        r.error = pp->error;
        return r;
    }
    switch (pp->phase) {
    case MB_PHASE_INSERT:
    case MB_PHASE_REINSERT:
        r.checksum = pp->inserted, r.expected = n;
        if (pp->enomem)
            r.error = "out of memory during the phase";
        else if (pp->inserted != n)
            r.error = "checksum mismatch (an inserted key was already present)";
        break;
    case MB_PHASE_DELETE_ALL:
    case MB_PHASE_DELETE_HALF:
        r.checksum = pp->found, r.expected = n;
        if (pp->found != n || pp->bogus)
            r.error = "checksum mismatch (a removed key was not found)";
        break;
    case MB_PHASE_CLEAR:
        break;
    case MB_PHASE_ITERATE:
        r.checksum = pp->sum ^ pp->tail_sum, r.expected = pp->want_sum ^ pp->want_tail_sum;
        if (pp->visits != n)
            r.error = "checksum mismatch (iterate visited the wrong number of entries)";
        else if (pp->sum != pp->want_sum || pp->tail_sum != pp->want_tail_sum)
            r.error = "checksum mismatch (iterate saw wrong keys or values)";
        break;
    default:
        r.checksum = pp->found, r.expected = pp->want_found;
        if (pp->found != pp->want_found || pp->bogus || pp->odd_found)
            r.error = "checksum mismatch (wrong found / not-found answers)";
        else if (pp->bad)
            r.error = "checksum mismatch (a wrong value, or a wrong found / not-found answer)";
        break;
    }
    return r;
}

/* ---- transparent huge pages ---------------------------------------------------------- */

int mb_thp_parse(const char *text, char *out, size_t outlen)
{
    const char *a = strchr(text, '['), *b = a ? strchr(a, ']') : NULL;
    if (!a || !b || b == a + 1 || (size_t)(b - a - 1) >= outlen) {
        snprintf(out, outlen, "unknown");
        return -1;
    }
    memcpy(out, a + 1, (size_t)(b - a - 1));
    out[b - a - 1] = 0;
    return 0;
}

int mb_thp_mode(const char *which, char *out, size_t outlen)
{
    char path[128], text[256];
    snprintf(path, sizeof path, "/sys/kernel/mm/transparent_hugepage/%s", which);
    FILE *f = fopen(path, "r");
    size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[got] = 0;
    return mb_thp_parse(text, out, outlen);
}
