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
#include <lexiaid/svc/storage_v1.h>

#include "voices.h"

#define SPEECH_SRC "speech"

typedef struct speech_provider speech_provider;
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

    /* per worker (each worker is its own process) */
    lx_worker *w;
    speech_provider *local;
    speech_cache *cache;
    speech_op *in_flight;       /* syntheses running, for sharing */
    struct synth_job *starting; /* syntheses about to start (synth.c) */
    const lx_storage_v1 *sv;
    void *sv_state;
} speech_state;

/* 400s and 503s of a synthesis, as the routes and speech.v1 report them. */
typedef struct speech_fail {
    int http;         /* 400, 500, 503, 504 */
    const char *code; /* TEXT_EMPTY, TEXT_TOO_LONG, INVALID_UTF8, UNKNOWN_VOICE, ... */
    char message[4096];
} speech_fail;

#endif
