#!/usr/bin/env python3
"""Service-account OAuth for the speech plugin's Google engines, through the
auth plugin's google_token.v1 (one JWT-bearer exchange shared by every
plugin, never copied into speech), against loopback fakes: Google's token
endpoint (lxfakeoauth.py: it verifies the assertion's RS256 signature with
the test key's public key, its header and claims, and the grant type),
Text-to-Speech (lxfaketts.py) and Speech-to-Text (lxfakestt.py), both
accepting only a Bearer token the fake endpoint issued. The RSA key is
made at test time.

What a user and an operator see: read-aloud and dictation work with a
service account; one exchange serves many calls and calls that arrive
together; a token past its life is exchanged again, one Google refuses is
replaced once; a failing token endpoint is a 502 JSON error; the private
key and the tokens never reach a log line or an answer; a service account
without the auth plugin, or a bad key file, refuses to start naming the
config's line."""

import json
import os
import re
import threading
import time
import unittest

import lxaudio
import lxkeys
import lxtest
from lxfakeoauth import CLOUD_PLATFORM, FakeOAuth, ServiceAccountKey
from lxfakestt import FakeSTT
from lxfaketts import FakeTTS
from lxspeech import HAVE_DICTATION, need_both_engines, speech_plugin, speech_server, synthesize
from test_speech_stt import STT_ROUTES, transcribe

API_KEY = "tts-api-key-5ecret-NOT-SENT"
WAITS = "waits for the exchange in flight"


def setUpModule():
    need_both_engines()


def wait_voices(s, deadline=20):
    """The worker's voices once Google's are listed (fetched at worker
    start, with the service account's token)."""
    end = time.time() + deadline
    while True:
        st, body = s.json("GET", "/api/tts/voices")
        # (the configured voice is listed from the start; the others come
        # with Google's list)
        if st == 200 and any(v["name"] == "en-GB-Neural2-A" for v in body["voices"]):
            return body["voices"]
        if time.time() > end:
            raise AssertionError("no google voices listed: %r" % (body,))
        time.sleep(0.05)


class ServiceAccountCase(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.key = ServiceAccountKey()
        cls.key_path = cls.key.write()
        cls.wav = lxaudio.speak("Plants need light and water to grow.") if HAVE_DICTATION else None

    def setUp(self):
        super().setUp()
        self.oauth = FakeOAuth(self.key)
        self.addCleanup(self.oauth.close)
        self.tts = FakeTTS(key=None, token_ok=self.oauth.token_ok)
        self.addCleanup(self.tts.close)
        self.stt = FakeSTT(key=None, token_ok=self.oauth.token_ok)
        self.addCleanup(self.stt.close)

    def server(self, stt=False, debug=False, **over):
        cfg = {"provider": "google", "base_url": self.tts.base, "request_timeout": "30s",
               "service_account": self.key_path, "cache_size": 0}
        if stt:
            cfg["stt"] = {"provider": "google", "base_url": self.stt.base, "timeout": "20s"}
        cfg.update(over)
        return speech_server(self, speech_cfg=cfg, auth_cfg={"token_url": self.oauth.url},
                             extra_routes=list(STT_ROUTES) if stt else [],
                             server={"log_level": "debug"} if debug else None)

    def bearer(self, r):
        authz = r.headers.get("authorization", "")
        self.assertTrue(authz.startswith("Bearer "), r.headers)
        self.assertNotIn("x-goog-api-key", r.headers)
        return authz[len("Bearer "):]

    def assertNoSecrets(self, s, *bodies):
        out = s.srv.output() + "".join(json.dumps(b) for b in bodies)
        self.assertNotIn("PRIVATE KEY", out)
        for line in self.key.pem_lines:
            self.assertNotIn(line, out)
        for tok in self.oauth.issued:
            self.assertNotIn(tok, out)
            self.assertNotIn(tok.split("-")[-1], out)
        self.assertNotIn(API_KEY, out)


class TestServiceAccount(ServiceAccountCase):

    def test_one_exchange_serves_read_aloud_and_dictation_and_the_key_is_not_sent(self):
        # both a service account and an API key: the service account wins
        s = self.server(stt=HAVE_DICTATION, api_key=API_KEY)
        wait_voices(s)
        for text in ("Plants need light.", "Water flows downhill.", "The sun is a star."):
            st, body = synthesize(s, {"text": text})
            self.assertEqual(st, 200, body)
            self.assertEqual([t["mark_name"] for t in body["timepoints"]], text.split())
        if HAVE_DICTATION:
            st, body = transcribe(s, self.wav)
            self.assertEqual(st, 200, body)
            self.assertEqual(body["transcription"], "plants need light and water")
            self.assertEqual([self.bearer(r) for r in self.stt.requests],
                             [self.oauth.issued[0]])
        self.assertEqual(self.oauth.errors, [])
        self.assertEqual(self.oauth.count, 1, "one exchange for every call")
        self.assertEqual(self.oauth.claims[0]["scope"], CLOUD_PLATFORM)
        self.assertEqual(self.oauth.claims[0]["iss"], self.key.email)
        self.assertEqual(self.oauth.claims[0]["aud"], self.oauth.url)
        used = {self.bearer(r) for r in self.tts.requests}
        self.assertEqual(used, {self.oauth.issued[0]})
        self.assertGreaterEqual(len(self.tts.synth_requests()), 3)
        self.assertIn("the API key is not sent", s.srv.output())
        self.assertNoSecrets(s)

    def test_a_token_past_its_life_is_exchanged_again(self):
        self.oauth.expires_in = 1  # gone at once: every call needs a new one
        s = self.server()
        wait_voices(s)
        for text in ("Plants need light.", "Water flows downhill."):
            st, body = synthesize(s, {"text": text})
            self.assertEqual(st, 200, body)
        self.assertEqual(self.oauth.errors, [])
        self.assertEqual(self.oauth.count, 3)  # the voices, then one per synthesis
        used = [self.bearer(r) for r in self.tts.synth_requests()]
        self.assertEqual(used, self.oauth.issued[1:])
        self.assertNoSecrets(s)

    def test_calls_that_arrive_together_share_one_exchange(self):
        self.oauth.expires_in = 1  # so the syntheses below need a new one
        s = self.server(debug=True)
        wait_voices(s)
        self.assertEqual(self.oauth.count, 1)
        self.oauth.hold()  # the next exchange waits until every call queued behind it
        texts = ["Plants need light.", "Water flows downhill.", "The sun is a star.",
                 "Rain falls from clouds."]
        results = {}

        def run(t):
            results[t] = synthesize(s, {"text": t})

        threads = [threading.Thread(target=run, args=(t,)) for t in texts]
        for t in threads:
            t.start()
        # the voices' call waited once; now the four syntheses
        seen = s.srv.wait_log(lambda _: s.srv.output().count(WAITS) >= 1 + len(texts),
                              timeout=30)
        self.oauth.release()
        for t in threads:
            t.join(60)
        self.assertIsNotNone(seen, "the calls did not all wait for the exchange")
        for t in texts:
            self.assertEqual(results[t][0], 200, results[t])
        self.assertEqual(self.oauth.errors, [])
        self.assertEqual(self.oauth.count, 2, "one exchange for the four calls")
        used = [self.bearer(r) for r in self.tts.synth_requests()]
        self.assertEqual(used, [self.oauth.issued[1]] * len(texts))
        self.assertNoSecrets(s)

    def test_a_token_google_refuses_is_replaced_once(self):
        s = self.server()
        wait_voices(s)
        self.oauth.revoked.add(self.oauth.issued[0])
        st, body = synthesize(s, {"text": "Plants need light."})
        self.assertEqual(st, 200, body)
        self.assertEqual(self.oauth.count, 2)
        used = [self.bearer(r) for r in self.tts.synth_requests()]
        self.assertEqual(used, self.oauth.issued)  # 401 with the first, 200 with the second
        self.assertNoSecrets(s)

    def test_a_failing_token_endpoint_is_a_502_without_secrets(self):
        self.oauth.expires_in = 1
        s = self.server(stt=HAVE_DICTATION)
        wait_voices(s)
        bodies = []
        for code in (500, 400):
            self.oauth.fail_with = code
            st, body = synthesize(s, {"text": "Plants need light."})
            self.assertEqual(st, 502, body)
            self.assertEqual(body["code"], "SPEECH_UPSTREAM_FAILED")
            self.assertIn("access token", body["error"])
            self.assertIn(self.key.email, body["error"])
            bodies.append(body)
            if HAVE_DICTATION:
                st, body = transcribe(s, self.wav)
                self.assertEqual(st, 502, body)
                self.assertEqual(body["code"], "STT_FAILED")
                self.assertIn("access token", body["error"])
                bodies.append(body)
        self.assertEqual(self.tts.synth_requests(), [])  # nothing went out without a token
        self.assertEqual(self.stt.requests, [])
        self.assertIn("cannot get an OAuth access token for " + self.key.email, s.srv.output())
        # the endpoint comes back: so does speech (after the 2 s hold-off)
        self.oauth.fail_with = None
        end = time.time() + 30
        while True:
            st, body = synthesize(s, {"text": "Plants need light."})
            if st == 200 or time.time() > end:
                break
            time.sleep(0.2)
        self.assertEqual(st, 200, body)
        self.assertNoSecrets(s, *bodies)


class TestConfig(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.key = ServiceAccountKey()
        cls.key_path = cls.key.write()

    def check(self, plugins):
        text = lxtest.config(plugins=plugins, routes=[])
        return lxtest.run_config(text, timeout=20)

    def test_without_the_auth_plugin_a_service_account_refuses_to_start(self):
        for cfg in ({"provider": "google", "service_account": self.key_path},
                    {"stt": {"provider": "google"}, "service_account": self.key_path}):
            rc, out, err, path = self.check([speech_plugin(cfg)])
            self.assertEqual(rc, 1, out + err)
            self.assertRegex(err, re.escape(path) + r":\d+: speech: service_account needs the "
                             r"auth plugin's service google_token\.v1")
            self.assertNotIn("PRIVATE KEY", out + err)

    def test_a_bad_key_file_refuses_to_start_naming_it_never_its_content(self):
        d = lxtest.tempdir()
        no_key = os.path.join(d, "no-key.json")
        with open(no_key, "w") as f:
            json.dump({"client_email": "x@y.z", "private_key_id": "k",
                       "private_key_note": self.key.pem}, f)
        bad_pem = os.path.join(d, "bad-pem.json")
        with open(bad_pem, "w") as f:
            json.dump({"client_email": "x@y.z", "private_key_id": "k",
                       "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                      "-----END PRIVATE KEY-----\n"}, f)
        for key_path, says in ((os.path.join(d, "absent.json"), "No such file"),
                               (no_key, 'no "private_key"'),
                               (bad_pem, "not an RSA PEM key")):
            cfg = {"provider": "google", "service_account": key_path}
            rc, out, err, path = self.check([{"name": "auth", "file": lxkeys.auth_so()},
                                             speech_plugin(cfg)])
            self.assertEqual(rc, 1, out + err)
            self.assertRegex(err, re.escape(path) + r":\d+: speech: service_account: service "
                             r"account " + re.escape(key_path))
            self.assertIn(says, err)
            for line in self.key.pem_lines:
                self.assertNotIn(line, out + err)


if __name__ == "__main__":
    lxtest.main()
