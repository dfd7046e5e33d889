"""lxfakestt: a loopback fake of the network speech recognizers the speech
plugin speaks to (python3 stdlib only), for its integration tests and
bench/speech.sh:

  OpenAI-compatible  POST /v1/audio/transcriptions, multipart (file, model,
                     response_format, language); answers {"text": ...}
  Google             POST /v1/speech:recognize, JSON with LINEAR16 base64
                     audio, the key in X-Goog-Api-Key; answers
                     {"results": [{"alternatives": [{transcript, confidence}]}]}

Each request takes the next behaviour of the script, else the default:
    answer(text)        the format's success shape
    status(code)        an error in the format's shape
    sleep(seconds)      then the default answer (a slow server)
A wrong key is a 401; with token_ok(token) set, Google's calls need
`Authorization: Bearer <token>` that it accepts and no key (else 401). Every request is recorded (path, headers, form
fields or JSON, the audio as 16-bit samples, its rate and channels).

    fake = FakeSTT(key="k")          # started; fake.close() at the end
    fake.script(status(429), answer("hello"))
"""

import base64
import json
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "stt-test-5ecret-DO-NOT-LOG"


def answer(text):
    return ("answer", text)


def status(code):
    return ("status", code)


def sleep(seconds):
    return ("sleep", seconds)


class Req:
    def __init__(self, path, headers, raw):
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = raw
        self.fields, self.samples, self.rate, self.channels, self.json = {}, 0, 0, 0, None


def parse_multipart(ctype, raw):
    boundary = ctype.split("boundary=", 1)[1].strip().strip('"').encode()
    fields = {}
    for part in raw.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, body = part.partition(b"\r\n\r\n")
        body = body[:-2] if body.endswith(b"\r\n") else body
        name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
        fields[name] = body
    return fields


def wav_info(wav):
    """(samples, rate, channels, bits) of a PCM WAV."""
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE", wav[:16]
    fmt = wav.index(b"fmt ")
    tag, ch, rate = struct.unpack("<HHI", wav[fmt + 8:fmt + 16])
    bits = struct.unpack("<H", wav[fmt + 22:fmt + 24])[0]
    data = wav.index(b"data")
    n = struct.unpack("<I", wav[data + 4:data + 8])[0]
    return n // (ch * bits // 8), rate, ch, bits


class FakeSTT:
    def __init__(self, key=KEY, default_text="plants need light and water", token_ok=None):
        self.key = key
        self.token_ok = token_ok
        self.default_text = default_text
        self.requests = []
        self._script = []
        self._lock = threading.Lock()
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                fake._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self._t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._t.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, *steps):
        with self._lock:
            self._script.extend(steps)

    def _next(self):
        with self._lock:
            return self._script.pop(0) if self._script else ("answer", self.default_text)

    def _send(self, h, code, obj):
        body = json.dumps(obj).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            h.wfile.write(body)
        except OSError:
            pass

    def _google_auth_ok(self, r):
        """The key in X-Goog-Api-Key, or with token_ok set (a service
        account's OAuth) a Bearer token it accepts and no key at all."""
        if self.token_ok is None:
            return r.headers.get("x-goog-api-key") == self.key
        authz = r.headers.get("authorization", "")
        return ("x-goog-api-key" not in r.headers and authz.startswith("Bearer ")
                and self.token_ok(authz[7:]))

    def _handle(self, h):
        n = int(h.headers.get("Content-Length", "0"))
        raw = h.rfile.read(n)
        r = Req(h.path, dict(h.headers), raw)
        google = h.path.startswith("/v1/speech:recognize")
        with self._lock:
            self.requests.append(r)
        if google:
            if not self._google_auth_ok(r):
                return self._send(h, 401, {"error": {"code": 401, "message": "bad key"}})
            r.json = json.loads(raw)
            pcm = base64.b64decode(r.json["audio"]["content"])
            r.samples, r.rate, r.channels = len(pcm) // 2, r.json["config"]["sampleRateHertz"], 1
        else:
            if self.key and r.headers.get("authorization") != "Bearer " + self.key:
                return self._send(h, 401, {"error": {"message": "bad key"}})
            r.fields = parse_multipart(r.headers["content-type"], raw)
            r.samples, r.rate, r.channels, _ = wav_info(r.fields["file"])
        kind, arg = self._next()
        if kind == "sleep":
            time.sleep(arg)
            kind, arg = "answer", self.default_text
        if kind == "status":
            return self._send(h, arg, {"error": {"code": arg, "message": "fake error %d" % arg}})
        if google:
            return self._send(h, 200, {"results": [{"alternatives": [
                {"transcript": arg, "confidence": 0.93}]}]})
        return self._send(h, 200, {"text": arg})
