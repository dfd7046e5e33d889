/*
 * The speech plugin's HTTP handlers (routes.c).
 */
#ifndef SPEECH_ROUTES_H
#define SPEECH_ROUTES_H

#include "speech.h"

/* POST /api/tts/synthesize */
lx_rc speech_h_synthesize(lx_req *req, void *state);
/* GET /api/tts/voices */
lx_rc speech_h_voices(lx_req *req, void *state);

#endif
