/*
 * The configuration file: reading, ${VAR} interpolation, validation, and the
 * typed accessors behind the host API's cfg_* functions.
 *
 * The file is libconfig syntax with three top-level parts, `server`,
 * `plugins` and `routes` (see etc/lexiaid.conf). Every string value may use
 * ${VAR} and ${VAR:-default}; values come from the real environment, then
 * from a `.env` file beside the config (or $LEXIAID_ENV_FILE). Every error
 * is reported as "FILE:LINE: message", all of them, not just the first.
 */
#ifndef LX_CORE_CONF_H
#define LX_CORE_CONF_H

#include <stddef.h>
#include <libconfig.h>

#include <lexiaid/plugin.h>
#include "env.h"
#include "errs.h"

enum { LX_LOG_FORMAT_JSON = 0, LX_LOG_FORMAT_TEXT = 1 };

/* A WebSocket route's limits (see include/lexiaid/plugin.h). */
typedef struct lx_ws_limits {
    size_t max_message;         /* bytes; default 1M */
    long long idle_timeout_ms;  /* no message either way: close 1001; default 5m; 0 = never */
    long long ping_interval_ms; /* ping a quiet peer, drop it one interval later; default 30s;
                                   0 = never */
} lx_ws_limits;

typedef struct lx_route_conf {
    char *method;          /* upper case: GET HEAD POST PUT PATCH DELETE OPTIONS */
    char *pattern;         /* "/api/documents/{id}" */
    char *handler;         /* "plugin.handler" (the `websocket` key's, on a WebSocket route) */
    int is_websocket;      /* written `websocket = "plugin.handler"` */
    lx_ws_limits ws;       /* max_message, idle_timeout, ping_interval */
    char **before;         /* middleware, "plugin.handler" each */
    size_t n_before;
    size_t max_body;       /* bytes; server.max_body when not set */
    long long timeout_ms;  /* server.request_timeout when not set */
    long long body_timeout_ms; /* server.body_timeout when not set */
    const char *file;      /* where the route was written */
    int line;
} lx_route_conf;

typedef struct lx_plugin_conf {
    char *name;
    char *path;            /* resolved: absolute, or plugin_dir/file, or plugin_dir/NAME.so */
    int is_enabled;
    config_setting_t *config; /* the plugin's `config` group, NULL if absent */
    const char *file;
    int line;
} lx_plugin_conf;

typedef struct lx_server_conf {
    char *listen;               /* "HOST:PORT" or "[V6]:PORT"; default "0.0.0.0:5000" */
    int workers;                /* resolved; "auto" or 0 = lx_cpu_count() */
    int backlog;                /* default 511 */
    int max_connections;        /* per worker; default 4096 */
    int max_websockets;         /* open WebSocket sessions per worker; default 1024 */
    size_t max_body;            /* default 1M */
    size_t max_header;          /* default 16K (request line + headers) */
    long long request_timeout_ms; /* default 30000; 504 after */
    long long idle_timeout_ms;  /* keep-alive and slow clients; default 60000 */
    long long shutdown_grace_ms;/* default 10000 */
    long long header_timeout_ms;/* a head, from accept or its first byte; default 10000 */
    long long body_timeout_ms;  /* a body, plus a second per body_min_rate; default 30000 */
    size_t body_min_rate;       /* bytes that earn a body one more second; default 4K */
    size_t max_body_memory;     /* request bodies a worker holds at once; default 64M */
    size_t max_unsent;          /* input a connection holds unprocessed; default 256K */
    size_t multipart_allowance; /* max_body + this for multipart/form-data; default 64K */
    int offload_threads;        /* per worker: the host->offload pool; default 4 */
    char *data_dir;             /* default "./data" */
    char *plugin_dir;           /* default the installed plugin directory */
    int log_level;              /* LX_LOG_*; default info */
    int log_format;             /* LX_LOG_FORMAT_*; default json */
    char **cors_origins;        /* exact origins, or "*"; empty = CORS off */
    size_t n_cors_origins;
    char *cors_headers;         /* allowed request headers, comma separated */
    long long cors_max_age_s;   /* default 600 */
} lx_server_conf;

typedef struct lx_conf {
    char *file;                 /* the path read (or "<embedded>") */
    config_t cfg;               /* owns the tree; plugin groups point into it */
    lx_env *env;                /* the .env values, may be NULL */
    lx_server_conf server;
    lx_plugin_conf *plugins;
    size_t n_plugins;
    lx_route_conf *routes;
    size_t n_routes;
} lx_conf;

/* Reads, interpolates and validates `path`. Returns LX_OK and a new conf in
 * *out, or LX_EINVAL (or LX_ENOENT, LX_ENOMEM) with every problem appended
 * to errs as "FILE:LINE: message". Checks: syntax, unknown keys at every
 * level the core owns, types and ranges, required route fields, methods,
 * patterns start with '/', handler names of the form plugin.handler,
 * duplicate plugin names. (Handler existence and duplicate routes are
 * checked later, by the loader and the router.) */
int lx_conf_load(const char *path, lx_conf **out, lx_errs *errs);

/* The same from a string; `name` stands for the file in messages, and the
 * .env file is looked for in the current directory. */
int lx_conf_load_string(const char *text, const char *name, lx_conf **out, lx_errs *errs);

/* For `lexiaid -t`: as lx_conf_load (path) or lx_conf_load_string (text,
 * when path is NULL), except that when the file parsed and only validation
 * failed, it returns LX_EINVAL with *out still set to the configuration
 * minus its invalid plugin and route entries, so that the caller can go on
 * and report the plugin and route problems too. The caller frees *out. */
int lx_conf_check(const char *path, const char *text, lx_conf **out, lx_errs *errs);

void lx_conf_free(lx_conf *conf);

/* CPUs this process may use: the affinity mask, lowered by a cgroup v2
 * (cpu.max) or v1 (cfs_quota_us/cfs_period_us) quota, rounded up, >= 1. */
int lx_cpu_count(void);

/* Parsers shared with the host API (pure; exposed for the unit tests). */
int lx_conf_parse_size(const char *s, size_t *out);         /* "64K", "25M", "1G", "123" */
int lx_conf_parse_ms(const char *s, long long *out);        /* "250ms","30s","5m","1h","100" */
int lx_conf_parse_bool(const char *s, int *out);            /* true/false/yes/no/on/off/1/0 */

/* The host API's cfg_* functions over a config_setting_t (lx_cfg is a
 * config_setting_t underneath). Contracts as in include/lexiaid/plugin.h. */
int lx_cfg_string(const lx_cfg *cfg, const char *key, const char **out, char *err, size_t errlen);
int lx_cfg_int(const lx_cfg *cfg, const char *key, long long *out, char *err, size_t errlen);
int lx_cfg_bool(const lx_cfg *cfg, const char *key, int *out, char *err, size_t errlen);
int lx_cfg_size(const lx_cfg *cfg, const char *key, size_t *out, char *err, size_t errlen);
int lx_cfg_ms(const lx_cfg *cfg, const char *key, long long *out, char *err, size_t errlen);
const lx_cfg *lx_cfg_child(const lx_cfg *cfg, const char *key);
int lx_cfg_count(const lx_cfg *cfg);
const lx_cfg *lx_cfg_elem(const lx_cfg *cfg, int i);
const char *lx_cfg_value(const lx_cfg *cfg);
int lx_cfg_check_keys(const lx_cfg *cfg, const char *const *allowed, char *err, size_t errlen);
void lx_cfg_where(const lx_cfg *cfg, char *buf, size_t buflen);

#endif
