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

#include "../impls/counting_alloc.h"
#include "cli.h"

static void ch_put_stat(size_t v)
{
    if (v == MB_NA)
        fputs("\tNA", stdout);
    else
        printf("\t%zu", v);
}

/* Prints one C line.  Returns NULL, or why the sample is wrong. */
static const char *ch_sample(const mb_map_ops *ops, void *m, const mb_counter *ctr, size_t n,
                             size_t ops_done, size_t steps, uint64_t ns)
{
    mb_map_stats st;
    ops->stats(m, &st);
    printf("C\t%zu", ops_done);
    if (steps)
        printf("\t%.1f", (double)ns / (double)steps);
    else
        fputs("\tNA", stdout);
    ch_put_stat(st.count);
    ch_put_stat(st.capacity);
    ch_put_stat(st.tombstones);
    if (st.mean_probe < 0)
        fputs("\tNA", stdout);
    else
        printf("\t%.3f", st.mean_probe);
    ch_put_stat(st.max_probe);
    printf("\t%lld\n", (long long)ctr->live_bytes);
    fflush(stdout);
    return st.count == n ? NULL : "the map's count is not n at a sample";
}

/* Runs steps [from, to) of the churn.  Returns the number of inserts that were
 * not new plus removes that were not found (0 when all is well); *first names
 * the first such step. */
static size_t ch_steps(const mb_map_ops *ops, void *m, const mb_stream *s, size_t n, size_t from,
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

static int ch_fail(const mb_map_ops *ops, size_t n, const char *what, const char *why)
{
    printf("E\t%s: %s\n", what, why);
    fprintf(stderr, "mapbench: churn-case %s n=%zu: %s: %s\n", ops->name, n, what, why);
    return 1;
}

int mb_cmd_churn_case(int argc, char **argv)
{
    const char *cmd = "churn-case";
    mb_case_args args;
    size_t rounds = 10;
    mb_case_args_init(&args);

    for (int i = 2; i < argc; i++) {
        const char *v;
        if (mb_is_help(argv[i])) {
            mb_print_usage(stdout, cmd);
            return 0;
        }
        if ((v = mb_flag_value(argc, argv, &i, "--rounds", cmd))) {
            rounds = mb_parse_count(v, "--rounds", cmd);
        } else if (!mb_case_arg(&args, argc, argv, &i, cmd)) {
            mb_usage_error(cmd, "unknown argument '%s'", argv[i]);
        }
    }
    if (!args.ops || args.n < 1)
        mb_usage_error(cmd, "needs --impl NAME and --n N (N >= 1)");
    if (args.bp->object_bytes)
        mb_usage_error(cmd, "pointer-value blueprints are measured by mem-case and time only");
    const mb_map_ops *ops = args.ops;
    const mb_blueprint *bp = args.bp;
    mb_dist dist = args.dist;
    size_t n = args.n;
    uint64_t seed = args.seed;
    if (rounds < 1)
        mb_usage_error(cmd, "--rounds must be at least 1");
    if (rounds > ((size_t)1 << 40) / n)
        mb_usage_error(cmd, "--rounds x --n is too large");
    mb_map_config cfg;
    if (!mb_case_config(ops, bp, 0, seed, &cfg))
        mb_usage_error(cmd, "%s does not support blueprint %s", ops->name, bp->name);

    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc a = mb_counter_alloc(&ctr);
    mb_stream s = { .dist = dist, .seed = seed, .key_bytes = bp->key_bytes, .val_bytes = bp->val_bytes };
    size_t total = rounds * n, every = n / 4 ? n / 4 : 1;
    char msg[MB_ERR_LEN];

    printf("# churn-case impl=%s n=%zu rounds=%zu blueprint=%s dist=%s seed=%llu\n", ops->name,
           n, rounds, bp->name, mb_dist_name(dist), (unsigned long long)seed);
    printf("# one op = one step = insert key n+i (new) + remove key i (present); "
           "ns_per_op_since_last = wall ns of the steps since the previous C line / steps\n");
    printf("#C\tops_done\tns_per_op_since_last\tcount\tcapacity\ttombstones\tmean_probe"
           "\tmax_probe\tmap_live_bytes\n");
    void *m = ops->create(&a, &cfg);
    if (!m) {
        fprintf(stderr, "mapbench: churn-case %s: create failed\n", ops->name);
        return 1;
    }
    const char *why = mb_run_phase_range(ops, m, &s, MB_PHASE_INSERT, 0, n).error;
    if (!why)
        why = ch_sample(ops, m, &ctr, n, 0, 0, 0);
    if (why) {
        ops->destroy(m);
        return ch_fail(ops, n, "fill", why);
    }
    for (size_t done = 0; done < total;) {
        size_t to = done + every < total ? done + every : total, first = 0;
        uint64_t t0 = mb_now_ns();
        size_t wrong = ch_steps(ops, m, &s, n, done, to, &first);
        uint64_t ns = mb_now_ns() - t0;
        if (wrong) {
            snprintf(msg, sizeof msg,
                     "%zu steps with an insert not new or a remove not found (first: step %zu)",
                     wrong, first);
            why = msg;
        } else {
            why = ch_sample(ops, m, &ctr, n, to, to - done, ns);
        }
        if (why) {
            ops->destroy(m);
            return ch_fail(ops, n, "churn", why);
        }
        done = to;
    }
    /* The live window must hold the right values and the removed keys none. */
    why = mb_run_phase_range(ops, m, &s, MB_PHASE_LOOKUP_HIT, total, total + n).error;
    if (why)
        snprintf(msg, sizeof msg, "lookup of the live window: %s", why), why = msg;
    if (!why && (why = mb_run_phase_range(ops, m, &s, MB_PHASE_LOOKUP_MISS, total - n, total).error))
        snprintf(msg, sizeof msg, "lookup of the last %zu removed keys: %s", n, why), why = msg;
    if (!why && (why = ops->check(m)))
        snprintf(msg, sizeof msg, "check: %s", why), why = msg;
    ops->destroy(m);
    if (!why && ctr.live_bytes != 0)
        snprintf(msg, sizeof msg, "destroy left %lld bytes live", (long long)ctr.live_bytes),
            why = msg;
    return why ? ch_fail(ops, n, "verify", why) : 0;
}
