#!/usr/bin/env python3
"""The configuration: refusals (exit 1, naming file and line) and ${VAR}
interpolation from the environment, a .env file and LEXIAID_ENV_FILE."""

import os
import re
import socket

import lxtest
from lxtest import Server, config, route, run_config, write_config, tempdir


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def line_of(text, needle, nth=0):
    """1-based line numbers of the lines containing needle."""
    return [i + 1 for i, l in enumerate(text.splitlines()) if needle in l]


class TestConfigRefusals(lxtest.TestCase):

    def assertRefused(self, text, needles, lines=None):
        """The server exits 1 and names the file, one of `lines` (if given)
        as FILE:LINE:, and every needle."""
        rc, out, err, path = run_config(text, timeout=10)
        both = out + err
        self.assertEqual(rc, 1, "expected exit 1, got %s\n%s" % (rc, both))
        self.assertMentions(both, path, *needles)
        m = re.findall(re.escape(path) + r":(\d+):", both)
        self.assertTrue(m, "no %s:LINE: in\n%s" % (path, both))
        if lines:
            self.assertTrue(set(int(x) for x in m) & set(lines),
                            "expected one of lines %s, got %s\n%s" % (lines, m, both))
        return both

    def test_config_refuses_unknown_server_key(self):
        text = config(server={"no_such_key": 1})
        self.assertRefused(text, ["no_such_key"], line_of(text, "no_such_key"))

    def test_config_refuses_unknown_top_level_key(self):
        text = config(extra="frobnicate = 1;")
        self.assertRefused(text, ["frobnicate"], line_of(text, "frobnicate"))

    def test_config_refuses_route_to_unknown_plugin(self):
        text = config(routes=[("GET", "/x", "ghost.echo")])
        self.assertRefused(text, ["ghost"], line_of(text, "ghost.echo"))

    def test_config_refuses_route_to_unknown_handler(self):
        text = config(routes=[("GET", "/x", "testplug.no_such_handler")])
        self.assertRefused(text, ["no_such_handler"], line_of(text, "no_such_handler"))

    def test_config_refuses_route_to_disabled_plugin(self):
        text = config(plugins=[{"name": "testplug", lxtest.PLUGIN_ENABLED_KEY: False}],
                      routes=[("GET", "/x", "testplug.echo")])
        self.assertRefused(text, ["testplug"],
                           line_of(text, "testplug.echo") + line_of(text, '"testplug"'))

    def test_config_refuses_duplicate_route_whatever_the_param_names(self):
        text = config(routes=[("GET", "/a/{x}", "testplug.echo"),
                              ("GET", "/a/{y}", "testplug.echo")])
        self.assertRefused(text, ["/a/"], line_of(text, "/a/{x}") + line_of(text, "/a/{y}"))

    def test_config_accepts_same_pattern_with_other_method(self):
        text = config(routes=[("GET", "/a/{x}", "testplug.echo"),
                              ("POST", "/a/{y}", "testplug.echo")])
        srv = self.start(text)
        self.assertEqual(srv.get("/a/1")[0], 200)

    def test_config_refuses_endpoint_used_as_middleware(self):
        text = config(routes=[route("GET", "/x", "testplug.echo", before=["testplug.echo"])])
        self.assertRefused(text, ["testplug.echo"], line_of(text, '"/x"'))

    def test_config_refuses_plugin_config_unknown_key(self):
        # testplug refuses unknown keys through host->cfg_check_keys.
        text = config(plugins=[{"name": "testplug", "config": {"bogus_opt": 1}}],
                      routes=[("GET", "/x", "testplug.echo")])
        self.assertRefused(text, ["bogus_opt"], line_of(text, "bogus_opt"))


    def test_config_refuses_bad_client_limits_naming_each(self):
        text = config(server={"header_timeout": "soon", "body_timeout": "5ms",
                              "body_min_rate": "lots", "max_unsent": "1",
                              "max_body_memory": "1K", "multipart_allowance": "1G"})
        both = self.assertRefused(text, ["header_timeout", "body_timeout", "body_min_rate",
                                         "max_unsent", "max_body_memory", "multipart_allowance"],
                                  line_of(text, "header_timeout"))
        # `lexiaid -t` says the same
        path = write_config(text)
        rc, out, err = lxtest.run(["-t", "-c", path])
        self.assertNotEqual(rc, 0)
        self.assertMentions(out + err, path + ":", "header_timeout", "max_unsent")
        self.assertIn("soon", both)

    def test_config_refuses_a_route_body_larger_than_max_body_memory(self):
        text = config(server={"max_body_memory": "1M"},
                      routes=[route("POST", "/big", "testplug.echo", max_body="2M"),
                              route("POST", "/ok", "testplug.echo", max_body="1M",
                                    body_timeout="2m")])
        self.assertRefused(text, ["max_body_memory", "2097152"], line_of(text, '"/big"'))

    def test_config_refuses_server_max_body_larger_than_max_body_memory(self):
        text = config(server={"max_body_memory": "1M", "max_body": "4M"})
        self.assertRefused(text, ["max_body_memory", "max_body"], line_of(text, "max_body"))

    def test_config_accepts_the_client_limits(self):
        srv = self.start(config(server={"header_timeout": "2s", "body_timeout": "1m",
                                        "body_min_rate": "1K", "max_unsent": "64K",
                                        "max_body_memory": "32M", "multipart_allowance": "16K",
                                        "max_connections": "64"},
                                routes=[route("POST", "/echo", "testplug.echo",
                                              body_timeout="10s")]))
        status, _, body = srv.request("POST", "/echo", body=b"abc")
        self.assertEqual(status, 200)
        self.assertEqual(lxtest.parse_json(body)["body"], "abc")


class TestConfigEnvironment(lxtest.TestCase):

    LISTEN = "${TEST_LISTEN:-127.0.0.1:0}"

    def text(self):
        return config(server={"listen": self.LISTEN})

    def env_without(self, **extra):
        env = {k: v for k, v in os.environ.items() if k not in ("TEST_LISTEN", "LEXIAID_ENV_FILE")}
        env.update(extra)
        return env

    def start_clean(self, config_path, env):
        # Server merges os.environ; make sure the test's variables are
        # exactly what we say.
        saved = {k: os.environ.pop(k) for k in ("TEST_LISTEN", "LEXIAID_ENV_FILE")
                 if k in os.environ}
        try:
            return self.start(config_path=config_path, env=env)
        finally:
            os.environ.update(saved)

    def test_env_default_used_when_unset(self):
        srv = self.start_clean(write_config(self.text()), self.env_without())
        self.assertNotEqual(srv.port, 0)
        self.assertEqual(srv.get("/health")[0], 200)

    def test_env_value_from_real_environment(self):
        port = free_port()
        srv = self.start_clean(write_config(self.text()),
                               self.env_without(TEST_LISTEN="127.0.0.1:%d" % port))
        self.assertEqual(srv.port, port)
        self.assertEqual(srv.get("/health")[0], 200)

    def test_env_value_from_dotenv_beside_config(self):
        d = tempdir()
        port = free_port()
        with open(os.path.join(d, ".env"), "w") as f:
            f.write("# test\nTEST_LISTEN=127.0.0.1:%d\n" % port)
        srv = self.start_clean(write_config(self.text(), d), self.env_without())
        self.assertEqual(srv.port, port)

    def test_env_real_environment_wins_over_dotenv(self):
        d = tempdir()
        port_file, port_env = free_port(), free_port()
        with open(os.path.join(d, ".env"), "w") as f:
            f.write("TEST_LISTEN=127.0.0.1:%d\n" % port_file)
        srv = self.start_clean(write_config(self.text(), d),
                               self.env_without(TEST_LISTEN="127.0.0.1:%d" % port_env))
        self.assertEqual(srv.port, port_env)

    def test_env_file_named_by_lexiaid_env_file(self):
        d, other = tempdir(), tempdir()
        port = free_port()
        env_file = os.path.join(other, "custom.env")
        with open(env_file, "w") as f:
            f.write("export TEST_LISTEN=\"127.0.0.1:%d\"\n" % port)
        srv = self.start_clean(write_config(self.text(), d),
                               self.env_without(LEXIAID_ENV_FILE=env_file))
        self.assertEqual(srv.port, port)

    def test_lexiaid_config_used_without_c(self):
        path = write_config(config())
        saved = os.environ.pop("LEXIAID_CONFIG", None)
        try:
            srv = self.start(args=[], env={"LEXIAID_CONFIG": path})
        finally:
            if saved is not None:
                os.environ["LEXIAID_CONFIG"] = saved
        self.assertEqual(srv.get("/echo")[0], 200)


if __name__ == "__main__":
    lxtest.main()
