/*
 * The text pipeline's queue of one worker (extract_queue.h, storage.h's
 * storage_proc_*): which document goes next, how many at once, the waits
 * of retries, the claims, stopping.
 *
 * Fairness: a FIFO per user; the users with documents queued form a ring.
 * A free slot goes to the user with the fewest documents running, round
 * robin among equals, one document a turn; and with two slots or more,
 * the last free one only to a user with nothing running: one user's ten
 * slow PDFs leave a slot for another user's text, which runs at once. At
 * most extract_concurrency documents run at once (one extraction thread
 * each, extract_pool.c); a document waiting to retry gives its slot up.
 *
 * Claims: every STORAGE_TICK_MS a tick job renews the claims of the
 * documents held here (every claim_lease/3) and, while there is room,
 * claims documents nobody holds: an upload whose worker died before its
 * text was done, documents a database outage or a full disk left
 * pending, those given back by a worker that stopped. A document claimed
 * after runs cut off extract_attempts times fails there and then.
 *
 * Lifetimes: storage_proc and its items belong to the worker loop. The
 * queue stays allocated after storage_proc_stop until its last item (and
 * tick job) has ended.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract_queue.h"

#define STORAGE_TICK_MS 1000

/* A user's FIFO in the ring. */
struct storage_userq {
    char *uid;
    storage_item *head, *tail;
    storage_userq *prev, *next; /* the ring, circular */
};

/* ------------------------------------------------------------------------ */
/* The users' ring                                                          */

static storage_userq *uq_find(storage_proc *p, const char *uid)
{
    storage_userq *q = p->ring;

    if (q == NULL)
        return NULL;
    do {
        if (strcmp(q->uid, uid) == 0)
            return q;
        q = q->next;
    } while (q != p->ring);
    return NULL;
}

/* Appends it to its user's FIFO; a user new to the ring is served last
 * in the current round. LX_OK or LX_ENOMEM. */
static int uq_push(storage_proc *p, storage_item *it)
{
    storage_userq *q = uq_find(p, it->uid);

    if (q == NULL) {
        q = calloc(1, sizeof(*q));
        if (q == NULL || (q->uid = strdup(it->uid)) == NULL) {
            free(q);
            return LX_ENOMEM;
        }
        if (p->ring == NULL) {
            q->prev = q->next = q;
            p->ring = q;
        } else {
            q->next = p->ring;
            q->prev = p->ring->prev;
            q->prev->next = q;
            p->ring->prev = q;
        }
    }
    it->next = NULL;
    if (q->tail != NULL)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    p->n_queued++;
    return LX_OK;
}

static void uq_unlink(storage_proc *p, storage_userq *q)
{
    if (q->next == q) {
        p->ring = NULL;
    } else {
        q->prev->next = q->next;
        q->next->prev = q->prev;
        if (p->ring == q)
            p->ring = q->next;
    }
    free(q->uid);
    free(q);
}

/* Documents of uid holding a slot now. */
static int uq_n_running(const storage_proc *p, const char *uid)
{
    int n = 0;

    for (const storage_item *it = p->all; it != NULL; it = it->all_next)
        n += it->is_running && strcmp(it->uid, uid) == 0;
    return n;
}

/* The user to serve: the one with the fewest documents running, the
 * first of those in ring order from p->ring. (A user alone took every
 * slot: when another comes, the next free slot is the newcomer's.) */
static storage_userq *uq_next(storage_proc *p)
{
    storage_userq *q = p->ring, *best = NULL;
    int best_n = 0;

    if (q == NULL || q->next == q)
        return q;
    do {
        int n = uq_n_running(p, q->uid);

        if (best == NULL || n < best_n) {
            best = q;
            best_n = n;
        }
        q = q->next;
    } while (q != p->ring && best_n > 0);
    return best;
}

/* The next document of q; NULL when q is NULL. */
static storage_item *uq_pop_from(storage_proc *p, storage_userq *q)
{
    storage_item *it;

    if (q == NULL)
        return NULL;
    it = q->head;
    q->head = it->next;
    if (q->head == NULL)
        q->tail = NULL;
    it->next = NULL;
    p->n_queued--;
    p->ring = q->next;
    if (q->head == NULL)
        uq_unlink(p, q);
    return it;
}

/* The next document, fair across users (uq_next); NULL when none waits. */
static storage_item *uq_pop(storage_proc *p)
{
    return uq_pop_from(p, uq_next(p));
}

/* ------------------------------------------------------------------------ */
/* Items                                                                    */

static storage_item *item_new(storage_proc *p, const char *uid, const char *id,
                              const char *file_type)
{
    storage_item *it = calloc(1, sizeof(*it));

    if (it == NULL)
        return NULL;
    it->p = p;
    it->uid = strdup(uid);
    it->id = strdup(id);
    it->file_type = file_type != NULL ? strdup(file_type) : NULL;
    if (it->uid == NULL || it->id == NULL || (file_type != NULL && it->file_type == NULL)) {
        free(it->uid);
        free(it->id);
        free(it->file_type);
        free(it);
        return NULL;
    }
    it->all_next = p->all;
    if (p->all != NULL)
        p->all->all_prev = it;
    p->all = it;
    p->n_live++;
    return it;
}

static storage_item *item_find(storage_proc *p, const char *id)
{
    for (storage_item *it = p->all; it != NULL; it = it->all_next)
        if (strcmp(it->id, id) == 0)
            return it;
    return NULL;
}

static void proc_free(storage_proc *p)
{
    while (p->ring != NULL)
        uq_unlink(p, p->ring);
    free(p);
}

static void pump(storage_proc *p);
static void claim_more(storage_proc *p);
struct storage_tick;
static void release_claimed(storage_proc *p, const struct storage_tick *t);
static void tick_fire(void *arg);

static void kick_fire(void *arg)
{
    storage_proc *p = arg;

    p->kick = NULL; /* a one-shot timer frees itself */
    pump(p);
}

/* pump() on the next turn of the loop: storage_proc_queue's caller gets
 * its token before anything can end the item. Without a timer, the next
 * tick pumps. */
static void kick(storage_proc *p)
{
    if (p->kick == NULL && !p->is_stopped)
        p->kick = p->st->host->timer_start(p->w, 0, 0, kick_fire, p);
}

static void pump(storage_proc *p)
{
    int n_slots = p->st->extract_concurrency;

    while (!p->is_stopped && p->n_running < n_slots && p->ring != NULL) {
        storage_userq *q = uq_next(p);
        storage_item *it;

        /* The last free slot is kept for a user with nothing running, so
         * that one who comes while another's slow documents run is served
         * at once (with two slots or more). */
        if (n_slots > 1 && p->n_running == n_slots - 1 && uq_n_running(p, q->uid) > 0)
            break;
        it = uq_pop_from(p, q);
        it->is_running = 1;
        p->n_running++;
        storage_step_run(it);
    }
}

void storage_queue_done(storage_item *it, int rc)
{
    storage_proc *p = it->p;

    if (it->timer != NULL)
        p->st->host->timer_stop(it->timer);
    if (it->all_prev != NULL)
        it->all_prev->all_next = it->all_next;
    else
        p->all = it->all_next;
    if (it->all_next != NULL)
        it->all_next->all_prev = it->all_prev;
    if (it->is_running)
        p->n_running--;
    if (it->when_done != NULL) {
        storage_proc_result res;
        int is_done = rc == LX_OK;

        if (is_done) {
            res.status = it->ex_rc == LX_OK ? STORAGE_ST_PROCESSED : STORAGE_ST_FAILED;
            res.error = it->ex_rc == LX_OK ? "" : it->ex_err;
            res.text = it->ex_rc == LX_OK && it->text != NULL ? it->text : "";
            res.content_length = it->ex_rc == LX_OK ? (int64_t)it->text_len : 0;
            res.page_count = it->ex_rc == LX_OK ? it->pages : 0;
            res.updated_at = it->stored_at;
        }
        it->when_done(it->arg, rc, is_done ? &res : NULL);
    }
    storage_step_clear(it);
    free(it->uid);
    free(it->id);
    free(it->file_type);
    free(it);
    if (--p->n_live == 0 && p->is_stopped) {
        proc_free(p);
        return;
    }
    pump(p);
    claim_more(p);
}

/* ------------------------------------------------------------------------ */
/* Retries                                                                  */

/* retry_delay doubled per failure after the first, at most
 * retry_delay_max, less up to a quarter at random (so that the documents
 * of one outage do not all come back in the same instant). */
static long long retry_wait_ms(storage_proc *p, int n_failures)
{
    const storage_state *st = p->st;
    long long ms = st->retry_delay_ms;

    for (int i = 1; i < n_failures && ms < st->retry_delay_max_ms; i++)
        ms *= 2;
    if (ms > st->retry_delay_max_ms)
        ms = st->retry_delay_max_ms;
    /* xorshift32: the loop's own generator, no libc state shared */
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 17;
    p->rng ^= p->rng << 5;
    return ms - (ms / 4) * (long long)(p->rng % 1000) / 1000;
}

static void retry_fire(void *arg)
{
    storage_item *it = arg;
    storage_proc *p = it->p;

    it->timer = NULL; /* a one-shot timer frees itself */
    for (storage_item **pp = &p->waiting; *pp != NULL; pp = &(*pp)->next)
        if (*pp == it) {
            *pp = it->next;
            break;
        }
    p->n_waiting--;
    if (uq_push(p, it) != LX_OK) {
        storage_queue_done(it, LX_ENOMEM);
        return;
    }
    pump(p);
}

void storage_queue_retry(storage_item *it)
{
    storage_proc *p = it->p;
    long long ms;

    if (p->is_stopped) {
        storage_queue_done(it, LX_ECANCELED);
        return;
    }
    ms = retry_wait_ms(p, ++it->n_failures);
    if (it->step != STORAGE_STEP_STORE) {
        /* LOAD again; a STORE keeps its text for the next try */
        it->step = STORAGE_STEP_LOAD;
        storage_step_clear(it);
    }
    /* No slot meanwhile: a document that keeps failing holds up nobody. */
    it->is_running = 0;
    p->n_running--;
    it->next = p->waiting;
    p->waiting = it;
    p->n_waiting++;
    it->timer = p->st->host->timer_start(p->w, (uint64_t)ms, 0, retry_fire, it);
    if (it->timer == NULL) {
        p->waiting = it->next;
        p->n_waiting--;
        storage_queue_done(it, LX_ENOMEM); /* its claim lapses: another takes it */
        return;
    }
    pump(p);
}

/* ------------------------------------------------------------------------ */
/* The tick: renewing and claiming                                          */

typedef struct storage_tick {
    storage_proc *p;
    char now[STORAGE_TS_LEN + 8], until[STORAGE_TS_LEN + 8];
    char **renew; /* ids held here */
    size_t n_renew;
    int want; /* documents to claim, at most */
    int has_reserve_to_make;
    int is_renewed;
    storage_pending *got;
    size_t n_got;
    unsigned char *is_failed; /* per got: failed for its cut-off runs */
} storage_tick;

static void tick_free(storage_tick *t)
{
    storage_strv_free(t->renew, t->n_renew);
    storage_pending_free(t->got, t->n_got);
    free(t->is_failed);
    free(t);
}

/* Pool: renew, claim, fail the documents cut off too often, and make the
 * disk reserve when it is missing and there is room. */
static int tick_job(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_tick *t = arg;
    int is_any = 0, rc = LX_OK;

    if (t->has_reserve_to_make) {
        char e2[256];

        (void)storage_files_reserve(st->files, st->disk_reserve, e2, sizeof(e2));
    }
    if (t->n_renew > 0) {
        rc = storage_doc_renew(c, st->owner, (const char *const *)t->renew, t->n_renew, t->until,
                               NULL, err, errlen);
        if (rc != LX_OK)
            return rc;
        t->is_renewed = 1;
    }
    if (t->want <= 0)
        return LX_OK;
    rc = storage_doc_any_claimable(c, t->now, &is_any, err, errlen);
    if (rc != LX_OK || !is_any)
        return rc;
    rc =
        storage_doc_claim(c, st->owner, t->now, t->until, t->want, &t->got, &t->n_got, err, errlen);
    if (rc != LX_OK || t->n_got == 0)
        return rc;
    t->is_failed = calloc(t->n_got, 1);
    if (t->is_failed == NULL)
        return LX_ENOMEM; /* the claims lapse; the next tick takes them again */
    for (size_t i = 0; i < t->n_got; i++) {
        char why[200], e2[256];

        if (t->got[i].interrupted < st->extract_attempts)
            continue;
        snprintf(why, sizeof(why),
                 "text extraction was cut off %lld times (the process extracting it "
                 "stopped); it is not tried again",
                 (long long)t->got[i].interrupted);
        if (storage_doc_set_status(c, t->got[i].id, st->owner, STORAGE_ST_FAILED, why, t->now, e2,
                                   sizeof(e2)) == LX_OK)
            t->is_failed[i] = 1;
    }
    return LX_OK;
}

static void tick_done(storage_state *st, void *arg, int rc, const char *err)
{
    storage_tick *t = arg;
    storage_proc *p = t->p;
    const lx_host *host = st->host;
    size_t n_taken = 0;

    p->is_ticking = 0;
    p->n_live--;
    if (p->is_stopped) {
        /* What it claimed as the worker stopped goes back at once, not
         * when the claims lapse. */
        if (rc == LX_OK)
            release_claimed(p, t);
        tick_free(t);
        if (p->n_live == 0)
            proc_free(p);
        return;
    }
    if (rc != LX_OK && rc != LX_ECANCELED) {
        if (!p->is_tick_failing)
            host->log(LX_LOG_WARN, STORAGE_SRC, NULL,
                      "cannot renew or claim documents to extract (retrying every second): %s",
                      err);
        p->is_tick_failing = 1;
    } else if (rc == LX_OK && p->is_tick_failing) {
        host->log(LX_LOG_INFO, STORAGE_SRC, NULL, "renewing and claiming documents works again");
        p->is_tick_failing = 0;
    }
    if (t->is_renewed)
        p->renewed_at_ms = storage_mono_ms();
    for (size_t i = 0; rc == LX_OK && i < t->n_got; i++) {
        const storage_pending *g = &t->got[i];
        storage_item *it;

        if (t->is_failed[i]) {
            host->log(LX_LOG_WARN, STORAGE_SRC, NULL,
                      "document %s failed: its text extraction was cut off %lld times", g->id,
                      (long long)g->interrupted);
            continue;
        }
        if (item_find(p, g->id) != NULL)
            continue; /* ours already (its lease had lapsed) */
        it = item_new(p, g->user_id, g->id, g->file_type);
        if (it == NULL)
            continue; /* its claim lapses; the next tick takes it again */
        if (uq_push(p, it) != LX_OK) {
            storage_queue_done(it, LX_ENOMEM);
            continue;
        }
        n_taken++;
    }
    if (n_taken > 0)
        host->log(LX_LOG_INFO, STORAGE_SRC, NULL,
                  "claimed %zu document(s) whose text nobody was extracting", n_taken);
    /* A full batch: there may be more. Claim again once there is room,
     * not a tick later (a backlog left by a dead worker drains at the
     * speed of extraction). */
    p->has_more = rc == LX_OK && t->want > 0 && t->n_got >= (size_t)t->want;
    tick_free(t);
    pump(p); /* also what a kick without a timer left */
    claim_more(p);
}

/* A tick now, when the last claim may have left documents behind and
 * there is room for more. */
static void claim_more(storage_proc *p)
{
    int room = 2 * p->st->extract_concurrency - (p->n_queued + p->n_running + p->n_waiting);

    if (p->has_more && !p->is_ticking && !p->is_stopped && room > 0)
        tick_fire(p);
}

static void tick_fire(void *arg)
{
    storage_proc *p = arg;
    storage_state *st = p->st;
    storage_tick *t;
    int is_renew_due;
    size_t k = 0;

    if (p->is_stopped || p->is_ticking || st->host->worker_stopping(p->w))
        return;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return;
    t->p = p;
    /* Room for its slots and as many again queued, so that no slot waits
     * a tick for work while there is some. */
    t->want = 2 * st->extract_concurrency - (p->n_queued + p->n_running + p->n_waiting);
    t->has_reserve_to_make = st->files != NULL && st->disk_reserve > 0;
    is_renew_due = p->n_live > 0 && storage_mono_ms() - p->renewed_at_ms >= st->claim_lease_ms / 3;
    if (is_renew_due && (t->renew = calloc((size_t)p->n_live, sizeof(char *))) != NULL) {
        for (storage_item *it = p->all; it != NULL; it = it->all_next)
            if ((t->renew[k] = strdup(it->id)) != NULL)
                k++;
        t->n_renew = k;
    }
    storage_now_iso(t->now, sizeof(t->now));
    storage_iso_in(t->until, sizeof(t->until), st->claim_lease_ms);
    if (t->n_renew == 0 && t->want <= 0 && !t->has_reserve_to_make) {
        tick_free(t);
        return;
    }
    if (storage_run(st, p->w, tick_job, tick_done, t) != LX_OK) {
        tick_free(t);
        return;
    }
    p->is_ticking = 1;
    p->n_live++; /* the queue outlives the job */
}

/* ------------------------------------------------------------------------ */
/* Stopping: the documents not being stored are given back                  */

typedef struct storage_release {
    char **ids;
    size_t n;
} storage_release;

static int release_job(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_release *r = arg;

    for (size_t i = 0; i < r->n; i++) {
        int rc = storage_doc_release(c, r->ids[i], st->owner, "", err, errlen);

        if (rc != LX_OK && rc != LX_ENOENT)
            return rc;
    }
    return LX_OK;
}

static void release_done(storage_state *st, void *arg, int rc, const char *err)
{
    storage_release *r = arg;

    if (rc != LX_OK && rc != LX_ECANCELED)
        st->host->log(LX_LOG_WARN, STORAGE_SRC, NULL,
                      "cannot give back %zu document(s) to extract (another worker takes them "
                      "when their claim lapses): %s",
                      r->n, err);
    storage_strv_free(r->ids, r->n);
    free(r);
}

/* One job giving back every document held here but those being stored. */
static void release_all(storage_proc *p)
{
    storage_release *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->ids = calloc((size_t)p->n_live + 1, sizeof(char *))) == NULL) {
        free(r);
        return;
    }
    for (storage_item *it = p->all; it != NULL; it = it->all_next)
        if (!(it->is_job_out && it->step == STORAGE_STEP_STORE) &&
            (r->ids[r->n] = strdup(it->id)) != NULL)
            r->n++;
    if (r->n == 0 || storage_run_kept(p->st, p->w, release_job, release_done, r) != LX_OK) {
        storage_strv_free(r->ids, r->n);
        free(r);
    }
}

/* The documents a tick claimed for a worker that stopped meanwhile (those
 * it failed are not claims any more). */
static void release_claimed(storage_proc *p, const storage_tick *t)
{
    storage_release *r = calloc(1, sizeof(*r));

    if (r == NULL || t->n_got == 0 || (r->ids = calloc(t->n_got, sizeof(char *))) == NULL) {
        free(r);
        return;
    }
    for (size_t i = 0; i < t->n_got; i++)
        if (!(t->is_failed != NULL && t->is_failed[i]) &&
            (r->ids[r->n] = strdup(t->got[i].id)) != NULL)
            r->n++;
    if (r->n == 0 || storage_run_kept(p->st, p->w, release_job, release_done, r) != LX_OK) {
        storage_strv_free(r->ids, r->n);
        free(r);
    }
}

void storage_proc_stop(storage_state *st)
{
    storage_proc *p = st->proc;
    storage_item *it;

    if (p == NULL)
        return;
    st->proc = NULL;
    p->is_stopped = 1;
    p->n_live++; /* held while stopping: the last done must not free p here */
    if (p->tick != NULL) {
        st->host->timer_stop(p->tick);
        p->tick = NULL;
    }
    if (p->kick != NULL) {
        st->host->timer_stop(p->kick);
        p->kick = NULL;
    }
    release_all(p);
    while ((it = uq_pop(p)) != NULL)
        storage_queue_done(it, LX_ECANCELED);
    while ((it = p->waiting) != NULL) {
        p->waiting = it->next;
        p->n_waiting--;
        storage_queue_done(it, LX_ECANCELED);
    }
    /* Extractions: their children are killed; their dones end them. */
    storage_xpool_free(p->pool);
    p->pool = NULL;
    /* Database jobs still out end their items when they come back. */
    if (--p->n_live == 0)
        proc_free(p);
}

/* ------------------------------------------------------------------------ */

int storage_proc_start(storage_state *st, lx_worker *w)
{
    storage_proc *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return LX_ENOMEM;
    p->st = st;
    p->w = w;
    if (storage_xpool_new(st->host, w, st->extract_concurrency, &p->pool) != LX_OK) {
        free(p);
        return LX_ENOMEM;
    }
    p->tick = st->host->timer_start(w, STORAGE_TICK_MS, 1, tick_fire, p);
    if (p->tick == NULL) {
        storage_xpool_free(p->pool);
        free(p);
        return LX_ENOMEM;
    }
    p->renewed_at_ms = storage_mono_ms();
    p->rng = (uint32_t)p->renewed_at_ms ^ (uint32_t)(uintptr_t)p ^ 0x9e3779b9u;
    if (p->rng == 0)
        p->rng = 1;
    st->proc = p;
    return LX_OK;
}

void *storage_proc_queue(storage_state *st, const char *uid, const char *id, const char *file_type,
                         char *data, size_t len, storage_proc_done_fn when_done, void *arg)
{
    storage_proc *p = st->proc;
    storage_item *it;

    if (p == NULL || p->is_stopped) {
        free(data);
        return NULL;
    }
    it = item_new(p, uid, id, file_type);
    if (it == NULL) {
        free(data);
        return NULL;
    }
    if (data != NULL && file_type != NULL) {
        /* The upload's bytes: no need to read them back. */
        it->data = data;
        it->len = len;
        it->step = STORAGE_STEP_EXTRACT;
    } else {
        free(data);
    }
    if (uq_push(p, it) != LX_OK) {
        storage_queue_done(it, LX_ENOMEM);
        return NULL;
    }
    it->when_done = when_done;
    it->arg = arg;
    kick(p);
    return it;
}

void storage_proc_forget(storage_state *st, void *token)
{
    storage_item *it = token;

    (void)st;
    if (it != NULL) {
        it->when_done = NULL;
        it->arg = NULL;
    }
}
