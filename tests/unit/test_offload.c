#include "config.h"

/*
 * The offload pool's promises: work runs off the loop, done runs on it,
 * every job completes exactly once, stopping cancels what has not started,
 * and a pool that is never used starts no thread.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include <lexiaid/plugin.h>

#include "offload.h"

typedef struct fx {
    struct event_base *base;
    lx_offload *pool;
    char err[256];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->base = event_base_new();
    if (f->base == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    lx_offload_free(f->pool);
    event_base_free(f->base);
    free(f);
    return 0;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    *(int *)arg = 1;
}

/* Runs the loop until *counter reaches want, or 10 s pass. */
static void run_until(struct event_base *base, const atomic_int *counter, int want)
{
    int is_late = 0;
    struct timeval tv = {10, 0};
    struct event *deadline = evtimer_new(base, on_deadline, &is_late);

    assert_non_null(deadline);
    evtimer_add(deadline, &tv);
    while (atomic_load(counter) < want && !is_late)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(deadline);
    assert_false(is_late);
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------------ */

typedef struct thread_job {
    pthread_t loop_thread;
    pthread_t work_thread;
    pthread_t done_thread;
    int status;
    atomic_int n_done;
} thread_job;

static void thread_job_work(void *arg)
{
    thread_job *j = arg;
    j->work_thread = pthread_self();
}

static void thread_job_done(void *arg, int status)
{
    thread_job *j = arg;
    j->done_thread = pthread_self();
    j->status = status;
    atomic_fetch_add(&j->n_done, 1);
}

static void test_offload_work_runs_off_loop_and_done_on_loop(void **state)
{
    fx *f = *state;
    thread_job j;

    memset(&j, 0, sizeof(j));
    j.loop_thread = pthread_self();
    f->pool = lx_offload_new(f->base, 2, f->err, sizeof(f->err));
    assert_non_null(f->pool);

    assert_int_equal(lx_offload_submit(f->pool, thread_job_work, thread_job_done, &j), LX_OK);
    assert_int_equal(lx_offload_pending(f->pool), 1);
    run_until(f->base, &j.n_done, 1);

    assert_false(pthread_equal(j.work_thread, j.loop_thread));
    assert_true(pthread_equal(j.done_thread, j.loop_thread));
    assert_int_equal(j.status, LX_OK);
    assert_int_equal(lx_offload_pending(f->pool), 0);
}

/* ------------------------------------------------------------------------ */

#define N_MANY 1000

typedef struct many {
    atomic_int n_work[N_MANY];
    int n_done_each[N_MANY];
    atomic_int n_done;
    int n_bad_status;
} many;

typedef struct many_job {
    many *m;
    int i;
} many_job;

static void many_work(void *arg)
{
    many_job *mj = arg;
    atomic_fetch_add(&mj->m->n_work[mj->i], 1);
}

static void many_done(void *arg, int status)
{
    many_job *mj = arg;
    mj->m->n_done_each[mj->i]++;
    if (status != LX_OK)
        mj->m->n_bad_status++;
    atomic_fetch_add(&mj->m->n_done, 1);
}

static void test_offload_thousand_jobs_each_complete_once(void **state)
{
    fx *f = *state;
    many *m = calloc(1, sizeof(*m));
    many_job *jobs = calloc(N_MANY, sizeof(*jobs));

    assert_non_null(m);
    assert_non_null(jobs);
    f->pool = lx_offload_new(f->base, 4, f->err, sizeof(f->err));
    assert_non_null(f->pool);

    for (int i = 0; i < N_MANY; i++) {
        jobs[i].m = m;
        jobs[i].i = i;
        assert_int_equal(lx_offload_submit(f->pool, many_work, many_done, &jobs[i]), LX_OK);
    }
    run_until(f->base, &m->n_done, N_MANY);

    for (int i = 0; i < N_MANY; i++) {
        assert_int_equal(atomic_load(&m->n_work[i]), 1);
        assert_int_equal(m->n_done_each[i], 1);
    }
    assert_int_equal(m->n_bad_status, 0);
    assert_int_equal(lx_offload_pending(f->pool), 0);
    free(jobs);
    free(m);
}

/* ------------------------------------------------------------------------ */

#define N_POOL_THREADS 2
#define N_QUEUED 50

typedef struct gate {
    sem_t release;
    atomic_int n_started;
    int n_ok;
    int n_cancelled;
    int n_other;
    int submit_rc_in_done;
    lx_offload *pool;
} gate;

static void gate_work(void *arg)
{
    gate *g = arg;
    atomic_fetch_add(&g->n_started, 1);
    while (sem_wait(&g->release) != 0)
        ;
}

static void noop_work(void *arg) {}

static void noop_done(void *arg, int status) {}

static void gate_done(void *arg, int status)
{
    gate *g = arg;

    if (status == LX_OK)
        g->n_ok++;
    else if (status == LX_ECANCELED)
        g->n_cancelled++;
    else
        g->n_other++;
    /* The pool is stopping: no new work. */
    g->submit_rc_in_done = lx_offload_submit(g->pool, noop_work, noop_done, NULL);
}

static void *gate_opener(void *arg)
{
    gate *g = arg;
    struct timespec ts = {0, 100 * 1000 * 1000};

    nanosleep(&ts, NULL);
    for (int i = 0; i < N_POOL_THREADS; i++)
        sem_post(&g->release);
    return NULL;
}

static void test_offload_free_cancels_queued_and_finishes_running(void **state)
{
    fx *f = *state;
    gate g;
    pthread_t opener;
    struct timespec ts = {0, 1000 * 1000};
    int n_submitted = 0;

    memset(&g, 0, sizeof(g));
    assert_int_equal(sem_init(&g.release, 0, 0), 0);
    f->pool = lx_offload_new(f->base, N_POOL_THREADS, f->err, sizeof(f->err));
    assert_non_null(f->pool);
    g.pool = f->pool;

    /* The first N_POOL_THREADS jobs block every thread; the rest queue. */
    for (int i = 0; i < N_POOL_THREADS + N_QUEUED; i++) {
        assert_int_equal(lx_offload_submit(f->pool, gate_work, gate_done, &g), LX_OK);
        n_submitted++;
    }
    while (atomic_load(&g.n_started) < N_POOL_THREADS)
        nanosleep(&ts, NULL);
    assert_int_equal(lx_offload_pending(f->pool), (size_t)n_submitted);

    assert_int_equal(pthread_create(&opener, NULL, gate_opener, &g), 0);
    lx_offload_free(f->pool);
    f->pool = NULL;
    pthread_join(opener, NULL);

    assert_int_equal(g.n_cancelled, N_QUEUED);
    assert_int_equal(g.n_ok, N_POOL_THREADS);
    assert_int_equal(g.n_other, 0);
    assert_int_equal(g.n_ok + g.n_cancelled, n_submitted);
    assert_int_equal(atomic_load(&g.n_started), N_POOL_THREADS);
    assert_int_equal(g.submit_rc_in_done, LX_ESTATE);
    sem_destroy(&g.release);
}

/* ------------------------------------------------------------------------ */

static void test_offload_starts_no_thread_before_first_submit(void **state)
{
    fx *f = *state;
    thread_job j;
    int n_before = count_threads();

    memset(&j, 0, sizeof(j));
    f->pool = lx_offload_new(f->base, 4, f->err, sizeof(f->err));
    assert_non_null(f->pool);
    assert_int_equal(count_threads(), n_before);

    assert_int_equal(lx_offload_submit(f->pool, thread_job_work, thread_job_done, &j), LX_OK);
    run_until(f->base, &j.n_done, 1);
    /* At least the pool's one thread (a sanitizer may add its own). */
    assert_true(count_threads() > n_before);
}

/* ------------------------------------------------------------------------ */

typedef struct self_free {
    lx_offload **pool;
    atomic_int n_done;
    int statuses[3];
} self_free;

static void self_free_done(void *arg, int status)
{
    self_free *s = arg;
    int n = atomic_fetch_add(&s->n_done, 1);

    s->statuses[n < 3 ? n : 2] = status;
    if (n == 0) {
        lx_offload_free(*s->pool);
        *s->pool = NULL;
    }
}

static void test_offload_free_from_inside_done_is_safe(void **state)
{
    fx *f = *state;
    self_free s;

    memset(&s, 0, sizeof(s));
    s.pool = &f->pool;
    f->pool = lx_offload_new(f->base, 1, f->err, sizeof(f->err));
    assert_non_null(f->pool);

    assert_int_equal(lx_offload_submit(f->pool, noop_work, self_free_done, &s), LX_OK);
    run_until(f->base, &s.n_done, 1);
    assert_null(f->pool);
    assert_int_equal(s.statuses[0], LX_OK);
}

static void test_offload_new_rejects_bad_thread_counts(void **state)
{
    fx *f = *state;

    assert_null(lx_offload_new(f->base, 0, f->err, sizeof(f->err)));
    assert_true(strlen(f->err) > 0);
    f->err[0] = '\0';
    assert_null(lx_offload_new(f->base, 65, f->err, sizeof(f->err)));
    assert_true(strlen(f->err) > 0);
    assert_null(lx_offload_new(NULL, 1, f->err, sizeof(f->err)));
}

static void test_offload_free_of_unused_pool(void **state)
{
    fx *f = *state;

    f->pool = lx_offload_new(f->base, 8, f->err, sizeof(f->err));
    assert_non_null(f->pool);
    assert_int_equal(lx_offload_pending(f->pool), 0);
    assert_int_equal(lx_offload_submit(f->pool, NULL, noop_done, NULL), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offload_starts_no_thread_before_first_submit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offload_work_runs_off_loop_and_done_on_loop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offload_thousand_jobs_each_complete_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offload_free_cancels_queued_and_finishes_running,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_offload_free_from_inside_done_is_safe, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offload_new_rejects_bad_thread_counts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offload_free_of_unused_pool, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
