/*
 * The speech helper processes of one worker (lexiaid-speech, proto.h).
 *
 * espeak-ng, flite (and later pocketsphinx) keep process-global state and
 * are not thread-safe, so they run in helper processes: at most n_helpers
 * per worker, started when work arrives, reused, stopped after idle_ms
 * without work. Each does one request at a time. The worker's loop writes
 * the request and reads the answer through host->watch_* on the helper's
 * pipes: it never waits, and no offload thread is held while an engine
 * speaks. Requests beyond the helpers wait in a queue of at most
 * max_queue.
 *
 * A helper that dies (a crash, the OOM killer, a kill -9) fails only the
 * request it was doing (LX_EIO, saying how it ended); the next request
 * starts a new helper. A request past its deadline kills its helper
 * (LX_ETIMEDOUT). Everything runs on the worker loop.
 *
 * speech_pool_voices is the blocking exception, for init in the master:
 * it starts one helper, asks it for the voices and stops it.
 */
#ifndef SPEECH_POOL_H
#define SPEECH_POOL_H

#include <stddef.h>

#include <lexiaid/plugin.h>

#include "proto.h"

typedef struct speech_pool speech_pool;

typedef struct speech_pool_opts {
    const char *program;     /* lexiaid-speech */
    int n_helpers;           /* >= 1 */
    int max_queue;           /* >= 0 */
    size_t max_mem;          /* a helper's RLIMIT_AS; 0 leaves it */
    long long idle_ms;       /* 0: never stop idle helpers */
    const char *const *args; /* more arguments for the helper, NULL-terminated, or NULL */
} speech_pool_opts;

/* An answer: status LX_OK with the decoded 'A' frame (*audio is the
 * callee's), or an error: LX_EINVAL (the helper's 'E' frame; *helper_code is
 * its SPEECH_ERR_*), LX_ESTATE (the queue is full), LX_ETIMEDOUT, LX_EIO
 * (could not start a helper, or it died or broke the protocol). message is
 * borrowed for the call. Runs on the loop, exactly once, never from inside
 * speech_pool_submit. */
typedef void (*speech_pool_done_fn)(void *arg, int status, const char *message,
                                    uint32_t helper_code, speech_audio *audio);

/* For worker_start. The options' strings are borrowed for the pool's life.
 * NULL when out of memory. */
speech_pool *speech_pool_new(const lx_host *host, lx_worker *w, const speech_pool_opts *o);

/* Kills and reaps every helper; pending requests end without their done
 * (the worker is stopping). */
void speech_pool_free(speech_pool *p);

/* Queues the request frame (frame[0..len), taken over: freed by the pool)
 * with a deadline of timeout_ms from now. LX_OK, or LX_ENOMEM (the frame
 * is freed, done never runs). */
int speech_pool_submit(speech_pool *p, unsigned char *frame, size_t len, long long timeout_ms,
                       speech_pool_done_fn done, void *arg);

/* Dictation. A phrase's requests must all reach the helper whose decoder
 * holds the phrase, so they carry an owner (the stream): the first request
 * of an owner takes an idle helper and reserves it; the owner's later
 * requests run there, in order, and no other request does, until one
 * submitted with `release` has been answered. A helper that dies or times
 * out loses its reservation with the request it was doing; the owner's
 * next request starts afresh elsewhere. A raw answer: LX_OK with the
 * helper's answer frame (type byte first, borrowed for the call), or the
 * statuses of speech_pool_done_fn with a message. Runs on the loop,
 * exactly once, never from inside the submit. */
typedef void (*speech_pool_raw_fn)(void *arg, int status, const char *message,
                                   const unsigned char *frame, size_t len);

/* As speech_pool_submit, for an owner's phrase. LX_OK or LX_ENOMEM. */
int speech_pool_submit_owned(speech_pool *p, const void *owner, int release, unsigned char *frame,
                             size_t len, long long timeout_ms, speech_pool_raw_fn done, void *arg);

/* Ends owner's reservation (its stream went away with a phrase open): at
 * once when its helper is idle, else when the running request ends. The
 * owner must have no request queued. */
void speech_pool_release(speech_pool *p, const void *owner);

/* Starts helpers in up to n empty slots now, so that their start-up (a
 * recognizer's model, about a second) happens before the first request.
 * Returns how many were started; a failure is logged. */
int speech_pool_prestart(speech_pool *p, int n);

/* Helpers running now (for tests and /ready). */
int speech_pool_n_running(const speech_pool *p);

/* BLOCKS (init only): the voices of `program`. LX_OK with *out filled (free
 * with speech_voice_list_free), or an error with a message. */
int speech_pool_voices(const char *program, long long timeout_ms, speech_voice_list *out, char *err,
                       size_t errlen);

#endif
