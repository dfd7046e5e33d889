#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define LX_LOG_BUF 65536
#define LX_LOG_LINE 4096

static struct {
    int level;
    int format;
    int is_buffered;
    pid_t pid;
    size_t len;
    time_t cached_sec;
    char cached_time[32]; /* "2026-11-28T13:24:10" */
    char buf[LX_LOG_BUF];
} lx_log_st = {LX_LOG_INFO, LX_LOG_FORMAT_JSON, 0, 0, 0, 0, "", ""};

static const char *const lx_level_names[] = {"error", "warn", "info", "debug"};
static const char *const lx_level_names_text[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};

void lx_log_setup(int level, int format, int is_buffered)
{
    if (lx_log_st.len > 0 && !is_buffered)
        lx_log_flush();
    lx_log_st.level = level;
    lx_log_st.format = format;
    lx_log_st.is_buffered = is_buffered;
    if (lx_log_st.pid == 0)
        lx_log_st.pid = getpid();
}

void lx_log_set_pid(pid_t pid)
{
    lx_log_st.pid = pid;
    lx_log_st.len = 0; /* lines buffered by the parent are the parent's to write */
}

int lx_log_enabled(int level)
{
    return level <= lx_log_st.level;
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
    if (tv.tv_sec != lx_log_st.cached_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(lx_log_st.cached_time, sizeof(lx_log_st.cached_time), "%Y-%m-%dT%H:%M:%S", &tm);
        lx_log_st.cached_sec = tv.tv_sec;
    }
    snprintf(out, cap, "%s.%03dZ", lx_log_st.cached_time, (int)(tv.tv_usec / 1000));
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

size_t lx_log_flush(void)
{
    if (lx_log_st.len > 0) {
        lx_log_write_all(lx_log_st.buf, lx_log_st.len);
        lx_log_st.len = 0;
    }
    return 0;
}

size_t lx_log_pending(void)
{
    return lx_log_st.len;
}

static void lx_log_emit(const char *line, size_t len, int level)
{
    if (!lx_log_st.is_buffered) {
        lx_log_write_all(line, len);
        return;
    }
    if (lx_log_st.len + len > sizeof(lx_log_st.buf))
        lx_log_flush();
    if (len > sizeof(lx_log_st.buf)) {
        lx_log_write_all(line, len);
        return;
    }
    memcpy(lx_log_st.buf + lx_log_st.len, line, len);
    lx_log_st.len += len;
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

    if (lx_log_st.format == LX_LOG_FORMAT_TEXT) {
        if (req_id != NULL)
            n = snprintf(line, sizeof(line), "%s %s %s[%d] req=%s: %s\n", ts,
                         lx_level_names_text[level], src ? src : "core", (int)lx_log_st.pid,
                         req_id, msg);
        else
            n = snprintf(line, sizeof(line), "%s %s %s[%d]: %s\n", ts, lx_level_names_text[level],
                         src ? src : "core", (int)lx_log_st.pid, msg);
    } else {
        char esrc[64], erid[160];
        lx_json_escape(emsg, sizeof(emsg), msg);
        lx_json_escape(esrc, sizeof(esrc), src ? src : "core");
        if (req_id != NULL) {
            lx_json_escape(erid, sizeof(erid), req_id);
            n = snprintf(line, sizeof(line),
                         "{\"time\":\"%s\",\"level\":\"%s\",\"src\":\"%s\",\"pid\":%d,"
                         "\"req_id\":\"%s\",\"msg\":\"%s\"}\n",
                         ts, lx_level_names[level], esrc, (int)lx_log_st.pid, erid, emsg);
        } else {
            n = snprintf(line, sizeof(line),
                         "{\"time\":\"%s\",\"level\":\"%s\",\"src\":\"%s\",\"pid\":%d,"
                         "\"msg\":\"%s\"}\n",
                         ts, lx_level_names[level], esrc, (int)lx_log_st.pid, emsg);
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

void lx_log_access(const lx_access *a)
{
    char ts[40], line[LX_LOG_LINE], rid[160], route[512], path[1024], uid[300];
    int n;

    if (!lx_log_enabled(LX_LOG_INFO))
        return;
    lx_log_time(ts, sizeof(ts));
    lx_json_escape(rid, sizeof(rid), a->req_id);
    lx_json_escape(path, sizeof(path), a->path);
    if (lx_log_st.format == LX_LOG_FORMAT_TEXT) {
        n = snprintf(line, sizeof(line), "%s INFO  access[%d] req=%s: %s %s %d %zuB %lluus%s%s\n",
                     ts, (int)lx_log_st.pid, rid, a->method ? a->method : "-", path, a->status,
                     a->bytes, (unsigned long long)a->dur_us, a->uid ? " uid=" : "",
                     a->uid ? a->uid : "");
    } else {
        char method[16];
        lx_json_escape(method, sizeof(method), a->method ? a->method : "");
        if (a->route != NULL) {
            route[0] = '"';
            size_t k = lx_json_escape(route + 1, sizeof(route) - 2, a->route);
            route[k + 1] = '"';
            route[k + 2] = '\0';
        } else {
            memcpy(route, "null", 5);
        }
        if (a->uid != NULL) {
            uid[0] = '"';
            size_t k = lx_json_escape(uid + 1, sizeof(uid) - 2, a->uid);
            uid[k + 1] = '"';
            uid[k + 2] = '\0';
        } else {
            memcpy(uid, "null", 5);
        }
        n = snprintf(line, sizeof(line),
                     "{\"time\":\"%s\",\"level\":\"info\",\"src\":\"access\",\"pid\":%d,"
                     "\"msg\":\"request\",\"worker\":%d,\"req_id\":\"%s\",\"method\":\"%s\",\"route\":%s,"
                     "\"path\":\"%s\",\"status\":%d,\"bytes\":%zu,\"dur_us\":%llu,\"uid\":%s}\n",
                     ts, (int)lx_log_st.pid, a->worker, rid, method, route, path, a->status,
                     a->bytes, (unsigned long long)a->dur_us, uid);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    lx_log_emit(line, (size_t)n, LX_LOG_INFO);
}
