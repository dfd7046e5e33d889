#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

/* ------------------------------------------------------------------ */
/* Heads                                                               */

/* Finds the end of s in one go; returns the result, *end its length. */
static int find(const char *s, size_t max, size_t *end, int *status)
{
    lx_head_scan st = {0};
    *end = 0;
    *status = 0;
    return lx_head_find_end(s, strlen(s), max, &st, end, status);
}

/* Parses a complete head (the whole string). */
static int parse(const char *s, lx_head *h)
{
    return lx_head_parse(s, strlen(s), h);
}

/* Expects s to be refused with status and code. */
static void assert_refused(const char *s, int status, const char *code)
{
    lx_head h;
    if (parse(s, &h) != LX_HEAD_BAD || h.status != status || strcmp(h.code, code) != 0)
        fail_msg("%s: got %d %s, want %d %s", s, h.status, h.code ? h.code : "-", status, code);
}

static void test_head_end_found_in_one_go_and_byte_by_byte(void **state)
{
    (void)state;
    const char *req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nBODY";
    size_t end;
    int status;

    assert_int_equal(find(req, 8192, &end, &status), LX_HEAD_DONE);
    assert_int_equal(end, strlen(req) - 4);

    /* resumable: the same end whatever the pieces */
    lx_head_scan st = {0};
    int rc = LX_HEAD_PARTIAL;
    size_t n;
    for (n = 1; n <= strlen(req) && rc == LX_HEAD_PARTIAL; n++)
        rc = lx_head_find_end(req, n, 8192, &st, &end, &status);
    assert_int_equal(rc, LX_HEAD_DONE);
    assert_int_equal(end, strlen(req) - 4);
}

static void test_head_lf_only_and_leading_empty_lines(void **state)
{
    (void)state;
    size_t end;
    int status;
    lx_head h;
    const char *req = "\r\n\nGET / HTTP/1.0\nHost: x\n\n";

    assert_int_equal(find(req, 8192, &end, &status), LX_HEAD_DONE);
    assert_int_equal(end, strlen(req));
    assert_int_equal(parse(req, &h), LX_HEAD_DONE);
    assert_int_equal(h.method, LX_M_GET);
    assert_int_equal(h.minor, 0);
    assert_memory_equal(req + h.target_off, "/", 1);
}

static void test_head_too_large_is_414_or_431(void **state)
{
    (void)state;
    char buf[256];
    size_t end;
    int status;

    memset(buf, 'a', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    memcpy(buf, "GET /", 5);
    assert_int_equal(find(buf, 64, &end, &status), LX_HEAD_BAD);
    assert_int_equal(status, 414);

    memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(find(buf, 64, &end, &status), LX_HEAD_BAD);
    assert_int_equal(status, 431);

    /* exactly the limit is fine, one byte over is not */
    const char *req = "GET / HTTP/1.1\r\n\r\n";
    assert_int_equal(find(req, strlen(req), &end, &status), LX_HEAD_DONE);
    assert_int_equal(find(req, strlen(req) - 1, &end, &status), LX_HEAD_BAD);
}

static void test_head_good_post_with_length(void **state)
{
    (void)state;
    lx_head h;
    const char *req = "POST /upload?x=1 HTTP/1.1\r\nHost: a\r\ncontent-length: 42\r\n"
                      "Expect: 100-continue\r\n\r\n";

    assert_int_equal(parse(req, &h), LX_HEAD_DONE);
    assert_int_equal(h.method, LX_M_POST);
    assert_int_equal(h.minor, 1);
    assert_true(h.has_length);
    assert_int_equal(h.length, 42);
    assert_false(h.is_chunked);
    assert_true(h.expects_continue);
    assert_true(lx_head_has_body(&h));
    assert_memory_equal(req + h.cl_name_off, "content-length", 14);
    assert_int_equal(h.target_len, strlen("/upload?x=1"));
}

static void test_head_good_chunked_and_zero_length(void **state)
{
    (void)state;
    lx_head h;
    const char *req = "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";

    assert_int_equal(parse(req, &h), LX_HEAD_DONE);
    assert_true(h.is_chunked);
    assert_memory_equal(req + h.te_name_off, "Transfer-Encoding", 17);
    assert_true(lx_head_has_body(&h));

    assert_int_equal(parse("POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &h), LX_HEAD_DONE);
    assert_true(h.has_length);
    assert_false(lx_head_has_body(&h));
    assert_int_equal(parse("OPTIONS * HTTP/1.1\r\n\r\n", &h), LX_HEAD_DONE);
    assert_int_equal(parse("GET http://h/x HTTP/1.1\r\n\r\n", &h), LX_HEAD_DONE);
    assert_true(h.is_absolute);
    /* Expect on HTTP/1.0 is ignored */
    assert_int_equal(parse("POST /x HTTP/1.0\r\nExpect: what\r\n\r\n", &h), LX_HEAD_DONE);
    assert_false(h.expects_continue);
}

static void test_head_refuses_ambiguous_framing(void **state)
{
    (void)state;
    assert_refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\n", 400,
                   "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400,
                   "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length: +2\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length: 02\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length: 2 2\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length:\t2\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", 400,
                   "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nTransfer-Encoding:\tchunked\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\t\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400,
                   "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n",
                   400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "BAD_FRAMING");
    assert_refused("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
                   400, "BAD_FRAMING");
}

static void test_head_refuses_malformed_fields(void **state)
{
    (void)state;
    assert_refused("POST / HTTP/1.1\r\nContent-Length : 2\r\n\r\n", 400, "BAD_HEADER");
    assert_refused("GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n", 400, "BAD_HEADER");
    assert_refused("GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400, "BAD_HEADER");
    assert_refused("GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400, "BAD_HEADER");
    assert_refused("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400, "BAD_HEADER");
    assert_refused("GET / HTTP/1.1\r\nX-A: a\x01 b\r\n\r\n", 400, "BAD_HEADER");
    assert_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "BAD_HEADER");
    assert_refused("GET / HTTP/1.1\r\nX-Lx-Framing-1: 5\r\n\r\n", 400, "BAD_HEADER");
    assert_refused("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", 417, "EXPECTATION_FAILED");
}

static void test_head_refuses_bad_request_lines(void **state)
{
    (void)state;
    assert_refused("THIS IS NOT HTTP\r\n\r\n", 400, "BAD_REQUEST");
    assert_refused("GET  / HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST");
    assert_refused("GET / HTTP/1.1 \r\n\r\n", 400, "BAD_REQUEST");
    assert_refused("GET /a b HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST");
    assert_refused("GET / http/1.1\r\n\r\n", 400, "BAD_REQUEST");
    assert_refused("GET / HTTP/2.0\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED");
    assert_refused("GET / HTTP/1.2\r\n\r\n", 505, "HTTP_VERSION_NOT_SUPPORTED");
    assert_refused("BREW /pot HTTP/1.1\r\n\r\n", 501, "NOT_IMPLEMENTED");
    assert_refused("get / HTTP/1.1\r\n\r\n", 501, "NOT_IMPLEMENTED");
    assert_refused("CONNECT h:443 HTTP/1.1\r\n\r\n", 501, "NOT_IMPLEMENTED");
    assert_refused("GET * HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST");
    assert_refused("GET //x HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST");
    assert_refused("GET x HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST");
    assert_refused("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST");
    assert_refused("GET /\r HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST");
}

/* ------------------------------------------------------------------ */
/* Chunked bodies                                                      */

/* Decodes a whole chunked body fed `step` bytes at a time (0: all at once);
 * returns the last result; the data goes to out. */
static int dechunk(const char *in, size_t step, char *out, size_t *out_len, size_t *rest,
                   const char **why)
{
    lx_chunked c;
    size_t len = strlen(in), pos = 0, avail = 0;
    int rc = LX_CHUNK_MORE;

    lx_chunked_init(&c, 1024);
    *out_len = 0;
    while (pos < len) {
        avail = step == 0 || len - pos < step ? len - pos : step;
        if (rc == LX_CHUNK_DATA || c.size > 0) {
            size_t n = avail < c.size ? avail : (size_t)c.size;
            memcpy(out + *out_len, in + pos, n);
            *out_len += n;
            pos += n;
            lx_chunked_took(&c, n);
            rc = LX_CHUNK_MORE;
            continue;
        }
        size_t used = 0;
        rc = lx_chunked_parse(&c, in + pos, avail, &used);
        pos += used;
        if (rc == LX_CHUNK_BAD || rc == LX_CHUNK_DONE)
            break;
    }
    *rest = len - pos;
    *why = c.message;
    return rc;
}

static void test_chunked_body_with_extensions_and_trailers(void **state)
{
    (void)state;
    const char *body = "2;foo=bar\r\nhi\r\n"
                       "3 ; a ; b = \"q\\\"x\"\r\nabc\r\n"
                       "00A\r\n0123456789\r\n"
                       "0;last\r\nX-Trailer: yes\r\n\r\nNEXT";
    char out[64];
    size_t out_len, rest;
    const char *why;

    for (size_t step = 0; step < 5; step++) {
        assert_int_equal(dechunk(body, step, out, &out_len, &rest, &why), LX_CHUNK_DONE);
        assert_int_equal(out_len, 15);
        assert_memory_equal(out, "hiabc0123456789", 15);
        assert_int_equal(rest, 4);
    }
}

static void test_chunked_refuses_malformed_framing(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "z\r\n",                 /* not hex */
        "\r\n",                  /* no size */
        "2\nhi\r\n0\r\n\r\n",    /* bare LF after the size */
        "2\r\nhiX\r\n",          /* no CRLF after the data */
        "2 \r\nhi\r\n",          /* whitespace without an extension */
        "2;\r\nhi\r\n",          /* empty extension name */
        "2;a=\"x\r\nhi\r\n",     /* unterminated quoted value */
        "2;a=b c\r\n",           /* junk after a value */
        "10000000000000000\r\n", /* over 64 bits */
        "0\r\nno-colon\r\n\r\n", /* a trailer without a colon */
        "0\r\n\r\r\n",           /* bad end */
    };
    char out[64];
    size_t out_len, rest;
    const char *why;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (dechunk(bad[i], 0, out, &out_len, &rest, &why) != LX_CHUNK_BAD)
            fail_msg("accepted: %s", bad[i]);
        assert_non_null(why);
    }
}

static void test_chunked_total_counts_announced_sizes(void **state)
{
    (void)state;
    lx_chunked c;
    size_t used;

    lx_chunked_init(&c, 64);
    assert_int_equal(lx_chunked_parse(&c, "ffff\r\n", 6, &used), LX_CHUNK_DATA);
    assert_int_equal(used, 6);
    assert_int_equal(c.total, 0xffff);
    assert_int_equal(c.size, 0xffff);
    /* data is the caller's: parse says DATA again without consuming */
    assert_int_equal(lx_chunked_parse(&c, "xx", 2, &used), LX_CHUNK_DATA);
    assert_int_equal(used, 0);
}

static void test_chunked_limits_lines_and_trailers(void **state)
{
    (void)state;
    lx_chunked c;
    size_t used;
    char line[LX_CHUNK_LINE_MAX + 16];

    memset(line, '0', sizeof(line));
    lx_chunked_init(&c, 64);
    assert_int_equal(lx_chunked_parse(&c, line, sizeof(line), &used), LX_CHUNK_BAD);

    char trailers[200];
    memcpy(trailers, "0\r\n", 3);
    memset(trailers + 3, 'a', sizeof(trailers) - 3);
    lx_chunked_init(&c, 64);
    assert_int_equal(lx_chunked_parse(&c, trailers, sizeof(trailers), &used), LX_CHUNK_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_end_found_in_one_go_and_byte_by_byte),
        cmocka_unit_test(test_head_lf_only_and_leading_empty_lines),
        cmocka_unit_test(test_head_too_large_is_414_or_431),
        cmocka_unit_test(test_head_good_post_with_length),
        cmocka_unit_test(test_head_good_chunked_and_zero_length),
        cmocka_unit_test(test_head_refuses_ambiguous_framing),
        cmocka_unit_test(test_head_refuses_malformed_fields),
        cmocka_unit_test(test_head_refuses_bad_request_lines),
        cmocka_unit_test(test_chunked_body_with_extensions_and_trailers),
        cmocka_unit_test(test_chunked_refuses_malformed_framing),
        cmocka_unit_test(test_chunked_total_counts_announced_sizes),
        cmocka_unit_test(test_chunked_limits_lines_and_trailers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
