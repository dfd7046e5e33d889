/*
 * An OpenAI-compatible /v1/audio/speech behind provider.h (filled in by
 * the next commit).
 */
#include "provider.h"

speech_provider *speech_openai_new(speech_state *st)
{
    (void)st;
    return NULL;
}
