#!/usr/bin/env python3
"""bench/fake_llm.py: a slow OpenAI-compatible provider for bench/tutoring.sh
(standard library only, asyncio, 127.0.0.1 only).

    fake_llm.py PORTFILE STATSLOG [DELAY_S]

Answers every POST .../chat/completions with a short chat completion
(choices[0].message.content, finish_reason "stop") DELAY_S seconds after the
request's body arrived (default 2). One coroutine per connection, HTTP/1.1
keep-alive, "Expect: 100-continue" honoured, so it holds thousands of
waiting calls at once; it raises its own open-file limit to the hard limit.
A client that closes its connection while its call waits is counted as
cancelled and nothing is sent. GET /health answers 200; GET /stats answers
the counters as JSON. Streaming ("stream": true) is not spoken: the bench
asks for whole answers.

Binds a free port and writes it to PORTFILE (atomically). Appends one line
to STATSLOG every 0.5 s and at exit:

    UNIX_MS IN_FLIGHT CONNECTIONS REQUESTS ANSWERED CANCELLED PEAK_IN_FLIGHT

(in flight: calls received and not yet answered or cancelled; requests:
calls received since the start). Runs until SIGTERM or SIGINT.
"""

import asyncio
import json
import os
import resource
import signal
import sys
import time

ANSWER = ("Plants make their own food from sunlight. This is called photosynthesis. "
          "The leaves take in light, water and air.")
MAX_HEAD = 64 << 10
MAX_BODY = 8 << 20


class Stats:
    def __init__(self):
        self.in_flight = 0
        self.peak = 0
        self.conns = 0
        self.requests = 0
        self.answered = 0
        self.cancelled = 0

    def line(self):
        return "%d %d %d %d %d %d %d\n" % (time.time_ns() // 1000000, self.in_flight, self.conns,
                                           self.requests, self.answered, self.cancelled, self.peak)

    def as_json(self):
        return {"in_flight": self.in_flight, "peak_in_flight": self.peak,
                "connections": self.conns, "requests": self.requests,
                "answered": self.answered, "cancelled": self.cancelled}


STATS = Stats()


def response(status, reason, body, ctype="application/json", close=False):
    head = ("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
            % (status, reason, ctype, len(body), "Connection: close\r\n" if close else ""))
    return head.encode("ascii") + body


def completion(model):
    return json.dumps({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": ANSWER}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 24, "total_tokens": 144},
    }, separators=(",", ":")).encode()


def parse_head(raw):
    """(method, path, headers dict with lower-case names) or None."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    headers = {}
    for ln in lines[1:]:
        if not ln:
            continue
        name, sep, value = ln.partition(":")
        if not sep:
            return None
        headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1], headers


async def wait_or_gone(reader, delay):
    """True when delay passed with the connection open; False when the
    client closed it meanwhile (or sent more bytes: clients of this bench
    do not pipeline, so that ends the connection too)."""
    try:
        await asyncio.wait_for(reader.read(1), timeout=delay)
    except asyncio.TimeoutError:
        return True
    except (ConnectionError, OSError):
        return False
    return False


async def serve_conn(reader, writer, delay):
    STATS.conns += 1
    try:
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            head = parse_head(raw[:-4])
            if head is None:
                writer.write(response(400, "Bad Request", b'{"error":"bad request"}', close=True))
                await writer.drain()
                return
            method, path, headers = head
            if "chunked" in headers.get("transfer-encoding", "").lower():
                writer.write(response(411, "Length Required", b'{"error":"length required"}',
                                      close=True))
                await writer.drain()
                return
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                writer.write(response(413, "Payload Too Large", b'{"error":"body"}', close=True))
                await writer.drain()
                return
            if length and headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await reader.readexactly(length) if length else b""
            close = headers.get("connection", "").lower() == "close"
            route = path.split("?", 1)[0]
            if method == "POST" and route.endswith("/chat/completions"):
                try:
                    model = json.loads(body).get("model") or "fake"
                except (ValueError, AttributeError):
                    writer.write(response(400, "Bad Request",
                                          b'{"error":{"message":"body is not JSON"}}', close=True))
                    await writer.drain()
                    return
                STATS.requests += 1
                STATS.in_flight += 1
                STATS.peak = max(STATS.peak, STATS.in_flight)
                try:
                    still_there = await wait_or_gone(reader, delay)
                finally:
                    STATS.in_flight -= 1
                if not still_there:
                    STATS.cancelled += 1
                    return
                STATS.answered += 1
                writer.write(response(200, "OK", completion(str(model)), close=close))
            elif method == "GET" and route == "/health":
                writer.write(response(200, "OK", b'{"status":"ok"}', close=close))
            elif method == "GET" and route == "/stats":
                writer.write(response(200, "OK", json.dumps(STATS.as_json()).encode(), close=close))
            else:
                writer.write(response(404, "Not Found", b'{"error":{"message":"no such route"}}',
                                      close=close))
            await writer.drain()
            if close:
                return
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    except asyncio.CancelledError:
        pass  # shutting down: the connection is closed below
    finally:
        STATS.conns -= 1
        writer.close()


async def main(port_file, stats_log, delay):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = await asyncio.start_server(lambda r, w: serve_conn(r, w, delay), "127.0.0.1", 0,
                                        backlog=4096, limit=MAX_HEAD)
    port = server.sockets[0].getsockname()[1]
    tmp = port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % port)
    os.replace(tmp, port_file)  # a reader never sees a half-written port

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with open(stats_log, "a", encoding="ascii", buffering=1) as log:
        while not stop.is_set():
            log.write(STATS.line())
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.5)
            except asyncio.TimeoutError:
                pass
        log.write(STATS.line())
    server.close()


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.stderr.write(__doc__)
        sys.exit(2)
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 2.0))
