#!/usr/bin/env python3
"""The command line: -v, -h, bad options, -t (config test), --probe, and the commands
that plugins offer (`lexiaid [-c FILE] COMMAND ARGS...`, testplug's echo-args and fail)."""

import json
import os
import re
import shutil
import socket

import lxtest
from lxtest import Raw, config, plugin_path, run, tempdir, write_config


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
        with open(os.path.join(lxtest.SRCDIR, "include", "lexiaid", "plugin.h")) as f:
            h = f.read()
        abi = "ABI %s.%s" % (re.search(r"#define LX_ABI_MAJOR (\d+)", h).group(1),
                             re.search(r"#define LX_ABI_MINOR (\d+)", h).group(1))
        self.assertMentions(out + err, abi)
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


def command_config(testplug_config=None, extra_plugins=(), data_dir=None):
    """testplug (with its config group) and health, no routes needed."""
    tp = {"name": "testplug"}
    if testplug_config is not None:
        tp["config"] = testplug_config
    server = {"data_dir": data_dir} if data_dir else None
    return config(plugins=[tp, "health"] + list(extra_plugins), routes=[], server=server)


class TestCommands(lxtest.TestCase):

    def run_command(self, args, text=None):
        path = write_config(text or command_config())
        return run(["-c", path] + list(args)), path

    def test_command_runs_with_its_arguments_and_the_state_of_init(self):
        data_dir = tempdir()
        (rc, out, err), _ = self.run_command(
            ["echo-args", "a b", "--flag", "-c", "x"],
            command_config(testplug_config={"healthy": False}, data_dir=data_dir))
        self.assertEqual(rc, 0, out + err)
        lines = [l for l in out.splitlines() if l.startswith('{"argv"')]
        self.assertEqual(len(lines), 1, out)
        got = json.loads(lines[0])
        # argv[0] is the command; options after it belong to the command
        self.assertEqual(got["argv"], ["echo-args", "a b", "--flag", "-c", "x"])
        # the state made by init() from the plugin's config group
        self.assertIs(got["healthy"], False)
        self.assertEqual(got["data_dir"], data_dir)
        # shutdown() runs after the command
        self.assertLess(out.index('{"argv"'), out.index("testplug: shutdown"), out)

    def test_command_failure_exits_1_with_the_message(self):
        (rc, out, err), _ = self.run_command(["fail"])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("lexiaid fail: failed on purpose", err)
        self.assertIn("testplug: shutdown", out)

    def test_command_usage_error_exits_2_with_its_usage(self):
        (rc, out, err), _ = self.run_command(["fail", "usage"])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("lexiaid fail: wrong arguments on purpose", err)
        self.assertRegex(err, r"usage: lexiaid \[-c FILE\] fail \[usage\]\n")

    def test_unknown_command_exits_2_naming_the_commands(self):
        (rc, out, err), _ = self.run_command(["no-such-command", "x"])
        self.assertEqual(rc, 2, out + err)
        self.assertIn("lexiaid: unknown command 'no-such-command' (commands: echo-args, fail)",
                      err)
        self.assertNotIn("testplug: shutdown", out)

    def test_command_with_t_or_probe_is_a_usage_error(self):
        path = write_config(command_config())
        rc, out, err = run(["-t", "-c", path, "echo-args"])
        self.assertEqual(rc, 2, out + err)
        rc, out, err = run(["--probe", "http://127.0.0.1:1/", "echo-args"])
        self.assertEqual(rc, 2, out + err)

    def test_command_with_a_broken_config_exits_1_with_file_and_line(self):
        path = write_config('server = { listen = "127.0.0.1:0"; };\nthis is not valid ;\n')
        rc, out, err = run(["-c", path, "echo-args"])
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, re.escape(path) + r":2:")

    def test_command_stops_when_an_init_fails(self):
        text = config(plugins=["testplug", "init_fails"], routes=[])
        path = write_config(text)
        rc, out, err = run(["-c", path, "echo-args"])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("init_fails", err)
        self.assertNotIn('{"argv"', out)

    def test_command_opens_no_socket(self):
        # a port that is taken would stop a server; a command never binds it
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        try:
            port = s.getsockname()[1]
            text = config(plugins=["testplug"], routes=[],
                          server={"listen": "127.0.0.1:%d" % port})
            (rc, out, err), _ = self.run_command(["echo-args"], text)
            self.assertEqual(rc, 0, out + err)
            self.assertNotIn("listening on", out + err)
        finally:
            s.close()

    def test_help_lists_the_commands_of_the_configured_plugins(self):
        path = write_config(command_config())
        rc, out, err = run(["-c", path, "-h"])
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out.lower(), r"usage")
        self.assertIn("echo-args ARGS...", out)
        self.assertIn("fail [usage]", out)

    def test_help_with_a_broken_config_prints_just_the_usage(self):
        path = write_config("this is not valid ;\n")
        rc, out, err = run(["-h", "-c", path])
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out.lower(), r"usage")
        self.assertNotIn("echo-args", out)

    def test_plugins_without_commands_still_load(self):
        # health offers no command; svc_provider/svc_consumer neither
        text = config(plugins=["testplug", "health", "svc_provider", "svc_consumer"], routes=[])
        (rc, out, err), _ = self.run_command(["echo-args", "ok"], text)
        self.assertEqual(rc, 0, out + err)
        self.assertIn('"argv":["echo-args","ok"]', out)

    def test_a_plugin_built_against_a_newer_minor_is_still_refused(self):
        text = config(plugins=["testplug", "newer_minor"], routes=[])
        (rc, out, err), _ = self.run_command(["echo-args"], text)
        self.assertEqual(rc, 1, out + err)
        self.assertIn(plugin_path("newer_minor"), err)
        self.assertIn("needs a newer core", err)

    def test_two_plugins_offering_the_same_command_are_refused(self):
        # a copy of testplug under another file name calls itself testplug_dup
        # and offers the same commands
        dup = os.path.join(tempdir(), "testplug_dup.so")
        shutil.copy(plugin_path("testplug"), dup)
        text = config(plugins=["testplug", {"name": "testplug_dup", "file": dup}], routes=[])
        (rc, out, err), path = self.run_command(["echo-args"], text)
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, re.escape(path) + r":\d+: command 'echo-args' is offered by two "
                         r"plugins")
        self.assertMentions(err, plugin_path("testplug"), dup)
        self.assertNotIn('{"argv"', out)
        # serving refuses the same configuration
        rc, out, err = run(["-t", "-c", path])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("command 'echo-args'", err)


if __name__ == "__main__":
    lxtest.main()
