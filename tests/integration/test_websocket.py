#!/usr/bin/env python3
"""WebSocket routes: the handshake and its refusals, echo through the
session API (tests/plugins/ws_echo.c), message limits, fragments, pings,
bad frames, both close handshakes, holds for offloaded work, back-pressure,
timers, the session cap, signals and a killed worker, metrics, and the
configuration checks. Python's `websockets` for what real clients do,
raw sockets (lxws.Raw) for what they never send."""

import os
import re
import signal
import time

import lxtest
import lxws
from lxtest import config, route, write_config
from lxws import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Raw, close_payload


def ws_route(path, handler="ws_echo.echo", **extra):
    r = {lxtest.ROUTE_PATH_KEY: path, "websocket": handler}
    r.update(extra)
    return r


ROUTES = [
    ws_route("/ws"),
    ws_route("/ws/small", max_message="64K"),
    ws_route("/ws/idle", idle_timeout="700ms"),
    ws_route("/ws/ping", ping_interval="300ms", idle_timeout=0),
    ws_route("/ws/reject", "ws_echo.reject"),
    ws_route("/ws/late", "ws_echo.late"),
    ws_route("/ws/refuse", "ws_echo.refuse"),
    ws_route("/ws/deny", before=["testplug.deny"]),
    ws_route("/ws/user", before=["testplug.set_user"]),
    ("GET", "/echo", "testplug.echo"),
    ("GET", "/metrics", "health.metrics"),
    ("GET", "/health", "health.live"),
]

PLUGINS = ("testplug", "health", "ws_echo")
ALLOWED = "http://allowed.example"


def ws_config(routes=None, server=None, workers=1):
    srv = {"cors_origins": [ALLOWED], "shutdown_grace": "5s"}
    srv.update(server or {})
    return config(routes=routes or ROUTES, plugins=PLUGINS, server=srv, workers=workers)


def closed_line(srv, req_id, timeout=10.0):
    """ws_echo's on_close line of session req_id (waits for it)."""
    pat = re.compile(r"ws_echo closed id=%s code=(\d+) reason=(.*) messages=(\d+)"
                     % re.escape(req_id))
    line = srv.wait_log(lambda l: l.get("src") == "ws_echo" and pat.search(l.get("msg", "")),
                        timeout)
    if line is None:
        return None
    m = pat.search(line["msg"])
    n = sum(1 for l in srv.logs() if l.get("src") == "ws_echo" and pat.search(l.get("msg", "")))
    return int(m.group(1)), m.group(2), n


class WsCase(lxtest.TestCase):

    def setUp(self):
        super().setUp()
        lxws.require_websockets(self)


class TestWebSocket(WsCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = lxtest.Server(ws_config())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_checked()

    def refused(self, path="/ws", headers=None, extra=b""):
        with Raw(self.srv, path, headers=headers, extra=extra) as r:
            return r.status, r.headers, r.body()

    # -------------------------------------------------------- handshake

    def test_ws_handshake_good_answers_101_with_the_accept_key(self):
        with Raw(self.srv, "/ws") as r:
            self.assertEqual(r.status, 101)
            self.assertEqual(r.headers.get("upgrade", "").lower(), "websocket")
            self.assertEqual(r.headers.get("connection", "").lower(), "upgrade")
            self.assertEqual(r.headers.get("sec-websocket-accept"), lxws.accept_for(r.key))
            self.assertTrue(r.headers.get("x-request-id"))
            self.assertNotIn("content-length", r.headers)
            r.send_frame(OP_TEXT, "ping?")
            self.assertEqual(r.recv_frame(), (True, OP_TEXT, b"ping?"))
        line = self.srv.wait_access(req_id=r.headers["x-request-id"])
        self.assertEqual(line["status"], 101)
        self.assertEqual(line["route"], "/ws")

    def test_ws_handshake_rfc_sample_key_gets_the_rfc_accept(self):
        with Raw(self.srv, "/ws", key="dGhlIHNhbXBsZSBub25jZQ==") as r:
            self.assertEqual(r.status, 101)
            self.assertEqual(r.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_ws_handshake_missing_key_is_400(self):
        status, _, body = self.refused(headers={"Sec-WebSocket-Key": None})
        j = self.assertJsonError(status, body, 400, "BAD_HANDSHAKE")
        self.assertIn("Sec-WebSocket-Key", j["error"])

    def test_ws_handshake_bad_key_is_400(self):
        status, _, body = self.refused(headers={"Sec-WebSocket-Key": "short"})
        self.assertJsonError(status, body, 400, "BAD_HANDSHAKE")

    def test_ws_handshake_wrong_version_is_426_naming_13(self):
        status, hdrs, body = self.refused(headers={"Sec-WebSocket-Version": "8"})
        self.assertJsonError(status, body, 426, "WEBSOCKET_VERSION")
        self.assertEqual(hdrs.get("sec-websocket-version"), "13")

    def test_ws_handshake_with_a_body_is_400(self):
        status, _, body = self.refused(headers={"Content-Length": "5"}, extra=b"hello")
        j = self.assertJsonError(status, body, 400, "BAD_HANDSHAKE")
        self.assertIn("body", j["error"])

    def test_ws_handshake_post_is_400(self):
        s = self.srv.socket()
        try:
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            s.sendall(("POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
                       "Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                       "Content-Length: 0\r\n\r\n" % key).encode())
            data = b""
            while b"}" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        self.assertEqual(lxtest.status_of(data), 400, data)
        self.assertIn(b'"BAD_HANDSHAKE"', data)

    def test_ws_plain_get_on_a_websocket_route_is_400(self):
        status, _, body = self.srv.get("/ws")
        j = self.assertJsonError(status, body, 400, "BAD_HANDSHAKE")
        self.assertIn("WebSocket", j["error"])

    def test_ws_missing_connection_upgrade_is_400(self):
        status, _, body = self.refused(headers={"Connection": "keep-alive"})
        self.assertJsonError(status, body, 400, "BAD_HANDSHAKE")

    def test_ws_upgrade_to_a_plain_route_is_refused(self):
        status, _, body = self.refused("/echo")
        self.assertJsonError(status, body, 400, "NOT_A_WEBSOCKET")
        # a plain request there is still served
        self.assertEqual(self.srv.get("/echo")[0], 200)

    def test_ws_origin_not_allowed_is_403(self):
        status, _, body = self.refused(headers={"Origin": "http://evil.example"})
        self.assertJsonError(status, body, 403, "ORIGIN_NOT_ALLOWED")

    def test_ws_origin_in_cors_origins_or_the_servers_own_is_accepted(self):
        own = "http://%s:%d" % (self.srv.host, self.srv.port)
        for origin in (ALLOWED, own):
            with Raw(self.srv, "/ws", headers={"Origin": origin}) as r:
                self.assertEqual(r.status, 101, origin)

    def test_ws_middleware_runs_before_the_upgrade(self):
        status, _, body = self.refused("/ws/deny")
        self.assertJsonError(status, body, 401, "UNAUTHENTICATED")
        with lxws.connect(self.srv, "/ws/user") as c:
            rid = c.response_headers["X-Request-Id"]
            c.send("hi")
            self.assertEqual(c.recv(), "hi")
        line = self.srv.wait_access(req_id=rid)
        self.assertEqual((line["status"], line["uid"]), (101, "alice"))

    def test_ws_handler_may_refuse_with_json_before_the_upgrade(self):
        status, _, body = self.refused("/ws/refuse")
        self.assertJsonError(status, body, 403, "FORBIDDEN")

    def test_ws_handler_may_accept_later(self):
        with lxws.connect(self.srv, "/ws/late") as c:
            c.send("later")
            self.assertEqual(c.recv(), "later")

    def test_ws_reject_upgrades_then_closes_4001(self):
        with lxws.connect(self.srv, "/ws/reject") as c:
            rid = c.response_headers["X-Request-Id"]
            code, reason, msgs = c.wait_closed()
        self.assertEqual((code, reason, msgs), (4001, "Authentication failed", []))
        self.assertEqual(self.srv.wait_access(req_id=rid)["status"], 101)

    def test_ws_bytes_sent_with_the_handshake_are_processed(self):
        with Raw(self.srv, "/ws", extra=lxws.frame(OP_TEXT, "early")) as r:
            self.assertEqual(r.status, 101)
            self.assertEqual(r.recv_frame(), (True, OP_TEXT, b"early"))

    # -------------------------------------------------------- messages

    def test_ws_text_and_binary_echo(self):
        with lxws.connect(self.srv) as c:
            c.send("héllo ✓")
            self.assertEqual(c.recv(), "héllo ✓")
            c.send(b"\x00\x01\xffbinary")
            self.assertEqual(c.recv(), b"\x00\x01\xffbinary")
            c.send("")
            self.assertEqual(c.recv(), "")

    def test_ws_1mib_message_echoes_and_one_byte_more_closes_1009(self):
        with lxws.connect(self.srv) as c:
            big = os.urandom(1 << 20)
            c.send(big)
            self.assertEqual(c.recv(), big)
            try:
                c.send(b"x" * ((1 << 20) + 1))
            except lxws.websockets.exceptions.ConnectionClosed as e:
                # The server closes once the frame's header says how long
                # it is, which may be before the client has written it all.
                code, msgs = e.code, []
            else:
                code, _, msgs = c.wait_closed()
        self.assertEqual((code, msgs), (1009, []))

    def test_ws_fragmented_message_with_interleaved_ping_is_delivered_whole(self):
        with Raw(self.srv) as r:
            r.send_frame(OP_TEXT, "hel", fin=False)
            r.send_frame(OP_PING, "p1")
            r.send_frame(OP_CONT, "lo ", fin=False)
            r.send_frame(OP_PING, "p2")
            r.send_frame(OP_CONT, "world", fin=True)
            got = [r.recv_frame() for _ in range(3)]
        self.assertEqual(got, [(True, OP_PONG, b"p1"), (True, OP_PONG, b"p2"),
                               (True, OP_TEXT, b"hello world")])

    def test_ws_client_pings_get_pongs(self):
        with lxws.connect(self.srv) as c:
            for _ in range(3):
                c.ping()
            c.send("after pings")
            self.assertEqual(c.recv(), "after pings")

    def test_ws_invalid_utf8_text_closes_1007(self):
        with Raw(self.srv) as r:
            r.send_frame(OP_TEXT, b"ok \xff\xfe")
            code, _, seen = r.recv_until_close()
        self.assertEqual((code, seen), (1007, []))

    def test_ws_unmasked_client_frame_closes_1002(self):
        with Raw(self.srv) as r:
            r.send_frame(OP_TEXT, "bare", mask=False)
            code, _, seen = r.recv_until_close()
        self.assertEqual((code, seen), (1002, []))

    def test_ws_unknown_opcode_and_reserved_bits_close_1002(self):
        for kw in ({"opcode": 3}, {"opcode": OP_TEXT, "rsv": 4}):
            with Raw(self.srv) as r:
                op = kw.pop("opcode")
                r.send_frame(op, "x", **kw)
                code, _, _ = r.recv_until_close()
            self.assertEqual(code, 1002, kw)

    # -------------------------------------------------------- closing

    def test_ws_client_close_is_answered_and_on_close_runs_once_with_its_code(self):
        with lxws.connect(self.srv) as c:
            rid = c.response_headers["X-Request-Id"]
            c.send("one")
            c.recv()
            c.close(4000, "bye")
            self.assertEqual(c.close_code, 4000)
        code, reason, n = closed_line(self.srv, rid)
        self.assertEqual((code, reason, n), (4000, "bye", 1))

    def test_ws_raw_client_close_gets_the_same_code_back(self):
        with Raw(self.srv) as r:
            rid = r.headers["x-request-id"]
            r.send_frame(OP_CLOSE, close_payload(1000, b"done"))
            code, reason, _ = r.recv_until_close()
            self.assertEqual((code, reason), (1000, "done"))
            self.assertTrue(r.is_closed_by_server())
        self.assertEqual(closed_line(self.srv, rid), (1000, "done", 1))

    def test_ws_server_close_goes_out_after_the_queued_messages(self):
        with Raw(self.srv) as r:
            r.send_frame(OP_TEXT, "!flood 5 100000")
            r.send_frame(OP_TEXT, "!close 4002 that is all")
            code, reason, seen = r.recv_until_close()
            r.send_frame(OP_CLOSE, close_payload(4002))
            self.assertTrue(r.is_closed_by_server())
        self.assertEqual((code, reason), (4002, "that is all"))
        self.assertEqual([op for op, _ in seen], [OP_BINARY] * 5 + [OP_TEXT])
        self.assertEqual([len(p) for op, p in seen[:5]], [100000] * 5)
        self.assertEqual(seen[5][1], b"flood sent 5")

    def test_ws_send_after_close_is_refused(self):
        with lxws.connect(self.srv) as c:
            c.send("!send-after-close")
            code, reason, msgs = c.wait_closed()
        self.assertEqual((code, reason, msgs), (1000, "bye", []))
        line = self.srv.wait_log(lambda l: "ws_echo send after close" in l.get("msg", ""))
        self.assertIn("send after close: -6", line["msg"])  # LX_ESTATE

    def test_ws_on_message_failure_closes_1011(self):
        with lxws.connect(self.srv) as c:
            c.send("!fail")
            code, _, _ = c.wait_closed()
        self.assertEqual(code, 1011)

    def test_ws_close_with_a_bad_code_is_refused(self):
        with lxws.connect(self.srv) as c:
            c.send("!close 1005 nope")
            self.assertEqual(c.recv(), "close refused -3")  # LX_EINVAL
            c.send("still open")
            self.assertEqual(c.recv(), "still open")

    # -------------------------------------------------------- holds, back-pressure

    def test_ws_offload_holds_the_session_and_resumes_in_order(self):
        with lxws.connect(self.srv) as c:
            c.send("!offload 300 done")
            c.send("a")
            c.send(b"b")
            self.assertEqual([c.recv(), c.recv(), c.recv()], ["done", "a", b"b"])

    def test_ws_peer_gone_during_a_hold_gets_on_close_once_after_resume(self):
        r = Raw(self.srv)
        rid = r.headers["x-request-id"]
        r.send_frame(OP_TEXT, "!offload 300 late")
        r.send_frame(OP_TEXT, "queued behind the hold")
        time.sleep(0.05)
        r.close()
        code, _, n = closed_line(self.srv, rid)
        self.assertEqual((code, n), (1006, 1))
        self.assertIsNotNone(self.srv.wait_log(
            lambda l: "id=%s" % rid in l.get("msg", "") and "messages=2" in l.get("msg", "")))

    def test_ws_queue_is_capped_for_a_peer_that_does_not_read(self):
        with Raw(self.srv, "/ws/small") as r:
            r.send_frame(OP_TEXT, "!flood 50 60000")
            code = None
            seen = []
            while True:
                fin, op, payload = r.recv_frame()
                seen.append((op, payload))
                if op == OP_TEXT:
                    break
        sent = int(seen[-1][1].split()[-1])
        self.assertLess(sent, 50, "ws_send never said LX_ETOOBIG")
        self.assertGreaterEqual(sent, 4)
        self.assertEqual(len(seen), sent + 1)
        self.assertIsNone(code)

    def test_ws_queued_reports_bytes_not_yet_written(self):
        with lxws.connect(self.srv) as c:
            c.send("!queued")
            self.assertEqual(c.recv(), "queued 0")

    # -------------------------------------------------------- timers

    def test_ws_idle_session_is_closed_1001(self):
        with lxws.connect(self.srv, "/ws/idle", ping_interval=None) as c:
            t0 = time.time()
            code, reason, _ = c.wait_closed(timeout=10)
        self.assertEqual((code, reason), (1001, "idle timeout"))
        self.assertGreaterEqual(time.time() - t0, 0.6)

    def test_ws_quiet_peer_is_pinged_and_dropped_without_a_pong(self):
        with Raw(self.srv, "/ws/ping") as r:
            rid = r.headers["x-request-id"]
            fin, op, _ = r.recv_frame()
            self.assertEqual(op, OP_PING)
            self.assertTrue(r.is_closed_by_server(), "no pong, yet still connected")
        self.assertEqual(closed_line(self.srv, rid)[:2], (1006, ""))

    def test_ws_peer_that_answers_pings_stays(self):
        with Raw(self.srv, "/ws/ping") as r:
            for _ in range(3):
                fin, op, payload = r.recv_frame()
                self.assertEqual(op, OP_PING)
                r.send_frame(OP_PONG, payload)
            r.send_frame(OP_TEXT, "still here")
            while True:
                fin, op, payload = r.recv_frame()
                if op == OP_TEXT:
                    break
                r.send_frame(OP_PONG, payload)
            self.assertEqual(payload, b"still here")

    # -------------------------------------------------------- metrics

    def test_ws_metrics_count_sessions_messages_and_closes(self):
        with lxws.connect(self.srv) as c:
            c.send("m1")
            c.recv()
            status, _, body = self.srv.get("/metrics")
            self.assertEqual(status, 200)
            text = body.decode()
            m = re.search(r'lexiaid_websocket_sessions\{worker="0"\} (\d+)', text)
            self.assertGreaterEqual(int(m.group(1)), 1)
            c.close(1000)
        self.srv.wait_log(lambda l: "ws_echo closed" in l.get("msg", ""))
        text = self.srv.get("/metrics")[2].decode()
        for name in ('lexiaid_websocket_messages_total{direction="in"}',
                     'lexiaid_websocket_messages_total{direction="out"}',
                     'lexiaid_websocket_bytes_total{direction="in"}',
                     'lexiaid_websocket_closes_total{code="1000"}'):
            m = re.search(re.escape(name) + r" (\d+)", text)
            self.assertIsNotNone(m, name)
            self.assertGreater(int(m.group(1)), 0, name)


class TestWebSocketLifecycle(WsCase):

    def test_ws_session_outlives_the_http_idle_timeout(self):
        # evhttp armed its read timeout (server.idle_timeout) on the connection;
        # the takeover must leave none behind
        srv = self.start(ws_config(server={"idle_timeout": "300ms"}, routes=[
            ws_route("/ws", idle_timeout=0, ping_interval=0)]))
        with Raw(srv) as r:
            time.sleep(1.2)  # four HTTP idle timeouts: the session must not notice
            r.send_frame(OP_TEXT, "still here")
            self.assertEqual(r.recv_frame(), (True, OP_TEXT, b"still here"))

    def test_ws_sessions_count_as_connections_and_give_them_back(self):
        # a taken-over connection stays counted against max_connections while
        # its session lives, and is given back when it ends
        srv = self.start(ws_config(server={"max_connections": 16}))
        for round_ in range(3):
            clients = [lxws.connect(srv) for _ in range(12)]
            try:
                for c in clients:
                    c.send("r%d" % round_)
                    self.assertEqual(c.recv(), "r%d" % round_)
            finally:
                for c in clients:
                    c.done()
            ids = [c.response_headers["X-Request-Id"] for c in clients]
            for rid in ids:
                self.assertIsNotNone(closed_line(srv, rid))
        self.assertEqual(srv.get("/echo")[0], 200)

    def test_ws_session_cap_answers_503_before_the_upgrade(self):
        srv = self.start(ws_config(server={"max_websockets": 2}))
        a, b = lxws.connect(srv), lxws.connect(srv)
        try:
            with Raw(srv) as r:
                status, body = r.status, r.body()
            self.assertJsonError(status, body, 503, "TOO_MANY_SESSIONS")
            rid = a.response_headers["X-Request-Id"]
            a.close()
            self.assertIsNotNone(closed_line(srv, rid))
            with lxws.connect(srv) as c:
                c.send("in")
                self.assertEqual(c.recv(), "in")
        finally:
            a.done()
            b.done()

    def test_ws_sigterm_closes_sessions_1001_and_exits(self):
        srv = self.start(ws_config())
        clients = [lxws.connect(srv) for _ in range(3)]
        try:
            for c in clients:
                c.send("x")
                c.recv()
            srv.signal(signal.SIGTERM)
            codes = [c.wait_closed(timeout=10)[:2] for c in clients]
            self.assertEqual(codes, [(1001, "server going away")] * 3)
            rc = srv.proc.wait(15)
            self.assertEqual(rc, 0, srv.output()[-2000:])
            # drained: the sessions ended, the grace period did not have to cut them
            self.assertNotIn("grace period over", srv.output())
        finally:
            for c in clients:
                c.done()

    def test_ws_sigterm_with_a_silent_peer_exits_within_shutdown_grace(self):
        srv = self.start(ws_config(server={"shutdown_grace": "1500ms"}))
        with Raw(srv) as r:
            srv.signal(signal.SIGTERM)
            fin, op, payload = r.recv_frame()  # the close frame, never answered
            self.assertEqual((op, payload[:2]), (OP_CLOSE, close_payload(1001)))
            rc = srv.proc.wait(15)
            self.assertTrue(r.is_closed_by_server())
        self.assertEqual(rc, 0)
        # the grace period (1.5 s, under the close handshake's 5 s) ended it
        self.assertIn("grace period over with 0 requests and 1 WebSocket sessions", srv.output())

    def test_ws_session_accepted_while_stopping_gets_1001(self):
        srv = self.start(ws_config())
        with Raw(srv, "/ws/late?ms=1500", wait=False) as r:
            self.assertIsNotNone(srv.wait_log(
                lambda l: "ws_echo late accept in 1500 ms" in l.get("msg", "")))
            srv.signal(signal.SIGTERM)
            r.read_head()
            self.assertEqual(r.status, 101)
            code, reason, _ = r.recv_until_close()
            self.assertEqual((code, reason), (1001, "server going away"))
            r.send_frame(OP_CLOSE, close_payload(1001))
        self.assertEqual(srv.proc.wait(10), 0)

    def test_ws_sighup_old_generation_drains_new_sessions_reach_the_new_one(self):
        srv = self.start(ws_config())
        old = lxws.connect(srv)
        try:
            old.send("!pid")
            old_pid = int(old.recv().split()[1])
            srv.signal(signal.SIGHUP)
            code, reason, _ = old.wait_closed(timeout=10)
            self.assertEqual((code, reason), (1001, "server going away"))
            deadline = time.time() + 10
            while time.time() < deadline and old_pid in srv.worker_pids():
                time.sleep(0.05)
            self.assertNotIn(old_pid, srv.worker_pids(), "the old worker did not exit")
            with lxws.connect(srv) as new:
                new.send("!pid")
                new_pid = int(new.recv().split()[1])
                new.send("fresh")
                self.assertEqual(new.recv(), "fresh")
            self.assertNotEqual(new_pid, old_pid)
        finally:
            old.done()

    def test_ws_killed_worker_takes_only_its_own_sessions(self):
        srv = self.start(ws_config(workers=2))
        self.assertEqual(len(srv.wait_workers(2)), 2)
        by_pid = {}
        clients = []
        try:
            # Both workers accept from one socket: which one wins a
            # connection is the scheduler's choice, and on a busy machine one
            # can win many in a row. Connect until each holds two sessions,
            # pausing a little longer each time one worker keeps winning
            # (a safety net of 120 connections, not a timing).
            for i in range(120):
                c = lxws.connect(srv)
                clients.append(c)
                c.send("!pid")
                by_pid.setdefault(int(c.recv().split()[1]), []).append(c)
                if len(by_pid) == 2 and all(len(v) >= 2 for v in by_pid.values()):
                    break
                time.sleep(min(0.005 * i, 0.2))
            self.assertEqual(len(by_pid), 2, "sessions never reached both workers")
            victim, survivor = sorted(by_pid)
            os.kill(victim, signal.SIGKILL)
            for c in by_pid[victim]:
                code, _, _ = c.wait_closed(timeout=10)
                self.assertEqual(code, 1006)
            for c in by_pid[survivor]:
                c.send("alive")
                self.assertEqual(c.recv(), "alive")
            # the restarted worker's gauge counts its own sessions (none), not the dead one's
            self.assertEqual(len(srv.wait_workers(2, exclude=(victim,))), 2)
            deadline = time.time() + 10
            while True:
                text = srv.get("/metrics")[2].decode()
                open_now = sum(int(n) for n in re.findall(
                    r'^lexiaid_websocket_sessions\{worker="\d+"\} (-?\d+)$', text, re.M))
                if open_now == len(by_pid[survivor]) or time.time() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual(open_now, len(by_pid[survivor]), text)
        finally:
            for c in clients:
                c.done()


class TestWebSocketConfig(lxtest.TestCase):

    def assertRefused(self, routes, needle, line_needle, server=None):
        text = config(routes=routes, plugins=PLUGINS, server=server)
        path = write_config(text)
        rc, out, err = lxtest.run(["-t", "-c", path])
        both = out + err
        self.assertEqual(rc, 1, both)
        self.assertIn(needle, both)
        lines = [i + 1 for i, l in enumerate(text.splitlines()) if line_needle in l]
        self.assertTrue(any("%s:%d:" % (path, n) in both for n in lines),
                        "no %s:LINE for %r in\n%s" % (path, line_needle, both))

    def test_ws_config_good_routes_pass_the_check(self):
        path = write_config(config(routes=ROUTES, plugins=PLUGINS))
        rc, out, err = lxtest.run(["-t", "-c", path])
        self.assertEqual(rc, 0, out + err)

    def test_ws_config_refuses_handler_and_websocket_together(self):
        r = ws_route("/w")
        r["handler"] = "testplug.echo"
        self.assertRefused([r], "either 'handler' or 'websocket'", "/w")

    def test_ws_config_refuses_a_method_other_than_get(self):
        self.assertRefused([ws_route("/w", method="POST")], "method is GET", "/w")

    def test_ws_config_refuses_max_body_on_a_websocket_route(self):
        self.assertRefused([ws_route("/w", max_body="1K")], "takes no body", "/w")

    def test_ws_config_refuses_websocket_limits_on_a_plain_route(self):
        self.assertRefused([route("GET", "/p", "testplug.echo", max_message="1K")],
                           "'max_message' applies to WebSocket routes only", "/p")

    def test_ws_config_refuses_bad_limits(self):
        self.assertRefused([ws_route("/w", max_message="2G")], "max_message", "/w")
        self.assertRefused([ws_route("/w", ping_interval="soon")], "duration", "/w")

    def test_ws_config_refuses_a_handler_that_is_not_a_websocket_handler(self):
        self.assertRefused([ws_route("/w", "testplug.echo")], "is not a WebSocket handler", "/w")

    def test_ws_config_refuses_a_websocket_handler_as_a_plain_handler(self):
        self.assertRefused([route("GET", "/p", "ws_echo.echo")], "is a WebSocket handler", "/p")

    def test_ws_config_refuses_a_bad_session_cap(self):
        text = config(routes=ROUTES, plugins=PLUGINS, server={"max_websockets": -1})
        path = write_config(text)
        rc, out, err = lxtest.run(["-t", "-c", path])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("max_websockets", out + err)


if __name__ == "__main__":
    lxtest.main()
