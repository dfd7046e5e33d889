#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "log.h"
#include "ws_handshake.h"

/* A good handshake, to spoil one field at a time. */
static lx_ws_hs_request good(void)
{
    lx_ws_hs_request in = {
        .method = "GET",
        .host = "example.com",
        .upgrade = "websocket",
        .connection = "Upgrade",
        .key = "dGhlIHNhbXBsZSBub25jZQ==",
        .version = "13",
    };
    return in;
}

static int refusal(const lx_ws_hs_request *in, lx_ws_refusal *r)
{
    char accept[LX_WS_ACCEPT_LEN + 1];
    return lx_ws_handshake_check(in, accept, r);
}

static void test_ws_accept_key_is_the_rfc_sample(void **state)
{
    char accept[LX_WS_ACCEPT_LEN + 1];
    lx_ws_refusal r;
    lx_ws_hs_request in = good();
    (void)state;
    assert_int_equal(lx_ws_handshake_check(&in, accept, &r), 0);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_ws_tokens_are_case_insensitive_list_members(void **state)
{
    (void)state;
    assert_true(lx_ws_has_token("keep-alive, Upgrade", "upgrade"));
    assert_true(lx_ws_has_token("  UPGRADE  ", "upgrade"));
    assert_true(lx_ws_has_token("a,,upgrade,b", "upgrade"));
    assert_false(lx_ws_has_token("upgraded", "upgrade"));
    assert_false(lx_ws_has_token("keep-alive", "upgrade"));
    assert_false(lx_ws_has_token(NULL, "upgrade"));
    assert_true(lx_ws_is_upgrade("WebSocket"));
    assert_true(lx_ws_is_upgrade("h2c, websocket"));
    assert_false(lx_ws_is_upgrade("h2c"));
}

static void test_ws_handshake_refusals_name_what_is_wrong(void **state)
{
    lx_ws_refusal r;
    lx_ws_hs_request in;
    (void)state;

    in = good();
    in.method = "POST";
    assert_int_equal(refusal(&in, &r), -1);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.code, "BAD_HANDSHAKE");

    in = good();
    in.upgrade = NULL;
    assert_int_equal(refusal(&in, &r), -1);
    assert_int_equal(r.status, 400);

    in = good();
    in.connection = "keep-alive";
    assert_int_equal(refusal(&in, &r), -1);
    assert_int_equal(r.status, 400);

    in = good();
    in.version = "8";
    assert_int_equal(refusal(&in, &r), -1);
    assert_int_equal(r.status, 426);
    assert_string_equal(r.code, "WEBSOCKET_VERSION");

    in = good();
    in.version = NULL;
    assert_int_equal(refusal(&in, &r), -1);
    assert_int_equal(r.status, 400);

    in = good();
    in.key = NULL;
    assert_int_equal(refusal(&in, &r), -1);
    assert_non_null(strstr(r.message, "Sec-WebSocket-Key"));

    static const char *const bad_keys[] = {"", "short==", "dGhlIHNhbXBsZSBub25jZQ=",
                                           "dGhlIHNhbXBsZSBub25jZQ===", "dGhlIHNhbXBsZSBub25j!Q=="};
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        in = good();
        in.key = bad_keys[i];
        assert_int_equal(refusal(&in, &r), -1);
        assert_int_equal(r.status, 400);
    }

    in = good();
    in.body_len = 1;
    assert_int_equal(refusal(&in, &r), -1);
    assert_non_null(strstr(r.message, "body"));
    in = good();
    in.content_length = "5";
    assert_int_equal(refusal(&in, &r), -1);
    in = good();
    in.content_length = "0";
    assert_int_equal(refusal(&in, &r), 0);
    in = good();
    in.transfer_encoding = "chunked";
    assert_int_equal(refusal(&in, &r), -1);

    in = good();
    in.host = NULL;
    assert_int_equal(refusal(&in, &r), -1);
}

static void test_ws_origin_listed_own_or_absent_is_allowed(void **state)
{
    char *allowed[] = {"https://app.example"};
    char *any[] = {"*"};
    (void)state;

    assert_true(lx_ws_origin_allowed(NULL, "api.example", allowed, 1));
    assert_true(lx_ws_origin_allowed("https://app.example", "api.example", allowed, 1));
    assert_true(lx_ws_origin_allowed("https://evil.example", "api.example", any, 1));
    /* the server's own origin, default ports implied either way */
    assert_true(lx_ws_origin_allowed("http://api.example:8080", "api.example:8080", NULL, 0));
    assert_true(lx_ws_origin_allowed("https://api.example", "api.example:443", NULL, 0));
    assert_true(lx_ws_origin_allowed("http://api.example:80", "api.example", NULL, 0));
    assert_true(lx_ws_origin_allowed("HTTP://API.example", "api.example", NULL, 0));

    assert_false(lx_ws_origin_allowed("https://evil.example", "api.example", allowed, 1));
    assert_false(lx_ws_origin_allowed("http://api.example:8081", "api.example:8080", NULL, 0));
    assert_false(lx_ws_origin_allowed("https://api.example", "api.example:80", NULL, 0));
    assert_false(lx_ws_origin_allowed("null", "api.example", NULL, 0));
    assert_false(lx_ws_origin_allowed("file://api.example", "api.example", NULL, 0));
    assert_false(lx_ws_origin_allowed("http://api.example/x", "api.example", NULL, 0));
    assert_false(lx_ws_origin_allowed("http://user@api.example", "api.example", NULL, 0));
    assert_false(lx_ws_origin_allowed("http://api.example", NULL, NULL, 0));
}

static void test_ws_access_log_query_has_credentials_redacted(void **state)
{
    char out[128];
    (void)state;

    lx_log_redact_query(out, sizeof(out), "token=eyJabc.def&lang=en");
    assert_string_equal(out, "token=[REDACTED]&lang=en");
    lx_log_redact_query(out, sizeof(out), "lang=en&api_key=k&Session=s&x");
    assert_string_equal(out, "lang=en&api_key=[REDACTED]&Session=[REDACTED]&x");
    lx_log_redact_query(out, sizeof(out), "id_token=&access_token=a=b");
    assert_string_equal(out, "id_token=&access_token=[REDACTED]"); /* nothing to hide */
    lx_log_redact_query(out, 12, "token=secretsecret");
    assert_string_equal(out, "token=[REDA");
    assert_null(strstr(out, "secret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_accept_key_is_the_rfc_sample),
        cmocka_unit_test(test_ws_tokens_are_case_insensitive_list_members),
        cmocka_unit_test(test_ws_handshake_refusals_name_what_is_wrong),
        cmocka_unit_test(test_ws_origin_listed_own_or_absent_is_allowed),
        cmocka_unit_test(test_ws_access_log_query_has_credentials_redacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
