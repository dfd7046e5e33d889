/*
 * The language-model providers' wire formats (llm.h, first half): the
 * request of one call (URL, headers, JSON body) for Gemini and
 * OpenAI-compatible servers, the text out of a whole answer, a short
 * reason out of an error body, and the incremental parser of streamed
 * (server-sent events) answers. Pure: no host calls, no I/O, no globals;
 * every piece of JSON is built and read with json-c. Fuzzed by
 * tests/fuzz/fuzz_llm.c.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <lexiaid/plugin.h>

#include "buf.h"
#include "llm.h"

/* The longest SSE line, and the most data one event may gather. */
#define TUTOR_SSE_MAX_LINE ((size_t)1 << 20)
#define TUTOR_SSE_MAX_EVENT ((size_t)4 << 20)
/* The most bytes of an upstream body quoted in a message. */
#define TUTOR_LLM_QUOTE 200

/* ---- small helpers ---------------------------------------------------- */

static void wire_errf(char *err, size_t errlen, const char *fmt, ...) LX_PRINTF(3, 4);

static void wire_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Copies at most TUTOR_LLM_QUOTE bytes of s into a malloc'd string, cut at
 * a UTF-8 character boundary, with control characters made spaces (it is
 * meant for one log line). */
static char *wire_quote(const char *s, size_t len)
{
    char *out;
    size_t n = len;

    if (n > TUTOR_LLM_QUOTE) {
        n = TUTOR_LLM_QUOTE;
        /* Do not cut inside a multi-byte character. */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
    }
    out[n] = '\0';
    return out;
}

/* Parses exactly len bytes of JSON (surrounding white space allowed);
 * NULL when they are not one JSON value or out of memory. */
static json_object *wire_parse_json(const char *s, size_t len)
{
    json_tokener *tok;
    json_object *obj;
    size_t used;

    if (len == 0 || len > (size_t)0x7fffffff)
        return NULL;
    tok = json_tokener_new();
    if (tok == NULL)
        return NULL;
    obj = json_tokener_parse_ex(tok, s, (int)len);
    used = obj != NULL ? json_tokener_get_parse_end(tok) : 0;
    json_tokener_free(tok);
    if (obj == NULL)
        return NULL;
    for (size_t i = used; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            json_object_put(obj);
            return NULL;
        }
    }
    return obj;
}

/* obj[key] when obj is an object, else NULL (borrowed). */
static json_object *wire_get(json_object *obj, const char *key)
{
    json_object *v = NULL;

    if (obj == NULL || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

/* obj[key] when it is a string, else NULL (borrowed). */
static const char *wire_get_str(json_object *obj, const char *key, size_t *len)
{
    json_object *v = wire_get(obj, key);

    if (v == NULL || !json_object_is_type(v, json_type_string))
        return NULL;
    if (len != NULL)
        *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

/* The message of an upstream "error": error.message when error is an
 * object, error itself when a string; NULL when obj has no error. Sets
 * *has_error when an "error" member is there (even without a message). */
static const char *wire_error_message(json_object *obj, size_t *len, int *has_error)
{
    json_object *e = wire_get(obj, "error");
    const char *msg;

    *has_error = 0;
    if (e == NULL || json_object_is_type(e, json_type_null))
        return NULL;
    *has_error = 1;
    if (json_object_is_type(e, json_type_string)) {
        *len = (size_t)json_object_get_string_len(e);
        return json_object_get_string(e);
    }
    msg = wire_get_str(e, "message", len);
    return msg;
}

/* Fills err with "provider error: MESSAGE" (quoted, capped). */
static void wire_error_to_err(const char *msg, size_t len, char *err, size_t errlen)
{
    char *q = msg != NULL && len > 0 ? wire_quote(msg, len) : NULL;

    if (q != NULL && q[0] != '\0')
        wire_errf(err, errlen, "provider error: %s", q);
    else
        wire_errf(err, errlen, "provider error");
    free(q);
}

/* Whether a Gemini finishReason means the answer was withheld. */
static int wire_is_blocked_reason(const char *r)
{
    static const char *const blocked[] = {"SAFETY",     "PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
                                          "RECITATION", "IMAGE_SAFETY",       NULL};

    for (size_t i = 0; blocked[i] != NULL; i++)
        if (strcmp(r, blocked[i]) == 0)
            return 1;
    return 0;
}

/* ---- configuration ------------------------------------------------------ */

/* Frees the strings of cfg (not cfg itself) and leaves them NULL (llm.h). */
void tutor_llm_cfg_free(tutor_llm_cfg *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->base_url);
    if (cfg->api_key != NULL) {
        /* A last copy of the key should not linger in freed memory. */
        volatile char *k = cfg->api_key;
        while (*k != '\0')
            *k++ = '\0';
    }
    free(cfg->api_key);
    free(cfg->model);
    cfg->base_url = cfg->api_key = cfg->model = NULL;
}

/* The provider's name for logs and /health (llm.h). */
const char *tutor_llm_kind_name(tutor_llm_kind kind)
{
    switch (kind) {
    case TUTOR_LLM_GEMINI:
        return "gemini";
    case TUTOR_LLM_OPENAI:
        return "openai";
    case TUTOR_LLM_OFFLINE:
    default:
        return "offline";
    }
}

/* ---- building a request --------------------------------------------------- */

/* A JSON number for a double with a short, exact-looking text form ("0.3",
 * not json-c's "0.29999999999999999"), whatever the locale. */
static json_object *wire_new_double(double d)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "%.6g", d);
    for (char *c = buf; *c != '\0'; c++)
        if (*c == ',')
            *c = '.';
    return json_object_new_double_s(d, buf);
}

/* Adds key: val to obj; on failure releases val and returns -1. */
static int wire_add(json_object *obj, const char *key, json_object *val)
{
    if (val == NULL)
        return -1;
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

static int wire_append(json_object *arr, json_object *val)
{
    if (val == NULL)
        return -1;
    if (json_object_array_add(arr, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

/* {"text": text} or {"parts": [{"text": text}]} pieces of Gemini. */
static json_object *wire_gemini_parts(const char *text)
{
    json_object *parts = json_object_new_array();
    json_object *part = json_object_new_object();

    if (parts == NULL || part == NULL ||
        wire_add(part, "text", json_object_new_string(text)) != 0 ||
        json_object_array_add(parts, part) != 0) {
        json_object_put(part);
        json_object_put(parts);
        return NULL;
    }
    return parts;
}

static json_object *wire_gemini_body(const tutor_llm_prompt *p, double temp, int max_tokens,
                                     json_object *schema)
{
    json_object *root = json_object_new_object();
    json_object *contents = json_object_new_array();
    json_object *gen = json_object_new_object();

    if (root == NULL || contents == NULL || gen == NULL)
        goto fail;
    if (p->system != NULL && p->system[0] != '\0') {
        json_object *si = json_object_new_object();
        if (si == NULL || wire_add(si, "parts", wire_gemini_parts(p->system)) != 0 ||
            wire_add(root, "systemInstruction", si) != 0) {
            json_object_put(si);
            goto fail;
        }
    }
    for (size_t i = 0; i < p->n_msgs; i++) {
        json_object *c = json_object_new_object();
        if (c == NULL ||
            wire_add(c, "role", json_object_new_string(p->msgs[i].is_model ? "model" : "user")) !=
                0 ||
            wire_add(c, "parts", wire_gemini_parts(p->msgs[i].text)) != 0 ||
            json_object_array_add(contents, c) != 0) {
            json_object_put(c);
            goto fail;
        }
    }
    if (wire_add(root, "contents", contents) != 0) {
        contents = NULL;
        goto fail;
    }
    contents = NULL;
    if (wire_add(gen, "temperature", wire_new_double(temp)) != 0)
        goto fail;
    if (max_tokens > 0 && wire_add(gen, "maxOutputTokens", json_object_new_int(max_tokens)) != 0)
        goto fail;
    if (schema != NULL) {
        if (wire_add(gen, "responseMimeType", json_object_new_string("application/json")) != 0 ||
            wire_add(gen, "responseSchema", json_object_get(schema)) != 0)
            goto fail;
    }
    if (wire_add(root, "generationConfig", gen) != 0) {
        gen = NULL;
        goto fail;
    }
    return root;

fail:
    json_object_put(gen);
    json_object_put(contents);
    json_object_put(root);
    return NULL;
}

static json_object *wire_openai_msg(const char *role, const char *text)
{
    json_object *m = json_object_new_object();

    if (m == NULL || wire_add(m, "role", json_object_new_string(role)) != 0 ||
        wire_add(m, "content", json_object_new_string(text)) != 0) {
        json_object_put(m);
        return NULL;
    }
    return m;
}

static json_object *wire_openai_body(const tutor_llm_cfg *cfg, const tutor_llm_prompt *p,
                                     double temp, int max_tokens, int has_schema, int stream)
{
    json_object *root = json_object_new_object();
    json_object *msgs = json_object_new_array();

    if (root == NULL || msgs == NULL)
        goto fail;
    if (wire_add(root, "model", json_object_new_string(cfg->model)) != 0)
        goto fail;
    if (p->system != NULL && p->system[0] != '\0' &&
        wire_append(msgs, wire_openai_msg("system", p->system)) != 0)
        goto fail;
    for (size_t i = 0; i < p->n_msgs; i++)
        if (wire_append(msgs, wire_openai_msg(p->msgs[i].is_model ? "assistant" : "user",
                                              p->msgs[i].text)) != 0)
            goto fail;
    if (wire_add(root, "messages", msgs) != 0) {
        msgs = NULL;
        goto fail;
    }
    msgs = NULL;
    if (wire_add(root, "temperature", wire_new_double(temp)) != 0)
        goto fail;
    if (max_tokens > 0 && wire_add(root, "max_tokens", json_object_new_int(max_tokens)) != 0)
        goto fail;
    if (has_schema) {
        json_object *rf = json_object_new_object();
        if (rf == NULL || wire_add(rf, "type", json_object_new_string("json_object")) != 0 ||
            wire_add(root, "response_format", rf) != 0) {
            json_object_put(rf);
            goto fail;
        }
    }
    if (stream && wire_add(root, "stream", json_object_new_boolean(1)) != 0)
        goto fail;
    return root;

fail:
    json_object_put(msgs);
    json_object_put(root);
    return NULL;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static void wire_buf_pct(tutor_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            tutor_buf_add(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            tutor_buf_add(b, e, 3);
        }
    }
}

static char *wire_header(const char *name, const char *value)
{
    tutor_buf b = {0};

    tutor_buf_str(&b, name);
    tutor_buf_str(&b, ": ");
    tutor_buf_str(&b, value);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* Frees a header array of tutor_llm_build (llm.h). Header strings may hold
 * the key: they are wiped before they are freed. */
void tutor_llm_headers_free(char **headers)
{
    if (headers == NULL)
        return;
    for (size_t i = 0; headers[i] != NULL; i++) {
        volatile char *c = headers[i];
        while (*c != '\0')
            *c++ = '\0';
        free(headers[i]);
    }
    free(headers);
}

/* Builds the URL, headers and body of one call (llm.h). */
int tutor_llm_build(const tutor_llm_cfg *cfg, const tutor_llm_prompt *p, int stream, char **url,
                    char ***headers, char **body, char *err, size_t errlen)
{
    json_object *schema = NULL, *root = NULL;
    tutor_buf u = {0};
    char **hdrs = NULL;
    char *b = NULL;
    const char *model, *s;
    double temp;
    int max_tokens, has_key, rc = LX_ENOMEM;
    size_t n_hdrs = 0;

    *url = NULL;
    *headers = NULL;
    *body = NULL;
    if (cfg == NULL || p == NULL) {
        wire_errf(err, errlen, "no provider or prompt");
        return LX_EINVAL;
    }
    if (cfg->kind != TUTOR_LLM_GEMINI && cfg->kind != TUTOR_LLM_OPENAI) {
        wire_errf(err, errlen, "provider %s takes no model call", tutor_llm_kind_name(cfg->kind));
        return LX_EINVAL;
    }
    if (cfg->model == NULL || cfg->model[0] == '\0') {
        wire_errf(err, errlen, "no model configured for %s", tutor_llm_kind_name(cfg->kind));
        return LX_EINVAL;
    }
    if (cfg->base_url == NULL || cfg->base_url[0] == '\0') {
        wire_errf(err, errlen, "no base_url configured for %s", tutor_llm_kind_name(cfg->kind));
        return LX_EINVAL;
    }
    if (p->msgs == NULL || p->n_msgs == 0) {
        wire_errf(err, errlen, "no message to send");
        return LX_EINVAL;
    }
    for (size_t i = 0; i < p->n_msgs; i++) {
        if (p->msgs[i].text == NULL) {
            wire_errf(err, errlen, "message %zu has no text", i);
            return LX_EINVAL;
        }
    }
    has_key = cfg->api_key != NULL && cfg->api_key[0] != '\0';
    if (has_key && strpbrk(cfg->api_key, "\r\n") != NULL) {
        wire_errf(err, errlen, "the %s api_key holds a line break", tutor_llm_kind_name(cfg->kind));
        return LX_EINVAL;
    }
    if (strpbrk(cfg->base_url, "\r\n \t") != NULL || strpbrk(cfg->model, "\r\n") != NULL) {
        wire_errf(err, errlen, "the %s base_url or model holds white space",
                  tutor_llm_kind_name(cfg->kind));
        return LX_EINVAL;
    }
    if (p->json_schema != NULL) {
        schema = wire_parse_json(p->json_schema, strlen(p->json_schema));
        if (schema == NULL || !json_object_is_type(schema, json_type_object)) {
            wire_errf(err, errlen, "the answer's JSON schema is not a JSON object");
            rc = LX_EINVAL;
            goto fail;
        }
    }
    temp = p->temperature >= 0 ? p->temperature : cfg->temperature;
    max_tokens = p->max_tokens > 0 ? p->max_tokens : cfg->max_tokens;

    /* URL */
    tutor_buf_str(&u, cfg->base_url);
    if (cfg->kind == TUTOR_LLM_GEMINI) {
        model = cfg->model;
        if (strncmp(model, "models/", 7) == 0 && model[7] != '\0')
            model += 7; /* the API's own resource name form */
        tutor_buf_str(&u, "/models/");
        wire_buf_pct(&u, model);
        tutor_buf_str(&u, stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    } else {
        tutor_buf_str(&u, "/chat/completions");
    }
    if (u.oom)
        goto fail;

    /* Headers */
    hdrs = calloc(4, sizeof(*hdrs));
    if (hdrs == NULL)
        goto fail;
    if ((hdrs[n_hdrs++] = wire_header("Content-Type", "application/json")) == NULL)
        goto fail;
    if ((hdrs[n_hdrs++] =
             wire_header("Accept", stream ? "text/event-stream" : "application/json")) == NULL)
        goto fail;
    if (has_key) {
        if (cfg->kind == TUTOR_LLM_GEMINI) {
            hdrs[n_hdrs] = wire_header("x-goog-api-key", cfg->api_key);
        } else {
            tutor_buf a = {0};
            tutor_buf_str(&a, "Authorization: Bearer ");
            tutor_buf_str(&a, cfg->api_key);
            if (a.oom)
                free(a.p);
            hdrs[n_hdrs] = a.oom ? NULL : a.p;
        }
        if (hdrs[n_hdrs++] == NULL)
            goto fail;
    }

    /* Body */
    if (cfg->kind == TUTOR_LLM_GEMINI)
        root = wire_gemini_body(p, temp, max_tokens, schema);
    else
        root = wire_openai_body(cfg, p, temp, max_tokens, schema != NULL, stream);
    if (root == NULL)
        goto fail;
    s = json_object_to_json_string_ext(root,
                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s == NULL || (b = strdup(s)) == NULL)
        goto fail;

    json_object_put(root);
    json_object_put(schema);
    *url = u.p;
    *headers = hdrs;
    *body = b;
    return LX_OK;

fail:
    if (rc == LX_ENOMEM)
        wire_errf(err, errlen, "out of memory");
    json_object_put(root);
    json_object_put(schema);
    free(u.p);
    tutor_llm_headers_free(hdrs);
    free(b);
    return rc;
}

/* ---- reading answers ------------------------------------------------------ */

/* Appends the text parts of a Gemini candidate's content to t (thoughts
 * left out). */
static void wire_gemini_text(json_object *cand, tutor_buf *t)
{
    json_object *parts = wire_get(wire_get(cand, "content"), "parts");
    size_t n;

    if (parts == NULL || !json_object_is_type(parts, json_type_array))
        return;
    n = json_object_array_length(parts);
    for (size_t i = 0; i < n; i++) {
        json_object *part = json_object_array_get_idx(parts, i);
        json_object *thought = wire_get(part, "thought");
        const char *s;
        size_t len = 0;

        if (thought != NULL && json_object_get_boolean(thought))
            continue;
        s = wire_get_str(part, "text", &len);
        if (s != NULL)
            tutor_buf_add(t, s, len);
    }
}

/* One Gemini answer object (whole, or one streamed event): its text is
 * appended to t; *finished set when the candidate has a finishReason.
 * LX_OK or LX_EINVAL with a message. */
static int wire_gemini_object(json_object *obj, tutor_buf *t, int *finished, int need_candidate,
                              char *err, size_t errlen)
{
    json_object *cands, *cand;
    const char *msg, *reason;
    size_t len = 0;
    int has_error;

    if (!json_object_is_type(obj, json_type_object)) {
        wire_errf(err, errlen, "malformed answer: not a JSON object");
        return LX_EINVAL;
    }
    msg = wire_error_message(obj, &len, &has_error);
    if (has_error) {
        wire_error_to_err(msg, len, err, errlen);
        return LX_EINVAL;
    }
    reason = wire_get_str(wire_get(obj, "promptFeedback"), "blockReason", &len);
    if (reason != NULL) {
        char *q = wire_quote(reason, len);
        wire_errf(err, errlen, "blocked: %s", q != NULL ? q : "prompt");
        free(q);
        return LX_EINVAL;
    }
    cands = wire_get(obj, "candidates");
    if (cands == NULL || !json_object_is_type(cands, json_type_array) ||
        json_object_array_length(cands) == 0) {
        if (!need_candidate)
            return LX_OK;
        wire_errf(err, errlen, "malformed answer: no candidate");
        return LX_EINVAL;
    }
    cand = json_object_array_get_idx(cands, 0);
    if (cand == NULL || !json_object_is_type(cand, json_type_object)) {
        wire_errf(err, errlen, "malformed answer: no candidate");
        return LX_EINVAL;
    }
    reason = wire_get_str(cand, "finishReason", &len);
    if (reason != NULL && wire_is_blocked_reason(reason)) {
        wire_errf(err, errlen, "blocked: %s", reason);
        return LX_EINVAL;
    }
    if (reason != NULL && finished != NULL)
        *finished = 1;
    wire_gemini_text(cand, t);
    return LX_OK;
}

static int wire_parse_gemini(json_object *root, tutor_buf *t, char *err, size_t errlen)
{
    /* streamGenerateContent without alt=sse answers with an array of the
     * same objects: accepted too. */
    if (json_object_is_type(root, json_type_array)) {
        size_t n = json_object_array_length(root);
        if (n == 0) {
            wire_errf(err, errlen, "malformed answer: no candidate");
            return LX_EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            int rc = wire_gemini_object(json_object_array_get_idx(root, i), t, NULL, i == 0, err,
                                        errlen);
            if (rc != LX_OK)
                return rc;
        }
        return LX_OK;
    }
    return wire_gemini_object(root, t, NULL, 1, err, errlen);
}

/* Appends an OpenAI content value (a string, or an array of text parts as
 * some servers send) to t; LX_EINVAL when it is neither. */
static int wire_openai_content(json_object *content, tutor_buf *t)
{
    if (content == NULL)
        return LX_EINVAL;
    if (json_object_is_type(content, json_type_string)) {
        tutor_buf_add(t, json_object_get_string(content),
                      (size_t)json_object_get_string_len(content));
        return LX_OK;
    }
    if (json_object_is_type(content, json_type_array)) {
        size_t n = json_object_array_length(content);
        for (size_t i = 0; i < n; i++) {
            size_t len = 0;
            const char *s = wire_get_str(json_object_array_get_idx(content, i), "text", &len);
            if (s != NULL)
                tutor_buf_add(t, s, len);
        }
        return LX_OK;
    }
    return LX_EINVAL;
}

static int wire_parse_openai(json_object *root, tutor_buf *t, char *err, size_t errlen)
{
    json_object *choices, *choice, *message;
    const char *msg;
    size_t len = 0;
    int has_error;

    if (!json_object_is_type(root, json_type_object)) {
        wire_errf(err, errlen, "malformed answer: not a JSON object");
        return LX_EINVAL;
    }
    msg = wire_error_message(root, &len, &has_error);
    if (has_error) {
        wire_error_to_err(msg, len, err, errlen);
        return LX_EINVAL;
    }
    choices = wire_get(root, "choices");
    if (choices == NULL || !json_object_is_type(choices, json_type_array) ||
        json_object_array_length(choices) == 0) {
        wire_errf(err, errlen, "malformed answer: no choice");
        return LX_EINVAL;
    }
    choice = json_object_array_get_idx(choices, 0);
    message = wire_get(choice, "message");
    if (message == NULL || !json_object_is_type(message, json_type_object)) {
        wire_errf(err, errlen, "malformed answer: no message");
        return LX_EINVAL;
    }
    if (wire_openai_content(wire_get(message, "content"), t) != LX_OK) {
        const char *refusal = wire_get_str(message, "refusal", &len);
        if (refusal != NULL) {
            char *q = wire_quote(refusal, len);
            wire_errf(err, errlen, "blocked: %s", q != NULL ? q : "refused");
            free(q);
        } else {
            wire_errf(err, errlen, "malformed answer: no content");
        }
        return LX_EINVAL;
    }
    return LX_OK;
}

/* The text of a whole answer (llm.h). */
int tutor_llm_parse(tutor_llm_kind kind, const char *body, size_t len, char **text, char *err,
                    size_t errlen)
{
    json_object *root;
    tutor_buf t = {0};
    int rc;

    *text = NULL;
    if (kind != TUTOR_LLM_GEMINI && kind != TUTOR_LLM_OPENAI) {
        wire_errf(err, errlen, "provider %s has no answers to parse", tutor_llm_kind_name(kind));
        return LX_EINVAL;
    }
    if (body == NULL || len == 0) {
        wire_errf(err, errlen, "malformed answer: empty body");
        return LX_EINVAL;
    }
    root = wire_parse_json(body, len);
    if (root == NULL) {
        wire_errf(err, errlen, "malformed answer: not JSON");
        return LX_EINVAL;
    }
    if (kind == TUTOR_LLM_GEMINI)
        rc = wire_parse_gemini(root, &t, err, errlen);
    else
        rc = wire_parse_openai(root, &t, err, errlen);
    json_object_put(root);
    if (rc == LX_OK && t.oom)
        rc = LX_ENOMEM;
    if (rc == LX_OK && t.len == 0) {
        wire_errf(err, errlen, "empty answer");
        rc = LX_EINVAL;
    }
    if (rc != LX_OK) {
        if (rc == LX_ENOMEM)
            wire_errf(err, errlen, "out of memory");
        free(t.p);
        return rc;
    }
    *text = t.p;
    return LX_OK;
}

/* A short reason out of an error body (llm.h). */
char *tutor_llm_error_reason(int status, const char *body, size_t len)
{
    json_object *root = body != NULL ? wire_parse_json(body, len) : NULL;
    json_object *obj = root;
    const char *msg = NULL;
    size_t mlen = 0;
    int has_error = 0;
    char *out = NULL;

    /* Gemini's streaming endpoint wraps its error in an array. */
    if (obj != NULL && json_object_is_type(obj, json_type_array) &&
        json_object_array_length(obj) > 0)
        obj = json_object_array_get_idx(obj, 0);
    if (obj != NULL)
        msg = wire_error_message(obj, &mlen, &has_error);
    if (msg != NULL && mlen > 0)
        out = wire_quote(msg, mlen);
    json_object_put(root);
    if (out != NULL && out[0] == '\0') {
        free(out);
        out = NULL;
    }
    if (out == NULL) {
        char buf[32];
        snprintf(buf, sizeof(buf), "HTTP %d", status);
        out = strdup(buf);
    }
    return out;
}

/* ---- streamed answers (server-sent events) -------------------------------- */

struct tutor_sse {
    tutor_llm_kind kind;
    tutor_buf line;   /* the line being read */
    tutor_buf data;   /* the event's data fields, each followed by "\n" */
    int has_data;     /* a data field was seen in this event */
    int after_cr;     /* the last byte was CR: a following LF ends nothing */
    int is_first;     /* no line ended yet (a BOM may open the stream) */
    int failed;       /* the error code once failed, else 0 */
    char errmsg[256]; /* and its message */
    int is_done;      /* openai: [DONE] seen */
    int is_finished;  /* a finish_reason / finishReason seen */
    size_t n_text;    /* events that carried text */
};

tutor_sse *tutor_sse_new(tutor_llm_kind kind)
{
    tutor_sse *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->kind = kind;
    s->is_first = 1;
    return s;
}

void tutor_sse_free(tutor_sse *s)
{
    if (s == NULL)
        return;
    free(s->line.p);
    free(s->data.p);
    free(s);
}

static int sse_fail(tutor_sse *s, int rc, char *err, size_t errlen)
{
    s->failed = rc;
    if (rc == LX_ENOMEM)
        snprintf(s->errmsg, sizeof(s->errmsg), "out of memory");
    wire_errf(err, errlen, "%s", s->errmsg);
    return rc;
}

/* Delivers a piece of text (never an empty one). */
static void sse_deliver(tutor_sse *s, const char *text, size_t len, tutor_llm_delta_fn on_delta,
                        void *arg)
{
    if (len == 0)
        return;
    s->n_text++;
    if (on_delta != NULL)
        on_delta(text, len, arg);
}

/* One OpenAI chunk: {choices: [{delta: {content}, finish_reason}]}. */
static int sse_openai_event(tutor_sse *s, json_object *obj, tutor_buf *t)
{
    json_object *choices, *choice, *fr;
    const char *msg;
    size_t len = 0;
    int has_error;

    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(s->errmsg, sizeof(s->errmsg), "malformed stream event: not a JSON object");
        return LX_EINVAL;
    }
    msg = wire_error_message(obj, &len, &has_error);
    if (has_error) {
        wire_error_to_err(msg, len, s->errmsg, sizeof(s->errmsg));
        return LX_EINVAL;
    }
    choices = wire_get(obj, "choices");
    /* A usage-only chunk has no choice. */
    if (choices == NULL || !json_object_is_type(choices, json_type_array) ||
        json_object_array_length(choices) == 0)
        return LX_OK;
    choice = json_object_array_get_idx(choices, 0);
    if (choice == NULL || !json_object_is_type(choice, json_type_object)) {
        snprintf(s->errmsg, sizeof(s->errmsg), "malformed stream event: bad choice");
        return LX_EINVAL;
    }
    (void)wire_openai_content(wire_get(wire_get(choice, "delta"), "content"), t);
    fr = wire_get(choice, "finish_reason");
    if (fr != NULL && json_object_is_type(fr, json_type_string)) {
        if (strcmp(json_object_get_string(fr), "content_filter") == 0) {
            snprintf(s->errmsg, sizeof(s->errmsg), "blocked: content_filter");
            return LX_EINVAL;
        }
        s->is_finished = 1;
    }
    return LX_OK;
}

/* Ends the current event: its data (if any) is parsed and its text
 * delivered. */
static int sse_dispatch(tutor_sse *s, tutor_llm_delta_fn on_delta, void *arg)
{
    json_object *obj;
    tutor_buf t = {0};
    const char *d;
    size_t n;
    int rc;

    if (!s->has_data)
        return LX_OK;
    s->has_data = 0;
    d = s->data.p;
    n = s->data.len;
    if (n > 0 && d[n - 1] == '\n')
        n--;
    s->data.len = 0;
    if (s->kind == TUTOR_LLM_OPENAI && n == 6 && memcmp(d, "[DONE]", 6) == 0) {
        s->is_done = 1;
        return LX_OK;
    }
    if (s->is_done)
        return LX_OK; /* nothing counts after [DONE] */
    if (n == 0)
        return LX_OK; /* an empty data field: a keep-alive */
    obj = wire_parse_json(d, n);
    if (obj == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "malformed stream event: not JSON");
        return LX_EINVAL;
    }
    if (s->kind == TUTOR_LLM_GEMINI) {
        s->errmsg[0] = '\0';
        rc = wire_gemini_object(obj, &t, &s->is_finished, 0, s->errmsg, sizeof(s->errmsg));
    } else {
        rc = sse_openai_event(s, obj, &t);
    }
    json_object_put(obj);
    if (rc == LX_OK && t.oom)
        rc = LX_ENOMEM;
    if (rc == LX_OK)
        sse_deliver(s, t.p, t.len, on_delta, arg);
    free(t.p);
    return rc;
}

/* One whole line (without its end). */
static int sse_line(tutor_sse *s, tutor_llm_delta_fn on_delta, void *arg)
{
    const char *l = s->line.p != NULL ? s->line.p : "";
    size_t n = s->line.len;
    const char *colon;
    size_t name_len;

    if (s->is_first) {
        s->is_first = 0;
        if (n >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0) {
            l += 3;
            n -= 3;
        }
    }
    s->line.len = 0;
    if (n == 0)
        return sse_dispatch(s, on_delta, arg);
    if (l[0] == ':')
        return LX_OK; /* a comment */
    colon = memchr(l, ':', n);
    name_len = colon != NULL ? (size_t)(colon - l) : n;
    if (name_len == 4 && memcmp(l, "data", 4) == 0) {
        const char *v = colon != NULL ? colon + 1 : l + n;
        size_t vlen = (size_t)(l + n - v);
        if (vlen > 0 && v[0] == ' ') {
            v++;
            vlen--;
        }
        if (s->data.len + vlen + 1 > TUTOR_SSE_MAX_EVENT) {
            snprintf(s->errmsg, sizeof(s->errmsg), "stream event over %zu bytes",
                     TUTOR_SSE_MAX_EVENT);
            return LX_ETOOBIG;
        }
        tutor_buf_add(&s->data, v, vlen);
        tutor_buf_add(&s->data, "\n", 1);
        if (s->data.oom)
            return LX_ENOMEM;
        s->has_data = 1;
    }
    /* event:, id:, retry: and unknown fields are ignored. */
    return LX_OK;
}

/* Feeds bytes of a streamed answer (llm.h). */
int tutor_sse_feed(tutor_sse *s, const char *data, size_t len, tutor_llm_delta_fn on_delta,
                   void *arg, char *err, size_t errlen)
{
    size_t i = 0;

    if (s->failed)
        return sse_fail(s, s->failed, err, errlen);
    while (i < len) {
        size_t j = i;
        int rc;

        while (j < len && data[j] != '\n' && data[j] != '\r')
            j++;
        if (j > i) {
            if (s->line.len + (j - i) > TUTOR_SSE_MAX_LINE) {
                snprintf(s->errmsg, sizeof(s->errmsg), "stream line over %zu bytes",
                         TUTOR_SSE_MAX_LINE);
                return sse_fail(s, LX_ETOOBIG, err, errlen);
            }
            tutor_buf_add(&s->line, data + i, j - i);
            if (s->line.oom)
                return sse_fail(s, LX_ENOMEM, err, errlen);
            s->after_cr = 0;
        }
        if (j == len)
            break;
        /* data[j] ends a line, unless it is the LF of a CRLF. */
        if (data[j] == '\n' && s->after_cr) {
            s->after_cr = 0;
            i = j + 1;
            continue;
        }
        s->after_cr = data[j] == '\r';
        rc = sse_line(s, on_delta, arg);
        if (rc != LX_OK)
            return sse_fail(s, rc, err, errlen);
        i = j + 1;
    }
    return LX_OK;
}

/* The end of a streamed answer (llm.h). */
int tutor_sse_finish(tutor_sse *s, tutor_llm_delta_fn on_delta, void *arg, char *err, size_t errlen)
{
    int rc;

    if (s->failed)
        return sse_fail(s, s->failed, err, errlen);
    if (s->line.len > 0 && (rc = sse_line(s, on_delta, arg)) != LX_OK)
        return sse_fail(s, rc, err, errlen);
    if ((rc = sse_dispatch(s, on_delta, arg)) != LX_OK)
        return sse_fail(s, rc, err, errlen);
    if (s->kind == TUTOR_LLM_OPENAI ? (s->is_done || s->is_finished) : s->n_text > 0)
        return LX_OK;
    if (s->kind == TUTOR_LLM_GEMINI && s->is_finished)
        snprintf(s->errmsg, sizeof(s->errmsg), "empty answer");
    else
        snprintf(s->errmsg, sizeof(s->errmsg), "stream ended early");
    return sse_fail(s, LX_EINVAL, err, errlen);
}
