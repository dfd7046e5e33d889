/*
 * Finding words in the text and changing it (offline_edit.h): word edits
 * work on the text in place; sentence edits rebuild it from its sentences
 * (tutor_sentence_spans), keeping the white space between sentences that
 * stay neighbours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "offline_edit.h"

/* ---- finding things in the text ------------------------------------------- */

/* Whether text[i, i+n) is a whole-word case-insensitive match of x. */
int tutor_ed_match_at(const char *text, size_t tlen, size_t i, const char *x, size_t n)
{
    if (n == 0 || i + n > tlen || !tutor_ieq(text + i, n, x, n))
        return 0;
    if (tutor_word_at(x, n, 0) > 0 && i > 0) {
        /* The byte before must not continue a word (step back over UTF-8). */
        size_t p = i - 1;

        while (p > 0 && ((unsigned char)text[p] & 0xc0) == 0x80)
            p--;
        if (tutor_word_at(text, tlen, p) > 0)
            return 0;
    }
    if (tutor_word_at(x, n, n - 1) > 0 && i + n < tlen && tutor_word_at(text, tlen, i + n) > 0)
        return 0;
    return 1;
}

/* The first match of x in [from, hi), or (size_t)-1. */
size_t tutor_ed_find_in(const tutor_ed_ctx *c, size_t from, size_t hi, const tutor_ed_arg *x)
{
    for (size_t i = from; i + x->n <= hi; i++)
        if (tutor_ed_match_at(c->t, c->tl, i, x->p, x->n))
            return i;
    return (size_t)-1;
}

size_t tutor_ed_find(const tutor_ed_ctx *c, const tutor_ed_arg *x)
{
    return tutor_ed_find_in(c, 0, c->tl, x);
}

/* The sentence holding byte i (the last one when i is past them all). */
size_t tutor_ed_sentence_of(const tutor_ed_ctx *c, size_t i)
{
    for (size_t k = 0; k < c->n; k++)
        if (i < c->s[k].b)
            return k;
    return c->n > 0 ? c->n - 1 : 0;
}

/* ---- building the result ---------------------------------------------------- */

static tutor_ed_piece piece_of(const tutor_ed_ctx *c, size_t k)
{
    tutor_ed_piece pc = {c->t + c->s[k].a, c->s[k].b - c->s[k].a, (long)k};
    return pc;
}

static int ends_with_punct(const char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == '"' || s[n - 1] == '\'' || s[n - 1] == ')'))
        n--;
    return n > 0 && (s[n - 1] == '.' || s[n - 1] == '!' || s[n - 1] == '?');
}

/* The first ASCII letter of b->p[from..] upper-cased (digits stop it). */
void tutor_ed_cap_from(tutor_buf *b, size_t from)
{
    for (size_t i = from; !b->oom && i < b->len; i++) {
        unsigned char ch = (unsigned char)b->p[i];
        if (tutor_is_alpha(ch)) {
            b->p[i] = (char)tutor_upper(ch);
            return;
        }
        if (tutor_is_digit(ch) || ch >= 0x80)
            return;
    }
}

/* The text made of the pieces: the original white space before the first
 * sentence, between sentences that were neighbours and after the last;
 * one space elsewhere. Every piece starts with a capital letter and all
 * but an unchanged last one end with . ! or ?. */
int tutor_ed_emit(tutor_ed_ctx *c, const tutor_ed_piece *v, size_t m, char **out)
{
    tutor_buf b = {0};

    if (c->n > 0)
        tutor_buf_add(&b, c->t, c->s[0].a);
    for (size_t k = 0; k < m; k++) {
        if (k > 0) {
            long o = v[k - 1].orig;
            if (o >= 0 && v[k].orig == o + 1)
                tutor_buf_add(&b, c->t + c->s[o].b, c->s[o + 1].a - c->s[o].b);
            else
                tutor_buf_add(&b, " ", 1);
        }
        size_t at = b.len;
        tutor_buf_add(&b, v[k].p, v[k].n);
        tutor_ed_cap_from(&b, at);
        int is_last_as_is = k + 1 == m && c->n > 0 && v[k].orig == (long)c->n - 1;
        if (!is_last_as_is && !ends_with_punct(v[k].p, v[k].n))
            tutor_buf_add(&b, ".", 1);
    }
    if (c->n > 0)
        tutor_buf_add(&b, c->t + c->s[c->n - 1].b, c->tl - c->s[c->n - 1].b);
    *out = tutor_buf_take(&b);
    return *out != NULL ? LX_OK : LX_ENOMEM;
}

/* All sentences in order into v (at least c->n + 2 long). */
static size_t pieces_all(const tutor_ed_ctx *c, tutor_ed_piece *v)
{
    for (size_t k = 0; k < c->n; k++)
        v[k] = piece_of(c, k);
    return c->n;
}

void tutor_ed_pieces_remove(tutor_ed_piece *v, size_t *m, size_t k)
{
    memmove(v + k, v + k + 1, (*m - k - 1) * sizeof *v);
    (*m)--;
}

void tutor_ed_pieces_insert(tutor_ed_piece *v, size_t *m, size_t at, tutor_ed_piece pc)
{
    memmove(v + at + 1, v + at, (*m - at) * sizeof *v);
    v[at] = pc;
    (*m)++;
}

/* A string the context frees at the end; NULL when out of memory. */
char *tutor_ed_own(tutor_ed_ctx *c, char *s)
{
    if (s == NULL || c->n_owned >= TUTOR_ED_MAX_OWNED) {
        free(s);
        return NULL;
    }
    c->owned[c->n_owned++] = s;
    return s;
}

tutor_ed_piece tutor_ed_new_piece(tutor_ed_ctx *c, const char *s, size_t n)
{
    tutor_buf b = {0};
    tutor_ed_piece pc = {NULL, 0, -1};

    tutor_buf_add(&b, s, n);
    pc.p = tutor_ed_own(c, tutor_buf_take(&b));
    pc.n = pc.p != NULL ? strlen(pc.p) : 0;
    return pc;
}

/* Runs a sentence edit: v holds c->n + 2 pieces. */
tutor_ed_piece *tutor_ed_pieces_new(const tutor_ed_ctx *c, size_t *m)
{
    tutor_ed_piece *v = calloc(c->n + 2, sizeof *v);

    if (v != NULL)
        *m = pieces_all(c, v);
    return v;
}

/* ---- word edits ------------------------------------------------------------- */

/* Whether byte i starts a sentence (only white space since its start). */
int tutor_ed_at_sentence_start(const tutor_ed_ctx *c, size_t i)
{
    for (size_t k = 0; k < c->n; k++)
        if (c->s[k].a == i)
            return 1;
    return 0;
}

/* Every match of x in [lo, hi) replaced by y (y NULL: removed, with one
 * neighbouring space; at a sentence start with the commas and spaces after
 * it, and the next word capitalised). */
int tutor_ed_replace(tutor_ed_ctx *c, const tutor_ed_arg *x, const char *y, size_t yl, size_t lo,
                     size_t hi, char **out)
{
    tutor_buf b = {0};
    size_t i = lo, last = 0;
    int found = 0;

    while (i < hi) {
        if (i + x->n > hi || !tutor_ed_match_at(c->t, c->tl, i, x->p, x->n)) {
            i++;
            continue;
        }
        found = 1;
        if (y != NULL) {
            size_t at;
            tutor_buf_add(&b, c->t + last, i - last);
            at = b.len;
            tutor_buf_add(&b, y, yl);
            /* "Cat" replaced by "dog" at a sentence start stays capitalised. */
            if (!b.oom && yl > 0 && tutor_is_upper((unsigned char)c->t[i]) &&
                tutor_is_lower((unsigned char)x->p[0]))
                b.p[at] = (char)tutor_upper((unsigned char)b.p[at]);
            last = i + x->n;
            i = last;
            continue;
        }
        size_t from = i, to = i + x->n;
        if (tutor_ed_at_sentence_start(c, i)) {
            while (to < c->tl && (c->t[to] == ' ' || c->t[to] == ','))
                to++;
            tutor_buf_add(&b, c->t + last, from - last);
            if (to < c->tl && tutor_is_alpha((unsigned char)c->t[to])) {
                char up = (char)tutor_upper((unsigned char)c->t[to]);
                tutor_buf_add(&b, &up, 1);
                to++;
            }
        } else {
            /* Take one neighbouring space with the deleted words. */
            if (from > last && c->t[from - 1] == ' ')
                from--;
            else if (to < c->tl && c->t[to] == ' ')
                to++;
            tutor_buf_add(&b, c->t + last, from - last);
        }
        last = i = to;
    }
    if (!found) {
        free(b.p);
        tutor_ed_err(c,
                     lo == 0 && hi == c->tl ? "I could not find \"%.*s\" in your answer."
                                            : "I could not find \"%.*s\" in that sentence.",
                     x->p, x->n);
        return LX_EINVAL;
    }
    tutor_buf_add(&b, c->t + last, c->tl - last);
    *out = tutor_buf_take(&b);
    return *out != NULL ? LX_OK : LX_ENOMEM;
}

/* Whether the word at byte i (a sentence's first) should become small
 * when something comes before it: not "I" (or "I'm", ...), and not a word
 * the text also writes with a capital in the middle of a sentence (a
 * name). */
int tutor_ed_can_lower(const tutor_ed_ctx *c, size_t i)
{
    size_t pos = i, a, e;

    if (!tutor_next_word(c->t, c->tl, &pos, &a, &e) || a != i ||
        !tutor_is_upper((unsigned char)c->t[a]))
        return 0;
    if (tutor_ieq(c->t + a, e - a, "i", 1) || (e - a >= 2 && tutor_ieq(c->t + a, 2, "i'", 2)))
        return 0;
    for (size_t j = 0; j + (e - a) <= c->tl; j++)
        if (j != a && c->t[j] == c->t[a] && tutor_ed_match_at(c->t, c->tl, j, c->t + a, e - a) &&
            !tutor_ed_at_sentence_start(c, j))
            return 0;
    return 1;
}

/* x inserted at byte `at`: after a word with a space before it, or before
 * one with a space after it; at a sentence start x is capitalised and the
 * next word, when a small word, lower-cased. */
int tutor_ed_insert(tutor_ed_ctx *c, size_t at, const tutor_ed_arg *x, int is_before, char **out)
{
    tutor_buf b = {0};
    int starts = is_before && tutor_ed_at_sentence_start(c, at);

    tutor_buf_add(&b, c->t, at);
    if (!is_before && !(x->n > 0 && strchr(",.;:!?", x->p[0]) != NULL))
        tutor_buf_add(&b, " ", 1);
    size_t xa = b.len;
    tutor_buf_add(&b, x->p, x->n);
    if (starts)
        tutor_ed_cap_from(&b, xa);
    if (is_before)
        tutor_buf_add(&b, " ", 1);
    size_t ya = b.len;
    tutor_buf_add(&b, c->t + at, c->tl - at);
    if (starts && !b.oom && tutor_ed_can_lower(c, at))
        b.p[ya] = (char)tutor_lower((unsigned char)b.p[ya]);
    *out = tutor_buf_take(&b);
    return *out != NULL ? LX_OK : LX_ENOMEM;
}

/* Case changes of every match of x in [lo, hi): mode 'c' capitalise each
 * word, 'u' upper case, 'l' lower case. */
int tutor_ed_case(tutor_ed_ctx *c, const tutor_ed_arg *x, int mode, size_t lo, size_t hi,
                  char **out)
{
    tutor_buf b = {0};
    size_t i;
    int found = 0;

    tutor_buf_add(&b, c->t, c->tl);
    if (b.oom || b.p == NULL) {
        free(b.p);
        return LX_ENOMEM;
    }
    for (i = lo; i + x->n <= hi; i++) {
        if (!tutor_ed_match_at(c->t, c->tl, i, x->p, x->n))
            continue;
        found = 1;
        for (size_t k = i; k < i + x->n; k++) {
            unsigned char ch = (unsigned char)b.p[k];
            int word_start = k == i || !tutor_ed_is_word_byte((unsigned char)b.p[k - 1]);
            if (mode == 'u' || (mode == 'c' && word_start))
                b.p[k] = (char)tutor_upper(ch);
            else if (mode == 'l')
                b.p[k] = (char)tutor_lower(ch);
        }
        i += x->n - 1;
    }
    if (!found) {
        free(b.p);
        tutor_ed_err(c, "I could not find \"%.*s\" in your answer.", x->p, x->n);
        return LX_EINVAL;
    }
    *out = tutor_buf_take(&b);
    return LX_OK;
}

/* Text x as a new sentence (capitalised by tutor_ed_emit, ended with a full stop). */
int tutor_ed_sentence_insert(tutor_ed_ctx *c, size_t at, const tutor_ed_arg *x, char **out)
{
    size_t m;
    tutor_ed_piece *v = tutor_ed_pieces_new(c, &m), pc;
    int rc;

    if (v == NULL)
        return LX_ENOMEM;
    pc = tutor_ed_new_piece(c, x->p, x->n);
    if (pc.p == NULL) {
        free(v);
        return LX_ENOMEM;
    }
    tutor_ed_pieces_insert(v, &m, at, pc);
    rc = tutor_ed_emit(c, v, m, out);
    free(v);
    return rc;
}

/* The sentence's length without its closing punctuation and quotes. */
size_t tutor_ed_sentence_body(const tutor_ed_ctx *c, size_t k)
{
    size_t a = c->s[k].a, b = c->s[k].b;

    while (b > a && strchr(".!?\"')", c->t[b - 1]) != NULL)
        b--;
    return b;
}

/* Whether x is the whole of sentence k (but for end punctuation). */
int tutor_ed_is_whole_sentence(const tutor_ed_ctx *c, size_t k, const tutor_ed_arg *x)
{
    size_t a = c->s[k].a, b = tutor_ed_sentence_body(c, k), n = x->n;

    while (n > 0 && strchr(".!?", x->p[n - 1]) != NULL)
        n--;
    return n == b - a && tutor_ieq(c->t + a, n, x->p, n);
}

int tutor_ed_sentence_delete(tutor_ed_ctx *c, size_t k, char **out)
{
    size_t m;
    tutor_ed_piece *v = tutor_ed_pieces_new(c, &m);
    int rc;

    if (v == NULL)
        return LX_ENOMEM;
    tutor_ed_pieces_remove(v, &m, k);
    rc = tutor_ed_emit(c, v, m, out);
    free(v);
    return rc;
}
