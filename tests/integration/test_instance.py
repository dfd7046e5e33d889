#!/usr/bin/env python3
"""One server per data directory, and no worker without its master (issue
13, item 3).

- The master dies (SIGKILL): its workers finish the requests in flight and
  exit (PR_SET_PDEATHSIG = SIGTERM, a drain within shutdown_grace); the port
  and the data directory are free again afterwards.
- A second server on the same data directory refuses to start, naming the
  first one's pid, before anything touches the directory: no plugin init
  (so no start-up repair by the storage plugin), the files as they were.
  Also after a SIGHUP reload, and while the workers of a dead master still
  finish their requests.
- A second server on a port in use refuses before any plugin init.
- `lexiaid -t` and plugin commands take no lock (they run beside a live
  server)."""

import os
import signal
import threading
import time
import uuid

import lxtest
from lxstorage import StorageServer


def pid_alive(pid):
    st = lxtest.proc_state(pid)
    return st is not None and st != "Z"


def wait_until(pred, timeout):
    """True once pred() is; False after timeout (a safety net, not a test)."""
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


class TestMasterDeath(lxtest.TestCase):

    def conf(self, data_dir, listen="127.0.0.1:0"):
        return lxtest.config(
            routes=list(lxtest.TESTPLUG_ROUTES) + [
                lxtest.route("GET", "/never/long", "testplug.never", timeout="60s"),
                ("GET", "/health", "health.live")],
            workers=2, server={"data_dir": data_dir, "listen": listen,
                               "shutdown_grace": "30s"})

    def test_master_killed_workers_finish_requests_then_exit_and_free_port_and_dir(self):
        data_dir = lxtest.tempdir()
        srv = self.start(self.conf(data_dir))
        workers = srv.wait_workers(2)
        self.assertEqual(len(workers), 2)
        master = srv.pid

        # A request that ends only when its client goes away...
        held = srv.socket(timeout=30)
        self.addCleanup(held.close)
        held.sendall(b"GET /never/long HTTP/1.1\r\nHost: t\r\nX-Request-Id: held-1\r\n\r\n")
        self.assertIsNotNone(srv.wait_log(lambda l: l.get("req_id") == "held-1"
                                          and l.get("msg") == "never: parked", timeout=10))
        # ... and one that answers 1.5 s after it began.
        result = {}

        def slow():
            try:
                status, _, body = srv.get("/slow?ms=1500", headers={"X-Request-Id": "slow-1"},
                                          timeout=30)
                result["status"], result["body"] = status, lxtest.parse_json(body)
            except Exception as e:  # noqa: BLE001
                result["error"] = repr(e)

        t = threading.Thread(target=slow)
        t.start()
        self.assertIsNotNone(srv.wait_log(lambda l: l.get("req_id") == "slow-1"
                                          and l.get("msg", "").startswith("slow: answering"),
                                          timeout=10))

        os.kill(master, signal.SIGKILL)
        srv.proc.wait(10)
        t.join(30)
        self.assertEqual((result.get("status"), result.get("body")),
                         (200, {"slept_ms": 1500}), result)
        # Each worker says why it stops.
        self.assertIsNotNone(srv.wait_log(
            lambda l: "the master (pid %d) is gone" % master in l.get("msg", ""), timeout=10),
            srv.output()[-3000:])

        # While the held request runs, its worker keeps the data directory.
        rc, out, err, _ = lxtest.run_config(self.conf(data_dir), timeout=20)
        self.assertEqual(rc, 1, out + err)
        self.assertMentions(err, "another lexiaid is using %s" % data_dir,
                            "master (pid %d) that has gone" % master)

        held.close()
        gone = wait_until(lambda: not any(pid_alive(p) for p in workers), timeout=40)
        self.assertTrue(gone, "workers still alive after their master died: %s\n%s"
                        % ([p for p in workers if pid_alive(p)], srv.output()[-3000:]))

        # The port and the data directory are free: the same config starts again.
        again = self.start(self.conf(data_dir, listen="127.0.0.1:%d" % srv.port))
        self.assertEqual(again.port, srv.port)
        self.assertEqual(again.get("/health")[0], 200)


class TestDataDirLock(lxtest.TestCase):

    def second_config(self, s, data_dir=None, listen=None):
        """The first server's config with another data dir or listen address."""
        saved = dict(s.server)
        if data_dir is not None:
            s.server["data_dir"] = data_dir
        if listen is not None:
            s.server["listen"] = listen
        try:
            return s.config_text()
        finally:
            s.server = saved

    def assertUntouched(self, s, stray, db_stat):
        self.assertTrue(os.path.exists(stray), "the start-up repair of a second server ran")
        st = os.stat(os.path.join(s.data_dir, "lexiaid.db"))
        self.assertEqual((st.st_mtime_ns, st.st_size), db_stat)

    def test_second_server_on_the_same_data_dir_refuses_before_touching_it(self):
        s = StorageServer(self, workers=2)
        status, doc = s.upload("a.txt", b"kept as it is", name="A", mime="text/plain")
        self.assertEqual(status, 200, doc)
        # A partial upload without its row, as a crash leaves one: the start-up
        # check of any server that inits the storage plugin removes it.
        stray = os.path.join(s.data_dir, "uploads", "tmp", str(uuid.uuid4()) + ".part")
        with open(stray, "wb") as f:
            f.write(b"half an upload")
        st = os.stat(os.path.join(s.data_dir, "lexiaid.db"))
        db_stat = (st.st_mtime_ns, st.st_size)

        text = s.config_text()  # listen = 127.0.0.1:0: another port
        rc, out, err, _ = lxtest.run_config(text, timeout=20)
        self.assertEqual(rc, 1, out + err)
        self.assertMentions(err, "another lexiaid (pid %d) is using %s" % (s.srv.pid, s.data_dir))
        self.assertNotIn("sqlite database", out + err, "a plugin's init ran")
        self.assertUntouched(s, stray, db_stat)

        # The lock outlives a reload (same process, same directory).
        s.srv.signal(signal.SIGHUP)
        self.assertIsNotNone(s.srv.wait_log(lambda l: l.get("msg") == "generation 1 drained",
                                            timeout=30), s.srv.output()[-3000:])
        rc, out, err, _ = lxtest.run_config(text, timeout=20)
        self.assertEqual(rc, 1, out + err)
        self.assertMentions(err, "another lexiaid (pid %d) is using %s" % (s.srv.pid, s.data_dir))

        # Checking the config and running a command take no lock.
        path = lxtest.write_config(text)
        rc, out, err = lxtest.run(["-t", "-c", path])
        self.assertEqual(rc, 0, out + err)
        status, j = s.json("GET", "/api/documents/" + doc["document_id"])
        self.assertEqual((status, j["id"]), (200, doc["document_id"]), j)

        # Once the first has stopped, the directory is free (the lock file
        # stays; only the lock counts) and the start-up check runs.
        s.stop()
        s.start()
        self.assertFalse(os.path.exists(stray))
        status, j = s.json("GET", "/api/documents/" + doc["document_id"])
        self.assertEqual(status, 200, j)

    def test_second_server_on_a_port_in_use_refuses_before_any_plugin_init(self):
        s = StorageServer(self)
        other = lxtest.tempdir()
        text = self.second_config(s, data_dir=other, listen="127.0.0.1:%d" % s.srv.port)
        rc, out, err, _ = lxtest.run_config(text, timeout=20)
        self.assertEqual(rc, 1, out + err)
        self.assertMentions(err, "cannot listen on 127.0.0.1:%d" % s.srv.port,
                            os.strerror(98))  # EADDRINUSE
        self.assertNotIn("sqlite database", out + err, "a plugin's init ran")
        self.assertEqual(sorted(os.listdir(other)), ["lexiaid.lock"])

    def test_reload_onto_another_data_dir_locks_it_first_and_frees_the_old_one(self):
        d1, d2, d3 = lxtest.tempdir(), lxtest.tempdir(), lxtest.tempdir()

        def conf(d):
            return lxtest.config(workers=1, server={"data_dir": d})

        a = self.start(conf(d1))
        b = self.start(conf(d2))
        # Onto a directory another server holds: refused, the old one serves.
        with open(a.config_path, "w") as f:
            f.write(conf(d2))
        a.signal(signal.SIGHUP)
        line = a.wait_log(lambda l: l.get("level") == "error" and
                          "another lexiaid (pid %d) is using %s" % (b.pid, d2)
                          in l.get("msg", ""), timeout=10)
        self.assertIsNotNone(line, a.output()[-3000:])
        self.assertIn("reload failed", line["msg"])
        self.assertEqual(a.get("/echo")[0], 200)
        # Onto a free one: locked; the old one is free once generation 1 has drained.
        with open(a.config_path, "w") as f:
            f.write(conf(d3))
        a.signal(signal.SIGHUP)
        self.assertIsNotNone(a.wait_log(lambda l: l.get("msg") == "generation 1 drained",
                                        timeout=30), a.output()[-3000:])
        self.assertEqual(a.get("/echo")[0], 200)
        rc, out, err, _ = lxtest.run_config(conf(d3), timeout=20)
        self.assertEqual(rc, 1, out + err)
        self.assertMentions(err, "another lexiaid (pid %d) is using %s" % (a.pid, d3))
        c = self.start(conf(d1))
        self.assertEqual(c.get("/echo")[0], 200)

    def test_plugin_command_runs_beside_a_live_server(self):
        data_dir = lxtest.tempdir()
        text = lxtest.config(workers=1, server={"data_dir": data_dir})
        self.start(text)
        path = lxtest.write_config(text)
        rc, out, err = lxtest.run(["-c", path, "echo-args", "x"])
        self.assertEqual(rc, 0, out + err)
        self.assertIn('"data_dir":"%s"' % data_dir, out)


if __name__ == "__main__":
    lxtest.main()
