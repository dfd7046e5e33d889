/*
 * The quiz inside a tutoring thread: its state (kept as JSON in the
 * thread record's "quiz" member), the phrases that start and cancel a
 * quiz, and the texts the student reads (a question with lettered
 * options, feedback, the summary). No host calls, no I/O.
 *
 * The JSON form:
 *   {"questions": [{"question", "options": [..], "correct", "explanation"}],
 *    "index": 0, "score": 0, "answers": [picked option per asked question]}
 */
#ifndef TUTORING_QUIZ_H
#define TUTORING_QUIZ_H

#include <stddef.h>

#include <json-c/json.h>

#include "offline.h"

typedef struct tutor_quiz {
    tutor_mcq *qs; /* n of them (owned) */
    size_t n;
    size_t index; /* the question being asked, 0..n-1 (n when complete) */
    int score;    /* correct answers so far */
    int *answers; /* n slots: the option picked per answered question, -1 before */
} tutor_quiz;

/* Takes ownership of qs[0..n) (n >= 1): a fresh quiz at question 1.
 * LX_OK or LX_ENOMEM (then qs is freed). */
int tutor_quiz_init(tutor_quiz *q, tutor_mcq *qs, size_t n);
void tutor_quiz_free(tutor_quiz *q);

/* The quiz from its JSON form (borrowed): LX_OK, LX_EINVAL when it is not
 * a well-formed quiz, LX_ENOMEM. On failure *q is left empty. */
int tutor_quiz_from_json(json_object *o, tutor_quiz *q);
/* A new JSON object of the quiz (caller puts it), or NULL on ENOMEM. */
json_object *tutor_quiz_to_json(const tutor_quiz *q);

/* Command phrases (trimmed, case-insensitive). */
int tutor_quiz_is_cancel(const char *query); /* "/cancel_quiz", "cancel quiz", ... */
/* "/start_quiz", "start a quiz (for document X)", "quiz me (on ...)", "test
 * me on this", "can you give me a quiz?", ... (quiz.c lists them). */
int tutor_quiz_is_start(const char *query);

/* "Question 2 of 5: ...\nA) ...\nB) ..." for the current question
 * (malloc'd; NULL on ENOMEM or when the quiz is complete). */
char *tutor_quiz_question_text(const tutor_quiz *q);

/* Judges `answer` to the current question. *text (malloc'd) is what the
 * student reads next: when the answer is unclear, a request to answer
 * with a letter and the question again (*judged 0, nothing moves on);
 * else the feedback ("Correct!" or "Not quite: the answer is B) ...")
 * followed by the next question, or by the summary after the last one
 * (*complete 1). LX_OK, LX_EINVAL when the quiz is already complete,
 * LX_ENOMEM. */
int tutor_quiz_answer(tutor_quiz *q, const char *answer, char **text, int *judged, int *complete);

#endif
