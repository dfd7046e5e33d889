/*
 * What the storage routes share between a request and its answer:
 *
 *   - the signed-in user, the JSON body, replies of a json-c object and of
 *     a failed store call
 *   - the handler's last step: run the database job or answer why not
 *   - the admin routes' query parameters and error shape
 *   - the success envelopes {status:"success", data} and {success:true, data}
 *   - a document as JSON, and the request state of the {id} routes
 *   - small checks of user input (UTF-8 text, spaces, UUIDs, sets)
 *
 * Contracts in storage.h. Everything that answers runs on the worker loop;
 * storage_json_parse and the pure checks (storage_utf8_chars,
 * storage_trim_space, storage_str_in, storage_is_hex, storage_is_uuid) are
 * usable on any thread.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <lexiaid/utf8.h>

#include "text/sniff.h"
#include "storage.h"

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
    case STORAGE_ENOSPC:
        host->log(LX_LOG_ERROR, STORAGE_SRC, req, "the disk is full: %s",
                  err != NULL && err[0] != '\0' ? err : "(no message)");
        host->reply_error(req, 507, "INSUFFICIENT_STORAGE",
                          "the server's storage is full; deleting documents frees space");
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

/* ------------------------------------------------------------------------ */
/* Running a handler's job                                                  */

lx_rc storage_run_or_reply(storage_state *st, lx_req *req, storage_job_fn fn, storage_done_fn done,
                           void *arg, void (*free_arg)(void *arg))
{
    int rc = storage_run(st, st->host->req_worker(req), fn, done, arg);

    if (rc == LX_OK)
        return LX_ASYNC;
    if (free_arg != NULL)
        free_arg(arg);
    storage_reply_store_error(st, req, rc, "", NULL);
    return LX_DONE;
}

lx_rc storage_run_user_job(storage_state *st, lx_req *req, size_t size, storage_job_fn fn,
                           storage_done_fn done, void (*free_job)(void *job))
{
    const lx_principal *p = storage_require_user(st, req);
    storage_user_job *j;

    if (p == NULL)
        return LX_DONE;
    j = calloc(1, size);
    if (j == NULL)
        return LX_FAIL;
    j->req = req;
    j->uid = strdup(p->uid);
    if (j->uid == NULL) {
        free_job(j);
        return LX_FAIL;
    }
    return storage_run_or_reply(st, req, fn, done, j, free_job);
}

/* ------------------------------------------------------------------------ */
/* The admin routes: errors and query parameters                            */

void storage_reply_admin_error(storage_state *st, lx_req *req, int status, const char *code,
                               const char *message)
{
    json_object *o = json_object_new_object();

    if (o == NULL) {
        st->host->reply_error(req, status, code, message);
        return;
    }
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(message));
    json_object_object_add(o, "code", json_object_new_string(code));
    storage_reply_obj(st, req, status, o);
}

int storage_admin_query_int(storage_state *st, lx_req *req, const char *name, long long lo,
                            long long hi, long long def, const char *bad, long long *out)
{
    const char *s = st->host->req_query(req, name);
    char *end;
    long long v;

    if (s == NULL || s[0] == '\0') {
        *out = def;
        return 1;
    }
    if (s[0] >= '0' && s[0] <= '9') {
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == 0 && *end == '\0' && v >= lo && v <= hi) {
            *out = v;
            return 1;
        }
    }
    storage_reply_admin_error(st, req, 400, "INVALID_PARAMETER", bad);
    return 0;
}

int storage_admin_query_str(storage_state *st, lx_req *req, const char *name,
                            const char *const *set, size_t max_len, const char *bad,
                            const char **out)
{
    const char *s = st->host->req_query(req, name);

    *out = NULL;
    if (s == NULL || s[0] == '\0')
        return 1;
    if ((set != NULL && !storage_str_in(s, set)) || strlen(s) > max_len) {
        storage_reply_admin_error(st, req, 400, "INVALID_PARAMETER", bad);
        return 0;
    }
    *out = s;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Success envelopes                                                        */

/* {key: true or "success", data: data}, or the failure as the caller's
 * route answers it. */
static void storage_reply_env(storage_state *st, lx_req *req, int rc, const char *err,
                              const char *not_found, json_object *data, int is_admin)
{
    json_object *o = NULL;

    if (rc != LX_OK) {
        json_object_put(data);
        storage_reply_store_error(st, req, rc, err, not_found);
        return;
    }
    if (data != NULL)
        o = json_object_new_object();
    if (o == NULL) {
        json_object_put(data);
        if (is_admin)
            storage_reply_admin_error(st, req, 500, "INTERNAL", "out of memory");
        else
            st->host->reply_error(req, 500, "INTERNAL", "out of memory");
        return;
    }
    if (is_admin)
        json_object_object_add(o, "success", json_object_new_boolean(1));
    else
        json_object_object_add(o, "status", json_object_new_string("success"));
    json_object_object_add(o, "data", data);
    storage_reply_obj(st, req, 200, o);
}

void storage_reply_data(storage_state *st, lx_req *req, int rc, const char *err,
                        const char *not_found, struct json_object *data)
{
    storage_reply_env(st, req, rc, err, not_found, data, 0);
}

void storage_reply_admin_data(storage_state *st, lx_req *req, int rc, const char *err,
                              struct json_object *data)
{
    storage_reply_env(st, req, rc, err, "not found", data, 1);
}

/* ------------------------------------------------------------------------ */
/* JSON building                                                            */

int storage_json_all(struct json_object **v, size_t n)
{
    size_t i;

    for (i = 0; i < n && v[i] != NULL; i++)
        ;
    if (i == n)
        return 1;
    for (i = 0; i < n; i++) {
        json_object_put(v[i]);
        v[i] = NULL;
    }
    return 0;
}

void storage_json_set_str(struct json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, json_object_new_string(v != NULL ? v : ""));
}

void storage_json_set_int(struct json_object *o, const char *key, int64_t v)
{
    json_object_object_add(o, key, json_object_new_int64(v));
}

struct json_object *storage_doc_json(const storage_doc *d)
{
    json_object *o = json_object_new_object();

    if (o == NULL)
        return NULL;
    storage_json_set_str(o, "id", d->id);
    storage_json_set_str(o, "name", d->name);
    storage_json_set_str(o, "original_filename", d->original_filename);
    storage_json_set_str(o, "file_type", d->file_type);
    storage_json_set_str(o, "mime_type", d->mime_type);
    storage_json_set_int(o, "size", d->size);
    storage_json_set_str(o, "created_at", d->created_at);
    storage_json_set_str(o, "updated_at", d->updated_at);
    storage_json_set_int(o, "content_length", d->content_length);
    storage_json_set_int(o, "page_count", d->page_count);
    storage_json_set_str(o, "processing_status", d->status);
    storage_json_set_str(o, "status", d->status);
    storage_json_set_str(o, "processing_error", d->error);
    return o;
}

/* ------------------------------------------------------------------------ */
/* Request state                                                            */

void *storage_req_state(storage_state *st, lx_req *req, size_t size, lx_free_fn cleanup)
{
    void *p = st->host->req_alloc(req, size);

    if (p == NULL)
        return NULL;
    memset(p, 0, size);
    if (st->host->req_on_cleanup(req, cleanup, p) != LX_OK)
        return NULL;
    return p;
}

void *storage_doc_req_new(storage_state *st, lx_req *req, size_t size, lx_free_fn cleanup,
                          int *is_failed)
{
    const lx_principal *p = storage_require_user(st, req);
    const char *id;
    storage_doc_req *r;

    *is_failed = 0;
    if (p == NULL)
        return NULL;
    id = st->host->req_param(req, "id");
    if (!storage_is_uuid(id)) {
        st->host->reply_error(req, 404, "NOT_FOUND", STORAGE_DOC_NOT_FOUND);
        return NULL;
    }
    r = storage_req_state(st, req, size, cleanup);
    if (r == NULL) {
        *is_failed = 1;
        return NULL;
    }
    r->st = st;
    r->req = req;
    r->uid = strdup(p->uid);
    r->id = strdup(id);
    if (r->uid == NULL || r->id == NULL) {
        *is_failed = 1;
        return NULL;
    }
    return r;
}

void storage_doc_req_clear(storage_doc_req *r)
{
    free(r->uid);
    free(r->id);
    storage_doc_clear(&r->d);
}

/* ------------------------------------------------------------------------ */
/* Checks of user input                                                     */

const lx_principal *storage_require_email(storage_state *st, lx_req *req)
{
    const lx_principal *p = storage_require_user(st, req);

    if (p == NULL)
        return NULL;
    if (p->email == NULL || p->email[0] == '\0') {
        st->host->reply_error(req, 400, "EMAIL_REQUIRED", "the account has no email address");
        return NULL;
    }
    return p;
}

long storage_utf8_chars(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    long n = 0;
    int is_ok;

    while (i < len) {
        unsigned char c = p[i];

        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                return -1;
            i++;
        } else {
            i += lx_utf8_next(p + i, len - i, NULL, &is_ok);
            if (!is_ok)
                return -1;
        }
        n++;
    }
    return n;
}

size_t storage_trim_space(const char **s, size_t len)
{
    const char *a = *s, *e = a + len;

    while (a < e && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r'))
        a++;
    while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    *s = a;
    return (size_t)(e - a);
}

int storage_str_in(const char *s, const char *const *set)
{
    for (size_t i = 0; set[i] != NULL; i++)
        if (strcmp(s, set[i]) == 0)
            return 1;
    return 0;
}

int storage_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int storage_is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != STORAGE_ID_LEN)
        return 0;
    for (int i = 0; i < STORAGE_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!storage_is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}
