/*
 * Engine word times to timepoints (align.h).
 */
#include <stdlib.h>

#include <lexiaid/plugin.h>

#include "align.h"

#define ALIGN_UNSET UINT32_MAX

/* The display word of segment sg where an engine word starting at byte
 * `abs` of the text belongs: the last one starting at or before it, else
 * the segment's first. */
static uint32_t align_word(const speech_text *t, const speech_seg *sg, uint64_t abs)
{
    uint32_t lo = sg->first, hi = sg->first + sg->n; /* answer in [lo, hi) */

    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (t->words[mid].start <= abs)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int speech_align(const speech_text *t, const speech_mark *marks, size_t n_marks,
                 const uint32_t *seg_end_ms, uint32_t total_ms, speech_tp **out, size_t *n_out)
{
    uint32_t *word_ms, *seg_end, cur = 0, limit = total_ms > 0 ? total_ms - 1 : 0;
    size_t n = 0;
    speech_tp *tp;

    *out = NULL;
    *n_out = 0;
    if (t->n_words == 0)
        return LX_OK;
    word_ms = malloc(t->n_words * sizeof(*word_ms));
    seg_end = malloc(t->n_segs * sizeof(*seg_end));
    tp = malloc((t->n_words + t->n_paras - 1) * sizeof(*tp));
    if (word_ms == NULL || seg_end == NULL || tp == NULL) {
        free(word_ms);
        free(seg_end);
        free(tp);
        return LX_ENOMEM;
    }
    for (size_t i = 0; i < t->n_words; i++)
        word_ms[i] = ALIGN_UNSET;
    for (size_t s = 0; s < t->n_segs; s++) {
        cur = seg_end_ms[s] > cur ? seg_end_ms[s] : cur;
        seg_end[s] = cur;
    }

    for (size_t k = 0; k < n_marks; k++) {
        const speech_mark *m = &marks[k];
        const speech_seg *sg;
        uint32_t w;

        if (m->seg >= t->n_segs)
            continue;
        sg = &t->segs[m->seg];
        w = align_word(t, sg, (uint64_t)sg->start + (m->off < sg->len ? m->off : sg->len));
        if (m->ms < word_ms[w])
            word_ms[w] = m->ms;
    }

    /* Unspoken words: the next timed word of the segment, else its end. */
    for (size_t s = 0; s < t->n_segs; s++) {
        const speech_seg *sg = &t->segs[s];
        uint32_t next = seg_end[s];

        for (uint32_t k = sg->n; k-- > 0;) {
            uint32_t *ms = &word_ms[sg->first + k];

            if (*ms == ALIGN_UNSET || *ms > next)
                *ms = next;
            next = *ms;
        }
    }

    cur = 0;
    size_t s_cur = 0; /* segments are in paragraph order */
    for (size_t p = 0; p < t->n_paras; p++) {
        const speech_para *pa = &t->paras[p];

        for (uint32_t k = 0; k < pa->n; k++) {
            uint32_t w = pa->first + k;

            cur = word_ms[w] > cur ? word_ms[w] : cur;
            tp[n].word = w;
            tp[n++].ms = cur < limit ? cur : limit;
        }
        if (p + 1 < t->n_paras) {
            /* the end of the paragraph's last segment */
            while (s_cur + 1 < t->n_segs && t->segs[s_cur + 1].para <= p)
                s_cur++;
            cur = seg_end[s_cur] > cur ? seg_end[s_cur] : cur;
            tp[n].word = SPEECH_TP_BREAK;
            tp[n++].ms = cur < limit ? cur : limit;
        }
    }
    free(word_ms);
    free(seg_end);
    *out = tp;
    *n_out = n;
    return LX_OK;
}
