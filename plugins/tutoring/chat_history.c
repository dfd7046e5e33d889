/*
 * GET /api/v2/agent/history?thread_id= (tutoring.h): the last
 * TUTOR_HISTORY_PAGE turns of one of the signed-in user's threads (what a
 * chat turn's reply carries), in one storage.v1 call (record_get_items):
 * never the whole of a long thread. Another user's thread, or an unknown
 * one, is 404 (storage.v1 records are scoped to the user).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "chat.h"
#include "chat_turns.h"
#include "tutoring.h"

typedef struct hist_ctx {
    tutor_state *st;
    lx_req *req;
    lx_worker *w;
    char *uid;
    char *thread_id;
} hist_ctx;

static void hist_free(hist_ctx *x)
{
    free(x->uid);
    free(x->thread_id);
    free(x);
}

static void hist_on_thread(void *arg, int status, const char *message, const lx_storage_record *rec,
                           const lx_storage_record *items, size_t n)
{
    hist_ctx *x = arg;
    const lx_host *h = x->st->host;
    json_object *o, *arr;
    const char *s;

    (void)rec;
    if (status == LX_EINVAL)
        status = LX_ENOENT;
    if (status != LX_OK) {
        tutor_reply_storage_error(x->st, x->req, status, message, "Thread not found");
        hist_free(x);
        return;
    }
    arr = tutor_chat_turns_json(items, n);
    o = json_object_new_object();
    if (arr == NULL || o == NULL) {
        json_object_put(arr);
        json_object_put(o);
        h->reply_error(x->req, 500, "INTERNAL", "Out of memory");
        hist_free(x);
        return;
    }
    json_object_object_add(o, "conversation_history", arr);
    json_object_object_add(o, "thread_id", json_object_new_string(x->thread_id));
    s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    if (s == NULL)
        h->reply_error(x->req, 500, "INTERNAL", "Out of memory");
    else
        h->reply_json(x->req, 200, s);
    json_object_put(o);
    hist_free(x);
}

lx_rc tutor_h_history(lx_req *req, void *state)
{
    tutor_state *st = state;
    const lx_host *h = st->host;
    const lx_principal *p = tutor_require_user(st, req);
    const char *thread;
    hist_ctx *x;
    int rc;

    if (p == NULL)
        return LX_DONE;
    thread = h->req_query(req, "thread_id");
    if (thread == NULL || thread[0] == '\0') {
        h->reply_error(req, 400, "THREAD_ID_REQUIRED", "thread_id is required");
        return LX_DONE;
    }
    if (!tutor_chat_valid_thread_id(thread)) {
        h->reply_error(req, 404, "NOT_FOUND", "Thread not found");
        return LX_DONE;
    }
    x = calloc(1, sizeof(*x));
    if (x == NULL || (x->uid = strdup(p->uid)) == NULL || (x->thread_id = strdup(thread)) == NULL) {
        if (x != NULL)
            hist_free(x);
        h->reply_error(req, 500, "INTERNAL", "Out of memory");
        return LX_DONE;
    }
    x->st = st;
    x->req = req;
    x->w = h->req_worker(req);
    h->req_set_user(req, x->uid);
    rc = st->sv->record_get_items(st->sv_state, x->w, x->uid, TUTOR_KIND_THREAD, x->thread_id,
                                  TUTOR_HISTORY_PAGE, hist_on_thread, x);
    if (rc != LX_OK) {
        tutor_reply_storage_error(st, req, rc, "record_get_items failed", "Thread not found");
        hist_free(x);
        return LX_DONE;
    }
    return LX_ASYNC;
}
