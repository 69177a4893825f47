/*
 * query.c — `mapbench query` and `mapbench runs`: SQL over the results,
 * printed as an aligned table, CSV (RFC 4180) or JSON (an array of objects).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"


/* The aligned table's widths come from its first rows (QY_TABLE_SAMPLE_ROWS,
 * kept in memory); the rest are streamed, a longer cell just widening its
 * line.  CSV and JSON are streamed row by row: a result of any size prints
 * in bounded memory, and every allocation is checked. */
#define QY_TABLE_SAMPLE_ROWS 1000
#define QY_MAX_WIDTH 60

typedef struct qy_rows {
    int ncol;
    char **cells;      /* row-major, NULL = SQL NULL */
    int *types;        /* per cell: SQLITE_INTEGER, ... */
    size_t nrows, cap;
} qy_rows;

static void qy_csv_field(const char *s)
{
    if (!s)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void qy_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* d as the shortest decimal that reads back to the same double (15, 16 or
 * 17 significant digits, as Python's repr and SQLite's own round trip do):
 * a stored figure never loses a digit on its way out.  In JSON a REAL
 * always reads back as a float: one that prints like an integer gets ".0",
 * so 20.0 is 20.0 and not the integer 20. */
static void qy_real(char num[64], double d, int json)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(num, 64, "%.*g", prec, d);
        if (strtod(num, NULL) == d)
            break;
    }
    if (json && strpbrk(num, ".eE") == NULL)
        strcat(num, ".0");
}

/* The text of column c of st's current row: a REAL at full precision
 * (qy_real; JSON: null when not finite, never a bare inf or nan), NULL for
 * SQL NULL.  num holds formatted numbers. */
static const char *qy_cell(sqlite3_stmt *st, int c, int *type, char num[64], int json)
{
    *type = sqlite3_column_type(st, c);
    if (*type == SQLITE_NULL)
        return NULL;
    if (*type == SQLITE_FLOAT) {
        double d = sqlite3_column_double(st, c);
        if (json && !isfinite(d))
            return NULL;
        qy_real(num, d, json);
        return num;
    }
    const unsigned char *txt = sqlite3_column_text(st, c);
    return txt ? (const char *)txt : "";
}

static void qy_csv_row(sqlite3_stmt *st, int nc, int header)
{
    char num[64];
    int t;
    for (int c = 0; c < nc; c++) {
        fputs(c ? "," : "", stdout);
        qy_csv_field(header ? sqlite3_column_name(st, c) : qy_cell(st, c, &t, num, 0));
    }
    fputs("\r\n", stdout);
}

static void qy_json_row(sqlite3_stmt *st, int nc, size_t i)
{
    char num[64];
    printf("%s\n  {", i ? "," : "");
    for (int c = 0; c < nc; c++) {
        int t;
        const char *v = qy_cell(st, c, &t, num, 1);
        fputs(c ? ", " : "", stdout);
        qy_json_string(sqlite3_column_name(st, c));
        fputs(": ", stdout);
        if (!v)
            fputs("null", stdout);
        else if (t == SQLITE_INTEGER || t == SQLITE_FLOAT)
            fputs(v, stdout);
        else
            qy_json_string(v);
    }
    putchar('}');
}

static void qy_table_cell(const char *v, int type, size_t w, int c)
{
    int right = type == SQLITE_INTEGER || type == SQLITE_FLOAT;
    printf("%s%*s", c ? "  " : "", right ? (int)w : -(int)w, v ? v : "NULL");
}

static void qy_rows_free(qy_rows *r)
{
    for (size_t i = 0; i < r->nrows * (size_t)r->ncol; i++)
        free(r->cells[i]);
    free(r->cells);
    free(r->types);
    memset(r, 0, sizeof *r);
}

/* Keeps st's current row in r.  Returns 0, or -1 when out of memory. */
static int qy_keep_row(qy_rows *r, sqlite3_stmt *st)
{
    size_t nc = (size_t)r->ncol;
    if (r->nrows == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        char **cells = realloc(r->cells, cap * nc * sizeof *cells);
        if (!cells)
            return -1;
        r->cells = cells;
        int *types = realloc(r->types, cap * nc * sizeof *types);
        if (!types)
            return -1;
        r->types = types;
        r->cap = cap;
    }
    for (size_t c = 0; c < nc; c++) {
        char num[64];
        size_t k = r->nrows * nc + c;
        const char *v = qy_cell(st, (int)c, &r->types[k], num, 0);
        r->cells[k] = v ? strdup(v) : NULL;
        if (v && !r->cells[k]) {
            for (size_t j = r->nrows * nc; j < k; j++)
                free(r->cells[j]);
            return -1;
        }
    }
    r->nrows++;
    return 0;
}

/* Prints one statement's rows as an aligned table: widths from the first
 * QY_TABLE_SAMPLE_ROWS rows, the rest streamed.  Returns SQLite's last step
 * code, or SQLITE_NOMEM. */
static int qy_table(sqlite3_stmt *st, int nc, int first_result)
{
    qy_rows r = { .ncol = nc };
    int rc = SQLITE_DONE;
    while (r.nrows < QY_TABLE_SAMPLE_ROWS && (rc = sqlite3_step(st)) == SQLITE_ROW)
        if (qy_keep_row(&r, st) != 0) {
            qy_rows_free(&r);
            return SQLITE_NOMEM;
        }
    size_t *w = calloc((size_t)nc + 1, sizeof *w);
    if (!w) {
        qy_rows_free(&r);
        return SQLITE_NOMEM;
    }
    for (int c = 0; c < nc; c++) {
        w[c] = strlen(sqlite3_column_name(st, c));
        for (size_t i = 0; i < r.nrows; i++) {
            const char *v = r.cells[i * (size_t)nc + (size_t)c];
            size_t len = v ? strlen(v) : 4;
            if (len > w[c])
                w[c] = len;
        }
        if (w[c] > QY_MAX_WIDTH)
            w[c] = QY_MAX_WIDTH;
    }
    if (!first_result)
        putchar('\n');
    for (int c = 0; c < nc; c++)
        printf("%s%-*s", c ? "  " : "", (int)w[c], sqlite3_column_name(st, c));
    putchar('\n');
    for (int c = 0; c < nc; c++) {
        printf("%s", c ? "  " : "");
        for (size_t k = 0; k < w[c]; k++)
            putchar('-');
    }
    putchar('\n');
    for (size_t i = 0; i < r.nrows; i++) {
        for (int c = 0; c < nc; c++)
            qy_table_cell(r.cells[i * (size_t)nc + (size_t)c], r.types[i * (size_t)nc + (size_t)c],
                          w[c], c);
        putchar('\n');
    }
    size_t total = r.nrows;
    int more = r.nrows == QY_TABLE_SAMPLE_ROWS;
    qy_rows_free(&r);
    if (more)
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            char num[64];
            for (int c = 0; c < nc; c++) {
                int t;
                const char *v = qy_cell(st, c, &t, num, 0);
                qy_table_cell(v, t, w[c], c);
            }
            putchar('\n');
            total++;
        }
    free(w);
    if (rc == SQLITE_DONE)
        printf("(%zu row%s)\n", total, total == 1 ? "" : "s");
    return rc;
}

/* Steps st to the end, printing its rows in fmt.  Returns SQLite's last step
 * code (SQLITE_DONE when every row was printed). */
static int qy_print_statement(sqlite3_stmt *st, out_format fmt, int first_result)
{
    int nc = sqlite3_column_count(st), rc;
    size_t i = 0;
    if (nc == 0) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        return rc;
    }
    if (fmt == FMT_TABLE)
        return qy_table(st, nc, first_result);
    if (fmt == FMT_CSV)
        qy_csv_row(st, nc, 1);
    else
        printf("%s[", first_result ? "" : "\n");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fmt == FMT_CSV)
            qy_csv_row(st, nc, 0);
        else
            qy_json_row(st, nc, i);
        i++;
    }
    if (fmt == FMT_JSON)
        printf("%s]\n", i ? "\n" : "");
    return rc;
}

int mb_sql_print_mode(sqlite3 *db, const char *sql, out_format fmt, int writes_allowed)
{
    const char *tail = sql;
    int first = 1;
    while (tail && *tail) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
            fprintf(stderr, "mapbench: SQL error: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        if (!st)
            continue; /* whitespace or a comment */
        if (!writes_allowed && !sqlite3_stmt_readonly(st)) {
            fprintf(stderr, "mapbench: SQL error: the results are read-only here"
                    " (`mapbench query --write` changes them): %.60s\n", sqlite3_sql(st));
            sqlite3_finalize(st);
            return 1;
        }
        int rc = qy_print_statement(st, fmt, first);
        if (sqlite3_column_count(st) > 0)
            first = 0;
        if (rc != SQLITE_DONE) {
            fflush(stdout);
            fprintf(stderr, "mapbench: %s: %s\n", rc == SQLITE_NOMEM ? "out of memory" : "SQL error",
                    rc == SQLITE_NOMEM ? "the result does not fit" : sqlite3_errmsg(db));
            sqlite3_finalize(st);
            return 1;
        }
        sqlite3_finalize(st);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "mapbench: cannot write the output\n");
        return 1;
    }
    return 0;
}

int mb_sql_print(sqlite3 *db, const char *sql, out_format fmt)
{
    return mb_sql_print_mode(db, sql, fmt, 0);
}

int mb_sql_print_db(const char *db_path, const char *sql, out_format fmt)
{
    char err[MB_ERR_LEN];
    sqlite3 *db = mb_db_open_read(db_path, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    int rc = mb_sql_print(db, sql, fmt);
    sqlite3_close(db);
    return rc;
}

/* `query`: the read door with ATTACH/DETACH denied, or with --write the
 * write door. */
static int qy_query(const char *db_path, const char *sql, out_format fmt, int write)
{
    char err[MB_ERR_LEN];
    sqlite3 *db = write ? mb_db_open(db_path, 0, err, sizeof err)
                        : mb_db_open_read(db_path, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    if (!write)
        mb_db_guard(db);
    int rc = mb_sql_print_mode(db, sql, fmt, write);
    sqlite3_close(db);
    return rc;
}

static int mb_cmd_query(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *sql = NULL, *v;
    out_format fmt = FMT_TABLE;
    int write = 0;
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], &mb_command_query);
        if (strcmp(argv[i], "--write") == 0) {
            write = 1;
        } else if ((v = mb_flag_value(argc, argv, &i, "--db", &mb_command_query))) {
            db_path = v;
        } else if ((v = mb_flag_value(argc, argv, &i, "--format", &mb_command_query))) {
            fmt = mb_parse_format(v, &mb_command_query);
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            mb_usage_error(&mb_command_query, "unknown option '%s'", argv[i]);
        } else if (!sql) {
            sql = argv[i];
        } else {
            mb_usage_error(&mb_command_query, "give the SQL as one argument (quote it)");
        }
    }
    if (!sql)
        mb_usage_error(&mb_command_query, "missing SQL");
    return qy_query(db_path, sql, fmt, write);
}

static int mb_cmd_runs(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *v;
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], &mb_command_runs);
        if ((v = mb_flag_value(argc, argv, &i, "--db", &mb_command_runs)))
            db_path = v;
        else
            mb_usage_error(&mb_command_runs, "unknown argument '%s'", argv[i]);
    }
    return mb_sql_print_db(db_path,
                        "SELECT run_id, started_at, status, suite, substr(git_sha, 1, 12) AS git_sha,"
                        " git_dirty, timed_cases, memory_cases,"
                        " (SELECT CASE WHEN r.shard_count IS NULL THEN ''"
                        "   WHEN r.shard_index IS NULL THEN 'merged ' || r.shard_count || ' shards'"
                        "   ELSE 'shard ' || r.shard_index || '/' || r.shard_count END"
                        "  FROM run r WHERE r.run_id = runs.run_id) AS sharding FROM runs",
                        FMT_TABLE);
}

out_format mb_parse_format(const char *v, const mb_command *cmd)
{
    if (strcmp(v, "table") == 0)
        return FMT_TABLE;
    if (strcmp(v, "csv") == 0)
        return FMT_CSV;
    if (strcmp(v, "json") == 0)
        return FMT_JSON;
    mb_usage_error(cmd, "--format wants table, csv or json, got '%s'", v);
}

const mb_command mb_command_query = {
    "query",
    "run SQL against the results database",
    "usage: mapbench query \"SQL\" [--format table|csv|json] [--write] [--db PATH]\n"
    "  Runs SQL against the results database and prints the rows.  Read-only: the\n"
    "  database is opened read-only, a statement that would change it is refused,\n"
    "  and ATTACH, DETACH and VACUUM INTO are refused.  --write is the only way to\n"
    "  change results (UPDATE, DELETE, PRAGMA ...): it opens the database for\n"
    "  writing.  JSON prints a non-finite real as null.\n",
    mb_cmd_query,
};

const mb_command mb_command_runs = {
    "runs",
    "list the runs in the database",
    "usage: mapbench runs [--db PATH]\n  Lists the runs in the database, newest first.\n",
    mb_cmd_runs,
};
