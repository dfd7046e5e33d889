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
#include "prefs.h"
#include "speech.h"
#include "tts_cloud.h"

int speech_asset_params_of(speech_state *st, const char *profile_json, speech_asset_params *p)
{
    speech_prefs pr;
    const speech_voice *voice;
    json_object *o;
    int rc = LX_OK;

    memset(p, 0, sizeof(*p));
    speech_prefs_of(profile_json, st->cloud != NULL, &pr);
    p->rate = pr.rate;
    p->pitch = pr.pitch;
    voice = speech_voice_for(speech_voices_now(st), pr.voice[0] ? pr.voice : NULL,
                             speech_voice_default(st));
    if (voice == NULL)
        voice = speech_voice_default(st);
    snprintf(p->voice, sizeof(p->voice), "%s", voice != NULL ? voice->name : "");

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
