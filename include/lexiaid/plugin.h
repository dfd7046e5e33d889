/*
 * lexiaid plugin SDK: the only header a plugin needs.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * lx_plugin_entry(), returning a pointer to a constant lx_plugin descriptor.
 * The core dlopen()s it with RTLD_NOW|RTLD_LOCAL, checks the ABI, calls
 * init() once per generation in the master process, forks the workers, and
 * then calls worker_start() in each worker. Handlers named in the config's
 * dispatch table ("routes") run on the worker's event loop and must never
 * block: slow work goes through host->offload(), outbound HTTP through
 * host->http_fetch().
 *
 * A plugin never links against core symbols: it reaches the core only
 * through the lx_host table handed to init(), and other plugins only through
 * named, versioned services (host->svc_register / host->svc_lookup).
 *
 * State and generations. The core never dlclose()s a plugin. On SIGHUP it
 * builds a new generation from the configuration: the same .so, so the
 * same statics, gets init() again while the old generation's workers still
 * serve; the old generation's shutdown() runs later in the master, when
 * its last worker has gone, and workers forked after that (a restart after
 * a crash or a kill) inherit the master's memory as it is then. A static
 * is therefore shared by every generation of the process. Keep what init()
 * makes in *state (allocated by init(), freed by shutdown()); per-worker
 * things in *state too (each worker has its own copy after fork()) or in a
 * struct that worker_start() allocates and worker_stop() frees, pointed to
 * from *state. Only what is the same for every generation and never freed
 * may be static: constant tables, the lx_host pointer.
 *
 * Versioning: one rule, the ABI version (as Apache's MMN). core/loader.c
 * checks exactly this when it loads a plugin, and refuses a plugin that
 * breaks it with a message naming the file and both versions.
 *   LX_ABI_MAJOR  changes on any incompatible change. A plugin of another
 *                 major is refused.
 *   LX_ABI_MINOR  grows when lx_host, lx_plugin or another structure the
 *                 core and plugins share gains members at its end, or a
 *                 flag gains a meaning (1.2: LX_H_HEAD_ONLY); every
 *                 member added after 1.0 says "Since 1.N". A plugin declares
 *                 the minor it was built for in its descriptor
 *                 (LX_PLUGIN_HEADER: this header's); a plugin declaring a
 *                 newer minor than the core's is refused.
 * What follows from it:
 *   - A loaded plugin may use every member of its declared minor without a
 *     test: the core is at least as new. Only a plugin that declares an
 *     older minor than its header's, to load on older cores, tests
 *     LX_HOST_HAS_MINOR(host, N) before it uses a member of 1.N.
 *   - The core reads the members of lx_plugin that the plugin's declared
 *     minor has, and no others. lx_plugin.struct_size must be at least
 *     lx_plugin's size in that minor (a shorter descriptor was built with a
 *     header that does not match its version: refused).
 *   - A structure that a plugin hands the core on a call (lx_http_request)
 *     carries struct_size = sizeof as the plugin was built, because there
 *     the core cannot tell which plugin calls: it reads the members that
 *     struct_size covers and takes the others as zero.
 *   - Structures handed over in arrays are frozen: whoever reads the array
 *     steps through it with its own sizeof, so a member added at the end
 *     would shift every element after the first. They are lx_handler,
 *     lx_command and lx_health_item here, and storage.v1's passages,
 *     records and batch ops. A new field comes in a new structure, reached
 *     through a new member (a minor) or a new service version.
 * Services between plugins ("storage.v1") are versioned by their name;
 * their tables grow at their end and carry struct_size, because the
 * provider may be an older plugin than the consumer (see each svc header).
 *
 * Memory and ownership are stated at every function. The shorthand:
 *   "borrowed"  valid for as long as stated, owned by the core, never freed
 *               by the plugin;
 *   LX_STATIC   the caller promises the buffer outlives the use;
 *   LX_TRANSIENT the core copies the buffer before the call returns;
 *   a function  the core takes ownership and calls it exactly once.
 */
#ifndef LEXIAID_PLUGIN_H
#define LEXIAID_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LX_ABI_MAJOR 1
#define LX_ABI_MINOR 4

#if defined(__GNUC__) || defined(__clang__)
#define LX_EXPORT __attribute__((visibility("default")))
#define LX_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LX_EXPORT
#define LX_PRINTF(fmt, args)
#endif

/* Status codes: 0 is success, failures are negative. */
enum {
    LX_OK = 0,
    LX_ERROR = -1,      /* unspecified failure; a message says more */
    LX_ENOMEM = -2,     /* out of memory */
    LX_EINVAL = -3,     /* bad argument or value */
    LX_ENOENT = -4,     /* no such thing (absent key, unknown name) */
    LX_EEXIST = -5,     /* already there (duplicate name, route) */
    LX_ESTATE = -6,     /* wrong moment (request already answered, ...) */
    LX_EGONE = -7,      /* the client went away; the reply was discarded */
    LX_ETIMEDOUT = -8,  /* a deadline passed */
    LX_EIO = -9,        /* I/O or network failure */
    LX_ECANCELED = -10, /* the operation was cancelled */
    LX_ETOOBIG = -11,   /* over a size limit */
};

/* What a handler tells the core when it returns. */
typedef enum lx_rc {
    LX_FAIL = -1, /* failed without replying: the core answers 500 INTERNAL */
    LX_DONE = 0,  /* a reply was sent (or the request was ended) */
    LX_NEXT = 1,  /* middleware only: go on to the next handler */
    LX_ASYNC = 2, /* will answer later: see "Asynchronous completion" */
} lx_rc;

enum { LX_LOG_ERROR = 0, LX_LOG_WARN = 1, LX_LOG_INFO = 2, LX_LOG_DEBUG = 3 };

typedef void (*lx_free_fn)(void *p);
/* Ownership markers for buffers handed to the core (see the header comment). */
#define LX_STATIC ((lx_free_fn)0)
#define LX_TRANSIENT ((lx_free_fn)(intptr_t)-1)

typedef struct lx_req lx_req;       /* one HTTP request; opaque */
typedef struct lx_worker lx_worker; /* one worker process's event loop; opaque */
typedef struct lx_cfg lx_cfg;       /* a node of the configuration tree; opaque */
typedef struct lx_timer lx_timer;   /* a timer on a worker loop; opaque */
typedef struct lx_http_call lx_http_call; /* an outbound HTTP call in flight */
typedef struct lx_ws lx_ws;               /* one WebSocket session (since 1.3); opaque */
typedef struct lx_watch lx_watch;         /* a descriptor watched on a worker loop (1.4) */
typedef struct lx_host lx_host;

/* ------------------------------------------------------------------------ */
/* Handlers                                                                 */

/* A handler runs on a worker's loop. `state` is what the plugin's init()
 * stored. It returns LX_DONE after replying, LX_NEXT (middleware only) to
 * let the next handler run, LX_ASYNC to answer later, or LX_FAIL. */
typedef lx_rc (*lx_handler_fn)(lx_req *req, void *state);

#define LX_H_MIDDLEWARE 0x1u /* may be listed in a route's `before` */
#define LX_H_ENDPOINT 0x2u   /* may be a route's `handler` (the default when
                                flags is 0) */
/* Since 1.2: middleware that looks only at the request's head (method, path,
 * params, query, headers, peer), so the core runs it before it reads the
 * body, as nginx runs its access checks before a handler asks for the body.
 * The core reads a body only when the first step without this flag is
 * reached; a head-only step that answers (401, 403, ...) refuses the request
 * without its body ever being read (the connection is then closed). In a
 * head-only step req_body() returns "" (length 0). It may return LX_ASYNC:
 * the body stays unread, in the client's socket, until it resumes.
 * Meaningful on middleware only. A plugin that declares an older minor, to
 * load on older cores, may set it all the same: a 1.1 core ignores it and
 * reads the body first, as it always did. */
#define LX_H_HEAD_ONLY 0x4u
/* Since 1.3: may be a route's `websocket` (see "WebSocket sessions" below). */
#define LX_H_WEBSOCKET 0x8u

/* Frozen: read as an array (see "Versioning"). */
typedef struct lx_handler {
    const char *name;  /* "require_user": routes say "plugin.name" */
    lx_handler_fn fn;
    unsigned flags;    /* LX_H_* */
} lx_handler;

/* Health: the plugin reports exactly once per call, now or later, on the
 * same worker loop. `detail` is copied (may be NULL). */
typedef void (*lx_health_report_fn)(void *token, int is_ok, const char *detail);

#define LX_PLUGIN_USES_HTTP_CLIENT 0x1u /* preload the HTTP client at start */

/* Since 1.1: a command of the `lexiaid` program, as `lexiaid NAME ARGS...`
 * (e.g. `lexiaid backup DEST`). The core loads the configuration and runs
 * every enabled plugin's init() as it does before serving, but opens no
 * socket and forks no worker; it then calls run() of the plugin that
 * offers NAME, calls every shutdown(), and exits with run()'s result.
 * run() may block (there is no event loop) and may use only the host's
 * logging, configuration and memory functions. argv[0] is NAME; argv is
 * borrowed for the call. Return 0 on success, or 1 with a message in err
 * (printed as "lexiaid NAME: message"), or 2 for a usage error.
 * Frozen: read as an array (see "Versioning"). */
typedef struct lx_command {
    const char *name;  /* [a-z][a-z0-9-]*, unique across plugins */
    const char *usage; /* one line for `lexiaid -h`: "backup DEST  copy ..." */
    int (*run)(void *state, int argc, char **argv, char *err, size_t errlen);
} lx_command;

/* The descriptor a plugin exports. Fill it with designated initialisers
 * and LX_PLUGIN_HEADER so that members added later stay zero. */
typedef struct lx_plugin {
    uint32_t abi_major;   /* LX_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;   /* the minor it declares: LX_ABI_MINOR, or older */
    uint32_t struct_size; /* sizeof(lx_plugin) the plugin was built with */
    uint32_t flags;       /* LX_PLUGIN_* */
    const char *name;     /* unique; must equal the config's plugin name */
    const char *version;  /* the plugin's own version, free form */
    const char *description;

    /* Handlers, terminated by an entry whose name is NULL. Mandatory (may
     * be empty when the plugin only provides a service). */
    const lx_handler *handlers;

    /* Service names ("storage.v1") this plugin registers in init() and
     * needs from others before its init() runs. NULL-terminated, or NULL.
     * The core starts plugins in dependency order and refuses a cycle or a
     * requirement nobody provides. */
    const char *const *provides;
    const char *const *requires;

    /* Mandatory. Runs once per generation in the master, before the fork,
     * single-threaded: start no threads here. At start, and again on every
     * SIGHUP while the previous generation may still serve (see "State and
     * generations" above). `host` stays valid for the life of the process;
     * `cfg` is the plugin's `config` group (possibly empty) and stays valid
     * until shutdown(). Allocate what handlers need and store it in *state,
     * never in a static. Return LX_OK, or a negative code with a message in
     * err (the core refuses to start and prints it). */
    int (*init)(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                size_t errlen);

    /* Optional. Runs in each worker after the fork, before it serves (and
     * again in a worker restarted after a crash). Failure stops that worker
     * (the master restarts it with backoff). Per-worker state goes in
     * `state` (this worker's own copy) or in a struct allocated here. */
    int (*worker_start)(void *state, lx_worker *w, char *err, size_t errlen);

    /* Optional. Runs in each worker after its last request ended. */
    void (*worker_stop)(void *state, lx_worker *w);

    /* Optional. Runs once per generation in the master when the
     * generation's last worker has gone: at exit, or after a reload once
     * the old generation has drained (the new one's state is then in use:
     * free only your own *state). Also after a command. */
    void (*shutdown)(void *state);

    /* Optional. Asked by GET /ready on a worker loop; call report exactly
     * once (the core gives up after its own timeout and ignores a late
     * report). */
    void (*health)(void *state, lx_worker *w, lx_health_report_fn report, void *token);

    /* Since 1.1. Commands, terminated by an entry whose name is NULL; or
     * NULL. Read only from a plugin that declares minor 1 or later. */
    const lx_command *commands;
} lx_plugin;

#define LX_PLUGIN_HEADER                                                                   \
    .abi_major = LX_ABI_MAJOR, .abi_minor = LX_ABI_MINOR, .struct_size = sizeof(lx_plugin)

/* The one symbol a plugin exports. */
typedef const lx_plugin *(*lx_plugin_entry_fn)(void);
#define LX_PLUGIN_ENTRY_SYMBOL "lx_plugin_entry"
LX_EXPORT const lx_plugin *lx_plugin_entry(void);

/* ------------------------------------------------------------------------ */
/* WebSocket sessions (since 1.3)                                           */
/*
 * A route written `websocket = "plugin.name"` (instead of `handler`) takes
 * RFC 6455 WebSocket sessions on the server's own port. The core checks
 * the handshake first (JSON 400, 426 for a version other than 13, 403 for
 * an Origin that server.cors_origins does not allow and that is not the
 * server's own, 503 when the worker holds max_websockets sessions), then
 * runs the route's `before` middleware, then the handler named by
 * `websocket` (flag LX_H_WEBSOCKET), an ordinary lx_handler_fn: it is the
 * session's "open". It reads the request as any handler does (headers,
 * query, params, the context values middleware set, such as the auth
 * plugin's principal) and then either
 *   - accepts: host->ws_accept(req, &my_ws_handler, my_session, &ws), then
 *     returns LX_DONE; from then on the core calls my_ws_handler's
 *     callbacks with my_session;
 *   - refuses with an HTTP error before the upgrade (host->reply_error), or
 *     with a close code after it (host->ws_reject): browsers see close
 *     codes, not HTTP statuses;
 *   - or returns LX_ASYNC and does one of those later, as any handler.
 * The request ends at ws_accept/ws_reject like at a reply: copy from it
 * what the session needs (the user's id, say) before; `req` must not be
 * used after.
 *
 * The session runs on the worker loop that accepted it. Frames, masking,
 * fragmentation, ping/pong, UTF-8 of text and the close handshake are the
 * core's; a plugin sees whole messages of at most the route's max_message
 * bytes (a bigger one closes the session with 1009). The core pings a
 * quiet peer every ping_interval and drops one that does not answer, and
 * closes a session without messages either way for idle_timeout with 1001.
 * At SIGTERM or SIGHUP every session of the old worker gets 1001 ("going
 * away") after the messages already queued; the worker exits when they are
 * closed, at most shutdown_grace later.
 */

enum { LX_WS_TEXT = 1, LX_WS_BINARY = 2 }; /* message types */

/* Close codes (RFC 6455 §7.4.1). Applications may use 4000-4999. */
enum {
    LX_WS_NORMAL = 1000,         /* done */
    LX_WS_GOING_AWAY = 1001,     /* server stopping, idle timeout, page left */
    LX_WS_PROTOCOL_ERROR = 1002, /* bad frame (e.g. unmasked from a client) */
    LX_WS_UNSUPPORTED = 1003,    /* a message type the endpoint cannot take */
    LX_WS_NO_STATUS = 1005,      /* the peer's close frame had no code */
    LX_WS_ABNORMAL = 1006,       /* the connection ended without a close frame */
    LX_WS_INVALID_DATA = 1007,   /* text that is not UTF-8 */
    LX_WS_POLICY = 1008,         /* refused for a reason of policy */
    LX_WS_TOO_BIG = 1009,        /* a message over max_message */
    LX_WS_INTERNAL = 1011,       /* the server failed */
};

/* The callbacks of a session, given to ws_accept, which copies the members
 * struct_size covers (a static const table is usual). Every callback runs
 * on the session's worker loop, never inside a host->ws_* call. */
typedef struct lx_ws_handler {
    uint32_t struct_size; /* sizeof(lx_ws_handler): set it */

    /* Mandatory. One whole message; `data` is borrowed for the call (copy
     * what you keep). type is LX_WS_TEXT (valid UTF-8, not NUL-terminated)
     * or LX_WS_BINARY. Return LX_DONE for the next message; LX_ASYNC to
     * hold the session (hand the work to host->offload or http_fetch and
     * call ws_resume when it is done: until then no callback of this
     * session runs, nothing more is read from the peer, and the session
     * stays valid even if the peer goes away; messages it had already sent
     * are delivered after, in order, then on_close); LX_FAIL to end the
     * session with 1011. */
    lx_rc (*on_message)(lx_ws *ws, int type, const void *data, size_t len, void *arg);

    /* Mandatory. Runs exactly once, last: the session is gone when it
     * returns (free `arg` here). `code` is the peer's close code (1005 when
     * its close frame had none); when the peer sent none, the code the core
     * closed with (1001 at shutdown or idle timeout, 1002, 1007 or 1009 for
     * a bad frame, 1011 after LX_FAIL), or 1006 when the connection simply
     * ended (the peer vanished, no answer to a ping). `reason` is the
     * peer's reason, borrowed for the call, "" when none. A held session
     * gets it only after ws_resume. */
    void (*on_close)(lx_ws *ws, int code, const char *reason, void *arg);

    /* Optional. Runs when everything queued with ws_send has been written
     * to the socket (ws_queued fell to 0): the moment for a producer to
     * send more. */
    void (*on_drain)(lx_ws *ws, void *arg);
} lx_ws_handler;

/* ------------------------------------------------------------------------ */
/* Outbound HTTP (libcurl's multi interface on the worker loop)             */

typedef struct lx_http_request {
    uint32_t struct_size;       /* sizeof(lx_http_request): set it; members
                                   beyond it are taken as zero */
    const char *method;         /* NULL means GET */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* "Name: value" strings, NULL-terminated, or NULL */
    const void *body;           /* copied by the core before http_fetch returns */
    size_t body_len;
    long timeout_ms;            /* whole call; 0 means 30000 */
    long connect_timeout_ms;    /* 0 means 10000 */
    size_t max_response;        /* body cap; 0 means 8 MiB; over it: LX_ETOOBIG */
    /* Optional streaming: when set, body bytes are handed here as they
     * arrive (borrowed for the call) and the final response has no body. */
    void (*on_data)(const char *data, size_t len, void *arg);
} lx_http_request;

typedef struct lx_http_response {
    int status;          /* HTTP status, or 0 when err != LX_OK */
    int err;             /* LX_OK, LX_ETIMEDOUT, LX_EIO, LX_ETOOBIG, LX_ECANCELED */
    const char *errmsg;  /* borrowed; "" when err == LX_OK */
    const char *body;    /* borrowed, NUL-terminated, valid during the callback */
    size_t body_len;
    double total_ms;     /* time from the call to completion */
} lx_http_response;

/* Called exactly once on the worker loop that made the call, unless the
 * call was cancelled with http_cancel. `res` is borrowed for the call. */
typedef void (*lx_http_done_fn)(const lx_http_response *res, void *arg);

/* ------------------------------------------------------------------------ */
/* /ready report                                                            */

/* Frozen: handed over as an array (see "Versioning"). */
typedef struct lx_health_item {
    const char *plugin; /* borrowed */
    int is_ok;
    const char *detail; /* borrowed; may be "" */
} lx_health_item;

typedef struct lx_health_report {
    int all_ok;
    size_t n_items;
    const lx_health_item *items; /* borrowed for the callback */
} lx_health_report;

/* ------------------------------------------------------------------------ */
/* The host API                                                             */

/* Handed to init(); constant and valid for the life of the process. It only
 * ever grows at its end. Every function may be called only on the thread
 * that runs the worker loop (or in the master during init), except where
 * stated. */
struct lx_host {
    uint32_t abi_major;   /* the core's LX_ABI_MAJOR */
    uint32_t abi_minor;   /* the core's LX_ABI_MINOR: see LX_HOST_HAS_MINOR */
    uint32_t struct_size; /* sizeof(lx_host) in the core; informative, the
                             minor is the test */

    /* -- Logging ---------------------------------------------------------
     * One line per call, JSON or text as configured. `src` names the
     * plugin; `req` (may be NULL) adds the request id. Never log secrets.
     * Both may be called from any thread: from an offload job's work pass
     * req = NULL (copy the request id on the loop first); the line is
     * written at once and whole, possibly before lines the loop logged
     * earlier and still buffers. */
    void (*log)(int level, const char *src, lx_req *req, const char *fmt, ...) LX_PRINTF(4, 5);
    int (*log_enabled)(int level);

    /* -- Configuration (master or worker; values already have ${VAR}
     * replaced). `key` names a direct child of `cfg`. Each getter returns
     * LX_OK and sets *out, LX_ENOENT when the key is absent (*out
     * untouched), or LX_EINVAL with "FILE:LINE: message" in err. Strings
     * are borrowed until shutdown(). */
    int (*cfg_string)(const lx_cfg *cfg, const char *key, const char **out, char *err,
                      size_t errlen);
    int (*cfg_int)(const lx_cfg *cfg, const char *key, long long *out, char *err,
                   size_t errlen);
    int (*cfg_bool)(const lx_cfg *cfg, const char *key, int *out, char *err, size_t errlen);
    /* Sizes accept an integer or "64K", "25M", "1G". */
    int (*cfg_size)(const lx_cfg *cfg, const char *key, size_t *out, char *err, size_t errlen);
    /* Durations accept milliseconds as an integer or "250ms", "30s", "5m", "1h". */
    int (*cfg_ms)(const lx_cfg *cfg, const char *key, long long *out, char *err, size_t errlen);
    /* A child group or list; NULL when absent. Borrowed until shutdown(). */
    const lx_cfg *(*cfg_child)(const lx_cfg *cfg, const char *key);
    /* Number of elements of a list or array (0 when absent or a scalar). */
    int (*cfg_count)(const lx_cfg *cfg);
    /* Element i of a list or array (NULL past the end). */
    const lx_cfg *(*cfg_elem)(const lx_cfg *cfg, int i);
    /* A scalar node's value as a string (NULL for groups and lists). */
    const char *(*cfg_value)(const lx_cfg *cfg);
    /* Refuses unknown keys: LX_OK, or LX_EINVAL naming the first unknown
     * key with its file and line. `allowed` is NULL-terminated. */
    int (*cfg_check_keys)(const lx_cfg *cfg, const char *const *allowed, char *err,
                          size_t errlen);
    /* Where a node was written: "FILE:LINE" into buf. */
    void (*cfg_where)(const lx_cfg *cfg, char *buf, size_t buflen);
    /* The server's data directory (server.data_dir), borrowed. */
    const char *(*data_dir)(void);

    /* -- Request accessors. All strings are borrowed until the request
     * ends, NUL-terminated, and NULL when absent. */
    const char *(*req_method)(lx_req *req);
    const char *(*req_path)(lx_req *req);     /* decoded, without the query */
    const char *(*req_route)(lx_req *req);    /* the matched pattern */
    const char *(*req_param)(lx_req *req, const char *name); /* {name}, decoded */
    const char *(*req_query)(lx_req *req, const char *name); /* first value, decoded */
    const char *(*req_header)(lx_req *req, const char *name); /* case-insensitive */
    /* The whole body (NUL-terminated for convenience); *len may be NULL.
     * "" with length 0 in an LX_H_HEAD_ONLY step (the body is not read yet).
     * The core has already removed the chunked framing. */
    const char *(*req_body)(lx_req *req, size_t *len);
    const char *(*req_id)(lx_req *req);
    const char *(*req_peer)(lx_req *req);     /* client address */
    lx_worker *(*req_worker)(lx_req *req);

    /* -- Replies. Each ends the request: call one exactly once, then return
     * LX_DONE (or, after LX_ASYNC, simply return from your callback).
     * They return LX_OK, LX_ESTATE if the request was already answered, or
     * LX_EGONE if the client went away (the body is still disposed of as
     * its ownership says). */
    int (*reply)(lx_req *req, int status, const char *content_type, const void *body,
                 size_t len, lx_free_fn free_body);
    /* `json` is copied. Content-Type application/json. */
    int (*reply_json)(lx_req *req, int status, const char *json);
    /* {"error": message, "code": code}, both JSON-escaped by the core. */
    int (*reply_error)(lx_req *req, int status, const char *code, const char *message);
    /* Adds a response header before the reply; both strings are copied.
     * LX_EINVAL on CR/LF or an empty name. */
    int (*set_header)(lx_req *req, const char *name, const char *value);
    /* Chunked replies (server-sent events, large downloads): start, any
     * number of chunks (ownership as for reply), end. The request ends at
     * reply_end. */
    int (*reply_start)(lx_req *req, int status, const char *content_type);
    int (*reply_chunk)(lx_req *req, const void *data, size_t len, lx_free_fn free_data);
    int (*reply_end)(lx_req *req);

    /* -- Per-request context: middleware sets, handlers read. The key is
     * copied; `val` is owned by the core from then on and released with
     * free_val (may be NULL) when the request ends or the key is set again. */
    int (*ctx_set)(lx_req *req, const char *key, void *val, lx_free_fn free_val);
    void *(*ctx_get)(lx_req *req, const char *key);
    /* The signed-in user's id for the access log line (copied). */
    void (*req_set_user)(lx_req *req, const char *uid);

    /* -- Per-request memory: freed when the request ends. */
    void *(*req_alloc)(lx_req *req, size_t size);
    /* fn(arg) runs once when the request ends, in reverse order of
     * registration. */
    int (*req_on_cleanup)(lx_req *req, lx_free_fn fn, void *arg);

    /* -- Asynchronous completion.
     * A handler that returns LX_ASYNC answers later from a callback on the
     * same worker loop with one reply function. Middleware that returned
     * LX_ASYNC calls req_resume(req, LX_NEXT) to go on, or replies.
     * If the client goes away or the route's timeout passes first (the
     * core then answers 504 TIMEOUT itself), each on_abort callback runs
     * exactly once. The request stays valid after that: the plugin still
     * ends it once (a reply, discarded, or req_resume), after which the
     * core frees it. */
    void (*req_resume)(lx_req *req, lx_rc rc);
    int (*req_on_abort)(lx_req *req, void (*fn)(lx_req *req, void *arg), void *arg);
    int (*req_is_gone)(lx_req *req);

    /* -- Outbound HTTP through the worker's libcurl multi handle. Returns
     * LX_OK and (if call_out) a handle valid until `done` runs or
     * http_cancel is called; or a negative code and `done` never runs. */
    int (*http_fetch)(lx_worker *w, const lx_http_request *rq, lx_http_done_fn done,
                      void *arg, lx_http_call **call_out);
    /* Stops a call; its `done` will not run. */
    void (*http_cancel)(lx_http_call *call);
    /* A response header (case-insensitive, first match), borrowed for the
     * callback; NULL when absent. Only valid inside `done`. */
    const char *(*http_header)(const lx_http_response *res, const char *name);

    /* -- Offload pool: work(arg) runs on a pool thread (it must not call
     * the host, except host->log); then done(arg, status) runs on the
     * worker loop with LX_OK, or LX_ECANCELED when the worker is stopping
     * before the work could start. Returns LX_OK or LX_ENOMEM. */
    int (*offload)(lx_worker *w, void (*work)(void *arg), void (*done)(void *arg, int status),
                   void *arg);

    /* -- Timers on the worker loop. fn runs after `ms`, then every `ms` when
     * repeat is set. timer_stop frees the timer (also from inside fn); a
     * one-shot timer frees itself after fn returns. */
    lx_timer *(*timer_start)(lx_worker *w, uint64_t ms, int repeat, void (*fn)(void *arg),
                             void *arg);
    void (*timer_stop)(lx_timer *t);

    /* -- Services between plugins. Register in init() (the master), so
     * every worker inherits the registry. Each generation has its own
     * registry: `table` and `state` are borrowed until the provider's
     * shutdown() (its users are shut down before it). Names carry a
     * version: "storage.v1". LX_EEXIST when the name is taken. */
    int (*svc_register)(const char *name, const void *table, void *state);
    /* The table, and its state in *state; NULL when nobody provides it. */
    const void *(*svc_lookup)(const char *name, void **state);

    /* -- Workers */
    int (*worker_index)(lx_worker *w);  /* 0..N-1, stable across restarts */
    int (*worker_stopping)(lx_worker *w);

    /* -- Health and metrics (used by the health plugin). Asks every
     * plugin's health hook on this worker; `done` runs once, within
     * timeout_ms, with the report (borrowed for the call). */
    int (*health_check)(lx_worker *w, long timeout_ms,
                        void (*done)(const lx_health_report *r, void *arg), void *arg);
    /* Prometheus text for all workers; *out is malloc'd, free with host->free. */
    int (*metrics_render)(char **out, size_t *len);

    /* -- Memory owned across the boundary */
    void *(*alloc)(size_t size);
    void (*free)(void *p);

    /* -- WebSocket sessions (since 1.3; see "WebSocket sessions" above).
     * All on the worker loop. */

    /* 1 when req is a valid handshake on a WebSocket route (middleware
     * uses it to read credentials a browser can send there, and to refuse
     * with ws_reject), else 0. */
    int (*req_is_websocket)(lx_req *req);
    /* Completes the handshake (101 Switching Protocols, with the headers
     * given to set_header, e.g. Sec-WebSocket-Protocol) and ends the
     * request (the access line shows 101). `h` is copied (see
     * lx_ws_handler); `arg` is handed to every callback. Returns LX_OK and *out (may
     * be NULL) valid until on_close returns; LX_EINVAL (not a WebSocket
     * route, or h without on_message/on_close); LX_ESTATE (the request was
     * answered); LX_EGONE (the client went away while the request was
     * held: no callback will run); LX_ENOMEM (the core answers 500). On
     * failure nothing of `arg` is touched. */
    int (*ws_accept)(lx_req *req, const lx_ws_handler *h, void *arg, lx_ws **out);
    /* Ends a request on a WebSocket route with an upgrade and, at once, a
     * close with `code` (1000-1003, 1007-1011 or 3000-4999) and `reason`
     * (at most 123 bytes of UTF-8, copied). Browsers see a close code but
     * never an HTTP status (a 401 reaches page code as 1006), so this is how
     * middleware refuses them. LX_OK, LX_EINVAL, LX_ESTATE, LX_EGONE. */
    int (*ws_reject)(lx_req *req, int code, const char *reason);
    /* Queues one message (LX_WS_TEXT or LX_WS_BINARY); `data` is copied
     * before it returns. Messages go out in order, each whole, after those
     * queued before. Returns LX_OK; LX_EINVAL (bad type, text that is not
     * UTF-8); LX_ETOOBIG (the queue would pass 4 x max_message + 64 KiB:
     * the peer is not reading, see ws_queued); LX_ESTATE (closing: ws_close
     * was called, or the close handshake has begun); LX_EGONE (the
     * connection ended); LX_ENOMEM. */
    int (*ws_send)(lx_ws *ws, int type, const void *data, size_t len);
    /* Bytes queued and not yet written to the socket: back-pressure. A
     * producer sends while it is low and waits for on_drain otherwise.
     * While it is over max_message the core stops reading from the peer. */
    size_t (*ws_queued)(lx_ws *ws);
    /* Closes the session with `code` and `reason` (as ws_reject) after the
     * messages already queued; no message is delivered after it. on_close
     * follows when the peer answers (at most 5 s later). LX_OK, LX_EINVAL,
     * LX_ESTATE (already closing). */
    int (*ws_close)(lx_ws *ws, int code, const char *reason);
    /* Ends a hold (on_message returned LX_ASYNC): the next message, or
     * on_close, comes later from the loop. Ignored when not held. */
    void (*ws_resume)(lx_ws *ws);
    /* The handshake's request id, for log lines (borrowed, session's life). */
    const char *(*ws_id)(lx_ws *ws);
    /* The session's worker, for offload, timers and http_fetch. */
    lx_worker *(*ws_worker)(lx_ws *ws);

    /* -- Since 1.4: descriptors watched on the worker loop (pipes and
     * sockets to the plugin's own child processes, for example), so that
     * the loop, never a thread, waits for them.
     * watch_start watches `fd` for `events` (LX_WATCH_READ and/or
     * LX_WATCH_WRITE; 0 starts paused) and calls fn(fd, ready, arg) on the
     * loop each time it is ready (level-triggered: again on the next pass
     * while it stays ready), `ready` saying which of the watched events
     * are. The descriptor stays the plugin's: make it non-blocking, and
     * stop the watch before closing it. NULL when out of memory or fd < 0.
     * watch_set changes the events watched (0 pauses); LX_OK or LX_EINVAL.
     * watch_stop frees the watch (also from inside fn: fn is not called
     * again). Watches a plugin still holds when its worker stops are its
     * own to stop in worker_stop (the loop no longer runs by then). */
    lx_watch *(*watch_start)(lx_worker *w, int fd, unsigned events,
                             void (*fn)(int fd, unsigned ready, void *arg), void *arg);
    int (*watch_set)(lx_watch *watch, unsigned events);
    void (*watch_stop)(lx_watch *watch);
};

/* Events of watch_start / watch_set (since 1.4). */
#define LX_WATCH_READ 0x1u
#define LX_WATCH_WRITE 0x2u

/* True when the core has every member of ABI 1.`minor`. Needed only by a
 * plugin that declares an older minor than this header's (see
 * "Versioning"); a plugin's own minor is always there. */
#define LX_HOST_HAS_MINOR(host, minor)                                                     \
    ((host)->abi_major == LX_ABI_MAJOR && (int64_t)(host)->abi_minor >= (int64_t)(minor))

#ifdef __cplusplus
}
#endif
#endif /* LEXIAID_PLUGIN_H */
