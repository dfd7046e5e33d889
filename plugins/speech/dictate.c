/*
 * The audio side of a dictation stream (dictate.h).
 */
#include "dictate.h"

#include <stdlib.h>
#include <string.h>

/* A piece shorter than the longest one so far by more than this looks like
 * the last: a recorder's regular pieces differ by about one packet (Chrome:
 * 60 ms), stop() hands over whatever it had. */
#define LAST_PIECE_SHORTER_MS 150

int speech_dictate_new(const speech_dictate_opts *o, speech_dictate **out)
{
    speech_dictate *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return LX_ENOMEM;
    d->in = speech_input_new(&o->limits);
    if (d->in == NULL) {
        free(d);
        return LX_ENOMEM;
    }
    speech_vad_init(&d->vad, &o->vad);
    d->timeslice_ms = o->timeslice_ms ? o->timeslice_ms : 1000;
    *out = d;
    return LX_OK;
}

void speech_dictate_free(speech_dictate *d)
{
    if (d == NULL)
        return;
    speech_input_free(d->in);
    speech_vad_free(&d->vad);
    free(d);
}

int speech_dictate_end_phrase(speech_dictate *d)
{
    speech_vad_clear(&d->vad);
    return speech_vad_end_phrase(&d->vad);
}

int speech_dictate_piece(speech_dictate *d, const unsigned char *p, size_t len, int end)
{
    speech_vad_clear(&d->vad);
    d->err[0] = '\0';
    d->looked_last = 0;
    uint64_t before = speech_input_samples(d->in);
    int rc = speech_input_feed(d->in, p, len, d->err, sizeof(d->err));
    if (rc == LX_OK && end)
        rc = speech_input_finish(d->in, d->err, sizeof(d->err));
    size_t n;
    const int16_t *pcm = speech_input_pcm(d->in, &n);
    int vrc = speech_vad_feed(&d->vad, pcm, n);
    speech_input_take(d->in, n);
    if (vrc != LX_OK)
        return vrc;
    d->piece_samples = speech_input_samples(d->in) - before;
    d->n_pieces++;

    /* The first piece also holds the recorder's start: it sets no norm. A
     * stream whose norm is unknown uses the expected timeslice. */
    uint64_t norm = d->longest ? d->longest : (uint64_t)d->timeslice_ms * (SPEECH_PCM_RATE / 1000);
    uint64_t margin = LAST_PIECE_SHORTER_MS * (SPEECH_PCM_RATE / 1000);
    int looks_last = d->piece_samples + margin < norm;
    if (d->n_pieces > 1 && d->piece_samples > d->longest)
        d->longest = d->piece_samples;
    if (rc != LX_OK || end || looks_last) {
        d->looked_last = looks_last && rc == LX_OK && !end && speech_vad_in_phrase(&d->vad);
        int erc = speech_vad_end_phrase(&d->vad);
        if (erc != LX_OK)
            return erc;
    }
    return rc;
}
