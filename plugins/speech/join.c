/*
 * One speech_audio from several (join.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "assets_parse.h"
#include "join.h"

int speech_audio_join(const speech_audio *parts, const uint32_t *first_seg, size_t n,
                      speech_audio *out)
{
    size_t segs = 0, marks = 0, bytes = 0;
    uint64_t at = 0; /* samples before the part, as decoded */

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return LX_EINVAL;
    for (size_t k = 0; k < n; k++) {
        if (parts[k].sample_rate != parts[0].sample_rate || parts[k].sample_rate == 0 ||
            first_seg[k] != segs)
            return LX_EINVAL;
        segs += parts[k].n_segs;
        marks += parts[k].n_marks;
        bytes += parts[k].mp3_len;
    }
    out->sample_rate = parts[0].sample_rate;
    out->seg_end_ms = malloc((segs ? segs : 1) * sizeof(*out->seg_end_ms));
    out->marks = malloc((marks ? marks : 1) * sizeof(*out->marks));
    out->mp3 = malloc(bytes ? bytes : 1);
    if (out->seg_end_ms == NULL || out->marks == NULL || out->mp3 == NULL) {
        speech_audio_free(out);
        return LX_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) {
        const speech_audio *a = &parts[k];
        uint64_t ms = at * 1000u / out->sample_rate;

        for (size_t s = 0; s < a->n_segs; s++)
            out->seg_end_ms[out->n_segs++] = (uint32_t)(a->seg_end_ms[s] + ms);
        for (size_t m = 0; m < a->n_marks; m++) {
            speech_mark *o = &out->marks[out->n_marks++];

            *o = a->marks[m];
            o->seg += first_seg[k];
            o->ms = (uint32_t)(o->ms + ms);
        }
        memcpy(out->mp3 + out->mp3_len, a->mp3, a->mp3_len);
        out->mp3_len += a->mp3_len;
        if (k + 1 < n) {
            double sec = speech_mp3_seconds(a->mp3, a->mp3_len);

            if (sec <= 0) {
                speech_audio_free(out);
                return LX_EINVAL;
            }
            at += (uint64_t)llround(sec * out->sample_rate);
        } else {
            out->n_samples = at + a->n_samples;
        }
    }
    return LX_OK;
}
