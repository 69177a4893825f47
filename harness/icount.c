/*
 * icount.c — instruction counts of the measured phase, under callgrind.
 *
 * `mapbench run --metric icount` runs, per case, a fresh
 *   valgrind --tool=callgrind --collect-atstart=no mapbench icount-case ...
 * The child builds the map with collection off, turns it on around the
 * measured phase only (CALLGRIND_TOGGLE_COLLECT), verifies the checksum, and
 * prints "I <tab> ops".  The parent reads the total Ir from the callgrind
 * output file.  The count does not depend on what else the machine is doing,
 * which is why the gate can trust it where it cannot trust wall time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include "../impls/counting_alloc.h"
#include "cli.h"

int mb_cmd_icount_case(int argc, char **argv)
{
    mb_selection sel;
    mb_selection_suite(&sel, "quick");
    size_t hint = 0;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (mb_is_help(argv[i])) {
            mb_print_usage(stdout, "icount-case");
            return 0;
        }
        if ((v = mb_flag_value(argc, argv, &i, "--hint", "icount-case")))
            hint = mb_parse_count(v, "--hint", "icount-case");
        else if (!mb_selection_flag(&sel, argc, argv, &i, "icount-case"))
            mb_usage_error("icount-case", "unknown argument '%s'", argv[i]);
    }
    if (sel.n_impls != 1 || sel.n_phases != 1 || sel.n_sizes != 1 || sel.n_blueprints != 1 ||
        sel.n_dists != 1)
        mb_usage_error("icount-case", "needs exactly one --impl, --phase, --n, --blueprint, --dist");
    const mb_map_ops *ops = sel.impls[0];
    mb_phase phase = sel.phases[0];
    size_t n = sel.sizes[0];
    if (phase == MB_PHASE_MIXED_RW)
        mb_usage_error("icount-case", "mixed_rw is threaded: its count is not deterministic");
    mb_map_config cfg;
    if (!mb_case_config(ops, sel.blueprints[0], hint, sel.seed, &cfg))
        mb_usage_error("icount-case", "%s does not support that blueprint", ops->name);

    mb_counter ctr;
    mb_counter_init(&ctr);
    mb_alloc a = mb_counter_alloc(&ctr);
    mb_stream s;
    mb_objects objs;
    mb_counter obj_ctr;
    if (mb_stream_for(&s, &objs, &obj_ctr, sel.blueprints[0], sel.dists[0], sel.seed, 2 * n) != 0) {
        fprintf(stderr, "mapbench: out of memory for the objects\n");
        return 1;
    }
    void *m = ops->create(&a, &cfg);
    if (!m) {
        fprintf(stderr, "mapbench: create failed\n");
        return 1;
    }
    if (phase != MB_PHASE_INSERT) {
        mb_phase_result r = mb_run_phase(ops, m, &s, MB_PHASE_INSERT, n);
        if (r.error) {
            fprintf(stderr, "mapbench: building the map: %s\n", r.error);
            return 1;
        }
    }
    /* the phases that exist only as lean loops (workload.h) count their timed
     * part alone: keys, and the cold phase's copies, are made before collecting */
    mb_phase_result r;
    if (phase == MB_PHASE_LOOKUP_HIT_DEPENDENT || phase == MB_PHASE_LOOKUP_HIT_COLD) {
        mb_prepared pp;
        if (mb_phase_prepare(&pp, ops, &s, phase, n) == 0) {
            CALLGRIND_TOGGLE_COLLECT;
            mb_phase_run_prepared(&pp, m);
            CALLGRIND_TOGGLE_COLLECT;
        }
        r = mb_phase_verify(&pp);
        mb_phase_release(&pp);
    } else {
        CALLGRIND_TOGGLE_COLLECT;
        r = mb_run_phase(ops, m, &s, phase, n);
        CALLGRIND_TOGGLE_COLLECT;
    }
    if (r.error || mb_map_count(ops, m) != mb_phase_count_after(phase, n)) {
        printf("E\t%s\n", r.error ? r.error : "wrong entry count after the phase");
        fprintf(stderr, "mapbench: %s %s n=%zu: %s\n", ops->name, mb_phase_name(phase), n,
                r.error ? r.error : "wrong entry count after the phase");
        return 1;
    }
    ops->destroy(m);
    mb_stream_done(&s);
    printf("I\t%zu\n", r.ops);
    return 0;
}

typedef struct ic_child {
    long long ops;
    int failed;
} ic_child;

static void ic_line(void *ud, char *line)
{
    ic_child *c = ud;
    if (strncmp(line, "I\t", 2) == 0)
        c->ops = atoll(line + 2);
    else if (strncmp(line, "E\t", 2) == 0)
        c->failed = 1;
}

int mb_icount_measure(const mb_case *c, uint64_t seed, long long *instructions, long long *ops,
                      char *err, size_t errlen)
{
    char exe[4096], out[64], outflag[96], nbuf[32], hbuf[32], sbuf[32];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        snprintf(err, errlen, "cannot find my own executable");
        return -1;
    }
    exe[len] = 0;
    snprintf(out, sizeof out, "/tmp/mapbench-callgrind-%d.XXXXXX", (int)getpid());
    int fd = mkstemp(out);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file");
        return -1;
    }
    close(fd);
    snprintf(outflag, sizeof outflag, "--callgrind-out-file=%s", out);
    snprintf(nbuf, sizeof nbuf, "%zu", c->n);
    snprintf(hbuf, sizeof hbuf, "%zu", c->hint);
    snprintf(sbuf, sizeof sbuf, "%llu", (unsigned long long)seed);
    char *args[] = { "valgrind", "--tool=callgrind", "--collect-atstart=no", "--quiet",
                     outflag, exe, "icount-case", "--impl", (char *)c->ops->name,
                     "--phase", (char *)mb_phase_name(c->phase), "--blueprint",
                     (char *)c->bp->name, "--dist", (char *)mb_dist_name(c->dist), "--n", nbuf,
                     "--hint", hbuf, "--seed", sbuf, NULL };
    ic_child ch = { -1, 0 };
    int st = mb_run_child("/usr/bin/valgrind", args, ic_line, &ch);
    long long total = -1;
    FILE *f = fopen(out, "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "totals:", 7) == 0 || strncmp(line, "summary:", 8) == 0)
                total = atoll(strchr(line, ':') + 1);
        fclose(f);
    }
    unlink(out);
    if (st != 0 || ch.failed || ch.ops <= 0 || total < 0) {
        snprintf(err, errlen, "callgrind run failed (exit %d%s)", st,
                 ch.failed ? ", wrong checksum" : total < 0 ? ", no totals" : "");
        return -1;
    }
    *instructions = total;
    *ops = ch.ops;
    return 0;
}
