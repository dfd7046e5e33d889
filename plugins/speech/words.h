/*
 * Text to display words: what the student sees highlighted while the audio
 * plays, and what each speech engine is given to say.
 *
 * Pure code (no host calls, no I/O, no global state), fuzzed
 * (tests/fuzz/fuzz_speech_words.c) and unit-tested
 * (tests/unit/test_speech_words.c).
 *
 * The rules, as the LexiAid frontend needs them (../shared/docs/lexiaid-speech.md):
 *   - A display word is a maximal run of characters that are not
 *     separators, kept exactly as written: "3.5", "$12", "Dr.", "don't",
 *     "naïve", "end." ("mark_name" is the word itself).
 *   - Separators: Unicode White_Space, other control characters, U+200B
 *     and U+FEFF.
 *   - A new paragraph starts where the separators between two words hold
 *     two or more line breaks (LF, CR, CRLF, U+2028 count one; U+2029 and
 *     form feed count two): one PARAGRAPH_BREAK between paragraphs, none
 *     before the first or after the last.
 *   - Markdown markers are not words: a run made only of `*`, `_`, `` ` ``,
 *     `#` or `>` ("**", "##", "*" as a bullet), or of three or more of
 *     those and `~=-+|` ("---", "|---|"), is dropped; `*`, `_` and `` ` ``
 *     around a word are not part of it ("**Note:**" shows "Note:"), nor
 *     are `*` and `` ` `` between it and the punctuation around it
 *     ("*evaporates*." shows "evaporates.", "(**see**)" shows "(see)").
 *   - Segments: the units an engine synthesises at once, never across a
 *     paragraph; a paragraph longer than seg_soft bytes is cut after a
 *     word that ends a sentence, and no segment grows past seg_max bytes
 *     unless a single word is longer.
 */
#ifndef SPEECH_WORDS_H
#define SPEECH_WORDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct speech_word {
    uint32_t start; /* byte offset in the text */
    uint32_t len;   /* bytes, >= 1; never cuts a UTF-8 sequence */
    uint32_t para;  /* paragraph index */
    /* Markers inside the span that are not shown (offsets from start;
     * length 0 when none): after an opening and before a closing mark. */
    uint32_t cut1, cut1_len, cut2, cut2_len;
} speech_word;

typedef struct speech_para {
    uint32_t first; /* first word */
    uint32_t n;     /* words, >= 1 */
} speech_para;

typedef struct speech_seg {
    uint32_t start; /* byte of its first word */
    uint32_t len;   /* to the end of its last word */
    uint32_t first; /* first word */
    uint32_t n;     /* words, >= 1 */
    uint32_t para;
    int ends_para; /* the last segment of its paragraph */
} speech_seg;

typedef struct speech_text {
    speech_word *words;
    size_t n_words;
    speech_para *paras;
    size_t n_paras;
    speech_seg *segs;
    size_t n_segs;
} speech_text;

#define SPEECH_SEG_SOFT 300 /* default seg_soft */
#define SPEECH_SEG_MAX 1000 /* default seg_max */

/* Splits text[0..len) (UTF-8 without NUL; len < 4 GiB) into words,
 * paragraphs and segments (seg_soft and seg_max in bytes; 0 means the
 * defaults above). *out is filled (free with speech_text_free); a text
 * with no word gives zero of each. LX_OK, LX_EINVAL (not UTF-8, a NUL, or
 * too long) or LX_ENOMEM. */
int speech_split(const char *text, size_t len, size_t seg_soft, size_t seg_max, speech_text *out);

void speech_text_free(speech_text *t);

/* The word as the student sees it (its span without its cuts) into out
 * (room for w->len bytes; not NUL-terminated); returns its length (>= 1). */
size_t speech_word_display(const char *text, const speech_word *w, char *out);

/* The text an engine is given for segment `seg`: its bytes with every byte
 * outside a display word replaced by a space (separators, dropped
 * markers, cuts), so that byte offsets in it are offsets from seg->start.
 * Writes seg->len bytes and a NUL into out (room for seg->len + 1). */
void speech_seg_text(const char *text, const speech_text *t, size_t seg, char *out);

#endif
