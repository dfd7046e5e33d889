/*
 * A language-model call on the worker loop (llm.h, second half): one
 * HTTP request per attempt through host->http_fetch, retries with
 * exponential backoff and full jitter inside one deadline, and streamed
 * answers fed through the SSE parser of llm_wire.c.
 *
 * Lifetimes. A tutor_llm_call lives from tutor_llm_start until either its
 * `done` returned or tutor_llm_cancel; it is freed exactly once, by
 * llm_call_free, which also cancels the HTTP request in flight and stops
 * the timer (a call holds at most one of each). Two things may run user
 * code while the call is on the stack: on_delta (from inside curl, via
 * on_data, or from the HTTP `done`) and `done`. A cancel from inside
 * on_delta only marks the call (depth > 0); whoever raised depth frees it
 * when it unwinds. A cancel from inside `done` is ignored: the call is
 * freed when `done` returns.
 *
 * Re-entrancy of the HTTP client: curl is on the stack during on_data, so
 * nothing there may start a request or run `done` (the caller's `done`
 * may start another call): a failure seen in on_data ends the call from a
 * 0 ms timer. For the same reason tutor_llm_start never runs `done`.
 *
 * Streamed answers and status: on_data carries body bytes before the
 * status is known (it is only given to the HTTP `done`). The bytes go to
 * the SSE parser, which finds nothing in an error body (no "data:" lines),
 * and the first 64 KiB are kept as they are, so that `done` can read an
 * error body's reason, or the whole answer of a server that ignored
 * "stream": true.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lexiaid/plugin.h>

#include "llm.h"

#define LLM_SRC "tutoring"
#define LLM_MAX_RESPONSE ((size_t)4 << 20)
#define LLM_RAW_MAX ((size_t)64 << 10)
/* A curl timeout this close to the deadline is the deadline. */
#define LLM_DEADLINE_SLACK_MS 5.0
/* Retry-After values above this many seconds are taken as this. */
#define LLM_RETRY_AFTER_MAX_S 86400LL

struct tutor_llm_call {
    const lx_host *h;
    lx_worker *w;
    tutor_llm_kind kind;
    char *url;
    char **headers; /* they hold the key: wiped when freed */
    char *body;
    size_t body_len;
    char *key; /* a copy, only to keep it out of messages; NULL when none */

    double t0;       /* monotonic ms at start */
    double deadline; /* monotonic ms */
    long long deadline_ms;
    long long connect_timeout_ms;
    int max_attempts;
    long long backoff_ms;
    uint64_t rng;

    tutor_llm_delta_fn on_delta;
    tutor_llm_done_fn done;
    void *arg;

    lx_http_call *http; /* the attempt in flight, or NULL */
    lx_timer *timer;    /* a retry or a deferred end, or NULL */
    int attempts;
    int http_status;

    /* The attempt's streamed answer */
    tutor_sse *sse;
    int sse_rc; /* the parser's failure, or LX_OK */
    char sse_err[256];
    char *raw; /* the first LLM_RAW_MAX bytes of the body */
    size_t raw_len;
    int is_raw_cut; /* more bytes came than raw keeps */

    /* The answer */
    char *text;
    size_t text_len, text_cap;
    int is_text_oom;
    size_t n_deltas;

    /* A deferred end (llm_fin_timer) */
    int fin_err;
    char fin_msg[512];

    int depth;        /* > 0 while on_delta may run with the call on the stack */
    int is_cancelled; /* tutor_llm_cancel ran; freed when depth drops to 0 */
    int is_finishing; /* `done` runs */
    int is_fin_armed; /* a deferred end is scheduled: ignore further bytes */
};

/* ---- helpers ------------------------------------------------------------- */

static double llm_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* xorshift64*: jitter only, not secrets. */
static uint64_t llm_rand(tutor_llm_call *c)
{
    uint64_t x = c->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 2685821657736338717ULL;
}

/* Copies src into dst (of size cap) with every occurrence of the key
 * replaced: an upstream message may echo what it was sent. */
static void llm_scrub_copy(const tutor_llm_call *c, char *dst, size_t cap, const char *src)
{
    size_t klen = c->key != NULL ? strlen(c->key) : 0;
    size_t o = 0;

    if (cap == 0)
        return;
    while (*src != '\0' && o + 1 < cap) {
        if (klen >= 4 && strncmp(src, c->key, klen) == 0) {
            const char *r = "[redacted]";
            while (*r != '\0' && o + 1 < cap)
                dst[o++] = *r++;
            src += klen;
            continue;
        }
        dst[o++] = *src++;
    }
    dst[o] = '\0';
}

static void llm_wipe(char *s)
{
    if (s == NULL)
        return;
    for (volatile char *p = s; *p != '\0'; p++)
        *p = '\0';
}

/* Frees the call: the request in flight is cancelled, the timer stopped. */
static void llm_call_free(tutor_llm_call *c)
{
    if (c->http != NULL) {
        c->h->http_cancel(c->http);
        c->http = NULL;
    }
    if (c->timer != NULL) {
        c->h->timer_stop(c->timer);
        c->timer = NULL;
    }
    tutor_sse_free(c->sse);
    free(c->url);
    tutor_llm_headers_free(c->headers);
    free(c->body);
    llm_wipe(c->key);
    free(c->key);
    free(c->raw);
    free(c->text);
    free(c);
}

/* Ends the call: `done` runs once, then the call is freed. Never called
 * with curl on the stack, nor from tutor_llm_start. */
static void llm_finish(tutor_llm_call *c, int err, const char *msg)
{
    tutor_llm_result r;

    memset(&r, 0, sizeof(r));
    if (err == LX_OK && c->is_text_oom)
        err = LX_ENOMEM, msg = "out of memory";
    r.err = err;
    r.http_status = c->http_status;
    r.attempts = c->attempts;
    r.text = err == LX_OK ? c->text : NULL;
    r.text_len = err == LX_OK ? c->text_len : 0;
    r.errmsg = err == LX_OK ? "" : (msg != NULL ? msg : "failed");
    r.total_ms = llm_now_ms() - c->t0;
    c->is_finishing = 1;
    c->done(&r, c->arg);
    llm_call_free(c);
}

/* Ends the call with a formatted, key-free message. */
static void llm_finishf(tutor_llm_call *c, int err, const char *fmt, ...) LX_PRINTF(3, 4);

static void llm_finishf(tutor_llm_call *c, int err, const char *fmt, ...)
{
    char raw[512], msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    llm_scrub_copy(c, msg, sizeof(msg), raw);
    llm_finish(c, err, msg);
}

static void llm_fin_timer(void *arg)
{
    tutor_llm_call *c = arg;

    c->timer = NULL; /* a one-shot timer frees itself */
    llm_finish(c, c->fin_err, c->fin_msg);
}

/* Appends a piece of the answer and hands it to the caller. */
static void llm_delta(const char *text, size_t len, void *arg)
{
    tutor_llm_call *c = arg;

    if (c->is_cancelled || c->is_fin_armed || len == 0)
        return;
    if (!c->is_text_oom && c->text_len + len + 1 > c->text_cap) {
        size_t cap = c->text_cap ? c->text_cap : 1024;
        char *p;

        while (cap < c->text_len + len + 1)
            cap *= 2;
        p = realloc(c->text, cap);
        if (p == NULL) {
            c->is_text_oom = 1;
        } else {
            c->text = p;
            c->text_cap = cap;
        }
    }
    if (!c->is_text_oom) {
        memcpy(c->text + c->text_len, text, len);
        c->text_len += len;
        c->text[c->text_len] = '\0';
    }
    c->n_deltas++;
    c->on_delta(text, len, c->arg);
}

/* ---- one attempt ----------------------------------------------------------- */

static void llm_on_http_done(const lx_http_response *res, void *arg);
static void llm_log_attempt(tutor_llm_call *c, int status, const char *reason);

/* Body bytes of a streamed attempt, with curl on the stack. */
static void llm_on_data(const char *data, size_t len, void *arg)
{
    tutor_llm_call *c = arg;

    if (c->is_cancelled || c->is_fin_armed)
        return;
    c->depth++;
    if (c->n_deltas == 0 && !c->is_raw_cut) {
        size_t room = LLM_RAW_MAX - c->raw_len;
        size_t n = len < room ? len : room;

        if (c->raw == NULL)
            c->raw = malloc(LLM_RAW_MAX + 1);
        if (c->raw != NULL) {
            memcpy(c->raw + c->raw_len, data, n);
            c->raw_len += n;
            c->raw[c->raw_len] = '\0';
        }
        if (c->raw == NULL || n < len)
            c->is_raw_cut = 1;
    }
    if (c->sse_rc == LX_OK) {
        int rc = tutor_sse_feed(c->sse, data, len, llm_delta, c, c->sse_err, sizeof(c->sse_err));

        /* A bad event is a bad answer whatever the status: stop reading
         * now (an over-long line waits for the status instead: it may be
         * an error page). */
        if (rc != LX_OK) {
            c->sse_rc = rc;
            if (rc != LX_ETOOBIG && !c->is_cancelled) {
                lx_timer *t = c->h->timer_start(c->w, 0, 0, llm_fin_timer, c);
                if (t != NULL) {
                    c->timer = t;
                    c->is_fin_armed = 1;
                    c->fin_err = rc == LX_ENOMEM ? LX_ENOMEM : LX_EINVAL;
                    char raw[sizeof(c->fin_msg)];
                    snprintf(raw, sizeof(raw), "%s: %s", tutor_llm_kind_name(c->kind), c->sse_err);
                    llm_scrub_copy(c, c->fin_msg, sizeof(c->fin_msg), raw);
                    c->h->http_cancel(c->http);
                    c->http = NULL;
                    llm_log_attempt(c, 0, c->sse_err);
                }
                /* else: the HTTP `done` ends the call when the body ends. */
            }
        }
    }
    if (--c->depth == 0 && c->is_cancelled)
        llm_call_free(c);
}

/* Starts the next attempt: LX_OK, LX_ETIMEDOUT when no time is left, or
 * http_fetch's code. */
static int llm_attempt(tutor_llm_call *c)
{
    lx_http_request rq;
    double left = c->deadline - llm_now_ms();
    int rc;

    if (left < 1.0)
        return LX_ETIMEDOUT;
    tutor_sse_free(c->sse);
    c->sse = NULL;
    c->sse_rc = LX_OK;
    c->sse_err[0] = '\0';
    c->raw_len = 0;
    c->is_raw_cut = 0;
    if (c->on_delta != NULL && (c->sse = tutor_sse_new(c->kind)) == NULL)
        return LX_ENOMEM;

    memset(&rq, 0, sizeof(rq));
    rq.struct_size = sizeof(rq);
    rq.method = "POST";
    rq.url = c->url;
    rq.headers = (const char *const *)c->headers;
    rq.body = c->body;
    rq.body_len = c->body_len;
    rq.timeout_ms = (long)left + 1;
    rq.connect_timeout_ms =
        (long)(c->connect_timeout_ms < rq.timeout_ms ? c->connect_timeout_ms : rq.timeout_ms);
    rq.max_response = LLM_MAX_RESPONSE;
    rq.on_data = c->on_delta != NULL ? llm_on_data : NULL;

    c->attempts++;
    rc = c->h->http_fetch(c->w, &rq, llm_on_http_done, c, &c->http);
    if (rc != LX_OK) {
        c->attempts--;
        c->http = NULL;
    }
    return rc;
}

static void llm_retry_timer(void *arg)
{
    tutor_llm_call *c = arg;
    int rc;

    c->timer = NULL; /* a one-shot timer frees itself */
    rc = llm_attempt(c);
    if (rc == LX_OK)
        return;
    if (rc == LX_ETIMEDOUT)
        llm_finishf(c, LX_ETIMEDOUT, "%s: no answer within %lld ms (attempts: %d)",
                    tutor_llm_kind_name(c->kind), c->deadline_ms, c->attempts);
    else
        llm_finishf(c, rc == LX_ENOMEM ? LX_ENOMEM : LX_EIO, "%s: the request could not start (%d)",
                    tutor_llm_kind_name(c->kind), rc);
}

static int llm_is_retry_status(int status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

/* Retry-After as milliseconds (delay-seconds only; an HTTP date is
 * ignored), or 0. */
static long long llm_retry_after_ms(const char *v)
{
    long long s = 0;

    if (v == NULL)
        return 0;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v < '0' || *v > '9')
        return 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        s = s * 10 + (*v - '0');
        if (s > LLM_RETRY_AFTER_MAX_S)
            s = LLM_RETRY_AFTER_MAX_S;
    }
    return s * 1000;
}

/* "HTTP <status>: reason" (just the reason when it already is "HTTP
 * <status>" or there is no status). */
static void llm_status_reason(char *buf, size_t buflen, int status, const char *reason)
{
    if (status > 0 && strncmp(reason, "HTTP ", 5) != 0)
        snprintf(buf, buflen, "HTTP %d: %s", status, reason);
    else
        snprintf(buf, buflen, "%s", reason);
}

/* Logs one failed attempt (no key, no header). */
static void llm_log_attempt(tutor_llm_call *c, int status, const char *reason)
{
    char what[300], msg[300];

    if (c->h->log == NULL)
        return;
    llm_status_reason(what, sizeof(what), status, reason);
    llm_scrub_copy(c, msg, sizeof(msg), what);
    c->h->log(LX_LOG_WARN, LLM_SRC, NULL, "%s attempt %d/%d failed: %s",
              tutor_llm_kind_name(c->kind), c->attempts, c->max_attempts, msg);
}

/* After a failed attempt that may be retried: waits and tries again, or
 * ends the call when no attempt or no time is left. */
static void llm_retry_or_end(tutor_llm_call *c, int status, const char *reason,
                             const char *retry_after)
{
    const char *name = tutor_llm_kind_name(c->kind);
    double now = llm_now_ms();
    unsigned shift = c->attempts > 1 ? (unsigned)(c->attempts - 1) : 0;
    long long cap, wait, ra;
    char what[300];

    llm_status_reason(what, sizeof(what), status, reason);
    if (now >= c->deadline - LLM_DEADLINE_SLACK_MS) {
        llm_finishf(c, LX_ETIMEDOUT, "%s: no answer within %lld ms (attempts: %d; last: %s)", name,
                    c->deadline_ms, c->attempts, what);
        return;
    }
    if (c->attempts >= c->max_attempts) {
        llm_finishf(c, LX_EIO, "%s: %s (attempts: %d)", name, what, c->attempts);
        return;
    }
    if (shift > 30)
        shift = 30;
    cap = c->backoff_ms << shift;
    if (cap > 3600000LL || cap < 0)
        cap = 3600000LL;
    wait = (long long)(llm_rand(c) % (uint64_t)(cap + 1));
    ra = llm_retry_after_ms(retry_after);
    if (wait < ra)
        wait = ra;
    if (now + (double)wait >= c->deadline) {
        llm_finishf(c, LX_EIO, "%s: %s (attempts: %d; no time left to retry)", name, what,
                    c->attempts);
        return;
    }
    c->timer = c->h->timer_start(c->w, (uint64_t)wait, 0, llm_retry_timer, c);
    if (c->timer == NULL)
        llm_finishf(c, LX_EIO, "%s: %s (attempts: %d)", name, what, c->attempts);
}

/* A 2xx streamed answer whose body ended: the last event, then whether
 * the stream was whole. Returns 0 when the call was cancelled meanwhile
 * (and is freed), else 1 with the outcome in *err and msg. */
static int llm_stream_end(tutor_llm_call *c, int *err, char *msg, size_t msglen)
{
    char perr[256];
    int rc;

    if (c->sse_rc != LX_OK) {
        *err = c->sse_rc == LX_ENOMEM ? LX_ENOMEM : LX_EINVAL;
        snprintf(msg, msglen, "%s", c->sse_err);
        return 1;
    }
    c->depth++;
    rc = tutor_sse_finish(c->sse, llm_delta, c, c->sse_err, sizeof(c->sse_err));
    if (rc != LX_OK && c->n_deltas == 0 && !c->is_cancelled && !c->is_raw_cut && c->raw_len > 0) {
        /* A server that ignored "stream": the whole answer as one piece. */
        char *text = NULL;
        size_t i = 0;

        while (i < c->raw_len &&
               (c->raw[i] == ' ' || c->raw[i] == '\r' || c->raw[i] == '\n' || c->raw[i] == '\t'))
            i++;
        if (i < c->raw_len && (c->raw[i] == '{' || c->raw[i] == '[')) {
            rc = tutor_llm_parse(c->kind, c->raw, c->raw_len, &text, perr, sizeof(perr));
            if (rc == LX_OK)
                llm_delta(text, strlen(text), c);
            else
                snprintf(c->sse_err, sizeof(c->sse_err), "%s", perr);
            free(text);
        }
    }
    if (--c->depth == 0 && c->is_cancelled) {
        llm_call_free(c);
        return 0;
    }
    if (rc == LX_OK && c->text_len == 0 && !c->is_text_oom) {
        *err = LX_EINVAL;
        snprintf(msg, msglen, "empty answer");
    } else if (rc == LX_OK) {
        *err = LX_OK;
        msg[0] = '\0';
    } else if (rc == LX_ENOMEM) {
        *err = LX_ENOMEM;
        snprintf(msg, msglen, "out of memory");
    } else if (c->n_deltas > 0) {
        *err = LX_EIO; /* cut after text was delivered */
        snprintf(msg, msglen, "the stream broke off: %s", c->sse_err);
    } else {
        *err = LX_EINVAL;
        snprintf(msg, msglen, "%s", c->sse_err);
    }
    return 1;
}

/* The end of one attempt (the HTTP client's `done`; curl is not on the
 * stack). */
static void llm_on_http_done(const lx_http_response *res, void *arg)
{
    tutor_llm_call *c = arg;
    const char *name = tutor_llm_kind_name(c->kind);
    char msg[512];
    int err;

    c->http = NULL; /* the client frees it after we return */
    c->http_status = res->status;
    if (c->is_fin_armed)
        return; /* cannot happen (cancelled), but the timer ends the call */

    if (res->err != LX_OK) {
        const char *why = res->errmsg != NULL && res->errmsg[0] != '\0' ? res->errmsg : "failed";
        int is_transport = res->err == LX_EIO || res->err == LX_ETIMEDOUT;

        llm_log_attempt(c, 0, why);
        if (res->err == LX_ETIMEDOUT && llm_now_ms() >= c->deadline - LLM_DEADLINE_SLACK_MS) {
            llm_finishf(c, LX_ETIMEDOUT, "%s: no answer within %lld ms (attempts: %d)", name,
                        c->deadline_ms, c->attempts);
        } else if (is_transport && c->n_deltas == 0) {
            llm_retry_or_end(c, 0, why, NULL);
        } else if (res->err == LX_ETOOBIG) {
            llm_finishf(c, LX_EIO, "%s: answer too large: %s", name, why);
        } else {
            llm_finishf(c, LX_EIO, "%s: %s%s", name, why,
                        c->n_deltas > 0 ? " (after part of the answer)" : "");
        }
        return;
    }

    if (res->status >= 200 && res->status < 300) {
        if (c->on_delta != NULL) {
            if (!llm_stream_end(c, &err, msg, sizeof(msg)))
                return; /* cancelled from on_delta: already freed */
        } else {
            char perr[256];
            int rc =
                tutor_llm_parse(c->kind, res->body, res->body_len, &c->text, perr, sizeof(perr));
            if (rc == LX_OK) {
                c->text_len = strlen(c->text);
                err = LX_OK;
                msg[0] = '\0';
            } else {
                err = rc == LX_ENOMEM ? LX_ENOMEM : LX_EINVAL;
                snprintf(msg, sizeof(msg), "%s", perr);
            }
        }
        if (err != LX_OK)
            llm_log_attempt(c, res->status, msg);
        llm_finishf(c, err, "%s: %s", name, msg);
        return;
    }

    /* An error status: a streamed body came through on_data. */
    {
        const char *b = c->on_delta != NULL ? (c->raw != NULL ? c->raw : "") : res->body;
        size_t blen = c->on_delta != NULL ? c->raw_len : res->body_len;
        char *reason = tutor_llm_error_reason(res->status, b, blen);
        const char *why = reason != NULL ? reason : "error";

        llm_log_attempt(c, res->status, why);
        if (llm_is_retry_status(res->status) && c->n_deltas == 0) {
            const char *ra =
                c->h->http_header != NULL ? c->h->http_header(res, "Retry-After") : NULL;
            char ra_copy[32];

            /* The header is borrowed for this callback only. */
            snprintf(ra_copy, sizeof(ra_copy), "%s", ra != NULL ? ra : "");
            llm_retry_or_end(c, res->status, why, ra != NULL ? ra_copy : NULL);
        } else {
            char what[300];
            llm_status_reason(what, sizeof(what), res->status, why);
            llm_finishf(c, LX_EIO, "%s: %s", name, what);
        }
        free(reason);
    }
}

/* ---- the public calls -------------------------------------------------------- */

/* Starts a model call (llm.h). */
int tutor_llm_start(const lx_host *h, lx_worker *w, const tutor_llm_cfg *cfg,
                    const tutor_llm_prompt *p, tutor_llm_delta_fn on_delta, tutor_llm_done_fn done,
                    void *arg, tutor_llm_call **out)
{
    tutor_llm_call *c;
    struct timespec ts;
    char err[256];
    int rc;

    if (out != NULL)
        *out = NULL;
    if (h == NULL || w == NULL || cfg == NULL || p == NULL || done == NULL)
        return LX_EINVAL;
    /* All of ABI 1.0; a host without them is a test's stand-in. */
    if (h->http_fetch == NULL || h->http_cancel == NULL || h->timer_start == NULL ||
        h->timer_stop == NULL) {
        if (h->log != NULL)
            h->log(LX_LOG_ERROR, LLM_SRC, NULL, "model call: the host has no HTTP client");
        return LX_EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return LX_ENOMEM;
    c->h = h;
    c->w = w;
    c->kind = cfg->kind;
    c->on_delta = on_delta;
    c->done = done;
    c->arg = arg;
    rc =
        tutor_llm_build(cfg, p, on_delta != NULL, &c->url, &c->headers, &c->body, err, sizeof(err));
    if (rc != LX_OK)
        goto fail;
    c->body_len = strlen(c->body);
    if (cfg->api_key != NULL && cfg->api_key[0] != '\0' &&
        (c->key = strdup(cfg->api_key)) == NULL) {
        rc = LX_ENOMEM;
        goto fail;
    }
    c->deadline_ms = cfg->deadline_ms > 0 ? cfg->deadline_ms : 120000;
    c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    c->max_attempts = cfg->max_attempts < 1 ? 1 : cfg->max_attempts > 10 ? 10 : cfg->max_attempts;
    c->backoff_ms = cfg->backoff_ms > 0 ? cfg->backoff_ms : 500;
    c->t0 = llm_now_ms();
    c->deadline = c->t0 + (double)c->deadline_ms;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)c;
    if (c->rng == 0)
        c->rng = 0x9E3779B97F4A7C15ULL;

    rc = llm_attempt(c);
    if (rc == LX_EINVAL) {
        snprintf(err, sizeof(err), "the request was refused (check base_url)");
        goto fail;
    }
    if (rc == LX_ENOMEM)
        goto fail;
    if (rc != LX_OK) {
        /* E.g. started from inside another call's on_data: try again from
         * the loop; `done` must not run from here. */
        c->timer = h->timer_start(w, 0, 0, llm_retry_timer, c);
        if (c->timer == NULL) {
            rc = LX_ENOMEM;
            goto fail;
        }
    }
    if (out != NULL)
        *out = c;
    return LX_OK;

fail:
    if (rc == LX_EINVAL && h->log != NULL) {
        char clean[256];
        llm_scrub_copy(c, clean, sizeof(clean), err);
        h->log(LX_LOG_ERROR, LLM_SRC, NULL, "%s model call: %s", tutor_llm_kind_name(cfg->kind),
               clean);
    }
    llm_call_free(c);
    return rc == LX_EINVAL ? LX_EINVAL : LX_ENOMEM;
}

/* Stops a call; done and on_delta will not run (llm.h). */
void tutor_llm_cancel(tutor_llm_call *c)
{
    if (c == NULL || c->is_cancelled || c->is_finishing)
        return;
    c->is_cancelled = 1;
    if (c->http != NULL) {
        c->h->http_cancel(c->http);
        c->http = NULL;
    }
    if (c->timer != NULL) {
        c->h->timer_stop(c->timer);
        c->timer = NULL;
    }
    if (c->depth == 0)
        llm_call_free(c);
}
