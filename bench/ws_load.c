/*
 * ws_load: the WebSocket load generator of bench/websocket.sh.
 *
 * One process, one libevent loop, N client sessions (wslay's client side)
 * against ws://127.0.0.1:PORT/PATH, opened at most 100 handshakes at a time.
 * Once all are open:
 *   RATE > 0   each session sends a SIZE-byte binary message RATE times a
 *              second (starts spread over the first period) for SECONDS;
 *   RATE = 0   each session sends its next message as soon as the echo of
 *              the last one is back (closed loop: the server's ceiling);
 *   RATE < 0   idle: nothing for SECONDS (it prints "held N" when all are
 *              open, so that the caller can sample the server), then one
 *              small echo per session to show each is still alive.
 * Every message carries its send time; the echo's latency is measured on
 * arrival. At the end it prints one line of key=value figures on stdout:
 *   open=N failed=F sent=S received=R late=L seconds=T rate=R/T p50_us=..
 *   p99_us=.. closed=C
 * (received: echoes back before the end; late: in the 2 s after it; closed:
 * sessions the server ended).
 *
 * Usage: ws_load PORT PATH N SIZE RATE SECONDS
 * Build: gcc -O2 -o ws_load ws_load.c $(pkg-config --cflags --libs libevent) -lwslay
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <wslay/wslay.h>

#define MAX_INFLIGHT_HANDSHAKES 100

typedef struct sess {
    int idx;
    struct bufferevent *bev;
    wslay_event_context_ptr ctx;
    struct event *tick;
    int is_open;    /* 101 received */
    int is_dead;    /* closed by the server or failed */
    int is_waiting; /* closed loop: an echo is due */
    uint64_t seq;
} sess;

static struct event_base *base;
static sess *S;
static int n_sess, port, n_open, n_failed, n_closed, n_started, n_handshaking;
static size_t size;
static double rate;
static int seconds;
static const char *path;
static unsigned char *payload;
static int is_running, is_final;
static uint64_t n_sent, n_received, n_late, t_start_ns, t_end_ns;
static struct timeval period_tv;
static uint64_t *lat;
static size_t n_lat, cap_lat;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void start_next(void);

static void sess_kill(sess *s, int by_server)
{
    if (s->is_dead)
        return;
    s->is_dead = 1;
    if (s->is_open)
        n_closed += by_server;
    else
        n_failed++;
    if (!s->is_open)
        n_handshaking--;
    if (s->tick != NULL)
        event_del(s->tick);
    if (s->bev != NULL)
        bufferevent_free(s->bev);
    s->bev = NULL;
    if (!s->is_open)
        start_next();
}

/* ---- wslay */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *u)
{
    sess *s = u;
    (void)flags;
    int n = s->bev ? evbuffer_remove(bufferevent_get_input(s->bev), buf, len) : 0;
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
    if (s->bev == NULL || evbuffer_add(bufferevent_get_output(s->bev), data, len) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *u)
{
    (void)ctx;
    (void)u;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)xorshift();
    return 0;
}

static void send_one(sess *s)
{
    uint64_t t = now_ns();
    memcpy(payload, &t, 8);
    memcpy(payload + 8, &s->seq, 8);
    s->seq++;
    struct wslay_event_msg m = {WSLAY_BINARY_FRAME, payload, size};
    if (wslay_event_queue_msg(s->ctx, &m) != 0 || wslay_event_send(s->ctx) != 0) {
        sess_kill(s, 0);
        return;
    }
    n_sent++;
    s->is_waiting = 1;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *u)
{
    sess *s = u;
    (void)ctx;
    if (a->opcode != WSLAY_BINARY_FRAME && a->opcode != WSLAY_TEXT_FRAME)
        return;
    s->is_waiting = 0;
    if (a->msg_length >= 8 && (is_running || is_final)) {
        uint64_t t;
        memcpy(&t, a->msg, 8);
        if (is_running)
            n_received++;
        else
            n_late++; /* echoes of messages sent before the end */
        if (n_lat < cap_lat)
            lat[n_lat++] = (now_ns() - t) / 1000;
    }
    if (is_running && rate == 0)
        send_one(s);
}

static const struct wslay_event_callbacks cbs = {recv_cb, send_cb, genmask_cb, NULL,
                                                 NULL,    NULL,    on_msg};

/* ---- I/O */

static void pump(sess *s)
{
    if (wslay_event_recv(s->ctx) != 0 || wslay_event_send(s->ctx) != 0) {
        sess_kill(s, 1);
        return;
    }
    if (!wslay_event_want_read(s->ctx) && !wslay_event_want_write(s->ctx))
        sess_kill(s, 1);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    sess *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!s->is_open) {
        struct evbuffer_ptr p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (p.pos < 0)
            return;
        char head[16] = "";
        evbuffer_copyout(in, head, sizeof(head) - 1);
        evbuffer_drain(in, (size_t)p.pos + 4);
        if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
            sess_kill(s, 0);
            return;
        }
        s->is_open = 1;
        n_open++;
        n_handshaking--;
        start_next();
        if (evbuffer_get_length(in) == 0)
            return;
    }
    pump(s);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    sess *s = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(s->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char req[512];
        unsigned char key[16];
        char k64[32];
        for (int i = 0; i < 16; i++)
            key[i] = (unsigned char)xorshift();
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        int j = 0;
        for (int i = 0; i < 15; i += 3) {
            uint32_t v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
            k64[j++] = b64[v >> 18 & 63];
            k64[j++] = b64[v >> 12 & 63];
            k64[j++] = b64[v >> 6 & 63];
            k64[j++] = b64[v & 63];
        }
        k64[j++] = b64[key[15] >> 2];
        k64[j++] = b64[(key[15] & 3) << 4];
        k64[j++] = '=';
        k64[j++] = '=';
        k64[j] = '\0';
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n",
                         path, port, k64);
        bufferevent_write(s->bev, req, (size_t)n);
        return;
    }
    sess_kill(s, 1);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    sess *s = arg;
    (void)bev;
    if (s->is_open && wslay_event_want_write(s->ctx) && wslay_event_send(s->ctx) != 0)
        sess_kill(s, 1);
}

static void start_next(void)
{
    struct sockaddr_in sin;
    while (n_started < n_sess && n_handshaking < MAX_INFLIGHT_HANDSHAKES) {
        sess *s = &S[n_started++];
        s->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
        wslay_event_context_client_init(&s->ctx, &cbs, s);
        wslay_event_config_set_max_recv_msg_length(s->ctx, 64u << 20);
        bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
        bufferevent_enable(s->bev, EV_READ | EV_WRITE);
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)port);
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        n_handshaking++;
        if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&sin, sizeof(sin)) != 0)
            sess_kill(s, 0);
    }
}

/* ---- phases */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    sess *s = arg;
    (void)fd;
    (void)what;
    if (s->is_dead || !is_running)
        return;
    send_one(s);
    event_add(s->tick, &period_tv);
}

static struct event *ev_phase;
static int phase; /* 0 connecting, 1 running, 2 draining, 3 verifying */

static void on_phase(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    struct timeval tv = {0, 100000};
    if (phase == 0) {
        if (n_open + n_failed < n_sess) {
            evtimer_add(ev_phase, &tv);
            return;
        }
        phase = 1;
        is_running = 1;
        t_start_ns = now_ns();
        if (rate < 0) {
            printf("held %d\n", n_open);
            fflush(stdout);
        }
        for (int i = 0; i < n_sess; i++) {
            sess *s = &S[i];
            if (s->is_dead || !s->is_open)
                continue;
            if (rate > 0) {
                uint64_t period = (uint64_t)(1e6 / rate);
                uint64_t first = xorshift() % period;
                period_tv.tv_sec = (time_t)(period / 1000000);
                period_tv.tv_usec = (suseconds_t)(period % 1000000);
                s->tick = evtimer_new(base, on_tick, s);
                struct timeval f = {(time_t)(first / 1000000), (suseconds_t)(first % 1000000)};
                event_add(s->tick, &f);
            } else if (rate == 0) {
                send_one(s);
            }
        }
        struct timeval end = {seconds, 0};
        evtimer_add(ev_phase, &end);
        return;
    }
    if (phase == 1) {
        is_running = 0;
        is_final = 1;
        t_end_ns = now_ns();
        phase = 2;
        if (rate < 0) {
            /* verify: one small echo per session */
            size = 16;
            for (int i = 0; i < n_sess; i++)
                if (!S[i].is_dead && S[i].is_open)
                    send_one(&S[i]);
        }
        struct timeval drain = {2, 0};
        evtimer_add(ev_phase, &drain);
        return;
    }
    event_base_loopbreak(base);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s PORT PATH N SIZE RATE SECONDS\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    path = argv[2];
    n_sess = atoi(argv[3]);
    size = (size_t)atol(argv[4]);
    rate = atof(argv[5]);
    seconds = atoi(argv[6]);
    if (port <= 0 || n_sess <= 0 || size < 16 || seconds <= 0) {
        fprintf(stderr, "ws_load: bad arguments\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    rng ^= (uint64_t)now_ns();
    payload = calloc(1, size);
    S = calloc((size_t)n_sess, sizeof(*S));
    cap_lat = 4u << 20;
    lat = malloc(cap_lat * sizeof(*lat));
    base = event_base_new();
    if (payload == NULL || S == NULL || lat == NULL || base == NULL)
        return 1;
    for (int i = 0; i < n_sess; i++)
        S[i].idx = i;
    ev_phase = evtimer_new(base, on_phase, NULL);
    start_next();
    struct timeval tv = {0, 100000};
    evtimer_add(ev_phase, &tv);
    event_base_dispatch(base);

    double secs = (double)(t_end_ns - t_start_ns) / 1e9;
    uint64_t p50 = 0, p99 = 0;
    if (n_lat > 0) {
        qsort(lat, n_lat, sizeof(*lat), cmp_u64);
        p50 = lat[n_lat / 2];
        p99 = lat[(size_t)((double)n_lat * 0.99)];
    }
    printf("open=%d failed=%d sent=%llu received=%llu late=%llu seconds=%.2f rate=%.1f "
           "p50_us=%llu p99_us=%llu closed=%d\n",
           n_open, n_failed, (unsigned long long)n_sent, (unsigned long long)n_received,
           (unsigned long long)n_late, secs, secs > 0 ? (double)n_received / secs : 0.0,
           (unsigned long long)p50, (unsigned long long)p99, n_closed);
    return 0;
}
