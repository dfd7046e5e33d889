/*
 * The offline tutor's shared word and sentence machinery (offline_int.h):
 * the growing string, words, stop words, stemming, sentence splitting;
 * and the public functions built only on it: tutor_sentences,
 * tutor_offline_answer, tutor_fk_grade, tutor_word_count (offline.h).
 * Quizzes are in offline_quiz.c, transcript clean-up and edit commands in
 * offline_edit.c.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <lexiaid/plugin.h>
#include <lexiaid/utf8.h>

#include "offline_int.h"

/* ---- small helpers ---------------------------------------------------- */

/* Whether a and b are equal, ASCII case-insensitively (offline_int.h). */
int tutor_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (tutor_lower((unsigned char)a[i]) != tutor_lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* The length of the valid UTF-8 sequence at s[i] with its code point in
 * *cp, or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    int ok;
    size_t n = lx_utf8_next(s + i, len - i, cp, &ok);

    return ok ? n : 0;
}

/* How many bytes of word character start at str[i] (0: not a word char)
 * (offline_int.h). */
size_t tutor_word_at(const char *str, size_t len, size_t i)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[i];
    uint32_t cp;
    size_t n;

    if (tutor_is_alpha(c) || tutor_is_digit(c) || c == '\'' || c == '-')
        return 1;
    if ((c == '.' || c == ',') && i > 0 && i + 1 < len && tutor_is_digit(s[i - 1]) &&
        tutor_is_digit(s[i + 1]))
        return 1;
    if (c < 0x80)
        return 0;
    n = utf8_len(s, len, i, &cp);
    if (n == 0)
        return 0;
    if ((cp >= 0xa0 && cp <= 0xbf) || cp == 0xd7 || cp == 0xf7 || (cp >= 0x2000 && cp <= 0x206f) ||
        (cp >= 0x3000 && cp <= 0x303f) || cp == 0xfeff)
        return 0;
    return n;
}

/* The next word at or after *pos: [*start, *end), without leading or
 * trailing apostrophes and hyphens. 0 when there is none (offline_int.h). */
int tutor_next_word(const char *s, size_t len, size_t *pos, size_t *start, size_t *end)
{
    size_t i = *pos;

    for (;;) {
        size_t a, b, k;

        while (i < len && tutor_word_at(s, len, i) == 0)
            i++;
        if (i >= len) {
            *pos = len;
            return 0;
        }
        a = i;
        while (i < len && (k = tutor_word_at(s, len, i)) > 0)
            i += k;
        b = i;
        while (a < b && (s[a] == '\'' || s[a] == '-'))
            a++;
        while (b > a && (s[b - 1] == '\'' || s[b - 1] == '-'))
            b--;
        if (a < b) {
            *pos = i;
            *start = a;
            *end = b;
            return 1;
        }
    }
}

static const char *const tutor_stop_words[] = {
    "a",     "about",   "above",    "after",   "again",  "all",    "also",    "am",    "an",
    "and",   "any",     "are",      "as",      "at",     "be",     "because", "been",  "before",
    "being", "between", "both",     "but",     "by",     "can",    "could",   "did",   "do",
    "does",  "doing",   "down",     "during",  "each",   "few",    "for",     "from",  "further",
    "had",   "has",     "have",     "having",  "he",     "her",    "here",    "hers",  "him",
    "his",   "how",     "i",        "if",      "in",     "into",   "is",      "it",    "it's",
    "its",   "just",    "me",       "more",    "most",   "my",     "no",      "nor",   "not",
    "of",    "off",     "on",       "once",    "only",   "or",     "other",   "our",   "ours",
    "out",   "over",    "own",      "same",    "she",    "should", "so",      "some",  "such",
    "than",  "that",    "the",      "their",   "theirs", "them",   "then",    "there", "these",
    "they",  "this",    "those",    "through", "to",     "too",    "under",   "until", "up",
    "very",  "was",     "we",       "were",    "what",   "when",   "where",   "which", "while",
    "who",   "whom",    "why",      "will",    "with",   "would",  "you",     "your",  "yours",
    "tell",  "explain", "describe", "please",  "many",   "much",   "may",     "might", "must",
    "shall", "get",     "gets",     "got",     "one",    "s",      "t",
};

/* Whether w[0, n) is in tutor_stop_words, case-insensitively (offline_int.h). */
int tutor_is_stop_word(const char *w, size_t n)
{
    if (n == 0 || n > 8) /* the longest stop word has 8 letters */
        return 0;
    for (size_t i = 0; i < sizeof tutor_stop_words / sizeof tutor_stop_words[0]; i++)
        if (tutor_stop_words[i][0] == tutor_lower((unsigned char)w[0]) &&
            tutor_ieq(w, n, tutor_stop_words[i], strlen(tutor_stop_words[i])))
            return 1;
    return 0;
}

static int ends_with(const char *w, size_t n, const char *suf)
{
    size_t k = strlen(suf);

    return n >= k && memcmp(w + n - k, suf, k) == 0;
}

/* The length of the stem of lower-cased w (-ing -ly -ed -es -s)
 * (offline_int.h). */
size_t tutor_stem_len(const char *w, size_t n)
{
    if (n > 5 && ends_with(w, n, "ing"))
        return n - 3;
    if (n > 4 && ends_with(w, n, "ly"))
        return n - 2;
    if (n > 4 && ends_with(w, n, "ed"))
        return n - 2;
    if (n > 4 && (ends_with(w, n, "ses") || ends_with(w, n, "xes") || ends_with(w, n, "zes") ||
                  ends_with(w, n, "ches") || ends_with(w, n, "shes")))
        return n - 2;
    if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != '\'')
        return n - 1;
    return n;
}

/* Content-word stems of s, lower-cased, into one buffer of NUL-separated
 * strings. Returns the count, or -1 when out of memory. */
static long content_stems(const char *s, size_t len, tutor_buf *out, int dedupe)
{
    size_t pos = 0, a, b;
    long n = 0;
    char tmp[64];

    while (tutor_next_word(s, len, &pos, &a, &b)) {
        size_t wl = b - a, sl;

        if (wl >= sizeof tmp || tutor_is_stop_word(s + a, wl))
            continue;
        for (size_t k = 0; k < wl; k++)
            tmp[k] = (char)tutor_lower((unsigned char)s[a + k]);
        sl = tutor_stem_len(tmp, wl);
        tmp[sl] = '\0';
        if (dedupe) {
            int seen = 0;

            for (size_t off = 0; out->p != NULL && off < out->len; off += strlen(out->p + off) + 1)
                if (strcmp(out->p + off, tmp) == 0) {
                    seen = 1;
                    break;
                }
            if (seen)
                continue;
        }
        tutor_buf_add(out, tmp, sl + 1);
        if (out->oom)
            return -1;
        n++;
    }
    return n;
}

/* FNV-1a of s[0, n) lower-cased (offline_int.h). */
uint32_t tutor_fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ tutor_lower((unsigned char)s[i])) * 16777619u;
    return h;
}

/* ---- sentences ---------------------------------------------------------- */

/* Frees v[0..n) and v; v may be NULL (offline.h). */
void tutor_strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Narrows text[*a, *b) to leave out white space at either end: whether
 * anything is left. */
static int tutor_trim_span(const char *text, size_t *a, size_t *b)
{
    while (*a < *b && tutor_is_space((unsigned char)text[*a]))
        (*a)++;
    while (*b > *a && tutor_is_space((unsigned char)text[*b - 1]))
        (*b)--;
    return *a < *b;
}

/* Appends text[a, b) trimmed, with white-space runs (and NULs) made one
 * space; empty pieces are dropped. */
static int strv_add_trimmed(tutor_strv *sv, const char *text, size_t a, size_t b)
{
    char *s;
    size_t k = 0;

    if (!tutor_trim_span(text, &a, &b))
        return LX_OK;
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 16;
        char **v = realloc(sv->v, cap * sizeof *v);

        if (v == NULL)
            return LX_ENOMEM;
        sv->v = v;
        sv->cap = cap;
    }
    s = malloc(b - a + 1);
    if (s == NULL)
        return LX_ENOMEM;
    for (size_t i = a; i < b; i++) {
        if (tutor_is_space((unsigned char)text[i])) {
            if (k > 0 && s[k - 1] != ' ')
                s[k++] = ' ';
        } else {
            s[k++] = text[i];
        }
    }
    s[k] = '\0';
    sv->v[sv->n++] = s;
    return LX_OK;
}

/* The length of a closing quote or bracket at text[i], or 0. */
static size_t closer_at(const char *text, size_t len, size_t i)
{
    const unsigned char *s = (const unsigned char *)text;
    uint32_t cp;
    size_t n;

    if (s[i] == '"' || s[i] == '\'' || s[i] == ')' || s[i] == ']' || s[i] == '}')
        return 1;
    if (s[i] < 0x80)
        return 0;
    n = utf8_len(s, len, i, &cp);
    if (n > 0 && (cp == 0x201d || cp == 0x2019 || cp == 0xbb || cp == 0x203a))
        return n;
    return 0;
}

/* Whether the single '.' at text[dot] closes an abbreviation (offline_int.h). */
int tutor_is_abbreviation(const char *text, size_t len, size_t dot)
{
    static const char *const always[] = {"e.g", "i.e", "dr", "mr", "mrs", "ms",     "st", "prof",
                                         "jr",  "sr",  "vs", "cf", "mt",  "approx", "fig"};
    size_t k = dot, j;

    while (k > 0 && (tutor_is_alpha((unsigned char)text[k - 1]) || text[k - 1] == '.'))
        k--;
    if (k == dot)
        return 0;
    for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
        if (tutor_ieq(text + k, dot - k, always[i], strlen(always[i])))
            return 1;
    /* An initial ("J. Smith"). */
    if (dot - k == 1 && tutor_is_upper((unsigned char)text[k]))
        return 1;
    /* "etc." goes on when the next word is lower-case. */
    if (tutor_ieq(text + k, dot - k, "etc", 3)) {
        j = dot + 1;
        while (j < len && tutor_is_space((unsigned char)text[j]))
            j++;
        return j < len && tutor_is_lower((unsigned char)text[j]);
    }
    return 0;
}

/* Cuts text[0, len) into sentences by the rules of tutor_sentences
 * (offline.h), calling fn(arg, text, start, end) for each piece in order
 * (untrimmed; possibly all white space). Stops at fn's first failure. */
typedef int (*tutor_piece_fn)(void *arg, const char *text, size_t a, size_t b);

static int split_pieces(const char *text, size_t len, tutor_piece_fn fn, void *arg)
{
    size_t start = 0, i = 0;
    int rc;

    while (i < len) {
        unsigned char c = (unsigned char)text[i];

        if (c == '\n') {
            size_t j = i + 1;

            while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r'))
                j++;
            if (j < len && text[j] == '\n') {
                if ((rc = fn(arg, text, start, i)) != LX_OK)
                    return rc;
                start = i = j + 1;
                continue;
            }
            i++;
            continue;
        }
        if (c == '.' || c == '!' || c == '?') {
            size_t j = i, k;
            int only_dots = 1;

            while (j < len && (text[j] == '.' || text[j] == '!' || text[j] == '?')) {
                if (text[j] != '.')
                    only_dots = 0;
                j++;
            }
            int single_dot = only_dots && j == i + 1;

            while (j < len && (k = closer_at(text, len, j)) > 0)
                j += k;
            if ((j >= len || tutor_is_space((unsigned char)text[j])) &&
                !(single_dot && tutor_is_abbreviation(text, len, i))) {
                if ((rc = fn(arg, text, start, j)) != LX_OK)
                    return rc;
                start = j;
            }
            i = j;
            continue;
        }
        i++;
    }
    return fn(arg, text, start, len);
}

static int strv_piece(void *arg, const char *text, size_t a, size_t b)
{
    return strv_add_trimmed(arg, text, a, b);
}

/* Appends the sentences of text to sv: LX_OK or LX_ENOMEM (offline_int.h). */
int tutor_split_sentences(const char *text, size_t len, tutor_strv *sv)
{
    return split_pieces(text, len, strv_piece, sv);
}

typedef struct span_list {
    tutor_span *v;
    size_t n, cap;
} span_list;

static int span_piece(void *arg, const char *text, size_t a, size_t b)
{
    span_list *l = arg;

    if (!tutor_trim_span(text, &a, &b))
        return LX_OK;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        tutor_span *v = realloc(l->v, cap * sizeof *v);

        if (v == NULL)
            return LX_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].a = a;
    l->v[l->n].b = b;
    l->n++;
    return LX_OK;
}

/* The sentences of text as byte ranges (offline_int.h). */
int tutor_sentence_spans(const char *text, size_t len, tutor_span **out, size_t *n)
{
    span_list l = {0};
    int rc = split_pieces(text, len, span_piece, &l);

    if (rc != LX_OK) {
        free(l.v);
        l.v = NULL;
        l.n = 0;
    }
    *out = l.v;
    *n = l.n;
    return rc;
}

/* The sentences of text, caller-owned (offline.h). */
int tutor_sentences(const char *text, size_t len, char ***out, size_t *n)
{
    tutor_strv sv = {0};
    int rc;

    *out = NULL;
    *n = 0;
    if (text == NULL)
        return LX_OK;
    rc = tutor_split_sentences(text, len, &sv);
    if (rc != LX_OK) {
        tutor_strv_free(sv.v, sv.n);
        return rc;
    }
    *out = sv.v;
    *n = sv.n;
    return LX_OK;
}

/* ---- extractive answers ------------------------------------------------- */

typedef struct tutor_scored {
    char *s;
    int score;
    int chosen;
} tutor_scored;

/* The extractive answer from passages; *answer caller-owned (offline.h). */
int tutor_offline_answer(const char *question, const char *const *passages, size_t n_passages,
                         int max_sentences, char **answer, int *is_found)
{
    tutor_buf qs = {0}, joined = {0};
    tutor_strv all = {0};
    tutor_scored *sc = NULL;
    unsigned char *hit = NULL;
    uint32_t *qh = NULL;
    size_t *qoff = NULL;
    long nq;
    int rc = LX_ENOMEM;

    *answer = NULL;
    *is_found = 0;
    if (question == NULL)
        return LX_OK;
    if (max_sentences < 1)
        max_sentences = 1;
    if (max_sentences > 20)
        max_sentences = 20;
    nq = content_stems(question, strlen(question), &qs, 1);
    if (nq < 0)
        goto fail;
    if (nq == 0) {
        rc = LX_OK;
        goto fail;
    }
    for (size_t p = 0; p < n_passages && passages != NULL; p++) {
        if (passages[p] == NULL)
            continue;
        if ((rc = tutor_split_sentences(passages[p], strlen(passages[p]), &all)) != LX_OK)
            goto fail;
    }
    rc = LX_ENOMEM;
    hit = malloc((size_t)nq);
    qh = malloc((size_t)nq * sizeof *qh);
    qoff = malloc((size_t)nq * sizeof *qoff);
    sc = calloc(all.n ? all.n : 1, sizeof *sc);
    if (hit == NULL || qh == NULL || qoff == NULL || sc == NULL)
        goto fail;
    for (long q = 0, off = 0; q < nq; q++) {
        qoff[q] = (size_t)off;
        qh[q] = tutor_fnv(qs.p + off, strlen(qs.p + off));
        off += (long)strlen(qs.p + off) + 1;
    }
    for (size_t i = 0; i < all.n; i++) {
        tutor_buf ss = {0};
        long ns = content_stems(all.v[i], strlen(all.v[i]), &ss, 0);
        size_t off = 0;

        if (ns < 0) {
            free(ss.p);
            goto fail;
        }
        memset(hit, 0, (size_t)nq);
        for (long w = 0; w < ns; w++) {
            const char *st = ss.p + off;
            size_t sl = strlen(st);
            uint32_t h = tutor_fnv(st, sl);

            for (long q = 0; q < nq; q++)
                if (qh[q] == h && strcmp(qs.p + qoff[q], st) == 0)
                    hit[q] = 1;
            off += sl + 1;
        }
        free(ss.p);
        sc[i].s = all.v[i];
        for (long q = 0; q < nq; q++)
            sc[i].score += hit[q];
    }
    int picked = 0;

    for (int k = 0; k < max_sentences; k++) {
        size_t best = all.n;

        for (size_t i = 0; i < all.n; i++)
            if (!sc[i].chosen && sc[i].score > 0 && (best == all.n || sc[i].score > sc[best].score))
                best = i;
        if (best == all.n)
            break;
        sc[best].chosen = 1;
        picked++;
    }
    if (picked > 0) {
        for (size_t i = 0; i < all.n; i++) {
            if (!sc[i].chosen)
                continue;
            if (joined.len > 0)
                tutor_buf_add(&joined, " ", 1);
            tutor_buf_str(&joined, sc[i].s);
        }
        *answer = tutor_buf_take(&joined);
        if (*answer == NULL)
            goto fail;
        *is_found = 1;
    }
    rc = LX_OK;
fail:
    free(qs.p);
    free(hit);
    free(qh);
    free(qoff);
    free(sc);
    tutor_strv_free(all.v, all.n);
    return rc;
}

/* ---- readability -------------------------------------------------------- */

static int syllables(const char *w, size_t n)
{
    int count = 0, in_vowel = 0, letters = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = tutor_lower((unsigned char)w[i]);
        int v = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';

        letters += tutor_is_alpha(c);
        if (v && !in_vowel)
            count++;
        in_vowel = v;
    }
    if (n > 2 && tutor_lower((unsigned char)w[n - 1]) == 'e' &&
        tutor_lower((unsigned char)w[n - 2]) != 'l' && count > 1)
        count--;
    if (count < 1 || letters == 0)
        count = 1;
    return count;
}

/* Flesch–Kincaid grade of text, 0..18 (offline.h). */
double tutor_fk_grade(const char *text)
{
    size_t len, pos = 0, a, b;
    long words = 0, syl = 0, sentences = 0;
    char **sv;
    size_t ns;
    double g;

    if (text == NULL)
        return 0.0;
    len = strlen(text);
    while (tutor_next_word(text, len, &pos, &a, &b)) {
        words++;
        syl += syllables(text + a, b - a);
    }
    if (words == 0)
        return 0.0;
    if (tutor_sentences(text, len, &sv, &ns) == LX_OK) {
        sentences = (long)ns;
        tutor_strv_free(sv, ns);
    }
    if (sentences < 1)
        sentences = 1;
    g = 0.39 * ((double)words / (double)sentences) + 11.8 * ((double)syl / (double)words) - 15.59;
    if (g < 0.0)
        g = 0.0;
    if (g > 18.0)
        g = 18.0;
    return g;
}

/* The number of words in text (offline.h). */
int tutor_word_count(const char *text)
{
    size_t len, pos = 0, a, b;
    int n = 0;

    if (text == NULL)
        return 0;
    len = strlen(text);
    while (tutor_next_word(text, len, &pos, &a, &b))
        if (n < INT_MAX)
            n++;
    return n;
}
