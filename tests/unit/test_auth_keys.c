/*
 * Key sets of plugins/auth/keys.c: Google's x509 PEM map, JWK sets, and
 * the Cache-Control lifetime. Keys and certificates are generated here.
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "jwt.h"
#include "keys.h"

static struct {
    EVP_PKEY *k1, *k2, *ec, *weak;
    char *c1, *c2, *cec, *cweak; /* self-signed certificate PEMs */
} fx;

static char why[128];

static char *dup(const char *s)
{
    char *d = malloc(strlen(s) + 1);

    assert_non_null(d);
    return strcpy(d, s);
}

static char *self_signed_pem(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *pem;
    long n;

    if (x == NULL || bio == NULL)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    if (X509_sign(x, key, EVP_sha256()) <= 0 || PEM_write_bio_X509(bio, x) != 1)
        return NULL;
    n = BIO_get_mem_data(bio, &data);
    pem = malloc((size_t)n + 1);
    if (pem != NULL) {
        memcpy(pem, data, (size_t)n);
        pem[n] = '\0';
    }
    BIO_free(bio);
    X509_free(x);
    return pem;
}

static int setup(void **state)
{
    fx.k1 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fx.k2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fx.weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    fx.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!fx.k1 || !fx.k2 || !fx.weak || !fx.ec)
        return -1;
    fx.c1 = self_signed_pem(fx.k1);
    fx.c2 = self_signed_pem(fx.k2);
    fx.cec = self_signed_pem(fx.ec);
    fx.cweak = self_signed_pem(fx.weak);
    return fx.c1 && fx.c2 && fx.cec && fx.cweak ? 0 : -1;
}

static int teardown(void **state)
{
    EVP_PKEY_free(fx.k1);
    EVP_PKEY_free(fx.k2);
    EVP_PKEY_free(fx.ec);
    EVP_PKEY_free(fx.weak);
    free(fx.c1);
    free(fx.c2);
    free(fx.cec);
    free(fx.cweak);
    return 0;
}

/* {"kid": pem, ...} from NULL-terminated pairs; the text is malloc'd. */
static char *pem_map(const char *kid, const char *pem, ...)
{
    json_object *m = json_object_new_object();
    va_list ap;
    char *s;

    va_start(ap, pem);
    while (kid != NULL) {
        json_object_object_add(m, kid, json_object_new_string(pem));
        kid = va_arg(ap, const char *);
        if (kid != NULL)
            pem = va_arg(ap, const char *);
    }
    va_end(ap);
    s = dup(json_object_to_json_string(m));
    json_object_put(m);
    return s;
}

static int from_map(char *json, auth_keyset **ks)
{
    int rc = auth_keyset_from_x509_map(json, strlen(json), ks, why, sizeof(why));

    free(json);
    if (rc == 0)
        assert_non_null(*ks);
    else
        assert_null(*ks);
    return rc;
}

/* ---------------------------------------------------------------- PEM map */

static void test_keys_pem_map_good(void **state)
{
    auth_keyset *ks;
    EVP_PKEY *k;

    assert_int_equal(from_map(pem_map("k1", fx.c1, "k2", fx.c2, NULL), &ks), 0);
    assert_int_equal(auth_keyset_count(ks), 2);
    k = auth_keyset_find(ks, "k1", 2);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, fx.k1), 1);
    k = auth_keyset_find(ks, "k2", 2);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, fx.k2), 1);
    /* Exact bytes only. */
    assert_null(auth_keyset_find(ks, "k3", 2));
    assert_null(auth_keyset_find(ks, "k", 1));
    assert_null(auth_keyset_find(ks, "k1", 3));
    assert_null(auth_keyset_find(ks, "K1", 2));
    assert_null(auth_keyset_find(ks, "", 0));
    assert_null(auth_keyset_find(ks, NULL, 0));
    assert_null(auth_keyset_find(NULL, "k1", 2));
    assert_int_equal(auth_keyset_count(NULL), 0);
    auth_keyset_free(ks);
    auth_keyset_free(NULL);
}

static void test_keys_pem_map_one_bad_entry_fails_the_set(void **state)
{
    auth_keyset *ks;
    char *garbled = malloc(strlen(fx.c2) + 64);

    /* A certificate cut short: its DER no longer parses. */
    assert_non_null(garbled);
    sprintf(garbled, "%.200s\n-----END CERTIFICATE-----\n", fx.c2);
    assert_int_equal(from_map(pem_map("k1", fx.c1, "k2", "not a certificate", NULL), &ks), -1);
    assert_string_equal(why, "bad certificate");
    assert_int_equal(from_map(pem_map("k1", fx.c1, "k2", garbled, NULL), &ks), -1);
    assert_int_equal(
        from_map(dup("{\"k1\":\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"}"),
                 &ks),
        -1);
    assert_int_equal(from_map(dup("{\"k1\":42}"), &ks), -1);
    assert_string_equal(why, "key map entry is not a string");
    assert_int_equal(from_map(dup("{\"k1\":null}"), &ks), -1);
    free(garbled);
}

static void test_keys_pem_map_refuses_ec_and_weak_rsa(void **state)
{
    auth_keyset *ks;

    assert_int_equal(from_map(pem_map("k1", fx.c1, "e1", fx.cec, NULL), &ks), -1);
    assert_string_equal(why, "certificate key is not RSA of at least 2048 bits");
    assert_int_equal(from_map(pem_map("w1", fx.cweak, NULL), &ks), -1);
    assert_string_equal(why, "certificate key is not RSA of at least 2048 bits");
}

static void test_keys_pem_map_not_json_or_empty(void **state)
{
    static const char *const bad[] = {"", "x", "[]", "\"k1\"", "{", "{}", "{\"k1\":\"a\"} x",
                                      "null", NULL};
    auth_keyset *ks = (auth_keyset *)1;

    for (size_t i = 0; bad[i] != NULL; i++)
        if (from_map(dup(bad[i]), &ks) != -1)
            fail_msg("accepted case %zu", i);
    assert_int_equal(auth_keyset_from_x509_map(NULL, 0, &ks, why, sizeof(why)), -1);
    assert_int_equal(auth_keyset_from_x509_map("{}", 2, NULL, why, sizeof(why)), -1);
}

static void test_keys_pem_map_kid_rules(void **state)
{
    auth_keyset *ks;
    char *many;
    json_object *m;
    char kid[16];

    assert_int_equal(from_map(pem_map("", fx.c1, NULL), &ks), -1);
    assert_string_equal(why, "bad key id");
    /* AUTH_MAX_KEYS entries pass, one more fails. */
    m = json_object_new_object();
    for (int i = 0; i < AUTH_MAX_KEYS; i++) {
        snprintf(kid, sizeof(kid), "k%d", i);
        json_object_object_add(m, kid, json_object_new_string(fx.c1));
    }
    many = dup(json_object_to_json_string(m));
    assert_int_equal(from_map(many, &ks), 0);
    assert_int_equal(auth_keyset_count(ks), AUTH_MAX_KEYS);
    auth_keyset_free(ks);
    json_object_object_add(m, "one-too-many", json_object_new_string(fx.c1));
    many = dup(json_object_to_json_string(m));
    assert_int_equal(from_map(many, &ks), -1);
    assert_string_equal(why, "too many keys");
    json_object_put(m);
}

static void test_keys_pem_map_deep_json_refused(void **state)
{
    char *deep = malloc(2 * 1000 + 8);
    auth_keyset *ks;

    assert_non_null(deep);
    strcpy(deep, "{\"a\":");
    memset(deep + 5, '[', 1000);
    deep[1005] = '\0';
    assert_int_equal(from_map(deep, &ks), -1);
}

static void test_keys_reasons_never_quote_the_input(void **state)
{
    auth_keyset *ks;

    assert_int_equal(from_map(dup("{\"SECRETKID\":\"SECRETPEM\"}"), &ks), -1);
    assert_null(strstr(why, "SECRET"));
    assert_int_equal(auth_keyset_from_jwks("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"SECRET\",\"n\":"
                                           "\"SECRET\",\"e\":\"AQAB\"}]}",
                                           68, &ks, why, sizeof(why)),
                     -1);
    assert_null(strstr(why, "SECRET"));
}

/* ---------------------------------------------------------------- JWKS */

static char *b64bn(const BIGNUM *bn, int pad)
{
    unsigned char buf[1024];
    char *s;
    int n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);

    assert_int_equal(auth_b64url_encode(buf, (size_t)n, &s), 0);
    return s;
}

static void add_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, json_object_new_string(v));
}

static void add_owned(json_object *o, const char *key, char *v)
{
    add_str(o, key, v);
    free(v);
}

static json_object *rsa_jwk(EVP_PKEY *key, const char *kid)
{
    json_object *j = json_object_new_object();
    BIGNUM *n = NULL, *e = NULL;

    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    add_str(j, "kty", "RSA");
    add_str(j, "kid", kid);
    add_str(j, "alg", "RS256");
    add_str(j, "use", "sig");
    add_owned(j, "n", b64bn(n, 0));
    add_owned(j, "e", b64bn(e, 0));
    BN_free(n);
    BN_free(e);
    return j;
}

static json_object *ec_jwk(EVP_PKEY *key, const char *kid)
{
    json_object *j = json_object_new_object();
    BIGNUM *x = NULL, *y = NULL;

    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
    add_str(j, "kty", "EC");
    add_str(j, "crv", "P-256");
    add_str(j, "kid", kid);
    add_owned(j, "x", b64bn(x, 32));
    add_owned(j, "y", b64bn(y, 32));
    BN_free(x);
    BN_free(y);
    return j;
}

/* {"keys":[...]} of the given JWKs (taken), as malloc'd text. */
static char *jwks(json_object *a, json_object *b, json_object *c)
{
    json_object *set = json_object_new_object(), *arr = json_object_new_array();
    char *s;

    if (a != NULL)
        json_object_array_add(arr, a);
    if (b != NULL)
        json_object_array_add(arr, b);
    if (c != NULL)
        json_object_array_add(arr, c);
    json_object_object_add(set, "keys", arr);
    s = dup(json_object_to_json_string(set));
    json_object_put(set);
    return s;
}

static int from_jwks(char *json, auth_keyset **ks)
{
    int rc = auth_keyset_from_jwks(json, strlen(json), ks, why, sizeof(why));

    free(json);
    if (rc == 0)
        assert_non_null(*ks);
    else
        assert_null(*ks);
    return rc;
}

static void test_keys_jwks_rsa_and_ec_good(void **state)
{
    auth_keyset *ks;
    EVP_PKEY *k;

    assert_int_equal(from_jwks(jwks(rsa_jwk(fx.k1, "r1"), ec_jwk(fx.ec, "e1"), NULL), &ks), 0);
    assert_int_equal(auth_keyset_count(ks), 2);
    k = auth_keyset_find(ks, "r1", 2);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_eq(k, fx.k1), 1);
    k = auth_keyset_find(ks, "e1", 2);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
    assert_int_equal(EVP_PKEY_eq(k, fx.ec), 1);
    auth_keyset_free(ks);
}

static void test_keys_jwks_bad_rsa_fails_the_set(void **state)
{
    auth_keyset *ks;
    json_object *j;

    j = rsa_jwk(fx.k1, "r1");
    add_str(j, "n", "not+base64");
    assert_int_equal(from_jwks(jwks(rsa_jwk(fx.k2, "r2"), j, NULL), &ks), -1);
    assert_string_equal(why, "bad RSA JWK");
    j = rsa_jwk(fx.k1, "r1");
    json_object_object_del(j, "n");
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    j = rsa_jwk(fx.k1, "r1");
    add_str(j, "n", "AQAB");
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    /* A 1024-bit modulus. */
    assert_int_equal(from_jwks(jwks(rsa_jwk(fx.weak, "w1"), NULL, NULL), &ks), -1);
    /* An even exponent, e = 1, an empty exponent. */
    j = rsa_jwk(fx.k1, "r1");
    add_str(j, "e", "AQAA");
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    j = rsa_jwk(fx.k1, "r1");
    add_str(j, "e", "AQ");
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    j = rsa_jwk(fx.k1, "r1");
    add_str(j, "e", "");
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    /* No kid, a non-string kid, an empty kid. */
    j = rsa_jwk(fx.k1, "r1");
    json_object_object_del(j, "kid");
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    j = rsa_jwk(fx.k1, "r1");
    json_object_object_add(j, "kid", json_object_new_int(1));
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    assert_int_equal(from_jwks(jwks(rsa_jwk(fx.k1, ""), NULL, NULL), &ks), -1);
    /* The same kid twice. */
    assert_int_equal(from_jwks(jwks(rsa_jwk(fx.k1, "r1"), rsa_jwk(fx.k2, "r1"), NULL), &ks), -1);
    assert_string_equal(why, "duplicate key id");
}

static void test_keys_jwks_bad_ec_fails_the_set(void **state)
{
    auth_keyset *ks;
    json_object *j;
    unsigned char off[32];
    char *s;

    /* A point off the curve: y + 1. */
    j = ec_jwk(fx.ec, "e1");
    {
        unsigned char *y;
        size_t n;
        const char *ys = json_object_get_string(json_object_object_get(j, "y"));

        assert_int_equal(auth_b64url_decode(ys, strlen(ys), &y, &n), 0);
        memcpy(off, y, 32);
        free(y);
        off[31] ^= 1;
        assert_int_equal(auth_b64url_encode(off, 32, &s), 0);
        add_owned(j, "y", s);
    }
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    assert_string_equal(why, "bad EC JWK");
    /* A 31-byte coordinate. */
    j = ec_jwk(fx.ec, "e1");
    assert_int_equal(auth_b64url_encode(off, 31, &s), 0);
    add_owned(j, "x", s);
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    j = ec_jwk(fx.ec, "e1");
    json_object_object_del(j, "crv");
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
    j = ec_jwk(fx.ec, "e1");
    json_object_object_del(j, "y");
    assert_int_equal(from_jwks(jwks(j, NULL, NULL), &ks), -1);
}

static void test_keys_jwks_skips_keys_not_for_rs256_or_es256_signing(void **state)
{
    auth_keyset *ks;
    json_object *enc = rsa_jwk(fx.k2, "enc1"), *okp = json_object_new_object(), *p384, *rs512;

    add_str(enc, "use", "enc");
    add_str(okp, "kty", "OKP");
    add_str(okp, "crv", "Ed25519");
    add_str(okp, "kid", "o1");
    assert_int_equal(from_jwks(jwks(enc, rsa_jwk(fx.k1, "r1"), okp), &ks), 0);
    assert_int_equal(auth_keyset_count(ks), 1);
    assert_null(auth_keyset_find(ks, "enc1", 4));
    assert_null(auth_keyset_find(ks, "o1", 2));
    assert_non_null(auth_keyset_find(ks, "r1", 2));
    auth_keyset_free(ks);
    /* Only skipped keys: no usable key. */
    enc = rsa_jwk(fx.k2, "enc1");
    add_str(enc, "use", "enc");
    assert_int_equal(from_jwks(jwks(enc, NULL, NULL), &ks), -1);
    assert_string_equal(why, "no usable keys");
    /* Another curve or algorithm: skipped. */
    p384 = ec_jwk(fx.ec, "e1");
    add_str(p384, "crv", "P-384");
    rs512 = rsa_jwk(fx.k1, "r1");
    add_str(rs512, "alg", "RS512");
    assert_int_equal(from_jwks(jwks(p384, rs512, rsa_jwk(fx.k2, "r2")), &ks), 0);
    assert_int_equal(auth_keyset_count(ks), 1);
    assert_non_null(auth_keyset_find(ks, "r2", 2));
    auth_keyset_free(ks);
    /* A "use" that is not a string is malformed. */
    enc = rsa_jwk(fx.k2, "enc1");
    json_object_object_add(enc, "use", json_object_new_int(1));
    assert_int_equal(from_jwks(jwks(enc, NULL, NULL), &ks), -1);
}

static void test_keys_jwks_shape(void **state)
{
    static const char *const bad[] = {"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]}",
                                      "{\"keys\":[1]}", "{\"keys\":[{}]}", "{\"keys\":[[]]}",
                                      "{\"keys\":null}", NULL};
    auth_keyset *ks;

    for (size_t i = 0; bad[i] != NULL; i++)
        if (from_jwks(dup(bad[i]), &ks) != -1)
            fail_msg("accepted case %zu", i);
}

static void test_keys_jwks_too_many_keys(void **state)
{
    json_object *set = json_object_new_object(), *arr = json_object_new_array(), *one;
    auth_keyset *ks;
    char kid[16];

    one = rsa_jwk(fx.k1, "x");
    for (int i = 0; i <= AUTH_MAX_KEYS; i++) {
        json_object *copy = NULL;

        assert_int_equal(json_object_deep_copy(one, &copy, NULL), 0);
        snprintf(kid, sizeof(kid), "r%d", i);
        add_str(copy, "kid", kid);
        json_object_array_add(arr, copy);
    }
    json_object_put(one);
    json_object_object_add(set, "keys", arr);
    assert_int_equal(from_jwks(dup(json_object_to_json_string(set)), &ks), -1);
    assert_string_equal(why, "too many keys");
    json_object_array_del_idx(arr, 0, 1);
    assert_int_equal(from_jwks(dup(json_object_to_json_string(set)), &ks), 0);
    assert_int_equal(auth_keyset_count(ks), AUTH_MAX_KEYS);
    auth_keyset_free(ks);
    json_object_put(set);
}

/* ---------------------------------------------------------------- RS256 */

/* msg signed by key with digest md and PKCS#1 v1.5 padding; *len bytes. */
static unsigned char *sign_with(EVP_PKEY *key, const EVP_MD *md, const char *msg, size_t *len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char *sig;

    assert_non_null(c);
    assert_int_equal(EVP_DigestSignInit(c, NULL, md, NULL, key), 1);
    assert_int_equal(EVP_DigestSign(c, NULL, len, (const unsigned char *)msg, strlen(msg)), 1);
    sig = malloc(*len);
    assert_non_null(sig);
    assert_int_equal(EVP_DigestSign(c, sig, len, (const unsigned char *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(c);
    return sig;
}

static int rs256(const auth_keyset *ks, const char *kid, const unsigned char *sig, size_t sig_len,
                 const char *msg)
{
    return auth_keyset_verify_rs256(ks, kid, strlen(kid), sig, sig_len,
                                    (const unsigned char *)msg, strlen(msg));
}

static void test_keys_verify_rs256(void **state)
{
    const char *msg = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9";
    auth_keyset *ks, *jk;
    unsigned char *sig, *sha1, *padded;
    size_t len, len1;

    assert_int_equal(from_map(pem_map("k1", fx.c1, "k2", fx.c2, NULL), &ks), 0);
    sig = sign_with(fx.k1, EVP_sha256(), msg, &len);
    assert_int_equal(len, 256);
    assert_int_equal(rs256(ks, "k1", sig, len, msg), 1);
    /* The same context again, and after failures. */
    assert_int_equal(rs256(ks, "k1", sig, len, msg), 1);
    assert_int_equal(rs256(ks, "k2", sig, len, msg), 0);          /* another key */
    assert_int_equal(rs256(ks, "k3", sig, len, msg), 0);          /* unknown kid */
    assert_int_equal(rs256(ks, "k1", sig, len, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MiJ9"), 0);
    sig[len / 2] ^= 0x01;
    assert_int_equal(rs256(ks, "k1", sig, len, msg), 0);
    sig[len / 2] ^= 0x01;
    assert_int_equal(rs256(ks, "k1", sig, len, msg), 1);
    assert_int_equal(rs256(ks, "k1", sig, len - 1, msg), 0);      /* short */
    assert_int_equal(rs256(ks, "k1", NULL, 0, msg), 0);
    assert_int_equal(auth_keyset_verify_rs256(NULL, "k1", 2, sig, len, (const unsigned char *)msg,
                                              strlen(msg)),
                     0);
    /* A zero byte in front is another encoding of the same value. */
    padded = calloc(1, len + 1);
    assert_non_null(padded);
    memcpy(padded + 1, sig, len);
    assert_int_equal(rs256(ks, "k1", padded, len + 1, msg), 0);
    free(padded);
    /* The digest is pinned: a valid RSA-SHA1 signature does not pass. */
    sha1 = sign_with(fx.k1, EVP_sha1(), msg, &len1);
    assert_int_equal(rs256(ks, "k1", sha1, len1, msg), 0);
    free(sha1);
    /* JWK sets: RSA keys verify, EC keys never do RS256. */
    assert_int_equal(from_jwks(jwks(rsa_jwk(fx.k1, "r"), ec_jwk(fx.ec, "e"), NULL), &jk), 0);
    assert_int_equal(rs256(jk, "r", sig, len, msg), 1);
    assert_int_equal(rs256(jk, "e", sig, len, msg), 0);
    auth_keyset_free(jk);
    auth_keyset_free(ks);
    free(sig);
}

/* ---------------------------------------------------------------- Cache-Control */

static void test_cache_seconds(void **state)
{
    assert_int_equal(auth_cache_seconds("max-age=120"), 120);
    assert_int_equal(auth_cache_seconds("public, max-age=19270, must-revalidate, no-transform"),
                     19270);
    assert_int_equal(auth_cache_seconds("MAX-AGE=10"), 60);
    assert_int_equal(auth_cache_seconds("Max-Age=3600"), 3600);
    assert_int_equal(auth_cache_seconds("public, max-age=abc"), 60);
    assert_int_equal(auth_cache_seconds("s-maxage=500"), 60);
    assert_int_equal(auth_cache_seconds("s-maxage=500, max-age=200"), 200);
    assert_int_equal(auth_cache_seconds("max-age=999999"), 86400);
    assert_int_equal(auth_cache_seconds("max-age=99999999999999999999999999"), 86400);
    assert_int_equal(auth_cache_seconds(NULL), 60);
    assert_int_equal(auth_cache_seconds(""), 60);
    assert_int_equal(auth_cache_seconds("no-cache"), 60);
    assert_int_equal(auth_cache_seconds("max-age="), 60);
    assert_int_equal(auth_cache_seconds("max-age=-5"), 60);
    assert_int_equal(auth_cache_seconds("max-age=12x"), 60);
    assert_int_equal(auth_cache_seconds("max-age"), 60);
    assert_int_equal(auth_cache_seconds("max-agex=500"), 60);
    assert_int_equal(auth_cache_seconds("xmax-age=500"), 60);
    assert_int_equal(auth_cache_seconds("max-age=\"300\""), 300);
    assert_int_equal(auth_cache_seconds("max-age = 300"), 300);
    assert_int_equal(auth_cache_seconds(",,max-age=300,"), 300);
    assert_int_equal(auth_cache_seconds("max-age=0"), 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_pem_map_good),
        cmocka_unit_test(test_keys_pem_map_one_bad_entry_fails_the_set),
        cmocka_unit_test(test_keys_pem_map_refuses_ec_and_weak_rsa),
        cmocka_unit_test(test_keys_pem_map_not_json_or_empty),
        cmocka_unit_test(test_keys_pem_map_kid_rules),
        cmocka_unit_test(test_keys_pem_map_deep_json_refused),
        cmocka_unit_test(test_keys_reasons_never_quote_the_input),
        cmocka_unit_test(test_keys_jwks_rsa_and_ec_good),
        cmocka_unit_test(test_keys_jwks_bad_rsa_fails_the_set),
        cmocka_unit_test(test_keys_jwks_bad_ec_fails_the_set),
        cmocka_unit_test(test_keys_jwks_skips_keys_not_for_rs256_or_es256_signing),
        cmocka_unit_test(test_keys_jwks_shape),
        cmocka_unit_test(test_keys_jwks_too_many_keys),
        cmocka_unit_test(test_keys_verify_rs256),
        cmocka_unit_test(test_cache_seconds),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
