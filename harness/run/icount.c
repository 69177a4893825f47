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
    mb_spawn_temp_file(out); /* removed if the run is interrupted */
    snprintf(outflag, sizeof outflag, "--callgrind-out-file=%s", out);
    snprintf(nbuf, sizeof nbuf, "%zu", c->n);
    snprintf(hbuf, sizeof hbuf, "%zu", c->hint);
    snprintf(sbuf, sizeof sbuf, "%llu", (unsigned long long)seed);
    char *args[] = { "valgrind", "--tool=callgrind", "--collect-atstart=no", "--quiet",
                     outflag, exe, "icount-case", "--impl", (char *)c->ops->name,
                     "--phase", (char *)mb_phase_name(c->phase), "--blueprint",
                     (char *)c->bp->name, "--dist", (char *)mb_dist_name(c->dist), "--n", nbuf,
                     "--hint", hbuf, "--seed", sbuf, "--shrink",
                     (char *)mb_shrink_name(c->shrink), NULL };
    ic_child ch = { .ops = -1 };
    static const mb_rec_kind *const kinds[] = { &mb_rec_icount, NULL };
    mb_rec_reader_init(&ch.reader, kinds);
    int st = mb_run_child(MB_VALGRIND_PATH, args, icount_on_line, &ch);
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
    mb_spawn_temp_file(NULL);
    if (st != 0 || ch.failed || ch.ops <= 0 || total < 0) {
        snprintf(err, errlen, "callgrind run failed (exit %d%s)", st,
                 ch.failed ? ", wrong checksum" : total < 0 ? ", no totals" : "");
        return -1;
    }
    *instructions = total;
    *ops = ch.ops;
    return 0;
}
