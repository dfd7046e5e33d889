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

/* The 6-bit value of each character of the base64url alphabet, with
 * AUTH_B64_OK set. Every other byte keeps the default 0, which lacks
 * AUTH_B64_OK, so no byte outside the alphabet can decode (one table
 * lookup per character instead of a chain of range tests: the decoding is
 * on every verified token). */
#define AUTH_B64_OK 0x40
static const unsigned char auth_b64url_table[256] = {
    ['A'] = 0 | AUTH_B64_OK,  ['B'] = 1 | AUTH_B64_OK,  ['C'] = 2 | AUTH_B64_OK,
    ['D'] = 3 | AUTH_B64_OK,  ['E'] = 4 | AUTH_B64_OK,  ['F'] = 5 | AUTH_B64_OK,
    ['G'] = 6 | AUTH_B64_OK,  ['H'] = 7 | AUTH_B64_OK,  ['I'] = 8 | AUTH_B64_OK,
    ['J'] = 9 | AUTH_B64_OK,  ['K'] = 10 | AUTH_B64_OK, ['L'] = 11 | AUTH_B64_OK,
    ['M'] = 12 | AUTH_B64_OK, ['N'] = 13 | AUTH_B64_OK, ['O'] = 14 | AUTH_B64_OK,
    ['P'] = 15 | AUTH_B64_OK, ['Q'] = 16 | AUTH_B64_OK, ['R'] = 17 | AUTH_B64_OK,
    ['S'] = 18 | AUTH_B64_OK, ['T'] = 19 | AUTH_B64_OK, ['U'] = 20 | AUTH_B64_OK,
    ['V'] = 21 | AUTH_B64_OK, ['W'] = 22 | AUTH_B64_OK, ['X'] = 23 | AUTH_B64_OK,
    ['Y'] = 24 | AUTH_B64_OK, ['Z'] = 25 | AUTH_B64_OK, ['a'] = 26 | AUTH_B64_OK,
    ['b'] = 27 | AUTH_B64_OK, ['c'] = 28 | AUTH_B64_OK, ['d'] = 29 | AUTH_B64_OK,
    ['e'] = 30 | AUTH_B64_OK, ['f'] = 31 | AUTH_B64_OK, ['g'] = 32 | AUTH_B64_OK,
    ['h'] = 33 | AUTH_B64_OK, ['i'] = 34 | AUTH_B64_OK, ['j'] = 35 | AUTH_B64_OK,
    ['k'] = 36 | AUTH_B64_OK, ['l'] = 37 | AUTH_B64_OK, ['m'] = 38 | AUTH_B64_OK,
    ['n'] = 39 | AUTH_B64_OK, ['o'] = 40 | AUTH_B64_OK, ['p'] = 41 | AUTH_B64_OK,
    ['q'] = 42 | AUTH_B64_OK, ['r'] = 43 | AUTH_B64_OK, ['s'] = 44 | AUTH_B64_OK,
    ['t'] = 45 | AUTH_B64_OK, ['u'] = 46 | AUTH_B64_OK, ['v'] = 47 | AUTH_B64_OK,
    ['w'] = 48 | AUTH_B64_OK, ['x'] = 49 | AUTH_B64_OK, ['y'] = 50 | AUTH_B64_OK,
    ['z'] = 51 | AUTH_B64_OK, ['0'] = 52 | AUTH_B64_OK, ['1'] = 53 | AUTH_B64_OK,
    ['2'] = 54 | AUTH_B64_OK, ['3'] = 55 | AUTH_B64_OK, ['4'] = 56 | AUTH_B64_OK,
    ['5'] = 57 | AUTH_B64_OK, ['6'] = 58 | AUTH_B64_OK, ['7'] = 59 | AUTH_B64_OK,
    ['8'] = 60 | AUTH_B64_OK, ['9'] = 61 | AUTH_B64_OK, ['-'] = 62 | AUTH_B64_OK,
    ['_'] = 63 | AUTH_B64_OK,
};

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

/* Whether the n bytes at s are all visible ASCII (0x21..0x7e): eight at a
 * time (a token is about 1 kB and is checked on every request), then one
 * at a time. In each 64-bit word, (x - 0x21..) & ~x & 0x80.. is non-zero
 * exactly when some byte is below 0x21 and ((x + 0x01..) | x) & 0x80.. when
 * some byte is above 0x7e (the "hasless" and "hasmore" word tests). */
static int auth_is_visible_ascii(const char *s, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t x;

        memcpy(&x, s + i, sizeof(x));
        if ((((x - ones * 0x21) & ~x) | (x + ones) | x) & highs)
            return 0;
    }
    for (; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

int auth_bearer_parse(const char *header, const char **token, size_t *len)
{
    const char *p;
    size_t n;

    if (header == NULL || token == NULL || len == NULL)
        return -1;
    /* Stops at the first byte that differs, so never past a short
     * header's NUL ("bearer" holds none). */
    if (!auth_ascii_ieq(header, "bearer", 6))
        return -1;
    p = header + 6;
    /* RFC 6750: 1*SP between the scheme and the token; tabs are not SP. */
    if (*p != ' ')
        return -1;
    while (*p == ' ')
        p++;
    n = strlen(p);
    if (n == 0 || !auth_is_visible_ascii(p, n))
        return -1;
    *token = p;
    *len = n;
    return 0;
}

/* The room auth_b64url_decode_to needs for len characters. */
#define AUTH_B64_DECODED_MAX(len) ((len) / 4 * 3 + 2)

/* Strict base64url (see auth_b64url_decode) of len characters into buf,
 * which has room for AUTH_B64_DECODED_MAX(len) bytes: 0 and *outlen, or
 * -1. Validates and decodes in one pass, four characters at a time; buf
 * may hold garbage on failure. */
static int auth_b64url_decode_to(const char *in, size_t len, unsigned char *buf, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    const unsigned char *t = auth_b64url_table;
    size_t n = 0, i, full = len - len % 4;
    unsigned ok = AUTH_B64_OK;

    if (len % 4 == 1)
        return -1;
    for (i = 0; i < full; i += 4) {
        unsigned a = t[s[i]], b = t[s[i + 1]], c = t[s[i + 2]], d = t[s[i + 3]];
        uint32_t v = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 |
                     (uint32_t)(c & 63) << 6 | (uint32_t)(d & 63);

        ok &= a & b & c & d;
        buf[n] = (unsigned char)(v >> 16);
        buf[n + 1] = (unsigned char)(v >> 8);
        buf[n + 2] = (unsigned char)v;
        n += 3;
    }
    /* Only one encoding per value: the bits of the last character that
     * fall past the final byte must be zero. */
    if (len - full == 2) {
        unsigned a = t[s[i]], b = t[s[i + 1]];

        ok &= a & b;
        if ((b & 0x0f) != 0)
            return -1;
        buf[n++] = (unsigned char)((a & 63) << 2 | (b & 63) >> 4);
    } else if (len - full == 3) {
        unsigned a = t[s[i]], b = t[s[i + 1]], c = t[s[i + 2]];

        ok &= a & b & c;
        if ((c & 0x03) != 0)
            return -1;
        buf[n++] = (unsigned char)((a & 63) << 2 | (b & 63) >> 4);
        buf[n++] = (unsigned char)((b & 0x0f) << 4 | (c & 63) >> 2);
    }
    if (ok == 0)
        return -1;
    *outlen = n;
    return 0;
}

int auth_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    unsigned char *buf;
    size_t n = 0;

    if (out == NULL || outlen == NULL || (in == NULL && len > 0))
        return -1;
    *out = NULL;
    *outlen = 0;
    if (len % 4 == 1)
        return -1;
    buf = malloc(AUTH_B64_DECODED_MAX(len) + 1);
    if (buf == NULL)
        return -2;
    if (auth_b64url_decode_to(in, len, buf, &n) != 0) {
        free(buf);
        return -1;
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

/* Segments whose JSON text fits here are decoded on the stack (a Firebase
 * ID token's payload is under 1 kB); longer ones in a malloc'd buffer. */
#define AUTH_SEG_STACK 4096

/* Decodes one base64url segment holding a JSON object into *obj, with tok
 * (made by the caller, shared by the header and the payload: reset here). */
static enum auth_seg_err auth_segment_object(json_tokener *tok, const char *seg, size_t len,
                                             json_object **obj)
{
    enum auth_seg_err err = AUTH_SEG_NOT_JSON;
    unsigned char stackbuf[AUTH_SEG_STACK], *raw = stackbuf, *heap = NULL;
    size_t rawlen = 0;
    json_object *o = NULL;

    *obj = NULL;
    if (len % 4 == 1)
        return AUTH_SEG_BASE64;
    if (AUTH_B64_DECODED_MAX(len) > sizeof(stackbuf)) {
        heap = malloc(AUTH_B64_DECODED_MAX(len));
        if (heap == NULL)
            return AUTH_SEG_NOMEM;
        raw = heap;
    }
    if (auth_b64url_decode_to(seg, len, raw, &rawlen) != 0) {
        err = AUTH_SEG_BASE64;
        goto done;
    }
    /* JSON text never holds a raw NUL; json-c would stop short at one. */
    if (rawlen > INT32_MAX || memchr(raw, '\0', rawlen) != NULL)
        goto done;
    json_tokener_reset(tok);
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
    free(heap);
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
    json_tokener *tok = NULL;

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

    /* One tokener for both segments. */
    tok = json_tokener_new_ex(AUTH_MAX_JSON_DEPTH);
    if (tok == NULL) {
        reason = "out of memory";
        goto fail;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    err = auth_segment_object(tok, token, hlen, &out->header);
    if (err != AUTH_SEG_OK) {
        reason = auth_seg_reason(err, 1);
        goto fail;
    }
    err = auth_segment_object(tok, dot1 + 1, plen, &out->payload);
    if (err != AUTH_SEG_OK) {
        reason = auth_seg_reason(err, 0);
        goto fail;
    }
    json_tokener_free(tok);
    tok = NULL;
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
    if (tok != NULL) /* json-c does not accept NULL here */
        json_tokener_free(tok);
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
