/*
 * The one interface every speech-to-text engine sits behind (dictation).
 *
 * A recognizer is fed the audio of one phrase at a time (16 kHz mono, as
 * the endpointer cut it: dictate.h) and answers each feed with the
 * phrase's text so far (an interim result; a network recognizer, which
 * only hears whole phrases, answers "" until the end) or, on the feed that
 * ends the phrase, its final text. Three engines:
 *   stt_local.c  pocketsphinx in the speech helpers (pool.h: a phrase's
 *                requests all reach the helper that holds its decoder)
 *   stt_net.c    an OpenAI-compatible /v1/audio/transcriptions (16 kHz WAV
 *                per phrase) or Google Speech-to-Text v1 speech:recognize,
 *                over host->http_fetch, with retries on 429 and 5xx
 * All calls on the worker loop that opened the session.
 */
#ifndef SPEECH_RECOGNIZER_H
#define SPEECH_RECOGNIZER_H

#include <stddef.h>
#include <stdint.h>

#include "speech.h"

/* One feed's answer, exactly once, on the loop, never from inside feed.
 * status: LX_OK with text (borrowed for the call), is_final and, for a
 * final, confidence (0..1, or -1 unknown); or LX_ESTATE (every recognizer
 * of the worker is busy), LX_ETIMEDOUT (it took too long: 504), LX_EIO
 * (the engine failed or answered nonsense: 502 for a network one, 503 for
 * the local one) with a message for a person (never a key). */
typedef void (*speech_rec_fn)(void *arg, int status, const char *message, const char *text,
                              int is_final, double confidence);

typedef struct speech_rec_ops {
    const char *name; /* "pocketsphinx", "openai", "google" */
    /* A session for one stream; NULL when out of memory. */
    void *(*open)(speech_state *st);
    /* Feeds pcm[0..n) (copied before it returns) of the phrase in
     * progress; `ends` ends the phrase. One feed at a time per session.
     * LX_OK and done runs later; or LX_ENOMEM and it never does. */
    int (*feed)(void *session, const int16_t *pcm, size_t n, int ends, speech_rec_fn done,
                void *arg);
    /* Ends the session: a pending done never runs. */
    void (*close)(void *session);
} speech_rec_ops;

extern const speech_rec_ops speech_rec_local;  /* stt_local.c */
extern const speech_rec_ops speech_rec_openai; /* stt_net.c */
extern const speech_rec_ops speech_rec_google; /* stt_net.c */

#endif
