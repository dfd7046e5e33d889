#!/usr/bin/env python3
"""auth.websocket_user on a WebSocket route, against a loopback certificate
server and real RS256 tokens (lxkeys): the ID token from the `token` query
parameter (browsers cannot set headers on a WebSocket), refusals as an
upgrade then close 4001 (a 401 reaches a browser only as 1006), and the
token redacted in the access log."""

import os
import time
import urllib.parse

import lxtest
import lxws
from lxkeys import Fake, PROJECT, auth_so, bearer, claims, make_keys, token
from lxtest import config, route


def ws_route(path, **extra):
    r = {lxtest.ROUTE_PATH_KEY: path, "websocket": "ws_echo.echo",
         "before": ["auth.websocket_user"]}
    r.update(extra)
    return r


class TestWebSocketAuth(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        make_keys()
        cls.fake = Fake()
        cls.fake.certs("/certs", "k1")
        cls.srv = lxtest.Server(config(
            routes=[ws_route("/ws/stt/stream"),
                    route("GET", "/plain", "testplug.echo", before=["auth.websocket_user"])],
            plugins=["testplug", "ws_echo",
                     {"name": "auth", "file": auth_so(),
                      "config": {"project_id": PROJECT, "certs_url": cls.fake.url + "/certs"}}]))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_checked()
        cls.fake.close()

    def setUp(self):
        super().setUp()
        lxws.require_websockets(self)
        if not os.path.exists(auth_so()):
            self.fail("missing %s (build first)" % auth_so())

    def url(self, tok=None, extra=""):
        q = "?token=" + urllib.parse.quote(tok, safe="") if tok is not None else "?x=1"
        return "/ws/stt/stream" + q + extra

    def assertClosed4001(self, path, reason=None, headers=None):
        kw = {"extra_headers": headers} if headers else {}
        with lxws.connect(self.srv, path, **kw) as c:
            rid = c.response_headers["X-Request-Id"]
            code, why, msgs = c.wait_closed()
        self.assertEqual((code, msgs), (4001, []))
        if reason is not None:
            self.assertEqual(why, reason)
        self.assertEqual(self.srv.wait_access(req_id=rid)["status"], 101)
        return rid

    def assertNoToken(self, *tokens):
        out = self.srv.output()
        for t in tokens:
            for part in [t] + [p for p in t.split(".") if len(p) > 20]:
                self.assertNotIn(part, out, "a token (or part of one) reached the log")

    def test_ws_auth_token_in_the_query_opens_the_session_as_its_user(self):
        tok = token()
        with lxws.connect(self.srv, self.url(tok, "&lang=en")) as c:
            rid = c.response_headers["X-Request-Id"]
            self.assertEqual(c.recv(), '{"uid":"u1"}')
            c.send(b"\x01\x02audio")
            self.assertEqual(c.recv(), b"\x01\x02audio")
        line = self.srv.wait_access(req_id=rid)
        self.assertEqual((line["status"], line["uid"]), (101, "u1"))
        self.assertEqual(line["query"], "token=[REDACTED]&lang=en")
        self.srv.wait_log(lambda l: "ws_echo closed id=%s" % rid in l.get("msg", ""))
        self.assertNoToken(tok)

    def test_ws_auth_bearer_header_works_too(self):
        with lxws.connect(self.srv, "/ws/stt/stream", extra_headers=bearer(token())) as c:
            self.assertEqual(c.recv(), '{"uid":"u1"}')

    def test_ws_auth_missing_token_closes_4001(self):
        self.assertClosed4001(self.url(None), "missing token")

    def test_ws_auth_bad_token_closes_4001(self):
        bad = token()[:-10] + "AAAAAAAAAA"
        self.assertClosed4001(self.url(bad))
        self.assertClosed4001(self.url("not a token"), "malformed token")
        self.assertNoToken(bad)

    def test_ws_auth_expired_token_closes_4001(self):
        now = int(time.time())
        tok = token(payload=claims(iat=now - 7200, auth_time=now - 7200, exp=now - 3600))
        self.assertClosed4001(self.url(tok), "token expired")
        self.assertNoToken(tok)

    def test_ws_auth_query_token_is_not_read_on_a_plain_route(self):
        status, _, body = self.srv.get("/plain?token=" + token())
        self.assertJsonError(status, body, 401, "UNAUTHENTICATED")
        status, _, body = self.srv.get("/plain", headers=bearer(token()))
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    lxtest.main()
