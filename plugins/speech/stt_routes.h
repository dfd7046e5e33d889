/*
 * Dictation's HTTP handlers (stt_routes.c):
 *
 *   POST /api/stt/transcribe  multipart/form-data with the recording in
 *        `audio` (WebM/Opus, Ogg/Opus or WAV; or the raw audio with an
 *        audio/... Content-Type) -> 200 {status: "success", transcription,
 *        confidence, language_code}, or {error, code}
 *   GET  /api/stt/languages   -> 200 {status: "success", languages:
 *        [{language_code, name}], provider}
 *   WS   /ws/stt/stream        live dictation (stt_ws.c), a WebSocket
 *        route (ABI 1.3) behind auth.websocket_user
 */
#ifndef SPEECH_STT_ROUTES_H
#define SPEECH_STT_ROUTES_H

#include <lexiaid/plugin.h>

lx_rc speech_h_transcribe(lx_req *req, void *state);
lx_rc speech_h_languages(lx_req *req, void *state);

/* WebSocket /ws/stt/stream (stt_ws.c): live dictation; its open handler
 * (LX_H_WEBSOCKET). */
lx_rc speech_h_stream(lx_req *req, void *state);

#endif
