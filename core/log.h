/*
 * Logging: one line per event on stdout, JSON (the default, for machines)
 * or text (for people). Workers buffer lines and flush them on a short
 * timer, when the buffer fills, and at once for warnings and errors, so
 * that the per-request access line costs a memcpy, not a write(2).
 *
 * Threads: lx_log, lx_logv, lx_log_access and lx_log_enabled may be called
 * from any thread. Only the thread that called lx_log_setup(..., 1) (a
 * worker's loop) buffers; any other thread writes each line at once with
 * one write(2). A line is at most PIPE_BUF bytes and every write is whole
 * lines of at most PIPE_BUF bytes, so lines never tear, on a pipe too.
 * lx_log_setup, lx_log_set_pid, lx_log_flush and lx_log_pending are for
 * the loop thread (or the single-threaded master).
 */
#ifndef LX_CORE_LOG_H
#define LX_CORE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lexiaid/plugin.h>

/* One access-log record; every string borrowed for the call, may be NULL. */
typedef struct lx_access {
    const char *req_id;
    const char *method;
    const char *route;  /* matched pattern, NULL when none matched */
    const char *path;   /* raw path without the query */
    const char *query;  /* logged when set (already redacted), else left out */
    int status;
    size_t bytes;       /* response body bytes */
    uint64_t dur_us;
    const char *uid;
    int worker;
} lx_access;

/* Sets level (LX_LOG_*), format (LX_LOG_FORMAT_*), and whether lines are
 * buffered (workers) or written at once (master, -t). */
void lx_log_setup(int level, int format, int is_buffered);
/* Call after fork() so lines carry the right pid. */
void lx_log_set_pid(pid_t pid);
int lx_log_enabled(int level);

void lx_log(int level, const char *src, const char *req_id, const char *fmt, ...) LX_PRINTF(4, 5);
void lx_logv(int level, const char *src, const char *req_id, const char *fmt, va_list ap);
void lx_log_access(const lx_access *a);

/* Writes out buffered lines. Returns the bytes still pending (0 normally). */
size_t lx_log_flush(void);
size_t lx_log_pending(void);

/* Copies a raw query string into dst (always NUL-terminated, truncated to
 * cap-1), replacing the value of every parameter whose name holds token,
 * key, secret, pass, auth, sig, session or credential (any case) by
 * "[REDACTED]". */
void lx_log_redact_query(char *dst, size_t cap, const char *query);

/* JSON-escapes s (without quotes) into dst; always NUL-terminates; returns
 * the length written, truncated to cap-1. Control bytes and non-ASCII
 * bytes become \u00XX so the output is always valid JSON. */
size_t lx_json_escape(char *dst, size_t cap, const char *s);

#endif
