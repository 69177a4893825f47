/*
 * plan.h — what a run measures: blueprints, key distributions, capacity
 * hints, the suites, the selection flags and the expansion of a selection
 * into cases (timed, memory, latency, churn, the real Go map).
 *
 * The parent (run/) plans with it, and so do the children that take a
 * selection or a case on their command line (probe/): both must expand the
 * same flags into the same cases, so the rules live here once.  No SQLite,
 * no processes: a plan is pure data.
 */
#ifndef MB_PLAN_H
#define MB_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "args.h"
#include "mb_map.h"
#include "workload.h"

/* ---- blueprints, distributions, hints --------------------------------------- */

typedef struct mb_blueprint {
    const char *name; /* "u64->u64" */
    size_t key_bytes, val_bytes;
    size_t object_bytes; /* > 0: values are pointers to objects of this size */
} mb_blueprint;

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

/* Shrink policies (mb_map.h) by name: "never", "low-water". */
const char *mb_shrink_name(mb_shrink_policy p);
int mb_shrink_parse(const char *s); /* -1 if unknown */
/* Returns 1 for the timed phases whose cost depends on the shrink policy
 * (they remove keys: delete_all, delete_half); the others run under "never". */
int mb_shrink_phase(mb_phase p);

/* The seed of every suite and of a single case without --seed ("mapbe"). */
#define MB_DEFAULT_SEED 0x6d61706265ULL

/* The real Go runtime map (go-mem-case) is not a registered map: it runs its
 * phases inside Go.  These are the labels its memory cases are stored, drawn
 * and reported under. */
#define MB_GO_IMPL "go_runtime"
#define MB_GO_FAMILY "peer"
#define MB_GO_TRAITS "real-go-map,go-1.19,map[uint64]uint64,gc-managed,bytes-are-heap-inuse,never-shrinks"
#define MB_GO_ALLOCATOR "go-runtime"

/* ---- allocators a run can choose (plan/allocators.c) -------------------------- */

typedef struct mb_allocator_info {
    const char *name;     /* glibc | jemalloc | mimalloc | tcmalloc */
    const char *preload;  /* LD_PRELOAD path; NULL for glibc */
    const char *package;  /* the Debian package that ships it (ci/packages.txt) */
} mb_allocator_info;

const mb_allocator_info *mb_allocator_find(const char *name);
/* The i-th known allocator, or NULL past the last. */
const mb_allocator_info *mb_allocator_at(size_t i);
const char *mb_allocator_names(void);
/* Returns 1 when the allocator's library is installed. */
int mb_allocator_available(const mb_allocator_info *a);

/* ---- selections and cases ------------------------------------------------------ */

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
    size_t insert_only_n;                /* above it only insert (0: no limit) */
    size_t mem_sizes[40];                /* the memory sweep (first blueprint and distribution;
                                          * 0 entries: = sizes up to big_n): memory cases are
                                          * K-wide under run --jobs, so it can be finer than
                                          * timing's; big_n does not cut it */
    size_t n_mem_sizes;
    size_t thread_sizes[8];              /* mixed_rw only at these sizes (0 entries: every size) */
    size_t n_thread_sizes;
    size_t icount_max_n;                 /* instruction counts only up to this n (0: every n) */
    int icount_main_only;                /* 1: ... and only of the first blueprint and key order */
    int default_icount;                  /* 1: icount is one of the suite's default metrics */
    const mb_blueprint *mem_extra[4];    /* memory-only blueprints (inline vs pointer values) */
    size_t n_mem_extra, mem_extra_n;     /* ... and the one size they run at */
    unsigned threads[8];                 /* mixed_rw thread counts (thread-safe maps) */
    size_t n_threads;
    unsigned mixes[8];                   /* mixed_rw lookup percents (100 read-only .. 0 write-only) */
    size_t n_mixes;
    uint64_t seed;
    unsigned reps;                       /* repetitions per process */
    unsigned processes;                  /* timing processes */
    const char *allocators[4];
    size_t n_allocators;
    mb_shrink_policy shrinks[4];         /* removing phases, memory, churn: per map that supports it */
    size_t n_shrinks;
    int hugepages;                       /* --hugepages: the counting allocator madvises
                                          * blocks of 2 MiB+ MADV_HUGEPAGE (timed and memory
                                          * cases; maps with their own allocator unaffected) */
} mb_selection;

/* One timed case. */
typedef struct mb_case {
    const mb_map_ops *ops;
    mb_phase phase;
    const mb_blueprint *bp;
    mb_dist dist;
    size_t n, hint;
    unsigned threads;   /* 1, or mixed_rw's thread count */
    unsigned lookup_percent; /* mixed_rw: percent of ops that are lookups (the mix) */
    mb_shrink_policy shrink;
    int hugepages;      /* mb_selection.hugepages: the name ends /hugepages */
    char name[192];     /* impl/phase/blueprint/dist/n:N/hint:H[/threads:T/mix:M][/shrink:P] —
                         * the benchmark's name (no /shrink: part for "never") */
} mb_case;

/* The readable name of a mix: "read-only" (100), "write-only" (0), else the
 * lookup percent ("90", "50").  mb_mix_parse takes those names, or a percent
 * 0..100 with an optional "%" or "/W" ("90/10"); -1 if it is neither. */
const char *mb_mix_name(unsigned lookup_percent, char *buf, size_t len);
int mb_mix_parse(const char *s);

/* The real Go maps under threads (go-threads-case, impls/peers/gort/threads.go):
 * stored as their own impls beside the C rows of mixed_rw. */
typedef struct mb_go_thread_map {
    const char *impl;    /* "go_syncmap" */
    int kind;            /* GortThreadsRun's map kind */
    const char *traits;
} mb_go_thread_map;
extern const mb_go_thread_map mb_go_thread_maps[]; /* NULL-impl terminated */
const mb_go_thread_map *mb_go_thread_map_find(const char *impl);

/* Fills sel with a suite's defaults.  Returns 0, or -1 for an unknown suite. */
int mb_selection_suite(mb_selection *sel, const char *suite);
/* Applies one filter/option flag at argv[*i] if it is one.  Returns 1 when it
 * consumed the flag, 0 when argv[*i] is not a selection flag.  Bad values
 * (and lists longer than the selection holds) are usage errors (exit 2). */
int mb_selection_flag(mb_selection *sel, int argc, char **argv, int *i, const mb_command *cmd);
/* Expands the selection into timed cases (unsupported configs are left out).
 * Returns the number of cases; *out is malloc'd (NULL and 0 when out of memory). */
size_t mb_cases_build(const mb_selection *sel, mb_case **out);

/* One memory child to run. */
typedef struct mb_mem_spec {
    const mb_map_ops *ops;
    const mb_blueprint *bp;
    mb_dist dist;
    size_t n;
    const char *allocator;
    mb_shrink_policy shrink;
} mb_mem_spec;

/* Which memory cases a selection runs (see selection.c).  Returns the count;
 * *out is malloc'd. */
size_t mb_mem_plan(const mb_selection *sel, mb_mem_spec **out);
/* The memory sweep: mem_sizes, or the timed sizes when the suite has none. */
const size_t *mb_mem_sizes(const mb_selection *sel, size_t *n);
/* Returns 1 when the real Go map (go-mem-case) is run for this distribution
 * and size: u64->u64 first blueprint, uniform or sequential keys. */
int mb_go_planned(const mb_selection *sel, mb_dist dist, size_t n);
/* The sizes of the latency and churn cases: the largest n capped at 1e6 and
 * 1e5; fewer than 4 keys are not run. */
size_t mb_latency_n(const mb_selection *sel);
size_t mb_churn_n(const mb_selection *sel);

/* ---- one case on a command line ------------------------------------------------- */

/* The flags every single-case subcommand shares. */
typedef struct mb_case_args {
    const mb_map_ops *ops;   /* --impl (required) */
    const mb_blueprint *bp;  /* --blueprint, default u64->u64 */
    mb_dist dist;            /* --dist, default uniform */
    size_t n;                /* --n (required) */
    uint64_t seed;           /* --seed */
    mb_shrink_policy shrink; /* --shrink, default never */
    int hugepages;           /* --hugepages: the counting allocator's hugepages on */
} mb_case_args;

void mb_case_args_init(mb_case_args *a);
/* Consumes argv[*i] when it is --impl, --n, --blueprint, --dist, --seed or --shrink
 * (returns 1); bad values are usage errors (exit 2).  Returns 0 otherwise. */
int mb_case_arg(mb_case_args *a, int argc, char **argv, int *i, const mb_command *cmd);

/* The command line of a single-case child with inline values (latency-case,
 * churn-case): --help (exits 0), the case flags, and one count flag (e.g.
 * --hint) into *count.  Needs --impl and --n >= 1; a pointer-value blueprint,
 * a missing flag or an unknown argument is a usage error (exit 2). */
void mb_inline_case_args(mb_case_args *a, int argc, char **argv, const mb_command *cmd,
                         const char *count_flag, size_t *count);

/* Returns 1 and *cfg when the map supports the blueprint. */
int mb_case_config(const mb_map_ops *ops, const mb_blueprint *bp, size_t hint,
                   mb_shrink_policy shrink, uint64_t seed, mb_map_config *cfg);

#endif
