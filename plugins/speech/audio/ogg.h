/*
 * An incremental Ogg reader for dictation uploads (Ogg/Opus, RFC 7845),
 * on libogg's page and packet layer. The first logical stream that begins
 * with an OpusHead is read; other streams (a Skeleton, a video) are
 * ignored. Its OpusHead is kept, OpusTags skipped, and every audio packet
 * handed to a callback in order. A lost sync (bytes that are not pages, a
 * page whose CRC fails), a gap in the packet sequence or a packet larger
 * than SPEECH_OGG_MAX_PACKET is an error. Pure code; one reader per
 * stream, any one thread at a time; fuzzed (tests/fuzz/fuzz_speech_ogg.c).
 */
#ifndef SPEECH_AUDIO_OGG_H
#define SPEECH_AUDIO_OGG_H

#include <stddef.h>

#include "audio.h"

#define SPEECH_OGG_MAX_PACKET (1u << 20)

typedef struct speech_ogg speech_ogg;

speech_ogg *speech_ogg_new(void); /* NULL when out of memory */
void speech_ogg_free(speech_ogg *o);

/* Reads p[0..len) and calls packet for each audio packet it completes.
 * LX_OK; LX_EINVAL when the bytes are not an Ogg/Opus stream (err says
 * why; it then refuses further input); LX_ETOOBIG for a packet over the
 * limit; LX_ENOMEM; or what packet returned. */
int speech_ogg_feed(speech_ogg *o, const unsigned char *p, size_t len, speech_packet_fn packet,
                    void *arg, char *err, size_t errlen);

/* The end: LX_OK, or LX_EINVAL when it stops inside a page or before the
 * OpusHead. */
int speech_ogg_finish(speech_ogg *o, char *err, size_t errlen);

/* The OpusHead packet, borrowed until the reader is freed; NULL until read. */
const unsigned char *speech_ogg_head(const speech_ogg *o, size_t *len);

#endif
