/*
 * Administration (behind auth.require_admin):
 *
 *   GET /api/admin/stats   counts of users, documents and feedback
 *
 * (The accounts, GET /api/admin/users and POST /api/admin/users/sync, are
 * admin_users.c's; the feedback list is feedback.c's.)
 *
 * Answers as the original's admin routes: {success:true, data:{...}}, and
 * errors {success:false, error, code}.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>

#include <json-c/json.h>

#include "storage.h"

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
