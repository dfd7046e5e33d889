/*
 * Token verification, cheap checks first and the signature last, in
 * firebase-admin-go's order; then the principal handed to handlers. See
 * verify.h for the contract and docs/firebase-id-tokens.md for the why.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "jwt.h"
#include "verify.h"

/* The audience of a custom token (the token a server mints for a client to
 * exchange): it is never an ID token. */
#define AUTH_CUSTOM_TOKEN_AUD \
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"
#define AUTH_MAX_UID 128
/* Timestamps outside [0, year 9999] are refused, which also keeps every
 * comparison with now +- leeway far from int64 overflow. */
#define AUTH_MAX_TIME INT64_C(253402300799)

/* Payload members that are not custom claims (firebase-admin-python's
 * reserved list, plus the members the principal exposes by name). */
static const char *const auth_reserved_claims[] = {
    "acr",   "amr",           "at_hash",  "aud",          "auth_time", "azp", "cnf", "c_hash",
    "exp",   "iat",           "iss",      "jti",          "nbf",       "nonce", "sub", "firebase",
    "uid",   "user_id",       "email",    "email_verified", "name",    "picture", "phone_number",
    NULL,
};

/* Copies msg into why, cut to whylen - 1 bytes (as snprintf would, without
 * its cost on every verified token). */
static void auth_why(char *why, size_t whylen, const char *msg)
{
    size_t n;

    if (why == NULL || whylen == 0)
        return;
    n = strlen(msg);
    if (n >= whylen)
        n = whylen - 1;
    memcpy(why, msg, n);
    why[n] = '\0';
}

/* The string member key of obj when it is a string: NULL when absent or of
 * another type. *has_nul is set when it holds a NUL byte, which a C string
 * would silently cut (an email "a@b.c\u0000.evil" must not read as a@b.c). */
static const char *auth_claim_str(json_object *obj, const char *key, size_t *len, int *has_nul)
{
    json_object *v;
    const char *s;
    int n;

    if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    s = json_object_get_string(v);
    n = json_object_get_string_len(v);
    if (s == NULL || n < 0)
        return NULL;
    if (memchr(s, '\0', (size_t)n) != NULL)
        *has_nul = 1;
    *len = (size_t)n;
    return s;
}

static int auth_str_eq(const char *s, size_t len, const char *want)
{
    return s != NULL && want != NULL && len == strlen(want) && memcmp(s, want, len) == 0;
}

/* An integer timestamp claim: 0 and *t, 1 when absent, -1 when present but
 * not an integer in range (a string, 1e400, 1.5, a huge number). */
static int auth_claim_time(json_object *payload, const char *key, int64_t *t)
{
    json_object *v;
    int64_t x;

    if (!json_object_object_get_ex(payload, key, &v))
        return 1;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    x = json_object_get_int64(v);
    if (x < 0 || x > AUTH_MAX_TIME)
        return -1;
    *t = x;
    return 0;
}

static int auth_is_reserved(const char *key)
{
    /* The first byte rules out most names without a call. */
    for (size_t i = 0; auth_reserved_claims[i] != NULL; i++)
        if (auth_reserved_claims[i][0] == key[0] && strcmp(auth_reserved_claims[i], key) == 0)
            return 1;
    return 0;
}

/* A growing string, first in the caller's buffer, then malloc'd. */
typedef struct auth_sb {
    char *s;
    size_t len, cap;
    int is_heap;
    int is_nomem;
} auth_sb;

static void auth_sb_put(auth_sb *b, const char *s, size_t n)
{
    if (b->is_nomem)
        return;
    if (n >= b->cap - b->len) {
        size_t cap = b->cap * 2 > b->len + n + 1 ? b->cap * 2 : b->len + n + 1;
        char *q = b->is_heap ? realloc(b->s, cap) : malloc(cap);

        if (q == NULL) {
            b->is_nomem = 1;
            return;
        }
        if (!b->is_heap)
            memcpy(q, b->s, b->len);
        b->s = q;
        b->cap = cap;
        b->is_heap = 1;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
}

/* key as a JSON string, escaped exactly as json-c's serialiser does with
 * JSON_C_TO_STRING_NOSLASHESCAPE (so that claims_json reads as it did when
 * json-c wrote the whole object): \b \f \n \r \t \" \\ by name, other
 * control characters as \u00xx (lower-case hex), every other byte as is. */
static void auth_sb_key(auth_sb *b, const char *key)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = key, *p;

    auth_sb_put(b, "\"", 1);
    for (p = key; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[6];
        size_t n = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        auth_sb_put(b, run, (size_t)(p - run));
        run = p + 1;
        esc[0] = '\\';
        switch (c) {
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0x0f];
            n = 6;
            break;
        }
        auth_sb_put(b, esc, n);
    }
    auth_sb_put(b, run, (size_t)(p - run));
    auth_sb_put(b, "\":", 2);
}

/* The custom claims (the payload's members that are not reserved) as a
 * compact JSON object, written straight from the payload: no intermediate
 * json-c object. Each value is json-c's own serialisation of it. Returns 0,
 * or -1 out of memory (b's buffer is then released). */
static int auth_claims_json(json_object *payload, auth_sb *b)
{
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    int is_first = 1;

    auth_sb_put(b, "{", 1);
    json_object_object_foreach(payload, key, val)
    {
        const char *v;
        size_t vlen = 0;

        if (auth_is_reserved(key))
            continue;
        if (!is_first)
            auth_sb_put(b, ",", 1);
        is_first = 0;
        auth_sb_key(b, key);
        v = json_object_to_json_string_length(val, flags, &vlen);
        if (v == NULL) {
            b->is_nomem = 1;
            break;
        }
        auth_sb_put(b, v, vlen);
    }
    auth_sb_put(b, "}", 1);
    if (b->is_nomem) {
        if (b->is_heap)
            free(b->s);
        return -1;
    }
    return 0;
}

/* RS256 with the key named by the token's kid (see auth_keyset_verify_rs256
 * for the strictness on the signature's length): 1, 0 or -1. */
static int auth_verify_rs256(const auth_keyset *keys, const auth_jwt *j)
{
    return auth_keyset_verify_rs256(keys, j->kid, j->kid_len, j->sig, j->sig_len,
                                    (const unsigned char *)j->signing_input,
                                    j->signing_input_len);
}

/* ES256: JOSE carries r||s (32 bytes each); OpenSSL wants DER. */
static int auth_verify_es256(EVP_PKEY *pkey, const auth_jwt *j)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    EVP_MD_CTX *md = NULL;
    int der_len, ok = 0;

    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC || EVP_PKEY_get_bits(pkey) != 256 ||
        j->sig_len != 64)
        return 0;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(j->sig, 32, NULL);
    s = BN_bin2bn(j->sig + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL)
        goto nomem;
    if (ECDSA_SIG_set0(es, r, s) != 1)
        goto nomem;
    r = s = NULL; /* owned by es now */
    der_len = i2d_ECDSA_SIG(es, &der);
    md = EVP_MD_CTX_new();
    if (der_len <= 0 || md == NULL)
        goto nomem;
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1)
        ok = EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)j->signing_input,
                              j->signing_input_len) == 1;
    goto done;
nomem:
    ok = -1;
done:
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ok;
}

/* Appends s (len bytes) to the principal's string area; NULL stays NULL. */
static const char *auth_put(char **cursor, const char *s, size_t len)
{
    char *dst = *cursor;

    if (s == NULL)
        return NULL;
    memcpy(dst, s, len);
    dst[len] = '\0';
    *cursor = dst + len + 1;
    return dst;
}

typedef struct auth_claims {
    const char *sub, *iss, *email, *name, *picture, *phone, *provider, *tenant;
    size_t sub_len, iss_len, email_len, name_len, picture_len, phone_len, provider_len, tenant_len;
    int64_t iat, exp, auth_time;
} auth_claims;

/* Builds the principal in one block: the struct, then its strings. */
static auth_verdict auth_principal_new(json_object *payload, const auth_claims *c,
                                       lx_principal **out)
{
    char stackbuf[512];
    auth_sb claims = {.s = stackbuf, .cap = sizeof(stackbuf)};
    json_object *v;
    size_t total;
    lx_principal *p;
    char *cursor;

    if (auth_claims_json(payload, &claims) != 0)
        return AUTH_E_NOMEM;
    total = sizeof(*p) + c->sub_len + 1 + c->iss_len + 1 + claims.len + 1;
    total += c->email != NULL ? c->email_len + 1 : 0;
    total += c->name != NULL ? c->name_len + 1 : 0;
    total += c->picture != NULL ? c->picture_len + 1 : 0;
    total += c->phone != NULL ? c->phone_len + 1 : 0;
    total += c->provider != NULL ? c->provider_len + 1 : 0;
    total += c->tenant != NULL ? c->tenant_len + 1 : 0;
    p = malloc(total);
    if (p == NULL) {
        if (claims.is_heap)
            free(claims.s);
        return AUTH_E_NOMEM;
    }
    memset(p, 0, sizeof(*p));
    cursor = (char *)(p + 1);
    p->struct_size = (uint32_t)sizeof(*p);
    p->uid = auth_put(&cursor, c->sub, c->sub_len);
    p->email = auth_put(&cursor, c->email, c->email_len);
    p->name = auth_put(&cursor, c->name, c->name_len);
    p->picture = auth_put(&cursor, c->picture, c->picture_len);
    p->phone_number = auth_put(&cursor, c->phone, c->phone_len);
    p->sign_in_provider = auth_put(&cursor, c->provider, c->provider_len);
    p->tenant = auth_put(&cursor, c->tenant, c->tenant_len);
    p->issuer = auth_put(&cursor, c->iss, c->iss_len);
    p->claims_json = auth_put(&cursor, claims.s, claims.len);
    if (claims.is_heap)
        free(claims.s);
    p->auth_time = c->auth_time;
    p->iat = c->iat;
    p->exp = c->exp;
    p->email_verified = json_object_object_get_ex(payload, "email_verified", &v) &&
                        json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
    /* "admin" is not reserved: it is a custom claim whenever present. */
    p->is_admin = json_object_object_get_ex(payload, "admin", &v) &&
                  json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
    *out = p;
    return AUTH_OK;
}

/* The mode's algorithm rule, on the header alone. */
static int auth_alg_ok(const auth_verify_opts *o, const auth_jwt *j)
{
    switch (o->mode) {
    case AUTH_MODE_FIREBASE:
    case AUTH_MODE_SESSION:
        return j->alg != NULL && strcmp(j->alg, "RS256") == 0 && j->kid != NULL &&
               j->kid_len > 0;
    case AUTH_MODE_EMULATOR:
        return j->alg != NULL && strcmp(j->alg, "none") == 0 && j->has_empty_sig;
    case AUTH_MODE_OIDC:
        return j->alg != NULL && (strcmp(j->alg, "RS256") == 0 || strcmp(j->alg, "ES256") == 0) &&
               j->kid != NULL && j->kid_len > 0;
    }
    return 0;
}

auth_verdict auth_verify(const char *token, size_t len, const auth_keyset *keys,
                         const auth_verify_opts *o, lx_principal **out, char *why, size_t whylen)
{
    auth_verdict verdict = AUTH_E_INVALID;
    const char *reason = "bad token", *aud;
    auth_claims c;
    auth_jwt j;
    json_object *fb;
    size_t aud_len = 0;
    long leeway;
    int has_nul = 0, rc;
    EVP_PKEY *pkey;
    char perr[64];

    memset(&j, 0, sizeof(j));
    memset(&c, 0, sizeof(c));
    if (out != NULL)
        *out = NULL;
    if (out == NULL || o == NULL || o->audience == NULL || o->issuer == NULL) {
        auth_why(why, whylen, "verifier not configured");
        return AUTH_E_INVALID;
    }
    if (token == NULL || len == 0) {
        auth_why(why, whylen, "empty token");
        return AUTH_E_INVALID;
    }
    if (len > AUTH_MAX_TOKEN) {
        auth_why(why, whylen, "token too long");
        return AUTH_E_INVALID;
    }
    if (auth_jwt_parse(token, len, &j, perr, sizeof(perr)) != 0) {
        auth_why(why, whylen, perr);
        return strcmp(perr, "out of memory") == 0 ? AUTH_E_NOMEM : AUTH_E_INVALID;
    }

    aud = auth_claim_str(j.payload, "aud", &aud_len, &has_nul);
    if (aud != NULL && auth_str_eq(aud, aud_len, AUTH_CUSTOM_TOKEN_AUD)) {
        reason = "custom token, not an ID token";
        goto done;
    }
    /* RFC 7515 §4.1.11: an extension listed as critical must be understood,
     * and this verifier understands none. (No SDK looks at crit; no Google
     * token carries it.) jku, jwk, x5u and x5c are simply never read. */
    if (json_object_object_get_ex(j.header, "crit", NULL)) {
        reason = "critical header extension";
        goto done;
    }
    if (!auth_alg_ok(o, &j)) {
        reason = o->mode == AUTH_MODE_EMULATOR ? "emulator tokens are unsigned"
                 : j.kid == NULL || j.kid_len == 0 ? "missing key id"
                                                   : "wrong algorithm";
        goto done;
    }
    if (!auth_str_eq(aud, aud_len, o->audience)) {
        reason = "wrong audience";
        goto done;
    }
    c.iss = auth_claim_str(j.payload, "iss", &c.iss_len, &has_nul);
    if (!auth_str_eq(c.iss, c.iss_len, o->issuer)) {
        reason = "wrong issuer";
        goto done;
    }
    /* The uid limit counts bytes, as firebase-admin-go does: 64 x "é" is
     * 128 bytes and passes, 65 x "é" does not. */
    has_nul = 0;
    c.sub = auth_claim_str(j.payload, "sub", &c.sub_len, &has_nul);
    if (c.sub == NULL || c.sub_len == 0 || c.sub_len > AUTH_MAX_UID || has_nul) {
        reason = "bad subject";
        goto done;
    }

    /* Times before the signature (GO's order): tampered and expired reads
     * as expired. */
    leeway = o->leeway_s < 0 ? 0 : o->leeway_s > 300 ? 300 : o->leeway_s;
    if (auth_claim_time(j.payload, "iat", &c.iat) != 0 ||
        auth_claim_time(j.payload, "exp", &c.exp) != 0) {
        reason = "bad iat or exp";
        goto done;
    }
    rc = auth_claim_time(j.payload, "auth_time", &c.auth_time);
    if (rc < 0 || (rc == 1 && o->mode != AUTH_MODE_OIDC)) {
        reason = "bad auth_time";
        goto done;
    }
    if (c.iat > o->now + leeway) {
        reason = "issued in the future";
        goto done;
    }
    if (rc == 0 && c.auth_time > o->now + leeway) {
        reason = "authenticated in the future";
        goto done;
    }
    if (c.exp < o->now - leeway) {
        verdict = AUTH_E_EXPIRED;
        reason = "token expired";
        goto done;
    }

    fb = NULL;
    if (json_object_object_get_ex(j.payload, "firebase", &fb) &&
        !json_object_is_type(fb, json_type_object))
        fb = NULL;
    has_nul = 0;
    c.tenant = auth_claim_str(fb, "tenant", &c.tenant_len, &has_nul);
    if (o->tenant != NULL && (has_nul || !auth_str_eq(c.tenant, c.tenant_len, o->tenant))) {
        verdict = AUTH_E_TENANT;
        reason = "tenant mismatch";
        goto done;
    }

    if (o->mode != AUTH_MODE_EMULATOR) {
        /* Only the key named by kid, never a search over all keys. */
        pkey = auth_keyset_find(keys, j.kid, j.kid_len);
        if (pkey == NULL) {
            verdict = AUTH_E_UNKNOWN_KID;
            reason = "unknown key id";
            goto done;
        }
        rc = strcmp(j.alg, "ES256") == 0 ? auth_verify_es256(pkey, &j)
                                         : auth_verify_rs256(keys, &j);
        if (rc < 0) {
            verdict = AUTH_E_NOMEM;
            reason = "out of memory";
            goto done;
        }
        if (rc != 1) {
            reason = "bad signature";
            goto done;
        }
    }

    /* Exposed strings must not hold a NUL a C reader would cut at. */
    c.email = auth_claim_str(j.payload, "email", &c.email_len, &has_nul);
    c.name = auth_claim_str(j.payload, "name", &c.name_len, &has_nul);
    c.picture = auth_claim_str(j.payload, "picture", &c.picture_len, &has_nul);
    c.phone = auth_claim_str(j.payload, "phone_number", &c.phone_len, &has_nul);
    c.provider = auth_claim_str(fb, "sign_in_provider", &c.provider_len, &has_nul);
    if (has_nul) {
        reason = "NUL byte in a claim";
        goto done;
    }
    verdict = auth_principal_new(j.payload, &c, out);
    reason = verdict == AUTH_OK ? "ok" : "out of memory";
done:
    auth_jwt_free(&j);
    auth_why(why, whylen, reason);
    return verdict;
}

int auth_token_kid(const char *token, size_t len, char *buf, size_t buflen)
{
    auth_jwt j;
    int rc = -1;

    if (buf == NULL || buflen == 0)
        return -1;
    buf[0] = '\0';
    if (auth_jwt_parse(token, len, &j, NULL, 0) != 0)
        return -1;
    /* A cut kid could name another key: refuse rather than truncate. */
    if (j.kid != NULL && j.kid_len < buflen) {
        memcpy(buf, j.kid, j.kid_len);
        buf[j.kid_len] = '\0';
        rc = 0;
    }
    auth_jwt_free(&j);
    return rc;
}

/* A service-account key is never encrypted: refuse any passphrase prompt. */
static int auth_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

int auth_sign_rs256(const char *private_key_pem, const char *header_json, const char *payload_json,
                    char **jwt, char *why, size_t whylen)
{
    const char *reason = "out of memory";
    char *h = NULL, *p = NULL, *s = NULL, *input = NULL, *res = NULL;
    unsigned char *sig = NULL;
    size_t hl, pl, sig_len = 0, input_len;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    BIO *bio = NULL;
    int rc = -1;

    if (jwt != NULL)
        *jwt = NULL;
    if (private_key_pem == NULL || header_json == NULL || payload_json == NULL || jwt == NULL) {
        auth_why(why, whylen, "bad arguments");
        return -1;
    }
    bio = BIO_new_mem_buf(private_key_pem, -1);
    if (bio == NULL)
        goto done;
    pkey = PEM_read_bio_PrivateKey(bio, NULL, auth_no_passphrase, NULL);
    if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA ||
        EVP_PKEY_get_bits(pkey) < AUTH_MIN_RSA_BITS) {
        reason = "private key is not an RSA PEM key of at least 2048 bits";
        goto done;
    }
    if (auth_b64url_encode((const unsigned char *)header_json, strlen(header_json), &h) != 0 ||
        auth_b64url_encode((const unsigned char *)payload_json, strlen(payload_json), &p) != 0)
        goto done;
    hl = strlen(h);
    pl = strlen(p);
    input_len = hl + 1 + pl;
    input = malloc(input_len + 1);
    if (input == NULL)
        goto done;
    memcpy(input, h, hl);
    input[hl] = '.';
    memcpy(input + hl + 1, p, pl + 1);

    md = EVP_MD_CTX_new();
    if (md == NULL)
        goto done;
    reason = "signing failed";
    if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)input, input_len) != 1)
        goto done;
    sig = malloc(sig_len);
    if (sig == NULL) {
        reason = "out of memory";
        goto done;
    }
    if (EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input, input_len) != 1)
        goto done;
    reason = "out of memory";
    if (auth_b64url_encode(sig, sig_len, &s) != 0)
        goto done;
    res = malloc(input_len + 1 + strlen(s) + 1);
    if (res == NULL)
        goto done;
    memcpy(res, input, input_len);
    res[input_len] = '.';
    memcpy(res + input_len + 1, s, strlen(s) + 1);
    *jwt = res;
    rc = 0;
done:
    if (rc != 0)
        auth_why(why, whylen, reason);
    free(s);
    OPENSSL_clear_free(sig, sig_len);
    free(input);
    free(p);
    free(h);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}
