#!/usr/bin/env python3
"""The storage plugin's account, feedback, admin and progress routes over
HTTP, against the real binary with real RS256 tokens (lxstorage.py):
POST /api/users/init, GET and PUT /api/users/profile (defaults, partial
merges, validation naming the field), POST /api/feedback, the admin routes
(stats, users with page tokens, feedback with filters and pagination),
GET /api/progress, and DELETE /api/users removing everything of one user
and nothing of another. SQLite by default; LX_TEST_STORAGE=postgres runs
the same tests on PostgreSQL."""

import datetime
import json
import os
import sqlite3
import threading
import urllib.parse

import lxkeys
import lxstorage
import lxtest
from lxstorage import BACKEND, StorageServer

DEFAULT_PREFS = {
    "fontSize": 16, "fontFamily": "OpenDyslexic", "lineSpacing": 1.5, "wordSpacing": 1.2,
    "textColor": "#000000", "backgroundColor": "#f8f9fa", "highContrast": False,
    "uiTtsEnabled": True, "ttsVoice": "en-US-Wavenet-D", "ttsSpeed": 1.0, "ttsPitch": 0,
    "cloudTtsEnabled": False, "cloudTtsVoice": "en-US-Neural2-F",
    "answerFormulationAutoPause": False, "answerFormulationSessionsCompleted": 0,
    "answerFormulationAutoPauseSuggestionDismissed": False,
    "answerFormulationOnboardingCompleted": False,
}

ADMIN_ROUTES = ["/api/admin/stats", "/api/admin/users", "/api/admin/feedback"]


def today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def no_email_token(uid):
    """A real token without an email claim."""
    return lxkeys.token(payload=lxkeys.claims(sub=uid, user_id=uid, email=None,
                                              email_verified=None))


class StorageCase(lxtest.TestCase):
    """Helpers over a StorageServer."""

    def call(self, s, method, path, uid="u1", body=None, token=None, raw=None):
        """(status, parsed JSON or None); raw: a body sent as is."""
        if raw is not None:
            status, _, data = s.request(method, path, uid=uid, body=raw, token=token,
                                        headers={"Content-Type": "application/json"})
        else:
            status, _, data = s.request(method, path, uid=uid, body=body, token=token)
        return status, (lxtest.parse_json(data) if data else None)

    def admin(self, s, path):
        return self.call(s, "GET", path, token=s.token("boss", email="admin@example.com"))

    def profile(self, s, uid):
        status, j = self.call(s, "GET", "/api/users/profile", uid=uid)
        self.assertEqual(status, 200, j)
        self.assertEqual(j["status"], "success")
        return j["data"]

    def put(self, s, uid, body):
        status, j = self.call(s, "PUT", "/api/users/profile", uid=uid, body=body)
        self.assertEqual(status, 200, (body, j))
        self.assertEqual((j["status"], j["message"]), ("success", "Profile updated"))
        # A new display name also goes to the sign-in account: these
        # servers have no account management, and the reply says so.
        if "displayName" in body:
            self.assertIs(j["displayNameSynced"], False, j)
            self.assertTrue(j["warning"], j)
        else:
            self.assertEqual(set(j), {"status", "message"}, j)

    def init(self, s, uid, created=True):
        status, j = self.call(s, "POST", "/api/users/init", uid=uid)
        self.assertEqual(status, 200, j)
        self.assertEqual((j["status"], j["created"]), ("success", created), j)
        self.assertIsInstance(j["message"], str)

    def upload_txt(self, s, uid, name, text):
        status, j = s.upload(name + ".txt", text.encode(), uid=uid, name=name, mime="text/plain")
        self.assertIn(status, (200, 201), j)
        self.assertTrue(j.get("document_id"), j)
        return j["document_id"]

    def feedback(self, s, uid, body):
        status, j = self.call(s, "POST", "/api/feedback", uid=uid, body=body)
        self.assertEqual(status, 201, (body, j))
        self.assertEqual(j["status"], "success")
        self.assertEqual(len(j["feedback_id"]), 36, j)
        return j["feedback_id"]

    def admin_user_ids(self, s):
        """Every uid of GET /api/admin/users, following page tokens: the
        users lexiaid stores (these servers have no account management,
        so the list falls back to them)."""
        uids, tok = [], None
        for _ in range(50):
            q = "/api/admin/users?limit=100" + ("&page_token=" + urllib.parse.quote(tok)
                                                if tok else "")
            status, j = self.admin(s, q)
            self.assertEqual(status, 200, j)
            uids += [u["uid"] for u in j["data"]["users"]]
            tok = j["data"]["pagination"]["page_token"]
            if not j["data"]["pagination"]["has_more"]:
                return uids
        self.fail("page tokens never ended")


# ---------------------------------------------------------------- profiles

class TestStorageProfile(StorageCase):

    @classmethod
    def setUpClass(cls):
        cls.s = StorageServer(None)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_storage_users_init_creates_then_finds(self):
        s = self.s
        self.init(s, "init1", created=True)
        self.init(s, "init1", created=False)
        d = self.profile(s, "init1")
        self.assertEqual((d["uid"], d["email"], d["displayName"]),
                         ("init1", "init1@example.com", "User One"))
        self.assertTrue(d["createdAt"].endswith("Z"), d)
        self.assertTrue(d["lastLogin"], d)
        self.assertIs(d["emailVerified"], True)

    def test_storage_users_init_without_email_is_400(self):
        status, j = self.call(self.s, "POST", "/api/users/init", token=no_email_token("noem"))
        self.assertEqual(status, 400, j)
        self.assertEqual(j["code"], "EMAIL_REQUIRED")
        self.assertIn("error", j)
        status, j = self.call(self.s, "POST", "/api/users/init", uid=None)
        self.assertEqual((status, j["code"]), (401, "UNAUTHENTICATED"))

    def test_storage_users_profile_without_row_is_defaults_and_writes_nothing(self):
        s = self.s
        d = self.profile(s, "fresh1")
        self.assertEqual(d["uid"], "fresh1")
        self.assertEqual(d["email"], "fresh1@example.com")
        self.assertEqual(d["displayName"], "User One")
        self.assertIs(d["emailVerified"], True)
        self.assertEqual(d["preferences"], DEFAULT_PREFS)
        self.assertEqual(d["gamification"], {"points": 0, "streak": 0, "level": 1, "badges": []})
        self.assertNotIn("dateOfBirth", d)
        self.assertNotIn("schoolContext", d)
        self.assertIs(d["visualImpairment"], False)
        self.assertIs(d["adaptToAge"], False)
        self.assertIsNone(d["createdAt"])
        # Nothing was written: lexiaid does not know the user yet.
        self.assertNotIn("fresh1", self.admin_user_ids(s))
        self.init(s, "fresh1", created=True)

    def test_storage_users_profile_after_init_and_put(self):
        s = self.s
        self.init(s, "full1")
        d = self.profile(s, "full1")
        self.assertEqual(d["preferences"], DEFAULT_PREFS)
        self.assertNotIn("dateOfBirth", d)
        # What the settings page sends: every preference at once.
        prefs = {"fontSize": 22, "fontFamily": "Inter", "lineSpacing": 2.25,
                 "wordSpacing": 0.5, "textColor": "#123", "backgroundColor": "#AbCdEf",
                 "highContrast": True, "uiTtsEnabled": False, "ttsVoice": "en-GB-Standard-A",
                 "ttsSpeed": 2, "ttsPitch": -20, "cloudTtsEnabled": True,
                 "cloudTtsVoice": "en-US-Neural2-C", "ttsDelay": 750,
                 "answerFormulationAutoPause": True, "answerFormulationPauseDuration": 3.5,
                 "answerFormulationSessionsCompleted": 4,
                 "answerFormulationAutoPauseSuggestionDismissed": True,
                 "answerFormulationOnboardingCompleted": True}
        self.put(s, "full1", {"preferences": prefs})
        self.put(s, "full1", {"dateOfBirth": "2012-02-29", "visualImpairment": True,
                              "schoolContext": "Year 7, Escola Ünïcode", "adaptToAge": True})
        d = self.profile(s, "full1")
        self.assertEqual(d["preferences"], prefs)
        self.assertEqual(d["dateOfBirth"], "2012-02-29")
        self.assertEqual(d["schoolContext"], "Year 7, Escola Ünïcode")
        self.assertIs(d["visualImpairment"], True)
        self.assertIs(d["adaptToAge"], True)
        # A restart keeps it.
        s.restart()
        self.assertEqual(self.profile(s, "full1"), d)

    def test_storage_users_fonts_the_frontend_offers_are_accepted(self):
        # The settings page offers Inter, OpenDyslexic, Arial and Verdana;
        # AuthContext sends the whole preferences object each time.
        s = self.s
        self.init(s, "fonts1")
        for font in ("Inter", "OpenDyslexic", "Arial", "Verdana"):
            self.put(s, "fonts1", {"preferences": dict(DEFAULT_PREFS, fontFamily=font)})
            self.assertEqual(self.profile(s, "fonts1")["preferences"]["fontFamily"], font)
        status, j = self.call(s, "PUT", "/api/users/profile", uid="fonts1",
                              body={"preferences": {"fontFamily": "Papyrus"}})
        self.assertEqual((status, j["field"]), (400, "preferences.fontFamily"), j)
        self.assertIn("Verdana", j["error"])

    def test_storage_users_put_without_init_creates_the_row(self):
        s = self.s
        self.put(s, "putfirst", {"preferences": {"fontSize": 12}})
        d = self.profile(s, "putfirst")
        self.assertEqual(d["preferences"]["fontSize"], 12)
        self.assertTrue(d["createdAt"])
        self.assertIn("putfirst", self.admin_user_ids(s))
        self.init(s, "putfirst", created=False)

    def test_storage_users_partial_put_merges(self):
        s = self.s
        uid = "merge1"
        self.init(s, uid)
        self.put(s, uid, {"preferences": {"fontSize": 20}})
        self.put(s, uid, {"preferences": {"lineSpacing": 2}})
        d = self.profile(s, uid)
        self.assertEqual(d["preferences"], dict(DEFAULT_PREFS, fontSize=20, lineSpacing=2))
        self.put(s, uid, {"displayName": "  Ana Maria  "})
        d = self.profile(s, uid)
        self.assertEqual(d["displayName"], "Ana Maria")
        self.assertEqual(d["preferences"], dict(DEFAULT_PREFS, fontSize=20, lineSpacing=2))
        self.put(s, uid, {"dateOfBirth": "2011-06-01", "schoolContext": "Year 8",
                          "visualImpairment": False, "adaptToAge": True})
        self.put(s, uid, {"schoolContext": "Year 9"})
        d = self.profile(s, uid)
        self.assertEqual((d["dateOfBirth"], d["schoolContext"], d["adaptToAge"]),
                         ("2011-06-01", "Year 9", True))
        self.assertEqual(d["displayName"], "Ana Maria")
        # Unknown keys are ignored and not stored; null puts a field back
        # to its default.
        self.put(s, uid, {"preferences": {"fontFamily": "Arial", "bogus": {"x": 1},
                                          "fontSize": None},
                          "role": "admin", "email": "evil@example.com"})
        d = self.profile(s, uid)
        self.assertEqual(d["preferences"], dict(DEFAULT_PREFS, lineSpacing=2,
                                                fontFamily="Arial"))
        self.assertEqual(d["email"], "merge1@example.com")
        self.assertNotIn("role", d)
        self.put(s, uid, {"dateOfBirth": None})
        d = self.profile(s, uid)
        self.assertNotIn("dateOfBirth", d)
        self.assertEqual(d["schoolContext"], "Year 9")
        # An empty object changes nothing.
        self.put(s, uid, {})
        self.assertEqual(self.profile(s, uid), d)
        # The name a later token carries does not replace the chosen one.
        status, j = self.call(s, "GET", "/api/users/profile",
                              token=s.token(uid, name="Someone Else"))
        self.assertEqual((status, j["data"]["displayName"]), (200, "Ana Maria"))

    def test_storage_users_put_invalid_fields_are_400_naming_the_field(self):
        s = self.s
        uid = "valid1"
        self.init(s, uid)
        self.put(s, uid, {"preferences": {"fontSize": 18}, "dateOfBirth": "2010-01-02",
                          "schoolContext": "Year 5", "displayName": "Val"})
        before = self.profile(s, uid)
        tomorrow = (today() + datetime.timedelta(days=1)).isoformat()
        bad = {
            "fontSize": [9, 33, 9.99, "16", True, [16], {"v": 16}],
            "fontFamily": ["Comic Sans MS", "verdana", "opendyslexic", 5, ""],
            "lineSpacing": [0.99, 3.01, "1.5"],
            "wordSpacing": [0.49, 2.01, False],
            "textColor": ["red", "#12345", "#ggg", "#1234567", "123456", 0x123456],
            "backgroundColor": ["#fff ", "", "#12"],
            "highContrast": ["yes", 1, 0],
            "uiTtsEnabled": [0, "true"],
            "cloudTtsEnabled": ["false", 1],
            "ttsVoice": ["v" * 101, 7, ["a"]],
            "cloudTtsVoice": ["é" * 101, {"name": "x"}],
            "ttsSpeed": [0.49, 2.01, "1"],
            "ttsPitch": [-20.5, 21, "0"],
            "ttsDelay": [-1, 10001, "100"],
            "answerFormulationAutoPause": ["no", 1],
            "answerFormulationPauseDuration": [0.5, 61, "3"],
            "answerFormulationSessionsCompleted": [-1, 1.5, "3", True],
            "answerFormulationAutoPauseSuggestionDismissed": [1],
            "answerFormulationOnboardingCompleted": ["x"],
        }
        cases = []
        for key, values in bad.items():
            for v in values:
                cases.append(("preferences." + key, {"preferences": {key: v}}))
        cases += [("preferences", {"preferences": "big"}), ("preferences", {"preferences": [1]}),
                  ("preferences", {"preferences": 5})]
        for v in ["", "   ", "x" * 101, "é" * 101, 5, True, "two\nlines", ["Val"]]:
            cases.append(("displayName", {"displayName": v}))
        for v in ["2010-02-30", "2011-02-29", "1899-12-31", "2999-01-01", tomorrow, "2010-1-5",
                  "20100105", 20100105, "2010-13-01", "2010-00-10", "2010-01-00",
                  "2010-01-02T00:00:00Z", "", "２０１０-01-02"]:
            cases.append(("dateOfBirth", {"dateOfBirth": v}))
        for v in ["yes", 1, "true"]:
            cases.append(("visualImpairment", {"visualImpairment": v}))
            cases.append(("adaptToAge", {"adaptToAge": v}))
        for v in ["x" * 201, 5, {"a": 1}]:
            cases.append(("schoolContext", {"schoolContext": v}))
        # A good field beside a bad one: nothing of the body is written.
        cases.append(("preferences.lineSpacing",
                      {"preferences": {"fontSize": 30, "lineSpacing": 9},
                       "displayName": "Changed"}))
        cases.append(("dateOfBirth", {"preferences": {"fontSize": 30}, "dateOfBirth": "nope"}))
        for field, body in cases:
            status, j = self.call(s, "PUT", "/api/users/profile", uid=uid, body=body)
            self.assertEqual(status, 400, (body, j))
            self.assertEqual(j["code"], "INVALID_PROFILE", (body, j))
            self.assertEqual(j["field"], field, (body, j))
            self.assertIn(field, j["error"], (body, j))
        self.assertEqual(self.profile(s, uid), before)
        # The edges are accepted.
        edges = {"fontSize": 32, "lineSpacing": 1, "wordSpacing": 2, "ttsSpeed": 0.5,
                 "ttsPitch": 20, "ttsDelay": 0, "answerFormulationPauseDuration": 60,
                 "answerFormulationSessionsCompleted": 0, "textColor": "#FFF"}
        self.put(s, uid, {"preferences": edges, "displayName": "é" * 100,
                          "dateOfBirth": today().isoformat(), "schoolContext": "s" * 200})
        d = self.profile(s, uid)
        self.assertEqual(d["preferences"], dict(DEFAULT_PREFS, **edges))
        self.assertEqual(d["displayName"], "é" * 100)
        self.assertEqual(d["dateOfBirth"], today().isoformat())
        self.put(s, uid, {"dateOfBirth": "1900-01-01"})
        self.assertEqual(self.profile(s, uid)["dateOfBirth"], "1900-01-01")

    def test_storage_users_put_not_a_json_object_is_400(self):
        s = self.s
        uid = "json1"
        self.put(s, uid, {"preferences": {"fontSize": 25}})
        before = self.profile(s, uid)
        for raw in ["not json", "[1, 2]", '"x"', "5", '{"preferences": {"fontSize": 20}',
                    '{"preferences": {"fontSize": 20}} x', "null"]:
            status, j = self.call(s, "PUT", "/api/users/profile", uid=uid, raw=raw)
            self.assertEqual(status, 400, (raw, j))
            self.assertEqual(j["code"], "INVALID_JSON", (raw, j))
        self.assertEqual(self.profile(s, uid), before)
        status, j = self.call(s, "PUT", "/api/users/profile", uid=None,
                              body={"preferences": {"fontSize": 20}})
        self.assertEqual((status, j["code"]), (401, "UNAUTHENTICATED"))

    def test_storage_users_two_users_profiles_are_separate(self):
        s = self.s
        self.put(s, "sepA", {"preferences": {"fontSize": 30}, "displayName": "A",
                             "dateOfBirth": "2009-09-09", "schoolContext": "School A"})
        self.put(s, "sepB", {"preferences": {"fontSize": 11}, "displayName": "B"})
        a, b = self.profile(s, "sepA"), self.profile(s, "sepB")
        self.assertEqual((a["preferences"]["fontSize"], a["displayName"]), (30, "A"))
        self.assertEqual((b["preferences"]["fontSize"], b["displayName"]), (11, "B"))
        self.assertNotIn("dateOfBirth", b)
        self.assertNotIn("schoolContext", b)
        self.assertEqual((a["email"], b["email"]), ("sepA@example.com", "sepB@example.com"))

    def test_storage_users_concurrent_partial_puts_all_survive(self):
        # Each PUT merges inside the row's transaction: preferences set at
        # the same moment by two workers are all kept, none lost to a
        # read-modify-write race.
        s = StorageServer(self, workers=2)
        uid = "race1"
        self.init(s, uid)
        want = {"fontSize": 21, "lineSpacing": 2.5, "wordSpacing": 1.75, "ttsSpeed": 1.25,
                "ttsPitch": 5, "ttsDelay": 300, "textColor": "#222222",
                "backgroundColor": "#fafafa"}
        results = []

        def one(key):
            status, j = self.call(s, "PUT", "/api/users/profile", uid=uid,
                                  body={"preferences": {key: want[key]}})
            results.append((key, status, j))

        for _ in range(2):
            threads = [threading.Thread(target=one, args=(k,)) for k in want]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        self.assertEqual([r for r in results if r[1] != 200], [])
        self.assertEqual(len(results), 2 * len(want))
        self.assertEqual(self.profile(s, uid)["preferences"], dict(DEFAULT_PREFS, **want))


# ---------------------------------------------------------------- feedback and admin

class TestStorageFeedbackAdmin(StorageCase):

    def test_storage_feedback_created_and_listed_with_filters_and_pagination(self):
        s = StorageServer(self)
        posts = [("fb1", {"type": "bug", "description": "  The button broke  ",
                          "browser_info": "Firefox 130"}),
                 ("fb1", {"type": "bug", "description": "Second bug",
                          "browserInfo": {"userAgent": "X", "w": 1024}}),
                 ("fb2", {"type": "accessibility", "description": "Contrast ✓ too low"}),
                 ("fb2", {"type": "bug", "description": "Third bug", "browser_info": ""}),
                 ("fb3", {"type": "suggestion", "description": "d" * 5000})]
        ids = [self.feedback(s, uid, body) for uid, body in posts]
        self.assertEqual(len(set(ids)), 5)

        status, j = self.admin(s, "/api/admin/feedback")
        self.assertEqual(status, 200, j)
        self.assertIs(j["success"], True)
        self.assertEqual(j["data"]["pagination"],
                         {"total": 5, "limit": 50, "offset": 0, "returned": 5})
        items = {f["id"]: f for f in j["data"]["feedback"]}
        self.assertEqual(set(items), set(ids))
        first = items[ids[0]]
        self.assertEqual(first, {"id": ids[0], "user_id": "fb1", "email": "fb1@example.com",
                                 "type": "bug", "description": "The button broke",
                                 "browser_info": "Firefox 130", "status": "new",
                                 "created_at": first["created_at"]})
        self.assertTrue(first["created_at"].endswith("Z"))
        self.assertEqual(json.loads(items[ids[1]]["browser_info"]), {"userAgent": "X", "w": 1024})
        self.assertEqual(items[ids[2]]["description"], "Contrast ✓ too low")
        self.assertEqual(items[ids[3]]["browser_info"], "")
        self.assertEqual(len(items[ids[4]]["description"]), 5000)
        # Newest first.
        stamps = [f["created_at"] for f in j["data"]["feedback"]]
        self.assertEqual(stamps, sorted(stamps, reverse=True))

        def page(q):
            status, j = self.admin(s, "/api/admin/feedback?" + q)
            self.assertEqual(status, 200, (q, j))
            return j["data"]["feedback"], j["data"]["pagination"]

        seen = []
        for off in (0, 2, 4):
            fb, pg = page("limit=2&offset=%d" % off)
            self.assertEqual(pg, {"total": 5, "limit": 2, "offset": off,
                                  "returned": 2 if off < 4 else 1})
            seen += [f["id"] for f in fb]
        self.assertEqual(sorted(seen), sorted(ids))
        fb, pg = page("offset=10")
        self.assertEqual((fb, pg["total"], pg["returned"]), ([], 5, 0))
        fb, pg = page("type=bug")
        self.assertEqual((pg["total"], sorted(f["id"] for f in fb)),
                         (3, sorted([ids[0], ids[1], ids[3]])))
        fb, pg = page("type=bug&limit=1&offset=2")
        self.assertEqual((pg["total"], pg["returned"], fb[0]["type"]), (3, 1, "bug"))
        fb, pg = page("type=accessibility")
        self.assertEqual([f["id"] for f in fb], [ids[2]])
        fb, pg = page("status=new")
        self.assertEqual(pg["total"], 5)
        fb, pg = page("status=resolved&type=bug")
        self.assertEqual((fb, pg["total"]), ([], 0))
        for q in ("limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5", "offset=-1",
                  "offset=x", "status=open", "type=praise", "type=BUG"):
            status, j = self.admin(s, "/api/admin/feedback?" + q)
            self.assertEqual(status, 400, (q, j))
            self.assertIs(j["success"], False, (q, j))
            self.assertTrue(j["code"] and j["error"], (q, j))

    def test_storage_feedback_validation_errors(self):
        s = StorageServer(self)
        cases = [
            ({}, {"type", "description"}),
            ({"type": "praise", "description": "ok"}, {"type"}),
            ({"type": 5, "description": "ok"}, {"type"}),
            ({"type": "bug", "description": "   \n "}, {"description"}),
            ({"type": "bug", "description": "x" * 5001}, {"description"}),
            ({"type": "bug", "description": 42}, {"description"}),
            ({"type": "bug", "description": "ok", "browser_info": 5}, {"browser_info"}),
            ({"type": "bug", "description": "ok", "browser_info": "b" * 2001}, {"browser_info"}),
            ({"type": "bug", "description": "ok", "browser_info": {"ua": "b" * 2000}},
             {"browser_info"}),
            ({"type": "other", "description": "", "browser_info": ["x"]},
             {"description", "browser_info"}),
        ]
        for body, fields in cases:
            status, j = self.call(s, "POST", "/api/feedback", uid="fbv", body=body)
            self.assertEqual(status, 400, (body, j))
            self.assertEqual((j["error"], j["code"], j["status"], j["message"]),
                             ("Invalid payload", "INVALID_FEEDBACK", "error", "Invalid payload"))
            self.assertEqual(set(j["errors"]), fields, (body, j))
            for m in j["errors"].values():
                self.assertIsInstance(m, str)
        for raw in ("nope", "[]", '{"type": "bug"'):
            status, j = self.call(s, "POST", "/api/feedback", uid="fbv", raw=raw)
            self.assertEqual((status, j["code"]), (400, "INVALID_JSON"), raw)
        status, j = self.call(s, "POST", "/api/feedback", token=no_email_token("noem"),
                              body={"type": "bug", "description": "ok"})
        self.assertEqual((status, j["code"]), (400, "EMAIL_REQUIRED"))
        status, j = self.call(s, "POST", "/api/feedback", uid=None,
                              body={"type": "bug", "description": "ok"})
        self.assertEqual((status, j["code"]), (401, "UNAUTHENTICATED"))
        # None of them was stored.
        status, j = self.admin(s, "/api/admin/feedback")
        self.assertEqual((status, j["data"]["pagination"]["total"]), (200, 0))
        self.feedback(s, "fbv", {"type": "other", "description": "fine"})
        status, j = self.admin(s, "/api/admin/feedback")
        self.assertEqual(j["data"]["pagination"]["total"], 1)

    def test_storage_admin_routes_need_an_admin(self):
        s = StorageServer(self)
        for path in ADMIN_ROUTES:
            status, j = self.call(s, "GET", path, uid="plain")
            self.assertEqual((status, j["code"]), (403, "FORBIDDEN"), path)
            status, j = self.call(s, "GET", path, uid=None)
            self.assertEqual((status, j["code"]), (401, "UNAUTHENTICATED"), path)
            # ADMIN_EMAILS, and the custom claim admin: true.
            status, j = self.call(s, "GET", path, token=s.token("boss", email="admin@example.com"))
            self.assertEqual(status, 200, (path, j))
            self.assertIs(j["success"], True)
            status, j = self.call(s, "GET", path, token=s.token("chief", admin=True))
            self.assertEqual(status, 200, (path, j))
            self.assertIs(j["success"], True)

    def test_storage_admin_stats_count_users_documents_feedback(self):
        s = StorageServer(self)
        status, j = self.admin(s, "/api/admin/stats")
        self.assertEqual(status, 200, j)
        zero = {"users": {"total": 0, "with_documents": 0},
                "documents": {"total": 0, "by_status": {"processed": 0, "processing": 0,
                                                        "failed": 0, "pending": 0}},
                "feedback": {"total": 0, "by_status": {"new": 0, "reviewed": 0, "resolved": 0},
                             "by_type": {"bug": 0, "accessibility": 0, "suggestion": 0,
                                         "other": 0}}}
        gen = j["data"].pop("generated_at")
        self.assertTrue(gen.startswith(today().isoformat()), gen)
        self.assertEqual(j["data"], zero)

        for uid in ("st1", "st2", "st3"):
            self.init(s, uid)
        self.upload_txt(s, "st1", "one", "The first document.\n")
        self.upload_txt(s, "st1", "two", "The second document.\n")
        self.upload_txt(s, "st2", "three", "The third document.\n")
        self.feedback(s, "st1", {"type": "bug", "description": "b"})
        self.feedback(s, "st3", {"type": "accessibility", "description": "a"})
        self.feedback(s, "st3", {"type": "other", "description": "o"})
        status, j = self.admin(s, "/api/admin/stats")
        self.assertEqual(status, 200, j)
        d = j["data"]
        self.assertEqual(d["users"], {"total": 3, "with_documents": 2})
        self.assertEqual(d["documents"]["total"], 3)
        self.assertEqual(sum(d["documents"]["by_status"].values()), 3, d)
        self.assertEqual(d["documents"]["by_status"]["failed"], 0, d)
        self.assertEqual(d["feedback"], {"total": 3,
                                         "by_status": {"new": 3, "reviewed": 0, "resolved": 0},
                                         "by_type": {"bug": 1, "accessibility": 1,
                                                     "suggestion": 0, "other": 1}})
        # Text documents are processed when the upload answers.
        docs = [self.call(s, "GET", "/api/documents", uid=u)[1] for u in ("st1", "st2")]
        n_done = sum(1 for ds in docs for x in ds if x["processing_status"] == "processed")
        self.assertEqual(d["documents"]["by_status"]["processed"], n_done)

    def test_storage_admin_users_pages_with_page_token(self):
        s = StorageServer(self)
        names = ["pa", "pb", "pc", "pd", "pe"]
        for uid in reversed(names):
            self.init(s, uid)
        self.put(s, "pa", {"preferences": {"fontSize": 20}, "schoolContext": "Year 3"})
        got, tok, pages = [], None, 0
        while True:
            q = "/api/admin/users?limit=2" + ("&page_token=" + tok if tok else "")
            status, j = self.admin(s, q)
            self.assertEqual(status, 200, j)
            self.assertIs(j["success"], True)
            users, pg = j["data"]["users"], j["data"]["pagination"]
            pages += 1
            self.assertEqual(pg["returned"], len(users))
            got += users
            if pg["has_more"]:
                self.assertEqual(len(users), 2)
                self.assertEqual(pg["page_token"], users[-1]["uid"])
                tok = pg["page_token"]
            else:
                self.assertIsNone(pg["page_token"])
                break
            self.assertLess(pages, 10)
        self.assertEqual([u["uid"] for u in got], names)
        self.assertEqual(pages, 3)
        a = got[0]
        self.assertEqual((a["email"], a["displayName"]), ("pa@example.com", "User One"))
        self.assertTrue(a["createdAt"] and a["lastSignIn"])
        # What the admin console reads: {preferences, gamification}, the
        # preferences as the profile shows them (defaults overlaid).
        self.assertEqual(a["profile"]["preferences"], dict(DEFAULT_PREFS, fontSize=20))
        self.assertEqual(a["profile"]["gamification"],
                         {"points": 0, "streak": 0, "level": 1, "badges": []})
        self.assertEqual(got[1]["profile"]["preferences"], DEFAULT_PREFS)
        self.assertIsNone(a["emailVerified"])
        self.assertIsNone(a["photoURL"])
        self.assertEqual(j["data"]["source"], "storage")
        status, j = self.admin(s, "/api/admin/users")
        self.assertEqual((j["data"]["pagination"]["returned"], j["data"]["pagination"]["has_more"]),
                         (5, False))
        status, j = self.admin(s, "/api/admin/users?limit=1000")
        self.assertEqual((status, j["data"]["pagination"]["returned"]), (200, 5))
        status, j = self.admin(s, "/api/admin/users?page_token=pe")
        self.assertEqual((status, j["data"]["users"]), (200, []))
        for q in ("limit=0", "limit=x", "limit=-3", "page_token=" + "z" * 1100):
            status, j = self.admin(s, "/api/admin/users?" + q)
            self.assertEqual(status, 400, (q, j))
            self.assertIs(j["success"], False)
            self.assertTrue(j["code"])


# ---------------------------------------------------------------- progress

class TestStorageProgress(StorageCase):

    def test_storage_progress_counts_uploads_points_streak_level(self):
        s = StorageServer(self)
        status, j = self.call(s, "GET", "/api/progress", uid="prog1")
        self.assertEqual(status, 200, j)
        self.assertEqual(j["status"], "success")
        self.assertEqual(j["data"], {
            "documents": 0, "uploads": 0, "chats": 0,
            "quizzes": {"taken": 0, "correct": 0, "questions": 0, "average_score": 0,
                        "best_score": 0},
            "answers": 0, "points": 0, "level": 1, "next_level_points": 100,
            "streak": {"current": 0, "longest": 0}, "active_days": 0, "last_active": None})
        self.init(s, "prog1")
        ids = [self.upload_txt(s, "prog1", "doc%d" % i, "Document number %d.\n" % i)
               for i in range(3)]
        status, j = self.call(s, "GET", "/api/progress", uid="prog1")
        d = j["data"]
        self.assertEqual((d["documents"], d["uploads"], d["points"], d["level"],
                          d["next_level_points"]), (3, 3, 30, 1, 100))
        self.assertEqual(d["streak"], {"current": 1, "longest": 1})
        self.assertEqual((d["active_days"], d["last_active"]), (1, today().isoformat()))
        g = self.profile(s, "prog1")["gamification"]
        self.assertEqual(g, {"points": 30, "streak": 1, "level": 1, "badges": []})
        # Ten uploads make level 2.
        for i in range(3, 10):
            ids.append(self.upload_txt(s, "prog1", "doc%d" % i, "Document number %d.\n" % i))
        status, j = self.call(s, "GET", "/api/progress", uid="prog1")
        d = j["data"]
        self.assertEqual((d["documents"], d["uploads"], d["points"], d["level"],
                          d["next_level_points"]), (10, 10, 100, 2, 200))
        # Deleting a document leaves the points earned.
        status, _, _ = s.request("DELETE", "/api/documents/" + ids[0], uid="prog1")
        self.assertEqual(status, 204)
        status, j = self.call(s, "GET", "/api/progress", uid="prog1")
        self.assertEqual((j["data"]["documents"], j["data"]["uploads"], j["data"]["points"]),
                         (9, 10, 100))
        # Another user's progress is their own.
        status, j = self.call(s, "GET", "/api/progress", uid="prog2")
        self.assertEqual((j["data"]["documents"], j["data"]["points"]), (0, 0))
        status, j = self.call(s, "GET", "/api/progress", uid=None)
        self.assertEqual((status, j["code"]), (401, "UNAUTHENTICATED"))


    def insert_activity(self, s, rows):
        """Activity rows (uid, kind, points, score, max_score, day) written
        straight into the database, as the tutoring plugin's storage.v1
        calls would on other days."""
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if BACKEND == "postgres":
            values = ", ".join("('%s', '%s', %d, %g, %g, '%s', '%s')" % (r + (now,))
                               for r in rows)
            lxstorage._psql("INSERT INTO activity (uid, kind, points, score, max_score, day, "
                            "created_at) VALUES " + values, url=lxstorage.pg_url(s.pg_db))
            return
        db = sqlite3.connect(os.path.join(s.data_dir, "lexiaid.db"), timeout=10)
        try:
            with db:
                db.executemany("INSERT INTO activity (uid, kind, points, score, max_score, day, "
                               "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [r + (now,) for r in rows])
        finally:
            db.close()

    def test_storage_progress_streaks_quizzes_chats_answers(self):
        s = StorageServer(self)
        t = today()

        def day(n):
            return (t - datetime.timedelta(days=n)).isoformat()

        # streak1: active today and the two days before (current 3), and an
        # older run of four days (longest 4).
        rows = [("streak1", "chat", 2, 0, 0, day(0)), ("streak1", "chat", 2, 0, 0, day(0)),
                ("streak1", "answer", 5, 0, 0, day(1)), ("streak1", "chat", 2, 0, 0, day(2)),
                ("streak1", "quiz", 15, 3, 5, day(5)), ("streak1", "quiz", 25, 5, 5, day(6)),
                ("streak1", "chat", 2, 0, 0, day(7)), ("streak1", "chat", 2, 0, 0, day(8)),
                # streak2: last active yesterday, a run of two.
                ("streak2", "chat", 2, 0, 0, day(1)), ("streak2", "chat", 2, 0, 0, day(2)),
                ("streak2", "quiz", 10, 1, 4, day(4)),
                # streak3: last active two days ago: no current streak.
                ("streak3", "answer", 5, 0, 0, day(2)), ("streak3", "answer", 5, 0, 0, day(3))]
        self.insert_activity(s, rows)

        status, j = self.call(s, "GET", "/api/progress", uid="streak1")
        self.assertEqual(status, 200, j)
        self.assertEqual(j["data"], {
            "documents": 0, "uploads": 0, "chats": 5,
            "quizzes": {"taken": 2, "correct": 8, "questions": 10, "average_score": 80,
                        "best_score": 100},
            "answers": 1, "points": 55, "level": 1, "next_level_points": 100,
            "streak": {"current": 3, "longest": 4}, "active_days": 7, "last_active": day(0)})
        self.assertEqual(self.profile(s, "streak1")["gamification"],
                         {"points": 55, "streak": 3, "level": 1, "badges": []})
        d = self.call(s, "GET", "/api/progress", uid="streak2")[1]["data"]
        self.assertEqual((d["streak"], d["last_active"], d["points"]),
                         ({"current": 2, "longest": 2}, day(1), 14))
        self.assertEqual(d["quizzes"], {"taken": 1, "correct": 1, "questions": 4,
                                        "average_score": 25, "best_score": 25})
        d = self.call(s, "GET", "/api/progress", uid="streak3")[1]["data"]
        self.assertEqual((d["streak"], d["answers"], d["active_days"]),
                         ({"current": 0, "longest": 2}, 2, 2))
        # An upload today joins streak2's run of yesterday.
        self.init(s, "streak2")
        self.upload_txt(s, "streak2", "today", "Today's text.\n")
        d = self.call(s, "GET", "/api/progress", uid="streak2")[1]["data"]
        self.assertEqual((d["streak"], d["uploads"], d["documents"], d["points"]),
                         ({"current": 3, "longest": 3}, 1, 1, 24))


# ---------------------------------------------------------------- account deletion

class DeletingServer(StorageServer):
    """A StorageServer whose auth plugin can delete accounts: DELETE
    /api/users routed, a service account, and Google's token and
    accounts:delete endpoints played by the fake server."""

    ACCESS = "ya29.fake-access"

    def config_text(self):
        text = super().config_text()
        d = lxtest.tempdir()
        with open(lxkeys.KEYS["k1"]) as f:
            pem = f.read()
        sa = os.path.join(d, "sa.json")
        with open(sa, "w") as f:
            json.dump({"type": "service_account", "project_id": lxkeys.PROJECT,
                       "private_key_id": "sa-kid", "private_key": pem,
                       "client_email": "svc@p1.iam.gserviceaccount.com"}, f)
        extra = {"google_application_credentials": sa, "token_url": self.fake.url + "/token",
                 "identity_toolkit_url": self.fake.url + "/"}
        anchor = "admin_emails = %s;" % lxtest.cfg_value(self.admin_emails or "")
        if anchor not in text:
            raise AssertionError("auth config not found in the test config")
        text = text.replace(anchor, anchor + " " + " ".join(
            "%s = %s;" % (k, lxtest.cfg_value(v)) for k, v in extra.items()), 1)
        r = lxtest.route("DELETE", "/api/users", "auth.delete_user",
                         before=["auth.require_user"])
        if "routes = (\n  " not in text:
            raise AssertionError("routes not found in the test config")
        return text.replace("routes = (\n  ", "routes = (\n  " + lxtest.cfg_value(r) + ",\n  ", 1)

    def start(self):
        self.fake.routes["/token"] = lambda m, p, h, b: (
            200, {}, json.dumps({"access_token": self.ACCESS, "expires_in": 3599,
                                 "token_type": "Bearer"}))
        self.fake.routes["/v1/projects/%s/accounts:delete" % lxkeys.PROJECT] = (
            lambda m, p, h, b: (200, {}, '{"kind":"identitytoolkit#DeleteAccountResponse"}')
            if h.get("Authorization") == "Bearer " + self.ACCESS else (401, {}, "{}"))
        return super().start()


class TestStorageDeleteUser(StorageCase):

    def test_storage_delete_user_removes_everything_of_that_user_only(self):
        s = DeletingServer(self)
        docs = {}
        for uid in ("del1", "keep1"):
            self.init(s, uid)
            self.put(s, uid, {"preferences": {"fontSize": 24}, "dateOfBirth": "2010-10-10",
                              "schoolContext": "Year 6"})
            docs[uid] = [self.upload_txt(s, uid, uid + "-a", "Text of %s, one.\n" % uid),
                         self.upload_txt(s, uid, uid + "-b", "Text of %s, two.\n" % uid)]
            self.feedback(s, uid, {"type": "bug", "description": "from " + uid})
        uploads = os.path.join(s.data_dir, "uploads")
        if BACKEND == "sqlite":
            for uid in docs:
                for i in docs[uid]:
                    self.assertTrue(os.path.exists(os.path.join(uploads, i)), i)

        status, j = self.call(s, "DELETE", "/api/users", uid="del1")
        self.assertEqual(status, 200, j)
        self.assertEqual(j["status"], "success")
        sent = [json.loads(b) for (_, p, _, b) in s.fake.requests
                if p.endswith("accounts:delete")]
        self.assertEqual(sent, [{"localId": "del1"}])

        # del1: back to a user lexiaid does not know.
        d = self.profile(s, "del1")
        self.assertEqual(d["preferences"], DEFAULT_PREFS)
        self.assertNotIn("dateOfBirth", d)
        self.assertNotIn("schoolContext", d)
        self.assertIsNone(d["createdAt"])
        status, j = self.call(s, "GET", "/api/documents", uid="del1")
        self.assertEqual((status, j), (200, []))
        for i in docs["del1"]:
            status, _, _ = s.request("GET", "/api/documents/" + i, uid="del1")
            self.assertEqual(status, 404)
        status, j = self.call(s, "GET", "/api/progress", uid="del1")
        self.assertEqual((j["data"]["documents"], j["data"]["points"], j["data"]["active_days"]),
                         (0, 0, 0))
        status, j = self.admin(s, "/api/admin/stats")
        self.assertEqual(j["data"]["users"], {"total": 1, "with_documents": 1})
        status, j = self.admin(s, "/api/admin/feedback")
        self.assertEqual([f["user_id"] for f in j["data"]["feedback"]], ["keep1"])
        if BACKEND == "sqlite":
            for i in docs["del1"]:
                self.assertFalse(os.path.exists(os.path.join(uploads, i)), i)

        # keep1: untouched.
        d = self.profile(s, "keep1")
        self.assertEqual(d["preferences"]["fontSize"], 24)
        self.assertEqual((d["dateOfBirth"], d["schoolContext"]), ("2010-10-10", "Year 6"))
        status, j = self.call(s, "GET", "/api/documents", uid="keep1")
        self.assertEqual(sorted(x["id"] for x in j), sorted(docs["keep1"]))
        status, _, body = s.request("GET", "/api/documents/%s/download" % docs["keep1"][0],
                                    uid="keep1")
        self.assertEqual((status, body), (200, b"Text of keep1, one.\n"))
        status, j = self.call(s, "GET", "/api/progress", uid="keep1")
        self.assertEqual((j["data"]["documents"], j["data"]["points"]), (2, 20))
        if BACKEND == "sqlite":
            for i in docs["keep1"]:
                self.assertTrue(os.path.exists(os.path.join(uploads, i)), i)

        # Deleting again is fine (nothing left, the account is gone already).
        status, j = self.call(s, "DELETE", "/api/users", uid="del1")
        self.assertEqual(status, 200, j)


if __name__ == "__main__":
    lxtest.main()
