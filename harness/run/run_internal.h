/* run_internal.h — what the files of the run room share. */
#ifndef MB_RUN_INTERNAL_H
#define MB_RUN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "child.h"
#include "clock.h"
#include "plan.h"
#include "run.h"
#include "store.h"

/* callgrind's parent side runs this; without it, icount is "not measured"
 * (package valgrind). */
#define MB_VALGRIND_PATH "/usr/bin/valgrind"

/* ---- the plan's units (units.c) ------------------------------------------------------ */

/* What one unit runs: one child process, or (time, go-threads) a child per
 * timing process of one map.  Its kind decides whether it may run beside
 * others (MB_UNIT_ALONE) and how its records are read (run.c). */
typedef enum mb_unit_kind {
    MB_UNIT_TIME,        /* one map's timed cases in timing process p (alone) */
    MB_UNIT_FLOOR,       /* null_map's floor cases in timing process p (alone) */
    MB_UNIT_GO_THREADS,  /* one real Go map on one mixed_rw workload, every process (alone) */
    MB_UNIT_CALIBRATE,   /* the memory instrument's calibration (K-wide) */
    MB_UNIT_MEMORY,      /* one mem-case (K-wide) */
    MB_UNIT_GO_MEMORY,   /* one go-mem-case: its GC costs are timed (alone) */
    MB_UNIT_LATENCY,     /* one latency-case (alone) */
    MB_UNIT_CHURN,       /* one churn-case: times every window (alone) */
    MB_UNIT_THRASH,      /* one churn-case --thrash: times its cycles (alone) */
    MB_UNIT_ICOUNT,      /* one case under callgrind (K-wide) */
    MB_UNIT_KIND_COUNT_
} mb_unit_kind;

const char *mb_unit_kind_name(mb_unit_kind k);

typedef struct mb_unit {
    mb_unit_kind kind;
    char *id;                /* stable: same flags, same id, same order (malloc'd) */
    int alone;
    double cost_s;           /* the plan's estimate (units.c: the cost model) */
    double work_mops;        /* ... from this work measure (million key-ops) */
    char **argv;             /* the child's command line, NULL-terminated (malloc'd
                              * strings); time and go-threads: process 1's */
    const char *preload;     /* LD_PRELOAD for the child, or NULL */
    int list;                /* the group list it fills: 0 benches, 1 mems, 2 latencies,
                              * 3 churns (time: by case name; icount: benches) */
    size_t group;            /* ... the group in it */
    unsigned process;        /* time, floor: the timing process (0-based) */
    const char *impl;        /* time, floor: the map whose cases it times */
    size_t case_index;       /* icount, go-threads: the case */
    /* as it ran (pool.c) */
    int ran, failed, skipped, slot, overlapped; /* skipped: not measurable here */
    double start_s, end_s;
} mb_unit;

typedef struct run_state {
    mb_selection sel;
    mb_case *cases;
    size_t n_cases;              /* the selected cases, then the floor's */
    size_t n_map_cases;          /* of them, the selected ones (the floor's follow) */
    char **floor_args;           /* the floor child's selection flags (NULL: no floor) */
    int n_floor_args;
    char *floor_text[2];         /* its --phase and --n lists, owned */
    const char *db_path;
    int do_time, do_mem, do_icount, do_latency, do_churn;
    char **sel_args;             /* the selection flags, verbatim, for the timing children */
    int n_sel_args;
    unsigned jobs;               /* --jobs K */
    unsigned shard_index, shard_count; /* --shard I/N (0/0: the whole plan) */
    const char *run_set_flag;    /* --run-set ID, or NULL: derived from the plan */
    char run_set[40];            /* the run set of a sharded run */
    mb_unit *units;              /* the plan: every unit, in plan order */
    size_t n_units;
    mb_unit **mine;              /* the units this run executes (its shard's), plan order */
    size_t n_mine;
    int go_threads_missing, go_mem_missing; /* Go not built: said once */
    int go_probe;                /* the real Go map's probe: 0 not run, 1 ok, -1 failed */
    mb_env env;
    mb_store_run out;            /* what is stored */
    mb_not_measured *not_measured; /* left out for a missing package (out.not_measured) */
    char **not_measured_text;    /* their `what`, owned */
    size_t n_not_measured;
    uint64_t t_start;
    int failures;
    int oom_failures, crashed_failures; /* of failures: out of memory; killed by a signal */
    int icount_failures;                /* ... callgrind runs that failed */
    void *lock;                  /* pool.c: the mutex workers take around shared counts */
} run_state;

/* Builds rs->units from rs->sel and the metrics (the loops `run` measures
 * with: there is no other copy), creating every output group they fill.
 * Then picks this run's units (rs->mine): all, or shard I of N by LPT over
 * the cost estimates, and derives the run set.  Exits on a usage error. */
void mb_units_build(run_state *rs);
void mb_units_free(run_state *rs);
/* Records that `what` `name` is not measured (package missing), once; run.c. */
void mb_run_not_measured(run_state *rs, const char *what, const char *name, const char *package);
/* Parses run's and plan's flags into rs (cmd: whose usage errors). */
void mb_run_args(run_state *rs, int argc, char **argv, const mb_command *cmd);
/* Plans the run: the cases, the floor, the units (used by run and plan). */
void mb_run_plan(run_state *rs, const mb_command *cmd);

/* ---- executing them (pool.c) --------------------------------------------------------- */

typedef void (*mb_unit_fn)(run_state *rs, mb_unit *u);
/* Runs rs->mine K = rs->jobs wide: units that may run beside others fill up
 * to K slots; an alone unit waits until every slot is free and runs while
 * nothing else does.  Each unit's slot, interval and overlap are recorded in
 * it; after each unit the progress file (mb_progress_path) is rewritten. */
void mb_pool_run(run_state *rs, mb_unit_fn fn);
void mb_pool_lock(run_state *rs);
void mb_pool_unlock(run_state *rs);
/* Rewrites the progress file of rs's database: state is running, stored,
 * failed.  Returns 0 or -1 (a progress file is advisory: never fatal). */
int mb_progress_write(run_state *rs, const char *state);

/* ---- child processes (spawn.c, through base's child.h: the one way a process starts) */

/* Runs path with args (NULL-terminated), feeding each line of its stdout to
 * fn; its stderr passes through.  Returns its exit status (128+signal when
 * killed), or -1 if it could not start. */
int mb_run_child(const char *path, char **args, mb_line_fn fn, void *ud);
/* The same, discarding stdout (stderr still passes through). */
int mb_run_child_quiet(const char *path, char **args);
/* The same with LD_PRELOAD set to preload in the child (NULL: unset). */
int mb_run_child_preload(const char *path, char **args, const char *preload, mb_line_fn fn,
                         void *ud);

/* Installs the run's SIGINT/SIGTERM handler: kill and reap the current
 * child's process group, remove the registered temporary file, say
 * "interrupted: nothing stored", exit 130/143. */
void mb_spawn_trap_signals(void);
/* Puts SIGINT/SIGTERM back to their default action (once the run is stored). */
void mb_spawn_untrap_signals(void);
/* hold 1: blocks SIGINT/SIGTERM (while the run is stored); 0: unblocks. */
void mb_spawn_hold_signals(int hold);
/* Registers the temporary file a child of this worker slot is writing
 * (NULL: none), for the handler to remove.  Returns -1 when the path is too
 * long to register. */
int mb_spawn_temp_file(const char *path);
/* The worker slot the calling thread starts children in (0: the main
 * thread); the handler kills every slot's child.  At most MB_SPAWN_SLOTS. */
#define MB_SPAWN_SLOTS 64
void mb_spawn_set_slot(int slot);

/* The same, with every option: path without a '/' is looked up on PATH;
 * quiet_stderr sends the child's stderr to /dev/null. */
int mb_run_child_opts(const char *path, char **args, const char *preload, int quiet_stderr,
                      mb_line_fn fn, void *ud);
/* The same with exactly the environment envp (NULL-terminated), not this
 * process's: for a child whose figures must not depend on who started it. */
int mb_run_child_env(const char *path, char **args, char **envp, mb_line_fn fn, void *ud);

/* ---- instruction counts (icount.c) -------------------------------------------------- */

/* Counts the instructions of an icount unit's measured phase under
 * callgrind: unit_argv is the unit's command line (units.c), run with this
 * executable and a temporary output file.  Returns 0 with *instructions and
 * *ops, or -1 with err filled. */
int mb_icount_measure(char *const *unit_argv, long long *instructions, long long *ops,
                      char *err, size_t errlen);

/* ---- environment (env.c) ------------------------------------------------------------ */

void mb_env_capture(mb_env *env);
/* A random RFC 4122 version 4 UUID. */
void mb_uuid(char out[37]);

#endif
