/*
 * run.c — `mapbench run`: orchestrates one run and stores it.
 *
 * 1. Plans the run (units.c): the selection's cases and the floor's, then
 *    the units — one timing process of one map, one memory case, one
 *    latency, churn or thrash case, one callgrind case, ... — and the
 *    output group each fills.  `mapbench plan` prints the same units.
 * 2. Executes this run's units (all of them, or --shard I/N's) through the
 *    pool (pool.c): K = --jobs wide for memory, calibration and icount,
 *    alone for every unit that times something.  Timing: P processes of
 *    each map (`mapbench time --emit-tsv --impl MAP`), process p of every map
 *    before process p+1 of any, so process-to-process noise shows up as
 *    spread; every repetition is kept with its process index.
 * 3. Hands everything to the store, which writes it in ONE transaction at
 *    the end (with run_unit: each unit's slot, interval and overlap): a run
 *    killed before that leaves nothing in the database, and two runs into
 *    one database both land (WAL + busy timeout).
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

/* ---- what this machine cannot measure ------------------------------------------------ */

/* Records that `what` `name` is left out because `package` is not installed,
 * and says so: an optional dependency absent on purpose is "not measured" in
 * the run and the report, never a failure and never silent. */
void mb_run_not_measured(run_state *rs, const char *what, const char *name,
                         const char *package)
{
    mb_pool_lock(rs);
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
        mb_pool_unlock(rs);
        return;
    }
    texts[rs->n_not_measured] = text;
    nm[rs->n_not_measured++] = (mb_not_measured){ text, package };
    rs->out.not_measured = rs->not_measured;
    rs->out.n_not_measured = rs->n_not_measured;
    mb_pool_unlock(rs);
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
    mb_pool_lock(rs);
    rs->failures++;
    if (ch && ch->oom)
        rs->oom_failures++;
    else if (st >= 128)
        rs->crashed_failures++;
    mb_pool_unlock(rs);
}

/* Counts failures that are not one child's exit (bad records, callgrind). */
static void run_add_failures(run_state *rs, int n, int oom, int icount)
{
    mb_pool_lock(rs);
    rs->failures += n;
    rs->oom_failures += oom;
    rs->icount_failures += icount;
    mb_pool_unlock(rs);
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

static void run_metric(run_state *rs, const char *v, const mb_command *cmd)
{
    char *copy = strdup(v), *save = NULL;
    if (!copy)
        mb_usage_error(cmd, "out of memory reading --metric");
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
            mb_usage_error(cmd, "--metric wants time, memory, latency, churn and/or"
                           " icount, got '%s'", t);
    }
    free(copy);
    if (!(rs->do_time | rs->do_mem | rs->do_icount | rs->do_latency | rs->do_churn))
        mb_usage_error(cmd, "--metric wants at least one of time, memory, latency,"
                       " churn, icount, got '%s'", v);
}

/* --shard I/N: 1 <= I <= N <= 1000. */
static void run_shard(run_state *rs, const char *v, const mb_command *cmd)
{
    char *end;
    long i = strtol(v, &end, 10), n = *end == '/' ? strtol(end + 1, &end, 10) : -1;
    if (*end || i < 1 || n < 1 || i > n || n > 1000)
        mb_usage_error(cmd, "--shard wants I/N with 1 <= I <= N <= 1000, got '%s'", v);
    rs->shard_index = (unsigned)i;
    rs->shard_count = (unsigned)n;
}

void mb_run_args(run_state *rs, int argc, char **argv, const mb_command *cmd)
{
    const char *v;
    mb_selection_suite(&rs->sel, "quick");
    for (int i = 2; i < argc; i++) /* the suite first: other flags refine it */
        if (strncmp(argv[i], "--suite", 7) == 0) {
            v = mb_flag_value(argc, argv, &i, "--suite", cmd);
            if (v && mb_selection_suite(&rs->sel, v) != 0)
                mb_usage_error(cmd, "unknown suite '%s' (quick or full)", v);
        }
    rs->sel_args = calloc((size_t)argc + 1, sizeof *rs->sel_args);
    if (!rs->sel_args)
        mb_usage_error(cmd, "out of memory reading the command line");
    int metric_given = 0;
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], cmd);
        if ((v = mb_flag_value(argc, argv, &i, "--suite", cmd)))
            continue;
        if ((v = mb_flag_value(argc, argv, &i, "--db", cmd))) {
            if (!v[0] || strcmp(v, ":memory:") == 0 || strncmp(v, "file:", 5) == 0)
                mb_usage_error(cmd, "--db wants a file the run is stored in, got '%s'", v);
            rs->db_path = v;
        } else if ((v = mb_flag_value(argc, argv, &i, "--jobs", cmd))) {
            size_t k = mb_parse_count(v, "--jobs", cmd);
            if (k < 1 || k > MB_SPAWN_SLOTS)
                mb_usage_error(cmd, "--jobs wants 1..%d", MB_SPAWN_SLOTS);
            rs->jobs = (unsigned)k;
        } else if ((v = mb_flag_value(argc, argv, &i, "--shard", cmd)))
            run_shard(rs, v, cmd);
        else if ((v = mb_flag_value(argc, argv, &i, "--run-set", cmd))) {
            if (!v[0] || strlen(v) >= sizeof rs->run_set || strpbrk(v, " \t\n/"))
                mb_usage_error(cmd, "--run-set wants an id of 1..%zu characters without"
                               " blanks or '/', got '%s'", sizeof rs->run_set - 1, v);
            rs->run_set_flag = v;
        } else if (strcmp(argv[i], "--quick") == 0)
            continue; /* the default */
        else if (strcmp(argv[i], "--no-time") == 0)
            rs->do_time = 0;
        else if (strcmp(argv[i], "--no-memory") == 0)
            rs->do_mem = 0;
        else if ((v = mb_flag_value(argc, argv, &i, "--metric", cmd))) {
            run_metric(rs, v, cmd);
            metric_given = 1;
        }
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
    if (!metric_given && rs->sel.default_icount)
        rs->do_icount = 1; /* the full suite's defaults add instruction counts */
    if (rs->run_set_flag && !rs->shard_count)
        mb_usage_error(cmd, "--run-set names the set of a sharded run: give --shard I/N too");
    if (!rs->jobs)
        rs->jobs = 1;
}

/* ---- the units, one kind each ------------------------------------------------------------ */

/* time, floor: one timing process; its S records land in the bench groups
 * of the cases they name. */
static void run_exec_timing(run_state *rs, mb_unit *u)
{
    static const mb_rec_kind *const kinds[] = { &mb_rec_sample, NULL };
    run_child ch;
    run_child_init(&ch, rs, NULL, kinds);
    ch.process_index = (int)u->process;
    int st = mb_run_child(RUN_SELF, u->argv, run_on_line, &ch);
    int bad = (int)ch.reader.failures + ch.bad;
    if (bad || ch.oom)
        run_add_failures(rs, bad, ch.oom, 0);
    if (st != 0 && bad == 0) {
        fprintf(stderr, "mapbench: %s exited with status %d\n", u->id, st);
        run_count_failure(rs, &ch, st);
    }
    u->failed = st != 0 || bad;
}

/* go-threads: one Go map's case in every timing process into its group. */
static void run_exec_go_threads(run_state *rs, mb_unit *u)
{
    static const mb_rec_kind *const kinds[] = { &mb_rec_sample, NULL };
    mb_store_group *g = &rs->out.benches[u->group];
    for (unsigned p = 0; p < rs->sel.processes; p++) {
        run_child ch;
        run_child_init(&ch, rs, g, kinds);
        ch.process_index = (int)p;
        int st = mb_run_child(RUN_SELF, u->argv, run_on_line, &ch);
        if (st == MB_CHILD_EXIT_NOT_BUILT && p == 0) {
            mb_pool_lock(rs);
            int said = rs->go_threads_missing;
            rs->go_threads_missing = 1;
            mb_pool_unlock(rs);
            if (!said)
                mb_run_not_measured(rs, "mixed_rw of the real Go maps: ",
                                    "go_syncmap, go_rwmutex_map, go_sharded_map", "golang-go");
            mb_store_rows_free(&g->rows); /* nothing stored for it */
            return;
        }
        if (st != 0 || ch.reader.failures || ch.bad) {
            fprintf(stderr, "mapbench: FAILED %s\n", u->id);
            run_add_failures(rs, 1, 0, 0);
            u->failed = 1;
            return;
        }
    }
}

static void run_exec_calibrate(run_state *rs, mb_unit *u)
{
    static const mb_rec_kind *const kinds[] = { &mb_rec_calib, NULL };
    run_child ch;
    run_child_init(&ch, rs, NULL, kinds);
    if (mb_run_child(RUN_SELF, u->argv, run_on_line, &ch) != 0 || ch.calib[0] < 0) {
        fprintf(stderr, "mapbench: memory calibration failed\n");
        run_add_failures(rs, 1, 0, 0);
        u->failed = 1;
        return;
    }
    rs->out.rss_floor_bytes = ch.calib[0];
    rs->out.calib_64mib_rss_bytes = ch.calib[1];
    fprintf(stderr, "memory: instrument floor %.1f MiB RSS; a 64 MiB touched mapping reads"
            " as %.2f MiB\n", (double)ch.calib[0] / 1048576.0, (double)ch.calib[1] / 1048576.0);
}

/* Before the first go-memory unit: does the Go runtime start at all?  A
 * build without Go is "not measured"; a runtime that fails (e.g. out of
 * memory under a limit) is one failure, said once, and no go_runtime rows.
 * Returns 1 when the go-memory units may run.  Go-memory units run alone,
 * so this runs once, from one thread. */
static int run_go_probe(run_state *rs)
{
    if (rs->go_probe)
        return rs->go_probe > 0;
    char *probe[] = { "mapbench", "go-mem-case", "--print-keys", "1", NULL };
    int st = mb_run_child_quiet(RUN_SELF, probe);
    rs->go_probe = st == 0 ? 1 : -1;
    if (st == MB_CHILD_EXIT_NOT_BUILT) {
        rs->go_mem_missing = 1;
        mb_run_not_measured(rs, "memory of the real Go map: ", "go_runtime", "golang-go");
    } else if (st != 0) { /* the Go runtime itself failed: say so, do not blame the build */
        fprintf(stderr, "mapbench: FAILED the real Go map's probe: %s %d (%s); no go_runtime"
                " rows\n", st >= 128 ? "killed by signal" : "exit status",
                st >= 128 ? st - 128 : st,
                st == 2 ? "the Go runtime's fatal error, e.g. out of memory under a limit"
                        : st >= 128 ? "a crash, e.g. out of memory under an address-space limit"
                                    : "see its message above");
        run_count_failure(rs, NULL, st);
        if (st == 2)
            run_add_failures(rs, 0, 1, 0); /* Go exits 2 on "fatal error: out of memory" */
    }
    return rs->go_probe > 0;
}

/* memory, go-memory: one child into its group; a failure is counted. */
static void run_exec_memory(run_state *rs, mb_unit *u)
{
    static const mb_rec_kind *const kinds[] = { &mb_rec_mem, &mb_rec_go, &mb_rec_gccost, NULL };
    mb_store_group *g = &rs->out.mems[u->group];
    if (u->kind == MB_UNIT_GO_MEMORY && !run_go_probe(rs)) {
        u->skipped = 1; /* said once by the probe */
        return;
    }
    run_child ch;
    run_child_init(&ch, rs, g, kinds);
    int st = mb_run_child_preload(RUN_SELF, u->argv, u->preload, run_on_line, &ch);
    if (st != 0 || ch.reader.failures || ch.bad) {
        if (u->kind == MB_UNIT_GO_MEMORY && st == 2) /* Go's "fatal error: out of memory" */
            ch.oom = 1;
        fprintf(stderr, "mapbench: FAILED memory case %s n=%zu%s\n", g->c.impl, g->c.n,
                ch.oom ? ": out of memory" : st >= 128 ? ": the child was killed by a signal" : "");
        g->failed = 1;
        u->failed = 1;
        run_count_failure(rs, &ch, st);
    }
}

/* latency, churn, thrash: one child into its group; a failed one is counted
 * and its records are not stored. */
static void run_exec_line(run_state *rs, mb_unit *u)
{
    static const mb_rec_kind *const lat_kinds[] = { &mb_rec_latency, &mb_rec_bucket, NULL };
    static const mb_rec_kind *const churn_kinds[] = { &mb_rec_churn, NULL };
    static const mb_rec_kind *const thrash_kinds[] = { &mb_rec_thrash, NULL };
    mb_store_group *g = u->list == 2 ? &rs->out.latencies[u->group] : &rs->out.churns[u->group];
    run_child ch;
    run_child_init(&ch, rs, g,
                   u->kind == MB_UNIT_LATENCY ? lat_kinds
                   : u->kind == MB_UNIT_CHURN ? churn_kinds : thrash_kinds);
    int st = mb_run_child(RUN_SELF, u->argv, run_on_line, &ch);
    if (st != 0 || ch.reader.failures || ch.bad || g->rows.n_rows == 0) {
        fprintf(stderr, "mapbench: FAILED %s%s\n", u->id, ch.oom ? ": out of memory" : "");
        g->failed = 1;
        u->failed = 1;
        run_count_failure(rs, &ch, st);
    }
}

static void run_exec_icount(run_state *rs, mb_unit *u)
{
    char err[MB_ERR_LEN];
    long long instructions, ops;
    if (mb_icount_measure(u->argv, &instructions, &ops, err, sizeof err) != 0) {
        fprintf(stderr, "mapbench: FAILED %s: %s\n", u->id, err);
        run_add_failures(rs, 1, 0, 1);
        u->failed = 1;
        return;
    }
    mb_store_group *g = &rs->out.benches[u->group];
    char ops_text[32];
    snprintf(ops_text, sizeof ops_text, "%lld", ops);
    const char *vals[] = { ops_text };
    g->instructions = instructions;
    if (!mb_store_rows_add(&g->rows, &mb_rec_icount, vals))
        run_add_failures(rs, 1, 0, 0);
    fprintf(stderr, "  %s: %.1f Ir/op\n", u->id, (double)instructions / (double)ops);
}

/* Runs one unit of any kind, then says how far the run is. */
static void run_exec_unit(run_state *rs, mb_unit *u)
{
    switch (u->kind) {
    case MB_UNIT_TIME:
    case MB_UNIT_FLOOR:
        run_exec_timing(rs, u);
        break;
    case MB_UNIT_GO_THREADS:
        run_exec_go_threads(rs, u);
        break;
    case MB_UNIT_CALIBRATE:
        run_exec_calibrate(rs, u);
        break;
    case MB_UNIT_MEMORY:
    case MB_UNIT_GO_MEMORY:
        run_exec_memory(rs, u);
        break;
    case MB_UNIT_LATENCY:
    case MB_UNIT_CHURN:
    case MB_UNIT_THRASH:
        run_exec_line(rs, u);
        break;
    case MB_UNIT_ICOUNT:
        run_exec_icount(rs, u);
        break;
    default:
        break;
    }
    char eta[32];
    mb_pool_lock(rs);
    size_t done = 0;
    double cost_done = 0, cost_total = 0;
    for (size_t i = 0; i < rs->n_mine; i++) {
        cost_total += rs->mine[i]->cost_s;
        if (rs->mine[i]->ran || rs->mine[i] == u)
            done++, cost_done += rs->mine[i]->cost_s;
    }
    mb_pool_unlock(rs);
    /* the ETA scales the time so far by the estimated cost left */
    double el = (double)(mb_now_ns() - rs->t_start) * 1e-9;
    run_fmt_secs(eta, sizeof eta, cost_done > 0 ? el / cost_done * (cost_total - cost_done) : 0);
    fprintf(stderr, "  [%zu/%zu] %-60s ETA %s\n", done, rs->n_mine, u->id, eta);
}

/* Every case must have come back from every timing process that ran it:
 * reps samples from each of this run's time (floor) units of its map. */
static void run_check_samples(run_state *rs)
{
    for (size_t c = 0; c < rs->n_cases; c++) {
        unsigned units = 0;
        for (size_t i = 0; i < rs->n_mine; i++) {
            const mb_unit *u = rs->mine[i];
            if ((u->kind == MB_UNIT_TIME || u->kind == MB_UNIT_FLOOR) && u->ran &&
                strcmp(u->impl, rs->cases[c].ops->name) == 0)
                units++;
        }
        size_t got = rs->out.benches[c].rows.n_rows, want = (size_t)units * rs->sel.reps;
        for (size_t j = 0; j < rs->out.benches[c].rows.n_rows; j++)
            if (rs->out.benches[c].rows.rows[j].kind != &mb_rec_sample)
                got--; /* its icount row */
        if (got != want) {
            fprintf(stderr, "mapbench: case %s: %zu samples, expected %zu\n", rs->cases[c].name,
                    got, want);
            rs->failures++;
        }
    }
}

/* ---- the command ---------------------------------------------------------------------------- */

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

/* The run_unit rows: every unit this run executed, as it ran. */
static mb_store_unit *run_unit_rows(run_state *rs)
{
    mb_store_unit *rows = calloc(rs->n_mine + 1, sizeof *rows);
    if (!rows)
        return NULL;
    for (size_t i = 0; i < rs->n_mine; i++) {
        const mb_unit *u = rs->mine[i];
        rows[i] = (mb_store_unit){ u->id, mb_unit_kind_name(u->kind), u->alone, u->slot,
                                   u->start_s, u->end_s, u->cost_s, u->work_mops,
                                   u->overlapped,
                                   !u->ran || u->skipped ? "skipped"
                                   : u->failed ? "failed" : "ok" };
    }
    return rows;
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
    free((void *)rs->out.units);
    mb_units_free(rs);
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
    rs->out.units = run_unit_rows(rs);
    rs->out.n_units = rs->out.units ? rs->n_mine : 0;
    rs->out.run_set = rs->shard_count ? rs->run_set : NULL;
    rs->out.shard_index = rs->shard_index;
    rs->out.shard_count = rs->shard_count;
    /* no interruption while storing: the run lands whole, then the signals
     * take their default action */
    mb_spawn_hold_signals(1);
    int rc = argv_text ? mb_store_run_write(db, &rs->out, err, sizeof err) : -1;
    if (!argv_text)
        mb_errf(err, sizeof err, "out of memory");
    free(argv_text);
    mb_spawn_untrap_signals();
    mb_spawn_hold_signals(0);
    if (rc != 0) {
        fprintf(stderr, "mapbench: could not store the run in %s: %s\n", rs->db_path, err);
        mb_progress_write(rs, "failed");
        return 1;
    }
    mb_progress_write(rs, rs->failures ? "stored-failed" : "stored");
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
    mb_run_args(&rs, argc, argv, &mb_command_run);
    mb_run_plan(&rs, &mb_command_run);
    sqlite3 *db = run_open_db(rs.db_path);
    if (!db)
        return 1;
    mb_spawn_trap_signals(); /* ^C from here on: children killed, nothing stored */
    mb_env_capture(&rs.env);
    mb_now_iso(started, sizeof started);
    rs.t_start = mb_now_ns();
    fprintf(stderr, "mapbench run: suite %s, %zu timed cases (+%zu floor) x %u processes x %u "
            "repetitions, seed %llu%s\n", rs.sel.suite, rs.n_map_cases,
            rs.n_cases - rs.n_map_cases, rs.sel.processes, rs.sel.reps,
            (unsigned long long)rs.sel.seed, rs.env.git_dirty > 0 ? ", uncommitted changes" : "");
    if (rs.shard_count)
        fprintf(stderr, "mapbench run: shard %u/%u of run set %s: %zu of the plan's %zu units,"
                " --jobs %u\n", rs.shard_index, rs.shard_count, rs.run_set, rs.n_mine,
                rs.n_units, rs.jobs);
    else
        fprintf(stderr, "mapbench run: %zu units, --jobs %u\n", rs.n_mine, rs.jobs);
    mb_pool_run(&rs, run_exec_unit);
    if (rs.do_time && rs.failures == 0)
        run_check_samples(&rs);
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
    "                    [--jobs K] [--shard I/N [--run-set ID]]\n"
    "  Times every selected case in P fresh processes (interleaved), runs the memory\n"
    "  phase script in a fresh child per (map, n, blueprint, allocator), verifies every\n"
    "  phase's checksum, and writes the run into the database in one transaction.\n"
    "  --metric: any of time, memory, latency (every insert timed while growing to\n"
    "  min(largest n, 1e6)), churn (constant size, min(largest n, 1e5)), icount\n"
    "  (instructions of every phase under callgrind: slow, use a small --n).\n"
    "  Default: time,memory,latency,churn (full: and icount, u64->u64 to 65536).\n"
    "  Defaults P = 3, R = 2 (full: R = 1): 6 samples a case, enough for the gate's\n"
    "  wall-time test to reach time.p.  Every run with timings\n"
    "  also times the harness floor (the calibration map null_map, u64->u64 uniform,\n"
    "  on the same phases and sizes): view phase_floor, the report's speed table.\n"
    "suites: quick (make bench): every map, n = 1e3, 1e5, 1e6, u64->u64 uniform.\n"
    "  full: every axis at fewer points (README: the full suite): timing at\n"
    "  16..65536 by x16 every phase and hint, 1e6 insert and lookup_hit, 3e6 insert;\n"
    "  other blueprints and key orders at 4096; threads (1,2,4 x every mix) at 65536;\n"
    "  memory 16..1e6 by x1.6 under every allocator; icount of the sweep to 65536.\n"
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
    "  --db PATH     results database (default " MB_DEFAULT_DB ")\n"
    "scale-out (mapbench plan prints the units; README: scale-out):\n"
    "  --jobs K      memory, calibration and icount units K wide; every unit that\n"
    "                times something (time, floor, go-threads, latency, churn,\n"
    "                thrash, go-memory) alone, never beside another (default 1).\n"
    "                Table run_unit records each unit's slot, interval and overlap\n"
    "  --shard I/N   only slice I of N (LPT over the plan's cost estimates), into\n"
    "                its own --db; `mapbench merge` of the N databases makes them\n"
    "                one run.  Run set: derived from the plan (same flags, same id)\n"
    "                or --run-set ID.  <db>.progress says how far the shard is\n",
    mb_cmd_run,
};
