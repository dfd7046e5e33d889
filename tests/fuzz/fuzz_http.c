#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_parse.h"

/*
 * libFuzzer target for core/http_parse.c. The first byte picks the parser:
 * even, the head (the rest is what a client sent); odd, a chunked body.
 * Byte 1 gives the size of the pieces the input arrives in, so that the
 * resumable scanners are checked against a one-shot run on the same bytes:
 * same result, same end, same data. Besides the sanitizers, it traps on a
 * broken promise of http_parse.h.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LX_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define LX_FUZZ_MAX_HEAD 512

static void lx_fuzz_head(const char *p, size_t len, size_t step)
{
    lx_head_scan st = {0};
    size_t end = 0, end1 = 0;
    int status = 0, status1 = 0;

    int rc1 = lx_head_find_end(p, len, LX_FUZZ_MAX_HEAD, &st, &end1, &status1);
    memset(&st, 0, sizeof(st));
    int rc = LX_HEAD_PARTIAL;
    for (size_t n = step < len ? step : len; rc == LX_HEAD_PARTIAL; n += step) {
        if (n > len)
            n = len;
        rc = lx_head_find_end(p, n, LX_FUZZ_MAX_HEAD, &st, &end, &status);
        LX_FUZZ_CHECK(st.pos <= n);
        if (n == len)
            break;
    }
    LX_FUZZ_CHECK(rc == rc1);
    if (rc == LX_HEAD_BAD)
        LX_FUZZ_CHECK(status == status1 && (status == 414 || status == 431));
    if (rc != LX_HEAD_DONE)
        return;
    LX_FUZZ_CHECK(end == end1 && end <= len && end <= LX_FUZZ_MAX_HEAD && end >= 2);
    LX_FUZZ_CHECK(p[end - 1] == '\n');

    lx_head h;
    if (lx_head_parse(p, end, &h) == LX_HEAD_BAD) {
        LX_FUZZ_CHECK(h.status >= 400 && h.status <= 505 && h.code != NULL && h.message != NULL);
        return;
    }
    LX_FUZZ_CHECK(h.status == 0 && h.len == end);
    LX_FUZZ_CHECK(h.method != LX_M_UNKNOWN && h.method != LX_M_CONNECT);
    LX_FUZZ_CHECK(h.minor == 0 || h.minor == 1);
    LX_FUZZ_CHECK(h.method_off + h.method_len < end && h.target_off + h.target_len < end);
    LX_FUZZ_CHECK(h.target_len > 0 &&
                  (p[h.target_off] == '/' || p[h.target_off] == '*' || h.is_absolute));
    /* never both framings, never chunked on 1.0 */
    LX_FUZZ_CHECK(!(h.has_length && h.is_chunked));
    LX_FUZZ_CHECK(!(h.is_chunked && h.minor == 0));
    if (h.has_length)
        LX_FUZZ_CHECK(h.cl_name_off + 14 < end &&
                      strncasecmp(p + h.cl_name_off, "Content-Length", 14) == 0);
    if (h.is_chunked)
        LX_FUZZ_CHECK(h.te_name_off + 17 < end &&
                      strncasecmp(p + h.te_name_off, "Transfer-Encoding", 17) == 0);
    /* no byte a client could use to confuse a line or a field */
    for (size_t i = 0; i < end; i++) {
        unsigned char c = (unsigned char)p[i];
        LX_FUZZ_CHECK(c == '\t' || c == '\r' || c == '\n' || (c >= 0x20 && c != 0x7f));
        if (c == '\r')
            LX_FUZZ_CHECK(i + 1 < end && p[i + 1] == '\n');
    }
}

/* Decodes the body fed `step` bytes at a time; returns the result and the
 * data (into out, *out_len) and the bytes consumed. */
static int lx_fuzz_dechunk(const char *p, size_t len, size_t step, char *out, size_t *out_len,
                           size_t *consumed, uint64_t *total)
{
    lx_chunked c;
    size_t pos = 0;
    int rc = LX_CHUNK_MORE;

    lx_chunked_init(&c, 256);
    *out_len = 0;
    while (pos < len) {
        size_t avail = len - pos < step ? len - pos : step;
        if (c.size > 0) {
            size_t n = avail < c.size ? avail : (size_t)c.size;
            memcpy(out + *out_len, p + pos, n);
            *out_len += n;
            pos += n;
            lx_chunked_took(&c, n);
            continue;
        }
        size_t used = 0;
        rc = lx_chunked_parse(&c, p + pos, avail, &used);
        LX_FUZZ_CHECK(used <= avail);
        pos += used;
        if (rc == LX_CHUNK_BAD) {
            LX_FUZZ_CHECK(c.message != NULL);
            break;
        }
        if (rc == LX_CHUNK_DONE)
            break;
        if (rc == LX_CHUNK_DATA)
            LX_FUZZ_CHECK(c.size > 0 && c.total >= c.size);
        else
            LX_FUZZ_CHECK(rc == LX_CHUNK_MORE && used == avail);
    }
    *consumed = pos;
    *total = c.total;
    LX_FUZZ_CHECK(*out_len <= c.total);
    return rc == LX_CHUNK_DATA ? LX_CHUNK_MORE : rc;
}

static void lx_fuzz_chunked(const char *p, size_t len, size_t step)
{
    char *a = malloc(len + 1), *b = malloc(len + 1);
    size_t alen, blen, ause, buse;
    uint64_t atot, btot;

    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return;
    }
    int ra = lx_fuzz_dechunk(p, len, len ? len : 1, a, &alen, &ause, &atot);
    int rb = lx_fuzz_dechunk(p, len, step, b, &blen, &buse, &btot);
    LX_FUZZ_CHECK(ra == rb);
    if (ra != LX_CHUNK_BAD) {
        LX_FUZZ_CHECK(alen == blen && ause == buse && atot == btot);
        LX_FUZZ_CHECK(memcmp(a, b, alen) == 0);
    }
    if (ra == LX_CHUNK_DONE)
        LX_FUZZ_CHECK(alen == atot);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = (size_t)(data[1] % 16) + 1;
    const char *p = (const char *)data + 2;
    size_t len = size - 2;
    if (data[0] % 2 == 0)
        lx_fuzz_head(p, len, step);
    else
        lx_fuzz_chunked(p, len, step);
    return 0;
}
