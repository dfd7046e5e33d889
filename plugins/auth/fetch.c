/*
 * Outbound HTTP of the auth plugin: key sets, the OAuth token, admin calls.
 * See fetch.h for what each part does and auth.h for the contracts.
 *
 * Everything runs on the worker loop that owns the auth_worker, except
 * auth_sign_work, which runs on the offload pool and touches only its job.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "fetch.h"

#define AUTH_KEYS_MAX_RESPONSE (1024 * 1024)
#define AUTH_ADMIN_MAX_RESPONSE (256 * 1024)
#define AUTH_RETRY_MIN_S 5
#define AUTH_RETRY_MAX_S 60

/* ------------------------------------------------------------------------ */
/* Wait queues                                                              */

void auth_waitq_push(auth_waitq *q, auth_rq *rq)
{
    rq->q = q;
    rq->q_next = NULL;
    rq->q_prev = q->tail;
    if (q->tail != NULL)
        q->tail->q_next = rq;
    else
        q->head = rq;
    q->tail = rq;
}

void auth_waitq_remove(auth_rq *rq)
{
    auth_waitq *q = rq->q;

    if (q == NULL)
        return;
    if (rq->q_prev != NULL)
        rq->q_prev->q_next = rq->q_next;
    else
        q->head = rq->q_next;
    if (rq->q_next != NULL)
        rq->q_next->q_prev = rq->q_prev;
    else
        q->tail = rq->q_prev;
    rq->q = NULL;
    rq->q_next = rq->q_prev = NULL;
}

/* Wakes every waiter of q once. The queue is emptied first, so a waiter may
 * queue itself again (on q or elsewhere); the detached list stays a real
 * queue so that an abort during the loop can still unlink its request. */
static void auth_waitq_wake_all(auth_waitq *q)
{
    auth_waitq local = *q;
    auth_rq *rq;

    q->head = q->tail = NULL;
    for (rq = local.head; rq != NULL; rq = rq->q_next)
        rq->q = &local;
    while ((rq = local.head) != NULL) {
        auth_waitq_remove(rq);
        rq->on_wake(rq);
    }
}

/* Ends every waiter with 503 (a detached one: no call could be made): the
 * worker is stopping. */
static void auth_waitq_fail_all(auth_waitq *q, const char *why)
{
    auth_rq *rq;

    while ((rq = q->head) != NULL) {
        auth_waitq_remove(rq);
        if (rq->is_detached)
            rq->on_http(rq, NULL);
        else
            auth_rq_end_error(rq, 503, "AUTH_UNAVAILABLE", why);
    }
}

/* ------------------------------------------------------------------------ */
/* Key sources                                                              */

void auth_keysrc_init(auth_keysrc *src, auth_worker *aw, const char *name, const char *url,
                      auth_keys_format format)
{
    memset(src, 0, sizeof(*src));
    src->aw = aw;
    src->name = name;
    src->url = url;
    src->format = format;
}

static void auth_keysrc_on_timer(void *arg);

/* (Re)arms the source's one timer to fire in `seconds`. */
static void auth_keysrc_arm(auth_keysrc *src, long seconds)
{
    const lx_host *host = src->aw->st->host;

    if (src->timer != NULL)
        host->timer_stop(src->timer);
    if (seconds < 1)
        seconds = 1;
    src->timer =
        host->timer_start(src->aw->w, (uint64_t)seconds * 1000u, 0, auth_keysrc_on_timer, src);
}

static void auth_keysrc_on_timer(void *arg)
{
    auth_keysrc *src = arg;

    src->timer = NULL; /* a one-shot timer frees itself */
    if (auth_keysrc_fetch(src) != LX_OK)
        auth_keysrc_arm(src, AUTH_RETRY_MAX_S);
}

static int auth_keysrc_parse(const auth_keysrc *src, const char *body, size_t len,
                             auth_keyset **out, char *why, size_t whylen)
{
    if (src->format == AUTH_KEYS_JWKS)
        return auth_keyset_from_jwks(body, len, out, why, whylen);
    return auth_keyset_from_x509_map(body, len, out, why, whylen);
}

static void auth_keysrc_done(const lx_http_response *res, void *arg)
{
    auth_keysrc *src = arg;
    const lx_host *host = src->aw->st->host;
    int64_t now = auth_now();
    auth_keyset *ks = NULL;
    char why[160] = "";

    src->call = NULL;
    if (res->err != LX_OK)
        snprintf(why, sizeof(why), "%s", res->errmsg[0] ? res->errmsg : "network error");
    else if (res->status != 200)
        snprintf(why, sizeof(why), "HTTP status %d", res->status);
    else if (auth_keysrc_parse(src, res->body, res->body_len, &ks, why, sizeof(why)) != 0)
        ks = NULL;

    if (ks != NULL) {
        unsigned char sha[32];
        unsigned int sha_len = 0;
        long max_age = auth_cache_seconds(host->http_header(res, "Cache-Control"));
        int is_same = 0;

        if (EVP_Digest(res->body, res->body_len, sha, &sha_len, EVP_sha256(), NULL) == 1 &&
            sha_len == sizeof(sha)) {
            is_same = src->keys != NULL && memcmp(sha, src->body_sha, sizeof(sha)) == 0;
            memcpy(src->body_sha, sha, sizeof(sha));
        }
        if (is_same) {
            auth_keyset_free(ks);
        } else {
            auth_keyset_free(src->keys);
            src->keys = ks;
            auth_keys_changed(src->aw);
        }
        src->expires_at = now + max_age;
        src->last_fail = 0;
        src->retry_s = 0;
        src->last_error[0] = '\0';
        /* Refresh ahead of expiry so that requests never find the keys stale. */
        auth_keysrc_arm(src, max_age > 120 ? max_age - 60 : max_age * 3 / 4);
        host->log(LX_LOG_INFO, AUTH_SRC, NULL, "%s: %zu key(s) from %s, cached for %ld s%s",
                  src->name, auth_keyset_count(src->keys), src->url, max_age,
                  is_same ? " (unchanged)" : "");
    } else {
        src->last_fail = now;
        snprintf(src->last_error, sizeof(src->last_error), "%s", why);
        src->retry_s = src->retry_s == 0 ? AUTH_RETRY_MIN_S : src->retry_s * 2;
        if (src->retry_s > AUTH_RETRY_MAX_S)
            src->retry_s = AUTH_RETRY_MAX_S;
        auth_keysrc_arm(src, src->retry_s);
        host->log(LX_LOG_WARN, AUTH_SRC, NULL, "%s: cannot fetch %s: %s (%s; retrying in %ld s)",
                  src->name, src->url, why,
                  auth_keysrc_keys(src, now) ? "keeping the current keys" : "no usable keys",
                  src->retry_s);
    }
    auth_waitq_wake_all(&src->waiters);
}

int auth_keysrc_fetch(auth_keysrc *src)
{
    const lx_host *host = src->aw->st->host;
    static const char *const headers[] = {"Accept: application/json", NULL};
    lx_http_request rq = {
        .struct_size = sizeof(rq),
        .method = "GET",
        .url = src->url,
        .headers = headers,
        .timeout_ms = AUTH_HTTP_TIMEOUT_MS,
        .connect_timeout_ms = AUTH_CONNECT_TIMEOUT_MS,
        .max_response = AUTH_KEYS_MAX_RESPONSE,
    };
    int rc;

    if (src->call != NULL)
        return LX_OK;
    rc = host->http_fetch(src->aw->w, &rq, auth_keysrc_done, src, &src->call);
    if (rc != LX_OK) {
        src->call = NULL;
        src->last_fail = auth_now();
        snprintf(src->last_error, sizeof(src->last_error), "the HTTP client refused the call (%d)",
                 rc);
        host->log(LX_LOG_ERROR, AUTH_SRC, NULL, "%s: %s", src->name, src->last_error);
        return rc;
    }
    src->n_fetches++;
    return LX_OK;
}

const auth_keyset *auth_keysrc_keys(const auth_keysrc *src, int64_t now)
{
    if (src->keys == NULL || now >= src->expires_at)
        return NULL;
    return src->keys;
}

int auth_keysrc_wait(auth_keysrc *src, auth_rq *rq, int64_t now)
{
    if (src->call == NULL) {
        /* A fetch that just failed would fail again: answer 503 at once
         * rather than queue every request behind a dead server. */
        if (src->last_fail != 0 && now - src->last_fail < AUTH_FAIL_HOLDOFF_S)
            return 0;
        if (auth_keysrc_fetch(src) != LX_OK)
            return 0;
    }
    auth_waitq_push(&src->waiters, rq);
    return 1;
}

int auth_keysrc_refetch_for_kid(auth_keysrc *src, auth_rq *rq, int64_t now)
{
    if (src->call == NULL) {
        if (src->last_kid_refetch != 0 && now - src->last_kid_refetch < AUTH_KID_REFETCH_S)
            return 0;
        if (src->last_fail != 0 && now - src->last_fail < AUTH_FAIL_HOLDOFF_S)
            return 0;
        src->last_kid_refetch = now;
        if (auth_keysrc_fetch(src) != LX_OK)
            return 0;
    }
    auth_waitq_push(&src->waiters, rq);
    return 1;
}

void auth_keysrc_stop(auth_keysrc *src)
{
    const lx_host *host = src->aw != NULL ? src->aw->st->host : NULL;

    if (host == NULL)
        return;
    if (src->call != NULL) {
        host->http_cancel(src->call);
        src->call = NULL;
    }
    if (src->timer != NULL) {
        host->timer_stop(src->timer);
        src->timer = NULL;
    }
    auth_waitq_fail_all(&src->waiters, "the worker is stopping");
    auth_keyset_free(src->keys);
    src->keys = NULL;
}

/* ------------------------------------------------------------------------ */
/* The OAuth access token                                                   */

/* One assertion signed on the offload pool. The job outlives its auth_oauth
 * when the worker stops first: then `o` is NULL and done only frees it. */
typedef struct auth_sign_job {
    auth_oauth *o;
    const char *pem; /* borrowed from auth_state (read-only, lives longer) */
    char header[256];
    char payload[768];
    char *jwt; /* malloc'd by auth_sign_rs256 */
    char why[128];
    int rc;
} auth_sign_job;

static void auth_oauth_finish(auth_oauth *o, int is_ok)
{
    o->is_busy = 0;
    if (!is_ok)
        o->last_fail = auth_now();
    auth_waitq_wake_all(&o->waiters);
}

static void auth_oauth_token_done(const lx_http_response *res, void *arg)
{
    auth_oauth *o = arg;
    const lx_host *host = o->aw->st->host;
    json_object *j = NULL, *v;
    const char *tok = NULL;
    int64_t expires_in = 0;
    char why[128] = "";

    o->call = NULL;
    o->last_status = res->err == LX_ETIMEDOUT ? LX_ETIMEDOUT : LX_EIO;
    if (res->err != LX_OK) {
        snprintf(why, sizeof(why), "%s", res->errmsg[0] != '\0' ? res->errmsg : "network error");
    } else if (res->status != 200) {
        snprintf(why, sizeof(why), "HTTP status %d", res->status);
    } else {
        j = json_tokener_parse(res->body);
        if (j != NULL && json_object_object_get_ex(j, "access_token", &v) &&
            json_object_is_type(v, json_type_string))
            tok = json_object_get_string(v);
        if (j != NULL && json_object_object_get_ex(j, "expires_in", &v))
            expires_in = json_object_get_int64(v);
        if (tok == NULL || tok[0] == '\0' || strpbrk(tok, "\r\n") != NULL || expires_in <= 0)
            snprintf(why, sizeof(why), "no access_token or expires_in in the answer");
    }
    if (why[0] == '\0') {
        if (o->access_token != NULL)
            OPENSSL_cleanse(o->access_token, strlen(o->access_token));
        free(o->access_token);
        o->access_token = strdup(tok);
        if (o->access_token == NULL)
            snprintf(why, sizeof(why), "out of memory");
    }
    if (why[0] == '\0') {
        o->expires_at = auth_now() + (expires_in > 120 ? expires_in - 60 : expires_in / 2);
        o->last_error[0] = '\0';
        host->log(LX_LOG_INFO, AUTH_SRC, NULL, "OAuth access token for %s obtained (valid %lld s)",
                  o->sa->client_email, (long long)expires_in);
    } else {
        snprintf(o->last_error, sizeof(o->last_error), "the token endpoint: %s", why);
        host->log(LX_LOG_WARN, AUTH_SRC, NULL,
                  "cannot get an OAuth access token for %s from %s: %s", o->sa->client_email,
                  o->aw->st->token_url, why);
    }
    json_object_put(j);
    auth_oauth_finish(o, why[0] == '\0' && o->access_token != NULL);
}

static void auth_sign_work(void *arg)
{
    auth_sign_job *job = arg;

    job->rc =
        auth_sign_rs256(job->pem, job->header, job->payload, &job->jwt, job->why, sizeof(job->why));
}

static void auth_sign_done(void *arg, int status)
{
    auth_sign_job *job = arg;
    auth_oauth *o = job->o;
    const lx_host *host;
    char *form = NULL;
    static const char prefix[] =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/json", NULL};

    if (o == NULL)
        goto out; /* the worker stopped meanwhile */
    o->job = NULL;
    host = o->aw->st->host;
    o->last_status = LX_EIO;
    if (status != LX_OK || job->rc != 0 || job->jwt == NULL) {
        snprintf(o->last_error, sizeof(o->last_error), "cannot sign the OAuth assertion: %s",
                 status != LX_OK ? "cancelled" : job->why);
        host->log(LX_LOG_ERROR, AUTH_SRC, NULL, "%s: %s", o->sa->client_email, o->last_error);
        auth_oauth_finish(o, 0);
        goto out;
    }
    size_t len = strlen(prefix) + strlen(job->jwt);
    form = malloc(len + 1);
    if (form == NULL) {
        snprintf(o->last_error, sizeof(o->last_error), "out of memory");
        auth_oauth_finish(o, 0);
        goto out;
    }
    snprintf(form, len + 1, "%s%s", prefix, job->jwt); /* base64url and '.': form-safe */
    lx_http_request rq = {
        .struct_size = sizeof(rq),
        .method = "POST",
        .url = o->aw->st->token_url,
        .headers = headers,
        .body = form,
        .body_len = len,
        .timeout_ms = AUTH_HTTP_TIMEOUT_MS,
        .connect_timeout_ms = AUTH_CONNECT_TIMEOUT_MS,
        .max_response = AUTH_ADMIN_MAX_RESPONSE,
    };
    if (host->http_fetch(o->aw->w, &rq, auth_oauth_token_done, o, &o->call) != LX_OK) {
        o->call = NULL;
        snprintf(o->last_error, sizeof(o->last_error), "the HTTP client refused the token call");
        host->log(LX_LOG_ERROR, AUTH_SRC, NULL, "%s", o->last_error);
        auth_oauth_finish(o, 0);
    }
out:
    if (form != NULL)
        OPENSSL_cleanse(form, strlen(form));
    free(form);
    if (job->jwt != NULL)
        OPENSSL_cleanse(job->jwt, strlen(job->jwt));
    free(job->jwt);
    free(job);
}

int auth_oauth_start(auth_oauth *o)
{
    const auth_state *st = o->aw->st;
    auth_sign_job *job;
    int64_t now = auth_now();
    int n;

    if (o->is_busy)
        return LX_OK;
    if (o->sa == NULL || o->sa->private_key == NULL)
        return LX_ENOENT;
    job = calloc(1, sizeof(*job));
    if (job == NULL)
        return LX_ENOMEM;
    job->o = o;
    job->pem = o->sa->private_key;
    snprintf(job->header, sizeof(job->header), "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
             o->sa->private_key_id);
    /* client_email, scope and token_url hold no '"' or '\\' (checked when
     * they were read), so printf makes valid JSON of them. */
    n = snprintf(job->payload, sizeof(job->payload),
                 "{\"iss\":\"%s\",\"scope\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
                 o->sa->client_email, o->scope, st->token_url, (long long)now,
                 (long long)(now + 3600));
    if (n < 0 || (size_t)n >= sizeof(job->payload)) {
        free(job);
        return LX_ENOMEM;
    }
    if (st->host->offload(o->aw->w, auth_sign_work, auth_sign_done, job) != LX_OK) {
        free(job);
        return LX_ENOMEM;
    }
    o->job = job;
    o->is_busy = 1;
    return LX_OK;
}

void auth_oauth_init(auth_oauth *o, auth_worker *aw, const auth_sa *sa, const char *scope)
{
    memset(o, 0, sizeof(*o));
    o->aw = aw;
    o->sa = sa;
    o->scope = scope;
}

int auth_oauth_fresh(const auth_oauth *o, int64_t now)
{
    return o->access_token != NULL && now < o->expires_at;
}

int auth_oauth_holding_off(const auth_oauth *o, int64_t now)
{
    return !o->is_busy && o->last_fail != 0 && now - o->last_fail < AUTH_FAIL_HOLDOFF_S;
}

void auth_oauth_stop(auth_oauth *o)
{
    const lx_host *host = o->aw != NULL ? o->aw->st->host : NULL;

    if (host == NULL)
        return;
    if (o->job != NULL) {
        o->job->o = NULL; /* its done frees it */
        o->job = NULL;
    }
    if (o->call != NULL) {
        host->http_cancel(o->call);
        o->call = NULL;
    }
    o->is_busy = 0;
    auth_waitq_fail_all(&o->waiters, "the worker is stopping");
    if (o->access_token != NULL)
        OPENSSL_cleanse(o->access_token, strlen(o->access_token));
    free(o->access_token);
    o->access_token = NULL;
}

/* ------------------------------------------------------------------------ */
/* Admin calls                                                              */

int auth_admin_available(const auth_state *st)
{
    return st->project != NULL && (st->mode == AUTH_CFG_EMULATOR || st->has_sa);
}

static void auth_rq_http_done(const lx_http_response *res, void *arg)
{
    auth_rq *rq = arg;

    rq->call = NULL;
    rq->on_http(rq, res);
}

void auth_rq_cancel_call(auth_rq *rq)
{
    if (rq->call != NULL) {
        rq->aw->st->host->http_cancel(rq->call);
        rq->call = NULL;
    }
}

static int auth_admin_send(auth_rq *rq);

static void auth_admin_wake(auth_rq *rq)
{
    if (auth_admin_send(rq) != LX_OK)
        rq->on_http(rq, NULL);
}

/* Sends the pending admin call of rq, or queues it behind the OAuth token. */
static int auth_admin_send(auth_rq *rq)
{
    auth_worker *aw = rq->aw;
    const auth_state *st = aw->st;
    const lx_host *host = st->host;
    char authz[4096];
    char url[4096];
    const char *headers[4];
    int64_t now = auth_now();
    int n, h = 0;

    if (st->mode == AUTH_CFG_EMULATOR) {
        snprintf(authz, sizeof(authz), "Authorization: Bearer owner");
        n = snprintf(url, sizeof(url), "http://%s/identitytoolkit.googleapis.com/v1/projects/%s/%s",
                     st->emulator_host, st->project, rq->admin_suffix);
    } else {
        auth_oauth *o = &aw->oauth;
        if (!auth_oauth_fresh(o, now)) {
            if (auth_oauth_holding_off(o, now))
                return LX_EIO;
            if (auth_oauth_start(o) != LX_OK)
                return LX_EIO;
            rq->on_wake = auth_admin_wake;
            auth_waitq_push(&o->waiters, rq);
            return LX_OK;
        }
        if ((size_t)snprintf(authz, sizeof(authz), "Authorization: Bearer %s", o->access_token) >=
            sizeof(authz))
            return LX_ETOOBIG;
        n = snprintf(url, sizeof(url), "%s/v1/projects/%s/%s", st->identity_toolkit_url,
                     st->project, rq->admin_suffix);
    }
    if (n < 0 || (size_t)n >= sizeof(url))
        return LX_ETOOBIG;
    if (rq->admin_body != NULL)
        headers[h++] = "Content-Type: application/json";
    headers[h++] = "Accept: application/json";
    headers[h++] = authz;
    headers[h] = NULL;
    lx_http_request hr = {
        .struct_size = sizeof(hr),
        .method = rq->admin_method != NULL ? rq->admin_method : "POST",
        .url = url,
        .headers = headers,
        .body = rq->admin_body,
        .body_len = rq->admin_body != NULL ? strlen(rq->admin_body) : 0,
        .timeout_ms = AUTH_HTTP_TIMEOUT_MS,
        .connect_timeout_ms = AUTH_CONNECT_TIMEOUT_MS,
        .max_response = AUTH_ADMIN_MAX_RESPONSE,
    };
    if (host->http_fetch(aw->w, &hr, auth_rq_http_done, rq, &rq->call) != LX_OK) {
        rq->call = NULL;
        return LX_EIO;
    }
    return LX_OK;
}

int auth_admin_call(auth_rq *rq, const char *suffix, const char *body,
                    void (*on_http)(auth_rq *rq, const lx_http_response *res))
{
    const lx_host *host = rq->aw->st->host;
    size_t len = strlen(body);
    char *copy;
    int rc;

    if (!auth_admin_available(rq->aw->st))
        return LX_ENOENT;
    copy = host->req_alloc(rq->req, len + 1);
    if (copy == NULL)
        return LX_ENOMEM;
    memcpy(copy, body, len + 1);
    rq->admin_method = NULL;
    rq->admin_body = copy;
    rq->admin_suffix = suffix;
    rq->on_http = on_http;
    rc = auth_rq_hold(rq);
    if (rc != LX_OK)
        return rc;
    return auth_admin_send(rq);
}

int auth_admin_start(auth_rq *rq, const char *method, const char *suffix, const char *body,
                     void (*on_http)(auth_rq *rq, const lx_http_response *res))
{
    if (!rq->is_detached)
        return LX_EINVAL;
    if (!auth_admin_available(rq->aw->st))
        return LX_ESTATE;
    rq->admin_method = method;
    rq->admin_suffix = suffix;
    rq->admin_body = body;
    rq->on_http = on_http;
    return auth_admin_send(rq);
}

void auth_admin_cancel(auth_rq *rq)
{
    auth_waitq_remove(rq);
    auth_rq_cancel_call(rq);
}

void auth_idtk_error(const lx_http_response *res, char *buf, size_t buflen)
{
    json_object *j = json_tokener_parse(res->body), *e, *m;

    buf[0] = '\0';
    if (j != NULL && json_object_object_get_ex(j, "error", &e) &&
        json_object_object_get_ex(e, "message", &m) && json_object_is_type(m, json_type_string))
        snprintf(buf, buflen, "%s", json_object_get_string(m));
    json_object_put(j);
}
