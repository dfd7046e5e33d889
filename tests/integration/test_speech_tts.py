#!/usr/bin/env python3
"""Read-aloud (plugins/speech/): POST /api/tts/synthesize and GET
/api/tts/voices on the real binary with the real engines (flite and
espeak-ng in the real lexiaid-speech helper), real tokens and the real
storage plugin (for profiles). The answers are checked as the LexiAid
frontend reads them: base64 MP3 with no line breaks that ffmpeg decodes,
and one timepoint per displayed word in order, PARAGRAPH_BREAK between
paragraphs, times never decreasing and inside the audio."""

import itertools
import json
import os
import signal
import sys
import threading
import time

import lxspeech
import lxtest
from lxspeech import (B64_RE, decode_mp3, expected_marks, helper_pids, speech_server,
                      synthesize)

STORY = ("Dr. Smith paid $12 for 3.5 kg of apples on 12/03/2024, didn't he?\n\n"
         "The naïve café owner said: \"Crème brûlée costs €4.50 — a bargain!\"\n\n"
         "Photosynthesis turns light into sugar.")


def page(n_words, seed=0):
    """A text of n_words words in paragraphs of about 60 words."""
    vocab = ("the students read their documents carefully and listen to every word that lights "
             "up on the screen while the teacher explains how plants turn sunlight water and air "
             "into food for 3.5 hours on Monday").split()
    out, para = [], []
    for i in range(n_words):
        para.append(vocab[(i * 7 + seed) % len(vocab)])
        if len(para) == 60 or i == n_words - 1:
            out.append(" ".join(para).capitalize() + ".")
            para = []
    return "\n\n".join(out)


class SpeechCase(lxtest.TestCase):

    def assertAnswer(self, body, text, rate=None):
        """The whole contract of an answer for `text`; returns the decoded
        audio's (samples, rate, duration)."""
        self.assertEqual(set(body), {"audio_content", "timepoints"}, list(body))
        b64 = body["audio_content"]
        self.assertTrue(B64_RE.match(b64), "base64 with something else in it")
        tps = body["timepoints"]
        self.assertEqual([t["mark_name"] for t in tps], expected_marks(text))
        for t in tps:
            self.assertEqual(set(t), {"mark_name", "time_seconds"})
            self.assertIsInstance(t["time_seconds"], (int, float))
        times = [t["time_seconds"] for t in tps]
        self.assertEqual(times, sorted(times), "times decrease somewhere")
        self.assertGreaterEqual(times[0], 0)
        _, n, sr, dur, codec, _ = decode_mp3(b64)
        self.assertEqual(codec, "mp3")
        if rate is not None:
            self.assertEqual(sr, rate)
        decoded = n / sr
        # ffprobe's length (from the constant bit rate) is what was decoded
        self.assertAlmostEqual(dur, decoded, delta=0.06)
        self.assertLess(times[-1], decoded, "a timepoint after the end of the audio")
        if len(tps) >= 20:
            # the last word is spoken near the end, not in the middle
            self.assertGreater(times[-1], decoded * 0.8)
        return n, sr, decoded


class TestSynthesize(SpeechCase):

    @classmethod
    def setUpClass(cls):
        cls.s = speech_server(None)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_espeak_answer_has_a_timepoint_per_display_word(self):
        st, body = synthesize(self.s, {"text": STORY, "voice_name": "espeak-ng:en-us"})
        self.assertEqual(st, 200, body)
        self.assertAnswer(body, STORY, rate=22050)
        marks = [t["mark_name"] for t in body["timepoints"]]
        for word in ("Dr.", "$12", "3.5", "12/03/2024,", "naïve", "café", "€4.50", "—",
                     "bargain!\""):
            self.assertIn(word, marks)
        self.assertEqual(marks.count("PARAGRAPH_BREAK"), 2)

    def test_espeak_times_follow_the_speech(self):
        text = page(120)
        st, body = synthesize(self.s, {"text": text, "voice_name": "espeak-ng:en-us"})
        self.assertEqual(st, 200, body)
        _, _, decoded = self.assertAnswer(body, text)
        times = [t["time_seconds"] for t in body["timepoints"]
                 if t["mark_name"] != "PARAGRAPH_BREAK"]
        # 120 spoken words take time: every word later than the one before
        # (a duplicate would mean a word the engine skipped)
        self.assertEqual(len(set(times)), len(times))
        self.assertGreater(decoded, 120 * 0.15)

    def test_flite_answer_has_a_timepoint_per_display_word(self):
        st, body = synthesize(self.s, {"text": STORY, "voice_name": "flite:cmu_us_slt"})
        self.assertEqual(st, 200, body)
        self.assertAnswer(body, STORY, rate=16000)

    def test_utf8_words_in_other_languages_stay_whole(self):
        cases = [("espeak-ng:de", "Grüße aus Köln! Die Straße ist schön.\n\nÜber 3,5 Millionen."),
                 ("espeak-ng:fr", "Ça va très bien, merci. L'été est là."),
                 ("espeak-ng:ru", "Привет, как дела? Всё хорошо."),
                 ("espeak-ng:el", "Καλημέρα σας. Τι κάνετε;")]
        for voice, text in cases:
            with self.subTest(voice=voice):
                st, body = synthesize(self.s, {"text": text, "voice_name": voice})
                self.assertEqual(st, 200, body)
                self.assertAnswer(body, text)

    def test_markdown_markers_are_not_read_or_shown(self):
        text = "## Steps\n\n**First,** water *evaporates*.\n\n---\n\n* Then it rains."
        st, body = synthesize(self.s, {"text": text})
        self.assertEqual(st, 200, body)
        self.assertEqual([t["mark_name"] for t in body["timepoints"]],
                         ["Steps", "PARAGRAPH_BREAK", "First,", "water", "evaporates.",
                          "PARAGRAPH_BREAK", "Then", "it", "rains."])

    def test_a_faster_rate_gives_shorter_audio(self):
        text = page(40, seed=3)
        st1, b1 = synthesize(self.s, {"text": text, "speaking_rate": 1.0})
        st2, b2 = synthesize(self.s, {"text": text, "speaking_rate": 2.0, "pitch": 5})
        self.assertEqual((st1, st2), (200, 200))
        _, _, d1 = self.assertAnswer(b1, text)
        _, _, d2 = self.assertAnswer(b2, text)
        self.assertLess(d2, d1 * 0.75)

    def test_bad_input_is_a_json_400(self):
        cases = [
            ({"text": ""}, "TEXT_EMPTY"),
            ({"text": "   \n\n\t "}, "TEXT_EMPTY"),
            ({"text": "** ## ---"}, "TEXT_EMPTY"),
            ({}, "TEXT_EMPTY"),
            ({"text": 12}, "INVALID_REQUEST"),
            ({"text": "hi", "voice_name": 3}, "INVALID_REQUEST"),
            ({"text": "hi", "speaking_rate": 10}, "INVALID_RATE"),
            ({"text": "hi", "speaking_rate": "fast"}, "INVALID_RATE"),
            ({"text": "hi", "pitch": -21}, "INVALID_PITCH"),
            ({"text": "x " * 500000}, "TEXT_TOO_LONG"),
            ('{"text": "not closed', "INVALID_JSON"),
            ("[1, 2]", "INVALID_JSON"),
            (b'{"text": "bad \xff\xfe byte"}', "INVALID_UTF8"),
            (b'{"text": "nul \\u0000 inside"}', "INVALID_UTF8"),
        ]
        for body, code in cases:
            with self.subTest(code=code, body=str(body)[:40]):
                st, out = synthesize(self.s, body)
                self.assertEqual(st, 400, out)
                self.assertEqual(out["code"], code, out)
                self.assertTrue(out["error"])

    def test_one_megabyte_of_text_is_refused_naming_the_limit(self):
        st, out = synthesize(self.s, {"text": "word " * 200000})
        self.assertEqual(st, 400, out)
        self.assertEqual(out["code"], "TEXT_TOO_LONG")
        self.assertIn("100000 bytes", out["error"])

    def test_an_unknown_voice_is_a_400_naming_the_voices(self):
        st, out = synthesize(self.s, {"text": "Hello.", "voice_name": "en-US-Wavenet-D"})
        self.assertEqual(st, 400, out)
        self.assertEqual(out["code"], "UNKNOWN_VOICE")
        for v in ("en-US-Wavenet-D", "flite:cmu_us_slt", "flite:cmu_us_rms", "espeak-ng:en-us",
                  "espeak-ng:fr", "espeak-ng:de"):
            self.assertIn(v, out["error"])

    def test_no_token_is_a_401(self):
        st, out = synthesize(self.s, {"text": "Hello."}, uid=None)
        self.assertEqual(st, 401, out)

    def test_voices_lists_every_engine(self):
        st, out = self.s.json("GET", "/api/tts/voices")
        self.assertEqual(st, 200, out)
        self.assertEqual(out["status"], "success")
        by_name = {v["name"]: v for v in out["voices"]}
        for v in out["voices"]:
            self.assertEqual(set(v), {"name", "language_codes", "gender",
                                      "natural_sample_rate_hertz", "provider"})
            self.assertTrue(v["language_codes"])
        slt = by_name["flite:cmu_us_slt"]
        self.assertEqual((slt["language_codes"], slt["gender"], slt["natural_sample_rate_hertz"],
                          slt["provider"]), (["en-US"], "FEMALE", 16000, "flite"))
        self.assertIn("flite:cmu_us_rms", by_name)
        self.assertIn("flite:cmu_us_awb", by_name)
        us = by_name["espeak-ng:en-us"]
        self.assertEqual((us["provider"], us["natural_sample_rate_hertz"]), ("espeak-ng", 22050))
        self.assertIn("en-US", us["language_codes"])
        espeak = [v for v in out["voices"] if v["provider"] == "espeak-ng"]
        self.assertGreater(len(espeak), 100)  # every language espeak-ng ships
        langs = {c for v in espeak for c in v["language_codes"]}
        for code in ("de", "fr-FR", "es", "ru", "zh", "ar", "hi"):
            self.assertIn(code, langs)
        st, _ = self.s.json("GET", "/api/tts/voices", uid=None)
        self.assertEqual(st, 401)


class TestProfileDefaults(SpeechCase):

    def test_the_profile_voice_speed_and_pitch_apply_when_the_request_is_silent(self):
        s = speech_server(self)
        text = page(30, seed=5)
        st, _ = s.json("PUT", "/api/users/profile", body={"preferences": {
            "ttsVoice": "flite:cmu_us_rms", "ttsSpeed": 1.5, "ttsPitch": 4}})
        self.assertEqual(st, 200)
        st, by_profile = synthesize(s, {"text": text})
        self.assertEqual(st, 200, by_profile)
        self.assertAnswer(by_profile, text, rate=16000)  # flite's voice
        st, said = synthesize(s, {"text": text, "voice_name": "flite:cmu_us_rms",
                                  "speaking_rate": 1.5, "pitch": 4})
        self.assertEqual(st, 200, said)
        self.assertEqual(by_profile, said)
        # the request wins over the profile
        st, own = synthesize(s, {"text": text, "voice_name": "espeak-ng:en-us"})
        self.assertEqual(st, 200, own)
        self.assertAnswer(own, text, rate=22050)
        # another user (no profile yet) gets the operator's default voice
        st, other = synthesize(s, {"text": text}, uid="u2")
        self.assertEqual(st, 200, other)
        self.assertAnswer(other, text, rate=22050)

    def test_a_profile_voice_we_do_not_have_falls_back_by_language(self):
        s = speech_server(self)
        text = "Bonjour tout le monde."
        for voice, rate in (("en-US-Wavenet-D", 22050), ("fr-FR-Neural2-A", 22050)):
            st, _ = s.json("PUT", "/api/users/profile",
                           body={"preferences": {"ttsVoice": voice}})
            self.assertEqual(st, 200)
            st, body = synthesize(s, {"text": text})
            self.assertEqual(st, 200, body)
            self.assertAnswer(body, text, rate=rate)
        # the French profile voice picked a French voice: not the English default
        st, en = synthesize(s, {"text": text, "voice_name": "espeak-ng:en-us"})
        self.assertNotEqual(en["audio_content"], body["audio_content"])
        st, fr = synthesize(s, {"text": text, "voice_name": "espeak-ng:fr"})
        self.assertEqual(fr["audio_content"], body["audio_content"])


def wait_reading(pid, before, timeout=30):
    """Waits until helper `pid` has read more than `before` bytes (it has the
    request): an event, not a sleep."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if rchar(pid) > before:
            return True
        time.sleep(0.005)
    return False


class TestHelpers(SpeechCase):

    def start_long(self, s, text, out):
        def run():
            out.append(synthesize(s, {"text": text}))
        t = threading.Thread(target=run)
        t.start()
        return t

    def test_a_helper_killed_mid_synthesis_is_a_503_and_the_next_call_works(self):
        s = speech_server(self, speech_cfg={"cache_size": 0})
        st, body = synthesize(s, {"text": "Warm up."})
        self.assertEqual(st, 200, body)
        pids = helper_pids(s)
        self.assertEqual(len(pids), 1, pids)
        before = rchar(pids[0])
        out = []
        t = self.start_long(s, page(3000, seed=1), out)
        self.assertTrue(wait_reading(pids[0], before), "the helper never got the request")
        os.kill(pids[0], signal.SIGKILL)
        t.join(60)
        st, body = out[0]
        self.assertEqual(st, 503, body)
        self.assertEqual(body["code"], "SPEECH_UNAVAILABLE")
        self.assertIn("signal 9", body["error"])
        st, body = synthesize(s, {"text": "Still here."})
        self.assertEqual(st, 200, body)
        self.assertAnswer(body, "Still here.")
        self.assertEqual(len(helper_pids(s)), 1)
        self.assertNotIn(pids[0], helper_pids(s))

    def test_a_synthesis_over_its_time_is_a_504_and_frees_the_helper(self):
        s = speech_server(self, speech_cfg={"cache_size": 0, "timeout": "200ms"})
        st, body = synthesize(s, {"text": page(5000, seed=2), "voice_name": "flite:cmu_us_slt"})
        self.assertEqual(st, 504, body)
        self.assertEqual(body["code"], "SPEECH_TIMEOUT")
        st, body = synthesize(s, {"text": "Fast."})
        self.assertEqual(st, 200, body)

    def test_a_full_queue_is_a_503_busy(self):
        s = speech_server(self, speech_cfg={"cache_size": 0, "queue": 0})
        st, body = synthesize(s, {"text": "Warm up."})
        self.assertEqual(st, 200, body)
        pid = helper_pids(s)[0]
        before = rchar(pid)
        out = []
        t = self.start_long(s, page(3000, seed=4), out)
        self.assertTrue(wait_reading(pid, before))
        st, body = synthesize(s, {"text": "Me too."})
        self.assertEqual(st, 503, body)
        self.assertEqual(body["code"], "SPEECH_BUSY")
        t.join(120)
        self.assertEqual(out[0][0], 200)

    def test_helpers_are_bounded_per_worker(self):
        s = speech_server(self, speech_cfg={"cache_size": 0, "helpers": 2})
        outs = []
        threads = [threading.Thread(target=lambda i=i: outs.append(
            synthesize(s, {"text": page(200, seed=10 + i)}))) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual([o[0] for o in outs], [200] * 5)
        self.assertLessEqual(len(helper_pids(s)), 2)


class TestSplit(SpeechCase):
    """A long text is spoken in parts by the worker's helpers at once and
    the parts joined: the answer is the one a single helper gives, give or
    take the encoder's start at each join."""

    def test_a_long_text_is_spoken_by_every_helper_and_joined(self):
        one = speech_server(self, speech_cfg={"cache_size": 0, "helpers": 1})
        two = speech_server(self, speech_cfg={"cache_size": 0, "helpers": 2})
        text = page(500, seed=20)
        st1, b1 = synthesize(one, {"text": text})
        st2, b2 = synthesize(two, {"text": text})
        self.assertEqual((st1, st2), (200, 200), (b1, b2))
        # one request started both helpers: the text went out in two parts
        self.assertEqual(len(helper_pids(two)), 2)
        _, _, d1 = self.assertAnswer(b1, text)
        _, _, d2 = self.assertAnswer(b2, text)
        t1 = [t["time_seconds"] for t in b1["timepoints"]]
        t2 = [t["time_seconds"] for t in b2["timepoints"]]
        # every word where one helper puts it: a part starts with the
        # encoder's delay (50 ms) after the last frame's padding (< 30 ms);
        # a join placed wrong would move the rest by seconds
        worst = max(abs(a - b) for a, b in zip(t1, t2))
        sys.stderr.write("\n  split: words move at most %.3f s; %.2f s vs %.2f s of audio\n"
                         % (worst, d2, d1))
        self.assertLess(worst, 0.25, "a word moved %.3f s" % worst)
        self.assertAlmostEqual(d1, d2, delta=0.25)

    def test_a_short_text_stays_with_one_helper(self):
        s = speech_server(self, speech_cfg={"cache_size": 0, "helpers": 2})
        st, body = synthesize(s, {"text": page(60, seed=21)})
        self.assertEqual(st, 200, body)
        self.assertEqual(len(helper_pids(s)), 1)

    def test_a_helper_killed_mid_part_is_a_503_and_the_next_call_works(self):
        s = speech_server(self, speech_cfg={"cache_size": 0, "helpers": 2})
        st, body = synthesize(s, {"text": page(400, seed=22)})
        self.assertEqual(st, 200, body)
        pids = helper_pids(s)
        self.assertEqual(len(pids), 2, pids)
        before = [rchar(p) for p in pids]
        out = []
        t = threading.Thread(target=lambda: out.append(
            synthesize(s, {"text": page(3000, seed=23)})))
        t.start()
        for p, b in zip(pids, before):
            self.assertTrue(wait_reading(p, b), "helper %d never got its part" % p)
        os.kill(pids[1], signal.SIGKILL)
        t.join(120)
        st, body = out[0]
        self.assertEqual(st, 503, body)
        self.assertEqual(body["code"], "SPEECH_UNAVAILABLE")
        self.assertIn("signal 9", body["error"])
        text = page(400, seed=24)
        st, body = synthesize(s, {"text": text})
        self.assertEqual(st, 200, body)
        self.assertAnswer(body, text)


def synth_raw(server, body, uid="u1", timeout=120):
    """POST /api/tts/synthesize: (status, headers, parsed body, request id)."""
    rid = "tts-%d-%d" % (os.getpid(), next(_rid))
    status, headers, out = server.srv.request(
        "POST", "/api/tts/synthesize", body=json.dumps(body).encode(), timeout=timeout,
        headers={"Content-Type": "application/json", "X-Request-Id": rid,
                 "Authorization": "Bearer " + server.token(uid)})
    return status, headers, (lxtest.parse_json(out) if out else None), rid


def cache_files(data_dir):
    """(count, total bytes) of the answers in the speech cache."""
    n = size = 0
    root = os.path.join(data_dir, "cache", "tts")
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".json") and not f.startswith("."):
                try:
                    size += os.path.getsize(os.path.join(d, f))
                except FileNotFoundError:
                    continue  # evicted while we looked
                n += 1
    return n, size


def cache_holds(data_dir, body):
    """Whether one of the cache's files is this answer."""
    root = os.path.join(data_dir, "cache", "tts")
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".json") and not f.startswith("."):
                try:
                    with open(os.path.join(d, f), encoding="utf-8") as fh:
                        if json.load(fh) == body:
                            return True
                except (OSError, ValueError):
                    pass  # being replaced
    return False


class TestCache(SpeechCase):

    def test_a_second_read_aloud_is_a_cache_hit_on_every_worker(self):
        s = speech_server(self, workers=2)
        text = page(80, seed=20)
        st, h, first, _ = synth_raw(s, {"text": text})
        self.assertEqual(st, 200, first)
        self.assertEqual(h.get("x-tts-cache"), "miss")
        self.assertAnswer(first, text)
        # the file is written in the background: wait for it, not for a time
        deadline = time.time() + 20
        while cache_files(s.data_dir)[0] < 1 and time.time() < deadline:
            time.sleep(0.02)
        self.assertEqual(cache_files(s.data_dir)[0], 1)
        workers = set()
        for _ in range(60):
            st, h, again, rid = synth_raw(s, {"text": text})
            self.assertEqual(st, 200, again)
            self.assertEqual(h.get("x-tts-cache"), "hit")
            self.assertEqual(again, first)
            line = s.srv.wait_access(req_id=rid)
            workers.add(line["worker"])
            if len(workers) == 2:
                break
        self.assertEqual(workers, {0, 1}, "both workers answered from the cache")
        self.assertEqual(cache_files(s.data_dir)[0], 1)

    def test_identical_requests_at_once_share_one_synthesis(self):
        s = speech_server(self, speech_cfg={"cache_size": 0})
        st, _, _, _ = synth_raw(s, {"text": "Warm up."})
        self.assertEqual(st, 200)
        pid = helper_pids(s)[0]
        before = rchar(pid)
        text = page(400, seed=21)
        body = {"text": text, "voice_name": "flite:cmu_us_slt"}
        outs = []
        first = threading.Thread(target=lambda: outs.append(synth_raw(s, body)))
        first.start()
        self.assertTrue(wait_reading(pid, before))
        others = [threading.Thread(target=lambda: outs.append(synth_raw(s, body)))
                  for _ in range(3)]
        for t in others:
            t.start()
        for t in [first] + others:
            t.join(300)
        self.assertEqual([o[0] for o in outs], [200] * 4)
        self.assertEqual(sorted(o[1].get("x-tts-cache") for o in outs),
                         ["miss", "shared", "shared", "shared"])
        self.assertTrue(all(o[2] == outs[0][2] for o in outs))
        self.assertEqual(len(helper_pids(s)), 1)

    def test_the_cache_stays_within_its_size(self):
        s = speech_server(self, speech_cfg={"cache_size": "60K"})
        sizes = []
        for i in range(12):
            text = "Sentence number %d of the cache test is read aloud now." % i
            st, h, body, _ = synth_raw(s, {"text": text})
            self.assertEqual((st, h.get("x-tts-cache")), (200, "miss"), body)
            sizes.append(len(json.dumps(body)))
        self.assertLess(max(sizes), 60 * 1024 // 2)
        # files are written and trimmed in the background: wait for the last
        # answer's file and for the bound, not for a time
        deadline = time.time() + 20
        while ((cache_files(s.data_dir)[1] > 60 * 1024 or not cache_holds(s.data_dir, body))
               and time.time() < deadline):
            time.sleep(0.05)
        n, total = cache_files(s.data_dir)
        self.assertLessEqual(total, 60 * 1024)
        self.assertGreater(n, 0)
        # the most recent answer is kept (least recently used go first)
        st, h, _, _ = synth_raw(s, {"text": "Sentence number 11 of the cache test is read "
                                            "aloud now."})
        self.assertEqual((st, h.get("x-tts-cache")), (200, "hit"))

    def test_the_cache_stays_within_its_size_when_every_worker_writes(self):
        # Each worker counts only its own writes: two of them can pass the
        # bound together with each count under it. The settle look (a
        # listing some seconds after writes) brings the directory back.
        s = speech_server(self, workers=2, speech_cfg={"cache_size": "60K"})
        per_worker = {}
        for i in range(40):
            text = "Sentence number %d of the shared cache test is read aloud now." % i
            st, h, body, rid = synth_raw(s, {"text": text})
            self.assertEqual((st, h.get("x-tts-cache")), (200, "miss"), body)
            w = s.srv.wait_access(req_id=rid)["worker"]
            per_worker[w] = per_worker.get(w, 0) + 1
            # both workers wrote, and together more than the bound holds
            # (10 answers of about 6.8 KB; neither worker's count alone need be)
            if len(per_worker) == 2 and sum(per_worker.values()) >= 10:
                break
        self.assertEqual(len(per_worker), 2, "both workers answered: %r" % per_worker)
        deadline = time.time() + 30
        while cache_files(s.data_dir)[1] > 60 * 1024 and time.time() < deadline:
            time.sleep(0.1)
        n, total = cache_files(s.data_dir)
        self.assertLessEqual(total, 60 * 1024, "answers per worker: %r" % per_worker)
        self.assertGreater(n, 0)

    def test_a_client_that_leaves_mid_synthesis_still_fills_the_cache(self):
        s = speech_server(self)
        st, _, _, _ = synth_raw(s, {"text": "Warm up."})
        self.assertEqual(st, 200)
        deadline = time.time() + 20
        while cache_files(s.data_dir)[0] < 1 and time.time() < deadline:
            time.sleep(0.02)  # the warm-up's own file first
        pid = helper_pids(s)[0]
        before = rchar(pid)
        text = page(300, seed=22)
        conn = s.srv.connection(timeout=30)
        conn.request("POST", "/api/tts/synthesize", body=json.dumps({"text": text}),
                     headers={"Content-Type": "application/json",
                              "Authorization": "Bearer " + s.token("u1")})
        self.assertTrue(wait_reading(pid, before))
        n_before = cache_files(s.data_dir)[0]
        conn.close()  # gone while the engine speaks
        deadline = time.time() + 60
        while cache_files(s.data_dir)[0] <= n_before and time.time() < deadline:
            time.sleep(0.05)
        st, h, body, _ = synth_raw(s, {"text": text})
        self.assertEqual((st, h.get("x-tts-cache")), (200, "hit"), body)
        self.assertAnswer(body, text)


_rid = itertools.count(1)


class TestBuild(lxtest.TestCase):
    """What the speech routes say matches how lexiaid was configured (any
    build: the other classes need both engines)."""

    def test_the_voices_are_the_engines_this_build_has(self):
        s = speech_server(self)
        st, out = s.json("GET", "/api/tts/voices")
        engines = {e for e, have in (("flite", lxspeech.HAVE_FLITE),
                                     ("espeak-ng", lxspeech.HAVE_ESPEAK)) if have}
        if not engines:
            self.assertEqual(st, 503, out)
            self.assertEqual(out["code"], "SPEECH_UNAVAILABLE")
            self.assertIn("--disable-speech-flite --disable-speech-espeak-ng", out["error"])
            st, out = synthesize(s, {"text": "Hello."})
            self.assertEqual((st, out["code"]), (503, "SPEECH_UNAVAILABLE"))
            return
        self.assertEqual(st, 200, out)
        self.assertEqual({v["provider"] for v in out["voices"]}, engines)
        st, out = synthesize(s, {"text": "Hello there."})
        self.assertEqual(st, 200, out)
        self.assertEqual([t["mark_name"] for t in out["timepoints"]], ["Hello", "there."])


def rchar(pid):
    """Bytes process pid has read (/proc/PID/io)."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def load_tests(loader, tests, pattern):
    """Every class for a build with both engines; only TestBuild otherwise."""
    if lxspeech.HAVE_FLITE and lxspeech.HAVE_ESPEAK:
        return tests
    return loader.loadTestsFromTestCase(TestBuild)


if __name__ == "__main__":
    lxtest.main()
