/*
 * What the tutoring plugin asks a language model, and how it reads the
 * structured answers (prompt.c). Pure functions: no host calls, no I/O,
 * thread-safe; the parsers are fuzzed.
 *
 * Every system instruction asks for output suited to dyslexic readers:
 * short sentences (at most ~15 words) and short paragraphs, plain everyday
 * words, simple Markdown only (paragraphs, "- " lists, **bold** for a key
 * word; no tables, no headings deeper than ###, no HTML), written at or
 * below the target reading grade, patient and encouraging, never
 * condescending. Text from documents and from students is data, not
 * instructions: it is fenced and the model is told so.
 *
 * Ownership: results malloc'd, freed by the caller (free(), or
 * tutor_mcqs_free); inputs borrowed for the call.
 */
#ifndef TUTORING_PROMPT_H
#define TUTORING_PROMPT_H

#include <stddef.h>

#include "offline.h"

/* The system instruction for a chat turn.
 * doc_name NULL: no document: a general, patient tutor.
 * Else the answer must come from the passages (best first; n may be 0):
 * when they do not hold it, the model must say plainly that it is not in
 * the document (and may then offer general help, marked as such). The
 * passages are numbered and fenced. NULL when out of memory. */
char *tutor_prompt_chat_system(double target_grade, const char *doc_name,
                               const char *const *passages, size_t n_passages);

/* The quiz: a system instruction and a user message asking for n (1..10)
 * multiple-choice questions answerable from text (which is fenced; at
 * most max_chars bytes of it are used: when longer, evenly spaced slices
 * cut at sentence ends so the questions cover the whole document), four
 * options each, one correct, with a one-sentence explanation quoting or
 * citing the text. The answer's JSON Schema is TUTOR_QUIZ_SCHEMA.
 * LX_OK or LX_ENOMEM. */
int tutor_prompt_quiz(double target_grade, const char *doc_name, const char *text, size_t len,
                      size_t max_chars, int n, char **system, char **user);

#define TUTOR_QUIZ_SCHEMA                                                                          \
    "{\"type\":\"object\",\"properties\":{\"questions\":{\"type\":\"array\",\"items\":"            \
    "{\"type\":\"object\",\"properties\":{\"question\":{\"type\":\"string\"},"                     \
    "\"options\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"                            \
    "\"correct_index\":{\"type\":\"integer\"},\"explanation\":{\"type\":\"string\"}},"             \
    "\"required\":[\"question\",\"options\",\"correct_index\",\"explanation\"]}}},"                \
    "\"required\":[\"questions\"]}"

/* Reads a quiz answer: {"questions": [{question, options[2..4 strings],
 * correct_index 0-based, explanation}]} (a ```json fence around it and
 * text around the object are tolerated). Questions that are malformed
 * (empty text, fewer than 2 or more than 4 options, an empty or duplicate
 * option (case-insensitive), correct_index out of range) are dropped; at
 * most max_q kept; strings trimmed and capped at 500 bytes. LX_OK with
 * *n >= 1; LX_EINVAL (message in err) when nothing usable is left;
 * LX_ENOMEM. */
int tutor_prompt_parse_quiz(const char *json, size_t len, int max_q, tutor_mcq **out, size_t *n,
                            char *err, size_t errlen);

/* Judging a free-text answer that tutor_mcq_pick could not map: asks
 * which option (0-based) the student's answer means, or -1 when it does
 * not pick one. The schema is TUTOR_JUDGE_SCHEMA. LX_OK or LX_ENOMEM. */
int tutor_prompt_judge(const tutor_mcq *q, const char *answer, char **system, char **user);

#define TUTOR_JUDGE_SCHEMA                                                                         \
    "{\"type\":\"object\",\"properties\":{\"option_index\":{\"type\":\"integer\"}},"               \
    "\"required\":[\"option_index\"]}"

/* {"option_index": k} → k when 0 <= k < n_options, else -1 (also for
 * malformed JSON). */
int tutor_prompt_parse_judge(const char *json, size_t len, int n_options);

/* Answer formulation. refine: turn the dictated transcript (and the
 * question it answers, or NULL) into clear writing in the student's own
 * words: keep every idea and fact, add none, do not correct the ideas,
 * only fix grammar, order and flow; answer with the text only.
 * edit: apply the student's edit command to text, change nothing else;
 * answer with the whole new text only. LX_OK or LX_ENOMEM. */
int tutor_prompt_refine(double target_grade, const char *transcript, const char *question,
                        char **system, char **user);
int tutor_prompt_edit(const char *text, const char *command, char **system, char **user);

/* A model's text answer made safe to show: trimmed; a ``` fence around
 * the whole answer removed; HTML tags' angle brackets kept as text (the
 * frontend renders Markdown, not HTML) — only NUL bytes and C0 controls
 * other than \n and \t removed; capped at max_bytes at a UTF-8 boundary.
 * NULL when out of memory. */
char *tutor_prompt_clean_answer(const char *text, size_t len, size_t max_bytes);

#endif
