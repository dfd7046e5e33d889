/*
 * lexiaid-speech: the speech helper. espeak-ng and flite keep their state
 * in process globals and are not thread-safe, so they never run inside a
 * worker: each worker keeps a few of these helpers (plugins/speech/pool.c)
 * and talks to them over their stdin and stdout in the frames of
 * plugins/speech/proto.h, one request at a time. A crash here costs one
 * synthesis (the worker answers 503 and starts another helper), not a
 * worker.
 *
 *   lexiaid-speech [--max-mem BYTES] [--max-seconds N] [--stt-model DIR [--stt-fast]]
 *   lexiaid-speech --check   speaks a word with the first voice of each
 *                            engine and says so on stdout (exit 0), or why
 *                            not (exit 1): the image build's self-test
 *
 * Requests: 'V' lists the voices of every engine built in; 'S' speaks the
 * segments with one voice and answers 'A' (MP3 and word marks) or 'E'.
 * 'R' (dictation, with --stt-model: the pocketsphinx model directory,
 * loaded once at start) feeds phrase audio to the recognizer and answers
 * 'T', the phrase's text so far or, when the phrase ends, its final text.
 * 'P' encodes a cloud provider's PCM to MP3 (the same encoder, off the
 * worker's loop) and answers 'A' without marks.
 * Dictated audio is only ever in this process's memory: never written,
 * never logged.
 * Times are times in the MP3 as decoders play it (mp3.c: the encoder's
 * delay comes first).
 * Each segment is synthesised on its own (its word marks are byte offsets
 * in its text); a pause of pause_ms follows each segment that ends a
 * paragraph, except the last unless it asks for it (SPEECH_SEG_PAUSE_AFTER:
 * the text goes on in another helper's part); the MP3 is encoded while the
 * engine speaks.
 * EOF on stdin ends the helper; so does its worker's death
 * (PR_SET_PDEATHSIG). Diagnostics go to stderr (the worker's).
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"

#include <lexiaid/plugin.h>

#include "engine.h"
#ifdef LX_HAVE_POCKETSPHINX
#include "sphinx.h"
#endif

#define HX_DEFAULT_MAX_SECONDS (4 * 3600) /* of audio in one answer */

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HX_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HX_UNDER_SANITIZER 1
#endif
#endif

struct hx_out {
    hx_mp3 *mp3;
    uint32_t rate_hz;
    uint64_t samples;     /* fed so far */
    uint64_t max_samples; /* over it: SPEECH_ERR_TOO_LONG */
    uint64_t seg_start;   /* samples before the segment being spoken */
    uint64_t shift;       /* where sample 0 is in the decoded MP3 */
    uint32_t seg;         /* its index */
    speech_mark *marks;
    size_t n_marks, cap_marks;
    int failed;
};

static uint64_t hx_max_seconds = HX_DEFAULT_MAX_SECONDS;

int hx_out_pcm(hx_out *o, const short *samples, size_t n)
{
    if (o->failed)
        return -1;
    if (o->samples + n > o->max_samples ||
        (o->mp3 != NULL && hx_mp3_feed(o->mp3, samples, n) != 0)) {
        o->failed = 1;
        return -1;
    }
    o->samples += n;
    return 0;
}

void hx_out_mark(hx_out *o, uint32_t off, uint64_t sample)
{
    uint64_t ms = (o->shift + o->seg_start + sample) * 1000u / o->rate_hz;

    if (o->failed)
        return;
    if (o->n_marks == o->cap_marks) {
        size_t cap = o->cap_marks ? o->cap_marks * 2 : 256;
        speech_mark *m = realloc(o->marks, cap * sizeof(*m));

        if (m == NULL) {
            o->failed = 1;
            return;
        }
        o->marks = m;
        o->cap_marks = cap;
    }
    o->marks[o->n_marks].seg = o->seg;
    o->marks[o->n_marks].off = off;
    o->marks[o->n_marks].ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    o->n_marks++;
}

/* ------------------------------------------------------------------------ */
/* Frames on stdin and stdout (blocking: this process does nothing else)    */

static int hx_read_all(void *p, size_t n)
{
    unsigned char *q = p;

    while (n > 0) {
        ssize_t got = read(STDIN_FILENO, q, n);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        q += got;
        n -= (size_t)got;
    }
    return 0;
}

/* One frame's payload (malloc'd) or NULL at EOF or on a bad length. */
static unsigned char *hx_read_frame(size_t *len)
{
    unsigned char hdr[4], *p;
    size_t n;

    if (hx_read_all(hdr, 4) != 0)
        return NULL;
    n = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
    if (n == 0 || n > SPEECH_FRAME_MAX || (p = malloc(n)) == NULL)
        return NULL;
    if (hx_read_all(p, n) != 0) {
        free(p);
        return NULL;
    }
    *len = n;
    return p;
}

static int hx_write_all(const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t put = write(STDOUT_FILENO, p, n);

        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

static int hx_send(speech_wbuf *b)
{
    int rc = speech_w_end(b) == LX_OK ? hx_write_all(b->p, b->len) : -1;

    speech_wbuf_free(b);
    return rc;
}

static int hx_send_error(uint32_t code, const char *message)
{
    speech_wbuf b = {0};

    speech_w_begin(&b, SPEECH_MSG_ERROR);
    speech_w_u32(&b, code);
    speech_w_str(&b, message);
    return hx_send(&b);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */

static const hx_engine *hx_engines[2];
static size_t hx_n_engines;

static int hx_voices(void)
{
    speech_wbuf b = {0};
    uint32_t n = 0;
    size_t count_at;

    speech_w_begin(&b, SPEECH_MSG_VOICE_LIST);
    speech_w_u32(&b, SPEECH_PROTO_VERSION);
    count_at = b.len;
    speech_w_u32(&b, 0);
    for (size_t i = 0; i < hx_n_engines; i++)
        hx_engines[i]->list(&b, &n);
    if (!b.failed) {
        b.p[count_at] = (unsigned char)n;
        b.p[count_at + 1] = (unsigned char)(n >> 8);
        b.p[count_at + 2] = (unsigned char)(n >> 16);
        b.p[count_at + 3] = (unsigned char)(n >> 24);
    }
    return hx_send(&b);
}

static int hx_speak(const speech_speak *rq)
{
    const hx_engine *eng = NULL;
    const char *colon = strchr(rq->voice, ':');
    hx_out o = {0};
    char err[256] = "";
    uint32_t *seg_end = NULL;
    unsigned char *mp3 = NULL;
    size_t mp3_len = 0;
    speech_wbuf b = {0};
    int rc;

    for (size_t i = 0; colon != NULL && i < hx_n_engines && eng == NULL; i++)
        if (strlen(hx_engines[i]->provider) == (size_t)(colon - rq->voice) &&
            strncmp(hx_engines[i]->provider, rq->voice, (size_t)(colon - rq->voice)) == 0)
            eng = hx_engines[i];
    if (eng == NULL) {
        snprintf(err, sizeof(err), "no engine offers the voice %s", rq->voice);
        return hx_send_error(SPEECH_ERR_VOICE, err);
    }
    if ((rq->kbps != 0 && rq->kbps < 8) || rq->kbps > 320 || rq->rate_milli <= 0 ||
        rq->pause_ms > 10000)
        return hx_send_error(SPEECH_ERR_REQUEST, "bad synthesis parameters");
    rc = eng->select(colon + 1, rq->rate_milli / 1000.0, rq->pitch_centi / 100.0, &o.rate_hz, err,
                     sizeof(err));
    if (rc != 0)
        return hx_send_error((uint32_t)rc, err);
    /* kbps 0: the times only (a cloud voice's estimate), nothing encoded */
    if (rq->kbps != 0 && (o.mp3 = hx_mp3_new(o.rate_hz, rq->kbps, err, sizeof(err))) == NULL)
        return hx_send_error(SPEECH_ERR_ENGINE, err);
    o.max_samples = hx_max_seconds * o.rate_hz;
    o.shift = o.mp3 != NULL ? hx_mp3_delay(o.mp3) : 0;
    seg_end = calloc(rq->n ? rq->n : 1, sizeof(*seg_end));
    if (seg_end == NULL) {
        hx_mp3_free(o.mp3);
        return hx_send_error(SPEECH_ERR_MEMORY, "out of memory");
    }
    for (size_t s = 0; s < rq->n && rc == 0; s++) {
        o.seg = (uint32_t)s;
        o.seg_start = o.samples;
        rc = eng->speak(rq->text[s], rq->len[s], &o, err, sizeof(err));
        if (rc == 0 && o.failed) {
            snprintf(err, sizeof(err), "the speech is longer than allowed, or memory ran out");
            rc = SPEECH_ERR_TOO_LONG;
        }
        seg_end[s] = (uint32_t)((o.shift + o.samples) * 1000u / o.rate_hz);
        if (rc == 0 && (rq->ends_para[s] & SPEECH_SEG_ENDS_PARA) &&
            (s + 1 < rq->n || (rq->ends_para[s] & SPEECH_SEG_PAUSE_AFTER))) {
            static const short silence[4096];
            uint64_t left = (uint64_t)rq->pause_ms * o.rate_hz / 1000u;

            while (left > 0 && rc == 0) {
                size_t chunk = left > 4096 ? 4096 : (size_t)left;

                if (hx_out_pcm(&o, silence, chunk) != 0) {
                    snprintf(err, sizeof(err), "the speech is longer than allowed");
                    rc = SPEECH_ERR_TOO_LONG;
                }
                left -= chunk;
            }
        }
    }
    if (rc == 0 && o.mp3 != NULL && hx_mp3_finish(o.mp3, &mp3, &mp3_len) != 0) {
        snprintf(err, sizeof(err), "the MP3 encoder failed");
        rc = SPEECH_ERR_ENGINE;
    } else if (rc != 0) {
        hx_mp3_free(o.mp3);
    }
    o.mp3 = NULL;
    if (rc != 0) {
        free(seg_end);
        free(o.marks);
        return hx_send_error((uint32_t)rc, err);
    }
    speech_w_begin(&b, SPEECH_MSG_AUDIO);
    speech_w_u32(&b, o.rate_hz);
    /* the audio's length as decoded: the delay, then the speech */
    speech_w_u32(&b, (uint32_t)(o.shift + o.samples));
    speech_w_u32(&b, (uint32_t)((o.shift + o.samples) >> 32));
    speech_w_u32(&b, (uint32_t)rq->n);
    for (size_t s = 0; s < rq->n; s++)
        speech_w_u32(&b, seg_end[s]);
    speech_w_u32(&b, (uint32_t)o.n_marks);
    for (size_t k = 0; k < o.n_marks; k++) {
        speech_w_u32(&b, o.marks[k].seg);
        speech_w_u32(&b, o.marks[k].off);
        speech_w_u32(&b, o.marks[k].ms);
    }
    speech_w_bytes(&b, mp3, mp3_len);
    free(seg_end);
    free(o.marks);
    free(mp3);
    if (b.failed) {
        speech_wbuf_free(&b);
        return hx_send_error(SPEECH_ERR_TOO_LONG, "the audio is too large to send");
    }
    return hx_send(&b);
}

/* 'P': a cloud provider's PCM to MP3, as hx_speak encodes its own. */
static int hx_encode(const speech_encode *rq)
{
    char err[256] = "";
    hx_mp3 *m;
    unsigned char *mp3 = NULL;
    size_t mp3_len = 0;
    speech_wbuf b = {0};
    uint64_t total;
    short buf[4096];
    int rc = 0;

    if (rq->kbps < 8 || rq->kbps > 320 || rq->rate < 8000 || rq->rate > 48000)
        return hx_send_error(SPEECH_ERR_REQUEST, "bad encoding parameters");
    if (rq->n_samples > hx_max_seconds * rq->rate)
        return hx_send_error(SPEECH_ERR_TOO_LONG, "the speech is longer than allowed");
    if ((m = hx_mp3_new(rq->rate, rq->kbps, err, sizeof(err))) == NULL)
        return hx_send_error(SPEECH_ERR_ENGINE, err);
    total = hx_mp3_delay(m) + rq->n_samples;
    for (size_t at = 0; at < rq->n_samples && rc == 0;) {
        size_t n = rq->n_samples - at > 4096 ? 4096 : rq->n_samples - at;

        for (size_t i = 0; i < n; i++)
            buf[i] =
                (short)(int16_t)(uint16_t)(rq->pcm[2 * (at + i)] | rq->pcm[2 * (at + i) + 1] << 8);
        rc = hx_mp3_feed(m, buf, n);
        at += n;
    }
    if (rc != 0) {
        hx_mp3_free(m);
        return hx_send_error(SPEECH_ERR_ENGINE, "the MP3 encoder failed");
    }
    if (hx_mp3_finish(m, &mp3, &mp3_len) != 0)
        return hx_send_error(SPEECH_ERR_ENGINE, "the MP3 encoder failed");
    speech_w_begin(&b, SPEECH_MSG_AUDIO);
    speech_w_u32(&b, rq->rate);
    speech_w_u32(&b, (uint32_t)total);
    speech_w_u32(&b, (uint32_t)(total >> 32));
    speech_w_u32(&b, 0);
    speech_w_u32(&b, 0);
    speech_w_bytes(&b, mp3, mp3_len);
    free(mp3);
    if (b.failed) {
        speech_wbuf_free(&b);
        return hx_send_error(SPEECH_ERR_TOO_LONG, "the audio is too large to send");
    }
    return hx_send(&b);
}

/* --check: one word with the first voice of each engine, as a request
 * would make it. */
static int hx_check(void)
{
    int bad = 0;

    for (size_t i = 0; i < hx_n_engines; i++) {
        const hx_engine *eng = hx_engines[i];
        speech_wbuf b = {0};
        speech_voice_list l;
        uint32_t n = 0;
        hx_out o = {0};
        char err[256] = "", *colon;
        unsigned char *mp3 = NULL;
        size_t mp3_len = 0;
        int rc;

        speech_w_begin(&b, SPEECH_MSG_VOICE_LIST);
        speech_w_u32(&b, SPEECH_PROTO_VERSION);
        speech_w_u32(&b, 0);
        eng->list(&b, &n);
        if (!b.failed) /* the count: after the length (4), type (1), version (4) */
            for (int k = 0; k < 4; k++)
                b.p[9 + k] = (unsigned char)(n >> (8 * k));
        if (speech_w_end(&b) != LX_OK || n == 0 ||
            speech_voice_list_decode(b.p + 4, b.len - 4, &l) != LX_OK) {
            printf("%s: no voice\n", eng->provider);
            speech_wbuf_free(&b);
            bad = 1;
            continue;
        }
        speech_wbuf_free(&b);
        colon = strchr(l.v[0].name, ':');
        rc = eng->select(colon ? colon + 1 : l.v[0].name, 1.0, 0.0, &o.rate_hz, err, sizeof(err));
        if (rc == 0 && (o.mp3 = hx_mp3_new(o.rate_hz, 40, err, sizeof(err))) == NULL)
            rc = SPEECH_ERR_ENGINE;
        if (rc == 0) {
            o.max_samples = (uint64_t)60 * o.rate_hz;
            rc = eng->speak("Hello, reader.", 14, &o, err, sizeof(err));
            if (rc == 0 && hx_mp3_finish(o.mp3, &mp3, &mp3_len) != 0)
                rc = SPEECH_ERR_ENGINE;
            else if (rc != 0)
                hx_mp3_free(o.mp3);
        }
        if (rc == 0 && (o.n_marks < 2 || mp3_len == 0)) {
            snprintf(err, sizeof(err), "%zu word marks and %zu bytes of MP3", o.n_marks, mp3_len);
            rc = SPEECH_ERR_ENGINE;
        }
        if (rc == 0)
            printf("%s: %u voices, %s spoke 2 words: %zu bytes of MP3\n", eng->provider,
                   (unsigned)n, l.v[0].name, mp3_len);
        else
            printf("%s: %s failed: %s\n", eng->provider, l.v[0].name, err);
        bad |= rc != 0;
        free(mp3);
        free(o.marks);
        speech_voice_list_free(&l);
    }
    if (hx_n_engines == 0)
        printf("no speech engine built in\n");
    fflush(stdout);
    return bad || hx_n_engines == 0;
}

/* ------------------------------------------------------------------------ */
/* Dictation                                                                */

#ifdef LX_HAVE_POCKETSPHINX
static hx_sphinx *hx_rec;
static char hx_rec_err[512]; /* why --stt-model's model did not load */
#endif

static int hx_recognize(const speech_recognize *rq)
{
#ifdef LX_HAVE_POCKETSPHINX
    hx_sphinx_result res;
    speech_wbuf b = {0};
    char err[256];
    int16_t *pcm;

    if (hx_rec == NULL)
        return hx_send_error(
            SPEECH_ERR_ENGINE,
            hx_rec_err[0] != '\0' ? hx_rec_err : "this helper has no recognizer (no --stt-model)");
    if (rq->flags & SPEECH_REC_FRESH)
        hx_sphinx_reset(hx_rec);
    pcm = malloc(rq->n_samples ? rq->n_samples * sizeof(int16_t) : 1);
    if (pcm == NULL)
        return hx_send_error(SPEECH_ERR_MEMORY, "out of memory");
    for (size_t i = 0; i < rq->n_samples; i++)
        pcm[i] = (int16_t)(uint16_t)(rq->pcm[2 * i] | rq->pcm[2 * i + 1] << 8);
    int rc = hx_sphinx_feed(hx_rec, pcm, rq->n_samples, (rq->flags & SPEECH_REC_ENDS) != 0, &res,
                            err, sizeof(err));
    free(pcm);
    if (rc != 0)
        return hx_send_error(SPEECH_ERR_ENGINE, err);
    speech_w_begin(&b, SPEECH_MSG_TRANSCRIPT);
    speech_w_u8(&b, (uint8_t)res.is_final);
    speech_w_u32(&b, (uint32_t)(int32_t)(res.confidence < 0 ? -1 : res.confidence * 1000 + 0.5));
    speech_w_str(&b, res.text);
    free(res.text);
    return hx_send(&b);
#else
    (void)rq;
    return hx_send_error(SPEECH_ERR_ENGINE, "lexiaid was built without pocketsphinx "
                                            "(configure --disable-speech-pocketsphinx)");
#endif
}

static int hx_serve(void)
{
    for (;;) {
        size_t len = 0;
        unsigned char *p = hx_read_frame(&len);
        int rc;

        if (p == NULL)
            return 0; /* EOF: the worker is done with us */
        if (p[0] == SPEECH_MSG_VOICES) {
            rc = hx_voices();
        } else if (p[0] == SPEECH_MSG_SPEAK) {
            speech_speak rq;
            int drc = speech_speak_decode(p, len, &rq);

            if (drc == LX_OK) {
                rc = hx_speak(&rq);
                speech_speak_free(&rq);
            } else {
                rc = hx_send_error(drc == LX_ENOMEM ? SPEECH_ERR_MEMORY : SPEECH_ERR_REQUEST,
                                   "a request this helper cannot read");
            }
        } else if (p[0] == SPEECH_MSG_ENCODE) {
            speech_encode rq;

            if (speech_encode_decode(p, len, &rq) == LX_OK)
                rc = hx_encode(&rq);
            else
                rc = hx_send_error(SPEECH_ERR_REQUEST, "a request this helper cannot read");
        } else if (p[0] == SPEECH_MSG_RECOGNIZE) {
            speech_recognize rq;

            if (speech_recognize_decode(p, len, &rq) == LX_OK)
                rc = hx_recognize(&rq);
            else
                rc = hx_send_error(SPEECH_ERR_REQUEST, "a request this helper cannot read");
        } else {
            rc = hx_send_error(SPEECH_ERR_REQUEST, "an unknown request");
        }
        free(p);
        if (rc != 0)
            return 1; /* the worker stopped reading */
    }
}

int main(int argc, char **argv)
{
    pid_t parent = getppid();
    struct rlimit core = {0, 0};

    /* Gone with the worker that started us. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        return 0;
    setrlimit(RLIMIT_CORE, &core);
    int check = 0, stt_fast = 0;
    const char *stt_model = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "--max-mem") == 0 && i + 1 < argc) {
            unsigned long long v = strtoull(argv[++i], NULL, 10);
            struct rlimit as = {(rlim_t)v, (rlim_t)v};

#ifndef HX_UNDER_SANITIZER
            if (v > 0)
                setrlimit(RLIMIT_AS, &as);
#else
            /* AddressSanitizer and ThreadSanitizer reserve terabytes of
             * shadow address space: a sanitizer build does without the
             * address-space limit. */
            (void)as;
#endif
        } else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc) {
            unsigned long long v = strtoull(argv[++i], NULL, 10);

            if (v > 0)
                hx_max_seconds = v;
        } else if (strcmp(argv[i], "--stt-model") == 0 && i + 1 < argc) {
            stt_model = argv[++i];
        } else if (strcmp(argv[i], "--stt-fast") == 0) {
            stt_fast = 1;
        } else {
            fprintf(stderr, "usage: lexiaid-speech [--check] [--max-mem BYTES] [--max-seconds N] "
                            "[--stt-model DIR [--stt-fast]]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (stt_model != NULL) {
#ifdef LX_HAVE_POCKETSPHINX
        hx_sphinx_opts so = {stt_model, stt_fast};

        /* A helper that cannot recognize says why on each request (the
         * model directory is the operator's: speech.stt.model_dir). */
        if ((hx_rec = hx_sphinx_new(&so, hx_rec_err, sizeof(hx_rec_err))) == NULL)
            fprintf(stderr, "lexiaid-speech: %s\n", hx_rec_err);
#else
        (void)stt_fast;
#endif
    }
    if (hx_flite_engine() != NULL)
        hx_engines[hx_n_engines++] = hx_flite_engine();
    if (hx_espeak_engine() != NULL)
        hx_engines[hx_n_engines++] = hx_espeak_engine();
    if (check && stt_model != NULL) {
#ifdef LX_HAVE_POCKETSPHINX
        /* the recognizer: its model loaded, and a second of silence heard */
        static const int16_t silence[16000];
        hx_sphinx_result res = {0};
        char err[256] = "";

        if (hx_rec == NULL ||
            hx_sphinx_feed(hx_rec, silence, 16000, 1, &res, err, sizeof(err)) != 0) {
            printf("pocketsphinx: no recognizer %s\n", err);
            fflush(stdout);
            _exit(1);
        }
        printf("pocketsphinx: model %s loaded, a second of silence heard as \"%s\"\n", stt_model,
               res.text);
        free(res.text);
#else
        printf("pocketsphinx: not built in\n");
        fflush(stdout);
        _exit(1);
#endif
    }
    /* _exit: the engines keep their voices and dictionaries to the end,
     * which is now; nothing else to flush (frames are written with write()). */
    _exit(check ? hx_check() : hx_serve());
}
