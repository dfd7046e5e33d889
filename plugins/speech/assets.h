/*
 * Read-aloud assets of a document: GET /api/documents/{id}/tts-assets.
 *
 *   assets.c       configuration (the `assets` group), the URL secret, the
 *                  routes: the signed-in one that hands out the URLs, and
 *                  the signed one that serves the audio (byte ranges) and
 *                  the timepoints without a token
 *   assets_make.c  the maker: a document's whole text spoken chunk by
 *                  chunk (paragraphs) through synth.c, the MP3s joined and
 *                  the timepoints shifted, both stored through storage.v1
 *   assets_parse.c the pure pieces: the Range header, the chunk planner,
 *                  the MP3 frame counter, the failures' backoff
 *   assets_params.c the voice, speed and pitch the assets are made with
 *   sign.c         the URL signature (HMAC-SHA256, constant-time check)
 *
 * Storage tells this plugin when a document's text is stored (storage.v1
 * subscribe, LX_STORAGE_EV_PROCESSED): the assets are made then, in the
 * background; a request that finds none queues them too. All on the
 * worker loop; engines run in the helpers (pool.c), bytes go through
 * storage's offload jobs.
 */
#ifndef SPEECH_ASSETS_H
#define SPEECH_ASSETS_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>

typedef struct speech_state speech_state;
typedef struct speech_make_job speech_make_job;

typedef struct speech_assets_cfg {
    int enabled;              /* the routes answer and the maker runs */
    unsigned char secret[64]; /* HMAC key */
    size_t secret_len;
    int secret_generated; /* made per data dir (no configured secret) */
    long long ttl_ms;     /* a signed URL's life (15 min) */
    char *public_url;     /* "https://api.example.org" (no slash at the end); NULL: Host */
    int concurrency;      /* documents made at once per worker */
    size_t chunk;         /* bytes of text per synthesis */
    size_t max_text;      /* longer documents get no assets */
    int on_processed;     /* made as soon as storage says the text is there */
    long long retry_min_ms, retry_max_ms; /* a failed document's backoff */
} speech_assets_cfg;

/* A document whose assets failed to be made: not tried again before
 * next_ms (CLOCK_MONOTONIC), doubling with each failure in a row. */
typedef struct speech_make_failure {
    char *id;
    int fails;
    int64_t next_ms;
} speech_make_failure;

/* Per worker: the maker's queue (assets_make.c). */
typedef struct speech_maker {
    speech_make_job *queue; /* waiting, FIFO */
    speech_make_job *running;
    int n_running, n_queued;
    int stopping;
    speech_make_failure *failed; /* at most MAKE_MAX_FAILED, unordered */
    size_t n_failed;
} speech_maker;

/* The `assets` group (may be NULL: defaults), in init. The secret: `secret`
 * when set (at least 16 bytes), else DATA_DIR/tts-url-secret, made (0600,
 * 32 random bytes in hex) when absent. LX_OK or LX_EINVAL naming FILE:LINE. */
int speech_assets_configure(speech_state *st, const lx_cfg *cfg, char *err, size_t errlen);
void speech_assets_cfg_free(speech_assets_cfg *c);
/* Subscribes to storage.v1's events when storage is there (init). */
void speech_assets_subscribe(speech_state *st);

/* The parameters assets are made with (assets_params.c): the voice name,
 * speed and pitch, and the canonical JSON stored beside the assets. */
typedef struct speech_asset_params {
    char voice[160];
    double rate, pitch;
    char json[320];
} speech_asset_params;
/* The parameters the profile (profile_json: storage.v1 profile_get's
 * answer; NULL: none) asks of the worker's voices now, resolved as a
 * synthesis that names none. LX_OK, LX_ENOMEM, LX_ETOOBIG (a voice name
 * past the buffer). On the loop. */
int speech_asset_params_of(speech_state *st, const char *profile_json, speech_asset_params *p);

/* Handlers. */
lx_rc speech_h_tts_assets(lx_req *req, void *state); /* GET /api/documents/{id}/tts-assets */
lx_rc speech_h_tts_asset(lx_req *req, void *state);  /* GET /api/tts-assets/{id}/{file} */

/* The maker (assets_make.c). Queues the assets of uid's document id (a
 * no-op when already queued or being made in this worker, or when the
 * queue is full). */
void speech_make_queue(speech_state *st, const char *uid, const char *id);
/* 1 while the document's assets are queued or being made here. */
int speech_make_pending(speech_state *st, const char *id);
/* Milliseconds until the document may be tried again after its assets
 * failed to be made (speech_make_queue ignores it until then), 0 when it
 * has not failed or may be tried now. Per worker: each worker backs off on
 * its own (a failure is not shared). */
int64_t speech_make_backoff(speech_state *st, const char *id);
/* Forgets the document's failures: its text is new (storage processed it
 * again). */
void speech_make_clear(speech_state *st, const char *id);
/* Drops the document's job if it has not started and its failures (it
 * was deleted). */
void speech_make_forget(speech_state *st, const char *id);
/* worker_stop: waiting jobs and failures dropped, running ones end when
 * their storage call answers; no new ones. */
void speech_make_stop(speech_state *st);

/* sign.c. The signature of (path, uid, expires) with key: 64 hex digits
 * and a NUL into hex. LX_OK or LX_EIO (libcrypto failed). */
int speech_sign(const unsigned char *key, size_t key_len, const char *path, const char *uid,
                int64_t expires, char hex[65]);
/* 1 when hex is that signature (compared in constant time), else 0. */
int speech_sign_ok(const unsigned char *key, size_t key_len, const char *path, const char *uid,
                   int64_t expires, const char *hex);
/* uid (1..128 bytes) sealed for a URL: AES-256-GCM under a key derived
 * from key, a random nonce, base64url without padding, into out (cap
 * bytes; 240 are enough). LX_OK, LX_EINVAL (uid or cap), LX_EIO. */
int speech_seal_uid(const unsigned char *key, size_t key_len, const char *uid, char *out,
                    size_t cap);
/* The uid sealed in `sealed` into uid (cap bytes): LX_OK, or LX_EINVAL
 * when it is not one this key sealed (altered, another key, malformed). */
int speech_open_uid(const unsigned char *key, size_t key_len, const char *sealed, char *uid,
                    size_t cap);

#endif
