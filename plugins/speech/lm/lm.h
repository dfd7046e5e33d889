/*
 * A back-off n-gram language model (orders 2 and 3) in memory, for
 * lexiaid-lm-prune (plugins/speech/lm/lexiaid-lm-prune.c): read from
 * sphinxbase's binary trie format (Debian's pocketsphinx-en-us en-us.lm.bin)
 * or from ARPA text, pruned by relative entropy with the back-off weights of
 * the affected histories recomputed, written as ARPA text or, through
 * sphinxbase, as a binary model pocketsphinx loads.
 *
 * Probabilities and back-off weights are log10, as in ARPA files. Word ids
 * index words[]; n-grams are in ARPA word order (history first).
 * Single-threaded; every function returns 0 or -1 with a message in err.
 */
#ifndef LM_H
#define LM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t w1, w2;
    float p, bo;
} lm_bigram;

typedef struct {
    uint32_t w1, w2, w3;
    float p;
} lm_trigram;

typedef struct {
    int order; /* 2 or 3 */
    uint32_t nw;
    char **words;    /* nw, owned */
    float *p1, *bo1; /* nw each */
    size_t n2;
    lm_bigram *bi;    /* sorted by (w1, w2) */
    size_t *bi_start; /* nw + 1: bi[bi_start[a] .. bi_start[a + 1]) have w1 == a */
    size_t n3;
    lm_trigram *tri;   /* sorted by (w1, w2, w3) */
    uint32_t *by_name; /* nw word ids sorted by their string, for lm_word_id */
    /* What the reader found (lm_read_trie): the n-gram counts of the file's
     * header and the n-grams its trie really holds (they differ in Debian's
     * en-us.lm.bin: why sphinx_lm_convert's ARPA writer asserts). */
    uint32_t header_counts[3];
} lm_model;

/* Reads path: sphinxbase's binary trie ("Trie Language Model") or ARPA
 * text, by its first bytes. *out is the caller's (lm_free). */
int lm_read(const char *path, lm_model **out, char *err, size_t errlen);

/* The two readers (lm_read picks one). */
int lm_read_trie(const char *path, lm_model **out, char *err, size_t errlen);
int lm_read_arpa(const char *path, lm_model **out, char *err, size_t errlen);

void lm_free(lm_model *m);

/* After the arrays are filled (any order): sorts them, builds the indexes. */
int lm_index(lm_model *m, char *err, size_t errlen);

/* The word's id, or -1. */
long lm_word_id(const lm_model *m, const char *word);

/* The bigram (a, b)'s index in bi, or -1. */
long lm_find_bigram(const lm_model *m, uint32_t a, uint32_t b);

/* log10 P(w | history) with back-off, history of n words (0..order-1),
 * oldest first. */
double lm_logprob(const lm_model *m, const uint32_t *hist, int n, uint32_t w);

/* Writes ARPA text to path (replaced atomically: a temporary then rename). */
int lm_write_arpa(const lm_model *m, const char *path, char *err, size_t errlen);

/* The model as ARPA text in a new temporary file next to path (its name in
 * tmp; the caller unlinks it). */
int lm_arpa_temp(const lm_model *m, const char *path, char *tmp, size_t len, char *err,
                 size_t errlen);

/* Writes sphinxbase's binary format to path: ARPA text to a temporary next
 * to it, read by sphinxbase (ngram_model_read) and written by it
 * (ngram_model_write, NGRAM_BIN), renamed into place. */
int lm_write_bin(const lm_model *m, const char *path, char *err, size_t errlen);

/* Relative-entropy pruning (Stolcke 1998) of trigrams, then bigrams: an
 * n-gram goes when dropping it alone changes the model by less than
 * threshold3 (trigrams) or threshold2 (bigrams) nats, weighted by its
 * history's probability; 0 keeps them all. A bigram that is
 * the history or the last two words of a kept trigram stays; unigrams stay.
 * The back-off weights of every history that lost an n-gram (or whose
 * lower-order distribution did) are recomputed, so each stays normalized. */
typedef struct {
    size_t bigrams_before, trigrams_before;
    size_t bigrams_after, trigrams_after;
    size_t histories_renormalized;
    size_t histories_kept_weight; /* numerically not renormalizable: kept as read */
} lm_prune_stats;

int lm_prune(lm_model *m, double threshold3, double threshold2, lm_prune_stats *st, char *err,
             size_t errlen);

/* Compares lm_logprob with sphinxbase's own reading of path
 * (ngram_model_read, ngram_ng_prob) on every stride-th n-gram of every
 * order; *max_diff is the largest difference in log10. */
int lm_verify(const lm_model *m, const char *path, size_t stride, double *max_diff, size_t *checked,
              char *err, size_t errlen);

/* Copies the pronunciation dictionary in_path to out_path keeping the
 * entries whose word ("word" or "word(2)") the model knows. */
int lm_cut_dict(const lm_model *m, const char *in_path, const char *out_path, size_t *kept,
                size_t *dropped, char *err, size_t errlen);

#endif
