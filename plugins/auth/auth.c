/*
 * auth: who is calling. Verifies Firebase ID tokens (or session cookies, or
 * OIDC tokens) as middleware and publishes the principal (lexiaid/auth.h).
 *
 *   auth.require_user   middleware: 401 without a valid token
 *   auth.optional_user  middleware: no token is fine; a bad one is not
 *   auth.require_admin  middleware: a valid token of an admin, else 403
 *   auth.me             GET /api/auth/me: the principal as JSON
 *   auth.signup, auth.verify_email, auth.delete_user: see accounts.c
 *   the service accounts.v1 (other plugins' view of the accounts): service.c
 *   the service google_token.v1 (access tokens for other plugins' Google
 *   API calls, from a service-account key): gtoken.c
 *
 * This file is the plugin itself: the descriptor, the configuration (from
 * lx_cfg to auth_state), init/shutdown, the worker hooks that make and free
 * each worker's auth_worker, /ready's health check, and the `me` endpoint.
 * Elsewhere: the middleware's flow (middleware.c), held requests
 * (request.c), the token and revocation caches (cache.c), keys and admin
 * calls (fetch.c), the account routes (accounts.c), parsing and
 * verification (jwt.c, keys.c, verify.c).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "auth.h"
#include "accounts.h"
#include "cache.h"
#include "fetch.h"
#include "gtoken.h"
#include "middleware.h"
#include "service.h"

#define AUTH_DEFAULT_CERTS_URL                                                                     \
    "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
#define AUTH_DEFAULT_SESSION_CERTS_URL                                                             \
    "https://www.googleapis.com/identitytoolkit/v3/relyingparty/publicKeys"
#define AUTH_DEFAULT_TOKEN_URL "https://oauth2.googleapis.com/token"
#define AUTH_DEFAULT_IDTK_URL "https://identitytoolkit.googleapis.com"
#define AUTH_RCACHE_SLOTS 1024
/* The admin API's token (fetch.c): Identity Toolkit and the project. */
#define AUTH_ADMIN_SCOPES                                                                          \
    "https://www.googleapis.com/auth/cloud-platform "                                              \
    "https://www.googleapis.com/auth/identitytoolkit"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

int64_t auth_now(void)
{
    return (int64_t)time(NULL);
}

static int auth_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int auth_ieq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (auth_lower((unsigned char)*a) != auth_lower((unsigned char)*b))
            return 0;
    return *a == *b;
}

int auth_is_admin_email(const auth_state *st, const char *email)
{
    if (email == NULL)
        return 0;
    for (size_t i = 0; i < st->n_admin_emails; i++)
        if (auth_ieq(email, st->admin_emails[i]))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* GET /api/auth/me                                                         */

static void auth_json_str(json_object *o, const char *key, const char *val)
{
    json_object_object_add(o, key, val != NULL ? json_object_new_string(val) : NULL);
}

static lx_rc auth_me(lx_req *req, void *state)
{
    auth_state *st = state;
    const lx_host *host = st->host;
    const lx_principal *p = host->ctx_get(req, LX_AUTH_PRINCIPAL);
    json_object *o, *claims;

    if (p == NULL) {
        host->reply_error(req, 401, "UNAUTHENTICATED", "no signed-in user");
        return LX_DONE;
    }
    o = json_object_new_object();
    if (o == NULL)
        return LX_FAIL;
    auth_json_str(o, "uid", p->uid);
    auth_json_str(o, "email", p->email);
    json_object_object_add(o, "email_verified", json_object_new_boolean(p->email_verified));
    auth_json_str(o, "name", p->name);
    auth_json_str(o, "picture", p->picture);
    auth_json_str(o, "sign_in_provider", p->sign_in_provider);
    auth_json_str(o, "tenant", p->tenant);
    json_object_object_add(o, "auth_time", json_object_new_int64(p->auth_time));
    json_object_object_add(o, "iat", json_object_new_int64(p->iat));
    json_object_object_add(o, "exp", json_object_new_int64(p->exp));
    claims = p->claims_json != NULL ? json_tokener_parse(p->claims_json) : NULL;
    if (claims == NULL || !json_object_is_type(claims, json_type_object)) {
        json_object_put(claims);
        claims = json_object_new_object();
    }
    json_object_object_add(o, "claims", claims);
    json_object_object_add(o, "is_admin", json_object_new_boolean(p->is_admin));
    host->reply_json(req, 200, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return LX_DONE;
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

static void auth_state_free(auth_state *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n_admin_emails; i++)
        free(st->admin_emails[i]);
    free(st->admin_emails);
    char **strs[] = {&st->project,           &st->not_configured_why,   &st->certs_url,
                     &st->session_certs_url, &st->session_cookie,       &st->emulator_host,
                     &st->token_url,         &st->identity_toolkit_url, &st->oidc_issuer,
                     &st->oidc_audience,     &st->oidc_jwks_url,        &st->api_key,
                     &st->id_issuer,         &st->session_issuer};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    auth_sa_clear(&st->sa);
    auth_gtoken_free_accounts(st);
    free(st);
}

/* A string key; "" counts as absent (so that ${VAR:-} can leave it out).
 * *out is malloc'd (def copied when absent, NULL when def is NULL). */
static int auth_cfg_str(const lx_host *host, const lx_cfg *cfg, const char *key, const char *def,
                        char **out, char *err, size_t errlen)
{
    const char *v = NULL;
    int rc = cfg != NULL ? host->cfg_string(cfg, key, &v, err, errlen) : LX_ENOENT;

    if (rc != LX_OK && rc != LX_ENOENT)
        return rc;
    if (v == NULL || v[0] == '\0')
        v = def;
    *out = NULL;
    if (v != NULL && (*out = strdup(v)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    return LX_OK;
}

static int auth_url_ok(const char *url)
{
    return url != NULL && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) &&
           strpbrk(url, " \t\r\n") == NULL;
}

/* Characters safe inside a JSON string we build with printf. */
static int auth_plain_text(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' || (unsigned char)*s == 0x7f)
            return 0;
    return 1;
}

static int auth_split_admins(auth_state *st, const char *list, char *err, size_t errlen)
{
    const char *p = list;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (len > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len > 0) {
            char **grown = realloc(st->admin_emails, (st->n_admin_emails + 1) * sizeof(char *));
            char *e = malloc(len + 1);
            if (grown != NULL)
                st->admin_emails = grown;
            if (grown == NULL || e == NULL) {
                free(e);
                snprintf(err, errlen, "out of memory");
                return LX_ENOMEM;
            }
            for (size_t i = 0; i < len; i++)
                e[i] = (char)auth_lower((unsigned char)s[i]);
            e[len] = '\0';
            st->admin_emails[st->n_admin_emails++] = e;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return LX_OK;
}

static int auth_issuer(char **out, const char *prefix, const char *project)
{
    size_t len = strlen(prefix) + strlen(project) + 1;
    *out = malloc(len);
    if (*out == NULL)
        return LX_ENOMEM;
    snprintf(*out, len, "%s%s", prefix, project);
    return LX_OK;
}

static int auth_configure(auth_state *st, const lx_cfg *cfg, char *err, size_t errlen)
{
    static const char *const keys[] = {"mode",
                                       "project_id",
                                       "gcp_project_id",
                                       "google_cloud_project_id",
                                       "admin_emails",
                                       "leeway",
                                       "certs_url",
                                       "session_certs_url",
                                       "session_cookie",
                                       "emulator_host",
                                       "check_revoked",
                                       "service_account",
                                       "google_application_credentials",
                                       "token_url",
                                       "identity_toolkit_url",
                                       "revocation_cache",
                                       "token_cache",
                                       "oidc_issuer",
                                       "oidc_audience",
                                       "oidc_jwks_url",
                                       "api_key",
                                       NULL};
    const lx_host *host = st->host;
    char *mode = NULL, *admins = NULL, *sa1 = NULL, *sa2 = NULL, *proj[3] = {NULL, NULL, NULL};
    long long n;
    int b, rc;

#define AUTH_TRY(expr)                                                                             \
    do {                                                                                           \
        rc = (expr);                                                                               \
        if (rc != LX_OK)                                                                           \
            goto out;                                                                              \
    } while (0)
#define AUTH_BAD(...)                                                                              \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        rc = LX_EINVAL;                                                                            \
        goto out;                                                                                  \
    } while (0)

    if (cfg != NULL)
        AUTH_TRY(host->cfg_check_keys(cfg, keys, err, errlen));
    AUTH_TRY(auth_cfg_str(host, cfg, "mode", "firebase", &mode, err, errlen));
    if (strcmp(mode, "firebase") == 0)
        st->mode = AUTH_CFG_FIREBASE;
    else if (strcmp(mode, "emulator") == 0)
        st->mode = AUTH_CFG_EMULATOR;
    else if (strcmp(mode, "oidc") == 0)
        st->mode = AUTH_CFG_OIDC;
    else
        AUTH_BAD("mode must be firebase, emulator or oidc (not \"%.40s\")", mode);

    AUTH_TRY(auth_cfg_str(host, cfg, "project_id", NULL, &proj[0], err, errlen));
    AUTH_TRY(auth_cfg_str(host, cfg, "gcp_project_id", NULL, &proj[1], err, errlen));
    AUTH_TRY(auth_cfg_str(host, cfg, "google_cloud_project_id", NULL, &proj[2], err, errlen));
    for (int i = 0; i < 3 && st->project == NULL; i++)
        if (proj[i] != NULL) {
            st->project = proj[i];
            proj[i] = NULL;
        }
    if (st->project != NULL &&
        (strlen(st->project) > 128 || strpbrk(st->project, "/?#%\"\\ \t") != NULL))
        AUTH_BAD("the project id has characters a project id cannot have");

    AUTH_TRY(auth_cfg_str(host, cfg, "admin_emails", "", &admins, err, errlen));
    AUTH_TRY(auth_split_admins(st, admins, err, errlen));

    st->leeway_s = 60;
    rc = cfg != NULL ? host->cfg_int(cfg, "leeway", &n, err, errlen) : LX_ENOENT;
    if (rc == LX_OK) {
        if (n < 0 || n > 300)
            AUTH_BAD("leeway must be between 0 and 300 seconds");
        st->leeway_s = (long)n;
    } else if (rc != LX_ENOENT) {
        goto out;
    }

    AUTH_TRY(
        auth_cfg_str(host, cfg, "certs_url", AUTH_DEFAULT_CERTS_URL, &st->certs_url, err, errlen));
    AUTH_TRY(auth_cfg_str(host, cfg, "session_certs_url", AUTH_DEFAULT_SESSION_CERTS_URL,
                          &st->session_certs_url, err, errlen));
    AUTH_TRY(
        auth_cfg_str(host, cfg, "token_url", AUTH_DEFAULT_TOKEN_URL, &st->token_url, err, errlen));
    AUTH_TRY(auth_cfg_str(host, cfg, "identity_toolkit_url", AUTH_DEFAULT_IDTK_URL,
                          &st->identity_toolkit_url, err, errlen));
    {
        const char *urls[] = {st->certs_url, st->session_certs_url, st->token_url,
                              st->identity_toolkit_url};
        const char *names[] = {"certs_url", "session_certs_url", "token_url",
                               "identity_toolkit_url"};
        for (size_t i = 0; i < 4; i++)
            if (!auth_url_ok(urls[i]) || !auth_plain_text(urls[i]))
                AUTH_BAD("%s must be an http:// or https:// URL", names[i]);
        size_t len = strlen(st->identity_toolkit_url);
        if (len > 0 && st->identity_toolkit_url[len - 1] == '/')
            st->identity_toolkit_url[len - 1] = '\0';
    }

    AUTH_TRY(
        auth_cfg_str(host, cfg, "session_cookie", "session", &st->session_cookie, err, errlen));
    for (const char *c = st->session_cookie; *c != '\0'; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f ||
            strchr("()<>@,;:\\\"/[]?={}", *c) != NULL)
            AUTH_BAD("session_cookie must be a cookie name (a token of RFC 6265)");

    AUTH_TRY(auth_cfg_str(host, cfg, "emulator_host", NULL, &st->emulator_host, err, errlen));
    if (st->mode == AUTH_CFG_EMULATOR) {
        if (st->emulator_host == NULL)
            AUTH_BAD(
                "mode \"emulator\" needs emulator_host (FIREBASE_AUTH_EMULATOR_HOST=host:port)");
        for (const char *c = st->emulator_host; *c != '\0'; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || strchr(".-:[]", *c) != NULL))
                AUTH_BAD("emulator_host must be host:port, without a scheme or a path");
    }

    st->check_revoked = 0;
    rc = cfg != NULL ? host->cfg_bool(cfg, "check_revoked", &b, err, errlen) : LX_ENOENT;
    if (rc == LX_OK)
        st->check_revoked = b;
    else if (rc != LX_ENOENT)
        goto out;

    AUTH_TRY(auth_cfg_str(host, cfg, "service_account", NULL, &sa1, err, errlen));
    AUTH_TRY(auth_cfg_str(host, cfg, "google_application_credentials", NULL, &sa2, err, errlen));
    if (sa1 != NULL || sa2 != NULL) {
        AUTH_TRY(auth_sa_read(sa1 != NULL ? sa1 : sa2, &st->sa, err, errlen));
        st->has_sa = 1;
    }
    if (st->check_revoked && st->mode == AUTH_CFG_FIREBASE && !st->has_sa)
        AUTH_BAD("check_revoked needs a service account (FIREBASE_SERVICE_ACCOUNT_KEY_PATH or "
                 "GOOGLE_APPLICATION_CREDENTIALS)");
    if (st->check_revoked && st->mode == AUTH_CFG_OIDC)
        AUTH_BAD("check_revoked works with Firebase only, not with mode \"oidc\"");

    st->revocation_cache_ms = 30000;
    rc = cfg != NULL ? host->cfg_ms(cfg, "revocation_cache", &n, err, errlen) : LX_ENOENT;
    if (rc == LX_OK) {
        if (n < 0 || n > 3600000)
            AUTH_BAD("revocation_cache must be between 0 and 1h");
        st->revocation_cache_ms = n;
    } else if (rc != LX_ENOENT) {
        goto out;
    }

    st->token_cache_size = 4096;
    rc = cfg != NULL ? host->cfg_int(cfg, "token_cache", &n, err, errlen) : LX_ENOENT;
    if (rc == LX_OK) {
        if (n < 0 || n > 1000000)
            AUTH_BAD("token_cache must be between 0 and 1000000 entries");
        st->token_cache_size = (long)n;
    } else if (rc != LX_ENOENT) {
        goto out;
    }

    AUTH_TRY(auth_cfg_str(host, cfg, "oidc_issuer", NULL, &st->oidc_issuer, err, errlen));
    AUTH_TRY(auth_cfg_str(host, cfg, "oidc_audience", NULL, &st->oidc_audience, err, errlen));
    AUTH_TRY(auth_cfg_str(host, cfg, "oidc_jwks_url", NULL, &st->oidc_jwks_url, err, errlen));
    if (st->mode == AUTH_CFG_OIDC) {
        if (st->oidc_issuer == NULL || st->oidc_audience == NULL || st->oidc_jwks_url == NULL)
            AUTH_BAD("mode \"oidc\" needs oidc_issuer, oidc_audience and oidc_jwks_url");
        if (!auth_url_ok(st->oidc_jwks_url))
            AUTH_BAD("oidc_jwks_url must be an http:// or https:// URL");
    }
    AUTH_TRY(auth_cfg_str(host, cfg, "api_key", NULL, &st->api_key, err, errlen));

    if (st->project != NULL) {
        AUTH_TRY(auth_issuer(&st->id_issuer, "https://securetoken.google.com/", st->project));
        AUTH_TRY(
            auth_issuer(&st->session_issuer, "https://session.firebase.google.com/", st->project));
    } else if (st->mode != AUTH_CFG_OIDC) {
        st->not_configured_why = strdup("no Firebase project id: set FIREBASE_PROJECT_ID "
                                        "(or GCP_PROJECT_ID, GOOGLE_CLOUD_PROJECT_ID)");
        if (st->not_configured_why == NULL)
            AUTH_BAD("out of memory");
    }
    rc = LX_OK;
out:
#undef AUTH_TRY
#undef AUTH_BAD
    free(mode);
    free(admins);
    free(sa1);
    free(sa2);
    for (int i = 0; i < 3; i++)
        free(proj[i]);
    return rc;
}

static const char auth_emulator_warning[] =
    "EMULATOR MODE: tokens are accepted without a signature (alg none) and users are looked up "
    "in the Firebase Auth Emulator at %s; never use this in production";

static int auth_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err, size_t errlen)
{
    auth_state *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    st->host = host;
    rc = auth_configure(st, cfg, err, errlen);
    if (rc == LX_OK)
        rc = auth_service_register(st, err, errlen);
    if (rc == LX_OK)
        rc = auth_gtoken_register(st, err, errlen);
    if (rc != LX_OK) {
        auth_state_free(st);
        return rc;
    }
    if (st->mode == AUTH_CFG_EMULATOR)
        host->log(LX_LOG_WARN, AUTH_SRC, NULL, auth_emulator_warning, st->emulator_host);
    if (st->not_configured_why != NULL)
        host->log(LX_LOG_WARN, AUTH_SRC, NULL, "%s; protected routes answer 503",
                  st->not_configured_why);
    *state = st;
    return LX_OK;
}

static void auth_shutdown(void *state)
{
    auth_state_free(state);
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                  */

void auth_keys_changed(auth_worker *aw)
{
    auth_tcache_flush(aw->tcache); /* every cached verification is now stale */
}

static int auth_worker_start(void *state, lx_worker *w, char *err, size_t errlen)
{
    auth_state *st = state;
    const lx_host *host = st->host;
    auth_worker *aw = calloc(1, sizeof(*aw));

    if (aw == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    aw->st = st;
    aw->w = w;
    if (st->mode == AUTH_CFG_OIDC)
        auth_keysrc_init(&aw->id_keys, aw, "OIDC keys", st->oidc_jwks_url, AUTH_KEYS_JWKS);
    else
        auth_keysrc_init(&aw->id_keys, aw, "ID token keys", st->certs_url, AUTH_KEYS_X509);
    auth_keysrc_init(&aw->session_keys, aw, "session cookie keys", st->session_certs_url,
                     AUTH_KEYS_X509);
    auth_oauth_init(&aw->oauth, aw, st->has_sa ? &st->sa : NULL, AUTH_ADMIN_SCOPES);
    if (st->token_cache_size > 0 &&
        (aw->tcache = auth_tcache_new((size_t)st->token_cache_size)) == NULL)
        goto nomem;
    if (st->check_revoked && st->revocation_cache_ms > 0 &&
        (aw->rcache = auth_rcache_new(AUTH_RCACHE_SLOTS, st->revocation_cache_ms)) == NULL)
        goto nomem;
    st->aw = aw;
    if (st->mode == AUTH_CFG_EMULATOR)
        host->log(LX_LOG_WARN, AUTH_SRC, NULL, auth_emulator_warning, st->emulator_host);
    /* Keys now, so that the first request does not wait for them. */
    if (st->not_configured_why == NULL && st->mode != AUTH_CFG_EMULATOR)
        (void)auth_keysrc_fetch(&aw->id_keys);
    return LX_OK;
nomem:
    auth_tcache_free(aw->tcache);
    free(aw);
    snprintf(err, errlen, "out of memory");
    return LX_ENOMEM;
}

static void auth_worker_stop(void *state, lx_worker *w)
{
    auth_state *st = state;
    auth_worker *aw = st->aw;

    (void)w;
    if (aw == NULL)
        return;
    aw->is_stopping = 1;
    auth_keysrc_stop(&aw->id_keys);
    auth_keysrc_stop(&aw->session_keys);
    auth_oauth_stop(&aw->oauth);
    auth_gtoken_worker_stop(aw);
    if (aw->tcache != NULL) {
        unsigned long n_hits, n_misses;
        auth_tcache_stats(aw->tcache, &n_hits, &n_misses);
        st->host->log(LX_LOG_DEBUG, AUTH_SRC, NULL, "token cache: %lu hits, %lu misses", n_hits,
                      n_misses);
    }
    auth_tcache_free(aw->tcache);
    auth_rcache_free(aw->rcache);
    free(aw);
    st->aw = NULL;
}

static void auth_health(void *state, lx_worker *w, lx_health_report_fn report, void *token)
{
    auth_state *st = state;
    auth_worker *aw = st->aw;
    char detail[256];

    (void)w;
    if (st->not_configured_why != NULL) {
        report(token, 0, st->not_configured_why);
        return;
    }
    if (st->mode == AUTH_CFG_EMULATOR) {
        report(token, 1, "EMULATOR MODE: tokens are not signature-checked");
        return;
    }
    if (aw == NULL) {
        report(token, 0, "not running in this worker");
        return;
    }
    if (auth_keysrc_keys(&aw->id_keys, auth_now()) != NULL) {
        snprintf(detail, sizeof(detail), "%zu key(s)", auth_keyset_count(aw->id_keys.keys));
        report(token, 1, detail);
    } else if (aw->id_keys.last_fail != 0) {
        snprintf(detail, sizeof(detail), "no usable keys: %s", aw->id_keys.last_error);
        report(token, 0, detail);
    } else {
        report(token, 1, "fetching keys");
    }
}

/* ------------------------------------------------------------------------ */
/* The descriptor                                                           */

static const lx_handler auth_handlers[] = {
    {"require_user", auth_require_user, LX_H_MIDDLEWARE | LX_H_HEAD_ONLY},
    {"optional_user", auth_optional_user, LX_H_MIDDLEWARE | LX_H_HEAD_ONLY},
    {"require_admin", auth_require_admin, LX_H_MIDDLEWARE | LX_H_HEAD_ONLY},
    {"websocket_user", auth_websocket_user, LX_H_MIDDLEWARE | LX_H_HEAD_ONLY},
    {"me", auth_me, LX_H_ENDPOINT},
    {"signup", auth_signup, LX_H_ENDPOINT},
    {"verify_email", auth_verify_email, LX_H_ENDPOINT},
    {"delete_user", auth_delete_user, LX_H_ENDPOINT},
    {NULL, NULL, 0},
};

static const char *const auth_provides[] = {"accounts.v1", "google_token.v1", NULL};

static const lx_plugin auth_plugin = {
    LX_PLUGIN_HEADER,
    .flags = LX_PLUGIN_USES_HTTP_CLIENT,
    .provides = auth_provides,
    .name = "auth",
    .version = "1.0.0",
    .description = "Firebase ID tokens, session cookies and OIDC tokens; account routes; "
                   "the services accounts.v1 and google_token.v1",
    .handlers = auth_handlers,
    .init = auth_init,
    .worker_start = auth_worker_start,
    .worker_stop = auth_worker_stop,
    .shutdown = auth_shutdown,
    .health = auth_health,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &auth_plugin;
}
