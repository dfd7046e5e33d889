/*
 * Account routes: sign-up, the email-verification link, account deletion.
 * See accounts.h for the routes and their answers; the admin calls go
 * through auth_admin_call (fetch.c), which picks the emulator or Google and
 * the credentials.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <lexiaid/svc/userdata_v1.h>

#include "auth.h"
#include "accounts.h"
#include "fetch.h"

#define AUTH_MAX_EMAIL 254
#define AUTH_MIN_PASSWORD 6
#define AUTH_MAX_PASSWORD 4096
#define AUTH_MAX_DISPLAY_NAME 256

/* {"status":"error","message":message,"code":code} and ends the request;
 * rq (when given) is no longer pending and may be gone afterwards. */
static lx_rc auth_acct_error(const lx_host *host, lx_req *req, auth_rq *rq, int status,
                             const char *code, const char *message)
{
    json_object *o = json_object_new_object();

    if (rq != NULL)
        rq->is_pending = 0;
    if (o == NULL) {
        host->reply_error(req, 500, "INTERNAL", "out of memory");
        return LX_DONE;
    }
    json_object_object_add(o, "status", json_object_new_string("error"));
    json_object_object_add(o, "message", json_object_new_string(message));
    json_object_object_add(o, "code", json_object_new_string(code));
    host->reply_json(req, status, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return LX_DONE;
}

static lx_rc auth_acct_fail(auth_rq *rq, int status, const char *code, const char *message)
{
    return auth_acct_error(rq->aw->st->host, rq->req, rq, status, code, message);
}

static int auth_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Common failures of an admin call: no answer, or Google refusing us. */
static lx_rc auth_acct_upstream_failed(auth_rq *rq, const lx_http_response *res, const char *what)
{
    const lx_host *host = rq->aw->st->host;

    if (res == NULL || res->err != LX_OK) {
        host->log(LX_LOG_WARN, AUTH_SRC, rq->req, "%s: the identity service cannot be reached: %s",
                  what, res == NULL ? "no credentials or call refused" : res->errmsg);
        return auth_acct_fail(rq, 503, "AUTH_UNAVAILABLE", "the identity service is unavailable");
    }
    host->log(LX_LOG_WARN, AUTH_SRC, rq->req, "%s: the identity service answered HTTP %d", what,
              res->status);
    if (res->status == 401 || res->status == 403 || res->status >= 500)
        return auth_acct_fail(rq, 503, "AUTH_UNAVAILABLE", "the identity service is unavailable");
    return auth_acct_fail(rq, 500, "INTERNAL", "the identity service refused the request");
}

/* Starts an admin call for an endpoint; answers 503 itself when it cannot. */
static lx_rc auth_acct_call(auth_rq *rq, const char *suffix, json_object *body,
                            void (*on_http)(auth_rq *rq, const lx_http_response *res))
{
    const char *text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    int rc = text != NULL ? auth_admin_call(rq, suffix, text, on_http) : LX_ENOMEM;

    if (rc != LX_OK)
        return auth_acct_fail(rq, 503, "AUTH_UNAVAILABLE", "the identity service is unavailable");
    rq->is_pending = 1;
    return LX_ASYNC;
}

/* ------------------------------------------------------------------------ */
/* POST /api/users                                                          */

/* A JSON string's text copied into request memory, or NULL. */
static const char *auth_req_strdup(const lx_host *host, lx_req *req, json_object *v)
{
    size_t len = (size_t)json_object_get_string_len(v);
    char *s = host->req_alloc(req, len + 1);

    if (s != NULL)
        memcpy(s, json_object_get_string(v), len + 1);
    return s;
}

static int auth_email_ok(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);

    if (len < 3 || len > AUTH_MAX_EMAIL || at == NULL || at == s || at == s + len - 1)
        return 0;
    if (memchr(at + 1, '@', len - (size_t)(at + 1 - s)) != NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] == 0x7f)
            return 0;
    const char *dot = memchr(at + 1, '.', len - (size_t)(at + 1 - s));
    return dot != NULL && dot != at + 1 && dot != s + len - 1;
}

static int auth_text_ok(const char *s, size_t len)
{
    if (memchr(s, '\0', len) != NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return 0;
    return 1;
}

/* 201 {"status":"success","message","userId"}: the end of a sign-up. */
static void auth_signup_reply(auth_rq *rq)
{
    const lx_host *host = rq->aw->st->host;
    json_object *o = json_object_new_object();

    if (o == NULL) {
        auth_acct_fail(rq, 500, "INTERNAL", "out of memory");
        return;
    }
    json_object_object_add(o, "status", json_object_new_string("success"));
    json_object_object_add(o, "message", json_object_new_string("User created successfully"));
    json_object_object_add(o, "userId", json_object_new_string(rq->uid));
    rq->is_pending = 0;
    host->reply_json(rq->req, 201, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

/* The account made for a profile that could not be made is gone again (or
 * could not be deleted: logged); either way the sign-up failed. */
static void auth_signup_rollback_done(auth_rq *rq, const lx_http_response *res)
{
    const lx_host *host = rq->aw->st->host;

    if (res == NULL || res->err != LX_OK || res->status != 200)
        host->log(LX_LOG_ERROR, AUTH_SRC, rq->req,
                  "sign-up: account %s has no profile and could not be deleted again (HTTP %d); "
                  "POST /api/users/init or the admin sync makes its profile later",
                  rq->uid, res != NULL ? res->status : 0);
    auth_acct_fail(rq, 500, "PROFILE_FAILED", "Failed to create user profile");
}

/* userdata.v1 made (or failed to make) the new account's profile. */
static void auth_signup_profile_done(void *arg, int status, const char *message, int is_created)
{
    auth_rq *rq = arg;
    const lx_host *host = rq->aw->st->host;
    json_object *body;

    (void)is_created; /* a profile already there (a retried uid) is fine */
    rq->is_in_svc = 0;
    if (rq->is_aborted) {
        rq->is_pending = 0;
        host->req_resume(rq->req, LX_DONE);
        return;
    }
    if (status == LX_OK) {
        auth_signup_reply(rq);
        return;
    }
    host->log(LX_LOG_ERROR, AUTH_SRC, rq->req,
              "sign-up: the profile of account %s could not be made (%s); deleting the account",
              rq->uid, message != NULL ? message : "no message");
    body = json_object_new_object();
    if (body == NULL) {
        auth_acct_fail(rq, 500, "PROFILE_FAILED", "Failed to create user profile");
        return;
    }
    json_object_object_add(body, "localId", json_object_new_string(rq->uid));
    (void)auth_acct_call(rq, "accounts:delete", body, auth_signup_rollback_done);
    json_object_put(body);
}

/* The account exists: its profile next (userdata.v1, when a plugin keeps
 * profiles), then the answer. */
static void auth_signup_profile(auth_rq *rq)
{
    const lx_host *host = rq->aw->st->host;
    const lx_userdata_v1 *ud;
    void *ud_state = NULL;
    int rc;

    ud = host->svc_lookup(LX_USERDATA_V1, &ud_state);
    if (ud == NULL || !LX_USERDATA_V1_HAS(ud, create_user)) {
        auth_signup_reply(rq);
        return;
    }
    rq->is_in_svc = 1;
    rc = ud->create_user(ud_state, host->req_worker(rq->req), rq->uid, rq->email, rq->display_name,
                         auth_signup_profile_done, rq);
    if (rc != LX_OK)
        auth_signup_profile_done(rq, rc, "userdata.v1 refused the call", 0);
}

static void auth_signup_done(auth_rq *rq, const lx_http_response *res)
{
    const lx_host *host = rq->aw->st->host;
    char msg[128];

    if (res != NULL && res->err == LX_OK && res->status == 200) {
        json_object *j = json_tokener_parse(res->body), *v;
        size_t len;
        char *uid;
        if (j == NULL || !json_object_object_get_ex(j, "localId", &v) ||
            !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
            json_object_put(j);
            auth_acct_fail(rq, 500, "INTERNAL", "the identity service gave no user id");
            return;
        }
        len = (size_t)json_object_get_string_len(v);
        uid = host->req_alloc(rq->req, len + 1);
        if (uid == NULL) {
            json_object_put(j);
            auth_acct_fail(rq, 500, "INTERNAL", "out of memory");
            return;
        }
        memcpy(uid, json_object_get_string(v), len + 1);
        rq->uid = uid;
        json_object_put(j);
        auth_signup_profile(rq);
        return;
    }
    if (res != NULL && res->err == LX_OK && res->status == 400) {
        auth_idtk_error(res, msg, sizeof(msg));
        if (auth_starts(msg, "EMAIL_EXISTS")) {
            auth_acct_fail(rq, 409, "EMAIL_EXISTS", "The email address is already in use");
            return;
        }
        if (auth_starts(msg, "INVALID_EMAIL")) {
            auth_acct_fail(rq, 400, "VALIDATION_ERROR", "email: not a valid email address");
            return;
        }
        if (auth_starts(msg, "WEAK_PASSWORD") || auth_starts(msg, "INVALID_PASSWORD")) {
            auth_acct_fail(rq, 400, "VALIDATION_ERROR", "password: too weak");
            return;
        }
    }
    auth_acct_upstream_failed(rq, res, "sign-up");
}

lx_rc auth_signup(lx_req *req, void *state)
{
    auth_state *st = state;
    const lx_host *host = st->host;
    json_tokener *tok = NULL;
    json_object *in = NULL, *out = NULL, *v, *email = NULL, *name = NULL;
    const char *body, *s;
    size_t len = 0, slen;
    auth_rq *rq;
    lx_rc rc = LX_DONE;

    if (!auth_admin_available(st) || st->aw == NULL)
        return auth_acct_error(host, req, NULL, 503, "AUTH_NOT_CONFIGURED",
                               "account management is not configured");
    body = host->req_body(req, &len);
    tok = json_tokener_new_ex(8);
    if (tok == NULL)
        return LX_FAIL;
    if (body != NULL && len > 0)
        in = json_tokener_parse_ex(tok, body, (int)len);
    if (in == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len || !json_object_is_type(in, json_type_object)) {
        rc = auth_acct_error(host, req, NULL, 400, "VALIDATION_ERROR",
                             "the body must be a JSON object");
        goto out;
    }
    if (!json_object_object_get_ex(in, "email", &v) || !json_object_is_type(v, json_type_string)) {
        rc = auth_acct_error(host, req, NULL, 400, "VALIDATION_ERROR", "email: required string");
        goto out;
    }
    s = json_object_get_string(v);
    slen = (size_t)json_object_get_string_len(v);
    if (!auth_email_ok(s, slen) || memchr(s, '\0', slen) != NULL) {
        rc = auth_acct_error(host, req, NULL, 400, "VALIDATION_ERROR",
                             "email: not a valid email address");
        goto out;
    }
    out = json_object_new_object();
    if (out == NULL) {
        rc = LX_FAIL;
        goto out;
    }
    json_object_object_add(out, "email", json_object_get(v));
    email = v;
    if (!json_object_object_get_ex(in, "password", &v) ||
        !json_object_is_type(v, json_type_string)) {
        rc = auth_acct_error(host, req, NULL, 400, "VALIDATION_ERROR", "password: required string");
        goto out;
    }
    slen = (size_t)json_object_get_string_len(v);
    if (slen < AUTH_MIN_PASSWORD || slen > AUTH_MAX_PASSWORD ||
        memchr(json_object_get_string(v), '\0', slen) != NULL) {
        rc = auth_acct_error(host, req, NULL, 400, "VALIDATION_ERROR",
                             "password: must be 6 to 4096 characters");
        goto out;
    }
    json_object_object_add(out, "password", json_object_get(v));
    if (json_object_object_get_ex(in, "display_name", &v) && v != NULL) {
        if (!json_object_is_type(v, json_type_string)) {
            rc = auth_acct_error(host, req, NULL, 400, "VALIDATION_ERROR",
                                 "display_name: must be a string");
            goto out;
        }
        slen = (size_t)json_object_get_string_len(v);
        if (slen > AUTH_MAX_DISPLAY_NAME || !auth_text_ok(json_object_get_string(v), slen)) {
            rc = auth_acct_error(host, req, NULL, 400, "VALIDATION_ERROR",
                                 "display_name: at most 256 characters, no control characters");
            goto out;
        }
        if (slen > 0) {
            json_object_object_add(out, "displayName", json_object_get(v));
            name = v;
        }
    }
    rq = auth_rq_new(st->aw, req, AUTH_ROLE_ENDPOINT);
    if (rq == NULL || (rq->email = auth_req_strdup(host, req, email)) == NULL ||
        (name != NULL && (rq->display_name = auth_req_strdup(host, req, name)) == NULL)) {
        rc = LX_FAIL;
        goto out;
    }
    rc = auth_acct_call(rq, "accounts", out, auth_signup_done);
out:
    json_object_put(out);
    json_object_put(in);
    json_tokener_free(tok);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* POST /api/users/verify-email                                             */

static void auth_verify_email_done(auth_rq *rq, const lx_http_response *res)
{
    const lx_host *host = rq->aw->st->host;
    char msg[128];

    if (res != NULL && res->err == LX_OK && res->status == 200) {
        json_object *j = json_tokener_parse(res->body), *v, *o;
        if (j == NULL || !json_object_object_get_ex(j, "oobLink", &v) ||
            !json_object_is_type(v, json_type_string) || (o = json_object_new_object()) == NULL) {
            json_object_put(j);
            auth_acct_fail(rq, 500, "INTERNAL", "the identity service gave no link");
            return;
        }
        json_object_object_add(o, "status", json_object_new_string("success"));
        json_object_object_add(o, "link", json_object_get(v));
        rq->is_pending = 0;
        host->reply_json(rq->req, 200, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        json_object_put(j);
        return;
    }
    if (res != NULL && res->err == LX_OK && res->status == 400) {
        auth_idtk_error(res, msg, sizeof(msg));
        if (auth_starts(msg, "EMAIL_NOT_FOUND") || auth_starts(msg, "USER_NOT_FOUND")) {
            auth_acct_fail(rq, 400, "USER_NOT_FOUND", "no account has this email address");
            return;
        }
    }
    auth_acct_upstream_failed(rq, res, "verify-email");
}

lx_rc auth_verify_email(lx_req *req, void *state)
{
    auth_state *st = state;
    const lx_host *host = st->host;
    const lx_principal *p = host->ctx_get(req, LX_AUTH_PRINCIPAL);
    json_object *body;
    auth_rq *rq;
    lx_rc rc;

    if (p == NULL)
        return auth_acct_error(host, req, NULL, 401, "UNAUTHENTICATED", "no signed-in user");
    if (p->email == NULL || p->email[0] == '\0')
        return auth_acct_error(host, req, NULL, 400, "VALIDATION_ERROR",
                               "the account has no email address");
    if (!auth_admin_available(st) || st->aw == NULL)
        return auth_acct_error(host, req, NULL, 503, "AUTH_NOT_CONFIGURED",
                               "account management is not configured");
    rq = auth_rq_new(st->aw, req, AUTH_ROLE_ENDPOINT);
    body = json_object_new_object();
    if (rq == NULL || body == NULL) {
        json_object_put(body);
        return LX_FAIL;
    }
    json_object_object_add(body, "requestType", json_object_new_string("VERIFY_EMAIL"));
    json_object_object_add(body, "email", json_object_new_string(p->email));
    json_object_object_add(body, "returnOobLink", json_object_new_boolean(1));
    rc = auth_acct_call(rq, "accounts:sendOobCode", body, auth_verify_email_done);
    json_object_put(body);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* DELETE /api/users                                                        */

static void auth_delete_done(auth_rq *rq, const lx_http_response *res)
{
    const lx_host *host = rq->aw->st->host;
    char msg[128];
    static const char ok[] = "{\"status\":\"success\",\"message\":\"User deleted\"}";
    int is_gone = 0;

    if (res != NULL && res->err == LX_OK && res->status == 400) {
        auth_idtk_error(res, msg, sizeof(msg));
        is_gone = auth_starts(msg, "USER_NOT_FOUND"); /* deleting is idempotent */
    }
    if (is_gone || (res != NULL && res->err == LX_OK && res->status == 200)) {
        host->log(LX_LOG_INFO, AUTH_SRC, rq->req, "account %s deleted", rq->uid);
        rq->is_pending = 0;
        host->reply(rq->req, 200, "application/json", ok, sizeof(ok) - 1, LX_STATIC);
        return;
    }
    auth_acct_upstream_failed(rq, res, "delete account");
}

static lx_rc auth_delete_account(auth_rq *rq)
{
    json_object *body = json_object_new_object();
    lx_rc rc;

    if (body == NULL)
        return auth_acct_fail(rq, 500, "INTERNAL", "out of memory");
    json_object_object_add(body, "localId", json_object_new_string(rq->uid));
    rc = auth_acct_call(rq, "accounts:delete", body, auth_delete_done);
    json_object_put(body);
    return rc;
}

/* userdata.v1 finished deleting the user's data. */
static void auth_delete_data_done(void *arg, int status, const char *message)
{
    auth_rq *rq = arg;
    const lx_host *host = rq->aw->st->host;

    rq->is_in_svc = 0;
    if (rq->is_aborted) {
        /* The client is gone: end the request; a retry deletes the account. */
        rq->is_pending = 0;
        host->req_resume(rq->req, LX_DONE);
        return;
    }
    if (status != LX_OK) {
        host->log(LX_LOG_ERROR, AUTH_SRC, rq->req, "deleting the data of %s failed: %s", rq->uid,
                  message != NULL ? message : "(no message)");
        auth_acct_fail(rq, 500, "DELETE_FAILED", "could not delete the user's data");
        return;
    }
    (void)auth_delete_account(rq); /* answers by itself on failure */
}

lx_rc auth_delete_user(lx_req *req, void *state)
{
    auth_state *st = state;
    const lx_host *host = st->host;
    const lx_principal *p = host->ctx_get(req, LX_AUTH_PRINCIPAL);
    const lx_userdata_v1 *ud;
    void *ud_state = NULL;
    auth_rq *rq;
    size_t len;
    int rc;

    if (p == NULL)
        return auth_acct_error(host, req, NULL, 401, "UNAUTHENTICATED", "no signed-in user");
    if (!auth_admin_available(st) || st->aw == NULL)
        return auth_acct_error(host, req, NULL, 503, "AUTH_NOT_CONFIGURED",
                               "account management is not configured");
    rq = auth_rq_new(st->aw, req, AUTH_ROLE_ENDPOINT);
    if (rq == NULL)
        return LX_FAIL;
    len = strlen(p->uid);
    rq->uid = host->req_alloc(req, len + 1);
    if (rq->uid == NULL)
        return LX_FAIL;
    memcpy((char *)rq->uid, p->uid, len + 1);

    ud = host->svc_lookup(LX_USERDATA_V1, &ud_state);
    if (ud == NULL ||
        ud->struct_size < offsetof(lx_userdata_v1, delete_user) + sizeof(ud->delete_user) ||
        ud->delete_user == NULL)
        return auth_delete_account(rq);
    if (auth_rq_hold(rq) != LX_OK)
        return LX_FAIL;
    rq->is_pending = 1;
    rq->is_in_svc = 1;
    /* done may run before delete_user returns: it then ends or moves the
     * request on by itself, and our LX_ASYNC below is harmless. */
    rc = ud->delete_user(ud_state, host->req_worker(req), rq->uid, auth_delete_data_done, rq);
    if (rc != LX_OK) {
        rq->is_in_svc = 0;
        host->log(LX_LOG_ERROR, AUTH_SRC, req, "userdata.v1 refused to delete %s (%d)", rq->uid,
                  rc);
        return auth_acct_fail(rq, 500, "DELETE_FAILED", "could not delete the user's data");
    }
    return LX_ASYNC;
}
