/*
 * An incremental WAV (RIFF/WAVE) reader for dictation uploads: integer PCM
 * of 8, 16, 24 or 32 bits, IEEE float of 32 or 64 bits (also as
 * WAVE_FORMAT_EXTENSIBLE), any sample rate from 1 to 384 kHz and 1 to 16
 * channels, mixed down to mono signed 16-bit at the file's own rate.
 * A data chunk whose size is 0 or 0xFFFFFFFF (a WAV written to a pipe)
 * runs to the end of the stream. Pure code; one reader per stream, any one
 * thread at a time; fuzzed (tests/fuzz/fuzz_speech_input.c).
 */
#ifndef SPEECH_AUDIO_WAV_H
#define SPEECH_AUDIO_WAV_H

#include <stddef.h>
#include <stdint.h>

#include "audio.h"

typedef struct speech_wav speech_wav;

/* Mono samples at speech_wav_rate(), borrowed for the call; return 0 or a
 * negative LX_E... code to stop the reader. */
typedef int (*speech_pcm_fn)(void *arg, const int16_t *pcm, size_t n);

speech_wav *speech_wav_new(void); /* NULL when out of memory */
void speech_wav_free(speech_wav *w);

/* Reads p[0..len) and hands the samples it completes to pcm. LX_OK;
 * LX_EINVAL when the bytes are not a WAV this reader takes (err says why;
 * it then refuses further input); LX_ENOMEM; or what pcm returned. */
int speech_wav_feed(speech_wav *w, const unsigned char *p, size_t len, speech_pcm_fn pcm, void *arg,
                    char *err, size_t errlen);

/* The end: LX_OK, or LX_EINVAL when it ended before its data chunk. */
int speech_wav_finish(speech_wav *w, char *err, size_t errlen);

/* The sample rate, 0 until the format chunk was read. */
uint32_t speech_wav_rate(const speech_wav *w);

/* A WAV file of pcm[0..n) (mono, signed 16-bit, `rate` Hz): malloc'd
 * bytes the caller frees, *len set; NULL when out of memory or over 4 GiB.
 * For network recognizers, in memory only. */
unsigned char *speech_wav_write(const int16_t *pcm, size_t n, uint32_t rate, size_t *len);

#endif
