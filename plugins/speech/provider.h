/*
 * The one interface every speech engine sits behind.
 *
 * A provider turns segmented text (words.h) into audio with word times
 * (proto.h's speech_audio: an MP3, its length, each segment's end of speech
 * and marks "a word starts at byte B of segment S at time T"), which
 * align.c turns into timepoints the same way whatever spoke. The local
 * provider (local.c: flite and espeak-ng in helper processes) gives the
 * engines' own word times. The cloud providers fit the same shape:
 *   - Google Cloud Text-to-Speech (tts_google.c): segments cut under its
 *     5,000-byte limit with a <mark> per word (the mark's name is the
 *     word's byte offset), chunks in parallel over host->http_fetch,
 *     LINEAR16 joined and encoded once by the local helpers;
 *   - an OpenAI-compatible /v1/audio/speech (tts_openai.c): no word times,
 *     so marks estimated from the local engine's timing of the same text
 *     scaled to the returned audio's length.
 *
 * All calls on the worker loop that made the provider.
 */
#ifndef SPEECH_PROVIDER_H
#define SPEECH_PROVIDER_H

#include "proto.h"
#include "speech.h"
#include "voices.h"
#include "words.h"

/* The result of a synthesis, exactly once, on the loop. status:
 *   LX_OK        *audio is the callee's (free with speech_audio_free);
 *   LX_ENOENT    the provider does not have the voice;
 *   LX_EINVAL    the voice cannot give word times (a cloud voice refusing
 *                SSML or marks): 400 naming the voice;
 *   LX_ERROR     a cloud service failed or answered nonsense (502);
 *   LX_ETOOBIG   more audio than a synthesis may make;
 *   LX_ESTATE    too many syntheses waiting (busy);
 *   LX_ETIMEDOUT it took longer than the timeout;
 *   LX_EIO       the engine failed or stopped (a helper died);
 *   LX_ECANCELED the worker is stopping.
 * message (borrowed for the call) says what happened, for a person. */
typedef void (*speech_provider_done_fn)(void *arg, int status, const char *message,
                                        speech_audio *audio);

struct speech_provider {
    const char *name; /* "local" */
    /* Speaks text's segments (t was made from text) with voice v at `rate`
     * (1.0 normal) and `pitch` (semitones). LX_OK and done runs later, or
     * LX_ENOMEM and it never does. */
    int (*synthesize)(speech_provider *p, const char *text, const speech_text *t,
                      const speech_voice *v, double rate, double pitch,
                      speech_provider_done_fn done, void *arg);
    /* Ends the provider without calling any pending done (the worker is
     * stopping). */
    void (*destroy)(speech_provider *p);
};

/* The local provider of this worker: the helpers of pool.c running
 * st->helper. NULL when out of memory. */
speech_provider *speech_local_new(speech_state *st, lx_worker *w);

/* local's synthesize without the MP3: the helpers speak text and time
 * its words and segments, encode nothing, and done gets an audio whose
 * mp3_len is 0 (and no decoder delay in its times). For a cloud voice's
 * estimated times (tts_openai.c). Errors as synthesize. */
int speech_local_times(speech_provider *local, const char *text, const speech_text *t,
                       const speech_voice *v, double rate, double pitch,
                       speech_provider_done_fn done, void *arg);

/* MP3 of a cloud provider's PCM (pcm_le[0..2n): mono, signed 16-bit
 * little-endian, at `rate`), encoded by local's helpers (never on the
 * loop) at the configured bit rate. done gets an audio with no segment and
 * no mark whose n_samples is the MP3 decoder's delay plus n. LX_OK,
 * LX_ETOOBIG or LX_ENOMEM (then done never runs). */
int speech_local_encode(speech_provider *local, const unsigned char *pcm_le, size_t n,
                        uint32_t rate, speech_provider_done_fn done, void *arg);

/* The cloud providers (tts_google.c, tts_openai.c); tts_cloud.h has the
 * rest. NULL when out of memory. */
speech_provider *speech_google_new(speech_state *st);
speech_provider *speech_openai_new(speech_state *st);

#endif
