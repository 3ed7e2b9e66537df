"""The HTTP API for other tools: ``POST /api/ask``, ``POST /api/ingest``, ``GET /api/health``."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from ..types import Filters, Turn
from .service import InputError, WebService, parse_filters, parse_history, unsupported

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


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
    return question, history, filters


def add_api(app: FastAPI, service: WebService, auth: list[tuple[str, str]]) -> None:
    """Register the /api routes (before Gradio is mounted at /, so that they take precedence)."""
    deps = [Depends(basic_auth_checker(auth))] if auth else []
    router = APIRouter(prefix="/api", dependencies=deps)

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
        except ValueError:
            return error(400, 'the body must be JSON: {"question": "...", "history": [...], "filters": {...}}')
        try:
            question, history, filters = parse_ask_body(body)
        except InputError as exc:
            return error(400, str(exc))
        answer = await run_in_threadpool(service.ask, question, history, filters)
        return answer.to_dict()

    @router.post("/ingest", response_model=None)
    async def ingest(request: Request) -> JSONResponse | dict[str, Any]:
        """Multipart ``files`` (.txt, .md, .html, .jsonl; several at once) → per-file results."""
        try:
            form = await request.form()
        except Exception:  # noqa: BLE001 - not multipart, or malformed
            return error(400, "send the files as multipart/form-data in the field 'files'")
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not files:
            return error(400, "no files: send one or more files in the multipart field 'files'")
        names = [f.filename or "upload" for f in files]
        bad = unsupported(names)
        if bad:
            return error(400, f"unsupported file type: {', '.join(bad)}; use .txt, .md, .html or .jsonl",
                         files=bad)
        saved = []
        for name, upload in zip(names, files, strict=True):
            data = await upload.read()
            if len(data) > MAX_UPLOAD_BYTES:
                return error(400, f"{name}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
            saved.append(await run_in_threadpool(service.save_upload, name, data))
        results = await run_in_threadpool(service.ingest, saved)
        out = [{"file": service.display_path(r.path), "status": r.status, "doc_id": r.doc_id, "title": r.title,
                "chunks": r.chunks, "reason": r.reason} for r in results]
        counts = {s: sum(1 for r in results if r.status == s) for s in ("added", "updated", "unchanged", "failed")}
        return {"results": out, "counts": counts, **(await run_in_threadpool(service.health))}

    app.include_router(router)
