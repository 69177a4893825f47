/*
 * gbench_shim.h — the small C API over Google Benchmark (gbench_shim.cc).
 *
 * Debian's libbenchmark is a debug build, so mapbench times whole phases with
 * its own clock and hands each phase's time to the library as manual
 * iteration time: the library only schedules, repeats and reports.
 */
#ifndef MB_GBENCH_SHIM_H
#define MB_GBENCH_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mbb_state mbb_state; /* a benchmark::State */
typedef void (*mbb_fn)(mbb_state *st, void *ctx);

/* Registers a benchmark that runs `iterations` iterations per repetition and
 * `repetitions` repetitions (0: --benchmark_repetitions decides), timed
 * manually (mbb_set_iteration_time).  With process_cpu, its cpu_time is the
 * process's CPU (every thread's: for a benchmark that runs threads of its
 * own), else the calling thread's; either covers only what runs while the
 * timer is not paused (mbb_pause_timing). */
void mbb_register(const char *name, mbb_fn fn, void *ctx, int64_t iterations, int repetitions,
                  int process_cpu);

/* Returns 1 while the benchmark wants another iteration. */
int mbb_keep_running(mbb_state *st);
void mbb_set_iteration_time(mbb_state *st, double seconds);
/* Stop and restart the library's timer (its cpu_time) around untimed work
 * inside an iteration.  PRECONDITION: they alternate, pause first, and the
 * timer runs again before the next mbb_keep_running. */
void mbb_pause_timing(mbb_state *st);
void mbb_resume_timing(mbb_state *st);
void mbb_set_items_processed(mbb_state *st, int64_t items);
void mbb_set_counter(mbb_state *st, const char *name, double value);
/* Marks the benchmark failed; the caller must stop iterating. */
void mbb_skip_with_error(mbb_state *st, const char *msg);

/* One finished repetition as the library reports it. */
typedef struct mbb_result {
    const char *name;
    int64_t repetition_index;
    int64_t iterations;
    double real_seconds;      /* total manual time of all iterations */
    double ns_per_op;         /* counter "ns_per_op" (NaN if absent) */
    double ceiling_ns_per_op; /* counter "ceiling_ns_per_op" (NaN if absent: not mixed_rw) */
    const char *error;        /* NULL unless the run failed */
} mbb_result;
typedef void (*mbb_report_fn)(void *ud, const mbb_result *r);

/* What mbb_run needs of the flags the library keeps to itself: the file
 * reporter's --benchmark_out=FILE and --benchmark_out_format=FMT (NULL when
 * absent; they point into argv). */
typedef struct mbb_flags {
    const char *out_file;
    const char *out_format;
} mbb_flags;

/* Parses Google Benchmark's own flags out of argv (--benchmark_filter,
 * --benchmark_repetitions, --benchmark_format, ...) and sets *flags. */
void mbb_initialize(int *argc, char **argv, mbb_flags *flags);

/* Returns the threads a benchmark (by its registered name) runs itself: what
 * its reports say in "threads". */
typedef int (*mbb_threads_fn)(void *ud, const char *name);
/* Runs what is registered.  With report == NULL the library's own display
 * reporter prints (console or --benchmark_format=json|csv; and the file
 * reporter of --benchmark_out, in --benchmark_out_format), each run's
 * "threads" set by threads_of; otherwise every non-aggregate run goes to
 * report instead (and the file reporter is as without report).  Returns the
 * number of runs. */
int64_t mbb_run(const mbb_flags *flags, mbb_report_fn report, mbb_threads_fn threads_of, void *ud);
/* "1.7.1 (library build: debug|release)". */
const char *mbb_version(void);

#ifdef __cplusplus
}
#endif
#endif
