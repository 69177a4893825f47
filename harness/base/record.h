/*
 * record.h — the child protocol: what a probe child prints and the parent
 * reads, each record kind defined once (record.c).
 *
 * A child writes tab-separated lines to stdout:
 *   #TAG <tab> column <tab> column ...   the header of kind TAG (once, before its rows)
 *   TAG <tab> value <tab> value ...      one record
 *   # free text                          a comment (a '#' followed by a space)
 *   E <tab> free text                    a failure (the parent only counts it)
 * A kind whose header_tag is "#" prints its header as "#<tab>columns" (the
 * first kind of mem-case and of its calibration, kept as they always were).
 * Values: integers in decimal, reals with %.17g (they read back to the same
 * double), text without tabs or newlines, "NA" for not measured.
 *
 * The parent binds every value by its column's name in the header, never by
 * position (mb_rec_parse), and the store writes a kind's values into the
 * table columns named here (store.c): adding a column is one line here.
 */
#ifndef MB_RECORD_H
#define MB_RECORD_H

#include <stddef.h>
#include <stdio.h>

typedef enum mb_rec_type { MB_REC_INT, MB_REC_REAL, MB_REC_TEXT } mb_rec_type;

typedef struct mb_rec_col {
    const char *name;      /* in the header */
    mb_rec_type type;
    const char *column;    /* the table column it is stored in; NULL: not stored */
} mb_rec_col;

typedef struct mb_rec_kind {
    const char *tag;          /* "M" */
    const char *header_tag;   /* what the header line starts with: "#M", or "#" */
    const char *table;        /* the table its records go into; NULL: not a table of rows */
    const char *id_column;    /* the table's own id (for a child kind's parent_column) */
    const char *parent_column;/* the column holding the parent row's id (NULL: none) */
    const struct mb_rec_kind *parent; /* the kind whose last row is the parent; NULL: the case's row */
    const mb_rec_col *cols;
    size_t n_cols;
} mb_rec_kind;

extern const mb_rec_kind mb_rec_sample;   /* S: one repetition of a timed case (time, go-threads-case) */
extern const mb_rec_kind mb_rec_icount;   /* I: a counted phase's ops (icount-case) */
extern const mb_rec_kind mb_rec_calib;    /* K: the memory instrument's calibration */
extern const mb_rec_kind mb_rec_mem;      /* M: a sample after one memory phase */
extern const mb_rec_kind mb_rec_go;       /* G: the real Go map's runtime.MemStats per phase */
extern const mb_rec_kind mb_rec_latency;  /* L: per-insert latency percentiles */
extern const mb_rec_kind mb_rec_bucket;   /* H: one log2 latency histogram bucket */
extern const mb_rec_kind mb_rec_churn;    /* C: a churn sample */
extern const mb_rec_kind mb_rec_thrash;   /* T: churn oscillating around the shrink boundary */
extern const mb_rec_kind mb_rec_gccost;   /* J: forced GCs with a live Go map (go-mem-case) */

/* Returns the index of the column named name in k, or -1. */
int mb_rec_col_index(const mb_rec_kind *k, const char *name);

/* ---- printing (the child side) --------------------------------------------------- */

/* One record being printed; the column types are checked as values come. */
typedef struct mb_rec_out {
    const mb_rec_kind *kind;
    FILE *f;
    size_t col;
} mb_rec_out;

/* Prints k's header line. */
void mb_rec_header(FILE *f, const mb_rec_kind *k);
void mb_rec_begin(mb_rec_out *o, FILE *f, const mb_rec_kind *k);
void mb_rec_int(mb_rec_out *o, long long v);
/* An integer, or NA when v < 0 (the "not measured" sentinel of counters). */
void mb_rec_count(mb_rec_out *o, long long v);
void mb_rec_real(mb_rec_out *o, double v);
void mb_rec_text(mb_rec_out *o, const char *s);
void mb_rec_na(mb_rec_out *o);
/* Ends the line and flushes.  A record with the wrong number of values, or a
 * value of the wrong type, is a defect in the child: it aborts with a message. */
void mb_rec_end(mb_rec_out *o);

/* ---- reading (the parent side) ---------------------------------------------------- */

/* A child's exit status when the optional peer it drives was not built
 * (go-mem-case without Go): the parent reports "not measured", not a failure. */
#define MB_CHILD_EXIT_NOT_BUILT 3

#define MB_REC_MAX_KINDS 4
#define MB_REC_MAX_COLS 24

/* What one child may print: its kinds, each bound to a header once it is seen. */
typedef struct mb_rec_reader {
    const mb_rec_kind *kinds[MB_REC_MAX_KINDS];
    size_t n_kinds;
    int pos[MB_REC_MAX_KINDS][MB_REC_MAX_COLS]; /* kind column -> field index in the line, -1 */
    int bound[MB_REC_MAX_KINDS];
    size_t n_fields[MB_REC_MAX_KINDS]; /* the bound header's field count, tag included */
    size_t failures;  /* E records seen */
} mb_rec_reader;

/* Sets r up for a child printing the given kinds (NULL-terminated, at most
 * MB_REC_MAX_KINDS). */
void mb_rec_reader_init(mb_rec_reader *r, const mb_rec_kind *const *kinds);
/* Reads one line (modified in place).  Returns the kind of a record, with
 * vals[0..kind->n_cols) its values in the kind's column order (NULL for NA
 * or a column the header does not have); NULL for a header, comment, E
 * record or another child's line.  *err is set (and NULL returned) for a
 * record before its header, or one with fewer or more fields than its header
 * (a line that does not match its header). */
const mb_rec_kind *mb_rec_parse(mb_rec_reader *r, char *line, const char **vals,
                                const char **err);

#endif
