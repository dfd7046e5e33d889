#include "config.h"

#include <string.h>
#include <strings.h>

#include "http_parse.h"

/* Character classes: a token character (RFC 9110 §5.6.2), a field value
 * character (VCHAR, obs-text, SP, HTAB). */
enum { LX_C_TCHAR = 1, LX_C_VALUE = 2 };
static unsigned char lx_cclass[256];

static void lx_cclass_init(void)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (lx_cclass['a'] != 0)
        return;
    for (int c = 0; c < 256; c++) {
        int is_t = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c != 0 && strchr(extra, c) != NULL);
        int is_v = c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
        lx_cclass[c] = (unsigned char)((is_t ? LX_C_TCHAR : 0) | (is_v ? LX_C_VALUE : 0));
    }
}

static int lx_is_tchar(unsigned char c)
{
    return (lx_cclass[c] & LX_C_TCHAR) != 0;
}

static int lx_is_value_char(unsigned char c)
{
    return (lx_cclass[c] & LX_C_VALUE) != 0;
}

static int lx_is_hex(unsigned char c, unsigned *v)
{
    if (c >= '0' && c <= '9')
        *v = c - '0';
    else if (c >= 'a' && c <= 'f')
        *v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        *v = c - 'A' + 10;
    else
        return 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* The end of a head                                                   */

int lx_head_find_end(const char *p, size_t len, size_t max_head, lx_head_scan *st, size_t *end,
                     int *status)
{
    size_t i = st->pos;

    while (i < len) {
        if (!st->has_line && i == st->line_start) {
            /* RFC 9112 §2.2: empty lines before the request line are ignored */
            if (p[i] == '\n') {
                st->skip = st->line_start = ++i;
                continue;
            }
            if (p[i] == '\r') {
                if (i + 1 == len)
                    break;
                if (p[i + 1] == '\n') {
                    i += 2;
                    st->skip = st->line_start = i;
                    continue;
                }
            }
        }
        const char *nl = memchr(p + i, '\n', len - i);
        if (nl == NULL) {
            i = len;
            break;
        }
        size_t q = (size_t)(nl - p);
        if (q + 1 > max_head)
            break; /* this line ends past the limit */
        size_t line_len = q - st->line_start;
        if (line_len > 0 && p[q - 1] == '\r')
            line_len--;
        i = q + 1;
        if (!st->has_line) {
            st->has_line = 1;
        } else if (line_len == 0) {
            st->pos = i;
            *end = i;
            return LX_HEAD_DONE;
        }
        st->line_start = i;
    }
    st->pos = i;
    if (len >= max_head) {
        *status = st->has_line ? 431 : 414;
        return LX_HEAD_BAD;
    }
    return LX_HEAD_PARTIAL;
}

/* ------------------------------------------------------------------ */
/* The head                                                            */

static int lx_head_bad(lx_head *h, int status, const char *code, const char *message)
{
    h->status = status;
    h->code = code;
    h->message = message;
    return LX_HEAD_BAD;
}

/* The next line from *pos: [*ls, *le) without its CR LF; *pos moves past it.
 * 0 when a bare CR is inside the line. The head is complete, so a LF is
 * always found. */
static int lx_head_line(const char *p, size_t len, size_t *pos, size_t *ls, size_t *le)
{
    const char *nl = memchr(p + *pos, '\n', len - *pos);
    size_t q = nl ? (size_t)(nl - p) : len;
    *ls = *pos;
    *le = q;
    if (*le > *ls && p[*le - 1] == '\r')
        (*le)--;
    *pos = q + 1;
    return memchr(p + *ls, '\r', *le - *ls) == NULL;
}

static lx_http_method lx_method_of(const char *m, size_t n)
{
    static const struct {
        const char *name;
        lx_http_method m;
    } names[] = {{"GET", LX_M_GET},     {"HEAD", LX_M_HEAD},     {"POST", LX_M_POST},
                 {"PUT", LX_M_PUT},     {"DELETE", LX_M_DELETE}, {"OPTIONS", LX_M_OPTIONS},
                 {"PATCH", LX_M_PATCH}, {"TRACE", LX_M_TRACE},   {"CONNECT", LX_M_CONNECT}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == n && memcmp(names[i].name, m, n) == 0)
            return names[i].m;
    return LX_M_UNKNOWN;
}

static int lx_has_prefix_ci(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && strncasecmp(s, prefix, k) == 0;
}

static int lx_head_request_line(const char *p, size_t ls, size_t le, lx_head *h)
{
    size_t i = ls;

    h->method_off = i;
    while (i < le && lx_is_tchar((unsigned char)p[i]))
        i++;
    h->method_len = i - ls;
    if (h->method_len == 0 || i == le || p[i] != ' ')
        return lx_head_bad(h, 400, "BAD_REQUEST", "malformed request line");
    h->target_off = ++i;
    while (i < le && (unsigned char)p[i] >= 0x21 && (unsigned char)p[i] <= 0x7e)
        i++;
    h->target_len = i - h->target_off;
    if (h->target_len == 0 || i == le || p[i] != ' ')
        return lx_head_bad(h, 400, "BAD_REQUEST", "malformed request line");
    i++;
    const char *v = p + i;
    size_t vlen = le - i;
    if (vlen == 8 && memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1')) {
        h->minor = v[7] - '0';
    } else if (vlen == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' &&
               v[6] == '.' && v[7] >= '0' && v[7] <= '9') {
        return lx_head_bad(h, 505, "HTTP_VERSION_NOT_SUPPORTED",
                           "only HTTP/1.0 and HTTP/1.1 are supported");
    } else {
        return lx_head_bad(h, 400, "BAD_REQUEST", "malformed request line");
    }

    h->method = lx_method_of(p + h->method_off, h->method_len);
    if (h->method == LX_M_UNKNOWN || h->method == LX_M_CONNECT)
        return lx_head_bad(h, 501, "NOT_IMPLEMENTED", "this method is not supported");

    const char *t = p + h->target_off;
    size_t tlen = h->target_len;
    if (t[0] == '/') {
        if (tlen > 1 && t[1] == '/')
            return lx_head_bad(h, 400, "BAD_REQUEST", "malformed request target");
    } else if (tlen == 1 && t[0] == '*') {
        if (h->method != LX_M_OPTIONS)
            return lx_head_bad(h, 400, "BAD_REQUEST", "malformed request target");
    } else if (lx_has_prefix_ci(t, tlen, "http://") || lx_has_prefix_ci(t, tlen, "https://")) {
        h->is_absolute = 1;
    } else {
        return lx_head_bad(h, 400, "BAD_REQUEST", "malformed request target");
    }
    return LX_HEAD_DONE;
}

static int lx_name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Content-Length: 1*DIGIT, no sign, no leading zero, at most 18 digits. */
static int lx_head_length(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 18 || (n > 1 && v[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return 1;
}

static int lx_head_field(const char *p, size_t ls, size_t le, lx_head *h, int *has_host,
                         int *has_te)
{
    size_t i = ls;

    if (p[i] == ' ' || p[i] == '\t')
        return lx_head_bad(h, 400, "BAD_HEADER", "obsolete line folding is not accepted");
    while (i < le && lx_is_tchar((unsigned char)p[i]))
        i++;
    if (i == ls || i == le || p[i] != ':')
        return lx_head_bad(h, 400, "BAD_HEADER", "malformed header field");
    size_t nlen = i - ls;
    const char *name = p + ls;
    size_t vs = i + 1, ve = le;
    for (size_t k = vs; k < ve; k++)
        if (!lx_is_value_char((unsigned char)p[k]))
            return lx_head_bad(h, 400, "BAD_HEADER", "control character in a header field");
    while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
        vs++;
    while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
        ve--;
    const char *v = p + vs;
    size_t vlen = ve - vs;

    if (lx_name_is(name, nlen, "Content-Length")) {
        if (h->has_length)
            return lx_head_bad(h, 400, "BAD_FRAMING", "Content-Length given twice");
        if (memchr(p + ls, '\t', le - ls) != NULL || !lx_head_length(v, vlen, &h->length))
            return lx_head_bad(h, 400, "BAD_FRAMING", "malformed Content-Length");
        h->has_length = 1;
        h->cl_name_off = ls;
    } else if (lx_name_is(name, nlen, "Transfer-Encoding")) {
        if (*has_te)
            return lx_head_bad(h, 400, "BAD_FRAMING", "Transfer-Encoding given twice");
        *has_te = 1;
        if (memchr(p + ls, '\t', le - ls) != NULL || vlen != 7 || memcmp(v, "chunked", 7) != 0)
            return lx_head_bad(h, 400, "BAD_FRAMING",
                               "Transfer-Encoding must be exactly \"chunked\"");
        h->is_chunked = 1;
        h->te_name_off = ls;
    } else if (lx_name_is(name, nlen, "Host")) {
        if (*has_host)
            return lx_head_bad(h, 400, "BAD_HEADER", "Host given twice");
        *has_host = 1;
    } else if (lx_name_is(name, nlen, "Expect")) {
        if (h->minor >= 1) {
            if (vlen != 12 || strncasecmp(v, "100-continue", 12) != 0)
                return lx_head_bad(h, 417, "EXPECTATION_FAILED",
                                   "only Expect: 100-continue is supported");
            h->expects_continue = 1;
        }
    } else if (nlen >= 12 && strncasecmp(name, "X-Lx-Framing", 12) == 0) {
        return lx_head_bad(h, 400, "BAD_HEADER", "reserved header field");
    }
    return LX_HEAD_DONE;
}

int lx_head_parse(const char *p, size_t len, lx_head *h)
{
    size_t pos = 0, ls, le;
    int has_host = 0, has_te = 0;

    lx_cclass_init();
    memset(h, 0, sizeof(*h));
    h->len = len;
    while (pos < len && (p[pos] == '\n' || (p[pos] == '\r' && pos + 1 < len && p[pos + 1] == '\n')))
        pos += p[pos] == '\n' ? 1 : 2;
    if (pos >= len)
        return lx_head_bad(h, 400, "BAD_REQUEST", "malformed request line");
    if (!lx_head_line(p, len, &pos, &ls, &le))
        return lx_head_bad(h, 400, "BAD_REQUEST", "malformed request line");
    if (lx_head_request_line(p, ls, le, h) != LX_HEAD_DONE)
        return LX_HEAD_BAD;
    for (;;) {
        if (pos >= len)
            return lx_head_bad(h, 400, "BAD_REQUEST", "the head has no end");
        if (!lx_head_line(p, len, &pos, &ls, &le))
            return lx_head_bad(h, 400, "BAD_HEADER", "bare CR in a header field");
        if (le == ls)
            break;
        if (lx_head_field(p, ls, le, h, &has_host, &has_te) != LX_HEAD_DONE)
            return LX_HEAD_BAD;
    }
    if (pos != len)
        return lx_head_bad(h, 400, "BAD_REQUEST", "bytes after the head");
    if (h->has_length && h->is_chunked)
        return lx_head_bad(h, 400, "BAD_FRAMING",
                           "both Content-Length and Transfer-Encoding were given");
    if (h->is_chunked && h->minor == 0)
        return lx_head_bad(h, 400, "BAD_FRAMING", "Transfer-Encoding on HTTP/1.0");
    return LX_HEAD_DONE;
}

/* ------------------------------------------------------------------ */
/* Chunked bodies                                                      */

enum {
    CK_SIZE,         /* hex digits of a chunk size */
    CK_EXT,          /* after the size or an extension: BWS then ';', or CR */
    CK_EXT_WS,       /* BWS after the size or an extension: ';' must follow */
    CK_EXT_NAME0,    /* after ';': BWS, then the name's first char */
    CK_EXT_NAME,     /* in the name */
    CK_EXT_AFTER,    /* after the name: CR, or BWS then '=' or ';' */
    CK_EXT_AFTER_WS, /* BWS after the name: '=' or ';' must follow */
    CK_EXT_VAL0,     /* after '=': BWS, then a token or a quoted string */
    CK_EXT_TOKEN,    /* in a token value */
    CK_EXT_QUOTED,   /* in a quoted string */
    CK_EXT_ESC,      /* after a backslash in a quoted string */
    CK_SIZE_LF,      /* CR seen at the end of the size line */
    CK_DATA,         /* in a chunk's data */
    CK_DATA_CR,      /* after the data: CR */
    CK_DATA_LF,      /* after the data: LF */
    CK_TRAILER,      /* start of a trailer line (or the final CRLF) */
    CK_TRAILER_NAME, /* in a trailer field's name */
    CK_TRAILER_VAL,  /* in a trailer field's value */
    CK_TRAILER_LF,   /* CR seen at the end of a trailer line */
    CK_END_LF,       /* CR seen on the final empty line */
    CK_DONE,
    CK_BAD,
};

void lx_chunked_init(lx_chunked *c, size_t trailer_max)
{
    lx_cclass_init();
    memset(c, 0, sizeof(*c));
    c->state = CK_SIZE;
    c->trailer_max = trailer_max;
}

void lx_chunked_took(lx_chunked *c, uint64_t n)
{
    if (c->state != CK_DATA || n > c->size)
        return;
    c->size -= n;
    if (c->size == 0)
        c->state = CK_DATA_CR;
}

static int lx_chunked_fail(lx_chunked *c, const char *why)
{
    c->state = CK_BAD;
    c->message = why;
    return LX_CHUNK_BAD;
}

/* One byte of a chunk-size line (CK_SIZE .. CK_SIZE_LF). Returns -1 to go
 * on, or an LX_CHUNK_* result. A byte that ends one part of the line is
 * looked at again in the state that follows (the `continue`s). */
static int lx_chunked_size_byte(lx_chunked *c, unsigned char b)
{
    unsigned v;

    if (++c->line_len > LX_CHUNK_LINE_MAX)
        return lx_chunked_fail(c, "chunk size line too long");
    for (;;) {
        switch (c->state) {
        case CK_SIZE:
            if (lx_is_hex(b, &v)) {
                if (c->next_size > (UINT64_MAX >> 4))
                    return lx_chunked_fail(c, "chunk size too large");
                c->next_size = (c->next_size << 4) | v;
                c->n_digits = 1;
                return -1;
            }
            if (c->n_digits == 0)
                return lx_chunked_fail(c, "malformed chunk size");
            c->state = CK_EXT;
            continue;
        case CK_EXT:
        case CK_EXT_WS:
            if (b == ' ' || b == '\t') {
                c->state = CK_EXT_WS;
                return -1;
            }
            if (b == ';') {
                c->state = CK_EXT_NAME0;
                return -1;
            }
            if (b == '\r' && c->state == CK_EXT) {
                c->state = CK_SIZE_LF;
                return -1;
            }
            return lx_chunked_fail(c, "malformed chunk extension");
        case CK_EXT_NAME0:
            if (b == ' ' || b == '\t')
                return -1;
            if (!lx_is_tchar(b))
                return lx_chunked_fail(c, "malformed chunk extension");
            c->state = CK_EXT_NAME;
            return -1;
        case CK_EXT_NAME:
            if (lx_is_tchar(b))
                return -1;
            c->state = CK_EXT_AFTER;
            continue;
        case CK_EXT_AFTER:
        case CK_EXT_AFTER_WS:
            if (b == ' ' || b == '\t') {
                c->state = CK_EXT_AFTER_WS;
                return -1;
            }
            if (b == '=') {
                c->state = CK_EXT_VAL0;
                return -1;
            }
            c->state = c->state == CK_EXT_AFTER ? CK_EXT : CK_EXT_WS;
            continue;
        case CK_EXT_VAL0:
            if (b == ' ' || b == '\t')
                return -1;
            if (b == '"') {
                c->state = CK_EXT_QUOTED;
                return -1;
            }
            if (!lx_is_tchar(b))
                return lx_chunked_fail(c, "malformed chunk extension");
            c->state = CK_EXT_TOKEN;
            return -1;
        case CK_EXT_TOKEN:
            if (lx_is_tchar(b))
                return -1;
            c->state = CK_EXT;
            continue;
        case CK_EXT_QUOTED:
            if (b == '"')
                c->state = CK_EXT;
            else if (b == '\\')
                c->state = CK_EXT_ESC;
            else if (!(b == '\t' || b == ' ' || b == 0x21 || (b >= 0x23 && b <= 0x5b) ||
                       (b >= 0x5d && b <= 0x7e) || b >= 0x80))
                return lx_chunked_fail(c, "malformed chunk extension");
            return -1;
        case CK_EXT_ESC:
            if (!(b == '\t' || b == ' ' || (b >= 0x21 && b != 0x7f)))
                return lx_chunked_fail(c, "malformed chunk extension");
            c->state = CK_EXT_QUOTED;
            return -1;
        case CK_SIZE_LF:
            if (b != '\n')
                return lx_chunked_fail(c, "chunk size line not ended by CRLF");
            c->line_len = 0;
            c->n_digits = 0;
            c->size = c->next_size;
            c->next_size = 0;
            if (c->size == 0) {
                c->state = CK_TRAILER;
                return -1;
            }
            if (c->size > UINT64_MAX - c->total)
                return lx_chunked_fail(c, "chunk size too large");
            c->total += c->size;
            c->state = CK_DATA;
            return LX_CHUNK_DATA;
        default:
            return lx_chunked_fail(c, "bad state");
        }
    }
}

/* One byte after the data or in the trailer section. */
static int lx_chunked_tail_byte(lx_chunked *c, unsigned char b)
{
    switch (c->state) {
    case CK_DATA_CR:
        if (b != '\r')
            return lx_chunked_fail(c, "chunk data not followed by CRLF");
        c->state = CK_DATA_LF;
        return -1;
    case CK_DATA_LF:
        if (b != '\n')
            return lx_chunked_fail(c, "chunk data not followed by CRLF");
        c->state = CK_SIZE;
        return -1;
    default:
        break;
    }
    if (++c->trailer_len > c->trailer_max)
        return lx_chunked_fail(c, "trailer section too large");
    switch (c->state) {
    case CK_TRAILER:
        if (b == '\r') {
            c->state = CK_END_LF;
            return -1;
        }
        if (!lx_is_tchar(b))
            return lx_chunked_fail(c, "malformed trailer field");
        c->state = CK_TRAILER_NAME;
        return -1;
    case CK_TRAILER_NAME:
        if (b == ':')
            c->state = CK_TRAILER_VAL;
        else if (!lx_is_tchar(b))
            return lx_chunked_fail(c, "malformed trailer field");
        return -1;
    case CK_TRAILER_VAL:
        if (b == '\r')
            c->state = CK_TRAILER_LF;
        else if (!lx_is_value_char(b))
            return lx_chunked_fail(c, "malformed trailer field");
        return -1;
    case CK_TRAILER_LF:
        if (b != '\n')
            return lx_chunked_fail(c, "trailer line not ended by CRLF");
        c->state = CK_TRAILER;
        return -1;
    case CK_END_LF:
        if (b != '\n')
            return lx_chunked_fail(c, "chunked body not ended by CRLF");
        c->state = CK_DONE;
        return LX_CHUNK_DONE;
    default:
        return lx_chunked_fail(c, "bad state");
    }
}

int lx_chunked_parse(lx_chunked *c, const char *p, size_t len, size_t *used)
{
    size_t i = 0;

    *used = 0;
    if (c->state == CK_BAD)
        return LX_CHUNK_BAD;
    if (c->state == CK_DONE)
        return LX_CHUNK_DONE;
    if (c->state == CK_DATA)
        return LX_CHUNK_DATA;
    while (i < len) {
        unsigned char b = (unsigned char)p[i++];
        int rc = c->state <= CK_SIZE_LF ? lx_chunked_size_byte(c, b) : lx_chunked_tail_byte(c, b);
        if (rc != -1) {
            *used = i;
            return rc;
        }
    }
    *used = i;
    return LX_CHUNK_MORE;
}
