/*
 * pool.c — running the plan's units K wide (`mapbench run --jobs K`).
 *
 * K worker threads take the units in plan order from one cursor, under one
 * mutex.  The rule that keeps timings honest:
 *   - a unit that may run beside others (memory, calibration, icount) starts
 *     as soon as a slot is free and no alone unit is running;
 *   - an alone unit (every kind that times something) waits until every
 *     other unit has finished, and nothing starts while it runs.
 * So with K = 1 the units run one after another in plan order, exactly as
 * before there was a pool.  Each worker starts its children in its own
 * spawn slot (spawn.c), so ^C kills every running child's process group.
 *
 * What is recorded per unit: the slot, the interval (seconds from the run's
 * start) and whether another unit ran at some moment of it (marked on both
 * when one starts while the other runs).
 *
 * Progress file.  The run stores in one transaction at the end, so before
 * that nothing in the database says how far it is.  After every unit the
 * pool rewrites `<db>.progress` beside the database (write a temporary
 * file, rename it: a reader sees the old or the new one whole):
 *   run_set <tab> shard I/N <tab> units done/total <tab> cost done/total
 *   <tab> elapsed s <tab> state
 * `mapbench merge --progress/--wait` reads these and never opens a shard's
 * database until it is stored (the state "stored" is written after the
 * COMMIT).  A killed run leaves "running" behind and its database untouched.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_internal.h"

typedef struct pool {
    run_state *rs;
    mb_unit_fn fn;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;             /* the cursor into rs->mine */
    unsigned running;        /* units running now */
    int alone_running;       /* an alone unit holds the machine */
    mb_unit **slot_unit;     /* what each slot runs now (NULL: idle) */
    size_t done;
    double cost_done;
    unsigned slots;
} pool;

typedef struct pool_worker {
    pool *p;
    int slot;
} pool_worker;

static double pool_now_s(const run_state *rs)
{
    return (double)(mb_now_ns() - rs->t_start) * 1e-9;
}

void mb_pool_lock(run_state *rs)
{
    if (rs->lock)
        pthread_mutex_lock(&((pool *)rs->lock)->mu);
}

void mb_pool_unlock(run_state *rs)
{
    if (rs->lock)
        pthread_mutex_unlock(&((pool *)rs->lock)->mu);
}

/* Takes the next unit for slot when the rule allows; NULL when none is left.
 * Called with the mutex held; waits on the condition otherwise. */
static mb_unit *pool_take(pool *p, int slot)
{
    run_state *rs = p->rs;
    for (;;) {
        if (p->next == rs->n_mine)
            return NULL;
        mb_unit *u = rs->mine[p->next];
        int may = u->alone ? p->running == 0 : !p->alone_running;
        if (may) {
            p->next++;
            p->running++;
            p->alone_running = u->alone;
            u->slot = slot;
            u->start_s = pool_now_s(rs);
            for (unsigned s = 0; s < p->slots; s++)
                if (p->slot_unit[s])
                    p->slot_unit[s]->overlapped = u->overlapped = 1;
            p->slot_unit[slot] = u;
            return u;
        }
        pthread_cond_wait(&p->cv, &p->mu);
    }
}

static void *pool_worker_main(void *arg)
{
    pool_worker *w = arg;
    pool *p = w->p;
    sigset_t set;
    /* the main thread takes ^C; a worker's children die with the process */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (w->slot > 0)
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    mb_spawn_set_slot(w->slot);
    pthread_mutex_lock(&p->mu);
    for (mb_unit *u; (u = pool_take(p, w->slot));) {
        pthread_mutex_unlock(&p->mu);
        p->fn(p->rs, u);
        pthread_mutex_lock(&p->mu);
        u->end_s = pool_now_s(p->rs);
        u->ran = 1;
        p->slot_unit[w->slot] = NULL;
        p->running--;
        if (u->alone)
            p->alone_running = 0;
        p->done++;
        p->cost_done += u->cost_s;
        mb_progress_write(p->rs, "running");
        pthread_cond_broadcast(&p->cv);
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void mb_pool_run(run_state *rs, mb_unit_fn fn)
{
    pool p;
    memset(&p, 0, sizeof p);
    p.rs = rs;
    p.fn = fn;
    p.slots = rs->jobs ? rs->jobs : 1;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    p.slot_unit = calloc(p.slots, sizeof *p.slot_unit);
    pool_worker *ws = calloc(p.slots, sizeof *ws);
    pthread_t *tids = calloc(p.slots, sizeof *tids);
    if (!p.slot_unit || !ws || !tids) {
        fprintf(stderr, "mapbench: out of memory starting %u workers\n", p.slots);
        rs->failures++;
        free(p.slot_unit), free(ws), free(tids);
        return;
    }
    rs->lock = &p;
    mb_progress_write(rs, "running");
    /* slot 0 is this thread (signals arrive here); slots 1.. are threads */
    unsigned started = 1;
    for (unsigned s = 0; s < p.slots; s++)
        ws[s] = (pool_worker){ &p, (int)s };
    for (unsigned s = 1; s < p.slots; s++, started++)
        if (pthread_create(&tids[s], NULL, pool_worker_main, &ws[s]) != 0) {
            fprintf(stderr, "mapbench: could start only %u of %u workers\n", s, p.slots);
            break;
        }
    pool_worker_main(&ws[0]);
    for (unsigned s = 1; s < started; s++)
        pthread_join(tids[s], NULL);
    rs->lock = NULL;
    mb_spawn_set_slot(0);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    free(p.slot_unit);
    free(ws);
    free(tids);
}

/* ---- the progress file ------------------------------------------------------------------ */

int mb_progress_write(run_state *rs, const char *state)
{
    size_t done = 0;
    double cost_done = 0, cost_total = 0;
    for (size_t i = 0; i < rs->n_mine; i++) {
        cost_total += rs->mine[i]->cost_s;
        if (rs->mine[i]->ran)
            done++, cost_done += rs->mine[i]->cost_s;
    }
    size_t len = strlen(rs->db_path) + 32;
    char *path = malloc(len), *tmp = malloc(len);
    FILE *f = NULL;
    int rc = -1;
    if (path && tmp) {
        snprintf(path, len, "%s.progress", rs->db_path);
        snprintf(tmp, len, "%s.progress.tmp", rs->db_path);
        f = fopen(tmp, "w");
    }
    if (f) {
        fprintf(f, "#run_set\tshard\tunits_done\tunits_total\tcost_done_s\tcost_total_s\t"
                   "elapsed_s\tstate\n");
        fprintf(f, "%s\t%u/%u\t%zu\t%zu\t%.1f\t%.1f\t%.1f\t%s\n",
                rs->run_set[0] ? rs->run_set : "-", rs->shard_count ? rs->shard_index : 1,
                rs->shard_count ? rs->shard_count : 1, done, rs->n_mine, cost_done, cost_total,
                (double)(mb_now_ns() - rs->t_start) * 1e-9, state);
        rc = fclose(f) == 0 && rename(tmp, path) == 0 ? 0 : -1;
    }
    free(path);
    free(tmp);
    return rc;
}
