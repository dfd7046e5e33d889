/*
 * The runner of lexiaid-extract: one child per file, fed and drained
 * through three non-blocking pipes in a poll() loop, killed at its
 * deadline, always reaped. See extract.h for the contract and the child's
 * protocol.
 *
 * Runs on offload-pool threads, several at once: no global state. The
 * child is started by the SDK's lx_child_spawn (<lexiaid/child.h>, shared
 * with the speech plugin's helpers): close-on-exec pipes (a child spawned by
 * another thread never inherits ours), a clean signal state, nothing open
 * above fd 2.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lexiaid/child.h>
#include <lexiaid/plugin.h>

#include "errf.h"
#include "extract.h"

/* Tesseract's OpenMP would otherwise start a thread per core in every
 * child (libgomp reads it before main). */
static const char *const ex_env[] = {"OMP_THREAD_LIMIT=1", NULL};

#define EX_DEFAULT_TIMEOUT_MS 120000L     /* when o->timeout_ms <= 0 */
#define EX_DEFAULT_MAX_OUTPUT STORAGE_EXTRACT_MAX_OUTPUT
#define EX_HEADER_MAX 64                  /* "LXEXTRACT 1 pages=N\n" */
#define EX_STDERR_KEEP 1024               /* the child's message; the rest is drained */
#define EX_IO_CHUNK 65536

/* The state of one run, so that every exit path cleans up the same way. */
typedef struct ex_run {
    lx_child child; /* pid (> 0 until reaped) and our ends of its three pipes */
    char *out;      /* the child's stdout */
    size_t out_len, out_cap;
    char msg[EX_STDERR_KEEP + 1]; /* the start of the child's stderr */
    size_t msg_len;
    int saw_epipe; /* a write raised SIGPIPE (blocked, to be consumed) */
} ex_run;

static long long ex_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ex_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Reads what is there from stdout. 0, 1 at EOF, -1 over the cap, -2 error. */
static int ex_read_out(ex_run *r, size_t cap)
{
    for (;;) {
        ssize_t n;

        if (r->out_cap - r->out_len < EX_IO_CHUNK) {
            size_t want = r->out_cap ? r->out_cap * 2 : 2 * EX_IO_CHUNK;
            char *p;

            if (want > cap + EX_IO_CHUNK + 1)
                want = cap + EX_IO_CHUNK + 1;
            if (want <= r->out_cap)
                return -1;
            p = realloc(r->out, want);
            if (p == NULL)
                return -2;
            r->out = p;
            r->out_cap = want;
        }
        n = read(r->child.out_fd, r->out + r->out_len, r->out_cap - r->out_len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -2;
        if (n == 0)
            return 1;
        r->out_len += (size_t)n;
        if (r->out_len > cap)
            return -1;
    }
}

/* Reads what is there from stderr, keeping the start. 0, or 1 at EOF. */
static int ex_read_err(ex_run *r)
{
    char chunk[4096];

    for (;;) {
        ssize_t n = read(r->child.err_fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
        if (n == 0)
            return 1;
        if (r->msg_len < EX_STDERR_KEEP) {
            size_t take = EX_STDERR_KEEP - r->msg_len;

            if (take > (size_t)n)
                take = (size_t)n;
            memcpy(r->msg + r->msg_len, chunk, take);
            r->msg_len += take;
        }
    }
}

/* Writes what the pipe takes. 0, or 1 when stdin is done (all written, or
 * the child will not read more). */
static int ex_write_in(ex_run *r, const char *data, size_t len, size_t *written)
{
    while (*written < len) {
        size_t chunk = len - *written > EX_IO_CHUNK ? EX_IO_CHUNK : len - *written;
        ssize_t n = write(r->child.in_fd, data + *written, chunk);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0) {
            if (errno == EPIPE)
                r->saw_epipe = 1;
            return 1; /* the child stopped reading: its answer says why */
        }
        *written += (size_t)n;
    }
    return 1;
}

/* The child's message: the first line of its stderr, printable. */
static void ex_child_message(const ex_run *r, char *err, size_t errlen, int code)
{
    char line[EX_STDERR_KEEP + 1];
    size_t n = 0;

    for (size_t i = 0; i < r->msg_len && r->msg[i] != '\n'; i++) {
        unsigned char c = (unsigned char)r->msg[i];

        line[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n] = '\0';
    if (n > 0)
        storage_errf(err, errlen, "%s", line);
    else
        storage_errf(err, errlen, "the extractor failed (exit status %d)", code);
}

/* Checks the header and moves the text to the start of r->out. */
static int ex_parse(ex_run *r, size_t max_output, storage_extract_result *res, char *err,
                    size_t errlen)
{
    static const char magic[] = "LXEXTRACT 1 pages=";
    const size_t mlen = sizeof(magic) - 1;
    char *nl, *end;
    long long pages;
    size_t hlen, tlen;

    nl = r->out != NULL ? memchr(r->out, '\n', r->out_len) : NULL;
    if (nl == NULL || r->out_len < mlen || memcmp(r->out, magic, mlen) != 0 || r->out[mlen] < '0' ||
        r->out[mlen] > '9')
        goto bad;
    errno = 0;
    pages = strtoll(r->out + mlen, &end, 10);
    if (errno != 0 || end != nl || pages < 0)
        goto bad;
    hlen = (size_t)(nl - r->out) + 1;
    tlen = r->out_len - hlen;
    if (tlen > max_output) {
        storage_errf(err, errlen, "the text is larger than %zu bytes", max_output);
        return LX_ETOOBIG;
    }
    memmove(r->out, r->out + hlen, tlen);
    r->out[tlen] = '\0';
    res->text = r->out;
    res->len = tlen;
    res->pages = pages;
    r->out = NULL;
    r->out_len = r->out_cap = 0;
    return LX_OK;
bad:
    storage_errf(err, errlen, "the extractor gave an answer that is not in its protocol");
    return LX_ERROR;
}

/* The deadline as a person reads it. */
static void ex_err_timeout(char *err, size_t errlen, long timeout_ms)
{
    if (timeout_ms % 1000 == 0)
        storage_errf(err, errlen, "text extraction took longer than %ld s", timeout_ms / 1000);
    else
        storage_errf(err, errlen, "text extraction took longer than %ld ms", timeout_ms);
}

/* Whether cancel_fd (-1: none) is readable now. */
static int ex_is_cancelled(int cancel_fd)
{
    struct pollfd p = {.fd = cancel_fd, .events = POLLIN};

    return cancel_fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

int storage_extract(const storage_extract_opts *o, const char *file_type, const void *data,
                    size_t len, storage_extract_result *res, char *err, size_t errlen)
{
    return storage_extract_cancellable(o, -1, file_type, data, len, res, err, errlen);
}

int storage_extract_cancellable(const storage_extract_opts *o, int cancel_fd,
                                const char *file_type, const void *data, size_t len,
                                storage_extract_result *res, char *err, size_t errlen)
{
    ex_run r = {.child = {.pid = 0, .in_fd = -1, .out_fd = -1, .err_fd = -1}};
    long timeout_ms;
    size_t max_output, written = 0;
    char mem_arg[32], cpu_arg[32];
    char *argv[8];
    int argc = 0, rc, sp;
    long long deadline, wait_ms = 1;
    sigset_t pipe_set, old_mask, pending;
    int had_pipe_pending = 0;

    if (res != NULL)
        memset(res, 0, sizeof(*res));
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (o == NULL || o->program == NULL || file_type == NULL || res == NULL ||
        (data == NULL && len > 0) || file_type[0] == '\0' || file_type[0] == '-') {
        storage_errf(err, errlen, "bad arguments to the text extractor");
        return LX_EINVAL;
    }
    timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : EX_DEFAULT_TIMEOUT_MS;
    max_output = o->max_output > 0 ? o->max_output : EX_DEFAULT_MAX_OUTPUT;
    if (max_output > SIZE_MAX / 4)
        max_output = SIZE_MAX / 4; /* room for the header and a read */

    argv[argc++] = (char *)o->program;
    if (o->max_mem > 0) {
        snprintf(mem_arg, sizeof(mem_arg), "%zu", o->max_mem);
        argv[argc++] = "--max-mem";
        argv[argc++] = mem_arg;
    }
    /* CPU time is a backstop under the wall clock: a second more than it */
    snprintf(cpu_arg, sizeof(cpu_arg), "%ld", (timeout_ms + 999) / 1000 + 1);
    argv[argc++] = "--max-cpu";
    argv[argc++] = cpu_arg;
    argv[argc++] = (char *)file_type;
    argv[argc] = NULL;

    /* A write to a pipe whose reader died raises SIGPIPE for this thread;
     * the worker ignores it, but be safe anywhere: block it here and
     * consume the one our write raised before unblocking. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
        had_pipe_pending = 1;

    deadline = ex_now_ms() + timeout_ms;
    sp = lx_child_spawn(&r.child, argv, ex_env, 0);
    if (sp != 0) {
        storage_errf(err, errlen, "could not start the text extractor: %s", strerror(sp));
        rc = LX_EIO;
        goto done;
    }
    if (len == 0)
        ex_close(&r.child.in_fd);

    /* Feed stdin and drain stdout and stderr together: a child that
     * writes before it has read everything never deadlocks with us. */
    while (r.child.out_fd >= 0 || r.child.err_fd >= 0) {
        struct pollfd pfd[4];
        int nfd = 0, i_in = -1, i_out = -1, i_err = -1, i_cancel = -1;
        long long left = deadline - ex_now_ms();

        if (left <= 0) {
            lx_child_kill(&r.child);
            ex_err_timeout(err, errlen, timeout_ms);
            rc = LX_ETIMEDOUT;
            goto done;
        }
        if (r.child.in_fd >= 0) {
            pfd[nfd] = (struct pollfd){.fd = r.child.in_fd, .events = POLLOUT};
            i_in = nfd++;
        }
        if (r.child.out_fd >= 0) {
            pfd[nfd] = (struct pollfd){.fd = r.child.out_fd, .events = POLLIN};
            i_out = nfd++;
        }
        if (r.child.err_fd >= 0) {
            pfd[nfd] = (struct pollfd){.fd = r.child.err_fd, .events = POLLIN};
            i_err = nfd++;
        }
        if (cancel_fd >= 0) {
            pfd[nfd] = (struct pollfd){.fd = cancel_fd, .events = POLLIN};
            i_cancel = nfd++;
        }
        if (poll(pfd, (nfds_t)nfd, left > INT_MAX ? INT_MAX : (int)left) < 0) {
            if (errno == EINTR)
                continue;
            lx_child_kill(&r.child);
            storage_errf(err, errlen, "text extraction failed: poll: %s", strerror(errno));
            rc = LX_EIO;
            goto done;
        }
        if (i_cancel >= 0 && pfd[i_cancel].revents != 0) {
            lx_child_kill(&r.child);
            storage_errf(err, errlen, "text extraction was cancelled");
            rc = LX_ECANCELED;
            goto done;
        }
        if (i_in >= 0 && pfd[i_in].revents != 0 && ex_write_in(&r, data, len, &written) != 0)
            ex_close(&r.child.in_fd);
        if (i_out >= 0 && pfd[i_out].revents != 0) {
            int got = ex_read_out(&r, max_output + EX_HEADER_MAX);

            if (got == -1) {
                lx_child_kill(&r.child);
                storage_errf(err, errlen, "the text is larger than %zu bytes", max_output);
                rc = LX_ETOOBIG;
                goto done;
            }
            if (got == -2) {
                lx_child_kill(&r.child);
                storage_errf(err, errlen, "out of memory reading the extracted text");
                rc = LX_ENOMEM;
                goto done;
            }
            if (got == 1)
                ex_close(&r.child.out_fd);
        }
        if (i_err >= 0 && pfd[i_err].revents != 0 && ex_read_err(&r) != 0)
            ex_close(&r.child.err_fd);
    }
    ex_close(&r.child.in_fd);

    /* Both outputs are closed; the child exits now, or at the deadline. */
    while (!lx_child_reap(&r.child)) {
        long long left = deadline - ex_now_ms();
        struct timespec ts;

        if (left <= 0) {
            lx_child_kill(&r.child);
            ex_err_timeout(err, errlen, timeout_ms);
            rc = LX_ETIMEDOUT;
            goto done;
        }
        if (ex_is_cancelled(cancel_fd)) {
            lx_child_kill(&r.child);
            storage_errf(err, errlen, "text extraction was cancelled");
            rc = LX_ECANCELED;
            goto done;
        }
        if (wait_ms > left)
            wait_ms = left;
        ts.tv_sec = wait_ms / 1000;
        ts.tv_nsec = (long)(wait_ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
        if (wait_ms < 50)
            wait_ms *= 2;
    }

    if (WIFSIGNALED(r.child.status)) {
        int sig = WTERMSIG(r.child.status);

        if (sig == SIGXCPU)
            storage_errf(err, errlen, "text extraction used more than its %s s of CPU time",
                         cpu_arg);
        else if (sig == SIGKILL) /* not ours: we kill only past the deadline */
            storage_errf(err, errlen,
                         "the extractor was killed (signal 9), most likely by the system's "
                         "out-of-memory killer");
        else
            storage_errf(err, errlen, "the extractor crashed (signal %d)", sig);
        rc = LX_ERROR;
    } else if (!WIFEXITED(r.child.status) || WEXITSTATUS(r.child.status) != 0) {
        r.msg[r.msg_len] = '\0';
        ex_child_message(&r, err, errlen,
                         WIFEXITED(r.child.status) ? WEXITSTATUS(r.child.status) : -1);
        rc = LX_ERROR;
    } else {
        rc = ex_parse(&r, max_output, res, err, errlen);
    }

done:
    lx_child_kill(&r.child); /* no-op once reaped */
    ex_close(&r.child.in_fd);
    ex_close(&r.child.out_fd);
    ex_close(&r.child.err_fd);
    free(r.out);
    if (r.saw_epipe && !had_pipe_pending) {
        static const struct timespec zero = {0, 0};

        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (rc != LX_OK)
        memset(res, 0, sizeof(*res));
    return rc;
}
