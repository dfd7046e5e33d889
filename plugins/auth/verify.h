/*
 * Token verification, cheap checks first (as firebase-admin-go does): size,
 * shape, alg, kid, aud, iss, sub, times; then the signature with a key
 * parsed once per refresh. Never tries every key; ignores jku, jwk, x5u and
 * x5c. Pure: the caller supplies the keys and the clock.
 */
#ifndef AUTH_VERIFY_H
#define AUTH_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/auth.h>
#include "keys.h"

typedef enum auth_mode {
    AUTH_MODE_FIREBASE = 0, /* ID tokens: RS256, iss https://securetoken.google.com/<project> */
    AUTH_MODE_SESSION = 1,  /* session cookies: RS256, iss https://session.firebase.google.com/<project> */
    AUTH_MODE_EMULATOR = 2, /* alg "none" with an empty signature only; no kid */
    AUTH_MODE_OIDC = 3,     /* RS256 or ES256, iss and aud as configured */
} auth_mode;

typedef enum auth_verdict {
    AUTH_OK = 0,
    AUTH_E_INVALID = 1,     /* malformed, wrong alg/aud/iss/sub, bad signature: 401 TOKEN_INVALID */
    AUTH_E_EXPIRED = 2,     /* 401 TOKEN_EXPIRED */
    AUTH_E_UNKNOWN_KID = 3, /* kid not in keys (or no keys): the caller may refetch, else INVALID */
    AUTH_E_TENANT = 4,      /* tenant mismatch: 401 TOKEN_INVALID */
    AUTH_E_NOMEM = 5,
} auth_verdict;

typedef struct auth_verify_opts {
    auth_mode mode;
    const char *audience;  /* project id (firebase, session, emulator) or client id (oidc) */
    const char *issuer;    /* the exact iss expected */
    long leeway_s;         /* 0..300 */
    int64_t now;           /* Unix seconds: the injectable clock */
    const char *tenant;    /* NULL: any tenant (project-level verification) */
} auth_verify_opts;

/* Verifies token (len bytes) with keys (may be NULL: then any token that
 * needs a key gets AUTH_E_UNKNOWN_KID). On AUTH_OK, *out is a principal in
 * one malloc'd block (free with free()), is_admin left 0 except for the
 * custom claim "admin": true. Otherwise *out is NULL and why holds a short
 * reason that leaks nothing ("token expired", "wrong audience", "bad
 * signature", "unknown key id"). */
auth_verdict auth_verify(const char *token, size_t len, const auth_keyset *keys,
                         const auth_verify_opts *o, lx_principal **out, char *why, size_t whylen);

/* The kid of a token without verifying anything (to decide on a refetch);
 * copies it NUL-terminated into buf. Returns 0, or -1 when the token does
 * not parse, has no string kid, or the kid needs more than buflen-1 bytes
 * (a cut kid could name another key). */
int auth_token_kid(const char *token, size_t len, char *buf, size_t buflen);

/* Signs "header.payload" with an RSA private key (PEM, PKCS#8 or PKCS#1)
 * using RS256, for the service account's OAuth assertion: *jwt malloc'd.
 * header_json and payload_json are the JSON texts. Returns 0 or -1 with a
 * reason in why (never quoting the key). */
int auth_sign_rs256(const char *private_key_pem, const char *header_json, const char *payload_json,
                    char **jwt, char *why, size_t whylen);

#endif
