/*
 * units.c — the run's plan as independent units, and `mapbench plan`.
 *
 * A unit is what `run` starts: one timing process of one map (time/swiss/p1:
 * every case of swiss, in process 1 of P), the floor's null_map process,
 * one real Go map's mixed_rw workload, the memory calibration, one memory
 * case, one real-Go memory case, one latency, churn or thrash case, one
 * case under callgrind.  mb_units_build is the one place these loops live:
 * `run` executes exactly the units it builds (pool.c, run.c), and `plan`
 * prints them.  Same flags, same ids, same order.
 *
 * Alone or K-wide.  Every kind that times something (time, floor,
 * go-threads, latency, churn, thrash, go-memory: its GC costs are timed)
 * runs alone; memory, calibration and icount run K wide: their figures are
 * byte counts and instruction counts of one process, which do not depend on
 * what runs beside it.  (A memory case's RSS figures are its own pages, the
 * same beside a neighbour while memory is not short; its phase_ns is a
 * wall time and is not comparable across --jobs.)
 *
 * The cost model.  Each unit's estimate is c0 + c1 * work, work in million
 * key operations (mb_unit.work_mops, stored in run_unit beside the measured
 * wall_s): per timed case and repetition, its iterations times n, twice
 * (the build and the timed pass), scaled by the key width; per memory case
 * the phase script's work at n; per icount case the same as one timed
 * iteration.  c0 and c1 per kind are fitted by least squares
 * (ci/fit_costs.py) on the run_unit walls of a measured run: a quick-suite
 * run (--processes 1 --reps 1, --jobs 1) on the 2-core VM while three other
 * builds ran, its fit divided by 7.1 — the ratio of that run's 25 timing
 * units (343 s) to an idle quick timing process (48 s, measured before) —
 * then refitted (every kind but time) on the run_unit walls of the idle
 * `run --suite full --jobs 2` (ci/fit_costs.py --all); see unit_costs, and
 * the README's full-suite paragraph for how the first estimates held.
 *
 * Shards.  --shard I/N keeps the I-th of N slices: the units sorted by
 * estimate, largest first (ties: plan order), each given to the slice with
 * the least estimate so far (ties: the lowest index) — LPT, deterministic;
 * a slice runs its units in plan order.  The run set id is derived from the
 * plan: "rs-" and 16 hex digits of FNV-1a over N and every unit's id and
 * command line, so every shard of one command line computes the same id
 * without talking to the others; --run-set ID names it instead (a CI run's
 * id), and is how two sharded runs of the same plan are told apart.
 */
#define _GNU_SOURCE /* vasprintf */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_internal.h"

static const char *const unit_kind_names[MB_UNIT_KIND_COUNT_] = {
    "time", "floor", "go-threads", "calibrate", "memory", "go-memory", "latency", "churn",
    "thrash", "icount",
};

/* Per kind: alone (1) or K-wide, and the cost model's c0 (s) and c1 (s per
 * million key-ops), fitted by ci/fit_costs.py (see the top). */
static const struct {
    int alone;
    double c0_s, c1_s_per_mop;
} unit_costs[MB_UNIT_KIND_COUNT_] = {
    /* time: fitted on the quick run (its units' work varies; full's do not) */
    [MB_UNIT_TIME] = { 1, 0.05, 0.057 },
    /* the rest: fitted on the idle `run --suite full --jobs 2` (ci/fit_costs.py --all:
     * a K-wide unit's wall beside one neighbour on 2 cores) */
    [MB_UNIT_FLOOR] = { 1, 0.091, 0.0 },
    [MB_UNIT_GO_THREADS] = { 1, 0.123, 0.0 },
    [MB_UNIT_CALIBRATE] = { 0, 0.035, 0.0 },
    [MB_UNIT_MEMORY] = { 0, 0.004, 0.816 },
    [MB_UNIT_GO_MEMORY] = { 1, 0.01, 1.57 },
    [MB_UNIT_LATENCY] = { 1, 0.352, 0.0 },
    [MB_UNIT_CHURN] = { 1, 0.145, 0.0 },
    [MB_UNIT_THRASH] = { 1, 0.046, 0.0 },
    [MB_UNIT_ICOUNT] = { 0, 0.471, 1.98 },
};

const char *mb_unit_kind_name(mb_unit_kind k)
{
    return (unsigned)k < MB_UNIT_KIND_COUNT_ ? unit_kind_names[k] : "?";
}

/* ---- building the list ------------------------------------------------------------------ */

typedef struct unit_list {
    run_state *rs;
    size_t cap;
} unit_list;

static _Noreturn void unit_oom(void)
{
    fprintf(stderr, "mapbench: out of memory planning the run\n");
    exit(1);
}

static char *unit_strdup(const char *s)
{
    char *c = strdup(s);
    if (!c)
        unit_oom();
    return c;
}

/* Appends a unit of kind k named id (printf-style) with the child's
 * arguments args (n of them, copied); returns it. */
static mb_unit *unit_add(unit_list *l, mb_unit_kind k, char *const *args, size_t n,
                         double work_mops, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static mb_unit *unit_add(unit_list *l, mb_unit_kind k, char *const *args, size_t n,
                         double work_mops, const char *fmt, ...)
{
    run_state *rs = l->rs;
    if (rs->n_units == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        mb_unit *u = realloc(rs->units, l->cap * sizeof *u);
        if (!u)
            unit_oom();
        rs->units = u;
    }
    mb_unit *u = &rs->units[rs->n_units++];
    memset(u, 0, sizeof *u);
    u->kind = k;
    u->alone = unit_costs[k].alone;
    u->work_mops = work_mops;
    u->cost_s = unit_costs[k].c0_s + unit_costs[k].c1_s_per_mop * work_mops;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&u->id, fmt, ap) < 0)
        unit_oom();
    va_end(ap);
    u->argv = calloc(n + 1, sizeof *u->argv);
    if (!u->argv)
        unit_oom();
    for (size_t i = 0; i < n; i++)
        u->argv[i] = unit_strdup(args[i]);
    return u;
}

/* The key width's effect on a key-op: hashing and comparing longer keys. */
static double unit_key_factor(const mb_blueprint *bp)
{
    return 1.0 + (double)(bp->key_bytes + bp->val_bytes + bp->object_bytes) / 64.0;
}

/* Million key-ops of one repetition of case c in a timing process: its
 * iterations (probe/timing.c: enough for MB_OPS_PER_REPETITION ops, at most
 * 1000) times n, and as much again for the untimed build and check. */
static double unit_case_mops(const mb_case *c, unsigned reps)
{
    double iters = ceil(200000.0 / (double)c->n);
    if (iters > 1000)
        iters = 1000;
    if (c->phase == MB_PHASE_MIXED_RW)
        iters = 1, reps *= c->threads;
    return (double)reps * (2.0 * iters * (double)c->n + (double)c->n) * unit_key_factor(c->bp) *
           1e-6;
}

static void unit_fmt(char *buf, size_t len, const char *fmt, unsigned long long v)
{
    snprintf(buf, len, fmt, v);
}

/* Timing: process p of every map (the maps' cases in plan order), then the
 * floor's null_map process beside it; P times. */
static void unit_timing(unit_list *l)
{
    run_state *rs = l->rs;
    char **args = calloc((size_t)rs->n_sel_args + (size_t)rs->n_floor_args + 12, sizeof *args);
    if (!args)
        unit_oom();
    int first = 1;
    for (unsigned p = 0; p < rs->sel.processes; p++) {
        for (size_t i = 0; i < rs->sel.n_impls; i++) {
            const mb_map_ops *ops = rs->sel.impls[i];
            double mops = 0;
            size_t cases = 0;
            for (size_t c = 0; c < rs->n_map_cases; c++)
                if (rs->cases[c].ops == ops)
                    mops += unit_case_mops(&rs->cases[c], rs->sel.reps), cases++;
            if (!cases)
                continue; /* a map with no case here gets no process */
            size_t k = 0;
            args[k++] = "mapbench", args[k++] = "time", args[k++] = "--emit-tsv";
            if (!first)
                args[k++] = "--quiet";
            args[k++] = "--suite", args[k++] = (char *)rs->sel.suite;
            for (int j = 0; j < rs->n_sel_args; j++)
                args[k++] = rs->sel_args[j];
            args[k++] = "--impl", args[k++] = (char *)ops->name;
            mb_unit *u = unit_add(l, MB_UNIT_TIME, args, k, mops, "time/%s/p%u", ops->name, p + 1);
            u->process = p;
            u->impl = ops->name;
            first = 0;
        }
        if (rs->floor_args) {
            double mops = 0;
            for (size_t c = rs->n_map_cases; c < rs->n_cases; c++)
                mops += unit_case_mops(&rs->cases[c], rs->sel.reps);
            size_t k = 0;
            args[k++] = "mapbench", args[k++] = "time", args[k++] = "--emit-tsv";
            args[k++] = "--quiet", args[k++] = "--suite", args[k++] = (char *)rs->sel.suite;
            for (int j = 0; j < rs->n_floor_args; j++)
                args[k++] = rs->floor_args[j];
            mb_unit *u = unit_add(l, MB_UNIT_FLOOR, args, k, mops, "floor/p%u", p + 1);
            u->process = p;
            u->impl = "null_map";
        }
    }
    free(args);
}

/* Returns 1 when an earlier mixed_rw case of the plan (before index c) has
 * c's workload: the Go maps run once per workload, not once per C map. */
static int unit_go_threads_seen(const run_state *rs, size_t c)
{
    const mb_case *k = &rs->cases[c];
    for (size_t j = 0; j < c; j++) {
        const mb_case *o = &rs->cases[j];
        if (o->phase == MB_PHASE_MIXED_RW && o->bp == k->bp && o->dist == k->dist &&
            o->n == k->n && o->threads == k->threads && o->lookup_percent == k->lookup_percent)
            return 1;
    }
    return 0;
}

/* sync.Map, map + RWMutex and a sharded Go map, on every mixed_rw workload
 * of the plan the Go side can run (u64->u64; uniform or sequential keys):
 * bench groups of their own (family peer, allocator go-runtime). */
static void unit_go_threads(unit_list *l)
{
    run_state *rs = l->rs;
    char nbuf[32], seedbuf[32], tbuf[16], mbuf[16], rbuf[16], mix[16];
    for (size_t c = 0; c < rs->n_map_cases; c++) {
        const mb_case *k = &rs->cases[c];
        if (k->phase != MB_PHASE_MIXED_RW || k->bp != &mb_blueprints[0] ||
            (k->dist != MB_DIST_UNIFORM && k->dist != MB_DIST_SEQUENTIAL) ||
            unit_go_threads_seen(rs, c))
            continue;
        unit_fmt(nbuf, sizeof nbuf, "%llu", k->n);
        unit_fmt(seedbuf, sizeof seedbuf, "%llu", rs->sel.seed);
        unit_fmt(tbuf, sizeof tbuf, "%llu", k->threads);
        unit_fmt(mbuf, sizeof mbuf, "%llu", k->lookup_percent);
        unit_fmt(rbuf, sizeof rbuf, "%llu", rs->sel.reps);
        for (const mb_go_thread_map *m = mb_go_thread_maps; m->impl; m++) {
            mb_store_group *b = realloc(rs->out.benches, (rs->out.n_benches + 1) * sizeof *b);
            if (!b)
                unit_oom();
            rs->out.benches = b;
            mb_store_group *g = &b[rs->out.n_benches];
            memset(g, 0, sizeof *g);
            g->c = (mb_store_case){ m->impl, MB_GO_FAMILY, m->traits, "mixed_rw", k->bp->name,
                                    mb_dist_name(k->dist), k->n, 0, k->threads,
                                    MB_GO_ALLOCATOR, "never", k->lookup_percent, 0 };
            char *args[] = { "mapbench", "go-threads-case", "--impl", (char *)m->impl, "--n",
                             nbuf, "--dist", (char *)mb_dist_name(k->dist), "--seed", seedbuf,
                             "--threads", tbuf, "--mix", mbuf, "--reps", rbuf };
            mb_unit *u = unit_add(l, MB_UNIT_GO_THREADS, args, sizeof args / sizeof *args,
                                  unit_case_mops(k, rs->sel.reps * rs->sel.processes),
                                  "go-threads/%s/%s/n:%zu/threads:%u/mix:%s", m->impl,
                                  mb_dist_name(k->dist), k->n, k->threads,
                                  mb_mix_name(k->lookup_percent, mix, sizeof mix));
            u->list = 0;
            u->group = rs->out.n_benches++;
            u->case_index = c;
        }
    }
}

/* Leaves out of the memory plan the suite's allocators whose library is not
 * installed (an --allocator that names one is refused by plan/ instead). */
static void unit_drop_missing_allocators(run_state *rs)
{
    size_t kept = 0;
    for (size_t a = 0; a < rs->sel.n_allocators; a++) {
        const mb_allocator_info *al = mb_allocator_find(rs->sel.allocators[a]);
        if (mb_allocator_available(al)) {
            rs->sel.allocators[kept++] = rs->sel.allocators[a];
            continue;
        }
        mb_run_not_measured(rs, "memory under ", al->name, al->package);
    }
    rs->sel.n_allocators = kept;
}

static mb_store_group *unit_new_group(run_state *rs, int list, size_t *index)
{
    mb_store_group **arr = list == 1 ? &rs->out.mems : list == 2 ? &rs->out.latencies
                                                                  : &rs->out.churns;
    size_t *n = list == 1 ? &rs->out.n_mems : list == 2 ? &rs->out.n_latencies
                                                        : &rs->out.n_churns;
    mb_store_group *g = realloc(*arr, (*n + 1) * sizeof *g);
    if (!g)
        unit_oom();
    *arr = g;
    memset(&g[*n], 0, sizeof *g);
    *index = (*n)++;
    return &g[*index];
}

/* The case a group of rows is stored under. */
static mb_store_case unit_case_of(const mb_map_ops *ops, const mb_blueprint *bp, mb_dist dist,
                                  size_t n, const char *allocator, mb_shrink_policy shrink)
{
    return (mb_store_case){ ops->name, ops->family, ops->traits, NULL, bp->name,
                            mb_dist_name(dist), n, 0, 1, allocator, mb_shrink_name(shrink),
                            0, 0 };
}

/* The memory calibration, one unit per memory case, the real Go map's. */
static void unit_memory(unit_list *l)
{
    run_state *rs = l->rs;
    char nbuf[32], seedbuf[32];
    char *cargs[] = { "mapbench", "mem-case", "--calibrate" };
    unit_add(l, MB_UNIT_CALIBRATE, cargs, 3, 0, "calibrate");
    mb_mem_spec *specs = NULL;
    size_t total = mb_mem_plan(&rs->sel, &specs);
    unit_fmt(seedbuf, sizeof seedbuf, "%llu", rs->sel.seed);
    for (size_t k = 0; k < total; k++) {
        const mb_mem_spec *sp = &specs[k];
        size_t gi;
        mb_store_group *g = unit_new_group(rs, 1, &gi);
        g->c = unit_case_of(sp->ops, sp->bp, sp->dist, sp->n, sp->allocator, sp->shrink);
        g->c.hugepages = rs->sel.hugepages;
        unit_fmt(nbuf, sizeof nbuf, "%llu", sp->n);
        char *margs[] = { "mapbench", "mem-case", "--impl", (char *)sp->ops->name, "--n", nbuf,
                          "--blueprint", (char *)sp->bp->name, "--dist",
                          (char *)mb_dist_name(sp->dist), "--seed", seedbuf, "--allocator",
                          (char *)sp->allocator, "--shrink", (char *)g->c.shrink, "--hugepages" };
        mb_unit *u = unit_add(l, MB_UNIT_MEMORY, margs, rs->sel.hugepages ? 17 : 16,
                              (double)sp->n * unit_key_factor(sp->bp) * 1e-6,
                              "memory/%s/%s/%s/n:%zu/%s/%s%s", sp->ops->name, sp->bp->name,
                              mb_dist_name(sp->dist), sp->n, sp->allocator, g->c.shrink,
                              rs->sel.hugepages ? "/hugepages" : "");
        u->preload = mb_allocator_find(sp->allocator)->preload;
        u->list = 1;
        u->group = gi;
    }
    free(specs);
    if (rs->sel.blueprints[0] != &mb_blueprints[0])
        return;
    size_t n_sizes;
    const size_t *sizes = mb_mem_sizes(&rs->sel, &n_sizes);
    for (size_t d = 0; d < rs->sel.n_dists; d++)
        for (size_t s = 0; s < n_sizes; s++) {
            mb_dist dist = rs->sel.dists[d];
            size_t n = sizes[s], gi;
            if (!mb_go_planned(&rs->sel, dist, n))
                continue;
            mb_store_group *g = unit_new_group(rs, 1, &gi);
            g->c = (mb_store_case){ MB_GO_IMPL, MB_GO_FAMILY, MB_GO_TRAITS, NULL,
                                    mb_blueprints[0].name, mb_dist_name(dist), n, 0, 1,
                                    MB_GO_ALLOCATOR, "never", 0, 0 };
            unit_fmt(nbuf, sizeof nbuf, "%llu", n);
            char *gargs[] = { "mapbench", "go-mem-case", "--n", nbuf, "--dist",
                              (char *)mb_dist_name(dist), "--seed", seedbuf };
            mb_unit *u = unit_add(l, MB_UNIT_GO_MEMORY, gargs, 8, (double)n * 1e-6,
                                  "go-memory/%s/n:%zu", mb_dist_name(dist), n);
            u->list = 1;
            u->group = gi;
        }
}

/* Tail latency while growing to the largest n (at most 1e6), or churn at
 * constant size (at most 1e5) and thrash (at most 4096 keys: it reads the
 * map's stats after every remove on the way down): first blueprint and
 * distribution, glibc; churn under every selected shrink policy the map has. */
static void unit_lines(unit_list *l, int churn)
{
    run_state *rs = l->rs;
    const char *what = churn ? "churn-case" : "latency-case";
    size_t n = churn ? mb_churn_n(&rs->sel) : mb_latency_n(&rs->sel);
    static const mb_shrink_policy never_only[] = { MB_SHRINK_NEVER };
    const mb_shrink_policy *pols = churn ? rs->sel.shrinks : never_only;
    size_t n_pols = churn ? rs->sel.n_shrinks : 1, total = rs->sel.n_impls * n_pols;
    char nbuf[32], seedbuf[32], tbuf[32];
    unit_fmt(nbuf, sizeof nbuf, "%llu", n);
    unit_fmt(seedbuf, sizeof seedbuf, "%llu", rs->sel.seed);
    for (size_t k = 0; n >= 4 && k < total; k++) {
        mb_map_config cfg;
        const mb_map_ops *ops = rs->sel.impls[k / n_pols];
        mb_shrink_policy pol = pols[k % n_pols];
        if (!mb_case_config(ops, rs->sel.blueprints[0], 0, pol, rs->sel.seed, &cfg))
            continue;
        size_t gi;
        mb_store_group *g = unit_new_group(rs, churn ? 3 : 2, &gi);
        g->c = unit_case_of(ops, rs->sel.blueprints[0], rs->sel.dists[0], n, "glibc", pol);
        char *cargs[] = { "mapbench", (char *)what, "--impl", (char *)ops->name, "--n", nbuf,
                          "--blueprint", (char *)g->c.blueprint, "--dist",
                          (char *)g->c.distribution, "--seed", seedbuf, "--shrink",
                          (char *)g->c.shrink };
        mb_store_case c = g->c;
        mb_unit *u = unit_add(l, churn ? MB_UNIT_CHURN : MB_UNIT_LATENCY, cargs, 14,
                              (double)n * unit_key_factor(rs->sel.blueprints[0]) * 1e-6,
                              churn ? "churn/%s/%s/%s/%s/n:%zu" : "latency/%s/%s/%s/%s/n:%zu",
                              ops->name, c.shrink, c.blueprint, c.distribution, n);
        u->list = churn ? 3 : 2;
        u->group = gi;
        if (!churn)
            continue;
        mb_store_group *t = unit_new_group(rs, 3, &gi);
        t->c = c;
        t->c.n = n < 4096 ? n : 4096;
        unit_fmt(tbuf, sizeof tbuf, "%llu", t->c.n);
        char *targs[] = { "mapbench", "churn-case", "--thrash", "--impl", (char *)ops->name,
                          "--n", tbuf, "--blueprint", (char *)c.blueprint, "--dist",
                          (char *)c.distribution, "--seed", seedbuf, "--shrink",
                          (char *)c.shrink };
        u = unit_add(l, MB_UNIT_THRASH, targs, 15, (double)t->c.n * 1e-6,
                     "thrash/%s/%s/%s/%s/n:%zu", ops->name, c.shrink, c.blueprint,
                     c.distribution, t->c.n);
        u->list = 3;
        u->group = gi;
    }
}

/* One unit per timed case but mixed_rw (threads: not deterministic).  Its
 * command line is callgrind's, as icount.c builds it. */
static void unit_icount(unit_list *l)
{
    run_state *rs = l->rs;
    if (access(MB_VALGRIND_PATH, X_OK) != 0) {
        mb_run_not_measured(rs, "instruction counts: ", "callgrind", "valgrind");
        return;
    }
    char nbuf[32], hbuf[32], sbuf[32];
    for (size_t c = 0; c < rs->n_map_cases; c++) {
        const mb_case *k = &rs->cases[c];
        if (k->phase == MB_PHASE_MIXED_RW ||
            (rs->sel.icount_max_n && k->n > rs->sel.icount_max_n) ||
            (rs->sel.icount_main_only &&
             (k->bp != rs->sel.blueprints[0] || k->dist != rs->sel.dists[0])))
            continue;
        unit_fmt(nbuf, sizeof nbuf, "%llu", k->n);
        unit_fmt(hbuf, sizeof hbuf, "%llu", k->hint);
        unit_fmt(sbuf, sizeof sbuf, "%llu", rs->sel.seed);
        char *args[] = { "valgrind", "--tool=callgrind", "--collect-atstart=no", "--quiet",
                         "mapbench", "icount-case", "--impl", (char *)k->ops->name, "--phase",
                         (char *)mb_phase_name(k->phase), "--blueprint", (char *)k->bp->name,
                         "--dist", (char *)mb_dist_name(k->dist), "--n", nbuf, "--hint", hbuf,
                         "--seed", sbuf, "--shrink", (char *)mb_shrink_name(k->shrink) };
        /* the phase runs once on n keys, after building the map */
        mb_unit *u = unit_add(l, MB_UNIT_ICOUNT, args, sizeof args / sizeof *args,
                              2.0 * (double)k->n * unit_key_factor(k->bp) * 1e-6,
                              "icount/%s", k->name);
        u->list = 0;
        u->group = c;
        u->case_index = c;
    }
}

static int unit_cmp_id(const void *a, const void *b)
{
    return strcmp((*(mb_unit *const *)a)->id, (*(mb_unit *const *)b)->id);
}

/* Ids are unique: a plan whose two units share one would store one over the other. */
static void unit_check_unique(run_state *rs)
{
    mb_unit **v = malloc((rs->n_units + 1) * sizeof *v);
    if (!v)
        unit_oom();
    for (size_t i = 0; i < rs->n_units; i++)
        v[i] = &rs->units[i];
    qsort(v, rs->n_units, sizeof *v, unit_cmp_id);
    for (size_t i = 1; i < rs->n_units; i++)
        if (strcmp(v[i - 1]->id, v[i]->id) == 0) {
            fprintf(stderr, "mapbench: the plan holds unit %s twice\n", v[i]->id);
            abort();
        }
    free(v);
}

/* ---- shards and the run set ----------------------------------------------------------- */

static int unit_cmp_cost(const void *a, const void *b)
{
    const mb_unit *x = *(mb_unit *const *)a, *y = *(mb_unit *const *)b;
    if (x->cost_s != y->cost_s)
        return x->cost_s > y->cost_s ? -1 : 1;
    return x < y ? -1 : x > y; /* plan order */
}

/* rs->mine: every unit, or the units LPT gives to shard I of N, in plan order. */
static void unit_pick(run_state *rs)
{
    size_t n = rs->n_units, N = rs->shard_count ? rs->shard_count : 1;
    mb_unit **by_cost = malloc((n + 1) * sizeof *by_cost);
    unsigned *owner = calloc(n + 1, sizeof *owner);
    double *load = calloc(N, sizeof *load);
    rs->mine = malloc((n + 1) * sizeof *rs->mine);
    if (!by_cost || !owner || !load || !rs->mine)
        unit_oom();
    for (size_t i = 0; i < n; i++)
        by_cost[i] = &rs->units[i];
    qsort(by_cost, n, sizeof *by_cost, unit_cmp_cost);
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t s = 1; s < N; s++)
            if (load[s] < load[best])
                best = s;
        load[best] += by_cost[i]->cost_s;
        owner[by_cost[i] - rs->units] = (unsigned)best + 1;
    }
    rs->n_mine = 0;
    for (size_t i = 0; i < n; i++)
        if (!rs->shard_count || owner[i] == rs->shard_index)
            rs->mine[rs->n_mine++] = &rs->units[i];
    free(by_cost);
    free(owner);
    free(load);
}

static uint64_t unit_fnv(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL; /* a separator, so "ab","c" != "a","bc" */
}

static void unit_run_set(run_state *rs)
{
    if (rs->run_set_flag) {
        snprintf(rs->run_set, sizeof rs->run_set, "%s", rs->run_set_flag);
        return;
    }
    char nbuf[32];
    uint64_t h = 0xcbf29ce484222325ULL;
    unit_fmt(nbuf, sizeof nbuf, "%llu", rs->shard_count);
    h = unit_fnv(h, nbuf);
    for (size_t i = 0; i < rs->n_units; i++) {
        h = unit_fnv(h, rs->units[i].id);
        for (char **a = rs->units[i].argv; *a; a++)
            h = unit_fnv(h, *a);
    }
    snprintf(rs->run_set, sizeof rs->run_set, "rs-%016llx", (unsigned long long)h);
}

void mb_units_build(run_state *rs)
{
    unit_list l = { rs, 0 };
    if (rs->do_time) {
        unit_timing(&l);
        unit_go_threads(&l);
    }
    if (rs->do_mem) {
        unit_drop_missing_allocators(rs);
        unit_memory(&l);
    }
    if (rs->do_latency)
        unit_lines(&l, 0);
    if (rs->do_churn)
        unit_lines(&l, 1);
    if (rs->do_icount)
        unit_icount(&l);
    unit_check_unique(rs);
    unit_pick(rs);
    if (rs->shard_count)
        unit_run_set(rs);
}

void mb_units_free(run_state *rs)
{
    for (size_t i = 0; i < rs->n_units; i++) {
        for (char **a = rs->units[i].argv; a && *a; a++)
            free(*a);
        free(rs->units[i].argv);
        free(rs->units[i].id);
    }
    free(rs->units);
    free(rs->mine);
}

/* ---- the floor and the cases -------------------------------------------------------- */

/* Appends "sep item" to the growing list *list (malloc'd); -1 when out of memory. */
static int unit_list_add(char **list, const char *item)
{
    size_t len = *list ? strlen(*list) : 0;
    if (*list) { /* once each */
        for (const char *p = *list; (p = strstr(p, item)); p++)
            if ((p == *list || p[-1] == ',') && (p[strlen(item)] == ',' || !p[strlen(item)]))
                return 0;
    }
    char *grown = realloc(*list, len + strlen(item) + 2);
    if (!grown)
        return -1;
    snprintf(grown + len, strlen(item) + 2, "%s%s", len ? "," : "", item);
    *list = grown;
    return 0;
}

/* The floor: every run with timings also times the calibration map null_map
 * (impls/calibration/null_map.c) on the phases and sizes of the selected
 * cases, u64->u64 uniform keys, no hint (all it can answer; mixed_rw is
 * threads, not a loop it can stand in for).  Its cases are appended to
 * rs->cases and stored as bench rows of impl null_map (family
 * 'calibration'); view phase_floor reads them, and the views that rank maps
 * leave them out.  The parent parses the very flags its child gets, so both
 * build the same case list.  No floor when null_map is itself selected. */
static void unit_floor_plan(run_state *rs, const mb_command *cmd)
{
    char nbuf[32];
    rs->n_map_cases = rs->n_cases;
    for (size_t i = 0; i < rs->sel.n_impls; i++)
        if (rs->sel.impls[i]->flags & MB_F_CALIBRATION)
            return;
    for (size_t c = 0; c < rs->n_cases; c++) {
        if (rs->cases[c].phase == MB_PHASE_MIXED_RW)
            continue;
        snprintf(nbuf, sizeof nbuf, "%zu", rs->cases[c].n);
        if (unit_list_add(&rs->floor_text[0], mb_phase_name(rs->cases[c].phase)) != 0 ||
            unit_list_add(&rs->floor_text[1], nbuf) != 0)
            mb_usage_error(cmd, "out of memory planning the floor");
    }
    if (!rs->floor_text[0])
        return;
    static char *fixed[] = { "--impl", "null_map", "--blueprint", "u64->u64", "--dist",
                             "uniform", "--no-hint", "--shrink", "never" };
    char **a = calloc(20, sizeof *a), reps[32], seed[32];
    int k = 0;
    if (!a)
        mb_usage_error(cmd, "out of memory planning the floor");
    for (size_t j = 0; j < sizeof fixed / sizeof *fixed; j++)
        a[k++] = fixed[j];
    a[k++] = "--phase", a[k++] = rs->floor_text[0];
    a[k++] = "--n", a[k++] = rs->floor_text[1];
    snprintf(reps, sizeof reps, "%u", rs->sel.reps);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)rs->sel.seed);
    a[k++] = "--reps", a[k++] = unit_strdup(reps);
    a[k++] = "--seed", a[k++] = unit_strdup(seed);
    /* the same suite as the selected cases: its size rules apply alike */
    mb_selection fsel;
    mb_selection_suite(&fsel, rs->sel.suite);
    char *argv_like[24] = { "mapbench", "run" };
    for (int j = 0; j < k; j++)
        argv_like[j + 2] = a[j];
    for (int i = 2; i < k + 2; i++)
        if (!mb_selection_flag(&fsel, k + 2, argv_like, &i, cmd))
            mb_usage_error(cmd, "the floor's flag '%s' is not a selection flag", argv_like[i]);
    mb_case *fc;
    size_t nf = mb_cases_build(&fsel, &fc);
    mb_case *all = realloc(rs->cases, (rs->n_cases + nf) * sizeof *all);
    if (!all && nf)
        mb_usage_error(cmd, "out of memory planning the floor");
    if (nf)
        memcpy(all + rs->n_cases, fc, nf * sizeof *fc);
    free(fc);
    rs->cases = all;
    rs->n_cases += nf;
    rs->floor_args = a;
    rs->n_floor_args = k;
}

/* The bench groups, one per timed case (stored when they get records). */
static void unit_benches(run_state *rs)
{
    rs->out.benches = calloc(rs->n_cases + 1, sizeof *rs->out.benches);
    if (!rs->out.benches)
        unit_oom();
    rs->out.n_benches = rs->n_cases;
    for (size_t c = 0; c < rs->n_cases; c++) {
        const mb_case *k = &rs->cases[c];
        mb_store_case *sc = &rs->out.benches[c].c;
        *sc = unit_case_of(k->ops, k->bp, k->dist, k->n, "glibc", k->shrink);
        sc->phase = mb_phase_name(k->phase);
        sc->hint = k->hint;
        sc->threads = k->threads;
        sc->lookup_percent = k->lookup_percent;
        sc->hugepages = k->hugepages;
    }
}

void mb_run_plan(run_state *rs, const mb_command *cmd)
{
    rs->n_cases = mb_cases_build(&rs->sel, &rs->cases);
    if (rs->n_cases == 0)
        mb_usage_error(cmd, "the selection holds no case");
    rs->n_map_cases = rs->n_cases;
    if (rs->do_time)
        unit_floor_plan(rs, cmd);
    unit_benches(rs);
    mb_units_build(rs);
    if (rs->n_mine == 0)
        mb_usage_error(cmd, "shard %u/%u holds no unit (the plan has %zu)", rs->shard_index,
                       rs->shard_count, rs->n_units);
}

/* ---- `mapbench plan` ------------------------------------------------------------------- */

static int mb_cmd_plan(int argc, char **argv)
{
    run_state rs;
    int summary = 0;
    memset(&rs, 0, sizeof rs);
    rs.db_path = MB_DEFAULT_DB;
    rs.do_time = rs.do_mem = rs.do_latency = rs.do_churn = 1;
    /* --summary is plan's own; the rest are run's flags */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int n = 0;
    if (!args)
        unit_oom();
    for (int i = 0; i < argc; i++)
        if (i < 2 || strcmp(argv[i], "--summary") != 0)
            args[n++] = argv[i];
        else
            summary = 1;
    mb_run_args(&rs, n, args, &mb_command_plan);
    mb_run_plan(&rs, &mb_command_plan);
    if (summary) {
        double cost[MB_UNIT_KIND_COUNT_] = { 0 }, total = 0, alone = 0, wide = 0;
        size_t count[MB_UNIT_KIND_COUNT_] = { 0 };
        for (size_t i = 0; i < rs.n_mine; i++) {
            cost[rs.mine[i]->kind] += rs.mine[i]->cost_s;
            count[rs.mine[i]->kind]++;
        }
        printf("kind\tunits\talone\testimate_s\n");
        for (int k = 0; k < MB_UNIT_KIND_COUNT_; k++) {
            if (!count[k])
                continue;
            printf("%s\t%zu\t%s\t%.0f\n", unit_kind_names[k], count[k],
                   unit_costs[k].alone ? "alone" : "K-wide", cost[k]);
            total += cost[k];
            *(unit_costs[k].alone ? &alone : &wide) += cost[k];
        }
        unsigned K = rs.jobs ? rs.jobs : 1;
        printf("total\t%zu\t-\t%.0f\n", rs.n_mine, total);
        printf("# estimate: serial %.1f min; --jobs %u %.1f min (alone %.1f + K-wide %.1f / %u)\n",
               total / 60, K, (alone + wide / K) / 60, alone / 60, wide / 60, K);
    } else {
        printf("#id\tkind\tparallel\tcost_s\tcommand\n");
        for (size_t i = 0; i < rs.n_mine; i++) {
            const mb_unit *u = rs.mine[i];
            printf("%s\t%s\t%s\t%.3f\t", u->id, unit_kind_names[u->kind],
                   u->alone ? "alone" : "K-wide", u->cost_s);
            if (u->preload)
                printf("LD_PRELOAD=%s ", u->preload);
            for (char **a = u->argv; *a; a++)
                printf("%s%s", a == u->argv ? "" : " ", *a);
            printf("\n");
        }
    }
    if (rs.shard_count)
        fprintf(stderr, "plan: shard %u/%u of run set %s: %zu of %zu units\n", rs.shard_index,
                rs.shard_count, rs.run_set, rs.n_mine, rs.n_units);
    mb_units_free(&rs);
    free(args);
    return 0;
}

const mb_command mb_command_plan = {
    "plan",
    "print the run's units (one line each, stable ids) for any runner",
    "usage: mapbench plan [--suite quick|full] [selection] [--metric LIST] [--shard I/N]\n"
    "                     [--run-set ID] [--jobs K] [--summary]\n"
    "  Prints the units `mapbench run` with the same flags executes, in the order it\n"
    "  runs them, tab-separated: id, kind, alone|K-wide, the cost estimate in seconds,\n"
    "  the child's command line (time and go-threads units: the first process's).\n"
    "  Same flags, same ids, same order.  Units that time something (time, floor,\n"
    "  go-threads, latency, churn, thrash, go-memory) run alone under --jobs K;\n"
    "  memory, calibrate and icount run K wide.\n"
    "  --shard I/N  only the units of shard I of N (LPT over the cost estimates)\n"
    "  --summary    per kind: units, alone or K-wide, estimated seconds; and the\n"
    "               serial and --jobs K estimates\n"
    "  Every selection flag of `mapbench run` applies (mapbench run --help).\n",
    mb_cmd_plan,
};
