/*
 * The storage plugin's pure parsers: multipart/form-data (the SDK's
 * sdk/multipart.c, <lexiaid/multipart.h>), file type sniffing, UTF-8
 * checks and safe file names (sniff.c), text normalisation and passages
 * (text.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include <lexiaid/multipart.h>
#include <lexiaid/plugin.h>
#include <lexiaid/utf8.h>

#include "text/sniff.h"
#include "text/text.h"

/* ---------------------------------------------------------------- helpers */

static int parse(const char *body, size_t len, const char *boundary, lx_mp *mp, char *err,
                 size_t errlen)
{
    int rc = lx_mp_parse(body, len, boundary, mp, err, errlen);

    if (rc != LX_OK) {
        assert_null(mp->parts);
        assert_int_equal(mp->n_parts, 0);
    }
    return rc;
}

/* Parses a body that must be refused, and returns the message. */
static const char *refused(const char *body, size_t len, const char *boundary)
{
    static char err[256];
    lx_mp mp;

    err[0] = '\0';
    assert_int_equal(parse(body, len, boundary, &mp, err, sizeof(err)), LX_EINVAL);
    assert_true(err[0] != '\0');
    return err;
}

static void assert_part_data(const lx_mp_part *p, const char *body, size_t body_len,
                             const void *want, size_t want_len)
{
    assert_non_null(p);
    assert_int_equal(p->len, want_len);
    assert_memory_equal(p->data, want, want_len);
    /* Zero copy: the data is a slice of the body. */
    assert_true(p->data >= body && p->data + p->len <= body + body_len);
}

/* A growable byte buffer for building bodies. */
typedef struct {
    char *p;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---------------------------------------------------------------- multipart */

static void test_mp_browser_upload_with_metadata_and_file(void **state)
{
    /* As Chrome sends the upload page's form: metadata JSON, then the file. */
    static const char ct[] = "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW";
    static const char file_data[] = "line one\r\nline two\n\0binary\r--not a boundary\r\n";
    const size_t file_len = sizeof(file_data) - 1;
    lx_mp mp;
    char *boundary = NULL, err[256] = "";
    buf b = {0};
    const lx_mp_part *meta, *file;

    assert_int_equal(lx_mp_boundary(ct, &boundary, err, sizeof(err)), LX_OK);
    assert_string_equal(boundary, "----WebKitFormBoundary7MA4YWxkTrZu0gW");

    buf_str(&b, "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
                "Content-Disposition: form-data; name=\"metadata\"\r\n"
                "\r\n"
                "{\"name\": \"My notes\"}\r\n"
                "------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
                "Content-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n"
                "Content-Type: text/plain\r\n"
                "\r\n");
    buf_add(&b, file_data, file_len);
    buf_str(&b, "\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n");

    assert_int_equal(parse(b.p, b.len, boundary, &mp, err, sizeof(err)), LX_OK);
    assert_int_equal(mp.n_parts, 2);

    meta = lx_mp_get(&mp, "metadata");
    assert_non_null(meta);
    assert_null(meta->filename);
    assert_null(meta->content_type);
    assert_part_data(meta, b.p, b.len, "{\"name\": \"My notes\"}", 20);

    file = lx_mp_get(&mp, "file");
    assert_ptr_equal(file, &mp.parts[1]);
    assert_string_equal(file->filename, "notes.txt");
    assert_string_equal(file->content_type, "text/plain");
    assert_part_data(file, b.p, b.len, file_data, file_len);

    assert_null(lx_mp_get(&mp, "nothing"));
    lx_mp_free(&mp);
    assert_null(mp.parts);
    assert_int_equal(mp.n_parts, 0);
    free(boundary);
    free(b.p);
}

static void test_mp_boundary_quoted_or_token(void **state)
{
    char *bd = NULL, err[256];

    assert_int_equal(lx_mp_boundary("multipart/form-data; boundary=abc123", &bd, err, sizeof(err)),
                     LX_OK);
    assert_string_equal(bd, "abc123");
    free(bd);

    /* Any case, other parameters, white space, a quoted boundary with
     * characters only a quoted string can carry. */
    assert_int_equal(lx_mp_boundary("Multipart/Form-Data ; charset=utf-8 ;\tBOUNDARY = "
                                    "\"a b:c?(d)=e,f/g\"",
                                    &bd, err, sizeof(err)),
                     LX_OK);
    assert_string_equal(bd, "a b:c?(d)=e,f/g");
    free(bd);

    /* 70 characters is the most. */
    assert_int_equal(lx_mp_boundary("multipart/form-data; boundary="
                                    "1234567890123456789012345678901234567890"
                                    "123456789012345678901234567890",
                                    &bd, err, sizeof(err)),
                     LX_OK);
    assert_int_equal(strlen(bd), 70);
    free(bd);
}

static void test_mp_boundary_refusals(void **state)
{
    static const char *const bad[] = {
        "text/plain; boundary=abc",                         /* not multipart/form-data */
        "multipart/mixed; boundary=abc",                    /* not form-data */
        "multipart/form-data",                              /* no boundary */
        "multipart/form-data; charset=utf-8",               /* no boundary */
        "multipart/form-data; boundary=",                   /* empty */
        "multipart/form-data; boundary=\"\"",               /* empty */
        "multipart/form-data; boundary=\"ends in space \"", /* trailing space */
        "multipart/form-data; boundary=\"a@b\"",            /* '@' is no bchar */
        "multipart/form-data; boundary=a@b",                /* nor a token */
        "multipart/form-data; boundary=\"abc",              /* unclosed quote */
        "multipart/form-data; boundary=a; boundary=b",      /* twice */
        "multipart/form-data; boundary="                    /* 71 characters */
        "1234567890123456789012345678901234567890"
        "1234567890123456789012345678901",
    };
    char *bd, err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bd = (char *)"untouched";
        err[0] = '\0';
        assert_int_equal(lx_mp_boundary(bad[i], &bd, err, sizeof(err)), LX_EINVAL);
        assert_null(bd);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(lx_mp_boundary(NULL, &bd, err, sizeof(err)), LX_EINVAL);
    assert_int_equal(lx_mp_boundary("text/html", &bd, err, sizeof(err)), LX_EINVAL);
    assert_string_equal(err, "the Content-Type is not multipart/form-data");
}

static void test_mp_quoted_boundary_parses(void **state)
{
    static const char body[] = "--a b:c?\r\n"
                               "Content-Disposition: form-data; name=\"x\"\r\n"
                               "\r\n"
                               "value\r\n"
                               "--a b:c?--";
    lx_mp mp;
    char err[256];

    assert_int_equal(parse(body, sizeof(body) - 1, "a b:c?", &mp, err, sizeof(err)), LX_OK);
    assert_int_equal(mp.n_parts, 1);
    assert_part_data(&mp.parts[0], body, sizeof(body) - 1, "value", 5);
    lx_mp_free(&mp);
}

static void test_mp_boundary_lookalikes_in_data_are_data(void **state)
{
    /* "--XyZ" not at a line start, "\r\n--XyZ" followed by more boundary
     * characters, and "\r\n--XyZ-" (one dash) are all data. */
    static const char data[] = "a--XyZ\r\nb\r\n--XyZabc\r\n--XyZ-x\r\n-XyZ\r\n--XyZ\tq\r\nend";
    lx_mp mp;
    char err[256];
    buf b = {0};

    buf_str(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n");
    buf_str(&b, data);
    buf_str(&b, "\r\n--XyZ--\r\n");
    assert_int_equal(parse(b.p, b.len, "XyZ", &mp, err, sizeof(err)), LX_OK);
    assert_int_equal(mp.n_parts, 1);
    assert_part_data(&mp.parts[0], b.p, b.len, data, strlen(data));
    lx_mp_free(&mp);
    free(b.p);
}

static void test_mp_preamble_padding_and_epilogue(void **state)
{
    static const char body[] = "This is the preamble.\r\n--b1 \t\r\n"
                               "content-disposition: form-data; NAME=one\r\n"
                               "\r\n"
                               "1\r\n"
                               "--b1  \r\n"
                               "Content-Disposition: form-data; name=\"two\"\r\n"
                               "\r\n"
                               "\r\n"
                               "--b1--\r\nThis is the epilogue, ignored.\r\n--b1\r\n";
    lx_mp mp;
    char err[256];

    assert_int_equal(parse(body, sizeof(body) - 1, "b1", &mp, err, sizeof(err)), LX_OK);
    assert_int_equal(mp.n_parts, 2);
    assert_string_equal(mp.parts[0].name, "one");
    assert_part_data(&mp.parts[0], body, sizeof(body) - 1, "1", 1);
    assert_string_equal(mp.parts[1].name, "two");
    assert_int_equal(mp.parts[1].len, 0);
    lx_mp_free(&mp);
}

static void test_mp_missing_or_crlfless_close_refused(void **state)
{
    static const char *const bodies[] = {
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata",         /* none */
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata\r\n",     /* none */
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata--b--",    /* no CRLF */
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata\n--b--",  /* LF only */
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata\r\n--b",  /* cut */
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\ndata\r\n--b-", /* cut */
        "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nd\r\n--b\r\n", /* no 2nd */
    };
    const char *msg;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        msg = refused(bodies[i], strlen(bodies[i]), "b");
        assert_non_null(strstr(msg, "part "));
    }
    msg = refused(bodies[0], strlen(bodies[0]), "b");
    assert_string_equal(msg, "part 1: the body ends without the closing boundary");
    msg = refused(bodies[6], strlen(bodies[6]), "b");
    assert_string_equal(msg, "part 2: the body ends inside the headers");

    /* No boundary line at all, or only the closing one. */
    msg = refused("just some text", 14, "b");
    assert_string_equal(msg, "no multipart boundary line in the body");
    msg = refused("--b--\r\n", 7, "b");
    assert_string_equal(msg, "no parts before the closing boundary");
    msg = refused("", 0, "b");
    assert_string_equal(msg, "no multipart boundary line in the body");
    /* A bad boundary argument. */
    msg = refused(bodies[0], strlen(bodies[0]), "");
    msg = refused(bodies[0], strlen(bodies[0]), "a@b");
}

static void add_part(buf *b, const char *boundary, const char *name)
{
    buf_str(b, "--");
    buf_str(b, boundary);
    buf_str(b, "\r\nContent-Disposition: form-data; name=\"");
    buf_str(b, name);
    buf_str(b, "\"\r\n\r\nv\r\n");
}

static void test_mp_at_most_64_parts(void **state)
{
    lx_mp mp;
    char err[256];
    buf b = {0};

    for (int i = 0; i < 64; i++)
        add_part(&b, "B", "f");
    buf_str(&b, "--B--\r\n");
    assert_int_equal(parse(b.p, b.len, "B", &mp, err, sizeof(err)), LX_OK);
    assert_int_equal(mp.n_parts, 64);
    assert_ptr_equal(lx_mp_get(&mp, "f"), &mp.parts[0]);
    lx_mp_free(&mp);

    b.len -= strlen("--B--\r\n");
    add_part(&b, "B", "f");
    buf_str(&b, "--B--\r\n");
    assert_string_equal(refused(b.p, b.len, "B"), "more than 64 parts");
    free(b.p);
}

static void test_mp_part_without_name_refused(void **state)
{
    static const char no_name[] = "--b\r\n"
                                  "Content-Disposition: form-data; filename=\"a.txt\"\r\n"
                                  "\r\n"
                                  "x\r\n--b--\r\n";
    static const char empty_name[] = "--b\r\n"
                                     "Content-Disposition: form-data; name=\"\"\r\n"
                                     "\r\n"
                                     "x\r\n--b--\r\n";
    static const char second_without_cd[] = "--b\r\n"
                                            "Content-Disposition: form-data; name=a\r\n"
                                            "\r\n"
                                            "x\r\n--b\r\n"
                                            "Content-Type: text/plain\r\n"
                                            "\r\n"
                                            "y\r\n--b--\r\n";
    static const char attachment[] = "--b\r\n"
                                     "Content-Disposition: attachment; name=\"a\"\r\n"
                                     "\r\n"
                                     "x\r\n--b--\r\n";
    static const char no_headers[] = "--b\r\n\r\nx\r\n--b--\r\n";

    assert_string_equal(refused(no_name, sizeof(no_name) - 1, "b"),
                        "part 1: no name in Content-Disposition");
    assert_string_equal(refused(empty_name, sizeof(empty_name) - 1, "b"),
                        "part 1: empty name in Content-Disposition");
    assert_string_equal(refused(second_without_cd, sizeof(second_without_cd) - 1, "b"),
                        "part 2: no Content-Disposition header");
    assert_string_equal(refused(attachment, sizeof(attachment) - 1, "b"),
                        "part 1: Content-Disposition is not form-data");
    assert_string_equal(refused(no_headers, sizeof(no_headers) - 1, "b"),
                        "part 1: no Content-Disposition header");
}

static void test_mp_filename_star_utf8_wins(void **state)
{
    static const char *const bodies[] = {
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fallback.pdf\"; "
        "filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%80%93%20%E6%97%A5%E6%9C%AC.pdf\r\n"
        "\r\nx\r\n--b--\r\n",
        /* filename* first, charset in lower case, a language tag. */
        "--b\r\nContent-Disposition: form-data; name=\"file\"; "
        "filename*=utf-8'fr'R%c3%a9sum%c3%a9%20%e2%80%93%20%e6%97%a5%e6%9c%ac.pdf; "
        "filename=\"fallback.pdf\"\r\n"
        "\r\nx\r\n--b--\r\n",
    };
    static const char latin1[] =
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fallback.pdf\"; "
        "filename*=ISO-8859-1''R%E9sum%E9.pdf\r\n\r\nx\r\n--b--\r\n";
    static const char *const bad[] = {
        "--b\r\nContent-Disposition: form-data; name=f; filename*=UTF-8''a%ZZ.pdf\r\n\r\nx\r\n"
        "--b--\r\n",
        "--b\r\nContent-Disposition: form-data; name=f; filename*=UTF-8''a%2\r\n\r\nx\r\n"
        "--b--\r\n",
        "--b\r\nContent-Disposition: form-data; name=f; filename*=UTF-8''a%00b\r\n\r\nx\r\n"
        "--b--\r\n",
        "--b\r\nContent-Disposition: form-data; name=f; filename*=UTF-8''%C3%28\r\n\r\nx\r\n"
        "--b--\r\n",
        "--b\r\nContent-Disposition: form-data; name=f; filename*=a.pdf\r\n\r\nx\r\n"
        "--b--\r\n",
    };
    lx_mp mp;
    char err[256];

    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(parse(bodies[i], strlen(bodies[i]), "b", &mp, err, sizeof(err)), LX_OK);
        assert_string_equal(mp.parts[0].filename, "Résumé – 日本.pdf");
        lx_mp_free(&mp);
    }
    /* Another charset is not ours to decode: filename= stands. */
    assert_int_equal(parse(latin1, sizeof(latin1) - 1, "b", &mp, err, sizeof(err)), LX_OK);
    assert_string_equal(mp.parts[0].filename, "fallback.pdf");
    lx_mp_free(&mp);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_string_equal(refused(bad[i], strlen(bad[i]), "b"),
                            "part 1: malformed filename* in Content-Disposition");
}

static void test_mp_params_quoted_escapes_and_any_case(void **state)
{
    static const char body[] =
        "--b\r\n"
        "cOnTeNt-DiSpOsItIoN:form-data;NAME=\"a \\\"q\\\" b\";FileName=\"C:\\\\dir\\\\x.txt\""
        "; size=12\r\n"
        "CONTENT-TYPE:   application/octet-stream  \r\n"
        "X-Other: ignored\r\n"
        "\r\n"
        "x\r\n--b--";
    static const char raw_utf8[] =
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"日本.txt\"\r\n\r\n"
        "x\r\n--b--\r\n";
    static const char bad_utf8[] =
        "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\xff.txt\"\r\n\r\n"
        "x\r\n--b--\r\n";
    lx_mp mp;
    char err[256];

    assert_int_equal(parse(body, sizeof(body) - 1, "b", &mp, err, sizeof(err)), LX_OK);
    assert_string_equal(mp.parts[0].name, "a \"q\" b");
    assert_string_equal(mp.parts[0].filename, "C:\\dir\\x.txt");
    assert_string_equal(mp.parts[0].content_type, "application/octet-stream");
    lx_mp_free(&mp);

    assert_int_equal(parse(raw_utf8, sizeof(raw_utf8) - 1, "b", &mp, err, sizeof(err)), LX_OK);
    assert_string_equal(mp.parts[0].filename, "日本.txt");
    lx_mp_free(&mp);
    assert_string_equal(refused(bad_utf8, sizeof(bad_utf8) - 1, "b"),
                        "part 1: the file name is not valid UTF-8");
}

static void test_mp_malformed_headers_refused(void **state)
{
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"--b\r\nContent-Disposition form-data; name=a\r\n\r\nx\r\n--b--",
         "part 1: malformed header line"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n folded\r\n\r\nx\r\n--b--",
         "part 1: folded header lines are not accepted"},
        {"--b\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\nx\r\n--b--",
         "part 1: control character in a header"},
        {"--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nx\r\n--b--",
         "part 1: a Content-Disposition parameter is repeated"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n"
         "Content-Disposition: form-data; name=b\r\n\r\nx\r\n--b--",
         "part 1: two Content-Disposition headers"},
        {"--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--",
         "part 1: malformed Content-Disposition"},
        {"--b\r\nContent-Disposition: form-data; name=a b\r\n\r\nx\r\n--b--",
         "part 1: malformed Content-Disposition"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\nContent-Type: a\r\n"
         "Content-Type: b\r\n\r\nx\r\n--b--",
         "part 1: two Content-Type headers"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(refused(cases[i].body, strlen(cases[i].body), "b"), cases[i].msg);
}

static void test_mp_header_limits(void **state)
{
    lx_mp mp;
    char err[256], line[8300];
    buf b = {0};

    /* 16 headers pass, 17 do not. */
    buf_str(&b, "--b\r\nContent-Disposition: form-data; name=a\r\n");
    for (int i = 0; i < 15; i++)
        buf_str(&b, "X-Pad: 1\r\n");
    buf_str(&b, "\r\nx\r\n--b--");
    assert_int_equal(parse(b.p, b.len, "b", &mp, err, sizeof(err)), LX_OK);
    lx_mp_free(&mp);
    b.len = 0;
    buf_str(&b, "--b\r\nContent-Disposition: form-data; name=a\r\n");
    for (int i = 0; i < 16; i++)
        buf_str(&b, "X-Pad: 1\r\n");
    buf_str(&b, "\r\nx\r\n--b--");
    assert_string_equal(refused(b.p, b.len, "b"), "part 1: more than 16 headers");

    /* A header line of 8192 bytes passes, 8193 do not. */
    b.len = 0;
    memset(line, 'v', sizeof(line));
    memcpy(line, "X-Long: ", 8);
    buf_str(&b, "--b\r\nContent-Disposition: form-data; name=a\r\n");
    buf_add(&b, line, 8192);
    buf_str(&b, "\r\n\r\nx\r\n--b--");
    assert_int_equal(parse(b.p, b.len, "b", &mp, err, sizeof(err)), LX_OK);
    lx_mp_free(&mp);
    b.len = 0;
    buf_str(&b, "--b\r\nContent-Disposition: form-data; name=a\r\n");
    buf_add(&b, line, 8193);
    buf_str(&b, "\r\n\r\nx\r\n--b--");
    assert_string_equal(refused(b.p, b.len, "b"), "part 1: a header line is longer than 8 KiB");
    free(b.p);
}

static void test_mp_adversarial_lookalikes_parse(void **state)
{
    /* A megabyte of near-delimiters: each "\r\n--" followed by almost the
     * boundary. The result must be the one part holding all of it. */
    static const char boundary[] = "0123456789abcdefghij0123456789abcdefghij";
    lx_mp mp;
    char err[256];
    buf b = {0}, d = {0};

    while (d.len < (1u << 20)) {
        buf_str(&d, "\r\n--0123456789abcdefghij0123456789abcdefghiX");
        buf_str(&d, "\r\n--0123456789abcdefghij0123456789abcdefghijX");
    }
    buf_str(&b, "--");
    buf_str(&b, boundary);
    buf_str(&b, "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n");
    buf_add(&b, d.p, d.len);
    buf_str(&b, "\r\n--");
    buf_str(&b, boundary);
    buf_str(&b, "--\r\n");
    assert_int_equal(parse(b.p, b.len, boundary, &mp, err, sizeof(err)), LX_OK);
    assert_int_equal(mp.n_parts, 1);
    assert_part_data(&mp.parts[0], b.p, b.len, d.p, d.len);
    lx_mp_free(&mp);
    /* Without the closing delimiter: refused, not a part cut short. */
    assert_string_equal(refused(b.p, b.len - strlen(boundary) - 6, boundary),
                        "part 1: the body ends without the closing boundary");
    free(b.p);
    free(d.p);
}

/* ---------------------------------------------------------------- safe names */

static void assert_safe(const char *in, const char *want)
{
    char *s = storage_safe_filename(in);

    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

static void test_safe_filename_path_traversal_made_safe(void **state)
{
    assert_safe("../../etc/passwd", "passwd");
    assert_safe("..\\..\\x.txt", "x.txt");
    assert_safe("C:\\evil\\a.pdf", "a.pdf");
    assert_safe("/abs/path/report.pdf", "report.pdf");
    assert_safe("C:a.pdf", "C_a.pdf");
    assert_safe("..", "document");
    assert_safe("../", "document");
    assert_safe("dir\\", "document");
    assert_safe(".hidden.txt", "hidden.txt");
    assert_safe("...x", "x");
    assert_safe("", "document");
    assert_safe(NULL, "document");
}

static void test_safe_filename_unicode_kept(void **state)
{
    assert_safe("Résumé – 日本.pdf", "Résumé – 日本.pdf");
    assert_safe("emoji 😀 notes.md", "emoji 😀 notes.md");
    assert_safe("a b.c.txt", "a b.c.txt");
}

static void test_safe_filename_controls_and_specials_replaced(void **state)
{
    assert_safe("a\tb\x01"
                "c\x7f.txt",
                "a_b_c_.txt");
    assert_safe("line\r\nbreak.txt", "line__break.txt");
    assert_safe("a\"b*c?d<e>f|g:h.txt", "a_b_c_d_e_f_g_h.txt");
    assert_safe("c1\xc2\x85.txt", "c1_.txt");    /* U+0085, a C1 control */
    assert_safe("bad\xff\xfe.txt", "bad__.txt"); /* not UTF-8 */
    assert_safe("\xed\xa0\x80.txt", "___.txt");  /* a surrogate */
}

static void test_safe_filename_long_cut_on_utf8_boundary(void **state)
{
    char in[400], *s;
    size_t o = 0;

    /* 100 three-byte characters and ".pdf": 304 bytes. */
    for (int i = 0; i < 100; i++) {
        memcpy(in + o, "日", 3);
        o += 3;
    }
    memcpy(in + o, ".pdf", 5);
    s = storage_safe_filename(in);
    assert_non_null(s);
    assert_true(strlen(s) <= 200);
    assert_true(strlen(s) >= 197);
    assert_true(lx_utf8_valid(s, strlen(s)));
    assert_int_equal(strlen(s) % 3, 1); /* whole characters and ".pdf" */
    assert_string_equal(s + strlen(s) - 4, ".pdf");
    assert_memory_equal(s, in, strlen(s) - 4);
    free(s);

    /* 130 two-byte characters (260 bytes), no extension: the first 100. */
    o = 0;
    for (int i = 0; i < 130; i++) {
        memcpy(in + o, "é", 2);
        o += 2;
    }
    in[o] = '\0';
    s = storage_safe_filename(in);
    assert_int_equal(strlen(s), 200);
    assert_memory_equal(s, in, 200);
    free(s);

    /* A cut that would fall inside a four-byte character. */
    o = 0;
    in[o++] = 'x';
    for (int i = 0; i < 70; i++) {
        memcpy(in + o, "😀", 4);
        o += 4;
    }
    in[o] = '\0';
    s = storage_safe_filename(in);
    assert_int_equal(strlen(s), 197);
    assert_true(lx_utf8_valid(s, strlen(s)));
    free(s);
}

/* ---------------------------------------------------------------- sniff */

/* A ZIP made in memory with libzip holding the named entries. */
static void *make_zip(const char *const *names, size_t n_names, size_t *len)
{
    static const char xml[] = "<?xml version=\"1.0\"?><w:document/>";
    zip_error_t ze;
    zip_source_t *src, *entry;
    zip_stat_t st;
    zip_t *za;
    void *out;

    zip_error_init(&ze);
    src = zip_source_buffer_create(NULL, 0, 0, &ze);
    assert_non_null(src);
    zip_source_keep(src);
    za = zip_open_from_source(src, ZIP_CREATE | ZIP_TRUNCATE, &ze);
    assert_non_null(za);
    for (size_t i = 0; i < n_names; i++) {
        entry = zip_source_buffer(za, xml, sizeof(xml) - 1, 0);
        assert_non_null(entry);
        assert_true(zip_file_add(za, names[i], entry, ZIP_FL_ENC_UTF_8) >= 0);
    }
    assert_int_equal(zip_close(za), 0);
    assert_int_equal(zip_source_stat(src, &st), 0);
    out = malloc(st.size);
    assert_non_null(out);
    assert_int_equal(zip_source_open(src), 0);
    assert_int_equal(zip_source_read(src, out, st.size), (zip_int64_t)st.size);
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&ze);
    *len = st.size;
    return out;
}

static void assert_sniff(const char *name, const void *data, size_t len, const char *type,
                         const char *mime)
{
    storage_ftype t = {NULL, NULL};
    char err[256] = "";

    assert_int_equal(storage_sniff(name, data, len, &t, err, sizeof(err)), LX_OK);
    assert_string_equal(t.file_type, type);
    assert_string_equal(t.mime_type, mime);
}

static const char *sniff_refused(const char *name, const void *data, size_t len)
{
    static char err[256];
    storage_ftype t = {NULL, NULL};

    err[0] = '\0';
    assert_int_equal(storage_sniff(name, data, len, &t, err, sizeof(err)), LX_EINVAL);
    assert_null(t.file_type);
    assert_true(err[0] != '\0');
    return err;
}

static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                                    0,    0,   0,   13,  'I',  'H',  'D',  'R'};
static const unsigned char jpg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0};
static const char pdf[] = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n";

static void test_sniff_accepts_each_type(void **state)
{
    static const char *const docx_names[] = {"[Content_Types].xml", "_rels/.rels",
                                             "word/document.xml"};
    static const char bom_txt[] = "\xef\xbb\xbfHello, wörld\n";
    char lead_junk[1100];
    void *docx;
    size_t docx_len;

    assert_sniff("a.pdf", pdf, sizeof(pdf) - 1, "pdf", "application/pdf");
    assert_sniff("a.png", png, sizeof(png), "png", "image/png");
    assert_sniff("a.jpg", jpg, sizeof(jpg), "jpg", "image/jpeg");
    assert_sniff("a.txt", "plain text\n", 11, "txt", "text/plain; charset=utf-8");
    assert_sniff("a.txt", bom_txt, sizeof(bom_txt) - 1, "txt", "text/plain; charset=utf-8");
    assert_sniff("notes.md", "# Title\n\n日本語\n", 19, "md", "text/markdown; charset=utf-8");

    docx = make_zip(docx_names, 3, &docx_len);
    assert_sniff("Essay.docx", docx, docx_len, "docx",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    free(docx);

    /* The PDF header may come after up to 1024 bytes of junk. */
    memset(lead_junk, ' ', sizeof(lead_junk));
    memcpy(lead_junk + 1019, "%PDF-", 5);
    assert_sniff("late.pdf", lead_junk, sizeof(lead_junk), "pdf", "application/pdf");
    memcpy(lead_junk + 1019, "     ", 5);
    memcpy(lead_junk + 1020, "%PDF-", 5);
    assert_string_equal(sniff_refused("late.pdf", lead_junk, sizeof(lead_junk)),
                        "the file is not a PDF");
}

static void test_sniff_jpeg_and_upper_case_extensions(void **state)
{
    assert_sniff("photo.jpeg", jpg, sizeof(jpg), "jpg", "image/jpeg");
    assert_sniff("SCAN.JPG", jpg, sizeof(jpg), "jpg", "image/jpeg");
    assert_sniff("Photo.JpEg", jpg, sizeof(jpg), "jpg", "image/jpeg");
    assert_sniff("REPORT.PDF", pdf, sizeof(pdf) - 1, "pdf", "application/pdf");
    assert_sniff("README.MD", "hi", 2, "md", "text/markdown; charset=utf-8");
    assert_sniff("dir.v2/notes.TXT", "hi", 2, "txt", "text/plain; charset=utf-8");
}

static void test_sniff_refuses_mismatches(void **state)
{
    static const char *const no_doc[] = {"[Content_Types].xml", "word/styles.xml"};
    static const char *const no_types[] = {"word/document.xml"};
    static const unsigned char exe[] = {'M', 'Z', 0x90, 0, 3, 0, 0, 0, 4, 0};
    static const unsigned char zipish[] = {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0, 0xde, 0xad};
    void *z;
    size_t zl;

    assert_string_equal(sniff_refused("fake.pdf", png, sizeof(png)), "the file is not a PDF");
    assert_string_equal(sniff_refused("fake.png", pdf, sizeof(pdf) - 1),
                        "the file is not a PNG image");
    assert_string_equal(sniff_refused("fake.jpg", png, sizeof(png)),
                        "the file is not a JPEG image");
    assert_string_equal(sniff_refused("fake.jpg", jpg, 2), "the file is not a JPEG image");

    z = make_zip(no_doc, 2, &zl);
    assert_string_equal(sniff_refused("fake.docx", z, zl), "the file is not a DOCX document");
    free(z);
    z = make_zip(no_types, 1, &zl);
    assert_string_equal(sniff_refused("fake.docx", z, zl), "the file is not a DOCX document");
    /* A truncated archive (its central directory cut off). */
    assert_string_equal(sniff_refused("cut.docx", z, zl - 10), "the file is not a DOCX document");
    free(z);
    assert_string_equal(sniff_refused("junk.docx", zipish, sizeof(zipish)),
                        "the file is not a DOCX document");
    assert_string_equal(sniff_refused("pdf.docx", pdf, sizeof(pdf) - 1),
                        "the file is not a DOCX document");

    assert_string_equal(sniff_refused("program.txt", exe, sizeof(exe)),
                        "the file is not plain text (UTF-8 without NUL bytes)");
    assert_string_equal(sniff_refused("image.txt", png, sizeof(png)),
                        "the file is not plain text (UTF-8 without NUL bytes)");
    assert_string_equal(sniff_refused("latin1.md", "caf\xe9", 4),
                        "the file is not Markdown text (UTF-8 without NUL bytes)");
}

static void test_sniff_refuses_other_types_and_empty(void **state)
{
    assert_string_equal(sniff_refused("setup.exe", "MZ", 2),
                        "type .exe is not accepted; use pdf, docx, txt, md, png or jpg");
    assert_string_equal(sniff_refused("SETUP.EXE", "MZ", 2),
                        "type .exe is not accepted; use pdf, docx, txt, md, png or jpg");
    assert_string_equal(sniff_refused("old.doc", "x", 1),
                        "type .doc is not accepted; use pdf, docx, txt, md, png or jpg");
    assert_string_equal(sniff_refused("x.p\"df", "x", 1),
                        "this type of file is not accepted; use pdf, docx, txt, md, png or jpg");
    assert_string_equal(sniff_refused("noext", "x", 1),
                        "the file name has no accepted extension; use pdf, docx, txt, md, png "
                        "or jpg");
    assert_string_equal(sniff_refused("dir.pdf/noext", pdf, sizeof(pdf) - 1),
                        "the file name has no accepted extension; use pdf, docx, txt, md, png "
                        "or jpg");
    sniff_refused("trailing.", "x", 1);
    sniff_refused(NULL, "x", 1);
    assert_string_equal(sniff_refused("empty.txt", "", 0), "the file is empty");
    assert_string_equal(sniff_refused("empty.pdf", NULL, 0), "the file is empty");
}

/* ---------------------------------------------------------------- UTF-8 */

static void test_utf8_valid_accepts_well_formed(void **state)
{
    static const char *const good[] = {
        "",
        "ascii only",
        "é",
        "日本語",
        "\xf0\x9f\x98\x80",
        "\xef\xbf\xbd",     /* U+FFFD */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "\xed\x9f\xbf",     /* U+D7FF */
        "\xee\x80\x80",     /* U+E000 */
        "\xc2\x80",         /* U+0080 */
        "\xe0\xa0\x80",     /* U+0800 */
        "\xf0\x90\x80\x80", /* U+10000 */
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(lx_utf8_valid(good[i], strlen(good[i])));
}

static void test_utf8_valid_refuses_ill_formed(void **state)
{
    static const char *const bad[] = {
        "\xc0\x80",             /* overlong two-byte */
        "\xc1\xbf",             /* overlong two-byte */
        "\xe0\x80\x80",         /* overlong three-byte */
        "\xe0\x9f\xbf",         /* overlong three-byte */
        "\xf0\x80\x80\x80",     /* overlong four-byte */
        "\xf0\x8f\xbf\xbf",     /* overlong four-byte */
        "\xed\xa0\x80",         /* surrogate U+D800 */
        "\xed\xbf\xbf",         /* surrogate U+DFFF */
        "\xf4\x90\x80\x80",     /* U+110000, above U+10FFFF */
        "\xf5\x80\x80\x80",     /* above U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* five-byte form */
        "\xff",                 /* never in UTF-8 */
        "\xfe",                 /* never in UTF-8 */
        "\xc3",                 /* truncated */
        "\xe6\x97",             /* truncated */
        "\xf0\x9f\x98",         /* truncated */
        "a\xc3",                /* truncated at the end */
        "\xe6\x97z",            /* truncated before ASCII */
        "\x80",                 /* lone continuation */
        "\xbf",                 /* lone continuation */
        "\xc3\xa9\xa9",         /* one continuation too many */
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(lx_utf8_valid(bad[i], strlen(bad[i])));
    assert_false(lx_utf8_valid("a\0b", 3)); /* NUL */
    /* The length bounds the check: the truncated sequence counts. */
    assert_false(lx_utf8_valid("\xc3\xa9", 1));
    assert_true(lx_utf8_valid("\xc3\xa9", 2));
}

/* ---------------------------------------------------------------- normalize */

static void assert_normalized(const char *in, size_t len, const char *want)
{
    size_t out_len = 12345;
    char *out = storage_text_normalize(in, len, &out_len);

    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(out_len, strlen(want));
    assert_true(lx_utf8_valid(out, out_len));
    free(out);
}

static void test_normalize_line_ends(void **state)
{
    assert_normalized("a\r\nb\rc\nd", 8, "a\nb\nc\nd");
    assert_normalized("a\r\r\nb", 5, "a\n\nb");
    assert_normalized("", 0, "");
}

static void test_normalize_controls_removed(void **state)
{
    assert_normalized("a\x01"
                      "b\0c\td\x0c"
                      "e\x1b[0m\x7f",
                      14, "abc\tde[0m\x7f");
}

static void test_normalize_invalid_bytes_become_fffd(void **state)
{
    assert_normalized("a\xff"
                      "b",
                      3,
                      "a\xef\xbf\xbd"
                      "b");
    /* One U+FFFD for a truncated sequence, as Unicode recommends. */
    assert_normalized("a\xe6\x97", 3, "a\xef\xbf\xbd");
    assert_normalized("\xe6\x97z", 3, "\xef\xbf\xbdz");
    /* A surrogate is three bad bytes; an overlong two. */
    assert_normalized("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_normalized("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");
    /* Good text passes untouched. */
    assert_normalized("Résumé – 日本 😀", strlen("Résumé – 日本 😀"), "Résumé – 日本 😀");
}

static void test_normalize_trailing_spaces_and_blank_lines(void **state)
{
    assert_normalized("a  \nb\t\nc ", 9, "a\nb\nc");
    assert_normalized("a\n\n\n\n\n\nb", 8, "a\n\n\nb");
    assert_normalized("a\n \n\t\n  \n\n\r\nb", 13, "a\n\n\nb");
    assert_normalized("a\n\n\nb", 5, "a\n\n\nb"); /* two blank lines stay */
    assert_normalized("\n\n\n\n\nstart", 10, "\n\nstart");
    assert_normalized("  indented\n", 11, "  indented\n");
}

/* ---------------------------------------------------------------- passages */

/* s without its white space, for checking that cutting lost nothing. */
static char *squeeze(const char *s, size_t len)
{
    char *o = malloc(len + 1);
    size_t n = 0;

    assert_non_null(o);
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\n\r\f\v", s[i]) || s[i] == '\0')
            o[n++] = s[i];
    o[n] = '\0';
    return o;
}

static void assert_passages_keep_text(const char *text, char **v, size_t n)
{
    char *want = squeeze(text, strlen(text));
    buf all = {0};
    char *got;

    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);

        assert_true(l > 0);
        assert_null(strchr(" \t\n\r\f\v", v[i][0]));
        assert_null(strchr(" \t\n\r\f\v", v[i][l - 1]));
        assert_true(lx_utf8_valid(v[i], l));
        buf_add(&all, v[i], l);
    }
    got = squeeze(all.p ? all.p : "", all.len);
    assert_string_equal(got, want);
    free(got);
    free(want);
    free(all.p);
}

static void test_passages_join_paragraphs_near_target(void **state)
{
    buf t = {0};
    char **v;
    size_t n;

    /* 40 paragraphs of 100 to 200 bytes. */
    for (int i = 0; i < 40; i++) {
        char p[256];
        int len = 100 + (i * 37) % 100;

        memset(p, 'a' + i % 26, (size_t)len);
        memcpy(p, "Para ", 5);
        p[len] = '\0';
        buf_str(&t, p);
        buf_str(&t, i % 3 == 0 ? "\n\n" : "\n  \n\t\n");
    }
    assert_int_equal(storage_text_passages(t.p, t.len, 800, &v, &n), LX_OK);
    assert_true(n >= 6 && n <= 12);
    for (size_t i = 0; i < n; i++) {
        assert_true(strlen(v[i]) <= 800);
        if (i + 1 < n)
            assert_true(strlen(v[i]) >= 800 - 2 - 200);
    }
    /* Paragraphs are joined by one blank line. */
    assert_non_null(strstr(v[0], "\n\nPara "));
    assert_passages_keep_text(t.p, v, n);
    free_strv(v, n);
    free(t.p);
}

static void test_passages_long_paragraph_cut_at_sentence_ends(void **state)
{
    buf t = {0};
    char **v;
    size_t n;

    for (int i = 0; i < 150; i++) {
        char s[64];

        snprintf(s, sizeof(s), "Sentence number %d is right here%s ", i,
                 i % 3 == 0 ? "!" : (i % 3 == 1 ? "?" : "."));
        buf_str(&t, s);
    }
    assert_true(t.len > 2 * 800);
    assert_int_equal(storage_text_passages(t.p, t.len, 800, &v, &n), LX_OK);
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);

        assert_true(l <= 800);
        assert_non_null(strchr(".!?", v[i][l - 1]));
        assert_memory_equal(v[i], "Sentence number ", 16);
        if (i + 1 < n)
            assert_true(l >= 400);
    }
    assert_passages_keep_text(t.p, v, n);
    free_strv(v, n);

    /* A paragraph between one and two targets stays whole. */
    assert_int_equal(storage_text_passages(t.p, 1500, 800, &v, &n), LX_OK);
    assert_int_equal(n, 1);
    free_strv(v, n);
    free(t.p);
}

static void test_passages_cut_at_spaces_without_sentences(void **state)
{
    buf t = {0};
    char **v;
    size_t n;

    for (int i = 0; i < 600; i++) {
        char w[16];

        snprintf(w, sizeof(w), "w%05d ", i);
        buf_str(&t, w);
    }
    assert_int_equal(storage_text_passages(t.p, t.len, 500, &v, &n), LX_OK);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);

        assert_true(l <= 500);
        /* Whole words only: "wNNNNN" separated by single spaces. */
        assert_int_equal((l + 1) % 7, 0);
        assert_int_equal(v[i][0], 'w');
    }
    assert_passages_keep_text(t.p, v, n);
    free_strv(v, n);
    free(t.p);
}

static void test_passages_never_split_utf8(void **state)
{
    static const char *const chars[] = {"日", "é", "😀"};

    for (size_t c = 0; c < 3; c++) {
        buf t = {0}, all = {0};
        char **v;
        size_t n;

        for (int i = 0; i < 1000; i++)
            buf_str(&t, chars[c]);
        for (size_t target = 1; target <= 101; target += 25) {
            assert_int_equal(storage_text_passages(t.p, t.len, target, &v, &n), LX_OK);
            all.len = 0;
            for (size_t i = 0; i < n; i++) {
                assert_true(lx_utf8_valid(v[i], strlen(v[i])));
                assert_true(strlen(v[i]) <= (target < 4 ? 4 : target));
                buf_add(&all, v[i], strlen(v[i]));
            }
            assert_int_equal(all.len, t.len);
            assert_memory_equal(all.p, t.p, t.len);
            free_strv(v, n);
        }
        free(t.p);
        free(all.p);
    }
}

static void test_passages_whitespace_dropped(void **state)
{
    static const char blank[] = "  \n\n \t \n\n   \n";
    static const char text[] = "\n\n   First paragraph.  \n\n\n \t\n  Second one.\n\n";
    char **v;
    size_t n;

    assert_int_equal(storage_text_passages(blank, sizeof(blank) - 1, 800, &v, &n), LX_OK);
    assert_int_equal(n, 0);
    free_strv(v, n);
    assert_int_equal(storage_text_passages("", 0, 800, &v, &n), LX_OK);
    assert_int_equal(n, 0);
    free_strv(v, n);

    assert_int_equal(storage_text_passages(text, sizeof(text) - 1, 800, &v, &n), LX_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "First paragraph.\n\nSecond one.");
    free_strv(v, n);

    assert_int_equal(storage_text_passages(text, sizeof(text) - 1, 10, &v, &n), LX_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "First paragraph.");
    assert_string_equal(v[1], "Second one.");
    free_strv(v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp_browser_upload_with_metadata_and_file),
        cmocka_unit_test(test_mp_boundary_quoted_or_token),
        cmocka_unit_test(test_mp_boundary_refusals),
        cmocka_unit_test(test_mp_quoted_boundary_parses),
        cmocka_unit_test(test_mp_boundary_lookalikes_in_data_are_data),
        cmocka_unit_test(test_mp_preamble_padding_and_epilogue),
        cmocka_unit_test(test_mp_missing_or_crlfless_close_refused),
        cmocka_unit_test(test_mp_at_most_64_parts),
        cmocka_unit_test(test_mp_part_without_name_refused),
        cmocka_unit_test(test_mp_filename_star_utf8_wins),
        cmocka_unit_test(test_mp_params_quoted_escapes_and_any_case),
        cmocka_unit_test(test_mp_malformed_headers_refused),
        cmocka_unit_test(test_mp_header_limits),
        cmocka_unit_test(test_mp_adversarial_lookalikes_parse),
        cmocka_unit_test(test_safe_filename_path_traversal_made_safe),
        cmocka_unit_test(test_safe_filename_unicode_kept),
        cmocka_unit_test(test_safe_filename_controls_and_specials_replaced),
        cmocka_unit_test(test_safe_filename_long_cut_on_utf8_boundary),
        cmocka_unit_test(test_sniff_accepts_each_type),
        cmocka_unit_test(test_sniff_jpeg_and_upper_case_extensions),
        cmocka_unit_test(test_sniff_refuses_mismatches),
        cmocka_unit_test(test_sniff_refuses_other_types_and_empty),
        cmocka_unit_test(test_utf8_valid_accepts_well_formed),
        cmocka_unit_test(test_utf8_valid_refuses_ill_formed),
        cmocka_unit_test(test_normalize_line_ends),
        cmocka_unit_test(test_normalize_controls_removed),
        cmocka_unit_test(test_normalize_invalid_bytes_become_fffd),
        cmocka_unit_test(test_normalize_trailing_spaces_and_blank_lines),
        cmocka_unit_test(test_passages_join_paragraphs_near_target),
        cmocka_unit_test(test_passages_long_paragraph_cut_at_sentence_ends),
        cmocka_unit_test(test_passages_cut_at_spaces_without_sentences),
        cmocka_unit_test(test_passages_never_split_utf8),
        cmocka_unit_test(test_passages_whitespace_dropped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
