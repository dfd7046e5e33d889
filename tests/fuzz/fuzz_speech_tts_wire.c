/*
 * libFuzzer target for the cloud text-to-speech wire formats
 * (plugins/speech/tts_wire.c). The first byte picks what the rest is:
 *   0  a Google text:synthesize answer: parsed or refused; parsed, its
 *      samples fit the decoded audio and its marks are counted right;
 *   1  a Google voices list: every voice has a name, languages, a gender
 *      and the provider "google";
 *   2  an MP3 file: its length is measured or refused, never read past;
 *   3  a text: split and cut into Google chunks; every chunk's SSML is at
 *      most the limit, starts <speak>, ends </speak> and holds one mark
 *      per word; every word is in exactly one chunk, in order.
 * Copies of exactly the input's size make reads past the end show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "tts_wire.h"
#include "words.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_text(const char *p, size_t len, size_t limit)
{
    speech_text t;
    speech_chunk *cs;
    size_t n, bad, next = 0;

    if (speech_split(p, len, 40, 200, &t) != LX_OK)
        return;
    if (speech_google_chunks(p, &t, limit, &cs, &n, &bad) == LX_OK) {
        for (size_t i = 0; i < n; i++) {
            size_t sl, marks = 0;
            char *ssml = speech_google_ssml(p, &t, &cs[i], &sl);

            if (ssml == NULL)
                continue;
            if (sl > limit || strlen(ssml) != sl || strncmp(ssml, "<speak>", 7) != 0 ||
                strcmp(ssml + sl - 8, "</speak>") != 0 || cs[i].first != next || cs[i].n == 0)
                abort();
            for (const char *q = ssml; (q = strstr(q, "<mark name=")) != NULL; q++)
                marks++;
            if (marks != cs[i].n)
                abort();
            next += cs[i].n;
            free(ssml);
        }
        if (next != t.n_words)
            abort();
        free(cs);
    } else if (t.n_words == 0) {
        abort(); /* nothing to refuse */
    }
    speech_text_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p, err[256];

    if (size < 1)
        return 0;
    p = malloc(size - 1 ? size - 1 : 1);
    if (p == NULL)
        return 0;
    memcpy(p, data + 1, size - 1);
    switch (data[0] % 4) {
    case 0: {
        speech_google_answer a;

        if (speech_google_parse(p, size - 1, 24000, &a, err, sizeof(err)) == 0) {
            if (a.rate == 0 || a.n_samples * 2 > size)
                abort();
            for (size_t i = 0; i < a.n_samples * 2; i++)
                (void)((volatile unsigned char *)a.pcm)[i];
            speech_google_answer_free(&a);
        }
        break;
    }
    case 1: {
        speech_voice_list l;

        if (speech_google_voices_parse(p, size - 1, &l, err, sizeof(err)) == 0) {
            for (size_t i = 0; i < l.n; i++)
                if (l.v[i].name[0] == '\0' || l.v[i].languages == NULL || l.v[i].gender == NULL ||
                    strcmp(l.v[i].provider, "google") != 0)
                    abort();
            speech_voice_list_free(&l);
        }
        break;
    }
    case 2: {
        uint64_t ms;
        uint32_t rate;

        if (speech_mp3_duration((const unsigned char *)p, size - 1, &ms, &rate) == 0 && rate < 8000)
            abort();
        break;
    }
    default:
        fuzz_text(p, size - 1, 200 + (size % 5) * 300);
        break;
    }
    free(p);
    return 0;
}
