/*
 * Feedback from users and its list for administrators:
 *
 *   POST /api/feedback        {type, description, browser_info|browserInfo}
 *                             -> 201 {status:"success", feedback_id}
 *   GET  /api/admin/feedback  ?limit&offset&status&type, newest first, with
 *                             the total matching the filters
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "storage.h"

#define FEEDBACK_MAX_DESCRIPTION 5000 /* characters, after trimming */
#define FEEDBACK_MAX_BROWSER_INFO 2000
#define FEEDBACK_DEFAULT_LIMIT 50
#define FEEDBACK_MAX_LIMIT 100
#define FEEDBACK_MAX_OFFSET 1000000000LL

static const char *const feedback_types[] = {"bug", "accessibility", "suggestion", "other", NULL};
static const char *const feedback_statuses[] = {"new", "reviewed", "resolved", NULL};

/* ------------------------------------------------------------------------ */
/* POST /api/feedback                                                       */

typedef struct feedback_post {
    lx_req *req;
    storage_feedback f; /* every string malloc'd */
} feedback_post;

static void feedback_post_free(void *arg)
{
    feedback_post *j = arg;
    storage_feedback *f = &j->f;

    free(f->id);
    free(f->user_id);
    free(f->email);
    free(f->type);
    free(f->description);
    free(f->browser_info);
    free(f->status);
    free(f->created_at);
    free(j);
}

static int feedback_post_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    feedback_post *j = arg;

    (void)st;
    return storage_feedback_create(c, &j->f, err, errlen);
}

static void feedback_post_done(storage_state *st, void *arg, int rc, const char *err)
{
    feedback_post *j = arg;
    lx_req *req = j->req;
    json_object *o = NULL;

    if (rc == LX_OK && (o = json_object_new_object()) != NULL) {
        json_object_object_add(o, "status", json_object_new_string("success"));
        json_object_object_add(o, "feedback_id", json_object_new_string(j->f.id));
    }
    feedback_post_free(j);
    if (rc != LX_OK) {
        storage_reply_store_error(st, req, rc, err, "not found");
        return;
    }
    if (o == NULL) {
        st->host->reply_error(req, 500, "INTERNAL", "out of memory");
        return;
    }
    storage_reply_obj(st, req, 201, o);
}

/* 400 {error:"Invalid payload", code:"INVALID_FEEDBACK", status:"error",
 * message:"Invalid payload", errors:{field: message}}; takes `errors`. */
static lx_rc feedback_invalid(storage_state *st, lx_req *req, json_object *errors)
{
    json_object *o = json_object_new_object();

    if (o == NULL) {
        json_object_put(errors);
        return LX_FAIL;
    }
    json_object_object_add(o, "error", json_object_new_string("Invalid payload"));
    json_object_object_add(o, "code", json_object_new_string("INVALID_FEEDBACK"));
    json_object_object_add(o, "status", json_object_new_string("error"));
    json_object_object_add(o, "message", json_object_new_string("Invalid payload"));
    json_object_object_add(o, "errors", errors);
    storage_reply_obj(st, req, 400, o);
    return LX_DONE;
}

/* POST /api/feedback: type one of bug|accessibility|suggestion|other,
 * description 1..5000 characters after trimming, browser_info (or
 * browserInfo) an optional string or object of at most 2000 characters;
 * every field's problem is listed in `errors`. 400 EMAIL_REQUIRED when the
 * token has no email. */
lx_rc storage_h_feedback(lx_req *req, void *state)
{
    storage_state *st = state;
    const lx_principal *p = storage_require_email(st, req);
    json_object *body, *errors, *v;
    const char *type = NULL, *desc = NULL, *binfo = "";
    size_t desc_len = 0;
    char id[STORAGE_ID_LEN + 8], now[STORAGE_TS_LEN + 8];
    feedback_post *j = NULL;

    if (p == NULL)
        return LX_DONE;
    body = storage_body_json(st, req);
    if (body == NULL)
        return LX_DONE;
    errors = json_object_new_object();
    if (errors == NULL)
        return LX_FAIL;

    if (!json_object_object_get_ex(body, "type", &v) || !json_object_is_type(v, json_type_string) ||
        !storage_str_in(json_object_get_string(v), feedback_types))
        json_object_object_add(
            errors, "type",
            json_object_new_string("must be one of bug, accessibility, suggestion, other"));
    else
        type = json_object_get_string(v);

    if (json_object_object_get_ex(body, "description", &v) &&
        json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        size_t len = storage_trim_space(&s, (size_t)json_object_get_string_len(v));
        long chars = storage_utf8_chars(s, len);
        if (chars >= 1 && chars <= FEEDBACK_MAX_DESCRIPTION) {
            desc = s;
            desc_len = len;
        }
    }
    if (desc == NULL)
        json_object_object_add(errors, "description",
                               json_object_new_string("must be text of 1 to 5000 characters"));

    if ((json_object_object_get_ex(body, "browser_info", &v) ||
         json_object_object_get_ex(body, "browserInfo", &v)) &&
        v != NULL) {
        const char *s = NULL;
        long chars = -1;
        if (json_object_is_type(v, json_type_string)) {
            s = json_object_get_string(v);
            chars = storage_utf8_chars(s, (size_t)json_object_get_string_len(v));
        } else if (json_object_is_type(v, json_type_object)) {
            s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
            chars = s != NULL ? storage_utf8_chars(s, strlen(s)) : -1;
        }
        if (chars < 0 || chars > FEEDBACK_MAX_BROWSER_INFO)
            json_object_object_add(
                errors, "browser_info",
                json_object_new_string("must be a string or object of at most 2000 characters"));
        else
            binfo = s;
    }
    if (json_object_object_length(errors) > 0)
        return feedback_invalid(st, req, errors);
    json_object_put(errors);

    if (storage_uuid(id, sizeof(id)) != LX_OK) {
        st->host->reply_error(req, 503, "STORAGE_UNAVAILABLE", "storage is unavailable");
        return LX_DONE;
    }
    storage_now_iso(now, sizeof(now));
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return LX_FAIL;
    j->req = req;
    j->f.id = strdup(id);
    j->f.user_id = strdup(p->uid);
    j->f.email = strdup(p->email);
    j->f.type = strdup(type);
    j->f.description = strndup(desc, desc_len);
    j->f.browser_info = strdup(binfo);
    j->f.status = strdup("new");
    j->f.created_at = strdup(now);
    if (j->f.id == NULL || j->f.user_id == NULL || j->f.email == NULL || j->f.type == NULL ||
        j->f.description == NULL || j->f.browser_info == NULL || j->f.status == NULL ||
        j->f.created_at == NULL) {
        feedback_post_free(j);
        return LX_FAIL;
    }
    return storage_run_or_reply(st, req, feedback_post_fn, feedback_post_done, j,
                                feedback_post_free);
}

/* ------------------------------------------------------------------------ */
/* GET /api/admin/feedback                                                  */

typedef struct feedback_list {
    lx_req *req;
    char *status, *type; /* filters or NULL */
    int limit, offset;
    storage_feedback *items;
    size_t n;
    int64_t total;
} feedback_list;

static void feedback_list_free(void *arg)
{
    feedback_list *j = arg;

    storage_feedback_free(j->items, j->n);
    free(j->status);
    free(j->type);
    free(j);
}

static int feedback_list_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    feedback_list *j = arg;

    (void)st;
    return storage_feedback_list(c, j->status, j->type, j->limit, j->offset, &j->items, &j->n,
                                 &j->total, err, errlen);
}

/* The page's "data" object, or NULL when out of memory. */
static json_object *feedback_list_json(const feedback_list *j)
{
    json_object *v[] = {json_object_new_object(), json_object_new_array(),
                        json_object_new_object()};
    json_object *data = v[0], *arr = v[1], *pg = v[2];

    if (!storage_json_all(v, sizeof(v) / sizeof(v[0])))
        return NULL;
    for (size_t i = 0; i < j->n; i++) {
        const storage_feedback *f = &j->items[i];
        json_object *it = json_object_new_object();
        if (it == NULL)
            continue;
        json_object_object_add(it, "id", json_object_new_string(f->id));
        json_object_object_add(it, "user_id", json_object_new_string(f->user_id));
        json_object_object_add(it, "email", json_object_new_string(f->email));
        json_object_object_add(it, "type", json_object_new_string(f->type));
        json_object_object_add(it, "description", json_object_new_string(f->description));
        json_object_object_add(it, "browser_info", json_object_new_string(f->browser_info));
        json_object_object_add(it, "status", json_object_new_string(f->status));
        json_object_object_add(it, "created_at", json_object_new_string(f->created_at));
        json_object_array_add(arr, it);
    }
    json_object_object_add(pg, "total", json_object_new_int64(j->total));
    json_object_object_add(pg, "limit", json_object_new_int(j->limit));
    json_object_object_add(pg, "offset", json_object_new_int(j->offset));
    json_object_object_add(pg, "returned", json_object_new_int64((int64_t)j->n));
    json_object_object_add(data, "feedback", arr);
    json_object_object_add(data, "pagination", pg);
    return data;
}

static void feedback_list_done(storage_state *st, void *arg, int rc, const char *err)
{
    feedback_list *j = arg;
    lx_req *req = j->req;
    json_object *data = rc == LX_OK ? feedback_list_json(j) : NULL;

    feedback_list_free(j);
    storage_reply_admin_data(st, req, rc, err, data);
}

/* GET /api/admin/feedback?limit=1..100 (50)&offset>=0&status&type:
 * {success:true, data:{feedback:[{id, user_id, email, type, description,
 * browser_info, status, created_at}], pagination:{total, limit, offset,
 * returned}}}; a bad parameter is 400 {success:false, error, code}. */
lx_rc storage_h_admin_feedback(lx_req *req, void *state)
{
    storage_state *st = state;
    const char *status, *type;
    long long limit, offset;
    feedback_list *j;

    if (storage_require_user(st, req) == NULL)
        return LX_DONE;
    if (!storage_admin_query_int(st, req, "limit", 1, FEEDBACK_MAX_LIMIT, FEEDBACK_DEFAULT_LIMIT,
                                 "limit must be a whole number from 1 to 100", &limit) ||
        !storage_admin_query_int(st, req, "offset", 0, FEEDBACK_MAX_OFFSET, 0,
                                 "offset must be a whole number, 0 or more", &offset) ||
        !storage_admin_query_str(st, req, "status", feedback_statuses, SIZE_MAX,
                                 "status must be one of new, reviewed, resolved", &status) ||
        !storage_admin_query_str(st, req, "type", feedback_types, SIZE_MAX,
                                 "type must be one of bug, accessibility, suggestion, other",
                                 &type))
        return LX_DONE;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return LX_FAIL;
    j->req = req;
    j->limit = (int)limit;
    j->offset = (int)offset;
    if ((status != NULL && (j->status = strdup(status)) == NULL) ||
        (type != NULL && (j->type = strdup(type)) == NULL)) {
        feedback_list_free(j);
        return LX_FAIL;
    }
    return storage_run_or_reply(st, req, feedback_list_fn, feedback_list_done, j,
                                feedback_list_free);
}
