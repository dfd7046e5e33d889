/*
 * bare_ws: the floor of lexiaid's WebSocket cost, for bench/websocket.sh.
 *
 * A bare libevent evhttp server of the same design as lexiaid's WebSocket
 * routes, with nothing else: one process, one event_base, a SO_REUSEPORT
 * listener on 127.0.0.1:PORT, a generic callback that checks
 * Sec-WebSocket-Key, answers 101 with Sec-WebSocket-Accept (libcrypto's
 * SHA-1), and takes the connection's bufferevent over from evhttp (its
 * callbacks replaced, reading enabled, then the timeouts cleared,
 * TCP_NODELAY); wslay
 * (server side, whole messages, 1 MiB limit) echoes every message through
 * the same 64 KiB output cap lexiaid keeps; evhttp_connection_free at the
 * end. No routing, no middleware, no plugin, no timers, no metrics, no
 * logging: "lexiaid / bare_ws" is what the kernel adds around wslay+evhttp.
 *
 * Usage: bare_ws PORT      (SIGTERM or SIGINT ends it)
 * Build: gcc -O2 -o bare_ws bare_ws.c $(pkg-config --cflags --libs libevent libcrypto) -lwslay
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <wslay/wslay.h>

#define OUTBUF (64u << 10)

typedef struct sess {
    struct evhttp_connection *evcon;
    struct bufferevent *bev;
    wslay_event_context_ptr ctx;
} sess;

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *u)
{
    sess *s = u;
    (void)flags;
    int n = evbuffer_remove(bufferevent_get_input(s->bev), buf, len);
    if (n <= 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    return n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *u)
{
    sess *s = u;
    (void)flags;
    struct evbuffer *out = bufferevent_get_output(s->bev);
    size_t have = evbuffer_get_length(out);
    if (have >= OUTBUF) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (len > OUTBUF - have)
        len = OUTBUF - have;
    evbuffer_add(out, data, len);
    return (ssize_t)len;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *u)
{
    (void)u;
    if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME) {
        struct wslay_event_msg m = {a->opcode, a->msg, a->msg_length};
        wslay_event_queue_msg(ctx, &m);
    }
}

static const struct wslay_event_callbacks cbs = {recv_cb, send_cb, NULL, NULL, NULL, NULL, on_msg};

static void sess_free(sess *s)
{
    evhttp_connection_free(s->evcon);
    wslay_event_context_free(s->ctx);
    free(s);
}

static void pump(sess *s)
{
    if (wslay_event_recv(s->ctx) != 0 || wslay_event_send(s->ctx) != 0 ||
        (!wslay_event_want_read(s->ctx) && !wslay_event_want_write(s->ctx) &&
         evbuffer_get_length(bufferevent_get_output(s->bev)) == 0))
        sess_free(s);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pump(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    pump(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    sess_free(arg);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    const char *key =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Sec-WebSocket-Key");
    unsigned char buf[128], md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char accept[64];
    (void)arg;

    if (key == NULL || strlen(key) != 24) {
        evhttp_send_error(req, 400, "Bad Request");
        return;
    }
    memcpy(buf, key, 24);
    memcpy(buf + 24, guid, sizeof(guid) - 1);
    EVP_Digest(buf, 24 + sizeof(guid) - 1, md, &md_len, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)accept, md, 20);

    sess *s = calloc(1, sizeof(*s));
    s->evcon = evhttp_request_get_connection(req);
    s->bev = evhttp_connection_get_bufferevent(s->evcon);
    wslay_event_context_server_init(&s->ctx, &cbs, s);
    wslay_event_config_set_max_recv_msg_length(s->ctx, 1u << 20);
    evbuffer_add_printf(bufferevent_get_output(s->bev),
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                        accept);
    bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
    bufferevent_setwatermark(s->bev, EV_WRITE, OUTBUF / 2, 0);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    bufferevent_set_timeouts(s->bev, NULL, NULL);
    int one = 1;
    setsockopt(bufferevent_getfd(s->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (evbuffer_get_length(bufferevent_get_input(s->bev)) > 0)
        pump(s);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sin;
    struct rlimit rl;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct event *ev_term = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *ev_int = evsignal_new(base, SIGINT, on_signal, base);
    evsignal_add(ev_term, NULL);
    evsignal_add(ev_int, NULL);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(argv[1]));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *lev = evconnlistener_new_bind(
        base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE, 1024,
        (struct sockaddr *)&sin, (int)sizeof sin);
    if (lev == NULL) {
        fprintf(stderr, "bare_ws: bind 127.0.0.1:%s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    struct evhttp *http = evhttp_new(base);
    evhttp_bind_listener(http, lev);
    evhttp_set_gencb(http, on_request, NULL);
    event_base_dispatch(base);
    evhttp_free(http);
    event_free(ev_term);
    event_free(ev_int);
    event_base_free(base);
    return 0;
}
