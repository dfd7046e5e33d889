/*
 * An incremental WAV reader (wav.h). Chunks before the data chunk are read
 * into a small buffer (the format chunk) or skipped; the data chunk's
 * frames are converted as they arrive, a partial frame kept for the next
 * call.
 */
#include "wav.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_MAX 4096   /* a format chunk larger than this is refused */
#define OUT_FRAMES 1024 /* mono samples handed over per call */
#define MAX_CHANNELS 16

enum { ST_RIFF, ST_CHUNK, ST_FMT, ST_SKIP, ST_DATA, ST_TAIL };
enum { FMT_INT = 1, FMT_FLOAT = 3, FMT_EXTENSIBLE = 0xFFFE };

struct speech_wav {
    int st, failed;
    unsigned char hold[HEAD_MAX]; /* a header, a format chunk or a partial frame */
    size_t n_hold;
    uint64_t left; /* bytes left in the chunk being skipped or read */
    int to_end;    /* the data chunk runs to the end of the stream */
    int pad;       /* a pad byte follows the chunk (odd size) */
    int has_fmt;
    int fmt, channels, bits;
    uint32_t rate;
    size_t frame; /* bytes per frame */
    int16_t out[OUT_FRAMES];
};

speech_wav *speech_wav_new(void)
{
    return calloc(1, sizeof(speech_wav));
}

void speech_wav_free(speech_wav *w)
{
    free(w);
}

uint32_t speech_wav_rate(const speech_wav *w)
{
    return w->has_fmt ? w->rate : 0;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static int parse_fmt(speech_wav *w, const unsigned char *p, size_t len, char *err, size_t errlen)
{
    if (len < 16) {
        speech_audio_errf(err, errlen, "the WAV format chunk is too short");
        return LX_EINVAL;
    }
    int fmt = le16(p), channels = le16(p + 2), bits = le16(p + 14);
    uint32_t rate = le32(p + 4);
    if (fmt == FMT_EXTENSIBLE) {
        /* cbSize, valid bits, channel mask, then the sub-format GUID whose
         * first two bytes are the format tag. */
        if (len < 40) {
            speech_audio_errf(err, errlen, "the WAV extensible format chunk is too short");
            return LX_EINVAL;
        }
        fmt = le16(p + 24);
    }
    int ok_bits = (fmt == FMT_INT && (bits == 8 || bits == 16 || bits == 24 || bits == 32)) ||
                  (fmt == FMT_FLOAT && (bits == 32 || bits == 64));
    if (!ok_bits) {
        speech_audio_errf(err, errlen,
                          "WAV format %d with %d bits is not supported (integer PCM or float)", fmt,
                          bits);
        return LX_EINVAL;
    }
    if (channels < 1 || channels > MAX_CHANNELS || rate < 1000 || rate > 384000) {
        speech_audio_errf(err, errlen, "WAV with %d channels at %u Hz is not supported", channels,
                          rate);
        return LX_EINVAL;
    }
    w->fmt = fmt;
    w->channels = channels;
    w->bits = bits;
    w->rate = rate;
    w->frame = (size_t)channels * (size_t)(bits / 8);
    w->has_fmt = 1;
    return LX_OK;
}

static double sample_at(const speech_wav *w, const unsigned char *p)
{
    switch (w->bits) {
    case 8:
        return (p[0] - 128) / 128.0;
    case 16:
        return (int16_t)le16(p) / 32768.0;
    case 24: {
        int32_t v = (int32_t)((uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24);
        return (v >> 8) / 8388608.0;
    }
    case 32:
        if (w->fmt == FMT_FLOAT) {
            float f;
            uint32_t u = le32(p);
            memcpy(&f, &u, sizeof(f));
            return f;
        }
        return (int32_t)le32(p) / 2147483648.0;
    default: { /* 64-bit float */
        double d;
        uint64_t u = (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
        memcpy(&d, &u, sizeof(d));
        return d;
    }
    }
}

/* Converts whole frames p[0..n*frame) and hands them over. */
static int emit(speech_wav *w, const unsigned char *p, size_t n, speech_pcm_fn pcm, void *arg)
{
    size_t k = 0, step = (size_t)(w->bits / 8);
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (int c = 0; c < w->channels; c++)
            sum += sample_at(w, p + i * w->frame + (size_t)c * step);
        double v = sum / w->channels * 32768.0;
        if (isnan(v))
            v = 0;
        else if (v < -32768.0)
            v = -32768.0;
        else if (v > 32767.0)
            v = 32767.0;
        w->out[k++] = (int16_t)lrint(v);
        if (k == OUT_FRAMES) {
            int rc = pcm(arg, w->out, k);
            if (rc != 0)
                return rc;
            k = 0;
        }
    }
    return k > 0 ? pcm(arg, w->out, k) : 0;
}

/* Moves up to `want` bytes of the input into hold; 1 once hold has want. */
static int fill(speech_wav *w, const unsigned char **p, size_t *len, size_t want)
{
    size_t n = want - w->n_hold;
    if (n > *len)
        n = *len;
    memcpy(w->hold + w->n_hold, *p, n);
    w->n_hold += n;
    *p += n;
    *len -= n;
    return w->n_hold == want;
}

static int feed(speech_wav *w, const unsigned char *p, size_t len, speech_pcm_fn pcm, void *arg,
                char *err, size_t errlen)
{
    while (len > 0) {
        switch (w->st) {
        case ST_RIFF:
            if (!fill(w, &p, &len, 12))
                return LX_OK;
            if (memcmp(w->hold, "RIFF", 4) != 0 || memcmp(w->hold + 8, "WAVE", 4) != 0) {
                speech_audio_errf(err, errlen, "not a WAV file (no RIFF/WAVE header)");
                return LX_EINVAL;
            }
            w->n_hold = 0;
            w->st = ST_CHUNK;
            break;
        case ST_CHUNK: {
            if (!fill(w, &p, &len, 8))
                return LX_OK;
            uint32_t size = le32(w->hold + 4);
            w->n_hold = 0;
            w->pad = size & 1;
            if (memcmp(w->hold, "fmt ", 4) == 0) {
                if (w->has_fmt || size > HEAD_MAX) {
                    speech_audio_errf(err, errlen, "the WAV format chunk is %s",
                                      w->has_fmt ? "repeated" : "too large");
                    return LX_EINVAL;
                }
                w->left = size;
                w->st = ST_FMT;
                if (size == 0) {
                    speech_audio_errf(err, errlen, "the WAV format chunk is too short");
                    return LX_EINVAL;
                }
            } else if (memcmp(w->hold, "data", 4) == 0) {
                if (!w->has_fmt) {
                    speech_audio_errf(err, errlen, "the WAV data comes before its format");
                    return LX_EINVAL;
                }
                w->to_end = size == 0 || size == UINT32_MAX;
                w->left = size;
                w->st = ST_DATA;
            } else {
                w->left = (uint64_t)size + (uint64_t)w->pad;
                w->st = ST_SKIP;
            }
            break;
        }
        case ST_FMT:
            if (!fill(w, &p, &len, (size_t)w->left))
                return LX_OK;
            if (parse_fmt(w, w->hold, w->n_hold, err, errlen) != LX_OK)
                return LX_EINVAL;
            w->n_hold = 0;
            w->left = (uint64_t)w->pad;
            w->st = ST_SKIP;
            break;
        case ST_SKIP: {
            size_t n = w->left < len ? (size_t)w->left : len;
            p += n;
            len -= n;
            w->left -= n;
            if (w->left == 0)
                w->st = ST_CHUNK;
            break;
        }
        case ST_DATA: {
            size_t avail = len;
            if (!w->to_end && w->left < avail)
                avail = (size_t)w->left;
            size_t used = 0;
            if (w->n_hold > 0) { /* complete the partial frame */
                size_t want = w->frame - w->n_hold;
                size_t n = want < avail ? want : avail;
                memcpy(w->hold + w->n_hold, p, n);
                w->n_hold += n;
                used = n;
                if (w->n_hold == w->frame) {
                    int rc = emit(w, w->hold, 1, pcm, arg);
                    if (rc != 0)
                        return rc;
                    w->n_hold = 0;
                }
            }
            size_t frames = (avail - used) / w->frame;
            if (frames > 0) {
                int rc = emit(w, p + used, frames, pcm, arg);
                if (rc != 0)
                    return rc;
                used += frames * w->frame;
            }
            size_t rest = avail - used; /* less than a frame */
            memcpy(w->hold + w->n_hold, p + used, rest);
            w->n_hold += rest;
            used += rest;
            p += used;
            len -= used;
            if (!w->to_end) {
                w->left -= used;
                if (w->left == 0)
                    w->st = ST_TAIL;
            }
            break;
        }
        default: /* after the data: whatever follows is ignored */
            return LX_OK;
        }
    }
    return LX_OK;
}

int speech_wav_feed(speech_wav *w, const unsigned char *p, size_t len, speech_pcm_fn pcm, void *arg,
                    char *err, size_t errlen)
{
    if (w->failed) {
        speech_audio_errf(err, errlen, "the WAV stream already failed");
        return w->failed;
    }
    int rc = feed(w, p, len, pcm, arg, err, errlen);
    if (rc == LX_ENOMEM)
        speech_audio_errf(err, errlen, "out of memory");
    if (rc != LX_OK)
        w->failed = rc;
    return rc;
}

int speech_wav_finish(speech_wav *w, char *err, size_t errlen)
{
    if (w->failed) {
        speech_audio_errf(err, errlen, "the WAV stream already failed");
        return w->failed;
    }
    if (w->st != ST_DATA && w->st != ST_TAIL) {
        speech_audio_errf(err, errlen, "the WAV file is truncated (it ends before its data)");
        return LX_EINVAL;
    }
    return LX_OK; /* a partial last frame is dropped */
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

unsigned char *speech_wav_write(const int16_t *pcm, size_t n, uint32_t rate, size_t *len)
{
    if (n > (UINT32_MAX - 44) / 2)
        return NULL;
    size_t data = n * 2;
    unsigned char *b = malloc(44 + data);
    if (b == NULL)
        return NULL;
    memcpy(b, "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0", 24);
    put32(b + 4, (uint32_t)(36 + data));
    put32(b + 24, rate);
    put32(b + 28, rate * 2);
    memcpy(b + 32, "\x02\0\x10\0data", 8);
    put32(b + 40, (uint32_t)data);
    for (size_t i = 0; i < n; i++) {
        b[44 + 2 * i] = (unsigned char)((uint16_t)pcm[i] & 0xFF);
        b[45 + 2 * i] = (unsigned char)((uint16_t)pcm[i] >> 8);
    }
    *len = 44 + data;
    return b;
}
