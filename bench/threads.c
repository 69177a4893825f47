/*
 * threads — thread scaling of the thread-safe maps against the ceiling
 * (issue 14), a standalone report until the harness stores these rows.
 *
 *   mb_threads [--n N] [--ops OPS] [--mixes 100,90,50,0] [--threads 1,2,4]
 *              [--impl NAMES] [--reps R] [--seed S]
 *
 * For each lookup mix and thread count T it runs workloads/mixed.c's
 * mb_run_mixed_spec on every named map (default: every thread-safe map in
 * the registry; a map that is not thread-safe is accepted when every T is
 * 1, so an unsynchronized map doing the same writes, swiss say, can be set
 * beside the thread-safe ones at 1 thread), and, right before each such
 * run, mb_run_mixed_ceiling on a read-only swiss table with the same
 * scripts and no synchronisation (this VM is shared and noisy: a ratio
 * between runs seconds apart means more than one between runs minutes
 * apart).  Each map holds keys [0, N)
 * (inserted untimed) and gets one untimed lookup pass over all of them
 * before it is measured, as the harness's lookup_hit phase would: that pass
 * is what promotes syncmap's dirty map to its read map (Go's sync.Map does
 * the same after len(dirty) misses), so the figures are its steady state.
 * OPS operations per run (default max(N, 1e6)) are split between the T
 * threads; each cell is the median of R runs (default 5), every run's
 * checksum verified, with the min..max spread printed beside it.
 *
 * Columns: Mops/s (total over the threads); x1 = the median over the
 * repetitions of the map's rate at T over its rate at the first T in the
 * same repetition; ceil and ceil_x1 the same for the ceiling; xceil = the
 * median of the map's rate over the ceiling's run right before it.  Beside
 * x1 and xceil, from R >= 6 repetitions on, a distribution-free 95% interval
 * of that median (two order statistics of the per-repetition ratios, chosen
 * by the binomial distribution: no assumption about the host's noise), so
 * "0.84 against a line at 0.85" can be read as below it or as undecided.
 * T above the online CPU count is marked oversubscribed.
 * Exit: 0, 1 when a run failed its checksum (message on stderr), 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "../impls/mb_map.h"
#include "../workloads/workload.h"

#define TH_MAX_LIST 16
#define TH_MAX_REPS 64

typedef struct th_opts {
    size_t n, ops, reps;
    uint64_t seed;
    unsigned mixes[TH_MAX_LIST], threads[TH_MAX_LIST];
    size_t n_mixes, n_threads;
    const mb_map_ops *impls[64];
    size_t n_impls;
} th_opts;

static void th_usage(FILE *f)
{
    fprintf(f, "usage: mb_threads [--n N] [--ops OPS] [--mixes 100,90,50,0] [--threads 1,2,4]\n"
               "                  [--impl NAMES] [--reps R] [--seed S]\n"
               "  --mixes   lookup percent of each mix (the rest: insert/remove pairs)\n"
               "  --impl    comma-separated thread-safe maps (default: every one registered);\n"
               "            with --threads 1 any map (swiss: the unsynchronized reference)\n");
}

static _Noreturn void th_die_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "mb_threads: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    th_usage(stderr);
    exit(2);
}

static size_t th_parse_size(const char *s, const char *flag)
{
    char *end;
    errno = 0;
    double v = strtod(s ? s : "", &end); /* accepts 1e6 */
    if (!s || errno || *end || end == s || v < 0 || v > 1e15 || v != (double)(size_t)v)
        th_die_usage("expected a count after", flag);
    return (size_t)v;
}

/* Parses "a,b,c" into out (at most TH_MAX_LIST).  Returns the count. */
static size_t th_parse_list(const char *s, const char *flag, unsigned *out, unsigned max)
{
    size_t n = 0;
    char buf[256];
    if (!s || strlen(s) >= sizeof buf)
        th_die_usage("expected a short comma-separated list after", flag);
    strcpy(buf, s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        size_t v = th_parse_size(tok, flag);
        if (n == TH_MAX_LIST || v > max)
            th_die_usage("list item out of range (or too many) in", flag);
        out[n++] = (unsigned)v;
    }
    if (!n)
        th_die_usage("empty list after", flag);
    return n;
}

static void th_parse_impls(const char *s, th_opts *o)
{
    char buf[1024];
    if (!s || strlen(s) >= sizeof buf)
        th_die_usage("expected map names after", "--impl");
    strcpy(buf, s);
    o->n_impls = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const mb_map_ops *ops = mb_registry_find(tok);
        if (!ops)
            th_die_usage("no such map", tok);
        if (o->n_impls == sizeof o->impls / sizeof o->impls[0])
            th_die_usage("too many maps", tok);
        o->impls[o->n_impls++] = ops;
    }
}

static void th_parse(int argc, char **argv, th_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n = 1000000;
    o->reps = 5;
    o->seed = 0x5eed;
    o->n_mixes = th_parse_list("100,90,50,0", "--mixes", o->mixes, 100);
    o->n_threads = th_parse_list("1,2,4", "--threads", o->threads, 64);
    for (const mb_map_ops *const *p = mb_registry; *p; p++)
        if ((*p)->flags & MB_F_THREAD_SAFE)
            o->impls[o->n_impls++] = *p;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            th_usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--n")) {
            o->n = th_parse_size(v, a), i++;
        } else if (!strcmp(a, "--ops")) {
            o->ops = th_parse_size(v, a), i++;
        } else if (!strcmp(a, "--reps")) {
            o->reps = th_parse_size(v, a), i++;
        } else if (!strcmp(a, "--seed")) {
            o->seed = th_parse_size(v, a), i++;
        } else if (!strcmp(a, "--mixes")) {
            o->n_mixes = th_parse_list(v, a, o->mixes, 100), i++;
        } else if (!strcmp(a, "--threads")) {
            o->n_threads = th_parse_list(v, a, o->threads, 64), i++;
        } else if (!strcmp(a, "--impl")) {
            th_parse_impls(v, o), i++;
        } else {
            th_die_usage("unknown argument", a);
        }
    }
    if (o->n == 0 || o->reps == 0 || o->reps > TH_MAX_REPS)
        th_die_usage("--n must be >= 1 and --reps 1..64", NULL);
    for (size_t t = 0; t < o->n_threads; t++) {
        if (o->threads[t] == 0)
            th_die_usage("--threads wants counts in 1..64", NULL);
        for (size_t i = 0; i < o->n_impls; i++)
            if (o->threads[t] > 1 && !(o->impls[i]->flags & MB_F_THREAD_SAFE))
                th_die_usage("map is not thread-safe (it runs only with --threads 1)",
                             o->impls[i]->name);
    }
    if (!o->ops)
        o->ops = o->n > 1000000 ? o->n : 1000000;
}

/* ---- measuring ------------------------------------------------------------- */

typedef struct th_cell {
    double mops[TH_MAX_REPS];  /* the map, per repetition */
    double ceil[TH_MAX_REPS];  /* the ceiling, run right before it */
} th_cell;

static int th_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define TH_CI_TAIL 0.025 /* each side of the median's 95% interval */

/* The rank k of the distribution-free 95% interval of the median of n
 * samples (the k-th smallest to the k-th largest): the largest k with
 * P(Binomial(n, 1/2) < k) <= TH_CI_TAIL, the chance that fewer than k
 * samples fall below the true median.  0 when no pair of samples reaches 95%
 * (n < 6: even min..max covers only 1 - 2^(1-n)). */
static size_t th_ci_rank(size_t n)
{
    double tail = 0, term = 1; /* term: P(Bin = k), first 2^-n */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        term *= 0.5;
    while (k < n / 2 && tail + term <= TH_CI_TAIL) {
        tail += term;
        term = term * (double)(n - k) / (double)(k + 1); /* P(Bin = k + 1) */
        k++;
    }
    return k;
}

/* n >= 1 samples summed up from one sorted copy. */
typedef struct th_summary {
    double median, min, max;
    int has_ci;         /* n >= 6: [ci_lo, ci_hi] is the median's 95% interval */
    double ci_lo, ci_hi;
} th_summary;

static th_summary th_summarize(const double *v, size_t n)
{
    double tmp[TH_MAX_REPS];
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof tmp[0], th_cmp);
    th_summary s = { .median = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2,
                     .min = tmp[0], .max = tmp[n - 1] };
    size_t k = th_ci_rank(n);
    if (k > 0) {
        s.has_ci = 1;
        s.ci_lo = tmp[k - 1];
        s.ci_hi = tmp[n - k];
    }
    return s;
}

/* Bytes of an interval's text: " [%4.2f..%4.2f]" is 14 for ratios below 10 and longer
 * above; a bound too wide for the buffer is written %.3g (at most 10 characters). */
#define TH_CI_TEXT_BYTES 32

/* Writes " [lo..hi]", the median's 95% interval, into buf, or, when there
 * are too few samples for one, blanks of the same width (pad) or nothing. */
static const char *th_interval_text(const th_summary *s, int pad,
                                    char buf[static TH_CI_TEXT_BYTES])
{
    if (!s->has_ci)
        snprintf(buf, TH_CI_TEXT_BYTES, "%*s", pad ? 13 : 0, "");
    else if (snprintf(buf, TH_CI_TEXT_BYTES, " [%4.2f..%4.2f]", s->ci_lo, s->ci_hi) >=
             TH_CI_TEXT_BYTES)
        snprintf(buf, TH_CI_TEXT_BYTES, " [%.3g..%.3g]", s->ci_lo, s->ci_hi);
    return buf;
}

/* Runs one mixed (or ceiling) run.  Returns Mops/s, or a negative value
 * with the error printed. */
static double th_run(const th_opts *o, const mb_map_ops *ops, void *m, const mb_stream *s,
                     unsigned mix, unsigned threads, int ceiling)
{
    mb_mixed_spec spec = { threads, o->ops / threads, mix };
    uint64_t wall_ns;
    mb_phase_result res = ceiling ? mb_run_mixed_ceiling(ops, m, s, o->n, &spec, &wall_ns)
                                  : mb_run_mixed_spec(ops, m, s, o->n, &spec, &wall_ns);
    if (res.error) {
        fprintf(stderr, "mb_threads: %s mix=%u T=%u: %s\n", ceiling ? "ceiling" : ops->name, mix,
                threads, res.error);
        return -1.0;
    }
    return (double)res.ops / ((double)wall_ns * 1e-3);
}

/* Builds ops' map holding keys [0, n) and warms it with one lookup pass.
 * Returns the map or NULL (error printed). */
static void *th_build(const th_opts *o, const mb_map_ops *ops, const mb_alloc *a,
                      const mb_stream *s)
{
    mb_map_config cfg = { s->key_bytes, s->val_bytes, 0, MB_SHRINK_NEVER, 0, o->seed };
    const char *why = mb_config_unsupported(ops, &cfg);
    void *m = why ? NULL : ops->create(a, &cfg);
    if (!m) {
        fprintf(stderr, "mb_threads: %s: cannot build: %s\n", ops->name, why ? why : "ENOMEM");
        return NULL;
    }
    mb_phase_result r = mb_run_phase(ops, m, s, MB_PHASE_INSERT, o->n);
    if (!r.error)
        r = mb_run_phase(ops, m, s, MB_PHASE_LOOKUP_HIT, o->n);
    if (r.error) {
        fprintf(stderr, "mb_threads: %s: building: %s\n", ops->name, r.error);
        ops->destroy(m);
        return NULL;
    }
    return m;
}

/* Measures one map at one mix over every T, repetitions interleaved: each
 * repetition runs, for each T, the ceiling and then the map, so a ratio is
 * taken between runs seconds apart, not minutes.  Returns 0 or -1. */
static int th_measure_mix(const th_opts *o, const mb_map_ops *ops, void *m,
                          const mb_map_ops *cops, void *cm, const mb_stream *s, unsigned mix,
                          th_cell *cells)
{
    for (size_t r = 0; r < o->reps; r++)
        for (size_t t = 0; t < o->n_threads; t++) {
            double c = th_run(o, cops, cm, s, mix, o->threads[t], 1);
            double x = c < 0 ? c : th_run(o, ops, m, s, mix, o->threads[t], 0);
            if (x < 0)
                return -1;
            cells[t].ceil[r] = c;
            cells[t].mops[r] = x;
        }
    return 0;
}

/* Prints one row per T: medians of the map and of the ceiling, the map's
 * spread, and the medians of the per-repetition ratios. */
static void th_print_mix(const th_opts *o, const char *name, unsigned mix, const th_cell *cells,
                         long cpus)
{
    for (size_t t = 0; t < o->n_threads; t++) {
        double x1[TH_MAX_REPS], xc[TH_MAX_REPS], c1[TH_MAX_REPS];
        for (size_t r = 0; r < o->reps; r++) {
            x1[r] = cells[t].mops[r] / cells[0].mops[r];
            c1[r] = cells[t].ceil[r] / cells[0].ceil[r];
            xc[r] = cells[t].mops[r] / cells[t].ceil[r];
        }
        th_summary mops = th_summarize(cells[t].mops, o->reps);
        th_summary ceil = th_summarize(cells[t].ceil, o->reps);
        th_summary sx1 = th_summarize(x1, o->reps), sc1 = th_summarize(c1, o->reps);
        th_summary sxc = th_summarize(xc, o->reps);
        char x1_ci[TH_CI_TEXT_BYTES], xc_ci[TH_CI_TEXT_BYTES];
        printf("%-12s %3u/%-3u %2u  %8.2f  [%7.2f..%7.2f]  x1=%5.2f%s  ceil=%7.2f  ceil_x1=%5.2f"
               "  xceil=%5.2f%s%s\n",
               name, mix, 100 - mix, o->threads[t], mops.median, mops.min, mops.max, sx1.median,
               th_interval_text(&sx1, 1, x1_ci), ceil.median, sc1.median, sxc.median,
               th_interval_text(&sxc, 0, xc_ci),
               (long)o->threads[t] > cpus ? "  oversubscribed" : "");
    }
}

int main(int argc, char **argv)
{
    th_opts o;
    th_parse(argc, argv, &o);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    mb_stream s = { .dist = MB_DIST_UNIFORM, .seed = o.seed, .key_bytes = 8, .val_bytes = 8 };
    static th_cell cells[TH_MAX_LIST];
    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc a = mb_counter_alloc(&ctr);
    int failed = 0;

    printf("# mb_threads: n=%zu ops/run=%zu reps=%zu cpus=%ld u64->u64 uniform\n"
           "# Mops/s: median [min..max] of the map; x1: median ratio to its own first-T run;\n"
           "# ceil: the unsynchronized read-only swiss run right before it; xceil: median ratio\n"
           "# [lo..hi] beside x1 and xceil: the 95%% interval of that median (from 6 reps on)\n",
           o.n, o.ops, o.reps, cpus);
    const mb_map_ops *cops;
    const char *err;
    void *cm = mb_ceiling_map_build(&a, &s, o.n, &cops, &err);
    if (!cm) {
        fprintf(stderr, "mb_threads: ceiling: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < o.n_impls && !failed; i++) {
        const mb_map_ops *ops = o.impls[i];
        void *m = th_build(&o, ops, &a, &s);
        if (!m) {
            failed = 1;
            break;
        }
        for (size_t x = 0; x < o.n_mixes && !failed; x++) {
            if (th_measure_mix(&o, ops, m, cops, cm, &s, o.mixes[x], cells) != 0)
                failed = 1;
            else
                th_print_mix(&o, ops->name, o.mixes[x], cells, cpus);
            fflush(stdout);
        }
        const char *why = ops->check(m);
        if (why) {
            fprintf(stderr, "mb_threads: %s: check after the runs: %s\n", ops->name, why);
            failed = 1;
        }
        ops->destroy(m);
    }
    cops->destroy(cm);
    if (ctr.live_bytes != 0) {
        fprintf(stderr, "mb_threads: %lld bytes leaked\n", (long long)ctr.live_bytes);
        failed = 1;
    }
    return failed;
}
