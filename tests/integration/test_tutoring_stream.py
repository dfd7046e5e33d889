#!/usr/bin/env python3
"""Streamed chat replies of the tutoring plugin: POST /api/v2/agent/chat
with Accept: text/event-stream answers with server-sent events while the
model generates ("event: delta" {"text"} ..., then "event: done" with the
whole chat JSON), for the Gemini and OpenAI wire formats (loopback fakes
of lxfakellm.py) and the offline provider. An error before any text is a
plain JSON reply; a model stream cut after some text ends the reply with
"event: error". Without the Accept header the reply is plain JSON."""

import re
import threading

import lxtest
from lxfakellm import KEY, FakeLLM, answer, reset, status
from lxtutor import provider_cfg, sse_post, tutor_server

CHAT = "/api/v2/agent/chat"
HISTORY = "/api/v2/agent/history"
THREAD_RE = r"^thread_[0-9a-f]{8}_[0-9a-f]{8}$"

DOC = """Volcanoes

A volcano is an opening in the crust of the Earth where hot melted rock comes out.

Melted rock under the ground is called magma, and once it flows out of a volcano it is called lava.

Mount Etna on the island of Sicily in Italy is one of the most active volcanoes in Europe.

The Ring of Fire is a long chain of volcanoes and earthquakes around the Pacific Ocean.
"""
LAVA = ("Melted rock under the ground is called magma, and once it flows out of a volcano it "
        "is called lava.")
Q_LAVA = "What is melted rock called once it flows out of a volcano?"
CHUNKS = ["Once it flows out, ", "melted rock is ", "called lava."]


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def start(kind, fake=None):
    """(server, doc_id) for a class: the provider pointed at fake."""
    cfg = (provider_cfg(kind, fake) if fake is not None
           else {"provider": "offline", "target_grade": 7})
    s = tutor_server(None, tutor_cfg=cfg)
    st, j = s.upload("volcanoes.txt", DOC.encode(), uid="owner", name="Volcanoes",
                     mime="text/plain")
    if st != 200 or j.get("processing_status") != "processed":
        s.close()
        raise AssertionError("upload failed: %s %s" % (st, j))
    return s, j["document_id"]


class _StreamCase:
    def assertChatJson(self, j, provider):
        for k in ("response", "final_agent_response", "thread_id", "conversation_history",
                  "quiz_active", "quiz_complete", "quiz_cancelled", "active_quiz_thread_id",
                  "document_id", "processing_mode", "audio_content_base64", "timepoints",
                  "error_detail", "provider", "reading_level"):
            self.assertIn(k, j)
        self.assertEqual(j["provider"], provider)
        self.assertRegex(j["thread_id"], THREAD_RE)
        self.assertEqual(j["final_agent_response"], j["response"])

    def assertStreamDone(self, rep):
        """The stream's deltas and done event; returns (text, done data)."""
        self.assertEqual(rep.status, 200, rep.body[:500])
        self.assertTrue(rep.is_stream, rep.headers)
        names = [e["event"] for e in rep.events]
        self.assertTrue(names, rep.body[:500])
        self.assertEqual(names[-1], "done", names)
        self.assertEqual(names.count("done"), 1, names)
        self.assertNotIn("error", names)
        deltas = rep.named("delta")
        self.assertTrue(deltas, names)
        self.assertEqual(set(names), {"delta", "done"}, names)
        for d in deltas:
            self.assertIsInstance(d["data"], dict, d)
            self.assertIsInstance(d["data"].get("text"), str, d)
            self.assertTrue(d["data"]["text"], d)
        self.assertTrue(rep.clean_end)
        done = rep.events[-1]["data"]
        self.assertIsInstance(done, dict, rep.events[-1])
        return "".join(d["data"]["text"] for d in deltas), done


class _ModelStream(_StreamCase):
    KIND = None

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeLLM()
        try:
            cls.s, cls.doc_id = start(cls.KIND, cls.fake)
        except BaseException:
            cls.fake.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.s.close()
        finally:
            cls.fake.close()

    def setUp(self):
        super().setUp()
        self.fake.clear()
        self.fake.default = answer("The fake model's answer.")

    def test_deltas_arrive_while_the_model_generates(self):
        # The fake sends chunk 0, chunk 1 0.3 s later, and chunk 2 only
        # once the client has seen its first delta (or after 30 s): a
        # server that buffers the answer shows its first delta after the
        # last chunk was sent.
        got_first = threading.Event()
        sent_at_first = []

        def on_event(ev):
            if ev["event"] == "delta" and not got_first.is_set():
                reqs = self.fake.seen()
                sent_at_first.append(reqs[-1].sent_chunks() if reqs else -1)
                got_first.set()

        self.fake.script(answer("".join(CHUNKS), chunks=CHUNKS, delay=0.3,
                                gate=(2, got_first)))
        rep = sse_post(self.s, CHAT, {"query": Q_LAVA, "documentId": self.doc_id},
                       uid="owner", on_event=on_event)
        text, done = self.assertStreamDone(rep)
        self.assertTrue(rep.headers["content-type"].startswith("text/event-stream"))
        self.assertEqual(len(sent_at_first), 1)
        self.assertLess(sent_at_first[0], len(CHUNKS),
                        "the first delta reached the client only after the whole answer")
        self.assertEqual(text, "".join(CHUNKS))
        self.assertChatJson(done, self.KIND)
        self.assertEqual(done["response"], "".join(CHUNKS))
        self.assertEqual(done["document_id"], self.doc_id)
        self.assertEqual([(t["type"], t["content"]) for t in done["conversation_history"]],
                         [("human", Q_LAVA), ("ai", "".join(CHUNKS))])
        self.assertNotIn(KEY.encode(), rep.body)

        reqs = self.fake.seen()
        self.assertEqual(len(reqs), 1, reqs)
        r = reqs[0]
        self.assertTrue(r.stream, r)
        self.assertEqual(r.key(), KEY)
        self.assertNotIn(KEY, r.raw_path)
        self.assertIn("text/event-stream", r.headers.get("accept", ""))
        if self.KIND == "gemini":
            self.assertTrue(r.path.endswith(":streamGenerateContent"), r.path)
            self.assertEqual(r.query.get("alt"), "sse")
        else:
            self.assertIs(r.body.get("stream"), True)
        self.assertIn(LAVA, norm(r.system()))

        # The streamed turn is in the thread like any other.
        st, h = self.s.json("GET", HISTORY + "?thread_id=" + done["thread_id"], uid="owner")
        self.assertEqual(st, 200, h)
        self.assertEqual(h["conversation_history"], done["conversation_history"])

    def test_second_turn_streams_with_the_history(self):
        rep = sse_post(self.s, CHAT, {"query": Q_LAVA, "documentId": self.doc_id}, uid="owner")
        _, done = self.assertStreamDone(rep)
        self.fake.script(answer("It is in Italy, on Sicily."))
        rep = sse_post(self.s, CHAT, {"query": "Where is Etna?",
                                      "thread_id": done["thread_id"]}, uid="owner")
        text, done2 = self.assertStreamDone(rep)
        self.assertEqual(text, "It is in Italy, on Sicily.")
        self.assertEqual(done2["thread_id"], done["thread_id"])
        self.assertEqual(len(done2["conversation_history"]), 4)
        turns = self.fake.seen()[1].turns()
        self.assertEqual([t[0] for t in turns], ["user", "model", "user"], turns)
        self.assertIn("The fake model's answer.", turns[1][1])

    def test_whitespace_around_the_streamed_answer(self):
        # Models often end with a newline: the deltas are what the model
        # sent, the final response is the same text trimmed.
        chunks = ["\nLava is ", "melted rock.\n"]
        self.fake.script(answer("".join(chunks), chunks=chunks))
        rep = sse_post(self.s, CHAT, {"query": Q_LAVA}, uid="owner")
        text, done = self.assertStreamDone(rep)
        self.assertEqual(done["response"], "Lava is melted rock.")
        self.assertEqual(text.strip(), done["response"])

    def test_quiz_turns_stream_too(self):
        quiz = {"questions": [
            {"question": "What is melted rock outside a volcano called?",
             "options": ["Lava", "Magma", "Ash", "Steam"], "correct_index": 0,
             "explanation": "Out of a volcano it is called lava."},
            {"question": "Where is Mount Etna?", "options": ["Sicily", "Iceland", "Japan", "Peru"],
             "correct_index": 0, "explanation": "Etna is on Sicily."}]}
        self.fake.script(answer(quiz))
        rep = sse_post(self.s, CHAT, {"query": "start quiz", "documentId": self.doc_id},
                       uid="owner")
        text, done = self.assertStreamDone(rep)
        self.assertEqual(text, done["response"])
        self.assertTrue(done["quiz_active"], done)
        self.assertIn("Question 1 of 2: What is melted rock outside a volcano called?", text)
        r = self.fake.seen()[0]
        self.assertTrue(r.json_mode())
        self.assertFalse(r.stream)  # the quiz itself is asked for as one JSON answer
        rep = sse_post(self.s, CHAT, {"query": "A", "thread_id": done["thread_id"]},
                       uid="owner")
        text, done = self.assertStreamDone(rep)
        self.assertTrue(text.startswith("Correct!"), text)
        self.assertIn("Question 2 of 2", text)
        self.assertEqual(len(self.fake.seen()), 1)  # a letter needs no model

    def test_error_before_any_text_is_a_plain_json_502(self):
        self.fake.default = status(500)
        rep = sse_post(self.s, CHAT, {"query": Q_LAVA}, uid="owner")
        self.assertFalse(rep.is_stream, rep.headers)
        self.assertEqual(rep.status, 502, rep.body[:500])
        j = rep.json()
        self.assertEqual(j.get("code"), "PROVIDER_ERROR", j)
        self.assertTrue(j.get("error"), j)
        self.assertEqual([r.status for r in self.fake.seen()], [500, 500, 500])
        self.assertNotIn(KEY.encode(), rep.body)

    def test_stream_cut_after_the_first_chunk_ends_with_an_error_event(self):
        rep = sse_post(self.s, CHAT, {"query": Q_LAVA, "documentId": self.doc_id}, uid="owner")
        _, done = self.assertStreamDone(rep)
        tid = done["thread_id"]
        self.fake.clear()
        self.fake.script(reset(text=" ".join(CHUNKS), chunks=1))
        rep = sse_post(self.s, CHAT, {"query": "And what is magma?", "thread_id": tid},
                       uid="owner")
        self.assertEqual(rep.status, 200, rep.body[:500])
        self.assertTrue(rep.is_stream, rep.headers)
        names = [e["event"] for e in rep.events]
        self.assertGreaterEqual(names.count("delta"), 1, names)
        self.assertEqual(names[-1], "error", names)
        self.assertNotIn("done", names)
        err = rep.events[-1]["data"]
        self.assertIsInstance(err, dict, rep.events[-1])
        self.assertTrue(err.get("error"), err)
        self.assertEqual(err.get("code"), "PROVIDER_ERROR", err)
        self.assertTrue(rep.clean_end)  # the reply itself ends properly
        # Text was delivered: the call is not retried.
        self.assertEqual(len(self.fake.seen()), 1)
        self.assertNotIn(KEY.encode(), rep.body)
        self.assertTrue(self.s.srv.wait_ok("/health", timeout=5))
        # The cut turn is not kept in the thread.
        st, h = self.s.json("GET", HISTORY + "?thread_id=" + tid, uid="owner")
        self.assertEqual(st, 200, h)
        self.assertEqual(h["conversation_history"], done["conversation_history"])

    def test_client_gone_mid_stream_cancels_the_model_call(self):
        # The fake sends one chunk, then would wait 30 s before the next;
        # the client leaves after the first delta.
        self.fake.script(answer("".join(CHUNKS), chunks=CHUNKS, delay=30))

        class Leave(Exception):
            pass

        def on_event(ev):
            if ev["event"] == "delta":
                raise Leave()

        with self.assertRaises(Leave):
            sse_post(self.s, CHAT, {"query": Q_LAVA}, uid="owner", on_event=on_event)
        reqs = self.fake.seen()
        self.assertEqual(len(reqs), 1, reqs)
        self.assertTrue(reqs[0].disconnected.wait(5),
                        "the model's stream was not cancelled when the client went away")
        self.assertEqual(reqs[0].sent_chunks(), 1)
        self.assertTrue(self.s.srv.wait_ok("/health", timeout=5))
        self.fake.script(answer("Still here."))
        rep = sse_post(self.s, CHAT, {"query": Q_LAVA}, uid="owner")
        text, _ = self.assertStreamDone(rep)
        self.assertEqual(text, "Still here.")

    def test_without_accept_the_reply_is_plain_json(self):
        self.fake.script(answer("A plain reply."))
        rep = sse_post(self.s, CHAT, {"query": Q_LAVA}, uid="owner", accept="application/json")
        self.assertFalse(rep.is_stream)
        self.assertEqual(rep.status, 200, rep.body[:500])
        self.assertTrue(rep.headers["content-type"].startswith("application/json"))
        j = rep.json()
        self.assertChatJson(j, self.KIND)
        self.assertEqual(j["response"], "A plain reply.")
        self.assertFalse(self.fake.seen()[0].stream)


class GeminiStream(_ModelStream, lxtest.TestCase):
    KIND = "gemini"


class OpenAIStream(_ModelStream, lxtest.TestCase):
    KIND = "openai"


class OfflineStream(_StreamCase, lxtest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s, cls.doc_id = start("offline")

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_offline_answers_stream_too(self):
        rep = sse_post(self.s, CHAT, {"query": Q_LAVA, "documentId": self.doc_id}, uid="owner")
        text, done = self.assertStreamDone(rep)
        self.assertChatJson(done, "offline")
        self.assertEqual(text, done["response"])
        self.assertIn(LAVA, done["response"])
        self.assertEqual(len(done["conversation_history"]), 2)

    def test_offline_without_accept_is_plain_json(self):
        rep = sse_post(self.s, CHAT, {"query": Q_LAVA, "documentId": self.doc_id}, uid="owner",
                       accept="*/*")
        self.assertFalse(rep.is_stream)
        self.assertEqual(rep.status, 200)
        self.assertIn(LAVA, rep.json()["response"])


if __name__ == "__main__":
    lxtest.main()
