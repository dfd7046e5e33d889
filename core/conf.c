#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* sched_getaffinity, CPU_COUNT */
#endif

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "conf.h"

#ifndef LX_PLUGIN_DIR
#define LX_PLUGIN_DIR "/usr/local/lib/lexiaid/plugins"
#endif

#define LX_CONF_DEFAULT_LISTEN "0.0.0.0:5000"
#define LX_CONF_DEFAULT_DATA_DIR "./data"
#define LX_CONF_DEFAULT_CORS_HEADERS "Authorization, Content-Type, X-Request-Id"
#define LX_CONF_MAX_WORKERS 256
#define LX_CONF_DEFAULT_OFFLOAD_THREADS 4
#define LX_CONF_MAX_OFFLOAD_THREADS 64 /* core/offload.c's limit */
#define LX_CONF_DAY_MS (24LL * 3600 * 1000)

/* ------------------------------------------------------------------------ */
/* Loading and validation                                                   */

typedef struct lx_conf_ctx {
    lx_conf *conf;
    lx_errs *errs;
    size_t n_errs;
    int is_oom;
} lx_conf_ctx;

/* Adds "FILE:LINE: PATH: message" for setting s. */
static void LX_PRINTF(3, 4)
    lx_conf_err(lx_conf_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
    char msg[512];
    char path[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lx_conf_setting_path(s, path, sizeof(path));
    if (path[0] != '\0')
        lx_errs_add(ctx->errs, "%s:%d: %s: %s", lx_conf_setting_file(s), lx_conf_setting_line(s),
                    path, msg);
    else
        lx_errs_add(ctx->errs, "%s:%d: %s", lx_conf_setting_file(s), lx_conf_setting_line(s), msg);
    ctx->n_errs++;
}

/* Adds "FILE:LINE: unknown key 'server.lisen'". */
static void lx_conf_err_unknown(lx_conf_ctx *ctx, const config_setting_t *s)
{
    char path[256];

    lx_conf_setting_path(s, path, sizeof(path));
    lx_errs_add(ctx->errs, "%s:%d: unknown key '%s'", lx_conf_setting_file(s),
                lx_conf_setting_line(s), path);
    ctx->n_errs++;
}

static char *lx_conf_strdup(lx_conf_ctx *ctx, const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL)
        ctx->is_oom = 1;
    return copy;
}

/* Replaces *dst (owned) by a copy of s. */
static void lx_conf_set_str(lx_conf_ctx *ctx, char **dst, const char *s)
{
    char *copy = lx_conf_strdup(ctx, s);
    if (copy == NULL)
        return;
    free(*dst);
    *dst = copy;
}

static const char *lx_conf_env_lookup(void *arg, const char *name)
{
    return lx_env_lookup(arg, name);
}

/* Interpolates every string of the tree in place, and stores numbers and
 * booleans as text for lx_cfg_value(). */
static void lx_conf_walk(lx_conf_ctx *ctx, config_setting_t *s)
{
    char err[256];
    char num[64];
    lx_conf_hook *h;

    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
    case CONFIG_TYPE_LIST:
    case CONFIG_TYPE_ARRAY: {
        int n = config_setting_length(s);
        for (int i = 0; i < n; i++)
            lx_conf_walk(ctx, config_setting_get_elem(s, (unsigned)i));
        return;
    }
    case CONFIG_TYPE_STRING: {
        const char *v = config_setting_get_string(s);
        char *res = NULL;
        if (v == NULL || strchr(v, '$') == NULL)
            return;
        err[0] = '\0';
        int rc = lx_env_interpolate(v, lx_conf_env_lookup, ctx->conf->env, &res, err, sizeof(err));
        if (rc == LX_OK) {
            if (config_setting_set_string(s, res) != CONFIG_TRUE)
                ctx->is_oom = 1;
            free(res);
            return;
        }
        if (rc == LX_ENOMEM) {
            ctx->is_oom = 1;
            return;
        }
        lx_conf_err(ctx, s, "%s", err);
        h = lx_conf_hook_get(s);
        if (h == NULL)
            ctx->is_oom = 1;
        else
            h->is_bad = 1;
        return;
    }
    case CONFIG_TYPE_INT:
        snprintf(num, sizeof(num), "%d", config_setting_get_int(s));
        break;
    case CONFIG_TYPE_INT64:
        snprintf(num, sizeof(num), "%lld", config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT: {
        double d = config_setting_get_float(s);
        snprintf(num, sizeof(num), "%.15g", d);
        if (strtod(num, NULL) != d)
            snprintf(num, sizeof(num), "%.17g", d);
        break;
    }
    case CONFIG_TYPE_BOOL:
        snprintf(num, sizeof(num), "%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    default:
        return;
    }
    h = lx_conf_hook_get(s);
    if (h == NULL || (h->text = strdup(num)) == NULL)
        ctx->is_oom = 1;
}

/* Typed readers for the core's own keys: each reports a bad value with its
 * place and returns LX_EINVAL, leaving *out untouched. A setting whose
 * interpolation already failed is skipped silently. */

static int lx_conf_get_string(lx_conf_ctx *ctx, const config_setting_t *s, const char **out)
{
    if (lx_conf_setting_is_bad(s))
        return LX_EINVAL;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        lx_conf_err(ctx, s, "expected a string (got %s)", lx_conf_setting_text(s));
        return LX_EINVAL;
    }
    *out = config_setting_get_string(s);
    return LX_OK;
}

/* s as `kind` into *out (see lx_conf_setting_to), reporting "expected ...
 * (got '...')" when it is not one. */
static int lx_conf_get_kind(lx_conf_ctx *ctx, const config_setting_t *s, lx_conf_kind kind,
                            void *out)
{
    if (lx_conf_setting_is_bad(s))
        return LX_EINVAL;
    if (lx_conf_setting_to(s, kind, out) != LX_OK) {
        lx_conf_err(ctx, s, "expected %s (got '%s')", lx_conf_kind_what(kind),
                    lx_conf_setting_text(s));
        return LX_EINVAL;
    }
    return LX_OK;
}

/* An integer (LX_CONF_INT) or a duration (LX_CONF_MS, whose numbers the
 * range message writes with `unit` "ms") between min and max. */
static int lx_conf_get_ll(lx_conf_ctx *ctx, const config_setting_t *s, lx_conf_kind kind,
                          const char *unit, long long min, long long max, long long *out)
{
    long long v;
    if (lx_conf_get_kind(ctx, s, kind, &v) != LX_OK)
        return LX_EINVAL;
    if (v < min || v > max) {
        lx_conf_err(ctx, s, "must be between %lld%s and %lld%s (got %lld%s)", min, unit, max, unit,
                    v, unit);
        return LX_EINVAL;
    }
    *out = v;
    return LX_OK;
}

static int lx_conf_get_int(lx_conf_ctx *ctx, const config_setting_t *s, long long min,
                           long long max, long long *out)
{
    return lx_conf_get_ll(ctx, s, LX_CONF_INT, "", min, max, out);
}

static int lx_conf_get_ms(lx_conf_ctx *ctx, const config_setting_t *s, long long min, long long max,
                          long long *out)
{
    return lx_conf_get_ll(ctx, s, LX_CONF_MS, "ms", min, max, out);
}

static int lx_conf_get_size(lx_conf_ctx *ctx, const config_setting_t *s, size_t min, size_t max,
                            size_t *out)
{
    size_t v;
    if (lx_conf_get_kind(ctx, s, LX_CONF_SIZE, &v) != LX_OK)
        return LX_EINVAL;
    if (v < min || v > max) {
        lx_conf_err(ctx, s, "must be between %zu and %zu bytes (got %zu)", min, max, v);
        return LX_EINVAL;
    }
    *out = v;
    return LX_OK;
}

static int lx_conf_get_bool(lx_conf_ctx *ctx, const config_setting_t *s, int *out)
{
    return lx_conf_get_kind(ctx, s, LX_CONF_BOOL, out);
}

/* A numeric key of a struct the config fills: its name, kind and bounds,
 * and the member it sets, at `offset`: an int for LX_CONF_INT, a size_t for
 * LX_CONF_SIZE, a long long for LX_CONF_MS. */
typedef struct lx_conf_num_key {
    const char *name;
    lx_conf_kind kind;
    long long min;
    long long max;
    size_t offset;
} lx_conf_num_key;

/* When `key` is one of keys[0..n), reads s within its bounds into its member
 * of *base (left as it was when the value is bad, which is reported) and
 * returns 1; returns 0 for another key. */
static int lx_conf_num(lx_conf_ctx *ctx, const config_setting_t *s, const char *key,
                       const lx_conf_num_key *keys, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        const lx_conf_num_key *k = &keys[i];
        char *field = (char *)base + k->offset;
        long long ll;
        size_t sz;

        if (strcmp(key, k->name) != 0)
            continue;
        if (k->kind == LX_CONF_SIZE) {
            if (lx_conf_get_size(ctx, s, (size_t)k->min, (size_t)k->max, &sz) == LX_OK)
                *(size_t *)(void *)field = sz;
        } else if (k->kind == LX_CONF_MS) {
            if (lx_conf_get_ms(ctx, s, k->min, k->max, &ll) == LX_OK)
                *(long long *)(void *)field = ll;
        } else if (lx_conf_get_int(ctx, s, k->min, k->max, &ll) == LX_OK) {
            *(int *)(void *)field = (int)ll;
        }
        return 1;
    }
    return 0;
}

#define LX_CONF_SV(member) offsetof(lx_server_conf, member)

/* The server's numeric keys. */
static const lx_conf_num_key lx_conf_server_nums[] = {
    {"backlog", LX_CONF_INT, 1, 65535, LX_CONF_SV(backlog)},
    {"max_connections", LX_CONF_INT, 16, 1000000, LX_CONF_SV(max_connections)},
    {"max_websockets", LX_CONF_INT, 0, 1000000, LX_CONF_SV(max_websockets)},
    {"max_body", LX_CONF_SIZE, 0, INT64_MAX, LX_CONF_SV(max_body)},
    {"max_header", LX_CONF_SIZE, 1 << 10, 1 << 20, LX_CONF_SV(max_header)},
    {"request_timeout", LX_CONF_MS, 1, LX_CONF_DAY_MS, LX_CONF_SV(request_timeout_ms)},
    {"idle_timeout", LX_CONF_MS, 1, LX_CONF_DAY_MS, LX_CONF_SV(idle_timeout_ms)},
    {"shutdown_grace", LX_CONF_MS, 0, LX_CONF_DAY_MS, LX_CONF_SV(shutdown_grace_ms)},
    {"header_timeout", LX_CONF_MS, 100, LX_CONF_DAY_MS, LX_CONF_SV(header_timeout_ms)},
    {"body_timeout", LX_CONF_MS, 100, LX_CONF_DAY_MS, LX_CONF_SV(body_timeout_ms)},
    {"body_min_rate", LX_CONF_SIZE, 0, 1 << 30, LX_CONF_SV(body_min_rate)},
    {"max_body_memory", LX_CONF_SIZE, 64 << 10, INT64_MAX, LX_CONF_SV(max_body_memory)},
    {"max_unsent", LX_CONF_SIZE, 4 << 10, 1 << 30, LX_CONF_SV(max_unsent)},
    {"multipart_allowance", LX_CONF_SIZE, 0, 16 << 20, LX_CONF_SV(multipart_allowance)},
    {"offload_threads", LX_CONF_INT, 1, LX_CONF_MAX_OFFLOAD_THREADS, LX_CONF_SV(offload_threads)},
};

#undef LX_CONF_SV

#define LX_CONF_RT(member) offsetof(lx_route_conf, member)

/* A route's numeric keys: the plain ones, then the WebSocket limits. */
static const lx_conf_num_key lx_conf_route_nums[] = {
    {"timeout", LX_CONF_MS, 1, LX_CONF_DAY_MS, LX_CONF_RT(timeout_ms)},
    {"body_timeout", LX_CONF_MS, 100, LX_CONF_DAY_MS, LX_CONF_RT(body_timeout_ms)},
};
static const lx_conf_num_key lx_conf_route_ws_nums[] = {
    {"max_message", LX_CONF_SIZE, 1, 1 << 30, LX_CONF_RT(ws.max_message)},
    {"idle_timeout", LX_CONF_MS, 0, LX_CONF_DAY_MS, LX_CONF_RT(ws.idle_timeout_ms)},
    {"ping_interval", LX_CONF_MS, 0, LX_CONF_DAY_MS, LX_CONF_RT(ws.ping_interval_ms)},
};

#undef LX_CONF_RT

/* HOST:PORT or [V6]:PORT, port 0..65535. */
static int lx_conf_is_valid_listen(const char *s)
{
    const char *colon;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close == s + 1 || close[1] != ':')
            return 0;
        for (const char *p = s + 1; p < close; p++) {
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.' && *p != '%')
                return 0;
        }
        colon = close + 1;
    } else {
        colon = strchr(s, ':');
        if (colon == NULL || colon == s || strchr(colon + 1, ':') != NULL)
            return 0;
        for (const char *p = s; p < colon; p++) {
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
                return 0;
        }
    }
    const char *port = colon + 1;
    size_t n = strlen(port);
    if (n == 0 || n > 5)
        return 0;
    long v = 0;
    for (const char *p = port; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p))
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v <= 65535;
}

/* An exact origin ("https://app.example.com:8443") or "*". */
static int lx_conf_is_valid_origin(const char *s)
{
    if (strcmp(s, "*") == 0)
        return 1;
    const char *sep = strstr(s, "://");
    if (sep == NULL || sep == s || sep[3] == '\0')
        return 0;
    for (const char *p = s; p < sep; p++) {
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return 0;
    }
    for (const char *p = sep + 3; *p != '\0'; p++) {
        if (*p == '/' || isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == ',')
            return 0;
    }
    return 1;
}

static void lx_conf_add_origin(lx_conf_ctx *ctx, const config_setting_t *s, const char *start,
                               size_t len)
{
    lx_server_conf *sv = &ctx->conf->server;

    while (len > 0 && isspace((unsigned char)*start)) {
        start++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)start[len - 1]))
        len--;
    if (len == 0)
        return;
    char *origin = strndup(start, len);
    if (origin == NULL) {
        ctx->is_oom = 1;
        return;
    }
    if (!lx_conf_is_valid_origin(origin)) {
        lx_conf_err(ctx, s, "'%s' is not an origin like https://app.example.com or *", origin);
        free(origin);
        return;
    }
    char **list = realloc(sv->cors_origins, (sv->n_cors_origins + 1) * sizeof(*list));
    if (list == NULL) {
        ctx->is_oom = 1;
        free(origin);
        return;
    }
    sv->cors_origins = list;
    sv->cors_origins[sv->n_cors_origins++] = origin;
}

static void lx_conf_server_cors_origins(lx_conf_ctx *ctx, const config_setting_t *s)
{
    if (lx_conf_setting_is_bad(s))
        return;
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        const char *p = config_setting_get_string(s);
        for (;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
            lx_conf_add_origin(ctx, s, p, len);
            if (comma == NULL)
                break;
            p = comma + 1;
        }
        return;
    }
    if (config_setting_type(s) != CONFIG_TYPE_LIST && config_setting_type(s) != CONFIG_TYPE_ARRAY) {
        lx_conf_err(ctx, s, "expected a string of comma-separated origins or a list of strings");
        return;
    }
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *v;
        if (lx_conf_get_string(ctx, e, &v) != LX_OK)
            continue;
        if (*lx_conf_skip_space(v) == '\0') {
            lx_conf_err(ctx, e, "empty origin");
            continue;
        }
        lx_conf_add_origin(ctx, e, v, strlen(v));
    }
}

/* cors_max_age: integer seconds (also as a string), or a duration. */
static void lx_conf_server_cors_max_age(lx_conf_ctx *ctx, const config_setting_t *s)
{
    long long v;

    if (lx_conf_setting_is_bad(s))
        return;
    if (lx_conf_setting_to(s, LX_CONF_INT, &v) != LX_OK) {
        long long ms;
        if (config_setting_type(s) != CONFIG_TYPE_STRING ||
            lx_conf_parse_ms(config_setting_get_string(s), &ms) != LX_OK) {
            lx_conf_err(ctx, s, "expected seconds or a duration like 10m (got '%s')",
                        lx_conf_setting_text(s));
            return;
        }
        v = ms / 1000;
    }
    if (v < 0 || v > INT_MAX) {
        lx_conf_err(ctx, s, "must be between 0 and %d seconds (got %lld)", INT_MAX, v);
        return;
    }
    ctx->conf->server.cors_max_age_s = v;
}

static void lx_conf_server_defaults(lx_conf_ctx *ctx)
{
    lx_server_conf *sv = &ctx->conf->server;

    sv->listen = lx_conf_strdup(ctx, LX_CONF_DEFAULT_LISTEN);
    sv->workers = 0;
    sv->backlog = 511;
    sv->max_connections = 4096;
    sv->max_websockets = 1024;
    sv->max_body = 1u << 20;
    sv->max_header = 16u << 10;
    sv->request_timeout_ms = 30000;
    sv->idle_timeout_ms = 60000;
    sv->shutdown_grace_ms = 10000;
    sv->header_timeout_ms = 10000;
    sv->body_timeout_ms = 30000;
    sv->body_min_rate = 4u << 10;
    sv->max_body_memory = 64u << 20;
    sv->max_unsent = 256u << 10;
    sv->multipart_allowance = 64u << 10;
    sv->offload_threads = LX_CONF_DEFAULT_OFFLOAD_THREADS;
    sv->data_dir = lx_conf_strdup(ctx, LX_CONF_DEFAULT_DATA_DIR);
    sv->plugin_dir = lx_conf_strdup(ctx, LX_PLUGIN_DIR);
    sv->log_level = LX_LOG_INFO;
    sv->log_format = LX_LOG_FORMAT_JSON;
    sv->cors_origins = NULL;
    sv->n_cors_origins = 0;
    sv->cors_headers = lx_conf_strdup(ctx, LX_CONF_DEFAULT_CORS_HEADERS);
    sv->cors_max_age_s = 600;
}

static void lx_conf_server_keys(lx_conf_ctx *ctx, const config_setting_t *group)
{
    lx_server_conf *sv = &ctx->conf->server;
    long long ll;
    const char *str;

    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *key = config_setting_name(s);

        if (strcmp(key, "listen") == 0) {
            if (lx_conf_get_string(ctx, s, &str) != LX_OK)
                continue;
            if (!lx_conf_is_valid_listen(str))
                lx_conf_err(ctx, s, "expected HOST:PORT or [IPV6]:PORT, port 0-65535 (got '%s')",
                            str);
            else
                lx_conf_set_str(ctx, &sv->listen, str);
        } else if (strcmp(key, "workers") == 0) {
            if (lx_conf_setting_is_bad(s))
                continue;
            if (config_setting_type(s) == CONFIG_TYPE_STRING &&
                strcasecmp(lx_conf_skip_space(config_setting_get_string(s)), "auto") == 0) {
                sv->workers = 0;
                continue;
            }
            if (lx_conf_setting_to(s, LX_CONF_INT, &ll) != LX_OK) {
                lx_conf_err(ctx, s, "expected a number of workers or \"auto\" (got '%s')",
                            lx_conf_setting_text(s));
                continue;
            }
            if (ll < 0 || ll > LX_CONF_MAX_WORKERS) {
                lx_conf_err(ctx, s, "must be between 1 and %d, or 0 or \"auto\" (got %lld)",
                            LX_CONF_MAX_WORKERS, ll);
                continue;
            }
            sv->workers = (int)ll;
        } else if (lx_conf_num(ctx, s, key, lx_conf_server_nums,
                               sizeof(lx_conf_server_nums) / sizeof(lx_conf_server_nums[0]), sv)) {
            continue;
        } else if (strcmp(key, "data_dir") == 0) {
            if (lx_conf_get_string(ctx, s, &str) != LX_OK)
                continue;
            if (str[0] == '\0')
                lx_conf_err(ctx, s, "must not be empty");
            else
                lx_conf_set_str(ctx, &sv->data_dir, str);
        } else if (strcmp(key, "plugin_dir") == 0) {
            /* Empty means the built-in default, so that the shipped config
             * can say "${LEXIAID_PLUGIN_DIR:-}". */
            if (lx_conf_get_string(ctx, s, &str) == LX_OK && str[0] != '\0')
                lx_conf_set_str(ctx, &sv->plugin_dir, str);
        } else if (strcmp(key, "log_level") == 0) {
            static const char *const levels[] = {"error", "warn", "info", "debug"};
            if (lx_conf_get_string(ctx, s, &str) != LX_OK)
                continue;
            int level = -1;
            for (int k = 0; k < 4; k++) {
                if (strcasecmp(str, levels[k]) == 0)
                    level = k;
            }
            if (level < 0)
                lx_conf_err(ctx, s, "expected error, warn, info or debug (got '%s')", str);
            else
                sv->log_level = level; /* LX_LOG_ERROR..LX_LOG_DEBUG are 0..3 */
        } else if (strcmp(key, "log_format") == 0) {
            if (lx_conf_get_string(ctx, s, &str) != LX_OK)
                continue;
            if (strcasecmp(str, "json") == 0)
                sv->log_format = LX_LOG_FORMAT_JSON;
            else if (strcasecmp(str, "text") == 0)
                sv->log_format = LX_LOG_FORMAT_TEXT;
            else
                lx_conf_err(ctx, s, "expected json or text (got '%s')", str);
        } else if (strcmp(key, "cors_origins") == 0) {
            lx_conf_server_cors_origins(ctx, s);
        } else if (strcmp(key, "cors_headers") == 0) {
            if (lx_conf_get_string(ctx, s, &str) == LX_OK)
                lx_conf_set_str(ctx, &sv->cors_headers, str);
        } else if (strcmp(key, "cors_max_age") == 0) {
            lx_conf_server_cors_max_age(ctx, s);
        } else {
            lx_conf_err_unknown(ctx, s);
        }
    }
}

static void lx_conf_server(lx_conf_ctx *ctx, const config_setting_t *group)
{
    lx_server_conf *sv = &ctx->conf->server;

    lx_conf_server_defaults(ctx);
    if (group != NULL && !config_setting_is_group(group))
        lx_conf_err(ctx, group, "expected a group { ... }");
    else if (group != NULL)
        lx_conf_server_keys(ctx, group);
    const config_setting_t *mb = group != NULL && config_setting_is_group(group)
                                     ? config_setting_get_member(group, "max_body")
                                     : NULL;
    if (mb != NULL && sv->max_body > sv->max_body_memory)
        lx_conf_err(ctx, mb,
                    "%zu bytes is more than server.max_body_memory (%zu): such a body could "
                    "never be read",
                    sv->max_body, sv->max_body_memory);
    if (sv->workers == 0) {
        int n_cpus = lx_cpu_count();
        sv->workers = n_cpus > LX_CONF_MAX_WORKERS ? LX_CONF_MAX_WORKERS : n_cpus;
    }
}

static int lx_conf_is_plugin_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++) {
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') && *s != '_')
            return 0;
    }
    return 1;
}

static int lx_conf_is_ident(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return 0;
    }
    return 1;
}

/* "plugin.handler", both parts [A-Za-z0-9_]+. */
static int lx_conf_is_handler_ref(const char *s)
{
    const char *dot = strchr(s, '.');
    if (dot == NULL)
        return 0;
    return lx_conf_is_ident(s, (size_t)(dot - s)) && lx_conf_is_ident(dot + 1, strlen(dot + 1));
}

/* Checks that aggregate s is a list (or an empty array) of groups. */
static int lx_conf_is_list_of_groups(lx_conf_ctx *ctx, const config_setting_t *s)
{
    if (config_setting_type(s) == CONFIG_TYPE_LIST)
        return 1;
    if (config_setting_type(s) == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0)
        return 1;
    lx_conf_err(ctx, s, "expected a list ( { ... }, ... )");
    return 0;
}

/* Parses one group of a list into the array `arr` that lx_conf_groups
 * allocated (the callback counts its entries itself). */
typedef void lx_conf_group_fn(lx_conf_ctx *ctx, void *arr, const config_setting_t *g);

/* Walks `list` (NULL when absent), a list of groups: allocates one zeroed
 * element of elem_size per entry, reports an entry that is not a group with
 * `hint` and skips it, and hands every group to fn. Returns the array (owned
 * by the caller, who stores it in ctx->conf), or NULL when the list is absent,
 * bad or empty, or on out of memory (ctx->is_oom). */
static void *lx_conf_groups(lx_conf_ctx *ctx, const config_setting_t *list, size_t elem_size,
                            const char *hint, lx_conf_group_fn *fn)
{
    if (list == NULL || !lx_conf_is_list_of_groups(ctx, list))
        return NULL;
    int n = config_setting_length(list);
    if (n == 0)
        return NULL;
    void *arr = calloc((size_t)n, elem_size);
    if (arr == NULL) {
        ctx->is_oom = 1;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        if (!config_setting_is_group(g)) {
            lx_conf_err(ctx, g, "%s", hint);
            continue;
        }
        fn(ctx, arr, g);
    }
    return arr;
}

/* One entry of `plugins`, into plugins[conf->n_plugins] (lx_conf_group_fn). */
static void lx_conf_plugin(lx_conf_ctx *ctx, void *arr, const config_setting_t *g)
{
    lx_conf *conf = ctx->conf;
    lx_plugin_conf *plugins = arr;
    lx_plugin_conf *pc = &plugins[conf->n_plugins];
    const config_setting_t *name_s = NULL;
    const char *file = NULL;
    int is_ok = 1;

    memset(pc, 0, sizeof(*pc));
    pc->is_enabled = 1;
    pc->file = lx_conf_setting_file(g);
    pc->line = lx_conf_setting_line(g);

    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *key = config_setting_name(s);
        const char *str;

        if (strcmp(key, "name") == 0) {
            name_s = s;
            if (lx_conf_get_string(ctx, s, &str) != LX_OK) {
                is_ok = 0;
            } else if (!lx_conf_is_plugin_name(str)) {
                lx_conf_err(ctx, s, "plugin names are [a-z0-9_]+ (got '%s')", str);
                is_ok = 0;
            } else {
                pc->name = lx_conf_strdup(ctx, str);
            }
        } else if (strcmp(key, "file") == 0) {
            if (lx_conf_get_string(ctx, s, &str) != LX_OK) {
                is_ok = 0;
            } else if (str[0] == '\0') {
                lx_conf_err(ctx, s, "must not be empty");
                is_ok = 0;
            } else {
                file = str;
            }
        } else if (strcmp(key, "enabled") == 0) {
            if (lx_conf_get_bool(ctx, s, &pc->is_enabled) != LX_OK)
                is_ok = 0;
        } else if (strcmp(key, "config") == 0) {
            if (!config_setting_is_group(s)) {
                lx_conf_err(ctx, s, "expected a group { ... }");
                is_ok = 0;
            } else {
                pc->config = s;
            }
        } else {
            lx_conf_err_unknown(ctx, s);
            is_ok = 0;
        }
    }
    if (name_s == NULL) {
        lx_conf_err(ctx, g, "missing 'name'");
        is_ok = 0;
    }
    if (pc->name != NULL) {
        for (size_t i = 0; i < conf->n_plugins; i++) {
            if (plugins[i].name != NULL && strcmp(plugins[i].name, pc->name) == 0) {
                lx_conf_err(ctx, name_s, "duplicate plugin name '%s' (first at %s:%d)", pc->name,
                            plugins[i].file, plugins[i].line);
                is_ok = 0;
                break;
            }
        }
    }
    if (is_ok && pc->name != NULL) {
        const char *dir = conf->server.plugin_dir;
        int len;
        if (file != NULL && file[0] == '/')
            len = snprintf(NULL, 0, "%s", file);
        else if (file != NULL)
            len = snprintf(NULL, 0, "%s/%s", dir, file);
        else
            len = snprintf(NULL, 0, "%s/%s.so", dir, pc->name);
        pc->path = len >= 0 ? malloc((size_t)len + 1) : NULL;
        if (pc->path == NULL) {
            ctx->is_oom = 1;
        } else if (file != NULL && file[0] == '/') {
            snprintf(pc->path, (size_t)len + 1, "%s", file);
        } else if (file != NULL) {
            snprintf(pc->path, (size_t)len + 1, "%s/%s", dir, file);
        } else {
            snprintf(pc->path, (size_t)len + 1, "%s/%s.so", dir, pc->name);
        }
    }
    /* Keep the entry even when invalid, so that later duplicates of its
     * name are still reported; the conf is discarded anyway. */
    conf->n_plugins++;
}

static void lx_conf_plugins(lx_conf_ctx *ctx, const config_setting_t *list)
{
    ctx->conf->plugins = lx_conf_groups(ctx, list, sizeof(lx_plugin_conf),
                                        "expected a group { name = ...; }", lx_conf_plugin);
}

static void lx_conf_route_before(lx_conf_ctx *ctx, lx_route_conf *rc, const config_setting_t *s)
{
    if (config_setting_type(s) != CONFIG_TYPE_LIST && config_setting_type(s) != CONFIG_TYPE_ARRAY) {
        lx_conf_err(ctx, s, "expected a list of \"plugin.handler\" strings");
        return;
    }
    int n = config_setting_length(s);
    if (n == 0)
        return;
    rc->before = calloc((size_t)n, sizeof(*rc->before));
    if (rc->before == NULL) {
        ctx->is_oom = 1;
        return;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *str;
        if (lx_conf_get_string(ctx, e, &str) != LX_OK)
            continue;
        if (!lx_conf_is_handler_ref(str)) {
            lx_conf_err(ctx, e, "expected \"plugin.handler\" (got '%s')", str);
            continue;
        }
        char *copy = lx_conf_strdup(ctx, str);
        if (copy != NULL)
            rc->before[rc->n_before++] = copy;
    }
}

/* The keys of a WebSocket route (`websocket`, `max_message`, `idle_timeout`,
 * `ping_interval`). Returns 1 when `key` is one of them (parsed into rc;
 * *where remembers the first for the checks of lx_conf_route_ws_check). */
static int lx_conf_route_ws_key(lx_conf_ctx *ctx, lx_route_conf *rc, const char *key,
                                const config_setting_t *s, const config_setting_t **where)
{
    const char *str;

    if (strcmp(key, "websocket") == 0) {
        rc->is_websocket = 1;
        if (lx_conf_get_string(ctx, s, &str) != LX_OK)
            return 1;
        if (!lx_conf_is_handler_ref(str))
            lx_conf_err(ctx, s, "expected \"plugin.handler\" (got '%s')", str);
        else if (rc->handler == NULL)
            lx_conf_set_str(ctx, &rc->handler, str);
        return 1;
    }
    if (!lx_conf_num(ctx, s, key, lx_conf_route_ws_nums,
                     sizeof(lx_conf_route_ws_nums) / sizeof(lx_conf_route_ws_nums[0]), rc))
        return 0;
    if (*where == NULL)
        *where = s;
    return 1;
}

/* What a route may not mix: `handler` with `websocket`, a WebSocket route
 * with a method other than GET or a body limit, WebSocket limits on a plain
 * route. */
static void lx_conf_route_ws_check(lx_conf_ctx *ctx, lx_route_conf *rc, const config_setting_t *g,
                                   int has_handler, const config_setting_t *method_s,
                                   const config_setting_t *max_body_s,
                                   const config_setting_t *ws_key_s)
{
    if (!rc->is_websocket) {
        if (ws_key_s != NULL)
            lx_conf_err(ctx, ws_key_s, "'%s' applies to WebSocket routes only (websocket = ...)",
                        config_setting_name(ws_key_s));
        return;
    }
    if (has_handler)
        lx_conf_err(ctx, g, "a route has either 'handler' or 'websocket', not both");
    if (method_s != NULL && rc->method != NULL && strcmp(rc->method, "GET") != 0)
        lx_conf_err(ctx, method_s, "a WebSocket route's method is GET (got '%s')", rc->method);
    if (max_body_s != NULL)
        lx_conf_err(ctx, max_body_s, "a WebSocket route takes no body: 'max_body' does not apply");
    if (rc->method == NULL && method_s == NULL)
        lx_conf_set_str(ctx, &rc->method, "GET");
    rc->max_body = 0;
}

/* One entry of `routes`, into routes[conf->n_routes] (lx_conf_group_fn). */
static void lx_conf_route(lx_conf_ctx *ctx, void *arr, const config_setting_t *g)
{
    static const char *const methods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                          "PATCH", "DELETE", "OPTIONS"};
    lx_conf *conf = ctx->conf;
    lx_route_conf *routes = arr;
    lx_route_conf *rc = &routes[conf->n_routes++];
    int has_method = 0, has_path = 0, has_handler = 0;
    const config_setting_t *method_s = NULL, *max_body_s = NULL, *ws_key_s = NULL;

    memset(rc, 0, sizeof(*rc));
    rc->max_body = conf->server.max_body;
    rc->timeout_ms = conf->server.request_timeout_ms;
    rc->body_timeout_ms = conf->server.body_timeout_ms;
    rc->ws.max_message = 1u << 20;
    rc->ws.idle_timeout_ms = 5 * 60 * 1000;
    rc->ws.ping_interval_ms = 30 * 1000;
    rc->file = lx_conf_setting_file(g);
    rc->line = lx_conf_setting_line(g);

    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *key = config_setting_name(s);
        const char *str;
        size_t sz;

        if (strcmp(key, "method") == 0) {
            has_method = 1;
            method_s = s;
            if (lx_conf_get_string(ctx, s, &str) != LX_OK)
                continue;
            const char *m = NULL;
            for (size_t k = 0; k < sizeof(methods) / sizeof(methods[0]); k++) {
                if (strcasecmp(str, methods[k]) == 0)
                    m = methods[k];
            }
            if (m == NULL)
                lx_conf_err(ctx, s,
                            "expected GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS "
                            "(got '%s')",
                            str);
            else
                lx_conf_set_str(ctx, &rc->method, m);
        } else if (strcmp(key, "path") == 0) {
            has_path = 1;
            if (lx_conf_get_string(ctx, s, &str) != LX_OK)
                continue;
            int is_clean = 1;
            for (const char *p = str; *p != '\0'; p++) {
                if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
                    is_clean = 0;
            }
            if (str[0] != '/' || !is_clean)
                lx_conf_err(ctx, s,
                            "expected a path starting with '/', without blanks "
                            "(got '%s')",
                            str);
            else
                lx_conf_set_str(ctx, &rc->pattern, str);
        } else if (strcmp(key, "handler") == 0) {
            has_handler = 1;
            if (lx_conf_get_string(ctx, s, &str) != LX_OK)
                continue;
            if (!lx_conf_is_handler_ref(str))
                lx_conf_err(ctx, s, "expected \"plugin.handler\" (got '%s')", str);
            else
                lx_conf_set_str(ctx, &rc->handler, str);
        } else if (strcmp(key, "before") == 0) {
            lx_conf_route_before(ctx, rc, s);
        } else if (strcmp(key, "max_body") == 0) {
            max_body_s = s;
            if (lx_conf_get_size(ctx, s, 0, (size_t)INT64_MAX, &sz) != LX_OK)
                continue;
            if (sz > conf->server.max_body_memory)
                lx_conf_err(ctx, s,
                            "%zu bytes is more than server.max_body_memory (%zu): such a body "
                            "could never be read",
                            sz, conf->server.max_body_memory);
            else
                rc->max_body = sz;
        } else if (lx_conf_num(ctx, s, key, lx_conf_route_nums,
                               sizeof(lx_conf_route_nums) / sizeof(lx_conf_route_nums[0]), rc)) {
            continue;
        } else if (!lx_conf_route_ws_key(ctx, rc, key, s, &ws_key_s)) {
            lx_conf_err_unknown(ctx, s);
        }
    }
    lx_conf_route_ws_check(ctx, rc, g, has_handler, method_s, max_body_s, ws_key_s);
    if (!has_method && !rc->is_websocket)
        lx_conf_err(ctx, g, "missing 'method'");
    if (!has_path)
        lx_conf_err(ctx, g, "missing 'path'");
    if (!has_handler && !rc->is_websocket)
        lx_conf_err(ctx, g, "missing 'handler'");
}

static void lx_conf_routes(lx_conf_ctx *ctx, const config_setting_t *list)
{
    ctx->conf->routes = lx_conf_groups(
        ctx, list, sizeof(lx_route_conf),
        "expected a group { method = ...; path = ...; handler = ...; }", lx_conf_route);
}

static void lx_conf_validate(lx_conf_ctx *ctx)
{
    config_setting_t *root = config_root_setting(&ctx->conf->cfg);
    const config_setting_t *server = NULL, *plugins = NULL, *routes = NULL;

    int n = config_setting_length(root);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *key = config_setting_name(s);
        if (strcmp(key, "server") == 0)
            server = s;
        else if (strcmp(key, "plugins") == 0)
            plugins = s;
        else if (strcmp(key, "routes") == 0)
            routes = s;
        else
            lx_conf_err_unknown(ctx, s);
    }
    /* server first: plugin paths and route defaults depend on it. */
    lx_conf_server(ctx, server);
    lx_conf_plugins(ctx, plugins);
    lx_conf_routes(ctx, routes);
}

/* The .env to read: $LEXIAID_ENV_FILE, else ".env" in the directory of
 * `path` (the current directory when path is NULL). Malloc'd. */
static char *lx_conf_env_path(const char *path)
{
    const char *forced = getenv("LEXIAID_ENV_FILE");
    if (forced != NULL && forced[0] != '\0')
        return strdup(forced);
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;
    if (slash == NULL)
        return strdup(".env");
    size_t dir_len = (size_t)(slash - path) + 1;
    char *res = malloc(dir_len + sizeof(".env"));
    if (res == NULL)
        return NULL;
    memcpy(res, path, dir_len);
    memcpy(res + dir_len, ".env", sizeof(".env"));
    return res;
}

/* Shared tail of lx_conf_load and lx_conf_load_string once libconfig has
 * read the text: .env, interpolation, validation. */
static int lx_conf_finish(lx_conf *conf, const char *path, lx_errs *errs)
{
    lx_conf_ctx ctx = {.conf = conf, .errs = errs};
    char err[512];
    char *env_path;
    int rc;

    lx_conf_hook *root_hook = lx_conf_hook_get(config_root_setting(&conf->cfg));
    if (root_hook == NULL || (root_hook->text = strdup(conf->file)) == NULL)
        goto oom;

    env_path = lx_conf_env_path(path);
    if (env_path == NULL)
        goto oom;
    err[0] = '\0';
    rc = lx_env_load(env_path, &conf->env, err, sizeof(err));
    free(env_path);
    if (rc == LX_ENOMEM)
        goto oom;
    if (rc != LX_OK && rc != LX_ENOENT) {
        /* err is "PATH:line N: message" or "PATH: reason". */
        lx_errs_add(errs, "%s", err);
        return LX_EINVAL;
    }

    lx_conf_walk(&ctx, config_root_setting(&conf->cfg));
    if (ctx.is_oom)
        goto oom;
    lx_conf_validate(&ctx);
    if (ctx.is_oom)
        goto oom;
    return ctx.n_errs > 0 ? LX_EINVAL : LX_OK;

oom:
    lx_errs_add(errs, "%s: out of memory", conf->file);
    return LX_ENOMEM;
}

static lx_conf *lx_conf_new(const char *name)
{
    lx_conf *conf = calloc(1, sizeof(*conf));
    if (conf == NULL)
        return NULL;
    config_init(&conf->cfg);
    config_set_destructor(&conf->cfg, lx_conf_hook_free);
    conf->file = strdup(name);
    if (conf->file == NULL) {
        lx_conf_free(conf);
        return NULL;
    }
    return conf;
}

/* libconfig's message for a file it could not parse. */
static void lx_conf_syntax_error(lx_conf *conf, lx_errs *errs)
{
    const char *file = config_error_file(&conf->cfg);
    const char *text = config_error_text(&conf->cfg);
    lx_errs_add(errs, "%s:%d: %s", file != NULL ? file : conf->file, config_error_line(&conf->cfg),
                text != NULL ? text : "syntax error");
}

/* Frees what a plugin entry owns (not the entry itself). */
static void lx_plugin_conf_clear(lx_plugin_conf *pc)
{
    free(pc->name);
    free(pc->path);
}

/* Frees what a route entry owns (not the entry itself). */
static void lx_route_conf_clear(lx_route_conf *rc)
{
    free(rc->method);
    free(rc->pattern);
    free(rc->handler);
    for (size_t b = 0; b < rc->n_before; b++)
        free(rc->before[b]);
    free(rc->before);
}

/* Leaves out the plugin and route entries that failed validation, so that
 * a configuration with errors can still be checked further (lexiaid -t). */
static void lx_conf_compact(lx_conf *conf)
{
    size_t k = 0;
    for (size_t i = 0; i < conf->n_plugins; i++) {
        lx_plugin_conf *pc = &conf->plugins[i];
        if (pc->name != NULL && pc->path != NULL)
            conf->plugins[k++] = *pc;
        else
            lx_plugin_conf_clear(pc);
    }
    conf->n_plugins = k;
    k = 0;
    for (size_t i = 0; i < conf->n_routes; i++) {
        lx_route_conf *rc = &conf->routes[i];
        int is_ok = rc->method != NULL && rc->pattern != NULL && rc->handler != NULL;
        for (size_t b = 0; b < rc->n_before; b++)
            if (rc->before[b] == NULL)
                is_ok = 0;
        if (is_ok)
            conf->routes[k++] = *rc;
        else
            lx_route_conf_clear(rc);
    }
    conf->n_routes = k;
}

/* Shared end of lx_conf_load_file and lx_conf_load_text once the text is
 * read: validates conf (lx_conf_finish) and hands it to *out on success, or
 * on LX_EINVAL when keep_partial (compacted, for lexiaid -t); frees it
 * otherwise. Returns lx_conf_finish's status. */
static int lx_conf_settle(lx_conf *conf, const char *path, lx_conf **out, lx_errs *errs,
                          int keep_partial)
{
    int rc = lx_conf_finish(conf, path, errs);
    if (rc != LX_OK && !(rc == LX_EINVAL && keep_partial)) {
        lx_conf_free(conf);
        return rc;
    }
    if (rc == LX_EINVAL)
        lx_conf_compact(conf);
    *out = conf;
    return rc;
}

static int lx_conf_load_file(const char *path, lx_conf **out, lx_errs *errs, int keep_partial);
static int lx_conf_load_text(const char *text, const char *name, lx_conf **out, lx_errs *errs,
                             int keep_partial);

int lx_conf_load(const char *path, lx_conf **out, lx_errs *errs)
{
    return lx_conf_load_file(path, out, errs, 0);
}

int lx_conf_load_string(const char *text, const char *name, lx_conf **out, lx_errs *errs)
{
    return lx_conf_load_text(text, name, out, errs, 0);
}

int lx_conf_check(const char *path, const char *text, lx_conf **out, lx_errs *errs)
{
    return path != NULL ? lx_conf_load_file(path, out, errs, 1)
                        : lx_conf_load_text(text, "<embedded>", out, errs, 1);
}

static int lx_conf_load_file(const char *path, lx_conf **out, lx_errs *errs, int keep_partial)
{
    *out = NULL;
    /* libconfig says only "file I/O error": look at the file first to
     * say why. */
    struct stat st;
    if (stat(path, &st) != 0) {
        int saved = errno;
        lx_errs_add(errs, "%s: %s", path, strerror(saved));
        return saved == ENOENT ? LX_ENOENT : LX_EINVAL;
    }
    if (!S_ISREG(st.st_mode)) {
        lx_errs_add(errs, "%s: not a regular file", path);
        return LX_EINVAL;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        lx_errs_add(errs, "%s: %s", path, strerror(errno));
        return LX_EINVAL;
    }
    fclose(f);

    lx_conf *conf = lx_conf_new(path);
    if (conf == NULL) {
        lx_errs_add(errs, "%s: out of memory", path);
        return LX_ENOMEM;
    }
    if (config_read_file(&conf->cfg, path) != CONFIG_TRUE) {
        if (config_error_type(&conf->cfg) == CONFIG_ERR_FILE_IO)
            lx_errs_add(errs, "%s: cannot read the file", path);
        else
            lx_conf_syntax_error(conf, errs);
        lx_conf_free(conf);
        return LX_EINVAL;
    }
    return lx_conf_settle(conf, path, out, errs, keep_partial);
}

static int lx_conf_load_text(const char *text, const char *name, lx_conf **out, lx_errs *errs,
                             int keep_partial)
{
    *out = NULL;
    if (name == NULL)
        name = "<embedded>";
    lx_conf *conf = lx_conf_new(name);
    if (conf == NULL) {
        lx_errs_add(errs, "%s: out of memory", name);
        return LX_ENOMEM;
    }
    if (config_read_string(&conf->cfg, text) != CONFIG_TRUE) {
        lx_conf_syntax_error(conf, errs);
        lx_conf_free(conf);
        return LX_EINVAL;
    }
    return lx_conf_settle(conf, NULL, out, errs, keep_partial);
}

void lx_conf_free(lx_conf *conf)
{
    if (conf == NULL)
        return;
    lx_server_conf *sv = &conf->server;
    free(sv->listen);
    free(sv->data_dir);
    free(sv->plugin_dir);
    for (size_t i = 0; i < sv->n_cors_origins; i++)
        free(sv->cors_origins[i]);
    free(sv->cors_origins);
    free(sv->cors_headers);
    for (size_t i = 0; i < conf->n_plugins; i++)
        lx_plugin_conf_clear(&conf->plugins[i]);
    free(conf->plugins);
    for (size_t i = 0; i < conf->n_routes; i++)
        lx_route_conf_clear(&conf->routes[i]);
    free(conf->routes);
    lx_env_free(conf->env);
    config_destroy(&conf->cfg);
    free(conf->file);
    free(conf);
}
