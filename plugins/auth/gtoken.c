/*
 * Service-account keys, and the service google_token.v1
 * (include/lexiaid/svc/google_token_v1.h): access tokens for other plugins'
 * Google API calls.
 *
 * An account (lx_google_account) is a key file read in init, kept in
 * auth_state (so every worker inherits it) and freed at shutdown. A worker
 * keeps one auth_gsource per (account, scopes) asked for, made on first
 * use: an auth_oauth, the same single-flight token source as the admin
 * API's (fetch.c signs the assertion on the offload pool, posts it to
 * token_url and wakes its waiters). A call (lx_google_token_call) is a
 * detached auth_rq: it waits on the source's queue while an exchange runs,
 * or, when the answer is known at once (a cached token, or a failure moments
 * ago), on the worker's gready queue for a 0 ms timer, so that `done` never
 * runs inside token(). Both queues are failed with LX_ECANCELED when the
 * worker stops. Everything runs on the worker loop, except reading keys
 * (init, in the master).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include <lexiaid/svc/google_token_v1.h>

#include "auth.h"
#include "gtoken.h"
#include "verify.h"

#define GT_SA_MAX_BYTES (64 * 1024)
#define GT_MAX_SCOPES 1024

struct lx_google_account {
    struct lx_google_account *next;
    char *path;
    auth_sa sa;
};

typedef struct auth_gsource {
    struct auth_gsource *next;
    lx_google_account *acct;
    char *scopes;
    auth_oauth o;
} auth_gsource;

struct lx_google_token_call {
    auth_rq rq; /* first: the queues hand back &call->rq */
    auth_gsource *src;
    lx_google_token_fn done;
    void *arg;
    lx_timer *timer; /* the answer from the loop (on aw->gready), or NULL */
};

/* ------------------------------------------------------------------------ */
/* Service-account keys                                                     */

/* Characters safe inside a JSON string we build with printf. */
static int gt_plain_text(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' || (unsigned char)*s == 0x7f)
            return 0;
    return 1;
}

void auth_sa_clear(auth_sa *sa)
{
    if (sa->private_key != NULL)
        OPENSSL_cleanse(sa->private_key, strlen(sa->private_key));
    free(sa->private_key);
    free(sa->client_email);
    free(sa->private_key_id);
    memset(sa, 0, sizeof(*sa));
}

int auth_sa_read(const char *path, auth_sa *sa, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;
    json_object *j = NULL, *v;
    int rc = LX_EINVAL;
    const char *names[] = {"client_email", "private_key", "private_key_id"};
    char **dst[] = {&sa->client_email, &sa->private_key, &sa->private_key_id};

    memset(sa, 0, sizeof(*sa));
    if (f == NULL) {
        snprintf(err, errlen, "service account %s: %s", path, strerror(errno));
        return LX_EINVAL;
    }
    buf = malloc(GT_SA_MAX_BYTES + 1);
    if (buf == NULL) {
        rc = LX_ENOMEM;
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    n = fread(buf, 1, GT_SA_MAX_BYTES + 1, f);
    if (n > GT_SA_MAX_BYTES || ferror(f)) {
        snprintf(err, errlen, "service account %s: unreadable or over 64 KiB", path);
        goto out;
    }
    buf[n] = '\0';
    j = json_tokener_parse(buf);
    if (j == NULL || !json_object_is_type(j, json_type_object)) {
        snprintf(err, errlen, "service account %s: not a JSON object", path);
        goto out;
    }
    for (size_t i = 0; i < 3; i++) {
        if (!json_object_object_get_ex(j, names[i], &v) ||
            !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
            snprintf(err, errlen, "service account %s: no \"%s\"", path, names[i]);
            goto out;
        }
        if ((*dst[i] = strdup(json_object_get_string(v))) == NULL) {
            rc = LX_ENOMEM;
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    if (!gt_plain_text(sa->client_email) || !gt_plain_text(sa->private_key_id)) {
        snprintf(err, errlen, "service account %s: bad client_email or private_key_id", path);
        goto out;
    }
    rc = LX_OK;
out:
    if (rc != LX_OK)
        auth_sa_clear(sa);
    json_object_put(j);
    if (buf != NULL) {
        OPENSSL_cleanse(buf, GT_SA_MAX_BYTES + 1);
        free(buf);
    }
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Accounts (init, in the master)                                           */

static int gt_account_open(void *state, const char *key_path, lx_google_account **out, char *err,
                           size_t errlen)
{
    auth_state *st = state;
    lx_google_account *a;
    char *jwt = NULL, why[128] = "";
    int rc;

    if (out == NULL || key_path == NULL || key_path[0] == '\0') {
        snprintf(err, errlen, "google_token.v1: no key file named");
        return LX_EINVAL;
    }
    *out = NULL;
    for (a = st->gaccounts; a != NULL; a = a->next)
        if (strcmp(a->path, key_path) == 0) {
            *out = a;
            return LX_OK;
        }
    a = calloc(1, sizeof(*a));
    if (a == NULL || (a->path = strdup(key_path)) == NULL) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    rc = auth_sa_read(key_path, &a->sa, err, errlen);
    /* A key that cannot sign is refused now, not at the first request. */
    if (rc == LX_OK &&
        auth_sign_rs256(a->sa.private_key, "{}", "{}", &jwt, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "service account %s: %s", key_path, why);
        rc = LX_EINVAL;
    }
    free(jwt);
    if (rc != LX_OK) {
        auth_sa_clear(&a->sa);
        free(a->path);
        free(a);
        return rc;
    }
    a->next = st->gaccounts;
    st->gaccounts = a;
    st->host->log(LX_LOG_INFO, AUTH_SRC, NULL, "google_token.v1: service account %s from %s",
                  a->sa.client_email, key_path);
    *out = a;
    return LX_OK;
}

static const char *gt_account_email(void *state, const lx_google_account *a)
{
    (void)state;
    return a != NULL ? a->sa.client_email : "";
}

void auth_gtoken_free_accounts(auth_state *st)
{
    while (st->gaccounts != NULL) {
        lx_google_account *a = st->gaccounts;

        st->gaccounts = a->next;
        auth_sa_clear(&a->sa);
        free(a->path);
        free(a);
    }
}

/* ------------------------------------------------------------------------ */
/* Tokens (on a worker loop)                                                */

/* Scope URLs separated by single spaces: visible ASCII without '"' and '\'
 * (they go into the assertion's JSON as they are). */
static int gt_scopes_ok(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;

    if (len == 0 || len > GT_MAX_SCOPES || s[0] == ' ' || s[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || (c == ' ' && s[i + 1] == ' '))
            return 0;
    }
    return 1;
}

static auth_gsource *gt_find(auth_worker *aw, const lx_google_account *a, const char *scopes)
{
    for (auth_gsource *s = aw->gsources; s != NULL; s = s->next)
        if (s->acct == a && strcmp(s->scopes, scopes) == 0)
            return s;
    return NULL;
}

static auth_gsource *gt_source(auth_worker *aw, lx_google_account *a, const char *scopes)
{
    auth_gsource *s = gt_find(aw, a, scopes);

    if (s != NULL)
        return s;
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->scopes = strdup(scopes)) == NULL) {
        free(s);
        return NULL;
    }
    s->acct = a;
    auth_oauth_init(&s->o, aw, &a->sa, s->scopes);
    s->next = aw->gsources;
    aw->gsources = s;
    return s;
}

/* Answers k with what its source holds now and frees k. The token is
 * copied for the callback, which may invalidate or refresh the source. */
static void gt_answer(lx_google_token_call *k, int have_token)
{
    auth_oauth *o = &k->src->o;
    lx_google_token_fn done = k->done;
    void *arg = k->arg;
    char *tok = NULL, msg[320];
    int64_t expires_at = o->expires_at;
    int status = o->last_status != 0 ? o->last_status : LX_EIO;

    free(k);
    if (have_token && (tok = strdup(o->access_token)) != NULL) {
        done(arg, LX_OK, tok, expires_at, "");
        OPENSSL_cleanse(tok, strlen(tok));
        free(tok);
        return;
    }
    if (have_token) {
        done(arg, LX_EIO, NULL, 0, "out of memory");
        return;
    }
    snprintf(msg, sizeof(msg), "cannot get a Google access token for %s: %s", o->sa->client_email,
             o->last_error[0] != '\0' ? o->last_error : "the exchange failed");
    done(arg, status, NULL, 0, msg);
}

/* The exchange k waited for has ended: its outcome is the source's now (a
 * token whose life is already over still goes to those who waited for it). */
static void gt_on_wake(auth_rq *rq)
{
    lx_google_token_call *k = (lx_google_token_call *)rq;
    const auth_oauth *o = &k->src->o;

    gt_answer(k, o->access_token != NULL && o->last_error[0] == '\0');
}

/* A queue was failed (the worker stops). */
static void gt_on_gone(auth_rq *rq, const lx_http_response *res)
{
    lx_google_token_call *k = (lx_google_token_call *)rq;
    lx_google_token_fn done = k->done;
    void *arg = k->arg;

    (void)res;
    if (k->timer != NULL)
        k->rq.aw->st->host->timer_stop(k->timer);
    free(k);
    done(arg, LX_ECANCELED, NULL, 0, "the worker is stopping");
}

/* Waits on the source's exchange, starting one if none runs. LX_OK, or a
 * negative code (nothing queued). */
static int gt_wait(lx_google_token_call *k)
{
    int rc = auth_oauth_start(&k->src->o);

    if (rc != LX_OK)
        return rc;
    k->rq.on_wake = gt_on_wake;
    auth_waitq_push(&k->src->o.waiters, &k->rq);
    k->rq.aw->st->host->log(LX_LOG_DEBUG, AUTH_SRC, NULL,
                            "google_token.v1: a call for %s waits for the exchange in flight",
                            k->src->o.sa->client_email);
    return LX_OK;
}

static void gt_on_timer(void *arg)
{
    lx_google_token_call *k = arg;
    auth_oauth *o = &k->src->o;
    int64_t now = auth_now();

    k->timer = NULL;
    auth_waitq_remove(&k->rq);
    if (auth_oauth_fresh(o, now)) {
        gt_answer(k, 1);
    } else if (auth_oauth_holding_off(o, now) || gt_wait(k) != LX_OK) {
        if (o->last_error[0] == '\0')
            snprintf(o->last_error, sizeof(o->last_error), "the exchange cannot start");
        gt_answer(k, 0);
    }
}

static int gt_token(void *state, lx_worker *w, lx_google_account *a, const char *scopes,
                    lx_google_token_fn done, void *arg, lx_google_token_call **call)
{
    auth_state *st = state;
    auth_worker *aw = st->aw;
    lx_google_token_call *k;
    auth_gsource *src;
    int64_t now = auth_now();
    int rc;

    if (call != NULL)
        *call = NULL;
    if (a == NULL || done == NULL || !gt_scopes_ok(scopes))
        return LX_EINVAL;
    if (aw == NULL || aw->w != w || aw->is_stopping)
        return LX_ESTATE;
    if ((src = gt_source(aw, a, scopes)) == NULL || (k = calloc(1, sizeof(*k))) == NULL)
        return LX_ENOMEM;
    k->rq.aw = aw;
    k->rq.role = AUTH_ROLE_ENDPOINT;
    k->rq.is_detached = 1;
    k->rq.on_http = gt_on_gone;
    k->src = src;
    k->done = done;
    k->arg = arg;
    if (auth_oauth_fresh(&src->o, now) || auth_oauth_holding_off(&src->o, now)) {
        /* known now: answered from the loop */
        k->timer = st->host->timer_start(w, 0, 0, gt_on_timer, k);
        if (k->timer == NULL) {
            free(k);
            return LX_ENOMEM;
        }
        auth_waitq_push(&aw->gready, &k->rq);
    } else if ((rc = gt_wait(k)) != LX_OK) {
        free(k);
        return rc == LX_ENOMEM ? LX_ENOMEM : LX_ESTATE;
    }
    if (call != NULL)
        *call = k;
    return LX_OK;
}

static void gt_cancel(void *state, lx_google_token_call *k)
{
    auth_state *st = state;

    if (k == NULL)
        return;
    auth_waitq_remove(&k->rq);
    if (k->timer != NULL)
        st->host->timer_stop(k->timer);
    free(k);
}

static void gt_invalidate(void *state, lx_worker *w, lx_google_account *a, const char *scopes)
{
    auth_state *st = state;
    auth_gsource *s;

    if (st->aw == NULL || st->aw->w != w || a == NULL || scopes == NULL ||
        (s = gt_find(st->aw, a, scopes)) == NULL || s->o.is_busy)
        return;
    s->o.expires_at = 0; /* the next call exchanges again */
}

void auth_gtoken_worker_stop(auth_worker *aw)
{
    auth_rq *rq;

    while ((rq = aw->gready.head) != NULL) {
        auth_waitq_remove(rq);
        rq->on_http(rq, NULL);
    }
    while (aw->gsources != NULL) {
        auth_gsource *s = aw->gsources;

        aw->gsources = s->next;
        auth_oauth_stop(&s->o); /* fails its waiters */
        free(s->scopes);
        free(s);
    }
}

/* ------------------------------------------------------------------------ */
/* The table                                                                */

static const lx_google_token_v1 auth_gtoken_table = {
    .struct_size = sizeof(lx_google_token_v1),
    .account_open = gt_account_open,
    .account_email = gt_account_email,
    .token = gt_token,
    .cancel = gt_cancel,
    .invalidate = gt_invalidate,
};

int auth_gtoken_register(auth_state *st, char *err, size_t errlen)
{
    if (st->host->svc_register(LX_GOOGLE_TOKEN_V1, &auth_gtoken_table, st) != LX_OK) {
        snprintf(err, errlen, "auth: the service %s is already provided", LX_GOOGLE_TOKEN_V1);
        return LX_EEXIST;
    }
    return LX_OK;
}
