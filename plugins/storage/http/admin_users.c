/*
 * The accounts in the admin console (behind auth.require_admin):
 *
 *   GET  /api/admin/users        the identity provider's accounts (the
 *                                "accounts.v1" service: Identity Toolkit
 *                                or the Auth Emulator), a page at a time,
 *                                each with its stored profile; or, when no
 *                                account management is configured, the
 *                                users lexiaid stores (data.source says
 *                                which)
 *   POST /api/admin/users/sync   walks every account, 100 at a time, and
 *                                makes the profile of each that has none
 *
 * Answers as the original's admin routes: {success:true, data:{...}}, and
 * errors {success:false, error, detail?, code}.
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <lexiaid/svc/accounts_v1.h>

#include "storage.h"

#define ADMIN_DEFAULT_LIMIT 50
#define ADMIN_MAX_LIMIT 100
#define ADMIN_MAX_TOKEN 1024 /* a stored uid is at most 128; Google's tokens are longer */
#define ADMIN_SYNC_PAGE 100
#define ADMIN_SYNC_MAX_PAGES 100000 /* ten million accounts: a broken token loop stops */

/* The accounts service when account management is configured, else NULL. */
static const lx_accounts_v1 *admin_accounts(storage_state *st, void **state)
{
    const lx_accounts_v1 *ac = st->host->svc_lookup(LX_ACCOUNTS_V1, state);

    if (ac == NULL || ac->struct_size < sizeof(lx_accounts_v1) || ac->is_available == NULL ||
        !ac->is_available(*state))
        return NULL;
    return ac;
}

/* {success:false, error, detail, code} with status. */
static void admin_fail(storage_state *st, lx_req *req, int status, const char *code,
                       const char *error, const char *detail)
{
    json_object *o = json_object_new_object();

    if (o == NULL) {
        st->host->reply_error(req, status, code, error);
        return;
    }
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(error));
    json_object_object_add(o, "detail", json_object_new_string(detail != NULL ? detail : ""));
    json_object_object_add(o, "code", json_object_new_string(code));
    storage_reply_obj(st, req, status, o);
}

/* A failed accounts.v1 call, answered as the original did (500, or 503 when
 * the identity service is out of reach). */
static void admin_accounts_failed(storage_state *st, lx_req *req, int status, const char *message,
                                  const char *error)
{
    if (status == LX_EIO || status == LX_ECANCELED)
        admin_fail(st, req, 503, "AUTH_UNAVAILABLE", error, message);
    else if (status == LX_EINVAL)
        admin_fail(st, req, 400, "INVALID_PARAMETER", error, message);
    else
        admin_fail(st, req, 500, "INTERNAL", error, message);
}

/* "2026-11-28T16:03:47.123Z" from Unix milliseconds, or NULL for 0. */
static json_object *admin_iso(int64_t ms)
{
    char day[32], buf[48];
    struct tm tm;
    time_t t;

    if (ms <= 0)
        return NULL;
    t = (time_t)(ms / 1000);
    if (gmtime_r(&t, &tm) == NULL)
        return NULL;
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, sizeof(buf), "%s.%03dZ", day, (int)(ms % 1000));
    return json_object_new_string(buf);
}

static json_object *admin_str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_object_new_string(s) : NULL;
}

/* {preferences, gamification} of a stored user, as the profile shows them;
 * NULL when out of memory. */
static json_object *admin_profile(const storage_user *u, const storage_progress *prog)
{
    json_object *d = storage_profile_data(u->uid, u, prog, NULL), *o, *v;

    if (d == NULL)
        return NULL;
    o = json_object_new_object();
    if (o != NULL) {
        if (json_object_object_get_ex(d, "preferences", &v))
            json_object_object_add(o, "preferences", json_object_get(v));
        if (json_object_object_get_ex(d, "gamification", &v))
            json_object_object_add(o, "gamification", json_object_get(v));
    }
    json_object_put(d);
    return o;
}

/* ------------------------------------------------------------------------ */
/* GET /api/admin/users                                                     */

/* One account of the page and what storage has of it. */
typedef struct admin_item {
    char *uid, *email, *display_name, *photo_url, *phone_number;
    int email_verified, disabled;
    int64_t created_ms, last_sign_in_ms;
    int has_row;
    storage_user u;
    storage_progress prog;
} admin_item;

typedef struct admin_users {
    storage_state *st;
    lx_req *req;
    int limit;
    char *token; /* the page asked for */
    int is_auth; /* the identity provider's accounts (else the stored users) */
    admin_item *items;
    size_t n;
    char *next_token;        /* the next page, or NULL */
    storage_user *rows;      /* fallback: the stored users */
    storage_progress *progs; /* and their progress (n_rows, or NULL) */
    size_t n_rows;
    int has_more;
} admin_users;

static void admin_users_cleanup(void *arg)
{
    admin_users *j = arg;

    for (size_t i = 0; i < j->n; i++) {
        admin_item *it = &j->items[i];
        free(it->uid);
        free(it->email);
        free(it->display_name);
        free(it->photo_url);
        free(it->phone_number);
        storage_user_clear(&it->u);
        storage_progress_clear(&it->prog);
    }
    free(j->items);
    for (size_t i = 0; i < j->n_rows; i++) {
        storage_user_clear(&j->rows[i]);
        if (j->progs != NULL)
            storage_progress_clear(&j->progs[i]);
    }
    free(j->rows);
    free(j->progs);
    free(j->token);
    free(j->next_token);
}

/* The page's "data" object, or NULL when out of memory. */
static json_object *admin_users_json(const admin_users *j)
{
    json_object *v[] = {json_object_new_object(), json_object_new_array(),
                        json_object_new_object()};
    json_object *data = v[0], *arr = v[1], *pg = v[2];
    const char *next = j->is_auth ? j->next_token : NULL;
    size_t n = j->is_auth ? j->n : j->n_rows;

    if (!storage_json_all(v, sizeof(v) / sizeof(v[0])))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *it = json_object_new_object();
        if (it == NULL)
            continue;
        if (j->is_auth) {
            const admin_item *a = &j->items[i];
            const char *name = a->display_name;
            if (name == NULL && a->has_row && a->u.display_name[0] != '\0')
                name = a->u.display_name;
            json_object_object_add(it, "uid", json_object_new_string(a->uid));
            json_object_object_add(it, "email", admin_str_or_null(a->email));
            json_object_object_add(it, "displayName", admin_str_or_null(name));
            json_object_object_add(it, "emailVerified", json_object_new_boolean(a->email_verified));
            json_object_object_add(it, "disabled", json_object_new_boolean(a->disabled));
            json_object_object_add(it, "createdAt", admin_iso(a->created_ms));
            json_object_object_add(it, "lastSignIn", admin_iso(a->last_sign_in_ms));
            json_object_object_add(it, "photoURL", admin_str_or_null(a->photo_url));
            json_object_object_add(it, "phoneNumber", admin_str_or_null(a->phone_number));
            if (a->has_row)
                json_object_object_add(it, "profile", admin_profile(&a->u, &a->prog));
        } else {
            /* Only what lexiaid knows: whether the email is verified or
             * the account disabled is the identity provider's (null). */
            const storage_user *u = &j->rows[i];
            json_object_object_add(it, "uid", json_object_new_string(u->uid));
            json_object_object_add(it, "email", json_object_new_string(u->email));
            json_object_object_add(it, "displayName", admin_str_or_null(u->display_name));
            json_object_object_add(it, "emailVerified", NULL);
            json_object_object_add(it, "disabled", NULL);
            json_object_object_add(it, "createdAt", json_object_new_string(u->created_at));
            json_object_object_add(it, "lastSignIn", admin_str_or_null(u->last_login));
            json_object_object_add(it, "photoURL", NULL);
            json_object_object_add(it, "phoneNumber", NULL);
            json_object_object_add(it, "profile", admin_profile(u, &j->progs[i]));
        }
        json_object_array_add(arr, it);
    }
    if (!j->is_auth && j->has_more && j->n_rows > 0)
        next = j->rows[j->n_rows - 1].uid;
    json_object_object_add(pg, "page_token", admin_str_or_null(next));
    json_object_object_add(pg, "has_more", json_object_new_boolean(next != NULL));
    json_object_object_add(pg, "returned", json_object_new_int64((int64_t)n));
    json_object_object_add(data, "users", arr);
    json_object_object_add(data, "pagination", pg);
    json_object_object_add(data, "source", json_object_new_string(j->is_auth ? "auth" : "storage"));
    if (!j->is_auth)
        json_object_object_add(
            data, "notice",
            json_object_new_string("Account management is not configured (no service account "
                                   "and no Auth Emulator): these are the users lexiaid stores; "
                                   "whether their email is verified is not known here."));
    return data;
}

/* The pool job: the stored rows of the page's accounts (and their
 * progress), or the stored users themselves (fallback). */
static int admin_users_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    admin_users *j = arg;
    int rc;

    (void)st;
    if (!j->is_auth) {
        rc = storage_user_page(c, j->token, j->limit, &j->rows, &j->n_rows, &j->has_more, err,
                               errlen);
        if (rc != LX_OK || j->n_rows == 0)
            return rc;
        j->progs = calloc(j->n_rows, sizeof(*j->progs));
        if (j->progs == NULL) {
            snprintf(err, errlen, "out of memory");
            return LX_ENOMEM;
        }
        for (size_t i = 0; i < j->n_rows; i++)
            if ((rc = storage_progress_get(c, j->rows[i].uid, &j->progs[i], err, errlen)) != LX_OK)
                return rc;
        return LX_OK;
    }
    for (size_t i = 0; i < j->n; i++) {
        admin_item *a = &j->items[i];
        rc = storage_user_get(c, a->uid, &a->u, err, errlen);
        if (rc == LX_ENOENT)
            continue;
        if (rc != LX_OK)
            return rc;
        a->has_row = 1;
        rc = storage_progress_get(c, a->uid, &a->prog, err, errlen);
        if (rc != LX_OK)
            return rc;
    }
    err[0] = '\0';
    return LX_OK;
}

static void admin_users_done(storage_state *st, void *arg, int rc, const char *err)
{
    admin_users *j = arg;

    storage_reply_admin_data(st, j->req, rc, err, rc == LX_OK ? admin_users_json(j) : NULL);
}

static char *admin_dup(const char *s, int *is_oom)
{
    char *r;

    if (s == NULL)
        return NULL;
    r = strdup(s);
    if (r == NULL)
        *is_oom = 1;
    return r;
}

static void admin_users_on_page(void *arg, int status, const char *message, const lx_account *items,
                                size_t n, const char *next_page_token)
{
    admin_users *j = arg;
    storage_state *st = j->st;
    int is_oom = 0;

    if (status != LX_OK) {
        admin_accounts_failed(st, j->req, status, message, "Failed to list users");
        return;
    }
    if (n > 0 && (j->items = calloc(n, sizeof(*j->items))) == NULL)
        is_oom = 1;
    for (size_t i = 0; !is_oom && i < n; i++) {
        admin_item *a = &j->items[i];
        const lx_account *x = &items[i];
        j->n++;
        a->uid = admin_dup(x->uid, &is_oom);
        a->email = admin_dup(x->email, &is_oom);
        a->display_name = admin_dup(x->display_name, &is_oom);
        a->photo_url = admin_dup(x->photo_url, &is_oom);
        a->phone_number = admin_dup(x->phone_number, &is_oom);
        a->email_verified = x->email_verified;
        a->disabled = x->disabled;
        a->created_ms = x->created_ms;
        a->last_sign_in_ms = x->last_sign_in_ms;
    }
    j->next_token = admin_dup(next_page_token, &is_oom);
    if (is_oom) {
        admin_fail(st, j->req, 500, "INTERNAL", "Failed to list users", "out of memory");
        return;
    }
    (void)storage_run_or_reply(st, j->req, admin_users_fn, admin_users_done, j, NULL);
}

/* GET /api/admin/users?limit (1.., default 50, capped at 100)&page_token:
 * {success:true, data:{users:[{uid, email, displayName, emailVerified,
 * disabled, createdAt, lastSignIn, photoURL, phoneNumber, profile?:
 * {preferences, gamification}}], pagination:{page_token, has_more,
 * returned}, source}}. With account management (accounts.v1): the
 * identity provider's accounts in its order and with its page tokens,
 * `profile` for those lexiaid stores, source "auth". Without it: the users
 * lexiaid stores, ordered by uid (page_token: the last uid of a page), the
 * provider's fields null, source "storage" and a `notice`. */
lx_rc storage_h_admin_users(lx_req *req, void *state)
{
    storage_state *st = state;
    const lx_accounts_v1 *ac;
    void *ac_state = NULL;
    const char *tok;
    long long limit;
    admin_users *j;
    int rc;

    if (storage_require_user(st, req) == NULL)
        return LX_DONE;
    if (!storage_admin_query_int(st, req, "limit", 1, LLONG_MAX, ADMIN_DEFAULT_LIMIT,
                                 "limit must be a whole number, 1 or more", &limit) ||
        !storage_admin_query_str(st, req, "page_token", NULL, ADMIN_MAX_TOKEN,
                                 "page_token is not valid", &tok))
        return LX_DONE;
    if (limit > ADMIN_MAX_LIMIT)
        limit = ADMIN_MAX_LIMIT;
    j = storage_req_state(st, req, sizeof(*j), admin_users_cleanup);
    if (j == NULL)
        return LX_FAIL;
    j->st = st;
    j->req = req;
    j->limit = (int)limit;
    if (tok != NULL && (j->token = strdup(tok)) == NULL)
        return LX_FAIL;
    ac = admin_accounts(st, &ac_state);
    if (ac == NULL)
        return storage_run_or_reply(st, req, admin_users_fn, admin_users_done, j, NULL);
    j->is_auth = 1;
    rc = ac->list(ac_state, st->host->req_worker(req), j->token, j->limit, admin_users_on_page, j,
                  NULL);
    if (rc != LX_OK) {
        admin_accounts_failed(st, req, rc == LX_EINVAL ? LX_EINVAL : LX_EIO,
                              "the identity service call could not start", "Failed to list users");
        return LX_DONE;
    }
    return LX_ASYNC;
}

/* ------------------------------------------------------------------------ */
/* POST /api/admin/users/sync                                               */

typedef struct admin_sync {
    storage_state *st;
    lx_req *req;
    const lx_accounts_v1 *ac;
    void *ac_state;
    char *token; /* the next page's */
    long pages;
    int64_t processed, fixed;
    /* The page being written: */
    storage_user_new *users;
    char **strs; /* the copies users[] points to, 3 per user */
    size_t n;
    int *created;
} admin_sync;

static void admin_sync_clear_page(admin_sync *s)
{
    for (size_t i = 0; i < 3 * s->n; i++)
        free(s->strs[i]);
    free(s->strs);
    free(s->users);
    free(s->created);
    s->strs = NULL;
    s->users = NULL;
    s->created = NULL;
    s->n = 0;
}

static void admin_sync_cleanup(void *arg)
{
    admin_sync *s = arg;

    admin_sync_clear_page(s);
    free(s->token);
}

static void admin_sync_reply(admin_sync *s)
{
    json_object *o = json_object_new_object(), *d = json_object_new_object();

    if (o == NULL || d == NULL) {
        json_object_put(o);
        json_object_put(d);
        s->st->host->reply_error(s->req, 500, "INTERNAL", "out of memory");
        return;
    }
    json_object_object_add(d, "processed", json_object_new_int64(s->processed));
    json_object_object_add(d, "fixed", json_object_new_int64(s->fixed));
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "data", d);
    s->st->host->log(LX_LOG_INFO, STORAGE_SRC, s->req,
                     "admin sync: %lld account(s) processed, %lld profile(s) made",
                     (long long)s->processed, (long long)s->fixed);
    storage_reply_obj(s->st, s->req, 200, o);
}

static void admin_sync_next(admin_sync *s);

static int admin_sync_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    admin_sync *s = arg;
    char now[STORAGE_TS_LEN + 8];

    (void)st;
    storage_now_iso(now, sizeof(now));
    return storage_user_create(c, s->users, s->n, now, s->created, err, errlen);
}

static void admin_sync_done(storage_state *st, void *arg, int rc, const char *err)
{
    admin_sync *s = arg;

    if (rc != LX_OK) {
        if (rc != LX_ECANCELED)
            st->host->log(LX_LOG_ERROR, STORAGE_SRC, s->req, "admin sync: storage failed: %s",
                          err != NULL && err[0] != '\0' ? err : "(no message)");
        admin_fail(st, s->req, 503, rc == LX_ECANCELED ? "SHUTTING_DOWN" : "STORAGE_UNAVAILABLE",
                   "Failed to sync users", "storage is unavailable");
        return;
    }
    s->processed += (int64_t)s->n;
    for (size_t i = 0; i < s->n; i++)
        s->fixed += s->created[i] != 0;
    admin_sync_clear_page(s);
    if (s->token == NULL) {
        admin_sync_reply(s);
        return;
    }
    admin_sync_next(s);
}

static void admin_sync_on_page(void *arg, int status, const char *message, const lx_account *items,
                               size_t n, const char *next_page_token)
{
    admin_sync *s = arg;
    storage_state *st = s->st;
    char *next = NULL;
    int is_oom = 0;

    if (status != LX_OK) {
        admin_accounts_failed(st, s->req, status, message, "Failed to sync users");
        return;
    }
    /* A token that does not move on would loop for ever. */
    if (next_page_token != NULL && (s->token == NULL || strcmp(next_page_token, s->token) != 0) &&
        n > 0)
        next = admin_dup(next_page_token, &is_oom);
    free(s->token);
    s->token = next;
    if (n > 0) {
        s->users = calloc(n, sizeof(*s->users));
        s->strs = calloc(3 * n, sizeof(*s->strs));
        s->created = calloc(n, sizeof(*s->created));
        if (s->users == NULL || s->strs == NULL || s->created == NULL)
            is_oom = 1;
    }
    for (size_t i = 0; !is_oom && i < n; i++) {
        s->n++;
        s->users[i].uid = s->strs[3 * i] = admin_dup(items[i].uid, &is_oom);
        s->users[i].email = s->strs[3 * i + 1] = admin_dup(items[i].email, &is_oom);
        s->users[i].display_name = s->strs[3 * i + 2] = admin_dup(items[i].display_name, &is_oom);
    }
    if (is_oom) {
        admin_fail(st, s->req, 500, "INTERNAL", "Failed to sync users", "out of memory");
        return;
    }
    if (n == 0) {
        admin_sync_done(st, s, LX_OK, "");
        return;
    }
    if (storage_run(st, st->host->req_worker(s->req), admin_sync_fn, admin_sync_done, s) != LX_OK)
        admin_fail(st, s->req, 503, "STORAGE_UNAVAILABLE", "Failed to sync users",
                   "storage is unavailable");
}

/* Asks for the next page (s->token; NULL: the first). */
static void admin_sync_next(admin_sync *s)
{
    storage_state *st = s->st;
    int rc;

    if (st->host->req_is_gone(s->req)) {
        /* Nobody waits for the answer: stop between two pages. */
        st->host->reply_error(s->req, 503, "CANCELLED", "the client went away");
        return;
    }
    if (++s->pages > ADMIN_SYNC_MAX_PAGES) {
        admin_fail(st, s->req, 500, "INTERNAL", "Failed to sync users",
                   "the identity service's pages did not end");
        return;
    }
    rc = s->ac->list(s->ac_state, st->host->req_worker(s->req), s->token, ADMIN_SYNC_PAGE,
                     admin_sync_on_page, s, NULL);
    if (rc != LX_OK)
        admin_accounts_failed(st, s->req, LX_EIO, "the identity service call could not start",
                              "Failed to sync users");
}

/* POST /api/admin/users/sync: every account of the identity provider (100
 * a page) gets a profile if it has none (email and display name from the
 * account, the defaults otherwise); existing profiles are left alone.
 * {success:true, data:{processed, fixed}} (fixed: profiles made). 503
 * AUTH_NOT_CONFIGURED without account management, 503 AUTH_UNAVAILABLE
 * when the identity service cannot be reached, 503 STORAGE_UNAVAILABLE;
 * each {success:false, error, detail, code}. Pages already written stay
 * written when a later one fails (running it again is safe). */
lx_rc storage_h_admin_users_sync(lx_req *req, void *state)
{
    storage_state *st = state;
    admin_sync *s;

    if (storage_require_user(st, req) == NULL)
        return LX_DONE;
    s = storage_req_state(st, req, sizeof(*s), admin_sync_cleanup);
    if (s == NULL)
        return LX_FAIL;
    s->st = st;
    s->req = req;
    s->ac = admin_accounts(st, &s->ac_state);
    if (s->ac == NULL) {
        admin_fail(st, req, 503, "AUTH_NOT_CONFIGURED", "Account management is not configured",
                   "lexiaid cannot list the accounts: set FIREBASE_SERVICE_ACCOUNT_KEY_PATH (or "
                   "run the Firebase Auth Emulator)");
        return LX_DONE;
    }
    admin_sync_next(s);
    return LX_ASYNC;
}
