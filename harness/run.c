/*
 * run.c — `mapbench run`: orchestrates one run and stores it.
 *
 * 1. Expands the selection into timed cases and memory cases.
 * 2. Timing: P fresh processes (`mapbench time --emit-tsv`), one after the
 *    other, each running every case: the cases are interleaved across
 *    processes, so process-to-process noise shows up as spread, and every
 *    repetition is kept with its process index.
 * 3. Memory: one fresh `mapbench mem-case` process per (map, n, blueprint,
 *    distribution, allocator).
 * 4. Writes the run, its environment and every sample in ONE transaction at
 *    the end: a run killed before that leaves nothing in the database, and
 *    two runs into one database both land (WAL + busy timeout).
 * A case whose checksum fails is reported, the run is stored with status
 * 'failed' (invisible to the views), and the exit status is 1.
 */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

/* ---- collected results ------------------------------------------------------ */

typedef struct sample_rec {
    size_t case_index;
    int process_index, repetition;
    long long iterations;
    double ns_per_op;
} sample_rec;

#define MEM_COLS 16 /* columns after the "M" tag */

typedef struct mem_rec {
    const char *impl, *family, *traits;
    const mb_blueprint *bp;
    mb_dist dist;
    size_t n;
    const char *allocator;
    size_t n_phases;
    char *cols[16][MEM_COLS]; /* strdup'd fields per phase sample */
    size_t n_go;
    char *go_cols[16][8];     /* the real Go map's G lines: runtime.MemStats per phase */
    int failed;
} mem_rec;

/* The real Go runtime map (go-mem-case) is not a registered map: it runs its
 * phases inside Go.  These are the labels its memory cases are stored under. */
#define GO_IMPL "go_runtime"
#define GO_FAMILY "peer"
#define GO_TRAITS "real-go-map,go-1.19,map[uint64]uint64,gc-managed,bytes-are-heap-inuse,never-shrinks"
#define GO_ALLOCATOR "go-runtime"

/* One latency-case or churn-case child: its raw lines, split into fields. */
typedef struct lines_rec {
    const mb_map_ops *ops;
    size_t n;
    char *(*rows)[12];   /* fields of each L/H/C line (strdup'd), NULL-padded */
    size_t n_rows, cap_rows;
    int failed;
} lines_rec;

typedef struct icount_rec {
    long long instructions, ops; /* instructions < 0: not measured */
} icount_rec;

typedef struct run_state {
    mb_selection sel;
    mb_case *cases;
    size_t n_cases;
    sample_rec *samples;
    size_t n_samples, cap_samples;
    mem_rec *mems;
    size_t n_mems;
    icount_rec *icounts;         /* per case, or NULL when not measured */
    lines_rec *latencies, *churns;
    size_t n_latencies, n_churns;
    long long rss_floor_bytes;   /* calibration; -1 = not measured */
    long long calib_64mib_rss_bytes;
    int failures;
} run_state;

/* ---- child processes ------------------------------------------------------------ */

static void ignore_line(void *ud, char *line)
{
    (void)ud;
    (void)line;
}

int mb_run_child_quiet(const char *path, char **args)
{
    return mb_run_child(path, args, ignore_line, NULL);
}

int mb_run_child(const char *path, char **args, mb_line_fn fn, void *ud)
{
    return mb_run_child_preload(path, args, NULL, fn, ud);
}

int mb_run_child_preload(const char *path, char **args, const char *preload, mb_line_fn fn,
                         void *ud)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (preload)
            setenv("LD_PRELOAD", preload, 1);
        else
            unsetenv("LD_PRELOAD");
        execv(path, args);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        line[strcspn(line, "\n")] = 0;
        fn(ud, line);
    }
    free(line);
    fclose(f);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

typedef struct time_child {
    run_state *rs;
    int process_index;
} time_child;

static void on_time_line(void *ud, char *line)
{
    run_state *rs = ((time_child *)ud)->rs;
    int process_index = ((time_child *)ud)->process_index;
    char *f[5];
    size_t k = 0;
    for (char *save = NULL, *t = strtok_r(line, "\t", &save); t && k < 5;
         t = strtok_r(NULL, "\t", &save))
        f[k++] = t;
    if (k >= 3 && strcmp(f[0], "E") == 0) {
        rs->failures++;
        return;
    }
    if (k != 5 || strcmp(f[0], "S") != 0)
        return;
    for (size_t i = 0; i < rs->n_cases; i++) {
        if (strcmp(rs->cases[i].name, f[1]) != 0)
            continue;
        if (rs->n_samples == rs->cap_samples) {
            rs->cap_samples = rs->cap_samples ? 2 * rs->cap_samples : 256;
            rs->samples = realloc(rs->samples, rs->cap_samples * sizeof *rs->samples);
        }
        rs->samples[rs->n_samples++] = (sample_rec){ i, process_index, atoi(f[2]), atoll(f[3]),
                                                     strtod(f[4], NULL) };
        return;
    }
}

static void on_lines(void *ud, char *line)
{
    lines_rec *r = ud;
    if (strncmp(line, "E\t", 2) == 0) {
        r->failed = 1;
        return;
    }
    if (line[0] != 'L' && line[0] != 'H' && line[0] != 'C')
        return;
    if (r->n_rows == r->cap_rows) {
        r->cap_rows = r->cap_rows ? 2 * r->cap_rows : 32;
        r->rows = realloc(r->rows, r->cap_rows * sizeof *r->rows);
    }
    char *(*row)[12] = &r->rows[r->n_rows++];
    size_t k = 0;
    memset(*row, 0, sizeof *row);
    for (char *save = NULL, *t = strtok_r(line, "\t", &save); t && k < 12;
         t = strtok_r(NULL, "\t", &save))
        (*row)[k++] = strdup(t);
}

static void free_lines(lines_rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < r[i].n_rows; j++)
            for (int k = 0; k < 12; k++)
                free(r[i].rows[j][k]);
        free(r[i].rows);
    }
    free(r);
}

static void bind_int_or_null(sqlite3_stmt *st, int i, const char *s);
static int step(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen);

static void bind_real_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (!s || strcmp(s, "NA") == 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, strtod(s, NULL));
}

/* Stores the latency-case and churn-case results of the run. */
static int store_lines(sqlite3 *db, const run_state *rs, sqlite3_int64 run_id, char *err,
                       size_t errlen)
{
    sqlite3_stmt *lat = NULL, *bucket = NULL, *churn = NULL;
    int rc = -1;
    const mb_blueprint *bp = rs->sel.blueprints[0];
    const char *dist = mb_dist_name(rs->sel.dists[0]);
    if (sqlite3_prepare_v2(db, "INSERT INTO insert_latency (run_id, impl, family, blueprint,"
                           " distribution, n, hint, allocator, p50_ns, p90_ns, p99_ns, p999_ns,"
                           " max_ns, mean_ns, timer_overhead_ns, grow_events)"
                           " VALUES (?,?,?,?,?,?,0,'glibc',?,?,?,?,?,?,?,?)", -1, &lat, NULL) ||
        sqlite3_prepare_v2(db, "INSERT INTO latency_bucket (latency_id, low_ns, high_ns, inserts)"
                           " VALUES (?,?,?,?)", -1, &bucket, NULL) ||
        sqlite3_prepare_v2(db, "INSERT INTO churn_sample (run_id, impl, blueprint, distribution,"
                           " n, allocator, ops_done, ns_per_op, entries, capacity, tombstones,"
                           " mean_probe, max_probe, map_live_bytes)"
                           " VALUES (?,?,?,?,?,'glibc',?,?,?,?,?,?,?,?)", -1, &churn, NULL)) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        goto out;
    }
    for (size_t i = 0; i < rs->n_latencies; i++) {
        const lines_rec *r = &rs->latencies[i];
        sqlite3_int64 id = -1;
        for (size_t j = 0; j < r->n_rows && !r->failed; j++) {
            char **f = r->rows[j];
            if (f[0][0] == 'L' && f[9]) {
                sqlite3_bind_int64(lat, 1, run_id);
                sqlite3_bind_text(lat, 2, r->ops->name, -1, SQLITE_STATIC);
                sqlite3_bind_text(lat, 3, r->ops->family, -1, SQLITE_STATIC);
                sqlite3_bind_text(lat, 4, bp->name, -1, SQLITE_STATIC);
                sqlite3_bind_text(lat, 5, dist, -1, SQLITE_STATIC);
                sqlite3_bind_int64(lat, 6, (sqlite3_int64)r->n);
                for (int c = 2; c <= 8; c++)
                    bind_real_or_null(lat, c + 5, f[c]);
                bind_int_or_null(lat, 14, f[9]);
                if (step(db, lat, err, errlen) != 0)
                    goto out;
                id = sqlite3_last_insert_rowid(db);
            } else if (f[0][0] == 'H' && id >= 0 && f[3]) {
                sqlite3_bind_int64(bucket, 1, id);
                bind_real_or_null(bucket, 2, f[1]);
                bind_real_or_null(bucket, 3, f[2]);
                bind_int_or_null(bucket, 4, f[3]);
                if (step(db, bucket, err, errlen) != 0)
                    goto out;
            }
        }
    }
    for (size_t i = 0; i < rs->n_churns; i++) {
        const lines_rec *r = &rs->churns[i];
        for (size_t j = 0; j < r->n_rows && !r->failed; j++) {
            char **f = r->rows[j];
            if (f[0][0] != 'C' || !f[8])
                continue;
            sqlite3_bind_int64(churn, 1, run_id);
            sqlite3_bind_text(churn, 2, r->ops->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(churn, 3, bp->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(churn, 4, dist, -1, SQLITE_STATIC);
            sqlite3_bind_int64(churn, 5, (sqlite3_int64)r->n);
            bind_int_or_null(churn, 6, f[1]);
            bind_real_or_null(churn, 7, f[2]);
            bind_int_or_null(churn, 8, f[3]);
            bind_int_or_null(churn, 9, f[4]);
            bind_int_or_null(churn, 10, f[5]);
            bind_real_or_null(churn, 11, f[6]);
            bind_int_or_null(churn, 12, f[7]);
            bind_int_or_null(churn, 13, f[8]);
            if (step(db, churn, err, errlen) != 0)
                goto out;
        }
    }
    rc = 0;
out:
    sqlite3_finalize(lat);
    sqlite3_finalize(bucket);
    sqlite3_finalize(churn);
    return rc;
}

static void on_calib_line(void *ud, char *line)
{
    run_state *rs = ud;
    long long floor, calib;
    if (sscanf(line, "K\t%lld\t%lld", &floor, &calib) == 2) {
        rs->rss_floor_bytes = floor;
        rs->calib_64mib_rss_bytes = calib;
    }
}

static void on_mem_line(void *ud, char *line)
{
    mem_rec *m = ud;
    if (strncmp(line, "E\t", 2) == 0) {
        m->failed = 1;
        return;
    }
    if (strncmp(line, "G\t", 2) == 0 && m->n_go < 16) {
        size_t k = 0;
        for (char *save = NULL, *t = strtok_r(line + 2, "\t", &save); t && k < 8;
             t = strtok_r(NULL, "\t", &save))
            m->go_cols[m->n_go][k++] = strdup(t);
        if (k >= 7)
            m->n_go++;
        return;
    }
    if (strncmp(line, "M\t", 2) != 0 || m->n_phases >= 16)
        return;
    size_t k = 0;
    for (char *save = NULL, *t = strtok_r(line + 2, "\t", &save); t && k < MEM_COLS;
         t = strtok_r(NULL, "\t", &save))
        m->cols[m->n_phases][k++] = strdup(t);
    if (k == MEM_COLS)
        m->n_phases++;
    else
        m->failed = 1;
}

/* ---- the database write ----------------------------------------------------------- */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (!s || !*s || strcmp(s, "NA") == 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

static void bind_int_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (!s || strcmp(s, "NA") == 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, atoll(s));
}

static void bind_long_or_null(sqlite3_stmt *st, int i, long v)
{
    if (v < 0)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int64(st, i, v);
}

/* Steps st once and resets it.  Returns 0 or -1 with err. */
static int step(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static int store_run(sqlite3 *db, const run_state *rs, const mb_env *env, const char *started,
                     const char *argv_text, char *err, size_t errlen)
{
    sqlite3_stmt *run_st = NULL, *bench_st = NULL, *sample_st = NULL, *mc_st = NULL, *mp_st = NULL,
                 *ic_st = NULL, *go_st = NULL;
    char finished[40], uuid[37];
    int rc = -1;

    mb_now_iso(finished, sizeof finished);
    mb_uuid(uuid);
    if (mb_db_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
#define PREP(st, sql)                                                       \
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {          \
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));                    \
        goto out;                                                           \
    }
    PREP(run_st, "INSERT INTO run (run_uuid, started_at, finished_at, status, suite, seed, git_sha,"
                 " git_dirty, compiler, cflags, build_type, benchmark_version, cpu_model, cores,"
                 " kernel, hostname, l1d_bytes, l2_bytes, l3_bytes, processes, argv,"
                 " rss_floor_bytes, calib_64mib_rss_bytes)"
                 " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    PREP(bench_st, "INSERT INTO bench (run_id, impl, family, traits, phase, blueprint,"
                   " distribution, n, hint, threads, allocator) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    PREP(sample_st, "INSERT INTO sample (bench_id, process_index, repetition, iterations,"
                    " ns_per_op) VALUES (?,?,?,?,?)");
    PREP(ic_st, "INSERT INTO icount (bench_id, instructions, ops) VALUES (?,?,?)");
    PREP(go_st, "INSERT INTO go_memstats (mem_case_id, phase_index, heap_alloc, heap_inuse,"
                " heap_idle, heap_released, heap_sys, num_gc) VALUES (?,?,?,?,?,?,?,?)");
    PREP(mc_st, "INSERT INTO mem_case (run_id, impl, family, traits, blueprint, distribution, n,"
                " allocator) VALUES (?,?,?,?,?,?,?,?)");
    PREP(mp_st, "INSERT INTO mem_phase (mem_case_id, phase_index, phase, entries, map_live_bytes,"
                " map_peak_bytes, alloc_in_use_bytes, alloc_held_bytes, rss_bytes, anon_bytes,"
                " minor_faults, phase_ns, capacity, tombstones, overflow, object_bytes,"
                " peak_rss_bytes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
#undef PREP
    int i = 1;
    sqlite3_bind_text(run_st, i++, uuid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(run_st, i++, started, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(run_st, i++, finished, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(run_st, i++, rs->failures ? "failed" : "complete", -1, SQLITE_STATIC);
    sqlite3_bind_text(run_st, i++, rs->sel.suite, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(run_st, i++, (sqlite3_int64)rs->sel.seed);
    bind_text_or_null(run_st, i++, env->git_sha);
    bind_long_or_null(run_st, i++, env->git_dirty);
    bind_text_or_null(run_st, i++, env->compiler);
    bind_text_or_null(run_st, i++, env->cflags);
    bind_text_or_null(run_st, i++, env->build_type);
    bind_text_or_null(run_st, i++, env->benchmark_version);
    bind_text_or_null(run_st, i++, env->cpu_model);
    bind_long_or_null(run_st, i++, env->cores);
    bind_text_or_null(run_st, i++, env->kernel);
    bind_text_or_null(run_st, i++, env->hostname);
    bind_long_or_null(run_st, i++, env->l1d_bytes);
    bind_long_or_null(run_st, i++, env->l2_bytes);
    bind_long_or_null(run_st, i++, env->l3_bytes);
    sqlite3_bind_int(run_st, i++, (int)rs->sel.processes);
    sqlite3_bind_text(run_st, i++, argv_text, -1, SQLITE_TRANSIENT);
    bind_long_or_null(run_st, i++, (long)rs->rss_floor_bytes);
    bind_long_or_null(run_st, i++, (long)rs->calib_64mib_rss_bytes);
    if (step(db, run_st, err, errlen) != 0)
        goto out;
    sqlite3_int64 run_id = sqlite3_last_insert_rowid(db);

    for (size_t c = 0; c < rs->n_cases; c++) {
        const mb_case *cs = &rs->cases[c];
        sqlite3_int64 bench_id = -1;
        int has_icount = rs->icounts && rs->icounts[c].instructions >= 0;
        for (size_t s = 0; s <= rs->n_samples; s++) {
            const sample_rec *sr = s < rs->n_samples ? &rs->samples[s] : NULL;
            if (sr ? sr->case_index != c : !has_icount)
                continue;
            if (bench_id < 0) {
                i = 1;
                sqlite3_bind_int64(bench_st, i++, run_id);
                sqlite3_bind_text(bench_st, i++, cs->ops->name, -1, SQLITE_STATIC);
                sqlite3_bind_text(bench_st, i++, cs->ops->family, -1, SQLITE_STATIC);
                sqlite3_bind_text(bench_st, i++, cs->ops->traits, -1, SQLITE_STATIC);
                sqlite3_bind_text(bench_st, i++, mb_phase_name(cs->phase), -1, SQLITE_STATIC);
                sqlite3_bind_text(bench_st, i++, cs->bp->name, -1, SQLITE_STATIC);
                sqlite3_bind_text(bench_st, i++, mb_dist_name(cs->dist), -1, SQLITE_STATIC);
                sqlite3_bind_int64(bench_st, i++, (sqlite3_int64)cs->n);
                sqlite3_bind_int64(bench_st, i++, (sqlite3_int64)cs->hint);
                sqlite3_bind_int(bench_st, i++, (int)cs->threads);
                sqlite3_bind_text(bench_st, i++, "glibc", -1, SQLITE_STATIC);
                if (step(db, bench_st, err, errlen) != 0)
                    goto out;
                bench_id = sqlite3_last_insert_rowid(db);
            }
            if (!sr)
                break;
            sqlite3_bind_int64(sample_st, 1, bench_id);
            sqlite3_bind_int(sample_st, 2, sr->process_index);
            sqlite3_bind_int(sample_st, 3, sr->repetition);
            sqlite3_bind_int64(sample_st, 4, sr->iterations);
            sqlite3_bind_double(sample_st, 5, sr->ns_per_op);
            if (step(db, sample_st, err, errlen) != 0)
                goto out;
        }
        if (has_icount) {
            sqlite3_bind_int64(ic_st, 1, bench_id);
            sqlite3_bind_int64(ic_st, 2, rs->icounts[c].instructions);
            sqlite3_bind_int64(ic_st, 3, rs->icounts[c].ops);
            if (step(db, ic_st, err, errlen) != 0)
                goto out;
        }
    }
    for (size_t k = 0; k < rs->n_mems; k++) {
        const mem_rec *m = &rs->mems[k];
        if (m->n_phases == 0)
            continue;
        i = 1;
        sqlite3_bind_int64(mc_st, i++, run_id);
        sqlite3_bind_text(mc_st, i++, m->impl, -1, SQLITE_STATIC);
        sqlite3_bind_text(mc_st, i++, m->family, -1, SQLITE_STATIC);
        sqlite3_bind_text(mc_st, i++, m->traits, -1, SQLITE_STATIC);
        sqlite3_bind_text(mc_st, i++, m->bp->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(mc_st, i++, mb_dist_name(m->dist), -1, SQLITE_STATIC);
        sqlite3_bind_int64(mc_st, i++, (sqlite3_int64)m->n);
        sqlite3_bind_text(mc_st, i++, m->allocator, -1, SQLITE_STATIC);
        if (step(db, mc_st, err, errlen) != 0)
            goto out;
        sqlite3_int64 mc_id = sqlite3_last_insert_rowid(db);
        for (size_t p = 0; p < m->n_phases; p++) {
            sqlite3_bind_int64(mp_st, 1, mc_id);
            sqlite3_bind_int(mp_st, 2, atoi(m->cols[p][0]));
            sqlite3_bind_text(mp_st, 3, m->cols[p][1], -1, SQLITE_STATIC);
            for (int col = 2; col < MEM_COLS; col++)
                bind_int_or_null(mp_st, col + 2, m->cols[p][col] ? m->cols[p][col] : "NA");
            if (step(db, mp_st, err, errlen) != 0)
                goto out;
        }
        for (size_t p = 0; p < m->n_go; p++) {
            sqlite3_bind_int64(go_st, 1, mc_id);
            for (int col = 0; col < 7; col++)
                bind_int_or_null(go_st, col + 2, m->go_cols[p][col]);
            if (step(db, go_st, err, errlen) != 0)
                goto out;
        }
    }
    if (store_lines(db, rs, run_id, err, errlen) != 0)
        goto out;
    if (mb_db_exec(db, "COMMIT", err, errlen) == 0)
        rc = 0;
out:
    if (rc != 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(run_st);
    sqlite3_finalize(bench_st);
    sqlite3_finalize(sample_st);
    sqlite3_finalize(mc_st);
    sqlite3_finalize(mp_st);
    sqlite3_finalize(ic_st);
    sqlite3_finalize(go_st);
    return rc;
}

/* ---- the command ---------------------------------------------------------------------- */

static void make_parent_dir(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    char *dir = dirname(buf);
    if (strcmp(dir, ".") != 0)
        mkdir(dir, 0777); /* one level (results/); deeper paths must exist */
}

static void fmt_secs(char *buf, size_t len, double s)
{
    if (s < 90)
        snprintf(buf, len, "%.0fs", s);
    else
        snprintf(buf, len, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
}

/* One memory child to run. */
typedef struct mem_spec {
    const mb_map_ops *ops;
    const mb_blueprint *bp;
    mb_dist dist;
    size_t n;
    const char *allocator;
} mem_spec;

/* Which memory cases a selection runs.  The first blueprint and distribution
 * get every size (up to big_n) under every allocator; the others, when the
 * suite has side sizes, those sizes under the first allocator only; and the
 * suite's extra memory blueprints (inline vs pointer values) at their size.
 * Returns the count; *out is malloc'd. */
static size_t mem_plan(const mb_selection *sel, mem_spec **out)
{
    size_t cap = 64, n = 0;
    mem_spec *sp = malloc(cap * sizeof *sp);
    mb_map_config cfg;

#define ADD(o, b, d, size, a)                                                   \
    do {                                                                        \
        if (n == cap)                                                           \
            sp = realloc(sp, (cap *= 2) * sizeof *sp);                          \
        sp[n++] = (mem_spec){ (o), (b), (d), (size), (a) };                     \
    } while (0)
    for (size_t b = 0; b < sel->n_blueprints; b++)
        for (size_t d = 0; d < sel->n_dists; d++) {
            int side = (b > 0 || d > 0) && sel->n_side_sizes > 0;
            if (side && b > 0 && d > 0)
                continue; /* as the timed cases: one thing varied at a time */
            const size_t *sizes = side ? sel->side_sizes : sel->sizes;
            size_t n_sizes = side ? sel->n_side_sizes : sel->n_sizes;
            size_t n_alloc = side ? 1 : sel->n_allocators;
            for (size_t a = 0; a < n_alloc; a++)
                for (size_t s = 0; s < n_sizes; s++)
                    for (size_t i = 0; i < sel->n_impls; i++) {
                        if (sizes[s] < 2 || (sel->big_n && sizes[s] > sel->big_n) ||
                            !mb_case_config(sel->impls[i], sel->blueprints[b], 0, sel->seed, &cfg))
                            continue;
                        ADD(sel->impls[i], sel->blueprints[b], sel->dists[d], sizes[s],
                            sel->allocators[a]);
                    }
        }
    for (size_t b = 0; b < sel->n_mem_extra; b++)
        for (size_t i = 0; i < sel->n_impls; i++)
            if (mb_case_config(sel->impls[i], sel->mem_extra[b], 0, sel->seed, &cfg))
                ADD(sel->impls[i], sel->mem_extra[b], sel->dists[0], sel->mem_extra_n,
                    sel->allocators[0]);
#undef ADD
    *out = sp;
    return n;
}

int mb_cmd_run(int argc, char **argv)
{
    run_state rs;
    const char *db_path = MB_DEFAULT_DB;
    int do_time = 1, do_mem = 1, do_icount = 0, do_latency = 1, do_churn = 1;
    char *sel_args[64];
    int n_sel_args = 0;
    char err[MB_ERR_LEN], started[40], eta[32];

    memset(&rs, 0, sizeof rs);
    mb_selection_suite(&rs.sel, "quick");
    for (int i = 2; i < argc; i++) /* the suite first: other flags refine it */
        if (strncmp(argv[i], "--suite", 7) == 0) {
            const char *v = mb_flag_value(argc, argv, &i, "--suite", "run");
            if (v && mb_selection_suite(&rs.sel, v) != 0)
                mb_usage_error("run", "unknown suite '%s' (quick or full)", v);
        }
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (mb_is_help(argv[i])) {
            mb_print_usage(stdout, "run");
            return 0;
        }
        if ((v = mb_flag_value(argc, argv, &i, "--suite", "run")))
            continue;
        if ((v = mb_flag_value(argc, argv, &i, "--db", "run")))
            db_path = v;
        else if (strcmp(argv[i], "--quick") == 0)
            continue; /* the default */
        else if (strcmp(argv[i], "--no-time") == 0)
            do_time = 0;
        else if (strcmp(argv[i], "--no-memory") == 0)
            do_mem = 0;
        else if ((v = mb_flag_value(argc, argv, &i, "--metric", "run"))) {
            char buf[128], *save = NULL;
            snprintf(buf, sizeof buf, "%s", v);
            do_time = do_mem = do_icount = do_latency = do_churn = 0;
            for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (strcmp(t, "time") == 0)
                    do_time = 1;
                else if (strcmp(t, "memory") == 0)
                    do_mem = 1;
                else if (strcmp(t, "icount") == 0)
                    do_icount = 1;
                else if (strcmp(t, "latency") == 0)
                    do_latency = 1;
                else if (strcmp(t, "churn") == 0)
                    do_churn = 1;
                else
                    mb_usage_error("run", "--metric wants time, memory, latency, churn and/or icount,"
                                   " got '%s'", t);
            }
        }
        else {
            /* selection flags are kept verbatim for the timing children, so
             * they rebuild exactly this case list from the same suite */
            int first = i;
            if (!mb_selection_flag(&rs.sel, argc, argv, &i, "run"))
                mb_usage_error("run", "unknown argument '%s'", argv[i]);
            for (int j = first; j <= i && n_sel_args < 62; j++)
                sel_args[n_sel_args++] = argv[j];
        }
    }
    rs.n_cases = mb_cases_build(&rs.sel, &rs.cases);
    if (rs.n_cases == 0)
        mb_usage_error("run", "the selection holds no case");

    /* Fail fast on a database we cannot use, before minutes of measuring. */
    make_parent_dir(db_path);
    sqlite3 *db = mb_db_open(db_path, 1, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    if (sqlite3_db_readonly(db, "main") == 1) {
        fprintf(stderr, "mapbench: %s: read-only; cannot store a run\n", db_path);
        sqlite3_close(db);
        return 1;
    }

    mb_env env;
    mb_env_capture(&env);
    mb_now_iso(started, sizeof started);
    uint64_t t_start = mb_now_ns();
    fprintf(stderr, "mapbench run: suite %s, %zu timed cases x %u processes x %u repetitions, "
            "seed %llu%s\n", rs.sel.suite, rs.n_cases, rs.sel.processes, rs.sel.reps,
            (unsigned long long)rs.sel.seed, env.git_dirty > 0 ? ", uncommitted changes" : "");

    char argbuf[8192], *args[72];
    if (do_time) {
        for (unsigned p = 0; p < rs.sel.processes; p++) {
            size_t k = 0;
            args[k++] = "mapbench";
            args[k++] = "time";
            args[k++] = "--emit-tsv";
            if (p > 0)
                args[k++] = "--quiet";
            args[k++] = "--suite";
            args[k++] = (char *)rs.sel.suite;
            for (int j = 0; j < n_sel_args; j++)
                args[k++] = sel_args[j];
            args[k] = NULL;
            double elapsed = (double)(mb_now_ns() - t_start) * 1e-9;
            if (p > 0)
                fmt_secs(eta, sizeof eta, elapsed / p * (rs.sel.processes - p));
            fprintf(stderr, "time: process %u/%u%s%s\n", p + 1, rs.sel.processes,
                    p ? ", timing ETA " : "", p ? eta : "");
            time_child tc = { &rs, (int)p };
            int st = mb_run_child("/proc/self/exe", args, on_time_line, &tc);
            if (st != 0 && rs.failures == 0) {
                fprintf(stderr, "mapbench: timing process %u exited with status %d\n", p + 1, st);
                rs.failures++;
            }
        }
    }
    if (do_time && rs.failures == 0) {
        /* every case the parent expects must have come back from every process */
        for (size_t c = 0; c < rs.n_cases; c++) {
            size_t got = 0;
            for (size_t k = 0; k < rs.n_samples; k++)
                got += rs.samples[k].case_index == c;
            if (got != (size_t)rs.sel.processes * rs.sel.reps) {
                fprintf(stderr, "mapbench: case %s: %zu samples, expected %u\n",
                        rs.cases[c].name, got, rs.sel.processes * rs.sel.reps);
                rs.failures++;
            }
        }
    }
    rs.rss_floor_bytes = rs.calib_64mib_rss_bytes = -1;
    if (do_mem) {
        char *cargs[] = { "mapbench", "mem-case", "--calibrate", NULL };
        if (mb_run_child("/proc/self/exe", cargs, on_calib_line, &rs) != 0 ||
            rs.rss_floor_bytes < 0) {
            fprintf(stderr, "mapbench: memory calibration failed\n");
            rs.failures++;
        } else {
            fprintf(stderr, "memory: instrument floor %.1f MiB RSS; a 64 MiB touched mapping reads"
                    " as %.2f MiB\n", (double)rs.rss_floor_bytes / 1048576.0,
                    (double)rs.calib_64mib_rss_bytes / 1048576.0);
        }
    }
    if (do_mem) {
        mem_spec *specs = NULL;
        size_t total = mem_plan(&rs.sel, &specs);
        rs.mems = calloc(total + rs.sel.n_sizes * rs.sel.n_dists + 1, sizeof *rs.mems);
        uint64_t t_mem = mb_now_ns();
        for (size_t k = 0; k < total; k++) {
            const mem_spec *sp = &specs[k];
            mem_rec *m = &rs.mems[rs.n_mems++];
            memset(m, 0, sizeof *m);
            m->impl = sp->ops->name;
            m->family = sp->ops->family;
            m->traits = sp->ops->traits;
            m->bp = sp->bp;
            m->dist = sp->dist;
            m->n = sp->n;
            m->allocator = sp->allocator;
            char nbuf[32], seedbuf[32];
            snprintf(nbuf, sizeof nbuf, "%zu", m->n);
            snprintf(seedbuf, sizeof seedbuf, "%llu", (unsigned long long)rs.sel.seed);
            char *margs[] = { "mapbench", "mem-case", "--impl", (char *)m->impl, "--n", nbuf,
                              "--blueprint", (char *)m->bp->name, "--dist",
                              (char *)mb_dist_name(m->dist), "--seed", seedbuf, "--allocator",
                              (char *)m->allocator, NULL };
            const mb_allocator_info *al = mb_allocator_find(m->allocator);
            int st = mb_run_child_preload("/proc/self/exe", margs, al->preload, on_mem_line, m);
            if (st != 0 || m->failed) {
                fprintf(stderr, "mapbench: FAILED memory case %s n=%zu\n", m->impl, m->n);
                rs.failures++;
            }
            double el = (double)(mb_now_ns() - t_mem) * 1e-9;
            fmt_secs(eta, sizeof eta, el / (double)(k + 1) * (double)(total - k - 1));
            fprintf(stderr, "  memory [%zu/%zu] %-14s %-10s %-9s n=%-9zu ETA %s\n", k + 1, total,
                    m->impl, m->bp->name, m->allocator, m->n, eta);
        }
        free(specs);
    }

    /* The real Go map, beside gomap: u64->u64 only, its own allocator. */
    if (do_mem && rs.sel.blueprints[0] == &mb_blueprints[0]) {
        char *probe[] = { "mapbench", "go-mem-case", "--print-keys", "1", NULL };
        if (mb_run_child_quiet("/proc/self/exe", probe) != 0) {
            fprintf(stderr, "memory: the real Go map is not built (golang-go missing at build"
                    " time): no go_runtime rows\n");
        } else {
            for (size_t d = 0; d < rs.sel.n_dists; d++)
                for (size_t s = 0; s < rs.sel.n_sizes; s++) {
                    if (rs.sel.sizes[s] < 2 || (rs.sel.big_n && rs.sel.sizes[s] > rs.sel.big_n) ||
                        (rs.sel.dists[d] != MB_DIST_UNIFORM &&
                         rs.sel.dists[d] != MB_DIST_SEQUENTIAL))
                        continue;
                    mem_rec *m = &rs.mems[rs.n_mems++];
                    memset(m, 0, sizeof *m);
                    m->impl = GO_IMPL;
                    m->family = GO_FAMILY;
                    m->traits = GO_TRAITS;
                    m->bp = &mb_blueprints[0];
                    m->dist = rs.sel.dists[d];
                    m->n = rs.sel.sizes[s];
                    m->allocator = GO_ALLOCATOR;
                    char nbuf[32], seedbuf[32];
                    snprintf(nbuf, sizeof nbuf, "%zu", m->n);
                    snprintf(seedbuf, sizeof seedbuf, "%llu", (unsigned long long)rs.sel.seed);
                    char *gargs[] = { "mapbench", "go-mem-case", "--n", nbuf, "--dist",
                                      (char *)mb_dist_name(m->dist), "--seed", seedbuf, NULL };
                    int st = mb_run_child("/proc/self/exe", gargs, on_mem_line, m);
                    if (st != 0 || m->failed) {
                        fprintf(stderr, "mapbench: FAILED memory case go_runtime n=%zu\n", m->n);
                        rs.failures++;
                    }
                    fprintf(stderr, "  memory go_runtime (real Go 1.19 map) n=%zu\n", m->n);
                }
        }
    }

    /* Tail latency while growing to the largest n (at most 1e6), and churn at
     * constant size (at most 1e5): first blueprint and distribution, glibc. */
    size_t n_max = 0;
    for (size_t k = 0; k < rs.sel.n_sizes; k++)
        if (rs.sel.sizes[k] > n_max)
            n_max = rs.sel.sizes[k];
    for (int kind = 0; kind < 2; kind++) {
        int on = kind == 0 ? do_latency : do_churn;
        size_t n = kind == 0 ? (n_max < 1000000 ? n_max : 1000000)
                             : (n_max < 100000 ? n_max : 100000);
        if (!on || n < 4)
            continue;
        lines_rec *recs = calloc(rs.sel.n_impls, sizeof *recs);
        size_t nrec = 0;
        uint64_t t_k = mb_now_ns();
        for (size_t i = 0; i < rs.sel.n_impls; i++) {
            mb_map_config cfg;
            const mb_map_ops *ops = rs.sel.impls[i];
            if (!mb_case_config(ops, rs.sel.blueprints[0], 0, rs.sel.seed, &cfg))
                continue;
            lines_rec *r = &recs[nrec++];
            r->ops = ops;
            r->n = n;
            char nbuf[32], seedbuf[32];
            snprintf(nbuf, sizeof nbuf, "%zu", n);
            snprintf(seedbuf, sizeof seedbuf, "%llu", (unsigned long long)rs.sel.seed);
            char *cargs[] = { "mapbench", kind == 0 ? "latency-case" : "churn-case", "--impl",
                              (char *)ops->name, "--n", nbuf, "--blueprint",
                              (char *)rs.sel.blueprints[0]->name, "--dist",
                              (char *)mb_dist_name(rs.sel.dists[0]), "--seed", seedbuf, NULL };
            int st = mb_run_child("/proc/self/exe", cargs, on_lines, r);
            if (st != 0 || r->failed || r->n_rows == 0) {
                fprintf(stderr, "mapbench: FAILED %s case %s n=%zu\n", cargs[1], ops->name, n);
                r->failed = 1;
                rs.failures++;
            }
            double el = (double)(mb_now_ns() - t_k) * 1e-9;
            fmt_secs(eta, sizeof eta, el / (double)(i + 1) * (double)(rs.sel.n_impls - i - 1));
            fprintf(stderr, "  %s [%zu/%zu] %-14s n=%-9zu ETA %s\n",
                    kind == 0 ? "latency" : "churn", i + 1, rs.sel.n_impls, ops->name, n, eta);
        }
        if (kind == 0)
            rs.latencies = recs, rs.n_latencies = nrec;
        else
            rs.churns = recs, rs.n_churns = nrec;
    }

    if (do_icount) {
        rs.icounts = malloc(rs.n_cases * sizeof *rs.icounts);
        uint64_t t_ic = mb_now_ns();
        for (size_t c = 0; c < rs.n_cases; c++) {
            icount_rec *ic = &rs.icounts[c];
            ic->instructions = -1;
            if (rs.cases[c].phase == MB_PHASE_MIXED_RW)
                continue; /* threads: not deterministic */
            if (mb_icount_measure(&rs.cases[c], rs.sel.seed, &ic->instructions, &ic->ops, err,
                                  sizeof err) != 0) {
                fprintf(stderr, "mapbench: FAILED icount %s: %s\n", rs.cases[c].name, err);
                ic->instructions = -1;
                rs.failures++;
                continue;
            }
            double el = (double)(mb_now_ns() - t_ic) * 1e-9;
            fmt_secs(eta, sizeof eta, el / (double)(c + 1) * (double)(rs.n_cases - c - 1));
            fprintf(stderr, "  icount [%zu/%zu] %-52s %9.1f Ir/op  ETA %s\n", c + 1, rs.n_cases,
                    rs.cases[c].name, (double)ic->instructions / (double)ic->ops, eta);
        }
    }

    size_t arglen = 0;
    for (int i = 0; i < argc; i++)
        arglen += (size_t)snprintf(argbuf + arglen, sizeof argbuf - arglen, "%s%s", i ? " " : "",
                                   argv[i]) ;
    if (arglen >= sizeof argbuf)
        argbuf[sizeof argbuf - 1] = 0;
    int rc = store_run(db, &rs, &env, started, argbuf, err, sizeof err);
    sqlite3_close(db);
    for (size_t k = 0; k < rs.n_mems; k++) {
        for (size_t p = 0; p < rs.mems[k].n_phases; p++)
            for (int c = 0; c < MEM_COLS; c++)
                free(rs.mems[k].cols[p][c]);
        for (size_t p = 0; p < rs.mems[k].n_go; p++)
            for (int c = 0; c < 8; c++)
                free(rs.mems[k].go_cols[p][c]);
    }
    free(rs.mems);
    free(rs.icounts);
    free_lines(rs.latencies, rs.n_latencies);
    free_lines(rs.churns, rs.n_churns);
    free(rs.samples);
    free(rs.cases);
    if (rc != 0) {
        fprintf(stderr, "mapbench: could not store the run in %s: %s\n", db_path, err);
        return 1;
    }
    fmt_secs(eta, sizeof eta, (double)(mb_now_ns() - t_start) * 1e-9);
    if (rs.failures) {
        fprintf(stderr, "mapbench: %d case(s) FAILED (wrong checksum, count or invariant); the run "
                "is stored as failed in %s and hidden from the views\n", rs.failures, db_path);
        return 1;
    }
    fprintf(stderr, "mapbench run: complete in %s; results in %s\n", eta, db_path);
    return 0;
}
