#!/usr/bin/env python3
"""The local instance's accounts survive a restart (scripts/run.sh): the
Firebase Auth Emulator that run.sh starts through scripts/emulator.sh keeps
them in the instance's data directory (--import / --export-on-exit into
LEXIAID_DATA_DIR/auth-emulator). A student signs up through lexiaid
(POST /api/users, as the frontend does), the emulator is stopped as run.sh
stops it and started again: the student still signs in and reaches the
profile. Against the real emulator (lxemulator.py installs it); needs node
>= 20 and npm, so it FAILS without them (CI installs them).
"""

import json
import os
import subprocess
import urllib.error
import urllib.request

import lxtest
from lxemulator import API_KEY, PROJECT, cache_dir, free_port, install_firebase_tools
from lxstorage import StorageServer

SCRIPT = os.path.join(lxtest.SRCDIR, "scripts", "emulator.sh")
PASSWORD = "secret-123"


class TestEmulatorRestart(lxtest.TestCase):

    def setUp(self):
        super().setUp()
        install_firebase_tools()
        self.tmp = lxtest.tempdir()
        self.data = os.path.join(self.tmp, "data")
        self.host = "127.0.0.1:%d" % free_port()
        self.env = dict(os.environ, LEXIAID_EMULATOR_DIR=cache_dir(),
                        LEXIAID_EMULATOR_RUN_DIR=os.path.join(self.tmp, "run"),
                        LEXIAID_DATA_DIR=self.data, FIREBASE_AUTH_EMULATOR_HOST=self.host,
                        FIREBASE_PROJECT_ID=PROJECT, LEXIAID_EMULATOR_TIMEOUT="240")
        self.env.pop("LEXIAID_EMULATOR_DATA", None)
        self.pid = None

    def tearDown(self):
        if self.pid is not None:
            self.emulator("stop", str(self.pid))
        super().tearDown()

    def emulator(self, *args):
        p = subprocess.run([SCRIPT] + list(args), env=self.env, capture_output=True, text=True,
                           timeout=400, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        return p.stdout.strip(), p.stderr

    def start(self):
        out, _ = self.emulator("start")
        self.pid = int(out)

    def stop(self):
        pid, self.pid = self.pid, None
        _, err = self.emulator("stop", str(pid))
        self.assertFalse(os.path.exists("/proc/%d" % pid), "the emulator is still running")
        return err

    def sign_in(self, email):
        req = urllib.request.Request(
            "http://%s/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=%s"
            % (self.host, API_KEY),
            data=json.dumps({"email": email, "password": PASSWORD,
                             "returnSecureToken": True}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def test_emulator_accounts_survive_a_restart_of_the_local_instance(self):
        self.start()
        s = StorageServer(self, data_dir=self.data, extra_routes=[
            lxtest.route("POST", "/api/users", "auth.signup")], auth_cfg={
            "mode": "emulator", "emulator_host": self.host, "project_id": PROJECT})
        email = "kept-%d@example.com" % os.getpid()
        status, _, body = s.srv.request("POST", "/api/users", body=json.dumps(
            {"email": email, "password": PASSWORD, "display_name": "Kept"}).encode(),
            headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        uid = json.loads(body)["userId"]
        status, j = self.sign_in(email)
        self.assertEqual(status, 200, j)

        err = self.stop()
        self.assertNotIn("did not stop", err)
        self.assertIn(os.path.join(self.data, "auth-emulator"), err)
        log = os.path.join(self.tmp, "run", "emulator.log")
        self.assertTrue(os.path.exists(os.path.join(self.data, "auth-emulator",
                                                    "firebase-export-metadata.json")),
                        (err, open(log).read()[-3000:] if os.path.exists(log) else "no log"))
        self.start()
        status, j = self.sign_in(email)
        self.assertEqual(status, 200, j)
        self.assertEqual(j["localId"], uid)
        # The token of the account read back works on lexiaid, whose data is
        # still there.
        status, _, body = s.request("GET", "/api/users/profile", token=j["idToken"])
        self.assertEqual(status, 200, body)
        d = json.loads(body)["data"]
        self.assertEqual((d["uid"], d["displayName"]), (uid, "Kept"))
        self.assertTrue(d["createdAt"])

        # LEXIAID_EMULATOR_DATA="" keeps them in memory only, as before.
        self.stop()
        self.env["LEXIAID_EMULATOR_DATA"] = ""
        self.env["LEXIAID_EMULATOR_RUN_DIR"] = os.path.join(self.tmp, "run2")
        self.start()
        status, j = self.sign_in(email)
        self.assertEqual(status, 400, j)
        self.assertIn("EMAIL_NOT_FOUND", json.dumps(j))


if __name__ == "__main__":
    lxtest.main()
