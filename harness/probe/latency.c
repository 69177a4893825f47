/*
 * latency.c — `mapbench latency-case`: the time of every single insert while
 * a map grows from empty to n entries.
 *
 * A throughput number hides how growth is paid for.  A map that rehashes
 * stop-the-world pays for the whole table on one insert; an incremental
 * design (gomap's evacuation) spreads it over many.  Both can have the same
 * ns/op; only the tail of the per-insert distribution tells them apart.
 *
 * Method
 *   - The samples array (one u64 per insert) is malloc'd and touched before
 *     the map exists, outside the counting allocator, so its page faults and
 *     bytes are nobody's insert.
 *   - Each insert is bracketed by the timestamp counter: lfence; rdtsc;
 *     lfence on both sides (the lfence before the second read waits for the
 *     insert's instructions to finish; rdtscp is not used because not every
 *     virtual CPU exposes it).  Key and value bytes are built before the first
 *     read.  Off x86 the counter is CLOCK_MONOTONIC in ns.
 *   - Timer overhead: the median of LT_OVERHEAD_PAIRS back-to-back reads with
 *     nothing between them, subtracted from every sample (clamped at 0).  The
 *     L line reports it, so a reader can add it back.  The comment line also
 *     gives the counter's resolution (the gcd of those differences): a
 *     virtual CPU may move the TSC in steps of ~10 ns, and then so do all
 *     the numbers.
 *   - Cycles -> ns: TSC ticks against CLOCK_MONOTONIC from before the overhead
 *     measurement to after the last insert, padded to at least
 *     LT_CALIBRATE_MIN_NS so short runs still calibrate well.
 *   - Checks: every insert must return MB_INSERTED, the final count must be n,
 *     and check() must pass; otherwise an E line, a message on stderr, exit 1,
 *     and no L line.
 *
 * Output (tab-separated; lines starting with '#' are comments or headers):
 *   # free text: the case, the clock, the calibration, what was subtracted
 *   #L  n  p50_ns  p90_ns  p99_ns  p999_ns  max_ns  mean_ns  timer_overhead_ns  grow_events
 *   L   ...one line...
 *   #H  low_ns  high_ns  count
 *   H   ...one line per non-empty bucket, ascending...
 *   E   message                          (only on a failed check)
 * Percentiles are nearest-rank over all n samples (p999 = 99.9th).  All
 * times are ns after subtracting timer_overhead_ns, at full precision (%.17g).
 * grow_events is the map's own stats().grow_events after the run, "NA" when
 * the map does not count them.  Histogram bucket k holds samples with
 * floor(ns) in [2^k, 2^(k+1)), bucket 0 holds [0, 2): low_ns = 0 or 2^k,
 * high_ns = 2^(k+1) (exclusive).  The counts sum to n.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define LT_CLOCK_NAME "tsc (lfence; rdtsc; lfence)"
/* Returns the timestamp counter once every earlier instruction has finished
 * and before any later one starts. */
static inline uint64_t lt_read(void)
{
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}
#else
#define LT_CLOCK_NAME "clock_gettime(CLOCK_MONOTONIC)"
static inline uint64_t lt_read(void)
{
    return mb_now_ns();
}
#endif

#define LT_OVERHEAD_PAIRS 10001u           /* odd: the median is one sample */
#define LT_CALIBRATE_MIN_NS 20000000ull    /* 20 ms of CLOCK_MONOTONIC at least */
#define LT_BUCKETS 64

static int lt_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t lt_gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Returns the median cost, in ticks, of two back-to-back lt_read()s, and in
 * *resolution the step the counter moves in (the gcd of the differences):
 * some virtual CPUs advance the TSC in steps of tens of ticks, and no sample
 * is finer than that. */
static uint64_t lt_timer_overhead(uint64_t *resolution)
{
    static uint64_t d[LT_OVERHEAD_PAIRS];
    uint64_t g = 0;
    for (unsigned i = 0; i < LT_OVERHEAD_PAIRS; i++) {
        uint64_t t0 = lt_read();
        uint64_t t1 = lt_read();
        d[i] = t1 - t0;
        g = lt_gcd(d[i], g);
    }
    qsort(d, LT_OVERHEAD_PAIRS, sizeof *d, lt_cmp_u64);
    *resolution = g ? g : 1;
    return d[LT_OVERHEAD_PAIRS / 2];
}

/* Returns the nearest-rank p-quantile (0 < p <= 1) of sorted[0..n). */
static uint64_t lt_quantile(const uint64_t *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p * (double)n - 1e-9); /* 1e-9: 0.9 * 20000 is not 18000 */
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* Returns the histogram bucket of a sample of ns nanoseconds. */
static unsigned lt_bucket(double ns)
{
    uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
    return v < 2 ? 0 : 63u - (unsigned)__builtin_clzll(v);
}

/* Inserts keys [0, n) of pc's stream into its map, each insert timed into
 * ticks[i].  *wrong counts inserts that did not return MB_INSERTED; the first
 * is key #*first_wrong, which got *first_rc. */
static void lt_inserts(mb_probe_case *pc, uint64_t *ticks, size_t *wrong, size_t *first_wrong,
                       int *first_rc)
{
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    const mb_stream *s = &pc->stream;
    *wrong = *first_wrong = 0;
    *first_rc = 0;
    for (size_t i = 0; i < pc->n; i++) {
        uint64_t k = mb_key_at(s, i);
        mb_fill_bytes(k, key, s->key_bytes);
        mb_fill_bytes(mb_val_for(k), val, s->val_bytes);
        uint64_t t0 = lt_read();
        int rc = pc->ops->insert(pc->map, key, val);
        uint64_t t1 = lt_read();
        ticks[i] = t1 - t0;
        if (rc != MB_INSERTED && (*wrong)++ == 0)
            *first_wrong = i, *first_rc = rc;
    }
}

/* The timestamp counter as this run measured it. */
typedef struct lt_clock {
    uint64_t overhead;       /* ticks of two back-to-back reads (median) */
    uint64_t resolution;     /* ticks the counter moves in */
    double ns_per_tick;
    uint64_t calibrated_ns;  /* CLOCK_MONOTONIC span of the calibration */
} lt_clock;

/* Prints the comments, the L record and the H records of n samples of raw
 * ticks (overhead subtracted here; ticks is sorted in place). */
static void lt_report(const mb_case_args *args, size_t hint, uint64_t *ticks, const lt_clock *clk,
                      size_t grow_events)
{
    size_t n = args->n;
    uint64_t overhead = clk->overhead;
    double ns_per_tick = clk->ns_per_tick;
    /* Net ticks per insert, then the histogram, mean and quantiles. */
    size_t hist[LT_BUCKETS] = { 0 };
    double sum_ns = 0;
    for (size_t i = 0; i < n; i++) {
        ticks[i] = ticks[i] > overhead ? ticks[i] - overhead : 0;
        double ns = (double)ticks[i] * ns_per_tick;
        sum_ns += ns;
        hist[lt_bucket(ns)]++;
    }
    qsort(ticks, n, sizeof *ticks, lt_cmp_u64);

    printf("# latency-case impl=%s n=%zu hint=%zu blueprint=%s dist=%s seed=%llu\n",
           args->ops->name, n, hint, args->bp->name, mb_dist_name(args->dist),
           (unsigned long long)args->seed);
    printf("# clock %s, %.4f ticks/ns calibrated against CLOCK_MONOTONIC over %.1f ms, "
           "resolution %llu ticks = %.1f ns; timer overhead (median of %u back-to-back reads) "
           "subtracted from every sample\n",
           LT_CLOCK_NAME, 1.0 / ns_per_tick, (double)clk->calibrated_ns / 1e6,
           (unsigned long long)clk->resolution, (double)clk->resolution * ns_per_tick,
           LT_OVERHEAD_PAIRS);
    mb_rec_out o;
    mb_rec_header(stdout, &mb_rec_latency);
    mb_rec_begin(&o, stdout, &mb_rec_latency);
    mb_rec_int(&o, (long long)n);
    static const double qs[] = { 0.50, 0.90, 0.99, 0.999, 1.0 };
    for (size_t q = 0; q < sizeof qs / sizeof *qs; q++)
        mb_rec_real(&o, (double)lt_quantile(ticks, n, qs[q]) * ns_per_tick);
    mb_rec_real(&o, sum_ns / (double)n);
    mb_rec_real(&o, (double)overhead * ns_per_tick);
    mb_rec_count(&o, grow_events == MB_NA ? -1 : (long long)grow_events);
    mb_rec_end(&o);
    mb_rec_header(stdout, &mb_rec_bucket);
    for (unsigned k = 0; k < LT_BUCKETS; k++)
        if (hist[k]) {
            mb_rec_begin(&o, stdout, &mb_rec_bucket);
            mb_rec_real(&o, k ? (double)(1ull << k) : 0.0);
            mb_rec_real(&o, k < 63 ? (double)(2ull << k) : 18446744073709551616.0);
            mb_rec_int(&o, (long long)hist[k]);
            mb_rec_end(&o);
        }
}

static void lt_fail(const mb_map_ops *ops, size_t n, const char *msg)
{
    printf("E\t%s\n", msg);
    fprintf(stderr, "mapbench: latency-case %s n=%zu: %s\n", ops->name, n, msg);
}

static int mb_cmd_latency_case(int argc, char **argv)
{
    const mb_command *cmd = &mb_command_latency_case;
    mb_case_args args;
    size_t hint = 0;

    mb_inline_case_args(&args, argc, argv, cmd, "--hint", &hint);
    const mb_map_ops *ops = args.ops;
    size_t n = args.n;
    mb_map_config cfg;
    if (!mb_case_config(ops, args.bp, hint, args.shrink, args.seed, &cfg))
        mb_usage_error(cmd, "%s does not support blueprint %s", ops->name, args.bp->name);

    /* The samples first, faulted in, outside the map's allocator. */
    uint64_t *ticks = malloc(n * sizeof *ticks);
    if (!ticks) {
        fprintf(stderr, "mapbench: latency-case: no memory for %zu samples\n", n);
        return 1;
    }
    memset(ticks, 0, n * sizeof *ticks);

    mb_probe_case pc;
    const char *why = mb_case_open(&pc, ops, args.bp, args.dist, n, hint, args.shrink, args.seed);
    uint64_t cal_ns0 = mb_now_ns(), cal_tick0 = lt_read();
    uint64_t resolution;
    uint64_t overhead = lt_timer_overhead(&resolution);
    if (!why)
        why = mb_case_build(&pc, MB_PHASE_INSERT); /* an empty map */
    if (why) {
        free(ticks);
        fprintf(stderr, "mapbench: latency-case %s: %s\n", ops->name, why);
        return 1;
    }
    size_t wrong, first_wrong;
    int first_rc;
    lt_inserts(&pc, ticks, &wrong, &first_wrong, &first_rc);
    while (mb_now_ns() - cal_ns0 < LT_CALIBRATE_MIN_NS)
        ;
    uint64_t cal_tick1 = lt_read(), cal_ns1 = mb_now_ns();
    double ns_per_tick = (double)(cal_ns1 - cal_ns0) / (double)(cal_tick1 - cal_tick0);

    /* Verify before reporting anything: a wrong map gets no latency. */
    char msg[MB_ERR_LEN];
    void *m = pc.map;
    size_t count = mb_map_count(ops, m);
    mb_map_stats st;
    ops->stats(m, &st);
    if (wrong) {
        snprintf(msg, sizeof msg, "%zu of %zu inserts did not return MB_INSERTED (first: key #%zu got %d)",
                 wrong, n, first_wrong, first_rc);
        why = msg;
    } else if (count != n) {
        snprintf(msg, sizeof msg, "count %zu after %zu inserts", count, n);
        why = msg;
    } else if ((why = ops->check(m)) != NULL) {
        snprintf(msg, sizeof msg, "check: %s", why);
        why = msg;
    }
    mb_case_close(&pc);
    if (why) {
        lt_fail(ops, n, why);
        free(ticks);
        return 1;
    }

    lt_clock clk = { overhead, resolution, ns_per_tick, cal_ns1 - cal_ns0 };
    lt_report(&args, hint, ticks, &clk, st.grow_events);
    free(ticks);
    return 0;
}

const mb_command mb_command_latency_case = {
    "latency-case",
    "time every insert while a map grows: percentiles, histogram",
    "usage: mapbench latency-case --impl NAME --n N [--hint H] [--blueprint B] [--dist D]\n"
    "                             [--seed S]\n"
    "  Inserts N keys into an empty map (no hint unless --hint), timing every insert\n"
    "  with the timestamp counter; prints the percentiles (L line) and a log2\n"
    "  histogram (H lines) in ns, timer overhead subtracted.  Stop-the-world\n"
    "  rehashes show as single-insert outliers.\n",
    mb_cmd_latency_case,
};
