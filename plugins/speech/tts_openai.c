/*
 * An OpenAI-compatible /v1/audio/speech behind provider.h (OpenAI, and
 * self-hosted servers that speak its API).
 *
 * The service gives MP3 and no word times, so the times are ESTIMATED:
 * the local engine speaks the same segments at the same rate at the same
 * time (its default voice, in the helpers), and each of its word times is
 * moved linearly from its span of the local audio onto the span of the
 * service's audio that holds the same segments. GET /api/tts/voices says
 * so for these voices ("estimated_timepoints": true).
 *
 * The text goes in chunks of whole segments of at most OPENAI_MAX_INPUT
 * bytes (the service takes 4,096 characters), up to `parallel` at once;
 * their MP3 (ID3 tags dropped) are joined. The key goes in the
 * Authorization header only.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "tts_cloud.h"
#include "tts_wire.h"

#define OPENAI_MAX_INPUT 4000 /* bytes of text per request */

typedef struct o_job o_job;

typedef struct o_chunk {
    o_job *job;
    uint32_t seg0, seg1; /* segments [seg0, seg1] */
    char *body;          /* until sent */
    size_t len;
    speech_cloud_call *call;
    unsigned char *mp3; /* from its first frame */
    size_t mp3_len;
    uint64_t ms;
    uint32_t rate;
} o_chunk;

typedef struct o_provider {
    speech_provider base; /* first: the provider is cast from it */
    speech_state *st;
    o_job *jobs;
} o_provider;

struct o_job {
    o_job *next;
    o_provider *op;
    speech_provider_done_fn done; /* NULL once answered */
    void *arg;
    speech_seg *segs;
    size_t n_segs;
    o_chunk *chunks;
    size_t n_chunks, n_sent, n_done;
    int in_flight;
    lx_timer *timer;
    int local_pending;
    speech_audio local; /* the local engine's times */
};

static void o_job_free(o_job *j)
{
    for (o_job **pp = &j->op->jobs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    if (j->timer != NULL)
        j->op->st->host->timer_stop(j->timer);
    for (size_t i = 0; i < j->n_chunks; i++) {
        speech_cloud_cancel(j->chunks[i].call);
        free(j->chunks[i].body);
        free(j->chunks[i].mp3);
    }
    free(j->chunks);
    free(j->segs);
    speech_audio_free(&j->local);
    free(j);
}

/* Answers once; the job lives on while the local engine still speaks
 * (its answer frees it). */
static void o_answer(o_job *j, int status, const char *msg, speech_audio *audio)
{
    speech_provider_done_fn done = j->done;
    void *arg = j->arg;

    j->done = NULL;
    for (size_t i = 0; i < j->n_chunks; i++) {
        speech_cloud_cancel(j->chunks[i].call);
        j->chunks[i].call = NULL;
    }
    if (j->timer != NULL)
        j->op->st->host->timer_stop(j->timer);
    j->timer = NULL;
    if (!j->local_pending)
        o_job_free(j);
    done(arg, status, msg, audio);
}

/* Where local time x (ms) of chunk c falls in the service's audio. */
static uint32_t o_map(uint64_t x, uint64_t l0, uint64_t l1, uint64_t m0, uint64_t d)
{
    uint64_t y = x <= l0 ? 0 : (x - l0) * d / (l1 > l0 ? l1 - l0 : 1);

    if (d > 0 && y > d - 1)
        y = d - 1;
    return (uint32_t)(m0 + y);
}

static void o_finish(o_job *j)
{
    const speech_state *st = j->op->st;
    speech_audio out = {0};
    size_t mp3_len = 0;
    uint64_t m0 = 0;
    uint32_t rate = j->chunks[0].rate;

    if (j->local.n_segs != j->n_segs) {
        o_answer(j, LX_EIO, "the local engine did not time every segment", NULL);
        return;
    }
    for (size_t i = 0; i < j->n_chunks; i++) {
        if (j->chunks[i].rate != rate) {
            o_answer(j, LX_ERROR, "the service's chunks came back at different sample rates", NULL);
            return;
        }
        mp3_len += j->chunks[i].mp3_len;
    }
    out.mp3 = malloc(mp3_len ? mp3_len : 1);
    out.seg_end_ms = calloc(j->n_segs ? j->n_segs : 1, sizeof(uint32_t));
    out.marks = malloc((j->local.n_marks ? j->local.n_marks : 1) * sizeof(*out.marks));
    if (out.mp3 == NULL || out.seg_end_ms == NULL || out.marks == NULL) {
        speech_audio_free(&out);
        o_answer(j, LX_ENOMEM, "out of memory", NULL);
        return;
    }
    for (size_t i = 0; i < j->n_chunks; i++) {
        const o_chunk *c = &j->chunks[i];
        uint64_t l0 = 0, l1 = j->local.seg_end_ms[c->seg1];

        if (c->seg0 > 0)
            l0 = j->local.seg_end_ms[c->seg0 - 1] +
                 (j->segs[c->seg0 - 1].ends_para ? st->pause_ms : 0);
        memcpy(out.mp3 + out.mp3_len, c->mp3, c->mp3_len);
        out.mp3_len += c->mp3_len;
        for (uint32_t s = c->seg0; s <= c->seg1; s++)
            out.seg_end_ms[s] = o_map(j->local.seg_end_ms[s], l0, l1, m0, c->ms);
        for (size_t k = 0; k < j->local.n_marks; k++) {
            const speech_mark *m = &j->local.marks[k];

            if (m->seg >= c->seg0 && m->seg <= c->seg1) {
                out.marks[out.n_marks] = *m;
                out.marks[out.n_marks++].ms = o_map(m->ms, l0, l1, m0, c->ms);
            }
        }
        m0 += c->ms;
    }
    out.n_segs = j->n_segs;
    out.sample_rate = rate;
    out.n_samples = m0 * rate / 1000u;
    o_answer(j, LX_OK, "", &out);
}

static void o_on_local(void *arg, int status, const char *message, speech_audio *audio)
{
    o_job *j = arg;

    j->local_pending = 0;
    if (j->done == NULL) { /* answered already (a chunk failed) */
        if (audio != NULL)
            speech_audio_free(audio);
        o_job_free(j);
        return;
    }
    if (status != LX_OK) {
        char msg[400];

        snprintf(msg, sizeof(msg), "the local engine could not time the words: %s", message);
        o_answer(j, status == LX_ETIMEDOUT ? LX_ETIMEDOUT : LX_EIO, msg, NULL);
        return;
    }
    j->local = *audio; /* its members are ours */
    memset(audio, 0, sizeof(*audio));
    if (j->n_done == j->n_chunks)
        o_finish(j);
}

static void o_send_more(o_job *j);

static void o_on_chunk(void *arg, int status, int http, const char *body, size_t len,
                       const char *message)
{
    o_chunk *c = arg;
    o_job *j = c->job;
    char svc[320] = "", msg[700];
    size_t skip = 0;

    c->call = NULL;
    j->in_flight--;
    if (status == LX_ETIMEDOUT) {
        o_answer(j, LX_ETIMEDOUT, message, NULL);
        return;
    }
    if (status != LX_OK) {
        if (body != NULL)
            speech_cloud_error_message(body, len, svc, sizeof(svc));
        snprintf(msg, sizeof(msg), "%s%s%s", message, svc[0] ? ": " : "", svc);
        j->op->st->host->log(LX_LOG_WARN, SPEECH_SRC, NULL, "openai text-to-speech: %s", msg);
        o_answer(j, LX_ERROR, msg, NULL);
        return;
    }
    if (len >= 10 && memcmp(body, "ID3", 3) == 0) {
        const unsigned char *p = (const unsigned char *)body;

        skip = 10 + ((size_t)(p[6] & 0x7f) << 21 | (size_t)(p[7] & 0x7f) << 14 |
                     (size_t)(p[8] & 0x7f) << 7 | (size_t)(p[9] & 0x7f));
        skip += (p[5] & 0x10) ? 10 : 0;
    }
    if (skip >= len ||
        speech_mp3_duration((const unsigned char *)body + skip, len - skip, &c->ms, &c->rate) !=
            0 ||
        c->ms == 0) {
        snprintf(msg, sizeof(msg), "the text-to-speech service's answer is not MP3 audio");
        j->op->st->host->log(LX_LOG_WARN, SPEECH_SRC, NULL, "openai text-to-speech: %s", msg);
        o_answer(j, LX_ERROR, msg, NULL);
        return;
    }
    c->mp3_len = len - skip;
    if ((c->mp3 = malloc(c->mp3_len)) == NULL) {
        o_answer(j, LX_ENOMEM, "out of memory", NULL);
        return;
    }
    memcpy(c->mp3, body + skip, c->mp3_len);
    if (++j->n_done == j->n_chunks) {
        if (!j->local_pending)
            o_finish(j);
        return;
    }
    o_send_more(j);
}

static void o_send_more(o_job *j)
{
    const speech_state *st = j->op->st;
    char url[1024];

    snprintf(url, sizeof(url), "%s/v1/audio/speech", st->cloud_cfg->base_url);
    while (j->n_sent < j->n_chunks && j->in_flight < st->cloud_cfg->parallel) {
        o_chunk *c = &j->chunks[j->n_sent++];

        c->call = speech_cloud_fetch(j->op->st, "POST", url, c->body, c->len, o_on_chunk, c);
        c->body = NULL; /* taken */
        if (c->call == NULL) {
            o_answer(j, LX_ENOMEM, "out of memory", NULL);
            return;
        }
        j->in_flight++;
    }
}

static void o_on_start(void *arg)
{
    o_job *j = arg;

    j->timer = NULL;
    o_send_more(j);
}

/* The chunks: whole segments, at most OPENAI_MAX_INPUT bytes each (a
 * longer segment alone), their text as the engines get it. */
static int o_chunks(o_job *j, const char *text, const speech_text *t, const char *model,
                    const char *voice, double rate)
{
    size_t cap = 0;
    char *input = NULL;

    j->chunks = calloc(t->n_segs ? t->n_segs : 1, sizeof(*j->chunks));
    if (j->chunks == NULL)
        return LX_ENOMEM;
    for (uint32_t s = 0; s < t->n_segs;) {
        o_chunk *c = &j->chunks[j->n_chunks++];
        size_t at = 0;

        c->job = j;
        c->seg0 = s;
        do {
            size_t need = at + t->segs[s].len + 3;

            if (need > cap) {
                char *q = realloc(input, need);

                if (q == NULL) {
                    free(input);
                    return LX_ENOMEM;
                }
                input = q;
                cap = need;
            }
            if (at > 0) {
                memcpy(input + at, t->segs[s - 1].ends_para ? "\n\n" : " ",
                       t->segs[s - 1].ends_para ? 2 : 1);
                at += t->segs[s - 1].ends_para ? 2 : 1;
            }
            speech_seg_text(text, t, s, input + at);
            at += t->segs[s].len;
            s++;
        } while (s < t->n_segs && at + 2 + t->segs[s].len <= OPENAI_MAX_INPUT);
        input[at] = '\0';
        c->seg1 = s - 1;
        if ((c->body = speech_openai_body(model, voice, input, rate, &c->len)) == NULL) {
            free(input);
            return LX_ENOMEM;
        }
    }
    free(input);
    return LX_OK;
}

static int o_synthesize(speech_provider *pv, const char *text, const speech_text *t,
                        const speech_voice *v, double rate, double pitch,
                        speech_provider_done_fn done, void *arg)
{
    o_provider *op = (o_provider *)pv;
    speech_state *st = op->st;
    o_job *j = calloc(1, sizeof(*j));

    (void)pitch; /* the API has none */
    if (j == NULL)
        return LX_ENOMEM;
    j->op = op;
    j->done = done;
    j->arg = arg;
    j->next = op->jobs;
    op->jobs = j;
    j->n_segs = t->n_segs;
    j->segs = malloc((t->n_segs ? t->n_segs : 1) * sizeof(*j->segs));
    if (j->segs == NULL || o_chunks(j, text, t, st->cloud_cfg->model, v->name, rate) != LX_OK)
        goto nomem;
    memcpy(j->segs, t->segs, t->n_segs * sizeof(*t->segs));
    /* the local engine's times for the same segments, at the same rate */
    if (speech_local_times(st->local, text, t, st->dflt, rate, 0.0, o_on_local, j) != LX_OK)
        goto nomem;
    j->local_pending = 1;
    j->timer = st->host->timer_start(st->w, 0, 0, o_on_start, j);
    if (j->timer == NULL) {
        j->done = NULL; /* the local answer frees it */
        return LX_ENOMEM;
    }
    return LX_OK;
nomem:
    o_job_free(j);
    return LX_ENOMEM;
}

static void o_destroy(speech_provider *pv)
{
    o_provider *op = (o_provider *)pv;

    while (op->jobs != NULL)
        o_job_free(op->jobs);
    free(op);
}

speech_provider *speech_openai_new(speech_state *st)
{
    o_provider *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return NULL;
    op->st = st;
    op->base.name = "openai";
    op->base.synthesize = o_synthesize;
    op->base.destroy = o_destroy;
    return &op->base;
}
