/*
 * probe.h — the child side: the commands that run inside a fresh process and
 * print what they measured as records (one case or one selection each), and
 * what they share: one case setup (mb_case_open), the allocator a child runs
 * on, and the process's memory as the kernel reports it.
 *
 * A probe never opens a database and never starts a process: it reads its
 * command line and writes its records to stdout (errors to stderr and an E
 * record).  The build proves it (the mb_probe room check links it without
 * SQLite and without run/).
 */
#ifndef MB_PROBE_H
#define MB_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "args.h"
#include "clock.h"
#include "counting_alloc.h"
#include "plan.h"
#include "record.h"

/* ---- the commands ---------------------------------------------------------------- */

extern const mb_command mb_command_time;
extern const mb_command mb_command_mem_case;
extern const mb_command mb_command_go_mem_case;
extern const mb_command mb_command_go_threads_case;
extern const mb_command mb_command_icount_case;
extern const mb_command mb_command_latency_case;
extern const mb_command mb_command_churn_case;

/* ---- one case setup (case.c) --------------------------------------------------------- */

/* Each timed repetition does at least this many operations (several
 * iterations on small maps; mixed_rw: max(n, this) split between the
 * threads, in C (time) and in Go (go-threads-case) alike), so one repetition
 * is long enough to time and short enough to repeat. */
#define MB_OPS_PER_REPETITION 200000u

/* Everything one case needs, set up the one way every probe uses: the map's
 * config, its counting allocator, the key stream (with the zipf hot set and,
 * for pointer-value blueprints, the objects), and the map once built.
 * PRECONDITION: not moved after mb_case_open (the allocator points into it). */
typedef struct mb_probe_case {
    const mb_map_ops *ops;
    const mb_blueprint *bp;
    size_t n;
    mb_map_config cfg;
    mb_counter ctr;       /* the map's bytes (reset by every mb_case_build) */
    mb_alloc alloc;       /* counts into ctr */
    mb_stream stream;     /* 2n key indexes */
    mb_objects objs;      /* pointer-value blueprints: the objects the values point to */
    mb_counter obj_ctr;   /* ... and their bytes */
    void *map;            /* NULL until mb_case_build */
    int hugepages;        /* ctr.hugepages at every build (mb_case_hugepages) */
} mb_probe_case;

/* Turns the counting allocator's hugepages on (1) for pc's maps from the next
 * mb_case_build on: blocks of 2 MiB+ are mmap'd 2 MiB-aligned and madvised
 * MADV_HUGEPAGE (counting_alloc.h).  Call after mb_case_open. */
void mb_case_hugepages(mb_probe_case *pc, int on);

/* Sets up pc for n keys of (ops, bp, dist), capacity hint, shrink policy and seed.
 * Returns NULL, or why the case cannot run (pc is then closed). */
const char *mb_case_open(mb_probe_case *pc, const mb_map_ops *ops, const mb_blueprint *bp,
                         mb_dist dist, size_t n, size_t hint, mb_shrink_policy shrink,
                         uint64_t seed);
/* Creates the map (counter reset) in the state phase is measured from: empty
 * for insert, n keys for the other phases, n keys then cleared for reinsert.
 * Returns NULL, or why not (no map is left then). */
const char *mb_case_build(mb_probe_case *pc, mb_phase phase);
/* Destroys the map (if any) and frees the objects its values pointed to. */
void mb_case_drop_map(mb_probe_case *pc);
/* Drops the map and frees the stream. */
void mb_case_close(mb_probe_case *pc);

/* ---- the memory phase script (memscript.c) ---------------------------------------------- */

typedef enum mb_mem_op {
    MB_MEM_INSERT,
    MB_MEM_DELETE,
    MB_MEM_TRIM,
    MB_MEM_CLEAR,
    MB_MEM_REBUILD, /* copy the live entries into a new map, destroy the old */
} mb_mem_op;

/* One step of the script.  Key ranges are in halves of n (mb_mem_pos):
 * the step works on keys [from, to) and leaves keys [live_from, live_to) live. */
typedef struct mb_mem_step {
    const char *name;
    mb_mem_op op;
    int from, to;
    int live_from, live_to;
} mb_mem_step;

/* The steps between "start" and "destroy", in order. */
extern const mb_mem_step mb_mem_script[];
extern const size_t mb_mem_script_len;
/* The key index of a position in halves of n: 0, n/2, n, n + n/2, 2n (odd n:
 * the second half is the larger). */
size_t mb_mem_pos(int halves, size_t n);

/* ---- the real Go map's library (gort_load.c) --------------------------------------------- */

/* One entry point of libmbgort.so and where its pointer goes in an api struct. */
typedef struct mb_gort_sym {
    const char *name;
    size_t offset;
} mb_gort_sym;

/* libmbgort.so's path: $MB_GORT_LIB if set, else the built one ("" without Go). */
const char *mb_gort_lib_path(void);
/* Loads the library and stores each symbol's address at api + its offset.
 * Returns 0, or -1 with err filled.  The library stays loaded: a Go runtime
 * cannot be unloaded. */
int mb_gort_load(void *api, const mb_gort_sym *syms, size_t n_syms, char *err, size_t errlen);

/* ---- the allocator this child runs on (allocators.c) ------------------------------------ */

/* The allocator actually serving malloc. */
const char *mb_allocator_detect(void);
/* The allocator's in-use and held bytes (-1 = not exposed). */
void mb_allocator_stats(long long *in_use_bytes, long long *held_bytes);
/* Asks the allocator to give free memory back to the OS. */
void mb_allocator_trim(void);

/* ---- process memory (memory.c) --------------------------------------------------------- */

typedef struct mb_smaps {
    long long rss_bytes, anon_bytes; /* -1 = not measured */
} mb_smaps;

/* Returns Rss and Anonymous from /proc/self/smaps_rollup (-1 where unreadable). */
mb_smaps mb_read_smaps(void);

#endif
