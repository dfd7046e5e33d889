/*
 * Engine word times to the timepoints the frontend highlights with.
 *
 * An engine reports where it starts speaking a word as a byte offset in the
 * segment text it was given (speech_seg_text) and a time. Its words are not
 * the student's: "$12" may be two spoken words, "3.5" three, a dash none,
 * and an engine may cut a token differently. Each engine word goes to the
 * display word it starts in (or the one before it, when it starts between
 * words); a display word's time is the earliest of its engine words; a
 * display word no engine word started in (a lone "—") takes the time of
 * the next one that has a time, or the end of its segment's speech.
 *
 * The result, per the contract of POST /api/tts/synthesize: one entry per
 * display word in order, one PARAGRAPH_BREAK between paragraphs (at the end
 * of the paragraph's speech), times never decreasing, and every time
 * before the end of the audio (when there is audio).
 *
 * Pure code, fuzzed with the splitter (tests/fuzz/fuzz_speech_words.c).
 */
#ifndef SPEECH_ALIGN_H
#define SPEECH_ALIGN_H

#include <stddef.h>
#include <stdint.h>

#include "words.h"

/* A word an engine started speaking. */
typedef struct speech_mark {
    uint32_t seg; /* segment index */
    uint32_t off; /* byte offset in the segment's text */
    uint32_t ms;  /* from the start of the audio */
} speech_mark;

/* One timepoint: a display word, or a paragraph break. */
typedef struct speech_tp {
    uint32_t word; /* index into t->words; UINT32_MAX for PARAGRAPH_BREAK */
    uint32_t ms;
} speech_tp;

#define SPEECH_TP_BREAK UINT32_MAX

/* Timepoints for t from the engine's marks (any order, any values: marks
 * naming no segment are ignored, offsets past a segment are clamped),
 * seg_end_ms[n_segs] (each segment's end of speech; made non-decreasing)
 * and the audio's length total_ms. *out is malloc'd with
 * t->n_words + max(0, n_paras - 1) entries (NULL and 0 for a text with no
 * word). LX_OK or LX_ENOMEM. */
int speech_align(const speech_text *t, const speech_mark *marks, size_t n_marks,
                 const uint32_t *seg_end_ms, uint32_t total_ms, speech_tp **out, size_t *n_out);

#endif
