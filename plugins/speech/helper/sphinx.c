/*
 * pocketsphinx in the speech helper (sphinx.h).
 */
#include "config.h"

#include "sphinx.h"

#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct hx_sphinx {
    ps_decoder_t *ps;
    cmd_ln_t *config;
    int in_utt;
    int fast; /* no lattice, so no confidence */
};

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

hx_sphinx *hx_sphinx_new(const hx_sphinx_opts *o, char *err, size_t errlen)
{
    char hmm[512], lm[512], dict[512];
    snprintf(hmm, sizeof(hmm), "%s/en-us", o->model_dir);
    snprintf(lm, sizeof(lm), "%s/en-us.lm.bin", o->model_dir);
    snprintf(dict, sizeof(dict), "%s/cmudict-en-us.dict", o->model_dir);
    if (!exists(hmm) || !exists(lm) || !exists(dict)) {
        snprintf(err, errlen,
                 "the pocketsphinx model is not in %s (Debian: apt-get install pocketsphinx-en-us)",
                 o->model_dir);
        return NULL;
    }
    hx_sphinx *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->fast = o->fast;
    /* pocketsphinx's log is noise to an operator: off, without -logfn
     * /dev/null, which fails where there is no /dev (the image's build
     * checks the helper in a chroot). */
    err_set_logfp(NULL);
    /* -fwdflat no: the second pass costs more than it gives on a phrase;
     * -bestpath (the lattice) gives the words' posteriors, the confidence. */
    s->config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict,
                            "-fwdflat", "no", "-bestpath", o->fast ? "no" : "yes", NULL);
    if (s->config != NULL)
        s->ps = ps_init(s->config);
    if (s->ps == NULL) {
        snprintf(err, errlen, "pocketsphinx could not load its model from %s", o->model_dir);
        hx_sphinx_free(s);
        return NULL;
    }
    return s;
}

void hx_sphinx_free(hx_sphinx *s)
{
    if (s == NULL)
        return;
    if (s->ps != NULL)
        ps_free(s->ps);
    if (s->config != NULL)
        cmd_ln_free_r(s->config);
    free(s);
}

void hx_sphinx_reset(hx_sphinx *s)
{
    if (s->in_utt)
        ps_end_utt(s->ps);
    s->in_utt = 0;
}

/* The mean posterior of the words of the last utterance (fillers and
 * sentence marks left out); -1 without a lattice. */
static double confidence(hx_sphinx *s)
{
    if (s->fast)
        return -1.0;
    logmath_t *lmath = ps_get_logmath(s->ps);
    double sum = 0;
    int n = 0;
    for (ps_seg_t *seg = ps_seg_iter(s->ps); seg != NULL; seg = ps_seg_next(seg)) {
        const char *w = ps_seg_word(seg);
        if (w[0] == '<' || w[0] == '[')
            continue;
        int32 ascr, lscr, lback;
        sum += logmath_exp(lmath, ps_seg_prob(seg, &ascr, &lscr, &lback));
        n++;
    }
    if (n == 0)
        return 0.0;
    double c = sum / n;
    return c > 1.0 ? 1.0 : c;
}

int hx_sphinx_feed(hx_sphinx *s, const int16_t *pcm, size_t n, int ends, hx_sphinx_result *r,
                   char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->confidence = -1;
    if (!s->in_utt) {
        if (ps_start_utt(s->ps) < 0) {
            snprintf(err, errlen, "pocketsphinx could not start an utterance");
            return -1;
        }
        s->in_utt = 1;
    }
    if (n > 0 && ps_process_raw(s->ps, pcm, n, 0, 0) < 0) {
        snprintf(err, errlen, "pocketsphinx failed on the audio");
        hx_sphinx_reset(s);
        return -1;
    }
    if (ends) {
        s->in_utt = 0;
        if (ps_end_utt(s->ps) < 0) {
            snprintf(err, errlen, "pocketsphinx could not end the utterance");
            return -1;
        }
        r->is_final = 1;
    }
    int32 score;
    const char *hyp = ps_get_hyp(s->ps, &score);
    r->text = strdup(hyp != NULL ? hyp : "");
    if (r->text == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (r->is_final)
        r->confidence = r->text[0] != '\0' ? confidence(s) : 0.0;
    return 0;
}
