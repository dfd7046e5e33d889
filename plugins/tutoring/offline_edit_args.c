/*
 * Reading an edit command's arguments (offline_edit.h): words and phrases,
 * quoted or not; sentence references; places; scopes. An unquoted argument
 * ends at the first separator (" with ", " after ", ...) after which the
 * rest of the command makes sense, so "add in 1773 after Boston Tea Party"
 * needs no quotes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "offline_edit.h"

/* Whether s starts with w, case-insensitively (s may be shorter). */
int tutor_ed_iprefix(const char *s, const char *w)
{
    for (; *w != '\0'; s++, w++)
        if (*s == '\0' || tutor_lower((unsigned char)*s) != tutor_lower((unsigned char)*w))
            return 0;
    return 1;
}

const char *tutor_ed_skip(const char *p)
{
    while (*p == ' ' || *p == ',')
        p++;
    return p;
}

int tutor_ed_is_word_byte(unsigned char c)
{
    return tutor_is_alpha(c) || tutor_is_digit(c) || c == '\'' || c == '-' || c >= 0x80;
}

/* The words w (one or more, lower-case) at *p, as whole words: *p moves
 * past them. */
int tutor_ed_kw(const char **p, const char *w)
{
    const char *s = tutor_ed_skip(*p);
    size_t n = strlen(w);

    if (!tutor_ed_iprefix(s, w) || tutor_ed_is_word_byte((unsigned char)s[n]))
        return 0;
    *p = s + n;
    return 1;
}

/* tutor_ed_kw() for a separator written with spaces around it (" with "). */
int tutor_ed_kw_stop(const char **p, const char *stop)
{
    char w[32];
    size_t n = 0;

    while (*stop == ' ')
        stop++;
    while (stop[n] != '\0' && n + 1 < sizeof w)
        w[n] = stop[n], n++;
    while (n > 0 && w[n - 1] == ' ')
        n--;
    w[n] = '\0';
    return n > 0 && tutor_ed_kw(p, w);
}

int tutor_ed_is_quote(const char *p)
{
    p = tutor_ed_skip(p);
    return *p == '"' || *p == '\'' || strncmp(p, "\xe2\x80\x9c", 3) == 0 ||
           strncmp(p, "\xe2\x80\x98", 3) == 0;
}

/* The first of the words in list at *p (NULL-terminated); its index or -1. */
int tutor_ed_kw_any(const char **p, const char *const *list)
{
    for (int i = 0; list[i] != NULL; i++)
        if (tutor_ed_kw(p, list[i]))
            return i;
    return -1;
}

int tutor_ed_at_end(const char *p)
{
    return *tutor_ed_skip(p) == '\0';
}

void tutor_ed_err(tutor_ed_ctx *c, const char *fmt, const char *x, size_t xlen)
{
    if (c->err == NULL || c->errlen == 0 || c->err[0] != '\0')
        return; /* the first, most specific, message wins */
    if (x != NULL)
        snprintf(c->err, c->errlen, fmt, (int)(xlen > 120 ? 120 : xlen), x);
    else
        snprintf(c->err, c->errlen, "%s", fmt);
}

/* A quoted argument at *p: straight or curly quotes; a closing ' or ’
 * only where no letter follows (so "'don't'" is one argument). */
static int take_quoted(const char **p, tutor_ed_arg *a)
{
    const char *s = tutor_ed_skip(*p), *e;

    if (*s == '"') {
        e = strchr(s + 1, '"');
    } else if (*s == '\'') {
        for (e = s + 1; (e = strchr(e, '\'')) != NULL && tutor_is_alpha((unsigned char)e[1]); e++)
            ;
    } else if (strncmp(s, "\xe2\x80\x9c", 3) == 0) {
        e = strstr(s + 3, "\xe2\x80\x9d");
    } else if (strncmp(s, "\xe2\x80\x98", 3) == 0) {
        for (e = s + 3;
             (e = strstr(e, "\xe2\x80\x99")) != NULL && tutor_is_alpha((unsigned char)e[3]); e += 3)
            ;
    } else {
        return 0;
    }
    if (e == NULL)
        return 0;
    size_t open = (unsigned char)*s >= 0x80 ? 3 : 1;
    a->p = s + open;
    a->n = (size_t)(e - s) - open;
    *p = e + open;
    return a->n > 0;
}

/* "the word", "the phrase", ... before an argument. */
static int skip_wrapper(const char **p)
{
    static const char *const wrappers[] = {"the words", "the word", "the phrase",
                                           "the term",  "the text", "words",
                                           "word",      "phrase",   NULL};
    const char *q = *p;

    if (tutor_ed_kw_any(&q, wrappers) < 0 || tutor_ed_at_end(q))
        return 0;
    *p = q;
    return 1;
}

/* An argument at *p: quoted, or the words up to the first of stops (each
 * with its leading space, e.g. " with ") after which tail(c, rest, st)
 * accepts the rest of the command, or up to the end when tail accepts ""
 * (tail NULL: nothing may follow). The argument is trimmed; "the word" in
 * front of it is dropped (a->is_word). */
int tutor_ed_arg_take(tutor_ed_ctx *c, const char **p, const char *const *stops,
                      tutor_ed_tail_fn tail, void *st, tutor_ed_arg *a)
{
    const char *s = tutor_ed_skip(*p), *q, *rest;

    a->is_word = skip_wrapper(&s);
    s = tutor_ed_skip(s);
    rest = s;
    a->is_quoted = 0;
    if (take_quoted(&rest, a)) {
        a->is_quoted = 1;
        if (tail != NULL ? tail(c, rest, st) : tutor_ed_at_end(rest)) {
            *p = rest + strlen(rest);
            return 1;
        }
        return 0;
    }
    for (q = s + 1; stops != NULL && *q != '\0'; q++) {
        for (size_t i = 0; stops[i] != NULL; i++) {
            size_t n = strlen(stops[i]);
            if (!tutor_ed_iprefix(q, stops[i]) ||
                (stops[i][n - 1] != ' ' && tutor_ed_is_word_byte((unsigned char)q[n])))
                continue;
            const char *e = q;
            while (e > s && (e[-1] == ' ' || e[-1] == ','))
                e--;
            if (e > s && tail != NULL && tail(c, q, st)) {
                a->p = s;
                a->n = (size_t)(e - s);
                *p = q + strlen(q);
                return 1;
            }
        }
    }
    q = s + strlen(s);
    while (q > s && q[-1] == ' ')
        q--;
    if (q == s || (tail != NULL ? !tail(c, "", st) : 0))
        return 0;
    a->p = s;
    a->n = (size_t)(q - s);
    *p = s + strlen(s);
    return 1;
}

/* Stems of the content words of s[0, n) (all words when none is a content
 * word): a NUL-separated list in *b; the count. */
static size_t stems_of(const char *s, size_t n, tutor_buf *b, int all)
{
    size_t pos = 0, a, e, cnt = 0;
    char w[64];

    while (tutor_next_word(s, n, &pos, &a, &e)) {
        size_t wl = e - a;
        if (wl >= sizeof w || (!all && tutor_is_stop_word(s + a, wl)))
            continue;
        for (size_t i = 0; i < wl; i++)
            w[i] = (char)tutor_lower((unsigned char)s[a + i]);
        wl = tutor_stem_len(w, wl);
        w[wl] = '\0';
        tutor_buf_add(b, w, wl + 1);
        cnt++;
    }
    return cnt;
}

/* How many of the query's stems the sentence has. */
static int about_score(const tutor_ed_ctx *c, size_t k, const char *q, size_t qn, size_t nq)
{
    tutor_buf sb = {0};
    int score = 0;

    stems_of(c->t + c->s[k].a, c->s[k].b - c->s[k].a, &sb, 1);
    for (size_t off = 0; off < qn; off += strlen(q + off) + 1)
        for (size_t so = 0; sb.p != NULL && so < sb.len; so += strlen(sb.p + so) + 1)
            if (strcmp(q + off, sb.p + so) == 0) {
                score++;
                break;
            }
    free(sb.p);
    (void)nq;
    return score;
}

/* ---- sentence references ---------------------------------------------------- */

/* "first" .. "tenth", "last", "second to last", "3rd", ... at *p. */
int tutor_ed_ordinal(const char **p, long *idx)
{
    static const char *const from_end[] = {
        "second to last", "second-to-last", "second last", "next to last",
        "next-to-last",   "last but one",   "penultimate", NULL};
    static const char *const words[] = {"first",   "second", "third", "fourth", "fifth", "sixth",
                                        "seventh", "eighth", "ninth", "tenth",  NULL};
    const char *s = tutor_ed_skip(*p);
    int i;

    if (tutor_ed_kw_any(&s, from_end) >= 0) {
        *idx = -2;
    } else if ((i = tutor_ed_kw_any(&s, words)) >= 0) {
        *idx = i;
    } else if (tutor_ed_kw(&s, "opening")) {
        *idx = 0;
    } else if (tutor_ed_kw(&s, "last") || tutor_ed_kw(&s, "final") || tutor_ed_kw(&s, "closing")) {
        *idx = -1;
    } else if (tutor_is_digit((unsigned char)*s)) {
        long v = 0;
        while (tutor_is_digit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        if (!(tutor_ed_iprefix(s, "st") || tutor_ed_iprefix(s, "nd") || tutor_ed_iprefix(s, "rd") ||
              tutor_ed_iprefix(s, "th")) ||
            tutor_ed_is_word_byte((unsigned char)s[2]) || v < 1)
            return 0;
        s += 2;
        *idx = v - 1;
    } else {
        return 0;
    }
    *p = s;
    return 1;
}

/* A number: digits, or "one" .. "ten". */
int tutor_ed_number(const char **p, long *v)
{
    static const char *const words[] = {"one",   "two",   "three", "four", "five", "six",
                                        "seven", "eight", "nine",  "ten",  NULL};
    const char *s = tutor_ed_skip(*p);
    int i;

    if ((i = tutor_ed_kw_any(&s, words)) >= 0) {
        *v = i + 1;
    } else if (tutor_is_digit((unsigned char)*s)) {
        *v = 0;
        while (tutor_is_digit((unsigned char)*s) && *v < 1000)
            *v = *v * 10 + (*s++ - '0');
        if (tutor_ed_is_word_byte((unsigned char)*s))
            return 0;
    } else {
        return 0;
    }
    *p = s;
    return 1;
}

/* What may follow a sentence reference's open argument. */
static const char *const ed_ref_stops[] = {
    " to ", " after ", " before ", " with ", " and ",   " into ", " in front of ", " at ",
    " up",  " down",   " first",   " last",  " using ", " from ", " in ",          NULL};

/* A sentence reference at *p, then tail (NULL: the end). */
int tutor_ed_sref_parse(tutor_ed_ctx *c, const char **p, tutor_ed_tail_fn tail, void *st,
                        tutor_ed_sref *r)
{
    static const char *const about[] = {"about",
                                        "on",
                                        "mentioning",
                                        "that mentions",
                                        "which mentions",
                                        "that talks about",
                                        "talking about",
                                        "that is about",
                                        "which is about",
                                        "regarding",
                                        NULL};
    static const char *const contains[] = {
        "with",      "containing", "that contains", "which contains", "that has",   "which has",
        "that says", "which says", "saying",        "where it says",  "that reads", "where",
        NULL};
    static const char *const starts[] = {"starting with",
                                         "that starts with",
                                         "which starts with",
                                         "beginning with",
                                         "that begins with",
                                         "which begins with",
                                         NULL};
    static const char *const ends[] = {"ending with", "that ends with", "which ends with", NULL};
    const char *q = *p, *r2;
    long v;

    tutor_ed_kw(&q, "the");
    if (tutor_ed_ordinal(&q, &v)) {
        if (!tutor_ed_kw(&q, "sentence") && !tutor_ed_kw(&q, "one"))
            return 0;
        r->kind = SR_INDEX;
        r->index = v;
        goto tail;
    }
    if (!tutor_ed_kw(&q, "sentence"))
        return 0;
    r2 = q;
    tutor_ed_kw(&r2, "number");
    if (tutor_ed_number(&r2, &v) && v >= 1) {
        q = r2;
        r->kind = SR_INDEX;
        r->index = v - 1;
        goto tail;
    }
    r2 = q;
    if (tutor_ed_kw_any(&r2, starts) >= 0)
        r->kind = SR_STARTS;
    else if (tutor_ed_kw_any(&r2, ends) >= 0)
        r->kind = SR_ENDS;
    else if (tutor_ed_kw_any(&r2, about) >= 0)
        r->kind = SR_ABOUT;
    else if (tutor_ed_kw_any(&r2, contains) >= 0)
        r->kind = SR_CONTAINS;
    else if (tutor_ed_is_quote(r2))
        r->kind = SR_CONTAINS;
    else {
        r->kind = SR_ONLY;
        goto tail;
    }
    if (!tutor_ed_arg_take(c, &r2, ed_ref_stops, tail, st, &r->what))
        return 0;
    *p = r2;
    return 1;
tail:
    if (tail != NULL ? !tail(c, q, st) : !tutor_ed_at_end(q))
        return 0;
    *p = q + strlen(q);
    return 1;
}

void tutor_ed_err_no_sentence(tutor_ed_ctx *c, long idx)
{
    char buf[160];

    snprintf(buf, sizeof buf, "Your answer has %zu sentence%s, so there is no sentence %ld.", c->n,
             c->n == 1 ? "" : "s", idx < 0 ? idx : idx + 1);
    if (idx < 0)
        snprintf(buf, sizeof buf, "Your answer has only %zu sentence%s.", c->n,
                 c->n == 1 ? "" : "s");
    tutor_ed_err(c, buf, NULL, 0);
}

/* The index of the sentence r names, or -1 with the reason in c->err. */
long tutor_ed_resolve(tutor_ed_ctx *c, const tutor_ed_sref *r)
{
    long best = -1;
    int best_score = 0;

    switch (r->kind) {
    case SR_INDEX: {
        long k = r->index >= 0 ? r->index : (long)c->n + r->index;
        if (k < 0 || k >= (long)c->n) {
            tutor_ed_err_no_sentence(c, r->index);
            return -1;
        }
        return k;
    }
    case SR_ONLY:
        if (c->n == 1)
            return 0;
        tutor_ed_err(c,
                     "Which sentence? Say, for example, \"the second sentence\" or \"the sentence "
                     "about taxes\".",
                     NULL, 0);
        return -1;
    case SR_STARTS:
    case SR_ENDS:
        for (size_t k = 0; k < c->n; k++) {
            size_t a = c->s[k].a, b = c->s[k].b;
            if (r->kind == SR_STARTS) {
                while (a < b && (c->t[a] == '"' || c->t[a] == '\'' || c->t[a] == '('))
                    a++;
                if (tutor_ed_match_at(c->t, c->tl, a, r->what.p, r->what.n))
                    return (long)k;
            } else {
                while (b > a && strchr(".!?\"')", c->t[b - 1]) != NULL)
                    b--;
                if (b >= a + r->what.n &&
                    tutor_ed_match_at(c->t, c->tl, b - r->what.n, r->what.p, r->what.n))
                    return (long)k;
            }
        }
        tutor_ed_err(c,
                     r->kind == SR_STARTS ? "No sentence starts with \"%.*s\"."
                                          : "No sentence ends with \"%.*s\".",
                     r->what.p, r->what.n);
        return -1;
    case SR_CONTAINS:
        for (size_t k = 0; k < c->n; k++)
            if (tutor_ed_find_in(c, c->s[k].a, c->s[k].b, &r->what) != (size_t)-1)
                return (long)k;
        /* Not word for word: the words, in any form. */
        /* fall through */
    case SR_ABOUT: {
        tutor_buf q = {0};
        size_t nq = stems_of(r->what.p, r->what.n, &q, 0);
        if (nq == 0)
            nq = stems_of(r->what.p, r->what.n, &q, 1);
        for (size_t k = 0; q.p != NULL && k < c->n; k++) {
            int sc = about_score(c, k, q.p, q.len, nq);
            if (sc > best_score) {
                best_score = sc;
                best = (long)k;
            }
        }
        free(q.p);
        if (best < 0)
            tutor_ed_err(c, "I could not find a sentence about \"%.*s\".", r->what.p, r->what.n);
        return best;
    }
    }
    return -1;
}

/* ---- places and destinations -------------------------------------------------- */

/* "of the answer", "of the text", ... or "of SREF" after "the end". */
static int parse_of(tutor_ed_ctx *c, const char *p, tutor_ed_place *pl, tutor_ed_pl_kind whole,
                    tutor_ed_pl_kind of_s)
{
    static const char *const whole_words[] = {
        "the answer", "the text", "the paragraph", "my answer", "it", "everything", NULL};
    const char *q = p;

    if (tutor_ed_at_end(q)) {
        pl->kind = whole;
        return 1;
    }
    if (!tutor_ed_kw(&q, "of"))
        return 0;
    if (tutor_ed_kw_any(&q, whole_words) >= 0 && tutor_ed_at_end(q)) {
        pl->kind = whole;
        return 1;
    }
    if (tutor_ed_sref_parse(c, &q, NULL, NULL, &pl->ref)) {
        pl->kind = of_s;
        return 1;
    }
    return 0;
}

/* Where something goes: "after X", "before X", "in front of X", "at/to the
 * end (of ...)", "at/to the start/beginning/front/top", "first", "last",
 * and for moves "up" / "down". */
int tutor_ed_place_parse(tutor_ed_ctx *c, const char *tail, void *st)
{
    tutor_ed_place *pl = st;
    const char *q = tail;
    int before = 0;

    if (tutor_ed_kw(&q, "after") || (before = tutor_ed_kw(&q, "before")) ||
        (before = tutor_ed_kw(&q, "in front of"))) {
        const char *r = q;
        if (tutor_ed_sref_parse(c, &r, NULL, NULL, &pl->ref)) {
            pl->kind = before ? PL_BEFORE_S : PL_AFTER_S;
            return 1;
        }
        r = q;
        if (tutor_ed_arg_take(c, &r, NULL, NULL, NULL, &pl->y)) {
            pl->kind = before ? PL_BEFORE_TEXT : PL_AFTER_TEXT;
            return 1;
        }
        return 0;
    }
    if ((tutor_ed_kw(&q, "at") || tutor_ed_kw(&q, "to") || tutor_ed_kw(&q, "onto")) &&
        tutor_ed_kw(&q, "the")) {
        if (tutor_ed_kw(&q, "end") || tutor_ed_kw(&q, "bottom"))
            return parse_of(c, q, pl, PL_END, PL_END_OF_S);
        if (tutor_ed_kw(&q, "start") || tutor_ed_kw(&q, "beginning") || tutor_ed_kw(&q, "front") ||
            tutor_ed_kw(&q, "top"))
            return parse_of(c, q, pl, PL_START, PL_START_OF_S);
        return 0;
    }
    q = tail;
    if ((tutor_ed_kw(&q, "first") || tutor_ed_kw(&q, "to the start")) && tutor_ed_at_end(q)) {
        pl->kind = PL_START;
        return 1;
    }
    q = tail;
    if (tutor_ed_kw(&q, "last") && tutor_ed_at_end(q)) {
        pl->kind = PL_END;
        return 1;
    }
    q = tail;
    if (pl->allow_updown &&
        (tutor_ed_kw(&q, "up") || tutor_ed_kw(&q, "earlier") || tutor_ed_kw(&q, "back")) &&
        tutor_ed_at_end(q)) {
        pl->kind = PL_UP;
        return 1;
    }
    q = tail;
    if (pl->allow_updown &&
        (tutor_ed_kw(&q, "down") || tutor_ed_kw(&q, "later") || tutor_ed_kw(&q, "forward")) &&
        tutor_ed_at_end(q)) {
        pl->kind = PL_DOWN;
        return 1;
    }
    return 0;
}

const char *const tutor_ed_place_stops[] = {
    " after ", " before ", " in front of ", " at the ", " to the ", " onto the ", " first",
    " last",   " up",      " down",         " earlier", " later",   NULL};

/* "from SREF" / "in SREF" after a word edit's argument: its scope. */

int tutor_ed_scope_parse(tutor_ed_ctx *c, const char *tail, void *st)
{
    tutor_ed_scope *sc = st;
    const char *q = tail;

    if (tutor_ed_at_end(q)) {
        sc->has = 0;
        return 1;
    }
    if (!(tutor_ed_kw(&q, "from") || tutor_ed_kw(&q, "in") || tutor_ed_kw(&q, "of")))
        return 0;
    sc->has = 1;
    return tutor_ed_sref_parse(c, &q, NULL, NULL, &sc->ref);
}

const char *const tutor_ed_scope_stops[] = {" from ", " in ", " of ", NULL};

int tutor_ed_scope_range(tutor_ed_ctx *c, const tutor_ed_scope *sc, size_t *lo, size_t *hi)
{
    long k;

    *lo = 0;
    *hi = c->tl;
    if (!sc->has)
        return 1;
    if ((k = tutor_ed_resolve(c, &sc->ref)) < 0)
        return 0;
    *lo = c->s[k].a;
    *hi = c->s[k].b;
    return 1;
}
