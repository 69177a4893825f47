/*
 * icount.c (run) — instruction counts of the measured phase, under callgrind:
 * the parent side.  Per case, a fresh
 *   valgrind --tool=callgrind --collect-atstart=no mapbench icount-case ...
 * (probe/icount_case.c is the child); the total Ir comes from the callgrind
 * output file, the op count from the child's I record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_internal.h"

typedef struct ic_child {
    mb_rec_reader reader;
    long long ops;
    int failed;
} ic_child;

static void icount_on_line(void *ud, char *line)
{
    ic_child *c = ud;
    const char *vals[MB_REC_MAX_COLS], *err;
    const mb_rec_kind *k = mb_rec_parse(&c->reader, line, vals, &err);
    if (err || c->reader.failures)
        c->failed = 1;
    else if (k == &mb_rec_icount && vals[0])
        c->ops = atoll(vals[0]);
}

/* Instruction counts must not depend on who started the run.  The client's
 * stack starts below its argument and environment strings, so their total
 * length moves every stack address, and glibc's string and memory routines
 * branch on where a load falls in its page: an extra variable in the
 * caller's environment (GNU parallel's PARALLEL_SEQ...) changed iterate's
 * count by up to 1 instruction per op.  So the child gets a fixed
 * environment, padded so that its strings, the argument strings and the
 * executable's name (which the kernel and valgrind also keep on the stack)
 * fill a whole number of 4 KiB pages.  Returns the padding variable
 * (malloc'd), or NULL when out of memory. */
static char *ic_pad(char *const *client_argv, const char *const *envp)
{
    static const char name[] = "MB_ICOUNT_PAD=";
    size_t total = strlen(client_argv[0]) + 1; /* the executable's name, once more */
    for (size_t i = 0; client_argv[i]; i++)
        total += strlen(client_argv[i]) + 1;
    for (size_t i = 0; envp[i]; i++)
        total += strlen(envp[i]) + 1;
    total += sizeof name; /* the variable's name and its terminator */
    size_t fill = (4096 - total % 4096) % 4096;
    char *pad = malloc(sizeof name + fill);
    if (pad) {
        memcpy(pad, name, sizeof name - 1);
        memset(pad + sizeof name - 1, 'x', fill);
        pad[sizeof name - 1 + fill] = 0;
    }
    return pad;
}

/* The callgrind child's environment: PATH, LC_ALL=C, this process's MB_*
 * variables (the project's own knobs, e.g. MB_PLANT, which are meant to change
 * what is counted), then the padding (malloc'd, last).  NULL when out of
 * memory. */
static char **ic_environment(char *const *client_argv)
{
    extern char **environ;
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 4, sizeof *envp);
    if (!envp)
        return NULL;
    envp[k++] = "PATH=/usr/bin:/bin";
    envp[k++] = "LC_ALL=C";
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "MB_", 3) == 0 && strncmp(environ[i], "MB_ICOUNT_PAD=", 14) != 0)
            envp[k++] = environ[i];
    if (!(envp[k] = ic_pad(client_argv, (const char *const *)envp))) {
        free(envp);
        return NULL;
    }
    return envp;
}

static void ic_free_environment(char **envp)
{
    if (!envp)
        return;
    size_t k = 0;
    while (envp[k + 1])
        k++;
    free(envp[k]); /* the padding, last */
    free(envp);
}

int mb_icount_measure(char *const *unit_argv, long long *instructions, long long *ops,
                      char *err, size_t errlen)
{
    char exe[4096], out[64], outflag[96];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0 || (size_t)len >= sizeof exe - 1) { /* readlink cuts without saying so */
        mb_errf(err, errlen, len <= 0 ? "cannot find my own executable"
                                       : "my own executable's path is too long");
        return -1;
    }
    exe[len] = 0;
    /* the unit's command line: valgrind and its 3 flags, "mapbench", the
     * case's icount-case arguments */
    size_t n = 0;
    while (unit_argv[n])
        n++;
    if (n < 6 || strcmp(unit_argv[4], "mapbench") != 0) {
        mb_errf(err, errlen, "not an icount unit's command line");
        return -1;
    }
    char **args = calloc(n + 2, sizeof *args);
    if (!args) {
        mb_errf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(out, sizeof out, "/tmp/mapbench-callgrind-%d.XXXXXX", (int)getpid());
    int fd = mkstemp(out);
    if (fd < 0) {
        mb_errf(err, errlen, "cannot create a temporary file");
        free(args);
        return -1;
    }
    close(fd);
    mb_spawn_temp_file(out); /* removed if the run is interrupted */
    snprintf(outflag, sizeof outflag, "--callgrind-out-file=%s", out);
    for (size_t i = 0; i < 4; i++)
        args[i] = unit_argv[i];
    args[4] = outflag;
    args[5] = exe;
    for (size_t i = 5; i < n; i++)
        args[i + 1] = unit_argv[i];
    ic_child ch = { .ops = -1 };
    static const mb_rec_kind *const kinds[] = { &mb_rec_icount, NULL };
    mb_rec_reader_init(&ch.reader, kinds);
    char **envp = ic_environment(args + 5);
    int st = envp ? mb_run_child_env(MB_VALGRIND_PATH, args, envp, icount_on_line, &ch) : -1;
    ic_free_environment(envp);
    long long total = -1;
    FILE *f = fopen(out, "r");
    if (f) {
        char *line = NULL; /* whole lines: a long function name is not cut into "lines" */
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0)
            if (strncmp(line, "totals:", 7) == 0 || strncmp(line, "summary:", 8) == 0)
                total = atoll(strchr(line, ':') + 1);
        free(line);
        fclose(f);
    }
    unlink(out);
    mb_spawn_temp_file(NULL);
    free(args);
    if (st != 0 || ch.failed || ch.ops <= 0 || total < 0) {
        mb_errf(err, errlen, "callgrind run failed (exit %d%s)", st,
                 ch.failed ? ", wrong checksum" : total < 0 ? ", no totals" : "");
        return -1;
    }
    *instructions = total;
    *ops = ch.ops;
    return 0;
}
