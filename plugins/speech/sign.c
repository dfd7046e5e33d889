/*
 * Signed read-aloud URLs (assets.h): HMAC-SHA256 with libcrypto over
 * "path\nuid\nexpires", written as 64 lower-case hex digits. Whoever holds
 * the server's secret makes the same signature, so every replica sharing it
 * accepts the URLs of every other. The check compares in constant time
 * (CRYPTO_memcmp), so a forger learns nothing from the time a refusal takes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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
