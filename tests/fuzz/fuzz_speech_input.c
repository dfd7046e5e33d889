/*
 * libFuzzer target for dictation's whole audio input: plugins/speech/audio/
 * input.c with the WebM, Ogg and WAV readers, the Opus decoder, the
 * resampler, and the endpointer (vad.c) over what comes out. The first
 * byte chooses a piece size, the second the limits; the rest is the
 * stream. It must never crash, always say why it failed, never make more
 * audio than the duration limit allows, and the endpointer's pieces must
 * lie inside its output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "vad.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_vad(speech_vad *v)
{
    size_t end = 0;
    for (size_t i = 0; i < v->n_pieces; i++) {
        if (v->pieces[i].off != end || v->pieces[i].n > v->n_out - end)
            abort();
        end += v->pieces[i].n;
    }
    if (end != v->n_out)
        abort();
    speech_vad_clear(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = (size_t)data[0] * 7 + 1;
    speech_input_limits lim = {.max_bytes = data[1] & 1 ? 3000 : 0,
                               .max_ms = data[1] & 2 ? 500 : 60000};
    data += 2;
    size -= 2;
    speech_input *in = speech_input_new(&lim);
    speech_vad v;
    speech_vad_init(&v, NULL);
    if (in == NULL)
        abort();
    char err[256];
    size_t off = 0;
    int rc;
    do {
        size_t n = size - off < step ? size - off : step;
        unsigned char *piece = malloc(n ? n : 1);
        if (piece == NULL)
            abort();
        memcpy(piece, data + off, n);
        err[0] = '\0';
        rc = speech_input_feed(in, piece, n, err, sizeof(err));
        free(piece);
        off += n;
        size_t k;
        const int16_t *pcm = speech_input_pcm(in, &k);
        if (speech_vad_feed(&v, pcm, k) != LX_OK)
            abort();
        check_vad(&v);
        speech_input_take(in, k);
    } while (rc == LX_OK && off < size);
    if (rc == LX_OK) {
        err[0] = '\0';
        rc = speech_input_finish(in, err, sizeof(err));
    }
    if (rc != LX_OK && err[0] == '\0')
        abort();
    if (speech_input_samples(in) > lim.max_ms * 16)
        abort();
    if (speech_vad_end_phrase(&v) != LX_OK)
        abort();
    check_vad(&v);
    speech_vad_free(&v);
    speech_input_free(in);
    return 0;
}
