/*
 * The read-aloud settings of a user's profile (prefs.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "prefs.h"

/* A number from the profile: a JSON number, or a string holding one. */
static int prefs_num(json_object *prefs, const char *key, double *out)
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

void speech_prefs_of(const char *profile_json, int cloud, speech_prefs *out)
{
    json_object *root = profile_json != NULL ? json_tokener_parse(profile_json) : NULL;
    json_object *prefs = NULL, *v;
    double d;

    memset(out, 0, sizeof(*out));
    out->rate = 1.0;
    if (root != NULL && !json_object_object_get_ex(root, "preferences", &prefs)) {
        json_object *data;

        if (json_object_object_get_ex(root, "data", &data))
            json_object_object_get_ex(data, "preferences", &prefs);
    }
    if (prefs != NULL && json_object_is_type(prefs, json_type_object)) {
        if (json_object_object_get_ex(prefs, cloud ? "cloudTtsVoice" : "ttsVoice", &v) &&
            json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0 &&
            (size_t)json_object_get_string_len(v) < sizeof(out->voice))
            memcpy(out->voice, json_object_get_string(v),
                   (size_t)json_object_get_string_len(v) + 1);
        if (prefs_num(prefs, "ttsSpeed", &d)) {
            out->has_rate = 1;
            out->rate = fmin(fmax(d, SPEECH_RATE_MIN), SPEECH_RATE_MAX);
        }
        if (prefs_num(prefs, "ttsPitch", &d)) {
            out->has_pitch = 1;
            out->pitch = fmin(fmax(d, -SPEECH_PITCH_MAX), SPEECH_PITCH_MAX);
        }
    }
    json_object_put(root);
}
