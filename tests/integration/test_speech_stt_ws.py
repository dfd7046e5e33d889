#!/usr/bin/env python3
"""Live dictation over the WebSocket /ws/stt/stream, as the LexiAid frontend
does it: MediaRecorder's WebM/Opus (made from speech flite reads, in
MediaRecorder's shape) sent as one-second pieces, one a second; text frames
{"is_final", "transcript", "stability"} back: an interim after every piece,
finals per phrase, the last final right after the last piece, before the
browser would close (500 ms after stop). The final text recalls most of the
words. Bad audio, a stream past the limits and a recognizer killed
mid-stream close with a clear error, and the next stream works. A bad
token is 4001. The route is the one etc/lexiaid.conf ships.

Needs python3's websockets (scripts/deps.sh --test; under CI=true a missing
one fails)."""

import json
import os
import re
import signal
import time
import unittest

import lxaudio
import lxtest
import lxws
from lxspeech import HAVE_POCKETSPHINX, helper_pids
from test_speech_stt import RECALL_FLOOR, stt_server

WS_PATH = "/ws/stt/stream"


def ws_route():
    """The dictation route as etc/lexiaid.conf ships it: `websocket`,
    `before` and its limits."""
    with open(os.path.join(lxtest.SRCDIR, "etc", "lexiaid.conf")) as f:
        conf = f.read()
    m = re.search(r'\{[^{}]*path = "%s";[^{}]*\}' % re.escape(WS_PATH), conf)
    assert m, "etc/lexiaid.conf has no route for %s" % WS_PATH
    route = {lxtest.ROUTE_PATH_KEY: WS_PATH}
    for key, value in re.findall(r'(\w+) = ("[^"]*"|\[[^\]]*\]);', m.group(0)):
        if key != "path":
            route[key] = json.loads(value)
    return route


def server(stt=None, **kw):
    return stt_server(stt, extra_routes=[ws_route()], **kw)


class Frames:
    """What the server sent, with arrival times."""

    def __init__(self):
        self.items = []

    def add(self, raw):
        self.items.append((time.monotonic(), json.loads(raw)))

    @property
    def finals(self):
        return [j["transcript"] for _, j in self.items if j.get("is_final")]

    @property
    def interims(self):
        return [j for _, j in self.items if j.get("is_final") is False]


def drain(c, frames, until, timeout=15.0):
    """Reads frames until until(frames) or timeout; False on timeout."""
    end = time.monotonic() + timeout
    while not until(frames):
        left = end - time.monotonic()
        if left <= 0:
            return False
        try:
            frames.add(c.recv(left))
        except Exception:  # noqa: BLE001 (a timeout or a close)
            return until(frames)
    return True


class DictationCase(lxtest.TestCase):

    def setUp(self):
        super().setUp()
        lxws.require_websockets(self)

    def connect(self, s, uid="u1", token=None):
        tok = token if token is not None else s.token(uid)
        return lxws.Client("ws://127.0.0.1:%d%s?token=%s" % (s.srv.port, WS_PATH, tok),
                           timeout=30)


class TestLiveDictation(DictationCase):

    @classmethod
    def setUpClass(cls):
        cls.wav = lxaudio.stop_half_way(lxaudio.speak())
        cls.live = lxaudio.convert(cls.wav, "live")

    def test_round_trip_one_piece_a_second(self):
        pieces = lxaudio.pieces(self.live)
        self.assertGreaterEqual(len(pieces), 6)
        with server() as s, self.connect(s) as c:
            frames = Frames()
            for i, p in enumerate(pieces):
                sent = time.monotonic()
                c.send(p)
                # an interim (or a final) answers every piece
                n = len(frames.items)
                self.assertTrue(drain(c, frames, lambda f, n=n: len(f.items) > n),
                                "no answer to piece %d" % i)
                time.sleep(max(0.0, 1.0 - (time.monotonic() - sent)))
            last = sent
            self.assertTrue(drain(c, frames, lambda f: f.finals), "no final at all")
            got_final = [t for t, j in frames.items if j.get("is_final")][-1]
            heard = " ".join(frames.finals)
            r = lxaudio.recall(lxaudio.TEXT, heard)
            print("\nlive dictation: %d pieces, %d interims, %d finals, last final %.0f ms after "
                  "the last piece was sent; recall %.2f: %r" % (
                      len(pieces), len(frames.interims), len(frames.finals),
                      (got_final - last) * 1000, r, heard))
            self.assertGreaterEqual(len(frames.interims), len(pieces) - len(frames.finals))
            self.assertGreaterEqual(r, RECALL_FLOOR)
            for _, j in frames.items:
                self.assertEqual(set(j), {"is_final", "transcript", "stability"})
            # the interims grow as the phrase goes on
            self.assertTrue(any(i["transcript"] for i in frames.interims))

    def test_close_text_ends_the_stream_with_its_final(self):
        pieces = lxaudio.pieces(lxaudio.convert(lxaudio.speak("Plants need light."), "live"))
        with server() as s, self.connect(s) as c:
            for p in pieces:
                c.send(p)
            c.send("CLOSE")
            code, _, msgs = c.wait_closed(30)
            self.assertEqual(code, 1000)
            finals = [json.loads(m)["transcript"] for m in msgs if json.loads(m).get("is_final")]
            self.assertIn("light", " ".join(finals))

    def test_bad_token_is_4001(self):
        with server() as s:
            c = self.connect(s, token="not-a-token")
            code, _, _ = c.wait_closed(10)
            self.assertEqual(code, 4001)


class TestBadStreams(DictationCase):

    def test_garbage_and_truncation_close_1007_and_the_next_stream_works(self):
        live = lxaudio.convert(lxaudio.speak("Plants need light."), "live")
        with server() as s:
            with self.connect(s) as c:
                c.send(os.urandom(3000))
                code, reason, msgs = c.wait_closed(20)
                self.assertEqual(code, 1007)
                self.assertEqual(json.loads(msgs[-1])["code"], "INVALID_AUDIO")
                self.assertIn("not WebM", reason)
            with self.connect(s) as c:
                c.send(live[:len(live) // 2 + 7])
                c.send("CLOSE")
                code, reason, msgs = c.wait_closed(20)
                self.assertEqual(code, 1007, reason)
                self.assertIn("truncated", reason)
            with self.connect(s) as c:
                for p in lxaudio.pieces(live):
                    c.send(p)
                c.send("CLOSE")
                code, _, msgs = c.wait_closed(30)
                self.assertEqual(code, 1000)

    def test_an_endless_stream_is_cut_at_the_limit(self):
        # A WAV header that promises no end, then a gigabyte of silence at
        # most: the server closes at max_audio, long before.
        head = (b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00"
                b"\x00\x7d\x00\x00\x02\x00\x10\x00data\xff\xff\xff\xff")
        with server({"max_audio": "8M", "max_seconds": 86400}) as s, self.connect(s) as c:
            c.send(head)
            chunk, sent, code = bytes(512 << 10), 0, None  # under the route's max_message
            while sent < (1 << 30):
                try:
                    c.send(chunk)
                    sent += len(chunk)
                except Exception:  # noqa: BLE001 (closed)
                    break
            code, reason, _ = c.wait_closed(20)
            self.assertEqual(code, 1009, reason)
            self.assertIn("larger than the limit", reason)
            self.assertLess(sent, 64 << 20)

    def test_a_recognizer_killed_mid_stream_is_1011_and_the_next_works(self):
        pieces = lxaudio.pieces(lxaudio.convert(lxaudio.speak(" ".join([lxaudio.TEXT] * 2)),
                                                "live"))
        with server() as s:
            with self.connect(s) as c:
                c.send(pieces[0])
                c.recv(30)
                c.send(pieces[1])
                c.recv(30)
                for p in helper_pids(s, recognizers=True):
                    os.kill(p, signal.SIGKILL)
                code = None
                for p in pieces[2:]:
                    try:
                        c.send(p)
                    except Exception:  # noqa: BLE001
                        break
                code, reason, msgs = c.wait_closed(30)
                self.assertEqual(code, 1011, reason)
                self.assertIn("stopped during recognition", reason)
            with self.connect(s) as c:
                for p in lxaudio.pieces(lxaudio.convert(lxaudio.speak("Plants need light."),
                                                        "live")):
                    c.send(p)
                c.send("CLOSE")
                code, _, msgs = c.wait_closed(30)
                self.assertEqual(code, 1000)


class TestBuild(DictationCase):
    """Dictation off, by the operator or by the build, still upgrades and
    then closes 1011 saying why (browsers see close codes, not statuses)."""

    def test_off_closes_1011_saying_why(self):
        with server({"provider": "none"}) as s, self.connect(s) as c:
            code, reason, msgs = c.wait_closed(10)
            self.assertEqual((code, msgs), (1011, []), reason)
            self.assertIn("stt.provider = none", reason)

    def test_the_offline_recognizer_is_there_or_the_close_says_so(self):
        with server() as s, self.connect(s) as c:
            if HAVE_POCKETSPHINX:  # the stream is open: an empty one is refused for its audio
                c.send("CLOSE")
                code, reason, _ = c.wait_closed(30)
                self.assertEqual((code, reason), (1007, "the audio is empty"))
            else:
                code, reason, _ = c.wait_closed(10)
                self.assertEqual(code, 1011, reason)
                self.assertIn("built without", reason)


def load_tests(loader, tests, pattern):
    """Every class for a build with pocketsphinx; only TestBuild otherwise."""
    if HAVE_POCKETSPHINX:
        return tests
    return loader.loadTestsFromTestCase(TestBuild)


if __name__ == "__main__":
    lxtest.main()
