/*
 * Dictation's HTTP handlers (stt_routes.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include <lexiaid/multipart.h>

#include "recognizer.h"
#include "stt.h"
#include "stt_routes.h"

const char *speech_stt_code(int status)
{
    switch (status) {
    case LX_EINVAL:
        return "INVALID_AUDIO";
    case LX_ETOOBIG:
        return "AUDIO_TOO_LARGE";
    case LX_ESTATE:
        return "STT_BUSY";
    case LX_ETIMEDOUT:
        return "STT_TIMEOUT";
    case LX_ENOENT:
        return "STT_UNAVAILABLE";
    case LX_EIO:
        return "STT_FAILED";
    default:
        return "INTERNAL";
    }
}

typedef struct stt_call {
    speech_state *st;
    lx_req *req;
    speech_stt_whole *t;
    lx_mp mp;
} stt_call;

static void stt_call_done(void *arg, int status, const char *message, const char *text,
                          double confidence)
{
    stt_call *c = arg;
    const lx_host *h = c->st->host;

    c->t = NULL;
    lx_mp_free(&c->mp);
    if (status != LX_OK) {
        int http = status == LX_ENOENT ? 503 : speech_stt_http_status(c->st, status);
        h->reply_error(c->req, http, speech_stt_code(status), message);
        return;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("success"));
    json_object_object_add(o, "transcription", json_object_new_string(text));
    json_object_object_add(o, "confidence",
                           confidence >= 0 ? json_object_new_double(confidence) : NULL);
    json_object_object_add(o, "language_code", json_object_new_string(c->st->stt.language));
    h->reply_json(c->req, 200, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static void stt_call_abort(lx_req *req, void *arg)
{
    stt_call *c = arg;

    (void)req;
    if (c->t == NULL)
        return;
    speech_stt_cancel(c->t); /* the recognizer's work is dropped */
    c->t = NULL;
    lx_mp_free(&c->mp);
    c->st->host->reply_error(c->req, 503, "CLIENT_GONE", "The client went away");
}

static void stt_call_cleanup(void *arg)
{
    stt_call *c = arg;

    speech_stt_cancel(c->t);
    lx_mp_free(&c->mp);
}

lx_rc speech_h_transcribe(lx_req *req, void *state)
{
    speech_state *st = state;
    const lx_host *h = st->host;
    const char *ct = h->req_header(req, "Content-Type");
    size_t len = 0;
    const char *body = h->req_body(req, &len);
    const void *audio = NULL;
    size_t audio_len = 0;
    char err[256];

    if (st->stt.rec == NULL) {
        h->reply_error(req, 503, "STT_UNAVAILABLE", st->stt.why_off);
        return LX_DONE;
    }
    stt_call *c = h->req_alloc(req, sizeof(*c));
    if (c == NULL)
        return LX_FAIL;
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->req = req;
    h->req_on_cleanup(req, stt_call_cleanup, c);
    if (ct != NULL && strncasecmp(ct, "audio/", 6) == 0) {
        audio = body;
        audio_len = len;
    } else {
        char *boundary = NULL;
        if (ct == NULL || lx_mp_boundary(ct, &boundary, err, sizeof(err)) != 0) {
            h->reply_error(req, 400, "NO_AUDIO",
                           "Send the recording as multipart/form-data in the field \"audio\"");
            return LX_DONE;
        }
        int rc = lx_mp_parse(body, len, boundary, &c->mp, err, sizeof(err));
        free(boundary);
        if (rc != 0) {
            h->reply_error(req, 400, "BAD_FORM", err);
            return LX_DONE;
        }
        const lx_mp_part *p = lx_mp_get(&c->mp, "audio");
        if (p == NULL)
            p = lx_mp_get(&c->mp, "audio_file");
        if (p == NULL) {
            h->reply_error(req, 400, "NO_AUDIO", "The form has no \"audio\" field");
            return LX_DONE;
        }
        audio = p->data;
        audio_len = p->len;
    }
    if (audio_len == 0) {
        h->reply_error(req, 400, "NO_AUDIO", "The recording is empty");
        return LX_DONE;
    }
    h->req_on_abort(req, stt_call_abort, c);
    c->t = speech_stt_transcribe(st, audio, audio_len, stt_call_done, c);
    if (c->t == NULL)
        return LX_FAIL;
    return LX_ASYNC;
}

lx_rc speech_h_languages(lx_req *req, void *state)
{
    speech_state *st = state;
    const lx_host *h = st->host;

    if (st->stt.rec == NULL) {
        h->reply_error(req, 503, "STT_UNAVAILABLE", st->stt.why_off);
        return LX_DONE;
    }
    json_object *o = json_object_new_object(), *langs = json_object_new_array(),
                *l = json_object_new_object();
    /* pocketsphinx-en-us knows US English only; the network services take
     * the configured language. */
    const char *code = st->stt.provider == SPEECH_STT_LOCAL ? "en-US" : st->stt.language;
    json_object_object_add(l, "language_code", json_object_new_string(code));
    json_object_object_add(
        l, "name",
        json_object_new_string(strcmp(code, "en-US") == 0 ? "English (United States)" : code));
    json_object_array_add(langs, l);
    json_object_object_add(o, "status", json_object_new_string("success"));
    json_object_object_add(o, "languages", langs);
    json_object_object_add(o, "provider", json_object_new_string(st->stt.rec->name));
    h->reply_json(req, 200, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return LX_DONE;
}
