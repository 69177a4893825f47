/* workload.c — see workload.h. */
#include "workload.h"

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
    if (s->dist == MB_DIST_SEQUENTIAL)
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
    return mb_run_phase_range(ops, m, s, p, 0, n);
}

mb_phase_result mb_run_phase_range(const mb_map_ops *ops, void *m, const mb_stream *s,
                                   mb_phase p, size_t begin, size_t end)
{
    size_t n = end - begin;
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    mb_phase_result r = { 0, 0, n, 0, NULL };
    size_t kb = s->key_bytes, vb = s->val_bytes;

    mb_objects *obj = s->objects;
    if (obj && (end > obj->cap || vb != sizeof(void *))) {
        r.error = "pointer values: key range beyond the object index, or values not pointers";
        return r;
    }
    switch (p) {
    case MB_PHASE_INSERT:
        for (size_t i = begin; i < end; i++) {
            uint64_t k = mb_key_at(s, i);
            void *o = NULL;
            mb_fill_bytes(k, key, kb);
            if (obj) {
                o = mb_alloc_bytes(&obj->alloc, obj->object_bytes, 8);
                if (!o) {
                    r.enomem = 1;
                    r.checksum = wl_mix(r.checksum, (uint64_t)MB_ENOMEM);
                    r.expected = wl_mix(r.expected, MB_INSERTED);
                    continue;
                }
                mb_fill_bytes(mb_val_for(k), o, obj->object_bytes);
                memcpy(val, &o, sizeof o);
            } else {
                mb_fill_bytes(mb_val_for(k), val, vb);
            }
            int rc = ops->insert(m, key, val);
            if (rc == MB_ENOMEM)
                r.enomem = 1;
            if (obj && rc == MB_INSERTED)
                obj->by_index[i] = o;
            else if (obj)
                mb_free_bytes(&obj->alloc, o, obj->object_bytes, 8);
            r.checksum = wl_mix(r.checksum, (uint64_t)rc);
            r.expected = wl_mix(r.expected, MB_INSERTED);
        }
        break;
    case MB_PHASE_LOOKUP_HIT:
        for (size_t i = begin; i < end; i++) {
            uint64_t k = mb_key_at(s, i), v = 0;
            mb_fill_bytes(k, key, kb);
            memset(val, 0, vb);
            int rc = ops->lookup(m, key, val);
            if (rc == MB_FOUND && obj) { /* follow the pointer, as map[int]*T does */
                const unsigned char *o;
                memcpy(&o, val, sizeof o);
                if (!o || mb_decode_bytes(o, obj->object_bytes, &v) != 0)
                    v = ~mb_val_for(k);
            } else if (rc == MB_FOUND && mb_decode_bytes(val, vb, &v) != 0) {
                v = ~mb_val_for(k); /* a torn value: make the checksum fail */
            }
            r.checksum = wl_mix(r.checksum, rc == MB_FOUND ? v : 0);
            r.expected = wl_mix(r.expected, mb_val_for(k));
        }
        break;
    case MB_PHASE_LOOKUP_MISS:
        for (size_t i = begin; i < end; i++) {
            mb_fill_bytes(mb_key_at(s, i), key, kb);
            r.checksum = wl_mix(r.checksum, (uint64_t)ops->lookup(m, key, val));
            r.expected = wl_mix(r.expected, MB_NOTFOUND);
        }
        break;
    case MB_PHASE_DELETE_ALL:
        for (size_t i = begin; i < end; i++) {
            mb_fill_bytes(mb_key_at(s, i), key, kb);
            int rc = ops->remove(m, key);
            if (obj && rc == MB_FOUND) {
                mb_free_bytes(&obj->alloc, obj->by_index[i], obj->object_bytes, 8);
                obj->by_index[i] = NULL;
            }
            r.checksum = wl_mix(r.checksum, (uint64_t)rc);
            r.expected = wl_mix(r.expected, MB_FOUND);
        }
        break;
    case MB_PHASE_CLEAR:
        ops->clear(m); /* ops stays n: clear is reported per entry cleared */
        if (obj)
            mb_objects_free_all(obj);
        break;
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
    return (p == MB_PHASE_DELETE_ALL || p == MB_PHASE_CLEAR) ? 0 : n;
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
