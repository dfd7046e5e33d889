#!/usr/bin/env python3
"""The storage plugin's service storage.v1 (plugins/storage/svc.c), driven
over HTTP through the test plugin tests/plugins/storage_client.c, which
requires it and exposes each member behind auth.require_user: generic
records (put, get, append, items, list, delete), documents (doc_get with
its text, doc_search, doc_passages), profile_get, activity_add and batch
(several writes in one transaction: all or nothing), each scoped to the
signed-in user. The real binary with real RS256 tokens
(lxstorage.py); SQLite by default, LX_TEST_STORAGE=postgres runs the same
tests on PostgreSQL."""

import json
import urllib.parse

import lxtest
from lxstorage import StorageServer

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

USER = ["auth.require_user"]
CLIENT_ROUTES = [
    ("POST", "/svc/records/{kind}", "rec_create"),
    ("GET", "/svc/records/{kind}", "rec_list"),
    ("PUT", "/svc/records/{kind}/{key}", "rec_put"),
    ("GET", "/svc/records/{kind}/{key}", "rec_get"),
    ("DELETE", "/svc/records/{kind}/{key}", "rec_delete"),
    ("POST", "/svc/records/{kind}/{key}/items", "rec_append"),
    ("GET", "/svc/records/{kind}/{key}/items", "rec_items"),
    ("GET", "/svc/docs/{id}", "doc_get"),
    ("GET", "/svc/docs/{id}/search", "doc_search"),
    ("GET", "/svc/docs/{id}/passages", "doc_passages"),
    ("GET", "/svc/profile", "profile"),
    ("POST", "/svc/activity", "activity"),
    ("POST", "/svc/batch", "batch"),
    ("GET", "/svc/records/{kind}/{key}/with_items", "rec_with_items"),
    ("GET", "/svc/docs/{id}/find", "doc_find"),
    ("POST", "/svc/batch/{kind}/{key}", "batch"),
]


def svc_server(testcase, **kw):
    """A StorageServer with storage_client loaded and routed."""
    plugin = {"name": "storage_client", "file": lxtest.plugin_path("storage_client")}
    routes = [lxtest.route(m, p, "storage_client." + h, before=list(USER))
              for m, p, h in CLIENT_ROUTES]
    return StorageServer(testcase, extra_plugins=[plugin], extra_routes=routes, **kw)


def q(**params):
    return "?" + urllib.parse.urlencode(params)


def batch_body(ops):
    """storage_client's batch body: one op a line, fields split by tabs,
    None an empty field (NULL); a dict or list is sent as JSON, a str as
    is (JSON text, or text that is not JSON)."""
    lines = []
    for op in ops:
        fields = []
        for f in op:
            if f is None:
                f = ""
            elif isinstance(f, (dict, list)):
                f = json.dumps(f)
            fields.append(str(f))
        lines.append("\t".join(fields))
    return "\n".join(lines)


# Four paragraphs of about 500 bytes each, so that each is one passage
# (text.c joins paragraphs up to about 800 bytes). The first holds the
# words searched for; quotes, a backslash and non-ASCII text test the
# escaping on the way back.
FILLER = {
    "photo": "Leaves hold the green pigment called chlorophyll, which catches sunlight "
             "and turns it into sugar inside the chloroplast.",
    "rivers": "Rivers carry water from mountains to the sea, carving valleys and "
              "leaving sediment where the current slows near the delta.",
    "volcano": "A volcano erupts when magma rises through cracks in the crust; ash and "
               "lava change the land around the mountain for years.",
    "rome": "The Roman empire built roads, aqueducts and \"forums\" across Europe; "
            "Latin spread with its soldiers and traders (café \\ naïve).",
}
ORDER = ["rivers", "photo", "volcano", "rome"]


def paragraph(topic):
    extra = {
        "photo": " Plants need water and carbon dioxide as well.",
        "rivers": " Fishermen and farmers settled along the banks.",
        "volcano": " Scientists measure tremors to predict eruptions.",
        "rome": " Historians still read the letters of its senators.",
    }[topic]
    return " ".join([FILLER[topic] + extra] * 3)


DOC_TEXT = "\n\n".join(paragraph(t) for t in ORDER) + "\n"


class SvcCase(lxtest.TestCase):

    def call(self, s, method, path, uid="u1", body=None, raw=None):
        """(status, parsed JSON or None); raw: a body sent as is."""
        if raw is not None:
            status, _, data = s.request(method, path, uid=uid, body=raw,
                                        headers={"Content-Type": "application/json"})
        else:
            status, _, data = s.request(method, path, uid=uid, body=body)
        return status, (lxtest.parse_json(data) if data else None)

    def ok(self, s, method, path, uid="u1", body=None, raw=None):
        status, j = self.call(s, method, path, uid=uid, body=body, raw=raw)
        self.assertEqual(status, 200, (method, path, j))
        return j

    def error(self, s, method, path, want, code, uid="u1", body=None, raw=None):
        status, j = self.call(s, method, path, uid=uid, body=body, raw=raw)
        self.assertEqual(status, want, (method, path, j))
        self.assertEqual(j["code"], code, j)
        self.assertIsInstance(j["error"], str)
        self.assertNotEqual(j["error"], "")
        return j

    def items(self, s, kind, key, uid="u1", **params):
        j = self.ok(s, "GET", "/svc/records/%s/%s/items%s" % (kind, key, q(**params)), uid=uid)
        self.assertEqual(j["n"], len(j["items"]))
        return [(i["seq"], i["value"]) for i in j["items"]]

    def upload_txt(self, s, uid, filename, text):
        status, doc = s.upload(filename, text.encode("utf-8"), uid=uid, mime="text/plain")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["processing_status"], "processed", doc)
        return doc["id"]


class TestStorageSvc(SvcCase):
    """One server with two workers for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.s = svc_server(None, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    # -- records

    def test_svc_records_put_get_append_items_delete(self):
        s, uid = self.s, "rec1"
        value = {"title": "Photosynthesis", "doc": None, "n": [1, 2.5, "é\"\\"]}
        rec = self.ok(s, "POST", "/svc/records/thread", uid=uid, body=value)
        self.assertRegex(rec["key"], UUID_RE)
        self.assertEqual((rec["value"], rec["seq"]), (value, 0))
        self.assertRegex(rec["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        key = rec["key"]
        path = "/svc/records/thread/" + key

        got = self.ok(s, "GET", path, uid=uid)
        self.assertEqual((got["key"], got["value"], got["seq"]), (key, value, 0))
        self.assertEqual(self.items(s, "thread", key, uid=uid), [])

        msgs = [{"role": "user", "text": "What is chlorophyll?"},
                {"role": "assistant", "text": "A green pigment."},
                "a bare string item", 42]
        for i, m in enumerate(msgs[:3], 1):
            j = self.ok(s, "POST", path + "/items", uid=uid, body=json.dumps(m))
            self.assertEqual(j, {"seq": i})
        got = self.ok(s, "GET", path, uid=uid)
        self.assertEqual(got["seq"], 3, "a record's seq is its item count")

        every = [(1, msgs[0]), (2, msgs[1]), (3, msgs[2])]
        self.assertEqual(self.items(s, "thread", key, uid=uid), every)
        self.assertEqual(self.items(s, "thread", key, uid=uid, after=1), every[1:])
        self.assertEqual(self.items(s, "thread", key, uid=uid, after=3), [])
        self.assertEqual(self.items(s, "thread", key, uid=uid, last=2), every[1:])
        self.assertEqual(self.items(s, "thread", key, uid=uid, last=1), every[2:])
        self.assertEqual(self.items(s, "thread", key, uid=uid, last=10), every)
        self.assertEqual(self.items(s, "thread", key, uid=uid, after=1, last=1), every[2:])
        self.assertEqual(self.items(s, "thread", key, uid=uid, after=0, last=5), every)

        # put on an existing key replaces its value; the items stay.
        j = self.ok(s, "PUT", path, uid=uid, body={"title": "Renamed"})
        self.assertEqual((j["key"], j["value"], j["seq"]), (key, {"title": "Renamed"}, 3))
        self.assertEqual(self.ok(s, "GET", path, uid=uid)["value"], {"title": "Renamed"})
        self.assertEqual(self.ok(s, "POST", path + "/items", uid=uid, raw="42"), {"seq": 4})
        self.assertEqual(self.items(s, "thread", key, uid=uid, after=3), [(4, 42)])

        # put with a key of the caller's choosing; kinds hold [a-z0-9_.].
        j = self.ok(s, "PUT", "/svc/records/tutor.quiz_state2/quiz-1", uid=uid,
                    body={"question": 2, "answers": ["b"]})
        self.assertEqual((j["key"], j["seq"]), ("quiz-1", 0))
        j = self.ok(s, "GET", "/svc/records/tutor.quiz_state2/quiz-1", uid=uid)
        self.assertEqual(j["value"], {"question": 2, "answers": ["b"]})
        # The same key in another kind is another record.
        self.error(s, "GET", "/svc/records/thread/quiz-1", 404, "NOT_FOUND", uid=uid)

        # delete: then absent for every member.
        self.assertEqual(self.ok(s, "DELETE", path, uid=uid), {"ok": True})
        self.error(s, "GET", path, 404, "NOT_FOUND", uid=uid)
        self.error(s, "GET", path + "/items", 404, "NOT_FOUND", uid=uid)
        self.error(s, "POST", path + "/items", 404, "NOT_FOUND", uid=uid, body={"x": 1})
        self.error(s, "DELETE", path, 404, "NOT_FOUND", uid=uid)
        # A new record with that key starts without items.
        j = self.ok(s, "PUT", path, uid=uid, body={"again": True})
        self.assertEqual(j["seq"], 0)
        self.assertEqual(self.items(s, "thread", key, uid=uid), [])
        self.assertEqual(self.ok(s, "POST", path + "/items", uid=uid, body=[1]), {"seq": 1})

    def put_later(self, s, uid, kind, key, value, than):
        """PUT until the record's updated_at is later than `than` (the
        timestamps have millisecond resolution): the order is then defined."""
        for _ in range(1000):
            j = self.ok(s, "PUT", "/svc/records/%s/%s" % (kind, key), uid=uid, body=value)
            if j["updated_at"] > than:
                return j
        self.fail("updated_at never passed %s" % than)

    def test_svc_records_list_most_recently_updated_first(self):
        s, uid = self.s, "list1"
        self.assertEqual(self.ok(s, "GET", "/svc/records/session", uid=uid),
                         {"items": [], "n": 0})
        last = ""
        for k in ("a", "b", "c"):
            last = self.put_later(s, uid, "session", k, {"name": k}, last)["updated_at"]
        j = self.ok(s, "GET", "/svc/records/session", uid=uid)
        self.assertEqual([(i["key"], i["value"]) for i in j["items"]],
                         [("c", {"name": "c"}), ("b", {"name": "b"}), ("a", {"name": "a"})])
        self.put_later(s, uid, "session", "a", {"name": "a2"}, last)
        j = self.ok(s, "GET", "/svc/records/session", uid=uid)
        self.assertEqual([i["key"] for i in j["items"]], ["a", "c", "b"])
        self.assertEqual(j["items"][0]["value"], {"name": "a2"})
        j = self.ok(s, "GET", "/svc/records/session" + q(limit=2), uid=uid)
        self.assertEqual([i["key"] for i in j["items"]], ["a", "c"])
        # Other kinds and other users are not listed.
        self.ok(s, "PUT", "/svc/records/session2/z", uid=uid, body={})
        self.ok(s, "PUT", "/svc/records/session/y", uid="list2", body={})
        j = self.ok(s, "GET", "/svc/records/session", uid=uid)
        self.assertEqual(sorted(i["key"] for i in j["items"]), ["a", "b", "c"])
        self.ok(s, "DELETE", "/svc/records/session/b", uid=uid)
        j = self.ok(s, "GET", "/svc/records/session", uid=uid)
        self.assertEqual([i["key"] for i in j["items"]], ["a", "c"])

    def test_svc_records_bad_arguments_are_400(self):
        s, uid = self.s, "bad1"
        self.ok(s, "PUT", "/svc/records/notes/k1", uid=uid, body={"ok": 1})
        for kind in ("Thread", "th-read", "x" * 65, "th%20read", "%C3%A9t%C3%A9"):
            self.error(s, "POST", "/svc/records/" + kind, 400, "INVALID", uid=uid, body={})
            self.error(s, "PUT", "/svc/records/%s/k1" % kind, 400, "INVALID", uid=uid, body={})
            self.error(s, "GET", "/svc/records/%s/k1" % kind, 400, "INVALID", uid=uid)
            self.error(s, "GET", "/svc/records/" + kind, 400, "INVALID", uid=uid)
            self.error(s, "GET", "/svc/records/%s/k1/items" % kind, 400, "INVALID", uid=uid)
            self.error(s, "POST", "/svc/records/%s/k1/items" % kind, 400, "INVALID", uid=uid,
                       body={})
            self.error(s, "DELETE", "/svc/records/%s/k1" % kind, 400, "INVALID", uid=uid)
        self.ok(s, "PUT", "/svc/records/%s/k1" % ("x" * 64), uid=uid, body={})
        for raw in ("{nope", "", "[1, 2", "{\"a\": 1} trailing", "'single'"):
            self.error(s, "POST", "/svc/records/notes", 400, "INVALID", uid=uid, raw=raw)
            self.error(s, "PUT", "/svc/records/notes/k1", 400, "INVALID", uid=uid, raw=raw)
            self.error(s, "POST", "/svc/records/notes/k1/items", 400, "INVALID", uid=uid,
                       raw=raw)
        # Nothing of that reached the record.
        j = self.ok(s, "GET", "/svc/records/notes/k1", uid=uid)
        self.assertEqual((j["value"], j["seq"]), ({"ok": 1}, 0))
        self.assertEqual([i["key"] for i in self.ok(s, "GET", "/svc/records/notes",
                                                   uid=uid)["items"]], ["k1"])
        self.error(s, "PUT", "/svc/records/notes/" + "k" * 129, 400, "INVALID", uid=uid,
                   body={})
        for limit in (0, 1001, -1):
            self.error(s, "GET", "/svc/records/notes" + q(limit=limit), 400, "INVALID",
                       uid=uid)
        self.error(s, "GET", "/svc/records/notes/k1/items" + q(after=-1), 400, "INVALID",
                   uid=uid)
        self.error(s, "GET", "/svc/records/notes/k1/items" + q(last=-1), 400, "INVALID",
                   uid=uid)
        # Absent ones: 404, not 400.
        self.error(s, "GET", "/svc/records/notes/absent", 404, "NOT_FOUND", uid=uid)
        self.error(s, "POST", "/svc/records/notes/absent/items", 404, "NOT_FOUND", uid=uid,
                   body={})

    def test_svc_needs_a_signed_in_user(self):
        status, j = self.call(self.s, "GET", "/svc/records/thread", uid=None)
        self.assertEqual((status, j["code"]), (401, "UNAUTHENTICATED"))
        status, j = self.call(self.s, "GET", "/svc/profile", uid=None)
        self.assertEqual((status, j["code"]), (401, "UNAUTHENTICATED"))

    # -- isolation

    def test_svc_another_users_record_and_document_are_404(self):
        s = self.s
        rec = self.ok(s, "POST", "/svc/records/thread", uid="alice", body={"mine": "alice"})
        key = rec["key"]
        path = "/svc/records/thread/" + key
        self.assertEqual(self.ok(s, "POST", path + "/items", uid="alice", raw='"hi"'),
                         {"seq": 1})
        doc_id = self.upload_txt(s, "alice", "alice.txt", DOC_TEXT)

        for method, p, body in (("GET", path, None), ("GET", path + "/items", None),
                                ("GET", path + "/items" + q(after=0, last=5), None),
                                ("POST", path + "/items", {"from": "bob"}),
                                ("DELETE", path, None),
                                ("GET", "/svc/docs/" + doc_id, None),
                                ("GET", "/svc/docs/%s?text=1" % doc_id, None),
                                ("GET", "/svc/docs/%s/search%s" % (doc_id, q(q="chlorophyll")),
                                 None),
                                ("GET", "/svc/docs/%s/passages" % doc_id, None)):
            self.error(s, method, p, 404, "NOT_FOUND", uid="bob", body=body)
        self.assertEqual(self.ok(s, "GET", "/svc/records/thread", uid="bob")["items"], [])
        # bob's put with alice's key makes bob's own record.
        j = self.ok(s, "PUT", path, uid="bob", body={"mine": "bob"})
        self.assertEqual((j["value"], j["seq"]), ({"mine": "bob"}, 0))

        # alice's record, items and document are untouched.
        j = self.ok(s, "GET", path, uid="alice")
        self.assertEqual((j["value"], j["seq"]), ({"mine": "alice"}, 1))
        self.assertEqual(self.items(s, "thread", key, uid="alice"), [(1, "hi")])
        j = self.ok(s, "GET", "/svc/docs/%s?text=1" % doc_id, uid="alice")
        self.assertEqual(j["text"], DOC_TEXT)
        self.assertEqual(self.ok(s, "GET", "/svc/records/thread", uid="bob")["items"][0]["value"],
                         {"mine": "bob"})

    # -- batches

    def batch(self, s, uid, ops, want=200, code=None):
        status, j = self.call(s, "POST", "/svc/batch", uid=uid, raw=batch_body(ops))
        self.assertEqual(status, want, (ops, j))
        if code is not None:
            self.assertEqual(j["code"], code, j)
            self.assertNotEqual(j["error"], "")
        return j

    def progress(self, s, uid):
        status, j = self.call(s, "GET", "/api/progress", uid=uid)
        self.assertEqual(status, 200, j)
        return (j["data"]["chats"], j["data"]["points"])

    def test_svc_batch_writes_a_chat_turn(self):
        s, uid = self.s, "batch1"
        turn = [("put", "thread", "t1", {"title": "Photosynthesis"}),
                ("append", "thread", "t1", {"role": "user", "text": "why \"green\"? é"}),
                ("append", "thread", "t1", {"role": "assistant", "text": "chlorophyll"}),
                ("activity", "chat", 2)]
        self.assertEqual(self.batch(s, uid, turn), {"seqs": [0, 1, 2, 0], "n": 4})
        j = self.ok(s, "GET", "/svc/records/thread/t1", uid=uid)
        self.assertEqual((j["value"], j["seq"]), ({"title": "Photosynthesis"}, 2))
        self.assertEqual(self.items(s, "thread", "t1", uid=uid),
                         [(1, {"role": "user", "text": "why \"green\"? é"}),
                          (2, {"role": "assistant", "text": "chlorophyll"})])
        self.assertEqual(self.progress(s, uid), (1, 2))
        # The next turn continues the seqs; a put replaces the value only.
        turn[0] = ("put", "thread", "t1", {"title": "Leaves"})
        self.assertEqual(self.batch(s, uid, turn)["seqs"], [0, 3, 4, 0])
        j = self.ok(s, "GET", "/svc/records/thread/t1", uid=uid)
        self.assertEqual((j["value"], j["seq"]), ({"title": "Leaves"}, 4))
        self.assertEqual(self.progress(s, uid), (2, 4))
        # A single op, and the most ops a batch takes.
        self.assertEqual(self.batch(s, uid, [("activity", "quiz", 30, 3, 5)])["seqs"], [0])
        many = [("append", "thread", "t1", {"n": i}) for i in range(16)]
        self.assertEqual(self.batch(s, uid, many)["seqs"], list(range(5, 21)))

    def test_svc_batch_is_all_or_nothing(self):
        s, uid = self.s, "batch2"
        self.batch(s, uid, [("put", "thread", "t1", {"v": 1}),
                            ("append", "thread", "t1", '"first"')])
        before = self.progress(s, uid)
        # The 3rd op appends to an absent record: ops 1, 2 and 4 are undone.
        j = self.batch(s, uid, [("put", "thread", "t1", {"v": 2}),
                                ("append", "thread", "t1", '"second"'),
                                ("append", "thread", "absent", '"third"'),
                                ("activity", "chat", 2)], 404, "NOT_FOUND")
        self.assertNotIn("seqs", j)
        # A record put in the same batch and appended to, then a failure.
        self.batch(s, uid, [("put", "thread", "t2", {"new": True}),
                            ("append", "thread", "t2", '"x"'),
                            ("append", "note", "t1", '"other kind: absent"')], 404, "NOT_FOUND")
        j = self.ok(s, "GET", "/svc/records/thread/t1", uid=uid)
        self.assertEqual((j["value"], j["seq"]), ({"v": 1}, 1))
        self.assertEqual(self.items(s, "thread", "t1", uid=uid), [(1, "first")])
        self.error(s, "GET", "/svc/records/thread/t2", 404, "NOT_FOUND", uid=uid)
        self.assertEqual(self.progress(s, uid), before)
        self.assertEqual(self.ok(s, "GET", "/svc/records/thread", uid=uid)["n"], 1)

    def test_svc_batch_on_another_users_record_is_404(self):
        s = self.s
        self.batch(s, "batch3a", [("put", "thread", "t1", {"mine": "a"}),
                                  ("append", "thread", "t1", '"hi"')])
        self.batch(s, "batch3b", [("activity", "chat", 2),
                                  ("append", "thread", "t1", '"from b"')], 404, "NOT_FOUND")
        self.assertEqual(self.progress(s, "batch3b"), (0, 0))
        self.assertEqual(self.items(s, "thread", "t1", uid="batch3a"), [(1, "hi")])
        # b's own put of that key is b's record; a's is untouched.
        self.assertEqual(self.batch(s, "batch3b", [("put", "thread", "t1", {"mine": "b"}),
                                                   ("append", "thread", "t1", '"b"')])["seqs"],
                         [0, 1])
        j = self.ok(s, "GET", "/svc/records/thread/t1", uid="batch3a")
        self.assertEqual((j["value"], j["seq"]), ({"mine": "a"}, 1))

    def test_svc_batch_bad_input_is_400_and_writes_nothing(self):
        s, uid = self.s, "batch4"
        self.batch(s, uid, [("put", "thread", "t1", {"v": 1})])
        good = [("activity", "chat", 2), ("append", "thread", "t1", '"x"'),
                ("put", "thread", "t1", {"v": 2})]
        bad_ops = [
            ("put", "Thread", "t1", {}), ("put", "th-read", "t1", {}),
            ("append", "x" * 65, "t1", '"x"'), ("put", None, "t1", {}),
            ("put", "thread", None, {}),  # a put in a batch needs its key
            ("append", "thread", None, '"x"'), ("put", "thread", "k" * 129, {}),
            ("put", "thread", "t1", None), ("append", "thread", "t1", "{nope"),
            ("put", "thread", "t1", "[1, 2"), ("append", "thread", "t1", "'single'"),
            ("activity", "Chat", 1), ("activity", "chat1", 1), ("activity", None, 1),
            ("activity", "x" * 33, 1), ("activity", "chat", -1),
            ("activity", "quiz", 1, -1, 5), ("activity", "quiz", 1, "nan", 5),
            ("activity", "quiz", 1, 1, "inf"), ("rename", "thread", "t1", {}),
        ]
        for bad in bad_ops:
            for ops in (good + [bad], [bad] + good):
                self.batch(s, uid, ops, 400, "INVALID")
        self.batch(s, uid, [], 400, "INVALID")
        self.batch(s, uid, [("append", "thread", "t1", {"n": i}) for i in range(17)],
                   400, "INVALID")
        # Nothing of that was written.
        j = self.ok(s, "GET", "/svc/records/thread/t1", uid=uid)
        self.assertEqual((j["value"], j["seq"]), ({"v": 1}, 0))
        self.assertEqual(self.progress(s, uid), (0, 0))
        # The same ops without the bad one go through.
        self.assertEqual(self.batch(s, uid, good)["seqs"], [0, 1, 0])
        self.assertEqual(self.progress(s, uid), (1, 2))

    # -- coarser calls (storage.v1 minor 2): one trip where two were

    def test_svc_batch_items_answers_the_thread_as_written(self):
        s, uid = self.s, "bitems1"
        turn = [("put", "thread", "t1", {"title": "T"}),
                ("append", "thread", "t1", '"q1"'),
                ("append", "thread", "t1", '"a1"'),
                ("activity", "chat", 1)]
        path = "/svc/batch/thread/t1" + q(last=3)
        j = self.ok(s, "POST", path, uid=uid, raw=batch_body(turn))
        self.assertEqual((j["seqs"], j["n"]), ([0, 1, 2, 0], 4))
        self.assertEqual([(i["seq"], i["value"]) for i in j["items"]], [(1, "q1"), (2, "a1")])
        turn[1:3] = [("append", "thread", "t1", '"q2"'), ("append", "thread", "t1", '"a2"')]
        j = self.ok(s, "POST", path, uid=uid, raw=batch_body(turn))
        self.assertEqual([(i["seq"], i["value"]) for i in j["items"]],
                         [(2, "a1"), (3, "q2"), (4, "a2")])
        self.assertEqual(j["n_items"], 3)
        # All or nothing as batch: a failing op answers no items, writes nothing.
        j = self.call(s, "POST", path, uid=uid,
                      raw=batch_body([("append", "thread", "t1", '"x"'),
                                      ("append", "thread", "absent", '"y"')]))
        self.assertEqual(j[0], 404, j)
        self.assertEqual(self.items(s, "thread", "t1", uid=uid)[-1], (4, "a2"))
        # Another user's thread of that key is not read back.
        j = self.ok(s, "POST", path, uid="bitems2",
                    raw=batch_body([("put", "thread", "t1", {"t": 2})]))
        self.assertEqual(j["items"], [])
        for bad in (q(last=0), q(last=1001)):
            self.error(s, "POST", "/svc/batch/thread/t1" + bad, 400, "INVALID", uid=uid,
                       raw=batch_body([("put", "thread", "t1", {})]))

    def test_svc_record_get_items_is_the_record_and_its_last_items(self):
        s, uid = self.s, "ritems1"
        self.ok(s, "PUT", "/svc/records/thread/r1", uid=uid, body={"v": 1})
        for i in range(5):
            self.ok(s, "POST", "/svc/records/thread/r1/items", uid=uid, raw=json.dumps(i))
        j = self.ok(s, "GET", "/svc/records/thread/r1/with_items" + q(last=2), uid=uid)
        self.assertEqual((j["record"]["value"], j["record"]["seq"]), ({"v": 1}, 5))
        self.assertEqual([(i["seq"], i["value"]) for i in j["items"]], [(4, 3), (5, 4)])
        j = self.ok(s, "GET", "/svc/records/thread/r1/with_items" + q(last=0), uid=uid)
        self.assertEqual((j["items"], j["n"]), ([], 0))
        self.error(s, "GET", "/svc/records/thread/r1/with_items" + q(last=2), 404, "NOT_FOUND",
                   uid="ritems2")
        self.error(s, "GET", "/svc/records/thread/r1/with_items" + q(last=-1), 400, "INVALID",
                   uid=uid)

    def test_svc_doc_get_search_is_the_document_and_its_passages(self):
        s, uid = self.s, "find1"
        doc_id = self.upload_txt(s, uid, "topics.txt", DOC_TEXT)
        j = self.ok(s, "GET", "/svc/docs/%s/find%s" % (doc_id, q(q="chlorophyll", limit=2)),
                    uid=uid)
        self.assertEqual((j["doc"]["id"], j["doc"]["name"], j["doc"]["status"]),
                         (doc_id, "topics", "processed"))
        self.assertEqual(j["doc"]["text"], "")
        self.assertEqual([p["seq"] for p in j["passages"]], [ORDER.index("photo")])
        self.assertEqual(j["passages"],
                         self.ok(s, "GET", "/svc/docs/%s/search%s" %
                                 (doc_id, q(q="chlorophyll", limit=2)), uid=uid)["passages"])
        self.error(s, "GET", "/svc/docs/%s/find%s" % (doc_id, q(q="x")), 404, "NOT_FOUND",
                   uid="find2")
        self.error(s, "GET", "/svc/docs/%s/find%s" % (doc_id, q(q="x", limit=0)), 400,
                   "INVALID", uid=uid)

    # -- documents

    def test_svc_doc_get_with_and_without_text(self):
        s, uid = self.s, "doc1"
        doc_id = self.upload_txt(s, uid, "notes.txt", DOC_TEXT)
        j = self.ok(s, "GET", "/svc/docs/%s?text=1" % doc_id, uid=uid)
        self.assertEqual(j["text"], DOC_TEXT)
        self.assertEqual(j["text_len"], len(DOC_TEXT.encode("utf-8")))
        self.assertEqual((j["id"], j["original_filename"], j["file_type"], j["status"],
                          j["error"]), (doc_id, "notes.txt", "txt", "processed", ""))
        self.assertEqual(j["size"], len(DOC_TEXT.encode("utf-8")))
        self.assertEqual(j["content_length"], len(DOC_TEXT.encode("utf-8")))
        self.assertEqual(j["page_count"], 1)
        self.assertRegex(j["created_at"], r"^\d{4}-\d\d-\d\dT")
        without = self.ok(s, "GET", "/svc/docs/" + doc_id, uid=uid)
        self.assertEqual((without["text"], without["text_len"]), ("", 0))
        self.assertEqual({k: v for k, v in without.items() if k not in ("text", "text_len")},
                         {k: v for k, v in j.items() if k not in ("text", "text_len")})
        self.error(s, "GET", "/svc/docs/00000000-0000-4000-8000-000000000000", 404, "NOT_FOUND",
                   uid=uid)
        self.error(s, "GET", "/svc/docs/not-a-uuid?text=1", 404, "NOT_FOUND", uid=uid)

    def test_svc_doc_search_ranks_and_ignores_query_syntax(self):
        s, uid = self.s, "search1"
        doc_id = self.upload_txt(s, uid, "topics.txt", DOC_TEXT)
        base = "/svc/docs/%s/" % doc_id

        # The passages: one per paragraph, in order, from seq 0.
        j = self.ok(s, "GET", base + "passages" + q(**{"from": 0, "count": 50}), uid=uid)
        self.assertEqual([p["seq"] for p in j["passages"]], [0, 1, 2, 3])
        for p, topic in zip(j["passages"], ORDER):
            self.assertEqual(p["text"], paragraph(topic))
            self.assertEqual(p["score"], 0)
        photo = ORDER.index("photo")

        def search(query, limit=5):
            j = self.ok(s, "GET", base + "search" + q(q=query, limit=limit), uid=uid)
            self.assertEqual(j["n"], len(j["passages"]))
            scores = [p["score"] for p in j["passages"]]
            self.assertEqual(scores, sorted(scores, reverse=True), "best first")
            for p in j["passages"]:
                self.assertEqual(p["text"], paragraph(ORDER[p["seq"]]))
            return j["passages"]

        hits = search("chlorophyll sunlight")
        self.assertGreaterEqual(len(hits), 1)
        self.assertEqual(hits[0]["seq"], photo, hits)
        self.assertGreater(hits[0]["score"], 0)
        hits = search("chloroplast")
        self.assertEqual([h["seq"] for h in hits], [photo])
        # A word in two paragraphs, more often in one: both, that one first.
        hits = search("mountain mountains magma")
        self.assertEqual(hits[0]["seq"], ORDER.index("volcano"), hits)
        self.assertEqual(sorted(h["seq"] for h in hits),
                         sorted([ORDER.index("volcano"), ORDER.index("rivers")]))
        self.assertEqual(len(search("chlorophyll magma aqueducts sediment", limit=1)), 1)

        # Absent words: no passage, and no error.
        self.assertEqual(search("zyzzyva quokkas"), [])
        self.assertEqual(search(""), [])
        # Query syntax is text: no operator, prefix, phrase or error.
        for query in ("chlorophyll OR (sunlight", '"chlorophyll sunlight', "chlorophyll*",
                      "NEAR(chlorophyll sunlight)", "chlorophyll AND NOT sunlight",
                      "chlorophyll:sunlight", "chlorophyll -sunlight", "chlorophyll & sunlight |",
                      "sunlight') OR 1=1 --", "chlorophyll^2 {sunlight}"):
            hits = search(query)
            self.assertGreaterEqual(len(hits), 1, query)
            self.assertEqual(hits[0]["seq"], photo, (query, hits))
        for query in ("chloro*", "chlo*", '"*"', "((", "OR", "(", "\"", "*", "-", "AND NOT",
                      "^:{}"):
            self.assertEqual(search(query), [], query)

        # Bad arguments.
        for limit in (0, 51):
            self.error(s, "GET", base + "search" + q(q="chlorophyll", limit=limit), 400,
                       "INVALID", uid=uid)
        self.error(s, "GET", base + "search", 400, "INVALID", uid=uid)

    def test_svc_doc_passages_from_count(self):
        s, uid = self.s, "pass1"
        doc_id = self.upload_txt(s, uid, "topics.txt", DOC_TEXT)
        base = "/svc/docs/%s/passages" % doc_id

        def seqs(frm, count):
            j = self.ok(s, "GET", base + q(**{"from": frm, "count": count}), uid=uid)
            for p in j["passages"]:
                self.assertEqual(p["text"], paragraph(ORDER[p["seq"]]))
            return [p["seq"] for p in j["passages"]]

        self.assertEqual(seqs(0, 1), [0])
        self.assertEqual(seqs(1, 2), [1, 2])
        self.assertEqual(seqs(2, 50), [2, 3])
        self.assertEqual(seqs(3, 1), [3])
        self.assertEqual(seqs(4, 5), [])
        self.assertEqual(seqs(1000, 50), [])
        for frm, count in ((0, 0), (0, 51), (-1, 5)):
            self.error(s, "GET", base + q(**{"from": frm, "count": count}), 400, "INVALID",
                       uid=uid)
        # A document of blank lines has no passage.
        empty = self.upload_txt(s, uid, "blank.txt", "\n\n  \n")
        j = self.ok(s, "GET", "/svc/docs/%s/passages" % empty, uid=uid)
        self.assertEqual(j["passages"], [])
        j = self.ok(s, "GET", "/svc/docs/%s/search%s" % (empty, q(q="anything")), uid=uid)
        self.assertEqual(j["passages"], [])
        j = self.ok(s, "GET", "/svc/docs/%s?text=1" % empty, uid=uid)
        self.assertEqual(j["text"].strip(), "")
        self.assertEqual(j["content_length"], len(j["text"]))

    # -- profile and activity

    def test_svc_activity_shows_in_progress(self):
        s, uid = self.s, "act1"
        status, j = self.call(s, "GET", "/api/progress", uid=uid)
        self.assertEqual(status, 200, j)
        before = j["data"]
        self.assertEqual((before["chats"], before["quizzes"]["taken"], before["points"]),
                         (0, 0, 0))
        for params in ({"kind": "quiz", "points": 30, "score": 3, "max_score": 5},
                       {"kind": "chat", "points": 2},
                       {"kind": "chat", "points": 2},
                       {"kind": "answer", "points": 5, "score": 0, "max_score": 0}):
            self.assertEqual(self.ok(s, "POST", "/svc/activity" + q(**params), uid=uid),
                             {"ok": True})
        status, j = self.call(s, "GET", "/api/progress", uid=uid)
        d = j["data"]
        self.assertEqual(d["quizzes"], {"taken": 1, "correct": 3, "questions": 5,
                                        "average_score": 60, "best_score": 60})
        self.assertEqual((d["chats"], d["answers"], d["points"], d["active_days"]),
                         (2, 1, 39, 1))
        self.assertEqual(d["streak"], {"current": 1, "longest": 1})
        # Another user saw nothing.
        d2 = self.call(s, "GET", "/api/progress", uid="act2")[1]["data"]
        self.assertEqual((d2["chats"], d2["points"]), (0, 0))

        for params in ({"kind": "Quiz", "points": 1}, {"kind": "quiz1", "points": 1},
                       {"kind": "", "points": 1}, {"kind": "x" * 33, "points": 1},
                       {"kind": "chat", "points": -1},
                       {"kind": "quiz", "points": 1, "score": -1, "max_score": 5},
                       {"kind": "quiz", "points": 1, "score": "nan", "max_score": 5},
                       {"kind": "quiz", "points": 1, "score": 1, "max_score": "inf"}):
            self.error(s, "POST", "/svc/activity" + q(**params), 400, "INVALID", uid=uid)
        d = self.call(s, "GET", "/api/progress", uid=uid)[1]["data"]
        self.assertEqual((d["chats"], d["quizzes"]["taken"], d["points"]), (2, 1, 39))

    def test_svc_profile_get(self):
        s, uid = self.s, "prof1"
        self.error(s, "GET", "/svc/profile", 404, "NOT_FOUND", uid=uid)
        status, j = self.call(s, "PUT", "/api/users/profile", uid=uid,
                              body={"displayName": "Ada L", "dateOfBirth": "2011-02-03",
                                    "preferences": {"fontSize": 22}})
        self.assertEqual(status, 200, j)
        p = self.ok(s, "GET", "/svc/profile", uid=uid)["profile"]
        self.assertEqual((p["uid"], p["email"], p["displayName"], p["dateOfBirth"]),
                         (uid, uid + "@example.com", "Ada L", "2011-02-03"))
        self.assertEqual(p["preferences"]["fontSize"], 22)
        self.assertRegex(p["createdAt"], r"^\d{4}-\d\d-\d\dT")
        # The profile route agrees on what the user set (the route also
        # fills in default preferences; the service hands the stored ones).
        status, j = self.call(s, "GET", "/api/users/profile", uid=uid)
        self.assertEqual(status, 200, j)
        self.assertEqual((j["data"]["displayName"], j["data"]["createdAt"]),
                         (p["displayName"], p["createdAt"]))
        for k, v in p["preferences"].items():
            self.assertEqual(j["data"]["preferences"][k], v, k)
        # A later update shows in the service.
        status, j = self.call(s, "PUT", "/api/users/profile", uid=uid,
                              body={"preferences": {"lineSpacing": 2}})
        self.assertEqual(status, 200, j)
        p = self.ok(s, "GET", "/svc/profile", uid=uid)["profile"]
        self.assertEqual((p["preferences"]["lineSpacing"], p["preferences"]["fontSize"],
                          p["displayName"]), (2, 22, "Ada L"))
        # Another user still has none.
        self.error(s, "GET", "/svc/profile", 404, "NOT_FOUND", uid="prof2")


class TestStorageSvcRestart(SvcCase):

    def test_svc_records_and_documents_survive_a_restart(self):
        s = svc_server(self)
        key = self.ok(s, "POST", "/svc/records/thread", uid="keep", body={"t": 1})["key"]
        self.ok(s, "POST", "/svc/records/thread/%s/items" % key, uid="keep", body={"m": 1})
        doc_id = self.upload_txt(s, "keep", "k.txt", DOC_TEXT)
        s.restart()
        self.assertEqual(self.items(s, "thread", key, uid="keep"), [(1, {"m": 1})])
        self.assertEqual(self.ok(s, "POST", "/svc/records/thread/%s/items" % key, uid="keep",
                                 body={"m": 2}), {"seq": 2})
        hits = self.ok(s, "GET", "/svc/docs/%s/search%s" % (doc_id, q(q="chlorophyll")),
                       uid="keep")["passages"]
        self.assertEqual(hits[0]["seq"], ORDER.index("photo"))


if __name__ == "__main__":
    lxtest.main()
