/*
 * libFuzzer target for the frames between a worker and its speech helpers
 * (plugins/speech/proto.c): the decoders take whatever a dying or broken
 * helper may write. The input is read as a stream of frames, each decoded
 * as every message type; a decoded message is written again and must
 * decode to the same values. Copies of exactly the input's size make reads
 * past the end show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_audio(const unsigned char *p, size_t len)
{
    speech_audio a, b;
    speech_wbuf w = {0};
    size_t off, plen, used;

    if (speech_audio_decode(p, len, &a) != LX_OK)
        return;
    speech_w_begin(&w, SPEECH_MSG_AUDIO);
    speech_w_u32(&w, a.sample_rate);
    speech_w_u32(&w, (uint32_t)a.n_samples);
    speech_w_u32(&w, (uint32_t)(a.n_samples >> 32));
    speech_w_u32(&w, (uint32_t)a.n_segs);
    for (size_t i = 0; i < a.n_segs; i++)
        speech_w_u32(&w, a.seg_end_ms[i]);
    speech_w_u32(&w, (uint32_t)a.n_marks);
    for (size_t i = 0; i < a.n_marks; i++) {
        speech_w_u32(&w, a.marks[i].seg);
        speech_w_u32(&w, a.marks[i].off);
        speech_w_u32(&w, a.marks[i].ms);
    }
    speech_w_bytes(&w, a.mp3, a.mp3_len);
    if (speech_w_end(&w) != LX_OK || speech_frame_next(w.p, w.len, &off, &plen, &used) != 1 ||
        plen != len || memcmp(w.p + off, p, len) != 0 ||
        speech_audio_decode(w.p + off, plen, &b) != LX_OK || b.n_marks != a.n_marks)
        abort();
    speech_audio_free(&b);
    speech_audio_free(&a);
    speech_wbuf_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *buf = malloc(size ? size : 1);
    size_t pos = 0;

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    while (pos < size) {
        size_t off, plen, used;
        int got = speech_frame_next(buf + pos, size - pos, &off, &plen, &used);
        speech_voice_list l;
        speech_speak s;
        speech_error e;

        if (got != 1)
            break;
        {
            /* the payload alone in its own allocation */
            unsigned char *p = malloc(plen);

            if (p == NULL)
                break;
            memcpy(p, buf + pos + off, plen);
            if (speech_voice_list_decode(p, plen, &l) == LX_OK)
                speech_voice_list_free(&l);
            if (speech_speak_decode(p, plen, &s) == LX_OK) {
                for (size_t i = 0; i < s.n; i++)
                    if (strlen(s.text[i]) != s.len[i])
                        abort();
                speech_speak_free(&s);
            }
            if (speech_error_decode(p, plen, &e) == LX_OK)
                speech_error_free(&e);
            {
                speech_encode enc;

                if (speech_encode_decode(p, plen, &enc) == LX_OK && enc.n_samples * 2 > plen)
                    abort();
            }
            check_audio(p, plen);
            free(p);
        }
        pos += used;
    }
    free(buf);
    return 0;
}
