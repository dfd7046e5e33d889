#include "config.h"

/*
 * The read-aloud assets' pure pieces (plugins/speech/assets_parse.c): the
 * Range header a browser's <audio> sends to seek, the chunks a document's
 * text is spoken in, and the MP3 frame counter that places each chunk's
 * words on the joined audio's time line.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "assets.h"
#include "assets_parse.h"
#include "join.h"

/* ------------------------------------------------------------------------ */
/* Range                                                                    */

static void expect_range(const char *h, int64_t size, int want, int64_t from, int64_t to)
{
    int64_t f = -7, t = -7;
    int r = speech_range(h, size, &f, &t);

    if (r != want)
        fail_msg("%s (size %lld): %d, want %d", h ? h : "(null)", (long long)size, r, want);
    if (want == 1 && (f != from || t != to))
        fail_msg("%s: %lld-%lld, want %lld-%lld", h, (long long)f, (long long)t, (long long)from,
                 (long long)to);
}

static void test_range_single_ranges_give_206(void **unused)
{
    (void)unused;
    expect_range("bytes=0-99", 1000, 1, 0, 99);
    expect_range("bytes=100-", 1000, 1, 100, 999);
    expect_range("bytes=999-999", 1000, 1, 999, 999);
    expect_range("bytes=0-0", 1, 1, 0, 0);
    /* the end past the asset is clamped to it */
    expect_range("bytes=500-5000", 1000, 1, 500, 999);
    /* the unit's name is case-insensitive; spaces around the range are allowed */
    expect_range("Bytes=1-2", 10, 1, 1, 2);
    expect_range("bytes= 1-2 ", 10, 1, 1, 2);
}

static void test_range_suffix_ranges_count_from_the_end(void **unused)
{
    (void)unused;
    expect_range("bytes=-100", 1000, 1, 900, 999);
    expect_range("bytes=-1", 1000, 1, 999, 999);
    expect_range("bytes=-1000", 1000, 1, 0, 999);
    expect_range("bytes=-5000", 1000, 1, 0, 999); /* more than there is: all of it */
    expect_range("bytes=-0", 1000, -1, 0, 0);     /* nothing is unsatisfiable */
}

static void test_range_past_the_end_is_416(void **unused)
{
    (void)unused;
    expect_range("bytes=1000-", 1000, -1, 0, 0);
    expect_range("bytes=1000-2000", 1000, -1, 0, 0);
    expect_range("bytes=5000-6000", 1000, -1, 0, 0);
}

static void test_range_overflowing_numbers(void **unused)
{
    (void)unused;
    /* a first byte past any int64_t is past the end */
    expect_range("bytes=99999999999999999999999-", 1000, -1, 0, 0);
    expect_range("bytes=99999999999999999999999-99999999999999999999999", 1000, -1, 0, 0);
    /* a last byte past any int64_t is the end */
    expect_range("bytes=10-99999999999999999999999", 1000, 1, 10, 999);
    /* a suffix past any int64_t is the whole asset */
    expect_range("bytes=-99999999999999999999999", 1000, 1, 0, 999);
    expect_range("bytes=9223372036854775807-", 1000, -1, 0, 0);
    expect_range("bytes=0-9223372036854775807", INT64_MAX, 1, 0, INT64_MAX - 1);
}

static void test_range_ignored_when_not_understood(void **unused)
{
    (void)unused;
    expect_range(NULL, 1000, 0, 0, 0);
    expect_range("", 1000, 0, 0, 0);
    expect_range("items=0-1", 1000, 0, 0, 0);
    expect_range("bytes=", 1000, 0, 0, 0);
    expect_range("bytes=-", 1000, 0, 0, 0);
    expect_range("bytes=5", 1000, 0, 0, 0);
    expect_range("bytes=a-b", 1000, 0, 0, 0);
    expect_range("bytes=5-x", 1000, 0, 0, 0);
    expect_range("bytes=5-10x", 1000, 0, 0, 0);
    expect_range("bytes=-5x", 1000, 0, 0, 0);
    expect_range("bytes=+5-10", 1000, 0, 0, 0);
    expect_range("bytes=5-+10", 1000, 0, 0, 0);
    expect_range("bytes=--5", 1000, 0, 0, 0);
    expect_range("bytes=10-5", 1000, 0, 0, 0); /* last before first: invalid */
    /* the end's digits after a space are not a range end to drop */
    expect_range("bytes=5- 7", 1000, 0, 0, 0);
    expect_range("bytes=0-5 6", 1000, 0, 0, 0);
    expect_range("bytes=-5 6", 1000, 0, 0, 0);
    /* several ranges: served whole (RFC 9110 lets a server ignore them) */
    expect_range("bytes=0-1,5-6", 1000, 0, 0, 0);
    expect_range("bytes=2000-3000, 4000-5000", 1000, 0, 0, 0);
    /* an empty asset: the whole (empty) asset, never a 416 */
    expect_range("bytes=0-", 0, 0, 0, 0);
    expect_range("bytes=-5", 0, 0, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* The chunk planner                                                        */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The chunks of text joined by '|' (and '#' where a paragraph break
 * follows), after checking the planner's promises. */
static char *plan_of(const char *text, size_t max)
{
    static char out[8192];
    speech_chunk *c;
    size_t n, o = 0, len = strlen(text), prev_end = 0;

    assert_int_equal(speech_chunk_plan(text, len, max, &c, &n), LX_OK);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        assert_true(c[i].start < c[i].end);
        assert_true(c[i].end - c[i].start <= max);
        assert_true(c[i].start >= prev_end);
        assert_false(is_space(text[c[i].start]));
        assert_false(is_space(text[c[i].end - 1]));
        for (size_t k = prev_end; k < c[i].start; k++) /* nothing but spaces skipped */
            assert_true(is_space(text[k]));
        assert_true(((unsigned char)text[c[i].start] & 0xc0) != 0x80); /* no UTF-8 split */
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s", i ? "|" : "",
                              (int)(c[i].end - c[i].start), text + c[i].start);
        if (c[i].para_after)
            o += (size_t)snprintf(out + o, sizeof(out) - o, "#");
        prev_end = c[i].end;
    }
    for (size_t k = prev_end; k < len; k++)
        assert_true(is_space(text[k]));
    if (n > 0)
        assert_int_equal(c[n - 1].para_after, 0);
    free(c);
    return out;
}

static void test_plan_keeps_paragraphs_whole_while_they_fit(void **unused)
{
    (void)unused;
    assert_string_equal(plan_of("One two.\n\nThree four.", 100), "One two.\n\nThree four.");
    assert_string_equal(plan_of("One two.\n\nThree four.", 12), "One two.#|Three four.");
    /* a single newline is not a paragraph break */
    assert_string_equal(plan_of("aaaa bbbb\ncccc", 9), "aaaa bbbb|cccc");
    assert_string_equal(plan_of("aaaa bbbb\ncccc", 8), "aaaa|bbbb|cccc");
    /* \r\n\r\n and a form feed are */
    assert_string_equal(plan_of("aaaa\r\n\r\nbbbb", 5), "aaaa#|bbbb");
    assert_string_equal(plan_of("aaaa\fbbbb", 5), "aaaa#|bbbb");
    /* white space around the text is dropped */
    assert_string_equal(plan_of("  \n\n  word  \n\n ", 10), "word");
}

static void test_plan_cuts_long_paragraphs_between_words(void **unused)
{
    (void)unused;
    assert_string_equal(plan_of("aa bb cc dd ee", 5), "aa bb|cc dd|ee");
    /* a run of spaces at the cut ends neither chunk */
    assert_string_equal(plan_of("aa   \r\r  bb cc", 7), "aa|bb cc");
    /* the long paragraph's last piece shares its chunk with nothing after a break */
    assert_string_equal(plan_of("aa bb cc\n\ndd", 5), "aa bb|cc#|dd");
    assert_string_equal(plan_of("x\n\naaa bbb ccc", 7), "x#|aaa bbb|ccc");
}

static void test_plan_cuts_long_words_at_utf8_boundaries(void **unused)
{
    (void)unused;
    assert_string_equal(plan_of("abcdefghij", 4), "abcd|efgh|ij");
    /* "é" is two bytes: never cut between them */
    assert_string_equal(plan_of("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5),
                        "\xc3\xa9\xc3\xa9|\xc3\xa9\xc3\xa9");
    assert_string_equal(plan_of("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 5),
                        "\xf0\x9f\x98\x80|\xf0\x9f\x98\x80");
    assert_string_equal(plan_of("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 4),
                        "\xf0\x9f\x98\x80|\xf0\x9f\x98\x80");
}

static void test_plan_of_nothing(void **unused)
{
    speech_chunk *c = (speech_chunk *)1;
    size_t n = 9;

    (void)unused;
    assert_int_equal(speech_chunk_plan("", 0, 10, &c, &n), LX_OK);
    assert_int_equal(n, 0);
    assert_null(c);
    assert_int_equal(speech_chunk_plan(" \n\n\t ", 5, 10, &c, &n), LX_OK);
    assert_int_equal(n, 0);
    free(c);
    /* a limit a UTF-8 character may not fit in is refused (0 would never advance) */
    assert_int_equal(speech_chunk_plan("abc", 3, 0, &c, &n), LX_EINVAL);
    assert_int_equal(speech_chunk_plan("abc", 3, 3, &c, &n), LX_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* MP3 frames                                                               */

/* Appends n frames of MPEG-1 layer III, 128 kbit/s, 44.1 kHz, stereo
 * (417 bytes each, 418 padded) whose bodies are `fill`. */
static size_t put_frames(unsigned char *p, size_t at, int n, int padded, unsigned char fill)
{
    for (int i = 0; i < n; i++) {
        size_t len = padded ? 418 : 417;
        p[at] = 0xff;
        p[at + 1] = 0xfb;
        p[at + 2] = 0x90 | (padded ? 2 : 0);
        p[at + 3] = 0x00;
        memset(p + at + 4, fill, len - 4);
        at += len;
    }
    return at;
}

#define FRAME_S (1152.0 / 44100.0)

static void test_mp3_counts_cbr_frames(void **unused)
{
    static unsigned char b[100 * 420];
    size_t n;

    (void)unused;
    n = put_frames(b, 0, 10, 0, 0);
    assert_float_equal(speech_mp3_seconds(b, n), 10 * FRAME_S, 1e-9);
    n = put_frames(b, n, 3, 1, 0);
    assert_float_equal(speech_mp3_seconds(b, n), 13 * FRAME_S, 1e-9);
    assert_float_equal(speech_mp3_seconds(b, 0), 0, 0);
    assert_float_equal(speech_mp3_seconds(b, 3), 0, 0);
}

static void test_mp3_mpeg2_and_mono_frames(void **unused)
{
    static unsigned char b[4096];
    size_t at = 0;

    (void)unused;
    /* MPEG-2 layer III, 64 kbit/s, 22.05 kHz: 72 * 64000 / 22050 = 208 bytes, 576 samples */
    for (int i = 0; i < 4; i++, at += 208) {
        memset(b + at, 0, 208);
        b[at] = 0xff;
        b[at + 1] = 0xf3;
        b[at + 2] = 0x80;
        b[at + 3] = 0xc0; /* mono */
    }
    assert_float_equal(speech_mp3_seconds(b, at), 4 * 576.0 / 22050.0, 1e-9);
}

static void test_mp3_truncated_last_frame_does_not_count(void **unused)
{
    static unsigned char b[10 * 420];
    size_t n;

    (void)unused;
    n = put_frames(b, 0, 5, 0, 0);
    assert_float_equal(speech_mp3_seconds(b, n - 1), 4 * FRAME_S, 1e-9);
    assert_float_equal(speech_mp3_seconds(b, n - 416), 4 * FRAME_S, 1e-9);
}

static void test_mp3_garbage_is_skipped(void **unused)
{
    static unsigned char b[20 * 420];
    size_t n;

    (void)unused;
    /* garbage before the frames, with almost-headers: reserved version,
     * layer I, bit rate 15, sample rate 3 */
    memcpy(b, "\x12\x34\xff\xeb\x90\x00\xff\xff\xff\xfd\x90\x00\xff\xfb\xf0\x00\xff\xfb\x9c\x00",
           20);
    n = put_frames(b, 20, 6, 0, 0);
    assert_float_equal(speech_mp3_seconds(b, n), 6 * FRAME_S, 1e-9);
    /* no frame at all */
    memset(b, 0xff, 1000);
    assert_float_equal(speech_mp3_seconds(b, 1000), 0, 0);
    memset(b, 0x00, 1000);
    assert_float_equal(speech_mp3_seconds(b, 1000), 0, 0);
}

static void test_mp3_id3v2_tag_is_skipped(void **unused)
{
    static unsigned char b[20 * 420];
    size_t n;

    (void)unused;
    /* a 300-byte tag holding what looks like frame headers */
    memset(b, 0, 310);
    memcpy(b, "ID3\x04\x00\x00\x00\x00\x02\x2c", 10); /* size 2 * 128 + 44 = 300 */
    for (size_t k = 10; k + 4 < 310; k += 20)
        memcpy(b + k, "\xff\xfb\x90\x00", 4);
    n = put_frames(b, 310, 7, 0, 0);
    assert_float_equal(speech_mp3_seconds(b, n), 7 * FRAME_S, 1e-9);
    /* a tag whose size says more than there is */
    memcpy(b, "ID3\x04\x00\x00\x7f\x7f\x7f\x7f", 10);
    assert_float_equal(speech_mp3_seconds(b, n), 0, 0);
    /* "ID3" with a size that is not syncsafe is not a tag */
    memcpy(b, "ID3\x04\x00\x00\x00\x00\x02\x80", 10);
    assert_true(speech_mp3_seconds(b, n) >= 7 * FRAME_S - 1e-9);
}

static void test_mp3_xing_frame_is_not_audio(void **unused)
{
    static unsigned char b[20 * 420];
    size_t n;

    (void)unused;
    n = put_frames(b, 0, 9, 0, 0);
    memcpy(b + 4 + 32, "Info", 4); /* stereo MPEG-1: after 32 bytes of side information */
    assert_float_equal(speech_mp3_seconds(b, n), 8 * FRAME_S, 1e-9);
    memcpy(b + 4 + 32, "Xing", 4);
    assert_float_equal(speech_mp3_seconds(b, n), 8 * FRAME_S, 1e-9);
    /* only the first frame is a header; "Info" later is audio that happens to say so */
    memcpy(b + 4 + 32, "\0\0\0\0", 4);
    memcpy(b + 417 * 3 + 4 + 32, "Info", 4);
    assert_float_equal(speech_mp3_seconds(b, n), 9 * FRAME_S, 1e-9);
}

static void test_mp3_free_format_frames(void **unused)
{
    static unsigned char b[8192];
    size_t at = 0;

    (void)unused;
    /* MPEG-1 layer III free format (bit rate index 0), 48 kHz, 600-byte frames */
    for (int i = 0; i < 5; i++, at += 600) {
        memset(b + at, 0x11, 600);
        b[at] = 0xff;
        b[at + 1] = 0xfb;
        b[at + 2] = 0x04;
        b[at + 3] = 0x00;
    }
    assert_float_equal(speech_mp3_seconds(b, at), 5 * 1152.0 / 48000.0, 1e-9);
    /* the last one cut short does not count */
    assert_float_equal(speech_mp3_seconds(b, at - 10), 4 * 1152.0 / 48000.0, 1e-9);
    /* a lone free-format frame has no length to measure */
    assert_float_equal(speech_mp3_seconds(b, 600), 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Backoff                                                                  */

static void test_backoff_doubles_up_to_the_cap(void **unused)
{
    (void)unused;
    assert_int_equal(speech_backoff_ms(0, 30000, 3600000), 0);
    assert_int_equal(speech_backoff_ms(1, 30000, 3600000), 30000);
    assert_int_equal(speech_backoff_ms(2, 30000, 3600000), 60000);
    assert_int_equal(speech_backoff_ms(3, 30000, 3600000), 120000);
    assert_int_equal(speech_backoff_ms(7, 30000, 3600000), 1920000);
    assert_int_equal(speech_backoff_ms(8, 30000, 3600000), 3600000);
    assert_int_equal(speech_backoff_ms(1000000, 30000, 3600000), 3600000);
    /* no overflow near the top of int64_t */
    assert_true(speech_backoff_ms(200, INT64_MAX / 3, INT64_MAX) == INT64_MAX);
    /* a minimum above the cap is the cap */
    assert_int_equal(speech_backoff_ms(1, 5000, 1000), 1000);
}

/* ------------------------------------------------------------------------ */
/* Signed URLs: the signature, and the owner sealed                         */

static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef";

static void test_sign_binds_path_owner_and_expiry(void **unused)
{
    char sig[65];

    (void)unused;
    assert_int_equal(speech_sign(KEY, 32, "/api/tts-assets/d/audio.mp3", "alice", 100, sig), LX_OK);
    assert_int_equal(strlen(sig), 64);
    assert_true(speech_sign_ok(KEY, 32, "/api/tts-assets/d/audio.mp3", "alice", 100, sig));
    assert_false(speech_sign_ok(KEY, 32, "/api/tts-assets/d/timepoints.json", "alice", 100, sig));
    assert_false(speech_sign_ok(KEY, 32, "/api/tts-assets/d/audio.mp3", "bob", 100, sig));
    assert_false(speech_sign_ok(KEY, 32, "/api/tts-assets/d/audio.mp3", "alice", 101, sig));
    assert_false(speech_sign_ok(KEY, 31, "/api/tts-assets/d/audio.mp3", "alice", 100, sig));
    assert_false(speech_sign_ok(KEY, 32, "/api/tts-assets/d/audio.mp3", "alice", 100, NULL));
    sig[63] = sig[63] == '0' ? '1' : '0';
    assert_false(speech_sign_ok(KEY, 32, "/api/tts-assets/d/audio.mp3", "alice", 100, sig));
}

static void test_seal_hides_the_owner_and_refuses_alterations(void **unused)
{
    const char *uid = "student-8f3a2c91";
    char a[256], b[256], got[129];
    size_t n;

    (void)unused;
    assert_int_equal(speech_seal_uid(KEY, 32, uid, a, sizeof(a)), LX_OK);
    assert_int_equal(speech_seal_uid(KEY, 32, uid, b, sizeof(b)), LX_OK);
    assert_null(strstr(a, uid));
    assert_string_not_equal(a, b); /* a fresh nonce each time */
    n = strlen(a);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     n);
    assert_int_equal(speech_open_uid(KEY, 32, a, got, sizeof(got)), LX_OK);
    assert_string_equal(got, uid);
    assert_int_equal(speech_open_uid(KEY, 32, b, got, sizeof(got)), LX_OK);
    assert_string_equal(got, uid);
    /* another key, an altered character, a cut, garbage: refused */
    assert_int_equal(speech_open_uid(KEY, 31, a, got, sizeof(got)), LX_EINVAL);
    for (size_t i = 0; i < n; i++) {
        char t[256];
        strcpy(t, a);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_equal(speech_open_uid(KEY, 32, t, got, sizeof(got)), LX_EINVAL);
    }
    a[n - 2] = '\0';
    assert_int_equal(speech_open_uid(KEY, 32, a, got, sizeof(got)), LX_EINVAL);
    assert_int_equal(speech_open_uid(KEY, 32, "", got, sizeof(got)), LX_EINVAL);
    assert_int_equal(speech_open_uid(KEY, 32, "u1", got, sizeof(got)), LX_EINVAL);
    assert_int_equal(speech_open_uid(KEY, 32, "!!!!", got, sizeof(got)), LX_EINVAL);
    assert_int_equal(speech_open_uid(KEY, 32, NULL, got, sizeof(got)), LX_EINVAL);
    /* the longest uid the routes take, and one past it */
    {
        char long_uid[130], big[512];
        memset(long_uid, 'x', 129);
        long_uid[128] = '\0';
        assert_int_equal(speech_seal_uid(KEY, 32, long_uid, big, sizeof(big)), LX_OK);
        assert_true(strlen(big) < 240);
        assert_int_equal(speech_open_uid(KEY, 32, big, got, sizeof(got)), LX_OK);
        assert_string_equal(got, long_uid);
        long_uid[128] = 'x';
        long_uid[129] = '\0';
        assert_int_equal(speech_seal_uid(KEY, 32, long_uid, big, sizeof(big)), LX_EINVAL);
        assert_int_equal(speech_seal_uid(KEY, 32, "", big, sizeof(big)), LX_EINVAL);
    }
}

/* ------------------------------------------------------------------------ */
/* Parts joined (join.c): a long text spoken by several helpers at once     */

static void test_join_moves_later_parts_by_the_frames_before(void **unused)
{
    static unsigned char a0[20 * 420], a1[20 * 420];
    uint32_t ends0[] = {100, 200}, ends1[] = {40};
    speech_mark m0[] = {{0, 0, 5}, {1, 3, 150}}, m1[] = {{0, 0, 30}};
    uint32_t first[] = {0, 2};
    speech_audio parts[2] = {
        {.sample_rate = 44100, .n_samples = 11000, .seg_end_ms = ends0, .n_segs = 2,
         .marks = m0, .n_marks = 2, .mp3 = a0},
        {.sample_rate = 44100, .n_samples = 3000, .seg_end_ms = ends1, .n_segs = 1,
         .marks = m1, .n_marks = 1, .mp3 = a1},
    };
    speech_audio out;

    (void)unused;
    parts[0].mp3_len = put_frames(a0, 0, 10, 0, 0x11);
    parts[1].mp3_len = put_frames(a1, 0, 3, 0, 0x22);
    assert_int_equal(speech_audio_join(parts, first, 2, &out), LX_OK);
    /* ten frames of 1,152 samples at 44.1 kHz before the second part: 261 ms */
    assert_int_equal(out.sample_rate, 44100);
    assert_int_equal(out.n_samples, 11520 + 3000);
    assert_int_equal(out.n_segs, 3);
    assert_int_equal(out.seg_end_ms[0], 100);
    assert_int_equal(out.seg_end_ms[1], 200);
    assert_int_equal(out.seg_end_ms[2], 40 + 261);
    assert_int_equal(out.n_marks, 3);
    assert_int_equal(out.marks[1].seg, 1);
    assert_int_equal(out.marks[1].off, 3);
    assert_int_equal(out.marks[1].ms, 150);
    assert_int_equal(out.marks[2].seg, 2);
    assert_int_equal(out.marks[2].off, 0);
    assert_int_equal(out.marks[2].ms, 30 + 261);
    assert_int_equal(out.mp3_len, parts[0].mp3_len + parts[1].mp3_len);
    assert_memory_equal(out.mp3, a0, parts[0].mp3_len);
    assert_memory_equal(out.mp3 + parts[0].mp3_len, a1, parts[1].mp3_len);
    assert_true(speech_mp3_seconds(out.mp3, out.mp3_len) > 13 * FRAME_S - 1e-9);
    speech_audio_free(&out);

    /* one part is itself */
    assert_int_equal(speech_audio_join(parts, first, 1, &out), LX_OK);
    assert_int_equal(out.n_samples, 11000);
    assert_int_equal(out.n_marks, 2);
    speech_audio_free(&out);
}

static void test_join_refuses_parts_that_do_not_fit(void **unused)
{
    static unsigned char a0[4 * 420], a1[4 * 420];
    uint32_t ends[] = {10};
    uint32_t first[] = {0, 1}, gap[] = {0, 2};
    speech_audio parts[2] = {
        {.sample_rate = 22050, .n_samples = 100, .seg_end_ms = ends, .n_segs = 1, .mp3 = a0},
        {.sample_rate = 22050, .n_samples = 100, .seg_end_ms = ends, .n_segs = 1, .mp3 = a1},
    };
    speech_audio out;

    (void)unused;
    parts[0].mp3_len = put_frames(a0, 0, 2, 0, 0);
    parts[1].mp3_len = put_frames(a1, 0, 2, 0, 0);
    /* segments that do not follow on */
    assert_int_equal(speech_audio_join(parts, gap, 2, &out), LX_EINVAL);
    /* different sample rates */
    parts[1].sample_rate = 44100;
    assert_int_equal(speech_audio_join(parts, first, 2, &out), LX_EINVAL);
    parts[1].sample_rate = 22050;
    /* a first part that is not MP3: no length to move the second by */
    memset(a0, 0, sizeof(a0));
    assert_int_equal(speech_audio_join(parts, first, 2, &out), LX_EINVAL);
    assert_null(out.mp3);
    assert_int_equal(speech_audio_join(parts, first, 0, &out), LX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_single_ranges_give_206),
        cmocka_unit_test(test_range_suffix_ranges_count_from_the_end),
        cmocka_unit_test(test_range_past_the_end_is_416),
        cmocka_unit_test(test_range_overflowing_numbers),
        cmocka_unit_test(test_range_ignored_when_not_understood),
        cmocka_unit_test(test_plan_keeps_paragraphs_whole_while_they_fit),
        cmocka_unit_test(test_plan_cuts_long_paragraphs_between_words),
        cmocka_unit_test(test_plan_cuts_long_words_at_utf8_boundaries),
        cmocka_unit_test(test_plan_of_nothing),
        cmocka_unit_test(test_mp3_counts_cbr_frames),
        cmocka_unit_test(test_mp3_mpeg2_and_mono_frames),
        cmocka_unit_test(test_mp3_truncated_last_frame_does_not_count),
        cmocka_unit_test(test_mp3_garbage_is_skipped),
        cmocka_unit_test(test_mp3_id3v2_tag_is_skipped),
        cmocka_unit_test(test_mp3_xing_frame_is_not_audio),
        cmocka_unit_test(test_mp3_free_format_frames),
        cmocka_unit_test(test_backoff_doubles_up_to_the_cap),
        cmocka_unit_test(test_sign_binds_path_owner_and_expiry),
        cmocka_unit_test(test_seal_hides_the_owner_and_refuses_alterations),
        cmocka_unit_test(test_join_moves_later_parts_by_the_frames_before),
        cmocka_unit_test(test_join_refuses_parts_that_do_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
