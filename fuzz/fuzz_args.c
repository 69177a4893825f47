/*
 * fuzz_args.c — libFuzzer target for the argument parsers every command
 * shares: mb_flag_value, mb_parse_count (base/args.c), the selection flags
 * (plan/selection.c: --impl, --n, --phase, --blueprint, --dist, --allocator,
 * --threads, --hints, --seed, --reps, --processes) and one case's flags
 * (mb_case_arg).
 *
 * The input is a command line: arguments separated by NUL or newline bytes,
 * after "mapbench run".  A usage error is a correct answer to bad input: the
 * fuzz build of args.c (-DMB_FUZZ) returns it here by longjmp instead of
 * exit(2).  What the fuzzer looks for is everything else: a crash, an
 * out-of-bounds access, undefined behaviour (ASan/UBSan), or a parse that
 * leaves the selection holding more than its arrays can.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "plan.h"

jmp_buf mb_fuzz_usage_jmp;
FILE *mb_fuzz_usage_out;

static const mb_command fz_cmd = { "run", NULL, "usage: (fuzz)\n", NULL };

#define FZ_MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* every usage error prints its usage: formatted, then dropped */
    mb_fuzz_usage_out = getenv("MB_FUZZ_VERBOSE") ? stderr : fopen("/dev/null", "w");
    return mb_fuzz_usage_out ? 0 : 1;
}

/* Checks what a parse left behind: every count within its array. */
static void fz_check(const mb_selection *s)
{
    if (s->n_impls > 64 || s->n_sizes > 32 || s->n_blueprints > 8 || s->n_dists > 4 ||
        s->n_hints > 4 || s->n_threads > 8 || s->n_allocators > 4 ||
        s->n_phases > MB_PHASE_COUNT_)
        abort();
    for (size_t k = 0; k < s->n_sizes; k++)
        if (s->sizes[k] == 0)
            abort();
    for (size_t a = 0; a < s->n_sizes; a++) /* duplicates are refused at parse time */
        for (size_t b = a + 1; b < s->n_sizes; b++)
            if (s->sizes[a] == s->sizes[b])
                abort();
    for (size_t a = 0; a < s->n_impls; a++)
        for (size_t b = a + 1; b < s->n_impls; b++)
            if (s->impls[a] == s->impls[b])
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    char *argv[FZ_MAX_ARGS + 3];
    int argc = 0;
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    argv[argc++] = "mapbench";
    argv[argc++] = "run";
    for (char *p = buf; argc < FZ_MAX_ARGS + 2;) {
        argv[argc++] = p;
        p += strcspn(p, "\n");
        if (p >= buf + size || !*p)
            break;
        *p++ = 0;
    }
    argv[argc] = NULL;

    static mb_selection sel; /* static: longjmp may skip past it */
    static mb_case_args ca;
    if (setjmp(mb_fuzz_usage_jmp) == 0) {
        mb_selection_suite(&sel, (size & 1) ? "full" : "quick");
        for (int i = 2; i < argc; i++) {
            const char *v;
            if (mb_selection_flag(&sel, argc, argv, &i, &fz_cmd))
                continue;
            if ((v = mb_flag_value(argc, argv, &i, "--count", &fz_cmd)))
                (void)mb_parse_count(v, "--count", &fz_cmd);
        }
        fz_check(&sel);
    }
    if (setjmp(mb_fuzz_usage_jmp) == 0) {
        mb_case_args_init(&ca);
        for (int i = 2; i < argc; i++)
            (void)mb_case_arg(&ca, argc, argv, &i, &fz_cmd);
    }
    free(buf);
    return 0;
}
