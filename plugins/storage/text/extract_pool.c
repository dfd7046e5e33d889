/*
 * The extraction threads of one worker (extract_pool.h): a FIFO of work
 * under a mutex, threads started on demand up to n_threads, a list of
 * finished work collected on the loop by a polling timer, and one pipe
 * whose read end, once written, cancels every extraction in progress.
 */
#define _GNU_SOURCE 1 /* pipe2 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "extract_pool.h"

#define XPOOL_MAX_THREADS 64

typedef struct xjob {
    void (*work)(void *arg, int cancel_fd);
    void (*done)(void *arg, int status);
    void *arg;
    int status;
    struct xjob *next;
} xjob;

typedef struct xqueue {
    xjob *head, *tail;
} xqueue;

struct storage_xpool {
    const lx_host *host;
    lx_worker *w;
    int max_threads;
    int cancel_rd, cancel_wr; /* the cancel pipe */

    pthread_mutex_t mu;
    pthread_cond_t cv; /* todo has work, or is_stopping */
    xqueue todo;       /* under mu */
    xqueue finished;   /* under mu */
    int n_idle;        /* threads waiting on cv; under mu */
    int is_stopping;   /* under mu */

    /* Loop thread only. */
    int is_freeing;
    pthread_t threads[XPOOL_MAX_THREADS];
    int n_threads;
    int n_out;       /* submitted, done not yet run */
    lx_timer *timer; /* collects finished work while n_out > 0 */
};

static void xq_push(xqueue *q, xjob *j)
{
    j->next = NULL;
    if (q->tail != NULL)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

static xjob *xq_take_all(xqueue *q)
{
    xjob *all = q->head;

    q->head = q->tail = NULL;
    return all;
}

static void *xpool_thread(void *arg)
{
    storage_xpool *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        xjob *j;

        while (p->todo.head == NULL && !p->is_stopping) {
            p->n_idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->n_idle--;
        }
        if (p->todo.head == NULL) /* stopping, nothing left */
            break;
        j = p->todo.head;
        p->todo.head = j->next;
        if (p->todo.head == NULL)
            p->todo.tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->work(j->arg, p->cancel_rd);
        j->status = LX_OK;
        pthread_mutex_lock(&p->mu);
        xq_push(&p->finished, j);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Runs the done of every job in the list; frees them. */
static void xpool_deliver(storage_xpool *p, xjob *j)
{
    while (j != NULL) {
        xjob *next = j->next;

        p->n_out--;
        j->done(j->arg, j->status);
        free(j);
        j = next;
    }
}

static void xpool_collect(void *arg)
{
    storage_xpool *p = arg;
    xjob *done;
    int n_done = 0;

    pthread_mutex_lock(&p->mu);
    done = xq_take_all(&p->finished);
    pthread_mutex_unlock(&p->mu);
    for (xjob *j = done; j != NULL; j = j->next)
        n_done++;
    /* Stopped before the dones run: one may submit again, which starts a
     * timer of its own. */
    if (n_done == p->n_out) {
        p->host->timer_stop(p->timer);
        p->timer = NULL;
    }
    xpool_deliver(p, done);
}

int storage_xpool_new(const lx_host *host, lx_worker *w, int n_threads, storage_xpool **out)
{
    storage_xpool *p;
    int fds[2];

    *out = NULL;
    if (n_threads < 1 || n_threads > XPOOL_MAX_THREADS)
        return LX_EINVAL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return LX_ENOMEM;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(p);
        return LX_ENOMEM;
    }
    p->host = host;
    p->w = w;
    p->max_threads = n_threads;
    p->cancel_rd = fds[0];
    p->cancel_wr = fds[1];
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    *out = p;
    return LX_OK;
}

/* One more thread, with every signal blocked (the worker's loop takes
 * them). LX_OK or LX_ENOMEM. */
static int xpool_grow(storage_xpool *p)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&p->threads[p->n_threads], NULL, xpool_thread, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return LX_ENOMEM;
    p->n_threads++;
    return LX_OK;
}

int storage_xpool_submit(storage_xpool *p, void (*work)(void *arg, int cancel_fd),
                         void (*done)(void *arg, int status), void *arg)
{
    xjob *j;
    int need_thread;

    if (p->is_freeing)
        return LX_ECANCELED;
    if ((j = calloc(1, sizeof(*j))) == NULL)
        return LX_ENOMEM;
    j->work = work;
    j->done = done;
    j->arg = arg;
    if (p->timer == NULL) {
        p->timer = p->host->timer_start(p->w, STORAGE_XPOOL_POLL_MS, 1, xpool_collect, p);
        if (p->timer == NULL) {
            free(j);
            return LX_ENOMEM;
        }
    }
    pthread_mutex_lock(&p->mu);
    xq_push(&p->todo, j);
    need_thread = p->n_idle == 0 && p->n_threads < p->max_threads;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    p->n_out++;
    /* Without a new thread the work waits for a busy one: fine as long as
     * there is one at all. */
    if (need_thread && xpool_grow(p) != LX_OK && p->n_threads == 0) {
        pthread_mutex_lock(&p->mu);
        p->todo.head = p->todo.tail = NULL; /* j was the only one */
        pthread_mutex_unlock(&p->mu);
        p->n_out--;
        free(j);
        return LX_ENOMEM;
    }
    return LX_OK;
}

int storage_xpool_n_out(const storage_xpool *p)
{
    return p != NULL ? p->n_out : 0;
}

void storage_xpool_free(storage_xpool *p)
{
    xjob *cancelled, *finished;
    ssize_t n;

    if (p == NULL)
        return;
    p->is_freeing = 1;
    do
        n = write(p->cancel_wr, "x", 1);
    while (n < 0 && errno == EINTR);
    pthread_mutex_lock(&p->mu);
    p->is_stopping = 1;
    cancelled = xq_take_all(&p->todo);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    if (p->timer != NULL) {
        p->host->timer_stop(p->timer);
        p->timer = NULL;
    }
    for (xjob *j = cancelled; j != NULL; j = j->next)
        j->status = LX_ECANCELED;
    finished = xq_take_all(&p->finished);
    xpool_deliver(p, finished);
    xpool_deliver(p, cancelled);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    close(p->cancel_rd);
    close(p->cancel_wr);
    free(p);
}
