/*
 * churn.c — `mapbench churn-case`: a map held at constant size while its
 * keys turn over, sampled along the way.
 *
 * Insert-N-then-measure never shows what a long-lived map looks like: an
 * open-addressing table with tombstones fills up with them under churn until
 * a purge (same-size rehash) clears them; a map may also grow under churn
 * although its live count never changes.  This case shows both over time.
 *
 * Script, over keys of one stream (mb_key_at):
 *   fill    insert keys [0, n) (untimed; every insert must be new)
 *   churn   rounds * n steps; step i inserts key n + i (must be new) and
 *           removes key i (must be found): a sliding window of n live keys
 *   verify  look up the live window [rounds*n, rounds*n + n) with values
 *           checked, look up the n most recently removed keys (none may be
 *           found), check(), destroy (no live bytes may remain)
 *
 * ONE OP = ONE STEP (an insert and a remove).  ops_done counts steps, so it
 * ends at rounds * n, and ns_per_op_since_last is the wall time
 * (CLOCK_MONOTONIC) of the steps since the previous C line divided by their
 * number: the cost of an insert plus a remove, including building the two
 * keys' bytes, as in every other timed phase.  The map's stats (which may
 * walk the whole map) are read between chunks, outside the timing.
 *
 * Output (tab-separated; lines starting with '#' are comments or headers):
 *   # free text: the case and the definition of an op
 *   #C  ops_done  ns_per_op_since_last  count  capacity  tombstones  mean_probe
 *       max_probe  map_live_bytes
 *   C   one line after the fill (ops_done 0, ns_per_op_since_last NA), then
 *       one every max(1, n/4) steps, and one after the last step if that is
 *       not already on the n/4 grid
 *   E   message                          (only on a failed check)
 * count..max_probe come from ops->stats (NA where the map reports MB_NA, or a
 * negative mean_probe); map_live_bytes is the counting allocator's live bytes
 * (bytes a peer allocates outside mb_alloc are not in it; see its traits).
 * Every C line has count == n or the case fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

/* A map stat, NA where the map does not measure it. */
static void churn_put_stat(mb_rec_out *o, size_t v)
{
    mb_rec_count(o, v == MB_NA ? -1 : (long long)v);
}

/* Prints one C line.  Returns NULL, or why the sample is wrong. */
static const char *churn_sample(const mb_map_ops *ops, void *m, const mb_counter *ctr, size_t n,
                             size_t ops_done, size_t steps, uint64_t ns)
{
    mb_map_stats st;
    ops->stats(m, &st);
    mb_rec_out o;
    mb_rec_begin(&o, stdout, &mb_rec_churn);
    mb_rec_int(&o, (long long)ops_done);
    if (steps)
        mb_rec_real(&o, (double)ns / (double)steps);
    else
        mb_rec_na(&o);
    churn_put_stat(&o, st.count);
    churn_put_stat(&o, st.capacity);
    churn_put_stat(&o, st.tombstones);
    if (st.mean_probe < 0)
        mb_rec_na(&o);
    else
        mb_rec_real(&o, st.mean_probe);
    churn_put_stat(&o, st.max_probe);
    mb_rec_int(&o, (long long)ctr->live_bytes);
    churn_put_stat(&o, st.grow_events);
    churn_put_stat(&o, st.shrink_events);
    mb_rec_end(&o);
    return st.count == n ? NULL : "the map's count is not n at a sample";
}

/* Runs steps [from, to) of the churn.  Returns the number of inserts that were
 * not new plus removes that were not found (0 when all is well); *first names
 * the first such step. */
static size_t churn_steps(const mb_map_ops *ops, void *m, const mb_stream *s, size_t n, size_t from,
                       size_t to, size_t *first)
{
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    size_t wrong = 0;
    for (size_t i = from; i < to; i++) {
        uint64_t k = mb_key_at(s, n + i);
        mb_fill_bytes(k, key, s->key_bytes);
        mb_fill_bytes(mb_val_for(k), val, s->val_bytes);
        int bad = ops->insert(m, key, val) != MB_INSERTED;
        mb_fill_bytes(mb_key_at(s, i), key, s->key_bytes);
        bad |= ops->remove(m, key) != MB_FOUND;
        if (bad && wrong++ == 0)
            *first = i;
    }
    return wrong;
}

static int churn_fail(const mb_map_ops *ops, size_t n, const char *what, const char *why)
{
    printf("E\t%s: %s\n", what, why);
    fprintf(stderr, "mapbench: churn-case %s n=%zu: %s: %s\n", ops->name, n, what, why);
    return 1;
}

/* ---- thrash: oscillating around a shrink boundary ------------------------------------- */

/* Inserts (insert = 1) or removes keys [lo, hi) of the stream; every insert
 * must be new and every remove found.  Returns NULL, or what was wrong. */
static const char *churn_keys(const mb_map_ops *ops, void *m, const mb_stream *s, size_t lo,
                              size_t hi, int insert)
{
    unsigned char key[MB_KEY_MAX_BYTES], val[MB_VAL_MAX_BYTES];
    for (size_t i = lo; i < hi; i++) {
        uint64_t k = mb_key_at(s, i);
        mb_fill_bytes(k, key, s->key_bytes);
        mb_fill_bytes(mb_val_for(k), val, s->val_bytes);
        if (insert ? ops->insert(m, key, val) != MB_INSERTED : ops->remove(m, key) != MB_FOUND)
            return insert ? "an insert was not new" : "a remove did not find its key";
    }
    return NULL;
}

/* A counter as a record value: NA where the map does not count it. */
static long long churn_count(size_t v)
{
    return v == MB_NA ? -1 : (long long)v;
}

/* Oscillates keys [lo, hi) (absent when called): cycles x (insert them all,
 * remove them all), timed; prints one T line.  The map ends as it started. */
static const char *churn_oscillate(const mb_map_ops *ops, void *m, const mb_stream *s,
                                   const char *boundary, size_t lo, size_t hi)
{
    size_t w = hi - lo, cycles = 1000000 / (2 * w) > 200 ? 1000000 / (2 * w) : 200;
    size_t live = mb_map_count(ops, m);
    mb_map_stats before, after, low, high;
    const char *why = NULL;
    ops->stats(m, &before);
    uint64_t t0 = mb_now_ns();
    for (size_t c = 0; c < cycles && !why; c++) {
        why = churn_keys(ops, m, s, lo, hi, 1);
        if (!why)
            why = churn_keys(ops, m, s, lo, hi, 0);
    }
    uint64_t ns = mb_now_ns() - t0;
    if (why)
        return why;
    ops->stats(m, &after);
    /* one more cycle, untimed, for the capacity at its top and bottom */
    if ((why = churn_keys(ops, m, s, lo, hi, 1)))
        return why;
    ops->stats(m, &high);
    if ((why = churn_keys(ops, m, s, lo, hi, 0)))
        return why;
    ops->stats(m, &low);
    if (mb_map_count(ops, m) != live)
        return "the oscillation changed the live count";
    if ((why = ops->check(m)))
        return why;
    mb_rec_out o;
    mb_rec_begin(&o, stdout, &mb_rec_thrash);
    mb_rec_text(&o, boundary);
    mb_rec_int(&o, (long long)live);
    mb_rec_int(&o, (long long)w);
    mb_rec_int(&o, (long long)cycles);
    mb_rec_real(&o, (double)ns / (double)(2 * w * cycles));
    /* the events of the timed cycles */
    int counted = before.grow_events != MB_NA && after.grow_events != MB_NA;
    mb_rec_count(&o, counted ? (long long)(after.grow_events - before.grow_events) : -1);
    counted = before.shrink_events != MB_NA && after.shrink_events != MB_NA;
    mb_rec_count(&o, counted ? (long long)(after.shrink_events - before.shrink_events) : -1);
    mb_rec_count(&o, churn_count(low.capacity));
    mb_rec_count(&o, churn_count(high.capacity));
    mb_rec_end(&o);
    return NULL;
}

/* --thrash: fill n keys, remove them in order until the map first shrinks
 * (never: until n/8 are live), oscillate the last removed keys there; then
 * remove the rest and oscillate a few keys around the empty map. */
static const char *churn_thrash(mb_probe_case *pc)
{
    const mb_map_ops *ops = pc->ops;
    void *m = pc->map;
    const mb_stream *s = &pc->stream;
    size_t n = pc->n, b = 0;
    mb_map_stats st;
    const char *why = churn_keys(ops, m, s, 0, n, 1);
    if (why)
        return why;
    ops->stats(m, &st);
    size_t shrinks0 = st.shrink_events;
    int low_water = pc->cfg.shrink == MB_SHRINK_LOW_WATER && shrinks0 != MB_NA;
    for (b = 0; b < n; b++) {
        if ((why = churn_keys(ops, m, s, b, b + 1, 0)))
            return why;
        if (!low_water) {
            if (n - b - 1 <= n / 8)
                break;
            continue;
        }
        ops->stats(m, &st);
        if (st.shrink_events != shrinks0)
            break;
    }
    size_t live = n - (b < n ? b + 1 : n);
    if (b < n) {
        size_t w = live / 32 ? live / 32 : 1;
        if (w > b + 1)
            w = b + 1;
        if ((why = churn_oscillate(ops, m, s, "first-shrink", b + 1 - w, b + 1)))
            return why;
        if ((why = churn_keys(ops, m, s, b + 1, n, 0)))
            return why;
    }
    size_t w = n < 8 ? n : 8;
    return churn_oscillate(ops, m, s, "empty", 0, w);
}

/* Removes every argv[i] equal to flag (a switch the shared parser does not
 * know).  Returns 1 when there was one. */
static int churn_take_switch(int *argc, char **argv, const char *flag)
{
    int found = 0;
    for (int i = 2; i < *argc; i++)
        if (strcmp(argv[i], flag) == 0) {
            found = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof *argv);
            (*argc)--, i--;
        }
    return found;
}

/* churn-case --thrash on the opened case pc (closed here).  Returns the exit status. */
static int churn_thrash_case(mb_probe_case *pc)
{
    printf("# churn-case --thrash impl=%s n=%zu shrink=%s: one op = one insert or one "
           "remove of a key window oscillated at a boundary\n", pc->ops->name, pc->n,
           mb_shrink_name(pc->cfg.shrink));
    mb_rec_header(stdout, &mb_rec_thrash);
    const char *why = mb_case_build(pc, MB_PHASE_INSERT);
    if (!why)
        why = churn_thrash(pc);
    mb_case_close(pc);
    if (!why && pc->ctr.live_bytes != 0)
        why = "destroy left bytes live";
    return why ? churn_fail(pc->ops, pc->n, "thrash", why) : 0;
}

static int mb_cmd_churn_case(int argc, char **argv)
{
    const mb_command *cmd = &mb_command_churn_case;
    mb_case_args args;
    size_t rounds = 10;
    int thrash = churn_take_switch(&argc, argv, "--thrash");
    mb_inline_case_args(&args, argc, argv, cmd, "--rounds", &rounds);
    const mb_map_ops *ops = args.ops;
    const mb_blueprint *bp = args.bp;
    size_t n = args.n;
    if (rounds < 1)
        mb_usage_error(cmd, "--rounds must be at least 1");
    if (rounds > ((size_t)1 << 40) / n)
        mb_usage_error(cmd, "--rounds x --n is too large");
    mb_map_config cfg;
    if (!mb_case_config(ops, bp, 0, args.shrink, args.seed, &cfg))
        mb_usage_error(cmd, "%s does not support blueprint %s with shrink %s", ops->name, bp->name,
                       mb_shrink_name(args.shrink));

    mb_probe_case pc;
    const char *why = mb_case_open(&pc, ops, bp, args.dist, n, 0, args.shrink, args.seed);
    if (why) {
        fprintf(stderr, "mapbench: churn-case %s: %s\n", ops->name, why);
        return 1;
    }
    size_t total = rounds * n, every = n / 4 ? n / 4 : 1;
    char msg[MB_ERR_LEN];
    if (thrash)
        return churn_thrash_case(&pc);

    printf("# churn-case impl=%s n=%zu rounds=%zu blueprint=%s dist=%s seed=%llu\n", ops->name,
           n, rounds, bp->name, mb_dist_name(args.dist), (unsigned long long)args.seed);
    printf("# one op = one step = insert key n+i (new) + remove key i (present); "
           "ns_per_op_since_last = wall ns of the steps since the previous C line / steps\n");
    mb_rec_header(stdout, &mb_rec_churn);
    if ((why = mb_case_build(&pc, MB_PHASE_INSERT))) { /* an empty map */
        fprintf(stderr, "mapbench: churn-case %s: %s\n", ops->name, why);
        return 1;
    }
    void *m = pc.map;
    const mb_stream *s = &pc.stream;
    const mb_counter *ctr = &pc.ctr;
    why = mb_run_phase_range(ops, m, s, MB_PHASE_INSERT, 0, n).error;
    if (!why)
        why = churn_sample(ops, m, ctr, n, 0, 0, 0);
    if (why) {
        mb_case_close(&pc);
        return churn_fail(ops, n, "fill", why);
    }
    for (size_t done = 0; done < total;) {
        size_t to = done + every < total ? done + every : total, first = 0;
        uint64_t t0 = mb_now_ns();
        size_t wrong = churn_steps(ops, m, s, n, done, to, &first);
        uint64_t ns = mb_now_ns() - t0;
        if (wrong) {
            snprintf(msg, sizeof msg,
                     "%zu steps with an insert not new or a remove not found (first: step %zu)",
                     wrong, first);
            why = msg;
        } else {
            why = churn_sample(ops, m, ctr, n, to, to - done, ns);
        }
        if (why) {
            mb_case_close(&pc);
            return churn_fail(ops, n, "churn", why);
        }
        done = to;
    }
    /* The live window must hold the right values and the removed keys none. */
    why = mb_run_phase_range(ops, m, s, MB_PHASE_LOOKUP_HIT, total, total + n).error;
    if (why)
        snprintf(msg, sizeof msg, "lookup of the live window: %s", why), why = msg;
    if (!why && (why = mb_run_phase_range(ops, m, s, MB_PHASE_LOOKUP_MISS, total - n, total).error))
        snprintf(msg, sizeof msg, "lookup of the last %zu removed keys: %s", n, why), why = msg;
    if (!why && (why = ops->check(m)))
        snprintf(msg, sizeof msg, "check: %s", why), why = msg;
    mb_case_close(&pc);
    if (!why && ctr->live_bytes != 0)
        snprintf(msg, sizeof msg, "destroy left %lld bytes live", (long long)ctr->live_bytes),
            why = msg;
    return why ? churn_fail(ops, n, "verify", why) : 0;
}

const mb_command mb_command_churn_case = {
    "churn-case",
    "insert+remove at constant size: tombstones, probes over time",
    "usage: mapbench churn-case --impl NAME --n N [--rounds R] [--blueprint B] [--dist D]\n"
    "                           [--seed S] [--shrink never|low-water] [--thrash]\n"
    "  Fills the map with N keys, then R*N steps (default R = 10) of insert-one-new,\n"
    "  remove-the-oldest at constant size; every N/4 steps prints ns per step and the\n"
    "  map's count, capacity, tombstones, probe lengths and live bytes (C lines).\n"
    "  --thrash: fill N, remove keys until the map first shrinks (never: N/8 live),\n"
    "  insert and remove the last removed keys there over and over, then the same\n"
    "  with a few keys around the empty map: ns/op, grow and shrink events (T lines).\n",
    mb_cmd_churn_case,
};
