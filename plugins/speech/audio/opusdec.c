/*
 * Opus packets -> 16 kHz mono (opusdec.h).
 */
#include "opusdec.h"

#include <opus.h>
#include <stdlib.h>
#include <string.h>

struct speech_opus {
    OpusDecoder *dec;
    int channels;
    uint32_t skip;      /* pre-skip samples still to drop */
    uint64_t n_packets; /* for messages */
    int16_t frame[SPEECH_OPUS_MAX_FRAME * 2];
};

int speech_opus_new(const unsigned char *head, size_t len, speech_opus **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    /* "OpusHead", version, channels, pre-skip (LE16), input rate (LE32),
     * gain (LE16, Q7.8 dB), mapping family. */
    if (head == NULL || len < 19 || memcmp(head, "OpusHead", 8) != 0) {
        speech_audio_errf(err, errlen, "the Opus stream has no OpusHead");
        return LX_EINVAL;
    }
    if ((head[8] & 0xF0) != 0) {
        speech_audio_errf(err, errlen, "the Opus stream's version %u is not supported", head[8]);
        return LX_EINVAL;
    }
    int channels = head[9];
    if (channels < 1 || channels > 2 || head[18] != 0) {
        speech_audio_errf(err, errlen,
                          "Opus with %d channels (mapping family %u) is not supported: "
                          "record mono or stereo",
                          channels, head[18]);
        return LX_EINVAL;
    }
    speech_opus *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return LX_ENOMEM;
    int e = OPUS_OK;
    o->dec = opus_decoder_create(SPEECH_OPUS_RATE, channels, &e);
    if (o->dec == NULL || e != OPUS_OK) {
        free(o);
        speech_audio_errf(err, errlen, "cannot make an Opus decoder: %s", opus_strerror(e));
        return e == OPUS_ALLOC_FAIL ? LX_ENOMEM : LX_EINVAL;
    }
    int16_t gain = (int16_t)(head[16] | head[17] << 8);
    if (gain != 0)
        opus_decoder_ctl(o->dec, OPUS_SET_GAIN(gain));
    o->channels = channels;
    /* the pre-skip counts 48 kHz samples whatever the rate decoded */
    o->skip = (uint32_t)(head[10] | head[11] << 8) / (48000 / SPEECH_OPUS_RATE);
    *out = o;
    return LX_OK;
}

void speech_opus_free(speech_opus *o)
{
    if (o == NULL)
        return;
    opus_decoder_destroy(o->dec);
    free(o);
}

int speech_opus_decode(speech_opus *o, const unsigned char *p, size_t len, int16_t *pcm, size_t *n,
                       char *err, size_t errlen)
{
    *n = 0;
    o->n_packets++;
    if (len == 0)
        return LX_OK; /* a lost packet: nothing to say */
    if (len > INT32_MAX) {
        speech_audio_errf(err, errlen, "Opus packet %llu is too large",
                          (unsigned long long)o->n_packets);
        return LX_EINVAL;
    }
    int got = opus_decode(o->dec, p, (opus_int32)len, o->frame, SPEECH_OPUS_MAX_FRAME, 0);
    if (got < 0) {
        speech_audio_errf(err, errlen, "Opus packet %llu is corrupt: %s",
                          (unsigned long long)o->n_packets, opus_strerror(got));
        return LX_EINVAL;
    }
    size_t start = 0;
    if (o->skip > 0) {
        start = o->skip < (uint32_t)got ? o->skip : (size_t)got;
        o->skip -= (uint32_t)start;
    }
    size_t k = 0;
    for (size_t i = start; i < (size_t)got; i++) {
        if (o->channels == 2)
            pcm[k++] = (int16_t)(((int32_t)o->frame[2 * i] + o->frame[2 * i + 1]) / 2);
        else
            pcm[k++] = o->frame[i];
    }
    *n = k;
    return LX_OK;
}
