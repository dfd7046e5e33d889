"""lxspeech: the speech plugin's test fixture, shared by test_speech_*.py.

speech_server(testcase, **kw) is a StorageServer (lxstorage.py: the real
binary with health, auth and storage on SQLite or PostgreSQL, real RS256
tokens) with the speech plugin loaded after storage and its routes behind
auth.require_user, as etc/lexiaid.conf has them:

    POST /api/tts/synthesize   speech.synthesize
    GET  /api/tts/voices       speech.voices

speech_cfg (a dict) is the plugin's config group over the defaults below
(the built helper, 1 helper per worker unless said). Every test runs the
real engines: flite and espeak-ng in the real lexiaid-speech helper.

Helpers for what a test checks in an answer: decode_mp3 (ffmpeg, a
test-only tool) gives the decoded PCM and ffprobe's duration; words()
splits a text the way a student sees it.
"""

import base64
import json
import os
import re
import shutil
import subprocess

import lxtest
from lxstorage import StorageServer

USER = ["auth.require_user"]
SPEECH_ROUTES = [
    ("POST", "/api/tts/synthesize", "speech.synthesize", {"max_body": "2M", "timeout": "150s"}),
    ("GET", "/api/tts/voices", "speech.voices", {}),
]
B64_RE = re.compile(r"^[A-Za-z0-9+/=]+$")  # the frontend's own check

# What this build has (tests/local.mk passes configure's answers).
HAVE_FLITE = os.environ.get("LX_HAVE_SPEECH_FLITE", "yes") == "yes"
HAVE_ESPEAK = os.environ.get("LX_HAVE_SPEECH_ESPEAK_NG", "yes") == "yes"
# Dictation's audio input (--disable-dictation) and its offline recognizer
# (--disable-speech-pocketsphinx): the test_speech_stt*.py suites that need
# them run only the checks of what such a build says without them.
HAVE_DICTATION = os.environ.get("LX_HAVE_DICTATION", "yes") == "yes"
HAVE_POCKETSPHINX = os.environ.get("LX_HAVE_POCKETSPHINX", "yes") == "yes"


def need_both_engines():
    """For a module's setUpModule: its tests speak with both engines, which a
    build configured with --disable-speech-flite or --disable-speech-espeak-ng
    does not have (test_speech_tts.TestBuild checks what such a build says)."""
    if not (HAVE_FLITE and HAVE_ESPEAK):
        import unittest
        raise unittest.SkipTest("this build leaves a speech engine out")


def speech_so():
    return os.path.join(lxtest.BUILDDIR, "plugins", "speech", ".libs", "speech.so")


def helper_path():
    return (os.environ.get("LEXIAID_SPEECH_HELPER")
            or os.path.join(lxtest.BUILDDIR, "plugins", "speech", "helper", "lexiaid-speech"))


def speech_plugin(cfg=None):
    # Dictation off unless a test asks for it: its recognizer helpers load
    # pocketsphinx's model at worker start (test_speech_stt*.py turn it on).
    c = {"helper": helper_path(), "helpers": 1, "stt": {"provider": "none"}}
    c.update(cfg or {})
    return {"name": "speech", "file": speech_so(), "config": c}


def speech_routes():
    return [lxtest.route(m, p, h, before=list(USER), **extra) for m, p, h, extra in SPEECH_ROUTES]


def speech_server(testcase, speech_cfg=None, **kw):
    """A StorageServer with the speech plugin and its routes."""
    plugins = list(kw.pop("before_plugins", None) or []) + [speech_plugin(speech_cfg)]
    plugins += list(kw.pop("extra_plugins", None) or [])
    routes = speech_routes() + list(kw.pop("extra_routes", None) or [])
    return StorageServer(testcase, extra_plugins=plugins, extra_routes=routes, **kw)


def synthesize(server, body, uid="u1", timeout=120):
    """POST /api/tts/synthesize; (status, parsed JSON or None)."""
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body
    tok = server.token(uid) if uid is not None else None
    h = {"Content-Type": "application/json"}
    if tok:
        h["Authorization"] = "Bearer " + tok
    status, _, out = server.srv.request("POST", "/api/tts/synthesize", headers=h, body=data,
                                        timeout=timeout)
    return status, (lxtest.parse_json(out) if out else None)


def need_tool(name):
    """A test-only tool (ffmpeg, ffprobe): scripts/deps.sh --test installs it;
    under CI=true its absence fails, elsewhere it skips."""
    path = shutil.which(name)
    if path is None:
        msg = "%s is missing (scripts/deps.sh --test installs ffmpeg)" % name
        if os.environ.get("CI") == "true":
            raise AssertionError(msg)
        import unittest
        raise unittest.SkipTest(msg)
    return path


def decode_mp3(b64):
    """The answer's audio: (MP3 bytes, decoded 16-bit PCM samples count,
    sample rate, ffprobe's duration in seconds, ffprobe's codec name)."""
    need_tool("ffmpeg")
    need_tool("ffprobe")
    mp3 = base64.b64decode(b64, validate=True)
    d = lxtest.tempdir()
    path = os.path.join(d, "a.mp3")
    with open(path, "wb") as f:
        f.write(mp3)
    p = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                        "format=duration:stream=codec_name,sample_rate,channels,bit_rate",
                        "-of", "json", path], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("ffprobe refused the audio: " + p.stderr)
    info = json.loads(p.stdout)
    st = info["streams"][0]
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-"],
                         capture_output=True, timeout=60)
    if pcm.returncode != 0:
        raise AssertionError("ffmpeg could not decode the audio: " + pcm.stderr.decode())
    return (mp3, len(pcm.stdout) // 2, int(st["sample_rate"]), float(info["format"]["duration"]),
            st["codec_name"], st)


def words(text):
    """The display words of text by paragraph, as the splitter makes them
    for plain text: whitespace-separated runs, paragraphs at blank lines."""
    paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return [p.split() for p in paras]


def expected_marks(text):
    """The mark names a text must give: its words, PARAGRAPH_BREAK between
    paragraphs."""
    out = []
    for i, p in enumerate(words(text)):
        if i:
            out.append("PARAGRAPH_BREAK")
        out += p
    return out


def helper_pids(server, recognizers=False):
    """The lexiaid-speech helpers of the server's workers: those that speak,
    or (recognizers) those that hold a pocketsphinx decoder (--stt-model)."""
    pids = []
    for w in server.srv.worker_pids():
        for c in lxtest.children_of(w):
            try:
                with open("/proc/%d/cmdline" % c, "rb") as f:
                    cmd = f.read()
                if b"lexiaid-speech" in cmd and (b"--stt-model" in cmd) == recognizers:
                    pids.append(c)
            except OSError:
                pass
    return pids
