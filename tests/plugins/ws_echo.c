/*
 * ws_echo: the WebSocket test plugin (tests/integration/test_websocket.py).
 * Each handler is a route's `websocket` and pins down a promise of the
 * kernel's session API:
 *
 *   echo      sends every message back as it came (text as text, binary
 *             as binary). A text message that starts with "!" is a command:
 *               !close CODE REASON  ws_close(CODE, REASON)
 *               !offload MS TEXT    holds the session (LX_ASYNC) while a
 *                                   pool thread sleeps MS, then sends TEXT
 *                                   and resumes: messages sent meanwhile
 *                                   are echoed after it, in order
 *               !queued             answers "queued N" (ws_queued)
 *               !flood N BYTES      queues N binary messages of BYTES and
 *                                   answers "flood sent K" (K queued before
 *                                   LX_ETOOBIG, if any)
 *               !fail               returns LX_FAIL (the core closes 1011)
 *               !pid                answers "pid N": the worker's process
 *               !send-after-close   ws_close(1000) then ws_send: answers
 *                                   nothing, logs what ws_send returned
 *             When a principal is set (auth middleware before it), the
 *             first message is {"uid": "..."}.
 *   reject    ws_reject(4001, "Authentication failed")
 *   late      accepts ?ms=N (default 100) after the handshake, from a timer
 *             (LX_ASYNC); logs "ws_echo late accept in N ms" first
 *   refuse    answers the handshake with a JSON 403 (reply_error)
 *
 * Every session logs "ws_echo closed code=C reason=R messages=N" once from
 * on_close, so tests see that it runs exactly once and with which code.
 * State is per generation (allocated in init); nothing but the SDK headers.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lexiaid/auth.h>
#include <lexiaid/plugin.h>

#define WS_ECHO_SRC "ws_echo"

typedef struct ws_echo_state {
    const lx_host *host;
} ws_echo_state;

typedef struct ws_echo_session {
    ws_echo_state *st;
    lx_ws *ws;
    unsigned long n_messages;
    int is_closed;
} ws_echo_session;

/* One offloaded job: sleeps on a pool thread, then speaks and resumes. */
typedef struct ws_echo_job {
    ws_echo_session *s;
    long ms;
    char text[256];
} ws_echo_job;

static void ws_echo_send_text(ws_echo_session *s, const char *text)
{
    s->st->host->ws_send(s->ws, LX_WS_TEXT, text, strlen(text));
}

static void ws_echo_job_work(void *arg)
{
    ws_echo_job *job = arg;
    struct timespec ts = {job->ms / 1000, (job->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void ws_echo_job_done(void *arg, int status)
{
    ws_echo_job *job = arg;
    ws_echo_session *s = job->s;
    const lx_host *host = s->st->host;

    if (status == LX_OK) {
        int rc = host->ws_send(s->ws, LX_WS_TEXT, job->text, strlen(job->text));
        if (rc != LX_OK)
            host->log(LX_LOG_INFO, WS_ECHO_SRC, NULL, "ws_echo offload send: %d", rc);
    }
    free(job);
    host->ws_resume(s->ws);
}

static lx_rc ws_echo_command(ws_echo_session *s, const char *cmd)
{
    const lx_host *host = s->st->host;
    char buf[256];
    long a = 0, b = 0;
    int n = 0;

    if (sscanf(cmd, "!close %ld %n", &a, &n) == 1) {
        int rc = host->ws_close(s->ws, (int)a, cmd + n);
        if (rc != LX_OK) {
            snprintf(buf, sizeof(buf), "close refused %d", rc);
            ws_echo_send_text(s, buf);
        }
        return LX_DONE;
    }
    if (sscanf(cmd, "!offload %ld %n", &a, &n) == 1) {
        ws_echo_job *job = calloc(1, sizeof(*job));
        if (job == NULL)
            return LX_FAIL;
        job->s = s;
        job->ms = a;
        snprintf(job->text, sizeof(job->text), "%s", cmd + n);
        if (host->offload(host->ws_worker(s->ws), ws_echo_job_work, ws_echo_job_done, job) !=
            LX_OK) {
            free(job);
            return LX_FAIL;
        }
        return LX_ASYNC;
    }
    if (strcmp(cmd, "!queued") == 0) {
        snprintf(buf, sizeof(buf), "queued %zu", host->ws_queued(s->ws));
        ws_echo_send_text(s, buf);
        return LX_DONE;
    }
    if (sscanf(cmd, "!flood %ld %ld", &a, &b) == 2 && a >= 0 && b >= 0 && b <= (16L << 20)) {
        char *data = calloc(1, (size_t)b + 1);
        long k = 0;
        if (data == NULL)
            return LX_FAIL;
        for (; k < a; k++)
            if (host->ws_send(s->ws, LX_WS_BINARY, data, (size_t)b) != LX_OK)
                break;
        free(data);
        snprintf(buf, sizeof(buf), "flood sent %ld", k);
        ws_echo_send_text(s, buf);
        return LX_DONE;
    }
    if (strcmp(cmd, "!fail") == 0)
        return LX_FAIL;
    if (strcmp(cmd, "!pid") == 0) {
        snprintf(buf, sizeof(buf), "pid %ld", (long)getpid());
        ws_echo_send_text(s, buf);
        return LX_DONE;
    }
    if (strcmp(cmd, "!send-after-close") == 0) {
        host->ws_close(s->ws, LX_WS_NORMAL, "bye");
        int rc = host->ws_send(s->ws, LX_WS_TEXT, "late", 4);
        host->log(LX_LOG_INFO, WS_ECHO_SRC, NULL, "ws_echo send after close: %d", rc);
        return LX_DONE;
    }
    ws_echo_send_text(s, "unknown command");
    return LX_DONE;
}

static lx_rc ws_echo_on_message(lx_ws *ws, int type, const void *data, size_t len, void *arg)
{
    ws_echo_session *s = arg;
    (void)ws;
    s->n_messages++;
    if (type == LX_WS_TEXT && len > 0 && ((const char *)data)[0] == '!' && len < 256) {
        char cmd[256];
        memcpy(cmd, data, len);
        cmd[len] = '\0';
        return ws_echo_command(s, cmd);
    }
    int rc = s->st->host->ws_send(s->ws, type, data, len);
    if (rc != LX_OK && rc != LX_ESTATE)
        s->st->host->log(LX_LOG_WARN, WS_ECHO_SRC, NULL, "ws_echo echo failed: %d", rc);
    return LX_DONE;
}

static void ws_echo_on_close(lx_ws *ws, int code, const char *reason, void *arg)
{
    ws_echo_session *s = arg;
    const lx_host *host = s->st->host;

    if (s->is_closed) /* must never happen: the test looks for this line */
        host->log(LX_LOG_ERROR, WS_ECHO_SRC, NULL, "ws_echo on_close ran twice");
    s->is_closed = 1;
    host->log(LX_LOG_INFO, WS_ECHO_SRC, NULL, "ws_echo closed id=%s code=%d reason=%s messages=%lu",
              host->ws_id(ws), code, reason, s->n_messages);
    free(s);
}

static const lx_ws_handler ws_echo_handler = {
    .struct_size = sizeof(lx_ws_handler),
    .on_message = ws_echo_on_message,
    .on_close = ws_echo_on_close,
};

/* Accepts req's session; says who signed in when middleware says so. */
static lx_rc ws_echo_open(lx_req *req, ws_echo_state *st)
{
    const lx_host *host = st->host;
    const lx_principal *p = host->ctx_get(req, LX_AUTH_PRINCIPAL);
    char hello[256] = "";
    ws_echo_session *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return LX_FAIL;
    s->st = st;
    if (p != NULL)
        snprintf(hello, sizeof(hello), "{\"uid\":\"%s\"}", p->uid);
    int rc = host->ws_accept(req, &ws_echo_handler, s, &s->ws);
    if (rc != LX_OK) {
        free(s);
        return rc == LX_EGONE ? LX_DONE : LX_FAIL;
    }
    if (hello[0] != '\0')
        ws_echo_send_text(s, hello);
    return LX_DONE;
}

static lx_rc ws_echo_echo(lx_req *req, void *state)
{
    return ws_echo_open(req, state);
}

static lx_rc ws_echo_reject(lx_req *req, void *state)
{
    ws_echo_state *st = state;
    st->host->ws_reject(req, 4001, "Authentication failed");
    return LX_DONE;
}

typedef struct ws_echo_late {
    ws_echo_state *st;
    lx_req *req;
} ws_echo_late;

static void ws_echo_late_fire(void *arg)
{
    ws_echo_late *l = arg;
    ws_echo_open(l->req, l->st);
    free(l);
}

static lx_rc ws_echo_late_open(lx_req *req, void *state)
{
    ws_echo_state *st = state;
    ws_echo_late *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return LX_FAIL;
    l->st = st;
    l->req = req;
    const char *q = st->host->req_query(req, "ms");
    long ms = q != NULL ? atol(q) : 100;
    if (ms < 0 || ms > 60000)
        ms = 100;
    st->host->log(LX_LOG_INFO, WS_ECHO_SRC, req, "ws_echo late accept in %ld ms", ms);
    if (st->host->timer_start(st->host->req_worker(req), (uint64_t)ms, 0, ws_echo_late_fire, l) ==
        NULL) {
        free(l);
        return LX_FAIL;
    }
    return LX_ASYNC;
}

static lx_rc ws_echo_refuse(lx_req *req, void *state)
{
    ws_echo_state *st = state;
    st->host->reply_error(req, 403, "FORBIDDEN", "not you");
    return LX_DONE;
}

static int ws_echo_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err,
                        size_t errlen)
{
    static const char *const keys[] = {NULL};
    ws_echo_state *st;

    if (cfg != NULL && host->cfg_check_keys(cfg, keys, err, errlen) != LX_OK)
        return LX_EINVAL;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return LX_ENOMEM;
    st->host = host;
    *state = st;
    return LX_OK;
}

static void ws_echo_shutdown(void *state)
{
    free(state);
}

static const lx_handler ws_echo_handlers[] = {
    {"echo", ws_echo_echo, LX_H_WEBSOCKET},
    {"reject", ws_echo_reject, LX_H_WEBSOCKET},
    {"late", ws_echo_late_open, LX_H_WEBSOCKET},
    {"refuse", ws_echo_refuse, LX_H_WEBSOCKET},
    {NULL, NULL, 0},
};

static const lx_plugin ws_echo_plugin = {
    LX_PLUGIN_HEADER,
    .name = "ws_echo",
    .version = "1.0.0",
    .description = "WebSocket echo, for the kernel's tests",
    .handlers = ws_echo_handlers,
    .init = ws_echo_init,
    .shutdown = ws_echo_shutdown,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &ws_echo_plugin;
}
