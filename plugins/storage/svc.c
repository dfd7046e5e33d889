/*
 * The services this plugin provides: storage.v1 (documents, passages,
 * profiles, activity and generic records for other plugins) and
 * userdata.v1 (make a new account's profile; delete everything of a user). Contracts in
 * include/lexiaid/svc/storage_v1.h and svc/userdata_v1.h.
 *
 * Every call copies its input into one storage_call, checks it, and runs
 * it through storage_run; the answer is converted to the service's structs
 * (borrowed by the caller's callback) on the loop. Each operation is one
 * row of storage_svc_ops: its `run` on the pool and its `answer` on the
 * loop; a new operation is its sv_* entry point, its row, and the member
 * at the end of lx_storage_v1. A call with a bad
 * argument is answered LX_EINVAL through its callback too, later on the
 * loop, never from inside the call.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <lexiaid/svc/storage_v1.h>
#include <lexiaid/svc/userdata_v1.h>

#include "storage.h"

#define STORAGE_SVC_JSON_MAX (1024 * 1024)
#define STORAGE_SVC_QUERY_MAX 8192
#define STORAGE_SVC_UID_MAX 128
#define STORAGE_SVC_KEY_MAX 128

typedef enum storage_call_op {
    OP_DOC_GET,
    OP_DOC_SEARCH,
    OP_DOC_PASSAGES,
    OP_PROFILE_GET,
    OP_ACTIVITY_ADD,
    OP_REC_PUT,
    OP_REC_GET,
    OP_REC_APPEND,
    OP_REC_ITEMS,
    OP_REC_LIST,
    OP_REC_DELETE,
    OP_USER_PURGE,
    OP_BATCH,
    OP_USER_CREATE,
    OP_REC_GET_ITEMS,
    OP_DOC_GET_SEARCH,
    OP_BATCH_ITEMS,
    OP_N
} storage_call_op;

typedef struct storage_call {
    storage_state *st;
    storage_call_op op;
    int pre_rc; /* a bad argument found before running */
    char pre_err[160];

    /* Input (owned copies) */
    char *uid, *id, *kind, *key, *json, *query;
    char *email, *display_name; /* OP_USER_CREATE */
    int with_text, limit, count, last_n;
    int64_t from, after_seq, points;
    double score, max_score;
    storage_op *ops;              /* OP_BATCH: n_ops of them, their strings owned */
    char now[STORAGE_TS_LEN + 8]; /* OP_BATCH: the time of its writes */
    size_t n_ops;

    /* Output */
    storage_doc doc;
    storage_passage *passages;
    size_t n_passages;
    storage_user user;
    storage_progress prog;
    storage_rec rec;
    storage_rec *recs;
    size_t n_recs;
    int64_t seq;
    int is_created;

    /* The caller's callback: the member of its operation's type */
    void *arg;
    union {
        lx_storage_done_fn plain;
        lx_storage_doc_fn doc;
        lx_storage_passages_fn passages;
        lx_storage_json_fn json;
        lx_storage_record_fn record;
        lx_storage_records_fn records;
        lx_storage_seq_fn seq;
        lx_storage_batch_fn batch;
        lx_storage_record_items_fn record_items;
        lx_storage_doc_passages_fn doc_passages;
        lx_storage_batch_items_fn batch_items;
        void (*purge)(void *arg, int rc, const char *err);
        void (*create)(void *arg, int status, const char *message, int is_created);
    } done;
} storage_call;

static void storage_call_free(storage_call *k)
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
/* Checks                                                                   */

static void storage_bad(storage_call *k, const char *msg)
{
    if (k->pre_rc != LX_OK)
        return; /* the first problem wins */
    k->pre_rc = LX_EINVAL;
    snprintf(k->pre_err, sizeof(k->pre_err), "%s", msg);
}

static void storage_nomem(storage_call *k)
{
    if (k->pre_rc == LX_OK || k->pre_rc == LX_EINVAL) {
        k->pre_rc = LX_ENOMEM;
        snprintf(k->pre_err, sizeof(k->pre_err), "out of memory");
    }
}

static char *storage_dup(storage_call *k, const char *s)
{
    char *r;

    if (s == NULL)
        return NULL;
    r = strdup(s);
    if (r == NULL)
        storage_nomem(k);
    return r;
}

static storage_call *storage_call_new(storage_state *st, storage_call_op op, const char *uid)
{
    storage_call *k = calloc(1, sizeof(*k));

    if (k == NULL)
        return NULL;
    k->st = st;
    k->op = op;
    k->uid = storage_dup(k, uid);
    if (uid == NULL || uid[0] == '\0' || strlen(uid) > STORAGE_SVC_UID_MAX)
        storage_bad(k, "uid must be 1 to 128 bytes");
    return k;
}

static int storage_kind_ok(const char *s, size_t max, const char *extra)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' ||
              (extra != NULL && strchr(extra, s[n]) != NULL)))
            return 0;
    return n >= 1 && n <= max;
}

static void storage_set_kind(storage_call *k, const char *kind)
{
    if (!storage_kind_ok(kind, 64, "."))
        storage_bad(k, "kind must be 1 to 64 of [a-z0-9_.]");
    k->kind = storage_dup(k, kind);
}

static void storage_set_key(storage_call *k, const char *key)
{
    if (key == NULL || key[0] == '\0' || strlen(key) > STORAGE_SVC_KEY_MAX)
        storage_bad(k, "key must be 1 to 128 bytes");
    k->key = storage_dup(k, key);
}

/* What is wrong with json as a record's value or item (NULL: nothing);
 * out of memory is reported on k. */
static const char *storage_json_why(storage_call *k, const char *json)
{
    size_t n;
    int rc;

    if (json == NULL)
        return "json is missing";
    n = strlen(json);
    if (n > STORAGE_SVC_JSON_MAX)
        return "json is larger than 1 MiB";
    rc = storage_json_parse(json, n, NULL);
    if (rc == LX_ENOMEM)
        storage_nomem(k);
    else if (rc != LX_OK)
        return "json does not parse";
    return NULL;
}

static void storage_set_json(storage_call *k, const char *json)
{
    const char *why = storage_json_why(k, json);

    if (why != NULL) {
        storage_bad(k, why);
        if (json == NULL || strlen(json) > STORAGE_SVC_JSON_MAX)
            return;
    }
    k->json = storage_dup(k, json);
}

/* What is wrong with an activity (NULL: nothing), as activity_add checks it. */
static const char *storage_activity_why(const char *kind, int64_t points, double score,
                                        double max_score)
{
    if (!storage_kind_ok(kind, 32, NULL) || strpbrk(kind, "0123456789") != NULL)
        return "kind must be 1 to 32 of [a-z_]";
    if (points < 0)
        return "points must be 0 or more";
    if (!isfinite(score) || !isfinite(max_score) || score < 0 || max_score < 0)
        return "score and max_score must be finite and 0 or more";
    return NULL;
}

static void storage_set_doc_id(storage_call *k, const char *id)
{
    if (id == NULL || id[0] == '\0')
        storage_bad(k, "doc_id is missing");
    k->id = storage_dup(k, id);
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

    return storage_batch(c, k->uid, k->ops, k->n_ops, k->now, err, errlen);
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
    int rc = run_rec_get(st, c, k, now, err, errlen);

    if (rc != LX_OK || k->last_n == 0)
        return rc;
    return storage_rec_items(c, k->uid, k->kind, k->key, 0, k->last_n, &k->recs, &k->n_recs, err,
                             errlen);
}

static int run_doc_get_search(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                              char *err, size_t errlen)
{
    int rc = run_doc_get(st, c, k, now, err, errlen);

    if (rc != LX_OK || strcmp(k->doc.status, STORAGE_ST_PROCESSED) != 0)
        return rc;
    return run_doc_search(st, c, k, now, err, errlen);
}

static int run_batch_items(storage_state *st, storage_conn *c, storage_call *k, const char *now,
                           char *err, size_t errlen)
{
    int rc = run_batch(st, c, k, now, err, errlen);

    if (rc != LX_OK)
        return rc;
    return storage_rec_items(c, k->uid, k->kind, k->key, 0, k->last_n, &k->recs, &k->n_recs, err,
                             errlen);
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
static int storage_call_job(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_call *k = arg;
    char now[STORAGE_TS_LEN + 8];

    storage_now_iso(now, sizeof(now));
    return storage_svc_ops[k->op].run(st, c, k, now, err, errlen);
}

/* Calls the caller's callback with the outcome; frees the call. */
static void storage_call_answer(storage_call *k, int rc, const char *err)
{
    const char *msg = rc == LX_OK ? "" : (err != NULL && err[0] != '\0' ? err : "failed");

    if (rc != LX_OK && rc != LX_ENOENT && rc != LX_EINVAL && rc != LX_ECANCELED && rc != LX_ENOMEM)
        rc = LX_EIO; /* the contract's codes only */
    if (rc == LX_ENOENT && (err == NULL || err[0] == '\0'))
        msg = "not found";
    storage_svc_ops[k->op].answer(k, rc, msg);
    storage_call_free(k);
}

static void storage_call_done(storage_state *st, void *arg, int rc, const char *err)
{
    (void)st;
    storage_call_answer(arg, rc, err);
}

static void storage_call_noop(void *arg)
{
    (void)arg;
}

static void storage_call_rejected(void *arg, int status)
{
    storage_call *k = arg;

    (void)status;
    storage_call_answer(k, k->pre_rc, k->pre_err);
}

/* Runs a call (or answers its bad argument later on the loop). On failure
 * to queue it, frees it and returns the code: the callback never runs. */
static int storage_call_start(storage_call *k, lx_worker *w)
{
    storage_state *st = k->st;
    int rc;

    if (k->pre_rc != LX_OK)
        rc = st->host->offload(w, storage_call_noop, storage_call_rejected, k);
    else
        rc = storage_run(st, w, storage_call_job, storage_call_done, k);
    if (rc != LX_OK) {
        storage_call_free(k);
        return rc == LX_ESTATE ? LX_ECANCELED : rc;
    }
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* storage.v1                                                               */

static int sv_doc_get(void *state, lx_worker *w, const char *uid, const char *doc_id, int with_text,
                      lx_storage_doc_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_DOC_GET, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_doc_id(k, doc_id);
    k->with_text = with_text != 0;
    k->done.doc = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

/* A search's document, query and limit into k. */
static void storage_set_search(storage_call *k, const char *doc_id, const char *query, int limit)
{
    storage_set_doc_id(k, doc_id);
    if (query == NULL || strlen(query) > STORAGE_SVC_QUERY_MAX)
        storage_bad(k, "query must be at most 8192 bytes");
    k->query = storage_dup(k, query);
    if (limit < 1 || limit > 50)
        storage_bad(k, "limit must be between 1 and 50");
    k->limit = limit;
}

static int sv_doc_search(void *state, lx_worker *w, const char *uid, const char *doc_id,
                         const char *query, int limit, lx_storage_passages_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_DOC_SEARCH, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_search(k, doc_id, query, limit);
    k->done.passages = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_doc_get_search(void *state, lx_worker *w, const char *uid, const char *doc_id,
                             const char *query, int limit, lx_storage_doc_passages_fn done,
                             void *arg)
{
    storage_call *k = storage_call_new(state, OP_DOC_GET_SEARCH, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_search(k, doc_id, query, limit);
    k->done.doc_passages = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_doc_passages(void *state, lx_worker *w, const char *uid, const char *doc_id,
                           int64_t from, int count, lx_storage_passages_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_DOC_PASSAGES, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_doc_id(k, doc_id);
    if (from < 0)
        storage_bad(k, "from must be 0 or more");
    if (count < 1 || count > 50)
        storage_bad(k, "count must be between 1 and 50");
    k->from = from;
    k->count = count;
    k->done.passages = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_profile_get(void *state, lx_worker *w, const char *uid, lx_storage_json_fn done,
                          void *arg)
{
    storage_call *k = storage_call_new(state, OP_PROFILE_GET, uid);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.json = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_activity_add(void *state, lx_worker *w, const char *uid, const char *kind,
                           int64_t points, double score, double max_score, lx_storage_done_fn done,
                           void *arg)
{
    storage_call *k = storage_call_new(state, OP_ACTIVITY_ADD, uid);
    const char *why;

    if (k == NULL)
        return LX_ENOMEM;
    why = storage_activity_why(kind, points, score, max_score);
    if (why != NULL)
        storage_bad(k, why);
    k->kind = storage_dup(k, kind);
    k->points = points;
    k->score = score;
    k->max_score = max_score;
    k->done.plain = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_record_put(void *state, lx_worker *w, const char *uid, const char *kind,
                         const char *key, const char *json, lx_storage_record_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_REC_PUT, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_kind(k, kind);
    if (key != NULL)
        storage_set_key(k, key);
    storage_set_json(k, json);
    k->done.record = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_record_get(void *state, lx_worker *w, const char *uid, const char *kind,
                         const char *key, lx_storage_record_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_REC_GET, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_kind(k, kind);
    storage_set_key(k, key);
    k->done.record = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_record_append(void *state, lx_worker *w, const char *uid, const char *kind,
                            const char *key, const char *json, lx_storage_seq_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_REC_APPEND, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_kind(k, kind);
    storage_set_key(k, key);
    storage_set_json(k, json);
    k->done.seq = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_record_items(void *state, lx_worker *w, const char *uid, const char *kind,
                           const char *key, int64_t after_seq, int last_n,
                           lx_storage_records_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_REC_ITEMS, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_kind(k, kind);
    storage_set_key(k, key);
    if (after_seq < 0)
        storage_bad(k, "after_seq must be 0 or more");
    if (last_n < 0)
        storage_bad(k, "last_n must be 0 or more");
    k->after_seq = after_seq;
    k->last_n = last_n;
    k->done.records = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_record_list(void *state, lx_worker *w, const char *uid, const char *kind, int limit,
                          lx_storage_records_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_REC_LIST, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_kind(k, kind);
    if (limit < 1 || limit > 1000)
        storage_bad(k, "limit must be between 1 and 1000");
    k->limit = limit;
    k->done.records = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int sv_record_delete(void *state, lx_worker *w, const char *uid, const char *kind,
                            const char *key, lx_storage_done_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_REC_DELETE, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_kind(k, kind);
    storage_set_key(k, key);
    k->done.plain = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

/* Checks one op of a batch as its single call would and copies it into
 * *d (zeroed); a problem is reported on k as "op N: why". */
static void storage_batch_op(storage_call *k, size_t i, const lx_storage_op *o, storage_op *d)
{
    const char *why = NULL;
    char msg[128];

    switch (o->type) {
    case LX_STORAGE_OP_PUT:
    case LX_STORAGE_OP_APPEND:
        d->type = o->type == LX_STORAGE_OP_PUT ? STORAGE_OP_PUT : STORAGE_OP_APPEND;
        if (!storage_kind_ok(o->kind, 64, "."))
            why = "kind must be 1 to 64 of [a-z0-9_.]";
        else if (o->key == NULL || o->key[0] == '\0' || strlen(o->key) > STORAGE_SVC_KEY_MAX)
            why = "key must be 1 to 128 bytes";
        else if ((why = storage_json_why(k, o->json)) == NULL) {
            d->kind = storage_dup(k, o->kind);
            d->key = storage_dup(k, o->key);
            d->json = storage_dup(k, o->json);
        }
        break;
    case LX_STORAGE_OP_ACTIVITY:
        d->type = STORAGE_OP_ACTIVITY;
        why = storage_activity_why(o->activity, o->points, o->score, o->max_score);
        if (why == NULL) {
            d->act.kind = storage_dup(k, o->activity);
            d->act.points = o->points;
            d->act.score = o->score;
            d->act.max_score = o->max_score;
        }
        break;
    default:
        why = "type must be LX_STORAGE_OP_PUT, _APPEND or _ACTIVITY";
        break;
    }
    if (why != NULL) {
        snprintf(msg, sizeof(msg), "op %zu: %s", i + 1, why);
        storage_bad(k, msg);
    }
}

/* Checks and copies a batch's ops into k; LX_ENOMEM (k freed) when the
 * copy cannot be made, else LX_OK (a bad op is reported on k). */
static int storage_set_ops(storage_call *k, const lx_storage_op *ops, size_t n_ops)
{
    if (ops == NULL || n_ops < 1 || n_ops > LX_STORAGE_BATCH_MAX) {
        char msg[64];
        snprintf(msg, sizeof(msg), "a batch has 1 to %d ops", LX_STORAGE_BATCH_MAX);
        storage_bad(k, msg);
        return LX_OK;
    }
    k->ops = calloc(n_ops, sizeof(*k->ops));
    if (k->ops == NULL) {
        storage_call_free(k);
        return LX_ENOMEM;
    }
    k->n_ops = n_ops;
    for (size_t i = 0; i < n_ops && k->pre_rc == LX_OK; i++)
        storage_batch_op(k, i, &ops[i], &k->ops[i]);
    return LX_OK;
}

static int sv_batch(void *state, lx_worker *w, const char *uid, const lx_storage_op *ops,
                    size_t n_ops, lx_storage_batch_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_BATCH, uid);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.batch = done;
    k->arg = arg;
    if (storage_set_ops(k, ops, n_ops) != LX_OK)
        return LX_ENOMEM;
    return storage_call_start(k, w);
}

static int sv_batch_items(void *state, lx_worker *w, const char *uid, const lx_storage_op *ops,
                          size_t n_ops, const char *kind, const char *key, int last_n,
                          lx_storage_batch_items_fn done, void *arg)
{
    storage_call *k = storage_call_new(state, OP_BATCH_ITEMS, uid);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.batch_items = done;
    k->arg = arg;
    if (storage_set_ops(k, ops, n_ops) != LX_OK)
        return LX_ENOMEM;
    storage_set_kind(k, kind);
    storage_set_key(k, key);
    if (last_n < 1 || last_n > 1000)
        storage_bad(k, "last_n must be between 1 and 1000");
    k->last_n = last_n;
    return storage_call_start(k, w);
}

static int sv_record_get_items(void *state, lx_worker *w, const char *uid, const char *kind,
                               const char *key, int last_n, lx_storage_record_items_fn done,
                               void *arg)
{
    storage_call *k = storage_call_new(state, OP_REC_GET_ITEMS, uid);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_kind(k, kind);
    storage_set_key(k, key);
    if (last_n < 0 || last_n > 1000)
        storage_bad(k, "last_n must be between 0 and 1000");
    k->last_n = last_n;
    k->done.record_items = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static const lx_storage_v1 storage_v1_table = {
    .struct_size = sizeof(lx_storage_v1),
    .doc_get = sv_doc_get,
    .doc_search = sv_doc_search,
    .doc_passages = sv_doc_passages,
    .profile_get = sv_profile_get,
    .activity_add = sv_activity_add,
    .record_put = sv_record_put,
    .record_get = sv_record_get,
    .record_append = sv_record_append,
    .record_items = sv_record_items,
    .record_list = sv_record_list,
    .record_delete = sv_record_delete,
    .batch = sv_batch,
    .record_get_items = sv_record_get_items,
    .doc_get_search = sv_doc_get_search,
    .batch_items = sv_batch_items,
};

/* ------------------------------------------------------------------------ */
/* userdata.v1                                                              */

int storage_user_purge(storage_state *st, lx_worker *w, const char *uid,
                       void (*done)(void *arg, int rc, const char *err), void *arg)
{
    storage_call *k = storage_call_new(st, OP_USER_PURGE, uid);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.purge = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static int ud_delete_user(void *state, lx_worker *w, const char *uid,
                          void (*done)(void *arg, int status, const char *message), void *arg)
{
    return storage_user_purge(state, w, uid, done, arg);
}

/* What a profile's name or email may be: at most 256 bytes of UTF-8
 * without control characters (NULL: none). */
static int ud_text_ok(const char *s)
{
    size_t len;

    if (s == NULL)
        return 1;
    len = strlen(s);
    if (len > 256 || storage_utf8_chars(s, len) < 0)
        return 0;
    return strpbrk(s, "\t\n\r") == NULL;
}

static int ud_create_user(void *state, lx_worker *w, const char *uid, const char *email,
                          const char *display_name,
                          void (*done)(void *arg, int status, const char *message, int is_created),
                          void *arg)
{
    storage_call *k = storage_call_new(state, OP_USER_CREATE, uid);

    if (k == NULL)
        return LX_ENOMEM;
    if (!ud_text_ok(email) || !ud_text_ok(display_name))
        storage_bad(k, "email and display_name must be at most 256 bytes of text");
    k->email = storage_dup(k, email);
    k->display_name = storage_dup(k, display_name);
    k->done.create = done;
    k->arg = arg;
    return storage_call_start(k, w);
}

static const lx_userdata_v1 storage_userdata_table = {
    .struct_size = sizeof(lx_userdata_v1),
    .delete_user = ud_delete_user,
    .create_user = ud_create_user,
};

int storage_svc_register(storage_state *st, char *err, size_t errlen)
{
    const lx_host *host = st->host;

    if (host->svc_register(LX_STORAGE_V1, &storage_v1_table, st) != LX_OK) {
        snprintf(err, errlen, "storage: the service %s is already provided", LX_STORAGE_V1);
        return LX_EEXIST;
    }
    if (host->svc_register(LX_USERDATA_V1, &storage_userdata_table, st) != LX_OK) {
        snprintf(err, errlen, "storage: the service %s is already provided", LX_USERDATA_V1);
        return LX_EEXIST;
    }
    return LX_OK;
}
