/*
 * Dictation in a build without it (configure --disable-dictation): every
 * stream is refused with the reason st->stt.why_off gives (stt.h).
 */
#include "config.h"

#include <stdlib.h>

#include "stt.h"

speech_stt *speech_stt_open(speech_state *st, const speech_stt_sink *sink, void *arg, int *why)
{
    (void)st;
    (void)sink;
    (void)arg;
    *why = LX_ENOENT;
    return NULL;
}

int speech_stt_piece(speech_stt *s, const void *p, size_t len, int end)
{
    (void)s;
    (void)p;
    (void)len;
    (void)end;
    return LX_ESTATE;
}

void speech_stt_close(speech_stt *s)
{
    (void)s;
}

int speech_stt_http_status(const speech_state *st, int status)
{
    (void)st;
    (void)status;
    return 503;
}

struct speech_stt_whole {
    speech_state *st;
    lx_timer *timer;
    speech_stt_done_fn done;
    void *arg;
};

static void off_answer(void *arg)
{
    speech_stt_whole *t = arg;
    speech_stt_done_fn done = t->done;
    void *darg = t->arg;
    speech_state *st = t->st;

    free(t);
    done(darg, LX_ENOENT, st->stt.why_off, "", -1);
}

speech_stt_whole *speech_stt_transcribe(speech_state *st, const void *audio, size_t len,
                                        speech_stt_done_fn done, void *arg)
{
    speech_stt_whole *t = calloc(1, sizeof(*t));

    (void)audio;
    (void)len;
    if (t == NULL)
        return NULL;
    t->st = st;
    t->done = done;
    t->arg = arg;
    t->timer = st->host->timer_start(st->w, 0, 0, off_answer, t);
    if (t->timer == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void speech_stt_cancel(speech_stt_whole *t)
{
    if (t == NULL)
        return;
    t->st->host->timer_stop(t->timer);
    free(t);
}
