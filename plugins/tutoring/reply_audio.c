/*
 * Reply audio through speech.v1 (reply_audio.h).
 */
#include <stdlib.h>
#include <string.h>

#include "reply_audio.h"

typedef struct audio_call {
    tutor_audio *a;
    const lx_host *host;
    lx_req *req;
} audio_call;

/* The timepoints array (JSON text, not NUL-terminated), or NULL. */
static json_object *audio_parse(const char *s, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = NULL;

    if (tok == NULL)
        return NULL;
    o = json_tokener_parse_ex(tok, s, (int)len);
    if (o != NULL && !json_object_is_type(o, json_type_array)) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

static void audio_done(void *arg, int status, int http, const char *code, const char *message,
                       const lx_speech_audio *audio)
{
    audio_call *c = arg;
    tutor_audio *a = c->a;

    a->call = NULL;
    a->pending = NULL;
    if (status == LX_OK) {
        a->b64 = malloc(audio->audio_base64_len + 1);
        a->timepoints = audio_parse(audio->timepoints_json, audio->timepoints_json_len);
        if (a->b64 == NULL || a->timepoints == NULL) {
            free(a->b64);
            a->b64 = NULL;
            json_object_put(a->timepoints);
            a->timepoints = NULL;
        } else {
            memcpy(a->b64, audio->audio_base64, audio->audio_base64_len);
            a->b64[audio->audio_base64_len] = '\0';
            a->b64_len = audio->audio_base64_len;
        }
    } else {
        c->host->log(LX_LOG_WARN, TUTOR_SRC, c->req, "reply audio: %d %s: %s", http, code, message);
    }
    free(c);
    a->next(a->arg);
}

int tutor_audio_start(tutor_state *st, lx_worker *w, lx_req *req, const char *uid, const char *text,
                      tutor_audio *a, void (*next)(void *arg), void *arg)
{
    void *sp = NULL;
    const lx_speech_v1 *speech = st->host->svc_lookup(LX_SPEECH_V1, &sp);
    lx_speech_request rq = {.struct_size = sizeof(rq), .uid = uid, .text = text};
    audio_call *c;

    if (speech == NULL || speech->struct_size < sizeof(lx_speech_v1) || text == NULL ||
        text[0] == '\0' || !speech->reply_audio(sp))
        return 0;
    c = malloc(sizeof(*c));
    if (c == NULL)
        return 0;
    c->a = a;
    c->host = st->host;
    c->req = req;
    a->speech = speech;
    a->next = next;
    a->arg = arg;
    a->pending = c;
    rq.len = strlen(text);
    if (speech->synthesize(sp, w, &rq, audio_done, c, &a->call) != LX_OK) {
        free(c);
        a->call = NULL;
        a->pending = NULL;
        return 0;
    }
    return 1;
}

void tutor_audio_clear(tutor_audio *a)
{
    if (a->call != NULL) {
        a->speech->cancel(a->call); /* the synthesis may go on, for the cache */
        a->call = NULL;
    }
    free(a->pending);
    a->pending = NULL;
    free(a->b64);
    a->b64 = NULL;
    json_object_put(a->timepoints);
    a->timepoints = NULL;
}

int tutor_audio_put(const tutor_audio *a, json_object *o)
{
    int have =
        a->b64 != NULL && a->timepoints != NULL && json_object_array_length(a->timepoints) > 0;

    if (json_object_object_add(o, "audio_content_base64",
                               have ? json_object_new_string_len(a->b64, (int)a->b64_len) : NULL) !=
            0 ||
        json_object_object_add(o, "timepoints", have ? json_object_get(a->timepoints) : NULL) != 0)
        return -1;
    return 0;
}
