/*
 * The text pipeline of one worker, between its two files (the rest of the
 * plugin sees storage.h's storage_proc_* only):
 *
 *   extract_queue.c  which document goes next and when: a FIFO per user,
 *                    served round robin, at most extract_concurrency at
 *                    once; the waits of retries; the tick that renews this
 *                    worker's claims and claims documents nobody holds;
 *                    stopping
 *   extract_steps.c  one document's way, in three steps: LOAD (its row,
 *                    its bytes, status "processing"; a database job; not
 *                    for an upload's bytes, handed over in memory),
 *                    EXTRACT (the child process, on the extraction
 *                    threads), STORE (the text and passages, or the
 *                    failure; a database job); and which failures are
 *                    worth a retry
 *
 * Every document in a queue is claimed by this worker (store.h, "The
 * extraction queue"): every write of extract_steps.c is conditional on that
 * claim, so a document taken over by another worker (this one was thought
 * dead) is stored once, by the other.
 *
 * A failure is transient when it says nothing about the document: the
 * database unreachable or failing, the disk full, the extractor not
 * starting, memory short in the worker. The document then waits
 * (retry_delay, doubling to retry_delay_max) and goes on from the step
 * that failed, for as long as the process runs: once the cause is gone it
 * is processed. Everything else is the document's own failure, final
 * (status "failed" with its reason). A document whose runs are cut off
 * (its worker dies while extracting it) is failed after extract_attempts
 * of them: a poison document does not loop.
 *
 * Threads: everything here runs on the worker loop, but work functions
 * of extract_steps.c (database jobs and the extraction), which touch only their
 * own item.
 */
#ifndef STORAGE_EXTRACT_QUEUE_H
#define STORAGE_EXTRACT_QUEUE_H

#include "extract_pool.h"
#include "storage.h"

typedef enum storage_step {
    STORAGE_STEP_LOAD = 0,
    STORAGE_STEP_EXTRACT,
    STORAGE_STEP_STORE,
} storage_step;

typedef struct storage_item storage_item;
typedef struct storage_userq storage_userq;

/* One document in the pipeline. */
struct storage_item {
    storage_proc *p;
    storage_item *next;                /* in its user's FIFO, or the waiting list */
    storage_item *all_prev, *all_next; /* every live item of the queue */
    char *uid, *id;
    char *file_type;                /* known at upload, else read by LOAD */
    storage_proc_done_fn when_done; /* NULL once forgotten */
    void *arg;

    storage_step step; /* the step to run (next) */
    int n_failures;    /* transient failures in a row: the next wait */
    int is_running;    /* holds one of the extract_concurrency slots */
    int is_job_out;    /* a database job or an extraction of it is out */
    lx_timer *timer;   /* waiting for a retry */

    /* LOAD -> EXTRACT */
    char *data;
    size_t len;
    /* EXTRACT -> STORE: the text, or (ex_rc != LX_OK) the failure */
    int ex_rc;
    char ex_err[512];
    char *text;
    size_t text_len;
    int64_t pages;
    char **passages;
    size_t n_passages;
    char stored_at[32]; /* STORE's time, as written */
    /* a job's outcome */
    int rc;
    char err[512];
};

/* The queue of one worker. */
struct storage_proc {
    storage_state *st;
    lx_worker *w;
    storage_xpool *pool;   /* the extraction threads */
    storage_userq *ring;   /* users with documents queued, round robin: the next to serve */
    storage_item *all;     /* every live item */
    storage_item *waiting; /* waiting for a retry (they hold no slot) */
    int n_queued;          /* in the users' FIFOs */
    int n_running;         /* holding a slot */
    int n_waiting;
    int n_live; /* all of them: the queue is freed at 0 once stopped */
    lx_timer *tick;
    lx_timer *kick;      /* a pump on the next turn of the loop */
    int is_ticking;      /* a tick job is out */
    int is_tick_failing; /* the last tick failed (logged once) */
    int has_more;        /* the last claim was a full batch: more may wait */
    int64_t renewed_at_ms;
    uint32_t rng; /* the jitter of retries' waits (xorshift32) */
    int is_stopped;
};

/* extract_queue.c, for extract_steps.c */

/* The item is over (LX_OK: its status is final; LX_ENOENT: deleted or
 * taken over; LX_ECANCELED: the queue stopped; another code: given up,
 * its claim left to lapse): its waiter is told, it is freed, the next
 * starts. */
void storage_queue_done(storage_item *it, int rc);

/* A transient failure at it->step: the item gives its slot up and, after
 * a wait growing with it->n_failures, is queued again behind its user's
 * others, to go on from LOAD (a LOAD or EXTRACT failure) or STORE (which
 * keeps its text). */
void storage_queue_retry(storage_item *it);

/* extract_steps.c, for extract_queue.c */

/* Runs the item's step (it holds a slot). */
void storage_step_run(storage_item *it);

/* Frees what the steps left in the item (bytes, text, passages). */
void storage_step_clear(storage_item *it);

#endif
