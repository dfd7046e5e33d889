/*
 * Token parsing for the auth plugin: the Bearer header, strict base64url and
 * the three segments of a compact JWT. See jwt.h for the contracts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

static const char auth_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of c in the base64url alphabet, or -1. Written as ranges
 * rather than a table so that no byte outside the alphabet can slip in. */
static int auth_b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

static void auth_why(char *why, size_t whylen, const char *msg)
{
    if (why != NULL && whylen > 0)
        snprintf(why, whylen, "%s", msg);
}

static int auth_ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

int auth_bearer_parse(const char *header, const char **token, size_t *len)
{
    const char *p, *start;

    if (header == NULL || token == NULL || len == NULL)
        return -1;
    if (strlen(header) < 6 || !auth_ascii_ieq(header, "bearer", 6))
        return -1;
    p = header + 6;
    /* RFC 6750: 1*SP between the scheme and the token; tabs are not SP. */
    if (*p != ' ')
        return -1;
    while (*p == ' ')
        p++;
    start = p;
    while (*p > 0x20 && *p < 0x7f)
        p++;
    if (p == start || *p != '\0')
        return -1;
    *token = start;
    *len = (size_t)(p - start);
    return 0;
}

int auth_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    unsigned char *buf;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (out == NULL || outlen == NULL || (in == NULL && len > 0))
        return -1;
    *out = NULL;
    *outlen = 0;
    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (auth_b64url_value((unsigned char)in[i]) < 0)
            return -1;
    /* Only one encoding per value: the bits of the last character that
     * fall past the final byte must be zero. */
    if (len % 4 == 2 && (auth_b64url_value((unsigned char)in[len - 1]) & 0x0f) != 0)
        return -1;
    if (len % 4 == 3 && (auth_b64url_value((unsigned char)in[len - 1]) & 0x03) != 0)
        return -1;

    buf = malloc(len / 4 * 3 + 3 + 1);
    if (buf == NULL)
        return -2;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 6) | (uint32_t)auth_b64url_value((unsigned char)in[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

int auth_b64url_encode(const unsigned char *in, size_t len, char **out)
{
    char *buf;
    size_t n = 0, i;

    if (out == NULL || (in == NULL && len > 0))
        return -1;
    *out = NULL;
    if (len > (SIZE_MAX - 4) / 4 * 3)
        return -2;
    buf = malloc((len + 2) / 3 * 4 + 1);
    if (buf == NULL)
        return -2;
    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        buf[n++] = auth_b64url_alphabet[v >> 18 & 63];
        buf[n++] = auth_b64url_alphabet[v >> 12 & 63];
        buf[n++] = auth_b64url_alphabet[v >> 6 & 63];
        buf[n++] = auth_b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;

        buf[n++] = auth_b64url_alphabet[v >> 18 & 63];
        buf[n++] = auth_b64url_alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

        buf[n++] = auth_b64url_alphabet[v >> 18 & 63];
        buf[n++] = auth_b64url_alphabet[v >> 12 & 63];
        buf[n++] = auth_b64url_alphabet[v >> 6 & 63];
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* Why a segment is refused; the parse reasons are built from these. */
enum auth_seg_err {
    AUTH_SEG_OK = 0,
    AUTH_SEG_BASE64,
    AUTH_SEG_NOT_JSON,
    AUTH_SEG_NOT_OBJECT,
    AUTH_SEG_NOMEM,
};

/* Decodes one base64url segment holding a JSON object into *obj. */
static enum auth_seg_err auth_segment_object(const char *seg, size_t len, json_object **obj)
{
    enum auth_seg_err err = AUTH_SEG_NOT_JSON;
    unsigned char *raw = NULL;
    size_t rawlen;
    json_tokener *tok = NULL;
    json_object *o = NULL;
    int rc;

    *obj = NULL;
    rc = auth_b64url_decode(seg, len, &raw, &rawlen);
    if (rc != 0)
        return rc == -2 ? AUTH_SEG_NOMEM : AUTH_SEG_BASE64;
    /* JSON text never holds a raw NUL; json-c would stop short at one. */
    if (rawlen > INT32_MAX || memchr(raw, '\0', rawlen) != NULL)
        goto done;
    tok = json_tokener_new_ex(AUTH_MAX_JSON_DEPTH);
    if (tok == NULL) {
        err = AUTH_SEG_NOMEM;
        goto done;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, (const char *)raw, (int)rawlen);
    /* Strict json-c consumes trailing whitespace; anything else left over
     * (or an incomplete text) is refused. */
    if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != rawlen)
        goto done;
    if (!json_object_is_type(o, json_type_object)) {
        err = AUTH_SEG_NOT_OBJECT;
        goto done;
    }
    *obj = o;
    o = NULL;
    err = AUTH_SEG_OK;
done:
    json_object_put(o);
    if (tok != NULL) /* json-c does not accept NULL here */
        json_tokener_free(tok);
    free(raw);
    return err;
}

static const char *auth_seg_reason(enum auth_seg_err err, int is_header)
{
    switch (err) {
    case AUTH_SEG_BASE64:
        return is_header ? "header is not base64url" : "payload is not base64url";
    case AUTH_SEG_NOT_JSON:
        return is_header ? "header is not JSON" : "payload is not JSON";
    case AUTH_SEG_NOT_OBJECT:
        return is_header ? "header is not a JSON object" : "payload is not a JSON object";
    case AUTH_SEG_NOMEM:
        return "out of memory";
    default:
        return "bad token";
    }
}

/* A header member that must be a string without NUL bytes: 0 and the
 * string (or NULL when absent or not a string), -1 when it holds a NUL. */
static int auth_header_string(json_object *header, const char *key, const char **s, size_t *len)
{
    json_object *v;
    int n;

    *s = NULL;
    *len = 0;
    if (!json_object_object_get_ex(header, key, &v) || !json_object_is_type(v, json_type_string))
        return 0;
    n = json_object_get_string_len(v);
    if (n < 0)
        return -1;
    if (memchr(json_object_get_string(v), '\0', (size_t)n) != NULL)
        return -1;
    *s = json_object_get_string(v);
    *len = (size_t)n;
    return 0;
}

int auth_jwt_parse(const char *token, size_t len, auth_jwt *out, char *why, size_t whylen)
{
    const char *dot1, *dot2, *reason = "bad token";
    size_t hlen, plen, slen, alg_len;
    enum auth_seg_err err;

    if (out == NULL) {
        auth_why(why, whylen, "bad arguments");
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (token == NULL || len == 0) {
        auth_why(why, whylen, "empty token");
        return -1;
    }
    if (len > AUTH_MAX_TOKEN) {
        auth_why(why, whylen, "token too long");
        return -1;
    }
    dot1 = memchr(token, '.', len);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
        auth_why(why, whylen, "three segments expected");
        return -1;
    }
    hlen = (size_t)(dot1 - token);
    plen = (size_t)(dot2 - dot1 - 1);
    slen = len - (size_t)(dot2 + 1 - token);
    if (hlen == 0 || plen == 0) {
        auth_why(why, whylen, "empty segment");
        return -1;
    }

    err = auth_segment_object(token, hlen, &out->header);
    if (err != AUTH_SEG_OK) {
        reason = auth_seg_reason(err, 1);
        goto fail;
    }
    err = auth_segment_object(dot1 + 1, plen, &out->payload);
    if (err != AUTH_SEG_OK) {
        reason = auth_seg_reason(err, 0);
        goto fail;
    }
    switch (auth_b64url_decode(dot2 + 1, slen, &out->sig, &out->sig_len)) {
    case 0:
        break;
    case -2:
        reason = "out of memory";
        goto fail;
    default:
        reason = "signature is not base64url";
        goto fail;
    }
    if (auth_header_string(out->header, "alg", &out->alg, &alg_len) != 0 ||
        auth_header_string(out->header, "kid", &out->kid, &out->kid_len) != 0) {
        reason = "NUL byte in header";
        goto fail;
    }
    out->signing_input = token;
    out->signing_input_len = (size_t)(dot2 - token);
    out->has_empty_sig = slen == 0;
    return 0;

fail:
    auth_jwt_free(out);
    auth_why(why, whylen, reason);
    return -1;
}

void auth_jwt_free(auth_jwt *j)
{
    if (j == NULL)
        return;
    json_object_put(j->header);
    json_object_put(j->payload);
    free(j->sig);
    memset(j, 0, sizeof(*j));
}
