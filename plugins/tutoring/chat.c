/*
 * POST /api/v2/agent/chat (tutoring.h).
 *
 * One chat turn is a chain of at most three storage.v1 calls, each
 * continuing in the previous one's callback on the worker loop:
 *
 *   record_get_items(thread, its last turns for a model)
 *     → [doc_get_search (status, name, passages) | doc_get → offload: build quiz]
 *     → batch_items(thread value, human turn, ai turn[, activity]: one
 *       transaction; then the last 50 turns) → reply
 *
 * With a model the chat step is chat_model.c's (tutor_chat_model).
 *
 * The quiz turn (start: doc_get → offload or model; answer; cancel) is in
 * chat_quiz.c. A chat_ctx (chat.h) carries the turn; every path ends
 * exactly once in chat_reply or tutor_chat_fail*, which reply (the
 * answer, or an error) and free it. If the
 * client goes away before anything was written the chain stops at its next
 * step; once writing began it runs to the end so that the thread stays
 * whole, and the reply goes into the void.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <lexiaid/svc/speech_v1.h>

#include "chat.h"
#include "chat_input.h"
#include "chat_turns.h"
#include "offline.h"
#include "quiz.h"
#include "tutoring.h"

#define CHAT_HISTORY_MAX TUTOR_HISTORY_PAGE
#define CHAT_SEARCH_PASSAGES 5
#define CHAT_ANSWER_SENTENCES 3

#define CHAT_MSG_NO_DOC                                                                            \
    "I am the offline tutor. I answer questions about a document you choose.\n\n"                  \
    "Open one of your documents and ask me about it. I will show you what the text says.\n\n"      \
    "I do not make up answers from outside knowledge."
#define CHAT_MSG_NOT_FOUND                                                                         \
    "That is not in the document: I could not find it.\n\n"                                        \
    "Try asking with words that appear in the text. You can also say \"start quiz\" to "           \
    "practise what it says."
#define CHAT_MSG_NO_QUIZ "There is no quiz running right now. Say \"start quiz\" to begin one."

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static void chat_free(chat_ctx *c)
{
    free(c->uid);
    free(c->query);
    free(c->thread_id);
    free(c->req_doc);
    free(c->mode);
    free(c->doc_id);
    free(c->created_at);
    tutor_quiz_free(&c->quiz);
    free(c->text);
    free(c->doc_name);
    if (c->mcqs != NULL)
        tutor_mcqs_free(c->mcqs, c->n_mcqs);
    free(c->response);
    json_object_put(c->history);
    json_object_put(c->context);
    if (c->llm != NULL)
        tutor_llm_cancel(c->llm);
    tutor_audio_clear(&c->audio);
    free(c);
}

static void chat_on_abort(lx_req *req, void *arg)
{
    chat_ctx *c = arg;
    (void)req;
    c->aborted = 1;
    if (c->llm != NULL) {
        /* Nothing else is in flight: stop the model call and end here. */
        tutor_llm_cancel(c->llm);
        c->llm = NULL;
        tutor_chat_fail(c, 503, "CLIENT_GONE", "The client went away");
    } else if (c->audio.call != NULL) {
        /* the turn is saved; only its audio was on the way */
        tutor_chat_fail(c, 503, "CLIENT_GONE", "The client went away");
    }
}

/* Ends the turn with an error reply (discarded when the client is gone);
 * frees c (chat.h). After the stream started the error is an "error"
 * event and the stream ends. */
void tutor_chat_fail(chat_ctx *c, int http, const char *code, const char *message)
{
    if (c->stream_started) {
        json_object *o = json_object_new_object();
        const char *s = NULL;
        if (o != NULL) {
            json_object_object_add(o, "error", json_object_new_string(message));
            json_object_object_add(o, "code", json_object_new_string(code));
            s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        }
        if (s != NULL)
            tutor_chat_sse_event(c, "error", s);
        json_object_put(o);
        c->h->reply_end(c->req);
    } else {
        c->h->reply_error(c->req, http, code, message);
    }
    chat_free(c);
}

/* Ends the turn with a storage error reply; frees c (chat.h). */
void tutor_chat_fail_storage(chat_ctx *c, int status, const char *message, const char *not_found)
{
    tutor_reply_storage_error(c->st, c->req, status, message, not_found);
    chat_free(c);
}

/* True (and the turn ended, c freed) when the client left before any
 * write (chat.h). */
int tutor_chat_gone(chat_ctx *c)
{
    if (!c->aborted || c->writing)
        return 0;
    tutor_chat_fail(c, 503, "CLIENT_GONE", "The client went away");
    return 1;
}

static void chat_random_hex(char *out, size_t nbytes)
{
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (nbytes > sizeof(b))
        nbytes = sizeof(b);
    if (fd >= 0) {
        while (got < nbytes) {
            ssize_t r = read(fd, b + got, nbytes - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        close(fd);
    }
    if (got < nbytes) { /* no /dev/urandom: weaker, still unique enough per process */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x = (unsigned long long)ts.tv_nsec ^
                               ((unsigned long long)ts.tv_sec << 20) ^
                               ((unsigned long long)getpid() << 40);
        for (size_t i = got; i < nbytes; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

static char *chat_now_iso(void)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}

/* A thread id as this plugin makes them (also bounds what reaches storage). */
int tutor_chat_valid_thread_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

/* Member `key` of o as a string: *out NULL when absent or null; 0 when it
 * is there but not a string. */
static int chat_opt_str(json_object *o, const char *key, const char **out)
{
    json_object *v;

    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return 1;
    if (!json_object_is_type(v, json_type_string))
        return 0;
    *out = json_object_get_string(v);
    return 1;
}

static int chat_ieq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcasecmp(a, b) == 0;
}

/* The answer's sentences as short paragraphs. */
static char *chat_paragraphs(const char *prefix, const char *answer)
{
    char **sv = NULL;
    size_t n = 0, len = strlen(prefix) + 1;
    char *out;

    if (tutor_sentences(answer, strlen(answer), &sv, &n) != LX_OK || n == 0) {
        tutor_strv_free(sv, n);
        out = malloc(strlen(prefix) + strlen(answer) + 3);
        if (out != NULL)
            sprintf(out, "%s\n\n%s", prefix, answer);
        return out;
    }
    for (size_t i = 0; i < n; i++)
        len += strlen(sv[i]) + 2;
    out = malloc(len);
    if (out != NULL) {
        strcpy(out, prefix);
        for (size_t i = 0; i < n; i++) {
            strcat(out, "\n\n");
            strcat(out, sv[i]);
        }
    }
    tutor_strv_free(sv, n);
    return out;
}

/* ------------------------------------------------------------------------ */
/* The end of the chain: the reply                                          */

static void chat_reply(chat_ctx *c);

static void chat_reply_resume(void *arg)
{
    chat_reply(arg);
}

static void chat_reply(chat_ctx *c)
{
    json_object *o;
    int quiz_active = c->have_quiz && c->quiz.index < c->quiz.n;
    char grade[32];
    double g;
    const char *text;

    /* A chat answer is read aloud first (quiz turns are not: the frontend
     * synthesises those itself). */
    if (!c->audio_asked) {
        c->audio_asked = 1;
        if (c->act == ACT_CHAT && !c->aborted &&
            tutor_audio_start(c->st, c->w, c->req, c->uid, c->response, &c->audio,
                              chat_reply_resume, c))
            return;
    }
    o = json_object_new_object();
    if (o == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    g = tutor_fk_grade(c->response);
    if (!isfinite(g))
        g = 0.0;
    snprintf(grade, sizeof(grade), "%.1f", g);
    json_object_object_add(o, "response", json_object_new_string(c->response));
    json_object_object_add(o, "final_agent_response", json_object_new_string(c->response));
    json_object_object_add(o, "thread_id", json_object_new_string(c->thread_id));
    json_object_object_add(o, "active_quiz_thread_id",
                           quiz_active ? json_object_new_string(c->thread_id) : NULL);
    json_object_object_add(o, "conversation_history",
                           c->history != NULL ? json_object_get(c->history)
                                              : json_object_new_array());
    json_object_object_add(o, "quiz_active", json_object_new_boolean(quiz_active));
    json_object_object_add(o, "quiz_complete", json_object_new_boolean(c->quiz_complete));
    json_object_object_add(o, "quiz_cancelled", json_object_new_boolean(c->quiz_cancelled));
    json_object_object_add(o, "document_id",
                           c->doc_id != NULL ? json_object_new_string(c->doc_id) : NULL);
    json_object_object_add(o, "processing_mode", json_object_new_string("text"));
    tutor_audio_put(&c->audio, o);
    json_object_object_add(o, "error_detail", NULL);
    json_object_object_add(o, "provider", json_object_new_string(c->st->provider));
    json_object_object_add(o, "reading_level", json_object_new_double_s(g, grade));
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    if (text == NULL) {
        json_object_put(o);
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    if (c->stream) {
        if (!c->stream_started) {
            /* No piece went out yet (offline, quiz turns): the answer's
             * paragraphs as pieces, so that a streaming client reads the
             * same events whatever answered. */
            const char *r = c->response, *br;
            while ((br = strstr(r, "\n\n")) != NULL) {
                tutor_chat_stream_delta(c, r, (size_t)(br + 2 - r));
                r = br + 2;
            }
            if (*r != '\0' || !c->stream_started)
                tutor_chat_stream_delta(c, r, strlen(r));
        }
        tutor_chat_sse_event(c, "done", text);
        c->h->reply_end(c->req);
    } else {
        c->h->reply_json(c->req, 200, text);
    }
    json_object_put(o);
    chat_free(c);
}

static char *chat_item_json(const char *type, const char *content)
{
    json_object *o = json_object_new_object();
    char *out = NULL;

    if (o == NULL)
        return NULL;
    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "content", json_object_new_string(content));
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    if (s != NULL)
        out = strdup(s);
    json_object_put(o);
    return out;
}

/* The turn is written; items are the thread's last turns as they are now:
 * the reply's history. */
static void chat_on_batch(void *arg, int status, const char *message, const int64_t *seqs, size_t n,
                          const lx_storage_record *items, size_t n_items)
{
    chat_ctx *c = arg;

    (void)seqs;
    (void)n;
    if (status != LX_OK) {
        tutor_chat_fail_storage(c, status, message, "Thread not found");
        return;
    }
    c->history = tutor_chat_turns_json(items, n_items);
    if (c->history == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    chat_reply(c);
}

/* The turn's writes in one storage transaction (all or nothing, one
 * durable commit): the thread's value, the two turns, the activity; and
 * in the same trip the thread's last turns for the reply. */
static int chat_save_batch(chat_ctx *c, const char *value)
{
    lx_storage_op ops[4];
    size_t n = 0;
    char *human = chat_item_json("human", c->query), *ai = chat_item_json("ai", c->response);
    int rc = LX_ENOMEM;

    if (human == NULL || ai == NULL)
        goto done;
    memset(ops, 0, sizeof(ops));
    ops[n].type = LX_STORAGE_OP_PUT;
    ops[n].kind = TUTOR_KIND_THREAD;
    ops[n].key = c->thread_id;
    ops[n++].json = value;
    ops[n].type = LX_STORAGE_OP_APPEND;
    ops[n].kind = TUTOR_KIND_THREAD;
    ops[n].key = c->thread_id;
    ops[n++].json = human;
    ops[n].type = LX_STORAGE_OP_APPEND;
    ops[n].kind = TUTOR_KIND_THREAD;
    ops[n].key = c->thread_id;
    ops[n++].json = ai;
    if (c->add_activity != 0) {
        ops[n].type = LX_STORAGE_OP_ACTIVITY;
        if (c->add_activity == 2) {
            ops[n].activity = "quiz";
            ops[n].points = 10 * (int64_t)c->final_score;
            ops[n].score = (double)c->final_score;
            ops[n].max_score = (double)c->final_max;
        } else {
            ops[n].activity = "chat";
            ops[n].points = 1;
        }
        n++;
    }
    rc = c->st->sv->batch_items(c->st->sv_state, c->w, c->uid, ops, n, TUTOR_KIND_THREAD,
                                c->thread_id, CHAT_HISTORY_MAX, chat_on_batch, c);
done:
    free(human);
    free(ai);
    return rc;
}

/* Writes the thread's value (document, quiz), its two new turns and the
 * activity in one storage.v1 batch_items, then replies; takes c over
 * (chat.h). */
void tutor_chat_save(chat_ctx *c)
{
    json_object *v;
    const char *s;
    int rc;

    if (tutor_chat_gone(c))
        return;
    if (c->response == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    v = json_object_new_object();
    if (v == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    json_object_object_add(v, "document_id",
                           c->doc_id != NULL ? json_object_new_string(c->doc_id) : NULL);
    if (c->have_quiz && c->quiz.index < c->quiz.n) {
        json_object *q = tutor_quiz_to_json(&c->quiz);
        if (q == NULL) {
            json_object_put(v);
            tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
            return;
        }
        json_object_object_add(v, "quiz", q);
    } else {
        json_object_object_add(v, "quiz", NULL);
    }
    json_object_object_add(v, "created_at",
                           json_object_new_string(c->created_at ? c->created_at : ""));
    s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    c->writing = 1;
    rc = s != NULL ? chat_save_batch(c, s) : LX_ENOMEM;
    json_object_put(v);
    if (rc != LX_OK)
        tutor_chat_fail_storage(c, rc, "batch_items failed", NULL);
}

/* ------------------------------------------------------------------------ */
/* Chat over the document                                                   */

static void chat_on_passages(void *arg, int status, const char *message, const lx_storage_doc *doc,
                             const lx_storage_passage *items, size_t n)
{
    chat_ctx *c = arg;
    const char **ps = NULL;
    char *answer = NULL;
    int found = 0, rc;

    if (!tutor_chat_doc_usable(c, status, message, doc))
        return;
    if (n > 0) {
        if (tutor_chat_passage_texts(c, items, n, &ps) != 0)
            return;
        rc = tutor_offline_answer(c->query, ps, n, CHAT_ANSWER_SENTENCES, &answer, &found);
        free(ps);
        if (rc != LX_OK) {
            tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
            return;
        }
    }
    if (found && answer != NULL)
        c->response = chat_paragraphs("From your document:", answer);
    else
        c->response = strdup(CHAT_MSG_NOT_FOUND);
    free(answer);
    c->add_activity = 1;
    tutor_chat_save(c);
}

/* The passages' texts as an array (chat.h). */
int tutor_chat_passage_texts(chat_ctx *c, const lx_storage_passage *items, size_t n,
                             const char ***out)
{
    const char **ps = NULL;

    if (n > 0) {
        ps = malloc(n * sizeof(*ps));
        if (ps == NULL) {
            tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            ps[i] = items[i].text;
    }
    *out = ps;
    return 0;
}

/* The turn's document came back from doc_get (chat.h). */
int tutor_chat_doc_usable(chat_ctx *c, int status, const char *message, const lx_storage_doc *doc)
{
    if (tutor_chat_gone(c))
        return 0;
    if (status != LX_OK) {
        tutor_chat_fail_storage(c, status, message, "Document not found");
        return 0;
    }
    if (strcmp(doc->status, LX_DOC_PROCESSED) != 0) {
        c->response = strdup(CHAT_MSG_NOT_READY);
        c->add_activity = 1;
        tutor_chat_save(c);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* What this turn does                                                      */

/* A cancel with no quiz running. */
static void chat_no_quiz(chat_ctx *c)
{
    c->act = ACT_NO_QUIZ;
    c->response = strdup(CHAT_MSG_NO_QUIZ);
    tutor_chat_save(c);
}

static void chat_decide(chat_ctx *c)
{
    const lx_storage_v1 *sv = c->st->sv;
    int quiz_active = c->have_quiz && c->quiz.index < c->quiz.n;
    int rc;

    if (chat_ieq(c->mode, "general_chat") && c->have_quiz) {
        tutor_quiz_free(&c->quiz);
        c->have_quiz = 0;
        quiz_active = 0;
    }
    if (quiz_active) {
        if (tutor_quiz_is_cancel(c->query))
            tutor_chat_quiz_cancel(c);
        else
            tutor_chat_quiz_answer(c);
        return;
    }
    if (tutor_quiz_is_start(c->query) || chat_ieq(c->mode, "quiz")) {
        if (tutor_quiz_is_cancel(c->query)) {
            chat_no_quiz(c);
            return;
        }
        tutor_chat_quiz_start(c);
        return;
    }
    if (tutor_quiz_is_cancel(c->query)) {
        chat_no_quiz(c);
        return;
    }
    c->act = ACT_CHAT;
    if (c->st->llm.kind != TUTOR_LLM_OFFLINE) {
        tutor_chat_model(c);
        return;
    }
    if (c->doc_id == NULL) {
        c->response = strdup(CHAT_MSG_NO_DOC);
        c->add_activity = 1;
        tutor_chat_save(c);
        return;
    }
    rc = sv->doc_get_search(c->st->sv_state, c->w, c->uid, c->doc_id, c->query,
                            CHAT_SEARCH_PASSAGES, chat_on_passages, c);
    if (rc != LX_OK)
        tutor_chat_fail_storage(c, rc, "doc_get_search failed", "Document not found");
}

/* A new thread of this user, for the requested document. */
static void chat_new_thread(chat_ctx *c)
{
    char a[17], b[17];

    chat_random_hex(a, 4);
    chat_random_hex(b, 4);
    free(c->thread_id);
    c->thread_id = malloc(48);
    free(c->created_at);
    c->created_at = chat_now_iso();
    if (c->thread_id == NULL || c->created_at == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    snprintf(c->thread_id, 48, "thread_%s_%s", a, b);
    c->new_thread = 1;
    free(c->doc_id);
    c->doc_id = c->req_doc != NULL ? strdup(c->req_doc) : NULL;
    if (c->req_doc != NULL && c->doc_id == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    chat_decide(c);
}

/* The thread's value, and its last turns when the model needs them. */
static void chat_on_thread(void *arg, int status, const char *message, const lx_storage_record *rec,
                           const lx_storage_record *items, size_t n_items)
{
    chat_ctx *c = arg;
    json_object *v = NULL, *q = NULL;
    const char *doc = NULL, *created = NULL;

    if (tutor_chat_gone(c))
        return;
    if (status == LX_ENOENT || status == LX_EINVAL) {
        chat_new_thread(c);
        return;
    }
    if (status != LX_OK) {
        tutor_chat_fail_storage(c, status, message, NULL);
        return;
    }
    if (n_items > 0 && (c->context = tutor_chat_turns(items, n_items)) == NULL) {
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    v = json_tokener_parse(rec->json);
    if (v == NULL || !json_object_is_type(v, json_type_object)) {
        json_object_put(v);
        c->h->log(LX_LOG_WARN, TUTOR_SRC, c->req, "thread %s has a bad value: new thread",
                  c->thread_id);
        chat_new_thread(c);
        return;
    }
    chat_opt_str(v, "document_id", &doc);
    chat_opt_str(v, "created_at", &created);
    c->created_at = strdup(created != NULL ? created : "");
    if (c->req_doc != NULL)
        doc = c->req_doc; /* the request changes the thread's document */
    c->doc_id = doc != NULL && doc[0] != '\0' ? strdup(doc) : NULL;
    if (c->created_at == NULL || (doc != NULL && doc[0] != '\0' && c->doc_id == NULL)) {
        json_object_put(v);
        tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
        return;
    }
    if (json_object_object_get_ex(v, "quiz", &q) && q != NULL) {
        int rc = tutor_quiz_from_json(q, &c->quiz);
        if (rc == LX_ENOMEM) {
            json_object_put(v);
            tutor_chat_fail(c, 500, "INTERNAL", "Out of memory");
            return;
        }
        c->have_quiz = rc == LX_OK;
        if (rc != LX_OK)
            c->h->log(LX_LOG_WARN, TUTOR_SRC, c->req, "thread %s: unreadable quiz dropped",
                      c->thread_id);
    }
    json_object_put(v);
    chat_decide(c);
}

/* A chat turn with its query: from the request, or from a voice message. */
static lx_rc chat_begin(tutor_state *st, lx_req *req, const lx_principal *p, chat_input *in);

/* ---- voice messages (audio_file): transcribed through speech.v1 ---------- */

typedef struct chat_voice {
    tutor_state *st;
    lx_req *req;
    const lx_principal *p;
    chat_input in;
    const lx_speech_v1 *speech;
    lx_speech_transcription *t;
} chat_voice;

static void chat_voice_cleanup(void *arg)
{
    chat_voice *v = arg;

    if (v->t != NULL)
        v->speech->transcribe_cancel(v->t);
    v->t = NULL;
    tutor_chat_input_free(&v->in);
}

static void chat_voice_abort(lx_req *req, void *arg)
{
    chat_voice *v = arg;

    if (v->t == NULL)
        return;
    v->speech->transcribe_cancel(v->t);
    v->t = NULL;
    v->st->host->reply_error(req, 503, "CLIENT_GONE", "The client went away");
}

/* What the audio is, for the review answer's audio_format. */
static const char *chat_audio_format(const char *a, size_t len)
{
    if (len >= 4 && memcmp(a, "\x1a\x45\xdf\xa3", 4) == 0)
        return "webm";
    if (len >= 4 && memcmp(a, "OggS", 4) == 0)
        return "ogg";
    if (len >= 12 && memcmp(a, "RIFF", 4) == 0 && memcmp(a + 8, "WAVE", 4) == 0)
        return "wav";
    return "unknown";
}

static void chat_voice_done(void *arg, int status, int http, const char *code, const char *message,
                            const char *text, double confidence)
{
    chat_voice *v = arg;
    const lx_host *h = v->st->host;

    (void)confidence;
    v->t = NULL;
    if (status != LX_OK) {
        h->reply_error(v->req, http, code, message);
        return;
    }
    if (text[0] == '\0' && !v->in.review) {
        h->reply_error(v->req, 400, "STT_NO_SPEECH",
                       "No words were heard in the recording: try again, or type the message");
        return;
    }
    if (v->in.review) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "transcript", json_object_new_string(text));
        json_object_object_add(o, "thread_id",
                               v->in.thread_id != NULL ? json_object_new_string(v->in.thread_id)
                                                       : NULL);
        json_object_object_add(o, "processing_mode", json_object_new_string("review"));
        json_object_object_add(
            o, "audio_format",
            json_object_new_string(chat_audio_format(v->in.audio, v->in.audio_len)));
        h->reply_json(v->req, 200, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return;
    }
    if (strlen(text) > TUTOR_MAX_QUERY) {
        h->reply_error(v->req, 400, "QUERY_TOO_LONG", "The message is too long");
        return;
    }
    v->in.query = strdup(text);
    if (v->in.query == NULL) {
        h->reply_error(v->req, 500, "INTERNAL", "Out of memory");
        return;
    }
    v->in.audio = NULL;
    chat_begin(v->st, v->req, v->p, &v->in); /* takes what it uses of in */
}

/* direct_send or review: transcribe, then chat or answer the transcript. */
static lx_rc chat_voice_start(tutor_state *st, lx_req *req, const lx_principal *p, chat_input *in)
{
    const lx_host *h = st->host;
    void *sp = NULL;
    const lx_speech_v1 *speech = h->svc_lookup(LX_SPEECH_V1, &sp);
    chat_voice *v;

    if (speech == NULL || speech->struct_size < offsetof(lx_speech_v1, transcribe_cancel) +
                                                    sizeof(speech->transcribe_cancel)) {
        tutor_chat_input_free(in);
        h->reply_error(req, 503, "STT_UNAVAILABLE",
                       "Voice messages cannot be understood on this server (no speech plugin): "
                       "send the text of your message as query or transcript");
        return LX_DONE;
    }
    v = h->req_alloc(req, sizeof(*v));
    if (v == NULL) {
        tutor_chat_input_free(in);
        return LX_FAIL;
    }
    memset(v, 0, sizeof(*v));
    v->st = st;
    v->req = req;
    v->p = p;
    v->in = *in;
    v->speech = speech;
    memset(in, 0, sizeof(*in));
    h->req_on_cleanup(req, chat_voice_cleanup, v);
    h->req_on_abort(req, chat_voice_abort, v);
    h->req_set_user(req, p->uid);
    if (speech->transcribe(sp, h->req_worker(req), v->in.audio, v->in.audio_len, chat_voice_done, v,
                           &v->t) != LX_OK) {
        h->reply_error(req, 500, "INTERNAL", "Out of memory");
        return LX_DONE;
    }
    return LX_ASYNC;
}

lx_rc tutor_h_chat(lx_req *req, void *state)
{
    tutor_state *st = state;
    const lx_principal *p = tutor_require_user(st, req);
    chat_input in;

    if (p == NULL)
        return LX_DONE;
    if (tutor_chat_input(st, req, &in) != LX_OK)
        return LX_DONE;
    if (in.query == NULL)
        return chat_voice_start(st, req, p, &in);
    return chat_begin(st, req, p, &in);
}

static lx_rc chat_begin(tutor_state *st, lx_req *req, const lx_principal *p, chat_input *in_)
{
    const lx_host *h = st->host;
    chat_input in = *in_;
    chat_ctx *c;
    int rc;

    memset(in_, 0, sizeof(*in_));
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        tutor_chat_input_free(&in);
        h->reply_error(req, 500, "INTERNAL", "Out of memory");
        return LX_DONE;
    }
    c->st = st;
    c->h = h;
    c->req = req;
    c->w = h->req_worker(req);
    c->stream = in.want_stream;
    c->uid = strdup(p->uid);
    c->query = in.query;
    c->req_doc = in.doc;
    c->mode = in.mode;
    in.query = in.doc = in.mode = NULL;
    if (in.thread_id != NULL && tutor_chat_valid_thread_id(in.thread_id)) {
        c->thread_id = in.thread_id;
        in.thread_id = NULL;
    }
    tutor_chat_input_free(&in);
    if (c->uid == NULL) {
        chat_free(c);
        h->reply_error(req, 500, "INTERNAL", "Out of memory");
        return LX_DONE;
    }
    h->req_set_user(req, c->uid);
    h->req_on_abort(req, chat_on_abort, c);
    if (c->thread_id == NULL) {
        chat_new_thread(c);
        return LX_ASYNC;
    }
    rc = st->sv->record_get_items(st->sv_state, c->w, c->uid, TUTOR_KIND_THREAD, c->thread_id,
                                  st->llm.kind != TUTOR_LLM_OFFLINE ? TUTOR_HISTORY_TURNS : 0,
                                  chat_on_thread, c);
    if (rc != LX_OK)
        tutor_chat_fail_storage(c, rc, "record_get_items failed", NULL);
    return LX_ASYNC;
}
