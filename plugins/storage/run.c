/*
 * Database work on the offload pool (storage_run), and the small reply and
 * principal helpers every handler shares. Contracts in storage.h.
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
#include <string.h>

#include <json-c/json.h>

#include "storage.h"

typedef struct storage_job {
    storage_state *st;
    storage_job_fn fn;
    storage_done_fn done;
    void *arg;
    int rc;
    char err[512];
} storage_job;

/* Per process: each worker is one process with one loop. */
static size_t storage_n_jobs_out;    /* submitted, completion not yet run */
static int storage_is_close_pending; /* worker_stop asked to close st->db */

static void storage_close_now(storage_state *st)
{
    if (st->db != NULL) {
        storage_db_close(st->db);
        st->db = NULL;
    }
    storage_is_close_pending = 0;
}

void storage_run_close_db(storage_state *st)
{
    if (storage_n_jobs_out == 0)
        storage_close_now(st);
    else
        storage_is_close_pending = 1;
}

static void storage_job_work(void *arg)
{
    storage_job *j = arg;
    storage_conn *c = NULL;
    int rc;

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

static void storage_job_done(void *arg, int status)
{
    storage_job *j = arg;
    storage_state *st = j->st;

    if (status != LX_OK) {
        j->rc = status;
        snprintf(j->err, sizeof(j->err), "the worker is stopping");
    }
    j->done(st, j->arg, j->rc, j->err);
    free(j);
    storage_n_jobs_out--;
    if (storage_n_jobs_out == 0 && storage_is_close_pending)
        storage_close_now(st);
}

int storage_run(storage_state *st, lx_worker *w, storage_job_fn fn, storage_done_fn done, void *arg)
{
    storage_job *j;
    int rc;

    if (st->db == NULL || storage_is_close_pending)
        return LX_ESTATE;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return LX_ENOMEM;
    j->st = st;
    j->fn = fn;
    j->done = done;
    j->arg = arg;
    rc = st->host->offload(w, storage_job_work, storage_job_done, j);
    if (rc != LX_OK) {
        free(j);
        return rc < 0 ? rc : LX_ENOMEM;
    }
    storage_n_jobs_out++;
    return LX_OK;
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
    storage_n_jobs_out--;
    if (storage_n_jobs_out == 0 && storage_is_close_pending)
        storage_close_now(st);
}

int storage_offload(storage_state *st, lx_worker *w, void (*work)(void *arg),
                    void (*done)(void *arg, int status), void *arg)
{
    storage_plain *p;
    int rc;

    if (st->db == NULL || storage_is_close_pending)
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
    storage_n_jobs_out++;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Replies                                                                  */

void storage_reply_store_error(storage_state *st, lx_req *req, int rc, const char *err,
                               const char *not_found)
{
    const lx_host *host = st->host;

    switch (rc) {
    case LX_ENOENT:
        host->reply_error(req, 404, "NOT_FOUND", not_found != NULL ? not_found : "not found");
        break;
    case LX_EINVAL:
        host->reply_error(req, 400, "INVALID_REQUEST",
                          err != NULL && err[0] != '\0' ? err : "invalid request");
        break;
    case LX_ECANCELED:
    case LX_ESTATE:
        host->reply_error(req, 503, "SHUTTING_DOWN", "the server is shutting down");
        break;
    default:
        host->log(LX_LOG_ERROR, STORAGE_SRC, req, "storage error (%d): %s", rc,
                  err != NULL && err[0] != '\0' ? err : "(no message)");
        host->reply_error(req, 503, "STORAGE_UNAVAILABLE", "storage is unavailable");
        break;
    }
}

void storage_reply_obj(storage_state *st, lx_req *req, int status, struct json_object *o)
{
    const lx_host *host = st->host;
    size_t len = 0;
    const char *s;

    if (o == NULL) {
        host->reply_error(req, 500, "INTERNAL", "out of memory");
        return;
    }
    s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (s == NULL)
        host->reply_error(req, 500, "INTERNAL", "out of memory");
    else
        host->reply(req, status, "application/json", s, len, LX_TRANSIENT);
    json_object_put(o);
}

static void storage_json_put(void *p)
{
    json_object_put(p);
}

int storage_json_parse(const char *s, size_t len, struct json_object **out)
{
    json_tokener *tok;
    json_object *o;
    char *copy;
    size_t end;
    int rc = LX_EINVAL;

    if (out != NULL)
        *out = NULL;
    if (s == NULL || len == 0 || len >= 0x7fffffff || memchr(s, '\0', len) != NULL)
        return LX_EINVAL;
    /* json-c ends a value at the NUL it is given (a bare number needs it). */
    copy = malloc(len + 1);
    tok = json_tokener_new();
    if (copy == NULL || tok == NULL) {
        free(copy);
        if (tok != NULL)
            json_tokener_free(tok);
        return LX_ENOMEM;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    o = json_tokener_parse_ex(tok, copy, (int)len + 1);
    if (json_tokener_get_error(tok) == json_tokener_success) {
        for (end = json_tokener_get_parse_end(tok); end < len; end++)
            if (strchr(" \t\r\n", copy[end]) == NULL)
                break;
        if (end >= len)
            rc = LX_OK;
    }
    json_tokener_free(tok);
    free(copy);
    if (rc == LX_OK && out != NULL)
        *out = o;
    else
        json_object_put(o);
    return rc;
}

struct json_object *storage_body_json(storage_state *st, lx_req *req)
{
    const lx_host *host = st->host;
    size_t len = 0;
    const char *body = host->req_body(req, &len);
    json_object *o;

    if (body == NULL || len == 0) {
        o = json_object_new_object();
        if (o == NULL) {
            host->reply_error(req, 500, "INTERNAL", "out of memory");
            return NULL;
        }
    } else {
        o = NULL;
        if (storage_json_parse(body, len, &o) != LX_OK ||
            !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            host->reply_error(req, 400, "INVALID_JSON", "the body must be a JSON object");
            return NULL;
        }
    }
    if (host->req_on_cleanup(req, storage_json_put, o) != LX_OK) {
        json_object_put(o);
        host->reply_error(req, 500, "INTERNAL", "out of memory");
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* The signed-in user                                                       */

const lx_principal *storage_principal(storage_state *st, lx_req *req)
{
    const lx_principal *p = st->host->ctx_get(req, LX_AUTH_PRINCIPAL);

    if (p == NULL || p->uid == NULL || p->uid[0] == '\0')
        return NULL;
    return p;
}

const lx_principal *storage_require_user(storage_state *st, lx_req *req)
{
    const lx_principal *p = storage_principal(st, req);

    if (p == NULL)
        st->host->reply_error(req, 401, "UNAUTHENTICATED", "sign in first");
    return p;
}
