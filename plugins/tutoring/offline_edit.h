/*
 * The offline tutor's edit commands, shared by their files (offline.h
 * has the public contract, tutor_offline_edit):
 *
 *   offline_edit.c       the command: clean it, read its verb, run the edit
 *   offline_edit_args.c  its arguments: words and phrases (quoted or not),
 *                        sentence references ("the second sentence", "the
 *                        sentence about taxes"), places ("after X", "to the
 *                        end"), scopes ("from the first sentence")
 *   offline_edit_text.c  the text: finding words, rebuilding it from
 *                        sentences, word edits (replace, insert, case)
 *   offline_edit_sentences.c  split and join sentences
 *
 * Everything works on one tutor_ed_ctx (the text, its sentences, the
 * caller's message buffer). Pure: no I/O, thread-safe; inputs borrowed,
 * results malloc'd for the caller. Only the offline_edit*.c files include
 * this header.
 */
#ifndef TUTORING_OFFLINE_EDIT_H
#define TUTORING_OFFLINE_EDIT_H

#include <stddef.h>

#include "offline_int.h"

#define TUTOR_ED_NOPARSE 1   /* internal status: the words did not fit this verb */
#define TUTOR_ED_MAX_OWNED 8 /* new sentences one edit makes */

typedef struct tutor_ed_arg {
    const char *p;
    size_t n;
    int is_word;   /* said as "the word X" or "the phrase X" */
    int is_quoted; /* in quotes */
} tutor_ed_arg;

typedef struct tutor_ed_ctx {
    const char *t; /* the text */
    size_t tl;
    tutor_span *s; /* its sentences */
    size_t n;
    char *err;
    size_t errlen;
    int needs_model;
    char *owned[TUTOR_ED_MAX_OWNED]; /* strings the pieces below point into */
    int n_owned;
} tutor_ed_ctx;

/* Reads what follows an argument (the rest of the command): 1 when all of
 * it makes sense, its meaning kept in *st. */
typedef int (*tutor_ed_tail_fn)(tutor_ed_ctx *c, const char *tail, void *st);

typedef enum { SR_INDEX, SR_ONLY, SR_ABOUT, SR_CONTAINS, SR_STARTS, SR_ENDS } tutor_ed_sr_kind;

typedef struct tutor_ed_sref {
    tutor_ed_sr_kind kind;
    long index; /* SR_INDEX: from 0; negative: from the end (-1 the last) */
    tutor_ed_arg what;
} tutor_ed_sref;

typedef struct tutor_ed_piece {
    const char *p;
    size_t n;
    long orig; /* the original sentence it is, or -1 (new or changed) */
} tutor_ed_piece;

typedef enum {
    PL_END,
    PL_START,
    PL_AFTER_TEXT,
    PL_BEFORE_TEXT,
    PL_AFTER_S,
    PL_BEFORE_S,
    PL_END_OF_S,
    PL_START_OF_S,
    PL_UP,
    PL_DOWN,
} tutor_ed_pl_kind;

typedef struct tutor_ed_place {
    tutor_ed_pl_kind kind;
    tutor_ed_arg y;
    tutor_ed_sref ref;
    int allow_updown;
} tutor_ed_place;

typedef struct tutor_ed_scope {
    int has;
    tutor_ed_sref ref;
} tutor_ed_scope;

/* ---- offline_edit_args.c: reading a command ------------------------------- */

/* ASCII case-insensitive: s starts with w. */
int tutor_ed_iprefix(const char *s, const char *w);
/* p past spaces and commas. */
const char *tutor_ed_skip(const char *p);
/* Letters, digits, ' - and UTF-8 bytes: what continues a word. */
int tutor_ed_is_word_byte(unsigned char c);
/* The words w (lower-case, maybe several) at *p as whole words, after
 * spaces and commas: 1 and *p past them, else 0. */
int tutor_ed_kw(const char **p, const char *w);
/* The same for a separator written with spaces around it (" with "). */
int tutor_ed_kw_stop(const char **p, const char *stop);
/* The first of list (NULL-terminated) at *p: its index, or -1. */
int tutor_ed_kw_any(const char **p, const char *const *list);
/* Only spaces and commas left. */
int tutor_ed_at_end(const char *p);
/* An opening quote (straight or curly) after spaces. */
int tutor_ed_is_quote(const char *p);
/* A message for the student into c->err (fmt with %.*s of x[0, xlen) when
 * x is not NULL), unless one is there already: the first, most specific,
 * message wins. */
void tutor_ed_err(tutor_ed_ctx *c, const char *fmt, const char *x, size_t xlen);

/* An argument at *p: quoted, or the words up to the first of stops (each
 * with its leading space, e.g. " with ") after which tail(c, rest, st)
 * accepts the rest of the command, or up to the end when tail accepts ""
 * (tail NULL: nothing may follow). Trimmed; "the word" in front of it is
 * dropped (a->is_word). 1 and *p at the end of the command, or 0. */
int tutor_ed_arg_take(tutor_ed_ctx *c, const char **p, const char *const *stops,
                      tutor_ed_tail_fn tail, void *st, tutor_ed_arg *a);

/* "first" .. "tenth", "last", "second to last", "3rd": *idx from 0, or
 * negative from the end (-1 the last). */
int tutor_ed_ordinal(const char **p, long *idx);
/* Digits, or "one" .. "ten". */
int tutor_ed_number(const char **p, long *v);
/* A sentence reference at *p, then tail (NULL: the end of the command). */
int tutor_ed_sref_parse(tutor_ed_ctx *c, const char **p, tutor_ed_tail_fn tail, void *st,
                        tutor_ed_sref *r);
/* The index of the sentence r names, or -1 with the reason in c->err. */
long tutor_ed_resolve(tutor_ed_ctx *c, const tutor_ed_sref *r);
/* "Your answer has N sentences ..." for an index out of range. */
void tutor_ed_err_no_sentence(tutor_ed_ctx *c, long idx);

/* Where something goes (a tutor_ed_tail_fn: st is a tutor_ed_place). */
int tutor_ed_place_parse(tutor_ed_ctx *c, const char *tail, void *st);
/* What may end an argument before a place. */
extern const char *const tutor_ed_place_stops[];
/* "from SREF" / "in SREF" or nothing (a tutor_ed_tail_fn: st is a
 * tutor_ed_scope). */
int tutor_ed_scope_parse(tutor_ed_ctx *c, const char *tail, void *st);
extern const char *const tutor_ed_scope_stops[];
/* The bytes a scope covers (the whole text without one); 0 with the reason
 * in c->err when its sentence does not exist. */
int tutor_ed_scope_range(tutor_ed_ctx *c, const tutor_ed_scope *sc, size_t *lo, size_t *hi);

/* ---- offline_edit_text.c: finding and changing ------------------------------ */

/* Whether text[i, i+n) is a whole-word case-insensitive match of x. */
int tutor_ed_match_at(const char *text, size_t tlen, size_t i, const char *x, size_t n);
/* The first match of x in [from, hi) (in the whole text), or (size_t)-1. */
size_t tutor_ed_find_in(const tutor_ed_ctx *c, size_t from, size_t hi, const tutor_ed_arg *x);
size_t tutor_ed_find(const tutor_ed_ctx *c, const tutor_ed_arg *x);
/* The sentence that holds byte i (the last when i is past them all). */
size_t tutor_ed_sentence_of(const tutor_ed_ctx *c, size_t i);
/* Whether byte i is where a sentence starts. */
int tutor_ed_at_sentence_start(const tutor_ed_ctx *c, size_t i);
/* Where sentence k's words end (before its closing punctuation). */
size_t tutor_ed_sentence_body(const tutor_ed_ctx *c, size_t k);
/* Whether x is all of sentence k but its closing punctuation. */
int tutor_ed_is_whole_sentence(const tutor_ed_ctx *c, size_t k, const tutor_ed_arg *x);
/* Whether the capital at byte i (a sentence's first word) may become small
 * when words come before it: not "I", not a name the text writes with a
 * capital elsewhere. */
int tutor_ed_can_lower(const tutor_ed_ctx *c, size_t i);
/* The first ASCII letter of b->p[from..] upper-cased (a digit or non-ASCII
 * byte first: nothing). */
void tutor_ed_cap_from(tutor_buf *b, size_t from);

/* The pieces of a sentence edit: every sentence in order (c->n + 2 slots),
 * malloc'd; NULL when out of memory. */
tutor_ed_piece *tutor_ed_pieces_new(const tutor_ed_ctx *c, size_t *m);
void tutor_ed_pieces_remove(tutor_ed_piece *v, size_t *m, size_t k);
void tutor_ed_pieces_insert(tutor_ed_piece *v, size_t *m, size_t at, tutor_ed_piece pc);
/* A new piece holding a copy of s[0, n) that c frees at the end (p NULL
 * when out of memory). */
tutor_ed_piece tutor_ed_new_piece(tutor_ed_ctx *c, const char *s, size_t n);
/* s (malloc'd) handed to c, which frees it at the end; NULL (s freed) when
 * it cannot take more. */
char *tutor_ed_own(tutor_ed_ctx *c, char *s);
/* The text made of the pieces, into *out: the original white space before,
 * between neighbours and after; each piece capitalised and ended. */
int tutor_ed_emit(tutor_ed_ctx *c, const tutor_ed_piece *v, size_t m, char **out);

/* Sentence edits, into *out: x as a new sentence at position `at`;
 * sentence k removed. */
int tutor_ed_sentence_insert(tutor_ed_ctx *c, size_t at, const tutor_ed_arg *x, char **out);
int tutor_ed_sentence_delete(tutor_ed_ctx *c, size_t k, char **out);

/* Word edits, into *out. Every match of x in [lo, hi) replaced by y[0, yl)
 * (y NULL: removed); x inserted at byte `at` (before the word there, or
 * after the word that ends there); every match of x in [lo, hi) in another
 * case ('c' capitalised words, 'u' upper, 'l' lower). LX_EINVAL with a
 * message when x is not there. */
int tutor_ed_replace(tutor_ed_ctx *c, const tutor_ed_arg *x, const char *y, size_t yl, size_t lo,
                     size_t hi, char **out);
int tutor_ed_insert(tutor_ed_ctx *c, size_t at, const tutor_ed_arg *x, int is_before, char **out);
int tutor_ed_case(tutor_ed_ctx *c, const tutor_ed_arg *x, int mode, size_t lo, size_t hi,
                  char **out);

/* ---- offline_edit_sentences.c: splitting and joining ---------------------- */

/* "split SREF [after|before|at X]", "join SREF and|with SREF2 [using 'X']"
 * (rest: the words after the verb), into *out: LX_OK, LX_EINVAL with a
 * message saying what is missing, LX_ENOMEM. */
int tutor_ed_split(tutor_ed_ctx *c, const char *rest, char **out);
int tutor_ed_join(tutor_ed_ctx *c, const char *rest, char **out);

#endif
