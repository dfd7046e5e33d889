/*
 * The read-aloud settings of a user's profile (prefs.c): what synth.c
 * applies when a request does not say, and what a document's assets are
 * made with (assets_params.c). Pure: json-c only, any thread.
 */
#ifndef SPEECH_PREFS_H
#define SPEECH_PREFS_H

#define SPEECH_RATE_MIN 0.25
#define SPEECH_RATE_MAX 4.0
#define SPEECH_PITCH_MAX 20.0 /* semitones either way */

typedef struct speech_prefs {
    char voice[128]; /* "" when the profile names none (or too long a name) */
    int has_rate, has_pitch;
    double rate, pitch; /* clamped to the ranges above */
} speech_prefs;

/* The profile JSON (storage.v1 profile_get's: "preferences" at the top or
 * under "data"; NULL or unparsable reads as empty): the voice (cloudTtsVoice
 * when cloud, else ttsVoice), ttsSpeed and ttsPitch (JSON numbers or
 * strings holding one). Fills *out; never fails. */
void speech_prefs_of(const char *profile_json, int cloud, speech_prefs *out);

#endif
