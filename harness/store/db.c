/*
 * db.c — opening, checking and migrating a results database.
 *
 * A file is accepted when it is empty/new (the schema is created) or already
 * carries mapbench's tables.  Anything else — not SQLite, corrupt, or another
 * program's database — is refused before a single byte is written.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"

extern const char mb_schema_sql[];
extern const char mb_gate_sql[];  /* ci/gate.conf as view gate_threshold: the views read it */
extern const char mb_views_sql[];
extern const char mb_claims_sql[]; /* reads the views: installed after them */
extern const char mb_report_sql[]; /* the report's queries: read views and claims */

#define MB_SCHEMA_VERSION 4

/* migrations[v] upgrades a version-v database to v+1.  Tables that are new in
 * a version come from schema.sql itself (CREATE TABLE IF NOT EXISTS), which
 * runs after the migrations; these only alter what already exists.  A table
 * whose key changes is rebuilt (create new, copy, drop, rename) with foreign
 * keys off, so dropping the old one cascades nothing, and with the legacy
 * rename, so the views (recreated after) are not parsed half-way. */
static const char *const migrations[MB_SCHEMA_VERSION] = {
    NULL, /* 0: an empty file; schema.sql creates everything */
    /* 1 -> 2: calibration with the run, pointer-value object bytes */
    "ALTER TABLE run ADD COLUMN rss_floor_bytes INTEGER;"
    "ALTER TABLE run ADD COLUMN calib_64mib_rss_bytes INTEGER;"
    "ALTER TABLE mem_phase ADD COLUMN object_bytes INTEGER;",
    /* 2 -> 3: the RSS high-water mark within each memory phase */
    "ALTER TABLE mem_phase ADD COLUMN peak_rss_bytes INTEGER;",
    /* 3 -> 4: the shrink policy is part of a case (bench, mem_case, churn_sample:
     * rebuilt, their UNIQUE keys gain it; old rows are 'never', the one policy
     * older runs measured); churn counts grow/shrink events; every go_memstats
     * sample is after a GC, with the values before it.  A version-1 file has
     * no churn_sample or go_memstats yet: they are made first, as version 3
     * had them. */
    "CREATE TABLE IF NOT EXISTS churn_sample (run_id INTEGER NOT NULL, impl TEXT NOT NULL,"
    " blueprint TEXT NOT NULL, distribution TEXT NOT NULL, n INTEGER NOT NULL,"
    " allocator TEXT NOT NULL, ops_done INTEGER NOT NULL, ns_per_op REAL, entries INTEGER,"
    " capacity INTEGER, tombstones INTEGER, mean_probe REAL, max_probe INTEGER,"
    " map_live_bytes INTEGER) STRICT;"
    "CREATE TABLE IF NOT EXISTS go_memstats ("
    " mem_case_id INTEGER NOT NULL REFERENCES mem_case (mem_case_id) ON DELETE CASCADE,"
    " phase_index INTEGER NOT NULL, heap_alloc INTEGER NOT NULL, heap_inuse INTEGER NOT NULL,"
    " heap_idle INTEGER NOT NULL, heap_released INTEGER NOT NULL, heap_sys INTEGER NOT NULL,"
    " num_gc INTEGER NOT NULL, PRIMARY KEY (mem_case_id, phase_index)) STRICT;"
    "CREATE TABLE bench_v4 ("
    " bench_id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,"
    " impl TEXT NOT NULL, family TEXT NOT NULL, traits TEXT NOT NULL, phase TEXT NOT NULL,"
    " blueprint TEXT NOT NULL, distribution TEXT NOT NULL, n INTEGER NOT NULL,"
    " hint INTEGER NOT NULL, threads INTEGER NOT NULL DEFAULT 1, allocator TEXT NOT NULL,"
    " shrink TEXT NOT NULL DEFAULT 'never',"
    " UNIQUE (run_id, impl, phase, blueprint, distribution, n, hint, threads, allocator, shrink)"
    ") STRICT;"
    "INSERT INTO bench_v4 SELECT bench_id, run_id, impl, family, traits, phase, blueprint,"
    " distribution, n, hint, threads, allocator, 'never' FROM bench;"
    "DROP TABLE bench;"
    "ALTER TABLE bench_v4 RENAME TO bench;"
    "CREATE TABLE mem_case_v4 ("
    " mem_case_id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,"
    " impl TEXT NOT NULL, family TEXT NOT NULL, traits TEXT NOT NULL, blueprint TEXT NOT NULL,"
    " distribution TEXT NOT NULL, n INTEGER NOT NULL, allocator TEXT NOT NULL,"
    " shrink TEXT NOT NULL DEFAULT 'never',"
    " UNIQUE (run_id, impl, blueprint, distribution, n, allocator, shrink)"
    ") STRICT;"
    "INSERT INTO mem_case_v4 SELECT mem_case_id, run_id, impl, family, traits, blueprint,"
    " distribution, n, allocator, 'never' FROM mem_case;"
    "DROP TABLE mem_case;"
    "ALTER TABLE mem_case_v4 RENAME TO mem_case;"
    "CREATE TABLE churn_sample_v4 ("
    " run_id INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,"
    " impl TEXT NOT NULL, blueprint TEXT NOT NULL, distribution TEXT NOT NULL,"
    " n INTEGER NOT NULL, allocator TEXT NOT NULL, ops_done INTEGER NOT NULL, ns_per_op REAL,"
    " entries INTEGER, capacity INTEGER, tombstones INTEGER, mean_probe REAL,"
    " max_probe INTEGER, map_live_bytes INTEGER, shrink TEXT NOT NULL DEFAULT 'never',"
    " grow_events INTEGER, shrink_events INTEGER,"
    " PRIMARY KEY (run_id, impl, blueprint, distribution, n, allocator, shrink, ops_done)"
    ") STRICT;"
    "INSERT INTO churn_sample_v4 SELECT run_id, impl, blueprint, distribution, n, allocator,"
    " ops_done, ns_per_op, entries, capacity, tombstones, mean_probe, max_probe,"
    " map_live_bytes, 'never', NULL, NULL FROM churn_sample;"
    "DROP TABLE churn_sample;"
    "ALTER TABLE churn_sample_v4 RENAME TO churn_sample;"
    "ALTER TABLE go_memstats ADD COLUMN heap_alloc_before_gc INTEGER;"
    "ALTER TABLE go_memstats ADD COLUMN heap_inuse_before_gc INTEGER;"
    "ALTER TABLE go_memstats ADD COLUMN sample_gc_ns INTEGER;"
    "ALTER TABLE go_memstats ADD COLUMN pause_total_ns INTEGER;",
};

int mb_db_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Returns the value of a one-integer query, or -1 with err filled. */
static long long db_int(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

/* Switches db to WAL and, in one transaction, upgrades it from schema
 * version `from` and installs the schema, the gate's thresholds, the views,
 * the claims and the report's views.  Returns 0, or -1 with err (rolled back). */
static int db_install(sqlite3 *db, long long from, char *err, size_t errlen)
{
    /* Switching a new file to WAL does not wait on the busy handler: when two
     * runs create one database at once, retry for as long as the busy timeout. */
    int rc_wal = -1;
    for (int tries = 0; tries < 300 && rc_wal != 0; tries++) {
        rc_wal = mb_db_exec(db, "PRAGMA journal_mode = WAL", err, errlen);
        if (rc_wal != 0 && sqlite3_errcode(db) != SQLITE_BUSY && sqlite3_errcode(db) != SQLITE_LOCKED)
            break;
        if (rc_wal != 0)
            sqlite3_sleep(100);
    }
    /* foreign keys can only be switched outside a transaction: off while a
     * rebuilt table's old copy is dropped (no cascade), on again after */
    int migrating = from < MB_SCHEMA_VERSION;
    if (rc_wal == 0 && migrating &&
        mb_db_exec(db, "PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON", err,
                   errlen) != 0)
        return -1;
    if (rc_wal != 0 || mb_db_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    char e2[MB_ERR_LEN];
    for (long long v = from; v < MB_SCHEMA_VERSION; v++) {
        if (migrations[v] && mb_db_exec(db, migrations[v], e2, sizeof e2) != 0) {
            snprintf(err, errlen, "cannot upgrade the schema from version %lld: %.400s", v, e2);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    char set_version[64];
    snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d", MB_SCHEMA_VERSION);
    if (mb_db_exec(db, mb_schema_sql, e2, sizeof e2) != 0 ||
        mb_db_exec(db, mb_gate_sql, e2, sizeof e2) != 0 ||
        mb_db_exec(db, mb_views_sql, e2, sizeof e2) != 0 ||
        mb_db_exec(db, mb_claims_sql, e2, sizeof e2) != 0 ||
        mb_db_exec(db, mb_report_sql, e2, sizeof e2) != 0 ||
        mb_db_exec(db, set_version, e2, sizeof e2) != 0 ||
        mb_db_exec(db, "COMMIT", e2, sizeof e2) != 0) {
        snprintf(err, errlen, "cannot install the schema: %.400s", e2);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (migrating &&
        mb_db_exec(db, "PRAGMA legacy_alter_table = OFF; PRAGMA foreign_keys = ON", err,
                   errlen) != 0)
        return -1;
    return 0;
}

sqlite3 *mb_db_open(const char *path, int create, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);

    if (!exists && !create) {
        snprintf(err, errlen, "%s: no such database (run `mapbench run` or `make bench` first)",
                 path);
        return NULL;
    }
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 30000);
    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);

    /* Reading the schema is the first access: a non-database file fails here,
     * before anything is written to it. */
    char e2[MB_ERR_LEN] = "";
    long long tables = db_int(db, "SELECT count(*) FROM sqlite_schema", e2, sizeof e2);
    if (tables < 0) {
        snprintf(err, errlen, "%s: not a usable SQLite database (%s)", path, e2);
        sqlite3_close(db);
        return NULL;
    }
    long long ours = db_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                "name IN ('run', 'bench', 'sample')", e2, sizeof e2);
    if (tables > 0 && ours != 3) {
        snprintf(err, errlen, "%s: an SQLite database, but not a mapbench results database", path);
        sqlite3_close(db);
        return NULL;
    }
    long long version = db_int(db, "PRAGMA user_version", e2, sizeof e2);
    if (version > MB_SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: schema version %lld is newer than this mapbench (%d); "
                 "use a newer build", path, version, MB_SCHEMA_VERSION);
        sqlite3_close(db);
        return NULL;
    }
    if (sqlite3_db_readonly(db, "main") == 1) {
        if (tables == 0 || version < MB_SCHEMA_VERSION) {
            snprintf(err, errlen, "%s: read-only, and needs its schema %s", path,
                     tables ? "upgraded" : "created");
            sqlite3_close(db);
            return NULL;
        }
        return db; /* reading works; writers get SQLite's read-only error */
    }
    if (db_install(db, tables ? version : MB_SCHEMA_VERSION, e2, sizeof e2) != 0) {
        snprintf(err, errlen, "%s: %s", path, e2);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}
