/*
 * lookup_loop.c — the standalone minimal lookup loop: the reference the
 * suite's timed phases are held against (issue 12).
 *
 * For each map and N it builds the map through the same vtable and counting
 * allocator as the harness, fills it with the stream's keys [0, N) (uniform
 * u64 -> u64, the same seed as `mapbench time`), and times the smallest loop
 * that still uses every answer:
 *
 *   lookup_hit    for i in [0, N):  lookup(key i, &v); sum += v
 *   lookup_miss   for i in [N, 2N): found += lookup(key i, &v)
 *
 * with the key either computed inline (splitmix64 of a running state, as
 * mb_key_at does; --keys inline) or loaded from an array made before the
 * clock (--keys array); --keys lean runs the suite's own timed loop
 * (mb_phase_prepare / mb_phase_run_prepared, workloads/workload.h) on the same
 * map in the same process, to tell the loop's cost from the process's state.
 * A repetition is ceil(200000 / N) passes, as in
 * `mapbench time`; each repetition's ns/op is printed, then the min and the
 * median.  By default one map serves every repetition (hits first, then
 * misses); --fresh builds a new one before each repetition and --warm W runs
 * W untimed passes first, to hold the loop to `mapbench time`'s schedule
 * (which builds per repetition) and tell a young map from an old one.  After the clock the sum and the count are compared with the
 * values the stream says (a wrong map exits 1): a benchmark, never an assert
 * on time.
 *
 * Output, one TSV line per (map, N, phase, key mode):
 *   impl  n  phase  keys  hugepages  reps  min_ns_per_op  median_ns_per_op
 * preceded by "# thp enabled=<mode> defrag=<mode>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counting_alloc.h" /* harness/probe/ (mb_counting_alloc) */
#include "../workloads/workload.h"

#define LL_OPS_PER_REPETITION 200000u
#define LL_GAMMA 0x9e3779b97f4a7c15ULL

static uint64_t ll_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* splitmix64's output function: key i is ll_mix(seed + (i + 1) * GAMMA). */
static inline uint64_t ll_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int ll_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mb_lookup_loop [--impl a,b] [--n 1000,100000,1000000] [--reps R]\n"
               "                      [--keys inline|array|both|lean|all] [--hugepages] [--seed S]\n"
               "                      [--phase lookup_hit,lookup_miss] [--fresh] [--warm W]\n"
               "  Times the minimal lookup_hit / lookup_miss loop over each map (see the\n"
               "  top of bench/lookup_loop.c); prints TSV.\n"
               "  --hugepages   the counting allocator's blocks >= 2 MiB from mmap + MADV_HUGEPAGE\n"
               "  --phase       which lookups (default both, hit first)\n"
               "  --fresh       a newly built map before every repetition\n"
               "  --warm W      W untimed passes before each repetition's clock (--fresh) or\n"
               "                before the first (default 0)\n");
}

typedef struct ll_opts {
    const char *impls;
    size_t sizes[16], n_sizes;
    unsigned reps;
    int inline_keys, array_keys, lean, hugepages;
    int hit, miss;  /* which phases: lookup_hit, lookup_miss */
    int fresh;      /* a new map before every repetition (mapbench time's schedule at large N) */
    unsigned warm;  /* untimed passes before each repetition's clock (fresh) or the first */
    uint64_t seed;
} ll_opts;

/* Returns a new map of ops holding keys[0, n) with their values, or exits. */
static void *ll_build(const mb_map_ops *ops, mb_alloc *a, const mb_map_config *cfg,
                      const uint64_t *keys, size_t n)
{
    void *m = ops->create(a, cfg);
    if (!m) {
        fprintf(stderr, "mb_lookup_loop: %s: out of memory\n", ops->name);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t v = mb_val_for(keys[i]);
        if (ops->insert(m, &keys[i], &v) != MB_INSERTED) {
            fprintf(stderr, "mb_lookup_loop: %s: insert failed\n", ops->name);
            exit(1);
        }
    }
    return m;
}

/* What one pass saw: hits sum their values, misses count what was found. */
typedef struct ll_seen {
    uint64_t sum;
    size_t found;
} ll_seen;

/* One pass of `mode` (0 inline keys, 1 array keys, 2 the suite's lean loop
 * prepared in pp) over map m: lookup_hit keys [0, n) or lookup_miss [n, 2n). */
static ll_seen ll_pass(int mode, int miss, const mb_map_ops *ops, void *m, const uint64_t *kk,
                       uint64_t base, size_t n, mb_prepared *pp, uint64_t want_sum)
{
    int (*lookup)(void *, const void *, void *) = ops->lookup;
    ll_seen r = { 0, 0 };
    uint64_t v = 0;
    if (mode == 0) { /* keys computed inline */
        uint64_t st = base;
        for (size_t i = 0; i < n; i++) {
            uint64_t k = ll_mix(st += LL_GAMMA);
            if (miss)
                r.found += (size_t)lookup(m, &k, &v);
            else {
                lookup(m, &k, &v);
                r.sum += v;
            }
        }
    } else if (mode == 2) { /* the suite's own timed loop (workload.h) */
        mb_phase_run_prepared(pp, m);
        int bad = mb_phase_verify(pp).error != NULL;
        r.sum = miss || bad ? 0 : want_sum; /* checked by the caller like the others */
        r.found = (size_t)bad;
    } else { /* keys from the array */
        for (size_t i = 0; i < n; i++) {
            if (miss)
                r.found += (size_t)lookup(m, &kk[i], &v);
            else {
                lookup(m, &kk[i], &v);
                r.sum += v;
            }
        }
    }
    return r;
}

/* One (map, N): returns 0, or 1 when an answer was wrong. */
static int ll_case(const ll_opts *o, const mb_map_ops *ops, size_t n)
{
    mb_counter ctr;
    mb_counter_init(&ctr);
    ctr.hugepages = o->hugepages;
    mb_alloc a = mb_counter_alloc(&ctr);
    mb_map_config cfg = { 8, 8, 0, MB_SHRINK_NEVER, 0, o->seed };
    if (mb_config_unsupported(ops, &cfg))
        return 0;
    uint64_t *keys = malloc(2 * n * sizeof *keys);
    if (!keys) {
        fprintf(stderr, "mb_lookup_loop: %s: out of memory\n", ops->name);
        exit(1);
    }
    mb_stream s = { .dist = MB_DIST_UNIFORM, .seed = o->seed, .key_bytes = 8, .val_bytes = 8 };
    uint64_t want_sum = 0;
    for (size_t i = 0; i < 2 * n; i++)
        keys[i] = mb_key_at(&s, i);
    for (size_t i = 0; i < n; i++)
        want_sum += mb_val_for(keys[i]);
    void *m = ll_build(ops, &a, &cfg, keys, n);
    size_t passes = (LL_OPS_PER_REPETITION + n - 1) / n;
    double *ns = malloc(o->reps * sizeof *ns);
    int bad = 0;
    static const char *const mode_names[] = { "inline", "array", "lean" };
    for (int miss = 0; miss < 2; miss++)
        for (int mode = 0; mode < 3; mode++) {
            if ((miss ? !o->miss : !o->hit) ||
                (mode == 0 && !o->inline_keys) || (mode == 1 && !o->array_keys) ||
                (mode == 2 && !o->lean))
                continue;
            mb_prepared pp;
            if (mode == 2 && mb_phase_prepare(&pp, ops, &s, miss ? MB_PHASE_LOOKUP_MISS
                                                                 : MB_PHASE_LOOKUP_HIT, n) != 0) {
                fprintf(stderr, "mb_lookup_loop: %s: %s\n", ops->name, pp.error);
                exit(1);
            }
            pp.check_each = 0; /* as mapbench time's timed passes */
            const uint64_t *kk = keys + (miss ? n : 0);
            uint64_t base = o->seed + (miss ? n : 0) * LL_GAMMA;
            for (unsigned r = 0; r < o->reps; r++) {
                ll_seen seen = { 0, 0 };
                if (o->fresh) { /* mapbench time's schedule: a new map per repetition */
                    ops->destroy(m);
                    mb_counter_init(&ctr);
                    ctr.hugepages = o->hugepages;
                    m = ll_build(ops, &a, &cfg, keys, n);
                }
                for (unsigned w = 0; w < ((o->fresh || r == 0) ? o->warm : 0); w++) {
                    ll_seen ws = ll_pass(mode, miss, ops, m, kk, base, n, &pp, want_sum);
                    seen.sum += ws.sum - want_sum * !miss, seen.found += ws.found;
                }
                uint64_t t0 = ll_now_ns();
                for (size_t p = 0; p < passes; p++) {
                    ll_seen ps = ll_pass(mode, miss, ops, m, kk, base, n, &pp, want_sum);
                    seen.sum += ps.sum, seen.found += ps.found;
                }
                uint64_t t1 = ll_now_ns();
                ns[r] = (double)(t1 - t0) / (double)(passes * n);
                if (miss ? seen.found != 0 : seen.sum != want_sum * passes || seen.found) {
                    fprintf(stderr, "mb_lookup_loop: %s n=%zu %s: wrong answers\n", ops->name, n,
                            miss ? "lookup_miss" : "lookup_hit");
                    bad = 1;
                }
            }
            if (mode == 2)
                mb_phase_release(&pp);
            for (unsigned r = 0; r < o->reps; r++)
                fprintf(stderr, "  %s n=%zu %s %s rep %u: %.3f ns/op\n", ops->name, n,
                        miss ? "lookup_miss" : "lookup_hit", mode_names[mode], r, ns[r]);
            qsort(ns, o->reps, sizeof *ns, ll_cmp);
            printf("%s\t%zu\t%s\t%s\t%d\t%u\t%.4f\t%.4f\n", ops->name, n,
                   miss ? "lookup_miss" : "lookup_hit", mode_names[mode], o->hugepages,
                   o->reps, ns[0], ns[o->reps / 2]);
            fflush(stdout);
        }
    free(ns);
    free(keys);
    ops->destroy(m);
    return bad;
}

int main(int argc, char **argv)
{
    ll_opts o = { "swiss,absl,oa_linear,chained,gomap", { 1000, 100000, 1000000 }, 3, 5, 1, 1,
                  0, 0, 1, 1, 0, 0, 0x6d61706265ULL /* mapbench's default seed */ };
    char *impls_buf;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--impl") && v) {
            o.impls = v, i++;
        } else if (!strcmp(argv[i], "--n") && v) {
            char *buf = strdup(v), *save = NULL;
            o.n_sizes = 0;
            for (char *t = strtok_r(buf, ",", &save); t && o.n_sizes < 16; t = strtok_r(NULL, ",", &save))
                o.sizes[o.n_sizes++] = (size_t)strtod(t, NULL);
            free(buf);
            i++;
        } else if (!strcmp(argv[i], "--reps") && v) {
            o.reps = (unsigned)atoi(v), i++;
        } else if (!strcmp(argv[i], "--seed") && v) {
            o.seed = strtoull(v, NULL, 0), i++;
        } else if (!strcmp(argv[i], "--keys") && v) {
            o.inline_keys = !strcmp(v, "inline") || !strcmp(v, "both") || !strcmp(v, "all");
            o.array_keys = !strcmp(v, "array") || !strcmp(v, "both") || !strcmp(v, "all");
            o.lean = !strcmp(v, "lean") || !strcmp(v, "all");
            if (!o.inline_keys && !o.array_keys && !o.lean) {
                fprintf(stderr, "mb_lookup_loop: --keys wants inline, array, both, lean or all\n");
                usage(stderr);
                return 2;
            }
            i++;
        } else if (!strcmp(argv[i], "--hugepages")) {
            o.hugepages = 1;
        } else if (!strcmp(argv[i], "--phase") && v) {
            o.hit = strstr(v, "lookup_hit") != NULL;
            o.miss = strstr(v, "lookup_miss") != NULL;
            if (!o.hit && !o.miss) {
                fprintf(stderr, "mb_lookup_loop: --phase wants lookup_hit, lookup_miss or both\n");
                usage(stderr);
                return 2;
            }
            i++;
        } else if (!strcmp(argv[i], "--fresh")) {
            o.fresh = 1;
        } else if (!strcmp(argv[i], "--warm") && v) {
            char *end;
            long w = strtol(v, &end, 10);
            if (w < 0 || w > 1000 || *end) {
                fprintf(stderr, "mb_lookup_loop: --warm wants 0..1000 passes\n");
                usage(stderr);
                return 2;
            }
            o.warm = (unsigned)w, i++;
        } else {
            fprintf(stderr, "mb_lookup_loop: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    for (size_t k = 0; k < o.n_sizes; k++)
        if (o.sizes[k] < 1 || o.reps < 1 || o.reps > 1000) {
            fprintf(stderr, "mb_lookup_loop: --n wants sizes >= 1, --reps 1..1000\n");
            return 2;
        }
    char en[32], df[32];
    mb_thp_mode("enabled", en, sizeof en);
    mb_thp_mode("defrag", df, sizeof df);
    printf("# thp enabled=%s defrag=%s\n", en, df);
    printf("impl\tn\tphase\tkeys\thugepages\treps\tmin_ns_per_op\tmedian_ns_per_op\n");
    impls_buf = strdup(o.impls);
    int bad = 0;
    char *save = NULL;
    for (char *name = strtok_r(impls_buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        const mb_map_ops *ops = mb_registry_find(name);
        if (!ops) {
            fprintf(stderr, "mb_lookup_loop: no map named '%s'\n", name);
            return 2;
        }
        for (size_t k = 0; k < o.n_sizes; k++)
            bad |= ll_case(&o, ops, o.sizes[k]);
    }
    free(impls_buf);
    return bad;
}
