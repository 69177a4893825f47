/*
 * icount_case.c — `mapbench icount-case`: the child that callgrind counts
 * (run/icount.c is the parent side).
 *
 * `mapbench run --metric icount` runs, per case, a fresh
 *   valgrind --tool=callgrind --collect-atstart=no mapbench icount-case ...
 * The child builds the map with collection off, turns it on around the
 * measured phase only (CALLGRIND_TOGGLE_COLLECT), verifies the checksum, and
 * prints an I record (its ops).  The parent reads the total Ir from the callgrind
 * output file.  The count does not depend on what else the machine is doing,
 * which is why the gate can trust it where it cannot trust wall time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include "probe.h"

static int mb_cmd_icount_case(int argc, char **argv)
{
    mb_selection sel;
    mb_selection_suite(&sel, "quick");
    size_t hint = 0;
    for (int i = 2; i < argc; i++) {
        const char *v;
        mb_help_exit(argv[i], &mb_command_icount_case);
        if ((v = mb_flag_value(argc, argv, &i, "--hint", &mb_command_icount_case)))
            hint = mb_parse_count(v, "--hint", &mb_command_icount_case);
        else if (!mb_selection_flag(&sel, argc, argv, &i, &mb_command_icount_case))
            mb_usage_error(&mb_command_icount_case, "unknown argument '%s'", argv[i]);
    }
    if (sel.n_impls != 1 || sel.n_phases != 1 || sel.n_sizes != 1 || sel.n_blueprints != 1 ||
        sel.n_dists != 1)
        mb_usage_error(&mb_command_icount_case, "needs exactly one --impl, --phase, --n, --blueprint, --dist");
    /* the map's policy: the first of --shrink (default never) */
    const mb_map_ops *ops = sel.impls[0];
    mb_phase phase = sel.phases[0];
    size_t n = sel.sizes[0];
    if (phase == MB_PHASE_MIXED_RW)
        mb_usage_error(&mb_command_icount_case, "mixed_rw is threaded: its count is not deterministic");
    mb_map_config cfg;
    if (!mb_case_config(ops, sel.blueprints[0], hint, sel.shrinks[0], sel.seed, &cfg))
        mb_usage_error(&mb_command_icount_case, "%s does not support that blueprint", ops->name);

    mb_probe_case pc;
    const char *err = mb_case_open(&pc, ops, sel.blueprints[0], sel.dists[0], n, hint, sel.shrinks[0],
                                   sel.seed);
    if (!err)
        err = mb_case_build(&pc, phase); /* collection is off: only the phase is counted */
    if (err) {
        fprintf(stderr, "mapbench: building the map: %s\n", err);
        return 1;
    }
    /* the phases that exist only as lean loops (workload.h) count their timed
     * part alone: keys, and the cold phase's copies, are made before collecting */
    mb_phase_result r;
    if (phase == MB_PHASE_LOOKUP_HIT_DEPENDENT || phase == MB_PHASE_LOOKUP_HIT_COLD) {
        mb_prepared pp;
        if (mb_phase_prepare(&pp, ops, &pc.stream, phase, n) == 0) {
            CALLGRIND_TOGGLE_COLLECT;
            mb_phase_run_prepared(&pp, pc.map);
            CALLGRIND_TOGGLE_COLLECT;
        }
        r = mb_phase_verify(&pp);
        mb_phase_release(&pp);
    } else {
        CALLGRIND_TOGGLE_COLLECT;
        r = mb_run_phase(ops, pc.map, &pc.stream, phase, n);
        CALLGRIND_TOGGLE_COLLECT;
    }
    if (r.error || mb_map_count(ops, pc.map) != mb_phase_count_after(phase, n)) {
        printf("E\t%s\n", r.error ? r.error : "wrong entry count after the phase");
        fprintf(stderr, "mapbench: %s %s n=%zu: %s\n", ops->name, mb_phase_name(phase), n,
                r.error ? r.error : "wrong entry count after the phase");
        return 1;
    }
    mb_case_close(&pc);
    mb_rec_out o;
    mb_rec_header(stdout, &mb_rec_icount);
    mb_rec_begin(&o, stdout, &mb_rec_icount);
    mb_rec_int(&o, (long long)r.ops);
    mb_rec_end(&o);
    return 0;
}

const mb_command mb_command_icount_case = {
    "icount-case",
    NULL, /* internal: run by `mapbench run --metric icount` */
    "usage: mapbench icount-case --impl NAME --phase P --n N [--hint H] [--blueprint B]\n"
    "                            [--dist D] [--seed S]\n"
    "  One case's measured phase with callgrind collection toggled on around it;\n"
    "  `mapbench run --metric icount` runs it under valgrind.\n",
    mb_cmd_icount_case,
};
