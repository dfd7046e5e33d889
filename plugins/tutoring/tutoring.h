/*
 * The tutoring plugin: document-grounded chat, quizzes and answer
 * formulation (../shared/docs/lexiaid-api.md §1, §3; the frontend's side in
 * lexiaid-frontend-calls.md). All its state lives in the storage plugin,
 * through the service storage.v1 (records scoped to the user):
 *
 *   kind "tutoring.thread", key = thread id ("thread_<8 hex>_<8 hex>"):
 *       value {"document_id": "..."|null, "quiz": {...}|null, "created_at"}
 *       items {"type": "human"|"ai"|"system", "content": "..."}
 *   kind "tutoring.answer", key = session id (a UUID):
 *       value {"transcript", "question", "refined", "iteration_count",
 *              "history": [...]}
 *
 * Files:
 *   tutoring.c  the plugin: config, init (looks storage.v1 up), handlers
 *   chat.c      POST /api/v2/agent/chat (chat.h); chat_model.c its model
 *               calls and event stream; chat_history.c GET /api/v2/agent/history
 *   chat_quiz.c the quiz turn of a chat: start, answer, cancel (chat.h)
 *   quiz.c      the quiz state machine inside a thread (quiz.h)
 *   answer.c    POST /api/v2/answer-formulation/refine and /edit
 *   offline.c   the offline tutor's text functions (offline.h): words and
 *               sentences, answers, readability (offline_int.h);
 *               offline_quiz.c quizzes, offline_edit.c refine and edit
 *   llm.c       a model call: deadline, retries, streaming (llm.h);
 *               llm_wire.c the providers' wire formats
 *   prompt.c    what the models are asked, and reading their JSON (prompt.h)
 *   chat_input.c the chat request: JSON or multipart (chat_input.h)
 *
 * Lifetimes: tutor_state is allocated by init() in the master, one per
 * generation, read-only afterwards, and freed by that generation's
 * shutdown(); workers inherit it through fork(). The plugin keeps no state
 * in statics: they would be shared by every generation of the process.
 */
#ifndef TUTORING_TUTORING_H
#define TUTORING_TUTORING_H

#include <stddef.h>

#include <lexiaid/auth.h>
#include <lexiaid/plugin.h>
#include <lexiaid/svc/storage_v1.h>

#include "llm.h"

#define TUTOR_SRC "tutoring"
#define TUTOR_KIND_THREAD "tutoring.thread"
#define TUTOR_KIND_ANSWER "tutoring.answer"
#define TUTOR_MAX_QUERY 4000   /* bytes of a chat query */
#define TUTOR_HISTORY_TURNS 10 /* turns kept as context */
#define TUTOR_HISTORY_PAGE 50  /* turns a chat reply and the history page show */
#define TUTOR_QUIZ_QUESTIONS 5

typedef struct tutor_state {
    const lx_host *host;
    const lx_storage_v1 *sv; /* storage.v1, required */
    void *sv_state;
    char *provider;      /* "offline", "gemini" or "openai" (owned) */
    double target_grade; /* reading level asked for, e.g. 6.0 */
    tutor_llm_cfg llm;   /* the model; llm.kind TUTOR_LLM_OFFLINE: none */
} tutor_state;

/* The answer a failed model call gets (tutor_llm_result.err → status):
 * LX_ETIMEDOUT 504 PROVIDER_TIMEOUT, LX_EINVAL 502 PROVIDER_BAD_ANSWER,
 * else 502 PROVIDER_ERROR; *code and *message are static strings for the
 * student. Logs the call's outcome (never the key). */
int tutor_llm_failure(tutor_state *st, lx_req *req, const tutor_llm_result *r, const char **code,
                      const char **message);

/* The signed-in user, or answers 401 UNAUTHENTICATED and returns NULL. */
const lx_principal *tutor_require_user(tutor_state *st, lx_req *req);

/* Answers a failed storage.v1 call: LX_ENOENT → 404 NOT_FOUND with
 * not_found; LX_EINVAL → 400 INVALID_REQUEST with message; LX_ECANCELED →
 * 503 SHUTTING_DOWN; else 503 STORAGE_UNAVAILABLE (message logged). */
void tutor_reply_storage_error(tutor_state *st, lx_req *req, int status, const char *message,
                               const char *not_found);

/* handlers ("tutoring.<name>" in the config) */
lx_rc tutor_h_chat(lx_req *req, void *state); /* chat.c */
lx_rc tutor_h_history(lx_req *req, void *state);
lx_rc tutor_h_refine(lx_req *req, void *state); /* answer.c */
lx_rc tutor_h_edit(lx_req *req, void *state);

#endif
