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

static int mb_cmd_churn_case(int argc, char **argv)
{
    const mb_command *cmd = &mb_command_churn_case;
    mb_case_args args;
    size_t rounds = 10;

    mb_inline_case_args(&args, argc, argv, cmd, "--rounds", &rounds);
    const mb_map_ops *ops = args.ops;
    const mb_blueprint *bp = args.bp;
    size_t n = args.n;
    if (rounds < 1)
        mb_usage_error(cmd, "--rounds must be at least 1");
    if (rounds > ((size_t)1 << 40) / n)
        mb_usage_error(cmd, "--rounds x --n is too large");
    mb_map_config cfg;
    if (!mb_case_config(ops, bp, 0, args.seed, &cfg))
        mb_usage_error(cmd, "%s does not support blueprint %s", ops->name, bp->name);

    mb_probe_case pc;
    const char *why = mb_case_open(&pc, ops, bp, args.dist, n, 0, args.seed);
    if (why) {
        fprintf(stderr, "mapbench: churn-case %s: %s\n", ops->name, why);
        return 1;
    }
    size_t total = rounds * n, every = n / 4 ? n / 4 : 1;
    char msg[MB_ERR_LEN];

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
    "                           [--seed S]\n"
    "  Fills the map with N keys, then R*N steps (default R = 10) of insert-one-new,\n"
    "  remove-the-oldest at constant size; every N/4 steps prints ns per step and the\n"
    "  map's count, capacity, tombstones, probe lengths and live bytes (C lines).\n",
    mb_cmd_churn_case,
};
