/*
 * libFuzzer target for plugins/speech/audio/webm.c, the incremental WebM
 * reader. The first two bytes choose a split point; the rest is the
 * stream. It is read whole, then in two pieces at the split point, then a
 * byte at a time (for short inputs): the reader is incremental, so every
 * way must give the same packets, the same status and the same finish.
 * Copies of exactly each piece's size make reads past the end show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct trace {
    uint64_t hash;
    size_t n_packets, bytes;
} trace;

static int on_packet(void *arg, const unsigned char *p, size_t len)
{
    trace *t = arg;
    t->n_packets++;
    t->bytes += len;
    for (size_t i = 0; i < len; i++)
        t->hash = (t->hash ^ p[i]) * 1099511628211u;
    t->hash = (t->hash ^ len) * 1099511628211u;
    return 0;
}

typedef struct result {
    trace t;
    int rc, fin;
} result;

static result read_in_pieces(const uint8_t *data, size_t size, size_t step)
{
    result r = {{14695981039346656037u, 0, 0}, LX_OK, LX_OK};
    speech_webm *w = speech_webm_new();
    if (w == NULL)
        abort();
    char err[256];
    size_t off = 0;
    do {
        size_t n = step == 0 || size - off < step ? size - off : step;
        unsigned char *piece = malloc(n ? n : 1);
        if (piece == NULL)
            abort();
        memcpy(piece, data + off, n);
        err[0] = '\0';
        r.rc = speech_webm_feed(w, piece, n, on_packet, &r.t, err, sizeof(err));
        free(piece);
        if (r.rc != LX_OK && err[0] == '\0')
            abort(); /* every error says why */
        off += n;
    } while (r.rc == LX_OK && off < size);
    if (r.rc == LX_OK) {
        err[0] = '\0';
        r.fin = speech_webm_finish(w, err, sizeof(err));
        if (r.fin != LX_OK && err[0] == '\0')
            abort();
        size_t plen;
        const unsigned char *priv = speech_webm_codec_private(w, &plen);
        if (priv != NULL && plen > 0 && (priv[0] | priv[plen - 1]) == 0x1FF)
            abort(); /* touch both ends */
    }
    speech_webm_free(w);
    return r;
}

static void same(const result *a, const result *b)
{
    if (a->rc != b->rc || a->fin != b->fin || a->t.n_packets != b->t.n_packets ||
        a->t.bytes != b->t.bytes || a->t.hash != b->t.hash)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)(data[0] | data[1] << 8);
    data += 2;
    size -= 2;
    result whole = read_in_pieces(data, size, 0);
    if (split > 0 && split < size) {
        result two = read_in_pieces(data, size, split);
        same(&whole, &two);
    }
    if (size < 600) {
        result bytes = read_in_pieces(data, size, 1);
        same(&whole, &bytes);
    }
    return 0;
}
