/*
 * speech.v1 (svc.c): the table other plugins look up.
 */
#ifndef SPEECH_SVC_H
#define SPEECH_SVC_H

#include <lexiaid/svc/speech_v1.h>

#include "speech.h"

/* Registers speech.v1 with st as its state (init, in the master). */
int speech_svc_register(speech_state *st, char *err, size_t errlen);

#endif
