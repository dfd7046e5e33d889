#!/usr/bin/env python3
"""The tutoring plugin's chat, history and quiz (plugins/tutoring/chat.c,
quiz.c) with the offline provider: the real binary with auth, storage and
tutoring (lxtutor.py), real RS256 tokens, a real .txt document uploaded
through /api/documents/upload; SQLite by default, LX_TEST_STORAGE=postgres
runs the same tests on PostgreSQL."""

import json
import re
import unittest

import lxtest
from lxstorage import multipart
from lxtutor import tutor_server

CHAT = "/api/v2/agent/chat"
HISTORY = "/api/v2/agent/history"
THREAD_RE = r"^thread_[0-9a-f]{8}_[0-9a-f]{8}$"

DOC = """The Solar System

The Sun is a star at the centre of the Solar System. It holds the planets in their orbits with its strong gravity.

Mercury is the smallest planet and it travels around the Sun in only 88 days. Venus is the hottest planet because its thick clouds trap the heat of the Sun.

Mars is called the Red Planet because iron oxide dust covers its rocky surface. The tallest volcano in the Solar System, Olympus Mons, stands on Mars and is about 22 kilometres high.

Jupiter is the largest planet and it has a giant storm called the Great Red Spot. Saturn has bright rings made of ice and rock that circle the whole planet.

Light from the Sun takes about 8 minutes to reach the Earth. The Moon moves around the Earth once every 27 days and shows us different phases.

Photosynthesis happens in the leaves of green plants, which use sunlight to turn water and carbon dioxide into sugar and oxygen.
"""
LIGHT = "Light from the Sun takes about 8 minutes to reach the Earth."
MARS = "Mars is called the Red Planet because iron oxide dust covers its rocky surface."


def norm(s):
    return re.sub(r"\s+", " ", s).strip().lower()


DOC_NORM = norm(DOC)


def parse_question(text):
    """(question, [options]) of the last question in a chat response."""
    lines = text.split("\n")
    qi = max(i for i, l in enumerate(lines) if re.match(r"^Question \d+ of \d+: ", l))
    question = re.sub(r"^Question \d+ of \d+: ", "", lines[qi])
    opts = []
    for l in lines[qi + 1:]:
        m = re.match(r"^([A-D])\) (.*)$", l)
        if m:
            opts.append(m.group(2))
    return question, opts


def correct_letter(question, opts):
    """The letter of the option that fills the question's gap so that the
    sentence is the document's: computed from the text, not the server."""
    cands = [question]
    if ": " in question:
        cands.append(question.split(": ", 1)[1])
    hits = set()
    for q in cands:
        m = re.search(r"_{2,}", q)
        if not m:
            continue
        for i, o in enumerate(opts):
            filled = norm(q[:m.start()] + o + q[m.end():])
            if filled in DOC_NORM or filled.rstrip(".") in DOC_NORM:
                hits.add(i)
    assert len(hits) == 1, "no single option fits %r %r" % (question, opts)
    return "ABCD"[hits.pop()]


class TutoringChat(lxtest.TestCase):
    s = None
    doc_id = None

    @classmethod
    def setUpClass(cls):
        cls.s = tutor_server(None, tutor_cfg={"provider": "offline", "target_grade": 5})
        status, j = cls.s.upload("solar.txt", DOC.encode(), uid="owner", name="Solar",
                                 mime="text/plain")
        if status != 200 or j.get("processing_status") != "processed":
            cls.s.close()
            raise AssertionError("upload failed: %s %s" % (status, j))
        cls.doc_id = j["document_id"]

    @classmethod
    def tearDownClass(cls):
        if cls.s is not None:
            cls.s.close()

    def chat(self, body, uid="owner", status=200):
        st, j = self.s.json("POST", CHAT, uid=uid, body=body)
        self.assertEqual(st, status, j)
        return j

    def history(self, thread_id, uid="owner"):
        st, j = self.s.json("GET", HISTORY + "?thread_id=" + thread_id, uid=uid)
        self.assertEqual(st, 200, j)
        return j["conversation_history"]

    def progress(self, uid):
        st, j = self.s.json("GET", "/api/progress", uid=uid)
        self.assertEqual(st, 200, j)
        return j["data"]

    # -- chat

    def test_chat_answers_from_document_and_thread_continues(self):
        j = self.chat({"query": "How long does light from the Sun take to reach the Earth?",
                       "documentId": self.doc_id})
        self.assertIn("From your document", j["response"])
        self.assertIn(LIGHT, j["response"])
        self.assertEqual(j["final_agent_response"], j["response"])
        self.assertRegex(j["thread_id"], THREAD_RE)
        self.assertEqual((j["provider"], j["processing_mode"], j["document_id"]),
                         ("offline", "text", self.doc_id))
        self.assertIsNone(j["audio_content_base64"])
        self.assertIsNone(j["timepoints"])
        self.assertIsNone(j["error_detail"])
        self.assertIsNone(j["active_quiz_thread_id"])
        self.assertEqual((j["quiz_active"], j["quiz_complete"], j["quiz_cancelled"]),
                         (False, False, False))
        self.assertIsInstance(j["reading_level"], (int, float))
        self.assertTrue(0 <= j["reading_level"] <= 18)
        self.assertEqual(round(j["reading_level"], 1), j["reading_level"])
        tid = j["thread_id"]
        self.assertEqual([t["type"] for t in j["conversation_history"]], ["human", "ai"])

        # The thread continues with its document (no documentId sent again).
        j2 = self.chat({"query": "Why is Mars called the Red Planet?", "thread_id": tid})
        self.assertEqual(j2["thread_id"], tid)
        self.assertEqual(j2["document_id"], self.doc_id)
        self.assertIn(MARS, j2["response"])
        hist = j2["conversation_history"]
        self.assertEqual([t["type"] for t in hist], ["human", "ai", "human", "ai"])
        self.assertEqual(hist[0]["content"],
                         "How long does light from the Sun take to reach the Earth?")
        self.assertEqual(hist[2]["content"], "Why is Mars called the Red Planet?")
        self.assertEqual(hist[3]["content"], j2["response"])
        self.assertEqual(self.history(tid), hist)

    def test_history_is_the_last_50_turns_as_the_chat_reply_has_them(self):
        tid = None
        for i in range(27):  # 54 turns
            body = {"query": "Question number %d about Mars?" % i}
            if tid is not None:
                body["thread_id"] = tid
            j = self.chat(body, uid="longthread")
            tid = j["thread_id"]
        hist = self.history(tid, uid="longthread")
        self.assertEqual(len(hist), 50)
        self.assertEqual(hist, j["conversation_history"])
        self.assertEqual(hist[-2]["content"], "Question number 26 about Mars?")
        self.assertEqual(hist[0]["content"], "Question number 2 about Mars?")

    def test_absent_fact_is_not_made_up(self):
        j = self.chat({"query": "What is the price of bananas in Peru?",
                       "documentId": self.doc_id})
        self.assertIn("not in the document", j["response"])
        self.assertNotIn("From your document", j["response"])

    def test_chat_without_document_is_honest(self):
        j = self.chat({"query": "What is the capital of France?"})
        self.assertIn("offline tutor", j["response"])
        self.assertIn("document", j["response"])
        self.assertNotIn("Paris", j["response"])
        self.assertIsNone(j["document_id"])
        self.assertEqual(j["provider"], "offline")

    # -- history and isolation

    def test_history_errors(self):
        j = self.chat({"query": "Tell me about Saturn rings", "documentId": self.doc_id})
        tid = j["thread_id"]
        st, e = self.s.json("GET", HISTORY, uid="owner")
        self.assertEqual(st, 400, e)
        self.assertIn("error", e)
        for path, uid in ((HISTORY + "?thread_id=" + tid, "intruder"),
                          (HISTORY + "?thread_id=thread_00000000_00000000", "owner"),
                          (HISTORY + "?thread_id=..%2Fx", "owner")):
            st, e = self.s.json("GET", path, uid=uid)
            self.assertEqual((st, e["code"]), (404, "NOT_FOUND"), (path, uid, e))
        st, _ = self.s.json("GET", HISTORY + "?thread_id=" + tid, uid=None)
        self.assertEqual(st, 401)

    def test_other_user_cannot_continue_my_thread_or_read_my_document(self):
        j = self.chat({"query": "Which planet is the hottest?", "documentId": self.doc_id})
        tid = j["thread_id"]
        j2 = self.chat({"query": "hello again", "thread_id": tid}, uid="intruder")
        self.assertNotEqual(j2["thread_id"], tid)
        self.assertEqual([t["content"] for t in j2["conversation_history"]],
                         ["hello again", j2["response"]])
        self.assertIsNone(j2["document_id"])
        self.assertEqual(len(self.history(tid)), 2)  # mine is untouched
        st, e = self.s.json("POST", CHAT, uid="intruder",
                            body={"query": "Which planet is the hottest?",
                                  "documentId": self.doc_id})
        self.assertEqual((st, e["code"]), (404, "NOT_FOUND"), e)

    # -- quiz

    def start_quiz(self, uid="owner", doc_id=None):
        j = self.chat({"query": "/start_quiz", "documentId": doc_id or self.doc_id,
                       "mode": "quiz"}, uid=uid)
        self.assertTrue(j["quiz_active"], j)
        self.assertEqual(j["active_quiz_thread_id"], j["thread_id"])
        self.assertIn("Question 1 of ", j["response"])
        return j

    def test_full_quiz_with_score_restart_and_progress(self):
        uid = "quizzer"
        status, up = self.s.upload("solar2.txt", DOC.encode(), uid=uid, mime="text/plain")
        self.assertEqual((status, up["processing_status"]), (200, "processed"), up)
        before = self.progress(uid)
        j = self.start_quiz(uid, up["document_id"])
        tid = j["thread_id"]
        total = int(re.search(r"Question 1 of (\d+):", j["response"]).group(1))
        self.assertTrue(2 <= total <= 5, j["response"])
        q, opts = parse_question(j["response"])
        self.assertTrue(2 <= len(opts) <= 4, j["response"])
        self.assertTrue(all(o.strip() for o in opts))

        # An unclear answer asks again without moving on.
        j = self.chat({"query": "I am not sure, maybe something", "thread_id": tid,
                       "mode": "quiz"}, uid=uid)
        self.assertTrue(j["quiz_active"])
        self.assertIn("Question 1 of %d" % total, j["response"])
        self.assertNotIn("Correct!", j["response"])
        self.assertNotIn("Not quite", j["response"])

        # Question 1 answered wrongly.
        right = correct_letter(q, opts)
        wrong = next(l for l in "ABCD"[:len(opts)] if l != right)
        j = self.chat({"query": wrong, "thread_id": tid, "mode": "quiz"}, uid=uid)
        self.assertIn("Not quite: the answer is %s) " % right, j["response"])
        self.assertIn(opts["ABCD".index(right)], j["response"])
        n = 1
        while n < total:
            self.assertTrue(j["quiz_active"], j)
            self.assertFalse(j["quiz_complete"])
            self.assertIn("Question %d of %d" % (n + 1, total), j["response"])
            q, opts = parse_question(j["response"])
            if n == 2:  # the thread and its quiz survive a restart
                self.s.restart()
            # answered by the option's text on one question, by letter otherwise
            letter = correct_letter(q, opts)
            answer = opts["ABCD".index(letter)] if n == 1 else letter.lower() + ")"
            j = self.chat({"query": answer, "thread_id": tid, "mode": "quiz"}, uid=uid)
            self.assertTrue(j["response"].startswith("Correct!"), j["response"])
            n += 1
        self.assertTrue(j["quiz_complete"])
        self.assertFalse(j["quiz_active"])
        self.assertIsNone(j["active_quiz_thread_id"])
        self.assertIn("You got %d of %d right." % (total - 1, total), j["response"])

        # After the quiz, messages are chat again.
        j2 = self.chat({"query": "Why is Mars called the Red Planet?", "thread_id": tid},
                       uid=uid)
        self.assertIn(MARS, j2["response"])
        self.assertFalse(j2["quiz_active"])
        hist = self.history(tid, uid=uid)
        self.assertEqual(len(hist), 2 * (total + 3))
        self.assertEqual([t["type"] for t in hist[:4]], ["human", "ai", "human", "ai"])

        after = self.progress(uid)
        self.assertEqual(after["quizzes"]["taken"], before["quizzes"]["taken"] + 1)
        self.assertEqual(after["quizzes"]["correct"], total - 1)
        self.assertEqual(after["quizzes"]["questions"], total)
        self.assertEqual(after["points"] - before["points"], 10 * (total - 1) + 1)

    def test_cancel_quiz(self):
        j = self.start_quiz()
        tid = j["thread_id"]
        j = self.chat({"query": "/cancel_quiz", "thread_id": tid})
        self.assertEqual((j["quiz_cancelled"], j["quiz_active"], j["quiz_complete"]),
                         (True, False, False))
        self.assertIsNone(j["active_quiz_thread_id"])
        # "A" is now a chat message, not an answer.
        j = self.chat({"query": "Which planet is the largest?", "thread_id": tid})
        self.assertFalse(j["quiz_active"])
        self.assertIn("Jupiter is the largest planet", j["response"])
        # A phrase, trimmed and in any case, cancels too.
        j = self.chat({"query": "start quiz", "thread_id": tid})
        self.assertTrue(j["quiz_active"])
        j = self.chat({"query": "  Stop Quiz ", "thread_id": tid})
        self.assertEqual((j["quiz_cancelled"], j["quiz_active"]), (True, False))
        j = self.chat({"query": "Quiz me on the planets", "thread_id": tid})
        self.assertTrue(j["quiz_active"])
        self.assertIn("Question 1 of ", j["response"])
        j = self.chat({"query": "end quiz", "thread_id": tid})
        self.assertEqual((j["quiz_cancelled"], j["quiz_active"]), (True, False))
        # Cancelling with no quiz running says so.
        j = self.chat({"query": "/cancel_quiz", "thread_id": tid})
        self.assertEqual((j["quiz_cancelled"], j["quiz_active"]), (False, False))
        self.assertIn("no quiz", j["response"])

    def test_quiz_starts_from_what_students_type_without_mode(self):
        # apiService.startQuiz sends exactly this (no mode; thread_id
        # undefined, so absent) and reads quiz_active and the question.
        for query in ("Start a quiz for document %s" % self.doc_id, "quiz me", "Quiz me!",
                      "test me on this", "/start_quiz", "Can you give me a quiz?",
                      "please start a quiz", "I want a quiz about the planets",
                      "let's do a quiz"):
            j = self.chat({"query": query, "documentId": self.doc_id})
            self.assertTrue(j["quiz_active"], (query, j["response"]))
            self.assertIn("Question 1 of ", j["response"], query)
            self.assertEqual(j["active_quiz_thread_id"], j["thread_id"])
            j = self.chat({"query": "/cancel_quiz", "thread_id": j["thread_id"]})
            self.assertTrue(j["quiz_cancelled"], query)
        # A question that mentions a quiz is a question.
        for query in ("What is a quiz?", "Is there a quiz on Mars?", "testing the rover"):
            j = self.chat({"query": query, "documentId": self.doc_id})
            self.assertFalse(j["quiz_active"], (query, j["response"]))
            self.assertNotIn("Question 1 of ", j["response"], query)

    def test_general_chat_mode_clears_quiz(self):
        j = self.start_quiz()
        tid = j["thread_id"]
        j = self.chat({"query": "Why is Mars called the Red Planet?", "thread_id": tid,
                       "mode": "general_chat"})
        self.assertFalse(j["quiz_active"])
        self.assertIn(MARS, j["response"])
        j = self.chat({"query": "B", "thread_id": tid, "mode": "general_chat"})
        self.assertFalse(j["quiz_active"])
        self.assertNotIn("Correct!", j["response"])
        self.assertNotIn("Not quite", j["response"])

    def test_quiz_needs_a_document(self):
        st, e = self.s.json("POST", CHAT, uid="owner", body={"query": "/start_quiz",
                                                             "mode": "quiz"})
        self.assertEqual((st, e["code"]), (400, "DOCUMENT_REQUIRED"), e)
        st, e = self.s.json("POST", CHAT, uid="owner", body={"query": "quiz me on planets"})
        self.assertEqual((st, e["code"]), (400, "DOCUMENT_REQUIRED"), e)

    # -- bad input

    def test_bad_inputs(self):
        s = self.s
        for body, code in (({}, "QUERY_REQUIRED"), ({"query": "   "}, "QUERY_REQUIRED"),
                           ({"query": 5}, "INVALID_REQUEST"),
                           ({"query": "x" * 4001}, "QUERY_TOO_LONG")):
            st, e = s.json("POST", CHAT, uid="owner", body=body)
            self.assertEqual((st, e["code"]), (400, code), (body, e))
        st, _, out = s.request("POST", CHAT, uid="owner", body="{not json",
                               headers={"Content-Type": "application/json"})
        self.assertEqual((st, json.loads(out)["code"]), (400, "INVALID_JSON"))
        st, _, out = s.request("POST", CHAT, uid="owner", body='["query"]',
                               headers={"Content-Type": "application/json"})
        self.assertEqual((st, json.loads(out)["code"]), (400, "INVALID_JSON"))
        st, _, out = s.request("POST", CHAT, uid="owner", body='{"query": "hi"}',
                               headers={"Content-Type": "text/plain"})
        self.assertEqual((st, json.loads(out)["code"]), (415, "UNSUPPORTED_MEDIA_TYPE"))
        st, _, _ = s.request("POST", CHAT, uid=None, body={"query": "hi"})
        self.assertEqual(st, 401)


class TutoringChatInput(lxtest.TestCase):
    """The two request formats of a chat (plugins/tutoring/chat_input.c):
    JSON and multipart/form-data, answered alike."""

    s = None
    doc_id = None

    @classmethod
    def setUpClass(cls):
        cls.s = tutor_server(None, tutor_cfg={"provider": "offline", "target_grade": 5})
        status, j = cls.s.upload("solar.txt", DOC.encode(), uid="former", name="Solar",
                                 mime="text/plain")
        if status != 200 or j.get("processing_status") != "processed":
            cls.s.close()
            raise AssertionError("upload failed: %s %s" % (status, j))
        cls.doc_id = j["document_id"]

    @classmethod
    def tearDownClass(cls):
        if cls.s is not None:
            cls.s.close()

    def post_form(self, fields, uid="former"):
        """POST the chat as a form of (name, filename, type, data) parts:
        (status, parsed body)."""
        body, ctype = multipart(fields)
        return self.post_raw(body, ctype, uid=uid)

    def post_raw(self, body, ctype, uid="former"):
        st, _, out = self.s.request("POST", CHAT, uid=uid, body=body,
                                    headers={"Content-Type": ctype})
        return st, json.loads(out)

    def assertError(self, got, status, code):
        st, j = got
        self.assertEqual((st, j.get("code")), (status, code), j)
        self.assertIsInstance(j.get("error"), str)
        self.assertTrue(j["error"])
        return j["error"]

    def test_form_with_document_answers_like_json(self):
        q = "How long does light from the Sun take to reach the Earth?"
        st, form = self.post_form([("query", None, None, q),
                                   ("document_id", None, None, self.doc_id),
                                   ("mode", None, None, "general_chat")])
        self.assertEqual(st, 200, form)
        st, js = self.s.json("POST", CHAT, uid="former",
                             body={"query": q, "documentId": self.doc_id, "mode": "general_chat"})
        self.assertEqual(st, 200, js)
        for j in (form, js):
            self.assertIn("From your document", j["response"])
            self.assertIn(LIGHT, j["response"])
            self.assertEqual(j["document_id"], self.doc_id)
            self.assertRegex(j["thread_id"], THREAD_RE)
            self.assertEqual([(t["type"], t["content"]) for t in j["conversation_history"]],
                             [("human", q), ("ai", j["response"])])
        self.assertEqual(form["response"], js["response"])
        self.assertNotEqual(form["thread_id"], js["thread_id"])

        # The form continues its thread, which keeps its document.
        st, j2 = self.post_form([("query", None, None, "Why is Mars called the Red Planet?"),
                                 ("thread_id", None, None, form["thread_id"])])
        self.assertEqual(st, 200, j2)
        self.assertEqual((j2["thread_id"], j2["document_id"]), (form["thread_id"], self.doc_id))
        self.assertIn(MARS, j2["response"])
        self.assertEqual(len(j2["conversation_history"]), 4)

    def test_form_document_of_another_user_is_not_found(self):
        got = self.post_form([("query", None, None, "Which planet is the hottest?"),
                              ("document_id", None, None, self.doc_id)], uid="stranger")
        self.assertError(got, 404, "NOT_FOUND")

    def test_transcript_is_the_query_when_there_is_none(self):
        said = "Why is Mars called the Red Planet?"
        st, j = self.post_form([("transcript", None, None, said),
                                ("stt_processing_mode", None, None, "direct_send"),
                                ("query", None, None, "  "),
                                ("document_id", None, None, self.doc_id)])
        self.assertEqual(st, 200, j)
        self.assertIn(MARS, j["response"])
        self.assertEqual(j["conversation_history"][0], {"type": "human", "content": said})
        # The same in JSON, where document_id is accepted too.
        st, j = self.s.json("POST", CHAT, uid="former",
                            body={"transcript": said, "document_id": self.doc_id})
        self.assertEqual(st, 200, j)
        self.assertIn(MARS, j["response"])
        self.assertEqual(j["document_id"], self.doc_id)
        self.assertEqual(j["conversation_history"][0]["content"], said)

    def test_audio_without_speech_is_refused_and_text_wins_over_audio(self):
        audio = ("audio_file", "note.webm", "audio/webm", b"\x1aE\xdf\xa3" + bytes(range(256)))
        # Without the speech plugin (speech.v1) nothing can transcribe it.
        msg = self.assertError(self.post_form([audio,
                                               ("stt_processing_mode", None, None, "review")]),
                               503, "STT_UNAVAILABLE")
        self.assertIn("text", msg)
        st, j = self.post_form([audio, ("query", None, None, "Which planet is the largest?"),
                                ("document_id", None, None, self.doc_id)])
        self.assertEqual(st, 200, j)
        self.assertIn("Jupiter is the largest planet", j["response"])
        # An empty file input (what a browser sends with no file) is no audio.
        self.assertError(self.post_form([("audio_file", "", "application/octet-stream", b"")]),
                         400, "QUERY_REQUIRED")

    def test_malformed_forms(self):
        good, ctype = multipart([("query", None, None, "hello")])
        boundary = ctype.split("boundary=", 1)[1]
        # No closing delimiter.
        msg = self.assertError(self.post_raw(good[:-len(boundary) - 6], ctype), 400,
                               "INVALID_FORM")
        self.assertIn("closing boundary", msg)
        # A part without a name.
        bad = good.replace(b'form-data; name="query"', b"form-data")
        msg = self.assertError(self.post_raw(bad, ctype), 400, "INVALID_FORM")
        self.assertIn("no name", msg)
        # No boundary in the Content-Type; a boundary the body does not use.
        self.assertError(self.post_raw(good, "multipart/form-data"), 400, "INVALID_FORM")
        self.assertError(self.post_raw(good, "multipart/form-data; boundary=other"), 400,
                         "INVALID_FORM")
        self.assertError(self.post_raw(b"", ctype), 400, "INVALID_FORM")
        # The same body with its boundary is fine (the test's form is well made).
        st, j = self.post_raw(good, ctype)
        self.assertEqual(st, 200, j)

    def test_form_fields_must_be_utf8_text(self):
        for name, data in (("query", b"caf\xe9?"), ("query", b"hi\x00there"),
                           ("document_id", b"\xff\xfe"), ("thread_id", b"\xc0\xaf"),
                           ("transcript", b"\xed\xa0\x80")):
            fields = [("query", None, None, "What is the Sun?")]
            fields = [f for f in fields if f[0] != name] + [(name, None, None, data)]
            msg = self.assertError(self.post_form(fields), 400, "INVALID_REQUEST")
            self.assertIn(name, msg)
        # Real UTF-8 goes through.
        st, j = self.post_form([("query", None, None, "Qu'est-ce que le Soleil ? \u2600\ufe0f")])
        self.assertEqual(st, 200, j)
        self.assertEqual(j["conversation_history"][0]["content"],
                         "Qu'est-ce que le Soleil ? \u2600\ufe0f")

    def test_json_fields_must_be_strings(self):
        for body, field in (({"query": "hi", "documentId": 5}, "documentId"),
                            ({"query": "hi", "document_id": 5}, "document_id"),
                            ({"query": "hi", "mode": 1}, "mode"),
                            ({"query": "hi", "thread_id": ["t"]}, "thread_id"),
                            ({"transcript": 3.5}, "transcript"),
                            ({"query": True}, "query"),
                            ({"query": "a\u0000b"}, "query")):
            st, e = self.s.json("POST", CHAT, uid="former", body=body)
            self.assertEqual((st, e["code"]), (400, "INVALID_REQUEST"), (body, e))
            self.assertIn(field, e["error"])
        # null is absent.
        st, j = self.s.json("POST", CHAT, uid="former",
                            body={"query": "Why is Mars called the Red Planet?",
                                  "documentId": None, "document_id": self.doc_id,
                                  "thread_id": None, "mode": None})
        self.assertEqual(st, 200, j)
        self.assertEqual(j["document_id"], self.doc_id)
        self.assertIn(MARS, j["response"])
        # Anything after the object is not JSON.
        st, e = self.post_raw(b'{"query": "hi"} {}', "application/json")
        self.assertEqual((st, e["code"]), (400, "INVALID_JSON"), e)
        st, j = self.post_raw(b'{"query": "hi"}\r\n ', "Application/JSON ; charset=utf-8")
        self.assertEqual(st, 200, j)

    def test_other_content_types_and_form_limits(self):
        for ctype in ("text/plain", "multipart/mixed; boundary=xx",
                      "application/x-www-form-urlencoded", "application/jsonx"):
            self.assertError(self.post_raw(b'{"query": "hi"}', ctype), 415,
                             "UNSUPPORTED_MEDIA_TYPE")
        st, _, out = self.s.request("POST", CHAT, uid="former", body=b'{"query": "hi"}')
        self.assertEqual((st, json.loads(out)["code"]), (415, "UNSUPPORTED_MEDIA_TYPE"))
        self.assertError(self.post_form([("mode", None, None, "general_chat")]), 400,
                         "QUERY_REQUIRED")
        self.assertError(self.post_form([("query", None, None, "x" * 4001)]), 400,
                         "QUERY_TOO_LONG")
        st, _, _ = self.s.request("POST", CHAT, uid=None,
                                  body=multipart([("query", None, None, "hi")])[0])
        self.assertEqual(st, 401)


class TutoringConfig(lxtest.TestCase):
    def test_gemini_without_a_key_refuses_to_start(self):
        with self.assertRaises(lxtest.StartError) as cm:
            tutor_server(self, tutor_cfg={"provider": "gemini"})
        self.assertIn("provider gemini needs gemini.api_key (GOOGLE_API_KEY)", str(cm.exception))

    def test_unknown_provider_refuses_to_start(self):
        with self.assertRaises(lxtest.StartError) as cm:
            tutor_server(self, tutor_cfg={"provider": "claude"})
        self.assertIn("provider must be auto, offline, gemini or openai (got 'claude')",
                      str(cm.exception))

    def test_bad_base_url_and_attempts_refuse_to_start(self):
        with self.assertRaises(lxtest.StartError) as cm:
            tutor_server(self, tutor_cfg={"provider": "openai",
                                          "openai": {"base_url": "ftp://x", "model": "m"}})
        self.assertIn("openai.base_url must be an http:// or https:// URL", str(cm.exception))
        with self.assertRaises(lxtest.StartError) as cm:
            tutor_server(self, tutor_cfg={"max_attempts": 0})
        self.assertIn("max_attempts must be from 1 to 10", str(cm.exception))
        with self.assertRaises(lxtest.StartError) as cm:
            tutor_server(self, tutor_cfg={"openai": {"api_key": "k", "colour": "red"}})
        self.assertIn("colour", str(cm.exception))

    def test_auto_without_keys_is_offline(self):
        srv = tutor_server(self, tutor_cfg={"provider": "auto",
                                            "openai": {"api_key": "", "model": "m"}})
        self.assertIn("provider offline (no model)", srv.srv.output())

    def test_target_grade_out_of_range_refuses_to_start(self):
        with self.assertRaises(lxtest.StartError) as cm:
            tutor_server(self, tutor_cfg={"target_grade": 13})
        self.assertIn("target_grade must be a number from 1 to 12", str(cm.exception))


if __name__ == "__main__":
    lxtest.main()
