/*
 * Text to display words, paragraphs and segments (words.h).
 */
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>
#include <lexiaid/utf8.h>

#include "words.h"

/* Separators: Unicode White_Space, the other C0/C1 controls, ZWSP, BOM. */
static int words_is_sep(uint32_t cp)
{
    if (cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0))
        return 1;
    switch (cp) {
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
    case 0xfeff:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200b;
    }
}

/* How many line breaks a separator counts for (CR before LF counts once,
 * with the LF). */
static int words_breaks(uint32_t cp, uint32_t next)
{
    switch (cp) {
    case '\n':
    case 0x2028:
        return 1;
    case '\r':
        return next == '\n' ? 0 : 1;
    case '\f':
    case 0x2029:
        return 2;
    default:
        return 0;
    }
}

static int words_is_marker(char c)
{
    return c == '*' || c == '_' || c == '`' || c == '#' || c == '>';
}

static int words_is_rule(char c)
{
    return words_is_marker(c) || c == '~' || c == '=' || c == '-' || c == '+' || c == '|';
}

static int words_is_emphasis(char c)
{
    return c == '*' || c == '_' || c == '`';
}

static int words_is_open(char c)
{
    return c == '(' || c == '[' || c == '{' || c == '"' || c == '\'';
}

static int words_is_close(char c)
{
    return c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == ')' ||
           c == ']' || c == '}' || c == '"' || c == '\'';
}

/* The display part of the raw run s[a..b): 0 when it is only Markdown
 * markers, else 1 with w's span (the run without the emphasis around it)
 * and its cuts (emphasis between it and its punctuation) filled. */
static int words_trim(const char *s, size_t a, size_t b, speech_word *w)
{
    int only_marker = 1, only_rule = 1;
    size_t k, e;

    for (size_t i = a; i < b; i++) {
        only_marker = only_marker && words_is_marker(s[i]);
        only_rule = only_rule && words_is_rule(s[i]);
    }
    if (only_marker || (only_rule && b - a >= 3))
        return 0;
    while (a < b && words_is_emphasis(s[a]))
        a++;
    while (b > a && words_is_emphasis(s[b - 1]))
        b--;
    if (b == a)
        return 0;
    w->start = (uint32_t)a;
    w->len = (uint32_t)(b - a);
    w->cut1 = w->cut1_len = w->cut2 = w->cut2_len = 0;
    /* "(**" : the emphasis after an opening mark */
    if (words_is_open(s[a])) {
        for (k = a + 1; k < b && (s[k] == '*' || s[k] == '`'); k++)
            ;
        if (k > a + 1 && k < b) {
            w->cut1 = 1;
            w->cut1_len = (uint32_t)(k - a - 1);
        }
    }
    /* "**." : the emphasis before the closing marks */
    for (e = b; e > a + 1 && words_is_close(s[e - 1]); e--)
        ;
    if (e < b) {
        for (k = e; k > a && (s[k - 1] == '*' || s[k - 1] == '`'); k--)
            ;
        if (k < e && k > a + w->cut1 + w->cut1_len) {
            w->cut2 = (uint32_t)(k - a);
            w->cut2_len = (uint32_t)(e - k);
        }
    }
    return 1;
}

size_t speech_word_display(const char *text, const speech_word *w, char *out)
{
    size_t o = 0;

    for (uint32_t i = 0; i < w->len; i++) {
        if ((w->cut1_len > 0 && i >= w->cut1 && i < w->cut1 + w->cut1_len) ||
            (w->cut2_len > 0 && i >= w->cut2 && i < w->cut2 + w->cut2_len))
            continue;
        out[o++] = text[w->start + i];
    }
    return o;
}

/* A word that ends a sentence: . ! ? or an ellipsis, possibly followed by
 * closing quotes and brackets. */
static int words_ends_sentence(const char *s, const speech_word *w)
{
    size_t i = w->len;

    while (i > 0) {
        unsigned char c = (unsigned char)s[w->start + i - 1];

        if (c == '"' || c == '\'' || c == ')' || c == ']')
            i--;
        else if (i >= 3 && c == 0x9d && memcmp(s + w->start + i - 3, "\xe2\x80\x9d", 3) == 0)
            i -= 3; /* U+201D */
        else
            break;
    }
    if (i == 0)
        return 0;
    char last = s[w->start + i - 1];
    if (last == '.' || last == '!' || last == '?')
        return 1;
    return i >= 3 && memcmp(s + w->start + i - 3, "\xe2\x80\xa6", 3) == 0; /* U+2026 */
}

typedef struct words_vec {
    void *p;
    size_t n, cap, size;
} words_vec;

static void *words_push(words_vec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        void *p = realloc(v->p, cap * v->size);

        if (p == NULL)
            return NULL;
        v->p = p;
        v->cap = cap;
    }
    return (char *)v->p + v->size * v->n++;
}

/* Segments of paragraph p (words already in place). */
static int words_segment(const char *s, speech_text *t, words_vec *segs, uint32_t p,
                         size_t seg_soft, size_t seg_max)
{
    const speech_para *pa = &t->paras[p];
    uint32_t first = pa->first, end = pa->first + pa->n;

    while (first < end) {
        uint32_t last = first; /* inclusive */
        const speech_word *w0 = &t->words[first];

        while (last + 1 < end) {
            const speech_word *wl = &t->words[last], *wn = &t->words[last + 1];
            size_t cur = (size_t)wl->start + wl->len - w0->start;
            size_t with_next = (size_t)wn->start + wn->len - w0->start;

            if (cur >= seg_soft && words_ends_sentence(s, wl))
                break;
            if (with_next > seg_max)
                break;
            last++;
        }
        speech_seg *sg = words_push(segs);
        if (sg == NULL)
            return LX_ENOMEM;
        sg->start = w0->start;
        sg->len = t->words[last].start + t->words[last].len - w0->start;
        sg->first = first;
        sg->n = last - first + 1;
        sg->para = p;
        sg->ends_para = last + 1 == end;
        first = last + 1;
    }
    return LX_OK;
}

int speech_split(const char *text, size_t len, size_t seg_soft, size_t seg_max, speech_text *out)
{
    const unsigned char *u = (const unsigned char *)text;
    words_vec words = {.size = sizeof(speech_word)};
    words_vec paras = {.size = sizeof(speech_para)};
    words_vec segs = {.size = sizeof(speech_seg)};
    size_t i = 0, run = 0;
    int in_run = 0, breaks = 0, rc = LX_OK;

    memset(out, 0, sizeof(*out));
    if (len >= UINT32_MAX || (len > 0 && text == NULL) || !lx_utf8_valid(text, len))
        return LX_EINVAL;
    seg_soft = seg_soft ? seg_soft : SPEECH_SEG_SOFT;
    seg_max = seg_max ? seg_max : SPEECH_SEG_MAX;

    while (i <= len) {
        uint32_t cp = ' ', next = 0;
        int is_ok = 1;
        size_t n = 1;

        if (i < len) {
            n = lx_utf8_next(u + i, len - i, &cp, &is_ok);
            if (i + n < len)
                next = u[i + n];
        }
        if (i == len || words_is_sep(cp)) {
            speech_word cand;

            if (in_run && words_trim(text, run, i, &cand)) {
                speech_word *w;
                speech_para *pa;

                if (paras.n == 0 || breaks >= 2) {
                    if ((pa = words_push(&paras)) == NULL)
                        goto nomem;
                    pa->first = (uint32_t)words.n;
                    pa->n = 0;
                }
                pa = (speech_para *)paras.p + (paras.n - 1);
                if ((w = words_push(&words)) == NULL)
                    goto nomem;
                *w = cand;
                w->para = (uint32_t)(paras.n - 1);
                pa->n++;
                breaks = 0;
            }
            in_run = 0;
            if (i < len)
                breaks += words_breaks(cp, next);
        } else if (!in_run) {
            in_run = 1;
            run = i;
        }
        i += n;
    }
    out->words = words.p;
    out->n_words = words.n;
    out->paras = paras.p;
    out->n_paras = paras.n;
    for (uint32_t p = 0; p < out->n_paras && rc == LX_OK; p++)
        rc = words_segment(text, out, &segs, p, seg_soft, seg_max);
    out->segs = segs.p;
    out->n_segs = segs.n;
    if (rc != LX_OK)
        speech_text_free(out);
    return rc;
nomem:
    free(words.p);
    free(paras.p);
    return LX_ENOMEM;
}

void speech_text_free(speech_text *t)
{
    if (t == NULL)
        return;
    free(t->words);
    free(t->paras);
    free(t->segs);
    memset(t, 0, sizeof(*t));
}

void speech_seg_text(const char *text, const speech_text *t, size_t seg, char *out)
{
    const speech_seg *sg = &t->segs[seg];
    size_t pos = 0;

    memset(out, ' ', sg->len);
    out[sg->len] = '\0';
    for (uint32_t k = 0; k < sg->n; k++) {
        const speech_word *w = &t->words[sg->first + k];

        pos = w->start - sg->start;
        memcpy(out + pos, text + w->start, w->len);
        if (w->cut1_len > 0)
            memset(out + pos + w->cut1, ' ', w->cut1_len);
        if (w->cut2_len > 0)
            memset(out + pos + w->cut2, ' ', w->cut2_len);
    }
}
