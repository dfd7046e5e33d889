#!/usr/bin/env python3
"""Plugins: ABI checks and load refusals, service dependency order, a
crashing worker, requests that never answer, async handlers."""

import http.client
import os
import re
import time

import lxtest
from lxkeys import closed_port
from lxtest import (TESTPLUG_ROUTES, HEALTH_ROUTES, config, parse_json, plugin_path, route,
                    run_config)

with open(os.path.join(lxtest.SRCDIR, "include", "lexiaid", "plugin.h")) as _f:
    ABI_MINOR = int(re.search(r"#define LX_ABI_MINOR (\d+)", _f.read()).group(1))


class TestPluginRefusals(lxtest.TestCase):

    def assertRefused(self, plugins, needles, routes=()):
        rc, out, err, path = run_config(config(plugins=plugins, routes=list(routes)), timeout=10)
        both = out + err
        self.assertEqual(rc, 1, "expected exit 1, got %s\n%s" % (rc, both))
        self.assertMentions(both, *needles)
        return both

    def test_plugin_bad_abi_major_is_refused_naming_both_versions(self):
        self.assertRefused(["bad_abi_major"],
                           [plugin_path("bad_abi_major"), "99.%d" % ABI_MINOR, "1.%d" % ABI_MINOR])

    def test_plugin_newer_minor_is_refused_naming_both_versions(self):
        self.assertRefused(["newer_minor"], [plugin_path("newer_minor"), "1.%d" % (ABI_MINOR + 1),
                                             "1.%d" % ABI_MINOR])

    def test_plugin_without_entry_symbol_is_refused(self):
        self.assertRefused(["no_entry"], [plugin_path("no_entry"), "lx_plugin_entry"])

    def test_plugin_init_failure_message_is_printed(self):
        self.assertRefused(["init_fails"], ["init_fails", "database unreachable"])

    def test_plugin_missing_required_service_is_named(self):
        self.assertRefused(["needs_missing"], ["nothing.v1"])

    def test_plugin_without_init_is_refused(self):
        both = self.assertRefused(["no_init"], ["init"])
        self.assertTrue("no_init" in both, both)

    def test_plugin_duplicate_name_is_refused(self):
        both = self.assertRefused(["testplug", "testplug"], ["testplug"])
        self.assertRegex(both.lower(), r"duplicate|twice|already")

    def test_plugin_missing_file_is_refused_naming_the_path(self):
        self.assertRefused([{"name": "ghost", "file": "/nonexistent/dir/ghost.so"}],
                           ["/nonexistent/dir/ghost.so"])


class TestPluginServices(lxtest.TestCase):

    def test_plugin_service_consumer_listed_before_provider(self):
        srv = self.start(config(plugins=["svc_consumer", "svc_provider"],
                                routes=[("GET", "/greet", "svc_consumer.greet")]))
        status, _, j = srv.get_json("/greet")
        self.assertEqual(status, 200)
        self.assertEqual(j, {"greeting": "hello from provider"})


class TestPluginCrash(lxtest.TestCase):

    def test_plugin_crash_restarts_worker(self):
        srv = self.start(config())
        self.assertEqual(srv.get("/health")[0], 200)
        old = srv.wait_workers(1)
        self.assertEqual(len(old), 1, old)
        try:
            status, _, _ = srv.get("/crash", headers={"X-Request-Id": "crash-1"}, timeout=5)
            self.assertGreaterEqual(status, 500)
        except (OSError, http.client.HTTPException):
            pass  # the connection died with the worker: expected
        new = srv.wait_workers(1, timeout=10, exclude=old)
        self.assertTrue(new, "no new worker after the crash; workers %s" % srv.worker_pids())
        self.assertTrue(srv.wait_ok("/health", timeout=10), "/health does not answer after crash")
        for _ in range(5):
            self.assertEqual(srv.get("/health")[0], 200)
        status, _, j = srv.get_json("/echo")
        self.assertEqual(j["worker"], 0, "worker_index must be stable across restarts")
        self.assertTrue(srv.is_running())
        out = srv.output()
        self.assertRegex(out, r"signal 11|SIGSEGV|Segmentation",
                         "no log line names the signal:\n" + out[-3000:])
        # host->log with a request carries its id.
        line = srv.wait_log(lambda l: l.get("src") == "testplug"
                            and "crashing on purpose" in l.get("msg", ""))
        self.assertIsNotNone(line, "testplug's log line is missing")
        self.assertEqual(line.get("req_id"), "crash-1", line)

    def test_plugin_repeated_crashes_are_survived(self):
        srv = self.start(config())
        seen = set(srv.wait_workers(1))
        for i in range(3):
            try:
                srv.get("/crash", timeout=5)
            except (OSError, http.client.HTTPException):
                pass
            new = srv.wait_workers(1, timeout=15, exclude=seen)
            self.assertTrue(new, "no new worker after crash %d" % (i + 1))
            seen.update(new)
            self.assertTrue(srv.wait_ok("/health", timeout=15),
                            "not serving after crash %d" % (i + 1))
        self.assertTrue(srv.is_running())

    def test_plugin_crash_in_one_worker_leaves_the_other_serving(self):
        srv = self.start(config(workers=2))
        self.assertEqual(len(srv.wait_workers(2)), 2)
        try:
            srv.get("/crash", timeout=5)
        except (OSError, http.client.HTTPException):
            pass
        # Immediately after: the surviving worker answers (new connections).
        ok = 0
        for _ in range(10):
            try:
                if srv.get("/health", timeout=3)[0] == 200:
                    ok += 1
            except (OSError, http.client.HTTPException):
                pass
        self.assertEqual(ok, 10)
        self.assertEqual(len(srv.wait_workers(2, timeout=10)), 2)


class TestPluginAsync(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        routes = TESTPLUG_ROUTES + HEALTH_ROUTES + [
            route("GET", "/never/short", "testplug.never", timeout="500ms"),
            route("GET", "/never/long", "testplug.never", timeout="30s"),
            route("GET", "/slow/short", "testplug.slow", timeout="300ms"),
            route("GET", "/offload/short", "testplug.offload", timeout="300ms"),
        ]
        cls.srv = lxtest.Server(config(routes=routes))
        cls.workers = cls.srv.wait_workers(1)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_checked()

    def aborts(self):
        status, _, j = self.srv.get_json("/aborts")
        self.assertEqual(status, 200)
        return j["aborts"]

    def wait_aborts(self, at_least, timeout=5.0):
        deadline = time.time() + timeout
        n = self.aborts()
        while n < at_least and time.time() < deadline:
            time.sleep(0.05)
            n = self.aborts()
        return n

    def test_plugin_never_times_out_with_504(self):
        t0 = time.time()
        status, _, body = self.srv.get("/never/short", timeout=10)
        elapsed = time.time() - t0
        self.assertJsonError(status, body, 504, "TIMEOUT")
        self.assertLess(elapsed, 2.0)
        self.assertGreaterEqual(elapsed, 0.4)
        self.assertGreaterEqual(self.wait_aborts(1), 1)
        self.assertEqual(self.srv.get("/echo")[0], 200)

    def test_plugin_timeout_aborts_exactly_once(self):
        base = self.aborts()
        status, _, body = self.srv.get("/never/short")
        self.assertJsonError(status, body, 504, "TIMEOUT")
        self.assertEqual(self.wait_aborts(base + 1), base + 1)
        time.sleep(0.5)
        self.assertEqual(self.aborts(), base + 1)

    def test_plugin_client_disconnect_aborts_once_per_request(self):
        base = self.aborts()
        n = 3
        for i in range(n):
            s = self.srv.socket()
            s.sendall(b"GET /never/long HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.2)
            s.close()
            got = self.wait_aborts(base + i + 1, timeout=5)
            self.assertEqual(got, base + i + 1,
                             "after %d disconnects: %d aborts (base %d)" % (i + 1, got, base))
        time.sleep(0.5)
        self.assertEqual(self.aborts(), base + n)
        self.assertTrue(self.srv.is_running())

    def test_plugin_slow_answers_after_timer(self):
        t0 = time.time()
        status, _, j = self.srv.get_json("/slow?ms=300")
        self.assertEqual(status, 200)
        self.assertEqual(j, {"slept_ms": 300})
        self.assertGreaterEqual(time.time() - t0, 0.28)

    def test_plugin_slow_does_not_block_the_loop(self):
        # While /slow waits on its timer the (only) worker must keep serving.
        import threading
        result = {}

        def slow():
            result["slow"] = self.srv.get("/slow?ms=1000")[0]

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.2)
        t0 = time.time()
        self.assertEqual(self.srv.get("/echo")[0], 200)
        self.assertLess(time.time() - t0, 0.5)
        t.join(5)
        self.assertEqual(result.get("slow"), 200)

    def test_plugin_slow_past_route_timeout_is_504_and_timer_is_stopped(self):
        t0 = time.time()
        status, _, body = self.srv.get("/slow/short?ms=1500", headers={"X-Request-Id": "slow-504"})
        self.assertJsonError(status, body, 504, "TIMEOUT")
        self.assertLess(time.time() - t0, 1.2)
        line = self.srv.wait_access(req_id="slow-504")
        self.assertIsNotNone(line)
        self.assertEqual(int(line["status"]), 504)
        time.sleep(1.5)  # past the (stopped) timer's deadline
        self.assertTrue(self.srv.is_running())
        self.assertEqual(self.srv.worker_pids(), self.workers)
        self.assertEqual(self.srv.get("/echo")[0], 200)

    def test_plugin_client_gone_during_slow_is_harmless(self):
        for _ in range(3):
            s = self.srv.socket()
            s.sendall(b"GET /slow?ms=400 HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.1)
            s.close()
        time.sleep(0.8)
        self.assertEqual(self.srv.worker_pids(), self.workers)
        self.assertEqual(self.srv.get("/echo")[0], 200)

    def test_plugin_offload_finishing_after_timeout_is_harmless(self):
        status, _, body = self.srv.get("/offload/short?ms=1000")
        self.assertJsonError(status, body, 504, "TIMEOUT")
        time.sleep(1.2)  # the job's done() now answers a request the core already answered
        self.assertEqual(self.srv.worker_pids(), self.workers)
        self.assertEqual(self.srv.get("/echo")[0], 200)

    def test_plugin_offload_jobs_run_in_parallel_with_the_loop(self):
        import threading
        results = []

        def one():
            results.append(self.srv.get("/offload?ms=600")[0])

        threads = [threading.Thread(target=one) for _ in range(4)]
        t0 = time.time()
        for t in threads:
            t.start()
        time.sleep(0.1)
        self.assertEqual(self.srv.get("/echo", timeout=2)[0], 200)
        for t in threads:
            t.join(10)
        self.assertEqual(results, [200] * 4)
        self.assertLess(time.time() - t0, 4 * 0.6)

    def test_plugin_watch_moves_a_megabyte_through_a_pipe_on_the_loop(self):
        # host->watch_* (ABI 1.4): a write watch and a paused read watch on
        # one pipe, switched and stopped from inside their callbacks.
        status, _, j = self.srv.get_json("/watch?n=1000000")
        self.assertEqual(status, 200, j)
        self.assertEqual(j, {"watched": 1000000})
        status, _, j = self.srv.get_json("/watch")
        self.assertEqual((status, j), (200, {"watched": 3}))

    def test_plugin_offload_answers(self):
        status, _, j = self.srv.get_json("/offload?ms=100")
        self.assertEqual(status, 200)
        self.assertEqual(j, {"offloaded": True})

    def test_plugin_fetch_own_health(self):
        url = "http://127.0.0.1:%d/health" % self.srv.port
        status, _, body = self.srv.get("/fetch?url=" + url)
        self.assertEqual(status, 200, body[:500])
        j = parse_json(body)
        self.assertEqual(j["status"], 200)
        self.assertEqual(parse_json(j["body"].encode()), {"status": "ok"})

    def test_plugin_fetch_closed_port_is_502_upstream(self):
        url = "http://127.0.0.1:%d/" % closed_port()
        status, _, body = self.srv.get("/fetch?url=" + url)
        self.assertJsonError(status, body, 502, "UPSTREAM")


if __name__ == "__main__":
    lxtest.main()
