"""The original stack's health routes, for bench/run.sh.

The Python backend that lexiaid replaces ran Flask under gunicorn with sync
workers. This app keeps only its two health routes so that the benchmark
measures the stack's own cost (WSGI, Flask's routing and jsonify) on the same
request lexiaid answers:

    GET /health      -> 200 {"status":"ok"}
    GET /api/health  -> 200 {"status":"ok","message":"Backend is healthy"}

Run with Debian's gunicorn (python3-flask, gunicorn), from the repository root:

    gunicorn --workers 4 --worker-class sync --bind 127.0.0.1:PORT \\
        --chdir "$PWD" bench.flask_app:app
"""

from flask import Flask, jsonify

app = Flask(__name__)
# Compact output, as lexiaid answers: {"status":"ok"} without spaces. (Flask
# >= 2.3 reads app.json.compact; 2.2 honours the config key.) jsonify still
# appends a newline, so the body is 16 bytes, as the original's was.
app.config["JSONIFY_PRETTYPRINT_REGULAR"] = False
if hasattr(app, "json") and hasattr(app.json, "compact"):
    app.json.compact = True


@app.route("/health")
def health():
    return jsonify(status="ok")


@app.route("/api/health")
def api_health():
    return jsonify(status="ok", message="Backend is healthy")


if __name__ == "__main__":
    # For a quick manual check only; the bench runs it under gunicorn.
    app.run(host="127.0.0.1", port=8099)
