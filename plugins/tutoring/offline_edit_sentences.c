/*
 * The edits that change how the answer is cut into sentences
 * (offline_edit.h): split a sentence (after, before or at a word, or at its
 * natural break) and join two (the first or last two, N and M, one with
 * the next, with a connecting word).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "offline_edit.h"

/* split SREF [after|before|at X] | split after|before|at X */
typedef struct ed_split {
    int how; /* 'a' after, 'b' before, 't' at, 0 anywhere sensible */
    tutor_ed_arg x;
} ed_split;

static int parse_split_tail(tutor_ed_ctx *c, const char *tail, void *st)
{
    ed_split *sp = st;
    const char *q = tail;

    tutor_ed_kw(&q, "up");
    (void)(tutor_ed_kw(&q, "into two sentences") || tutor_ed_kw(&q, "into two") ||
           tutor_ed_kw(&q, "in two") || tutor_ed_kw(&q, "in half"));
    if (tutor_ed_at_end(q)) {
        sp->how = 0;
        return 1;
    }
    if (tutor_ed_kw(&q, "after") || tutor_ed_kw(&q, "right after"))
        sp->how = 'a';
    else if (tutor_ed_kw(&q, "before") || tutor_ed_kw(&q, "right before"))
        sp->how = 'b';
    else if (tutor_ed_kw(&q, "at") || tutor_ed_kw(&q, "where it says") || tutor_ed_kw(&q, "on"))
        sp->how = 't';
    else
        return 0;
    tutor_ed_kw(&q, "the word");
    tutor_ed_kw(&q, "the comma");
    return tutor_ed_arg_take(c, &q, NULL, NULL, NULL, &sp->x);
}

static int is_conjunction(const char *p, size_t n)
{
    static const char *const words[] = {"and", "but", "so", "or", "then", "and then", NULL};

    while (n > 0 && (*p == ',' || *p == ' ')) {
        p++;
        n--;
    }
    for (size_t i = 0; words[i] != NULL; i++)
        if (tutor_ieq(p, n, words[i], strlen(words[i])))
            return 1;
    return 0;
}

int tutor_ed_split(tutor_ed_ctx *c, const char *rest, char **out)
{
    static const char *const auto_marks[] = {"; ",    ", and ", ", but ", ", so ",
                                             " and ", " but ",  ", ",     NULL};
    ed_split sp = {0};
    tutor_ed_sref r;
    const char *q = rest;
    long k;
    size_t cut_a, cut_b, a, b, m;

    tutor_ed_kw(&q, "up");
    if (!tutor_ed_sref_parse(c, &q, parse_split_tail, &sp, &r)) {
        q = rest;
        tutor_ed_kw(&q, "up");
        tutor_ed_kw(&q, "it");
        if (!parse_split_tail(c, q, &sp) || sp.how == 0) {
            tutor_ed_err(c,
                         "Which sentence, and where? Say, for example, \"Split the second sentence "
                         "after 'rain'\".",
                         NULL, 0);
            return LX_EINVAL;
        }
        size_t at = tutor_ed_find(c, &sp.x);
        if (at == (size_t)-1) {
            tutor_ed_err(c, "I could not find \"%.*s\" in your answer.", sp.x.p, sp.x.n);
            return LX_EINVAL;
        }
        r.kind = SR_INDEX;
        r.index = (long)tutor_ed_sentence_of(c, at);
    }
    if ((k = tutor_ed_resolve(c, &r)) < 0)
        return LX_EINVAL;
    a = c->s[k].a;
    b = c->s[k].b;
    if (sp.how == 0) {
        /* The mark nearest the middle: "; ", ", and ", ... */
        size_t mid = (a + b) / 2, best = (size_t)-1, best_n = 0;
        for (size_t i = 0; auto_marks[i] != NULL && best == (size_t)-1; i++) {
            size_t n = strlen(auto_marks[i]);
            for (size_t p = a + 1; p + n < b; p++)
                if (tutor_ieq(c->t + p, n, auto_marks[i], n) &&
                    (best == (size_t)-1 ||
                     (p > mid ? p - mid : mid - p) < (best > mid ? best - mid : mid - best))) {
                    best = p;
                    best_n = n;
                }
        }
        if (best == (size_t)-1) {
            tutor_ed_err(c,
                         "Where should I split it? Say, for example, \"Split the second sentence "
                         "after 'rain'\".",
                         NULL, 0);
            return LX_EINVAL;
        }
        cut_a = best;
        cut_b = best + best_n;
    } else {
        size_t at = tutor_ed_find_in(c, a, b, &sp.x);
        if (at == (size_t)-1) {
            tutor_ed_err(c, "I could not find \"%.*s\" in that sentence.", sp.x.p, sp.x.n);
            return LX_EINVAL;
        }
        if (sp.how == 'a') {
            cut_a = cut_b = at + sp.x.n;
        } else if (sp.how == 't' && is_conjunction(sp.x.p, sp.x.n)) {
            cut_a = at;
            cut_b = at + sp.x.n;
        } else {
            cut_a = cut_b = at;
        }
    }
    /* The first part loses trailing commas and spaces, the second its
     * leading ones. */
    while (cut_a > a && (c->t[cut_a - 1] == ' ' || c->t[cut_a - 1] == ',' ||
                         c->t[cut_a - 1] == ';' || c->t[cut_a - 1] == ':'))
        cut_a--;
    while (cut_b < b && (c->t[cut_b] == ' ' || c->t[cut_b] == ',' || c->t[cut_b] == ';'))
        cut_b++;
    if (cut_a <= a || cut_b >= tutor_ed_sentence_body(c, (size_t)k)) {
        tutor_ed_err(c, "That would leave an empty sentence.", NULL, 0);
        return LX_EINVAL;
    }
    tutor_ed_piece *v = tutor_ed_pieces_new(c, &m);
    int rc;
    if (v == NULL)
        return LX_ENOMEM;
    tutor_ed_piece p1 = tutor_ed_new_piece(c, c->t + a, cut_a - a),
                   p2 = tutor_ed_new_piece(c, c->t + cut_b, b - cut_b);
    if (p1.p == NULL || p2.p == NULL) {
        free(v);
        return LX_ENOMEM;
    }
    v[k] = p1;
    tutor_ed_pieces_insert(v, &m, (size_t)k + 1, p2);
    rc = tutor_ed_emit(c, v, m, out);
    free(v);
    return rc;
}

/* join SREF and|with SREF2 [using 'X'] | join the first/last two sentences
 * | join sentences N and M */
typedef struct ed_join {
    tutor_ed_sref second;
    int next; /* +1: the one after, -1: the one before, 0: second */
    tutor_ed_arg with;
    int has_with;
} ed_join;

static int parse_connector(tutor_ed_ctx *c, const char *tail, ed_join *jn)
{
    const char *q = tail;

    jn->has_with = 0;
    if (tutor_ed_at_end(q))
        return 1;
    if (!(tutor_ed_kw(&q, "using") || tutor_ed_kw(&q, "with")))
        return 0;
    if (tutor_ed_kw(&q, "a comma") || tutor_ed_kw(&q, "commas")) {
        jn->with.p = ",";
        jn->with.n = 1;
        jn->has_with = 1;
        return tutor_ed_at_end(q);
    }
    if (tutor_ed_kw(&q, "a semicolon") || tutor_ed_kw(&q, "a semi-colon")) {
        jn->with.p = ";";
        jn->with.n = 1;
        jn->has_with = 1;
        return tutor_ed_at_end(q);
    }
    jn->has_with = tutor_ed_arg_take(c, &q, NULL, NULL, NULL, &jn->with);
    return jn->has_with;
}

static int connector_tail(tutor_ed_ctx *c, const char *tail, void *st)
{
    return parse_connector(c, tail, st);
}

static int parse_join_tail(tutor_ed_ctx *c, const char *tail, void *st)
{
    static const char *const next[] = {
        "the next one",      "the next sentence",      "the one after it", "the one after",
        "the following one", "the following sentence", "the next",         NULL};
    static const char *const prev[] = {"the previous one", "the previous sentence",
                                       "the one before it", "the one before", NULL};
    ed_join *jn = st;
    const char *q = tail;

    if (!(tutor_ed_kw(&q, "and") || tutor_ed_kw(&q, "with") || tutor_ed_kw(&q, "to") ||
          tutor_ed_kw(&q, "onto") || tutor_ed_kw(&q, "&")))
        return 0;
    const char *r = q;
    if (tutor_ed_kw_any(&r, next) >= 0 && parse_connector(c, r, jn)) {
        jn->next = 1;
        return 1;
    }
    r = q;
    if (tutor_ed_kw_any(&r, prev) >= 0 && parse_connector(c, r, jn)) {
        jn->next = -1;
        return 1;
    }
    jn->next = 0;
    return tutor_ed_sref_parse(c, &q, connector_tail, jn, &jn->second);
}

int tutor_ed_join(tutor_ed_ctx *c, const char *rest, char **out)
{
    ed_join jn = {0};
    tutor_ed_sref r = {0};
    const char *q = rest;
    long k1 = -1, k2 = -1, v1, v2;

    tutor_ed_kw(&q, "together");
    rest = q;
    /* "the first two sentences", "the last two sentences" */
    tutor_ed_kw(&q, "the");
    if ((tutor_ed_kw(&q, "first") || tutor_ed_kw(&q, "last")) && tutor_ed_number(&q, &v1) &&
        v1 == 2 && (tutor_ed_kw(&q, "sentences") || tutor_ed_kw(&q, "sentence")) &&
        parse_connector(c, q, &jn)) {
        int is_last = tutor_ed_iprefix(tutor_ed_skip(rest), "the last") ||
                      tutor_ed_iprefix(tutor_ed_skip(rest), "last");
        k1 = is_last ? (long)c->n - 2 : 0;
        k2 = k1 + 1;
    }
    /* "sentences 2 and 3" */
    q = rest;
    if (k1 < 0 && tutor_ed_kw(&q, "sentences") && tutor_ed_number(&q, &v1) &&
        (tutor_ed_kw(&q, "and") || tutor_ed_kw(&q, "&") || tutor_ed_kw(&q, "with")) &&
        tutor_ed_number(&q, &v2) && parse_connector(c, q, &jn)) {
        k1 = v1 - 1;
        k2 = v2 - 1;
    }
    /* "the second and third sentences" */
    q = rest;
    tutor_ed_kw(&q, "the");
    if (k1 < 0 && tutor_ed_ordinal(&q, &v1) && tutor_ed_kw(&q, "and") &&
        (tutor_ed_kw(&q, "the"), 1) && tutor_ed_ordinal(&q, &v2) &&
        (tutor_ed_kw(&q, "sentences") || tutor_ed_kw(&q, "sentence")) &&
        parse_connector(c, q, &jn)) {
        k1 = v1 < 0 ? (long)c->n + v1 : v1;
        k2 = v2 < 0 ? (long)c->n + v2 : v2;
    }
    if (k1 < 0) {
        q = rest;
        if (!tutor_ed_sref_parse(c, &q, parse_join_tail, &jn, &r)) {
            if (c->err == NULL || c->err[0] == '\0')
                tutor_ed_err(
                    c,
                    "Which sentences? Say, for example, \"Join the first two sentences\" or "
                    "\"Join the second sentence with the next one\".",
                    NULL, 0);
            return LX_EINVAL;
        }
        if ((k1 = tutor_ed_resolve(c, &r)) < 0)
            return LX_EINVAL;
        if (jn.next != 0)
            k2 = k1 + jn.next;
        else if ((k2 = tutor_ed_resolve(c, &jn.second)) < 0)
            return LX_EINVAL;
    }
    if (k1 < 0 || k2 < 0 || k1 >= (long)c->n || k2 >= (long)c->n) {
        tutor_ed_err_no_sentence(c, k1 < 0 || k1 >= (long)c->n ? k1 : k2);
        return LX_EINVAL;
    }
    if (k1 == k2) {
        tutor_ed_err(c, "Those are the same sentence.", NULL, 0);
        return LX_EINVAL;
    }
    if (k2 < k1) {
        long t = k1;
        k1 = k2;
        k2 = t;
    }
    /* First without its end, the connector, the second with a small first
     * word lower-cased. */
    tutor_buf b = {0};
    size_t a1 = c->s[k1].a, e1 = tutor_ed_sentence_body(c, (size_t)k1), a2 = c->s[k2].a;
    size_t m;
    tutor_buf_add(&b, c->t + a1, e1 - a1);
    if (jn.has_with && jn.with.n == 1 && strchr(",;", jn.with.p[0]) != NULL) {
        tutor_buf_add(&b, jn.with.p, 1);
        tutor_buf_add(&b, " ", 1);
    } else {
        tutor_buf_add(&b, " ", 1);
        tutor_buf_add(&b, jn.has_with ? jn.with.p : "and", jn.has_with ? jn.with.n : 3);
        tutor_buf_add(&b, " ", 1);
    }
    size_t at2 = b.len;
    tutor_buf_add(&b, c->t + a2, c->s[k2].b - a2);
    if (!b.oom && tutor_ed_can_lower(c, a2))
        b.p[at2] = (char)tutor_lower((unsigned char)b.p[at2]);
    char *joined = tutor_buf_take(&b);
    tutor_ed_piece *v = tutor_ed_pieces_new(c, &m);
    int rc;
    if (joined == NULL || v == NULL || tutor_ed_own(c, joined) == NULL) {
        if (v == NULL)
            free(joined);
        free(v);
        return LX_ENOMEM;
    }
    v[k1].p = joined;
    v[k1].n = strlen(joined);
    v[k1].orig = -1;
    tutor_ed_pieces_remove(v, &m, (size_t)k2);
    rc = tutor_ed_emit(c, v, m, out);
    free(v);
    return rc;
}
