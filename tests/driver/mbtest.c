/*
 * mbtest — drives any registered map for the test suite.
 *
 *   mbtest list
 *       one line per map: name, family, flags, traits (tab-separated)
 *   mbtest replay --impl NAME [config] [--no-check]
 *       reads ops from stdin, one per line, prints one answer line per op:
 *         i K V   insert       -> inserted | replaced | enomem
 *         l K     lookup       -> found V | notfound
 *         r K     remove       -> found | notfound
 *         c       clear        -> ok
 *         n       count        -> count N
 *         it      iterate      -> iter K:V K:V ...   (visit order)
 *         s       stats        -> stats count=.. capacity=.. tombstones=.. ...
 *         f K     fail after K more allocations (-1: never) -> ok
 *       check() runs after every op; a violation prints "CHECK op#: why" and
 *       exits 3.  At the end the map is destroyed and "live_bytes N" printed.
 *   mbtest sweep --impl NAME --n N [config]
 *       allocation-failure sweep: for k = 0, 1, ... fails every allocation
 *       after the k-th during a fixed script, checking after every failure
 *       that the map is valid and unchanged and that destroy frees all.
 *   mbtest churn --impl NAME --n N [--rounds R] [config]
 *       N live keys, then R*N remove-one/insert-one ops at constant size.
 *   mbtest threads --impl NAME --threads T --n N [config]
 *       T threads insert, look up and remove their own keys and read others'.
 *   mbtest stress --impl NAME --threads T --n N [--rounds R] [config]
 *       one writer rewrites n stable keys R times (value = version << 32 |
 *       index) while inserting and removing as many churn keys (growth,
 *       shifts, promotions); T - 1 readers look the stable keys up the
 *       whole time and fail unless every one is found with an intact value
 *       that was written (its own index, a version <= R that never goes
 *       back for one reader).
 *
 * config: --key-bytes 8|16|48  --val-bytes 8|64  --hint N  --shrink  --seed S
 *
 * Keys and values are u64s on the wire; wider blueprints expand them with
 * mb_fill_bytes so the test's model stays a plain dict of ints.
 * Exit: 0 ok, 1 a test failure (message on stderr), 2 usage, 3 check().
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#include "../../impls/mb_map.h"
#include "../../workloads/workload.h"

typedef struct opts {
    const char *impl;
    mb_map_config cfg;
    size_t n, rounds, threads;
    int check;
} opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: mbtest list\n"
               "       mbtest replay  --impl NAME [config] [--no-check]\n"
               "       mbtest sweep   --impl NAME --n N [config]\n"
               "       mbtest churn   --impl NAME --n N [--rounds R] [config]\n"
               "       mbtest threads --impl NAME --threads T --n N [config]\n"
               "       mbtest stress  --impl NAME --threads T --n N [--rounds R] [config]\n"
               "       mbtest enomem  --impl NAME --n N [config]   (insert phases, allocations\n"
               "                      failing from the first after create: prints per form\n"
               "                      'FORM failed_calls=K error=...')\n"
               "config: --key-bytes 8|16|48 --val-bytes 8|64 --hint N --shrink --seed S\n");
}

static _Noreturn void die_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "mbtest: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    exit(2);
}

static _Noreturn void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mbtest: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static size_t parse_size(const char *s, const char *flag)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s ? s : "", &end, 10);
    if (!s || errno || *end || end == s)
        die_usage("expected a number after", flag);
    return (size_t)v;
}

static void parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->cfg.key_bytes = 8;
    o->cfg.val_bytes = 8;
    o->cfg.seed = 0x5eed;
    o->rounds = 10;
    o->threads = 2;
    o->check = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--impl") && v)
            o->impl = argv[++i];
        else if (!strcmp(a, "--key-bytes"))
            o->cfg.key_bytes = parse_size(v, a), i++;
        else if (!strcmp(a, "--val-bytes"))
            o->cfg.val_bytes = parse_size(v, a), i++;
        else if (!strcmp(a, "--hint"))
            o->cfg.capacity_hint = parse_size(v, a), i++;
        else if (!strcmp(a, "--seed"))
            o->cfg.seed = parse_size(v, a), i++;
        else if (!strcmp(a, "--n"))
            o->n = parse_size(v, a), i++;
        else if (!strcmp(a, "--rounds"))
            o->rounds = parse_size(v, a), i++;
        else if (!strcmp(a, "--threads"))
            o->threads = parse_size(v, a), i++;
        else if (!strcmp(a, "--shrink"))
            o->cfg.shrink = MB_SHRINK_LOW_WATER;
        else if (!strcmp(a, "--no-check"))
            o->check = 0;
        else
            die_usage("unknown argument", a);
    }
    if (!o->impl)
        die_usage("missing --impl", NULL);
}

static const mb_map_ops *find_ops(const opts *o)
{
    const mb_map_ops *ops = mb_registry_find(o->impl);
    if (!ops)
        die_usage("no such map", o->impl);
    const char *why = mb_config_unsupported(ops, &o->cfg);
    if (why)
        die_usage(why, o->impl);
    return ops;
}

/* The key stream every command draws from: uniform keys of the run's seed and
 * key / value sizes. */
static mb_stream uniform_stream(const opts *o)
{
    return (mb_stream){ .dist = MB_DIST_UNIFORM, .seed = o->cfg.seed,
                        .key_bytes = o->cfg.key_bytes, .val_bytes = o->cfg.val_bytes };
}

/* ---- list ----------------------------------------------------------------- */

static int cmd_list(void)
{
    for (const mb_map_ops *const *p = mb_registry; *p; p++)
        printf("%s\t%s\t%u\t%s\n", (*p)->name, (*p)->family, (*p)->flags, (*p)->traits);
    return 0;
}

/* ---- replay --------------------------------------------------------------- */

static int print_visit(void *ud, const void *key, const void *val)
{
    uint64_t k, v;
    size_t *bytes = ud;
    if (mb_decode_bytes(key, bytes[0], &k) || mb_decode_bytes(val, bytes[1], &v)) {
        printf(" TORN");
        return 0;
    }
    printf(" %" PRIu64 ":%" PRIu64, k, v);
    return 0;
}

static void print_stat(const char *name, size_t v)
{
    if (v == MB_NA)
        printf(" %s=NA", name);
    else
        printf(" %s=%zu", name, v);
}

static int cmd_replay(const opts *o)
{
    const mb_map_ops *ops = find_ops(o);
    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc a = mb_counter_alloc(&ctr);
    void *m = ops->create(&a, &o->cfg);
    if (!m)
        fail("%s: create failed", o->impl);

    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    char line[256], op[8];
    unsigned long long k, v;
    size_t opno = 0;
    long long fk;
    while (fgets(line, sizeof line, stdin)) {
        opno++;
        if (!strchr(line, '\n') && !feof(stdin)) /* the rest would run as another op */
            fail("line %zu: longer than %zu bytes", opno, sizeof line - 2);
        if (sscanf(line, "%7s", op) != 1)
            continue;
        if (!strcmp(op, "i") && sscanf(line, "%*s %llu %llu", &k, &v) == 2) {
            mb_fill_bytes(k, key, o->cfg.key_bytes);
            mb_fill_bytes(v, val, o->cfg.val_bytes);
            int rc = ops->insert(m, key, val);
            puts(rc == MB_INSERTED ? "inserted" : rc == MB_REPLACED ? "replaced"
                 : rc == MB_ENOMEM ? "enomem" : "BAD");
        } else if (!strcmp(op, "l") && sscanf(line, "%*s %llu", &k) == 1) {
            uint64_t got;
            mb_fill_bytes(k, key, o->cfg.key_bytes);
            if (ops->lookup(m, key, val) != MB_FOUND)
                puts("notfound");
            else if (mb_decode_bytes(val, o->cfg.val_bytes, &got))
                puts("found TORN");
            else
                printf("found %" PRIu64 "\n", got);
        } else if (!strcmp(op, "r") && sscanf(line, "%*s %llu", &k) == 1) {
            mb_fill_bytes(k, key, o->cfg.key_bytes);
            puts(ops->remove(m, key) == MB_FOUND ? "found" : "notfound");
        } else if (!strcmp(op, "c")) {
            ops->clear(m);
            puts("ok");
        } else if (!strcmp(op, "n")) {
            printf("count %zu\n", mb_map_count(ops, m));
        } else if (!strcmp(op, "it")) {
            size_t bytes[2] = { o->cfg.key_bytes, o->cfg.val_bytes };
            printf("iter");
            ops->iterate(m, print_visit, bytes);
            putchar('\n');
        } else if (!strcmp(op, "s")) {
            mb_map_stats st;
            ops->stats(m, &st);
            printf("stats");
            print_stat("count", st.count);
            print_stat("capacity", st.capacity);
            print_stat("tombstones", st.tombstones);
            print_stat("overflow", st.overflow);
            print_stat("max_probe", st.max_probe);
            print_stat("grow_events", st.grow_events);
            print_stat("shrink_events", st.shrink_events);
            print_stat("rehash_events", st.rehash_events);
            print_stat("bytes", st.bytes);
            printf(" live_bytes=%" PRId64 "\n", ctr.live_bytes);
        } else if (!strcmp(op, "f") && sscanf(line, "%*s %lld", &fk) == 1) {
            mb_counter_fail_after(&ctr, fk < 0 ? MB_COUNTER_NEVER_FAIL : fk);
            puts("ok");
        } else {
            fprintf(stderr, "mbtest: bad op line %zu: %s", opno, line);
            return 2;
        }
        if (o->check) {
            const char *why = ops->check(m);
            if (why) {
                printf("CHECK %zu: %s\n", opno, why);
                fflush(stdout);
                return 3;
            }
        }
    }
    ops->destroy(m);
    printf("live_bytes %" PRId64 "\n", ctr.live_bytes);
    return 0;
}

/* ---- allocation-failure sweep --------------------------------------------- */

typedef struct model {
    unsigned char *present; /* by key index */
    size_t count;
} model;

static void must_check(const mb_map_ops *ops, void *m, const char *when, uint64_t k)
{
    const char *why = ops->check(m);
    if (why) {
        fprintf(stderr, "mbtest: check() after %s (k=%" PRIu64 "): %s\n", when, k, why);
        exit(3);
    }
}

/* Verifies every key of the model against the map. */
static void verify_model(const mb_map_ops *ops, void *m, const opts *o, const model *md,
                         size_t nkeys, uint64_t k)
{
    mb_stream s = uniform_stream(o);
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    for (size_t i = 0; i < nkeys; i++) {
        mb_fill_bytes(mb_key_at(&s, i), key, o->cfg.key_bytes);
        int rc = ops->lookup(m, key, val);
        if ((rc == MB_FOUND) != (md->present[i] != 0))
            fail("%s: after an injected failure a key's presence changed (k=%" PRIu64 ")",
                 o->impl, k);
    }
    if (mb_map_count(ops, m) != md->count)
        fail("%s: count changed by a failed op (k=%" PRIu64 ")", o->impl, k);
}

/* One pass of the sweep script with failures after k allocations.
 * Returns the number of injected failures seen. */
static int64_t sweep_once(const mb_map_ops *ops, const opts *o, int64_t k)
{
    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_counter_fail_after(&ctr, k);
    mb_alloc a = mb_counter_alloc(&ctr);
    void *m = ops->create(&a, &o->cfg);
    if (!m) {
        if (ctr.live_bytes != 0)
            fail("%s: failed create leaked (k=%" PRIu64 ")", o->impl, (uint64_t)k);
        return ctr.failed_calls;
    }
    size_t nkeys = 2 * o->n;
    model md = { calloc(nkeys, 1), 0 };
    mb_stream s = uniform_stream(o);
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];

    /* script: insert n, remove every third, insert n more, clear, insert n/2 */
    for (int step = 0; step < 4; step++) {
        size_t lo = step == 2 ? o->n : 0, hi = step == 2 ? 2 * o->n : step == 3 ? o->n / 2 : o->n;
        if (step == 3) {
            ops->clear(m);
            memset(md.present, 0, nkeys);
            md.count = 0;
            must_check(ops, m, "clear", (uint64_t)k);
        }
        for (size_t i = lo; i < hi; i++) {
            uint64_t key64 = mb_key_at(&s, i);
            mb_fill_bytes(key64, key, o->cfg.key_bytes);
            if (step == 1) {
                if (i % 3)
                    continue;
                int rc = ops->remove(m, key);
                if ((rc == MB_FOUND) != (md.present[i] != 0))
                    fail("%s: remove disagrees with the model (k=%" PRIu64 ")", o->impl,
                         (uint64_t)k);
                if (md.present[i])
                    md.present[i] = 0, md.count--;
                must_check(ops, m, "remove", (uint64_t)k);
                continue;
            }
            mb_fill_bytes(mb_val_for(key64), val, o->cfg.val_bytes);
            int rc = ops->insert(m, key, val);
            if (rc == MB_ENOMEM) {
                must_check(ops, m, "failed insert", (uint64_t)k);
                verify_model(ops, m, o, &md, nkeys, (uint64_t)k);
                continue;
            }
            if (rc != MB_INSERTED)
                fail("%s: insert of a new key did not say inserted (k=%" PRIu64 ")", o->impl,
                     (uint64_t)k);
            md.present[i] = 1, md.count++;
        }
        must_check(ops, m, "step", (uint64_t)k);
        verify_model(ops, m, o, &md, nkeys, (uint64_t)k);
    }
    ops->destroy(m);
    free(md.present);
    if (ctr.live_bytes != 0)
        fail("%s: %" PRIu64 " bytes leaked after destroy", o->impl, (uint64_t)ctr.live_bytes);
    return ctr.failed_calls;
}

static int cmd_sweep(const opts *o)
{
    const mb_map_ops *ops = find_ops(o);
    if (!o->n)
        die_usage("sweep needs --n", NULL);
    int64_t k = 0;
    while (sweep_once(ops, o, k) > 0)
        k++;
    printf("sweep ok: %s survived failures at each of %" PRId64 " allocation points\n", o->impl,
           k);
    return 0;
}

/* ---- churn ---------------------------------------------------------------- */

static int cmd_churn(const opts *o)
{
    const mb_map_ops *ops = find_ops(o);
    if (!o->n)
        die_usage("churn needs --n", NULL);
    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc a = mb_counter_alloc(&ctr);
    void *m = ops->create(&a, &o->cfg);
    if (!m)
        fail("%s: create failed", o->impl);
    mb_stream s = uniform_stream(o);
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    size_t total = o->n * (o->rounds + 1), max_tombs = 0;

    /* live window: keys [lo, lo + n); each step removes lo, inserts lo + n */
    for (size_t i = 0; i < total; i++) {
        uint64_t k = mb_key_at(&s, i);
        mb_fill_bytes(k, key, o->cfg.key_bytes);
        mb_fill_bytes(mb_val_for(k), val, o->cfg.val_bytes);
        if (ops->insert(m, key, val) != MB_INSERTED)
            fail("%s: churn insert failed at step %zu", o->impl, i);
        if (i >= o->n) {
            mb_fill_bytes(mb_key_at(&s, i - o->n), key, o->cfg.key_bytes);
            if (ops->remove(m, key) != MB_FOUND)
                fail("%s: churn remove missed at step %zu", o->impl, i);
        }
        if (o->check && (i % (o->n / 4 + 1) == 0 || i + 1 == total)) {
            must_check(ops, m, "churn", (uint64_t)i);
            mb_map_stats st;
            ops->stats(m, &st);
            if (st.tombstones != MB_NA && st.tombstones > max_tombs)
                max_tombs = st.tombstones;
        }
    }
    size_t lo = total - o->n;
    for (size_t i = 0; i < total; i++) {
        uint64_t k = mb_key_at(&s, i), v;
        mb_fill_bytes(k, key, o->cfg.key_bytes);
        int rc = ops->lookup(m, key, val);
        if ((rc == MB_FOUND) != (i >= lo))
            fail("%s: after churn key %zu has the wrong presence", o->impl, i);
        if (rc == MB_FOUND && (mb_decode_bytes(val, o->cfg.val_bytes, &v) || v != mb_val_for(k)))
            fail("%s: after churn key %zu has the wrong value", o->impl, i);
    }
    if (mb_map_count(ops, m) != o->n)
        fail("%s: count after churn is wrong", o->impl);
    mb_map_stats st;
    ops->stats(m, &st);
    printf("churn ok: %s n=%zu ops=%zu capacity=%zu max_tombstones_seen=%zu "
           "rehash_events=%zu\n",
           o->impl, o->n, total, st.capacity, max_tombs, st.rehash_events);
    ops->destroy(m);
    if (ctr.live_bytes != 0)
        fail("%s: %" PRIu64 " bytes leaked after destroy", o->impl, (uint64_t)ctr.live_bytes);
    return 0;
}

/* ---- threads -------------------------------------------------------------- */

typedef struct thread_arg {
    const mb_map_ops *ops;
    void *m;
    const opts *o;
    size_t id;
    const char *error;
} thread_arg;

/* Thread t owns keys [t*n, (t+1)*n): inserts them, reads them and the other
 * threads' keys, then removes its odd keys.  Only its own keys are asserted;
 * other threads' keys are read to create contention. */
static void *thread_main(void *p)
{
    thread_arg *ta = p;
    const opts *o = ta->o;
    mb_stream s = uniform_stream(o);
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    size_t base = ta->id * o->n, all = o->threads * o->n;
    uint64_t v;

    for (size_t i = base; i < base + o->n; i++) {
        uint64_t k = mb_key_at(&s, i);
        mb_fill_bytes(k, key, o->cfg.key_bytes);
        mb_fill_bytes(mb_val_for(k), val, o->cfg.val_bytes);
        if (ta->ops->insert(ta->m, key, val) != MB_INSERTED)
            return ta->error = "insert of an own new key did not say inserted", NULL;
        uint64_t other = mb_key_at(&s, (i * 7 + 3) % all);
        mb_fill_bytes(other, key, o->cfg.key_bytes);
        if (ta->ops->lookup(ta->m, key, val) == MB_FOUND &&
            (mb_decode_bytes(val, o->cfg.val_bytes, &v) || v != mb_val_for(other)))
            return ta->error = "another thread's key read back a torn value", NULL;
    }
    for (size_t i = base; i < base + o->n; i++) {
        uint64_t k = mb_key_at(&s, i);
        mb_fill_bytes(k, key, o->cfg.key_bytes);
        if (ta->ops->lookup(ta->m, key, val) != MB_FOUND ||
            mb_decode_bytes(val, o->cfg.val_bytes, &v) || v != mb_val_for(k))
            return ta->error = "an own key was lost or corrupted", NULL;
        if ((i & 1) && ta->ops->remove(ta->m, key) != MB_FOUND)
            return ta->error = "remove of an own key missed", NULL;
    }
    return NULL;
}

static int cmd_threads(const opts *o)
{
    const mb_map_ops *ops = find_ops(o);
    if (!(ops->flags & MB_F_THREAD_SAFE))
        die_usage("map is not thread-safe", o->impl);
    if (!o->n || !o->threads || o->threads > 64)
        die_usage("threads needs --n and 1..64 --threads", NULL);
    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc a = mb_counter_alloc(&ctr);
    void *m = ops->create(&a, &o->cfg);
    if (!m)
        fail("%s: create failed", o->impl);
    pthread_t tid[64];
    thread_arg ta[64];
    for (size_t t = 0; t < o->threads; t++) {
        ta[t] = (thread_arg){ ops, m, o, t, NULL };
        if (pthread_create(&tid[t], NULL, thread_main, &ta[t]))
            fail("%s: pthread_create failed", o->impl);
    }
    for (size_t t = 0; t < o->threads; t++)
        pthread_join(tid[t], NULL);
    for (size_t t = 0; t < o->threads; t++)
        if (ta[t].error)
            fail("%s: thread %zu: %s", o->impl, t, ta[t].error);
    size_t expect = o->threads * (o->n - o->n / 2);
    if (mb_map_count(ops, m) != expect)
        fail("%s: count after threads is %zu, expected %zu", o->impl, mb_map_count(ops, m),
             expect);
    const char *why = ops->check(m);
    if (why)
        fail("%s: check after threads: %s", o->impl, why);
    ops->destroy(m);
    if (ctr.live_bytes != 0)
        fail("%s: %" PRIu64 " bytes leaked after destroy", o->impl, (uint64_t)ctr.live_bytes);
    printf("threads ok: %s threads=%zu n=%zu\n", o->impl, o->threads, o->n);
    return 0;
}

/* ---- stress: readers against one writer ---------------------------------------- */

typedef struct stress_arg {
    const mb_map_ops *ops;
    void *m;
    const opts *o;
    size_t id;                 /* 0: the writer */
    int *done;                 /* set by the writer when it finishes */
    int *started;              /* readers running: the writer waits for all */
    uint64_t reads;
    const char *error;
} stress_arg;

static uint64_t stress_val(size_t index, uint64_t version)
{
    return version << 32 | (uint32_t)index;
}

static void *stress_writer(stress_arg *sa)
{
    const opts *o = sa->o;
    mb_stream s = uniform_stream(o);
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    size_t n = o->n;
    while (__atomic_load_n(sa->started, __ATOMIC_ACQUIRE) < (int)o->threads - 1)
        sched_yield();
    for (uint64_t r = 1; r <= o->rounds && !sa->error; r++) {
        for (size_t i = 0; i < n; i++) {
            mb_fill_bytes(mb_key_at(&s, i), key, o->cfg.key_bytes);
            mb_fill_bytes(stress_val(i, r), val, o->cfg.val_bytes);
            if (sa->ops->insert(sa->m, key, val) != MB_REPLACED) {
                sa->error = "rewriting a stable key did not say replaced";
                break;
            }
            size_t c = n + (size_t)(r - 1) * n + i; /* churn: insert one, remove last round's */
            mb_fill_bytes(mb_key_at(&s, c), key, o->cfg.key_bytes);
            mb_fill_bytes(stress_val(c, r), val, o->cfg.val_bytes);
            if (sa->ops->insert(sa->m, key, val) != MB_INSERTED) {
                sa->error = "inserting a churn key did not say inserted";
                break;
            }
            if (r > 1) {
                mb_fill_bytes(mb_key_at(&s, c - n), key, o->cfg.key_bytes);
                if (sa->ops->remove(sa->m, key) != MB_FOUND) {
                    sa->error = "removing a churn key missed";
                    break;
                }
            }
        }
    }
    for (size_t i = 0; i < n && !sa->error && o->rounds; i++) { /* the last round's churn */
        mb_fill_bytes(mb_key_at(&s, n + (o->rounds - 1) * n + i), key, o->cfg.key_bytes);
        if (sa->ops->remove(sa->m, key) != MB_FOUND)
            sa->error = "removing a churn key missed";
    }
    __atomic_store_n(sa->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *stress_main(void *p)
{
    stress_arg *sa = p;
    if (sa->id == 0)
        return stress_writer(sa);
    const opts *o = sa->o;
    mb_stream s = uniform_stream(o);
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    uint64_t *seen = calloc(o->n, sizeof *seen), rng = sa->id * 0x9e3779b97f4a7c15ULL;
    if (!seen)
        return sa->error = "out of memory", NULL;
    int last = 0;
    __atomic_add_fetch(sa->started, 1, __ATOMIC_RELEASE);
    while (!last && !sa->error) {
        last = __atomic_load_n(sa->done, __ATOMIC_ACQUIRE); /* one full pass after the end */
        for (size_t j = 0; j < o->n; j++) {
            size_t i = (size_t)(mb_splitmix64(&rng) % o->n);
            uint64_t v;
            mb_fill_bytes(mb_key_at(&s, i), key, o->cfg.key_bytes);
            if (sa->ops->lookup(sa->m, key, val) != MB_FOUND) {
                sa->error = "a stable key was not found while a writer ran";
                break;
            }
            if (mb_decode_bytes(val, o->cfg.val_bytes, &v) || (uint32_t)v != (uint32_t)i) {
                sa->error = "a lookup returned a torn value or another key's value";
                break;
            }
            if (v >> 32 > o->rounds || v >> 32 < seen[i]) {
                sa->error = "a lookup returned a version never written or older than one seen";
                break;
            }
            seen[i] = v >> 32;
            sa->reads++;
        }
    }
    free(seen);
    return NULL;
}

static int cmd_stress(const opts *o)
{
    const mb_map_ops *ops = find_ops(o);
    if (!(ops->flags & MB_F_THREAD_SAFE))
        die_usage("map is not thread-safe", o->impl);
    if (!o->n || o->threads < 2 || o->threads > 64)
        die_usage("stress needs --n and 2..64 --threads (one writer, the rest readers)", NULL);
    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc a = mb_counter_alloc(&ctr);
    void *m = ops->create(&a, &o->cfg);
    if (!m)
        fail("%s: create failed", o->impl);
    mb_stream s = uniform_stream(o);
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    for (size_t i = 0; i < o->n; i++) {
        mb_fill_bytes(mb_key_at(&s, i), key, o->cfg.key_bytes);
        mb_fill_bytes(stress_val(i, 0), val, o->cfg.val_bytes);
        if (ops->insert(m, key, val) != MB_INSERTED)
            fail("%s: inserting the stable keys failed", o->impl);
    }
    pthread_t tid[64];
    stress_arg sa[64];
    int done = 0, started = 0;
    for (size_t t = 0; t < o->threads; t++) {
        sa[t] = (stress_arg){ ops, m, o, t, &done, &started, 0, NULL };
        if (pthread_create(&tid[t], NULL, stress_main, &sa[t]))
            fail("%s: pthread_create failed", o->impl);
    }
    uint64_t reads = 0;
    for (size_t t = 0; t < o->threads; t++) {
        pthread_join(tid[t], NULL);
        reads += sa[t].reads;
    }
    for (size_t t = 0; t < o->threads; t++)
        if (sa[t].error)
            fail("%s: %s %zu: %s", o->impl, t ? "reader" : "writer", t, sa[t].error);
    if (mb_map_count(ops, m) != o->n)
        fail("%s: count after stress is %zu, expected %zu", o->impl, mb_map_count(ops, m), o->n);
    const char *why = ops->check(m);
    if (why)
        fail("%s: check after stress: %s", o->impl, why);
    ops->destroy(m);
    if (ctr.live_bytes != 0)
        fail("%s: %" PRIu64 " bytes leaked after destroy", o->impl, (uint64_t)ctr.live_bytes);
    printf("stress ok: %s threads=%zu n=%zu rounds=%zu reads=%" PRIu64 "\n", o->impl, o->threads,
           o->n, o->rounds, reads);
    return 0;
}

/* The insert phase of both forms (mb_run_phase, and the lean prepare/run/verify)
 * on a map whose every allocation after create fails: the phase must stop at
 * the first failure (one failed call) and say out of memory. */
static int cmd_enomem(const opts *o)
{
    const mb_map_ops *ops = find_ops(o);
    for (int lean = 0; lean < 2; lean++) {
        mb_counter ctr;
        mb_counter_init(&ctr);
        mb_alloc a = mb_counter_alloc(&ctr);
        mb_stream s = uniform_stream(o);
        mb_prepared pp;
        if (lean && mb_phase_prepare(&pp, ops, &s, MB_PHASE_INSERT, o->n) != 0)
            fail("%s: prepare failed", o->impl);
        void *m = ops->create(&a, &o->cfg);
        if (!m)
            fail("%s: create failed", o->impl);
        mb_counter_fail_after(&ctr, 0);
        mb_phase_result r;
        if (lean) {
            mb_phase_run_prepared(&pp, m);
            r = mb_phase_verify(&pp);
            mb_phase_release(&pp);
        } else {
            r = mb_run_phase(ops, m, &s, MB_PHASE_INSERT, o->n);
        }
        printf("%s failed_calls=%" PRId64 " error=%s\n", lean ? "lean" : "phase", ctr.failed_calls,
               r.error ? r.error : "none");
        mb_counter_fail_after(&ctr, MB_COUNTER_NEVER_FAIL);
        ops->destroy(m);
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    if (argc < 2)
        die_usage("missing command", NULL);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "list"))
        return cmd_list();
    parse_opts(argc, argv, &o);
    if (!strcmp(argv[1], "replay"))
        return cmd_replay(&o);
    if (!strcmp(argv[1], "sweep"))
        return cmd_sweep(&o);
    if (!strcmp(argv[1], "churn"))
        return cmd_churn(&o);
    if (!strcmp(argv[1], "threads"))
        return cmd_threads(&o);
    if (!strcmp(argv[1], "stress"))
        return cmd_stress(&o);
    if (!strcmp(argv[1], "enomem"))
        return cmd_enomem(&o);
    die_usage("unknown command", argv[1]);
}
