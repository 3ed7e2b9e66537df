"""ASGI middleware at the edge of the web app and the Slack endpoint: a body-size limit that counts the bytes as
they stream (declared or chunked), and a same-origin check for every state-changing request."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

ASGIApp = Callable[..., Any]
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CORS_HEADERS = (b"access-control-allow-origin", b"access-control-allow-credentials")


@dataclass(frozen=True)
class BodyLimit:
    """The largest request body a path accepts, in bytes, and what to tell a client that sends more."""

    max_bytes: int
    message: str


class BodyTooLarge(Exception):
    """The request body went past its limit while being read."""


class _CountedBody:
    """One request's receive and send, counting the body's bytes against a limit."""

    def __init__(self, receive: Any, send: Any, max_bytes: int) -> None:
        self._receive, self._send, self.max_bytes = receive, send, max_bytes
        self.read, self.over, self.started = 0, False, False

    async def receive(self) -> Any:
        """The next message, or BodyTooLarge once the body passes the limit."""
        if self.over:
            raise BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            if self.read > self.max_bytes:
                self.over = True
                raise BodyTooLarge
        return message

    async def send(self, message: dict[str, Any]) -> None:
        """Pass the app's answer on, unless the body was cut off (the 413 goes out instead)."""
        if not self.over:
            self.started = True
            await self._send(message)


def body_limit(app: ASGIApp, limit_for: Callable[[str], BodyLimit]) -> ASGIApp:
    """Refuse bodies over ``limit_for(path)`` with 413: at once when declared, else as soon as the streamed bytes
    pass it (nothing past the limit is read); whatever the app answered meanwhile is replaced by the 413."""

    async def limited(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        limit = limit_for(scope.get("path", ""))
        declared = Headers(scope=scope).get("content-length")
        refuse = JSONResponse({"error": limit.message}, status_code=413, headers={"Connection": "close"})
        if declared is not None and (not declared.isdigit() or int(declared) > limit.max_bytes):
            await refuse(scope, receive, send)
            return
        body = _CountedBody(receive, send, limit.max_bytes)
        try:
            await app(scope, body.receive, body.send)
        except Exception:
            if not body.over:
                raise
        if body.over and not body.started:
            await refuse(scope, receive, send)

    return limited


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an Origin or Referer value (lower case); None when absent."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else "null"


def same_origin(app: ASGIApp, allowed: Collection[str] = (), json_paths: Collection[str] = ()) -> ASGIApp:
    """Refuse (403) state-changing requests whose Origin (or Referer) is neither this host nor in ``allowed``;
    refuse (415) bodies on ``json_paths`` that are not ``application/json``; never let a foreign origin read a
    response with credentials (CORS headers dropped). Requests with neither header (curl, scripts) pass."""
    allowed_set = {a.strip().rstrip("/").lower() for a in allowed if a.strip()}

    async def guard(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = origin_of(headers.get("origin")) or origin_of(headers.get("referer"))
        host = headers.get("host", "").lower()
        foreign = origin is not None and origin.split("://", 1)[-1] != host and origin not in allowed_set
        if scope["method"] in UNSAFE_METHODS:
            if foreign:
                await JSONResponse({"error": f"cross-origin request from {origin} refused: open the app at "
                                    f"{host} (or list the origin in ASSISTANT_ALLOWED_ORIGINS)"},
                                   status_code=403)(scope, receive, send)
                return
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if scope.get("path") in json_paths and media != "application/json":
                await JSONResponse({"error": "send the body as JSON with Content-Type: application/json"},
                                   status_code=415)(scope, receive, send)
                return

        async def no_cors(message: dict[str, Any]) -> None:
            if foreign and message["type"] == "http.response.start":
                message = {**message, "headers": [(k, v) for k, v in message.get("headers", [])
                                                  if k.lower() not in CORS_HEADERS]}
            await send(message)

        await app(scope, receive, no_cors)

    return guard
