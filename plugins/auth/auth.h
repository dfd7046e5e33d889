/*
 * The auth plugin's own state, shared by auth.c (the plugin: config, worker
 * hooks), middleware.c (the middleware), request.c (held requests), fetch.c
 * (key sets, the OAuth token, admin calls) and accounts.c (the account
 * routes). The caches have their own header (cache.h). Not part of the
 * SDK: other plugins read the principal through <lexiaid/auth.h> only.
 *
 * Lifetimes:
 *   auth_state   made by init() in the master, read-only afterwards, freed by
 *                shutdown(); every worker inherits a copy through fork().
 *   auth_worker  made by worker_start(), freed by worker_stop(); one per
 *                worker process (fork gives each its own st->aw).
 *   auth_rq      one per request that the plugin holds, allocated with
 *                host->req_alloc: it dies with the request.
 */
#ifndef AUTH_AUTH_H
#define AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>
#include <lexiaid/auth.h>

#include "cache.h"
#include "keys.h"
#include "verify.h"

#define AUTH_SRC "auth"             /* `src` of every log line */
#define AUTH_HTTP_TIMEOUT_MS 10000L /* whole outbound call */
#define AUTH_CONNECT_TIMEOUT_MS 5000L
#define AUTH_KID_REFETCH_S 60 /* unknown kid: at most one refetch a minute */
#define AUTH_FAIL_HOLDOFF_S 2 /* after a failed fetch, requests do not refetch */

typedef enum auth_cfg_mode {
    AUTH_CFG_FIREBASE = 0,
    AUTH_CFG_EMULATOR = 1,
    AUTH_CFG_OIDC = 2,
} auth_cfg_mode;

typedef struct auth_rq auth_rq;
typedef struct auth_worker auth_worker;

/* A service account, read from its JSON file in init() (auth_sa_read,
 * gtoken.c). Owned strings. */
typedef struct auth_sa {
    char *client_email;
    char *private_key; /* PEM; never logged */
    char *private_key_id;
} auth_sa;

struct lx_google_account; /* gtoken.c: accounts opened through google_token.v1 */
struct auth_gsource;      /* gtoken.c: a worker's token of one (account, scopes) */

/* Configuration, resolved once in init(). Strings are owned (malloc'd). */
typedef struct auth_state {
    const lx_host *host;
    auth_cfg_mode mode;
    char *project;            /* NULL: not configured (503 AUTH_NOT_CONFIGURED) */
    char *not_configured_why; /* what /ready says when project is NULL */
    char **admin_emails;      /* lower-cased; n_admin_emails entries */
    size_t n_admin_emails;
    long leeway_s;
    char *certs_url;
    char *session_certs_url;
    char *session_cookie;
    char *emulator_host; /* host:port, only in emulator mode */
    int check_revoked;
    int has_sa;
    auth_sa sa;
    char *token_url;
    char *identity_toolkit_url;
    long long revocation_cache_ms;
    long token_cache_size;
    char *oidc_issuer;
    char *oidc_audience;
    char *oidc_jwks_url;
    char *api_key;
    char *id_issuer;      /* https://securetoken.google.com/<project> */
    char *session_issuer; /* https://session.firebase.google.com/<project> */
    auth_worker *aw;      /* this worker process's state, or NULL */
    /* google_token.v1's accounts (owned; gtoken.c) */
    struct lx_google_account *gaccounts;
} auth_state;

/* A queue of requests waiting for one event (keys, the OAuth token). */
typedef struct auth_waitq {
    auth_rq *head;
    auth_rq *tail;
} auth_waitq;

typedef enum auth_keys_format { AUTH_KEYS_X509 = 0, AUTH_KEYS_JWKS = 1 } auth_keys_format;

/* One source of public keys (ID tokens, session cookies, an OIDC JWKS),
 * fetched single-flight on the worker loop. */
typedef struct auth_keysrc {
    auth_worker *aw;
    const char *name; /* "ID token keys": for log lines */
    const char *url;  /* borrowed from auth_state */
    auth_keys_format format;
    auth_keyset *keys;          /* owned; NULL until the first good fetch */
    int64_t expires_at;         /* keys usable until then (Unix s) */
    unsigned char body_sha[32]; /* of the response that gave `keys` */
    lx_http_call *call;         /* the fetch in flight, or NULL */
    lx_timer *timer;            /* refresh or retry, or NULL */
    int64_t last_fail;          /* when the last fetch failed (0: none since success) */
    int64_t last_kid_refetch;   /* when an unknown kid last caused a fetch */
    long retry_s;               /* next retry delay after a failure */
    unsigned long n_fetches;    /* fetches started, for the health detail */
    auth_waitq waiters;
    char last_error[160];
} auth_keysrc;

/* An OAuth access token of one service account and scope set, obtained
 * with the JWT-bearer grant at st->token_url; single-flight like the keys.
 * The admin API's (aw->oauth) and google_token.v1's (gtoken.c) alike. */
typedef struct auth_oauth {
    auth_worker *aw;
    const auth_sa *sa;         /* borrowed from auth_state (lives longer) */
    const char *scope;         /* space-separated; borrowed likewise */
    char *access_token;        /* owned; NULL when none */
    int64_t expires_at;        /* usable until then (expires_in - 60) */
    int is_busy;               /* signing or fetching */
    struct auth_sign_job *job; /* on the offload pool, or NULL */
    lx_http_call *call;
    int64_t last_fail;
    int last_status;      /* of the last failure: LX_EIO or LX_ETIMEDOUT */
    char last_error[200]; /* of the last failure, without secrets */
    auth_waitq waiters;
} auth_oauth;

struct auth_worker {
    auth_state *st;
    lx_worker *w;
    auth_keysrc id_keys;      /* ID tokens (x509 map) or OIDC (JWKS) */
    auth_keysrc session_keys; /* session cookies, fetched on first use */
    auth_oauth oauth;
    /* google_token.v1's tokens, and its calls answered from the loop
     * (gtoken.c) */
    struct auth_gsource *gsources;
    auth_waitq gready;
    auth_tcache *tcache; /* verified tokens; owned; NULL when disabled */
    auth_rcache *rcache; /* revocation verdicts; owned; NULL when disabled */
    int is_stopping;     /* worker_stop began: waiters are failed, not served */
};

/* Which middleware (or endpoint) a request runs. */
typedef enum auth_role {
    AUTH_ROLE_OPTIONAL = 0,
    AUTH_ROLE_USER = 1,
    AUTH_ROLE_ADMIN = 2,
    AUTH_ROLE_ENDPOINT = 3,
} auth_role;

/* One held request. Allocated with req_alloc; it lives as long as the
 * request, so that a late on_abort callback still finds it. */
struct auth_rq {
    auth_worker *aw;
    lx_req *req;
    auth_role role;
    const char *token; /* borrowed from the request's headers */
    size_t token_len;
    int is_cookie;
    int is_ws;         /* auth.websocket_user on a WebSocket route: refuse with a close */
    auth_keysrc *src;  /* the keys the token needs, or NULL */
    int has_refetched; /* an unknown kid already caused a refetch */
    int is_pending;    /* returned LX_ASYNC and not yet ended or resumed */
    int is_aborted;
    int has_abort_hook;
    int is_in_svc;           /* inside another plugin's call: abort must wait */
    lx_principal *principal; /* owned until handed to ctx_set */
    /* Waiting in a queue: */
    auth_waitq *q;
    auth_rq *q_next, *q_prev;
    void (*on_wake)(auth_rq *rq);
    /* This request's own outbound call: */
    lx_http_call *call;
    void (*on_http)(auth_rq *rq, const lx_http_response *res);
    /* A pending admin call (kept while waiting for the OAuth token): */
    const char *admin_method; /* "GET", or NULL for POST */
    const char *admin_suffix; /* "accounts:lookup", ... (static, or the owner's memory) */
    const char *admin_body;   /* JSON, or NULL for none (the owner's memory) */
    /* Not bound to a request (service.c's calls for other plugins): no
     * abort hook, no reply; a queue that fails it calls on_http(rq, NULL),
     * and its owner frees it. */
    int is_detached;
    /* Endpoint data: */
    const char *uid; /* request memory */
    const char *email;        /* sign-up: request memory */
    const char *display_name; /* sign-up: request memory, or NULL */
};

/* ---- auth.c ---------------------------------------------------------- */

/* The clock: Unix seconds, real time (verify.c takes it as an argument, so
 * the pure modules' unit tests inject their own). */
int64_t auth_now(void);

/* Whether email (may be NULL: no) is one of the configured admin_emails,
 * compared ASCII case-insensitively. */
int auth_is_admin_email(const auth_state *st, const char *email);

/* Called by fetch.c when a key set changed: flushes the verified-token
 * cache (every entry was verified with the old keys). */
void auth_keys_changed(auth_worker *aw);

/* ---- request.c ------------------------------------------------------- */

/* Prepares rq for holding: registers the abort and cleanup hooks once.
 * Returns LX_OK or a negative code (the caller answers 500). */
int auth_rq_hold(auth_rq *rq);

/* Ends a held request after a failure: reply_error when rq was pending
 * (the reply ends it), or, when aborted, just ends it. Never touch rq
 * afterwards when rq->is_pending was set (the core may free it). */
void auth_rq_end_error(auth_rq *rq, int status, const char *code, const char *message);

/* Refuses req: reply_error(status, code, message), or on a WebSocket route
 * under auth.websocket_user (is_ws), ws_reject with the close code a
 * browser can read: 4001 for 401 (missing, bad, expired or revoked token),
 * 4003 for 403, 1011 otherwise; the reason is the message. */
void auth_refuse(const lx_host *host, lx_req *req, int is_ws, int status, const char *code,
                 const char *message);

/* A new auth_rq in request memory (host->req_alloc: it dies with the
 * request, never free it), zeroed but for aw, req and role; or NULL. */
auth_rq *auth_rq_new(auth_worker *aw, lx_req *req, auth_role role);

/* ---- fetch.c --------------------------------------------------------- */

void auth_waitq_push(auth_waitq *q, auth_rq *rq);
void auth_waitq_remove(auth_rq *rq);

/* Sets up a key source (no I/O). */
void auth_keysrc_init(auth_keysrc *src, auth_worker *aw, const char *name, const char *url,
                      auth_keys_format format);
/* Starts a fetch unless one is in flight. Returns LX_OK when a fetch is in
 * flight afterwards, or a negative code (http_fetch refused). */
int auth_keysrc_fetch(auth_keysrc *src);
/* The keys if they are still usable at `now`, else NULL (borrowed until the
 * next fetch completes). */
const auth_keyset *auth_keysrc_keys(const auth_keysrc *src, int64_t now);
/* Whether a request that found no usable keys should wait for a fetch
 * (1: rq was queued, a fetch is in flight) or fail now (0: a fetch failed
 * moments ago or cannot start). */
int auth_keysrc_wait(auth_keysrc *src, auth_rq *rq, int64_t now);
/* An unknown kid: queues rq behind a refetch if one is in flight or the
 * per-minute allowance permits one. Returns 1 when queued, else 0. */
int auth_keysrc_refetch_for_kid(auth_keysrc *src, auth_rq *rq, int64_t now);
/* Cancels the call and timer, frees the keys, and answers every waiter
 * 503 (worker stopping). */
void auth_keysrc_stop(auth_keysrc *src);

/* Sets up a token source of `sa` for `scope` (both borrowed; no I/O). */
void auth_oauth_init(auth_oauth *o, auth_worker *aw, const auth_sa *sa, const char *scope);
/* Starts an exchange unless one is under way: LX_OK when one is under way
 * afterwards (o->waiters are woken when it ends), or LX_ENOENT (no key),
 * LX_ENOMEM. */
int auth_oauth_start(auth_oauth *o);
/* Whether o holds a token usable at `now`. */
int auth_oauth_fresh(const auth_oauth *o, int64_t now);
/* Whether an exchange failed moments ago (callers then fail at once). */
int auth_oauth_holding_off(const auth_oauth *o, int64_t now);
/* Cancels the exchange, fails every waiter, forgets the token. */
void auth_oauth_stop(auth_oauth *o);

/* Calls the Identity Toolkit admin API: POST {base}/v1/projects/{project}/
 * {suffix} with the JSON body (copied into request memory), authorised with
 * "Bearer owner" against the emulator or the service account's OAuth token
 * (waiting for it when needed). Returns LX_OK when the call (or the wait
 * for the token) is under way: rq->on_http then runs exactly once, later,
 * with the response, or with NULL when no call could be made (no token could
 * be had, http_fetch refused). Returns a negative code when nothing could
 * start (no credentials configured, out of memory): on_http never runs. */
int auth_admin_call(auth_rq *rq, const char *suffix, const char *body,
                    void (*on_http)(auth_rq *rq, const lx_http_response *res));

/* The same for a detached rq (rq->is_detached; service.c): `method` is
 * "GET" (body NULL; the query is part of suffix) or "POST"; suffix and
 * body stay the caller's and must live until on_http has run or the call
 * was cancelled (auth_admin_cancel). */
int auth_admin_start(auth_rq *rq, const char *method, const char *suffix, const char *body,
                     void (*on_http)(auth_rq *rq, const lx_http_response *res));

/* Stops a detached rq's call or its wait for the token; on_http will not
 * run. The caller still owns (and frees) rq. */
void auth_admin_cancel(auth_rq *rq);

/* Whether admin calls can be made at all (emulator, or a service account). */
int auth_admin_available(const auth_state *st);

/* Copies an admin API answer's error.message ("EMAIL_EXISTS",
 * "USER_NOT_FOUND : ...") into buf (buflen > 0, truncated to fit), or ""
 * when the body is not JSON or has none. res is the caller's; any thread. */
void auth_idtk_error(const lx_http_response *res, char *buf, size_t buflen);

/* Cancels rq's own outbound call, if any (its on_http will not run). */
void auth_rq_cancel_call(auth_rq *rq);

#endif
