/*
 * The token parsers of plugins/auth/jwt.c: the Bearer header, strict
 * base64url and the three segments of a compact JWT.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

/* ---------------------------------------------------------------- Bearer */

static const char *bearer(const char *header)
{
    static char buf[256];
    const char *tok = NULL;
    size_t len = 0;

    if (auth_bearer_parse(header, &tok, &len) != 0)
        return NULL;
    assert_true(tok >= header && tok + len <= header + strlen(header));
    snprintf(buf, sizeof(buf), "%.*s", (int)len, tok);
    return buf;
}

static void test_bearer_scheme_any_case(void **state)
{
    assert_string_equal(bearer("Bearer a.b.c"), "a.b.c");
    assert_string_equal(bearer("bearer a.b.c"), "a.b.c");
    assert_string_equal(bearer("BEARER a.b.c"), "a.b.c");
    assert_string_equal(bearer("bEaReR a.b.c"), "a.b.c");
}

static void test_bearer_repeated_spaces_allowed(void **state)
{
    assert_string_equal(bearer("Bearer   a.b.c"), "a.b.c");
    assert_string_equal(bearer("Bearer a-b_c.d~e+f/g="), "a-b_c.d~e+f/g=");
}

static void test_bearer_refusals(void **state)
{
    static const char *const bad[] = {
        "",                   /* empty */
        "Bearer",             /* no token */
        "Bearer ",            /* empty token */
        "Bearer    ",         /* only spaces */
        "Bearera.b.c",        /* no separator */
        "Bearer\ta.b.c",      /* tab is not SP */
        "Bearer a.b.c\r\n",   /* CRLF */
        "Bearer a.b\r\nX: y", /* header injection */
        "Bearer a.b.c\n",     /* LF */
        "Bearer a.b.c ",      /* trailing space */
        "Bearer a.b.c\t",     /* trailing tab */
        "Bearer a.b.c d.e.f", /* two tokens */
        "Bearer a\tb",        /* tab inside */
        " Bearer a.b.c",      /* leading space */
        "Basic dXNlcjpwYXNz", /* another scheme */
        "Bearer: a.b.c",      /* not the scheme */
        "Token a.b.c",
        "Bearer a.b.\x7f",    /* DEL */
        "Bearer a.b.\xc3\xa9", /* non-ASCII */
        NULL,
    };

    for (size_t i = 0; bad[i] != NULL; i++) {
        if (bearer(bad[i]) != NULL)
            fail_msg("accepted case %zu", i);
    }
    assert_null(bearer(NULL));
    {
        const char *tok;
        size_t len;

        assert_int_equal(auth_bearer_parse("Bearer x", NULL, &len), -1);
        assert_int_equal(auth_bearer_parse("Bearer x", &tok, NULL), -1);
    }
}

/* Every byte value (but NUL, which ends the header) at every position of
 * tokens of 1 to 40 bytes (the token is checked a word at a time): accepted
 * exactly when it is visible ASCII, 0x21..0x7e. */
static void test_bearer_every_byte_everywhere(void **state)
{
    for (size_t len = 1; len <= 40; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            for (int b = 1; b < 256; b++) {
                char header[64];
                const char *tok = NULL;
                size_t n = 0;
                int want = b > 0x20 && b < 0x7f, rc;

                memcpy(header, "Bearer ", 7);
                memset(header + 7, 'a', len);
                header[7 + pos] = (char)b;
                header[7 + len] = '\0';
                rc = auth_bearer_parse(header, &tok, &n);
                /* A space first is one more separator, not the token (which
                 * must not then be empty). */
                if (b == ' ' && pos == 0)
                    want = len > 1;
                if (rc != (want ? 0 : -1))
                    fail_msg("len %zu pos %zu byte %d: %d", len, pos, b, rc);
                if (rc == 0) {
                    assert_ptr_equal(tok + n, header + 7 + len);
                    assert_int_equal(n, b == ' ' && pos == 0 ? len - 1 : len);
                }
            }
        }
    }
}

/* ---------------------------------------------------------------- base64url */

static int decodes_to(const char *in, const char *want)
{
    unsigned char *out = (unsigned char *)1;
    size_t n = 99;
    int ok;

    if (auth_b64url_decode(in, strlen(in), &out, &n) != 0) {
        assert_null(out);
        return 0;
    }
    ok = n == strlen(want) && memcmp(out, want, n) == 0 && out[n] == '\0';
    free(out);
    return ok;
}

static void test_b64url_rfc4648_vectors(void **state)
{
    assert_true(decodes_to("", ""));
    assert_true(decodes_to("Zg", "f"));
    assert_true(decodes_to("Zm8", "fo"));
    assert_true(decodes_to("Zm9v", "foo"));
    assert_true(decodes_to("Zm9vYg", "foob"));
    assert_true(decodes_to("Zm9vYmE", "fooba"));
    assert_true(decodes_to("Zm9vYmFy", "foobar"));
    assert_true(decodes_to("-_-_", "\xfb\xff\xbf"));
}

static void test_b64url_strictness(void **state)
{
    static const char *const bad[] = {
        "Z",        /* length % 4 == 1 */
        "Zm9vY",    /* likewise */
        "Zg==",     /* padding */
        "Zg=",      /* padding */
        "Zm9v=",    /* padding */
        "+_-_",     /* standard alphabet */
        "/_-_",     /* standard alphabet */
        "Zm 9v",    /* space */
        " Zm9v",    /* leading space */
        "Zm9v\n",   /* newline */
        "Zm9v\r",   /* CR */
        "Zm\t9v",   /* tab */
        "Zh",       /* unused bits set: another encoding of "f" */
        "Zm9",      /* unused bits set: another encoding of "fo" */
        "Zm.v",     /* dot */
        "Zm\xc3\xa9", /* non-ASCII */
        NULL,
    };

    for (size_t i = 0; bad[i] != NULL; i++) {
        unsigned char *out;
        size_t n;

        if (auth_b64url_decode(bad[i], strlen(bad[i]), &out, &n) != -1)
            fail_msg("accepted case %zu", i);
    }
    {
        unsigned char *out;
        size_t n;

        /* A NUL inside the counted length is not in the alphabet. */
        assert_int_equal(auth_b64url_decode("Zm\0v", 4, &out, &n), -1);
        /* Only len bytes are read. */
        assert_int_equal(auth_b64url_decode("Zm9v!!", 4, &out, &n), 0);
        assert_int_equal(n, 3);
        free(out);
        assert_int_equal(auth_b64url_decode(NULL, 1, &out, &n), -1);
    }
}

static void test_b64url_round_trip_every_length(void **state)
{
    unsigned char data[300];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 151 + 7);
    for (size_t len = 0; len <= sizeof(data); len++) {
        char *enc;
        unsigned char *dec;
        size_t n;

        assert_int_equal(auth_b64url_encode(data, len, &enc), 0);
        assert_int_equal(strlen(enc), (len * 4 + 2) / 3);
        assert_null(strpbrk(enc, "+/="));
        assert_int_equal(auth_b64url_decode(enc, strlen(enc), &dec, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(dec, data, len);
        free(enc);
        free(dec);
    }
}

/* Every byte value at every position of a full quad and of both short
 * tails, against a bit-by-bit reference: accepted exactly when the byte is
 * in the alphabet (and, last in a tail, leaves the unused bits zero), and
 * then decoded to the same bytes. */
static void test_b64url_every_byte_everywhere(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static const char *const bases[] = {"Zm9vYmFy", "Zm9vZg", "Zm9vZm8", "QUJD"};

    for (size_t bi = 0; bi < sizeof(bases) / sizeof(bases[0]); bi++) {
        size_t len = strlen(bases[bi]);

        for (size_t pos = 0; pos < len; pos++) {
            for (int b = 0; b < 256; b++) {
                char in[16];
                unsigned char want[16], *out = NULL;
                size_t n = 0, wn = 0;
                uint32_t acc = 0;
                int bits = 0, ok = 1, rc;

                memcpy(in, bases[bi], len);
                in[pos] = (char)b;
                for (size_t i = 0; i < len; i++) {
                    const char *c = in[i] != '\0' ? strchr(alphabet, in[i]) : NULL;

                    if (c == NULL) {
                        ok = 0;
                        break;
                    }
                    acc = acc << 6 | (uint32_t)(c - alphabet);
                    bits += 6;
                    if (bits >= 8) {
                        bits -= 8;
                        want[wn++] = (unsigned char)(acc >> bits);
                        acc &= (1u << bits) - 1;
                    }
                }
                if (ok && acc != 0)
                    ok = 0; /* unused bits set */
                rc = auth_b64url_decode(in, len, &out, &n);
                if (rc != (ok ? 0 : -1))
                    fail_msg("base %zu pos %zu byte %d: %d", bi, pos, b, rc);
                if (ok) {
                    assert_int_equal(n, wn);
                    assert_memory_equal(out, want, wn);
                    assert_int_equal(out[n], 0);
                } else {
                    assert_null(out);
                }
                free(out);
            }
        }
    }
}

/* ---------------------------------------------------------------- JWT */

static char *b64(const char *s)
{
    char *out;

    assert_int_equal(auth_b64url_encode((const unsigned char *)s, strlen(s), &out), 0);
    return out;
}

/* b64(h).b64(p).sig, malloc'd; h or p NULL means an empty segment. */
static char *token_of(const char *h, const char *p, const char *sig)
{
    char *eh = b64(h != NULL ? h : ""), *ep = b64(p != NULL ? p : ""), *t;

    t = malloc(strlen(eh) + strlen(ep) + strlen(sig) + 3);
    assert_non_null(t);
    sprintf(t, "%s.%s.%s", eh, ep, sig);
    free(eh);
    free(ep);
    return t;
}

static char why[128];

static char *dup(const char *s)
{
    char *d = malloc(strlen(s) + 1);

    assert_non_null(d);
    return strcpy(d, s);
}

/* Parses tok (then frees it) and returns the result; the reason is in why. */
static int parse(char *tok)
{
    auth_jwt j;
    int rc;

    why[0] = '\0';
    rc = auth_jwt_parse(tok, strlen(tok), &j, why, sizeof(why));
    if (rc == 0)
        auth_jwt_free(&j);
    else
        assert_null(j.header);
    free(tok);
    return rc;
}

static void test_jwt_parse_fills_the_fields(void **state)
{
    char *t = token_of("{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", "{\"sub\":\"u1\"}",
                       "AQID");
    auth_jwt j;
    json_object *v;

    assert_int_equal(auth_jwt_parse(t, strlen(t), &j, why, sizeof(why)), 0);
    assert_string_equal(j.alg, "RS256");
    assert_string_equal(j.kid, "k1");
    assert_int_equal(j.kid_len, 2);
    assert_ptr_equal(j.signing_input, t);
    assert_int_equal(j.signing_input_len, strrchr(t, '.') - t);
    assert_int_equal(j.sig_len, 3);
    assert_memory_equal(j.sig, "\x01\x02\x03", 3);
    assert_int_equal(j.has_empty_sig, 0);
    assert_true(json_object_object_get_ex(j.payload, "sub", &v));
    assert_string_equal(json_object_get_string(v), "u1");
    auth_jwt_free(&j);
    auth_jwt_free(&j); /* idempotent */
    free(t);
}

static void test_jwt_parse_empty_signature(void **state)
{
    char *t = token_of("{\"alg\":\"none\"}", "{}", "");
    auth_jwt j;

    assert_int_equal(auth_jwt_parse(t, strlen(t), &j, why, sizeof(why)), 0);
    assert_int_equal(j.has_empty_sig, 1);
    assert_int_equal(j.sig_len, 0);
    assert_null(j.kid);
    auth_jwt_free(&j);
    free(t);
}

static void test_jwt_parse_non_string_alg_and_kid_read_as_absent(void **state)
{
    char *t = token_of("{\"alg\":1,\"kid\":[\"k1\"]}", "{}", "");
    auth_jwt j;

    assert_int_equal(auth_jwt_parse(t, strlen(t), &j, why, sizeof(why)), 0);
    assert_null(j.alg);
    assert_null(j.kid);
    auth_jwt_free(&j);
    free(t);
}

static void test_jwt_parse_nul_in_alg_or_kid_refused(void **state)
{
    assert_int_equal(parse(token_of("{\"alg\":\"RS256\\u0000x\"}", "{}", "")), -1);
    assert_string_equal(why, "NUL byte in header");
    assert_int_equal(parse(token_of("{\"alg\":\"RS256\",\"kid\":\"k1\\u0000\"}", "{}", "")), -1);
    /* Elsewhere in the header a \u0000 is only data. */
    assert_int_equal(parse(token_of("{\"alg\":\"RS256\",\"x\":\"\\u0000\"}", "{}", "")), 0);
}

static void test_jwt_parse_segment_count(void **state)
{
    char *eh = b64("{}");
    char buf[128];

    assert_int_equal(parse(dup("abc")), -1);
    assert_string_equal(why, "three segments expected");
    snprintf(buf, sizeof(buf), "%s.%s", eh, eh);
    assert_int_equal(parse(dup(buf)), -1);
    assert_string_equal(why, "three segments expected");
    snprintf(buf, sizeof(buf), "%s.%s..", eh, eh);
    assert_int_equal(parse(dup(buf)), -1);
    snprintf(buf, sizeof(buf), "%s.%s.AQID.AQID", eh, eh);
    assert_int_equal(parse(dup(buf)), -1);
    snprintf(buf, sizeof(buf), ".%s.", eh);
    assert_int_equal(parse(dup(buf)), -1);
    assert_string_equal(why, "empty segment");
    snprintf(buf, sizeof(buf), "%s..", eh);
    assert_int_equal(parse(dup(buf)), -1);
    assert_string_equal(why, "empty segment");
    snprintf(buf, sizeof(buf), "%s.%s.", eh, eh);
    assert_int_equal(parse(dup(buf)), 0);
    free(eh);
    assert_int_equal(parse(dup("")), -1);
}

static void test_jwt_parse_bad_base64_in_each_segment(void **state)
{
    char *eh = b64("{}");
    char buf[128];

    snprintf(buf, sizeof(buf), "%s=.%s.", eh, eh);
    assert_int_equal(parse(dup(buf)), -1);
    assert_string_equal(why, "header is not base64url");
    snprintf(buf, sizeof(buf), "%s.%s=.", eh, eh);
    assert_int_equal(parse(dup(buf)), -1);
    assert_string_equal(why, "payload is not base64url");
    snprintf(buf, sizeof(buf), "%s.%s.AQ+D", eh, eh);
    assert_int_equal(parse(dup(buf)), -1);
    assert_string_equal(why, "signature is not base64url");
    snprintf(buf, sizeof(buf), "%s.%s.A", eh, eh);
    assert_int_equal(parse(dup(buf)), -1);
    free(eh);
}

static void test_jwt_parse_json_must_be_one_object(void **state)
{
    static const char *const bad_payloads[] = {
        "[]", "\"x\"", "1", "null", "true", "{", "{}}", "{}{}", "{},", "{\"a\":1,}", "{} x",
        "{\"a\":\"\xff\"}", /* not UTF-8 */
        "",
        NULL,
    };

    for (size_t i = 0; bad_payloads[i] != NULL; i++)
        if (parse(token_of("{}", bad_payloads[i], "")) != -1)
            fail_msg("accepted payload %zu", i);
    assert_int_equal(parse(token_of("{}", "[]", "")), -1);
    assert_string_equal(why, "payload is not a JSON object");
    assert_int_equal(parse(token_of("{}", "{", "")), -1);
    assert_string_equal(why, "payload is not JSON");
    assert_int_equal(parse(token_of("\"x\"", "{}", "")), -1);
    assert_string_equal(why, "header is not a JSON object");
    /* Trailing JSON whitespace is allowed, as Go's encoding/json allows it. */
    assert_int_equal(parse(token_of("{} \n", "{}\t", "")), 0);
}

static void test_jwt_parse_raw_nul_in_json_refused(void **state)
{
    /* "{}\0" encoded by hand: json-c would stop at the NUL. */
    char *eh = b64("{}"), buf[64];
    unsigned char raw[] = {'{', '}', 0};
    char *enc;

    assert_int_equal(auth_b64url_encode(raw, 3, &enc), 0);
    snprintf(buf, sizeof(buf), "%s.%s.", eh, enc);
    assert_int_equal(parse(dup(buf)), -1);
    assert_string_equal(why, "payload is not JSON");
    free(enc);
    free(eh);
}

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 7 + 16), *p = s;

    assert_non_null(s);
    *p++ = '{';
    for (int i = 1; i < depth; i++)
        p += sprintf(p, "\"a\":{");
    for (int i = 0; i < depth; i++)
        *p++ = '}';
    *p = '\0';
    return s;
}

static void test_jwt_parse_depth_limit(void **state)
{
    char *ok = nested(AUTH_MAX_JSON_DEPTH), *deep = nested(AUTH_MAX_JSON_DEPTH + 1), *brackets;

    assert_int_equal(parse(token_of("{}", ok, "")), 0);
    assert_int_equal(parse(token_of("{}", deep, "")), -1);
    assert_int_equal(parse(token_of(deep, "{}", "")), -1);
    free(ok);
    free(deep);
    brackets = malloc(1001);
    assert_non_null(brackets);
    memset(brackets, '[', 1000);
    brackets[1000] = '\0';
    assert_int_equal(parse(token_of("{}", brackets, "")), -1);
    free(brackets);
}

static void test_jwt_parse_length_cap(void **state)
{
    char *big = malloc(AUTH_MAX_TOKEN + 2), *pay;
    auth_jwt j;

    assert_non_null(big);
    memset(big, 'A', AUTH_MAX_TOKEN + 1);
    big[AUTH_MAX_TOKEN + 1] = '\0';
    assert_int_equal(auth_jwt_parse(big, AUTH_MAX_TOKEN + 1, &j, why, sizeof(why)), -1);
    assert_string_equal(why, "token too long");
    free(big);
    /* A valid token just under the cap parses. */
    pay = malloc(12000);
    assert_non_null(pay);
    memset(pay, ' ', 11999);
    pay[0] = '{';
    pay[1] = '}';
    pay[11999] = '\0';
    big = token_of("{}", pay, "");
    assert_true(strlen(big) <= AUTH_MAX_TOKEN);
    assert_int_equal(parse(big), 0);
    free(pay);
}

static void test_jwt_parse_only_reads_len_bytes(void **state)
{
    char *t = token_of("{}", "{}", "AQID");
    auth_jwt j;

    /* The cut ends inside the signature: a valid (shorter) token. */
    assert_int_equal(auth_jwt_parse(t, strlen(t) - 3, &j, why, sizeof(why)), -1);
    assert_int_equal(auth_jwt_parse(t, strlen(t) - 2, &j, why, sizeof(why)), 0);
    assert_int_equal(j.sig_len, 1);
    auth_jwt_free(&j);
    assert_int_equal(auth_jwt_parse(NULL, 0, &j, why, sizeof(why)), -1);
    assert_int_equal(auth_jwt_parse(t, strlen(t), NULL, why, sizeof(why)), -1);
    /* A NULL reason buffer is fine. */
    assert_int_equal(auth_jwt_parse("x", 1, &j, NULL, 0), -1);
    free(t);
}

static void test_jwt_parse_reasons_never_quote_the_token(void **state)
{
    static const char *const payloads[] = {"[\"SECRET\"]", "{\"SECRET\"", "\"SECRET\"", NULL};

    for (size_t i = 0; payloads[i] != NULL; i++) {
        assert_int_equal(parse(token_of("{\"kid\":\"SECRET\"}", payloads[i], "")), -1);
        assert_null(strstr(why, "SECRET"));
        assert_null(strstr(why, "eyJ"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer_scheme_any_case),
        cmocka_unit_test(test_bearer_repeated_spaces_allowed),
        cmocka_unit_test(test_bearer_refusals),
        cmocka_unit_test(test_bearer_every_byte_everywhere),
        cmocka_unit_test(test_b64url_rfc4648_vectors),
        cmocka_unit_test(test_b64url_strictness),
        cmocka_unit_test(test_b64url_round_trip_every_length),
        cmocka_unit_test(test_b64url_every_byte_everywhere),
        cmocka_unit_test(test_jwt_parse_fills_the_fields),
        cmocka_unit_test(test_jwt_parse_empty_signature),
        cmocka_unit_test(test_jwt_parse_non_string_alg_and_kid_read_as_absent),
        cmocka_unit_test(test_jwt_parse_nul_in_alg_or_kid_refused),
        cmocka_unit_test(test_jwt_parse_segment_count),
        cmocka_unit_test(test_jwt_parse_bad_base64_in_each_segment),
        cmocka_unit_test(test_jwt_parse_json_must_be_one_object),
        cmocka_unit_test(test_jwt_parse_raw_nul_in_json_refused),
        cmocka_unit_test(test_jwt_parse_depth_limit),
        cmocka_unit_test(test_jwt_parse_length_cap),
        cmocka_unit_test(test_jwt_parse_only_reads_len_bytes),
        cmocka_unit_test(test_jwt_parse_reasons_never_quote_the_token),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
