/*
 * lexiaid-speech's engines: one interface for espeak-ng and flite, both
 * in-process here (the helper is the process their global state lives in;
 * see lexiaid-speech.c).
 *
 * An engine synthesises one segment at a time into an hx_out: PCM (16-bit
 * mono at the voice's own rate) and a mark wherever it starts a word, as a
 * byte offset in the segment text and a sample index from the segment's
 * start. The encoder (mp3.c) and the bookkeeping of times live in hx_out.
 */
#ifndef SPEECH_HELPER_ENGINE_H
#define SPEECH_HELPER_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto.h"

typedef struct hx_out hx_out;

/* Called by engines while they synthesise. 0, or -1 to stop (out of
 * memory, or more audio than allowed: the engine returns its error). */
int hx_out_pcm(hx_out *o, const short *samples, size_t n);
/* A word starts at byte `off` of the segment text, `sample` samples after
 * the segment's start. */
void hx_out_mark(hx_out *o, uint32_t off, uint64_t sample);

typedef struct hx_engine {
    const char *provider; /* "espeak-ng", "flite": the voice names' prefix */
    /* Appends this engine's voices to a 'L' frame being written; adds the
     * number written to *n. */
    void (*list)(speech_wbuf *b, uint32_t *n);
    /* Selects voice `id` (the part after "provider:") with the rate (1.0
     * normal) and pitch (semitones); *rate_hz is the voice's sample rate.
     * 0, or SPEECH_ERR_* with a message. */
    int (*select)(const char *id, double rate, double pitch, uint32_t *rate_hz, char *err,
                  size_t errlen);
    /* Synthesises text[0..len) (NUL-terminated) with the selected voice.
     * 0, or SPEECH_ERR_* with a message. */
    int (*speak)(const char *text, size_t len, hx_out *o, char *err, size_t errlen);
} hx_engine;

/* The engines built in; NULL when configure left one out. */
const hx_engine *hx_espeak_engine(void);
const hx_engine *hx_flite_engine(void);

/* MP3 (mp3.c): LAME, mono, constant bit rate. */
typedef struct hx_mp3 hx_mp3;
hx_mp3 *hx_mp3_new(uint32_t rate_hz, uint32_t kbps, char *err, size_t errlen);
/* 0, or -1 out of memory or an encoder error. */
int hx_mp3_feed(hx_mp3 *m, const short *samples, size_t n);
/* Flushes; *out (malloc'd) and *len are
 * the whole file, owned by the caller. 0 or -1. Frees m either way. */
int hx_mp3_finish(hx_mp3 *m, unsigned char **out, size_t *len);
/* Where the first sample fed is in the decoded audio (the encoder's and
 * the decoder's delay), in samples. */
uint32_t hx_mp3_delay(const hx_mp3 *m);
void hx_mp3_free(hx_mp3 *m);

#endif
