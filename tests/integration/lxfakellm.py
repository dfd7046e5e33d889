"""lxfakellm: a loopback fake language-model provider for the tutoring
plugin's integration tests (python3 stdlib only).

One real HTTP/1.1 server on 127.0.0.1 (a thread per connection, keep-alive)
that speaks both wire formats of plugins/tutoring/llm.h:

  Gemini   POST {gemini_base}/models/{model}:generateContent
           POST {gemini_base}/models/{model}:streamGenerateContent?alt=sse
           key in x-goog-api-key; answer candidates[0].content.parts[*].text;
           a stream is SSE "data: {same shape}" events until the body ends.
  OpenAI   POST {openai_base}/chat/completions ("Authorization: Bearer KEY");
           answer choices[0].message.content; with "stream": true, SSE
           "data: {choices[0].delta.content}" events, then "data: [DONE]".

A wrong or missing key is answered 401 as the real services do (and
recorded). Each request takes the next behaviour of the script (a queue,
one per request), or the default when the queue is empty:

    answer(text_or_fn, chunks=None, delay=0, gate=None)
        text, or fn(req) -> str | dict | list (a dict or list is sent as its
        JSON text, as a model in JSON mode answers); streamed as `chunks`
        (default: the text split in up to 3 pieces) `delay` seconds apart;
        gate=(i, threading.Event): wait (up to 30 s) for the event before
        sending chunk i.
    status(code, headers=None, body=None)   an error answer in the format's
        error shape (or body as given), e.g. status(429, {"Retry-After": "1"})
    raw(body, code=200, ctype="application/json")  any body, e.g. malformed JSON
    sleep(seconds, then=None)   waits, watching the connection; a client that
        closes it is recorded (req.disconnected) and nothing is sent; else
        `then` (default: answer(DEFAULT_TEXT)) answers.
    hold(until, timeout=10, then=None)   the same, until until(fake) is true.
    drop()   the connection is reset before any answer.
    reset(text="...", chunks=1)  non-stream: the headers and half the body,
        then the connection is reset (SO_LINGER 0); stream: `chunks` events,
        then the reset.

Every request is recorded as a Req (arrival time, path, query, headers,
parsed JSON body, what was sent and when, whether the client went away).

    fake = FakeLLM(key=KEY)            # started; fake.close() at the end
    fake.script(status(429, {"Retry-After": "1"}), answer("Hi"))
    ... fake.requests, fake.wait_requests(2), fake.wait_disconnect(req) ...
"""

import json
import select
import socket
import struct
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "sk-test-5ecret-DO-NOT-LOG"
GEMINI_MODEL = "gemini-fake-1"
OPENAI_MODEL = "gpt-fake-1"
DEFAULT_TEXT = "The fake model's answer."


def now():
    return time.monotonic()


# ---------------------------------------------------------------- requests

class Req:
    """One request the fake received."""

    def __init__(self, method, raw_path, headers, raw):
        self.t = now()                      # when its body was read
        self.method = method
        self.raw_path = raw_path
        u = urllib.parse.urlsplit(raw_path)
        self.path = urllib.parse.unquote(u.path)
        self.query = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = raw
        try:
            self.body = json.loads(raw.decode("utf-8")) if raw else None
        except (ValueError, UnicodeDecodeError):
            self.body = None
        self.kind = None     # "gemini" | "openai" | None (unknown path)
        self.model = None
        self.stream = False
        self.behaviour = None
        self.status = None   # the status sent, None when none was
        self.sent = []       # (time, what): "headers", "chunk 0", ..., "end", "reset"
        self.disconnected = threading.Event()
        self.disconnected_at = None
        self.done = threading.Event()
        self.done_at = None  # when the fake finished with it
        self._route()

    def _route(self):
        p = self.path
        if p.endswith("/chat/completions"):
            self.kind = "openai"
            self.stream = bool(isinstance(self.body, dict) and self.body.get("stream"))
            if isinstance(self.body, dict):
                self.model = self.body.get("model")
            return
        i = p.rfind("/models/")
        if i >= 0:
            rest = p[i + len("/models/"):]
            if rest.endswith(":generateContent"):
                self.kind, self.model = "gemini", rest[:-len(":generateContent")]
            elif rest.endswith(":streamGenerateContent"):
                self.kind, self.model = "gemini", rest[:-len(":streamGenerateContent")]
                self.stream = True

    # -- what the client sent, in either format

    def key(self):
        """The API key the request carried, or None."""
        if self.kind == "gemini":
            return self.headers.get("x-goog-api-key")
        a = self.headers.get("authorization") or ""
        return a[len("Bearer "):] if a.startswith("Bearer ") else None

    def system(self):
        """The system instruction's text ("" when none)."""
        b = self.body if isinstance(self.body, dict) else {}
        if self.kind == "gemini":
            si = b.get("systemInstruction") or b.get("system_instruction") or {}
            return "".join(p.get("text", "") for p in si.get("parts", []) if isinstance(p, dict))
        return "\n".join(m.get("content") or "" for m in b.get("messages", [])
                         if isinstance(m, dict) and m.get("role") == "system")

    def turns(self):
        """The conversation without the system instruction: [(role, text)],
        role "user" or "model" (OpenAI's "assistant" mapped to "model")."""
        b = self.body if isinstance(self.body, dict) else {}
        out = []
        if self.kind == "gemini":
            for c in b.get("contents", []):
                text = "".join(p.get("text", "") for p in c.get("parts", [])
                               if isinstance(p, dict))
                out.append((c.get("role"), text))
        else:
            for m in b.get("messages", []):
                if m.get("role") == "system":
                    continue
                role = "model" if m.get("role") == "assistant" else m.get("role")
                out.append((role, m.get("content")))
        return out

    def roles(self):
        """The roles as sent: Gemini's contents[*].role, OpenAI's
        messages[*].role (system included)."""
        b = self.body if isinstance(self.body, dict) else {}
        if self.kind == "gemini":
            return [c.get("role") for c in b.get("contents", [])]
        return [m.get("role") for m in b.get("messages", [])]

    def last_user(self):
        t = self.turns()
        return t[-1][1] if t and t[-1][0] == "user" else None

    def json_mode(self):
        """True when the request asks for a JSON answer."""
        b = self.body if isinstance(self.body, dict) else {}
        if self.kind == "gemini":
            gc = b.get("generationConfig") or {}
            return gc.get("responseMimeType") == "application/json"
        rf = b.get("response_format") or {}
        return isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema")

    def schema(self):
        """Gemini's responseSchema (a dict) or None."""
        b = self.body if isinstance(self.body, dict) else {}
        return (b.get("generationConfig") or {}).get("responseSchema")

    def all_text(self):
        """The system instruction and every turn, joined (for searching)."""
        return self.system() + "\n" + "\n".join(t or "" for _, t in self.turns())

    def sent_chunks(self):
        return sum(1 for _, w in list(self.sent) if w.startswith("chunk "))

    def __repr__(self):
        return "<Req %s %s kind=%s stream=%s behaviour=%s status=%s>" % (
            self.method, self.raw_path, self.kind, self.stream, self.behaviour, self.status)


# ---------------------------------------------------------------- answers in both formats

def gemini_body(text, finish="STOP"):
    c = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        c["finishReason"] = finish
    return {"candidates": [c],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
                              "totalTokenCount": 15},
            "modelVersion": GEMINI_MODEL}


def openai_body(text):
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": OPENAI_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def openai_delta(text=None, finish=None):
    d = {} if text is None else {"content": text}
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": OPENAI_MODEL,
            "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


def error_body(kind, code, message):
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
             404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
             503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
    if kind == "gemini":
        return {"error": {"code": code, "message": message,
                          "status": names.get(code, "UNKNOWN")}}
    return {"error": {"message": message, "type": "fake_error", "code": code}}


def split_text(text, n=3):
    """text in up to n non-empty pieces at word boundaries (joined: text)."""
    words = text.split(" ")
    if len(words) < 2 or n < 2:
        return [text]
    per = max(1, (len(words) + n - 1) // n)
    pieces = []
    for i in range(0, len(words), per):
        pieces.append(" ".join(words[i:i + per]))
    return [p + " " for p in pieces[:-1]] + [pieces[-1]]


# ---------------------------------------------------------------- behaviours

class Behaviour:
    name = "behaviour"

    def run(self, h, req):
        raise NotImplementedError


class answer(Behaviour):
    name = "answer"

    def __init__(self, text, chunks=None, delay=0.0, gate=None):
        self.text, self.chunks, self.delay, self.gate = text, chunks, delay, gate

    def resolve(self, req):
        t = self.text(req) if callable(self.text) else self.text
        if isinstance(t, (dict, list)):
            t = json.dumps(t)
        return t

    def run(self, h, req):
        text = self.resolve(req)
        if not req.stream:
            body = gemini_body(text) if req.kind == "gemini" else openai_body(text)
            h.send_json(req, 200, body)
            return
        pieces = list(self.chunks) if self.chunks is not None else split_text(text)
        h.start_stream(req)
        for i, piece in enumerate(pieces):
            if i > 0 and self.delay:
                if not h.wait(req, self.delay):
                    return
            if self.gate is not None and self.gate[0] == i:
                self.gate[1].wait(30)
            last = i == len(pieces) - 1
            if req.kind == "gemini":
                ev = gemini_body(piece, finish="STOP" if last else None)
            else:
                ev = openai_delta(piece)
            if not h.send_chunk(req, b"data: " + json.dumps(ev).encode() + b"\r\n\r\n",
                                "chunk %d" % i):
                return
        if req.kind == "openai":
            if not h.send_chunk(req, b"data: " + json.dumps(openai_delta(None, "stop")).encode()
                                + b"\n\ndata: [DONE]\n\n", "done"):
                return
        h.end_stream(req)


class status(Behaviour):
    name = "status"

    def __init__(self, code, headers=None, body=None):
        self.code, self.hdrs, self.body = code, dict(headers or {}), body

    def run(self, h, req):
        body = self.body
        if body is None:
            body = error_body(req.kind, self.code, "fake error %d" % self.code)
        h.send_json(req, self.code, body, self.hdrs)


class raw(Behaviour):
    name = "raw"

    def __init__(self, body, code=200, ctype="application/json"):
        self.body, self.code, self.ctype = body, code, ctype

    def run(self, h, req):
        h.send_raw(req, self.code, self.body, self.ctype)


class sleep(Behaviour):
    name = "sleep"

    def __init__(self, seconds, then=None):
        self.seconds, self.then = seconds, then

    def run(self, h, req):
        if not h.wait(req, self.seconds):
            return
        (self.then or answer(DEFAULT_TEXT)).run(h, req)


class hold(Behaviour):
    """Waits (watching the connection) until until(fake) is true or
    `timeout` seconds passed, then `then` answers (default: DEFAULT_TEXT).
    E.g. hold(lambda f: len(f.seen()) >= 4): nothing is answered before
    four requests are in flight at once."""
    name = "hold"

    def __init__(self, until, timeout=10.0, then=None):
        self.until, self.timeout, self.then = until, timeout, then

    def run(self, h, req):
        end = now() + self.timeout
        while not self.until(h.fake) and now() < end:
            if not h.wait(req, 0.05):
                return
        (self.then or answer(DEFAULT_TEXT)).run(h, req)


class reset(Behaviour):
    name = "reset"

    def __init__(self, text="This answer is cut off in the middle of the body.", chunks=1):
        self.text, self.chunks = text, chunks

    def run(self, h, req):
        if not req.stream:
            body = gemini_body(self.text) if req.kind == "gemini" else openai_body(self.text)
            data = json.dumps(body).encode()
            h.send_head(req, 200, "application/json", len(data))
            h.write(req, data[:len(data) // 2], "half body")
            h.reset(req)
            return
        h.start_stream(req)
        for i, piece in enumerate(split_text(self.text)[:self.chunks]):
            ev = gemini_body(piece, finish=None) if req.kind == "gemini" else openai_delta(piece)
            if not h.send_chunk(req, b"data: " + json.dumps(ev).encode() + b"\r\n\r\n",
                                "chunk %d" % i):
                return
        h.wait(req, 0.2)  # the piece reaches the client before the reset
        h.reset(req)


class drop(Behaviour):
    """The request is read, then the connection is reset without a byte
    of answer (a connection error for the client)."""
    name = "drop"

    def run(self, h, req):
        h.reset(req)


# ---------------------------------------------------------------- the server

class _Gone(Exception):
    pass


class FakeLLM:
    """The fake provider. key: the key it expects (None: any or none)."""

    def __init__(self, key=KEY, default=None):
        self.key = key
        self.lock = threading.Lock()
        self.requests = []
        self.queue = []
        self.default = default or answer(DEFAULT_TEXT)
        self.closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60

            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                fake._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.gemini_base = self.url + "/v1beta"
        self.openai_base = self.url + "/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    # -- scripting

    def script(self, *behaviours):
        """Appends behaviours to the queue (one per request, in order)."""
        with self.lock:
            self.queue.extend(behaviours)

    def clear(self):
        """Empties the queue and forgets the requests seen so far."""
        with self.lock:
            self.queue = []
            self.requests = []

    def pending(self):
        with self.lock:
            return len(self.queue)

    def _next(self):
        with self.lock:
            return self.queue.pop(0) if self.queue else self.default

    # -- what happened

    def seen(self, kind=None):
        with self.lock:
            return [r for r in self.requests if kind is None or r.kind == kind]

    def wait_requests(self, n, timeout=10.0):
        """Waits until n requests arrived; returns the list (maybe shorter)."""
        deadline = now() + timeout
        while now() < deadline:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        return self.seen()

    def wait_done(self, n, timeout=10.0):
        """Waits until the first n requests were answered (or abandoned)."""
        deadline = now() + timeout
        reqs = self.wait_requests(n, timeout)
        for r in reqs[:n]:
            r.done.wait(max(0.0, deadline - now()))
        return self.seen()

    # -- the handler side

    def _handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        if n:
            data = h.rfile.read(n)
        elif (h.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            data = _read_chunked(h.rfile)
        else:
            data = b""
        req = Req(h.command, h.path, h.headers, data)
        with self.lock:
            self.requests.append(req)
        io = _IO(self, h)
        try:
            if req.kind is None:
                req.behaviour = "unknown path"
                io.send_json(req, 404, {"error": {"code": 404, "message": "no such path"}})
            elif self.key is not None and req.key() != self.key:
                req.behaviour = "bad key"
                io.send_json(req, 401, error_body(req.kind, 401,
                                                  "API key not valid. Please pass a valid "
                                                  "API key."))
            else:
                b = self._next()
                req.behaviour = b.name
                b.run(io, req)
        except _Gone:
            pass
        except OSError:
            io.gone(req)
        finally:
            req.done_at = now()
            req.done.set()

    def close(self):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _read_chunked(f):
    out = []
    while True:
        line = f.readline()
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while f.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(out)
        out.append(f.read(size))
        f.readline()


class _IO:
    """Writing an answer on one connection, recording what was sent."""

    def __init__(self, fake, h):
        self.fake, self.h = fake, h

    def gone(self, req):
        if not req.disconnected.is_set():
            req.disconnected_at = now()
            req.disconnected.set()
        self.h.close_connection = True

    def wait(self, req, seconds):
        """Sleeps `seconds` watching the connection: False (and recorded)
        when the client closed it meanwhile."""
        sock = self.h.connection
        end = now() + seconds
        while True:
            left = end - now()
            if left <= 0:
                return True
            if self.fake.closing.is_set():
                self.gone(req)
                return False
            r, _, _ = select.select([sock], [], [], min(left, 0.05))
            if r:
                try:
                    peek = sock.recv(1, socket.MSG_PEEK)
                except OSError:
                    peek = b""
                if not peek:
                    self.gone(req)
                    return False
                time.sleep(min(left, 0.05))  # pipelined bytes: not a close

    def write(self, req, data, what):
        try:
            self.h.wfile.write(data)
            self.h.wfile.flush()
        except OSError:
            self.gone(req)
            raise _Gone()
        req.sent.append((now(), what))

    def send_head(self, req, code, ctype, length=None, headers=None, chunked=False):
        h = self.h
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            h.send_header("Content-Length", str(length))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        try:
            h.end_headers()
        except OSError:
            self.gone(req)
            raise _Gone()
        req.status = code
        req.sent.append((now(), "headers"))

    def send_raw(self, req, code, body, ctype="application/json", headers=None):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_head(req, code, ctype, len(body), headers)
        self.write(req, body, "body")

    def send_json(self, req, code, obj, headers=None):
        self.send_raw(req, code, json.dumps(obj), "application/json", headers)

    def start_stream(self, req):
        self.send_head(req, 200, "text/event-stream", chunked=True)

    def send_chunk(self, req, data, what):
        try:
            self.write(req, b"%x\r\n" % len(data) + data + b"\r\n", what)
        except _Gone:
            return False
        return True

    def end_stream(self, req):
        self.write(req, b"0\r\n\r\n", "end")

    def reset(self, req):
        """Closes the connection with a TCP reset (SO_LINGER 0)."""
        sock = self.h.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass
        req.sent.append((now(), "reset"))
        self.h.close_connection = True
        raise _Gone()


# ---------------------------------------------------------------- self-check

def _selfcheck():
    """Exercises the fake with a plain HTTP client (python3 lxfakellm.py)."""
    import http.client

    def post(fake, path, body, headers, read=True):
        c = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
        c.request("POST", path, body=json.dumps(body), headers=headers)
        r = c.getresponse()
        data = r.read() if read else None
        c.close()
        return r.status, dict(r.getheaders()), data

    fake = FakeLLM()
    g = "/v1beta/models/%s:generateContent" % GEMINI_MODEL
    gs = "/v1beta/models/%s:streamGenerateContent?alt=sse" % GEMINI_MODEL
    o = "/v1/chat/completions"
    gk = {"x-goog-api-key": KEY, "Content-Type": "application/json"}
    ok = {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"}
    gbody = {"systemInstruction": {"parts": [{"text": "SYS"}]},
             "contents": [{"role": "user", "parts": [{"text": "Q1"}]},
                          {"role": "model", "parts": [{"text": "A1"}]},
                          {"role": "user", "parts": [{"text": "Q2"}]}]}
    obody = {"model": OPENAI_MODEL, "messages": [{"role": "system", "content": "SYS"},
                                                 {"role": "user", "content": "Q"}]}
    try:
        fake.script(answer("hello world"))
        st, _, data = post(fake, g, gbody, gk)
        assert st == 200 and json.loads(data)["candidates"][0]["content"]["parts"][0][
            "text"] == "hello world", data
        r = fake.seen()[-1]
        assert (r.kind, r.model, r.stream, r.system(), r.last_user()) == (
            "gemini", GEMINI_MODEL, False, "SYS", "Q2"), r
        assert r.turns() == [("user", "Q1"), ("model", "A1"), ("user", "Q2")]
        st, _, data = post(fake, g, gbody, {"x-goog-api-key": "wrong"})
        assert st == 401, st
        fake.script(answer(lambda req: {"echo": req.last_user()}))
        st, _, data = post(fake, o, obody, ok)
        assert st == 200 and json.loads(json.loads(data)["choices"][0]["message"]["content"]) \
            == {"echo": "Q"}
        fake.script(status(429, {"Retry-After": "1"}), raw("{not json"))
        st, hd, _ = post(fake, o, obody, ok)
        assert st == 429 and hd.get("Retry-After") == "1", (st, hd)
        st, _, data = post(fake, o, obody, ok)
        assert st == 200 and data == b"{not json"
        fake.script(answer("one two three four five six", delay=0.05))
        st, hd, data = post(fake, gs, gbody, gk)
        texts = [json.loads(l[6:])["candidates"][0]["content"]["parts"][0]["text"]
                 for l in data.decode().split("\r\n") if l.startswith("data: ")]
        assert st == 200 and "".join(texts) == "one two three four five six", data
        assert len(texts) == 3 and fake.seen()[-1].stream
        fake.script(answer("alpha beta gamma"))
        st, _, data = post(fake, o, dict(obody, stream=True), ok)
        lines = [l for l in data.decode().split("\n") if l.startswith("data: ")]
        assert lines[-1] == "data: [DONE]", lines
        got = "".join(json.loads(l[6:])["choices"][0]["delta"].get("content", "")
                      for l in lines[:-1])
        assert got == "alpha beta gamma", got
        fake.script(reset())
        try:
            st, _, data = post(fake, g, gbody, gk)
            raise AssertionError("reset not seen: %r" % data)
        except (http.client.IncompleteRead, ConnectionError):
            pass
        # A client gone while the fake sleeps is noticed.
        fake.script(sleep(20))
        before = len(fake.seen())
        s = socket.create_connection(("127.0.0.1", fake.port))
        payload = json.dumps(gbody).encode()
        s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nx-goog-api-key: %s\r\nContent-Length: %d"
                   "\r\n\r\n" % (g, KEY, len(payload))).encode() + payload)
        reqs = fake.wait_requests(before + 1)
        s.close()
        assert reqs[-1].disconnected.wait(5), "disconnect not seen"
        print("lxfakellm self-check: ok (%d requests)" % len(fake.seen()))
    finally:
        fake.close()


if __name__ == "__main__":
    _selfcheck()
