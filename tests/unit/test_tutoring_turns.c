#include "config.h"

/*
 * A thread's turns as the chat reply, the history page and the model see
 * them (plugins/tutoring/chat_turns.c). Both functions read the turns
 * stored in json-c's own form without a tokener (tutor_chat_turns_json
 * copies them) and parse the rest; both must give exactly what parsing
 * every turn with json-c gives (ref_turns below), for turns as the plugin
 * writes them and for anything else a thread may hold: other spacing and
 * key order, extra keys, non-string values, escapes json-c would not
 * write, \u0000, raw control bytes, bad UTF-8, broken JSON.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "chat_turns.h"

/* The reference: every turn parsed by json-c, "system" and "" for what
 * is missing or not a string. */
static json_object *ref_turns(const lx_storage_record *items, size_t n)
{
    json_object *arr = json_object_new_array();

    for (size_t i = 0; i < n; i++) {
        json_object *it = json_tokener_parse(items[i].json), *t = json_object_new_object(), *v;
        const char *type = NULL, *content = NULL;
        if (it != NULL && json_object_is_type(it, json_type_object)) {
            if (json_object_object_get_ex(it, "type", &v) &&
                json_object_is_type(v, json_type_string))
                type = json_object_get_string(v);
            if (json_object_object_get_ex(it, "content", &v) &&
                json_object_is_type(v, json_type_string))
                content = json_object_get_string(v);
        }
        json_object_object_add(t, "type", json_object_new_string(type ? type : "system"));
        json_object_object_add(t, "content", json_object_new_string(content ? content : ""));
        json_object_array_add(arr, t);
        json_object_put(it);
    }
    return arr;
}

/* The plain text of both functions over items[0, n), checked equal to the
 * reference's; returns the text (caller frees). */
static char *both(const char **json, size_t n)
{
    lx_storage_record *items = calloc(n ? n : 1, sizeof(*items));
    json_object *a, *b, *r;
    char *out;

    assert_non_null(items);
    for (size_t i = 0; i < n; i++)
        items[i].json = json[i];
    a = tutor_chat_turns(items, n);
    b = tutor_chat_turns_json(items, n);
    assert_non_null(a);
    assert_non_null(b);
    r = ref_turns(items, n);
    out = strdup(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
    assert_non_null(out);
    assert_string_equal(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN), out);
    assert_string_equal(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN), out);
    /* the model reads the strings themselves, not their print */
    assert_int_equal(json_object_array_length(a), n);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            const char *key = k ? "content" : "type";
            json_object *va, *vr;
            assert_true(json_object_object_get_ex(json_object_array_get_idx(a, i), key, &va));
            assert_true(json_object_object_get_ex(json_object_array_get_idx(r, i), key, &vr));
            assert_int_equal(json_object_get_string_len(va), json_object_get_string_len(vr));
            assert_memory_equal(json_object_get_string(va), json_object_get_string(vr),
                                (size_t)json_object_get_string_len(vr));
        }
    json_object_put(r);
    json_object_put(a);
    json_object_put(b);
    free(items);
    return out;
}

/* What the plugin stores for a turn (chat.c's chat_item_json). */
static char *stored(const char *type, const char *content)
{
    json_object *o = json_object_new_object();
    char *s;

    json_object_object_add(o, "type", json_object_new_string(type));
    json_object_object_add(o, "content", json_object_new_string(content));
    s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static void test_no_turns_is_empty_array(void **state)
{
    char *s = both(NULL, 0);

    (void)state;
    assert_string_equal(s, "[]");
    free(s);
}

static void test_stored_turns_come_back_as_written(void **state)
{
    char *h = stored("human", "What is \"photosynthesis\"? a/b\\c\n\ttab\r\b\f\x01\x1f\x7f é 漢"),
         *ai = stored("ai", "Plants make food </script> from light.");
    const char *json[] = {h, ai, h};
    char *s = both(json, 3), want[4096];

    (void)state;
    snprintf(want, sizeof(want), "[%s,%s,%s]", h, ai, h);
    assert_string_equal(s, want);
    free(s);
    free(h);
    free(ai);
}

static void test_long_turns(void **state)
{
    char content[3000];
    char *t, *s;

    (void)state;
    for (size_t i = 0; i < sizeof(content) - 1; i++)
        content[i] = "ab\n\"/\\\x01 cd"[i % 10];
    content[sizeof(content) - 1] = '\0';
    t = stored("ai", content);
    const char *json[] = {t};
    s = both(json, 1);
    assert_non_null(strstr(s, t));
    free(s);
    free(t);
}

static void test_other_forms_are_normalised(void **state)
{
    const char *json[] = {
        "{ \"type\": \"human\", \"content\": \"spaced\" }",
        "{\"content\":\"reordered\",\"type\":\"ai\"}",
        "{\"type\":\"ai\",\"content\":\"extra\",\"x\":1}",
        "{\"type\":1,\"content\":[\"not a string\"]}",
        "{\"content\":\"no type\"}",
        "{\"type\":\"ai\"}",
        "{\"type\":\"ai\",\"content\":\"cut\\u0000here\"}",
        "{\"type\":\"ai\",\"content\":\"raw / slash\"}",
        "{\"type\":\"ai\",\"content\":\"\\u00e9 \\u001F \\u000a \\u0008 \\/ \\ud83d\\ude00\"}",
        "{\"type\":\"ai\",\"content\":\"raw\tcontrol\x01\"}",
        "{\"type\":\"ai\",\"content\":\"bad \xff\xfe utf8\"}",
        "{\"type\":\"ai\",\"content\":\"trailing\"} junk",
        "{\"type\":\"ai\",\"content\":\"trailing\"}}",
        "{\"type\":\"ai\",\"content\":\"open",
        "{\"type\":\"ai\",\"content\":\"bad escape \\q\"}",
        "{\"type\":\"ai\",\"content\":\"short \\u00",
        "{\"type\":\"ai\",\"content\":\"ends in backslash\\",
        "[\"an array\"]",
        "\"a string\"",
        "not json",
        "",
        "{\"type\":\"ai\",\"type\":\"human\",\"content\":\"twice\"}",
        "{\"type\":\"ai\",\"content\":\"ok\"}",
    };
    char *s = both(json, sizeof(json) / sizeof(json[0]));

    (void)state;
    assert_non_null(strstr(s, "{\"type\":\"human\",\"content\":\"spaced\"}"));
    assert_non_null(strstr(s, "{\"type\":\"ai\",\"content\":\"reordered\"}"));
    assert_non_null(strstr(s, "{\"type\":\"system\",\"content\":\"\"}"));
    assert_non_null(strstr(s, "{\"type\":\"ai\",\"content\":\"cut\"}"));
    assert_non_null(strstr(s, "{\"type\":\"ai\",\"content\":\"raw \\/ slash\"}"));
    free(s);
}

/* Every byte in every position, stored as the plugin stores it, and the
 * same text with one byte changed: always the same output both ways. */
static void test_every_byte_and_every_mutation(void **state)
{
    (void)state;
    for (int c = 1; c < 256; c++) {
        char content[8] = {'a', (char)c, 'b', (char)c, '\0'};
        char *t = stored(c % 2 ? "human" : "ai", content);
        size_t len = strlen(t);
        const char *one[] = {t};
        free(both(one, 1));
        for (size_t i = 0; i < len; i++) {
            char save = t[i];
            for (int m = 1; m < 256; m += 7) {
                t[i] = (char)m;
                free(both(one, 1));
            }
            t[i] = save;
        }
        free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_turns_is_empty_array),
        cmocka_unit_test(test_stored_turns_come_back_as_written),
        cmocka_unit_test(test_long_turns),
        cmocka_unit_test(test_other_forms_are_normalised),
        cmocka_unit_test(test_every_byte_and_every_mutation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
