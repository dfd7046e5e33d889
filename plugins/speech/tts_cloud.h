/*
 * Cloud read-aloud: the configuration of the cloud providers (the `speech`
 * block's provider = google | openai and its keys), the voices a worker
 * offers (the local engines' and the cloud's), which provider speaks a
 * voice, and the HTTP calls with retries they share.
 *
 *   tts_cloud.c   this
 *   tts_google.c  Google Cloud Text-to-Speech v1beta1 (speech_google_new)
 *   tts_openai.c  an OpenAI-compatible /v1/audio/speech (speech_openai_new)
 *   tts_wire.c    their bodies and answers (pure)
 *
 * The cloud providers need the local helpers: Google's PCM is encoded to
 * MP3 there, and an OpenAI-compatible server's word times are estimated
 * from the local engine's. Keys go into one header of each call and
 * nowhere else: never a log line, never a message.
 * All calls on the worker loop, except speech_cloud_configure (init).
 */
#ifndef SPEECH_TTS_CLOUD_H
#define SPEECH_TTS_CLOUD_H

#include <stddef.h>

#include "speech.h"

enum { SPEECH_CLOUD_GOOGLE = 1, SPEECH_CLOUD_OPENAI = 2 };

typedef struct speech_cloud_cfg {
    int kind;       /* SPEECH_CLOUD_* */
    char *base_url; /* no trailing slash */
    char *api_key;  /* NULL: none (OpenAI-compatible servers without one) */
    char *voice;    /* the default cloud voice */
    char *model;    /* openai: tts-1 */
    char **voices;  /* openai: the voices offered */
    size_t n_voices;
    long long request_timeout_ms; /* one HTTP call */
    int retries;                  /* on 429 and 5xx */
    int parallel;                 /* calls in flight per synthesis */
    long long voices_retry_ms;    /* google: the voices list again after a failure */
} speech_cloud_cfg;

/* The cloud keys of the `speech` block (provider is "google" or
 * "openai"); fills st->cloud_cfg. LX_OK, or LX_EINVAL naming FILE:LINE
 * (never the key), LX_ENOMEM. */
int speech_cloud_configure(speech_state *st, const lx_cfg *cfg, const char *provider, char *err,
                           size_t errlen);
void speech_cloud_cfg_free(speech_cloud_cfg *c);

/* worker_start (after the local provider): the cloud provider and the
 * worker's voices; Google's list is fetched in the background. */
int speech_cloud_worker_start(speech_state *st, char *err, size_t errlen);
void speech_cloud_worker_stop(speech_state *st);

/* The voices this worker offers: the local ones and the cloud's. */
const speech_voices *speech_voices_now(const speech_state *st);
/* The provider that speaks v. */
speech_provider *speech_provider_for(const speech_state *st, const speech_voice *v);
/* The default voice: the cloud's when a cloud provider is on, else
 * st->dflt. */
const speech_voice *speech_voice_default(const speech_state *st);

/* Google's voices list arrived (tts_google.c): the worker's voices become
 * the local ones and these (l is the callee's either way). */
int speech_cloud_set_voices(speech_state *st, speech_voice_list *l);

/* One HTTP call with retries (429 and 5xx: after 250 ms, 500 ms, ...),
 * the key in its header. done runs once, later, on the loop: LX_OK with
 * a 2xx answer (body borrowed for the call), LX_ETIMEDOUT, or LX_ERROR
 * with the last HTTP status (0: no answer) and its body, and a message
 * without the key. body (may be NULL) is taken over. */
typedef void (*speech_cloud_fn)(void *arg, int status, int http, const char *body, size_t len,
                                const char *message);
typedef struct speech_cloud_call speech_cloud_call;
speech_cloud_call *speech_cloud_fetch(speech_state *st, const char *method, const char *url,
                                      char *body, size_t len, speech_cloud_fn done, void *arg);
/* done never runs. */
void speech_cloud_cancel(speech_cloud_call *c);

#endif
