/*
 * The offline tutor: what the tutoring plugin does with no language model
 * at all (provider "offline", the default). Pure functions over UTF-8
 * text: no host calls, no I/O, thread-safe, fuzzed (tests/fuzz). Every
 * function BLOCKS only for CPU time proportional to its input; callers
 * with large inputs run them on the offload pool.
 *
 * Ownership: results are malloc'd and freed by the caller with free() or
 * the matching *_free; inputs are borrowed for the call. Returns LX_OK or
 * LX_ENOMEM (or LX_EINVAL where stated).
 */
#ifndef TUTORING_OFFLINE_H
#define TUTORING_OFFLINE_H

#include <stddef.h>

/* Sentences of text in order: split after . ! ? (and runs of them, and a
 * closing quote or bracket) followed by whitespace, and at blank lines;
 * trimmed; empty ones dropped; abbreviations like "e.g." "Dr." "Mr."
 * "Mrs." "St." and decimals ("3.5") do not end a sentence. *out is an
 * array of malloc'd strings (free with tutor_strv_free). */
int tutor_sentences(const char *text, size_t len, char ***out, size_t *n);
void tutor_strv_free(char **v, size_t n);

/* The extractive answer to a question from passages (best first, as the
 * storage service's search returns them): the 1..max_sentences sentences
 * that share the most content words with the question (lower-cased,
 * stop words dropped, simple suffix stemming: -s -es -ed -ing -ly), ties
 * to the earlier one, joined with single spaces in their order in the
 * passages. When no sentence shares at least one content word, or the
 * question has none, *answer is NULL and *is_found 0. */
int tutor_offline_answer(const char *question, const char *const *passages, size_t n_passages,
                         int max_sentences, char **answer, int *is_found);

/* A multiple-choice question. */
typedef struct tutor_mcq {
    char *question;    /* "Fill the gap: Plants turn light into ____." */
    char *options[4];  /* n_options of them */
    int n_options;     /* 2..4 */
    int correct;       /* index into options */
    char *explanation; /* the source sentence */
} tutor_mcq;

void tutor_mcqs_free(tutor_mcq *v, size_t n);

/* Up to max_q (1..10) gap-fill multiple-choice questions from text: the
 * most informative sentences (8..40 words, not questions), each with one
 * key term blanked (a number, a capitalised name not at the sentence
 * start, else the longest content word), options = the term plus up to 3
 * distractors of the same kind taken from elsewhere in the same text
 * (never equal to the answer, case-insensitively), order shuffled by
 * `seed` (deterministic). No two questions on the same sentence or term.
 * A text too short for one question gives *n = 0 (LX_OK). */
int tutor_offline_quiz(const char *text, size_t len, int max_q, unsigned seed, tutor_mcq **out,
                       size_t *n);

/* Which option a student's free-text answer picks: a letter ("b", "B)",
 * "option c", "(d)"), a number 1..n_options, or the option's text (case
 * and surrounding punctuation ignored; an answer that contains exactly one
 * option's text as a whole word sequence). -1 when it cannot tell. */
int tutor_mcq_pick(const tutor_mcq *q, const char *answer);

/* Cleans a dictated transcript without adding or correcting ideas: filler
 * words removed ("um", "uh", "er", "erm", "hmm", "you know", "I mean" at a
 * clause start, "like" only as a filler between commas), immediate
 * repeats of a word or two-word phrase removed ("the the", "I think I
 * think"), spaces normalised, " i " → " I ", each sentence capitalised and
 * ended with a full stop when it has no end punctuation. Words are never
 * added or reordered. */
char *tutor_offline_refine(const char *transcript);

/* Applies an edit command to text, offline: *out (caller-owned) is the
 * edited text. Understood, case-insensitively, quoted or not, with or
 * without polite words ("please", "could you") around them:
 *   remove / delete X [from SREF]        every X (a word or phrase;
 *                                        "the word X" too) removed
 *   remove SREF                          a sentence removed
 *   replace X with Y / change X to Y / swap X for Y / use Y instead of X
 *                                        every X becomes Y ([in SREF])
 *   replace SREF with Y                  a sentence replaced
 *   add X after|before Y / in front of Y / at the end|start [of SREF] /
 *   after|before SREF; append X; prepend X
 *   move SREF|X to the end|start, after|before SREF|Y, up, down; put
 *   SREF first|last; move the word X after|before Y
 *   capitalise X | SREF | every sentence; make X uppercase|lowercase
 *   split SREF [after|before|at X]       (at "and"/"but": the word goes)
 *   join SREF and|with SREF2 | the next one [using 'X'] / join the first
 *   (last) two sentences / join sentences N and M
 * where SREF is "the second sentence", "sentence 3", "the last sentence",
 * "the sentence about taxes", "the sentence with 'tea'", "the sentence
 * starting with X". LX_EINVAL with a message for the student (with
 * examples) when the command is not understood or X is not in the text;
 * then *needs_model (may be NULL) is 1 when the command asks for what only
 * a language model can do (rephrase, rewrite, simplify, ...), and the
 * message says so and names the providers that can. */
int tutor_offline_edit(const char *text, const char *command, char **out, char *err, size_t errlen,
                       int *needs_model);

/* Flesch–Kincaid grade level of text (0.39 w/s + 11.8 syl/w − 15.59;
 * syllables by vowel groups with a silent final e; 0 for empty text;
 * clamped to 0..18). */
double tutor_fk_grade(const char *text);

/* Words in text (runs of letters, digits, apostrophes and hyphens). */
int tutor_word_count(const char *text);

#endif
