/*
 * db.c — opening, checking and migrating a results database.
 *
 * Two doors:
 *   mb_db_open       the write path (run, merge, gate's decisions, query
 *                    --write): creates a new file's schema, migrates an older
 *                    one, and refreshes the stored views only when they differ
 *                    from the ones compiled in — all inside one write
 *                    transaction, after PRAGMA quick_check has passed.
 *   mb_db_open_read  every other command: SQLITE_OPEN_READONLY plus PRAGMA
 *                    query_only, so reading never changes the file's bytes
 *                    (not even schema_version); where the stored views are
 *                    stale, the compiled ones are installed as TEMP views of
 *                    this connection only.  A WAL file in a directory this
 *                    user cannot write is read as immutable.  The one
 *                    exception: a file of an older schema version is first
 *                    upgraded in place through the write door.
 * A file is accepted when it is empty/new (write path only: the schema is
 * created) or already carries mapbench's tables.  Anything else — not SQLite,
 * corrupt, or another program's database — is refused before a single byte
 * is written.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

extern const char mb_schema_sql[];
extern const char mb_gate_sql[];  /* ci/gate.conf as view gate_threshold: the views read it */
extern const char mb_views_sql[];
extern const char mb_claims_sql[]; /* reads the views: installed after them */
extern const char mb_report_sql[]; /* the report's queries: read views and claims */

#define MB_SCHEMA_VERSION 8

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
    NULL, /* 4 -> 5: table not_measured (schema.sql creates it) */
    /* 5 -> 6 (issue 14): mixed_rw's mix is part of a case (bench rebuilt, its
     * UNIQUE key gains lookup_percent; older mixed_rw rows were 90/10, the
     * only mix they ran), and each sample of it carries the ceiling run
     * beside it.  Rebuilt with foreign keys off (mb_db_open), so dropping the
     * old bench cascades nothing into sample/icount. */
    "CREATE TABLE bench_v6 ("
    " bench_id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES run (run_id) ON DELETE CASCADE,"
    " impl TEXT NOT NULL, family TEXT NOT NULL, traits TEXT NOT NULL, phase TEXT NOT NULL,"
    " blueprint TEXT NOT NULL, distribution TEXT NOT NULL, n INTEGER NOT NULL,"
    " hint INTEGER NOT NULL, threads INTEGER NOT NULL DEFAULT 1, allocator TEXT NOT NULL,"
    " shrink TEXT NOT NULL DEFAULT 'never', lookup_percent INTEGER,"
    " UNIQUE (run_id, impl, phase, blueprint, distribution, n, hint, threads, allocator, shrink,"
    " lookup_percent)) STRICT;"
    "INSERT INTO bench_v6 SELECT bench_id, run_id, impl, family, traits, phase, blueprint,"
    " distribution, n, hint, threads, allocator, shrink,"
    " CASE WHEN phase = 'mixed_rw' THEN 90 END FROM bench;"
    "DROP TABLE bench;"
    "ALTER TABLE bench_v6 RENAME TO bench;"
    "ALTER TABLE sample ADD COLUMN ceiling_ns_per_op REAL;",
    /* 6 -> 7: the transparent-hugepage mode with the run (issue 12) */
    "ALTER TABLE run ADD COLUMN thp_enabled TEXT;"
    "ALTER TABLE run ADD COLUMN thp_defrag TEXT;"
    /* ... and the hugepages axis on the cases (--hugepages) */
    "ALTER TABLE bench ADD COLUMN hugepages INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE mem_case ADD COLUMN hugepages INTEGER NOT NULL DEFAULT 0;",
    /* 7 -> 8 (issue 18): a run may be one shard of a run set; tables run_unit
     * (the plan's units as they ran: slot, interval, overlap) and run_part (a
     * merged set's shards) come from schema.sql */
    "ALTER TABLE run ADD COLUMN run_set TEXT;"
    "ALTER TABLE run ADD COLUMN shard_index INTEGER;"
    "ALTER TABLE run ADD COLUMN shard_count INTEGER;",
};

int mb_db_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        mb_errf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
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
        mb_errf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        mb_errf(err, errlen, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

static int db_not_a_file(const char *path, char *err, size_t errlen);

/* ---- checks both doors share ------------------------------------------------------- */

/* Reads the schema: a non-database file fails here, before anything is
 * written to it.  Returns the schema version (0 for an empty file), or -1
 * with err filled (the file is not ours, or is newer). */
static long long db_check_ours(sqlite3 *db, const char *path, long long *tables, char *err,
                               size_t errlen)
{
    char e2[MB_ERR_LEN] = "";
    *tables = db_int(db, "SELECT count(*) FROM sqlite_schema", e2, sizeof e2);
    if (*tables < 0) {
        mb_errf(err, errlen, "%s: not a usable SQLite database (%s)", path, e2);
        return -1;
    }
    long long ours = db_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                "name IN ('run', 'bench', 'sample')", e2, sizeof e2);
    if (*tables > 0 && ours != 3) {
        mb_errf(err, errlen, "%s: an SQLite database, but not a mapbench results database", path);
        return -1;
    }
    long long version = db_int(db, "PRAGMA user_version", e2, sizeof e2);
    if (version > MB_SCHEMA_VERSION) {
        mb_errf(err, errlen, "%s: schema version %lld is newer than this mapbench (%d); "
                 "use a newer build", path, version, MB_SCHEMA_VERSION);
        return -1;
    }
    return version < 0 ? -1 : version;
}

/* Fills ref (an in-memory database) with the compiled schema and views: the
 * reference the stored views are compared with.  Returns 0 or -1. */
static int db_reference(sqlite3 **ref, char *err, size_t errlen)
{
    if (sqlite3_open_v2(":memory:", ref, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        mb_errf(err, errlen, "out of memory");
        sqlite3_close(*ref);
        *ref = NULL;
        return -1;
    }
    if (mb_db_exec(*ref, mb_schema_sql, err, errlen) != 0 ||
        mb_db_exec(*ref, mb_gate_sql, err, errlen) != 0 ||
        mb_db_exec(*ref, mb_views_sql, err, errlen) != 0 ||
        mb_db_exec(*ref, mb_claims_sql, err, errlen) != 0 ||
        mb_db_exec(*ref, mb_report_sql, err, errlen) != 0) {
        sqlite3_close(*ref);
        *ref = NULL;
        return -1;
    }
    return 0;
}

/* "name\tsql\n..." of every view in schema sch of db, by name (sqlite3_malloc'd), or NULL. */
static char *db_views_text(sqlite3 *db, const char *sch)
{
    char *sql = sqlite3_mprintf("SELECT coalesce(group_concat(name || char(9) || sql, char(10)), '')"
                                " FROM (SELECT name, sql FROM %s.sqlite_schema WHERE type = 'view'"
                                " ORDER BY name)", sch);
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        out = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return out;
}

/* Returns 1 when db's stored views are exactly the compiled ones, 0 when
 * not, -1 (err) when that cannot be told. */
static int db_views_current(sqlite3 *db, sqlite3 *ref, char *err, size_t errlen)
{
    char *a = db_views_text(db, "main"), *b = db_views_text(ref, "main");
    int same = a && b ? strcmp(a, b) == 0 : -1;
    if (same < 0)
        mb_errf(err, errlen, "cannot read the stored views: %s", sqlite3_errmsg(db));
    sqlite3_free(a);
    sqlite3_free(b);
    return same;
}

/* Installs ref's views on db as TEMP views (they shadow the stored ones, for
 * this connection only; the file is not written).  Returns 0 or -1. */
static int db_temp_views(sqlite3 *db, sqlite3 *ref, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(ref, "SELECT sql FROM sqlite_schema WHERE type = 'view' ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        mb_errf(err, errlen, "%s", sqlite3_errmsg(ref));
        return -1;
    }
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        /* sqlite_schema keeps "CREATE VIEW " normalised at the start */
        if (strncmp(v, "CREATE VIEW ", 12) != 0) {
            mb_errf(err, errlen, "unexpected view text '%.40s'", v);
            rc = -1;
            break;
        }
        char *tv = sqlite3_mprintf("CREATE TEMP VIEW %s", v + 12);
        rc = tv ? mb_db_exec(db, tv, err, errlen) : -1;
        if (!tv)
            mb_errf(err, errlen, "out of memory");
        sqlite3_free(tv);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Runs PRAGMA quick_check.  Returns 0 when it says ok, else -1 with err. */
static int db_quick_check(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK) {
        mb_errf(err, errlen, "%s: damaged, refused untouched (%s)", path, sqlite3_errmsg(db));
        return -1;
    }
    int rc = sqlite3_step(st);
    const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int ok = v && strcmp(v, "ok") == 0;
    if (!ok)
        mb_errf(err, errlen, "%s: damaged (PRAGMA quick_check: %s); refused untouched", path,
                 v ? v : sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

/* ---- the read door ----------------------------------------------------------------------- */

/* "file:<path, percent-encoded>?<query>" for sqlite3_open_v2 with SQLITE_OPEN_URI
 * (sqlite3_malloc'd), or NULL. */
char *mb_db_uri(const char *path, const char *query)
{
    size_t n = strlen(path);
    char *enc = sqlite3_malloc64(3 * (sqlite3_uint64)n + 1), *q = enc;
    if (!enc)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/._-~", *p))
            *q++ = (char)*p;
        else
            q += sprintf(q, "%%%02X", *p);
    }
    *q = 0;
    char *uri = sqlite3_mprintf("file:%s?%s", enc, query);
    sqlite3_free(enc);
    return uri;
}

/* Returns 1 when this user cannot create files beside path (its -wal and -shm). */
static int db_dir_readonly(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return 0;
    int ro = access(dirname(copy), W_OK) != 0;
    free(copy);
    return ro;
}

sqlite3 *mb_db_open_read(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL, *ref = NULL;
    struct stat sb;
    long long tables, version;
    char e2[MB_ERR_LEN] = "";

    if (db_not_a_file(path, err, errlen))
        return NULL;
    if (stat(path, &sb) != 0) {
        mb_errf(err, errlen, "%s: no such database (run `mapbench run` or `make bench` first)",
                 path);
        return NULL;
    }
    for (int immutable = 0; immutable < 2; immutable++) {
        char *uri = immutable ? mb_db_uri(path, "immutable=1") : NULL;
        if (immutable && !uri) {
            mb_errf(err, errlen, "out of memory");
            return NULL;
        }
        int rc = sqlite3_open_v2(uri ? uri : path, &db,
                                 SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
        sqlite3_free(uri);
        if (rc != SQLITE_OK) {
            mb_errf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
            sqlite3_close(db);
            return NULL;
        }
        sqlite3_busy_timeout(db, 30000);
        version = db_check_ours(db, path, &tables, err, errlen);
        /* A WAL file whose -shm this user cannot create: nobody can be writing
         * it from here, so it is read as it stands. */
        if (version < 0 && !immutable && (sqlite3_errcode(db) & 0xff) == SQLITE_CANTOPEN &&
            db_dir_readonly(path)) {
            sqlite3_close(db);
            db = NULL;
            continue;
        }
        break;
    }
    if (version < 0)
        goto fail;
    if (tables == 0) {
        mb_errf(err, errlen, "%s: an empty database, no results in it", path);
        goto fail;
    }
    if (version < MB_SCHEMA_VERSION) {
        /* The one case a read writes: an older schema is upgraded in place,
         * once, through the write door; then it is read as any other. */
        sqlite3_close(db);
        db = mb_db_open(path, 0, e2, sizeof e2);
        if (!db) {
            mb_errf(err, errlen, "%s: schema version %lld is older than this mapbench's (%d)"
                     " and cannot be upgraded: %.300s", path, version, MB_SCHEMA_VERSION, e2);
            return NULL;
        }
        sqlite3_close(db);
        return mb_db_open_read(path, err, errlen);
    }
    if (db_reference(&ref, e2, sizeof e2) != 0) {
        mb_errf(err, errlen, "%s: cannot compile the views: %s", path, e2);
        goto fail;
    }
    int current = db_views_current(db, ref, e2, sizeof e2);
    if (current < 0 || (current == 0 && db_temp_views(db, ref, e2, sizeof e2) != 0)) {
        mb_errf(err, errlen, "%s: %s", path, e2);
        goto fail;
    }
    sqlite3_close(ref);
    ref = NULL;
    if (mb_db_exec(db, "PRAGMA query_only = ON", e2, sizeof e2) != 0) {
        mb_errf(err, errlen, "%s: %s", path, e2);
        goto fail;
    }
    return db;
fail:
    sqlite3_close(ref);
    sqlite3_close(db);
    return NULL;
}

/* The read door's guard for SQL a user typed: no ATTACH (another file could
 * be opened for writing), no DETACH, nothing that names a file. */
static int db_guard_auth(void *ud, int action, const char *a, const char *b, const char *c,
                         const char *d)
{
    (void)ud, (void)a, (void)b, (void)c, (void)d;
    return action == SQLITE_ATTACH || action == SQLITE_DETACH ? SQLITE_DENY : SQLITE_OK;
}

int mb_db_has_temp_views(sqlite3 *db)
{
    char e2[MB_ERR_LEN];
    return db_int(db, "SELECT count(*) FROM sqlite_temp_schema WHERE type = 'view'", e2,
                  sizeof e2) > 0;
}

void mb_db_guard(sqlite3 *db)
{
    sqlite3_set_authorizer(db, db_guard_auth, NULL);
}

/* ---- the write door ---------------------------------------------------------------------- */

/* Switches db to WAL and begins the write transaction.  Returns 0 or -1 with err. */
/* Switches db to WAL and begins the write transaction.  With migrating set,
 * first turns foreign keys off (they can only be switched outside a
 * transaction): a table a migration rebuilds must be dropped without its
 * cascade; db_end_migration turns them on again. */
static int db_begin_write(sqlite3 *db, int migrating, char *err, size_t errlen)
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
    if (rc_wal == 0 && migrating &&
        mb_db_exec(db, "PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = ON", err,
                   errlen) != 0)
        return -1;
    return rc_wal != 0 ? -1 : mb_db_exec(db, "BEGIN IMMEDIATE", err, errlen);
}

static int db_end_migration(sqlite3 *db, char *err, size_t errlen)
{
    return mb_db_exec(db, "PRAGMA legacy_alter_table = OFF; PRAGMA foreign_keys = ON", err,
                      errlen);
}

/* Inside the write transaction: upgrades db from schema version `from`
 * (tables: how many it holds; 0 = a new file) and installs the schema, the
 * gate's thresholds, the views, the claims and the report's views, unless
 * the file is current and its views are the compiled ones (then nothing is
 * written).  Commits.  Returns 0, or -1 with err (the caller rolls back). */
static int db_install(sqlite3 *db, long long from, long long tables, char *err, size_t errlen)
{
    char e2[MB_ERR_LEN];
    if (tables > 0 && from == MB_SCHEMA_VERSION) {
        sqlite3 *ref = NULL;
        int current = db_reference(&ref, e2, sizeof e2) == 0
                          ? db_views_current(db, ref, e2, sizeof e2) : -1;
        sqlite3_close(ref);
        if (current < 0) {
            mb_errf(err, errlen, "%.400s", e2);
            return -1;
        }
        if (current) /* nothing to change: the file stays as it is */
            return mb_db_exec(db, "COMMIT", err, errlen);
    }
    for (long long v = tables ? from : MB_SCHEMA_VERSION; v < MB_SCHEMA_VERSION; v++) {
        if (migrations[v] && mb_db_exec(db, migrations[v], e2, sizeof e2) != 0) {
            mb_errf(err, errlen, "cannot upgrade the schema from version %lld: %.400s", v, e2);
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
        mb_errf(err, errlen, "cannot install the schema: %.400s", e2);
        return -1;
    }
    return 0;
}

/* Refuses what cannot hold results: "", ":memory:", a URI. */
static int db_not_a_file(const char *path, char *err, size_t errlen)
{
    if (path[0] && strcmp(path, ":memory:") != 0 && strncmp(path, "file:", 5) != 0)
        return 0;
    mb_errf(err, errlen, "'%s' is not a database file (results must outlive the command)", path);
    return 1;
}

sqlite3 *mb_db_open(const char *path, int create, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    struct stat sb;
    long long tables;
    char e2[MB_ERR_LEN] = "";
    /* URI: so that ATTACH can say mode=ro (the path itself is never "file:") */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI | (create ? SQLITE_OPEN_CREATE : 0);

    if (db_not_a_file(path, err, errlen))
        return NULL;
    if (stat(path, &sb) != 0 && !create) {
        mb_errf(err, errlen, "%s: no such database (run `mapbench run` or `make bench` first)",
                 path);
        return NULL;
    }
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        mb_errf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 30000);
    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);

    long long version = db_check_ours(db, path, &tables, err, errlen);
    if (version < 0)
        goto fail;
    if (sqlite3_db_readonly(db, "main") == 1) {
        mb_errf(err, errlen, "%s: read-only; cannot write to it", path);
        goto fail;
    }
    if (tables > 0 && db_quick_check(db, path, err, errlen) != 0)
        goto fail;
    int migrating = tables > 0 && version < MB_SCHEMA_VERSION;
    if (db_begin_write(db, migrating, e2, sizeof e2) != 0) {
        mb_errf(err, errlen, "%s: %s", path, e2);
        goto fail;
    }
    /* again inside the transaction: another writer may have just created or upgraded it */
    version = db_check_ours(db, path, &tables, err, errlen);
    if (version < 0)
        goto rollback;
    if (db_install(db, version, tables, e2, sizeof e2) != 0) {
        mb_errf(err, errlen, "%s: %s", path, e2);
        goto rollback;
    }
    if (migrating && db_end_migration(db, e2, sizeof e2) != 0) {
        mb_errf(err, errlen, "%s: %s", path, e2);
        goto fail;
    }
    return db;
rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
fail:
    sqlite3_close(db);
    return NULL;
}
