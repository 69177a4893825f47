/*
 * gothreads.c — `mapbench go-threads-case`: mixed_rw on the real Go maps
 * under threads (issue 14): sync.Map, a map behind one sync.RWMutex, and a
 * sharded Go map (impls/peers/gort/threads.go), with T goroutines and
 * GOMAXPROCS = T, so their figures sit beside the C designs' rows.
 *
 * The case, as `time` runs a C map's mixed_rw case (timing.c):
 *   - the map holds keys [0, n) (inserted inside Go from stream.go, the C
 *     stream ported); the first 1000 keys and values are compared with C's;
 *   - an untimed lookup pass over [0, n) inside Go, verified here (every key
 *     found, the sum of the values C's): a sync.Map promotes its dirty map;
 *   - per repetition: max(n, MB_OPS_PER_REPETITION) ops split between the
 *     goroutines, scripts built before the gate (mixed.c's, ported); the
 *     checksum Go returns is held against the one C computes from its own
 *     scripts (mb_mixed_expected), and the entry count against n;
 *   - beside each repetition, the ceiling: the same scripts in C threads on
 *     a read-only swiss (mb_run_mixed_ceiling), as for the C maps.
 * Every repetition prints an S record (time's columns, ceiling included);
 * a wrong answer prints an E record and exits 1, never a time.  Exit 3
 * (MB_CHILD_EXIT_NOT_BUILT) when the Go peer is not built.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../impls/peers/gort/gort.h"
#include "probe.h"

#ifndef MB_GORT_LIB
#define MB_GORT_LIB "" /* Go was not found when configuring */
#endif

#define GT_KEY_CHECK 1000 /* keys compared with C's before the case */

/* threads.go's entry points (and the key stream of gort.go). */
typedef struct gt_api {
    int (*new_map)(int kind, uint64_t seed, int dist, uint64_t n);
    int64_t (*len)(int h);
    int (*free_map)(int h);
    int64_t (*lookup)(int h, uint64_t seed, int dist, uint64_t lo, uint64_t hi, uint64_t *sum);
    int (*mixed)(int h, uint64_t seed, int dist, uint64_t n, int threads, uint64_t ops_per_thread,
                 int lookup_percent, uint64_t *wall_ns, uint64_t *checksum);
    int (*key_stream)(uint64_t seed, int dist, uint64_t lo, uint64_t n, uint64_t *keys,
                      uint64_t *vals);
} gt_api;

typedef struct gt_args {
    const mb_go_thread_map *map;
    mb_dist dist;
    size_t n;
    uint64_t seed;
    unsigned threads, lookup_percent, reps;
} gt_args;

/* Loads libmbgort.so ($MB_GORT_LIB, else the built one).  Returns 0, or -1
 * with err.  The library stays loaded: a Go runtime cannot be unloaded. */
static int gt_load(gt_api *api, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        size_t offset;
    } syms[] = {
        { "GortThreadsNew", offsetof(gt_api, new_map) },
        { "GortThreadsLen", offsetof(gt_api, len) },
        { "GortThreadsFree", offsetof(gt_api, free_map) },
        { "GortThreadsLookup", offsetof(gt_api, lookup) },
        { "GortThreadsMixed", offsetof(gt_api, mixed) },
        { "GortKeyStream", offsetof(gt_api, key_stream) },
    };
    const char *env = getenv("MB_GORT_LIB"), *path = env && *env ? env : MB_GORT_LIB;
    if (!*path) {
        snprintf(err, errlen, "go was not found when mapbench was configured");
        return -1;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, errlen, "%s", dlerror());
        return -1;
    }
    for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
        void *p = dlsym(lib, syms[i].name);
        if (!p) {
            snprintf(err, errlen, "%s: no symbol %s", path, syms[i].name);
            return -1;
        }
        memcpy((char *)api + syms[i].offset, &p, sizeof p); /* POSIX: data -> function pointer */
    }
    return 0;
}

static void gt_parse(gt_args *a, int argc, char **argv)
{
    const mb_command *cmd = &mb_command_go_threads_case;
    const char *v;
    *a = (gt_args){ NULL, MB_DIST_UNIFORM, 0, MB_DEFAULT_SEED, 1, MB_MIX_DEFAULT_LOOKUP_PERCENT, 1 };
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], cmd);
        if ((v = mb_flag_value(argc, argv, &i, "--impl", cmd))) {
            if (!(a->map = mb_go_thread_map_find(v)))
                mb_usage_error(cmd, "no Go map named '%s' (go_syncmap, go_rwmutex_map,"
                               " go_sharded_map)", v);
        } else if ((v = mb_flag_value(argc, argv, &i, "--n", cmd))) {
            a->n = mb_parse_count(v, "--n", cmd);
        } else if ((v = mb_flag_value(argc, argv, &i, "--dist", cmd))) {
            int d = mb_dist_parse(v);
            if (d != MB_DIST_UNIFORM && d != MB_DIST_SEQUENTIAL)
                mb_usage_error(cmd, "key distribution '%s': the Go side has uniform and"
                               " sequential", v);
            a->dist = (mb_dist)d;
        } else if ((v = mb_flag_value(argc, argv, &i, "--seed", cmd))) {
            a->seed = mb_parse_count(v, "--seed", cmd);
        } else if ((v = mb_flag_value(argc, argv, &i, "--threads", cmd))) {
            a->threads = (unsigned)mb_parse_count(v, "--threads", cmd);
            if (a->threads < 1 || a->threads > 64)
                mb_usage_error(cmd, "--threads wants 1..64");
        } else if ((v = mb_flag_value(argc, argv, &i, "--mix", cmd))) {
            int m = mb_mix_parse(v);
            if (m < 0)
                mb_usage_error(cmd, "--mix wants read-only, write-only or a lookup percent"
                               " 0..100, got '%s'", v);
            a->lookup_percent = (unsigned)m;
        } else if ((v = mb_flag_value(argc, argv, &i, "--reps", cmd))) {
            a->reps = (unsigned)mb_parse_count(v, "--reps", cmd);
            if (a->reps < 1 || a->reps > 1000)
                mb_usage_error(cmd, "--reps wants 1..1000");
        } else {
            mb_usage_error(cmd, "unknown argument '%s'", argv[i]);
        }
    }
    if (!a->map || a->n < 1)
        mb_usage_error(cmd, "needs --impl NAME and --n N (N >= 1)");
}

/* Prints the E record and returns the exit status of a wrong answer. */
static int gt_fail(const char *name, const char *what)
{
    printf("E\t%s\t%s\n", name, what);
    fflush(stdout);
    fprintf(stderr, "mapbench: FAILED %s: %s\n", name, what);
    return 1;
}

/* The first keys and the warm-up pass.  Returns NULL, or what is wrong. */
static const char *gt_check_and_warm(const gt_api *g, int h, const mb_stream *s, size_t n)
{
    static uint64_t keys[GT_KEY_CHECK], vals[GT_KEY_CHECK];
    if (g->key_stream(s->seed, (int)s->dist, 0, GT_KEY_CHECK, keys, vals) != 0)
        return "the Go peer rejected the key distribution";
    for (uint64_t i = 0; i < GT_KEY_CHECK; i++)
        if (keys[i] != mb_key_at(s, i) || vals[i] != mb_val_for(keys[i]))
            return "keys: Go's key stream is not C's";
    uint64_t sum = 0, expected = 0;
    if (g->len(h) != (int64_t)n)
        return "wrong entry count after the insert";
    if (g->lookup(h, s->seed, (int)s->dist, 0, n, &sum) != (int64_t)n)
        return "warm-up lookups: a key is missing";
    for (size_t i = 0; i < n; i++)
        expected += mb_val_for(mb_key_at(s, i));
    return sum == expected ? NULL : "warm-up lookups: checksum mismatch";
}

/* One repetition of the map and its ceiling; prints the S record.
 * Returns NULL, or what is wrong. */
static const char *gt_repetition(const gt_api *g, int h, const mb_stream *s, const gt_args *a,
                                 const mb_map_ops *cops, void *cm, const char *name, unsigned rep)
{
    size_t total = a->n > MB_OPS_PER_REPETITION ? a->n : MB_OPS_PER_REPETITION;
    mb_mixed_spec spec = { a->threads, total / a->threads, a->lookup_percent };
    uint64_t wall = 0, ceil_ns = 0, sum = 0, expected;
    if (mb_mixed_expected(s, a->n, &spec, 0, &expected) != 0)
        return "out of memory for the expected checksum";
    if (g->mixed(h, s->seed, (int)s->dist, a->n, (int)a->threads, spec.ops_per_thread,
                 (int)a->lookup_percent, &wall, &sum) != 0)
        return "the Go peer rejected the case";
    if (sum != expected)
        return "checksum mismatch";
    if (g->len(h) != (int64_t)a->n)
        return "wrong entry count after the phase";
    mb_phase_result cr = mb_run_mixed_ceiling(cops, cm, s, a->n, &spec, &ceil_ns);
    if (cr.error)
        return cr.error;
    if (cr.checksum != cr.expected)
        return "ceiling run: checksum mismatch";
    double ops = (double)a->threads * (double)spec.ops_per_thread;
    mb_rec_out o;
    mb_rec_begin(&o, stdout, &mb_rec_sample);
    mb_rec_text(&o, name);
    mb_rec_int(&o, rep);
    mb_rec_int(&o, 1);
    mb_rec_real(&o, (double)wall / ops);
    mb_rec_real(&o, (double)ceil_ns / ops);
    mb_rec_end(&o);
    return NULL;
}

static int mb_cmd_go_threads_case(int argc, char **argv)
{
    gt_args a;
    gt_parse(&a, argc, argv);
    gt_api g;
    char err[MB_ERR_LEN], name[192], mix[16];
    if (gt_load(&g, err, sizeof err) != 0) {
        fprintf(stderr, "mapbench: go-threads-case: the Go peer is not built (%s); install"
                " golang-go (ci/packages.txt) and rebuild, or point MB_GORT_LIB at"
                " libmbgort.so\n", err);
        return MB_CHILD_EXIT_NOT_BUILT;
    }
    snprintf(name, sizeof name, "%s/mixed_rw/u64->u64/%s/n:%zu/hint:0/threads:%u/mix:%s",
             a.map->impl, mb_dist_name(a.dist), a.n, a.threads,
             mb_mix_name(a.lookup_percent, mix, sizeof mix));
    mb_stream s = { .dist = a.dist, .seed = a.seed, .key_bytes = 8, .val_bytes = 8 };
    printf("# go-threads-case: %s, GOMAXPROCS = %u goroutines\n", a.map->traits, a.threads);
    mb_rec_header(stdout, &mb_rec_sample);

    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc ca = mb_counter_alloc(&ctr);
    const mb_map_ops *cops = NULL;
    const char *e = NULL;
    void *cm = mb_ceiling_map_build(&ca, &s, a.n, &cops, &e);
    if (!cm)
        return gt_fail(name, e);
    int h = g.new_map(a.map->kind, a.seed, (int)a.dist, a.n);
    if (h < 1) {
        cops->destroy(cm);
        return gt_fail(name, "the Go peer could not make the map");
    }
    e = gt_check_and_warm(&g, h, &s, a.n);
    for (unsigned r = 0; r < a.reps && !e; r++)
        e = gt_repetition(&g, h, &s, &a, cops, cm, name, r);
    g.free_map(h);
    cops->destroy(cm);
    return e ? gt_fail(name, e) : 0;
}

const mb_command mb_command_go_threads_case = {
    "go-threads-case",
    "mixed_rw on the real Go maps under threads (sync.Map, RWMutex map, sharded)",
    "usage: mapbench go-threads-case --impl go_syncmap|go_rwmutex_map|go_sharded_map --n N\n"
    "                                [--threads T] [--mix M] [--reps R]\n"
    "                                [--dist uniform|sequential] [--seed S]\n"
    "  mixed_rw's scripts (mix M: read-only, write-only or a lookup percent; default 90)\n"
    "  on a Go map shared by T goroutines (GOMAXPROCS = T), inside libmbgort.so\n"
    "  (impls/peers/gort/threads.go).  The map holds keys [0, N); an untimed verified\n"
    "  lookup pass runs first; each repetition's checksum is held against C's and\n"
    "  the ceiling (the same scripts, C threads, read-only swiss) runs beside it.\n"
    "  Prints time's S records.  MB_GORT_LIB=PATH loads another libmbgort.so.\n"
    "  Exit 1 on a wrong answer (an E record), 3 when Go was not built.\n",
    mb_cmd_go_threads_case,
};
