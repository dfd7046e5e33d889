/*
 * Dictation's audio input pipeline: bytes of WebM/Opus, Ogg/Opus or WAV in,
 * 16 kHz mono signed 16-bit PCM out.
 *
 * The container is recognised by its first bytes. libopus decodes Opus
 * straight to 16 kHz (opusdec.h says why); WAV at any other rate goes
 * through speexdsp's resampler. The stream is bounded in bytes and in seconds of
 * audio: past a limit it is an LX_ETOOBIG error, so a client that sends a
 * gigabyte is cut off at the limit with a clear message, never buffered.
 * The PCM made waits in the input until the caller takes it.
 *
 * Pure code: no host calls, no I/O, no globals. One input per stream, used
 * by one thread at a time (the speech plugin feeds it on the offload pool,
 * one job per stream at a time). Fuzzed (tests/fuzz/fuzz_speech_input.c).
 */
#ifndef SPEECH_AUDIO_INPUT_H
#define SPEECH_AUDIO_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "audio.h"

typedef struct speech_input speech_input;

typedef struct speech_input_limits {
    uint64_t max_bytes; /* 0: no limit */
    uint64_t max_ms;    /* audio; 0: no limit */
} speech_input_limits;

/* A new input (the limits are copied), or NULL when out of memory. */
speech_input *speech_input_new(const speech_input_limits *lim);
void speech_input_free(speech_input *in);

/* Reads the next piece p[0..len) of the stream (borrowed for the call).
 * LX_OK; LX_EINVAL when it is not audio this input reads, or is broken
 * (err says why, for a person); LX_ETOOBIG past a limit (the PCM made up
 * to the limit is kept); LX_ENOMEM. After an error every call fails. */
int speech_input_feed(speech_input *in, const unsigned char *p, size_t len, char *err,
                      size_t errlen);

/* The end of the stream: flushes the resampler. LX_OK, or LX_EINVAL when
 * the stream is truncated or holds no audio track. */
int speech_input_finish(speech_input *in, char *err, size_t errlen);

/* The PCM made and not yet taken: *n samples at SPEECH_PCM_RATE, borrowed
 * until the next call on the input. */
const int16_t *speech_input_pcm(const speech_input *in, size_t *n);

/* Drops the first n samples of what speech_input_pcm gives (n at most
 * that count). */
void speech_input_take(speech_input *in, size_t n);

/* Total PCM made so far, in samples at SPEECH_PCM_RATE. */
uint64_t speech_input_samples(const speech_input *in);

/* "webm", "ogg", "wav", or NULL while not yet known. */
const char *speech_input_format(const speech_input *in);

#endif
