/*
 * The worker <-> lexiaid-speech wire protocol (proto.h).
 */
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "proto.h"

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

static void w_put(speech_wbuf *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (n > SPEECH_FRAME_MAX || b->len - b->open + n > (size_t)SPEECH_FRAME_MAX + 4) {
        b->failed = LX_ETOOBIG;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        unsigned char *q;

        while (cap < b->len + n)
            cap *= 2;
        q = realloc(b->p, cap);
        if (q == NULL) {
            b->failed = LX_ENOMEM;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void w_le32(unsigned char *o, uint32_t v)
{
    o[0] = (unsigned char)v;
    o[1] = (unsigned char)(v >> 8);
    o[2] = (unsigned char)(v >> 16);
    o[3] = (unsigned char)(v >> 24);
}

void speech_w_begin(speech_wbuf *b, uint8_t type)
{
    unsigned char hdr[5] = {0, 0, 0, 0, type};

    b->open = b->len;
    w_put(b, hdr, sizeof(hdr));
}

void speech_w_u8(speech_wbuf *b, uint8_t v)
{
    w_put(b, &v, 1);
}

void speech_w_u32(speech_wbuf *b, uint32_t v)
{
    unsigned char o[4];

    w_le32(o, v);
    w_put(b, o, 4);
}

void speech_w_bytes(speech_wbuf *b, const void *p, size_t len)
{
    if (len > SPEECH_FRAME_MAX) {
        b->failed = LX_ETOOBIG;
        return;
    }
    speech_w_u32(b, (uint32_t)len);
    if (len > 0)
        w_put(b, p, len);
}

void speech_w_str(speech_wbuf *b, const char *s)
{
    speech_w_bytes(b, s, s != NULL ? strlen(s) : 0);
}

int speech_w_end(speech_wbuf *b)
{
    if (b->failed)
        return b->failed;
    if (b->len - b->open < 5)
        return LX_EINVAL;
    w_le32(b->p + b->open, (uint32_t)(b->len - b->open - 4));
    return LX_OK;
}

void speech_wbuf_free(speech_wbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

unsigned char *speech_w_take(speech_wbuf *b, size_t *len)
{
    if (speech_w_end(b) != LX_OK) {
        speech_wbuf_free(b);
        return NULL;
    }
    *len = b->len;
    return b->p;
}

int speech_frame_next(const unsigned char *buf, size_t len, size_t *off, size_t *plen,
                      size_t *consumed)
{
    size_t flen;

    if (len < 4)
        return 0;
    flen = (size_t)buf[0] | (size_t)buf[1] << 8 | (size_t)buf[2] << 16 | (size_t)buf[3] << 24;
    if (flen == 0 || flen > SPEECH_FRAME_MAX)
        return -1;
    if (len - 4 < flen)
        return 0;
    *off = 4;
    *plen = flen;
    *consumed = 4 + flen;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

typedef struct rd {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} rd;

static uint32_t r_u32(rd *r)
{
    const unsigned char *q;

    if (r->bad || r->len - r->pos < 4) {
        r->bad = 1;
        return 0;
    }
    q = r->p + r->pos;
    r->pos += 4;
    return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

static uint8_t r_u8(rd *r)
{
    if (r->bad || r->pos >= r->len) {
        r->bad = 1;
        return 0;
    }
    return r->p[r->pos++];
}

/* A byte string, borrowed. */
static const unsigned char *r_bytes(rd *r, size_t *len)
{
    uint32_t n = r_u32(r);
    const unsigned char *q;

    if (r->bad || r->len - r->pos < n) {
        r->bad = 1;
        *len = 0;
        return NULL;
    }
    q = r->p + r->pos;
    r->pos += n;
    *len = n;
    return q;
}

/* A string as a malloc'd NUL-terminated copy; bad when it holds a NUL. */
static char *r_str(rd *r, int *nomem)
{
    size_t n;
    const unsigned char *q = r_bytes(r, &n);
    char *s;

    if (r->bad)
        return NULL;
    if (n > 0 && memchr(q, 0, n) != NULL) {
        r->bad = 1;
        return NULL;
    }
    s = malloc(n + 1);
    if (s == NULL) {
        *nomem = 1;
        r->bad = 1;
        return NULL;
    }
    if (n > 0)
        memcpy(s, q, n);
    s[n] = '\0';
    return s;
}

/* An array count whose elements take at least `each` bytes: bad when they
 * cannot all be in what is left. */
static size_t r_count(rd *r, size_t each)
{
    uint32_t n = r_u32(r);

    if (r->bad || (each > 0 && n > (r->len - r->pos) / each)) {
        r->bad = 1;
        return 0;
    }
    return n;
}

static int r_start(rd *r, const unsigned char *p, size_t len, uint8_t type)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->bad = 0;
    return r_u8(r) == type && !r->bad;
}

/* r_start for a message whose type byte is followed by the protocol
 * version: false unless both are the expected ones. */
static int r_start_versioned(rd *r, const unsigned char *p, size_t len, uint8_t type)
{
    return r_start(r, p, len, type) && r_u32(r) == SPEECH_PROTO_VERSION;
}

static int r_finish(rd *r, int nomem)
{
    if (nomem)
        return LX_ENOMEM;
    return r->bad || r->pos != r->len ? LX_EINVAL : LX_OK;
}

int speech_voice_list_decode(const unsigned char *p, size_t len, speech_voice_list *out)
{
    rd r;
    int nomem = 0, rc;

    memset(out, 0, sizeof(*out));
    if (!r_start_versioned(&r, p, len, SPEECH_MSG_VOICE_LIST))
        return LX_EINVAL;
    size_t n = r_count(&r, 20);
    if (r.bad)
        return LX_EINVAL;
    out->v = calloc(n ? n : 1, sizeof(*out->v));
    if (out->v == NULL)
        return LX_ENOMEM;
    for (size_t i = 0; i < n && !r.bad; i++) {
        speech_voice_info *v = &out->v[i];

        out->n = i + 1;
        v->name = r_str(&r, &nomem);
        v->languages = r_str(&r, &nomem);
        v->gender = r_str(&r, &nomem);
        v->sample_rate = r_u32(&r);
        v->provider = r_str(&r, &nomem);
    }
    rc = r_finish(&r, nomem);
    if (rc != LX_OK)
        speech_voice_list_free(out);
    return rc;
}

int speech_speak_decode(const unsigned char *p, size_t len, speech_speak *out)
{
    rd r;
    int nomem = 0, rc;

    memset(out, 0, sizeof(*out));
    if (!r_start_versioned(&r, p, len, SPEECH_MSG_SPEAK))
        return LX_EINVAL;
    out->voice = r_str(&r, &nomem);
    out->rate_milli = (int32_t)r_u32(&r);
    out->pitch_centi = (int32_t)r_u32(&r);
    out->kbps = r_u32(&r);
    out->pause_ms = r_u32(&r);
    size_t n = r_count(&r, 5);
    if (!r.bad) {
        out->text = calloc(n ? n : 1, sizeof(*out->text));
        out->len = calloc(n ? n : 1, sizeof(*out->len));
        out->ends_para = calloc(n ? n : 1, 1);
        if (out->text == NULL || out->len == NULL || out->ends_para == NULL)
            nomem = r.bad = 1;
    }
    for (size_t i = 0; i < n && !r.bad; i++) {
        out->n = i + 1;
        out->ends_para[i] = r_u8(&r);
        out->text[i] = r_str(&r, &nomem);
        if (out->text[i] != NULL)
            out->len[i] = (uint32_t)strlen(out->text[i]);
    }
    rc = r_finish(&r, nomem);
    if (rc != LX_OK)
        speech_speak_free(out);
    return rc;
}

int speech_audio_decode(const unsigned char *p, size_t len, speech_audio *out)
{
    rd r;
    int nomem = 0, rc;
    const unsigned char *mp3;

    memset(out, 0, sizeof(*out));
    if (!r_start(&r, p, len, SPEECH_MSG_AUDIO))
        return LX_EINVAL;
    out->sample_rate = r_u32(&r);
    out->n_samples = r_u32(&r);
    out->n_samples |= (uint64_t)r_u32(&r) << 32;
    out->n_segs = r_count(&r, 4);
    if (!r.bad) {
        out->seg_end_ms = malloc((out->n_segs ? out->n_segs : 1) * sizeof(uint32_t));
        if (out->seg_end_ms == NULL)
            nomem = r.bad = 1;
    }
    for (size_t i = 0; i < out->n_segs && !r.bad; i++)
        out->seg_end_ms[i] = r_u32(&r);
    out->n_marks = r_count(&r, 12);
    if (!r.bad) {
        out->marks = malloc((out->n_marks ? out->n_marks : 1) * sizeof(*out->marks));
        if (out->marks == NULL)
            nomem = r.bad = 1;
    }
    for (size_t i = 0; i < out->n_marks && !r.bad; i++) {
        out->marks[i].seg = r_u32(&r);
        out->marks[i].off = r_u32(&r);
        out->marks[i].ms = r_u32(&r);
    }
    mp3 = r_bytes(&r, &out->mp3_len);
    if (!r.bad) {
        out->mp3 = malloc(out->mp3_len ? out->mp3_len : 1);
        if (out->mp3 == NULL)
            nomem = r.bad = 1;
        else if (out->mp3_len > 0)
            memcpy(out->mp3, mp3, out->mp3_len);
    }
    rc = r_finish(&r, nomem);
    if (rc == LX_OK && out->sample_rate == 0)
        rc = LX_EINVAL;
    if (rc != LX_OK)
        speech_audio_free(out);
    return rc;
}

int speech_error_decode(const unsigned char *p, size_t len, speech_error *out)
{
    rd r;
    int nomem = 0, rc;

    memset(out, 0, sizeof(*out));
    if (!r_start(&r, p, len, SPEECH_MSG_ERROR))
        return LX_EINVAL;
    out->code = r_u32(&r);
    out->message = r_str(&r, &nomem);
    rc = r_finish(&r, nomem);
    if (rc != LX_OK)
        speech_error_free(out);
    return rc;
}

int speech_recognize_decode(const unsigned char *p, size_t len, speech_recognize *out)
{
    rd r;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (!r_start_versioned(&r, p, len, SPEECH_MSG_RECOGNIZE))
        return LX_EINVAL;
    out->flags = r_u8(&r);
    out->pcm = r_bytes(&r, &n);
    if (n % 2 != 0)
        r.bad = 1;
    out->n_samples = n / 2;
    return r_finish(&r, 0);
}

int speech_transcript_decode(const unsigned char *p, size_t len, speech_transcript *out)
{
    rd r;
    int nomem = 0, rc;

    memset(out, 0, sizeof(*out));
    if (!r_start(&r, p, len, SPEECH_MSG_TRANSCRIPT))
        return LX_EINVAL;
    out->is_final = r_u8(&r) != 0;
    out->confidence_milli = (int32_t)r_u32(&r);
    out->text = r_str(&r, &nomem);
    rc = r_finish(&r, nomem);
    if (rc != LX_OK)
        speech_transcript_free(out);
    return rc;
}

unsigned char *speech_recognize_frame(const int16_t *pcm, size_t n, uint8_t flags, size_t *len)
{
    speech_wbuf b = {0};
    unsigned char *le;

    if (n > SPEECH_FRAME_MAX / 2)
        return NULL;
    le = malloc(n ? n * 2 : 1);
    if (le == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        le[2 * i] = (unsigned char)((uint16_t)pcm[i] & 0xFF);
        le[2 * i + 1] = (unsigned char)((uint16_t)pcm[i] >> 8);
    }
    speech_w_begin(&b, SPEECH_MSG_RECOGNIZE);
    speech_w_u32(&b, SPEECH_PROTO_VERSION);
    speech_w_u8(&b, flags);
    speech_w_bytes(&b, le, n * 2);
    free(le);
    return speech_w_take(&b, len);
}

unsigned char *speech_encode_frame(const unsigned char *pcm_le, size_t n, uint32_t rate,
                                   uint32_t kbps, size_t *len)
{
    speech_wbuf b = {0};

    if (n > SPEECH_FRAME_MAX / 2)
        return NULL;
    speech_w_begin(&b, SPEECH_MSG_ENCODE);
    speech_w_u32(&b, SPEECH_PROTO_VERSION);
    speech_w_u32(&b, rate);
    speech_w_u32(&b, kbps);
    speech_w_bytes(&b, pcm_le, n * 2);
    return speech_w_take(&b, len);
}

int speech_encode_decode(const unsigned char *p, size_t len, speech_encode *out)
{
    rd r;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (!r_start_versioned(&r, p, len, SPEECH_MSG_ENCODE))
        return LX_EINVAL;
    out->rate = r_u32(&r);
    out->kbps = r_u32(&r);
    out->pcm = r_bytes(&r, &n);
    if (n % 2 != 0 || out->rate == 0)
        r.bad = 1;
    out->n_samples = n / 2;
    return r_finish(&r, 0);
}

void speech_transcript_free(speech_transcript *t)
{
    free(t->text);
    t->text = NULL;
}

void speech_voice_list_free(speech_voice_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].languages);
        free(l->v[i].gender);
        free(l->v[i].provider);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

void speech_speak_free(speech_speak *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->text[i]);
    free(s->text);
    free(s->len);
    free(s->ends_para);
    free(s->voice);
    memset(s, 0, sizeof(*s));
}

void speech_audio_free(speech_audio *a)
{
    free(a->seg_end_ms);
    free(a->marks);
    free(a->mp3);
    memset(a, 0, sizeof(*a));
}

void speech_error_free(speech_error *e)
{
    free(e->message);
    memset(e, 0, sizeof(*e));
}
