/*
 * What the auth plugin gives other plugins: the signed-in user of a request.
 *
 * The auth plugin's middleware (auth.require_user, auth.optional_user,
 * auth.require_admin) verifies the request's Firebase ID token (or session
 * cookie, or OIDC token) and stores the principal in the request context:
 *
 *     const lx_principal *p = host->ctx_get(req, LX_AUTH_PRINCIPAL);
 *
 * It is NULL when no user is signed in (only possible behind
 * auth.optional_user). The principal and its strings are borrowed: valid
 * until the request ends, owned by the auth plugin. Members are only ever
 * added at the end; check struct_size before reading a member newer than
 * the ones below.
 */
#ifndef LEXIAID_AUTH_H
#define LEXIAID_AUTH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LX_AUTH_PRINCIPAL "auth.principal"

typedef struct lx_principal {
    uint32_t struct_size;        /* sizeof(lx_principal) of the auth plugin */
    const char *uid;             /* the token's sub: never NULL, 1..128 bytes */
    const char *email;           /* NULL when the token has none */
    int email_verified;
    const char *name;            /* display name, or NULL */
    const char *picture;         /* URL, or NULL */
    const char *phone_number;    /* or NULL */
    const char *sign_in_provider; /* "password", "google.com", "custom", ...; or NULL */
    const char *tenant;          /* firebase.tenant, or NULL */
    int64_t auth_time;           /* Unix seconds */
    int64_t iat;
    int64_t exp;
    const char *claims_json;     /* the custom claims as a JSON object: "{}" when none */
    int is_admin;                /* in ADMIN_EMAILS, or the custom claim admin: true */
    const char *issuer;          /* the token's iss */
} lx_principal;

#ifdef __cplusplus
}
#endif
#endif
