/*
 * merge.c — `mapbench merge`: runs of other results databases into this one,
 * and the shards of a sharded run (`run --shard I/N`) into one run.
 *
 * Plain runs are copied whole, once: a run whose run_uuid this database
 * holds is not copied again (merging twice adds nothing).
 *
 * Shards.  Every shard's run row carries its run set and I/N.  merge groups
 * the shard runs of all the databases it is given by run set, checks that
 * each set is whole (each I of 1..N exactly once: a missing or doubled shard
 * is an error that names it) and made on one machine (CPU model, compiler,
 * flags, build type and git commit equal: else an error, or with
 * --allow-mixed one run per machine), and writes ONE run row for it (its
 * uuid: the run set and a hash of the shards' uuids), with every shard's
 * rows under it and table run_part listing the shards.  The views, plots,
 * report and gate then see one run, as if one machine had run the plan.
 *
 * Which tables hang off a run comes from the schema, not a list: every
 * table with a foreign key to run, then every table with a foreign key to
 * one of those, and so on.  Rows get new integer keys past this database's
 * largest (a TEMP map per table, old -> new), foreign keys follow their
 * parents' maps.  In a merged set a row equal on its table's UNIQUE
 * columns to one already there is that row (the bench row of a case timed
 * by process 1 in one shard and process 2 in another): its children attach
 * to it.  not_measured rows are kept once per distinct row.  Gate
 * decisions have no foreign key to a run (a local audit trail) and are not
 * copied.  The other databases are attached read-only (mode=ro): merging
 * never writes them; at most 10 at once (SQLite's attach limit).
 *
 * Progress.  A shard stores in one transaction at its end; before that its
 * database says nothing.  `run` rewrites <db>.progress after every unit
 * (run/pool.c: run set, shard I/N, units done and total, estimated cost done
 * and total, elapsed seconds, state).  merge reads these files, never the
 * databases, to print one line for the whole sharded run (units done /
 * total, ETA); --wait polls them until every shard is stored, then merges (or gives up
 * after --timeout, merging nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

/* ---- merge: every table that hangs off a run, found in the schema ----------------------- */

/* One table merge copies: run itself, then every table with a foreign key to
 * a copied table (bench, mem_case, insert_latency, churn_sample, then sample,
 * icount, mem_phase, go_memstats, latency_bucket, ...), parents first.  A
 * table of the schema that no foreign key ties to a run (gate_decision, the
 * local audit trail) is not copied. */
typedef struct dbt_mg_table {
    char *name;
    char *pk;                /* its INTEGER PRIMARY KEY (renumbered), or NULL */
    int parent;              /* index of the table its filter goes through (-1: run) */
    char *fk;                /* ... and the column pointing there */
    int n_fks;
    char **fk_cols;          /* every foreign key column to a copied table */
    int *fk_to;              /* ... and the table it points to */
    char **uniq;             /* the columns of its UNIQUE constraint, if it has one: a
                              * row equal on them (IS) is the same row (a merged set) */
    int n_uniq;
} dbt_mg_table;

typedef struct dbt_mg_plan {
    dbt_mg_table *t;
    int n, cap;
} dbt_mg_plan;

static void dbt_mg_free(dbt_mg_plan *p)
{
    for (int i = 0; i < p->n; i++) {
        sqlite3_free(p->t[i].name);
        sqlite3_free(p->t[i].pk);
        sqlite3_free(p->t[i].fk);
        for (int k = 0; k < p->t[i].n_fks; k++)
            sqlite3_free(p->t[i].fk_cols[k]);
        free(p->t[i].fk_cols);
        free(p->t[i].fk_to);
        for (int k = 0; k < p->t[i].n_uniq; k++)
            sqlite3_free(p->t[i].uniq[k]);
        free(p->t[i].uniq);
    }
    free(p->t);
    memset(p, 0, sizeof *p);
}

static int dbt_mg_find(const dbt_mg_plan *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->t[i].name, name) == 0)
            return i;
    return -1;
}

/* Returns the INTEGER PRIMARY KEY column of main.table (sqlite3_malloc'd), or NULL. */
static char *dbt_mg_int_pk(sqlite3 *db, const char *table)
{
    sqlite3_stmt *st;
    char *pk = NULL;
    int n_pk = 0;
    if (sqlite3_prepare_v2(db, "SELECT name, upper(type), pk FROM pragma_table_info(?1, 'main')"
                               " WHERE pk > 0", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        n_pk++;
        if (strcmp((const char *)sqlite3_column_text(st, 1), "INTEGER") == 0 && !pk)
            pk = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (n_pk != 1) { /* a composite key is no rowid alias */
        sqlite3_free(pk);
        pk = NULL;
    }
    return pk;
}

/* Appends table name (reached from parent through column fk) to p. */
static int dbt_mg_add(sqlite3 *db, dbt_mg_plan *p, const char *name, int parent, const char *fk)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        dbt_mg_table *t = realloc(p->t, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        p->t = t, p->cap = cap;
    }
    dbt_mg_table *t = &p->t[p->n];
    memset(t, 0, sizeof *t);
    t->name = sqlite3_mprintf("%s", name);
    t->pk = dbt_mg_int_pk(db, name);
    t->parent = parent;
    t->fk = fk ? sqlite3_mprintf("%s", fk) : NULL;
    p->n++;
    if (!t->name || (fk && !t->fk))
        return -1;
    /* its first UNIQUE constraint's columns (bench, mem_case, insert_latency) */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT ii.name FROM pragma_index_list(?1, 'main') il,"
                               " pragma_index_info(il.name, 'main') ii WHERE il.origin = 'u'"
                               " AND il.name = (SELECT min(name) FROM pragma_index_list(?1, 'main')"
                               " WHERE origin = 'u') ORDER BY ii.seqno", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        char **u = realloc(t->uniq, (size_t)(t->n_uniq + 1) * sizeof *u);
        if (!u || !(u[t->n_uniq] = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0))))
            rc = -1;
        if (u)
            t->uniq = u;
        if (rc == 0)
            t->n_uniq++;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Finds, breadth first from run, every table with a foreign key to a table
 * already found.  Returns 0, or -1 with err. */
static int dbt_mg_plan_build(sqlite3 *db, dbt_mg_plan *p, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    memset(p, 0, sizeof *p);
    if (dbt_mg_add(db, p, "run", -1, NULL) != 0 || !p->t[0].pk) {
        mb_errf(err, errlen, "the schema has no run table with an integer key");
        return -1;
    }
    if (sqlite3_prepare_v2(db, "SELECT m.name, f.\"from\", f.\"table\" FROM main.sqlite_schema m,"
                               " pragma_foreign_key_list(m.name, 'main') f WHERE m.type = 'table'"
                               " ORDER BY m.name, f.id", -1, &st, NULL) != SQLITE_OK) {
        mb_errf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    for (int level = 0; level < p->n; level++) { /* p grows as tables are found */
        sqlite3_reset(st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            const char *from = (const char *)sqlite3_column_text(st, 1);
            const char *to = (const char *)sqlite3_column_text(st, 2);
            if (strcmp(to, p->t[level].name) != 0 || dbt_mg_find(p, name) >= 0)
                continue;
            if (!p->t[level].pk) {
                mb_errf(err, errlen, "%s points to %s, which has no integer key", name, to);
                sqlite3_finalize(st);
                return -1;
            }
            if (dbt_mg_add(db, p, name, level, from) != 0) {
                mb_errf(err, errlen, "out of memory");
                sqlite3_finalize(st);
                return -1;
            }
        }
    }
    /* every foreign key column of every copied table to another copied table */
    for (int i = 0; i < p->n; i++) {
        dbt_mg_table *t = &p->t[i];
        sqlite3_reset(st);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            int to = dbt_mg_find(p, (const char *)sqlite3_column_text(st, 2));
            if (strcmp(name, t->name) != 0 || to < 0)
                continue;
            char **cols = realloc(t->fk_cols, (size_t)(t->n_fks + 1) * sizeof *cols);
            if (cols)
                t->fk_cols = cols;
            int *tos = cols ? realloc(t->fk_to, (size_t)(t->n_fks + 1) * sizeof *tos) : NULL;
            if (tos)
                t->fk_to = tos;
            if (!cols || !tos || !(t->fk_cols[t->n_fks] =
                                       sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 1)))) {
                mb_errf(err, errlen, "out of memory");
                sqlite3_finalize(st);
                return -1;
            }
            t->fk_to[t->n_fks++] = to;
        }
    }
    sqlite3_finalize(st);
    return 0;
}

/* Appends to q the condition "the rows of sch.<table i> that belong to run old_id". */
static void dbt_mg_filter(sqlite3_str *q, const dbt_mg_plan *p, int i, const char *sch,
                          sqlite3_int64 old_id)
{
    const dbt_mg_table *t = &p->t[i];
    if (t->parent < 0) {
        sqlite3_str_appendf(q, "\"%w\" = %lld", t->pk, old_id);
        return;
    }
    const dbt_mg_table *par = &p->t[t->parent];
    sqlite3_str_appendf(q, "\"%w\" IN (SELECT \"%w\" FROM \"%w\".\"%w\" WHERE ", t->fk, par->pk,
                        sch, par->name);
    dbt_mg_filter(q, p, t->parent, sch, old_id);
    sqlite3_str_appendall(q, ")");
}

/* Runs sql (sqlite3_str, consumed).  Returns 0 or -1 with err. */
static int dbt_mg_exec_str(sqlite3 *db, sqlite3_str *q, char *err, size_t errlen)
{
    char *sql = sqlite3_str_finish(q);
    if (!sql) {
        mb_errf(err, errlen, "out of memory");
        return -1;
    }
    int rc = mb_db_exec(db, sql, err, errlen);
    sqlite3_free(sql);
    return rc;
}

/* Returns one integer from sql, or def when NULL; -1 with err on failure. */
static int dbt_mg_int(sqlite3 *db, sqlite3_str *q, sqlite3_int64 def, sqlite3_int64 *out, char *err,
                  size_t errlen)
{
    char *sql = sqlite3_str_finish(q);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (!sql)
        mb_errf(err, errlen, "out of memory");
    else if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
             sqlite3_step(st) != SQLITE_ROW)
        mb_errf(err, errlen, "%s", sqlite3_errmsg(db));
    else {
        *out = sqlite3_column_type(st, 0) == SQLITE_NULL ? def : sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    sqlite3_free(sql);
    return rc;
}


/* Appends the value column c of source row s takes in main: a foreign key
 * to run is the target run's id, one to another copied table goes through
 * that table's map, anything else is copied as it is. */
static void dbt_mg_value(sqlite3_str *q, const dbt_mg_plan *p, const dbt_mg_table *t,
                         const char *c, sqlite3_int64 run_id)
{
    for (int k = 0; k < t->n_fks; k++)
        if (strcmp(c, t->fk_cols[k]) == 0) {
            if (t->fk_to[k] == 0)
                sqlite3_str_appendf(q, "%lld", run_id);
            else
                sqlite3_str_appendf(q, "(SELECT new FROM temp.\"mg_%w\" WHERE old = s.\"%w\")",
                                    p->t[t->fk_to[k]].name, c);
            return;
        }
    sqlite3_str_appendf(q, "s.\"%w\"", c);
}

/* The column names of main.table in order (sqlite3_malloc'd array of
 * sqlite3_malloc'd strings), or NULL. */
static char **dbt_mg_columns(sqlite3 *db, const char *table, int *n)
{
    sqlite3_stmt *st;
    char **cols = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, 'main') ORDER BY cid", -1,
                           &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char **grown = realloc(cols, (size_t)(*n + 1) * sizeof *cols);
        if (!grown)
            break;
        cols = grown;
        cols[(*n)++] = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return cols;
}

static void dbt_mg_free_columns(char **cols, int n)
{
    for (int i = 0; i < n; i++)
        sqlite3_free(cols[i]);
    free(cols);
}

/* Copies table i's rows of run old_id of schema sch under main's run
 * run_id.  With same_run (a merged set), a row equal on the table's UNIQUE
 * columns to one of run_id's is not copied: the map sends it there. */
static int dbt_mg_copy_table(sqlite3 *db, dbt_mg_plan *p, int i, const char *sch,
                             sqlite3_int64 old_id, sqlite3_int64 run_id, int same_run,
                             char *err, size_t errlen)
{
    dbt_mg_table *t = &p->t[i];
    int n_cols;
    char **cols = dbt_mg_columns(db, t->name, &n_cols);
    if (!cols) {
        mb_errf(err, errlen, "cannot read the columns of %s", t->name);
        return -1;
    }
    int rc = 0, pk_is_fk = 0;
    sqlite3_str *q;
    for (int k = 0; t->pk && k < t->n_fks; k++)
        pk_is_fk |= strcmp(t->fk_cols[k], t->pk) == 0; /* icount: keyed by its bench row */
    if (pk_is_fk) { /* the map: the parent's */
        q = sqlite3_str_new(db);
        sqlite3_str_appendf(q, "DROP TABLE IF EXISTS temp.\"mg_%w\";"
                               "CREATE TEMP TABLE \"mg_%w\" (old INTEGER PRIMARY KEY, new INTEGER,"
                               " fresh INTEGER NOT NULL DEFAULT 0);"
                               "INSERT INTO temp.\"mg_%w\" (old, new, fresh) SELECT s.\"%w\", ",
                            t->name, t->name, t->name, t->pk);
        dbt_mg_value(q, p, t, t->pk, run_id);
        sqlite3_str_appendf(q, ", 1 FROM \"%w\".\"%w\" s WHERE ", sch, t->name);
        dbt_mg_filter(q, p, i, sch, old_id);
        rc = dbt_mg_exec_str(db, q, err, errlen);
    } else if (t->pk) { /* the map: old key -> the row it matches, or a fresh key */
        q = sqlite3_str_new(db);
        sqlite3_str_appendf(q, "DROP TABLE IF EXISTS temp.\"mg_%w\";"
                               "CREATE TEMP TABLE \"mg_%w\" (old INTEGER PRIMARY KEY, new INTEGER,"
                               " fresh INTEGER NOT NULL DEFAULT 0);"
                               "INSERT INTO temp.\"mg_%w\" (old, new) SELECT s.\"%w\", ",
                            t->name, t->name, t->name, t->pk);
        if (same_run && t->n_uniq > 0) {
            sqlite3_str_appendf(q, "(SELECT d.\"%w\" FROM main.\"%w\" d WHERE ", t->pk, t->name);
            for (int k = 0; k < t->n_uniq; k++) {
                sqlite3_str_appendf(q, "%sd.\"%w\" IS ", k ? " AND " : "", t->uniq[k]);
                dbt_mg_value(q, p, t, t->uniq[k], run_id);
            }
            sqlite3_str_appendall(q, ")");
        } else
            sqlite3_str_appendall(q, "NULL");
        sqlite3_str_appendf(q, " FROM \"%w\".\"%w\" s WHERE ", sch, t->name);
        dbt_mg_filter(q, p, i, sch, old_id);
        rc = dbt_mg_exec_str(db, q, err, errlen);
        sqlite3_int64 next = 1, first = 0;
        if (rc == 0) {
            q = sqlite3_str_new(db);
            sqlite3_str_appendf(q, "SELECT max(\"%w\") + 1 FROM main.\"%w\"", t->pk, t->name);
            rc = dbt_mg_int(db, q, 1, &next, err, errlen);
        }
        if (rc == 0) {
            q = sqlite3_str_new(db);
            sqlite3_str_appendf(q, "SELECT min(old) FROM temp.\"mg_%w\" WHERE new IS NULL",
                                t->name);
            rc = dbt_mg_int(db, q, 0, &first, err, errlen);
        }
        if (rc == 0) {
            q = sqlite3_str_new(db);
            sqlite3_str_appendf(q, "UPDATE temp.\"mg_%w\" SET new = old + %lld, fresh = 1"
                                   " WHERE new IS NULL", t->name, next - first);
            rc = dbt_mg_exec_str(db, q, err, errlen);
        }
    }
    if (rc == 0) {
        q = sqlite3_str_new(db);
        sqlite3_str_appendf(q, "INSERT INTO main.\"%w\" (", t->name);
        for (int c = 0; c < n_cols; c++)
            sqlite3_str_appendf(q, "%s\"%w\"", c ? ", " : "", cols[c]);
        sqlite3_str_appendall(q, ") SELECT ");
        for (int c = 0; c < n_cols; c++) {
            if (c)
                sqlite3_str_appendall(q, ", ");
            if (t->pk && strcmp(cols[c], t->pk) == 0)
                sqlite3_str_appendall(q, "m.new");
            else
                dbt_mg_value(q, p, t, cols[c], run_id);
        }
        sqlite3_str_appendf(q, " FROM \"%w\".\"%w\" s", sch, t->name);
        if (t->pk)
            sqlite3_str_appendf(q, " JOIN temp.\"mg_%w\" m ON m.old = s.\"%w\" AND m.fresh = 1",
                                t->name, t->pk);
        sqlite3_str_appendall(q, " WHERE ");
        dbt_mg_filter(q, p, i, sch, old_id);
        if (same_run && strcmp(t->name, "not_measured") == 0) {
            /* every shard says what its machine could not measure: once each */
            sqlite3_str_appendf(q, " AND NOT EXISTS (SELECT 1 FROM main.not_measured d WHERE"
                                   " d.run_id = %lld AND d.what IS s.what AND d.package IS"
                                   " s.package)", run_id);
        }
        rc = dbt_mg_exec_str(db, q, err, errlen);
    }
    dbt_mg_free_columns(cols, n_cols);
    return rc;
}

/* Copies run old_id of schema sch and every row hanging off it as a new run. */
static int dbt_mg_copy_run(sqlite3 *db, dbt_mg_plan *p, const char *sch, sqlite3_int64 old_id,
                           char *err, size_t errlen)
{
    sqlite3_int64 run_id;
    if (dbt_mg_copy_table(db, p, 0, sch, old_id, 0, 0, err, errlen) != 0)
        return -1;
    sqlite3_str *q = sqlite3_str_new(db);
    sqlite3_str_appendf(q, "SELECT new FROM temp.mg_run WHERE old = %lld", old_id);
    if (dbt_mg_int(db, q, -1, &run_id, err, errlen) != 0)
        return -1;
    for (int i = 1; i < p->n; i++)
        if (dbt_mg_copy_table(db, p, i, sch, old_id, run_id, 0, err, errlen) != 0)
            return -1;
    return 0;
}

/* ---- the shard runs of the databases given ------------------------------------------- */

typedef struct dbt_shard {
    int src;                          /* which database (schema s<src>) */
    sqlite3_int64 run_id;
    char *uuid, *run_set, *machine;   /* machine: cpu|compiler|cflags|build|git */
    char *hostname, *cpu_model, *compiler, *git_sha, *started, *finished, *status;
    int index, count;
    int group;                        /* the merged run it goes into (a set x machine) */
} dbt_shard;

typedef struct dbt_shards {
    dbt_shard *s;
    size_t n;
} dbt_shards;

static void dbt_shards_free(dbt_shards *v)
{
    for (size_t i = 0; i < v->n; i++) {
        dbt_shard *s = &v->s[i];
        char *strs[] = { s->uuid, s->run_set, s->machine, s->hostname, s->cpu_model,
                         s->compiler, s->git_sha, s->started, s->finished, s->status };
        for (size_t k = 0; k < sizeof strs / sizeof *strs; k++)
            sqlite3_free(strs[k]);
    }
    free(v->s);
    memset(v, 0, sizeof *v);
}

static char *dbt_col(sqlite3_stmt *st, int c)
{
    const char *v = (const char *)sqlite3_column_text(st, c);
    return sqlite3_mprintf("%s", v ? v : "");
}

/* Reads the shard runs of schema s<src> (run_set set) into v; the plain runs
 * this database lacks into *ids.  Returns 0 or -1 with err. */
static int dbt_read_runs(sqlite3 *db, int src, dbt_shards *v, sqlite3_int64 **ids, size_t *nids,
                         char *err, size_t errlen)
{
    char *sql = sqlite3_mprintf(
        "SELECT run_id, run_uuid, run_set, shard_index, shard_count,"
        " coalesce(cpu_model,'') || '|' || coalesce(compiler,'') || '|' || coalesce(cflags,'')"
        " || '|' || coalesce(build_type,'') || '|' || coalesce(git_sha,''),"
        " hostname, cpu_model, compiler, git_sha, started_at, finished_at, status,"
        " run_uuid IN (SELECT run_uuid FROM main.run)"
        " FROM s%d.run ORDER BY run_id", src);
    sqlite3_stmt *st = NULL;
    if (!sql || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        mb_errf(err, errlen, "%s", sql ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_free(sql);
        return -1;
    }
    sqlite3_free(sql);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 2) == SQLITE_NULL || sqlite3_column_type(st, 4) == SQLITE_NULL) {
            if (sqlite3_column_int(st, 13))
                continue; /* a plain run this database holds */
            sqlite3_int64 *g = realloc(*ids, (*nids + 1) * sizeof *g);
            if (!g)
                break;
            *ids = g;
            (*ids)[(*nids)++] = sqlite3_column_int64(st, 0);
            continue;
        }
        dbt_shard *g = realloc(v->s, (v->n + 1) * sizeof *g);
        if (!g)
            break;
        v->s = g;
        dbt_shard *s = &v->s[v->n++];
        memset(s, 0, sizeof *s);
        s->src = src;
        s->run_id = sqlite3_column_int64(st, 0);
        s->uuid = dbt_col(st, 1);
        s->run_set = dbt_col(st, 2);
        s->index = sqlite3_column_int(st, 3);
        s->count = sqlite3_column_int(st, 4);
        s->machine = dbt_col(st, 5);
        s->hostname = dbt_col(st, 6);
        s->cpu_model = dbt_col(st, 7);
        s->compiler = dbt_col(st, 8);
        s->git_sha = dbt_col(st, 9);
        s->started = dbt_col(st, 10);
        s->finished = dbt_col(st, 11);
        s->status = dbt_col(st, 12);
        s->group = -1;
    }
    sqlite3_finalize(st);
    return 0;
}

/* Groups the shards into merged runs: one per run set, or with allow_mixed
 * one per run set and machine.  Checks each set is whole and (unless
 * allow_mixed) of one machine.  Returns the number of groups, or -1 with err. */
static int dbt_group_shards(dbt_shards *v, const char *const *srcs, int allow_mixed, char *err,
                            size_t errlen)
{
    int groups = 0;
    for (size_t i = 0; i < v->n; i++) {
        dbt_shard *a = &v->s[i];
        if (a->group >= 0)
            continue;
        a->group = groups++;
        for (size_t j = i + 1; j < v->n; j++) {
            dbt_shard *b = &v->s[j];
            if (b->group >= 0 || strcmp(a->run_set, b->run_set) != 0)
                continue;
            if (b->count != a->count) {
                mb_errf(err, errlen, "run set %s: shards of %d and of %d (%s, %s)", a->run_set,
                         a->count, b->count, srcs[a->src], srcs[b->src]);
                return -1;
            }
            if (b->index == a->index) {
                mb_errf(err, errlen, "run set %s: shard %d/%d given twice (%s, %s)", a->run_set,
                         a->index, a->count, srcs[a->src], srcs[b->src]);
                return -1;
            }
            if (strcmp(a->machine, b->machine) != 0 && !allow_mixed) {
                mb_errf(err, errlen, "run set %s: shard %d/%d (%s: %s) and shard %d/%d (%s: %s)"
                         " ran on different machines or builds (cpu|compiler|flags|build|commit);"
                         " --allow-mixed keeps each machine its own run", a->run_set, a->index,
                         a->count, srcs[a->src], a->machine, b->index, b->count, srcs[b->src],
                         b->machine);
                return -1;
            }
            if (strcmp(a->machine, b->machine) == 0)
                b->group = a->group;
        }
    }
    /* every set whole: each I of 1..N once, over all its machines */
    for (size_t i = 0; i < v->n; i++) {
        const dbt_shard *a = &v->s[i];
        for (int want = 1; want <= a->count; want++) {
            int seen = 0;
            for (size_t j = 0; j < v->n; j++)
                seen += strcmp(v->s[j].run_set, a->run_set) == 0 && v->s[j].index == want;
            if (seen == 0) {
                mb_errf(err, errlen, "run set %s: shard %d/%d is missing (give its database"
                         " too)", a->run_set, want, a->count);
                return -1;
            }
        }
    }
    return groups;
}

/* The merged run's uuid: the run set, '-', 16 hex digits of FNV-1a over the
 * group's shard uuids in shard order (the same shards: the same uuid). */
static char *dbt_group_uuid(const dbt_shards *v, int group)
{
    unsigned long long h = 0xcbf29ce484222325ULL;
    const char *set = NULL;
    for (int want = 1; want <= 1000; want++)
        for (size_t i = 0; i < v->n; i++)
            if (v->s[i].group == group && v->s[i].index == want) {
                set = v->s[i].run_set;
                for (const char *c = v->s[i].uuid; *c; c++)
                    h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
            }
    return sqlite3_mprintf("%s-%016llx", set ? set : "?", h);
}

/* Writes one merged run for group: its run row from the first shard's (uuid,
 * times, status and calibration made the set's), then every shard's rows
 * under it, and run_part.  Returns 1 when written, 0 when this database
 * already holds it, -1 with err. */
static int dbt_merge_group(sqlite3 *db, dbt_mg_plan *p, const dbt_shards *v, int group,
                           char *err, size_t errlen)
{
    char *uuid = dbt_group_uuid(v, group);
    sqlite3_int64 have = 0, run_id = -1;
    sqlite3_str *q = sqlite3_str_new(db);
    sqlite3_str_appendf(q, "SELECT count(*) FROM main.run WHERE run_uuid = %Q", uuid);
    int rc = dbt_mg_int(db, q, 0, &have, err, errlen);
    if (rc != 0 || have) {
        sqlite3_free(uuid);
        return rc != 0 ? -1 : 0;
    }
    int first = 1;
    for (int want = 1; want <= 1000 && rc == 0; want++)
        for (size_t i = 0; i < v->n && rc == 0; i++) {
            const dbt_shard *s = &v->s[i];
            if (s->group != group || s->index != want)
                continue;
            char sch[16];
            snprintf(sch, sizeof sch, "s%d", s->src);
            if (first) {
                rc = dbt_mg_copy_table(db, p, 0, sch, s->run_id, 0, 0, err, errlen);
                q = sqlite3_str_new(db);
                sqlite3_str_appendf(q, "SELECT new FROM temp.mg_run WHERE old = %lld", s->run_id);
                if (rc == 0)
                    rc = dbt_mg_int(db, q, -1, &run_id, err, errlen);
                else
                    sqlite3_free(sqlite3_str_finish(q));
                q = sqlite3_str_new(db);
                sqlite3_str_appendf(q, "UPDATE main.run SET run_uuid = %Q, shard_index = NULL"
                                       " WHERE run_id = %lld", uuid, run_id);
                if (rc == 0)
                    rc = dbt_mg_exec_str(db, q, err, errlen);
                else
                    sqlite3_free(sqlite3_str_finish(q));
                first = 0;
            } else {
                /* the set's span, status and the calibration (run by one shard) */
                q = sqlite3_str_new(db);
                sqlite3_str_appendf(q,
                    "UPDATE main.run SET"
                    " started_at = min(started_at, (SELECT started_at FROM %s.run WHERE run_id = %lld)),"
                    " finished_at = max(finished_at, (SELECT finished_at FROM %s.run WHERE run_id = %lld)),"
                    " status = CASE WHEN (SELECT status FROM %s.run WHERE run_id = %lld) = 'failed'"
                    "   THEN 'failed' ELSE status END,"
                    " rss_floor_bytes = coalesce(rss_floor_bytes, (SELECT rss_floor_bytes FROM %s.run"
                    "   WHERE run_id = %lld)),"
                    " calib_64mib_rss_bytes = coalesce(calib_64mib_rss_bytes, (SELECT"
                    "   calib_64mib_rss_bytes FROM %s.run WHERE run_id = %lld))"
                    " WHERE run_id = %lld", sch, s->run_id, sch, s->run_id, sch, s->run_id, sch,
                    s->run_id, sch, s->run_id, run_id);
                rc = dbt_mg_exec_str(db, q, err, errlen);
            }
            for (int t = 1; t < p->n && rc == 0; t++)
                if (strcmp(p->t[t].name, "run_part") != 0)
                    rc = dbt_mg_copy_table(db, p, t, sch, s->run_id, run_id, 1, err, errlen);
            q = sqlite3_str_new(db);
            sqlite3_str_appendf(q,
                "INSERT INTO main.run_part (run_id, part_uuid, shard_index, shard_count, hostname,"
                " cpu_model, compiler, git_sha, started_at, finished_at, status, units)"
                " SELECT %lld, run_uuid, shard_index, shard_count, hostname, cpu_model, compiler,"
                " git_sha, started_at, finished_at, status,"
                " (SELECT count(*) FROM %s.run_unit u WHERE u.run_id = r.run_id)"
                " FROM %s.run r WHERE run_id = %lld", run_id, sch, sch, s->run_id);
            if (rc == 0)
                rc = dbt_mg_exec_str(db, q, err, errlen);
            else
                sqlite3_free(sqlite3_str_finish(q));
        }
    sqlite3_free(uuid);
    return rc != 0 ? -1 : 1;
}

/* ---- progress: the shards' <db>.progress files ------------------------------------------ */

typedef struct dbt_progress {
    size_t files, stored, done, total;
    size_t pending;              /* not ended: running, or neither progress file nor database */
    double cost_done, cost_total, eta_s;
    double oldest_pending_s;     /* age of the stalest pending shard's progress file */
    sqlite3_str *shards;         /* "1/4 running (updated 3 s ago), 2/4 stored, ..." */
} dbt_progress;

/* Reads every source's progress file.  A missing one counts as not started
 * (or a database made before progress files: stored when it holds runs).
 * Each shard's entry says how long ago its file was last written: a shard
 * killed outright (SIGKILL, a lost machine) leaves "running" behind, and only
 * the age tells it from one still working through a long unit. */
static void dbt_read_progress(const char *const *srcs, int n, dbt_progress *pr)
{
    if (pr->shards)
        sqlite3_free(sqlite3_str_finish(pr->shards));
    memset(pr, 0, sizeof *pr);
    pr->shards = sqlite3_str_new(NULL);
    time_t now = time(NULL);
    for (int i = 0; i < n; i++) {
        char *path = sqlite3_mprintf("%s.progress", srcs[i]);
        FILE *f = path ? fopen(path, "r") : NULL;
        struct stat st;
        double age_s = f && fstat(fileno(f), &st) == 0 ? difftime(now, st.st_mtime) : 0;
        sqlite3_free(path);
        char line[512], set[128], shard[32], state[32];
        size_t done = 0, total = 0;
        double cd = 0, ct = 0, el = 0;
        int got = 0;
        while (f && fgets(line, sizeof line, f))
            if (line[0] != '#' && sscanf(line, "%127s %31s %zu %zu %lf %lf %lf %31s", set, shard,
                                         &done, &total, &cd, &ct, &el, state) == 8)
                got = 1;
        if (f)
            fclose(f);
        pr->files += got;
        pr->done += done;
        pr->total += total;
        pr->cost_done += cd;
        pr->cost_total += ct;
        int db_there = access(srcs[i], R_OK) == 0;
        int pending = got ? strncmp(state, "stored", 6) != 0 && strcmp(state, "failed") != 0
                          : !db_there;
        if (got && strncmp(state, "stored", 6) == 0)
            pr->stored++;
        else if (got && cd > 0 && el * (ct - cd) / cd > pr->eta_s)
            pr->eta_s = el * (ct - cd) / cd; /* the slowest shard decides */
        if (pending) {
            pr->pending++;
            if (got && age_s > pr->oldest_pending_s)
                pr->oldest_pending_s = age_s;
        }
        sqlite3_str_appendf(pr->shards, "%s%s ", i ? ", " : "", got ? shard : srcs[i]);
        if (got)
            sqlite3_str_appendf(pr->shards, pending ? "%s (updated %.0f s ago)" : "%s", state,
                                age_s);
        else
            sqlite3_str_appendall(pr->shards, db_there ? "no-progress-file"
                                                        : "not-started");
    }
}

static void dbt_print_progress(const dbt_progress *pr, int n)
{
    double pct = pr->total ? 100.0 * (double)pr->done / (double)pr->total : 0;
    const char *shards = sqlite3_str_value(pr->shards);
    fprintf(stderr, "merge: %zu/%d shards stored; units %zu/%zu (%.0f%%), estimated cost"
            " %.0f/%.0f s; ETA %.0f s  [%s]\n", pr->stored, n, pr->done, pr->total, pct,
            pr->cost_done, pr->cost_total, pr->eta_s, shards ? shards : "out of memory");
}

/* ---- the command ----------------------------------------------------------------------- */

static int mb_cmd_merge(int argc, char **argv)
{
    const char *db_path = MB_DEFAULT_DB, *v;
    const char *srcs[10];
    int n_src = 0, allow_mixed = 0, wait = 0, progress_only = 0;
    double poll_s = 5, timeout_s = 0; /* 0: wait as long as it takes */
    char err[MB_ERR_LEN];
    const mb_command *cmd = &mb_command_merge;
    for (int i = 2; i < argc; i++) {
        mb_help_exit(argv[i], cmd);
        if ((v = mb_flag_value(argc, argv, &i, "--db", cmd)))
            db_path = v;
        else if (strcmp(argv[i], "--allow-mixed") == 0)
            allow_mixed = 1;
        else if (strcmp(argv[i], "--wait") == 0)
            wait = 1;
        else if (strcmp(argv[i], "--progress") == 0)
            progress_only = 1;
        else if ((v = mb_flag_value(argc, argv, &i, "--poll", cmd))) {
            poll_s = (double)mb_parse_count(v, "--poll", cmd);
            if (poll_s < 1)
                mb_usage_error(cmd, "--poll wants seconds >= 1");
        } else if ((v = mb_flag_value(argc, argv, &i, "--timeout", cmd))) {
            timeout_s = (double)mb_parse_count(v, "--timeout", cmd);
            if (timeout_s < 1)
                mb_usage_error(cmd, "--timeout wants seconds >= 1");
        } else if (argv[i][0] == '-')
            mb_usage_error(cmd, "unknown option '%s'", argv[i]);
        else if (n_src == 10)
            mb_usage_error(cmd, "at most 10 databases per merge (SQLite's attach limit)");
        else
            srcs[n_src++] = argv[i];
    }
    if (!n_src)
        mb_usage_error(cmd, "missing the database(s) to merge from");
    if (timeout_s > 0 && !wait)
        mb_usage_error(cmd, "--timeout is --wait's limit: give --wait too");
    dbt_progress pr = { 0 };
    dbt_read_progress(srcs, n_src, &pr);
    if (pr.files || progress_only || wait)
        dbt_print_progress(&pr, n_src);
    /* --wait: until every shard has ended (stored, or failed to store; a
     * database without a progress file is taken as it is), or --timeout */
    double waited_s = 0;
    while (wait && pr.pending > 0 && (timeout_s <= 0 || waited_s < timeout_s)) {
        sleep((unsigned)poll_s);
        waited_s += poll_s;
        dbt_read_progress(srcs, n_src, &pr);
        dbt_print_progress(&pr, n_src);
    }
    size_t pending = pr.pending;
    double stalest_s = pr.oldest_pending_s;
    sqlite3_free(sqlite3_str_finish(pr.shards));
    if (progress_only)
        return 0;
    if (wait && pending > 0) {
        fprintf(stderr, "mapbench: merge gave up after --timeout %.0f s: %zu shard(s) not stored"
                " (the stalest progress file was written %.0f s ago: a shard killed outright"
                " leaves 'running' behind); nothing merged\n", timeout_s, pending, stalest_s);
        return 1;
    }
    /* Validate each source through the read door (never written), then open
     * the target for writing and attach them read-only. */
    for (int k = 0; k < n_src; k++) {
        sqlite3 *src = mb_db_open_read(srcs[k], err, sizeof err);
        if (!src) {
            fprintf(stderr, "mapbench: %s\n", err);
            return 1;
        }
        sqlite3_close(src);
    }
    sqlite3 *db = mb_db_open(db_path, 1, err, sizeof err);
    if (!db) {
        fprintf(stderr, "mapbench: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (int k = 0; k < n_src && rc == 0; k++) {
        char *uri = mb_db_uri(srcs[k], "mode=ro");
        char *attach = uri ? sqlite3_mprintf("ATTACH %Q AS s%d", uri, k) : NULL;
        rc = attach ? mb_db_exec(db, attach, err, sizeof err) : -1;
        if (!attach)
            mb_errf(err, sizeof err, "out of memory");
        sqlite3_free(attach);
        sqlite3_free(uri);
    }
    dbt_mg_plan plan;
    memset(&plan, 0, sizeof plan);
    dbt_shards shards = { NULL, 0 };
    sqlite3_int64 **ids = calloc((size_t)n_src, sizeof *ids);
    size_t *nids = calloc((size_t)n_src, sizeof *nids), plain = 0;
    int groups = 0, merged = 0;
    if (!ids || !nids)
        rc = -1, mb_errf(err, sizeof err, "out of memory");
    if (rc == 0)
        rc = dbt_mg_plan_build(db, &plan, err, sizeof err);
    if (rc == 0)
        rc = mb_db_exec(db, "BEGIN IMMEDIATE", err, sizeof err);
    for (int k = 0; k < n_src && rc == 0; k++)
        rc = dbt_read_runs(db, k, &shards, &ids[k], &nids[k], err, sizeof err);
    if (rc == 0 && (groups = dbt_group_shards(&shards, srcs, allow_mixed, err, sizeof err)) < 0)
        rc = -1;
    for (int k = 0; k < n_src && rc == 0; k++) {
        char sch[16];
        snprintf(sch, sizeof sch, "s%d", k);
        for (size_t r = 0; r < nids[k] && rc == 0; r++, plain++)
            rc = dbt_mg_copy_run(db, &plan, sch, ids[k][r], err, sizeof err);
    }
    for (int g = 0; g < groups && rc == 0; g++) {
        int w = dbt_merge_group(db, &plan, &shards, g, err, sizeof err);
        rc = w < 0 ? -1 : 0;
        merged += w > 0;
    }
    if (rc != 0 || mb_db_exec(db, "COMMIT", err, sizeof err) != 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        fprintf(stderr, "mapbench: merge failed, nothing changed: %s\n", err);
        rc = 1;
    } else {
        printf("merged %zu new run(s) and %d new sharded run(s) (of %d) from %d database(s)"
               " into %s (tables:", plain, merged, groups, n_src, db_path);
        for (int i = 0; i < plan.n; i++)
            printf(" %s", plan.t[i].name);
        printf(")\n");
    }
    for (int k = 0; ids && k < n_src; k++)
        free(ids[k]);
    free(ids);
    free(nids);
    dbt_shards_free(&shards);
    dbt_mg_free(&plan);
    sqlite3_close(db);
    return rc;
}

const mb_command mb_command_merge = {
    "merge",
    "copy other results databases' runs into this one; shards of a run into one run",
    "usage: mapbench merge OTHER.db... [--db PATH] [--allow-mixed] [--progress] [--wait]\n"
    "                      [--poll SECONDS] [--timeout SECONDS]\n"
    "  Copies the runs of the OTHER databases (at most 10) that this database lacks\n"
    "  (by run uuid), in one transaction; merging twice adds nothing.\n"
    "  Shards (`run --shard I/N`): the shard runs of one run set become ONE run (table\n"
    "  run_part lists its shards).  Every I of 1..N must be given once (a missing or\n"
    "  doubled shard is an error naming it); shards of different machines (CPU model,\n"
    "  compiler, flags, build type, git commit) are refused unless --allow-mixed: then\n"
    "  each machine's shards make their own run.\n"
    "  --progress  only print the sharded run's progress line (units done / total,\n"
    "              ETA) from the shards' <db>.progress files; the databases are not read\n"
    "  --wait      print it every --poll seconds (default 5) until every shard is stored,\n"
    "              then merge; each shard still running shows when its progress file was\n"
    "              last written (a shard killed outright leaves 'running' behind)\n"
    "  --timeout   with --wait: give up after SECONDS (exit 1, nothing merged)\n",
    mb_cmd_merge,
};
