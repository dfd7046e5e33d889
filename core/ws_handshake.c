#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "ws_handshake.h"

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

    if (klen > LX_WS_KEY_LEN)
        return -1;
    memcpy(buf, key, klen);
    memcpy(buf + klen, LX_WS_GUID, sizeof(LX_WS_GUID) - 1);
    if (EVP_Digest(buf, klen + sizeof(LX_WS_GUID) - 1, md, &md_len, EVP_sha1(), NULL) != 1 ||
        md_len != 20)
        return -1;
    return EVP_EncodeBlock((unsigned char *)accept, md, 20) == LX_WS_ACCEPT_LEN ? 0 : -1;
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
