#!/usr/bin/env python3
"""Dictation over HTTP: POST /api/stt/transcribe and GET /api/stt/languages
with the real binary, the real speech helpers running pocketsphinx, and
speech flite reads (lxaudio.py makes every recording at test time).

What a student would see: the words come back (recall measured against
the text read: pocketsphinx with flite's rms voice gets about 0.88; the
floor is 0.8), in WAV, Ogg/Opus, WebM and MediaRecorder's WebM alike; bad
recordings get a 400 saying what is wrong; a recording over the limits a
413; a recognizer that dies mid-way a 503, and the next recording works;
nothing of the audio lands on disk."""

import os
import signal
import threading
import time
import unittest

import lxaudio
import lxtest
from lxspeech import HAVE_DICTATION, HAVE_POCKETSPHINX, helper_pids, speech_plugin, speech_server
from lxstorage import multipart
from lxtutor import tutor_server

RECALL_FLOOR = 0.8
USER = ["auth.require_user"]
STT_ROUTES = [
    lxtest.route("POST", "/api/stt/transcribe", "speech.transcribe", before=USER,
                 max_body="50M", timeout="5m"),
    lxtest.route("GET", "/api/stt/languages", "speech.languages", before=USER),
]


def stt_server(stt=None, extra_routes=None, **kw):
    cfg = {"stt": dict({"provider": "local", "helpers": 1}, **(stt or {}))}
    return speech_server(None, speech_cfg=cfg,
                         extra_routes=list(STT_ROUTES) + list(extra_routes or []), **kw)


def transcribe(server, audio, field="audio", filename="recording.webm", uid="u1"):
    body, ctype = multipart([(field, filename, "application/octet-stream", audio)])
    status, _, out = server.request("POST", "/api/stt/transcribe", uid=uid, body=body,
                                    headers={"Content-Type": ctype})
    return status, (lxtest.parse_json(out) if out else None)


class TestTranscribe(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.wav = lxaudio.speak()
        cls.s = stt_server()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def assertHeard(self, body):
        self.assertEqual(body["status"], "success")
        self.assertEqual(body["language_code"], "en-US")
        r = lxaudio.recall(lxaudio.TEXT, body["transcription"])
        self.assertGreaterEqual(r, RECALL_FLOOR, "recall %.2f: %r" % (r, body["transcription"]))
        c = body["confidence"]
        self.assertTrue(c is None or 0 <= c <= 1, c)

    def test_wav_ogg_webm_and_mediarecorder_webm(self):
        for fmt in ("wav", "ogg", "webm", "live"):
            audio = self.wav if fmt == "wav" else lxaudio.convert(self.wav, fmt)
            status, body = transcribe(self.s, audio)
            self.assertEqual(status, 200, (fmt, body))
            with self.subTest(fmt=fmt):
                self.assertHeard(body)

    def test_raw_audio_body_and_the_audio_file_field(self):
        status, _, out = self.s.request("POST", "/api/stt/transcribe", body=self.wav,
                                        headers={"Content-Type": "audio/wav"})
        self.assertEqual(status, 200, out)
        self.assertHeard(lxtest.parse_json(out))
        status, body = transcribe(self.s, self.wav, field="audio_file")
        self.assertEqual(status, 200, body)

    def test_bad_recordings_say_what_is_wrong(self):
        status, body = transcribe(self.s, os.urandom(5000))
        self.assertEqual((status, body["code"]), (400, "INVALID_AUDIO"), body)
        self.assertIn("not WebM/Opus, Ogg/Opus or WAV", body["error"])
        webm = lxaudio.convert(self.wav, "webm")
        status, body = transcribe(self.s, webm[:len(webm) // 2 + 3])
        self.assertEqual((status, body["code"]), (400, "INVALID_AUDIO"), body)
        self.assertIn("truncated", body["error"])
        ogg = lxaudio.convert(self.wav, "ogg")
        status, body = transcribe(self.s, ogg[:len(ogg) // 2])
        self.assertEqual(status, 400, body)
        status, body = transcribe(self.s, b"")
        self.assertEqual((status, body["code"]), (400, "NO_AUDIO"), body)
        status, _, out = self.s.request("POST", "/api/stt/transcribe", body=b"{}",
                                        headers={"Content-Type": "application/json"})
        self.assertJsonError(status, out, 400, "NO_AUDIO")

    def test_signed_in_only_and_languages(self):
        status, body = transcribe(self.s, self.wav, uid=None)
        self.assertEqual(status, 401, body)
        status, _, out = self.s.request("GET", "/api/stt/languages")
        self.assertEqual(status, 200, out)
        j = lxtest.parse_json(out)
        self.assertEqual(j["status"], "success")
        self.assertEqual(j["languages"][0]["language_code"], "en-US")
        self.assertEqual(j["provider"], "pocketsphinx")

    def test_no_audio_on_disk(self):
        def files():
            out = set()
            for root, _, names in os.walk(self.s.data_dir):
                out.update(os.path.join(root, n) for n in names)
            return out

        before = files()
        status, _ = transcribe(self.s, lxaudio.convert(self.wav, "ogg"))
        self.assertEqual(status, 200)
        self.assertEqual(files() - before, set())


class TestLimitsAndFailures(lxtest.TestCase):

    def test_over_the_limits_is_413(self):
        wav = lxaudio.speak()
        with stt_server({"max_seconds": 3}) as s:
            status, body = transcribe(s, wav)
            self.assertEqual((status, body["code"]), (413, "AUDIO_TOO_LARGE"), body)
            self.assertIn("longer than the limit of 3 s", body["error"])
        with stt_server({"max_audio": "20K"}) as s:
            status, body = transcribe(s, wav)
            self.assertEqual((status, body["code"]), (413, "AUDIO_TOO_LARGE"), body)
            self.assertIn("larger than the limit", body["error"])

    def test_a_helper_killed_mid_way_fails_that_one_and_the_next_works(self):
        wav = lxaudio.speak(" ".join([lxaudio.TEXT] * 4))
        with stt_server() as s:
            # warm: the helper is up and has its model
            status, _ = transcribe(s, lxaudio.speak("Plants need light."))
            self.assertEqual(status, 200)
            result = {}

            def call():
                result["r"] = transcribe(s, wav)

            t = threading.Thread(target=call)
            t.start()
            killed = False
            deadline = time.time() + 60
            while t.is_alive() and time.time() < deadline and not killed:
                pids = helper_pids(s, recognizers=True)
                busy = [p for p in pids if _cpu_ticks(p) > 0]
                if busy:
                    time.sleep(0.3)
                    for p in busy:
                        os.kill(p, signal.SIGKILL)
                    killed = True
                time.sleep(0.05)
            t.join(120)
            self.assertTrue(killed, "no recognizer helper to kill")
            status, body = result["r"]
            if status != 200:  # killed in time: a clear error
                self.assertEqual(status, 503, body)
                self.assertIn("stopped during recognition", body["error"])
            status, body = transcribe(s, self.wav_short())
            self.assertEqual(status, 200, body)
            self.assertIn("light", body["transcription"])

    def wav_short(self):
        return lxaudio.speak("Plants need light and water to grow.")


class TestBuild(lxtest.TestCase):
    """What dictation says matches what the operator chose and how lexiaid
    was configured (any build: the other classes need pocketsphinx)."""

    def test_off_says_why(self):
        with stt_server({"provider": "none"}) as s:
            status, body = transcribe(s, b"RIFF")
            self.assertEqual((status, body["code"]), (503, "STT_UNAVAILABLE"), body)
            self.assertIn("stt.provider = none", body["error"])

    def test_the_recognizers_are_the_ones_this_build_has(self):
        with stt_server() as s:  # local: pocketsphinx
            status, body = s.json("GET", "/api/stt/languages")
            if HAVE_POCKETSPHINX:
                self.assertEqual((status, body["provider"]), (200, "pocketsphinx"), body)
            else:
                self.assertEqual((status, body["code"]), (503, "STT_UNAVAILABLE"), body)
                self.assertIn("--disable-speech-pocketsphinx", body["error"])
        with stt_server({"provider": "openai", "base_url": "http://127.0.0.1:9"}) as s:
            status, body = s.json("GET", "/api/stt/languages")
            if HAVE_DICTATION:
                self.assertEqual((status, body["provider"]), (200, "openai"), body)
            else:
                self.assertEqual((status, body["code"]), (503, "STT_UNAVAILABLE"), body)
                self.assertIn("--disable-dictation", body["error"])


CHAT = "/api/v2/agent/chat"
DOC = ("Plants and light\n\nPlants need light and water to grow. The leaves of green plants "
       "use sunlight to turn water into sugar.\n")


class TestChatVoiceMessages(lxtest.TestCase):
    """The chat route's multipart form with audio_file (the original API):
    review answers the transcript, direct_send chats with it."""

    def test_review_and_direct_send(self):
        cfg = {"stt": {"provider": "local", "helpers": 1}, "reply_audio": False}
        s = tutor_server(self, tutor_cfg={"provider": "offline"},
                         extra_plugins=[speech_plugin(cfg)])
        st, j = s.upload("plants.txt", DOC.encode(), name="Plants", mime="text/plain")
        self.assertEqual(st, 200, j)
        doc = j["document_id"]
        said = "What do plants need to grow?"
        webm = lxaudio.convert(lxaudio.speak(said), "live")

        def post(fields):
            body, ctype = multipart(fields)
            st, _, out = s.request("POST", CHAT, body=body, headers={"Content-Type": ctype})
            return st, lxtest.parse_json(out)

        audio = ("audio_file", "recording.webm", "audio/webm", webm)
        st, j = post([audio, ("stt_processing_mode", None, None, "review"),
                      ("thread_id", None, None, "thread_u1_0123abcd")])
        self.assertEqual(st, 200, j)
        self.assertEqual(set(j), {"transcript", "thread_id", "processing_mode", "audio_format"})
        self.assertEqual((j["processing_mode"], j["audio_format"], j["thread_id"]),
                         ("review", "webm", "thread_u1_0123abcd"))
        self.assertGreaterEqual(lxaudio.recall(said, j["transcript"]), 0.6, j["transcript"])

        st, j = post([audio, ("stt_processing_mode", None, None, "direct_send"),
                      ("document_id", None, None, doc)])
        self.assertEqual(st, 200, j)
        self.assertIn("light and water", j["response"])
        heard = j["conversation_history"][0]
        self.assertEqual(heard["type"], "human")
        self.assertGreaterEqual(lxaudio.recall(said, heard["content"]), 0.6, heard)

        st, j = post([("audio_file", "x.webm", "audio/webm", b"\x1aE\xdf\xa3" + bytes(range(256)))])
        self.assertEqual((st, j["code"]), (400, "INVALID_AUDIO"), j)
        st, j = post([audio, ("stt_processing_mode", None, None, "later")])
        self.assertEqual((st, j["code"]), (400, "INVALID_REQUEST"), j)


def _cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])
    except OSError:
        return 0


def load_tests(loader, tests, pattern):
    """Every class for a build with pocketsphinx; only TestBuild otherwise."""
    if HAVE_POCKETSPHINX:
        return tests
    return loader.loadTestsFromTestCase(TestBuild)


if __name__ == "__main__":
    lxtest.main()
