"""lxaudio: dictation tests' audio, made at test time by real tools
(flite's rms voice, ffmpeg: test-only tools from scripts/deps.sh --test),
never checked in.

    speak(text)              16 kHz mono WAV bytes of flite reading text
    convert(wav, fmt)        "ogg" (Ogg/Opus), "webm" (a WebM file), "live"
                             (WebM in MediaRecorder's shape: see below)
    mediarecorder(webm)      (bytes, cluster offsets): the Segment and every
                             Cluster of unknown size, no SeekHead/Cues/Void,
                             as Chrome's MediaRecorder writes it
    pieces(live)             the stream cut at its clusters: one piece a
                             second, only the first with the header
    stop_half_way(wav)       the recording with silence added up to N.5 s:
                             a student pressing stop half-way through a
                             second (MediaRecorder's last piece is then half
                             a second)
    recall(said, heard)      share of said's words heard, in order
"""

import io
import math
import os
import re
import wave
import shutil
import subprocess
import unittest

import lxtest

TEXT = ("The water cycle moves water from the ocean to the sky. "
        "Plants need light and water to grow. "
        "The students read the chapter about the moon.")


def need(name):
    path = shutil.which(name)
    if path is None:
        msg = "%s is missing (scripts/deps.sh --test installs it)" % name
        if os.environ.get("CI") == "true":
            raise AssertionError(msg)
        raise unittest.SkipTest(msg)
    return path


def _run(args, data=None):
    p = subprocess.run(args, input=data, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError("%s failed: %s" % (args[0], p.stderr.decode(errors="replace")))
    return p.stdout


def speak(text=TEXT, voice="rms"):
    need("flite")
    need("ffmpeg")
    d = lxtest.tempdir()
    raw = os.path.join(d, "f.wav")
    _run(["flite", "-voice", voice, "-t", text, "-o", raw])
    return _run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", raw, "-ar", "16000", "-ac", "1",
                 "-f", "wav", "-"])


def stop_half_way(wav):
    with wave.open(io.BytesIO(wav)) as r:
        rate, ch, width, n = r.getframerate(), r.getnchannels(), r.getsampwidth(), r.getnframes()
        frames = r.readframes(n)
    want = int((math.floor(n / rate) + 1.5) * rate)
    frames += b"\0" * ((want - n) * ch * width)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(ch)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def convert(wav, fmt):
    need("ffmpeg")
    d = lxtest.tempdir()
    src = os.path.join(d, "in.wav")
    with open(src, "wb") as f:
        f.write(wav)
    base = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", src, "-ar", "48000",
            "-c:a", "libopus", "-b:a", "128k"]
    if fmt == "ogg":
        return _run(base + ["-f", "ogg", "-"])
    if fmt == "webm":
        out = os.path.join(d, "o.webm")
        _run(base + ["-frame_duration", "60", "-f", "webm", out])
        with open(out, "rb") as f:
            return f.read()
    if fmt == "live":
        out = os.path.join(d, "o.webm")
        _run(base + ["-frame_duration", "60", "-f", "webm", "-live", "1",
                     "-cluster_time_limit", "1000", out])
        with open(out, "rb") as f:
            return mediarecorder(f.read())[0]
    raise ValueError(fmt)


def _vlen(b):
    for i in range(8):
        if b & (0x80 >> i):
            return i + 1
    raise ValueError("bad EBML length")


def _element(data, off):
    il = _vlen(data[off])
    eid = int.from_bytes(data[off:off + il], "big")
    sl = _vlen(data[off + il])
    raw = bytearray(data[off + il:off + il + sl])
    raw[0] &= 0xFF >> sl
    size = int.from_bytes(raw, "big")
    unknown = size == (1 << (7 * sl)) - 1
    return eid, il, sl, size, unknown


UNKNOWN = bytes([0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])


def mediarecorder(webm):
    out, cuts, off = bytearray(), [], 0
    while off < len(webm):
        eid, il, sl, size, unknown = _element(webm, off)
        body = off + il + sl
        if eid == 0x18538067:  # Segment: enter
            out += webm[off:off + il] + UNKNOWN
            off = body
        elif eid == 0x1F43B675:  # Cluster: enter, of unknown size
            cuts.append(len(out))
            out += webm[off:off + il] + UNKNOWN
            off = body
        else:
            if unknown:
                raise AssertionError("unexpected unknown-size element %x" % eid)
            if eid not in (0x114D9B74, 0x1C53BB6B, 0xEC):  # SeekHead, Cues, Void
                out += webm[off:body + size]
            off = body + size
    return bytes(out), cuts


def pieces(live):
    """The pieces a browser sends: cut at each cluster (a second each)."""
    _, cuts = _reparse(live)
    bounds = [0] + cuts[1:] + [len(live)]
    return [live[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def _reparse(live):
    cuts, off = [], 0
    while off < len(live):
        eid, il, sl, size, unknown = _element(live, off)
        if eid in (0x18538067, 0x1F43B675):
            if eid == 0x1F43B675:
                cuts.append(off)
            off += il + sl
        else:
            off += il + sl + size
    return live, cuts


def _words(s):
    return re.findall(r"[a-z']+", s.lower())


def recall(said, heard):
    a, b = _words(said), _words(heard)
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1] / max(1, len(a))
