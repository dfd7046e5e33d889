#!/usr/bin/env python3
"""The tutoring plugin with real model providers (plugins/tutoring/llm.c,
chat.c, chat_quiz.c, answer.c): the real binary with auth, storage and
tutoring (lxtutor.py) talking to loopback fake providers that speak the
Gemini and OpenAI wire formats (lxfakellm.py). Every test runs once per
format. Checked: what the plugin sends (document passages, target grade,
the thread's turns, JSON mode for quizzes, the key in its header only),
what it makes of the answers, retries and their limits, the deadline,
cancellation when the client goes away, quizzes and answer formulation
with a model, per-user isolation, the "auto" provider choice, and that the
key never shows in a reply or in the server's log."""

import json
import re
import threading

import lxfakellm
import lxkeys
import lxtest
from lxfakellm import KEY, FakeLLM, answer, drop, hold, raw, reset, sleep, status
from lxtutor import provider_cfg, tutor_server

CHAT = "/api/v2/agent/chat"
HISTORY = "/api/v2/agent/history"
REFINE = "/api/v2/answer-formulation/refine"
EDIT = "/api/v2/answer-formulation/edit"
THREAD_RE = r"^thread_[0-9a-f]{8}_[0-9a-f]{8}$"
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
GRADE = 7  # provider_cfg's target_grade

DOC = """Volcanoes

A volcano is an opening in the crust of the Earth where hot melted rock comes out.

Melted rock under the ground is called magma, and once it flows out of a volcano it is called lava.

Mount Etna on the island of Sicily in Italy is one of the most active volcanoes in Europe.

Ash from a very big eruption can travel around the world and cool the weather for a whole year.

The Ring of Fire is a long chain of volcanoes and earthquakes around the Pacific Ocean.

Hot springs and geysers get their heat from magma that lies deep below them.
"""
LAVA = ("Melted rock under the ground is called magma, and once it flows out of a volcano it "
        "is called lava.")
ETNA = "Mount Etna on the island of Sicily in Italy is one of the most active volcanoes in Europe."
Q_LAVA = "What is melted rock called once it flows out of a volcano?"
Q_ETNA = "Which active volcano is on the island of Sicily?"

# The quiz the fake model writes: (question, options, correct_index, explanation).
QUIZ = [
    ("What is melted rock under the ground called?",
     ["Lava", "Magma", "Ash", "Steam"], 1, "The text says melted rock under the ground is magma."),
    ("Where is Mount Etna?",
     ["Sicily in Italy", "Iceland", "Japan", "Hawaii"], 0, "Mount Etna is on Sicily in Italy."),
    ("What can ash from a very big eruption do?",
     ["Make rivers flow backwards", "Stop earthquakes", "Melt the polar ice",
      "Cool the weather for a year"], 3, "Ash can cool the weather for a whole year."),
    ("Which ocean does the Ring of Fire go around?",
     ["Atlantic Ocean", "Indian Ocean", "Pacific Ocean", "Arctic Ocean"], 2,
     "The Ring of Fire is around the Pacific Ocean."),
    ("What heats hot springs and geysers?",
     ["The Sun", "Magma deep below them", "Lightning", "The wind"], 1,
     "Their heat comes from magma deep below them."),
]
QUIZ_JSON = {"questions": [{"question": q, "options": o, "correct_index": c, "explanation": e}
                           for q, o, c, e in QUIZ]}
# Question 3 is answered in free text; the fake model judges it as this option.
FREE_ANSWER = "hmm I would say it makes the whole planet a bit colder for a while"
FREE_JUDGED = 3

MESSY = "um so the the water cycle uh is when water evaporates and i think i think it rains"


def norm(s):
    return re.sub(r"\s+", " ", s or "").strip()


def is_judge(req):
    """A request asking the model which option a free answer means."""
    sch = req.schema() or {}
    return "option_index" in json.dumps(sch) or "option_index" in req.all_text()


def brain(req):
    """The fake model: a quiz or a verdict when JSON is asked for, else text."""
    if req.json_mode():
        if is_judge(req):
            return {"option_index": FREE_JUDGED}
        return QUIZ_JSON
    return "A plain answer from the fake model."


class _Providers:
    """The tests, run for each wire format (KIND)."""

    KIND = None
    MODEL = None

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeLLM()
        try:
            cls.s = tutor_server(None, tutor_cfg=provider_cfg(cls.KIND, cls.fake))
        except BaseException:
            cls.fake.close()
            raise
        st, j = cls.s.upload("volcanoes.txt", DOC.encode(), uid="owner", name="Volcanoes",
                             mime="text/plain")
        if st != 200 or j.get("processing_status") != "processed":
            cls.tearDownClass()
            raise AssertionError("upload failed: %s %s" % (st, j))
        cls.doc_id = j["document_id"]

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

    # -- helpers

    def post(self, path, body, uid="owner"):
        """(status, parsed body); the key is never in a reply."""
        st, _, out = self.s.request("POST", path, uid=uid, body=body)
        self.assertNotIn(KEY.encode(), out)
        return st, (lxtest.parse_json(out) if out else None)

    def chat(self, body, uid="owner", want=200):
        st, j = self.post(CHAT, body, uid)
        self.assertEqual(st, want, j)
        return j

    def chat_error(self, body, want_status, code, uid="owner"):
        st, j = self.post(CHAT, body, uid)
        self.assertEqual((st, j.get("code")), (want_status, code), j)
        self.assertIsInstance(j.get("error"), str, j)
        self.assertTrue(j["error"], j)
        return j

    def history(self, tid, uid="owner"):
        st, j = self.s.json("GET", HISTORY + "?thread_id=" + tid, uid=uid)
        self.assertEqual(st, 200, j)
        return j["conversation_history"]

    def assertKeyNotLogged(self, mentions=None):
        """The key is nowhere in the server's output; `mentions` (e.g. the
        failed status) is in one of the plugin's log lines, so the failure
        was logged and the check is not vacuous."""
        if mentions is not None:
            line = self.s.srv.wait_log(lambda l: l.get("src") == "tutoring"
                                       and mentions in (l.get("msg") or ""))
            self.assertIsNotNone(line, "no tutoring log line mentions %r" % mentions)
        self.assertNotIn(KEY, self.s.srv.output())

    def assertWellSent(self, req):
        """The request went to the configured model with the key in its
        header only."""
        self.assertEqual(req.kind, self.KIND, req)
        self.assertEqual(req.model, self.MODEL, req)
        self.assertEqual(req.key(), KEY)
        self.assertNotIn(KEY, req.raw_path)
        self.assertIsInstance(req.body, dict, req.raw[:300])

    # -- chat

    def test_chat_with_document_sends_passages_grade_and_turns(self):
        a1 = "Once it flows out, melted rock is called **lava**."
        self.fake.script(answer("  \n" + a1 + "\n\n  "))
        j = self.chat({"query": Q_LAVA, "documentId": self.doc_id})
        self.assertEqual(j["response"], a1)
        self.assertEqual(j["final_agent_response"], a1)
        self.assertEqual((j["provider"], j["document_id"]), (self.KIND, self.doc_id))
        self.assertRegex(j["thread_id"], THREAD_RE)
        self.assertEqual((j["quiz_active"], j["quiz_complete"], j["quiz_cancelled"]),
                         (False, False, False))
        self.assertIsNone(j["active_quiz_thread_id"])
        self.assertIsNone(j["audio_content_base64"])
        self.assertIsNone(j["timepoints"])
        self.assertIsNone(j["error_detail"])
        self.assertIsInstance(j["reading_level"], (int, float))
        self.assertTrue(0 <= j["reading_level"] <= 18, j)
        self.assertEqual([(t["type"], t["content"]) for t in j["conversation_history"]],
                         [("human", Q_LAVA), ("ai", a1)])
        tid = j["thread_id"]

        reqs = self.fake.seen()
        self.assertEqual(len(reqs), 1, reqs)
        r = reqs[0]
        self.assertWellSent(r)
        self.assertFalse(r.stream)
        self.assertFalse(r.json_mode())
        system = norm(r.system())
        self.assertIn(LAVA, system)  # the passage that answers the question
        self.assertRegex(system, r"\b%d\b" % GRADE)  # the target grade
        self.assertEqual([t[0] for t in r.turns()], ["user"])
        self.assertIn(Q_LAVA, r.turns()[0][1])
        if self.KIND == "gemini":
            gc = r.body.get("generationConfig") or {}
            self.assertIn("temperature", gc)
            self.assertIn("maxOutputTokens", gc)
            self.assertNotIn("responseMimeType", gc)
        else:
            self.assertEqual(r.body["messages"][0]["role"], "system")
            self.assertIn("temperature", r.body)
            self.assertIn("max_tokens", r.body)
            self.assertFalse(r.body.get("stream", False))
            self.assertNotIn("response_format", r.body)

        # The second turn carries the first one before the new question.
        a2 = "Mount Etna is on Sicily."
        self.fake.script(answer(a2))
        j2 = self.chat({"query": Q_ETNA, "thread_id": tid})
        self.assertEqual((j2["thread_id"], j2["document_id"]), (tid, self.doc_id))
        self.assertEqual(j2["response"], a2)
        r2 = self.fake.seen()[1]
        turns = r2.turns()
        self.assertEqual([t[0] for t in turns], ["user", "model", "user"], turns)
        self.assertEqual(r2.roles(), ["user", "model", "user"] if self.KIND == "gemini"
                         else ["system", "user", "assistant", "user"])
        self.assertIn(Q_LAVA, turns[0][1])
        self.assertIn(a1, turns[1][1])
        self.assertIn(Q_ETNA, turns[2][1])
        self.assertIn(ETNA, norm(r2.system()))
        hist = j2["conversation_history"]
        self.assertEqual([t["content"] for t in hist], [Q_LAVA, a1, Q_ETNA, a2])
        self.assertEqual(self.history(tid), hist)

    def test_long_thread_sends_its_last_turns_in_order(self):
        tid = None
        for i in range(7):
            self.fake.script(answer("Answer number %d." % i))
            body = {"query": "Question number %d?" % i}
            if tid:
                body["thread_id"] = tid
            j = self.chat(body)
            tid = j["thread_id"]
        hist = [t["content"] for t in self.history(tid)]
        self.assertEqual(len(hist), 14)
        self.fake.script(answer("The last answer."))
        self.chat({"query": "The last question?", "thread_id": tid})
        r = self.fake.seen()[-1]
        turns = r.turns()
        self.assertIn("The last question?", turns[-1][1])
        prior = turns[:-1]
        # The most recent turns, in order, alternating from a student turn.
        self.assertGreaterEqual(len(prior), 4, turns)
        self.assertEqual([t[0] for t in prior], ["user", "model"] * (len(prior) // 2), turns)
        suffix = hist[len(hist) - len(prior):]
        for (role, text), want in zip(prior, suffix):
            self.assertIn(want, text, (prior, suffix))

    def test_chat_without_document_is_a_general_tutor(self):
        self.fake.script(answer("Paris is the capital of France."))
        q = "What is the capital of France?"
        j = self.chat({"query": q})
        self.assertEqual(j["response"], "Paris is the capital of France.")
        self.assertEqual(j["provider"], self.KIND)
        self.assertIsNone(j["document_id"])
        r = self.fake.seen()[0]
        self.assertWellSent(r)
        self.assertIn(q, r.last_user())
        self.assertTrue(r.system().strip())  # still told how to tutor
        self.assertNotIn("Etna", r.all_text())

    # -- retries and failures

    def test_429_with_retry_after_then_success(self):
        self.fake.script(status(429, {"Retry-After": "1"}), answer("Answered after a wait."))
        j = self.chat({"query": Q_LAVA, "documentId": self.doc_id})
        self.assertEqual(j["response"], "Answered after a wait.")
        reqs = self.fake.seen()
        self.assertEqual([r.status for r in reqs], [429, 200])
        # Retry-After respected (the fake's own arrival times).
        self.assertGreaterEqual(reqs[1].t - reqs[0].t, 0.9)
        self.assertEqual(reqs[0].body, reqs[1].body)  # the same question again

    def test_503_twice_then_success(self):
        self.fake.script(status(503), status(503), answer("Third time lucky."))
        j = self.chat({"query": "Tell me about geysers", "documentId": self.doc_id})
        self.assertEqual(j["response"], "Third time lucky.")
        self.assertEqual([r.status for r in self.fake.seen()], [503, 503, 200])

    def test_500_every_time_is_502_after_max_attempts(self):
        self.fake.default = status(500)
        self.chat_error({"query": "Tell me about ash", "documentId": self.doc_id}, 502,
                        "PROVIDER_ERROR")
        self.assertEqual([r.status for r in self.fake.seen()], [500, 500, 500])
        self.assertKeyNotLogged(mentions="500")
        # The server is fine afterwards.
        self.fake.default = answer("Back again.")
        self.assertEqual(self.chat({"query": "Tell me about ash"})["response"], "Back again.")

    def test_401_is_not_retried_and_the_thread_is_unchanged(self):
        tid = self.chat({"query": "Tell me about lava"})["thread_id"]
        self.fake.clear()
        self.fake.script(status(401))
        self.chat_error({"query": "And about magma?", "thread_id": tid}, 502, "PROVIDER_ERROR")
        self.assertEqual([r.status for r in self.fake.seen()], [401])
        self.assertKeyNotLogged(mentions="401")
        # The failed turn is not in the thread.
        self.assertEqual([t["content"] for t in self.history(tid)],
                         ["Tell me about lava", lxfakellm.DEFAULT_TEXT])

    def test_malformed_answers_are_502_bad_answer_without_retry(self):
        bads = ['{"candidates": [{"content": {"parts": [{"text": "cut', '{"unexpected": 1}',
                "<html>Bad gateway</html>"]
        if self.KIND == "gemini":  # no candidate; blocked
            bads += ['{"candidates": []}',
                     '{"promptFeedback": {"blockReason": "SAFETY"}}']
        else:
            bads += ['{"choices": []}', '{"choices": [{"index": 0, "message": {"role": '
                     '"assistant", "content": null}, "finish_reason": "stop"}]}']
        for bad in bads:
            self.fake.clear()
            self.fake.script(raw(bad))
            self.chat_error({"query": "Tell me about lava"}, 502, "PROVIDER_BAD_ANSWER")
            self.assertEqual(len(self.fake.seen()), 1, bad)
        self.assertKeyNotLogged()

    def test_reset_mid_body_then_success(self):
        self.fake.script(reset(), answer("Recovered after a reset."))
        j = self.chat({"query": "Tell me about magma", "documentId": self.doc_id})
        self.assertEqual(j["response"], "Recovered after a reset.")
        reqs = self.fake.seen()
        self.assertEqual(len(reqs), 2, reqs)
        self.assertEqual(reqs[0].sent[-1][1], "reset")

    def test_connection_dropped_before_any_answer_is_retried(self):
        self.fake.script(drop(), drop(), answer("Third connection worked."))
        j = self.chat({"query": "Tell me about lava"})
        self.assertEqual(j["response"], "Third connection worked.")
        self.assertEqual([r.behaviour for r in self.fake.seen()], ["drop", "drop", "answer"])
        self.fake.clear()
        self.fake.default = drop()
        self.chat_error({"query": "Tell me about lava"}, 502, "PROVIDER_ERROR")
        # max_attempts (3) attempts; libcurl itself sends a request once more
        # on a fresh connection when a reused one dies before any answer,
        # so the fake may count up to one extra request per attempt.
        self.assertTrue(3 <= len(self.fake.seen()) <= 6, self.fake.seen())

    def test_retry_after_beyond_the_deadline_is_not_waited_for(self):
        # Retry-After 600 s cannot be honoured within the 20 s deadline: the
        # call ends at once with the 429 (a wait until the deadline would
        # be a 504).
        self.fake.script(status(429, {"Retry-After": "600"}))
        self.chat_error({"query": "Tell me about lava"}, 502, "PROVIDER_ERROR")
        self.assertEqual([r.status for r in self.fake.seen()], [429])

    def test_one_worker_holds_many_model_calls_at_once(self):
        # No answer leaves the fake before all N calls are in flight at the
        # same time (or 10 s passed): a worker that waited for each call
        # in turn would never get there.
        n = 4
        self.fake.default = hold(lambda f: len(f.seen()) >= n, timeout=10,
                                 then=answer("Answered together."))
        results = [None] * n

        def one(i):
            results[i] = self.post(CHAT, {"query": "Question number %d about lava" % i})

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for st, j in results:
            self.assertEqual((st, j["response"]), (200, "Answered together."), j)
        reqs = self.fake.seen()
        self.assertEqual(len(reqs), n)
        last_arrival = max(r.t for r in reqs)
        first_answer = min(r.sent[0][0] for r in reqs)
        self.assertLess(last_arrival, first_answer,
                        "the calls were made one after the other, not at once")

    def test_upstream_error_echoing_the_key_is_not_logged_nor_shown(self):
        # A provider whose error message quotes the key it was given.
        echo = {"error": {"code": 400, "message": "API key %s is not valid" % KEY,
                          "status": "INVALID_ARGUMENT"}}
        self.fake.script(status(400, body=echo))
        self.chat_error({"query": "Tell me about lava"}, 502, "PROVIDER_ERROR")
        self.assertEqual(len(self.fake.seen()), 1)
        self.assertKeyNotLogged(mentions="is not valid")  # the message was logged, the key not

    def test_client_gone_cancels_the_model_call(self):
        self.fake.script(sleep(30))
        sock = self.s.srv.socket(timeout=10)
        try:
            body = json.dumps({"query": "Tell me about the Ring of Fire"}).encode()
            head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                    % (CHAT, self.s.token("owner"), len(body)))
            sock.sendall(head.encode() + body)
            reqs = self.fake.wait_requests(1, timeout=15)
            self.assertEqual(len(reqs), 1, "the model was never called")
        finally:
            sock.close()
        # The plugin closes its connection to the model soon after.
        self.assertTrue(reqs[0].disconnected.wait(5),
                        "the model call was not cancelled when the client went away")
        self.assertIsNone(reqs[0].status)
        # And the server stays healthy.
        self.assertTrue(self.s.srv.wait_ok("/health", timeout=5))
        j = self.chat({"query": "Tell me about the Ring of Fire"})
        self.assertEqual(j["response"], "The fake model's answer.")

    # -- quiz

    def test_quiz_written_and_judged_by_the_model(self):
        self.fake.default = answer(brain)
        j = self.chat({"query": "start quiz", "documentId": self.doc_id})
        tid = j["thread_id"]
        self.assertTrue(j["quiz_active"], j)
        self.assertFalse(j["quiz_complete"])
        self.assertEqual(j["active_quiz_thread_id"], tid)
        self.assertEqual(j["provider"], self.KIND)
        text = j["response"]
        self.assertIn("Question 1 of 5: " + QUIZ[0][0], text)
        for k, opt in enumerate(QUIZ[0][1]):
            self.assertIn("%s) %s" % ("ABCD"[k], opt), text)

        reqs = self.fake.seen()
        self.assertEqual(len(reqs), 1, reqs)
        r = reqs[0]
        self.assertWellSent(r)
        self.assertTrue(r.json_mode(), r.body)
        if self.KIND == "gemini":
            props = (r.schema() or {}).get("properties") or {}
            self.assertIn("questions", props, r.schema())
        else:
            self.assertEqual(r.body["response_format"], {"type": "json_object"})
        self.assertIn(LAVA, norm(r.all_text()))  # written from the document

        # Q1 right by letter, Q2 wrong, Q3 in free text (judged by the
        # model), Q4 right as "c)", Q5 wrong: 3 of 5.
        j = self.chat({"query": "B", "thread_id": tid})
        self.assertTrue(j["response"].startswith("Correct!"), j["response"])
        self.assertIn("Question 2 of 5: " + QUIZ[1][0], j["response"])

        j = self.chat({"query": "D", "thread_id": tid})
        self.assertIn("Not quite: the answer is A) Sicily in Italy", j["response"])
        self.assertIn(QUIZ[1][3], j["response"])
        self.assertIn("Question 3 of 5: " + QUIZ[2][0], j["response"])
        self.assertTrue(j["quiz_active"])

        n_before = len(self.fake.seen())
        j = self.chat({"query": FREE_ANSWER, "thread_id": tid})
        judge = self.fake.seen()[n_before:]
        self.assertEqual(len(judge), 1, judge)
        self.assertTrue(judge[0].json_mode(), judge[0].body)
        self.assertTrue(is_judge(judge[0]), judge[0].body)
        self.assertIn(FREE_ANSWER, judge[0].all_text())
        self.assertIn(QUIZ[2][1][FREE_JUDGED], judge[0].all_text())
        self.assertTrue(j["response"].startswith("Correct!"), j["response"])
        self.assertIn("Question 4 of 5: " + QUIZ[3][0], j["response"])

        j = self.chat({"query": "c)", "thread_id": tid})
        self.assertTrue(j["response"].startswith("Correct!"), j["response"])
        self.assertIn("Question 5 of 5: " + QUIZ[4][0], j["response"])

        j = self.chat({"query": "A", "thread_id": tid})
        self.assertIn("Not quite: the answer is B) Magma deep below them", j["response"])
        self.assertIn("You got 3 of 5 right.", j["response"])
        self.assertTrue(j["quiz_complete"], j)
        self.assertFalse(j["quiz_active"])
        self.assertIsNone(j["active_quiz_thread_id"])
        # Letters were judged without the model.
        self.assertEqual(len(self.fake.seen()), n_before + 1)
        self.assertEqual(len(self.history(tid)), 12)

    def test_quiz_with_an_unusable_model_answer_is_502(self):
        self.fake.script(answer("Sorry, I cannot write a quiz today."))
        self.chat_error({"query": "start quiz", "documentId": self.doc_id}, 502,
                        "PROVIDER_BAD_ANSWER")

    # -- answer formulation

    def test_refine_and_edit_with_the_model(self):
        refined = "The water cycle is when water evaporates, and I think it then rains."
        self.fake.script(answer("  " + refined + "\n"))
        question = "What is the water cycle?"
        st, b = self.post(REFINE, {"transcript": MESSY, "question": question})
        self.assertEqual(st, 200, b)
        self.assertEqual((b["refined_answer"], b["provider"], b["status"], b["iteration_count"]),
                         (refined, self.KIND, "refined", 1))
        self.assertRegex(b["session_id"], UUID_RE)
        r = self.fake.seen()[0]
        self.assertWellSent(r)
        self.assertIn(MESSY, r.all_text())
        self.assertIn(question, r.all_text())

        edited = "The water cycle is when water evaporates, and then it falls as rain."
        command = "say that it falls as rain and drop I think"
        self.fake.script(answer(edited))
        st, e = self.post(EDIT, {"session_id": b["session_id"], "edit_command": command})
        self.assertEqual(st, 200, e)
        self.assertEqual((e["refined_answer"], e["provider"], e["status"], e["iteration_count"],
                          e["session_id"]), (edited, self.KIND, "edited", 2, b["session_id"]))
        r = self.fake.seen()[1]
        self.assertIn(refined, r.all_text())
        self.assertIn(command, r.all_text())

    def test_refine_and_edit_when_the_model_fails_are_502(self):
        self.fake.script(status(401))
        st, b = self.post(REFINE, {"transcript": MESSY})
        self.assertEqual((st, b.get("code")), (502, "PROVIDER_ERROR"), b)
        self.assertEqual(len(self.fake.seen()), 1)
        self.assertKeyNotLogged()
        # A failed edit leaves the session as it was.
        st, b = self.post(REFINE, {"transcript": MESSY})
        self.assertEqual(st, 200, b)
        self.fake.default = status(503)
        st, e = self.post(EDIT, {"session_id": b["session_id"], "edit_command": "shorter"})
        self.assertEqual((st, e.get("code")), (502, "PROVIDER_ERROR"), e)
        self.fake.default = answer("Shorter text.")
        st, e = self.post(EDIT, {"session_id": b["session_id"], "edit_command": "shorter"})
        self.assertEqual(st, 200, e)
        self.assertEqual((e["refined_answer"], e["iteration_count"]), ("Shorter text.", 2))

    # -- isolation

    def test_threads_are_per_user(self):
        self.fake.script(answer("Lava is melted rock outside a volcano."))
        j = self.chat({"query": Q_LAVA, "documentId": self.doc_id})
        tid = j["thread_id"]
        self.fake.script(answer("Hello, how can I help?"))
        j2 = self.chat({"query": "hello again", "thread_id": tid}, uid="intruder")
        self.assertNotEqual(j2["thread_id"], tid)
        self.assertIsNone(j2["document_id"])
        self.assertEqual([t["content"] for t in j2["conversation_history"]],
                         ["hello again", "Hello, how can I help?"])
        r = self.fake.seen()[1]
        self.assertEqual([t[0] for t in r.turns()], ["user"])
        self.assertNotIn(Q_LAVA, r.all_text())
        self.assertNotIn("magma", r.all_text())
        st, e = self.s.json("GET", HISTORY + "?thread_id=" + tid, uid="intruder")
        self.assertEqual((st, e["code"]), (404, "NOT_FOUND"), e)
        self.assertEqual(len(self.history(tid)), 2)


class GeminiProviders(_Providers, lxtest.TestCase):
    KIND = "gemini"
    MODEL = lxfakellm.GEMINI_MODEL


class OpenAIProviders(_Providers, lxtest.TestCase):
    KIND = "openai"
    MODEL = lxfakellm.OPENAI_MODEL


class Failures(lxtest.TestCase):
    def test_provider_down_is_502_after_the_attempts(self):
        fake = FakeLLM()
        self.addCleanup(fake.close)
        cfg = provider_cfg("openai", fake)
        cfg["openai"]["base_url"] = "http://127.0.0.1:%d/v1" % lxkeys.closed_port()
        s = tutor_server(self, tutor_cfg=cfg)
        st, _, out = s.request("POST", CHAT, body={"query": "Tell me about lava"})
        self.assertJsonError(st, out, 502, "PROVIDER_ERROR")
        self.assertTrue(s.srv.wait_ok("/health", timeout=5))
        self.assertNotIn(KEY, s.srv.output())

    def test_openai_compatible_server_without_a_key(self):
        # A local server (Ollama, llama.cpp) needs no key: none is sent.
        fake = FakeLLM(key=None, default=answer("Local model here."))
        self.addCleanup(fake.close)
        s = tutor_server(self, tutor_cfg=provider_cfg("openai", fake, openai_key=""))
        st, j = s.json("POST", CHAT, body={"query": "What is a volcano?"})
        self.assertEqual((st, j["response"], j["provider"]), (200, "Local model here.", "openai"),
                         j)
        r = fake.seen()[0]
        self.assertEqual(r.kind, "openai")
        self.assertNotIn("authorization", r.headers)


class Deadline(lxtest.TestCase):
    def test_slower_than_the_deadline_is_504(self):
        for kind in ("gemini", "openai"):
            with self.subTest(kind=kind):
                fake = FakeLLM(default=sleep(5))
                self.addCleanup(fake.close)
                s = tutor_server(self, tutor_cfg=provider_cfg(kind, fake, deadline="2s"))
                st, _, out = s.request("POST", CHAT, body={"query": "Tell me about lava"})
                self.assertJsonError(st, out, 504, "PROVIDER_TIMEOUT")
                self.assertNotIn(KEY.encode(), out)
                reqs = fake.seen()
                self.assertGreaterEqual(len(reqs), 1)
                self.assertEqual(reqs[0].kind, kind)
                # The attempt in flight was abandoned, not left open.
                self.assertTrue(reqs[-1].disconnected.wait(5))
                self.assertNotIn(KEY, s.srv.output())
                s.close()


class AutoProvider(lxtest.TestCase):
    def test_auto_picks_gemini_then_openai_then_offline(self):
        for gkey, okey, want in ((KEY, KEY, "gemini"), ("", KEY, "openai"), ("", "", "offline")):
            with self.subTest(want=want):
                fake = FakeLLM(default=answer("From the fake."))
                self.addCleanup(fake.close)
                s = tutor_server(self, tutor_cfg=provider_cfg("auto", fake, gemini_key=gkey,
                                                              openai_key=okey))
                st, j = s.json("POST", CHAT, body={"query": "What is a volcano?"})
                self.assertEqual(st, 200, j)
                self.assertEqual(j["provider"], want)
                kinds = [r.kind for r in fake.seen()]
                self.assertEqual(kinds, [] if want == "offline" else [want])
                if want != "offline":
                    self.assertEqual(j["response"], "From the fake.")
                s.close()


if __name__ == "__main__":
    lxtest.main()
