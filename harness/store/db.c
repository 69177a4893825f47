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
 * runs after the migrations; these only alter what already exists. */
static const char *const migrations[MB_SCHEMA_VERSION] = {
    NULL, /* 0: an empty file; schema.sql creates everything */
    /* 1 -> 2: calibration with the run, pointer-value object bytes */
    "ALTER TABLE run ADD COLUMN rss_floor_bytes INTEGER;"
    "ALTER TABLE run ADD COLUMN calib_64mib_rss_bytes INTEGER;"
    "ALTER TABLE mem_phase ADD COLUMN object_bytes INTEGER;",
    /* 2 -> 3: the RSS high-water mark within each memory phase */
    "ALTER TABLE mem_phase ADD COLUMN peak_rss_bytes INTEGER;",
    NULL, /* 3 -> 4: table not_measured (schema.sql creates it) */
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
