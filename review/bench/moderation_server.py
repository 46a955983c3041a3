"""A real HTTP server on 127.0.0.1 that speaks the two moderation APIs the remote scanners call
(the stand-in for an endpoint outside the machine, for ``bench scanners`` and the tests):
OpenAI's ``POST /v1/moderations`` and an OpenAI-compatible ``POST /v1/chat/completions`` serving
Llama Guard. It judges by marker words (``ATTACKPLAN``: violence / S1, ``SLURWORD``: hate / S10)
and can be told to fail: HTTP 500, 429 with Retry-After, a slow answer, malformed JSON, or a 500
for everything after N good answers. It records every request and every text it answered."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_MODEL = "omni-moderation-2024-09-26"
GUARD_MODEL = "llama-guard-3-8b"
CATEGORIES = ["harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent", "self-harm",
              "self-harm/intent", "self-harm/instructions", "sexual", "sexual/minors", "violence", "violence/graphic"]


def judge(text: str) -> list[tuple[str, str]]:
    """(OpenAI category, Llama Guard code) pairs the text deserves."""
    out = []
    if "ATTACKPLAN" in text:
        out.append(("violence", "S1"))
    if "SLURWORD" in text:
        out.append(("hate", "S10"))
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # concurrent clients connect at once


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON and shrugs off a client that timed out and left."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own records
        pass

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass


class LocalServer:
    """A threaded HTTP server on a free port of 127.0.0.1 serving ``self._handler()``, as a context manager; ``url`` is
    its OpenAI-style base (``.../v1``). The stand-in servers below share this and differ in what they answer."""

    def _listen(self) -> None:
        self.httpd = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    lock: threading.Lock
    faults: Any  # the next requests' fates: a queue here (ChatServer: by a piece of the question)
    good_left: int | None  # after this many good answers, every request gets a 500

    def _fate(self) -> str:
        """The next request's fate: the next queued fault, else ``"ok"`` (or ``"500"`` once ``good_left`` is spent)."""
        with self.lock:
            return self.faults.pop(0) if self.faults else self._spend()

    def _spend(self) -> str:
        """``"ok"``, counted against ``good_left``, or ``"500"`` when it is spent (the caller holds the lock)."""
        if self.good_left is not None:
            if self.good_left <= 0:
                return "500"
            self.good_left -= 1
        return "ok"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ModerationServer(LocalServer):
    def __init__(self, latency: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, Any]] = []
        self.answered: Counter[tuple[str, str]] = Counter()  # (path, text) -> times answered with a good reply
        self.faults: list[str] = []  # the next requests' fates: "500", "429", "slow", "malformed", "garbled"
        self.good_left: int | None = None  # after this many good answers, every request gets a 500
        self.slow_seconds = 2.0
        self.latency = latency  # seconds every answer takes (a model's inference time)
        self.retry_after = "1"
        self._listen()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        srv = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with srv.lock:
                    srv.requests.append((self.path, body))
                fate = srv._fate()
                if fate == "500":
                    return self._send(500, b'{"error": "internal"}')
                if fate == "429":
                    return self._send(429, b'{"error": "slow down"}', {"Retry-After": srv.retry_after})
                if fate == "malformed":
                    return self._send(200, b'{"results": [ {"flagged": tru')
                if fate == "slow":
                    time.sleep(srv.slow_seconds)
                elif srv.latency:
                    time.sleep(srv.latency)
                if self.path == "/v1/moderations":
                    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    results = []
                    for t in texts:
                        cats = {c for c, _ in judge(t)}
                        results.append({"flagged": bool(cats), "categories": {c: c in cats for c in CATEGORIES},
                                        "category_scores": {c: (0.97 if c in cats else 0.01) for c in CATEGORIES}})
                    reply: Any = {"id": "modr-1", "model": OPENAI_MODEL, "results": results}
                elif self.path == "/v1/chat/completions":
                    texts = [body["messages"][-1]["content"]]
                    codes = [code for _, code in judge(texts[0])]
                    content = "safe" if not codes else "unsafe\n" + ",".join(codes)
                    if fate == "garbled":
                        content = "I think this is fine"
                    reply = {"id": "chat-1", "model": GUARD_MODEL, "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
                else:
                    return self._send(404, b'{"error": "no such path"}')
                if fate == "ok" or fate == "slow":
                    with srv.lock:
                        srv.answered.update((self.path, t) for t in texts)
                self._send(200, json.dumps(reply).encode())

        return Handler
