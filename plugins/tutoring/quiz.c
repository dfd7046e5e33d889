/*
 * The quiz state machine of a tutoring thread (quiz.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "quiz.h"

/* ------------------------------------------------------------------------ */
/* State                                                                    */

int tutor_quiz_init(tutor_quiz *q, tutor_mcq *qs, size_t n)
{
    memset(q, 0, sizeof(*q));
    q->answers = malloc((n ? n : 1) * sizeof(int));
    if (q->answers == NULL) {
        tutor_mcqs_free(qs, n);
        return LX_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        q->answers[i] = -1;
    q->qs = qs;
    q->n = n;
    return LX_OK;
}

void tutor_quiz_free(tutor_quiz *q)
{
    if (q == NULL)
        return;
    if (q->qs != NULL)
        tutor_mcqs_free(q->qs, q->n);
    free(q->answers);
    memset(q, 0, sizeof(*q));
}

static const char *quiz_str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int quiz_int(json_object *o, const char *key, int64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    *out = json_object_get_int64(v);
    return 1;
}

int tutor_quiz_from_json(json_object *o, tutor_quiz *q)
{
    json_object *arr, *ans = NULL;
    tutor_mcq *qs = NULL;
    size_t n;
    int64_t index, score;
    int rc = LX_EINVAL;

    memset(q, 0, sizeof(*q));
    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "questions", &arr) ||
        !json_object_is_type(arr, json_type_array))
        return LX_EINVAL;
    n = json_object_array_length(arr);
    if (n == 0 || n > 10 || !quiz_int(o, "index", &index) || !quiz_int(o, "score", &score) ||
        index < 0 || (size_t)index > n || score < 0 || score > index)
        return LX_EINVAL;
    qs = calloc(n, sizeof(*qs));
    if (qs == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i), *opts;
        const char *qt = quiz_str(e, "question"), *ex = quiz_str(e, "explanation");
        int64_t correct;
        size_t no;
        if (qt == NULL || !json_object_object_get_ex(e, "options", &opts) ||
            !json_object_is_type(opts, json_type_array) || !quiz_int(e, "correct", &correct))
            goto fail;
        no = json_object_array_length(opts);
        if (no < 2 || no > 4 || correct < 0 || (size_t)correct >= no)
            goto fail;
        qs[i].question = strdup(qt);
        qs[i].explanation = strdup(ex != NULL ? ex : "");
        if (qs[i].question == NULL || qs[i].explanation == NULL)
            goto nomem;
        for (size_t k = 0; k < no; k++) {
            json_object *ov = json_object_array_get_idx(opts, k);
            if (!json_object_is_type(ov, json_type_string))
                goto fail;
            qs[i].options[k] = strdup(json_object_get_string(ov));
            if (qs[i].options[k] == NULL)
                goto nomem;
            qs[i].n_options = (int)k + 1;
        }
        qs[i].correct = (int)correct;
    }
    if (tutor_quiz_init(q, qs, n) != LX_OK)
        return LX_ENOMEM; /* qs freed */
    q->index = (size_t)index;
    q->score = (int)score;
    if (json_object_object_get_ex(o, "answers", &ans) &&
        json_object_is_type(ans, json_type_array)) {
        for (size_t i = 0; i < n && i < json_object_array_length(ans); i++) {
            json_object *a = json_object_array_get_idx(ans, i);
            if (json_object_is_type(a, json_type_int))
                q->answers[i] = (int)json_object_get_int64(a);
        }
    }
    return LX_OK;
nomem:
    rc = LX_ENOMEM;
fail:
    tutor_mcqs_free(qs, n);
    return rc;
}

json_object *tutor_quiz_to_json(const tutor_quiz *q)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array(),
                *ans = json_object_new_array();

    if (o == NULL || arr == NULL || ans == NULL)
        goto fail;
    for (size_t i = 0; i < q->n; i++) {
        const tutor_mcq *m = &q->qs[i];
        json_object *e = json_object_new_object(), *opts = json_object_new_array();
        if (e == NULL || opts == NULL) {
            json_object_put(e);
            json_object_put(opts);
            goto fail;
        }
        json_object_array_add(arr, e);
        json_object_object_add(e, "question", json_object_new_string(m->question));
        for (int k = 0; k < m->n_options; k++)
            json_object_array_add(opts, json_object_new_string(m->options[k]));
        json_object_object_add(e, "options", opts);
        json_object_object_add(e, "correct", json_object_new_int(m->correct));
        json_object_object_add(e, "explanation",
                               json_object_new_string(m->explanation ? m->explanation : ""));
        json_object_array_add(ans, json_object_new_int(q->answers[i]));
    }
    json_object_object_add(o, "questions", arr);
    json_object_object_add(o, "index", json_object_new_int64((int64_t)q->index));
    json_object_object_add(o, "score", json_object_new_int(q->score));
    json_object_object_add(o, "answers", ans);
    return o;
fail:
    json_object_put(o);
    json_object_put(arr);
    json_object_put(ans);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Phrases                                                                  */

/* query trimmed and lower-cased (ASCII) into buf; 0 when it does not fit. */
static int quiz_norm(const char *query, char *buf, size_t size)
{
    const char *s = query, *e;
    size_t n;

    if (query == NULL)
        return 0;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    n = (size_t)(e - s);
    if (n >= size)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    buf[n] = '\0';
    return 1;
}

int tutor_quiz_is_cancel(const char *query)
{
    static const char *const phrases[] = {"/cancel_quiz", "cancel quiz", "stop quiz",
                                          "exit quiz",    "end quiz",    NULL};
    char buf[64];

    if (!quiz_norm(query, buf, sizeof(buf)))
        return 0;
    for (size_t i = 0; phrases[i] != NULL; i++)
        if (strcmp(buf, phrases[i]) == 0)
            return 1;
    return 0;
}

/* Whether s starts with the words w, followed by the end or a space. */
static int quiz_words(const char *s, const char *w, const char **rest)
{
    size_t n = strlen(w);

    if (strncmp(s, w, n) != 0 || (s[n] != '\0' && s[n] != ' '))
        return 0;
    *rest = s + n + (s[n] == ' ');
    return 1;
}

/* The quiz requests a student types (or the frontend's own startQuiz sends:
 * "Start a quiz for document ID"), after polite words: the request, then
 * nothing or what the quiz is on ("on chapter 2", "about plants", "for
 * document X", "please"). A question that merely mentions a quiz ("what is
 * a quiz?") is none. */
int tutor_quiz_is_start(const char *query)
{
    static const char *const polite[] = {"please",   "can you",   "could you",    "would you",
                                         "will you", "can we",    "could we",     "let's",
                                         "lets",     "i want to", "i'd like to",  "i would like to",
                                         "i want",   "i'd like",  "i would like", "now",
                                         "ok",       "okay",      "hey",          "so",
                                         NULL};
    static const char *const asks[] = {"/start_quiz",
                                       "/quiz",
                                       "start quiz",
                                       "start a quiz",
                                       "start the quiz",
                                       "start a new quiz",
                                       "begin quiz",
                                       "begin a quiz",
                                       "begin the quiz",
                                       "quiz me",
                                       "quiz",
                                       "a quiz",
                                       "test me",
                                       "give me a quiz",
                                       "give me quiz",
                                       "make a quiz",
                                       "make me a quiz",
                                       "create a quiz",
                                       "do a quiz",
                                       "take a quiz",
                                       "have a quiz",
                                       "generate a quiz",
                                       "quiz time",
                                       "test my knowledge",
                                       "ask me questions",
                                       "ask me some questions",
                                       NULL};
    static const char *const tails[] = {"on",   "about",  "for", "from", "over",
                                        "with", "please", "now", "of",   NULL};
    char buf[256];
    const char *s, *rest;
    size_t n;

    if (!quiz_norm(query, buf, sizeof(buf)))
        return 0;
    n = strlen(buf);
    while (n > 0 && strchr(".!?", buf[n - 1]) != NULL)
        buf[--n] = '\0';
    s = buf;
    for (int again = 1; again;) {
        again = 0;
        for (size_t i = 0; polite[i] != NULL; i++)
            if (quiz_words(s, polite[i], &rest)) {
                s = rest + strspn(rest, " ,");
                again = 1;
            }
    }
    for (size_t i = 0; asks[i] != NULL; i++) {
        if (!quiz_words(s, asks[i], &rest))
            continue;
        rest += strspn(rest, " ,");
        if (*rest == '\0')
            return 1;
        for (size_t k = 0; tails[k] != NULL; k++)
            if (quiz_words(rest, tails[k], &rest))
                return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Texts                                                                    */

static void quiz_put_question(FILE *f, const tutor_quiz *q)
{
    const tutor_mcq *m = &q->qs[q->index];

    fprintf(f, "Question %zu of %zu: %s\n", q->index + 1, q->n, m->question);
    for (int k = 0; k < m->n_options; k++)
        fprintf(f, "\n%c) %s", 'A' + k, m->options[k]);
}

/* The text written by fn into a malloc'd string. */
static char *quiz_text(const tutor_quiz *q, void (*fn)(FILE *, const tutor_quiz *, void *),
                       void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f == NULL)
        return NULL;
    fn(f, q, arg);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return NULL;
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void quiz_w_question(FILE *f, const tutor_quiz *q, void *arg)
{
    (void)arg;
    quiz_put_question(f, q);
}

char *tutor_quiz_question_text(const tutor_quiz *q)
{
    if (q->index >= q->n)
        return NULL;
    return quiz_text(q, quiz_w_question, NULL);
}

typedef struct quiz_step {
    int picked; /* -1 unclear */
    int was_correct;
    const tutor_mcq *asked;
} quiz_step;

static void quiz_w_step(FILE *f, const tutor_quiz *q, void *arg)
{
    const quiz_step *s = arg;
    const tutor_mcq *m = s->asked;

    if (s->picked < 0) {
        fprintf(f, "I could not tell which option you chose. Please answer with a letter, "
                   "like A or B.\n\n");
        quiz_put_question(f, q);
        return;
    }
    if (s->was_correct)
        fprintf(f, "Correct!");
    else
        fprintf(f, "Not quite: the answer is %c) %s.", 'A' + m->correct, m->options[m->correct]);
    if (m->explanation != NULL && m->explanation[0] != '\0')
        fprintf(f, "\n\nThe text says: %s", m->explanation);
    fprintf(f, "\n\n");
    if (q->index < q->n) {
        quiz_put_question(f, q);
        return;
    }
    fprintf(f, "The quiz is complete. You got %d of %zu right.", q->score, q->n);
    if ((size_t)q->score == q->n)
        fprintf(f, " Well done!");
    else
        fprintf(f, " Good effort! Read the text again and try another quiz.");
}

int tutor_quiz_answer(tutor_quiz *q, const char *answer, char **text, int *judged, int *complete)
{
    quiz_step s = {.picked = -1};

    *text = NULL;
    *judged = 0;
    *complete = 0;
    if (q->index >= q->n)
        return LX_EINVAL;
    s.asked = &q->qs[q->index];
    s.picked = tutor_mcq_pick(s.asked, answer);
    if (s.picked >= s.asked->n_options)
        s.picked = -1;
    if (s.picked >= 0) {
        s.was_correct = s.picked == s.asked->correct;
        q->answers[q->index] = s.picked;
        if (s.was_correct)
            q->score++;
        q->index++;
        *judged = 1;
        *complete = q->index >= q->n;
    }
    *text = quiz_text(q, quiz_w_step, &s);
    return *text != NULL ? LX_OK : LX_ENOMEM;
}
