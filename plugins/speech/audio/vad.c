/*
 * Energy voice activity detection and phrase endpointing (vad.h).
 */
#include "vad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MS 20
#define PRIOR_DB -70.0 /* the noise floor assumed until the window is full */

void speech_vad_init(speech_vad *v, const speech_vad_opts *o)
{
    memset(v, 0, sizeof(*v));
    if (o != NULL)
        v->o = *o;
    if (v->o.end_silence_ms == 0)
        v->o.end_silence_ms = 700;
    if (v->o.min_speech_ms == 0)
        v->o.min_speech_ms = 60;
    if (v->o.preroll_ms == 0)
        v->o.preroll_ms = 300;
    if (v->o.preroll_ms > SPEECH_VAD_MAX_PREROLL * FRAME_MS)
        v->o.preroll_ms = SPEECH_VAD_MAX_PREROLL * FRAME_MS;
    if (v->o.margin_db <= 0)
        v->o.margin_db = 12.0;
    if (v->o.min_db == 0)
        v->o.min_db = -55.0;
}

void speech_vad_free(speech_vad *v)
{
    free(v->out);
    free(v->pieces);
    v->out = NULL;
    v->pieces = NULL;
    v->n_out = v->cap_out = v->n_pieces = v->cap_pieces = 0;
}

void speech_vad_clear(speech_vad *v)
{
    v->n_out = 0;
    v->n_pieces = 0;
    v->has_speech = 0;
}

int speech_vad_in_phrase(const speech_vad *v)
{
    return v->in_phrase;
}

double speech_vad_level(const int16_t *frame, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)frame[i] * frame[i];
    return 10.0 * log10(sum / (n > 0 ? (double)n : 1.0) + 1.0) - 90.309;
}

static int is_speech(speech_vad *v, const int16_t *frame)
{
    double db = speech_vad_level(frame, SPEECH_VAD_FRAME);
    v->window[v->n_frames % SPEECH_VAD_WINDOW] = db;
    v->n_frames++;
    size_t n = v->n_frames < SPEECH_VAD_WINDOW ? (size_t)v->n_frames : SPEECH_VAD_WINDOW;
    double floor = v->n_frames < SPEECH_VAD_WINDOW ? PRIOR_DB : db;
    for (size_t i = 0; i < n; i++)
        if (v->window[i] < floor)
            floor = v->window[i];
    return db > floor + v->o.margin_db && db > v->o.min_db;
}

/* Appends samples to out, as part of the last piece (or a new one). */
static int put(speech_vad *v, const int16_t *p, size_t n, int new_piece)
{
    if (v->n_out + n > v->cap_out) {
        size_t cap = v->cap_out ? v->cap_out : 16000;
        while (cap < v->n_out + n)
            cap *= 2;
        int16_t *no = realloc(v->out, cap * sizeof(int16_t));
        if (no == NULL)
            return LX_ENOMEM;
        v->out = no;
        v->cap_out = cap;
    }
    if (new_piece || v->n_pieces == 0 || v->pieces[v->n_pieces - 1].ends) {
        if (v->n_pieces == v->cap_pieces) {
            size_t cap = v->cap_pieces ? v->cap_pieces * 2 : 8;
            speech_vad_piece *np = realloc(v->pieces, cap * sizeof(*np));
            if (np == NULL)
                return LX_ENOMEM;
            v->pieces = np;
            v->cap_pieces = cap;
        }
        v->pieces[v->n_pieces++] = (speech_vad_piece){v->n_out, 0, 0};
    }
    if (n > 0)
        memcpy(v->out + v->n_out, p, n * sizeof(int16_t));
    v->n_out += n;
    v->pieces[v->n_pieces - 1].n += n;
    return LX_OK;
}

static int end_phrase(speech_vad *v)
{
    if (!v->in_phrase)
        return LX_OK;
    if (v->n_pieces == 0 || v->pieces[v->n_pieces - 1].ends) {
        int rc = put(v, NULL, 0, 1);
        if (rc != LX_OK)
            return rc;
    }
    v->pieces[v->n_pieces - 1].ends = 1;
    v->in_phrase = 0;
    v->run_speech = v->run_silence = v->phrase_frames = 0;
    v->n_preroll = v->preroll_head = 0;
    return LX_OK;
}

static int frame(speech_vad *v, const int16_t *f)
{
    int speech = is_speech(v, f);
    uint32_t preroll_frames = v->o.preroll_ms / FRAME_MS;
    if (speech)
        v->has_speech = 1;
    if (!v->in_phrase) {
        /* Keep the frame in the preroll ring. */
        if (preroll_frames > 0) {
            uint32_t slot = (v->preroll_head + v->n_preroll) % preroll_frames;
            memcpy(v->preroll + (size_t)slot * SPEECH_VAD_FRAME, f,
                   sizeof(int16_t) * SPEECH_VAD_FRAME);
            if (v->n_preroll < preroll_frames)
                v->n_preroll++;
            else
                v->preroll_head = (v->preroll_head + 1) % preroll_frames;
        }
        v->run_speech = speech ? v->run_speech + 1 : 0;
        if (v->run_speech * FRAME_MS < v->o.min_speech_ms)
            return LX_OK;
        /* A phrase starts: the preroll (which holds this frame) first. */
        v->in_phrase = 1;
        v->run_silence = 0;
        v->phrase_frames = v->n_preroll;
        int first = 1;
        for (uint32_t i = 0; i < v->n_preroll; i++) {
            uint32_t slot = (v->preroll_head + i) % preroll_frames;
            int rc = put(v, v->preroll + (size_t)slot * SPEECH_VAD_FRAME, SPEECH_VAD_FRAME, first);
            if (rc != LX_OK)
                return rc;
            first = 0;
        }
        if (first) /* no preroll at all */
            return put(v, f, SPEECH_VAD_FRAME, 1);
        return LX_OK;
    }
    int rc = put(v, f, SPEECH_VAD_FRAME, 0);
    if (rc != LX_OK)
        return rc;
    v->phrase_frames++;
    v->run_silence = speech ? 0 : v->run_silence + 1;
    if (v->run_silence * FRAME_MS >= v->o.end_silence_ms ||
        (v->o.max_phrase_ms > 0 && v->phrase_frames * FRAME_MS >= v->o.max_phrase_ms))
        return end_phrase(v);
    return LX_OK;
}

int speech_vad_feed(speech_vad *v, const int16_t *pcm, size_t n)
{
    while (n > 0) {
        size_t k = SPEECH_VAD_FRAME - v->n_part;
        if (k > n)
            k = n;
        memcpy(v->part + v->n_part, pcm, k * sizeof(int16_t));
        v->n_part += k;
        pcm += k;
        n -= k;
        if (v->n_part < SPEECH_VAD_FRAME)
            break;
        v->n_part = 0;
        int rc = frame(v, v->part);
        if (rc != LX_OK)
            return rc;
    }
    return LX_OK;
}

int speech_vad_end_phrase(speech_vad *v)
{
    if (!v->in_phrase)
        return LX_OK;
    if (v->n_part > 0) { /* the last partial frame belongs to the phrase */
        int rc = put(v, v->part, v->n_part, 0);
        if (rc != LX_OK)
            return rc;
        v->n_part = 0;
    }
    return end_phrase(v);
}
