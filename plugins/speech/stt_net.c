/*
 * Network recognizers (recognizer.h): one HTTP request per phrase, over
 * the core's async client (host->http_fetch), never blocking the loop.
 *
 *   openai  POST {base_url}/v1/audio/transcriptions, 16 kHz mono WAV,
 *           Authorization: Bearer {api_key} when a key is set
 *   google  POST {base_url}/v1/speech:recognize, LINEAR16 base64, with
 *           the service account's token (Authorization: Bearer, from the
 *           auth plugin's google_token.v1: google_auth.h) when one is set,
 *           else the key in X-Goog-Api-Key (never in the URL, which error
 *           messages and logs could show)
 *
 * A session keeps the phrase's audio in memory until the phrase ends (the
 * endpointer caps a phrase at max_phrase), then sends it. 429 and 5xx are
 * retried after 250 ms, 500 ms, ... (stt.retries times); a timeout is
 * LX_ETIMEDOUT (504), anything else that fails LX_EIO (502). Feeds that do
 * not end the phrase answer "" at once: these services only hear whole
 * phrases. The key never reaches a log line or a message.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audio/audio.h"
#include "audio/wav.h"
#include "google_auth.h"
#include "recognizer.h"
#include "stt_wire.h"

#define NET_MAX_RESPONSE (1u << 20)

typedef struct net_rec {
    speech_state *st;
    int is_google;
    int16_t *pcm; /* the phrase so far */
    size_t n, cap;
    speech_rec_fn done;
    void *arg;
    lx_http_call *call;
    lx_timer *timer; /* an answer due from the loop, or a retry */
    char *body;      /* the request being made (kept for retries) */
    size_t body_len;
    char ctype[128];
    char auth[SPEECH_AUTHZ_MAX];
    char url[600];
    int tries;
    int is_oauth;   /* google with a service account: a token before each send */
    int has_reauth; /* a 401 made us get a new token once (this phrase) */
    speech_gauth token;
    int answer_pending; /* the timer delivers an interim "" */
} net_rec;

static void *net_open_as(speech_state *st, int is_google)
{
    net_rec *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->st = st;
    r->is_google = is_google;
    r->is_oauth = is_google && speech_gauth_on(st);
    return r;
}

static void *net_open_openai(speech_state *st)
{
    return net_open_as(st, 0);
}

static void *net_open_google(speech_state *st)
{
    return net_open_as(st, 1);
}

static void net_reset(net_rec *r)
{
    free(r->body);
    r->body = NULL;
    r->n = 0;
    r->tries = 0;
    r->has_reauth = 0;
}

static void net_close(void *session)
{
    net_rec *r = session;
    const lx_host *h = r->st->host;

    if (r->call != NULL)
        h->http_cancel(r->call);
    if (r->timer != NULL)
        h->timer_stop(r->timer);
    speech_gauth_cancel(r->st, &r->token);
    OPENSSL_cleanse(r->auth, sizeof(r->auth));
    net_reset(r);
    free(r->pcm);
    free(r);
}

static void net_finish(net_rec *r, int status, const char *msg, const char *text, int is_final,
                       double confidence)
{
    speech_rec_fn done = r->done;

    if (is_final || status != LX_OK)
        net_reset(r);
    done(r->arg, status, msg, text, is_final, confidence);
}

static void net_send(net_rec *r);

static void net_on_timer(void *arg)
{
    net_rec *r = arg;

    r->timer = NULL;
    if (r->answer_pending != 0) {
        int is_final = r->answer_pending == 2;

        r->answer_pending = 0;
        net_finish(r, LX_OK, "", "", is_final, is_final ? 0.0 : -1.0);
        return;
    }
    net_send(r); /* a retry */
}

static void net_on_response(const lx_http_response *res, void *arg)
{
    net_rec *r = arg;
    const lx_host *h = r->st->host;
    char err[300], msg[400];

    r->call = NULL;
    if (res->err == LX_OK && res->status == 401 && r->is_oauth && !r->has_reauth) {
        /* the token was revoked or expired early: one new one */
        r->has_reauth = 1;
        speech_gauth_refused(r->st);
        r->tries--;
        net_send(r);
        return;
    }
    if (res->err == LX_OK && (res->status == 429 || res->status >= 500) &&
        r->tries <= r->st->stt.retries) {
        long long delay = 250LL << (r->tries - 1);
        h->log(LX_LOG_WARN, SPEECH_SRC, NULL, "the %s recognizer answered %d: retry %d in %lld ms",
               r->is_google ? "google" : "openai", res->status, r->tries, delay);
        r->timer = h->timer_start(r->st->w, (uint64_t)delay, 0, net_on_timer, r);
        if (r->timer != NULL)
            return;
    }
    if (res->err == LX_ETIMEDOUT) {
        snprintf(msg, sizeof(msg), "the speech recognizer did not answer within %lld s",
                 r->st->stt.timeout_ms / 1000);
        net_finish(r, LX_ETIMEDOUT, msg, "", 0, -1);
        return;
    }
    if (res->err != LX_OK) {
        snprintf(msg, sizeof(msg), "the speech recognizer cannot be reached: %s", res->errmsg);
        net_finish(r, LX_EIO, msg, "", 0, -1);
        return;
    }
    char *text = NULL;
    double conf = -1;
    int prc =
        r->is_google
            ? speech_google_stt_parse(res->body, res->body_len, &text, &conf, err, sizeof(err))
            : speech_openai_stt_parse(res->body, res->body_len, &text, err, sizeof(err));
    if (res->status != 200 || prc != 0) {
        snprintf(msg, sizeof(msg), "the speech recognizer answered %d: %s", res->status,
                 prc != 0 ? err : "not a success");
        h->log(LX_LOG_WARN, SPEECH_SRC, NULL, "%s", msg);
        free(text);
        net_finish(r, LX_EIO, msg, "", 0, -1);
        return;
    }
    net_finish(r, LX_OK, "", text, 1, conf);
    free(text);
}

static void net_send_now(net_rec *r);

static void net_on_token(void *arg, int status, const char *header, const char *message)
{
    net_rec *r = arg;
    char msg[400];

    if (status != LX_OK) {
        snprintf(msg, sizeof(msg), "the speech recognizer cannot be called: %s", message);
        r->st->host->log(LX_LOG_WARN, SPEECH_SRC, NULL, "%s", msg);
        net_finish(r, status == LX_ETIMEDOUT ? LX_ETIMEDOUT : LX_EIO, msg, "", 0, -1);
        return;
    }
    snprintf(r->auth, sizeof(r->auth), "%s", header);
    net_send_now(r);
}

/* Sends the phrase, after getting a token when it needs one. */
static void net_send(net_rec *r)
{
    if (!r->is_oauth) {
        net_send_now(r);
        return;
    }
    if (speech_gauth_header(r->st, &r->token, net_on_token, r) != LX_OK)
        net_finish(r, LX_EIO, "cannot ask the auth plugin for an access token", "", 0, -1);
}

static void net_send_now(net_rec *r)
{
    const lx_host *h = r->st->host;
    const char *headers[4];
    int nh = 0;

    r->tries++;
    headers[nh++] = r->ctype;
    if (r->auth[0] != '\0')
        headers[nh++] = r->auth;
    headers[nh] = NULL;
    lx_http_request rq = {
        .struct_size = sizeof(rq),
        .method = "POST",
        .url = r->url,
        .headers = headers,
        .body = r->body,
        .body_len = r->body_len,
        .timeout_ms = r->st->stt.timeout_ms,
        .max_response = NET_MAX_RESPONSE,
    };
    if (h->http_fetch(r->st->w, &rq, net_on_response, r, &r->call) != LX_OK) {
        r->call = NULL;
        net_finish(r, LX_EIO, "the HTTP client refused the recognizer call", "", 0, -1);
    }
}

/* Builds the phrase's request. 0, or -1 when out of memory. */
static int net_build(net_rec *r)
{
    const speech_stt_cfg *c = &r->st->stt;

    if (r->is_google) {
        r->body = speech_google_stt_body(r->pcm, r->n, c->language, c->model, &r->body_len);
        snprintf(r->url, sizeof(r->url), "%s/v1/speech:recognize", c->base_url);
        snprintf(r->ctype, sizeof(r->ctype), "Content-Type: application/json");
        if (r->is_oauth)
            r->auth[0] = '\0'; /* the token's, at each send */
        else
            snprintf(r->auth, sizeof(r->auth), "X-Goog-Api-Key: %s", c->api_key);
        return r->body != NULL ? 0 : -1;
    }
    size_t wav_len;
    unsigned char *wav = speech_wav_write(r->pcm, r->n, SPEECH_PCM_RATE, &wav_len);
    char lang[8];
    size_t k = 0;
    while (c->language[k] != '\0' && c->language[k] != '-' && k < sizeof(lang) - 1) {
        lang[k] = c->language[k];
        k++;
    }
    lang[k] = '\0';
    if (wav == NULL)
        return -1;
    int rc = speech_openai_stt_body(wav, wav_len, c->model, lang, &r->body, &r->body_len, r->ctype,
                                    sizeof(r->ctype));
    free(wav);
    snprintf(r->url, sizeof(r->url), "%s/v1/audio/transcriptions", c->base_url);
    if (c->api_key != NULL)
        snprintf(r->auth, sizeof(r->auth), "Authorization: Bearer %s", c->api_key);
    else
        r->auth[0] = '\0';
    return rc;
}

static int net_feed(void *session, const int16_t *pcm, size_t n, int ends, speech_rec_fn done,
                    void *arg)
{
    net_rec *r = session;

    if (r->n + n > r->cap) {
        size_t cap = r->cap ? r->cap : 16000 * 4;
        while (cap < r->n + n)
            cap *= 2;
        int16_t *np = realloc(r->pcm, cap * sizeof(int16_t));
        if (np == NULL)
            return LX_ENOMEM;
        r->pcm = np;
        r->cap = cap;
    }
    if (n > 0)
        memcpy(r->pcm + r->n, pcm, n * sizeof(int16_t));
    r->n += n;
    r->done = done;
    r->arg = arg;
    r->answer_pending = 0;
    if (!ends)
        r->answer_pending = 1; /* mid-phrase: an interim "" from the loop */
    else if (r->n < SPEECH_PCM_RATE / 10)
        r->answer_pending = 2; /* too short to hold a word: an empty final */
    if (r->answer_pending != 0) {
        r->timer = r->st->host->timer_start(r->st->w, 0, 0, net_on_timer, r);
        return r->timer != NULL ? LX_OK : LX_ENOMEM;
    }
    if (net_build(r) != 0) {
        net_reset(r);
        return LX_ENOMEM;
    }
    r->tries = 0;
    r->timer = r->st->host->timer_start(r->st->w, 0, 0, net_on_timer, r); /* sends from the loop */
    return r->timer != NULL ? LX_OK : LX_ENOMEM;
}

const speech_rec_ops speech_rec_openai = {"openai", net_open_openai, net_feed, net_close};
const speech_rec_ops speech_rec_google = {"google", net_open_google, net_feed, net_close};
