/*
 * The read-aloud assets' pure pieces (assets_parse.c): no host calls, no
 * I/O, so the unit tests (tests/unit/test_speech_assets.c) and the fuzzer
 * (tests/fuzz/fuzz_speech_assets.c) link them alone.
 *
 *   speech_range       a Range header against an asset's size
 *   speech_chunk_plan  a document's text cut into chunks for the engines
 *   speech_mp3_seconds seconds of MPEG layer III audio in a buffer
 *   speech_backoff_ms  how long a document whose assets failed waits
 *
 * All are safe on any input of the given length (no NUL needed), on any
 * thread.
 */
#ifndef SPEECH_ASSETS_PARSE_H
#define SPEECH_ASSETS_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* The Range header h (may be NULL) against an asset of `size` bytes
 * (RFC 9110 section 14): 0 when it is to be ignored (absent, another unit,
 * several ranges, bad syntax, an empty asset: the whole asset is served
 * with 200), 1 with [*from, *to] inclusive inside the asset (the end
 * clamped to it), -1 when it is unsatisfiable (416): a first byte at or
 * past the end, or "bytes=-0". Numbers too large for int64_t are treated
 * as "past the end" (a first byte, the suffix: the whole asset). */
int speech_range(const char *h, int64_t size, int64_t *from, int64_t *to);

/* One chunk of a plan: bytes [start, end) of the text, no white space at
 * either end; para_after: a paragraph break (a blank line) follows it and
 * another chunk comes after. */
typedef struct speech_chunk {
    size_t start, end;
    int para_after;
} speech_chunk;

/* Cuts t[0..len) into chunks of at most max bytes (max >= 4): whole
 * paragraphs while they fit, a longer paragraph after its last space
 * inside the limit, a word longer than the limit at a UTF-8 boundary. The
 * chunks are in order, cover every non-space byte once, and *out (freed
 * by the caller with free(); NULL when *n_out is 0) holds *n_out of them.
 * LX_OK, LX_EINVAL (max < 4), LX_ENOMEM. */
int speech_chunk_plan(const char *t, size_t len, size_t max, speech_chunk **out, size_t *n_out);

/* Seconds of MPEG-1/2/2.5 layer III audio in p[0..len): the frames
 * counted from their headers. An ID3v2 tag before the first frame is
 * skipped, bytes that are not a frame are skipped until a frame header, a
 * Xing/Info/VBRI frame first (metadata) and a truncated last frame do not
 * count, free-format frames (no bit rate in the header) are measured to
 * the next header alike. */
double speech_mp3_seconds(const unsigned char *p, size_t len);

/* The wait after the fails-th failure in a row: min_ms doubled for each
 * failure after the first, at most max_ms; 0 when fails <= 0. */
int64_t speech_backoff_ms(int fails, int64_t min_ms, int64_t max_ms);

#endif
