/*
 * The model through sphinxbase's public API (lm.h): written in its binary
 * format, and checked against sphinxbase's own reading of a file.
 */
#include "config.h"

#include "lm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/ngram_model.h>

static ngram_model_t *load(const char *path, ngram_file_type_t type, logmath_t **lmath)
{
    /* base 1.0001: pocketsphinx's, so the file holds what a decoder reads */
    if ((*lmath = logmath_init(1.0001, 0, 0)) == NULL)
        return NULL;
    ngram_model_t *lm = ngram_model_read(NULL, path, type, *lmath);
    if (lm == NULL) {
        logmath_free(*lmath);
        *lmath = NULL;
    }
    return lm;
}

int lm_write_bin(const lm_model *m, const char *path, char *err, size_t errlen)
{
    char arpa[4096], bin[4200];
    if (lm_arpa_temp(m, path, arpa, sizeof(arpa), err, errlen) < 0)
        return -1;
    int rc = -1;
    logmath_t *lmath = NULL;
    ngram_model_t *lm = load(arpa, NGRAM_ARPA, &lmath);
    snprintf(bin, sizeof(bin), "%s.bin-tmp", arpa);
    if (lm == NULL)
        snprintf(err, errlen, "sphinxbase could not read the ARPA model it was given (%s)", arpa);
    else if (ngram_model_write(lm, bin, NGRAM_BIN) != 0)
        snprintf(err, errlen, "sphinxbase could not write %s", bin);
    else if (rename(bin, path) < 0)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    else
        rc = 0;
    if (lm != NULL) {
        ngram_model_free(lm);
        logmath_free(lmath); /* the model kept a reference of its own */
    }
    unlink(arpa);
    if (rc < 0)
        unlink(bin);
    return rc;
}

/* sphinxbase's log10 P(w | hist), hist oldest first; NAN if a word is unknown. */
static double sphinx_prob(ngram_model_t *lm, logmath_t *lmath, const lm_model *m,
                          const uint32_t *hist, int n, uint32_t w)
{
    int32 wid = ngram_wid(lm, m->words[w]), h[2];
    if (wid == NGRAM_INVALID_WID)
        return NAN;
    for (int i = 0; i < n; i++) /* most recent first */
        if ((h[i] = ngram_wid(lm, m->words[hist[n - 1 - i]])) == NGRAM_INVALID_WID)
            return NAN;
    int32 used;
    return logmath_log_to_log10(lmath, ngram_ng_prob(lm, wid, h, n, &used));
}

int lm_verify(const lm_model *m, const char *path, size_t stride, double *max_diff, size_t *checked,
              char *err, size_t errlen)
{
    logmath_t *lmath;
    ngram_model_t *lm = load(path, NGRAM_AUTO, &lmath);
    if (lm == NULL) {
        snprintf(err, errlen, "sphinxbase could not read %s", path);
        return -1;
    }
    if (stride == 0)
        stride = 1;
    *max_diff = 0;
    *checked = 0;
    int rc = 0;
    long s = lm_word_id(m, "<s>");
    /* Every stride-th n-gram, and the word after it (a back-off from its
     * history, when it is a history) so back-off weights are compared too. */
    for (size_t i = 0; i < m->nw && rc == 0; i += stride) {
        if ((long)i == s)
            continue; /* <s> is never predicted */
        double d = fabs(lm_logprob(m, NULL, 0, (uint32_t)i) -
                        sphinx_prob(lm, lmath, m, NULL, 0, (uint32_t)i));
        if (isnan(d))
            rc = -1;
        else if (d > *max_diff)
            *max_diff = d;
        ++*checked;
    }
    for (size_t i = 0; i < m->n2 && rc == 0; i += stride) {
        uint32_t h[2] = {m->bi[i].w1, m->bi[i].w2};
        uint32_t after = (uint32_t)((i * 7919u) % m->nw); /* some word after the bigram */
        double d1 = fabs(lm_logprob(m, h, 1, h[1]) - sphinx_prob(lm, lmath, m, h, 1, h[1]));
        double d2 = (long)after == s
                        ? 0
                        : fabs(lm_logprob(m, h, 2, after) - sphinx_prob(lm, lmath, m, h, 2, after));
        if (isnan(d1) || isnan(d2))
            rc = -1;
        else if (fmax(d1, d2) > *max_diff)
            *max_diff = fmax(d1, d2);
        *checked += 2;
    }
    for (size_t i = 0; i < m->n3 && rc == 0; i += stride) {
        uint32_t h[2] = {m->tri[i].w1, m->tri[i].w2};
        double d =
            fabs(lm_logprob(m, h, 2, m->tri[i].w3) - sphinx_prob(lm, lmath, m, h, 2, m->tri[i].w3));
        if (isnan(d))
            rc = -1;
        else if (d > *max_diff)
            *max_diff = d;
        ++*checked;
    }
    if (rc < 0)
        snprintf(err, errlen, "%s does not know a word of the model", path);
    ngram_model_free(lm);
    logmath_free(lmath);
    return rc;
}
