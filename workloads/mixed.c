/*
 * mixed.c — the multi-threaded mixed read/write phase and its ceiling
 * (see workload.h).
 *
 * Keys: thread t's own keys are stream indexes 2n + t * ops_per_thread + i,
 * so no two threads ever touch the same written key, and the lookups (keys
 * below n) always hit: every answer has one right value and the checksum is
 * exact.
 *
 * What the timed region touches.  Each thread builds its whole script before
 * the start gate: an op kind per op, the key bytes of every op, and the value
 * bytes of every insert, in arrays it allocated itself (so on a NUMA machine
 * they sit on its own node), together with the checksum the script must
 * produce.  Then it announces itself ready and waits.  The main thread opens
 * the gate (a release store) once every thread is ready and takes the start
 * time; inside the loop a thread reads its own script, calls the map, and
 * adds answers into a local checksum (a register), which it stores into its
 * mx_thread once, after the loop.  mx_thread is aligned to and padded to a
 * cache line (_Static_assert below), so no two threads write one line.
 *
 * Mixes: lookup_percent of the ops (100, 90, 50, 0, or any 0..100) are
 * lookup hits of random keys in [0, n); the rest alternate insert of an own
 * key / remove of it, so the map holds n keys again at the end (a thread that
 * ends with an insert pending removes it after its last counted op).
 *
 * Ceiling: the same scripts, run on a map nobody writes (a read-only swiss
 * table holding keys [0, n), no lock): the lookups are the same lookups, and
 * each write slot becomes a lookup of the own key it would have written,
 * which is absent (a miss).  It is what T threads get from the machine with
 * no synchronisation at all: the line a thread-safe map's figure is read
 * against.
 */
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

#define MX_LINE_BYTES 64u
#define MX_MAX_THREADS 64u

enum mx_op { MX_LOOKUP = 0, MX_INSERT = 1, MX_REMOVE = 2 };

/* One thread's inputs, its script and its results.  Written by its thread
 * (the script before the gate, the results after the loop) and read by the
 * main thread after join. */
typedef struct mx_thread {
    alignas(MX_LINE_BYTES) const mb_map_ops *ops;
    void *m;
    const mb_stream *s;
    size_t n, ops_per_thread;
    unsigned id;
    unsigned lookup_percent;
    int ceiling;             /* 1: every op is a lookup (the ceiling run) */
    int *go;                 /* the start gate: threads wait until it is 1 */
    int *ready;              /* threads built and waiting at the gate */
    /* script: ops_per_thread + 1 ops (the last one only if a remove is pending) */
    unsigned char *kinds;    /* mx_op per op */
    unsigned char *keys;     /* key_bytes per op */
    unsigned char *vals;     /* val_bytes per insert, in insert order */
    size_t script_ops;       /* ops in the script (ops_per_thread or + 1) */
    /* results */
    uint64_t checksum, expected;
    int enomem;
    const char *error;       /* the thread's script could not be built */
} mx_thread;

_Static_assert(alignof(mx_thread) == MX_LINE_BYTES, "mx_thread must start a cache line");
_Static_assert(sizeof(mx_thread) % MX_LINE_BYTES == 0, "mx_thread must fill whole lines");

/* ---- script --------------------------------------------------------------- */

/* Builds the thread's script and its expected checksum.
 * Returns 0, or -1 when the arrays cannot be allocated. */
static int mx_build_script(mx_thread *t)
{
    size_t kb = t->s->key_bytes, vb = t->s->val_bytes, len = t->ops_per_thread + 1;
    uint64_t rng = t->s->seed ^ (0xa0761d6478bd642fULL * (t->id + 1));
    size_t own_base = 2 * t->n + (size_t)t->id * t->ops_per_thread, nvals = 0;
    uint64_t expected = 0, pending_key = 0;
    int pending = 0;

    t->kinds = malloc(len);
    t->keys = malloc(len * kb);
    t->vals = malloc((len / 2 + 1) * vb);
    if (!t->kinds || !t->keys || !t->vals)
        return -1;
    size_t i;
    for (i = 0; i < t->ops_per_thread || pending; i++) {
        uint64_t r = mb_splitmix64(&rng), k;
        int kind;
        if (i < t->ops_per_thread && r % 100 < t->lookup_percent) {
            kind = MX_LOOKUP;
            k = mb_key_at(t->s, (r >> 8) % t->n);
        } else if (!pending && i < t->ops_per_thread) {
            kind = MX_INSERT;
            k = pending_key = mb_key_at(t->s, own_base + i);
            pending = 1;
        } else {
            kind = MX_REMOVE;
            k = pending_key;
            pending = 0;
        }
        mb_fill_bytes(k, t->keys + i * kb, kb);
        if (t->ceiling) {
            t->kinds[i] = MX_LOOKUP;
            /* a write slot's key is absent: a miss answers MB_NOTFOUND */
            expected += kind == MX_LOOKUP ? mb_val_for(k) : MB_NOTFOUND;
            continue;
        }
        t->kinds[i] = (unsigned char)kind;
        if (kind == MX_LOOKUP) {
            expected += mb_val_for(k);
        } else if (kind == MX_INSERT) {
            mb_fill_bytes(mb_val_for(k), t->vals + nvals++ * vb, vb);
            expected += MB_INSERTED;
        } else {
            expected += MB_FOUND;
        }
    }
    t->script_ops = i;
    t->expected = expected;
    return 0;
}

static void mx_free_script(mx_thread *t)
{
    free(t->kinds);
    free(t->keys);
    free(t->vals);
}

/* ---- timed loop ----------------------------------------------------------- */

/* The loop itself: reads the script, calls the map, sums the answers.
 * A lookup adds the value it read (0 if none or if the bytes are not intact);
 * a write adds its result code; the ceiling's misses add MB_NOTFOUND (0). */
static void mx_run_script(mx_thread *t)
{
    const mb_map_ops *ops = t->ops;
    void *m = t->m;
    const unsigned char *kinds = t->kinds, *key = t->keys, *val = t->vals;
    size_t kb = t->s->key_bytes, vb = t->s->val_bytes, len = t->script_ops;
    uint64_t checksum = 0;
    int enomem = 0;
    unsigned char out[MB_VAL_MAX_BYTES];

    for (size_t i = 0; i < len; i++, key += kb) {
        switch (kinds[i]) {
        case MX_LOOKUP: {
            uint64_t v = 0;
            if (ops->lookup(m, key, out) == MB_FOUND) {
                if (vb == 8)
                    memcpy(&v, out, 8);
                else if (mb_decode_bytes(out, vb, &v) != 0)
                    v = 0;
            }
            checksum += v;
            break;
        }
        case MX_INSERT: {
            int rc = ops->insert(m, key, val);
            val += vb;
            enomem |= rc == MB_ENOMEM;
            checksum += (uint64_t)rc;
            break;
        }
        default:
            checksum += (uint64_t)ops->remove(m, key);
            break;
        }
    }
    t->checksum = checksum;
    t->enomem = enomem;
}

static void *mx_main(void *p)
{
    mx_thread *t = p;

    if (mx_build_script(t) != 0)
        t->error = "out of memory for the thread's script";
    __atomic_add_fetch(t->ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(t->go, __ATOMIC_ACQUIRE))
        sched_yield();
    if (!t->error)
        mx_run_script(t);
    return NULL;
}

static uint64_t mx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the phase -------------------------------------------------------------- */

static mb_phase_result mx_run(const mb_map_ops *ops, void *m, const mb_stream *s, size_t n,
                              const mb_mixed_spec *spec, int ceiling, uint64_t *wall_ns)
{
    unsigned threads = spec->threads;
    mb_phase_result r = { 0, 0, (size_t)threads * spec->ops_per_thread, 0, NULL };
    pthread_t tid[MX_MAX_THREADS];
    mx_thread *ts;
    int go = 0, ready = 0;
    unsigned started = 0;

    *wall_ns = 0;
    if (threads < 1 || threads > MX_MAX_THREADS || n == 0 || s->objects) {
        r.error = "mixed_rw needs 1..64 threads, n >= 1 and inline values";
        return r;
    }
    if (spec->lookup_percent > 100) {
        r.error = "mixed_rw's lookup percent must be 0..100";
        return r;
    }
    ts = aligned_alloc(MX_LINE_BYTES, threads * sizeof *ts);
    if (!ts) {
        r.error = "out of memory for the thread table";
        return r;
    }
    memset(ts, 0, threads * sizeof *ts);
    for (unsigned t = 0; t < threads; t++) {
        mx_thread *x = &ts[t];
        x->ops = ops, x->m = m, x->s = s, x->n = n, x->ops_per_thread = spec->ops_per_thread;
        x->id = t, x->lookup_percent = spec->lookup_percent, x->ceiling = ceiling;
        x->go = &go, x->ready = &ready;
        if (pthread_create(&tid[t], NULL, mx_main, x) != 0)
            break;
        started++;
    }
    while (__atomic_load_n(&ready, __ATOMIC_ACQUIRE) < (int)started)
        sched_yield();
    uint64_t t0 = mx_now_ns();
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    *wall_ns = mx_now_ns() - t0;
    for (unsigned t = 0; t < started; t++) {
        r.checksum += ts[t].checksum;
        r.expected += ts[t].expected;
        r.enomem |= ts[t].enomem;
        if (ts[t].error && !r.error)
            r.error = ts[t].error;
        mx_free_script(&ts[t]);
    }
    free(ts);
    if (started < threads)
        r.error = "could not start the threads";
    else if (!r.error && r.checksum != r.expected)
        r.error = r.enomem ? "out of memory during the phase" : "checksum mismatch";
    return r;
}

int mb_mixed_expected(const mb_stream *s, size_t n, const mb_mixed_spec *spec, int ceiling,
                      uint64_t *expected)
{
    *expected = 0;
    for (unsigned t = 0; t < spec->threads; t++) {
        mx_thread x;
        memset(&x, 0, sizeof x);
        x.s = s, x.n = n, x.ops_per_thread = spec->ops_per_thread, x.id = t;
        x.lookup_percent = spec->lookup_percent, x.ceiling = ceiling;
        int rc = mx_build_script(&x);
        mx_free_script(&x);
        if (rc != 0)
            return -1;
        *expected += x.expected;
    }
    return 0;
}

mb_phase_result mb_run_mixed_spec(const mb_map_ops *ops, void *m, const mb_stream *s, size_t n,
                                  const mb_mixed_spec *spec, uint64_t *wall_ns)
{
    return mx_run(ops, m, s, n, spec, 0, wall_ns);
}

mb_phase_result mb_run_mixed(const mb_map_ops *ops, void *m, const mb_stream *s, size_t n,
                             unsigned threads, size_t ops_per_thread, uint64_t *wall_ns)
{
    mb_mixed_spec spec = { threads, ops_per_thread, MB_MIX_DEFAULT_LOOKUP_PERCENT };
    return mx_run(ops, m, s, n, &spec, 0, wall_ns);
}

mb_phase_result mb_run_mixed_ceiling(const mb_map_ops *ops, void *m, const mb_stream *s,
                                     size_t n, const mb_mixed_spec *spec, uint64_t *wall_ns)
{
    return mx_run(ops, m, s, n, spec, 1, wall_ns);
}

void *mb_ceiling_map_build(const mb_alloc *a, const mb_stream *s, size_t n,
                           const mb_map_ops **ops_out, const char **error)
{
    const mb_map_ops *ops = mb_registry_find(MB_CEILING_MAP);
    mb_map_config cfg = { s->key_bytes, s->val_bytes, n, MB_SHRINK_NEVER, 0, s->seed };
    void *m;

    *error = NULL;
    if (!ops || mb_config_unsupported(ops, &cfg)) {
        *error = "the ceiling map (" MB_CEILING_MAP ") cannot build this blueprint";
        return NULL;
    }
    if (s->objects) {
        *error = "the ceiling needs inline values";
        return NULL;
    }
    if (!(m = ops->create(a, &cfg))) {
        *error = "out of memory for the ceiling map";
        return NULL;
    }
    mb_phase_result r = mb_run_phase(ops, m, s, MB_PHASE_INSERT, n);
    if (r.error) {
        ops->destroy(m);
        *error = r.error;
        return NULL;
    }
    *ops_out = ops;
    return m;
}
