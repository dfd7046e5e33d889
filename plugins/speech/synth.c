/*
 * One synthesis (synth.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/utf8.h>

#include "align.h"
#include "cache.h"
#include "prefs.h"
#include "provider.h"
#include "synth.h"
#include "tts_cloud.h"
#include "words.h"

#define SYNTH_RATE_MIN SPEECH_RATE_MIN
#define SYNTH_RATE_MAX SPEECH_RATE_MAX
#define SYNTH_PITCH_MAX SPEECH_PITCH_MAX

struct speech_waiter {
    speech_waiter *next;
    speech_done_fn done; /* NULL once cancelled */
    void *arg;
    int joined; /* came while an identical synthesis was running */
};

/* A synthesis before it is an op: waiting for the profile, or for the
 * loop's next turn. */
typedef struct synth_job {
    struct synth_job *next; /* st->starting, while on its timer */
    lx_timer *timer;
    speech_state *st;
    speech_waiter *waiter;
    char *text;
    size_t len;
    speech_text t;
    char *voice; /* asked for, or from the profile */
    int voice_is_asked;
    int has_rate, has_pitch;
    double rate, pitch;
} synth_job;

enum { OP_CACHE = 1, OP_PROVIDER = 2 };

struct speech_op {
    speech_op *next; /* st->in_flight */
    speech_state *st;
    char key[SPEECH_CACHE_KEY_LEN + 1];
    char *text;
    size_t len;
    speech_text t;
    const speech_voice *voice;
    double rate, pitch;
    speech_waiter *waiters;
    int stage;
};

static void synth_failf(speech_fail *f, int http, const char *code, const char *fmt, ...)
    LX_PRINTF(4, 5);

static void synth_failf(speech_fail *f, int http, const char *code, const char *fmt, ...)
{
    va_list ap;

    f->http = http;
    f->code = code;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Ops: one synthesis, any number of waiters                                */

static int synth_has_waiters(const speech_op *op)
{
    for (const speech_waiter *w = op->waiters; w != NULL; w = w->next)
        if (w->done != NULL)
            return 1;
    return 0;
}

static void synth_unlink(speech_op *op)
{
    for (speech_op **pp = &op->st->in_flight; *pp != NULL; pp = &(*pp)->next)
        if (*pp == op) {
            *pp = op->next;
            return;
        }
}

static void synth_op_free(speech_op *op)
{
    while (op->waiters != NULL) {
        speech_waiter *w = op->waiters;

        op->waiters = w->next;
        free(w);
    }
    speech_text_free(&op->t);
    free(op->text);
    free(op);
}

/* Ends op: every waiter still waiting hears, in the order they came. */
static void synth_op_end(speech_op *op, const speech_fail *fail, speech_body *body, int from_cache)
{
    speech_waiter *list = op->waiters, *rev = NULL;

    synth_unlink(op);
    op->waiters = NULL;
    while (list != NULL) { /* waiters were pushed at the head */
        speech_waiter *w = list;

        list = w->next;
        w->next = rev;
        rev = w;
    }
    synth_op_free(op);
    while (rev != NULL) {
        speech_waiter *w = rev;

        rev = w->next;
        if (w->done != NULL)
            w->done(w->arg, fail, body,
                    from_cache  ? SPEECH_FROM_CACHE
                    : w->joined ? SPEECH_FROM_SHARED
                                : SPEECH_FROM_ENGINE);
        free(w);
    }
}

static void synth_on_audio(void *arg, int status, const char *message, speech_audio *audio)
{
    speech_op *op = arg;
    speech_state *st = op->st;
    speech_fail fail;
    speech_tp *tp = NULL;
    size_t n_tp = 0;
    speech_body *body;
    uint64_t total_ms;

    switch (status) {
    case LX_OK:
        break;
    case LX_ETOOBIG:
        synth_failf(&fail, 400, "TEXT_TOO_LONG", "The text makes more audio than allowed: %s",
                    message);
        synth_op_end(op, &fail, NULL, 0);
        return;
    case LX_ESTATE:
        synth_failf(&fail, 503, "SPEECH_BUSY", "Speech synthesis is busy: %s; try again", message);
        synth_op_end(op, &fail, NULL, 0);
        return;
    case LX_ETIMEDOUT:
        synth_failf(&fail, 504, "SPEECH_TIMEOUT", "%s", message);
        synth_op_end(op, &fail, NULL, 0);
        return;
    case LX_ENOENT:
        synth_failf(&fail, 400, "UNKNOWN_VOICE", "%s", message);
        synth_op_end(op, &fail, NULL, 0);
        return;
    case LX_EINVAL: /* a cloud voice that gives no word times */
        synth_failf(&fail, 400, "VOICE_UNSUPPORTED", "%s", message);
        synth_op_end(op, &fail, NULL, 0);
        return;
    case LX_ERROR: /* a cloud service failed */
        synth_failf(&fail, 502, "SPEECH_UPSTREAM_FAILED", "Speech synthesis failed: %s", message);
        synth_op_end(op, &fail, NULL, 0);
        return;
    default:
        synth_failf(&fail, 503, "SPEECH_UNAVAILABLE", "Speech synthesis failed: %s; try again",
                    message);
        synth_op_end(op, &fail, NULL, 0);
        return;
    }
    total_ms = audio->n_samples * 1000u / audio->sample_rate;
    if (audio->n_segs != op->t.n_segs ||
        speech_align(&op->t, audio->marks, audio->n_marks, audio->seg_end_ms,
                     total_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)total_ms, &tp,
                     &n_tp) != LX_OK ||
        (body = speech_body_build(op->text, &op->t, tp, n_tp, audio->mp3, audio->mp3_len)) ==
            NULL) {
        free(tp);
        speech_audio_free(audio);
        synth_failf(&fail, 500, "INTERNAL", "Out of memory building the audio");
        synth_op_end(op, &fail, NULL, 0);
        return;
    }
    free(tp);
    speech_audio_free(audio);
    if (st->cache != NULL)
        speech_cache_put(st->cache, op->key, body);
    synth_op_end(op, NULL, body, 0);
    speech_body_unref(body);
}

static void synth_run(speech_op *op)
{
    speech_state *st = op->st;
    speech_provider *pv = speech_provider_for(st, op->voice);
    speech_fail fail;

    op->stage = OP_PROVIDER;
    if (pv == NULL || st->local == NULL ||
        pv->synthesize(pv, op->text, &op->t, op->voice, op->rate, op->pitch, synth_on_audio, op) !=
            LX_OK) {
        synth_failf(&fail, 503, "SPEECH_UNAVAILABLE", "Speech synthesis is not available here");
        synth_op_end(op, &fail, NULL, 0);
    }
}

static void synth_on_cache(void *arg, speech_body *body)
{
    speech_op *op = arg;

    if (op->st->local == NULL) { /* the worker is stopping */
        speech_body_unref(body);
        synth_unlink(op);
        synth_op_free(op);
        return;
    }
    if (body != NULL) {
        synth_op_end(op, NULL, body, 1);
        speech_body_unref(body);
    } else if (!synth_has_waiters(op)) {
        /* everyone left before anything started: say nothing */
        synth_unlink(op);
        synth_op_free(op);
    } else {
        synth_run(op);
    }
}

/* ------------------------------------------------------------------------ */
/* From request to op                                                       */

static void synth_job_free(synth_job *j)
{
    if (j->waiter != NULL)
        free(j->waiter);
    speech_text_free(&j->t);
    free(j->text);
    free(j->voice);
    free(j);
}

static void synth_start(synth_job *j)
{
    speech_state *st = j->st;
    const speech_voice *v;
    speech_op *op;
    speech_fail fail;
    int32_t rate_milli, pitch_centi;

    if (st->local == NULL || j->waiter->done == NULL) { /* stopping, or nobody waits */
        synth_job_free(j);
        return;
    }
    v = j->voice_is_asked
            ? speech_voice_find(speech_voices_now(st), j->voice)
            : speech_voice_for(speech_voices_now(st), j->voice, speech_voice_default(st));
    if (v == NULL)
        v = speech_voice_default(st);
    rate_milli = (int32_t)lround((j->has_rate ? j->rate : 1.0) * 1000.0);
    pitch_centi = (int32_t)lround((j->has_pitch ? j->pitch : 0.0) * 100.0);

    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        speech_waiter *w = j->waiter;

        j->waiter = NULL;
        synth_job_free(j);
        synth_failf(&fail, 500, "INTERNAL", "Out of memory");
        w->done(w->arg, &fail, NULL, 0);
        free(w);
        return;
    }
    speech_cache_key(v->name, rate_milli, pitch_centi, st->kbps, st->pause_ms, j->text, j->len,
                     op->key);
    for (speech_op *o = st->in_flight; o != NULL; o = o->next) {
        if (strcmp(o->key, op->key) == 0) { /* the same synthesis: wait for it */
            j->waiter->next = o->waiters;
            j->waiter->joined = 1;
            o->waiters = j->waiter;
            j->waiter = NULL;
            synth_job_free(j);
            free(op);
            return;
        }
    }
    op->st = st;
    op->voice = v;
    op->rate = rate_milli / 1000.0;
    op->pitch = pitch_centi / 100.0;
    op->text = j->text;
    op->len = j->len;
    op->t = j->t;
    op->waiters = j->waiter;
    j->text = NULL;
    j->waiter = NULL;
    memset(&j->t, 0, sizeof(j->t));
    synth_job_free(j);
    op->next = st->in_flight;
    st->in_flight = op;
    op->stage = OP_CACHE;
    if (st->cache == NULL || speech_cache_get(st->cache, op->key, synth_on_cache, op) != LX_OK)
        synth_run(op);
}

static void synth_on_start(void *arg)
{
    synth_job *j = arg;

    for (synth_job **pp = &j->st->starting; *pp != NULL; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    j->timer = NULL; /* a one-shot timer frees itself */
    synth_start(j);
}

static int st_cloud(const synth_job *j)
{
    return j->st->cloud != NULL;
}

static void synth_on_profile(void *arg, int status, const char *message, const char *json)
{
    synth_job *j = arg;
    speech_prefs p;

    (void)message;
    if (status != LX_OK || json == NULL) {
        synth_start(j);
        return;
    }
    speech_prefs_of(json, st_cloud(j), &p);
    if (j->voice == NULL && p.voice[0] != '\0')
        j->voice = strdup(p.voice);
    if (!j->has_rate && p.has_rate) {
        j->has_rate = 1;
        j->rate = p.rate;
    }
    if (!j->has_pitch && p.has_pitch) {
        j->has_pitch = 1;
        j->pitch = p.pitch;
    }
    synth_start(j);
}

int speech_synthesize(speech_state *st, const speech_request *rq, speech_done_fn done, void *arg,
                      speech_waiter **out, speech_fail *fail)
{
    synth_job *j;
    int rc;

    *out = NULL;
    if (st->why_unavailable[0] != '\0' || st->local == NULL) {
        synth_failf(fail, 503, "SPEECH_UNAVAILABLE", "Speech synthesis is not available: %s",
                    st->why_unavailable[0] ? st->why_unavailable : "not running in this worker");
        return LX_EINVAL;
    }
    if (rq->text == NULL || rq->len == 0) {
        synth_failf(fail, 400, "TEXT_EMPTY", "There is no text to read");
        return LX_EINVAL;
    }
    if (rq->len > st->max_text) {
        synth_failf(fail, 400, "TEXT_TOO_LONG",
                    "The text is %zu bytes; at most %zu bytes can be read at once", rq->len,
                    st->max_text);
        return LX_EINVAL;
    }
    if (!lx_utf8_valid(rq->text, rq->len)) {
        synth_failf(fail, 400, "INVALID_UTF8", "The text is not valid UTF-8");
        return LX_EINVAL;
    }
    if (rq->voice != NULL && speech_voice_find(speech_voices_now(st), rq->voice) == NULL) {
        synth_failf(fail, 400, "UNKNOWN_VOICE", "There is no voice \"%.100s\". The voices: %.3500s",
                    rq->voice, speech_voices_now(st)->names);
        return LX_EINVAL;
    }
    if (rq->has_rate &&
        !(isfinite(rq->rate) && rq->rate >= SYNTH_RATE_MIN && rq->rate <= SYNTH_RATE_MAX)) {
        synth_failf(fail, 400, "INVALID_RATE", "speaking_rate must be between %.2f and %.1f",
                    SYNTH_RATE_MIN, SYNTH_RATE_MAX);
        return LX_EINVAL;
    }
    if (rq->has_pitch &&
        !(isfinite(rq->pitch) && rq->pitch >= -SYNTH_PITCH_MAX && rq->pitch <= SYNTH_PITCH_MAX)) {
        synth_failf(fail, 400, "INVALID_PITCH", "pitch must be between -%.0f and %.0f semitones",
                    SYNTH_PITCH_MAX, SYNTH_PITCH_MAX);
        return LX_EINVAL;
    }

    j = calloc(1, sizeof(*j));
    if (j == NULL || (j->waiter = calloc(1, sizeof(*j->waiter))) == NULL ||
        (j->text = malloc(rq->len + 1)) == NULL ||
        (rq->voice != NULL && (j->voice = strdup(rq->voice)) == NULL))
        goto nomem;
    memcpy(j->text, rq->text, rq->len);
    j->text[rq->len] = '\0';
    j->len = rq->len;
    rc = speech_split(j->text, j->len, 0, 0, &j->t);
    if (rc == LX_ENOMEM)
        goto nomem;
    if (rc != LX_OK || j->t.n_words == 0) {
        synth_job_free(j);
        synth_failf(fail, 400, "TEXT_EMPTY", "The text has no words to read");
        return LX_EINVAL;
    }
    j->st = st;
    j->voice_is_asked = rq->voice != NULL;
    j->has_rate = rq->has_rate;
    j->rate = rq->rate;
    j->has_pitch = rq->has_pitch;
    j->pitch = rq->pitch;
    j->waiter->done = done;
    j->waiter->arg = arg;
    *out = j->waiter;
    if (rq->uid != NULL && st->sv != NULL && (!rq->voice || !rq->has_rate || !rq->has_pitch) &&
        st->sv->profile_get(st->sv_state, st->w, rq->uid, synth_on_profile, j) == LX_OK)
        return LX_OK;
    /* No profile to read: go on from the loop, never inside this call. */
    j->timer = st->host->timer_start(st->w, 0, 0, synth_on_start, j);
    if (j->timer == NULL) {
        *out = NULL;
        goto nomem;
    }
    j->next = st->starting;
    st->starting = j;
    return LX_OK;
nomem:
    if (j != NULL)
        synth_job_free(j);
    synth_failf(fail, 500, "INTERNAL", "Out of memory");
    return LX_ENOMEM;
}

void speech_waiter_cancel(speech_waiter *wt)
{
    if (wt != NULL)
        wt->done = NULL;
}

void speech_synth_stop(speech_state *st)
{
    speech_op **pp = &st->in_flight;

    while (st->starting != NULL) {
        synth_job *j = st->starting;

        st->starting = j->next;
        st->host->timer_stop(j->timer);
        synth_job_free(j);
    }
    while (*pp != NULL) {
        speech_op *op = *pp;

        if (op->stage == OP_PROVIDER) {
            *pp = op->next;
            synth_op_free(op);
        } else {
            pp = &op->next;
        }
    }
}
