/*
 * tutoring: document-grounded chat, quizzes and answer formulation
 * (tutoring.h). This file is the plugin itself: the descriptor, the
 * configuration, init/shutdown, and the helpers every handler shares.
 *
 * Config keys:
 *   provider      "auto" (the default: gemini when gemini.api_key is set,
 *                 else openai when openai.api_key is set, else offline),
 *                 "offline", "gemini" or "openai"
 *   target_grade  the reading level asked for, a number 1..12 (default 6)
 *   deadline      a model call's whole time, retries included (default 120s)
 *   max_attempts  HTTP attempts per model call, 1..10 (default 4)
 *   backoff       the first retry's base delay (default 500ms)
 *   gemini, openai  groups of {base_url, api_key, model}
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutoring.h"

const lx_principal *tutor_require_user(tutor_state *st, lx_req *req)
{
    const lx_principal *p = st->host->ctx_get(req, LX_AUTH_PRINCIPAL);

    if (p == NULL || p->uid == NULL || p->uid[0] == '\0') {
        st->host->reply_error(req, 401, "UNAUTHENTICATED", "Sign in first");
        return NULL;
    }
    return p;
}

void tutor_reply_storage_error(tutor_state *st, lx_req *req, int status, const char *message,
                               const char *not_found)
{
    const lx_host *h = st->host;

    switch (status) {
    case LX_ENOENT:
        h->reply_error(req, 404, "NOT_FOUND", not_found != NULL ? not_found : "Not found");
        break;
    case LX_EINVAL:
        h->reply_error(req, 400, "INVALID_REQUEST",
                       message != NULL && message[0] != '\0' ? message : "Invalid request");
        break;
    case LX_ECANCELED:
        h->reply_error(req, 503, "SHUTTING_DOWN", "The server is shutting down");
        break;
    default:
        h->log(LX_LOG_ERROR, TUTOR_SRC, req, "storage failed (%d): %s", status,
               message != NULL ? message : "");
        h->reply_error(req, 503, "STORAGE_UNAVAILABLE", "Storage is not available right now");
        break;
    }
}

int tutor_llm_failure(tutor_state *st, lx_req *req, const tutor_llm_result *r, const char **code,
                      const char **message)
{
    int http;

    if (r->err == LX_ETIMEDOUT) {
        http = 504;
        *code = "PROVIDER_TIMEOUT";
        *message = "The AI tutor took too long to answer. Please try again.";
    } else if (r->err == LX_EINVAL) {
        http = 502;
        *code = "PROVIDER_BAD_ANSWER";
        *message = "The AI tutor gave an answer that could not be read. Please try again.";
    } else {
        http = 502;
        *code = "PROVIDER_ERROR";
        *message = "The AI tutor is not available right now. Please try again in a moment.";
    }
    st->host->log(LX_LOG_WARN, TUTOR_SRC, req,
                  "%s call failed: %s (HTTP %d, %d attempt%s, %.0f ms): %s", st->provider, *code,
                  r->http_status, r->attempts, r->attempts == 1 ? "" : "s", r->total_ms,
                  r->errmsg != NULL ? r->errmsg : "");
    return http;
}

/* A string key of cfg into *out (kept when absent). */
static int tutor_cfg_str(const lx_host *host, const lx_cfg *cfg, const char *key, const char **out,
                         char *err, size_t errlen)
{
    const char *v = NULL;
    int rc;

    if (cfg == NULL)
        return LX_OK;
    rc = host->cfg_string(cfg, key, &v, err, errlen);
    if (rc == LX_ENOENT)
        return LX_OK;
    if (rc != LX_OK)
        return rc;
    *out = v;
    return LX_OK;
}

/* One provider's group ({base_url, api_key, model}) into *base, *key,
 * *model (kept when absent). */
static int tutor_cfg_provider(const lx_host *host, const lx_cfg *cfg, const char *name,
                              const char **base, const char **key, const char **model, char *err,
                              size_t errlen)
{
    static const char *const keys[] = {"base_url", "api_key", "model", NULL};
    const lx_cfg *g = cfg != NULL ? host->cfg_child(cfg, name) : NULL;
    int rc;

    if (g == NULL)
        return LX_OK;
    if ((rc = host->cfg_check_keys(g, keys, err, errlen)) != LX_OK ||
        (rc = tutor_cfg_str(host, g, "base_url", base, err, errlen)) != LX_OK ||
        (rc = tutor_cfg_str(host, g, "api_key", key, err, errlen)) != LX_OK ||
        (rc = tutor_cfg_str(host, g, "model", model, err, errlen)) != LX_OK)
        return rc;
    return LX_OK;
}

/* A duration key into *out, within [lo, hi] ms. */
static int tutor_cfg_ms(const lx_host *host, const lx_cfg *cfg, const char *key, long long lo,
                        long long hi, long long *out, char *err, size_t errlen)
{
    long long v;
    int rc;

    if (cfg == NULL)
        return LX_OK;
    rc = host->cfg_ms(cfg, key, &v, err, errlen);
    if (rc == LX_ENOENT)
        return LX_OK;
    if (rc != LX_OK)
        return rc;
    if (v < lo || v > hi) {
        char where[256];
        host->cfg_where(cfg, where, sizeof(where));
        snprintf(err, errlen, "%s: tutoring: %s must be from %lld ms to %lld ms", where, key, lo,
                 hi);
        return LX_EINVAL;
    }
    *out = v;
    return LX_OK;
}

static int tutor_is_http_url(const char *u)
{
    return u != NULL && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
           strlen(u) > 8 && strpbrk(u, " \t\r\n") == NULL;
}

/* Frees a tutor_state and what it owns (NULL is fine). */
static void tutor_state_free(tutor_state *st)
{
    if (st == NULL)
        return;
    free(st->provider);
    tutor_llm_cfg_free(&st->llm);
    free(st);
}

/* Reads cfg into st (made by tutor_init); on failure what st owns so far
 * is freed with st by the caller. */
static int tutor_configure(tutor_state *st, const lx_host *host, const lx_cfg *cfg, char *err,
                           size_t errlen)
{
    static const char *const keys[] = {"provider", "target_grade", "deadline", "max_attempts",
                                       "backoff",  "gemini",       "openai",   NULL};
    const lx_storage_v1 *sv;
    void *svst = NULL;
    const char *provider = "auto";
    const char *grade_s = NULL;
    const char *g_base = "https://generativelanguage.googleapis.com/v1beta", *g_key = "",
               *g_model = "gemini-3-flash-preview";
    const char *o_base = "https://api.openai.com/v1", *o_key = "", *o_model = "gpt-4o-mini";
    const char *base = NULL, *key = NULL, *model = NULL;
    char grade_buf[32];
    tutor_llm_kind kind;
    long long attempts = 4;
    int rc;

    st->host = host;
    st->target_grade = 6.0;
    st->llm.deadline_ms = 120000;
    st->llm.connect_timeout_ms = 10000;
    st->llm.backoff_ms = 500;
    st->llm.temperature = 0.3;
    st->llm.max_tokens = 1024;
    if (cfg != NULL) {
        rc = host->cfg_check_keys(cfg, keys, err, errlen);
        if (rc != LX_OK)
            return rc;
        rc = tutor_cfg_str(host, cfg, "provider", &provider, err, errlen);
        if (rc != LX_OK)
            return rc;
        /* A number (an integer in the config) or a string like "6.5". */
        rc = host->cfg_string(cfg, "target_grade", &grade_s, err, errlen);
        if (rc == LX_EINVAL) {
            long long gi = 0;
            rc = host->cfg_int(cfg, "target_grade", &gi, err, errlen);
            if (rc != LX_OK) {
                snprintf(err, errlen, "tutoring: target_grade must be a number from 1 to 12");
                return LX_EINVAL;
            }
            snprintf(grade_buf, sizeof(grade_buf), "%lld", gi);
            grade_s = grade_buf;
        } else if (rc != LX_OK && rc != LX_ENOENT) {
            return rc;
        }
        rc = host->cfg_int(cfg, "max_attempts", &attempts, err, errlen);
        if (rc != LX_OK && rc != LX_ENOENT)
            return rc;
        if (attempts < 1 || attempts > 10) {
            snprintf(err, errlen, "tutoring: max_attempts must be from 1 to 10 (got %lld)",
                     attempts);
            return LX_EINVAL;
        }
        if ((rc = tutor_cfg_ms(host, cfg, "deadline", 100, 3600000, &st->llm.deadline_ms, err,
                               errlen)) != LX_OK ||
            (rc = tutor_cfg_ms(host, cfg, "backoff", 1, 60000, &st->llm.backoff_ms, err, errlen)) !=
                LX_OK ||
            (rc = tutor_cfg_provider(host, cfg, "gemini", &g_base, &g_key, &g_model, err,
                                     errlen)) != LX_OK ||
            (rc = tutor_cfg_provider(host, cfg, "openai", &o_base, &o_key, &o_model, err,
                                     errlen)) != LX_OK)
            return rc;
    }
    st->llm.max_attempts = (int)attempts;
    if (strcmp(provider, "auto") == 0 || provider[0] == '\0')
        kind = g_key[0] != '\0'   ? TUTOR_LLM_GEMINI
               : o_key[0] != '\0' ? TUTOR_LLM_OPENAI
                                  : TUTOR_LLM_OFFLINE;
    else if (strcmp(provider, "offline") == 0)
        kind = TUTOR_LLM_OFFLINE;
    else if (strcmp(provider, "gemini") == 0)
        kind = TUTOR_LLM_GEMINI;
    else if (strcmp(provider, "openai") == 0)
        kind = TUTOR_LLM_OPENAI;
    else {
        snprintf(err, errlen,
                 "tutoring: provider must be auto, offline, gemini or openai (got '%.40s')",
                 provider);
        return LX_EINVAL;
    }
    if (kind == TUTOR_LLM_GEMINI) {
        base = g_base;
        key = g_key;
        model = g_model;
        if (key[0] == '\0') {
            snprintf(err, errlen,
                     "tutoring: provider gemini needs gemini.api_key "
                     "(GOOGLE_API_KEY)");
            return LX_EINVAL;
        }
    } else if (kind == TUTOR_LLM_OPENAI) {
        base = o_base;
        key = o_key;
        model = o_model;
    }
    if (kind != TUTOR_LLM_OFFLINE) {
        size_t n;
        if (!tutor_is_http_url(base)) {
            snprintf(err, errlen, "tutoring: %s.base_url must be an http:// or https:// URL",
                     tutor_llm_kind_name(kind));
            return LX_EINVAL;
        }
        if (model == NULL || model[0] == '\0' || strlen(model) > 200) {
            snprintf(err, errlen, "tutoring: %s.model must name a model",
                     tutor_llm_kind_name(kind));
            return LX_EINVAL;
        }
        if (strpbrk(key, "\r\n") != NULL) {
            snprintf(err, errlen, "tutoring: %s.api_key holds a line break",
                     tutor_llm_kind_name(kind));
            return LX_EINVAL;
        }
        st->llm.base_url = strdup(base);
        st->llm.api_key = strdup(key);
        st->llm.model = strdup(model);
        if (st->llm.base_url == NULL || st->llm.api_key == NULL || st->llm.model == NULL) {
            snprintf(err, errlen, "tutoring: out of memory");
            return LX_ENOMEM;
        }
        n = strlen(st->llm.base_url);
        while (n > 0 && st->llm.base_url[n - 1] == '/')
            st->llm.base_url[--n] = '\0';
    }
    st->llm.kind = kind;
    if (grade_s != NULL) {
        char *end = NULL;
        double g = strtod(grade_s, &end);
        if (end == grade_s || *end != '\0' || !(g >= 1.0 && g <= 12.0)) {
            snprintf(err, errlen,
                     "tutoring: target_grade must be a number from 1 to 12 (got '%.32s')", grade_s);
            return LX_EINVAL;
        }
        st->target_grade = g;
    }
    sv = host->svc_lookup(LX_STORAGE_V1, &svst);
    if (sv == NULL) {
        snprintf(err, errlen, "tutoring: %s is not registered (enable the storage plugin)",
                 LX_STORAGE_V1);
        return LX_ENOENT;
    }
    /* Its minor 2 (record_get_items, doc_get_search, batch_items): the
     * chat turn's three calls. */
    if (!LX_STORAGE_V1_HAS(sv, record_get_items) || !LX_STORAGE_V1_HAS(sv, doc_get_search) ||
        !LX_STORAGE_V1_HAS(sv, batch_items)) {
        snprintf(err, errlen, "tutoring: %s is older than this plugin (it needs its minor 2)",
                 LX_STORAGE_V1);
        return LX_EINVAL;
    }
    st->provider = strdup(tutor_llm_kind_name(kind));
    if (st->provider == NULL) {
        snprintf(err, errlen, "tutoring: out of memory");
        return LX_ENOMEM;
    }
    st->sv = sv;
    st->sv_state = svst;
    if (kind == TUTOR_LLM_OFFLINE)
        host->log(LX_LOG_INFO, TUTOR_SRC, NULL, "provider offline (no model)");
    else
        host->log(LX_LOG_INFO, TUTOR_SRC, NULL, "provider %s, model %s, at %s, deadline %lld ms",
                  st->provider, st->llm.model,
                  strchr(st->llm.base_url, '@') != NULL ? "(a URL with credentials)"
                                                        : st->llm.base_url,
                  st->llm.deadline_ms);
    return LX_OK;
}

/* The state is this generation's own: allocated here, freed by
 * tutor_shutdown. Never a static: the loader never dlcloses, so a static
 * is shared by every generation of the process, and the old generation's
 * shutdown (when it has drained after a SIGHUP) would free what the new
 * one's workers, forked later, still use. */
static int tutor_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                      size_t errlen)
{
    tutor_state *st = calloc(1, sizeof(*st));
    int rc;

    if (st == NULL) {
        snprintf(err, errlen, "tutoring: out of memory");
        return LX_ENOMEM;
    }
    rc = tutor_configure(st, host, cfg, err, errlen);
    if (rc != LX_OK) {
        tutor_state_free(st);
        return rc;
    }
    *state = st;
    return LX_OK;
}

static void tutor_shutdown(void *state)
{
    tutor_state_free(state);
}

static const lx_handler tutor_handlers[] = {
    {.name = "chat", .fn = tutor_h_chat, .flags = LX_H_ENDPOINT},
    {.name = "history", .fn = tutor_h_history, .flags = LX_H_ENDPOINT},
    {.name = "refine", .fn = tutor_h_refine, .flags = LX_H_ENDPOINT},
    {.name = "edit", .fn = tutor_h_edit, .flags = LX_H_ENDPOINT},
    {.name = NULL},
};

static const char *const tutor_requires[] = {LX_STORAGE_V1, NULL};

static const lx_plugin tutor_plugin = {
    LX_PLUGIN_HEADER,
    .name = "tutoring",
    .version = "0.2.0",
    .description = "document-grounded chat, quizzes and answer formulation (offline, Gemini, "
                   "OpenAI-compatible)",
    .handlers = tutor_handlers,
    .requires = tutor_requires,
    .init = tutor_init,
    .shutdown = tutor_shutdown,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &tutor_plugin;
}
