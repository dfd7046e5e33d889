#!/usr/bin/env python3
"""The command line: -v, -h, bad options, -t (config test) and --probe."""

import re
import socket

import lxtest
from lxtest import Raw, config, run, write_config


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TestCli(lxtest.TestCase):

    def test_cli_version_prints_version_and_abi(self):
        rc, out, err = run(["-v"])
        self.assertEqual(rc, 0, err)
        self.assertMentions(out + err, "ABI 1.0")
        self.assertRegex(out + err, r"\d+\.\d+\.\d+")

    def test_cli_help_prints_usage_and_exits_0(self):
        rc, out, err = run(["-h"])
        self.assertEqual(rc, 0, err)
        self.assertRegex((out + err).lower(), r"usage")

    def test_cli_unknown_option_exits_2_with_usage_on_stderr(self):
        rc, out, err = run(["--no-such-option"])
        self.assertEqual(rc, 2, out + err)
        self.assertRegex(err.lower(), r"usage")

    def test_cli_t_accepts_a_good_config(self):
        path = write_config(config())
        rc, out, err = run(["-t", "-c", path])
        self.assertEqual(rc, 0, out + err)

    def test_cli_t_reports_syntax_error_with_file_and_line(self):
        text = 'server = { listen = "127.0.0.1:0"; };\nthis is not valid ;\n'
        path = write_config(text)
        rc, out, err = run(["-t", "-c", path])
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, re.escape(path) + r":2:")

    def test_cli_t_prints_every_error(self):
        text = config(routes=[("GET", "/x", "nosuchplugin.echo")],
                      server={"bogus_key": 1})
        path = write_config(text)
        rc, out, err = run(["-t", "-c", path])
        self.assertEqual(rc, 1, out + err)
        self.assertMentions(err, "bogus_key", "nosuchplugin")
        lines = [l for l in err.splitlines() if re.search(re.escape(path) + r":\d+:", l)]
        self.assertTrue(any("bogus_key" in l for l in lines), err)
        self.assertTrue(any("nosuchplugin" in l for l in lines), err)

    def test_cli_probe_succeeds_against_a_running_server(self):
        srv = self.start(config())
        rc, out, err = run(["--probe", srv.base_url + "/health"])
        self.assertEqual(rc, 0, out + err)

    def test_cli_probe_fails_against_a_closed_port(self):
        rc, out, err = run(["--probe", "http://127.0.0.1:%d/health" % closed_port()])
        self.assertNotEqual(rc, 0, out + err)

    def test_cli_probe_fails_on_404(self):
        srv = self.start(config())
        rc, out, err = run(["--probe", srv.base_url + "/no/such/path"])
        self.assertNotEqual(rc, 0, out + err)


if __name__ == "__main__":
    lxtest.main()
