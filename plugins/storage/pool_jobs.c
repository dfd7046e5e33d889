/*
 * Database work on the offload pool (storage_run, storage_offload) and the
 * closing of a worker's database. Contracts in storage.h.
 *
 * A worker's database outlives worker_stop(): the core stops the plugins
 * before it drains the offload pool, so jobs may still be running (or
 * their completions still due) when worker_stop closes up. storage_run
 * counts the jobs out; storage_run_close_db() closes st->db at once when
 * none is, else the completion of the last one does.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "storage.h"

typedef struct storage_job {
    storage_state *st;
    storage_prep_fn prep; /* may be NULL */
    storage_job_fn fn;
    storage_done_fn done;
    void *arg;
    int rc;
    int is_kept; /* storage_run_kept: run here when the pool cancels it */
    char err[512];
} storage_job;

static void storage_close_now(storage_state *st)
{
    if (st->db != NULL) {
        storage_db_close(st->db);
        st->db = NULL;
    }
    st->is_close_pending = 0;
}

void storage_run_close_db(storage_state *st)
{
    if (st->n_jobs_out == 0)
        storage_close_now(st);
    else
        st->is_close_pending = 1;
}

static void storage_job_work(void *arg)
{
    storage_job *j = arg;
    storage_conn *c = NULL;
    int rc;

    if (j->prep != NULL && (j->rc = j->prep(j->st, j->arg)) != LX_OK) {
        j->err[0] = '\0';
        return;
    }
    rc = storage_db_acquire(j->st->db, &c, j->err, sizeof(j->err));
    if (rc != LX_OK) {
        j->rc = rc;
        return;
    }
    j->err[0] = '\0';
    j->rc = j->fn(j->st, c, j->arg, j->err, sizeof(j->err));
    storage_db_release(j->st->db, c, j->rc == LX_EIO);
    if (j->rc == LX_OK)
        j->err[0] = '\0';
    else if (j->err[0] == '\0')
        snprintf(j->err, sizeof(j->err), "database call failed (%d)", j->rc);
}

int64_t storage_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void storage_job_done(void *arg, int status)
{
    storage_job *j = arg;
    storage_state *st = j->st;

    if (status == LX_ECANCELED && j->is_kept) {
        /* The worker's loop has ended (its pool cancels only then): the
         * job runs here, waiting for a connection if it must. */
        storage_job_work(j);
    } else if (status != LX_OK) {
        j->rc = status;
        snprintf(j->err, sizeof(j->err), "the worker is stopping");
    }
    if (j->rc == STORAGE_ENOSPC) /* for /ready (storage.c) */
        st->full_at_ms = storage_mono_ms();
    j->done(st, j->arg, j->rc, j->err);
    free(j);
}

static int storage_run_job(storage_state *st, lx_worker *w, storage_prep_fn prep, storage_job_fn fn,
                           storage_done_fn done, void *arg, int is_kept)
{
    storage_job *j = calloc(1, sizeof(*j));
    int rc;

    if (j == NULL)
        return LX_ENOMEM;
    j->st = st;
    j->prep = prep;
    j->fn = fn;
    j->done = done;
    j->arg = arg;
    j->is_kept = is_kept;
    /* Counted as a job out by storage_offload; its done runs storage_job_done. */
    rc = storage_offload(st, w, storage_job_work, storage_job_done, j);
    if (rc == LX_ESTATE && is_kept && st->db != NULL) {
        /* The pool or the database is closing: the worker's loop has
         * ended, so it runs here and now. */
        storage_job_work(j);
        j->done(st, j->arg, j->rc, j->err);
        free(j);
        return LX_OK;
    }
    if (rc != LX_OK)
        free(j);
    return rc;
}

int storage_run(storage_state *st, lx_worker *w, storage_job_fn fn, storage_done_fn done, void *arg)
{
    return storage_run_job(st, w, NULL, fn, done, arg, 0);
}

int storage_run_prepared(storage_state *st, lx_worker *w, storage_prep_fn prep, storage_job_fn fn,
                         storage_done_fn done, void *arg)
{
    return storage_run_job(st, w, prep, fn, done, arg, 0);
}

int storage_run_kept(storage_state *st, lx_worker *w, storage_job_fn fn, storage_done_fn done,
                     void *arg)
{
    return storage_run_job(st, w, NULL, fn, done, arg, 1);
}

/* Pool work without a connection, counted as a job out (storage.h). */
typedef struct storage_plain {
    storage_state *st;
    void (*work)(void *arg);
    void (*done)(void *arg, int status);
    void *arg;
} storage_plain;

static void storage_plain_work(void *arg)
{
    storage_plain *p = arg;

    p->work(p->arg);
}

static void storage_plain_done(void *arg, int status)
{
    storage_plain *p = arg;
    storage_state *st = p->st;

    p->done(p->arg, status);
    free(p);
    st->n_jobs_out--;
    if (st->n_jobs_out == 0 && st->is_close_pending)
        storage_close_now(st);
}

int storage_offload(storage_state *st, lx_worker *w, void (*work)(void *arg),
                    void (*done)(void *arg, int status), void *arg)
{
    storage_plain *p;
    int rc;

    if (st->db == NULL || st->is_close_pending)
        return LX_ESTATE;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return LX_ENOMEM;
    p->st = st;
    p->work = work;
    p->done = done;
    p->arg = arg;
    rc = st->host->offload(w, storage_plain_work, storage_plain_done, p);
    if (rc != LX_OK) {
        free(p);
        return rc < 0 ? rc : LX_ENOMEM;
    }
    st->n_jobs_out++;
    return LX_OK;
}
