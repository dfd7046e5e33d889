/*
 * One document's way through the text pipeline (extract_queue.h):
 *
 *   LOAD     a database job: its row (still this worker's claim?), its
 *            bytes (SQLite: uploads/<id>, or its .part rolled forward;
 *            PostgreSQL: its chunks), then status "processing". Skipped
 *            when the upload handed its bytes over (storage_proc_queue):
 *            disk is the way back after a crash, not the way forward;
 *   EXTRACT  on the extraction threads (extract_pool.c), holding no
 *            database connection and no thread of the core's pool: the
 *            lexiaid-extract child, normalisation, passages;
 *   STORE    a database job: the text and passages (status "processed"),
 *            or the failure with its reason (status "failed"), committed
 *            with other writes waiting then (storage_write); the outcome
 *            goes to the waiting upload (storage_proc_result).
 *
 * Each write is conditional on this worker's claim; LX_ENOENT (deleted,
 * or taken over by another worker) ends the run quietly. A transient
 * failure (the database, a full disk, memory, the extractor not
 * starting) goes back to the queue for a retry after a wait; a failure of
 * the document itself (a broken file, its file missing, the extractor's
 * refusal, its deadline, its memory limit) is recorded as final.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract_queue.h"
#include "plain.h"
#include "text.h"

#define STORAGE_PASSAGE_TARGET 800

void storage_step_clear(storage_item *it)
{
    free(it->data);
    it->data = NULL;
    it->len = 0;
    free(it->text);
    it->text = NULL;
    it->text_len = 0;
    storage_strv_free(it->passages, it->n_passages);
    it->passages = NULL;
    it->n_passages = 0;
}

/* Whether a store call's failure is worth a retry: the database or the
 * disk, not the document. */
static int storage_is_transient(int rc)
{
    return rc == LX_EIO || rc == STORAGE_ENOSPC || rc == LX_ENOMEM || rc == LX_ETIMEDOUT;
}

/* The first transient failure of a document is logged; the retries that
 * follow are not (an outage would flood the log), the recovery is. */
static void storage_note_failure(storage_item *it, const char *what, const char *err)
{
    if (it->n_failures == 0)
        it->p->st->host->log(LX_LOG_WARN, STORAGE_SRC, NULL,
                             "document %s: cannot %s (retrying until it works): %s", it->id, what,
                             err);
}

static void storage_note_recovery(storage_item *it, const char *what)
{
    if (it->n_failures > 0)
        it->p->st->host->log(LX_LOG_INFO, STORAGE_SRC, NULL, "document %s: %s after %d retries",
                             it->id, what, it->n_failures);
    it->n_failures = 0;
}

/* ------------------------------------------------------------------------ */
/* LOAD                                                                     */

/* The bytes of a PostgreSQL document, chunk by chunk. */
static int storage_load_chunks(storage_item *it, storage_conn *c, int64_t size, char *err,
                               size_t errlen)
{
    size_t cap = size > 0 ? (size_t)size : 0, n = 0;
    int rc = LX_OK;

    it->data = malloc(cap + 1);
    if (it->data == NULL)
        return LX_ENOMEM;
    while (rc == LX_OK && it->len < cap) {
        size_t want = cap - it->len > STORAGE_CHUNK_SIZE ? STORAGE_CHUNK_SIZE : cap - it->len;

        rc = storage_doc_read(c, it->uid, it->id, (int64_t)it->len, it->data + it->len, want, &n,
                              err, errlen);
        if (rc == LX_OK && n == 0)
            break;
        if (rc == LX_OK)
            it->len += n;
    }
    return rc;
}

/* Pool: the row, the bytes, then "processing". A file that is missing or
 * too large is the document's failure, for STORE to record (ex_rc). */
static int storage_load_job(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_item *it = arg;
    storage_doc d;
    char now[STORAGE_TS_LEN + 8];
    int rc;

    memset(&d, 0, sizeof(d));
    it->ex_rc = LX_OK;
    it->ex_err[0] = '\0';
    rc = storage_doc_get(c, it->uid, it->id, 0, &d, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (strcmp(d.claimed_by, st->owner) != 0) {
        storage_doc_clear(&d);
        snprintf(err, errlen, "another worker holds it");
        return LX_ENOENT;
    }
    if (it->file_type == NULL && (it->file_type = strdup(d.file_type)) == NULL) {
        storage_doc_clear(&d);
        return LX_ENOMEM;
    }
    if (st->files != NULL) {
        size_t max =
            d.size > 0 && (size_t)d.size > st->max_upload ? (size_t)d.size : st->max_upload;
        rc = storage_file_read_all(st->files, it->id, max + 1, &it->data, &it->len, err, errlen);
    } else {
        rc = storage_load_chunks(it, c, d.size, err, errlen);
    }
    storage_doc_clear(&d);
    if (rc == LX_ENOENT && st->files != NULL) {
        /* The row is there, its file is not, nor a .part to roll forward:
         * that is the document's failure, not a vanished document. */
        it->ex_rc = LX_ENOENT;
        snprintf(it->ex_err, sizeof(it->ex_err), STORAGE_MISSING_FILE);
        return LX_OK;
    }
    if (rc == LX_ETOOBIG) {
        it->ex_rc = LX_ETOOBIG;
        snprintf(it->ex_err, sizeof(it->ex_err), "the file is larger than allowed");
        return LX_OK;
    }
    if (rc != LX_OK)
        return rc;
    storage_now_iso(now, sizeof(now));
    return storage_doc_start(c, it->id, st->owner, now, err, errlen);
}

static void storage_load_done(storage_state *st, void *arg, int rc, const char *err)
{
    storage_item *it = arg;

    (void)st;
    it->is_job_out = 0;
    if (it->p->is_stopped) {
        storage_queue_done(it, LX_ECANCELED);
        return;
    }
    if (rc == LX_ENOENT || rc == LX_ECANCELED) {
        storage_queue_done(it, rc);
        return;
    }
    if (rc != LX_OK) {
        storage_note_failure(it, "read it", err);
        storage_queue_retry(it);
        return;
    }
    it->step = it->ex_rc == LX_OK ? STORAGE_STEP_EXTRACT : STORAGE_STEP_STORE;
    storage_step_run(it);
}

/* ------------------------------------------------------------------------ */
/* EXTRACT                                                                  */

/* A txt or md file read here, with the decoder lexiaid-extract uses
 * (plain.h) and the child path's limits: the same text, the same
 * failures, without a child. The text points into it->data. */
static int storage_extract_plain(const storage_item *it, const storage_extract_opts *o,
                                 const char **text, size_t *len, char *err, size_t errlen)
{
    size_t start, max_output = o->max_output > 0 ? o->max_output : STORAGE_EXTRACT_MAX_OUTPUT;
    const char *why;

    if (storage_plain_decode(it->data, it->len, &start, &why) != 0) {
        snprintf(err, errlen, "%s", why);
        return LX_ERROR;
    }
    if (it->len - start > max_output) {
        snprintf(err, errlen, "the text is larger than %zu bytes", max_output);
        return LX_ETOOBIG;
    }
    *text = it->data + start;
    *len = it->len - start;
    return LX_OK;
}

/* Extraction threads: the text (txt and md here, the rest in the
 * lexiaid-extract child), normalisation, passages. */
static void storage_extract_work(void *arg, int cancel_fd)
{
    storage_item *it = arg;
    storage_state *st = it->p->st;
    storage_extract_result res;
    const char *text = "";
    size_t text_len = 0;
    char *norm;
    size_t norm_len = 0;

    memset(&res, 0, sizeof(res));
    if (storage_plain_is_type(it->file_type)) {
        it->ex_rc =
            storage_extract_plain(it, &st->ex, &text, &text_len, it->ex_err, sizeof(it->ex_err));
        res.pages = 1;
    } else {
        it->ex_rc = storage_extract_cancellable(&st->ex, cancel_fd, it->file_type, it->data,
                                                it->len, &res, it->ex_err, sizeof(it->ex_err));
        if (res.text != NULL) {
            text = res.text;
            text_len = res.len;
        }
    }
    if (it->ex_rc != LX_OK) {
        if (it->ex_err[0] == '\0')
            snprintf(it->ex_err, sizeof(it->ex_err), "text extraction failed");
        goto drop;
    }
    norm = storage_text_normalize(text, text_len, &norm_len);
    free(res.text);
    res.text = NULL;
    if (norm == NULL)
        goto nomem;
    it->text = norm;
    it->text_len = norm_len;
    it->pages = res.pages > 0 ? res.pages : 1;
    if (storage_text_passages(norm, norm_len, STORAGE_PASSAGE_TARGET, &it->passages,
                              &it->n_passages) != LX_OK)
        goto nomem;
    goto drop;
nomem:
    it->ex_rc = LX_ENOMEM;
    snprintf(it->ex_err, sizeof(it->ex_err), "out of memory while processing the text");
drop:
    free(res.text);
    free(it->data);
    it->data = NULL;
    it->len = 0;
}

static void storage_extract_done(void *arg, int status)
{
    storage_item *it = arg;

    it->is_job_out = 0;
    if (status != LX_OK || it->ex_rc == LX_ECANCELED || it->p->is_stopped) {
        storage_queue_done(it, LX_ECANCELED);
        return;
    }
    /* The worker short of memory, or the child not starting: not the
     * document's doing. */
    if (it->ex_rc == LX_ENOMEM || it->ex_rc == LX_EIO) {
        storage_note_failure(it, "extract its text", it->ex_err);
        storage_queue_retry(it);
        return;
    }
    it->step = STORAGE_STEP_STORE;
    storage_step_run(it);
}

/* ------------------------------------------------------------------------ */
/* STORE                                                                    */

/* The text, or the failure: committed with whatever other writes are
 * waiting (storage_write), on any pool thread. */
static int storage_store_write(storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_item *it = arg;
    const char *owner = it->p->st->owner, *now = it->stored_at;

    if (it->ex_rc == LX_OK)
        return storage_doc_set_text(c, it->id, owner, it->text, it->text_len, it->pages,
                                    (const char *const *)it->passages, it->n_passages, now, err,
                                    errlen);
    return storage_doc_set_status(c, it->id, owner, STORAGE_ST_FAILED, it->ex_err, now, err,
                                  errlen);
}

static int storage_store_job(storage_state *st, storage_conn *c, void *arg, char *err,
                             size_t errlen)
{
    storage_item *it = arg;

    storage_now_iso(it->stored_at, sizeof(it->stored_at));
    return storage_write(st->db, c, storage_store_write, it, err, errlen);
}

static void storage_store_done(storage_state *st, void *arg, int rc, const char *err)
{
    storage_item *it = arg;
    const lx_host *host = st->host;

    it->is_job_out = 0;
    if (rc == LX_OK) {
        storage_note_recovery(it, "stored");
        if (it->ex_rc != LX_OK)
            host->log(LX_LOG_INFO, STORAGE_SRC, NULL, "document %s: text extraction failed: %s",
                      it->id, it->ex_err);
        else /* subscribers (the speech plugin's read-aloud assets) hear of it */
            storage_emit(st, it->p->w, LX_STORAGE_EV_PROCESSED, it->uid, it->id);
        storage_queue_done(it, LX_OK);
        return;
    }
    if (rc == LX_ENOENT || rc == LX_ECANCELED || it->p->is_stopped) {
        storage_queue_done(it, rc == LX_ENOENT ? LX_ENOENT : LX_ECANCELED);
        return;
    }
    if (storage_is_transient(rc)) {
        storage_note_failure(it, "store its text", err);
        storage_queue_retry(it);
        return;
    }
    if (it->ex_rc != LX_OK) { /* even the failure is refused: give up */
        host->log(LX_LOG_ERROR, STORAGE_SRC, NULL, "document %s: cannot record its failure: %s",
                  it->id, err);
        storage_queue_done(it, rc);
        return;
    }
    /* The database refused the text itself: that is the document's. */
    host->log(LX_LOG_ERROR, STORAGE_SRC, NULL, "document %s: its text was refused: %s", it->id,
              err);
    storage_step_clear(it);
    it->ex_rc = LX_EINVAL;
    snprintf(it->ex_err, sizeof(it->ex_err), "the text could not be stored");
    storage_step_run(it);
}

/* ------------------------------------------------------------------------ */

void storage_step_run(storage_item *it)
{
    storage_proc *p = it->p;
    int rc;

    switch (it->step) {
    case STORAGE_STEP_LOAD:
        rc = storage_run(p->st, p->w, storage_load_job, storage_load_done, it);
        break;
    case STORAGE_STEP_EXTRACT:
        rc = storage_xpool_submit(p->pool, storage_extract_work, storage_extract_done, it);
        break;
    default:
        rc = storage_run(p->st, p->w, storage_store_job, storage_store_done, it);
        break;
    }
    if (rc == LX_OK) {
        it->is_job_out = 1;
        return;
    }
    /* Out of memory, or stopping (retry cancels then): nothing ran. */
    storage_queue_retry(it);
}
