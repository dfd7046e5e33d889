#!/usr/bin/env python3
"""bench/stt_lm.py: what a smaller language model costs the offline
recognizer. Reads SENTENCES aloud with flite (a US English voice), turns each
into 16 kHz mono PCM with ffmpeg, and has the speech helper (lexiaid-speech
--stt-model DIR, one phrase per sentence over its pipe protocol,
plugins/speech/proto.h) transcribe it, once per model directory given. Prints
each model's recall (the share of the said words, counted with repeats, that
come back) and its time per sentence. See docs/performance.md ("Container").

Usage: bench/stt_lm.py [--voice rms] [--helper PATH] DIR [DIR...]
  DIR   a pocketsphinx model directory (en-us/, en-us.lm.bin,
        cmudict-en-us.dict), e.g. /usr/share/pocketsphinx/model/en-us and
        one with lexiaid-lm-prune's model.
Needs flite and ffmpeg (test tools); measures, does not judge (exit 0).
"""

import argparse
import collections
import os
import re
import struct
import subprocess
import sys
import tempfile
import time

# Sentences of the kind a student reads or dictates: school subjects, plain
# English, no names the dictionary lacks.
SENTENCES = [
    "The water cycle moves water from the ocean to the sky.",
    "Plants need light and water to grow.",
    "The students read the chapter about the moon.",
    "My teacher asked us to write a short story about our summer.",
    "The heart pumps blood through the body.",
    "We learned that the earth goes around the sun once a year.",
    "Please open your book to page twenty and read the first paragraph.",
    "The president lives in the white house in washington.",
    "Fractions show a part of a whole number.",
    "A triangle has three sides and three angles.",
    "The class went on a trip to the science museum.",
    "I think the main idea of the story is that friends help each other.",
    "Volcanoes form when hot rock rises from deep inside the earth.",
    "The war ended when both sides signed a peace treaty.",
    "My favorite subject in school is history.",
    "Birds build nests in the spring to lay their eggs.",
    "The answer to the question is in the second part of the text.",
    "Electricity flows through the wire to light the bulb.",
    "The author uses many words to describe the old house.",
    "Can you help me understand this math problem?",
    "The rain forest is home to many kinds of animals.",
    "Our school library has thousands of books.",
    "The weather today is cold and windy.",
    "We need to finish the project before friday.",
    "The government makes laws for the whole country.",
    "Ice melts when the temperature rises above freezing.",
    "The character was afraid to tell the truth.",
    "Multiply the number by ten and then add five.",
    "The river flows into the sea near the city.",
    "People in ancient egypt built great pyramids.",
]


def frame(kind, payload):
    body = kind.encode() + payload
    return struct.pack("<I", len(body)) + body


class Helper:
    def __init__(self, path, model):
        env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "detect_leaks=0"))
        self.p = subprocess.Popen([path, "--stt-model", model], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env)

    def recognize(self, pcm):
        # version 1, flags: ENDS (1) | FRESH (2)
        self.p.stdin.write(frame("R", struct.pack("<IB", 1, 3) + struct.pack("<I", len(pcm)) +
                                 pcm))
        self.p.stdin.flush()
        n = struct.unpack("<I", self.p.stdout.read(4))[0]
        d = self.p.stdout.read(n)
        if d[:1] != b"T":
            raise RuntimeError("helper answered %r" % d[:200])
        tlen = struct.unpack("<I", d[6:10])[0]
        return d[10:10 + tlen].decode()

    def close(self):
        self.p.stdin.close()
        self.p.wait(60)


def words(text):
    return re.findall(r"[a-z']+", text.lower())


def recall(said, heard):
    h = collections.Counter(words(heard))
    n = hit = 0
    for w in words(said):
        n += 1
        if h[w] > 0:
            h[w] -= 1
            hit += 1
    return hit, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--voice", default="rms")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--helper", default=os.environ.get(
        "LEXIAID_SPEECH_HELPER", os.path.join(here, "..", "_build", "plugins", "speech", "helper",
                                              "lexiaid-speech")))
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("models", nargs="+")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lx-stt-lm.") as tmp:
        pcms = []
        for i, s in enumerate(SENTENCES):
            wav = os.path.join(tmp, "%d.wav" % i)
            subprocess.run(["flite", "-voice", a.voice, "-t", s, "-o", wav], check=True)
            pcm = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", wav, "-ar",
                                  "16000", "-ac", "1", "-f", "s16le", "-"], check=True,
                                 stdout=subprocess.PIPE).stdout
            pcms.append(pcm)
        print("| model | recall | words | time per sentence |")
        print("|---|---|---|---|")
        for model in a.models:
            h = Helper(a.helper, model)
            hit = n = 0
            t0 = time.monotonic()
            for s, pcm in zip(SENTENCES, pcms):
                heard = h.recognize(pcm)
                x, y = recall(s, heard)
                hit += x
                n += y
                if a.verbose:
                    print("  said %r\n  heard %r (%d/%d)" % (s, heard, x, y), file=sys.stderr)
            dt = (time.monotonic() - t0) / len(SENTENCES)
            h.close()
            print("| %s | %.3f | %d | %.2f s |" % (model, hit / n, n, dt), flush=True)


if __name__ == "__main__":
    main()
