/*
 * speech: the plugin itself (see speech.h for the map of its files). The
 * descriptor, the configuration (the `speech` block of etc/lexiaid.conf),
 * init in the master (the voices, asked of one helper; the cache
 * directory), the worker hooks (the local provider with its helper pool,
 * the cache, storage.v1 for profiles) and /ready.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "cache.h"
#include "google_auth.h"
#include "pool.h"
#include "provider.h"
#include "routes.h"
#include "speech.h"
#include "stt_routes.h"
#include "synth.h"
#include "svc.h"
#include "tts_cloud.h"

#ifndef LX_SPEECH_HELPER_PATH
#define LX_SPEECH_HELPER_PATH "/usr/local/libexec/lexiaid/lexiaid-speech"
#endif

#define SPEECH_VOICES_TIMEOUT_MS 20000 /* the helper listing its voices at init */

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */

static const char *const speech_cfg_keys[] = {
    "provider",
    "helper",
    "default_voice",
    "max_text",
    "helpers",
    "queue",
    "timeout",
    "helper_memory",
    "mp3_bitrate",
    "paragraph_pause",
    "helper_idle",
    "reply_audio",
    "cache_size",
    "cache_dir",
    "stt",
    "assets", /* read-aloud assets of documents (assets.c) */
    /* cloud read-aloud (tts_cloud.c) */
    "base_url",
    "api_key",
    "voice",
    "voices",
    "model",
    "request_timeout",
    "retries",
    "parallel",
    "voices_retry",
    /* Google engines' service account (google_auth.c) */
    "service_account",
    NULL,
};

/* A string key: NULL when absent or empty, else a malloc'd copy. */
int speech_cfg_str(const lx_host *h, const lx_cfg *cfg, const char *key, char **out, char *err,
                   size_t errlen)
{
    const char *v = NULL;
    int rc;

    *out = NULL;
    if (cfg == NULL)
        return LX_OK;
    rc = h->cfg_string(cfg, key, &v, err, errlen);
    if (rc == LX_ENOENT || (rc == LX_OK && v[0] == '\0'))
        return LX_OK;
    if (rc != LX_OK)
        return rc;
    if ((*out = strdup(v)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    return LX_OK;
}

/* A number key (kind 'i' integer, 'm' milliseconds, 's' bytes): def when
 * absent, else within [lo, hi] (LX_EINVAL naming FILE:LINE otherwise). */
int speech_cfg_num(const lx_host *h, const lx_cfg *cfg, const char *key, int kind, long long def,
                   long long lo, long long hi, long long *out, char *err, size_t errlen)
{
    const char *unit = kind == 'm' ? " ms" : kind == 's' ? " bytes" : "";
    char where[256] = "";
    size_t sz = 0;
    int rc = LX_ENOENT;

    *out = def;
    if (cfg != NULL) {
        if (kind == 's') {
            rc = h->cfg_size(cfg, key, &sz, err, errlen);
            if (rc == LX_OK)
                *out = sz > (size_t)0x7fffffffffffffffLL ? 0x7fffffffffffffffLL : (long long)sz;
        } else if (kind == 'm') {
            rc = h->cfg_ms(cfg, key, out, err, errlen);
        } else {
            rc = h->cfg_int(cfg, key, out, err, errlen);
        }
    }
    if (rc != LX_OK && rc != LX_ENOENT)
        return rc;
    if (*out >= lo && *out <= hi)
        return LX_OK;
    if (cfg != NULL)
        h->cfg_where(cfg, where, sizeof(where));
    snprintf(err, errlen, "%s: speech: %s must be between %lld and %lld%s", where, key, lo, hi,
             unit);
    return LX_EINVAL;
}

static int speech_configure(speech_state *st, const lx_cfg *cfg, char *err, size_t errlen)
{
    const lx_host *h = st->host;
    char *provider = NULL, where[256] = "";
    long long v;
    int b, rc;

    if (cfg != NULL)
        SPEECH_TRY(h->cfg_check_keys(cfg, speech_cfg_keys, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "provider", &provider, err, errlen));
    if (provider != NULL && strcmp(provider, "local") != 0 && strcmp(provider, "none") != 0 &&
        strcmp(provider, "google") != 0 && strcmp(provider, "openai") != 0) {
        h->cfg_where(cfg, where, sizeof(where));
        snprintf(err, errlen,
                 "%s: speech: provider must be local, google, openai or none, not \"%s\"", where,
                 provider);
        SPEECH_TRY(LX_EINVAL);
    }
    SPEECH_TRY(speech_cfg_str(h, cfg, "service_account", &st->sa_path, err, errlen));
    if (provider != NULL && (strcmp(provider, "google") == 0 || strcmp(provider, "openai") == 0))
        SPEECH_TRY(speech_cloud_configure(st, cfg, provider, err, errlen));
    if (provider != NULL && strcmp(provider, "none") == 0)
        snprintf(st->why_unavailable, sizeof(st->why_unavailable),
                 "the operator turned it off (provider = none)");
    SPEECH_TRY(speech_cfg_str(h, cfg, "helper", &st->helper, err, errlen));
    if (st->helper == NULL && (st->helper = strdup(LX_SPEECH_HELPER_PATH)) == NULL)
        SPEECH_TRY(LX_ENOMEM);
    SPEECH_TRY(speech_cfg_str(h, cfg, "default_voice", &st->default_voice, err, errlen));
    SPEECH_TRY(
        speech_cfg_num(h, cfg, "max_text", 's', 100000, 1, 16LL * 1024 * 1024, &v, err, errlen));
    st->max_text = (size_t)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "helpers", 'i', 2, 1, 64, &v, err, errlen));
    st->n_helpers = (int)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "queue", 'i', 64, 0, 100000, &v, err, errlen));
    st->max_queue = (int)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "timeout", 'm', 120000, 100, 3600000, &v, err, errlen));
    st->timeout_ms = v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "helper_memory", 's', 1024LL * 1024 * 1024,
                              64LL * 1024 * 1024, 64LL * 1024 * 1024 * 1024, &v, err, errlen));
    st->helper_memory = (size_t)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "mp3_bitrate", 'i', 40, 16, 160, &v, err, errlen));
    st->kbps = (uint32_t)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "paragraph_pause", 'm', 600, 0, 5000, &v, err, errlen));
    st->pause_ms = (uint32_t)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "helper_idle", 'm', 600000, 0, 86400000, &v, err, errlen));
    st->idle_ms = v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "cache_size", 's', 256LL * 1024 * 1024, 0,
                              1024LL * 1024 * 1024 * 1024, &v, err, errlen));
    st->cache_size = (size_t)v;
    SPEECH_TRY(speech_cfg_str(h, cfg, "cache_dir", &st->cache_dir, err, errlen));
    st->reply_audio = 1;
    if (cfg != NULL) {
        rc = h->cfg_bool(cfg, "reply_audio", &b, err, errlen);
        if (rc == LX_OK)
            st->reply_audio = b;
        else if (rc != LX_ENOENT)
            goto out;
    }
    SPEECH_TRY(
        speech_stt_configure(st, cfg != NULL ? h->cfg_child(cfg, "stt") : NULL, err, errlen));
    SPEECH_TRY(
        speech_assets_configure(st, cfg != NULL ? h->cfg_child(cfg, "assets") : NULL, err, errlen));
    if (cfg != NULL)
        h->cfg_where(cfg, where, sizeof(where));
    SPEECH_TRY(speech_gauth_configure(st, where, err, errlen));
    rc = LX_OK;
out:
    free(provider);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Init in the master                                                       */

static void speech_state_free(speech_state *st)
{
    if (st == NULL)
        return;
    speech_voices_free(&st->voices);
    speech_stt_cfg_free(&st->stt);
    speech_cloud_cfg_free(st->cloud_cfg);
    speech_assets_cfg_free(&st->assets);
    free(st->helper);
    free(st->default_voice);
    free(st->cache_dir);
    free(st->sa_path);
    free(st);
}

/* The voices, from one helper. A helper that cannot run makes synthesis
 * unavailable (503, /ready says why), not the server. */
static void speech_load_voices(speech_state *st)
{
    speech_voice_list l;
    char err[512] = "";

#if !defined(LX_HAVE_FLITE) && !defined(LX_HAVE_ESPEAK_NG)
    snprintf(st->why_unavailable, sizeof(st->why_unavailable),
             "lexiaid was built without speech engines (configure --disable-speech-flite "
             "--disable-speech-espeak-ng)");
    return;
#endif
    if (access(st->helper, X_OK) != 0) {
        snprintf(st->why_unavailable, sizeof(st->why_unavailable),
                 "the speech helper %s cannot be run; set helper (LEXIAID_SPEECH_HELPER)",
                 st->helper);
        return;
    }
    if (speech_pool_voices(st->helper, SPEECH_VOICES_TIMEOUT_MS, &l, err, sizeof(err)) != LX_OK) {
        snprintf(st->why_unavailable, sizeof(st->why_unavailable), "%s", err);
        return;
    }
    if (speech_voices_build(&l, &st->voices) != LX_OK)
        snprintf(st->why_unavailable, sizeof(st->why_unavailable), "out of memory");
    else if (st->voices.n == 0)
        snprintf(st->why_unavailable, sizeof(st->why_unavailable),
                 "the speech helper has no voice (built without flite and espeak-ng)");
    speech_voice_list_free(&l);
}

/* The default voice: the configured one (which must exist), else the
 * first of espeak-ng's American English, flite's slt, any voice. */
static int speech_pick_default(speech_state *st, const lx_cfg *cfg, char *err, size_t errlen)
{
    static const char *const prefs[] = {"espeak-ng:en-us", "flite:cmu_us_slt", NULL};
    char where[256] = "";

    if (st->default_voice != NULL) {
        st->dflt = speech_voice_find(&st->voices, st->default_voice);
        if (st->dflt == NULL && st->voices.n > 0) {
            if (cfg != NULL)
                st->host->cfg_where(cfg, where, sizeof(where));
            snprintf(err, errlen,
                     "%s: speech: default_voice \"%s\" is not a voice here; the voices: %.2000s",
                     where, st->default_voice, st->voices.names);
            return LX_EINVAL;
        }
        return LX_OK;
    }
    for (int i = 0; prefs[i] != NULL && st->dflt == NULL; i++)
        st->dflt = speech_voice_find(&st->voices, prefs[i]);
    if (st->dflt == NULL && st->voices.n > 0)
        st->dflt = &st->voices.v[0];
    return LX_OK;
}

static int speech_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                       size_t errlen)
{
    speech_state *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    st->host = host;
    rc = speech_configure(st, cfg, err, errlen);
    if (rc != LX_OK)
        goto fail;
    if (st->why_unavailable[0] == '\0')
        speech_load_voices(st);
    if (st->why_unavailable[0] == '\0') {
        rc = speech_pick_default(st, cfg, err, errlen);
        if (rc != LX_OK)
            goto fail;
        host->log(LX_LOG_INFO, SPEECH_SRC, NULL, "%zu voices; default %s; %d helpers per worker",
                  st->voices.n, st->dflt->name, st->n_helpers);
    } else {
        host->log(LX_LOG_WARN, SPEECH_SRC, NULL, "speech synthesis is off: %s",
                  st->why_unavailable);
    }
    if (st->cache_size > 0) {
        if (st->cache_dir == NULL) {
            const char *dd = host->data_dir();
            size_t n = strlen(dd) + sizeof("/cache/tts");

            if ((st->cache_dir = malloc(n)) == NULL) {
                rc = LX_ENOMEM;
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            snprintf(st->cache_dir, n, "%s/cache/tts", dd);
        }
        rc = speech_cache_prepare(st->cache_dir, err, errlen);
        if (rc != LX_OK)
            goto fail;
    }
    rc = speech_svc_register(st, err, errlen);
    if (rc != LX_OK)
        goto fail;
    speech_assets_subscribe(st);
    *state = st;
    return LX_OK;
fail:
    speech_state_free(st);
    return rc;
}

static void speech_shutdown(void *state)
{
    speech_state_free(state);
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                  */

static int speech_worker_start(void *state, lx_worker *w, char *err, size_t errlen)
{
    speech_state *st = state;

    st->w = w;
    st->sv = st->host->svc_lookup(LX_STORAGE_V1, &st->sv_state);
    if (speech_stt_worker_start(st, err, errlen) != LX_OK)
        return LX_ENOMEM;
    if (st->why_unavailable[0] != '\0')
        return LX_OK;
    st->local = speech_local_new(st, w);
    if (st->local == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    if (speech_cloud_worker_start(st, err, errlen) != LX_OK)
        return LX_ENOMEM;
    if (st->cache_size > 0 && st->cache_dir != NULL &&
        (st->cache = speech_cache_new(st->host, w, st->cache_dir, st->cache_size)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    return LX_OK;
}

static void speech_worker_stop(void *state, lx_worker *w)
{
    speech_state *st = state;
    speech_provider *local = st->local;

    (void)w;
    speech_make_stop(st); /* first: its waiters are cancelled before synth's stop */
    speech_synth_stop(st);
    speech_stt_worker_stop(st);
    speech_cloud_worker_stop(st); /* before local: its encodings run there */
    st->local = NULL;             /* what calls back later (storage, the cache) sees it */
    if (local != NULL)
        local->destroy(local);
    speech_cache_free(st->cache);
    st->cache = NULL;
}

static void speech_health(void *state, lx_worker *w, lx_health_report_fn report, void *token)
{
    speech_state *st = state;
    char detail[400];

    (void)w;
    if (st->why_unavailable[0] != '\0') {
        snprintf(detail, sizeof(detail), "speech off: %s", st->why_unavailable);
        /* off on purpose is healthy; a helper that cannot run is not */
        report(token,
               strstr(st->why_unavailable, "provider = none") != NULL ||
                   strstr(st->why_unavailable, "--disable-speech-") != NULL,
               detail);
        return;
    }
    snprintf(detail, sizeof(detail), "%zu voices, default %s", st->voices.n, st->dflt->name);
    report(token, 1, detail);
}

/* ------------------------------------------------------------------------ */
/* The descriptor                                                           */

static const lx_handler speech_handlers[] = {
    {"synthesize", speech_h_synthesize, LX_H_ENDPOINT},
    {"voices", speech_h_voices, LX_H_ENDPOINT},
    {"transcribe", speech_h_transcribe, LX_H_ENDPOINT},
    {"languages", speech_h_languages, LX_H_ENDPOINT},
    {"stream", speech_h_stream, LX_H_WEBSOCKET},
    {"tts_assets", speech_h_tts_assets, LX_H_ENDPOINT},
    {"tts_asset", speech_h_tts_asset, LX_H_ENDPOINT},
    {NULL, NULL, 0},
};

static const char *const speech_provides[] = {LX_SPEECH_V1, NULL};

static const lx_plugin speech_plugin = {
    LX_PLUGIN_HEADER,
    .name = "speech",
    .version = "0.1.0",
    .description = "read-aloud with word times (flite, espeak-ng) and dictation (pocketsphinx, "
                   "OpenAI-compatible, Google) in helper processes",
    .handlers = speech_handlers,
    .provides = speech_provides,
    .init = speech_init,
    .worker_start = speech_worker_start,
    .worker_stop = speech_worker_stop,
    .shutdown = speech_shutdown,
    .health = speech_health,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &speech_plugin;
}
