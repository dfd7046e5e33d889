#!/usr/bin/env python3
"""Network recognizers behind dictation's one interface, against a loopback
fake (lxfakestt.py): an OpenAI-compatible /v1/audio/transcriptions (16 kHz
mono WAV per phrase, multipart) and Google Speech-to-Text v1
speech:recognize (LINEAR16 base64, the key in a header). Shapes, retries
on 429 and 5xx, a dead or slow server (502, 504), and the key never in a
log line."""

import unittest

import lxaudio
import lxtest
from lxfakestt import KEY, FakeSTT, answer, sleep, status
from lxspeech import HAVE_DICTATION
from test_speech_stt import stt_server, transcribe


class TestOpenAICompatible(lxtest.TestCase):

    def setUp(self):
        super().setUp()
        self.fake = FakeSTT()
        self.addCleanup(self.fake.close)
        self.wav = lxaudio.speak("Plants need light and water to grow.")

    def server(self, **over):
        cfg = {"provider": "openai", "base_url": self.fake.base, "api_key": KEY,
               "model": "whisper-test", "timeout": "3s"}
        cfg.update(over)
        return stt_server(cfg)

    def test_one_wav_per_phrase_and_the_text_comes_back(self):
        with self.server() as s:
            status_, body = transcribe(s, lxaudio.convert(self.wav, "live"))
            self.assertEqual(status_, 200, body)
            self.assertEqual(body["transcription"], "plants need light and water")
            self.assertEqual(len(self.fake.requests), 1)
            r = self.fake.requests[0]
            self.assertEqual(r.path, "/v1/audio/transcriptions")
            self.assertEqual(r.fields["model"], b"whisper-test")
            self.assertEqual(r.fields["response_format"], b"json")
            self.assertEqual(r.fields["language"], b"en")
            self.assertEqual((r.rate, r.channels), (16000, 1))
            self.assertGreater(r.samples, 16000)  # the phrase, over a second
            status_, _, out = s.request("GET", "/api/stt/languages")
            self.assertEqual(lxtest.parse_json(out)["provider"], "openai")
            self.assertNotIn(KEY, s.srv.stdout() + s.srv.stderr())

    def test_429_and_5xx_are_retried(self):
        self.fake.script(status(429), status(503), answer("light"))
        with self.server() as s:
            status_, body = transcribe(s, self.wav)
            self.assertEqual(status_, 200, body)
            self.assertEqual(body["transcription"], "light")
            self.assertEqual(len(self.fake.requests), 3)

    def test_a_failing_server_is_502_a_slow_one_504(self):
        self.fake.script(status(500), status(500), status(500))
        with self.server() as s:
            status_, body = transcribe(s, self.wav)
            self.assertEqual((status_, body["code"]), (502, "STT_FAILED"), body)
            self.assertIn("answered 500", body["error"])
            self.assertEqual(len(self.fake.requests), 3)  # the first and 2 retries
        self.fake.script(sleep(5))
        with self.server(timeout="1s") as s:
            status_, body = transcribe(s, self.wav)
            self.assertEqual((status_, body["code"]), (504, "STT_TIMEOUT"), body)
        with self.server(api_key="wrong-key") as s:
            status_, body = transcribe(s, self.wav)
            self.assertEqual((status_, body["code"]), (502, "STT_FAILED"), body)
            self.assertNotIn("wrong-key", body["error"])
            self.assertNotIn("wrong-key", s.srv.stdout() + s.srv.stderr())


class TestGoogle(lxtest.TestCase):

    def test_linear16_with_the_key_in_a_header(self):
        fake = FakeSTT()
        self.addCleanup(fake.close)
        wav = lxaudio.speak("Plants need light and water to grow.")
        cfg = {"provider": "google", "base_url": fake.base, "api_key": KEY}
        with stt_server(cfg) as s:
            status_, body = transcribe(s, lxaudio.convert(wav, "ogg"))
            self.assertEqual(status_, 200, body)
            self.assertEqual(body["transcription"], "plants need light and water")
            self.assertAlmostEqual(body["confidence"], 0.93, places=3)
            r = fake.requests[0]
            self.assertEqual(r.path, "/v1/speech:recognize")
            self.assertNotIn("key", r.path)
            c = r.json["config"]
            self.assertEqual((c["encoding"], c["sampleRateHertz"], c["languageCode"], c["model"]),
                             ("LINEAR16", 16000, "en-US", "latest_short"))
            self.assertGreater(r.samples, 16000)
            self.assertNotIn(KEY, s.srv.stdout() + s.srv.stderr())


def load_tests(loader, tests, pattern):
    """Nothing to run in a build without dictation's audio input (what it
    says then: test_speech_stt.TestBuild)."""
    return tests if HAVE_DICTATION else unittest.TestSuite()


if __name__ == "__main__":
    lxtest.main()
