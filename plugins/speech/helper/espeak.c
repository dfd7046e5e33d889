/*
 * espeak-ng in lexiaid-speech (engine.h): every language espeak-ng ships.
 *
 * Synchronous mode: espeak_Synth returns when the segment is spoken, having
 * handed the samples and their events to es_callback. Word times are
 * espeak-ng's own word events (espeakEVENT_WORD: the word's first character,
 * counted in characters from 1, and its time in ms), not SSML <mark>s,
 * which espeak-ng drops after a sentence end. Positions are turned into
 * byte offsets of the UTF-8 segment text here.
 *
 * espeak-ng keeps its state in globals and is not thread-safe: it runs in
 * this process only, one segment at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "engine.h"

#ifdef LX_HAVE_ESPEAK_NG

#include <espeak-ng/speak_lib.h>

#include <lexiaid/utf8.h>

#define ES_RATE_NORMAL 175 /* words a minute at rate 1.0 */

typedef struct es_voice {
    char id[64];            /* the identifier's file name, lower case: "en-us" */
    const char *identifier; /* espeak-ng's: "gmw/en-US" */
    const espeak_VOICE *v;
} es_voice;

static int es_rate_hz; /* > 0 once initialised */
static es_voice *es_voices;
static size_t es_n_voices;
static const es_voice *es_selected;

/* The segment being spoken. */
static hx_out *es_out;
static uint32_t *es_char_byte; /* character index (0-based) -> byte offset */
static size_t es_n_chars;
static int es_failed;

static int es_init(char *err, size_t errlen)
{
    const espeak_VOICE **list;
    size_t n = 0;

    if (es_rate_hz > 0)
        return 0;
    es_rate_hz = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
    if (es_rate_hz <= 0) {
        es_rate_hz = 0;
        snprintf(err, errlen, "espeak-ng could not start (is espeak-ng-data installed?)");
        return SPEECH_ERR_ENGINE;
    }
    list = espeak_ListVoices(NULL);
    while (list != NULL && list[n] != NULL)
        n++;
    es_voices = calloc(n ? n : 1, sizeof(*es_voices));
    if (es_voices == NULL) {
        snprintf(err, errlen, "out of memory");
        return SPEECH_ERR_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        const char *ident = list[i]->identifier, *base;
        es_voice *ev = &es_voices[es_n_voices];

        if (ident == NULL || strncmp(ident, "mb/", 3) == 0)
            continue; /* MBROLA voices need MBROLA, which is not here */
        base = strrchr(ident, '/');
        base = base ? base + 1 : ident;
        if (strlen(base) >= sizeof(ev->id))
            continue;
        for (size_t k = 0; base[k] != '\0'; k++)
            ev->id[k] = (char)(base[k] >= 'A' && base[k] <= 'Z' ? base[k] + 32 : base[k]);
        ev->identifier = ident;
        ev->v = list[i];
        es_n_voices++;
    }
    return 0;
}

/* A language tag in BCP 47 case: "en-gb-x-rp" -> "en-GB-x-rp". */
static void es_bcp47(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    int sub = 0, private_use = 0;

    while (*in != '\0' && o + 1 < outlen) {
        size_t n = strcspn(in, "-");

        if (sub > 0 && o + 1 < outlen)
            out[o++] = '-';
        if (n == 1 && (*in == 'x' || *in == 'X'))
            private_use = 1;
        for (size_t k = 0; k < n && o + 1 < outlen; k++) {
            char c = in[k];

            if (sub > 0 && !private_use && n == 2)
                c = (char)(c >= 'a' && c <= 'z' ? c - 32 : c); /* region */
            else if (sub > 0 && !private_use && n == 4 && k == 0)
                c = (char)(c >= 'a' && c <= 'z' ? c - 32 : c); /* Script */
            out[o++] = c;
        }
        in += n;
        if (*in == '-')
            in++;
        sub++;
    }
    out[o] = '\0';
}

/* Is tag one of the comma-separated list's? */
static int es_has_tag(const char *list, const char *tag)
{
    size_t n = strlen(tag);

    while (*list != '\0') {
        size_t len = strcspn(list, ",");

        if (len == n && strncmp(list, tag, n) == 0)
            return 1;
        list += len;
        if (*list == ',')
            list++;
    }
    return 0;
}

static void es_list(speech_wbuf *b, uint32_t *n)
{
    char err[128];

    if (es_init(err, sizeof(err)) != 0)
        return;
    for (size_t i = 0; i < es_n_voices; i++) {
        const es_voice *ev = &es_voices[i];
        char name[96], langs[512] = "";
        size_t used = 0;

        snprintf(name, sizeof(name), "espeak-ng:%s", ev->id);
        /* languages: (priority byte, name, NUL) pairs ending with a NUL */
        for (const char *l = ev->v->languages; l != NULL && l[0] != '\0';) {
            char tag[64];
            const char *lang = l + 1;

            es_bcp47(lang, tag, sizeof(tag));
            if (!es_has_tag(langs, tag)) {
                int w = snprintf(langs + used, sizeof(langs) - used, "%s%s", used ? "," : "", tag);
                if (w > 0 && (size_t)w < sizeof(langs) - used)
                    used += (size_t)w;
            }
            l = lang + strlen(lang) + 1;
        }
        speech_w_str(b, name);
        speech_w_str(b, langs);
        speech_w_str(b, ev->v->gender == 2 ? "FEMALE" : ev->v->gender == 1 ? "MALE" : "NEUTRAL");
        speech_w_u32(b, (uint32_t)es_rate_hz);
        speech_w_str(b, "espeak-ng");
        (*n)++;
    }
}

static int es_select(const char *id, double rate, double pitch, uint32_t *rate_hz, char *err,
                     size_t errlen)
{
    int rc = es_init(err, errlen);
    const es_voice *found = NULL;
    long wpm, p;

    if (rc != 0)
        return rc;
    for (size_t i = 0; i < es_n_voices && found == NULL; i++)
        if (strcmp(es_voices[i].id, id) == 0)
            found = &es_voices[i];
    if (found == NULL) {
        snprintf(err, errlen, "espeak-ng has no voice %s", id);
        return SPEECH_ERR_VOICE;
    }
    if (found != es_selected && espeak_SetVoiceByName(found->identifier) != EE_OK) {
        snprintf(err, errlen, "espeak-ng could not load the voice %s", id);
        es_selected = NULL;
        return SPEECH_ERR_ENGINE;
    }
    es_selected = found;
    /* The rate is words a minute (espeak-ng takes 80-450); the pitch its
     * 0-100 base pitch, 50 normal, +-20 semitones mapped onto the range. */
    wpm = (long)(ES_RATE_NORMAL * rate + 0.5);
    wpm = wpm < espeakRATE_MINIMUM ? espeakRATE_MINIMUM : wpm;
    wpm = wpm > espeakRATE_MAXIMUM ? espeakRATE_MAXIMUM : wpm;
    p = (long)(50 + pitch * 2.5 + (pitch >= 0 ? 0.5 : -0.5));
    p = p < 0 ? 0 : p > 100 ? 100 : p;
    espeak_SetParameter(espeakRATE, (int)wpm, 0);
    espeak_SetParameter(espeakPITCH, (int)p, 0);
    *rate_hz = (uint32_t)es_rate_hz;
    return 0;
}

static int es_callback(short *wav, int n, espeak_EVENT *ev)
{
    for (; ev != NULL && ev->type != espeakEVENT_LIST_TERMINATED; ev++) {
        if (ev->type != espeakEVENT_WORD || ev->text_position < 1 || es_n_chars == 0)
            continue;
        size_t c = (size_t)ev->text_position - 1;
        if (c >= es_n_chars)
            c = es_n_chars - 1;
        hx_out_mark(es_out, es_char_byte[c],
                    (uint64_t)(ev->audio_position < 0 ? 0 : ev->audio_position) *
                        (uint64_t)es_rate_hz / 1000u);
    }
    if (wav != NULL && n > 0 && !es_failed && hx_out_pcm(es_out, wav, (size_t)n) != 0)
        es_failed = 1;
    return es_failed; /* non-zero stops the synthesis */
}

static int es_speak(const char *text, size_t len, hx_out *o, char *err, size_t errlen)
{
    size_t i = 0;
    espeak_ERROR e;

    es_char_byte = malloc((len + 1) * sizeof(*es_char_byte));
    if (es_char_byte == NULL) {
        snprintf(err, errlen, "out of memory");
        return SPEECH_ERR_MEMORY;
    }
    es_n_chars = 0;
    while (i < len) {
        int is_ok;
        size_t n = lx_utf8_next((const unsigned char *)text + i, len - i, NULL, &is_ok);

        es_char_byte[es_n_chars++] = (uint32_t)i;
        i += n;
    }
    es_out = o;
    es_failed = 0;
    espeak_SetSynthCallback(es_callback);
    e = espeak_Synth(text, len + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, NULL);
    free(es_char_byte);
    es_char_byte = NULL;
    es_out = NULL;
    if (es_failed) {
        snprintf(err, errlen, "the speech is longer than allowed, or memory ran out");
        return SPEECH_ERR_TOO_LONG;
    }
    if (e != EE_OK) {
        snprintf(err, errlen, "espeak-ng failed (error %d)", (int)e);
        return SPEECH_ERR_ENGINE;
    }
    return 0;
}

static const hx_engine es_engine = {
    .provider = "espeak-ng",
    .list = es_list,
    .select = es_select,
    .speak = es_speak,
};

const hx_engine *hx_espeak_engine(void)
{
    return &es_engine;
}

#else

const hx_engine *hx_espeak_engine(void)
{
    return NULL;
}

#endif
