#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h> /* types only: libcrypto is loaded when needed */

#include "ws_handshake.h"

/* libcrypto's soname for the OpenSSL 3 series (configure requires >= 3.0). */
#define LX_LIBCRYPTO "libcrypto.so.3"

/* The three libcrypto functions the handshake needs, loaded by
 * lx_ws_crypto_load: a server without WebSocket routes never maps libcrypto
 * (about 0.8 MB resident per process) unless a plugin links it. */
static struct {
    int is_loaded;
    int (*digest)(const void *data, size_t count, unsigned char *md, unsigned int *size,
                  const EVP_MD *type, ENGINE *impl);
    const EVP_MD *(*sha1)(void);
    int (*encode_block)(unsigned char *t, const unsigned char *f, int n);
} lx_crypto;

static int lx_ws_sym(void *dl, const char *name, void *fnp, size_t size)
{
    void *sym = dlsym(dl, name);
    if (sym == NULL)
        return -1;
    memcpy(fnp, &sym, size); /* object pointer to function pointer, as POSIX allows */
    return 0;
}

int lx_ws_crypto_load(char *err, size_t errlen)
{
    if (lx_crypto.is_loaded)
        return 0;
    void *dl = dlopen(LX_LIBCRYPTO, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *why = dlerror();
        snprintf(err, errlen, "cannot load %s for WebSocket handshakes: %s", LX_LIBCRYPTO,
                 why ? why : "unknown error");
        return -1;
    }
    if (lx_ws_sym(dl, "EVP_Digest", &lx_crypto.digest, sizeof(lx_crypto.digest)) != 0 ||
        lx_ws_sym(dl, "EVP_sha1", &lx_crypto.sha1, sizeof(lx_crypto.sha1)) != 0 ||
        lx_ws_sym(dl, "EVP_EncodeBlock", &lx_crypto.encode_block, sizeof(lx_crypto.encode_block)) !=
            0) {
        snprintf(err, errlen, "%s lacks EVP_Digest, EVP_sha1 or EVP_EncodeBlock", LX_LIBCRYPTO);
        return -1; /* never dlclosed: a library stays mapped once loaded */
    }
    lx_crypto.is_loaded = 1;
    return 0;
}

#define LX_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define LX_WS_KEY_LEN 24 /* base64 of 16 bytes */

static int lx_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int lx_ws_has_token(const char *list, const char *token)
{
    size_t tlen = strlen(token);

    if (list == NULL)
        return 0;
    for (const char *p = list; *p != '\0';) {
        while (lx_is_ows(*p) || *p == ',')
            p++;
        const char *start = p;
        while (*p != '\0' && *p != ',')
            p++;
        const char *end = p;
        while (end > start && lx_is_ows(end[-1]))
            end--;
        if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
            return 1;
    }
    return 0;
}

int lx_ws_is_upgrade(const char *upgrade)
{
    return lx_ws_has_token(upgrade, "websocket");
}

static int lx_is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* 16 bytes in base64: 22 characters of the alphabet, then "==". */
static int lx_ws_key_ok(const char *key)
{
    if (key == NULL || strlen(key) != LX_WS_KEY_LEN)
        return 0;
    for (size_t i = 0; i < LX_WS_KEY_LEN - 2; i++)
        if (!lx_is_b64(key[i]))
            return 0;
    return key[22] == '=' && key[23] == '=';
}

int lx_ws_accept_key(const char *key, char accept[LX_WS_ACCEPT_LEN + 1])
{
    unsigned char buf[LX_WS_KEY_LEN + sizeof(LX_WS_GUID)];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    size_t klen = strlen(key);
    char err[256];

    if (klen > LX_WS_KEY_LEN || lx_ws_crypto_load(err, sizeof(err)) != 0)
        return -1;
    memcpy(buf, key, klen);
    memcpy(buf + klen, LX_WS_GUID, sizeof(LX_WS_GUID) - 1);
    if (lx_crypto.digest(buf, klen + sizeof(LX_WS_GUID) - 1, md, &md_len, lx_crypto.sha1(), NULL) !=
            1 ||
        md_len != 20)
        return -1;
    return lx_crypto.encode_block((unsigned char *)accept, md, 20) == LX_WS_ACCEPT_LEN ? 0 : -1;
}

static int lx_ws_refuse(lx_ws_refusal *r, int status, const char *code, const char *message)
{
    r->status = status;
    r->code = code;
    r->message = message;
    return -1;
}

int lx_ws_handshake_check(const lx_ws_hs_request *in, char accept[LX_WS_ACCEPT_LEN + 1],
                          lx_ws_refusal *r)
{
    static const char bad[] = "BAD_HANDSHAKE";

    if (in->method == NULL || strcmp(in->method, "GET") != 0)
        return lx_ws_refuse(r, 400, bad, "a WebSocket handshake is a GET request");
    if (!lx_ws_is_upgrade(in->upgrade))
        return lx_ws_refuse(r, 400, bad,
                            "this route takes WebSocket sessions only "
                            "(expected Upgrade: websocket)");
    if (!lx_ws_has_token(in->connection, "upgrade"))
        return lx_ws_refuse(r, 400, bad, "a WebSocket handshake needs Connection: Upgrade");
    if (in->version == NULL)
        return lx_ws_refuse(r, 400, bad, "missing Sec-WebSocket-Version");
    if (strcmp(in->version, "13") != 0)
        return lx_ws_refuse(r, 426, "WEBSOCKET_VERSION",
                            "unsupported WebSocket version: this server speaks version 13");
    if (in->key == NULL)
        return lx_ws_refuse(r, 400, bad, "missing Sec-WebSocket-Key");
    if (!lx_ws_key_ok(in->key))
        return lx_ws_refuse(r, 400, bad, "Sec-WebSocket-Key must be 16 bytes in base64");
    if (in->body_len > 0 || in->transfer_encoding != NULL ||
        (in->content_length != NULL && strcmp(in->content_length, "0") != 0))
        return lx_ws_refuse(r, 400, bad, "a WebSocket handshake has no body");
    if (in->host == NULL || in->host[0] == '\0')
        return lx_ws_refuse(r, 400, bad, "missing Host");
    if (lx_ws_accept_key(in->key, accept) != 0)
        return lx_ws_refuse(r, 400, bad, "cannot compute Sec-WebSocket-Accept");
    return 0;
}

/* Compares an authority "host[:port]" with the Host header, the port being
 * `def` when one side leaves it out. */
static int lx_ws_same_authority(const char *a, size_t alen, const char *host, const char *def)
{
    size_t hlen = strlen(host);
    size_t dlen = strlen(def);

    if (alen == hlen && strncasecmp(a, host, alen) == 0)
        return 1;
    /* "example.com" against "example.com:443", either way round */
    if (hlen == alen + 1 + dlen && strncasecmp(a, host, alen) == 0 && host[alen] == ':' &&
        strcmp(host + alen + 1, def) == 0)
        return 1;
    if (alen == hlen + 1 + dlen && strncasecmp(a, host, hlen) == 0 && a[hlen] == ':' &&
        strncmp(a + hlen + 1, def, dlen) == 0)
        return 1;
    return 0;
}

int lx_ws_origin_allowed(const char *origin, const char *host, char *const *allowed,
                         size_t n_allowed)
{
    if (origin == NULL)
        return 1;
    for (size_t i = 0; i < n_allowed; i++)
        if (strcmp(allowed[i], "*") == 0 || strcmp(allowed[i], origin) == 0)
            return 1;
    if (host == NULL)
        return 0;
    const char *rest, *def;
    if (strncasecmp(origin, "http://", 7) == 0) {
        rest = origin + 7;
        def = "80";
    } else if (strncasecmp(origin, "https://", 8) == 0) {
        rest = origin + 8;
        def = "443";
    } else {
        return 0; /* "null", or a scheme of no web page */
    }
    size_t len = strlen(rest);
    if (len == 0 || strpbrk(rest, "/?#@") != NULL)
        return 0;
    return lx_ws_same_authority(rest, len, host, def);
}
