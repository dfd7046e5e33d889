/*
 * libFuzzer target for plugins/tutoring/chat_turns.c: a thread's stored
 * turns made into the reply's history without parsing the turns stored in
 * json-c's own form. Each input is up to 8 stored turns, NUL-separated (a
 * stored turn is a C string). For any input:
 *   tutor_chat_turns_json prints exactly what a plain json-c reading of
 *       every turn prints ({type, content}; "system" and "" for what is
 *       missing or not a string; a turn that is not JSON is that too),
 *       decided here by json-c alone, with a fresh tokener per turn;
 *   tutor_chat_turns (the model's context) prints the same.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "check_utf8.h"
#include "chat_turns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The string member key of o, or NULL. */
static const char *ref_str(json_object *o, const char *key)
{
    json_object *v;

    if (o == NULL || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The turns as json-c alone reads and prints them. */
static char *reference(const lx_storage_record *items, size_t n)
{
    json_object *arr = json_object_new_array();
    char *out;

    fuzz_check(arr != NULL);
    for (size_t i = 0; i < n; i++) {
        json_tokener *tok = json_tokener_new();
        json_object *it, *t = json_object_new_object();
        const char *type, *content;

        fuzz_check(tok != NULL && t != NULL);
        it = json_tokener_parse_ex(tok, items[i].json, -1);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(it);
            it = NULL;
        }
        type = ref_str(it, "type");
        content = ref_str(it, "content");
        json_object_object_add(t, "type", json_object_new_string(type ? type : "system"));
        json_object_object_add(t, "content", json_object_new_string(content ? content : ""));
        json_object_array_add(arr, t);
        json_object_put(it);
        json_tokener_free(tok);
    }
    out = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    fuzz_check(out != NULL);
    json_object_put(arr);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lx_storage_record items[8];
    char *copy = malloc(size + 1), *want;
    size_t n = 0, at = 0;
    json_object *fast, *parsed;

    fuzz_check(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    memset(items, 0, sizeof(items));
    while (n < 8) { /* the turns: NUL-separated, the last one up to the end */
        items[n++].json = copy + at;
        at += strlen(copy + at) + 1;
        if (at > size)
            break;
    }
    want = reference(items, n);
    fast = tutor_chat_turns_json(items, n);
    parsed = tutor_chat_turns(items, n);
    fuzz_check(fast != NULL && parsed != NULL);
    fuzz_check(strcmp(json_object_to_json_string_ext(fast, JSON_C_TO_STRING_PLAIN), want) == 0);
    fuzz_check(strcmp(json_object_to_json_string_ext(parsed, JSON_C_TO_STRING_PLAIN), want) == 0);
    json_object_put(fast);
    json_object_put(parsed);
    free(want);
    free(copy);
    return 0;
}
