/*
 * Public key sets: Google's x509 PEM map and JWK sets, parsed once per
 * refresh into EVP_PKEYs. See keys.h for the contracts.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jwt.h"
#include "keys.h"

/* Larger moduli only make every verification slower; Google uses 2048. */
#define AUTH_MAX_RSA_BITS 8192
#define AUTH_MAX_KID 256

typedef struct auth_key {
    char *kid;
    size_t kid_len;
    EVP_PKEY *pkey;
    /* RSA keys: initialised for verification with PKCS#1 v1.5 padding and
     * SHA-256, reused by every token (NULL for other keys). */
    EVP_PKEY_CTX *rs256;
} auth_key;

struct auth_keyset {
    EVP_MD *sha256; /* fetched once per set, not per token */
    size_t n_keys;
    auth_key keys[AUTH_MAX_KEYS];
};

/* An empty set with its digest fetched, or NULL (out of memory). */
static auth_keyset *auth_keyset_new(void)
{
    auth_keyset *ks = calloc(1, sizeof(*ks));

    if (ks == NULL)
        return NULL;
    ks->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (ks->sha256 == NULL) {
        free(ks);
        return NULL;
    }
    return ks;
}

/* The verify context of an RSA key (see auth_key), or NULL. */
static EVP_PKEY_CTX *auth_rs256_ctx(EVP_PKEY *pkey, const EVP_MD *sha256)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, sha256) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* The slot for kid (exact bytes), or NULL. */
static const auth_key *auth_keyset_slot(const auth_keyset *ks, const char *kid, size_t kid_len)
{
    if (ks == NULL || kid == NULL)
        return NULL;
    for (size_t i = 0; i < ks->n_keys; i++)
        if (ks->keys[i].kid_len == kid_len && memcmp(ks->keys[i].kid, kid, kid_len) == 0)
            return &ks->keys[i];
    return NULL;
}

static void auth_why(char *why, size_t whylen, const char *msg)
{
    if (why != NULL && whylen > 0)
        snprintf(why, whylen, "%s", msg);
}

/* Parses a whole JSON text into an object (depth-limited, strict, nothing
 * left over). Returns NULL when it is anything else. */
static json_object *auth_json_object(const char *json, size_t len)
{
    json_tokener *tok;
    json_object *o;

    if (json == NULL || len == 0 || len > INT_MAX || memchr(json, '\0', len) != NULL)
        return NULL;
    tok = json_tokener_new_ex(AUTH_MAX_JSON_DEPTH);
    if (tok == NULL)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, json, (int)len);
    if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
                      json_tokener_get_parse_end(tok) != len ||
                      !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* A string member without NUL bytes, or NULL (absent, other type, NUL). */
static const char *auth_json_str(json_object *obj, const char *key, size_t *len)
{
    json_object *v;
    const char *s;
    int n;

    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    s = json_object_get_string(v);
    n = json_object_get_string_len(v);
    if (s == NULL || n < 0 || memchr(s, '\0', (size_t)n) != NULL)
        return NULL;
    if (len != NULL)
        *len = (size_t)n;
    return s;
}

/* Adds kid -> pkey, taking pkey (freed on failure), with its verify
 * context when it is RSA. Refuses an empty, overlong or duplicate kid and a
 * full set. */
static int auth_keyset_add(auth_keyset *ks, const char *kid, size_t kid_len, EVP_PKEY *pkey,
                           const char **reason)
{
    EVP_PKEY_CTX *rs256 = NULL;
    char *copy;

    if (kid_len == 0 || kid_len > AUTH_MAX_KID || memchr(kid, '\0', kid_len) != NULL) {
        *reason = "bad key id";
        goto fail;
    }
    if (ks->n_keys == AUTH_MAX_KEYS) {
        *reason = "too many keys";
        goto fail;
    }
    if (auth_keyset_find(ks, kid, kid_len) != NULL) {
        *reason = "duplicate key id";
        goto fail;
    }
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
        (rs256 = auth_rs256_ctx(pkey, ks->sha256)) == NULL) {
        *reason = "out of memory";
        goto fail;
    }
    copy = malloc(kid_len + 1);
    if (copy == NULL) {
        *reason = "out of memory";
        goto fail;
    }
    memcpy(copy, kid, kid_len);
    copy[kid_len] = '\0';
    ks->keys[ks->n_keys].kid = copy;
    ks->keys[ks->n_keys].kid_len = kid_len;
    ks->keys[ks->n_keys].pkey = pkey;
    ks->keys[ks->n_keys].rs256 = rs256;
    ks->n_keys++;
    return 0;
fail:
    EVP_PKEY_CTX_free(rs256);
    EVP_PKEY_free(pkey);
    return -1;
}

static int auth_rsa_size_ok(const EVP_PKEY *pkey)
{
    int bits = EVP_PKEY_get_bits(pkey);

    return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA && bits >= AUTH_MIN_RSA_BITS &&
           bits <= AUTH_MAX_RSA_BITS;
}

/* Certificates are never encrypted: refuse any passphrase prompt. */
static int auth_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

/* The RSA public key of one PEM certificate, or NULL. */
static EVP_PKEY *auth_cert_key(const char *pem, size_t len, const char **reason)
{
    BIO *bio = NULL;
    X509 *cert = NULL;
    EVP_PKEY *pkey = NULL;

    *reason = "bad certificate";
    if (len > INT_MAX)
        return NULL;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        *reason = "out of memory";
        return NULL;
    }
    cert = PEM_read_bio_X509(bio, NULL, auth_no_passphrase, NULL);
    if (cert == NULL)
        goto done;
    pkey = X509_get_pubkey(cert);
    if (pkey == NULL)
        goto done;
    if (!auth_rsa_size_ok(pkey)) {
        *reason = "certificate key is not RSA of at least 2048 bits";
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
done:
    X509_free(cert);
    BIO_free(bio);
    return pkey;
}

/* The one way a key set is read from a JSON document: json (len bytes)
 * must be a JSON object (else why = not_object); fill adds its keys to a
 * new set (returning -1 with *reason, which starts as "out of memory", on
 * the first bad one); a set it leaves empty fails with why = empty. 0 with
 * *out the caller's (auth_keyset_free), or -1 with *out NULL and why set. */
static int auth_keyset_parse(const char *json, size_t len, const char *not_object,
                             int (*fill)(auth_keyset *ks, json_object *root, const char **reason),
                             const char *empty, auth_keyset **out, char *why, size_t whylen)
{
    const char *reason = "out of memory";
    json_object *root = NULL;
    auth_keyset *ks = NULL;

    if (out == NULL) {
        auth_why(why, whylen, "bad arguments");
        return -1;
    }
    *out = NULL;
    root = auth_json_object(json, len);
    if (root == NULL) {
        reason = not_object;
        goto fail;
    }
    ks = auth_keyset_new();
    if (ks == NULL || fill(ks, root, &reason) < 0)
        goto fail;
    if (ks->n_keys == 0) {
        reason = empty;
        goto fail;
    }
    json_object_put(root);
    *out = ks;
    return 0;
fail:
    auth_keyset_free(ks);
    json_object_put(root);
    auth_why(why, whylen, reason);
    return -1;
}

/* auth_keyset_parse's fill for a {kid: PEM certificate} map. */
static int auth_x509_map_fill(auth_keyset *ks, json_object *root, const char **reason)
{
    json_object_object_foreach(root, kid, val)
    {
        size_t pem_len;
        const char *pem;
        EVP_PKEY *pkey;

        if (!json_object_is_type(val, json_type_string)) {
            *reason = "key map entry is not a string";
            return -1;
        }
        pem = json_object_get_string(val);
        pem_len = (size_t)json_object_get_string_len(val);
        pkey = auth_cert_key(pem, pem_len, reason);
        if (pkey == NULL)
            return -1;
        /* json-c object keys are NUL-terminated C strings. */
        if (auth_keyset_add(ks, kid, strlen(kid), pkey, reason) != 0)
            return -1;
    }
    return 0;
}

int auth_keyset_from_x509_map(const char *json, size_t len, auth_keyset **out, char *why,
                              size_t whylen)
{
    return auth_keyset_parse(json, len, "key map is not a JSON object", auth_x509_map_fill,
                             "no keys", out, why, whylen);
}

/* A base64url member decoded into a BIGNUM of 1..max_bytes bytes. */
static BIGNUM *auth_jwk_bn(json_object *jwk, const char *key, size_t max_bytes)
{
    const char *s;
    size_t slen, n;
    unsigned char *raw;
    BIGNUM *bn = NULL;

    s = auth_json_str(jwk, key, &slen);
    if (s == NULL || auth_b64url_decode(s, slen, &raw, &n) != 0)
        return NULL;
    if (n > 0 && n <= max_bytes)
        bn = BN_bin2bn(raw, (int)n, NULL);
    free(raw);
    return bn;
}

static EVP_PKEY *auth_pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL)
        goto done;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *auth_jwk_rsa(json_object *jwk)
{
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;

    n = auth_jwk_bn(jwk, "n", AUTH_MAX_RSA_BITS / 8 + 1);
    e = auth_jwk_bn(jwk, "e", 8);
    /* A public exponent is odd and at least 3. */
    if (n == NULL || e == NULL || !BN_is_odd(n) || !BN_is_odd(e) || BN_is_one(e))
        goto done;
    if (BN_num_bits(n) < AUTH_MIN_RSA_BITS || BN_num_bits(n) > AUTH_MAX_RSA_BITS)
        goto done;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        goto done;
    pkey = auth_pkey_fromdata("RSA", bld);
    if (pkey != NULL && !auth_rsa_size_ok(pkey)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* A P-256 coordinate: exactly 32 bytes (RFC 7518 §6.2.1.2). */
static int auth_jwk_coord(json_object *jwk, const char *key, unsigned char *dst)
{
    const char *s;
    size_t slen, n;
    unsigned char *raw;
    int rc = -1;

    s = auth_json_str(jwk, key, &slen);
    if (s == NULL || auth_b64url_decode(s, slen, &raw, &n) != 0)
        return -1;
    if (n == 32) {
        memcpy(dst, raw, 32);
        rc = 0;
    }
    free(raw);
    return rc;
}

static EVP_PKEY *auth_jwk_ec(json_object *jwk)
{
    unsigned char point[65];
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pkey = NULL;

    point[0] = 0x04; /* uncompressed */
    if (auth_jwk_coord(jwk, "x", point + 1) != 0 || auth_jwk_coord(jwk, "y", point + 33) != 0)
        return NULL;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
        goto done;
    pkey = auth_pkey_fromdata("EC", bld);
    if (pkey == NULL)
        goto done;
    /* The point must lie on the curve (invalid-curve attacks). */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL || EVP_PKEY_public_check(check) <= 0) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
done:
    EVP_PKEY_CTX_free(check);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* One JWK: 0 added, 1 skipped (not for signing, unsupported), -1 bad. */
static int auth_jwks_add(auth_keyset *ks, json_object *jwk, const char **reason)
{
    const char *kty, *use, *alg, *crv, *kid;
    size_t kid_len = 0;
    json_object *v;
    EVP_PKEY *pkey;

    if (!json_object_is_type(jwk, json_type_object)) {
        *reason = "JWK is not an object";
        return -1;
    }
    if (json_object_object_get_ex(jwk, "use", &v)) {
        use = auth_json_str(jwk, "use", NULL);
        if (use == NULL) {
            *reason = "JWK use is not a string";
            return -1;
        }
        if (strcmp(use, "sig") != 0)
            return 1;
    }
    kty = auth_json_str(jwk, "kty", NULL);
    if (kty == NULL) {
        *reason = "JWK without kty";
        return -1;
    }
    alg = auth_json_str(jwk, "alg", NULL);
    if (strcmp(kty, "RSA") == 0) {
        /* A key bound to another algorithm can never verify an RS256
         * token (RFC 8725 §3.1): skip it rather than misuse it. */
        if (alg != NULL && strcmp(alg, "RS256") != 0)
            return 1;
    } else if (strcmp(kty, "EC") == 0) {
        crv = auth_json_str(jwk, "crv", NULL);
        if (crv == NULL) {
            *reason = "EC JWK without crv";
            return -1;
        }
        if (strcmp(crv, "P-256") != 0 || (alg != NULL && strcmp(alg, "ES256") != 0))
            return 1;
    } else {
        return 1;
    }
    kid = auth_json_str(jwk, "kid", &kid_len);
    if (kid == NULL) {
        *reason = "JWK without kid";
        return -1;
    }
    pkey = strcmp(kty, "RSA") == 0 ? auth_jwk_rsa(jwk) : auth_jwk_ec(jwk);
    if (pkey == NULL) {
        *reason = strcmp(kty, "RSA") == 0 ? "bad RSA JWK" : "bad EC JWK";
        return -1;
    }
    return auth_keyset_add(ks, kid, kid_len, pkey, reason);
}

/* auth_keyset_parse's fill for a JWK set ({"keys": [...]}). */
static int auth_jwks_fill(auth_keyset *ks, json_object *root, const char **reason)
{
    json_object *keys;
    size_t n;

    if (!json_object_object_get_ex(root, "keys", &keys) ||
        !json_object_is_type(keys, json_type_array)) {
        *reason = "JWK set without a keys array";
        return -1;
    }
    n = json_object_array_length(keys);
    for (size_t i = 0; i < n; i++)
        if (auth_jwks_add(ks, json_object_array_get_idx(keys, i), reason) < 0)
            return -1;
    return 0;
}

int auth_keyset_from_jwks(const char *json, size_t len, auth_keyset **out, char *why, size_t whylen)
{
    return auth_keyset_parse(json, len, "JWK set is not a JSON object", auth_jwks_fill,
                             "no usable keys", out, why, whylen);
}

EVP_PKEY *auth_keyset_find(const auth_keyset *ks, const char *kid, size_t kid_len)
{
    const auth_key *k = auth_keyset_slot(ks, kid, kid_len);

    return k != NULL ? k->pkey : NULL;
}

int auth_keyset_verify_rs256(const auth_keyset *ks, const char *kid, size_t kid_len,
                             const unsigned char *sig, size_t sig_len, const unsigned char *msg,
                             size_t msg_len)
{
    const auth_key *k = auth_keyset_slot(ks, kid, kid_len);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    int size;

    if (k == NULL || k->rs256 == NULL || sig == NULL || (msg == NULL && msg_len > 0))
        return 0;
    size = EVP_PKEY_get_size(k->pkey);
    if (size <= 0 || sig_len != (size_t)size)
        return 0;
    if (EVP_Digest(msg, msg_len, digest, &digest_len, ks->sha256, NULL) != 1)
        return -1;
    /* The provider rebuilds SHA-256's DigestInfo around digest and compares
     * it byte for byte with the decoded block: no other digest, encoding or
     * trailing data passes. */
    return EVP_PKEY_verify(k->rs256, sig, sig_len, digest, digest_len) == 1;
}

size_t auth_keyset_count(const auth_keyset *ks)
{
    return ks == NULL ? 0 : ks->n_keys;
}

void auth_keyset_free(auth_keyset *ks)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < ks->n_keys; i++) {
        free(ks->keys[i].kid);
        EVP_PKEY_CTX_free(ks->keys[i].rs256);
        EVP_PKEY_free(ks->keys[i].pkey);
    }
    EVP_MD_free(ks->sha256);
    free(ks);
}

static int auth_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int auth_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

long auth_cache_seconds(const char *cache_control)
{
    static const char name[] = "max-age";
    const char *p = cache_control;

    if (p == NULL)
        return 60;
    while (*p != '\0') {
        const char *d, *end;
        size_t nlen = sizeof(name) - 1, i;

        while (auth_is_ows(*p) || *p == ',')
            p++;
        d = p;
        end = strchr(d, ',');
        if (end == NULL)
            end = d + strlen(d);
        p = end;
        for (i = 0; i < nlen && d + i < end; i++)
            if (auth_lower((unsigned char)d[i]) != name[i])
                break;
        if (i != nlen)
            continue;
        d += nlen;
        while (d < end && auth_is_ows(*d))
            d++;
        if (d == end || *d != '=')
            continue; /* "max-agefoo", or a bare max-age */
        d++;
        while (d < end && auth_is_ows(*d))
            d++;
        {
            const char *q = d;
            long v = 0;
            int quoted = q < end && *q == '"';

            if (quoted)
                q++;
            if (q == end || *q < '0' || *q > '9')
                return 60;
            for (; q < end && *q >= '0' && *q <= '9'; q++)
                v = v > 86400 ? v : v * 10 + (*q - '0');
            if (quoted) {
                if (q == end || *q != '"')
                    return 60;
                q++;
            }
            while (q < end && auth_is_ows(*q))
                q++;
            if (q != end)
                return 60;
            return v < 60 ? 60 : v > 86400 ? 86400 : v;
        }
    }
    return 60;
}
