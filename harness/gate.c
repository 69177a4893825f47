/*
 * gate.c — `mapbench gate`: the latest complete run against a baseline.
 *
 * Metric (deterministic, so one run each side is enough): the map's own
 * bytes per entry right after inserting n keys, per (map, blueprint,
 * distribution, n, allocator).  A case fails when it grows by more than the
 * threshold (default 1%), is reported improved when it shrinks by more, and
 * is 'missing' when the baseline has it and the current run does not.
 * Every decision is stored in gate_decision.
 *
 * Exit: 0 pass, 1 regression (any fail or missing), 2 cannot judge (fewer
 * than two complete runs, or nothing in common).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static long long latest_complete(sqlite3 *db, long long before)
{
    sqlite3_stmt *st;
    long long id = -1;
    sqlite3_prepare_v2(db, "SELECT run_id FROM complete_run WHERE run_id < ?"
                           " ORDER BY finished_at DESC, run_id DESC LIMIT 1", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, before);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return id;
}

int mb_cmd_gate(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *v;
    long long baseline = -1;
    double threshold = 0.01;
    char err[MB_ERR_LEN], now[40];

    for (int i = 2; i < argc; i++) {
        if (mb_is_help(argv[i])) {
            mb_print_usage(stdout, "gate");
            return 0;
        }
        if ((v = mb_flag_value(argc, argv, &i, "--db", "gate"))) {
            db_path = v;
        } else if ((v = mb_flag_value(argc, argv, &i, "--baseline", "gate"))) {
            baseline = (long long)mb_parse_count(v, "--baseline", "gate");
        } else if ((v = mb_flag_value(argc, argv, &i, "--threshold", "gate"))) {
            char *end;
            threshold = strtod(v, &end);
            if (*end || end == v || !(threshold >= 0 && threshold < 10))
                mb_usage_error("gate", "--threshold wants a fraction like 0.01, got '%s'", v);
        } else {
            mb_usage_error("gate", "unknown argument '%s'", argv[i]);
        }
    }
    sqlite3 *db = mb_db_open(db_path, 0, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 2;
    }
    long long current = latest_complete(db, (long long)1 << 62);
    if (baseline < 0 && current >= 0)
        baseline = latest_complete(db, current);
    if (current < 0 || baseline < 0 || baseline == current) {
        fprintf(stderr, "mapbench gate: cannot judge: need two complete runs (current %lld, "
                "baseline %lld)\n", current, baseline);
        sqlite3_close(db);
        return 2;
    }

    sqlite3_stmt *st, *ins;
    sqlite3_prepare_v2(db,
        "SELECT b.impl || '/' || b.blueprint || '/' || b.distribution || '/n:' || b.n || '/' ||"
        "       b.allocator AS case_key, b.map_bytes_per_entry, c.map_bytes_per_entry"
        " FROM bytes_per_entry b LEFT JOIN bytes_per_entry c"
        "   ON c.run_id = ?2 AND c.impl = b.impl AND c.blueprint = b.blueprint"
        "  AND c.distribution = b.distribution AND c.n = b.n AND c.allocator = b.allocator"
        " WHERE b.run_id = ?1 ORDER BY b.impl, b.blueprint, b.distribution, b.n", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, baseline);
    sqlite3_bind_int64(st, 2, current);
    if (sqlite3_prepare_v2(db,
        "INSERT INTO gate_decision (decided_at, run_id, baseline_run_id, case_key, metric,"
        " baseline_value, current_value, delta_fraction, threshold, verdict)"
        " VALUES (?, ?, ?, ?, 'map_bytes_per_entry', ?, ?, ?, ?, ?)", -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "mapbench: %s\n", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return 2;
    }
    mb_now_iso(now, sizeof now);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    printf("gate: run %lld against baseline run %lld, metric map_bytes_per_entry, fail above +%.1f%%\n",
           current, baseline, threshold * 100);
    printf("%-48s %12s %12s %8s  %s\n", "case", "baseline", "current", "delta", "verdict");
    int compared = 0, fails = 0, improved = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        double base = sqlite3_column_double(st, 1);
        int have = sqlite3_column_type(st, 2) != SQLITE_NULL;
        double cur = sqlite3_column_double(st, 2);
        double delta = have && base > 0 ? cur / base - 1 : NAN;
        const char *verdict = !have ? "missing"
                              : delta > threshold ? "fail"
                              : delta < -threshold ? "improved" : "pass";
        compared += have;
        fails += !have || delta > threshold;
        improved += have && delta < -threshold;
        if (have)
            printf("%-48s %12.2f %12.2f %+7.2f%%  %s\n", key, base, cur, delta * 100, verdict);
        else
            printf("%-48s %12.2f %12s %8s  %s\n", key, base, "-", "-", verdict);
        sqlite3_bind_text(ins, 1, now, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, current);
        sqlite3_bind_int64(ins, 3, baseline);
        sqlite3_bind_text(ins, 4, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(ins, 5, base);
        if (have) {
            sqlite3_bind_double(ins, 6, cur);
            sqlite3_bind_double(ins, 7, delta);
        } else {
            sqlite3_bind_null(ins, 6);
            sqlite3_bind_null(ins, 7);
        }
        sqlite3_bind_double(ins, 8, threshold);
        sqlite3_bind_text(ins, 9, verdict, -1, SQLITE_STATIC);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(ins);
    int commit_ok = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    if (!commit_ok)
        fprintf(stderr, "mapbench gate: could not record the decisions (read-only database?)\n");
    if (compared == 0) {
        fprintf(stderr, "mapbench gate: cannot judge: the runs have no memory case in common\n");
        return 2;
    }
    printf("gate: %d compared, %d regression(s), %d improvement(s): %s\n", compared, fails,
           improved, fails ? "FAIL" : "PASS");
    return fails ? 1 : 0;
}
