/*
 * One synthesis, as POST /api/tts/synthesize and speech.v1 ask for it:
 *
 *   check the input (synchronously: a 400 is known at once)
 *   -> the user's profile through storage.v1, for what the request did not
 *      say (ttsVoice, ttsSpeed, ttsPitch)
 *   -> the same synthesis already running in this worker? wait for it
 *   -> the cache (cache.c) -> the provider (provider.h) -> timepoints
 *      (align.c) -> the answer (body.h) -> the cache
 *
 * Runs on the worker loop. A caller that stops waiting (the client went
 * away) cancels its waiter; a synthesis already running still finishes
 * and is cached, so that asking again is instant.
 */
#ifndef SPEECH_SYNTH_H
#define SPEECH_SYNTH_H

#include <stddef.h>

#include "body.h"
#include "speech.h"

typedef struct speech_request {
    const char *uid;  /* whose profile applies; NULL: none */
    const char *text; /* copied */
    size_t len;
    const char *voice; /* NULL: the profile's, else the default */
    int has_rate;
    double rate; /* 0.25 - 4, 1 normal */
    int has_pitch;
    double pitch; /* semitones, -20 - 20 */
} speech_request;

/* Where an answer came from. */
enum {
    SPEECH_FROM_ENGINE = 0, /* synthesised for this request */
    SPEECH_FROM_CACHE = 1,  /* read from the cache */
    SPEECH_FROM_SHARED = 2, /* synthesised for an identical request running already */
};

/* The end of a synthesis: fail NULL and body (borrowed for the call; take a
 * reference to keep it) with `from` a SPEECH_FROM_*, or fail set and body
 * NULL. */
typedef void (*speech_done_fn)(void *arg, const speech_fail *fail, speech_body *body, int from);

typedef struct speech_waiter speech_waiter;

/* Starts a synthesis in worker st->w. LX_OK: done runs later, exactly once,
 * on the loop, unless the waiter (*out) is cancelled first. LX_EINVAL: the
 * input is bad (*fail says how: 400 TEXT_EMPTY, TEXT_TOO_LONG,
 * INVALID_UTF8, UNKNOWN_VOICE naming the voices, INVALID_RATE,
 * INVALID_PITCH) or nothing can speak (503 SPEECH_UNAVAILABLE); LX_ENOMEM
 * (500). Later failures reach done: 503 SPEECH_UNAVAILABLE (a helper died,
 * the engine failed), 503 SPEECH_BUSY, 504 SPEECH_TIMEOUT, 400
 * TEXT_TOO_LONG (more audio than allowed), 500 INTERNAL. */
int speech_synthesize(speech_state *st, const speech_request *rq, speech_done_fn done, void *arg,
                      speech_waiter **out, speech_fail *fail);

/* done will not run for this waiter. */
void speech_waiter_cancel(speech_waiter *wt);

/* worker_stop: ends what waits on the provider without callbacks; what
 * waits on storage or the cache ends when those call back. */
void speech_synth_stop(speech_state *st);

#endif
