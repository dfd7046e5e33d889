/*
 * Administration (behind auth.require_admin):
 *
 *   GET /api/admin/stats   counts of users, documents and feedback
 *   GET /api/admin/users   the users lexiaid knows, a page at a time
 *
 * Answers as the original's admin routes: {success:true, data:{...}}, and
 * errors {success:false, error, code}.
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "storage.h"

#define ADMIN_DEFAULT_LIMIT 50
#define ADMIN_MAX_LIMIT 100
#define ADMIN_MAX_TOKEN 128 /* a uid is 1..128 bytes */

static void admin_add_int(json_object *o, const char *key, int64_t v)
{
    json_object_object_add(o, key, json_object_new_int64(v));
}

/* ------------------------------------------------------------------------ */
/* GET /api/admin/stats                                                     */

typedef struct admin_stats {
    lx_req *req;
    storage_stats s;
} admin_stats;

static int admin_stats_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    admin_stats *j = arg;

    (void)st;
    return storage_stats_get(c, &j->s, err, errlen);
}

/* The stats' "data" object, or NULL when out of memory. */
static json_object *admin_stats_json(const storage_stats *s)
{
    json_object *v[] = {json_object_new_object(), json_object_new_object(),
                        json_object_new_object(), json_object_new_object(),
                        json_object_new_object(), json_object_new_object(),
                        json_object_new_object()};
    json_object *data = v[0], *users = v[1], *docs = v[2], *dst = v[3], *fb = v[4], *fst = v[5];
    json_object *fty = v[6];
    char now[STORAGE_TS_LEN + 8];

    if (!storage_json_all(v, sizeof(v) / sizeof(v[0])))
        return NULL;
    admin_add_int(users, "total", s->users_total);
    admin_add_int(users, "with_documents", s->users_with_documents);
    admin_add_int(docs, "total", s->docs_total);
    admin_add_int(dst, "processed", s->docs_processed);
    admin_add_int(dst, "processing", s->docs_processing);
    admin_add_int(dst, "failed", s->docs_failed);
    admin_add_int(dst, "pending", s->docs_pending);
    json_object_object_add(docs, "by_status", dst);
    admin_add_int(fb, "total", s->fb_total);
    admin_add_int(fst, "new", s->fb_new);
    admin_add_int(fst, "reviewed", s->fb_reviewed);
    admin_add_int(fst, "resolved", s->fb_resolved);
    admin_add_int(fty, "bug", s->fb_bug);
    admin_add_int(fty, "accessibility", s->fb_accessibility);
    admin_add_int(fty, "suggestion", s->fb_suggestion);
    admin_add_int(fty, "other", s->fb_other);
    json_object_object_add(fb, "by_status", fst);
    json_object_object_add(fb, "by_type", fty);
    json_object_object_add(data, "users", users);
    json_object_object_add(data, "documents", docs);
    json_object_object_add(data, "feedback", fb);
    storage_now_iso(now, sizeof(now));
    json_object_object_add(data, "generated_at", json_object_new_string(now));
    return data;
}

static void admin_stats_done(storage_state *st, void *arg, int rc, const char *err)
{
    admin_stats *j = arg;
    lx_req *req = j->req;
    json_object *data = rc == LX_OK ? admin_stats_json(&j->s) : NULL;

    free(j);
    storage_reply_admin_data(st, req, rc, err, data);
}

/* GET /api/admin/stats: {success:true, data:{users:{total, with_documents},
 * documents:{total, by_status:{processed, processing, failed, pending}},
 * feedback:{total, by_status:{new, reviewed, resolved}, by_type:{bug,
 * accessibility, suggestion, other}}, generated_at}}. */
lx_rc storage_h_admin_stats(lx_req *req, void *state)
{
    storage_state *st = state;
    admin_stats *j;

    if (storage_require_user(st, req) == NULL)
        return LX_DONE;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return LX_FAIL;
    j->req = req;
    return storage_run_or_reply(st, req, admin_stats_fn, admin_stats_done, j, free);
}

/* ------------------------------------------------------------------------ */
/* GET /api/admin/users                                                     */

typedef struct admin_users {
    lx_req *req;
    char *after; /* the page token: the last uid of the previous page */
    int limit;
    storage_user *users;
    size_t n;
    int has_more;
} admin_users;

static void admin_users_free(void *arg)
{
    admin_users *j = arg;

    for (size_t i = 0; i < j->n; i++)
        storage_user_clear(&j->users[i]);
    free(j->users);
    free(j->after);
    free(j);
}

static int admin_users_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    admin_users *j = arg;

    (void)st;
    return storage_user_page(c, j->after, j->limit, &j->users, &j->n, &j->has_more, err, errlen);
}

/* The page's "data" object, or NULL when out of memory. */
static json_object *admin_users_json(const admin_users *j)
{
    json_object *v[] = {json_object_new_object(), json_object_new_array(),
                        json_object_new_object()};
    json_object *data = v[0], *arr = v[1], *pg = v[2];

    if (!storage_json_all(v, sizeof(v) / sizeof(v[0])))
        return NULL;
    for (size_t i = 0; i < j->n; i++) {
        const storage_user *u = &j->users[i];
        json_object *it = json_object_new_object(), *prof;
        if (it == NULL)
            continue;
        prof = json_tokener_parse(u->profile_json);
        if (prof == NULL || !json_object_is_type(prof, json_type_object)) {
            json_object_put(prof);
            prof = json_object_new_object();
        }
        /* Only what lexiaid knows: whether the email is verified or the
         * account disabled is the identity provider's, and left out. */
        json_object_object_add(it, "uid", json_object_new_string(u->uid));
        json_object_object_add(it, "email", json_object_new_string(u->email));
        json_object_object_add(it, "displayName", json_object_new_string(u->display_name));
        json_object_object_add(it, "createdAt", json_object_new_string(u->created_at));
        json_object_object_add(it, "lastSignIn",
                               u->last_login[0] != '\0' ? json_object_new_string(u->last_login)
                                                        : NULL);
        json_object_object_add(it, "profile", prof);
        json_object_array_add(arr, it);
    }
    json_object_object_add(pg, "page_token",
                           j->has_more && j->n > 0 ? json_object_new_string(j->users[j->n - 1].uid)
                                                   : NULL);
    json_object_object_add(pg, "has_more", json_object_new_boolean(j->has_more && j->n > 0));
    json_object_object_add(pg, "returned", json_object_new_int64((int64_t)j->n));
    json_object_object_add(data, "users", arr);
    json_object_object_add(data, "pagination", pg);
    return data;
}

static void admin_users_done(storage_state *st, void *arg, int rc, const char *err)
{
    admin_users *j = arg;
    lx_req *req = j->req;
    json_object *data = rc == LX_OK ? admin_users_json(j) : NULL;

    admin_users_free(j);
    storage_reply_admin_data(st, req, rc, err, data);
}

/* GET /api/admin/users?limit (1.., default 50, capped at 100)&page_token:
 * {success:true, data:{users:[{uid, email, displayName, createdAt,
 * lastSignIn, profile}], pagination:{page_token, has_more, returned}}}.
 * It lists the users lexiaid knows (those with a row: they called
 * /api/users/init or saved a profile), ordered by uid, not the identity
 * provider's accounts. page_token is the last uid of a page when more
 * follow, else null. */
lx_rc storage_h_admin_users(lx_req *req, void *state)
{
    storage_state *st = state;
    const char *tok;
    long long limit;
    admin_users *j;

    if (storage_require_user(st, req) == NULL)
        return LX_DONE;
    if (!storage_admin_query_int(st, req, "limit", 1, LLONG_MAX, ADMIN_DEFAULT_LIMIT,
                                 "limit must be a whole number, 1 or more", &limit) ||
        !storage_admin_query_str(st, req, "page_token", NULL, ADMIN_MAX_TOKEN,
                                 "page_token is not valid", &tok))
        return LX_DONE;
    if (limit > ADMIN_MAX_LIMIT)
        limit = ADMIN_MAX_LIMIT;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return LX_FAIL;
    j->req = req;
    j->limit = (int)limit;
    if (tok != NULL && (j->after = strdup(tok)) == NULL) {
        admin_users_free(j);
        return LX_FAIL;
    }
    return storage_run_or_reply(st, req, admin_users_fn, admin_users_done, j, admin_users_free);
}
