/*
 * The quiz turn of POST /api/v2/agent/chat (chat.h): starting a quiz on
 * the thread's document (doc_get → offload: tutor_offline_quiz → the
 * first question), answering the running quiz's question, cancelling it.
 * The quiz itself is quiz.h's; every path ends in tutor_chat_save or
 * tutor_chat_fail*, as in chat.c.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "chat.h"
#include "offline.h"
#include "quiz.h"
#include "tutoring.h"

#define CHAT_MSG_CANCELLED                                                                         \
    "The quiz is cancelled. You can ask me about the document, or start a new quiz."
#define CHAT_MSG_TOO_SHORT                                                                         \
    "This document is too short for a quiz.\n\nYou can still ask me questions about it."

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

static void chat_quiz_built(void *arg, int status)
{
    chat_ctx *c = arg;
    char *qtext;
    const char *name =
        c->doc_name != NULL && c->doc_name[0] != '\0' ? c->doc_name : "your document";

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

/* Judges the answer to the current question (chat.h). */
void tutor_chat_quiz_answer(chat_ctx *c)
{
    int judged = 0, complete = 0;
    int rc;

    c->act = ACT_QUIZ_ANSWER;
    rc = tutor_quiz_answer(&c->quiz, c->query, &c->response, &judged, &complete);
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
