/*
 * Google Cloud Text-to-Speech v1beta1 behind provider.h.
 *
 * A synthesis cuts every segment's words into chunks whose SSML, a <mark>
 * per word included, fits Google's 5,000-byte input limit (tts_wire.c),
 * sends up to `parallel` of them at once over host->http_fetch, asks for
 * LINEAR16 at one sample rate with SSML_MARK time points, joins the PCM in
 * text order (a paragraph_pause of silence after each paragraph but the
 * last, as the local engines do), and has it encoded to MP3 once, by the
 * local helpers (speech_local_encode: never on the loop). The marks' names
 * are the words' byte offsets in their segment, so they become
 * speech_marks directly.
 *
 * A voice that refuses SSML (Journey, Chirp) or gives no time points for
 * the marks (Studio) is an error naming the voice (LX_EINVAL: 400), never
 * audio without word times. Google's voices list is fetched at worker
 * start (again after voices_retry when that fails) and kept.
 */
#define _GNU_SOURCE 1 /* strcasestr */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "provider.h"
#include "tts_cloud.h"
#include "tts_wire.h"

#define GOOGLE_RATE 24000 /* Hz asked of every chunk, so that they join */

typedef struct g_provider g_provider;

typedef struct g_job g_job;

typedef struct g_chunk {
    g_job *job;
    speech_chunk c;
    char *body; /* until sent */
    size_t len;
    speech_cloud_call *call;
    speech_google_answer a;
    int is_done;
} g_chunk;

struct g_job {
    g_job *next; /* the provider's jobs */
    g_provider *gp;
    speech_provider_done_fn done;
    void *arg;
    char *voice;
    speech_text t; /* segments and words only (a copy of what counts) */
    g_chunk *chunks;
    size_t n_chunks, n_sent, n_done;
    int in_flight;
    /* joined */
    unsigned char *pcm;
    size_t n_samples;
    uint32_t rate;
    uint32_t *seg_end;
    speech_mark *marks;
    size_t n_marks;
    int encoding;
    lx_timer *timer; /* the first sends, or a failure known at once, from the loop */
    int too_big;
};

struct g_provider {
    speech_provider base; /* first: the provider is cast from it */
    speech_state *st;
    g_job *jobs;
    speech_cloud_call *voices_call;
    lx_timer *voices_timer;
};

static void g_job_free(g_job *j)
{
    for (g_job **pp = &j->gp->jobs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    if (j->timer != NULL)
        j->gp->st->host->timer_stop(j->timer);
    for (size_t i = 0; i < j->n_chunks; i++) {
        speech_cloud_cancel(j->chunks[i].call);
        free(j->chunks[i].body);
        speech_google_answer_free(&j->chunks[i].a);
    }
    free(j->chunks);
    free(j->voice);
    free(j->t.segs);
    free(j->t.words);
    free(j->pcm);
    free(j->seg_end);
    free(j->marks);
    free(j);
}

static void g_fail(g_job *j, int status, const char *msg)
{
    speech_provider_done_fn done = j->done;
    void *arg = j->arg;

    g_job_free(j);
    done(arg, status, msg, NULL);
}

static void g_on_encoded(void *arg, int status, const char *message, speech_audio *mp3)
{
    g_job *j = arg;
    speech_provider_done_fn done = j->done;
    void *darg = j->arg;
    speech_audio out = {0}; /* borrowed by done, its members taken (provider.h) */
    uint64_t shift_ms;

    if (status != LX_OK) {
        g_fail(j, status == LX_ENOENT || status == LX_EINVAL ? LX_EIO : status, message);
        return;
    }
    /* the decoder's delay comes first: every time moves by it */
    shift_ms = (mp3->n_samples - j->n_samples) * 1000u / mp3->sample_rate;
    out.sample_rate = mp3->sample_rate;
    out.n_samples = mp3->n_samples;
    out.mp3 = mp3->mp3;
    out.mp3_len = mp3->mp3_len;
    mp3->mp3 = NULL;
    speech_audio_free(mp3);
    for (size_t s = 0; s < j->t.n_segs; s++)
        j->seg_end[s] += (uint32_t)shift_ms;
    for (size_t k = 0; k < j->n_marks; k++)
        j->marks[k].ms += (uint32_t)shift_ms;
    out.seg_end_ms = j->seg_end;
    out.n_segs = j->t.n_segs;
    out.marks = j->marks;
    out.n_marks = j->n_marks;
    j->seg_end = NULL;
    j->marks = NULL;
    g_job_free(j);
    done(darg, LX_OK, "", &out);
}

/* Every chunk is in: PCM joined in order, marks placed, then MP3. */
static void g_join(g_job *j)
{
    const speech_state *st = j->gp->st;
    size_t total = 0, n_marks = 0, at = 0, pause;
    char msg[200];
    int rc;

    j->rate = j->chunks[0].a.rate;
    pause = (size_t)st->pause_ms * j->rate / 1000u;
    for (size_t i = 0; i < j->n_chunks; i++) {
        if (j->chunks[i].a.rate != j->rate) {
            g_fail(j, LX_ERROR, "the chunks came back at different sample rates");
            return;
        }
        total += j->chunks[i].a.n_samples;
        n_marks += j->chunks[i].a.n_marks;
    }
    total += pause * (j->t.n_segs > 0 ? j->t.n_segs : 1);
    j->pcm = calloc(total ? total * 2 : 1, 1);
    j->seg_end = calloc(j->t.n_segs ? j->t.n_segs : 1, sizeof(uint32_t));
    j->marks = malloc((n_marks ? n_marks : 1) * sizeof(*j->marks));
    if (j->pcm == NULL || j->seg_end == NULL || j->marks == NULL) {
        g_fail(j, LX_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < j->n_chunks; i++) {
        const g_chunk *c = &j->chunks[i];
        uint64_t start_ms = (uint64_t)at * 1000u / j->rate;
        uint32_t s = c->c.seg;

        memcpy(j->pcm + at * 2, c->a.pcm, c->a.n_samples * 2);
        for (size_t k = 0; k < c->a.n_marks; k++) {
            speech_mark *m = &j->marks[j->n_marks++];

            m->seg = s;
            m->off = c->a.mark_off[k];
            m->ms = (uint32_t)(start_ms + c->a.mark_ms[k]);
        }
        at += c->a.n_samples;
        j->seg_end[s] = (uint32_t)((uint64_t)at * 1000u / j->rate);
        if ((i + 1 == j->n_chunks || j->chunks[i + 1].c.seg != s) && j->t.segs[s].ends_para &&
            s + 1 < j->t.n_segs)
            at += pause; /* silence: calloc'd */
    }
    j->n_samples = at;
    j->encoding = 1;
    rc = speech_local_encode(st->local, j->pcm, at, j->rate, g_on_encoded, j);
    if (rc != LX_OK) {
        snprintf(msg, sizeof(msg), "%s",
                 rc == LX_ETOOBIG ? "more audio than a synthesis may make" : "out of memory");
        g_fail(j, rc, msg);
    }
}

static void g_send_more(g_job *j);

/* What Google says about a voice that cannot give word times. */
static int g_refuses_marks(const char *svc)
{
    return strcasestr(svc, "ssml") != NULL || strcasestr(svc, "mark") != NULL ||
           strcasestr(svc, "timepoint") != NULL || strcasestr(svc, "time point") != NULL;
}

static void g_on_chunk(void *arg, int status, int http, const char *body, size_t len,
                       const char *message)
{
    g_chunk *c = arg;
    g_job *j = c->job;
    char err[300], msg[700], svc[320] = "";

    c->call = NULL;
    j->in_flight--;
    if (status == LX_ETIMEDOUT) {
        g_fail(j, LX_ETIMEDOUT, message);
        return;
    }
    if (status != LX_OK) {
        if (body != NULL)
            speech_cloud_error_message(body, len, svc, sizeof(svc));
        if (http == 400 && g_refuses_marks(svc)) {
            snprintf(msg, sizeof(msg),
                     "The voice %s cannot give word times (Google says: %s); choose another "
                     "voice (GET /api/tts/voices)",
                     j->voice, svc);
            g_fail(j, LX_EINVAL, msg);
        } else if ((http == 400 || http == 404) && strcasestr(svc, "voice") != NULL) {
            snprintf(msg, sizeof(msg), "Google has no voice %s: %s", j->voice, svc);
            g_fail(j, LX_ENOENT, msg);
        } else {
            snprintf(msg, sizeof(msg), "%s%s%s", message, svc[0] ? ": " : "", svc);
            j->gp->st->host->log(LX_LOG_WARN, SPEECH_SRC, NULL, "google text-to-speech: %s", msg);
            g_fail(j, LX_ERROR, msg);
        }
        return;
    }
    if (speech_google_parse(body, len, GOOGLE_RATE, &c->a, err, sizeof(err)) != 0) {
        snprintf(msg, sizeof(msg), "Google's text-to-speech answer is not usable: %s", err);
        j->gp->st->host->log(LX_LOG_WARN, SPEECH_SRC, NULL, "%s", msg);
        g_fail(j, LX_ERROR, msg);
        return;
    }
    if (c->a.n_marks == 0 && c->c.n > 0) {
        snprintf(msg, sizeof(msg),
                 "The voice %s gives no word times (it ignores SSML marks); choose another voice "
                 "(GET /api/tts/voices)",
                 j->voice);
        g_fail(j, LX_EINVAL, msg);
        return;
    }
    c->is_done = 1;
    if (++j->n_done == j->n_chunks) {
        g_join(j);
        return;
    }
    g_send_more(j);
}

static void g_send_more(g_job *j)
{
    const speech_state *st = j->gp->st;
    char url[1024];

    snprintf(url, sizeof(url), "%s/v1beta1/text:synthesize", st->cloud_cfg->base_url);
    while (j->n_sent < j->n_chunks && j->in_flight < st->cloud_cfg->parallel) {
        g_chunk *c = &j->chunks[j->n_sent++];

        c->call = speech_cloud_fetch(j->gp->st, "POST", url, c->body, c->len, g_on_chunk, c);
        c->body = NULL; /* taken */
        if (c->call == NULL) {
            g_fail(j, LX_ENOMEM, "out of memory");
            return;
        }
        j->in_flight++;
    }
}

static void g_on_start(void *arg)
{
    g_job *j = arg;

    j->timer = NULL;
    if (j->too_big)
        g_fail(j, LX_ETOOBIG, "a word is longer than Google takes in one request");
    else
        g_send_more(j);
}

static int g_synthesize(speech_provider *pv, const char *text, const speech_text *t,
                        const speech_voice *v, double rate, double pitch,
                        speech_provider_done_fn done, void *arg)
{
    g_provider *gp = (g_provider *)pv;
    speech_chunk *cs = NULL;
    size_t n = 0, bad = 0;
    g_job *j;
    int rc;

    rc = speech_google_chunks(text, t, 0, &cs, &n, &bad);
    if (rc == LX_ENOMEM)
        return LX_ENOMEM;
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        free(cs);
        return LX_ENOMEM;
    }
    j->gp = gp;
    j->done = done;
    j->arg = arg;
    j->next = gp->jobs;
    gp->jobs = j;
    j->voice = strdup(v->name);
    j->t.segs = malloc((t->n_segs ? t->n_segs : 1) * sizeof(*t->segs));
    j->chunks = calloc(n ? n : 1, sizeof(*j->chunks));
    if (j->voice == NULL || j->t.segs == NULL || j->chunks == NULL)
        goto nomem;
    memcpy(j->t.segs, t->segs, t->n_segs * sizeof(*t->segs));
    j->t.n_segs = t->n_segs;
    j->too_big = rc == LX_ETOOBIG;
    j->n_chunks = j->too_big ? 0 : n;
    for (size_t i = 0; i < n; i++) {
        size_t sl;
        char *ssml = speech_google_ssml(text, t, &cs[i], &sl);
        const speech_voice *lv = v;

        j->chunks[i].job = j;
        j->chunks[i].c = cs[i];
        if (ssml == NULL)
            goto nomem;
        j->chunks[i].body =
            speech_google_body(ssml, v->name, lv->n_languages > 0 ? lv->languages[0] : NULL,
                               GOOGLE_RATE, rate, pitch, &j->chunks[i].len);
        free(ssml);
        if (j->chunks[i].body == NULL)
            goto nomem;
    }
    free(cs);
    j->timer = gp->st->host->timer_start(gp->st->w, 0, 0, g_on_start, j);
    if (j->timer == NULL) {
        g_job_free(j);
        return LX_ENOMEM;
    }
    return LX_OK;
nomem:
    free(cs);
    g_job_free(j);
    return LX_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* The voices list                                                          */

static void g_voices_fetch(g_provider *gp);

static void g_voices_on_timer(void *arg)
{
    g_provider *gp = arg;

    gp->voices_timer = NULL;
    g_voices_fetch(gp);
}

static void g_voices_on_answer(void *arg, int status, int http, const char *body, size_t len,
                               const char *message)
{
    g_provider *gp = arg;
    speech_state *st = gp->st;
    speech_voice_list l;
    char err[300];

    (void)http;
    gp->voices_call = NULL;
    if (status == LX_OK && speech_google_voices_parse(body, len, &l, err, sizeof(err)) == 0) {
        size_t n = l.n;

        if (speech_cloud_set_voices(st, &l) == LX_OK) {
            st->host->log(LX_LOG_INFO, SPEECH_SRC, NULL, "google text-to-speech: %zu voices", n);
            return;
        }
        snprintf(err, sizeof(err), "out of memory");
    } else if (status != LX_OK) {
        snprintf(err, sizeof(err), "%s", message);
    }
    st->host->log(LX_LOG_WARN, SPEECH_SRC, NULL,
                  "google text-to-speech: no voices list (%s); again in %lld ms", err,
                  st->cloud_cfg->voices_retry_ms);
    gp->voices_timer = st->host->timer_start(st->w, (uint64_t)st->cloud_cfg->voices_retry_ms, 0,
                                             g_voices_on_timer, gp);
}

static void g_voices_fetch(g_provider *gp)
{
    char url[1024];

    snprintf(url, sizeof(url), "%s/v1beta1/voices", gp->st->cloud_cfg->base_url);
    gp->voices_call = speech_cloud_fetch(gp->st, "GET", url, NULL, 0, g_voices_on_answer, gp);
}

static void g_destroy(speech_provider *pv)
{
    g_provider *gp = (g_provider *)pv;

    while (gp->jobs != NULL)
        g_job_free(gp->jobs);
    speech_cloud_cancel(gp->voices_call);
    if (gp->voices_timer != NULL)
        gp->st->host->timer_stop(gp->voices_timer);
    free(gp);
}

speech_provider *speech_google_new(speech_state *st)
{
    g_provider *gp = calloc(1, sizeof(*gp));

    if (gp == NULL)
        return NULL;
    gp->st = st;
    gp->base.name = "google";
    gp->base.synthesize = g_synthesize;
    gp->base.destroy = g_destroy;
    g_voices_fetch(gp);
    return &gp->base;
}
