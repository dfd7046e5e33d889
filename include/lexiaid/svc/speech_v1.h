/*
 * Service "speech.v1": text to speech with word times, and speech to text,
 * for other plugins (the tutoring plugin reads its chat and answer replies
 * aloud with it, and transcribes the chat's voice messages).
 * Provided by the speech plugin.
 *
 *     void *sp;
 *     const lx_speech_v1 *speech = host->svc_lookup(LX_SPEECH_V1, &sp);
 *     if (speech != NULL && speech->reply_audio(sp)) {
 *         lx_speech_request rq = {.struct_size = sizeof(rq), .uid = uid,
 *                                 .text = reply, .len = strlen(reply)};
 *         speech->synthesize(sp, w, &rq, on_audio, arg, &call);
 *     }
 *
 * Rules:
 *   - Call on a worker loop `w` (from a handler or a callback), never in the
 *     master. It never blocks: the engines run in helper processes and
 *     `done` runs later, exactly once, on the same loop, unless the call
 *     returns a negative code (then `done` never runs) or the call is
 *     cancelled first.
 *   - Input strings are copied before the call returns. What `done` gets is
 *     borrowed for the duration of the callback: copy what you keep.
 *   - The answer is the one POST /api/tts/synthesize gives: base64 MP3 (no
 *     line breaks) and timepoints, a JSON array of {mark_name, time_seconds}
 *     with the display words in order, one PARAGRAPH_BREAK between
 *     paragraphs and times never decreasing. The user's profile (ttsVoice,
 *     ttsSpeed, ttsPitch) applies where the request does not say.
 *   - Structures only grow at their end; check struct_size before reading
 *     a member added later.
 */
#ifndef LEXIAID_SVC_SPEECH_V1_H
#define LEXIAID_SVC_SPEECH_V1_H

#include <stddef.h>
#include <stdint.h>

#include <lexiaid/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LX_SPEECH_V1 "speech.v1"

typedef struct lx_speech_request {
    uint32_t struct_size; /* sizeof(lx_speech_request) of the caller */
    const char *uid;      /* whose profile applies; NULL: none */
    const char *text;     /* UTF-8 */
    size_t len;
    const char *voice; /* NULL: the profile's, else the operator's default */
    int has_rate;      /* speaking rate 0.25 - 4 (1 normal) */
    double rate;
    int has_pitch; /* pitch in semitones, -20 - 20 */
    double pitch;
} lx_speech_request;

typedef struct lx_speech_audio {
    uint32_t struct_size;
    const char *audio_base64; /* not NUL-terminated: audio_base64_len bytes */
    size_t audio_base64_len;
    const char *timepoints_json; /* a JSON array; not NUL-terminated */
    size_t timepoints_json_len;
} lx_speech_audio;

/* status LX_OK with audio; or an error (audio NULL): LX_EINVAL with an
 * HTTP-like `http` 400 (bad text, unknown voice), or LX_EIO with 503/504
 * (no engine, a helper died, busy, too slow), `code` the error code the
 * speech routes use (TEXT_TOO_LONG, SPEECH_UNAVAILABLE, ...) and `message`
 * for a person. Strings and audio are borrowed for the call. */
typedef void (*lx_speech_done_fn)(void *arg, int status, int http, const char *code,
                                  const char *message, const lx_speech_audio *audio);

typedef struct lx_speech_call lx_speech_call;

/* A transcription's answer (transcribe below): status LX_OK with `text`
 * (UTF-8, NUL-terminated; "" when nothing was said) and `confidence` (0..1,
 * or -1 unknown); or an error (text NULL) with `http` (400 not audio we
 * read, 413 over the limits, 502/503/504 the recognizer failed, is busy or
 * off, or was too slow), `code` (INVALID_AUDIO, AUDIO_TOO_LARGE,
 * STT_UNAVAILABLE, STT_BUSY, STT_FAILED, STT_TIMEOUT) and `message` for a
 * person. Strings are borrowed for the call. */
typedef void (*lx_speech_text_fn)(void *arg, int status, int http, const char *code,
                                  const char *message, const char *text, double confidence);
typedef struct lx_speech_transcription lx_speech_transcription;

typedef struct lx_speech_v1 {
    uint32_t struct_size;

    /* True when the operator wants replies read aloud (config
     * reply_audio) and an engine is there. */
    int (*reply_audio)(void *state);

    /* Synthesises rq. LX_OK, with *call (may be NULL) valid until `done`
     * runs or cancel is called; or LX_ENOMEM / LX_EINVAL (bad arguments),
     * and done never runs. A bad text is not a bad argument: it reaches
     * done as a 400. */
    int (*synthesize)(void *state, lx_worker *w, const lx_speech_request *rq,
                      lx_speech_done_fn done, void *arg, lx_speech_call **call);

    /* done will not run. The synthesis may go on and be cached. */
    void (*cancel)(lx_speech_call *call);

    /* Added later: read only when struct_size covers them. */

    /* Transcribes a recording (WebM/Opus, Ogg/Opus or WAV, audio[0..len)
     * copied before it returns) with the operator's recognizer (dictation:
     * pocketsphinx, or an OpenAI-compatible or Google service). LX_OK with
     * *t (may be NULL) valid until done runs or transcribe_cancel is
     * called; or LX_ENOMEM / LX_EINVAL (bad arguments) and done never runs.
     * The audio is never written anywhere nor logged. */
    int (*transcribe)(void *state, lx_worker *w, const void *audio, size_t len,
                      lx_speech_text_fn done, void *arg, lx_speech_transcription **t);
    /* done will not run; the recognizer's work is dropped. */
    void (*transcribe_cancel)(lx_speech_transcription *t);
} lx_speech_v1;

#ifdef __cplusplus
}
#endif
#endif
