/*
 * The fields of a POST /api/v2/agent/chat request (chat_input.c), from
 * either body the frontend and the original API use:
 *   application/json     {query, thread_id?, documentId? | document_id?, mode?,
 *                         transcript?}
 *   multipart/form-data  query, thread_id, document_id, mode, transcript,
 *                        stt_processing_mode, audio_file
 * and whether the client asked for a stream (Accept: text/event-stream).
 *
 * The query is `query`, else `transcript` (dictated text sent directly).
 * An audio_file part with neither is 422 AUDIO_NOT_SUPPORTED (there is no
 * speech recognition on this server): the message says to send text.
 */
#ifndef TUTORING_CHAT_INPUT_H
#define TUTORING_CHAT_INPUT_H

#include "tutoring.h"

typedef struct chat_input {
    char *query;     /* as sent; never NULL or blank on LX_OK; <= TUTOR_MAX_QUERY bytes */
    char *thread_id; /* as sent, or NULL (the caller checks its form) */
    char *doc;       /* documentId / document_id, or NULL when absent or "" */
    char *mode;      /* or NULL */
    int want_stream; /* the Accept header lists text/event-stream */
} chat_input;

/* Reads the request. LX_OK with *in filled (owned strings; free with
 * tutor_chat_input_free). Otherwise the error reply was already made and
 * the return is LX_EINVAL (or LX_ENOMEM after a 500):
 *   415 UNSUPPORTED_MEDIA_TYPE  neither JSON nor multipart/form-data
 *   400 INVALID_JSON            not one JSON object
 *   400 INVALID_FORM            a malformed multipart body (the parser's message)
 *   400 INVALID_REQUEST         a field that is not a string (JSON) or not UTF-8
 *   400 QUERY_REQUIRED          no query or transcript, or only white space
 *   400 QUERY_TOO_LONG          over TUTOR_MAX_QUERY bytes
 *   422 AUDIO_NOT_SUPPORTED     only an audio_file
 * *in is zeroed on failure. */
int tutor_chat_input(tutor_state *st, lx_req *req, chat_input *in);
void tutor_chat_input_free(chat_input *in);

#endif
