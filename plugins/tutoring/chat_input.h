/*
 * The fields of a POST /api/v2/agent/chat request (chat_input.c), from
 * either body the frontend and the original API use:
 *   application/json     {query, thread_id?, documentId? | document_id?, mode?,
 *                         transcript?}
 *   multipart/form-data  query, thread_id, document_id, mode, transcript,
 *                        stt_processing_mode, audio_file
 * and whether the client asked for a stream (Accept: text/event-stream).
 *
 * The query is `query`, else `transcript` (dictated text sent directly),
 * else the recording in `audio_file`, which the caller transcribes
 * (speech.v1): stt_processing_mode "review" answers the transcript for the
 * student to check, "direct_send" (the default) chats with it.
 */
#ifndef TUTORING_CHAT_INPUT_H
#define TUTORING_CHAT_INPUT_H

#include "tutoring.h"

typedef struct chat_input {
    char *query;       /* as sent; never blank on LX_OK; <= TUTOR_MAX_QUERY bytes; NULL
                          only when `audio` is set */
    const char *audio; /* a voice message (audio_file) and no text: borrowed from the
                          request's body (valid until the request ends), or NULL */
    size_t audio_len;
    int review;      /* stt_processing_mode = review: answer the transcript only */
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
 *   400 QUERY_REQUIRED          no query, transcript or audio_file, or only white space
 *   400 QUERY_TOO_LONG          over TUTOR_MAX_QUERY bytes
 *   400 INVALID_REQUEST         stt_processing_mode other than review or direct_send
 * *in is zeroed on failure. */
int tutor_chat_input(tutor_state *st, lx_req *req, chat_input *in);
void tutor_chat_input_free(chat_input *in);

#endif
