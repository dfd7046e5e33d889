#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <lexiaid/plugin.h>

#include "log.h"
#include "worker.h"
#include "ws_session.h"

/*
 * libFuzzer target for a WebSocket session's frame path (core/ws_session.c):
 * the bytes a client sends, fed through a real session over one end of a
 * bufferevent pair (the other end plays the client), with a plugin that
 * echoes, holds, closes and fails on command. Byte 0 picks the limits and
 * how the rest is read:
 *   bit 0   1: records [flags][len hi][len lo][payload] made into masked
 *           frames (flags: bit 7 FIN, bits 4-6 RSV, bits 0-3 opcode);
 *           0: raw bytes, as they come
 *   bits 1-2  max_message: 16, 125, 4096 or 1M
 *   bit 3   the worker stops (close 1001) after the input
 * A message's first byte is its command: 'H' holds (resumed by the
 * fuzzer between chunks), 'C' closes with 4000, 'F' fails, 'B' floods.
 * Besides the sanitizers it checks that on_close runs exactly once per
 * session, never before the session's last message, and that nothing is
 * left at the end.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LX_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* The session's clock (core/worker.c's is not linked): moves 100 ms a call,
 * so the idle and ping timers come due during a run. */
static uint64_t lx_fuzz_clock;

uint64_t lx_now_us(void)
{
    lx_fuzz_clock += 100000;
    return lx_fuzz_clock;
}

typedef struct lx_fuzz_plugin {
    lx_ws *ws;
    int n_closed;
    int is_held;
    int is_closed;
} lx_fuzz_plugin;

static lx_rc lx_fuzz_on_message(lx_ws *ws, int type, const void *data, size_t len, void *arg)
{
    lx_fuzz_plugin *p = arg;
    const unsigned char *d = data;

    LX_FUZZ_CHECK(!p->is_closed && !p->is_held && ws == p->ws);
    LX_FUZZ_CHECK(type == LX_WS_TEXT || type == LX_WS_BINARY);
    if (len > 0 && d[0] == 'H') {
        p->is_held = 1;
        return LX_ASYNC;
    }
    if (len > 0 && d[0] == 'C') {
        int rc = lx_ws_close(ws, 4000, "asked");
        LX_FUZZ_CHECK(rc == LX_OK || rc == LX_ESTATE || rc == LX_EGONE);
        rc = lx_ws_send(ws, LX_WS_TEXT, "x", 1);
        LX_FUZZ_CHECK(rc == LX_ESTATE || rc == LX_EGONE);
        return LX_DONE;
    }
    if (len > 0 && d[0] == 'F')
        return LX_FAIL;
    if (len > 0 && d[0] == 'B') {
        for (int i = 0; i < 64; i++)
            if (lx_ws_send(ws, LX_WS_BINARY, data, len) != LX_OK)
                break;
        return LX_DONE;
    }
    int rc = lx_ws_send(ws, type, data, len);
    /* LX_EGONE: a message read before the connection ended, delivered after */
    LX_FUZZ_CHECK(rc == LX_OK || rc == LX_ESTATE || rc == LX_ETOOBIG || rc == LX_EGONE);
    (void)lx_ws_queued(ws);
    return LX_DONE;
}

static void lx_fuzz_on_close(lx_ws *ws, int code, const char *reason, void *arg)
{
    lx_fuzz_plugin *p = arg;
    LX_FUZZ_CHECK(ws == p->ws && !p->is_held);
    LX_FUZZ_CHECK(reason != NULL);
    LX_FUZZ_CHECK(code >= 1000 && code <= 4999);
    p->n_closed++;
    p->is_closed = 1;
}

static const lx_ws_handler lx_fuzz_handler = {
    .struct_size = sizeof(lx_ws_handler),
    .on_message = lx_fuzz_on_message,
    .on_close = lx_fuzz_on_close,
};

/* Appends a masked frame for the record at d (returns its size, 0 at the
 * end of the input). */
static size_t lx_fuzz_record(struct evbuffer *out, const uint8_t *d, size_t n)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t head[14];
    size_t h = 0;

    if (n < 3)
        return 0;
    size_t len = ((size_t)d[1] << 8) | d[2];
    if (len > n - 3)
        len = n - 3;
    head[h++] = d[0];
    if (len < 126) {
        head[h++] = (uint8_t)(0x80 | len);
    } else {
        head[h++] = 0x80 | 126;
        head[h++] = (uint8_t)(len >> 8);
        head[h++] = (uint8_t)len;
    }
    memcpy(head + h, key, 4);
    h += 4;
    evbuffer_add(out, head, h);
    for (size_t i = 0; i < len; i++) {
        uint8_t b = d[3 + i] ^ key[i % 4];
        evbuffer_add(out, &b, 1);
    }
    return 3 + len;
}

static void lx_fuzz_run(struct event_base *base)
{
    for (int i = 0; i < 16; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t max_message[4] = {16, 125, 4096, 1u << 20};
    struct bufferevent *pair[2];
    lx_runtime rt;
    lx_worker w;
    lx_fuzz_plugin p = {0};

    if (size < 1)
        return 0;
    lx_log_setup(LX_LOG_ERROR, LX_LOG_FORMAT_TEXT, 0);
    memset(&rt, 0, sizeof(rt));
    memset(&w, 0, sizeof(w));
    w.rt = &rt;
    w.base = event_base_new();
    LX_FUZZ_CHECK(w.base != NULL);
    LX_FUZZ_CHECK(bufferevent_pair_new(w.base, BEV_OPT_DEFER_CALLBACKS, pair) == 0);
    bufferevent_enable(pair[1], EV_READ | EV_WRITE);

    lx_ws_limits lim = {max_message[(data[0] >> 1) & 3], 60000, 1000};
    lx_ws *ws = lx_ws_session_new(&w, &lim, "fuzz", &lx_fuzz_handler, &p);
    LX_FUZZ_CHECK(ws != NULL);
    p.ws = ws;
    LX_FUZZ_CHECK(lx_ws_session_start(ws, pair[0], NULL) == LX_OK);

    struct evbuffer *out = bufferevent_get_output(pair[1]);
    struct evbuffer *in = bufferevent_get_input(pair[1]);
    size_t off = 1;
    while (off < size && !p.is_closed) {
        if (data[0] & 1) {
            size_t used = lx_fuzz_record(out, data + off, size - off);
            if (used == 0)
                break;
            off += used;
        } else {
            size_t n = 1 + data[off] % 64;
            off++;
            if (n > size - off)
                n = size - off;
            evbuffer_add(out, data + off, n);
            off += n;
        }
        lx_fuzz_run(w.base);
        evbuffer_drain(in, evbuffer_get_length(in)); /* the client reads everything */
        if (p.is_held) {
            p.is_held = 0;
            lx_ws_resume(ws);
            lx_fuzz_run(w.base);
        }
    }
    if (data[0] & 8) {
        lx_ws_worker_stopping(&w);
        lx_fuzz_run(w.base);
    }
    /* resumed until nothing holds it: each resume may deliver another 'H' */
    while (p.is_held) {
        p.is_held = 0;
        lx_ws_resume(ws);
        lx_fuzz_run(w.base);
    }
    lx_ws_worker_exit(&w);
    lx_ws_free_all(&w);
    LX_FUZZ_CHECK(p.n_closed == 1);
    LX_FUZZ_CHECK(w.n_ws == 0 && w.ws_live == NULL);
    bufferevent_free(pair[1]);
    lx_fuzz_run(w.base);
    event_base_free(w.base);
    return 0;
}
