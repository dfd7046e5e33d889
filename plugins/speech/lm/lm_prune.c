/*
 * Relative-entropy pruning of a back-off trigram model (lm.h).
 *
 * For an n-gram (h, w) with probability p = P(w|h), lower-order probability
 * q = P(w|h') and the history's back-off weight bo: dropping it alone moves
 * p into the back-off mass, the weight becomes
 *   bo' = (num + p) / (den + q),
 * num = 1 - sum of P(v|h) over the explicit v, den = 1 - sum of P(v|h') over
 * them, and the model changes by (Stolcke 1998, "Entropy-based pruning of
 * backoff language models")
 *   D = P(h) * [ p ln(p / (bo' q)) + num ln(bo / bo') ]
 * nats. An n-gram whose D is below the threshold of its order goes. Trigrams are judged
 * first (against the bigram model as read), then bigrams (a bigram that a
 * kept trigram needs stays: its history "a b" carries the trigram's back-off
 * weight, its last two words "b c" keep sphinxbase's trie free of filler
 * entries). Last, the back-off weight of every history that lost an n-gram,
 * or whose lower-order distribution did, is recomputed from the n-grams that
 * are left, so each history's distribution still sums to 1.
 * P(h) is the model's own: P(a) for a bigram's history, P(a) P(b|a) for a
 * trigram's, with P(<s>) = 1 (a sentence start is certain, though <s> is
 * never predicted).
 */
#include "config.h"

#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double e10(double x)
{
    return pow(10.0, x);
}

/* P(a) as a history: P(<s>) = 1. */
static double hist_unigram(const lm_model *m, uint32_t a, long s)
{
    return (long)a == s ? 1.0 : e10(m->p1[a]);
}

/* The change of the model if only the n-gram with probability p (lower
 * order q) of a history with num, den and back-off weight bo (linear) went. */
static double delta(double ph, double p, double q, double num, double den, double bo)
{
    double num2 = num + p, den2 = den + q;
    if (num2 <= 0 || den2 <= 0 || p <= 0 || q <= 0)
        return INFINITY; /* not prunable without breaking the distribution */
    double bo2 = num2 / den2;
    double d = p * log(p / (bo2 * q));
    if (num > 0 && bo > 0)
        d += num * log(bo / bo2);
    return ph * d;
}

/* Back-off weight (log10) from the mass left: (1 - sum p) / (1 - sum q).
 * Returns 0 when it cannot be computed (the caller keeps the weight). */
static int weight(double sum_p, double sum_q, float *out)
{
    double num = 1.0 - sum_p, den = 1.0 - sum_q;
    if (num <= 1e-12 || den <= 1e-12)
        return 0;
    *out = (float)log10(num / den);
    return 1;
}

int lm_prune(lm_model *m, double threshold3, double threshold2, lm_prune_stats *st, char *err,
             size_t errlen)
{
    memset(st, 0, sizeof(*st));
    st->bigrams_before = m->n2;
    st->trigrams_before = m->n3;
    long s = lm_word_id(m, "<s>");
    uint8_t *keep2 = malloc(m->n2 + 1), *need2 = calloc(m->n2 + 1, 1);
    uint8_t *keep3 = malloc(m->n3 + 1), *dirty1 = calloc((size_t)m->nw + 1, 1);
    uint8_t *dirty2 = calloc(m->n2 + 1, 1);
    if (keep2 == NULL || need2 == NULL || keep3 == NULL || dirty1 == NULL || dirty2 == NULL) {
        snprintf(err, errlen, "out of memory");
        free(keep2), free(need2), free(keep3), free(dirty1), free(dirty2);
        return -1;
    }
    memset(keep2, 1, m->n2 + 1);
    memset(keep3, 1, m->n3 + 1);
    if (threshold3 <= 0)
        threshold3 = -INFINITY; /* 0: keep every n-gram */
    if (threshold2 <= 0)
        threshold2 = -INFINITY;

    /* Trigrams, one history (a, b) at a time. */
    for (size_t i = 0, j; i < m->n3; i = j) {
        uint32_t a = m->tri[i].w1, b = m->tri[i].w2;
        for (j = i; j < m->n3 && m->tri[j].w1 == a && m->tri[j].w2 == b;)
            j++;
        long h = lm_find_bigram(m, a, b);
        double sp = 0, sq = 0;
        for (size_t k = i; k < j; k++) {
            sp += e10(m->tri[k].p);
            sq += e10(lm_logprob(m, &b, 1, m->tri[k].w3));
        }
        double ph = hist_unigram(m, a, s) * e10(lm_logprob(m, &a, 1, b));
        double bo = e10(h >= 0 ? m->bi[h].bo : 0.0);
        int pruned = 0;
        for (size_t k = i; k < j; k++) {
            double p = e10(m->tri[k].p), q = e10(lm_logprob(m, &b, 1, m->tri[k].w3));
            if (h >= 0 && delta(ph, p, q, 1.0 - sp, 1.0 - sq, bo) < threshold3) {
                keep3[k] = 0;
                pruned = 1;
            }
        }
        if (h >= 0 && pruned)
            dirty2[h] = 1;
    }
    /* The bigrams the kept trigrams need. */
    for (size_t k = 0; k < m->n3; k++) {
        if (!keep3[k])
            continue;
        long h = lm_find_bigram(m, m->tri[k].w1, m->tri[k].w2);
        long t = lm_find_bigram(m, m->tri[k].w2, m->tri[k].w3);
        if (h >= 0)
            need2[h] = 1;
        if (t >= 0)
            need2[t] = 1;
    }
    /* Bigrams, one history a at a time. */
    for (uint32_t a = 0; a < m->nw; a++) {
        size_t i = m->bi_start[a], j = m->bi_start[a + 1];
        if (i == j)
            continue;
        double sp = 0, sq = 0;
        for (size_t k = i; k < j; k++) {
            sp += e10(m->bi[k].p);
            sq += e10(m->p1[m->bi[k].w2]);
        }
        double ph = hist_unigram(m, a, s), bo = e10(m->bo1[a]);
        for (size_t k = i; k < j; k++) {
            if (need2[k])
                continue;
            double p = e10(m->bi[k].p), q = e10(m->p1[m->bi[k].w2]);
            if (delta(ph, p, q, 1.0 - sp, 1.0 - sq, bo) < threshold2) {
                keep2[k] = 0;
                dirty1[a] = 1;
            }
        }
    }

    /* The trigram histories (a, b) whose lower order P(.|b) changed. */
    for (size_t k = 0; k < m->n2; k++)
        if (dirty1[m->bi[k].w2])
            dirty2[k] = 1;
    /* Remember which trigram histories to renormalize by their words, then
     * compact both arrays (the indexes change). */
    size_t nd = 0;
    for (size_t k = 0; k < m->n2; k++)
        nd += dirty2[k] && keep2[k];
    uint32_t(*hist2)[2] = malloc((nd + 1) * sizeof(*hist2));
    if (hist2 == NULL) {
        snprintf(err, errlen, "out of memory");
        free(keep2), free(need2), free(keep3), free(dirty1), free(dirty2);
        return -1;
    }
    nd = 0;
    for (size_t k = 0; k < m->n2; k++)
        if (dirty2[k] && keep2[k]) {
            hist2[nd][0] = m->bi[k].w1;
            hist2[nd][1] = m->bi[k].w2;
            nd++;
        }
    size_t n = 0;
    for (size_t k = 0; k < m->n3; k++)
        if (keep3[k])
            m->tri[n++] = m->tri[k];
    m->n3 = n;
    n = 0;
    for (size_t k = 0; k < m->n2; k++)
        if (keep2[k])
            m->bi[n++] = m->bi[k];
    m->n2 = n;
    free(keep2), free(need2), free(keep3), free(dirty2);
    if (lm_index(m, err, errlen) < 0) {
        free(dirty1), free(hist2);
        return -1;
    }

    /* Bigram histories that lost a bigram: their back-off weight from what is left. */
    for (uint32_t a = 0; a < m->nw; a++) {
        if (!dirty1[a])
            continue;
        double sp = 0, sq = 0;
        for (size_t k = m->bi_start[a]; k < m->bi_start[a + 1]; k++) {
            sp += e10(m->bi[k].p);
            sq += e10(m->p1[m->bi[k].w2]);
        }
        if (weight(sp, sq, &m->bo1[a]))
            st->histories_renormalized++;
        else
            st->histories_kept_weight++;
    }
    free(dirty1);
    /* Trigram histories: from the trigrams left and the pruned bigram model. */
    for (size_t d = 0; d < nd; d++) {
        uint32_t a = hist2[d][0], b = hist2[d][1];
        long h = lm_find_bigram(m, a, b);
        if (h < 0)
            continue;
        lm_trigram key = {a, b, 0, 0};
        /* first trigram of the history: a binary search on (a, b) */
        size_t lo = 0, hi = m->n3;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const lm_trigram *t = &m->tri[mid];
            if (t->w1 < key.w1 || (t->w1 == key.w1 && t->w2 < key.w2))
                lo = mid + 1;
            else
                hi = mid;
        }
        double sp = 0, sq = 0;
        for (size_t k = lo; k < m->n3 && m->tri[k].w1 == a && m->tri[k].w2 == b; k++) {
            sp += e10(m->tri[k].p);
            sq += e10(lm_logprob(m, &b, 1, m->tri[k].w3));
        }
        if (weight(sp, sq, &m->bi[h].bo))
            st->histories_renormalized++;
        else
            st->histories_kept_weight++;
    }
    free(hist2);
    st->bigrams_after = m->n2;
    st->trigrams_after = m->n3;
    return 0;
}
