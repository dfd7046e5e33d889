/*
 * One speech_audio from several (join.c): a long text spoken in parts by
 * several helpers at once (local.c) comes back as parts, each a whole CBR
 * MP3 whose times start at its own beginning. Pure: no host calls, no
 * I/O, any thread.
 */
#ifndef SPEECH_JOIN_H
#define SPEECH_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Joins parts[0..n) (n >= 1, borrowed) into *out (the caller's; free with
 * speech_audio_free). Part k spoke the segments that start at first_seg[k]
 * of the whole text (first_seg[0] == 0, increasing): its segment ends and
 * marks go to those segments. Its MP3 frames follow those of the parts
 * before it, so its times move by their length as a decoder plays it (the
 * frames counted: each part starts afresh with the encoder's delay, and
 * the Layer III decoder's own delay is in every part's times already,
 * which is also where it is in the joined stream: once, at its start).
 * LX_OK; LX_EINVAL when the parts' sample rates differ or a part is not
 * MP3; LX_ENOMEM. */
int speech_audio_join(const speech_audio *parts, const uint32_t *first_seg, size_t n,
                      speech_audio *out);

#endif
