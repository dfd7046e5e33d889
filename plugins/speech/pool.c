/*
 * The speech helper processes of one worker (pool.h).
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lexiaid/child.h>

#include "pool.h"

#define POOL_READ_CHUNK 65536
#define POOL_IDLE_CHECK_MS 1000

typedef struct pool_job pool_job;
typedef struct pool_helper pool_helper;

struct pool_job {
    pool_job *next; /* in the queue */
    speech_pool *pool;
    unsigned char *frame;
    size_t len;
    speech_pool_done_fn done;
    void *arg;
    lx_timer *timer;     /* the deadline; or 0 ms to deliver `late` */
    pool_helper *helper; /* when running */
    long long timeout_ms;
    int late_status; /* != LX_OK: fail with this when the timer fires */
    char late_msg[256];
    const void *owner;      /* a dictation stream, or NULL */
    int release;            /* the owner's reservation ends with this answer */
    speech_pool_raw_fn raw; /* the answer as a frame (dictation), or NULL */
};

struct pool_helper {
    speech_pool *pool;
    int index;
    lx_child child; /* pid 0: this slot has no helper */
    lx_watch *w_in, *w_out;
    unsigned char *rx;
    size_t rx_len, rx_cap;
    size_t tx_off;
    pool_job *job;
    long long idle_since;
    const void *owner; /* the stream this helper is reserved for, or NULL */
};

struct speech_pool {
    const lx_host *h;
    lx_worker *w;
    speech_pool_opts o;
    char mem_arg[32];
    pool_helper *helpers;
    pool_job *head, *tail;
    int n_queued;
    pool_job *late; /* refused jobs waiting for their 0 ms timer */
    lx_timer *idle_timer;
};

static long long pool_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pool_dispatch(speech_pool *p);
static void pool_on_timer(void *arg);

/* Ends j (in no list) with an error from the loop a moment later, never
 * from inside the call that found it (speech_pool_submit's contract). */
static int pool_fail_later(speech_pool *p, pool_job *j, int status, const char *msg)
{
    if (j->timer != NULL)
        p->h->timer_stop(j->timer);
    j->late_status = status;
    snprintf(j->late_msg, sizeof(j->late_msg), "%s", msg);
    j->timer = p->h->timer_start(p->w, 0, 0, pool_on_timer, j);
    if (j->timer == NULL)
        return LX_ENOMEM;
    j->next = p->late;
    p->late = j;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Jobs                                                                     */

static void pool_job_free(pool_job *j)
{
    if (j->timer != NULL)
        j->pool->h->timer_stop(j->timer);
    free(j->frame);
    free(j);
}

static void pool_unqueue(speech_pool *p, pool_job *j)
{
    pool_job **pp = &p->head, *prev = NULL;

    while (*pp != NULL && *pp != j) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = j->next;
    if (p->tail == j)
        p->tail = prev;
    p->n_queued--;
    j->next = NULL;
}

/* Ends j (no longer queued nor running) with its answer. */
static void pool_job_end(pool_job *j, int status, const char *msg, uint32_t code,
                         speech_audio *audio)
{
    speech_pool_done_fn done = j->done;
    speech_pool_raw_fn raw = j->raw;
    void *arg = j->arg;

    pool_job_free(j);
    if (raw != NULL)
        raw(arg, status, msg, NULL, 0);
    else
        done(arg, status, msg, code, audio);
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* Stops watching and closes the pipes, kills and reaps the process, and
 * leaves the slot empty. The running job, if any, is the caller's. */
static void pool_helper_stop(pool_helper *hp, char *how, size_t howlen)
{
    const lx_host *h = hp->pool->h;

    if (hp->w_in != NULL)
        h->watch_stop(hp->w_in);
    if (hp->w_out != NULL)
        h->watch_stop(hp->w_out);
    hp->w_in = hp->w_out = NULL;
    lx_child_close(&hp->child);
    if (hp->child.pid > 0 && !lx_child_reap(&hp->child))
        lx_child_kill(&hp->child);
    if (how != NULL)
        lx_child_describe(hp->child.status, how, howlen);
    memset(&hp->child, 0, sizeof(hp->child));
    hp->child.in_fd = hp->child.out_fd = hp->child.err_fd = -1;
    free(hp->rx);
    hp->rx = NULL;
    hp->rx_len = hp->rx_cap = 0;
    hp->tx_off = 0;
}

/* The helper is gone or broke the protocol: its job fails with LX_EIO (or
 * `status`), the slot empties, and the queue moves on. */
static void pool_helper_fail(pool_helper *hp, int status, const char *why)
{
    speech_pool *p = hp->pool;
    pool_job *j = hp->job;
    char how[128] = "", msg[400];

    hp->job = NULL;
    hp->owner = NULL;
    pool_helper_stop(hp, how, sizeof(how));
    if (j != NULL) {
        if (status == LX_ETIMEDOUT)
            snprintf(msg, sizeof(msg), "%s", why);
        else
            snprintf(msg, sizeof(msg), "the speech engine stopped during %s (%s%s%s)",
                     j->raw != NULL ? "recognition" : "synthesis", why, how[0] ? "; it " : "", how);
        p->h->log(LX_LOG_WARN, "speech", NULL, "speech helper %d: %s", hp->index, msg);
        pool_job_end(j, status, msg, 0, NULL);
    } else {
        p->h->log(LX_LOG_WARN, "speech", NULL, "speech helper %d stopped while idle (%s%s%s)",
                  hp->index, why, how[0] ? "; it " : "", how);
    }
    pool_dispatch(p);
}

/* A complete answer frame arrived for the running job. */
static void pool_helper_answer(pool_helper *hp, const unsigned char *f, size_t len)
{
    speech_pool *p = hp->pool;
    pool_job *j = hp->job;
    speech_audio audio;
    speech_error e;
    int rc;

    if (j == NULL) {
        pool_helper_fail(hp, LX_EIO, "it answered nothing that was asked");
        return;
    }
    if (j->raw != NULL) {
        speech_pool_raw_fn raw = j->raw;
        void *arg = j->arg;

        hp->job = NULL;
        hp->idle_since = pool_now_ms();
        if (j->release)
            hp->owner = NULL;
        pool_job_free(j);
        if (f[0] == SPEECH_MSG_ERROR && speech_error_decode(f, len, &e) == LX_OK) {
            raw(arg, LX_EINVAL, e.message, NULL, 0);
            speech_error_free(&e);
        } else {
            raw(arg, LX_OK, "", f, len);
        }
        pool_dispatch(p);
        return;
    }
    if (f[0] == SPEECH_MSG_AUDIO) {
        rc = speech_audio_decode(f, len, &audio);
        if (rc != LX_OK) {
            pool_helper_fail(hp, LX_EIO, "its answer could not be read");
            return;
        }
        hp->job = NULL;
        hp->idle_since = pool_now_ms();
        pool_job_end(j, LX_OK, "", 0, &audio);
    } else if (f[0] == SPEECH_MSG_ERROR && speech_error_decode(f, len, &e) == LX_OK) {
        hp->job = NULL;
        hp->idle_since = pool_now_ms();
        pool_job_end(j, LX_EINVAL, e.message, e.code, NULL);
        speech_error_free(&e);
    } else {
        pool_helper_fail(hp, LX_EIO, "its answer could not be read");
        return;
    }
    pool_dispatch(p);
}

static void pool_on_out(int fd, unsigned ready, void *arg)
{
    pool_helper *hp = arg;
    int is_eof = 0;

    (void)ready;
    for (;;) {
        ssize_t n;

        if (hp->rx_cap - hp->rx_len < POOL_READ_CHUNK) {
            size_t cap = hp->rx_cap ? hp->rx_cap * 2 : 4 * POOL_READ_CHUNK;
            unsigned char *q = realloc(hp->rx, cap);

            if (q == NULL) {
                pool_helper_fail(hp, LX_EIO, "out of memory reading its answer");
                return;
            }
            hp->rx = q;
            hp->rx_cap = cap;
        }
        n = read(fd, hp->rx + hp->rx_len, hp->rx_cap - hp->rx_len);
        if (n > 0) {
            hp->rx_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        is_eof = 1;
        break;
    }
    /* Whole frames first: a helper may answer and then exit. */
    for (;;) {
        size_t off, plen, used;
        int got = speech_frame_next(hp->rx, hp->rx_len, &off, &plen, &used);

        if (got < 0) {
            pool_helper_fail(hp, LX_EIO, "it sent a malformed frame");
            return;
        }
        if (got == 0)
            break;
        /* one answer per request: nothing may follow it */
        if (used != hp->rx_len) {
            pool_helper_fail(hp, LX_EIO, "it sent more than one answer");
            return;
        }
        hp->rx_len = 0;
        pool_helper_answer(hp, hp->rx + off, plen);
        return;
    }
    if (is_eof)
        pool_helper_fail(hp, LX_EIO, "its output ended");
}

static void pool_on_in(int fd, unsigned ready, void *arg)
{
    pool_helper *hp = arg;
    pool_job *j = hp->job;

    (void)ready;
    if (j == NULL) {
        hp->pool->h->watch_set(hp->w_in, 0);
        return;
    }
    while (hp->tx_off < j->len) {
        ssize_t n = write(fd, j->frame + hp->tx_off, j->len - hp->tx_off);

        if (n > 0) {
            hp->tx_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        pool_helper_fail(hp, LX_EIO, "it stopped reading");
        return;
    }
    hp->pool->h->watch_set(hp->w_in, 0);
}

/* Starts a helper in an empty slot. LX_OK or LX_EIO with a message. */
static int pool_helper_start(pool_helper *hp, char *err, size_t errlen)
{
    speech_pool *p = hp->pool;
    char *argv[20];
    int argc = 0, rc;

    argv[argc++] = (char *)p->o.program;
    if (p->o.max_mem > 0) {
        argv[argc++] = "--max-mem";
        argv[argc++] = p->mem_arg;
    }
    for (int i = 0; p->o.args != NULL && p->o.args[i] != NULL && argc < 19; i++)
        argv[argc++] = (char *)p->o.args[i];
    argv[argc] = NULL;
    rc = lx_child_spawn(&hp->child, argv, NULL, LX_CHILD_INHERIT_STDERR);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the speech helper %s: %s", p->o.program, strerror(rc));
        return LX_EIO;
    }
    hp->w_in = p->h->watch_start(p->w, hp->child.in_fd, 0, pool_on_in, hp);
    hp->w_out = p->h->watch_start(p->w, hp->child.out_fd, LX_WATCH_READ, pool_on_out, hp);
    if (hp->w_in == NULL || hp->w_out == NULL) {
        pool_helper_stop(hp, NULL, 0);
        snprintf(err, errlen, "cannot watch the speech helper: out of memory");
        return LX_EIO;
    }
    hp->idle_since = pool_now_ms();
    return LX_OK;
}

static void pool_helper_run(pool_helper *hp, pool_job *j)
{
    hp->job = j;
    j->helper = hp;
    hp->tx_off = 0;
    hp->rx_len = 0;
    pool_on_in(hp->child.in_fd, LX_WATCH_WRITE, hp);
    if (hp->job == j && hp->tx_off < j->len)
        hp->pool->h->watch_set(hp->w_in, LX_WATCH_WRITE);
}

/* Gives queued jobs to idle helpers, starting helpers in empty slots. A
 * job of an owner goes to the helper reserved for it (and waits while it
 * is busy); any other to an idle helper nobody reserved. */
static void pool_dispatch(speech_pool *p)
{
    pool_job *next;

    for (pool_job *j = p->head; j != NULL; j = next) {
        pool_helper *idle = NULL, *empty = NULL, *mine = NULL;

        next = j->next;
        for (int i = 0; i < p->o.n_helpers; i++) {
            pool_helper *hp = &p->helpers[i];

            if (j->owner != NULL && hp->child.pid > 0 && hp->owner == j->owner)
                mine = hp;
            if (hp->child.pid > 0 && hp->job == NULL && hp->owner == NULL && idle == NULL)
                idle = hp;
            if (hp->child.pid <= 0 && empty == NULL)
                empty = hp;
        }
        if (mine != NULL) {
            if (mine->job != NULL)
                continue; /* its helper is busy with its previous request */
            idle = mine;
            empty = NULL;
        }
        if (idle == NULL && empty == NULL)
            continue;
        pool_unqueue(p, j);
        if (idle == NULL) {
            char err[300];

            if (pool_helper_start(empty, err, sizeof(err)) != LX_OK) {
                p->h->log(LX_LOG_ERROR, "speech", NULL, "%s", err);
                if (pool_fail_later(p, j, LX_EIO, err) != LX_OK)
                    pool_job_end(j, LX_EIO, err, 0, NULL);
                continue;
            }
            idle = empty;
        }
        if (j->owner != NULL)
            idle->owner = j->release ? NULL : j->owner;
        pool_helper_run(idle, j);
        next = p->head; /* running may have failed and changed the queue */
    }
}

/* ------------------------------------------------------------------------ */
/* Deadlines and idle helpers                                               */

static void pool_on_timer(void *arg)
{
    pool_job *j = arg;
    speech_pool *p = j->pool;
    char msg[sizeof(j->late_msg)];

    j->timer = NULL; /* a one-shot timer frees itself */
    if (j->late_status != LX_OK) {
        for (pool_job **pp = &p->late; *pp != NULL; pp = &(*pp)->next)
            if (*pp == j) {
                *pp = j->next;
                break;
            }
        snprintf(msg, sizeof(msg), "%s", j->late_msg);
        pool_job_end(j, j->late_status, msg, 0, NULL);
        return;
    }
    if (j->timeout_ms % 1000 == 0)
        snprintf(msg, sizeof(msg), "speech %s took longer than %lld s",
                 j->raw != NULL ? "recognition" : "synthesis", j->timeout_ms / 1000);
    else
        snprintf(msg, sizeof(msg), "speech %s took longer than %lld ms",
                 j->raw != NULL ? "recognition" : "synthesis", j->timeout_ms);
    if (j->helper != NULL) {
        pool_helper_fail(j->helper, LX_ETIMEDOUT, msg); /* kills the helper */
        return;
    }
    pool_unqueue(p, j);
    pool_job_end(j, LX_ETIMEDOUT, msg, 0, NULL);
}

static void pool_on_idle_check(void *arg)
{
    speech_pool *p = arg;
    long long now = pool_now_ms();

    for (int i = 0; i < p->o.n_helpers; i++) {
        pool_helper *hp = &p->helpers[i];

        if (hp->child.pid > 0 && hp->job == NULL && hp->owner == NULL &&
            now - hp->idle_since >= p->o.idle_ms)
            pool_helper_stop(hp, NULL, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* The pool                                                                 */

speech_pool *speech_pool_new(const lx_host *host, lx_worker *w, const speech_pool_opts *o)
{
    speech_pool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->h = host;
    p->w = w;
    p->o = *o;
    if (p->o.n_helpers < 1)
        p->o.n_helpers = 1;
    snprintf(p->mem_arg, sizeof(p->mem_arg), "%zu", o->max_mem);
    p->helpers = calloc((size_t)p->o.n_helpers, sizeof(*p->helpers));
    if (p->helpers == NULL) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < p->o.n_helpers; i++) {
        p->helpers[i].pool = p;
        p->helpers[i].index = i;
        p->helpers[i].child.in_fd = p->helpers[i].child.out_fd = p->helpers[i].child.err_fd = -1;
    }
    if (p->o.idle_ms > 0) {
        long long every = p->o.idle_ms < POOL_IDLE_CHECK_MS ? p->o.idle_ms : POOL_IDLE_CHECK_MS;

        p->idle_timer = host->timer_start(w, (uint64_t)every, 1, pool_on_idle_check, p);
    }
    return p;
}

void speech_pool_free(speech_pool *p)
{
    if (p == NULL)
        return;
    if (p->idle_timer != NULL)
        p->h->timer_stop(p->idle_timer);
    for (int i = 0; i < p->o.n_helpers; i++) {
        pool_helper *hp = &p->helpers[i];

        if (hp->job != NULL) {
            pool_job_free(hp->job);
            hp->job = NULL;
        }
        if (hp->child.pid > 0 || hp->w_in != NULL)
            pool_helper_stop(hp, NULL, 0);
    }
    while (p->head != NULL) {
        pool_job *j = p->head;

        p->head = j->next;
        pool_job_free(j);
    }
    while (p->late != NULL) {
        pool_job *j = p->late;

        p->late = j->next;
        pool_job_free(j);
    }
    free(p->helpers);
    free(p);
}

/* Queues j (its frame and all set but the timer): a busy pool with a full
 * queue fails it later with LX_ESTATE ("all N <what> of this worker are
 * busy and M <waiting> are waiting"), else its timer starts and the queue
 * is served. LX_OK, or LX_ENOMEM with j and its frame freed. */
static int pool_enqueue(speech_pool *p, pool_job *j, int is_busy, const char *what,
                        const char *waiting)
{
    if (is_busy && p->n_queued >= p->o.max_queue) {
        char msg[200];

        snprintf(msg, sizeof(msg), "all %d %s of this worker are busy and %d %s are waiting",
                 p->o.n_helpers, what, p->n_queued, waiting);
        if (pool_fail_later(p, j, LX_ESTATE, msg) != LX_OK) {
            free(j->frame);
            free(j);
            return LX_ENOMEM;
        }
        return LX_OK;
    }
    j->timer = p->h->timer_start(p->w, (uint64_t)j->timeout_ms, 0, pool_on_timer, j);
    if (j->timer == NULL) {
        free(j->frame);
        free(j);
        return LX_ENOMEM;
    }
    if (p->tail != NULL)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->n_queued++;
    pool_dispatch(p);
    return LX_OK;
}

/* A new job for frame (taken: freed here when the job cannot be had),
 * not yet queued; NULL when out of memory. */
static pool_job *pool_job_new(speech_pool *p, unsigned char *frame, size_t len,
                              long long timeout_ms, void *arg)
{
    pool_job *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        free(frame);
        return NULL;
    }
    j->pool = p;
    j->frame = frame;
    j->len = len;
    j->arg = arg;
    j->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    return j;
}

int speech_pool_submit(speech_pool *p, unsigned char *frame, size_t len, long long timeout_ms,
                       speech_pool_done_fn done, void *arg)
{
    pool_job *j = pool_job_new(p, frame, len, timeout_ms, arg);
    int busy = 1;

    if (j == NULL)
        return LX_ENOMEM;
    j->done = done;
    for (int i = 0; i < p->o.n_helpers && busy; i++)
        busy = p->helpers[i].child.pid > 0 && p->helpers[i].job != NULL;
    return pool_enqueue(p, j, busy, "speech helpers", "syntheses");
}

int speech_pool_submit_owned(speech_pool *p, const void *owner, int release, unsigned char *frame,
                             size_t len, long long timeout_ms, speech_pool_raw_fn done, void *arg)
{
    pool_job *j = pool_job_new(p, frame, len, timeout_ms, arg);
    int has_helper = 0, busy = 1;

    if (j == NULL)
        return LX_ENOMEM;
    j->raw = done;
    j->owner = owner;
    j->release = release;
    for (int i = 0; i < p->o.n_helpers; i++) {
        has_helper |= p->helpers[i].child.pid > 0 && p->helpers[i].owner == owner;
        if (busy)
            busy = p->helpers[i].child.pid > 0 &&
                   (p->helpers[i].job != NULL || p->helpers[i].owner != NULL);
    }
    return pool_enqueue(p, j, !has_helper && busy, "recognizers", "requests");
}

void speech_pool_release(speech_pool *p, const void *owner)
{
    for (int i = 0; p != NULL && i < p->o.n_helpers; i++) {
        pool_helper *hp = &p->helpers[i];

        if (hp->owner != owner)
            continue;
        if (hp->job != NULL)
            hp->job->release = 1;
        else
            hp->owner = NULL;
    }
    if (p != NULL)
        pool_dispatch(p);
}

int speech_pool_prestart(speech_pool *p, int n)
{
    int started = 0;
    char err[300];

    for (int i = 0; i < p->o.n_helpers && started < n; i++) {
        pool_helper *hp = &p->helpers[i];

        if (hp->child.pid > 0)
            continue;
        if (pool_helper_start(hp, err, sizeof(err)) != LX_OK) {
            p->h->log(LX_LOG_ERROR, "speech", NULL, "%s", err);
            break;
        }
        started++;
    }
    return started;
}

int speech_pool_n_running(const speech_pool *p)
{
    int n = 0;

    for (int i = 0; p != NULL && i < p->o.n_helpers; i++)
        n += p->helpers[i].child.pid > 0;
    return n;
}

/* ------------------------------------------------------------------------ */
/* The voices, at init (blocking)                                           */

int speech_pool_voices(const char *program, long long timeout_ms, speech_voice_list *out, char *err,
                       size_t errlen)
{
    lx_child c;
    speech_wbuf req = {0};
    unsigned char *rx = NULL;
    size_t rx_len = 0, rx_cap = 0, sent = 0;
    char *argv[2] = {(char *)program, NULL};
    long long deadline = pool_now_ms() + timeout_ms;
    int rc = LX_EIO, sp;

    memset(out, 0, sizeof(*out));
    speech_w_begin(&req, SPEECH_MSG_VOICES);
    speech_w_u32(&req, SPEECH_PROTO_VERSION);
    if (speech_w_end(&req) != LX_OK) {
        speech_wbuf_free(&req);
        snprintf(err, errlen, "out of memory");
        return LX_ENOMEM;
    }
    sp = lx_child_spawn(&c, argv, NULL, LX_CHILD_INHERIT_STDERR);
    if (sp != 0) {
        speech_wbuf_free(&req);
        snprintf(err, errlen, "cannot start the speech helper %s: %s", program, strerror(sp));
        return LX_EIO;
    }
    for (;;) {
        struct pollfd pfd[2];
        int nfd = 0;
        long long left = deadline - pool_now_ms();
        size_t off, plen, used;

        if (speech_frame_next(rx, rx_len, &off, &plen, &used) == 1) {
            rc = speech_voice_list_decode(rx + off, plen, out);
            if (rc != LX_OK)
                snprintf(err, errlen, "the speech helper %s gave voices it cannot have", program);
            break;
        }
        if (left <= 0) {
            snprintf(err, errlen, "the speech helper %s did not list its voices within %lld ms",
                     program, timeout_ms);
            break;
        }
        if (sent < req.len)
            pfd[nfd++] = (struct pollfd){.fd = c.in_fd, .events = POLLOUT};
        pfd[nfd++] = (struct pollfd){.fd = c.out_fd, .events = POLLIN};
        if (poll(pfd, (nfds_t)nfd, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            break;
        }
        if (sent < req.len) {
            ssize_t n = write(c.in_fd, req.p + sent, req.len - sent);

            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                sent = req.len; /* it stopped reading: its output says why */
        }
        if (rx_cap - rx_len < 4096) {
            size_t cap = rx_cap ? rx_cap * 2 : 65536;
            unsigned char *q = realloc(rx, cap);

            if (q == NULL) {
                snprintf(err, errlen, "out of memory");
                rc = LX_ENOMEM;
                break;
            }
            rx = q;
            rx_cap = cap;
        }
        ssize_t n = read(c.out_fd, rx + rx_len, rx_cap - rx_len);
        if (n > 0) {
            rx_len += (size_t)n;
        } else if (n == 0) {
            char how[128];

            lx_child_close(&c);
            if (!lx_child_reap(&c))
                lx_child_kill(&c);
            lx_child_describe(c.status, how, sizeof(how));
            snprintf(err, errlen, "the speech helper %s %s before listing its voices", program,
                     how);
            break;
        }
    }
    lx_child_close(&c);
    if (c.pid > 0) {
        /* closing its stdin ends it; give it a moment, then make sure */
        for (int i = 0; i < 100 && !lx_child_reap(&c); i++)
            usleep(2000);
        lx_child_kill(&c);
    }
    speech_wbuf_free(&req);
    free(rx);
    return rc;
}
