/*
 * Cloud text-to-speech wire formats (plugins/speech/tts_wire.c): Google's
 * chunks and SSML, its answers and voices list, OpenAI's body, the length
 * of an MP3.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "tts_wire.h"

static void test_ssml_has_a_mark_per_word_and_escapes_the_text(void **state)
{
    const char *text = "Dr. Smith & <b>class</b>\n\n\"Hi\" it's";
    speech_text t;
    speech_chunk *cs;
    size_t n, bad, len;
    char *ssml;

    (void)state;
    assert_int_equal(speech_split(text, strlen(text), 0, 0, &t), LX_OK);
    assert_int_equal(speech_google_chunks(text, &t, 0, &cs, &n, &bad), LX_OK);
    assert_int_equal(n, 2); /* one per paragraph's segment */
    ssml = speech_google_ssml(text, &t, &cs[0], &len);
    assert_string_equal(ssml,
                        "<speak><mark name=\"0\"/>Dr. <mark name=\"4\"/>Smith "
                        "<mark name=\"10\"/>&amp; <mark name=\"12\"/>&lt;b&gt;class&lt;/b&gt; "
                        "</speak>");
    assert_int_equal(len, strlen(ssml));
    free(ssml);
    ssml = speech_google_ssml(text, &t, &cs[1], &len);
    assert_string_equal(ssml, "<speak><mark name=\"0\"/>&quot;Hi&quot; <mark name=\"5\"/>it&apos;s "
                              "</speak>");
    free(ssml);
    free(cs);
    speech_text_free(&t);
}

static void test_chunks_count_the_markup(void **state)
{
    char text[4000];
    speech_text t;
    speech_chunk *cs;
    size_t n, bad, words = 0, len;

    (void)state;
    for (int i = 0; i < 900; i++)
        memcpy(text + 4 * i, "a&b ", 4);
    text[3599] = '\0';
    assert_int_equal(speech_split(text, strlen(text), 0, 0, &t), LX_OK);
    assert_int_equal(speech_google_chunks(text, &t, 0, &cs, &n, &bad), LX_OK);
    assert_true(n > t.n_segs);
    for (size_t i = 0; i < n; i++) {
        char *ssml = speech_google_ssml(text, &t, &cs[i], &len);

        assert_true(len <= SPEECH_GOOGLE_MAX_INPUT);
        assert_int_equal(cs[i].first, words);
        words += cs[i].n;
        free(ssml);
    }
    assert_int_equal(words, 900);
    free(cs);
    /* a word that cannot fit at all */
    assert_int_equal(speech_google_chunks(text, &t, 30, &cs, &n, &bad), LX_ETOOBIG);
    assert_int_equal(bad, 0);
    speech_text_free(&t);
}

static char *b64(const unsigned char *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);

    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

static void test_google_answers(void **state)
{
    unsigned char wav[44 + 8] = "RIFF\0\0\0\0WAVEfmt ";
    speech_google_answer a;
    char json[512], err[256], *enc;
    uint32_t v;

    (void)state;
    v = 16;
    memcpy(wav + 16, &v, 4);
    memcpy(wav + 20, "\x01\x00\x01\x00", 4); /* PCM, mono */
    v = 22050;
    memcpy(wav + 24, &v, 4);
    v = 44100;
    memcpy(wav + 28, &v, 4);
    memcpy(wav + 32, "\x02\x00\x10\x00", 4); /* 16 bits */
    memcpy(wav + 36, "data", 4);
    v = 8;
    memcpy(wav + 40, &v, 4);
    memcpy(wav + 44, "\x01\x00\x02\x00\x03\x00\x04\x00", 8);
    enc = b64(wav, sizeof(wav));
    snprintf(json, sizeof(json),
             "{\"audioContent\":\"%s\",\"timepoints\":[{\"markName\":\"0\",\"timeSeconds\":0.05},"
             "{\"markName\":\"12\",\"timeSeconds\":1.2345}]}",
             enc);
    free(enc);
    assert_int_equal(speech_google_parse(json, strlen(json), 24000, &a, err, sizeof(err)), 0);
    assert_int_equal(a.rate, 22050);
    assert_int_equal(a.n_samples, 4);
    assert_memory_equal(a.pcm, "\x01\x00\x02\x00\x03\x00\x04\x00", 8);
    assert_int_equal(a.n_marks, 2);
    assert_int_equal(a.mark_off[1], 12);
    assert_int_equal(a.mark_ms[1], 1235);
    speech_google_answer_free(&a);
    /* raw PCM: the rate asked */
    assert_int_equal(
        speech_google_parse("{\"audioContent\":\"AQACAA==\"}", 27, 24000, &a, err, sizeof(err)), 0);
    assert_int_equal(a.rate, 24000);
    assert_int_equal(a.n_samples, 2);
    assert_int_equal(a.n_marks, 0);
    speech_google_answer_free(&a);
    assert_int_equal(speech_google_parse("<html>", 6, 24000, &a, err, sizeof(err)), -1);
    assert_string_equal(err, "the answer is not a JSON object");
    assert_int_equal(speech_google_parse("{\"audioContent\":\"AQACAA==\",\"timepoints\":"
                                         "[{\"markName\":\"x\",\"timeSeconds\":1}]}",
                                         71, 24000, &a, err, sizeof(err)),
                     -1);
    assert_int_equal(
        speech_cloud_error_message("{\"error\":{\"code\":400,\"message\":\"No SSML\"}}", 42, err,
                                   sizeof(err)),
        0);
    assert_string_equal(err, "No SSML");
}

static void test_google_voices(void **state)
{
    const char *j =
        "{\"voices\":[{\"languageCodes\":[\"en-US\",\"en\"],\"name\":\"en-US-Neural2-F\","
        "\"ssmlGender\":\"FEMALE\",\"naturalSampleRateHertz\":24000},{\"name\":\"x\"}]}";
    speech_voice_list l;
    char err[256];

    (void)state;
    assert_int_equal(speech_google_voices_parse(j, strlen(j), &l, err, sizeof(err)), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].name, "en-US-Neural2-F");
    assert_string_equal(l.v[0].languages, "en-US,en");
    assert_string_equal(l.v[0].gender, "FEMALE");
    assert_string_equal(l.v[0].provider, "google");
    assert_int_equal(l.v[0].sample_rate, 24000);
    speech_voice_list_free(&l);
    assert_int_equal(speech_google_voices_parse("{}", 2, &l, err, sizeof(err)), -1);
}

static void test_openai_body(void **state)
{
    size_t len;
    char *b = speech_openai_body("tts-1", "nova", "Say \"hi\"\n\nthen", 1.25, &len);

    (void)state;
    assert_string_equal(b, "{\"model\":\"tts-1\",\"input\":\"Say \\\"hi\\\"\\n\\nthen\",\"voice\":"
                           "\"nova\",\"response_format\":\"mp3\",\"speed\":1.25}");
    assert_int_equal(len, strlen(b));
    free(b);
}

static void test_mp3_duration(void **state)
{
    /* MPEG-2 Layer III, 48 kbit/s, 24 kHz, mono: 144-byte frames of 576
     * samples, after a 12-byte ID3v2 tag */
    unsigned char mp3[12 + 10 * 144 + 3] = "ID3\x03\x00\x00\x00\x00\x00\x02"
                                           "ab";
    uint64_t ms;
    uint32_t rate;

    (void)state;
    for (int i = 0; i < 10; i++)
        memcpy(mp3 + 12 + 144 * i, "\xFF\xF3\x64\xC0", 4);
    memcpy(mp3 + 12 + 1440, "TAG", 3); /* trailing garbage stops the walk */
    assert_int_equal(speech_mp3_duration(mp3, sizeof(mp3), &ms, &rate), 0);
    assert_int_equal(rate, 24000);
    assert_int_equal(ms, 240);
    assert_int_equal(speech_mp3_duration((const unsigned char *)"nope", 4, &ms, &rate), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ssml_has_a_mark_per_word_and_escapes_the_text),
        cmocka_unit_test(test_chunks_count_the_markup),
        cmocka_unit_test(test_google_answers),
        cmocka_unit_test(test_google_voices),
        cmocka_unit_test(test_openai_body),
        cmocka_unit_test(test_mp3_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
