/*
 * Cloud read-aloud: configuration, the worker's voices, shared HTTP calls
 * (tts_cloud.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "google_auth.h"
#include "provider.h"
#include "tts_cloud.h"

#define CLOUD_MAX_RESPONSE (64u << 20) /* ~20 minutes of 24 kHz PCM in base64 */

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

void speech_cloud_cfg_free(speech_cloud_cfg *c)
{
    if (c == NULL)
        return;
    free(c->base_url);
    free(c->api_key);
    free(c->voice);
    free(c->model);
    for (size_t i = 0; i < c->n_voices; i++)
        free(c->voices[i]);
    free(c->voices);
    free(c);
}

/* Splits "a, b,c" into c->voices. LX_OK or LX_ENOMEM. */
static int cloud_split_voices(speech_cloud_cfg *c, const char *csv)
{
    size_t n = 1;

    for (const char *p = csv; *p != '\0'; p++)
        n += *p == ',';
    if ((c->voices = calloc(n, sizeof(char *))) == NULL)
        return LX_ENOMEM;
    while (*csv != '\0') {
        size_t len;

        csv += strspn(csv, " ,");
        len = strcspn(csv, ",");
        while (len > 0 && csv[len - 1] == ' ')
            len--;
        if (len > 0 && (c->voices[c->n_voices++] = strndup(csv, len)) == NULL)
            return LX_ENOMEM;
        csv += len;
        csv += strcspn(csv, ",");
    }
    return LX_OK;
}

int speech_cloud_configure(speech_state *st, const lx_cfg *cfg, const char *provider, char *err,
                           size_t errlen)
{
    const lx_host *h = st->host;
    speech_cloud_cfg *c = calloc(1, sizeof(*c));
    char where[256] = "", *voices = NULL;
    long long v;
    int rc;

    if (c == NULL)
        return LX_ENOMEM;
    st->cloud_cfg = c;
    c->kind = strcmp(provider, "google") == 0 ? SPEECH_CLOUD_GOOGLE : SPEECH_CLOUD_OPENAI;
    if (cfg != NULL)
        h->cfg_where(cfg, where, sizeof(where));
    SPEECH_TRY(speech_cfg_str(h, cfg, "base_url", &c->base_url, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "api_key", &c->api_key, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "voice", &c->voice, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "model", &c->model, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "voices", &voices, err, errlen));
    SPEECH_TRY(speech_cfg_num(h, cfg, "request_timeout", 'm', 30000, 100, 600000, &v, err, errlen));
    c->request_timeout_ms = v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "retries", 'i', 2, 0, 10, &v, err, errlen));
    c->retries = (int)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "parallel", 'i', 8, 1, 64, &v, err, errlen));
    c->parallel = (int)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "voices_retry", 'm', 60000, 100, 86400000, &v, err, errlen));
    c->voices_retry_ms = v;
    if (c->api_key != NULL && strpbrk(c->api_key, "\r\n") != NULL) {
        snprintf(err, errlen, "%s: speech: api_key holds a line break", where);
        SPEECH_TRY(LX_EINVAL);
    }
    if (c->kind == SPEECH_CLOUD_GOOGLE && c->api_key == NULL && st->sa_path == NULL) {
        snprintf(err, errlen,
                 "%s: speech: provider google needs service_account "
                 "(LEXIAID_SPEECH_SERVICE_ACCOUNT) or api_key (LEXIAID_TTS_API_KEY or "
                 "LEXIAID_TTS_API_KEY_FILE)",
                 where);
        SPEECH_TRY(LX_EINVAL);
    }
    if (c->base_url == NULL &&
        (c->base_url = strdup(c->kind == SPEECH_CLOUD_GOOGLE ? "https://texttospeech.googleapis.com"
                                                             : "https://api.openai.com")) == NULL)
        SPEECH_TRY(LX_ENOMEM);
    if (strncmp(c->base_url, "http://", 7) != 0 && strncmp(c->base_url, "https://", 8) != 0) {
        snprintf(err, errlen, "%s: speech: base_url must start with http:// or https://", where);
        SPEECH_TRY(LX_EINVAL);
    }
    for (size_t n = strlen(c->base_url); n > 0 && c->base_url[n - 1] == '/'; n--)
        c->base_url[n - 1] = '\0';
    if (c->voice == NULL &&
        (c->voice = strdup(c->kind == SPEECH_CLOUD_GOOGLE ? "en-US-Neural2-F" : "alloy")) == NULL)
        SPEECH_TRY(LX_ENOMEM);
    if (c->kind == SPEECH_CLOUD_OPENAI) {
        if (c->model == NULL && (c->model = strdup("tts-1")) == NULL)
            SPEECH_TRY(LX_ENOMEM);
        SPEECH_TRY(
            cloud_split_voices(c, voices != NULL ? voices : "alloy,echo,fable,onyx,nova,shimmer"));
        int found = 0;

        for (size_t i = 0; i < c->n_voices; i++)
            found |= strcmp(c->voices[i], c->voice) == 0;
        if (!found) {
            snprintf(err, errlen, "%s: speech: voice \"%.100s\" is not one of voices", where,
                     c->voice);
            SPEECH_TRY(LX_EINVAL);
        }
    }
    h->log(LX_LOG_INFO, SPEECH_SRC, NULL, "read-aloud: %s at %s, default voice %s%s", provider,
           c->base_url, c->voice,
           c->kind == SPEECH_CLOUD_OPENAI ? " (word times estimated from the local engine's)" : "");
    rc = LX_OK;
out:
    free(voices);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The worker's voices                                                      */

/* Every voice of `from` into l (copied). 0 or -1. */
static int cloud_list_add(speech_voice_list *l, const speech_voices *from)
{
    for (size_t i = 0; i < from->n; i++) {
        const speech_voice *v = &from->v[i];
        speech_voice_info *o = &l->v[l->n++];
        size_t n = 1;

        for (size_t k = 0; k < v->n_languages; k++)
            n += strlen(v->languages[k]) + 1;
        o->name = strdup(v->name);
        o->gender = strdup(v->gender);
        o->provider = strdup(v->provider);
        o->languages = calloc(n, 1);
        o->sample_rate = v->sample_rate;
        if (o->name == NULL || o->gender == NULL || o->provider == NULL || o->languages == NULL)
            return -1;
        for (size_t k = 0; k < v->n_languages; k++) {
            if (k > 0)
                strcat(o->languages, ",");
            strcat(o->languages, v->languages[k]);
        }
    }
    return 0;
}

static int cloud_info(speech_voice_info *o, const char *name, const char *langs,
                      const char *provider)
{
    o->name = strdup(name);
    o->languages = strdup(langs);
    o->gender = strdup("NEUTRAL");
    o->provider = strdup(provider);
    o->sample_rate = 24000;
    return o->name && o->languages && o->gender && o->provider ? 0 : -1;
}

/* The worker's table: the local voices, then `cloud`'s (Google's list) or
 * the configured ones. Replaces st->all_voices; the one replaced is kept
 * to the worker's end (ops running may point into it). */
static int cloud_build(speech_state *st, const speech_voice_list *cloud)
{
    const speech_cloud_cfg *c = st->cloud_cfg;
    size_t n = st->voices.n + (cloud != NULL ? cloud->n : 0) + c->n_voices + 1;
    speech_voice_list l = {calloc(n, sizeof(speech_voice_info)), 0};
    speech_voices *vs = calloc(1, sizeof(*vs));
    int rc = LX_ENOMEM, has_default = 0;

    if (l.v == NULL || vs == NULL || cloud_list_add(&l, &st->voices) != 0)
        goto out;
    for (size_t i = 0; cloud != NULL && i < cloud->n; i++) {
        const speech_voice_info *in = &cloud->v[i];
        speech_voice_info *o = &l.v[l.n++];

        if (cloud_info(o, in->name, in->languages, "google") != 0)
            goto out;
        free(o->gender);
        o->gender = strdup(in->gender);
        o->sample_rate = in->sample_rate;
        has_default |= strcmp(in->name, c->voice) == 0;
        if (o->gender == NULL)
            goto out;
    }
    for (size_t i = 0; c->kind == SPEECH_CLOUD_OPENAI && i < c->n_voices; i++)
        if (cloud_info(&l.v[l.n++], c->voices[i], "en", "openai") != 0)
            goto out;
    if (c->kind == SPEECH_CLOUD_GOOGLE && !has_default) {
        /* until the list comes (or when it lacks it): the configured voice */
        char lang[32];
        size_t k = strcspn(c->voice, "-");

        if (c->voice[k] == '-')
            k += 1 + strcspn(c->voice + k + 1, "-");
        snprintf(lang, sizeof(lang), "%.*s", (int)(k < sizeof(lang) ? k : 0), c->voice);
        if (cloud_info(&l.v[l.n++], c->voice, lang[0] ? lang : "en-US", "google") != 0)
            goto out;
    }
    if (speech_voices_build(&l, vs) != LX_OK) {
        free(vs);
        vs = NULL;
        goto out;
    }
    vs->next_retired = st->all_voices;
    st->all_voices = vs;
    vs = NULL;
    rc = LX_OK;
out:
    speech_voice_list_free(&l);
    free(vs);
    return rc;
}

int speech_cloud_set_voices(speech_state *st, speech_voice_list *l)
{
    int rc = cloud_build(st, l);

    speech_voice_list_free(l);
    return rc;
}

int speech_cloud_worker_start(speech_state *st, char *err, size_t errlen)
{
    const speech_cloud_cfg *c = st->cloud_cfg;

    if (c == NULL || st->local == NULL)
        return LX_OK;
    if (cloud_build(st, NULL) != LX_OK)
        goto nomem;
    st->cloud = c->kind == SPEECH_CLOUD_GOOGLE ? speech_google_new(st) : speech_openai_new(st);
    if (st->cloud == NULL)
        goto nomem;
    return LX_OK;
nomem:
    snprintf(err, errlen, "out of memory");
    return LX_ENOMEM;
}

void speech_cloud_worker_stop(speech_state *st)
{
    if (st->cloud != NULL)
        st->cloud->destroy(st->cloud);
    st->cloud = NULL;
    while (st->all_voices != NULL) {
        speech_voices *vs = st->all_voices;

        st->all_voices = vs->next_retired;
        speech_voices_free(vs);
        free(vs);
    }
}

const speech_voices *speech_voices_now(const speech_state *st)
{
    return st->all_voices != NULL ? st->all_voices : &st->voices;
}

speech_provider *speech_provider_for(const speech_state *st, const speech_voice *v)
{
    if (st->cloud != NULL && v != NULL &&
        (strcmp(v->provider, "google") == 0 || strcmp(v->provider, "openai") == 0))
        return st->cloud;
    return st->local;
}

const speech_voice *speech_voice_default(const speech_state *st)
{
    const speech_voice *v = NULL;

    if (st->cloud != NULL)
        v = speech_voice_find(speech_voices_now(st), st->cloud_cfg->voice);
    return v != NULL          ? v
           : st->dflt != NULL ? speech_voice_find(speech_voices_now(st), st->dflt->name)
                              : NULL;
}

/* ------------------------------------------------------------------------ */
/* HTTP calls with retries                                                  */

struct speech_cloud_call {
    speech_state *st;
    char *method;
    char url[1024];
    char auth[SPEECH_AUTHZ_MAX]; /* the key's header, or the token's (google_auth.h) */
    char *body;
    size_t len;
    int tries;
    int is_oauth;   /* Google with a service account: a token before each send */
    int has_reauth; /* a 401 made us get a new token once */
    speech_gauth token;
    lx_http_call *call;
    lx_timer *timer;
    speech_cloud_fn done;
    void *arg;
};

static void cloud_call_free(speech_cloud_call *c)
{
    if (c->call != NULL)
        c->st->host->http_cancel(c->call);
    if (c->timer != NULL)
        c->st->host->timer_stop(c->timer);
    speech_gauth_cancel(c->st, &c->token);
    OPENSSL_cleanse(c->auth, sizeof(c->auth));
    free(c->body);
    free(c->method);
    free(c);
}

void speech_cloud_cancel(speech_cloud_call *c)
{
    if (c != NULL)
        cloud_call_free(c);
}

static void cloud_send(speech_cloud_call *c);

static void cloud_on_timer(void *arg)
{
    speech_cloud_call *c = arg;

    c->timer = NULL;
    cloud_send(c);
}

static void cloud_end(speech_cloud_call *c, int status, int http, const char *body, size_t len,
                      const char *msg)
{
    speech_cloud_fn done = c->done;
    void *arg = c->arg;

    c->call = NULL;
    cloud_call_free(c);
    done(arg, status, http, body, len, msg);
}

static void cloud_on_response(const lx_http_response *res, void *arg)
{
    speech_cloud_call *c = arg;
    const lx_host *h = c->st->host;
    const speech_cloud_cfg *cfg = c->st->cloud_cfg;
    char msg[300];

    c->call = NULL;
    if (res->err == LX_OK && res->status == 401 && c->is_oauth && !c->has_reauth) {
        /* the token was revoked or expired early: one new one */
        c->has_reauth = 1;
        speech_gauth_refused(c->st);
        c->tries--;
        cloud_send(c);
        return;
    }
    if (res->err == LX_OK && (res->status == 429 || res->status >= 500) &&
        c->tries <= cfg->retries) {
        long long delay = 250LL << (c->tries - 1);

        h->log(LX_LOG_WARN, SPEECH_SRC, NULL,
               "the text-to-speech service answered %d: retry %d in %lld ms", res->status, c->tries,
               delay);
        c->timer = h->timer_start(c->st->w, (uint64_t)delay, 0, cloud_on_timer, c);
        if (c->timer != NULL)
            return;
    }
    if (res->err == LX_ETIMEDOUT) {
        snprintf(msg, sizeof(msg), "the text-to-speech service did not answer within %lld ms",
                 cfg->request_timeout_ms);
        cloud_end(c, LX_ETIMEDOUT, 0, NULL, 0, msg);
        return;
    }
    if (res->err != LX_OK) {
        snprintf(msg, sizeof(msg), "the text-to-speech service cannot be reached: %.200s",
                 res->errmsg);
        cloud_end(c, LX_ERROR, 0, NULL, 0, msg);
        return;
    }
    if (res->status < 200 || res->status > 299) {
        snprintf(msg, sizeof(msg), "the text-to-speech service answered %d", res->status);
        cloud_end(c, LX_ERROR, res->status, res->body, res->body_len, msg);
        return;
    }
    cloud_end(c, LX_OK, res->status, res->body, res->body_len, "");
}

static void cloud_send_now(speech_cloud_call *c);

static void cloud_on_token(void *arg, int status, const char *header, const char *message)
{
    speech_cloud_call *c = arg;

    if (status != LX_OK) { /* the caller logs it */
        cloud_end(c, status == LX_ETIMEDOUT ? LX_ETIMEDOUT : LX_ERROR, 0, NULL, 0, message);
        return;
    }
    snprintf(c->auth, sizeof(c->auth), "%s", header);
    cloud_send_now(c);
}

/* Sends the call, after getting a token when it needs one. */
static void cloud_send(speech_cloud_call *c)
{
    if (!c->is_oauth) {
        cloud_send_now(c);
        return;
    }
    if (speech_gauth_header(c->st, &c->token, cloud_on_token, c) != LX_OK)
        cloud_end(c, LX_ERROR, 0, NULL, 0, "cannot ask the auth plugin for an access token");
}

static void cloud_send_now(speech_cloud_call *c)
{
    const lx_host *h = c->st->host;
    const char *headers[4];
    int nh = 0;

    c->tries++;
    if (c->body != NULL)
        headers[nh++] = "Content-Type: application/json";
    if (c->auth[0] != '\0')
        headers[nh++] = c->auth;
    headers[nh] = NULL;
    lx_http_request rq = {
        .struct_size = sizeof(rq),
        .method = c->method,
        .url = c->url,
        .headers = headers,
        .body = c->body,
        .body_len = c->len,
        .timeout_ms = c->st->cloud_cfg->request_timeout_ms,
        .max_response = CLOUD_MAX_RESPONSE,
    };
    if (h->http_fetch(c->st->w, &rq, cloud_on_response, c, &c->call) != LX_OK) {
        c->call = NULL;
        cloud_end(c, LX_ERROR, 0, NULL, 0, "the HTTP client refused the call");
    }
}

speech_cloud_call *speech_cloud_fetch(speech_state *st, const char *method, const char *url,
                                      char *body, size_t len, speech_cloud_fn done, void *arg)
{
    const speech_cloud_cfg *cfg = st->cloud_cfg;
    speech_cloud_call *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->method = strdup(method)) == NULL) {
        free(c);
        free(body);
        return NULL;
    }
    c->st = st;
    c->body = body;
    c->len = len;
    c->done = done;
    c->arg = arg;
    snprintf(c->url, sizeof(c->url), "%s", url);
    c->is_oauth = cfg->kind == SPEECH_CLOUD_GOOGLE && speech_gauth_on(st);
    if (cfg->api_key != NULL && !c->is_oauth)
        snprintf(c->auth, sizeof(c->auth),
                 cfg->kind == SPEECH_CLOUD_GOOGLE ? "X-Goog-Api-Key: %s"
                                                  : "Authorization: Bearer %s",
                 cfg->api_key);
    /* sent from the loop: done never runs inside this call */
    c->timer = st->host->timer_start(st->w, 0, 0, cloud_on_timer, c);
    if (c->timer == NULL) {
        cloud_call_free(c);
        return NULL;
    }
    return c;
}
