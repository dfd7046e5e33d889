#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define LX_LOG_BUF 65536
#define LX_LOG_LINE 4096 /* a line is at most this long */
_Static_assert(LX_LOG_LINE <= PIPE_BUF, "a log line must fit one atomic write to a pipe");

/*
 * Threads. The settings are atomics (read on every call by any thread,
 * written by lx_log_setup). The buffer belongs to the thread that last
 * called lx_log_setup(..., is_buffered = 1), a worker's loop thread: only
 * that thread appends to it and flushes it, with no lock. Any other thread
 * (an offload pool thread calling host->log) writes each line straight to
 * stdout with one write(2). Every write, a buffered flush included, is at
 * most PIPE_BUF bytes of whole lines, which POSIX makes atomic on a pipe,
 * so lines of different threads and processes never tear into each other;
 * a pool thread's line may come before lines the loop logged earlier and
 * has still buffered.
 */
static struct {
    atomic_int level;
    atomic_int format;
    atomic_int pid;
} lx_log_st = {LX_LOG_INFO, LX_LOG_FORMAT_JSON, 0};

/* The loop thread's buffer. */
static struct {
    size_t len;
    char buf[LX_LOG_BUF];
} lx_log_buf;

/* Set on the thread that owns lx_log_buf. */
static _Thread_local int lx_log_is_buffered;

/* Each thread's cache of the date part of the time, recomputed once a second. */
static _Thread_local struct {
    time_t sec;
    char text[32]; /* "2026-11-28T13:24:10" */
} lx_log_clock;

static const char *const lx_level_names[] = {"error", "warn", "info", "debug"};
static const char *const lx_level_names_text[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};

void lx_log_setup(int level, int format, int is_buffered)
{
    if (lx_log_is_buffered && !is_buffered)
        lx_log_flush();
    atomic_store_explicit(&lx_log_st.level, level, memory_order_relaxed);
    atomic_store_explicit(&lx_log_st.format, format, memory_order_relaxed);
    lx_log_is_buffered = is_buffered;
    if (atomic_load_explicit(&lx_log_st.pid, memory_order_relaxed) == 0)
        atomic_store_explicit(&lx_log_st.pid, (int)getpid(), memory_order_relaxed);
}

void lx_log_set_pid(pid_t pid)
{
    atomic_store_explicit(&lx_log_st.pid, (int)pid, memory_order_relaxed);
    lx_log_buf.len = 0; /* lines buffered by the parent are the parent's to write */
}

static int lx_log_pid(void)
{
    return atomic_load_explicit(&lx_log_st.pid, memory_order_relaxed);
}

static int lx_log_format(void)
{
    return atomic_load_explicit(&lx_log_st.format, memory_order_relaxed);
}

int lx_log_enabled(int level)
{
    return level <= atomic_load_explicit(&lx_log_st.level, memory_order_relaxed);
}

size_t lx_json_escape(char *dst, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    if (cap == 0)
        return 0;
    if (s == NULL) {
        dst[0] = '\0';
        return 0;
    }
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[7];
        size_t k;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            k = 2;
        } else if (c == '\t') {
            memcpy(esc, "\\t", 2);
            k = 2;
        } else if (c == '\r') {
            memcpy(esc, "\\r", 2);
            k = 2;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        } else {
            esc[0] = (char)c;
            k = 1;
        }
        if (n + k >= cap)
            break;
        memcpy(dst + n, esc, k);
        n += k;
    }
    dst[n] = '\0';
    return n;
}

/* "2026-11-28T13:24:10.123Z", recomputing the date part once a second. */
static void lx_log_time(char *out, size_t cap)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    if (tv.tv_sec != lx_log_clock.sec || lx_log_clock.text[0] == '\0') {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(lx_log_clock.text, sizeof(lx_log_clock.text), "%Y-%m-%dT%H:%M:%S", &tm);
        lx_log_clock.sec = tv.tv_sec;
    }
    size_t n = strlen(lx_log_clock.text);
    int ms = (int)(tv.tv_usec / 1000);
    if (cap < n + 6)
        return;
    memcpy(out, lx_log_clock.text, n);
    out[n] = '.';
    out[n + 1] = (char)('0' + ms / 100);
    out[n + 2] = (char)('0' + ms / 10 % 10);
    out[n + 3] = (char)('0' + ms % 10);
    out[n + 4] = 'Z';
    out[n + 5] = '\0';
}

static void lx_log_write_all(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDOUT_FILENO, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += w;
        len -= (size_t)w;
    }
}

/* Writes whole lines in pieces of at most PIPE_BUF bytes, each ending at a
 * line's end, so that no other writer's line lands inside one of ours. */
static void lx_log_write_lines(const char *p, size_t len)
{
    while (len > 0) {
        size_t n = len;
        if (n > PIPE_BUF) {
            n = PIPE_BUF;
            while (n > 0 && p[n - 1] != '\n')
                n--;
            if (n == 0) /* no line is this long (LX_LOG_LINE), but never loop */
                n = PIPE_BUF;
        }
        lx_log_write_all(p, n);
        p += n;
        len -= n;
    }
}

size_t lx_log_flush(void)
{
    if (lx_log_is_buffered && lx_log_buf.len > 0) {
        lx_log_write_lines(lx_log_buf.buf, lx_log_buf.len);
        lx_log_buf.len = 0;
    }
    return 0;
}

size_t lx_log_pending(void)
{
    return lx_log_is_buffered ? lx_log_buf.len : 0;
}

static void lx_log_emit(const char *line, size_t len, int level)
{
    if (!lx_log_is_buffered) { /* the master, -t, or a thread other than the loop */
        lx_log_write_lines(line, len);
        return;
    }
    if (lx_log_buf.len + len > sizeof(lx_log_buf.buf))
        lx_log_flush();
    memcpy(lx_log_buf.buf + lx_log_buf.len, line, len);
    lx_log_buf.len += len;
    if (level <= LX_LOG_WARN)
        lx_log_flush();
}

void lx_logv(int level, const char *src, const char *req_id, const char *fmt, va_list ap)
{
    char msg[LX_LOG_LINE / 2], emsg[LX_LOG_LINE / 2], ts[40], line[LX_LOG_LINE];
    int n;

    if (level < LX_LOG_ERROR)
        level = LX_LOG_ERROR;
    if (level > LX_LOG_DEBUG)
        level = LX_LOG_DEBUG;
    if (!lx_log_enabled(level))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    lx_log_time(ts, sizeof(ts));

    if (lx_log_format() == LX_LOG_FORMAT_TEXT) {
        if (req_id != NULL)
            n = snprintf(line, sizeof(line), "%s %s %s[%d] req=%s: %s\n", ts,
                         lx_level_names_text[level], src ? src : "core", lx_log_pid(), req_id, msg);
        else
            n = snprintf(line, sizeof(line), "%s %s %s[%d]: %s\n", ts, lx_level_names_text[level],
                         src ? src : "core", lx_log_pid(), msg);
    } else {
        char esrc[64], erid[160];
        lx_json_escape(emsg, sizeof(emsg), msg);
        lx_json_escape(esrc, sizeof(esrc), src ? src : "core");
        if (req_id != NULL) {
            lx_json_escape(erid, sizeof(erid), req_id);
            n = snprintf(line, sizeof(line),
                         "{\"time\":\"%s\",\"level\":\"%s\",\"src\":\"%s\",\"pid\":%d,"
                         "\"req_id\":\"%s\",\"msg\":\"%s\"}\n",
                         ts, lx_level_names[level], esrc, lx_log_pid(), erid, emsg);
        } else {
            n = snprintf(line, sizeof(line),
                         "{\"time\":\"%s\",\"level\":\"%s\",\"src\":\"%s\",\"pid\":%d,"
                         "\"msg\":\"%s\"}\n",
                         ts, lx_level_names[level], esrc, lx_log_pid(), emsg);
        }
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    lx_log_emit(line, (size_t)n, level);
}

void lx_log(int level, const char *src, const char *req_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lx_logv(level, src, req_id, fmt, ap);
    va_end(ap);
}

/* A bounded line writer for the access log: no printf on the hot path. */
typedef struct lx_wr {
    char *p;
    size_t len, cap;
} lx_wr;

static inline void lx_wr_mem(lx_wr *w, const char *s, size_t n)
{
    if (n > w->cap - w->len)
        n = w->cap - w->len;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

#define lx_wr_lit(w, s) lx_wr_mem((w), (s), sizeof(s) - 1)

static void lx_wr_u64(lx_wr *w, uint64_t v)
{
    char d[24];
    size_t n = 0;
    do {
        d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    lx_wr_mem(w, d + sizeof(d) - n, n);
}

/* A JSON string value with its quotes; "null" for NULL. */
static void lx_wr_jstr(lx_wr *w, const char *s, size_t max)
{
    if (s == NULL) {
        lx_wr_lit(w, "null");
        return;
    }
    lx_wr_lit(w, "\"");
    const char *start = s;
    size_t n = 0;
    for (; s[n] != '\0' && n < max; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            break;
    }
    if (s[n] == '\0' || n == max) {
        lx_wr_mem(w, start, n); /* the common case: nothing to escape */
    } else {
        char esc[1024];
        size_t k = lx_json_escape(esc, sizeof(esc) < max ? sizeof(esc) : max, s);
        lx_wr_mem(w, esc, k);
    }
    lx_wr_lit(w, "\"");
}

/* Whether a query parameter's name says it carries a credential. */
static int lx_log_is_secret_name(const char *name, size_t len)
{
    static const char *const words[] = {"token", "key", "secret",  "pass",
                                        "auth",  "sig", "session", "credential"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t wl = strlen(words[i]);
        for (size_t k = 0; k + wl <= len; k++)
            if (strncasecmp(name + k, words[i], wl) == 0)
                return 1;
    }
    return 0;
}

void lx_log_redact_query(char *dst, size_t cap, const char *query)
{
    static const char redacted[] = "[REDACTED]";
    size_t n = 0;

    if (cap == 0)
        return;
    for (const char *p = query; *p != '\0';) {
        const char *end = strchr(p, '&');
        if (end == NULL)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *val_end = end;
        if (eq != NULL && lx_log_is_secret_name(p, (size_t)(eq - p)))
            val_end = eq + 1; /* keep "name=", then the marker */
        for (const char *c = p; c < val_end && n + 1 < cap; c++)
            dst[n++] = *c;
        if (val_end != end)
            for (const char *c = redacted; *c != '\0' && n + 1 < cap; c++)
                dst[n++] = *c;
        if (*end == '&' && n + 1 < cap)
            dst[n++] = '&';
        p = *end == '&' ? end + 1 : end;
    }
    dst[n] = '\0';
}

void lx_log_access(const lx_access *a)
{
    char ts[40], line[LX_LOG_LINE];
    lx_wr w = {line, 0, sizeof(line) - 1};

    if (!lx_log_enabled(LX_LOG_INFO))
        return;
    lx_log_time(ts, sizeof(ts));
    if (lx_log_format() == LX_LOG_FORMAT_TEXT) {
        char rid[160], path[1024];
        lx_json_escape(rid, sizeof(rid), a->req_id);
        lx_json_escape(path, sizeof(path), a->path);
        if (a->query != NULL) {
            size_t plen = strlen(path);
            if (plen + 1 < sizeof(path)) {
                path[plen] = '?';
                lx_json_escape(path + plen + 1, sizeof(path) - plen - 1, a->query);
            }
        }
        int n =
            snprintf(line, sizeof(line), "%s INFO  access[%d] req=%s: %s %s %d %zuB %lluus%s%s\n",
                     ts, lx_log_pid(), rid, a->method ? a->method : "-", path, a->status, a->bytes,
                     (unsigned long long)a->dur_us, a->uid ? " uid=" : "", a->uid ? a->uid : "");
        if (n < 0)
            return;
        w.len = (size_t)n < sizeof(line) - 1 ? (size_t)n : sizeof(line) - 2;
    } else {
        lx_wr_lit(&w, "{\"time\":\"");
        lx_wr_mem(&w, ts, strlen(ts));
        lx_wr_lit(&w, "\",\"level\":\"info\",\"src\":\"access\",\"pid\":");
        lx_wr_u64(&w, (uint64_t)lx_log_pid());
        lx_wr_lit(&w, ",\"msg\":\"request\",\"worker\":");
        lx_wr_u64(&w, (uint64_t)(a->worker < 0 ? 0 : a->worker));
        lx_wr_lit(&w, ",\"req_id\":");
        lx_wr_jstr(&w, a->req_id ? a->req_id : "", 128);
        lx_wr_lit(&w, ",\"method\":");
        lx_wr_jstr(&w, a->method ? a->method : "", 16);
        lx_wr_lit(&w, ",\"route\":");
        lx_wr_jstr(&w, a->route, 512);
        lx_wr_lit(&w, ",\"path\":");
        lx_wr_jstr(&w, a->path ? a->path : "", 1024);
        if (a->query != NULL) {
            lx_wr_lit(&w, ",\"query\":");
            lx_wr_jstr(&w, a->query, 1024);
        }
        lx_wr_lit(&w, ",\"status\":");
        lx_wr_u64(&w, (uint64_t)(a->status < 0 ? 0 : a->status));
        lx_wr_lit(&w, ",\"bytes\":");
        lx_wr_u64(&w, (uint64_t)a->bytes);
        lx_wr_lit(&w, ",\"dur_us\":");
        lx_wr_u64(&w, a->dur_us);
        lx_wr_lit(&w, ",\"uid\":");
        lx_wr_jstr(&w, a->uid, 256);
        lx_wr_lit(&w, "}");
    }
    line[w.len++] = '\n';
    lx_log_emit(line, w.len, LX_LOG_INFO);
}
