/*
 * The WebSocket opening handshake (RFC 6455 §4.2), as pure functions over
 * the request's method and header values: no I/O, no allocation. Used by
 * core/websocket.c before a request on a WebSocket route runs its steps;
 * unit-tested by tests/unit/test_ws_handshake.c.
 */
#ifndef LX_CORE_WS_HANDSHAKE_H
#define LX_CORE_WS_HANDSHAKE_H

#include <stddef.h>

/* Length of Sec-WebSocket-Accept: base64 of a 20-byte SHA-1. */
#define LX_WS_ACCEPT_LEN 28

/* What a handshake brings; every string borrowed, NULL when absent. */
typedef struct lx_ws_hs_request {
    const char *method;            /* "GET", "HEAD", "POST", ... */
    const char *host;              /* Host */
    const char *upgrade;           /* Upgrade */
    const char *connection;        /* Connection */
    const char *key;               /* Sec-WebSocket-Key */
    const char *version;           /* Sec-WebSocket-Version */
    const char *content_length;    /* Content-Length */
    const char *transfer_encoding; /* Transfer-Encoding */
    size_t body_len;               /* bytes evhttp read as the body */
} lx_ws_hs_request;

/* Why a handshake is refused: the JSON error the core answers with. The
 * strings are static. */
typedef struct lx_ws_refusal {
    int status;          /* 400, 403 or 426 */
    const char *code;    /* "BAD_HANDSHAKE", "WEBSOCKET_VERSION", "ORIGIN_NOT_ALLOWED" */
    const char *message; /* what was wrong, for a person */
} lx_ws_refusal;

/* True when an Upgrade header value names the "websocket" protocol (a
 * comma-separated list, case-insensitive; NULL is false). */
int lx_ws_is_upgrade(const char *upgrade);

/* True when a comma-separated header value (Connection, Upgrade) holds
 * `token`, case-insensitive, ignoring blanks around list members. */
int lx_ws_has_token(const char *list, const char *token);

/* Checks a handshake: GET, Host, Upgrade: websocket, Connection: upgrade,
 * a Sec-WebSocket-Key of 16 bytes in base64, Sec-WebSocket-Version 13, no
 * body. Returns 0 and writes Sec-WebSocket-Accept (NUL-terminated) into
 * accept; or -1 with the refusal in *r (426 for a version other than 13,
 * 400 for the rest). */
int lx_ws_handshake_check(const lx_ws_hs_request *in, char accept[LX_WS_ACCEPT_LEN + 1],
                          lx_ws_refusal *r);

/* Loads libcrypto (once per process; the master does it before the fork
 * when a route is a WebSocket route, so a missing library refuses the
 * start). Returns 0, or -1 with a message in err. */
int lx_ws_crypto_load(char *err, size_t errlen);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + the RFC's GUID)).
 * Returns 0, or -1 if libcrypto cannot be loaded or the digest failed. */
int lx_ws_accept_key(const char *key, char accept[LX_WS_ACCEPT_LEN + 1]);

/* Whether a browser's Origin may open a session: no Origin (not a
 * browser), an exact member of `allowed` or "*" there, or the server's own
 * origin (Origin's host[:port] equal to the Host header, the default port
 * of its scheme implied). Browsers do not preflight WebSockets, so this is
 * the only cross-site check. Returns 1 when allowed. */
int lx_ws_origin_allowed(const char *origin, const char *host, char *const *allowed,
                         size_t n_allowed);

#endif
