/*
 * timing.c — `mapbench time`: the timed cases, run through Google Benchmark.
 *
 * Each case times one phase with mapbench's own monotonic clock and hands
 * the time to the library as manual iteration time.  The clock covers only
 * the lean loop of the phase (mb_phase_run_prepared, workloads/workload.h):
 * its keys are prepared before, its answers verified after.  Lookup phases
 * build the map once, run TC_WARM_PASSES untimed warm-up passes and time a
 * full pass per iteration; the others build a fresh map per iteration (untimed) and time
 * the phase on it.  Every iteration checks
 * the phase's checksum and the map's count afterwards: a wrong answer makes
 * the case fail (SkipWithError), it never produces a time.
 *
 * Google Benchmark's own timer runs only around that region too (paused for
 * every iteration's untimed work), so its cpu_time is the timed region's
 * thread CPU (mixed_rw: the process's, its threads'), and each run reports
 * the threads the case runs itself (gbench_shim.h, mbb_run).
 *
 * A repetition's ns_per_op (the S record, the ns_per_op counter) is the
 * median over its iterations of each iteration's ns per op: on a shared
 * machine one iteration preempted by the scheduler (a 2 ms slice in a 2 ms
 * repetition reads 3-10x) would otherwise move the whole repetition, and the
 * gate's rank test with it.  A large case runs one iteration per repetition,
 * where the median is that iteration.  Google Benchmark's real_time stays
 * the mean of the iterations' manual times.
 *
 * mixed_rw (T threads, the case's mix) is read against its ceiling: the
 * same scripts run unsynchronized on a read-only swiss (workloads/mixed.c),
 * built once per case and run right after each timed run of the map, so
 * both see the machine in the same moment; its ns/op is the repetition's
 * ceiling_ns_per_op.  Before the first timed run of mixed_rw an untimed,
 * verified lookup pass runs over the map (a syncmap promotes its dirty map
 * there, as a Go program's warm sync.Map would have).
 *
 * With --emit-tsv (used by `mapbench run`), every repetition is printed as an
 * S record (record.h: case, repetition, iterations, ns_per_op, ceiling_ns_per_op)
 * and every failure as
 *   E <tab> case name <tab> message
 * instead of the library's report.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gbench_shim.h"
#include "probe.h"

/* Untimed, verified passes over a lookup phase's map before its clock.  The
 * map's steady state takes several passes to reach after its build: at 1e6
 * the standalone loop (bench/lookup_loop.c --fresh --warm W) read swiss
 * lookup_miss at 7.3-7.5 ns/op after 1 pass, 6.3-6.5 after 2, 4.5-4.8 after
 * 4 and 8, and 4.4-4.5 on one map read over and over (idle VM, 2026-12-01);
 * hits moved less.  Four passes: the "hot" lookups are a warm map's. */
#define TC_WARM_PASSES 4

typedef struct timed_case {
    const mb_case *c;
    uint64_t seed;
    size_t done_reps, total_reps;
    size_t index, count;      /* for progress */
    int quiet;
    int checked;              /* check() ran once on this case's map */
} timed_case;

/* The ceiling map of a mixed_rw case (NULL for other phases). */
typedef struct tc_ceiling {
    const mb_map_ops *ops;
    void *map;
    mb_counter ctr;
    mb_alloc alloc;
} tc_ceiling;

/* mixed_rw's spec: a fixed amount of work split between the threads, so
 * ns/op is the inverse of throughput, comparable across thread counts. */
static mb_mixed_spec tc_mixed_spec(const mb_case *c)
{
    size_t total = c->n > MB_OPS_PER_REPETITION ? c->n : MB_OPS_PER_REPETITION;
    return (mb_mixed_spec){ c->threads, total / c->threads, c->lookup_percent };
}

/* The untimed warm-up of mixed_rw: one verified lookup pass over the map. */
static const char *tc_warm_up(const mb_case *c, mb_probe_case *pc)
{
    mb_phase_result r = mb_run_phase(c->ops, pc->map, &pc->stream, MB_PHASE_LOOKUP_HIT, c->n);
    if (r.error)
        return r.error;
    return r.checksum == r.expected ? NULL : "warm-up lookups: checksum mismatch";
}

/* Runs c's measured phase once on pc's map (pp: the phase prepared for it,
 * unused by mixed_rw).  Returns the result and the phase's wall time in *ns. */
static mb_phase_result tc_run_once(const mb_case *c, mb_probe_case *pc, mb_prepared *pp,
                                   uint64_t *ns)
{
    uint64_t t0 = mb_now_ns(), wall;
    mb_phase_result r;
    if (c->phase == MB_PHASE_MIXED_RW) {
        mb_mixed_spec spec = tc_mixed_spec(c);
        r = mb_run_mixed_spec(c->ops, pc->map, &pc->stream, c->n, &spec, &wall);
        *ns = wall;
    } else {
        mb_phase_run_prepared(pp, pc->map);
        *ns = mb_now_ns() - t0;
        r = mb_phase_verify(pp);
    }
    return r;
}

/* mixed_rw's ceiling (ceil), run right after the map's run: sets *ceil_ns.
 * Returns NULL or what was wrong. */
static const char *tc_run_ceiling(const mb_case *c, mb_probe_case *pc, const tc_ceiling *ceil,
                                  uint64_t *ceil_ns)
{
    mb_mixed_spec spec = tc_mixed_spec(c);
    mb_phase_result cr =
        mb_run_mixed_ceiling(ceil->ops, ceil->map, &pc->stream, c->n, &spec, ceil_ns);
    if (cr.error)
        return cr.error;
    return cr.checksum != cr.expected ? "ceiling run: checksum mismatch" : NULL;
}

static int tc_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorted in place); NAN for none. */
static double tc_median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, tc_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void tc_bench(mbb_state *st, void *ctx)
{
    timed_case *tc = ctx;
    const mb_case *c = tc->c;
    /* phases that leave the map as they found it reuse one map */
    int lookup = c->phase == MB_PHASE_LOOKUP_HIT || c->phase == MB_PHASE_LOOKUP_MISS ||
                 c->phase == MB_PHASE_MIXED_RW || c->phase == MB_PHASE_LOOKUP_HALF_HIT ||
                 c->phase == MB_PHASE_ITERATE || c->phase == MB_PHASE_LOOKUP_HIT_DEPENDENT ||
                 c->phase == MB_PHASE_LOOKUP_HIT_COLD;
    mb_prepared pp; /* the phase's keys and answers, made before the clock (workload.h) */
    mb_probe_case pc;
    const char *err = mb_case_open(&pc, c->ops, c->bp, c->dist, c->n, c->hint, c->shrink, tc->seed);
    double *per_iter = NULL; /* each iteration's ns per op, for the median */
    size_t per_cap = 0;
    double sum_ceiling_ns_per_op = 0;
    tc_ceiling ceil = { NULL, NULL, { 0 }, { 0 } };
    int64_t iters = 0;

    if (err) {
        mbb_skip_with_error(st, err);
        return;
    }
    mb_case_hugepages(&pc, c->hugepages);
    memset(&pp, 0, sizeof pp);
    /* the keys first, then the map: as a program that has its keys before it
     * builds a map, the map's lines are the last written when the clock starts */
    if ((c->phase != MB_PHASE_MIXED_RW &&
         mb_phase_prepare(&pp, c->ops, &pc.stream, c->phase, c->n) != 0 && (err = pp.error)) ||
        (lookup && (err = mb_case_build(&pc, c->phase)))) {
        mb_phase_release(&pp);
        mb_case_close(&pc);
        mbb_skip_with_error(st, err);
        return;
    }
    /* phases on one map get TC_WARM_PASSES untimed passes first, each
     * answer checked one by one (pp.check_each, workload.h): they are timed
     * in steady state, not in the transient after the build (at 1e6 a
     * repetition is a single pass, all of it transient); the timed passes
     * check the sum of their answers.  mixed_rw's warm-up is a lookup pass
     * (tc_warm_up), and it builds its ceiling */
    for (int w = 0; !err && lookup && c->phase != MB_PHASE_MIXED_RW && w < TC_WARM_PASSES; w++) {
        mb_phase_run_prepared(&pp, pc.map);
        err = mb_phase_verify(&pp).error;
    }
    pp.check_each = 0;
    if (c->phase == MB_PHASE_MIXED_RW) {
        mb_counter_init(&ceil.ctr);
        ceil.alloc = mb_counter_alloc(&ceil.ctr);
        ceil.map = mb_ceiling_map_build(&ceil.alloc, &pc.stream, c->n, &ceil.ops, &err);
        if (!err)
            err = tc_warm_up(c, &pc);
    }
    /* The library's timer (its cpu_time) runs only around the timed region:
     * it is paused for each iteration's untimed work (a fresh map, the
     * checks, the ceiling) and resumed before the library is asked for the
     * next iteration, so cpu_time is the timed region's CPU, as real_time
     * (our clock, manual time) is its wall time. */
    while (!err && mbb_keep_running(st)) {
        mbb_pause_timing(st);
        if (!lookup && (err = mb_case_build(&pc, c->phase))) {
            mbb_resume_timing(st);
            break;
        }
        uint64_t ns, ceil_ns = 0;
        mbb_resume_timing(st);
        mb_phase_result r = tc_run_once(c, &pc, &pp, &ns);
        mbb_pause_timing(st);
        /* The checksum covers every answer; the count (a stats walk) once per
         * repetition and the invariant walk once per case keep large cases
         * from spending their time checking. */
        if (r.error)
            err = r.error;
        else if (ceil.map && (err = tc_run_ceiling(c, &pc, &ceil, &ceil_ns)))
            ;
        else if (iters == 0 && mb_map_count(c->ops, pc.map) != mb_phase_count_after(c->phase, c->n))
            err = "wrong entry count after the phase";
        else if (!tc->checked && (tc->checked = 1) && c->ops->check(pc.map))
            err = c->ops->check(pc.map);
        if (!err && (size_t)iters == per_cap) {
            size_t cap = per_cap ? 2 * per_cap : 64;
            double *grown = realloc(per_iter, cap * sizeof *grown);
            if (!grown)
                err = "out of memory keeping the iteration times";
            else
                per_iter = grown, per_cap = cap;
        }
        if (!err) {
            mbb_set_iteration_time(st, (double)ns * 1e-9);
            per_iter[iters] = (double)ns / (double)r.ops;
            sum_ceiling_ns_per_op += (double)ceil_ns / (double)r.ops;
            iters++;
            if (!lookup)
                mb_case_drop_map(&pc);
        }
        mbb_resume_timing(st);
    }
    mb_phase_release(&pp);
    mb_case_close(&pc);
    if (ceil.map)
        ceil.ops->destroy(ceil.map);
    if (err) {
        free(per_iter);
        mbb_skip_with_error(st, err);
        return;
    }
    mbb_set_items_processed(st, iters * (int64_t)c->n);
    /* the counter is averaged over the iterations: median x iterations */
    mbb_set_counter(st, "ns_per_op", tc_median(per_iter, (size_t)iters) * (double)iters);
    free(per_iter);
    if (ceil.map)
        mbb_set_counter(st, "ceiling_ns_per_op", sum_ceiling_ns_per_op);
}

typedef struct tsv_ctx {
    timed_case *tcs;
    size_t n;
    int failures;
} tsv_ctx;

static void tc_tsv_report(void *ud, const mbb_result *r)
{
    tsv_ctx *t = ud;
    timed_case *tc = NULL;
    /* The library appends "/iterations:N/repeats:R/manual_time": drop it
     * (a copy of any length, so a long name cannot lose its case). */
    const char *suffix = strstr(r->name, "/iterations:");
    char *name = strndup(r->name, suffix ? (size_t)(suffix - r->name) : strlen(r->name));
    if (!name) {
        fprintf(stderr, "mapbench: out of memory reporting %s\n", r->name);
        t->failures++;
        return;
    }
    for (size_t i = 0; i < t->n && !tc; i++)
        if (strcmp(t->tcs[i].c->name, name) == 0)
            tc = &t->tcs[i];
    if (r->error) {
        printf("E\t%s\t%s\n", name, r->error);
        fprintf(stderr, "mapbench: FAILED %s: %s\n", name, r->error);
        t->failures++;
    } else {
        mb_rec_out o;
        mb_rec_begin(&o, stdout, &mb_rec_sample);
        mb_rec_text(&o, name);
        mb_rec_int(&o, (long long)r->repetition_index);
        mb_rec_int(&o, (long long)r->iterations);
        mb_rec_real(&o, r->ns_per_op);
        if (isnan(r->ceiling_ns_per_op))
            mb_rec_na(&o);
        else
            mb_rec_real(&o, r->ceiling_ns_per_op);
        mb_rec_end(&o);
    }
    fflush(stdout);
    if (tc && ++tc->done_reps == tc->total_reps && !tc->quiet) {
        /* on a terminal one line that updates in place; otherwise a line per case */
        int tty = isatty(STDERR_FILENO);
        fprintf(stderr, "%s  [%zu/%zu] %-52s %10.1f ns/op%s", tty ? "\r\033[K" : "",
                tc->index + 1, tc->count, name, r->error ? NAN : r->ns_per_op,
                tty && tc->index + 1 < tc->count ? "" : "\n");
    }
    free(name);
}

/* The threads case `name` runs itself (mixed_rw: the case's T; else 1). */
static int tc_threads_of(void *ud, const char *name)
{
    const tsv_ctx *t = ud;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->tcs[i].c->name, name) == 0)
            return (int)t->tcs[i].c->threads;
    return 1;
}

/* The longest --benchmark_filter passed on (a case name is under 192 characters). */
#define TIMING_MAX_FILTER_CHARS 1024

static int mb_cmd_time(int argc, char **argv)
{
    mb_selection sel;
    int emit_tsv = 0, quiet = 0;
    char **gb_argv = calloc((size_t)argc + 2, sizeof *gb_argv);
    int gb_argc = 0;

    gb_argv[gb_argc++] = argv[0];
    mb_selection_suite(&sel, "quick");
    for (int i = 2; i < argc; i++) {
        const char *v;
        mb_help_exit(argv[i], &mb_command_time);
        if ((v = mb_flag_value(argc, argv, &i, "--suite", &mb_command_time))) {
            if (mb_selection_suite(&sel, v) != 0)
                mb_usage_error(&mb_command_time, "unknown suite '%s' (quick or full)", v);
        } else if (strcmp(argv[i], "--emit-tsv") == 0) {
            emit_tsv = 1;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (strncmp(argv[i], "--benchmark_repetitions", 23) == 0) {
            /* the library's own flag, as --reps: the repetitions are given to
             * it by that flag, not per case, so a name carries no repeats:R */
            char *end;
            long r = argv[i][23] == '=' ? strtol(argv[i] + 24, &end, 10) : -1;
            if (r < 1 || r > 1000 || *end)
                mb_usage_error(&mb_command_time, "--benchmark_repetitions wants =1..1000, got '%s'",
                               argv[i]);
            sel.reps = (unsigned)r;
        } else if (strncmp(argv[i], "--benchmark_", 12) == 0) {
            /* Google Benchmark compiles the filter with std::regex, which
             * recurses per character: a long one overflows the stack. */
            if (strncmp(argv[i], "--benchmark_filter=", 19) == 0 &&
                strlen(argv[i] + 19) > TIMING_MAX_FILTER_CHARS)
                mb_usage_error(&mb_command_time, "--benchmark_filter is %zu characters; at most"
                               " %d", strlen(argv[i] + 19), TIMING_MAX_FILTER_CHARS);
            gb_argv[gb_argc++] = argv[i];
        } else if (!mb_selection_flag(&sel, argc, argv, &i, &mb_command_time)) {
            mb_usage_error(&mb_command_time, "unknown argument '%s'", argv[i]);
        }
    }
    char reps_flag[64];
    snprintf(reps_flag, sizeof reps_flag, "--benchmark_repetitions=%u", sel.reps);
    gb_argv[gb_argc++] = reps_flag; /* --reps R and --benchmark_repetitions=R alike */
    mbb_flags gb_flags;
    mbb_initialize(&gb_argc, gb_argv, &gb_flags);
    if (gb_argc > 1)
        mb_usage_error(&mb_command_time, "unknown Google Benchmark flag '%s'", gb_argv[1]);

    mb_case *cases;
    size_t n = mb_cases_build(&sel, &cases);
    if (n == 0)
        mb_usage_error(&mb_command_time, "the selection holds no case");
    timed_case *tcs = calloc(n, sizeof *tcs);
    for (size_t i = 0; i < n; i++) {
        size_t ops = cases[i].n;
        int64_t iters = (int64_t)((MB_OPS_PER_REPETITION + ops - 1) / ops);
        if (cases[i].phase == MB_PHASE_MIXED_RW)
            iters = 1; /* already at least MB_OPS_PER_REPETITION operations */
        tcs[i] = (timed_case){ &cases[i], sel.seed, 0, sel.reps, i, n, quiet || !emit_tsv, 0 };
        /* mixed_rw runs its own threads: its cpu_time is every thread's */
        mbb_register(cases[i].name, tc_bench, &tcs[i], iters > 1000 ? 1000 : iters, 0,
                     cases[i].phase == MB_PHASE_MIXED_RW);
    }
    tsv_ctx t = { tcs, n, 0 };
    if (emit_tsv)
        mb_rec_header(stdout, &mb_rec_sample);
    mbb_run(&gb_flags, emit_tsv ? tc_tsv_report : NULL, tc_threads_of, &t);
    free(tcs);
    free(cases);
    free(gb_argv);
    return t.failures ? 1 : 0;
}

const mb_command mb_command_time = {
    "time",
    "run the timed cases through Google Benchmark, print its report",
    "usage: mapbench time [selection] [--reps R] [--benchmark_* flags]\n"
    "  Runs the timed cases in this process through Google Benchmark and prints its\n"
    "  report (--benchmark_format=json gives what tools/compare.py reads).\n"
    "  --benchmark_repetitions=R is --reps R.  A benchmark's name is the case\n"
    "  (impl/phase/blueprint/dist/n:N/hint:H...) then the library's\n"
    "  /iterations:K/manual_time (mixed_rw: /iterations:K/process_time/manual_time),\n"
    "  K fixed by n: the same case has the same name\n"
    "  whatever the repetitions.  real_time is the timed region only (mapbench's\n"
    "  clock, manual time: the lean loop, keys prepared before it, answers checked\n"
    "  after); cpu_time is the library's CPU timer over the same region: it is\n"
    "  paused around each iteration's untimed work (building a fresh map for\n"
    "  insert, delete and clear phases, the checks), so it is the timed region's\n"
    "  thread CPU (mixed_rw: the process's CPU, every thread's, over the run, which\n"
    "  includes building the threads' scripts; its ceiling run is paused out).\n"
    "  The counter ns_per_op is the median iteration's.  \"threads\" is the\n"
    "  threads a case runs itself: mixed_rw's T (as its name's threads:T), else 1.\n"
    "  --benchmark_out=FILE writes the same report (--benchmark_out_format=json,\n"
    "  console or csv).\n",
    mb_cmd_time,
};
