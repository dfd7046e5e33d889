/*
 * libFuzzer target for plugins/auth/jwt.c and verify.c. The first byte
 * picks the entry point:
 *   'B' rest is an Authorization header for auth_bearer_parse;
 *   'D' rest is decoded by auth_b64url_decode, then re-encoded (must round
 *       trip exactly: one encoding per value);
 *   'S' rest is a payload JSON text that is signed here (ES256, kid "e1")
 *       and verified in OIDC mode, so that the claim checks and the
 *       principal builder see inputs past the signature;
 *   else the whole input is a token for auth_jwt_parse, auth_token_kid and
 *       auth_verify in firebase and emulator modes with a fixed key set.
 * Besides the sanitizers, it traps when a contract promise is broken.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "jwt.h"
#include "keys.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW INT64_C(1700000000)

static auth_keyset *fuzz_id_keys, *fuzz_oidc_keys;
static EVP_PKEY *fuzz_ec;

static void fuzz_check(int ok)
{
    if (!ok)
        __builtin_trap();
}

/* The key sets, built once: {"k1": RSA-2048 certificate} and {"e1": P-256}. */
static void fuzz_init(void)
{
    EVP_PKEY *rsa;
    X509 *x;
    BIO *bio;
    BIGNUM *bx = NULL, *by = NULL;
    unsigned char cx[32], cy[32];
    char *pem, *ex = NULL, *ey = NULL, err[128];
    json_object *m;
    long n;

    if (fuzz_id_keys != NULL)
        return;
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fuzz_ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    x = X509_new();
    bio = BIO_new(BIO_s_mem());
    fuzz_check(rsa != NULL && fuzz_ec != NULL && x != NULL && bio != NULL);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, rsa);
    fuzz_check(X509_sign(x, rsa, EVP_sha256()) > 0 && PEM_write_bio_X509(bio, x) == 1);
    n = BIO_get_mem_data(bio, &pem);
    m = json_object_new_object();
    json_object_object_add(m, "k1", json_object_new_string_len(pem, (int)n));
    fuzz_check(auth_keyset_from_x509_map(json_object_to_json_string(m),
                                         strlen(json_object_to_json_string(m)), &fuzz_id_keys,
                                         err, sizeof(err)) == 0);
    json_object_put(m);
    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(rsa);

    fuzz_check(EVP_PKEY_get_bn_param(fuzz_ec, "qx", &bx) == 1 &&
               EVP_PKEY_get_bn_param(fuzz_ec, "qy", &by) == 1);
    BN_bn2binpad(bx, cx, 32);
    BN_bn2binpad(by, cy, 32);
    fuzz_check(auth_b64url_encode(cx, 32, &ex) == 0 && auth_b64url_encode(cy, 32, &ey) == 0);
    {
        char jwks[512];
        int jl = snprintf(jwks, sizeof(jwks),
                          "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"e1\","
                          "\"x\":\"%s\",\"y\":\"%s\"}]}",
                          ex, ey);

        fuzz_check(auth_keyset_from_jwks(jwks, (size_t)jl, &fuzz_oidc_keys, err, sizeof(err)) ==
                   0);
    }
    free(ex);
    free(ey);
    BN_free(bx);
    BN_free(by);
}

static void fuzz_principal(auth_verdict v, lx_principal *p)
{
    if (v != AUTH_OK) {
        fuzz_check(p == NULL);
        return;
    }
    fuzz_check(p != NULL && p->struct_size == sizeof(*p) && p->uid != NULL &&
               strlen(p->uid) >= 1 && strlen(p->uid) <= 128 && p->claims_json != NULL &&
               p->issuer != NULL && (p->is_admin == 0 || p->is_admin == 1));
    free(p);
}

static void fuzz_token(const char *tok, size_t len)
{
    auth_verify_opts o = {.mode = AUTH_MODE_FIREBASE,
                          .audience = "P",
                          .issuer = "https://securetoken.google.com/P",
                          .leeway_s = 60,
                          .now = FUZZ_NOW,
                          .tenant = NULL};
    lx_principal *p;
    auth_jwt j;
    char why[64], kid[32];
    auth_verdict v;

    if (auth_jwt_parse(tok, len, &j, why, sizeof(why)) == 0) {
        fuzz_check(json_object_is_type(j.header, json_type_object) &&
                   json_object_is_type(j.payload, json_type_object));
        fuzz_check(j.signing_input == tok && j.signing_input_len < len);
        fuzz_check(j.kid == NULL || memchr(j.kid, '\0', j.kid_len) == NULL);
        fuzz_check(j.has_empty_sig == (j.signing_input_len + 1 == len));
        auth_jwt_free(&j);
    }
    (void)auth_token_kid(tok, len, kid, sizeof(kid));
    v = auth_verify(tok, len, fuzz_id_keys, &o, &p, why, sizeof(why));
    /* Nothing can be signed by k1 here: a forged pass is a bug. */
    fuzz_check(v != AUTH_OK);
    fuzz_principal(v, p);
    o.mode = AUTH_MODE_EMULATOR;
    o.tenant = "t1";
    v = auth_verify(tok, len, NULL, &o, &p, why, sizeof(why));
    fuzz_principal(v, p);
}

/* Signs payload (ES256, kid e1) and verifies it in OIDC mode. */
static void fuzz_signed(const uint8_t *pay, size_t len)
{
    static const char hdr[] = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImUxIn0"; /* {"alg":"ES256","kid":"e1"} */
    auth_verify_opts o = {.mode = AUTH_MODE_OIDC,
                          .audience = "P",
                          .issuer = "https://securetoken.google.com/P",
                          .leeway_s = 60,
                          .now = FUZZ_NOW,
                          .tenant = NULL};
    char *p64 = NULL, *s64 = NULL, *tok = NULL, why[64];
    unsigned char der[80], jose[64];
    const unsigned char *dp = der;
    size_t dl = sizeof(der), tl;
    EVP_MD_CTX *md = NULL;
    ECDSA_SIG *es = NULL;
    lx_principal *pr;
    auth_verdict v;

    if (len > AUTH_MAX_TOKEN || auth_b64url_encode(pay, len, &p64) != 0)
        return;
    tl = sizeof(hdr) + strlen(p64);
    tok = malloc(tl + 1 + 88);
    md = EVP_MD_CTX_new();
    fuzz_check(tok != NULL && md != NULL);
    memcpy(tok, hdr, sizeof(hdr) - 1);
    tok[sizeof(hdr) - 1] = '.';
    memcpy(tok + sizeof(hdr), p64, strlen(p64) + 1);
    fuzz_check(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, fuzz_ec) == 1 &&
               EVP_DigestSign(md, der, &dl, (unsigned char *)tok, tl) == 1);
    es = d2i_ECDSA_SIG(NULL, &dp, (long)dl);
    fuzz_check(es != NULL);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), jose, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), jose + 32, 32);
    fuzz_check(auth_b64url_encode(jose, 64, &s64) == 0);
    tok[tl] = '.';
    memcpy(tok + tl + 1, s64, strlen(s64) + 1);
    v = auth_verify(tok, strlen(tok), fuzz_oidc_keys, &o, &pr, why, sizeof(why));
    fuzz_principal(v, pr);
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    free(s64);
    free(tok);
    free(p64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    fuzz_init();
    if (size == 0)
        return 0;
    if (data[0] == 'B') {
        const char *tok;
        size_t len;

        s = malloc(size);
        fuzz_check(s != NULL);
        memcpy(s, data + 1, size - 1);
        s[size - 1] = '\0';
        if (auth_bearer_parse(s, &tok, &len) == 0)
            fuzz_check(len > 0 && tok > s && tok + len == s + strlen(s) &&
                       memchr(tok, ' ', len) == NULL);
        free(s);
    } else if (data[0] == 'D') {
        unsigned char *out;
        size_t n;
        char *enc;

        if (auth_b64url_decode((const char *)data + 1, size - 1, &out, &n) == 0) {
            fuzz_check(auth_b64url_encode(out, n, &enc) == 0);
            fuzz_check(strlen(enc) == size - 1 && memcmp(enc, data + 1, size - 1) == 0);
            free(enc);
            free(out);
        }
    } else if (data[0] == 'S') {
        fuzz_signed(data + 1, size - 1);
    } else {
        /* A copy of exactly size bytes, so reads past the end are caught. */
        s = malloc(size);
        fuzz_check(s != NULL);
        memcpy(s, data, size);
        fuzz_token(s, size);
        free(s);
    }
    return 0;
}
