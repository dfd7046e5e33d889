/*
 * Public keys for verifying tokens: Google's x509 PEM map ({kid: PEM
 * certificate}) and JWK sets (RSA and P-256 EC keys), parsed once per
 * refresh into EVP_PKEYs (RSA keys with a ready RS256 verify context). Pure
 * functions over strings (no I/O); fuzzed by tests/fuzz/fuzz_keys.c.
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

/* RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3): whether sig is a
 * signature of msg by the key for kid. Each RSA key of a set gets a verify
 * context when the set is parsed (padding and digest fixed there), so a call
 * costs one SHA-256 and one RSA public operation: no provider fetch, key
 * export or Montgomery set-up per token. sig must be exactly the modulus
 * size (a shorter one padded with leading zeros would be a second encoding
 * of the same signature). Returns 1 valid; 0 invalid (unknown kid, key not
 * RSA, wrong length, bad signature); -1 when the digest cannot be computed
 * (out of memory). The contexts are mutable state behind the const: use a
 * set from one thread at a time (every worker owns its sets). */
int auth_keyset_verify_rs256(const auth_keyset *ks, const char *kid, size_t kid_len,
                             const unsigned char *sig, size_t sig_len, const unsigned char *msg,
                             size_t msg_len);
size_t auth_keyset_count(const auth_keyset *ks);
void auth_keyset_free(auth_keyset *ks);

/* Seconds to cache a key response from its Cache-Control header value
 * (may be NULL): max-age=N (case-insensitive, s-maxage ignored) clamped to
 * [60, 86400]; 60 when absent or unparsable. */
long auth_cache_seconds(const char *cache_control);

#endif
