#!/usr/bin/env python3
"""The health plugin: /health, /api/health, /ready (per-plugin report) and
/metrics (Prometheus text)."""

import http.client
import re
import time

import lxtest
from lxtest import config, parse_json


def metric_samples(text, name):
    """[(labels dict, value)] of every sample of `name`."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^%s(\{(.*)\})?\s+(\S+)" % re.escape(name), line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.append((labels, float(m.group(3))))
    return out


class TestHealth(lxtest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = lxtest.Server(config())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop_checked()

    def test_health_health_is_ok(self):
        status, hdrs, body = self.srv.get("/health")
        self.assertEqual(status, 200)
        self.assertIn("application/json", hdrs.get("content-type", ""))
        self.assertEqual(parse_json(body), {"status": "ok"})

    def test_health_api_health_matches_the_original_backend(self):
        status, _, body = self.srv.get("/api/health")
        self.assertEqual(status, 200)
        self.assertEqual(parse_json(body), {"status": "ok", "message": "Backend is healthy"})

    def test_health_ready_reports_per_plugin_when_healthy(self):
        status, hdrs, body = self.srv.get("/ready")
        self.assertEqual(status, 200, body[:500])
        self.assertIn("application/json", hdrs.get("content-type", ""))
        parse_json(body)
        self.assertIn(b"testplug", body)
        self.assertIn(b"fine", body)

    def metrics(self):
        status, hdrs, body = self.srv.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn("text/plain", hdrs.get("content-type", ""))
        return body.decode("utf-8")

    def test_health_metrics_counts_requests(self):
        def health_200(text):
            return sum(v for labels, v in metric_samples(text, "lexiaid_http_requests_total")
                       if labels.get("route") == "/health" and labels.get("status") == "200")

        before = health_200(self.metrics())
        for _ in range(5):
            self.assertEqual(self.srv.get("/health")[0], 200)
        deadline = time.time() + 3
        while True:
            text = self.metrics()
            after = health_200(text)
            if after - before >= 5 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(after, 5, text[:3000])
        self.assertGreaterEqual(after - before, 5, text[:3000])

    def test_health_metrics_has_histogram_and_in_flight(self):
        self.srv.get("/echo")
        text = self.metrics()
        buckets = metric_samples(text, "lexiaid_http_request_duration_seconds_bucket")
        self.assertTrue(buckets, text[:3000])
        self.assertTrue(any(l.get("le") == "+Inf" for l, _ in buckets), text[:3000])
        self.assertTrue(metric_samples(text, "lexiaid_http_requests_in_flight"), text[:3000])
        self.assertTrue(metric_samples(text, "lexiaid_worker_restarts_total"), text[:3000])


class TestHealthUnhealthy(lxtest.TestCase):

    def test_health_ready_is_503_naming_the_unhealthy_plugin(self):
        srv = self.start(config(plugins=[{"name": "testplug", "config": {"healthy": False}},
                                         "health"]))
        status, _, body = srv.get("/ready")
        self.assertEqual(status, 503, body[:500])
        parse_json(body)
        self.assertIn(b"testplug", body)
        self.assertIn(b"configured unhealthy", body)
        # Liveness does not depend on readiness.
        self.assertEqual(srv.get("/health")[0], 200)


class TestHealthTwoWorkers(lxtest.TestCase):

    def test_health_metrics_add_up_all_workers(self):
        srv = self.start(config(workers=2))
        self.assertEqual(len(srv.wait_workers(2)), 2)
        seen = set()
        n = 40
        for _ in range(n):
            status, _, j = srv.get_json("/echo")
            self.assertEqual(status, 200)
            seen.add(j["worker"])
        deadline = time.time() + 3
        while True:
            # Ask several times: each answer may come from either worker.
            totals = []
            for _ in range(4):
                text = srv.get("/metrics")[2].decode()
                totals.append(sum(v for l, v in metric_samples(text, "lexiaid_http_requests_total")
                                  if l.get("route") == "/echo" and l.get("status") == "200"))
            if min(totals) >= n or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(min(totals), n, "workers seen %s, totals %s" % (seen, totals))


class TestHealthRestarts(lxtest.TestCase):

    def test_health_metrics_counts_worker_restarts(self):
        srv = self.start(config())
        old = srv.wait_workers(1)
        try:
            srv.get("/crash", timeout=5)
        except (OSError, http.client.HTTPException):
            pass
        self.assertTrue(srv.wait_workers(1, timeout=10, exclude=old), "no new worker")
        self.assertTrue(srv.wait_ok("/health", timeout=10))
        deadline = time.time() + 3
        while True:
            status, _, body = srv.get("/metrics")
            text = body.decode()
            total = sum(v for _, v in metric_samples(text, "lexiaid_worker_restarts_total"))
            if total >= 1 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(total, 1, text[:3000])


if __name__ == "__main__":
    lxtest.main()
