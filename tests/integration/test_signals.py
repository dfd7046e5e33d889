#!/usr/bin/env python3
"""Signals with two workers: graceful SIGTERM, SIGHUP reload (good and
broken configs), SIGINT."""

import http.client
import re
import signal
import threading
import time

import lxtest
from lxtest import TESTPLUG_ROUTES, HEALTH_ROUTES, config, route, write_config

SERVER = {"shutdown_grace": "5s"}


class TestSignals(lxtest.TestCase):

    def start2(self, routes=None):
        return self.start(config(routes=routes, workers=2, server=SERVER))

    def test_signal_sigterm_drains_in_flight_request_then_exits_0(self):
        srv = self.start2()
        self.assertEqual(len(srv.wait_workers(2)), 2)
        result = {}

        def slow():
            try:
                status, _, body = srv.get("/slow?ms=1500", timeout=10)
                result["status"], result["body"] = status, body
            except Exception as e:  # noqa: BLE001
                result["error"] = repr(e)

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)
        t0 = time.time()
        srv.signal(signal.SIGTERM)
        time.sleep(0.3)
        refused = False
        try:
            status, _, _ = srv.get("/echo", timeout=1.0)
        except (OSError, http.client.HTTPException):
            refused = True
        t.join(10)
        self.assertEqual(result.get("status"), 200, result)
        self.assertTrue(refused, "a new connection was served after SIGTERM (status %s)"
                        % (None if refused else status))
        try:
            rc = srv.proc.wait(8)
        except Exception:  # noqa: BLE001
            rc = None
        self.assertEqual(rc, 0, "master exit code %s; output:\n%s" % (rc, srv.output()[-2000:]))
        self.assertLess(time.time() - t0, 5.0 + 1.5)
        time.sleep(0.2)
        self.assertEqual(srv.group_pids(), [], "processes left after the master exited")

    def test_signal_sighup_reload_adds_route_without_refusing_requests(self):
        srv = self.start2()
        self.assertEqual(len(srv.wait_workers(2)), 2)
        self.assertEqual(srv.get("/new")[0], 404)
        stop = threading.Event()
        statuses, errors = [], []

        def loop():
            while not stop.is_set():
                try:
                    statuses.append(srv.get("/echo", timeout=5)[0])
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))

        t = threading.Thread(target=loop)
        t.start()
        try:
            time.sleep(0.3)
            write_config(config(routes=TESTPLUG_ROUTES + HEALTH_ROUTES +
                                [("GET", "/new", "testplug.echo")],
                                workers=2, server=SERVER),
                         directory=srv.dir)
            srv.signal(signal.SIGHUP)
            deadline = time.time() + 10
            new_status = None
            while time.time() < deadline:
                try:
                    new_status = srv.get("/new", timeout=2)[0]
                except (OSError, http.client.HTTPException):
                    new_status = None
                if new_status == 200:
                    break
                time.sleep(0.1)
            time.sleep(1.0)
        finally:
            stop.set()
            t.join(10)
        self.assertEqual(new_status, 200, "GET /new after SIGHUP")
        self.assertEqual(errors, [], "requests failed during reload")
        self.assertTrue(statuses)
        self.assertTrue(all(s == 200 for s in statuses),
                        sorted(set(statuses)))
        self.assertEqual(srv.get("/echo")[0], 200)
        self.assertEqual(srv.get("/health")[0], 200)
        self.assertTrue(srv.is_running())
        self.assertEqual(len(srv.wait_workers(2)), 2)

    def test_signal_sighup_lets_in_flight_request_finish(self):
        srv = self.start2()
        self.assertEqual(len(srv.wait_workers(2)), 2)
        result = {}

        def slow():
            try:
                result["status"] = srv.get("/slow?ms=1500", timeout=10)[0]
            except Exception as e:  # noqa: BLE001
                result["error"] = repr(e)

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)
        srv.signal(signal.SIGHUP)
        t.join(10)
        self.assertEqual(result.get("status"), 200, result)
        self.assertTrue(srv.is_running())
        self.assertEqual(srv.get("/echo")[0], 200)

    def test_signal_sigterm_grace_bounds_a_request_that_never_ends(self):
        srv = self.start(config(workers=2, server={"shutdown_grace": "1s"},
                                routes=[route("GET", "/never/long", "testplug.never",
                                              timeout="60s")]))
        self.assertEqual(len(srv.wait_workers(2)), 2)
        s = srv.socket(timeout=10)
        try:
            s.sendall(b"GET /never/long HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.3)
            t0 = time.time()
            srv.signal(signal.SIGTERM)
            try:
                rc = srv.proc.wait(6)
            except Exception:  # noqa: BLE001
                rc = None
            elapsed = time.time() - t0
        finally:
            s.close()
        self.assertIsNotNone(rc, "master still running 6 s after SIGTERM with grace 1s")
        self.assertEqual(rc, 0)
        self.assertLess(elapsed, 1.0 + 2.0)
        time.sleep(0.2)
        self.assertEqual(srv.group_pids(), [], "processes left after the master exited")

    def test_signal_sighup_with_broken_config_keeps_old_workers(self):
        srv = self.start2()
        pids = srv.wait_workers(2)
        self.assertEqual(len(pids), 2)
        with open(srv.config_path, "w") as f:
            f.write('server = { listen = "127.0.0.1:0"; };\nroutes = ( { oops \n')
        srv.signal(signal.SIGHUP)
        path = re.escape(srv.config_path)
        line = srv.wait_log(lambda l: l.get("level") == "error"
                            and re.search(path + r":\d+", l.get("msg", "")), timeout=5)
        self.assertIsNotNone(line, "no error log naming %s:LINE; output:\n%s"
                             % (srv.config_path, srv.output()[-2000:]))
        time.sleep(0.5)
        self.assertTrue(srv.is_running())
        for _ in range(4):
            self.assertEqual(srv.get("/echo")[0], 200)
        self.assertEqual(srv.get("/health")[0], 200)
        self.assertEqual(srv.worker_pids(), pids)

    def test_signal_sigint_exits_0(self):
        srv = self.start2()
        self.assertEqual(len(srv.wait_workers(2)), 2)
        self.assertEqual(srv.get("/echo")[0], 200)
        rc = srv.stop(signal.SIGINT, timeout=8)
        self.assertEqual(rc, 0, srv.output()[-2000:])

    def test_signal_sigterm_idle_exits_0(self):
        srv = self.start2()
        self.assertEqual(len(srv.wait_workers(2)), 2)
        t0 = time.time()
        rc = srv.stop(signal.SIGTERM, timeout=8)
        self.assertEqual(rc, 0, srv.output()[-2000:])
        self.assertLess(time.time() - t0, 3.0)


if __name__ == "__main__":
    lxtest.main()
