#!/usr/bin/env python3
"""Answer formulation (plugins/tutoring/answer.c) with the offline
provider: POST /api/v2/answer-formulation/refine and /edit on the real
binary with real RS256 tokens (lxtutor.py); sessions kept in storage
through storage.v1, scoped to the user, surviving a restart. SQLite by
default; LX_TEST_STORAGE=postgres runs the same tests on PostgreSQL."""

import re

import lxtest
from lxtutor import tutor_server

REFINE = "/api/v2/answer-formulation/refine"
EDIT = "/api/v2/answer-formulation/edit"
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

MESSY = ("um so the the water cycle uh is when water evaporates and i think i think "
         "it rains")
CLEAN = "So the water cycle is when water evaporates and I think it rains."

REFINE_FIELDS = {"refined_answer", "session_id", "status", "fidelity_score", "iteration_count",
                 "audio_content_base64", "timepoints", "provider", "reading_level"}


def words(text):
    return re.findall(r"[A-Za-z0-9'-]+", text.lower())


def is_subsequence(small, big):
    it = iter(big)
    return all(w in it for w in small)


class AnswerCase(lxtest.TestCase):

    def refine(self, s, transcript, uid="u1", **extra):
        body = {"transcript": transcript}
        body.update(extra)
        return s.json("POST", REFINE, uid=uid, body=body)

    def edit(self, s, session_id, command, uid="u1"):
        return s.json("POST", EDIT, uid=uid, body={"session_id": session_id,
                                                   "edit_command": command})

    def assertError(self, got, status, code=None, mentions=None):
        st, body = got
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertIsInstance(body.get("error"), str, body)
        self.assertTrue(body["error"], body)
        if code is not None:
            self.assertEqual(body.get("code"), code, body)
        if mentions is not None:
            self.assertIn(mentions, body["error"], body)
        return body

    def assertRefined(self, body, iteration_count, status="refined"):
        want = set(REFINE_FIELDS)
        if status == "edited":
            want.discard("fidelity_score")
        self.assertEqual(set(body), want, body)
        self.assertEqual(body["status"], status)
        self.assertEqual(body["iteration_count"], iteration_count)
        self.assertRegex(body["session_id"], UUID_RE)
        self.assertIsNone(body["audio_content_base64"])
        self.assertIsNone(body["timepoints"])
        if status == "refined":
            self.assertIsNone(body["fidelity_score"])
        self.assertEqual(body["provider"], "offline")
        level = body["reading_level"]
        self.assertIsInstance(level, (int, float), body)
        self.assertTrue(0 <= level <= 18, body)
        self.assertEqual(round(level, 1), level, body)

    # ------------------------------------------------------------ refine

    def test_refine_cleans_a_messy_transcript_without_adding_words(self):
        s = tutor_server(self)
        st, body = self.refine(s, MESSY, question="What is the water cycle?")
        self.assertEqual(st, 200, body)
        self.assertRefined(body, 1)
        out = body["refined_answer"]
        self.assertEqual(out, CLEAN)
        low = " " + out.lower() + " "
        for filler in (" um ", " uh "):
            self.assertNotIn(filler, low)
        self.assertNotIn("the the", low)
        self.assertNotIn("i think i think", low)
        self.assertIn(" I think", out)
        self.assertTrue(out[0].isupper(), out)
        self.assertTrue(out.endswith("."), out)
        # Words are only removed, never added or reordered.
        self.assertTrue(is_subsequence(words(out), words(MESSY)), out)
        # A short, plain answer reads at a low grade.
        self.assertLess(body["reading_level"], 12)

    def test_refine_word_limits_and_bad_bodies(self):
        s = tutor_server(self)
        self.assertError(self.refine(s, "one two three four"), 400, "TRANSCRIPT_TOO_SHORT",
                         "5 words")
        self.assertError(self.refine(s, " ".join(["word"] * 2001)), 400,
                         "TRANSCRIPT_TOO_LONG", "2000 words")
        self.assertError(self.refine(s, ""), 400, "TRANSCRIPT_REQUIRED")
        self.assertError(self.refine(s, "   \n "), 400, "TRANSCRIPT_REQUIRED")
        self.assertError(s.json("POST", REFINE, body={"question": "why?"}), 400,
                         "TRANSCRIPT_REQUIRED")
        self.assertError(s.json("POST", REFINE, body={"transcript": 42}), 400,
                         "INVALID_REQUEST")
        self.assertError(self.refine(s, MESSY, question="x" * 1001), 400, "QUESTION_TOO_LONG")
        # The limits themselves are allowed.
        st, body = self.refine(s, "one two three four five")
        self.assertEqual(st, 200, body)
        self.assertEqual(body["refined_answer"], "One two three four five.")
        st, body = self.refine(s, " ".join(["word"] * 2000), question="q" * 1000)
        self.assertEqual(st, 200, body)
        self.assertEqual(len(words(body["refined_answer"])), 1)  # repeats collapse
        # JSON only.
        st, _, raw = s.request("POST", REFINE, body=b"transcript=a+b+c+d+e",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertJsonError(st, raw, 415, "UNSUPPORTED_MEDIA_TYPE")
        st, _, raw = s.request("POST", REFINE, body=b'{"transcript": "a b c d e"',
                               headers={"Content-Type": "application/json"})
        self.assertJsonError(st, raw, 400, "INVALID_JSON")
        st, _, raw = s.request("POST", REFINE, body=b'["a b c d e"]',
                               headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertJsonError(st, raw, 400, "INVALID_JSON")
        # Signed in only.
        st, _, raw = s.request("POST", REFINE, uid=None, body={"transcript": MESSY})
        self.assertEqual(st, 401, raw)

    def test_session_continues_with_its_id(self):
        s = tutor_server(self)
        st, first = self.refine(s, MESSY)
        self.assertEqual(st, 200, first)
        sid = first["session_id"]
        st, second = self.refine(s, "so plants um need light to to make food", session_id=sid)
        self.assertEqual(st, 200, second)
        self.assertRefined(second, 2)
        self.assertEqual(second["session_id"], sid)
        self.assertEqual(second["refined_answer"], "So plants need light to make food.")
        # An unknown id starts a new session, as the original does.
        st, other = self.refine(s, MESSY, session_id="no-such-session")
        self.assertEqual(st, 200, other)
        self.assertRefined(other, 1)
        self.assertNotEqual(other["session_id"], sid)
        # Another user's id is as unknown: a new session of u2; u1's is untouched.
        st, theirs = self.refine(s, MESSY, uid="u2", session_id=sid)
        self.assertEqual(st, 200, theirs)
        self.assertRefined(theirs, 1)
        self.assertNotEqual(theirs["session_id"], sid)
        st, again = self.refine(s, MESSY, session_id=sid)
        self.assertEqual(st, 200, again)
        self.assertEqual((again["session_id"], again["iteration_count"]), (sid, 3))

    # ------------------------------------------------------------ edit

    def test_edit_applies_commands_and_rejects_what_it_cannot_do(self):
        s = tutor_server(self)
        st, body = self.refine(s, MESSY)
        self.assertEqual(st, 200, body)
        sid = body["session_id"]
        st, ed = self.edit(s, sid, "replace rains with falls as rain")
        self.assertEqual(st, 200, ed)
        self.assertRefined(ed, 2, status="edited")
        self.assertEqual(ed["session_id"], sid)
        self.assertEqual(ed["refined_answer"],
                         "So the water cycle is when water evaporates and I think it falls as "
                         "rain.")
        # Edits build on each other.
        st, ed2 = self.edit(s, sid, "delete I think")
        self.assertEqual(st, 200, ed2)
        self.assertEqual(ed2["iteration_count"], 3)
        self.assertNotIn("I think", ed2["refined_answer"])
        self.assertIn("falls as rain", ed2["refined_answer"])
        # Not understood, or nothing to change: 400 with a message; the text stays.
        self.assertError(self.edit(s, sid, "make it sound more clever please"), 400,
                         "EDIT_NEEDS_MODEL", "needs a language model")
        self.assertError(self.edit(s, sid, "do a little dance"), 400, "EDIT_NOT_UNDERSTOOD",
                         "Try, for example")
        self.assertError(self.edit(s, sid, "replace dinosaurs with cats"), 400,
                         "EDIT_NOT_UNDERSTOOD")
        st, ed3 = self.edit(s, sid, "change water cycle to rain cycle")
        self.assertEqual(st, 200, ed3)
        self.assertEqual(ed3["iteration_count"], 4)
        self.assertIn("rain cycle", ed3["refined_answer"])
        self.assertIn("falls as rain", ed3["refined_answer"])

    def test_edit_understands_the_frontend_examples_offline(self):
        # VoiceEditMode's own examples, sent as the frontend sends them
        # (useAnswerFormulation.editAnswer: {session_id, edit_command}); it
        # shows refined_answer, or response.data.error when it fails.
        s = tutor_server(self)
        st, body = self.refine(s, "the colonists were upset about taxes so they threw tea "
                                  "into the harbor at the boston tea party and it was very "
                                  "very important", question="Why did the Boston Tea Party "
                                                             "happen?")
        self.assertEqual(st, 200, body)
        sid = body["session_id"]
        text = body["refined_answer"]
        self.assertIn("upset", text)
        st, ed = self.edit(s, sid, "Change 'upset' to 'angry'")
        self.assertEqual(st, 200, ed)
        self.assertIn("angry about taxes", ed["refined_answer"])
        st, ed = self.edit(s, sid, "Add 'in 1773' after 'boston tea party'")
        self.assertEqual(st, 200, ed)
        self.assertIn("boston tea party in 1773", ed["refined_answer"].lower())
        st, ed = self.edit(s, sid, "Remove the word 'very'")
        self.assertEqual(st, 200, ed)
        self.assertNotIn("very", ed["refined_answer"])
        st, ed = self.edit(s, sid, "Split the first sentence after 'taxes'")
        self.assertEqual(st, 200, ed)
        self.assertTrue(ed["refined_answer"].startswith("The colonists were angry about taxes. "),
                        ed)
        st, ed = self.edit(s, sid, "Move the sentence about taxes to the end")
        self.assertEqual(st, 200, ed)
        self.assertTrue(ed["refined_answer"].endswith("angry about taxes."), ed)
        self.assertEqual(ed["iteration_count"], 6)
        body = self.assertError(self.edit(s, sid, "Rephrase the second sentence"), 400,
                                "EDIT_NEEDS_MODEL")
        for word in ("language model", "Gemini", "OpenAI", "Remove the word 'very'"):
            self.assertIn(word, body["error"])

    def test_edit_is_scoped_to_the_user_and_needs_its_fields(self):
        s = tutor_server(self)
        st, body = self.refine(s, MESSY)
        self.assertEqual(st, 200, body)
        sid = body["session_id"]
        self.assertError(self.edit(s, sid, "replace rains with falls", uid="u2"), 404,
                         "NOT_FOUND", "Session not found or expired")
        self.assertError(self.edit(s, "2b9e5c7e-0000-4000-8000-000000000000", "delete so"),
                         404, "NOT_FOUND", "Session not found or expired")
        self.assertError(self.edit(s, "x" * 300, "delete so"), 404, "NOT_FOUND")
        self.assertError(s.json("POST", EDIT, body={"edit_command": "delete so"}), 400,
                         "INVALID_REQUEST", "session_id")
        self.assertError(s.json("POST", EDIT, body={"session_id": sid}), 400,
                         "INVALID_REQUEST", "edit_command")
        self.assertError(self.edit(s, sid, "   "), 400, "INVALID_REQUEST", "edit_command")
        self.assertError(self.edit(s, "", "delete so"), 400, "INVALID_REQUEST", "session_id")
        st, _, raw = s.request("POST", EDIT, body=b"session_id=1",
                               headers={"Content-Type": "text/plain"})
        self.assertJsonError(st, raw, 415, "UNSUPPORTED_MEDIA_TYPE")
        # u2's failed attempt changed nothing of u1's session.
        st, ed = self.edit(s, sid, "replace rains with falls")
        self.assertEqual(st, 200, ed)
        self.assertEqual(ed["iteration_count"], 2)

    # ------------------------------------------------------------ state

    def test_sessions_survive_a_restart(self):
        s = tutor_server(self)
        st, body = self.refine(s, MESSY, question="What is the water cycle?")
        self.assertEqual(st, 200, body)
        sid = body["session_id"]
        st, ed = self.edit(s, sid, "replace rains with falls as rain")
        self.assertEqual(st, 200, ed)
        s.restart()
        st, ed2 = self.edit(s, sid, "add It happens every day at the end")
        self.assertEqual(st, 200, ed2)
        self.assertEqual(ed2["iteration_count"], 3)
        self.assertTrue(ed2["refined_answer"].startswith(
            "So the water cycle is when water evaporates and I think it falls as rain."),
            ed2)
        self.assertIn("It happens every day", ed2["refined_answer"])
        st, again = self.refine(s, MESSY, session_id=sid)
        self.assertEqual(st, 200, again)
        self.assertEqual((again["session_id"], again["iteration_count"]), (sid, 4))
        self.assertError(self.edit(s, sid, "delete so", uid="u2"), 404, "NOT_FOUND")

    def test_progress_counts_answer_activity(self):
        s = tutor_server(self)
        st, body = self.refine(s, MESSY, uid="p1")
        self.assertEqual(st, 200, body)
        st, body = self.refine(s, MESSY, uid="p1", session_id=body["session_id"])
        self.assertEqual(st, 200, body)
        st, ed = self.edit(s, body["session_id"], "delete so", uid="p1")
        self.assertEqual(st, 200, ed)
        self.assertError(self.refine(s, "too short", uid="p1"), 400)
        st, prog = s.json("GET", "/api/progress", uid="p1")
        self.assertEqual(st, 200, prog)
        data = prog["data"]
        self.assertEqual(data["answers"], 2)  # refines only; edits and errors add none
        self.assertEqual(data["points"], 4)
        self.assertEqual(data["active_days"], 1)
        st, other = s.json("GET", "/api/progress", uid="p2")
        self.assertEqual(st, 200, other)
        self.assertEqual(other["data"]["answers"], 0)


if __name__ == "__main__":
    lxtest.main()
