/*
 * MP3 with LAME (engine.h): constant bit rate, so that a player seeking to
 * a time lands where the byte offset says (time x bit rate).
 *
 * No Xing/LAME Info frame: at the bit rates speech needs at 22 kHz LAME
 * cannot fit one in a frame (it needs about 180 bytes; a 40 kbit/s frame
 * at 22,050 Hz has 130). Without it no decoder trims the encoder's delay,
 * so every decoder (browsers, ffmpeg) starts the first sample of speech
 * at the same place: hx_mp3_delay() samples in, the encoder delay plus the
 * Layer III decoder's 529. The helper adds that to every time it reports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lame/lame.h>

#include "engine.h"

struct hx_mp3 {
    lame_global_flags *gf;
    unsigned char *buf;
    size_t len, cap;
};

static int mp3_reserve(hx_mp3 *m, size_t extra)
{
    if (m->cap - m->len >= extra)
        return 0;
    size_t cap = m->cap ? m->cap : 65536;
    while (cap - m->len < extra)
        cap *= 2;
    unsigned char *p = realloc(m->buf, cap);
    if (p == NULL)
        return -1;
    m->buf = p;
    m->cap = cap;
    return 0;
}

hx_mp3 *hx_mp3_new(uint32_t rate_hz, uint32_t kbps, char *err, size_t errlen)
{
    hx_mp3 *m = calloc(1, sizeof(*m));

    if (m == NULL || (m->gf = lame_init()) == NULL) {
        snprintf(err, errlen, "cannot start the MP3 encoder");
        free(m);
        return NULL;
    }
    lame_set_num_channels(m->gf, 1);
    lame_set_mode(m->gf, MONO);
    lame_set_in_samplerate(m->gf, (int)rate_hz);
    lame_set_out_samplerate(m->gf, (int)rate_hz);
    lame_set_VBR(m->gf, vbr_off);
    lame_set_brate(m->gf, (int)kbps);
    lame_set_quality(m->gf, 7); /* LAME's "fast" preset: speech needs no more */
    lame_set_bWriteVbrTag(m->gf, 0);
    if (lame_init_params(m->gf) < 0) {
        snprintf(err, errlen, "the MP3 encoder refused %u Hz at %u kbit/s", (unsigned)rate_hz,
                 (unsigned)kbps);
        hx_mp3_free(m);
        return NULL;
    }
    return m;
}

int hx_mp3_feed(hx_mp3 *m, const short *samples, size_t n)
{
    while (n > 0) {
        int chunk = n > 65536 ? 65536 : (int)n;
        size_t need = (size_t)chunk * 5 / 4 + 7200; /* LAME's documented worst case */
        int got;

        if (mp3_reserve(m, need) != 0)
            return -1;
        /* mono: the right channel is ignored */
        got = lame_encode_buffer(m->gf, samples, samples, chunk, m->buf + m->len,
                                 (int)(m->cap - m->len));
        if (got < 0)
            return -1;
        m->len += (size_t)got;
        samples += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

int hx_mp3_finish(hx_mp3 *m, unsigned char **out, size_t *len)
{
    int got;

    *out = NULL;
    *len = 0;
    if (mp3_reserve(m, 7200) != 0)
        goto fail;
    got = lame_encode_flush(m->gf, m->buf + m->len, (int)(m->cap - m->len));
    if (got < 0)
        goto fail;
    m->len += (size_t)got;
    *out = m->buf;
    *len = m->len;
    m->buf = NULL;
    hx_mp3_free(m);
    return 0;
fail:
    hx_mp3_free(m);
    return -1;
}

uint32_t hx_mp3_delay(const hx_mp3 *m)
{
    int d = lame_get_encoder_delay(m->gf);

    return (uint32_t)(d > 0 ? d : 576) + 529; /* + the decoder's delay */
}

void hx_mp3_free(hx_mp3 *m)
{
    if (m == NULL)
        return;
    if (m->gf != NULL)
        lame_close(m->gf);
    free(m->buf);
    free(m);
}
