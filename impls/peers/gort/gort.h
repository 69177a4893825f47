/*
 * gort.h — the C side of libmbgort.so, the real Go runtime map as a peer.
 *
 * libmbgort.so is gort.go built with `go build -buildmode=c-shared`.  The
 * harness (harness/gomem.c) dlopen()s it, so mapbench builds and runs where Go
 * is absent.  Maps are map[uint64]uint64 (blueprint u64->u64 only) held in a
 * Go-side table: C sees an integer handle, never a Go pointer (cgo forbids C
 * from keeping Go pointers).
 *
 * Every batch entry point generates its keys inside Go with the same stream
 * as workloads/workload.c (mb_key_at, mb_val_for), so one call runs a whole
 * phase with no per-key crossing of the cgo boundary.
 *
 * Symbols (cgo //export; the generated libmbgort.h declares them too):
 *
 *   int     GortNew(uint64_t hint)          handle >= 1 of make(map, hint)
 *   int64_t GortLen(int h)                  len(m), -1 for a bad handle
 *   int64_t GortInsertRange(int h, uint64_t seed, int dist, uint64_t lo, uint64_t hi)
 *               m[key(i)] = val(key(i)) for i in [lo, hi); returns how many
 *               keys were new (len after - len before), -1 for a bad handle/dist
 *   int64_t GortDeleteRange(same)           delete(m, key(i)); returns how many
 *               were found (len before - len after), -1 as above
 *   int64_t GortLookupRange(same, uint64_t *sum)
 *               returns how many keys were found, -1 as above; *sum is the
 *               workload checksum over the answers (value, or 0 when absent)
 *   int     GortClear(int h)                the clear idiom (runtime.mapclear)
 *   int     GortFree(int h)                 drops the table's reference; no GC
 *   void    GortGC(void)                    runtime.GC() + debug.FreeOSMemory()
 *   void    GortGCOnly(void)                runtime.GC(): what every sample is read after
 *   int     GortRebuild(int h)              m2 := make(map, len(m)); copy; the handle
 *               now names m2 and m is garbage (the remedy "rebuild the map")
 *   int     GortGCCost(int kind, uint64_t n, int gcs, gort_gccost *out)
 *               builds a map[uint64]T (GORT_VALUES_INLINE) or map[uint64]*T
 *               (GORT_VALUES_POINTER) of n entries, T 64 bytes, times gcs
 *               forced GCs with it live, drops it; 0, or -1 for a bad argument
 *   void    GortMemStats(gort_memstats *out)   runtime.ReadMemStats
 *   int     GortKeyStream(uint64_t seed, int dist, uint64_t lo, uint64_t n,
 *                         uint64_t *keys, uint64_t *vals)
 *               keys lo..lo+n-1 and their values as Go computes them, so
 *               the harness can hold Go's stream against C's
 *   int     GortVersion(char *buf, int n)   runtime.Version(), NUL-terminated;
 *               returns its whole length (>= n: cut), as snprintf does
 *
 * The int returns are 0 on success, -1 for a bad handle or argument.
 */
#ifndef MB_GORT_H
#define MB_GORT_H

#include <stdint.h>

/* The fields of Go's runtime.MemStats the memory phases report (bytes,
 * except num_gc).  See runtime/mstats.go for their exact meaning:
 * heap_inuse counts in-use spans (whole spans, not objects), heap_idle the
 * spans with nothing in them, heap_released the part of heap_idle given back
 * to the OS, heap_sys = heap_inuse + heap_idle. */
typedef struct gort_memstats {
    uint64_t heap_alloc;     /* bytes of live and not-yet-swept heap objects */
    uint64_t heap_inuse;     /* bytes in spans with at least one object */
    uint64_t heap_idle;      /* bytes in spans with no objects */
    uint64_t heap_released;  /* of heap_idle: returned to the OS */
    uint64_t heap_sys;       /* heap address space obtained from the OS */
    uint64_t sys;            /* everything the runtime obtained from the OS */
    uint64_t num_gc;         /* completed GC cycles */
    uint64_t pause_total_ns; /* cumulative stop-the-world pause time */
    double gc_cpu_fraction;  /* share of CPU time the GC used since the program started */
} gort_memstats;

/* GortGCCost's answer: forced GCs with a live map of n entries whose values
 * are a 64-byte T inline (map[uint64]T) or pointers to one (map[uint64]*T). */
typedef struct gort_gccost {
    uint64_t entries;        /* len(m), checked */
    uint64_t value_bytes;    /* sizeof T */
    uint64_t forced_gcs;     /* runtime.GC() calls timed */
    double gc_ns_median;     /* wall time of one of them */
    double gc_ns_min;
    uint64_t pause_total_ns; /* PauseTotalNs over them */
    double gc_cpu_fraction;  /* GCCPUFraction after them */
    uint64_t heap_inuse;     /* HeapInuse with the map live */
} gort_gccost;

enum { GORT_VALUES_INLINE = 0, GORT_VALUES_POINTER = 1 };

/* Key distributions: the values of mb_dist in workloads/workload.h. */
enum { GORT_DIST_UNIFORM = 0, GORT_DIST_SEQUENTIAL = 1 };

#endif
