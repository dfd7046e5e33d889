/*
 * The audio input pipeline (input.h): sniff, container, decoder,
 * resampler, limits.
 */
#include "input.h"

#include <speex/speex_resampler.h>
#include <stdlib.h>
#include <string.h>

#include "ogg.h"
#include "opusdec.h"
#include "wav.h"
#include "webm.h"

enum { KIND_UNKNOWN, KIND_WEBM, KIND_OGG, KIND_WAV };

#define SNIFF_LEN 12
#define RESAMPLE_QUALITY 4 /* speexdsp's default: transparent for speech */

struct speech_input {
    speech_input_limits lim;
    int kind, failed, finished;
    unsigned char sniff[SNIFF_LEN];
    size_t n_sniff;
    uint64_t bytes;
    speech_webm *webm;
    speech_ogg *ogg;
    speech_wav *wav;
    speech_opus *opus;
    SpeexResamplerState *rs;
    uint32_t in_rate; /* the resampler's input rate; 0 before the first samples */
    int16_t *pcm;     /* made, not yet taken */
    size_t n_pcm, cap_pcm;
    uint64_t made; /* samples made in all */
    char *err;     /* the caller's buffer during a call */
    size_t errlen;
    int16_t frame[SPEECH_OPUS_MAX_FRAME];
};

speech_input *speech_input_new(const speech_input_limits *lim)
{
    speech_input *in = calloc(1, sizeof(*in));
    if (in != NULL && lim != NULL)
        in->lim = *lim;
    return in;
}

void speech_input_free(speech_input *in)
{
    if (in == NULL)
        return;
    speech_webm_free(in->webm);
    speech_ogg_free(in->ogg);
    speech_wav_free(in->wav);
    speech_opus_free(in->opus);
    if (in->rs != NULL)
        speex_resampler_destroy(in->rs);
    free(in->pcm);
    free(in);
}

const int16_t *speech_input_pcm(const speech_input *in, size_t *n)
{
    *n = in->n_pcm;
    return in->pcm;
}

void speech_input_take(speech_input *in, size_t n)
{
    if (n > in->n_pcm)
        n = in->n_pcm;
    if (n == 0)
        return;
    memmove(in->pcm, in->pcm + n, (in->n_pcm - n) * sizeof(int16_t));
    in->n_pcm -= n;
}

uint64_t speech_input_samples(const speech_input *in)
{
    return in->made;
}

const char *speech_input_format(const speech_input *in)
{
    static const char *const names[] = {NULL, "webm", "ogg", "wav"};
    return names[in->kind];
}

/* Room for n more output samples. */
static int reserve(speech_input *in, size_t n)
{
    if (in->n_pcm + n <= in->cap_pcm)
        return LX_OK;
    size_t cap = in->cap_pcm ? in->cap_pcm : 16000;
    while (cap < in->n_pcm + n)
        cap *= 2;
    int16_t *np = realloc(in->pcm, cap * sizeof(int16_t));
    if (np == NULL)
        return LX_ENOMEM;
    in->pcm = np;
    in->cap_pcm = cap;
    return LX_OK;
}

/* Keeps the duration limit: LX_ETOOBIG once the audio passed it (the
 * samples up to the limit are kept). */
static int add_made(speech_input *in, size_t n)
{
    uint64_t max = in->lim.max_ms * (SPEECH_PCM_RATE / 1000);
    if (in->lim.max_ms > 0 && in->made + n > max) {
        size_t keep = (size_t)(max - in->made);
        in->n_pcm += keep;
        in->made += keep;
        speech_audio_errf(in->err, in->errlen, "the audio is longer than the limit of %llu s",
                          (unsigned long long)(in->lim.max_ms / 1000));
        return LX_ETOOBIG;
    }
    in->n_pcm += n;
    in->made += n;
    return LX_OK;
}

/* Mono samples at `rate` -> 16 kHz into in->pcm. */
static int resample(speech_input *in, uint32_t rate, const int16_t *p, size_t n)
{
    if (in->rs == NULL && rate != SPEECH_PCM_RATE) {
        int e = 0;
        in->rs = speex_resampler_init(1, rate, SPEECH_PCM_RATE, RESAMPLE_QUALITY, &e);
        if (in->rs == NULL)
            return LX_ENOMEM;
        speex_resampler_skip_zeros(in->rs);
    }
    in->in_rate = rate;
    while (n > 0) {
        size_t chunk = n > 48000 ? 48000 : n;
        /* Output of `chunk` input samples, with room to spare. */
        size_t room = (size_t)((uint64_t)chunk * SPEECH_PCM_RATE / rate) + 64;
        if (reserve(in, room) != LX_OK)
            return LX_ENOMEM;
        size_t made;
        if (in->rs == NULL) {
            memcpy(in->pcm + in->n_pcm, p, chunk * sizeof(int16_t));
            made = chunk;
        } else {
            spx_uint32_t in_len = (spx_uint32_t)chunk, out_len = (spx_uint32_t)room;
            speex_resampler_process_int(in->rs, 0, p, &in_len, in->pcm + in->n_pcm, &out_len);
            chunk = in_len;
            made = out_len;
        }
        int rc = add_made(in, made);
        if (rc != LX_OK)
            return rc;
        p += chunk;
        n -= chunk;
    }
    return LX_OK;
}

static int on_pcm(void *arg, const int16_t *pcm, size_t n)
{
    speech_input *in = arg;
    return resample(in, speech_wav_rate(in->wav), pcm, n);
}

static int on_packet(void *arg, const unsigned char *p, size_t len)
{
    speech_input *in = arg;
    if (in->opus == NULL) {
        size_t hl = 0;
        const unsigned char *head = in->kind == KIND_WEBM ? speech_webm_codec_private(in->webm, &hl)
                                                          : speech_ogg_head(in->ogg, &hl);
        int rc = speech_opus_new(head, hl, &in->opus, in->err, in->errlen);
        if (rc != LX_OK)
            return rc;
    }
    size_t n;
    int rc = speech_opus_decode(in->opus, p, len, in->frame, &n, in->err, in->errlen);
    if (rc != LX_OK)
        return rc;
    return resample(in, SPEECH_OPUS_RATE, in->frame, n);
}

/* Chooses the reader from the first bytes: 1 when chosen, 0 when more
 * bytes are needed, or a negative error. */
static int sniff(speech_input *in)
{
    const unsigned char *s = in->sniff;
    if (in->n_sniff >= 4 && memcmp(s, "\x1A\x45\xDF\xA3", 4) == 0) {
        in->kind = KIND_WEBM;
        in->webm = speech_webm_new();
        return in->webm != NULL ? 1 : LX_ENOMEM;
    }
    if (in->n_sniff >= 4 && memcmp(s, "OggS", 4) == 0) {
        in->kind = KIND_OGG;
        in->ogg = speech_ogg_new();
        return in->ogg != NULL ? 1 : LX_ENOMEM;
    }
    if (in->n_sniff >= 12 && memcmp(s, "RIFF", 4) == 0 && memcmp(s + 8, "WAVE", 4) == 0) {
        in->kind = KIND_WAV;
        in->wav = speech_wav_new();
        return in->wav != NULL ? 1 : LX_ENOMEM;
    }
    /* Undecided only while what we have is a prefix of a signature. */
    if (in->n_sniff < 12 &&
        (memcmp(s, "\x1A\x45\xDF\xA3", in->n_sniff < 4 ? in->n_sniff : 4) == 0 ||
         memcmp(s, "OggS", in->n_sniff < 4 ? in->n_sniff : 4) == 0 ||
         memcmp(s, "RIFF", in->n_sniff < 4 ? in->n_sniff : 4) == 0))
        return 0;
    speech_audio_errf(in->err, in->errlen,
                      "the audio is not WebM/Opus, Ogg/Opus or WAV (unknown first bytes)");
    return LX_EINVAL;
}

static int feed_reader(speech_input *in, const unsigned char *p, size_t len)
{
    switch (in->kind) {
    case KIND_WEBM:
        return speech_webm_feed(in->webm, p, len, on_packet, in, in->err, in->errlen);
    case KIND_OGG:
        return speech_ogg_feed(in->ogg, p, len, on_packet, in, in->err, in->errlen);
    default:
        return speech_wav_feed(in->wav, p, len, on_pcm, in, in->err, in->errlen);
    }
}

static int feed(speech_input *in, const unsigned char *p, size_t len)
{
    if (in->lim.max_bytes > 0 && len > in->lim.max_bytes - in->bytes) {
        len = (size_t)(in->lim.max_bytes - in->bytes);
        int rc = len > 0 ? feed(in, p, len) : LX_OK;
        if (rc == LX_OK || rc == LX_ETOOBIG) {
            speech_audio_errf(in->err, in->errlen,
                              "the audio is larger than the limit of %llu bytes",
                              (unsigned long long)in->lim.max_bytes);
            rc = LX_ETOOBIG;
        }
        return rc;
    }
    in->bytes += len;
    if (in->kind == KIND_UNKNOWN) {
        size_t n = SNIFF_LEN - in->n_sniff < len ? SNIFF_LEN - in->n_sniff : len;
        memcpy(in->sniff + in->n_sniff, p, n);
        in->n_sniff += n;
        p += n;
        len -= n;
        int rc = sniff(in);
        if (rc <= 0)
            return rc;
        rc = feed_reader(in, in->sniff, in->n_sniff);
        if (rc != LX_OK)
            return rc;
    }
    return len > 0 ? feed_reader(in, p, len) : LX_OK;
}

int speech_input_feed(speech_input *in, const unsigned char *p, size_t len, char *err,
                      size_t errlen)
{
    if (in->failed || in->finished) {
        speech_audio_errf(err, errlen, "the audio stream %s",
                          in->failed ? "already failed" : "has ended");
        return in->failed ? in->failed : LX_ESTATE;
    }
    in->err = err;
    in->errlen = errlen;
    int rc = feed(in, p, len);
    if (rc == LX_ENOMEM)
        speech_audio_errf(err, errlen, "out of memory");
    in->err = NULL;
    in->errlen = 0;
    if (rc != LX_OK)
        in->failed = rc;
    return rc;
}

int speech_input_finish(speech_input *in, char *err, size_t errlen)
{
    if (in->failed) {
        speech_audio_errf(err, errlen, "the audio stream already failed");
        return in->failed;
    }
    in->finished = 1;
    int rc;
    switch (in->kind) {
    case KIND_WEBM:
        rc = speech_webm_finish(in->webm, err, errlen);
        break;
    case KIND_OGG:
        rc = speech_ogg_finish(in->ogg, err, errlen);
        break;
    case KIND_WAV:
        rc = speech_wav_finish(in->wav, err, errlen);
        break;
    default:
        speech_audio_errf(err, errlen,
                          in->n_sniff == 0 ? "the audio is empty"
                                           : "the audio is not WebM, Ogg or WAV");
        rc = LX_EINVAL;
    }
    if (rc != LX_OK || in->rs == NULL)
        return rc;
    /* The resampler's tail: push its latency through in silence. */
    in->err = err;
    in->errlen = errlen;
    int16_t zeros[256] = {0};
    for (int lat = speex_resampler_get_input_latency(in->rs); rc == LX_OK && lat > 0;) {
        size_t n = lat > 256 ? 256 : (size_t)lat;
        rc = resample(in, in->in_rate, zeros, n);
        lat -= (int)n;
    }
    in->err = NULL;
    in->errlen = 0;
    return rc == LX_ETOOBIG ? LX_OK : rc; /* the tail may pass the limit */
}
