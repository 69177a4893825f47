/*
 * cases.c — suites, filters and the expansion of a selection into cases.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const mb_blueprint mb_blueprints[] = {
    { "u64->u64", 8, 8, 0 },
    { "u64->64B", 8, 64, 0 },     /* Go's map[int]T with a 64-byte T */
    { "u64->ptr64", 8, 8, 64 },   /* Go's map[int]*T: a pointer to a 64-byte object */
    { "str16->u64", 16, 8, 0 },
    { "str48->u64", 48, 8, 0 },
    { NULL, 0, 0, 0 },
};

int mb_stream_for(mb_stream *s, mb_objects *o, mb_counter *ctr, const mb_blueprint *bp,
                  mb_dist dist, uint64_t seed, size_t key_indexes)
{
    *s = (mb_stream){ .dist = dist, .seed = seed, .key_bytes = bp->key_bytes,
                      .val_bytes = bp->val_bytes };
    if (dist == MB_DIST_ZIPF && mb_zipf_init(s, key_indexes / 2, 0.99, seed) != 0)
        return MB_ENOMEM;
    if (!bp->object_bytes)
        return 0;
    mb_counter_init(ctr);
    mb_alloc a = mb_counter_alloc(ctr);
    if (mb_objects_init(o, &a, key_indexes, bp->object_bytes) != 0)
        return MB_ENOMEM;
    s->objects = o;
    return 0;
}

void mb_stream_done(mb_stream *s)
{
    if (s->hot)
        mb_zipf_fini(s);
    if (s->objects)
        mb_objects_fini(s->objects);
    s->objects = NULL;
}

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
    sel->seed = 0x6d61706265ULL; /* "mapbe" */
    sel->hints[sel->n_hints++] = MB_HINT_NONE;
    sel->hints[sel->n_hints++] = MB_HINT_RIGHT;
    sel->threads[sel->n_threads++] = 1;
    sel->threads[sel->n_threads++] = 2;
    sel->allocators[sel->n_allocators++] = "glibc";
    sel->dists[sel->n_dists++] = MB_DIST_UNIFORM;
    if (strcmp(suite, "quick") == 0) {
        sel->suite = "quick";
        memcpy(sel->sizes, quick_sizes, sizeof quick_sizes);
        sel->n_sizes = 3;
        sel->blueprints[sel->n_blueprints++] = &mb_blueprints[0];
        sel->reps = 1; /* 3 processes x 1: the spread between processes is the noise that matters */
        sel->allocators[sel->n_allocators++] = "jemalloc"; /* memory phases: glibc and jemalloc */
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
        /* the sweep: 16 .. 1e6 at x1.6 (two to three points per doubling, so
         * every resize of every map falls between two points), then 3e6 and
         * 1e7 for insert and lookup_hit only */
        for (double n = 16; n < 1e6 && sel->n_sizes < 28; n *= 1.6)
            sel->sizes[sel->n_sizes++] = (size_t)n;
        sel->sizes[sel->n_sizes++] = 1000000;
        sel->sizes[sel->n_sizes++] = 3000000;
        sel->sizes[sel->n_sizes++] = 10000000;
        sel->big_n = 1000000;
        /* every other blueprint and distribution at three sizes */
        sel->side_sizes[0] = 1000, sel->side_sizes[1] = 100000, sel->side_sizes[2] = 1000000;
        sel->n_side_sizes = 3;
        for (const mb_blueprint *b = mb_blueprints; b->name; b++)
            sel->blueprints[sel->n_blueprints++] = b;
        for (int d = 1; d < MB_DIST_COUNT_; d++)
            sel->dists[sel->n_dists++] = (mb_dist)d;
        for (int p = MB_PHASE_MIXED_RW + 1; p <= MB_PHASE_REINSERT; p++) /* dependent, cold: by name */
            sel->phases[sel->n_phases++] = (mb_phase)p;
        sel->hints[sel->n_hints++] = MB_HINT_SMALL;
        sel->hints[sel->n_hints++] = MB_HINT_BIG;
        sel->threads[sel->n_threads++] = 4;
        sel->allocators[sel->n_allocators++] = "jemalloc";
        sel->allocators[sel->n_allocators++] = "mimalloc";
        sel->allocators[sel->n_allocators++] = "tcmalloc";
        sel->reps = 1;
        sel->processes = 3;
        return 0;
    }
    return -1;
}

/* Splits a comma-separated list in place; returns the count. */
static size_t split_list(char *s, char **items, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
        items[n++] = tok;
    return n;
}

int mb_selection_flag(mb_selection *sel, int argc, char **argv, int *i, const char *cmd)
{
    const char *v;
    char buf[1024], *items[64];
    size_t n;

#define LIST(flag)                                                                  \
    ((v = mb_flag_value(argc, argv, i, flag, cmd)) != NULL &&                       \
     (strlen(v) < sizeof buf || (mb_usage_error(cmd, "%s list too long", flag), 0)) && \
     (strcpy(buf, v), n = split_list(buf, items, 64), 1))

    if (LIST("--impl")) {
        sel->n_impls = 0;
        for (size_t k = 0; k < n; k++) {
            const mb_map_ops *ops = mb_registry_find(items[k]);
            if (!ops)
                mb_usage_error(cmd, "no map named '%s' (mapbench list shows them)", items[k]);
            sel->impls[sel->n_impls++] = ops;
        }
    } else if (LIST("--phase")) {
        sel->n_phases = 0;
        for (size_t k = 0; k < n; k++) {
            int p = mb_phase_parse(items[k]);
            if (p < 0)
                mb_usage_error(cmd, "no phase named '%s'", items[k]);
            sel->phases[sel->n_phases++] = (mb_phase)p;
        }
    } else if (LIST("--n")) {
        sel->n_sizes = 0;
        sel->n_side_sizes = 0; /* the given sizes are the sizes */
        sel->n_mem_extra = 0;
        for (size_t k = 0; k < n && k < 32; k++) {
            sel->sizes[sel->n_sizes] = mb_parse_count(items[k], "--n", cmd);
            if (sel->sizes[sel->n_sizes] == 0)
                mb_usage_error(cmd, "--n wants sizes >= 1");
            sel->n_sizes++;
        }
    } else if (LIST("--blueprint")) {
        sel->n_blueprints = 0;
        sel->n_mem_extra = 0;
        for (size_t k = 0; k < n && k < 8; k++) {
            const mb_blueprint *b = mb_blueprint_find(items[k]);
            if (!b)
                mb_usage_error(cmd, "no blueprint named '%s'", items[k]);
            sel->blueprints[sel->n_blueprints++] = b;
        }
    } else if (LIST("--dist")) {
        sel->n_dists = 0;
        for (size_t k = 0; k < n && k < 4; k++) {
            int d = mb_dist_parse(items[k]);
            if (d < 0)
                mb_usage_error(cmd, "no key distribution named '%s'", items[k]);
            sel->dists[sel->n_dists++] = (mb_dist)d;
        }
    } else if (LIST("--allocator")) {
        sel->n_allocators = 0;
        for (size_t k = 0; k < n && k < 4; k++) {
            const mb_allocator_info *a = mb_allocator_find(items[k]);
            if (!a)
                mb_usage_error(cmd, "unknown allocator '%s' (known: %s)", items[k],
                               mb_allocator_names());
            if (!mb_allocator_available(a))
                mb_usage_error(cmd, "allocator '%s' is not installed (%s missing)", items[k],
                               a->preload);
            sel->allocators[sel->n_allocators++] = a->name;
        }
    } else if (LIST("--threads")) {
        sel->n_threads = 0;
        for (size_t k = 0; k < n && k < 8; k++) {
            size_t t = mb_parse_count(items[k], "--threads", cmd);
            if (t < 1 || t > 64)
                mb_usage_error(cmd, "--threads wants counts in 1..64");
            sel->threads[sel->n_threads++] = (unsigned)t;
        }
    } else if ((v = mb_flag_value(argc, argv, i, "--seed", cmd))) {
        sel->seed = mb_parse_count(v, "--seed", cmd);
    } else if ((v = mb_flag_value(argc, argv, i, "--reps", cmd))) {
        sel->reps = (unsigned)mb_parse_count(v, "--reps", cmd);
        if (sel->reps < 1 || sel->reps > 1000)
            mb_usage_error(cmd, "--reps wants 1..1000");
    } else if ((v = mb_flag_value(argc, argv, i, "--processes", cmd))) {
        sel->processes = (unsigned)mb_parse_count(v, "--processes", cmd);
        if (sel->processes < 1 || sel->processes > 100)
            mb_usage_error(cmd, "--processes wants 1..100");
    } else if (LIST("--hints")) {
        sel->n_hints = 0;
        for (size_t k = 0; k < n && k < 4; k++) {
            int h = mb_hint_parse(items[k]);
            if (h < 0)
                mb_usage_error(cmd, "no hint named '%s' (none, right, small, big)", items[k]);
            sel->hints[sel->n_hints++] = (mb_hint)h;
        }
    } else if (strcmp(argv[*i], "--no-hint") == 0) {
        sel->n_hints = 1;
        sel->hints[0] = MB_HINT_NONE;
    } else {
        return 0;
    }
#undef LIST
    return 1;
}

void mb_case_args_init(mb_case_args *a)
{
    *a = (mb_case_args){ NULL, &mb_blueprints[0], MB_DIST_UNIFORM, 0, 0x6d61706265ULL };
}

int mb_case_arg(mb_case_args *a, int argc, char **argv, int *i, const char *cmd)
{
    const char *v;
    if ((v = mb_flag_value(argc, argv, i, "--impl", cmd))) {
        if (!(a->ops = mb_registry_find(v)))
            mb_usage_error(cmd, "no map named '%s' (mapbench list shows them)", v);
    } else if ((v = mb_flag_value(argc, argv, i, "--n", cmd))) {
        a->n = mb_parse_count(v, "--n", cmd);
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
    } else {
        return 0;
    }
    return 1;
}

int mb_case_config(const mb_map_ops *ops, const mb_blueprint *bp, size_t hint, uint64_t seed,
                   mb_map_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->key_bytes = bp->key_bytes;
    cfg->val_bytes = bp->val_bytes;
    cfg->capacity_hint = hint;
    cfg->shrink = MB_SHRINK_NEVER;
    cfg->seed = seed;
    return mb_config_unsupported(ops, cfg) == NULL;
}

/* Appends one case; grows the array as needed. */
static void add_case(mb_case **cs, size_t *n, size_t *cap, const mb_map_ops *ops, mb_phase phase,
                     const mb_blueprint *bp, mb_dist dist, size_t size, size_t hint,
                     unsigned threads)
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
    int k = snprintf(c->name, sizeof c->name, "%s/%s/%s/%s/n:%zu/hint:%zu", ops->name,
                     mb_phase_name(phase), bp->name, mb_dist_name(dist), size, hint);
    if (phase == MB_PHASE_MIXED_RW)
        snprintf(c->name + k, sizeof c->name - (size_t)k, "/threads:%u", threads);
}

size_t mb_cases_build(const mb_selection *sel, mb_case **out)
{
    size_t cap = 64, n = 0;
    mb_case *cs = malloc(cap * sizeof *cs);
    mb_map_config cfg;

    for (size_t b = 0; b < sel->n_blueprints; b++)
        for (size_t d = 0; d < sel->n_dists; d++) {
            /* the first blueprint and distribution get the full size sweep;
             * the others the side sizes, when the suite has them */
            int side = (b > 0 || d > 0) && sel->n_side_sizes > 0;
            if (side && b > 0 && d > 0)
                continue; /* side runs vary one thing at a time: blueprint or key order */
            const size_t *sizes = side ? sel->side_sizes : sel->sizes;
            size_t n_sizes = side ? sel->n_side_sizes : sel->n_sizes;
            for (size_t s = 0; s < n_sizes; s++)
                for (size_t ph = 0; ph < sel->n_phases; ph++) {
                    mb_phase phase = sel->phases[ph];
                    int big = sel->big_n && sizes[s] > sel->big_n;
                    if (big && phase != MB_PHASE_INSERT && phase != MB_PHASE_LOOKUP_HIT)
                        continue; /* beyond big_n only insert and lookup_hit are timed */
                    if (side && phase > MB_PHASE_MIXED_RW)
                        continue; /* side runs: the classic phases and threads */
                    int hinted = phase == MB_PHASE_INSERT || phase == MB_PHASE_REINSERT;
                    /* big and side runs: no hint and the right hint only */
                    size_t n_hints = (big || side) && sel->n_hints > 2 ? 2 : sel->n_hints;
                    if (big)
                        n_hints = 1;
                    size_t variants = phase == MB_PHASE_MIXED_RW ? sel->n_threads
                                      : hinted ? n_hints : 1;
                    for (size_t v = 0; v < variants; v++)
                        for (size_t i = 0; i < sel->n_impls; i++) {
                            const mb_map_ops *ops = sel->impls[i];
                            size_t hint = hinted ? mb_hint_size(sel->hints[v], sizes[s]) : 0;
                            if (!mb_case_config(ops, sel->blueprints[b], hint, sel->seed, &cfg))
                                continue;
                            if (phase == MB_PHASE_MIXED_RW &&
                                (!(ops->flags & MB_F_THREAD_SAFE) || sel->blueprints[b]->object_bytes))
                                continue; /* maps shared between threads, inline values */
                            add_case(&cs, &n, &cap, ops, phase, sel->blueprints[b], sel->dists[d],
                                     sizes[s], hint,
                                     phase == MB_PHASE_MIXED_RW ? sel->threads[v] : 1);
                        }
                }
        }
    *out = cs;
    return n;
}
