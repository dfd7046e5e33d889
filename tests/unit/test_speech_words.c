#include "config.h"

/*
 * The speech plugin's pure pieces: the text-to-words splitter
 * (plugins/speech/words.c), the alignment of engine word times to display
 * words (align.c) and the helper protocol (proto.c). Each test pins down
 * what the student sees highlighted, or what crosses the pipe.
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

#include "align.h"
#include "proto.h"
#include "words.h"

/* The display words of text joined by '|', paragraphs by " // ". */
static char *words_of(const char *text, speech_text *t)
{
    static char out[4096];
    size_t o = 0;

    assert_int_equal(speech_split(text, strlen(text), 0, 0, t), LX_OK);
    out[0] = '\0';
    for (size_t i = 0; i < t->n_words; i++) {
        const speech_word *w = &t->words[i];

        if (i > 0)
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s",
                                  w->para != t->words[i - 1].para ? " // " : "|");
        char shown[512];
        size_t n = speech_word_display(text, w, shown);

        o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s", (int)n, shown);
    }
    return out;
}

static void test_words_keep_numbers_abbreviations_and_punctuation_whole(void **s)
{
    speech_text t;

    (void)s;
    assert_string_equal(words_of("Dr. Smith paid $12 for 3.5 kg, didn't he?", &t),
                        "Dr.|Smith|paid|$12|for|3.5|kg,|didn't|he?");
    assert_int_equal(t.n_paras, 1);
    speech_text_free(&t);
}

static void test_words_keep_utf8_words_whole(void **s)
{
    speech_text t;

    (void)s;
    /* NBSP and the ideographic space separate; é, ï, 日本 stay whole */
    assert_string_equal(words_of("naïve café\xc2\xa0"
                                 "crème 日本語\xe3\x80\x80テキスト",
                                 &t),
                        "naïve|café|crème|日本語|テキスト");
    speech_text_free(&t);
}

static void test_paragraphs_need_a_blank_line(void **s)
{
    speech_text t;

    (void)s;
    assert_string_equal(words_of("one two\nthree\n\nfour\r\n\r\nfive\r\nsix", &t),
                        "one|two|three // four // five|six");
    assert_int_equal(t.n_paras, 3);
    speech_text_free(&t);
    assert_string_equal(words_of("a\n \t\n b\xe2\x80\xa9"
                                 "c\fd",
                                 &t),
                        "a // b // c // d");
    speech_text_free(&t);
    /* no PARAGRAPH_BREAK before the first or after the last */
    assert_string_equal(words_of("\n\n\n  lead\n\n\n", &t), "lead");
    assert_int_equal(t.n_paras, 1);
    speech_text_free(&t);
}

static void test_markdown_markers_are_not_words(void **s)
{
    speech_text t;

    (void)s;
    assert_string_equal(
        words_of("## Heading\n\n**Note:** the *key* idea_ `code`\n\n---\n\n* item - dash", &t),
        "Heading // Note:|the|key|idea|code // item|-|dash");
    speech_text_free(&t);
    /* emphasis between a word and its punctuation */
    assert_string_equal(words_of("Water *evaporates*. (**see**) `x`, \"*quoted*\" 'a' don't "
                                 "2*3 ***!",
                                 &t),
                        "Water|evaporates.|(see)|x,|\"quoted\"|'a'|don't|2*3|!");
    speech_text_free(&t);
}

static void test_empty_and_invalid_text(void **s)
{
    speech_text t;

    (void)s;
    assert_int_equal(speech_split("", 0, 0, 0, &t), LX_OK);
    assert_int_equal(t.n_words, 0);
    assert_int_equal(speech_split(" \n\t ** ## ", 10, 0, 0, &t), LX_OK);
    assert_int_equal(t.n_words, 0);
    assert_int_equal(speech_split("bad \xff byte", 10, 0, 0, &t), LX_EINVAL);
    assert_int_equal(speech_split("nul\0inside", 10, 0, 0, &t), LX_EINVAL);
    assert_int_equal(speech_split("half \xe2\x82", 7, 0, 0, &t), LX_EINVAL);
}

static void test_segments_cut_long_paragraphs_at_sentence_ends(void **s)
{
    char text[6000], seg[2000];
    size_t len = 0;
    speech_text t;

    (void)s;
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "Sentence number %d ends. ", i);
    assert_int_equal(speech_split(text, len, 100, 400, &t), LX_OK);
    assert_int_equal(t.n_paras, 1);
    assert_true(t.n_segs > 5);
    for (size_t k = 0; k < t.n_segs; k++) {
        const speech_seg *sg = &t.segs[k];
        const speech_word *last = &t.words[sg->first + sg->n - 1];

        assert_true(sg->len <= 400);
        /* every cut but the last follows a sentence end */
        if (k + 1 < t.n_segs)
            assert_int_equal(text[last->start + last->len - 1], '.');
        assert_int_equal(sg->ends_para, k + 1 == t.n_segs);
        speech_seg_text(text, &t, k, seg);
        assert_int_equal(strlen(seg), sg->len);
        assert_memory_equal(seg, text + sg->start, sg->len);
    }
    speech_text_free(&t);
}

static void test_segment_text_blanks_markers_and_keeps_offsets(void **s)
{
    const char *text = "**Bold** and\tmore *so*.";
    char seg[64];
    speech_text t;

    (void)s;
    assert_int_equal(speech_split(text, strlen(text), 0, 0, &t), LX_OK);
    assert_int_equal(t.n_segs, 1);
    speech_seg_text(text, &t, 0, seg);
    assert_string_equal(seg, "Bold   and more  so .");
    speech_text_free(&t);
}

/* ------------------------------------------------------------------------ */
/* Alignment                                                                */

static void test_align_one_timepoint_per_word_and_breaks(void **s)
{
    const char *text = "Pay $12 now \xe2\x80\x94 ok.\n\nNext one.";
    speech_text t;
    speech_tp *tp;
    size_t n;
    /* "$12" spoken as two words ("twelve dollars") at 400 and 700 ms; the
     * dash not at all. */
    speech_mark marks[] = {
        {0, 0, 100},   {0, 4, 400},  {0, 5, 700},  {0, 8, 1000},
        {0, 16, 1500}, {1, 0, 2600}, {1, 5, 2900},
    };
    uint32_t seg_end[] = {1900, 3300};

    (void)s;
    assert_int_equal(speech_split(text, strlen(text), 0, 0, &t), LX_OK);
    assert_int_equal(t.n_words, 7);
    assert_int_equal(t.n_segs, 2);
    assert_int_equal(speech_align(&t, marks, 7, seg_end, 3400, &tp, &n), LX_OK);
    assert_int_equal(n, 8);
    assert_int_equal(tp[0].ms, 100);  /* Pay */
    assert_int_equal(tp[1].ms, 400);  /* $12: its first spoken word */
    assert_int_equal(tp[2].ms, 1000); /* now */
    assert_int_equal(tp[3].ms, 1500); /* the dash: the next spoken word's time */
    assert_int_equal(tp[4].ms, 1500); /* ok. */
    assert_int_equal(tp[5].word, SPEECH_TP_BREAK);
    assert_int_equal(tp[5].ms, 1900);
    assert_int_equal(tp[6].ms, 2600);
    assert_int_equal(tp[7].ms, 2900);
    free(tp);
    speech_text_free(&t);
}

static void test_align_never_decreases_and_ends_before_the_audio(void **s)
{
    const char *text = "a b c d\n\ne f";
    speech_text t;
    speech_tp *tp;
    size_t n;
    /* out of order, duplicate, past the end, an unknown segment */
    speech_mark marks[] = {{0, 6, 50},   {0, 0, 300}, {0, 2, 200},
                           {0, 2, 9000}, {7, 0, 1},   {1, 2, 99999}};
    uint32_t seg_end[] = {5000, 4000};

    (void)s;
    assert_int_equal(speech_split(text, strlen(text), 0, 0, &t), LX_OK);
    assert_int_equal(speech_align(&t, marks, 6, seg_end, 6000, &tp, &n), LX_OK);
    assert_int_equal(n, 7);
    for (size_t i = 1; i < n; i++)
        assert_true(tp[i].ms >= tp[i - 1].ms);
    for (size_t i = 0; i < n; i++)
        assert_true(tp[i].ms < 6000);
    free(tp);
    /* no audio at all: every time is 0 */
    assert_int_equal(speech_align(&t, NULL, 0, seg_end, 0, &tp, &n), LX_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tp[i].ms, 0);
    free(tp);
    speech_text_free(&t);
}

/* ------------------------------------------------------------------------ */
/* Protocol                                                                 */

static void test_proto_speak_round_trip_and_truncation(void **s)
{
    speech_wbuf b = {0};
    speech_speak rq;
    size_t off, plen, used;

    (void)s;
    speech_w_begin(&b, SPEECH_MSG_SPEAK);
    speech_w_u32(&b, SPEECH_PROTO_VERSION);
    speech_w_str(&b, "espeak-ng:en-us");
    speech_w_u32(&b, 1500);
    speech_w_u32(&b, (uint32_t)-250);
    speech_w_u32(&b, 40);
    speech_w_u32(&b, 600);
    speech_w_u32(&b, 2);
    speech_w_u8(&b, 0);
    speech_w_str(&b, "Hello there.");
    speech_w_u8(&b, 1);
    speech_w_str(&b, "naïve");
    assert_int_equal(speech_w_end(&b), LX_OK);
    assert_int_equal(speech_frame_next(b.p, b.len, &off, &plen, &used), 1);
    assert_int_equal(used, b.len);
    assert_int_equal(speech_speak_decode(b.p + off, plen, &rq), LX_OK);
    assert_string_equal(rq.voice, "espeak-ng:en-us");
    assert_int_equal(rq.rate_milli, 1500);
    assert_int_equal(rq.pitch_centi, -250);
    assert_int_equal(rq.n, 2);
    assert_string_equal(rq.text[1], "naïve");
    assert_int_equal(rq.ends_para[1], 1);
    speech_speak_free(&rq);
    for (size_t cut = 0; cut < plen; cut++) {
        assert_int_equal(speech_speak_decode(b.p + off, cut, &rq), LX_EINVAL);
        assert_int_equal(speech_frame_next(b.p, off + cut, &off, &plen, &used), 0);
    }
    speech_wbuf_free(&b);
}

static void test_proto_audio_refuses_counts_that_do_not_fit(void **s)
{
    speech_wbuf b = {0};
    speech_audio a;
    size_t off, plen, used;

    (void)s;
    speech_w_begin(&b, SPEECH_MSG_AUDIO);
    speech_w_u32(&b, 22050);
    speech_w_u32(&b, 44100);
    speech_w_u32(&b, 0);
    speech_w_u32(&b, 0x40000000); /* a billion segment ends in a few bytes */
    assert_int_equal(speech_w_end(&b), LX_OK);
    assert_int_equal(speech_frame_next(b.p, b.len, &off, &plen, &used), 1);
    assert_int_equal(speech_audio_decode(b.p + off, plen, &a), LX_EINVAL);
    speech_wbuf_free(&b);
    /* a zero length frame is refused at once */
    assert_int_equal(speech_frame_next((const unsigned char *)"\0\0\0\0x", 5, &off, &plen, &used),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_keep_numbers_abbreviations_and_punctuation_whole),
        cmocka_unit_test(test_words_keep_utf8_words_whole),
        cmocka_unit_test(test_paragraphs_need_a_blank_line),
        cmocka_unit_test(test_markdown_markers_are_not_words),
        cmocka_unit_test(test_empty_and_invalid_text),
        cmocka_unit_test(test_segments_cut_long_paragraphs_at_sentence_ends),
        cmocka_unit_test(test_segment_text_blanks_markers_and_keeps_offsets),
        cmocka_unit_test(test_align_one_timepoint_per_word_and_breaks),
        cmocka_unit_test(test_align_never_decreases_and_ends_before_the_audio),
        cmocka_unit_test(test_proto_speak_round_trip_and_truncation),
        cmocka_unit_test(test_proto_audio_refuses_counts_that_do_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
