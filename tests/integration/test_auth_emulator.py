#!/usr/bin/env python3
"""The auth plugin end to end against the real Firebase Auth Emulator
(lxemulator.py): sign-up through lexiaid, sign-in with the emulator's REST
API, protected routes, custom claims, disabled and revoked users, the
verification link and account deletion.

Needs node (>= 20) and npm: without them the tests FAIL (CI installs them).
"""

import json
import os
import time

import lxtest
from lxemulator import PROJECT, Emulator, auth_so
from lxtest import config, parse_json, route


class TestAuthEmulator(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(auth_so()):
            raise AssertionError("missing %s (build first)" % auth_so())
        cls.emu = Emulator()
        routes = [
            route("GET", "/api/auth/me", "auth.me", before=["auth.require_user"]),
            route("GET", "/admin/me", "auth.me", before=["auth.require_admin"]),
            route("POST", "/api/users", "auth.signup"),
            route("POST", "/api/users/verify-email", "auth.verify_email",
                  before=["auth.require_user"]),
            route("DELETE", "/api/users", "auth.delete_user", before=["auth.require_user"]),
            route("GET", "/ready", "health.ready"),
        ]
        try:
            cls.srv = lxtest.Server(config(
                routes=routes, plugins=["health", {
                    "name": "auth", "file": auth_so(),
                    "config": {"mode": "emulator", "emulator_host": cls.emu.host,
                               "project_id": PROJECT}}]))
        except Exception:
            cls.emu.stop()
            raise
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop_checked()
        finally:
            cls.emu.stop()

    def signup(self, password="secret-123"):
        """A new user through lexiaid's POST /api/users: (uid, email, password)."""
        type(self).n += 1
        email = "user%d-%d@example.com" % (type(self).n, os.getpid())
        status, _, body = self.srv.request("POST", "/api/users", body=json.dumps(
            {"email": email, "password": password, "display_name": "User %d" % self.n}),
            headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        j = parse_json(body)
        self.assertEqual(j["status"], "success")
        self.assertEqual(j["message"], "User created successfully")
        self.assertTrue(j["userId"])
        return j["userId"], email, password

    def me(self, tok, path="/api/auth/me"):
        return self.srv.get(path, headers={"Authorization": "Bearer " + tok})

    def test_emulator_warning_is_logged_at_start(self):
        self.assertIn("EMULATOR MODE", self.srv.output())
        status, _, j = self.srv.get_json("/ready")
        self.assertEqual(status, 200, j)
        self.assertIn("EMULATOR", j["plugins"]["auth"]["detail"])

    def test_emulator_signup_creates_the_account_and_refuses_a_duplicate(self):
        uid, email, password = self.signup()
        status, j = self.emu.admin("accounts:lookup", {"localId": [uid]})
        self.assertEqual(status, 200, j)
        self.assertEqual(j["users"][0]["email"], email)
        self.assertEqual(j["users"][0].get("displayName"), "User %d" % self.n)
        status, _, body = self.srv.request("POST", "/api/users", body=json.dumps(
            {"email": email, "password": password}))
        self.assertEqual(status, 409, body)
        self.assertEqual(parse_json(body)["code"], "EMAIL_EXISTS")
        status, _, body = self.srv.request("POST", "/api/users", body=json.dumps(
            {"email": "x@example.com", "password": "12345"}))
        self.assertEqual(status, 400, body)
        self.assertIn("password", parse_json(body)["message"])

    def test_emulator_signed_in_user_reaches_a_protected_route(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        status, _, body = self.me(tok)
        self.assertEqual(status, 200, body)
        j = parse_json(body)
        self.assertEqual(j["uid"], uid)
        self.assertEqual(j["email"], email)
        self.assertEqual(j["sign_in_provider"], "password")
        self.assertIs(j["is_admin"], False)
        self.assertNotIn(tok, self.srv.output())

    def test_emulator_custom_claim_admin_after_refresh(self):
        uid, email, password = self.signup()
        tok, refresh = self.emu.sign_in(email, password)
        self.assertEqual(self.me(tok, "/admin/me")[0], 403)
        status, j = self.emu.admin("accounts:update",
                                   {"localId": uid, "customAttributes": '{"admin":true}'})
        self.assertEqual(status, 200, j)
        tok = self.emu.refresh(refresh)
        status, _, body = self.me(tok, "/admin/me")
        self.assertEqual(status, 200, body)
        j = parse_json(body)
        self.assertIs(j["is_admin"], True)
        self.assertEqual(j["claims"], {"admin": True})

    def test_emulator_disabled_user_is_403(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        self.assertEqual(self.me(tok)[0], 200)
        status, j = self.emu.admin("accounts:update", {"localId": uid, "disableUser": True})
        self.assertEqual(status, 200, j)
        status, _, body = self.me(tok)
        self.assertJsonError(status, body, 403, "USER_DISABLED")

    def test_emulator_revoked_token_is_401(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        self.assertEqual(self.me(tok)[0], 200)
        time.sleep(1.2)  # revocation has whole-second granularity
        status, j = self.emu.admin("accounts:update",
                                   {"localId": uid, "validSince": str(int(time.time()) + 1)})
        self.assertEqual(status, 200, j)
        status, _, body = self.me(tok)
        self.assertJsonError(status, body, 401, "TOKEN_REVOKED")

    def test_emulator_verify_email_returns_a_link(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        status, _, body = self.srv.request("POST", "/api/users/verify-email",
                                           headers={"Authorization": "Bearer " + tok})
        self.assertEqual(status, 200, body)
        j = parse_json(body)
        self.assertEqual(j["status"], "success")
        self.assertIn("oobCode", j["link"])

    def test_emulator_delete_user_deletes_the_account(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        status, _, body = self.srv.request("DELETE", "/api/users",
                                           headers={"Authorization": "Bearer " + tok})
        self.assertEqual(status, 200, body)
        self.assertEqual(parse_json(body), {"status": "success", "message": "User deleted"})
        status, j = self.emu.admin("accounts:lookup", {"localId": [uid]})
        self.assertEqual(status, 200, j)
        self.assertFalse(j.get("users"), j)
        status, _, body = self.me(tok)
        j = self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        self.assertEqual(j["error"], "user not found")

    def test_emulator_bad_tokens_are_refused(self):
        uid, email, password = self.signup()
        tok, _ = self.emu.sign_in(email, password)
        h, p, s = tok.split(".")
        self.assertEqual(s, "")
        status, _, body = self.me(tok + "junk")
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        status, _, body = self.me("not-a-jwt")
        self.assertJsonError(status, body, 401, "TOKEN_INVALID")
        status, _, body = self.srv.get("/api/auth/me")
        self.assertJsonError(status, body, 401, "UNAUTHENTICATED")


if __name__ == "__main__":
    lxtest.main()
