"""The bolt app (listeners acknowledged at once, work done lazily after the ack) and its HTTP server."""

from __future__ import annotations

import logging
import re
import secrets
from typing import TYPE_CHECKING, Any

from .blocks import FEEDBACK_DOWN, FEEDBACK_UP, SHARE
from .handlers import COMMENT_CALLBACK, SeenKeys, SlackBot

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from slack_bolt import App, BoltResponse
    from slack_sdk import WebClient

    from ..pipeline import Assistant
    from ..settings import Settings

EVENTS_PATH = "/slack/events"
log = logging.getLogger("assistant.slackbot")


def make_client(settings: Settings) -> WebClient:
    """A Web API client with the bot token, pointed at ``settings.slack_api_url`` when set."""
    from slack_sdk import WebClient

    token = settings.slack_bot_token.get_secret_value() or None
    if settings.slack_api_url:
        return WebClient(token=token, base_url=settings.slack_api_url)
    return WebClient(token=token)


def ack_now(ack: Any) -> None:
    """Acknowledge at once; the answer is produced by a lazy listener after the ack."""
    ack()


def dedupe_middleware(seen: SeenKeys) -> Any:
    """A global middleware that answers a repeated event (a Slack retry) with 200 and does nothing else."""
    from slack_bolt import BoltResponse

    def dedupe(body: dict[str, Any], request: Any, next: Any) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not seen.first_time(f"event:{event_id}"):
            retry = (request.headers.get("x-slack-retry-num") or ["0"])[0]
            log.info("event %s already handled: ignoring retry %s", event_id, retry)
            return BoltResponse(status=200, body="")
        next()
        return None

    return dedupe


def register(app: App, bot: SlackBot) -> None:
    """Wire the bot's behaviour to bolt listeners."""
    app.use(dedupe_middleware(bot.seen))
    app.event("app_mention")(ack=ack_now, lazy=[bot.on_mention])
    app.event("message")(ack=ack_now, lazy=[bot.on_message])
    app.command(bot.command)(ack=ack_now, lazy=[bot.on_command])
    app.action(re.compile(f"^({FEEDBACK_UP}|{FEEDBACK_DOWN})$"))(ack=ack_now, lazy=[bot.on_feedback])
    app.action(SHARE)(ack=ack_now, lazy=[bot.on_share])

    @app.view(COMMENT_CALLBACK)
    def comment_submitted(ack: Any, view: dict[str, Any]) -> None:
        ack()
        bot.on_comment(view)


def build_bolt_app(assistant: Assistant, settings: Settings, client: WebClient | None = None) -> App:
    """The bolt app answering with ``assistant``; feedback goes to ``settings.feedback_path``."""
    from slack_bolt import App

    from ..feedback import FeedbackStore

    # Without a signing secret, no HTTP request may verify (socket mode does not use it).
    secret = settings.slack_signing_secret.get_secret_value() or secrets.token_hex(32)
    app = App(client=client or make_client(settings), signing_secret=secret, name="news-assistant", logger=log)
    register(app, SlackBot(assistant, FeedbackStore(settings.feedback_path), log, settings.slack_command))
    return app


def make_http_server(app: App, host: str, port: int) -> WSGIServer:
    """A threaded WSGI server serving the app on ``http://host:port/slack/events`` (not started)."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from slack_bolt.adapter.wsgi import SlackRequestHandler

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return make_server(host, port, SlackRequestHandler(app, EVENTS_PATH), Server, QuietHandler)
