/*
 * Dictation streams (stt.h).
 *
 * One piece at a time: its audio side runs on the offload pool (the
 * dictate object is touched by that job only while it runs), then the
 * phrase pieces it gave are fed to the recognizer one after another, then
 * the sink hears the interim result and `ready`. A piece that arrives
 * while the stream is busy ending a phrase on its own (piece_wait) waits
 * in `queued`.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dictate.h"
#include "pool.h"
#include "recognizer.h"
#include "stt.h"

typedef struct piece {
    unsigned char *p;
    size_t len;
    int end;
} piece;

struct speech_stt {
    speech_state *st;
    const speech_stt_sink *sink;
    void *arg;
    const speech_rec_ops *rec;
    void *session;
    speech_dictate *d;
    int busy;          /* a piece or a phrase end is being handled */
    int from_client;   /* ...and it is a client's piece (it gets `ready`) */
    int in_job;        /* the offload job holds d */
    int closed;        /* closed while in_job: the job's done frees */
    int ended;         /* the last piece was handled, or the stream failed */
    piece cur, queued; /* the piece in progress; one waiting (p NULL: none) */
    int job_rc;
    size_t next; /* the phrase piece of d to feed next */
    int last_final;
    char *phrase; /* the phrase so far (interim) */
    lx_timer *timer;
    int fail_status;
    char fail_msg[256];
};

static void stt_run(speech_stt *s);
static void stt_feed_next(speech_stt *s);

int speech_stt_http_status(const speech_state *st, int status)
{
    switch (status) {
    case LX_EINVAL:
        return 400;
    case LX_ETOOBIG:
        return 413;
    case LX_ESTATE:
        return 503;
    case LX_ETIMEDOUT:
        return 504;
    case LX_EIO:
        return st->stt.provider == SPEECH_STT_LOCAL ? 503 : 502;
    case LX_ECANCELED:
        return 503;
    default:
        return 500;
    }
}

static void stt_free(speech_stt *s)
{
    if (s->timer != NULL)
        s->st->host->timer_stop(s->timer);
    if (s->session != NULL)
        s->rec->close(s->session);
    speech_dictate_free(s->d);
    free(s->cur.p);
    free(s->queued.p);
    free(s->phrase);
    free(s);
}

speech_stt *speech_stt_open(speech_state *st, const speech_stt_sink *sink, void *arg, int *why)
{
    if (st->stt.rec == NULL) {
        *why = LX_ENOENT;
        return NULL;
    }
    *why = LX_ENOMEM;
    speech_stt *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->st = st;
    s->sink = sink;
    s->arg = arg;
    s->rec = st->stt.rec;
    speech_dictate_opts o = {
        .limits = {.max_bytes = st->stt.max_bytes, .max_ms = (uint64_t)st->stt.max_ms},
        .vad = {.end_silence_ms = (uint32_t)st->stt.end_silence_ms,
                .max_phrase_ms = (uint32_t)st->stt.max_phrase_ms},
        .timeslice_ms = 1000,
    };
    if (speech_dictate_new(&o, &s->d) != LX_OK || (s->session = s->rec->open(st)) == NULL) {
        stt_free(s);
        return NULL;
    }
    return s;
}

/* The stream cannot go on: the sink hears why, once. */
static void stt_fail(speech_stt *s, int status, const char *msg)
{
    s->ended = 1;
    s->busy = 0;
    s->sink->failed(s->arg, status, msg);
}

static void stt_on_timer(void *arg)
{
    speech_stt *s = arg;

    s->timer = NULL;
    if (s->busy || s->ended || !speech_vad_in_phrase(&s->d->vad))
        return;
    /* No piece for a while: the speaker stopped; end the phrase here. */
    s->busy = 1;
    s->from_client = 0;
    s->job_rc = speech_dictate_end_phrase(s->d);
    s->next = 0;
    stt_feed_next(s);
}

/* The piece (or phrase end) is handled. */
static void stt_piece_done(speech_stt *s)
{
    int from_client = s->from_client;

    if (s->fail_status != LX_OK) {
        stt_fail(s, s->fail_status, s->fail_msg);
        return;
    }
    s->busy = 0;
    if (from_client) {
        if (!s->last_final) /* an interim after every piece */
            s->sink->result(s->arg, s->phrase != NULL ? s->phrase : "", 0, -1);
        if (s->cur.end)
            s->ended = 1;
        free(s->cur.p);
        s->cur.p = NULL;
        s->sink->ready(s->arg); /* may close the stream: s is gone then */
        return;
    }
    if (s->queued.p != NULL)
        stt_run(s);
}

static void stt_on_rec(void *arg, int status, const char *message, const char *text, int is_final,
                       double confidence)
{
    speech_stt *s = arg;

    if (status != LX_OK) {
        stt_fail(s, status, message);
        return;
    }
    free(s->phrase);
    s->phrase = NULL;
    if (is_final && text[0] == '\0')
        is_final = 0; /* nothing was said: an interim "" clears the phrase */
    s->last_final = is_final;
    if (is_final) {
        s->sink->result(s->arg, text, 1, confidence);
    } else {
        s->phrase = strdup(text);
        if (s->phrase == NULL) {
            stt_fail(s, LX_ENOMEM, "out of memory");
            return;
        }
    }
    stt_feed_next(s);
}

static void stt_feed_next(speech_stt *s)
{
    speech_vad *v = &s->d->vad;

    if (s->job_rc != LX_OK && s->fail_status == LX_OK) {
        s->fail_status = s->job_rc;
        snprintf(s->fail_msg, sizeof(s->fail_msg), "%s",
                 s->d->err[0] ? s->d->err : "out of memory");
    }
    if (s->next >= v->n_pieces) {
        stt_piece_done(s);
        return;
    }
    speech_vad_piece *pc = &v->pieces[s->next++];
    if (s->rec->feed(s->session, v->out + pc->off, pc->n, pc->ends, stt_on_rec, s) != LX_OK)
        stt_fail(s, LX_ENOMEM, "out of memory");
}

static void stt_job_work(void *arg)
{
    speech_stt *s = arg;

    s->job_rc = speech_dictate_piece(s->d, s->cur.p, s->cur.len, s->cur.end);
}

static void stt_job_done(void *arg, int status)
{
    speech_stt *s = arg;

    s->in_job = 0;
    if (s->closed) {
        stt_free(s);
        return;
    }
    if (status != LX_OK) {
        stt_fail(s, LX_ECANCELED, "the server is stopping");
        return;
    }
    /* Arm the phrase's own end for a client that stops sending (first: the
     * feeding below may end in a sink call that closes the stream). */
    if (!s->cur.end && s->st->stt.piece_wait_ms > 0)
        s->timer = s->st->host->timer_start(s->st->w, (uint64_t)s->st->stt.piece_wait_ms, 0,
                                            stt_on_timer, s);
    s->next = 0;
    stt_feed_next(s);
}

/* Starts the queued piece. */
static void stt_run(speech_stt *s)
{
    s->cur = s->queued;
    s->queued.p = NULL;
    s->busy = 1;
    s->from_client = 1;
    s->in_job = 1;
    if (s->timer != NULL) {
        s->st->host->timer_stop(s->timer);
        s->timer = NULL;
    }
    if (s->st->host->offload(s->st->w, stt_job_work, stt_job_done, s) != LX_OK) {
        s->in_job = 0;
        stt_fail(s, LX_ENOMEM, "out of memory");
    }
}

int speech_stt_piece(speech_stt *s, const void *p, size_t len, int end)
{
    if (s->ended || s->queued.p != NULL || (s->busy && s->from_client))
        return LX_ESTATE;
    s->queued.p = malloc(len ? len : 1);
    if (s->queued.p == NULL)
        return LX_ENOMEM;
    if (len > 0)
        memcpy(s->queued.p, p, len);
    s->queued.len = len;
    s->queued.end = end;
    if (!s->busy)
        stt_run(s);
    return LX_OK;
}

void speech_stt_close(speech_stt *s)
{
    if (s == NULL)
        return;
    if (s->timer != NULL) {
        s->st->host->timer_stop(s->timer);
        s->timer = NULL;
    }
    if (s->session != NULL) { /* no recognizer answer after this */
        s->rec->close(s->session);
        s->session = NULL;
    }
    if (s->in_job)
        s->closed = 1;
    else
        stt_free(s);
}

/* ------------------------------------------------------------------------ */
/* A whole recording                                                        */

struct speech_stt_whole {
    speech_state *st;
    speech_stt *s;
    speech_stt_done_fn done;
    void *arg;
    char *text;
    size_t len;
    double conf_sum;
    int n_conf, n_finals;
    lx_timer *timer; /* dictation off: the answer comes from the loop */
};

static void whole_free(speech_stt_whole *t)
{
    if (t->timer != NULL)
        t->st->host->timer_stop(t->timer);
    speech_stt_close(t->s);
    free(t->text);
    free(t);
}

static void whole_result(void *arg, const char *text, int is_final, double confidence)
{
    speech_stt_whole *t = arg;
    size_t n = strlen(text);

    if (!is_final || n == 0)
        return;
    t->n_finals++;
    if (confidence >= 0) {
        t->conf_sum += confidence;
        t->n_conf++;
    }
    char *nt = realloc(t->text, t->len + n + 2);
    if (nt == NULL)
        return; /* ready reports the text so far */
    t->text = nt;
    if (t->len > 0)
        t->text[t->len++] = ' ';
    memcpy(t->text + t->len, text, n + 1);
    t->len += n;
}

static void whole_ready(void *arg)
{
    speech_stt_whole *t = arg;
    speech_stt_done_fn done = t->done;
    void *darg = t->arg;
    char *text = t->text;
    double conf = t->n_conf > 0 ? t->conf_sum / t->n_conf : -1.0;

    t->text = NULL;
    whole_free(t);
    done(darg, LX_OK, "", text != NULL ? text : "", conf);
    free(text);
}

static void whole_failed(void *arg, int status, const char *message)
{
    speech_stt_whole *t = arg;
    speech_stt_done_fn done = t->done;
    void *darg = t->arg;
    char msg[256];

    snprintf(msg, sizeof(msg), "%s", message);
    whole_free(t);
    done(darg, status, msg, "", -1);
}

static const speech_stt_sink whole_sink = {whole_result, whole_ready, whole_failed};

static void whole_off(void *arg)
{
    speech_stt_whole *t = arg;

    t->timer = NULL;
    whole_failed(t, LX_ENOENT, t->st->stt.why_off);
}

speech_stt_whole *speech_stt_transcribe(speech_state *st, const void *audio, size_t len,
                                        speech_stt_done_fn done, void *arg)
{
    speech_stt_whole *t = calloc(1, sizeof(*t));
    int why;

    if (t == NULL)
        return NULL;
    t->st = st;
    t->done = done;
    t->arg = arg;
    t->s = speech_stt_open(st, &whole_sink, t, &why);
    if (t->s == NULL) {
        if (why == LX_ENOENT &&
            (t->timer = st->host->timer_start(st->w, 0, 0, whole_off, t)) != NULL)
            return t;
        free(t);
        return NULL;
    }
    if (speech_stt_piece(t->s, audio, len, 1) != LX_OK) {
        whole_free(t);
        return NULL;
    }
    return t;
}

void speech_stt_cancel(speech_stt_whole *t)
{
    if (t != NULL)
        whole_free(t);
}
