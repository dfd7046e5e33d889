/*
 * An incremental WebM (Matroska/EBML) reader for dictation: the audio of
 * MediaRecorder's `audio/webm;codecs=opus`, fed in the pieces the browser
 * sends (a piece every second; only the first has the EBML header and the
 * Tracks; the Segment and every Cluster have an unknown size), or a whole
 * file at once. A piece may end anywhere, even inside an element header.
 *
 * It reads the EBML header (DocType webm or matroska), Info (the timecode
 * scale), Tracks (the first audio track whose codec is A_OPUS, its
 * CodecPrivate: the OpusHead) and the clusters' SimpleBlocks and
 * BlockGroups' Blocks of that track, laced or not, and hands each frame to
 * a callback. Everything else (SeekHead, Cues, Tags, Void, other tracks'
 * blocks) is skipped without being buffered. An element read whole is
 * bounded (SPEECH_WEBM_MAX_ELEMENT), so memory stays bounded whatever the
 * input; the caller bounds the stream's length.
 *
 * Own code rather than Debian's libwebm: libwebm is C++ and its parser
 * wants to seek (IMkvReader::Read at any position, the whole Segment
 * reachable); MediaRecorder's pieces arrive once and cannot be re-read, so
 * a shim would have to keep the whole stream. The subset a recorder writes
 * is small (six element kinds) and this reader is fuzzed
 * (tests/fuzz/fuzz_speech_webm.c).
 *
 * Pure code; one reader per stream, any one thread at a time.
 */
#ifndef SPEECH_AUDIO_WEBM_H
#define SPEECH_AUDIO_WEBM_H

#include <stddef.h>
#include <stdint.h>

#include "audio.h"

/* The largest element read whole (EBML header, Info, Tracks, a block, a
 * BlockGroup); larger ones are refused. An Opus block is a few KiB. */
#define SPEECH_WEBM_MAX_ELEMENT (1u << 20)

typedef struct speech_webm speech_webm;

/* A new reader, or NULL when out of memory. */
speech_webm *speech_webm_new(void);
void speech_webm_free(speech_webm *w);

/* Reads p[0..len) (borrowed for the call; len may be 0) and calls
 * packet(arg, ...) for every Opus frame of the audio track it completes,
 * in order. Bytes of an element not yet complete are kept for the next
 * call. Returns LX_OK; LX_EINVAL when the bytes are not a WebM stream with
 * Opus audio (err says where and why; the reader then refuses further
 * input); LX_ETOOBIG for an element over SPEECH_WEBM_MAX_ELEMENT;
 * LX_ENOMEM; or what packet returned. */
int speech_webm_feed(speech_webm *w, const unsigned char *p, size_t len, speech_packet_fn packet,
                     void *arg, char *err, size_t errlen);

/* The end of the stream: LX_OK, or LX_EINVAL when it stops inside an
 * element or before any audio track (a truncated file). */
int speech_webm_finish(speech_webm *w, char *err, size_t errlen);

/* The audio track's CodecPrivate (the OpusHead), borrowed until the reader
 * is freed; NULL until the Tracks were read (or when it had none). */
const unsigned char *speech_webm_codec_private(const speech_webm *w, size_t *len);

/* True once the Tracks were read and an Opus audio track chosen. */
int speech_webm_has_track(const speech_webm *w);

#endif
