/*
 * The audio side of one dictation stream: MediaRecorder's one-second
 * pieces in, phrase audio for a recognizer out.
 *
 * Each piece goes through the audio input (audio/input.h: container,
 * Opus, 16 kHz, limits) and the endpointer (audio/vad.h). After a piece,
 * `vad.out` and `vad.pieces` hold the phrase audio it completed, each
 * piece saying whether its phrase ends there.
 *
 * The browser marks no end: the student presses stop, MediaRecorder hands
 * over what it recorded since the last piece, and the socket closes 500 ms
 * later, with no pause needed before it. So a phrase also ends at a piece
 * that looks like the last one: one holding clearly less audio (by more
 * than 150 ms) than the pieces before it, which is what stop() gives
 * unless the student stops just before a piece was due anyway. A
 * piece that was not the last only costs a phrase boundary; the stream
 * layer also ends the phrase when no piece comes for a while.
 *
 * Pure code: no host calls, no I/O. One object per stream, used by one
 * thread at a time (the speech plugin runs it on the offload pool).
 */
#ifndef SPEECH_DICTATE_H
#define SPEECH_DICTATE_H

#include <stddef.h>
#include <stdint.h>

#include "audio/input.h"
#include "audio/vad.h"

typedef struct speech_dictate_opts {
    speech_input_limits limits;
    speech_vad_opts vad;
    uint32_t timeslice_ms; /* the pieces' expected length (1000) */
} speech_dictate_opts;

typedef struct speech_dictate {
    speech_input *in;
    speech_vad vad; /* after each call: the phrase audio to recognize */
    uint32_t n_pieces;
    uint64_t longest; /* samples of the longest piece so far */
    uint32_t timeslice_ms;
    uint64_t piece_samples; /* of the last piece */
    int looked_last;        /* the last piece ended its phrase as a likely last one */
    char err[256];          /* why the last call failed */
} speech_dictate;

/* LX_OK with *out, or LX_ENOMEM. */
int speech_dictate_new(const speech_dictate_opts *o, speech_dictate **out);
void speech_dictate_free(speech_dictate *d);

/* Reads one piece p[0..len) (len may be 0); `end` when the stream ends
 * with it (its phrase then ends too). Clears what the previous call gave
 * first. LX_OK; or the input's LX_EINVAL / LX_ETOOBIG / LX_ENOMEM with
 * d->err for a person: the phrase audio up to the failure is still given,
 * its phrase ended. */
int speech_dictate_piece(speech_dictate *d, const unsigned char *p, size_t len, int end);

/* Ends the open phrase now (no piece came for a while). LX_OK or
 * LX_ENOMEM; clears what the previous call gave first. */
int speech_dictate_end_phrase(speech_dictate *d);

#endif
