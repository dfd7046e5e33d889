/*
 * Token parsing for the auth plugin: the Bearer header, strict base64url,
 * and the three segments of a JWT. Pure functions, no I/O; fuzzed by
 * tests/fuzz/fuzz_jwt.c. Nothing here checks a signature or a claim.
 */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <stddef.h>
#include <json-c/json.h>

#define AUTH_MAX_TOKEN 16384 /* longer tokens are refused before any decoding */
#define AUTH_MAX_JSON_DEPTH 16

/* Finds the token in an Authorization header value: scheme "Bearer"
 * (any case), one or more spaces, then exactly one token of visible ASCII
 * with no spaces after it. CR, LF, other schemes, empty tokens: refused.
 * Returns 0 with *token and *len pointing into header, or -1. */
int auth_bearer_parse(const char *header, const char **token, size_t *len);

/* Strict base64url without padding: [A-Za-z0-9_-] only, no '=', no
 * whitespace, length % 4 != 1, and the unused low bits of the last
 * character must be zero (one encoding per value). *out is malloc'd
 * (NUL-terminated for convenience, *outlen excludes the NUL).
 * Returns 0, or -1 (LX_EINVAL semantics), or -2 out of memory. */
int auth_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen);

/* base64url without padding of len bytes; *out malloc'd, NUL-terminated. */
int auth_b64url_encode(const unsigned char *in, size_t len, char **out);

typedef struct auth_jwt {
    json_object *header;         /* owned; a JSON object */
    json_object *payload;        /* owned; a JSON object */
    const char *alg;             /* from header, borrowed; NULL when absent or not a string */
    const char *kid;             /* from header, borrowed; NULL when absent or not a string */
    size_t kid_len;              /* bytes (a kid with a NUL inside is refused) */
    const char *signing_input;   /* "header.payload", points into the token */
    size_t signing_input_len;
    unsigned char *sig;          /* owned; may be empty (alg none) */
    size_t sig_len;
    int has_empty_sig;           /* the third segment was empty */
} auth_jwt;

/* Splits and decodes a compact JWT: exactly three segments separated by
 * '.', the first two non-empty strict base64url JSON objects (json-c,
 * depth <= AUTH_MAX_JSON_DEPTH, no trailing bytes, no NUL inside strings of
 * alg/kid), the third base64url (may be empty). len > AUTH_MAX_TOKEN is
 * refused first. On success returns 0 and fills out (free with
 * auth_jwt_free); the token must outlive out (signing_input points into
 * it). On failure returns -1 and writes a short reason that never quotes
 * the token ("three segments expected", "payload is not a JSON object",
 * ...) into why. */
int auth_jwt_parse(const char *token, size_t len, auth_jwt *out, char *why, size_t whylen);
void auth_jwt_free(auth_jwt *j);

#endif
