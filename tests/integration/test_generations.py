#!/usr/bin/env python3
"""Plugin state across generations (issue 13, item 1): the loader never
dlcloses, so a plugin's statics are shared by every generation of the
process. After a SIGHUP the new generation's init runs while the old one
still serves, and the old generation's shutdown runs when it has drained;
a worker forked after that (a crash, an OOM kill, `kill -9`) must still find
its generation's state whole.

The real binary with every real plugin (health; auth with real RS256
tokens and the account routes against loopback fakes of Google's endpoints;
storage on SQLite; tutoring offline): every route answers, then SIGHUP, the
old generation drains, every worker is killed with SIGKILL, and every route
of every plugin must answer exactly as before, from the restarted workers.
And testplug, whose state carries the label its config gave it, pins the
kernel's side: each generation's handlers and shutdown get that
generation's state."""

import json
import os
import signal
import lxtest
from lxtutor import tutor_server
from lxkeys import make_keys
from test_auth import FakeGoogle, write_sa

DOC = """The Solar System

Mars is called the Red Planet because iron oxide dust covers its rocky surface.

Light from the Sun takes about 8 minutes to reach the Earth.
"""
LIGHT = "Light from the Sun takes about 8 minutes to reach the Earth."
MARS = "Mars is called the Red Planet because iron oxide dust covers its rocky surface."
MESSY = ("um so the the water cycle uh is when water evaporates and i think i think "
         "it rains")

USER = ["auth.require_user"]
MORE_ROUTES = [
    lxtest.route("GET", "/api/health", "health.api"),
    lxtest.route("GET", "/metrics", "health.metrics"),
    lxtest.route("GET", "/api/auth/me", "auth.me", before=USER),
    lxtest.route("POST", "/api/users", "auth.signup"),
    lxtest.route("POST", "/api/users/verify-email", "auth.verify_email", before=USER),
    lxtest.route("DELETE", "/api/users", "auth.delete_user", before=USER),
]


class TestGenerations(lxtest.TestCase):

    def every_route(self, s, tag):
        """Calls every route of every plugin once as a new user and checks
        each answer; ends by deleting that user (DELETE /api/users)."""
        uid = "gen-" + tag
        srv = s.srv

        # health
        status, _, body = srv.get("/health")
        self.assertEqual((status, lxtest.parse_json(body)["status"]), (200, "ok"), body)
        status, _, body = srv.get("/api/health")
        self.assertEqual((status, lxtest.parse_json(body)["status"]), (200, "ok"), body)
        status, _, body = srv.get("/ready")
        j = lxtest.parse_json(body)
        self.assertEqual((status, j["status"]), (200, "ready"), j)
        self.assertTrue(j["plugins"]["storage"]["ok"], j)
        self.assertTrue(j["plugins"]["auth"]["ok"], j)
        status, _, body = srv.get("/metrics")
        self.assertEqual(status, 200, body[:300])
        self.assertIn(b"lexiaid_build_info", body)

        # auth
        status, j = s.json("GET", "/api/auth/me", uid=uid)
        self.assertEqual((status, j["uid"]), (200, uid), j)
        status, _, body = srv.request("POST", "/api/users", headers={
            "Content-Type": "application/json"}, body=json.dumps(
                {"email": uid + "@example.com", "password": "secret1"}).encode())
        self.assertEqual((status, lxtest.parse_json(body).get("userId")), (201, "new-uid"), body)
        status, j = s.json("POST", "/api/users/verify-email", uid=uid)
        self.assertEqual((status, j), (200, {"status": "success",
                                             "link": "https://x/verify?oob=1"}))

        # storage
        status, j = s.json("POST", "/api/users/init", uid=uid)
        self.assertEqual((status, j["status"], j["created"]), (200, "success", True), j)
        status, j = s.json("PUT", "/api/users/profile", uid=uid,
                           body={"preferences": {"fontSize": 20}})
        self.assertEqual((status, j), (200, {"status": "success",
                                             "message": "Profile updated"}))
        status, j = s.json("GET", "/api/users/profile", uid=uid)
        self.assertEqual((status, j["data"]["uid"], j["data"]["preferences"]["fontSize"]),
                         (200, uid, 20), j)
        status, doc = s.upload("solar.txt", DOC.encode(), uid=uid, name="Solar",
                               mime="text/plain")
        self.assertEqual((status, doc.get("processing_status")), (200, "processed"), doc)
        doc_id = doc["document_id"]
        status, j = s.json("GET", "/api/documents", uid=uid)
        self.assertEqual((status, [d["id"] for d in j]), (200, [doc_id]), j)
        status, j = s.json("GET", "/api/documents/" + doc_id, uid=uid)
        self.assertEqual((status, j["id"]), (200, doc_id), j)
        status, _, body = s.request("GET", "/api/documents/%s/download" % doc_id, uid=uid)
        self.assertEqual((status, body), (200, DOC.encode()))
        status, j = s.json("POST", "/api/feedback", uid=uid,
                           body={"type": "bug", "description": "round " + tag})
        self.assertEqual((status, j["status"]), (201, "success"), j)
        status, j = s.json("GET", "/api/progress", uid=uid)
        self.assertEqual(status, 200, j)
        admin = s.token("boss", email="admin@example.com")
        for path in ("/api/admin/stats", "/api/admin/users", "/api/admin/feedback"):
            status, _, body = s.request("GET", path, token=admin)
            self.assertEqual((status, lxtest.parse_json(body)["success"]), (200, True),
                             (path, body))

        # tutoring: chat (with a thread that continues), history, answers
        for _ in range(2):  # two chats, so that each of two workers likely gets one
            status, j = s.json("POST", "/api/v2/agent/chat", uid=uid, body={
                "query": "How long does light from the Sun take to reach the Earth?",
                "documentId": doc_id})
            self.assertEqual(status, 200, j)
            self.assertIn(LIGHT, j["response"])
            self.assertEqual(j["provider"], "offline")
        status, j2 = s.json("POST", "/api/v2/agent/chat", uid=uid, body={
            "query": "Why is Mars called the Red Planet?", "thread_id": j["thread_id"]})
        self.assertEqual((status, j2["thread_id"]), (200, j["thread_id"]), j2)
        self.assertIn(MARS, j2["response"])
        status, h = s.json("GET", "/api/v2/agent/history?thread_id=" + j["thread_id"],
                           uid=uid)
        self.assertEqual(status, 200, h)
        self.assertEqual([t["type"] for t in h["conversation_history"]],
                         ["human", "ai", "human", "ai"])
        status, r = s.json("POST", "/api/v2/answer-formulation/refine", uid=uid,
                           body={"transcript": MESSY})
        self.assertEqual((status, r["status"]), (200, "refined"), r)
        status, e = s.json("POST", "/api/v2/answer-formulation/edit", uid=uid,
                           body={"session_id": r["session_id"],
                                 "edit_command": "replace rains with falls as rain"})
        self.assertEqual((status, e["status"], e["iteration_count"]), (200, "edited", 2), e)
        self.assertIn("falls as rain", e["refined_answer"])

        # deletions: the document, then the account with all its data
        status, _, body = s.request("DELETE", "/api/documents/" + doc_id, uid=uid)
        self.assertEqual((status, body), (204, b""))
        status, j = s.json("GET", "/api/documents/" + doc_id, uid=uid)
        self.assertEqual((status, j["code"]), (404, "NOT_FOUND"), j)
        status, j = s.json("DELETE", "/api/users", uid=uid)
        self.assertEqual((status, j), (200, {"status": "success", "message": "User deleted"}))
        status, j = s.json("GET", "/api/v2/agent/history?thread_id=" + j2["thread_id"],
                           uid=uid)
        self.assertEqual(status, 404, j)

    def test_every_route_of_every_plugin_answers_after_reload_drain_and_worker_kill(self):
        make_keys()
        fake = FakeGoogle()
        self.addCleanup(fake.close)
        auth_cfg = {"certs_url": fake.url + "/certs", "service_account": "",
                    "google_application_credentials": write_sa(),
                    "token_url": fake.url + "/token",
                    "identity_toolkit_url": fake.url + "/"}
        s = tutor_server(self, workers=2, tutor_cfg={"provider": "offline"},
                         auth_cfg=auth_cfg, extra_routes=MORE_ROUTES)
        srv = s.srv
        self.every_route(s, "g1")

        srv.signal(signal.SIGHUP)
        drained = srv.wait_log(lambda l: l.get("msg") == "generation 1 drained", timeout=60)
        self.assertIsNotNone(drained, "generation 1 never drained\n" + srv.output()[-3000:])
        self.every_route(s, "g2")  # the workers forked by the reload

        old = srv.wait_workers(2)
        self.assertEqual(len(old), 2, old)
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        new = srv.wait_workers(2, exclude=old, timeout=30)
        self.assertEqual(len(new), 2, "the workers were not restarted")
        self.assertTrue(srv.wait_ok("/ready", timeout=30), srv.output()[-3000:])
        self.every_route(s, "g2-restarted")
        self.assertEqual(sorted(srv.worker_pids()), sorted(new),
                         "a restarted worker died\n" + srv.output()[-3000:])
        self.assertNotIn("was killed by signal 11", srv.output())


class TestGenerationState(lxtest.TestCase):
    """The kernel's side, with testplug: its state carries `label` from its
    config, its shutdown logs the label of the state it was given."""

    def conf(self, label):
        return lxtest.config(
            routes=[("GET", "/state", "testplug.state"), ("GET", "/health", "health.live")],
            plugins=[{"name": "testplug", "config": {"label": label}}, "health"], workers=2)

    def labels(self, srv, n=6):
        got = set()
        for _ in range(n):
            status, _, j = srv.get_json("/state")
            self.assertEqual(status, 200, j)
            got.add((j["label"], j["alive"]))
        return got

    def test_each_generation_gets_its_own_state_across_reload_drain_and_restart(self):
        srv = self.start(self.conf("one"))
        self.assertEqual(self.labels(srv), {("one", True)})
        with open(srv.config_path, "w") as f:
            f.write(self.conf("two"))
        srv.signal(signal.SIGHUP)
        self.assertIsNotNone(srv.wait_log(lambda l: l.get("msg") == "generation 1 drained",
                                          timeout=30), srv.output()[-3000:])
        shut = [l["msg"] for l in srv.logs() if l.get("msg", "").startswith("shutdown of ")]
        self.assertEqual(shut, ["shutdown of the state labelled one"])
        self.assertEqual(self.labels(srv), {("two", True)})

        old = srv.wait_workers(2)
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        self.assertEqual(len(srv.wait_workers(2, exclude=old, timeout=30)), 2)
        self.assertTrue(srv.wait_ok("/health"))
        self.assertEqual(self.labels(srv), {("two", True)})
        self.assertEqual(srv.stop(), 0)
        shut = [l["msg"] for l in srv.logs() if l.get("msg", "").startswith("shutdown of ")]
        self.assertEqual(shut, ["shutdown of the state labelled one",
                                "shutdown of the state labelled two"])


if __name__ == "__main__":
    lxtest.main()
