/*
 * The answer of a synthesis (body.h): base64 with OpenSSL's EVP_EncodeBlock
 * (one line, no breaks), mark names escaped by json-c.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include <lexiaid/plugin.h>

#include "body.h"

#define BODY_HEAD "{\"audio_content\":\""
#define BODY_MID "\",\"timepoints\":"
#define BODY_TAIL "}"

speech_body *speech_body_alloc(size_t len)
{
    speech_body *b;

    if (len > (size_t)-1 - sizeof(*b) - 1)
        return NULL;
    b = malloc(sizeof(*b) + len + 1);
    if (b == NULL)
        return NULL;
    memset(b, 0, sizeof(*b));
    b->refs = 1;
    b->len = len;
    b->data[len] = '\0';
    return b;
}

/* The timepoints array as JSON text (malloc'd), or NULL. */
static char *body_timepoints(const char *text, const speech_text *t, const speech_tp *tp,
                             size_t n_tp, size_t *len)
{
    json_object *arr = json_object_new_array_ext((int)n_tp);
    const char *s;
    char *out = NULL, *shown = NULL;
    size_t cap = 0;

    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < n_tp; i++) {
        json_object *o = json_object_new_object(), *name, *secs;
        char num[32];
        double sec = tp[i].ms / 1000.0;

        if (o == NULL)
            goto fail;
        if (tp[i].word == SPEECH_TP_BREAK) {
            name = json_object_new_string("PARAGRAPH_BREAK");
        } else {
            const speech_word *w = &t->words[tp[i].word];

            if (w->len > cap) {
                char *q = realloc(shown, w->len);

                if (q == NULL) {
                    json_object_put(o);
                    goto fail;
                }
                shown = q;
                cap = w->len;
            }
            name = json_object_new_string_len(shown, (int)speech_word_display(text, w, shown));
        }
        snprintf(num, sizeof(num), "%.3f", sec);
        secs = json_object_new_double_s(sec, num);
        json_object_object_add(o, "mark_name", name);
        json_object_object_add(o, "time_seconds", secs);
        if (name == NULL || secs == NULL || json_object_array_add(arr, o) != 0) {
            json_object_put(o);
            goto fail;
        }
    }
    s = json_object_to_json_string_length(
        arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
    if (s != NULL && (out = malloc(*len + 1)) != NULL)
        memcpy(out, s, *len + 1);
fail:
    free(shown);
    json_object_put(arr);
    return out;
}

speech_body *speech_body_build(const char *text, const speech_text *t, const speech_tp *tp,
                               size_t n_tp, const unsigned char *mp3, size_t mp3_len)
{
    size_t tp_len = 0, b64_len, hlen = sizeof(BODY_HEAD) - 1, mlen = sizeof(BODY_MID) - 1;
    char *tps = body_timepoints(text, t, tp, n_tp, &tp_len);
    speech_body *b;

    if (tps == NULL || mp3_len > (size_t)0x7fffffff / 4 * 3)
        goto fail;
    b64_len = 4 * ((mp3_len + 2) / 3);
    b = speech_body_alloc(hlen + b64_len + mlen + tp_len + 1);
    if (b == NULL)
        goto fail;
    memcpy(b->data, BODY_HEAD, hlen);
    b->audio_off = hlen;
    /* EVP_EncodeBlock writes the NUL too, one past b64_len: mid follows. */
    b->audio_len = (size_t)EVP_EncodeBlock((unsigned char *)b->data + hlen, mp3, (int)mp3_len);
    memcpy(b->data + hlen + b->audio_len, BODY_MID, mlen);
    b->tp_off = hlen + b->audio_len + mlen;
    b->tp_len = tp_len;
    memcpy(b->data + b->tp_off, tps, tp_len);
    memcpy(b->data + b->tp_off + tp_len, BODY_TAIL, 2); /* with the NUL */
    b->len = b->tp_off + tp_len + 1;
    free(tps);
    return b;
fail:
    free(tps);
    return NULL;
}

int speech_body_locate(speech_body *b)
{
    size_t hlen = sizeof(BODY_HEAD) - 1, mlen = sizeof(BODY_MID) - 1, i;

    if (b->len < hlen + mlen + 3 || memcmp(b->data, BODY_HEAD, hlen) != 0 ||
        b->data[b->len - 1] != '}' || b->data[b->len - 2] != ']')
        return LX_EINVAL;
    for (i = hlen; i < b->len && b->data[i] != '"'; i++) {
        char c = b->data[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return LX_EINVAL;
    }
    if (b->len - i < mlen + 3 || memcmp(b->data + i, BODY_MID, mlen) != 0 ||
        b->data[i + mlen] != '[')
        return LX_EINVAL;
    b->audio_off = hlen;
    b->audio_len = i - hlen;
    b->tp_off = i + mlen;
    b->tp_len = b->len - 1 - b->tp_off;
    return LX_OK;
}

void speech_body_ref(speech_body *b)
{
    b->refs++;
}

void speech_body_unref(speech_body *b)
{
    if (b != NULL && --b->refs == 0)
        free(b);
}

void speech_body_unref_data(void *p)
{
    if (p != NULL)
        speech_body_unref((speech_body *)((char *)p - offsetof(speech_body, data)));
}
