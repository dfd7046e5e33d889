#!/usr/bin/env python3
"""Cloud read-aloud behind the speech plugin's one provider interface,
against a loopback fake (lxfaketts.py): Google Cloud Text-to-Speech
v1beta1 (a <mark> per word, chunks under 5,000 bytes of SSML counting the
markup, chunks in parallel, LINEAR16 joined and encoded to MP3 once by
the helpers) and an OpenAI-compatible /v1/audio/speech (MP3, word times
estimated). Shapes, retries on 429 and 5xx, a slow server (504), a
failing one or one answering nonsense (502), voices that refuse marks
(400 naming the voice), the voices listed, the profile's cloudTtsVoice,
and the key never in a log line or an answer."""

import re
import time

import lxtest
from lxfaketts import (KEY, LEAD, SECONDS_PER_MARK, FakeTTS, garbage, sleep, status)
from lxspeech import (decode_mp3, expected_marks, need_both_engines, speech_plugin, speech_server,
                      synthesize)

TEXT = ("Dr. Smith & his <b>class</b> paid $12 for 3.5 kg of apples.\n\n"
        "Photosynthesis turns light into sugar.")


def setUpModule():
    need_both_engines()


def wait_voices(s, provider, deadline=20):
    """The worker's voices once the cloud's are listed (the list is fetched
    at worker start)."""
    end = time.time() + deadline
    while True:
        st, body = s.json("GET", "/api/tts/voices")
        if st == 200 and any(v["provider"] == provider for v in body["voices"]):
            return body["voices"]
        if time.time() > end:
            raise AssertionError("no %s voices listed: %r" % (provider, body))
        time.sleep(0.05)


class CloudCase(lxtest.TestCase):

    def server(self, fake, **over):
        cfg = {"provider": "google", "base_url": fake.base, "api_key": KEY,
               "request_timeout": "60s", "cache_size": 0}
        cfg.update(over)
        return speech_server(self, speech_cfg=cfg)

    def assertKeyNotLogged(self, s, key=KEY):
        self.assertNotIn(key, s.srv.stdout() + s.srv.stderr())

    def assertTimes(self, body, text):
        tps = body["timepoints"]
        self.assertEqual([t["mark_name"] for t in tps], expected_marks(text))
        times = [t["time_seconds"] for t in tps]
        self.assertEqual(times, sorted(times), "times decrease somewhere")
        _, n, sr, dur, codec, _ = decode_mp3(body["audio_content"])
        self.assertEqual(codec, "mp3")
        self.assertLess(times[-1], n / sr)
        return times, n / sr


class TestGoogle(CloudCase):

    def test_a_mark_per_word_the_key_in_a_header_and_pcm_joined_into_one_mp3(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        s = self.server(fake)
        voices = wait_voices(s, "google")
        names = {v["name"]: v for v in voices}
        self.assertEqual(names["en-US-Neural2-F"]["language_codes"], ["en-US"])
        self.assertIn("espeak-ng:en-us", names)  # the local voices stay
        st, body = synthesize(s, {"text": TEXT})
        self.assertEqual(st, 200, body)
        times, length = self.assertTimes(body, TEXT)
        reqs = fake.synth_requests()
        self.assertEqual(len(reqs), 2)  # one per paragraph here
        for r in reqs:
            self.assertEqual(r.path, "/v1beta1/text:synthesize")
            self.assertEqual(r.headers["x-goog-api-key"], KEY)
            j = r.json
            self.assertEqual(j["voice"], {"languageCode": "en-US", "name": "en-US-Neural2-F"})
            self.assertEqual(j["audioConfig"]["audioEncoding"], "LINEAR16")
            self.assertEqual(j["audioConfig"]["sampleRateHertz"], 24000)
            self.assertEqual(j["enableTimePointing"], ["SSML_MARK"])
            ssml = j["input"]["ssml"]
            self.assertTrue(ssml.startswith("<speak>") and ssml.endswith("</speak>"), ssml)
        ssml = sorted(r.json["input"]["ssml"] for r in reqs)[0]
        self.assertIn('<mark name="0"/>Dr. <mark name="4"/>Smith <mark name="10"/>&amp; ', ssml)
        self.assertIn("&lt;b&gt;class&lt;/b&gt;", ssml)
        # where the fake put the marks: LEAD + i * SECONDS_PER_MARK in each
        # chunk, the second paragraph after the first and the pause
        n1 = len(TEXT.split("\n\n")[0].split())
        delay = times[0] - LEAD
        self.assertGreaterEqual(delay, 0)
        self.assertLess(delay, 0.1)  # the MP3 decoder's delay
        self.assertAlmostEqual(times[n1 - 1], delay + LEAD + (n1 - 1) * SECONDS_PER_MARK,
                               delta=0.002)
        first2 = n1 * SECONDS_PER_MARK + LEAD + 0.6 + delay + LEAD
        self.assertAlmostEqual(times[n1 + 1], first2, delta=0.002)
        expect = (n1 + 5) * SECONDS_PER_MARK + 2 * LEAD + 0.6
        self.assertAlmostEqual(length, expect + delay, delta=0.08)
        self.assertKeyNotLogged(s)

    def test_chunks_fit_5000_bytes_counting_the_markup(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        s = self.server(fake)
        # 900 words of 3 letters whose escaping quintuples one: a segment of
        # 1,000 bytes of text is ~7,000 bytes of SSML
        text = " ".join(["a&b"] * 900) + "."
        st, body = synthesize(s, {"text": text})
        self.assertEqual(st, 200, body)
        self.assertTimes(body, text)
        reqs = fake.synth_requests()
        self.assertGreater(len(reqs), 4)
        marks = 0
        for r in reqs:
            ssml = r.json["input"]["ssml"].encode()
            self.assertLessEqual(len(ssml), 5000)
            marks += len(re.findall(rb"<mark ", ssml))
        self.assertEqual(marks, 900)

    def test_chunks_go_out_in_parallel(self):
        fake = FakeTTS(hold_for_overlap=True)
        self.addCleanup(fake.close)
        s = self.server(fake)
        text = "\n\n".join("Paragraph number %d is read aloud." % i for i in range(6))
        st, body = synthesize(s, {"text": text})
        self.assertEqual(st, 200, body)
        self.assertTimes(body, text)
        self.assertGreaterEqual(fake.max_in_flight, 2)
        self.assertEqual(len(fake.synth_requests()), 6)

    def test_429_and_5xx_are_retried(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        fake.script(status(429), status(503))
        s = self.server(fake)
        st, body = synthesize(s, {"text": "Plants need light."})
        self.assertEqual(st, 200, body)
        self.assertEqual(len(fake.synth_requests()), 3)

    def test_failing_slow_and_nonsense_services(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        s = self.server(fake, request_timeout="1s")
        fake.script(status(500), status(500), status(500))
        st, body = synthesize(s, {"text": "Plants need light."})
        self.assertEqual((st, body["code"]), (502, "SPEECH_UPSTREAM_FAILED"), body)
        self.assertIn("answered 500", body["error"])
        fake.script(sleep(3))
        st, body = synthesize(s, {"text": "Plants need water."})
        self.assertEqual((st, body["code"]), (504, "SPEECH_TIMEOUT"), body)
        fake.script(garbage())
        st, body = synthesize(s, {"text": "Plants need air."})
        self.assertEqual((st, body["code"]), (502, "SPEECH_UPSTREAM_FAILED"), body)
        self.assertIn("not a JSON object", body["error"])
        self.assertKeyNotLogged(s)

    def test_a_wrong_key_is_502_and_never_shown(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        s = self.server(fake, api_key="wrong-key-5ecret")
        st, body = synthesize(s, {"text": "Plants need light."})
        self.assertEqual((st, body["code"]), (502, "SPEECH_UPSTREAM_FAILED"), body)
        self.assertIn("401", body["error"])
        self.assertNotIn("wrong-key-5ecret", body["error"])
        self.assertKeyNotLogged(s, "wrong-key-5ecret")

    def test_voices_that_refuse_marks_are_reported_naming_the_voice(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        s = self.server(fake)
        wait_voices(s, "google")
        for voice in ("en-US-Studio-O", "en-US-Journey-F"):
            st, body = synthesize(s, {"text": "Plants need light.", "voice_name": voice})
            self.assertEqual((st, body["code"]), (400, "VOICE_UNSUPPORTED"), body)
            self.assertIn(voice, body["error"])
            self.assertNotIn("audio_content", body)

    def test_the_profile_cloud_voice_applies(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        s = self.server(fake)
        wait_voices(s, "google")
        st, _ = s.json("PUT", "/api/users/profile", body={"preferences": {
            "ttsVoice": "flite:cmu_us_slt", "cloudTtsVoice": "en-GB-Neural2-A"}})
        self.assertEqual(st, 200)
        st, body = synthesize(s, {"text": "Plants need light."})
        self.assertEqual(st, 200, body)
        self.assertEqual(fake.synth_requests()[-1].json["voice"],
                         {"languageCode": "en-GB", "name": "en-GB-Neural2-A"})
        # a local voice named in the request is spoken locally
        n = len(fake.synth_requests())
        st, body = synthesize(s, {"text": "Plants need light.", "voice_name": "espeak-ng:en-us"})
        self.assertEqual(st, 200, body)
        self.assertEqual(len(fake.synth_requests()), n)


class TestOpenAICompatible(CloudCase):

    def server(self, fake, **over):
        cfg = {"provider": "openai", "base_url": fake.base, "api_key": KEY, "model": "tts-test",
               "voices": "alloy, nova", "voice": "nova", "request_timeout": "60s",
               "cache_size": 0}
        cfg.update(over)
        return speech_server(self, speech_cfg=cfg)

    def test_mp3_back_and_word_times_estimated_within_the_audio(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        s = self.server(fake)
        voices = wait_voices(s, "openai")
        ours = [v for v in voices if v["provider"] == "openai"]
        self.assertEqual([v["name"] for v in ours], ["alloy", "nova"])
        self.assertTrue(all(v["estimated_timepoints"] for v in ours))
        st, body = synthesize(s, {"text": TEXT, "speaking_rate": 1.25})
        self.assertEqual(st, 200, body)
        times, length = self.assertTimes(body, TEXT)
        (r,) = fake.synth_requests()
        self.assertEqual(r.path, "/v1/audio/speech")
        self.assertEqual(r.headers["authorization"], "Bearer " + KEY)
        j = r.json
        self.assertEqual((j["model"], j["voice"], j["response_format"], j["speed"]),
                         ("tts-test", "nova", "mp3", 1.25))
        self.assertIn("Dr. Smith & his <b>class</b> paid $12", j["input"])
        self.assertIn("apples.\n\nPhotosynthesis", j["input"])
        # the fake's audio: 0.3 s a word; the estimate spreads the words over it
        n_words = len(TEXT.split())
        self.assertAlmostEqual(length, n_words * 0.3, delta=0.15)
        self.assertLess(times[0], 0.5)
        self.assertGreater(times[-1], length * 0.6)
        self.assertKeyNotLogged(s)

    def test_long_texts_go_in_chunks_joined_into_one_mp3(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        s = self.server(fake)
        text = "\n\n".join(" ".join(["Plants need light and water to grow."] * 12)
                            for _ in range(12))
        st, body = synthesize(s, {"text": text})
        self.assertEqual(st, 200, body)
        times, length = self.assertTimes(body, text)
        reqs = fake.synth_requests()
        self.assertGreater(len(reqs), 1)
        self.assertTrue(all(len(r.json["input"]) <= 4096 for r in reqs))
        self.assertAlmostEqual(length, len(text.split()) * 0.3, delta=0.2 * len(reqs))
        self.assertGreater(times[-1], length * 0.8)

    def test_a_failing_service_is_502_and_the_key_stays_out(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        s = self.server(fake, api_key="wrong-key-5ecret")
        st, body = synthesize(s, {"text": "Plants need light."})
        self.assertEqual((st, body["code"]), (502, "SPEECH_UPSTREAM_FAILED"), body)
        self.assertNotIn("wrong-key-5ecret", body["error"])
        self.assertKeyNotLogged(s, "wrong-key-5ecret")
        fake2 = FakeTTS()
        self.addCleanup(fake2.close)
        fake2.script(garbage())
        s2 = self.server(fake2)
        st, body = synthesize(s2, {"text": "Plants need light."})
        self.assertEqual((st, body["code"]), (502, "SPEECH_UPSTREAM_FAILED"), body)
        self.assertIn("not MP3", body["error"])


class TestConfig(lxtest.TestCase):

    def check(self, cfg):
        text = lxtest.config(plugins=[speech_plugin(cfg)], routes=[])
        return lxtest.run_config(text, timeout=10)

    def test_bad_cloud_settings_refuse_to_start_naming_the_line_never_the_key(self):
        for cfg, says in (
                ({"provider": "azure"}, "provider must be local, google, openai or none"),
                ({"provider": "google"},
                 "provider google needs service_account (LEXIAID_SPEECH_SERVICE_ACCOUNT) or "
                 "api_key"),
                ({"provider": "google", "api_key": KEY, "base_url": "ftp://x"},
                 "base_url must start with http"),
                ({"provider": "openai", "api_key": KEY, "voices": "alloy", "voice": "bob"},
                 'voice "bob" is not one of voices'),
                ({"provider": "openai", "api_key": KEY, "request_timeout": "2h"},
                 "request_timeout must be between")):
            rc, out, err, path = self.check(cfg)
            self.assertEqual(rc, 1, out + err)
            self.assertIn(says, err)
            self.assertRegex(err, re.escape(path) + r":\d+:")
            self.assertNotIn(KEY, out + err)


if __name__ == "__main__":
    lxtest.main()
