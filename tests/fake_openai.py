"""A tiny local OpenAI Chat Completions server for tests: scripted replies from a queue, requests recorded."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted reply: the assistant's content (``None``: JSON ``null``), or an HTTP error status, or a raw body
    sent as it is (a broken endpoint: garbage, HTML, ``{"error": …}`` with 200); optionally after a delay."""

    content: str | None = ""
    status: int = 200
    delay: float = 0.0
    raw: str | None = None
    content_type: str = "application/json"


MALFORMED = {  # replies with status 200 that are no chat completion
    "garbage_json": Reply(raw='{"id": "x", choices: [}'),
    "no_choices": Reply(raw='{"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake-model"}'),
    "html": Reply(raw="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"),
    "error_object": Reply(raw='{"error": {"message": "model overloaded", "type": "server_error"}}'),
    "null_content": Reply(content=None),
    "empty_choices": Reply(raw='{"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": []}'),
}


class FakeOpenAI:
    """``with FakeOpenAI() as fake: fake.script("answer"); ... fake.requests[-1]["messages"]``."""

    def __init__(self, model: str = "fake-model") -> None:
        self.model = model
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The ``/v1`` base URL to hand to an OpenAI client."""
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: str | Reply) -> None:
        """Queue replies, served in order, one per completion request."""
        with self._lock:
            self.replies.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def next_reply(self) -> Reply:
        """The next scripted reply (a 500 error saying so when the queue is empty)."""
        with self._lock:
            return self.replies.popleft() if self.replies else Reply("no scripted completion left", status=500)

    def record(self, body: dict[str, Any]) -> None:
        """Keep a request body for the test to inspect."""
        with self._lock:
            self.requests.append(body)

    def start(self) -> FakeOpenAI:
        """Listen on a free port of 127.0.0.1 in a background thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def completion(model: str, content: str | None, prompt_chars: int) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object."""
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop",
                     "logprobs": None}],
        "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": len(content or "") // 4,
                  "total_tokens": (prompt_chars + len(content or "")) // 4},
    }


def chunks(model: str, content: str) -> list[dict[str, Any]]:
    """``chat.completion.chunk`` objects streaming the content in a few pieces."""
    base = {"id": f"chatcmpl-fake-{time.monotonic_ns()}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}
    pieces = [content[i:i + 16] for i in range(0, len(content), 16)] or [""]
    out = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    out += [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return out


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
            pass

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/") == "/v1/models":
                self._json(200, {"object": "list", "data": [
                    {"id": fake.model, "object": "model", "created": 0, "owned_by": "fake"}]})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self) -> None:  # noqa: N802
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            fake.record(body)
            reply = fake.next_reply()
            time.sleep(reply.delay)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                self._answer(body, reply)

        def _answer(self, body: dict[str, Any], reply: Reply) -> None:
            model = str(body.get("model") or fake.model)
            if reply.raw is not None:
                data = reply.raw.encode("utf-8")
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            elif reply.status != 200:
                self._json(reply.status, {"error": {"message": reply.content, "type": "server_error"}})
            elif body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in chunks(model, reply.content or ""):
                    self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
            else:
                prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
                self._json(200, completion(model, reply.content, prompt_chars))

    return Handler
