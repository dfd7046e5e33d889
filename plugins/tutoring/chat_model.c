/*
 * The model's side of a chat turn (chat.h): the server-sent events of a
 * streamed reply, starting a model call for the turn (its pieces go out
 * as "delta" events), and a chat turn answered by the model:
 *
 *   [doc_get_search] → model call → tutor_chat_save (chat.c)
 *
 * (the thread's last turns came with it: chat.c's record_get_items).
 *
 * The quiz's model calls are in chat_quiz.c.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "chat.h"
#include "llm.h"
#include "prompt.h"
#include "tutoring.h"

#define CHAT_LLM_PASSAGES 6
#define CHAT_MAX_ANSWER (32u << 10) /* bytes of a model's answer kept */

/* ------------------------------------------------------------------------ */
/* Server-sent events                                                       */

/* One event "event: NAME\ndata: JSON\n\n" (json has no line breaks:
 * json-c escapes them). */
int tutor_chat_sse_event(chat_ctx *c, const char *name, const char *json)
{
    size_t n = strlen(name) + strlen(json) + 20;
    char *buf = malloc(n);
    int len;

    if (buf == NULL)
        return LX_ENOMEM;
    len = snprintf(buf, n, "event: %s\ndata: %s\n\n", name, json);
    return c->h->reply_chunk(c->req, buf, (size_t)len, free);
}

static void chat_stream_start(chat_ctx *c)
{
    if (c->stream_started)
        return;
    c->h->set_header(c->req, "Cache-Control", "no-cache");
    c->h->set_header(c->req, "X-Accel-Buffering", "no");
    c->h->reply_start(c->req, 200, "text/event-stream; charset=utf-8");
    c->stream_started = 1;
}

/* A "delta" event with text[0..len). */
void tutor_chat_stream_delta(chat_ctx *c, const char *text, size_t len)
{
    json_object *o = json_object_new_object();
    const char *s;

    if (o == NULL)
        return;
    json_object_object_add(o, "text", json_object_new_string_len(text, (int)len));
    s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    if (s != NULL) {
        chat_stream_start(c);
        tutor_chat_sse_event(c, "delta", s);
    }
    json_object_put(o);
}

/* Ends the turn for a failed model call (chat.h). */
void tutor_chat_fail_llm(chat_ctx *c, const tutor_llm_result *r)
{
    const char *code = NULL, *message = NULL;
    int http = tutor_llm_failure(c->st, c->req, r, &code, &message);

    tutor_chat_fail(c, http, code, message);
}

static void chat_on_delta(const char *text, size_t len, void *arg)
{
    chat_ctx *c = arg;

    if (!c->aborted)
        tutor_chat_stream_delta(c, text, len);
}

/* Starts the model call (chat.h). */
int tutor_chat_llm(chat_ctx *c, const tutor_llm_prompt *p, int stream_pieces,
                   tutor_llm_done_fn done)
{
    int rc = tutor_llm_start(c->h, c->w, &c->st->llm, p,
                             c->stream && stream_pieces ? chat_on_delta : NULL, done, c, &c->llm);
    if (rc != LX_OK) {
        c->llm = NULL;
        c->h->log(LX_LOG_ERROR, TUTOR_SRC, c->req, "%s call not started (%d)", c->st->provider, rc);
        tutor_chat_fail(c, 500, "INTERNAL", "The AI tutor could not be asked");
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Chat with a model                                                        */

static void chat_on_llm_done(const tutor_llm_result *r, void *arg)
{
    chat_ctx *c = arg;

    c->llm = NULL;
    if (r->err != LX_OK) {
        tutor_chat_fail_llm(c, r);
        return;
    }
    c->response = tutor_prompt_clean_answer(r->text, r->text_len, CHAT_MAX_ANSWER);
    if (c->response != NULL && c->response[0] == '\0') {
        const char *code = NULL, *message = NULL;
        tutor_llm_result empty = *r;
        empty.err = LX_EINVAL;
        empty.errmsg = "empty answer";
        int http = tutor_llm_failure(c->st, c->req, &empty, &code, &message);
        tutor_chat_fail(c, http, code, message);
        return;
    }
    c->add_activity = 1;
    tutor_chat_save(c);
}

/* Asks the model: the system instruction (with the passages when there is
 * a document), the thread's last turns, then the question. */
static void chat_llm_ask(chat_ctx *c, const char *const *passages, size_t n)
{
    size_t n_ctx = c->context != NULL ? json_object_array_length(c->context) : 0, n_msgs = 0;
    tutor_llm_msg *msgs = calloc(n_ctx + 1, sizeof(*msgs));
    tutor_llm_prompt p = {.temperature = -1};
    char *system;

    if (msgs == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    for (size_t i = 0; i < n_ctx; i++) {
        json_object *t = json_object_array_get_idx(c->context, i), *v;
        const char *type = NULL, *content = NULL;
        if (json_object_object_get_ex(t, "type", &v))
            type = json_object_get_string(v);
        if (json_object_object_get_ex(t, "content", &v))
            content = json_object_get_string(v);
        if (type == NULL || content == NULL || content[0] == '\0')
            continue;
        if (strcmp(type, "human") == 0)
            msgs[n_msgs].is_model = 0;
        else if (strcmp(type, "ai") == 0)
            msgs[n_msgs].is_model = 1;
        else
            continue;
        msgs[n_msgs++].text = content;
    }
    msgs[n_msgs].is_model = 0;
    msgs[n_msgs++].text = c->query;
    system =
        tutor_prompt_chat_system(c->st->target_grade,
                                 c->doc_id == NULL                               ? NULL
                                 : c->doc_name != NULL && c->doc_name[0] != '\0' ? c->doc_name
                                                                                 : "your document",
                                 passages, n);
    if (system == NULL) {
        free(msgs);
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    p.system = system;
    p.msgs = msgs;
    p.n_msgs = n_msgs;
    (void)tutor_chat_llm(c, &p, 1, chat_on_llm_done);
    free(system);
    free(msgs);
}

static void chat_on_llm_passages(void *arg, int status, const char *message,
                                 const lx_storage_doc *doc, const lx_storage_passage *items,
                                 size_t n)
{
    chat_ctx *c = arg;
    const char **ps = NULL;

    if (!tutor_chat_doc_usable(c, status, message, doc))
        return;
    free(c->doc_name);
    c->doc_name = strdup(doc->name != NULL ? doc->name : "");
    if (c->doc_name == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    if (tutor_chat_passage_texts(c, items, n, &ps) != 0)
        return;
    chat_llm_ask(c, ps, n);
    free(ps);
}

/* A chat turn answered by the model (chat.h): the thread's last turns are
 * in c->context already. */
void tutor_chat_model(chat_ctx *c)
{
    int rc;

    if (c->doc_id == NULL) {
        chat_llm_ask(c, NULL, 0);
        return;
    }
    rc = c->st->sv->doc_get_search(c->st->sv_state, c->w, c->uid, c->doc_id, c->query,
                                   CHAT_LLM_PASSAGES, chat_on_llm_passages, c);
    if (rc != LX_OK)
        tutor_chat_fail_storage(c, rc, "doc_get_search failed", "Document not found");
}
