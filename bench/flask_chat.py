"""The original stack's chat route, for bench/tutoring.sh.

The Python backend that lexiaid replaces answered POST /api/v2/agent/chat in
a gunicorn sync worker that waited, blocked, for the model's answer. This app
keeps only that shape: read the JSON {"query": ...}, make one blocking
chat-completions call (urllib) to the OpenAI-compatible provider at
$LX_BENCH_LLM_URL (bench/fake_llm.py), answer JSON with the model's text.
It does less than the original (no token verification, no thread kept in a
database, no reading-level figure), so the comparison favours it.

    GET  /health              -> 200 {"status":"ok"}
    POST /api/v2/agent/chat   {"query": "..."} with "Authorization: Bearer ..."
                              -> 200 {"response", "final_agent_response",
                                 "thread_id", "conversation_history", ...}
                              401 without a bearer token, 400 without a query,
                              502 when the provider fails

Run with Debian's gunicorn (python3-flask, gunicorn), from the repository root,
as the original did (4 sync workers, 120 s timeout):

    LX_BENCH_LLM_URL=http://127.0.0.1:PORT/v1 gunicorn --workers 4 \\
        --worker-class sync --timeout 120 --bind 127.0.0.1:PORT2 \\
        --chdir "$PWD" bench.flask_chat:app
"""

import json
import os
import urllib.error
import urllib.request
import uuid

from flask import Flask, jsonify, request

app = Flask(__name__)
app.config["JSONIFY_PRETTYPRINT_REGULAR"] = False
if hasattr(app, "json") and hasattr(app.json, "compact"):
    app.json.compact = True

LLM_URL = os.environ.get("LX_BENCH_LLM_URL", "http://127.0.0.1:8098/v1").rstrip("/")
LLM_MODEL = os.environ.get("LX_BENCH_LLM_MODEL", "gpt-fake-bench")
SYSTEM = ("You are a patient tutor for a student with dyslexia. Use short sentences, "
          "plain words and simple Markdown.")


def ask_model(query):
    body = json.dumps({"model": LLM_MODEL, "temperature": 0.3, "max_tokens": 1024,
                       "messages": [{"role": "system", "content": SYSTEM},
                                    {"role": "user", "content": query}]}).encode()
    req = urllib.request.Request(LLM_URL + "/chat/completions", data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer sk-bench"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        answer = json.load(resp)
    return answer["choices"][0]["message"]["content"]


@app.route("/health")
def health():
    return jsonify(status="ok")


@app.route("/api/v2/agent/chat", methods=["POST"])
def chat():
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        return jsonify(error="Missing token", code="UNAUTHENTICATED"), 401
    data = request.get_json(silent=True) or {}
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        return jsonify(error="query is required", code="BAD_REQUEST"), 400
    try:
        text = ask_model(query)
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as e:
        return jsonify(error="The AI tutor failed: %s" % type(e).__name__, code="LLM_FAILED"), 502
    thread_id = data.get("thread_id") or uuid.uuid4().hex
    return jsonify(response=text, final_agent_response=text, thread_id=thread_id,
                   active_quiz_thread_id=None,
                   conversation_history=[{"type": "human", "content": query},
                                         {"type": "ai", "content": text}],
                   quiz_active=False, quiz_complete=False, quiz_cancelled=False,
                   document_id=None, processing_mode="chat", audio_content_base64=None,
                   timepoints=None, error_detail=None)
