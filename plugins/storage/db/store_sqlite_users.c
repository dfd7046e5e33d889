/*
 * The SQLite backend's people and their data (store_sqlite.h): users,
 * feedback, statistics, activity and progress, and records with their
 * items. Every write is one BEGIN IMMEDIATE transaction; reads of several
 * statements share one BEGIN.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "errf.h"
#include "store_sqlite.h"

#define SQ_NO_RECORD "no such record"

/* ------------------------------------------------------------------------ */
/* Row readers: storage_sq_row_fns                                          */

/* *out (a storage_user) from a row of SQ_USER_COLS. */
static int sq_user_row(sqlite3_stmt *st, void *out)
{
    storage_user *u = out;
    char **const strs[] = {&u->uid,        &u->email,      &u->display_name, &u->profile_json,
                           &u->created_at, &u->updated_at, &u->last_login};

    if (storage_sq_cols(st, strs, (int)(sizeof(strs) / sizeof(strs[0]))) != LX_OK) {
        storage_user_clear(u);
        return LX_ENOMEM;
    }
    return LX_OK;
}

/* *out (a storage_feedback) from a row of SQ_FB_COLS; freed by
 * storage_feedback_free when half filled. */
static int sq_feedback_row(sqlite3_stmt *st, void *out)
{
    storage_feedback *f = out;
    char **const strs[] = {&f->id,          &f->user_id,      &f->email,  &f->type,
                           &f->description, &f->browser_info, &f->status, &f->created_at};

    return storage_sq_cols(st, strs, (int)(sizeof(strs) / sizeof(strs[0])));
}

/* *out (a storage_stats) from SQ_STATS's one row, in the order of its
 * columns. */
static int sq_stats_row(sqlite3_stmt *st, void *out)
{
    storage_stats *s = out;
    int64_t *fields[] = {
        &s->users_total,      &s->users_with_documents, &s->docs_total,   &s->docs_processed,
        &s->docs_processing,  &s->docs_failed,          &s->docs_pending, &s->fb_total,
        &s->fb_new,           &s->fb_reviewed,          &s->fb_resolved,  &s->fb_bug,
        &s->fb_accessibility, &s->fb_suggestion,        &s->fb_other};

    for (int i = 0; i < (int)(sizeof(fields) / sizeof(fields[0])); i++)
        *fields[i] = sqlite3_column_int64(st, i);
    return LX_OK;
}

/* *out (a storage_kind_count) from a row of SQ_PROG_KINDS. */
static int sq_kind_row(sqlite3_stmt *st, void *out)
{
    storage_kind_count *k = out;

    k->kind = storage_sq_col(st, 0);
    k->count = sqlite3_column_int64(st, 1);
    k->points = sqlite3_column_int64(st, 2);
    k->score = sqlite3_column_double(st, 3);
    k->max_score = sqlite3_column_double(st, 4);
    k->best = sqlite3_column_double(st, 5);
    return k->kind != NULL ? LX_OK : LX_ENOMEM;
}

/* *out (a storage_rec) from a row (key, json, n_items, created_at,
 * updated_at). */
static int sq_rec_row(sqlite3_stmt *st, void *out)
{
    storage_rec *r = out;
    char **const strs[] = {&r->key, &r->json, NULL, &r->created_at, &r->updated_at};

    r->seq = sqlite3_column_int64(st, 2);
    if (storage_sq_cols(st, strs, (int)(sizeof(strs) / sizeof(strs[0]))) != LX_OK) {
        storage_rec_clear(r);
        return LX_ENOMEM;
    }
    return LX_OK;
}

/* *out (a storage_rec, key left to the caller) from a row of an item
 * (seq, json, created_at); an item's updated_at is its created_at. */
static int sq_item_row(sqlite3_stmt *st, void *out)
{
    storage_rec *r = out;

    r->seq = sqlite3_column_int64(st, 0);
    r->json = storage_sq_col(st, 1);
    r->created_at = storage_sq_col(st, 2);
    r->updated_at = storage_sq_col(st, 2);
    return r->json != NULL && r->created_at != NULL && r->updated_at != NULL ? LX_OK : LX_ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Users                                                                    */

/* Reads uid's row into *u: LX_OK, LX_ENOENT or a failure (*u cleared). */
static int sq_user_read(storage_sq_conn *s, const char *uid, storage_user *u, char *err,
                        size_t errlen)
{
    return storage_sq_row(s, SQ_USER_GET, "user", "no such user", sq_user_row, u, err, errlen, "t",
                          uid);
}

int storage_sq_user_init(storage_conn *c, const char *uid, const char *email,
                         const char *display_name, const char *profile_json, const char *now,
                         int *is_created, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int changes = 0;
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = storage_sq_run(s, SQ_USER_INSERT, "user", NULL, &changes, err, errlen, "tttttt", uid,
                        email, display_name, profile_json, now, now);
    if (rc == LX_OK && changes == 0)
        rc = storage_sq_run(s, SQ_USER_LOGIN, "user", NULL, NULL, err, errlen, "ttt", uid, email,
                            now);
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc == LX_OK && is_created != NULL)
        *is_created = changes > 0;
    return rc;
}

int storage_sq_user_create(storage_conn *c, const storage_user_new *v, size_t n, const char *now,
                           int *created, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc;

    if (n == 0)
        return LX_OK;
    rc = storage_sq_begin(s, 1, err, errlen);
    if (rc != LX_OK)
        return rc;
    for (size_t i = 0; rc == LX_OK && i < n; i++) {
        int changes = 0;
        rc = storage_sq_run(s, SQ_USER_INSERT, "user", NULL, &changes, err, errlen, "tttttt",
                            v[i].uid, v[i].email, v[i].display_name, NULL, now, "");
        if (created != NULL)
            created[i] = changes > 0;
    }
    return storage_sq_finish(s, rc, err, errlen);
}

int storage_sq_user_get(storage_conn *c, const char *uid, storage_user *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    return sq_user_read(storage_sq_of(c), uid, u, err, errlen);
}

int storage_sq_user_update(storage_conn *c, const char *uid, const char *email, const char *now,
                           storage_merge_fn merge, void *arg, storage_user *u, char *err,
                           size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    storage_user old = {0};
    char *new_profile = NULL, *new_name = NULL;
    int rc;

    if (u != NULL)
        memset(u, 0, sizeof(*u));
    rc = storage_sq_begin(s, 1, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_user_read(s, uid, &old, err, errlen);
    if (rc == LX_ENOENT) {
        rc = storage_sq_run(s, SQ_USER_INSERT, "user", NULL, NULL, err, errlen, "tttttt", uid,
                            email, NULL, NULL, now, "");
        if (rc == LX_OK)
            rc = sq_user_read(s, uid, &old, err, errlen);
    }
    if (rc == LX_OK)
        rc = merge(arg, old.profile_json, old.display_name, &new_profile, &new_name, err, errlen);
    if (rc == LX_OK)
        rc = storage_sq_run(s, SQ_USER_SET, "user", NULL, NULL, err, errlen, "ttttt", uid,
                            new_profile != NULL ? new_profile : old.profile_json, new_name, email,
                            now);
    if (rc == LX_OK && u != NULL)
        rc = sq_user_read(s, uid, u, err, errlen);
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc != LX_OK && u != NULL)
        storage_user_clear(u);
    storage_user_clear(&old);
    free(new_profile);
    free(new_name);
    return rc;
}

int storage_sq_user_delete(storage_conn *c, const char *uid, char ***doc_ids, size_t *n_docs,
                           char *err, size_t errlen)
{
    static const enum sq_id deletes[] = {SQ_USER_DEL_DOCS,     SQ_USER_DEL_FEEDBACK,
                                         SQ_USER_DEL_ACTIVITY, SQ_USER_DEL_ITEMS,
                                         SQ_USER_DEL_RECORDS,  SQ_USER_DEL};
    storage_sq_conn *s = storage_sq_of(c);
    char **ids = NULL;
    char ***cols[] = {&ids};
    size_t n_ids = 0;
    int rc;

    if (doc_ids != NULL)
        *doc_ids = NULL;
    if (n_docs != NULL)
        *n_docs = 0;
    rc = storage_sq_begin(s, 1, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_sq_strings(s, SQ_USER_DOC_IDS, "user documents", 1, cols, &n_ids, err, errlen, "t",
                            uid);
    /* The documents' text and passages go by ON DELETE CASCADE (and the
     * search index with them, by trigger); record items likewise, but are
     * deleted explicitly all the same. */
    for (size_t i = 0; rc == LX_OK && i < sizeof(deletes) / sizeof(deletes[0]); i++)
        rc = storage_sq_run(s, deletes[i], "delete user", NULL, NULL, err, errlen, "t", uid);
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc != LX_OK || doc_ids == NULL) {
        storage_strv_free(ids, n_ids);
        return rc;
    }
    *doc_ids = ids;
    if (n_docs != NULL)
        *n_docs = n_ids;
    return LX_OK;
}

static void sq_users_free(storage_user *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        storage_user_clear(&v[i]);
    free(v);
}

int storage_sq_user_page(storage_conn *c, const char *after_uid, int limit, storage_user **out,
                         size_t *n, int *has_more, char *err, size_t errlen)
{
    storage_user *v = NULL;
    size_t n_v = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (has_more != NULL)
        *has_more = 0;
    if (limit <= 0)
        return LX_OK;
    /* One row more than asked tells whether more follow. */
    rc = storage_sq_list(storage_sq_of(c), SQ_USER_PAGE, "users", sq_user_row, sizeof(*v),
                         (void **)&v, &n_v, err, errlen, "tn", after_uid != NULL ? after_uid : "",
                         limit + 1);
    if (rc != LX_OK) {
        sq_users_free(v, n_v);
        return rc;
    }
    if (n_v > (size_t)limit) {
        storage_user_clear(&v[limit]);
        n_v = (size_t)limit;
        if (has_more != NULL)
            *has_more = 1;
    }
    *out = v;
    *n = n_v;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Feedback and statistics                                                  */

int storage_sq_feedback_create(storage_conn *c, const storage_feedback *f, char *err, size_t errlen)
{
    return storage_sq_write(storage_sq_of(c), SQ_FB_INSERT, "feedback", NULL, err, errlen,
                            "tttttttt", f->id, f->user_id, f->email, f->type, f->description,
                            f->browser_info, f->status, f->created_at);
}

int storage_sq_feedback_list(storage_conn *c, const char *status, const char *type, int limit,
                             int offset, storage_feedback **out, size_t *n, int64_t *total,
                             char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    storage_feedback *v = NULL;
    size_t n_v = 0;
    int64_t count = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (total != NULL)
        *total = 0;
    rc = storage_sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_sq_row(s, SQ_FB_COUNT, "feedback", NULL, storage_sq_int64_row, &count, err, errlen,
                        "tt", status, type);
    if (rc == LX_OK)
        rc = storage_sq_list(s, SQ_FB_LIST, "feedback", sq_feedback_row, sizeof(*v), (void **)&v,
                             &n_v, err, errlen, "ttnn", status, type, storage_sq_limit(limit),
                             offset > 0 ? offset : 0);
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc != LX_OK) {
        storage_feedback_free(v, n_v);
        return rc;
    }
    *out = v;
    *n = n_v;
    if (total != NULL)
        *total = count;
    return LX_OK;
}

int storage_sq_stats_get(storage_conn *c, storage_stats *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    return storage_sq_row(storage_sq_of(c), SQ_STATS, "stats", NULL, sq_stats_row, out, err, errlen,
                          "");
}

/* ------------------------------------------------------------------------ */
/* Activity and progress                                                    */

/* The activity insert, inside the caller's write transaction. */
int storage_sq_activity_in(storage_sq_conn *s, const storage_activity *a, char *err, size_t errlen)
{
    return storage_sq_run(s, SQ_ACT_INSERT, "activity", NULL, NULL, err, errlen, "ttiddtt", a->uid,
                          a->kind, a->points, a->score, a->max_score, a->day, a->now);
}

int storage_sq_activity_add(storage_conn *c, const storage_activity *a, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = storage_sq_activity_in(s, a, err, errlen);
    return storage_sq_finish(s, rc, err, errlen);
}

int storage_sq_progress_get(storage_conn *c, const char *uid, storage_progress *p, char *err,
                            size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    char ***cols[] = {&p->days};
    int rc;

    memset(p, 0, sizeof(*p));
    rc = storage_sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_sq_row(s, SQ_PROG_DOCS, "progress", NULL, storage_sq_int64_row, &p->documents, err,
                        errlen, "t", uid);
    if (rc == LX_OK)
        rc = storage_sq_list(s, SQ_PROG_KINDS, "progress", sq_kind_row, sizeof(*p->kinds),
                             (void **)&p->kinds, &p->n_kinds, err, errlen, "t", uid);
    for (size_t i = 0; rc == LX_OK && i < p->n_kinds; i++)
        p->points += p->kinds[i].points;
    if (rc == LX_OK)
        rc = storage_sq_strings(s, SQ_PROG_DAYS, "progress", 1, cols, &p->n_days, err, errlen, "t",
                                uid);
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc != LX_OK)
        storage_progress_clear(p);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */

/* Reads the record (uid, kind, key) into *r (NULL: only whether it is
 * there): LX_OK, LX_ENOENT or a failure. */
static int sq_rec_read(storage_sq_conn *s, const char *uid, const char *kind, const char *key,
                       storage_rec *r, char *err, size_t errlen)
{
    return storage_sq_row(s, SQ_REC_GET, "record", SQ_NO_RECORD, r != NULL ? sq_rec_row : NULL, r,
                          err, errlen, "ttt", uid, kind, key);
}

/* storage_sq_rec_put's statement, inside the caller's write transaction. */
static int sq_rec_put_in(storage_sq_conn *s, const char *uid, const char *kind, const char *key,
                         const char *json, const char *now, char *err, size_t errlen)
{
    return storage_sq_run(s, SQ_REC_PUT, "record", NULL, NULL, err, errlen, "ttttt", uid, kind, key,
                          json, now);
}

int storage_sq_rec_put(storage_conn *c, const char *uid, const char *kind, const char *key,
                       const char *json, const char *now, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = sq_rec_put_in(s, uid, kind, key, json, now, err, errlen);
    return storage_sq_finish(s, rc, err, errlen);
}

int storage_sq_rec_get(storage_conn *c, const char *uid, const char *kind, const char *key,
                       storage_rec *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    return sq_rec_read(storage_sq_of(c), uid, kind, key, r, err, errlen);
}

/* storage_sq_rec_append's statements, inside the caller's write
 * transaction; *seq gets the item's seq (0 on failure). */
static int sq_rec_append_in(storage_sq_conn *s, const char *uid, const char *kind, const char *key,
                            const char *json, const char *now, int64_t *seq, char *err,
                            size_t errlen)
{
    storage_rec r = {0};
    int rc;

    /* n_items grows by one under the write lock: it is the new item's seq. */
    rc = storage_sq_run(s, SQ_REC_BUMP, "record", SQ_NO_RECORD, NULL, err, errlen, "tttt", uid,
                        kind, key, now);
    if (rc == LX_OK)
        rc = sq_rec_read(s, uid, kind, key, &r, err, errlen);
    if (rc == LX_OK)
        rc = storage_sq_run(s, SQ_ITEM_INSERT, "record item", NULL, NULL, err, errlen, "tttitt",
                            uid, kind, key, r.seq, json, now);
    *seq = rc == LX_OK ? r.seq : 0;
    storage_rec_clear(&r);
    return rc;
}

int storage_sq_rec_append(storage_conn *c, const char *uid, const char *kind, const char *key,
                          const char *json, const char *now, int64_t *seq, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int64_t got = 0;
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = sq_rec_append_in(s, uid, kind, key, json, now, &got, err, errlen);
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc == LX_OK && seq != NULL)
        *seq = got;
    return rc;
}

/* storage_sq_rec_items' statements, inside the caller's transaction
 * (a read, or the batch's write transaction). */
static int sq_rec_items_in(storage_sq_conn *s, const char *uid, const char *kind, const char *key,
                           int64_t after_seq, int last_n, storage_rec **out, size_t *n, char *err,
                           size_t errlen)
{
    storage_rec *v = NULL;
    size_t n_v = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = sq_rec_read(s, uid, kind, key, NULL, err, errlen);
    if (rc == LX_OK && last_n > 0)
        rc = storage_sq_list(s, SQ_ITEMS_LAST, "record items", sq_item_row, sizeof(*v), (void **)&v,
                             &n_v, err, errlen, "tttin", uid, kind, key, after_seq, last_n);
    else if (rc == LX_OK)
        rc = storage_sq_list(s, SQ_ITEMS, "record items", sq_item_row, sizeof(*v), (void **)&v,
                             &n_v, err, errlen, "ttti", uid, kind, key, after_seq);
    for (size_t i = 0; rc == LX_OK && i < n_v; i++)
        if ((v[i].key = strdup(key)) == NULL)
            rc = storage_sq_nomem(err, errlen);
    if (rc != LX_OK) {
        storage_recs_free(v, n_v);
        return rc;
    }
    *out = v;
    *n = n_v;
    return LX_OK;
}

int storage_sq_rec_items(storage_conn *c, const char *uid, const char *kind, const char *key,
                         int64_t after_seq, int last_n, storage_rec **out, size_t *n, char *err,
                         size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc;

    *out = NULL;
    *n = 0;
    rc = storage_sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_rec_items_in(s, uid, kind, key, after_seq, last_n, out, n, err, errlen);
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc != LX_OK) {
        storage_recs_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* One read transaction: the record and its last items agree. */
int storage_sq_rec_get_items(storage_conn *c, const char *uid, const char *kind, const char *key,
                             int last_n, storage_rec *r, storage_rec **out, size_t *n, char *err,
                             size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc;

    memset(r, 0, sizeof(*r));
    *out = NULL;
    *n = 0;
    rc = storage_sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = sq_rec_read(s, uid, kind, key, r, err, errlen);
    if (rc == LX_OK && last_n > 0)
        rc = sq_rec_items_in(s, uid, kind, key, 0, last_n, out, n, err, errlen);
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc != LX_OK) {
        storage_rec_clear(r);
        storage_recs_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int storage_sq_rec_list(storage_conn *c, const char *uid, const char *kind, int limit,
                        storage_rec **out, size_t *n, char *err, size_t errlen)
{
    storage_rec *v = NULL;
    size_t n_v = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = storage_sq_list(storage_sq_of(c), SQ_REC_LIST, "records", sq_rec_row, sizeof(*v),
                         (void **)&v, &n_v, err, errlen, "ttn", uid, kind, storage_sq_limit(limit));
    if (rc != LX_OK) {
        storage_recs_free(v, n_v);
        return rc;
    }
    *out = v;
    *n = n_v;
    return LX_OK;
}

int storage_sq_rec_delete(storage_conn *c, const char *uid, const char *kind, const char *key,
                          char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = storage_sq_run(s, SQ_ITEMS_DELETE, "record items", NULL, NULL, err, errlen, "ttt", uid,
                        kind, key);
    if (rc == LX_OK)
        rc = storage_sq_run(s, SQ_REC_DELETE, "record", SQ_NO_RECORD, NULL, err, errlen, "ttt", uid,
                            kind, key);
    return storage_sq_finish(s, rc, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */

int storage_sq_batch(storage_conn *c, const char *uid, storage_op *ops, size_t n, const char *now,
                     storage_batch_read *rb, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    for (size_t i = 0; rc == LX_OK && i < n; i++) {
        storage_op *op = &ops[i];

        op->seq = 0;
        if (op->type == STORAGE_OP_PUT)
            rc = sq_rec_put_in(s, uid, op->kind, op->key, op->json, now, err, errlen);
        else if (op->type == STORAGE_OP_APPEND)
            rc = sq_rec_append_in(s, uid, op->kind, op->key, op->json, now, &op->seq, err, errlen);
        else
            rc = storage_sq_activity_in(s, &op->act, err, errlen);
    }
    if (rc == LX_OK && rb != NULL) /* the items as written, in the same transaction */
        rc = sq_rec_items_in(s, uid, rb->kind, rb->key, 0, rb->last_n, &rb->items, &rb->n_items,
                             err, errlen);
    rc = storage_sq_finish(s, rc, err, errlen);
    for (size_t i = 0; rc != LX_OK && i < n; i++)
        ops[i].seq = 0;
    if (rc != LX_OK && rb != NULL) {
        storage_recs_free(rb->items, rb->n_items);
        rb->items = NULL;
        rb->n_items = 0;
    }
    return rc;
}
