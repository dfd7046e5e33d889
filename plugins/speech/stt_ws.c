/*
 * Live dictation: the WebSocket /ws/stt/stream (stt_routes.h), as the
 * LexiAid frontend speaks it (../shared/docs/lexiaid-speech.md).
 *
 * The route runs auth.websocket_user first (the ID token in ?token=; a bad
 * or missing one is closed with 4001 before this handler runs). Binary
 * messages are MediaRecorder's pieces of one WebM stream; each goes to the
 * session's dictation stream (stt.h) while the session is held (LX_ASYNC:
 * nothing more is read until the piece is handled, so a client cannot
 * pile pieces up). Text frames go out:
 *   {"is_final": false, "transcript": "<the phrase so far>", "stability": 0.5}
 *   after every piece, and
 *   {"is_final": true, "transcript": "<a phrase>", "stability": 1.0}
 *   for every phrase: at a pause, at a piece that looks like the last one
 *   (stop() makes it shorter), or when no piece came for piece_wait.
 * A text "CLOSE" ends the stream: the last phrase's final, then close 1000.
 * A stream that fails sends {"error", "code"} and closes: 1007 for audio it
 * cannot read, 1009 past a limit, 1013 when every recognizer is busy, 1011
 * when the recognizer failed; dictation off (by the operator or the build)
 * is refused with 1011 and the reason it is off. Audio is never written or
 * logged.
 *
 * The core's WebSocket sessions (ABI 1.3: ws_accept, ws_send, ws_close,
 * ws_resume; see include/lexiaid/plugin.h) carry it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "stt.h"
#include "stt_routes.h"

typedef struct ws_dictation {
    speech_state *st;
    lx_ws *ws;
    speech_stt *s;
    int held;       /* on_message returned LX_ASYNC: resume when the piece is done */
    int closing;    /* CLOSE came, or the stream failed: no more pieces */
    int close_sent; /* ws_close was called */
} ws_dictation;

static void ws_send_json(ws_dictation *d, json_object *o)
{
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    int rc = d->st->host->ws_send(d->ws, LX_WS_TEXT, s, strlen(s));

    if (rc == LX_ETOOBIG && !d->close_sent) { /* the peer reads nothing */
        d->closing = d->close_sent = 1;
        d->st->host->ws_close(d->ws, LX_WS_POLICY, "the client does not read its results");
    }
    json_object_put(o);
}

static void ws_result(void *arg, const char *text, int is_final, double confidence)
{
    ws_dictation *d = arg;
    json_object *o = json_object_new_object();

    (void)confidence;
    json_object_object_add(o, "is_final", json_object_new_boolean(is_final));
    json_object_object_add(o, "transcript", json_object_new_string(text));
    json_object_object_add(o, "stability", json_object_new_double(is_final ? 1.0 : 0.5));
    ws_send_json(d, o);
}

static void ws_resume(ws_dictation *d)
{
    if (d->held) {
        d->held = 0;
        d->st->host->ws_resume(d->ws);
    }
}

static void ws_ready(void *arg)
{
    ws_dictation *d = arg;

    if (d->closing && !d->close_sent) {
        d->close_sent = 1;
        d->st->host->ws_close(d->ws, LX_WS_NORMAL, "end of dictation");
    }
    ws_resume(d);
}

/* A close reason is at most 123 bytes: `message` cut at a character
 * boundary into `reason` (124 bytes). */
static void ws_reason(char reason[124], const char *message)
{
    size_t n = strlen(message) < 123 ? strlen(message) : 123;

    while (n > 0 && (message[n] & 0xC0) == 0x80)
        n--;
    memcpy(reason, message, n);
    reason[n] = '\0';
}

static void ws_failed(void *arg, int status, const char *message)
{
    ws_dictation *d = arg;
    const lx_host *h = d->st->host;
    int code = status == LX_EINVAL    ? LX_WS_INVALID_DATA
               : status == LX_ETOOBIG ? LX_WS_TOO_BIG
               : status == LX_ESTATE  ? 1013 /* try again later */
                                      : LX_WS_INTERNAL;
    json_object *o = json_object_new_object();
    char reason[124];

    json_object_object_add(o, "error", json_object_new_string(message));
    json_object_object_add(o, "code",
                           json_object_new_string(status == LX_EINVAL    ? "INVALID_AUDIO"
                                                  : status == LX_ETOOBIG ? "AUDIO_TOO_LARGE"
                                                  : status == LX_ESTATE  ? "STT_BUSY"
                                                                         : "STT_FAILED"));
    ws_send_json(d, o);
    ws_reason(reason, message);
    if (!d->close_sent) {
        d->closing = d->close_sent = 1;
        h->ws_close(d->ws, code, reason);
    }
    ws_resume(d);
}

static const speech_stt_sink ws_sink = {ws_result, ws_ready, ws_failed};

static lx_rc ws_on_message(lx_ws *ws, int type, const void *data, size_t len, void *arg)
{
    ws_dictation *d = arg;
    int rc;

    (void)ws;
    if (d->closing)
        return LX_DONE;
    if (type == LX_WS_TEXT) {
        if (len != 5 || memcmp(data, "CLOSE", 5) != 0)
            return LX_DONE; /* nothing else is said in text */
        d->closing = 1;
        rc = speech_stt_piece(d->s, "", 0, 1);
    } else {
        rc = speech_stt_piece(d->s, data, len, 0);
    }
    if (rc != LX_OK)
        return LX_FAIL; /* 1011 */
    d->held = 1;
    return LX_ASYNC;
}

static void ws_on_close(lx_ws *ws, int code, const char *reason, void *arg)
{
    ws_dictation *d = arg;

    (void)ws;
    (void)code;
    (void)reason;
    speech_stt_close(d->s); /* what is in flight is dropped */
    free(d);
}

static const lx_ws_handler ws_handler = {
    .struct_size = sizeof(lx_ws_handler),
    .on_message = ws_on_message,
    .on_close = ws_on_close,
};

lx_rc speech_h_stream(lx_req *req, void *state)
{
    speech_state *st = state;
    const lx_host *h = st->host;
    int why;
    char reason[124];

    if (st->stt.rec == NULL) { /* off by the operator or by the build: say which */
        ws_reason(reason, st->stt.why_off);
        h->ws_reject(req, LX_WS_INTERNAL, reason);
        return LX_DONE;
    }
    ws_dictation *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return LX_FAIL;
    d->st = st;
    d->s = speech_stt_open(st, &ws_sink, d, &why);
    if (d->s == NULL) {
        free(d);
        return LX_FAIL;
    }
    int rc = h->ws_accept(req, &ws_handler, d, &d->ws);
    if (rc != LX_OK) {
        speech_stt_close(d->s);
        free(d);
        return rc == LX_EGONE ? LX_DONE : LX_FAIL;
    }
    return LX_DONE;
}
