/*
 * rectest — the child protocol's reader binds values by column NAME.
 *
 * For every record kind: a header whose columns come in reverse order, with
 * an unknown column in the middle, then a record; each of the kind's columns
 * must read back the value written under its name.  Then the reader's other
 * promises: a column the header lacks and "NA" read as NULL (not measured),
 * a record before its header, with fewer or more fields than its header, or
 * with more fields than any record is an error, comments and E records are
 * not records.  Prints "ok: ..." and exits 0, or names the first failure and
 * exits 1.  Run by tests/test_records.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

static const mb_rec_kind *const rt_kinds[] = {
    &mb_rec_sample, &mb_rec_icount, &mb_rec_calib, &mb_rec_mem, &mb_rec_go,
    &mb_rec_latency, &mb_rec_bucket, &mb_rec_churn, &mb_rec_thrash, &mb_rec_gccost,
};

static int rt_failures;

static void rt_fail(const mb_rec_kind *k, const char *what)
{
    fprintf(stderr, "FAIL kind %s: %s\n", k->tag, what);
    rt_failures++;
}

/* Appends "\t" s to the growing line (fixed test buffer, checked). */
static void rt_append(char *line, size_t len, const char *s)
{
    size_t used = strlen(line);
    if (used + 1 + strlen(s) + 1 > len) {
        fprintf(stderr, "rectest: test line too long\n");
        exit(1);
    }
    line[used] = '\t';
    strcpy(line + used + 1, s);
}

/* The value written under column c: "v<c>" (the reader never types it). */
static void rt_value(char *buf, size_t len, size_t c)
{
    snprintf(buf, len, "v%zu", c);
}

/* Header reversed, an unknown column after the first; every column's value
 * must come back under its name. */
static void rt_reversed(const mb_rec_kind *k)
{
    const mb_rec_kind *one[] = { k, NULL };
    mb_rec_reader r;
    const char *vals[MB_REC_MAX_COLS], *err;
    char header[4096], rec[4096], v[32];
    mb_rec_reader_init(&r, one);
    snprintf(header, sizeof header, "%s", k->header_tag);
    snprintf(rec, sizeof rec, "%s", k->tag);
    for (size_t j = 0; j < k->n_cols; j++) {
        size_t c = k->n_cols - 1 - j;
        rt_append(header, sizeof header, k->cols[c].name);
        rt_value(v, sizeof v, c);
        rt_append(rec, sizeof rec, v);
        if (j == 0 && k->n_cols + 1 <= MB_REC_MAX_COLS) {
            rt_append(header, sizeof header, "zz_not_a_column");
            rt_append(rec, sizeof rec, "junk");
        }
    }
    if (mb_rec_parse(&r, header, vals, &err) != NULL || err) {
        rt_fail(k, "the reversed header was not taken as a header");
        return;
    }
    if (mb_rec_parse(&r, rec, vals, &err) != k || err) {
        rt_fail(k, err ? err : "the record was not read as its kind");
        return;
    }
    for (size_t c = 0; c < k->n_cols; c++) {
        rt_value(v, sizeof v, c);
        if (!vals[c] || strcmp(vals[c], v) != 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "column %s read '%s', wrote '%s'", k->cols[c].name,
                     vals[c] ? vals[c] : "(NULL)", v);
            rt_fail(k, msg);
        }
    }
}

/* The header leaves out the kind's first column and the record says NA for
 * its second: both read as NULL, the others by name. */
static void rt_missing_and_na(const mb_rec_kind *k)
{
    const mb_rec_kind *one[] = { k, NULL };
    mb_rec_reader r;
    const char *vals[MB_REC_MAX_COLS], *err;
    char header[4096], rec[4096], v[32];
    if (k->n_cols < 3)
        return;
    mb_rec_reader_init(&r, one);
    snprintf(header, sizeof header, "%s", k->header_tag);
    snprintf(rec, sizeof rec, "%s", k->tag);
    for (size_t c = 1; c < k->n_cols; c++) {
        rt_append(header, sizeof header, k->cols[c].name);
        rt_value(v, sizeof v, c);
        rt_append(rec, sizeof rec, c == 1 ? "NA" : v);
    }
    mb_rec_parse(&r, header, vals, &err);
    if (mb_rec_parse(&r, rec, vals, &err) != k || err) {
        rt_fail(k, "a header without one column: the record was refused");
        return;
    }
    if (vals[0] || vals[1])
        rt_fail(k, "a column the header lacks, or an NA, did not read as NULL");
    rt_value(v, sizeof v, 2);
    if (!vals[2] || strcmp(vals[2], v) != 0)
        rt_fail(k, "a header without one column bound the others wrongly");
}

/* The reader's errors and the lines that are not records. */
static void rt_errors(const mb_rec_kind *k)
{
    const mb_rec_kind *one[] = { k, NULL };
    mb_rec_reader r;
    const char *vals[MB_REC_MAX_COLS], *err;
    char header[4096], rec[4096], line[4096], v[32];
    mb_rec_reader_init(&r, one);
    snprintf(header, sizeof header, "%s", k->header_tag);
    snprintf(rec, sizeof rec, "%s", k->tag);
    for (size_t c = 0; c < k->n_cols; c++) {
        rt_append(header, sizeof header, k->cols[c].name);
        rt_value(v, sizeof v, c);
        rt_append(rec, sizeof rec, v);
    }
    strcpy(line, rec);
    if (mb_rec_parse(&r, line, vals, &err) != NULL || !err)
        rt_fail(k, "a record before its header was not an error");
    strcpy(line, header);
    mb_rec_parse(&r, line, vals, &err);
    strcpy(line, rec);
    *strrchr(line, '\t') = 0; /* one field short */
    if (mb_rec_parse(&r, line, vals, &err) != NULL || !err)
        rt_fail(k, "a record with fewer fields than its header was not an error");
    strcpy(line, rec);
    rt_append(line, sizeof line, "extra");
    if (mb_rec_parse(&r, line, vals, &err) != NULL || !err)
        rt_fail(k, "a record with more fields than its header was not an error");
    snprintf(line, sizeof line, "%s", k->tag);
    for (size_t c = 0; c < MB_REC_MAX_COLS + 2; c++)
        rt_append(line, sizeof line, "1");
    if (mb_rec_parse(&r, line, vals, &err) != NULL || !err)
        rt_fail(k, "a line with more fields than any record was not an error");
    strcpy(line, "# a comment\twith a tab");
    size_t failures = r.failures;
    if (mb_rec_parse(&r, line, vals, &err) != NULL || err)
        rt_fail(k, "a comment was read as something");
    strcpy(line, "E\tsomething failed");
    if (mb_rec_parse(&r, line, vals, &err) != NULL || err || r.failures != failures + 1)
        rt_fail(k, "an E record was not counted as a failure");
    strcpy(line, rec);
    if (mb_rec_parse(&r, line, vals, &err) != k || err)
        rt_fail(k, "a good record after the errors was refused");
}

int main(void)
{
    size_t n = sizeof rt_kinds / sizeof *rt_kinds;
    for (size_t i = 0; i < n; i++) {
        rt_reversed(rt_kinds[i]);
        rt_missing_and_na(rt_kinds[i]);
        rt_errors(rt_kinds[i]);
    }
    if (rt_failures) {
        fprintf(stderr, "rectest: %d failure(s)\n", rt_failures);
        return 1;
    }
    printf("ok: %zu record kinds bound by column name\n", n);
    return 0;
}
