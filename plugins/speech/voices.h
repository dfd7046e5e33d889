/*
 * The voices of the configured engines: the table the helper reported at
 * init, lookups by name and by language, and the body of GET /api/tts/voices.
 *
 * Names are "provider:voice" for local engines ("flite:cmu_us_slt",
 * "espeak-ng:en-us"); a cloud provider's voices will keep their own names
 * ("en-US-Neural2-F").
 */
#ifndef SPEECH_VOICES_H
#define SPEECH_VOICES_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

typedef struct speech_voice {
    char *name;
    char **languages; /* BCP 47, at least one */
    size_t n_languages;
    char *gender; /* MALE, FEMALE, NEUTRAL */
    uint32_t sample_rate;
    char *provider; /* "flite", "espeak-ng" */
} speech_voice;

typedef struct speech_voices {
    speech_voice *v;
    size_t n;
    char *json;                         /* {"status":"success","voices":[...]} */
    char *names;                        /* "a, b, c" for error messages */
    struct speech_voices *next_retired; /* a worker's tables replaced (tts_cloud.c) */
} speech_voices;

/* Takes the helper's list (copied). LX_OK or LX_ENOMEM. A voice whose
 * provider is "openai" is listed with "estimated_timepoints": true (its
 * word times are estimated, tts_openai.c). */
int speech_voices_build(const speech_voice_list *l, speech_voices *out);
void speech_voices_free(speech_voices *vs);

/* The voice called `name` (exact), or NULL. */
const speech_voice *speech_voice_find(const speech_voices *vs, const char *name);

/* A voice for a name we may not have (a profile's "en-US-Wavenet-D"):
 * the voice itself; else, taking the language from the name's first two
 * dash-separated parts, `dflt` when it speaks that language's primary
 * subtag, else the first voice listing the full tag, else the first
 * listing its primary subtag; else dflt. */
const speech_voice *speech_voice_for(const speech_voices *vs, const char *name,
                                     const speech_voice *dflt);

#endif
