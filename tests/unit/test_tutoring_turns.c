#include "config.h"

/*
 * A thread's turns as the chat reply and the history page print them
 * (plugins/tutoring/chat_turns.c): tutor_chat_turns_json copies the turns
 * stored in json-c's own form and parses the rest, and must print exactly
 * what parsing every turn (tutor_chat_turns) prints, for turns as the
 * plugin writes them and for anything else a thread may hold: other
 * spacing and key order, extra keys, non-string values, escapes json-c
 * would not write, \u0000, raw control bytes, bad UTF-8, broken JSON.
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

/* The plain text of both functions over items[0, n), checked equal;
 * returns the text (caller frees). */
static char *both(const char **json, size_t n)
{
    lx_storage_record *items = calloc(n ? n : 1, sizeof(*items));
    json_object *a, *b;
    char *out;

    assert_non_null(items);
    for (size_t i = 0; i < n; i++)
        items[i].json = json[i];
    a = tutor_chat_turns(items, n);
    b = tutor_chat_turns_json(items, n);
    assert_non_null(a);
    assert_non_null(b);
    out = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    assert_non_null(out);
    assert_string_equal(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN), out);
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
        cmocka_unit_test(test_other_forms_are_normalised),
        cmocka_unit_test(test_every_byte_and_every_mutation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
