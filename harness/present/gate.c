/*
 * gate.c — `mapbench gate`: is the latest complete run worse than a baseline?
 *
 * Metrics, case by case (thresholds in ci/gate.conf, overridable per case):
 *   instructions per op (callgrind; deterministic)  warn > +0.5%, fail > +2%
 *   map bytes per entry after insert (deterministic)              fail > +1%
 *   map bytes retained after delete_all (deterministic)           fail > +1%
 *   wall time (noisy): needs >= 3 timing processes on each side; a median
 *     ratio above 1.15 with a one-sided Mann-Whitney U p < 0.01 warns, and
 *     fails only when the same case's instructions went up too.
 * Improvements beyond a threshold are reported as 'improved'.  A case the
 * baseline has and the current run lacks is reported 'missing' (a warning).
 *
 * The baseline is a run id, a git ref (the newest complete run of that
 * commit), or another results database (its newest complete run); default:
 * the complete run before the latest.  Runs from a different CPU, compiler,
 * flags or suite are refused unless --force.
 *
 * Judging reads through the store's read door; every decision goes into
 * gate_decision through a second, write connection (none with --no-record or
 * when the file cannot be written, and then the gate says so).  Exit: 0 pass (warnings allowed),
 * 1 regression, 2 cannot judge.
 */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "present.h"
#include "store.h"

#ifndef MB_SOURCE_DIR
#define MB_SOURCE_DIR "."
#endif

/* ---- configuration ------------------------------------------------------- */

typedef struct gate_override {
    char glob[128], key[32];
    double value;
} gate_override;

typedef struct gate_conf {
    double icount_warn, icount_fail, bytes_fail, retained_fail, time_ratio, time_p;
    int time_min_processes;
    gate_override ov[64];
    int n_ov;
} gate_conf;

static double *gate_conf_slot(gate_conf *c, const char *key)
{
    if (!strcmp(key, "icount.warn")) return &c->icount_warn;
    if (!strcmp(key, "icount.fail")) return &c->icount_fail;
    if (!strcmp(key, "bytes.fail")) return &c->bytes_fail;
    if (!strcmp(key, "retained.fail")) return &c->retained_fail;
    if (!strcmp(key, "time.ratio")) return &c->time_ratio;
    if (!strcmp(key, "time.p")) return &c->time_p;
    return NULL;
}

/* Applies one line of a gate configuration.  Returns 0, or -1 with err. */
static int gate_conf_line(gate_conf *c, char *line, const char *where, int lineno, char *err,
                     size_t errlen)
{
    char a[128], b[64], d[64];
    double v;
    line[strcspn(line, "#\n")] = 0;
    int k = sscanf(line, "%127s %63s %63s", a, b, d);
    if (k <= 0)
        return 0;
    if (!strcmp(a, "override") && k == 3) {
        if (c->n_ov == (int)(sizeof c->ov / sizeof *c->ov)) {
            mb_errf(err, errlen, "%s:%d: more than %zu overrides", where, lineno,
                     sizeof c->ov / sizeof *c->ov);
            return -1;
        }
        if (sscanf(line, "%*s %127s %31s %lf", c->ov[c->n_ov].glob, c->ov[c->n_ov].key, &v) != 3 ||
            !gate_conf_slot(c, c->ov[c->n_ov].key)) {
            mb_errf(err, errlen, "%s:%d: override GLOB KEY VALUE with a known KEY", where,
                     lineno);
            return -1;
        }
        c->ov[c->n_ov++].value = v;
    } else if (k == 2 && !strcmp(a, "time.min_processes")) {
        c->time_min_processes = atoi(b);
    } else if (k == 2 && gate_conf_slot(c, a) && sscanf(b, "%lf", &v) == 1) {
        *gate_conf_slot(c, a) = v;
    } else {
        mb_errf(err, errlen, "%s:%d: unknown setting '%s'", where, lineno, a);
        return -1;
    }
    return 0;
}

/* Reads the settings of one configuration (path, or the compiled-in text
 * when path is NULL) into c.  Returns 0, or -1 with err. */
static int gate_conf_read(gate_conf *c, const char *path, char *err, size_t errlen)
{
    FILE *f = path ? fopen(path, "r") : fmemopen((void *)mb_gate_conf, strlen(mb_gate_conf), "r");
    const char *where = path ? path : "ci/gate.conf (compiled in)";
    if (!f) {
        mb_errf(err, errlen, "%s: cannot read the gate configuration", where);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0)
        rc = gate_conf_line(c, line, where, ++lineno, err, errlen);
    free(line);
    fclose(f);
    return rc;
}

/* Loads the thresholds: ci/gate.conf as compiled in (the only place a
 * threshold is written), then, with --config FILE, FILE's settings on top
 * (and FILE's overrides instead of ci/gate.conf's).  Every setting must end
 * up set.  Returns 0, or -1 with err naming the bad line. */
static int gate_conf_load(gate_conf *c, const char *path, char *err, size_t errlen)
{
    static const char *const keys[] = { "icount.warn", "icount.fail", "bytes.fail",
                                        "retained.fail", "time.ratio", "time.p" };
    memset(c, 0, sizeof *c);
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        *gate_conf_slot(c, keys[k]) = NAN;
    c->time_min_processes = -1;
    if (gate_conf_read(c, NULL, err, errlen) != 0)
        return -1;
    if (path) {
        c->n_ov = 0;
        if (gate_conf_read(c, path, err, errlen) != 0)
            return -1;
    }
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        if (isnan(*gate_conf_slot(c, keys[k]))) {
            mb_errf(err, errlen, "ci/gate.conf: no %s setting", keys[k]);
            return -1;
        }
    if (c->time_min_processes < 0) {
        mb_errf(err, errlen, "ci/gate.conf: no time.min_processes setting");
        return -1;
    }
    return 0;
}

/* The threshold for key in case_key: the last matching override, else the default. */
static double gate_conf_get(gate_conf *c, const char *case_key, const char *key)
{
    double v = *gate_conf_slot(c, key);
    for (int i = 0; i < c->n_ov; i++)
        if (!strcmp(c->ov[i].key, key) && fnmatch(c->ov[i].glob, case_key, 0) == 0)
            v = c->ov[i].value;
    return v;
}

/* ---- Mann-Whitney U --------------------------------------------------------- */

static int gate_cmp_double(const void *a, const void *b);

/* The most samples on either side counted exactly (C(40,20) arrangements at
 * most, counted by groups, not one by one); more use the normal approximation. */
#define GATE_MWU_EXACT_MAX 20

/* One-sided p-value that the values in cur tend to be larger than those in
 * base: P(U >= u) where U counts the (cur, base) pairs with cur > base, a tie
 * counting one half.  Exact for nb, nc <= GATE_MWU_EXACT_MAX, ties included:
 * the distribution of U over every equally likely way to split the pooled,
 * tie-grouped values into nb base and nc cur ones (a group of t equal values
 * taking c cur ones adds c * (base values below it) + c * (t - c) / 2, in
 * C(t, c) ways).  Larger samples: the normal approximation with the tie
 * correction of the variance and a continuity correction.
 * tests/test_floor_gate.py checks it against p-values enumerated in Python. */
static double gate_mwu_p_greater(const double *base, int nb, const double *cur, int nc)
{
    int n = nb + nc;
    double *pool = malloc((size_t)(n ? n : 1) * sizeof *pool);
    if (!pool)
        return 1;
    memcpy(pool, base, (size_t)nb * sizeof *pool);
    memcpy(pool + nb, cur, (size_t)nc * sizeof *pool);
    qsort(pool, (size_t)n, sizeof *pool, gate_cmp_double);
    long u2 = 0; /* 2U: ties count 1 */
    for (int i = 0; i < nc; i++)
        for (int j = 0; j < nb; j++)
            u2 += cur[i] > base[j] ? 2 : cur[i] == base[j] ? 1 : 0;
    double p;
    if (nb <= GATE_MWU_EXACT_MAX && nc <= GATE_MWU_EXACT_MAX) {
        /* w[c][v]: weighted ways for the groups so far to hold c cur values with 2U = v */
        int vmax = 2 * nb * nc;
        size_t row = (size_t)vmax + 1;
        double *w = calloc((size_t)(nc + 1) * row, sizeof *w);
        double *w2 = calloc((size_t)(nc + 1) * row, sizeof *w2);
        if (!w || !w2) {
            free(w), free(w2), free(pool);
            return 1;
        }
        w[0] = 1;
        int before = 0; /* values in the groups so far */
        for (int g = 0; g < n;) {
            int t = 1;
            while (g + t < n && pool[g + t] == pool[g])
                t++;
            memset(w2, 0, (size_t)(nc + 1) * row * sizeof *w2);
            for (int c0 = 0; c0 <= nc && c0 <= before; c0++) {
                int base_below = before - c0;
                double ways = 1; /* C(t, c) */
                for (int c = 0; c <= t && c0 + c <= nc; c++) {
                    if (base_below + (t - c) <= nb) {
                        int add = 2 * c * base_below + c * (t - c);
                        for (int v = 0; v + add <= vmax; v++)
                            w2[(size_t)(c0 + c) * row + (size_t)(v + add)] += ways * w[(size_t)c0 * row + (size_t)v];
                    }
                    ways = ways * (t - c) / (c + 1);
                }
            }
            double *tmp = w;
            w = w2, w2 = tmp;
            before += t;
            g += t;
        }
        double total = 0, tail = 0;
        for (int v = 0; v <= vmax; v++) {
            total += w[(size_t)nc * row + (size_t)v];
            if (v >= u2)
                tail += w[(size_t)nc * row + (size_t)v];
        }
        free(w), free(w2);
        p = total > 0 ? tail / total : 1;
    } else {
        double tie_sum = 0; /* sum of t^3 - t over the tie groups */
        for (int g = 0; g < n;) {
            int t = 1;
            while (g + t < n && pool[g + t] == pool[g])
                t++;
            tie_sum += (double)t * t * t - t;
            g += t;
        }
        double mu = nb * (double)nc / 2.0;
        double var = nb * (double)nc / 12.0 * ((n + 1) - tie_sum / ((double)n * (n - 1)));
        if (var <= 0) {
            p = 1;
        } else {
            double z = (u2 / 2.0 - mu - 0.5) / sqrt(var);
            p = 0.5 * erfc(z / sqrt(2));
        }
    }
    free(pool);
    return p;
}

/* The smallest one-sided p the exact test can give with nb vs nc samples:
 * 1 / C(nb + nc, nb), every cur value above every base value, no ties. */
static double gate_mwu_min_p(int nb, int nc)
{
    double c = 1;
    for (int k = 1; k <= nb; k++)
        c = c * (nc + k) / k;
    return 1 / c;
}

static int gate_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double gate_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, gate_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- choosing the runs -------------------------------------------------------- */

static long long gate_one_int(sqlite3 *db, const char *sql, const char *text, long long num)
{
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (text)
        sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(st, 1, num);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

#define GATE_SHA_MAX 64 /* hex digits of a SHA-256 object name (SHA-1: 40) */

static void gate_on_sha(void *ud, char *line)
{
    char *first = ud; /* GATE_SHA_MAX + 2 bytes: a longer line does not fit and fails below */
    if (!first[0])
        snprintf(first, GATE_SHA_MAX + 2, "%s", line);
}

/* Resolves a git ref to its commit's full sha with `git rev-parse`, run by
 * mb_child_run with an argument vector: the ref never reaches a shell.
 * Returns 0 with sha, or -1 (not a commit, no git). */
static int gate_git_commit(const char *ref, char *sha, size_t len)
{
    char first[GATE_SHA_MAX + 2] = "";
    sha[0] = 0;
    if (ref[0] == '-' || len < 41) /* an option to git, not a ref */
        return -1;
    char *rev = sqlite3_mprintf("%s^{commit}", ref);
    if (!rev)
        return -1;
    char *argv[] = { "git", "-C", MB_SOURCE_DIR, "rev-parse", "--verify", "--quiet",
                     "--end-of-options", rev, NULL };
    mb_child c = { .path = "git", .argv = argv, .quiet_stderr = 1, .on_line = gate_on_sha,
                   .ud = first };
    int st = mb_child_run(&c);
    sqlite3_free(rev);
    size_t n = strlen(first);
    if (st != 0 || (n != 40 && n != GATE_SHA_MAX) || strspn(first, "0123456789abcdef") != n ||
        n >= len)
        return -1;
    snprintf(sha, len, "%s", first);
    return 0;
}

/* Resolves --baseline.  Sets *schema to "main" or "base" (an attached file).
 * Returns the baseline run id, or -1 with err. */
static long long gate_resolve_baseline(sqlite3 *db, const char *spec, long long current,
                                  const char **schema, char *err, size_t errlen)
{
    struct stat sb;
    *schema = "main";
    if (!spec)
        return gate_one_int(db, "SELECT run_id FROM complete_run WHERE run_id != ?1"
                           " ORDER BY finished_at DESC, run_id DESC LIMIT 1", NULL, current);
    if (strspn(spec, "0123456789") == strlen(spec)) {
        long long id = gate_one_int(db, "SELECT run_id FROM complete_run WHERE run_id = ?1", NULL,
                               atoll(spec));
        if (id < 0)
            mb_errf(err, errlen, "no complete run %s in this database", spec);
        return id;
    }
    if (stat(spec, &sb) == 0 && S_ISREG(sb.st_mode)) {
        sqlite3 *check = mb_db_open_read(spec, err, errlen); /* validates it is ours */
        if (!check)
            return -1;
        sqlite3_close(check);
        char *uri = mb_db_uri(spec, "mode=ro"); /* the baseline file is only read */
        char *sql = uri ? sqlite3_mprintf("ATTACH %Q AS base", uri) : NULL;
        int rc = sql ? mb_db_exec(db, sql, err, errlen) : -1;
        if (!sql)
            mb_errf(err, errlen, "out of memory");
        sqlite3_free(sql);
        sqlite3_free(uri);
        if (rc != 0)
            return -1;
        *schema = "base";
        long long id = gate_one_int(db, "SELECT run_id FROM base.run WHERE status = 'complete'"
                                   " AND ?1 IS NOT NULL ORDER BY finished_at DESC LIMIT 1", NULL, 0);
        if (id < 0)
            mb_errf(err, errlen, "%s holds no complete run", spec);
        return id;
    }
    /* a git ref */
    char sha[GATE_SHA_MAX + 1] = "";
    if (gate_git_commit(spec, sha, sizeof sha) != 0) {
        mb_errf(err, errlen, "--baseline '%.80s%s' is not a run id, a results database or a"
                 " git ref", spec, strlen(spec) > 80 ? "..." : "");
        return -1;
    }
    long long id = gate_one_int(db, "SELECT run_id FROM complete_run WHERE git_sha = ?1"
                               " ORDER BY finished_at DESC LIMIT 1", sha, 0);
    if (id < 0)
        mb_errf(err, errlen, "no complete run of %s (%.12s) in this database", spec, sha);
    return id;
}

/* Returns 0 when the runs are comparable, else 1 with *why = which field differs and both
 * whole values (sqlite3_mprintf'd, the caller sqlite3_free's it; NULL when out of memory).
 * The values are never cut: cflags differ where builds differ, often past 200 bytes. */
static int gate_incompatible(sqlite3 *db, const char *schema, long long base, long long cur,
                             char **why)
{
    static const char *const fields[] = { "cpu_model", "compiler", "cflags", "suite", NULL };
    *why = NULL;
    for (int i = 0; fields[i]; i++) {
        sqlite3_stmt *st;
        char *sql = sqlite3_mprintf("SELECT (SELECT %s FROM %s.run WHERE run_id = ?1),"
                                    " (SELECT %s FROM main.run WHERE run_id = ?2)",
                                    fields[i], schema, fields[i]);
        int rc = sql ? sqlite3_prepare_v2(db, sql, -1, &st, NULL) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc != SQLITE_OK)
            continue; /* a baseline older than the column (or no memory): not compared */
        sqlite3_bind_int64(st, 1, base);
        sqlite3_bind_int64(st, 2, cur);
        if (sqlite3_step(st) == SQLITE_ROW) {
            const char *a = (const char *)sqlite3_column_text(st, 0);
            const char *b = (const char *)sqlite3_column_text(st, 1);
            if ((a || b) && (!a || !b || strcmp(a, b) != 0)) {
                *why = sqlite3_mprintf("%s differs: baseline '%s', current '%s'", fields[i],
                                       a ? a : "NULL", b ? b : "NULL");
                sqlite3_finalize(st);
                return 1;
            }
        }
        sqlite3_finalize(st);
    }
    return 0;
}

/* ---- judging ------------------------------------------------------------------ */

typedef struct gate_run {
    sqlite3 *db;                 /* the read door: judging never writes */
    sqlite3 *wdb;                /* the write door, for gate_decision only; NULL: not recorded */
    sqlite3_stmt *ins;           /* on wdb; NULL: decisions are not recorded */
    gate_conf conf;
    long long base, cur;
    const char *schema;
    int compared, fails, warns, improved, missing;
    int time_unjudgeable;        /* cases whose sample counts cannot reach time.p */
    int unjudged_nb, unjudged_nc; /* ... the last one's */
} gate_run;

static void gate_decide(gate_run *g, const char *key, const char *metric, double base, int have_cur,
                   double cur, double threshold, const char *verdict, const char *note)
{
    double delta = have_cur && base != 0 ? cur / base - 1 : NAN;
    g->compared += have_cur;
    g->fails += !strcmp(verdict, "fail");
    g->warns += !strcmp(verdict, "warn");
    g->improved += !strcmp(verdict, "improved");
    g->missing += !strcmp(verdict, "missing");
    if (strcmp(verdict, "pass") != 0 && strcmp(verdict, "missing") != 0) {
        if (have_cur)
            printf("%-62s %-20s %12.4g %12.4g %+8.2f%%  %s%s%s\n", key, metric, base, cur,
                   delta * 100, verdict, note ? "  " : "", note ? note : "");
    }
    if (!g->ins)
        return;
    sqlite3_bind_text(g->ins, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(g->ins, 2, metric, -1, SQLITE_STATIC);
    sqlite3_bind_double(g->ins, 3, base);
    if (have_cur)
        sqlite3_bind_double(g->ins, 4, cur);
    else
        sqlite3_bind_null(g->ins, 4);
    if (isnan(delta))
        sqlite3_bind_null(g->ins, 5);
    else
        sqlite3_bind_double(g->ins, 5, delta);
    sqlite3_bind_double(g->ins, 6, threshold);
    sqlite3_bind_text(g->ins, 7, verdict, -1, SQLITE_STATIC);
    sqlite3_step(g->ins);
    sqlite3_reset(g->ins);
}

/* A relative-threshold verdict for a deterministic metric. */
static const char *gate_verdict_for(double base, double cur, double warn, double fail)
{
    double delta = base > 0 ? cur / base - 1 : (cur > base ? INFINITY : 0);
    if (delta > fail)
        return "fail";
    if (warn > 0 && delta > warn)
        return "warn";
    if (delta < -(warn > 0 ? warn : fail))
        return "improved";
    return "pass";
}

/* Deterministic metrics: one value per case on each side. */
static void gate_judge_values(gate_run *g, const char *metric, const char *view_sql,
                         const char *warn_key, const char *fail_key)
{
    sqlite3_stmt *st;
    /* view_sql selects (case_key, value) from "%s." tables twice, for run %lld */
    char *b_sql = sqlite3_mprintf(view_sql, g->schema, g->schema, g->base);
    char *c_sql = sqlite3_mprintf(view_sql, "main", "main", g->cur);
    char *full = sqlite3_mprintf("WITH b AS (%s), c AS (%s) SELECT b.case_key, b.value, c.value"
                                 " FROM b LEFT JOIN c USING (case_key) ORDER BY b.case_key",
                                 b_sql, c_sql);
    int rc = full ? sqlite3_prepare_v2(g->db, full, -1, &st, NULL) : SQLITE_NOMEM;
    sqlite3_free(b_sql);
    sqlite3_free(c_sql);
    sqlite3_free(full);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "mapbench gate: %s: %s\n", metric, sqlite3_errmsg(g->db));
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        double base = sqlite3_column_double(st, 1);
        int have = sqlite3_column_type(st, 2) != SQLITE_NULL;
        double cur = sqlite3_column_double(st, 2);
        double warn = warn_key ? gate_conf_get(&g->conf, key, warn_key) : 0;
        double fail = gate_conf_get(&g->conf, key, fail_key);
        gate_decide(g, key, metric, base, have, cur, fail,
               have ? gate_verdict_for(base, cur, warn, fail) : "missing", NULL);
    }
    sqlite3_finalize(st);
}

#define BENCH_KEY                                                                         \
    "b.impl || '/' || b.phase || '/' || b.blueprint || '/' || b.distribution || '/n:' || b.n" \
    " || '/hint:' || b.hint || '/threads:' || b.threads"                                  \
    " || coalesce('/mix:' || b.lookup_percent, '') || '/' || b.allocator"                 \
    " || CASE WHEN b.shrink = 'never' THEN '' ELSE '/shrink:' || b.shrink END"             \
    " || CASE WHEN b.hugepages THEN '/hugepages' ELSE '' END"

/* (case_key, value) of run %lld, from "%s." tables */
#define ICOUNT_SQL                                                                      \
    "SELECT " BENCH_KEY " AS case_key, i.instructions * 1.0 / i.ops AS value"            \
    " FROM %s.icount i JOIN %s.bench b USING (bench_id) WHERE b.run_id = %lld"
/* The real Go map's bytes are Go's HeapInuse, which moves with the garbage
 * collector's timing: not deterministic, so not gated here.  Inserting does
 * not depend on the shrink policy: the 'never' case is judged (as in view
 * bytes_per_entry); what is kept after delete_all is judged per policy. */
#define BYTES_SQL                                                                       \
    "SELECT c.impl || '/' || c.blueprint || '/' || c.distribution || '/n:' || c.n ||"    \
    " '/' || c.allocator AS case_key, 1.0 * p.map_live_bytes / c.n AS value"             \
    " FROM %s.mem_phase p JOIN %s.mem_case c USING (mem_case_id)"                        \
    " WHERE p.phase = 'insert' AND c.allocator != 'go-runtime' AND c.shrink = 'never'"   \
    " AND c.run_id = %lld"

/* Every sample of one case (a growing array). */
typedef struct gate_samples {
    double *v;
    size_t n, cap;
} gate_samples;

/* Reads the ns_per_op samples of bench_id in schema into out (all of them). */
static void gate_samples_load(gate_run *g, const char *schema, long long bench_id,
                              gate_samples *out)
{
    sqlite3_stmt *s;
    char *q = sqlite3_mprintf("SELECT ns_per_op FROM %s.sample WHERE bench_id = ?", schema);
    if (!q || sqlite3_prepare_v2(g->db, q, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_free(q);
        return;
    }
    sqlite3_free(q);
    sqlite3_bind_int64(s, 1, bench_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (out->n == out->cap) {
            size_t cap = out->cap ? 2 * out->cap : 64;
            double *v = realloc(out->v, cap * sizeof *v);
            if (!v)
                break;
            out->v = v, out->cap = cap;
        }
        out->v[out->n++] = sqlite3_column_double(s, 0);
    }
    sqlite3_finalize(s);
}

/* Wall time: every sample of each case on both sides. */
static void gate_judge_time(gate_run *g)
{
    sqlite3_stmt *keys;
    char *sql = sqlite3_mprintf(
             "SELECT " BENCH_KEY " AS case_key, b.bench_id, c.bench_id,"
             " (SELECT count(DISTINCT process_index) FROM %s.sample s WHERE s.bench_id = b.bench_id),"
             " (SELECT count(DISTINCT process_index) FROM main.sample s WHERE s.bench_id = c.bench_id),"
             " (SELECT instructions * 1.0 / ops FROM %s.icount i WHERE i.bench_id = b.bench_id),"
             " (SELECT instructions * 1.0 / ops FROM main.icount i WHERE i.bench_id = c.bench_id)"
             " FROM %s.bench b LEFT JOIN main.bench c ON c.run_id = ?2 AND c.impl = b.impl"
             " AND c.phase = b.phase AND c.blueprint = b.blueprint AND c.distribution = b.distribution"
             " AND c.n = b.n AND c.hint = b.hint AND c.threads = b.threads AND c.allocator = b.allocator"
             " AND c.lookup_percent IS b.lookup_percent"
             " AND c.shrink = b.shrink AND c.hugepages = b.hugepages"
             " WHERE b.run_id = ?1 AND b.family != 'calibration'" /* the floor: no map */
             " AND EXISTS (SELECT 1 FROM %s.sample s WHERE s.bench_id = b.bench_id)"
             " ORDER BY case_key",
             g->schema, g->schema, g->schema, g->schema);
    int rc = sql ? sqlite3_prepare_v2(g->db, sql, -1, &keys, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "mapbench gate: time: %s\n", sqlite3_errmsg(g->db));
        return;
    }
    sqlite3_bind_int64(keys, 1, g->base);
    sqlite3_bind_int64(keys, 2, g->cur);
    while (sqlite3_step(keys) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(keys, 0);
        long long bb = sqlite3_column_int64(keys, 1);
        int have = sqlite3_column_type(keys, 2) != SQLITE_NULL;
        long long cb = sqlite3_column_int64(keys, 2);
        int pb = sqlite3_column_int(keys, 3), pc = sqlite3_column_int(keys, 4);
        int ic_up = 0;
        if (sqlite3_column_type(keys, 5) != SQLITE_NULL && sqlite3_column_type(keys, 6) != SQLITE_NULL)
            ic_up = sqlite3_column_double(keys, 6) >
                    sqlite3_column_double(keys, 5) * (1 + gate_conf_get(&g->conf, key, "icount.warn"));
        gate_samples b = { 0 }, c = { 0 };
        gate_samples_load(g, g->schema, bb, &b);
        gate_samples_load(g, "main", cb, &c);
        int nb = (int)b.n, nc = (int)c.n;
        if (!have || nc == 0) {
            gate_decide(g, key, "median_ns_per_op", gate_median(b.v, nb), 0, 0, 0, "missing", NULL);
            free(b.v), free(c.v);
            continue;
        }
        double p = gate_mwu_p_greater(b.v, nb, c.v, nc);
        double mb = gate_median(b.v, nb), mc = gate_median(c.v, nc);
        double ratio_max = gate_conf_get(&g->conf, key, "time.ratio");
        double p_max = gate_conf_get(&g->conf, key, "time.p");
        const char *verdict = "pass";
        char note[96] = "";
        if (pb < g->conf.time_min_processes || pc < g->conf.time_min_processes) {
            snprintf(note, sizeof note, "not judged: %d and %d processes", pb, pc);
        } else if (gate_mwu_min_p(nb, nc) >= p_max) {
            /* no arrangement of these samples could reach time.p: say so */
            snprintf(note, sizeof note, "cannot judge wall time with %d vs %d samples", nb, nc);
            g->time_unjudgeable++, g->unjudged_nb = nb, g->unjudged_nc = nc;
        } else if (mc / mb > ratio_max && p < p_max) {
            verdict = ic_up ? "fail" : "warn";
            snprintf(note, sizeof note, "p=%.4f%s", p, ic_up ? ", instructions up too" : "");
        } else if (mb / mc > ratio_max && gate_mwu_p_greater(c.v, nc, b.v, nb) < p_max) {
            verdict = "improved";
        }
        gate_decide(g, key, "median_ns_per_op", mb, 1, mc, ratio_max - 1, verdict,
               note[0] ? note : NULL);
        free(b.v), free(c.v);
    }
    sqlite3_finalize(keys);
}

/* ---- trends ----------------------------------------------------------------------- */

/* Decides one case of a trend over n runs (v[r] where have[r], oldest first).
 * Returns 1 for a step that held for the last two runs. */
static int gate_trend_decide(gate_run *g, const char *key, const char *metric, const char *fail_key,
                        int n, const double *v, const int *have)
{
    double before[64];
    int nb = 0;
    if (!have[n - 1] || !have[n - 2])
        return 0;
    for (int r = 0; r < n - 2; r++)
        if (have[r])
            before[nb++] = v[r];
    if (nb < 2)
        return 0;
    double med = gate_median(before, nb), fail = gate_conf_get(&g->conf, key, fail_key);
    double lo = v[n - 2] < v[n - 1] ? v[n - 2] : v[n - 1];
    int step = med > 0 && lo / med - 1 > fail;
    char m2[64];
    snprintf(m2, sizeof m2, "%s:trend%d", metric, n);
    gate_decide(g, key, m2, med, 1, lo, fail, step ? "fail" : "pass",
           step ? "shift held for the last 2 runs" : NULL);
    return step;
}

/* A step check over the last k complete runs, for a deterministic metric:
 * a case fails when the two newest runs both sit above the median of the
 * runs before them by more than the fail threshold (a shift that persisted
 * for two runs, not one odd run).  value_sql selects (case_key, value) for
 * run %lld from "main." tables (two %s). */
static void gate_judge_trend(gate_run *g, int k, const char *metric, const char *value_sql,
                        const char *fail_key)
{
    sqlite3_stmt *runs, *vals;
    long long ids[64];
    int n = 0;
    if (sqlite3_prepare_v2(g->db, "SELECT run_id FROM main.complete_run"
                                  " ORDER BY finished_at DESC, run_id DESC LIMIT ?", -1, &runs,
                           NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int(runs, 1, k < 64 ? k : 64);
    while (sqlite3_step(runs) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(runs, 0);
    sqlite3_finalize(runs);
    if (n < 4) {
        printf("trend %-20s: %d complete run(s), need 4 (two before the step, two after)\n",
               metric, n);
        return;
    }
    /* every (case, run index) value, oldest run first */
    sqlite3_str *q = sqlite3_str_new(g->db);
    sqlite3_str_appendall(q, "SELECT case_key, r, value FROM (");
    for (int r = 0; r < n; r++) {
        char *one = sqlite3_mprintf(value_sql, "main", "main", ids[n - 1 - r]);
        sqlite3_str_appendf(q, "%sSELECT case_key, %d AS r, value FROM (%s)", r ? " UNION ALL " : "",
                            r, one);
        sqlite3_free(one);
    }
    sqlite3_str_appendall(q, ") ORDER BY case_key, r");
    char *sql = sqlite3_str_finish(q);
    int prc = sql ? sqlite3_prepare_v2(g->db, sql, -1, &vals, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (prc != SQLITE_OK) {
        fprintf(stderr, "mapbench gate: trend: %s\n", sqlite3_errmsg(g->db));
        return;
    }
    char *key = NULL;
    double v[64];
    int have[64] = { 0 };
    int steps = 0;
    for (int rc = sqlite3_step(vals);; rc = sqlite3_step(vals)) {
        const char *kk = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(vals, 0) : NULL;
        if (!kk || !key || strcmp(kk, key) != 0) {
            if (key)
                steps += gate_trend_decide(g, key, metric, fail_key, n, v, have);
            free(key);
            key = kk ? strdup(kk) : NULL;
            if (!key)
                break;
            memset(have, 0, sizeof have);
        }
        int r = sqlite3_column_int(vals, 1);
        v[r] = sqlite3_column_double(vals, 2);
        have[r] = 1;
    }
    sqlite3_finalize(vals);
    printf("trend %-20s: last %d runs, %d persistent step(s)\n", metric, n, steps);
}

/* ---- the command ----------------------------------------------------------------- */

/* The gate's command line. */
typedef struct gate_args {
    const char *db_path, *baseline, *conf_path; /* conf_path NULL: ci/gate.conf, compiled in */
    int force, trend;
    int record;                                 /* 0: --no-record */
    const char *mwu[2];                         /* --mwu BASE CUR: print the p-value only */
} gate_args;

/* Parses gate's arguments; exits on --help and on a usage error. */
static void gate_parse_args(int argc, char **argv, gate_args *a)
{
    const mb_command *cmd = &mb_command_gate;
    const char *v;
    *a = (gate_args){ MB_DEFAULT_DB, NULL, NULL, 0, 0, 1, { NULL, NULL } };
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], cmd);
        if ((v = mb_flag_value(argc, argv, &i, "--db", cmd)))
            a->db_path = v;
        else if ((v = mb_flag_value(argc, argv, &i, "--baseline", cmd)))
            a->baseline = v;
        else if ((v = mb_flag_value(argc, argv, &i, "--config", cmd)))
            a->conf_path = v;
        else if (strcmp(argv[i], "--force") == 0)
            a->force = 1;
        else if (strcmp(argv[i], "--no-record") == 0)
            a->record = 0;
        else if (strcmp(argv[i], "--mwu") == 0) {
            if (i + 2 >= argc)
                mb_usage_error(cmd, "--mwu wants two comma-separated lists: BASE CUR");
            a->mwu[0] = argv[++i], a->mwu[1] = argv[++i];
        }
        else if ((v = mb_flag_value(argc, argv, &i, "--trend", cmd))) {
            a->trend = (int)mb_parse_count(v, "--trend", cmd);
            if (a->trend < 4 || a->trend > 64)
                mb_usage_error(cmd, "--trend wants 4..64 runs");
        }
        else
            mb_usage_error(cmd, "unknown argument '%s'", argv[i]);
    }
}

static void gate_close(gate_run *g)
{
    sqlite3_finalize(g->ins);
    g->ins = NULL;
    sqlite3_close(g->db);
    sqlite3_close(g->wdb);
    g->db = g->wdb = NULL;
}

/* Opens the write connection for gate_decision (first: it may switch the
 * file to WAL) unless --no-record; sets *not_recorded when there is none. */
static void gate_open_record(gate_run *g, const gate_args *a, const char **not_recorded)
{
    char err[MB_ERR_LEN];
    *not_recorded = a->record ? NULL : "--no-record";
    if (!a->record || access(a->db_path, F_OK) != 0)
        return;
    g->wdb = mb_db_open(a->db_path, 0, err, sizeof err);
    if (!g->wdb) {
        fprintf(stderr, "mapbench gate: the decisions will not be recorded: %s\n", err);
        *not_recorded = "the database cannot be written";
        return;
    }
    if (sqlite3_prepare_v2(g->wdb,
            "INSERT INTO main.gate_decision (decided_at, run_id, baseline_run_id, case_key, metric,"
            " baseline_value, current_value, delta_fraction, threshold, verdict)"
            " VALUES (?8, ?9, ?10, ?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &g->ins, NULL) != SQLITE_OK ||
        sqlite3_exec(g->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "mapbench gate: the decisions will not be recorded: %s\n",
                sqlite3_errmsg(g->wdb));
        sqlite3_finalize(g->ins);
        g->ins = NULL;
        *not_recorded = "the database is busy or cannot be written";
    }
}

/* Opens the database (judging: the read door) and picks the current and
 * baseline runs.  Returns 0, or 2 (cannot judge) after saying why; *incomparable
 * is 1 when the runs are not comparable and --force compares them anyway. */
static int gate_open(gate_run *g, const gate_args *a, int *incomparable, const char **not_recorded)
{
    char err[MB_ERR_LEN];
    gate_open_record(g, a, not_recorded);
    g->db = mb_db_open_read(a->db_path, err, sizeof err);
    if (!g->db) {
        fprintf(stderr, "mapbench: %s\n", err);
        gate_close(g);
        return 2;
    }
    g->cur = gate_one_int(g->db, "SELECT run_id FROM latest_run WHERE ?1 IS NOT NULL", NULL, 0);
    err[0] = 0;
    g->base = g->cur < 0 ? -1 : gate_resolve_baseline(g->db, a->baseline, g->cur, &g->schema, err,
                                                 sizeof err);
    if (g->cur < 0 || g->base < 0 || (g->base == g->cur && !strcmp(g->schema, "main"))) {
        fprintf(stderr, "mapbench gate: cannot judge: %s\n",
                err[0] ? err : "need a complete run and a different complete baseline run");
        gate_close(g);
        return 2;
    }
    char *why;
    *incomparable = gate_incompatible(g->db, g->schema, g->base, g->cur, &why);
    if (*incomparable && !a->force) {
        fprintf(stderr, "mapbench gate: cannot judge: the runs are not comparable (%s); "
                "--force compares them anyway\n", why ? why : "out of memory saying why");
        sqlite3_free(why);
        gate_close(g);
        return 2;
    }
    sqlite3_free(why);
    return 0;
}

/* Every judgement, in the order the table shows them. */
static void gate_judge_all(gate_run *g, int trend)
{
    gate_judge_values(g, "instructions_per_op", ICOUNT_SQL, "icount.warn", "icount.fail");
    gate_judge_values(g, "map_bytes_per_entry", BYTES_SQL, NULL, "bytes.fail");
    gate_judge_values(g, "map_retained_bytes",
                 "SELECT c.impl || '/' || c.blueprint || '/' || c.distribution || '/n:' || c.n ||"
                 " '/' || c.allocator || CASE WHEN c.shrink = 'never' THEN '' ELSE"
                 " '/shrink:' || c.shrink END AS case_key, 1.0 * p.map_live_bytes AS value"
                 " FROM %s.mem_phase p JOIN %s.mem_case c USING (mem_case_id)"
                 " WHERE p.phase = 'delete_all' AND c.allocator != 'go-runtime'"
                 " AND c.run_id = %lld",
                 NULL, "retained.fail");
    gate_judge_time(g);
    if (trend) {
        gate_judge_trend(g, trend, "instructions_per_op", ICOUNT_SQL, "icount.fail");
        gate_judge_trend(g, trend, "map_bytes_per_entry", BYTES_SQL, "bytes.fail");
    }
}

/* Commits the recorded decisions.  Returns 1 when they are stored. */
static int gate_commit(gate_run *g, const char **not_recorded)
{
    if (!g->ins)
        return 0;
    sqlite3_finalize(g->ins);
    g->ins = NULL;
    if (sqlite3_exec(g->wdb, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 1;
    fprintf(stderr, "mapbench gate: could not record the decisions: %s\n", sqlite3_errmsg(g->wdb));
    sqlite3_exec(g->wdb, "ROLLBACK", NULL, NULL, NULL);
    *not_recorded = "the commit failed";
    return 0;
}

/* Parses a comma-separated list of at most max numbers into v; returns the
 * count, or -1 for anything that is not one. */
static int gate_parse_list(const char *text, double *v, int max)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        if (n == max)
            return -1;
        v[n++] = strtod(p, &end);
        if (end == p || (*end && *end != ','))
            return -1;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* --mwu BASE CUR: the one-sided p that CUR's values tend to be larger, as the
 * gate computes it (exact with ties up to GATE_MWU_EXACT_MAX a side). */
static int gate_cmd_mwu(const gate_args *a)
{
    double b[256], c[256];
    int nb = gate_parse_list(a->mwu[0], b, 256), nc = gate_parse_list(a->mwu[1], c, 256);
    if (nb < 1 || nc < 1)
        mb_usage_error(&mb_command_gate, "--mwu wants two lists of 1..256 numbers, got '%s' '%s'",
                       a->mwu[0], a->mwu[1]);
    printf("%.17g\n", gate_mwu_p_greater(b, nb, c, nc));
    return 0;
}

static int mb_cmd_gate(int argc, char **argv)
{
    gate_args a;
    gate_run g;
    char err[MB_ERR_LEN], now[40];
    const char *not_recorded = NULL;
    int incomparable = 0;

    memset(&g, 0, sizeof g);
    gate_parse_args(argc, argv, &a);
    if (a.mwu[0])
        return gate_cmd_mwu(&a);
    if (gate_conf_load(&g.conf, a.conf_path, err, sizeof err) != 0) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 2;
    }
    if (gate_open(&g, &a, &incomparable, &not_recorded) != 0)
        return 2;
    mb_now_iso(now, sizeof now);
    if (g.ins) {
        sqlite3_bind_text(g.ins, 8, now, -1, SQLITE_STATIC);
        sqlite3_bind_int64(g.ins, 9, g.cur);
        sqlite3_bind_int64(g.ins, 10, g.base);
    }

    printf("gate: run %lld against baseline run %lld%s%s%s\n", g.cur, g.base,
           strcmp(g.schema, "main") ? " of " : "", strcmp(g.schema, "main") ? a.baseline : "",
           incomparable ? " (forced: runs not comparable)" : "");
    printf("%-62s %-20s %12s %12s %9s  %s\n", "case (only verdicts other than pass)", "metric",
           "baseline", "current", "delta", "verdict");
    gate_judge_all(&g, a.trend);
    int recorded = gate_commit(&g, &not_recorded);
    gate_close(&g);
    if (g.compared == 0) {
        fprintf(stderr, "mapbench gate: cannot judge: the runs have no case in common\n");
        return 2;
    }
    printf("gate: %d comparisons: %d fail, %d warn, %d improved, %d in the baseline only"
           " (%s) -> %s\n", g.compared, g.fails, g.warns, g.improved, g.missing,
           recorded ? "listed in gate_decision as 'missing'; every decision is stored there"
                    : "decisions NOT stored in gate_decision",
           g.fails ? "REGRESSION" : "PASS");
    if (!recorded)
        printf("gate: decisions not recorded: %s\n", not_recorded ? not_recorded : "unknown");
    if (g.time_unjudgeable)
        printf("gate: cannot judge wall time with %d vs %d samples on %d case(s): the smallest"
               " one-sided Mann-Whitney p is then %.4g, not below time.p = %g; time more samples"
               " (--reps, --processes)\n", g.unjudged_nb, g.unjudged_nc, g.time_unjudgeable,
               gate_mwu_min_p(g.unjudged_nb, g.unjudged_nc), g.conf.time_p);
    return g.fails ? 1 : 0;
}

const mb_command mb_command_gate = {
    "gate",
    "compare the latest run with a baseline; exit 1 on a regression",
    "usage: mapbench gate [--baseline RUN_ID|GIT-REF|OTHER.db] [--config FILE] [--force]\n"
    "                     [--trend K] [--no-record] [--db PATH] | --mwu BASE CUR\n"
    "  Compares the latest complete run with a baseline (default: the complete run\n"
    "  before it), case by case: instructions per op (callgrind), map bytes per entry,\n"
    "  bytes retained after delete_all, and wall time (Mann-Whitney U over every\n"
    "  sample).  Thresholds: ci/gate.conf.  Refuses runs from another CPU, compiler,\n"
    "  flags or suite unless --force.  --trend K adds a step check over the last K\n"
    "  complete runs: a shift beyond the fail threshold that held for the last two\n"
    "  runs fails.  Every decision goes into gate_decision (judging itself reads the\n"
    "  database read-only); --no-record stores nothing, and on a database that\n"
    "  cannot be written the gate says the decisions were not stored.\n"
    "  Wall time with too few samples to reach time.p (3 vs 3 cannot: the smallest\n"
    "  one-sided p is 0.05) is said: \"cannot judge wall time with m vs n samples\".\n"
    "  --mwu BASE CUR prints the one-sided Mann-Whitney p (comma-separated lists)\n"
    "  the gate would compute, exact with ties up to 20 samples a side.\n"
    "  Exit 0 pass, 1 regression, 2 cannot judge.\n",
    mb_cmd_gate,
};
