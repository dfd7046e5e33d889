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

speech_stt_whole *speech_stt_transcribe(speech_state *st, const void *audio, size_t len,
                                        speech_stt_done_fn done, void *arg)
{
    (void)st;
    (void)audio;
    (void)len;
    (void)done;
    (void)arg;
    return NULL; /* the routes check st->stt.rec first: never reached */
}

void speech_stt_cancel(speech_stt_whole *t)
{
    (void)t;
}
