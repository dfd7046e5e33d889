/*
 * The fields of a chat request (chat_input.h): a JSON object or a
 * multipart/form-data form, and the Accept header.
 *
 * JSON is strict: one object and nothing after it but white space; every
 * known field absent, null or a string (valid UTF-8 without NUL bytes, so
 * that a C string holds all of it). The form is read with the SDK's
 * parser (<lexiaid/multipart.h>); its text fields must be UTF-8 without
 * NUL bytes too. Unknown fields and parts are ignored in both.
 *
 * The field names differ by format (../shared/docs/lexiaid-api.md): JSON
 * says documentId (document_id is accepted when documentId is absent), a
 * form says document_id.
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include <lexiaid/multipart.h>
#include <lexiaid/utf8.h>

#include "chat_input.h"

#define IN_BLANK " \t\r\n"

/* The raw fields, before the query is chosen. All owned, NULL when absent. */
typedef struct in_fields {
    char *query, *transcript, *thread_id, *doc, *doc_alt, *mode, *stt_mode;
    const char *audio; /* a non-empty audio_file part: borrowed from the body */
    size_t audio_len;
} in_fields;

static void in_fields_free(in_fields *f)
{
    free(f->query);
    free(f->transcript);
    free(f->thread_id);
    free(f->doc);
    free(f->doc_alt);
    free(f->mode);
    free(f->stt_mode);
    memset(f, 0, sizeof(*f));
}

static int in_is_blank(const char *s)
{
    return s == NULL || s[strspn(s, IN_BLANK)] == '\0';
}

/* Whether the ASCII text s[0..n) is `word` (lower case), case folded. */
static int in_ieq(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* s[*start..*end) without the spaces and tabs around it. */
static void in_trim(const char *s, size_t *start, size_t *end)
{
    while (*start < *end && (s[*start] == ' ' || s[*start] == '\t'))
        (*start)++;
    while (*end > *start && (s[*end - 1] == ' ' || s[*end - 1] == '\t'))
        (*end)--;
}

/* Whether a q parameter's value says "not acceptable" (0, 0.0, 0.000). */
static int in_q_is_zero(const char *v, size_t n)
{
    size_t i = 0;

    if (n == 0 || v[0] != '0')
        return 0;
    for (i = 1; i < n; i++)
        if (v[i] != '0' && !(i == 1 && v[i] == '.'))
            return 0;
    return 1;
}

/* Whether the Accept list names text/event-stream (without q=0). Media
 * ranges like text/... or *\/\* do not count: a stream is opt-in. */
static int in_wants_stream(const char *accept)
{
    const char *p = accept;

    if (p == NULL)
        return 0;
    while (*p != '\0') {
        size_t n = strcspn(p, ","), ts = 0, te = strcspn(p, ";");
        int is_sse;

        if (te > n)
            te = n;
        in_trim(p, &ts, &te);
        is_sse = in_ieq(p + ts, te - ts, "text/event-stream");
        /* Parameters: a q=0 takes the type back. */
        while (is_sse && te < n) {
            size_t ps = te + 1, pe = ps + strcspn(p + ps, ";"), eq;

            if (pe > n)
                pe = n;
            eq = ps;
            while (eq < pe && p[eq] != '=')
                eq++;
            if (eq < pe) {
                size_t ns = ps, ne = eq, vs = eq + 1, ve = pe;

                in_trim(p, &ns, &ne);
                in_trim(p, &vs, &ve);
                if (in_ieq(p + ns, ne - ns, "q") && in_q_is_zero(p + vs, ve - vs))
                    is_sse = 0;
            }
            te = pe;
        }
        if (is_sse)
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Replies 400 INVALID_REQUEST naming the field; LX_EINVAL. */
static int in_bad_field(const lx_host *h, lx_req *req, const char *field, const char *what)
{
    char msg[128];

    snprintf(msg, sizeof(msg), "%s %s", field, what);
    h->reply_error(req, 400, "INVALID_REQUEST", msg);
    return LX_EINVAL;
}

static int in_oom(const lx_host *h, lx_req *req)
{
    h->reply_error(req, 500, "INTERNAL", "Out of memory");
    return LX_ENOMEM;
}

/* ---- application/json --------------------------------------------------- */

/* The string field `key` of o into *out (a copy; NULL when absent or
 * null). LX_OK, LX_EINVAL (reply made: not a string, or not UTF-8
 * without NUL bytes) or LX_ENOMEM (reply made). */
static int in_json_str(const lx_host *h, lx_req *req, json_object *o, const char *key, char **out)
{
    json_object *v;
    const char *s;
    int n;

    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return LX_OK;
    if (!json_object_is_type(v, json_type_string))
        return in_bad_field(h, req, key, "must be a string");
    s = json_object_get_string(v);
    n = json_object_get_string_len(v);
    if (s == NULL || n < 0 || !lx_utf8_valid(s, (size_t)n))
        return in_bad_field(h, req, key, "must be UTF-8 text without NUL bytes");
    *out = strndup(s, (size_t)n);
    if (*out == NULL)
        return in_oom(h, req);
    return LX_OK;
}

/* One JSON object from body[0..len) with only white space after it, or
 * NULL. */
static json_object *in_json_object(const char *body, size_t len)
{
    json_tokener *tok;
    json_object *o = NULL;
    size_t end;

    if (body == NULL || len == 0 || len > INT_MAX)
        return NULL;
    tok = json_tokener_new();
    if (tok == NULL)
        return NULL;
    o = json_tokener_parse_ex(tok, body, (int)len);
    if (o != NULL) {
        end = json_tokener_get_parse_end(tok);
        while (end < len && body[end] != '\0' && strchr(IN_BLANK, body[end]) != NULL)
            end++;
        if (end < len || !json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            o = NULL;
        }
    }
    json_tokener_free(tok);
    return o;
}

static int in_from_json(const lx_host *h, lx_req *req, in_fields *f)
{
    const struct {
        const char *key;
        char **slot;
    } keys[] = {
        {"query", &f->query},
        {"transcript", &f->transcript},
        {"thread_id", &f->thread_id},
        {"documentId", &f->doc},
        {"document_id", &f->doc_alt},
        {"mode", &f->mode},
        {"stt_processing_mode", &f->stt_mode},
    };
    size_t len = 0;
    const char *body = h->req_body(req, &len);
    json_object *o = in_json_object(body, len);
    int rc = LX_OK;

    if (o == NULL) {
        /* json-c's only other failure is out of memory, rare enough to
         * report as what it almost always is. */
        h->reply_error(req, 400, "INVALID_JSON", "The body must be a JSON object");
        return LX_EINVAL;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && rc == LX_OK; i++)
        rc = in_json_str(h, req, o, keys[i].key, keys[i].slot);
    json_object_put(o);
    return rc;
}

/* ---- multipart/form-data ------------------------------------------------ */

/* The text part `name` into *out (a NUL-terminated copy; NULL when
 * absent). */
static int in_form_text(const lx_host *h, lx_req *req, const lx_mp *mp, const char *name,
                        char **out)
{
    const lx_mp_part *p = lx_mp_get(mp, name);

    *out = NULL;
    if (p == NULL)
        return LX_OK;
    if (!lx_utf8_valid(p->data, p->len))
        return in_bad_field(h, req, name, "must be UTF-8 text without NUL bytes");
    *out = strndup(p->len > 0 ? p->data : "", p->len);
    if (*out == NULL)
        return in_oom(h, req);
    return LX_OK;
}

static int in_from_form(const lx_host *h, lx_req *req, const char *ctype, in_fields *f)
{
    const struct {
        const char *name;
        char **slot;
    } names[] = {
        {"query", &f->query},         {"transcript", &f->transcript},
        {"thread_id", &f->thread_id}, {"document_id", &f->doc},
        {"mode", &f->mode},           {"stt_processing_mode", &f->stt_mode},
    };
    char err[256], *boundary = NULL;
    const lx_mp_part *audio;
    size_t len = 0;
    const char *body;
    lx_mp mp = {NULL, 0};
    int rc;

    err[0] = '\0';
    rc = lx_mp_boundary(ctype, &boundary, err, sizeof(err));
    if (rc == LX_OK) {
        body = h->req_body(req, &len);
        rc = lx_mp_parse(body, len, boundary, &mp, err, sizeof(err));
        free(boundary);
    }
    if (rc == LX_ENOMEM)
        return in_oom(h, req);
    if (rc != LX_OK) {
        h->reply_error(req, 400, "INVALID_FORM", err[0] != '\0' ? err : "Malformed form");
        return LX_EINVAL;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && rc == LX_OK; i++)
        rc = in_form_text(h, req, &mp, names[i].name, names[i].slot);
    audio = lx_mp_get(&mp, "audio_file");
    if (audio != NULL && audio->len > 0) { /* points into the request's body */
        f->audio = audio->data;
        f->audio_len = audio->len;
    }
    lx_mp_free(&mp);
    return rc;
}

/* ---- the request -------------------------------------------------------- */

int tutor_chat_input(tutor_state *st, lx_req *req, chat_input *in)
{
    const lx_host *h = st->host;
    const char *ctype = h->req_header(req, "Content-Type");
    size_t ts = 0, te;
    in_fields f;
    char **query;
    int rc;

    memset(in, 0, sizeof(*in));
    memset(&f, 0, sizeof(f));
    te = ctype != NULL ? strcspn(ctype, ";") : 0;
    if (ctype != NULL)
        in_trim(ctype, &ts, &te);
    if (ctype != NULL && in_ieq(ctype + ts, te - ts, "application/json")) {
        rc = in_from_json(h, req, &f);
    } else if (ctype != NULL && in_ieq(ctype + ts, te - ts, "multipart/form-data")) {
        rc = in_from_form(h, req, ctype, &f);
    } else {
        h->reply_error(req, 415, "UNSUPPORTED_MEDIA_TYPE",
                       "Send the chat as JSON (application/json) or as a form "
                       "(multipart/form-data)");
        return LX_EINVAL;
    }
    if (rc != LX_OK)
        goto fail;

    /* The query; else the transcript (dictated text sent directly). */
    query = !in_is_blank(f.query) ? &f.query : !in_is_blank(f.transcript) ? &f.transcript : NULL;
    if (query == NULL && f.audio != NULL) {
        /* A voice message: the caller transcribes it. */
        if (f.stt_mode != NULL && strcmp(f.stt_mode, "review") != 0 &&
            strcmp(f.stt_mode, "direct_send") != 0) {
            h->reply_error(req, 400, "INVALID_REQUEST",
                           "stt_processing_mode must be review or direct_send");
            rc = LX_EINVAL;
            goto fail;
        }
        in->audio = f.audio;
        in->audio_len = f.audio_len;
        in->review = f.stt_mode != NULL && strcmp(f.stt_mode, "review") == 0;
    } else if (query == NULL) {
        h->reply_error(req, 400, "QUERY_REQUIRED", "Write a question or message first");
        rc = LX_EINVAL;
        goto fail;
    }
    if (query != NULL && strlen(*query) > TUTOR_MAX_QUERY) {
        h->reply_error(req, 400, "QUERY_TOO_LONG", "The message is too long");
        rc = LX_EINVAL;
        goto fail;
    }
    if (query != NULL) {
        in->query = *query;
        *query = NULL;
    }
    in->thread_id = f.thread_id;
    f.thread_id = NULL;
    /* documentId wins over document_id when both are sent. */
    if (f.doc == NULL) {
        f.doc = f.doc_alt;
        f.doc_alt = NULL;
    }
    if (f.doc != NULL && f.doc[0] != '\0') {
        in->doc = f.doc;
        f.doc = NULL;
    }
    in->mode = f.mode;
    f.mode = NULL;
    in->want_stream = in_wants_stream(h->req_header(req, "Accept"));
    in_fields_free(&f);
    return LX_OK;

fail:
    in_fields_free(&f);
    return rc;
}

void tutor_chat_input_free(chat_input *in)
{
    if (in == NULL)
        return;
    free(in->query);
    free(in->thread_id);
    free(in->doc);
    free(in->mode);
    memset(in, 0, sizeof(*in));
}
