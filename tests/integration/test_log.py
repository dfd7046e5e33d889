#!/usr/bin/env python3
"""Logging from threads: host->log is allowed on offload pool threads
(plugin.h). Pool threads and the loop log at the same time, on a worker
whose stdout is a pipe, and every line must arrive whole and exactly once.
"""

import json
import threading

import lxtest
from lxtest import config, route

JOBS = 8        # two requests of JOBS jobs each, on a pool of 4 threads
LINES = 400     # lines per job
PAD = 300       # bytes of padding per line, so the loop's buffer fills and flushes


class TestLogThreads(lxtest.TestCase):
    def test_log_lines_from_pool_threads_arrive_whole_and_none_is_lost(self):
        routes = [route("GET", "/offload_log", "testplug.offload_log", timeout="120s"),
                  route("GET", "/echo", "testplug.echo")]
        srv = lxtest.Server(config(routes=routes), pipe_stdout=True)
        self.addCleanup(srv.stop_checked)

        # The loop logs too while the pool threads do: an access line per
        # /echo, and a line per finished job.
        results, stop = [], threading.Event()

        def echo_loop():
            while not stop.is_set():
                results.append(srv.get("/echo")[0])

        def offload_log():
            results.append(srv.get("/offload_log?jobs=%d&lines=%d&pad=%d" % (JOBS, LINES, PAD),
                                   timeout=120)[0])

        echoers = [threading.Thread(target=echo_loop) for _ in range(2)]
        loggers = [threading.Thread(target=offload_log) for _ in range(2)]
        for t in echoers + loggers:
            t.start()
        for t in loggers:
            t.join(150)
        stop.set()
        for t in echoers:
            t.join(30)
        self.assertTrue(all(s == 200 for s in results), sorted(set(results)))
        n_echo = len(results) - len(loggers)
        self.assertEqual(srv.stop(), 0)

        # Every line is one JSON object; none is torn or glued to another.
        pool, done, access = {}, 0, 0
        for i, line in enumerate(srv.stdout().splitlines()):
            try:
                j = json.loads(line)
            except ValueError:
                self.fail("line %d of stdout is not JSON (torn?): %r" % (i + 1, line[:300]))
            msg = j.get("msg", "")
            if msg.startswith("offload-log rid="):
                words = dict(w.split("=", 1) for w in msg.split(" ")[1:])
                self.assertEqual(words["pad"], "p" * PAD, "a line lost its tail: %r" % msg[:200])
                key = (words["rid"], int(words["job"]), int(words["line"]))
                pool[key] = pool.get(key, 0) + 1
            elif msg.startswith("offload-log done"):
                done += 1
            elif j.get("src") == "access" and j.get("path") == "/echo":
                access += 1

        # Exactly once each: LINES lines of each of JOBS jobs of both requests.
        rids = sorted({k[0] for k in pool})
        self.assertEqual(len(rids), len(loggers), rids)
        missing = [(r, job, n) for r in rids for job in range(JOBS) for n in range(LINES)
                   if (r, job, n) not in pool]
        twice = [k for k, v in pool.items() if v != 1]
        self.assertEqual(missing[:10], [], "%d pool lines lost" % len(missing))
        self.assertEqual(twice[:10], [], "%d pool lines written twice" % len(twice))
        self.assertEqual(len(pool), len(loggers) * JOBS * LINES)
        self.assertEqual(done, len(loggers) * JOBS)
        self.assertEqual(access, n_echo)


if __name__ == "__main__":
    lxtest.main()
