/*
 * libFuzzer target for plugins/speech/audio/ogg.c, the Ogg/Opus reader on
 * libogg. The first byte chooses a piece size; the rest is the stream,
 * read in pieces of that size (copies of exactly each piece's size). It
 * must never crash, say why whenever it fails, and give the same packets
 * whole and in pieces while both succeed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ogg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct trace {
    uint64_t hash;
    size_t n;
} trace;

static int on_packet(void *arg, const unsigned char *p, size_t len)
{
    trace *t = arg;
    t->n++;
    for (size_t i = 0; i < len; i++)
        t->hash = (t->hash ^ p[i]) * 1099511628211u;
    return 0;
}

static int read_in_pieces(const uint8_t *data, size_t size, size_t step, trace *t)
{
    speech_ogg *o = speech_ogg_new();
    if (o == NULL)
        abort();
    char err[256];
    size_t off = 0;
    int rc;
    do {
        size_t n = step == 0 || size - off < step ? size - off : step;
        unsigned char *piece = malloc(n ? n : 1);
        if (piece == NULL)
            abort();
        memcpy(piece, data + off, n);
        err[0] = '\0';
        rc = speech_ogg_feed(o, piece, n, on_packet, t, err, sizeof(err));
        free(piece);
        off += n;
    } while (rc == LX_OK && off < size);
    if (rc == LX_OK) {
        err[0] = '\0';
        rc = speech_ogg_finish(o, err, sizeof(err));
    }
    if (rc != LX_OK && err[0] == '\0')
        abort();
    size_t hl;
    const unsigned char *head = speech_ogg_head(o, &hl);
    if (head != NULL && (hl < 19 || memcmp(head, "OpusHead", 8) != 0))
        abort();
    speech_ogg_free(o);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] + 1;
    data++;
    size--;
    trace a = {14695981039346656037u, 0}, b = a;
    int ra = read_in_pieces(data, size, 0, &a);
    int rb = read_in_pieces(data, size, step, &b);
    if (ra == LX_OK && rb == LX_OK && (a.n != b.n || a.hash != b.hash))
        abort();
    return 0;
}
