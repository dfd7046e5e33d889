/*
 * libFuzzer target for plugins/tutoring/llm_wire.c, the language-model
 * wire formats. The first three bytes choose a split point (two bytes) and
 * a status; the rest, P, goes through:
 *   tutor_llm_parse (P, Gemini and OpenAI): LX_OK with a non-empty text,
 *       or LX_EINVAL/LX_ENOMEM with a message and no text;
 *   tutor_llm_error_reason (status, P): a string of at most 200 bytes (or
 *       "HTTP <status>") without control characters;
 *   the SSE parser (both kinds): P fed whole, fed in two pieces cut at the
 *       chosen point, and (when short) byte by byte give the same deltas,
 *       none empty, and the same result and message at tutor_sse_finish;
 *   tutor_llm_build with P as the student's text and as the schema: when
 *       it builds, the body is JSON holding the text unchanged.
 * Copies of exactly the input's size make reads past the end show.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <lexiaid/plugin.h>

#include "llm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(int ok)
{
    if (!ok)
        __builtin_trap();
}

/* Every delta as its length (8 bytes) then its bytes. */
typedef struct trace {
    unsigned char *p;
    size_t len, cap;
    int n_empty;
} trace;

static void on_delta(const char *text, size_t len, void *arg)
{
    trace *t = arg;
    size_t need = t->len + sizeof(len) + len;

    if (len == 0)
        t->n_empty++;
    if (need > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < need)
            cap *= 2;
        t->p = realloc(t->p, cap);
        fuzz_check(t->p != NULL);
        t->cap = cap;
    }
    memcpy(t->p + t->len, &len, sizeof(len));
    memcpy(t->p + t->len + sizeof(len), text, len);
    t->len = need;
}

typedef struct outcome {
    int rc;
    char err[256];
    trace t;
} outcome;

/* Feeds p cut at cuts (ascending, each <= len) and finishes. */
static void run_sse(tutor_llm_kind kind, const char *p, size_t len, const size_t *cuts,
                    size_t n_cuts, outcome *o)
{
    tutor_sse *s = tutor_sse_new(kind);
    size_t at = 0;

    memset(o, 0, sizeof(*o));
    fuzz_check(s != NULL);
    o->rc = LX_OK;
    for (size_t i = 0; i <= n_cuts && o->rc == LX_OK; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        o->rc = tutor_sse_feed(s, p + at, end - at, on_delta, &o->t, o->err, sizeof(o->err));
        at = end;
    }
    if (o->rc == LX_OK)
        o->rc = tutor_sse_finish(s, on_delta, &o->t, o->err, sizeof(o->err));
    fuzz_check(o->rc == LX_OK || o->rc == LX_EINVAL || o->rc == LX_ETOOBIG || o->rc == LX_ENOMEM);
    fuzz_check(o->rc == LX_OK || o->err[0] != '\0');
    fuzz_check(o->t.n_empty == 0);
    tutor_sse_free(s);
}

static void same_outcome(const outcome *a, const outcome *b)
{
    fuzz_check(a->rc == b->rc);
    fuzz_check(strcmp(a->err, b->err) == 0);
    fuzz_check(a->t.len == b->t.len);
    fuzz_check(a->t.len == 0 || memcmp(a->t.p, b->t.p, a->t.len) == 0);
}

static void fuzz_sse(tutor_llm_kind kind, const char *p, size_t len, size_t cut)
{
    outcome whole, split, bytes;

    run_sse(kind, p, len, NULL, 0, &whole);
    run_sse(kind, p, len, &cut, 1, &split);
    same_outcome(&whole, &split);
    free(split.t.p);
    if (len > 1 && len <= 512) {
        size_t cuts[511];
        for (size_t i = 0; i + 1 < len; i++)
            cuts[i] = i + 1;
        run_sse(kind, p, len, cuts, len - 1, &bytes);
        same_outcome(&whole, &bytes);
        free(bytes.t.p);
    }
    free(whole.t.p);
}

static void fuzz_parse(tutor_llm_kind kind, const char *p, size_t len)
{
    char *text = (char *)"unset";
    char err[256] = "";
    int rc = tutor_llm_parse(kind, p, len, &text, err, sizeof(err));

    if (rc == LX_OK) {
        fuzz_check(text != NULL && text[0] != '\0');
        free(text);
    } else {
        fuzz_check(rc == LX_EINVAL || rc == LX_ENOMEM);
        fuzz_check(text == NULL);
        fuzz_check(err[0] != '\0');
    }
}

static void fuzz_reason(int status, const char *p, size_t len)
{
    char *r = tutor_llm_error_reason(status, p, len);

    fuzz_check(r != NULL);
    fuzz_check(strlen(r) <= 200);
    for (const char *c = r; *c != '\0'; c++)
        fuzz_check((unsigned char)*c >= 0x20 && *c != 0x7F);
    free(r);
}

static void fuzz_build(tutor_llm_kind kind, const char *text, int stream)
{
    tutor_llm_cfg cfg;
    tutor_llm_msg msgs[2] = {{1, "Earlier answer."}, {0, text}};
    tutor_llm_prompt pr = {.system = text,
                           .msgs = msgs,
                           .n_msgs = 2,
                           .json_schema = text,
                           .temperature = -1,
                           .max_tokens = 0};
    char *url = NULL, **headers = NULL, *body = NULL, err[256];
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    cfg.kind = kind;
    cfg.base_url = (char *)"http://127.0.0.1:9/v1";
    cfg.api_key = (char *)"k-123456";
    cfg.model = (char *)"model";
    cfg.temperature = 0.3;
    cfg.max_tokens = 64;
    for (int with_schema = 0; with_schema < 2; with_schema++) {
        pr.json_schema = with_schema ? text : NULL;
        rc = tutor_llm_build(&cfg, &pr, stream, &url, &headers, &body, err, sizeof(err));
        if (rc != LX_OK) {
            fuzz_check(rc == LX_EINVAL || rc == LX_ENOMEM);
            fuzz_check(url == NULL && headers == NULL && body == NULL);
            fuzz_check(with_schema); /* only a bad schema is refused here */
            continue;
        }
        {
            json_object *root = json_tokener_parse(body), *v = NULL;
            fuzz_check(root != NULL);
            if (kind == TUTOR_LLM_GEMINI) {
                fuzz_check(json_object_object_get_ex(root, "contents", &v));
                v = json_object_array_get_idx(v, 1);
                fuzz_check(json_object_object_get_ex(v, "parts", &v));
                v = json_object_array_get_idx(v, 0);
                fuzz_check(json_object_object_get_ex(v, "text", &v));
            } else {
                fuzz_check(json_object_object_get_ex(root, "messages", &v));
                /* system first when not empty */
                v = json_object_array_get_idx(v, text[0] != '\0' ? 2 : 1);
                fuzz_check(json_object_object_get_ex(v, "content", &v));
            }
            fuzz_check(strcmp(json_object_get_string(v), text) == 0);
            fuzz_check(strstr(url, "k-123456") == NULL);
            fuzz_check(strstr(body, "k-123456") == NULL || strstr(text, "k-123456") != NULL);
            json_object_put(root);
        }
        free(url);
        tutor_llm_headers_free(headers);
        free(body);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len, cut;
    int status;
    char *p, *text;

    if (size < 3)
        return 0;
    len = size - 3;
    cut = ((size_t)data[0] | (size_t)data[1] << 8) % (len + 1);
    status = 400 + data[2];
    p = malloc(len > 0 ? len : 1);
    fuzz_check(p != NULL);
    memcpy(p, data + 3, len);

    fuzz_parse(TUTOR_LLM_GEMINI, p, len);
    fuzz_parse(TUTOR_LLM_OPENAI, p, len);
    fuzz_reason(status, p, len);
    fuzz_sse(TUTOR_LLM_GEMINI, p, len, cut);
    fuzz_sse(TUTOR_LLM_OPENAI, p, len, cut);

    text = malloc(len + 1);
    fuzz_check(text != NULL);
    memcpy(text, p, len);
    text[len] = '\0';
    fuzz_build(TUTOR_LLM_GEMINI, text, data[2] & 1);
    fuzz_build(TUTOR_LLM_OPENAI, text, data[2] & 1);
    free(text);
    free(p);
    return 0;
}
