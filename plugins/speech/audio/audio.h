/*
 * Dictation's audio input (plugins/speech/audio/): what the container
 * readers, the decoder and the voice activity detector share.
 *
 *   webm.c   incremental WebM (Matroska/EBML) reader: MediaRecorder's
 *            audio/webm;codecs=opus, fed piece by piece
 *   ogg.c    incremental Ogg reader (libogg): Ogg/Opus
 *   wav.c    incremental WAV reader: PCM 8/16/24/32-bit, float, any rate
 *            and channel count
 *   opusdec.c OpusHead and Opus packets -> 16 kHz mono (libopus)
 *   input.c  the pipeline: sniffs the container, decodes, resamples WAV
 *            to 16 kHz mono (speexdsp), enforces the byte and duration limits
 *   vad.c    an energy voice activity detector and phrase endpointer
 *
 * All pure code: no host calls, no I/O, no globals, so any thread may use
 * its own objects (the speech plugin runs them on the offload pool). Every
 * reader takes untrusted bytes and is fuzzed (tests/fuzz/fuzz_speech_*.c).
 * Dictated audio is only ever in memory: nothing here writes or logs it.
 */
#ifndef SPEECH_AUDIO_H
#define SPEECH_AUDIO_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <lexiaid/plugin.h>

/* The rate every recognizer is fed: 16 kHz, mono, signed 16-bit. */
#define SPEECH_PCM_RATE 16000

/* A compressed packet a container reader found (Opus: one packet), in
 * stream order. `p` is borrowed for the call. Return 0 to go on, or a
 * negative LX_E... code to stop the reader, which then returns it
 * (LX_E... codes: <lexiaid/plugin.h>). */
typedef int (*speech_packet_fn)(void *arg, const unsigned char *p, size_t len);

/* Fills a caller-owned message buffer (err may be NULL when errlen is 0). */
static inline void speech_audio_errf(char *err, size_t errlen, const char *fmt, ...)
    LX_PRINTF(3, 4);
static inline void speech_audio_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#endif
