/*
 * The wire protocol between a worker and its lexiaid-speech helpers
 * (plugins/speech/helper/), over the helper's stdin and stdout.
 *
 * A frame is a little-endian u32 length, then that many bytes: a type byte
 * and the type's fields (u32 little-endian; strings and byte strings as a
 * u32 length and the bytes). One request at a time: the worker writes one
 * request frame and reads exactly one answer frame before the next.
 *
 *   'V' voices?  u32 version
 *   'L' voices   u32 version, u32 n, n x {str name, str language codes
 *                (comma separated, BCP 47), str gender (MALE, FEMALE,
 *                NEUTRAL), u32 natural sample rate, str provider}
 *   'S' speak    u32 version, str voice, i32 rate (x1000), i32 pitch
 *                (semitones x100), u32 MP3 kbit/s (0: the times only, no
 *                MP3 encoded or sent), u32 paragraph pause ms,
 *                u32 n, n x {u8 flags (SPEECH_SEG_*), str segment text}
 *   'A' audio    u32 sample rate, u32 samples (low), u32 samples (high),
 *                u32 n segments, n x u32 end of the segment's speech (ms),
 *                u32 m, m x {u32 segment, u32 byte offset, u32 ms},
 *                bytes MP3 (CBR, no Xing/Info frame: parts join by
 *                concatenation)
 *   'E' error    u32 code (SPEECH_ERR_*), str message for a person
 *   'R' recognize u32 version, u8 flags (SPEECH_REC_*), bytes PCM (16 kHz
 *                mono, signed 16-bit little-endian): audio of the phrase
 *                in progress (dictation; a helper started with
 *                --stt-model)
 *   'T' transcript u8 is final, i32 confidence (x1000, -1 unknown), str
 *                text (the phrase so far, or all of it when final)
 *   'P' encode   u32 version, u32 sample rate, u32 MP3 kbit/s, bytes PCM
 *                (mono, signed 16-bit little-endian): a cloud provider's
 *                audio to MP3; answered by an 'A' with no segment and no
 *                mark whose samples are the decoder's delay plus the PCM's
 *
 * Pure code, shared by the plugin and the helper; the decoders take
 * untrusted bytes (a helper may be killed halfway through a frame) and are
 * fuzzed (tests/fuzz/fuzz_speech_proto.c).
 */
#ifndef SPEECH_PROTO_H
#define SPEECH_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "align.h"

#define SPEECH_PROTO_VERSION 1
#define SPEECH_FRAME_MAX (512u << 20) /* an answer of hours of audio fits */

enum {
    SPEECH_MSG_VOICES = 'V',
    SPEECH_MSG_VOICE_LIST = 'L',
    SPEECH_MSG_SPEAK = 'S',
    SPEECH_MSG_AUDIO = 'A',
    SPEECH_MSG_ERROR = 'E',
    SPEECH_MSG_RECOGNIZE = 'R',
    SPEECH_MSG_TRANSCRIPT = 'T',
    SPEECH_MSG_ENCODE = 'P',
};

/* A segment's flags in 'S': it ends a paragraph (a pause of the paragraph
 * pause follows it unless it is the request's last); the pause follows
 * even the last (another request speaks the rest of the text). */
enum {
    SPEECH_SEG_ENDS_PARA = 1,
    SPEECH_SEG_PAUSE_AFTER = 2,
};

/* 'R' flags */
enum {
    SPEECH_REC_ENDS = 1,  /* the phrase ends with this audio: answer its final text */
    SPEECH_REC_FRESH = 2, /* drop any phrase in progress first (a new stream's) */
};

enum {
    SPEECH_ERR_VOICE = 1,   /* no such voice */
    SPEECH_ERR_ENGINE = 2,  /* the engine failed */
    SPEECH_ERR_REQUEST = 3, /* a malformed request (a bug) */
    SPEECH_ERR_MEMORY = 4,
    SPEECH_ERR_TOO_LONG = 5, /* more audio than the helper may make */
};

/* A growing frame being written. */
typedef struct speech_wbuf {
    unsigned char *p;
    size_t len, cap;
    size_t open; /* where the frame begun last starts */
    int failed;  /* LX_ENOMEM, or LX_ETOOBIG over SPEECH_FRAME_MAX */
} speech_wbuf;

void speech_w_begin(speech_wbuf *b, uint8_t type); /* starts a frame at the end of b */
void speech_w_u8(speech_wbuf *b, uint8_t v);
void speech_w_u32(speech_wbuf *b, uint32_t v);
void speech_w_bytes(speech_wbuf *b, const void *p, size_t len); /* u32 length + bytes */
void speech_w_str(speech_wbuf *b, const char *s);
/* Ends the frame begun last (writes its length): LX_OK, or LX_ENOMEM /
 * LX_ETOOBIG when a write failed. */
int speech_w_end(speech_wbuf *b);
void speech_wbuf_free(speech_wbuf *b);
/* Ends the frame begun last and hands over the buffer: the caller frees
 * it and *len is its length. NULL (b freed, *len untouched) when a write
 * failed. Any thread. */
unsigned char *speech_w_take(speech_wbuf *b, size_t *len);

/* A frame in a stream buffer: 1 with the payload (type byte first) at
 * buf[*off..*off + *plen) and *consumed bytes used; 0 when more bytes are
 * needed; -1 when the length is 0 or over SPEECH_FRAME_MAX. */
int speech_frame_next(const unsigned char *buf, size_t len, size_t *off, size_t *plen,
                      size_t *consumed);

/* Decoded messages own their memory (free with the matching function). */
typedef struct speech_voice_info {
    char *name, *languages, *gender, *provider;
    uint32_t sample_rate;
} speech_voice_info;

typedef struct speech_voice_list {
    speech_voice_info *v;
    size_t n;
} speech_voice_list;

typedef struct speech_speak {
    char *voice;
    int32_t rate_milli, pitch_centi;
    uint32_t kbps, pause_ms;
    size_t n;
    char **text; /* NUL-terminated copies */
    uint32_t *len;
    uint8_t *ends_para;
} speech_speak;

typedef struct speech_audio {
    uint32_t sample_rate;
    uint64_t n_samples;
    uint32_t *seg_end_ms;
    size_t n_segs;
    speech_mark *marks;
    size_t n_marks;
    unsigned char *mp3;
    size_t mp3_len;
} speech_audio;

typedef struct speech_error {
    uint32_t code;
    char *message;
} speech_error;

typedef struct speech_recognize {
    uint8_t flags;
    const unsigned char *pcm; /* borrowed from the payload decoded */
    size_t n_samples;
} speech_recognize;

typedef struct speech_transcript {
    int is_final;
    int32_t confidence_milli;
    char *text;
} speech_transcript;

typedef struct speech_encode {
    uint32_t rate, kbps;
    const unsigned char *pcm; /* borrowed from the payload decoded (little-endian) */
    size_t n_samples;
} speech_encode;

/* A whole 'P' frame for pcm_le[0..2 * n) at rate, malloc'd (*len). NULL
 * when out of memory or too large. */
unsigned char *speech_encode_frame(const unsigned char *pcm_le, size_t n, uint32_t rate,
                                   uint32_t kbps, size_t *len);
int speech_encode_decode(const unsigned char *p, size_t len, speech_encode *out);

/* A whole 'R' frame for pcm[0..n) with flags, malloc'd (*len). NULL when
 * out of memory or too large. */
unsigned char *speech_recognize_frame(const int16_t *pcm, size_t n, uint8_t flags, size_t *len);

/* Decoders of one payload (type byte included). LX_OK, LX_EINVAL (not that
 * message, or malformed: truncated, trailing bytes, counts that do not
 * fit, strings with NUL) or LX_ENOMEM. *out is zeroed first. */
int speech_voice_list_decode(const unsigned char *p, size_t len, speech_voice_list *out);
int speech_speak_decode(const unsigned char *p, size_t len, speech_speak *out);
int speech_audio_decode(const unsigned char *p, size_t len, speech_audio *out);
int speech_error_decode(const unsigned char *p, size_t len, speech_error *out);
int speech_recognize_decode(const unsigned char *p, size_t len, speech_recognize *out);
int speech_transcript_decode(const unsigned char *p, size_t len, speech_transcript *out);

void speech_voice_list_free(speech_voice_list *l);
void speech_speak_free(speech_speak *s);
void speech_audio_free(speech_audio *a);
void speech_error_free(speech_error *e);
void speech_transcript_free(speech_transcript *t);

#endif
