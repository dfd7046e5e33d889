/*
 * The answer of a synthesis, as POST /api/tts/synthesize sends it:
 *
 *   {"audio_content":"<base64 MP3, no line breaks>","timepoints":[
 *     {"mark_name":"Hello,","time_seconds":0.0}, ...,
 *     {"mark_name":"PARAGRAPH_BREAK","time_seconds":1.234}, ...]}
 *
 * built once and shared, without copies, by every request that waited for
 * it, the cache file (cache.c) and speech.v1 (which hands out the two parts
 * in place). Reference counts change on the worker loop only.
 */
#ifndef SPEECH_BODY_H
#define SPEECH_BODY_H

#include <stddef.h>

#include "align.h"
#include "words.h"

typedef struct speech_body {
    int refs;
    size_t len;                  /* of data, without its NUL */
    size_t audio_off, audio_len; /* the base64 inside data */
    size_t tp_off, tp_len;       /* the timepoints array inside data */
    char data[];                 /* NUL-terminated */
} speech_body;

/* The answer for text (split as t) from its timepoints and MP3. NULL when
 * out of memory. refs is 1. */
speech_body *speech_body_build(const char *text, const speech_text *t, const speech_tp *tp,
                               size_t n_tp, const unsigned char *mp3, size_t mp3_len);

/* An empty body of `len` bytes for data to be read into (refs 1). */
speech_body *speech_body_alloc(size_t len);
/* Finds the parts of data read back (from the cache): LX_OK, or LX_EINVAL
 * when it is not an answer this code wrote. */
int speech_body_locate(speech_body *b);

void speech_body_ref(speech_body *b);
void speech_body_unref(speech_body *b);
/* An lx_free_fn for replies: unrefs the body whose data p is. */
void speech_body_unref_data(void *p);

#endif
