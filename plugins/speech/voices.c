/*
 * The voice table (voices.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include <lexiaid/plugin.h>

#include "voices.h"

/* Splits "a,b,c" into v->languages. 0 or -1 (out of memory). */
static int voices_langs(speech_voice *v, const char *csv)
{
    size_t n = 1;

    for (const char *c = csv; *c != '\0'; c++)
        n += *c == ',';
    v->languages = calloc(n, sizeof(char *));
    if (v->languages == NULL)
        return -1;
    while (*csv != '\0') {
        size_t len = strcspn(csv, ",");

        if (len > 0) {
            v->languages[v->n_languages] = strndup(csv, len);
            if (v->languages[v->n_languages] == NULL)
                return -1;
            v->n_languages++;
        }
        csv += len;
        if (*csv == ',')
            csv++;
    }
    return 0;
}

static char *voices_json(const speech_voices *vs)
{
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    char *out = NULL;

    if (root == NULL || arr == NULL) {
        json_object_put(root);
        json_object_put(arr);
        return NULL;
    }
    json_object_object_add(root, "status", json_object_new_string("success"));
    json_object_object_add(root, "voices", arr);
    for (size_t i = 0; i < vs->n; i++) {
        const speech_voice *v = &vs->v[i];
        json_object *o = json_object_new_object(), *langs = json_object_new_array();

        if (o == NULL || langs == NULL) {
            json_object_put(o);
            json_object_put(langs);
            json_object_put(root);
            return NULL;
        }
        for (size_t k = 0; k < v->n_languages; k++)
            json_object_array_add(langs, json_object_new_string(v->languages[k]));
        json_object_object_add(o, "name", json_object_new_string(v->name));
        json_object_object_add(o, "language_codes", langs);
        json_object_object_add(o, "gender", json_object_new_string(v->gender));
        json_object_object_add(o, "natural_sample_rate_hertz",
                               json_object_new_int64((int64_t)v->sample_rate));
        json_object_object_add(o, "provider", json_object_new_string(v->provider));
        if (strcmp(v->provider, "openai") == 0)
            json_object_object_add(o, "estimated_timepoints", json_object_new_boolean(1));
        json_object_array_add(arr, o);
    }
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s != NULL)
        out = strdup(s);
    json_object_put(root);
    return out;
}

int speech_voices_build(const speech_voice_list *l, speech_voices *out)
{
    size_t names_len = 1;

    memset(out, 0, sizeof(*out));
    out->v = calloc(l->n ? l->n : 1, sizeof(*out->v));
    if (out->v == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        const speech_voice_info *in = &l->v[i];
        speech_voice *v = &out->v[out->n];

        if (in->name[0] == '\0' || speech_voice_find(out, in->name) != NULL)
            continue;
        out->n++;
        v->name = strdup(in->name);
        v->gender = strdup(in->gender);
        v->provider = strdup(in->provider);
        v->sample_rate = in->sample_rate;
        if (v->name == NULL || v->gender == NULL || v->provider == NULL ||
            voices_langs(v, in->languages) != 0)
            goto nomem;
        names_len += strlen(v->name) + 2;
    }
    out->names = malloc(names_len);
    if (out->names == NULL)
        goto nomem;
    out->names[0] = '\0';
    for (size_t i = 0; i < out->n; i++) {
        if (i > 0)
            strcat(out->names, ", ");
        strcat(out->names, out->v[i].name);
    }
    if ((out->json = voices_json(out)) == NULL)
        goto nomem;
    return LX_OK;
nomem:
    speech_voices_free(out);
    return LX_ENOMEM;
}

void speech_voices_free(speech_voices *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        speech_voice *v = &vs->v[i];

        free(v->name);
        free(v->gender);
        free(v->provider);
        for (size_t k = 0; k < v->n_languages; k++)
            free(v->languages[k]);
        free(v->languages);
    }
    free(vs->v);
    free(vs->json);
    free(vs->names);
    memset(vs, 0, sizeof(*vs));
}

const speech_voice *speech_voice_find(const speech_voices *vs, const char *name)
{
    for (size_t i = 0; name != NULL && i < vs->n; i++)
        if (vs->v[i].name != NULL && strcmp(vs->v[i].name, name) == 0)
            return &vs->v[i];
    return NULL;
}

/* Does v speak `tag` (whole tag, or only its primary subtag when
 * primary_only)? Case-insensitive, as BCP 47 tags are. */
static int voices_speaks(const speech_voice *v, const char *tag, int primary_only)
{
    size_t plen = strcspn(tag, "-");

    for (size_t k = 0; k < v->n_languages; k++) {
        const char *l = v->languages[k];

        if (primary_only ? strcspn(l, "-") == plen && strncasecmp(l, tag, plen) == 0
                         : strcasecmp(l, tag) == 0)
            return 1;
    }
    return 0;
}

const speech_voice *speech_voice_for(const speech_voices *vs, const char *name,
                                     const speech_voice *dflt)
{
    const speech_voice *v = speech_voice_find(vs, name);
    char tag[32];
    size_t len;

    if (v != NULL || name == NULL)
        return v != NULL ? v : dflt;
    /* "en-US-Wavenet-D" -> "en-US"; "fr" -> "fr" */
    len = strcspn(name, "-");
    if (name[len] == '-')
        len += 1 + strcspn(name + len + 1, "-");
    if (len == 0 || len >= sizeof(tag))
        return dflt;
    memcpy(tag, name, len);
    tag[len] = '\0';
    if (dflt != NULL && voices_speaks(dflt, tag, 1))
        return dflt;
    for (size_t i = 0; i < vs->n; i++)
        if (voices_speaks(&vs->v[i], tag, 0))
            return &vs->v[i];
    for (size_t i = 0; i < vs->n; i++)
        if (voices_speaks(&vs->v[i], tag, 1))
            return &vs->v[i];
    return dflt;
}
