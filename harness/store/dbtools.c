/*
 * dbtools.c — `mapbench show` and `export` (merge: merge.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

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


const mb_command mb_command_export = {
    "export",
    "write samples, medians or memory samples as CSV or JSON",
    "usage: mapbench export [--what samples|medians|memory] [--format csv|json]\n"
    "                       [--run RUN_ID] [--db PATH]\n"
    "  Writes complete runs' rows to standard output (default: every sample as CSV).\n",
    mb_cmd_export,
};
