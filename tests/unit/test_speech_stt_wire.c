/*
 * Network recognizers' wire formats (plugins/speech/stt_wire.c): the
 * bodies servers are sent and what is read from their answers.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "stt_wire.h"

static void test_openai_body_is_multipart_with_the_wav(void **state)
{
    (void)state;
    unsigned char wav[] = "RIFF\0\0\0\0WAVE--not-a-boundary\r\n";
    char *body, ct[128];
    size_t len;
    assert_int_equal(
        speech_openai_stt_body(wav, sizeof(wav), "whisper-1", "en", &body, &len, ct, sizeof(ct)),
        0);
    const char *b = strstr(ct, "boundary=");
    assert_non_null(b);
    b += 9;
    assert_int_equal(strncmp(ct, "Content-Type: multipart/form-data; ", 35), 0);
    assert_non_null(strstr(body, "name=\"model\"\r\n\r\nwhisper-1\r\n"));
    assert_non_null(strstr(body, "name=\"response_format\"\r\n\r\njson\r\n"));
    assert_non_null(strstr(body, "name=\"language\"\r\n\r\nen\r\n"));
    assert_non_null(
        strstr(body, "name=\"file\"; filename=\"speech.wav\"\r\nContent-Type: audio/wav"));
    assert_non_null(memmem(body, len, wav, sizeof(wav)));
    char end[80];
    snprintf(end, sizeof(end), "\r\n--%s--\r\n", b);
    assert_int_equal(memcmp(body + len - strlen(end), end, strlen(end)), 0);
    free(body);
}

static void test_openai_answers(void **state)
{
    (void)state;
    char *t, err[256];
    const char *ok = "{\"text\":\"  Plants need light. \\n\"}";
    assert_int_equal(speech_openai_stt_parse(ok, strlen(ok), &t, err, sizeof(err)), 0);
    assert_string_equal(t, "Plants need light.");
    free(t);
    const char *e = "{\"error\":{\"message\":\"Invalid file format.\",\"type\":\"x\"}}";
    assert_int_equal(speech_openai_stt_parse(e, strlen(e), &t, err, sizeof(err)), -1);
    assert_string_equal(err, "the recognizer said: Invalid file format.");
    assert_int_equal(speech_openai_stt_parse("<html>", 6, &t, err, sizeof(err)), -1);
    assert_string_equal(err, "the recognizer's answer is not a JSON object");
    assert_int_equal(speech_openai_stt_parse("{\"txt\":1}", 9, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no \"text\""));
}

static void test_google_body_carries_the_pcm(void **state)
{
    (void)state;
    int16_t pcm[5] = {0, 1, -1, 32767, -32768};
    size_t len;
    char *body = speech_google_stt_body(pcm, 5, "en-US", "latest_short", &len);
    assert_non_null(body);
    assert_int_equal(strlen(body), len);
    assert_non_null(strstr(body, "\"encoding\":\"LINEAR16\",\"sampleRateHertz\":16000,"
                                 "\"languageCode\":\"en-US\",\"model\":\"latest_short\""));
    const char *c = strstr(body, "\"content\":\"") + 11;
    unsigned char raw[16];
    int n = EVP_DecodeBlock(raw, (const unsigned char *)c, 16); /* 10 bytes -> 16 chars */
    assert_true(n >= 10);
    const unsigned char want[10] = {0, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0x80};
    assert_memory_equal(raw, want, 10);
    assert_string_equal(body + len - 3, "\"}}");
    free(body);
}

static void test_google_answers(void **state)
{
    (void)state;
    char *t, err[256];
    double conf;
    const char *ok = "{\"results\":[{\"alternatives\":[{\"transcript\":\"plants need light\","
                     "\"confidence\":0.91},{\"transcript\":\"plans\"}]},{\"alternatives\":"
                     "[{\"transcript\":\" and water\"}]}],\"totalBilledTime\":\"2s\"}";
    assert_int_equal(speech_google_stt_parse(ok, strlen(ok), &t, &conf, err, sizeof(err)), 0);
    assert_string_equal(t, "plants need light  and water");
    assert_true(conf > 0.9 && conf < 0.92);
    free(t);
    assert_int_equal(speech_google_stt_parse("{}", 2, &t, &conf, err, sizeof(err)), 0);
    assert_string_equal(t, "");
    assert_true(conf < 0);
    free(t);
    const char *e = "{\"error\":{\"code\":400,\"message\":\"API key not valid.\"}}";
    assert_int_equal(speech_google_stt_parse(e, strlen(e), &t, &conf, err, sizeof(err)), -1);
    assert_string_equal(err, "the recognizer said: API key not valid.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_body_is_multipart_with_the_wav),
        cmocka_unit_test(test_openai_answers),
        cmocka_unit_test(test_google_body_carries_the_pcm),
        cmocka_unit_test(test_google_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
