#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "router.h"

/* Distinct addresses to hand the router as route data. */
static int tag_a, tag_b, tag_c, tag_d;

static lx_router *router_with(const char *const *routes, void *const *datas)
{
    lx_router *r = lx_router_new();
    char err[256];

    assert_non_null(r);
    for (size_t i = 0; routes[2 * i] != NULL; i++)
        assert_int_equal(
            lx_router_add(r, routes[2 * i], routes[2 * i + 1], datas[i], err, sizeof(err)), LX_OK);
    return r;
}

/* Matches and returns the status; m is heap-allocated by the caller since
 * it holds a whole path buffer. */
static lx_route_status match(const lx_router *r, const char *method, const char *path,
                             lx_route_match *m)
{
    char allow[128];

    return lx_router_match(r, method, path, m, allow, sizeof(allow));
}

static lx_route_match *match_new(void)
{
    lx_route_match *m = malloc(sizeof(*m));

    assert_non_null(m);
    return m;
}

static const char *param(const lx_route_match *m, const char *name)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (strcmp(m->names[i], name) == 0)
            return m->values[i];
    return NULL;
}

static void test_router_root_and_literal_match(void **state)
{
    static const char *const routes[] = {"GET", "/", "GET", "/health", NULL};
    static void *const datas[] = {&tag_a, &tag_b};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();

    assert_int_equal(match(r, "GET", "/", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_a);
    assert_string_equal(m->pattern, "/");
    assert_int_equal(m->n_params, 0);

    assert_int_equal(match(r, "GET", "/health", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_b);
    assert_string_equal(m->pattern, "/health");

    assert_int_equal(match(r, "GET", "/healt", m), LX_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "/health/x", m), LX_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "//health", m), LX_ROUTE_NOT_FOUND);
    free(m);
    lx_router_free(r);
}

static void test_router_literal_beats_param(void **state)
{
    static const char *const routes[] = {"GET", "/users/{id}", "GET", "/users/me", NULL};
    static void *const datas[] = {&tag_a, &tag_b};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();

    assert_int_equal(match(r, "GET", "/users/me", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_b);
    assert_string_equal(m->pattern, "/users/me");
    assert_int_equal(m->n_params, 0);

    assert_int_equal(match(r, "GET", "/users/42", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_a);
    assert_string_equal(m->pattern, "/users/{id}");
    assert_int_equal(m->n_params, 1);
    assert_string_equal(m->names[0], "id");
    assert_string_equal(m->values[0], "42");
    free(m);
    lx_router_free(r);
}

static void test_router_backtracks_to_param(void **state)
{
    static const char *const routes[] = {"GET", "/a/{x}/c",     "GET", "/a/b/d",
                                         "GET", "/{p}/{q}/{r}", NULL};
    static void *const datas[] = {&tag_a, &tag_b, &tag_c};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();

    /* "b" takes the literal branch first, which dead-ends at "c". */
    assert_int_equal(match(r, "GET", "/a/b/c", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_a);
    assert_string_equal(param(m, "x"), "b");

    assert_int_equal(match(r, "GET", "/a/b/d", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_b);

    /* Backtracking goes all the way up to the root's param. */
    assert_int_equal(match(r, "GET", "/a/b/e", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_c);
    assert_int_equal(m->n_params, 3);
    assert_string_equal(m->names[0], "p");
    assert_string_equal(m->values[0], "a");
    assert_string_equal(m->names[1], "q");
    assert_string_equal(m->values[1], "b");
    assert_string_equal(m->names[2], "r");
    assert_string_equal(m->values[2], "e");

    assert_int_equal(match(r, "GET", "/a/b", m), LX_ROUTE_NOT_FOUND);
    free(m);
    lx_router_free(r);
}

static void test_router_405_lists_allowed_methods(void **state)
{
    static const char *const routes[] = {
        "POST", "/items", "GET", "/items", "DELETE", "/items/{id}", "OPTIONS", "/items/{id}", NULL};
    static void *const datas[] = {&tag_a, &tag_b, &tag_c, &tag_d};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();
    char allow[64];

    assert_int_equal(lx_router_match(r, "PUT", "/items", m, allow, sizeof(allow)),
                     LX_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET, HEAD, POST");

    assert_int_equal(lx_router_match(r, "GET", "/items/7", m, allow, sizeof(allow)),
                     LX_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "DELETE, OPTIONS");

    /* A method the router does not know is still a 405 on a known path. */
    assert_int_equal(lx_router_match(r, "TRACE", "/items", m, allow, sizeof(allow)),
                     LX_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET, HEAD, POST");

    /* A short buffer gets a truncated, terminated list. */
    char tiny[6];
    assert_int_equal(lx_router_match(r, "PUT", "/items", m, tiny, sizeof(tiny)),
                     LX_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(tiny, "GET, ");

    assert_int_equal(lx_router_allowed(r, "/items", allow, sizeof(allow)), 3);
    assert_string_equal(allow, "GET, HEAD, POST");
    assert_int_equal(lx_router_allowed(r, "/items/x", allow, sizeof(allow)), 2);
    assert_string_equal(allow, "DELETE, OPTIONS");
    assert_int_equal(lx_router_allowed(r, "/nothing", allow, sizeof(allow)), 0);
    assert_string_equal(allow, "");
    assert_int_equal(lx_router_allowed(r, "/../x", allow, sizeof(allow)), 0);
    free(m);
    lx_router_free(r);
}

static void test_router_405_unions_every_matching_route(void **state)
{
    /* The literal route lacks POST, but the param route has it: POST
     * matches the param route, and Allow lists both routes' methods. */
    static const char *const routes[] = {"GET", "/f/new", "POST", "/f/{id}", NULL};
    static void *const datas[] = {&tag_a, &tag_b};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();
    char allow[64];

    assert_int_equal(match(r, "POST", "/f/new", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_b);
    assert_string_equal(param(m, "id"), "new");
    assert_int_equal(lx_router_match(r, "PUT", "/f/new", m, allow, sizeof(allow)),
                     LX_ROUTE_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET, HEAD, POST");
    free(m);
    lx_router_free(r);
}

static void test_router_head_falls_back_to_get(void **state)
{
    static const char *const routes[] = {"GET", "/a", "GET", "/b", "HEAD", "/b", NULL};
    static void *const datas[] = {&tag_a, &tag_b, &tag_c};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();

    assert_int_equal(match(r, "HEAD", "/a", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_a);
    /* An explicit HEAD route wins over the GET one. */
    assert_int_equal(match(r, "HEAD", "/b", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_c);
    assert_int_equal(match(r, "GET", "/b", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_b);
    free(m);
    lx_router_free(r);
}

static void test_router_params_are_percent_decoded(void **state)
{
    static const char *const routes[] = {"GET", "/files/{dir}/{name}", "GET", "/a b", NULL};
    static void *const datas[] = {&tag_a, &tag_b};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();

    assert_int_equal(match(r, "GET", "/files/my%20docs/r%C3%A9sum%c3%a9+1.txt", m), LX_ROUTE_FOUND);
    assert_string_equal(param(m, "dir"), "my docs");
    /* '+' is not a space in a path. */
    assert_string_equal(param(m, "name"), "r\xc3\xa9sum\xc3\xa9+1.txt");
    /* Literals compare against the decoded segment too. */
    assert_int_equal(match(r, "GET", "/a%20b", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_b);
    free(m);
    lx_router_free(r);
}

static void test_router_encoded_slash_is_bad_path(void **state)
{
    static const char *const routes[] = {"GET", "/docs/{id}", NULL};
    static void *const datas[] = {&tag_a};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();

    (void)state;
    assert_int_equal(match(r, "GET", "/docs/a%2Fb", m), LX_ROUTE_BAD_PATH);
    assert_int_equal(match(r, "GET", "/docs/a%2fb", m), LX_ROUTE_BAD_PATH);
    assert_int_equal(match(r, "GET", "/docs/a/b", m), LX_ROUTE_NOT_FOUND);
    /* the traversal a handler joining paths would fall for */
    assert_int_equal(match(r, "GET", "/docs/..%2F..%2Fetc", m), LX_ROUTE_BAD_PATH);
    assert_int_equal(match(r, "GET", "/docs/a%20b", m), LX_ROUTE_FOUND);
    assert_string_equal(param(m, "id"), "a b");
    free(m);
    lx_router_free(r);
}

static void test_router_rejects_dot_dot(void **state)
{
    static const char *const routes[] = {"GET", "/{a}/{b}", "GET", "/x/{p}", NULL};
    static void *const datas[] = {&tag_a, &tag_b};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();
    static const char *const bad[] = {
        "/x/..",   "/x/.",   "/../x", "/./x", "/x/%2e%2e", "/x/%2E.",
        "/x/.%2e", "/x/%2e", "/..",   "/.",   "/x/../",    NULL,
    };

    for (size_t i = 0; bad[i] != NULL; i++) {
        print_message("path %s\n", bad[i]);
        assert_int_equal(match(r, "GET", bad[i], m), LX_ROUTE_BAD_PATH);
    }
    /* Dots that are not a whole segment are fine. */
    assert_int_equal(match(r, "GET", "/x/...", m), LX_ROUTE_FOUND);
    assert_int_equal(match(r, "GET", "/x/.hidden", m), LX_ROUTE_FOUND);
    assert_string_equal(param(m, "p"), ".hidden");
    assert_int_equal(match(r, "GET", "/x/a..b", m), LX_ROUTE_FOUND);
    free(m);
    lx_router_free(r);
}

static void test_router_rejects_nul_escape(void **state)
{
    static const char *const routes[] = {"GET", "/x/{p}", NULL};
    static void *const datas[] = {&tag_a};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();

    assert_int_equal(match(r, "GET", "/x/a%00b", m), LX_ROUTE_BAD_PATH);
    assert_int_equal(match(r, "GET", "/x/%00", m), LX_ROUTE_BAD_PATH);
    free(m);
    lx_router_free(r);
}

static void test_router_rejects_bad_escapes_and_relative_paths(void **state)
{
    static const char *const routes[] = {"GET", "/x/{p}", "GET", "/", NULL};
    static void *const datas[] = {&tag_a, &tag_b};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();
    static const char *const bad[] = {"/x/%", "/x/%4", "/x/%zz", "/x/%4g", "/x/a%",
                                      "x/a",  "",      "*",      "/%/x",   NULL};

    for (size_t i = 0; bad[i] != NULL; i++) {
        print_message("path %s\n", bad[i]);
        assert_int_equal(match(r, "GET", bad[i], m), LX_ROUTE_BAD_PATH);
    }
    /* The path is checked whole, even past a segment that cannot match. */
    assert_int_equal(match(r, "GET", "/nowhere/%zz", m), LX_ROUTE_BAD_PATH);
    assert_int_equal(match(r, "GET", NULL, m), LX_ROUTE_BAD_PATH);
    free(m);
    lx_router_free(r);
}

static void test_router_duplicate_shape_is_eexist(void **state)
{
    lx_router *r = lx_router_new();
    char err[256];

    assert_int_equal(lx_router_add(r, "GET", "/a/{x}", &tag_a, err, sizeof(err)), LX_OK);
    assert_int_equal(lx_router_add(r, "GET", "/a/{y}", &tag_b, err, sizeof(err)), LX_EEXIST);
    assert_non_null(strstr(err, "/a/{y}"));
    assert_non_null(strstr(err, "/a/{x}"));
    /* Same shape, other method: fine. */
    assert_int_equal(lx_router_add(r, "POST", "/a/{y}", &tag_b, err, sizeof(err)), LX_OK);
    assert_int_equal(lx_router_add(r, "POST", "/a/{x}", &tag_b, err, sizeof(err)), LX_EEXIST);
    assert_int_equal(lx_router_add(r, "GET", "/", &tag_a, err, sizeof(err)), LX_OK);
    assert_int_equal(lx_router_add(r, "GET", "/", &tag_a, err, sizeof(err)), LX_EEXIST);
    /* A literal is not the same shape as a param. */
    assert_int_equal(lx_router_add(r, "GET", "/a/b", &tag_c, err, sizeof(err)), LX_OK);

    /* Each method's route keeps its own param names. */
    lx_route_match *m = match_new();
    assert_int_equal(match(r, "POST", "/a/q", m), LX_ROUTE_FOUND);
    assert_string_equal(m->pattern, "/a/{y}");
    assert_string_equal(param(m, "y"), "q");
    assert_int_equal(match(r, "GET", "/a/q", m), LX_ROUTE_FOUND);
    assert_string_equal(m->pattern, "/a/{x}");
    assert_string_equal(param(m, "x"), "q");
    free(m);
    lx_router_free(r);
}

static void test_router_bad_patterns(void **state)
{
    static const char *const bad[] = {
        "/a/{x",                                /* unbalanced brace */
        "/a/x}",                                /* unbalanced brace */
        "/a/{x}}",                              /* unbalanced brace */
        "/a/{}",                                /* empty name */
        "/{id}/x/{id}",                         /* duplicate name */
        "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", /* too many params */
        "a/b",                                  /* no leading slash */
        "",                                     /* no leading slash */
        "/a//b",                                /* empty segment */
        "/a/",                                  /* empty segment */
        "//",                                   /* empty segment */
        "/a/x{y}",                              /* literal and param mixed */
        "/a/{9x}",                              /* bad name */
        "/a/{x-y}",                             /* bad name */
        "/a/..",                                /* never matchable */
        NULL,
    };
    lx_router *r = lx_router_new();
    char err[256];

    for (size_t i = 0; bad[i] != NULL; i++) {
        err[0] = '\0';
        print_message("pattern %s\n", bad[i]);
        assert_int_equal(lx_router_add(r, "GET", bad[i], &tag_a, err, sizeof(err)), LX_EINVAL);
        assert_true(err[0] != '\0');
    }
    /* Exactly the maximum is fine, and so are names with digits and '_'. */
    assert_int_equal(
        lx_router_add(r, "GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h_9}", &tag_a, err, sizeof(err)),
        LX_OK);
    assert_int_equal(lx_router_add(r, "get", "/x", &tag_a, err, sizeof(err)), LX_EINVAL);
    assert_non_null(strstr(err, "get"));
    assert_int_equal(lx_router_add(r, "TRACE", "/x", &tag_a, err, sizeof(err)), LX_EINVAL);
    assert_int_equal(lx_router_add(r, "GET", NULL, &tag_a, err, sizeof(err)), LX_EINVAL);
    /* A NULL err buffer is allowed. */
    assert_int_equal(lx_router_add(r, "GET", "/{", &tag_a, NULL, 0), LX_EINVAL);

    /* Nothing half-added stays behind. */
    char allow[64];
    assert_int_equal(lx_router_allowed(r, "/a/x", allow, sizeof(allow)), 0);
    lx_router_free(r);
}

static void test_router_trailing_slash_is_significant(void **state)
{
    static const char *const routes[] = {"GET", "/a", "GET", "/b/{x}", "GET", "/", NULL};
    static void *const datas[] = {&tag_a, &tag_b, &tag_c};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();

    assert_int_equal(match(r, "GET", "/a", m), LX_ROUTE_FOUND);
    assert_int_equal(match(r, "GET", "/a/", m), LX_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "/b/1", m), LX_ROUTE_FOUND);
    assert_int_equal(match(r, "GET", "/b/1/", m), LX_ROUTE_NOT_FOUND);
    /* An empty segment never binds a param. */
    assert_int_equal(match(r, "GET", "/b/", m), LX_ROUTE_NOT_FOUND);
    assert_int_equal(match(r, "GET", "/", m), LX_ROUTE_FOUND);
    assert_ptr_equal(m->data, &tag_c);
    assert_int_equal(match(r, "GET", "//", m), LX_ROUTE_NOT_FOUND);
    free(m);
    lx_router_free(r);
}

static void test_router_long_path_is_bad(void **state)
{
    static const char *const routes[] = {"GET", "/{x}", NULL};
    static void *const datas[] = {&tag_a};
    lx_router *r = router_with(routes, datas);
    lx_route_match *m = match_new();
    char *path = malloc(LX_ROUTER_MAX_PATH + 2);

    /* Exactly the limit still fits, decoded, in m->buf. */
    path[0] = '/';
    memset(path + 1, 'a', LX_ROUTER_MAX_PATH - 1);
    path[LX_ROUTER_MAX_PATH] = '\0';
    assert_int_equal(match(r, "GET", path, m), LX_ROUTE_FOUND);
    assert_int_equal(strlen(param(m, "x")), LX_ROUTER_MAX_PATH - 1);

    path[LX_ROUTER_MAX_PATH] = 'a';
    path[LX_ROUTER_MAX_PATH + 1] = '\0';
    assert_int_equal(match(r, "GET", path, m), LX_ROUTE_BAD_PATH);

    /* All slashes: the most segments a path can have. */
    memset(path, '/', LX_ROUTER_MAX_PATH);
    path[LX_ROUTER_MAX_PATH] = '\0';
    assert_int_equal(match(r, "GET", path, m), LX_ROUTE_NOT_FOUND);

    /* A pattern longer than any path could never match. */
    char err[128];
    memset(path, 'a', LX_ROUTER_MAX_PATH + 1);
    path[0] = '/';
    path[LX_ROUTER_MAX_PATH + 1] = '\0';
    assert_int_equal(lx_router_add(r, "GET", path, &tag_a, err, sizeof(err)), LX_EINVAL);
    free(path);
    free(m);
    lx_router_free(r);
}

static void test_router_many_literals_stay_findable(void **state)
{
    lx_router *r = lx_router_new();
    lx_route_match *m = match_new();
    char pat[64], err[128];
    static int tags[200];

    /* Enough siblings to exercise growth and the sorted search. */
    for (int i = 199; i >= 0; i--) {
        snprintf(pat, sizeof(pat), "/k%d/v", i * 7919 % 200);
        assert_int_equal(lx_router_add(r, "GET", pat, &tags[i * 7919 % 200], err, sizeof(err)),
                         LX_OK);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(pat, sizeof(pat), "/k%d/v", i);
        assert_int_equal(match(r, "GET", pat, m), LX_ROUTE_FOUND);
        assert_ptr_equal(m->data, &tags[i]);
    }
    assert_int_equal(match(r, "GET", "/k200/v", m), LX_ROUTE_NOT_FOUND);
    free(m);
    lx_router_free(r);
}

static void test_url_decode_plain_and_escapes(void **state)
{
    char out[32];
    size_t len = 99;

    assert_int_equal(lx_url_decode("abc", 3, out, &len), LX_OK);
    assert_string_equal(out, "abc");
    assert_int_equal(len, 3);
    assert_int_equal(lx_url_decode("a%20b%2fc%7E", 12, out, &len), LX_OK);
    assert_string_equal(out, "a b/c~");
    assert_int_equal(len, 6);
    assert_int_equal(lx_url_decode("a+b", 3, out, &len), LX_OK);
    assert_string_equal(out, "a+b");
    assert_int_equal(lx_url_decode("", 0, out, &len), LX_OK);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    /* Only len bytes are read. */
    assert_int_equal(lx_url_decode("ab%41zz", 5, out, &len), LX_OK);
    assert_string_equal(out, "abA");
    assert_int_equal(lx_url_decode("%ff%80", 6, out, &len), LX_OK);
    assert_int_equal(len, 2);
    assert_int_equal((unsigned char)out[0], 0xff);
    assert_int_equal((unsigned char)out[1], 0x80);
    assert_int_equal(lx_url_decode("x", 1, out, NULL), LX_OK);
}

static void test_url_decode_rejects_bad_escapes(void **state)
{
    char out[32];
    size_t len;

    assert_int_equal(lx_url_decode("%", 1, out, &len), LX_EINVAL);
    assert_int_equal(lx_url_decode("%4", 2, out, &len), LX_EINVAL);
    assert_int_equal(lx_url_decode("a%g1", 4, out, &len), LX_EINVAL);
    assert_int_equal(lx_url_decode("a%1g", 4, out, &len), LX_EINVAL);
    /* The escape is cut by len, even if the string goes on. */
    assert_int_equal(lx_url_decode("%41", 2, out, &len), LX_EINVAL);
    assert_int_equal(lx_url_decode("%00", 3, out, &len), LX_EINVAL);
    assert_int_equal(lx_url_decode("a\0b", 3, out, &len), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_root_and_literal_match),
        cmocka_unit_test(test_router_literal_beats_param),
        cmocka_unit_test(test_router_backtracks_to_param),
        cmocka_unit_test(test_router_405_lists_allowed_methods),
        cmocka_unit_test(test_router_405_unions_every_matching_route),
        cmocka_unit_test(test_router_head_falls_back_to_get),
        cmocka_unit_test(test_router_params_are_percent_decoded),
        cmocka_unit_test(test_router_encoded_slash_is_bad_path),
        cmocka_unit_test(test_router_rejects_dot_dot),
        cmocka_unit_test(test_router_rejects_nul_escape),
        cmocka_unit_test(test_router_rejects_bad_escapes_and_relative_paths),
        cmocka_unit_test(test_router_duplicate_shape_is_eexist),
        cmocka_unit_test(test_router_bad_patterns),
        cmocka_unit_test(test_router_trailing_slash_is_significant),
        cmocka_unit_test(test_router_long_path_is_bad),
        cmocka_unit_test(test_router_many_literals_stay_findable),
        cmocka_unit_test(test_url_decode_plain_and_escapes),
        cmocka_unit_test(test_url_decode_rejects_bad_escapes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
