/*
 * fuzz_record.c — libFuzzer target for the child-protocol reader
 * (base/record.c: mb_rec_parse), the code that reads every line a child
 * prints before the parent stores it.
 *
 * The first input byte picks which kinds the reader expects (as the parent
 * does per child: S; M and G; L and H; C; K; I); the rest are lines.  For
 * every record the reader returns, each value must be NULL or point into the
 * line it came from, and there must be exactly the kind's column count.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mb_rec_kind *const sets[][3] = {
        { &mb_rec_sample, NULL, NULL }, { &mb_rec_mem, &mb_rec_go, NULL },
        { &mb_rec_latency, &mb_rec_bucket, NULL }, { &mb_rec_churn, NULL, NULL },
        { &mb_rec_calib, NULL, NULL }, { &mb_rec_icount, NULL, NULL },
    };
    if (size < 1)
        return 0;
    mb_rec_reader r;
    mb_rec_reader_init(&r, sets[data[0] % (sizeof sets / sizeof *sets)]);
    char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    for (char *line = buf; line < buf + size - 1;) {
        char *nl = memchr(line, '\n', (size_t)(buf + size - 1 - line));
        char *end = nl ? nl : buf + size - 1;
        *end = 0;
        const char *vals[MB_REC_MAX_COLS], *err;
        size_t len = strlen(line);
        const mb_rec_kind *k = mb_rec_parse(&r, line, vals, &err);
        if (k && err)
            abort();
        if (k) {
            if (k->n_cols > MB_REC_MAX_COLS)
                abort();
            for (size_t c = 0; c < k->n_cols; c++)
                if (vals[c] && (vals[c] < line || vals[c] > line + len))
                    abort();
        }
        line = end + 1;
    }
    free(buf);
    return 0;
}
