/*
 * Service "google_token.v1": OAuth 2.0 access tokens for Google APIs from a
 * service-account key (the JWT-bearer grant of RFC 7523), for plugins that
 * call Google Cloud (the speech plugin's Text-to-Speech and Speech-to-Text).
 * Provided by the auth plugin, which makes the same exchange for its own
 * admin calls: the RS256 assertion is signed there (OpenSSL, on the offload
 * pool) and sent to its token_url (default https://oauth2.googleapis.com/
 * token) over host->http_fetch. No other plugin handles the private key.
 *
 * In init (the master), after the auth plugin's init (list auth before you
 * in `plugins`, or require the service):
 *
 *     void *gts;
 *     const lx_google_token_v1 *gt = host->svc_lookup(LX_GOOGLE_TOKEN_V1, &gts);
 *     lx_google_account *acct;
 *     if (gt == NULL) ... the auth plugin is not loaded: refuse to start
 *     if (gt->account_open(gts, "/run/secrets/sa.json", &acct, err, errlen) != LX_OK)
 *         ... refuse to start (err names the file, never its content)
 *
 * Then on a worker loop, before each call to the API:
 *
 *     gt->token(gts, w, acct, LX_GOOGLE_SCOPE_CLOUD_PLATFORM, on_token, arg, &call);
 *     ... on_token(arg, LX_OK, token, expires_at, "") : "Authorization: Bearer <token>"
 *
 * Rules:
 *   - account_open runs in init (it reads the file: it may block). The
 *     account is the auth plugin's, valid until its shutdown (its users
 *     are shut down before it). Opening the same path twice gives the same
 *     account.
 *   - token and cancel run on a worker loop `w`, never in the master.
 *     token never blocks: `done` runs later, exactly once, on the same
 *     loop (never inside the call), unless the call returns a negative code
 *     (then `done` never runs) or the call is cancelled first: LX_EINVAL (a
 *     bad argument), LX_ESTATE (the auth plugin does not run on this
 *     worker), LX_ENOMEM.
 *   - Tokens are cached per worker and per (account, scopes) until 60 s
 *     before they expire; while an exchange is in flight every other caller
 *     of the same pair waits for it (one exchange, however many callers).
 *     After a failed exchange, callers within the next 2 s fail at once
 *     rather than hammer a dead endpoint; the one after that tries again.
 *   - `status` is LX_OK; LX_EIO (the token endpoint cannot be reached,
 *     failed or refused the assertion); LX_ETIMEDOUT (it did not answer in
 *     time); LX_ECANCELED (the worker is stopping). `message` (borrowed,
 *     never NULL, "" on success) says what went wrong without the key, the
 *     assertion or a token. `token` (borrowed for the callback; NULL on
 *     failure) is a secret: put it in one header, never in a log line, a
 *     URL or a message.
 *   - scopes is one or more scope URLs separated by single spaces, at most
 *     1024 bytes, copied.
 *   - lx_google_token_v1 only grows at its end: check LX_GOOGLE_TOKEN_V1_HAS
 *     before using a member added later (the auth plugin may be older).
 */
#ifndef LEXIAID_SVC_GOOGLE_TOKEN_V1_H
#define LEXIAID_SVC_GOOGLE_TOKEN_V1_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LX_GOOGLE_TOKEN_V1 "google_token.v1"
#define LX_GOOGLE_SCOPE_CLOUD_PLATFORM "https://www.googleapis.com/auth/cloud-platform"

typedef struct lx_google_account lx_google_account; /* a service-account key; opaque */
typedef struct lx_google_token_call lx_google_token_call;

/* The outcome of token(): see "Rules". expires_at is when the token stops
 * being handed out (Unix seconds; 0 on failure). */
typedef void (*lx_google_token_fn)(void *arg, int status, const char *token, int64_t expires_at,
                                   const char *message);

typedef struct lx_google_token_v1 {
    uint32_t struct_size; /* sizeof(lx_google_token_v1) of the provider */

    /* Reads a service-account JSON key file ("client_email", "private_key"
     * (an RSA PEM key of at least 2048 bits), "private_key_id") in init.
     * LX_OK and *out; or LX_EINVAL (unreadable, not such a key: err names
     * the path and the missing member, never the content), LX_ENOMEM. */
    int (*account_open)(void *state, const char *key_path, lx_google_account **out, char *err,
                        size_t errlen);

    /* The account's client_email (not a secret: for log lines), borrowed
     * for the account's life. */
    const char *(*account_email)(void *state, const lx_google_account *a);

    /* An access token for the account and scopes: see "Rules". *call (when
     * call is not NULL) is valid until done runs. */
    int (*token)(void *state, lx_worker *w, lx_google_account *a, const char *scopes,
                 lx_google_token_fn done, void *arg, lx_google_token_call **call);

    /* Stops a call whose done has not run yet; done will not run. */
    void (*cancel)(void *state, lx_google_token_call *call);

    /* Forgets this worker's cached token of (a, scopes), when the API
     * refused it (401): the next token() makes a new exchange. */
    void (*invalidate)(void *state, lx_worker *w, lx_google_account *a, const char *scopes);
} lx_google_token_v1;

#define LX_GOOGLE_TOKEN_V1_HAS(gt, member)                                                         \
    ((gt)->struct_size >= offsetof(lx_google_token_v1, member) + sizeof((gt)->member) &&           \
     (gt)->member != NULL)

#ifdef __cplusplus
}
#endif
#endif
