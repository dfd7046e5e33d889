/*
 * Reply audio: the tutor's replies read aloud (audio_content_base64 and
 * timepoints of the chat and answer-formulation replies) through the
 * speech plugin's service speech.v1, when it is there and its operator
 * turned reply audio on. The LexiAid frontend then plays a reply without
 * a second call; without audio (no speech plugin, reply audio off, a
 * synthesis that failed) both fields are null and it calls
 * /api/tts/synthesize itself.
 *
 * Runs on the request's worker loop; never blocks (the engines run in the
 * speech plugin's helper processes).
 */
#ifndef TUTORING_REPLY_AUDIO_H
#define TUTORING_REPLY_AUDIO_H

#include <stddef.h>

#include <json-c/json.h>

#include <lexiaid/svc/speech_v1.h>

#include "tutoring.h"

typedef struct tutor_audio {
    char *b64; /* base64 MP3, or NULL */
    size_t b64_len;
    json_object *timepoints;    /* the array, or NULL */
    lx_speech_call *call;       /* in flight, or NULL */
    const lx_speech_v1 *speech; /* whose call it is */
    void *pending;              /* the call's own state while in flight */
    void (*next)(void *arg);
    void *arg;
} tutor_audio;

/* Starts reading text aloud for uid (their profile's voice and speed).
 * 1: started, and next(arg) runs later on the loop with *a filled (or
 * empty when the synthesis failed: logged, not an error of the reply);
 * 0: no reply audio here (next never runs: carry on). *a must be zeroed
 * before the first call. */
int tutor_audio_start(tutor_state *st, lx_worker *w, lx_req *req, const char *uid, const char *text,
                      tutor_audio *a, void (*next)(void *arg), void *arg);

/* Stops a synthesis in flight (next will not run) and frees what a holds. */
void tutor_audio_clear(tutor_audio *a);

/* audio_content_base64 and timepoints into o: the audio, or nulls. 0, or
 * -1 when out of memory. */
int tutor_audio_put(const tutor_audio *a, json_object *o);

#endif
