"""The web chat (Gradio) and its HTTP API on one FastAPI app: ``build_app`` for tests, ``serve`` to run it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..following import Following
    from ..pipeline import Assistant
    from ..settings import Settings
    from .service import WebService

__all__ = ["build_app", "ingest_demo_corpus", "serve"]


def build_app(assistant: Assistant, settings: Settings | None = None, following: Following | None = None) -> FastAPI:
    """FastAPI app with ``/api/*`` and the Gradio chat mounted at ``/`` (login from ``settings.auth_pairs()``);
    feeds and watches where every store lives unless ``following`` is given (polling is started by ``serve``)."""
    import gradio as gr
    from fastapi import FastAPI

    from ..following import open_following
    from .api import add_api, body_limits
    from .following_ui import FOLLOW_CSS
    from .guards import body_limit, same_origin
    from .render import CSS, JS_HEAD
    from .service import WebService
    from .ui import build_ui, system_font_theme

    settings = settings or assistant.settings
    if following is None:
        following = open_following(assistant, settings)
    service = WebService(assistant, settings, following)
    auth = settings.auth_pairs()
    app = FastAPI(title="News assistant", description="Question answering over news articles with verbatim quotes.")
    app.state.service = service
    add_api(app, service, auth)
    app.add_middleware(body_limit, limit_for=body_limits(int(settings.max_file_mb * 2**20)))
    app.add_middleware(same_origin, allowed=settings.origins(), json_paths=("/api/ask",))  # the outermost
    add_favicon(app)
    blocks = build_ui(service)
    blocks.queue(default_concurrency_limit=4)
    app.router.on_shutdown.append(service.close)
    return gr.mount_gradio_app(
        app, blocks, path="", auth=auth or None, auth_message="Новостной ассистент · News assistant", theme=system_font_theme(),
        css=CSS + FOLLOW_CSS, head=JS_HEAD, ssr_mode=False, footer_links=["api"], server_name=settings.host,
        server_port=settings.port, max_file_size=int(settings.max_file_mb * 2**20),
    )


def add_favicon(app: FastAPI) -> None:
    """Serve the app's icon at /favicon.ico (Gradio's ``favicon_path`` only works when mounted at "/")."""
    from fastapi.responses import FileResponse

    icon = Path(__file__).resolve().parent / "favicon.png"
    app.add_api_route("/favicon.ico", lambda: FileResponse(icon, media_type="image/png"), include_in_schema=False)


def service_of(app: FastAPI) -> WebService:
    """The ``WebService`` behind an app made by ``build_app``."""
    return app.state.service


def ingest_demo_corpus(assistant: Assistant, corpus: Path) -> None:
    """Ingest the demo corpus when the store is empty, printing progress to the console."""
    if assistant.stats().documents:
        return
    if not corpus.is_dir():
        print(f"demo corpus {corpus} not found: starting with an empty store", file=sys.stderr)
        return
    from tqdm import tqdm

    print(f"The store is empty: ingesting the demo corpus from {corpus} …", flush=True)
    bar = tqdm(desc="  articles", unit="article", file=sys.stdout, dynamic_ncols=True)

    def progress(what: str, done: int, total: int) -> None:
        if what == "articles":
            bar.total = total
            bar.update(done - bar.n)

    try:
        report = assistant.ingest([corpus], progress=progress)
    finally:
        bar.close()
    print(f"demo corpus: {report.summary()}", flush=True)
    for failed in report.failed:
        print(f"  failed {failed.path}: {failed.reason}", file=sys.stderr)


def serve(settings: Settings, demo: bool = True) -> None:
    """Start the chat and the API on ``settings.host:settings.port`` (blocks until stopped)."""
    import uvicorn

    from ..pipeline import Assistant
    from .server import proxy_options

    print("Loading the embedding model …", flush=True)
    assistant = Assistant(settings)
    if demo:
        ingest_demo_corpus(assistant, settings.demo_corpus)
    app = build_app(assistant, settings)
    following = service_of(app).following
    if settings.feed_poll and following is not None:  # polled in a thread of this process (`feeds run`: elsewhere)
        following.start_polling()
    stats = assistant.stats()
    print(f"{stats.documents} documents, {stats.chunks} chunks; model {stats.model}", flush=True)
    print(f"Chat: http://{settings.host}:{settings.port}/   API: http://{settings.host}:{settings.port}/api/health",
          flush=True)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", backlog=2048,
                    timeout_graceful_shutdown=10, **proxy_options(settings.trusted_proxies))
    finally:
        assistant.close()
