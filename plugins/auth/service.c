/*
 * The service accounts.v1 (include/lexiaid/svc/accounts_v1.h): the
 * identity provider's accounts for other plugins, through the same admin
 * calls as the account routes (fetch.c: the emulator's "Bearer owner" or the
 * service account's OAuth token, over host->http_fetch).
 *
 *   list              GET  .../accounts:batchGet?maxResults=N&nextPageToken=T
 *   set_display_name  POST .../accounts:update {localId, displayName}
 *
 * A call is an lx_accounts_call: a detached auth_rq (no request of ours: the
 * caller's request, if any, is the caller's business) plus the caller's
 * callback, malloc'd here and freed after its callback ran, or by cancel.
 * Everything runs on the worker loop that owns st->aw.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <lexiaid/svc/accounts_v1.h>
#include <lexiaid/utf8.h>

#include "auth.h"
#include "fetch.h"
#include "service.h"

#define SVC_MAX_TOKEN 1024 /* bytes of a page token we pass on */
#define SVC_MAX_UID 128    /* a Firebase uid */
#define SVC_MAX_DISPLAY_NAME 256

struct lx_accounts_call {
    auth_rq rq; /* first: on_http gets &call->rq */
    lx_accounts_page_fn on_page;
    lx_accounts_done_fn on_done;
    void *arg;
    char *suffix; /* the admin call's path (and query) */
    char *body;   /* its JSON, or NULL */
};

static void svc_call_free(lx_accounts_call *k)
{
    free(k->suffix);
    free(k->body);
    free(k);
}

static lx_accounts_call *svc_call_new(auth_state *st)
{
    lx_accounts_call *k;

    if (st->aw == NULL)
        return NULL;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->rq.aw = st->aw;
    k->rq.role = AUTH_ROLE_ENDPOINT;
    k->rq.is_detached = 1;
    return k;
}

/* What a failed admin call means for the caller: a status and a message
 * (into msg). Logged here, once. */
static int svc_failure(const lx_accounts_call *k, const lx_http_response *res, const char *what,
                       char *msg, size_t msglen)
{
    const auth_worker *aw = k->rq.aw;
    const lx_host *host = aw->st->host;
    char why[160];

    if (res == NULL || res->err != LX_OK) {
        if (aw->is_stopping) {
            snprintf(msg, msglen, "the worker is stopping");
            return LX_ECANCELED;
        }
        host->log(LX_LOG_WARN, AUTH_SRC, NULL, "%s: the identity service cannot be reached: %s",
                  what, res == NULL ? "no access token or call refused" : res->errmsg);
        snprintf(msg, msglen, "the identity service cannot be reached");
        return LX_EIO;
    }
    host->log(LX_LOG_WARN, AUTH_SRC, NULL, "%s: the identity service answered HTTP %d", what,
              res->status);
    if (res->status == 400) {
        auth_idtk_error(res, why, sizeof(why));
        if (strncmp(why, "USER_NOT_FOUND", 14) == 0) {
            snprintf(msg, msglen, "no such account");
            return LX_ENOENT;
        }
        snprintf(msg, msglen, "the identity service refused the request: %.100s",
                 why[0] != '\0' ? why : "HTTP 400");
        return LX_EINVAL;
    }
    snprintf(msg, msglen, "the identity service failed (HTTP %d)", res->status);
    return LX_EIO;
}

/* ------------------------------------------------------------------------ */
/* list                                                                     */

static const char *svc_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0)
        return NULL;
    return json_object_get_string(v);
}

static int svc_bool(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
           json_object_get_boolean(v);
}

/* Milliseconds from the API's decimal string ("1795869452123"); 0 if none. */
static int64_t svc_ms(json_object *o, const char *key)
{
    const char *s = svc_str(o, key);
    int64_t v = 0;

    if (s == NULL)
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static void svc_list_done(auth_rq *rq, const lx_http_response *res)
{
    lx_accounts_call *k = (lx_accounts_call *)rq;
    json_object *j = NULL, *users = NULL;
    lx_account *items = NULL;
    size_t n = 0;
    const char *next = NULL;
    char msg[200] = "";
    int status = LX_OK;

    if (res == NULL || res->err != LX_OK || res->status != 200) {
        status = svc_failure(k, res, "list accounts", msg, sizeof(msg));
        goto out;
    }
    j = json_tokener_parse(res->body);
    if (j == NULL || !json_object_is_type(j, json_type_object)) {
        status = LX_EIO;
        snprintf(msg, sizeof(msg), "the identity service gave no account list");
        goto out;
    }
    next = svc_str(j, "nextPageToken");
    if (json_object_object_get_ex(j, "users", &users) &&
        json_object_is_type(users, json_type_array) && json_object_array_length(users) > 0) {
        size_t len = json_object_array_length(users);
        items = calloc(len, sizeof(*items));
        if (items == NULL) {
            status = LX_ENOMEM;
            snprintf(msg, sizeof(msg), "out of memory");
            goto out;
        }
        for (size_t i = 0; i < len; i++) {
            json_object *u = json_object_array_get_idx(users, i);
            lx_account *a = &items[n];
            if (!json_object_is_type(u, json_type_object) || svc_str(u, "localId") == NULL)
                continue;
            a->struct_size = sizeof(*a);
            a->uid = svc_str(u, "localId");
            a->email = svc_str(u, "email");
            a->display_name = svc_str(u, "displayName");
            a->photo_url = svc_str(u, "photoUrl");
            a->phone_number = svc_str(u, "phoneNumber");
            a->email_verified = svc_bool(u, "emailVerified");
            a->disabled = svc_bool(u, "disabled");
            a->created_ms = svc_ms(u, "createdAt");
            a->last_sign_in_ms = svc_ms(u, "lastLoginAt");
            n++;
        }
    }
out:
    k->on_page(k->arg, status, msg, items, n, status == LX_OK ? next : NULL);
    free(items);
    json_object_put(j);
    svc_call_free(k);
}

/* The page token percent-encoded (RFC 3986 unreserved kept) into out. */
static int svc_encode(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        int is_plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '~';
        if (o + 4 > outlen)
            return LX_ETOOBIG;
        if (is_plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return LX_OK;
}

static int svc_list(void *state, lx_worker *w, const char *page_token, int max_results,
                    lx_accounts_page_fn done, void *arg, lx_accounts_call **call)
{
    auth_state *st = state;
    lx_accounts_call *k;
    char enc[SVC_MAX_TOKEN * 3 + 1], buf[SVC_MAX_TOKEN * 3 + 96];
    int rc;

    (void)w; /* the worker's own loop: st->aw belongs to it */
    if (call != NULL)
        *call = NULL;
    if (done == NULL || max_results < 1 || max_results > LX_ACCOUNTS_MAX_PAGE)
        return LX_EINVAL;
    if (page_token != NULL && page_token[0] == '\0')
        page_token = NULL;
    if (page_token != NULL &&
        (strlen(page_token) > SVC_MAX_TOKEN || svc_encode(page_token, enc, sizeof(enc)) != LX_OK))
        return LX_EINVAL;
    if (!auth_admin_available(st) || st->aw == NULL)
        return LX_ESTATE;
    k = svc_call_new(st);
    if (k == NULL)
        return LX_ENOMEM;
    snprintf(buf, sizeof(buf), "accounts:batchGet?maxResults=%d%s%s", max_results,
             page_token != NULL ? "&nextPageToken=" : "", page_token != NULL ? enc : "");
    k->suffix = strdup(buf);
    if (k->suffix == NULL) {
        svc_call_free(k);
        return LX_ENOMEM;
    }
    k->on_page = done;
    k->arg = arg;
    rc = auth_admin_start(&k->rq, "GET", k->suffix, NULL, svc_list_done);
    if (rc != LX_OK) {
        svc_call_free(k);
        return rc == LX_ESTATE ? LX_ESTATE : LX_ENOMEM;
    }
    if (call != NULL)
        *call = k;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* set_display_name                                                         */

static void svc_update_done(auth_rq *rq, const lx_http_response *res)
{
    lx_accounts_call *k = (lx_accounts_call *)rq;
    char msg[200] = "";
    int status = LX_OK;

    if (res == NULL || res->err != LX_OK || res->status != 200)
        status = svc_failure(k, res, "set display name", msg, sizeof(msg));
    k->on_done(k->arg, status, msg);
    svc_call_free(k);
}

static int svc_text_ok(const char *s, size_t max)
{
    size_t len = s != NULL ? strlen(s) : 0;

    if (len < 1 || len > max || !lx_utf8_valid(s, len))
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 0;
    return 1;
}

static int svc_set_display_name(void *state, lx_worker *w, const char *uid,
                                const char *display_name, lx_accounts_done_fn done, void *arg,
                                lx_accounts_call **call)
{
    auth_state *st = state;
    lx_accounts_call *k;
    json_object *body;
    const char *text;
    int rc;

    (void)w;
    if (call != NULL)
        *call = NULL;
    if (done == NULL || !svc_text_ok(uid, SVC_MAX_UID) ||
        !svc_text_ok(display_name, SVC_MAX_DISPLAY_NAME))
        return LX_EINVAL;
    if (!auth_admin_available(st) || st->aw == NULL)
        return LX_ESTATE;
    k = svc_call_new(st);
    body = json_object_new_object();
    if (k == NULL || body == NULL)
        goto nomem;
    json_object_object_add(body, "localId", json_object_new_string(uid));
    json_object_object_add(body, "displayName", json_object_new_string(display_name));
    text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    if (text == NULL || (k->body = strdup(text)) == NULL ||
        (k->suffix = strdup("accounts:update")) == NULL)
        goto nomem;
    json_object_put(body);
    k->on_done = done;
    k->arg = arg;
    rc = auth_admin_start(&k->rq, "POST", k->suffix, k->body, svc_update_done);
    if (rc != LX_OK) {
        svc_call_free(k);
        return rc == LX_ESTATE ? LX_ESTATE : LX_ENOMEM;
    }
    if (call != NULL)
        *call = k;
    return LX_OK;
nomem:
    json_object_put(body);
    if (k != NULL)
        svc_call_free(k);
    return LX_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */

static int svc_is_available(void *state)
{
    return auth_admin_available(state);
}

static void svc_cancel(void *state, lx_accounts_call *call)
{
    (void)state;
    if (call == NULL)
        return;
    auth_admin_cancel(&call->rq);
    svc_call_free(call);
}

static const lx_accounts_v1 auth_accounts_table = {
    .struct_size = sizeof(lx_accounts_v1),
    .is_available = svc_is_available,
    .list = svc_list,
    .set_display_name = svc_set_display_name,
    .cancel = svc_cancel,
};

int auth_service_register(auth_state *st, char *err, size_t errlen)
{
    if (st->host->svc_register(LX_ACCOUNTS_V1, &auth_accounts_table, st) != LX_OK) {
        snprintf(err, errlen, "auth: the service %s is already provided", LX_ACCOUNTS_V1);
        return LX_EEXIST;
    }
    return LX_OK;
}
