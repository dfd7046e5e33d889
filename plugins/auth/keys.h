/*
 * Public keys for verifying tokens: Google's x509 PEM map ({kid: PEM
 * certificate}) and JWK sets (RSA and P-256 EC keys), parsed once per
 * refresh into EVP_PKEYs. Pure functions over strings (no I/O); fuzzed by
 * tests/fuzz/fuzz_keys.c.
 */
#ifndef AUTH_KEYS_H
#define AUTH_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define AUTH_MAX_KEYS 64
#define AUTH_MIN_RSA_BITS 2048

typedef struct auth_keyset auth_keyset;

/* Parses {"kid": "-----BEGIN CERTIFICATE-----...", ...}. Every entry must
 * be an X.509 certificate holding an RSA key of at least AUTH_MIN_RSA_BITS
 * (certificate dates and chains are not checked, as in the Admin SDKs);
 * one bad entry fails the whole set. Returns 0 and *out, or -1 with a
 * reason in why. */
int auth_keyset_from_x509_map(const char *json, size_t len, auth_keyset **out, char *why,
                              size_t whylen);

/* Parses {"keys": [{"kty":"RSA","kid","n","e"[,"alg":"RS256","use":"sig"]},
 * {"kty":"EC","crv":"P-256","kid","x","y"}]}. Keys with "use" other than
 * "sig" are skipped; unknown kty are skipped; a malformed RSA/EC key fails
 * the set. Returns 0 and *out (at least one key), or -1 with a reason. */
int auth_keyset_from_jwks(const char *json, size_t len, auth_keyset **out, char *why,
                          size_t whylen);

/* The key for kid (exact bytes), borrowed from ks; NULL when unknown. */
EVP_PKEY *auth_keyset_find(const auth_keyset *ks, const char *kid, size_t kid_len);
size_t auth_keyset_count(const auth_keyset *ks);
void auth_keyset_free(auth_keyset *ks);

/* Seconds to cache a key response from its Cache-Control header value
 * (may be NULL): max-age=N (case-insensitive, s-maxage ignored) clamped to
 * [60, 86400]; 60 when absent or unparsable. */
long auth_cache_seconds(const char *cache_control);

#endif
