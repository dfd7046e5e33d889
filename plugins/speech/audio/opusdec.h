/*
 * Opus packets -> 16 kHz mono PCM (libopus), for dictation.
 *
 * libopus decodes straight to 16 kHz: it leaves out the bands above 8 kHz
 * and decimates what is left, which costs 40% less CPU than decoding at
 * 48 kHz and resampling (0.27% against 0.45% of a core per live stream,
 * measured with MediaRecorder's 128 kbit/s), and recognizers hear 16 kHz
 * anyway.
 *
 * The decoder is made from the stream's OpusHead (RFC 7845, section 5.1:
 * WebM's CodecPrivate, Ogg's first packet): its channel count (1 or 2,
 * mapping family 0; stereo is mixed down), pre-skip (samples the encoder
 * added at 48 kHz, dropped at our rate) and output gain. Pure code; one decoder per stream, any
 * one thread at a time.
 */
#ifndef SPEECH_AUDIO_OPUSDEC_H
#define SPEECH_AUDIO_OPUSDEC_H

#include <stddef.h>
#include <stdint.h>

#include "audio.h"

#define SPEECH_OPUS_RATE 16000 /* what the decoder gives */
/* The most samples one packet decodes to: 120 ms. */
#define SPEECH_OPUS_MAX_FRAME (SPEECH_OPUS_RATE * 120 / 1000)

typedef struct speech_opus speech_opus;

/* A decoder for the stream whose OpusHead is head[0..len). LX_OK with
 * *out (free with speech_opus_free); LX_EINVAL when the OpusHead is not
 * one (err says why); LX_ENOMEM. */
int speech_opus_new(const unsigned char *head, size_t len, speech_opus **out, char *err,
                    size_t errlen);
void speech_opus_free(speech_opus *o);

/* Decodes one packet into pcm[0..SPEECH_OPUS_MAX_FRAME): *n mono samples
 * at SPEECH_OPUS_RATE (0 while the pre-skip is being dropped, or for an empty
 * packet). LX_OK, or LX_EINVAL for a corrupt packet (err says which). */
int speech_opus_decode(speech_opus *o, const unsigned char *p, size_t len, int16_t *pcm, size_t *n,
                       char *err, size_t errlen);

#endif
