/*
 * flite in lexiaid-speech (engine.h): English with the CMU clustergen
 * voices Debian ships (cmu_us_slt, cmu_us_rms, cmu_us_awb).
 *
 * A segment becomes one utterance whose Token relation is built here with
 * flite's own tokenizer and the voice's punctuation sets (as flite_synth_text
 * does), each token carrying the byte where it starts; after synthesis each
 * word of the Word relation gives its token's byte and its first segment's
 * start time. Rate and pitch are the voice's duration_stretch and f0_shift.
 *
 * flite is not thread-safe either: one utterance at a time, in this
 * process only.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "engine.h"

#ifdef LX_HAVE_FLITE

#include <flite/flite.h>

cst_voice *register_cmu_us_slt(const char *voxdir);
cst_voice *register_cmu_us_rms(const char *voxdir);
cst_voice *register_cmu_us_awb(const char *voxdir);

typedef struct fl_voice {
    const char *id;
    const char *languages;
    const char *gender;
    cst_voice *(*reg)(const char *voxdir);
    cst_voice *v; /* registered on first use */
} fl_voice;

static fl_voice fl_voices[] = {
    {"cmu_us_slt", "en-US", "FEMALE", register_cmu_us_slt, NULL},
    {"cmu_us_rms", "en-US", "MALE", register_cmu_us_rms, NULL},
    {"cmu_us_awb", "en-GB", "MALE", register_cmu_us_awb, NULL},
};
#define FL_N_VOICES (sizeof(fl_voices) / sizeof(fl_voices[0]))
#define FL_RATE_HZ 16000 /* the clustergen voices' rate */

static int fl_started;
static fl_voice *fl_selected;

static void fl_list(speech_wbuf *b, uint32_t *n)
{
    for (size_t i = 0; i < FL_N_VOICES; i++) {
        char name[64];

        snprintf(name, sizeof(name), "flite:%s", fl_voices[i].id);
        speech_w_str(b, name);
        speech_w_str(b, fl_voices[i].languages);
        speech_w_str(b, fl_voices[i].gender);
        speech_w_u32(b, FL_RATE_HZ);
        speech_w_str(b, "flite");
        (*n)++;
    }
}

static int fl_select(const char *id, double rate, double pitch, uint32_t *rate_hz, char *err,
                     size_t errlen)
{
    fl_voice *fv = NULL;

    for (size_t i = 0; i < FL_N_VOICES && fv == NULL; i++)
        if (strcmp(fl_voices[i].id, id) == 0)
            fv = &fl_voices[i];
    if (fv == NULL) {
        snprintf(err, errlen, "flite has no voice %s", id);
        return SPEECH_ERR_VOICE;
    }
    if (!fl_started) {
        flite_init();
        fl_started = 1;
    }
    if (fv->v == NULL && (fv->v = fv->reg(NULL)) == NULL) {
        snprintf(err, errlen, "flite could not load the voice %s", id);
        return SPEECH_ERR_ENGINE;
    }
    flite_feat_set_float(fv->v->features, "duration_stretch", (float)(1.0 / rate));
    flite_feat_set_float(fv->v->features, "f0_shift", (float)pow(2.0, pitch / 12.0));
    fl_selected = fv;
    *rate_hz = (uint32_t)flite_get_param_int(fv->v->features, "sample_rate", FL_RATE_HZ);
    return 0;
}

/* The start of word w in seconds: the end of the segment before its first
 * one; -1 when it has no segment (nothing spoken). */
static double fl_word_start(cst_item *w)
{
    cst_item *seg = flite_path_to_item(w, "R:SylStructure.daughter1.daughter1");
    cst_item *prev;

    if (seg == NULL)
        return -1.0;
    prev = flite_path_to_item(seg, "R:Segment.p");
    return prev != NULL ? flite_ffeature_float(prev, "end") : 0.0;
}

static int fl_speak(const char *text, size_t len, hx_out *o, char *err, size_t errlen)
{
    cst_voice *v = fl_selected ? fl_selected->v : NULL;
    cst_tokenstream *ts;
    cst_utterance *u;
    cst_relation *tokens;
    cst_wave *wave;
    int rate;

    if (v == NULL) {
        snprintf(err, errlen, "no flite voice selected");
        return SPEECH_ERR_REQUEST;
    }
    (void)len;
    ts = ts_open_string(text, flite_get_param_string(v->features, "text_whitespace", NULL),
                        flite_get_param_string(v->features, "text_singlecharsymbols", NULL),
                        flite_get_param_string(v->features, "text_prepunctuation", NULL),
                        flite_get_param_string(v->features, "text_postpunctuation", NULL));
    if (ts == NULL) {
        snprintf(err, errlen, "flite could not read the text");
        return SPEECH_ERR_ENGINE;
    }
    u = new_utterance();
    tokens = utt_relation_create(u, "Token");
    while (!ts_eof(ts)) {
        const char *tok = ts_get(ts);
        cst_item *t;

        if (tok == NULL || tok[0] == '\0')
            continue;
        t = relation_append(tokens, NULL);
        item_set_string(t, "name", tok);
        item_set_string(t, "whitespace", ts->whitespace);
        item_set_string(t, "prepunctuation", ts->prepunctuation);
        item_set_string(t, "punc", ts->postpunctuation);
        item_set_int(t, "file_pos", ts->token_pos < 0 ? 0 : ts->token_pos);
    }
    ts_close(ts);
    if (relation_head(tokens) == NULL) {
        delete_utterance(u);
        return 0;
    }
    u = flite_do_synth(u, v, utt_synth_tokens);
    if (u == NULL || (wave = utt_wave(u)) == NULL) {
        if (u != NULL)
            delete_utterance(u);
        snprintf(err, errlen, "flite could not synthesise the text");
        return SPEECH_ERR_ENGINE;
    }
    rate = wave->sample_rate > 0 ? wave->sample_rate : FL_RATE_HZ;
    for (cst_item *w = relation_head(utt_relation(u, "Word")); w != NULL; w = item_next(w)) {
        cst_item *tok = flite_path_to_item(w, "R:Token.parent");
        double start = fl_word_start(w);

        if (tok == NULL || start < 0)
            continue;
        hx_out_mark(o, (uint32_t)item_feat_int(tok, "file_pos"), (uint64_t)(start * rate + 0.5));
    }
    if (wave->num_samples > 0 && hx_out_pcm(o, wave->samples, (size_t)wave->num_samples) != 0) {
        delete_utterance(u);
        snprintf(err, errlen, "the speech is longer than allowed, or memory ran out");
        return SPEECH_ERR_TOO_LONG;
    }
    delete_utterance(u);
    return 0;
}

static const hx_engine fl_engine = {
    .provider = "flite",
    .list = fl_list,
    .select = fl_select,
    .speak = fl_speak,
};

const hx_engine *hx_flite_engine(void)
{
    return &fl_engine;
}

#else

const hx_engine *hx_flite_engine(void)
{
    return NULL;
}

#endif
