"""The bolt app (listeners acknowledged at once, work done lazily after the ack) and its HTTP server."""

from __future__ import annotations

import functools
import logging
import re
import secrets
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from ..web.guards import BodyLimit, body_limit
from .blocks import FEEDBACK_DOWN, FEEDBACK_UP, FOLLOW, SHARE
from .dedupe import dedupe_middleware
from .handlers import COMMENT_CALLBACK, SlackBot

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient

    from ..backends import SeenStore
    from ..pipeline import Assistant
    from ..settings import Settings

EVENTS_PATH = "/slack/events"
log = logging.getLogger("assistant.slackbot")


def make_client(settings: Settings) -> WebClient:
    """A Web API client with the bot token (pointed at ``settings.slack_api_url`` when set) that retries on
    HTTP 429 (after Retry-After), on 5xx and on connection errors."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )

    token = settings.slack_bot_token.get_secret_value() or None
    retry = [ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3),
             ServerErrorRetryHandler(max_retry_count=2)]
    if settings.slack_api_url:
        return WebClient(token=token, base_url=settings.slack_api_url, retry_handlers=retry)
    return WebClient(token=token, retry_handlers=retry)


def ack_now(ack: Any) -> None:
    """Acknowledge at once; the answer is produced by a lazy listener after the ack."""
    ack()


SECRET_RE = re.compile(r"(xox[abeprs]-|xapp-)[\w-]+|(v0=)[0-9a-f]{16,}")
MAX_LOG_CHARS = 500


class Redact(logging.Filter):
    """Keeps tokens, signatures and the signing secret out of log lines, and caps their length."""

    def __init__(self, secrets_: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets_ if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message in place."""
        text = SECRET_RE.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", record.getMessage())
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        if len(text) > MAX_LOG_CHARS:
            text = f"{text[:MAX_LOG_CHARS]}… [{len(text) - MAX_LOG_CHARS} more characters]"
        record.msg, record.args = text, ()
        return True


def install_redaction(settings: Settings) -> Redact:
    """Filter the bot's logger (bolt's loggers copy its filters) and slack_sdk's."""
    redact = Redact([settings.slack_bot_token.get_secret_value(), settings.slack_app_token.get_secret_value(),
                     settings.slack_signing_secret.get_secret_value()])
    for name in ("assistant.slackbot", "slack_bolt", "slack_sdk", "slack_sdk.web.base_client"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, Redact) for f in logger.filters):
            logger.addFilter(redact)
    return redact


def deferred(pool: Executor, func: Callable[..., None]) -> Callable[..., None]:
    """The lazy listener ``func``, handed to ``pool`` (the answers' threads): bolt's own threads, which run the
    acks, only pass it on, so an ack never waits behind answers being computed."""

    def run(kwargs: dict[str, Any]) -> None:
        try:
            func(**kwargs)
        except Exception:  # noqa: BLE001 - a failed answer must not go unnoticed, nor stop the pool
            log.exception("the %s listener failed", func.__name__)

    @functools.wraps(func)  # bolt reads the wrapped function's parameters to pass its arguments
    def submit(**kwargs: Any) -> None:
        pool.submit(run, kwargs)

    return submit


def register(app: App, bot: SlackBot, seen: SeenStore, answers: Executor) -> None:
    """Wire the bot's behaviour to bolt listeners (the answers run in ``answers``)."""
    app.use(dedupe_middleware(seen))
    app.event("app_mention")(ack=ack_now, lazy=[deferred(answers, bot.on_mention)])
    app.event("message")(ack=ack_now, lazy=[deferred(answers, bot.on_message)])
    app.command(bot.command)(ack=ack_now, lazy=[deferred(answers, bot.on_command)])
    app.action(re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$"))(ack=ack_now,
                                                                  lazy=[deferred(answers, bot.on_feedback)])
    app.action(SHARE)(ack=ack_now, lazy=[deferred(answers, bot.on_share)])
    app.action(FOLLOW)(ack=ack_now, lazy=[deferred(answers, bot.on_follow)])

    @app.view(COMMENT_CALLBACK)
    def comment_submitted(ack: Any, view: dict[str, Any]) -> None:
        ack()
        bot.on_comment(view)


def build_bolt_app(assistant: Assistant, settings: Settings, client: WebClient | None = None) -> App:
    """The bolt app answering with ``assistant``; feedback goes to ``settings.feedback_path``."""
    from concurrent.futures import ThreadPoolExecutor

    from slack_bolt import App

    from ..backends import open_feedback, open_seen

    # Without a signing secret, no HTTP request may verify (socket mode does not use it).
    secret = settings.slack_signing_secret.get_secret_value() or secrets.token_hex(32)
    install_redaction(settings)
    app = App(client=client or make_client(settings), signing_secret=secret, name="news-assistant", logger=log,
              listener_executor=ThreadPoolExecutor(max_workers=ACK_THREADS, thread_name_prefix="slack-ack"))
    from ..watches import make_watch_store

    answers = ThreadPoolExecutor(max_workers=ANSWER_THREADS, thread_name_prefix="slack-answer")
    bot = SlackBot(assistant, open_feedback(settings), log, settings.slack_command,
                   make_watch_store(settings))
    register(app, bot, open_seen(settings), answers)
    return app


DISPATCH_THREADS = 128
ANSWER_THREADS = 4  # answers (lazy listeners) computed at once, in their own pool
ACK_THREADS = 32  # bolt's threads: acks, and handing the answers to their pool (never blocked by an answer)
MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller
TIMESTAMP_RE = re.compile(r"\d{1,12}")


def verified(headers: Any, body: bytes, secret: str) -> bool:
    """Whether a request carries a numeric, fresh timestamp and a valid signature (checked before bolt sees it)."""
    from slack_sdk.signature import SignatureVerifier

    timestamp = headers.get("x-slack-request-timestamp") or ""
    signature = headers.get("x-slack-signature") or ""
    if not TIMESTAMP_RE.fullmatch(timestamp) or not signature:
        return False
    return SignatureVerifier(secret).is_valid(body, timestamp, signature)


def make_asgi_app(app: App) -> Any:
    """A Starlette app serving bolt on ``EVENTS_PATH``: unsigned or oversized requests are refused (401/413)
    without logging their bodies; bolt's dispatch runs in a worker thread so that acks never wait on each other."""
    import anyio
    import anyio.to_thread
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    secret = app._signing_secret  # noqa: SLF001 - the secret bolt verifies with
    dispatch_limiter = anyio.CapacityLimiter(DISPATCH_THREADS)  # acks are quick: never queue them behind 40

    async def events(request: Request) -> Response:
        body = await request.body()  # at most MAX_BODY_BYTES: the body limit below refuses more as it streams
        if not verified(request.headers, body, secret):
            log.warning("refused an unsigned or stale request (%d bytes) from %s", len(body),
                        request.client and request.client.host)
            return JSONResponse({"error": "invalid request"}, status_code=401)
        bolt_response = await anyio.to_thread.run_sync(app.dispatch, to_bolt_request(request, body),
                                                       limiter=dispatch_limiter)
        return to_starlette_response(bolt_response)

    limit = BodyLimit(MAX_BODY_BYTES, "request too large")
    return body_limit(Starlette(routes=[Route(EVENTS_PATH, events, methods=["POST"])]), lambda path: limit)


class HttpServer:
    """uvicorn serving the bot (a real listen backlog, HTTP/1.1 keep-alive, graceful SIGTERM)."""

    def __init__(self, app: App, host: str, port: int, backlog: int = 2048) -> None:
        import uvicorn

        config = uvicorn.Config(make_asgi_app(app), host=host, port=port, backlog=backlog, log_level="warning",
                                timeout_graceful_shutdown=10, lifespan="off")
        self.server = uvicorn.Server(config)
        # bound and listening now, as a socketserver would be: early requests wait in the backlog
        self.socket = socket.create_server((host, port), backlog=backlog)
        self.server_address = self.socket.getsockname()[:2]
        self._done = threading.Event()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until ``shutdown()`` (or SIGINT/SIGTERM when run in the main thread)."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self._done.set()

    def shutdown(self, timeout: float = 15.0) -> None:
        """Stop serving and wait for the server to finish."""
        self.server.should_exit = True
        self._done.wait(timeout)

    def server_close(self) -> None:
        """Close the listening socket."""
        self.socket.close()


def make_http_server(app: App, host: str, port: int) -> HttpServer:
    """The server for ``http://host:port/slack/events`` (not started: call ``serve_forever``)."""
    return HttpServer(app, host, port)
