/*
 * testplug: the test plugin behind most integration tests. Each handler
 * pins down one promise of the kernel (see tests/integration/test_*.py):
 *
 *   echo      reports what the host API says about the request, as JSON
 *   crash     kills its worker with SIGSEGV (the master must restart it)
 *   never     answers nothing; counts its on_abort calls (see aborts); logs
 *             "never: parked" (tests wait for it)
 *   slow      answers after ?ms=N (default 500) from a timer; logs "slow:
 *             answering in N ms" when the timer is set
 *   fail      returns LX_FAIL without replying (the core answers 500)
 *   set_user  middleware: ctx "test.user" = "alice", access-log uid alice
 *   deny      middleware: 401 UNAUTHENTICATED
 *   async_mw  middleware: resumes after 50 ms
 *   head_gate head-only middleware (LX_H_HEAD_ONLY): 401 unless the request
 *             has "X-Allow: yes"; notes the body length it saw (echo's
 *             head_body_len)
 *   head_async head-only middleware: resumes after 50 ms
 *   stream    chunked text/event-stream of three events
 *   big       ?n=BYTES of 'x'
 *   offload   sleeps ?ms=N on the offload pool, then answers
 *   offload_log  ?jobs=J pool jobs each log ?lines=N lines with ?pad=P
 *             bytes of padding through host->log (from pool threads, while
 *             the loop logs too); answers {"jobs": J, "lines": N} when done
 *   fetch     GETs ?url= through host->http_fetch
 *   aborts    how many times never's on_abort ran in this worker
 *   state     {"label": the config's label, "alive": whether the state it
 *             was handed is still whole (not yet shut down)}
 *   watch     pushes ?n=BYTES (default 3) through a pipe it watches on the
 *             loop (host->watch_*, ABI 1.4), then answers {"watched": n}
 *
 * Commands (`lexiaid -c FILE NAME ARGS...`):
 *   echo-args  prints {"argv": [...], "healthy": ..., "data_dir": ...} on
 *              stdout: what the core handed over, and the state of init
 *   fail       exits 1 with a message; `fail usage` exits 2
 * After a command, shutdown() prints "testplug: shutdown" on stdout, so the
 * tests see that it runs after the command.
 *
 * A copy of this file loaded from a file whose name starts "testplug_"
 * names itself after that file (testplug_dup.so calls itself testplug_dup),
 * so that two plugins offering the same commands can be configured.
 *
 * Config: `healthy = false` makes the health hook report failure; `label`
 * (a string) is kept in the state, shown by `state` and logged by
 * shutdown() ("shutdown of the state labelled LABEL"), so that the tests
 * see which generation's state the core hands to whom across reloads. Any
 * other key is refused. Self-contained on purpose: only the SDK header and
 * libc.
 *
 * State is per generation (plugin.h): init() allocates it, shutdown()
 * poisons and frees it. The statics left are process-wide on purpose: the
 * host table (the same in every generation, valid for the life of the
 * process) and the descriptor's name.
 */
#define _GNU_SOURCE /* dladdr */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lexiaid/plugin.h>

/* The host table: init() sets it to the same table in every generation. */
static const lx_host *host;

#define TESTPLUG_ALIVE 0x7e57a11e
#define TESTPLUG_DEAD 0xdeadbeef

typedef struct testplug_state {
    unsigned magic; /* TESTPLUG_ALIVE until shutdown() */
    int is_healthy;
    char label[64];
    long n_aborts;   /* per worker: fork gives each worker its own copy */
    int ran_command; /* a command ran with this state (shutdown says so) */
} testplug_state;

/* ------------------------------------------------------------------------ */
/* A growable buffer that writes JSON. On allocation failure it stops
 * growing and marks itself failed; the handler then returns LX_FAIL. */

typedef struct jbuf {
    char *data;
    size_t len;
    size_t cap;
    int has_failed;
} jbuf;

static void jbuf_reserve(jbuf *b, size_t extra)
{
    if (b->has_failed || b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL) {
        b->has_failed = 1;
        return;
    }
    b->data = data;
    b->cap = cap;
}

static void jbuf_put(jbuf *b, const char *s, size_t len)
{
    jbuf_reserve(b, len);
    if (b->has_failed)
        return;
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static void jbuf_lit(jbuf *b, const char *s)
{
    jbuf_put(b, s, strlen(s));
}

static void jbuf_printf(jbuf *b, const char *fmt, ...) LX_PRINTF(2, 3);
static void jbuf_printf(jbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->has_failed = 1;
        return;
    }
    jbuf_put(b, tmp, (size_t)n);
}

/* A JSON string of len bytes (may contain NUL), or null when s is NULL.
 * Bytes >= 0x80 pass through: the tests send UTF-8. */
static void jbuf_str(jbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    if (s == NULL) {
        jbuf_lit(b, "null");
        return;
    }
    jbuf_put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': jbuf_put(b, "\\\"", 2); break;
        case '\\': jbuf_put(b, "\\\\", 2); break;
        case '\n': jbuf_put(b, "\\n", 2); break;
        case '\r': jbuf_put(b, "\\r", 2); break;
        case '\t': jbuf_put(b, "\\t", 2); break;
        case '\b': jbuf_put(b, "\\b", 2); break;
        case '\f': jbuf_put(b, "\\f", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
                jbuf_put(b, esc, sizeof(esc));
            } else {
                jbuf_put(b, (const char *)&s[i], 1);
            }
        }
    }
    jbuf_put(b, "\"", 1);
}

static void jbuf_cstr(jbuf *b, const char *s)
{
    jbuf_str(b, s, s ? strlen(s) : 0);
}

/* Sends the buffer as a JSON reply, handing its ownership to the core. */
static lx_rc jbuf_reply(lx_req *req, int status, jbuf *b)
{
    if (b->has_failed || b->data == NULL) {
        free(b->data);
        return LX_FAIL;
    }
    host->reply(req, status, "application/json", b->data, b->len, free);
    return LX_DONE;
}

/* A query parameter as a non-negative number, or dflt. */
static long long query_num(lx_req *req, const char *name, long long dflt)
{
    const char *v = host->req_query(req, name);
    if (v == NULL || *v == '\0')
        return dflt;
    char *end;
    long long n = strtoll(v, &end, 10);
    return (*end != '\0' || n < 0) ? dflt : n;
}

/* ------------------------------------------------------------------------ */
/* Endpoints */

static lx_rc testplug_echo(lx_req *req, void *state)
{
    (void)state;
    jbuf b = {0};
    size_t body_len = 0;
    const char *body = host->req_body(req, &body_len);
    const char *user = host->ctx_get(req, "test.user");

    jbuf_lit(&b, "{\"method\":");
    jbuf_cstr(&b, host->req_method(req));
    jbuf_lit(&b, ",\"path\":");
    jbuf_cstr(&b, host->req_path(req));
    jbuf_lit(&b, ",\"route\":");
    jbuf_cstr(&b, host->req_route(req));
    jbuf_lit(&b, ",\"id\":");
    jbuf_cstr(&b, host->req_param(req, "id"));
    jbuf_lit(&b, ",\"q\":");
    jbuf_cstr(&b, host->req_query(req, "q"));
    jbuf_lit(&b, ",\"x_test\":");
    jbuf_cstr(&b, host->req_header(req, "X-Test"));
    jbuf_lit(&b, ",\"body\":");
    jbuf_str(&b, body ? body : "", body ? body_len : 0);
    jbuf_printf(&b, ",\"body_len\":%zu", body ? body_len : (size_t)0);
    jbuf_lit(&b, ",\"req_id\":");
    jbuf_cstr(&b, host->req_id(req));
    jbuf_lit(&b, ",\"user\":");
    jbuf_cstr(&b, user);
    jbuf_lit(&b, ",\"content_length\":");
    jbuf_cstr(&b, host->req_header(req, "Content-Length"));
    jbuf_lit(&b, ",\"transfer_encoding\":");
    jbuf_cstr(&b, host->req_header(req, "Transfer-Encoding"));
    jbuf_lit(&b, ",\"head_body_len\":");
    jbuf_cstr(&b, host->ctx_get(req, "test.head_body_len"));
    jbuf_printf(&b, ",\"worker\":%d}", host->worker_index(host->req_worker(req)));
    return jbuf_reply(req, 200, &b);
}

static lx_rc testplug_crash(lx_req *req, void *state)
{
    (void)state;
    host->log(LX_LOG_WARN, "testplug", req, "crashing on purpose");
    raise(SIGSEGV);
    return LX_FAIL; /* not reached */
}

static void testplug_never_abort(lx_req *req, void *arg)
{
    testplug_state *st = arg;

    st->n_aborts++;
    /* The core has answered (504) or the client is gone: end our side. */
    host->reply_error(req, 500, "INTERNAL", "aborted");
}

static lx_rc testplug_never(lx_req *req, void *state)
{
    if (host->req_on_abort(req, testplug_never_abort, state) != LX_OK)
        return LX_FAIL;
    host->log(LX_LOG_INFO, "testplug", req, "never: parked"); /* tests wait for it */
    return LX_ASYNC;
}

typedef struct testplug_wait {
    lx_req *req;
    lx_timer *timer;
    long long ms;
} testplug_wait;

static void testplug_slow_fire(void *arg)
{
    testplug_wait *w = arg;
    char json[64];

    w->timer = NULL; /* a one-shot timer frees itself */
    snprintf(json, sizeof(json), "{\"slept_ms\":%lld}", w->ms);
    host->reply_json(w->req, 200, json); /* ends the request, and w with it */
}

static void testplug_wait_abort(lx_req *req, void *arg)
{
    testplug_wait *w = arg;

    if (w->timer != NULL) {
        host->timer_stop(w->timer);
        w->timer = NULL;
        host->reply_error(req, 500, "INTERNAL", "aborted");
    }
}

static lx_rc testplug_slow(lx_req *req, void *state)
{
    (void)state;
    testplug_wait *w = host->req_alloc(req, sizeof(*w));
    if (w == NULL)
        return LX_FAIL;
    w->req = req;
    w->ms = query_num(req, "ms", 500);
    w->timer = host->timer_start(host->req_worker(req), (uint64_t)w->ms, 0,
                                 testplug_slow_fire, w);
    if (w->timer == NULL)
        return LX_FAIL;
    if (host->req_on_abort(req, testplug_wait_abort, w) != LX_OK) {
        host->timer_stop(w->timer);
        return LX_FAIL;
    }
    host->log(LX_LOG_INFO, "testplug", req, "slow: answering in %lld ms", w->ms);
    return LX_ASYNC;
}

static lx_rc testplug_fail(lx_req *req, void *state)
{
    (void)req;
    (void)state;
    return LX_FAIL;
}

static lx_rc testplug_stream(lx_req *req, void *state)
{
    (void)state;
    char chunk[32];

    if (host->reply_start(req, 200, "text/event-stream") != LX_OK)
        return LX_FAIL;
    for (int i = 1; i <= 3; i++) {
        int n = snprintf(chunk, sizeof(chunk), "data: %d\n\n", i);
        host->reply_chunk(req, chunk, (size_t)n, LX_TRANSIENT);
    }
    host->reply_end(req);
    return LX_DONE;
}

static lx_rc testplug_big(lx_req *req, void *state)
{
    (void)state;
    long long n = query_num(req, "n", 1024);
    if (n == 0) {
        host->reply(req, 200, "application/octet-stream", "", 0, LX_STATIC);
        return LX_DONE;
    }
    char *buf = malloc((size_t)n);
    if (buf == NULL)
        return LX_FAIL;
    memset(buf, 'x', (size_t)n);
    host->reply(req, 200, "application/octet-stream", buf, (size_t)n, free);
    return LX_DONE;
}

typedef struct testplug_job {
    lx_req *req;
    long long ms;
} testplug_job;

static void testplug_offload_work(void *arg)
{
    testplug_job *job = arg;
    struct timespec ts = {.tv_sec = job->ms / 1000, .tv_nsec = (job->ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void testplug_offload_done(void *arg, int status)
{
    testplug_job *job = arg;
    lx_req *req = job->req;

    free(job);
    if (status == LX_OK)
        host->reply_json(req, 200, "{\"offloaded\":true}");
    else
        host->reply_error(req, 503, "UNAVAILABLE", "offload cancelled");
}

static lx_rc testplug_offload(lx_req *req, void *state)
{
    (void)state;
    testplug_job *job = malloc(sizeof(*job));
    if (job == NULL)
        return LX_FAIL;
    job->req = req;
    job->ms = query_num(req, "ms", 100);
    if (host->offload(host->req_worker(req), testplug_offload_work, testplug_offload_done, job) !=
        LX_OK) {
        free(job);
        return LX_FAIL;
    }
    return LX_ASYNC;
}

/* offload_log: pool threads calling host->log, which plugin.h allows. */
typedef struct testplug_logrun {
    lx_req *req;
    char rid[80];
    long long n_jobs, n_lines, pad;
    long long n_done;
} testplug_logrun;

typedef struct testplug_logjob {
    testplug_logrun *run;
    long long index;
} testplug_logjob;

static void testplug_offload_log_work(void *arg)
{
    testplug_logjob *job = arg;
    const testplug_logrun *run = job->run;
    char pad[1024];
    size_t n_pad = (size_t)run->pad < sizeof(pad) - 1 ? (size_t)run->pad : sizeof(pad) - 1;

    memset(pad, 'p', n_pad);
    pad[n_pad] = '\0';
    for (long long i = 0; i < run->n_lines; i++)
        host->log(LX_LOG_INFO, "testplug", NULL, "offload-log rid=%s job=%lld line=%lld pad=%s",
                  run->rid, job->index, i, pad);
}

static void testplug_offload_log_done(void *arg, int status)
{
    testplug_logjob *job = arg;
    testplug_logrun *run = job->run;

    /* The loop logs too, into its own buffer, while other jobs still run. */
    host->log(LX_LOG_INFO, "testplug", run->req, "offload-log done job=%lld status=%d",
              job->index, status);
    free(job);
    if (++run->n_done < run->n_jobs)
        return;
    char body[96];
    snprintf(body, sizeof(body), "{\"jobs\":%lld,\"lines\":%lld}", run->n_jobs, run->n_lines);
    host->reply_json(run->req, 200, body);
    free(run);
}

static lx_rc testplug_offload_log(lx_req *req, void *state)
{
    (void)state;
    testplug_logrun *run = calloc(1, sizeof(*run));
    if (run == NULL)
        return LX_FAIL;
    run->req = req;
    snprintf(run->rid, sizeof(run->rid), "%s", host->req_id(req));
    run->n_jobs = query_num(req, "jobs", 8);
    run->n_lines = query_num(req, "lines", 200);
    run->pad = query_num(req, "pad", 200);
    if (run->n_jobs == 0) {
        free(run);
        host->reply_json(req, 200, "{\"jobs\":0}");
        return LX_DONE;
    }
    for (long long i = 0; i < run->n_jobs; i++) {
        testplug_logjob *job = malloc(sizeof(*job));
        if (job == NULL)
            abort(); /* a test plugin: no partial runs */
        job->run = run;
        job->index = i;
        if (host->offload(host->req_worker(req), testplug_offload_log_work,
                          testplug_offload_log_done, job) != LX_OK)
            abort();
    }
    return LX_ASYNC;
}

static void testplug_fetch_done(const lx_http_response *res, void *arg)
{
    lx_req *req = arg;

    if (res->err != LX_OK) {
        host->reply_error(req, 502, "UPSTREAM", res->errmsg && *res->errmsg ? res->errmsg
                                                                            : "upstream failed");
        return;
    }
    jbuf b = {0};
    jbuf_printf(&b, "{\"status\":%d,\"body\":", res->status);
    jbuf_str(&b, res->body ? res->body : "", res->body ? res->body_len : 0);
    jbuf_lit(&b, "}");
    if (jbuf_reply(req, 200, &b) != LX_DONE)
        host->reply_error(req, 500, "INTERNAL", "out of memory");
}

static lx_rc testplug_fetch(lx_req *req, void *state)
{
    (void)state;
    const char *url = host->req_query(req, "url");
    if (url == NULL) {
        host->reply_error(req, 400, "BAD_REQUEST", "url is required");
        return LX_DONE;
    }
    lx_http_request rq = {
        .struct_size = sizeof(rq),
        .method = "GET",
        .url = url,
        .timeout_ms = 5000,
    };
    int rc = host->http_fetch(host->req_worker(req), &rq, testplug_fetch_done, req, NULL);
    if (rc != LX_OK) {
        host->reply_error(req, 502, "UPSTREAM", "http_fetch refused the call");
        return LX_DONE;
    }
    return LX_ASYNC;
}

static lx_rc testplug_aborts(lx_req *req, void *state)
{
    testplug_state *st = state;
    char json[64];

    snprintf(json, sizeof(json), "{\"aborts\":%ld}", st->n_aborts);
    host->reply_json(req, 200, json);
    return LX_DONE;
}

static lx_rc testplug_state_h(lx_req *req, void *state)
{
    testplug_state *st = state;
    jbuf b = {0};

    jbuf_lit(&b, "{\"label\":");
    jbuf_cstr(&b, st->label);
    jbuf_lit(&b, st->magic == TESTPLUG_ALIVE ? ",\"alive\":true}" : ",\"alive\":false}");
    return jbuf_reply(req, 200, &b);
}

/* ------------------------------------------------------------------------ */
/* Middleware */

static lx_rc testplug_set_user(lx_req *req, void *state)
{
    (void)state;
    char *user = malloc(sizeof("alice"));
    if (user == NULL)
        return LX_FAIL;
    memcpy(user, "alice", sizeof("alice"));
    if (host->ctx_set(req, "test.user", user, free) != LX_OK)
        return LX_FAIL;
    host->req_set_user(req, "alice");
    return LX_NEXT;
}

static lx_rc testplug_deny(lx_req *req, void *state)
{
    (void)state;
    host->reply_error(req, 401, "UNAUTHENTICATED", "sign in first");
    return LX_DONE;
}

static lx_rc testplug_head_gate(lx_req *req, void *state)
{
    (void)state;
    size_t len = 0;
    const char *allow = host->req_header(req, "X-Allow");
    char *seen = malloc(24);

    if (seen == NULL)
        return LX_FAIL;
    host->req_body(req, &len);
    snprintf(seen, 24, "%zu", len);
    if (host->ctx_set(req, "test.head_body_len", seen, free) != LX_OK)
        return LX_FAIL;
    if (allow == NULL || strcmp(allow, "yes") != 0) {
        host->reply_error(req, 401, "UNAUTHENTICATED", "sign in first");
        return LX_DONE;
    }
    return LX_NEXT;
}

static void testplug_async_mw_fire(void *arg)
{
    testplug_wait *w = arg;

    w->timer = NULL;
    host->req_resume(w->req, LX_NEXT);
}

static lx_rc testplug_async_mw(lx_req *req, void *state)
{
    (void)state;
    testplug_wait *w = host->req_alloc(req, sizeof(*w));
    if (w == NULL)
        return LX_FAIL;
    w->req = req;
    w->ms = 50;
    w->timer = host->timer_start(host->req_worker(req), 50, 0, testplug_async_mw_fire, w);
    if (w->timer == NULL)
        return LX_FAIL;
    if (host->req_on_abort(req, testplug_wait_abort, w) != LX_OK) {
        host->timer_stop(w->timer);
        return LX_FAIL;
    }
    return LX_ASYNC;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle */

static int testplug_configure(testplug_state *st, const lx_cfg *cfg, char *err, size_t errlen)
{
    static const char *const allowed[] = {"healthy", "label", NULL};
    const char *label = NULL;
    int is_healthy, rc;

    if (cfg == NULL)
        return LX_OK;
    rc = host->cfg_check_keys(cfg, allowed, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = host->cfg_bool(cfg, "healthy", &is_healthy, err, errlen);
    if (rc == LX_OK)
        st->is_healthy = is_healthy;
    else if (rc != LX_ENOENT)
        return rc;
    rc = host->cfg_string(cfg, "label", &label, err, errlen);
    if (rc == LX_OK)
        snprintf(st->label, sizeof(st->label), "%s", label);
    else if (rc != LX_ENOENT)
        return rc;
    return LX_OK;
}

static int testplug_init(const lx_host *h, const lx_cfg *cfg, void **state, char *err,
                         size_t errlen)
{
    testplug_state *st = calloc(1, sizeof(*st));
    int rc;

    host = h;
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    st->magic = TESTPLUG_ALIVE;
    st->is_healthy = 1;
    rc = testplug_configure(st, cfg, err, errlen);
    if (rc != LX_OK) {
        free(st);
        return rc;
    }
    *state = st;
    return LX_OK;
}

static void testplug_shutdown(void *state)
{
    testplug_state *st = state;

    if (st->label[0] != '\0')
        host->log(LX_LOG_INFO, "testplug", NULL, "shutdown of the state labelled %s", st->label);
    if (st->ran_command) {
        printf("testplug: shutdown\n");
        fflush(stdout);
    }
    st->magic = TESTPLUG_DEAD; /* a use after this is visible, with or without ASan */
    free(st);
}

/* ------------------------------------------------------------------------ */
/* Commands */

static int testplug_cmd_echo_args(void *state, int argc, char **argv, char *err, size_t errlen)
{
    testplug_state *st = state;
    jbuf b = {0};

    st->ran_command = 1;
    jbuf_lit(&b, "{\"argv\":[");
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            jbuf_lit(&b, ",");
        jbuf_cstr(&b, argv[i]);
    }
    jbuf_lit(&b, "],\"healthy\":");
    jbuf_lit(&b, st->is_healthy ? "true" : "false");
    jbuf_lit(&b, ",\"data_dir\":");
    jbuf_cstr(&b, host->data_dir());
    jbuf_lit(&b, "}");
    if (b.has_failed || b.data == NULL) {
        free(b.data);
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    printf("%s\n", b.data);
    fflush(stdout);
    free(b.data);
    return 0;
}

static int testplug_cmd_fail(void *state, int argc, char **argv, char *err, size_t errlen)
{
    testplug_state *st = state;

    st->ran_command = 1;
    if (argc > 1 && strcmp(argv[1], "usage") == 0) {
        snprintf(err, errlen, "wrong arguments on purpose");
        return 2;
    }
    snprintf(err, errlen, "failed on purpose");
    return 1;
}

static const lx_command testplug_commands[] = {
    {.name = "echo-args", .usage = "echo-args ARGS...  print the arguments (tests)",
     .run = testplug_cmd_echo_args},
    {.name = "fail", .usage = "fail [usage]  exit 1 (or 2) with a message (tests)",
     .run = testplug_cmd_fail},
    {.name = NULL},
};

static void testplug_health(void *state, lx_worker *w, lx_health_report_fn report, void *token)
{
    (void)w;
    testplug_state *st = state;

    report(token, st->is_healthy, st->is_healthy ? "fine" : "configured unhealthy");
}

/* watch: the write end is watched for WRITE until n bytes went in; then
 * it is closed and the read end, started paused, is switched on and read
 * to EOF. Both watches stop from inside their callbacks. */
typedef struct testplug_watch_job {
    lx_req *req;
    int fds[2];
    lx_watch *rd, *wr;
    long long want, sent, got;
} testplug_watch_job;

static void testplug_watch_end(testplug_watch_job *j, int ok)
{
    char buf[64];

    if (j->rd != NULL)
        host->watch_stop(j->rd);
    if (j->wr != NULL)
        host->watch_stop(j->wr);
    if (j->fds[0] >= 0)
        close(j->fds[0]);
    if (j->fds[1] >= 0)
        close(j->fds[1]);
    if (ok) {
        snprintf(buf, sizeof(buf), "{\"watched\":%lld}", j->got);
        host->reply_json(j->req, 200, buf);
    } else {
        host->reply_error(j->req, 500, "WATCH_FAILED", "the pipe failed");
    }
    free(j);
}

static void testplug_watch_rd(int fd, unsigned ready, void *arg)
{
    testplug_watch_job *j = arg;
    char buf[4096];
    ssize_t n;

    if (!(ready & LX_WATCH_READ))
        return;
    n = read(fd, buf, sizeof(buf));
    if (n > 0)
        j->got += n;
    else if (n == 0)
        testplug_watch_end(j, j->got == j->want);
    else if (errno != EAGAIN && errno != EINTR)
        testplug_watch_end(j, 0);
}

static void testplug_watch_wr(int fd, unsigned ready, void *arg)
{
    testplug_watch_job *j = arg;
    char buf[8192];
    long long left = j->want - j->sent;
    ssize_t n;

    if (!(ready & LX_WATCH_WRITE))
        return;
    memset(buf, 'w', sizeof(buf));
    n = left > 0 ? write(fd, buf, left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf)) : 0;
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        testplug_watch_end(j, 0);
        return;
    }
    if (n > 0)
        j->sent += n;
    if (j->sent == j->want) {
        host->watch_stop(j->wr);
        j->wr = NULL;
        close(j->fds[1]);
        j->fds[1] = -1;
        host->watch_set(j->rd, LX_WATCH_READ);
    } else if (j->sent - j->got > 32768) {
        /* let the reader drain: both directions at once on the loop */
        host->watch_set(j->rd, LX_WATCH_READ);
    }
}

static lx_rc testplug_watch(lx_req *req, void *state)
{
    testplug_watch_job *j;
    lx_worker *w = host->req_worker(req);

    (void)state;
    j = calloc(1, sizeof(*j));
    if (j == NULL)
        return LX_FAIL;
    j->req = req;
    j->want = query_num(req, "n", 3);
    if (pipe2(j->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(j);
        return LX_FAIL;
    }
    j->rd = host->watch_start(w, j->fds[0], 0, testplug_watch_rd, j);
    j->wr = host->watch_start(w, j->fds[1], LX_WATCH_WRITE, testplug_watch_wr, j);
    if (j->rd == NULL || j->wr == NULL) {
        testplug_watch_end(j, 0);
        return LX_ASYNC;
    }
    return LX_ASYNC;
}

static const lx_handler testplug_handlers[] = {
    {.name = "echo", .fn = testplug_echo, .flags = LX_H_ENDPOINT},
    {.name = "crash", .fn = testplug_crash, .flags = LX_H_ENDPOINT},
    {.name = "never", .fn = testplug_never, .flags = LX_H_ENDPOINT},
    {.name = "slow", .fn = testplug_slow, .flags = LX_H_ENDPOINT},
    {.name = "fail", .fn = testplug_fail, .flags = LX_H_ENDPOINT},
    {.name = "stream", .fn = testplug_stream, .flags = LX_H_ENDPOINT},
    {.name = "big", .fn = testplug_big, .flags = LX_H_ENDPOINT},
    {.name = "offload", .fn = testplug_offload, .flags = LX_H_ENDPOINT},
    {.name = "offload_log", .fn = testplug_offload_log, .flags = LX_H_ENDPOINT},
    {.name = "fetch", .fn = testplug_fetch, .flags = LX_H_ENDPOINT},
    {.name = "aborts", .fn = testplug_aborts, .flags = LX_H_ENDPOINT},
    {.name = "state", .fn = testplug_state_h, .flags = LX_H_ENDPOINT},
    {.name = "watch", .fn = testplug_watch, .flags = LX_H_ENDPOINT},
    {.name = "set_user", .fn = testplug_set_user, .flags = LX_H_MIDDLEWARE},
    {.name = "deny", .fn = testplug_deny, .flags = LX_H_MIDDLEWARE},
    {.name = "async_mw", .fn = testplug_async_mw, .flags = LX_H_MIDDLEWARE},
    {.name = "head_gate", .fn = testplug_head_gate, .flags = LX_H_MIDDLEWARE | LX_H_HEAD_ONLY},
    {.name = "head_async", .fn = testplug_async_mw, .flags = LX_H_MIDDLEWARE | LX_H_HEAD_ONLY},
    {.name = NULL},
};

static lx_plugin testplug_plugin = {
    LX_PLUGIN_HEADER,
    .flags = LX_PLUGIN_USES_HTTP_CLIENT,
    .name = "testplug",
    .version = "1.0.0",
    .description = "behaves, and misbehaves, for the integration tests",
    .handlers = testplug_handlers,
    .init = testplug_init,
    .shutdown = testplug_shutdown,
    .health = testplug_health,
    .commands = testplug_commands,
};

/* "testplug_dup" when this copy was loaded from .../testplug_dup.so: the
 * descriptor's, so process-wide by nature (set once, the same for every
 * generation). */
static char testplug_name[64];

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    Dl_info info;

    if (testplug_name[0] == '\0') {
        snprintf(testplug_name, sizeof(testplug_name), "testplug");
        if (dladdr((void *)&testplug_plugin, &info) != 0 && info.dli_fname != NULL) {
            const char *base = strrchr(info.dli_fname, '/');
            base = base ? base + 1 : info.dli_fname;
            size_t len = strcspn(base, ".");
            if (strncmp(base, "testplug_", 9) == 0 && len < sizeof(testplug_name))
                snprintf(testplug_name, sizeof(testplug_name), "%.*s", (int)len, base);
        }
        testplug_plugin.name = testplug_name;
    }
    return &testplug_plugin;
}
