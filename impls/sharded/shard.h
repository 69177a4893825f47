/*
 * shard.h — what the sharded maps share, in one place: the writers' lock and
 * the per-shard capacity hint.  Header-only (static inline), so each map's
 * lock calls inline into its own paths.
 *
 * The lock.  A file that wants it defines MB_SHARD_LOCK_SPIN (1 or 0) before
 * including (without it, only the hint is declared):
 *   1: a test-and-test-and-set spinlock: an atomic exchange to take it (one
 *      locked instruction), a release store to drop it, pause while
 *      spinning and sched_yield after MB_SPIN_BEFORE_YIELD tries, since a
 *      preempted holder on an oversubscribed 2-core box would otherwise burn
 *      whole time slices;
 *   0: pthread_mutex_t (a lock and an unlock call, two locked instructions).
 * MB_SHARD_LOCK_NAME ("spinlock" / "mutex") is for the map's traits.
 * mb_shard_lock_init returns 0, or nonzero when the system could not make
 * the mutex.
 *
 * The capacity hint: a map of 2^k shards told to expect `hint` keys gives
 * each shard q + 3 sqrt(q) + 1, q = ceil(hint / 2^k): keys spread over the
 * shards binomially (mean q, deviation about sqrt(q)), so three deviations
 * above the mean leave about one shard in 700 to grow once.  k = 0: one
 * shard takes every key, the hint as it is.
 */
#ifndef MB_SHARD_H
#define MB_SHARD_H

#include <stddef.h>

#if defined(MB_SHARD_LOCK_SPIN) && MB_SHARD_LOCK_SPIN
#include <sched.h>
#include <stdatomic.h>

#define MB_SHARD_LOCK_NAME "spinlock"
#define MB_SPIN_BEFORE_YIELD 64

typedef struct mb_shard_lock {
    _Atomic int held; /* 0 free, 1 held */
} mb_shard_lock;

static inline int mb_shard_lock_init(mb_shard_lock *l)
{
    atomic_init(&l->held, 0);
    return 0;
}

static inline void mb_shard_lock_fini(mb_shard_lock *l)
{
    (void)l;
}

static inline void mb_shard_lock_acquire(mb_shard_lock *l)
{
    for (;;) {
        if (!atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
            return;
        for (int spins = 0; atomic_load_explicit(&l->held, memory_order_relaxed); spins++) {
            if (spins >= MB_SPIN_BEFORE_YIELD) {
                sched_yield();
                spins = 0;
            }
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    }
}

static inline void mb_shard_lock_release(mb_shard_lock *l)
{
    atomic_store_explicit(&l->held, 0, memory_order_release);
}
#elif defined(MB_SHARD_LOCK_SPIN)
#include <pthread.h>

#define MB_SHARD_LOCK_NAME "mutex"

typedef pthread_mutex_t mb_shard_lock;

static inline int mb_shard_lock_init(mb_shard_lock *l)
{
    return pthread_mutex_init(l, NULL);
}

static inline void mb_shard_lock_fini(mb_shard_lock *l)
{
    pthread_mutex_destroy(l);
}

static inline void mb_shard_lock_acquire(mb_shard_lock *l)
{
    pthread_mutex_lock(l);
}

static inline void mb_shard_lock_release(mb_shard_lock *l)
{
    pthread_mutex_unlock(l);
}
#endif

static inline size_t mb_shard_isqrt(size_t x)
{
    size_t r = 0;
    while ((r + 1) * (r + 1) <= x)
        r++;
    return r;
}

/* Per-shard capacity hint of a 2^k-shard map (see the top). */
static inline size_t mb_shard_hint(size_t hint, unsigned k)
{
    if (hint == 0 || k == 0)
        return hint;
    size_t q = ((hint - 1) >> k) + 1; /* ceil(hint / 2^k) */
    return q + 3 * mb_shard_isqrt(q) + 1;
}

#endif
