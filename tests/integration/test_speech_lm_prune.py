#!/usr/bin/env python3
"""lexiaid-lm-prune (plugins/speech/lm/): the pruned language model the
image ships for the offline recognizer. On a small real trigram model
(data/lm/small.arpa, made by data/lm/make_small.py): pruning drops n-grams,
keeps the others' probabilities, keeps every history's distribution summing
to 1 (the back-off weights recomputed), keeps the bigrams kept trigrams
need, and writes a binary model that sphinxbase reads back with the same
probabilities; the binary reader reads sphinxbase's own files; the
dictionary is cut to the model's words; bad input is an error that leaves
no file. On Debian's en-us.lm.bin (pocketsphinx-en-us): the reader agrees
with sphinxbase's and the pruned model is a fraction of the size."""

import math
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import lxaudio
import lxtest
from lxspeech import HAVE_POCKETSPHINX, helper_pids
from test_speech_stt import RECALL_FLOOR, stt_server, transcribe

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = os.path.join(HERE, "data", "lm", "small.arpa")
DEBIAN_DIR = "/usr/share/pocketsphinx/model/en-us"
DEBIAN_LM = DEBIAN_DIR + "/en-us.lm.bin"
DEBIAN_DICT = DEBIAN_DIR + "/cmudict-en-us.dict"


def tool():
    return os.path.join(lxtest.BUILDDIR, "plugins", "speech", "lm", "lexiaid-lm-prune")


def read_arpa(path):
    """{1: {(w,): (p, bo)}, 2: {...}, 3: {(a, b, c): (p, 0)}} in log10."""
    m = {1: {}, 2: {}, 3: {}}
    order = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("\\") and line.endswith("-grams:"):
                order = int(line[1])
                continue
            if not line or line.startswith("\\") or line.startswith("ngram ") or order == 0:
                continue
            parts = line.split()
            words = tuple(parts[1:1 + order])
            bo = float(parts[1 + order]) if len(parts) > 1 + order else 0.0
            m[order][words] = (float(parts[0]), bo)
    return m


def logprob(m, hist, w):
    """log10 P(w | hist) with back-off (hist: up to two words, oldest first)."""
    hist = tuple(hist[-2:])
    if len(hist) == 2:
        if hist + (w,) in m[3]:
            return m[3][hist + (w,)][0]
        return m[2].get(hist, (0, 0.0))[1] + logprob(m, hist[1:], w)
    if len(hist) == 1:
        if hist + (w,) in m[2]:
            return m[2][hist + (w,)][0]
        return m[1][hist][1] + m[1][(w,)][0]
    return m[1][(w,)][0]


def histories(m):
    """Every context of the model: each word but </s>, each bigram."""
    return [h for h in m[1] if h != ("</s>",)] + list(m[2])


def mass(m, hist):
    return sum(10 ** logprob(m, hist, w) for (w,) in m[1] if w != "<s>")


class LmPrune(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="lx-lmprune.")
        self.addCleanup(shutil.rmtree, self.dir)
        self.assertTrue(os.access(tool(), os.X_OK), tool())

    def run_tool(self, *args, ok=True):
        p = subprocess.run([tool()] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=600)
        if ok:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def prune(self, threshold, src=SMALL, name="out"):
        arpa = os.path.join(self.dir, name + ".arpa")
        out = os.path.join(self.dir, name + ".lm.bin")
        p = self.run_tool("-t", str(threshold), "--arpa", arpa, "--verify", "1", src, out)
        return read_arpa(arpa), out, p.stdout

    def test_the_fixture_is_a_normalized_model(self):
        m = read_arpa(SMALL)
        self.assertEqual((len(m[1]), len(m[2]), len(m[3])), (24, 58, 68))
        for h in histories(m):
            self.assertAlmostEqual(mass(m, h), 1.0, delta=1e-4, msg=h)

    def test_threshold_zero_keeps_every_ngram_and_probability(self):
        orig = read_arpa(SMALL)
        m, _, out = self.prune(0)
        for n in (1, 2, 3):
            self.assertEqual(set(m[n]), set(orig[n]), n)
            for g, (p, bo) in orig[n].items():
                self.assertAlmostEqual(m[n][g][0], p, delta=1e-5, msg=g)
                self.assertAlmostEqual(m[n][g][1], bo, delta=1e-5, msg=g)
        self.assertIn("largest difference 0.0000", out)

    def test_pruned_histories_still_sum_to_one(self):
        orig = read_arpa(SMALL)
        m, _, out = self.prune(0.01)
        self.assertLess(len(m[3]), len(orig[3]) // 2, out)
        self.assertLess(len(m[2]), len(orig[2]), out)
        self.assertGreater(len(m[3]), 0, out)
        self.assertEqual(set(m[1]), set(orig[1]))  # unigrams stay
        # every context of the original model, pruned or not
        for h in histories(orig):
            self.assertAlmostEqual(mass(m, h), 1.0, delta=1e-4, msg=h)
        # and the back-off weights did change where n-grams went
        changed = [h for h in m[2] if abs(m[2][h][1] - orig[2][h][1]) > 1e-4]
        self.assertTrue(changed)

    def test_kept_ngrams_keep_their_probabilities(self):
        orig = read_arpa(SMALL)
        m, _, _ = self.prune(0.003)
        for n in (1, 2, 3):
            self.assertTrue(set(m[n]) <= set(orig[n]))
            for g in m[n]:
                self.assertAlmostEqual(m[n][g][0], orig[n][g][0], delta=1e-5, msg=g)

    def test_the_bigrams_a_kept_trigram_needs_stay(self):
        m, _, _ = self.prune(0.01)
        for a, b, c in m[3]:
            self.assertIn((a, b), m[2])
            self.assertIn((b, c), m[2])

    def test_a_higher_threshold_prunes_more(self):
        sizes = []
        for i, t in enumerate((0.001, 0.003, 0.01, 0.03)):
            m, _, _ = self.prune(t, name="t%d" % i)
            sizes.append((len(m[2]), len(m[3])))
        self.assertEqual(sizes, sorted(sizes, reverse=True))
        self.assertGreater(sizes[0][1], sizes[-1][1])

    def test_the_binary_reader_reads_sphinxbase_files(self):
        # the pruned binary (written by sphinxbase) read back by the tool
        first, out, _ = self.prune(0.003, name="first")
        again, _, _ = self.prune(0, src=out, name="again")
        for n in (1, 2, 3):
            self.assertEqual(set(again[n]), set(first[n]), n)
            for g, (p, bo) in first[n].items():
                if p < -90:  # <s>
                    continue
                self.assertAlmostEqual(again[n][g][0], p, delta=1e-3, msg=g)
                self.assertAlmostEqual(again[n][g][1], bo, delta=1e-3, msg=g)

    def test_the_dictionary_is_cut_to_the_models_words(self):
        src = os.path.join(self.dir, "in.dict")
        with open(src, "w") as f:
            f.write("water W AO T ER\nwater(2) W AA T ER\nzebra Z IY B R AH\n"
                    "moon M UW N\nmoons M UW N Z\n")
        cut = os.path.join(self.dir, "cut.dict")
        out = os.path.join(self.dir, "out.lm.bin")
        p = self.run_tool("-t", "0.01", "--dict", src, cut, SMALL, out)
        with open(cut) as f:
            self.assertEqual(f.read(), "water W AO T ER\nwater(2) W AA T ER\nmoon M UW N\n")
        self.assertIn("3 pronunciations kept, 2 of words the model does not know dropped",
                      p.stdout)
        self.assertEqual(os.stat(cut).st_mode & 0o777, 0o644)  # the recognizer's user reads it

    def test_bad_input_is_an_error_and_leaves_no_file(self):
        _, good, _ = self.prune(0)
        with open(good, "rb") as f:
            head = f.read(5000)
        with open(SMALL, "rb") as f:
            small = f.read()
        with open(good, "rb") as f:
            overlap = bytearray(f.read())
        # the last unigram's range of bigrams starting at 0: overlapping
        # ranges, more bigrams than the header's (header 19 + order 1 + 3
        # counts + 4, quantizer tables 3 x 65536 floats, unigrams of 12 bytes:
        # prob, backoff, next)
        at = 19 + 1 + 12 + 4 + 3 * 65536 * 4 + 12 * 23 + 8
        overlap[at:at + 4] = b"\0\0\0\0"
        cases = {"garbage.bin": b"\x00\x01 not a model\n" * 50,
                 "truncated.bin": head,
                 "overlapping.bin": bytes(overlap),
                 "truncated.arpa": small[:1500],
                 "empty": b""}
        for name, data in cases.items():
            src = os.path.join(self.dir, name)
            with open(src, "wb") as f:
                f.write(data)
            out = os.path.join(self.dir, name + ".out")
            p = self.run_tool("-t", "0.01", src, out, ok=False)
            self.assertEqual(p.returncode, 1, name)
            self.assertIn("lexiaid-lm-prune: ", p.stderr, name)
            self.assertNotIn("AddressSanitizer", p.stderr, name)
            self.assertFalse(os.path.exists(out), name)
        self.assertEqual([f for f in os.listdir(self.dir) if ".out" in f], [])
        p = self.run_tool("-t", "nope", SMALL, os.path.join(self.dir, "x"), ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("usage", p.stderr)


@lxtest.needs(os.path.exists(DEBIAN_LM),
              "Debian's pocketsphinx-en-us model (%s)" % DEBIAN_LM)
class DebianModel(unittest.TestCase):

    def test_the_debian_model_read_like_sphinxbase_and_pruned(self):
        d = tempfile.mkdtemp(prefix="lx-lmprune.")
        self.addCleanup(shutil.rmtree, d)
        out = os.path.join(d, "en-us.lm.bin")
        cut = os.path.join(d, "cmudict-en-us.dict")
        p = subprocess.run([tool(), "-t", "1e-6", "--check-input", "997", "--verify", "997",
                            "--dict", DEBIAN_DICT, cut, DEBIAN_LM, out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=900)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # the trie holds 6 bigrams fewer than its header says: why
        # sphinx_lm_convert's ARPA writer asserts on it
        self.assertIn("72547 words, 2051541 bigrams, 1669625 trigrams (its header says "
                      "2051547 bigrams", p.stdout)
        self.assertRegex(p.stdout, re.escape(DEBIAN_LM) + r": \d+ probabilities compared with "
                         r"sphinxbase's reading, largest difference 0\.000\d\d")
        self.assertLess(os.path.getsize(out), os.path.getsize(DEBIAN_LM) // 5)
        self.assertLess(os.path.getsize(cut), os.path.getsize(DEBIAN_DICT) * 2 // 3)


    def test_dictation_with_a_pruned_model_from_stt_model_dir(self):
        # what the image does: the acoustic model as Debian ships it, the
        # pruned language model and the cut dictionary, named by
        # speech.stt.model_dir
        d = tempfile.mkdtemp(prefix="lx-lmprune.")
        self.addCleanup(shutil.rmtree, d)
        os.symlink(DEBIAN_DIR + "/en-us", os.path.join(d, "en-us"))
        p = subprocess.run([tool(), "-t", "1e-7", "-t2", "1e-6", "--dict", DEBIAN_DICT,
                            os.path.join(d, "cmudict-en-us.dict"), DEBIAN_LM,
                            os.path.join(d, "en-us.lm.bin")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=900)
        self.assertEqual(p.returncode, 0, p.stderr)
        wav = lxaudio.speak()
        with stt_server({"model_dir": d}) as s:
            status, body = transcribe(s, wav)
            self.assertEqual(status, 200, body)
            r = lxaudio.recall(lxaudio.TEXT, body["transcription"])
            self.assertGreaterEqual(r, RECALL_FLOOR, "recall %.2f: %r" % (r, body["transcription"]))
            pids = helper_pids(s, recognizers=True)
            self.assertTrue(pids)
            for pid in pids:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    self.assertIn(b"--stt-model\0" + d.encode() + b"\0", f.read())


    def test_a_model_dir_without_a_model_says_so(self):
        d = tempfile.mkdtemp(prefix="lx-lmprune.")
        self.addCleanup(shutil.rmtree, d)
        with stt_server({"model_dir": d}) as s:
            status, body = transcribe(s, lxaudio.speak("Plants need light."))
            self.assertEqual(status, 503, body)
            self.assertIn("the pocketsphinx model is not in " + d, body["error"])


def load_tests(loader, tests, pattern):
    """Nothing to run in a build without pocketsphinx: lexiaid-lm-prune is
    built with it (configure --disable-speech-pocketsphinx leaves it out)."""
    return tests if HAVE_POCKETSPHINX else unittest.TestSuite()


if __name__ == "__main__":
    unittest.main()
