/*
 * The chat turn shared by chat.c (the turn's chain, chat over the
 * document, the reply), chat_model.c (the event stream, model calls),
 * chat_history.c (GET history) and chat_quiz.c (the quiz turn: starting,
 * answering, cancelling a quiz through quiz.h). Internal to the tutoring
 * plugin.
 *
 * Every function here ends the turn or hands it on: after the call the
 * caller must not touch the chat_ctx again (it may already be freed).
 * All of them run on the request's worker loop.
 *
 * With a model (tutor_state.llm.kind not offline) a turn also makes one
 * model call (tutor_chat_llm); while it is in flight the client going
 * away cancels it and ends the turn. With c->stream the reply is a
 * stream of server-sent events:
 *   event: delta   data: {"text": "..."}      pieces of the answer, in order
 *   event: done    data: {the chat JSON}      the whole reply, last
 *   event: error   data: {"error", "code"}    instead of done after a failure
 * An error before the stream started is a plain JSON error reply.
 */
#ifndef TUTORING_CHAT_H
#define TUTORING_CHAT_H

#include <stddef.h>

#include <json-c/json.h>

#include "llm.h"
#include "offline.h"
#include "quiz.h"
#include "reply_audio.h"
#include "tutoring.h"

#define CHAT_MSG_NOT_READY                                                                         \
    "The text of this document is not ready yet.\n\n"                                              \
    "Please wait a moment and ask again."

enum chat_act { ACT_CHAT, ACT_QUIZ_START, ACT_QUIZ_ANSWER, ACT_QUIZ_CANCEL, ACT_NO_QUIZ };

/* One chat turn (made by tutor_h_chat; every string owned, freed with the
 * context when the turn ends). */
typedef struct chat_ctx {
    tutor_state *st;
    const lx_host *h;
    lx_req *req;
    lx_worker *w;
    int aborted;
    int writing; /* the first write was made: run the chain to its end */
    char *uid;
    char *query;
    char *thread_id;
    char *req_doc; /* documentId of the request, or NULL */
    char *mode;    /* or NULL */
    /* the thread */
    char *doc_id; /* its document after this turn, or NULL */
    char *created_at;
    tutor_quiz quiz;
    int have_quiz;
    /* quiz building (offload) */
    char *text;
    size_t text_len;
    char *doc_name;
    tutor_mcq *mcqs;
    size_t n_mcqs;
    int build_rc;
    /* the outcome */
    enum chat_act act;
    char *response;
    int quiz_complete, quiz_cancelled;
    int add_activity; /* 0 none, 1 chat, 2 quiz */
    int final_score, final_max;
    json_object *history; /* tutor_chat_turns_json's: for the reply only */
    /* models */
    int new_thread;       /* the thread was made by this turn */
    json_object *context; /* the thread's last turns before this one, or NULL */
    tutor_llm_call *llm;  /* the model call in flight, or NULL */
    /* streaming (Accept: text/event-stream) */
    int stream;         /* answer as server-sent events */
    int stream_started; /* reply_start was made: errors become an "error" event */
    /* the reply read aloud (reply_audio.h) */
    tutor_audio audio;
    int audio_asked;
} chat_ctx;

/* chat.c */

/* Ends the turn with an error reply (discarded when the client is gone)
 * and frees c. */
void tutor_chat_fail(chat_ctx *c, int http, const char *code, const char *message);

/* Ends the turn with the reply for a failed storage.v1 call
 * (tutor_reply_storage_error) and frees c. */
void tutor_chat_fail_storage(chat_ctx *c, int status, const char *message, const char *not_found);

/* True, and the turn ended (c freed), when the client left before any
 * write; 0 otherwise (c still the caller's to carry on with). */
int tutor_chat_gone(chat_ctx *c);

/* Saves the turn and answers: writes the thread's value (document, quiz
 * while one runs), the two new turns (c->query, c->response), then the
 * activity and the reply. c->response NULL (out of memory) ends the turn
 * with 500. Takes c over. */
void tutor_chat_save(chat_ctx *c);

/* The turn's document came back from doc_get (status, message, doc as
 * handed to the callback): 1 when its text is there to use (c is still
 * the caller's); 0 when the turn went on without the caller: the client
 * left, the call failed (the error reply), or the text is not ready yet
 * (the turn is saved with CHAT_MSG_NOT_READY). */
int tutor_chat_doc_usable(chat_ctx *c, int status, const char *message, const lx_storage_doc *doc);

/* The texts of the n passages items (borrowed from them) as an array in
 * *out, which the caller frees (NULL when n is 0): 0. When out of memory
 * the turn ends (500) and c is freed: -1. Event loop. */
int tutor_chat_passage_texts(chat_ctx *c, const lx_storage_passage *items, size_t n,
                             const char ***out);

/* A thread id as this plugin makes them (1..64 of [A-Za-z0-9_-]). */
int tutor_chat_valid_thread_id(const char *s);

/* chat_model.c */

/* One server-sent event "event: NAME\ndata: JSON\n\n" on the started
 * stream (json borrowed). LX_OK or the reply_chunk failure. */
int tutor_chat_sse_event(chat_ctx *c, const char *name, const char *json);

/* A "delta" event with text[0..len) (copied); starts the stream (200,
 * text/event-stream) first when needed. */
void tutor_chat_stream_delta(chat_ctx *c, const char *text, size_t len);

/* Ends the turn for a failed model call (tutor_llm_failure: 502 or 504)
 * and frees c. */
void tutor_chat_fail_llm(chat_ctx *c, const tutor_llm_result *r);

/* Starts c's model call with p (copied), streaming pieces to the client
 * when c->stream and stream_pieces; done runs as tutor_llm_start says.
 * On failure to start the turn ends (500) and c is freed: returns LX_OK
 * or that failure. */
int tutor_chat_llm(chat_ctx *c, const tutor_llm_prompt *p, int stream_pieces,
                   tutor_llm_done_fn done);

/* A chat turn (ACT_CHAT) answered by the model: the thread's last turns,
 * the document's best passages for the query, the model call, then
 * tutor_chat_save. Takes c over. */
void tutor_chat_model(chat_ctx *c);

/* chat_quiz.c */

/* Starts a quiz on c->doc_id (400 DOCUMENT_REQUIRED without one): reads
 * the document, builds the questions on the offload pool, keeps the quiz
 * in c->quiz and answers with the first question (or why there is none).
 * Takes c over. */
void tutor_chat_quiz_start(chat_ctx *c);

/* Judges c->query as the answer to the running quiz's current question
 * and answers with the feedback and what comes next (quiz.h); the last
 * answer completes the quiz (an activity is recorded). Takes c over. */
void tutor_chat_quiz_answer(chat_ctx *c);

/* Cancels the running quiz and says so. Takes c over. */
void tutor_chat_quiz_cancel(chat_ctx *c);

#endif
