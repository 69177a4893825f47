/*
 * query.c — `mapbench query` and `mapbench runs`: SQL over the results,
 * printed as an aligned table, CSV (RFC 4180) or JSON (an array of objects).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"


typedef struct rows {
    int ncol;
    char **names;
    char **cells;      /* row-major, NULL = SQL NULL */
    int *types;        /* per cell: SQLITE_INTEGER, ... */
    size_t nrows, cap;
} rows;

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

static void qy_print_rows(const rows *r, out_format fmt, int first_result)
{
    int nc = r->ncol;
    if (fmt == FMT_CSV) {
        for (int c = 0; c < nc; c++)
            printf("%s", c ? "," : ""), qy_csv_field(r->names[c]);
        fputs("\r\n", stdout);
        for (size_t i = 0; i < r->nrows; i++) {
            for (int c = 0; c < nc; c++)
                printf("%s", c ? "," : ""), qy_csv_field(r->cells[i * nc + c]);
            fputs("\r\n", stdout);
        }
        return;
    }
    if (fmt == FMT_JSON) {
        printf("%s[", first_result ? "" : "\n");
        for (size_t i = 0; i < r->nrows; i++) {
            printf("%s\n  {", i ? "," : "");
            for (int c = 0; c < nc; c++) {
                const char *v = r->cells[i * nc + c];
                int t = r->types[i * nc + c];
                printf("%s", c ? ", " : "");
                qy_json_string(r->names[c]);
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
        printf("%s]\n", r->nrows ? "\n" : "");
        return;
    }
    size_t *w = calloc((size_t)nc, sizeof *w);
    for (int c = 0; c < nc; c++) {
        w[c] = strlen(r->names[c]);
        for (size_t i = 0; i < r->nrows; i++) {
            const char *v = r->cells[i * nc + c];
            size_t len = v ? strlen(v) : 4;
            if (len > w[c])
                w[c] = len;
        }
        if (w[c] > 60)
            w[c] = 60;
    }
    if (!first_result)
        putchar('\n');
    for (int c = 0; c < nc; c++)
        printf("%s%-*s", c ? "  " : "", (int)w[c], r->names[c]);
    putchar('\n');
    for (int c = 0; c < nc; c++) {
        printf("%s", c ? "  " : "");
        for (size_t k = 0; k < w[c]; k++)
            putchar('-');
    }
    putchar('\n');
    for (size_t i = 0; i < r->nrows; i++) {
        for (int c = 0; c < nc; c++) {
            const char *v = r->cells[i * nc + c];
            int t = r->types[i * nc + c];
            int right = t == SQLITE_INTEGER || t == SQLITE_FLOAT;
            printf("%s%*s", c ? "  " : "", right ? (int)w[c] : -(int)w[c], v ? v : "NULL");
        }
        putchar('\n');
    }
    printf("(%zu row%s)\n", r->nrows, r->nrows == 1 ? "" : "s");
    free(w);
}

static void qy_free_rows(rows *r)
{
    for (size_t i = 0; i < r->nrows * (size_t)r->ncol; i++)
        free(r->cells[i]);
    for (int c = 0; c < r->ncol; c++)
        free(r->names[c]);
    free(r->cells);
    free(r->types);
    free(r->names);
}

int mb_sql_print(sqlite3 *db, const char *sql, out_format fmt)
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
        rows r = { 0 };
        r.ncol = sqlite3_column_count(st);
        r.names = calloc((size_t)r.ncol + 1, sizeof *r.names);
        for (int c = 0; c < r.ncol; c++)
            r.names[c] = strdup(sqlite3_column_name(st, c));
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (r.nrows == r.cap) {
                r.cap = r.cap ? 2 * r.cap : 64;
                r.cells = realloc(r.cells, r.cap * (size_t)r.ncol * sizeof *r.cells);
                r.types = realloc(r.types, r.cap * (size_t)r.ncol * sizeof *r.types);
            }
            for (int c = 0; c < r.ncol; c++) {
                size_t k = r.nrows * (size_t)r.ncol + (size_t)c;
                int t = sqlite3_column_type(st, c);
                char num[64];
                r.types[k] = t;
                if (t == SQLITE_NULL) {
                    r.cells[k] = NULL;
                } else if (t == SQLITE_FLOAT) {
                    snprintf(num, sizeof num, "%.6g", sqlite3_column_double(st, c));
                    r.cells[k] = strdup(num);
                } else {
                    const unsigned char *txt = sqlite3_column_text(st, c);
                    r.cells[k] = strdup(txt ? (const char *)txt : "");
                }
            }
            r.nrows++;
        }
        if (rc != SQLITE_DONE) {
            fprintf(stderr, "mapbench: SQL error: %s\n", sqlite3_errmsg(db));
            sqlite3_finalize(st);
            qy_free_rows(&r);
            return 1;
        }
        if (r.ncol > 0) {
            qy_print_rows(&r, fmt, first);
            first = 0;
        }
        sqlite3_finalize(st);
        qy_free_rows(&r);
    }
    return 0;
}

int mb_sql_print_db(const char *db_path, const char *sql, out_format fmt)
{
    char err[MB_ERR_LEN];
    sqlite3 *db = mb_db_open(db_path, 0, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    int rc = mb_sql_print(db, sql, fmt);
    sqlite3_close(db);
    return rc;
}

static int mb_cmd_query(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *sql = NULL, *v;
    out_format fmt = FMT_TABLE;
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], &mb_command_query);
        if ((v = mb_flag_value(argc, argv, &i, "--db", &mb_command_query))) {
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
    return mb_sql_print_db(db_path, sql, fmt);
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
                        " git_dirty, timed_cases, memory_cases FROM runs",
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
    "usage: mapbench query \"SQL\" [--format table|csv|json] [--db PATH]\n"
    "  Runs SQL against the results database and prints the rows.\n",
    mb_cmd_query,
};

const mb_command mb_command_runs = {
    "runs",
    "list the runs in the database",
    "usage: mapbench runs [--db PATH]\n  Lists the runs in the database, newest first.\n",
    mb_cmd_runs,
};
