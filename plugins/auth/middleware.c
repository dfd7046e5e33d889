/*
 * The auth middleware: auth.require_user, auth.optional_user and
 * auth.require_admin (see middleware.h for what each answers).
 *
 * The flow, for one request:
 *   auth_mw            finds the token (Authorization header, else, for
 *                      auth.websocket_user on a WebSocket route, the
 *                      `token` query parameter, else the session cookie)
 *                      and picks the keys it needs;
 *   auth_mw_verify     the verified-token cache, else the keys (waiting for
 *                      a fetch, or a refetch on an unknown kid) and
 *                      auth_verify; fills rq->principal;
 *   auth_mw_verified   the user check: accounts:lookup in emulator mode, or
 *                      with check_revoked (through the revocation cache);
 *   auth_mw_pass       the admin check, then the principal is published.
 *
 * A request runs synchronously when the keys are at hand (the common case).
 * It is held (LX_ASYNC) while keys are fetched, while an unknown kid causes
 * a refetch, and while the user is looked up; it is then re-verified from
 * the start when it wakes. Every reply is an error through auth_refuse
 * (auth_mw_error once an auth_rq exists): host->reply_error, or on a
 * WebSocket route under auth.websocket_user host->ws_reject with close 4001,
 * 4003 or 1011. Tokens never reach a log line or a reply.
 *
 * Ownership: the token is borrowed from the request's headers; the
 * principal is malloc'd, held in rq->principal, and handed to the request
 * context (which frees it) on success, or freed on any error.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "auth.h"
#include "cache.h"
#include "fetch.h"
#include "jwt.h"
#include "middleware.h"

/* ------------------------------------------------------------------------ */
/* Ending and resuming a request                                            */

/* Answers an error; returns LX_DONE. The reply ends the request even when
 * it was held; rq may be gone afterwards. */
static lx_rc auth_mw_error(auth_rq *rq, int status, const char *code, const char *message)
{
    auth_rq_end_error(rq, status, code, message);
    return LX_DONE;
}

/* Returns LX_ASYNC for a request that now waits (hooks registered first). */
static lx_rc auth_mw_suspend(auth_rq *rq)
{
    rq->is_pending = 1;
    return LX_ASYNC;
}

/* After an asynchronous step: passes rc on to the core. */
static void auth_mw_settle(auth_rq *rq, lx_rc rc)
{
    const lx_host *host = rq->aw->st->host;
    lx_req *req = rq->req;

    if (rc == LX_ASYNC || rc == LX_DONE)
        return; /* waiting again, or replied (which ended the request) */
    rq->is_pending = 0;
    host->req_resume(req, rc);
}

/* ------------------------------------------------------------------------ */
/* Finding the token                                                        */

/* The value of cookie `name` in a Cookie header (RFC 6265 §4.2.1: pairs
 * separated by ";" and optional spaces; a value may be quoted). Returns 0
 * with *val and *len pointing into header, or -1 when absent or malformed
 * (control characters, spaces or quotes inside, over AUTH_MAX_TOKEN). */
static int auth_cookie_find(const char *header, const char *name, const char **val, size_t *len)
{
    size_t name_len = strlen(name);
    const char *p = header;

    while (*p != '\0') {
        const char *pair, *eq, *end;

        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        if (*p == '\0')
            break;
        pair = p;
        end = strchr(p, ';');
        if (end == NULL)
            end = p + strlen(p);
        p = end;
        eq = memchr(pair, '=', (size_t)(end - pair));
        if (eq == NULL || (size_t)(eq - pair) != name_len || memcmp(pair, name, name_len) != 0)
            continue;
        const char *v = eq + 1, *vend = end;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        if (vend - v >= 2 && v[0] == '"' && vend[-1] == '"') {
            v++;
            vend--;
        }
        if (vend == v || (size_t)(vend - v) > AUTH_MAX_TOKEN)
            return -1;
        for (const char *c = v; c < vend; c++)
            if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || *c == '"' || *c == ',' ||
                *c == '\\')
                return -1;
        *val = v;
        *len = (size_t)(vend - v);
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* The middleware                                                           */

static lx_rc auth_mw_verify(auth_rq *rq);

static void auth_mw_wake(auth_rq *rq)
{
    auth_mw_settle(rq, auth_mw_verify(rq));
}

/* The token is good and the user may go on: publish the principal. */
static lx_rc auth_mw_pass(auth_rq *rq)
{
    const auth_state *st = rq->aw->st;
    const lx_host *host = st->host;
    lx_principal *p = rq->principal;

    if (!p->is_admin && auth_is_admin_email(st, p->email))
        p->is_admin = 1;
    if (rq->role == AUTH_ROLE_ADMIN && !p->is_admin)
        return auth_mw_error(rq, 403, "FORBIDDEN", "Admin access required");
    rq->principal = NULL;
    host->req_set_user(rq->req, p->uid);
    if (host->ctx_set(rq->req, LX_AUTH_PRINCIPAL, p, free) != LX_OK) /* frees p on failure */
        return auth_mw_error(rq, 500, "INTERNAL", "out of memory");
    return LX_NEXT;
}

/* What accounts:lookup said about the user, applied to the token. */
static lx_rc auth_mw_judge(auth_rq *rq, const auth_user_status *s)
{
    const lx_principal *p = rq->principal;
    int64_t t = rq->aw->st->mode == AUTH_CFG_EMULATOR ? p->auth_time : p->iat;

    if (!s->is_found)
        return auth_mw_error(rq, 401, "TOKEN_INVALID", "user not found");
    if (s->is_disabled)
        return auth_mw_error(rq, 403, "USER_DISABLED", "the user account is disabled");
    if (s->valid_since > 0 && t < s->valid_since)
        return auth_mw_error(rq, 401, "TOKEN_REVOKED", "the token has been revoked");
    return auth_mw_pass(rq);
}

/* Parses an accounts:lookup answer. Returns 0, or -1 when it is not one. */
static int auth_lookup_parse(const char *body, auth_user_status *status)
{
    json_object *j = json_tokener_parse(body), *users, *u, *v;
    int rc = -1;

    status->is_found = status->is_disabled = 0;
    status->valid_since = 0;
    if (j == NULL || !json_object_is_type(j, json_type_object))
        goto out;
    rc = 0;
    if (!json_object_object_get_ex(j, "users", &users) ||
        !json_object_is_type(users, json_type_array) || json_object_array_length(users) == 0)
        goto out; /* no such user */
    u = json_object_array_get_idx(users, 0);
    if (!json_object_is_type(u, json_type_object)) {
        rc = -1;
        goto out;
    }
    status->is_found = 1;
    if (json_object_object_get_ex(u, "disabled", &v))
        status->is_disabled = json_object_get_boolean(v);
    if (json_object_object_get_ex(u, "validSince", &v)) {
        /* a string of Unix seconds (or, leniently, a number) */
        if (json_object_is_type(v, json_type_string)) {
            const char *s = json_object_get_string(v);
            char *end;
            errno = 0;
            long long n = strtoll(s, &end, 10);
            if (errno != 0 || end == s || *end != '\0' || n < 0) {
                rc = -1;
                goto out;
            }
            status->valid_since = n;
        } else if (json_object_is_type(v, json_type_int)) {
            status->valid_since = json_object_get_int64(v);
        }
    }
out:
    json_object_put(j);
    return rc;
}

static void auth_mw_lookup_done(auth_rq *rq, const lx_http_response *res)
{
    const auth_state *st = rq->aw->st;
    auth_user_status s;

    if (res == NULL || res->err != LX_OK || res->status != 200 ||
        auth_lookup_parse(res->body, &s) != 0) {
        st->host->log(LX_LOG_WARN, AUTH_SRC, rq->req, "accounts:lookup failed: %s",
                      res == NULL          ? "no credentials or call refused"
                      : res->err != LX_OK  ? res->errmsg
                      : res->status != 200 ? "unexpected HTTP status"
                                           : "unexpected answer");
        auth_mw_settle(
            rq, auth_mw_error(rq, 503, "AUTH_UNAVAILABLE", "cannot check the user's status"));
        return;
    }
    if (st->mode != AUTH_CFG_EMULATOR)
        auth_rcache_put(rq->aw->rcache, rq->principal->uid, &s);
    auth_mw_settle(rq, auth_mw_judge(rq, &s));
}

/* Looks the user up (emulator: always, as firebase-admin does; otherwise
 * when check_revoked is on and the verdict is not cached). */
static lx_rc auth_mw_lookup(auth_rq *rq)
{
    json_object *body = json_object_new_object(), *ids = json_object_new_array();
    int rc = LX_ENOMEM;

    if (body != NULL && ids != NULL) {
        json_object_array_add(ids, json_object_new_string(rq->principal->uid));
        json_object_object_add(body, "localId", ids);
        ids = NULL;
        rc = auth_admin_call(rq, "accounts:lookup",
                             json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
                             auth_mw_lookup_done);
    }
    json_object_put(ids);
    json_object_put(body);
    if (rc != LX_OK)
        return auth_mw_error(rq, 503, "AUTH_UNAVAILABLE", "cannot check the user's status");
    return auth_mw_suspend(rq);
}

/* The token verified (principal in rq): the user checks, then pass. */
static lx_rc auth_mw_verified(auth_rq *rq)
{
    const auth_state *st = rq->aw->st;
    auth_user_status s;

    if (st->mode == AUTH_CFG_EMULATOR)
        return auth_mw_lookup(rq);
    if (st->check_revoked) {
        if (auth_rcache_get(rq->aw->rcache, rq->principal->uid, &s))
            return auth_mw_judge(rq, &s);
        return auth_mw_lookup(rq);
    }
    return auth_mw_pass(rq);
}

static void auth_verify_opts_for(const auth_rq *rq, auth_verify_opts *o, int64_t now)
{
    const auth_state *st = rq->aw->st;

    memset(o, 0, sizeof(*o));
    o->leeway_s = st->leeway_s;
    o->now = now;
    o->tenant = NULL;
    switch (st->mode) {
    case AUTH_CFG_EMULATOR:
        o->mode = AUTH_MODE_EMULATOR;
        o->audience = st->project;
        o->issuer = st->id_issuer;
        break;
    case AUTH_CFG_OIDC:
        o->mode = AUTH_MODE_OIDC;
        o->audience = st->oidc_audience;
        o->issuer = st->oidc_issuer;
        break;
    default:
        o->mode = rq->is_cookie ? AUTH_MODE_SESSION : AUTH_MODE_FIREBASE;
        o->audience = st->project;
        o->issuer = rq->is_cookie ? st->session_issuer : st->id_issuer;
        break;
    }
}

/* Verifies rq's token from the start (also when a held request wakes). */
static lx_rc auth_mw_verify(auth_rq *rq)
{
    auth_worker *aw = rq->aw;
    const auth_keyset *keys = NULL;
    auth_verify_opts opts;
    lx_principal *p = NULL;
    char why[128] = "";
    int64_t now = auth_now();

    /* A cached verification counts only while its keys are usable. */
    if (rq->src == NULL || auth_keysrc_keys(rq->src, now) != NULL)
        p = auth_tcache_get(aw->tcache, rq->token, rq->token_len, rq->is_cookie, now);
    if (p != NULL) {
        rq->principal = p;
        return auth_mw_verified(rq);
    }
    if (rq->src != NULL) {
        keys = auth_keysrc_keys(rq->src, now);
        if (keys == NULL) {
            if (auth_rq_hold(rq) != LX_OK)
                return auth_mw_error(rq, 500, "INTERNAL", "out of memory");
            rq->on_wake = auth_mw_wake;
            if (auth_keysrc_wait(rq->src, rq, now))
                return auth_mw_suspend(rq);
            return auth_mw_error(rq, 503, "AUTH_UNAVAILABLE",
                                 "the public keys to verify tokens cannot be fetched");
        }
    }
    auth_verify_opts_for(rq, &opts, now);
    switch (auth_verify(rq->token, rq->token_len, keys, &opts, &p, why, sizeof(why))) {
    case AUTH_OK:
        rq->principal = p;
        auth_tcache_put(aw->tcache, rq->token, rq->token_len, rq->is_cookie, p);
        return auth_mw_verified(rq);
    case AUTH_E_EXPIRED:
        return auth_mw_error(rq, 401, "TOKEN_EXPIRED", "token expired");
    case AUTH_E_UNKNOWN_KID:
        if (rq->src != NULL && !rq->has_refetched) {
            if (auth_rq_hold(rq) != LX_OK)
                return auth_mw_error(rq, 500, "INTERNAL", "out of memory");
            rq->on_wake = auth_mw_wake;
            if (auth_keysrc_refetch_for_kid(rq->src, rq, now)) {
                rq->has_refetched = 1;
                return auth_mw_suspend(rq);
            }
        }
        return auth_mw_error(rq, 401, "TOKEN_INVALID", why[0] ? why : "unknown key id");
    case AUTH_E_NOMEM:
        return auth_mw_error(rq, 500, "INTERNAL", "out of memory");
    default:
        return auth_mw_error(rq, 401, "TOKEN_INVALID", why[0] ? why : "invalid token");
    }
}

/* A token from the `token` query parameter (already percent-decoded): the
 * characters of a JWT, 1..AUTH_MAX_TOKEN of them. */
static int auth_query_token_ok(const char *t, size_t len)
{
    if (len == 0 || len > AUTH_MAX_TOKEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '=' || c == '+' || c == '/'))
            return 0;
    }
    return 1;
}

/* The entry of every middleware: the checks that need no token, the token,
 * then auth_mw_verify. for_ws: auth.websocket_user, which on a WebSocket
 * route also reads the `token` query parameter and refuses with a close.
 * Returns what the middleware returns (see middleware.h). */
static lx_rc auth_mw(lx_req *req, auth_state *st, auth_role role, int for_ws)
{
    const lx_host *host = st->host;
    auth_worker *aw = st->aw;
    const char *hdr, *token = NULL;
    size_t len = 0;
    int is_cookie = 0;
    int is_ws = for_ws && host->req_is_websocket(req);
    auth_rq *rq;

    if (st->not_configured_why != NULL) {
        auth_refuse(host, req, is_ws, 503, "AUTH_NOT_CONFIGURED", st->not_configured_why);
        return LX_DONE;
    }
    if (aw == NULL) {
        auth_refuse(host, req, is_ws, 503, "AUTH_UNAVAILABLE", "authentication is not running");
        return LX_DONE;
    }
    hdr = host->req_header(req, "Authorization");
    if (hdr != NULL) {
        if (auth_bearer_parse(hdr, &token, &len) != 0) {
            auth_refuse(host, req, is_ws, 401, "UNAUTHENTICATED",
                        "the Authorization header must be: Bearer <token>");
            return LX_DONE;
        }
    } else if (is_ws && (token = host->req_query(req, "token")) != NULL) {
        len = strlen(token);
        if (!auth_query_token_ok(token, len)) {
            auth_refuse(host, req, is_ws, 401, "TOKEN_INVALID", "malformed token");
            return LX_DONE;
        }
    } else if (st->mode == AUTH_CFG_FIREBASE && (hdr = host->req_header(req, "Cookie")) != NULL &&
               auth_cookie_find(hdr, st->session_cookie, &token, &len) == 0) {
        is_cookie = 1;
    }
    if (token == NULL) {
        if (role == AUTH_ROLE_OPTIONAL)
            return LX_NEXT;
        auth_refuse(host, req, is_ws, 401, "UNAUTHENTICATED",
                    is_ws ? "missing token" : "missing Authorization header");
        return LX_DONE;
    }
    rq = auth_rq_new(aw, req, role);
    if (rq == NULL)
        return LX_FAIL;
    rq->token = token;
    rq->token_len = len;
    rq->is_cookie = is_cookie;
    rq->is_ws = is_ws;
    if (st->mode == AUTH_CFG_EMULATOR)
        rq->src = NULL;
    else if (is_cookie)
        rq->src = &aw->session_keys;
    else
        rq->src = &aw->id_keys;
    return auth_mw_verify(rq);
}

lx_rc auth_require_user(lx_req *req, void *state)
{
    return auth_mw(req, state, AUTH_ROLE_USER, 0);
}

lx_rc auth_optional_user(lx_req *req, void *state)
{
    return auth_mw(req, state, AUTH_ROLE_OPTIONAL, 0);
}

lx_rc auth_require_admin(lx_req *req, void *state)
{
    return auth_mw(req, state, AUTH_ROLE_ADMIN, 0);
}

lx_rc auth_websocket_user(lx_req *req, void *state)
{
    return auth_mw(req, state, AUTH_ROLE_USER, 1);
}
