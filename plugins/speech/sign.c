/*
 * Signed read-aloud URLs (assets.h): HMAC-SHA256 with libcrypto over
 * "path\nuid\nexpires", written as 64 lower-case hex digits. Whoever holds
 * the server's secret makes the same signature, so every replica sharing it
 * accepts the URLs of every other. The check compares in constant time
 * (CRYPTO_memcmp), so a forger learns nothing from the time a refusal takes.
 *
 * The owner's uid is signed but not shown: the URL carries it sealed
 * (AES-256-GCM under a key derived from the secret, a fresh nonce each
 * time, base64url), so a URL that reaches a log, a proxy or a Referer
 * names no user, and two URLs of one user do not show they are one's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "assets.h"

static int sign_raw(const unsigned char *key, size_t key_len, const char *path, const char *uid,
                    int64_t expires, unsigned char mac[32])
{
    unsigned char buf[2048];
    char exp[32];
    size_t lp = strlen(path), lu = strlen(uid), le;
    unsigned int n = 0;

    /* "path\nuid\nexpires": no part holds a newline (the route checks the
     * path's parts and the uid), so no two inputs give the same text */
    le = (size_t)snprintf(exp, sizeof(exp), "%" PRId64, expires);
    if (lp + lu + le + 2 > sizeof(buf))
        return LX_EINVAL;
    memcpy(buf, path, lp);
    buf[lp] = '\n';
    memcpy(buf + lp + 1, uid, lu);
    buf[lp + 1 + lu] = '\n';
    memcpy(buf + lp + 2 + lu, exp, le);
    if (HMAC(EVP_sha256(), key, (int)key_len, buf, lp + lu + le + 2, mac, &n) == NULL || n != 32)
        return LX_EIO;
    return LX_OK;
}

int speech_sign(const unsigned char *key, size_t key_len, const char *path, const char *uid,
                int64_t expires, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[32];
    int rc = sign_raw(key, key_len, path, uid, expires, mac);

    if (rc != LX_OK)
        return rc;
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[64] = '\0';
    return LX_OK;
}

int speech_sign_ok(const unsigned char *key, size_t key_len, const char *path, const char *uid,
                   int64_t expires, const char *hex)
{
    char want[65];

    if (hex == NULL || strlen(hex) != 64 ||
        speech_sign(key, key_len, path, uid, expires, want) != LX_OK)
        return 0;
    return CRYPTO_memcmp(want, hex, 64) == 0;
}

/* ------------------------------------------------------------------------ */
/* The owner in the URL, sealed                                             */

#define SEAL_NONCE 12
#define SEAL_TAG 16
#define SEAL_MAX_UID 128

/* The sealing key: HMAC-SHA256(secret, a label), so the URL secret never
 * keys two algorithms. */
static int seal_key(const unsigned char *key, size_t key_len, unsigned char out[32])
{
    static const char label[] = "lexiaid tts-assets owner seal v1";
    unsigned int n = 0;

    return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)label, sizeof(label) - 1,
                out, &n) != NULL &&
                   n == 32
               ? LX_OK
               : LX_EIO;
}

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64u_enc(const unsigned char *p, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        out[o++] = b64u[v >> 18 & 63];
        out[o++] = b64u[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = b64u[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = b64u[v & 63];
    }
    out[o] = '\0';
    return o;
}

/* Decodes s (no padding) into out (cap bytes); the length, or -1. */
static long b64u_dec(const char *s, unsigned char *out, size_t cap)
{
    size_t n = strlen(s), o = 0;
    uint32_t v = 0;
    int bits = 0;

    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *c = memchr(b64u, s[i], 64);
        if (c == NULL || s[i] == '\0')
            return -1;
        v = v << 6 | (uint32_t)(c - b64u);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    if ((v & ((1u << bits) - 1)) != 0) /* one text per value: no stray bits */
        return -1;
    return (long)o;
}

int speech_seal_uid(const unsigned char *key, size_t key_len, const char *uid, char *out,
                    size_t cap)
{
    unsigned char k[32], buf[SEAL_NONCE + SEAL_MAX_UID + SEAL_TAG];
    size_t n = strlen(uid);
    EVP_CIPHER_CTX *ctx = NULL;
    int len = 0, fin = 0, rc = LX_EIO;

    if (n == 0 || n > SEAL_MAX_UID || cap < (SEAL_NONCE + n + SEAL_TAG + 2) / 3 * 4 + 1)
        return LX_EINVAL;
    if (seal_key(key, key_len, k) != LX_OK || RAND_bytes(buf, SEAL_NONCE) != 1 ||
        (ctx = EVP_CIPHER_CTX_new()) == NULL ||
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, buf) != 1 ||
        EVP_EncryptUpdate(ctx, buf + SEAL_NONCE, &len, (const unsigned char *)uid, (int)n) != 1 ||
        EVP_EncryptFinal_ex(ctx, buf + SEAL_NONCE + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, buf + SEAL_NONCE + n) != 1)
        goto done;
    b64u_enc(buf, SEAL_NONCE + n + SEAL_TAG, out);
    rc = LX_OK;
done:
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(k, sizeof(k));
    return rc;
}

int speech_open_uid(const unsigned char *key, size_t key_len, const char *sealed, char *uid,
                    size_t cap)
{
    unsigned char k[32], buf[SEAL_NONCE + SEAL_MAX_UID + SEAL_TAG + 3];
    long got = sealed != NULL && strlen(sealed) <= 4 * sizeof(buf) / 3
                   ? b64u_dec(sealed, buf, sizeof(buf))
                   : -1;
    size_t n;
    EVP_CIPHER_CTX *ctx = NULL;
    int len = 0, fin = 0, rc = LX_EINVAL;

    if (got < SEAL_NONCE + 1 + SEAL_TAG || got > SEAL_NONCE + SEAL_MAX_UID + SEAL_TAG)
        return LX_EINVAL;
    n = (size_t)got - SEAL_NONCE - SEAL_TAG;
    if (n + 1 > cap)
        return LX_EINVAL;
    if (seal_key(key, key_len, k) != LX_OK || (ctx = EVP_CIPHER_CTX_new()) == NULL ||
        EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, buf) != 1 ||
        EVP_DecryptUpdate(ctx, (unsigned char *)uid, &len, buf + SEAL_NONCE, (int)n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, buf + SEAL_NONCE + n) != 1 ||
        EVP_DecryptFinal_ex(ctx, (unsigned char *)uid + len, &fin) != 1) {
        memset(uid, 0, cap);
        goto done;
    }
    uid[n] = '\0';
    rc = memchr(uid, '\0', n) == NULL ? LX_OK : LX_EINVAL;
done:
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(k, sizeof(k));
    return rc;
}
