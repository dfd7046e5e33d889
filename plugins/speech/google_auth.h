/*
 * Service-account OAuth for the Google engines (Text-to-Speech and
 * Speech-to-Text): the `service_account` key of the `speech` block names a
 * service-account JSON key file; the auth plugin's google_token.v1 reads
 * it (in init) and makes and caches the access tokens (on the worker loop).
 * The speech plugin never holds the private key, and the token goes into
 * one header of each call, never a log line or a message.
 *
 * The rule when both are configured: the service account is used and the
 * API key (api_key, stt.api_key) is not sent (a warning at start says so).
 * A service account with a Google engine and no auth plugin refuses to
 * start, naming the config's FILE:LINE.
 */
#ifndef SPEECH_GOOGLE_AUTH_H
#define SPEECH_GOOGLE_AUTH_H

#include <stddef.h>

#include <lexiaid/svc/google_token_v1.h>

#include "speech.h"

/* The longest "Authorization: Bearer <token>" header we send (Google's
 * access tokens are at most 2048 bytes). */
#define SPEECH_AUTHZ_MAX 2112

/* init, after the cloud and stt configuration: opens st->sa_path through
 * google_token.v1 when a Google engine uses it. LX_OK, or LX_EINVAL /
 * LX_ENOENT naming `where` (the speech block's FILE:LINE), LX_ENOMEM. */
int speech_gauth_configure(speech_state *st, const char *where, char *err, size_t errlen);

/* Whether Google calls carry a service account's token (else the key). */
int speech_gauth_on(const speech_state *st);

/* The header for the next Google call, asked with a wait the caller owns
 * (embedded in its call): done runs later, once, on the loop, with LX_OK and
 * "Authorization: Bearer ..." (borrowed for the callback), or LX_ETIMEDOUT /
 * LX_ERROR and a message without secrets; unless this returns a negative
 * code or speech_gauth_cancel runs first. */
typedef void (*speech_gauth_fn)(void *arg, int status, const char *header, const char *message);
typedef struct speech_gauth {
    speech_gauth_fn done;
    void *arg;
    lx_google_token_call *call; /* while waiting, else NULL */
} speech_gauth;
int speech_gauth_header(speech_state *st, speech_gauth *g, speech_gauth_fn done, void *arg);
/* Stops a wait (nothing when none): done will not run. */
void speech_gauth_cancel(speech_state *st, speech_gauth *g);
/* Google refused the token (401): the next call gets a new one. */
void speech_gauth_refused(speech_state *st);

#endif
