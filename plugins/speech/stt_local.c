/*
 * The local recognizer: pocketsphinx in the speech helpers (recognizer.h).
 *
 * A session is a stream; the pool reserves a helper for the session from
 * the first request of a phrase until the request that ends it, so the
 * phrase's audio all reaches the decoder that holds it. The helpers run
 * with --stt-model; their pool is the worker's st->stt_pool.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "proto.h"
#include "recognizer.h"

typedef struct local_rec {
    speech_state *st;
    int in_phrase; /* a phrase was begun on a helper */
    int pending;   /* a request is in the pool */
    int closed;    /* closed while pending: the answer frees it */
    speech_rec_fn done;
    void *arg;
} local_rec;

static void *local_open(speech_state *st)
{
    local_rec *r = calloc(1, sizeof(*r));
    if (r != NULL)
        r->st = st;
    return r;
}

static void local_free(local_rec *r)
{
    if (r->in_phrase)
        speech_pool_release(r->st->stt_pool, r);
    free(r);
}

static void local_answer(void *arg, int status, const char *message, const unsigned char *frame,
                         size_t len)
{
    local_rec *r = arg;
    speech_transcript t = {0};

    r->pending = 0;
    if (r->closed) {
        local_free(r);
        return;
    }
    if (status == LX_OK && speech_transcript_decode(frame, len, &t) != LX_OK) {
        status = LX_EIO;
        message = "the speech helper answered something else than a transcript";
    }
    if (status == LX_EINVAL) /* the helper's own error: its engine failed */
        status = LX_EIO;
    if (status != LX_OK || t.is_final)
        r->in_phrase = 0; /* a final ended the reservation */
    if (status != LX_OK) {
        speech_pool_release(r->st->stt_pool, r); /* the helper may still hold it */
        r->done(r->arg, status, message, "", 0, -1);
        return;
    }
    r->done(r->arg, LX_OK, "", t.text, t.is_final,
            t.confidence_milli < 0 ? -1.0 : t.confidence_milli / 1000.0);
    speech_transcript_free(&t);
}

static int local_feed(void *session, const int16_t *pcm, size_t n, int ends, speech_rec_fn done,
                      void *arg)
{
    local_rec *r = session;
    size_t len;
    uint8_t flags = (uint8_t)((ends ? SPEECH_REC_ENDS : 0) | (r->in_phrase ? 0 : SPEECH_REC_FRESH));
    unsigned char *frame = speech_recognize_frame(pcm, n, flags, &len);

    if (frame == NULL)
        return LX_ENOMEM;
    r->done = done;
    r->arg = arg;
    if (speech_pool_submit_owned(r->st->stt_pool, r, ends, frame, len, r->st->stt.timeout_ms,
                                 local_answer, r) != LX_OK)
        return LX_ENOMEM;
    r->in_phrase = !ends;
    r->pending = 1;
    return LX_OK;
}

static void local_close(void *session)
{
    local_rec *r = session;

    if (r->pending)
        r->closed = 1;
    else
        local_free(r);
}

const speech_rec_ops speech_rec_local = {"pocketsphinx", local_open, local_feed, local_close};
