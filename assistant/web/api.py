"""The HTTP API for other tools: ``POST /api/ask``, ``POST /api/ingest``, ``GET /api/health``."""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, UploadFile

from ..types import Filters, Turn
from .guards import BodyLimit
from .service import InputError, WebService, clean_text, parse_filters, parse_history, unsupported

MAX_ASK_BODY = 256 * 1024  # a question is shortened to ASSISTANT_MAX_QUESTION_CHARS anyway; history fits easily
MAX_FILES_PER_UPLOAD = 20
MAX_OTHER_BODY = 8 * 2**20  # the chat's own JSON calls (a message and its history)
UPLOAD_PATHS = ("/api/ingest", "/gradio_api/upload")
ASK_CONCURRENCY = 4  # questions answered at once through /api/ask; more wait their turn
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    """A JSON error body: ``{"error": message, ...}``."""
    headers = {"WWW-Authenticate": 'Basic realm="news-assistant"'} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


class AuthFailed(Exception):
    """Missing or wrong HTTP basic credentials."""


def basic_auth_checker(pairs: list[tuple[str, str]]) -> Any:
    """A dependency that accepts any of the (user, password) pairs by HTTP basic auth; none when no pairs."""

    def check(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise AuthFailed
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthFailed from None
        ok = False
        for u, p in pairs:  # compare against all, in constant time each
            ok |= secrets.compare_digest(u.encode(), user.encode()) & secrets.compare_digest(p.encode(), password.encode())
        if not (sep and ok):
            raise AuthFailed
        return user

    return check


class AuthThrottle:
    """Wrong passwords per client address: after ``limit`` failures within ``window`` s, refuse it for a while.
    At most ``max_clients`` addresses are remembered (the stalest forgotten first)."""

    def __init__(self, limit: int = 10, window: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10_000) -> None:
        self.limit, self.window, self.clock, self.max_clients = limit, window, clock, max_clients
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds until this client may try again (0 when it may now)."""
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < self.window]
            if recent:
                self._failures[client] = recent
            else:
                self._failures.pop(client, None)
            return self.window - (now - recent[-self.limit]) if len(recent) >= self.limit else 0.0

    def failed(self, client: str) -> None:
        """Record a failed login."""
        with self._lock:
            self._failures.setdefault(client, []).append(self.clock())
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


def auth_guard(app: Any, check: Callable[[Request], str], throttle: AuthThrottle) -> Any:
    """ASGI middleware: throttle clients that keep failing to log in, and put the OpenAPI docs behind the login."""

    async def guard(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        guarded = path.startswith("/api/") or path in DOCS_PATHS or path == "/login"
        if not guarded:
            await app(scope, receive, send)
            return
        client = (scope.get("client") or ("?", 0))[0]
        wait = throttle.wait(client)
        if wait > 0:
            response = error(429, f"too many failed logins: try again in {wait:.0f} s")
            response.headers["Retry-After"] = str(int(wait) + 1)
            await response(scope, receive, send)
            return
        if path in DOCS_PATHS:
            try:
                check(Request(scope))
            except AuthFailed:
                if "authorization" in Headers(scope=scope):
                    throttle.failed(client)
                await error(401, "authentication required: HTTP basic with a user:password")(scope, receive, send)
                return

        tried = "authorization" in Headers(scope=scope)  # no credentials at all is not a wrong password

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and (
                    (message["status"] == 401 and tried) or (path == "/login" and message["status"] == 400)):
                throttle.failed(client)
            await send(message)

        await app(scope, receive, watch)

    return guard


def parse_ask_body(body: Any) -> tuple[str, list[Turn], Filters]:
    """Question, history and filters from the JSON body of /api/ask."""
    if not isinstance(body, dict):
        raise InputError('the body must be a JSON object: {"question": "..."}')
    filters_in = body.get("filters") or {}
    if not isinstance(filters_in, dict):
        raise InputError('filters: expected {"date_from": "YYYY-MM-DD", "date_to": ..., "sources": [...]}')
    filters = parse_filters(filters_in.get("date_from"), filters_in.get("date_to"), filters_in.get("sources"))
    history = parse_history(body.get("history"))
    question = body.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InputError("question: must be a non-empty string")
    return clean_text(question, "question"), history, filters


def body_limits(max_file: int) -> Callable[[str], BodyLimit]:
    """The request-body limit of each path: questions, uploads (several files) and everything else."""
    mb = max_file / 2**20
    ask = BodyLimit(MAX_ASK_BODY, f"the body is over {MAX_ASK_BODY // 1024} KB: ask a shorter question")
    upload = BodyLimit(max_file * 4 + 2**16, f"the upload is over {mb * 4:g} MB: send fewer or smaller files "
                       f"(each at most {mb:g} MB, ASSISTANT_MAX_FILE_MB)")
    other = BodyLimit(MAX_OTHER_BODY, f"the request body is over {MAX_OTHER_BODY // 2**20} MB")

    def limit_for(path: str) -> BodyLimit:
        if path == "/api/ask":
            return ask
        return upload if path.startswith(UPLOAD_PATHS) else other

    return limit_for


async def upload_files(request: Request, max_file: int) -> list[UploadFile] | JSONResponse:
    """The uploaded files of a multipart request, or the error response saying what is wrong with them."""
    mb = max_file / 2**20
    try:
        form = await request.form()
    except Exception:  # noqa: BLE001 - not multipart, or malformed
        return error(400, "send the files as multipart/form-data in the field 'files'")
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
    if not files:
        return error(400, "no files: send one or more files in the multipart field 'files'")
    if len(files) > MAX_FILES_PER_UPLOAD:
        return error(400, f"{len(files)} files: send at most {MAX_FILES_PER_UPLOAD} per request")
    names = [f.filename or "upload" for f in files]
    bad = unsupported(names)
    if bad:
        return error(400, f"unsupported file type: {', '.join(bad)}; use .txt, .md, .html or .jsonl", files=bad)
    too_big = [n for n, f in zip(names, files, strict=True) if (f.size or 0) > max_file]
    if too_big:
        return error(413, f"{', '.join(too_big)}: over the {mb:g} MB limit per file (ASSISTANT_MAX_FILE_MB); "
                     "split it", files=too_big)
    return files


def add_delete(router: APIRouter, service: WebService) -> None:
    """``DELETE /api/docs/{doc_id}``: delete a stored article (gone on every replica: the stores are shared)."""

    @router.delete("/docs/{doc_id}", response_model=None)
    async def delete_doc(doc_id: str) -> JSONResponse | dict[str, Any]:
        """Delete a stored article → its id and title (404 when there is none)."""
        try:
            doc = await run_in_threadpool(service.delete, doc_id)
        except InputError as exc:
            return error(404, str(exc))
        return {"deleted": doc.doc_id, "title": doc.title}


def add_api(app: FastAPI, service: WebService, auth: list[tuple[str, str]]) -> None:
    """Register the /api routes (before Gradio is mounted at /, so that they take precedence)."""
    deps = [Depends(basic_auth_checker(auth))] if auth else []
    router = APIRouter(prefix="/api", dependencies=deps)
    max_file = int(service.settings.max_file_mb * 2**20)
    ask_limiter = anyio.CapacityLimiter(ASK_CONCURRENCY)
    if auth:
        app.add_middleware(auth_guard, check=basic_auth_checker(auth), throttle=AuthThrottle())

    @app.exception_handler(AuthFailed)
    async def auth_failed(request: Request, exc: AuthFailed) -> JSONResponse:
        return error(401, "authentication required: HTTP basic with a user:password from ASSISTANT_AUTH")

    @router.get("/health")
    async def health() -> dict[str, Any]:
        """Status, documents, chunks and the embedding model."""
        return await run_in_threadpool(service.health)

    @router.post("/ask", response_model=None)
    async def ask(request: Request) -> JSONResponse | dict[str, Any]:
        """JSON ``{question, history?, filters?}`` → ``Answer.to_dict()``."""
        try:
            body = await request.json()
        except RecursionError:
            return error(400, "the JSON body is nested too deeply: send {\"question\": \"...\"}")
        except ValueError:
            return error(400, 'the body must be JSON: {"question": "...", "history": [...], "filters": {...}}')
        try:
            question, history, filters = parse_ask_body(body)
        except InputError as exc:
            return error(400, str(exc))
        # a few answers at a time (as the chat's queue): twenty torch calls at once only thrash the CPU
        answer = await anyio.to_thread.run_sync(service.ask, question, history, filters, limiter=ask_limiter)
        return answer.to_dict()

    @router.post("/ingest", response_model=None)
    async def ingest(request: Request) -> JSONResponse | dict[str, Any]:
        """Multipart ``files`` (.txt, .md, .html, .jsonl; several at once) → per-file results."""
        files = await upload_files(request, max_file)
        if isinstance(files, JSONResponse):
            return files
        names = [f.filename or "upload" for f in files]
        saved = []
        for name, upload in zip(names, files, strict=True):
            saved.append(await run_in_threadpool(service.save_upload, name, await upload.read()))
        results = await run_in_threadpool(service.ingest, saved)
        out = [{"file": service.display_path(r.path), "status": r.status, "doc_id": r.doc_id, "title": r.title,
                "chunks": r.chunks, "reason": r.reason} for r in results]
        counts = {s: sum(1 for r in results if r.status == s) for s in ("added", "updated", "unchanged", "failed")}
        return {"results": out, "counts": counts, **(await run_in_threadpool(service.health))}

    add_delete(router, service)
    app.include_router(router)
