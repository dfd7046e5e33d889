/*
 * The SQLite backend's documents (store_sqlite.h): their rows, text and
 * passages, search over the passages' FTS5 index, the read refusal (file
 * bytes live on disk: files.c), and the stale and all-ids scans. Every
 * write is one BEGIN IMMEDIATE transaction; reads of several statements
 * share one BEGIN.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "errf.h"
#include "store_sqlite.h"

#define SQ_NO_DOC "no such document"
#define SQ_NOT_HELD "the document is not pending or not held by this worker"
#define SQ_NOT_FAILED "the document has not failed for that reason"
#define SQ_NO_BYTES "sqlite: file bytes are kept on disk, not in the database"

/* A storage_sq_row_fn: *out (a storage_doc) from a row of SQ_DOC_COLS (text
 * stays NULL). */
static int sq_doc_row(sqlite3_stmt *st, void *out)
{
    storage_doc *d = out;
    char **const strs[] = {&d->id,        &d->user_id,    &d->name,      &d->original_filename,
                           &d->file_type, &d->mime_type,  &d->status,    &d->error,
                           &d->sha256,    &d->created_at, &d->updated_at};

    d->size = sqlite3_column_int64(st, 11);
    d->content_length = sqlite3_column_int64(st, 12);
    d->page_count = sqlite3_column_int64(st, 13);
    d->claimed_by = storage_sq_col(st, 14);
    d->lease_until = storage_sq_col(st, 15);
    d->interrupted = sqlite3_column_int64(st, 16);
    if (storage_sq_cols(st, strs, (int)(sizeof(strs) / sizeof(strs[0]))) != LX_OK ||
        d->claimed_by == NULL || d->lease_until == NULL) {
        storage_doc_clear(d);
        return LX_ENOMEM;
    }
    return LX_OK;
}

/* A storage_sq_row_fn: *out (a storage_pending) from (id, user_id,
 * file_type, interrupted). */
static int sq_pending_row(sqlite3_stmt *st, void *out)
{
    storage_pending *p = out;

    p->id = storage_sq_col(st, 0);
    p->user_id = storage_sq_col(st, 1);
    p->file_type = storage_sq_col(st, 2);
    p->interrupted = sqlite3_column_int64(st, 3);
    return p->id != NULL && p->user_id != NULL && p->file_type != NULL ? LX_OK : LX_ENOMEM;
}

/* A storage_sq_row_fn: *out (a char *) from text column 0. */
static int sq_text_row(sqlite3_stmt *st, void *out)
{
    char **text = out;

    *text = storage_sq_col(st, 0);
    return *text != NULL ? LX_OK : LX_ENOMEM;
}

/* storage_sq_row_fns: *out (a storage_passage) from (seq, text) or from
 * (seq, score, text). */
static int sq_passage_row(sqlite3_stmt *st, void *out)
{
    storage_passage *p = out;

    p->seq = sqlite3_column_int64(st, 0);
    p->score = 0.0;
    p->text = storage_sq_col(st, 1);
    return p->text != NULL ? LX_OK : LX_ENOMEM;
}

static int sq_scored_passage_row(sqlite3_stmt *st, void *out)
{
    storage_passage *p = out;

    p->seq = sqlite3_column_int64(st, 0);
    p->score = sqlite3_column_double(st, 1);
    p->text = storage_sq_col(st, 2);
    return p->text != NULL ? LX_OK : LX_ENOMEM;
}

/* Whether document id is uid's: LX_OK, LX_ENOENT, or a failure. */
static int sq_doc_owned(storage_sq_conn *s, const char *uid, const char *id, char *err,
                        size_t errlen)
{
    return storage_sq_row(s, SQ_DOC_OWNED, "document", SQ_NO_DOC, NULL, NULL, err, errlen, "tt", id,
                          uid);
}

/* The answer to a request for a document's bytes, which SQLite does not
 * keep: what sq_doc_owned says when document id is not uid's (or the
 * query fails), else LX_EINVAL with SQ_NO_BYTES in err. */
static int storage_sq_doc_no_bytes(storage_conn *c, const char *uid, const char *id, char *err,
                                   size_t errlen)
{
    int rc = sq_doc_owned(storage_sq_of(c), uid, id, err, errlen);

    if (rc != LX_OK)
        return rc;
    storage_errf(err, errlen, SQ_NO_BYTES);
    return LX_EINVAL;
}

int storage_sq_doc_create(storage_conn *c, const storage_doc *d, const void *bytes, size_t len,
                          const storage_activity *act, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc;

    if (bytes != NULL || len != 0) {
        storage_errf(err, errlen, SQ_NO_BYTES);
        return LX_EINVAL;
    }
    rc = storage_sq_begin(s, 1, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_sq_run(s, SQ_DOC_INSERT, "document", NULL, NULL, err, errlen, "tttttttttttiiitt",
                        d->id, d->user_id, d->name, d->original_filename, d->file_type,
                        d->mime_type, d->status, d->error, d->sha256, d->created_at, d->updated_at,
                        d->size, d->content_length, d->page_count, d->claimed_by, d->lease_until);
    if (rc == LX_EEXIST)
        storage_errf(err, errlen, "document id is taken");
    if (rc == LX_OK && act != NULL)
        rc = storage_sq_activity_in(s, act, err, errlen);
    return storage_sq_finish(s, rc, err, errlen);
}

int storage_sq_doc_list(storage_conn *c, const char *uid, storage_doc **docs, size_t *n, char *err,
                        size_t errlen)
{
    storage_doc *v = NULL;
    size_t n_v = 0;
    int rc;

    *docs = NULL;
    *n = 0;
    rc = storage_sq_list(storage_sq_of(c), SQ_DOC_LIST, "documents", sq_doc_row, sizeof(*v),
                         (void **)&v, &n_v, err, errlen, "t", uid);
    if (rc != LX_OK) {
        storage_docs_free(v, n_v);
        return rc;
    }
    *docs = v;
    *n = n_v;
    return LX_OK;
}

int storage_sq_doc_get(storage_conn *c, const char *uid, const char *id, int with_text,
                       storage_doc *d, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc;

    memset(d, 0, sizeof(*d));
    rc = storage_sq_begin(s, 0, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_sq_row(s, SQ_DOC_GET, "document", SQ_NO_DOC, sq_doc_row, d, err, errlen, "tt", id,
                        uid);
    if (rc == LX_OK && with_text) {
        /* A document not processed yet has no text row: its text is "". */
        rc = storage_sq_row(s, SQ_DOC_TEXT, "document text", "", sq_text_row, &d->text, err, errlen,
                            "t", id);
        if (rc == LX_ENOENT) {
            d->text = strdup("");
            rc = d->text != NULL ? LX_OK : storage_sq_nomem(err, errlen);
        }
    }
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc != LX_OK)
        storage_doc_clear(d);
    return rc;
}

int storage_sq_doc_delete(storage_conn *c, const char *uid, const char *id, char *err,
                          size_t errlen)
{
    return storage_sq_write(storage_sq_of(c), SQ_DOC_DELETE, "delete document", SQ_NO_DOC, err,
                            errlen, "tt", id, uid);
}

int storage_sq_doc_set_status(storage_conn *c, const char *id, const char *owner,
                              const char *status, const char *error, const char *now, char *err,
                              size_t errlen)
{
    return storage_sq_write(storage_sq_of(c), SQ_DOC_STATUS, "document status", SQ_NO_DOC, err,
                            errlen, "ttttt", id, status, error, now, owner);
}

/* Stores the text of document id: text_len bytes, not NUL-terminated
 * (NULL: ""), bound SQLITE_STATIC. */
static int sq_text_put(storage_sq_conn *s, const char *id, const char *text, size_t text_len,
                       char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = storage_sq_prep(s, SQ_TEXT_PUT, &st, err, errlen);
    int src;

    if (rc != LX_OK)
        return rc;
    src = storage_sq_bind(st, "t", id);
    if (src == SQLITE_OK)
        src = sqlite3_bind_text64(st, 2, text != NULL ? text : "", text != NULL ? text_len : 0,
                                  SQLITE_STATIC, SQLITE_UTF8);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = storage_sq_error(s, src, "document text", err, errlen);
    storage_sq_end(st);
    return rc;
}

/* About this many bytes of passages per insert statement: one FTS5
 * segment each (SQ_PASSAGES_INSERT), and a bounded JSON copy. */
#define SQ_PASSAGES_CHUNK (1u << 20)

/* Inserts passages[*next ..] of document id, as many as fit in one chunk
 * (at least one), with one statement; advances *next past them. */
static int sq_passages_insert(storage_sq_conn *s, const char *id, const char *const *passages,
                              size_t n, size_t *next, char *err, size_t errlen)
{
    json_object *arr = json_object_new_array();
    size_t first = *next, bytes = 0, i;
    const char *json;
    int rc;

    if (arr == NULL)
        goto nomem;
    for (i = first; i < n && (i == first || bytes < SQ_PASSAGES_CHUNK); i++) {
        const char *t = passages[i] != NULL ? passages[i] : "";
        json_object *one = json_object_new_string(t);

        if (one == NULL || json_object_array_add(arr, one) != 0) {
            json_object_put(one);
            goto nomem;
        }
        bytes += strlen(t);
    }
    json = json_object_to_json_string_ext(arr,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (json == NULL)
        goto nomem;
    rc = storage_sq_run(s, SQ_PASSAGES_INSERT, "passages", NULL, NULL, err, errlen, "tit", id,
                        (int64_t)first, json);
    json_object_put(arr);
    *next = i;
    return rc;
nomem:
    json_object_put(arr);
    storage_errf(err, errlen, "sqlite: out of memory");
    return LX_ENOMEM;
}

int storage_sq_doc_set_text(storage_conn *c, const char *id, const char *owner, const char *text,
                            size_t text_len, int64_t page_count, const char *const *passages,
                            size_t n_passages, const char *now, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = storage_sq_run(s, SQ_DOC_PROCESSED, "document", SQ_NO_DOC, NULL, err, errlen, "tiitt", id,
                        (int64_t)text_len, page_count, now, owner);
    if (rc == LX_OK)
        rc = sq_text_put(s, id, text, text_len, err, errlen);
    if (rc == LX_OK)
        rc = storage_sq_run(s, SQ_PASSAGES_CLEAR, "passages", NULL, NULL, err, errlen, "t", id);
    for (size_t i = 0; rc == LX_OK && i < n_passages;)
        rc = sq_passages_insert(s, id, passages, n_passages, &i, err, errlen);
    return storage_sq_finish(s, rc, err, errlen);
}

int storage_sq_doc_read(storage_conn *c, const char *uid, const char *id, int64_t offset, void *buf,
                        size_t cap, size_t *n, char *err, size_t errlen)
{
    (void)offset;
    (void)buf;
    (void)cap;
    *n = 0;
    return storage_sq_doc_no_bytes(c, uid, id, err, errlen);
}

int storage_sq_doc_asset_put(storage_conn *c, const char *uid, const char *id, const char *name,
                             const void *data, size_t len, char *err, size_t errlen)
{
    (void)name;
    (void)data;
    (void)len;
    return storage_sq_doc_no_bytes(c, uid, id, err, errlen);
}

int storage_sq_doc_asset_read(storage_conn *c, const char *uid, const char *id, const char *name,
                              int64_t offset, void *buf, size_t cap, size_t *n, int64_t *size,
                              char *err, size_t errlen)
{
    (void)name;
    (void)offset;
    (void)buf;
    (void)cap;
    *n = 0;
    *size = 0;
    return storage_sq_doc_no_bytes(c, uid, id, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* The extraction queue                                                     */

int storage_sq_doc_claim(storage_conn *c, const char *owner, const char *now, const char *until,
                         int max, storage_pending **out, size_t *n, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    storage_pending *v = NULL;
    size_t n_v = 0;
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = storage_sq_list(s, SQ_DOC_CLAIM, "claim", sq_pending_row, sizeof(*v), (void **)&v, &n_v,
                         err, errlen, "tttn", owner, now, until, max);
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc != LX_OK) {
        storage_pending_free(v, n_v);
        return rc;
    }
    *out = v;
    *n = n_v;
    return LX_OK;
}

int storage_sq_doc_any_claimable(storage_conn *c, const char *now, int *is_any, char *err,
                                 size_t errlen)
{
    int rc = storage_sq_row(storage_sq_of(c), SQ_DOC_CLAIMABLE, "claimable", "", NULL, NULL, err,
                            errlen, "t", now);

    *is_any = rc == LX_OK;
    return rc == LX_ENOENT ? LX_OK : rc;
}

int storage_sq_doc_renew(storage_conn *c, const char *owner, const char *const *ids, size_t n,
                         const char *until, int64_t *n_renewed, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int64_t total = 0;
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    for (size_t i = 0; rc == LX_OK && i < n; i++) {
        int changes = 0;

        rc = storage_sq_run(s, SQ_DOC_RENEW, "renew", NULL, &changes, err, errlen, "ttt", owner,
                            ids[i], until);
        total += changes;
    }
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc == LX_OK && n_renewed != NULL)
        *n_renewed = total;
    return rc;
}

int storage_sq_doc_start(storage_conn *c, const char *id, const char *owner, const char *now,
                         char *err, size_t errlen)
{
    return storage_sq_write(storage_sq_of(c), SQ_DOC_START, "start", SQ_NOT_HELD, err, errlen,
                            "ttt", id, owner, now);
}

int storage_sq_doc_release(storage_conn *c, const char *id, const char *owner,
                           const char *not_before, char *err, size_t errlen)
{
    return storage_sq_write(storage_sq_of(c), SQ_DOC_RELEASE, "release", SQ_NOT_HELD, err, errlen,
                            "ttt", id, owner, not_before);
}

int storage_sq_doc_assets_claim(storage_conn *c, const char *uid, const char *id, const char *owner,
                                const char *now, const char *until, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int changes = 0;
    int rc = storage_sq_begin(s, 1, err, errlen);

    if (rc != LX_OK)
        return rc;
    if (until == NULL) {
        rc = storage_sq_run(s, SQ_DOC_ASSETS_RELEASE, "release", NULL, NULL, err, errlen, "ttt", id,
                            uid, owner);
    } else {
        rc = storage_sq_run(s, SQ_DOC_ASSETS_CLAIM, "claim", NULL, &changes, err, errlen, "ttttt",
                            id, uid, owner, now, until);
        if (rc == LX_OK && changes == 0 && (rc = sq_doc_owned(s, uid, id, err, errlen)) == LX_OK) {
            storage_errf(err, errlen, "the document is not processed or another worker holds it");
            rc = LX_EEXIST;
        }
    }
    return storage_sq_finish(s, rc, err, errlen);
}

int storage_sq_doc_failed_ids(storage_conn *c, const char *error, char ***ids, size_t *n, char *err,
                              size_t errlen)
{
    char ***cols[] = {ids};

    return storage_sq_strings(storage_sq_of(c), SQ_DOC_FAILED_IDS, "failed documents", 1, cols, n,
                              err, errlen, "t", error);
}

int storage_sq_doc_retry_failed(storage_conn *c, const char *id, const char *error, const char *now,
                                char *err, size_t errlen)
{
    return storage_sq_write(storage_sq_of(c), SQ_DOC_RETRY_FAILED, "retry", SQ_NOT_FAILED, err,
                            errlen, "ttt", id, error, now);
}

int storage_sq_doc_all_ids(storage_conn *c, char ***ids, char ***uids, size_t *n, char *err,
                           size_t errlen)
{
    char ***cols[] = {ids, uids};

    return storage_sq_strings(storage_sq_of(c), SQ_DOC_ALL, "documents", 2, cols, n, err, errlen,
                              "");
}

/* ------------------------------------------------------------------------ */
/* Passages and search                                                      */

/* Opens the read transaction of a passage query and checks that document
 * id is uid's; whatever it answers, sq_passages_end closes it. */
static int sq_passages_begin(storage_sq_conn *s, const char *uid, const char *id,
                             storage_passage **out, size_t *n, char *err, size_t errlen)
{
    int rc;

    *out = NULL;
    *n = 0;
    rc = storage_sq_begin(s, 0, err, errlen);
    if (rc == LX_OK)
        rc = sq_doc_owned(s, uid, id, err, errlen);
    return rc;
}

/* Ends the transaction of sq_passages_begin (rc: how the query went);
 * on failure frees and empties *out. */
static int sq_passages_end(storage_sq_conn *s, int rc, storage_passage **out, size_t *n, char *err,
                           size_t errlen)
{
    rc = storage_sq_finish(s, rc, err, errlen);
    if (rc != LX_OK) {
        storage_passages_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* The FTS5 query of a person's words: "w1" OR "w2" ... (words hold only
 * letters and digits, so the quotes cannot be escaped from). NULL when
 * there are no words (*rc LX_OK) or out of memory (*rc LX_ENOMEM). */
static char *sq_fts_query(const char *query, int *rc)
{
    char **words = NULL;
    size_t n_words = 0, len = 1, at = 0;
    char *q;

    *rc = storage_query_words(query, &words, &n_words);
    if (*rc != LX_OK || n_words == 0)
        return NULL;
    for (size_t i = 0; i < n_words; i++)
        len += strlen(words[i]) + 2 + 4;
    q = malloc(len);
    if (q == NULL) {
        *rc = LX_ENOMEM;
    } else {
        for (size_t i = 0; i < n_words; i++)
            at += (size_t)snprintf(q + at, len - at, "%s\"%s\"", i > 0 ? " OR " : "", words[i]);
    }
    storage_strv_free(words, n_words);
    return q;
}

int storage_sq_doc_search(storage_conn *c, const char *uid, const char *id, const char *query,
                          int limit, storage_passage **out, size_t *n, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    char *fts;
    int rc;

    *out = NULL;
    *n = 0;
    fts = sq_fts_query(query, &rc);
    if (rc != LX_OK)
        return storage_sq_nomem(err, errlen);
    rc = sq_passages_begin(s, uid, id, out, n, err, errlen);
    if (rc == LX_OK && fts != NULL && limit > 0)
        rc = storage_sq_list(s, SQ_SEARCH, "search", sq_scored_passage_row, sizeof(**out),
                             (void **)out, n, err, errlen, "tttn", fts, id, uid, limit);
    rc = sq_passages_end(s, rc, out, n, err, errlen);
    free(fts);
    return rc;
}

int storage_sq_doc_passages(storage_conn *c, const char *uid, const char *id, int64_t from,
                            int count, storage_passage **out, size_t *n, char *err, size_t errlen)
{
    storage_sq_conn *s = storage_sq_of(c);
    int rc = sq_passages_begin(s, uid, id, out, n, err, errlen);

    if (rc == LX_OK && count > 0)
        rc =
            storage_sq_list(s, SQ_PASSAGES, "passages", sq_passage_row, sizeof(**out), (void **)out,
                            n, err, errlen, "ttii", id, uid, from, from + (int64_t)count);
    return sq_passages_end(s, rc, out, n, err, errlen);
}

/* Two reads on this process's own file: the document, then its search. */
int storage_sq_doc_get_search(storage_conn *c, const char *uid, const char *id, const char *query,
                              int limit, storage_doc *d, storage_passage **out, size_t *n,
                              char *err, size_t errlen)
{
    int rc = storage_sq_doc_get(c, uid, id, 0, d, err, errlen);

    *out = NULL;
    *n = 0;
    if (rc != LX_OK || limit <= 0 || strcmp(d->status, STORAGE_ST_PROCESSED) != 0)
        return rc;
    rc = storage_sq_doc_search(c, uid, id, query, limit, out, n, err, errlen);
    if (rc != LX_OK)
        storage_doc_clear(d);
    return rc;
}
