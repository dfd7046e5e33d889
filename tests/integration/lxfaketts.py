"""lxfaketts: a loopback fake of the cloud text-to-speech services the
speech plugin speaks to (python3 stdlib, plus ffmpeg for MP3), for its
integration tests:

  Google   POST /v1beta1/text:synthesize (the key in X-Goog-Api-Key):
           SSML with <mark name="N"/> per word in, LINEAR16 WAV (base64)
           and one timepoint per mark out: each mark is SECONDS_PER_MARK
           of audio, its time LEAD + i * SECONDS_PER_MARK in the chunk.
           Voices named *Studio* answer without timepoints; *Journey*
           voices refuse SSML (400), as Google's do.
           GET /v1beta1/voices: VOICES.
  OpenAI   POST /v1/audio/speech (Authorization: Bearer key): an MP3 of
           OPENAI_SECONDS_PER_WORD per word of the input (ffmpeg).

Each synthesis request takes the next behaviour of the script, else the
default answer:
    status(code)   an error in Google's shape
    sleep(seconds) then the answer (a slow server)
    garbage()      200 with a body that is not JSON
A wrong key is a 401; with token_ok(token) set, Google's calls need
`Authorization: Bearer <token>` that it accepts and no key (else 401). Every request is recorded (path, headers, JSON);
fake.max_in_flight is the most synthesis requests it held at once. With
hold_for_overlap=True each synthesis request waits (up to 10 s) until a
second one is in flight, so that a test can see chunks arrive in parallel
without depending on timing.
"""

import base64
import json
import re
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "tts-test-5ecret-DO-NOT-LOG"
SECONDS_PER_MARK = 0.2
LEAD = 0.05
OPENAI_SECONDS_PER_WORD = 0.3
VOICES = [
    {"languageCodes": ["en-US"], "name": "en-US-Neural2-F", "ssmlGender": "FEMALE",
     "naturalSampleRateHertz": 24000},
    {"languageCodes": ["en-US"], "name": "en-US-Studio-O", "ssmlGender": "FEMALE",
     "naturalSampleRateHertz": 24000},
    {"languageCodes": ["en-US"], "name": "en-US-Journey-F", "ssmlGender": "FEMALE",
     "naturalSampleRateHertz": 24000},
    {"languageCodes": ["en-GB"], "name": "en-GB-Neural2-A", "ssmlGender": "FEMALE",
     "naturalSampleRateHertz": 24000},
]
MARK_RE = re.compile(r'<mark name="(\d+)"/>')


def status(code):
    return ("status", code)


def sleep(seconds):
    return ("sleep", seconds)


def garbage():
    return ("garbage", None)


class Req:
    def __init__(self, method, path, headers, raw):
        self.method, self.path, self.raw = method, path, raw
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.json = json.loads(raw) if raw else None


def wav(samples, rate):
    """A 16-bit mono WAV of a quiet tone."""
    pcm = b"".join(struct.pack("<h", 800 if (i // 40) % 2 else -800) for i in range(samples))
    return (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) +
            b"data" + struct.pack("<I", len(pcm)) + pcm)


def mp3_of(seconds):
    p = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                        "sine=frequency=440:sample_rate=24000:duration=%.3f" % seconds,
                        "-c:a", "libmp3lame", "-b:a", "48k", "-f", "mp3", "-"],
                       capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode())
    return p.stdout


class FakeTTS:
    def __init__(self, key=KEY, hold_for_overlap=False, token_ok=None):
        self.key = key
        self.token_ok = token_ok
        self.hold_for_overlap = hold_for_overlap
        self.requests = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._script = []
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        fake = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                fake._handle(self, "POST")

            def do_GET(self):
                fake._handle(self, "GET")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self._t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._t.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, *steps):
        with self._lock:
            self._script.extend(steps)

    def synth_requests(self):
        return [r for r in self.requests if r.method == "POST"]

    def _next(self):
        with self._lock:
            return self._script.pop(0) if self._script else ("answer", None)

    def _send(self, h, code, body, ctype="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", ctype)
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

    def _handle(self, h, method):
        n = int(h.headers.get("Content-Length", "0") or 0)
        raw = h.rfile.read(n) if n else b""
        r = Req(method, h.path, dict(h.headers), raw)
        with self._lock:
            self.requests.append(r)
        google = h.path.startswith("/v1beta1/")
        if google and not self._google_auth_ok(r):
            return self._send(h, 401, {"error": {"code": 401, "message": "API key not valid"}})
        if not google and self.key and r.headers.get("authorization") != "Bearer " + self.key:
            return self._send(h, 401, {"error": {"message": "Incorrect API key provided"}})
        if method == "GET":
            if h.path == "/v1beta1/voices":
                return self._send(h, 200, {"voices": VOICES})
            return self._send(h, 404, {"error": {"code": 404, "message": "not found"}})
        with self._cv:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._cv.notify_all()
            if self.hold_for_overlap:
                self._cv.wait_for(lambda: self.max_in_flight >= 2, timeout=10)
        try:
            self._answer(h, r, google)
        finally:
            with self._cv:
                self.in_flight -= 1

    def _answer(self, h, r, google):
        kind, arg = self._next()
        if kind == "sleep":
            time.sleep(arg)
            kind = "answer"
        if kind == "status":
            return self._send(h, arg, {"error": {"code": arg, "message": "fake error %d" % arg}})
        if kind == "garbage":
            return self._send(h, 200, b"<html>not json", "text/html")
        if not google:
            words = len(r.json["input"].split())
            return self._send(h, 200, mp3_of(words * OPENAI_SECONDS_PER_WORD), "audio/mpeg")
        voice = r.json["voice"]["name"]
        ssml = r.json["input"]["ssml"]
        if "Journey" in voice:
            return self._send(h, 400, {"error": {"code": 400, "message":
                                                 "This voice does not support SSML input."}})
        marks = MARK_RE.findall(ssml)
        rate = r.json["audioConfig"]["sampleRateHertz"]
        samples = int(round((len(marks) * SECONDS_PER_MARK + LEAD) * rate))
        out = {"audioContent": base64.b64encode(wav(samples, rate)).decode(),
               "audioConfig": r.json["audioConfig"]}
        if "Studio" not in voice:
            out["timepoints"] = [{"markName": m, "timeSeconds": LEAD + i * SECONDS_PER_MARK}
                                 for i, m in enumerate(marks)]
        return self._send(h, 200, out)
