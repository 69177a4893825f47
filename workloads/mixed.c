/*
 * mixed.c — the multi-threaded mixed read/write phase (see workload.h).
 *
 * Thread t's own keys are stream indexes 2n + t * ops_per_thread + i, so no
 * two threads ever touch the same written key and the lookups (keys below n)
 * always hit: every answer has one right value, and the checksum is exact.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

typedef struct mx_thread {
    const mb_map_ops *ops;
    void *m;
    const mb_stream *s;
    size_t n, ops_per_thread;
    unsigned id;
    int *go;                 /* the start gate: threads spin until it is 1 */
    int *ready;              /* threads waiting at the gate */
    uint64_t checksum, expected;
    int enomem;
} mx_thread;

static void *mx_main(void *p)
{
    mx_thread *t = p;
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    size_t kb = t->s->key_bytes, vb = t->s->val_bytes;
    uint64_t rng = t->s->seed ^ (0xa0761d6478bd642fULL * (t->id + 1));
    size_t own_base = 2 * t->n + (size_t)t->id * t->ops_per_thread;
    int pending = 0;
    uint64_t pending_key = 0;

    __atomic_add_fetch(t->ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(t->go, __ATOMIC_ACQUIRE))
        sched_yield();
    for (size_t i = 0; i < t->ops_per_thread; i++) {
        uint64_t r = mb_splitmix64(&rng);
        if (r % 10 != 0) { /* 90%: lookup hit */
            uint64_t k = mb_key_at(t->s, (r >> 8) % t->n), v = 0;
            mb_fill_bytes(k, key, kb);
            if (t->ops->lookup(t->m, key, val) == MB_FOUND && mb_decode_bytes(val, vb, &v) == 0)
                t->checksum += v;
            t->expected += mb_val_for(k);
        } else if (!pending) { /* 5%: insert an own key */
            pending_key = mb_key_at(t->s, own_base + i);
            mb_fill_bytes(pending_key, key, kb);
            mb_fill_bytes(mb_val_for(pending_key), val, vb);
            int rc = t->ops->insert(t->m, key, val);
            t->enomem |= rc == MB_ENOMEM;
            t->checksum += (uint64_t)rc;
            t->expected += MB_INSERTED;
            pending = 1;
        } else { /* 5%: remove it again */
            mb_fill_bytes(pending_key, key, kb);
            t->checksum += (uint64_t)t->ops->remove(t->m, key);
            t->expected += MB_FOUND;
            pending = 0;
        }
    }
    if (pending) { /* leave the map as it was: n keys */
        mb_fill_bytes(pending_key, key, kb);
        t->checksum += (uint64_t)t->ops->remove(t->m, key);
        t->expected += MB_FOUND;
    }
    return NULL;
}

static uint64_t mx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

mb_phase_result mb_run_mixed(const mb_map_ops *ops, void *m, const mb_stream *s, size_t n,
                             unsigned threads, size_t ops_per_thread, uint64_t *wall_ns)
{
    mb_phase_result r = { 0, 0, (size_t)threads * ops_per_thread, 0, NULL };
    pthread_t tid[64];
    mx_thread ts[64];
    int go = 0, ready = 0;
    unsigned started = 0;

    *wall_ns = 0;
    if (threads < 1 || threads > 64 || n == 0 || s->objects) {
        r.error = "mixed_rw needs 1..64 threads, n >= 1 and inline values";
        return r;
    }
    for (unsigned t = 0; t < threads; t++) {
        ts[t] = (mx_thread){ ops, m, s, n, ops_per_thread, t, &go, &ready, 0, 0, 0 };
        if (pthread_create(&tid[t], NULL, mx_main, &ts[t]) != 0)
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
    }
    if (started < threads)
        r.error = "could not start the threads";
    else if (r.checksum != r.expected)
        r.error = r.enomem ? "out of memory during the phase" : "checksum mismatch";
    return r;
}
