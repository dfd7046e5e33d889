/* storage_client: requires "storage.v1" and exposes each of its members
 * over HTTP so that tests/integration/test_storage_svc.py can drive the
 * service as the tutoring plugin will: from handlers behind
 * auth.require_user, scoped to the signed-in user's uid.
 *
 *   POST   /svc/records/{kind}              record_put, key NULL (body: JSON)
 *   PUT    /svc/records/{kind}/{key}        record_put
 *   GET    /svc/records/{kind}/{key}        record_get
 *   DELETE /svc/records/{kind}/{key}        record_delete
 *   POST   /svc/records/{kind}/{key}/items  record_append -> {seq}
 *   GET    /svc/records/{kind}/{key}/items  record_items ?after=&last=
 *   GET    /svc/records/{kind}              record_list ?limit=
 *   GET    /svc/docs/{id}                   doc_get ?text=1
 *   GET    /svc/docs/{id}/search            doc_search ?q=&limit=
 *   GET    /svc/docs/{id}/passages          doc_passages ?from=&count=
 *   GET    /svc/profile                     profile_get
 *   POST   /svc/activity                    activity_add ?kind=&points=&score=&max_score=
 *   POST   /svc/batch                       batch -> {seqs, n}; the body has one op a
 *                                           line, fields split by tabs (an empty field
 *                                           is NULL):  put KIND KEY JSON
 *                                                      append KIND KEY JSON
 *                                                      activity KIND POINTS SCORE MAX_SCORE
 *                                           any other first word is an unknown type
 *   (storage.v1 minor 2)
 *   GET    /svc/records/{kind}/{key}/with_items  record_get_items ?last=
 *                                           -> {record, items, n}
 *   GET    /svc/docs/{id}/find              doc_get_search ?q=&limit= -> {doc, passages, n}
 *   POST   /svc/batch/{kind}/{key}          batch_items ?last= (body as /svc/batch)
 *                                           -> {seqs, n, items, n_items}
 *
 * The service's statuses become HTTP statuses: LX_ENOENT 404 NOT_FOUND,
 * LX_EINVAL 400 INVALID, anything else 503 UNAVAILABLE, with the
 * service's message. A record's value and items are JSON the service has
 * checked, put verbatim into the replies as "value".
 *
 * The plugin links nothing but libc (the test plugins build with
 * -no-undefined and no extra libraries), so it writes its JSON itself. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/auth.h>
#include <lexiaid/plugin.h>
#include <lexiaid/svc/storage_v1.h>

typedef struct sc_state {
    const lx_host *host;
    const lx_storage_v1 *sv;
    void *sv_state;
} sc_state;

/* The host table, for the helpers that see only the request. The one
 * static here, and a safe one: init() sets it to the same table in every
 * generation, valid for the life of the process (plugin.h). The rest of
 * the state is per generation: made by init(), freed by shutdown(). */
static const lx_host *sc_host;

/* ------------------------------------------------------------------------ */
/* A growing JSON text                                                      */

typedef struct sc_buf {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: every later append is a no-op */
} sc_buf;

static void sc_put(sc_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sc_puts(sc_buf *b, const char *s)
{
    sc_put(b, s, strlen(s));
}

static void sc_printf(sc_buf *b, const char *fmt, ...) LX_PRINTF(2, 3);
static void sc_printf(sc_buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->failed = 1;
        return;
    }
    sc_put(b, tmp, (size_t)n);
}

/* s[0..n) as a JSON string (UTF-8 passes through; control bytes escaped). */
static void sc_str_n(sc_buf *b, const char *s, size_t n)
{
    size_t run = 0;

    sc_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sc_put(b, s + run, i - run);
        run = i + 1;
        if (c == '"')
            sc_put(b, "\\\"", 2);
        else if (c == '\\')
            sc_put(b, "\\\\", 2);
        else if (c == '\n')
            sc_put(b, "\\n", 2);
        else
            sc_printf(b, "\\u%04x", c);
    }
    sc_put(b, s + run, n - run);
    sc_put(b, "\"", 1);
}

static void sc_str(sc_buf *b, const char *s)
{
    sc_str_n(b, s, strlen(s));
}

static void sc_num(sc_buf *b, double v)
{
    sc_printf(b, "%.17g", isfinite(v) ? v : 0.0);
}

/* ------------------------------------------------------------------------ */
/* Replies                                                                  */

/* A service status (never LX_OK) as an error reply. */
static void sc_fail(lx_req *req, int status, const char *message)
{
    const lx_host *h = sc_host;

    if (status == LX_ENOENT)
        h->reply_error(req, 404, "NOT_FOUND", message);
    else if (status == LX_EINVAL)
        h->reply_error(req, 400, "INVALID", message);
    else
        h->reply_error(req, 503, "UNAVAILABLE", message);
}

/* Sends b (which it frees) with `status`, or 500 when it could not be built. */
static void sc_send(lx_req *req, int status, sc_buf *b)
{
    if (b->failed || b->p == NULL)
        sc_host->reply_error(req, 500, "INTERNAL", "out of memory");
    else
        sc_host->reply_json(req, status, b->p);
    free(b->p);
}

/* What a handler returns after calling the service: LX_ASYNC when the call
 * was queued (its callback replies), else the error reply now. */
static lx_rc sc_started(lx_req *req, int rc)
{
    if (rc == LX_OK)
        return LX_ASYNC;
    sc_fail(req, rc, "the storage service refused the call");
    return LX_DONE;
}

/* ------------------------------------------------------------------------ */
/* Request helpers                                                          */

static const char *sc_uid(lx_req *req)
{
    const lx_principal *p = sc_host->ctx_get(req, LX_AUTH_PRINCIPAL);

    return p != NULL ? p->uid : NULL;
}

/* Query parameter `name` as an integer: def when absent; 0 when it is not
 * an integer (the handler answers 400). */
static int sc_query_int(lx_req *req, const char *name, int64_t def, int64_t *out)
{
    const char *v = sc_host->req_query(req, name);
    char *end = NULL;
    long long n;

    if (v == NULL) {
        *out = def;
        return 1;
    }
    if (v[0] == '\0')
        return 0;
    n = strtoll(v, &end, 10);
    if (*end != '\0')
        return 0;
    *out = n;
    return 1;
}

static int sc_query_double(lx_req *req, const char *name, double *out)
{
    const char *v = sc_host->req_query(req, name);
    char *end = NULL;

    if (v == NULL) {
        *out = 0;
        return 1;
    }
    if (v[0] == '\0')
        return 0;
    *out = strtod(v, &end);
    return *end == '\0';
}

static lx_rc sc_bad_param(lx_req *req, const char *name)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "query parameter %s must be a number", name);
    sc_host->reply_error(req, 400, "BAD_PARAM", msg);
    return LX_DONE;
}

/* The request's JSON body ("" when there is none: the service says 400). */
static const char *sc_body(lx_req *req)
{
    const char *b = sc_host->req_body(req, NULL);

    return b != NULL ? b : "";
}

/* Every handler starts here: the uid, or a 401 reply and NULL. */
#define SC_UID(req, uid)                                                                           \
    const char *uid = sc_uid(req);                                                                 \
    if (uid == NULL) {                                                                             \
        sc_host->reply_error(req, 401, "UNAUTHORIZED", "no signed-in user");                       \
        return LX_DONE;                                                                            \
    }

/* ------------------------------------------------------------------------ */
/* Records                                                                  */

static void sc_record_json(sc_buf *b, const lx_storage_record *r)
{
    sc_puts(b, "{\"key\":");
    sc_str(b, r->key);
    sc_puts(b, ",\"value\":");
    sc_puts(b, r->json[0] != '\0' ? r->json : "null");
    sc_printf(b, ",\"seq\":%" PRId64 ",\"created_at\":", r->seq);
    sc_str(b, r->created_at);
    sc_puts(b, ",\"updated_at\":");
    sc_str(b, r->updated_at);
    sc_puts(b, "}");
}

static void sc_on_record(void *arg, int status, const char *message, const lx_storage_record *rec)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK || rec == NULL) {
        sc_fail(req, status != LX_OK ? status : LX_EIO, message);
        return;
    }
    sc_record_json(&b, rec);
    sc_send(req, 200, &b);
}

static void sc_on_records(void *arg, int status, const char *message,
                          const lx_storage_record *items, size_t n)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK) {
        sc_fail(req, status, message);
        return;
    }
    sc_puts(&b, "{\"items\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sc_puts(&b, ",");
        sc_record_json(&b, &items[i]);
    }
    sc_printf(&b, "],\"n\":%zu}", n);
    sc_send(req, 200, &b);
}

/* "items":[...] */
static void sc_items_json(sc_buf *b, const lx_storage_record *items, size_t n)
{
    sc_puts(b, "\"items\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sc_puts(b, ",");
        sc_record_json(b, &items[i]);
    }
    sc_puts(b, "]");
}

static void sc_on_record_items(void *arg, int status, const char *message,
                               const lx_storage_record *rec, const lx_storage_record *items,
                               size_t n)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK || rec == NULL) {
        sc_fail(req, status != LX_OK ? status : LX_EIO, message);
        return;
    }
    sc_puts(&b, "{\"record\":");
    sc_record_json(&b, rec);
    sc_puts(&b, ",");
    sc_items_json(&b, items, n);
    sc_printf(&b, ",\"n\":%zu}", n);
    sc_send(req, 200, &b);
}

static void sc_on_seq(void *arg, int status, const char *message, int64_t seq)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK) {
        sc_fail(req, status, message);
        return;
    }
    sc_printf(&b, "{\"seq\":%" PRId64 "}", seq);
    sc_send(req, 200, &b);
}

static void sc_on_done(void *arg, int status, const char *message)
{
    lx_req *req = arg;

    if (status != LX_OK) {
        sc_fail(req, status, message);
        return;
    }
    sc_host->reply_json(req, 200, "{\"ok\":true}");
}

static lx_rc sc_rec_create(lx_req *req, void *state)
{
    sc_state *st = state;
    SC_UID(req, uid);
    return sc_started(req, st->sv->record_put(st->sv_state, st->host->req_worker(req), uid,
                                              st->host->req_param(req, "kind"), NULL, sc_body(req),
                                              sc_on_record, req));
}

static lx_rc sc_rec_put(lx_req *req, void *state)
{
    sc_state *st = state;
    SC_UID(req, uid);
    return sc_started(req, st->sv->record_put(st->sv_state, st->host->req_worker(req), uid,
                                              st->host->req_param(req, "kind"),
                                              st->host->req_param(req, "key"), sc_body(req),
                                              sc_on_record, req));
}

static lx_rc sc_rec_get(lx_req *req, void *state)
{
    sc_state *st = state;
    SC_UID(req, uid);
    return sc_started(req, st->sv->record_get(st->sv_state, st->host->req_worker(req), uid,
                                              st->host->req_param(req, "kind"),
                                              st->host->req_param(req, "key"), sc_on_record, req));
}

static lx_rc sc_rec_delete(lx_req *req, void *state)
{
    sc_state *st = state;
    SC_UID(req, uid);
    return sc_started(req, st->sv->record_delete(st->sv_state, st->host->req_worker(req), uid,
                                                 st->host->req_param(req, "kind"),
                                                 st->host->req_param(req, "key"), sc_on_done, req));
}

static lx_rc sc_rec_append(lx_req *req, void *state)
{
    sc_state *st = state;
    SC_UID(req, uid);
    return sc_started(req, st->sv->record_append(st->sv_state, st->host->req_worker(req), uid,
                                                 st->host->req_param(req, "kind"),
                                                 st->host->req_param(req, "key"), sc_body(req),
                                                 sc_on_seq, req));
}

static lx_rc sc_rec_items(lx_req *req, void *state)
{
    sc_state *st = state;
    int64_t after, last;
    SC_UID(req, uid);

    if (!sc_query_int(req, "after", 0, &after))
        return sc_bad_param(req, "after");
    if (!sc_query_int(req, "last", 0, &last) || last < INT32_MIN || last > INT32_MAX)
        return sc_bad_param(req, "last");
    return sc_started(req, st->sv->record_items(st->sv_state, st->host->req_worker(req), uid,
                                                st->host->req_param(req, "kind"),
                                                st->host->req_param(req, "key"), after, (int)last,
                                                sc_on_records, req));
}

static lx_rc sc_rec_with_items(lx_req *req, void *state)
{
    sc_state *st = state;
    int64_t last;
    SC_UID(req, uid);

    if (!sc_query_int(req, "last", 0, &last) || last < INT32_MIN || last > INT32_MAX)
        return sc_bad_param(req, "last");
    return sc_started(req, st->sv->record_get_items(st->sv_state, st->host->req_worker(req), uid,
                                                    st->host->req_param(req, "kind"),
                                                    st->host->req_param(req, "key"), (int)last,
                                                    sc_on_record_items, req));
}

static lx_rc sc_rec_list(lx_req *req, void *state)
{
    sc_state *st = state;
    int64_t limit;
    SC_UID(req, uid);

    if (!sc_query_int(req, "limit", 100, &limit) || limit < INT32_MIN || limit > INT32_MAX)
        return sc_bad_param(req, "limit");
    return sc_started(req, st->sv->record_list(st->sv_state, st->host->req_worker(req), uid,
                                               st->host->req_param(req, "kind"), (int)limit,
                                               sc_on_records, req));
}

/* ------------------------------------------------------------------------ */
/* Documents                                                                */

static void sc_doc_json(sc_buf *b, const lx_storage_doc *d)
{
    sc_puts(b, "{\"id\":");
    sc_str(b, d->id);
    sc_puts(b, ",\"name\":");
    sc_str(b, d->name);
    sc_puts(b, ",\"original_filename\":");
    sc_str(b, d->original_filename);
    sc_puts(b, ",\"file_type\":");
    sc_str(b, d->file_type);
    sc_puts(b, ",\"status\":");
    sc_str(b, d->status);
    sc_puts(b, ",\"error\":");
    sc_str(b, d->error);
    sc_puts(b, ",\"created_at\":");
    sc_str(b, d->created_at);
    sc_puts(b, ",\"updated_at\":");
    sc_str(b, d->updated_at);
    sc_printf(b, ",\"size\":%" PRId64 ",\"content_length\":%" PRId64 ",\"page_count\":%" PRId64,
              d->size, d->content_length, d->page_count);
    sc_puts(b, ",\"text\":");
    sc_str_n(b, d->text, d->text_len);
    sc_printf(b, ",\"text_len\":%zu}", d->text_len);
}

/* "passages":[...],"n":N */
static void sc_passages_json(sc_buf *b, const lx_storage_passage *items, size_t n)
{
    sc_puts(b, "\"passages\":[");
    for (size_t i = 0; i < n; i++) {
        sc_printf(b, "%s{\"seq\":%" PRId64 ",\"score\":", i > 0 ? "," : "", items[i].seq);
        sc_num(b, items[i].score);
        sc_puts(b, ",\"text\":");
        sc_str(b, items[i].text);
        sc_puts(b, "}");
    }
    sc_printf(b, "],\"n\":%zu", n);
}

static void sc_on_doc(void *arg, int status, const char *message, const lx_storage_doc *d)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK || d == NULL) {
        sc_fail(req, status != LX_OK ? status : LX_EIO, message);
        return;
    }
    sc_doc_json(&b, d);
    sc_send(req, 200, &b);
}

static void sc_on_passages(void *arg, int status, const char *message,
                           const lx_storage_passage *items, size_t n)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK) {
        sc_fail(req, status, message);
        return;
    }
    sc_puts(&b, "{");
    sc_passages_json(&b, items, n);
    sc_puts(&b, "}");
    sc_send(req, 200, &b);
}

static void sc_on_doc_passages(void *arg, int status, const char *message,
                               const lx_storage_doc *d, const lx_storage_passage *items, size_t n)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK || d == NULL) {
        sc_fail(req, status != LX_OK ? status : LX_EIO, message);
        return;
    }
    sc_puts(&b, "{\"doc\":");
    sc_doc_json(&b, d);
    sc_puts(&b, ",");
    sc_passages_json(&b, items, n);
    sc_puts(&b, "}");
    sc_send(req, 200, &b);
}

static lx_rc sc_doc_find(lx_req *req, void *state)
{
    sc_state *st = state;
    int64_t limit;
    SC_UID(req, uid);

    if (!sc_query_int(req, "limit", 5, &limit) || limit < INT32_MIN || limit > INT32_MAX)
        return sc_bad_param(req, "limit");
    return sc_started(req, st->sv->doc_get_search(st->sv_state, st->host->req_worker(req), uid,
                                                  st->host->req_param(req, "id"),
                                                  st->host->req_query(req, "q"), (int)limit,
                                                  sc_on_doc_passages, req));
}

static lx_rc sc_doc_get(lx_req *req, void *state)
{
    sc_state *st = state;
    const char *t = st->host->req_query(req, "text");
    SC_UID(req, uid);

    return sc_started(req, st->sv->doc_get(st->sv_state, st->host->req_worker(req), uid,
                                           st->host->req_param(req, "id"),
                                           t != NULL && strcmp(t, "1") == 0, sc_on_doc, req));
}

static lx_rc sc_doc_search(lx_req *req, void *state)
{
    sc_state *st = state;
    int64_t limit;
    SC_UID(req, uid);

    if (!sc_query_int(req, "limit", 5, &limit) || limit < INT32_MIN || limit > INT32_MAX)
        return sc_bad_param(req, "limit");
    /* q absent is handed on as NULL: the service's own check answers it. */
    return sc_started(req, st->sv->doc_search(st->sv_state, st->host->req_worker(req), uid,
                                              st->host->req_param(req, "id"),
                                              st->host->req_query(req, "q"), (int)limit,
                                              sc_on_passages, req));
}

static lx_rc sc_doc_passages(lx_req *req, void *state)
{
    sc_state *st = state;
    int64_t from, count;
    SC_UID(req, uid);

    if (!sc_query_int(req, "from", 0, &from))
        return sc_bad_param(req, "from");
    if (!sc_query_int(req, "count", 10, &count) || count < INT32_MIN || count > INT32_MAX)
        return sc_bad_param(req, "count");
    return sc_started(req, st->sv->doc_passages(st->sv_state, st->host->req_worker(req), uid,
                                                st->host->req_param(req, "id"), from, (int)count,
                                                sc_on_passages, req));
}

/* ------------------------------------------------------------------------ */
/* Profile and activity                                                     */

static void sc_on_json(void *arg, int status, const char *message, const char *json)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK) {
        sc_fail(req, status, message);
        return;
    }
    sc_puts(&b, "{\"profile\":");
    sc_puts(&b, json[0] != '\0' ? json : "null");
    sc_puts(&b, "}");
    sc_send(req, 200, &b);
}

static lx_rc sc_profile(lx_req *req, void *state)
{
    sc_state *st = state;
    SC_UID(req, uid);

    return sc_started(
        req, st->sv->profile_get(st->sv_state, st->host->req_worker(req), uid, sc_on_json, req));
}

static lx_rc sc_activity(lx_req *req, void *state)
{
    sc_state *st = state;
    const char *kind = st->host->req_query(req, "kind");
    int64_t points;
    double score, max_score;
    SC_UID(req, uid);

    if (!sc_query_int(req, "points", 0, &points))
        return sc_bad_param(req, "points");
    if (!sc_query_double(req, "score", &score))
        return sc_bad_param(req, "score");
    if (!sc_query_double(req, "max_score", &max_score))
        return sc_bad_param(req, "max_score");
    return sc_started(req, st->sv->activity_add(st->sv_state, st->host->req_worker(req), uid,
                                                kind != NULL ? kind : "", points, score, max_score,
                                                sc_on_done, req));
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */

#define SC_BATCH_LINES 32 /* more than the service takes, to test its limit */

static void sc_on_batch(void *arg, int status, const char *message, const int64_t *seqs, size_t n)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK) {
        sc_fail(req, status, message);
        return;
    }
    sc_puts(&b, "{\"seqs\":[");
    for (size_t i = 0; i < n; i++)
        sc_printf(&b, "%s%" PRId64, i > 0 ? "," : "", seqs[i]);
    sc_printf(&b, "],\"n\":%zu}", n);
    sc_send(req, 200, &b);
}

static void sc_on_batch_items(void *arg, int status, const char *message, const int64_t *seqs,
                              size_t n, const lx_storage_record *items, size_t n_items)
{
    lx_req *req = arg;
    sc_buf b = {0};

    if (status != LX_OK) {
        sc_fail(req, status, message);
        return;
    }
    sc_puts(&b, "{\"seqs\":[");
    for (size_t i = 0; i < n; i++)
        sc_printf(&b, "%s%" PRId64, i > 0 ? "," : "", seqs[i]);
    sc_printf(&b, "],\"n\":%zu,", n);
    sc_items_json(&b, items, n_items);
    sc_printf(&b, ",\"n_items\":%zu}", n_items);
    sc_send(req, 200, &b);
}

/* Splits line (modified) at tabs into at most max fields; an empty field
 * is NULL. Returns the count. */
static size_t sc_fields(char *line, char **f, size_t max)
{
    size_t n = 0;

    while (n < max) {
        char *tab = strchr(line, '\t');
        if (tab != NULL)
            *tab = '\0';
        f[n++] = line[0] != '\0' ? line : NULL;
        if (tab == NULL)
            break;
        line = tab + 1;
    }
    return n;
}

/* One line of the body into *op (zeroed); 0 when a number does not parse. */
static int sc_batch_line(char *line, lx_storage_op *op)
{
    char *f[5] = {NULL};
    char *end;

    sc_fields(line, f, 5);
    if (f[0] != NULL && strcmp(f[0], "put") == 0)
        op->type = LX_STORAGE_OP_PUT;
    else if (f[0] != NULL && strcmp(f[0], "append") == 0)
        op->type = LX_STORAGE_OP_APPEND;
    else if (f[0] != NULL && strcmp(f[0], "activity") == 0)
        op->type = LX_STORAGE_OP_ACTIVITY;
    else
        op->type = 99;
    if (op->type != LX_STORAGE_OP_ACTIVITY) {
        op->kind = f[1];
        op->key = f[2];
        op->json = f[3];
        return 1;
    }
    op->activity = f[1];
    if (f[2] != NULL) {
        op->points = strtoll(f[2], &end, 10);
        if (*end != '\0')
            return 0;
    }
    if (f[3] != NULL) {
        op->score = strtod(f[3], &end);
        if (*end != '\0')
            return 0;
    }
    if (f[4] != NULL) {
        op->max_score = strtod(f[4], &end);
        if (*end != '\0')
            return 0;
    }
    return 1;
}

/* POST /svc/batch and /svc/batch/{kind}/{key} (batch_items). */
static lx_rc sc_batch(lx_req *req, void *state)
{
    sc_state *st = state;
    lx_storage_op ops[SC_BATCH_LINES];
    size_t n = 0;
    char *body, *line, *next;
    size_t len;
    int64_t last = 0;
    int rc;
    SC_UID(req, uid);

    if (!LX_STORAGE_V1_HAS(st->sv, batch)) {
        st->host->reply_error(req, 501, "NO_BATCH", "storage.v1 has no batch");
        return LX_DONE;
    }
    if (!sc_query_int(req, "last", 0, &last) || last < INT32_MIN || last > INT32_MAX)
        return sc_bad_param(req, "last");
    len = strlen(sc_body(req));
    body = malloc(len + 1);
    if (body != NULL)
        memcpy(body, sc_body(req), len + 1);
    if (body == NULL) {
        st->host->reply_error(req, 500, "INTERNAL", "out of memory");
        return LX_DONE;
    }
    memset(ops, 0, sizeof(ops));
    for (line = body; line != NULL && line[0] != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (n == SC_BATCH_LINES || !sc_batch_line(line, &ops[n])) {
            free(body);
            st->host->reply_error(req, 400, "BAD_PARAM", "a line of the batch is malformed");
            return LX_DONE;
        }
        n++;
    }
    /* The service copies the strings before it returns. */
    if (st->host->req_param(req, "key") != NULL)
        rc = st->sv->batch_items(st->sv_state, st->host->req_worker(req), uid, ops, n,
                                 st->host->req_param(req, "kind"), st->host->req_param(req, "key"),
                                 (int)last, sc_on_batch_items, req);
    else
        rc = st->sv->batch(st->sv_state, st->host->req_worker(req), uid, ops, n, sc_on_batch,
                           req);
    free(body);
    return sc_started(req, rc);
}

/* ------------------------------------------------------------------------ */
/* The plugin                                                               */

static int sc_init(const lx_host *host, const lx_cfg *cfg, void **state, char *err, size_t errlen)
{
    void *svst = NULL;
    const lx_storage_v1 *sv;

    (void)cfg;
    sv = host->svc_lookup(LX_STORAGE_V1, &svst);
    if (sv == NULL) {
        snprintf(err, errlen, "storage_client: %s is not registered", LX_STORAGE_V1);
        return LX_ENOENT;
    }
    if (sv->struct_size < offsetof(lx_storage_v1, record_delete) + sizeof(sv->record_delete)) {
        snprintf(err, errlen, "storage_client: %s is older than this plugin", LX_STORAGE_V1);
        return LX_EINVAL;
    }
    sc_state *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        snprintf(err, errlen, "storage_client: out of memory");
        return LX_ENOMEM;
    }
    sc_host = host;
    st->host = host;
    st->sv = sv;
    st->sv_state = svst;
    *state = st;
    return LX_OK;
}

static void sc_shutdown(void *state)
{
    free(state);
}

static const lx_handler sc_handlers[] = {
    {.name = "rec_create", .fn = sc_rec_create, .flags = LX_H_ENDPOINT},
    {.name = "rec_put", .fn = sc_rec_put, .flags = LX_H_ENDPOINT},
    {.name = "rec_get", .fn = sc_rec_get, .flags = LX_H_ENDPOINT},
    {.name = "rec_delete", .fn = sc_rec_delete, .flags = LX_H_ENDPOINT},
    {.name = "rec_append", .fn = sc_rec_append, .flags = LX_H_ENDPOINT},
    {.name = "rec_items", .fn = sc_rec_items, .flags = LX_H_ENDPOINT},
    {.name = "rec_list", .fn = sc_rec_list, .flags = LX_H_ENDPOINT},
    {.name = "doc_get", .fn = sc_doc_get, .flags = LX_H_ENDPOINT},
    {.name = "doc_search", .fn = sc_doc_search, .flags = LX_H_ENDPOINT},
    {.name = "doc_passages", .fn = sc_doc_passages, .flags = LX_H_ENDPOINT},
    {.name = "profile", .fn = sc_profile, .flags = LX_H_ENDPOINT},
    {.name = "activity", .fn = sc_activity, .flags = LX_H_ENDPOINT},
    {.name = "batch", .fn = sc_batch, .flags = LX_H_ENDPOINT},
    {.name = "rec_with_items", .fn = sc_rec_with_items, .flags = LX_H_ENDPOINT},
    {.name = "doc_find", .fn = sc_doc_find, .flags = LX_H_ENDPOINT},
    {.name = NULL},
};
static const char *const sc_requires[] = {LX_STORAGE_V1, NULL};

static const lx_plugin sc_plugin = {
    LX_PLUGIN_HEADER,        .name = "storage_client",
    .version = "1.0.0",      .description = "drives storage.v1 over HTTP for the tests",
    .handlers = sc_handlers, .requires = sc_requires,
    .init = sc_init,         .shutdown = sc_shutdown,
};

LX_EXPORT const lx_plugin *lx_plugin_entry(void)
{
    return &sc_plugin;
}
