/*
 * run.c — `mapbench run`: orchestrates one run and stores it.
 *
 * 1. Expands the selection into timed cases and memory cases (plan/).
 * 2. Timing: P fresh processes (`mapbench time --emit-tsv`), one after the
 *    other, each running every case: the cases are interleaved across
 *    processes, so process-to-process noise shows up as spread, and every
 *    repetition is kept with its process index.
 * 3. Memory: one fresh `mapbench mem-case` process per (map, n, blueprint,
 *    distribution, allocator); then the real Go map, latency, churn, icount.
 * 4. Hands everything to the store, which writes it in ONE transaction at
 *    the end: a run killed before that leaves nothing in the database, and
 *    two runs into one database both land (WAL + busy timeout).
 * Every child's records are read by the names in their headers (record.h).
 * A case whose checksum fails is reported, the run is stored with status
 * 'failed' (invisible to the views), and the exit status is 1.
 */
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_internal.h"

#define RUN_SELF "/proc/self/exe"

typedef struct run_state {
    mb_selection sel;
    mb_case *cases;
    size_t n_cases;              /* the selected cases, then the floor's */
    size_t n_map_cases;          /* of them, the selected ones (the floor's follow) */
    char **floor_args;           /* the floor child's selection flags (NULL: no floor) */
    int n_floor_args;
    char *floor_text[2];         /* its --phase and --n lists, owned */
    const char *db_path;
    int do_time, do_mem, do_icount, do_latency, do_churn;
    char **sel_args;             /* the selection flags, verbatim, for the timing children */
    int n_sel_args;
    mb_env env;
    mb_store_run out;            /* what is stored */
    mb_not_measured *not_measured; /* left out for a missing package (out.not_measured) */
    char **not_measured_text;    /* their `what`, owned */
    size_t n_not_measured;
    uint64_t t_start;
    int failures;
    int oom_failures, crashed_failures; /* of failures: out of memory; killed by a signal */
    int icount_failures;                /* ... callgrind runs that failed */
} run_state;

/* ---- what this machine cannot measure ------------------------------------------------ */

/* Records that `what` `name` is left out because `package` is not installed,
 * and says so: an optional dependency absent on purpose is "not measured" in
 * the run and the report, never a failure and never silent. */
static void run_not_measured(run_state *rs, const char *what, const char *name,
                             const char *package)
{
    fprintf(stderr, "mapbench: not measured: %s%s (package %s not installed)\n", what, name,
            package);
    size_t n = rs->n_not_measured + 1, len = strlen(what) + strlen(name) + 1;
    mb_not_measured *nm = realloc(rs->not_measured, n * sizeof *nm);
    if (nm)
        rs->not_measured = nm;
    char **texts = nm ? realloc(rs->not_measured_text, n * sizeof *texts) : NULL;
    if (texts)
        rs->not_measured_text = texts;
    char *text = texts ? malloc(len) : NULL;
    if (text)
        snprintf(text, len, "%s%s", what, name);
    else {
        fprintf(stderr, "mapbench: out of memory\n");
        rs->failures++;
        return;
    }
    texts[rs->n_not_measured] = text;
    nm[rs->n_not_measured++] = (mb_not_measured){ text, package };
    rs->out.not_measured = rs->not_measured;
    rs->out.n_not_measured = rs->n_not_measured;
}

/* Leaves out of the memory plan the suite's allocators whose library is not
 * installed (an --allocator that names one is refused by plan/ instead). */
static void run_drop_missing_allocators(run_state *rs)
{
    size_t kept = 0;
    for (size_t a = 0; a < rs->sel.n_allocators; a++) {
        const mb_allocator_info *al = mb_allocator_find(rs->sel.allocators[a]);
        if (mb_allocator_available(al)) {
            rs->sel.allocators[kept++] = rs->sel.allocators[a];
            continue;
        }
        run_not_measured(rs, "memory under ", al->name, al->package);
    }
    rs->sel.n_allocators = kept;
}

/* ---- reading one child ------------------------------------------------------------ */

/* One child being read: its records go into group (or, for S records, into
 * the bench group of the case they name). */
typedef struct run_child {
    run_state *rs;
    mb_rec_reader reader;
    mb_store_group *group;
    int process_index;
    int bad;                     /* a line that does not match its header, or out of memory */
    int oom;                     /* an E record said "out of memory" */
    long long calib[2];          /* K record */
} run_child;

static void run_child_init(run_child *ch, run_state *rs, mb_store_group *g,
                           const mb_rec_kind *const *kinds)
{
    memset(ch, 0, sizeof *ch);
    ch->rs = rs;
    ch->group = g;
    ch->calib[0] = ch->calib[1] = -1;
    mb_rec_reader_init(&ch->reader, kinds);
}

/* Returns the bench group of the case named name, or NULL. */
static mb_store_group *run_bench_named(run_state *rs, const char *name)
{
    for (size_t i = 0; i < rs->n_cases; i++)
        if (strcmp(rs->cases[i].name, name) == 0)
            return &rs->out.benches[i];
    return NULL;
}

static void run_on_line(void *ud, char *line)
{
    run_child *ch = ud;
    const char *vals[MB_REC_MAX_COLS], *err;
    if (line[0] == 'E' && line[1] == '\t' && strstr(line, "out of memory"))
        ch->oom = 1; /* what the failure summary says */
    const mb_rec_kind *k = mb_rec_parse(&ch->reader, line, vals, &err);
    if (err)
        ch->bad = 1;
    if (!k)
        return;
    if (k == &mb_rec_calib) {
        ch->calib[0] = vals[0] ? atoll(vals[0]) : -1;
        ch->calib[1] = vals[1] ? atoll(vals[1]) : -1;
        return;
    }
    /* a timing process's samples find their case by name; a child run for
     * one case (go-threads-case) stores into its group */
    mb_store_group *g = k == &mb_rec_sample && !ch->group
                            ? run_bench_named(ch->rs, vals[0] ? vals[0] : "")
                            : ch->group;
    mb_store_row *row = g ? mb_store_rows_add(&g->rows, k, vals) : NULL;
    if (row)
        row->process_index = ch->process_index;
    else if (g)
        ch->bad = 1;
}

/* Counts one failed child (exit status st) by its cause, for the summary. */
static void run_count_failure(run_state *rs, const run_child *ch, int st)
{
    rs->failures++;
    if (ch && ch->oom)
        rs->oom_failures++;
    else if (st >= 128)
        rs->crashed_failures++;
}

/* ---- small helpers ------------------------------------------------------------------ */

static void run_make_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    char *dir = dirname(copy);
    if (strcmp(dir, ".") != 0)
        mkdir(dir, 0777); /* one level (results/); deeper paths must exist */
    free(copy);
}

static void run_fmt_secs(char *buf, size_t len, double s)
{
    if (s < 90)
        snprintf(buf, len, "%.0fs", s);
    else
        snprintf(buf, len, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
}

/* The estimated time left after done of total steps that started at t0. */
static void run_eta(char *buf, size_t len, uint64_t t0, size_t done, size_t total)
{
    double el = (double)(mb_now_ns() - t0) * 1e-9;
    run_fmt_secs(buf, len, el / (double)done * (double)(total - done));
}

/* The case a group of rows is stored under. */
static mb_store_case run_case_of(const mb_map_ops *ops, const mb_blueprint *bp, mb_dist dist,
                                 size_t n, const char *allocator, mb_shrink_policy shrink)
{
    return (mb_store_case){ ops->name, ops->family, ops->traits, NULL, bp->name,
                            mb_dist_name(dist), n, 0, 1, allocator, mb_shrink_name(shrink),
                            0, 0 };
}

/* Returns argv joined with spaces (malloc'd). */
static char *run_argv_text(int argc, char **argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++)
        p += sprintf(p, "%s%s", i ? " " : "", argv[i]);
    *p = 0;
    return s;
}

/* ---- arguments ------------------------------------------------------------------------- */

static void run_metric(run_state *rs, const char *v)
{
    char *copy = strdup(v), *save = NULL;
    if (!copy)
        mb_usage_error(&mb_command_run, "out of memory reading --metric");
    rs->do_time = rs->do_mem = rs->do_icount = rs->do_latency = rs->do_churn = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "time") == 0)
            rs->do_time = 1;
        else if (strcmp(t, "memory") == 0)
            rs->do_mem = 1;
        else if (strcmp(t, "icount") == 0)
            rs->do_icount = 1;
        else if (strcmp(t, "latency") == 0)
            rs->do_latency = 1;
        else if (strcmp(t, "churn") == 0)
            rs->do_churn = 1;
        else
            mb_usage_error(&mb_command_run, "--metric wants time, memory, latency, churn and/or"
                           " icount, got '%s'", t);
    }
    free(copy);
    if (!(rs->do_time | rs->do_mem | rs->do_icount | rs->do_latency | rs->do_churn))
        mb_usage_error(&mb_command_run, "--metric wants at least one of time, memory, latency,"
                       " churn, icount, got '%s'", v);
}

/* Parses the command line into rs; exits on --help and on a usage error. */
static void run_args(run_state *rs, int argc, char **argv)
{
    const mb_command *cmd = &mb_command_run;
    mb_selection_suite(&rs->sel, "quick");
    for (int i = 2; i < argc; i++) /* the suite first: other flags refine it */
        if (strncmp(argv[i], "--suite", 7) == 0) {
            const char *v = mb_flag_value(argc, argv, &i, "--suite", cmd);
            if (v && mb_selection_suite(&rs->sel, v) != 0)
                mb_usage_error(cmd, "unknown suite '%s' (quick or full)", v);
        }
    rs->sel_args = calloc((size_t)argc + 1, sizeof *rs->sel_args);
    if (!rs->sel_args)
        mb_usage_error(cmd, "out of memory reading the command line");
    for (int i = 2; i < argc; i++) {
        const char *v;
        mb_help_exit(argv[i], cmd);
        if ((v = mb_flag_value(argc, argv, &i, "--suite", cmd)))
            continue;
        if ((v = mb_flag_value(argc, argv, &i, "--db", cmd))) {
            if (!v[0] || strcmp(v, ":memory:") == 0 || strncmp(v, "file:", 5) == 0)
                mb_usage_error(cmd, "--db wants a file the run is stored in, got '%s'", v);
            rs->db_path = v;
        } else if (strcmp(argv[i], "--quick") == 0)
            continue; /* the default */
        else if (strcmp(argv[i], "--no-time") == 0)
            rs->do_time = 0;
        else if (strcmp(argv[i], "--no-memory") == 0)
            rs->do_mem = 0;
        else if ((v = mb_flag_value(argc, argv, &i, "--metric", cmd)))
            run_metric(rs, v);
        else {
            /* selection flags are kept verbatim for the timing children, so
             * they rebuild exactly this case list from the same suite */
            int first = i;
            if (!mb_selection_flag(&rs->sel, argc, argv, &i, cmd))
                mb_usage_error(cmd, "unknown argument '%s'", argv[i]);
            for (int j = first; j <= i; j++)
                rs->sel_args[rs->n_sel_args++] = argv[j];
        }
    }
}

/* ---- timing -------------------------------------------------------------------------- */

/* Runs one timing child (process index p); its S records land in the bench groups. */
static void run_timing_child(run_state *rs, char **args, unsigned p, const char *what)
{
    static const mb_rec_kind *const kinds[] = { &mb_rec_sample, NULL };
    run_child ch;
    run_child_init(&ch, rs, NULL, kinds);
    ch.process_index = (int)p;
    int st = mb_run_child(RUN_SELF, args, run_on_line, &ch);
    int before = rs->failures;
    rs->failures += (int)ch.reader.failures + ch.bad;
    rs->oom_failures += ch.oom;
    if (st != 0 && rs->failures == before) {
        fprintf(stderr, "mapbench: %s %u exited with status %d\n", what, p + 1, st);
        run_count_failure(rs, &ch, st);
    }
}

/* Runs the P timing processes (and the floor's beside each); their S records
 * land in the bench groups. */
static void run_timing(run_state *rs)
{
    char eta[32];
    char **args = calloc((size_t)rs->n_sel_args + (size_t)rs->n_floor_args + 8, sizeof *args);
    for (unsigned p = 0; p < rs->sel.processes; p++) {
        size_t k = 0;
        args[k++] = "mapbench";
        args[k++] = "time";
        args[k++] = "--emit-tsv";
        if (p > 0)
            args[k++] = "--quiet";
        args[k++] = "--suite";
        args[k++] = (char *)rs->sel.suite;
        for (int j = 0; j < rs->n_sel_args; j++)
            args[k++] = rs->sel_args[j];
        args[k] = NULL;
        if (p > 0)
            run_eta(eta, sizeof eta, rs->t_start, p, rs->sel.processes);
        fprintf(stderr, "time: process %u/%u%s%s\n", p + 1, rs->sel.processes,
                p ? ", timing ETA " : "", p ? eta : "");
        run_timing_child(rs, args, p, "timing process");
        if (rs->floor_args) { /* the floor, in a process of its own beside each */
            k = 0;
            args[k++] = "mapbench", args[k++] = "time", args[k++] = "--emit-tsv";
            args[k++] = "--quiet", args[k++] = "--suite", args[k++] = (char *)rs->sel.suite;
            for (int j = 0; j < rs->n_floor_args; j++)
                args[k++] = rs->floor_args[j];
            args[k] = NULL;
            run_timing_child(rs, args, p, "floor (null_map) process");
        }
    }
    free(args);
}

/* ---- the harness floor ------------------------------------------------------------- */

/* Appends "sep item" to the growing list *list (malloc'd); -1 when out of memory. */
static int run_list_add(char **list, const char *item)
{
    size_t len = *list ? strlen(*list) : 0;
    if (*list) { /* once each */
        for (const char *p = *list; (p = strstr(p, item)); p++)
            if ((p == *list || p[-1] == ',') && (p[strlen(item)] == ',' || !p[strlen(item)]))
                return 0;
    }
    char *grown = realloc(*list, len + strlen(item) + 2);
    if (!grown)
        return -1;
    snprintf(grown + len, strlen(item) + 2, "%s%s", len ? "," : "", item);
    *list = grown;
    return 0;
}

/* The floor: every run with timings also times the calibration map null_map
 * (impls/calibration/null_map.c) on the phases and sizes of the selected
 * cases, u64->u64 uniform keys, no hint (all it can answer; mixed_rw is
 * threads, not a loop it can stand in for).  Its cases are appended to
 * rs->cases and stored as bench rows of impl null_map (family
 * 'calibration'); view phase_floor reads them, and the views that rank maps
 * leave them out.  The parent parses the very flags its child gets, so both
 * build the same case list.  No floor when null_map is itself selected. */
static void run_floor_plan(run_state *rs)
{
    const mb_command *cmd = &mb_command_run;
    char nbuf[32];
    rs->n_map_cases = rs->n_cases;
    for (size_t i = 0; i < rs->sel.n_impls; i++)
        if (rs->sel.impls[i]->flags & MB_F_CALIBRATION)
            return;
    for (size_t c = 0; c < rs->n_cases; c++) {
        if (rs->cases[c].phase == MB_PHASE_MIXED_RW)
            continue;
        snprintf(nbuf, sizeof nbuf, "%zu", rs->cases[c].n);
        if (run_list_add(&rs->floor_text[0], mb_phase_name(rs->cases[c].phase)) != 0 ||
            run_list_add(&rs->floor_text[1], nbuf) != 0)
            mb_usage_error(cmd, "out of memory planning the floor");
    }
    if (!rs->floor_text[0])
        return;
    static char *fixed[] = { "--impl", "null_map", "--blueprint", "u64->u64", "--dist",
                             "uniform", "--no-hint", "--shrink", "never" };
    char **a = calloc(20, sizeof *a), reps[32], seed[32];
    int k = 0;
    if (!a)
        mb_usage_error(cmd, "out of memory planning the floor");
    for (size_t j = 0; j < sizeof fixed / sizeof *fixed; j++)
        a[k++] = fixed[j];
    a[k++] = "--phase", a[k++] = rs->floor_text[0];
    a[k++] = "--n", a[k++] = rs->floor_text[1];
    snprintf(reps, sizeof reps, "%u", rs->sel.reps);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)rs->sel.seed);
    a[k++] = "--reps", a[k++] = strdup(reps);
    a[k++] = "--seed", a[k++] = strdup(seed);
    /* the same suite as the selected cases: its size rules apply alike */
    mb_selection fsel;
    mb_selection_suite(&fsel, rs->sel.suite);
    char *argv_like[24] = { "mapbench", "run" };
    for (int j = 0; j < k; j++)
        argv_like[j + 2] = a[j];
    for (int i = 2; i < k + 2; i++)
        if (!mb_selection_flag(&fsel, k + 2, argv_like, &i, cmd))
            mb_usage_error(cmd, "the floor's flag '%s' is not a selection flag", argv_like[i]);
    mb_case *fc;
    size_t nf = mb_cases_build(&fsel, &fc);
    mb_case *all = realloc(rs->cases, (rs->n_cases + nf) * sizeof *all);
    if (!all && nf)
        mb_usage_error(cmd, "out of memory planning the floor");
    if (nf)
        memcpy(all + rs->n_cases, fc, nf * sizeof *fc);
    free(fc);
    rs->cases = all;
    rs->n_cases += nf;
    rs->floor_args = a;
    rs->n_floor_args = k;
}

/* Every case the parent expects must have come back from every process. */
static void run_check_samples(run_state *rs)
{
    unsigned want = rs->sel.processes * rs->sel.reps;
    for (size_t c = 0; c < rs->n_cases; c++) {
        size_t got = rs->out.benches[c].rows.n_rows;
        if (got != want) {
            fprintf(stderr, "mapbench: case %s: %zu samples, expected %u\n", rs->cases[c].name,
                    got, want);
            rs->failures++;
        }
    }
}

/* ---- the real Go maps under threads ----------------------------------------------------- */

/* Returns 1 when an earlier mixed_rw case of the plan (before index c) has
 * c's workload: the Go maps run once per workload, not once per C map. */
static int run_go_threads_seen(const run_state *rs, size_t c)
{
    const mb_case *k = &rs->cases[c];
    for (size_t j = 0; j < c; j++) {
        const mb_case *o = &rs->cases[j];
        if (o->phase == MB_PHASE_MIXED_RW && o->bp == k->bp && o->dist == k->dist &&
            o->n == k->n && o->threads == k->threads && o->lookup_percent == k->lookup_percent)
            return 1;
    }
    return 0;
}

/* Runs one Go map's case in every timing process into group g.  Returns the
 * first child's exit status (MB_CHILD_EXIT_NOT_BUILT: no Go). */
static int run_go_threads_case(run_state *rs, mb_store_group *g, const mb_case *k)
{
    static const mb_rec_kind *const kinds[] = { &mb_rec_sample, NULL };
    char nbuf[32], seedbuf[32], tbuf[16], mbuf[16], rbuf[16];
    snprintf(nbuf, sizeof nbuf, "%zu", k->n);
    snprintf(seedbuf, sizeof seedbuf, "%llu", (unsigned long long)rs->sel.seed);
    snprintf(tbuf, sizeof tbuf, "%u", k->threads);
    snprintf(mbuf, sizeof mbuf, "%u", k->lookup_percent);
    snprintf(rbuf, sizeof rbuf, "%u", rs->sel.reps);
    char *args[] = { "mapbench", "go-threads-case", "--impl", (char *)g->c.impl, "--n", nbuf,
                     "--dist", (char *)mb_dist_name(k->dist), "--seed", seedbuf, "--threads",
                     tbuf, "--mix", mbuf, "--reps", rbuf, NULL };
    for (unsigned p = 0; p < rs->sel.processes; p++) {
        run_child ch;
        run_child_init(&ch, rs, g, kinds);
        ch.process_index = (int)p;
        int st = mb_run_child(RUN_SELF, args, run_on_line, &ch);
        if (st == MB_CHILD_EXIT_NOT_BUILT && p == 0)
            return st;
        if (st != 0 || ch.reader.failures || ch.bad) {
            fprintf(stderr, "mapbench: FAILED go-threads-case %s n=%zu threads=%u mix=%u\n",
                    g->c.impl, k->n, k->threads, k->lookup_percent);
            rs->failures++;
            return st ? st : 1;
        }
    }
    return 0;
}

/* sync.Map, map + RWMutex and a sharded Go map, on every mixed_rw workload
 * of the plan the Go side can run (u64->u64; uniform or sequential keys):
 * bench rows of their own (family peer, allocator go-runtime) beside the C
 * maps' rows. */
static void run_go_threads(run_state *rs)
{
    size_t n_go = 0, have = rs->out.n_benches;
    for (const mb_go_thread_map *m = mb_go_thread_maps; m->impl; m++)
        n_go++;
    for (size_t c = 0; c < rs->n_cases; c++) {
        const mb_case *k = &rs->cases[c];
        if (k->phase != MB_PHASE_MIXED_RW || k->bp != &mb_blueprints[0] ||
            (k->dist != MB_DIST_UNIFORM && k->dist != MB_DIST_SEQUENTIAL) ||
            run_go_threads_seen(rs, c))
            continue;
        mb_store_group *b = realloc(rs->out.benches, (have + n_go) * sizeof *b);
        if (!b) {
            rs->failures++;
            return;
        }
        rs->out.benches = b;
        for (const mb_go_thread_map *m = mb_go_thread_maps; m->impl; m++) {
            mb_store_group *g = &rs->out.benches[have++];
            memset(g, 0, sizeof *g);
            g->c = (mb_store_case){ m->impl, MB_GO_FAMILY, m->traits, "mixed_rw", k->bp->name,
                                    mb_dist_name(k->dist), k->n, 0, k->threads,
                                    MB_GO_ALLOCATOR, "never", k->lookup_percent, 0 };
            rs->out.n_benches = have;
            int st = run_go_threads_case(rs, g, k);
            if (st == MB_CHILD_EXIT_NOT_BUILT) {
                rs->out.n_benches = have - 1;
                run_not_measured(rs, "mixed_rw of the real Go maps: ",
                                 "go_syncmap, go_rwmutex_map, go_sharded_map", "golang-go");
                return;
            }
            fprintf(stderr, "  go threads %-15s n=%zu threads=%u mix=%u\n", m->impl, k->n,
                    k->threads, k->lookup_percent);
        }
    }
}

/* ---- memory ----------------------------------------------------------------------------- */

static void run_calibrate(run_state *rs)
{
    static const mb_rec_kind *const kinds[] = { &mb_rec_calib, NULL };
    char *cargs[] = { "mapbench", "mem-case", "--calibrate", NULL };
    run_child ch;
    run_child_init(&ch, rs, NULL, kinds);
    if (mb_run_child(RUN_SELF, cargs, run_on_line, &ch) != 0 || ch.calib[0] < 0) {
        fprintf(stderr, "mapbench: memory calibration failed\n");
        rs->failures++;
        return;
    }
    rs->out.rss_floor_bytes = ch.calib[0];
    rs->out.calib_64mib_rss_bytes = ch.calib[1];
    fprintf(stderr, "memory: instrument floor %.1f MiB RSS; a 64 MiB touched mapping reads"
            " as %.2f MiB\n", (double)ch.calib[0] / 1048576.0, (double)ch.calib[1] / 1048576.0);
}

/* Runs one memory child (args) into group g; counts a failure. */
static void run_mem_child(run_state *rs, mb_store_group *g, char **args, const char *preload)
{
    static const mb_rec_kind *const kinds[] = { &mb_rec_mem, &mb_rec_go, &mb_rec_gccost, NULL };
    run_child ch;
    run_child_init(&ch, rs, g, kinds);
    int st = mb_run_child_preload(RUN_SELF, args, preload, run_on_line, &ch);
    if (st != 0 || ch.reader.failures || ch.bad) {
        fprintf(stderr, "mapbench: FAILED memory case %s n=%zu%s\n", g->c.impl, g->c.n,
                ch.oom ? ": out of memory" : st >= 128 ? ": the child was killed by a signal" : "");
        g->failed = 1;
        run_count_failure(rs, &ch, st);
    }
}

static void run_memory(run_state *rs)
{
    mb_mem_spec *specs = NULL;
    size_t total = mb_mem_plan(&rs->sel, &specs);
    char eta[32], nbuf[32], seedbuf[32];
    rs->out.mems = calloc(total + rs->sel.n_sizes * rs->sel.n_dists + 1, sizeof *rs->out.mems);
    uint64_t t_mem = mb_now_ns();
    snprintf(seedbuf, sizeof seedbuf, "%llu", (unsigned long long)rs->sel.seed);
    for (size_t k = 0; k < total; k++) {
        const mb_mem_spec *sp = &specs[k];
        mb_store_group *g = &rs->out.mems[rs->out.n_mems++];
        g->c = run_case_of(sp->ops, sp->bp, sp->dist, sp->n, sp->allocator, sp->shrink);
        snprintf(nbuf, sizeof nbuf, "%zu", sp->n);
        g->c.hugepages = rs->sel.hugepages;
        char *margs[] = { "mapbench", "mem-case", "--impl", (char *)sp->ops->name, "--n", nbuf,
                          "--blueprint", (char *)sp->bp->name, "--dist",
                          (char *)mb_dist_name(sp->dist), "--seed", seedbuf, "--allocator",
                          (char *)sp->allocator, "--shrink", (char *)g->c.shrink,
                          rs->sel.hugepages ? "--hugepages" : NULL, NULL };
        run_mem_child(rs, g, margs, mb_allocator_find(sp->allocator)->preload);
        run_eta(eta, sizeof eta, t_mem, k + 1, total);
        fprintf(stderr, "  memory [%zu/%zu] %-14s %-10s %-9s %-9s n=%-9zu ETA %s\n", k + 1, total,
                g->c.impl, g->c.blueprint, g->c.allocator, g->c.shrink, g->c.n, eta);
    }
    free(specs);
}

/* The real Go map, beside gomap: u64->u64 only, its own allocator. */
static void run_go(run_state *rs)
{
    char *probe[] = { "mapbench", "go-mem-case", "--print-keys", "1", NULL };
    char nbuf[32], seedbuf[32];
    int st = mb_run_child_quiet(RUN_SELF, probe);
    if (st == MB_CHILD_EXIT_NOT_BUILT) {
        run_not_measured(rs, "memory of the real Go map: ", "go_runtime", "golang-go");
        return;
    }
    if (st != 0) { /* the Go runtime itself failed: say so, do not blame the build */
        fprintf(stderr, "mapbench: FAILED the real Go map's probe: %s %d (%s); no go_runtime"
                " rows\n", st >= 128 ? "killed by signal" : "exit status",
                st >= 128 ? st - 128 : st,
                st == 2 ? "the Go runtime's fatal error, e.g. out of memory under a limit"
                        : st >= 128 ? "a crash, e.g. out of memory under an address-space limit"
                                    : "see its message above");
        run_count_failure(rs, NULL, st);
        if (st == 2)
            rs->oom_failures++; /* Go exits 2 on "fatal error: out of memory" */
        return;
    }
    snprintf(seedbuf, sizeof seedbuf, "%llu", (unsigned long long)rs->sel.seed);
    for (size_t d = 0; d < rs->sel.n_dists; d++)
        for (size_t s = 0; s < rs->sel.n_sizes; s++) {
            mb_dist dist = rs->sel.dists[d];
            size_t n = rs->sel.sizes[s];
            if (!mb_go_planned(&rs->sel, dist, n))
                continue;
            mb_store_group *g = &rs->out.mems[rs->out.n_mems++];
            g->c = (mb_store_case){ MB_GO_IMPL, MB_GO_FAMILY, MB_GO_TRAITS, NULL, mb_blueprints[0].name,
                                    mb_dist_name(dist), n, 0, 1, MB_GO_ALLOCATOR, "never", 0, 0 };
            snprintf(nbuf, sizeof nbuf, "%zu", n);
            char *gargs[] = { "mapbench", "go-mem-case", "--n", nbuf, "--dist",
                              (char *)mb_dist_name(dist), "--seed", seedbuf, NULL };
            run_mem_child(rs, g, gargs, NULL);
            fprintf(stderr, "  memory go_runtime (real Go 1.19 map) n=%zu\n", n);
        }
}

/* ---- latency and churn ------------------------------------------------------------------- */

/* Runs one latency, churn or thrash child into g; a failed one is counted and
 * its records are not stored. */
static void run_line_child(run_state *rs, mb_store_group *g, char **args,
                           const mb_rec_kind *const *kinds, const char *what)
{
    run_child ch;
    run_child_init(&ch, rs, g, kinds);
    int st = mb_run_child(RUN_SELF, args, run_on_line, &ch);
    if (st != 0 || ch.reader.failures || ch.bad || g->rows.n_rows == 0) {
        fprintf(stderr, "mapbench: FAILED %s case %s n=%zu%s\n", what, g->c.impl, g->c.n,
                ch.oom ? ": out of memory" : "");
        g->failed = 1;
        run_count_failure(rs, &ch, st);
    }
}

/* Tail latency while growing to the largest n (at most 1e6), or churn at
 * constant size (at most 1e5): first blueprint and distribution, glibc. */
static void run_lines(run_state *rs, int churn)
{
    static const mb_rec_kind *const lat_kinds[] = { &mb_rec_latency, &mb_rec_bucket, NULL };
    static const mb_rec_kind *const churn_kinds[] = { &mb_rec_churn, NULL };
    const char *what = churn ? "churn-case" : "latency-case";
    size_t n = churn ? mb_churn_n(&rs->sel) : mb_latency_n(&rs->sel);
    /* churn: under every selected shrink policy the map has; latency: never */
    static const mb_shrink_policy never_only[] = { MB_SHRINK_NEVER };
    const mb_shrink_policy *pols = churn ? rs->sel.shrinks : never_only;
    size_t n_pols = churn ? rs->sel.n_shrinks : 1, total = rs->sel.n_impls * n_pols, done = 0;
    /* churn: each case also runs --thrash (at most 4096 keys: it reads the
     * map's stats after every remove on the way down) */
    mb_store_group *groups = calloc(2 * total + 1, sizeof *groups);
    size_t n_groups = 0;
    char eta[32], nbuf[32], seedbuf[32];
    uint64_t t0 = mb_now_ns();
    snprintf(nbuf, sizeof nbuf, "%zu", n);
    snprintf(seedbuf, sizeof seedbuf, "%llu", (unsigned long long)rs->sel.seed);
    for (size_t k = 0; n >= 4 && k < total; k++) {
        mb_map_config cfg;
        const mb_map_ops *ops = rs->sel.impls[k / n_pols];
        mb_shrink_policy pol = pols[k % n_pols];
        if (!mb_case_config(ops, rs->sel.blueprints[0], 0, pol, rs->sel.seed, &cfg))
            continue;
        mb_store_group *g = &groups[n_groups++];
        g->c = run_case_of(ops, rs->sel.blueprints[0], rs->sel.dists[0], n, "glibc", pol);
        char *cargs[] = { "mapbench", (char *)what, "--impl", (char *)ops->name, "--n", nbuf,
                          "--blueprint", (char *)g->c.blueprint, "--dist",
                          (char *)g->c.distribution, "--seed", seedbuf, "--shrink",
                          (char *)g->c.shrink, NULL };
        run_line_child(rs, g, cargs, churn ? churn_kinds : lat_kinds, what);
        if (churn) {
            mb_store_group *t = &groups[n_groups++];
            char tbuf[32];
            t->c = g->c;
            t->c.n = n < 4096 ? n : 4096;
            snprintf(tbuf, sizeof tbuf, "%zu", t->c.n);
            char *targs[] = { "mapbench", "churn-case", "--thrash", "--impl", (char *)ops->name,
                              "--n", tbuf, "--blueprint", (char *)g->c.blueprint, "--dist",
                              (char *)g->c.distribution, "--seed", seedbuf, "--shrink",
                              (char *)g->c.shrink, NULL };
            static const mb_rec_kind *const thrash_kinds[] = { &mb_rec_thrash, NULL };
            run_line_child(rs, t, targs, thrash_kinds, "churn-case --thrash");
        }
        done++;
        run_eta(eta, sizeof eta, t0, k + 1, total);
        fprintf(stderr, "  %s [%zu] %-14s %-9s n=%-9zu ETA %s\n", churn ? "churn" : "latency",
                done, ops->name, g->c.shrink, n, eta);
    }
    if (churn)
        rs->out.churns = groups, rs->out.n_churns = n_groups;
    else
        rs->out.latencies = groups, rs->out.n_latencies = n_groups;
}

/* ---- instruction counts ----------------------------------------------------------------------- */

static void run_icount(run_state *rs)
{
    char err[MB_ERR_LEN], eta[32], ops_text[32];
    uint64_t t0 = mb_now_ns();
    for (size_t c = 0; c < rs->n_map_cases; c++) {
        long long instructions, ops;
        if (rs->cases[c].phase == MB_PHASE_MIXED_RW)
            continue; /* threads: not deterministic */
        if (mb_icount_measure(&rs->cases[c], rs->sel.seed, &instructions, &ops, err,
                              sizeof err) != 0) {
            fprintf(stderr, "mapbench: FAILED icount %s: %s\n", rs->cases[c].name, err);
            rs->failures++;
            rs->icount_failures++;
            continue;
        }
        mb_store_group *g = &rs->out.benches[c];
        snprintf(ops_text, sizeof ops_text, "%lld", ops);
        const char *vals[] = { ops_text };
        g->instructions = instructions;
        if (!mb_store_rows_add(&g->rows, &mb_rec_icount, vals))
            rs->failures++;
        run_eta(eta, sizeof eta, t0, c + 1, rs->n_map_cases);
        fprintf(stderr, "  icount [%zu/%zu] %-52s %9.1f Ir/op  ETA %s\n", c + 1, rs->n_map_cases,
                rs->cases[c].name, (double)instructions / (double)ops, eta);
    }
}

/* ---- the command ---------------------------------------------------------------------------- */

/* The bench groups, one per timed case (stored when they get records). */
static void run_benches(run_state *rs)
{
    rs->out.benches = calloc(rs->n_cases, sizeof *rs->out.benches);
    rs->out.n_benches = rs->n_cases;
    for (size_t c = 0; c < rs->n_cases; c++) {
        const mb_case *k = &rs->cases[c];
        mb_store_case *sc = &rs->out.benches[c].c;
        *sc = run_case_of(k->ops, k->bp, k->dist, k->n, "glibc", k->shrink);
        sc->phase = mb_phase_name(k->phase);
        sc->hint = k->hint;
        sc->threads = k->threads;
        sc->lookup_percent = k->lookup_percent;
        sc->hugepages = k->hugepages;
    }
}

/* Opens the database to store into, before minutes of measuring.  NULL after
 * saying why. */
static sqlite3 *run_open_db(const char *db_path)
{
    char err[MB_ERR_LEN];
    run_make_parent_dir(db_path);
    sqlite3 *db = mb_db_open(db_path, 1, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return NULL;
    }
    if (sqlite3_db_readonly(db, "main") == 1) {
        fprintf(stderr, "mapbench: %s: read-only; cannot store a run\n", db_path);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* Runs every selected measurement, one child after another. */
static void run_measure(run_state *rs)
{
    if (rs->do_time) {
        run_timing(rs);
        if (rs->failures == 0)
            run_check_samples(rs);
        if (rs->failures == 0)
            run_go_threads(rs);
    }
    if (rs->do_mem) {
        run_drop_missing_allocators(rs);
        run_calibrate(rs);
        run_memory(rs);
        if (rs->sel.blueprints[0] == &mb_blueprints[0])
            run_go(rs);
    }
    if (rs->do_latency)
        run_lines(rs, 0);
    if (rs->do_churn)
        run_lines(rs, 1);
    if (rs->do_icount) {
        if (access(MB_VALGRIND_PATH, X_OK) == 0)
            run_icount(rs);
        else
            run_not_measured(rs, "instruction counts: ", "callgrind", "valgrind");
    }
}

static void run_free(run_state *rs)
{
    mb_store_group *lists[] = { rs->out.benches, rs->out.mems, rs->out.latencies, rs->out.churns };
    size_t counts[] = { rs->out.n_benches, rs->out.n_mems, rs->out.n_latencies, rs->out.n_churns };
    for (size_t l = 0; l < 4; l++) {
        for (size_t i = 0; i < counts[l]; i++)
            mb_store_rows_free(&lists[l][i].rows);
        free(lists[l]);
    }
    for (size_t i = 0; i < rs->n_not_measured; i++)
        free(rs->not_measured_text[i]);
    free(rs->not_measured_text);
    free(rs->not_measured);
    free(rs->sel_args);
    if (rs->floor_args) {
        free(rs->floor_args[rs->n_floor_args - 3]); /* --reps's and --seed's values */
        free(rs->floor_args[rs->n_floor_args - 1]);
    }
    free(rs->floor_args);
    free(rs->floor_text[0]);
    free(rs->floor_text[1]);
    free(rs->cases);
}

/* Stores the run; returns the command's exit status. */
static int run_store(run_state *rs, sqlite3 *db, int argc, char **argv, const char *started)
{
    char err[MB_ERR_LEN], finished[40], uuid[37], took[32];
    char *argv_text = run_argv_text(argc, argv);
    mb_now_iso(finished, sizeof finished);
    mb_uuid(uuid);
    rs->out.uuid = uuid;
    rs->out.started_at = started;
    rs->out.finished_at = finished;
    rs->out.status = rs->failures ? "failed" : "complete";
    rs->out.suite = rs->sel.suite;
    rs->out.argv = argv_text;
    rs->out.seed = rs->sel.seed;
    rs->out.processes = rs->sel.processes;
    rs->out.env = &rs->env;
    /* no interruption while storing: the run lands whole, then the signals
     * take their default action */
    mb_spawn_hold_signals(1);
    int rc = argv_text ? mb_store_run_write(db, &rs->out, err, sizeof err) : -1;
    if (!argv_text)
        snprintf(err, sizeof err, "out of memory");
    free(argv_text);
    mb_spawn_untrap_signals();
    mb_spawn_hold_signals(0);
    if (rc != 0) {
        fprintf(stderr, "mapbench: could not store the run in %s: %s\n", rs->db_path, err);
        return 1;
    }
    if (rs->failures) {
        int other = rs->failures - rs->oom_failures - rs->crashed_failures - rs->icount_failures;
        const char *sep = "";
        fprintf(stderr, "mapbench: %d case(s) FAILED (", rs->failures);
        if (rs->oom_failures)
            fprintf(stderr, "%d out of memory", rs->oom_failures), sep = ", ";
        if (rs->crashed_failures)
            fprintf(stderr, "%s%d killed by a signal", sep, rs->crashed_failures), sep = ", ";
        if (rs->icount_failures)
            fprintf(stderr, "%s%d callgrind run(s) failed", sep, rs->icount_failures), sep = ", ";
        if (other > 0)
            fprintf(stderr, "%s%d wrong checksum, count or invariant", sep, other);
        fprintf(stderr, "); the run is stored as failed in %s and hidden from the views\n",
                rs->db_path);
        return 1;
    }
    run_fmt_secs(took, sizeof took, (double)(mb_now_ns() - rs->t_start) * 1e-9);
    fprintf(stderr, "mapbench run: complete in %s; results in %s\n", took, rs->db_path);
    return 0;
}

static int mb_cmd_run(int argc, char **argv)
{
    run_state rs;
    char started[40];
    memset(&rs, 0, sizeof rs);
    rs.db_path = MB_DEFAULT_DB;
    rs.do_time = rs.do_mem = rs.do_latency = rs.do_churn = 1;
    rs.out.rss_floor_bytes = rs.out.calib_64mib_rss_bytes = -1;
    run_args(&rs, argc, argv);
    rs.n_cases = mb_cases_build(&rs.sel, &rs.cases);
    if (rs.n_cases == 0)
        mb_usage_error(&mb_command_run, "the selection holds no case");
    rs.n_map_cases = rs.n_cases;
    if (rs.do_time)
        run_floor_plan(&rs);
    sqlite3 *db = run_open_db(rs.db_path);
    if (!db)
        return 1;
    mb_spawn_trap_signals(); /* ^C from here on: children killed, nothing stored */
    run_benches(&rs);
    mb_env_capture(&rs.env);
    mb_now_iso(started, sizeof started);
    rs.t_start = mb_now_ns();
    fprintf(stderr, "mapbench run: suite %s, %zu timed cases (+%zu floor) x %u processes x %u "
            "repetitions, seed %llu%s\n", rs.sel.suite, rs.n_map_cases, rs.n_cases - rs.n_map_cases, rs.sel.processes, rs.sel.reps,
            (unsigned long long)rs.sel.seed, rs.env.git_dirty > 0 ? ", uncommitted changes" : "");
    run_measure(&rs);
    int rc = run_store(&rs, db, argc, argv, started);
    sqlite3_close(db);
    run_free(&rs);
    return rc;
}

const mb_command mb_command_run = {
    "run",
    "time and measure the selected maps, store the run in SQLite",
    "usage: mapbench run [--suite quick|full] [selection] [--processes P] [--reps R]\n"
    "                    [--metric LIST] [--no-time] [--no-memory] [--db PATH]\n"
    "  Times every selected case in P fresh processes (interleaved), runs the memory\n"
    "  phase script in a fresh child per (map, n, blueprint, allocator), verifies every\n"
    "  phase's checksum, and writes the run into the database in one transaction.\n"
    "  --metric: any of time, memory, latency (every insert timed while growing to\n"
    "  min(largest n, 1e6)), churn (constant size, min(largest n, 1e5)), icount\n"
    "  (instructions of every phase under callgrind: slow, use a small --n).\n"
    "  Default: time,memory,latency,churn.  Defaults P = 3, R = 2: 6 samples a case,\n"
    "  enough for the gate's wall-time test to reach time.p.  Every run with timings\n"
    "  also times the harness floor (the calibration map null_map, u64->u64 uniform,\n"
    "  on the same phases and sizes): view phase_floor, the report's speed table.\n"
    "selection (comma-separated lists; default: the suite's):\n"
    "  --impl NAMES  --phase insert,lookup_hit,lookup_miss,delete_all,clear,mixed_rw,\n"
    "                        lookup_half_hit,delete_half,iterate,reinsert,\n"
    "                        lookup_hit_dependent,lookup_hit_cold (by name only)\n"
    "  --hints none,right,small,big   capacity hints for insert/reinsert (quick: none,right)\n"
    "  --threads T,T mixed_rw thread counts (thread-safe maps only; default 1,2)\n"
    "  --mix M,M     mixed_rw mixes: read-only, write-only or a lookup percent (90, 90/10);\n"
    "                quick: 90, full: read-only,90,50,write-only.  Every mixed_rw case also\n"
    "                stores its ceiling, and runs the real Go maps (go-threads-case)\n"
    "  --n SIZES     --blueprint u64->u64,u64->64B,u64->ptr64,str16->u64,str48->u64\n"
    "  --dist uniform,sequential,shuffled,zipf  --seed S  --no-hint\n"
    "  --allocator glibc,jemalloc,mimalloc,tcmalloc  (memory phases; quick: glibc,jemalloc)\n"
    "  --shrink never,low-water   shrink policies for delete_all/delete_half, the memory\n"
    "                script and churn (+ thrash), for the maps that honour low-water;\n"
    "                the other phases run under never (default: both)\n"
    "  --hugepages   the counting allocator mmaps blocks of 2 MiB+ 2 MiB-aligned and\n"
    "                madvises them MADV_HUGEPAGE (timed and memory cases; an axis:\n"
    "                names end /hugepages, column hugepages; view hugepages_effect\n"
    "                compares with the latest run without it)\n"
    "  --db PATH     results database (default " MB_DEFAULT_DB ")\n",
    mb_cmd_run,
};
