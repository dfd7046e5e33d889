/*
 * A thread's turns as the chat reply, the history page and the model see
 * them (chat_turns.c). Pure: no host calls, no I/O.
 */
#ifndef TUTORING_CHAT_TURNS_H
#define TUTORING_CHAT_TURNS_H

#include <stddef.h>

#include <json-c/json.h>

#include <lexiaid/svc/storage_v1.h>

/* record items {type, content} → a new JSON array [{type, content}], each
 * turn parsed ("system" and "" for a type or content that is missing or
 * not a string, or a turn that is not JSON); items borrowed. NULL when out
 * of memory. For reading the turns (the model's context). */
json_object *tutor_chat_turns(const lx_storage_record *items, size_t n);

/* The same turns for printing only: a new json-c object whose plain text
 * (JSON_C_TO_STRING_PLAIN, the only flags it honours) is byte for byte
 * that of tutor_chat_turns' array, built without parsing the turns stored
 * in json-c's own form. It reads as an empty array: add it to a reply,
 * never look inside. Items borrowed; NULL when out of memory. */
json_object *tutor_chat_turns_json(const lx_storage_record *items, size_t n);

#endif
