/*
 * cli.h — what the mapbench subcommands share: argument parsing helpers,
 * the case list, the database and environment helpers.
 *
 * Below the CLI layer (db, env, cases, children) errors are returned as
 * messages in a caller's buffer; only the subcommand functions print.
 */
#ifndef MB_CLI_H
#define MB_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "../impls/mb_map.h"
#include "../impls/counting_alloc.h"
#include "../workloads/workload.h"

#define MB_DEFAULT_DB "results/mapbench.db"
#define MB_ERR_LEN 512

/* ---- usage errors (exit 2) ---------------------------------------------- */

/* Prints "mapbench: <msg>" and the command's usage to stderr, exits 2. */
_Noreturn void mb_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mb_print_usage(FILE *f, const char *cmd);
/* Returns 1 when args[i] is --help / -h. */
int mb_is_help(const char *a);
/* Returns the value of a "--flag VALUE" or "--flag=VALUE" argument at argv[*i]
 * (advancing *i), or NULL when argv[*i] is not that flag. */
const char *mb_flag_value(int argc, char **argv, int *i, const char *flag, const char *cmd);
size_t mb_parse_count(const char *s, const char *flag, const char *cmd);

/* ---- cases ---------------------------------------------------------------- */

typedef struct mb_blueprint {
    const char *name; /* "u64->u64" */
    size_t key_bytes, val_bytes;
    size_t object_bytes; /* > 0: values are pointers to objects of this size */
} mb_blueprint;

/* Sets up s (and o, for pointer values) for n keys of blueprint bp; o's
 * objects are counted in ctr.  Returns 0 or MB_ENOMEM. */
int mb_stream_for(mb_stream *s, mb_objects *o, mb_counter *ctr, const mb_blueprint *bp,
                  mb_dist dist, uint64_t seed, size_t key_indexes);
/* Frees what mb_stream_for set up. */
void mb_stream_done(mb_stream *s);

extern const mb_blueprint mb_blueprints[];  /* NULL-name terminated */
const mb_blueprint *mb_blueprint_find(const char *name);
const char *mb_dist_name(mb_dist d);
int mb_dist_parse(const char *s); /* -1 if unknown */

typedef enum mb_hint {
    MB_HINT_NONE = 0,   /* no capacity hint */
    MB_HINT_RIGHT,      /* hint = n */
    MB_HINT_SMALL,      /* hint = n / 4: four times too small */
    MB_HINT_BIG,        /* hint = 4 n: four times too big */
} mb_hint;
const char *mb_hint_name(mb_hint h);
int mb_hint_parse(const char *s);
size_t mb_hint_size(mb_hint h, size_t n);

/* What a run measures: the cross product of these lists. */
typedef struct mb_selection {
    const char *suite;                   /* quick | full | custom */
    const mb_map_ops *impls[64];
    size_t n_impls;
    mb_phase phases[MB_PHASE_COUNT_];
    size_t n_phases;
    size_t sizes[32];
    size_t n_sizes;
    const mb_blueprint *blueprints[8];
    size_t n_blueprints;
    mb_dist dists[4];
    size_t n_dists;
    mb_hint hints[4];                    /* insert/reinsert capacity hints */
    size_t n_hints;
    size_t side_sizes[8];                /* sizes for the other blueprints/dists (0: = sizes) */
    size_t n_side_sizes;
    size_t big_n;                        /* above it only insert and lookup_hit (0: no limit) */
    const mb_blueprint *mem_extra[4];    /* memory-only blueprints (inline vs pointer values) */
    size_t n_mem_extra, mem_extra_n;     /* ... and the one size they run at */
    unsigned threads[8];                 /* mixed_rw thread counts (thread-safe maps) */
    size_t n_threads;
    uint64_t seed;
    unsigned reps;                       /* repetitions per process */
    unsigned processes;                  /* timing processes */
    const char *allocators[4];
    size_t n_allocators;
} mb_selection;

/* One timed case. */
typedef struct mb_case {
    const mb_map_ops *ops;
    mb_phase phase;
    const mb_blueprint *bp;
    mb_dist dist;
    size_t n, hint;
    unsigned threads;   /* 1, or mixed_rw's thread count */
    char name[192];     /* impl/phase/blueprint/dist/n:N/hint:H[/threads:T] — the benchmark's name */
} mb_case;

/* Fills sel with a suite's defaults.  Returns 0, or -1 for an unknown suite. */
int mb_selection_suite(mb_selection *sel, const char *suite);
/* Applies one filter/option flag at argv[*i] if it is one.  Returns 1 when it
 * consumed the flag, 0 when argv[*i] is not a selection flag.  Bad values are
 * usage errors (exit 2). */
int mb_selection_flag(mb_selection *sel, int argc, char **argv, int *i, const char *cmd);
/* Expands the selection into timed cases (unsupported configs are left out).
 * Returns the number of cases; *out is malloc'd. */
size_t mb_cases_build(const mb_selection *sel, mb_case **out);
/* The flags every single-case subcommand shares. */
typedef struct mb_case_args {
    const mb_map_ops *ops;   /* --impl (required) */
    const mb_blueprint *bp;  /* --blueprint, default u64->u64 */
    mb_dist dist;            /* --dist, default uniform */
    size_t n;                /* --n (required) */
    uint64_t seed;           /* --seed */
} mb_case_args;

void mb_case_args_init(mb_case_args *a);
/* Consumes argv[*i] when it is --impl, --n, --blueprint, --dist or --seed
 * (returns 1); bad values are usage errors (exit 2).  Returns 0 otherwise. */
int mb_case_arg(mb_case_args *a, int argc, char **argv, int *i, const char *cmd);

/* Returns 1 and *cfg when the map supports the blueprint. */
int mb_case_config(const mb_map_ops *ops, const mb_blueprint *bp, size_t hint, uint64_t seed,
                   mb_map_config *cfg);

/* ---- database ------------------------------------------------------------- */

/* Opens (creating if asked) and migrates a results database: WAL, busy
 * timeout, schema and views.  Returns NULL with err filled on failure; a file
 * that is not a mapbench/SQLite database is left untouched. */
sqlite3 *mb_db_open(const char *path, int create, char *err, size_t errlen);
/* Runs SQL with no results.  Returns 0, or -1 with err filled. */
int mb_db_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

/* ---- environment ---------------------------------------------------------- */

typedef struct mb_env {
    char git_sha[64];
    int git_dirty;          /* -1 unknown */
    char compiler[128], cflags[256], build_type[32], benchmark_version[128];
    char cpu_model[128], kernel[256], hostname[128];
    long cores;
    long l1d_bytes, l2_bytes, l3_bytes;  /* -1 unknown */
} mb_env;

void mb_env_capture(mb_env *env);
/* Current UTC time as ISO 8601 into buf. */
void mb_now_iso(char *buf, size_t len);
/* A random RFC 4122 version 4 UUID. */
void mb_uuid(char out[37]);
uint64_t mb_now_ns(void);

/* ---- allocators (allocators.c) ---------------------------------------------- */

typedef struct mb_allocator_info {
    const char *name;     /* glibc | jemalloc | mimalloc | tcmalloc */
    const char *preload;  /* LD_PRELOAD path; NULL for glibc */
    const char *package;  /* the Debian package that ships preload (ci/packages.txt) */
} mb_allocator_info;

const mb_allocator_info *mb_allocator_find(const char *name);
/* The i-th known allocator, or NULL past the last. */
const mb_allocator_info *mb_allocator_at(size_t i);
const char *mb_allocator_names(void);
/* Returns 1 when the allocator's library is installed. */
int mb_allocator_available(const mb_allocator_info *a);
/* In a child: the allocator actually serving malloc. */
const char *mb_allocator_detect(void);
/* In a child: the allocator's in-use and held bytes (-1 = not exposed). */
void mb_allocator_stats(long long *in_use_bytes, long long *held_bytes);
/* In a child: asks the allocator to give free memory back to the OS. */
void mb_allocator_trim(void);

/* ---- child processes ----------------------------------------------------------- */

typedef void (*mb_line_fn)(void *ud, char *line);
/* Runs path with args (NULL-terminated), feeding each line of its stdout to
 * fn; its stderr passes through.  Returns its exit status (128+signal when
 * killed), or -1 if it could not start. */
int mb_run_child(const char *path, char **args, mb_line_fn fn, void *ud);
/* The same, discarding stdout (stderr still passes through). */
int mb_run_child_quiet(const char *path, char **args);
/* The same with LD_PRELOAD set to preload in the child (NULL: unset). */
int mb_run_child_preload(const char *path, char **args, const char *preload, mb_line_fn fn,
                         void *ud);

/* ---- instruction counts (icount.c) ------------------------------------------ */

/* Counts the instructions of case c's measured phase under callgrind.
 * Returns 0 with *instructions and *ops, or -1 with err filled. */
int mb_icount_measure(const mb_case *c, uint64_t seed, long long *instructions, long long *ops,
                      char *err, size_t errlen);

/* ---- process memory (memory.c) --------------------------------------------- */

typedef struct mb_smaps {
    long long rss_bytes, anon_bytes; /* -1 = not measured */
} mb_smaps;

/* Returns Rss and Anonymous from /proc/self/smaps_rollup (-1 where unreadable). */
mb_smaps mb_read_smaps(void);

/* ---- printing query results ------------------------------------------------ */

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON } out_format;
/* Runs every statement of sql, printing the rows of those that return any.
 * Returns 0, or 1 after printing SQLite's message to stderr. */
int mb_sql_print(sqlite3 *db, const char *sql, out_format fmt);
out_format mb_parse_format(const char *v, const char *cmd);

/* ---- subcommands ------------------------------------------------------------ */

int mb_cmd_run(int argc, char **argv);
int mb_cmd_time(int argc, char **argv);
int mb_cmd_mem_case(int argc, char **argv);
int mb_cmd_query(int argc, char **argv);
int mb_cmd_runs(int argc, char **argv);
int mb_cmd_gate(int argc, char **argv);
int mb_cmd_list(int argc, char **argv);
int mb_cmd_show(int argc, char **argv);
int mb_cmd_merge(int argc, char **argv);
int mb_cmd_export(int argc, char **argv);
int mb_cmd_icount_case(int argc, char **argv);
int mb_cmd_latency_case(int argc, char **argv);
int mb_cmd_churn_case(int argc, char **argv);
int mb_cmd_go_mem_case(int argc, char **argv);
int mb_cmd_plot(int argc, char **argv);   /* report.c */
int mb_cmd_report(int argc, char **argv); /* report.c */

#endif
