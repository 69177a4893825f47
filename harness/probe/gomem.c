/*
 * gomem.c — `mapbench go-mem-case`: mem-case's phase script on the real Go
 * runtime map, so the gomap model can be held against the real thing on
 * identical work.
 *
 * The map is a Go map[uint64]uint64 (blueprint u64->u64 only) inside
 * libmbgort.so, a Go c-shared library (impls/peers/gort, Debian golang-go).
 * The library is dlopen()ed, not linked: mapbench builds and runs without Go,
 * and then this command says the peer is not built and exits 3
 * (MB_CHILD_EXIT_NOT_BUILT: run reports "not measured").  Its path is
 * $MB_GORT_LIB, else the one CMake built (MB_GORT_LIB, compiled in).
 *
 * Each phase is one call into Go, which generates the phase's keys from the
 * same stream as workloads/workload.c (ported in impls/peers/gort/stream.go;
 * the first 1000 keys and values are compared with C's before the script).
 * The script (memscript.c), phase names and the "M" line are mem-case's:
 *
 *   start               empty map made (make(map[uint64]uint64))
 *   insert              keys [0, n)
 *   delete_half         keys [0, n/2) deleted
 *   delete_all          keys [n/2, n) deleted: the map is empty
 *   trim                runtime.GC() + debug.FreeOSMemory()
 *   reinsert            n new keys [n, 2n)
 *   clear               the clear idiom, compiled to runtime.mapclear
 *   trim_after_clear    runtime.GC() + debug.FreeOSMemory()
 *   rebuild             m2 := make(map, len(m)), every entry copied, the
 *                       handle moved to m2: m is garbage
 *   trim_after_rebuild  runtime.GC() + debug.FreeOSMemory()
 *   refill              keys [n, 2n) into m2
 *   delete_all_again    keys [n, 2n) deleted
 *   destroy             m = nil: the library drops its reference to the map;
 *                       the sample (after its GC, as every sample) shows it
 *                       freed, the G line's before-GC values show the garbage
 *   trim_after_destroy  runtime.GC() + debug.FreeOSMemory(): pages to the OS
 *
 * Every sample is read after a runtime.GC() (GortGCOnly, not in phase_ns):
 * without it the after-insert sample counts the grow's old bucket arrays,
 * garbage the next cycle frees (63.9 MB where the live heap is 40.5 MB at
 * 1e6).  The G line keeps HeapAlloc/HeapInuse from just before that GC, the
 * GC's wall time and PauseTotalNs.  After the script, J lines: the GC cost
 * of a live map[uint64]T against map[uint64]*T of n entries (GortGCCost).
 *
 * What the columns mean here (Go has no per-map byte count):
 *   map_live_bytes      Go's HeapInuse.  The map's own bytes cannot be told
 *                       apart from the rest of the Go heap; with nothing but
 *                       the map in it, HeapInuse is the map plus the
 *                       runtime's small floor (see the start sample).
 *   map_peak_bytes      the highest HeapInuse at any sample so far (between
 *                       phases: a peak inside a phase is not seen)
 *   alloc_in_use_bytes  HeapInuse
 *   alloc_held_bytes    HeapSys - HeapReleased: heap the runtime holds and
 *                       has not given back to the OS
 *   rss/anon/faults/ns  as in mem-case (the whole process: C and Go)
 *   capacity, tombstones, overflow   NA
 * and after each "M" line a "G" line with the runtime.MemStats it came from:
 *   G phase_index HeapAlloc HeapInuse HeapIdle HeapReleased HeapSys NumGC Sys
 *     HeapAlloc-before-GC HeapInuse-before-GC sample_gc_ns PauseTotalNs
 *
 * Checks, outside the timed region as mem-case's check(): an insert phase
 * must find every key new, a delete phase every key present; after every
 * phase len(m) is right and lookups over keys [0, 2n) find exactly the live
 * range with the right values (workload.c's lookup checksum).  A failure
 * prints an "E" line and the exit status is 1.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../../impls/peers/gort/gort.h"
#include "probe.h"


_Static_assert((int)MB_DIST_UNIFORM == GORT_DIST_UNIFORM &&
                   (int)MB_DIST_SEQUENTIAL == GORT_DIST_SEQUENTIAL,
               "gort.h's distributions are mb_dist's");

#define GOMEM_KEY_CHECK 1000 /* keys compared with C's before every script */

/* libmbgort.so's entry points (gort.h says what each does). */
typedef struct gomem_api {
    int (*new_map)(uint64_t hint);
    int64_t (*len)(int h);
    int64_t (*insert_range)(int h, uint64_t seed, int dist, uint64_t lo, uint64_t hi);
    int64_t (*delete_range)(int h, uint64_t seed, int dist, uint64_t lo, uint64_t hi);
    int64_t (*lookup_range)(int h, uint64_t seed, int dist, uint64_t lo, uint64_t hi,
                            uint64_t *sum);
    int (*clear)(int h);
    int (*free_map)(int h);
    void (*gc)(void);
    void (*gc_only)(void);
    int (*rebuild)(int h);
    int (*gc_cost)(int kind, uint64_t n, int gcs, gort_gccost *out);
    void (*mem_stats)(gort_memstats *out);
    int (*key_stream)(uint64_t seed, int dist, uint64_t lo, uint64_t n, uint64_t *keys,
                      uint64_t *vals);
    int (*version)(char *buf, int n);
} gomem_api;

/* Loads the library and fills api.  Returns 0, or -1 with err filled.
 * The library stays loaded: a Go runtime cannot be unloaded. */
static int gomem_load(gomem_api *api, char *err, size_t errlen)
{
    static const mb_gort_sym syms[] = {
        { "GortNew", offsetof(gomem_api, new_map) },
        { "GortLen", offsetof(gomem_api, len) },
        { "GortInsertRange", offsetof(gomem_api, insert_range) },
        { "GortDeleteRange", offsetof(gomem_api, delete_range) },
        { "GortLookupRange", offsetof(gomem_api, lookup_range) },
        { "GortClear", offsetof(gomem_api, clear) },
        { "GortFree", offsetof(gomem_api, free_map) },
        { "GortGC", offsetof(gomem_api, gc) },
        { "GortGCOnly", offsetof(gomem_api, gc_only) },
        { "GortRebuild", offsetof(gomem_api, rebuild) },
        { "GortGCCost", offsetof(gomem_api, gc_cost) },
        { "GortMemStats", offsetof(gomem_api, mem_stats) },
        { "GortKeyStream", offsetof(gomem_api, key_stream) },
        { "GortVersion", offsetof(gomem_api, version) },
    };
    return mb_gort_load(api, syms, sizeof syms / sizeof *syms, err, errlen);
}

/* ---- samples ------------------------------------------------------------------ */

/* Prints the "M" line of one sample (mem-case's columns) and its "G" line.
 * Every sample is read after a runtime.GC() (outside the phase's time): what
 * the map holds, not the garbage its growth left for the next cycle; the G
 * line keeps HeapAlloc and HeapInuse from just before that GC, and its time.
 * *peak_inuse is the highest HeapInuse seen so far (before the GCs, so growth
 * garbage counts: it was held), updated here. */
static void gomem_sample(const gomem_api *g, int index, const char *phase, long long entries,
                      uint64_t phase_ns, uint64_t *peak_inuse)
{
    gort_memstats ms, pre;
    struct rusage ru;

    g->mem_stats(&pre);
    if (pre.heap_inuse > *peak_inuse)
        *peak_inuse = pre.heap_inuse;
    uint64_t t0 = mb_now_ns();
    g->gc_only();
    uint64_t gc_ns = mb_now_ns() - t0;
    g->mem_stats(&ms);
    getrusage(RUSAGE_SELF, &ru);
    mb_smaps sm = mb_read_smaps();
    if (ms.heap_inuse > *peak_inuse)
        *peak_inuse = ms.heap_inuse;

    mb_rec_out o;
    mb_rec_begin(&o, stdout, &mb_rec_mem);
    mb_rec_int(&o, index);
    mb_rec_text(&o, phase);
    mb_rec_count(&o, entries);
    mb_rec_count(&o, (long long)ms.heap_inuse);                      /* map_live_bytes */
    mb_rec_count(&o, (long long)*peak_inuse);                        /* map_peak_bytes */
    mb_rec_count(&o, (long long)ms.heap_inuse);                      /* alloc_in_use_bytes */
    mb_rec_count(&o, (long long)(ms.heap_sys - ms.heap_released));   /* alloc_held_bytes */
    mb_rec_count(&o, sm.rss_bytes);
    mb_rec_count(&o, sm.anon_bytes);
    mb_rec_count(&o, ru.ru_minflt);
    mb_rec_count(&o, (long long)phase_ns);
    for (int k = 0; k < 5; k++)
        mb_rec_na(&o); /* capacity, tombstones, overflow, objects, peak */
    mb_rec_end(&o);
    const unsigned long long g_vals[] = { ms.heap_alloc, ms.heap_inuse, ms.heap_idle,
                                          ms.heap_released, ms.heap_sys, ms.num_gc, ms.sys };
    mb_rec_begin(&o, stdout, &mb_rec_go);
    mb_rec_int(&o, index);
    for (size_t k = 0; k < sizeof g_vals / sizeof *g_vals; k++)
        mb_rec_int(&o, (long long)g_vals[k]);
    mb_rec_int(&o, (long long)pre.heap_alloc);
    mb_rec_int(&o, (long long)pre.heap_inuse);
    mb_rec_int(&o, (long long)gc_ns);
    mb_rec_int(&o, (long long)ms.pause_total_ns);
    mb_rec_end(&o);
}

/* The GC cost of a live map[uint64]T against map[uint64]*T (T 64 bytes) of n
 * entries: one J line each.  Returns NULL, or what went wrong. */
static const char *gomem_gc_cost(const gomem_api *g, size_t n)
{
    static const char *const kinds[] = { [GORT_VALUES_INLINE] = "inline",
                                         [GORT_VALUES_POINTER] = "pointer" };
    for (int k = GORT_VALUES_INLINE; k <= GORT_VALUES_POINTER; k++) {
        gort_gccost c;
        if (g->gc_cost(k, n, 5, &c) != 0 || c.entries != n)
            return "the GC-cost map lost or changed an entry";
        mb_rec_out o;
        mb_rec_begin(&o, stdout, &mb_rec_gccost);
        mb_rec_text(&o, kinds[k]);
        mb_rec_int(&o, (long long)c.entries);
        mb_rec_int(&o, (long long)c.value_bytes);
        mb_rec_int(&o, (long long)c.forced_gcs);
        mb_rec_real(&o, c.gc_ns_median);
        mb_rec_real(&o, c.gc_ns_min);
        mb_rec_int(&o, (long long)c.pause_total_ns);
        mb_rec_real(&o, c.gc_cpu_fraction);
        mb_rec_int(&o, (long long)c.heap_inuse);
        mb_rec_end(&o);
    }
    return NULL;
}

/* ---- checks ------------------------------------------------------------------- */

/* workload.c's wl_mix (and stream.go's mix): one answer into a checksum. */
static uint64_t gomem_mix(uint64_t acc, uint64_t x)
{
    return (acc ^ x) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
}

/* Returns NULL when the first GOMEM_KEY_CHECK keys and values Go generates are
 * C's, else what differs (into err). */
static const char *gomem_check_keys(const gomem_api *g, const mb_stream *s, char *err, size_t errlen)
{
    static uint64_t keys[GOMEM_KEY_CHECK], vals[GOMEM_KEY_CHECK];
    if (g->key_stream(s->seed, (int)s->dist, 0, GOMEM_KEY_CHECK, keys, vals) != 0)
        return "the Go peer rejected the key distribution";
    for (uint64_t i = 0; i < GOMEM_KEY_CHECK; i++) {
        uint64_t k = mb_key_at(s, i);
        if (keys[i] != k || vals[i] != mb_val_for(k)) {
            mb_errf(err, errlen, "key %llu: Go generates %llu -> %llu, C %llu -> %llu",
                     (unsigned long long)i, (unsigned long long)keys[i],
                     (unsigned long long)vals[i], (unsigned long long)k,
                     (unsigned long long)mb_val_for(k));
            return err;
        }
    }
    return NULL;
}

/* Returns NULL when map h holds exactly keys [live_lo, live_hi) of the
 * stream among keys [0, 2n), with their values; else what is wrong. */
static const char *gomem_verify(const gomem_api *g, int h, const mb_stream *s, size_t n,
                             size_t live_lo, size_t live_hi)
{
    uint64_t sum = 0, expected = 0;
    if (g->len(h) != (int64_t)(live_hi - live_lo))
        return "wrong entry count after the phase";
    if (g->lookup_range(h, s->seed, (int)s->dist, live_lo, live_hi, &sum) !=
        (int64_t)(live_hi - live_lo))
        return "a live key is missing";
    for (size_t i = live_lo; i < live_hi; i++)
        expected = gomem_mix(expected, mb_val_for(mb_key_at(s, i)));
    if (sum != expected)
        return "checksum mismatch (wrong values)";
    if (g->lookup_range(h, s->seed, (int)s->dist, 0, live_lo, &sum) != 0 ||
        g->lookup_range(h, s->seed, (int)s->dist, live_hi, 2 * n, &sum) != 0)
        return "a removed or never-inserted key is found";
    return NULL;
}

/* --print-keys K: keys 0..K-1 from Go and from C, side by side
 * ("K i go_key c_key go_val c_val").  Returns 0 when every pair is equal. */
static int gomem_print_keys(const gomem_api *g, const mb_stream *s, size_t count)
{
    uint64_t *keys = malloc(count * sizeof *keys), *vals = malloc(count * sizeof *vals);
    int bad = 0;
    if (!keys || !vals || g->key_stream(s->seed, (int)s->dist, 0, count, keys, vals) != 0) {
        fprintf(stderr, "mapbench: go-mem-case: cannot get %zu keys from the Go peer\n", count);
        free(keys), free(vals);
        return 1;
    }
    printf("#\ti\tgo_key\tc_key\tgo_val\tc_val\n");
    for (size_t i = 0; i < count; i++) {
        uint64_t k = mb_key_at(s, i);
        bad |= keys[i] != k || vals[i] != mb_val_for(k);
        printf("K\t%zu\t%llu\t%llu\t%llu\t%llu\n", i, (unsigned long long)keys[i],
               (unsigned long long)k, (unsigned long long)vals[i],
               (unsigned long long)mb_val_for(k));
    }
    if (bad)
        printf("E\tgort\tkeys: Go's stream differs from C's\n");
    free(keys), free(vals);
    return bad;
}

/* ---- the script ------------------------------------------------------------------ */

static int gomem_fail(const char *phase, size_t n, const char *err)
{
    printf("E\tgort\t%s: %s\n", phase, err);
    fflush(stdout);
    fprintf(stderr, "mapbench: gort n=%zu phase %s: %s\n", n, phase, err);
    return 1;
}

/* go-mem-case's arguments.  Exits on --help and on a usage error. */
static void gomem_args(int argc, char **argv, mb_dist *dist, size_t *n, uint64_t *seed,
                       size_t *print_keys)
{
    const mb_command *cmd = &mb_command_go_mem_case;
    for (int i = 2; i < argc; i++) {
        const char *v;
        mb_help_exit(argv[i], cmd);
        if ((v = mb_flag_value(argc, argv, &i, "--n", cmd))) {
            *n = mb_parse_count(v, "--n", cmd);
        } else if ((v = mb_flag_value(argc, argv, &i, "--dist", cmd))) {
            int d = mb_dist_parse(v);
            if (d != MB_DIST_UNIFORM && d != MB_DIST_SEQUENTIAL)
                mb_usage_error(cmd, "key distribution '%s': the Go side has uniform"
                               " and sequential", v);
            *dist = (mb_dist)d;
        } else if ((v = mb_flag_value(argc, argv, &i, "--seed", cmd))) {
            *seed = mb_parse_count(v, "--seed", cmd);
        } else if ((v = mb_flag_value(argc, argv, &i, "--blueprint", cmd))) {
            if (strcmp(v, "u64->u64") != 0)
                mb_usage_error(cmd, "the Go peer supports blueprint u64->u64 only, got '%s'", v);
        } else if ((v = mb_flag_value(argc, argv, &i, "--print-keys", cmd))) {
            *print_keys = mb_parse_count(v, "--print-keys", cmd);
            if (*print_keys < 1)
                mb_usage_error(cmd, "--print-keys wants K >= 1");
        } else {
            mb_usage_error(cmd, "unknown argument '%s'", argv[i]);
        }
    }
    if (!*print_keys && *n < 2)
        mb_usage_error(cmd, "needs --n N (N >= 2)");
}

/* Runs one step of the script inside Go on map h and checks it.  Returns
 * NULL, or what is wrong; *dt is the step's wall time. */
static const char *gomem_step(const gomem_api *g, int h, const mb_stream *s, size_t n,
                              const mb_mem_step *step, uint64_t *dt)
{
    size_t lo = mb_mem_pos(step->from, n), hi = mb_mem_pos(step->to, n);
    int64_t got = 0;
    uint64_t t0 = mb_now_ns();
    switch (step->op) {
    case MB_MEM_INSERT:
        got = g->insert_range(h, s->seed, (int)s->dist, lo, hi);
        break;
    case MB_MEM_DELETE:
        got = g->delete_range(h, s->seed, (int)s->dist, lo, hi);
        break;
    case MB_MEM_CLEAR:
        got = g->clear(h);
        break;
    case MB_MEM_TRIM:
        g->gc();
        break;
    case MB_MEM_REBUILD:
        got = g->rebuild(h);
        break;
    }
    *dt = mb_now_ns() - t0;
    if (got < 0)
        return "the Go peer rejected the call";
    if (step->op == MB_MEM_INSERT && got != (int64_t)(hi - lo))
        return "an inserted key was already present (checksum mismatch)";
    if (step->op == MB_MEM_DELETE && got != (int64_t)(hi - lo))
        return "a deleted key was not found (checksum mismatch)";
    return gomem_verify(g, h, s, n, mb_mem_pos(step->live_from, n), mb_mem_pos(step->live_to, n));
}

/* The script (memscript.c) on a fresh Go map, a sample after every step. */
static int gomem_run_script(const gomem_api *g, const mb_stream *s, size_t n)
{
    uint64_t peak = 0, dt;
    int idx = 0;
    g->gc(); /* the clean start mem-case gets from malloc_trim(0) */
    malloc_trim(0);
    uint64_t t0 = mb_now_ns();
    int h = g->new_map(0);
    gomem_sample(g, idx++, "start", g->len(h), mb_now_ns() - t0, &peak);
    for (size_t k = 0; k < mb_mem_script_len; k++) {
        const mb_mem_step *step = &mb_mem_script[k];
        const char *e = gomem_step(g, h, s, n, step, &dt);
        if (e)
            return gomem_fail(step->name, n, e);
        gomem_sample(g, idx++, step->name, g->len(h), dt, &peak);
    }
    t0 = mb_now_ns();
    int rc = g->free_map(h); /* garbage now; collected at the next GC cycle */
    dt = mb_now_ns() - t0;
    if (rc != 0 || g->len(h) != -1)
        return gomem_fail("destroy", n, "the Go peer did not drop the map");
    gomem_sample(g, idx++, "destroy", 0, dt, &peak);
    t0 = mb_now_ns();
    g->gc();
    gomem_sample(g, idx++, "trim_after_destroy", 0, mb_now_ns() - t0, &peak);
    const char *e = gomem_gc_cost(g, n); /* after the script: its heap is gone */
    return e ? gomem_fail("gc_cost", n, e) : 0;
}

static int mb_cmd_go_mem_case(int argc, char **argv)
{
    mb_dist dist = MB_DIST_UNIFORM;
    size_t n = 0, print_keys = 0;
    uint64_t seed = MB_DEFAULT_SEED; /* mem-case's default */
    gomem_args(argc, argv, &dist, &n, &seed, &print_keys);

    gomem_api g;
    char err[MB_ERR_LEN];
    if (gomem_load(&g, err, sizeof err) != 0) {
        fprintf(stderr,
                "mapbench: go-mem-case: the Go peer is not built (%s); install golang-go "
                "(ci/packages.txt) and rebuild, or point MB_GORT_LIB at libmbgort.so\n",
                err);
        return MB_CHILD_EXIT_NOT_BUILT;
    }
    mb_stream s = { .dist = dist, .seed = seed, .key_bytes = 8, .val_bytes = 8 };
    if (print_keys)
        return gomem_print_keys(&g, &s, print_keys);

    char version[64];
    mb_mark_cut(version, sizeof version, g.version(version, sizeof version));
    const char *gogc = getenv("GOGC"), *limit = getenv("GOMEMLIMIT");
    printf("# gort: the real Go runtime map, map[uint64]uint64, %s, %s, GOGC=%s GOMEMLIMIT=%s\n",
           version, mb_gort_lib_path(), gogc ? gogc : "unset", limit ? limit : "unset");
    printf("# map_live_bytes = alloc_in_use_bytes = Go HeapInuse (the map's own bytes cannot be "
           "told apart from the Go heap); map_peak_bytes = highest HeapInuse at a sample; "
           "alloc_held_bytes = HeapSys - HeapReleased; every sample after a runtime.GC() "
           "(the G line keeps the values before it); trim = runtime.GC() + "
           "debug.FreeOSMemory(); rebuild = m2 := make(map, len(m)) + copy, m dropped; "
           "destroy = m = nil (its sample: after the GC)\n");
    mb_rec_header(stdout, &mb_rec_mem);
    mb_rec_header(stdout, &mb_rec_go);
    mb_rec_header(stdout, &mb_rec_gccost);
    if (gomem_check_keys(&g, &s, err, sizeof err))
        return gomem_fail("keys", n, err);
    return gomem_run_script(&g, &s, n);
}

const mb_command mb_command_go_mem_case = {
    "go-mem-case",
    "the memory phase script on the real Go runtime map",
    "usage: mapbench go-mem-case --n N [--dist uniform|sequential] [--seed S]\n"
    "                            [--blueprint u64->u64] [--print-keys K]\n"
    "  mem-case's phase script on the real Go runtime map (map[uint64]uint64 in\n"
    "  libmbgort.so, a Go c-shared library; blueprint u64->u64 only), each phase run\n"
    "  inside Go on the same key stream.  Prints mem-case's M lines, where the map's\n"
    "  bytes are Go's HeapInuse (the map cannot be told apart from the Go heap) and\n"
    "  trim is runtime.GC() + debug.FreeOSMemory(), and after each a G line of\n"
    "  runtime.MemStats (every sample read after a runtime.GC(); the G line keeps the\n"
    "  values before it), then J lines: forced-GC time with a live map of n entries,\n"
    "  pointer values (map[uint64]*T) against inline (map[uint64]T).\n"
    "  --print-keys K prints the first K keys and values as Go and as C generate\n"
    "  them, side by side, and exits (1 if they differ).\n"
    "  MB_GORT_LIB=PATH loads another libmbgort.so.  Exit 3 when Go was not built.\n",
    mb_cmd_go_mem_case,
};
