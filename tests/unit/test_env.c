#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lexiaid/plugin.h>
#include "env.h"

/* A fixed lookup table: NAME=value pairs, NULL-terminated. */
static const char *table_lookup(void *arg, const char *name)
{
    const char *const *t = arg;
    for (size_t i = 0; t[i] != NULL; i += 2) {
        if (strcmp(t[i], name) == 0)
            return t[i + 1];
    }
    return NULL;
}

static const char *const vars[] = {"HOST", "example.org", "EMPTY", "", "PORT", "8080", NULL};

/* Interpolates s against `vars`; returns the status, *out malloc'd on OK. */
static int interp(const char *s, char **out, char *err, size_t errlen)
{
    return lx_env_interpolate(s, table_lookup, (void *)vars, out, err, errlen);
}

static void assert_interp(const char *s, const char *want)
{
    char err[128] = "";
    char *out = NULL;
    assert_int_equal(interp(s, &out, err, sizeof(err)), LX_OK);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void assert_interp_fails(const char *s, const char *want_in_err)
{
    char err[128] = "";
    char *out = (char *)1;
    assert_int_equal(interp(s, &out, err, sizeof(err)), LX_EINVAL);
    assert_null(out);
    assert_non_null(strstr(err, want_in_err));
}

static void test_interpolate_plain_variable(void **state)
{
    assert_interp("http://${HOST}:${PORT}/x", "http://example.org:8080/x");
    assert_interp("no variables at all", "no variables at all");
    assert_interp("", "");
}

static void test_interpolate_default_used_when_unset(void **state)
{
    assert_interp("${NOPE:-fallback}", "fallback");
    assert_interp("${NOPE-fallback}", "fallback");
    assert_interp("${NOPE:-}", "");
    assert_interp("a${NOPE:-0.0.0.0:5000}b", "a0.0.0.0:5000b");
}

static void test_interpolate_colon_default_replaces_empty_value(void **state)
{
    assert_interp("${EMPTY:-dflt}", "dflt");
    /* Without the colon an empty value counts as set. */
    assert_interp("[${EMPTY-dflt}]", "[]");
    assert_interp("${HOST:-dflt}", "example.org");
    assert_interp("${HOST-dflt}", "example.org");
}

static void test_interpolate_double_dollar_is_literal(void **state)
{
    assert_interp("price $$5", "price $5");
    assert_interp("$${HOST}", "${HOST}");
    assert_interp("$$$$", "$$");
}

static void test_interpolate_lone_dollar_kept(void **state)
{
    assert_interp("$HOME and $5 and end$", "$HOME and $5 and end$");
}

static void test_interpolate_undefined_variable_fails(void **state)
{
    assert_interp_fails("x ${MISSING} y", "undefined variable MISSING");
}

static void test_interpolate_unterminated_fails(void **state)
{
    assert_interp_fails("${HOST", "unterminated ${");
    assert_interp_fails("ok ${NOPE:-abc", "unterminated ${");
}

static void test_interpolate_bad_name_fails(void **state)
{
    assert_interp_fails("${}", "bad variable name");
    assert_interp_fails("${1ABC}", "bad variable name");
    assert_interp_fails("${A B}", "bad variable name");
    assert_interp_fails("${HOST:+x}", "bad variable name");
}

static void test_interpolate_nested_default_refused(void **state)
{
    assert_interp_fails("${NOPE:-${HOST}}", "nested ${");
}

static void test_env_parse_accepts_every_line_form(void **state)
{
    static const char text[] = "# a comment\n"
                               "\n"
                               "PLAIN=value\n"
                               "  SPACED = some value  \n"
                               "export EXPORTED=yes\n"
                               "DQ=\"a\\nb \\\"q\\\" \\\\ c\"\n"
                               "SQ='lit $x \\n'\n"
                               "TRAIL=abc # comment\n"
                               "HASH=a#b\n"
                               "EMPTY=\n"
                               "CRLF=win\r\n"
                               "DQC=\"v\" # after\n";
    lx_env *env = NULL;
    char err[128] = "";

    assert_int_equal(lx_env_parse(text, sizeof(text) - 1, &env, err, sizeof(err)), LX_OK);
    assert_non_null(env);
    assert_string_equal(lx_env_get(env, "PLAIN"), "value");
    assert_string_equal(lx_env_get(env, "SPACED"), "some value");
    assert_string_equal(lx_env_get(env, "EXPORTED"), "yes");
    assert_string_equal(lx_env_get(env, "DQ"), "a\nb \"q\" \\ c");
    assert_string_equal(lx_env_get(env, "SQ"), "lit $x \\n");
    assert_string_equal(lx_env_get(env, "TRAIL"), "abc");
    assert_string_equal(lx_env_get(env, "HASH"), "a#b");
    assert_string_equal(lx_env_get(env, "EMPTY"), "");
    assert_string_equal(lx_env_get(env, "CRLF"), "win");
    assert_string_equal(lx_env_get(env, "DQC"), "v");
    assert_null(lx_env_get(env, "MISSING"));
    lx_env_free(env);
}

static void test_env_parse_later_name_replaces_earlier(void **state)
{
    static const char text[] = "A=1\nB=2\nA=3\n";
    lx_env *env = NULL;
    char err[128] = "";

    assert_int_equal(lx_env_parse(text, sizeof(text) - 1, &env, err, sizeof(err)), LX_OK);
    assert_string_equal(lx_env_get(env, "A"), "3");
    assert_string_equal(lx_env_get(env, "B"), "2");
    lx_env_free(env);
}

static void test_env_parse_reads_only_len_bytes(void **state)
{
    lx_env *env = NULL;
    char err[128] = "";

    /* "A=12" of "A=123": the buffer is not NUL-terminated at len. */
    assert_int_equal(lx_env_parse("A=123", 4, &env, err, sizeof(err)), LX_OK);
    assert_string_equal(lx_env_get(env, "A"), "12");
    lx_env_free(env);
}

static void assert_parse_fails(const char *text, const char *want_err)
{
    lx_env *env = (lx_env *)1;
    char err[128] = "";

    assert_int_equal(lx_env_parse(text, strlen(text), &env, err, sizeof(err)), LX_EINVAL);
    assert_null(env);
    assert_non_null(strstr(err, want_err));
}

static void test_env_parse_errors_name_the_line(void **state)
{
    assert_parse_fails("A=1\n1BAD=2\n", "line 2: bad variable name");
    assert_parse_fails("A=1\nB=2\nNOEQUALS\n", "line 3: expected NAME=value");
    assert_parse_fails("X=\"open\n", "line 1: unterminated double quote");
    assert_parse_fails("\n\nX='open\n", "line 3: unterminated single quote");
    assert_parse_fails("X=\"a\" b\n", "line 1: unexpected text after the closing quote");
    assert_parse_fails("A-B=1\n", "line 1: expected NAME=value");
}

static void test_env_parse_refuses_nul_byte(void **state)
{
    static const char text[] = "A=1\nB=x\0y\n";
    lx_env *env = NULL;
    char err[128] = "";

    assert_int_equal(lx_env_parse(text, sizeof(text) - 1, &env, err, sizeof(err)), LX_EINVAL);
    assert_null(env);
    assert_non_null(strstr(err, "line 2"));
}

static char *write_temp(const char *content)
{
    char *path = strdup("/tmp/lx_test_env_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(content);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_env_load_missing_file_is_enoent(void **state)
{
    lx_env *env = (lx_env *)1;
    char err[128] = "";

    assert_int_equal(lx_env_load("/nonexistent/dir/.env", &env, err, sizeof(err)), LX_ENOENT);
    assert_null(env);
}

static void test_env_load_error_names_path_and_line(void **state)
{
    char *path = write_temp("OK=1\n\nbad line\n");
    lx_env *env = NULL;
    char err[256] = "";
    char want[200];

    assert_int_equal(lx_env_load(path, &env, err, sizeof(err)), LX_EINVAL);
    assert_null(env);
    snprintf(want, sizeof(want), "%s:line 3: ", path);
    assert_memory_equal(err, want, strlen(want));
    unlink(path);
    free(path);
}

static void test_env_load_reads_values(void **state)
{
    char *path = write_temp("LX_TEST_A=alpha\nLX_TEST_B=\"beta gamma\"\n");
    lx_env *env = NULL;
    char err[256] = "";

    assert_int_equal(lx_env_load(path, &env, err, sizeof(err)), LX_OK);
    assert_string_equal(lx_env_get(env, "LX_TEST_A"), "alpha");
    assert_string_equal(lx_env_get(env, "LX_TEST_B"), "beta gamma");
    lx_env_free(env);
    unlink(path);
    free(path);
}

static void test_env_file_real_environment_wins(void **state)
{
    static const char text[] = "LX_TEST_WINS=from_file\nLX_TEST_ONLY_FILE=file\n";
    lx_env *env = NULL;
    char err[128] = "";

    assert_int_equal(lx_env_parse(text, sizeof(text) - 1, &env, err, sizeof(err)), LX_OK);
    setenv("LX_TEST_WINS", "from_env", 1);
    unsetenv("LX_TEST_ONLY_FILE");
    assert_string_equal(lx_env_lookup(env, "LX_TEST_WINS"), "from_env");
    assert_string_equal(lx_env_lookup(env, "LX_TEST_ONLY_FILE"), "file");
    assert_null(lx_env_lookup(env, "LX_TEST_NOWHERE_AT_ALL"));
    assert_null(lx_env_lookup(NULL, "LX_TEST_NOWHERE_AT_ALL"));
    /* An empty real value still wins: it is set. */
    setenv("LX_TEST_WINS", "", 1);
    assert_string_equal(lx_env_lookup(env, "LX_TEST_WINS"), "");
    unsetenv("LX_TEST_WINS");
    assert_string_equal(lx_env_lookup(env, "LX_TEST_WINS"), "from_file");
    lx_env_free(env);
}

static void test_env_get_on_null_set_is_null(void **state)
{
    assert_null(lx_env_get(NULL, "A"));
    lx_env_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interpolate_plain_variable),
        cmocka_unit_test(test_interpolate_default_used_when_unset),
        cmocka_unit_test(test_interpolate_colon_default_replaces_empty_value),
        cmocka_unit_test(test_interpolate_double_dollar_is_literal),
        cmocka_unit_test(test_interpolate_lone_dollar_kept),
        cmocka_unit_test(test_interpolate_undefined_variable_fails),
        cmocka_unit_test(test_interpolate_unterminated_fails),
        cmocka_unit_test(test_interpolate_bad_name_fails),
        cmocka_unit_test(test_interpolate_nested_default_refused),
        cmocka_unit_test(test_env_parse_accepts_every_line_form),
        cmocka_unit_test(test_env_parse_later_name_replaces_earlier),
        cmocka_unit_test(test_env_parse_reads_only_len_bytes),
        cmocka_unit_test(test_env_parse_errors_name_the_line),
        cmocka_unit_test(test_env_parse_refuses_nul_byte),
        cmocka_unit_test(test_env_load_missing_file_is_enoent),
        cmocka_unit_test(test_env_load_error_names_path_and_line),
        cmocka_unit_test(test_env_load_reads_values),
        cmocka_unit_test(test_env_file_real_environment_wins),
        cmocka_unit_test(test_env_get_on_null_set_is_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
