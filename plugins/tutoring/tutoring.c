/*
 * tutoring: document-grounded chat, quizzes and answer formulation
 * (tutoring.h). This file is the plugin itself: the descriptor, the
 * configuration, init/shutdown, and the helpers every handler shares.
 *
 * Config keys:
 *   provider      "offline" (the only one in this build; the default)
 *   target_grade  the reading level asked for, a number 1..12 (default 6)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutoring.h"

static tutor_state tutor_global;

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

static int tutor_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                      size_t errlen)
{
    static const char *const keys[] = {"provider", "target_grade", NULL};
    const lx_storage_v1 *sv;
    void *svst = NULL;
    const char *provider = "offline";
    const char *grade_s = NULL;
    char grade_buf[32];
    tutor_state *st = &tutor_global;
    int rc;

    memset(st, 0, sizeof(*st));
    st->host = host;
    st->target_grade = 6.0;
    if (cfg != NULL) {
        rc = host->cfg_check_keys(cfg, keys, err, errlen);
        if (rc != LX_OK)
            return rc;
        rc = host->cfg_string(cfg, "provider", &provider, err, errlen);
        if (rc != LX_OK && rc != LX_ENOENT)
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
    }
    if (strcmp(provider, "offline") != 0) {
        snprintf(err, errlen, "tutoring: provider %s is not available in this build; use offline",
                 provider);
        return LX_EINVAL;
    }
    if (grade_s != NULL) {
        char *end = NULL;
        double g = strtod(grade_s, &end);
        if (end == grade_s || *end != '\0' || !(g >= 1.0 && g <= 12.0)) {
            snprintf(err, errlen,
                     "tutoring: target_grade must be a number from 1 to 12 (got '%.32s')",
                     grade_s);
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
    if (sv->struct_size < offsetof(lx_storage_v1, record_delete) + sizeof(sv->record_delete)) {
        snprintf(err, errlen, "tutoring: %s is older than this plugin", LX_STORAGE_V1);
        return LX_EINVAL;
    }
    st->provider = strdup(provider);
    if (st->provider == NULL) {
        snprintf(err, errlen, "tutoring: out of memory");
        return LX_ENOMEM;
    }
    st->sv = sv;
    st->sv_state = svst;
    *state = st;
    return LX_OK;
}

static void tutor_shutdown(void *state)
{
    tutor_state *st = state;

    if (st != NULL) {
        free(st->provider);
        st->provider = NULL;
    }
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
    .version = "0.1.0",
    .description = "document-grounded chat, quizzes and answer formulation (offline provider)",
    .handlers = tutor_handlers,
    .requires = tutor_requires,
    .init = tutor_init,
    .shutdown = tutor_shutdown,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &tutor_plugin;
}
