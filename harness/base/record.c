/*
 * record.c — the record kinds of the child protocol (record.h), each defined
 * once: its tag, its named and typed columns, and where the store puts it.
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#define MB_KIND(var, tag, header, table, id, parent_col, parent, cols)                    \
    const mb_rec_kind var = { tag, header, table, id, parent_col, parent, cols,           \
                              sizeof cols / sizeof *cols }

static const mb_rec_col sample_cols[] = {
    { "case", MB_REC_TEXT, NULL },      /* the case's name: the parent finds its bench */
    { "repetition", MB_REC_INT, "repetition" },
    { "iterations", MB_REC_INT, "iterations" },
    { "ns_per_op", MB_REC_REAL, "ns_per_op" },
    { "ceiling_ns_per_op", MB_REC_REAL, "ceiling_ns_per_op" }, /* mixed_rw only, else NA */
};
MB_KIND(mb_rec_sample, "S", "#S", "sample", NULL, "bench_id", NULL, sample_cols);

static const mb_rec_col icount_cols[] = {
    { "ops", MB_REC_INT, "ops" },       /* instructions: the parent reads callgrind's file */
};
MB_KIND(mb_rec_icount, "I", "#I", "icount", NULL, "bench_id", NULL, icount_cols);

static const mb_rec_col calib_cols[] = {
    { "rss_floor_bytes", MB_REC_INT, "rss_floor_bytes" },
    { "calib_64mib_rss_bytes", MB_REC_INT, "calib_64mib_rss_bytes" },
};
MB_KIND(mb_rec_calib, "K", "#", NULL, NULL, NULL, NULL, calib_cols); /* stored with the run */

static const mb_rec_col mem_cols[] = {
    { "phase_index", MB_REC_INT, "phase_index" },
    { "phase", MB_REC_TEXT, "phase" },
    { "entries", MB_REC_INT, "entries" },
    { "map_live_bytes", MB_REC_INT, "map_live_bytes" },
    { "map_peak_bytes", MB_REC_INT, "map_peak_bytes" },
    { "alloc_in_use_bytes", MB_REC_INT, "alloc_in_use_bytes" },
    { "alloc_held_bytes", MB_REC_INT, "alloc_held_bytes" },
    { "rss_bytes", MB_REC_INT, "rss_bytes" },
    { "anon_bytes", MB_REC_INT, "anon_bytes" },
    { "minor_faults", MB_REC_INT, "minor_faults" },
    { "phase_ns", MB_REC_INT, "phase_ns" },
    { "capacity", MB_REC_INT, "capacity" },
    { "tombstones", MB_REC_INT, "tombstones" },
    { "overflow", MB_REC_INT, "overflow" },
    { "object_bytes", MB_REC_INT, "object_bytes" },
    { "peak_rss_bytes", MB_REC_INT, "peak_rss_bytes" },
};
MB_KIND(mb_rec_mem, "M", "#", "mem_phase", NULL, "mem_case_id", NULL, mem_cols);

static const mb_rec_col go_cols[] = {
    { "phase_index", MB_REC_INT, "phase_index" },
    { "heap_alloc_bytes", MB_REC_INT, "heap_alloc" },
    { "heap_inuse_bytes", MB_REC_INT, "heap_inuse" },
    { "heap_idle_bytes", MB_REC_INT, "heap_idle" },
    { "heap_released_bytes", MB_REC_INT, "heap_released" },
    { "heap_sys_bytes", MB_REC_INT, "heap_sys" },
    { "num_gc", MB_REC_INT, "num_gc" },
    { "sys_bytes", MB_REC_INT, NULL },
    /* every G sample is read after a runtime.GC(); these are from just before it */
    { "heap_alloc_before_gc_bytes", MB_REC_INT, "heap_alloc_before_gc" },
    { "heap_inuse_before_gc_bytes", MB_REC_INT, "heap_inuse_before_gc" },
    { "sample_gc_ns", MB_REC_INT, "sample_gc_ns" },
    { "pause_total_ns", MB_REC_INT, "pause_total_ns" },
};
MB_KIND(mb_rec_go, "G", "#G", "go_memstats", NULL, "mem_case_id", NULL, go_cols);

static const mb_rec_col latency_cols[] = {
    { "n", MB_REC_INT, "n" },
    { "p50_ns", MB_REC_REAL, "p50_ns" },
    { "p90_ns", MB_REC_REAL, "p90_ns" },
    { "p99_ns", MB_REC_REAL, "p99_ns" },
    { "p999_ns", MB_REC_REAL, "p999_ns" },
    { "max_ns", MB_REC_REAL, "max_ns" },
    { "mean_ns", MB_REC_REAL, "mean_ns" },
    { "timer_overhead_ns", MB_REC_REAL, "timer_overhead_ns" },
    { "grow_events", MB_REC_INT, "grow_events" },
};
MB_KIND(mb_rec_latency, "L", "#L", "insert_latency", "latency_id", "run_id", NULL, latency_cols);

static const mb_rec_col bucket_cols[] = {
    { "low_ns", MB_REC_REAL, "low_ns" },
    { "high_ns", MB_REC_REAL, "high_ns" },
    { "count", MB_REC_INT, "inserts" },
};
MB_KIND(mb_rec_bucket, "H", "#H", "latency_bucket", NULL, "latency_id", &mb_rec_latency,
        bucket_cols);

static const mb_rec_col churn_cols[] = {
    { "ops_done", MB_REC_INT, "ops_done" },
    { "ns_per_op_since_last", MB_REC_REAL, "ns_per_op" },
    { "count", MB_REC_INT, "entries" },
    { "capacity", MB_REC_INT, "capacity" },
    { "tombstones", MB_REC_INT, "tombstones" },
    { "mean_probe", MB_REC_REAL, "mean_probe" },
    { "max_probe", MB_REC_INT, "max_probe" },
    { "map_live_bytes", MB_REC_INT, "map_live_bytes" },
    { "grow_events", MB_REC_INT, "grow_events" },
    { "shrink_events", MB_REC_INT, "shrink_events" },
};
MB_KIND(mb_rec_churn, "C", "#C", "churn_sample", NULL, "run_id", NULL, churn_cols);

static const mb_rec_col thrash_cols[] = {
    { "boundary", MB_REC_TEXT, "boundary" },
    { "boundary_entries", MB_REC_INT, "boundary_entries" },
    { "window", MB_REC_INT, "window" },
    { "cycles", MB_REC_INT, "cycles" },
    { "ns_per_op", MB_REC_REAL, "ns_per_op" },
    { "grow_events", MB_REC_INT, "grow_events" },
    { "shrink_events", MB_REC_INT, "shrink_events" },
    { "capacity_low", MB_REC_INT, "capacity_low" },
    { "capacity_high", MB_REC_INT, "capacity_high" },
};
MB_KIND(mb_rec_thrash, "T", "#T", "thrash", NULL, "run_id", NULL, thrash_cols);

static const mb_rec_col gccost_cols[] = {
    { "value_kind", MB_REC_TEXT, "value_kind" },
    { "entries", MB_REC_INT, "entries" },
    { "value_bytes", MB_REC_INT, "value_bytes" },
    { "forced_gcs", MB_REC_INT, "forced_gcs" },
    { "gc_ns_median", MB_REC_REAL, "gc_ns_median" },
    { "gc_ns_min", MB_REC_REAL, "gc_ns_min" },
    { "pause_total_ns", MB_REC_INT, "pause_total_ns" },
    { "gc_cpu_fraction", MB_REC_REAL, "gc_cpu_fraction" },
    { "heap_inuse_bytes", MB_REC_INT, "heap_inuse_bytes" },
};
MB_KIND(mb_rec_gccost, "J", "#J", "go_gc_cost", NULL, "mem_case_id", NULL, gccost_cols);

int mb_rec_col_index(const mb_rec_kind *k, const char *name)
{
    for (size_t c = 0; c < k->n_cols; c++)
        if (strcmp(k->cols[c].name, name) == 0)
            return (int)c;
    return -1;
}

/* ---- printing ---------------------------------------------------------------------- */

void mb_rec_header(FILE *f, const mb_rec_kind *k)
{
    fputs(k->header_tag, f);
    for (size_t c = 0; c < k->n_cols; c++)
        fprintf(f, "\t%s", k->cols[c].name);
    fputc('\n', f);
}

/* A record printed against its kind: a defect in the child, never data. */
static _Noreturn void rec_defect(const mb_rec_out *o, const char *what)
{
    fprintf(stderr, "mapbench: record %s, column %zu: %s\n", o->kind->tag, o->col, what);
    abort();
}

/* Checks that the next value is of type t and starts its field. */
static void rec_next(mb_rec_out *o, int t)
{
    if (o->col >= o->kind->n_cols)
        rec_defect(o, "more values than columns");
    if (t >= 0 && o->kind->cols[o->col].type != (mb_rec_type)t)
        rec_defect(o, "a value of the wrong type");
    fputc('\t', o->f);
    o->col++;
}

void mb_rec_begin(mb_rec_out *o, FILE *f, const mb_rec_kind *k)
{
    *o = (mb_rec_out){ k, f, 0 };
    fputs(k->tag, f);
}

void mb_rec_int(mb_rec_out *o, long long v)
{
    rec_next(o, MB_REC_INT);
    fprintf(o->f, "%lld", v);
}

void mb_rec_count(mb_rec_out *o, long long v)
{
    if (v < 0)
        mb_rec_na(o);
    else
        mb_rec_int(o, v);
}

void mb_rec_real(mb_rec_out *o, double v)
{
    rec_next(o, MB_REC_REAL);
    fprintf(o->f, "%.17g", v);
}

void mb_rec_text(mb_rec_out *o, const char *s)
{
    rec_next(o, MB_REC_TEXT);
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' ? ' ' : *s, o->f);
}

void mb_rec_na(mb_rec_out *o)
{
    rec_next(o, -1);
    fputs("NA", o->f);
}

void mb_rec_end(mb_rec_out *o)
{
    if (o->col != o->kind->n_cols)
        rec_defect(o, "fewer values than columns");
    fputc('\n', o->f);
    fflush(o->f);
}

/* ---- reading ----------------------------------------------------------------------- */

void mb_rec_reader_init(mb_rec_reader *r, const mb_rec_kind *const *kinds)
{
    memset(r, 0, sizeof *r);
    for (; *kinds && r->n_kinds < MB_REC_MAX_KINDS; kinds++)
        r->kinds[r->n_kinds++] = *kinds;
}

/* Splits line at tabs in place.  Returns the field count (at most max; more
 * fields than that make it return max + 1). */
static size_t rec_split(char *line, char **f, size_t max)
{
    size_t k = 0;
    for (char *p = line;; k++) {
        if (k == max)
            return max + 1;
        f[k] = p;
        p += strcspn(p, "\t");
        if (!*p)
            return k + 1;
        *p++ = 0;
    }
}

/* Binds kind i to the header's column names f[1..nf). */
static const char *rec_bind(mb_rec_reader *r, size_t i, char **f, size_t nf)
{
    const mb_rec_kind *k = r->kinds[i];
    for (size_t c = 0; c < k->n_cols; c++)
        r->pos[i][c] = -1;
    for (size_t j = 1; j < nf; j++) {
        int c = mb_rec_col_index(k, f[j]);
        if (c >= 0)
            r->pos[i][c] = (int)j;
    }
    r->bound[i] = 1;
    r->n_fields[i] = nf;
    return NULL;
}

const mb_rec_kind *mb_rec_parse(mb_rec_reader *r, char *line, const char **vals,
                                const char **err)
{
    char *f[MB_REC_MAX_COLS + 1];
    *err = NULL;
    if (line[0] == '#' && line[1] == ' ')
        return NULL; /* a comment */
    size_t nf = rec_split(line, f, MB_REC_MAX_COLS + 1);
    if (nf > MB_REC_MAX_COLS + 1) {
        *err = "a line with more fields than any record";
        return NULL;
    }
    if (strcmp(f[0], "E") == 0) {
        r->failures++;
        return NULL;
    }
    for (size_t i = 0; i < r->n_kinds; i++) {
        const mb_rec_kind *k = r->kinds[i];
        if (strcmp(f[0], k->header_tag) == 0) {
            *err = rec_bind(r, i, f, nf);
            return NULL;
        }
        if (strcmp(f[0], k->tag) != 0)
            continue;
        if (!r->bound[i]) {
            *err = "a record before its header";
            return NULL;
        }
        if (nf != r->n_fields[i]) {
            *err = nf < r->n_fields[i] ? "a record with fewer fields than its header"
                                       : "a record with more fields than its header";
            return NULL;
        }
        for (size_t c = 0; c < k->n_cols; c++) {
            int p = r->pos[i][c];
            vals[c] = p >= 0 && strcmp(f[p], "NA") != 0 ? f[p] : NULL;
        }
        return k;
    }
    return NULL; /* not this child's */
}
