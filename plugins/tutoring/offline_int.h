/*
 * The offline tutor's internals shared by its files (offline.h has
 * the public contracts):
 *
 *   offline.c       words, stop words, stemming, sentences, extractive
 *                   answers, readability (and the helpers below)
 *   offline_quiz.c  gap-fill quizzes and picking an option
 *   offline_refine.c  transcript clean-up
 *   offline_edit.c  edit commands (remove, replace, add, move, capitalise,
 *                   split, join) on words and sentences
 *
 * Words everywhere are the same thing (tutor_word_at): runs of ASCII
 * letters and digits, apostrophes, hyphens, a '.' or ',' between two
 * digits, and whole non-ASCII UTF-8 sequences other than punctuation and
 * spaces (U+00A0..U+00BF, U+2000..U+206F, U+3000..U+303F). Invalid UTF-8
 * bytes are separators, so no multibyte sequence is ever cut in two.
 *
 * Like offline.h: pure functions, no I/O, thread-safe; inputs borrowed.
 * Only the offline*.c files include this header.
 */
#ifndef TUTORING_OFFLINE_INT_H
#define TUTORING_OFFLINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "offline.h"

/* ---- ASCII character classes (bytes >= 0x80 are none of them) ------------- */

/* Space, \t \n \r \f \v, and NUL. */
static inline int tutor_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0;
}

static inline int tutor_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline int tutor_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int tutor_is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static inline int tutor_is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static inline unsigned char tutor_lower(unsigned char c)
{
    return tutor_is_upper(c) ? (unsigned char)(c - 'A' + 'a') : c;
}

static inline unsigned char tutor_upper(unsigned char c)
{
    return tutor_is_lower(c) ? (unsigned char)(c - 'a' + 'A') : c;
}

/* ---- words ---------------------------------------------------------------- */

/* Whether a[0, alen) equals b[0, blen), ASCII case-insensitively. */
int tutor_ieq(const char *a, size_t alen, const char *b, size_t blen);

/* How many bytes of word character start at str[i] (i < len); 0 when
 * str[i] is not a word character (see the top of this file). */
size_t tutor_word_at(const char *str, size_t len, size_t i);

/* The next word of s[0, len) at or after *pos: [*start, *end), without
 * leading or trailing apostrophes and hyphens; *pos moves past it. 0 (and
 * *pos = len) when there is none. */
int tutor_next_word(const char *s, size_t len, size_t *pos, size_t *start, size_t *end);

/* Whether w[0, n) is a stop word (case-insensitive; the list in offline.c
 * also has question words such as "explain" and "tell"). */
int tutor_is_stop_word(const char *w, size_t n);

/* The length of the stem of the lower-cased word w[0, n): -ing -ly -ed
 * -es (after s x z ch sh) -s stripped, only from long enough words. */
size_t tutor_stem_len(const char *w, size_t n);

/* FNV-1a hash of s[0, n), lower-cased. */
uint32_t tutor_fnv(const char *s, size_t n);

/* ---- sentences -------------------------------------------------------------- */

/* A growing array of malloc'd strings. Start it as {0}; free with
 * tutor_strv_free(sv.v, sv.n). */
typedef struct tutor_strv {
    char **v;
    size_t n, cap;
} tutor_strv;

/* Whether the single '.' at text[dot] (dot < len) closes an abbreviation
 * ("e.g.", "Dr.", an initial "J.", "etc." before a lower-case word) rather
 * than a sentence. */
int tutor_is_abbreviation(const char *text, size_t len, size_t dot);

/* Appends the sentences of text[0, len) to *sv (the rules of
 * tutor_sentences in offline.h). LX_OK or LX_ENOMEM; on failure the
 * sentences appended so far stay in *sv for the caller to free. */
int tutor_split_sentences(const char *text, size_t len, tutor_strv *sv);

/* A byte range [a, b) of a text. */
typedef struct tutor_span {
    size_t a, b;
} tutor_span;

/* The sentences of text[0, len) as byte ranges, by the same rules, each
 * trimmed of white space and never empty, in order: *out malloc'd (NULL
 * when there is none), *n of them. LX_OK or LX_ENOMEM (*out NULL). */
int tutor_sentence_spans(const char *text, size_t len, tutor_span **out, size_t *n);

#endif
