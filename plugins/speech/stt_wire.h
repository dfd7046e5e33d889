/*
 * The wire formats of the network recognizers (one request per phrase):
 *
 *   OpenAI-compatible  POST {base}/v1/audio/transcriptions, multipart:
 *                      file (16 kHz mono WAV), model, response_format=json,
 *                      language; answer {"text": "..."}. Served by OpenAI,
 *                      whisper.cpp's server and faster-whisper servers.
 *   Google             POST https://speech.googleapis.com/v1/speech:recognize
 *                      {"config": {encoding LINEAR16, 16000 Hz, languageCode,
 *                      model, automatic punctuation}, "audio": {"content":
 *                      base64 PCM}}; answer {"results": [{"alternatives":
 *                      [{"transcript", "confidence"}]}]} (none: silence).
 *
 * Pure code (json-c, OpenSSL's base64): bodies are built and answers read
 * here, the calls are made by stt_net.c. Keys never pass through here.
 */
#ifndef SPEECH_STT_WIRE_H
#define SPEECH_STT_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* The multipart body of a transcription request, malloc'd (*body, *len),
 * and its Content-Type header line ("Content-Type: multipart/form-data;
 * boundary=...") in ctype. `language` (ISO 639-1, e.g. "en") may be NULL.
 * 0, or -1 when out of memory. */
int speech_openai_stt_body(const unsigned char *wav, size_t wav_len, const char *model,
                           const char *language, char **body, size_t *len, char *ctype,
                           size_t ctlen);

/* The text of an answer: 0 with *text (malloc'd, trimmed), or -1 with a
 * message naming what is missing, or the server's own error message. */
int speech_openai_stt_parse(const char *json, size_t len, char **text, char *err, size_t errlen);

/* The JSON body of a speech:recognize request for pcm[0..n) at 16 kHz,
 * malloc'd. NULL when out of memory. */
char *speech_google_stt_body(const int16_t *pcm, size_t n, const char *language_code,
                             const char *model, size_t *len);

/* The transcript (results joined by spaces; "" for none) and the first
 * result's confidence (-1 when absent): 0, or -1 with a message. */
int speech_google_stt_parse(const char *json, size_t len, char **text, double *confidence,
                            char *err, size_t errlen);

#endif
