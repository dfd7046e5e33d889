#!/usr/bin/env python3
"""The LexiAid frontend's account calls against lexiaid and the real
Firebase Auth Emulator (lxemulator.py): the requests exactly as the
frontend sends them (src/services/api.ts, Settings, the admin console) and
the fields it reads.

  - sign-up (POST /api/users) makes the profile at once: GET
    /api/users/profile then has a real createdAt, before any /init;
  - the admin console's users list (GET /api/admin/users?limit=20) is the
    Auth users, with emailVerified, disabled, photoURL, phoneNumber and
    profile: {preferences, gamification} for those lexiaid stores;
  - "Sync Users" (POST /api/admin/users/sync) makes the missing profiles,
    walking the accounts 100 at a time;
  - a new display name (PUT /api/users/profile {displayName}) reaches the
    Auth user, which the sidebar and the settings page read after
    currentUser.reload().

Needs node (>= 20) and npm: without them the tests FAIL (CI installs them).
"""

import json
import os

import lxtest
from lxemulator import PROJECT, Emulator, auth_so
from lxstorage import StorageServer

ADMIN = "admin@example.com"
PASSWORD = "secret-123"

# The auth plugin's own routes of etc/lexiaid.conf.
AUTH_ROUTES = [
    lxtest.route("POST", "/api/users", "auth.signup"),
    lxtest.route("DELETE", "/api/users", "auth.delete_user", before=["auth.require_user"]),
]


class TestFrontendAccounts(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(auth_so()):
            raise AssertionError("missing %s (build first)" % auth_so())
        cls.emu = Emulator()
        try:
            cls.s = StorageServer(None, admin_emails=ADMIN, extra_routes=AUTH_ROUTES, auth_cfg={
                "mode": "emulator", "emulator_host": cls.emu.host,
                "project_id": PROJECT})
        except BaseException:
            cls.emu.stop()
            raise
        cls.n = 0
        cls.admin_email = None

    @classmethod
    def tearDownClass(cls):
        try:
            cls.s.close()
        finally:
            cls.emu.stop()

    # -- helpers: what the frontend does

    def new_email(self):
        type(self).n += 1
        return "student%d-%d@example.com" % (self.n, os.getpid())

    def create_user(self, email, display_name):
        """apiService.createUser: POST /api/users {email, password,
        display_name}, no token; reads userId."""
        status, _, body = self.s.srv.request(
            "POST", "/api/users", body=json.dumps(
                {"email": email, "password": PASSWORD, "display_name": display_name}).encode(),
            headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        j = lxtest.parse_json(body)
        self.assertEqual((j["status"], j["message"]), ("success", "User created successfully"))
        return j["userId"]

    def call(self, method, path, tok, body=None):
        status, _, data = self.s.request(method, path, body=body, token=tok)
        return status, (lxtest.parse_json(data) if data else None)

    def admin_token(self):
        """A signed-in admin (ADMIN_EMAILS), made once per emulator run."""
        try:
            tok, _ = self.emu.sign_in(ADMIN, PASSWORD)
        except AssertionError:
            self.emu.sign_up(ADMIN, PASSWORD, "The Admin")
            tok, _ = self.emu.sign_in(ADMIN, PASSWORD)
        return tok

    def admin_users(self, query="limit=20"):
        """AdminUsersTable: apiService.getAdminUsers({limit: 20, page_token})."""
        status, j = self.call("GET", "/api/admin/users?" + query, self.admin_token())
        self.assertEqual(status, 200, j)
        self.assertIs(j["success"], True, j)
        return j["data"]

    def all_admin_users(self, limit=20):
        users, tok = [], None
        for _ in range(500):
            d = self.admin_users("limit=%d" % limit + ("&page_token=" + tok if tok else ""))
            self.assertEqual(d["pagination"]["returned"], len(d["users"]))
            users += d["users"]
            if not d["pagination"]["has_more"]:
                self.assertIsNone(d["pagination"]["page_token"])
                return users
            tok = d["pagination"]["page_token"]
            self.assertTrue(tok)
        self.fail("the pages never ended")

    # -- 4. the profile at sign-up

    def test_frontend_signup_makes_the_profile_before_any_init(self):
        email = self.new_email()
        uid = self.create_user(email, "Ada Reader")
        tok, _ = self.emu.sign_in(email, PASSWORD)
        # AuthContext reads data (preferences; dateOfBirth and schoolContext
        # decide the profile-setup modal); the dashboard reads displayName.
        status, j = self.call("GET", "/api/users/profile", tok)
        self.assertEqual(status, 200, j)
        d = j["data"]
        self.assertEqual((d["uid"], d["email"], d["displayName"]), (uid, email, "Ada Reader"))
        self.assertTrue(d["createdAt"] and d["createdAt"].endswith("Z"), d)
        self.assertIsNone(d["lastLogin"])
        self.assertEqual(d["gamification"], {"points": 0, "streak": 0, "level": 1, "badges": []})
        self.assertEqual(d["preferences"]["fontFamily"], "OpenDyslexic")
        self.assertNotIn("dateOfBirth", d)
        self.assertNotIn("schoolContext", d)
        # The sign-in's /init finds it (and records the sign-in).
        status, j = self.call("POST", "/api/users/init", tok)
        self.assertEqual(status, 200, j)
        self.assertIs(j["created"], False, j)
        status, j = self.call("GET", "/api/users/profile", tok)
        self.assertEqual(j["data"]["createdAt"], d["createdAt"])
        self.assertTrue(j["data"]["lastLogin"])

    # -- 3. the display name reaches the Auth user

    def test_frontend_display_name_reaches_the_auth_user(self):
        email = self.new_email()
        self.create_user(email, "Old Name")
        tok, _ = self.emu.sign_in(email, PASSWORD)
        self.assertEqual(self.emu.lookup(tok).get("displayName"), "Old Name")
        # Settings: apiService.updateUserProfile({displayName}), then
        # currentUser.reload() and a page reload that reads the Auth user.
        status, j = self.call("PUT", "/api/users/profile", tok, {"displayName": "New Name"})
        self.assertEqual(status, 200, j)
        self.assertEqual(j["status"], "success")
        self.assertIs(j["displayNameSynced"], True, j)
        self.assertNotIn("warning", j)
        self.assertEqual(self.emu.lookup(tok).get("displayName"), "New Name")
        status, j = self.call("GET", "/api/users/profile", tok)
        self.assertEqual(j["data"]["displayName"], "New Name")
        # Preferences alone leave the Auth user alone and say nothing of it.
        status, j = self.call("PUT", "/api/users/profile", tok,
                              {"preferences": {"fontFamily": "Verdana"}})
        self.assertEqual(status, 200, j)
        self.assertNotIn("displayNameSynced", j)

    # -- 2. the admin console's users list

    def test_frontend_admin_users_are_the_auth_users_with_their_profiles(self):
        # One account made through lexiaid (so with a profile), one made
        # straight in the emulator (no profile yet), verified and disabled
        # as an administrator would.
        e1, e2 = self.new_email(), self.new_email()
        uid1 = self.create_user(e1, "With Profile")
        tok1, _ = self.emu.sign_in(e1, PASSWORD)
        status, j = self.call("PUT", "/api/users/profile", tok1,
                              {"preferences": {"fontFamily": "Arial", "uiTtsEnabled": False}})
        self.assertEqual(status, 200, j)
        uid2 = self.emu.sign_up(e2, PASSWORD)
        status, j = self.emu.admin("accounts:update", {"localId": uid2, "emailVerified": True,
                                                       "disableUser": True,
                                                       "photoUrl": "https://example.com/p.png"})
        self.assertEqual(status, 200, j)

        users = {u["uid"]: u for u in self.all_admin_users(limit=20)}
        self.assertIn(uid1, users)
        self.assertIn(uid2, users)
        a, b = users[uid1], users[uid2]
        self.assertEqual((a["email"], a["displayName"]), (e1, "With Profile"))
        self.assertIs(a["emailVerified"], False)
        self.assertIs(a["disabled"], False)
        self.assertTrue(a["createdAt"].endswith("Z"), a)
        self.assertTrue(a["lastSignIn"], a)
        self.assertIsNone(a["photoURL"])
        self.assertIsNone(a["phoneNumber"])
        self.assertEqual(a["profile"]["gamification"],
                         {"points": 0, "streak": 0, "level": 1, "badges": []})
        self.assertEqual(a["profile"]["preferences"]["fontFamily"], "Arial")
        self.assertIs(a["profile"]["preferences"]["uiTtsEnabled"], False)
        self.assertEqual(b["email"], e2)
        self.assertIsNone(b["displayName"])
        self.assertIs(b["emailVerified"], True)
        self.assertIs(b["disabled"], True)
        self.assertEqual(b["photoURL"], "https://example.com/p.png")
        self.assertNotIn("profile", b)  # the console shows "No data" until a sync
        # No password hash or other internals leak.
        self.assertEqual(set(a), {"uid", "email", "displayName", "emailVerified", "disabled",
                                  "createdAt", "lastSignIn", "photoURL", "phoneNumber",
                                  "profile"})
        d = self.admin_users("limit=20")
        self.assertEqual(d["source"], "auth")
        # Page by page with the provider's tokens: every account once.
        small = self.all_admin_users(limit=3)
        self.assertEqual(sorted(u["uid"] for u in small), sorted(users))
        # A page token the provider does not know is refused, not a crash.
        status, j = self.call("GET", "/api/admin/users?limit=5&page_token=%25zz", self.admin_token())
        self.assertIn(status, (200, 400), j)

    def test_frontend_admin_routes_refuse_a_student(self):
        email = self.new_email()
        self.create_user(email, "Student")
        tok, _ = self.emu.sign_in(email, PASSWORD)
        for method, path in (("GET", "/api/admin/users"), ("POST", "/api/admin/users/sync")):
            status, j = self.call(method, path, tok)
            self.assertEqual((status, j["code"]), (403, "FORBIDDEN"), path)

    # -- 1. Sync Users

    def test_frontend_admin_sync_makes_the_missing_profiles(self):
        self.emu.wipe()
        admin = self.admin_token()
        # 230 accounts made outside lexiaid (three pages of 100), one through
        # lexiaid (it has its profile already).
        users = [{"localId": "sync%04d" % i, "email": "sync%04d@example.com" % i,
                  "displayName": "Sync %d" % i} for i in range(230)]
        status, j = self.emu.admin("accounts:batchCreate", {"users": users})
        self.assertEqual(status, 200, j)
        self.assertFalse(j.get("error"), j)
        email = self.new_email()
        uid = self.create_user(email, "Already There")
        n_accounts = 230 + 2  # with the admin's own account
        listed = {u["uid"]: u for u in self.all_admin_users(limit=100)}
        self.assertEqual(len(listed), n_accounts)
        self.assertNotIn("profile", listed["sync0007"])

        # AdminUsersTable.handleSyncUsers: apiService.syncUsers(), a POST
        # with no body; the toast reads data.fixed and data.processed.
        status, _, body = self.s.srv.request("POST", "/api/admin/users/sync",
                                             headers={"Authorization": "Bearer " + admin},
                                             timeout=120)
        self.assertEqual(status, 200, body)
        j = lxtest.parse_json(body)
        self.assertIs(j["success"], True, j)
        # Every account but the one made through lexiaid lacked a profile
        # (the admin's too: it only ever signed in).
        self.assertEqual(j["data"], {"processed": n_accounts, "fixed": n_accounts - 1})

        listed = {u["uid"]: u for u in self.all_admin_users(limit=100)}
        self.assertEqual(listed["sync0007"]["profile"]["gamification"]["level"], 1)
        self.assertEqual(listed["sync0007"]["displayName"], "Sync 7")
        # The profile made is the one the student then sees.
        status, j = self.emu.admin("accounts:update", {"localId": "sync0229",
                                                       "password": PASSWORD})
        self.assertEqual(status, 200, j)
        tok, _ = self.emu.sign_in("sync0229@example.com", PASSWORD)
        status, j = self.call("GET", "/api/users/profile", tok)
        self.assertEqual((j["data"]["displayName"], j["data"]["email"]),
                         ("Sync 229", "sync0229@example.com"))
        self.assertTrue(j["data"]["createdAt"])
        self.assertEqual(uid in listed, True)

        # Again: nothing is missing any more, and nothing is changed.
        status, j = self.call("POST", "/api/admin/users/sync", admin)
        self.assertEqual(status, 200, j)
        self.assertEqual(j["data"], {"processed": n_accounts, "fixed": 0})


class TestFrontendAccountsWithAServiceAccount(lxtest.TestCase):
    """The production path of accounts.v1: the service account's JWT-bearer
    grant, then the Identity Toolkit with that OAuth token (loopback fakes
    of Google's endpoints, test_auth.FakeGoogle); the first calls wait for
    the token together."""

    def test_frontend_accounts_through_the_service_account(self):
        import lxkeys
        from test_auth import FakeGoogle, write_sa
        lxkeys.make_keys()
        fake = FakeGoogle()
        self.addCleanup(fake.close)
        fake.users = {"sa-1": {"email": "one@example.com", "displayName": "One",
                               "emailVerified": True, "createdAt": "1795869452123",
                               "lastLoginAt": "1795869999000"},
                      "sa-2": {"email": "two@example.com", "disabled": True}}
        s = StorageServer(self, auth_cfg={
            "certs_url": fake.url + "/certs", "google_application_credentials": write_sa(),
            "token_url": fake.url + "/token", "identity_toolkit_url": fake.url + "/"})
        admin = s.token("boss", email="admin@example.com")
        status, _, body = s.request("GET", "/api/admin/users?limit=20", token=admin)
        self.assertEqual(status, 200, body)
        d = lxtest.parse_json(body)["data"]
        self.assertEqual(d["source"], "auth")
        self.assertEqual([u["uid"] for u in d["users"]], ["sa-1", "sa-2"])
        one, two = d["users"]
        self.assertEqual((one["email"], one["displayName"], one["emailVerified"]),
                         ("one@example.com", "One", True))
        self.assertEqual(one["createdAt"], "2026-11-28T12:37:32.123Z")
        self.assertIs(two["disabled"], True)
        self.assertEqual(fake.counts["/token"], 1)
        status, _, body = s.request("POST", "/api/admin/users/sync", token=admin)
        self.assertEqual(status, 200, body)
        self.assertEqual(lxtest.parse_json(body)["data"], {"processed": 2, "fixed": 2})
        # A new display name goes to the account with the same token.
        status, _, body = s.request("PUT", "/api/users/profile", token=s.token("sa-1"),
                                    body={"displayName": "Uno"})
        self.assertEqual(status, 200, body)
        self.assertIs(lxtest.parse_json(body)["displayNameSynced"], True)
        self.assertEqual(fake.users["sa-1"]["displayName"], "Uno")
        self.assertEqual(fake.counts["/token"], 1)
        for _, path, headers, _ in fake.requests:
            if path.startswith("/v1/projects/"):
                self.assertEqual(headers.get("Authorization"), "Bearer " + fake.access, path)


class TestFrontendAccountsWithoutAdminCredentials(lxtest.TestCase):
    """No service account and no emulator: the list falls back to the
    stored users (source "storage"), sync says what is missing, and a new
    display name is saved with a warning that the sign-in account keeps the
    old one."""

    def test_frontend_accounts_without_admin_credentials(self):
        s = StorageServer(self)
        for uid in ("fa", "fb"):
            status, j = s.json("POST", "/api/users/init", uid=uid)
            self.assertEqual(status, 200, j)
        status, j = s.json("PUT", "/api/users/profile", uid="fa",
                           body={"displayName": "Renamed", "preferences": {"fontSize": 20}})
        self.assertEqual(status, 200, j)
        self.assertEqual(j["status"], "success")
        self.assertIs(j["displayNameSynced"], False)
        self.assertIn("account management is not configured", j["warning"])
        status, j = s.json("GET", "/api/users/profile", uid="fa")
        self.assertEqual(j["data"]["displayName"], "Renamed")

        admin = s.token("boss", email="admin@example.com")
        status, _, body = s.request("GET", "/api/admin/users?limit=20", token=admin)
        self.assertEqual(status, 200, body)
        d = lxtest.parse_json(body)["data"]
        self.assertEqual(d["source"], "storage")
        self.assertIn("not configured", d["notice"])
        a = {u["uid"]: u for u in d["users"]}["fa"]
        self.assertEqual(a["displayName"], "Renamed")
        self.assertIsNone(a["emailVerified"])
        self.assertEqual(a["profile"]["preferences"]["fontSize"], 20)
        self.assertEqual(a["profile"]["gamification"]["level"], 1)

        status, _, body = s.request("POST", "/api/admin/users/sync", token=admin)
        self.assertEqual(status, 503, body)
        j = lxtest.parse_json(body)
        self.assertIs(j["success"], False)
        self.assertEqual(j["code"], "AUTH_NOT_CONFIGURED")
        self.assertTrue(j["error"] and j["detail"])


if __name__ == "__main__":
    lxtest.main()
