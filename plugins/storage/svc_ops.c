/*
 * What each call of the services does (svc_call.h): its work on a pool
 * thread and its answer on the loop, one row of storage_svc_ops per
 * operation. A new operation of storage.v1 is its sv_* entry point in
 * svc.c, its OP_* and fields in svc_call.h, and its row here (a run over
 * store.h's operations, an answer calling its done type).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "svc_call.h"

void storage_call_free(storage_call *k)
{
    free(k->uid);
    free(k->id);
    free(k->kind);
    free(k->key);
    free(k->json);
    free(k->query);
    free(k->email);
    free(k->display_name);
    for (size_t i = 0; i < k->n_ops; i++) {
        free((char *)k->ops[i].kind);
        free((char *)k->ops[i].key);
        free((char *)k->ops[i].json);
        free((char *)k->ops[i].act.kind);
    }
    free(k->ops);
    storage_doc_clear(&k->doc);
    storage_passages_free(k->passages, k->n_passages);
    storage_user_clear(&k->user);
    storage_progress_clear(&k->prog);
    storage_rec_clear(&k->rec);
    storage_recs_free(k->recs, k->n_recs);
    free(k);
}

/* ------------------------------------------------------------------------ */
/* The operations: what each runs on the pool, and how it answers          */

/* Each operation of the services is one row of storage_svc_ops below: a
 * `run` on a pool thread (with a connection; it fills the call's output)
 * and an `answer` on the loop (it calls the caller's k->done member of
 * its type with that output, borrowed for the callback). */

static int run_doc_get(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                       char *err, size_t errlen)
{
    (void)st;
    (void)now;
    return storage_doc_get(c, k->uid, k->id, k->with_text, &k->doc, err, errlen);
}

static int run_doc_search(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                          char *err, size_t errlen)
{
    (void)st;
    (void)now;
    return storage_doc_search(c, k->uid, k->id, k->query, k->limit, &k->passages, &k->n_passages,
                              err, errlen);
}

static int run_doc_passages(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                            char *err, size_t errlen)
{
    (void)st;
    (void)now;
    return storage_doc_passages(c, k->uid, k->id, k->from, k->count, &k->passages, &k->n_passages,
                                err, errlen);
}

static int run_profile_get(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                           char *err, size_t errlen)
{
    int rc = storage_user_get(c, k->uid, &k->user, err, errlen);

    (void)st;
    (void)now;
    return rc == LX_OK ? storage_progress_get(c, k->uid, &k->prog, err, errlen) : rc;
}

static int run_activity_add(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                            char *err, size_t errlen)
{
    storage_activity a;
    char day[16];

    (void)st;
    snprintf(day, sizeof(day), "%.10s", now);
    memset(&a, 0, sizeof(a));
    a.uid = k->uid;
    a.kind = k->kind;
    a.points = k->points;
    a.score = k->score;
    a.max_score = k->max_score;
    a.day = day;
    a.now = now;
    return storage_activity_add(c, &a, err, errlen);
}

static int run_rec_put(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                       char *err, size_t errlen)
{
    char id[STORAGE_ID_LEN + 8];
    int rc;

    (void)st;
    if (k->key == NULL) {
        rc = storage_uuid(id, sizeof(id));
        if (rc != LX_OK) {
            snprintf(err, errlen, "no random source for a key");
            return rc;
        }
        if ((k->key = strdup(id)) == NULL)
            return LX_ENOMEM;
    }
    rc = storage_rec_put(c, k->uid, k->kind, k->key, k->json, now, err, errlen);
    if (rc != LX_OK)
        return rc;
    return storage_rec_get(c, k->uid, k->kind, k->key, &k->rec, err, errlen);
}

static int run_rec_get(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                       char *err, size_t errlen)
{
    (void)st;
    (void)now;
    return storage_rec_get(c, k->uid, k->kind, k->key, &k->rec, err, errlen);
}

static int run_rec_append(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                          char *err, size_t errlen)
{
    (void)st;
    return storage_rec_append(c, k->uid, k->kind, k->key, k->json, now, &k->seq, err, errlen);
}

static int run_rec_items(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                         char *err, size_t errlen)
{
    (void)st;
    (void)now;
    return storage_rec_items(c, k->uid, k->kind, k->key, k->after_seq, k->last_n, &k->recs,
                             &k->n_recs, err, errlen);
}

static int run_rec_list(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                        char *err, size_t errlen)
{
    (void)st;
    (void)now;
    return storage_rec_list(c, k->uid, k->kind, k->limit, &k->recs, &k->n_recs, err, errlen);
}

static int run_rec_delete(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                          char *err, size_t errlen)
{
    (void)st;
    (void)now;
    return storage_rec_delete(c, k->uid, k->kind, k->key, err, errlen);
}

/* A batch's writes, committed with whatever other writes are waiting
 * (storage_write), on any pool thread. */
static int write_batch(storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_call *k = arg;
    storage_batch_read rb = {.kind = k->kind, .key = k->key, .last_n = k->last_n};
    int rc;

    if (k->op != OP_BATCH_ITEMS)
        return storage_batch(c, k->uid, k->ops, k->n_ops, k->now, NULL, err, errlen);
    /* batch_items: the thread as written, read in the batch's transaction */
    rc = storage_batch(c, k->uid, k->ops, k->n_ops, k->now, &rb, err, errlen);
    k->recs = rb.items;
    k->n_recs = rb.n_items;
    return rc;
}

static int run_batch(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                     char *err, size_t errlen)
{
    snprintf(k->now, sizeof(k->now), "%s", now);
    return storage_write(st->db, c, write_batch, k, err, errlen);
}

static int run_user_create(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                           char *err, size_t errlen)
{
    storage_user_new u = {k->uid, k->email, k->display_name};

    (void)st;
    return storage_user_create(c, &u, 1, now, &k->is_created, err, errlen);
}

static int run_user_purge(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                          char *err, size_t errlen)
{
    char **ids = NULL;
    size_t n_ids = 0;
    int rc;

    (void)now;
    rc = storage_user_delete(c, k->uid, &ids, &n_ids, err, errlen);
    if (rc == STORAGE_ENOSPC && storage_make_room(st)) /* a full disk: the reserve */
        rc = storage_user_delete(c, k->uid, &ids, &n_ids, err, errlen);
    if (rc != LX_OK)
        return rc;
    /* After the commit: a crash now leaves orphans for the start-up
     * check, never a row without its file. */
    for (size_t i = 0; st->files != NULL && i < n_ids; i++) {
        char e2[256];
        if (storage_file_remove(st->files, ids[i], e2, sizeof(e2)) != LX_OK)
            st->host->log(LX_LOG_WARN, STORAGE_SRC, NULL,
                          "user data deleted, but not the file of document %s: %s", ids[i], e2);
    }
    storage_strv_free(ids, n_ids);
    return LX_OK;
}

static int run_rec_get_items(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                             char *err, size_t errlen)
{
    (void)st;
    (void)now;
    return storage_rec_get_items(c, k->uid, k->kind, k->key, k->last_n, &k->rec, &k->recs,
                                 &k->n_recs, err, errlen);
}

static int run_doc_get_search(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                              char *err, size_t errlen)
{
    (void)st;
    (void)now;
    return storage_doc_get_search(c, k->uid, k->id, k->query, k->limit, &k->doc, &k->passages,
                                  &k->n_passages, err, errlen);
}

static int run_batch_items(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                           char *err, size_t errlen)
{
    int rc = run_batch(st, c, k, now, err, errlen);

    if (rc != LX_OK) { /* e.g. the group's commit failed after the batch */
        storage_recs_free(k->recs, k->n_recs);
        k->recs = NULL;
        k->n_recs = 0;
    }
    return rc;
}

/* The profile as GET /api/users/profile gives it (users.c), without the
 * token's extras; malloc'd JSON text or NULL when out of memory. */
static char *storage_profile_text(const storage_call *k)
{
    json_object *o = storage_profile_data(k->uid, &k->user, &k->prog, NULL);
    char *out = NULL;

    if (o != NULL)
        out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return out;
}

static const char *storage_s(const char *s)
{
    return s != NULL ? s : "";
}

static void storage_to_record(lx_storage_record *r, const storage_rec *s)
{
    r->key = storage_s(s->key);
    r->json = storage_s(s->json);
    r->seq = s->seq;
    r->created_at = storage_s(s->created_at);
    r->updated_at = storage_s(s->updated_at);
}

/* k->doc as the service hands it over (*d borrows from k). */
static void storage_to_doc(lx_storage_doc *d, const storage_call *k)
{
    memset(d, 0, sizeof(*d));
    d->struct_size = sizeof(*d);
    d->id = storage_s(k->doc.id);
    d->name = storage_s(k->doc.name);
    d->original_filename = storage_s(k->doc.original_filename);
    d->file_type = storage_s(k->doc.file_type);
    d->status = storage_s(k->doc.status);
    d->error = storage_s(k->doc.error);
    d->created_at = storage_s(k->doc.created_at);
    d->updated_at = storage_s(k->doc.updated_at);
    d->size = k->doc.size;
    d->content_length = k->doc.content_length;
    d->page_count = k->doc.page_count;
    d->text = k->with_text ? storage_s(k->doc.text) : "";
    d->text_len = strlen(d->text);
}

static void answer_doc(storage_call *k, int rc, const char *msg)
{
    lx_storage_doc d;

    memset(&d, 0, sizeof(d));
    if (rc == LX_OK)
        storage_to_doc(&d, k);
    k->done.doc(k->arg, rc, msg, rc == LX_OK ? &d : NULL);
}

/* k's passages as the service hands them over: *v malloc'd (NULL when
 * none); LX_ENOMEM with *msg set when that fails. */
static int storage_to_passages(const storage_call *k, lx_storage_passage **v, const char **msg)
{
    *v = NULL;
    if (k->n_passages == 0)
        return LX_OK;
    *v = calloc(k->n_passages, sizeof(**v));
    if (*v == NULL) {
        *msg = "out of memory";
        return LX_ENOMEM;
    }
    for (size_t i = 0; i < k->n_passages; i++) {
        (*v)[i].seq = k->passages[i].seq;
        (*v)[i].score = k->op == OP_DOC_PASSAGES ? 0.0 : k->passages[i].score;
        (*v)[i].text = storage_s(k->passages[i].text);
    }
    return LX_OK;
}

/* k's records (items) likewise. */
static int storage_to_records(const storage_call *k, lx_storage_record **v, const char **msg)
{
    *v = NULL;
    if (k->n_recs == 0)
        return LX_OK;
    *v = calloc(k->n_recs, sizeof(**v));
    if (*v == NULL) {
        *msg = "out of memory";
        return LX_ENOMEM;
    }
    for (size_t i = 0; i < k->n_recs; i++)
        storage_to_record(&(*v)[i], &k->recs[i]);
    return LX_OK;
}

static void answer_passages(storage_call *k, int rc, const char *msg)
{
    lx_storage_passage *v = NULL;

    if (rc == LX_OK)
        rc = storage_to_passages(k, &v, &msg);
    k->done.passages(k->arg, rc, msg, v, rc == LX_OK ? k->n_passages : 0);
    free(v);
}

static void answer_doc_passages(storage_call *k, int rc, const char *msg)
{
    lx_storage_passage *v = NULL;
    lx_storage_doc d;

    memset(&d, 0, sizeof(d));
    if (rc == LX_OK) {
        storage_to_doc(&d, k);
        rc = storage_to_passages(k, &v, &msg);
    }
    k->done.doc_passages(k->arg, rc, msg, rc == LX_OK ? &d : NULL, v,
                         rc == LX_OK ? k->n_passages : 0);
    free(v);
}

static void answer_profile(storage_call *k, int rc, const char *msg)
{
    char *json = NULL;

    if (rc == LX_OK && (json = storage_profile_text(k)) == NULL) {
        rc = LX_ENOMEM;
        msg = "out of memory";
    }
    k->done.json(k->arg, rc, msg, json != NULL ? json : "");
    free(json);
}

static void answer_plain(storage_call *k, int rc, const char *msg)
{
    k->done.plain(k->arg, rc, msg);
}

static void answer_record(storage_call *k, int rc, const char *msg)
{
    lx_storage_record r;

    memset(&r, 0, sizeof(r));
    if (rc == LX_OK)
        storage_to_record(&r, &k->rec);
    k->done.record(k->arg, rc, msg, rc == LX_OK ? &r : NULL);
}

static void answer_seq(storage_call *k, int rc, const char *msg)
{
    k->done.seq(k->arg, rc, msg, rc == LX_OK ? k->seq : 0);
}

static void answer_records(storage_call *k, int rc, const char *msg)
{
    lx_storage_record *v = NULL;

    if (rc == LX_OK)
        rc = storage_to_records(k, &v, &msg);
    k->done.records(k->arg, rc, msg, v, rc == LX_OK ? k->n_recs : 0);
    free(v);
}

static void answer_record_items(storage_call *k, int rc, const char *msg)
{
    lx_storage_record r, *v = NULL;

    memset(&r, 0, sizeof(r));
    if (rc == LX_OK) {
        storage_to_record(&r, &k->rec);
        rc = storage_to_records(k, &v, &msg);
    }
    k->done.record_items(k->arg, rc, msg, rc == LX_OK ? &r : NULL, v, rc == LX_OK ? k->n_recs : 0);
    free(v);
}

static void answer_purge(storage_call *k, int rc, const char *msg)
{
    k->done.purge(k->arg, rc, msg);
}

static void answer_create(storage_call *k, int rc, const char *msg)
{
    k->done.create(k->arg, rc, msg, rc == LX_OK && k->is_created);
}

static void answer_batch(storage_call *k, int rc, const char *msg)
{
    int64_t seqs[LX_STORAGE_BATCH_MAX];
    size_t n = rc == LX_OK && k->n_ops <= LX_STORAGE_BATCH_MAX ? k->n_ops : 0;

    for (size_t i = 0; i < n; i++)
        seqs[i] = k->ops[i].seq;
    k->done.batch(k->arg, rc, msg, rc == LX_OK ? seqs : NULL, n);
}

static void answer_batch_items(storage_call *k, int rc, const char *msg)
{
    int64_t seqs[LX_STORAGE_BATCH_MAX];
    lx_storage_record *v = NULL;
    size_t n = rc == LX_OK && k->n_ops <= LX_STORAGE_BATCH_MAX ? k->n_ops : 0;

    for (size_t i = 0; i < n; i++)
        seqs[i] = k->ops[i].seq;
    if (rc == LX_OK)
        rc = storage_to_records(k, &v, &msg);
    k->done.batch_items(k->arg, rc, msg, rc == LX_OK ? seqs : NULL, rc == LX_OK ? n : 0, v,
                        rc == LX_OK ? k->n_recs : 0);
    free(v);
}

typedef struct storage_svc_op {
    int (*run)(storage_state *st, storage_conn *c, storage_call *k, const char *now, char *err,
               size_t errlen);
    void (*answer)(storage_call *k, int rc, const char *msg);
} storage_svc_op;

/* One row per operation of storage.v1 and userdata.v1 (storage_call_op). */
static const storage_svc_op storage_svc_ops[OP_N] = {
    [OP_DOC_GET] = {run_doc_get, answer_doc},
    [OP_DOC_SEARCH] = {run_doc_search, answer_passages},
    [OP_DOC_PASSAGES] = {run_doc_passages, answer_passages},
    [OP_PROFILE_GET] = {run_profile_get, answer_profile},
    [OP_ACTIVITY_ADD] = {run_activity_add, answer_plain},
    [OP_REC_PUT] = {run_rec_put, answer_record},
    [OP_REC_GET] = {run_rec_get, answer_record},
    [OP_REC_APPEND] = {run_rec_append, answer_seq},
    [OP_REC_ITEMS] = {run_rec_items, answer_records},
    [OP_REC_LIST] = {run_rec_list, answer_records},
    [OP_REC_DELETE] = {run_rec_delete, answer_plain},
    [OP_USER_PURGE] = {run_user_purge, answer_purge},
    [OP_BATCH] = {run_batch, answer_batch},
    [OP_USER_CREATE] = {run_user_create, answer_create},
    [OP_REC_GET_ITEMS] = {run_rec_get_items, answer_record_items},
    [OP_DOC_GET_SEARCH] = {run_doc_get_search, answer_doc_passages},
    [OP_BATCH_ITEMS] = {run_batch_items, answer_batch_items},
};

/* Pool: the call's operation. */
int storage_call_job(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_call *k = arg;
    char now[STORAGE_TS_LEN + 8];

    storage_now_iso(now, sizeof(now));
    return storage_svc_ops[k->op].run(st, c, k, now, err, errlen);
}

/* Calls the caller's callback with the outcome; frees the call. */
void storage_call_answer(storage_call *k, int rc, const char *err)
{
    const char *msg = rc == LX_OK ? "" : (err != NULL && err[0] != '\0' ? err : "failed");

    if (rc != LX_OK && rc != LX_ENOENT && rc != LX_EINVAL && rc != LX_ECANCELED && rc != LX_ENOMEM)
        rc = LX_EIO; /* the contract's codes only */
    if (rc == LX_ENOENT && (err == NULL || err[0] == '\0'))
        msg = "not found";
    storage_svc_ops[k->op].answer(k, rc, msg);
    storage_call_free(k);
}
