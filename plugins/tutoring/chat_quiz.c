/*
 * The quiz turn of POST /api/v2/agent/chat (chat.h): starting a quiz on
 * the thread's document (doc_get → offload: tutor_offline_quiz, or a
 * model asked for the questions as JSON (prompt.h) → the first question),
 * answering the running quiz's question (a free-text answer that names no
 * option is judged by the model when there is one), cancelling it.
 * The quiz itself is quiz.h's; every path ends in tutor_chat_save or
 * tutor_chat_fail*, as in chat.c.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "chat.h"
#include "llm.h"
#include "offline.h"
#include "prompt.h"
#include "quiz.h"
#include "tutoring.h"

#define CHAT_MSG_CANCELLED                                                                         \
    "The quiz is cancelled. You can ask me about the document, or start a new quiz."
#define CHAT_MSG_TOO_SHORT                                                                         \
    "This document is too short for a quiz.\n\nYou can still ask me questions about it."
#define CHAT_QUIZ_MAX_CHARS 24000 /* bytes of the document a model sees for a quiz */

/* ------------------------------------------------------------------------ */
/* Quiz start: the document's text → questions (on the offload pool)      */

static void chat_quiz_work(void *arg)
{
    chat_ctx *c = arg;
    unsigned seed = 2166136261u;

    for (const char *p = c->thread_id; *p != '\0'; p++) /* FNV-1a of the thread id */
        seed = (seed ^ (unsigned char)*p) * 16777619u;
    c->build_rc =
        tutor_offline_quiz(c->text, c->text_len, TUTOR_QUIZ_QUESTIONS, seed, &c->mcqs, &c->n_mcqs);
}

/* c->mcqs are the new quiz's questions: keep the quiz and ask the first. */
static void chat_quiz_ready(chat_ctx *c)
{
    char *qtext;
    const char *name =
        c->doc_name != NULL && c->doc_name[0] != '\0' ? c->doc_name : "your document";

    if (c->n_mcqs == 0) {
        c->response = strdup(CHAT_MSG_TOO_SHORT);
        tutor_chat_save(c);
        return;
    }
    tutor_quiz_free(&c->quiz);
    c->have_quiz = 0;
    if (tutor_quiz_init(&c->quiz, c->mcqs, c->n_mcqs) != LX_OK) {
        c->mcqs = NULL;
        c->n_mcqs = 0;
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    c->mcqs = NULL;
    c->n_mcqs = 0;
    c->have_quiz = 1;
    qtext = tutor_quiz_question_text(&c->quiz);
    if (qtext != NULL) {
        size_t len = strlen(name) + strlen(qtext) + 160;
        c->response = malloc(len);
        if (c->response != NULL)
            snprintf(c->response, len,
                     "Let's start a quiz on \"%s\". There are %zu questions. Answer with a "
                     "letter. Say \"cancel quiz\" to stop.\n\n%s",
                     name, c->quiz.n, qtext);
        free(qtext);
    }
    tutor_chat_save(c);
}

static void chat_quiz_built(void *arg, int status)
{
    chat_ctx *c = arg;

    free(c->text);
    c->text = NULL;
    if (status != LX_OK) {
        tutor_chat_fail(c, 503, "SHUTTING_DOWN", "The server is shutting down");
        return;
    }
    if (c->build_rc != LX_OK) {
        tutor_chat_fail(c, 500, "INTERNAL", "Could not build a quiz");
        return;
    }
    chat_quiz_ready(c);
}

static void chat_quiz_llm_done(const tutor_llm_result *r, void *arg)
{
    chat_ctx *c = arg;
    char err[256] = "";
    int rc;

    c->llm = NULL;
    if (r->err != LX_OK) {
        tutor_chat_fail_llm(c, r);
        return;
    }
    rc = tutor_prompt_parse_quiz(r->text, r->text_len, TUTOR_QUIZ_QUESTIONS, &c->mcqs, &c->n_mcqs,
                                 err, sizeof(err));
    if (rc == LX_ENOMEM) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    if (rc != LX_OK) {
        tutor_llm_result bad = *r;
        bad.err = LX_EINVAL;
        bad.errmsg = err;
        tutor_chat_fail_llm(c, &bad);
        return;
    }
    chat_quiz_ready(c);
}

/* Starts c's model call for the one student message `user` under the
 * instruction `system` (both taken: freed here), with p's schema and
 * sampling settings; done runs as tutor_chat_llm says (which ends the turn
 * and frees c when the call cannot start). Event loop. */
static void chat_quiz_ask(chat_ctx *c, tutor_llm_prompt p, char *system, char *user,
                          tutor_llm_done_fn done)
{
    tutor_llm_msg msg = {.is_model = 0, .text = user};

    p.system = system;
    p.msgs = &msg;
    p.n_msgs = 1;
    (void)tutor_chat_llm(c, &p, 0, done);
    free(system);
    free(user);
}

/* Asks the model for the questions (c->text is the document's text). */
static void chat_quiz_llm(chat_ctx *c)
{
    tutor_llm_prompt p = {.json_schema = TUTOR_QUIZ_SCHEMA, .temperature = 0.2, .max_tokens = 2048};
    char *system = NULL, *user = NULL;

    if (tutor_prompt_quiz(c->st->target_grade, c->doc_name, c->text, c->text_len,
                          CHAT_QUIZ_MAX_CHARS, TUTOR_QUIZ_QUESTIONS, &system, &user) != LX_OK) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    free(c->text);
    c->text = NULL;
    chat_quiz_ask(c, p, system, user, chat_quiz_llm_done);
}

static void chat_on_quiz_doc(void *arg, int status, const char *message, const lx_storage_doc *doc)
{
    chat_ctx *c = arg;

    if (tutor_chat_gone(c))
        return;
    if (status != LX_OK) {
        tutor_chat_fail_storage(c, status, message, "Document not found");
        return;
    }
    if (strcmp(doc->status, LX_DOC_PROCESSED) != 0 || doc->text_len == 0) {
        c->response = strdup(strcmp(doc->status, LX_DOC_FAILED) == 0
                                 ? "I could not read the text of this document, so I cannot "
                                   "make a quiz from it."
                                 : CHAT_MSG_NOT_READY);
        tutor_chat_save(c);
        return;
    }
    c->text = malloc(doc->text_len + 1);
    c->doc_name = strdup(doc->name);
    if (c->text == NULL || c->doc_name == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    memcpy(c->text, doc->text, doc->text_len);
    c->text[doc->text_len] = '\0';
    c->text_len = doc->text_len;
    if (c->st->llm.kind != TUTOR_LLM_OFFLINE) {
        chat_quiz_llm(c);
        return;
    }
    if (c->h->offload(c->w, chat_quiz_work, chat_quiz_built, c) != LX_OK)
        tutor_chat_fail(c, 503, "BUSY", "The server is busy; try again");
}

/* Starts a quiz on the thread's document (chat.h). */
void tutor_chat_quiz_start(chat_ctx *c)
{
    int rc;

    c->act = ACT_QUIZ_START;
    if (c->doc_id == NULL) {
        tutor_chat_fail(c, 400, "DOCUMENT_REQUIRED", "Choose a document to start a quiz");
        return;
    }
    rc = c->st->sv->doc_get(c->st->sv_state, c->w, c->uid, c->doc_id, 1, chat_on_quiz_doc, c);
    if (rc != LX_OK)
        tutor_chat_fail_storage(c, rc, "doc_get failed", "Document not found");
}

/* ------------------------------------------------------------------------ */
/* A running quiz: answering, cancelling                                    */

/* Judges `answer` (c->query, or the option letter the model read in it)
 * and answers. */
static void chat_quiz_judge(chat_ctx *c, const char *answer)
{
    int judged = 0, complete = 0;
    int rc;

    rc = tutor_quiz_answer(&c->quiz, answer, &c->response, &judged, &complete);
    if (rc != LX_OK) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    if (complete) {
        c->quiz_complete = 1;
        c->add_activity = 2;
        c->final_score = c->quiz.score;
        c->final_max = (int)c->quiz.n;
    }
    tutor_chat_save(c);
}

static void chat_quiz_judge_done(const tutor_llm_result *r, void *arg)
{
    chat_ctx *c = arg;
    int k = -1;

    c->llm = NULL;
    if (r->err == LX_OK && c->quiz.index < c->quiz.n)
        k = tutor_prompt_parse_judge(r->text, r->text_len, c->quiz.qs[c->quiz.index].n_options);
    else if (r->err != LX_OK) { /* the student is asked again, as for an unclear answer */
        const char *code = NULL, *message = NULL;
        (void)tutor_llm_failure(c->st, c->req, r, &code, &message);
    }
    if (k >= 0) {
        char letter[2] = {(char)('A' + k), '\0'};
        chat_quiz_judge(c, letter);
    } else {
        chat_quiz_judge(c, c->query);
    }
}

/* Judges the answer to the current question (chat.h). */
void tutor_chat_quiz_answer(chat_ctx *c)
{
    c->act = ACT_QUIZ_ANSWER;
    if (c->st->llm.kind != TUTOR_LLM_OFFLINE && c->quiz.index < c->quiz.n &&
        tutor_mcq_pick(&c->quiz.qs[c->quiz.index], c->query) < 0) {
        tutor_llm_prompt p = {
            .json_schema = TUTOR_JUDGE_SCHEMA, .temperature = 0.0, .max_tokens = 64};
        char *system = NULL, *user = NULL;
        if (tutor_prompt_judge(&c->quiz.qs[c->quiz.index], c->query, &system, &user) != LX_OK) {
            tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
            return;
        }
        chat_quiz_ask(c, p, system, user, chat_quiz_judge_done);
        return;
    }
    chat_quiz_judge(c, c->query);
}

/* Cancels the running quiz (chat.h). */
void tutor_chat_quiz_cancel(chat_ctx *c)
{
    c->act = ACT_QUIZ_CANCEL;
    tutor_quiz_free(&c->quiz);
    c->have_quiz = 0;
    c->quiz_cancelled = 1;
    c->response = strdup(CHAT_MSG_CANCELLED);
    tutor_chat_save(c);
}
