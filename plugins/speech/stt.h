/*
 * Dictation streams: the WebSocket /ws/stt/stream, POST /api/stt/transcribe
 * and speech.v1's transcribe all run one (a whole upload is a stream of
 * one piece).
 *
 * A stream takes the pieces a client sends, one at a time: the audio side
 * (dictate.h: container, Opus, 16 kHz, the endpointer) runs on the offload
 * pool, then the phrase audio goes to the recognizer (recognizer.h), one
 * feed after another. Its sink hears an interim result after every piece
 * (the phrase so far; "" between phrases), a final one for every phrase
 * (at a pause of end_silence, at a piece that looks like the last, at the
 * end, or when no piece came for piece_wait), and `ready` when the next
 * piece may come. All on the worker loop. Dictated audio lives only in
 * memory, is never written or logged, and is freed with the stream.
 */
#ifndef SPEECH_STT_H
#define SPEECH_STT_H

#include <stddef.h>

#include "speech.h"

typedef struct speech_stt speech_stt;

typedef struct speech_stt_sink {
    /* A result: the phrase so far (is_final 0) or a final phrase (with its
     * confidence, 0..1, or -1 unknown). text is borrowed for the call. */
    void (*result)(void *arg, const char *text, int is_final, double confidence);
    /* The piece was handled (its results were given): send the next. */
    void (*ready)(void *arg);
    /* The stream cannot go on: LX_EINVAL (the audio is not audio we read:
     * 400), LX_ETOOBIG (past a limit: 413), LX_ESTATE (every recognizer is
     * busy: 503), LX_ETIMEDOUT (504), LX_EIO (the recognizer failed:
     * 502/503), LX_ENOMEM. message for a person. The finals of what came
     * before were given first. No call follows. */
    void (*failed)(void *arg, int status, const char *message);
} speech_stt_sink;

/* A stream on this worker, or NULL with *why: dictation is off (LX_ENOENT,
 * message in st->stt.why_off) or out of memory (LX_ENOMEM). `sink` is
 * borrowed for the stream's life. */
speech_stt *speech_stt_open(speech_state *st, const speech_stt_sink *sink, void *arg, int *why);

/* Hands over the next piece p[0..len) (copied); `end` when it is the last.
 * Only after `ready` (or first). LX_OK, LX_ESTATE (a piece is in
 * progress, or the stream ended), LX_ENOMEM. */
int speech_stt_piece(speech_stt *s, const void *p, size_t len, int end);

/* Ends the stream: no sink call after it; work in flight is dropped. */
void speech_stt_close(speech_stt *s);

/* A whole recording (an upload) transcribed: done runs once, later, on
 * the loop, with LX_OK, the text (its phrases joined by spaces, borrowed
 * for the call; "" for silence) and the mean confidence of its phrases
 * (-1 unknown); or a status of speech_stt_sink.failed with a message (or
 * LX_ENOENT: dictation is off, message why). The audio is copied. Returns
 * a handle to cancel with speech_stt_cancel (done then never runs), or
 * NULL when out of memory (done never runs). */
typedef void (*speech_stt_done_fn)(void *arg, int status, const char *message, const char *text,
                                   double confidence);
typedef struct speech_stt_whole speech_stt_whole;
speech_stt_whole *speech_stt_transcribe(speech_state *st, const void *audio, size_t len,
                                        speech_stt_done_fn done, void *arg);
void speech_stt_cancel(speech_stt_whole *t);

/* HTTP status for a failure status (400, 413, 502, 503, 504, 500). */
int speech_stt_http_status(const speech_state *st, int status);

/* The error code a client reads for a dictation failure status
 * (INVALID_AUDIO, AUDIO_TOO_LARGE, STT_BUSY, STT_TIMEOUT, STT_UNAVAILABLE,
 * STT_FAILED; INTERNAL otherwise): the routes' and speech.v1's. A static
 * string. In every build (stt_routes.c). */
const char *speech_stt_code(int status);

#endif
