/*
 * Answer formulation (../shared/docs/lexiaid-api.md §1 and §3): a dictated
 * transcript becomes clear writing, then edit commands change it.
 *
 *   POST /api/v2/answer-formulation/refine {transcript, question?, session_id?}
 *   POST /api/v2/answer-formulation/edit   {session_id, edit_command}
 *
 * A session is one storage.v1 record of the user, kind TUTOR_KIND_ANSWER,
 * key = the session id (a UUID made by record_put), value
 *   {"transcript", "question", "refined", "iteration_count",
 *    "history": [{"action": "refine"|"edit", "text", "command"?}]}
 * with the last ANSWER_HISTORY_MAX history entries.
 *
 * The flow of one request, every step a storage.v1 (or model) callback on
 * the worker loop:
 *   refine: [record_get of the session] -> refine (offline, or a model
 *           call) -> record_put -> activity_add -> reply
 *   edit:   record_get -> edit (offline, or a model call) -> record_put -> reply
 * A failed model call answers 502/504 (tutor_llm_failure); the client
 * going away during one cancels it.
 * The handler returns LX_ASYNC once the first call is made; every path
 * ends with exactly one reply, and the reply is always the last thing a
 * callback does (the job dies with the request, through req_on_cleanup).
 *
 * Nothing checks the refined text against the transcript yet, so
 * fidelity_score is null; speech does not exist yet, so
 * audio_content_base64 and timepoints are null.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "llm.h"
#include "offline.h"
#include "prompt.h"
#include "reply_audio.h"
#include "tutoring.h"

#define ANSWER_MIN_WORDS 5
#define ANSWER_MAX_WORDS 2000
#define ANSWER_MAX_QUESTION 1000      /* characters */
#define ANSWER_MAX_KEY 128            /* bytes of a storage.v1 key */
#define ANSWER_HISTORY_MAX 20         /* entries kept in a session */
#define ANSWER_MAX_VALUE (768u << 10) /* bytes of a session's JSON; storage takes 1 MiB */
#define ANSWER_ACTIVITY "answer"
#define ANSWER_POINTS 2
#define ANSWER_NOT_FOUND "Session not found or expired"
#define ANSWER_MAX_TEXT (64u << 10) /* bytes of a model's text kept */

/* One request in flight. Every member is owned (malloc'd or a json-c
 * reference) and released by answer_job_free when the request ends. */
typedef struct answer_job {
    tutor_state *st;
    lx_req *req;
    lx_worker *w;
    int is_edit;
    char *uid;
    char *transcript; /* refine: the new transcript */
    char *question;   /* refine: the new question, or NULL when not given */
    char *command;    /* edit: the edit command */
    char *session_id; /* the session's key; NULL for a new session until stored */
    char *refined;    /* the text the reply carries */
    int64_t iteration_count;
    json_object *prev;   /* the session's value while a model call runs, or NULL */
    tutor_llm_call *llm; /* the model call in flight, or NULL */
    tutor_audio audio;   /* the answer read aloud (reply_audio.h) */
    int audio_asked;
    int abort_watched; /* answer_on_abort is registered */
} answer_job;

static void answer_job_free(void *arg)
{
    answer_job *j = arg;

    if (j == NULL)
        return;
    free(j->uid);
    free(j->transcript);
    free(j->question);
    free(j->command);
    free(j->session_id);
    free(j->refined);
    json_object_put(j->prev);
    if (j->llm != NULL)
        tutor_llm_cancel(j->llm);
    tutor_audio_clear(&j->audio);
    free(j);
}

/* ------------------------------------------------------------------------ */
/* Small pieces                                                             */

/* Characters (UTF-8 code points) in s. */
static size_t answer_utf8_chars(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int answer_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* s without leading and trailing white space, as a new string (NULL when
 * out of memory). */
static char *answer_strdup_trim(const char *s, size_t len)
{
    char *r;

    while (len > 0 && answer_is_space(*s)) {
        s++;
        len--;
    }
    while (len > 0 && answer_is_space(s[len - 1]))
        len--;
    r = malloc(len + 1);
    if (r == NULL)
        return NULL;
    memcpy(r, s, len);
    r[len] = '\0';
    return r;
}

/* Is the request's Content-Type application/json (parameters allowed)? */
static int answer_is_json_type(const char *ctype)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;

    if (ctype == NULL)
        return 0;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    if (strncasecmp(ctype, want, n) != 0)
        return 0;
    ctype += n;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    return *ctype == '\0' || *ctype == ';';
}

static void answer_json_put(void *o)
{
    json_object_put(o);
}

/* Parses s[0..len) as exactly one JSON object; NULL when it is not one. */
static json_object *answer_parse_object(const char *s, size_t len)
{
    json_tokener *tok;
    json_object *o;
    size_t end;

    if (s == NULL || len == 0 || len > (size_t)INT32_MAX)
        return NULL;
    tok = json_tokener_new();
    if (tok == NULL)
        return NULL;
    o = json_tokener_parse_ex(tok, s, (int)len);
    end = json_tokener_get_parse_end(tok);
    if (o == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    if (o == NULL)
        return NULL;
    while (end < len && answer_is_space(s[end]))
        end++;
    if (end < len || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* The request's body as a JSON object, released when the request ends; or
 * NULL after answering 415 UNSUPPORTED_MEDIA_TYPE, 400 INVALID_JSON or
 * 500. */
static json_object *answer_body(tutor_state *st, lx_req *req)
{
    const lx_host *host = st->host;
    size_t len = 0;
    const char *body;
    json_object *o;

    if (!answer_is_json_type(host->req_header(req, "Content-Type"))) {
        host->reply_error(req, 415, "UNSUPPORTED_MEDIA_TYPE",
                          "the body must be JSON (Content-Type: application/json)");
        return NULL;
    }
    body = host->req_body(req, &len);
    o = answer_parse_object(body, len);
    if (o == NULL) {
        host->reply_error(req, 400, "INVALID_JSON", "the body must be a JSON object");
        return NULL;
    }
    if (host->req_on_cleanup(req, answer_json_put, o) != LX_OK) {
        json_object_put(o);
        host->reply_error(req, 500, "INTERNAL", "out of memory");
        return NULL;
    }
    return o;
}

/* Member `name` of o as a string: 1 and *out (borrowed from o) when it is
 * a string without NUL bytes; 0 when it is absent or null; -1 when it is
 * something else. */
static int answer_get_string(json_object *o, const char *name, const char **out, size_t *len)
{
    json_object *v;

    *out = NULL;
    *len = 0;
    if (!json_object_object_get_ex(o, name, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    *out = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    if (strlen(*out) != *len)
        return -1;
    return 1;
}

/* A new job for req, freed when the request ends; NULL when out of
 * memory (nothing answered). */
static answer_job *answer_job_new(tutor_state *st, lx_req *req, const lx_principal *p, int is_edit)
{
    answer_job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->st = st;
    j->req = req;
    j->w = st->host->req_worker(req);
    j->is_edit = is_edit;
    j->uid = strdup(p->uid);
    if (j->uid == NULL || st->host->req_on_cleanup(req, answer_job_free, j) != LX_OK) {
        answer_job_free(j);
        return NULL;
    }
    return j;
}

/* The reading level with one decimal, serialised as written. */
static json_object *answer_reading_level(const char *text)
{
    double g = round(tutor_fk_grade(text) * 10.0) / 10.0;
    char buf[32];

    if (!isfinite(g))
        g = 0;
    snprintf(buf, sizeof(buf), "%.1f", g);
    return json_object_new_double_s(g, buf);
}

static void answer_on_abort(lx_req *req, void *arg);
static void answer_reply_ok(answer_job *j);

static void answer_reply_resume(void *arg)
{
    answer_reply_ok(arg);
}

/* Answers 200 with the session's fields, read aloud first when speech.v1
 * wants replies read; the request (and the job) ends. */
static void answer_reply_ok(answer_job *j)
{
    const lx_host *host = j->st->host;
    const char *provider = j->st->provider != NULL ? j->st->provider : "offline";
    lx_req *req = j->req;
    int64_t count = j->iteration_count;
    json_object *o = json_object_new_object();
    const char *json;

    if (!j->audio_asked) {
        j->audio_asked = 1;
        if ((j->abort_watched || host->req_on_abort(req, answer_on_abort, j) == LX_OK) &&
            tutor_audio_start(j->st, j->w, req, j->uid, j->refined, &j->audio,
                              answer_reply_resume, j)) {
            j->abort_watched = 1;
            json_object_put(o);
            return;
        }
        j->abort_watched = 1;
    }
    if (o == NULL)
        goto nomem;
    if (json_object_object_add(o, "refined_answer", json_object_new_string(j->refined)) != 0 ||
        json_object_object_add(o, "session_id", json_object_new_string(j->session_id)) != 0 ||
        json_object_object_add(o, "status",
                               json_object_new_string(j->is_edit ? "edited" : "refined")) != 0 ||
        (!j->is_edit && json_object_object_add(o, "fidelity_score", NULL) != 0) ||
        json_object_object_add(o, "iteration_count", json_object_new_int64(count)) != 0 ||
        tutor_audio_put(&j->audio, o) != 0 ||
        json_object_object_add(o, "provider", json_object_new_string(provider)) != 0 ||
        json_object_object_add(o, "reading_level", answer_reading_level(j->refined)) != 0)
        goto nomem;
    json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    if (json == NULL)
        goto nomem;
    host->reply_json(req, 200, json);
    json_object_put(o);
    return;

nomem:
    json_object_put(o);
    host->reply_error(req, 500, "INTERNAL", "out of memory");
}

/* ------------------------------------------------------------------------ */
/* The session's value                                                      */

/* prev's history (an array, or nothing) plus {action, text[, command]},
 * of which the last ANSWER_HISTORY_MAX entries; NULL when out of memory. */
static json_object *answer_history(json_object *prev, const char *action, const char *text,
                                   const char *command)
{
    json_object *old = NULL, *h = json_object_new_array(), *e = json_object_new_object();
    size_t n = 0, from = 0;

    if (h == NULL || e == NULL)
        goto fail;
    if (prev != NULL && json_object_object_get_ex(prev, "history", &old) &&
        json_object_is_type(old, json_type_array))
        n = json_object_array_length(old);
    if (n + 1 > ANSWER_HISTORY_MAX)
        from = n + 1 - ANSWER_HISTORY_MAX;
    for (size_t i = from; i < n; i++) {
        json_object *it = json_object_array_get_idx(old, i);
        if (json_object_array_add(h, json_object_get(it)) != 0) {
            json_object_put(it);
            goto fail;
        }
    }
    if (json_object_object_add(e, "action", json_object_new_string(action)) != 0 ||
        json_object_object_add(e, "text", json_object_new_string(text)) != 0 ||
        (command != NULL &&
         json_object_object_add(e, "command", json_object_new_string(command)) != 0))
        goto fail;
    if (json_object_array_add(h, e) != 0)
        goto fail;
    return h;

fail:
    json_object_put(e);
    json_object_put(h);
    return NULL;
}

/* The session's new value as JSON text (malloc'd), built from the job and
 * the previous value (NULL for a new session). The oldest history entries
 * go first when the value would pass ANSWER_MAX_VALUE. NULL when out of
 * memory. */
static char *answer_value(const answer_job *j, json_object *prev, const char *transcript,
                          const char *question)
{
    json_object *o = json_object_new_object();
    json_object *h = answer_history(prev, j->is_edit ? "edit" : "refine", j->refined,
                                    j->is_edit ? j->command : NULL);
    char *out = NULL;

    if (o == NULL || h == NULL) {
        json_object_put(h);
        goto done;
    }
    if (json_object_object_add(o, "transcript", json_object_new_string(transcript)) != 0 ||
        json_object_object_add(o, "question",
                               question != NULL ? json_object_new_string(question) : NULL) != 0 ||
        json_object_object_add(o, "refined", json_object_new_string(j->refined)) != 0 ||
        json_object_object_add(o, "iteration_count", json_object_new_int64(j->iteration_count)) !=
            0) {
        json_object_put(h);
        goto done;
    }
    if (json_object_object_add(o, "history", h) != 0) {
        json_object_put(h);
        goto done;
    }
    for (;;) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (s == NULL)
            goto done;
        if (strlen(s) <= ANSWER_MAX_VALUE || json_object_array_length(h) <= 1) {
            out = strdup(s);
            break;
        }
        if (json_object_array_del_idx(h, 0, 1) != 0)
            goto done;
    }
done:
    json_object_put(o);
    return out;
}

/* A string member of a stored value, or NULL. */
static const char *answer_value_string(json_object *v, const char *name)
{
    json_object *s;

    if (v != NULL && json_object_object_get_ex(v, name, &s) &&
        json_object_is_type(s, json_type_string))
        return json_object_get_string(s);
    return NULL;
}

static int64_t answer_value_count(json_object *v)
{
    json_object *n;

    if (v != NULL && json_object_object_get_ex(v, "iteration_count", &n) &&
        json_object_is_type(n, json_type_int)) {
        int64_t c = json_object_get_int64(n);
        return c > 0 ? c : 0;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* POST /api/v2/answer-formulation/refine                                   */

static void refine_on_activity(void *arg, int status, const char *message)
{
    answer_job *j = arg;

    /* The session is stored: a lost progress point is not the student's
     * problem, so it is logged and the answer still goes out. */
    if (status != LX_OK)
        j->st->host->log(LX_LOG_WARN, TUTOR_SRC, j->req, "answer activity not recorded: %s",
                         message);
    answer_reply_ok(j);
}

static void refine_on_put(void *arg, int status, const char *message, const lx_storage_record *rec)
{
    answer_job *j = arg;
    tutor_state *st = j->st;
    int rc;

    if (status != LX_OK) {
        tutor_reply_storage_error(st, j->req, status, message, ANSWER_NOT_FOUND);
        return;
    }
    if (j->session_id == NULL) {
        j->session_id = strdup(rec->key);
        if (j->session_id == NULL) {
            st->host->reply_error(j->req, 500, "INTERNAL", "out of memory");
            return;
        }
    }
    rc = st->sv->activity_add(st->sv_state, j->w, j->uid, ANSWER_ACTIVITY, ANSWER_POINTS, 0, 0,
                              refine_on_activity, j);
    if (rc != LX_OK)
        refine_on_activity(j, rc, "the call was refused");
}

/* The client went away while a model call runs: stop it and end. */
static void answer_on_abort(lx_req *req, void *arg)
{
    answer_job *j = arg;

    if (j->llm != NULL) {
        tutor_llm_cancel(j->llm);
        j->llm = NULL;
        j->st->host->reply_error(req, 503, "CLIENT_GONE", "The client went away");
    } else if (j->audio.call != NULL) {
        tutor_audio_clear(&j->audio);
        j->st->host->reply_error(req, 503, "CLIENT_GONE", "The client went away");
    }
}

/* Starts the model call with system and user (borrowed) for j; done
 * carries on. Returns 0 when under way, or 1 after answering a failure. */
static int answer_llm(answer_job *j, const char *system, const char *user, double temperature,
                      tutor_llm_done_fn done)
{
    tutor_llm_msg msg = {.is_model = 0, .text = user};
    tutor_llm_prompt p = {.system = system,
                          .msgs = &msg,
                          .n_msgs = 1,
                          .temperature = temperature,
                          .max_tokens = 4096};
    int rc;

    if (!j->abort_watched && j->st->host->req_on_abort(j->req, answer_on_abort, j) != LX_OK) {
        j->st->host->reply_error(j->req, 500, "INTERNAL", "out of memory");
        return 1;
    }
    j->abort_watched = 1;
    rc = tutor_llm_start(j->st->host, j->w, &j->st->llm, &p, NULL, done, j, &j->llm);
    if (rc != LX_OK) {
        j->llm = NULL;
        j->st->host->reply_error(j->req, 500, "INTERNAL", "The AI tutor could not be asked");
        return 1;
    }
    return 0;
}

/* The model's text into j->refined; 0, or 1 after answering a failure. */
static int answer_take_text(answer_job *j, const tutor_llm_result *r)
{
    const char *code = NULL, *message = NULL;
    tutor_llm_result bad;
    int http;

    j->llm = NULL;
    if (r->err == LX_OK) {
        j->refined = tutor_prompt_clean_answer(r->text, r->text_len, ANSWER_MAX_TEXT);
        if (j->refined == NULL) {
            j->st->host->reply_error(j->req, 500, "INTERNAL", "out of memory");
            return 1;
        }
        if (j->refined[0] != '\0')
            return 0;
        bad = *r;
        bad.err = LX_EINVAL;
        bad.errmsg = "empty answer";
        r = &bad;
    }
    http = tutor_llm_failure(j->st, j->req, r, &code, &message);
    j->st->host->reply_error(j->req, http, code, message);
    return 1;
}

static int refine_put(answer_job *j, json_object *prev);

static void refine_on_llm(const tutor_llm_result *r, void *arg)
{
    answer_job *j = arg;

    if (answer_take_text(j, r) == 0)
        (void)refine_put(j, j->prev);
}

/* Refines the transcript and stores the session (prev: its previous value,
 * or NULL for a new one, borrowed). Returns 0 when the work is under way
 * (its callbacks answer), or 1 after answering a failure. */
static int refine_store(answer_job *j, json_object *prev)
{
    tutor_state *st = j->st;
    char *system = NULL, *user = NULL;
    int rc;

    if (st->llm.kind != TUTOR_LLM_OFFLINE) {
        const char *question = j->question;
        if (question == NULL)
            question = answer_value_string(prev, "question");
        if (tutor_prompt_refine(st->target_grade, j->transcript, question, &system, &user) !=
            LX_OK) {
            st->host->reply_error(j->req, 500, "INTERNAL", "out of memory");
            return 1;
        }
        j->prev = prev != NULL ? json_object_get(prev) : NULL;
        rc = answer_llm(j, system, user, 0.3, refine_on_llm);
        free(system);
        free(user);
        return rc;
    }
    j->refined = tutor_offline_refine(j->transcript);
    if (j->refined == NULL) {
        st->host->reply_error(j->req, 500, "INTERNAL", "out of memory");
        return 1;
    }
    return refine_put(j, prev);
}

/* Stores the session with j->refined; 0 when the put is under way, or 1
 * after answering a failure. */
static int refine_put(answer_job *j, json_object *prev)
{
    tutor_state *st = j->st;
    const char *question = j->question;
    char *value;
    int rc;

    j->iteration_count = answer_value_count(prev) + 1;
    if (question == NULL)
        question = answer_value_string(prev, "question");
    value = answer_value(j, prev, j->transcript, question);
    if (value == NULL) {
        st->host->reply_error(j->req, 500, "INTERNAL", "out of memory");
        return 1;
    }
    rc = st->sv->record_put(st->sv_state, j->w, j->uid, TUTOR_KIND_ANSWER, j->session_id, value,
                            refine_on_put, j);
    free(value);
    if (rc != LX_OK) {
        tutor_reply_storage_error(st, j->req, rc, "the storage call was refused", ANSWER_NOT_FOUND);
        return 1;
    }
    return 0;
}

static void refine_on_get(void *arg, int status, const char *message, const lx_storage_record *rec)
{
    answer_job *j = arg;
    json_object *prev = NULL;

    if (status == LX_OK) {
        prev = answer_parse_object(rec->json, strlen(rec->json));
        if (prev == NULL)
            j->st->host->log(LX_LOG_WARN, TUTOR_SRC, j->req,
                             "answer session value does not parse: starting a new session");
    } else if (status != LX_ENOENT && status != LX_EINVAL) {
        tutor_reply_storage_error(j->st, j->req, status, message, ANSWER_NOT_FOUND);
        return;
    }
    if (prev == NULL) {
        /* Unknown, another user's, or unreadable: a new session, as the
         * original starts one. */
        free(j->session_id);
        j->session_id = NULL;
    }
    (void)refine_store(j, prev);
    json_object_put(prev);
}

/* POST /api/v2/answer-formulation/refine {transcript, question?,
 * session_id?}: 200 {refined_answer, session_id, status:"refined",
 * fidelity_score:null, iteration_count, audio_content_base64:null,
 * timepoints:null, provider, reading_level}. 400 when the transcript is
 * missing, empty, under 5 or over 2000 words, or the question is over 1000
 * characters; 415 for a body that is not JSON. A session_id of this user
 * continues that session; any other starts a new one. Records the activity
 * "answer" (2 points). */
lx_rc tutor_h_refine(lx_req *req, void *state)
{
    tutor_state *st = state;
    const lx_host *host = st->host;
    const lx_principal *p = tutor_require_user(st, req);
    json_object *body;
    const char *transcript, *question, *sid;
    size_t tlen, qlen, slen;
    int has_t, has_q, has_s, words;
    answer_job *j;
    int rc;

    if (p == NULL)
        return LX_DONE;
    body = answer_body(st, req);
    if (body == NULL)
        return LX_DONE;

    has_t = answer_get_string(body, "transcript", &transcript, &tlen);
    if (has_t < 0) {
        host->reply_error(req, 400, "INVALID_REQUEST", "transcript must be a string");
        return LX_DONE;
    }
    words = has_t > 0 ? tutor_word_count(transcript) : 0;
    if (words == 0) {
        host->reply_error(req, 400, "TRANSCRIPT_REQUIRED", "Transcript is required");
        return LX_DONE;
    }
    if (words < ANSWER_MIN_WORDS) {
        host->reply_error(req, 400, "TRANSCRIPT_TOO_SHORT",
                          "Transcript too short (minimum 5 words). Please say at least 5 words.");
        return LX_DONE;
    }
    if (words > ANSWER_MAX_WORDS) {
        host->reply_error(
            req, 400, "TRANSCRIPT_TOO_LONG",
            "Transcript too long (maximum 2000 words). Please use at most 2000 words.");
        return LX_DONE;
    }
    has_q = answer_get_string(body, "question", &question, &qlen);
    if (has_q < 0) {
        host->reply_error(req, 400, "INVALID_REQUEST", "question must be a string");
        return LX_DONE;
    }
    if (has_q > 0 && answer_utf8_chars(question) > ANSWER_MAX_QUESTION) {
        host->reply_error(req, 400, "QUESTION_TOO_LONG",
                          "Question too long (maximum 1000 characters)");
        return LX_DONE;
    }
    has_s = answer_get_string(body, "session_id", &sid, &slen);
    if (has_s < 0) {
        host->reply_error(req, 400, "INVALID_REQUEST", "session_id must be a string");
        return LX_DONE;
    }

    j = answer_job_new(st, req, p, 0);
    if (j == NULL)
        return LX_FAIL;
    j->transcript = answer_strdup_trim(transcript, tlen);
    if (j->transcript == NULL)
        return LX_FAIL;
    if (has_q > 0) {
        j->question = answer_strdup_trim(question, qlen);
        if (j->question == NULL)
            return LX_FAIL;
        if (j->question[0] == '\0') {
            free(j->question);
            j->question = NULL;
        }
    }
    if (has_s > 0 && slen >= 1 && slen <= ANSWER_MAX_KEY) {
        j->session_id = strdup(sid);
        if (j->session_id == NULL)
            return LX_FAIL;
        rc = st->sv->record_get(st->sv_state, j->w, j->uid, TUTOR_KIND_ANSWER, j->session_id,
                                refine_on_get, j);
        if (rc != LX_OK) {
            tutor_reply_storage_error(st, req, rc, "the storage call was refused",
                                      ANSWER_NOT_FOUND);
            return LX_DONE;
        }
        return LX_ASYNC;
    }
    return refine_store(j, NULL) == 0 ? LX_ASYNC : LX_DONE;
}

/* ------------------------------------------------------------------------ */
/* POST /api/v2/answer-formulation/edit                                     */

static void edit_on_put(void *arg, int status, const char *message, const lx_storage_record *rec)
{
    answer_job *j = arg;

    (void)rec;
    if (status != LX_OK) {
        tutor_reply_storage_error(j->st, j->req, status, message, ANSWER_NOT_FOUND);
        return;
    }
    answer_reply_ok(j);
}

/* Stores the edited session (prev: its value, borrowed). */
static void edit_put(answer_job *j, json_object *prev)
{
    tutor_state *st = j->st;
    const char *transcript;
    char *value;
    int rc;

    j->iteration_count = answer_value_count(prev) + 1;
    transcript = answer_value_string(prev, "transcript");
    value = answer_value(j, prev, transcript != NULL ? transcript : "",
                         answer_value_string(prev, "question"));
    if (value == NULL) {
        st->host->reply_error(j->req, 500, "INTERNAL", "out of memory");
        return;
    }
    rc = st->sv->record_put(st->sv_state, j->w, j->uid, TUTOR_KIND_ANSWER, j->session_id, value,
                            edit_on_put, j);
    free(value);
    if (rc != LX_OK)
        tutor_reply_storage_error(st, j->req, rc, "the storage call was refused", ANSWER_NOT_FOUND);
}

static void edit_on_llm(const tutor_llm_result *r, void *arg)
{
    answer_job *j = arg;

    if (answer_take_text(j, r) == 0)
        edit_put(j, j->prev);
}

static void edit_on_get(void *arg, int status, const char *message, const lx_storage_record *rec)
{
    answer_job *j = arg;
    tutor_state *st = j->st;
    const lx_host *host = st->host;
    json_object *prev = NULL;
    const char *text;
    char err[1024] = "";
    int rc, needs_model = 0;

    if (status == LX_ENOENT || status == LX_EINVAL) {
        host->reply_error(j->req, 404, "NOT_FOUND", ANSWER_NOT_FOUND);
        return;
    }
    if (status != LX_OK) {
        tutor_reply_storage_error(st, j->req, status, message, ANSWER_NOT_FOUND);
        return;
    }
    prev = answer_parse_object(rec->json, strlen(rec->json));
    text = answer_value_string(prev, "refined");
    if (text == NULL) {
        host->log(LX_LOG_WARN, TUTOR_SRC, j->req, "answer session without a refined text");
        host->reply_error(j->req, 404, "NOT_FOUND", ANSWER_NOT_FOUND);
        goto done;
    }
    if (st->llm.kind != TUTOR_LLM_OFFLINE) {
        char *system = NULL, *user = NULL;
        if (tutor_prompt_edit(text, j->command, &system, &user) != LX_OK) {
            host->reply_error(j->req, 500, "INTERNAL", "out of memory");
            goto done;
        }
        j->prev = json_object_get(prev);
        (void)answer_llm(j, system, user, 0.2, edit_on_llm);
        free(system);
        free(user);
        goto done;
    }
    rc = tutor_offline_edit(text, j->command, &j->refined, err, sizeof(err), &needs_model);
    if (rc == LX_EINVAL) {
        host->reply_error(j->req, 400, needs_model ? "EDIT_NEEDS_MODEL" : "EDIT_NOT_UNDERSTOOD",
                          err[0] != '\0' ? err : "The edit command was not understood");
        goto done;
    }
    if (rc != LX_OK || j->refined == NULL) {
        host->reply_error(j->req, 500, "INTERNAL", "out of memory");
        goto done;
    }
    edit_put(j, prev);
done:
    json_object_put(prev);
}

/* POST /api/v2/answer-formulation/edit {session_id, edit_command}: the
 * edit applied to the session's refined text and stored; 200 with the
 * refine fields minus fidelity_score, status "edited", iteration_count
 * one more. 400 INVALID_REQUEST when a field is missing, 400
 * EDIT_NOT_UNDERSTOOD with a message for the student (with examples), 400
 * EDIT_NEEDS_MODEL offline for what only a model can do (rephrase, ...:
 * the message names the providers), 404 NOT_FOUND for an unknown session
 * or another user's. */
lx_rc tutor_h_edit(lx_req *req, void *state)
{
    tutor_state *st = state;
    const lx_host *host = st->host;
    const lx_principal *p = tutor_require_user(st, req);
    json_object *body;
    const char *sid, *cmd;
    size_t slen, clen;
    answer_job *j;
    int has_s, has_c, rc;

    if (p == NULL)
        return LX_DONE;
    body = answer_body(st, req);
    if (body == NULL)
        return LX_DONE;
    has_s = answer_get_string(body, "session_id", &sid, &slen);
    has_c = answer_get_string(body, "edit_command", &cmd, &clen);
    j = answer_job_new(st, req, p, 1);
    if (j == NULL)
        return LX_FAIL;
    if (has_s > 0 && (j->session_id = answer_strdup_trim(sid, slen)) == NULL)
        return LX_FAIL;
    if (has_c > 0 && (j->command = answer_strdup_trim(cmd, clen)) == NULL)
        return LX_FAIL;
    if (j->session_id == NULL || j->session_id[0] == '\0') {
        host->reply_error(req, 400, "INVALID_REQUEST", "session_id is required");
        return LX_DONE;
    }
    if (j->command == NULL || j->command[0] == '\0') {
        host->reply_error(req, 400, "INVALID_REQUEST", "edit_command is required");
        return LX_DONE;
    }
    if (strlen(j->session_id) > ANSWER_MAX_KEY) {
        host->reply_error(req, 404, "NOT_FOUND", ANSWER_NOT_FOUND);
        return LX_DONE;
    }
    rc = st->sv->record_get(st->sv_state, j->w, j->uid, TUTOR_KIND_ANSWER, j->session_id,
                            edit_on_get, j);
    if (rc != LX_OK) {
        tutor_reply_storage_error(st, req, rc, "the storage call was refused", ANSWER_NOT_FOUND);
        return LX_DONE;
    }
    return LX_ASYNC;
}
