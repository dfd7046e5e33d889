"""lxtutor: the tutoring plugin's test fixture, shared by
test_tutoring_chat.py, test_tutoring_answer.py, test_tutoring_providers.py
and test_tutoring_stream.py.

tutor_server(testcase, **kw) is a StorageServer (lxstorage.py: the real
binary with health, auth and storage, SQLite or PostgreSQL) with the
tutoring plugin loaded after storage and its routes behind
auth.require_user:

    POST /api/v2/agent/chat                      tutoring.chat
    GET  /api/v2/agent/history                   tutoring.history
    POST /api/v2/answer-formulation/refine       tutoring.refine
    POST /api/v2/answer-formulation/edit         tutoring.edit

tutor_cfg (a dict) is the plugin's config group; other keyword arguments
go to StorageServer.

With a model provider (test_tutoring_providers.py, test_tutoring_stream.py):
provider_cfg(kind, fake) is the config group pointing gemini and openai at
an lxfakellm.FakeLLM; sse_post(server, path, body) reads a streamed
(Accept: text/event-stream) reply event by event.
"""

import os

import lxtest
from lxstorage import StorageServer

USER = ["auth.require_user"]
TUTOR_ROUTES = [
    ("POST", "/api/v2/agent/chat", "tutoring.chat"),
    ("GET", "/api/v2/agent/history", "tutoring.history"),
    ("POST", "/api/v2/answer-formulation/refine", "tutoring.refine"),
    ("POST", "/api/v2/answer-formulation/edit", "tutoring.edit"),
]


def tutoring_so():
    """The built tutoring plugin."""
    return os.path.join(lxtest.BUILDDIR, "plugins", "tutoring", ".libs", "tutoring.so")


def tutor_plugin(cfg=None):
    p = {"name": "tutoring", "file": tutoring_so()}
    if cfg:
        p["config"] = dict(cfg)
    return p


def tutor_server(testcase, tutor_cfg=None, **kw):
    """A StorageServer with the tutoring plugin and its routes."""
    routes = [lxtest.route(m, p, h, before=list(USER)) for m, p, h in TUTOR_ROUTES]
    routes += list(kw.pop("extra_routes", None) or [])
    plugins = [tutor_plugin(tutor_cfg)] + list(kw.pop("extra_plugins", None) or [])
    return StorageServer(testcase, extra_plugins=plugins, extra_routes=routes, **kw)


# ---------------------------------------------------------------- model providers

def provider_cfg(provider, fake, gemini_key=None, openai_key=None, deadline="20s",
                 max_attempts=3, backoff="50ms", target_grade=7, **over):
    """The plugin's config group for `provider` ("gemini", "openai", "auto",
    "offline") with both providers pointed at `fake` (an lxfakellm.FakeLLM).
    The keys default to fake.key for the named provider and "" for the
    other (for "auto", pass them)."""
    import lxfakellm
    if gemini_key is None:
        gemini_key = fake.key if provider == "gemini" else ""
    if openai_key is None:
        openai_key = fake.key if provider == "openai" else ""
    cfg = {"provider": provider, "target_grade": target_grade, "deadline": deadline,
           "max_attempts": max_attempts, "backoff": backoff,
           "gemini": {"base_url": fake.gemini_base, "api_key": gemini_key or "",
                      "model": lxfakellm.GEMINI_MODEL},
           "openai": {"base_url": fake.openai_base, "api_key": openai_key or "",
                      "model": lxfakellm.OPENAI_MODEL}}
    cfg.update(over)
    return cfg


class SSEReply:
    """What a POST with Accept: text/event-stream got: status, headers
    (lower-case names), and either events (a stream) or body (plain)."""

    def __init__(self, status, headers):
        self.status = status
        self.headers = headers
        self.body = b""
        self.events = []   # {"event", "data" (parsed JSON or the text), "t"}
        self.clean_end = False  # the chunked body ended with its last chunk

    @property
    def is_stream(self):
        return (self.headers.get("content-type") or "").startswith("text/event-stream")

    def named(self, name):
        return [e for e in self.events if e["event"] == name]

    def json(self):
        return lxtest.parse_json(self.body)


def sse_post(storage_server, path, body, uid="u1", on_event=None, timeout=60,
             accept="text/event-stream"):
    """POSTs body (a dict, as JSON) with Accept: text/event-stream as user
    uid and reads the reply as it arrives: each server-sent event is parsed
    (data as JSON when it is) and passed to on_event(event) when given, as
    soon as it is complete. Returns an SSEReply."""
    import http.client
    import json as _json
    import time as _time
    srv = storage_server.srv
    headers = {"Authorization": "Bearer " + storage_server.token(uid),
               "Content-Type": "application/json", "Accept": accept}
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    try:
        conn.request("POST", path, body=_json.dumps(body).encode(), headers=headers)
        resp = conn.getresponse()
        out = SSEReply(resp.status, lxtest.lower_headers(resp))
        if not out.is_stream:
            out.body = resp.read()
            return out
        buf = b""
        while True:
            try:
                data = resp.read1(65536)
            except http.client.IncompleteRead as e:
                buf += e.partial or b""
                break
            if not data:
                out.clean_end = True
                break
            out.body += data
            buf += data.replace(b"\r\n", b"\n")
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                ev = _sse_event(block)
                if ev is None:
                    continue
                ev["t"] = _time.monotonic()
                out.events.append(ev)
                if on_event is not None:
                    on_event(ev)
        return out
    finally:
        conn.close()


def _sse_event(block):
    import json as _json
    name, data = "message", []
    for line in block.decode("utf-8").split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if not data and name == "message":
        return None
    text = "\n".join(data)
    try:
        parsed = _json.loads(text)
    except ValueError:
        parsed = text
    return {"event": name, "data": parsed, "raw": text}
