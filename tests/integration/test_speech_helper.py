#!/usr/bin/env python3
"""lexiaid-speech, the speech helper (plugins/speech/helper/), on its own:
its frames (plugins/speech/proto.h) over a pipe with the real engines. The
word marks it gives must land on the words of the text it was given (byte
offsets, UTF-8 included), the MP3 must decode, and a malformed request
must not crash it."""

import base64
import os
import struct
import subprocess
import unittest

import lxspeech
import lxtest
from lxspeech import decode_mp3, helper_path


def frame(kind, payload):
    body = kind.encode() + payload
    return struct.pack("<I", len(body)) + body


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<I", len(b)) + b


def speak(voice, segments, rate=1000, pitch=0, kbps=40, pause=600):
    p = struct.pack("<I", 1) + s(voice) + struct.pack("<iiIII", rate, pitch, kbps, pause,
                                                       len(segments))
    for text, ends in segments:
        p += bytes([ends]) + s(text)
    return frame("S", p)


class Helper:

    def __init__(self):
        self.p = subprocess.Popen([helper_path()], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def ask(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()
        head = self.p.stdout.read(4)
        if len(head) < 4:
            return None
        n = struct.unpack("<I", head)[0]
        return self.p.stdout.read(n)

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        return self.p.wait(30)


def parse_audio(d):
    assert d[:1] == b"A", d[:200]
    off = 1
    rate, lo, hi, nseg = struct.unpack_from("<IIII", d, off)
    off += 16
    ends = list(struct.unpack_from("<%dI" % nseg, d, off))
    off += 4 * nseg
    nm = struct.unpack_from("<I", d, off)[0]
    off += 4
    marks = [struct.unpack_from("<III", d, off + 12 * i) for i in range(nm)]
    off += 12 * nm
    ml = struct.unpack_from("<I", d, off)[0]
    mp3 = d[off + 4:off + 4 + ml]
    assert off + 4 + ml == len(d)
    return rate, lo | hi << 32, ends, marks, mp3


def parse_voices(d):
    assert d[:1] == b"L"
    ver, n = struct.unpack_from("<II", d, 1)
    off, out = 9, []
    for _ in range(n):
        vals = []
        for k in range(5):
            if k == 3:
                vals.append(struct.unpack_from("<I", d, off)[0])
                off += 4
                continue
            ln = struct.unpack_from("<I", d, off)[0]
            vals.append(d[off + 4:off + 4 + ln].decode())
            off += 4 + ln
        out.append(vals)
    return ver, out


class TestHelper(lxtest.TestCase):

    def setUp(self):
        super().setUp()
        if not os.path.exists(helper_path()):
            raise AssertionError("the helper was not built: " + helper_path())
        self.h = Helper()
        self.addCleanup(self.h.close)

    def test_check_speaks_a_word_with_every_engine(self):
        p = subprocess.run([helper_path(), "--check"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("flite: 3 voices", p.stdout)
        self.assertIn("espeak-ng:", p.stdout)

    def test_voices_of_both_engines(self):
        ver, voices = parse_voices(self.h.ask(frame("V", struct.pack("<I", 1))))
        self.assertEqual(ver, 1)
        names = [v[0] for v in voices]
        self.assertEqual(names[:3], ["flite:cmu_us_slt", "flite:cmu_us_rms", "flite:cmu_us_awb"])
        self.assertIn("espeak-ng:en-us", names)
        self.assertEqual(len(names), len(set(names)))

    def check_marks(self, voice, segments, expect_rate):
        rate, n, ends, marks, mp3 = parse_audio(self.h.ask(speak(voice, segments)))
        self.assertEqual(rate, expect_rate)
        # every mark is inside a word of its segment (a number may give a
        # mark per digit group), on a character's first byte, in time order
        for seg, off, ms in marks:
            text = segments[seg][0].encode()
            self.assertLess(off, len(text))
            self.assertNotEqual(text[off:off + 1], b" ", (voice, seg, off, text))
            self.assertNotEqual(text[off] & 0xC0, 0x80, (voice, seg, off, text))
        times = [m[2] for m in marks]
        self.assertEqual(times, sorted(times))
        self.assertEqual(ends, sorted(ends))
        self.assertLessEqual(ends[-1], n * 1000 // rate + 1)
        _, samples, sr, _, codec, _ = decode_mp3(base64.b64encode(mp3).decode())
        self.assertEqual((codec, sr), ("mp3", rate))
        # the decoded audio holds all the speech the helper counted
        self.assertGreaterEqual(samples, n)
        self.assertLess(samples - n, 2 * 576 + 1105)
        return marks

    def test_espeak_marks_are_byte_offsets_of_utf8_words(self):
        segs = [("Ça coûte 3,5 € — très cher.", 1), ("Naïve café.", 1)]
        marks = self.check_marks("espeak-ng:fr", segs, 22050)
        offs = {(m[0], m[1]) for m in marks}
        text0 = segs[0][0].encode()
        self.assertIn((0, text0.index("coûte".encode())), offs)
        self.assertIn((0, text0.index("très".encode())), offs)
        self.assertIn((1, segs[1][0].encode().index("café".encode())), offs)

    def test_flite_marks_are_byte_offsets_of_words(self):
        segs = [("Dr. Smith paid $12 for 3.5 kg.", 0), ("Then he left.", 1)]
        marks = self.check_marks("flite:cmu_us_slt", segs, 16000)
        offs = {(m[0], m[1]) for m in marks}
        for word in ("Smith", "$12", "3.5"):
            self.assertIn((0, segs[0][0].index(word)), offs, word)
        self.assertIn((1, 0), offs)

    def test_times_only_speaks_and_times_without_an_mp3(self):
        # kbps 0: what an OpenAI-compatible voice's estimated times need
        segs = [("Plants need light and water.", 1), ("The Moon moves.", 1)]
        rate, n, ends, marks, mp3 = parse_audio(self.h.ask(speak("espeak-ng:en-us", segs,
                                                                 kbps=0)))
        self.assertEqual(mp3, b"")
        self.assertEqual(rate, 22050)
        self.assertEqual(len(marks), 8)  # a mark per word
        self.assertEqual([m[2] for m in marks], sorted(m[2] for m in marks))
        self.assertEqual(len(ends), 2)
        self.assertLessEqual(ends[-1], n * 1000 // rate + 1)
        # the same words timed with an MP3: the times differ by the encoder's delay only
        _, n2, ends2, marks2, mp3_2 = parse_audio(self.h.ask(speak("espeak-ng:en-us", segs)))
        self.assertGreater(len(mp3_2), 0)
        self.assertEqual([m[:2] for m in marks2], [m[:2] for m in marks])
        delay = (n2 - n) * 1000 // rate
        self.assertGreater(n2, n)
        for a, b in zip(marks, marks2):
            self.assertLessEqual(abs(b[2] - a[2] - delay), 1)
        # a bit rate the encoder refuses is still refused
        self.assertEqual(self.h.ask(speak("espeak-ng:en-us", segs, kbps=4))[:1], b"E")

    def test_an_unknown_voice_is_an_error_frame(self):
        d = self.h.ask(speak("espeak-ng:xx-nowhere", [("Hello.", 1)]))
        self.assertEqual(d[:1], b"E")
        self.assertEqual(struct.unpack_from("<I", d, 1)[0], 1)  # SPEECH_ERR_VOICE
        # and it goes on serving
        self.assertEqual(self.h.ask(speak("espeak-ng:en-us", [("Hello.", 1)]))[:1], b"A")

    def test_a_malformed_request_is_an_error_not_a_crash(self):
        d = self.h.ask(frame("S", b"\x01\x00\x00\x00\xff\xff\xff\x7f"))
        self.assertEqual(d[:1], b"E")
        d = self.h.ask(frame("Z", b""))
        self.assertEqual(d[:1], b"E")
        self.assertEqual(self.h.ask(speak("espeak-ng:en-us", [("Fine.", 1)]))[:1], b"A")
        # a length it will not read ends it cleanly
        self.assertIsNone(self.h.ask(struct.pack("<I", 0)))
        self.assertEqual(self.h.close(), 0)


def setUpModule():
    lxspeech.need_both_engines()


if __name__ == "__main__":
    lxtest.main()
