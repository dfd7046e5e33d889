#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

#ifndef LX_PLUGIN_DIR
#define LX_PLUGIN_DIR "/usr/local/lib/lexiaid/plugins"
#endif

/* Environment variables the shipped config reads; cleared before each test
 * so that the developer's shell does not change the outcome. */
static const char *const lx_vars[] = {
    "LEXIAID_LISTEN",
    "LEXIAID_WORKERS",
    "LEXIAID_MAX_BODY",
    "LEXIAID_REQUEST_TIMEOUT",
    "LEXIAID_IDLE_TIMEOUT",
    "LEXIAID_SHUTDOWN_GRACE",
    "LEXIAID_DATA_DIR",
    "LEXIAID_PLUGIN_DIR",
    "LEXIAID_LOG_LEVEL",
    "LEXIAID_LOG_FORMAT",
    "LEXIAID_CORS_ORIGINS",
    "LEXIAID_ENV_FILE",
    "LX_TEST_VAR",
    "LX_TEST_FROM_FILE",
    NULL,
};

static int clean_env(void **state)
{
    for (size_t i = 0; lx_vars[i] != NULL; i++)
        unsetenv(lx_vars[i]);
    return 0;
}

/* A scratch directory with files in it, removed at the end of a test. */
typedef struct scratch {
    char dir[64];
    char paths[4][128];
    size_t n_paths;
} scratch;

static void scratch_init(scratch *sc)
{
    memset(sc, 0, sizeof(*sc));
    snprintf(sc->dir, sizeof(sc->dir), "/tmp/lx_test_conf_XXXXXX");
    assert_non_null(mkdtemp(sc->dir));
}

static const char *scratch_write(scratch *sc, const char *name, const char *content)
{
    assert_true(sc->n_paths < 4);
    char path_buf[128];
    snprintf(path_buf, sizeof(path_buf), "%s/%s", sc->dir, name);
    char *path = sc->paths[sc->n_paths++];
    memcpy(path, path_buf, sizeof(path_buf));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void scratch_done(scratch *sc)
{
    for (size_t i = 0; i < sc->n_paths; i++)
        unlink(sc->paths[i]);
    rmdir(sc->dir);
}

/* A temporary file made with mkstemp; unlink and free it afterwards. */
static char *temp_file(const char *content)
{
    char *path = strdup("/tmp/lx_test_conf_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(content);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Loads text as "test.conf" with no .env anywhere. */
static int load_text(const char *text, lx_conf **conf, lx_errs *errs)
{
    setenv("LEXIAID_ENV_FILE", "/nonexistent/lx_test.env", 1);
    int rc = lx_conf_load_string(text, "test.conf", conf, errs);
    unsetenv("LEXIAID_ENV_FILE");
    return rc;
}

/* Loads text that must fail; returns the error lines (clear them after). */
static void load_text_fails(const char *text, lx_errs *errs)
{
    lx_conf *conf = (lx_conf *)1;
    assert_int_equal(load_text(text, &conf, errs), LX_EINVAL);
    assert_null(conf);
    assert_true(errs->n_lines > 0);
}

static int errs_contain(const lx_errs *errs, const char *line)
{
    for (size_t i = 0; i < errs->n_lines; i++) {
        if (strcmp(errs->lines[i], line) == 0)
            return 1;
    }
    return 0;
}

static void assert_has_error(const lx_errs *errs, const char *line)
{
    if (!errs_contain(errs, line)) {
        print_error("missing error line: %s\ngot:\n", line);
        for (size_t i = 0; i < errs->n_lines; i++)
            print_error("  %s\n", errs->lines[i]);
        fail();
    }
}

/* ------------------------------------------------------------------------ */
/* Parsers                                                                  */

static void test_parse_size_accepts_units(void **state)
{
    size_t v = 0;
    assert_int_equal(lx_conf_parse_size("123", &v), LX_OK);
    assert_int_equal(v, 123);
    assert_int_equal(lx_conf_parse_size("64K", &v), LX_OK);
    assert_int_equal(v, 64 * 1024);
    assert_int_equal(lx_conf_parse_size("25m", &v), LX_OK);
    assert_int_equal(v, 25 * 1024 * 1024);
    assert_int_equal(lx_conf_parse_size(" 1G ", &v), LX_OK);
    assert_int_equal(v, 1024ULL * 1024 * 1024);
    assert_int_equal(lx_conf_parse_size("16KB", &v), LX_OK);
    assert_int_equal(v, 16 * 1024);
    assert_int_equal(lx_conf_parse_size("0", &v), LX_OK);
    assert_int_equal(v, 0);
}

static void test_parse_size_refuses_garbage_and_overflow(void **state)
{
    size_t v = 77;
    assert_int_equal(lx_conf_parse_size("", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_size("abc", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_size("-1", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_size("1.5M", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_size("10X", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_size("1M junk", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_size("99999999999999999999999", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_size("18446744073709551615K", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_size(NULL, &v), LX_EINVAL);
    assert_int_equal(v, 77);
}

static void test_parse_ms_accepts_units(void **state)
{
    long long v = 0;
    assert_int_equal(lx_conf_parse_ms("100", &v), LX_OK);
    assert_int_equal(v, 100);
    assert_int_equal(lx_conf_parse_ms("250ms", &v), LX_OK);
    assert_int_equal(v, 250);
    assert_int_equal(lx_conf_parse_ms("30s", &v), LX_OK);
    assert_int_equal(v, 30000);
    assert_int_equal(lx_conf_parse_ms("5m", &v), LX_OK);
    assert_int_equal(v, 300000);
    assert_int_equal(lx_conf_parse_ms("1h", &v), LX_OK);
    assert_int_equal(v, 3600000);
    assert_int_equal(lx_conf_parse_ms(" 2 s ", &v), LX_OK);
    assert_int_equal(v, 2000);
}

static void test_parse_ms_refuses_garbage_and_overflow(void **state)
{
    long long v = 77;
    assert_int_equal(lx_conf_parse_ms("", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_ms("s", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_ms("-5s", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_ms("5 sec", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_ms("1.5s", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_ms("9223372036854775808", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_ms("9223372036854775807h", &v), LX_EINVAL);
    assert_int_equal(v, 77);
    assert_int_equal(lx_conf_parse_ms("9223372036854775807", &v), LX_OK);
    assert_true(v == LLONG_MAX);
}

static void test_parse_bool_accepts_common_words(void **state)
{
    static const char *const truths[] = {"true", "TRUE", "yes", "On", "1", " true "};
    static const char *const lies[] = {"false", "No", "OFF", "0", "\tfalse"};
    int v;
    for (size_t i = 0; i < sizeof(truths) / sizeof(truths[0]); i++) {
        v = -1;
        assert_int_equal(lx_conf_parse_bool(truths[i], &v), LX_OK);
        assert_int_equal(v, 1);
    }
    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        v = -1;
        assert_int_equal(lx_conf_parse_bool(lies[i], &v), LX_OK);
        assert_int_equal(v, 0);
    }
    v = -1;
    assert_int_equal(lx_conf_parse_bool("", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_bool("2", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_bool("truely", &v), LX_EINVAL);
    assert_int_equal(lx_conf_parse_bool("true false", &v), LX_EINVAL);
    assert_int_equal(v, -1);
}

static void test_cpu_count_is_at_least_one(void **state)
{
    int n = lx_cpu_count();
    assert_true(n >= 1);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online > 0)
        assert_true(n <= online);
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */

static void test_conf_shipped_config_loads(void **state)
{
    const char *srcdir = getenv("LX_SRCDIR");
    char path[512];
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    snprintf(path, sizeof(path), "%s/etc/lexiaid.conf", srcdir != NULL ? srcdir : ".");
    setenv("LEXIAID_ENV_FILE", "/nonexistent/lx_test.env", 1);
    int rc = lx_conf_load(path, &conf, &errs);
    lx_errs_print(&errs, stderr);
    assert_int_equal(rc, LX_OK);
    assert_non_null(conf);

    const lx_server_conf *sv = &conf->server;
    assert_string_equal(sv->listen, "0.0.0.0:5000");
    assert_int_equal(sv->workers, lx_cpu_count() > 256 ? 256 : lx_cpu_count());
    assert_int_equal(sv->max_body, 1024 * 1024);
    assert_int_equal(sv->max_header, 16 * 1024);
    assert_int_equal(sv->request_timeout_ms, 30000);
    assert_int_equal(sv->idle_timeout_ms, 60000);
    assert_int_equal(sv->shutdown_grace_ms, 10000);
    assert_int_equal(sv->offload_threads, 4);
    assert_string_equal(sv->data_dir, "./data");
    assert_string_equal(sv->plugin_dir, LX_PLUGIN_DIR);
    assert_int_equal(sv->log_level, LX_LOG_INFO);
    assert_int_equal(sv->log_format, LX_LOG_FORMAT_JSON);
    assert_int_equal(sv->n_cors_origins, 1);
    assert_string_equal(sv->cors_origins[0], "http://localhost:5173");
    assert_int_equal(sv->cors_max_age_s, 600);

    assert_int_equal(conf->n_plugins, 5);
    assert_string_equal(conf->plugins[0].name, "health");
    assert_string_equal(conf->plugins[0].path, LX_PLUGIN_DIR "/health.so");
    assert_true(conf->plugins[0].is_enabled);
    assert_string_equal(conf->plugins[1].name, "auth");
    assert_string_equal(conf->plugins[1].path, LX_PLUGIN_DIR "/auth.so");
    assert_true(conf->plugins[1].is_enabled);
    assert_string_equal(conf->plugins[2].name, "storage");
    assert_string_equal(conf->plugins[2].path, LX_PLUGIN_DIR "/storage.so");
    assert_true(conf->plugins[2].is_enabled);
    assert_string_equal(conf->plugins[3].name, "tutoring");
    assert_string_equal(conf->plugins[4].name, "speech");
    assert_string_equal(conf->plugins[4].path, LX_PLUGIN_DIR "/speech.so");
    assert_true(conf->plugins[4].is_enabled);

    assert_int_equal(conf->n_routes, 33);
    assert_string_equal(conf->routes[0].method, "GET");
    assert_string_equal(conf->routes[0].pattern, "/health");
    assert_string_equal(conf->routes[0].handler, "health.live");
    assert_string_equal(conf->routes[1].handler, "health.api");
    assert_string_equal(conf->routes[2].pattern, "/ready");
    assert_string_equal(conf->routes[3].handler, "health.metrics");
    assert_string_equal(conf->routes[4].pattern, "/api/auth/me");
    assert_string_equal(conf->routes[4].handler, "auth.me");
    assert_string_equal(conf->routes[5].handler, "auth.signup");
    assert_string_equal(conf->routes[6].handler, "auth.verify_email");
    assert_string_equal(conf->routes[7].method, "DELETE");
    assert_string_equal(conf->routes[7].handler, "auth.delete_user");
    assert_string_equal(conf->routes[11].pattern, "/api/documents/upload");
    assert_string_equal(conf->routes[11].handler, "storage.upload");
    assert_int_equal(conf->routes[11].max_body, 25 * 1024 * 1024);
    assert_string_equal(conf->routes[20].pattern, "/api/admin/users/sync");
    assert_string_equal(conf->routes[20].handler, "storage.admin_users_sync");
    assert_int_equal(conf->routes[20].timeout_ms, 300000);
    assert_string_equal(conf->routes[21].handler, "storage.admin_feedback");
    assert_string_equal(conf->routes[22].pattern, "/api/v2/agent/chat");
    assert_int_equal(conf->routes[22].timeout_ms, 130000);
    assert_string_equal(conf->routes[26].pattern, "/api/tts/synthesize");
    assert_string_equal(conf->routes[26].handler, "speech.synthesize");
    assert_int_equal(conf->routes[26].max_body, 2 * 1024 * 1024);
    assert_string_equal(conf->routes[27].handler, "speech.voices");
    /* dictation's WebSocket, behind the middleware that reads ?token= */
    assert_string_equal(conf->routes[30].method, "GET");
    assert_string_equal(conf->routes[30].pattern, "/ws/stt/stream");
    assert_true(conf->routes[30].is_websocket);
    assert_string_equal(conf->routes[30].handler, "speech.stream");
    assert_int_equal(conf->routes[30].n_before, 1);
    assert_string_equal(conf->routes[30].before[0], "auth.websocket_user");
    assert_int_equal(conf->routes[30].ws.max_message, 1024 * 1024);
    /* read-aloud assets: the URLs (signed in), then the signed URLs (no token) */
    assert_string_equal(conf->routes[31].pattern, "/api/documents/{id}/tts-assets");
    assert_string_equal(conf->routes[31].handler, "speech.tts_assets");
    assert_int_equal(conf->routes[31].n_before, 1);
    assert_string_equal(conf->routes[32].pattern, "/api/tts-assets/{id}/{file}");
    assert_int_equal(conf->routes[32].n_before, 0);
    assert_string_equal(conf->routes[0].file, path);
    assert_true(conf->routes[0].line > 0);

    lx_conf_free(conf);
    unsetenv("LEXIAID_ENV_FILE");
}

static void test_conf_shipped_config_follows_environment(void **state)
{
    const char *srcdir = getenv("LX_SRCDIR");
    char path[512];
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    snprintf(path, sizeof(path), "%s/etc/lexiaid.conf", srcdir != NULL ? srcdir : ".");
    setenv("LEXIAID_ENV_FILE", "/nonexistent/lx_test.env", 1);
    setenv("LEXIAID_LISTEN", "127.0.0.1:8081", 1);
    setenv("LEXIAID_WORKERS", "3", 1);
    setenv("LEXIAID_MAX_BODY", "25M", 1);
    setenv("LEXIAID_PLUGIN_DIR", "/opt/plugins", 1);
    setenv("LEXIAID_CORS_ORIGINS", "", 1);
    setenv("LEXIAID_LOG_FORMAT", "text", 1);
    int rc = lx_conf_load(path, &conf, &errs);
    lx_errs_print(&errs, stderr);
    assert_int_equal(rc, LX_OK);
    assert_string_equal(conf->server.listen, "127.0.0.1:8081");
    assert_int_equal(conf->server.workers, 3);
    assert_int_equal(conf->server.max_body, 25 * 1024 * 1024);
    assert_int_equal(conf->routes[0].max_body, 25 * 1024 * 1024);
    assert_string_equal(conf->plugins[0].path, "/opt/plugins/health.so");
    /* ${VAR:-default}: an empty value takes the default. */
    assert_int_equal(conf->server.n_cors_origins, 1);
    assert_int_equal(conf->server.log_format, LX_LOG_FORMAT_TEXT);
    lx_conf_free(conf);
    clean_env(NULL);
}

static void test_conf_empty_text_gives_defaults(void **state)
{
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    assert_int_equal(load_text("", &conf, &errs), LX_OK);
    assert_int_equal(errs.n_lines, 0);
    assert_string_equal(conf->server.listen, "0.0.0.0:5000");
    assert_int_equal(conf->server.backlog, 511);
    assert_int_equal(conf->server.max_connections, 4096);
    assert_string_equal(conf->server.cors_headers, "Authorization, Content-Type, X-Request-Id");
    assert_int_equal(conf->server.n_cors_origins, 0);
    assert_int_equal(conf->n_plugins, 0);
    assert_int_equal(conf->n_routes, 0);
    assert_string_equal(conf->file, "test.conf");
    lx_conf_free(conf);
}

static void test_conf_missing_file_is_enoent(void **state)
{
    lx_conf *conf = (lx_conf *)1;
    lx_errs errs = {0};

    assert_int_equal(lx_conf_load("/nonexistent/lexiaid.conf", &conf, &errs), LX_ENOENT);
    assert_null(conf);
    assert_int_equal(errs.n_lines, 1);
    assert_non_null(strstr(errs.lines[0], "/nonexistent/lexiaid.conf: "));
    lx_errs_clear(&errs);
}

static void test_conf_syntax_error_reports_file_and_line(void **state)
{
    char *path = temp_file("server = {\n  listen = \"0.0.0.0:1\";\n  workers = ;\n};\n");
    lx_conf *conf = (lx_conf *)1;
    lx_errs errs = {0};
    char want[256];

    setenv("LEXIAID_ENV_FILE", "/nonexistent/lx_test.env", 1);
    assert_int_equal(lx_conf_load(path, &conf, &errs), LX_EINVAL);
    assert_null(conf);
    assert_int_equal(errs.n_lines, 1);
    snprintf(want, sizeof(want), "%s:3: syntax error", path);
    assert_string_equal(errs.lines[0], want);
    lx_errs_clear(&errs);

    /* From a string, the given name stands for the file. */
    load_text_fails("a = 1;\nb = ;\n", &errs);
    assert_string_equal(errs.lines[0], "test.conf:2: syntax error");
    lx_errs_clear(&errs);
    unlink(path);
    free(path);
}

static void test_conf_unknown_server_key_names_file_and_line(void **state)
{
    char *path = temp_file("server = {\n  listen = \"0.0.0.0:1\";\n\n  lisen = \"x\";\n};\n");
    lx_conf *conf = (lx_conf *)1;
    lx_errs errs = {0};
    char want[256];

    setenv("LEXIAID_ENV_FILE", "/nonexistent/lx_test.env", 1);
    assert_int_equal(lx_conf_load(path, &conf, &errs), LX_EINVAL);
    assert_null(conf);
    snprintf(want, sizeof(want), "%s:4: unknown key 'server.lisen'", path);
    assert_int_equal(errs.n_lines, 1);
    assert_string_equal(errs.lines[0], want);
    lx_errs_clear(&errs);
    unsetenv("LEXIAID_ENV_FILE");
    unlink(path);
    free(path);
}

static void test_conf_unknown_top_level_key(void **state)
{
    lx_errs errs = {0};

    load_text_fails("server = {};\n\nlistener = \"x\";\n", &errs);
    assert_int_equal(errs.n_lines, 1);
    assert_string_equal(errs.lines[0], "test.conf:3: unknown key 'listener'");
    lx_errs_clear(&errs);
}

static void test_conf_reports_every_error(void **state)
{
    static const char text[] =
        "server = {\n"
        "  listen = \"nohostport\";\n"    /* 2 */
        "  workers = 1000;\n"             /* 3 */
        "  max_body = \"abc\";\n"         /* 4 */
        "  log_level = \"loud\";\n"       /* 5 */
        "  request_timeout = \"soon\";\n" /* 6 */
        "};\n"
        "plugins = (\n"
        "  { name = \"Bad-Name\"; },\n" /* 9 */
        "  { file = \"x.so\"; }\n"      /* 10 */
        ");\n"
        "routes = (\n"
        "  { method = \"FETCH\"; path = \"api\"; handler = \"h\"; }\n" /* 13 */
        ");\n"
        "extra = 1;\n"; /* 15 */
    lx_errs errs = {0};

    load_text_fails(text, &errs);
    assert_has_error(&errs, "test.conf:2: server.listen: expected HOST:PORT or [IPV6]:PORT, "
                            "port 0-65535 (got 'nohostport')");
    assert_has_error(&errs, "test.conf:3: server.workers: must be between 1 and 256, or 0 or "
                            "\"auto\" (got 1000)");
    assert_has_error(&errs,
                     "test.conf:4: server.max_body: expected a size like 64K, 25M (got 'abc')");
    assert_has_error(&errs, "test.conf:5: server.log_level: expected error, warn, info or debug "
                            "(got 'loud')");
    assert_has_error(&errs, "test.conf:6: server.request_timeout: expected a duration like "
                            "250ms, 30s, 5m (got 'soon')");
    assert_has_error(&errs, "test.conf:9: plugins[0].name: plugin names are [a-z0-9_]+ "
                            "(got 'Bad-Name')");
    assert_has_error(&errs, "test.conf:10: plugins[1]: missing 'name'");
    assert_has_error(&errs, "test.conf:13: routes[0].method: expected GET, HEAD, POST, PUT, "
                            "PATCH, DELETE or OPTIONS (got 'FETCH')");
    assert_has_error(&errs, "test.conf:13: routes[0].path: expected a path starting with '/', "
                            "without blanks (got 'api')");
    assert_has_error(&errs, "test.conf:13: routes[0].handler: expected \"plugin.handler\" "
                            "(got 'h')");
    assert_has_error(&errs, "test.conf:15: unknown key 'extra'");
    assert_int_equal(errs.n_lines, 11);
    lx_errs_clear(&errs);
}

static void test_conf_workers_auto_uses_cpu_count(void **state)
{
    static const char *const texts[] = {
        "server = { workers = \"auto\"; };",
        "server = { workers = 0; };",
        "server = { workers = \"${LX_TEST_VAR:-auto}\"; };",
        "",
    };
    int want = lx_cpu_count() > 256 ? 256 : lx_cpu_count();

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        lx_conf *conf = NULL;
        lx_errs errs = {0};
        assert_int_equal(load_text(texts[i], &conf, &errs), LX_OK);
        assert_int_equal(conf->server.workers, want);
        lx_conf_free(conf);
    }
}

static void test_conf_numbers_may_be_strings(void **state)
{
    static const char text[] = "server = {\n"
                               "  workers = \"${LX_TEST_VAR:-7}\";\n"
                               "  backlog = \"128\";\n"
                               "  max_connections = 100;\n"
                               "  max_body = 2048;\n"
                               "  max_header = \"8K\";\n"
                               "  request_timeout = 1500;\n"
                               "  idle_timeout = \"2m\";\n"
                               "  shutdown_grace = \"0\";\n"
                               "  offload_threads = \"9\";\n"
                               "  cors_max_age = \"10m\";\n"
                               "};\n";
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    assert_int_equal(load_text(text, &conf, &errs), LX_OK);
    assert_int_equal(conf->server.workers, 7);
    assert_int_equal(conf->server.backlog, 128);
    assert_int_equal(conf->server.max_connections, 100);
    assert_int_equal(conf->server.max_body, 2048);
    assert_int_equal(conf->server.max_header, 8192);
    assert_int_equal(conf->server.request_timeout_ms, 1500);
    assert_int_equal(conf->server.idle_timeout_ms, 120000);
    assert_int_equal(conf->server.shutdown_grace_ms, 0);
    assert_int_equal(conf->server.offload_threads, 9);
    assert_int_equal(conf->server.cors_max_age_s, 600);
    lx_conf_free(conf);
}

static void test_conf_bad_value_from_environment_names_the_key(void **state)
{
    lx_errs errs = {0};

    setenv("LX_TEST_VAR", "abc", 1);
    load_text_fails("server = {\n  max_body = \"${LX_TEST_VAR:-1M}\";\n};\n", &errs);
    unsetenv("LX_TEST_VAR");
    assert_int_equal(errs.n_lines, 1);
    assert_string_equal(errs.lines[0],
                        "test.conf:2: server.max_body: expected a size like 64K, 25M (got 'abc')");
    lx_errs_clear(&errs);
}

static void test_conf_undefined_variable_reported_once(void **state)
{
    lx_errs errs = {0};

    load_text_fails("server = {\n  listen = \"${LX_TEST_VAR}\";\n  data_dir = \"${BAD\";\n};\n",
                    &errs);
    assert_int_equal(errs.n_lines, 2);
    assert_string_equal(errs.lines[0],
                        "test.conf:2: server.listen: undefined variable LX_TEST_VAR");
    assert_non_null(strstr(errs.lines[1], "test.conf:3: server.data_dir: unterminated ${"));
    lx_errs_clear(&errs);
}

static void test_conf_interpolates_every_string(void **state)
{
    static const char text[] = "plugins = ({ name = \"p\"; config = {\n"
                               "  url = \"http://${LX_TEST_VAR}/x\";\n"
                               "  list = [\"${LX_TEST_VAR}\", \"$$literal\"];\n"
                               "  deep = { deeper = ( \"${LX_TEST_VAR:-no}\" ); };\n"
                               "}; });\n";
    lx_conf *conf = NULL;
    lx_errs errs = {0};
    const char *s = NULL;

    setenv("LX_TEST_VAR", "db.local", 1);
    assert_int_equal(load_text(text, &conf, &errs), LX_OK);
    unsetenv("LX_TEST_VAR");
    const lx_cfg *cfg = (const lx_cfg *)conf->plugins[0].config;
    assert_int_equal(lx_cfg_string(cfg, "url", &s, NULL, 0), LX_OK);
    assert_string_equal(s, "http://db.local/x");
    const lx_cfg *list = lx_cfg_child(cfg, "list");
    assert_string_equal(lx_cfg_value(lx_cfg_elem(list, 0)), "db.local");
    assert_string_equal(lx_cfg_value(lx_cfg_elem(list, 1)), "$literal");
    const lx_cfg *deeper = lx_cfg_child(lx_cfg_child(cfg, "deep"), "deeper");
    assert_string_equal(lx_cfg_value(lx_cfg_elem(deeper, 0)), "db.local");
    lx_conf_free(conf);
}

static void test_conf_env_beside_config_is_used(void **state)
{
    scratch sc;
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    scratch_init(&sc);
    scratch_write(&sc, ".env",
                  "# local settings\nLX_TEST_FROM_FILE=127.0.0.1:7000\n"
                  "LX_TEST_VAR=from_file\n");
    const char *path = scratch_write(&sc, "lexiaid.conf",
                                     "server = {\n"
                                     "  listen = \"${LX_TEST_FROM_FILE}\";\n"
                                     "  data_dir = \"${LX_TEST_VAR}\";\n"
                                     "};\n");
    /* The real environment wins over the file. */
    setenv("LX_TEST_VAR", "from_env", 1);
    int rc = lx_conf_load(path, &conf, &errs);
    lx_errs_print(&errs, stderr);
    assert_int_equal(rc, LX_OK);
    assert_string_equal(conf->server.listen, "127.0.0.1:7000");
    assert_string_equal(conf->server.data_dir, "from_env");
    lx_conf_free(conf);
    unsetenv("LX_TEST_VAR");
    scratch_done(&sc);
}

static void test_conf_lexiaid_env_file_overrides_location(void **state)
{
    scratch sc;
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    scratch_init(&sc);
    scratch_write(&sc, ".env", "LX_TEST_VAR=beside\n");
    const char *other = scratch_write(&sc, "other.env", "LX_TEST_VAR=elsewhere\n");
    const char *path =
        scratch_write(&sc, "lexiaid.conf", "server = { data_dir = \"${LX_TEST_VAR}\"; };\n");
    setenv("LEXIAID_ENV_FILE", other, 1);
    assert_int_equal(lx_conf_load(path, &conf, &errs), LX_OK);
    assert_string_equal(conf->server.data_dir, "elsewhere");
    lx_conf_free(conf);

    /* The same for a config given as a string. */
    assert_int_equal(lx_conf_load_string("server = { data_dir = \"${LX_TEST_VAR}\"; };",
                                         "<embedded>", &conf, &errs),
                     LX_OK);
    assert_string_equal(conf->server.data_dir, "elsewhere");
    lx_conf_free(conf);
    unsetenv("LEXIAID_ENV_FILE");
    scratch_done(&sc);
}

static void test_conf_malformed_env_is_an_error(void **state)
{
    scratch sc;
    lx_conf *conf = (lx_conf *)1;
    lx_errs errs = {0};
    char want[256];

    scratch_init(&sc);
    const char *env = scratch_write(&sc, ".env", "GOOD=1\nthis is not an assignment\n");
    const char *path = scratch_write(&sc, "lexiaid.conf", "server = {};\n");
    assert_int_equal(lx_conf_load(path, &conf, &errs), LX_EINVAL);
    assert_null(conf);
    assert_int_equal(errs.n_lines, 1);
    snprintf(want, sizeof(want), "%s:line 2: ", env);
    assert_memory_equal(errs.lines[0], want, strlen(want));
    lx_errs_clear(&errs);
    scratch_done(&sc);
}

static void test_conf_route_bad_handler_name(void **state)
{
    static const char text[] =
        "routes = (\n"
        "  { method = \"GET\"; path = \"/a\"; handler = \"noplugin\"; },\n"
        "  { method = \"GET\"; path = \"/b\"; handler = \"p.bad-name\"; },\n"
        "  { method = \"GET\"; path = \"/c\"; handler = \"p.h\"; before = [\"p.\", \"ok.mw\"]; }\n"
        ");\n";
    lx_errs errs = {0};

    load_text_fails(text, &errs);
    assert_int_equal(errs.n_lines, 3);
    assert_string_equal(errs.lines[0], "test.conf:2: routes[0].handler: expected "
                                       "\"plugin.handler\" (got 'noplugin')");
    assert_string_equal(errs.lines[1], "test.conf:3: routes[1].handler: expected "
                                       "\"plugin.handler\" (got 'p.bad-name')");
    assert_string_equal(errs.lines[2], "test.conf:4: routes[2].before[0]: expected "
                                       "\"plugin.handler\" (got 'p.')");
    lx_errs_clear(&errs);
}

static void test_conf_route_missing_fields_and_unknown_key(void **state)
{
    lx_errs errs = {0};

    load_text_fails("routes = (\n  { verb = \"GET\"; }\n);\n", &errs);
    assert_has_error(&errs, "test.conf:2: unknown key 'routes[0].verb'");
    assert_has_error(&errs, "test.conf:2: routes[0]: missing 'method'");
    assert_has_error(&errs, "test.conf:2: routes[0]: missing 'path'");
    assert_has_error(&errs, "test.conf:2: routes[0]: missing 'handler'");
    assert_int_equal(errs.n_lines, 4);
    lx_errs_clear(&errs);
}

static void test_conf_route_values_and_defaults(void **state)
{
    static const char text[] =
        "server = { max_body = \"2M\"; request_timeout = \"5s\"; };\n"
        "routes = (\n"
        "  { method = \"get\"; path = \"/a/{id}\"; handler = \"p.show\"; },\n"
        "  { method = \"Post\"; path = \"/b\"; handler = \"p.upload\";\n"
        "    before = [\"auth.require_user\", \"rate.limit\"]; max_body = \"25M\";\n"
        "    timeout = \"2m\"; }\n"
        ");\n";
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    assert_int_equal(load_text(text, &conf, &errs), LX_OK);
    assert_int_equal(conf->n_routes, 2);
    const lx_route_conf *a = &conf->routes[0];
    assert_string_equal(a->method, "GET");
    assert_string_equal(a->pattern, "/a/{id}");
    assert_string_equal(a->handler, "p.show");
    assert_int_equal(a->n_before, 0);
    assert_int_equal(a->max_body, 2 * 1024 * 1024);
    assert_int_equal(a->timeout_ms, 5000);
    assert_string_equal(a->file, "test.conf");
    assert_int_equal(a->line, 3);
    const lx_route_conf *b = &conf->routes[1];
    assert_string_equal(b->method, "POST");
    assert_int_equal(b->n_before, 2);
    assert_string_equal(b->before[0], "auth.require_user");
    assert_string_equal(b->before[1], "rate.limit");
    assert_int_equal(b->max_body, 25 * 1024 * 1024);
    assert_int_equal(b->timeout_ms, 120000);
    assert_int_equal(b->line, 4);
    lx_conf_free(conf);
}

static void test_conf_duplicate_plugin_name(void **state)
{
    lx_errs errs = {0};

    load_text_fails("plugins = (\n  { name = \"auth\"; },\n  { name = \"store\"; },\n"
                    "  { name = \"auth\"; enabled = false; }\n);\n",
                    &errs);
    assert_int_equal(errs.n_lines, 1);
    assert_string_equal(errs.lines[0], "test.conf:4: plugins[2].name: duplicate plugin name "
                                       "'auth' (first at test.conf:2)");
    lx_errs_clear(&errs);
}

static void test_conf_plugin_paths_and_flags(void **state)
{
    static const char text[] = "server = { plugin_dir = \"/srv/plug\"; };\n"
                               "plugins = (\n"
                               "  { name = \"a\"; },\n"
                               "  { name = \"b\"; file = \"sub/b_v2.so\"; enabled = \"no\"; },\n"
                               "  { name = \"c\"; file = \"/abs/c.so\"; enabled = false;\n"
                               "    config = { key = \"v\"; }; }\n"
                               ");\n";
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    assert_int_equal(load_text(text, &conf, &errs), LX_OK);
    assert_int_equal(conf->n_plugins, 3);
    assert_string_equal(conf->plugins[0].path, "/srv/plug/a.so");
    assert_true(conf->plugins[0].is_enabled);
    assert_null(conf->plugins[0].config);
    assert_string_equal(conf->plugins[1].path, "/srv/plug/sub/b_v2.so");
    assert_false(conf->plugins[1].is_enabled);
    assert_string_equal(conf->plugins[2].path, "/abs/c.so");
    assert_false(conf->plugins[2].is_enabled);
    assert_non_null(conf->plugins[2].config);
    assert_int_equal(conf->plugins[2].line, 5);
    lx_conf_free(conf);
}

static void test_conf_empty_plugin_dir_means_builtin(void **state)
{
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    assert_int_equal(load_text("server = { plugin_dir = \"${LX_TEST_VAR:-}\"; };\n"
                               "plugins = ({ name = \"x\"; });\n",
                               &conf, &errs),
                     LX_OK);
    assert_string_equal(conf->server.plugin_dir, LX_PLUGIN_DIR);
    assert_string_equal(conf->plugins[0].path, LX_PLUGIN_DIR "/x.so");
    lx_conf_free(conf);
}

static void test_conf_plugin_unknown_key_and_bad_types(void **state)
{
    lx_errs errs = {0};

    load_text_fails("plugins = (\n  { name = \"a\"; enable = true; },\n"
                    "  { name = \"b\"; enabled = \"maybe\"; config = 3; }\n);\n",
                    &errs);
    assert_has_error(&errs, "test.conf:2: unknown key 'plugins[0].enable'");
    assert_has_error(&errs, "test.conf:3: plugins[1].enabled: expected true or false "
                            "(got 'maybe')");
    assert_has_error(&errs, "test.conf:3: plugins[1].config: expected a group { ... }");
    assert_int_equal(errs.n_lines, 3);
    lx_errs_clear(&errs);
}

static void test_conf_listen_forms(void **state)
{
    static const char *const good[] = {"0.0.0.0:5000", "localhost:0", "[::1]:8080", "[::]:65535",
                                       "example.org:443"};
    static const char *const bad[] = {"5000",   ":5000",     "host:",    "host:65536",
                                      "::1:80", "[::1]8080", "host:80x", "[]:80"};
    char text[128];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        lx_conf *conf = NULL;
        lx_errs errs = {0};
        snprintf(text, sizeof(text), "server = { listen = \"%s\"; };", good[i]);
        assert_int_equal(load_text(text, &conf, &errs), LX_OK);
        assert_string_equal(conf->server.listen, good[i]);
        lx_conf_free(conf);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lx_errs errs = {0};
        snprintf(text, sizeof(text), "server = { listen = \"%s\"; };", bad[i]);
        load_text_fails(text, &errs);
        assert_non_null(strstr(errs.lines[0], "server.listen: expected HOST:PORT"));
        lx_errs_clear(&errs);
    }
}

static void test_conf_cors_origins_string_or_list(void **state)
{
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    assert_int_equal(load_text("server = { cors_origins = \" https://a.example , "
                               "http://b:8080,,*\"; };",
                               &conf, &errs),
                     LX_OK);
    assert_int_equal(conf->server.n_cors_origins, 3);
    assert_string_equal(conf->server.cors_origins[0], "https://a.example");
    assert_string_equal(conf->server.cors_origins[1], "http://b:8080");
    assert_string_equal(conf->server.cors_origins[2], "*");
    lx_conf_free(conf);

    assert_int_equal(
        load_text("server = { cors_origins = [\"https://x\", \" https://y \"]; };", &conf, &errs),
        LX_OK);
    assert_int_equal(conf->server.n_cors_origins, 2);
    assert_string_equal(conf->server.cors_origins[1], "https://y");
    lx_conf_free(conf);

    assert_int_equal(load_text("server = { cors_origins = \"\"; };", &conf, &errs), LX_OK);
    assert_int_equal(conf->server.n_cors_origins, 0);
    lx_conf_free(conf);

    load_text_fails("server = { cors_origins = \"https://a.example/\"; };", &errs);
    assert_non_null(strstr(errs.lines[0], "server.cors_origins: 'https://a.example/' is not"));
    lx_errs_clear(&errs);
}

static void test_conf_log_level_and_format(void **state)
{
    lx_conf *conf = NULL;
    lx_errs errs = {0};

    assert_int_equal(
        load_text("server = { log_level = \"DEBUG\"; log_format = \"text\"; };", &conf, &errs),
        LX_OK);
    assert_int_equal(conf->server.log_level, LX_LOG_DEBUG);
    assert_int_equal(conf->server.log_format, LX_LOG_FORMAT_TEXT);
    lx_conf_free(conf);

    load_text_fails("server = { log_format = \"xml\"; };", &errs);
    assert_string_equal(errs.lines[0],
                        "test.conf:1: server.log_format: expected json or text (got 'xml')");
    lx_errs_clear(&errs);
}

static void test_conf_range_checks(void **state)
{
    lx_errs errs = {0};

    load_text_fails("server = {\n max_header = \"2M\";\n max_connections = 8;\n"
                    " workers = -1;\n request_timeout = 0;\n offload_threads = 65;\n};\n",
                    &errs);
    assert_has_error(&errs, "test.conf:6: server.offload_threads: must be between 1 and 64 "
                            "(got 65)");
    assert_has_error(&errs, "test.conf:2: server.max_header: must be between 1024 and 1048576 "
                            "bytes (got 2097152)");
    assert_has_error(&errs, "test.conf:3: server.max_connections: must be between 16 and "
                            "1000000 (got 8)");
    assert_has_error(&errs, "test.conf:4: server.workers: must be between 1 and 256, or 0 or "
                            "\"auto\" (got -1)");
    assert_has_error(&errs, "test.conf:5: server.request_timeout: must be between 1ms and "
                            "86400000ms (got 0ms)");
    assert_int_equal(errs.n_lines, 5);
    lx_errs_clear(&errs);
}

static void test_conf_wrong_shapes(void **state)
{
    lx_errs errs = {0};

    load_text_fails("server = 5;\nplugins = { name = \"x\"; };\nroutes = ( 1 );\n", &errs);
    assert_has_error(&errs, "test.conf:1: server: expected a group { ... }");
    assert_has_error(&errs, "test.conf:2: plugins: expected a list ( { ... }, ... )");
    assert_has_error(&errs, "test.conf:3: routes[0]: expected a group { method = ...; path = "
                            "...; handler = ...; }");
    lx_errs_clear(&errs);
}

/* The core's integer keys name what they expected, as the size and duration
 * ones do. */
static void test_conf_int_not_integer(void **state)
{
    lx_errs errs = {0};

    load_text_fails("server = {\n  backlog = \"abc\";\n  max_websockets = [ 1 ];\n};\n", &errs);
    assert_has_error(&errs, "test.conf:2: server.backlog: expected an integer (got 'abc')");
    assert_has_error(&errs, "test.conf:3: server.max_websockets: expected an integer (got 'an "
                            "array')");
    assert_int_equal(errs.n_lines, 2);
    lx_errs_clear(&errs);
}

/* Every numeric key of server and routes keeps its own bounds and unit. */
static void test_conf_numeric_key_bounds(void **state)
{
    static const char *const want[] = {
        "test.conf:2: server.backlog: must be between 1 and 65535 (got 0)",
        "test.conf:3: server.max_connections: must be between 16 and 1000000 (got 8)",
        "test.conf:4: server.max_websockets: must be between 0 and 1000000 (got -1)",
        "test.conf:5: server.max_body: must be between 0 and 9223372036854775807 bytes (got "
        "9223372036854775808)",
        "test.conf:6: server.max_header: must be between 1024 and 1048576 bytes (got 512)",
        "test.conf:7: server.request_timeout: must be between 1ms and 86400000ms (got 0ms)",
        "test.conf:8: server.idle_timeout: must be between 1ms and 86400000ms (got 0ms)",
        "test.conf:9: server.shutdown_grace: must be between 0ms and 86400000ms (got "
        "172800000ms)",
        "test.conf:10: server.header_timeout: must be between 100ms and 86400000ms (got 50ms)",
        "test.conf:11: server.body_timeout: must be between 100ms and 86400000ms (got 50ms)",
        "test.conf:12: server.body_min_rate: must be between 0 and 1073741824 bytes (got "
        "2147483648)",
        "test.conf:13: server.max_body_memory: must be between 65536 and 9223372036854775807 "
        "bytes (got 1024)",
        "test.conf:14: server.max_unsent: must be between 4096 and 1073741824 bytes (got 1024)",
        "test.conf:15: server.multipart_allowance: must be between 0 and 16777216 bytes (got "
        "33554432)",
        "test.conf:16: server.offload_threads: must be between 1 and 64 (got 65)",
        "test.conf:19: routes[0].timeout: must be between 1ms and 86400000ms (got 0ms)",
        "test.conf:19: routes[0].body_timeout: must be between 100ms and 86400000ms (got 50ms)",
        "test.conf:20: routes[1].max_message: must be between 1 and 1073741824 bytes (got 0)",
        "test.conf:21: routes[1].idle_timeout: must be between 0ms and 86400000ms (got "
        "172800000ms)",
        "test.conf:21: routes[1].ping_interval: must be between 0ms and 86400000ms (got "
        "172800000ms)",
    };
    lx_errs errs = {0};

    load_text_fails("server = {\n"
                    "  backlog = 0;\n"
                    "  max_connections = 8;\n"
                    "  max_websockets = -1;\n"
                    "  max_body = \"8388608T\";\n"
                    "  max_header = 512;\n"
                    "  request_timeout = 0;\n"
                    "  idle_timeout = 0;\n"
                    "  shutdown_grace = \"2d\";\n"
                    "  header_timeout = 50;\n"
                    "  body_timeout = 50;\n"
                    "  body_min_rate = \"2G\";\n"
                    "  max_body_memory = \"1K\";\n"
                    "  max_unsent = 1024;\n"
                    "  multipart_allowance = \"32M\";\n"
                    "  offload_threads = 65;\n"
                    "};\n"
                    "routes = (\n"
                    "  { method = \"GET\"; path = \"/\"; handler = \"p.h\"; timeout = 0; "
                    "body_timeout = 50; },\n"
                    "  { path = \"/ws\"; websocket = \"p.w\"; max_message = 0;\n"
                    "    idle_timeout = \"2d\"; ping_interval = \"2d\"; }\n"
                    ");\n",
                    &errs);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_has_error(&errs, want[i]);
    assert_int_equal(errs.n_lines, sizeof(want) / sizeof(want[0]));
    lx_errs_clear(&errs);
}

/* Each list of groups names its own entry shape. */
static void test_conf_list_entry_not_group(void **state)
{
    lx_errs errs = {0};

    load_text_fails("plugins = ( \"x\", { name = \"p\"; } );\n"
                    "routes = ( { method = \"GET\"; path = \"/\"; handler = \"p.h\"; }, 2 );\n",
                    &errs);
    assert_has_error(&errs, "test.conf:1: plugins[0]: expected a group { name = ...; }");
    assert_has_error(&errs, "test.conf:2: routes[1]: expected a group { method = ...; path = "
                            "...; handler = ...; }");
    assert_int_equal(errs.n_lines, 2);
    lx_errs_clear(&errs);
}

/* ------------------------------------------------------------------------ */
/* Accessors (host->cfg_*)                                                  */

static const char accessor_text[] = "plugins = ({ name = \"p\"; config = {\n"
                                    "  name = \"svc\";\n"                  /* 2 */
                                    "  port = 8080;\n"                     /* 3 */
                                    "  big = 5000000000L;\n"               /* 4 */
                                    "  port_s = \"${LX_TEST_VAR:-42}\";\n" /* 5 */
                                    "  on = true;\n"                       /* 6 */
                                    "  on_s = \"off\";\n"                  /* 7 */
                                    "  cap = \"64K\";\n"                   /* 8 */
                                    "  cap_i = 1000;\n"                    /* 9 */
                                    "  wait = \"5m\";\n"                   /* 10 */
                                    "  wait_i = 250;\n"                    /* 11 */
                                    "  ratio = 0.5;\n"                     /* 12 */
                                    "  bad = \"xyz\";\n"                   /* 13 */
                                    "  items = [\"a\", \"b\"];\n"          /* 14 */
                                    "  sub = { k = 1; };\n"                /* 15 */
                                    "}; });\n";

static const lx_cfg *accessor_cfg(lx_conf **conf)
{
    lx_errs errs = {0};
    assert_int_equal(load_text(accessor_text, conf, &errs), LX_OK);
    return (const lx_cfg *)(*conf)->plugins[0].config;
}

static void test_cfg_typed_getters(void **state)
{
    lx_conf *conf;
    const lx_cfg *cfg = accessor_cfg(&conf);
    const char *s = NULL;
    long long ll = 0;
    int b = -1;
    size_t sz = 0;

    assert_int_equal(lx_cfg_string(cfg, "name", &s, NULL, 0), LX_OK);
    assert_string_equal(s, "svc");
    assert_int_equal(lx_cfg_int(cfg, "port", &ll, NULL, 0), LX_OK);
    assert_int_equal(ll, 8080);
    assert_int_equal(lx_cfg_int(cfg, "big", &ll, NULL, 0), LX_OK);
    assert_true(ll == 5000000000LL);
    assert_int_equal(lx_cfg_int(cfg, "port_s", &ll, NULL, 0), LX_OK);
    assert_int_equal(ll, 42);
    assert_int_equal(lx_cfg_bool(cfg, "on", &b, NULL, 0), LX_OK);
    assert_int_equal(b, 1);
    assert_int_equal(lx_cfg_bool(cfg, "on_s", &b, NULL, 0), LX_OK);
    assert_int_equal(b, 0);
    assert_int_equal(lx_cfg_size(cfg, "cap", &sz, NULL, 0), LX_OK);
    assert_int_equal(sz, 65536);
    assert_int_equal(lx_cfg_size(cfg, "cap_i", &sz, NULL, 0), LX_OK);
    assert_int_equal(sz, 1000);
    assert_int_equal(lx_cfg_ms(cfg, "wait", &ll, NULL, 0), LX_OK);
    assert_int_equal(ll, 300000);
    assert_int_equal(lx_cfg_ms(cfg, "wait_i", &ll, NULL, 0), LX_OK);
    assert_int_equal(ll, 250);
    lx_conf_free(conf);
}

static void test_cfg_absent_key_is_enoent_and_untouched(void **state)
{
    lx_conf *conf;
    const lx_cfg *cfg = accessor_cfg(&conf);
    const char *s = "keep";
    long long ll = 7;
    int b = 7;
    size_t sz = 7;

    assert_int_equal(lx_cfg_string(cfg, "nope", &s, NULL, 0), LX_ENOENT);
    assert_string_equal(s, "keep");
    assert_int_equal(lx_cfg_int(cfg, "nope", &ll, NULL, 0), LX_ENOENT);
    assert_int_equal(lx_cfg_bool(cfg, "nope", &b, NULL, 0), LX_ENOENT);
    assert_int_equal(lx_cfg_size(cfg, "nope", &sz, NULL, 0), LX_ENOENT);
    assert_int_equal(lx_cfg_ms(cfg, "nope", &ll, NULL, 0), LX_ENOENT);
    assert_int_equal(ll, 7);
    assert_int_equal(b, 7);
    assert_int_equal(sz, 7);
    assert_int_equal(lx_cfg_int(NULL, "port", &ll, NULL, 0), LX_ENOENT);
    assert_null(lx_cfg_child(cfg, "nope"));
    lx_conf_free(conf);
}

static void test_cfg_bad_value_names_file_line_and_key(void **state)
{
    lx_conf *conf;
    const lx_cfg *cfg = accessor_cfg(&conf);
    char err[256] = "";
    long long ll = 7;
    int b;
    size_t sz;
    const char *s;

    assert_int_equal(lx_cfg_int(cfg, "bad", &ll, err, sizeof(err)), LX_EINVAL);
    assert_string_equal(err, "test.conf:13: bad: expected an integer (got 'xyz')");
    assert_int_equal(ll, 7);
    assert_int_equal(lx_cfg_int(cfg, "ratio", &ll, err, sizeof(err)), LX_EINVAL);
    assert_string_equal(err, "test.conf:12: ratio: expected an integer (got '0.5')");
    assert_int_equal(lx_cfg_bool(cfg, "port", &b, err, sizeof(err)), LX_EINVAL);
    assert_string_equal(err, "test.conf:3: port: expected true or false (got '8080')");
    assert_int_equal(lx_cfg_size(cfg, "bad", &sz, err, sizeof(err)), LX_EINVAL);
    assert_string_equal(err, "test.conf:13: bad: expected a size like 64K, 25M (got 'xyz')");
    assert_int_equal(lx_cfg_ms(cfg, "on", &ll, err, sizeof(err)), LX_EINVAL);
    assert_string_equal(err, "test.conf:6: on: expected a duration like 250ms, 30s, 5m "
                             "(got 'true')");
    assert_int_equal(lx_cfg_string(cfg, "port", &s, err, sizeof(err)), LX_EINVAL);
    assert_string_equal(err, "test.conf:3: port: expected a string");
    /* A tiny buffer is truncated, never overrun; NULL is allowed. */
    char tiny[8];
    assert_int_equal(lx_cfg_int(cfg, "bad", &ll, tiny, sizeof(tiny)), LX_EINVAL);
    assert_string_equal(tiny, "test.co");
    assert_int_equal(lx_cfg_int(cfg, "bad", &ll, NULL, 0), LX_EINVAL);
    lx_conf_free(conf);
}

static void test_cfg_tree_walk(void **state)
{
    lx_conf *conf;
    const lx_cfg *cfg = accessor_cfg(&conf);
    char where[128];

    const lx_cfg *items = lx_cfg_child(cfg, "items");
    assert_non_null(items);
    assert_int_equal(lx_cfg_count(items), 2);
    assert_string_equal(lx_cfg_value(lx_cfg_elem(items, 0)), "a");
    assert_string_equal(lx_cfg_value(lx_cfg_elem(items, 1)), "b");
    assert_null(lx_cfg_elem(items, 2));
    assert_null(lx_cfg_elem(items, -1));
    assert_null(lx_cfg_value(items));
    assert_null(lx_cfg_child(cfg, "port")); /* a scalar is not a child */
    assert_int_equal(lx_cfg_count(NULL), 0);

    const lx_cfg *sub = lx_cfg_child(cfg, "sub");
    assert_non_null(sub);
    assert_string_equal(lx_cfg_value(lx_cfg_elem(sub, 0)), "1");
    assert_string_equal(lx_cfg_value(lx_cfg_elem(cfg, 4)), "true"); /* `on` */
    assert_string_equal(lx_cfg_value(lx_cfg_elem(cfg, 10)), "0.5"); /* `ratio` */

    lx_cfg_where(items, where, sizeof(where));
    assert_string_equal(where, "test.conf:14");
    lx_conf_free(conf);
}

static void test_cfg_check_keys_reports_first_unknown(void **state)
{
    static const char *const all[] = {"name",  "port", "big",   "port_s", "on",
                                      "on_s",  "cap",  "cap_i", "wait",   "wait_i",
                                      "ratio", "bad",  "items", "sub",    NULL};
    static const char *const some[] = {"name", "port", "big", "port_s", NULL};
    lx_conf *conf;
    const lx_cfg *cfg = accessor_cfg(&conf);
    char err[256] = "";

    assert_int_equal(lx_cfg_check_keys(cfg, all, err, sizeof(err)), LX_OK);
    assert_int_equal(lx_cfg_check_keys(cfg, some, err, sizeof(err)), LX_EINVAL);
    assert_string_equal(err, "test.conf:6: unknown key 'on'");
    lx_conf_free(conf);
}

static void test_cfg_where_uses_real_file_name(void **state)
{
    char *path = temp_file("plugins = ({ name = \"p\";\n config = {\n  x = 1;\n }; });\n");
    lx_conf *conf = NULL;
    lx_errs errs = {0};
    char where[256], want[256];
    int b;
    char err[256];

    setenv("LEXIAID_ENV_FILE", "/nonexistent/lx_test.env", 1);
    assert_int_equal(lx_conf_load(path, &conf, &errs), LX_OK);
    const lx_cfg *cfg = (const lx_cfg *)conf->plugins[0].config;
    lx_cfg_where(lx_cfg_elem(cfg, 0), where, sizeof(where));
    snprintf(want, sizeof(want), "%s:3", path);
    assert_string_equal(where, want);
    assert_int_equal(lx_cfg_bool(cfg, "x", &b, err, sizeof(err)), LX_EINVAL);
    snprintf(want, sizeof(want), "%s:3: x: expected true or false (got '1')", path);
    assert_string_equal(err, want);
    lx_conf_free(conf);
    unsetenv("LEXIAID_ENV_FILE");
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_parse_size_accepts_units, clean_env),
        cmocka_unit_test_setup(test_parse_size_refuses_garbage_and_overflow, clean_env),
        cmocka_unit_test_setup(test_parse_ms_accepts_units, clean_env),
        cmocka_unit_test_setup(test_parse_ms_refuses_garbage_and_overflow, clean_env),
        cmocka_unit_test_setup(test_parse_bool_accepts_common_words, clean_env),
        cmocka_unit_test_setup(test_cpu_count_is_at_least_one, clean_env),
        cmocka_unit_test_setup(test_conf_shipped_config_loads, clean_env),
        cmocka_unit_test_setup(test_conf_shipped_config_follows_environment, clean_env),
        cmocka_unit_test_setup(test_conf_empty_text_gives_defaults, clean_env),
        cmocka_unit_test_setup(test_conf_missing_file_is_enoent, clean_env),
        cmocka_unit_test_setup(test_conf_syntax_error_reports_file_and_line, clean_env),
        cmocka_unit_test_setup(test_conf_unknown_server_key_names_file_and_line, clean_env),
        cmocka_unit_test_setup(test_conf_unknown_top_level_key, clean_env),
        cmocka_unit_test_setup(test_conf_reports_every_error, clean_env),
        cmocka_unit_test_setup(test_conf_workers_auto_uses_cpu_count, clean_env),
        cmocka_unit_test_setup(test_conf_numbers_may_be_strings, clean_env),
        cmocka_unit_test_setup(test_conf_bad_value_from_environment_names_the_key, clean_env),
        cmocka_unit_test_setup(test_conf_undefined_variable_reported_once, clean_env),
        cmocka_unit_test_setup(test_conf_interpolates_every_string, clean_env),
        cmocka_unit_test_setup(test_conf_env_beside_config_is_used, clean_env),
        cmocka_unit_test_setup(test_conf_lexiaid_env_file_overrides_location, clean_env),
        cmocka_unit_test_setup(test_conf_malformed_env_is_an_error, clean_env),
        cmocka_unit_test_setup(test_conf_route_bad_handler_name, clean_env),
        cmocka_unit_test_setup(test_conf_route_missing_fields_and_unknown_key, clean_env),
        cmocka_unit_test_setup(test_conf_route_values_and_defaults, clean_env),
        cmocka_unit_test_setup(test_conf_duplicate_plugin_name, clean_env),
        cmocka_unit_test_setup(test_conf_plugin_paths_and_flags, clean_env),
        cmocka_unit_test_setup(test_conf_empty_plugin_dir_means_builtin, clean_env),
        cmocka_unit_test_setup(test_conf_plugin_unknown_key_and_bad_types, clean_env),
        cmocka_unit_test_setup(test_conf_listen_forms, clean_env),
        cmocka_unit_test_setup(test_conf_cors_origins_string_or_list, clean_env),
        cmocka_unit_test_setup(test_conf_log_level_and_format, clean_env),
        cmocka_unit_test_setup(test_conf_range_checks, clean_env),
        cmocka_unit_test_setup(test_conf_wrong_shapes, clean_env),
        cmocka_unit_test_setup(test_conf_list_entry_not_group, clean_env),
        cmocka_unit_test_setup(test_conf_int_not_integer, clean_env),
        cmocka_unit_test_setup(test_conf_numeric_key_bounds, clean_env),
        cmocka_unit_test_setup(test_cfg_typed_getters, clean_env),
        cmocka_unit_test_setup(test_cfg_absent_key_is_enoent_and_untouched, clean_env),
        cmocka_unit_test_setup(test_cfg_bad_value_names_file_line_and_key, clean_env),
        cmocka_unit_test_setup(test_cfg_tree_walk, clean_env),
        cmocka_unit_test_setup(test_cfg_check_keys_reports_first_unknown, clean_env),
        cmocka_unit_test_setup(test_cfg_where_uses_real_file_name, clean_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
