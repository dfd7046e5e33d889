/*
 * The offline tutor's quizzes: gap-fill multiple-choice questions from a
 * text (tutor_offline_quiz) and which option a student's answer picks
 * (tutor_mcq_pick). See offline.h for the contracts; the word and
 * sentence machinery is offline.c's (offline_int.h).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "offline_int.h"

/* ---- quizzes ------------------------------------------------------------ */

/* Frees v[0..n) and v; v may be NULL (offline.h). */
void tutor_mcqs_free(tutor_mcq *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].question);
        for (int k = 0; k < 4; k++)
            free(v[i].options[k]);
        free(v[i].explanation);
    }
    free(v);
}

enum { KIND_NUMBER = 1, KIND_NAME = 2, KIND_WORD = 3 };

typedef struct tutor_tok {
    size_t sent;     /* sentence index */
    size_t off, len; /* within the sentence */
    int kind;        /* KIND_* or 0 */
    uint32_t h_low;  /* hashes of the lower-cased word and of its stem */
    uint32_t h_stem;
} tutor_tok;

typedef struct tutor_qsent {
    const char *s;
    size_t first_tok, n_tok;
    size_t len;
    uint32_t hash; /* of the lower-cased sentence */
    int score, is_dup;
} tutor_qsent;

typedef struct tutor_rank {
    int score;
    size_t idx;
} tutor_rank;

/* qsort order: higher score first, then the earlier sentence. */
static int rank_cmp(const void *x, const void *y)
{
    const tutor_rank *a = x, *b = y;

    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static uint32_t rng_next(uint32_t *st)
{
    uint32_t x = *st;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *st = x;
    return x;
}

static int token_kind(const char *s, size_t len, int is_first)
{
    int has_alpha = 0, has_lower = 0;

    if (tutor_is_digit((unsigned char)s[0])) {
        for (size_t i = 0; i < len; i++)
            if (!tutor_is_digit((unsigned char)s[i]) && s[i] != '.' && s[i] != ',')
                return 0;
        return KIND_NUMBER;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (tutor_is_alpha(c) || c >= 0x80)
            has_alpha = 1;
        if (tutor_is_lower(c))
            has_lower = 1;
    }
    if (!has_alpha || tutor_is_stop_word(s, len))
        return 0;
    if (!is_first && len >= 2 && tutor_is_upper((unsigned char)s[0]) && has_lower)
        return KIND_NAME;
    if (len >= 4)
        return KIND_WORD;
    return 0;
}

static int stem_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    char x[64], y[64];
    size_t xl, yl;

    if (alen >= sizeof x || blen >= sizeof y)
        return tutor_ieq(a, alen, b, blen);
    for (size_t i = 0; i < alen; i++)
        x[i] = (char)tutor_lower((unsigned char)a[i]);
    for (size_t i = 0; i < blen; i++)
        y[i] = (char)tutor_lower((unsigned char)b[i]);
    xl = tutor_stem_len(x, alen);
    yl = tutor_stem_len(y, blen);
    return xl == yl && memcmp(x, y, xl) == 0;
}

/* Fills the hashes of t, the word s[t->off, +t->len). */
static void tok_hash(tutor_tok *t, const char *s)
{
    char x[64];
    size_t n = t->len;

    t->h_low = tutor_fnv(s + t->off, n);
    t->h_stem = t->h_low;
    if (n < sizeof x) {
        for (size_t i = 0; i < n; i++)
            x[i] = (char)tutor_lower((unsigned char)s[t->off + i]);
        t->h_stem = tutor_fnv(x, tutor_stem_len(x, n));
    }
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* The form of a word: 1 "-ing", 2 "-ed", 3 plural "-s", 0 other. */
static int word_form(const char *w, size_t n)
{
    if (n > 4 && tutor_ieq(w + n - 3, 3, "ing", 3))
        return 1;
    if (n > 3 && tutor_ieq(w + n - 2, 2, "ed", 2))
        return 2;
    if (n > 3 && tutor_lower((unsigned char)w[n - 1]) == 's' &&
        tutor_lower((unsigned char)w[n - 2]) != 's')
        return 3;
    return 0;
}

/* Builds question q on sentence si blanking token t, with distractors of
 * the same kind from other sentences. 1 built, 0 not possible, <0 error. */
static int build_mcq(const tutor_qsent *qs, const tutor_tok *toks, size_t n_toks,
                     const tutor_tok *t, uint32_t *rng, tutor_mcq *q)
{
    const char *ans = qs[t->sent].s + t->off;
    const tutor_tok *pool[64];
    size_t n_pool = 0, n_pick;
    const char *opt[4];
    size_t optlen[4];
    tutor_buf qb = {0};
    int n_opt, correct;

    for (size_t i = 0; i < n_toks && n_pool < 64; i++) {
        const tutor_tok *u = &toks[i];
        const char *us = qs[u->sent].s + u->off;
        int dup = 0;

        if (u->kind != t->kind || u->sent == t->sent || qs[u->sent].is_dup)
            continue;
        /* Hashes first: the full comparisons only run on a likely match. */
        if (u->h_low == t->h_low && tutor_ieq(us, u->len, ans, t->len))
            continue;
        if (t->kind == KIND_WORD && (tutor_is_upper((unsigned char)us[0]) ||
                                     (u->h_stem == t->h_stem && stem_eq(us, u->len, ans, t->len))))
            continue;
        for (size_t k = 0; k < n_pool && !dup; k++) {
            const char *ps = qs[pool[k]->sent].s + pool[k]->off;

            dup = (pool[k]->h_low == u->h_low && tutor_ieq(ps, pool[k]->len, us, u->len)) ||
                  (t->kind == KIND_WORD && pool[k]->h_stem == u->h_stem &&
                   stem_eq(ps, pool[k]->len, us, u->len));
        }
        if (!dup)
            pool[n_pool++] = u;
    }
    if (n_pool == 0)
        return 0;
    /* Words of the same form as the answer ("-ing", "-ed", plural) first,
     * so the form gives nothing away; then a partial Fisher-Yates within
     * each group: the first n_pick of pool are the distractors. */
    size_t n_pref = 0;

    if (t->kind == KIND_WORD) {
        int form = word_form(ans, t->len);

        for (size_t k = 0; k < n_pool; k++)
            if (word_form(qs[pool[k]->sent].s + pool[k]->off, pool[k]->len) == form) {
                const tutor_tok *tmp = pool[k];

                memmove(pool + n_pref + 1, pool + n_pref, (k - n_pref) * sizeof pool[0]);
                pool[n_pref++] = tmp;
            }
    }
    n_pick = n_pool < 3 ? n_pool : 3;
    for (size_t k = 0; k < n_pick; k++) {
        size_t hi = k < n_pref ? n_pref : n_pool;
        size_t j = k + rng_next(rng) % (hi - k);
        const tutor_tok *tmp = pool[k];

        pool[k] = pool[j];
        pool[j] = tmp;
    }
    n_opt = (int)n_pick + 1;
    opt[0] = ans;
    optlen[0] = t->len;
    for (size_t k = 0; k < n_pick; k++) {
        opt[k + 1] = qs[pool[k]->sent].s + pool[k]->off;
        optlen[k + 1] = pool[k]->len;
    }
    correct = 0;
    for (int k = n_opt - 1; k > 0; k--) {
        int j = (int)(rng_next(rng) % (uint32_t)(k + 1));
        const char *ts = opt[k];
        size_t tl = optlen[k];

        opt[k] = opt[j];
        optlen[k] = optlen[j];
        opt[j] = ts;
        optlen[j] = tl;
        if (correct == k)
            correct = j;
        else if (correct == j)
            correct = k;
    }
    memset(q, 0, sizeof *q);
    tutor_buf_str(&qb, "Fill the gap: ");
    tutor_buf_add(&qb, qs[t->sent].s, t->off);
    tutor_buf_str(&qb, "____");
    tutor_buf_str(&qb, qs[t->sent].s + t->off + t->len);
    q->question = tutor_buf_take(&qb);
    q->explanation = dup_n(qs[t->sent].s, strlen(qs[t->sent].s));
    q->n_options = n_opt;
    q->correct = correct;
    for (int k = 0; k < n_opt; k++)
        q->options[k] = dup_n(opt[k], optlen[k]);
    if (q->question == NULL || q->explanation == NULL)
        return LX_ENOMEM;
    for (int k = 0; k < n_opt; k++)
        if (q->options[k] == NULL)
            return LX_ENOMEM;
    return 1;
}

static int ends_as_question(const char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '"' || s[n - 1] == '\'' || s[n - 1] == ')' || s[n - 1] == ']' ||
                     (unsigned char)s[n - 1] >= 0x80))
        n--;
    return n > 0 && s[n - 1] == '?';
}

/* Up to max_q gap-fill questions from text; *out caller-owned, free with
 * tutor_mcqs_free (offline.h). */
int tutor_offline_quiz(const char *text, size_t len, int max_q, unsigned seed, tutor_mcq **out,
                       size_t *n)
{
    tutor_strv sv = {0};
    tutor_qsent *qs = NULL;
    tutor_tok *toks = NULL;
    size_t n_toks = 0, cap_toks = 0, n_q = 0;
    tutor_mcq *qv = NULL;
    const tutor_tok **used = NULL, *cand[40];
    tutor_rank *order = NULL;
    size_t attempts = 0;
    uint32_t rng = (uint32_t)seed * 2654435761u + 0x9e3779b9u;
    int rc = LX_ENOMEM;

    *out = NULL;
    *n = 0;
    if (max_q < 1)
        max_q = 1;
    if (max_q > 10)
        max_q = 10;
    if (rng == 0)
        rng = 1;
    if (text == NULL)
        return LX_OK;
    if ((rc = tutor_split_sentences(text, len, &sv)) != LX_OK)
        goto fail;
    rc = LX_ENOMEM;
    qs = calloc(sv.n ? sv.n : 1, sizeof *qs);
    order = calloc(sv.n ? sv.n : 1, sizeof *order);
    qv = calloc((size_t)max_q, sizeof *qv);
    used = calloc((size_t)max_q, sizeof *used);
    if (qs == NULL || order == NULL || qv == NULL || used == NULL)
        goto fail;
    for (size_t i = 0; i < sv.n; i++) {
        const char *s = sv.v[i];
        size_t sl = strlen(s), pos = 0, a, b, idx = 0;
        int has_number = 0, names = 0, words = 0;

        qs[i].s = s;
        qs[i].first_tok = n_toks;
        qs[i].len = sl;
        qs[i].hash = tutor_fnv(s, sl);
        for (size_t j = 0; j < i && !qs[i].is_dup; j++)
            qs[i].is_dup = qs[j].hash == qs[i].hash && tutor_ieq(qs[j].s, qs[j].len, s, sl);
        while (tutor_next_word(s, sl, &pos, &a, &b)) {
            if (n_toks == cap_toks) {
                size_t cap = cap_toks ? cap_toks * 2 : 64;
                tutor_tok *t = realloc(toks, cap * sizeof *t);

                if (t == NULL)
                    goto fail;
                toks = t;
                cap_toks = cap;
            }
            toks[n_toks].sent = i;
            toks[n_toks].off = a;
            toks[n_toks].len = b - a;
            toks[n_toks].kind = token_kind(s + a, b - a, idx == 0);
            tok_hash(&toks[n_toks], s);
            has_number |= toks[n_toks].kind == KIND_NUMBER;
            names += toks[n_toks].kind == KIND_NAME;
            words += toks[n_toks].kind == KIND_WORD;
            n_toks++;
            idx++;
        }
        qs[i].n_tok = idx;
        qs[i].score = words + names + 2 * has_number;
    }
    /* Most informative first, earlier first on ties. */
    for (size_t i = 0; i < sv.n; i++) {
        order[i].score = qs[i].score;
        order[i].idx = i;
    }
    if (sv.n > 1)
        qsort(order, sv.n, sizeof *order, rank_cmp);
    for (size_t oi = 0; oi < sv.n && n_q < (size_t)max_q; oi++) {
        const tutor_qsent *cs = &qs[order[oi].idx];
        int built = 0;

        if (cs->is_dup || cs->n_tok < 8 || cs->n_tok > 40 || ends_as_question(cs->s))
            continue;
        size_t n_cand = 0;

        /* Candidate terms: numbers, then names, in order; then words,
         * longest first (stable: earlier first on equal length). */
        for (int kind = KIND_NUMBER; kind <= KIND_WORD; kind++)
            for (size_t k = cs->first_tok; k < cs->first_tok + cs->n_tok; k++) {
                const tutor_tok *t = &toks[k];
                size_t j = n_cand;

                if (t->kind != kind)
                    continue;
                while (kind == KIND_WORD && j > 0 && cand[j - 1]->kind == KIND_WORD &&
                       cand[j - 1]->len < t->len) {
                    cand[j] = cand[j - 1];
                    j--;
                }
                cand[j] = t;
                n_cand++;
            }
        for (size_t ci = 0; ci < n_cand && !built; ci++) {
            const tutor_tok *t = cand[ci];
            int skip = 0, r;

            for (size_t u = 0; u < n_q && !skip; u++)
                skip = tutor_ieq(qs[used[u]->sent].s + used[u]->off, used[u]->len, cs->s + t->off,
                                 t->len);
            if (skip)
                continue;
            /* Each attempt scans every word: bounded for huge texts. */
            if (++attempts > 400)
                break;
            r = build_mcq(qs, toks, n_toks, t, &rng, &qv[n_q]);
            if (r < 0) {
                n_q++;
                goto fail;
            }
            if (r == 1) {
                used[n_q] = t;
                n_q++;
                built = 1;
            }
        }
    }
    /* In the order of the text. */
    for (size_t i = 1; i < n_q; i++) {
        tutor_mcq v = qv[i];
        const tutor_tok *u = used[i];
        size_t j = i;

        while (j > 0 && used[j - 1]->sent > u->sent) {
            qv[j] = qv[j - 1];
            used[j] = used[j - 1];
            j--;
        }
        qv[j] = v;
        used[j] = u;
    }
    if (n_q == 0) {
        free(qv);
        qv = NULL;
    }
    *out = qv;
    *n = n_q;
    qv = NULL;
    n_q = 0;
    rc = LX_OK;
fail:
    tutor_mcqs_free(qv, n_q);
    free(used);
    free(order);
    free(toks);
    free(qs);
    tutor_strv_free(sv.v, sv.n);
    return rc;
}

/* ---- picking an option -------------------------------------------------- */

/* Whether word sequence of needle occurs in hay at word boundaries; *exact
 * when they are the same sequence. Case-insensitive. */
static int words_contain(const char *hay, const char *needle, int *exact)
{
    size_t hl = strlen(hay), nl = strlen(needle);
    size_t hp = 0, ha, hb;
    int found = 0, n_hay = 0, n_needle = 0;
    size_t np = 0, na, nb;

    while (tutor_next_word(needle, nl, &np, &na, &nb))
        n_needle++;
    *exact = 0;
    if (n_needle == 0)
        return 0;
    while (tutor_next_word(hay, hl, &hp, &ha, &hb)) {
        size_t p2 = hp, a2 = ha, b2 = hb;
        int ok = 1;

        n_hay++;
        np = 0;
        for (int k = 0; k < n_needle && ok; k++) {
            if (k > 0 && !tutor_next_word(hay, hl, &p2, &a2, &b2)) {
                ok = 0;
                break;
            }
            tutor_next_word(needle, nl, &np, &na, &nb);
            ok = tutor_ieq(hay + a2, b2 - a2, needle + na, nb - na);
        }
        if (ok)
            found = 1;
    }
    *exact = found && n_hay == n_needle;
    return found;
}

/* ASCII space or punctuation: what may surround a short answer. */
static int is_ascii_mark(unsigned char c)
{
    return c < 0x80 && !tutor_is_alpha(c) && !tutor_is_digit(c);
}

/* The option of q that answer picks, or -1 (offline.h). */
int tutor_mcq_pick(const tutor_mcq *q, const char *answer)
{
    char a[32];
    size_t al = 0, len, i = 0, j;
    int n, hits = 0, pick = -1;

    if (q == NULL || answer == NULL || q->n_options < 1)
        return -1;
    n = q->n_options > 4 ? 4 : q->n_options;
    len = strlen(answer);
    /* The short forms: trimmed, lower-cased, without punctuation around. */
    while (i < len && is_ascii_mark((unsigned char)answer[i]))
        i++;
    j = len;
    while (j > i && is_ascii_mark((unsigned char)answer[j - 1]))
        j--;
    if (j - i < sizeof a) {
        for (size_t k = i; k < j; k++)
            a[al++] = (char)tutor_lower((unsigned char)answer[k]);
        a[al] = '\0';
        const char *p = a;

        for (const char *const *pre =
                 (const char *const[]){"the answer is", "answer", "option", "choice", "letter",
                                       "number", "it is", "it's", NULL};
             *pre != NULL; pre++) {
            size_t pl = strlen(*pre);

            if (strncmp(p, *pre, pl) == 0 && (p[pl] == ' ' || p[pl] == ':')) {
                p += pl;
                while (*p == ' ' || *p == ':')
                    p++;
                break;
            }
        }
        if (p[0] >= 'a' && p[0] < 'a' + n &&
            (p[1] == '\0' || p[1] == ')' || p[1] == '.' || p[1] == ':'))
            return p[0] - 'a';
        if (p[0] >= '1' && p[0] < '1' + n &&
            (p[1] == '\0' || p[1] == ')' || p[1] == '.' || p[1] == ':'))
            return p[0] - '1';
    }
    for (int k = 0; k < n; k++) {
        int exact;

        if (q->options[k] == NULL)
            continue;
        if (words_contain(answer, q->options[k], &exact)) {
            if (exact)
                return k;
            hits++;
            pick = k;
        }
    }
    return hits == 1 ? pick : -1;
}
