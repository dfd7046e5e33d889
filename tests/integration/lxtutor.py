"""lxtutor: the tutoring plugin's test fixture, shared by
test_tutoring_chat.py and test_tutoring_answer.py.

tutor_server(testcase, **kw) is a StorageServer (lxstorage.py: the real
binary with health, auth and storage, SQLite or PostgreSQL) with the
tutoring plugin loaded after storage and its routes behind
auth.require_user:

    POST /api/v2/agent/chat                      tutoring.chat
    GET  /api/v2/agent/history                   tutoring.history
    POST /api/v2/answer-formulation/refine       tutoring.refine
    POST /api/v2/answer-formulation/edit         tutoring.edit

tutor_cfg (a dict) is the plugin's config group; other keyword arguments
go to StorageServer.
"""

import os

import lxtest
from lxstorage import StorageServer

USER = ["auth.require_user"]
TUTOR_ROUTES = [
    ("POST", "/api/v2/agent/chat", "tutoring.chat"),
    ("GET", "/api/v2/agent/history", "tutoring.history"),
    ("POST", "/api/v2/answer-formulation/refine", "tutoring.refine"),
    ("POST", "/api/v2/answer-formulation/edit", "tutoring.edit"),
]


def tutoring_so():
    """The built tutoring plugin."""
    return os.path.join(lxtest.BUILDDIR, "plugins", "tutoring", ".libs", "tutoring.so")


def tutor_plugin(cfg=None):
    p = {"name": "tutoring", "file": tutoring_so()}
    if cfg:
        p["config"] = dict(cfg)
    return p


def tutor_server(testcase, tutor_cfg=None, **kw):
    """A StorageServer with the tutoring plugin and its routes."""
    routes = [lxtest.route(m, p, h, before=list(USER)) for m, p, h in TUTOR_ROUTES]
    routes += list(kw.pop("extra_routes", None) or [])
    plugins = [tutor_plugin(tutor_cfg)] + list(kw.pop("extra_plugins", None) or [])
    return StorageServer(testcase, extra_plugins=plugins, extra_routes=routes, **kw)
