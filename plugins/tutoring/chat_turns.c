/*
 * A thread's turns, as storage.v1 hands them back, made into what the
 * chat reply and the history page show and what the model is given
 * (chat_turns.h).
 *
 * Every turn is stored as this plugin writes it: json-c's plain text of
 * {"type": ..., "content": ...}. Parsing each of them again only to print
 * the same bytes was the largest cost of a chat turn's reply (50 turns:
 * a tokener, a locale, a hash table and a handful of strings apiece), so
 * tutor_chat_turns_json copies a turn whose text is exactly what json-c
 * would print for it, and parses only the others. The two functions give
 * the same bytes for any input (tests/unit/test_tutoring_turns.c).
 *
 * Pure: no host calls, no I/O, no globals.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "buf.h"
#include "chat_turns.h"

/* The value of the string member key of o, NULL when absent or not a
 * string. */
static const char *turn_str(json_object *o, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* One turn parsed with tok: a new {type, content} ("system" and "" for
 * what is missing or unreadable); NULL when out of memory. */
static json_object *turn_parse(json_tokener *tok, const char *json)
{
    json_object *it = NULL, *t = json_object_new_object();
    const char *type = NULL, *content = NULL;

    if (t == NULL)
        return NULL;
    if (json != NULL) {
        json_tokener_reset(tok);
        it = json_tokener_parse_ex(tok, json, -1);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(it);
            it = NULL;
        }
    }
    if (it != NULL && json_object_is_type(it, json_type_object)) {
        type = turn_str(it, "type");
        content = turn_str(it, "content");
    }
    json_object_object_add(t, "type", json_object_new_string(type ? type : "system"));
    json_object_object_add(t, "content", json_object_new_string(content ? content : ""));
    json_object_put(it);
    return t;
}

/* ---- json-c's own form ---------------------------------------------------- */

static int lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* s[i] is just after a string's opening quote: the index just after its
 * closing quote when the string is escaped exactly as json-c prints it
 * (raw bytes but '"', '\\', '/' and controls; \" \\ \/ \b \f \n \r \t;
 * other controls as \u00xx in lower case, never \u0000, which would cut
 * the value short), else 0. Never reads past s's NUL. */
static size_t canon_string(const char *s, size_t i)
{
    for (;;) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"')
            return i + 1;
        if (c == '\\') {
            char e = s[i + 1];
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                e == 't') {
                i += 2;
                continue;
            }
            if (e == 'u' && s[i + 2] == '0' && s[i + 3] == '0' &&
                (s[i + 4] == '0' || s[i + 4] == '1') && lower_hex(s[i + 5])) {
                int hi = s[i + 4] - '0', lo = s[i + 5];
                int v = hi * 16 + (lo <= '9' ? lo - '0' : lo - 'a' + 10);
                if (v == 0 || v == '\b' || v == '\t' || v == '\n' || v == '\f' || v == '\r')
                    return 0;
                i += 6;
                continue;
            }
            return 0;
        }
        if (c < 0x20 || c == '/')
            return 0; /* NUL (the end) included */
        i++;
    }
}

/* The length of json when it is exactly what json-c prints (plain) for
 * {"type": string, "content": string}, else 0; then type and content
 * (escaped, without their quotes) are json[span[0], span[1]) and
 * json[span[2], span[3]). */
static size_t canon_turn(const char *json, size_t span[4])
{
    static const char head[] = "{\"type\":\"", mid[] = ",\"content\":\"";
    size_t i;

    if (json == NULL || strncmp(json, head, sizeof(head) - 1) != 0)
        return 0;
    span[0] = sizeof(head) - 1;
    if ((i = canon_string(json, span[0])) == 0)
        return 0;
    span[1] = i - 1;
    if (strncmp(json + i, mid, sizeof(mid) - 1) != 0)
        return 0;
    span[2] = i + sizeof(mid) - 1;
    if ((i = canon_string(json, span[2])) == 0)
        return 0;
    span[3] = i - 1;
    return json[i] == '}' && json[i + 1] == '\0' ? i + 1 : 0;
}

static int hex_value(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* A new json-c string of the canonical escaped s[0, n) (canon_string said
 * so), unescaped; NULL when out of memory. */
static json_object *canon_unescape(const char *s, size_t n)
{
    char small[256] = "", *buf = n < sizeof(small) ? small : malloc(n + 1);
    size_t o = 0;
    json_object *v;

    if (buf == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\') {
            buf[o++] = c;
            continue;
        }
        switch (s[++i]) {
        case 'b':
            buf[o++] = '\b';
            break;
        case 'f':
            buf[o++] = '\f';
            break;
        case 'n':
            buf[o++] = '\n';
            break;
        case 'r':
            buf[o++] = '\r';
            break;
        case 't':
            buf[o++] = '\t';
            break;
        case 'u':
            buf[o++] = (char)(hex_value(s[i + 3]) * 16 + hex_value(s[i + 4]));
            i += 4;
            break;
        default:
            buf[o++] = s[i]; /* " \\ / */
        }
    }
    v = json_object_new_string_len(buf, (int)o);
    if (buf != small)
        free(buf);
    return v;
}

/* A turn in json-c's own form made into a new {type, content} without a
 * tokener: 1 and *out set (NULL when out of memory); 0 when json is not
 * in that form. */
static int canon_parse(const char *json, json_object **out)
{
    size_t span[4];
    json_object *t, *type, *content;

    *out = NULL;
    if (canon_turn(json, span) == 0)
        return 0;
    t = json_object_new_object();
    type = canon_unescape(json + span[0], span[1] - span[0]);
    content = canon_unescape(json + span[2], span[3] - span[2]);
    if (t == NULL || type == NULL || content == NULL) {
        json_object_put(t);
        json_object_put(type);
        json_object_put(content);
        return 1;
    }
    json_object_object_add(t, "type", type);
    json_object_object_add(t, "content", content);
    *out = t;
    return 1;
}

/* record items → [{type, content}] (chat_turns.h). */
json_object *tutor_chat_turns(const lx_storage_record *items, size_t n)
{
    json_object *arr = json_object_new_array();
    json_tokener *tok = NULL;

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_object *t;
        if (!canon_parse(items[i].json, &t) && (tok != NULL || (tok = json_tokener_new()) != NULL))
            t = turn_parse(tok, items[i].json);
        if (t == NULL || json_object_array_add(arr, t) != 0) {
            json_object_put(t);
            json_object_put(arr);
            arr = NULL;
            break;
        }
    }
    if (tok != NULL)
        json_tokener_free(tok);
    return arr;
}

/* The serializer of tutor_chat_turns_json's object: its text as it is. */
static int turns_print(json_object *jso, struct printbuf *pb, int level, int flags)
{
    const char *s = json_object_get_userdata(jso);

    (void)level;
    (void)flags;
    return printbuf_memappend(pb, s, (int)strlen(s));
}

static void turns_free(json_object *jso, void *userdata)
{
    (void)jso;
    free(userdata);
}

/* record items → an object printing as [{type, content}] (chat_turns.h). */
json_object *tutor_chat_turns_json(const lx_storage_record *items, size_t n)
{
    tutor_buf b = {0};
    json_tokener *tok = NULL;
    json_object *o;
    char *text;

    tutor_buf_add(&b, "[", 1);
    for (size_t i = 0; i < n && !b.oom; i++) {
        const char *json = items[i].json;
        size_t span[4], len = canon_turn(json, span);

        if (i > 0)
            tutor_buf_add(&b, ",", 1);
        if (len > 0) {
            tutor_buf_add(&b, json, len);
            continue;
        }
        json_object *t = NULL;
        const char *s = NULL;
        if ((tok != NULL || (tok = json_tokener_new()) != NULL) &&
            (t = turn_parse(tok, json)) != NULL &&
            (s = json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN)) != NULL)
            tutor_buf_str(&b, s);
        else
            b.oom = 1;
        json_object_put(t);
    }
    tutor_buf_add(&b, "]", 1);
    if (tok != NULL)
        json_tokener_free(tok);
    if ((text = tutor_buf_take(&b)) == NULL)
        return NULL;
    if ((o = json_object_new_array()) == NULL) {
        free(text);
        return NULL;
    }
    json_object_set_serializer(o, turns_print, text, turns_free);
    return o;
}
