/*
 * speech: read-aloud for lexiaid (POST /api/tts/synthesize, GET
 * /api/tts/voices) and the service speech.v1 (reply audio for the tutoring
 * plugin). The map of the plugin:
 *
 *   speech.c     the descriptor, configuration, init (the voices, asked of
 *                a helper), worker hooks, /ready
 *   routes.c     the HTTP handlers
 *   svc.c        speech.v1 (include/lexiaid/svc/speech_v1.h)
 *   synth.c      one synthesis: checks, the user's profile, the cache, the
 *                provider, the answer; identical syntheses in flight share
 *                one run
 *   provider.h   the one interface every engine sits behind
 *   local.c      the local provider: flite and espeak-ng in helper
 *                processes (pool.c) with word times from the engines
 *   tts_cloud.c  cloud providers' settings, the worker's voices, HTTP calls
 *   tts_google.c Google Cloud Text-to-Speech (a <mark> per word)
 *   tts_openai.c an OpenAI-compatible /v1/audio/speech (times estimated)
 *   tts_wire.c   their bodies and answers (pure, fuzzed)
 *   google_auth.c service-account OAuth for the Google engines, through
 *                the auth plugin's google_token.v1
 *   pool.c       the helper processes of a worker, driven by its loop
 *   cache.c      synthesized answers as files shared by all workers
 *   voices.c     the voice table and GET /api/tts/voices
 *   words.c      text -> display words, paragraphs, segments (pure, fuzzed)
 *   align.c      engine word times -> timepoints (pure, fuzzed)
 *   body.c       the answer {audio_content, timepoints} (refcounted)
 *   proto.c      the worker <-> helper frames (pure, fuzzed)
 *   helper/      lexiaid-speech, the helper program
 *
 * Threads: everything here runs on a worker's loop, except cache.c's file
 * work (offload pool) and the helper processes. Dictation (WebSocket
 * speech-to-text, pocketsphinx in the same helpers) will be one more kind
 * of request in proto.h and one more member of speech_provider.
 */
#ifndef SPEECH_SPEECH_H
#define SPEECH_SPEECH_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>
#include <lexiaid/svc/google_token_v1.h>
#include <lexiaid/svc/storage_v1.h>

#include "assets.h"
#include "voices.h"

#define SPEECH_SRC "speech"

typedef struct speech_provider speech_provider;
typedef struct speech_pool speech_pool;
typedef struct speech_rec_ops speech_rec_ops;

/* Dictation's engines (stt_conf.c). */
enum { SPEECH_STT_OFF = 0, SPEECH_STT_LOCAL, SPEECH_STT_OPENAI, SPEECH_STT_GOOGLE };

typedef struct speech_stt_cfg {
    int provider;              /* SPEECH_STT_* */
    const speech_rec_ops *rec; /* NULL: dictation is off (why_off says why) */
    char why_off[256];
    int helpers, queue;               /* local: decoders per worker, phrases waiting for one */
    long long timeout_ms;             /* one recognizer call */
    size_t max_bytes;                 /* of one stream or upload */
    long long max_ms;                 /* of audio in one stream or upload */
    long long end_silence_ms;         /* a pause that ends a phrase */
    long long max_phrase_ms;          /* a phrase is cut at this length */
    long long piece_wait_ms;          /* no piece for this long ends the phrase */
    char *model_dir;                  /* pocketsphinx's */
    int fast;                         /* pocketsphinx without the lattice pass */
    char *language;                   /* BCP 47, e.g. en-US */
    char *base_url, *api_key, *model; /* network recognizers */
    int retries;                      /* on 429 and 5xx */
} speech_stt_cfg;
typedef struct speech_op speech_op;
typedef struct speech_cache speech_cache;

typedef struct speech_state {
    const lx_host *host;

    /* configuration (speech.c) */
    char *helper;         /* lexiaid-speech's path */
    char *default_voice;  /* a voice name */
    size_t max_text;      /* bytes of UTF-8 */
    int n_helpers;        /* per worker */
    int max_queue;        /* syntheses waiting for a helper, per worker */
    long long timeout_ms; /* one synthesis, waiting included */
    size_t helper_memory; /* a helper's address space */
    uint32_t kbps;        /* MP3 bit rate */
    uint32_t pause_ms;    /* between paragraphs */
    long long idle_ms;    /* an idle helper is stopped after this */
    int reply_audio;      /* speech.v1 says chat replies get audio */
    size_t cache_size;    /* bytes; 0 turns the cache off */
    char *cache_dir;

    /* from the helper at init (inherited by the workers) */
    speech_voices voices;
    const speech_voice *dflt;
    char why_unavailable[256]; /* "" when synthesis works */

    speech_stt_cfg stt;       /* dictation */
    speech_assets_cfg assets; /* read-aloud assets of documents (assets.h) */

    /* per worker (each worker is its own process) */
    lx_worker *w;
    speech_pool *stt_pool;   /* the recognizer helpers (local dictation) */
    const char *stt_args[4]; /* their extra arguments */
    speech_provider *local;
    speech_cache *cache;
    speech_op *in_flight;       /* syntheses running, for sharing */
    struct synth_job *starting; /* syntheses about to start (synth.c) */
    const lx_storage_v1 *sv;
    void *sv_state;

    /* cloud read-aloud (tts_cloud.h) */
    struct speech_cloud_cfg *cloud_cfg; /* NULL: the local engines speak */
    speech_provider *cloud;             /* per worker */
    speech_voices *all_voices;          /* per worker: the local voices and the cloud's */

    /* Google engines' service account (google_auth.h): NULL when none */
    char *sa_path;                /* service_account: the key file's path */
    const lx_google_token_v1 *gt; /* the auth plugin's service, when used */
    void *gt_state;
    lx_google_account *gt_account; /* the auth plugin's; NULL: API keys */
    speech_maker maker; /* assets_make.c */
} speech_state;

/* 400s and 503s of a synthesis, as the routes and speech.v1 report them. */
typedef struct speech_fail {
    int http;         /* 400, 500, 503, 504 */
    const char *code; /* TEXT_EMPTY, TEXT_TOO_LONG, INVALID_UTF8, UNKNOWN_VOICE, ... */
    char message[4096];
} speech_fail;

/* Configuration helpers (speech.c). A string key: NULL when absent or
 * empty, else a malloc'd copy. A number key (kind 'i' integer, 'm'
 * milliseconds, 's' bytes): def when absent, else within [lo, hi]
 * (LX_EINVAL naming FILE:LINE otherwise). */
int speech_cfg_str(const lx_host *h, const lx_cfg *cfg, const char *key, char **out, char *err,
                   size_t errlen);
int speech_cfg_num(const lx_host *h, const lx_cfg *cfg, const char *key, int kind, long long def,
                   long long lo, long long hi, long long *out, char *err, size_t errlen);

/* For the configure functions, which read key after key: stores the
 * status x in the function's `int rc` and jumps to its `out:` label (where
 * it frees what it holds and returns rc) when x is not LX_OK. */
#define SPEECH_TRY(x)                                                                              \
    do {                                                                                           \
        if ((rc = (x)) != LX_OK)                                                                   \
            goto out;                                                                              \
    } while (0)

/* Dictation (stt_conf.c): the `stt` group of the plugin's config (may be
 * NULL), in init; the recognizer helpers of a worker. */
int speech_stt_configure(speech_state *st, const lx_cfg *cfg, char *err, size_t errlen);
void speech_stt_cfg_free(speech_stt_cfg *c);
int speech_stt_worker_start(speech_state *st, char *err, size_t errlen);
void speech_stt_worker_stop(speech_state *st);

#endif
