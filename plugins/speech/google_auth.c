/*
 * Service-account OAuth for the Google engines through the auth plugin's
 * google_token.v1 (google_auth.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "google_auth.h"
#include "tts_cloud.h"

int speech_gauth_on(const speech_state *st)
{
    return st->gt_account != NULL;
}

int speech_gauth_configure(speech_state *st, const char *where, char *err, size_t errlen)
{
    const lx_host *h = st->host;
    int tts = st->cloud_cfg != NULL && st->cloud_cfg->kind == SPEECH_CLOUD_GOOGLE;
    int stt = st->stt.provider == SPEECH_STT_GOOGLE;
    char why[512] = "";

    if (st->sa_path == NULL)
        return LX_OK;
    if (!tts && !stt) {
        h->log(LX_LOG_WARN, SPEECH_SRC, NULL,
               "service_account is set but neither provider nor stt.provider is google: unused");
        return LX_OK;
    }
    st->gt = h->svc_lookup(LX_GOOGLE_TOKEN_V1, &st->gt_state);
    if (st->gt == NULL) {
        snprintf(err, errlen,
                 "%s: speech: service_account needs the auth plugin's service %s (it makes the "
                 "OAuth exchange): enable the auth plugin and list it before speech in plugins",
                 where, LX_GOOGLE_TOKEN_V1);
        return LX_ENOENT;
    }
    if (st->gt->account_open(st->gt_state, st->sa_path, &st->gt_account, why, sizeof(why)) !=
        LX_OK) {
        snprintf(err, errlen, "%s: speech: service_account: %s", where, why);
        st->gt = NULL;
        return LX_EINVAL;
    }
    if ((tts && st->cloud_cfg->api_key != NULL) || (stt && st->stt.api_key != NULL))
        h->log(LX_LOG_WARN, SPEECH_SRC, NULL,
               "both service_account and an API key are set: Google calls use the service "
               "account %s and the API key is not sent",
               st->gt->account_email(st->gt_state, st->gt_account));
    h->log(LX_LOG_INFO, SPEECH_SRC, NULL, "google %s%s%s: OAuth with the service account %s",
           tts ? "text-to-speech" : "", tts && stt ? " and " : "", stt ? "speech-to-text" : "",
           st->gt->account_email(st->gt_state, st->gt_account));
    return LX_OK;
}

static void gauth_on_token(void *arg, int status, const char *token, int64_t expires_at,
                           const char *message)
{
    speech_gauth *g = arg;
    char header[SPEECH_AUTHZ_MAX];
    int n;

    (void)expires_at;
    g->call = NULL;
    if (status != LX_OK) {
        g->done(g->arg, status == LX_ETIMEDOUT ? LX_ETIMEDOUT : LX_ERROR, NULL, message);
        return;
    }
    n = snprintf(header, sizeof(header), "Authorization: Bearer %s", token);
    if (n < 0 || (size_t)n >= sizeof(header) || strpbrk(token, "\r\n") != NULL)
        g->done(g->arg, LX_ERROR, NULL, "the OAuth access token is too long or not one line");
    else
        g->done(g->arg, LX_OK, header, "");
    OPENSSL_cleanse(header, sizeof(header));
}

int speech_gauth_header(speech_state *st, speech_gauth *g, speech_gauth_fn done, void *arg)
{
    g->done = done;
    g->arg = arg;
    g->call = NULL;
    if (st->gt_account == NULL)
        return LX_ESTATE;
    return st->gt->token(st->gt_state, st->w, st->gt_account, LX_GOOGLE_SCOPE_CLOUD_PLATFORM,
                         gauth_on_token, g, &g->call);
}

void speech_gauth_cancel(speech_state *st, speech_gauth *g)
{
    if (g->call != NULL)
        st->gt->cancel(st->gt_state, g->call);
    g->call = NULL;
}

void speech_gauth_refused(speech_state *st)
{
    if (st->gt_account != NULL)
        st->gt->invalidate(st->gt_state, st->w, st->gt_account, LX_GOOGLE_SCOPE_CLOUD_PLATFORM);
}
