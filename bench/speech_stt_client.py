#!/usr/bin/env python3
"""Dictation load for bench/speech.sh: N concurrent WebSocket streams to
/ws/stt/stream, each sending MediaRecorder-shaped WebM/Opus (flite reading
a sentence, made once by tests/integration/lxaudio.py with ffmpeg) as the
browser does: one piece a second, in real time, the streams' starts spread
over a second. For every stream: the time from sending its last piece to
the final that follows it, and the interims it got.

    speech_stt_client.py PORT TOKEN run --n N [--audio FILE]
        -> one JSON line: {"n", "ok", "failed", "latency_ms": [...],
           "interims", "pieces", "wall_s", "audio_s"}
    speech_stt_client.py PORT - make FILE     makes the audio (once)
    speech_stt_client.py PORT - fake PORTFILE runs the fake OpenAI-compatible
                                              recognizer (lxfakestt) until killed

Needs python3's websockets (Debian python3-websockets)."""

import argparse
import asyncio
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

SAID = "Plants need light and water to grow. The students read the chapter about the moon."


def make(path):
    import lxaudio
    live = lxaudio.convert(lxaudio.stop_half_way(lxaudio.speak(SAID)), "live")
    with open(path, "wb") as f:
        f.write(live)


def fake(portfile):
    import lxfakestt
    f = lxfakestt.FakeSTT(key="")
    with open(portfile + ".tmp", "w") as out:
        out.write(str(f.port))
    os.rename(portfile + ".tmp", portfile)
    while True:
        time.sleep(3600)


async def stream(url, pieces, delay, out):
    """One stream. ok: its transcript was complete (a final, and no phrase
    left in an interim) within 3 s of its last piece; latency: from the
    last piece to the last final (0 when that came before the last piece,
    which held no speech)."""
    import websockets
    await asyncio.sleep(delay)
    r = {"ok": False, "interims": 0, "latency_ms": None}
    try:
        async with websockets.connect(url, max_size=1 << 20, open_timeout=60) as ws:
            state = {"last_final_t": None, "pending": False, "last_piece_t": None}
            answered = asyncio.Event()

            async def reader():
                async for m in ws:
                    j = json.loads(m)
                    now = time.monotonic()
                    if j.get("is_final"):
                        state["last_final_t"] = now
                        state["pending"] = False
                    else:
                        r["interims"] += 1
                        state["pending"] = bool(j.get("transcript"))
                    if state["last_piece_t"] is not None and not state["pending"]:
                        answered.set()
            rt = asyncio.ensure_future(reader())
            t0 = time.monotonic()
            for i, p in enumerate(pieces):
                await asyncio.sleep(max(0.0, t0 + i - time.monotonic()))
                if i == len(pieces) - 1:
                    state["last_piece_t"] = time.monotonic()
                await ws.send(p)
            try:
                await asyncio.wait_for(answered.wait(), 3)
            except asyncio.TimeoutError:
                pass
            if state["last_final_t"] is not None and not state["pending"]:
                r["ok"] = True
                r["latency_ms"] = max(0.0, (state["last_final_t"] - state["last_piece_t"]) * 1000)
            rt.cancel()
    except Exception as e:  # noqa: BLE001
        r["error"] = str(e)[:200]
    out.append(r)


async def run(port, token, n, audio):
    import lxaudio
    with open(audio, "rb") as f:
        pieces = lxaudio.pieces(f.read())
    url = "ws://127.0.0.1:%d/ws/stt/stream?token=%s" % (port, token)
    out = []
    t0 = time.monotonic()
    await asyncio.gather(*(stream(url, pieces, i / max(1, n), out) for i in range(n)))
    lat = sorted(r["latency_ms"] for r in out if r["ok"])
    print(json.dumps({"n": n, "ok": len(lat), "failed": n - len(lat), "latency_ms": lat,
                      "interims": sum(r["interims"] for r in out), "pieces": len(pieces) * n,
                      "wall_s": time.monotonic() - t0,
                      "errors": sorted({r["error"] for r in out if "error" in r})[:3]}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("token")
    ap.add_argument("what", choices=["run", "make", "fake"])
    ap.add_argument("arg", nargs="?")
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--audio")
    a = ap.parse_args()
    if a.what == "make":
        make(a.arg)
    elif a.what == "fake":
        fake(a.arg)
    else:
        asyncio.run(run(a.port, a.token, a.n, a.audio))


if __name__ == "__main__":
    main()
