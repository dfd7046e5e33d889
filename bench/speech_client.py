#!/usr/bin/env python3
"""bench/speech_client.py: the client side of bench/speech.sh (python3
stdlib only). Sends POST /api/tts/synthesize and reports, as one JSON line
on stdout, what a run measured.

  speech_client.py PORT TOKEN MODE [options]
    MODE cold    N distinct 500-word pages one after the other (no cache hit
                 possible): per request the latency, the audio's length
                 (from the MP3 size at the constant bit rate) and the
                 real-time factor (audio seconds per second of synthesis)
    MODE cached  one page, synthesised once, then asked N times: latencies
    MODE par     K clients at once, each with its own distinct page: the
                 wall time of the whole batch, words and audio per second
    MODE assets  N distinct pages uploaded as .txt documents one after the
                 other: the time from the upload's answer until
                 GET /api/documents/{id}/tts-assets answers 200 (the
                 assets made in the background; asked every 20 ms), and
                 the bytes of the audio and the timepoints
  options: --n N, --k K, --voice NAME, --words W, --seed S, --kbps KBPS
"""

import base64
import http.client
import json
import sys
import threading
import time

VOCAB = ("the students read their documents carefully and listen to every word that lights up "
         "on the screen while the teacher explains how green plants turn sunlight water and "
         "carbon dioxide into sugar and oxygen during long summer days in the forest near the "
         "river where birds build nests and children play after school on Monday").split()


def page(words, seed):
    """A page of `words` words in paragraphs of about 60, sentences of 12."""
    out, para, sent = [], [], []
    for i in range(words):
        sent.append(VOCAB[(i * 7 + seed * 13 + i // 5) % len(VOCAB)])
        if len(sent) == 12 or i == words - 1:
            para.append(" ".join(sent).capitalize() + ".")
            sent = []
        if len(para) == 5 or i == words - 1:
            if para:
                out.append(" ".join(para))
            para = []
    return "\n\n".join(out) + (" (page %d)" % seed)


def synth(port, token, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    c.request("POST", "/api/tts/synthesize", body=json.dumps(body),
              headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    dt = time.perf_counter() - t0
    c.close()
    if r.status != 200:
        raise SystemExit("synthesize answered %d: %s" % (r.status, data[:300]))
    j = json.loads(data)
    mp3 = len(base64.b64decode(j["audio_content"]))
    return dt, mp3, len(j["timepoints"]), r.getheader("X-TTS-Cache"), len(data)


def req(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def assets(port, token, text, name):
    """Upload text as a document, wait for its read-aloud assets: (seconds
    from the upload's answer to the assets' 200, audio bytes, timepoints
    bytes)."""
    auth = {"Authorization": "Bearer " + token}
    boundary = "lxbench%d" % time.monotonic_ns()
    body = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n" % (boundary, name)).encode() + text.encode() + \
        ("\r\n--%s--\r\n" % boundary).encode()
    st, data = req(port, "POST", "/api/documents/upload", body,
                   dict(auth, **{"Content-Type": "multipart/form-data; boundary=" + boundary}))
    if st != 200:
        raise SystemExit("upload answered %d: %s" % (st, data[:300]))
    doc = json.loads(data)["document_id"]
    t0 = time.perf_counter()
    while True:
        st, data = req(port, "GET", "/api/documents/%s/tts-assets" % doc, headers=auth)
        if st == 200:
            break
        if st != 409:
            raise SystemExit("tts-assets answered %d: %s" % (st, data[:300]))
        time.sleep(0.02)
    dt = time.perf_counter() - t0
    urls = json.loads(data)
    sizes = []
    for u in (urls["audio_url"], urls["timepoints_url"]):
        st, data = req(port, "GET", u[u.index("/api/"):])  # no token, as a browser
        if st != 200:
            raise SystemExit("%s answered %d" % (u, st))
        sizes.append(len(data))
    return dt, sizes[0], sizes[1]


def main():
    port, token, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    opts = {"--n": 5, "--k": 2, "--voice": None, "--words": 500, "--seed": 1, "--kbps": 40}
    args = sys.argv[4:]
    for i in range(0, len(args), 2):
        opts[args[i]] = args[i + 1] if args[i] == "--voice" else int(args[i + 1])
    n, k, words, seed, kbps = opts["--n"], opts["--k"], opts["--words"], opts["--seed"], opts["--kbps"]

    def body(s):
        b = {"text": page(words, s)}
        if opts["--voice"]:
            b["voice_name"] = opts["--voice"]
        return b

    out = {"mode": mode}
    if mode == "cold":
        lat, rtf, audio = [], [], []
        for i in range(n):
            dt, mp3, ntp, how, size = synth(port, token, body(seed + i))
            assert how == "miss", how
            secs = mp3 * 8 / (kbps * 1000)
            lat.append(dt)
            audio.append(secs)
            rtf.append(secs / dt)
        out.update(latency_s=lat, audio_s=audio, rtf=rtf, body_bytes=size, timepoints=ntp)
    elif mode == "cached":
        synth(port, token, body(seed))
        lat = []
        for _ in range(n):
            dt, _, _, how, size = synth(port, token, body(seed))
            assert how == "hit", how
            lat.append(dt)
        out.update(latency_s=lat, body_bytes=size)
    elif mode == "par":
        res, errs = [], []

        def one(i):
            try:
                res.append(synth(port, token, body(seed + i)))
            except BaseException as e:  # noqa: B902 - reported below
                errs.append(str(e))
        ts = [threading.Thread(target=one, args=(i,)) for i in range(k)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - t0
        if errs:
            raise SystemExit("; ".join(errs))
        audio = sum(r[1] * 8 / (kbps * 1000) for r in res)
        out.update(k=k, wall_s=wall, words_per_s=k * words / wall, audio_per_s=audio / wall,
                   latency_s=sorted(r[0] for r in res))
    elif mode == "assets":
        lat, audio, tps = [], [], []
        for i in range(n):
            dt, a, t = assets(port, token, page(words, seed + i), "page%d" % (seed + i))
            lat.append(dt)
            audio.append(a)
            tps.append(t)
        out.update(latency_s=lat, audio_bytes=audio, timepoints_bytes=tps,
                   audio_s=[a * 8 / (kbps * 1000) for a in audio])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
