/*
 * Service "accounts.v1": the identity provider's accounts, for plugins that
 * keep data about users (storage). The auth plugin provides it with the
 * machinery it already has for its own account routes: the Identity
 * Toolkit admin API with the service account's OAuth token, or the
 * Firebase Auth Emulator ("Bearer owner"), over host->http_fetch.
 *
 *     void *st;
 *     const lx_accounts_v1 *ac = host->svc_lookup(LX_ACCOUNTS_V1, &st);
 *     if (ac != NULL && ac->is_available(st))
 *         ac->list(st, w, NULL, 100, on_page, arg, NULL);
 *
 * Rules for every call:
 *   - Call it on a worker loop `w` (from a handler or a callback), never in
 *     the master. It never blocks: `done` runs later, exactly once, on the
 *     same loop, unless the call itself returns a negative code (then
 *     `done` never runs): LX_ESTATE when account management is not
 *     configured (is_available says 0) or the worker is not running,
 *     LX_EINVAL for a bad argument, LX_ENOMEM.
 *   - `status` is LX_OK; LX_ENOENT (set_display_name: no such account);
 *     LX_EINVAL (the identity service refused the input, e.g. a stale
 *     page token); LX_EIO (the identity service cannot be reached, refused
 *     our credentials or failed); LX_ECANCELED (the worker is stopping).
 *     `message` (borrowed, never NULL, "" on success) says what went wrong
 *     without secrets.
 *   - Input strings are copied before the call returns; what `done` gets
 *     is borrowed for the callback only.
 *   - `*call` (when call is not NULL) is a handle valid until `done` runs;
 *     cancel(st, call) stops the call before that, and `done` then never
 *     runs.
 *   - Structures only grow at their end; check struct_size before reading
 *     a member added later.
 */
#ifndef LEXIAID_SVC_ACCOUNTS_V1_H
#define LEXIAID_SVC_ACCOUNTS_V1_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LX_ACCOUNTS_V1 "accounts.v1"
#define LX_ACCOUNTS_MAX_PAGE 1000 /* the identity service's own limit */

/* One account. Strings are NULL when the account has none. */
typedef struct lx_account {
    uint32_t struct_size;
    const char *uid; /* never NULL */
    const char *email;
    const char *display_name;
    const char *photo_url;
    const char *phone_number;
    int email_verified;
    int disabled;
    int64_t created_ms;      /* Unix milliseconds; 0 when unknown */
    int64_t last_sign_in_ms; /* Unix milliseconds; 0 when never */
} lx_account;

typedef struct lx_accounts_call lx_accounts_call;

/* A page of accounts, ordered by uid; next_page_token is NULL after the
 * last page (it may also be set on a last page that happens to be full:
 * the next one is then empty). */
typedef void (*lx_accounts_page_fn)(void *arg, int status, const char *message,
                                    const lx_account *items, size_t n, const char *next_page_token);
typedef void (*lx_accounts_done_fn)(void *arg, int status, const char *message);

typedef struct lx_accounts_v1 {
    uint32_t struct_size;

    /* 1 when account calls can be made (the emulator, or a service
     * account); 0 when they are not configured. Cheap; any thread. */
    int (*is_available)(void *state);

    /* A page of at most max_results (1..LX_ACCOUNTS_MAX_PAGE) accounts,
     * after page_token (NULL or "": from the first). */
    int (*list)(void *state, lx_worker *w, const char *page_token, int max_results,
                lx_accounts_page_fn done, void *arg, lx_accounts_call **call);

    /* Sets the account's display name (1..256 bytes of UTF-8, no control
     * characters). */
    int (*set_display_name)(void *state, lx_worker *w, const char *uid, const char *display_name,
                            lx_accounts_done_fn done, void *arg, lx_accounts_call **call);

    /* Stops a call whose done has not run yet; done will not run. */
    void (*cancel)(void *state, lx_accounts_call *call);
} lx_accounts_v1;

#ifdef __cplusplus
}
#endif
#endif
