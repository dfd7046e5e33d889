/*
 * Dictation's audio input on real audio: espeak-ng speaks a known text to a
 * WAV, ffmpeg (a test-only tool) makes the other formats from it — WAV in
 * other rates, sample formats and channel counts, Ogg/Opus, WebM/Opus, and
 * WebM shaped as MediaRecorder writes it (Segment and Clusters of unknown
 * size, no Cues) — all in a scratch directory, nothing checked in. Each is
 * read whole, in pieces at awkward places, and broken (garbage,
 * truncated, over a limit).
 *
 * Without espeak-ng or ffmpeg the tests are skipped, except under CI=true,
 * where they fail (scripts/deps.sh --test installs both).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dictate.h"
#include "input.h"
#include "vad.h"
#include "wav.h"
#include "webm.h"

static char dir[64];
static int have_tools;

typedef struct blob {
    unsigned char *p;
    size_t len;
} blob;

static int run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

static blob slurp(const char *name)
{
    char path[256];
    blob b = {NULL, 0};
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc((size_t)n + 1);
    assert_non_null(b.p);
    assert_int_equal(fread(b.p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b.len = (size_t)n;
    return b;
}

/* ---------------------------------------------------------------- MediaRecorder's shape */

static size_t vlen(unsigned char b)
{
    for (size_t i = 0; i < 8; i++)
        if (b & (0x80u >> i))
            return i + 1;
    return 0;
}

static uint64_t vval(const unsigned char *p, size_t l, int keep_marker)
{
    uint64_t v = keep_marker ? p[0] : (p[0] & (0xFFu >> l));
    for (size_t i = 1; i < l; i++)
        v = v << 8 | p[i];
    return v;
}

static void put(blob *o, const unsigned char *p, size_t n)
{
    o->p = realloc(o->p, o->len + n);
    assert_non_null(o->p);
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

static const unsigned char unknown_size[8] = {0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

/* Rewrites ffmpeg's WebM as Chrome's MediaRecorder writes it: the Segment
 * and every Cluster of unknown size; SeekHead, Cues and Void dropped. The
 * cluster starts are recorded (offsets in the output) in cuts. */
static blob mediarecorder_shape(blob in, size_t *cuts, size_t *n_cuts)
{
    blob o = {NULL, 0};
    size_t off = 0;
    *n_cuts = 0;
    int in_cluster = 0;
    while (off < in.len) {
        size_t il = vlen(in.p[off]);
        uint32_t id = (uint32_t)vval(in.p + off, il, 1);
        size_t sl = vlen(in.p[off + il]);
        uint64_t size = vval(in.p + off + il, sl, 0);
        int unknown = size == (UINT64_C(1) << (7 * sl)) - 1;
        size_t body = off + il + sl;
        if (id == 0x18538067) { /* Segment: enter */
            put(&o, in.p + off, il);
            put(&o, unknown_size, 8);
            off = body;
            continue;
        }
        if (id == 0x1F43B675) { /* Cluster: enter, unknown size */
            cuts[(*n_cuts)++] = o.len;
            put(&o, in.p + off, il);
            put(&o, unknown_size, 8);
            off = body;
            in_cluster = 1;
            continue;
        }
        assert_false(unknown);
        if (id != 0x114D9B74 && id != 0x1C53BB6B && id != 0xEC)
            put(&o, in.p + off, body - off + (size_t)size);
        off = body + (size_t)size;
    }
    assert_true(in_cluster);
    return o;
}

/* ---------------------------------------------------------------- reading */

typedef struct decoded {
    int rc;
    char err[256];
    int16_t *pcm;
    size_t n, cap;
    const char *format;
} decoded;

/* Appends what the input made and takes it. */
static void collect(decoded *d, speech_input *in)
{
    size_t k;
    const int16_t *p = speech_input_pcm(in, &k);
    if (d->n + k + 1 > d->cap) {
        d->cap = (d->n + k + 1) * 2;
        d->pcm = realloc(d->pcm, d->cap * sizeof(int16_t));
        assert_non_null(d->pcm);
    }
    if (k > 0)
        memcpy(d->pcm + d->n, p, k * sizeof(int16_t));
    d->n += k;
    speech_input_take(in, k);
}

/* Feeds b in pieces of `step` bytes (all at once when 0), then finishes. */
static decoded decode(blob b, size_t step, const speech_input_limits *lim)
{
    decoded d = {0};
    speech_input *in = speech_input_new(lim);
    assert_non_null(in);
    size_t off = 0;
    do {
        size_t n = step == 0 || b.len - off < step ? b.len - off : step;
        d.rc = speech_input_feed(in, b.p + off, n, d.err, sizeof(d.err));
        off += n;
        collect(&d, in);
    } while (d.rc == LX_OK && off < b.len);
    if (d.rc == LX_OK) {
        d.rc = speech_input_finish(in, d.err, sizeof(d.err));
        collect(&d, in);
    }
    d.format = speech_input_format(in);
    speech_input_free(in);
    return d;
}

static double rms_db(const int16_t *p, size_t n)
{
    return speech_vad_level(p, n);
}

/* The reference: espeak-ng's own WAV (22,050 Hz, mono, 16-bit) read by the
 * same pipeline. */
static size_t ref_samples;
static double ref_db;

static int setup(void **state)
{
    (void)state;
    int ci = getenv("CI") != NULL && strcmp(getenv("CI"), "true") == 0;
    have_tools = run("command -v espeak-ng >/dev/null && command -v ffmpeg >/dev/null") == 0;
    if (!have_tools) {
        fprintf(stderr,
                "test_speech_audio: espeak-ng or ffmpeg missing (scripts/deps.sh --test)%s\n",
                ci ? ": FAILING under CI=true" : ": skipped");
        return ci ? -1 : 0;
    }
    snprintf(dir, sizeof(dir), "/tmp/lx-audio.XXXXXX");
    assert_non_null(mkdtemp(dir));
    const char *ff = "ffmpeg -nostdin -loglevel error -y";
    int rc = run("espeak-ng -w %s/say.wav 'The water cycle moves water from the ocean to the sky "
                 "and back again. Rain falls on the hills and flows down to the sea.'",
                 dir);
    rc |= run("%s -i %s/say.wav -ar 44100 -ac 2 -c:a pcm_f32le %s/f32.wav", ff, dir, dir);
    rc |= run("%s -i %s/say.wav -ar 48000 -c:a pcm_s24le %s/s24.wav", ff, dir, dir);
    rc |= run("%s -i %s/say.wav -ar 8000 -c:a pcm_u8 %s/u8.wav", ff, dir, dir);
    rc |= run("%s -i %s/say.wav -c:a libopus -b:a 64k %s/say.ogg", ff, dir, dir);
    rc |= run("%s -i %s/say.wav -ac 2 -c:a libopus -b:a 96k %s/stereo.ogg", ff, dir, dir);
    rc |= run("%s -i %s/say.wav -c:a libopus -b:a 128k -frame_duration 60 -f webm %s/say.webm", ff,
              dir, dir);
    rc |= run("%s -i %s/say.wav -c:a libopus -b:a 128k -frame_duration 60 -f webm -live 1 "
              "-cluster_time_limit 1000 %s/live.webm",
              ff, dir, dir);
    rc |= run("%s -i %s/say.wav -c:a libvorbis -f webm %s/vorbis.webm", ff, dir, dir);
    rc |= run("%s -i %s/say.wav -c:a libvorbis %s/vorbis.ogg", ff, dir, dir);
    assert_int_equal(rc, 0);
    blob ref = slurp("say.wav");
    decoded d = decode(ref, 0, NULL);
    assert_int_equal(d.rc, LX_OK);
    ref_samples = d.n;
    ref_db = rms_db(d.pcm, d.n);
    free(d.pcm);
    free(ref.p);
    assert_true(ref_samples > 5 * SPEECH_PCM_RATE); /* several seconds of speech */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (have_tools && dir[0] != '\0')
        run("rm -rf %s", dir);
    return 0;
}

#define SKIP_WITHOUT_TOOLS()                                                                       \
    do {                                                                                           \
        if (!have_tools)                                                                           \
            skip();                                                                                \
    } while (0)

/* The same speech, whatever the format: the length within 80 ms of the
 * reference and the level within 2 dB of the reference's plus gain_db
 * (ffmpeg's mono-to-stereo puts each channel 3 dB down; the mix-down
 * averages the channels, so it stays there). */
static void assert_same_speech(const char *name, size_t step, double gain_db)
{
    blob b = slurp(name);
    decoded d = decode(b, step, NULL);
    if (d.rc != LX_OK)
        fail_msg("%s: %s", name, d.err);
    long diff = (long)d.n - (long)ref_samples;
    if (labs(diff) > SPEECH_PCM_RATE * 8 / 100)
        fail_msg("%s: %zu samples, the reference has %zu", name, d.n, ref_samples);
    double db = rms_db(d.pcm, d.n);
    if (fabs(db - ref_db - gain_db) > 2.0)
        fail_msg("%s: level %.1f dBFS, the reference %.1f", name, db, ref_db + gain_db);
    free(d.pcm);
    free(b.p);
}

static void test_wav_any_rate_format_and_channels(void **state)
{
    (void)state;
    SKIP_WITHOUT_TOOLS();
    assert_same_speech("f32.wav", 0, -3.0);
    assert_same_speech("s24.wav", 0, 0);
    assert_same_speech("u8.wav", 4093, 0);
}

static void test_ogg_opus_mono_and_stereo(void **state)
{
    (void)state;
    SKIP_WITHOUT_TOOLS();
    assert_same_speech("say.ogg", 0, 0);
    assert_same_speech("stereo.ogg", 0, -3.0);
    assert_same_speech("say.ogg", 333, 0); /* pages cut anywhere */
}

static void test_webm_file_whole_and_byte_by_byte(void **state)
{
    (void)state;
    SKIP_WITHOUT_TOOLS();
    assert_same_speech("say.webm", 0, 0);
    assert_same_speech("say.webm", 1, 0);
}

/* MediaRecorder's stream, sent in pieces: at each cluster (a second), and
 * at awkward sizes; the same PCM every way, sample for sample. */
static void test_webm_mediarecorder_pieces_give_the_same_pcm(void **state)
{
    (void)state;
    SKIP_WITHOUT_TOOLS();
    blob live = slurp("live.webm");
    size_t cuts[256], n_cuts;
    blob mr = mediarecorder_shape(live, cuts, &n_cuts);
    assert_true(n_cuts >= 5); /* a cluster a second */

    decoded whole = decode(mr, 0, NULL);
    assert_int_equal(whole.rc, LX_OK);
    assert_string_equal(whole.format, "webm");
    long diff = (long)whole.n - (long)ref_samples;
    assert_true(labs(diff) < SPEECH_PCM_RATE * 8 / 100);

    /* Piece by piece at the clusters: only the first has the header. */
    speech_input *in = speech_input_new(NULL);
    char err[256];
    size_t got = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t from = i == 0 ? 0 : cuts[i - 1], to = i == n_cuts ? mr.len : cuts[i];
        assert_int_equal(speech_input_feed(in, mr.p + from, to - from, err, sizeof(err)), LX_OK);
        size_t k;
        const int16_t *p = speech_input_pcm(in, &k);
        assert_memory_equal(p, whole.pcm + got, k * sizeof(int16_t));
        got += k;
        speech_input_take(in, k);
        if (i > 0 && i < n_cuts) /* each full piece holds about a second */
            assert_true(k > SPEECH_PCM_RATE * 8 / 10);
    }
    assert_int_equal(speech_input_finish(in, err, sizeof(err)), LX_OK);
    speech_input_free(in);

    static const size_t steps[] = {1, 2, 3, 7, 64, 1000, 4096};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        decoded d = decode(mr, steps[s], NULL);
        assert_int_equal(d.rc, LX_OK);
        assert_int_equal(d.n, whole.n);
        assert_memory_equal(d.pcm, whole.pcm, d.n * sizeof(int16_t));
        free(d.pcm);
    }
    free(whole.pcm);
    free(mr.p);
    free(live.p);
}

static void assert_fails(blob b, size_t step, int want, const char *needle)
{
    decoded d = decode(b, step, NULL);
    if (d.rc != want)
        fail_msg("rc %d (want %d): %s", d.rc, want, d.err);
    if (strstr(d.err, needle) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", d.err, needle);
    free(d.pcm);
}

static void test_garbage_and_empty_are_refused(void **state)
{
    (void)state;
    unsigned char junk[5000];
    srand(12);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)rand();
    junk[0] = 'x';
    assert_fails((blob){junk, sizeof(junk)}, 0, LX_EINVAL, "not WebM/Opus, Ogg/Opus or WAV");
    assert_fails((blob){junk, 0}, 0, LX_EINVAL, "empty");

    /* The right magic, then garbage. */
    memcpy(junk, "\x1A\x45\xDF\xA3", 4);
    decoded d = decode((blob){junk, sizeof(junk)}, 0, NULL);
    assert_int_equal(d.rc, LX_EINVAL);
    free(d.pcm);
    memcpy(junk, "OggS", 4);
    assert_fails((blob){junk, sizeof(junk)}, 0, LX_EINVAL, "Ogg");
    memcpy(junk, "RIFF\x10\x00\x00\x00WAVEdata\x10\x00\x00\x00", 20);
    assert_fails((blob){junk, sizeof(junk)}, 0, LX_EINVAL, "before its format");
}

static void test_truncated_streams_say_so(void **state)
{
    (void)state;
    SKIP_WITHOUT_TOOLS();
    static const char *const names[] = {"say.webm", "say.ogg"};
    for (size_t i = 0; i < 2; i++) {
        blob b = slurp(names[i]);
        b.len = b.len * 2 / 3 + 5; /* inside a block or a page */
        assert_fails(b, 0, LX_EINVAL, "truncated");
        b.len = 30; /* inside the header */
        decoded d = decode(b, 0, NULL);
        assert_int_equal(d.rc, LX_EINVAL);
        assert_true(d.err[0] != '\0');
        free(d.pcm);
        free(b.p);
    }
}

static void test_other_codecs_are_named(void **state)
{
    (void)state;
    SKIP_WITHOUT_TOOLS();
    blob b = slurp("vorbis.webm");
    assert_fails(b, 0, LX_EINVAL, "no Opus audio track (its codec: A_VORBIS)");
    free(b.p);
    b = slurp("vorbis.ogg");
    assert_fails(b, 0, LX_EINVAL, "no Opus stream");
    free(b.p);
}

/* A stream that never ends is cut at the duration or the byte limit; what
 * came before the limit is kept. */
static void test_endless_stream_is_cut_at_the_limits(void **state)
{
    (void)state;
    speech_input_limits lim = {.max_bytes = 0, .max_ms = 60000};
    speech_input *in = speech_input_new(&lim);
    char err[256];
    unsigned char head[44] = "RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
                             "\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00"
                             "data\xff\xff\xff\xff";
    assert_int_equal(speech_input_feed(in, head, sizeof(head), err, sizeof(err)), LX_OK);
    static unsigned char zeros[65536];
    uint64_t sent = 0;
    int rc = LX_OK;
    while (rc == LX_OK && sent < (UINT64_C(1) << 30)) { /* a gigabyte at most */
        rc = speech_input_feed(in, zeros, sizeof(zeros), err, sizeof(err));
        sent += sizeof(zeros);
        size_t k;
        speech_input_pcm(in, &k);
        speech_input_take(in, k);
    }
    assert_int_equal(rc, LX_ETOOBIG);
    assert_non_null(strstr(err, "longer than the limit of 60 s"));
    assert_int_equal(speech_input_samples(in), 60 * SPEECH_PCM_RATE);
    assert_true(sent < 3 * 1024 * 1024); /* stopped at the limit, not at the end */
    assert_int_equal(speech_input_feed(in, zeros, 10, err, sizeof(err)), LX_ETOOBIG);
    speech_input_free(in);

    lim = (speech_input_limits){.max_bytes = 100000, .max_ms = 0};
    in = speech_input_new(&lim);
    assert_int_equal(speech_input_feed(in, head, sizeof(head), err, sizeof(err)), LX_OK);
    for (rc = LX_OK, sent = 0; rc == LX_OK; sent += sizeof(zeros))
        rc = speech_input_feed(in, zeros, sizeof(zeros), err, sizeof(err));
    assert_int_equal(rc, LX_ETOOBIG);
    assert_non_null(strstr(err, "larger than the limit of 100000 bytes"));
    assert_int_equal(speech_input_samples(in), (100000 - 44) / 2);
    speech_input_free(in);
}

/* ---------------------------------------------------------------- the endpointer */

typedef struct phrases {
    size_t n_phrases, samples;
} phrases;

static phrases endpoint(const int16_t *pcm, size_t n, size_t step, int end_at_last)
{
    speech_vad v;
    speech_vad_init(&v, NULL);
    phrases ph = {0, 0};
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        assert_int_equal(speech_vad_feed(&v, pcm + off, k), LX_OK);
        if (end_at_last && off + k == n)
            assert_int_equal(speech_vad_end_phrase(&v), LX_OK);
        for (size_t i = 0; i < v.n_pieces; i++) {
            ph.samples += v.pieces[i].n;
            ph.n_phrases += (size_t)v.pieces[i].ends;
        }
        speech_vad_clear(&v);
    }
    speech_vad_free(&v);
    return ph;
}

/* Two sentences with a second of silence between: two phrases, whatever
 * the feed size; silence around them never reaches the recognizer. */
static void test_vad_two_phrases_around_a_pause(void **state)
{
    (void)state;
    SKIP_WITHOUT_TOOLS();
    assert_int_equal(run("espeak-ng -w %s/one.wav 'Plants need light.'", dir), 0);
    blob b = slurp("one.wav");
    decoded one = decode(b, 0, NULL);
    assert_int_equal(one.rc, LX_OK);
    size_t gap = SPEECH_PCM_RATE * 3 / 2, n = 2 * one.n + 3 * gap;
    int16_t *pcm = calloc(n, sizeof(int16_t));
    memcpy(pcm + gap, one.pcm, one.n * sizeof(int16_t));
    memcpy(pcm + 2 * gap + one.n, one.pcm, one.n * sizeof(int16_t));
    for (size_t i = 0; i < n; i++) /* a little noise, as a real room has */
        pcm[i] = (int16_t)(pcm[i] + (rand() % 41) - 20);

    static const size_t steps[] = {16000, 320, 77, 48000};
    for (size_t s = 0; s < 4; s++) {
        phrases ph = endpoint(pcm, n, steps[s], 0);
        assert_int_equal(ph.n_phrases, 2);
        assert_true(ph.samples < n - gap); /* most of the silence stays out */
        assert_true(ph.samples > one.n);
    }
    /* Speech cut off with no pause after it: the caller ends the phrase. */
    phrases ph = endpoint(pcm, gap + one.n / 2, 16000, 1);
    assert_int_equal(ph.n_phrases, 1);
    ph = endpoint(pcm, gap + one.n / 2, 16000, 0);
    assert_int_equal(ph.n_phrases, 0);
    /* Pure silence and pure noise: no phrase. */
    memset(pcm, 0, n * sizeof(int16_t));
    assert_int_equal(endpoint(pcm, n, 16000, 1).n_phrases, 0);
    free(pcm);
    free(one.pcm);
    free(b.p);
}

/* MediaRecorder's pieces, a second each: the phrase runs on over the
 * short pauses between sentences and ends with the last piece, which is
 * shorter; a stop in the middle of a second ends it there too. */
static void test_dictate_ends_the_phrase_at_a_short_last_piece(void **state)
{
    (void)state;
    SKIP_WITHOUT_TOOLS();
    blob live = slurp("live.webm");
    size_t cuts[256], n_cuts;
    blob mr = mediarecorder_shape(live, cuts, &n_cuts);
    speech_dictate_opts o = {.limits = {0, 0}, .timeslice_ms = 1000};
    for (int stop_early = 0; stop_early < 2; stop_early++) {
        speech_dictate *d;
        assert_int_equal(speech_dictate_new(&o, &d), LX_OK);
        size_t last = stop_early ? n_cuts / 2 : n_cuts, ends = 0, audio = 0;
        for (size_t i = 0; i <= last; i++) {
            size_t from = i == 0 ? 0 : cuts[i - 1];
            size_t to = i == n_cuts ? mr.len : cuts[i];
            if (stop_early && i == last)
                to = from + (to - from) / 2; /* stop() half-way through a second */
            assert_int_equal(speech_dictate_piece(d, mr.p + from, to - from, 0), LX_OK);
            for (size_t k = 0; k < d->vad.n_pieces; k++) {
                ends += (size_t)d->vad.pieces[k].ends;
                audio += d->vad.pieces[k].n;
            }
            if (i < last)
                assert_int_equal(ends, 0);
        }
        assert_int_equal(ends, 1);
        assert_true(d->looked_last);
        assert_true(audio > SPEECH_PCM_RATE * (stop_early ? 2 : 4));
        speech_dictate_free(d);
    }
    free(mr.p);
    free(live.p);
}

/* The WAV a network recognizer is sent reads back as the same samples. */
static void test_wav_write_reads_back(void **state)
{
    (void)state;
    int16_t pcm[1000];
    for (int i = 0; i < 1000; i++)
        pcm[i] = (int16_t)(i * 37 - 18000);
    size_t len;
    unsigned char *w = speech_wav_write(pcm, 1000, SPEECH_PCM_RATE, &len);
    assert_non_null(w);
    assert_int_equal(len, 44 + 2000);
    decoded d = decode((blob){w, len}, 3, NULL);
    assert_int_equal(d.rc, LX_OK);
    assert_int_equal(d.n, 1000);
    assert_memory_equal(d.pcm, pcm, sizeof(pcm));
    free(d.pcm);
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wav_any_rate_format_and_channels),
        cmocka_unit_test(test_ogg_opus_mono_and_stereo),
        cmocka_unit_test(test_webm_file_whole_and_byte_by_byte),
        cmocka_unit_test(test_webm_mediarecorder_pieces_give_the_same_pcm),
        cmocka_unit_test(test_garbage_and_empty_are_refused),
        cmocka_unit_test(test_truncated_streams_say_so),
        cmocka_unit_test(test_other_codecs_are_named),
        cmocka_unit_test(test_endless_stream_is_cut_at_the_limits),
        cmocka_unit_test(test_vad_two_phrases_around_a_pause),
        cmocka_unit_test(test_dictate_ends_the_phrase_at_a_short_last_piece),
        cmocka_unit_test(test_wav_write_reads_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
