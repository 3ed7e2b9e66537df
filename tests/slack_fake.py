"""A local stand-in for Slack's Web API (and response_url webhooks) on loopback, recording every call."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"


@dataclass
class Call:
    """One recorded request: a Web API method (``chat.postMessage``) or ``response_url`` for a webhook post."""

    method: str
    params: dict[str, Any]
    path: str = ""
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class FakeSlack:
    """Records calls; ``replies``/``history`` script conversations.replies/.history; ``failures`` scripts errors."""

    calls: list[Call] = field(default_factory=list)
    replies: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # conversations.history per channel
    failures: dict[str, str] = field(default_factory=dict)  # method -> Slack error code
    http_errors: dict[str, list[int]] = field(default_factory=dict)  # method -> HTTP statuses to answer first
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))
    port: int = 0

    @property
    def api_url(self) -> str:
        """Base URL for a WebClient."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        """A response_url that lands here."""
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def of(self, method: str) -> list[Call]:
        """Calls of one method so far."""
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
        """Poll until the predicate is truthy (returns its value) or fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s; calls: {[c.method for c in self.calls]}")

    def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The Web API's answer to a call."""
        if method in self.failures:
            return {"ok": False, "error": self.failures[method]}
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "newsbot",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}
        if method == "chat.postMessage":
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts,
                    "message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts,
                                "text": params.get("text", "")}}
        if method == "conversations.replies":
            messages = self.replies.get((str(params.get("channel")), str(params.get("ts"))), [])
            return {"ok": True, "messages": messages, "has_more": False}
        if method == "conversations.history":
            latest, oldest = float(params.get("latest") or "inf"), float(params.get("oldest") or 0)
            found = [m for m in self.history.get(str(params.get("channel")), [])
                     if oldest <= float(m["ts"]) < latest]
            return {"ok": True, "messages": sorted(found, key=lambda m: -float(m["ts"])), "has_more": False}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V0001", **(params.get("view") or {})}}
        return {"ok": True}


def _params(body: bytes, content_type: str) -> dict[str, Any]:
    text = body.decode("utf-8")
    if "json" in content_type:
        return json.loads(text) if text else {}
    params: dict[str, Any] = dict(parse_qsl(text))
    for key in ("blocks", "view", "attachments"):  # form-encoded calls carry JSON in these
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def start_fake_slack() -> tuple[FakeSlack, ThreadingHTTPServer]:
    """Start the fake on a free loopback port (in a daemon thread); shut it down with ``server.shutdown()``."""
    fake = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            params = _params(body, self.headers.get("Content-Type", ""))
            if self.path.startswith("/api/"):
                method = self.path[len("/api/"):].split("?")[0]
                with fake.lock:
                    scripted = fake.http_errors.get(method) or []
                    status = scripted.pop(0) if scripted else 200
                if status != 200:  # 429 with Retry-After, or a server error, as Slack answers them
                    fake.calls.append(Call(f"{method}!{status}", params, self.path))
                    self.send_response(status)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                reply: Any = fake.handle(method, params)
            else:
                method, reply = "response_url", "ok"
            with fake.lock:
                fake.calls.append(Call(method, params, self.path))
            data = (json.dumps(reply) if isinstance(reply, dict) else reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return fake, server


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack sends with a request: the timestamp and 'v0=' + HMAC-SHA256(secret, 'v0:ts:body')."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}
