/*
 * Strict HTTP/1.1 request framing (RFC 9112), as the core accepts it: the
 * request head and chunked bodies. Pure functions over bytes, no I/O, no
 * allocation; fuzzed by tests/fuzz/fuzz_http.c.
 *
 * The core runs these before libevent's evhttp sees a request (core/conn.c),
 * so that every request evhttp parses is one these accepted, and so that the
 * core, not evhttp, decides where a body ends. What they refuse:
 *   - a request line that is not METHOD SP TARGET SP HTTP/1.0|1.1 with single
 *     spaces (400), an unknown method or CONNECT (501), another HTTP version
 *     (505), a target that is not "/...", "*" or "http(s)://..." (400);
 *   - a field name that is not a token or is followed by whitespace before
 *     the colon, obs-fold (a line starting with SP/HTAB), control characters
 *     (400); a bare CR anywhere (400);
 *   - ambiguous framing (400 BAD_FRAMING): Content-Length twice, or not
 *     1*DIGIT without a sign or a leading zero; Transfer-Encoding twice or
 *     other than exactly "chunked"; Transfer-Encoding on HTTP/1.0; both
 *     Content-Length and Transfer-Encoding; a framing line with a tab in it;
 *   - Host twice (400); an Expect other than 100-continue (417);
 *   - a head larger than the limit: 414 while the request line is not
 *     complete, 431 after.
 * Lines end in CRLF or LF (RFC 9112 §2.2); empty lines before the request
 * line are skipped. Chunk framing must use CRLF.
 */
#ifndef LX_CORE_HTTP_PARSE_H
#define LX_CORE_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* The two framing field names the core renames in place before evhttp reads
 * a head (same lengths as Content-Length and Transfer-Encoding), so that
 * evhttp never reads a body itself. */
#define LX_HTTP_CL_ALIAS "X-Lx-Framing-1"
#define LX_HTTP_TE_ALIAS "X-Lx-Framing-TE-1"

enum { LX_HEAD_PARTIAL = 0, LX_HEAD_DONE = 1, LX_HEAD_BAD = 2 };

/* Where a scan for the end of a head stopped: resumable over a growing
 * buffer whose earlier bytes do not change. Zero it to start. */
typedef struct lx_head_scan {
    size_t pos;        /* next byte to look at */
    size_t line_start; /* start of the current line */
    size_t skip;       /* bytes of empty lines before the request line */
    int has_line;      /* the request line is complete */
} lx_head_scan;

/* Looks for the blank line ending a head in p[0..len), from where `st` left
 * off. Returns LX_HEAD_DONE with *end set to the length of the head (its
 * blank line included, st->skip leading bytes included), LX_HEAD_PARTIAL
 * when more bytes are needed, or LX_HEAD_BAD when no head ends within
 * max_head bytes (with *status 414 or 431). A bare CR is left to
 * lx_head_parse. */
int lx_head_find_end(const char *p, size_t len, size_t max_head, lx_head_scan *st, size_t *end,
                     int *status);

typedef enum lx_http_method {
    LX_M_UNKNOWN = 0,
    LX_M_GET,
    LX_M_HEAD,
    LX_M_POST,
    LX_M_PUT,
    LX_M_DELETE,
    LX_M_OPTIONS,
    LX_M_PATCH,
    LX_M_TRACE,
    LX_M_CONNECT,
} lx_http_method;

/* A parsed head. Offsets are from the start of the buffer given to
 * lx_head_parse (leading empty lines included). */
typedef struct lx_head {
    size_t len; /* the whole head, blank line included */
    size_t method_off, method_len;
    size_t target_off, target_len;
    lx_http_method method;
    int minor;            /* HTTP/1.minor: 0 or 1 */
    int has_length;       /* Content-Length was given */
    uint64_t length;      /* its value */
    int is_chunked;       /* Transfer-Encoding: chunked */
    int expects_continue; /* Expect: 100-continue on HTTP/1.1 */
    int is_absolute;      /* the target is absolute-form (http://...) */
    size_t cl_name_off;   /* where the Content-Length name is (has_length) */
    size_t te_name_off;   /* where the Transfer-Encoding name is (is_chunked) */
    /* On LX_HEAD_BAD: the status to answer and its JSON error, static strings. */
    int status;
    const char *code;
    const char *message;
} lx_head;

/* Parses and checks the complete head p[0..len) (as found by
 * lx_head_find_end; len is its *end). Returns LX_HEAD_DONE, or LX_HEAD_BAD
 * with h->status/code/message set (the fields parsed so far stay set, so
 * that the method and target can be logged when the request line was
 * sound). */
int lx_head_parse(const char *p, size_t len, lx_head *h);

/* Does the request have a body to read? (a Content-Length above 0, or
 * chunked) */
static inline int lx_head_has_body(const lx_head *h)
{
    return h->is_chunked || (h->has_length && h->length > 0);
}

/* ------------------------------------------------------------------ */
/* Chunked bodies                                                      */

enum { LX_CHUNK_MORE = 0, LX_CHUNK_DATA = 1, LX_CHUNK_DONE = 2, LX_CHUNK_BAD = 3 };

#define LX_CHUNK_LINE_MAX 4096 /* a chunk-size line, extensions included */

typedef struct lx_chunked {
    int state;
    uint64_t size;      /* data bytes of the current chunk still to come
                           (0 outside a chunk's data) */
    uint64_t next_size; /* the chunk size being read */
    uint64_t total;     /* sum of the chunk sizes announced so far */
    size_t line_len;    /* bytes of the current framing line so far */
    size_t trailer_len; /* bytes of the trailer section so far */
    size_t trailer_max;
    int n_digits;
    const char *message; /* why, on LX_CHUNK_BAD (static) */
} lx_chunked;

/* Starts a chunked body; the trailer section may be at most trailer_max
 * bytes. */
void lx_chunked_init(lx_chunked *c, size_t trailer_max);

/* Reads framing from p[0..len) and sets *used to the framing bytes it
 * consumed (drop them). Returns:
 *   LX_CHUNK_DATA  c->size bytes of data come next (0 bytes consumed when
 *                  already in a chunk's data): take up to that many from
 *                  the stream, then call lx_chunked_took; c->total has
 *                  already grown by the chunk's size, so compare it with
 *                  the body limit before taking anything;
 *   LX_CHUNK_MORE  every byte was framing and more is needed;
 *   LX_CHUNK_DONE  the last chunk and the trailers are complete (bytes after
 *                  *used belong to the next request);
 *   LX_CHUNK_BAD   malformed (c->message says why). */
int lx_chunked_parse(lx_chunked *c, const char *p, size_t len, size_t *used);

/* n data bytes (at most c->size) were taken. */
void lx_chunked_took(lx_chunked *c, uint64_t n);

#endif
