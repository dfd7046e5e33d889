/*
 * sphinxbase's binary language model ("Trie Language Model", the format of
 * Debian's en-us.lm.bin) read into an lm_model (lm.h).
 *
 * Why a reader of our own: Debian's sphinxbase 5prealpha declares the n-gram
 * iterators (ngram_model_mgrams, ngram_iter_*) in ngram_model.h but its
 * trie model does not implement them (libsphinxbase.so.3 exports none of
 * them), and its ARPA writer (ngram_model_write to ARPA, what
 * sphinx_lm_convert runs) asserts on en-us.lm.bin: the header's bigram
 * count is not the number of bigrams the trie holds (lm_model's
 * header_counts against n2; the writer fills an array of the header's size
 * from a walk of the trie). So the trie is walked here, with sphinxbase's
 * own bit-array reader (bitarr.h, public) and log-math conversion.
 *
 * The layout, as sphinxbase 5prealpha writes it (lm_trie.c,
 * lm_trie_quant.c, ngram_model_trie.c):
 *   "Trie Language Model" (no NUL), u8 order, u32 counts[order];
 *   i32 (was the quantization type), the quantizer's tables: for each
 *   middle order 65536 probabilities then 65536 back-off weights, then
 *   65536 probabilities of the highest order (floats, log-math units);
 *   (counts[0] + 1) unigrams {float prob, float backoff, u32 next};
 *   the middle orders then the highest, each a bit array of (1 + count)
 *   entries plus 8 bytes: {word, back-off code (16), probability code (16),
 *   next} for a middle order, {word, probability code (16)} for the highest;
 *   i32 length, then the words, NUL-terminated, in id order.
 * The trie is keyed from the last word back: a unigram's range of the
 * middle array holds the bigrams that end with it (entry word = the first
 * word), a bigram's range of the highest order holds the trigrams that end
 * with it. Word ids are unigram indexes.
 */
#include "config.h"

#include "lm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sphinxbase/bitarr.h>
#include <sphinxbase/logmath.h>

#define QBINS 65536u

typedef struct {
    float prob, bo;
    uint32_t next;
} disk_unigram;

/* Bytes of a bit array of entries (sphinxbase's base_size). */
static size_t array_bytes(uint32_t entries, uint32_t total_bits)
{
    return ((size_t)(1 + entries) * total_bits + 7) / 8 + sizeof(uint64_t);
}

static uint32_t rd(const uint8_t *base, size_t bit, uint8_t len)
{
    bitarr_address_t a = {(void *)base, (uint32)bit};
    return bitarr_read_int25(a, len, len >= 32 ? 0xffffffffu : (1u << len) - 1u);
}

int lm_read_trie(const char *path, lm_model **out, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    lm_model *m = calloc(1, sizeof(*m));
    float *quant = NULL;
    disk_unigram *uni = NULL;
    uint8_t *mem = NULL;
    char *names = NULL;
    logmath_t *lmath = NULL;
    int rc = -1;
    char head[19];
    uint8_t order;
    uint32_t counts[3] = {0, 0, 0};
    int32_t dummy, namelen;
    if (m == NULL)
        goto oom;
    if (fread(head, 1, sizeof(head), fp) != sizeof(head) ||
        memcmp(head, "Trie Language Model", sizeof(head)) != 0 || fread(&order, 1, 1, fp) != 1 ||
        order < 2 || order > 3 || fread(counts, sizeof(uint32_t), order, fp) != order ||
        counts[0] == 0 || fread(&dummy, sizeof(dummy), 1, fp) != 1)
        goto bad;
    m->order = order;
    memcpy(m->header_counts, counts, sizeof(counts));
    size_t qn = (size_t)(order - 2) * 2 * QBINS + QBINS;
    quant = malloc(qn * sizeof(float));
    uni = malloc(((size_t)counts[0] + 1) * sizeof(*uni));
    if (quant == NULL || uni == NULL)
        goto oom;
    if (fread(quant, sizeof(float), qn, fp) != qn ||
        fread(uni, sizeof(*uni), (size_t)counts[0] + 1, fp) != (size_t)counts[0] + 1)
        goto bad;

    /* The arrays, sized from the header's counts as sphinxbase does. */
    uint8_t word_bits = bitarr_required_bits(counts[0]);
    bitarr_mask_t next_mask = {0, 0};
    uint32_t mid_bits = 0, top_bits = (uint32_t)word_bits + 16;
    size_t mid_size = 0, top_size;
    if (order == 3) {
        bitarr_mask_from_max(&next_mask, counts[2]);
        mid_bits = (uint32_t)word_bits + 32 + next_mask.bits;
        mid_size = array_bytes(counts[1], mid_bits);
    }
    top_size = array_bytes(counts[order - 1], top_bits);
    if ((mem = malloc(mid_size + top_size)) == NULL)
        goto oom;
    if (fread(mem, 1, mid_size + top_size, fp) != mid_size + top_size ||
        fread(&namelen, sizeof(namelen), 1, fp) != 1 || namelen <= 0)
        goto bad;
    if ((names = malloc((size_t)namelen + 1)) == NULL)
        goto oom;
    if (fread(names, 1, (size_t)namelen, fp) != (size_t)namelen)
        goto bad;
    names[namelen] = '\0';
    const uint8_t *mid = mem, *top = mem + mid_size;

    /* The words. */
    m->nw = counts[0];
    m->words = calloc(m->nw, sizeof(*m->words));
    m->p1 = malloc(m->nw * sizeof(*m->p1));
    m->bo1 = malloc(m->nw * sizeof(*m->bo1));
    if (m->words == NULL || m->p1 == NULL || m->bo1 == NULL)
        goto oom;
    for (uint32_t i = 0, off = 0; i < m->nw; i++) {
        if (off >= (uint32_t)namelen)
            goto bad;
        if ((m->words[i] = strdup(names + off)) == NULL)
            goto oom;
        off += (uint32_t)strlen(names + off) + 1;
    }

    /* log-math units to log10: sphinxbase's own conversion (base 1.0001,
     * what pocketsphinx and sphinx_lm_convert use). */
    if ((lmath = logmath_init(1.0001, 0, 0)) == NULL)
        goto oom;
    for (uint32_t i = 0; i < m->nw; i++) {
        m->p1[i] = (float)logmath_log_float_to_log10(lmath, uni[i].prob);
        m->bo1[i] = (float)logmath_log_float_to_log10(lmath, uni[i].bo);
    }

    /* The n-grams the trie holds: the unigrams' ranges cover the next order. */
    uint32_t n_next = uni[counts[0]].next;
    if (n_next > counts[1])
        goto bad;
    m->bi = malloc(((size_t)n_next + 1) * sizeof(*m->bi));
    if (m->bi == NULL)
        goto oom;
    const float *top_prob = quant + (size_t)(order - 2) * 2 * QBINS;
    if (order == 2) {
        for (uint32_t u = 0; u < counts[0]; u++)
            for (uint32_t p = uni[u].next; p < uni[u + 1].next && p < n_next; p++) {
                size_t at = (size_t)p * top_bits;
                if (m->n2 >= n_next) /* ranges that overlap: not sphinxbase's */
                    goto bad;
                lm_bigram *b = &m->bi[m->n2++];
                b->w1 = rd(top, at, word_bits);
                if (b->w1 >= m->nw)
                    goto bad;
                b->w2 = u;
                b->p =
                    (float)logmath_log_float_to_log10(lmath, top_prob[rd(top, at + word_bits, 16)]);
                b->bo = 0;
            }
    } else {
        const float *mid_prob = quant, *mid_bo = quant + QBINS;
        /* the highest order's count: the end of the last middle range */
        uint32_t n_top = rd(mid, (size_t)(n_next + 1) * mid_bits - next_mask.bits, next_mask.bits);
        if (n_top > counts[2])
            goto bad;
        m->tri = malloc(((size_t)n_top + 1) * sizeof(*m->tri));
        if (m->tri == NULL)
            goto oom;
        for (uint32_t u = 0; u < counts[0]; u++)
            for (uint32_t p = uni[u].next; p < uni[u + 1].next && p < n_next; p++) {
                size_t at = (size_t)p * mid_bits;
                uint32_t w1 = rd(mid, at, word_bits);
                if (w1 >= m->nw || m->n2 >= n_next) /* ranges that overlap: not sphinxbase's */
                    goto bad;
                lm_bigram *b = &m->bi[m->n2++];
                b->w1 = w1;
                b->w2 = u;
                b->bo =
                    (float)logmath_log_float_to_log10(lmath, mid_bo[rd(mid, at + word_bits, 16)]);
                b->p = (float)logmath_log_float_to_log10(
                    lmath, mid_prob[rd(mid, at + word_bits + 16, 16)]);
                uint32_t t0 = rd(mid, at + word_bits + 32, next_mask.bits);
                uint32_t t1 = rd(mid, at + mid_bits + word_bits + 32, next_mask.bits);
                for (uint32_t t = t0; t < t1 && t < n_top; t++) {
                    size_t tat = (size_t)t * top_bits;
                    uint32_t w0 = rd(top, tat, word_bits);
                    if (w0 >= m->nw || m->n3 >= n_top)
                        goto bad;
                    m->tri[m->n3++] =
                        (lm_trigram){w0, w1, u,
                                     (float)logmath_log_float_to_log10(
                                         lmath, top_prob[rd(top, tat + word_bits, 16)])};
                }
            }
    }
    if (lm_index(m, err, errlen) < 0)
        goto out;
    *out = m;
    m = NULL;
    rc = 0;
    goto out;
bad:
    snprintf(err, errlen, "%s: not a sphinxbase trie language model of order 2 or 3, or truncated",
             path);
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
out:
    if (lmath != NULL)
        logmath_free(lmath);
    fclose(fp);
    free(quant);
    free(uni);
    free(mem);
    free(names);
    lm_free(m);
    return rc;
}
