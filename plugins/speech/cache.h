/*
 * Synthesized answers, kept as files shared by every worker of an instance
 * (and every replica that shares the data directory), so that a second
 * read-aloud of the same text is a file read on any worker.
 *
 * One file per answer, DIR/<2 hex>/<64 hex>.json, the body exactly as sent
 * (body.h), named by the SHA-256 of everything that decides the audio
 * (voice, rate, pitch, bit rate, paragraph pause, text, format versions).
 * Written to a temporary name and renamed: a reader sees a whole answer or
 * none. Bounded in bytes: a worker that has written past the bound (by its
 * own count since it last looked), or every 64 writes, lists the files and
 * removes the least recently used (reads touch a file's mtime) down to 90%
 * of it; one worker at a time (a lock file), the others skip.
 *
 * File work runs on the offload pool; callbacks run on the worker loop.
 */
#ifndef SPEECH_CACHE_H
#define SPEECH_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>

#include "body.h"

typedef struct speech_cache speech_cache;

#define SPEECH_CACHE_KEY_LEN 64

/* Master, at init: makes DIR (and its parents). LX_OK or LX_EIO. */
int speech_cache_prepare(const char *dir, char *err, size_t errlen);

/* For worker_start: a cache of at most max_bytes in dir (borrowed for the
 * cache's life); it looks at what is there in the background. NULL when out
 * of memory. */
speech_cache *speech_cache_new(const lx_host *host, lx_worker *w, const char *dir,
                               size_t max_bytes);
/* Jobs still on the pool finish on their own (they hold what they use). */
void speech_cache_free(speech_cache *c);

/* The key (hex, NUL-terminated) of a synthesis. */
void speech_cache_key(const char *voice, int32_t rate_milli, int32_t pitch_centi, uint32_t kbps,
                      uint32_t pause_ms, const char *text, size_t len,
                      char key[SPEECH_CACHE_KEY_LEN + 1]);

/* Looks key up; done(arg, body) runs later on the loop with the body (the
 * callee's reference) or NULL (absent, unreadable, or the worker stopping).
 * LX_OK, or LX_ENOMEM (done never runs). */
int speech_cache_get(speech_cache *c, const char *key, void (*done)(void *arg, speech_body *b),
                     void *arg);

/* Stores b under key in the background (takes its own reference). */
void speech_cache_put(speech_cache *c, const char *key, speech_body *b);

#endif
