/*
 * An incremental Ogg/Opus reader on libogg (ogg.h).
 */
#include "ogg.h"

#include <ogg/ogg.h>
#include <stdlib.h>
#include <string.h>

#define SLICE 65536         /* bytes handed to libogg at a time */
#define MAX_UNSYNCED 131072 /* a page is at most 65,307 bytes */

struct speech_ogg {
    ogg_sync_state sync;
    ogg_stream_state stream;
    int has_stream; /* `stream` is ours (its first packet was an OpusHead) */
    int n_packets;  /* of our stream: 0 head, 1 tags, then audio */
    int failed;
    unsigned char *head;
    size_t head_len;
    unsigned long long pos; /* bytes fed, for messages */
};

speech_ogg *speech_ogg_new(void)
{
    speech_ogg *o = calloc(1, sizeof(*o));
    if (o != NULL)
        ogg_sync_init(&o->sync);
    return o;
}

void speech_ogg_free(speech_ogg *o)
{
    if (o == NULL)
        return;
    ogg_sync_clear(&o->sync);
    if (o->has_stream)
        ogg_stream_clear(&o->stream);
    free(o->head);
    free(o);
}

const unsigned char *speech_ogg_head(const speech_ogg *o, size_t *len)
{
    *len = o->head_len;
    return o->head;
}

/* The first packet of a stream that begins on `page`: is it Opus? */
static int page_is_opus(ogg_page *page)
{
    return page->body_len >= 8 && memcmp(page->body, "OpusHead", 8) == 0;
}

static int packets(speech_ogg *o, speech_packet_fn packet, void *arg, char *err, size_t errlen)
{
    ogg_packet op;
    int r;
    while ((r = ogg_stream_packetout(&o->stream, &op)) != 0) {
        if (r < 0) {
            speech_audio_errf(err, errlen, "the Ogg stream has a gap (a page is missing)");
            return LX_EINVAL;
        }
        if (op.bytes < 0) {
            speech_audio_errf(err, errlen, "the Ogg stream has a broken packet");
            return LX_EINVAL;
        }
        int i = o->n_packets < 2 ? o->n_packets++ : 2;
        if (i == 0) {
            if (op.bytes < 19 || memcmp(op.packet, "OpusHead", 8) != 0) {
                speech_audio_errf(err, errlen, "the Ogg stream is not Opus");
                return LX_EINVAL;
            }
            o->head = malloc((size_t)op.bytes);
            if (o->head == NULL)
                return LX_ENOMEM;
            memcpy(o->head, op.packet, (size_t)op.bytes);
            o->head_len = (size_t)op.bytes;
        } else if (i == 1) {
            if (op.bytes < 8 || memcmp(op.packet, "OpusTags", 8) != 0) {
                speech_audio_errf(err, errlen, "the Ogg/Opus stream has no OpusTags");
                return LX_EINVAL;
            }
        } else {
            int rc = packet(arg, op.packet, (size_t)op.bytes);
            if (rc != 0)
                return rc;
        }
    }
    return LX_OK;
}

static int pages(speech_ogg *o, speech_packet_fn packet, void *arg, char *err, size_t errlen)
{
    ogg_page page;
    int r;
    while ((r = ogg_sync_pageout(&o->sync, &page)) != 0) {
        if (r < 0) {
            speech_audio_errf(err, errlen,
                              "not an Ogg stream, or a corrupt one (lost sync before byte %llu)",
                              o->pos);
            return LX_EINVAL;
        }
        if (!o->has_stream) {
            if (!ogg_page_bos(&page)) {
                speech_audio_errf(err, errlen, "the Ogg stream has no Opus stream");
                return LX_EINVAL;
            }
            if (!page_is_opus(&page))
                continue; /* another codec's stream: wait for ours */
            if (ogg_stream_init(&o->stream, ogg_page_serialno(&page)) != 0) {
                speech_audio_errf(err, errlen, "out of memory");
                return LX_ENOMEM;
            }
            o->has_stream = 1;
        }
        if (ogg_page_serialno(&page) != o->stream.serialno)
            continue;
        if (ogg_stream_pagein(&o->stream, &page) != 0) {
            speech_audio_errf(err, errlen, "the Ogg stream has a broken page");
            return LX_EINVAL;
        }
        /* A packet continued over many pages grows in libogg's buffer. */
        if (o->stream.body_fill - o->stream.body_returned > (long)SPEECH_OGG_MAX_PACKET) {
            speech_audio_errf(err, errlen, "an Ogg packet is larger than %u bytes",
                              SPEECH_OGG_MAX_PACKET);
            return LX_ETOOBIG;
        }
        int rc = packets(o, packet, arg, err, errlen);
        if (rc != LX_OK)
            return rc;
    }
    if (o->sync.fill - o->sync.returned > MAX_UNSYNCED) {
        speech_audio_errf(err, errlen, "not an Ogg stream (no page in %d bytes)", MAX_UNSYNCED);
        return LX_EINVAL;
    }
    return LX_OK;
}

static int feed(speech_ogg *o, const unsigned char *p, size_t len, speech_packet_fn packet,
                void *arg, char *err, size_t errlen)
{
    while (len > 0) {
        size_t n = len < SLICE ? len : SLICE;
        char *b = ogg_sync_buffer(&o->sync, (long)n);
        if (b == NULL || (memcpy(b, p, n), ogg_sync_wrote(&o->sync, (long)n)) != 0) {
            speech_audio_errf(err, errlen, "out of memory");
            return LX_ENOMEM;
        }
        o->pos += n;
        p += n;
        len -= n;
        int rc = pages(o, packet, arg, err, errlen);
        if (rc != LX_OK)
            return rc;
    }
    return LX_OK;
}

int speech_ogg_feed(speech_ogg *o, const unsigned char *p, size_t len, speech_packet_fn packet,
                    void *arg, char *err, size_t errlen)
{
    if (o->failed) {
        speech_audio_errf(err, errlen, "the Ogg stream already failed");
        return o->failed;
    }
    int rc = feed(o, p, len, packet, arg, err, errlen);
    if (rc == LX_ENOMEM)
        speech_audio_errf(err, errlen, "out of memory");
    if (rc != LX_OK)
        o->failed = rc;
    return rc;
}

int speech_ogg_finish(speech_ogg *o, char *err, size_t errlen)
{
    if (o->failed) {
        speech_audio_errf(err, errlen, "the Ogg stream already failed");
        return o->failed;
    }
    if (o->head == NULL) {
        speech_audio_errf(err, errlen, "the Ogg stream ends before its OpusHead");
        return LX_EINVAL;
    }
    if (o->sync.fill > o->sync.returned) {
        speech_audio_errf(err, errlen, "the Ogg stream is truncated (it ends inside a page)");
        return LX_EINVAL;
    }
    return LX_OK;
}
