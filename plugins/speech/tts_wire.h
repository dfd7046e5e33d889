/*
 * The wire formats of the cloud text-to-speech providers (tts_cloud.h):
 *
 *   Google   POST {base}/v1beta1/text:synthesize
 *            {"input": {"ssml": "<speak><mark name=\"0\"/>Dr. <mark
 *            name=\"4\"/>Smith ...</speak>"}, "voice": {languageCode, name},
 *            "audioConfig": {LINEAR16, sampleRateHertz, speakingRate,
 *            pitch}, "enableTimePointing": ["SSML_MARK"]}; answer
 *            {"audioContent": base64 WAV (or raw PCM), "timepoints":
 *            [{"markName", "timeSeconds"}]}. A request's input is at most
 *            5,000 bytes, the markup counted: speech_google_chunks cuts a
 *            segment's words into chunks that fit.
 *            GET {base}/v1beta1/voices -> {"voices": [{"languageCodes",
 *            "name", "ssmlGender", "naturalSampleRateHertz"}]}
 *   OpenAI   POST {base}/v1/audio/speech {"model", "input", "voice",
 *            "response_format": "mp3", "speed"} -> MP3 bytes (no word
 *            times: tts_openai.c estimates them); speech_mp3_duration
 *            measures what came back.
 *
 * Pure code (json-c, OpenSSL's base64; no host calls, no I/O), unit-tested
 * (tests/unit/test_speech_tts_wire.c) and fuzzed
 * (tests/fuzz/fuzz_speech_tts_wire.c). Keys never pass through here.
 */
#ifndef SPEECH_TTS_WIRE_H
#define SPEECH_TTS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "words.h"

#define SPEECH_GOOGLE_MAX_INPUT 5000 /* bytes of SSML in one request */

/* One request's worth of a segment's words. */
typedef struct speech_chunk {
    uint32_t seg;   /* segment index */
    uint32_t first; /* first word (index into t->words) */
    uint32_t n;     /* words */
} speech_chunk;

/* Cuts every segment of t into chunks whose SSML (speech_google_ssml) is
 * at most max_input bytes (0: SPEECH_GOOGLE_MAX_INPUT), in order; *out is
 * malloc'd. LX_OK, LX_ETOOBIG (a single word does not fit: *bad_word is its
 * index), LX_ENOMEM. */
int speech_google_chunks(const char *text, const speech_text *t, size_t max_input,
                         speech_chunk **out, size_t *n_out, size_t *bad_word);

/* The SSML of chunk c: <speak>, then per word <mark name="OFF"/> (OFF: the
 * word's byte offset in its segment's text) and the word, XML-escaped, as
 * the segment's text has it (speech_seg_text), then </speak>. malloc'd,
 * NUL-terminated (*len without it); NULL when out of memory. */
char *speech_google_ssml(const char *text, const speech_text *t, const speech_chunk *c,
                         size_t *len);

/* The JSON body of a text:synthesize request. language may be NULL (then
 * taken from the voice's name: "en-US-Neural2-F" -> "en-US"). NULL when
 * out of memory. */
char *speech_google_body(const char *ssml, const char *voice, const char *language,
                         uint32_t sample_rate, double rate, double pitch, size_t *len);

/* A text:synthesize answer: 0 with *pcm (malloc'd, signed 16-bit
 * little-endian mono samples, *n_samples), *rate (from the WAV header, or
 * the asked rate for raw PCM) and the marks (malloc'd: mark name as the
 * byte offset, time in ms), or -1 with a message (the service's own error
 * message included). *is_ssml_refused is set when the service says the
 * voice takes no SSML or no marks. */
typedef struct speech_google_answer {
    unsigned char *pcm;
    size_t n_samples;
    uint32_t rate;
    uint32_t *mark_off, *mark_ms;
    size_t n_marks;
} speech_google_answer;
int speech_google_parse(const char *json, size_t len, uint32_t asked_rate,
                        speech_google_answer *out, char *err, size_t errlen);
void speech_google_answer_free(speech_google_answer *a);

/* An error answer's message ({"error": {"message"}}); -1 when none. */
int speech_cloud_error_message(const char *json, size_t len, char *msg, size_t msglen);

/* Google's voices list into l (provider "google"); voices without a name
 * or a language are skipped. 0, or -1 with a message. */
int speech_google_voices_parse(const char *json, size_t len, speech_voice_list *l, char *err,
                               size_t errlen);

/* The JSON body of an /v1/audio/speech request. NULL when out of memory. */
char *speech_openai_body(const char *model, const char *voice, const char *input, double speed,
                         size_t *len);

/* The length of an MP3 file (MPEG-1/2/2.5 Layer III frames, after an
 * optional ID3v2 tag; stops at the first byte that is not a frame), in
 * milliseconds, and its sample rate. 0, or -1 when it holds no frame. */
int speech_mp3_duration(const unsigned char *p, size_t len, uint64_t *ms, uint32_t *rate);

#endif
