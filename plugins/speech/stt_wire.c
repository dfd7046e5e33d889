/*
 * Network recognizers' bodies and answers (stt_wire.h).
 */
#include "config.h"

#include "stt_wire.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lexiaid/plugin.h>

/* Appends to a growing buffer; -1 once out of memory. */
typedef struct wbuf {
    char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void add(wbuf *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void adds(wbuf *b, const char *s)
{
    add(b, s, strlen(s));
}

static void field(wbuf *b, const char *boundary, const char *name, const char *value)
{
    adds(b, "--");
    adds(b, boundary);
    adds(b, "\r\nContent-Disposition: form-data; name=\"");
    adds(b, name);
    adds(b, "\"\r\n\r\n");
    adds(b, value);
    adds(b, "\r\n");
}

int speech_openai_stt_body(const unsigned char *wav, size_t wav_len, const char *model,
                           const char *language, char **body, size_t *len, char *ctype,
                           size_t ctlen)
{
    char boundary[48];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Any boundary absent from the parts works: WAV bytes could hold any
     * string, so make it long and varied. */
    snprintf(boundary, sizeof(boundary), "lexiaid-%08lx%08lx%08x", (unsigned long)ts.tv_sec,
             (unsigned long)ts.tv_nsec, (unsigned)(uintptr_t)wav);
    wbuf b = {0};
    field(&b, boundary, "model", model);
    field(&b, boundary, "response_format", "json");
    if (language != NULL && language[0] != '\0')
        field(&b, boundary, "language", language);
    adds(&b, "--");
    adds(&b, boundary);
    adds(&b, "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"speech.wav\"\r\n"
             "Content-Type: audio/wav\r\n\r\n");
    add(&b, wav, wav_len);
    adds(&b, "\r\n--");
    adds(&b, boundary);
    adds(&b, "--\r\n");
    if (b.oom) {
        free(b.p);
        return -1;
    }
    snprintf(ctype, ctlen, "Content-Type: multipart/form-data; boundary=%s", boundary);
    *body = b.p;
    *len = b.len;
    return 0;
}

/* The server's {"error": {"message": ...}} or {"error": "..."}, if any. */
static const char *error_message(json_object *root)
{
    json_object *e, *m;
    if (!json_object_object_get_ex(root, "error", &e))
        return NULL;
    if (json_object_is_type(e, json_type_string))
        return json_object_get_string(e);
    if (json_object_object_get_ex(e, "message", &m) && json_object_is_type(m, json_type_string))
        return json_object_get_string(m);
    return "an error without a message";
}

static json_object *parse_json(const char *json, size_t len, char *err, size_t errlen)
{
    json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    json_object *root = json_tokener_parse_ex(tok, json, (int)(len > INT32_MAX ? INT32_MAX : len));
    if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        root = NULL;
        snprintf(err, errlen, "the recognizer's answer is not a JSON object");
    }
    json_tokener_free(tok);
    return root;
}

static char *trimmed(const char *s)
{
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    char *t = malloc(n + 1);
    if (t != NULL) {
        memcpy(t, s, n);
        t[n] = '\0';
    }
    return t;
}

int speech_openai_stt_parse(const char *json, size_t len, char **text, char *err, size_t errlen)
{
    *text = NULL;
    json_object *root = parse_json(json, len, err, errlen), *t;
    if (root == NULL)
        return -1;
    const char *emsg = error_message(root);
    int rc = -1;
    if (emsg != NULL) {
        snprintf(err, errlen, "the recognizer said: %.200s", emsg);
    } else if (!json_object_object_get_ex(root, "text", &t) ||
               !json_object_is_type(t, json_type_string)) {
        snprintf(err, errlen, "the recognizer's answer has no \"text\"");
    } else if ((*text = trimmed(json_object_get_string(t))) == NULL) {
        snprintf(err, errlen, "out of memory");
    } else {
        rc = 0;
    }
    json_object_put(root);
    return rc;
}

char *speech_google_stt_body(const int16_t *pcm, size_t n, const char *language_code,
                             const char *model, size_t *len)
{
    if (n > (size_t)INT32_MAX / 4)
        return NULL;
    size_t raw = n * 2, b64 = 4 * ((raw + 2) / 3);
    unsigned char *le = malloc(raw ? raw : 1);
    if (le == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        le[2 * i] = (unsigned char)((uint16_t)pcm[i] & 0xFF);
        le[2 * i + 1] = (unsigned char)((uint16_t)pcm[i] >> 8);
    }
    /* language_code and model come from the configuration, checked there
     * to be plain ([A-Za-z0-9_-]): no escaping needed. */
    char head[512];
    int hl = snprintf(head, sizeof(head),
                      "{\"config\":{\"encoding\":\"LINEAR16\",\"sampleRateHertz\":16000,"
                      "\"languageCode\":\"%s\",\"model\":\"%s\","
                      "\"enableAutomaticPunctuation\":true},\"audio\":{\"content\":\"",
                      language_code, model);
    char *body = hl > 0 && (size_t)hl < sizeof(head) ? malloc((size_t)hl + b64 + 4) : NULL;
    if (body != NULL) {
        memcpy(body, head, (size_t)hl);
        int w = EVP_EncodeBlock((unsigned char *)body + hl, le, (int)raw);
        memcpy(body + hl + w, "\"}}", 4);
        *len = (size_t)hl + (size_t)w + 3;
    }
    free(le);
    return body;
}

int speech_google_stt_parse(const char *json, size_t len, char **text, double *confidence,
                            char *err, size_t errlen)
{
    *text = NULL;
    *confidence = -1;
    json_object *root = parse_json(json, len, err, errlen), *results;
    if (root == NULL)
        return -1;
    const char *emsg = error_message(root);
    if (emsg != NULL) {
        snprintf(err, errlen, "the recognizer said: %.200s", emsg);
        json_object_put(root);
        return -1;
    }
    wbuf b = {0};
    adds(&b, "");
    if (json_object_object_get_ex(root, "results", &results) &&
        json_object_is_type(results, json_type_array)) {
        size_t n = json_object_array_length(results);
        for (size_t i = 0; i < n; i++) {
            json_object *r = json_object_array_get_idx(results, i), *alts, *a, *t, *c;
            if (!json_object_object_get_ex(r, "alternatives", &alts) ||
                !json_object_is_type(alts, json_type_array) || json_object_array_length(alts) == 0)
                continue;
            a = json_object_array_get_idx(alts, 0);
            if (!json_object_object_get_ex(a, "transcript", &t) ||
                !json_object_is_type(t, json_type_string))
                continue;
            if (b.len > 0)
                adds(&b, " ");
            adds(&b, json_object_get_string(t));
            if (*confidence < 0 && json_object_object_get_ex(a, "confidence", &c))
                *confidence = json_object_get_double(c);
        }
    }
    json_object_put(root);
    if (b.oom || (*text = trimmed(b.p)) == NULL) {
        free(b.p);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(b.p);
    return 0;
}
