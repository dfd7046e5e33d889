/*
 * libFuzzer target for the speech plugin's text-to-words splitter
 * (plugins/speech/words.c) and the alignment of engine word times to
 * display words (align.c). The input, split at its first NUL, is the text
 * (A) and a stream of engine marks and segment end times (B, 12 bytes a
 * mark). Checked on every input:
 *   speech_split (A, and A with small segment bounds): LX_OK iff A is UTF-8
 *       without NUL; words in order, inside A, never overlapping, never
 *       cutting a UTF-8 sequence, holding no separator byte (space, tab,
 *       CR, LF, FF, VT) and never empty once their cuts are taken out;
 *       paragraphs and segments cover every word once, in order; a segment
 *       never spans two paragraphs; its engine text has the segment's
 *       length and each display byte where the word has it;
 *   speech_align (the marks of B, whatever they are): one entry per word
 *       in order plus one PARAGRAPH_BREAK between paragraphs, times never
 *       decreasing, every time before the audio's end when there is audio.
 * Copies of exactly the input's size make reads past the end show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>
#include <lexiaid/utf8.h>

#include "align.h"
#include "words.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int is_sep_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_utf8_start(const char *s, size_t len, size_t i)
{
    return i == len || ((unsigned char)s[i] & 0xc0) != 0x80;
}

static void check_text(const char *text, size_t len, const speech_text *t)
{
    uint32_t prev_end = 0;
    size_t w = 0;
    char *shown = malloc(len + 1), *seg = malloc(len + 1);

    if (shown == NULL || seg == NULL)
        abort();
    for (size_t i = 0; i < t->n_words; i++) {
        const speech_word *x = &t->words[i];
        size_t n;

        if (x->len == 0 || x->start < prev_end || (size_t)x->start + x->len > len)
            abort();
        if (!is_utf8_start(text, len, x->start) || !is_utf8_start(text, len, x->start + x->len))
            abort();
        for (uint32_t k = 0; k < x->len; k++)
            if (is_sep_byte((unsigned char)text[x->start + k]))
                abort();
        if (x->cut1 + x->cut1_len > x->len || x->cut2 + x->cut2_len > x->len ||
            (x->cut2_len > 0 && x->cut2 < x->cut1 + x->cut1_len))
            abort();
        n = speech_word_display(text, x, shown);
        if (n == 0 || n > x->len || !lx_utf8_valid(shown, n))
            abort();
        prev_end = x->start + x->len;
    }
    for (size_t p = 0; p < t->n_paras; p++) {
        const speech_para *pa = &t->paras[p];

        if (pa->first != w || pa->n == 0)
            abort();
        for (uint32_t k = 0; k < pa->n; k++)
            if (t->words[pa->first + k].para != p)
                abort();
        w += pa->n;
    }
    if (w != t->n_words)
        abort();
    w = 0;
    for (size_t s = 0; s < t->n_segs; s++) {
        const speech_seg *sg = &t->segs[s];
        const speech_word *first = &t->words[sg->first], *last;

        if (sg->first != w || sg->n == 0 || sg->first + sg->n > t->n_words)
            abort();
        last = &t->words[sg->first + sg->n - 1];
        if (first->para != sg->para || last->para != sg->para || sg->start != first->start ||
            sg->len != last->start + last->len - first->start)
            abort();
        if (sg->ends_para != (sg->first + sg->n == t->paras[sg->para].first + t->paras[sg->para].n))
            abort();
        speech_seg_text(text, t, s, seg);
        if (strlen(seg) != sg->len)
            abort();
        for (uint32_t k = 0; k < sg->n; k++) {
            const speech_word *x = &t->words[sg->first + k];

            if (seg[x->start - sg->start] != text[x->start] && x->cut1_len == 0)
                abort();
        }
        w += sg->n;
    }
    if (w != t->n_words)
        abort();
    free(shown);
    free(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t alen = nul != NULL ? (size_t)(nul - data) : size;
    size_t blen = nul != NULL ? size - alen - 1 : 0;
    char *a = malloc(alen ? alen : 1);
    speech_text t;
    int rc;

    if (a == NULL)
        return 0;
    memcpy(a, data, alen);
    rc = speech_split(a, alen, 0, 0, &t);
    if ((rc == LX_OK) != lx_utf8_valid(a, alen))
        abort();
    if (rc == LX_OK) {
        speech_mark *marks;
        size_t n_marks = blen / 12, n_tp;
        uint32_t *ends = calloc(t.n_segs ? t.n_segs : 1, sizeof(*ends)), total;
        speech_tp *tp;

        check_text(a, alen, &t);
        marks = malloc((n_marks ? n_marks : 1) * sizeof(*marks));
        if (marks == NULL || ends == NULL)
            abort();
        for (size_t k = 0; k < n_marks; k++) {
            const uint8_t *m = nul + 1 + 12 * k;

            marks[k].seg = le32(m) % (uint32_t)(t.n_segs + 2);
            marks[k].off = le32(m + 4);
            marks[k].ms = le32(m + 8);
        }
        for (size_t s = 0; s < t.n_segs; s++)
            ends[s] = n_marks > s ? marks[s].ms : (uint32_t)(s * 1000);
        total = n_marks > 0 ? marks[n_marks - 1].off : 0;
        if (speech_align(&t, marks, n_marks, ends, total, &tp, &n_tp) != LX_OK)
            abort();
        if (n_tp != (t.n_words ? t.n_words + t.n_paras - 1 : 0))
            abort();
        for (size_t i = 0, w = 0, p = 0; i < n_tp; i++) {
            if (i > 0 && tp[i].ms < tp[i - 1].ms)
                abort();
            if (total > 0 && tp[i].ms >= total)
                abort();
            if (tp[i].word == SPEECH_TP_BREAK) {
                if (w == 0 || w != t.paras[p].first + t.paras[p].n)
                    abort();
                p++;
            } else if (tp[i].word != w++) {
                abort();
            }
        }
        free(tp);
        free(marks);
        free(ends);
        speech_text_free(&t);
        /* small bounds: many segments */
        if (speech_split(a, alen, 8, 24, &t) != LX_OK)
            abort();
        check_text(a, alen, &t);
        speech_text_free(&t);
    }
    free(a);
    return 0;
}
