#include "config.h"

/*
 * text/plain.c, the txt and md decoder the plugin runs in-process and
 * lexiaid-extract runs for `txt` and `md`: its answers on chosen inputs
 * (BOM, strict UTF-8, NUL, the 64 MiB limit), and the same answer as the
 * real lexiaid-extract child, byte for byte, on those inputs and on a few
 * hundred generated ones (a fixed seed): the text, or the failure's message.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "text/extract.h"
#include "text/plain.h"

#ifndef LX_TEST_EXTRACT
#error "LX_TEST_EXTRACT must name the built lexiaid-extract"
#endif

/* The decoder's answer: 0 and the text, or -1 and the reason. */
static int decode(const char *s, size_t n, const char **text, size_t *len, const char **why)
{
    size_t start = 99;
    int rc = storage_plain_decode(s, n, &start, why);

    if (rc == 0) {
        assert_null(*why);
        assert_true(start <= n);
        *text = s + start;
        *len = n - start;
    } else {
        assert_int_equal(start, 0);
        assert_non_null(*why);
    }
    return rc;
}

static void test_plain_types_are_txt_and_md(void **state)
{
    (void)state;
    assert_true(storage_plain_is_type("txt"));
    assert_true(storage_plain_is_type("md"));
    assert_false(storage_plain_is_type("pdf"));
    assert_false(storage_plain_is_type("docx"));
    assert_false(storage_plain_is_type("png"));
    assert_false(storage_plain_is_type("TXT"));
    assert_false(storage_plain_is_type(""));
    assert_false(storage_plain_is_type(NULL));
}

static void test_plain_text_is_kept_and_the_bom_dropped(void **state)
{
    static const char bom[] = "\xef\xbb\xbf"
                              "caf\xc3\xa9 \xf0\x9f\x98\x80\r\n";
    const char *text, *why;
    size_t len;

    (void)state;
    assert_int_equal(decode("plain words\n", 12, &text, &len, &why), 0);
    assert_int_equal(len, 12);
    assert_memory_equal(text, "plain words\n", 12);
    assert_int_equal(decode(bom, sizeof(bom) - 1, &text, &len, &why), 0);
    assert_int_equal(len, sizeof(bom) - 4);
    assert_ptr_equal(text, bom + 3);
    assert_int_equal(decode("\xef\xbb\xbf", 3, &text, &len, &why), 0);
    assert_int_equal(len, 0);
    assert_int_equal(decode("", 0, &text, &len, &why), 0);
    assert_int_equal(len, 0);
    /* only one BOM goes */
    assert_int_equal(decode("\xef\xbb\xbf\xef\xbb\xbfx", 7, &text, &len, &why), 0);
    assert_int_equal(len, 4);
}

static void test_plain_refuses_what_is_not_strict_utf8(void **state)
{
    static const char *const bad[] = {
        "\xc0\x80",         /* overlong NUL */
        "\xe0\x80\xaf",     /* overlong / */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xe2\x82",         /* cut short */
        "\x80",             /* a lone continuation byte */
        "\xff",             /* never UTF-8 */
        "ok then \xfe",
    };
    const char *text, *why;
    size_t len;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(decode(bad[i], strlen(bad[i]), &text, &len, &why), -1);
        assert_string_equal(why, "the file is not valid UTF-8 text");
    }
    assert_int_equal(decode("a\0b", 3, &text, &len, &why), -1);
    assert_string_equal(why, "the file is not valid UTF-8 text");
    /* a BOM then a NUL: the BOM does not hide it */
    assert_int_equal(decode("\xef\xbb\xbf\0", 4, &text, &len, &why), -1);
}

static void test_plain_refuses_more_than_64_mib_unread(void **state)
{
    const char *text, *why;
    size_t len;
    char *big = malloc(STORAGE_PLAIN_MAX_FILE + 1);

    (void)state;
    assert_non_null(big);
    memset(big, 'a', STORAGE_PLAIN_MAX_FILE + 1);
    assert_int_equal(decode(big, STORAGE_PLAIN_MAX_FILE, &text, &len, &why), 0);
    assert_int_equal(len, STORAGE_PLAIN_MAX_FILE);
    assert_int_equal(decode(big, STORAGE_PLAIN_MAX_FILE + 1, &text, &len, &why), -1);
    assert_string_equal(why, "the file is larger than 64 MiB");
    free(big);
}

/* The decoder and the child on the same bytes: the same text, or the
 * same message. */
static void same_as_the_child(const char *type, const char *s, size_t n)
{
    storage_extract_opts o = {.program = LX_TEST_EXTRACT, .timeout_ms = 60000};
    storage_extract_result res;
    const char *text, *why;
    char err[256];
    size_t len;
    int rc = storage_extract(&o, type, s, n, &res, err, sizeof(err));

    if (decode(s, n, &text, &len, &why) == 0) {
        if (rc != LX_OK)
            fail_msg("the child refused what the decoder took: %s", err);
        assert_int_equal(res.pages, 1);
        assert_int_equal(res.len, len);
        assert_memory_equal(res.text, text, len);
        free(res.text);
    } else {
        assert_int_equal(rc, LX_ERROR);
        assert_string_equal(err, why);
    }
}

static void test_plain_answers_as_the_child_does_on_chosen_input(void **state)
{
    static const struct {
        const char *s;
        size_t n;
    } in[] = {
        {"", 0},
        {"plain words\n", 12},
        {"\xef\xbb\xbf# Title\n\nA *Markdown* file.\n", 32},
        {"\xef\xbb\xbf", 3},
        {"caf\xc3\xa9 \xf0\x9f\x98\x80\r\n  trailing  \t\n\n\n", 29},
        {"\xed\xa0\x80", 3},
        {"a\0b", 3},
        {"\xc3", 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        same_as_the_child("txt", in[i].s, in[i].n);
        same_as_the_child("md", in[i].s, in[i].n);
    }
}

/* Bytes from a palette that makes valid and broken UTF-8 both likely. */
static void test_plain_answers_as_the_child_does_on_generated_input(void **state)
{
    static const unsigned char pal[] = {'a',  ' ',  '\n', '\r', 0x00, 0x7f, 0x80, 0xbf,
                                        0xc2, 0xc3, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xbb,
                                        0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff};
    uint32_t seed = 20261206u;
    char s[48];

    (void)state;
    for (int k = 0; k < 300; k++) {
        size_t n;

        seed = seed * 1664525u + 1013904223u;
        n = (seed >> 8) % sizeof(s);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            /* mostly ASCII letters, so that some inputs are valid */
            s[i] = (seed >> 24) < 160 ? 'a' + (char)((seed >> 16) % 26)
                                      : (char)pal[(seed >> 16) % sizeof(pal)];
        }
        if (k % 7 == 0 && n >= 3)
            memcpy(s, "\xef\xbb\xbf", 3);
        same_as_the_child(k % 2 ? "md" : "txt", s, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_types_are_txt_and_md),
        cmocka_unit_test(test_plain_text_is_kept_and_the_bom_dropped),
        cmocka_unit_test(test_plain_refuses_what_is_not_strict_utf8),
        cmocka_unit_test(test_plain_refuses_more_than_64_mib_unread),
        cmocka_unit_test(test_plain_answers_as_the_child_does_on_chosen_input),
        cmocka_unit_test(test_plain_answers_as_the_child_does_on_generated_input),
    };

    signal(SIGPIPE, SIG_DFL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
