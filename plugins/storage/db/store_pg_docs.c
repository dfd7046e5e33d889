/*
 * The PostgreSQL backend's documents (store.h, store_pg.h): rows, the file
 * bytes in doc_chunks (STORAGE_CHUNK_SIZE pieces), the extracted text and
 * its passages, passage search, reading bytes back, and the scans for
 * stale documents and all ids. Every lookup is scoped by the owner's uid.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* ------------------------------------------------------------------------ */
/* Rows                                                                     */

/* The columns of PG_DOC_COLS, then the text when the result has it. */
static void pg_fill_doc(const PGresult *r, int row, void *item, int *is_oom)
{
    storage_doc *d = item;
    char **strs[] = {&d->id,        &d->user_id,    &d->name,      &d->original_filename,
                     &d->file_type, &d->mime_type,  &d->status,    &d->error,
                     &d->sha256,    &d->created_at, &d->updated_at};

    for (int i = 0; i < (int)(sizeof(strs) / sizeof(strs[0])); i++)
        *strs[i] = storage_pg_dup(r, row, i, is_oom);
    d->size = storage_pg_int(r, row, 11);
    d->content_length = storage_pg_int(r, row, 12);
    d->page_count = storage_pg_int(r, row, 13);
    d->claimed_by = storage_pg_dup(r, row, 14, is_oom);
    d->lease_until = storage_pg_dup(r, row, 15, is_oom);
    d->interrupted = storage_pg_int(r, row, 16);
    d->text = PQnfields(r) > 17 ? storage_pg_dup(r, row, 17, is_oom) : NULL;
}

/* (id, user_id, file_type, interrupted) of a claim. */
static void pg_fill_pending(const PGresult *r, int row, void *item, int *is_oom)
{
    storage_pending *p = item;

    p->id = storage_pg_dup(r, row, 0, is_oom);
    p->user_id = storage_pg_dup(r, row, 1, is_oom);
    p->file_type = storage_pg_dup(r, row, 2, is_oom);
    p->interrupted = storage_pg_int(r, row, 3);
}

static void pg_drop_pending(void *v, size_t n)
{
    storage_pending_free(v, n);
}

static void pg_drop_docs(void *v, size_t n)
{
    storage_docs_free(v, n);
}

/* (seq, score, text) or (seq, text). */
static void pg_fill_passage(const PGresult *r, int row, void *item, int *is_oom)
{
    storage_passage *p = item;
    int is_scored = PQnfields(r) > 2;

    p->seq = storage_pg_int(r, row, 0);
    p->score = is_scored ? storage_pg_float(r, row, 1) : 0.0;
    p->text = storage_pg_dup(r, row, is_scored ? 2 : 1, is_oom);
}

static void pg_drop_passages(void *v, size_t n)
{
    storage_passages_free(v, n);
}

/* ------------------------------------------------------------------------ */
/* Documents                                                                */

typedef struct pg_doc_new {
    const storage_doc *d;
    const void *bytes;
    size_t len;
    const storage_activity *act; /* may be NULL */
} pg_doc_new;

/* The row, the activity, then its chunks (binary parameters). */
static int pg_doc_insert(storage_pg_conn *p, void *arg, char *err, size_t errlen)
{
    const pg_doc_new *a = arg;
    const storage_doc *d = a->d;
    storage_pg_num sb, cb, pb;
    const char *vals[16] = {d->id,
                            d->user_id,
                            d->name,
                            d->original_filename,
                            d->file_type,
                            d->mime_type,
                            d->status,
                            d->error,
                            d->sha256,
                            d->created_at,
                            d->updated_at,
                            storage_pg_i64(&sb, d->size),
                            storage_pg_i64(&cb, d->content_length),
                            storage_pg_i64(&pb, d->page_count),
                            d->claimed_by,
                            d->lease_until};
    int rc = storage_pg_do(p, PGS_DOC_INSERT, vals, NULL, err, errlen);

    if (rc == LX_OK && a->act != NULL)
        rc = storage_pg_activity_in(p, a->act, err, errlen);
    for (size_t off = 0, seq = 0; rc == LX_OK && off < a->len; off += STORAGE_CHUNK_SIZE, seq++) {
        size_t piece = a->len - off < STORAGE_CHUNK_SIZE ? a->len - off : STORAGE_CHUNK_SIZE;
        storage_pg_num qb;
        const char *cv[3] = {d->id, storage_pg_i64(&qb, (int64_t)seq),
                             (const char *)a->bytes + off};
        int lens[3] = {0, 0, (int)piece};
        int fmts[3] = {0, 0, 1};
        PGresult *r;

        rc = storage_pg_run_fmt(p, PGS_CHUNK_INSERT, cv, lens, fmts, 0, &r, err, errlen);
        PQclear(r);
    }
    return rc;
}

int storage_pg_doc_create(storage_conn *c, const storage_doc *d, const void *bytes, size_t len,
                          const storage_activity *act, char *err, size_t errlen)
{
    pg_doc_new a = {d, bytes, len, act};

    if (bytes == NULL && len > 0) {
        storage_pg_errf(err, errlen, "postgres: no bytes for a file of that size", NULL);
        return LX_EINVAL;
    }
    if (len / STORAGE_CHUNK_SIZE >= INT32_MAX) {
        storage_pg_errf(err, errlen, "postgres: the file is too large", NULL);
        return LX_EINVAL;
    }
    return storage_pg_in_tx(storage_pg_of(c), pg_doc_insert, &a, err, errlen);
}

int storage_pg_doc_list(storage_conn *c, const char *uid, storage_doc **docs, size_t *n, char *err,
                        size_t errlen)
{
    const char *vals[1] = {uid};
    void *v;
    int rc = storage_pg_list(storage_pg_of(c), PGS_DOC_LIST, vals, sizeof(**docs), pg_fill_doc,
                             pg_drop_docs, &v, n, err, errlen);

    *docs = v;
    return rc;
}

int storage_pg_doc_get(storage_conn *c, const char *uid, const char *id, int with_text,
                       storage_doc *d, char *err, size_t errlen)
{
    const char *vals[2] = {id, uid};

    return storage_pg_get(storage_pg_of(c), with_text ? PGS_DOC_GET_TEXT : PGS_DOC_GET, vals,
                          "document", sizeof(*d), pg_fill_doc, pg_drop_docs, d, err, errlen);
}

int storage_pg_doc_delete(storage_conn *c, const char *uid, const char *id, char *err,
                          size_t errlen)
{
    const char *vals[2] = {id, uid};

    /* One statement; the text, passages and chunks cascade with it. */
    return storage_pg_do_one(storage_pg_of(c), PGS_DOC_DELETE, vals, "document", err, errlen);
}

int storage_pg_doc_set_status(storage_conn *c, const char *id, const char *owner,
                              const char *status, const char *error, const char *now, char *err,
                              size_t errlen)
{
    const char *vals[5] = {id, status, error, now, owner};

    return storage_pg_do_one(storage_pg_of(c), PGS_DOC_STATUS, vals, "document", err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Text and passages                                                        */

typedef struct pg_doc_text {
    const char *const *doc; /* PGS_DOC_PROCESSED's parameters */
    const char *id;
    const char *text;     /* NUL-terminated copy */
    const char *passages; /* text[] literal; NULL: no passages */
} pg_doc_text;

/* The document's status and sizes, its text, its passages anew. */
static int pg_doc_text_put(storage_pg_conn *p, void *arg, char *err, size_t errlen)
{
    const pg_doc_text *a = arg;
    const char *tv[2] = {a->id, a->text};
    const char *pv[2] = {a->id, a->passages};
    int rc = storage_pg_do_one(p, PGS_DOC_PROCESSED, a->doc, "document", err, errlen);

    if (rc == LX_OK)
        rc = storage_pg_do(p, PGS_TEXT_PUT, tv, NULL, err, errlen);
    if (rc == LX_OK)
        rc = storage_pg_do(p, PGS_PASSAGES_DEL, &a->id, NULL, err, errlen);
    if (rc == LX_OK && a->passages != NULL)
        rc = storage_pg_do(p, PGS_PASSAGES_PUT, pv, NULL, err, errlen);
    return rc;
}

int storage_pg_doc_set_text(storage_conn *c, const char *id, const char *owner, const char *text,
                            size_t text_len, int64_t page_count, const char *const *passages,
                            size_t n_passages, const char *now, char *err, size_t errlen)
{
    storage_pg_num lb, pb;
    const char *doc[5] = {id, storage_pg_i64(&lb, (int64_t)text_len),
                          storage_pg_i64(&pb, page_count), now, owner};
    char *copy = NULL, *arr = NULL;
    int rc;

    if (text == NULL)
        text = "";
    if (memchr(text, '\0', text_len) != NULL) {
        storage_pg_errf(err, errlen, "postgres: the text holds a NUL byte", NULL);
        return LX_EINVAL;
    }
    copy = malloc(text_len + 1); /* text need not end at text_len */
    arr = n_passages > 0 ? storage_pg_text_array(passages, n_passages) : NULL;
    if (copy == NULL || (n_passages > 0 && arr == NULL)) {
        rc = storage_pg_oom(err, errlen);
    } else {
        pg_doc_text a = {doc, id, copy, arr};

        memcpy(copy, text, text_len);
        copy[text_len] = '\0';
        rc = storage_pg_in_tx(storage_pg_of(c), pg_doc_text_put, &a, err, errlen);
    }
    free(copy);
    free(arr);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reading the bytes                                                        */

/* A big-endian integer of a binary result field. */
static int64_t pg_be_int(const PGresult *r, int row, int col)
{
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    uint64_t v = 0;

    for (int i = 0; i < len; i++)
        v = (v << 8) | b[i];
    if (len == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

int storage_pg_doc_read(storage_conn *c, const char *uid, const char *id, int64_t offset, void *buf,
                        size_t cap, size_t *n, char *err, size_t errlen)
{
    const int64_t chunk = STORAGE_CHUNK_SIZE;
    storage_pg_num fb, lb;
    const char *vals[4];
    PGresult *r;
    int64_t size, end, first, last, pos;
    size_t got = 0;
    int rc, rows;

    *n = 0;
    if (offset < 0) {
        storage_pg_errf(err, errlen, "postgres: negative offset", NULL);
        return LX_EINVAL;
    }
    /* Only the chunks that cover [offset, offset + cap). */
    end = cap > (size_t)(INT64_MAX - offset) ? INT64_MAX : offset + (int64_t)cap;
    first = offset / chunk;
    last = cap == 0 ? first : (end - 1) / chunk;
    if (first > INT32_MAX)
        first = INT32_MAX;
    if (last > INT32_MAX)
        last = INT32_MAX;
    vals[0] = id;
    vals[1] = uid;
    vals[2] = storage_pg_i64(&fb, first);
    vals[3] = storage_pg_i64(&lb, last);
    rc = storage_pg_run_fmt(storage_pg_of(c), PGS_DOC_READ, vals, NULL, NULL, 1, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rows = PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        return storage_pg_absent(err, errlen, "document");
    }
    size = pg_be_int(r, 0, 0);
    if (end > size)
        end = size;
    pos = offset;
    for (int i = 0; i < rows && pos < end; i++) {
        int64_t start, clen, from, take;

        if (PQgetisnull(r, i, 1))
            break;
        start = pg_be_int(r, i, 1) * chunk;
        clen = PQgetlength(r, i, 2);
        if (start > pos || start + clen <= pos)
            break; /* a gap: caught below */
        from = pos - start;
        take = clen - from;
        if (take > end - pos)
            take = end - pos;
        memcpy((char *)buf + got, PQgetvalue(r, i, 2) + from, (size_t)take);
        got += (size_t)take;
        pos += take;
    }
    PQclear(r);
    if (pos < end) {
        storage_pg_errf(err, errlen, "postgres: the document's stored bytes are incomplete", NULL);
        return LX_EIO;
    }
    *n = got;
    return LX_OK;
}

int storage_pg_doc_asset_put(storage_conn *c, const char *uid, const char *id, const char *name,
                             const void *data, size_t len, char *err, size_t errlen)
{
    const char *vals[4] = {id, uid, name, data != NULL ? (const char *)data : ""};
    int lens[4] = {0, 0, 0, (int)len};
    int fmts[4] = {0, 0, 0, 1};
    PGresult *r;
    int64_t n_rows;
    int rc;

    if (len > INT32_MAX) {
        storage_pg_errf(err, errlen, "postgres: the asset is too large", NULL);
        return LX_EINVAL;
    }
    rc = storage_pg_run_fmt(storage_pg_of(c), PGS_ASSET_PUT, vals, lens, fmts, 0, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    n_rows = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n_rows == 0 ? storage_pg_absent(err, errlen, "document") : LX_OK;
}

int storage_pg_doc_asset_read(storage_conn *c, const char *uid, const char *id, const char *name,
                              int64_t offset, void *buf, size_t cap, size_t *n, int64_t *size,
                              char *err, size_t errlen)
{
    storage_pg_num ob, cb;
    const char *vals[5];
    PGresult *r;
    size_t got;
    int rc;

    *n = 0;
    *size = 0;
    if (offset < 0 || offset >= INT32_MAX || cap > INT32_MAX) {
        storage_pg_errf(err, errlen, "postgres: bad asset range", NULL);
        return LX_EINVAL;
    }
    vals[0] = id;
    vals[1] = uid;
    vals[2] = name;
    vals[3] = storage_pg_i64(&ob, offset);
    vals[4] = storage_pg_i64(&cb, (int64_t)cap);
    rc = storage_pg_run_fmt(storage_pg_of(c), PGS_ASSET_READ, vals, NULL, NULL, 1, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return storage_pg_absent(err, errlen, "asset");
    }
    *size = pg_be_int(r, 0, 0);
    got = (size_t)PQgetlength(r, 0, 1);
    if (got > cap)
        got = cap;
    if (got > 0)
        memcpy(buf, PQgetvalue(r, 0, 1), got);
    *n = got;
    PQclear(r);
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Scans                                                                    */

/* ------------------------------------------------------------------------ */
/* The extraction queue                                                     */

int storage_pg_doc_claim(storage_conn *c, const char *owner, const char *now, const char *until,
                         int max, storage_pending **out, size_t *n, char *err, size_t errlen)
{
    storage_pg_num mb;
    const char *vals[4] = {owner, now, until, storage_pg_i64(&mb, max)};
    void *v;
    int rc = storage_pg_list(storage_pg_of(c), PGS_DOC_CLAIM, vals, sizeof(**out), pg_fill_pending,
                             pg_drop_pending, &v, n, err, errlen);

    *out = v;
    return rc;
}

int storage_pg_doc_any_claimable(storage_conn *c, const char *now, int *is_any, char *err,
                                 size_t errlen)
{
    const char *vals[1] = {now};
    PGresult *r;
    int rc = storage_pg_run(storage_pg_of(c), PGS_DOC_CLAIMABLE, vals, &r, err, errlen);

    if (rc != LX_OK)
        return rc;
    *is_any = PQntuples(r) > 0;
    PQclear(r);
    return LX_OK;
}

int storage_pg_doc_renew(storage_conn *c, const char *owner, const char *const *ids, size_t n,
                         const char *until, int64_t *n_renewed, char *err, size_t errlen)
{
    char *arr = storage_pg_text_array(ids, n);
    const char *vals[3] = {owner, arr, until};
    int rc;

    if (arr == NULL)
        return storage_pg_oom(err, errlen);
    rc = storage_pg_do(storage_pg_of(c), PGS_DOC_RENEW, vals, n_renewed, err, errlen);
    free(arr);
    return rc;
}

int storage_pg_doc_start(storage_conn *c, const char *id, const char *owner, const char *now,
                         char *err, size_t errlen)
{
    const char *vals[3] = {id, owner, now};

    return storage_pg_do_one(storage_pg_of(c), PGS_DOC_START, vals, "document held by this worker",
                             err, errlen);
}

int storage_pg_doc_release(storage_conn *c, const char *id, const char *owner,
                           const char *not_before, char *err, size_t errlen)
{
    const char *vals[3] = {id, owner, not_before};

    return storage_pg_do_one(storage_pg_of(c), PGS_DOC_RELEASE, vals,
                             "document held by this worker", err, errlen);
}

static int pg_doc_owned(storage_pg_conn *p, const char *uid, const char *id, char *err,
                        size_t errlen);

int storage_pg_doc_assets_claim(storage_conn *c, const char *uid, const char *id, const char *owner,
                                const char *now, const char *until, char *err, size_t errlen)
{
    storage_pg_conn *p = storage_pg_of(c);
    const char *vals[5] = {id, uid, owner, now, until};
    int64_t n = 0;
    int rc;

    if (until == NULL)
        return storage_pg_do(p, PGS_DOC_ASSETS_RELEASE, vals, &n, err, errlen);
    rc = storage_pg_do(p, PGS_DOC_ASSETS_CLAIM, vals, &n, err, errlen);
    if (rc == LX_OK && n == 0 && (rc = pg_doc_owned(p, uid, id, err, errlen)) == LX_OK) {
        storage_pg_errf(err, errlen,
                        "postgres: the document is not processed or another worker holds it", NULL);
        rc = LX_EEXIST;
    }
    return rc;
}

int storage_pg_doc_failed_ids(storage_conn *c, const char *error, char ***ids, size_t *n, char *err,
                              size_t errlen)
{
    const char *vals[1] = {error};
    PGresult *r;
    int rc = storage_pg_run(storage_pg_of(c), PGS_DOC_FAILED_IDS, vals, &r, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = storage_pg_strv(r, 0, ids, n);
    PQclear(r);
    return rc == LX_OK ? LX_OK : storage_pg_oom(err, errlen);
}

int storage_pg_doc_retry_failed(storage_conn *c, const char *id, const char *error, const char *now,
                                char *err, size_t errlen)
{
    const char *vals[3] = {id, error, now};

    return storage_pg_do_one(storage_pg_of(c), PGS_DOC_RETRY_FAILED, vals,
                             "document failed for that reason", err, errlen);
}

int storage_pg_doc_all_ids(storage_conn *c, char ***ids, char ***uids, size_t *n, char *err,
                           size_t errlen)
{
    PGresult *r;
    size_t n2 = 0;
    int rc;

    *ids = NULL;
    *uids = NULL;
    *n = 0;
    rc = storage_pg_run(storage_pg_of(c), PGS_DOC_ALL, NULL, &r, err, errlen);
    if (rc != LX_OK)
        return rc;
    rc = storage_pg_strv(r, 0, ids, n);
    if (rc == LX_OK)
        rc = storage_pg_strv(r, 1, uids, &n2);
    PQclear(r);
    if (rc != LX_OK) {
        storage_strv_free(*ids, *n);
        *ids = NULL;
        *n = 0;
        return storage_pg_oom(err, errlen);
    }
    return LX_OK;
}

/* ------------------------------------------------------------------------ */
/* Passage search                                                           */

/* LX_OK when document id is uid's, else LX_ENOENT. */
static int pg_doc_owned(storage_pg_conn *p, const char *uid, const char *id, char *err,
                        size_t errlen)
{
    const char *vals[2] = {id, uid};
    PGresult *r;
    int rc = storage_pg_run(p, PGS_DOC_OWNED, vals, &r, err, errlen);

    if (rc != LX_OK)
        return rc;
    rc = PQntuples(r) == 1 ? LX_OK : storage_pg_absent(err, errlen, "document");
    PQclear(r);
    return rc;
}

/* The passages statement s of document id (owned by vals[1]) into *out. */
static int pg_passages(storage_pg_conn *p, int s, const char *const *vals, storage_passage **out,
                       size_t *n, char *err, size_t errlen)
{
    void *v;
    int rc = storage_pg_list(p, s, vals, sizeof(**out), pg_fill_passage, pg_drop_passages, &v, n,
                             err, errlen);

    *out = v;
    return rc;
}

/* Sends `first` (a statement on $1 id and $2 uid: the owner check or the
 * document's row) and the search of query's words in that document in one
 * pipeline: steps[0] and steps[1] get their results (the caller PQclears
 * them). *is_sent 0 (and LX_OK): nothing sent, as the query has no word or
 * limit is not positive. */
static int pg_search_with(storage_pg_conn *p, int first, const char *uid, const char *id,
                          const char *query, int limit, storage_pg_step steps[2], int *is_sent,
                          char *err, size_t errlen)
{
    storage_pg_num lb;
    const char *vals[4];
    char **words = NULL, *arr;
    size_t n_words = 0;
    int rc;

    *is_sent = 0;
    if (limit > 0 && storage_query_words(query, &words, &n_words) != LX_OK)
        return storage_pg_oom(err, errlen);
    if (n_words == 0)
        return LX_OK;
    arr = storage_pg_text_array((const char *const *)words, n_words);
    storage_strv_free(words, n_words);
    if (arr == NULL)
        return storage_pg_oom(err, errlen);
    vals[0] = id;
    vals[1] = uid;
    vals[2] = arr;
    vals[3] = storage_pg_i64(&lb, limit);
    steps[0] = (storage_pg_step){.s = first, .vals = vals};
    steps[1] = (storage_pg_step){.s = PGS_SEARCH, .vals = vals};
    rc = storage_pg_pipeline(p, steps, 2, err, errlen);
    free(arr);
    *is_sent = rc == LX_OK;
    return rc;
}

/* The passages of a PGS_SEARCH result (r stays the caller's). */
static int pg_passages_of(const PGresult *r, storage_passage **out, size_t *n, char *err,
                          size_t errlen)
{
    int rows = PQntuples(r);
    void *v = NULL;

    if (storage_pg_read_rows(r, rows, sizeof(**out), pg_fill_passage, pg_drop_passages, &v) !=
        LX_OK)
        return storage_pg_oom(err, errlen);
    *out = v;
    *n = (size_t)rows;
    return LX_OK;
}

/* One trip: the ownership check and the search. */
int storage_pg_doc_search(storage_conn *c, const char *uid, const char *id, const char *query,
                          int limit, storage_passage **out, size_t *n, char *err, size_t errlen)
{
    storage_pg_conn *p = storage_pg_of(c);
    storage_pg_step steps[2];
    int rc, is_sent;

    *out = NULL;
    *n = 0;
    rc = pg_search_with(p, PGS_DOC_OWNED, uid, id, query, limit, steps, &is_sent, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (!is_sent)
        return pg_doc_owned(p, uid, id, err, errlen);
    if (PQntuples(steps[0].r) != 1)
        rc = storage_pg_absent(err, errlen, "document");
    else
        rc = pg_passages_of(steps[1].r, out, n, err, errlen);
    PQclear(steps[0].r);
    PQclear(steps[1].r);
    return rc;
}

int storage_pg_doc_passages(storage_conn *c, const char *uid, const char *id, int64_t from,
                            int count, storage_passage **out, size_t *n, char *err, size_t errlen)
{
    storage_pg_conn *p = storage_pg_of(c);
    storage_pg_num fb, cb;
    const char *vals[4];
    int rc;

    *out = NULL;
    *n = 0;
    rc = pg_doc_owned(p, uid, id, err, errlen);
    if (rc != LX_OK || count <= 0)
        return rc;
    vals[0] = id;
    vals[1] = uid;
    vals[2] = storage_pg_i64(&fb, from < 0 ? 0 : from);
    vals[3] = storage_pg_i64(&cb, count);
    return pg_passages(p, PGS_PASSAGES, vals, out, n, err, errlen);
}

/* One trip: the document's row and the search in one pipeline (the search
 * joins the document by id and owner as well). The passages of a
 * document not processed yet are not kept. */
int storage_pg_doc_get_search(storage_conn *c, const char *uid, const char *id, const char *query,
                              int limit, storage_doc *d, storage_passage **out, size_t *n,
                              char *err, size_t errlen)
{
    storage_pg_conn *p = storage_pg_of(c);
    storage_pg_step steps[2];
    int rc, is_sent;

    memset(d, 0, sizeof(*d));
    *out = NULL;
    *n = 0;
    rc = pg_search_with(p, PGS_DOC_GET, uid, id, query, limit, steps, &is_sent, err, errlen);
    if (rc != LX_OK)
        return rc;
    if (!is_sent)
        return storage_pg_doc_get(c, uid, id, 0, d, err, errlen);
    rc = storage_pg_row(steps[0].r, "document", sizeof(*d), pg_fill_doc, pg_drop_docs, d, err,
                        errlen);
    if (rc == LX_OK && strcmp(d->status, STORAGE_ST_PROCESSED) == 0 &&
        (rc = pg_passages_of(steps[1].r, out, n, err, errlen)) != LX_OK)
        storage_doc_clear(d);
    PQclear(steps[0].r);
    PQclear(steps[1].r);
    return rc;
}
