/*
 * Language-model providers of the tutoring plugin: the wire formats
 * (llm_wire.c, pure) and the asynchronous call with deadline, retries and
 * streaming (llm.c, on the worker loop through host->http_fetch).
 *
 *   gemini  POST {base_url}/models/{model}:generateContent
 *           POST {base_url}/models/{model}:streamGenerateContent?alt=sse
 *           key in the "x-goog-api-key" header (never in the URL);
 *           body {systemInstruction, contents[{role "user"|"model", parts[{text}]}],
 *                 generationConfig{temperature, maxOutputTokens
 *                 [, responseMimeType "application/json", responseSchema]}}
 *           answer: candidates[0].content.parts[*].text joined; a stream is
 *           SSE "data: {same shape}" events until the body ends.
 *   openai  POST {base_url}/chat/completions (OpenAI, Ollama, llama.cpp,
 *           vLLM); "Authorization: Bearer KEY" when a key is set;
 *           body {model, messages[{role "system"|"user"|"assistant", content}],
 *                 temperature, max_tokens [, response_format {"type":"json_object"}]
 *                 [, stream true]}
 *           answer: choices[0].message.content; a stream is SSE
 *           "data: {choices[0].delta.content}" events, then "data: [DONE]".
 *
 * Secrets: the key is only ever put into a request header. No function
 * here logs, and no error message (err, tutor_llm_result.errmsg) ever
 * contains the key or a header; messages quote at most 200 bytes of an
 * upstream body.
 */
#ifndef TUTORING_LLM_H
#define TUTORING_LLM_H

#include <stddef.h>

#include <lexiaid/plugin.h>

typedef enum tutor_llm_kind {
    TUTOR_LLM_OFFLINE = 0, /* no model: the offline tutor (offline.h) */
    TUTOR_LLM_GEMINI = 1,
    TUTOR_LLM_OPENAI = 2,
} tutor_llm_kind;

/* A provider's settings (from the config; every string owned, freed by
 * tutor_llm_cfg_free). */
typedef struct tutor_llm_cfg {
    tutor_llm_kind kind;
    char *base_url; /* no trailing '/'; http:// or https:// */
    char *api_key;  /* NULL or "" when none (local OpenAI-compatible servers) */
    char *model;
    long long deadline_ms;        /* the whole call, retries included (default 120000) */
    long long connect_timeout_ms; /* per attempt (default 10000) */
    int max_attempts;             /* 1..10 (default 4) */
    long long backoff_ms; /* the first retry's base delay (default 500), doubled each time */
    double temperature;   /* 0..2 (default 0.3) */
    int max_tokens;       /* output cap (default 1024) */
} tutor_llm_cfg;

void tutor_llm_cfg_free(tutor_llm_cfg *cfg);

/* "gemini", "openai", "offline". */
const char *tutor_llm_kind_name(tutor_llm_kind kind);

/* One turn of the conversation given to a model. */
typedef struct tutor_llm_msg {
    int is_model;     /* 0: the student ("user"); 1: the tutor ("model"/"assistant") */
    const char *text; /* borrowed */
} tutor_llm_msg;

/* What to ask (all borrowed for the call that takes it). */
typedef struct tutor_llm_prompt {
    const char *system;        /* the system instruction, or NULL */
    const tutor_llm_msg *msgs; /* n_msgs >= 1; the last one is the student's */
    size_t n_msgs;
    /* NULL: the answer is text. Else the answer must be one JSON object:
     * a JSON Schema (the OpenAPI subset Gemini accepts: type, properties,
     * required, items, enum) as text. Gemini gets it as responseSchema
     * with responseMimeType application/json; OpenAI-compatible servers
     * get response_format {"type": "json_object"} (the schema is also
     * described in the system instruction by the caller). */
    const char *json_schema;
    double temperature; /* < 0: the cfg's */
    int max_tokens;     /* <= 0: the cfg's */
} tutor_llm_prompt;

/* ------------------------------------------------------------------------ */
/* Wire formats (llm_wire.c): pure, no host calls, no I/O, fuzzed          */

/* The URL, headers and body of one call. *url and *body are malloc'd;
 * *headers is a malloc'd NULL-terminated array of malloc'd "Name: value"
 * strings (free with tutor_llm_headers_free); it carries Content-Type,
 * Accept (text/event-stream when streaming) and the key's header when a
 * key is set. The model name is percent-encoded in a Gemini URL. LX_OK,
 * LX_EINVAL (message in err: no model, a bad schema text, kind offline),
 * LX_ENOMEM. */
int tutor_llm_build(const tutor_llm_cfg *cfg, const tutor_llm_prompt *p, int stream, char **url,
                    char ***headers, char **body, char *err, size_t errlen);
void tutor_llm_headers_free(char **headers);

/* The answer's text out of a whole (non-streamed) response body with
 * status 200: *text malloc'd (may be "" only when the model answered
 * nothing: that is LX_EINVAL "empty answer"). LX_EINVAL with a message
 * when the body is not the format's JSON, has no candidate/choice,
 * carries an "error" object, or the answer was blocked (Gemini
 * promptFeedback.blockReason, finishReason SAFETY). LX_ENOMEM. */
int tutor_llm_parse(tutor_llm_kind kind, const char *body, size_t len, char **text, char *err,
                    size_t errlen);

/* A short reason from an error response body (status >= 400) for the
 * log: the JSON error.message (or error when a string) truncated to 200
 * bytes, else "HTTP <status>". Always a malloc'd string (NULL only when
 * out of memory). */
char *tutor_llm_error_reason(int status, const char *body, size_t len);

/* Incremental parser of a streamed (SSE) answer. Bytes go in as they
 * arrive, split anywhere (inside a line, inside a UTF-8 sequence, CRLF or
 * LF line ends); each event's text delta comes out through on_delta in
 * order (never an empty one). Lines longer than 1 MiB are LX_ETOOBIG.
 * Comment lines (":"), "event:", "id:", "retry:" fields are ignored;
 * multi-line "data:" fields are joined with "\n" as the SSE spec says. */
typedef struct tutor_sse tutor_sse;
typedef void (*tutor_llm_delta_fn)(const char *text, size_t len, void *arg);

tutor_sse *tutor_sse_new(tutor_llm_kind kind); /* NULL when out of memory */
void tutor_sse_free(tutor_sse *s);
/* LX_OK; LX_EINVAL (message in err) when an event's data is not the
 * format's JSON or carries an error; LX_ETOOBIG; LX_ENOMEM. After an
 * error the parser stays failed (every later feed returns the same). */
int tutor_sse_feed(tutor_sse *s, const char *data, size_t len, tutor_llm_delta_fn on_delta,
                   void *arg, char *err, size_t errlen);
/* At the end of the body: LX_OK when the stream was complete (openai:
 * "[DONE]" seen, or a choice with a finish_reason; gemini: at least one
 * event with text, and the last with a finishReason or the body ended
 * cleanly after text), LX_EINVAL "stream ended early" otherwise. An
 * unterminated last event is processed first. */
int tutor_sse_finish(tutor_sse *s, tutor_llm_delta_fn on_delta, void *arg, char *err,
                     size_t errlen);

/* ------------------------------------------------------------------------ */
/* The call (llm.c): on the worker loop                                    */

typedef struct tutor_llm_call tutor_llm_call;

typedef struct tutor_llm_result {
    /* LX_OK; LX_ETIMEDOUT when the deadline passed; LX_EIO when the
     * provider failed (connection errors, 429/5xx after the retries, other
     * 4xx at once, a stream cut after text was delivered); LX_EINVAL when
     * the provider's answer was malformed; LX_ENOMEM. */
    int err;
    int http_status;  /* the last attempt's status, 0 when none */
    int attempts;     /* how many HTTP requests were made */
    const char *text; /* the whole answer (borrowed for the callback); NULL unless LX_OK */
    size_t text_len;
    const char *errmsg; /* borrowed for the callback; "" when LX_OK; never holds the key */
    double total_ms;    /* from tutor_llm_start to the callback */
} tutor_llm_result;

typedef void (*tutor_llm_done_fn)(const tutor_llm_result *r, void *arg);

/* Starts a call of cfg's provider with p (copied: borrowed only for this
 * call). Attempts are made with host->http_fetch; each gets the time left
 * before the deadline as its timeout. An attempt that fails with a
 * connection error, a timeout before the deadline, 429 or 5xx (500, 502,
 * 503, 504) is retried after backoff_ms * 2^(attempt-1), with full
 * jitter, at least a Retry-After (seconds) when the answer has one,
 * while attempts remain and the wait ends before the deadline; other
 * statuses end the call (LX_EIO). A malformed answer ends the call
 * (LX_EINVAL) without retry.
 *
 * Streaming: when on_delta is not NULL the streaming endpoint is used and
 * on_delta(text, len, arg) runs on the loop for each piece as it arrives
 * (the pieces joined are the final text). Once a piece was delivered the
 * call is no longer retried.
 *
 * done runs exactly once on the loop, never from inside tutor_llm_start,
 * unless tutor_llm_cancel is called first. Returns LX_OK and (if out) the
 * call's handle, valid until done runs or tutor_llm_cancel; or a negative
 * code (LX_EINVAL message logged, LX_ENOMEM) and done never runs. Logs
 * one line per failed attempt (status, reason, attempt), never the key. */
int tutor_llm_start(const lx_host *h, lx_worker *w, const tutor_llm_cfg *cfg,
                    const tutor_llm_prompt *p, tutor_llm_delta_fn on_delta, tutor_llm_done_fn done,
                    void *arg, tutor_llm_call **out);

/* Stops the call: the HTTP request in flight is cancelled (its connection
 * closed) and any retry timer stopped; done and on_delta will not run.
 * Safe from inside on_delta. */
void tutor_llm_cancel(tutor_llm_call *call);

#endif
