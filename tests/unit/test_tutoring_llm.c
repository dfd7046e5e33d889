#include "config.h"

/*
 * The language-model wire formats (plugins/tutoring/llm_wire.c): the
 * requests built for Gemini and OpenAI-compatible servers read back with
 * json-c, the answers and error bodies those providers really send, and
 * streamed answers (server-sent events) cut at every possible byte.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <lexiaid/plugin.h>

#include "llm.h"

#define KEY "AIzaTESTKEY-0123456789abcdef"

static const char schema_text[] =
    "{\"type\":\"object\",\"properties\":{\"option_index\":{\"type\":\"integer\"}},"
    "\"required\":[\"option_index\"]}";

static tutor_llm_cfg make_cfg(tutor_llm_kind kind, const char *base, const char *key,
                              const char *model)
{
    tutor_llm_cfg cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.kind = kind;
    cfg.base_url = (char *)base;
    cfg.api_key = (char *)key;
    cfg.model = (char *)model;
    cfg.deadline_ms = 120000;
    cfg.connect_timeout_ms = 10000;
    cfg.max_attempts = 4;
    cfg.backoff_ms = 500;
    cfg.temperature = 0.3;
    cfg.max_tokens = 1024;
    return cfg;
}

static const tutor_llm_msg three_msgs[] = {
    {0, "What is photosynthesis?"},
    {1, "It is how plants make food from light."},
    {0, "Where does it happen?"},
};

/* Everything one build gives back. */
typedef struct built {
    char *url;
    char **headers;
    char *body;
    json_object *json;
} built;

static void build_ok(const tutor_llm_cfg *cfg, const tutor_llm_prompt *p, int stream, built *b)
{
    char err[256] = "";

    assert_int_equal(
        tutor_llm_build(cfg, p, stream, &b->url, &b->headers, &b->body, err, sizeof(err)), LX_OK);
    assert_non_null(b->url);
    assert_non_null(b->headers);
    assert_non_null(b->body);
    b->json = json_tokener_parse(b->body);
    assert_non_null(b->json);
    assert_true(json_object_is_type(b->json, json_type_object));
}

static void built_free(built *b)
{
    free(b->url);
    tutor_llm_headers_free(b->headers);
    free(b->body);
    json_object_put(b->json);
}

/* The value at a dotted path ("a.b.0.c"; numbers index arrays), or NULL. */
static json_object *at(json_object *o, const char *path)
{
    char buf[256], *save = NULL, *tok;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok != NULL && o != NULL;
         tok = strtok_r(NULL, ".", &save)) {
        if (tok[0] >= '0' && tok[0] <= '9') {
            if (!json_object_is_type(o, json_type_array))
                return NULL;
            o = json_object_array_get_idx(o, (size_t)atoi(tok));
        } else if (!json_object_object_get_ex(o, tok, &o)) {
            return NULL;
        }
    }
    return o;
}

static const char *at_str(json_object *o, const char *path)
{
    json_object *v = at(o, path);

    if (v == NULL || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static size_t n_headers(char **h)
{
    size_t n = 0;

    while (h[n] != NULL)
        n++;
    return n;
}

static int has_header(char **h, const char *line)
{
    for (size_t i = 0; h[i] != NULL; i++)
        if (strcmp(h[i], line) == 0)
            return 1;
    return 0;
}

/* ---- building requests ---------------------------------------------------- */

static void test_build_gemini_body_has_system_roles_config_and_schema(void **state)
{
    tutor_llm_cfg cfg =
        make_cfg(TUTOR_LLM_GEMINI, "https://generativelanguage.googleapis.com/v1beta", KEY,
                 "gemini-2.0-flash");
    tutor_llm_prompt p = {.system = "You are a patient tutor.",
                          .msgs = three_msgs,
                          .n_msgs = 3,
                          .json_schema = schema_text,
                          .temperature = -1,
                          .max_tokens = 0};
    built b = {0};

    (void)state;
    build_ok(&cfg, &p, 0, &b);
    assert_string_equal(b.url, "https://generativelanguage.googleapis.com/v1beta/models/"
                               "gemini-2.0-flash:generateContent");
    assert_string_equal(at_str(b.json, "systemInstruction.parts.0.text"),
                        "You are a patient tutor.");
    assert_int_equal(json_object_array_length(at(b.json, "contents")), 3);
    assert_string_equal(at_str(b.json, "contents.0.role"), "user");
    assert_string_equal(at_str(b.json, "contents.0.parts.0.text"), "What is photosynthesis?");
    assert_string_equal(at_str(b.json, "contents.1.role"), "model");
    assert_string_equal(at_str(b.json, "contents.1.parts.0.text"),
                        "It is how plants make food from light.");
    assert_string_equal(at_str(b.json, "contents.2.role"), "user");
    assert_string_equal(at_str(b.json, "contents.2.parts.0.text"), "Where does it happen?");
    assert_true(json_object_get_double(at(b.json, "generationConfig.temperature")) > 0.2999 &&
                json_object_get_double(at(b.json, "generationConfig.temperature")) < 0.3001);
    assert_int_equal(json_object_get_int(at(b.json, "generationConfig.maxOutputTokens")), 1024);
    assert_string_equal(at_str(b.json, "generationConfig.responseMimeType"), "application/json");
    assert_string_equal(at_str(b.json, "generationConfig.responseSchema.type"), "object");
    assert_string_equal(
        at_str(b.json, "generationConfig.responseSchema.properties.option_index.type"), "integer");
    assert_string_equal(at_str(b.json, "generationConfig.responseSchema.required.0"),
                        "option_index");
    /* Gemini takes no model or stream member in the body. */
    assert_null(at(b.json, "model"));
    assert_null(at(b.json, "stream"));
    assert_non_null(strstr(b.body, "\"temperature\":0.3"));

    assert_int_equal(n_headers(b.headers), 3);
    assert_true(has_header(b.headers, "Content-Type: application/json"));
    assert_true(has_header(b.headers, "Accept: application/json"));
    assert_true(has_header(b.headers, "x-goog-api-key: " KEY));
    assert_null(strstr(b.url, KEY));
    assert_null(strstr(b.body, KEY));
    built_free(&b);
}

static void test_build_gemini_stream_url_encodes_model_and_omits_absent_parts(void **state)
{
    tutor_llm_cfg cfg =
        make_cfg(TUTOR_LLM_GEMINI, "http://127.0.0.1:8123/v1beta", NULL, "my model/v1?x");
    tutor_llm_msg one = {0, "Hello"};
    tutor_llm_prompt p = {.msgs = &one, .n_msgs = 1, .temperature = 0.7, .max_tokens = 77};
    built b = {0};

    (void)state;
    build_ok(&cfg, &p, 1, &b);
    assert_string_equal(b.url, "http://127.0.0.1:8123/v1beta/models/my%20model%2Fv1%3Fx"
                               ":streamGenerateContent?alt=sse");
    assert_null(at(b.json, "systemInstruction"));
    assert_null(at(b.json, "generationConfig.responseMimeType"));
    assert_null(at(b.json, "generationConfig.responseSchema"));
    assert_true(json_object_get_double(at(b.json, "generationConfig.temperature")) > 0.6999 &&
                json_object_get_double(at(b.json, "generationConfig.temperature")) < 0.7001);
    assert_int_equal(json_object_get_int(at(b.json, "generationConfig.maxOutputTokens")), 77);
    assert_int_equal(n_headers(b.headers), 2);
    assert_true(has_header(b.headers, "Accept: text/event-stream"));
    built_free(&b);

    /* The API's own "models/NAME" form is not doubled; an empty key adds no header. */
    cfg = make_cfg(TUTOR_LLM_GEMINI, "https://g.example/v1beta", "", "models/gemini-1.5-pro");
    build_ok(&cfg, &p, 0, &b);
    assert_string_equal(b.url, "https://g.example/v1beta/models/gemini-1.5-pro:generateContent");
    assert_int_equal(n_headers(b.headers), 2);
    built_free(&b);
}

static void test_build_openai_body_has_system_first_roles_and_flags(void **state)
{
    tutor_llm_cfg cfg =
        make_cfg(TUTOR_LLM_OPENAI, "https://api.openai.com/v1", "sk-test-abcdef", "gpt-4o-mini");
    tutor_llm_prompt p = {.system = "Be brief.",
                          .msgs = three_msgs,
                          .n_msgs = 3,
                          .json_schema = schema_text,
                          .temperature = 0,
                          .max_tokens = 300};
    built b = {0};

    (void)state;
    build_ok(&cfg, &p, 1, &b);
    assert_string_equal(b.url, "https://api.openai.com/v1/chat/completions");
    assert_string_equal(at_str(b.json, "model"), "gpt-4o-mini");
    assert_int_equal(json_object_array_length(at(b.json, "messages")), 4);
    assert_string_equal(at_str(b.json, "messages.0.role"), "system");
    assert_string_equal(at_str(b.json, "messages.0.content"), "Be brief.");
    assert_string_equal(at_str(b.json, "messages.1.role"), "user");
    assert_string_equal(at_str(b.json, "messages.1.content"), "What is photosynthesis?");
    assert_string_equal(at_str(b.json, "messages.2.role"), "assistant");
    assert_string_equal(at_str(b.json, "messages.3.role"), "user");
    assert_string_equal(at_str(b.json, "messages.3.content"), "Where does it happen?");
    assert_true(json_object_get_double(at(b.json, "temperature")) == 0.0);
    assert_int_equal(json_object_get_int(at(b.json, "max_tokens")), 300);
    assert_string_equal(at_str(b.json, "response_format.type"), "json_object");
    assert_true(json_object_is_type(at(b.json, "stream"), json_type_boolean));
    assert_true(json_object_get_boolean(at(b.json, "stream")));
    assert_int_equal(n_headers(b.headers), 3);
    assert_true(has_header(b.headers, "Authorization: Bearer sk-test-abcdef"));
    assert_true(has_header(b.headers, "Accept: text/event-stream"));
    assert_null(strstr(b.body, "sk-test"));
    built_free(&b);

    /* Not streamed, no schema, no system, no key (a local server). */
    cfg = make_cfg(TUTOR_LLM_OPENAI, "http://localhost:11434/v1", NULL, "llama3.2");
    p.system = NULL;
    p.json_schema = NULL;
    p.temperature = -1;
    p.max_tokens = -1;
    build_ok(&cfg, &p, 0, &b);
    assert_int_equal(json_object_array_length(at(b.json, "messages")), 3);
    assert_string_equal(at_str(b.json, "messages.0.role"), "user");
    assert_null(at(b.json, "stream"));
    assert_null(at(b.json, "response_format"));
    assert_int_equal(json_object_get_int(at(b.json, "max_tokens")), 1024);
    assert_int_equal(n_headers(b.headers), 2);
    assert_false(has_header(b.headers, "Authorization: Bearer "));
    built_free(&b);
}

static void test_build_refuses_offline_no_model_bad_schema_no_message(void **state)
{
    tutor_llm_cfg cfg = make_cfg(TUTOR_LLM_OFFLINE, "http://x", NULL, "m");
    tutor_llm_msg one = {0, "Hi"};
    tutor_llm_prompt p = {.msgs = &one, .n_msgs = 1, .temperature = -1};
    char *url = (char *)"x", **headers = (char **)&url, *body = (char *)"x";
    char err[256];

    (void)state;
    err[0] = '\0';
    assert_int_equal(tutor_llm_build(&cfg, &p, 0, &url, &headers, &body, err, sizeof(err)),
                     LX_EINVAL);
    assert_null(url);
    assert_null(headers);
    assert_null(body);
    assert_non_null(strstr(err, "offline"));

    cfg = make_cfg(TUTOR_LLM_GEMINI, "http://x", NULL, "");
    err[0] = '\0';
    assert_int_equal(tutor_llm_build(&cfg, &p, 0, &url, &headers, &body, err, sizeof(err)),
                     LX_EINVAL);
    assert_non_null(strstr(err, "model"));

    cfg = make_cfg(TUTOR_LLM_OPENAI, "http://x", NULL, "m");
    p.json_schema = "{\"type\": \"object\",";
    err[0] = '\0';
    assert_int_equal(tutor_llm_build(&cfg, &p, 0, &url, &headers, &body, err, sizeof(err)),
                     LX_EINVAL);
    assert_non_null(strstr(err, "schema"));
    p.json_schema = "[1, 2]";
    assert_int_equal(tutor_llm_build(&cfg, &p, 0, &url, &headers, &body, err, sizeof(err)),
                     LX_EINVAL);

    p.json_schema = NULL;
    p.n_msgs = 0;
    assert_int_equal(tutor_llm_build(&cfg, &p, 0, &url, &headers, &body, err, sizeof(err)),
                     LX_EINVAL);

    /* A key with a line break would forge a header: refused, not quoted. */
    cfg = make_cfg(TUTOR_LLM_OPENAI, "http://x", "sk-abc\r\nX-Evil: 1", "m");
    p.n_msgs = 1;
    err[0] = '\0';
    assert_int_equal(tutor_llm_build(&cfg, &p, 0, &url, &headers, &body, err, sizeof(err)),
                     LX_EINVAL);
    assert_null(strstr(err, "sk-abc"));
}

static void test_build_escapes_text_as_json(void **state)
{
    tutor_llm_cfg cfg = make_cfg(TUTOR_LLM_OPENAI, "http://x/v1", NULL, "m");
    tutor_llm_msg one = {0, "He said \"stop\"\n\tthen \\ left. </script> caf\xc3\xa9"};
    tutor_llm_prompt p = {.msgs = &one, .n_msgs = 1, .temperature = -1};
    built b = {0};

    (void)state;
    build_ok(&cfg, &p, 0, &b);
    assert_string_equal(at_str(b.json, "messages.0.content"), one.text);
    built_free(&b);
}

/* ---- whole answers ------------------------------------------------------- */

static int parse(tutor_llm_kind kind, const char *body, char **text, char *err)
{
    err[0] = '\0';
    return tutor_llm_parse(kind, body, strlen(body), text, err, 256);
}

static void test_parse_gemini_answers(void **state)
{
    char *text = NULL, err[256];

    (void)state;
    assert_int_equal(
        parse(TUTOR_LLM_GEMINI,
              "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Plants make food "
              "from light.\"}], \"role\": \"model\"}, \"finishReason\": \"STOP\", \"index\": 0}],"
              " \"usageMetadata\": {\"promptTokenCount\": 12, \"candidatesTokenCount\": 6},"
              " \"modelVersion\": \"gemini-2.0-flash\"}\n",
              &text, err),
        LX_OK);
    assert_string_equal(text, "Plants make food from light.");
    free(text);

    /* Several parts are joined; a thought part is left out. */
    assert_int_equal(
        parse(TUTOR_LLM_GEMINI,
              "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"thinking...\","
              "\"thought\":true},{\"text\":\"It happens \"},{\"text\":\"in the leaves.\"}],"
              "\"role\":\"model\"},\"finishReason\":\"STOP\"}]}",
              &text, err),
        LX_OK);
    assert_string_equal(text, "It happens in the leaves.");
    free(text);

    /* A truncated answer (MAX_TOKENS) is still an answer. */
    assert_int_equal(parse(TUTOR_LLM_GEMINI,
                           "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Part\"}]},"
                           "\"finishReason\":\"MAX_TOKENS\"}]}",
                           &text, err),
                     LX_OK);
    assert_string_equal(text, "Part");
    free(text);
}

static void test_parse_gemini_blocked_error_and_malformed(void **state)
{
    char *text = (char *)"x", err[256];

    (void)state;
    assert_int_equal(parse(TUTOR_LLM_GEMINI,
                           "{\"promptFeedback\": {\"blockReason\": \"SAFETY\", \"safetyRatings\": "
                           "[]}, \"usageMetadata\": {\"promptTokenCount\": 8}}",
                           &text, err),
                     LX_EINVAL);
    assert_null(text);
    assert_non_null(strstr(err, "blocked"));

    assert_int_equal(parse(TUTOR_LLM_GEMINI,
                           "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"index\":0,"
                           "\"safetyRatings\":[{\"category\":\"HARM_CATEGORY_HARASSMENT\","
                           "\"probability\":\"HIGH\"}]}]}",
                           &text, err),
                     LX_EINVAL);
    assert_non_null(strstr(err, "blocked"));
    assert_int_equal(parse(TUTOR_LLM_GEMINI,
                           "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
                           "\"finishReason\":\"PROHIBITED_CONTENT\"}]}",
                           &text, err),
                     LX_EINVAL);
    assert_non_null(strstr(err, "blocked"));

    assert_int_equal(parse(TUTOR_LLM_GEMINI,
                           "{\"error\": {\"code\": 400, \"message\": \"API key not valid. Please "
                           "pass a valid API key.\", \"status\": \"INVALID_ARGUMENT\"}}",
                           &text, err),
                     LX_EINVAL);
    assert_non_null(strstr(err, "API key not valid"));

    assert_int_equal(parse(TUTOR_LLM_GEMINI, "{\"candidates\": [", &text, err), LX_EINVAL);
    assert_int_equal(parse(TUTOR_LLM_GEMINI, "<html>Bad gateway</html>", &text, err), LX_EINVAL);
    assert_int_equal(parse(TUTOR_LLM_GEMINI, "{\"candidates\": []}", &text, err), LX_EINVAL);
    assert_int_equal(parse(TUTOR_LLM_GEMINI, "{\"a\":1} trailing", &text, err), LX_EINVAL);
    assert_int_equal(parse(TUTOR_LLM_GEMINI, "", &text, err), LX_EINVAL);
    assert_int_equal(parse(TUTOR_LLM_GEMINI,
                           "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]},"
                           "\"finishReason\":\"STOP\"}]}",
                           &text, err),
                     LX_EINVAL);
    assert_non_null(strstr(err, "empty"));
    assert_null(text);
}

static void test_parse_openai_answers_and_failures(void **state)
{
    char *text = NULL, err[256];

    (void)state;
    assert_int_equal(
        parse(TUTOR_LLM_OPENAI,
              "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"created\":1732790000,"
              "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
              "\"assistant\",\"content\":\"In the leaves.\\nIn the **chloroplasts**.\","
              "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
              "{\"prompt_tokens\":20,\"completion_tokens\":9,\"total_tokens\":29}}",
              &text, err),
        LX_OK);
    assert_string_equal(text, "In the leaves.\nIn the **chloroplasts**.");
    free(text);

    text = (char *)"x";
    assert_int_equal(parse(TUTOR_LLM_OPENAI,
                           "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                           "\"content\":null},\"finish_reason\":\"stop\"}]}",
                           &text, err),
                     LX_EINVAL);
    assert_null(text);
    assert_int_equal(parse(TUTOR_LLM_OPENAI,
                           "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\"}}]}",
                           &text, err),
                     LX_EINVAL);
    assert_int_equal(parse(TUTOR_LLM_OPENAI,
                           "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":"
                           "\"I can't help with that.\"}}]}",
                           &text, err),
                     LX_EINVAL);
    assert_non_null(strstr(err, "help with that"));
    assert_int_equal(parse(TUTOR_LLM_OPENAI,
                           "{\"error\":{\"message\":\"You exceeded your current quota.\","
                           "\"type\":\"insufficient_quota\",\"param\":null,\"code\":"
                           "\"insufficient_quota\"}}",
                           &text, err),
                     LX_EINVAL);
    assert_non_null(strstr(err, "exceeded your current quota"));
    assert_int_equal(
        parse(TUTOR_LLM_OPENAI, "{\"error\":\"model 'llama9' not found\"}", &text, err), LX_EINVAL);
    assert_non_null(strstr(err, "not found"));
    assert_int_equal(parse(TUTOR_LLM_OPENAI, "{\"choices\":[]}", &text, err), LX_EINVAL);
    assert_int_equal(parse(TUTOR_LLM_OPENAI, "[1,2,3]", &text, err), LX_EINVAL);
    assert_int_equal(
        parse(TUTOR_LLM_OPENAI, "{\"choices\":[{\"message\":{\"content\":\"ok\"", &text, err),
        LX_EINVAL);
    assert_int_equal(
        parse(TUTOR_LLM_OPENAI, "{\"choices\":[{\"message\":{\"content\":\"\"}}]}", &text, err),
        LX_EINVAL);
    assert_int_equal(parse(TUTOR_LLM_OFFLINE, "{}", &text, err), LX_EINVAL);
    assert_null(text);
}

static char *reason(int status, const char *body)
{
    char *r = tutor_llm_error_reason(status, body, strlen(body));

    assert_non_null(r);
    return r;
}

static void test_error_reason_quotes_message_capped(void **state)
{
    char long_body[2048];
    char *r;

    (void)state;
    r = reason(429, "{\"error\": {\"code\": 429, \"message\": \"Resource has been exhausted "
                    "(e.g. check quota).\", \"status\": \"RESOURCE_EXHAUSTED\"}}");
    assert_non_null(r);
    assert_string_equal(r, "Resource has been exhausted (e.g. check quota).");
    free(r);

    r = reason(404, "{\"error\":\"model \\\"x\\\" not found\"}");
    assert_string_equal(r, "model \"x\" not found");
    free(r);

    /* Gemini's streaming endpoint wraps the error in an array. */
    r = reason(503, "[{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\"}}]");
    assert_string_equal(r, "The model is overloaded.");
    free(r);

    r = reason(502, "<html><body>Bad Gateway</body></html>");
    assert_string_equal(r, "HTTP 502");
    free(r);
    r = tutor_llm_error_reason(500, "", 0);
    assert_string_equal(r, "HTTP 500");
    free(r);
    r = tutor_llm_error_reason(500, NULL, 0);
    assert_string_equal(r, "HTTP 500");
    free(r);
    r = reason(400, "{\"error\":{\"code\":400}}");
    assert_string_equal(r, "HTTP 400");
    free(r);

    /* A long message: at most 200 bytes, not cut inside a character, one line. */
    strcpy(long_body, "{\"error\":{\"message\":\"line one\\nline two ");
    for (int i = 0; i < 150; i++)
        strcat(long_body, "\xc3\xa9");
    strcat(long_body, "\"}}");
    r = tutor_llm_error_reason(400, long_body, strlen(long_body));
    assert_true(strlen(r) <= 200);
    assert_true(strlen(r) >= 190);
    assert_null(strchr(r, '\n'));
    assert_true(strncmp(r, "line one line two ", 18) == 0);
    assert_true(((unsigned char)r[strlen(r) - 1] & 0xC0) == 0x80); /* ends on a whole é */
    assert_true(((strlen(r) - 18) % 2) == 0);
    free(r);
}

/* ---- streamed answers ------------------------------------------------------ */

/* The deltas of one stream, joined with '|' between them. */
typedef struct deltas {
    char s[8192];
    size_t len;
    int n;
    int n_empty;
} deltas;

static void on_delta(const char *text, size_t len, void *arg)
{
    deltas *d = arg;

    if (len == 0)
        d->n_empty++;
    if (d->n > 0 && d->len + 1 < sizeof(d->s))
        d->s[d->len++] = '|';
    if (d->len + len < sizeof(d->s)) {
        memcpy(d->s + d->len, text, len);
        d->len += len;
    }
    d->s[d->len] = '\0';
    d->n++;
}

/* Feeds stream in pieces cut at cuts[0..n_cuts) and finishes; returns the
 * first failure, or finish's code. */
static int run_stream(tutor_llm_kind kind, const char *stream, size_t len, const size_t *cuts,
                      size_t n_cuts, deltas *d, char *err)
{
    tutor_sse *s = tutor_sse_new(kind);
    size_t at_ = 0;
    int rc = LX_OK;

    assert_non_null(s);
    memset(d, 0, sizeof(*d));
    err[0] = '\0';
    for (size_t i = 0; i <= n_cuts && rc == LX_OK; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        rc = tutor_sse_feed(s, stream + at_, end - at_, on_delta, d, err, 256);
        at_ = end;
    }
    if (rc == LX_OK)
        rc = tutor_sse_finish(s, on_delta, d, err, 256);
    tutor_sse_free(s);
    return rc;
}

static int run_whole(tutor_llm_kind kind, const char *stream, deltas *d, char *err)
{
    return run_stream(kind, stream, strlen(stream), NULL, 0, d, err);
}

static const char openai_stream[] =
    ": keep-alive comment\r\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\r\n\r\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Plants \"},"
    "\"finish_reason\":null}]}\r\n\r\n"
    "event: message\r\nid: 7\r\nretry: 1000\r\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"make caf\xc3\xa9 "
    "\"},\"finish_reason\":null}]}\r\n\r\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"food.\"},"
    "\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"total_tokens\":30}}\n\n"
    "data: [DONE]\n\n";

static const char gemini_stream[] =
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Water \"}],\"role\": "
    "\"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9},\"modelVersion\": "
    "\"gemini-2.0-flash\"}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"rises, \"},{\"text\": "
    "\"cools\"}],\"role\": \"model\"},\"index\": 0}]}\r\n\r\n"
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" and falls.\"}],\"role\": "
    "\"model\"},\"finishReason\": \"STOP\",\"index\": 0}]}\r\n\r\n";

static void test_sse_openai_stream_gives_deltas_in_order(void **state)
{
    deltas d;
    char err[256];

    (void)state;
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI, openai_stream, &d, err), LX_OK);
    assert_string_equal(d.s, "Plants |make caf\xc3\xa9 |food.");
    assert_int_equal(d.n, 3);
    assert_int_equal(d.n_empty, 0);
}

static void test_sse_gemini_stream_gives_deltas_in_order(void **state)
{
    deltas d;
    char err[256];

    (void)state;
    assert_int_equal(run_whole(TUTOR_LLM_GEMINI, gemini_stream, &d, err), LX_OK);
    assert_string_equal(d.s, "Water |rises, cools| and falls.");
    assert_int_equal(d.n_empty, 0);
}

/* Cut at every single byte boundary, and byte by byte: the same deltas. */
static void check_every_split(tutor_llm_kind kind, const char *stream, const char *want)
{
    size_t len = strlen(stream);
    size_t *cuts = malloc(len * sizeof(*cuts));
    deltas d;
    char err[256];

    assert_non_null(cuts);
    for (size_t k = 1; k < len; k++) {
        assert_int_equal(run_stream(kind, stream, len, &k, 1, &d, err), LX_OK);
        assert_string_equal(d.s, want);
    }
    for (size_t k = 0; k + 1 < len; k++)
        cuts[k] = k + 1;
    assert_int_equal(run_stream(kind, stream, len, cuts, len - 1, &d, err), LX_OK);
    assert_string_equal(d.s, want);
    free(cuts);
}

static void test_sse_any_split_gives_the_same_deltas(void **state)
{
    (void)state;
    check_every_split(TUTOR_LLM_OPENAI, openai_stream, "Plants |make caf\xc3\xa9 |food.");
    check_every_split(TUTOR_LLM_GEMINI, gemini_stream, "Water |rises, cools| and falls.");
}

static void test_sse_line_ends_multiline_data_and_bom(void **state)
{
    deltas d;
    char err[256];
    /* CR-only line ends, a BOM, and one event's JSON spread over three data
     * lines (joined with "\n", which is white space to JSON). */
    const char cr_stream[] = "\xEF\xBB\xBF"
                             "data: {\"choices\":[{\"delta\":{\"content\":\"one\"}}]}\r\r"
                             "data: {\"choices\":\r"
                             "data: [{\"delta\":{\"content\":\"two\"},\r"
                             "data:\"finish_reason\":\"stop\"}]}\r\r";
    /* An escaped newline inside the JSON text stays in the one delta. */
    const char nl_in_text[] = "data: {\"choices\":[{\"delta\":{\"content\":\"a\\nb\"}}]}\n\n"
                              "data: [DONE]\n\n";
    /* CRLF inside one multi-line event: the LF of a CRLF ends no line. */
    const char crlf_multi[] = "data: {\"choices\":\r\n"
                              "data: [{\"delta\":{\"content\":\"joined\"},\r\n"
                              "data: \"finish_reason\":\"stop\"}]}\r\n\r\n";

    (void)state;
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI, crlf_multi, &d, err), LX_OK);
    assert_string_equal(d.s, "joined");
    check_every_split(TUTOR_LLM_OPENAI, crlf_multi, "joined");
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI, cr_stream, &d, err), LX_OK);
    assert_string_equal(d.s, "one|two");
    check_every_split(TUTOR_LLM_OPENAI, cr_stream, "one|two");
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI, nl_in_text, &d, err), LX_OK);
    assert_string_equal(d.s, "a\nb");
    assert_int_equal(d.n, 1);
}

static void test_sse_unterminated_last_event_is_processed(void **state)
{
    deltas d;
    char err[256];

    (void)state;
    assert_int_equal(run_whole(TUTOR_LLM_GEMINI,
                               "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
                               "\"Last\"}]},\"finishReason\":\"STOP\"}]}",
                               &d, err),
                     LX_OK);
    assert_string_equal(d.s, "Last");
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI,
                               "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"
                               "data: [DONE]",
                               &d, err),
                     LX_OK);
    assert_string_equal(d.s, "x");
}

static void test_sse_error_event_fails_and_stays_failed(void **state)
{
    tutor_sse *s = tutor_sse_new(TUTOR_LLM_OPENAI);
    deltas d;
    char err[256] = "";
    const char ok[] = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    const char bad[] = "data: {\"error\":{\"message\":\"upstream overloaded\",\"code\":503}}\n\n";

    (void)state;
    memset(&d, 0, sizeof(d));
    assert_int_equal(tutor_sse_feed(s, ok, strlen(ok), on_delta, &d, err, sizeof(err)), LX_OK);
    assert_int_equal(tutor_sse_feed(s, bad, strlen(bad), on_delta, &d, err, sizeof(err)),
                     LX_EINVAL);
    assert_non_null(strstr(err, "upstream overloaded"));
    err[0] = '\0';
    assert_int_equal(tutor_sse_feed(s, ok, strlen(ok), on_delta, &d, err, sizeof(err)), LX_EINVAL);
    assert_non_null(strstr(err, "upstream overloaded"));
    assert_int_equal(tutor_sse_finish(s, on_delta, &d, err, sizeof(err)), LX_EINVAL);
    assert_string_equal(d.s, "Hi");
    tutor_sse_free(s);

    /* Not JSON, and a Gemini block in the middle of a stream. */
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI, "data: {not json}\n\n", &d, err), LX_EINVAL);
    assert_int_equal(run_whole(TUTOR_LLM_GEMINI,
                               "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
                               "\"Hm\"}]}}]}\n\n"
                               "data: {\"candidates\":[{\"finishReason\":\"SAFETY\"}]}\n\n",
                               &d, err),
                     LX_EINVAL);
    assert_non_null(strstr(err, "blocked"));
    assert_string_equal(d.s, "Hm");
}

static void test_sse_over_long_line_is_too_big(void **state)
{
    tutor_sse *s = tutor_sse_new(TUTOR_LLM_OPENAI);
    size_t n = ((size_t)1 << 20) + 16;
    char *line = malloc(n);
    deltas d;
    char err[256] = "";

    (void)state;
    assert_non_null(line);
    memset(&d, 0, sizeof(d));
    memcpy(line, "data: \"", 7);
    memset(line + 7, 'a', n - 7);
    /* In two pieces: the limit holds across feeds. */
    assert_int_equal(tutor_sse_feed(s, line, n / 2, on_delta, &d, err, sizeof(err)), LX_OK);
    assert_int_equal(tutor_sse_feed(s, line + n / 2, n - n / 2, on_delta, &d, err, sizeof(err)),
                     LX_ETOOBIG);
    assert_int_equal(tutor_sse_finish(s, on_delta, &d, err, sizeof(err)), LX_ETOOBIG);
    assert_int_equal(d.n, 0);
    tutor_sse_free(s);
    free(line);
}

static void test_sse_truncated_stream_fails_at_finish(void **state)
{
    deltas d;
    char err[256];

    (void)state;
    /* OpenAI text but neither [DONE] nor a finish_reason. */
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI,
                               "data: {\"choices\":[{\"delta\":{\"content\":\"Half an \"}}]}\n\n",
                               &d, err),
                     LX_EINVAL);
    assert_non_null(strstr(err, "ended early"));
    assert_string_equal(d.s, "Half an ");
    /* Cut inside an event: its broken JSON is processed at the end and fails. */
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI,
                               "data: {\"choices\":[{\"delta\":{\"content\":\"A\"}}]}\n\n"
                               "data: {\"choices\":[{\"delta\":{\"cont",
                               &d, err),
                     LX_EINVAL);
    /* Gemini: no text at all. */
    assert_int_equal(run_whole(TUTOR_LLM_GEMINI, ": ping\n\n", &d, err), LX_EINVAL);
    assert_int_equal(run_whole(TUTOR_LLM_GEMINI, "", &d, err), LX_EINVAL);
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI, "", &d, err), LX_EINVAL);
    /* An error body that is not SSE yields nothing and is no stream. */
    assert_int_equal(run_whole(TUTOR_LLM_GEMINI,
                               "{\n  \"error\": {\n    \"code\": 503,\n    \"message\": "
                               "\"overloaded\"\n  }\n}\n",
                               &d, err),
                     LX_EINVAL);
    assert_int_equal(d.n, 0);
    /* Complete: a finish_reason without [DONE] is enough for OpenAI. */
    assert_int_equal(run_whole(TUTOR_LLM_OPENAI,
                               "data: {\"choices\":[{\"delta\":{\"content\":\"Done\"},"
                               "\"finish_reason\":\"length\"}]}\n\n",
                               &d, err),
                     LX_OK);
    assert_string_equal(d.s, "Done");
}

static void test_cfg_free_and_kind_names(void **state)
{
    tutor_llm_cfg cfg = make_cfg(TUTOR_LLM_GEMINI, NULL, NULL, NULL);

    (void)state;
    cfg.base_url = strdup("https://x");
    cfg.api_key = strdup("secret");
    cfg.model = strdup("m");
    tutor_llm_cfg_free(&cfg);
    assert_null(cfg.base_url);
    assert_null(cfg.api_key);
    assert_null(cfg.model);
    tutor_llm_cfg_free(&cfg); /* twice is harmless */
    assert_string_equal(tutor_llm_kind_name(TUTOR_LLM_GEMINI), "gemini");
    assert_string_equal(tutor_llm_kind_name(TUTOR_LLM_OPENAI), "openai");
    assert_string_equal(tutor_llm_kind_name(TUTOR_LLM_OFFLINE), "offline");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_gemini_body_has_system_roles_config_and_schema),
        cmocka_unit_test(test_build_gemini_stream_url_encodes_model_and_omits_absent_parts),
        cmocka_unit_test(test_build_openai_body_has_system_first_roles_and_flags),
        cmocka_unit_test(test_build_refuses_offline_no_model_bad_schema_no_message),
        cmocka_unit_test(test_build_escapes_text_as_json),
        cmocka_unit_test(test_parse_gemini_answers),
        cmocka_unit_test(test_parse_gemini_blocked_error_and_malformed),
        cmocka_unit_test(test_parse_openai_answers_and_failures),
        cmocka_unit_test(test_error_reason_quotes_message_capped),
        cmocka_unit_test(test_sse_openai_stream_gives_deltas_in_order),
        cmocka_unit_test(test_sse_gemini_stream_gives_deltas_in_order),
        cmocka_unit_test(test_sse_any_split_gives_the_same_deltas),
        cmocka_unit_test(test_sse_line_ends_multiline_data_and_bom),
        cmocka_unit_test(test_sse_unterminated_last_event_is_processed),
        cmocka_unit_test(test_sse_error_event_fails_and_stays_failed),
        cmocka_unit_test(test_sse_over_long_line_is_too_big),
        cmocka_unit_test(test_sse_truncated_stream_fails_at_finish),
        cmocka_unit_test(test_cfg_free_and_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
