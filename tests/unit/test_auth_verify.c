/*
 * auth_verify against the offline matrix of docs/firebase-id-tokens.md §7:
 * keys and certificates are generated here, tokens minted here, and the
 * clock is fixed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jwt.h"
#include "keys.h"
#include "verify.h"

#define NOW INT64_C(1700000000)
#define L 60
#define PROJECT "P"
#define ISS "https://securetoken.google.com/P"
#define SESSION_ISS "https://session.firebase.google.com/P"
#define CUSTOM_AUD \
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"

/* Keys and key sets shared by every test, made once per run. */
static struct {
    EVP_PKEY *k1, *k2, *ks, *ec, *attacker;
    char *c1_pem, *spki_pem;
    unsigned char *spki_der;
    size_t spki_der_len;
    auth_keyset *id_keys;      /* {k1, k2} from a PEM map */
    auth_keyset *session_keys; /* {ks} */
    auth_keyset *oidc_keys;    /* JWKS {r1: k1, e1: ec} */
} fx;

/* ---------------------------------------------------------------- helpers */

static char *bio_string(BIO *bio)
{
    char *data, *s;
    long n = BIO_get_mem_data(bio, &data);

    s = malloc((size_t)n + 1);
    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

static char *self_signed_pem(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;

    assert_non_null(x);
    assert_non_null(bio);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    pem = bio_string(bio);
    BIO_free(bio);
    X509_free(x);
    return pem;
}

static char *b64(const void *data, size_t len)
{
    char *s;

    assert_int_equal(auth_b64url_encode(data, len, &s), 0);
    return s;
}

/* "b64(hdr).b64(pay)", malloc'd. */
static char *signing_input(const char *hdr, const char *pay)
{
    char *h = b64(hdr, strlen(hdr)), *p = b64(pay, strlen(pay)), *s;

    s = malloc(strlen(h) + strlen(p) + 2);
    assert_non_null(s);
    sprintf(s, "%s.%s", h, p);
    free(h);
    free(p);
    return s;
}

static char *join_sig(char *input, const unsigned char *sig, size_t sig_len)
{
    char *s = b64(sig, sig_len), *tok = malloc(strlen(input) + strlen(s) + 2);

    assert_non_null(tok);
    sprintf(tok, "%s.%s", input, s);
    free(s);
    free(input);
    return tok;
}

/* A raw signature over data with key: RSA PKCS#1 v1.5 (or PSS) with md,
 * or ECDSA converted to JOSE r||s. */
static unsigned char *sign_raw(EVP_PKEY *key, const EVP_MD *md, int pss, const char *data,
                               size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig;
    size_t n = 0;

    assert_non_null(ctx);
    assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md, NULL, key), 1);
    if (pss)
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    assert_int_equal(EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)data, strlen(data)), 1);
    sig = malloc(n);
    assert_non_null(sig);
    assert_int_equal(EVP_DigestSign(ctx, sig, &n, (const unsigned char *)data, strlen(data)), 1);
    EVP_MD_CTX_free(ctx);
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        unsigned char *jose = malloc(64);

        assert_non_null(es);
        assert_non_null(jose);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), jose, 32), 32);
        assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), jose + 32, 32), 32);
        ECDSA_SIG_free(es);
        free(sig);
        sig = jose;
        n = 64;
    }
    *sig_len = n;
    return sig;
}

/* A compact JWT of the two JSON texts signed with key (SHA-256). */
static char *mint_md(const char *hdr, const char *pay, EVP_PKEY *key, const EVP_MD *md, int pss)
{
    char *input = signing_input(hdr, pay);
    size_t n;
    unsigned char *sig = sign_raw(key, md, pss, input, &n);
    char *tok = join_sig(input, sig, n);

    free(sig);
    return tok;
}

static char *mint(const char *hdr, const char *pay, EVP_PKEY *key)
{
    return mint_md(hdr, pay, key, EVP_sha256(), 0);
}

static char *mint_obj(json_object *hdr, json_object *pay, EVP_PKEY *key)
{
    char *tok = mint(json_object_to_json_string_ext(hdr, JSON_C_TO_STRING_PLAIN),
                     json_object_to_json_string_ext(pay, JSON_C_TO_STRING_PLAIN), key);

    json_object_put(hdr);
    json_object_put(pay);
    return tok;
}

static json_object *header_of(const char *alg, const char *kid)
{
    json_object *h = json_object_new_object();

    json_object_object_add(h, "alg", json_object_new_string(alg));
    if (kid != NULL)
        json_object_object_add(h, "kid", json_object_new_string(kid));
    json_object_object_add(h, "typ", json_object_new_string("JWT"));
    return h;
}

/* The §7 good payload. */
static json_object *good_claims(void)
{
    json_object *p = json_object_new_object(), *fb = json_object_new_object();

    json_object_object_add(p, "iss", json_object_new_string(ISS));
    json_object_object_add(p, "aud", json_object_new_string(PROJECT));
    json_object_object_add(p, "auth_time", json_object_new_int64(NOW - 60));
    json_object_object_add(p, "user_id", json_object_new_string("u1"));
    json_object_object_add(p, "sub", json_object_new_string("u1"));
    json_object_object_add(p, "iat", json_object_new_int64(NOW - 60));
    json_object_object_add(p, "exp", json_object_new_int64(NOW + 3540));
    json_object_object_add(p, "email", json_object_new_string("u1@example.com"));
    json_object_object_add(p, "email_verified", json_object_new_boolean(1));
    json_object_object_add(fb, "sign_in_provider", json_object_new_string("password"));
    json_object_object_add(p, "firebase", fb);
    return p;
}

static void set_claim(json_object *p, const char *key, json_object *v)
{
    if (v == NULL)
        json_object_object_del(p, key);
    else
        json_object_object_add(p, key, v);
}

/* A k1-signed token of the good claims with one claim replaced (v) or
 * removed (v NULL). */
static char *good_with(const char *key, json_object *v)
{
    json_object *p = good_claims();

    set_claim(p, key, v);
    return mint_obj(header_of("RS256", "k1"), p, fx.k1);
}

static auth_verify_opts opts_for(auth_mode mode)
{
    auth_verify_opts o = {
        .mode = mode, .audience = PROJECT, .issuer = ISS, .leeway_s = L, .now = NOW, .tenant = NULL};

    if (mode == AUTH_MODE_SESSION)
        o.issuer = SESSION_ISS;
    return o;
}

static const auth_keyset *keys_for(auth_mode mode)
{
    return mode == AUTH_MODE_SESSION ? fx.session_keys
           : mode == AUTH_MODE_OIDC  ? fx.oidc_keys
                                     : fx.id_keys;
}

static char why[128];

/* Verifies and frees tok; the principal is freed unless p is given. */
static auth_verdict verify_opts(char *tok, const auth_verify_opts *o, const auth_keyset *ks,
                                lx_principal **p)
{
    lx_principal *out = (lx_principal *)1;
    auth_verdict v = auth_verify(tok, strlen(tok), ks, o, &out, why, sizeof(why));

    if (v == AUTH_OK)
        assert_non_null(out);
    else
        assert_null(out);
    free(tok);
    if (p != NULL)
        *p = out;
    else
        free(out);
    return v;
}

static auth_verdict verify_mode(char *tok, auth_mode mode, lx_principal **p)
{
    auth_verify_opts o = opts_for(mode);

    return verify_opts(tok, &o, keys_for(mode), p);
}

static auth_verdict verify(char *tok)
{
    return verify_mode(tok, AUTH_MODE_FIREBASE, NULL);
}

static char *dup_str(const char *s)
{
    char *d = malloc(strlen(s) + 1);

    assert_non_null(d);
    strcpy(d, s);
    return d;
}

/* tok with its segment i (0..2) replaced by seg; tok is freed. */
static char *replace_segment(char *tok, int i, const char *seg)
{
    char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.'), *res;
    const char *parts[3];
    size_t lens[3];

    parts[0] = tok;
    lens[0] = (size_t)(d1 - tok);
    parts[1] = d1 + 1;
    lens[1] = (size_t)(d2 - d1 - 1);
    parts[2] = d2 + 1;
    lens[2] = strlen(d2 + 1);
    parts[i] = seg;
    lens[i] = strlen(seg);
    res = malloc(lens[0] + lens[1] + lens[2] + 3);
    assert_non_null(res);
    sprintf(res, "%.*s.%.*s.%.*s", (int)lens[0], parts[0], (int)lens[1], parts[1], (int)lens[2],
            parts[2]);
    free(tok);
    return res;
}

/* The decoded signature of tok (malloc'd). */
static unsigned char *sig_of(const char *tok, size_t *n)
{
    const char *s = strrchr(tok, '.') + 1;
    unsigned char *sig;

    assert_int_equal(auth_b64url_decode(s, strlen(s), &sig, n), 0);
    return sig;
}

/* ---------------------------------------------------------------- fixture */

static char *x509_map(const char *kid_a, EVP_PKEY *a, const char *kid_b, EVP_PKEY *b)
{
    json_object *m = json_object_new_object();
    char *pa = self_signed_pem(a), *s;

    json_object_object_add(m, kid_a, json_object_new_string(pa));
    free(pa);
    if (b != NULL) {
        char *pb = self_signed_pem(b);

        json_object_object_add(m, kid_b, json_object_new_string(pb));
        free(pb);
    }
    s = dup_str(json_object_to_json_string(m));
    json_object_put(m);
    return s;
}

static json_object *jwk_of(EVP_PKEY *key, const char *kid)
{
    json_object *j = json_object_new_object();
    BIGNUM *a = NULL, *b = NULL;
    unsigned char buf[1024];
    char *s;
    int n;

    json_object_object_add(j, "kid", json_object_new_string(kid));
    json_object_object_add(j, "use", json_object_new_string("sig"));
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &a), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &b), 1);
        json_object_object_add(j, "kty", json_object_new_string("RSA"));
        json_object_object_add(j, "alg", json_object_new_string("RS256"));
        n = BN_bn2bin(a, buf);
        s = b64(buf, (size_t)n);
        json_object_object_add(j, "n", json_object_new_string(s));
        free(s);
        n = BN_bn2bin(b, buf);
        s = b64(buf, (size_t)n);
        json_object_object_add(j, "e", json_object_new_string(s));
        free(s);
    } else {
        assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &a), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &b), 1);
        json_object_object_add(j, "kty", json_object_new_string("EC"));
        json_object_object_add(j, "crv", json_object_new_string("P-256"));
        BN_bn2binpad(a, buf, 32);
        s = b64(buf, 32);
        json_object_object_add(j, "x", json_object_new_string(s));
        free(s);
        BN_bn2binpad(b, buf, 32);
        s = b64(buf, 32);
        json_object_object_add(j, "y", json_object_new_string(s));
        free(s);
    }
    BN_free(a);
    BN_free(b);
    return j;
}

static int setup(void **state)
{
    char *m, err[128];
    json_object *set, *arr;
    BIO *bio;
    unsigned char *der = NULL;
    int n;

    fx.k1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fx.k2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fx.ks = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fx.attacker = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fx.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!fx.k1 || !fx.k2 || !fx.ks || !fx.attacker || !fx.ec)
        return -1;

    m = x509_map("k1", fx.k1, "k2", fx.k2);
    if (auth_keyset_from_x509_map(m, strlen(m), &fx.id_keys, err, sizeof(err)) != 0)
        return -1;
    free(m);
    m = x509_map("ks", fx.ks, NULL, NULL);
    if (auth_keyset_from_x509_map(m, strlen(m), &fx.session_keys, err, sizeof(err)) != 0)
        return -1;
    free(m);

    set = json_object_new_object();
    arr = json_object_new_array();
    json_object_array_add(arr, jwk_of(fx.k1, "r1"));
    json_object_array_add(arr, jwk_of(fx.ec, "e1"));
    json_object_object_add(set, "keys", arr);
    m = dup_str(json_object_to_json_string(set));
    json_object_put(set);
    if (auth_keyset_from_jwks(m, strlen(m), &fx.oidc_keys, err, sizeof(err)) != 0)
        return -1;
    free(m);

    fx.c1_pem = self_signed_pem(fx.k1);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, fx.k1);
    fx.spki_pem = bio_string(bio);
    BIO_free(bio);
    n = i2d_PUBKEY(fx.k1, &der);
    if (n <= 0)
        return -1;
    fx.spki_der = der;
    fx.spki_der_len = (size_t)n;
    return 0;
}

static int teardown(void **state)
{
    EVP_PKEY_free(fx.k1);
    EVP_PKEY_free(fx.k2);
    EVP_PKEY_free(fx.ks);
    EVP_PKEY_free(fx.ec);
    EVP_PKEY_free(fx.attacker);
    free(fx.c1_pem);
    free(fx.spki_pem);
    OPENSSL_free(fx.spki_der);
    auth_keyset_free(fx.id_keys);
    auth_keyset_free(fx.session_keys);
    auth_keyset_free(fx.oidc_keys);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_verify_good_token_fills_the_principal(void **state)
{
    lx_principal *p;
    json_object *c = good_claims();

    json_object_object_add(c, "name", json_object_new_string("Ada"));
    json_object_object_add(c, "picture", json_object_new_string("https://x/y.png"));
    json_object_object_add(c, "phone_number", json_object_new_string("+15555550100"));
    assert_int_equal(verify_mode(mint_obj(header_of("RS256", "k1"), c, fx.k1), AUTH_MODE_FIREBASE,
                                 &p),
                     AUTH_OK);
    assert_string_equal(why, "ok");
    assert_int_equal(p->struct_size, sizeof(lx_principal));
    assert_string_equal(p->uid, "u1");
    assert_string_equal(p->email, "u1@example.com");
    assert_int_equal(p->email_verified, 1);
    assert_string_equal(p->name, "Ada");
    assert_string_equal(p->picture, "https://x/y.png");
    assert_string_equal(p->phone_number, "+15555550100");
    assert_string_equal(p->sign_in_provider, "password");
    assert_null(p->tenant);
    assert_string_equal(p->issuer, ISS);
    assert_int_equal(p->auth_time, NOW - 60);
    assert_int_equal(p->iat, NOW - 60);
    assert_int_equal(p->exp, NOW + 3540);
    assert_string_equal(p->claims_json, "{}");
    assert_int_equal(p->is_admin, 0);
    free(p);
}

static void test_verify_minimal_token_leaves_optional_fields_null(void **state)
{
    lx_principal *p;
    json_object *c = good_claims();

    json_object_object_del(c, "email");
    json_object_object_del(c, "email_verified");
    json_object_object_del(c, "firebase");
    assert_int_equal(verify_mode(mint_obj(header_of("RS256", "k2"), c, fx.k2), AUTH_MODE_FIREBASE,
                                 &p),
                     AUTH_OK);
    assert_null(p->email);
    assert_int_equal(p->email_verified, 0);
    assert_null(p->name);
    assert_null(p->picture);
    assert_null(p->phone_number);
    assert_null(p->sign_in_provider);
    free(p);
}

static void test_verify_exp_with_leeway(void **state)
{
    assert_int_equal(verify(good_with("exp", json_object_new_int64(NOW - L - 1))), AUTH_E_EXPIRED);
    assert_string_equal(why, "token expired");
    assert_int_equal(verify(good_with("exp", json_object_new_int64(NOW - L))), AUTH_OK);
    assert_int_equal(verify(good_with("exp", json_object_new_int64(NOW - L + 1))), AUTH_OK);
}

static void test_verify_iat_and_auth_time_in_the_future(void **state)
{
    assert_int_equal(verify(good_with("iat", json_object_new_int64(NOW + L + 1))), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("iat", json_object_new_int64(NOW + L))), AUTH_OK);
    assert_int_equal(verify(good_with("auth_time", json_object_new_int64(NOW + L + 1))),
                     AUTH_E_INVALID);
    assert_int_equal(verify(good_with("auth_time", json_object_new_int64(NOW + L))), AUTH_OK);
}

static void test_verify_time_claims_must_be_integers(void **state)
{
    static const char hdr[] = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
    static const char *const bad_exp[] = {"\"1700003540\"", "1e400", "1700003540.5", "1.7e9",
                                          "99999999999999999999", "-1", "null", "true", NULL};
    char pay[512];

    assert_int_equal(verify(good_with("exp", NULL)), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("iat", NULL)), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("auth_time", NULL)), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("exp", json_object_new_string("1700003540"))),
                     AUTH_E_INVALID);
    for (size_t i = 0; bad_exp[i] != NULL; i++) {
        snprintf(pay, sizeof(pay),
                 "{\"iss\":\"%s\",\"aud\":\"P\",\"sub\":\"u1\",\"iat\":%lld,\"auth_time\":%lld,"
                 "\"exp\":%s}",
                 ISS, (long long)(NOW - 60), (long long)(NOW - 60), bad_exp[i]);
        assert_int_equal(verify(mint(hdr, pay, fx.k1)), AUTH_E_INVALID);
        assert_string_equal(why, "bad iat or exp");
    }
    /* The same text with an integer passes: the harness is right. */
    snprintf(pay, sizeof(pay),
             "{\"iss\":\"%s\",\"aud\":\"P\",\"sub\":\"u1\",\"iat\":%lld,\"auth_time\":%lld,"
             "\"exp\":%lld}",
             ISS, (long long)(NOW - 60), (long long)(NOW - 60), (long long)(NOW + 60));
    assert_int_equal(verify(mint(hdr, pay, fx.k1)), AUTH_OK);
}

static void test_verify_audience_is_one_exact_string(void **state)
{
    json_object *arr = json_object_new_array();

    json_object_array_add(arr, json_object_new_string(PROJECT));
    assert_int_equal(verify(good_with("aud", json_object_new_string("other"))), AUTH_E_INVALID);
    assert_string_equal(why, "wrong audience");
    assert_int_equal(verify(good_with("aud", arr)), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("aud", json_object_new_string("P "))), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("aud", json_object_new_string("p"))), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("aud", json_object_new_string_len("P\0x", 3))),
                     AUTH_E_INVALID);
    assert_int_equal(verify(good_with("aud", NULL)), AUTH_E_INVALID);
}

static void test_verify_issuer_is_exact(void **state)
{
    assert_int_equal(verify(good_with("iss", json_object_new_string(SESSION_ISS))), AUTH_E_INVALID);
    assert_string_equal(why, "wrong issuer");
    assert_int_equal(verify(good_with("iss", json_object_new_string("accounts.google.com"))),
                     AUTH_E_INVALID);
    assert_int_equal(
        verify(good_with("iss", json_object_new_string("https://accounts.google.com"))),
        AUTH_E_INVALID);
    assert_int_equal(verify(good_with("iss", json_object_new_string(ISS "/"))), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("iss", NULL)), AUTH_E_INVALID);
}

static void test_verify_kid_unknown_missing_or_empty(void **state)
{
    auth_verify_opts o = opts_for(AUTH_MODE_FIREBASE);
    json_object *h = header_of("RS256", "k1");

    assert_int_equal(verify(mint_obj(header_of("RS256", "k9"), good_claims(), fx.k1)),
                     AUTH_E_UNKNOWN_KID);
    assert_string_equal(why, "unknown key id");
    assert_int_equal(verify(mint_obj(header_of("RS256", NULL), good_claims(), fx.k1)),
                     AUTH_E_INVALID);
    assert_string_equal(why, "missing key id");
    /* kid "" is not a wildcard (firebase-admin-node tries every key). */
    assert_int_equal(verify(mint_obj(header_of("RS256", ""), good_claims(), fx.k1)),
                     AUTH_E_INVALID);
    json_object_object_add(h, "kid", json_object_new_int(1));
    assert_int_equal(verify(mint_obj(h, good_claims(), fx.k1)), AUTH_E_INVALID);
    /* No keys at all: the caller may refetch. */
    assert_int_equal(verify_opts(mint_obj(header_of("RS256", "k1"), good_claims(), fx.k1), &o,
                                 NULL, NULL),
                     AUTH_E_UNKNOWN_KID);
    /* k2's kid on a k1 signature: only k2 is tried. */
    assert_int_equal(verify(mint_obj(header_of("RS256", "k2"), good_claims(), fx.k1)),
                     AUTH_E_INVALID);
    assert_string_equal(why, "bad signature");
}

/* An alg-none token of the good claims (plus header extras), with or
 * without the trailing '.'. */
static char *unsigned_token(json_object *claims, int trailing_dot)
{
    char *input = signing_input("{\"alg\":\"none\",\"typ\":\"JWT\"}",
                                json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN));
    char *tok = malloc(strlen(input) + 2);

    assert_non_null(tok);
    sprintf(tok, "%s%s", input, trailing_dot ? "." : "");
    free(input);
    json_object_put(claims);
    return tok;
}

static void test_verify_alg_none_only_in_emulator_mode(void **state)
{
    lx_principal *p;

    assert_int_equal(verify(unsigned_token(good_claims(), 1)), AUTH_E_INVALID);
    assert_int_equal(verify(unsigned_token(good_claims(), 0)), AUTH_E_INVALID);
    assert_int_equal(verify_mode(unsigned_token(good_claims(), 1), AUTH_MODE_SESSION, NULL),
                     AUTH_E_INVALID);
    assert_int_equal(verify_mode(unsigned_token(good_claims(), 1), AUTH_MODE_OIDC, NULL),
                     AUTH_E_INVALID);

    assert_int_equal(verify_mode(unsigned_token(good_claims(), 1), AUTH_MODE_EMULATOR, &p), AUTH_OK);
    assert_string_equal(p->uid, "u1");
    free(p);
    assert_int_equal(verify_mode(unsigned_token(good_claims(), 0), AUTH_MODE_EMULATOR, NULL),
                     AUTH_E_INVALID);
}

static void test_verify_emulator_still_checks_claims_and_refuses_signatures(void **state)
{
    json_object *c;

    /* A real RS256 token is not an emulator token. */
    assert_int_equal(verify_mode(mint_obj(header_of("RS256", "k1"), good_claims(), fx.k1),
                                 AUTH_MODE_EMULATOR, NULL),
                     AUTH_E_INVALID);
    /* alg none with a signature. */
    assert_int_equal(verify_mode(replace_segment(unsigned_token(good_claims(), 1), 2, "AAAA"),
                                 AUTH_MODE_EMULATOR, NULL),
                     AUTH_E_INVALID);
    c = good_claims();
    set_claim(c, "exp", json_object_new_int64(NOW - L - 1));
    assert_int_equal(verify_mode(unsigned_token(c, 1), AUTH_MODE_EMULATOR, NULL), AUTH_E_EXPIRED);
    c = good_claims();
    set_claim(c, "exp", NULL);
    assert_int_equal(verify_mode(unsigned_token(c, 1), AUTH_MODE_EMULATOR, NULL), AUTH_E_INVALID);
    c = good_claims();
    set_claim(c, "aud", json_object_new_string("other"));
    assert_int_equal(verify_mode(unsigned_token(c, 1), AUTH_MODE_EMULATOR, NULL), AUTH_E_INVALID);
    c = good_claims();
    set_claim(c, "iss", json_object_new_string(SESSION_ISS));
    assert_int_equal(verify_mode(unsigned_token(c, 1), AUTH_MODE_EMULATOR, NULL), AUTH_E_INVALID);
    c = good_claims();
    set_claim(c, "sub", json_object_new_string(""));
    assert_int_equal(verify_mode(unsigned_token(c, 1), AUTH_MODE_EMULATOR, NULL), AUTH_E_INVALID);
    c = good_claims();
    set_claim(c, "aud", json_object_new_string(CUSTOM_AUD));
    assert_int_equal(verify_mode(unsigned_token(c, 1), AUTH_MODE_EMULATOR, NULL), AUTH_E_INVALID);
}

/* The good claims as JSON text (malloc'd). */
static char *good_text(void)
{
    json_object *c = good_claims();
    char *s = dup_str(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));

    json_object_put(c);
    return s;
}

/* HS256 with public key material as the HMAC secret (key confusion). */
static char *hs256_token(const void *secret, size_t secret_len)
{
    char *pay = good_text();
    char *input = signing_input("{\"alg\":\"HS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", pay);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    assert_non_null(HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)input,
                         strlen(input), mac, &n));
    free(pay);
    return join_sig(input, mac, n);
}

static void test_verify_hs256_with_public_key_as_secret(void **state)
{
    assert_int_equal(verify(hs256_token(fx.c1_pem, strlen(fx.c1_pem))), AUTH_E_INVALID);
    assert_string_equal(why, "wrong algorithm");
    assert_int_equal(verify(hs256_token(fx.spki_pem, strlen(fx.spki_pem))), AUTH_E_INVALID);
    assert_int_equal(verify(hs256_token(fx.spki_der, fx.spki_der_len)), AUTH_E_INVALID);
    assert_int_equal(verify_mode(hs256_token(fx.c1_pem, strlen(fx.c1_pem)), AUTH_MODE_OIDC, NULL),
                     AUTH_E_INVALID);
}

static void test_verify_other_algorithms_refused(void **state)
{
    char *pay = good_text();
    char *input;

    assert_int_equal(verify(mint_md("{\"alg\":\"RS384\",\"kid\":\"k1\"}", pay, fx.k1, EVP_sha384(), 0)),
                     AUTH_E_INVALID);
    assert_int_equal(verify(mint_md("{\"alg\":\"PS256\",\"kid\":\"k1\"}", pay, fx.k1, EVP_sha256(), 1)),
                     AUTH_E_INVALID);
    /* A correct RS256 signature under a lower-case alg. */
    assert_int_equal(verify(mint("{\"alg\":\"rs256\",\"kid\":\"k1\"}", pay, fx.k1)), AUTH_E_INVALID);
    assert_int_equal(verify(mint("{\"alg\":\"RS256 \",\"kid\":\"k1\"}", pay, fx.k1)), AUTH_E_INVALID);
    assert_int_equal(verify(mint("{\"kid\":\"k1\"}", pay, fx.k1)), AUTH_E_INVALID);
    assert_int_equal(verify(mint("{\"alg\":[\"RS256\"],\"kid\":\"k1\"}", pay, fx.k1)),
                     AUTH_E_INVALID);
    /* ES256 with an all-zero signature (CVE-2022-21449 shape). */
    {
        unsigned char zero[64] = {0};

        input = signing_input("{\"alg\":\"ES256\",\"kid\":\"k1\"}", pay);
        assert_int_equal(verify(join_sig(input, zero, sizeof(zero))), AUTH_E_INVALID);
        input = signing_input("{\"alg\":\"ES256\",\"kid\":\"e1\"}", pay);
        assert_int_equal(verify_mode(join_sig(input, zero, sizeof(zero)), AUTH_MODE_OIDC, NULL),
                         AUTH_E_INVALID);
    }
    free(pay);
}

static void test_verify_flipped_payload_byte_fails_the_signature(void **state)
{
    char *tok = mint_obj(header_of("RS256", "k1"), good_claims(), fx.k1);
    char *pay = good_text(), *u = strstr(pay, "\"u1\""), *seg;

    u[2] = '2';
    seg = b64(pay, strlen(pay));
    assert_int_equal(verify(replace_segment(tok, 1, seg)), AUTH_E_INVALID);
    assert_string_equal(why, "bad signature");
    free(seg);
    free(pay);
}

static void test_verify_malformed_base64_and_segments(void **state)
{
    char *good = mint_obj(header_of("RS256", "k1"), good_claims(), fx.k1);
    char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');
    char buf[4096];
    size_t hl = (size_t)(d1 - good), pl = (size_t)(d2 - d1 - 1);

    assert_int_equal(verify(dup_str(good)), AUTH_OK);
    /* '=' padding on the payload (its length is not a multiple of 4). */
    snprintf(buf, sizeof(buf), "%.*s.%.*s=.%s", (int)hl, good, (int)pl, d1 + 1, d2 + 1);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    /* The standard alphabet's + and /. */
    snprintf(buf, sizeof(buf), "%s", good);
    buf[hl - 1] = '+';
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    buf[hl - 1] = '/';
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    /* Two and four segments, empty parts. */
    snprintf(buf, sizeof(buf), "%.*s", (int)(d2 - good), good);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    snprintf(buf, sizeof(buf), "%s.", good);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    snprintf(buf, sizeof(buf), "%s.%s", good, d2 + 1);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    snprintf(buf, sizeof(buf), ".%.*s.%s", (int)pl, d1 + 1, d2 + 1);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    snprintf(buf, sizeof(buf), "%.*s..%s", (int)hl, good, d2 + 1);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    assert_int_equal(verify(dup_str("..")), AUTH_E_INVALID);
    assert_int_equal(verify(dup_str("")), AUTH_E_INVALID);
    /* Whitespace: inside a segment, leading, trailing. */
    snprintf(buf, sizeof(buf), "%.*s %s", (int)hl, good, d1);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    snprintf(buf, sizeof(buf), " %s", good);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    snprintf(buf, sizeof(buf), "%s\n", good);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    snprintf(buf, sizeof(buf), "%s\r\n", good);
    assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    /* Non-canonical last character of the signature (unused bits set). */
    snprintf(buf, sizeof(buf), "%s", good);
    {
        char *last = buf + strlen(buf) - 1;
        const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        int v = (int)(strchr(alpha, *last) - alpha);

        *last = alpha[v | 1]; /* 256-byte sig: 342 chars, low 4 bits unused */
        assert_int_equal(verify(dup_str(buf)), AUTH_E_INVALID);
    }
    free(good);
}

static void test_verify_payload_must_be_an_object(void **state)
{
    static const char hdr[] = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
    char deep[2100];

    assert_int_equal(verify(mint(hdr, "[]", fx.k1)), AUTH_E_INVALID);
    assert_string_equal(why, "payload is not a JSON object");
    assert_int_equal(verify(mint(hdr, "\"x\"", fx.k1)), AUTH_E_INVALID);
    assert_int_equal(verify(mint(hdr, "null", fx.k1)), AUTH_E_INVALID);
    assert_int_equal(verify(mint(hdr, "{", fx.k1)), AUTH_E_INVALID);
    memset(deep, '[', 1000);
    deep[1000] = '\0';
    assert_int_equal(verify(mint(hdr, deep, fx.k1)), AUTH_E_INVALID);
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    assert_int_equal(verify(mint(hdr, deep, fx.k1)), AUTH_E_INVALID);
    assert_int_equal(verify(mint("[]", "{}", fx.k1)), AUTH_E_INVALID);
    assert_string_equal(why, "header is not a JSON object");
}

static void test_verify_token_over_16k_refused_before_parsing(void **state)
{
    json_object *c = good_claims();
    char *big = malloc(AUTH_MAX_TOKEN + 2), *tok, *pad = malloc(13000);

    assert_non_null(big);
    assert_non_null(pad);
    memset(pad, 'a', 12999);
    pad[12999] = '\0';
    json_object_object_add(c, "pad", json_object_new_string(pad));
    tok = mint_obj(header_of("RS256", "k1"), c, fx.k1);
    assert_true(strlen(tok) > AUTH_MAX_TOKEN);
    assert_int_equal(verify(tok), AUTH_E_INVALID);
    assert_string_equal(why, "token too long");
    memset(big, 'a', AUTH_MAX_TOKEN + 1);
    big[AUTH_MAX_TOKEN + 1] = '\0';
    assert_int_equal(verify(big), AUTH_E_INVALID);
    assert_string_equal(why, "token too long");
    free(pad);
}

static void test_verify_sub_bytes(void **state)
{
    char s[300];
    lx_principal *p;

    assert_int_equal(verify(good_with("sub", NULL)), AUTH_E_INVALID);
    assert_string_equal(why, "bad subject");
    assert_int_equal(verify(good_with("sub", json_object_new_string(""))), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("sub", json_object_new_int(10))), AUTH_E_INVALID);
    assert_int_equal(verify(good_with("sub", json_object_new_string_len("u\0001", 3))),
                     AUTH_E_INVALID);
    memset(s, 'x', 129);
    s[129] = '\0';
    assert_int_equal(verify(good_with("sub", json_object_new_string(s))), AUTH_E_INVALID);
    s[128] = '\0';
    assert_int_equal(verify_mode(good_with("sub", json_object_new_string(s)), AUTH_MODE_FIREBASE, &p),
                     AUTH_OK);
    assert_string_equal(p->uid, s);
    free(p);
    /* Bytes, as firebase-admin-go counts: 64 x "é" is 128 bytes and passes
     * (PY and NODE would count 64); 65 x "é" is 130 bytes and fails. */
    s[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(s, "\xc3\xa9");
    assert_int_equal(verify_mode(good_with("sub", json_object_new_string(s)), AUTH_MODE_FIREBASE, &p),
                     AUTH_OK);
    assert_int_equal(strlen(p->uid), 128);
    free(p);
    strcat(s, "\xc3\xa9");
    assert_int_equal(verify(good_with("sub", json_object_new_string(s))), AUTH_E_INVALID);
}

static void test_verify_custom_token_refused(void **state)
{
    json_object *c = good_claims();

    set_claim(c, "aud", json_object_new_string(CUSTOM_AUD));
    set_claim(c, "iss", json_object_new_string("sa@p.iam.gserviceaccount.com"));
    assert_int_equal(verify(mint_obj(header_of("RS256", NULL), c, fx.k1)), AUTH_E_INVALID);
    assert_string_equal(why, "custom token, not an ID token");
    assert_int_equal(verify(good_with("aud", json_object_new_string(CUSTOM_AUD))), AUTH_E_INVALID);
    assert_string_equal(why, "custom token, not an ID token");
}

static char *session_cookie(void)
{
    json_object *c = good_claims();

    set_claim(c, "iss", json_object_new_string(SESSION_ISS));
    return mint_obj(header_of("RS256", "ks"), c, fx.ks);
}

static void test_verify_id_token_and_session_cookie_not_interchangeable(void **state)
{
    assert_int_equal(verify_mode(session_cookie(), AUTH_MODE_SESSION, NULL), AUTH_OK);
    assert_int_equal(verify_mode(mint_obj(header_of("RS256", "k1"), good_claims(), fx.k1),
                                 AUTH_MODE_SESSION, NULL),
                     AUTH_E_INVALID);
    assert_string_equal(why, "wrong issuer");
    assert_int_equal(verify(session_cookie()), AUTH_E_INVALID);
    assert_string_equal(why, "wrong issuer");
    /* Even with the right iss, the key sets are separate. */
    assert_int_equal(verify_mode(good_with("iss", json_object_new_string(SESSION_ISS)),
                                 AUTH_MODE_SESSION, NULL),
                     AUTH_E_UNKNOWN_KID);
}

static void test_verify_tampered_and_expired_reads_expired(void **state)
{
    char *tok = good_with("exp", json_object_new_int64(NOW - L - 100));
    char *seg;
    json_object *c = good_claims();

    set_claim(c, "exp", json_object_new_int64(NOW - L - 100));
    set_claim(c, "sub", json_object_new_string("admin"));
    seg = b64(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN),
              strlen(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN)));
    json_object_put(c);
    assert_int_equal(verify(replace_segment(tok, 1, seg)), AUTH_E_EXPIRED);
    free(seg);
}

static void test_verify_tenant(void **state)
{
    auth_verify_opts o = opts_for(AUTH_MODE_FIREBASE);
    json_object *c;
    lx_principal *p;

    o.tenant = "t1";
    c = good_claims();
    json_object_object_add(json_object_object_get(c, "firebase"), "tenant",
                           json_object_new_string("t2"));
    assert_int_equal(verify_opts(mint_obj(header_of("RS256", "k1"), c, fx.k1), &o, fx.id_keys, NULL),
                     AUTH_E_TENANT);
    assert_string_equal(why, "tenant mismatch");
    assert_int_equal(verify_opts(mint_obj(header_of("RS256", "k1"), good_claims(), fx.k1), &o,
                                 fx.id_keys, NULL),
                     AUTH_E_TENANT);
    c = good_claims();
    json_object_object_add(c, "firebase", json_object_new_string("t1"));
    assert_int_equal(verify_opts(mint_obj(header_of("RS256", "k1"), c, fx.k1), &o, fx.id_keys, NULL),
                     AUTH_E_TENANT);
    c = good_claims();
    json_object_object_add(json_object_object_get(c, "firebase"), "tenant",
                           json_object_new_string("t1"));
    assert_int_equal(verify_opts(mint_obj(header_of("RS256", "k1"), c, fx.k1), &o, fx.id_keys, &p),
                     AUTH_OK);
    assert_string_equal(p->tenant, "t1");
    free(p);
    /* Project-level verification accepts tenant tokens. */
    c = good_claims();
    json_object_object_add(json_object_object_get(c, "firebase"), "tenant",
                           json_object_new_string("t2"));
    assert_int_equal(verify_mode(mint_obj(header_of("RS256", "k1"), c, fx.k1), AUTH_MODE_FIREBASE,
                                 &p),
                     AUTH_OK);
    assert_string_equal(p->tenant, "t2");
    free(p);
}

static void test_verify_ignores_key_urls_in_the_header(void **state)
{
    json_object *h = header_of("RS256", "k1"), *jwk;

    json_object_object_add(h, "jku", json_object_new_string("https://attacker.example/jwks"));
    json_object_object_add(h, "x5u", json_object_new_string("https://attacker.example/c.pem"));
    assert_int_equal(verify(mint_obj(h, good_claims(), fx.k1)), AUTH_OK);
    /* The attacker's own key embedded as jwk / x5c is never used. */
    h = header_of("RS256", "k1");
    jwk = jwk_of(fx.attacker, "k1");
    json_object_object_add(h, "jwk", jwk);
    json_object_object_add(h, "x5c", json_object_new_array());
    json_object_object_add(h, "jku", json_object_new_string("https://attacker.example/jwks"));
    assert_int_equal(verify(mint_obj(h, good_claims(), fx.attacker)), AUTH_E_INVALID);
    assert_string_equal(why, "bad signature");
}

static void test_verify_crit_header_refused(void **state)
{
    json_object *h = header_of("RS256", "k1"), *crit = json_object_new_array();

    json_object_array_add(crit, json_object_new_string("exp"));
    json_object_object_add(h, "crit", crit);
    assert_int_equal(verify(mint_obj(h, good_claims(), fx.k1)), AUTH_E_INVALID);
    assert_string_equal(why, "critical header extension");
}

static void test_verify_hostile_kids(void **state)
{
    char *kid = malloc(10241);
    json_object *h = json_object_new_object();

    assert_non_null(kid);
    json_object_object_add(h, "alg", json_object_new_string("RS256"));
    json_object_object_add(h, "kid", json_object_new_string_len("k1\0x", 4));
    assert_int_equal(verify(mint_obj(h, good_claims(), fx.k1)), AUTH_E_INVALID);
    h = json_object_new_object();
    json_object_object_add(h, "alg", json_object_new_string("RS256"));
    json_object_object_add(h, "kid", json_object_new_string_len("k1\0", 3));
    assert_int_equal(verify(mint_obj(h, good_claims(), fx.k1)), AUTH_E_INVALID);
    assert_int_equal(verify(mint_obj(header_of("RS256", "../../../../etc/passwd"), good_claims(),
                                     fx.k1)),
                     AUTH_E_UNKNOWN_KID);
    assert_int_equal(verify(mint_obj(header_of("RS256", "k1' OR '1'='1"), good_claims(), fx.k1)),
                     AUTH_E_UNKNOWN_KID);
    assert_int_equal(verify(mint_obj(header_of("RS256", "k"), good_claims(), fx.k1)),
                     AUTH_E_UNKNOWN_KID);
    assert_int_equal(verify(mint_obj(header_of("RS256", "k1 "), good_claims(), fx.k1)),
                     AUTH_E_UNKNOWN_KID);
    memset(kid, 'k', 10240);
    kid[10240] = '\0';
    assert_int_equal(verify(mint_obj(header_of("RS256", kid), good_claims(), fx.k1)),
                     AUTH_E_UNKNOWN_KID);
    assert_null(strstr(why, "kkkk"));
    free(kid);
}

static void test_verify_duplicate_keys_checked_and_exposed_the_same(void **state)
{
    static const char hdr[] = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
    char pay[1024];
    lx_principal *p;

    /* json-c keeps the last duplicate: it is both checked and exposed. */
    snprintf(pay, sizeof(pay),
             "{\"sub\":\"evil\",\"iss\":\"%s\",\"aud\":\"P\",\"iat\":%lld,\"auth_time\":%lld,"
             "\"exp\":%lld,\"admin\":false,\"sub\":\"u1\",\"admin\":true}",
             ISS, (long long)(NOW - 60), (long long)(NOW - 60), (long long)(NOW + 600));
    assert_int_equal(verify_mode(mint(hdr, pay, fx.k1), AUTH_MODE_FIREBASE, &p), AUTH_OK);
    assert_string_equal(p->uid, "u1");
    assert_int_equal(p->is_admin, 1);
    assert_string_equal(p->claims_json, "{\"admin\":true}");
    free(p);
    snprintf(pay, sizeof(pay),
             "{\"aud\":\"P\",\"sub\":\"u1\",\"iss\":\"%s\",\"iat\":%lld,\"auth_time\":%lld,"
             "\"exp\":%lld,\"aud\":\"other\"}",
             ISS, (long long)(NOW - 60), (long long)(NOW - 60), (long long)(NOW + 600));
    assert_int_equal(verify(mint(hdr, pay, fx.k1)), AUTH_E_INVALID);
    assert_string_equal(why, "wrong audience");
    snprintf(pay, sizeof(pay),
             "{\"aud\":\"P\",\"sub\":\"u1\",\"iss\":\"%s\",\"iat\":%lld,\"auth_time\":%lld,"
             "\"exp\":%lld,\"exp\":%lld}",
             ISS, (long long)(NOW - 60), (long long)(NOW - 60), (long long)(NOW + 600),
             (long long)(NOW - 600));
    assert_int_equal(verify(mint(hdr, pay, fx.k1)), AUTH_E_EXPIRED);
    assert_int_equal(verify(mint("{\"alg\":\"none\",\"kid\":\"k1\",\"alg\":\"RS256\"}",
                                 "{\"aud\":\"P\"}", fx.k1)),
                     AUTH_E_INVALID);
    assert_string_equal(why, "wrong issuer");
}

static void test_verify_signature_length_must_match_the_key(void **state)
{
    char *tok = mint_obj(header_of("RS256", "k1"), good_claims(), fx.k1), *seg;
    size_t n;
    unsigned char *sig = sig_of(tok, &n), longer[257];

    assert_int_equal(n, 256);
    /* A leading zero byte added or a byte dropped. */
    longer[0] = 0;
    memcpy(longer + 1, sig, 256);
    seg = b64(longer, 257);
    tok = replace_segment(tok, 2, seg);
    free(seg);
    assert_int_equal(verify(dup_str(tok)), AUTH_E_INVALID);
    seg = b64(sig + 1, 255);
    tok = replace_segment(tok, 2, seg);
    free(seg);
    assert_int_equal(verify(tok), AUTH_E_INVALID);
    free(sig);
}

/* A raw RSA private operation on a 256-byte block: signatures with a
 * crafted encoding, for a verifier that must parse PKCS#1 strictly. */
static char *raw_rsa_token(const unsigned char *block)
{
    char *pay = good_text();
    char *input = signing_input("{\"alg\":\"RS256\",\"kid\":\"k1\"}", pay);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(fx.k1, NULL);
    unsigned char sig[256];
    size_t n = sizeof(sig);

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
    assert_int_equal(EVP_PKEY_sign(ctx, sig, &n, block, 256), 1);
    EVP_PKEY_CTX_free(ctx);
    free(pay);
    return join_sig(input, sig, n);
}

/* 00 01 FF.. 00 DigestInfo(SHA-256) H, with knobs to break it. */
static void pkcs1_block(unsigned char *b, const unsigned char *hash, int variant)
{
    static const unsigned char prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
                                           0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
                                           0x20};
    size_t t = sizeof(prefix) + 32, ps = 256 - 3 - t;

    b[0] = 0x00;
    b[1] = 0x01;
    memset(b + 2, 0xff, ps);
    b[2 + ps] = 0x00;
    memcpy(b + 3 + ps, prefix, sizeof(prefix));
    memcpy(b + 3 + ps + sizeof(prefix), hash, 32);
    switch (variant) {
    case 1: /* Bleichenbacher'06: short padding, hash, then garbage */
        memmove(b + 3 + 8, b + 3 + ps, t);
        b[2 + 8] = 0x00;
        memset(b + 3 + 8 + t, 0x5a, 256 - (3 + 8 + t));
        break;
    case 2: /* block type 2 */
        b[1] = 0x02;
        break;
    case 3: /* a non-FF padding byte */
        b[10] = 0xfe;
        break;
    case 4: /* DigestInfo naming SHA-1 */
        b[3 + ps + 14] = 0x05;
        break;
    case 5: /* DigestInfo without the NULL parameters, hash kept in place */
        b[3 + ps + 15] = 0x04;
        b[3 + ps + 16] = 0x20;
        break;
    default:
        break;
    }
}

static void test_verify_pkcs1_padding_forgeries_refused(void **state)
{
    unsigned char block[256], hash[32];
    char *pay = good_text();
    char *input = signing_input("{\"alg\":\"RS256\",\"kid\":\"k1\"}", pay);

    SHA256((const unsigned char *)input, strlen(input), hash);
    free(input);
    free(pay);
    /* The well-formed block verifies: the harness is right. */
    pkcs1_block(block, hash, 0);
    assert_int_equal(verify(raw_rsa_token(block)), AUTH_OK);
    for (int v = 1; v <= 5; v++) {
        pkcs1_block(block, hash, v);
        assert_int_equal(verify(raw_rsa_token(block)), AUTH_E_INVALID);
        assert_string_equal(why, "bad signature");
    }
}

static void test_verify_oidc_rs256_and_es256(void **state)
{
    auth_verify_opts o = opts_for(AUTH_MODE_OIDC);
    json_object *c;
    lx_principal *p;
    char *tok, *seg;
    size_t n;
    unsigned char *sig;

    o.issuer = "https://accounts.google.com";
    o.audience = "client-1.apps.googleusercontent.com";
#define OIDC_CLAIMS()                                                                              \
    (c = good_claims(), set_claim(c, "iss", json_object_new_string(o.issuer)),                     \
     set_claim(c, "aud", json_object_new_string(o.audience)), set_claim(c, "auth_time", NULL), c)
    assert_int_equal(verify_opts(mint_obj(header_of("RS256", "r1"), OIDC_CLAIMS(), fx.k1), &o,
                                 fx.oidc_keys, &p),
                     AUTH_OK);
    assert_string_equal(p->issuer, "https://accounts.google.com");
    assert_int_equal(p->auth_time, 0);
    free(p);
    assert_int_equal(verify_opts(mint_obj(header_of("ES256", "e1"), OIDC_CLAIMS(), fx.ec), &o,
                                 fx.oidc_keys, &p),
                     AUTH_OK);
    assert_string_equal(p->uid, "u1");
    free(p);
    /* Bad: a flipped signature bit, a DER signature, alg/key mismatches,
     * a wrong audience, an EC signature from another key. */
    tok = mint_obj(header_of("ES256", "e1"), OIDC_CLAIMS(), fx.ec);
    sig = sig_of(tok, &n);
    sig[5] ^= 1;
    seg = b64(sig, n);
    assert_int_equal(verify_opts(replace_segment(tok, 2, seg), &o, fx.oidc_keys, NULL),
                     AUTH_E_INVALID);
    free(seg);
    free(sig);
    {
        char *pay = dup_str(json_object_to_json_string_ext(OIDC_CLAIMS(), JSON_C_TO_STRING_PLAIN));
        char *input = signing_input("{\"alg\":\"ES256\",\"kid\":\"e1\"}", pay);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned char der[80];
        size_t dn = sizeof(der);

        json_object_put(c);
        assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, fx.ec), 1);
        assert_int_equal(EVP_DigestSign(md, der, &dn, (unsigned char *)input, strlen(input)), 1);
        EVP_MD_CTX_free(md);
        assert_int_equal(verify_opts(join_sig(input, der, dn), &o, fx.oidc_keys, NULL),
                         AUTH_E_INVALID);
        free(pay);
    }
    assert_int_equal(verify_opts(mint_obj(header_of("ES256", "r1"), OIDC_CLAIMS(), fx.ec), &o,
                                 fx.oidc_keys, NULL),
                     AUTH_E_INVALID);
    assert_int_equal(verify_opts(mint_obj(header_of("RS256", "e1"), OIDC_CLAIMS(), fx.k1), &o,
                                 fx.oidc_keys, NULL),
                     AUTH_E_INVALID);
    assert_int_equal(verify_opts(mint_obj(header_of("ES384", "e1"), OIDC_CLAIMS(), fx.ec), &o,
                                 fx.oidc_keys, NULL),
                     AUTH_E_INVALID);
    assert_int_equal(verify_opts(mint_obj(header_of("RS256", "r1"), OIDC_CLAIMS(), fx.k2), &o,
                                 fx.oidc_keys, NULL),
                     AUTH_E_INVALID);
    c = OIDC_CLAIMS();
    set_claim(c, "aud", json_object_new_string(PROJECT));
    assert_int_equal(verify_opts(mint_obj(header_of("ES256", "e1"), c, fx.ec), &o, fx.oidc_keys,
                                 NULL),
                     AUTH_E_INVALID);
    /* auth_time is optional in OIDC mode but still checked when present. */
    c = OIDC_CLAIMS();
    set_claim(c, "auth_time", json_object_new_int64(NOW + L + 1));
    assert_int_equal(verify_opts(mint_obj(header_of("ES256", "e1"), c, fx.ec), &o, fx.oidc_keys,
                                 NULL),
                     AUTH_E_INVALID);
    c = OIDC_CLAIMS();
    set_claim(c, "auth_time", json_object_new_string("x"));
    assert_int_equal(verify_opts(mint_obj(header_of("ES256", "e1"), c, fx.ec), &o, fx.oidc_keys,
                                 NULL),
                     AUTH_E_INVALID);
    assert_int_equal(verify_opts(mint_obj(header_of("ES256", NULL), OIDC_CLAIMS(), fx.ec), &o,
                                 fx.oidc_keys, NULL),
                     AUTH_E_INVALID);
#undef OIDC_CLAIMS
}

static void test_verify_claims_json_and_is_admin(void **state)
{
    json_object *c = good_claims(), *nested = json_object_new_object(), *parsed, *v;
    lx_principal *p;

    json_object_object_add(nested, "a", json_object_new_int(1));
    json_object_object_add(c, "admin", json_object_new_boolean(1));
    json_object_object_add(c, "role", json_object_new_string("editor/x"));
    json_object_object_add(c, "org", nested);
    json_object_object_add(c, "nonce", json_object_new_string("n"));
    json_object_object_add(c, "jti", json_object_new_string("j"));
    json_object_object_add(c, "name", json_object_new_string("Ada"));
    assert_int_equal(verify_mode(mint_obj(header_of("RS256", "k1"), c, fx.k1), AUTH_MODE_FIREBASE,
                                 &p),
                     AUTH_OK);
    assert_int_equal(p->is_admin, 1);
    parsed = json_tokener_parse(p->claims_json);
    assert_non_null(parsed);
    assert_int_equal(json_object_object_length(parsed), 3);
    assert_true(json_object_object_get_ex(parsed, "admin", &v) && json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(parsed, "role", &v));
    assert_string_equal(json_object_get_string(v), "editor/x");
    assert_true(json_object_object_get_ex(parsed, "org", &v));
    assert_false(json_object_object_get_ex(parsed, "sub", NULL));
    assert_false(json_object_object_get_ex(parsed, "firebase", NULL));
    assert_non_null(strstr(p->claims_json, "editor/x"));
    json_object_put(parsed);
    free(p);

    assert_int_equal(verify_mode(good_with("admin", json_object_new_string("true")),
                                 AUTH_MODE_FIREBASE, &p),
                     AUTH_OK);
    assert_int_equal(p->is_admin, 0);
    free(p);
    assert_int_equal(verify_mode(good_with("admin", json_object_new_int(1)), AUTH_MODE_FIREBASE,
                                 &p),
                     AUTH_OK);
    assert_int_equal(p->is_admin, 0);
    free(p);
    assert_int_equal(verify_mode(good_with("email_verified", json_object_new_string("true")),
                                 AUTH_MODE_FIREBASE, &p),
                     AUTH_OK);
    assert_int_equal(p->email_verified, 0);
    free(p);
}

/* claims_json is written straight from the payload (no json-c object in
 * between): it must read byte for byte as json-c's own serialisation of the
 * custom claims, escapes, numbers, nesting, duplicates and order included. */
static void test_verify_claims_json_matches_json_c(void **state)
{
    static const char *const reserved[] = {
        "acr",   "amr",     "at_hash", "aud",      "auth_time",      "azp",  "cnf",
        "c_hash", "exp",    "iat",     "iss",      "jti",            "nbf",  "nonce",
        "sub",   "firebase", "uid",    "user_id",  "email",          "email_verified",
        "name",  "picture", "phone_number", NULL};
    static const char *const customs[] = {
        "",
        ",\"admin\":true",
        ",\"a\\\"b\":1,\"c\\\\d\":\"x/y\",\"sl/ash\":{\"n\":{\"m\":[true,false,null]}}",
        ",\"e\\u0001f\":[1,2.50,-0.0,1e3,1E-2],\"tab\\tkey\":null,\"\\b\\f\\n\\r\\u001f\":\"\\u007f\"",
        ",\"\\u00fcn\\u00ef\":\"\\u00e9\\ud83d\\ude00\",\"\":\"\",\"\\u002f\":\"\\/\"",
        ",\"big\":12345678901234567890,\"neg\":-9223372036854775808,\"dbl\":1.0000000000000002",
        ",\"dup\":1,\"mid\":\"m\",\"dup\":{\"x\":[]},\"admin\":false,\"role\":\"editor\"",
        ",\"\\u00e9\\u0000x\":1", /* json-c keeps a key up to its NUL */
    };

    /* Claims longer than the verifier's stack buffers (claims_json and a
     * decoded segment). */
    static char big[6000];
    size_t n_customs = sizeof(customs) / sizeof(customs[0]);

    memcpy(big, ",\"long\":\"", 9);
    memset(big + 9, 'x', 5000);
    strcpy(big + 5009, "\",\"k\\n\":[1,2]");
    for (size_t i = 0; i <= n_customs; i++) {
        char pay[8192];
        json_object *parsed, *want;
        lx_principal *p;

        snprintf(pay, sizeof(pay),
                 "{\"iss\":\"" ISS "\",\"aud\":\"" PROJECT "\",\"auth_time\":%lld,"
                 "\"sub\":\"u1\",\"iat\":%lld,\"exp\":%lld,\"name\":\"Ada\","
                 "\"firebase\":{\"sign_in_provider\":\"password\"}%s}",
                 (long long)(NOW - 60), (long long)(NOW - 60), (long long)(NOW + 3540),
                 i < n_customs ? customs[i] : big);
        parsed = json_tokener_parse(pay);
        assert_non_null(parsed);
        want = json_object_new_object();
        json_object_object_foreach(parsed, key, val)
        {
            int is_reserved = 0;

            for (size_t r = 0; reserved[r] != NULL; r++)
                is_reserved |= strcmp(reserved[r], key) == 0;
            if (!is_reserved)
                json_object_object_add(want, key, json_object_get(val));
        }
        assert_int_equal(verify_mode(mint("{\"alg\":\"RS256\",\"kid\":\"k1\"}", pay, fx.k1),
                                     AUTH_MODE_FIREBASE, &p),
                         AUTH_OK);
        assert_string_equal(p->claims_json,
                            json_object_to_json_string_ext(
                                want, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        assert_int_equal(p->is_admin, i == 1);
        free(p);
        json_object_put(want);
        json_object_put(parsed);
    }
}

static void test_verify_nul_in_exposed_claims_refused(void **state)
{
    assert_int_equal(verify(good_with("email", json_object_new_string_len("a@b.c\0.evil", 11))),
                     AUTH_E_INVALID);
    assert_string_equal(why, "NUL byte in a claim");
    assert_int_equal(verify(good_with("name", json_object_new_string_len("a\0b", 3))),
                     AUTH_E_INVALID);
    /* A non-string email is not exposed. */
    {
        lx_principal *p;

        assert_int_equal(verify_mode(good_with("email", json_object_new_int(3)),
                                     AUTH_MODE_FIREBASE, &p),
                         AUTH_OK);
        assert_null(p->email);
        free(p);
    }
}

static void test_verify_leeway_is_clamped(void **state)
{
    auth_verify_opts o = opts_for(AUTH_MODE_FIREBASE);

    o.leeway_s = 100000;
    assert_int_equal(verify_opts(good_with("exp", json_object_new_int64(NOW - 301)), &o, fx.id_keys,
                                 NULL),
                     AUTH_E_EXPIRED);
    assert_int_equal(verify_opts(good_with("exp", json_object_new_int64(NOW - 300)), &o, fx.id_keys,
                                 NULL),
                     AUTH_OK);
    o.leeway_s = -5;
    assert_int_equal(verify_opts(good_with("exp", json_object_new_int64(NOW - 1)), &o, fx.id_keys,
                                 NULL),
                     AUTH_E_EXPIRED);
    assert_int_equal(verify_opts(good_with("exp", json_object_new_int64(NOW)), &o, fx.id_keys,
                                 NULL),
                     AUTH_OK);
}

static void test_verify_bad_arguments(void **state)
{
    auth_verify_opts o = opts_for(AUTH_MODE_FIREBASE);
    lx_principal *p = (lx_principal *)1;
    char *tok = mint_obj(header_of("RS256", "k1"), good_claims(), fx.k1);

    assert_int_equal(auth_verify(NULL, 0, fx.id_keys, &o, &p, why, sizeof(why)), AUTH_E_INVALID);
    assert_null(p);
    assert_int_equal(auth_verify(tok, strlen(tok), fx.id_keys, NULL, &p, why, sizeof(why)),
                     AUTH_E_INVALID);
    o.audience = NULL;
    assert_int_equal(auth_verify(tok, strlen(tok), fx.id_keys, &o, &p, why, sizeof(why)),
                     AUTH_E_INVALID);
    o = opts_for(AUTH_MODE_FIREBASE);
    /* A length shorter than the string: only len bytes count. */
    assert_int_equal(auth_verify(tok, strlen(tok) - 1, fx.id_keys, &o, &p, why, sizeof(why)),
                     AUTH_E_INVALID);
    assert_int_equal(auth_verify(tok, strlen(tok), fx.id_keys, &o, &p, NULL, 0), AUTH_OK);
    free(p);
    free(tok);
}

static void test_verify_reasons_never_quote_the_token(void **state)
{
    char *toks[4];

    toks[0] = mint_obj(header_of("RS256", "SECRETKID"), good_claims(), fx.k1);
    toks[1] = good_with("aud", json_object_new_string("SECRETAUD"));
    toks[2] = good_with("iss", json_object_new_string("SECRETISS"));
    toks[3] = good_with("sub", json_object_new_string(""));
    for (int i = 0; i < 4; i++) {
        char *seg = dup_str(strchr(toks[i], '.') + 1);

        seg[10] = '\0';
        assert_int_not_equal(verify(toks[i]), AUTH_OK);
        assert_null(strstr(why, "SECRET"));
        assert_null(strstr(why, seg));
        free(seg);
    }
}

static void test_token_kid(void **state)
{
    char buf[16];
    char *tok = mint_obj(header_of("RS256", "k1"), good_claims(), fx.k1);

    assert_int_equal(auth_token_kid(tok, strlen(tok), buf, sizeof(buf)), 0);
    assert_string_equal(buf, "k1");
    assert_int_equal(auth_token_kid(tok, strlen(tok), buf, 2), -1);
    assert_int_equal(auth_token_kid(tok, strlen(tok), buf, 3), 0);
    free(tok);
    tok = mint_obj(header_of("RS256", NULL), good_claims(), fx.k1);
    assert_int_equal(auth_token_kid(tok, strlen(tok), buf, sizeof(buf)), -1);
    free(tok);
    assert_int_equal(auth_token_kid("x.y.z", 5, buf, sizeof(buf)), -1);
    assert_int_equal(auth_token_kid(NULL, 0, buf, sizeof(buf)), -1);
}

static char *private_pem(EVP_PKEY *key, int traditional)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s;

    assert_non_null(bio);
    if (traditional)
        assert_int_equal(PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL),
                         1);
    else
        assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    s = bio_string(bio);
    BIO_free(bio);
    return s;
}

static void test_sign_rs256_round_trip(void **state)
{
    auth_verify_opts o = opts_for(AUTH_MODE_OIDC);
    char pay[512], *jwt, *pem, err[128];
    lx_principal *p;

    o.issuer = "sa@p.iam.gserviceaccount.com";
    o.audience = "https://oauth2.googleapis.com/token";
    snprintf(pay, sizeof(pay),
             "{\"iss\":\"%s\",\"sub\":\"%s\",\"scope\":\"https://www.googleapis.com/auth/"
             "cloud-platform\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
             o.issuer, o.issuer, o.audience, (long long)NOW, (long long)(NOW + 3600));
    for (int trad = 0; trad <= 1; trad++) {
        pem = private_pem(fx.k1, trad);
        assert_int_equal(auth_sign_rs256(pem, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"r1\"}",
                                         pay, &jwt, err, sizeof(err)),
                         0);
        assert_int_equal(verify_opts(jwt, &o, fx.oidc_keys, &p), AUTH_OK);
        assert_non_null(strstr(p->claims_json, "cloud-platform"));
        free(p);
        free(pem);
    }
    /* Not a key, an EC key, a 1024-bit key: refused without quoting. */
    assert_int_equal(auth_sign_rs256("-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n",
                                     "{}", "{}", &jwt, err, sizeof(err)),
                     -1);
    assert_null(jwt);
    assert_null(strstr(err, "SECRET"));
    pem = private_pem(fx.ec, 0);
    assert_int_equal(auth_sign_rs256(pem, "{}", "{}", &jwt, err, sizeof(err)), -1);
    free(pem);
    {
        EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);

        pem = private_pem(weak, 0);
        assert_int_equal(auth_sign_rs256(pem, "{}", "{}", &jwt, err, sizeof(err)), -1);
        free(pem);
        EVP_PKEY_free(weak);
    }
    assert_int_equal(auth_sign_rs256(NULL, "{}", "{}", &jwt, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_good_token_fills_the_principal),
        cmocka_unit_test(test_verify_minimal_token_leaves_optional_fields_null),
        cmocka_unit_test(test_verify_exp_with_leeway),
        cmocka_unit_test(test_verify_iat_and_auth_time_in_the_future),
        cmocka_unit_test(test_verify_time_claims_must_be_integers),
        cmocka_unit_test(test_verify_audience_is_one_exact_string),
        cmocka_unit_test(test_verify_issuer_is_exact),
        cmocka_unit_test(test_verify_kid_unknown_missing_or_empty),
        cmocka_unit_test(test_verify_alg_none_only_in_emulator_mode),
        cmocka_unit_test(test_verify_emulator_still_checks_claims_and_refuses_signatures),
        cmocka_unit_test(test_verify_hs256_with_public_key_as_secret),
        cmocka_unit_test(test_verify_other_algorithms_refused),
        cmocka_unit_test(test_verify_flipped_payload_byte_fails_the_signature),
        cmocka_unit_test(test_verify_malformed_base64_and_segments),
        cmocka_unit_test(test_verify_payload_must_be_an_object),
        cmocka_unit_test(test_verify_token_over_16k_refused_before_parsing),
        cmocka_unit_test(test_verify_sub_bytes),
        cmocka_unit_test(test_verify_custom_token_refused),
        cmocka_unit_test(test_verify_id_token_and_session_cookie_not_interchangeable),
        cmocka_unit_test(test_verify_tampered_and_expired_reads_expired),
        cmocka_unit_test(test_verify_tenant),
        cmocka_unit_test(test_verify_ignores_key_urls_in_the_header),
        cmocka_unit_test(test_verify_crit_header_refused),
        cmocka_unit_test(test_verify_hostile_kids),
        cmocka_unit_test(test_verify_duplicate_keys_checked_and_exposed_the_same),
        cmocka_unit_test(test_verify_signature_length_must_match_the_key),
        cmocka_unit_test(test_verify_pkcs1_padding_forgeries_refused),
        cmocka_unit_test(test_verify_oidc_rs256_and_es256),
        cmocka_unit_test(test_verify_claims_json_and_is_admin),
        cmocka_unit_test(test_verify_claims_json_matches_json_c),
        cmocka_unit_test(test_verify_nul_in_exposed_claims_refused),
        cmocka_unit_test(test_verify_leeway_is_clamped),
        cmocka_unit_test(test_verify_bad_arguments),
        cmocka_unit_test(test_verify_reasons_never_quote_the_token),
        cmocka_unit_test(test_token_kid),
        cmocka_unit_test(test_sign_rs256_round_trip),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
