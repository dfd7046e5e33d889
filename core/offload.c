#include "config.h"

/*
 * The offload pool of one worker process.
 *
 * Threads:  the loop thread submits, and runs every `done`; pool threads
 *           only run `work`. Threads are started on demand, one more each
 *           time a job is queued with no idle thread to take it, up to
 *           max_threads.
 * Queues:   `todo` (FIFO) feeds the pool threads; `finished` takes each job
 *           whose work ended. Both live under `mu`. A pool thread signals a
 *           finished job by writing the eventfd, which the loop watches
 *           with a persistent read event; only the job that makes
 *           `finished` non-empty writes it, as the loop takes every
 *           finished job on each wake-up.
 * Stopping: lx_offload_free (loop thread) takes `todo` away under the
 *           lock and cancels those jobs itself, lets the threads finish
 *           what they run, joins them, and delivers what finished.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <event2/event.h>

#include <lexiaid/plugin.h>

#include "offload.h"

#define LX_OFFLOAD_MAX_THREADS 64

typedef struct lx_offload_job {
    void (*work)(void *arg);
    void (*done)(void *arg, int status);
    void *arg;
    struct lx_offload_job *next;
} lx_offload_job;

typedef struct lx_offload_queue {
    lx_offload_job *head, *tail;
} lx_offload_queue;

struct lx_offload {
    struct event_base *base;
    struct event *ev;
    int efd;
    int max_threads;

    pthread_mutex_t mu;
    pthread_cond_t cv;         /* todo has a job, or is_stopping */
    lx_offload_queue todo;     /* under mu */
    lx_offload_queue finished; /* under mu */
    size_t n_todo;             /* under mu */
    int n_idle;                /* threads waiting on cv; under mu */
    int is_stopping;           /* written under mu by the loop thread */

    /* Loop thread only. */
    pthread_t *threads;
    int n_threads;
    size_t n_pending;        /* submitted, `done` not yet run */
    int depth;               /* > 0 while the eventfd callback runs */
    int is_release_deferred; /* freed from inside a `done` */
};

static void lx_offload_push(lx_offload_queue *q, lx_offload_job *job)
{
    job->next = NULL;
    if (q->tail != NULL)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
}

static lx_offload_job *lx_offload_pop(lx_offload_queue *q)
{
    lx_offload_job *job = q->head;

    if (job != NULL) {
        q->head = job->next;
        if (q->head == NULL)
            q->tail = NULL;
        job->next = NULL;
    }
    return job;
}

static void lx_offload_wake_loop(lx_offload *p)
{
    uint64_t one = 1;
    ssize_t n;

    /* EAGAIN only when the counter is near 2^64: the loop is awake then. */
    do {
        n = write(p->efd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
}

static void *lx_offload_thread(void *arg)
{
    lx_offload *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        lx_offload_job *job;

        while (p->todo.head == NULL && !p->is_stopping) {
            p->n_idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->n_idle--;
        }
        /* Once stopping, queued jobs belong to lx_offload_free. */
        if (p->is_stopping)
            break;
        job = lx_offload_pop(&p->todo);
        p->n_todo--;
        pthread_mutex_unlock(&p->mu);

        job->work(job->arg);

        pthread_mutex_lock(&p->mu);
        /* The loop drains `finished` to empty on each wake-up, so only the
         * job that makes it non-empty needs to wake it. */
        if (p->finished.head == NULL) {
            lx_offload_push(&p->finished, job);
            pthread_mutex_unlock(&p->mu);
            lx_offload_wake_loop(p);
            pthread_mutex_lock(&p->mu);
        } else {
            lx_offload_push(&p->finished, job);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Takes one finished job, or NULL. */
static lx_offload_job *lx_offload_take_finished(lx_offload *p)
{
    lx_offload_job *job;

    pthread_mutex_lock(&p->mu);
    job = lx_offload_pop(&p->finished);
    pthread_mutex_unlock(&p->mu);
    return job;
}

static void lx_offload_release(lx_offload *p)
{
    event_free(p->ev);
    close(p->efd);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

/* The loop's side of the eventfd. One job at a time, so that a `done`
 * may submit more work, or even free the pool. */
static void lx_offload_on_event(evutil_socket_t fd, short what, void *arg)
{
    lx_offload *p = arg;
    lx_offload_job *job;
    uint64_t count;

    if (read(p->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        return;

    p->depth++;
    while (!p->is_release_deferred && (job = lx_offload_take_finished(p)) != NULL) {
        p->n_pending--;
        job->done(job->arg, LX_OK);
        free(job);
    }
    if (--p->depth == 0 && p->is_release_deferred)
        lx_offload_release(p);
}

lx_offload *lx_offload_new(struct event_base *base, int n_threads, char *err, size_t errlen)
{
    lx_offload *p;
    int rc;

    if (base == NULL) {
        snprintf(err, errlen, "offload: no event base");
        return NULL;
    }
    if (n_threads < 1 || n_threads > LX_OFFLOAD_MAX_THREADS) {
        snprintf(err, errlen, "offload: threads must be 1..%d, not %d", LX_OFFLOAD_MAX_THREADS,
                 n_threads);
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        goto nomem;
    p->base = base;
    p->max_threads = n_threads;
    p->efd = -1;
    p->threads = calloc((size_t)n_threads, sizeof(*p->threads));
    if (p->threads == NULL)
        goto nomem;
    rc = pthread_mutex_init(&p->mu, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "offload: pthread_mutex_init: %s", strerror(rc));
        goto fail_nolock;
    }
    rc = pthread_cond_init(&p->cv, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "offload: pthread_cond_init: %s", strerror(rc));
        goto fail_nocond;
    }
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        snprintf(err, errlen, "offload: eventfd: %s", strerror(errno));
        goto fail;
    }
    p->ev = event_new(base, p->efd, EV_READ | EV_PERSIST, lx_offload_on_event, p);
    if (p->ev == NULL || event_add(p->ev, NULL) != 0) {
        snprintf(err, errlen, "offload: cannot watch the eventfd");
        goto fail;
    }
    return p;

nomem:
    snprintf(err, errlen, "offload: out of memory");
    if (p != NULL)
        free(p->threads);
    free(p);
    return NULL;
fail:
    if (p->ev != NULL)
        event_free(p->ev);
    if (p->efd >= 0)
        close(p->efd);
    pthread_cond_destroy(&p->cv);
fail_nocond:
    pthread_mutex_destroy(&p->mu);
fail_nolock:
    free(p->threads);
    free(p);
    return NULL;
}

/* Starts one pool thread with every signal blocked: signals are the
 * loop's business. Called with mu held. */
static int lx_offload_spawn(lx_offload *p)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&p->threads[p->n_threads], NULL, lx_offload_thread, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    pthread_setname_np(p->threads[p->n_threads], "lx-offload");
    p->n_threads++;
    return 0;
}

int lx_offload_submit(lx_offload *p, void (*work)(void *arg), void (*done)(void *arg, int status),
                      void *arg)
{
    lx_offload_job *job;
    int needs_thread;

    if (p == NULL || work == NULL || done == NULL)
        return LX_EINVAL;
    if (p->is_stopping)
        return LX_ESTATE;
    job = malloc(sizeof(*job));
    if (job == NULL)
        return LX_ENOMEM;
    job->work = work;
    job->done = done;
    job->arg = arg;

    pthread_mutex_lock(&p->mu);
    /* One more thread when the idle ones are all spoken for. */
    needs_thread = (size_t)p->n_idle <= p->n_todo && p->n_threads < p->max_threads;
    if (needs_thread && lx_offload_spawn(p) != 0 && p->n_threads == 0) {
        /* No thread at all to run it; with some, the job just waits. */
        pthread_mutex_unlock(&p->mu);
        free(job);
        return LX_ENOMEM;
    }
    lx_offload_push(&p->todo, job);
    p->n_todo++;
    pthread_mutex_unlock(&p->mu);
    /* After the unlock: the woken thread does not block again on mu. The
     * condition variable lives until lx_offload_free, on this thread. */
    pthread_cond_signal(&p->cv);
    p->n_pending++;
    return LX_OK;
}

size_t lx_offload_pending(const lx_offload *p)
{
    return p != NULL ? p->n_pending : 0;
}

void lx_offload_free(lx_offload *p)
{
    lx_offload_queue cancelled;
    lx_offload_job *job;

    /* NULL, or a `done` run by this very call freeing again. */
    if (p == NULL || p->is_stopping)
        return;

    pthread_mutex_lock(&p->mu);
    p->is_stopping = 1;
    cancelled = p->todo;
    p->todo.head = p->todo.tail = NULL;
    p->n_todo = 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);

    while ((job = lx_offload_pop(&cancelled)) != NULL) {
        p->n_pending--;
        job->done(job->arg, LX_ECANCELED);
        free(job);
    }
    /* Each thread ends after the job it runs, if any. */
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    p->n_threads = 0;
    while ((job = lx_offload_take_finished(p)) != NULL) {
        p->n_pending--;
        job->done(job->arg, LX_OK);
        free(job);
    }

    if (p->depth > 0) {
        /* Called from a `done` of lx_offload_on_event: it still holds p
         * and releases it when that `done` returns. */
        p->is_release_deferred = 1;
        return;
    }
    lx_offload_release(p);
}
