/*
 * store.c — one collected run into the database, in ONE transaction: a run
 * killed before the COMMIT leaves nothing, and two runs into one database
 * both land (WAL + busy timeout, db.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

mb_store_row *mb_store_rows_add(mb_store_rows *r, const mb_rec_kind *k, const char *const *vals)
{
    if (r->n_rows == r->cap_rows) {
        size_t cap = r->cap_rows ? 2 * r->cap_rows : 32;
        void *p = realloc(r->rows, cap * sizeof *r->rows);
        if (!p)
            return NULL;
        r->rows = p;
        r->cap_rows = cap;
    }
    char **copy = calloc(k->n_cols, sizeof *copy);
    if (!copy)
        return NULL;
    for (size_t c = 0; c < k->n_cols; c++)
        if (vals[c] && !(copy[c] = strdup(vals[c]))) {
            for (size_t j = 0; j < c; j++)
                free(copy[j]);
            free(copy);
            return NULL;
        }
    mb_store_row *row = &r->rows[r->n_rows++];
    *row = (mb_store_row){ k, copy, 0 };
    return row;
}

void mb_store_rows_free(mb_store_rows *r)
{
    for (size_t j = 0; j < r->n_rows; j++) {
        for (size_t c = 0; c < r->rows[j].kind->n_cols; c++)
            free(r->rows[j].vals[c]);
        free(r->rows[j].vals);
    }
    free(r->rows);
    r->rows = NULL;
    r->n_rows = r->cap_rows = 0;
}

/* ---- one row: context values, then a record's values --------------------------------- */

typedef enum { CTX_INT, CTX_COUNT, CTX_TEXT, CTX_REAL } st_ctx_type; /* COUNT: NULL when < 0 */

/* A value the parent knows (a case's names, a parent row's id). */
typedef struct st_ctx {
    const char *column;
    st_ctx_type type;
    long long i;
    const char *t;   /* CTX_TEXT: NULL or "" is stored as NULL */
    double r;        /* CTX_REAL */
} st_ctx;

#define CI(col, v) ((st_ctx){ (col), CTX_INT, (long long)(v), NULL, 0 })
#define CN(col, v) ((st_ctx){ (col), CTX_COUNT, (long long)(v), NULL, 0 })
#define CT(col, v) ((st_ctx){ (col), CTX_TEXT, 0, (v), 0 })
#define CR(col, v) ((st_ctx){ (col), CTX_REAL, 0, NULL, (double)(v) })

/* Statements prepared once per table within one write. */
typedef struct st_cache {
    const char *table[16];
    sqlite3_stmt *stmt[16];
    size_t n;
} st_cache;

static void st_cache_free(st_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        sqlite3_finalize(c->stmt[i]);
}

/* Returns the INSERT for table with the ctx columns and then kind's stored
 * columns (prepared on first use), or NULL with err. */
static sqlite3_stmt *st_prepare(sqlite3 *db, st_cache *c, const char *table, const st_ctx *ctx,
                                size_t n_ctx, const mb_rec_kind *kind, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->table[i] == table)
            return c->stmt[i];
    if (c->n == sizeof c->stmt / sizeof *c->stmt) {
        mb_errf(err, errlen, "store: more tables than the statement cache holds");
        return NULL;
    }
    sqlite3_str *cols = sqlite3_str_new(db), *qs = sqlite3_str_new(db);
    for (size_t i = 0; i < n_ctx; i++) {
        sqlite3_str_appendf(cols, "%s%s", i ? ", " : "", ctx[i].column);
        sqlite3_str_appendf(qs, "%s?", i ? ", " : "");
    }
    for (size_t k = 0; kind && k < kind->n_cols; k++)
        if (kind->cols[k].column) {
            sqlite3_str_appendf(cols, ", %s", kind->cols[k].column);
            sqlite3_str_appendall(qs, ", ?");
        }
    char *c_sql = sqlite3_str_finish(cols), *q_sql = sqlite3_str_finish(qs);
    char *sql = sqlite3_mprintf("INSERT INTO %s (%s) VALUES (%s)", table, c_sql, q_sql);
    sqlite3_stmt *st = NULL;
    if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        mb_errf(err, errlen, "%s", sql ? sqlite3_errmsg(db) : "out of memory");
        st = NULL;
    } else {
        c->table[c->n] = table;
        c->stmt[c->n++] = st;
    }
    sqlite3_free(c_sql);
    sqlite3_free(q_sql);
    sqlite3_free(sql);
    return st;
}

static void st_bind_ctx(sqlite3_stmt *st, int i, const st_ctx *x)
{
    if (x->type == CTX_TEXT ? !x->t || !*x->t : x->type == CTX_COUNT && x->i < 0)
        sqlite3_bind_null(st, i);
    else if (x->type == CTX_TEXT)
        sqlite3_bind_text(st, i, x->t, -1, SQLITE_TRANSIENT);
    else if (x->type == CTX_REAL)
        sqlite3_bind_double(st, i, x->r);
    else
        sqlite3_bind_int64(st, i, x->i);
}

static void st_bind_value(sqlite3_stmt *st, int i, mb_rec_type type, const char *v)
{
    if (!v)
        sqlite3_bind_null(st, i);
    else if (type == MB_REC_INT)
        sqlite3_bind_int64(st, i, atoll(v));
    else if (type == MB_REC_REAL)
        sqlite3_bind_double(st, i, strtod(v, NULL));
    else
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Inserts one row into table: the ctx values, then (kind non-NULL) the
 * record's values by column.  Returns 0 with *rowid, or -1 with err. */
static int st_insert(sqlite3 *db, st_cache *c, const char *table, const st_ctx *ctx,
                     size_t n_ctx, const mb_rec_kind *kind, char *const *vals,
                     sqlite3_int64 *rowid, char *err, size_t errlen)
{
    sqlite3_stmt *st = st_prepare(db, c, table, ctx, n_ctx, kind, err, errlen);
    if (!st)
        return -1;
    int i = 1;
    for (size_t k = 0; k < n_ctx; k++)
        st_bind_ctx(st, i++, &ctx[k]);
    for (size_t k = 0; kind && k < kind->n_cols; k++)
        if (kind->cols[k].column)
            st_bind_value(st, i++, kind->cols[k].type, vals[k]);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        mb_errf(err, errlen, "%s: %s", table, sqlite3_errmsg(db));
        return -1;
    }
    if (rowid)
        *rowid = sqlite3_last_insert_rowid(db);
    return 0;
}

#define N_CTX(a) (sizeof(a) / sizeof *(a))

/* ---- the run, its cases and their records ------------------------------------------ */

static int st_run_row(sqlite3 *db, st_cache *c, const mb_store_run *r, sqlite3_int64 *run_id,
                      char *err, size_t errlen)
{
    const mb_env *e = r->env;
    const st_ctx ctx[] = {
        CT("run_uuid", r->uuid), CT("started_at", r->started_at),
        CT("finished_at", r->finished_at), CT("status", r->status), CT("suite", r->suite),
        CI("seed", (sqlite3_int64)r->seed), CT("git_sha", e->git_sha),
        CN("git_dirty", e->git_dirty), CT("compiler", e->compiler), CT("cflags", e->cflags),
        CT("build_type", e->build_type), CT("benchmark_version", e->benchmark_version),
        CT("cpu_model", e->cpu_model), CN("cores", e->cores), CT("kernel", e->kernel),
        CT("hostname", e->hostname), CN("l1d_bytes", e->l1d_bytes), CN("l2_bytes", e->l2_bytes),
        CN("l3_bytes", e->l3_bytes), CI("processes", r->processes), CT("argv", r->argv),
        CN("rss_floor_bytes", r->rss_floor_bytes),
        CN("calib_64mib_rss_bytes", r->calib_64mib_rss_bytes),
        CT("thp_enabled", e->thp_enabled[0] ? e->thp_enabled : NULL),
        CT("thp_defrag", e->thp_defrag[0] ? e->thp_defrag : NULL),
        CT("run_set", r->run_set), CN("shard_index", r->shard_count ? (long long)r->shard_index : -1),
        CN("shard_count", r->shard_count ? (long long)r->shard_count : -1),
    };
    return st_insert(db, c, "run", ctx, N_CTX(ctx), NULL, NULL, run_id, err, errlen);
}

/* A timed case: its bench row (when it has records), then its S and I records. */
static int st_bench(sqlite3 *db, st_cache *c, sqlite3_int64 run_id, const mb_store_group *g,
                    char *err, size_t errlen)
{
    const mb_store_case *k = &g->c;
    sqlite3_int64 bench_id;
    if (g->rows.n_rows == 0)
        return 0;
    const st_ctx bench[] = {
        CI("run_id", run_id), CT("impl", k->impl), CT("family", k->family),
        CT("traits", k->traits), CT("phase", k->phase), CT("blueprint", k->blueprint),
        CT("distribution", k->distribution), CI("n", k->n), CI("hint", k->hint),
        CI("threads", k->threads), CT("allocator", k->allocator),
        CT("shrink", k->shrink ? k->shrink : "never"),
        CN("lookup_percent",
           k->phase && strcmp(k->phase, "mixed_rw") == 0 ? (long long)k->lookup_percent : -1),
        CI("hugepages", k->hugepages),
    };
    if (st_insert(db, c, "bench", bench, N_CTX(bench), NULL, NULL, &bench_id, err, errlen))
        return -1;
    for (size_t j = 0; j < g->rows.n_rows; j++) {
        const mb_store_row *row = &g->rows.rows[j];
        const st_ctx s_ctx[] = { CI("bench_id", bench_id),
                                 row->kind == &mb_rec_icount
                                     ? CI("instructions", g->instructions)
                                     : CI("process_index", row->process_index) };
        if (st_insert(db, c, row->kind->table, s_ctx, N_CTX(s_ctx), row->kind, row->vals, NULL,
                      err, errlen))
            return -1;
    }
    return 0;
}

/* A memory case: its mem_case row (when it has records), then its M and G records. */
static int st_mem(sqlite3 *db, st_cache *c, sqlite3_int64 run_id, const mb_store_group *g,
                  char *err, size_t errlen)
{
    const mb_store_case *k = &g->c;
    sqlite3_int64 id;
    if (g->rows.n_rows == 0)
        return 0;
    const st_ctx mc[] = {
        CI("run_id", run_id), CT("impl", k->impl), CT("family", k->family),
        CT("traits", k->traits), CT("blueprint", k->blueprint),
        CT("distribution", k->distribution), CI("n", k->n), CT("allocator", k->allocator),
        CT("shrink", k->shrink ? k->shrink : "never"), CI("hugepages", k->hugepages),
    };
    if (st_insert(db, c, "mem_case", mc, N_CTX(mc), NULL, NULL, &id, err, errlen))
        return -1;
    for (size_t j = 0; j < g->rows.n_rows; j++) {
        const mb_store_row *row = &g->rows.rows[j];
        const st_ctx ctx[] = { CI(row->kind->parent_column, id) };
        if (st_insert(db, c, row->kind->table, ctx, 1, row->kind, row->vals, NULL, err, errlen))
            return -1;
    }
    return 0;
}

/* A latency or churn case: its records, each row with the case's names; a
 * record whose kind has a parent kind hangs under that kind's last row. */
static int st_case_rows(sqlite3 *db, st_cache *c, sqlite3_int64 run_id, const mb_store_group *g,
                        char *err, size_t errlen)
{
    const mb_store_case *k = &g->c;
    sqlite3_int64 last_id = -1;
    const mb_rec_kind *last_kind = NULL;
    if (g->failed)
        return 0;
    for (size_t j = 0; j < g->rows.n_rows; j++) {
        const mb_store_row *row = &g->rows.rows[j];
        const mb_rec_kind *kind = row->kind;
        if (kind->parent) {
            if (kind->parent != last_kind)
                continue; /* no parent row: nothing to hang it under */
            const st_ctx ctx[] = { CI(kind->parent_column, last_id) };
            if (st_insert(db, c, kind->table, ctx, 1, kind, row->vals, NULL, err, errlen))
                return -1;
            continue;
        }
        const st_ctx lat[] = { CI("run_id", run_id), CT("impl", k->impl),
                               CT("family", k->family), CT("blueprint", k->blueprint),
                               CT("distribution", k->distribution), CI("hint", k->hint),
                               CT("allocator", k->allocator) };
        const st_ctx churn[] = { CI("run_id", run_id), CT("impl", k->impl),
                                 CT("blueprint", k->blueprint),
                                 CT("distribution", k->distribution), CI("n", k->n),
                                 CT("allocator", k->allocator),
                                 CT("shrink", k->shrink ? k->shrink : "never") };
        int is_lat = kind == &mb_rec_latency;
        if (st_insert(db, c, kind->table, is_lat ? lat : churn, is_lat ? N_CTX(lat) : N_CTX(churn),
                      kind, row->vals, &last_id, err, errlen))
            return -1;
        last_kind = kind;
    }
    return 0;
}

/* Every row of the run; inside the caller's transaction. */
static int st_write_all(sqlite3 *db, st_cache *c, const mb_store_run *r, char *err,
                        size_t errlen)
{
    sqlite3_int64 run_id;
    if (st_run_row(db, c, r, &run_id, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < r->n_benches; i++)
        if (st_bench(db, c, run_id, &r->benches[i], err, errlen) != 0)
            return -1;
    for (size_t i = 0; i < r->n_mems; i++)
        if (st_mem(db, c, run_id, &r->mems[i], err, errlen) != 0)
            return -1;
    for (size_t i = 0; i < r->n_latencies; i++)
        if (st_case_rows(db, c, run_id, &r->latencies[i], err, errlen) != 0)
            return -1;
    for (size_t i = 0; i < r->n_churns; i++)
        if (st_case_rows(db, c, run_id, &r->churns[i], err, errlen) != 0)
            return -1;
    for (size_t i = 0; i < r->n_units; i++) {
        const mb_store_unit *u = &r->units[i];
        const st_ctx ctx[] = {
            CI("run_id", run_id), CT("unit_id", u->id), CT("kind", u->kind),
            CI("alone", u->alone),
            CN("shard_index", r->shard_count ? (long long)r->shard_index : -1),
            CI("slot", u->slot), CR("start_s", u->start_s), CR("end_s", u->end_s),
            CR("wall_s", u->end_s - u->start_s), CR("cost_estimate_s", u->cost_estimate_s), CR("work_mops", u->work_mops),
            CI("overlapped", u->overlapped), CT("status", u->status),
        };
        if (st_insert(db, c, "run_unit", ctx, N_CTX(ctx), NULL, NULL, NULL, err, errlen) != 0)
            return -1;
    }
    for (size_t i = 0; i < r->n_not_measured; i++) {
        const mb_not_measured *nm = &r->not_measured[i];
        char *reason = sqlite3_mprintf("package %s not installed", nm->package);
        const st_ctx ctx[] = { CI("run_id", run_id), CT("what", nm->what),
                               CT("package", nm->package), CT("reason", reason) };
        int rc = reason ? st_insert(db, c, "not_measured", ctx, N_CTX(ctx), NULL, NULL, NULL, err,
                                    errlen)
                        : (mb_errf(err, errlen, "out of memory"), -1);
        sqlite3_free(reason);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int mb_store_run_write(sqlite3 *db, const mb_store_run *r, char *err, size_t errlen)
{
    st_cache cache = { .n = 0 };
    if (mb_db_exec(db, "BEGIN IMMEDIATE", err, errlen) != 0)
        return -1;
    int rc = st_write_all(db, &cache, r, err, errlen);
    st_cache_free(&cache);
    if (rc == 0 && mb_db_exec(db, "COMMIT", err, errlen) == 0)
        return 0;
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}
