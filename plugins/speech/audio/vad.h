/*
 * Dictation's voice activity detector and phrase endpointer, on 16 kHz
 * mono PCM in 20 ms frames.
 *
 * The detector is an energy one, in the manner of WebRTC's simplest mode:
 * a frame is speech when its level is well above the noise floor (the
 * quietest frame of the last 1.5 s; a quiet prior before that) and above
 * an absolute floor. The endpointer turns frames into phrases: a phrase
 * starts after min_speech_ms of speech (with preroll_ms of the audio before
 * it, so its first consonant is kept) and ends after end_silence_ms
 * without speech, at max_phrase_ms, or when the caller ends it (the end of
 * the stream, a chunk that looks like the last).
 *
 * What it gives after each feed: the phrase audio it saw (`out`, only
 * audio inside phrases: silence between phrases never reaches a
 * recognizer) cut into pieces, each saying whether its phrase ends after
 * it. Pure code; one endpointer per stream, any one thread at a time.
 */
#ifndef SPEECH_AUDIO_VAD_H
#define SPEECH_AUDIO_VAD_H

#include <stddef.h>
#include <stdint.h>

#include "audio.h"

#define SPEECH_VAD_FRAME 320      /* 20 ms at 16 kHz */
#define SPEECH_VAD_WINDOW 75      /* frames of the noise floor's window (1.5 s) */
#define SPEECH_VAD_MAX_PREROLL 50 /* frames (1 s) */

typedef struct speech_vad_opts {
    uint32_t end_silence_ms; /* a phrase ends after this much non-speech (700) */
    uint32_t min_speech_ms;  /* speech that starts a phrase (60) */
    uint32_t preroll_ms;     /* audio kept before a phrase's start (300, at most 1000) */
    uint32_t max_phrase_ms;  /* a phrase is cut at this length (0: never) */
    double margin_db;        /* speech is this far above the noise floor (12) */
    double min_db;           /* and above this level, dBFS (-55) */
} speech_vad_opts;

/* A run of phrase audio in `out`; `ends` when its phrase ends after it. */
typedef struct speech_vad_piece {
    size_t off, n;
    int ends;
} speech_vad_piece;

typedef struct speech_vad {
    speech_vad_opts o;
    /* the detector */
    double window[SPEECH_VAD_WINDOW];
    uint64_t n_frames;
    int16_t part[SPEECH_VAD_FRAME]; /* a partial frame */
    size_t n_part;
    /* the endpointer */
    int in_phrase;
    uint32_t run_speech, run_silence, phrase_frames;
    int16_t preroll[SPEECH_VAD_MAX_PREROLL * SPEECH_VAD_FRAME]; /* a ring of frames */
    uint32_t n_preroll, preroll_head;
    /* what the last feed gave (owned; cleared by speech_vad_clear) */
    int16_t *out;
    size_t n_out, cap_out;
    speech_vad_piece *pieces;
    size_t n_pieces, cap_pieces;
    int has_speech; /* speech was seen since the last clear */
} speech_vad;

/* Sets the endpointer up (o is copied; zeros take the defaults above). */
void speech_vad_init(speech_vad *v, const speech_vad_opts *o);
/* Frees what the endpointer holds. */
void speech_vad_free(speech_vad *v);

/* Feeds pcm[0..n): appends to out/pieces. LX_OK or LX_ENOMEM. */
int speech_vad_feed(speech_vad *v, const int16_t *pcm, size_t n);

/* Ends the open phrase now (with the partial frame it holds), if any: a
 * piece that ends it is added. LX_OK or LX_ENOMEM. */
int speech_vad_end_phrase(speech_vad *v);

/* True inside a phrase. */
int speech_vad_in_phrase(const speech_vad *v);

/* Forgets out and pieces (after the caller used them). */
void speech_vad_clear(speech_vad *v);

/* The level of a frame in dBFS (-90.3 for digital silence). */
double speech_vad_level(const int16_t *frame, size_t n);

#endif
