/*
 * speech.v1 (include/lexiaid/svc/speech_v1.h): synth.c for other plugins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stt.h"
#include "svc.h"
#include "synth.h"

struct lx_speech_call {
    speech_waiter *waiter;
    lx_speech_done_fn done;
    void *arg;
    /* a failure known at once is delivered from the loop, like any answer */
    lx_timer *timer;
    speech_fail fail;
    const lx_host *host;
};

static int svc_reply_audio(void *state)
{
    speech_state *st = state;

    return st->reply_audio && st->why_unavailable[0] == '\0' && st->local != NULL;
}

static void svc_done(void *arg, const speech_fail *fail, speech_body *body, int from)
{
    lx_speech_call *c = arg;
    lx_speech_done_fn done = c->done;
    void *darg = c->arg;
    lx_speech_audio a;

    (void)from;
    free(c);
    if (fail != NULL) {
        done(darg, fail->http >= 500 ? LX_EIO : LX_EINVAL, fail->http, fail->code, fail->message,
             NULL);
        return;
    }
    memset(&a, 0, sizeof(a));
    a.struct_size = sizeof(a);
    a.audio_base64 = body->data + body->audio_off;
    a.audio_base64_len = body->audio_len;
    a.timepoints_json = body->data + body->tp_off;
    a.timepoints_json_len = body->tp_len;
    done(darg, LX_OK, 200, "", "", &a);
}

static void svc_on_fail_timer(void *arg)
{
    lx_speech_call *c = arg;
    lx_speech_done_fn done = c->done;
    void *darg = c->arg;
    speech_fail f = c->fail;

    free(c);
    done(darg, f.http >= 500 ? LX_EIO : LX_EINVAL, f.http, f.code, f.message, NULL);
}

static int svc_synthesize(void *state, lx_worker *w, const lx_speech_request *rq,
                          lx_speech_done_fn done, void *arg, lx_speech_call **call)
{
    speech_state *st = state;
    speech_request r = {0};
    lx_speech_call *c;

    if (call != NULL)
        *call = NULL;
    if (rq == NULL || done == NULL || w == NULL || rq->struct_size < sizeof(uint32_t) ||
        (rq->text == NULL && rq->len > 0))
        return LX_EINVAL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return LX_ENOMEM;
    c->done = done;
    c->arg = arg;
    c->host = st->host;
    r.uid = rq->uid;
    r.text = rq->text;
    r.len = rq->len;
    r.voice = rq->voice;
    r.has_rate = rq->has_rate;
    r.rate = rq->rate;
    r.has_pitch = rq->has_pitch;
    r.pitch = rq->pitch;
    if (speech_synthesize(st, &r, svc_done, c, &c->waiter, &c->fail) != LX_OK) {
        c->timer = st->host->timer_start(w, 0, 0, svc_on_fail_timer, c);
        if (c->timer == NULL) {
            free(c);
            return LX_ENOMEM;
        }
    }
    if (call != NULL)
        *call = c;
    return LX_OK;
}

static void svc_cancel(lx_speech_call *c)
{
    if (c == NULL)
        return;
    if (c->timer != NULL) {
        c->host->timer_stop(c->timer);
        free(c);
        return;
    }
    speech_waiter_cancel(c->waiter); /* the synthesis goes on to the cache */
    free(c);
}

/* ---- transcription ------------------------------------------------------ */

struct lx_speech_transcription {
    speech_state *st;
    speech_stt_whole *t;
    lx_speech_text_fn done;
    void *arg;
};

static void svc_text_done(void *arg, int status, const char *message, const char *text,
                          double confidence)
{
    lx_speech_transcription *c = arg;
    lx_speech_text_fn done = c->done;
    void *darg = c->arg;
    int http = status == LX_ENOENT ? 503 : speech_stt_http_status(c->st, status);

    free(c);
    if (status == LX_OK)
        done(darg, LX_OK, 200, "", "", text, confidence);
    else
        done(darg, status, http, speech_stt_code(status), message, NULL, -1);
}

static int svc_transcribe(void *state, lx_worker *w, const void *audio, size_t len,
                          lx_speech_text_fn done, void *arg, lx_speech_transcription **t)
{
    speech_state *st = state;
    lx_speech_transcription *c;

    (void)w; /* each worker is its own process: st is this worker's */
    if (t != NULL)
        *t = NULL;
    if (audio == NULL || done == NULL)
        return LX_EINVAL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return LX_ENOMEM;
    c->st = st;
    c->done = done;
    c->arg = arg;
    c->t = speech_stt_transcribe(st, audio, len, svc_text_done, c);
    if (c->t == NULL) {
        free(c);
        return LX_ENOMEM;
    }
    if (t != NULL)
        *t = c;
    return LX_OK;
}

static void svc_transcribe_cancel(lx_speech_transcription *c)
{
    if (c == NULL)
        return;
    speech_stt_cancel(c->t);
    free(c);
}

static const lx_speech_v1 speech_svc_table = {
    .struct_size = sizeof(lx_speech_v1),
    .reply_audio = svc_reply_audio,
    .synthesize = svc_synthesize,
    .cancel = svc_cancel,
    .transcribe = svc_transcribe,
    .transcribe_cancel = svc_transcribe_cancel,
};

int speech_svc_register(speech_state *st, char *err, size_t errlen)
{
    int rc = st->host->svc_register(LX_SPEECH_V1, &speech_svc_table, st);

    if (rc != LX_OK)
        snprintf(err, errlen, "cannot register %s (%d)", LX_SPEECH_V1, rc);
    return rc;
}
