/*
 * store.h — the results database: opening and migrating it, storing one
 * collected run in one transaction, and the commands that read it (query,
 * runs, show, merge, export).
 *
 * The store knows tables and rows, not maps or processes: what it stores
 * arrives as plain values (names, numbers, the children's fields as text).
 * Errors are returned as messages in the caller's buffer.
 */
#ifndef MB_STORE_H
#define MB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "args.h"
#include "record.h"

#define MB_DEFAULT_DB "results/mapbench.db"

extern const mb_command mb_command_query;
extern const mb_command mb_command_runs;
extern const mb_command mb_command_show;
extern const mb_command mb_command_merge;
extern const mb_command mb_command_export;

/* ---- the database (db.c) ------------------------------------------------------------ */

/* The write door: opens (creating if asked) a results database to write to:
 * refuses '' and ":memory:", a read-only file, and a damaged one (PRAGMA
 * quick_check); WAL, busy timeout; creates or migrates the schema and
 * refreshes the views only when they are not the compiled ones.  Returns NULL
 * with err filled on failure; a file that is not a mapbench/SQLite database,
 * or is damaged, is left untouched. */
sqlite3 *mb_db_open(const char *path, int create, char *err, size_t errlen);
/* The read door: opens an existing results database read-only
 * (SQLITE_OPEN_READONLY, PRAGMA query_only): reading never changes a byte of
 * it.  Stale stored views are replaced by TEMP views on this connection; a
 * WAL file in a directory this user cannot write is read immutable.  An empty
 * file is refused; an older schema version is upgraded in place first (the
 * write door), or refused when it cannot be written. */
sqlite3 *mb_db_open_read(const char *path, char *err, size_t errlen);
/* Returns 1 when the read door had to install TEMP views (the stored ones
 * are not this build's). */
int mb_db_has_temp_views(sqlite3 *db);
/* Denies ATTACH and DETACH on db from now on: for SQL a user typed. */
void mb_db_guard(sqlite3 *db);
/* "file:<path>?<query>" with path percent-encoded (sqlite3_malloc'd), or NULL:
 * for ATTACH with a mode (e.g. "mode=ro"). */
char *mb_db_uri(const char *path, const char *query);
/* Runs SQL with no results.  Returns 0, or -1 with err filled. */
int mb_db_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

/* ci/gate.conf as compiled in (sql_text.c): the gate's thresholds, the one
 * source of every threshold (the views read it as view gate_threshold). */
extern const char mb_gate_conf[];

/* ---- printing query results (query.c) ---------------------------------------------- */

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON } out_format;
/* Runs every statement of sql, printing the rows of those that return any.
 * Returns 0, or 1 after printing SQLite's message to stderr. */
int mb_sql_print(sqlite3 *db, const char *sql, out_format fmt);
/* The same; writes_allowed 0 refuses any statement that would change the
 * database (sqlite3_stmt_readonly), as mb_sql_print does. */
int mb_sql_print_mode(sqlite3 *db, const char *sql, out_format fmt, int writes_allowed);
/* Opens db_path through the read door (mb_db_open_read), prints sql as mb_sql_print does, closes it.
 * Returns 0, or 1 after printing why. */
int mb_sql_print_db(const char *db_path, const char *sql, out_format fmt);
out_format mb_parse_format(const char *v, const mb_command *cmd);

/* ---- one collected run (store.c) ------------------------------------------------------ */

/* The environment recorded with a run (-1 / "" = unknown).  A value too long for its
 * array is recorded as unknown, never cut. */
typedef struct mb_env {
    char git_sha[65];       /* 40 (SHA-1) or 64 (SHA-256) hex digits */
    int git_dirty;          /* -1 unknown */
    /* this build's, whole (static strings: the compiler's flags can run to any length) */
    const char *compiler, *cflags, *build_type, *benchmark_version;
    char cpu_model[128], kernel[256], hostname[128];
    long cores;
    long l1d_bytes, l2_bytes, l3_bytes;  /* -1 unknown */
    char thp_enabled[32], thp_defrag[32]; /* transparent hugepages: the bracketed word of
                                           * /sys/kernel/mm/transparent_hugepage/{enabled,defrag}
                                           * ("" unknown) */
} mb_env;

/* What a stored row is about: one bench, memory, latency or churn case. */
typedef struct mb_store_case {
    const char *impl, *family, *traits;
    const char *phase;         /* bench rows only */
    const char *blueprint, *distribution;
    size_t n, hint;
    unsigned threads;
    const char *allocator;
    const char *shrink;        /* the map's shrink policy: never | low-water (NULL = never) */
    unsigned lookup_percent;   /* mixed_rw bench rows: the mix (stored NULL for other phases) */
    int hugepages;             /* bench, mem_case: the counting allocator's hugepages were on */
} mb_store_case;

/* One record as the parent read it: its kind and its values in the kind's
 * column order (copied; NULL = not measured). */
typedef struct mb_store_row {
    const mb_rec_kind *kind;
    char **vals;
    int process_index;       /* S records: which timing process printed it */
} mb_store_row;

typedef struct mb_store_rows {
    mb_store_row *rows;
    size_t n_rows, cap_rows;
} mb_store_rows;

/* One case and the records collected for it. */
typedef struct mb_store_group {
    mb_store_case c;
    mb_store_rows rows;
    long long instructions;  /* with an I record: callgrind's total */
    int failed;              /* latency and churn: a failed child's records are not stored */
} mb_store_group;

/* Something a run left out because a package is missing (table not_measured). */
typedef struct mb_not_measured {
    const char *what;     /* "memory under jemalloc" */
    const char *package;  /* "libjemalloc2" */
} mb_not_measured;

/* One unit of the run's plan as it ran (table run_unit). */
typedef struct mb_store_unit {
    const char *id, *kind;
    int alone;
    int slot;                 /* worker slot of --jobs K */
    double start_s, end_s;    /* from the run's start */
    double cost_estimate_s;
    double work_mops;         /* the cost model's work measure (units.c) */
    int overlapped;           /* another unit ran during it */
    const char *status;       /* ok | failed | skipped */
} mb_store_unit;

typedef struct mb_store_run {
    const char *uuid, *started_at, *finished_at, *status, *suite, *argv;
    uint64_t seed;
    unsigned processes;
    long long rss_floor_bytes, calib_64mib_rss_bytes;  /* -1 = not measured */
    const mb_env *env;
    mb_store_group *benches;   /* timed cases: S and I records, under a bench row */
    size_t n_benches;
    mb_store_group *mems;      /* memory cases: M and G records, under a mem_case row */
    size_t n_mems;
    mb_store_group *latencies; /* latency cases: L and H records */
    size_t n_latencies;
    mb_store_group *churns;    /* churn cases: C records */
    size_t n_churns;
    const mb_not_measured *not_measured; /* left out: a package is missing */
    size_t n_not_measured;
    const mb_store_unit *units;          /* the plan's units as they ran */
    size_t n_units;
    const char *run_set;                 /* a shard: its run set (NULL: not sharded) */
    unsigned shard_index, shard_count;   /* ... I of I/N (0: not sharded) */
} mb_store_run;

/* Appends a copy of one record to r.  Returns the row, or NULL when out of memory. */
mb_store_row *mb_store_rows_add(mb_store_rows *r, const mb_rec_kind *k, const char *const *vals);
void mb_store_rows_free(mb_store_rows *r);
/* Writes the run and everything in it in ONE transaction.  Returns 0, or -1
 * with err filled (nothing is written then). */
int mb_store_run_write(sqlite3 *db, const mb_store_run *run, char *err, size_t errlen);

#endif
