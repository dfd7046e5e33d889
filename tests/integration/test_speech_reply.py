#!/usr/bin/env python3
"""Reply audio: the tutoring plugin's chat and answer-formulation replies
read aloud through the speech plugin's speech.v1 (plugins/tutoring/
reply_audio.c), as the LexiAid frontend plays them: audio_content_base64
(base64 MP3 that ffmpeg decodes) and timepoints with one entry per word
of the reply's text. The real binary with auth, storage, tutoring
(offline) and speech (the real engines); SQLite by default,
LX_TEST_STORAGE=postgres runs the same tests on PostgreSQL."""

import lxspeech
import lxtest
from lxspeech import B64_RE, decode_mp3, expected_marks, speech_plugin, speech_routes
from lxtutor import sse_post, tutor_server

CHAT = "/api/v2/agent/chat"
REFINE = "/api/v2/answer-formulation/refine"

DOC = """Plants and light

Photosynthesis happens in the leaves of green plants, which use sunlight to turn water and carbon dioxide into sugar and oxygen.

Light from the Sun takes about 8 minutes to reach the Earth. The Moon moves around the Earth once every 27 days.
"""


def server(testcase, speech_cfg=None):
    return tutor_server(testcase, tutor_cfg={"provider": "offline"},
                        extra_plugins=[speech_plugin(speech_cfg)], extra_routes=speech_routes())


class ReplyAudio(lxtest.TestCase):

    def assertSpoken(self, reply, text_field, rate=None):
        b64, tps = reply["audio_content_base64"], reply["timepoints"]
        self.assertIsInstance(b64, str, reply)
        self.assertTrue(B64_RE.match(b64))
        self.assertEqual([t["mark_name"] for t in tps], expected_marks(reply[text_field]))
        times = [t["time_seconds"] for t in tps]
        self.assertEqual(times, sorted(times))
        _, n, sr, _, codec, _ = decode_mp3(b64)
        self.assertEqual(codec, "mp3")
        if rate is not None:
            self.assertEqual(sr, rate)
        self.assertLess(times[-1], n / sr)

    def upload(self, s, uid="u1"):
        st, j = s.upload("plants.txt", DOC.encode(), uid=uid, name="Plants", mime="text/plain")
        self.assertEqual(st, 200, j)
        return j["document_id"]

    def test_a_chat_reply_carries_its_audio_and_timepoints(self):
        s = server(self)
        doc = self.upload(s)
        st, j = s.json("POST", CHAT, body={"query": "How long does light from the Sun take?",
                                           "documentId": doc})
        self.assertEqual(st, 200, j)
        self.assertIn("8 minutes", j["response"])
        self.assertSpoken(j, "response", rate=22050)
        # the user's voice applies to their replies
        st, _ = s.json("PUT", "/api/users/profile",
                       body={"preferences": {"ttsVoice": "flite:cmu_us_slt"}})
        self.assertEqual(st, 200)
        st, j = s.json("POST", CHAT, body={"query": "What do plants make from sunlight?",
                                           "documentId": doc, "thread_id": j["thread_id"]})
        self.assertEqual(st, 200, j)
        self.assertSpoken(j, "response", rate=16000)

    def test_a_streamed_chat_reply_carries_its_audio_in_done(self):
        s = server(self)
        doc = self.upload(s)
        r = sse_post(s, CHAT, {"query": "What happens in the leaves?", "documentId": doc})
        self.assertEqual(r.status, 200)
        done = r.named("done")
        self.assertEqual(len(done), 1, r.events)
        self.assertSpoken(done[0]["data"], "response")

    def test_quiz_turns_carry_no_audio(self):
        s = server(self)
        doc = self.upload(s)
        st, j = s.json("POST", CHAT, body={"query": "/start_quiz", "documentId": doc,
                                           "mode": "quiz"})
        self.assertEqual(st, 200, j)
        self.assertTrue(j["quiz_active"], j)
        self.assertIsNone(j["audio_content_base64"])
        self.assertIsNone(j["timepoints"])

    def test_refine_carries_its_audio(self):
        s = server(self)
        st, j = s.json("POST", REFINE, body={
            "transcript": "um so plants uh make sugar from from light and water"})
        self.assertEqual(st, 200, j)
        self.assertSpoken(j, "refined_answer")

    def test_reply_audio_off_leaves_the_fields_null(self):
        s = server(self, speech_cfg={"reply_audio": False})
        doc = self.upload(s)
        st, j = s.json("POST", CHAT, body={"query": "How long does light take?",
                                           "documentId": doc})
        self.assertEqual(st, 200, j)
        self.assertIsNone(j["audio_content_base64"])
        self.assertIsNone(j["timepoints"])
        # read-aloud itself still works
        st, out = s.json("POST", "/api/tts/synthesize", body={"text": j["response"]})
        self.assertEqual(st, 200, out)


def setUpModule():
    lxspeech.need_both_engines()


if __name__ == "__main__":
    lxtest.main()
