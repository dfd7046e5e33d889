/*
 * The services this plugin provides: storage.v1 (documents, passages,
 * profiles, activity and generic records for other plugins) and
 * userdata.v1 (make a new account's profile; delete everything of a user). Contracts in
 * include/lexiaid/svc/storage_v1.h and svc/userdata_v1.h.
 *
 * This file: the entry points. Every call copies its input into one
 * storage_call (svc_call.h), checks it, and runs it through storage_run;
 * svc_ops.c does its work on the pool and converts the answer to the
 * service's structs (borrowed by the caller's callback) on the loop, one
 * row of storage_svc_ops per operation. A new operation is its sv_* entry
 * point here, its row there, and its member at the end of lx_storage_v1.
 * A call with a bad argument is answered LX_EINVAL through its callback
 * too, later on the loop, never from inside the call.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_call.h"

#define STORAGE_SVC_JSON_MAX (1024 * 1024)
#define STORAGE_SVC_QUERY_MAX 8192
#define STORAGE_SVC_UID_MAX 128
#define STORAGE_SVC_KEY_MAX 128

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

/* Runs a call (or answers its bad argument later on the loop), its
 * callback (set by the caller in k->done) to be given arg. On failure to
 * queue it, frees it and returns the code: the callback never runs. */
static int storage_call_start(storage_call *k, lx_worker *w, void *arg)
{
    storage_state *st = k->st;
    int rc;

    k->arg = arg;
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
    return storage_call_start(k, w, arg);
}

/* A new call (op) on uid's document doc_id that searches it for query,
 * its limit best passages; a bad argument is reported on the call. NULL:
 * out of memory. On the loop. */
static storage_call *storage_search_call(void *state, storage_call_op op, const char *uid,
                                         const char *doc_id, const char *query, int limit)
{
    storage_call *k = storage_call_new(state, op, uid);

    if (k == NULL)
        return NULL;
    storage_set_doc_id(k, doc_id);
    if (query == NULL || strlen(query) > STORAGE_SVC_QUERY_MAX)
        storage_bad(k, "query must be at most 8192 bytes");
    k->query = storage_dup(k, query);
    if (limit < 1 || limit > 50)
        storage_bad(k, "limit must be between 1 and 50");
    k->limit = limit;
    return k;
}

static int sv_doc_search(void *state, lx_worker *w, const char *uid, const char *doc_id,
                         const char *query, int limit, lx_storage_passages_fn done, void *arg)
{
    storage_call *k = storage_search_call(state, OP_DOC_SEARCH, uid, doc_id, query, limit);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.passages = done;
    return storage_call_start(k, w, arg);
}

static int sv_doc_get_search(void *state, lx_worker *w, const char *uid, const char *doc_id,
                             const char *query, int limit, lx_storage_doc_passages_fn done,
                             void *arg)
{
    storage_call *k = storage_search_call(state, OP_DOC_GET_SEARCH, uid, doc_id, query, limit);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.doc_passages = done;
    return storage_call_start(k, w, arg);
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
    return storage_call_start(k, w, arg);
}

static int sv_profile_get(void *state, lx_worker *w, const char *uid, lx_storage_json_fn done,
                          void *arg)
{
    storage_call *k = storage_call_new(state, OP_PROFILE_GET, uid);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.json = done;
    return storage_call_start(k, w, arg);
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
    return storage_call_start(k, w, arg);
}

/* A new call (op) on uid's record (kind, key), both checked (a bad one is
 * reported on the call). NULL: out of memory. On the loop. */
static storage_call *storage_record_call(void *state, storage_call_op op, const char *uid,
                                         const char *kind, const char *key)
{
    storage_call *k = storage_call_new(state, op, uid);

    if (k == NULL)
        return NULL;
    storage_set_kind(k, kind);
    storage_set_key(k, key);
    return k;
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
    return storage_call_start(k, w, arg);
}

static int sv_record_get(void *state, lx_worker *w, const char *uid, const char *kind,
                         const char *key, lx_storage_record_fn done, void *arg)
{
    storage_call *k = storage_record_call(state, OP_REC_GET, uid, kind, key);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.record = done;
    return storage_call_start(k, w, arg);
}

static int sv_record_append(void *state, lx_worker *w, const char *uid, const char *kind,
                            const char *key, const char *json, lx_storage_seq_fn done, void *arg)
{
    storage_call *k = storage_record_call(state, OP_REC_APPEND, uid, kind, key);

    if (k == NULL)
        return LX_ENOMEM;
    storage_set_json(k, json);
    k->done.seq = done;
    return storage_call_start(k, w, arg);
}

static int sv_record_items(void *state, lx_worker *w, const char *uid, const char *kind,
                           const char *key, int64_t after_seq, int last_n,
                           lx_storage_records_fn done, void *arg)
{
    storage_call *k = storage_record_call(state, OP_REC_ITEMS, uid, kind, key);

    if (k == NULL)
        return LX_ENOMEM;
    if (after_seq < 0)
        storage_bad(k, "after_seq must be 0 or more");
    if (last_n < 0)
        storage_bad(k, "last_n must be 0 or more");
    k->after_seq = after_seq;
    k->last_n = last_n;
    k->done.records = done;
    return storage_call_start(k, w, arg);
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
    return storage_call_start(k, w, arg);
}

static int sv_record_delete(void *state, lx_worker *w, const char *uid, const char *kind,
                            const char *key, lx_storage_done_fn done, void *arg)
{
    storage_call *k = storage_record_call(state, OP_REC_DELETE, uid, kind, key);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.plain = done;
    return storage_call_start(k, w, arg);
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

/* A new call (op) of a batch of n_ops ops, checked and copied (a bad one is
 * reported on the call). NULL: out of memory. On the loop. */
static storage_call *storage_batch_call(void *state, storage_call_op op, const char *uid,
                                        const lx_storage_op *ops, size_t n_ops)
{
    storage_call *k = storage_call_new(state, op, uid);

    if (k == NULL || storage_set_ops(k, ops, n_ops) != LX_OK)
        return NULL;
    return k;
}

static int sv_batch(void *state, lx_worker *w, const char *uid, const lx_storage_op *ops,
                    size_t n_ops, lx_storage_batch_fn done, void *arg)
{
    storage_call *k = storage_batch_call(state, OP_BATCH, uid, ops, n_ops);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.batch = done;
    return storage_call_start(k, w, arg);
}

static int sv_batch_items(void *state, lx_worker *w, const char *uid, const lx_storage_op *ops,
                          size_t n_ops, const char *kind, const char *key, int last_n,
                          lx_storage_batch_items_fn done, void *arg)
{
    storage_call *k = storage_batch_call(state, OP_BATCH_ITEMS, uid, ops, n_ops);

    if (k == NULL)
        return LX_ENOMEM;
    k->done.batch_items = done;
    storage_set_kind(k, kind);
    storage_set_key(k, key);
    if (last_n < 1 || last_n > 1000)
        storage_bad(k, "last_n must be between 1 and 1000");
    k->last_n = last_n;
    return storage_call_start(k, w, arg);
}

static int sv_record_get_items(void *state, lx_worker *w, const char *uid, const char *kind,
                               const char *key, int last_n, lx_storage_record_items_fn done,
                               void *arg)
{
    storage_call *k = storage_record_call(state, OP_REC_GET_ITEMS, uid, kind, key);

    if (k == NULL)
        return LX_ENOMEM;
    if (last_n < 0 || last_n > 1000)
        storage_bad(k, "last_n must be between 0 and 1000");
    k->last_n = last_n;
    k->done.record_items = done;
    return storage_call_start(k, w, arg);
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
    .asset_put = storage_sv_asset_put, /* minor 3: svc_assets.c */
    .asset_get = storage_sv_asset_get,
    .subscribe = storage_sv_subscribe,
    .asset_claim = storage_sv_asset_claim, /* minor 4: svc_assets.c */
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
    return storage_call_start(k, w, arg);
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
    return storage_call_start(k, w, arg);
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
