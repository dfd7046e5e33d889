#!/usr/bin/env python3
"""Read-aloud assets of a document, as the LexiAid frontend uses them
(../shared/docs/lexiaid-speech.md, "Read-aloud of a document"):
GET /api/documents/{id}/tts-assets (signed in, owner only) gives
{audio_url, timepoints_url}; the browser then loads both WITHOUT a token:
fetch(timepoints_url) (a JSON array of {mark_name, time_seconds}) and
new Audio(audio_url) (audio/mpeg, byte ranges for seeking).

The real binary with auth, storage and speech (the real engines in the real
helper); the assets are made in the background once the text is extracted
and stored through storage.v1: files next to the document on SQLite, rows
on PostgreSQL (LX_TEST_STORAGE=postgres runs the same tests there).
Gated on events: the server's log line that says the assets were made."""

import json
import os
import time
import urllib.parse

import lxspeech
import lxstorage
import lxtest
from lxfaketts import KEY, FakeTTS, status
from lxspeech import expected_marks, speech_plugin

ASSETS = "/api/documents/%s/tts-assets"
ROUTES = [
    lxtest.route("GET", "/api/documents/{id}/tts-assets", "speech.tts_assets",
                 before=["auth.require_user"]),
    lxtest.route("GET", "/api/tts-assets/{id}/{file}", "speech.tts_asset"),
]
SECRET = "0123456789abcdef0123456789abcdef"

# Three paragraphs; with chunk = 200 the second is cut in two and the
# three become four syntheses joined into one audio file.
DOC = """Plants and light

Photosynthesis happens in the leaves of green plants, which use sunlight to turn water and carbon dioxide into sugar and oxygen. The sugar feeds the plant and the oxygen goes into the air that animals breathe, which is why forests matter so much to every living thing.

Light from the Sun takes about 8 minutes to reach the Earth. The Moon moves around the Earth once every 27 days.
"""


def setUpModule():
    lxspeech.need_both_engines()


def server(testcase, assets=None, **kw):
    a = {"chunk": "200"}
    a.update(assets or {})
    return lxspeech.speech_server(testcase, speech_cfg={"assets": a}, extra_routes=ROUTES, **kw)


def made(s, doc, timeout=120):
    """Waits for the log line that says the document's assets are made."""
    line = s.srv.wait_log(lambda l: "document %s: read-aloud assets made" % doc in json.dumps(l),
                          timeout=timeout)
    if line is None:
        raise AssertionError("assets of %s not made:\n%s" % (doc, s.srv.output()[-3000:]))
    return json.dumps(line)


def path_of(url):
    """The path and query of an absolute URL, checked to be this server's."""
    u = urllib.parse.urlsplit(url)
    return u, u.path + ("?" + u.query if u.query else "")


class Assets(lxtest.TestCase):

    def upload(self, s, uid="u1", text=DOC):
        st, j = s.upload("plants.txt", text.encode(), uid=uid, name="Plants", mime="text/plain")
        self.assertEqual(st, 200, j)
        self.assertEqual(j["status"], "processed", j)
        return j["document_id"]

    def urls(self, s, doc, uid="u1"):
        st, j = s.json("GET", ASSETS % doc, uid=uid)
        self.assertEqual(st, 200, (j, s.srv.output()[-2000:]))
        self.assertEqual(sorted(j), ["audio_url", "expires_at", "timepoints_url"])
        return j

    def get(self, s, url, headers=None, method="GET"):
        """A request as the browser makes it: no Authorization header."""
        u, p = path_of(url)
        self.assertEqual(u.scheme, "http")
        self.assertEqual(u.port, s.srv.port)
        return s.srv.request(method, p, headers=headers or {})

    def test_made_after_upload_and_loaded_without_a_token(self):
        s = server(self, server={"cors_origins": ["http://localhost:5173"]})
        doc = self.upload(s)
        self.assertIn("(3 chunks", made(s, doc))
        j = self.urls(s, doc)
        self.assertGreater(j["expires_at"], time.time() + 14 * 60)
        # fetch(timepoints_url) from the frontend's origin, no token
        st, h, body = self.get(s, j["timepoints_url"], {"Origin": "http://localhost:5173"})
        self.assertEqual(st, 200, body)
        self.assertTrue(h["content-type"].startswith("application/json"))
        self.assertEqual(h.get("access-control-allow-origin"), "http://localhost:5173")
        tps = json.loads(body)
        self.assertEqual([t["mark_name"] for t in tps], expected_marks(DOC))
        times = [t["time_seconds"] for t in tps]
        self.assertEqual(times, sorted(times))
        # new Audio(audio_url): the whole MP3, which decodes, and lasts
        # past the last word
        st, h, mp3 = self.get(s, j["audio_url"])
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "audio/mpeg")
        self.assertEqual(h["accept-ranges"], "bytes")
        import base64
        _, n, sr, dur, codec, _ = lxspeech.decode_mp3(base64.b64encode(mp3).decode())
        self.assertEqual(codec, "mp3")
        self.assertLess(times[-1], dur)
        # four chunks joined: the audio is as long as the four parts
        self.assertGreater(dur, 15)
        # SQLite: the files sit next to the document's
        if s.backend == "sqlite":
            up = os.path.join(s.data_dir, "uploads")
            self.assertTrue(os.path.exists(os.path.join(up, doc + ".tts-audio.mp3")))
            self.assertTrue(os.path.exists(os.path.join(up, doc + ".tts-timepoints.json")))

    def test_byte_ranges_and_head(self):
        s = server(self)
        doc = self.upload(s)
        made(s, doc)
        url = self.urls(s, doc)["audio_url"]
        st, _, whole = self.get(s, url)
        self.assertEqual(st, 200)
        n = len(whole)
        st, h, part = self.get(s, url, {"Range": "bytes=0-99"})
        self.assertEqual(st, 206)
        self.assertEqual(h["content-range"], "bytes 0-99/%d" % n)
        self.assertEqual(part, whole[:100])
        st, h, part = self.get(s, url, {"Range": "bytes=%d-" % (n - 50)})
        self.assertEqual(st, 206)
        self.assertEqual(part, whole[-50:])
        st, h, part = self.get(s, url, {"Range": "bytes=-10"})
        self.assertEqual(st, 206)
        self.assertEqual(h["content-range"], "bytes %d-%d/%d" % (n - 10, n - 1, n))
        self.assertEqual(part, whole[-10:])
        st, h, part = self.get(s, url, {"Range": "bytes=100-%d" % (n * 2)})
        self.assertEqual(st, 206)
        self.assertEqual(part, whole[100:])
        st, h, body = self.get(s, url, {"Range": "bytes=%d-" % n})
        self.assertEqual(st, 416)
        self.assertEqual(h["content-range"], "bytes */%d" % n)
        self.assertEqual(json.loads(body)["code"], "RANGE_NOT_SATISFIABLE")
        # a Range that is not one range of bytes is ignored: the whole file
        for bad in ("bytes=5-1", "items=0-1", "bytes=0-1,5-6", "bytes=x-"):
            st, _, body = self.get(s, url, {"Range": bad})
            self.assertEqual((st, len(body)), (200, n), bad)
        st, h, body = self.get(s, url, method="HEAD")
        self.assertEqual(st, 200)
        self.assertEqual(int(h["content-length"]), n)
        self.assertEqual(body, b"")

    def test_tampered_urls_are_403(self):
        s = server(self)
        doc = self.upload(s)
        made(s, doc)
        j = self.urls(s, doc)
        u, _ = path_of(j["audio_url"])
        q = dict(urllib.parse.parse_qsl(u.query))

        def with_(path=u.path, **over):
            qq = dict(q)
            qq.update(over)
            qq = {k: v for k, v in qq.items() if v is not None}
            return "http://127.0.0.1:%d%s?%s" % (s.srv.port, path, urllib.parse.urlencode(qq))

        sig = q["s"]
        flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
        for url, code in [
            (with_(s=flipped), "BAD_SIGNATURE"),
            (with_(s=sig.upper()), "BAD_SIGNATURE"),
            (with_(s=sig[:-1]), "BAD_SIGNATURE"),
            (with_(e=str(int(q["e"]) + 3600)), "BAD_SIGNATURE"),  # a longer life
            (with_(e="1e9"), "BAD_SIGNATURE"),
            (with_(u="u2"), "BAD_SIGNATURE"),  # another user
            (with_(path=u.path.replace("audio.mp3", "timepoints.json")), "BAD_SIGNATURE"),
            (with_(s=None), "BAD_SIGNATURE"),
            (with_(u=None, e=None, s=None), "BAD_SIGNATURE"),
        ]:
            st, h, body = self.get(s, url)
            self.assertEqual(st, 403, url)
            self.assertEqual(json.loads(body)["code"], code, url)
        # never a token's business: a token does not open a tampered URL
        _, p = path_of(with_(s=flipped))
        st, _, _ = s.request("GET", p)
        self.assertEqual(st, 403)
        # unknown files
        st, _, body = self.get(s, with_(path=u.path.replace("audio.mp3", "secret.txt")))
        self.assertEqual(st, 404)
        self.assertEqual(json.loads(body)["code"], "NOT_FOUND")

    def test_the_urls_name_no_user(self):
        s = server(self)
        uid = "student-8f3a2c91"
        doc = self.upload(s, uid=uid, text="Plants need light.")
        other = self.upload(s, uid="u2", text="Plants need water.")
        made(s, doc)
        made(s, other)
        j = self.urls(s, doc, uid=uid)
        for url in (j["audio_url"], j["timepoints_url"]):
            self.assertNotIn(uid, url)
            self.assertNotIn(uid, urllib.parse.unquote(url))
            self.assertEqual(self.get(s, url)[0], 200)
        # the owner travels sealed, and the signature still binds it: the
        # sealed owner of another user's URL does not open this one
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(j["audio_url"]).query))
        q2 = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
            self.urls(s, other, uid="u2")["audio_url"]).query))
        again = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
            self.urls(s, doc, uid=uid)["audio_url"]).query))
        self.assertNotEqual(q["u"], again["u"])  # sealed afresh each time: URLs are not linkable
        q["u"] = q2["u"]
        u = urllib.parse.urlsplit(j["audio_url"])
        st, _, body = s.srv.request("GET", u.path + "?" + urllib.parse.urlencode(q))
        self.assertEqual((st, json.loads(body)["code"]), (403, "BAD_SIGNATURE"))

    def test_expired_urls_are_403(self):
        s = server(self, assets={"url_ttl": "1s"})
        doc = self.upload(s)
        made(s, doc)
        j = self.urls(s, doc)
        st, _, _ = self.get(s, j["timepoints_url"])
        self.assertEqual(st, 200)
        while time.time() <= j["expires_at"] + 1:  # the clock passes the expiry
            time.sleep(0.2)
        for url in (j["timepoints_url"], j["audio_url"]):
            st, _, body = self.get(s, url)
            self.assertEqual(st, 403)
            self.assertEqual(json.loads(body)["code"], "URL_EXPIRED")
        # a fresh pair works again
        st, _, _ = self.get(s, self.urls(s, doc)["timepoints_url"])
        self.assertEqual(st, 200)

    def test_another_users_document_is_404(self):
        s = server(self)
        doc = self.upload(s, uid="u1")
        made(s, doc)
        st, j = s.json("GET", ASSETS % doc, uid="u2")
        self.assertEqual(st, 404, j)
        self.assertEqual(j["code"], "NOT_FOUND")
        for bad in ("nope", "00000000-0000-4000-8000-000000000000", "%20"):
            st, j = s.json("GET", ASSETS % bad)
            self.assertEqual(st, 404, (bad, j))
            self.assertEqual(j["code"], "NOT_FOUND")
        st, j = s.json("GET", ASSETS % doc, uid=None)
        self.assertEqual(st, 401, j)

    def test_gone_after_delete(self):
        s = server(self)
        doc = self.upload(s)
        made(s, doc)
        j = self.urls(s, doc)
        st, _, _ = self.get(s, j["audio_url"])
        self.assertEqual(st, 200)
        st, _ = s.json("DELETE", "/api/documents/" + doc)
        self.assertEqual(st, 204)
        for url in (j["audio_url"], j["timepoints_url"]):
            st, _, body = self.get(s, url)
            self.assertEqual(st, 404, body)
            self.assertEqual(json.loads(body)["code"], "NOT_FOUND")
        st, j2 = s.json("GET", ASSETS % doc)
        self.assertEqual(st, 404, j2)
        if s.backend == "sqlite":
            left = [f for f in os.listdir(os.path.join(s.data_dir, "uploads")) if doc in f]
            self.assertEqual(left, [])

    def test_being_made_says_so_then_they_are_there(self):
        # not made on extraction: the first request finds none and queues them
        s = server(self, assets={"on_processed": False})
        doc = self.upload(s)
        st, j = s.json("GET", ASSETS % doc)
        self.assertEqual(st, 409, j)  # an error: the frontend falls back to synthesize
        self.assertEqual(j["code"], "TTS_ASSETS_PENDING")
        made(s, doc)
        self.urls(s, doc)
        # an empty document has nothing to read
        empty = self.upload(s, text="   \n")
        st, j = s.json("GET", ASSETS % empty)
        self.assertIn(st, (409, 422), j)

    def test_a_worker_stopping_mid_document_ends_cleanly_and_the_next_request_makes_them(self):
        # 40 paragraphs, 40 chunks: the maker is speaking when the server stops
        text = "\n\n".join("Paragraph %d says that plants turn light, water and air into "
                             "sugar, and that animals breathe the oxygen they give off." % i
                             for i in range(40))
        s = server(self)
        doc = self.upload(s, text=text)
        deadline = time.time() + 60
        while not lxspeech.helper_pids(s) and time.time() < deadline:
            time.sleep(0.05)  # gate: a helper speaks a chunk of the document
        self.assertTrue(lxspeech.helper_pids(s))
        s.stop()  # no leak, no crash (the sanitizers report either)
        s.start()
        st, j = s.json("GET", ASSETS % doc)
        self.assertEqual(st, 409, j)
        self.assertEqual(j["code"], "TTS_ASSETS_PENDING")
        self.assertIn("(40 chunks", made(s, doc))
        tps = json.loads(self.get(s, self.urls(s, doc)["timepoints_url"])[2])
        self.assertEqual([t["mark_name"] for t in tps], expected_marks(text))

    def test_a_voice_change_makes_them_again_serving_the_old_meanwhile(self):
        import base64
        s = server(self)
        text = "Plants need light and water.\n\nThe Moon moves around the Earth."
        doc = self.upload(s, text=text)
        made(s, doc)

        def rate_of(j):
            st, _, mp3 = self.get(s, j["audio_url"])
            self.assertEqual(st, 200)
            return lxspeech.decode_mp3(base64.b64encode(mp3).decode())[2]

        self.assertEqual(rate_of(self.urls(s, doc)), 22050)  # espeak-ng, the default
        self.assertEqual(self.made_lines(s, doc), 1)  # asked again: the same settings
        st, _ = s.json("PUT", "/api/users/profile", body={"preferences": {
            "ttsVoice": "flite:cmu_us_rms", "ttsSpeed": 1.25}})
        self.assertEqual(st, 200)
        # the old ones answer at once while the new ones are made
        j = self.urls(s, doc)
        self.assertIn(rate_of(j), (22050, 16000))
        again = "document %s: read-aloud assets made with other settings" % doc
        self.assertIsNotNone(s.srv.wait_log(lambda l: again in json.dumps(l), timeout=10))
        deadline = time.time() + 120
        while self.made_lines(s, doc) < 2:
            self.assertLess(time.time(), deadline, s.srv.output()[-2000:])
            time.sleep(0.1)
        self.assertEqual(rate_of(self.urls(s, doc)), 16000)  # flite's voice now
        tps = json.loads(self.get(s, self.urls(s, doc)["timepoints_url"])[2])
        self.assertEqual([t["mark_name"] for t in tps], expected_marks(text))
        if s.backend == "sqlite":
            with open(os.path.join(s.data_dir, "uploads", doc + ".tts-params.json")) as f:
                self.assertEqual(json.load(f), {"voice": "flite:cmu_us_rms", "rate_milli": 1250,
                                                "pitch_centi": 0})
        # current now: asking again makes nothing
        self.urls(s, doc)
        self.urls(s, doc)
        lines = [l for l in s.srv.output().splitlines() if again in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(self.made_lines(s, doc), 2)

    def made_lines(self, s, doc):
        return sum(1 for l in s.srv.output().splitlines()
                   if "document %s: read-aloud assets made (" % doc in l)

    def test_two_workers_never_make_one_document_at_once(self):
        # not made on extraction: requests on both workers find none and
        # queue them; 30 chunks keep the first maker busy while the other
        # worker tries
        text = "\n\n".join("Paragraph %d says that plants turn light, water and air into "
                             "sugar, and that animals breathe the oxygen they give off." % i
                             for i in range(30))
        s = server(self, assets={"on_processed": False}, workers=2)
        doc = self.upload(s, text=text)
        other = "document %s: read-aloud assets are being made by another worker" % doc
        deadline = time.time() + 120
        while not s.srv.wait_log(lambda l: other in json.dumps(l), timeout=0.05):
            st, j = s.json("GET", ASSETS % doc)  # a new connection: either worker
            self.assertIn(st, (200, 409), j)
            self.assertLess(time.time(), deadline, "no request reached the second worker")
            if st == 200:
                self.fail("made before the second worker asked: %s" % s.srv.output()[-2000:])
        made(s, doc)
        self.urls(s, doc)
        makes = [l for l in s.srv.output().splitlines()
                 if "document %s: read-aloud assets made" % doc in l]
        self.assertEqual(len(makes), 1, makes)
        pids = {json.loads(l)["pid"] for l in s.srv.output().splitlines()
                if doc in l and ("assets made" in l or "another worker" in l)}
        self.assertEqual(len(pids), 2, pids)  # one made them, the other left them to it

    def test_the_secret_persists_and_replicas_share_one(self):
        if lxstorage.BACKEND == "postgres":
            # two instances on one database with one configured secret: a
            # URL made by one works on the other
            a = server(self, assets={"secret": SECRET})
            doc = self.upload(a)
            made(a, doc)
            j = self.urls(a, doc)
            b = server(self, assets={"secret": SECRET}, pg_db=a.pg_db)
            _, p = path_of(j["timepoints_url"])
            st, _, body = b.srv.request("GET", p)
            self.assertEqual(st, 200, body)
            # a replica with another secret refuses it
            c = server(self, assets={"secret": SECRET[::-1]}, pg_db=a.pg_db)
            st, _, body = c.srv.request("GET", p)
            self.assertEqual(st, 403, body)
            return
        # SQLite: no secret configured, one is made for the data directory
        # (0600) and kept: a URL made before a restart works after it
        s = server(self)
        path = os.path.join(s.data_dir, "tts-url-secret")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        doc = self.upload(s)
        made(s, doc)
        j = self.urls(s, doc)
        s.restart()
        _, p = path_of(j["timepoints_url"])
        st, _, body = s.srv.request("GET", p)
        self.assertEqual(st, 200, body)
        with open(path) as f:
            self.assertNotIn(f.read().strip(), s.srv.output())  # never logged

    def cloud_server(self, fake, retry_min, **kw):
        """Read-aloud through a fake Google TTS (lxfaketts.py): the test
        decides when speaking a chunk fails."""
        cfg = {"provider": "google", "base_url": fake.base, "api_key": KEY,
               "request_timeout": "60s", "cache_size": 0,
               "assets": {"retry_min": retry_min, "retry_max": "60m"}}
        return lxspeech.speech_server(self, speech_cfg=cfg, extra_routes=ROUTES, **kw)

    def failed(self, s, doc):
        line = s.srv.wait_log(
            lambda l: "document %s: read-aloud assets not made" % doc in json.dumps(l),
            timeout=120)
        self.assertIsNotNone(line, s.srv.output()[-3000:])
        return json.dumps(line)

    def test_a_failing_document_backs_off_and_says_so(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        fake.script(status(500), status(500), status(500))  # one synthesis: 3 tries
        s = self.cloud_server(fake, "10m")
        doc = self.upload(s, text="Plants need light and water.")
        self.assertIn("tried again in 600 s", self.failed(s, doc))
        n = len(fake.synth_requests())
        self.assertEqual(n, 3)
        for _ in range(3):  # asked again and again: not made again
            st, h, body = s.request("GET", ASSETS % doc)
            j = json.loads(body)
            self.assertEqual((st, j["code"]), (503, "TTS_ASSETS_FAILED"), j)
            self.assertIn("/api/tts/synthesize", j["error"])  # the frontend's fallback
            self.assertTrue(0 < int(h["retry-after"]) <= 600, h)
        self.assertEqual(len(fake.synth_requests()), n)
        # another user learns nothing
        st, j = s.json("GET", ASSETS % doc, uid="u2")
        self.assertEqual((st, j["code"]), (404, "NOT_FOUND"))
        # deleted: forgotten; the next document is made at once
        st, _ = s.json("DELETE", "/api/documents/" + doc)
        self.assertEqual(st, 204)
        doc2 = self.upload(s, text="Plants need air.")
        made(s, doc2)
        self.urls(s, doc2)

    def test_after_the_backoff_the_next_request_makes_them(self):
        fake = FakeTTS()
        self.addCleanup(fake.close)
        fake.script(status(500), status(500), status(500))
        s = self.cloud_server(fake, "1s")
        doc = self.upload(s, text="Plants need light and water.")
        self.failed(s, doc)
        deadline = time.time() + 60
        while True:  # 503 while it backs off (Retry-After says how long), then queued
            st, h, body = s.request("GET", ASSETS % doc)
            code = json.loads(body)["code"]
            if st == 409:
                self.assertEqual(code, "TTS_ASSETS_PENDING")
                break
            self.assertEqual((st, code), (503, "TTS_ASSETS_FAILED"))
            self.assertLess(time.time(), deadline)
            time.sleep(min(float(h["retry-after"]), 0.2))
        made(s, doc)
        self.urls(s, doc)
        self.assertEqual(len(fake.synth_requests()), 4)  # 3 failed tries, then one made them

    def test_a_bad_secret_refuses_to_start_without_showing_it(self):
        with self.assertRaises(lxtest.StartError) as cm:
            server(self, assets={"secret": "too-short-key"})
        msg = str(cm.exception)
        self.assertIn("assets.secret (LEXIAID_URL_SECRET) must be 16 to 64 bytes", msg)
        self.assertNotIn("too-short-key", msg)


if __name__ == "__main__":
    lxtest.main()
