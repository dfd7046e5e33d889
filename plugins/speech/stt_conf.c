/*
 * Dictation's configuration (the `stt` group of the speech plugin's
 * config; etc/lexiaid.conf documents every key) and the recognizer helpers
 * of a worker.
 *
 *   provider    local (pocketsphinx in the speech helpers: offline, no key;
 *               fair on clearly read speech, weak on free speech), openai
 *               (any OpenAI-compatible /v1/audio/transcriptions: OpenAI,
 *               whisper.cpp's server, faster-whisper servers), google
 *               (Speech-to-Text v1 speech:recognize with the speech block's
 *               service_account, or an API key), or
 *               none (the dictation routes answer 503 STT_UNAVAILABLE)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "recognizer.h"
#include "speech.h"

#ifndef LX_POCKETSPHINX_MODEL
#define LX_POCKETSPHINX_MODEL "/usr/share/pocketsphinx/model/en-us"
#endif
/* stt.model_dir's default: configure --with-stt-model (the image: a pruned
 * language model), else Debian's pocketsphinx-en-us. */
#ifndef LX_STT_MODEL_DIR
#define LX_STT_MODEL_DIR LX_POCKETSPHINX_MODEL
#endif

static const char *const stt_keys[] = {
    "provider",    "helpers",    "queue",      "timeout",   "max_audio", "max_seconds",
    "end_silence", "piece_wait", "max_phrase", "model_dir", "fast",      "language",
    "base_url",    "api_key",    "model",      "retries",   NULL,
};

void speech_stt_cfg_free(speech_stt_cfg *c)
{
    free(c->model_dir);
    free(c->language);
    free(c->base_url);
    free(c->api_key);
    free(c->model);
    memset(c, 0, sizeof(*c));
}

/* A value that goes into a URL or a JSON string unescaped: letters, digits
 * and -_.:/ only. */
static int is_plain(const char *s)
{
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("-_.:/", *s) != NULL))
            return 0;
    return 1;
}

int speech_stt_configure(speech_state *st, const lx_cfg *cfg, char *err, size_t errlen)
{
    const lx_host *h = st->host;
    speech_stt_cfg *c = &st->stt;
    char *provider = NULL, where[256] = "";
    long long v;
    int b, rc;

    if (cfg != NULL)
        h->cfg_where(cfg, where, sizeof(where));
    if (cfg != NULL)
        SPEECH_TRY(h->cfg_check_keys(cfg, stt_keys, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "provider", &provider, err, errlen));
    if (provider == NULL || strcmp(provider, "local") == 0)
        c->provider = SPEECH_STT_LOCAL;
    else if (strcmp(provider, "openai") == 0)
        c->provider = SPEECH_STT_OPENAI;
    else if (strcmp(provider, "google") == 0)
        c->provider = SPEECH_STT_GOOGLE;
    else if (strcmp(provider, "none") == 0)
        c->provider = SPEECH_STT_OFF;
    else {
        snprintf(err, errlen,
                 "%s: speech: stt.provider must be local, openai, google or none, "
                 "not \"%s\"",
                 where, provider);
        SPEECH_TRY(LX_EINVAL);
    }
    SPEECH_TRY(speech_cfg_num(h, cfg, "helpers", 'i', 2, 1, 64, &v, err, errlen));
    c->helpers = (int)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "queue", 'i', 16, 0, 100000, &v, err, errlen));
    c->queue = (int)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "timeout", 'm', 30000, 100, 600000, &v, err, errlen));
    c->timeout_ms = v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "max_audio", 's', 50LL * 1024 * 1024, 1024, 1LL << 32, &v,
                              err, errlen));
    c->max_bytes = (size_t)v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "max_seconds", 'i', 600, 1, 86400, &v, err, errlen));
    c->max_ms = v * 1000;
    SPEECH_TRY(speech_cfg_num(h, cfg, "end_silence", 'm', 700, 100, 10000, &v, err, errlen));
    c->end_silence_ms = v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "piece_wait", 'm', 1500, 0, 60000, &v, err, errlen));
    c->piece_wait_ms = v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "max_phrase", 'm', 30000, 1000, 55000, &v, err, errlen));
    c->max_phrase_ms = v;
    SPEECH_TRY(speech_cfg_num(h, cfg, "retries", 'i', 2, 0, 10, &v, err, errlen));
    c->retries = (int)v;
    SPEECH_TRY(speech_cfg_str(h, cfg, "model_dir", &c->model_dir, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "language", &c->language, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "base_url", &c->base_url, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "api_key", &c->api_key, err, errlen));
    SPEECH_TRY(speech_cfg_str(h, cfg, "model", &c->model, err, errlen));
    if (cfg != NULL) {
        rc = h->cfg_bool(cfg, "fast", &b, err, errlen);
        if (rc == LX_OK)
            c->fast = b;
        else if (rc != LX_ENOENT)
            goto out;
    }
    if (c->language == NULL && (c->language = strdup("en-US")) == NULL)
        SPEECH_TRY(LX_ENOMEM);
    if (c->model_dir == NULL && (c->model_dir = strdup(LX_STT_MODEL_DIR)) == NULL)
        SPEECH_TRY(LX_ENOMEM);
    if (!is_plain(c->language) || (c->model != NULL && !is_plain(c->model))) {
        snprintf(err, errlen,
                 "%s: speech: stt.language and stt.model may hold only letters, "
                 "digits and -_.:/",
                 where);
        SPEECH_TRY(LX_EINVAL);
    }
    if (c->api_key != NULL && strpbrk(c->api_key, "\r\n") != NULL) {
        snprintf(err, errlen, "%s: speech: stt.api_key holds a line break", where);
        SPEECH_TRY(LX_EINVAL);
    }

    switch (c->provider) {
    case SPEECH_STT_OFF:
        snprintf(c->why_off, sizeof(c->why_off),
                 "the operator turned dictation off (stt.provider = none)");
        break;
    case SPEECH_STT_LOCAL:
#if !defined(LX_HAVE_DICTATION) || !defined(LX_HAVE_POCKETSPHINX)
        snprintf(c->why_off, sizeof(c->why_off),
                 "lexiaid was built without pocketsphinx (configure --disable-speech-pocketsphinx "
                 "or --disable-dictation): set stt.provider to openai or google");
#else
        if (access(st->helper, X_OK) != 0)
            snprintf(c->why_off, sizeof(c->why_off),
                     "the speech helper %s cannot be run; set helper (LEXIAID_SPEECH_HELPER)",
                     st->helper);
        else
            c->rec = &speech_rec_local;
#endif
        break;
    default:
        if (c->provider == SPEECH_STT_GOOGLE && c->api_key == NULL && st->sa_path == NULL) {
            snprintf(err, errlen,
                     "%s: speech: stt.provider google needs the speech block's service_account "
                     "(LEXIAID_SPEECH_SERVICE_ACCOUNT) or stt.api_key (LEXIAID_STT_API_KEY)",
                     where);
            SPEECH_TRY(LX_EINVAL);
        }
        if (c->base_url == NULL) {
            const char *u = c->provider == SPEECH_STT_GOOGLE ? "https://speech.googleapis.com"
                                                             : "https://api.openai.com";
            if ((c->base_url = strdup(u)) == NULL)
                SPEECH_TRY(LX_ENOMEM);
        }
        if (strncmp(c->base_url, "http://", 7) != 0 && strncmp(c->base_url, "https://", 8) != 0) {
            snprintf(err, errlen, "%s: speech: stt.base_url must start with http:// or https://",
                     where);
            SPEECH_TRY(LX_EINVAL);
        }
        if (c->model == NULL &&
            (c->model = strdup(c->provider == SPEECH_STT_GOOGLE ? "latest_short" : "whisper-1")) ==
                NULL)
            SPEECH_TRY(LX_ENOMEM);
#ifdef LX_HAVE_DICTATION
        c->rec = c->provider == SPEECH_STT_GOOGLE ? &speech_rec_google : &speech_rec_openai;
#else
        snprintf(c->why_off, sizeof(c->why_off),
                 "lexiaid was built without dictation (configure --disable-dictation)");
#endif
        break;
    }
    if (c->rec != NULL)
        h->log(LX_LOG_INFO, SPEECH_SRC, NULL, "dictation: %s, %s", c->rec->name, c->language);
    else
        h->log(LX_LOG_WARN, SPEECH_SRC, NULL, "dictation is off: %s", c->why_off);
    rc = LX_OK;
out:
    free(provider);
    return rc;
}

int speech_stt_worker_start(speech_state *st, char *err, size_t errlen)
{
    if (st->stt.rec == NULL || st->stt.provider != SPEECH_STT_LOCAL)
        return LX_OK;
    /* The recognizer helpers: the same program, each with a decoder loaded
     * at its start; a bounded number per worker. */
    static const char *const fast_args[] = {"--stt-fast", NULL};
    st->stt_args[0] = "--stt-model";
    st->stt_args[1] = st->stt.model_dir;
    st->stt_args[2] = st->stt.fast ? fast_args[0] : NULL;
    st->stt_args[3] = NULL;
    speech_pool_opts o = {
        .program = st->helper,
        .n_helpers = st->stt.helpers,
        .max_queue = st->stt.queue,
        .max_mem = st->helper_memory,
        .idle_ms = 0, /* kept warm: a model takes a second to load */
        .args = st->stt_args,
    };
    st->stt_pool = speech_pool_new(st->host, st->w, &o);
    if (st->stt_pool == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    /* Loaded before the first dictation: a student's first second of
     * speech must not wait for a model. */
    speech_pool_prestart(st->stt_pool, st->stt.helpers);
    return LX_OK;
}

void speech_stt_worker_stop(speech_state *st)
{
    speech_pool_free(st->stt_pool);
    st->stt_pool = NULL;
}
