/*
 * MP3 with LAME (engine.h): constant bit rate, so that a player seeking to
 * a time lands where the byte offset says (time x bit rate).
 *
 * No Xing/LAME Info frame: at the bit rates speech needs at 22 kHz LAME
 * cannot fit one in a frame (it needs about 180 bytes; a 40 kbit/s frame
 * at 22,050 Hz has 130). Without it no decoder trims the encoder's delay,
 * so every decoder (browsers, ffmpeg) starts the first sample of speech
 * at the same place: hx_mp3_delay() samples in, the encoder delay plus the
 * Layer III decoder's 529. The helper adds that to every time it reports.
 *
 * The encoder runs on a thread of its own while the engine speaks on the
 * main thread (the engines are not thread-safe; a LAME encoder used by one
 * thread is): a 500-word page costs about the longer of the two instead of
 * their sum. The samples wait in a queue of at most HX_MP3_QUEUE bytes; an
 * engine faster than the encoder waits for it there. When no thread can
 * be started the encoding is done in hx_mp3_feed itself.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lame/lame.h>

#include "engine.h"

#define HX_MP3_CHUNK 16384      /* samples handed to LAME at once */
#define HX_MP3_QUEUE (4u << 20) /* bytes of samples waiting, at most */

typedef struct mp3_block {
    struct mp3_block *next;
    size_t n;
    short s[];
} mp3_block;

struct hx_mp3 {
    lame_global_flags *gf;
    unsigned char *buf; /* the MP3 so far (the encoder's) */
    size_t len, cap;
    /* the queue between the engine (feed) and the encoder thread */
    pthread_t thread;
    int has_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mp3_block *head, *tail;
    size_t queued;  /* bytes of samples in the queue */
    int is_closing; /* no more samples */
    int failed;     /* the encoder failed or ran out of memory */
};

static int mp3_reserve(hx_mp3 *m, size_t extra)
{
    if (m->cap - m->len >= extra)
        return 0;
    size_t cap = m->cap ? m->cap : 65536;
    while (cap - m->len < extra)
        cap *= 2;
    unsigned char *p = realloc(m->buf, cap);
    if (p == NULL)
        return -1;
    m->buf = p;
    m->cap = cap;
    return 0;
}

/* Encodes n samples into m->buf (the encoder's side). 0 or -1. */
static int mp3_encode(hx_mp3 *m, const short *samples, size_t n)
{
    while (n > 0) {
        int chunk = n > HX_MP3_CHUNK ? HX_MP3_CHUNK : (int)n;
        size_t need = (size_t)chunk * 5 / 4 + 7200; /* LAME's documented worst case */
        int got;

        if (mp3_reserve(m, need) != 0)
            return -1;
        /* mono: the right channel is ignored */
        got = lame_encode_buffer(m->gf, samples, samples, chunk, m->buf + m->len,
                                 (int)(m->cap - m->len));
        if (got < 0)
            return -1;
        m->len += (size_t)got;
        samples += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

static void *mp3_thread(void *arg)
{
    hx_mp3 *m = arg;

    pthread_mutex_lock(&m->mu);
    for (;;) {
        mp3_block *b;
        int rc, skip;

        while (m->head == NULL && !m->is_closing)
            pthread_cond_wait(&m->cv, &m->mu);
        if ((b = m->head) == NULL)
            break; /* closing, and everything is encoded */
        m->head = b->next;
        if (m->head == NULL)
            m->tail = NULL;
        m->queued -= b->n * sizeof(short);
        skip = m->failed;
        pthread_cond_broadcast(&m->cv); /* room for the engine */
        pthread_mutex_unlock(&m->mu);
        rc = skip ? 0 : mp3_encode(m, b->s, b->n);
        free(b);
        pthread_mutex_lock(&m->mu);
        if (rc != 0)
            m->failed = 1;
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

hx_mp3 *hx_mp3_new(uint32_t rate_hz, uint32_t kbps, char *err, size_t errlen)
{
    hx_mp3 *m = calloc(1, sizeof(*m));

    if (m == NULL || (m->gf = lame_init()) == NULL) {
        snprintf(err, errlen, "cannot start the MP3 encoder");
        free(m);
        return NULL;
    }
    lame_set_num_channels(m->gf, 1);
    lame_set_mode(m->gf, MONO);
    lame_set_in_samplerate(m->gf, (int)rate_hz);
    lame_set_out_samplerate(m->gf, (int)rate_hz);
    lame_set_VBR(m->gf, vbr_off);
    lame_set_brate(m->gf, (int)kbps);
    lame_set_quality(m->gf, 7); /* LAME's "fast" preset: speech needs no more */
    lame_set_bWriteVbrTag(m->gf, 0);
    if (lame_init_params(m->gf) < 0) {
        snprintf(err, errlen, "the MP3 encoder refused %u Hz at %u kbit/s", (unsigned)rate_hz,
                 (unsigned)kbps);
        hx_mp3_free(m);
        return NULL;
    }
    if (pthread_mutex_init(&m->mu, NULL) == 0) {
        if (pthread_cond_init(&m->cv, NULL) == 0) {
            m->has_thread = pthread_create(&m->thread, NULL, mp3_thread, m) == 0;
            if (!m->has_thread)
                pthread_cond_destroy(&m->cv);
        }
        if (!m->has_thread)
            pthread_mutex_destroy(&m->mu);
    }
    return m;
}

int hx_mp3_feed(hx_mp3 *m, const short *samples, size_t n)
{
    mp3_block *b;
    int failed;

    if (!m->has_thread)
        return mp3_encode(m, samples, n);
    if (n == 0)
        return 0;
    b = malloc(sizeof(*b) + n * sizeof(short));
    if (b == NULL)
        return -1;
    b->next = NULL;
    b->n = n;
    memcpy(b->s, samples, n * sizeof(short));
    pthread_mutex_lock(&m->mu);
    while (m->queued > HX_MP3_QUEUE && !m->failed)
        pthread_cond_wait(&m->cv, &m->mu);
    if (m->tail != NULL)
        m->tail->next = b;
    else
        m->head = b;
    m->tail = b;
    m->queued += n * sizeof(short);
    failed = m->failed;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return failed ? -1 : 0;
}

/* Ends the encoder thread once the queue is encoded (or dropped). */
static void mp3_join(hx_mp3 *m)
{
    if (!m->has_thread)
        return;
    pthread_mutex_lock(&m->mu);
    m->is_closing = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    m->has_thread = 0;
    while (m->head != NULL) {
        mp3_block *b = m->head;

        m->head = b->next;
        free(b);
    }
}

int hx_mp3_finish(hx_mp3 *m, unsigned char **out, size_t *len)
{
    int got;

    *out = NULL;
    *len = 0;
    mp3_join(m); /* the thread is gone: m->failed is ours again */
    if (m->failed || mp3_reserve(m, 7200) != 0)
        goto fail;
    got = lame_encode_flush(m->gf, m->buf + m->len, (int)(m->cap - m->len));
    if (got < 0)
        goto fail;
    m->len += (size_t)got;
    *out = m->buf;
    *len = m->len;
    m->buf = NULL;
    hx_mp3_free(m);
    return 0;
fail:
    hx_mp3_free(m);
    return -1;
}

uint32_t hx_mp3_delay(const hx_mp3 *m)
{
    int d = lame_get_encoder_delay(m->gf);

    return (uint32_t)(d > 0 ? d : 576) + 529; /* + the decoder's delay */
}

void hx_mp3_free(hx_mp3 *m)
{
    if (m == NULL)
        return;
    if (m->has_thread) {
        pthread_mutex_lock(&m->mu);
        m->failed = 1; /* drop what waits */
        pthread_mutex_unlock(&m->mu);
        mp3_join(m);
    }
    if (m->gf != NULL)
        lame_close(m->gf);
    free(m->buf);
    free(m);
}
