/*
 * The document routes: upload, list, one, delete (the download is
 * download.c's).
 *
 *   POST   /api/documents/upload         multipart `file` (+ `metadata` or `name`)
 *   GET    /api/documents                a bare array, newest first
 *   GET    /api/documents/{id}           one; ?include_content=true adds the text
 *   DELETE /api/documents/{id}           204
 *
 * Every route is scoped to the signed-in user: another user's document is
 * answered exactly as an absent one (404 NOT_FOUND). Nothing here blocks
 * the loop: parsing, hashing and file I/O run on the offload pool, database
 * work through storage_run.
 *
 * An upload is one pool job (parse, hash, then files.h's .part, the row
 * with its activity in one transaction, the rename) and is committed
 * before it is answered; its bytes, still in memory, go to the text
 * pipeline (text/extract_steps.c) which stores the text in a second
 * transaction and hands the outcome back: the answer waits for it up to
 * extract_wait, reading nothing back. A client that goes away meanwhile
 * loses nothing: the document stays and its extraction goes on.
 *
 * Ownership: each request's state lives in request memory (req_alloc) with
 * a cleanup that frees what it points to; no request ends while a pool job
 * still reads it.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include <lexiaid/multipart.h>
#include <lexiaid/utf8.h>

#include "text/sniff.h"
#include "storage.h"

#define STORAGE_NAME_MAX 200 /* bytes of a display name */
#define STORAGE_SNIPPET_CHARS 200
#define STORAGE_UPLOAD_POINTS 10

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static int storage_is_processed(const storage_doc *d)
{
    return d->status != NULL && strcmp(d->status, STORAGE_ST_PROCESSED) == 0;
}

/* The first STORAGE_SNIPPET_CHARS characters of text, "..." when longer. */
static json_object *storage_snippet(const char *text)
{
    size_t i = 0, n_chars = 0;
    json_object *o;
    char *buf;

    if (text == NULL)
        return json_object_new_string("");
    while (text[i] != '\0' && n_chars < STORAGE_SNIPPET_CHARS) {
        i++;
        while (((unsigned char)text[i] & 0xC0) == 0x80)
            i++;
        n_chars++;
    }
    if (text[i] == '\0')
        return json_object_new_string(text);
    buf = malloc(i + 4);
    if (buf == NULL)
        return NULL;
    memcpy(buf, text, i);
    memcpy(buf + i, "...", 4);
    o = json_object_new_string(buf);
    free(buf);
    return o;
}

/* ------------------------------------------------------------------------ */
/* POST /api/documents/upload                                               */

typedef struct storage_up {
    storage_state *st;
    lx_req *req;
    lx_worker *w;
    char *uid;
    char owner[STORAGE_ID_LEN + 1]; /* st->owner, for the pool job */
    const char *body;               /* the request's body, borrowed while it lives */
    size_t body_len;
    char *boundary;

    /* Set by the parse job: an error to answer, or the document. */
    int err_status;
    const char *err_code;
    char err_msg[512];
    storage_doc doc;  /* strings malloc'd here; status "processing" */
    const char *data; /* the file: into the body */
    size_t len;
    char *copy; /* the file for the extraction (taken by the queue) */

    json_object *snippet; /* the text's start, once extracted */
    void *token;          /* the extraction queue's, while waiting */
    lx_timer *timer;      /* extract_wait, while waiting */
    int is_aborted;
    int is_ended;
} storage_up;

static void storage_up_cleanup(void *arg)
{
    storage_up *up = arg;

    free(up->uid);
    free(up->boundary);
    free(up->copy);
    storage_doc_clear(&up->doc);
    json_object_put(up->snippet);
}

static void storage_up_error(storage_up *up, int status, const char *code, const char *fmt, ...)
    LX_PRINTF(4, 5);

static void storage_up_error(storage_up *up, int status, const char *code, const char *fmt, ...)
{
    va_list ap;

    up->err_status = status;
    up->err_code = code;
    va_start(ap, fmt);
    vsnprintf(up->err_msg, sizeof(up->err_msg), fmt, ap);
    va_end(ap);
}

/* The answer: the document as stored (up->doc, updated by the
 * extraction's outcome when it came), text snippet included. */
static void storage_up_reply(storage_up *up)
{
    storage_state *st = up->st;
    const storage_doc *d = &up->doc;
    json_object *o;

    if (up->is_ended)
        return;
    up->is_ended = 1;
    o = storage_doc_json(d);
    if (o != NULL) {
        int is_processed = storage_is_processed(d) && up->snippet != NULL;
        storage_json_set_str(o, "message", "File uploaded successfully");
        storage_json_set_str(o, "document_id", d->id);
        storage_json_set_str(o, "filename", d->original_filename);
        json_object_object_add(o, "dua_processed", json_object_new_boolean(is_processed));
        json_object_object_add(o, "dua_narrative_snippet",
                               is_processed ? json_object_get(up->snippet)
                                            : json_object_new_string(""));
    }
    storage_reply_obj(st, up->req, 200, o);
}

/* Copies a display name candidate s[0..len): valid UTF-8 required,
 * controls turned to spaces, trimmed, cut at STORAGE_NAME_MAX bytes on a
 * character boundary. *out NULL when nothing is left. */
static int storage_clean_name(const char *s, size_t len, char **out)
{
    size_t a = 0, b = len, n;
    char *r;

    *out = NULL;
    if (!lx_utf8_valid(s, len))
        return LX_EINVAL;
    while (a < b && ((unsigned char)s[a] <= 0x20 || s[a] == 0x7f))
        a++;
    while (b > a && ((unsigned char)s[b - 1] <= 0x20 || s[b - 1] == 0x7f))
        b--;
    n = b - a;
    if (n == 0)
        return LX_OK;
    if (n > STORAGE_NAME_MAX) {
        n = STORAGE_NAME_MAX;
        while (n > 0 && ((unsigned char)s[a + n] & 0xC0) == 0x80)
            n--;
    }
    r = malloc(n + 1);
    if (r == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < n; i++)
        r[i] = ((unsigned char)s[a + i] < 0x20 || s[a + i] == 0x7f) ? ' ' : s[a + i];
    r[n] = '\0';
    *out = r;
    return LX_OK;
}

/* Bytes that are not valid UTF-8 become '_' (whole name, conservatively). */
static void storage_ascii_if_invalid(char *s)
{
    if (lx_utf8_valid(s, strlen(s)))
        return;
    for (; *s != '\0'; s++)
        if ((unsigned char)*s >= 0x80)
            *s = '_';
}

/* The display name: metadata {"name"}, else the `name` part, else the
 * file name without its extension. */
static int storage_up_name(storage_up *up, const lx_mp *mp, const char *safe_filename)
{
    const lx_mp_part *meta = lx_mp_get(mp, "metadata");
    const lx_mp_part *field = lx_mp_get(mp, "name");
    json_object *o = NULL, *v;
    int rc;

    if (meta != NULL && meta->len > 0) {
        rc = storage_json_parse(meta->data, meta->len, &o);
        if (rc == LX_ENOMEM)
            return rc;
        if (rc != LX_OK || !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            storage_up_error(up, 400, "INVALID_METADATA", "metadata must be a JSON object");
            return LX_EINVAL;
        }
        if (json_object_object_get_ex(o, "name", &v) && json_object_is_type(v, json_type_string)) {
            rc = storage_clean_name(json_object_get_string(v),
                                    (size_t)json_object_get_string_len(v), &up->doc.name);
            if (rc == LX_EINVAL)
                storage_up_error(up, 400, "INVALID_NAME", "the name must be valid UTF-8");
            if (rc != LX_OK) {
                json_object_put(o);
                return rc;
            }
        }
        json_object_put(o);
    }
    if (up->doc.name == NULL && field != NULL) {
        rc = storage_clean_name(field->data, field->len, &up->doc.name);
        if (rc == LX_EINVAL)
            storage_up_error(up, 400, "INVALID_NAME", "the name must be valid UTF-8");
        if (rc != LX_OK)
            return rc;
    }
    if (up->doc.name == NULL) {
        const char *dot = strrchr(safe_filename, '.');
        size_t n = dot != NULL && dot != safe_filename ? (size_t)(dot - safe_filename)
                                                       : strlen(safe_filename);
        rc = storage_clean_name(safe_filename, n, &up->doc.name);
        if (rc != LX_OK && rc != LX_EINVAL)
            return rc;
        if (up->doc.name == NULL && (up->doc.name = strdup("document")) == NULL)
            return LX_ENOMEM;
    }
    return LX_OK;
}

static char *storage_hex(const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(n * 2 + 1);

    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

/* Pool, before a connection is taken: the multipart body, the checks,
 * the new row. LX_EINVAL when up->err_status says what to answer. */
static int storage_up_parse(storage_state *st, void *arg)
{
    storage_up *up = arg;
    storage_doc *d = &up->doc;
    lx_mp mp;
    const lx_mp_part *file;
    storage_ftype ft;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char id[STORAGE_ID_LEN + 8], now[STORAGE_TS_LEN + 8], until[STORAGE_TS_LEN + 8];
    char err[512] = "";
    char *safe = NULL;
    int rc;

    memset(&mp, 0, sizeof(mp));
    rc = lx_mp_parse(up->body, up->body_len, up->boundary, &mp, err, sizeof(err));
    if (rc != LX_OK) {
        storage_up_error(up, 400, "INVALID_MULTIPART", "%s", err[0] ? err : "malformed multipart");
        return LX_EINVAL;
    }
    file = lx_mp_get(&mp, "file");
    if (file == NULL) {
        storage_up_error(up, 400, "NO_FILE", "No file part");
        goto out;
    }
    if (file->filename == NULL || file->filename[0] == '\0') {
        storage_up_error(up, 400, "NO_FILE", "No selected file");
        goto out;
    }
    if (file->len > st->max_upload) {
        storage_up_error(up, 413, "FILE_TOO_LARGE", "the file is larger than %zu bytes",
                         st->max_upload);
        goto out;
    }
    safe = storage_safe_filename(file->filename);
    if (safe == NULL)
        goto nomem;
    storage_ascii_if_invalid(safe);
    rc = storage_sniff(safe, file->data, file->len, &ft, err, sizeof(err));
    if (rc != LX_OK) {
        storage_up_error(up, 415, "UNSUPPORTED_TYPE", "%s", err[0] ? err : "unsupported type");
        goto out;
    }
    if (!STORAGE_HAVE_OCR &&
        (strcmp(ft.file_type, "png") == 0 || strcmp(ft.file_type, "jpg") == 0)) {
        storage_up_error(up, 415, "UNSUPPORTED_TYPE",
                         "this server cannot read text in images: it was built without OCR "
                         "(configure --disable-ocr); upload a PDF, DOCX, TXT or MD file");
        goto out;
    }
    rc = storage_up_name(up, &mp, safe);
    if (rc == LX_ENOMEM)
        goto nomem;
    if (rc != LX_OK)
        goto out;
    if (storage_uuid(id, sizeof(id)) != LX_OK) {
        storage_up_error(up, 503, "STORAGE_UNAVAILABLE", "no random source for a document id");
        goto out;
    }
    if (EVP_Digest(file->data, file->len, md, &md_len, EVP_sha256(), NULL) != 1) {
        storage_up_error(up, 500, "INTERNAL", "cannot hash the file");
        goto out;
    }
    storage_now_iso(now, sizeof(now));
    storage_iso_in(until, sizeof(until), st->claim_lease_ms);
    d->id = strdup(id);
    d->user_id = strdup(up->uid);
    d->original_filename = safe;
    safe = NULL;
    d->file_type = strdup(ft.file_type);
    d->mime_type = strdup(ft.mime_type);
    /* "processing" at once: this worker extracts it from the bytes in
     * memory (if it dies first, the document counts a cut-off run). */
    d->status = strdup(STORAGE_ST_PROCESSING);
    d->error = strdup("");
    d->sha256 = storage_hex(md, md_len);
    d->created_at = strdup(now);
    d->updated_at = strdup(now);
    d->size = (int64_t)file->len;
    /* This worker extracts it: claimed with the row itself (store.h). */
    d->claimed_by = strdup(up->owner);
    d->lease_until = strdup(until);
    if (d->id == NULL || d->user_id == NULL || d->file_type == NULL || d->mime_type == NULL ||
        d->status == NULL || d->error == NULL || d->sha256 == NULL || d->created_at == NULL ||
        d->updated_at == NULL || d->claimed_by == NULL || d->lease_until == NULL)
        goto nomem;
    up->data = file->data;
    up->len = file->len;
    goto out;
nomem:
    storage_up_error(up, 500, "INTERNAL", "out of memory");
out:
    free(safe);
    lx_mp_free(&mp);
    return up->err_status != 0 ? LX_EINVAL : LX_OK;
}

/* The row and its activity in one transaction, committed with whatever
 * other writes are waiting (storage_write): on any pool thread. */
static int storage_up_insert(storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_up *up = arg;
    const storage_doc *d = &up->doc;
    storage_activity a;
    char day[16];

    snprintf(day, sizeof(day), "%.10s", d->created_at);
    memset(&a, 0, sizeof(a));
    a.uid = d->user_id;
    a.kind = "upload";
    a.points = STORAGE_UPLOAD_POINTS;
    a.day = day;
    a.now = d->created_at;
    if (up->st->files != NULL)
        return storage_doc_create(c, d, NULL, 0, &a, err, errlen);
    return storage_doc_create(c, d, up->data, up->len, &a, err, errlen);
}

/* Pool, with a connection: the file, then the row and its activity, then
 * the file's rename; then a copy of the bytes for the extraction. */
static int storage_up_store(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_up *up = arg;
    const storage_doc *d = &up->doc;
    storage_file_tx *tx = NULL;
    char e2[256];
    int rc;

    if (st->files != NULL) {
        rc = storage_file_begin(st->files, d->id, up->data, up->len, &tx, err, errlen);
        if (rc != LX_OK)
            return rc == LX_ENOENT ? LX_EIO : rc;
        rc = storage_write(st->db, c, storage_up_insert, up, err, errlen);
        if (rc != LX_OK) {
            storage_file_abort(tx);
            return rc;
        }
        rc = storage_file_commit(tx, err, errlen);
        if (rc != LX_OK) {
            /* Not acknowledged: take the row back so nothing half remains. */
            (void)storage_doc_delete(c, d->user_id, d->id, e2, sizeof(e2));
            (void)storage_file_remove(st->files, d->id, e2, sizeof(e2));
            return rc == LX_ENOENT ? LX_EIO : rc;
        }
    } else {
        rc = storage_write(st->db, c, storage_up_insert, up, err, errlen);
        if (rc != LX_OK)
            return rc;
    }
    /* Short of memory, the queue reads the file back instead. */
    up->copy = malloc(up->len > 0 ? up->len : 1);
    if (up->copy != NULL)
        memcpy(up->copy, up->data, up->len);
    return LX_OK;
}

/* The answer now, with what is known of the document. */
static void storage_up_finish(storage_up *up)
{
    if (up->timer != NULL) {
        up->st->host->timer_stop(up->timer);
        up->timer = NULL;
    }
    if (up->token != NULL) {
        storage_proc_forget(up->st, up->token);
        up->token = NULL;
    }
    storage_up_reply(up);
}

/* Replaces *field by a copy of s; 0 when out of memory. */
static int storage_up_set(char **field, const char *s)
{
    char *v = strdup(s != NULL ? s : "");

    if (v == NULL)
        return 0;
    free(*field);
    *field = v;
    return 1;
}

/* The extraction's outcome, as stored: the answer's document. */
static void storage_up_extracted(void *arg, int rc, const storage_proc_result *res)
{
    storage_up *up = arg;
    storage_doc *d = &up->doc;

    up->token = NULL; /* spent */
    if (rc == LX_OK && res != NULL && storage_up_set(&d->status, res->status) &&
        storage_up_set(&d->error, res->error) && storage_up_set(&d->updated_at, res->updated_at)) {
        d->content_length = res->content_length;
        d->page_count = res->page_count;
        if (strcmp(res->status, STORAGE_ST_PROCESSED) == 0)
            up->snippet = storage_snippet(res->text);
    }
    storage_up_finish(up);
}

static void storage_up_waited(void *arg)
{
    storage_up *up = arg;

    up->timer = NULL; /* a one-shot timer frees itself */
    storage_up_finish(up);
}

static void storage_up_stored(storage_state *st, void *arg, int rc, const char *err)
{
    storage_up *up = arg;
    const lx_host *host = st->host;
    const storage_doc *d = &up->doc;
    char *copy = up->copy;

    up->copy = NULL;
    if (up->err_status != 0) { /* the parse's answer */
        free(copy);
        up->is_ended = 1;
        host->reply_error(up->req, up->err_status, up->err_code, up->err_msg);
        return;
    }
    if (rc != LX_OK) {
        free(copy);
        up->is_ended = 1;
        storage_reply_store_error(st, up->req, rc, err, STORAGE_DOC_NOT_FOUND);
        return;
    }
    st->full_at_ms = 0; /* a file and a row were written: there is room again */
    host->log(LX_LOG_INFO, STORAGE_SRC, up->req, "document %s uploaded: %s, %lld bytes", d->id,
              d->file_type, (long long)d->size);
    if (up->is_aborted) {
        /* The client is gone; the document stays and becomes text. */
        (void)storage_proc_queue(st, up->uid, d->id, d->file_type, copy, up->len, NULL, NULL);
        storage_up_reply(up);
        return;
    }
    up->token = storage_proc_queue(st, up->uid, d->id, d->file_type, copy, up->len,
                                   storage_up_extracted, up);
    if (up->token == NULL || st->extract_wait_ms <= 0) {
        storage_up_finish(up);
        return;
    }
    up->timer = host->timer_start(up->w, (uint64_t)st->extract_wait_ms, 0, storage_up_waited, up);
    if (up->timer == NULL)
        storage_up_finish(up);
}

/* The client went away or the route timed out. */
static void storage_up_abort(lx_req *req, void *arg)
{
    storage_up *up = arg;

    (void)req;
    up->is_aborted = 1;
    if (up->token != NULL || up->timer != NULL) {
        /* Waiting for the text, no job in flight: end it now. The
         * extraction goes on without a waiter. */
        storage_up_finish(up);
    }
}

/* POST /api/documents/upload (multipart `file`, optional `metadata` JSON
 * {"name"} or `name`): 200 with the document as read back once its text
 * is ready or extract_wait passed; 400 INVALID_MULTIPART, NO_FILE,
 * INVALID_METADATA or INVALID_NAME, 413 FILE_TOO_LARGE, 415
 * UNSUPPORTED_TYPE. */
lx_rc storage_h_upload(lx_req *req, void *state)
{
    storage_state *st = state;
    const lx_host *host = st->host;
    const lx_principal *p = storage_require_user(st, req);
    const char *ctype;
    char err[512] = "";
    storage_up *up;

    if (p == NULL)
        return LX_DONE;
    up = host->req_alloc(req, sizeof(*up));
    if (up == NULL)
        return LX_FAIL;
    memset(up, 0, sizeof(*up));
    up->st = st;
    up->req = req;
    up->w = host->req_worker(req);
    memcpy(up->owner, st->owner, sizeof(up->owner));
    if (host->req_on_cleanup(req, storage_up_cleanup, up) != LX_OK)
        return LX_FAIL;
    ctype = host->req_header(req, "Content-Type");
    if (ctype == NULL) {
        host->reply_error(req, 400, "INVALID_MULTIPART",
                          "the body must be multipart/form-data (no Content-Type)");
        return LX_DONE;
    }
    if (lx_mp_boundary(ctype, &up->boundary, err, sizeof(err)) != LX_OK) {
        host->reply_error(req, 400, "INVALID_MULTIPART",
                          err[0] ? err : "the body must be multipart/form-data");
        return LX_DONE;
    }
    up->uid = strdup(p->uid);
    if (up->uid == NULL)
        return LX_FAIL;
    up->body = host->req_body(req, &up->body_len);
    if (up->body == NULL) {
        up->body = "";
        up->body_len = 0;
    }
    if (host->req_on_abort(req, storage_up_abort, up) != LX_OK)
        return LX_FAIL;
    if (storage_run_prepared(st, up->w, storage_up_parse, storage_up_store, storage_up_stored,
                             up) != LX_OK) {
        storage_reply_store_error(st, req, LX_ESTATE, "", NULL);
        return LX_DONE;
    }
    return LX_ASYNC;
}

/* ------------------------------------------------------------------------ */
/* GET /api/documents                                                       */

typedef struct storage_list {
    storage_state *st;
    lx_req *req;
    char *uid;
    storage_doc *docs;
    size_t n;
} storage_list;

static void storage_list_cleanup(void *arg)
{
    storage_list *l = arg;

    free(l->uid);
    storage_docs_free(l->docs, l->n);
}

static int storage_list_job(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_list *l = arg;

    (void)st;
    return storage_doc_list(c, l->uid, &l->docs, &l->n, err, errlen);
}

static void storage_list_done(storage_state *st, void *arg, int rc, const char *err)
{
    storage_list *l = arg;
    json_object *a;

    if (rc != LX_OK) {
        storage_reply_store_error(st, l->req, rc, err, STORAGE_DOC_NOT_FOUND);
        return;
    }
    a = json_object_new_array_ext((int)(l->n > 0 ? l->n : 1));
    for (size_t i = 0; a != NULL && i < l->n; i++) {
        json_object *o = storage_doc_json(&l->docs[i]);
        if (o == NULL || json_object_array_add(a, o) != 0) {
            json_object_put(o);
            json_object_put(a);
            a = NULL;
        }
    }
    storage_reply_obj(st, l->req, 200, a);
}

/* GET /api/documents: the user's documents, a bare array, newest first. */
lx_rc storage_h_doc_list(lx_req *req, void *state)
{
    storage_state *st = state;
    const lx_principal *p = storage_require_user(st, req);
    storage_list *l;

    if (p == NULL)
        return LX_DONE;
    l = storage_req_state(st, req, sizeof(*l), storage_list_cleanup);
    if (l == NULL || (l->uid = strdup(p->uid)) == NULL)
        return LX_FAIL;
    l->st = st;
    l->req = req;
    return storage_run_or_reply(st, req, storage_list_job, storage_list_done, l, NULL);
}

/* ------------------------------------------------------------------------ */
/* GET and DELETE /api/documents/{id}                                       */

typedef struct storage_one {
    storage_doc_req r; /* first: storage_doc_req_new */
    int with_text;
} storage_one;

static void storage_one_cleanup(void *arg)
{
    storage_one *o = arg;

    storage_doc_req_clear(&o->r);
}

/* The {id} routes but the download: the state, then fn and done. */
static lx_rc storage_one_route(storage_state *st, lx_req *req, int with_text, storage_job_fn fn,
                               storage_done_fn done)
{
    int is_failed;
    storage_one *o = storage_doc_req_new(st, req, sizeof(*o), storage_one_cleanup, &is_failed);

    if (o == NULL)
        return is_failed ? LX_FAIL : LX_DONE;
    o->with_text = with_text;
    return storage_run_or_reply(st, req, fn, done, o, NULL);
}

static int storage_get_job(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    storage_one *o = arg;

    (void)st;
    return storage_doc_get(c, o->r.uid, o->r.id, o->with_text, &o->r.d, err, errlen);
}

static void storage_get_done(storage_state *st, void *arg, int rc, const char *err)
{
    storage_one *o = arg;
    const storage_doc *d = &o->r.d;
    json_object *j;

    if (rc != LX_OK) {
        storage_reply_store_error(st, o->r.req, rc, err, STORAGE_DOC_NOT_FOUND);
        return;
    }
    j = storage_doc_json(d);
    if (j != NULL && o->with_text) {
        int is_failed = d->status != NULL && strcmp(d->status, STORAGE_ST_FAILED) == 0;
        storage_json_set_str(j, "content", storage_is_processed(d) ? d->text : "");
        json_object_object_add(j, "content_is_json", json_object_new_boolean(0));
        storage_json_set_str(j, "content_error", is_failed ? d->error : "");
    }
    storage_reply_obj(st, o->r.req, 200, j);
}

static int storage_truthy(const char *v)
{
    return v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "True") == 0 ||
                         strcmp(v, "TRUE") == 0 || strcmp(v, "yes") == 0);
}

/* GET /api/documents/{id}[?include_content=true]: the document, with
 * content, content_is_json and content_error when asked. */
lx_rc storage_h_doc_get(lx_req *req, void *state)
{
    storage_state *st = state;

    return storage_one_route(st, req, storage_truthy(st->host->req_query(req, "include_content")),
                             storage_get_job, storage_get_done);
}

static int storage_delete_job(storage_state *st, storage_conn *c, void *arg, char *err,
                              size_t errlen)
{
    storage_one *o = arg;
    char e2[256];
    int rc;

    rc = storage_doc_delete(c, o->r.uid, o->r.id, err, errlen);
    /* A full disk: the reserve's room lets the deletion (which needs some
     * for SQLite's log) through, and the deletion frees more. */
    if (rc == STORAGE_ENOSPC && storage_make_room(st))
        rc = storage_doc_delete(c, o->r.uid, o->r.id, err, errlen);
    if (rc == LX_OK && st->files != NULL &&
        storage_file_remove(st->files, o->r.id, e2, sizeof(e2)) != LX_OK)
        st->host->log(LX_LOG_WARN, STORAGE_SRC, NULL, "document %s deleted, but not its file: %s",
                      o->r.id, e2);
    return rc;
}

static void storage_delete_done(storage_state *st, void *arg, int rc, const char *err)
{
    storage_one *o = arg;

    if (rc != LX_OK) {
        storage_reply_store_error(st, o->r.req, rc, err, STORAGE_DOC_NOT_FOUND);
        return;
    }
    storage_emit(st, st->host->req_worker(o->r.req), LX_STORAGE_EV_DELETED, o->r.uid, o->r.id);
    st->host->reply(o->r.req, 204, NULL, NULL, 0, LX_STATIC);
}

/* DELETE /api/documents/{id}: 204; the row first, then (SQLite) its file.
 * Works on a full disk (the disk reserve, files.h). */
lx_rc storage_h_doc_delete(lx_req *req, void *state)
{
    return storage_one_route(state, req, 0, storage_delete_job, storage_delete_done);
}
