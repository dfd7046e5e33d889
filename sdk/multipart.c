/*
 * A strict multipart/form-data (RFC 7578, RFC 2046) parser over a body in
 * memory, in the SDK's helper library. See <lexiaid/multipart.h> for the
 * contract. The body is the client's:
 * every read is bounded by its length, and finding a delimiter is one
 * memmem over the bytes not yet looked at (linear in the body, whatever
 * the data holds).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* memmem */
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/multipart.h>
#include <lexiaid/utf8.h>
#include <lexiaid/plugin.h>

#define LX_MP_MAX_PARTS 64
#define LX_MP_MAX_HEADERS 16
#define LX_MP_MAX_LINE 8192
#define LX_MP_MAX_BOUNDARY 70
#define LX_MP_NPOS ((size_t)-1)

/* printf-formats into the caller's err[0..errlen) (always NUL-terminated,
 * cut when longer); nothing when err is NULL or errlen is 0. */
static void lx_mp_errf(char *err, size_t errlen, const char *fmt, ...) LX_PRINTF(3, 4);

static void lx_mp_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int lx_mp_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 9110's tchar: the bytes of a token. */
static int lx_mp_is_tchar(unsigned char c)
{
    return lx_mp_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046's bchars: the bytes a boundary is made of. */
static int lx_mp_is_bchar(unsigned char c)
{
    return lx_mp_is_alnum(c) || (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

static int lx_mp_is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Whether a[0..n) equals the NUL-terminated lower-case word b, ASCII case
 * folded. */
static int lx_mp_ieq(const char *a, size_t n, const char *b)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i];

        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (b[i] == '\0' || x != (unsigned char)b[i])
            return 0;
    }
    return b[n] == '\0';
}

static int lx_mp_boundary_ok(const char *b, size_t n)
{
    if (n < 1 || n > LX_MP_MAX_BOUNDARY || b[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!lx_mp_is_bchar((unsigned char)b[i]))
            return 0;
    return 1;
}

/* The next parameter of a header value s[*pos..len): ";" OWS name OWS "="
 * OWS (token / quoted-string) OWS. Quoted strings lose their quotes and
 * backslash escapes; the value is a malloc'd NUL-terminated copy.
 * 1 with *name, *name_len and *value set; 0 at the end (an empty trailing
 * ";" included); -1 on a syntax error; -2 when out of memory. */
static int lx_mp_next_param(const char *s, size_t len, size_t *pos, const char **name,
                            size_t *name_len, char **value)
{
    size_t i = *pos, start;
    char *v;
    size_t o = 0;

    *value = NULL;
    while (i < len && lx_mp_is_ows((unsigned char)s[i]))
        i++;
    if (i == len)
        return 0;
    if (s[i] != ';')
        return -1;
    i++;
    while (i < len && lx_mp_is_ows((unsigned char)s[i]))
        i++;
    if (i == len) {
        *pos = i;
        return 0;
    }
    start = i;
    while (i < len && lx_mp_is_tchar((unsigned char)s[i]))
        i++;
    if (i == start)
        return -1;
    *name = s + start;
    *name_len = i - start;
    while (i < len && lx_mp_is_ows((unsigned char)s[i]))
        i++;
    if (i == len || s[i] != '=')
        return -1;
    i++;
    while (i < len && lx_mp_is_ows((unsigned char)s[i]))
        i++;
    if (i == len)
        return -1;

    /* The decoded value is never longer than its text. */
    v = malloc(len - i + 1);
    if (v == NULL)
        return -2;
    if (s[i] == '"') {
        i++;
        for (;;) {
            if (i == len)
                goto bad; /* no closing quote */
            if (s[i] == '"') {
                i++;
                break;
            }
            if (s[i] == '\\') {
                if (++i == len)
                    goto bad;
            }
            v[o++] = s[i++];
        }
    } else {
        while (i < len && lx_mp_is_tchar((unsigned char)s[i]))
            v[o++] = s[i++];
        if (o == 0)
            goto bad;
    }
    v[o] = '\0';
    *value = v;
    *pos = i;
    return 1;
bad:
    free(v);
    return -1;
}

/* The media type at the start of s[0..len), up to ";" or white space:
 * sets *end past it. */
static void lx_mp_media_type(const char *s, size_t len, size_t *start, size_t *end)
{
    size_t i = 0;

    while (i < len && lx_mp_is_ows((unsigned char)s[i]))
        i++;
    *start = i;
    while (i < len && s[i] != ';' && !lx_mp_is_ows((unsigned char)s[i]))
        i++;
    *end = i;
}

int lx_mp_boundary(const char *content_type, char **boundary, char *err, size_t errlen)
{
    const char *name;
    size_t len, pos, ts, te, nl;
    char *v, *found = NULL;
    int r;

    *boundary = NULL;
    if (content_type == NULL) {
        lx_mp_errf(err, errlen, "no Content-Type; expected multipart/form-data");
        return LX_EINVAL;
    }
    len = strlen(content_type);
    lx_mp_media_type(content_type, len, &ts, &te);
    if (!lx_mp_ieq(content_type + ts, te - ts, "multipart/form-data")) {
        lx_mp_errf(err, errlen, "the Content-Type is not multipart/form-data");
        return LX_EINVAL;
    }
    pos = te;
    while ((r = lx_mp_next_param(content_type, len, &pos, &name, &nl, &v)) == 1) {
        if (!lx_mp_ieq(name, nl, "boundary")) {
            free(v);
            continue;
        }
        if (found != NULL) {
            free(v);
            free(found);
            lx_mp_errf(err, errlen, "two boundary parameters in the Content-Type");
            return LX_EINVAL;
        }
        found = v;
    }
    if (r == -2) {
        free(found);
        lx_mp_errf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    if (r == -1) {
        free(found);
        lx_mp_errf(err, errlen, "malformed Content-Type parameters");
        return LX_EINVAL;
    }
    if (found == NULL) {
        lx_mp_errf(err, errlen, "no boundary in the Content-Type");
        return LX_EINVAL;
    }
    if (!lx_mp_boundary_ok(found, strlen(found))) {
        free(found);
        lx_mp_errf(err, errlen,
                   "invalid multipart boundary (1 to 70 characters of RFC 2046's set)");
        return LX_EINVAL;
    }
    *boundary = found;
    return LX_OK;
}

/* Whether the bytes from j on end a delimiter line: "--" (the close
 * delimiter; what follows is the epilogue) or transport padding (SP, HTAB)
 * and CRLF. The index after it, or NPOS when the boundary text at j's left
 * is not a delimiter at all (data that only looks like one). */
static size_t lx_mp_delim_end(const char *b, size_t len, size_t j, int *is_close)
{
    if (len - j >= 2 && b[j] == '-' && b[j + 1] == '-') {
        *is_close = 1;
        return j + 2;
    }
    while (j < len && lx_mp_is_ows((unsigned char)b[j]))
        j++;
    if (len - j >= 2 && b[j] == '\r' && b[j + 1] == '\n') {
        *is_close = 0;
        return j + 2;
    }
    return LX_MP_NPOS;
}

/* The first delimiter (delim[0..dlen) is CRLF "--" boundary) at or after
 * `from`: its index in *at, the index after its line in *next. 0 when
 * there is none. Candidates never overlap (CR occurs in delim only at its
 * start), so the whole search is linear in len. */
static int lx_mp_find(const char *b, size_t len, size_t from, const char *delim, size_t dlen,
                      size_t *at, size_t *next, int *is_close)
{
    while (from < len && len - from >= dlen) {
        const char *hit = memmem(b + from, len - from, delim, dlen);
        size_t i, e;

        if (hit == NULL)
            return 0;
        i = (size_t)(hit - b);
        e = lx_mp_delim_end(b, len, i + dlen, is_close);
        if (e != LX_MP_NPOS) {
            *at = i;
            *next = e;
            return 1;
        }
        from = i + 1;
    }
    return 0;
}

/* What one part's headers said. */
typedef struct {
    int has_disposition, has_type;
    char *name, *filename, *filename_ext, *content_type;
} lx_mp_hdrs;

static void lx_mp_hdrs_free(lx_mp_hdrs *h)
{
    free(h->name);
    free(h->filename);
    free(h->filename_ext);
    free(h->content_type);
    memset(h, 0, sizeof(*h));
}

static int lx_mp_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes an RFC 8187 (RFC 5987) ext-value, charset'lang'pct-encoded, in
 * place. 1 when it is UTF-8 (s then holds the bytes), 0 for another
 * charset (to be ignored), -1 when malformed. */
static int lx_mp_ext_value(char *s)
{
    char *q1 = strchr(s, '\''), *q2, *p;
    size_t o = 0;
    int is_utf8;

    if (q1 == NULL || (q2 = strchr(q1 + 1, '\'')) == NULL)
        return -1;
    is_utf8 = lx_mp_ieq(s, (size_t)(q1 - s), "utf-8");
    for (p = q2 + 1; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c == '%') {
            int hi = lx_mp_hex((unsigned char)p[1]), lo;

            if (hi < 0 || (lo = lx_mp_hex((unsigned char)p[2])) < 0)
                return -1;
            s[o++] = (char)(hi << 4 | lo);
            p += 2;
        } else if (lx_mp_is_alnum(c) || strchr("!#$&+-.^_`|~", c) != NULL) {
            s[o++] = (char)c;
        } else {
            return -1;
        }
    }
    if (!is_utf8)
        return 0;
    /* memchr of NUL: a %00 would cut the name short; refused below. */
    if (memchr(s, '\0', o) != NULL || !lx_utf8_valid(s, o))
        return -1;
    s[o] = '\0';
    return 1;
}

/* Parses a Content-Disposition value into h. LX_OK, LX_EINVAL (message in
 * err, prefixed "part N: ") or LX_ENOMEM. */
static int lx_mp_disposition(const char *s, size_t len, size_t part, lx_mp_hdrs *h, char *err,
                             size_t errlen)
{
    const char *name;
    size_t pos, ts, te, nl;
    char *v;
    int r;

    lx_mp_media_type(s, len, &ts, &te);
    if (!lx_mp_ieq(s + ts, te - ts, "form-data")) {
        lx_mp_errf(err, errlen, "part %zu: Content-Disposition is not form-data", part);
        return LX_EINVAL;
    }
    pos = te;
    while ((r = lx_mp_next_param(s, len, &pos, &name, &nl, &v)) == 1) {
        char **slot = NULL;

        if (lx_mp_ieq(name, nl, "name"))
            slot = &h->name;
        else if (lx_mp_ieq(name, nl, "filename"))
            slot = &h->filename;
        else if (lx_mp_ieq(name, nl, "filename*"))
            slot = &h->filename_ext;
        if (slot == NULL) {
            free(v);
            continue;
        }
        if (*slot != NULL) {
            free(v);
            lx_mp_errf(err, errlen, "part %zu: a Content-Disposition parameter is repeated", part);
            return LX_EINVAL;
        }
        *slot = v;
    }
    if (r == -2) {
        lx_mp_errf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    if (r == -1) {
        lx_mp_errf(err, errlen, "part %zu: malformed Content-Disposition", part);
        return LX_EINVAL;
    }
    if (h->filename_ext != NULL) {
        r = lx_mp_ext_value(h->filename_ext);
        if (r < 0) {
            lx_mp_errf(err, errlen, "part %zu: malformed filename* in Content-Disposition", part);
            return LX_EINVAL;
        }
        if (r == 0) {
            /* Another charset than UTF-8: filename= is the name. */
            free(h->filename_ext);
            h->filename_ext = NULL;
        }
    }
    return LX_OK;
}

/* One header line s[0..len) (no CRLF) of part `part` into h. */
static int lx_mp_header(const char *s, size_t len, size_t part, lx_mp_hdrs *h, char *err,
                        size_t errlen)
{
    size_t i = 0, vs, ve;

    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            lx_mp_errf(err, errlen, "part %zu: control character in a header", part);
            return LX_EINVAL;
        }
    }
    if (lx_mp_is_ows((unsigned char)s[0])) {
        lx_mp_errf(err, errlen, "part %zu: folded header lines are not accepted", part);
        return LX_EINVAL;
    }
    while (i < len && lx_mp_is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i == len || s[i] != ':') {
        lx_mp_errf(err, errlen, "part %zu: malformed header line", part);
        return LX_EINVAL;
    }
    vs = i + 1;
    while (vs < len && lx_mp_is_ows((unsigned char)s[vs]))
        vs++;
    ve = len;
    while (ve > vs && lx_mp_is_ows((unsigned char)s[ve - 1]))
        ve--;

    if (lx_mp_ieq(s, i, "content-disposition")) {
        if (h->has_disposition) {
            lx_mp_errf(err, errlen, "part %zu: two Content-Disposition headers", part);
            return LX_EINVAL;
        }
        h->has_disposition = 1;
        return lx_mp_disposition(s + vs, ve - vs, part, h, err, errlen);
    }
    if (lx_mp_ieq(s, i, "content-type")) {
        if (h->has_type) {
            lx_mp_errf(err, errlen, "part %zu: two Content-Type headers", part);
            return LX_EINVAL;
        }
        h->has_type = 1;
        h->content_type = strndup(s + vs, ve - vs);
        if (h->content_type == NULL) {
            lx_mp_errf(err, errlen, "out of memory");
            return LX_ENOMEM;
        }
    }
    return LX_OK; /* other headers (Content-Transfer-Encoding, ...) carry nothing we use */
}

/* Reads the header block of part `part` from b[*pos..len), up to and past
 * its empty line. */
static int lx_mp_headers(const char *b, size_t len, size_t *pos, size_t part, lx_mp_hdrs *h,
                         char *err, size_t errlen)
{
    size_t p = *pos, n_headers = 0;
    int rc;

    for (;;) {
        size_t window = len - p, line;
        const char *crlf;

        if (window > LX_MP_MAX_LINE + 2)
            window = LX_MP_MAX_LINE + 2;
        crlf = memmem(b + p, window, "\r\n", 2);
        if (crlf == NULL) {
            if (window == LX_MP_MAX_LINE + 2)
                lx_mp_errf(err, errlen, "part %zu: a header line is longer than 8 KiB", part);
            else
                lx_mp_errf(err, errlen, "part %zu: the body ends inside the headers", part);
            return LX_EINVAL;
        }
        line = (size_t)(crlf - (b + p));
        if (line == 0) {
            *pos = p + 2;
            break;
        }
        if (++n_headers > LX_MP_MAX_HEADERS) {
            lx_mp_errf(err, errlen, "part %zu: more than %d headers", part, LX_MP_MAX_HEADERS);
            return LX_EINVAL;
        }
        rc = lx_mp_header(b + p, line, part, h, err, errlen);
        if (rc != LX_OK)
            return rc;
        p += line + 2;
    }

    if (!h->has_disposition) {
        lx_mp_errf(err, errlen, "part %zu: no Content-Disposition header", part);
        return LX_EINVAL;
    }
    if (h->name == NULL) {
        lx_mp_errf(err, errlen, "part %zu: no name in Content-Disposition", part);
        return LX_EINVAL;
    }
    if (h->name[0] == '\0') {
        lx_mp_errf(err, errlen, "part %zu: empty name in Content-Disposition", part);
        return LX_EINVAL;
    }
    if (!lx_utf8_valid(h->name, strlen(h->name))) {
        lx_mp_errf(err, errlen, "part %zu: the name is not valid UTF-8", part);
        return LX_EINVAL;
    }
    if (h->filename_ext != NULL) {
        free(h->filename);
        h->filename = h->filename_ext;
        h->filename_ext = NULL;
    }
    if (h->filename != NULL && !lx_utf8_valid(h->filename, strlen(h->filename))) {
        lx_mp_errf(err, errlen, "part %zu: the file name is not valid UTF-8", part);
        return LX_EINVAL;
    }
    return LX_OK;
}

int lx_mp_parse(const char *body, size_t len, const char *boundary, lx_mp *out, char *err,
                size_t errlen)
{
    char delim[4 + LX_MP_MAX_BOUNDARY];
    size_t blen, dlen, pos = 0, at = 0, cap = 0;
    lx_mp mp = {NULL, 0};
    lx_mp_hdrs h;
    int is_close = 0, rc;

    out->parts = NULL;
    out->n_parts = 0;
    memset(&h, 0, sizeof(h));
    if (boundary == NULL || (blen = strlen(boundary)) == 0 || !lx_mp_boundary_ok(boundary, blen)) {
        lx_mp_errf(err, errlen, "invalid multipart boundary");
        return LX_EINVAL;
    }
    if (body == NULL)
        len = 0;
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    dlen = 4 + blen;

    /* The first dash-boundary: at the very start, or after the preamble
     * and its CRLF. */
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
        pos = lx_mp_delim_end(body, len, dlen - 2, &is_close);
    else
        pos = LX_MP_NPOS;
    if (pos == LX_MP_NPOS && !lx_mp_find(body, len, 0, delim, dlen, &at, &pos, &is_close)) {
        lx_mp_errf(err, errlen, "no multipart boundary line in the body");
        return LX_EINVAL;
    }
    if (is_close) {
        lx_mp_errf(err, errlen, "no parts before the closing boundary");
        return LX_EINVAL;
    }

    while (!is_close) {
        size_t part = mp.n_parts + 1, data;
        lx_mp_part *pp;

        if (mp.n_parts == LX_MP_MAX_PARTS) {
            lx_mp_errf(err, errlen, "more than %d parts", LX_MP_MAX_PARTS);
            rc = LX_EINVAL;
            goto fail;
        }
        rc = lx_mp_headers(body, len, &pos, part, &h, err, errlen);
        if (rc != LX_OK)
            goto fail;
        data = pos;
        if (!lx_mp_find(body, len, data, delim, dlen, &at, &pos, &is_close)) {
            lx_mp_errf(err, errlen, "part %zu: the body ends without the closing boundary", part);
            rc = LX_EINVAL;
            goto fail;
        }
        if (mp.n_parts == cap) {
            size_t ncap = cap == 0 ? 4 : cap * 2;
            lx_mp_part *np = realloc(mp.parts, ncap * sizeof(*np));

            if (np == NULL) {
                lx_mp_errf(err, errlen, "out of memory");
                rc = LX_ENOMEM;
                goto fail;
            }
            mp.parts = np;
            cap = ncap;
        }
        pp = &mp.parts[mp.n_parts++];
        pp->name = h.name;
        pp->filename = h.filename;
        pp->content_type = h.content_type;
        pp->data = body + data;
        pp->len = at - data;
        free(h.filename_ext);
        memset(&h, 0, sizeof(h));
    }
    *out = mp;
    return LX_OK;

fail:
    lx_mp_hdrs_free(&h);
    lx_mp_free(&mp);
    return rc;
}

const lx_mp_part *lx_mp_get(const lx_mp *mp, const char *name)
{
    if (mp == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < mp->n_parts; i++)
        if (strcmp(mp->parts[i].name, name) == 0)
            return &mp->parts[i];
    return NULL;
}

void lx_mp_free(lx_mp *mp)
{
    if (mp == NULL)
        return;
    for (size_t i = 0; i < mp->n_parts; i++) {
        free(mp->parts[i].name);
        free(mp->parts[i].filename);
        free(mp->parts[i].content_type);
    }
    free(mp->parts);
    mp->parts = NULL;
    mp->n_parts = 0;
}
