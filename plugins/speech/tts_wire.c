/*
 * Cloud text-to-speech bodies and answers (tts_wire.h).
 */
#define _GNU_SOURCE 1 /* memmem */

#include "config.h"

#include "tts_wire.h"

#include <json-c/json.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

/* ------------------------------------------------------------------------ */
/* Google: chunks and SSML                                                  */

static const char ssml_head[] = "<speak>";
static const char ssml_tail[] = "</speak>";

/* Bytes of `<mark name="OFF"/>` for an offset. */
static size_t mark_len(uint32_t off)
{
    char num[16];

    return sizeof("<mark name=\"\"/>") - 1 + (size_t)snprintf(num, sizeof(num), "%u", off);
}

static size_t escaped_len(const char *s, size_t n)
{
    size_t out = 0;

    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            out += 5;
            break;
        case '<':
        case '>':
            out += 4;
            break;
        case '"':
        case '\'':
            out += 6;
            break;
        default:
            out += 1;
        }
    }
    return out;
}

/* The SSML bytes word w adds: its mark, its text escaped, a space. */
static size_t word_ssml_len(const char *text, const speech_text *t, const speech_seg *sg,
                            uint32_t w)
{
    const speech_word *wd = &t->words[w];

    return mark_len(wd->start - sg->start) + escaped_len(text + wd->start, wd->len) + 1;
}

int speech_google_chunks(const char *text, const speech_text *t, size_t max_input,
                         speech_chunk **out, size_t *n_out, size_t *bad_word)
{
    size_t cap = t->n_segs + 4, n = 0;
    speech_chunk *c = malloc(cap * sizeof(*c));
    size_t frame = sizeof(ssml_head) - 1 + sizeof(ssml_tail) - 1;

    *out = NULL;
    *n_out = 0;
    if (max_input == 0)
        max_input = SPEECH_GOOGLE_MAX_INPUT;
    if (c == NULL)
        return LX_ENOMEM;
    for (uint32_t s = 0; s < t->n_segs; s++) {
        const speech_seg *sg = &t->segs[s];
        size_t used = frame;

        for (uint32_t k = 0; k < sg->n; k++) {
            uint32_t w = sg->first + k;
            size_t add = word_ssml_len(text, t, sg, w);

            if (frame + add > max_input) {
                free(c);
                *bad_word = w;
                return LX_ETOOBIG;
            }
            if (k == 0 || used + add > max_input) {
                if (n == cap) {
                    speech_chunk *q = realloc(c, (cap *= 2) * sizeof(*c));

                    if (q == NULL) {
                        free(c);
                        return LX_ENOMEM;
                    }
                    c = q;
                }
                c[n].seg = s;
                c[n].first = w;
                c[n].n = 0;
                n++;
                used = frame;
            }
            c[n - 1].n++;
            used += add;
        }
    }
    *out = c;
    *n_out = n;
    return LX_OK;
}

/* The word's bytes as the segment text has them: cuts are spaces. */
static void word_bytes(const char *text, const speech_word *wd, char *buf)
{
    memcpy(buf, text + wd->start, wd->len);
    if (wd->cut1_len > 0)
        memset(buf + wd->cut1, ' ', wd->cut1_len);
    if (wd->cut2_len > 0)
        memset(buf + wd->cut2, ' ', wd->cut2_len);
}

char *speech_google_ssml(const char *text, const speech_text *t, const speech_chunk *c, size_t *len)
{
    const speech_seg *sg = &t->segs[c->seg];
    size_t total = sizeof(ssml_head) - 1 + sizeof(ssml_tail) - 1, at = 0, maxw = 1;
    char *out, *wb;

    for (uint32_t k = 0; k < c->n; k++) {
        total += word_ssml_len(text, t, sg, c->first + k);
        if (t->words[c->first + k].len > maxw)
            maxw = t->words[c->first + k].len;
    }
    out = malloc(total + 1);
    wb = malloc(maxw);
    if (out == NULL || wb == NULL) {
        free(out);
        free(wb);
        return NULL;
    }
    memcpy(out, ssml_head, sizeof(ssml_head) - 1);
    at = sizeof(ssml_head) - 1;
    for (uint32_t k = 0; k < c->n; k++) {
        const speech_word *wd = &t->words[c->first + k];

        at += (size_t)sprintf(out + at, "<mark name=\"%u\"/>", wd->start - sg->start);
        word_bytes(text, wd, wb);
        for (uint32_t i = 0; i < wd->len; i++) {
            const char *e = NULL;

            switch (wb[i]) {
            case '&':
                e = "&amp;";
                break;
            case '<':
                e = "&lt;";
                break;
            case '>':
                e = "&gt;";
                break;
            case '"':
                e = "&quot;";
                break;
            case '\'':
                e = "&apos;";
                break;
            default:
                out[at++] = wb[i];
                continue;
            }
            memcpy(out + at, e, strlen(e));
            at += strlen(e);
        }
        out[at++] = ' ';
    }
    memcpy(out + at, ssml_tail, sizeof(ssml_tail) - 1);
    at += sizeof(ssml_tail) - 1;
    out[at] = '\0';
    free(wb);
    *len = at;
    return out;
}

static char *json_dup(json_object *root, size_t *len)
{
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    char *out = s != NULL ? strdup(s) : NULL;

    if (out != NULL)
        *len = strlen(out);
    json_object_put(root);
    return out;
}

char *speech_google_body(const char *ssml, const char *voice, const char *language,
                         uint32_t sample_rate, double rate, double pitch, size_t *len)
{
    json_object *root = json_object_new_object(), *in = json_object_new_object(),
                *v = json_object_new_object(), *ac = json_object_new_object(),
                *tp = json_object_new_array();
    char lang[32];

    if (root == NULL || in == NULL || v == NULL || ac == NULL || tp == NULL) {
        json_object_put(root);
        json_object_put(in);
        json_object_put(v);
        json_object_put(ac);
        json_object_put(tp);
        return NULL;
    }
    if (language == NULL) {
        /* "en-US-Neural2-F" -> "en-US" */
        size_t l = strcspn(voice, "-");

        if (voice[l] == '-')
            l += 1 + strcspn(voice + l + 1, "-");
        if (l >= sizeof(lang))
            l = 0;
        memcpy(lang, voice, l);
        lang[l] = '\0';
        language = lang;
    }
    json_object_object_add(in, "ssml", json_object_new_string(ssml));
    json_object_object_add(root, "input", in);
    json_object_object_add(v, "languageCode", json_object_new_string(language));
    json_object_object_add(v, "name", json_object_new_string(voice));
    json_object_object_add(root, "voice", v);
    json_object_object_add(ac, "audioEncoding", json_object_new_string("LINEAR16"));
    json_object_object_add(ac, "sampleRateHertz", json_object_new_int64(sample_rate));
    json_object_object_add(ac, "speakingRate", json_object_new_double(rate));
    json_object_object_add(ac, "pitch", json_object_new_double(pitch));
    json_object_object_add(root, "audioConfig", ac);
    json_object_array_add(tp, json_object_new_string("SSML_MARK"));
    json_object_object_add(root, "enableTimePointing", tp);
    return json_dup(root, len);
}

static json_object *parse_object(const char *json, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *root;

    if (tok == NULL)
        return NULL;
    root = json_tokener_parse_ex(tok, json, (int)(len > INT32_MAX ? INT32_MAX : len));
    if (root != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
                         !json_object_is_type(root, json_type_object))) {
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tok);
    return root;
}

int speech_cloud_error_message(const char *json, size_t len, char *msg, size_t msglen)
{
    json_object *root = parse_object(json, len), *e, *m;
    int rc = -1;

    if (root == NULL)
        return -1;
    if (json_object_object_get_ex(root, "error", &e)) {
        if (json_object_is_type(e, json_type_string)) {
            snprintf(msg, msglen, "%.300s", json_object_get_string(e));
            rc = 0;
        } else if (json_object_object_get_ex(e, "message", &m) &&
                   json_object_is_type(m, json_type_string)) {
            snprintf(msg, msglen, "%.300s", json_object_get_string(m));
            rc = 0;
        }
    }
    json_object_put(root);
    return rc;
}

void speech_google_answer_free(speech_google_answer *a)
{
    free(a->pcm);
    free(a->mark_off);
    free(a->mark_ms);
    memset(a, 0, sizeof(*a));
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The PCM of a decoded audioContent: a 16-bit mono WAV's data, or raw PCM. */
static int google_pcm(unsigned char *raw, size_t n, uint32_t asked_rate, speech_google_answer *out,
                      char *err, size_t errlen)
{
    size_t at = 12, data = 0, data_len = 0;
    uint32_t rate = 0;

    if (n < 12 || memcmp(raw, "RIFF", 4) != 0 || memcmp(raw + 8, "WAVE", 4) != 0) {
        out->rate = asked_rate;
        out->n_samples = n / 2;
        out->pcm = raw;
        return 0;
    }
    while (at + 8 <= n) {
        uint32_t sz = le32(raw + at + 4);

        if (memcmp(raw + at, "fmt ", 4) == 0 && sz >= 16 && at + 8 + 16 <= n) {
            unsigned ch = raw[at + 10] | raw[at + 11] << 8;
            unsigned bits = raw[at + 22] | raw[at + 23] << 8;
            unsigned tag = raw[at + 8] | raw[at + 9] << 8;

            if (tag != 1 || ch != 1 || bits != 16) {
                snprintf(err, errlen, "the audio is not 16-bit mono PCM");
                return -1;
            }
            rate = le32(raw + at + 12);
        } else if (memcmp(raw + at, "data", 4) == 0) {
            data = at + 8;
            data_len = sz > n - data ? n - data : sz;
            break;
        }
        if (sz > n - at - 8)
            break;
        at += 8 + sz + (sz & 1);
    }
    if (rate == 0 || data == 0) {
        snprintf(err, errlen, "the audio is a WAV file without a format or data");
        return -1;
    }
    memmove(raw, raw + data, data_len);
    out->pcm = raw;
    out->n_samples = data_len / 2;
    out->rate = rate;
    return 0;
}

int speech_google_parse(const char *json, size_t len, uint32_t asked_rate,
                        speech_google_answer *out, char *err, size_t errlen)
{
    json_object *root = parse_object(json, len), *ac, *tps;
    unsigned char *raw = NULL;
    const char *b64;
    size_t b64_len, n = 0;
    int got;

    memset(out, 0, sizeof(*out));
    if (root == NULL) {
        snprintf(err, errlen, "the answer is not a JSON object");
        return -1;
    }
    if (!json_object_object_get_ex(root, "audioContent", &ac) ||
        !json_object_is_type(ac, json_type_string)) {
        snprintf(err, errlen, "the answer has no audioContent");
        goto fail;
    }
    b64 = json_object_get_string(ac);
    b64_len = (size_t)json_object_get_string_len(ac);
    if (b64_len % 4 != 0 || b64_len > INT32_MAX || (raw = malloc(b64_len / 4 * 3 + 1)) == NULL) {
        snprintf(err, errlen, "the answer's audioContent is not base64");
        goto fail;
    }
    got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64_len);
    if (got < 0) {
        snprintf(err, errlen, "the answer's audioContent is not base64");
        goto fail;
    }
    n = (size_t)got;
    while (b64_len > 0 && b64[b64_len - 1] == '=' && n > 0) { /* DecodeBlock keeps the pad */
        b64_len--;
        n--;
    }
    if (google_pcm(raw, n, asked_rate, out, err, errlen) != 0)
        goto fail;
    raw = NULL;
    if (json_object_object_get_ex(root, "timepoints", &tps) &&
        json_object_is_type(tps, json_type_array)) {
        size_t m = json_object_array_length(tps);

        out->mark_off = malloc((m ? m : 1) * sizeof(uint32_t));
        out->mark_ms = malloc((m ? m : 1) * sizeof(uint32_t));
        if (out->mark_off == NULL || out->mark_ms == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < m; i++) {
            json_object *tp = json_object_array_get_idx(tps, i), *nm, *ts;
            const char *name;
            char *end;
            unsigned long off;
            double sec;

            if (!json_object_object_get_ex(tp, "markName", &nm) ||
                !json_object_is_type(nm, json_type_string) ||
                !json_object_object_get_ex(tp, "timeSeconds", &ts)) {
                snprintf(err, errlen, "a timepoint without markName or timeSeconds");
                goto fail;
            }
            name = json_object_get_string(nm);
            off = strtoul(name, &end, 10);
            sec = json_object_get_double(ts);
            if (end == name || *end != '\0' || off > UINT32_MAX || !isfinite(sec) || sec < 0 ||
                sec > 86400.0) {
                snprintf(err, errlen, "a timepoint that is not one of ours");
                goto fail;
            }
            out->mark_off[out->n_marks] = (uint32_t)off;
            out->mark_ms[out->n_marks++] = (uint32_t)lround(sec * 1000.0);
        }
    }
    json_object_put(root);
    return 0;
fail:
    free(raw);
    speech_google_answer_free(out);
    json_object_put(root);
    return -1;
}

int speech_google_voices_parse(const char *json, size_t len, speech_voice_list *l, char *err,
                               size_t errlen)
{
    json_object *root = parse_object(json, len), *vs;
    size_t m;

    memset(l, 0, sizeof(*l));
    if (root == NULL || !json_object_object_get_ex(root, "voices", &vs) ||
        !json_object_is_type(vs, json_type_array)) {
        snprintf(err, errlen, "the voices list is not {\"voices\": [...]}");
        json_object_put(root);
        return -1;
    }
    m = json_object_array_length(vs);
    l->v = calloc(m ? m : 1, sizeof(*l->v));
    if (l->v == NULL)
        goto nomem;
    for (size_t i = 0; i < m; i++) {
        json_object *o = json_object_array_get_idx(vs, i), *nm, *lc, *g, *sr;
        speech_voice_info *v = &l->v[l->n];
        size_t langs = 1;

        if (!json_object_object_get_ex(o, "name", &nm) ||
            !json_object_is_type(nm, json_type_string) || json_object_get_string_len(nm) == 0 ||
            !json_object_object_get_ex(o, "languageCodes", &lc) ||
            !json_object_is_type(lc, json_type_array) || json_object_array_length(lc) == 0)
            continue;
        for (size_t k = 0; k < json_object_array_length(lc); k++)
            langs += strlen(json_object_get_string(json_object_array_get_idx(lc, k))) + 1;
        v->languages = calloc(langs, 1);
        v->name = strdup(json_object_get_string(nm));
        v->gender = strdup(json_object_object_get_ex(o, "ssmlGender", &g) &&
                                   json_object_is_type(g, json_type_string)
                               ? json_object_get_string(g)
                               : "NEUTRAL");
        v->provider = strdup("google");
        l->n++;
        if (v->languages == NULL || v->name == NULL || v->gender == NULL || v->provider == NULL)
            goto nomem;
        for (size_t k = 0; k < json_object_array_length(lc); k++) {
            if (k > 0)
                strcat(v->languages, ",");
            strcat(v->languages, json_object_get_string(json_object_array_get_idx(lc, k)));
        }
        v->sample_rate = json_object_object_get_ex(o, "naturalSampleRateHertz", &sr)
                             ? (uint32_t)json_object_get_int64(sr)
                             : 24000;
    }
    json_object_put(root);
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    speech_voice_list_free(l);
    json_object_put(root);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* OpenAI-compatible                                                        */

char *speech_openai_body(const char *model, const char *voice, const char *input, double speed,
                         size_t *len)
{
    json_object *root = json_object_new_object();

    if (root == NULL)
        return NULL;
    json_object_object_add(root, "model", json_object_new_string(model));
    json_object_object_add(root, "input", json_object_new_string(input));
    json_object_object_add(root, "voice", json_object_new_string(voice));
    json_object_object_add(root, "response_format", json_object_new_string("mp3"));
    json_object_object_add(root, "speed", json_object_new_double(speed));
    return json_dup(root, len);
}

/* ------------------------------------------------------------------------ */
/* MP3 length                                                               */

static const uint16_t mp3_kbps[2][16] = {
    {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}, /* MPEG-1 */
    {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},     /* MPEG-2, 2.5 */
};
static const uint32_t mp3_rates[3][3] = {
    {44100, 48000, 32000}, /* MPEG-1 */
    {22050, 24000, 16000}, /* MPEG-2 */
    {11025, 12000, 8000},  /* MPEG-2.5 */
};

int speech_mp3_duration(const unsigned char *p, size_t len, uint64_t *ms, uint32_t *rate)
{
    size_t at = 0;
    uint64_t samples = 0;
    uint32_t sr = 0;
    size_t frames = 0;

    *ms = 0;
    *rate = 0;
    if (len >= 10 && memcmp(p, "ID3", 3) == 0) {
        size_t sz = (size_t)(p[6] & 0x7f) << 21 | (size_t)(p[7] & 0x7f) << 14 |
                    (size_t)(p[8] & 0x7f) << 7 | (size_t)(p[9] & 0x7f);

        at = 10 + sz + ((p[5] & 0x10) ? 10 : 0);
    }
    while (at + 4 <= len) {
        unsigned ver, layer, bi, si, pad;
        int v1, vi;
        size_t flen;
        uint32_t spf;

        if (p[at] != 0xFF || (p[at + 1] & 0xE0) != 0xE0)
            break;
        ver = (p[at + 1] >> 3) & 3; /* 0: 2.5, 2: 2, 3: 1 */
        layer = (p[at + 1] >> 1) & 3;
        bi = p[at + 2] >> 4;
        si = (p[at + 2] >> 2) & 3;
        pad = (p[at + 2] >> 1) & 1;
        if (ver == 1 || layer != 1 || bi == 0 || bi == 15 || si == 3)
            break;
        v1 = ver == 3;
        vi = ver == 3 ? 0 : ver == 2 ? 1 : 2;
        sr = mp3_rates[vi][si];
        spf = v1 ? 1152 : 576;
        flen = (size_t)(spf / 8) * mp3_kbps[v1 ? 0 : 1][bi] * 1000 / sr + pad;
        if (flen < 4 || at + flen > len)
            break;
        /* a Xing/Info frame (the first) carries no audio */
        if (!(frames == 0 && flen > 40 &&
              (memmem(p + at + 4, 36, "Xing", 4) != NULL ||
               memmem(p + at + 4, 36, "Info", 4) != NULL)))
            samples += spf;
        frames++;
        at += flen;
    }
    if (frames == 0 || sr == 0)
        return -1;
    *rate = sr;
    *ms = samples * 1000u / sr;
    return 0;
}
