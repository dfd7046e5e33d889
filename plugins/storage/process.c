/*
 * The text pipeline of one worker: uploaded documents become text.
 *
 * A FIFO queue; at most st->extract_concurrency documents move at once.
 * Each goes through two jobs on the offload pool:
 *   1. with a connection: status "processing", then the file's bytes
 *      (SQLite: uploads/<id>; PostgreSQL: its chunks);
 *   2. without one (extraction may take long and must not hold a database
 *      connection): the lexiaid-extract child, normalisation, passages;
 *      then, with a connection taken only now, the text and passages
 *      stored (status "processed"), or status "failed" with the reason.
 *      One job, so that a worker stopping while the child runs still
 *      stores its result (storage_offload keeps st->db open for it).
 * A document deleted meanwhile (LX_ENOENT) ends its run quietly.
 *
 * Lifetimes: storage_proc and its items belong to the worker loop. At
 * storage_proc_stop the queued items are cancelled (their waiters told
 * LX_ECANCELED); items in flight finish their current job (the core
 * drains the pool after worker_stop), start no further job, and the last
 * one frees the queue. A document left "processing" that way is picked up
 * again at the next start (storage.c re-queues stale work).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"
#include "text.h"

#define STORAGE_PASSAGE_TARGET 800

typedef struct storage_item storage_item;

struct storage_proc {
    storage_state *st;
    lx_worker *w;
    storage_item *head, *tail; /* waiting, FIFO */
    int n_running;             /* items between job 1 and their end */
    int is_stopped;
};

struct storage_item {
    storage_proc *p;
    storage_item *next;
    char *uid, *id, *file_type;
    storage_proc_done_fn when_done; /* NULL once forgotten */
    void *arg;

    /* job 1 -> job 2 */
    char *data;
    size_t len;
    /* job 2 -> job 3 */
    int ex_rc; /* LX_OK: text below; else reason in ex_err */
    char *text;
    size_t text_len;
    int64_t pages;
    char **passages;
    size_t n_passages;
    char ex_err[512];
    /* job 2's storing */
    int store_rc;
    char store_err[512];
};

static void storage_item_free(storage_item *it)
{
    free(it->uid);
    free(it->id);
    free(it->file_type);
    free(it->data);
    free(it->text);
    storage_strv_free(it->passages, it->n_passages);
    free(it);
}

static void storage_pump(storage_proc *p);

/* The item's run is over: tell the waiter, free it, start the next. */
static void storage_item_end(storage_item *it, int rc)
{
    storage_proc *p = it->p;

    if (it->when_done != NULL)
        it->when_done(it->arg, rc);
    storage_item_free(it);
    p->n_running--;
    if (p->is_stopped) {
        if (p->n_running == 0)
            free(p);
        return;
    }
    storage_pump(p);
}

/* ---- job 2: extraction without a connection, then the result with one ---- */

static void storage_extract_text(storage_item *it)
{
    storage_state *st = it->p->st;
    storage_extract_result res;
    char *norm;
    size_t norm_len = 0;

    memset(&res, 0, sizeof(res));
    it->ex_rc = storage_extract(&st->ex, it->file_type, it->data, it->len, &res, it->ex_err,
                                sizeof(it->ex_err));
    free(it->data);
    it->data = NULL;
    if (it->ex_rc != LX_OK) {
        if (it->ex_err[0] == '\0')
            snprintf(it->ex_err, sizeof(it->ex_err), "text extraction failed");
        return;
    }
    norm = storage_text_normalize(res.text != NULL ? res.text : "", res.len, &norm_len);
    free(res.text);
    if (norm == NULL)
        goto nomem;
    it->text = norm;
    it->text_len = norm_len;
    it->pages = res.pages > 0 ? res.pages : 1;
    if (storage_text_passages(norm, norm_len, STORAGE_PASSAGE_TARGET, &it->passages,
                              &it->n_passages) != LX_OK)
        goto nomem;
    return;
nomem:
    it->ex_rc = LX_ENOMEM;
    snprintf(it->ex_err, sizeof(it->ex_err), "out of memory while processing the text");
}

/* Pool (storage_offload): the connection is taken only once the text is
 * there; extraction may take long. */
static void storage_job_extract(void *arg)
{
    storage_item *it = arg;
    storage_state *st = it->p->st;
    storage_conn *c = NULL;
    char now[STORAGE_TS_LEN + 8];

    if (it->ex_rc == LX_OK)
        storage_extract_text(it);
    it->store_rc = storage_db_acquire(st->db, &c, it->store_err, sizeof(it->store_err));
    if (it->store_rc != LX_OK)
        return;
    storage_now_iso(now, sizeof(now));
    if (it->ex_rc == LX_OK)
        it->store_rc = storage_doc_set_text(c, it->id, it->text, it->text_len, it->pages,
                                            (const char *const *)it->passages, it->n_passages, now,
                                            it->store_err, sizeof(it->store_err));
    else
        it->store_rc = storage_doc_set_status(c, it->id, STORAGE_ST_FAILED, it->ex_err, now,
                                              it->store_err, sizeof(it->store_err));
    storage_db_release(st->db, c, it->store_rc == LX_EIO);
}

static void storage_job_extract_done(void *arg, int status)
{
    storage_item *it = arg;
    const lx_host *host = it->p->st->host;
    int rc = status != LX_OK ? LX_ECANCELED : it->store_rc;

    if (rc != LX_OK && rc != LX_ENOENT && rc != LX_ECANCELED)
        host->log(LX_LOG_ERROR, STORAGE_SRC, NULL, "document %s: cannot store its text: %s", it->id,
                  it->store_err);
    else if (rc == LX_OK && it->ex_rc != LX_OK)
        host->log(LX_LOG_INFO, STORAGE_SRC, NULL, "document %s: text extraction failed: %s", it->id,
                  it->ex_err);
    storage_item_end(it, rc);
}

/* ---- job 1: status "processing" and the bytes ---- */

static int storage_job_load(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_item *it = arg;
    storage_doc d;
    char now[STORAGE_TS_LEN + 8];
    int rc;

    memset(&d, 0, sizeof(d));
    rc = storage_doc_get(c, it->uid, it->id, 0, &d, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (it->file_type == NULL && (it->file_type = strdup(d.file_type)) == NULL) {
        storage_doc_clear(&d);
        return LX_ENOMEM;
    }
    storage_now_iso(now, sizeof(now));
    rc = storage_doc_set_status(c, it->id, STORAGE_ST_PROCESSING, NULL, now, err, errlen);
    if (rc != LX_OK) {
        storage_doc_clear(&d);
        return rc;
    }
    if (st->files != NULL) {
        size_t max =
            d.size > 0 && (size_t)d.size > st->max_upload ? (size_t)d.size : st->max_upload;
        rc = storage_file_read_all(st->files, it->id, max + 1, &it->data, &it->len, err, errlen);
    } else {
        size_t cap = d.size > 0 ? (size_t)d.size : 0, n = 0;
        it->data = malloc(cap + 1);
        if (it->data == NULL) {
            rc = LX_ENOMEM;
        } else {
            rc = LX_OK;
            while (rc == LX_OK && it->len < cap) {
                size_t want = cap - it->len;
                if (want > STORAGE_CHUNK_SIZE)
                    want = STORAGE_CHUNK_SIZE;
                rc = storage_doc_read(c, it->uid, it->id, (int64_t)it->len, it->data + it->len,
                                      want, &n, err, errlen);
                if (rc == LX_OK && n == 0)
                    break;
                if (rc == LX_OK)
                    it->len += n;
            }
        }
    }
    storage_doc_clear(&d);
    if (rc == LX_ENOENT && st->files != NULL) {
        /* The row is there but its file is not: that is the document's
         * failure, not a vanished document. */
        it->ex_rc = LX_ENOENT;
        snprintf(it->ex_err, sizeof(it->ex_err), "the file is missing");
        return LX_OK;
    }
    if (rc == LX_ETOOBIG) {
        it->ex_rc = LX_ETOOBIG;
        snprintf(it->ex_err, sizeof(it->ex_err), "the file is larger than allowed");
        return LX_OK;
    }
    return rc;
}

static void storage_job_load_done(storage_state *st, void *arg, int rc, const char *err)
{
    storage_item *it = arg;

    if (rc != LX_OK) {
        if (rc != LX_ENOENT && rc != LX_ECANCELED)
            st->host->log(LX_LOG_ERROR, STORAGE_SRC, NULL, "document %s: cannot read it: %s",
                          it->id, err);
        storage_item_end(it, rc);
        return;
    }
    if (it->p->is_stopped) {
        /* Left "processing": the next start picks it up again. */
        storage_item_end(it, LX_ECANCELED);
        return;
    }
    /* Job 2 also stores a failure found while loading (ex_rc set). */
    rc = storage_offload(st, it->p->w, storage_job_extract, storage_job_extract_done, it);
    if (rc != LX_OK)
        storage_item_end(it, rc == LX_ENOMEM ? LX_ENOMEM : LX_ECANCELED);
}

/* ------------------------------------------------------------------------ */

static void storage_pump(storage_proc *p)
{
    while (!p->is_stopped && p->head != NULL && p->n_running < p->st->extract_concurrency) {
        storage_item *it = p->head;
        int rc;

        p->head = it->next;
        if (p->head == NULL)
            p->tail = NULL;
        it->next = NULL;
        p->n_running++;
        rc = storage_run(p->st, p->w, storage_job_load, storage_job_load_done, it);
        if (rc != LX_OK) {
            /* Back to the front: the next pump tries again (never ended
             * here, so that storage_proc_queue's token stays valid). */
            p->n_running--;
            it->next = p->head;
            p->head = it;
            if (p->tail == NULL)
                p->tail = it;
            break;
        }
    }
}

int storage_proc_start(storage_state *st, lx_worker *w)
{
    storage_proc *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return LX_ENOMEM;
    p->st = st;
    p->w = w;
    st->proc = p;
    return LX_OK;
}

void storage_proc_stop(storage_state *st)
{
    storage_proc *p = st->proc;
    storage_item *it;

    if (p == NULL)
        return;
    st->proc = NULL;
    p->is_stopped = 1;
    while ((it = p->head) != NULL) {
        p->head = it->next;
        if (it->when_done != NULL)
            it->when_done(it->arg, LX_ECANCELED);
        storage_item_free(it);
    }
    p->tail = NULL;
    if (p->n_running == 0)
        free(p);
}

void *storage_proc_queue(storage_state *st, const char *uid, const char *id, const char *file_type,
                         storage_proc_done_fn when_done, void *arg)
{
    storage_proc *p = st->proc;
    storage_item *it;

    if (p == NULL || p->is_stopped)
        return NULL;
    it = calloc(1, sizeof(*it));
    if (it == NULL)
        return NULL;
    it->p = p;
    it->uid = strdup(uid);
    it->id = strdup(id);
    it->file_type = file_type != NULL ? strdup(file_type) : NULL;
    if (it->uid == NULL || it->id == NULL || (file_type != NULL && it->file_type == NULL)) {
        storage_item_free(it);
        return NULL;
    }
    it->when_done = when_done;
    it->arg = arg;
    if (p->tail != NULL)
        p->tail->next = it;
    else
        p->head = it;
    p->tail = it;
    storage_pump(p);
    return it;
}

void storage_proc_forget(storage_state *st, void *token)
{
    storage_item *it = token;

    (void)st;
    if (it != NULL) {
        it->when_done = NULL;
        it->arg = NULL;
    }
}
