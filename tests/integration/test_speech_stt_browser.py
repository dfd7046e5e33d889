#!/usr/bin/env python3
"""Dictation from a real browser: headless Chromium (Debian chromium) with
its fake microphone fed from a WAV of flite reading a sentence
(--use-file-for-fake-audio-capture) records with MediaRecorder exactly as
the LexiAid frontend does (audio/webm;codecs=opus, 128 kbit/s, start(1000),
echoCancellation and noiseSuppression, 16 kHz asked), sends every piece
over /ws/stt/stream?token=..., then stop()s and closes the socket once the
last final has come (the frontend closes 500 ms after stop(): the time the
last final took is printed, a figure, not a condition), keeping the
frontend's transcript (finals appended, the interim replaced). The
transcript must have arrived before the close, as a final.
The page reports to the test (an event), never a timer of the test's.

Needs chromium (under CI=true a missing chromium fails) and pocketsphinx
(a build without it has nothing to dictate to here)."""

import os
import signal
import subprocess

import unittest

import lxaudio
import lxtest
from lxspeech import HAVE_POCKETSPHINX
from test_speech_stt_ws import DictationCase, server
from test_websocket_browser import PageServer, find_chromium

SAID = "Plants need light and water to grow."

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>lexiaid dictation</title></head>
<body><pre id="out">running</pre>
<script>
const out = {final: '', interim: '', frames: 0, pieces: 0, events: []};
let lastPieceAt = 0, lastFinalAt = -1, onFinal = null;
function report() {
  document.getElementById('out').textContent = JSON.stringify(out);
  fetch('/result', {method: 'POST', body: JSON.stringify(out)});
}
async function run() {
  const stream = await navigator.mediaDevices.getUserMedia(
      {audio: {echoCancellation: true, noiseSuppression: true, sampleRate: 16000}});
  const ws = new WebSocket('%(url)s');
  ws.onmessage = (e) => {
    const d = JSON.parse(e.data);
    out.frames++;
    if (d.is_final) {
      out.final += d.transcript + ' '; out.interim = '';
      lastFinalAt = performance.now();
      if (onFinal) onFinal();
    }
    else { out.interim = d.transcript; }
  };
  ws.onclose = (e) => { out.events.push('close ' + e.code); };
  await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = bad; });
  const rec = new MediaRecorder(stream, {mimeType: 'audio/webm;codecs=opus',
                                         audioBitsPerSecond: 128000});
  rec.ondataavailable = (e) => {
    if (e.data.size > 0 && ws.readyState === WebSocket.OPEN) {
      out.pieces++;
      lastPieceAt = performance.now();
      e.data.arrayBuffer().then((b) => ws.send(b));
    }
  };
  rec.start(1000);
  await new Promise((ok) => setTimeout(ok, %(record_ms)d));
  const stopped = new Promise((ok) => { rec.onstop = ok; });
  stream.getTracks().forEach((t) => t.stop());
  rec.stop();
  await stopped;
  /* The frontend closes 500 ms after stop(); how long the last final took
   * is a figure (bench/speech.sh measures it), not a condition here: the
   * page waits for it (at most 60 s), then closes as the frontend does. */
  const stoppedAt = performance.now();
  if (lastFinalAt < lastPieceAt)   /* the last piece's final is still to come */
    await new Promise((ok) => {
      onFinal = () => { if (lastFinalAt >= lastPieceAt) ok(); };
      setTimeout(ok, 60000);
    });
  out.final_after_stop_ms = Math.round(Math.max(lastFinalAt - stoppedAt, 0));
  out.at_close = {final: out.final, interim: out.interim};
  ws.close();
  report();
}
run().catch((e) => { out.exception = String(e); report(); });
</script></body></html>
"""


class TestBrowserDictation(DictationCase):

    def test_chromium_dictates_and_the_final_arrives_before_the_close(self):
        chromium = find_chromium()
        if chromium is None:
            msg = "chromium is not installed (scripts/deps.sh --test)"
            if os.environ.get("CI") == "true":
                self.fail(msg)
            self.skipTest(msg)
        lxaudio.need("ffmpeg")
        wav16 = lxaudio.speak(SAID)
        profile = lxtest.tempdir()
        mic = os.path.join(profile, "mic.wav")
        src = os.path.join(profile, "src.wav")
        with open(src, "wb") as f:
            f.write(wav16)
        # The fake device plays the file in a loop: a second of silence
        # after the sentence, and the recording stops within it.
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", src, "-af",
                        "apad=pad_dur=1.5", "-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le", mic],
                       check=True, timeout=60)
        seconds = len(wav16) / 32000.0
        page = PageServer()
        self.addCleanup(page.close)
        s = server(server={"cors_origins": [page.origin]})
        self.addCleanup(s.close)
        url = "ws://127.0.0.1:%d/ws/stt/stream?token=%s" % (s.srv.port, s.token("u1"))
        page.page = (PAGE % {"url": url, "record_ms": int((seconds + 1.0) * 1000)}).encode()
        log = open(os.path.join(profile, "chromium.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
             "--autoplay-policy=no-user-gesture-required",
             "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             "--use-file-for-fake-audio-capture=" + mic, page.origin + "/page.html"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

        def stop_chromium():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)
        self.addCleanup(stop_chromium)
        if not page.got.wait(120):
            with open(os.path.join(profile, "chromium.log"), "rb") as f:
                tail = f.read()[-3000:].decode("utf-8", "replace")
            self.fail("the page never reported (chromium exit %s)\n%s" % (proc.poll(), tail))
        r = page.result
        self.assertNotIn("exception", r, r)
        self.assertGreaterEqual(r["pieces"], 2, r)
        final = r["at_close"]["final"]
        rec = lxaudio.recall(SAID, final)
        print("\nbrowser dictation: %d pieces, %d frames; at the close: final %r, interim %r; "
              "recall %.2f; the last final %d ms after stop() (the frontend waits 500 ms)"
              % (r["pieces"], r["frames"], final, r["at_close"]["interim"], rec,
                 r.get("final_after_stop_ms", -1)))
        self.assertTrue(final.strip(), "no final before the socket closed: %r" % r)
        self.assertGreaterEqual(rec, 0.5, r)


def load_tests(loader, tests, pattern):
    """Nothing to run in a build without pocketsphinx (what it says then:
    test_speech_stt_ws.TestBuild)."""
    return tests if HAVE_POCKETSPHINX else unittest.TestSuite()


if __name__ == "__main__":
    lxtest.main()
