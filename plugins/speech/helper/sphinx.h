/*
 * The offline recognizer of the speech helper (lexiaid-speech):
 * pocketsphinx 5prealpha with Debian's pocketsphinx-en-us model (US
 * English, a continuous acoustic model, a trigram language model of
 * general English and the CMU dictionary).
 *
 * pocketsphinx keeps global state and is not thread-safe, and a decoder
 * holds about 100 MB: it lives only in a helper process, one decoder per
 * helper, made once and reused utterance after utterance. It is good at
 * clear read speech and weak on free, spontaneous speech (docs/speech.md
 * says so; an operator may turn it off and use a network recognizer).
 *
 * One phrase is one utterance: audio is fed as it arrives and each feed
 * gives the hypothesis so far (an interim result); the feed that ends the
 * phrase gives the final text and its confidence (the mean posterior of
 * its words). Audio is 16 kHz mono signed 16-bit, never kept beyond the
 * decoder's own frames, never logged.
 */
#ifndef SPEECH_HELPER_SPHINX_H
#define SPEECH_HELPER_SPHINX_H

#include <stddef.h>
#include <stdint.h>

typedef struct hx_sphinx hx_sphinx;

typedef struct hx_sphinx_opts {
    const char *model_dir; /* holds en-us/, en-us.lm.bin, cmudict-en-us.dict */
    int fast;              /* skip the lattice pass: faster finals, no confidence */
} hx_sphinx_opts;

/* Loads the model (blocks for about a second). NULL with a message in err
 * when the model is missing or broken. */
hx_sphinx *hx_sphinx_new(const hx_sphinx_opts *o, char *err, size_t errlen);
void hx_sphinx_free(hx_sphinx *s);

typedef struct hx_sphinx_result {
    char *text;        /* malloc'd, owned by the caller: lower-case words, "" for none */
    int is_final;      /* the phrase ended with this feed */
    double confidence; /* 0..1 for a final; -1 when unknown */
} hx_sphinx_result;

/* Feeds pcm[0..n) (n may be 0) to the phrase in progress, starting one if
 * none is; when `ends`, ends the phrase. 0 with *r filled, or -1 with a
 * message (the decoder failed; the phrase is dropped). */
int hx_sphinx_feed(hx_sphinx *s, const int16_t *pcm, size_t n, int ends, hx_sphinx_result *r,
                   char *err, size_t errlen);

/* Drops the phrase in progress, if any (its stream went away). */
void hx_sphinx_reset(hx_sphinx *s);

#endif
