/*
 * lexiaid-lm-prune: a smaller language model for the offline recognizer.
 *
 *   lexiaid-lm-prune [-t THRESHOLD] [-t2 THRESHOLD] [--arpa FILE] [--dict IN OUT] [--verify STRIDE]
 *                    [--check-input STRIDE] IN.lm[.bin] OUT.lm.bin
 *
 * Reads IN (sphinxbase's binary trie format, e.g. Debian's
 * /usr/share/pocketsphinx/model/en-us/en-us.lm.bin, or ARPA text), prunes it
 * by relative entropy (THRESHOLD in nats weighted by the history's
 * probability; 0 keeps every n-gram; see lm_prune.c; -t2 sets another for
 * bigrams) with the back-off weights
 * of the affected histories recomputed, and writes OUT in sphinxbase's binary
 * format (through sphinxbase). --arpa also writes the pruned model as ARPA
 * text; --dict copies a pronunciation dictionary keeping the words the model
 * knows; --verify reads OUT back with sphinxbase and compares every
 * STRIDE-th n-gram's probability with the model's; --check-input does the
 * same with IN (how this reader is checked against sphinxbase's).
 * Prints what it did on stdout; exits 0, or 1 with a message on stderr.
 * The Dockerfile runs it to ship a pruned model (docs/performance.md).
 */
#include "config.h"

#include "lm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sphinxbase/err.h>

static void usage(void)
{
    fprintf(stderr,
            "usage: lexiaid-lm-prune [-t THRESHOLD] [-t2 THRESHOLD] [--arpa FILE] [--dict IN OUT] "
            "[--verify STRIDE] [--check-input STRIDE] IN OUT.lm.bin\n");
    exit(1);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int check(const lm_model *m, const char *path, size_t stride, const char *what)
{
    char err[512];
    double diff;
    size_t n;
    if (lm_verify(m, path, stride, &diff, &n, err, sizeof(err)) < 0) {
        fprintf(stderr, "lexiaid-lm-prune: %s\n", err);
        return -1;
    }
    printf("%s: %zu probabilities compared with sphinxbase's reading, largest difference %.5f "
           "(log10)\n",
           what, n, diff);
    /* sphinxbase stores bigram and trigram probabilities and back-off
     * weights as 16-bit codes of bins it fits to the values it is given:
     * the same file read twice agrees to 0.0001, a model written again
     * differs by up to about 0.1 on rare extreme back-off weights (measured:
     * 0.105 on en-us.lm.bin pruned at 1e-7). A wrong word or n-gram is off
     * by whole units. */
    if (diff > 0.25) {
        fprintf(stderr, "lexiaid-lm-prune: %s differs from sphinxbase's reading by %.4f\n", path,
                diff);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    double threshold = 0, threshold2 = -1;
    const char *arpa = NULL, *dict_in = NULL, *dict_out = NULL, *in = NULL, *out = NULL;
    size_t verify = 0, check_in = 0;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "-t2") == 0) && i + 1 < argc) {
            char *end;
            double *t = argv[i][2] == '2' ? &threshold2 : &threshold;
            *t = strtod(argv[++i], &end);
            if (*end != '\0' || *t < 0 || end == argv[i])
                usage();
        } else if (strcmp(argv[i], "--arpa") == 0 && i + 1 < argc) {
            arpa = argv[++i];
        } else if (strcmp(argv[i], "--dict") == 0 && i + 2 < argc) {
            dict_in = argv[++i];
            dict_out = argv[++i];
        } else if (strcmp(argv[i], "--verify") == 0 && i + 1 < argc) {
            verify = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--check-input") == 0 && i + 1 < argc) {
            check_in = strtoul(argv[++i], NULL, 10);
        } else if (argv[i][0] == '-' || out != NULL) {
            usage();
        } else if (in == NULL) {
            in = argv[i];
        } else {
            out = argv[i];
        }
    }
    if (in == NULL || out == NULL)
        usage();
    err_set_logfp(NULL); /* sphinxbase's INFO lines */

    char err[512];
    lm_model *m;
    if (lm_read(in, &m, err, sizeof(err)) < 0) {
        fprintf(stderr, "lexiaid-lm-prune: %s\n", err);
        return 1;
    }
    printf("%s: %u words, %zu bigrams, %zu trigrams", in, m->nw, m->n2, m->n3);
    if (m->header_counts[1] != m->n2 || (m->order == 3 && m->header_counts[2] != m->n3))
        printf(" (its header says %u bigrams, %u trigrams)", m->header_counts[1],
               m->header_counts[2]);
    printf("\n");
    if (check_in > 0 && check(m, in, check_in, in) < 0) {
        lm_free(m);
        return 1;
    }
    if (threshold2 < 0)
        threshold2 = threshold;
    lm_prune_stats st;
    if (lm_prune(m, threshold, threshold2, &st, err, sizeof(err)) < 0 ||
        (arpa != NULL && lm_write_arpa(m, arpa, err, sizeof(err)) < 0) ||
        lm_write_bin(m, out, err, sizeof(err)) < 0) {
        fprintf(stderr, "lexiaid-lm-prune: %s\n", err);
        lm_free(m);
        return 1;
    }
    printf("thresholds %g (trigrams), %g (bigrams): %zu bigrams, %zu trigrams kept; %zu back-off "
           "weights recomputed, %zu "
           "kept as read\n",
           threshold, threshold2, st.bigrams_after, st.trigrams_after, st.histories_renormalized,
           st.histories_kept_weight);
    printf("%s: %lld bytes (was %lld)\n", out, file_size(out), file_size(in));
    int rc = 0;
    if (verify > 0 && check(m, out, verify, out) < 0)
        rc = 1;
    if (rc == 0 && dict_in != NULL) {
        size_t kept, dropped;
        if (lm_cut_dict(m, dict_in, dict_out, &kept, &dropped, err, sizeof(err)) < 0) {
            fprintf(stderr, "lexiaid-lm-prune: %s\n", err);
            rc = 1;
        } else {
            printf("%s: %zu pronunciations kept, %zu of words the model does not know dropped "
                   "(%lld bytes)\n",
                   dict_out, kept, dropped, file_size(dict_out));
        }
    }
    lm_free(m);
    return rc;
}
