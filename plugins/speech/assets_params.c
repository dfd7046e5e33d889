/*
 * The parameters a document's read-aloud assets are made with (assets.h):
 * the voice, speed and pitch the owner's profile asks for, resolved as
 * synth.c resolves them for a request that names none (cloudTtsVoice
 * while a cloud provider speaks, else ttsVoice; a voice this server lacks
 * falls back by language, then to the default; ttsSpeed and ttsPitch
 * clamped), written as one small JSON object that is stored beside the
 * assets (LX_STORAGE_ASSET_TTS_PARAMS). The maker speaks every chunk with
 * exactly these; the route compares the stored object with the one the
 * profile gives now, byte for byte, and has the assets made again when
 * they differ.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "assets.h"
#include "speech.h"
#include "tts_cloud.h"

/* synth.c's limits */
#define PARAMS_RATE_MIN 0.25
#define PARAMS_RATE_MAX 4.0
#define PARAMS_PITCH_MAX 20.0

/* A number from the profile: a JSON number, or a string holding one. */
static int params_num(json_object *prefs, const char *key, double *out)
{
    json_object *v;
    char *end;

    if (!json_object_object_get_ex(prefs, key, &v) || v == NULL)
        return 0;
    if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) {
        *out = json_object_get_double(v);
        return isfinite(*out);
    }
    if (json_object_is_type(v, json_type_string)) {
        *out = strtod(json_object_get_string(v), &end);
        return end != json_object_get_string(v) && *end == '\0' && isfinite(*out);
    }
    return 0;
}

int speech_asset_params_of(speech_state *st, const char *profile_json, speech_asset_params *p)
{
    json_object *root = profile_json != NULL ? json_tokener_parse(profile_json) : NULL;
    json_object *prefs = NULL, *v, *o;
    const char *want = NULL;
    const speech_voice *voice;
    double d;
    int rc = LX_OK;

    memset(p, 0, sizeof(*p));
    p->rate = 1.0;
    if (root != NULL && !json_object_object_get_ex(root, "preferences", &prefs)) {
        json_object *data;

        if (json_object_object_get_ex(root, "data", &data))
            json_object_object_get_ex(data, "preferences", &prefs);
    }
    if (prefs != NULL && json_object_is_type(prefs, json_type_object)) {
        if (json_object_object_get_ex(prefs, st->cloud != NULL ? "cloudTtsVoice" : "ttsVoice",
                                      &v) &&
            json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
            want = json_object_get_string(v);
        if (params_num(prefs, "ttsSpeed", &d))
            p->rate = fmin(fmax(d, PARAMS_RATE_MIN), PARAMS_RATE_MAX);
        if (params_num(prefs, "ttsPitch", &d))
            p->pitch = fmin(fmax(d, -PARAMS_PITCH_MAX), PARAMS_PITCH_MAX);
    }
    voice = speech_voice_for(speech_voices_now(st), want, speech_voice_default(st));
    if (voice == NULL)
        voice = speech_voice_default(st);
    snprintf(p->voice, sizeof(p->voice), "%s", voice != NULL ? voice->name : "");
    json_object_put(root);

    /* rate and pitch as synth.c rounds them for its cache key */
    o = json_object_new_object();
    if (o == NULL || json_object_object_add(o, "voice", json_object_new_string(p->voice)) != 0 ||
        json_object_object_add(o, "rate_milli",
                               json_object_new_int((int32_t)lround(p->rate * 1000.0))) != 0 ||
        json_object_object_add(o, "pitch_centi",
                               json_object_new_int((int32_t)lround(p->pitch * 100.0))) != 0)
        rc = LX_ENOMEM;
    else if ((size_t)snprintf(p->json, sizeof(p->json), "%s",
                              json_object_to_json_string_ext(
                                  o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) >=
             sizeof(p->json))
        rc = LX_ETOOBIG;
    json_object_put(o);
    return rc;
}
