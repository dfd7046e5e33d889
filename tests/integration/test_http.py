#!/usr/bin/env python3
"""HTTP behaviour: routing errors, params, limits, request ids, access log,
CORS, middleware chains, streaming, big bodies, slow clients, keep-alive."""

import json
import os
import re
import threading
import time

import lxtest
from lxtest import (TESTPLUG_ROUTES, HEALTH_ROUTES, config, parse_json, route, status_of)

ORIGIN = "http://localhost:5173"

ROUTES = TESTPLUG_ROUTES + HEALTH_ROUTES + [
    route("POST", "/small", "testplug.echo", max_body=1024),
    route("POST", "/upload", "testplug.echo", max_body="2M"),
    route("GET", "/mw/user", "testplug.echo", before=["testplug.set_user"]),
    route("GET", "/mw/deny", "testplug.echo", before=["testplug.deny"]),
    route("GET", "/mw/async", "testplug.echo", before=["testplug.async_mw", "testplug.set_user"]),
]

SERVER = {
    "cors_origins": ORIGIN,
    "max_body": "64K",
    "idle_timeout": "1s",
    "max_header": "8K",
}

ACCESS_KEYS = ("req_id", "method", "route", "path", "status", "bytes", "dur_us", "pid", "uid")


class TestHttp(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = lxtest.Server(config(routes=ROUTES, server=SERVER))

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_checked()

    def setUp(self):
        super().setUp()
        self.assertTrue(self.srv.is_running(), "the server died:\n" + self.srv.output()[-3000:])

    # ---------------------------------------------------------------- routing

    def test_http_unknown_path_is_404_not_found(self):
        status, hdrs, body = self.srv.get("/no/such/thing")
        self.assertJsonError(status, body, 404, "NOT_FOUND")
        self.assertIn("application/json", hdrs.get("content-type", ""))

    def test_http_405_lists_allowed_methods(self):
        status, hdrs, body = self.srv.request("POST", "/aborts", body=b"")
        self.assertJsonError(status, body, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(hdrs.get("allow"), "GET, HEAD")

    def test_http_head_on_streamed_and_big_routes_has_no_body(self):
        for path in ("/stream", "/big?n=100000", "/nope"):
            with self.subTest(path=path):
                raw = self.srv.raw(b"HEAD %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                                   % path.encode())
                self.assertIsNotNone(status_of(raw), raw[:300])
                _, _, rest = raw.partition(b"\r\n\r\n")
                self.assertEqual(rest, b"", "HEAD %s carried a body: %r" % (path, rest[:100]))

    def test_http_keepalive_after_head_stays_in_sync(self):
        # Pipelined HEAD then GET: the bytes after the HEAD answer's header
        # block must be the next response, not a body.
        raw = self.srv.raw(b"HEAD /echo HTTP/1.1\r\nHost: t\r\n\r\n"
                           b"GET /echo?q=second HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertEqual(status_of(raw), 200, raw[:300])
        _, _, rest = raw.partition(b"\r\n\r\n")
        self.assertTrue(rest.startswith(b"HTTP/1.1 200"), "after HEAD: %r" % rest[:200])
        self.assertIn(b'"q":"second"', rest)

    def test_http_head_on_get_route_has_no_body(self):
        raw = self.srv.raw(b"HEAD /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertEqual(status_of(raw), 200, raw[:300])
        head, _, rest = raw.partition(b"\r\n\r\n")
        self.assertEqual(rest, b"", "HEAD response carried a body: %r" % rest[:200])

    def test_http_route_params_are_decoded(self):
        status, _, j = self.srv.get_json("/echo/a%20b")
        self.assertEqual(status, 200)
        self.assertEqual(j["id"], "a b")
        self.assertEqual(j["route"], "/echo/{id}")
        self.assertEqual(j["method"], "GET")

    def test_http_query_param_is_decoded(self):
        status, _, j = self.srv.get_json("/echo?q=hello%20world&other=1")
        self.assertEqual(status, 200)
        self.assertEqual(j["q"], "hello world")
        self.assertEqual(j["path"], "/echo")
        self.assertIsNone(j["id"])

    def test_http_echo_reports_header_and_body(self):
        body = 'quote " backslash \\ newline \n tab \t unicode \u00e9\u4e2d'.encode("utf-8")
        status, _, raw = self.srv.request("POST", "/echo", headers={"X-Test": "yes"}, body=body)
        self.assertEqual(status, 200, raw[:300])
        j = parse_json(raw)
        self.assertEqual(j["x_test"], "yes")
        self.assertEqual(j["body"].encode("utf-8"), body)
        self.assertEqual(j["body_len"], len(body))
        self.assertEqual(j["method"], "POST")
        self.assertIsNone(j["user"])
        self.assertEqual(j["worker"], 0)

    def test_http_dotdot_slash_in_segment_is_400_bad_path(self):
        status, _, body = self.srv.get("/echo/..%2f")
        self.assertJsonError(status, body, 400, "BAD_PATH")

    def test_http_encoded_dotdot_segment_is_400_bad_path(self):
        status, _, body = self.srv.get("/echo/%2e%2e")
        self.assertJsonError(status, body, 400, "BAD_PATH")

    def test_http_nul_in_path_is_400_bad_path(self):
        status, _, body = self.srv.get("/echo/a%00b")
        self.assertJsonError(status, body, 400, "BAD_PATH")

    # ---------------------------------------------------------------- limits

    def test_http_body_over_route_max_body_is_413(self):
        status, hdrs, body = self.srv.request("POST", "/small", body=b"y" * 2000,
                                              headers={"Content-Type": "text/plain"})
        self.assertJsonError(status, body, 413, "BODY_TOO_LARGE")
        self.assertIn("x-request-id", hdrs)

    def test_http_body_over_server_max_body_is_413_json(self):
        status, hdrs, body = self.srv.request("POST", "/echo", body=b"y" * 100000)
        self.assertJsonError(status, body, 413, "BODY_TOO_LARGE")
        self.assertIn("x-request-id", hdrs)

    def test_http_body_over_every_limit_is_413_and_server_survives(self):
        # Larger than any route's max_body (2M here): the core answers 413
        # from the head, and the worker goes on serving.
        # The server may answer and close before the body is all sent: send
        # what it takes, then read the answer.
        s = self.srv.socket(timeout=5)
        raw = b""
        try:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3000000\r\n"
                      b"Connection: close\r\n\r\n")
            try:
                for _ in range(30):
                    s.sendall(b"y" * 100000)
            except OSError:
                pass
            while True:
                try:
                    b = s.recv(65536)
                except OSError:
                    break
                if not b:
                    break
                raw += b
        finally:
            s.close()
        self.assertEqual(status_of(raw), 413, raw[:300])
        self.assertEqual(self.srv.get("/echo")[0], 200)

    def test_http_route_max_body_may_exceed_server_max_body(self):
        status, _, body = self.srv.request("POST", "/upload", body=b"u" * 1000000, timeout=20)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(parse_json(body)["body_len"], 1000000)

    def test_http_chunked_body_over_max_body_is_413(self):
        chunk = b"z" * 700
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
        raw = self.srv.raw(b"POST /small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                           b"Connection: close\r\n\r\n" + body, timeout=3)
        self.assertEqual(status_of(raw), 413, raw[:300])
        self.assertEqual(self.srv.get("/echo")[0], 200)

    def test_http_body_under_route_max_body_is_accepted(self):
        status, _, body = self.srv.request("POST", "/small", body=b"y" * 1000)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(parse_json(body)["body_len"], 1000)

    def test_http_malformed_request_line_is_400_and_server_survives(self):
        raw = self.srv.raw(b"THIS IS NOT HTTP\r\n\r\n")
        self.assertEqual(status_of(raw), 400, raw[:300])
        self.assertEqual(self.srv.get("/echo")[0], 200)

    def test_http_header_block_over_max_header_is_4xx_and_server_survives(self):
        req = (b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20000 +
               b"\r\nConnection: close\r\n\r\n")
        raw = self.srv.raw(req)
        st = status_of(raw)
        self.assertIsNotNone(st, "no HTTP response to a too-large header block: %r" % raw[:200])
        self.assertTrue(400 <= st < 500, raw[:300])
        self.assertEqual(self.srv.get("/echo")[0], 200)

    # ---------------------------------------------------------------- request ids and access log

    def test_http_sane_request_id_is_echoed_and_logged(self):
        status, hdrs, body = self.srv.get("/echo", headers={"X-Request-Id": "abc-123"})
        self.assertEqual(status, 200)
        self.assertEqual(hdrs.get("x-request-id"), "abc-123")
        self.assertEqual(parse_json(body)["req_id"], "abc-123")
        line = self.srv.wait_access(req_id="abc-123")
        self.assertIsNotNone(line, "no access log line with req_id abc-123")

    def test_http_insane_request_ids_are_replaced(self):
        for bad in ("has spaces in it", "a" * 200, "quote\"d"):
            status, hdrs, body = self.srv.get("/echo", headers={"X-Request-Id": bad})
            self.assertEqual(status, 200)
            rid = hdrs.get("x-request-id")
            self.assertTrue(rid, "no X-Request-Id")
            self.assertNotEqual(rid, bad)
            self.assertEqual(parse_json(body)["req_id"], rid)

    def test_http_generated_request_ids_are_unique(self):
        ids = set()
        for _ in range(20):
            status, hdrs, _ = self.srv.get("/echo")
            self.assertEqual(status, 200)
            ids.add(hdrs.get("x-request-id"))
        self.assertEqual(len(ids), 20, ids)

    def test_http_every_response_has_request_id(self):
        for method, path, body in (("GET", "/echo", None), ("GET", "/nope", None),
                                   ("POST", "/aborts", b""), ("GET", "/fail", None),
                                   ("GET", "/echo/%00", None), ("GET", "/health", None),
                                   ("GET", "/mw/deny", None)):
            status, hdrs, _ = self.srv.request(method, path, body=body)
            self.assertTrue(hdrs.get("x-request-id"), "%s %s -> %d without X-Request-Id"
                            % (method, path, status))

    def test_http_access_log_line_has_all_fields(self):
        status, hdrs, body = self.srv.get("/echo/xyz?q=1", headers={"X-Request-Id": "acc-1"})
        self.assertEqual(status, 200)
        line = self.srv.wait_access(req_id="acc-1")
        self.assertIsNotNone(line, "no access line; logs:\n" + self.srv.stdout()[-2000:])
        for k in ACCESS_KEYS + ("time", "level", "src"):
            self.assertIn(k, line, line)
        self.assertEqual(line["method"], "GET")
        self.assertEqual(line["route"], "/echo/{id}")
        self.assertEqual(line["path"], "/echo/xyz")
        self.assertEqual(int(line["status"]), 200)
        self.assertEqual(int(line["bytes"]), len(body))
        self.assertGreaterEqual(int(line["dur_us"]), 0)
        self.assertIn(int(line["pid"]), self.srv.worker_pids())

    def test_http_every_log_line_is_json_with_base_keys(self):
        self.srv.get("/echo")
        text = self.srv.stdout()
        lines = [l for l in text.splitlines() if l.strip()]
        self.assertTrue(lines)
        for l in lines:
            j = json.loads(l)
            for k in ("time", "level", "src", "pid", "msg"):
                self.assertIn(k, j, l)

    # ---------------------------------------------------------------- CORS

    def test_http_cors_preflight(self):
        status, hdrs, body = self.srv.request("OPTIONS", "/echo", headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        self.assertEqual(status, 204, body[:300])
        self.assertEqual(hdrs.get("access-control-allow-origin"), ORIGIN)
        methods = [m.strip() for m in hdrs.get("access-control-allow-methods", "").split(",")]
        self.assertIn("GET", methods)
        self.assertIn("POST", methods)
        allow_headers = hdrs.get("access-control-allow-headers", "").lower()
        self.assertIn("authorization", allow_headers)
        self.assertIn("content-type", allow_headers)
        self.assertTrue(hdrs.get("access-control-max-age", "").isdigit(), hdrs)
        self.assertEqual(hdrs.get("access-control-allow-credentials"), "true")

    def test_http_cors_preflight_to_any_path_is_204_and_the_request_gets_the_real_404(self):
        # A browser needs a 2xx preflight before it sends the real request:
        # an unknown path (or a method the path lacks, or a bad path) must
        # not turn into a CORS failure, but reach its real JSON error.
        for path, method in (("/api/no/such/route", "GET"), ("/echo", "DELETE"),
                             ("/echo/%00", "GET")):
            status, hdrs, body = self.srv.request("OPTIONS", path, headers={
                "Origin": ORIGIN, "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization,x-request-id"})
            self.assertEqual(status, 204, (path, body[:300]))
            self.assertEqual(hdrs.get("access-control-allow-origin"), ORIGIN)
            methods = [m.strip() for m in hdrs.get("access-control-allow-methods", "").split(",")]
            self.assertIn(method, methods, path)
            self.assertIn("authorization", hdrs.get("access-control-allow-headers", "").lower())
            self.assertIn("x-request-id", hdrs.get("access-control-allow-headers", "").lower())
            self.assertEqual(hdrs.get("access-control-allow-credentials"), "true")
        status, hdrs, body = self.srv.request("GET", "/api/no/such/route", headers={
            "Origin": ORIGIN, "Authorization": "Bearer x"})
        self.assertJsonError(status, body, 404, "NOT_FOUND")
        self.assertEqual(hdrs.get("access-control-allow-origin"), ORIGIN)
        # A plain OPTIONS (no preflight) keeps its answer: the path's methods.
        status, hdrs, _ = self.srv.request("OPTIONS", "/echo")
        self.assertEqual(status, 204)
        self.assertIn("GET", hdrs.get("allow", ""))
        status, _, body = self.srv.request("OPTIONS", "/api/no/such/route")
        self.assertJsonError(status, body, 404, "NOT_FOUND")

    def test_http_cors_refused_origin_is_logged_once(self):
        origin = "http://refused-%d.example:8080" % os.getpid()
        for _ in range(3):
            status, hdrs, _ = self.srv.get("/echo", headers={"Origin": origin})
            self.assertEqual(status, 200)
            self.assertNotIn("access-control-allow-origin", hdrs)
        line = self.srv.wait_log(lambda l: origin in l.get("msg", ""))
        self.assertIsNotNone(line, "no warning names the refused origin")
        self.assertEqual(line["level"], "warn")
        self.assertIn("LEXIAID_CORS_ORIGINS", line["msg"])
        # Once (per worker process), not once per request.
        self.srv.get("/echo", headers={"Origin": ORIGIN})
        self.assertEqual(sum(1 for l in self.srv.logs() if origin in l.get("msg", "")), 1)

    def test_http_cors_simple_request_gets_allow_origin_and_vary(self):
        status, hdrs, _ = self.srv.get("/echo", headers={"Origin": ORIGIN})
        self.assertEqual(status, 200)
        self.assertEqual(hdrs.get("access-control-allow-origin"), ORIGIN)
        self.assertIn("origin", hdrs.get("vary", "").lower())

    def test_http_cors_foreign_origin_gets_no_allow_origin(self):
        status, hdrs, _ = self.srv.get("/echo", headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 200)
        self.assertNotIn("access-control-allow-origin", hdrs)
        status, hdrs, _ = self.srv.request("OPTIONS", "/echo", headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
        self.assertNotIn("access-control-allow-origin", hdrs)

    # ---------------------------------------------------------------- handlers

    def test_http_lx_fail_is_500_internal(self):
        status, _, body = self.srv.get("/fail")
        self.assertJsonError(status, body, 500, "INTERNAL")

    def test_http_middleware_sets_user(self):
        status, hdrs, body = self.srv.get("/mw/user", headers={"X-Request-Id": "mw-user-1"})
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(parse_json(body)["user"], "alice")
        line = self.srv.wait_access(req_id="mw-user-1")
        self.assertIsNotNone(line)
        self.assertEqual(line.get("uid"), "alice")

    def test_http_middleware_deny_is_401(self):
        status, _, body = self.srv.get("/mw/deny")
        j = self.assertJsonError(status, body, 401, "UNAUTHENTICATED")
        self.assertEqual(j["error"], "sign in first")

    def test_http_async_middleware_then_sync_middleware(self):
        t0 = time.time()
        status, _, body = self.srv.get("/mw/async")
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(parse_json(body)["user"], "alice")
        self.assertGreaterEqual(time.time() - t0, 0.04)

    def test_http_stream_is_chunked_events(self):
        status, hdrs, body = self.srv.get("/stream")
        self.assertEqual(status, 200)
        self.assertIn("text/event-stream", hdrs.get("content-type", ""))
        self.assertEqual(hdrs.get("transfer-encoding", "").lower(), "chunked")
        self.assertEqual(body, b"data: 1\n\ndata: 2\n\ndata: 3\n\n")

    def test_http_big_body_arrives_intact(self):
        n = 5000000
        status, hdrs, body = self.srv.get("/big?n=%d" % n, timeout=30)
        self.assertEqual(status, 200)
        self.assertEqual(len(body), n)
        self.assertEqual(body.count(b"x"), n)

    # ---------------------------------------------------------------- connections

    def test_http_slow_client_is_closed_after_idle_timeout(self):
        s = self.srv.socket(timeout=6)
        try:
            s.sendall(b"GET /ec")
            t0 = time.time()
            closed = False
            while time.time() - t0 < 6:
                try:
                    b = s.recv(4096)
                except (ConnectionResetError, OSError):
                    closed = True
                    break
                if not b:
                    closed = True
                    break
            elapsed = time.time() - t0
        finally:
            s.close()
        self.assertTrue(closed, "server kept a half-sent request open for 6 s")
        self.assertGreaterEqual(elapsed, 0.8)
        self.assertEqual(self.srv.get("/echo")[0], 200)

    def test_http_pipelined_requests_answered_in_order(self):
        raw = self.srv.raw(b"".join(
            b"GET /echo?q=%d HTTP/1.1\r\nHost: t\r\n%s\r\n"
            % (i, b"Connection: close\r\n" if i == 3 else b"") for i in range(1, 4)))
        self.assertEqual(raw.count(b"HTTP/1.1 200"), 3, raw[:600])
        qs = re.findall(rb'"q":"(\d)"', raw)
        self.assertEqual(qs, [b"1", b"2", b"3"])

    def test_http_keepalive_concurrency(self):
        n_conns, per_conn = 20, 10
        results, errors = [], []
        lock = threading.Lock()

        def client():
            conn = self.srv.connection(timeout=10)
            try:
                for i in range(per_conn):
                    conn.request("GET", "/echo?q=%d" % i)
                    resp = conn.getresponse()
                    data = resp.read()
                    with lock:
                        results.append((resp.status, data))
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(n_conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), n_conns * per_conn)
        self.assertTrue(all(st == 200 for st, _ in results),
                        [st for st, _ in results if st != 200][:10])


if __name__ == "__main__":
    lxtest.main()
