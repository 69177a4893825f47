/*
 * dbtools.c — `mapbench show`, `merge` and `export`.
 *
 * merge copies every run of another results database whose run_uuid this
 * database lacks (so merging twice adds nothing), with every row that hangs
 * off it, in one transaction.  Which tables those are comes from the schema,
 * not a list: every table with a foreign key to run, then every table with a
 * foreign key to one of those, and so on.  Integer keys are renumbered by one
 * offset per table (past this database's largest), and foreign keys follow
 * their parents' offsets.  Gate decisions have no foreign key to a run (they
 * are a local audit trail) and are not copied.  The other database is
 * attached read-only (mode=ro): merging never writes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* ---- merge: every table that hangs off a run, found in the schema ----------------------- */

/* One table merge copies: run itself, then every table with a foreign key to
 * a copied table (bench, mem_case, insert_latency, churn_sample, then sample,
 * icount, mem_phase, go_memstats, latency_bucket, ...), parents first.  A
 * table of the schema that no foreign key ties to a run (gate_decision, the
 * local audit trail) is not copied. */
typedef struct dbt_mg_table {
    char *name;
    char *pk;                /* its INTEGER PRIMARY KEY (renumbered), or NULL */
    int parent;              /* index of the table its filter goes through (-1: run) */
    char *fk;                /* ... and the column pointing there */
    int n_fks;
    char **fk_cols;          /* every foreign key column to a copied table */
    int *fk_to;              /* ... and the table it points to */
    sqlite3_int64 offset;    /* new id = old id + offset, for the run being copied */
} dbt_mg_table;

typedef struct dbt_mg_plan {
    dbt_mg_table *t;
    int n, cap;
} dbt_mg_plan;

static void dbt_mg_free(dbt_mg_plan *p)
{
    for (int i = 0; i < p->n; i++) {
        sqlite3_free(p->t[i].name);
        sqlite3_free(p->t[i].pk);
        sqlite3_free(p->t[i].fk);
        for (int k = 0; k < p->t[i].n_fks; k++)
            sqlite3_free(p->t[i].fk_cols[k]);
        free(p->t[i].fk_cols);
        free(p->t[i].fk_to);
    }
    free(p->t);
    memset(p, 0, sizeof *p);
}

static int dbt_mg_find(const dbt_mg_plan *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->t[i].name, name) == 0)
            return i;
    return -1;
}

/* Returns the INTEGER PRIMARY KEY column of main.table (sqlite3_malloc'd), or NULL. */
static char *dbt_mg_int_pk(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st;
    char *pk = NULL;
    int n_pk = 0;
    if (sqlite3_prepare_v2(db, "SELECT name, upper(type), pk FROM pragma_table_info(?1, 'main')"
                               " WHERE pk > 0", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        n_pk++;
        if (strcmp((const char *)sqlite3_column_text(st, 1), "INTEGER") == 0 && !pk)
            pk = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (n_pk != 1) { /* a composite key is no rowid alias */
        sqlite3_free(pk);
        pk = NULL;
    }
    return pk;
}

/* Appends table name (reached from parent through column fk) to p. */
static int dbt_mg_add(sqlite3 *db, dbt_mg_plan *p, const char *name, int parent, const char *fk)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        dbt_mg_table *t = realloc(p->t, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        p->t = t, p->cap = cap;
    }
    dbt_mg_table *t = &p->t[p->n];
    memset(t, 0, sizeof *t);
    t->name = sqlite3_mprintf("%s", name);
    t->pk = dbt_mg_int_pk(db, name);
    t->parent = parent;
    t->fk = fk ? sqlite3_mprintf("%s", fk) : NULL;
    p->n++;
    return t->name && (!fk || t->fk) ? 0 : -1;
}

/* Finds, breadth first from run, every table with a foreign key to a table
 * already found.  Returns 0, or -1 with err. */
static int dbt_mg_plan_build(sqlite3 *db, dbt_mg_plan *p, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    memset(p, 0, sizeof *p);
    if (dbt_mg_add(db, p, "run", -1, NULL) != 0 || !p->t[0].pk) {
        snprintf(err, errlen, "the schema has no run table with an integer key");
        return -1;
    }
    if (sqlite3_prepare_v2(db, "SELECT m.name, f.\"from\", f.\"table\" FROM main.sqlite_schema m,"
                               " pragma_foreign_key_list(m.name, 'main') f WHERE m.type = 'table'"
                               " ORDER BY m.name, f.id", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    for (int level = 0; level < p->n; level++) { /* p grows as tables are found */
        sqlite3_reset(st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            const char *from = (const char *)sqlite3_column_text(st, 1);
            const char *to = (const char *)sqlite3_column_text(st, 2);
            if (strcmp(to, p->t[level].name) != 0 || dbt_mg_find(p, name) >= 0)
                continue;
            if (!p->t[level].pk) {
                snprintf(err, errlen, "%s points to %s, which has no integer key", name, to);
                sqlite3_finalize(st);
                return -1;
            }
            if (dbt_mg_add(db, p, name, level, from) != 0) {
                snprintf(err, errlen, "out of memory");
                sqlite3_finalize(st);
                return -1;
            }
        }
    }
    /* every foreign key column of every copied table to another copied table */
    for (int i = 0; i < p->n; i++) {
        dbt_mg_table *t = &p->t[i];
        sqlite3_reset(st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            int to = dbt_mg_find(p, (const char *)sqlite3_column_text(st, 2));
            if (strcmp(name, t->name) != 0 || to < 0)
                continue;
            char **cols = realloc(t->fk_cols, (size_t)(t->n_fks + 1) * sizeof *cols);
            if (cols)
                t->fk_cols = cols;
            int *tos = cols ? realloc(t->fk_to, (size_t)(t->n_fks + 1) * sizeof *tos) : NULL;
            if (tos)
                t->fk_to = tos;
            if (!cols || !tos || !(t->fk_cols[t->n_fks] =
                                       sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 1)))) {
                snprintf(err, errlen, "out of memory");
                sqlite3_finalize(st);
                return -1;
            }
            t->fk_to[t->n_fks++] = to;
        }
    }
    sqlite3_finalize(st);
    return 0;
}

/* Appends to q the condition "the rows of src.<table i> that belong to run old_id". */
static void dbt_mg_filter(sqlite3_str *q, const dbt_mg_plan *p, int i, sqlite3_int64 old_id)
{
    const dbt_mg_table *t = &p->t[i];
    if (t->parent < 0) {
        sqlite3_str_appendf(q, "\"%w\" = %lld", t->pk, old_id);
        return;
    }
    const dbt_mg_table *par = &p->t[t->parent];
    sqlite3_str_appendf(q, "\"%w\" IN (SELECT \"%w\" FROM src.\"%w\" WHERE ", t->fk, par->pk,
                        par->name);
    dbt_mg_filter(q, p, t->parent, old_id);
    sqlite3_str_appendall(q, ")");
}

/* Runs sql (sqlite3_str, consumed).  Returns 0 or -1 with err. */
static int dbt_mg_exec_str(sqlite3 *db, sqlite3_str *q, char *err, size_t errlen)
{
    char *sql = sqlite3_str_finish(q);
    if (!sql) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = mb_db_exec(db, sql, err, errlen);
    sqlite3_free(sql);
    return rc;
}

/* Returns one integer from sql, or def when NULL; -1 with err on failure. */
static int dbt_mg_int(sqlite3 *db, sqlite3_str *q, sqlite3_int64 def, sqlite3_int64 *out, char *err,
                  size_t errlen)
{
    char *sql = sqlite3_str_finish(q);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (!sql)
        snprintf(err, errlen, "out of memory");
    else if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
             sqlite3_step(st) != SQLITE_ROW)
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    else {
        *out = sqlite3_column_type(st, 0) == SQLITE_NULL ? def : sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return rc;
}

/* Copies table i's rows of run old_id, renumbering its integer key by one
 * offset past main's largest and its foreign keys by their parents' offsets. */
static int dbt_mg_copy_table(sqlite3 *db, dbt_mg_plan *p, int i, sqlite3_int64 old_id, char *err,
                         size_t errlen)
{
    dbt_mg_table *t = &p->t[i];
    sqlite3_stmt *st;
    if (t->pk) {
        sqlite3_int64 next, first;
        sqlite3_str *q = sqlite3_str_new(db);
        sqlite3_str_appendf(q, "SELECT max(\"%w\") + 1 FROM main.\"%w\"", t->pk, t->name);
        if (dbt_mg_int(db, q, 1, &next, err, errlen) != 0)
            return -1;
        q = sqlite3_str_new(db);
        sqlite3_str_appendf(q, "SELECT min(\"%w\") FROM src.\"%w\" WHERE ", t->pk, t->name);
        dbt_mg_filter(q, p, i, old_id);
        if (dbt_mg_int(db, q, next, &first, err, errlen) != 0)
            return -1;
        t->offset = next - first;
    }
    sqlite3_str *q = sqlite3_str_new(db), *vals = sqlite3_str_new(db);
    int rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, 'main') ORDER BY cid",
                                -1, &st, NULL);
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
    sqlite3_str_appendf(q, "INSERT INTO main.\"%w\" (", t->name);
    for (int n = 0; rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW; n++) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        sqlite3_int64 off = 0;
        int is_id = t->pk && strcmp(c, t->pk) == 0;
        if (is_id)
            off = t->offset;
        for (int k = 0; k < t->n_fks; k++)
            if (strcmp(c, t->fk_cols[k]) == 0)
                is_id = 1, off = p->t[t->fk_to[k]].offset;
        sqlite3_str_appendf(q, "%s\"%w\"", n ? ", " : "", c);
        if (is_id)
            sqlite3_str_appendf(vals, "%s\"%w\" + %lld", n ? ", " : "", c, off);
        else /* copied as it is */
            sqlite3_str_appendf(vals, "%s\"%w\"", n ? ", " : "", c);
    }
    sqlite3_finalize(st);
    char *v = sqlite3_str_finish(vals);
    if (rc != SQLITE_OK || !v) {
        snprintf(err, errlen, "%s", rc != SQLITE_OK ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_free(v);
        sqlite3_free(sqlite3_str_finish(q));
        return -1;
    }
    sqlite3_str_appendf(q, ") SELECT %s FROM src.\"%w\" WHERE ", v, t->name);
    sqlite3_free(v);
    dbt_mg_filter(q, p, i, old_id);
    return dbt_mg_exec_str(db, q, err, errlen);
}

/* Copies run old_id of src and every row hanging off it.  Returns 0 or -1. */
static int dbt_mg_copy_run(sqlite3 *db, dbt_mg_plan *p, sqlite3_int64 old_id, char *err, size_t errlen)
{
    for (int i = 0; i < p->n; i++)
        if (dbt_mg_copy_table(db, p, i, old_id, err, errlen) != 0)
            return -1;
    return 0;
}

/* The run ids of src whose uuid main lacks, oldest first (*ids malloc'd; the
 * list grows).  Returns 0, or -1 with err. */
static int dbt_new_runs(sqlite3 *db, sqlite3_int64 **ids, size_t *nids, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *ids = NULL;
    *nids = 0;
    if (sqlite3_prepare_v2(db, "SELECT run_id FROM src.run WHERE run_uuid NOT IN"
                               " (SELECT run_uuid FROM main.run) ORDER BY run_id", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*nids == cap) {
            sqlite3_int64 *grown = realloc(*ids, (cap = cap ? 2 * cap : 64) * sizeof **ids);
            if (!grown) {
                snprintf(err, errlen, "out of memory");
                sqlite3_finalize(st);
                return -1;
            }
            *ids = grown;
        }
        (*ids)[(*nids)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return 0;
}

static int mb_cmd_merge(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *other = NULL, *v;
    char err[MB_ERR_LEN];
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], &mb_command_merge);
        if ((v = mb_flag_value(argc, argv, &i, "--db", &mb_command_merge)))
            db_path = v;
        else if (argv[i][0] == '-')
            mb_usage_error(&mb_command_merge, "unknown option '%s'", argv[i]);
        else if (!other)
            other = argv[i];
        else
            mb_usage_error(&mb_command_merge, "merge takes one database");
    }
    if (!other)
        mb_usage_error(&mb_command_merge, "missing the database to merge from");
    /* Validate the source through the read door (it is never written), then
     * open the target for writing. */
    sqlite3 *src = mb_db_open_read(other, err, sizeof err);
    if (!src) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    sqlite3_close(src);
    sqlite3 *db = mb_db_open(db_path, 1, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    dbt_mg_plan plan;
    char *uri = mb_db_uri(other, "mode=ro");
    char *attach = uri ? sqlite3_mprintf("ATTACH %Q AS src", uri) : NULL;
    int rc = attach ? mb_db_exec(db, attach, err, sizeof err) : -1;
    if (!attach)
        snprintf(err, sizeof err, "out of memory");
    sqlite3_free(attach);
    sqlite3_free(uri);
    if (rc != 0 || dbt_mg_plan_build(db, &plan, err, sizeof err) != 0 ||
        mb_db_exec(db, "BEGIN IMMEDIATE", err, sizeof err) != 0) {
        fprintf(stderr, "mapbench: merge failed, nothing changed: %s\n", err);
        sqlite3_close(db);
        return 1;
    }
    sqlite3_int64 *ids = NULL;
    size_t nids = 0;
    int failed = dbt_new_runs(db, &ids, &nids, err, sizeof err) != 0;
    for (size_t k = 0; k < nids && !failed; k++)
        failed = dbt_mg_copy_run(db, &plan, ids[k], err, sizeof err) != 0;
    free(ids);
    if (failed || mb_db_exec(db, "COMMIT", err, sizeof err) != 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        fprintf(stderr, "mapbench: merge failed, nothing changed: %s\n", err);
        dbt_mg_free(&plan);
        sqlite3_close(db);
        return 1;
    }
    printf("merged %zu new run(s) from %s into %s (tables:", nids, other, db_path);
    for (int i = 0; i < plan.n; i++)
        printf(" %s", plan.t[i].name);
    printf(")\n");
    dbt_mg_free(&plan);
    sqlite3_close(db);
    return 0;
}

/* Returns 1 when table (run or complete_run) holds run_id run. */
static int dbt_run_exists(sqlite3 *db, long long run, const char *table)
{
    sqlite3_stmt *st;
    char *sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\" WHERE run_id = ?", table);
    int found = sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
    sqlite3_free(sql);
    if (!found)
        return 0;
    sqlite3_bind_int64(st, 1, run);
    found = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    sqlite3_finalize(st);
    return found;
}

static int mb_cmd_show(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *v;
    long long run = -1;
    char err[MB_ERR_LEN], sql[2048];
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], &mb_command_show);
        if ((v = mb_flag_value(argc, argv, &i, "--db", &mb_command_show)))
            db_path = v;
        else if (argv[i][0] == '-' || run >= 0)
            mb_usage_error(&mb_command_show, "unexpected argument '%s'", argv[i]);
        else
            run = (long long)mb_parse_count(argv[i], "RUN", &mb_command_show);
    }
    if (run < 0)
        mb_usage_error(&mb_command_show, "missing RUN (a run_id; `mapbench runs` lists them)");
    sqlite3 *db = mb_db_open_read(db_path, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    if (!dbt_run_exists(db, run, "run")) {
        fprintf(stderr, "mapbench: no run %lld in %s\n", run, db_path);
        sqlite3_close(db);
        return 1;
    }
    snprintf(sql, sizeof sql,
             "SELECT key, value FROM run, json_each(json_object("
             "'run_id', run_id, 'run_uuid', run_uuid, 'status', status, 'suite', suite,"
             "'started_at', started_at, 'finished_at', finished_at, 'seed', seed,"
             "'git_sha', git_sha, 'git_dirty', git_dirty, 'compiler', compiler, 'cflags', cflags,"
             "'build_type', build_type, 'benchmark_version', benchmark_version,"
             "'cpu_model', cpu_model, 'cores', cores, 'kernel', kernel, 'hostname', hostname,"
             "'l1d_bytes', l1d_bytes, 'l2_bytes', l2_bytes, 'l3_bytes', l3_bytes,"
             "'thp_enabled', thp_enabled, 'thp_defrag', thp_defrag,"
             "'processes', processes, 'argv', argv)) WHERE run_id = %lld;"
             "SELECT phase, n, impl, hint, threads, round(median_ns_per_op, 2) AS median_ns_per_op,"
             " round(max_ns_per_op / min_ns_per_op, 2) AS max_over_min, samples"
             " FROM case_medians WHERE run_id = %lld ORDER BY phase, n, median_ns_per_op;"
             "SELECT impl, n, round(map_bytes_per_entry, 1) AS map_bytes_per_entry,"
             " round(rss_bytes_per_entry, 1) AS rss_bytes_per_entry FROM bytes_per_entry"
             " WHERE run_id = %lld ORDER BY n, map_bytes_per_entry",
             run, run, run);
    int rc = mb_sql_print(db, sql, FMT_TABLE);
    sqlite3_close(db);
    return rc;
}

static int mb_cmd_export(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *v, *what = "samples";
    out_format fmt = FMT_CSV;
    long long run = -1;
    char sql[1024], where[64] = "";
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], &mb_command_export);
        if ((v = mb_flag_value(argc, argv, &i, "--db", &mb_command_export)))
            db_path = v;
        else if ((v = mb_flag_value(argc, argv, &i, "--format", &mb_command_export)))
            fmt = mb_parse_format(v, &mb_command_export);
        else if ((v = mb_flag_value(argc, argv, &i, "--run", &mb_command_export)))
            run = (long long)mb_parse_count(v, "--run", &mb_command_export);
        else if ((v = mb_flag_value(argc, argv, &i, "--what", &mb_command_export))) {
            if (strcmp(v, "samples") && strcmp(v, "medians") && strcmp(v, "memory"))
                mb_usage_error(&mb_command_export, "--what wants samples, medians or memory, got '%s'", v);
            what = v;
        } else
            mb_usage_error(&mb_command_export, "unknown argument '%s'", argv[i]);
    }
    if (fmt == FMT_TABLE)
        mb_usage_error(&mb_command_export, "--format wants csv or json");
    if (run >= 0) { /* a run that is not there is an error, as show, plot and report say */
        char err[MB_ERR_LEN];
        sqlite3 *db = mb_db_open_read(db_path, err, sizeof err);
        if (!db) {
            fprintf(stderr, "mapbench: %s\n", err);
            return 1;
        }
        int found = dbt_run_exists(db, run, "complete_run");
        int any = found || dbt_run_exists(db, run, "run");
        sqlite3_close(db);
        if (!found) {
            fprintf(stderr, "mapbench: no %srun %lld in %s\n", any ? "complete " : "", run,
                    db_path);
            return 1;
        }
    }
    if (run >= 0)
        snprintf(where, sizeof where, " AND r.run_id = %lld", run);
    if (strcmp(what, "samples") == 0)
        snprintf(sql, sizeof sql,
                 "SELECT r.run_uuid, r.run_id, b.impl, b.family, b.phase, b.blueprint,"
                 " b.distribution, b.n, b.hint, b.threads, b.allocator, s.process_index,"
                 " s.repetition, s.iterations, s.ns_per_op FROM sample s"
                 " JOIN bench b USING (bench_id) JOIN complete_run r USING (run_id) WHERE 1%s"
                 " ORDER BY r.run_id, b.bench_id, s.process_index, s.repetition", where);
    else if (strcmp(what, "medians") == 0)
        snprintf(sql, sizeof sql, "SELECT r.run_uuid, m.* FROM case_medians m"
                 " JOIN complete_run r USING (run_id) WHERE 1%s ORDER BY m.run_id, m.bench_id",
                 where);
    else
        snprintf(sql, sizeof sql, "SELECT r.run_uuid, m.* FROM memory_by_phase m"
                 " JOIN complete_run r USING (run_id) WHERE 1%s"
                 " ORDER BY m.run_id, m.mem_case_id, m.phase_index", where);
    return mb_sql_print_db(db_path, sql, fmt);
}

const mb_command mb_command_show = {
    "show",
    "one run: environment, cases, bytes per entry",
    "usage: mapbench show RUN [--db PATH]\n"
    "  Prints a run's environment, its timed cases and its bytes per entry.\n",
    mb_cmd_show,
};

const mb_command mb_command_merge = {
    "merge",
    "copy the runs of another results database into this one",
    "usage: mapbench merge OTHER.db [--db PATH]\n"
    "  Copies the runs of OTHER.db that this database lacks (by run uuid), in one\n"
    "  transaction; merging twice adds nothing.\n",
    mb_cmd_merge,
};

const mb_command mb_command_export = {
    "export",
    "write samples, medians or memory samples as CSV or JSON",
    "usage: mapbench export [--what samples|medians|memory] [--format csv|json]\n"
    "                       [--run RUN_ID] [--db PATH]\n"
    "  Writes complete runs' rows to standard output (default: every sample as CSV).\n",
    mb_cmd_export,
};
