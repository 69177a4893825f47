/*
 * dbtools.c — `mapbench show`, `merge` and `export`.
 *
 * merge copies every run of another results database whose run_uuid this
 * database lacks (so merging twice adds nothing), with its cases, samples,
 * memory phases and instruction counts, in one transaction.  Row ids are
 * renumbered; child rows are matched to their new parents by the natural
 * keys the schema declares UNIQUE.  Gate decisions are local audit trails and
 * are not copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* Returns "a, b, c": the columns of table in schema, without skip (a
 * malloc'd string), or NULL. */
static char *dbt_column_list(sqlite3 *db, const char *schema, const char *table, const char *skip)
{
    sqlite3_stmt *st;
    size_t len = 0, cap = 512;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    out[0] = 0;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, ?2) ORDER BY cid", -1, &st,
                           NULL) != SQLITE_OK) {
        free(out);
        return NULL;
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, schema, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        if (skip && strcmp(c, skip) == 0)
            continue;
        size_t need = len + strlen(c) + 3;
        if (need > cap)
            out = realloc(out, cap = 2 * need);
        len += (size_t)sprintf(out + len, "%s%s", len ? ", " : "", c);
    }
    sqlite3_finalize(st);
    return out;
}

static int dbt_exec_bound(sqlite3 *db, const char *sql, sqlite3_int64 a, sqlite3_int64 b, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* Copies the mem_phase rows of run old_id of src under run new_id's
 * mem_case rows.  Returns 0, or -1 with err. */
static int dbt_copy_mem_phases(sqlite3 *db, sqlite3_int64 old_id, sqlite3_int64 new_id, char *err,
                               size_t errlen)
{
    char *mp_cols = dbt_column_list(db, "main", "mem_phase", "mem_case_id");
    if (!mp_cols) {
        snprintf(err, errlen, "cannot read mem_phase's columns");
        return -1;
    }
    /* "a, b, c" -> "x.a, x.b, x.c" */
    sqlite3_str *q = sqlite3_str_new(db);
    for (const char *c = mp_cols; *c;) {
        const char *e = strchr(c, ',');
        size_t l = e ? (size_t)(e - c) : strlen(c);
        sqlite3_str_appendf(q, "%sx.%.*s", sqlite3_str_length(q) ? ", " : "", (int)l, c);
        c += l;
        while (*c == ',' || *c == ' ')
            c++;
    }
    char *qualified = sqlite3_str_finish(q);
    char *mp_sql = sqlite3_mprintf(
             "INSERT INTO main.mem_phase (mem_case_id, %s) SELECT nc.mem_case_id, %s"
             " FROM src.mem_phase x JOIN src.mem_case oc ON oc.mem_case_id = x.mem_case_id"
             " JOIN main.mem_case nc ON nc.run_id = ?2 AND nc.impl = oc.impl"
             " AND nc.blueprint = oc.blueprint AND nc.distribution = oc.distribution"
             " AND nc.n = oc.n AND nc.allocator = oc.allocator WHERE oc.run_id = ?1",
             mp_cols, qualified ? qualified : "");
    int q_ok = qualified != NULL;
    free(mp_cols);
    sqlite3_free(qualified);
    int mp_bad = !mp_sql || !q_ok || dbt_exec_bound(db, mp_sql, old_id, new_id, err, errlen);
    sqlite3_free(mp_sql);
    return mp_bad ? -1 : 0;
}

/* Copies run old_id of src into main.  Returns the new run_id or -1. */
static sqlite3_int64 dbt_merge_run(sqlite3 *db, sqlite3_int64 old_id, char *err, size_t errlen)
{
    char *run_cols = dbt_column_list(db, "main", "run", "run_id");
    char *bench_cols = dbt_column_list(db, "main", "bench", "bench_id");
    char *mc_cols = dbt_column_list(db, "main", "mem_case", "mem_case_id");
    sqlite3_int64 new_id = -1;
    if (!run_cols || !bench_cols || !mc_cols)
        goto out;

    char *sql = sqlite3_mprintf("INSERT INTO main.run (%s) SELECT %s FROM src.run"
                                " WHERE run_id = ?1 AND ?2 IS NOT NULL", run_cols, run_cols);
    int run_bad = !sql || dbt_exec_bound(db, sql, old_id, 0, err, errlen) != 0;
    sqlite3_free(sql);
    if (run_bad)
        goto out;
    new_id = sqlite3_last_insert_rowid(db);

    /* bench and mem_case: same columns, run_id replaced */
    char *b_sel = strdup(bench_cols), *m_sel = strdup(mc_cols);
    /* run_id is always the first non-key column in both tables */
    sql = sqlite3_mprintf("INSERT INTO main.bench (%s) SELECT ?2%s FROM src.bench"
                          " WHERE run_id = ?1", bench_cols, strchr(b_sel, ','));
    int bad = !sql || dbt_exec_bound(db, sql, old_id, new_id, err, errlen);
    sqlite3_free(sql);
    sql = sqlite3_mprintf("INSERT INTO main.mem_case (%s) SELECT ?2%s FROM src.mem_case"
                          " WHERE run_id = ?1", mc_cols, strchr(m_sel, ','));
    bad = bad || !sql || dbt_exec_bound(db, sql, old_id, new_id, err, errlen);
    sqlite3_free(sql);
    free(b_sel);
    free(m_sel);
    if (bad)
        goto fail;

#define BENCH_JOIN                                                                     \
    " JOIN src.bench ob ON ob.bench_id = x.bench_id"                                   \
    " JOIN main.bench nb ON nb.run_id = ?2 AND nb.impl = ob.impl AND nb.phase = ob.phase" \
    " AND nb.blueprint = ob.blueprint AND nb.distribution = ob.distribution"           \
    " AND nb.n = ob.n AND nb.hint = ob.hint AND nb.threads = ob.threads"               \
    " AND nb.allocator = ob.allocator WHERE ob.run_id = ?1"
    if (dbt_exec_bound(db, "INSERT INTO main.sample (bench_id, process_index, repetition, iterations,"
                       " ns_per_op) SELECT nb.bench_id, x.process_index, x.repetition,"
                       " x.iterations, x.ns_per_op FROM src.sample x" BENCH_JOIN,
                   old_id, new_id, err, errlen) != 0 ||
        dbt_exec_bound(db, "INSERT INTO main.icount (bench_id, instructions, ops)"
                       " SELECT nb.bench_id, x.instructions, x.ops FROM src.icount x" BENCH_JOIN,
                   old_id, new_id, err, errlen) != 0)
        goto fail;
#undef BENCH_JOIN
    if (dbt_copy_mem_phases(db, old_id, new_id, err, errlen) == 0)
        goto out;
fail:
    new_id = -1;
out:
    free(run_cols);
    free(bench_cols);
    free(mc_cols);
    return new_id;
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
    /* Open (and so validate and migrate) the source first, then the target. */
    sqlite3 *src = mb_db_open(other, 0, err, sizeof err);
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
    sqlite3_stmt *st = NULL;
    char *uri = sqlite3_mprintf("ATTACH %Q AS src", other);
    int rc = mb_db_exec(db, uri, err, sizeof err);
    sqlite3_free(uri);
    if (rc != 0 || mb_db_exec(db, "BEGIN IMMEDIATE", err, sizeof err) != 0) {
        fprintf(stderr, "mapbench: %s\n", err);
        sqlite3_close(db);
        return 1;
    }
    sqlite3_prepare_v2(db, "SELECT run_id FROM src.run WHERE run_uuid NOT IN"
                           " (SELECT run_uuid FROM main.run) ORDER BY run_id", -1, &st, NULL);
    int added = 0, failed = 0;
    sqlite3_int64 ids[4096];
    int nids = 0;
    while (sqlite3_step(st) == SQLITE_ROW && nids < 4096)
        ids[nids++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (int k = 0; k < nids && !failed; k++) {
        if (dbt_merge_run(db, ids[k], err, sizeof err) < 0)
            failed = 1;
        else
            added++;
    }
    if (failed || mb_db_exec(db, "COMMIT", err, sizeof err) != 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        fprintf(stderr, "mapbench: merge failed, nothing changed: %s\n", err);
        sqlite3_close(db);
        return 1;
    }
    sqlite3_close(db);
    printf("merged %d new run(s) from %s into %s\n", added, other, db_path);
    return 0;
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
    sqlite3 *db = mb_db_open(db_path, 0, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM run WHERE run_id = ?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, run);
    int found = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    sqlite3_finalize(st);
    if (!found) {
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
