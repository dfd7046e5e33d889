/*
 * The speech plugin's HTTP handlers:
 *
 *   POST /api/tts/synthesize  {text, voice_name?, speaking_rate?, pitch?}
 *        -> 200 {audio_content, timepoints} (body.h), or {error, code}
 *   GET  /api/tts/voices      -> 200 {status, voices: [...]} (voices.h)
 *
 * Both behind auth.require_user; the signed-in user's profile gives what
 * the request does not say (synth.c).
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include <lexiaid/auth.h>

#include "routes.h"
#include "synth.h"
#include "tts_cloud.h"

typedef struct route_call {
    speech_state *st;
    lx_req *req;
    speech_waiter *waiter;
} route_call;

static void route_done(void *arg, const speech_fail *fail, speech_body *body, int from)
{
    route_call *rc = arg;
    const lx_host *h = rc->st->host;

    rc->waiter = NULL;
    if (fail != NULL) {
        h->reply_error(rc->req, fail->http, fail->code, fail->message);
        return;
    }
    /* for operators and benchmarks: was it the engine's work? */
    h->set_header(rc->req, "X-TTS-Cache",
                  from == SPEECH_FROM_CACHE    ? "hit"
                  : from == SPEECH_FROM_SHARED ? "shared"
                                               : "miss");
    speech_body_ref(body);
    h->reply(rc->req, 200, "application/json", body->data, body->len, speech_body_unref_data);
}

static void route_abort(lx_req *req, void *arg)
{
    route_call *rc = arg;

    if (rc->waiter == NULL)
        return;
    speech_waiter_cancel(rc->waiter); /* a running synthesis still goes to the cache */
    rc->waiter = NULL;
    rc->st->host->reply_error(req, 503, "CLIENT_GONE", "The client went away");
}

/* Member `key` as an optional number: 1 with *out set, 0 absent or null,
 * -1 present but not a number. */
static int route_opt_num(json_object *o, const char *key, double *out)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return -1;
    *out = json_object_get_double(v);
    return 1;
}

lx_rc speech_h_synthesize(lx_req *req, void *state)
{
    speech_state *st = state;
    const lx_host *h = st->host;
    const lx_principal *who = h->ctx_get(req, LX_AUTH_PRINCIPAL);
    size_t blen = 0;
    const char *body = h->req_body(req, &blen);
    json_object *o, *text = NULL, *voice = NULL;
    speech_request rq = {0};
    speech_fail fail;
    route_call *rc;
    int got_rate, got_pitch;

    o = body != NULL && blen > 0 ? json_tokener_parse(body) : NULL;
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        h->reply_error(req, 400, "INVALID_JSON", "The body must be a JSON object with \"text\"");
        return LX_DONE;
    }
    if (!json_object_object_get_ex(o, "text", &text) || text == NULL ||
        !json_object_is_type(text, json_type_string)) {
        json_object_put(o);
        h->reply_error(req, 400, text == NULL ? "TEXT_EMPTY" : "INVALID_REQUEST",
                       text == NULL ? "There is no text to read" : "\"text\" must be a string");
        return LX_DONE;
    }
    if (json_object_object_get_ex(o, "voice_name", &voice) && voice != NULL &&
        !json_object_is_type(voice, json_type_string)) {
        json_object_put(o);
        h->reply_error(req, 400, "INVALID_REQUEST", "\"voice_name\" must be a string");
        return LX_DONE;
    }
    got_rate = route_opt_num(o, "speaking_rate", &rq.rate);
    got_pitch = route_opt_num(o, "pitch", &rq.pitch);
    if (got_rate < 0 || got_pitch < 0) {
        json_object_put(o);
        h->reply_error(req, 400, got_rate < 0 ? "INVALID_RATE" : "INVALID_PITCH",
                       got_rate < 0 ? "\"speaking_rate\" must be a number"
                                    : "\"pitch\" must be a number");
        return LX_DONE;
    }
    rq.has_rate = got_rate;
    rq.has_pitch = got_pitch;
    rq.uid = who != NULL ? who->uid : NULL;
    rq.text = json_object_get_string(text);
    rq.len = (size_t)json_object_get_string_len(text);
    rq.voice = voice != NULL && json_object_get_string_len(voice) > 0
                   ? json_object_get_string(voice)
                   : NULL;

    rc = h->req_alloc(req, sizeof(*rc));
    if (rc == NULL) {
        json_object_put(o);
        return LX_FAIL;
    }
    rc->st = st;
    rc->req = req;
    if (speech_synthesize(st, &rq, route_done, rc, &rc->waiter, &fail) != LX_OK) {
        json_object_put(o);
        h->reply_error(req, fail.http, fail.code, fail.message);
        return LX_DONE;
    }
    json_object_put(o);
    h->req_on_abort(req, route_abort, rc);
    return LX_ASYNC;
}

lx_rc speech_h_voices(lx_req *req, void *state)
{
    speech_state *st = state;

    if (st->why_unavailable[0] != '\0' || st->voices.json == NULL) {
        char msg[400];

        snprintf(msg, sizeof(msg), "Speech synthesis is not available: %s",
                 st->why_unavailable[0] ? st->why_unavailable : "no voices");
        st->host->reply_error(req, 503, "SPEECH_UNAVAILABLE", msg);
        return LX_DONE;
    }
    const char *json = speech_voices_now(st)->json;

    /* LX_TRANSIENT: a worker's table may be replaced (Google's list) */
    st->host->reply(req, 200, "application/json", json, strlen(json), LX_TRANSIENT);
    return LX_DONE;
}
