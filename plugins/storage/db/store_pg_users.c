/*
 * The PostgreSQL backend's people and their data (store.h, store_pg.h):
 * users, feedback and the administrator's statistics, activity and
 * progress, and records with their items.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* ------------------------------------------------------------------------ */
/* Values and rows                                                          */

/* A LIMIT parameter: n, or no limit (NULL) when n < 0. */
static const char *pg_limit(storage_pg_num *b, int64_t n)
{
    return n < 0 ? NULL : storage_pg_i64(b, n);
}

static const char *pg_dbl(storage_pg_num *b, double v)
{
    snprintf(b->s, sizeof(b->s), "%.17g", v);
    return b->s;
}

/* The columns of PG_USER_COLS. */
static void pg_fill_user(const PGresult *r, int row, void *item, int *is_oom)
{
    storage_user *u = item;
    char **strs[] = {&u->uid,        &u->email,      &u->display_name, &u->profile_json,
                     &u->created_at, &u->updated_at, &u->last_login};

    for (int i = 0; i < (int)(sizeof(strs) / sizeof(strs[0])); i++)
        *strs[i] = storage_pg_dup(r, row, i, is_oom);
}

static void pg_drop_users(void *v, size_t n)
{
    storage_user *u = v;

    for (size_t i = 0; u != NULL && i < n; i++)
        storage_user_clear(&u[i]);
    free(u);
}

/* The columns of PG_FB_COLS. */
static void pg_fill_feedback(const PGresult *r, int row, void *item, int *is_oom)
{
    storage_feedback *f = item;
    char **strs[] = {&f->id,          &f->user_id,      &f->email,  &f->type,
                     &f->description, &f->browser_info, &f->status, &f->created_at};

    for (int i = 0; i < (int)(sizeof(strs) / sizeof(strs[0])); i++)
        *strs[i] = storage_pg_dup(r, row, i, is_oom);
}

static void pg_drop_feedback(void *v, size_t n)
{
    storage_feedback_free(v, n);
}

/* The columns of PG_REC_COLS (n_items is the seq). */
static void pg_fill_rec(const PGresult *r, int row, void *item, int *is_oom)
{
    storage_rec *rec = item;

    rec->key = storage_pg_dup(r, row, 0, is_oom);
    rec->json = storage_pg_dup(r, row, 1, is_oom);
    rec->seq = storage_pg_int(r, row, 2);
    rec->created_at = storage_pg_dup(r, row, 3, is_oom);
    rec->updated_at = storage_pg_dup(r, row, 4, is_oom);
}

static void pg_drop_recs(void *v, size_t n)
{
    storage_recs_free(v, n);
}

/* (kind, count, points, score, max_score, best) of PGS_PROG_KINDS. */
static void pg_fill_kind(const PGresult *r, int row, void *item, int *is_oom)
{
    storage_kind_count *k = item;

    k->kind = storage_pg_dup(r, row, 0, is_oom);
    k->count = storage_pg_int(r, row, 1);
    k->points = storage_pg_int(r, row, 2);
    k->score = storage_pg_float(r, row, 3);
    k->max_score = storage_pg_float(r, row, 4);
    k->best = storage_pg_float(r, row, 5);
}

static void pg_drop_kinds(void *v, size_t n)
{
    storage_progress p = {0};

    p.kinds = v;
    p.n_kinds = n;
    storage_progress_clear(&p);
}

/* ------------------------------------------------------------------------ */
/* Users                                                                    */

int storage_pg_user_init(storage_conn *c, const char *uid, const char *email,
                         const char *display_name, const char *profile_json, const char *now,
                         int *is_created, char *err, size_t errlen)
{
    storage_pg_conn *p = storage_pg_of(c);
    const char *vals[5] = {uid, email, display_name, profile_json, now};
    const char *login[3] = {uid, email, now};
    int64_t n = 0;
    int rc;

    if (is_created != NULL)
        *is_created = 0;
    /* Insert, else update: a delete in between (rare) gets one more try. */
    for (int tries = 0; tries < 2; tries++) {
        rc = storage_pg_do(p, PGS_USER_INSERT, vals, &n, err, errlen);
        if (rc != LX_OK)
            return rc;
        if (n == 1) {
            if (is_created != NULL)
                *is_created = 1;
            return LX_OK;
        }
        rc = storage_pg_do(p, PGS_USER_LOGIN, login, &n, err, errlen);
        if (rc != LX_OK || n == 1)
            return rc;
    }
    storage_pg_errf(err, errlen, "postgres: the user row changed under us", NULL);
    return LX_EIO;
}

typedef struct pg_user_creation {
    const storage_user_new *v;
    size_t n;
    const char *now;
    int *created;
} pg_user_creation;

static int pg_user_create_tx(storage_pg_conn *p, void *arg, char *err, size_t errlen)
{
    pg_user_creation *a = arg;
    int rc = LX_OK;

    for (size_t i = 0; rc == LX_OK && i < a->n; i++) {
        const char *vals[4] = {a->v[i].uid, a->v[i].email, a->v[i].display_name, a->now};
        int64_t rows = 0;
        rc = storage_pg_do(p, PGS_USER_CREATE, vals, &rows, err, errlen);
        if (a->created != NULL)
            a->created[i] = rc == LX_OK && rows == 1;
    }
    return rc;
}

int storage_pg_user_create(storage_conn *c, const storage_user_new *v, size_t n, const char *now,
                           int *created, char *err, size_t errlen)
{
    pg_user_creation a = {v, n, now, created};

    if (n == 0)
        return LX_OK;
    return storage_pg_in_tx(storage_pg_of(c), pg_user_create_tx, &a, err, errlen);
}

int storage_pg_user_get(storage_conn *c, const char *uid, storage_user *u, char *err, size_t errlen)
{
    const char *vals[1] = {uid};

    return storage_pg_get(storage_pg_of(c), PGS_USER_GET, vals, "user", sizeof(*u), pg_fill_user,
                          pg_drop_users, u, err, errlen);
}

typedef struct pg_user_change {
    const char *uid, *email, *now;
    storage_merge_fn merge;
    void *arg;
    char *new_profile, *new_name; /* the merge's, freed by the caller */
    PGresult *r;                  /* the row written, cleared by the caller */
} pg_user_change;

/* Makes the row when absent, locks it, merges, writes. */
static int pg_user_change_tx(storage_pg_conn *p, void *arg, char *err, size_t errlen)
{
    pg_user_change *a = arg;
    const char *ensure[3] = {a->uid, a->email, a->now};
    const char *write[5];
    PGresult *r = NULL;
    int rc = storage_pg_do(p, PGS_USER_ENSURE, ensure, NULL, err, errlen);

    if (rc == LX_OK)
        rc = storage_pg_run(p, PGS_USER_LOCK, &a->uid, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        storage_pg_errf(err, errlen, "postgres: the user row vanished", NULL);
        return LX_EIO;
    }
    rc = a->merge(a->arg, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), &a->new_profile, &a->new_name,
                  err, errlen);
    PQclear(r);
    if (rc != LX_OK)
        return rc;
    write[0] = a->uid;
    write[1] = a->new_profile;
    write[2] = a->new_name;
    write[3] = a->now;
    write[4] = a->email;
    return storage_pg_run(p, PGS_USER_WRITE, write, &a->r, err, errlen);
}

int storage_pg_user_update(storage_conn *c, const char *uid, const char *email, const char *now,
                           storage_merge_fn merge, void *arg, storage_user *u, char *err,
                           size_t errlen)
{
    pg_user_change a = {uid, email, now, merge, arg, NULL, NULL, NULL};
    int rc, is_oom = 0;

    if (u != NULL)
        memset(u, 0, sizeof(*u));
    rc = storage_pg_in_tx(storage_pg_of(c), pg_user_change_tx, &a, err, errlen);
    if (rc == LX_OK && u != NULL && PQntuples(a.r) == 1) {
        pg_fill_user(a.r, 0, u, &is_oom);
        if (is_oom) {
            storage_user_clear(u);
            rc = storage_pg_oom(err, errlen);
        }
    }
    PQclear(a.r);
    free(a.new_profile);
    free(a.new_name);
    return rc;
}

typedef struct pg_user_removal {
    const char *uid;
    PGresult *r; /* the ids of the documents deleted, cleared by the caller */
} pg_user_removal;

/* Texts, passages and chunks go with their documents (ON DELETE CASCADE). */
static int pg_user_delete_tx(storage_pg_conn *p, void *arg, char *err, size_t errlen)
{
    static const int others[] = {PGS_USER_DEL_USER, PGS_USER_DEL_FEEDBACK, PGS_USER_DEL_ACTIVITY,
                                 PGS_USER_DEL_RECORDS};
    pg_user_removal *a = arg;
    int rc = storage_pg_run(p, PGS_USER_DEL_DOCS, &a->uid, &a->r, err, errlen);

    for (size_t i = 0; rc == LX_OK && i < sizeof(others) / sizeof(others[0]); i++)
        rc = storage_pg_do(p, others[i], &a->uid, NULL, err, errlen);
    return rc;
}

int storage_pg_user_delete(storage_conn *c, const char *uid, char ***doc_ids, size_t *n_docs,
                           char *err, size_t errlen)
{
    pg_user_removal a = {uid, NULL};
    int rc;

    if (doc_ids != NULL)
        *doc_ids = NULL;
    if (n_docs != NULL)
        *n_docs = 0;
    rc = storage_pg_in_tx(storage_pg_of(c), pg_user_delete_tx, &a, err, errlen);
    if (rc == LX_OK && doc_ids != NULL && n_docs != NULL &&
        storage_pg_strv(a.r, 0, doc_ids, n_docs) != LX_OK)
        rc = storage_pg_oom(err, errlen); /* the rows are gone all the same */
    PQclear(a.r);
    return rc;
}

int storage_pg_user_page(storage_conn *c, const char *after_uid, int limit, storage_user **out,
                         size_t *n, int *has_more, char *err, size_t errlen)
{
    storage_pg_num lb;
    const char *vals[2];
    PGresult *r;
    void *v;
    int rc, rows;

    *out = NULL;
    *n = 0;
    if (has_more != NULL)
        *has_more = 0;
    if (limit <= 0)
        return LX_OK;
    vals[0] = after_uid != NULL ? after_uid : "";
    vals[1] = storage_pg_i64(&lb, (int64_t)limit + 1);
    rc = storage_pg_run(storage_pg_of(c), PGS_USER_PAGE, vals, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    rows = rows > limit ? limit : rows;
    rc = storage_pg_read_rows(r, rows, sizeof(**out), pg_fill_user, pg_drop_users, &v);
    if (rc == LX_OK && has_more != NULL)
        *has_more = PQntuples(r) > limit;
    PQclear(r);
    if (rc != LX_OK)
        return storage_pg_oom(err, errlen);
    *out = v;
    *n = (size_t)rows;
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Feedback and administration                                              */

int storage_pg_feedback_create(storage_conn *c, const storage_feedback *f, char *err, size_t errlen)
{
    const char *vals[8] = {f->id,          f->user_id,      f->email,  f->type,
                           f->description, f->browser_info, f->status, f->created_at};

    return storage_pg_do(storage_pg_of(c), PGS_FB_INSERT, vals, NULL, err, errlen);
}

int storage_pg_feedback_list(storage_conn *c, const char *status, const char *type, int limit,
                             int offset, storage_feedback **out, size_t *n, int64_t *total,
                             char *err, size_t errlen)
{
    storage_pg_conn *p = storage_pg_of(c);
    storage_pg_num lb, ob;
    const char *vals[4] = {status, type, pg_limit(&lb, limit),
                           storage_pg_i64(&ob, offset > 0 ? offset : 0)};
    int64_t count;
    void *v;
    int rc;

    *out = NULL;
    *n = 0;
    if (total != NULL)
        *total = 0;
    rc = storage_pg_int_of(p, PGS_FB_COUNT, vals, "count", &count, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (total != NULL)
        *total = count;
    rc = storage_pg_list(p, PGS_FB_LIST, vals, sizeof(**out), pg_fill_feedback, pg_drop_feedback,
                         &v, n, err, errlen);
    if (rc != LX_OK) {
        if (total != NULL)
            *total = 0;
        return rc;
    }
    *out = v;
    return LX_OK;
}

int storage_pg_stats_get(storage_conn *c, storage_stats *s, char *err, size_t errlen)
{
    int64_t *fields[] = {
        &s->users_total,      &s->users_with_documents, &s->docs_total,   &s->docs_processed,
        &s->docs_processing,  &s->docs_failed,          &s->docs_pending, &s->fb_total,
        &s->fb_new,           &s->fb_reviewed,          &s->fb_resolved,  &s->fb_bug,
        &s->fb_accessibility, &s->fb_suggestion,        &s->fb_other};
    PGresult *r;
    int rc;

    memset(s, 0, sizeof(*s));
    rc = storage_pg_run(storage_pg_of(c), PGS_STATS, NULL, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    for (int i = 0; i < (int)(sizeof(fields) / sizeof(fields[0])); i++)
        *fields[i] = storage_pg_int(r, 0, i);
    PQclear(r);
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Activity and progress                                                    */

/* The activity insert: one statement, on its own or inside the caller's
 * transaction (store_pg.h). */
/* The 7 parameters of ACT_INSERT for a, into vals (numbers in pb, sb, mb). */
static void pg_act_vals(const storage_activity *a, const char **vals, storage_pg_num *pb,
                        storage_pg_num *sb, storage_pg_num *mb)
{
    vals[0] = a->uid;
    vals[1] = a->kind;
    vals[2] = storage_pg_i64(pb, a->points);
    vals[3] = pg_dbl(sb, a->score);
    vals[4] = pg_dbl(mb, a->max_score);
    vals[5] = a->day;
    vals[6] = a->now;
}

int storage_pg_activity_in(storage_pg_conn *p, const storage_activity *a, char *err, size_t errlen)
{
    storage_pg_num pb, sb, mb;
    const char *vals[7];

    pg_act_vals(a, vals, &pb, &sb, &mb);
    return storage_pg_do(p, PGS_ACT_INSERT, vals, NULL, err, errlen);
}

int storage_pg_activity_add(storage_conn *c, const storage_activity *a, char *err, size_t errlen)
{
    return storage_pg_activity_in(storage_pg_of(c), a, err, errlen);
}

int storage_pg_progress_get(storage_conn *c, const char *uid, storage_progress *prog, char *err,
                            size_t errlen)
{
    storage_pg_conn *p = storage_pg_of(c);
    const char *vals[1] = {uid};
    PGresult *r;
    void *v;
    int rc;

    memset(prog, 0, sizeof(*prog));
    rc = storage_pg_int_of(p, PGS_PROG_DOCS, vals, "count", &prog->documents, err, errlen);
    if (rc != LX_OK)
        return rc;

    rc = storage_pg_list(p, PGS_PROG_KINDS, vals, sizeof(*prog->kinds), pg_fill_kind, pg_drop_kinds,
                         &v, &prog->n_kinds, err, errlen);
    if (rc != LX_OK)
        goto fail;
    prog->kinds = v;
    for (size_t i = 0; i < prog->n_kinds; i++)
        prog->points += prog->kinds[i].points;

    rc = storage_pg_run(p, PGS_PROG_DAYS, vals, &r, err, errlen);
    if (rc != LX_OK)
        goto fail;
    rc = storage_pg_strv(r, 0, &prog->days, &prog->n_days);
    PQclear(r);
    if (rc == LX_OK)
        return LX_OK;
    rc = storage_pg_oom(err, errlen);
fail:
    storage_progress_clear(prog);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */

/* One statement (a batch sends the same one in its pipeline). */
int storage_pg_rec_put(storage_conn *c, const char *uid, const char *kind, const char *key,
                       const char *json, const char *now, char *err, size_t errlen)
{
    const char *vals[5] = {uid, kind, key, json, now};

    return storage_pg_do(storage_pg_of(c), PGS_REC_PUT, vals, NULL, err, errlen);
}

int storage_pg_rec_get(storage_conn *c, const char *uid, const char *kind, const char *key,
                       storage_rec *rec, char *err, size_t errlen)
{
    const char *vals[3] = {uid, kind, key};

    return storage_pg_get(storage_pg_of(c), PGS_REC_GET, vals, "record", sizeof(*rec), pg_fill_rec,
                          pg_drop_recs, rec, err, errlen);
}

/* One statement: the record's row lock orders concurrent appends. */
int storage_pg_rec_append(storage_conn *c, const char *uid, const char *kind, const char *key,
                          const char *json, const char *now, int64_t *seq, char *err, size_t errlen)
{
    const char *vals[5] = {uid, kind, key, json, now};
    int64_t got;
    int rc = storage_pg_int_of(storage_pg_of(c), PGS_REC_APPEND, vals, "record", &got, err, errlen);

    if (seq != NULL)
        *seq = got; /* 0 on failure */
    return rc;
}

/* PGS_REC_ITEMS' parameters: the record's key, after_seq, last_n. */
typedef struct pg_items_vals {
    const char *v[5];
    storage_pg_num ab, lb;
} pg_items_vals;

static void pg_items_vals_of(pg_items_vals *iv, const char *uid, const char *kind, const char *key,
                             int64_t after_seq, int last_n)
{
    iv->v[0] = uid;
    iv->v[1] = kind;
    iv->v[2] = key;
    iv->v[3] = storage_pg_i64(&iv->ab, after_seq);
    iv->v[4] = pg_limit(&iv->lb, last_n > 0 ? last_n : -1);
}

/* The items of a PGS_REC_ITEMS result r (the caller's); LX_ENOENT when
 * the record is absent. */
static int pg_items_of(const PGresult *r, storage_rec **out, size_t *n, char *err, size_t errlen)
{
    void *v;
    /* No row: no record; one row without an item: the record has none. */
    int rows = PQntuples(r) == 0 || PQgetisnull(r, 0, 2) ? 0 : PQntuples(r);

    *out = NULL;
    *n = 0;
    if (PQntuples(r) == 0)
        return storage_pg_absent(err, errlen, "record");
    if (storage_pg_read_rows(r, rows, sizeof(**out), pg_fill_rec, pg_drop_recs, &v) != LX_OK)
        return storage_pg_oom(err, errlen);
    *out = v;
    *n = (size_t)rows;
    return LX_OK;
}

int storage_pg_rec_items(storage_conn *c, const char *uid, const char *kind, const char *key,
                         int64_t after_seq, int last_n, storage_rec **out, size_t *n, char *err,
                         size_t errlen)
{
    pg_items_vals iv;
    PGresult *r;
    int rc;

    *out = NULL;
    *n = 0;
    pg_items_vals_of(&iv, uid, kind, key, after_seq, last_n);
    rc = storage_pg_run(storage_pg_of(c), PGS_REC_ITEMS, iv.v, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = pg_items_of(r, out, n, err, errlen);
    PQclear(r);
    return rc;
}

/* One trip: the record's row and its items, in one pipeline. */
int storage_pg_rec_get_items(storage_conn *c, const char *uid, const char *kind, const char *key,
                             int last_n, storage_rec *rec, storage_rec **out, size_t *n, char *err,
                             size_t errlen)
{
    const char *vals[3] = {uid, kind, key};
    storage_pg_step steps[2];
    pg_items_vals iv;
    int rc;

    memset(rec, 0, sizeof(*rec));
    *out = NULL;
    *n = 0;
    if (last_n <= 0)
        return storage_pg_rec_get(c, uid, kind, key, rec, err, errlen);
    pg_items_vals_of(&iv, uid, kind, key, 0, last_n);
    steps[0] = (storage_pg_step){.s = PGS_REC_GET, .vals = vals};
    steps[1] = (storage_pg_step){.s = PGS_REC_ITEMS, .vals = iv.v};
    rc = storage_pg_pipeline(storage_pg_of(c), steps, 2, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_pg_row(steps[0].r, "record", sizeof(*rec), pg_fill_rec, pg_drop_recs, rec, err,
                        errlen);
    if (rc == LX_OK)
        rc = pg_items_of(steps[1].r, out, n, err, errlen);
    if (rc != LX_OK)
        storage_rec_clear(rec);
    PQclear(steps[0].r);
    PQclear(steps[1].r);
    return rc;
}

int storage_pg_rec_list(storage_conn *c, const char *uid, const char *kind, int limit,
                        storage_rec **out, size_t *n, char *err, size_t errlen)
{
    storage_pg_num lb;
    const char *vals[3] = {uid, kind, pg_limit(&lb, limit)};
    void *v;
    int rc = storage_pg_list(storage_pg_of(c), PGS_REC_LIST, vals, sizeof(**out), pg_fill_rec,
                             pg_drop_recs, &v, n, err, errlen);

    *out = v;
    return rc;
}

int storage_pg_rec_delete(storage_conn *c, const char *uid, const char *kind, const char *key,
                          char *err, size_t errlen)
{
    const char *vals[3] = {uid, kind, key};

    /* The items cascade with the record. */
    return storage_pg_do_one(storage_pg_of(c), PGS_REC_DELETE, vals, "record", err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */

/* The statements of a batch, each one's parameters in its own slot: an
 * op's, or a run of appends to one record's (arr: their items). */
typedef struct pg_batch_vals {
    const char *v[7];
    storage_pg_num a, b, c;
    char *arr;
    size_t first, n_ops; /* the ops it runs: ops[first, first + n_ops) */
} pg_batch_vals;

/* Whether ops[i] is an append to the record ops[first] puts or appends to. */
static int pg_same_append(const storage_op *ops, size_t first, size_t i)
{
    return ops[i].type == STORAGE_OP_APPEND && strcmp(ops[i].kind, ops[first].kind) == 0 &&
           strcmp(ops[i].key, ops[first].key) == 0;
}

/* One round trip whatever the number of ops: the ops' statements and the
 * read back (rb) in one pipeline (storage_pg_pipeline), which is one
 * implicit transaction: its Sync commits it, and a failing statement (an
 * append to no record is one: PGS_REC_APPEND) undoes it all. Appends in a
 * row to one record are one statement, PGS_REC_APPEND_N: one update of the
 * record's row for them all; a put followed by appends to its record (a
 * chat turn: the thread's value, then its two turns) is one upsert of the
 * row with the items, PGS_REC_PUT_APPEND_N. */
int storage_pg_batch(storage_conn *c, const char *uid, storage_op *ops, size_t n, const char *now,
                     storage_batch_read *rb, char *err, size_t errlen)
{
    storage_pg_conn *p = storage_pg_of(c);
    storage_pg_step *steps = calloc(n + 1, sizeof(*steps));
    pg_batch_vals *bv = calloc(n, sizeof(*bv));
    const char **jsons = calloc(n, sizeof(*jsons));
    size_t n_steps = 0;
    pg_items_vals iv;
    int rc = LX_OK;

    if (steps == NULL || bv == NULL || jsons == NULL) {
        rc = storage_pg_oom(err, errlen);
        goto out;
    }
    for (size_t i = 0; i < n;) {
        storage_op *op = &ops[i];
        pg_batch_vals *b = &bv[n_steps];
        size_t m = 1, put = op->type == STORAGE_OP_PUT;

        b->first = i;
        if (op->type == STORAGE_OP_PUT || op->type == STORAGE_OP_APPEND) {
            b->v[0] = uid;
            b->v[1] = op->kind;
            b->v[2] = op->key;
            b->v[3] = op->json;
            b->v[4] = now;
            steps[n_steps].s = op->type == STORAGE_OP_PUT ? PGS_REC_PUT : PGS_REC_APPEND;
            while (i + m < n && pg_same_append(ops, i, i + m))
                m++;
            /* a run: a put or an append, and appends; its items are
             * ops[i + put, i + m) */
            if (m > 1) {
                for (size_t k = put; k < m; k++)
                    jsons[k - put] = ops[i + k].json;
                if ((b->arr = storage_pg_text_array(jsons, m - put)) == NULL) {
                    rc = storage_pg_oom(err, errlen);
                    goto out;
                }
                b->v[put ? 5 : 3] = b->arr;
                steps[n_steps].s = put ? PGS_REC_PUT_APPEND_N : PGS_REC_APPEND_N;
            }
        } else {
            pg_act_vals(&op->act, b->v, &b->a, &b->b, &b->c);
            steps[n_steps].s = PGS_ACT_INSERT;
        }
        b->n_ops = m;
        steps[n_steps].vals = b->v;
        n_steps++;
        i += m;
    }
    if (rb != NULL) {
        pg_items_vals_of(&iv, uid, rb->kind, rb->key, 0, rb->last_n);
        steps[n_steps++] = (storage_pg_step){.s = PGS_REC_ITEMS, .vals = iv.v};
    }
    rc = storage_pg_pipeline(p, steps, n_steps, err, errlen);
    /* an append's seq; a run's items are numbered up to its largest seq */
    for (size_t s = 0; rc == LX_OK && s < n_steps - (rb != NULL); s++) {
        const pg_batch_vals *b = &bv[s];
        int64_t last = 0;

        size_t put = steps[s].s == PGS_REC_PUT_APPEND_N; /* the put's seq stays 0 */

        if (steps[s].s != PGS_REC_APPEND && steps[s].s != PGS_REC_APPEND_N && !put)
            continue;
        for (int r = 0; r < PQntuples(steps[s].r); r++)
            if (storage_pg_int(steps[s].r, r, 0) > last)
                last = storage_pg_int(steps[s].r, r, 0);
        for (size_t k = put; k < b->n_ops; k++)
            ops[b->first + k].seq = last - (int64_t)(b->n_ops - 1 - k);
    }
    if (rc == LX_OK && rb != NULL)
        rc = pg_items_of(steps[n_steps - 1].r, &rb->items, &rb->n_items, err, errlen);
out:
    for (size_t s = 0; steps != NULL && s < n_steps; s++)
        PQclear(steps[s].r);
    for (size_t s = 0; bv != NULL && s < n; s++)
        free(bv[s].arr);
    free(steps);
    free(bv);
    free(jsons);
    for (size_t i = 0; rc != LX_OK && i < n; i++)
        ops[i].seq = 0;
    if (rc != LX_OK && rb != NULL) {
        storage_recs_free(rb->items, rb->n_items);
        rb->items = NULL;
        rb->n_items = 0;
    }
    return rc;
}
