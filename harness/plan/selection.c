/*
 * selection.c — suites, filters and the expansion of a selection into cases:
 * timed cases, memory cases, the real Go map's cases, latency and churn.
 *
 * The side-runs rule (sel_sizes_for) is written once and every expansion
 * goes through it: the first blueprint and distribution get the full size
 * sweep; the other blueprints and distributions, when the suite has side
 * sizes, get those, varying one thing at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

const mb_blueprint mb_blueprints[] = {
    { "u64->u64", 8, 8, 0 },
    { "u64->64B", 8, 64, 0 },     /* Go's map[int]T with a 64-byte T */
    { "u64->ptr64", 8, 8, 64 },   /* Go's map[int]*T: a pointer to a 64-byte object */
    { "str16->u64", 16, 8, 0 },
    { "str48->u64", 48, 8, 0 },
    { NULL, 0, 0, 0 },
};

const mb_blueprint *mb_blueprint_find(const char *name)
{
    for (const mb_blueprint *b = mb_blueprints; b->name; b++)
        if (strcmp(b->name, name) == 0)
            return b;
    return NULL;
}

static const char *const dist_names[MB_DIST_COUNT_] = {
    "uniform", "sequential", "shuffled", "zipf",
};

const char *mb_dist_name(mb_dist d)
{
    return (unsigned)d < MB_DIST_COUNT_ ? dist_names[d] : "?";
}

int mb_dist_parse(const char *s)
{
    for (int d = 0; d < MB_DIST_COUNT_; d++)
        if (strcmp(s, dist_names[d]) == 0)
            return d;
    return -1;
}

static const char *const hint_names[] = { "none", "right", "small", "big" };

const char *mb_hint_name(mb_hint h)
{
    return (unsigned)h < 4 ? hint_names[h] : "?";
}

int mb_hint_parse(const char *s)
{
    for (int h = 0; h < 4; h++)
        if (strcmp(s, hint_names[h]) == 0)
            return h;
    return -1;
}

size_t mb_hint_size(mb_hint h, size_t n)
{
    switch (h) {
    case MB_HINT_RIGHT:
        return n;
    case MB_HINT_SMALL:
        return n / 4 ? n / 4 : 1;
    case MB_HINT_BIG:
        return 4 * n;
    default:
        return 0;
    }
}

const char *mb_mix_name(unsigned lookup_percent, char *buf, size_t len)
{
    if (lookup_percent == 100)
        return "read-only";
    if (lookup_percent == 0)
        return "write-only";
    snprintf(buf, len, "%u", lookup_percent);
    return buf;
}

int mb_mix_parse(const char *s)
{
    char *end;
    if (strcmp(s, "read-only") == 0)
        return 100;
    if (strcmp(s, "write-only") == 0)
        return 0;
    if (*s < '0' || *s > '9')
        return -1;
    long v = strtol(s, &end, 10);
    if (v > 100)
        return -1;
    if (*end == '%')
        end++;
    else if (*end == '/') { /* "90/10": the write share must complete it to 100 */
        char *w = end + 1;
        long wv = *w >= '0' && *w <= '9' ? strtol(w, &end, 10) : -1;
        if (wv != 100 - v)
            return -1;
    }
    return *end ? -1 : (int)v;
}

const mb_go_thread_map mb_go_thread_maps[] = {
    /* kinds: GortThreadsNew in impls/peers/gort/threads.go */
    { "go_syncmap", 0, "real-go,sync.Map,any-keys-boxed,lock-free-reads-after-promotion,gc-managed" },
    { "go_rwmutex_map", 1, "real-go,map[uint64]uint64+sync.RWMutex,one-lock,gc-managed" },
    { "go_sharded_map", 2, "real-go,64-shards,map[uint64]uint64+sync.RWMutex-each,gc-managed" },
    { NULL, 0, NULL },
};

const mb_go_thread_map *mb_go_thread_map_find(const char *impl)
{
    for (const mb_go_thread_map *g = mb_go_thread_maps; g->impl; g++)
        if (strcmp(g->impl, impl) == 0)
            return g;
    return NULL;
}

/* An ASan build's children cannot run on a preloaded allocator: the ASan
 * runtime must come first and its malloc would shadow the preloaded one.
 * There only glibc is measured (suites drop the others; --allocator refuses
 * them). */
#if defined(__SANITIZE_ADDRESS__)
#define SEL_PRELOAD_OK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SEL_PRELOAD_OK 0
#endif
#endif
#ifndef SEL_PRELOAD_OK
#define SEL_PRELOAD_OK 1
#endif

static void sel_drop_preloaded(mb_selection *sel)
{
    size_t k = 0;
    for (size_t i = 0; i < sel->n_allocators; i++)
        if (SEL_PRELOAD_OK || !mb_allocator_find(sel->allocators[i])->preload)
            sel->allocators[k++] = sel->allocators[i];
    sel->n_allocators = k;
}

static const char *const shrink_names[] = { "never", "low-water" };

const char *mb_shrink_name(mb_shrink_policy p)
{
    return (unsigned)p < 2 ? shrink_names[p] : "?";
}

int mb_shrink_parse(const char *s)
{
    for (int p = 0; p < 2; p++)
        if (strcmp(s, shrink_names[p]) == 0)
            return p;
    return -1;
}

int mb_shrink_phase(mb_phase p)
{
    return p == MB_PHASE_DELETE_ALL || p == MB_PHASE_DELETE_HALF;
}

/* Repetitions per timing process in both suites (3 processes each). */
#define MB_DEFAULT_REPS 2

static void sel_all_impls(mb_selection *sel)
{
    sel->n_impls = 0;
    for (const mb_map_ops *const *p = mb_registry; *p && sel->n_impls < 64; p++)
        if (!((*p)->flags & MB_F_CALIBRATION)) /* instruments run only when named */
            sel->impls[sel->n_impls++] = *p;
}

int mb_selection_suite(mb_selection *sel, const char *suite)
{
    static const size_t quick_sizes[] = { 1000, 100000, 1000000 };
    memset(sel, 0, sizeof *sel);
    sel_all_impls(sel);
    for (int p = 0; p <= MB_PHASE_MIXED_RW; p++) /* the five classic phases and threads */
        sel->phases[sel->n_phases++] = (mb_phase)p;
    sel->seed = MB_DEFAULT_SEED; /* "mapbe" */
    sel->hints[sel->n_hints++] = MB_HINT_NONE;
    sel->hints[sel->n_hints++] = MB_HINT_RIGHT;
    sel->threads[sel->n_threads++] = 1;
    sel->threads[sel->n_threads++] = 2;
    sel->mixes[sel->n_mixes++] = MB_MIX_DEFAULT_LOOKUP_PERCENT; /* quick: 90/10 only (time) */
    sel->allocators[sel->n_allocators++] = "glibc";
    sel->dists[sel->n_dists++] = MB_DIST_UNIFORM;
    /* both policies, for the maps that honour low-water (MB_F_SHRINK) */
    sel->shrinks[sel->n_shrinks++] = MB_SHRINK_NEVER;
    sel->shrinks[sel->n_shrinks++] = MB_SHRINK_LOW_WATER;
    if (strcmp(suite, "quick") == 0) {
        sel->suite = "quick";
        memcpy(sel->sizes, quick_sizes, sizeof quick_sizes);
        sel->n_sizes = 3;
        sel->blueprints[sel->n_blueprints++] = &mb_blueprints[0];
        /* 3 processes x 2: the spread between processes is the noise that
         * matters, and 6 vs 6 samples let the gate's Mann-Whitney test reach
         * time.p (its smallest one-sided p is 1/C(12,6) = 1/924; 3 vs 3
         * could never go below 1/20) */
        sel->reps = MB_DEFAULT_REPS;
        sel->allocators[sel->n_allocators++] = "jemalloc"; /* memory phases: glibc and jemalloc */
        sel_drop_preloaded(sel);
        sel->processes = 3;
        /* memory only: 64-byte values inline (map[int]T) against pointers to
         * them (map[int]*T), at 1e5 under glibc */
        sel->mem_extra[sel->n_mem_extra++] = mb_blueprint_find("u64->64B");
        sel->mem_extra[sel->n_mem_extra++] = mb_blueprint_find("u64->ptr64");
        sel->mem_extra_n = 100000;
        return 0;
    }
    if (strcmp(suite, "full") == 0) {
        sel->suite = "full";
        /* Every axis, sized so that the run takes ~40 min serially and under
         * 25 min at `run --jobs 2` on the 2-core VM (README: the full suite):
         * what is timed runs alone, so timing gets the coarse points and
         * memory (K-wide) the fine ones.
         * Timing: u64->u64 uniform at 16 .. 65536 by x16 with every phase,
         * hint, shrink policy; beyond big_n (65536) only insert (no hint) and
         * lookup_hit, at 1e6 and 3e6 (3e6: insert only). */
        static const size_t timed[] = { 16, 256, 4096, 65536, 1000000, 3000000 };
        for (size_t k = 0; k < sizeof timed / sizeof *timed; k++)
            sel->sizes[sel->n_sizes++] = timed[k];
        sel->big_n = 65536;
        sel->insert_only_n = 1000000;
        /* memory: 16 .. 1e6 at x1.6 (two to three points per doubling, so
         * every resize of every map falls between two points), every
         * allocator and shrink policy */
        for (double n = 16; n < 1e6 && sel->n_mem_sizes < 39; n *= 1.6)
            sel->mem_sizes[sel->n_mem_sizes++] = (size_t)n;
        sel->mem_sizes[sel->n_mem_sizes++] = 1000000;
        /* every other blueprint and distribution at one size, timed and
         * memory (glibc, the first policy): varying one thing at a time */
        sel->side_sizes[0] = 4096;
        sel->n_side_sizes = 1;
        /* threads: every thread count and mix, at one size */
        sel->thread_sizes[sel->n_thread_sizes++] = 65536;
        /* instruction counts (K-wide, deterministic) of every timed case of
         * the sweep (u64->u64 uniform) up to big_n: one of full's default metrics */
        sel->default_icount = 1;
        sel->icount_max_n = 65536;
        sel->icount_main_only = 1;
        for (const mb_blueprint *b = mb_blueprints; b->name; b++)
            sel->blueprints[sel->n_blueprints++] = b;
        for (int d = 1; d < MB_DIST_COUNT_; d++)
            sel->dists[sel->n_dists++] = (mb_dist)d;
        for (int p = MB_PHASE_MIXED_RW + 1; p <= MB_PHASE_REINSERT; p++) /* dependent, cold: by name */
            sel->phases[sel->n_phases++] = (mb_phase)p;
        sel->hints[sel->n_hints++] = MB_HINT_SMALL;
        sel->hints[sel->n_hints++] = MB_HINT_BIG;
        sel->threads[sel->n_threads++] = 4;
        sel->n_mixes = 0; /* every mix: read-only, 90/10, 50/50, write-only */
        sel->mixes[sel->n_mixes++] = 100;
        sel->mixes[sel->n_mixes++] = 90;
        sel->mixes[sel->n_mixes++] = 50;
        sel->mixes[sel->n_mixes++] = 0;
        sel->allocators[sel->n_allocators++] = "jemalloc";
        sel->allocators[sel->n_allocators++] = "mimalloc";
        sel->allocators[sel->n_allocators++] = "tcmalloc";
        sel_drop_preloaded(sel);
        /* 3 processes x 1: the spread between processes, at half quick's
         * samples (3 vs 3 cannot reach the gate's time.p: gate on quick runs) */
        sel->reps = 1;
        sel->processes = 3;
        return 0;
    }
    return -1;
}

/* A comma-separated flag value split in place: at most max items (more is a
 * usage error, never a silent cut). */
typedef struct sel_list {
    char buf[1024], *items[64];
    size_t n;
} sel_list;

/* Returns 1 and fills *l when argv[*i] is flag; 0 when it is not. */
static int sel_list_flag(sel_list *l, size_t max, int argc, char **argv, int *i, const char *flag,
                         const mb_command *cmd)
{
    const char *v = mb_flag_value(argc, argv, i, flag, cmd);
    if (!v)
        return 0;
    if (strlen(v) >= sizeof l->buf)
        mb_usage_error(cmd, "%s list too long", flag);
    strcpy(l->buf, v);
    l->n = 0;
    for (char *save = NULL, *tok = strtok_r(l->buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (l->n == max)
            mb_usage_error(cmd, "%s takes at most %zu values", flag, max);
        for (size_t k = 0; k < l->n; k++) /* a case measured twice is refused now, not */
            if (strcmp(l->items[k], tok) == 0) /* after minutes of measuring */
                mb_usage_error(cmd, "%s lists '%s' twice", flag, tok);
        l->items[l->n++] = tok;
    }
    return 1;
}

/* Refuses a number list holding one value twice ("1000,1e3"). */
static void sel_no_repeat(const size_t *v, size_t n, const char *flag, const mb_command *cmd)
{
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (v[a] == v[b])
                mb_usage_error(cmd, "%s lists %zu twice", flag, v[a]);
}

#define SEL_MAX(array) (sizeof(array) / sizeof *(array))

/* The list flags that choose what is measured.  Returns 1 when argv[*i] was one. */
static int sel_what_flag(mb_selection *sel, int argc, char **argv, int *i, const mb_command *cmd)
{
    sel_list l;
    if (sel_list_flag(&l, SEL_MAX(sel->impls), argc, argv, i, "--impl", cmd)) {
        sel->n_impls = 0;
        for (size_t k = 0; k < l.n; k++) {
            const mb_map_ops *ops = mb_registry_find(l.items[k]);
            if (!ops)
                mb_usage_error(cmd, "no map named '%s' (mapbench list shows them)", l.items[k]);
            sel->impls[sel->n_impls++] = ops;
        }
    } else if (sel_list_flag(&l, SEL_MAX(sel->phases), argc, argv, i, "--phase", cmd)) {
        sel->n_phases = 0;
        for (size_t k = 0; k < l.n; k++) {
            int p = mb_phase_parse(l.items[k]);
            if (p < 0)
                mb_usage_error(cmd, "no phase named '%s'", l.items[k]);
            sel->phases[sel->n_phases++] = (mb_phase)p;
        }
    } else if (sel_list_flag(&l, SEL_MAX(sel->sizes), argc, argv, i, "--n", cmd)) {
        sel->n_sizes = 0;
        sel->n_side_sizes = 0; /* the given sizes are the sizes */
        sel->n_mem_sizes = 0;  /* ... of memory too */
        sel->n_thread_sizes = 0;
        sel->icount_max_n = 0;
        sel->icount_main_only = 0;
        sel->n_mem_extra = 0;
        for (size_t k = 0; k < l.n; k++) {
            sel->sizes[sel->n_sizes] = mb_parse_entries(l.items[k], "--n", MB_MIN_ENTRY_BYTES,
                                                        cmd);
            if (sel->sizes[sel->n_sizes] == 0)
                mb_usage_error(cmd, "--n wants sizes >= 1");
            sel->n_sizes++;
        }
        sel_no_repeat(sel->sizes, sel->n_sizes, "--n", cmd);
    } else if (sel_list_flag(&l, SEL_MAX(sel->blueprints), argc, argv, i, "--blueprint", cmd)) {
        sel->n_blueprints = 0;
        sel->n_mem_extra = 0;
        for (size_t k = 0; k < l.n; k++) {
            const mb_blueprint *b = mb_blueprint_find(l.items[k]);
            if (!b)
                mb_usage_error(cmd, "no blueprint named '%s'", l.items[k]);
            sel->blueprints[sel->n_blueprints++] = b;
        }
    } else if (sel_list_flag(&l, SEL_MAX(sel->dists), argc, argv, i, "--dist", cmd)) {
        sel->n_dists = 0;
        for (size_t k = 0; k < l.n; k++) {
            int d = mb_dist_parse(l.items[k]);
            if (d < 0)
                mb_usage_error(cmd, "no key distribution named '%s'", l.items[k]);
            sel->dists[sel->n_dists++] = (mb_dist)d;
        }
    } else {
        return 0;
    }
    return 1;
}

/* The list flags that choose how it is measured.  Returns 1 when argv[*i] was one. */
static int sel_how_flag(mb_selection *sel, int argc, char **argv, int *i, const mb_command *cmd)
{
    sel_list l;
    if (sel_list_flag(&l, SEL_MAX(sel->allocators), argc, argv, i, "--allocator", cmd)) {
        sel->n_allocators = 0;
        for (size_t k = 0; k < l.n; k++) {
            const mb_allocator_info *a = mb_allocator_find(l.items[k]);
            if (!a)
                mb_usage_error(cmd, "unknown allocator '%s' (known: %s)", l.items[k],
                               mb_allocator_names());
            if (!mb_allocator_available(a))
                mb_usage_error(cmd, "allocator '%s' is not installed: package %s (%s missing;"
                               " ci/install-deps.sh installs it)", l.items[k], a->package,
                               a->preload);
            if (!SEL_PRELOAD_OK && a->preload)
                mb_usage_error(cmd, "allocator '%s' cannot be preloaded into an ASan build",
                               l.items[k]);
            sel->allocators[sel->n_allocators++] = a->name;
        }
    } else if (sel_list_flag(&l, SEL_MAX(sel->threads), argc, argv, i, "--threads", cmd)) {
        sel->n_threads = 0;
        for (size_t k = 0; k < l.n; k++) {
            size_t t = mb_parse_count(l.items[k], "--threads", cmd);
            if (t < 1 || t > 64)
                mb_usage_error(cmd, "--threads wants counts in 1..64");
            for (size_t j = 0; j < sel->n_threads; j++)
                if (sel->threads[j] == t)
                    mb_usage_error(cmd, "--threads lists %zu twice", t);
            sel->threads[sel->n_threads++] = (unsigned)t;
        }
    } else if (sel_list_flag(&l, SEL_MAX(sel->mixes), argc, argv, i, "--mix", cmd)) {
        sel->n_mixes = 0;
        for (size_t k = 0; k < l.n; k++) {
            int m = mb_mix_parse(l.items[k]);
            if (m < 0)
                mb_usage_error(cmd, "--mix wants read-only, write-only or a lookup percent"
                               " 0..100 (90, 90%%, 90/10), got '%s'", l.items[k]);
            for (size_t j = 0; j < sel->n_mixes; j++)
                if (sel->mixes[j] == (unsigned)m)
                    mb_usage_error(cmd, "--mix names the mix '%s' twice", l.items[k]);
            sel->mixes[sel->n_mixes++] = (unsigned)m;
        }
    } else if (sel_list_flag(&l, SEL_MAX(sel->hints), argc, argv, i, "--hints", cmd)) {
        sel->n_hints = 0;
        for (size_t k = 0; k < l.n; k++) {
            int h = mb_hint_parse(l.items[k]);
            if (h < 0)
                mb_usage_error(cmd, "no hint named '%s' (none, right, small, big)", l.items[k]);
            sel->hints[sel->n_hints++] = (mb_hint)h;
        }
    } else if (sel_list_flag(&l, SEL_MAX(sel->shrinks), argc, argv, i, "--shrink", cmd)) {
        sel->n_shrinks = 0;
        for (size_t k = 0; k < l.n; k++) {
            int p = mb_shrink_parse(l.items[k]);
            if (p < 0)
                mb_usage_error(cmd, "no shrink policy named '%s' (never, low-water)", l.items[k]);
            sel->shrinks[sel->n_shrinks++] = (mb_shrink_policy)p;
        }
    } else {
        return 0;
    }
    return 1;
}

int mb_selection_flag(mb_selection *sel, int argc, char **argv, int *i, const mb_command *cmd)
{
    const char *v;
    if (sel_what_flag(sel, argc, argv, i, cmd) || sel_how_flag(sel, argc, argv, i, cmd))
        return 1;
    if ((v = mb_flag_value(argc, argv, i, "--seed", cmd))) {
        sel->seed = mb_parse_count(v, "--seed", cmd);
    } else if ((v = mb_flag_value(argc, argv, i, "--reps", cmd))) {
        sel->reps = (unsigned)mb_parse_count(v, "--reps", cmd);
        if (sel->reps < 1 || sel->reps > 1000)
            mb_usage_error(cmd, "--reps wants 1..1000");
    } else if ((v = mb_flag_value(argc, argv, i, "--processes", cmd))) {
        sel->processes = (unsigned)mb_parse_count(v, "--processes", cmd);
        if (sel->processes < 1 || sel->processes > 100)
            mb_usage_error(cmd, "--processes wants 1..100");
    } else if (strcmp(argv[*i], "--no-hint") == 0) {
        sel->n_hints = 1;
        sel->hints[0] = MB_HINT_NONE;
    } else if (strcmp(argv[*i], "--hugepages") == 0) {
        sel->hugepages = 1;
    } else {
        return 0;
    }
    return 1;
}

void mb_case_args_init(mb_case_args *a)
{
    *a = (mb_case_args){ NULL, &mb_blueprints[0], MB_DIST_UNIFORM, 0, MB_DEFAULT_SEED,
                         MB_SHRINK_NEVER, 0 };
}

int mb_case_arg(mb_case_args *a, int argc, char **argv, int *i, const mb_command *cmd)
{
    const char *v;
    if ((v = mb_flag_value(argc, argv, i, "--impl", cmd))) {
        if (!(a->ops = mb_registry_find(v)))
            mb_usage_error(cmd, "no map named '%s' (mapbench list shows them)", v);
    } else if ((v = mb_flag_value(argc, argv, i, "--n", cmd))) {
        a->n = mb_parse_entries(v, "--n", MB_MIN_ENTRY_BYTES, cmd);
    } else if ((v = mb_flag_value(argc, argv, i, "--blueprint", cmd))) {
        if (!(a->bp = mb_blueprint_find(v)))
            mb_usage_error(cmd, "no blueprint named '%s'", v);
    } else if ((v = mb_flag_value(argc, argv, i, "--dist", cmd))) {
        int d = mb_dist_parse(v);
        if (d < 0)
            mb_usage_error(cmd, "no key distribution named '%s'", v);
        a->dist = (mb_dist)d;
    } else if ((v = mb_flag_value(argc, argv, i, "--seed", cmd))) {
        a->seed = mb_parse_count(v, "--seed", cmd);
    } else if ((v = mb_flag_value(argc, argv, i, "--shrink", cmd))) {
        int p = mb_shrink_parse(v);
        if (p < 0)
            mb_usage_error(cmd, "no shrink policy named '%s' (never, low-water)", v);
        a->shrink = (mb_shrink_policy)p;
    } else if (strcmp(argv[*i], "--hugepages") == 0) {
        a->hugepages = 1;
    } else {
        return 0;
    }
    return 1;
}

void mb_inline_case_args(mb_case_args *a, int argc, char **argv, const mb_command *cmd,
                         const char *count_flag, size_t *count)
{
    mb_case_args_init(a);
    for (int i = 2; i < argc; i++) {
        const char *v;
        mb_help_exit(argv[i], cmd);
        if ((v = mb_flag_value(argc, argv, &i, count_flag, cmd)))
            *count = mb_parse_count(v, count_flag, cmd);
        else if (!mb_case_arg(a, argc, argv, &i, cmd))
            mb_usage_error(cmd, "unknown argument '%s'", argv[i]);
    }
    if (!a->ops || a->n < 1)
        mb_usage_error(cmd, "needs --impl NAME and --n N (N >= 1)");
    if (a->bp->object_bytes)
        mb_usage_error(cmd, "pointer-value blueprints are measured by mem-case and time only");
}

int mb_case_config(const mb_map_ops *ops, const mb_blueprint *bp, size_t hint,
                   mb_shrink_policy shrink, uint64_t seed, mb_map_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->key_bytes = bp->key_bytes;
    cfg->val_bytes = bp->val_bytes;
    cfg->capacity_hint = hint;
    cfg->shrink = shrink;
    cfg->seed = seed;
    return mb_config_unsupported(ops, cfg) == NULL;
}

/* Appends one case; grows the array as needed. */
static void sel_add_case(mb_case **cs, size_t *n, size_t *cap, const mb_map_ops *ops, mb_phase phase,
                     const mb_blueprint *bp, mb_dist dist, size_t size, size_t hint,
                     unsigned threads, unsigned lookup_percent, mb_shrink_policy shrink)
{
    if (*n == *cap)
        *cs = realloc(*cs, (*cap *= 2) * sizeof **cs);
    mb_case *c = &(*cs)[(*n)++];
    c->ops = ops;
    c->phase = phase;
    c->bp = bp;
    c->dist = dist;
    c->n = size;
    c->hint = hint;
    c->threads = threads;
    c->lookup_percent = lookup_percent;
    c->shrink = shrink;
    char mix[16];
    c->hugepages = 0;
    int k = snprintf(c->name, sizeof c->name, "%s/%s/%s/%s/n:%zu/hint:%zu", ops->name,
                     mb_phase_name(phase), bp->name, mb_dist_name(dist), size, hint);
    if (k >= 0 && (size_t)k < sizeof c->name && phase == MB_PHASE_MIXED_RW)
        k += snprintf(c->name + k, sizeof c->name - (size_t)k, "/threads:%u/mix:%s", threads,
                      mb_mix_name(lookup_percent, mix, sizeof mix));
    /* "never" keeps the names older runs were stored under */
    if (k >= 0 && (size_t)k < sizeof c->name && shrink != MB_SHRINK_NEVER)
        k += snprintf(c->name + k, sizeof c->name - (size_t)k, "/shrink:%s",
                      mb_shrink_name(shrink));
    if (k < 0 || (size_t)k >= sizeof c->name) {
        /* names are how the timing children's samples find their case: a cut
         * one could match another case.  Only a map name of ~100 bytes gets here. */
        fprintf(stderr, "mapbench: case name longer than %zu bytes: %s...\n",
                sizeof c->name - 1, c->name);
        abort();
    }
}

/* The side-runs rule.  Returns 0 when blueprint b with distribution d is not
 * run; else 1 with the sizes it runs at and *side set for a side run (one
 * that varies the blueprint or the key order away from the first). */
static int sel_sizes_for(const mb_selection *sel, size_t b, size_t d, const size_t **sizes,
                         size_t *n_sizes, int *side)
{
    /* the first blueprint and distribution get the full size sweep; the
     * others the side sizes, when the suite has them */
    *side = (b > 0 || d > 0) && sel->n_side_sizes > 0;
    if (*side && b > 0 && d > 0)
        return 0; /* side runs vary one thing at a time: blueprint or key order */
    *sizes = *side ? sel->side_sizes : sel->sizes;
    *n_sizes = *side ? sel->n_side_sizes : sel->n_sizes;
    return 1;
}

/* Returns how many variants (hints or thread counts) phase runs in at size n,
 * 0 when it does not run there. */
static size_t sel_variants(const mb_selection *sel, mb_phase phase, size_t n, int side)
{
    int big = sel->big_n && n > sel->big_n;
    if (big && phase != MB_PHASE_INSERT && phase != MB_PHASE_LOOKUP_HIT)
        return 0; /* beyond big_n only insert and lookup_hit are timed */
    if (sel->insert_only_n && n > sel->insert_only_n && phase != MB_PHASE_INSERT)
        return 0;
    if (side && phase > MB_PHASE_MIXED_RW)
        return 0; /* side runs: the classic phases and threads */
    if (phase == MB_PHASE_MIXED_RW) {
        int at = sel->n_thread_sizes == 0;
        for (size_t k = 0; k < sel->n_thread_sizes; k++)
            at |= sel->thread_sizes[k] == n;
        return at ? sel->n_threads * sel->n_mixes : 0; /* thread count x mix */
    }
    if (phase != MB_PHASE_INSERT && phase != MB_PHASE_REINSERT)
        return 1;
    if (big)
        return 1; /* big runs: no hint only */
    /* side runs: no hint and the right hint only */
    return side && sel->n_hints > 2 ? 2 : sel->n_hints;
}

/* Adds phase's cases at size n for blueprint b and distribution d. */
static void sel_add_phase(const mb_selection *sel, size_t b, size_t d, mb_phase phase, size_t n,
                          int side, mb_case **cs, size_t *count, size_t *cap)
{
    const mb_blueprint *bp = sel->blueprints[b];
    int hinted = phase == MB_PHASE_INSERT || phase == MB_PHASE_REINSERT;
    size_t variants = sel_variants(sel, phase, n, side);
    static const mb_shrink_policy never_only[] = { MB_SHRINK_NEVER };
    /* removing phases under every selected policy; the others under "never" */
    const mb_shrink_policy *shrinks = mb_shrink_phase(phase) ? sel->shrinks : never_only;
    size_t n_shrinks = mb_shrink_phase(phase) ? sel->n_shrinks : 1;
    mb_map_config cfg;
    for (size_t v = 0; v < variants; v++)
        for (size_t p = 0; p < n_shrinks; p++)
            for (size_t i = 0; i < sel->n_impls; i++) {
                const mb_map_ops *ops = sel->impls[i];
                size_t hint = hinted ? mb_hint_size(sel->hints[v], n) : 0;
                if (!mb_case_config(ops, bp, hint, shrinks[p], sel->seed, &cfg))
                    continue; /* unsupported, or a policy the map does not have */
                if (phase == MB_PHASE_MIXED_RW &&
                    (!(ops->flags & MB_F_THREAD_SAFE) || bp->object_bytes))
                    continue; /* maps shared between threads, inline values */
                int mixed = phase == MB_PHASE_MIXED_RW;
                sel_add_case(cs, count, cap, ops, phase, bp, sel->dists[d], n, hint,
                             mixed ? sel->threads[v % sel->n_threads] : 1,
                             mixed ? sel->mixes[v / sel->n_threads] : 0, shrinks[p]);
            }
}

size_t mb_cases_build(const mb_selection *sel, mb_case **out)
{
    size_t cap = 64, n = 0;
    mb_case *cs = malloc(cap * sizeof *cs);

    for (size_t b = 0; b < sel->n_blueprints; b++)
        for (size_t d = 0; d < sel->n_dists; d++) {
            const size_t *sizes;
            size_t n_sizes;
            int side;
            if (!sel_sizes_for(sel, b, d, &sizes, &n_sizes, &side))
                continue;
            for (size_t s = 0; s < n_sizes; s++)
                for (size_t ph = 0; ph < sel->n_phases; ph++)
                    sel_add_phase(sel, b, d, sel->phases[ph], sizes[s], side, &cs, &n, &cap);
        }
    for (size_t i = 0; sel->hugepages && i < n; i++) { /* an axis: in the name too */
        size_t len = strlen(cs[i].name);
        if (len + 11 >= sizeof cs[i].name) {
            fprintf(stderr, "mapbench: case name longer than %zu bytes: %s/hugepages\n",
                    sizeof cs[i].name - 1, cs[i].name);
            abort();
        }
        memcpy(cs[i].name + len, "/hugepages", 11);
        cs[i].hugepages = 1;
    }
    *out = cs;
    return n;
}

/* Appends one memory spec; grows the array as needed. */
static void sel_add_mem(mb_mem_spec **sp, size_t *n, size_t *cap, mb_mem_spec spec)
{
    if (*n == *cap)
        *sp = realloc(*sp, (*cap *= 2) * sizeof **sp);
    (*sp)[(*n)++] = spec;
}

/* The first blueprint and distribution get every size (up to big_n) under
 * every allocator; the others, when the suite has side sizes, those sizes
 * under the first allocator only; and the suite's extra memory blueprints
 * (inline vs pointer values) at their size. */
size_t mb_mem_plan(const mb_selection *sel, mb_mem_spec **out)
{
    size_t cap = 64, n = 0;
    mb_mem_spec *sp = malloc(cap * sizeof *sp);
    mb_map_config cfg;

    for (size_t b = 0; b < sel->n_blueprints; b++)
        for (size_t d = 0; d < sel->n_dists; d++) {
            const size_t *sizes;
            size_t n_sizes;
            int side;
            if (!sel_sizes_for(sel, b, d, &sizes, &n_sizes, &side))
                continue; /* as the timed cases: one thing varied at a time */
            if (!side)
                sizes = mb_mem_sizes(sel, &n_sizes);
            size_t n_alloc = side ? 1 : sel->n_allocators;
            /* side runs vary one thing at a time: the first policy only */
            size_t n_pol = side ? 1 : sel->n_shrinks;
            for (size_t a = 0; a < n_alloc; a++)
                for (size_t s = 0; s < n_sizes; s++)
                    for (size_t p = 0; p < n_pol; p++)
                        for (size_t i = 0; i < sel->n_impls; i++) {
                            if (sizes[s] < 2 ||
                                (!sel->n_mem_sizes && sel->big_n && sizes[s] > sel->big_n) ||
                                !mb_case_config(sel->impls[i], sel->blueprints[b], 0,
                                                sel->shrinks[p], sel->seed, &cfg))
                                continue;
                            sel_add_mem(&sp, &n, &cap,
                                        (mb_mem_spec){ sel->impls[i], sel->blueprints[b],
                                                       sel->dists[d], sizes[s], sel->allocators[a],
                                                       sel->shrinks[p] });
                        }
        }
    for (size_t b = 0; b < sel->n_mem_extra; b++)
        for (size_t i = 0; i < sel->n_impls; i++)
            if (mb_case_config(sel->impls[i], sel->mem_extra[b], 0, sel->shrinks[0], sel->seed,
                               &cfg))
                sel_add_mem(&sp, &n, &cap,
                            (mb_mem_spec){ sel->impls[i], sel->mem_extra[b], sel->dists[0],
                                           sel->mem_extra_n, sel->allocators[0],
                                           sel->shrinks[0] });
    *out = sp;
    return n;
}

const size_t *mb_mem_sizes(const mb_selection *sel, size_t *n)
{
    *n = sel->n_mem_sizes ? sel->n_mem_sizes : sel->n_sizes;
    return sel->n_mem_sizes ? sel->mem_sizes : sel->sizes;
}

int mb_go_planned(const mb_selection *sel, mb_dist dist, size_t n)
{
    return sel->blueprints[0] == &mb_blueprints[0] && n >= 2 &&
           (sel->n_mem_sizes || !(sel->big_n && n > sel->big_n)) &&
           (dist == MB_DIST_UNIFORM || dist == MB_DIST_SEQUENTIAL);
}

static size_t sel_largest_n(const mb_selection *sel)
{
    size_t n_max = 0;
    for (size_t k = 0; k < sel->n_sizes; k++)
        if (sel->sizes[k] > n_max)
            n_max = sel->sizes[k];
    return n_max;
}

size_t mb_latency_n(const mb_selection *sel)
{
    size_t n = sel_largest_n(sel);
    return n < 1000000 ? n : 1000000;
}

size_t mb_churn_n(const mb_selection *sel)
{
    size_t n = sel_largest_n(sel);
    return n < 100000 ? n : 100000;
}
