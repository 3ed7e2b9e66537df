"""The Slack bot: answers mentions, DMs and thread follow-ups with quoted sources; /ask; feedback buttons."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient

    from ..pipeline import Assistant
    from ..settings import Settings

__all__ = ["build_bolt_app", "run"]
log = logging.getLogger("assistant.slackbot")


def build_bolt_app(assistant: Assistant, settings: Settings, client: WebClient | None = None) -> App:
    """The bolt app answering with ``assistant`` (client: a WebClient; default from the settings' bot token)."""
    from .app import build_bolt_app as build

    return build(assistant, settings, client)


def check_settings(settings: Settings, mode: str | None) -> str:
    """The mode to run in (socket when an app token is set, else http); raises SystemExit when a token is missing."""
    chosen = mode is not None or any(secret.get_secret_value() for secret in
                                     (settings.slack_app_token, settings.slack_signing_secret))
    mode = mode or ("socket" if settings.slack_app_token.get_secret_value() else "http")
    if mode not in ("socket", "http"):
        raise SystemExit(f"unknown Slack mode {mode!r}: use socket or http")
    missing = [] if settings.slack_bot_token.get_secret_value() else ["SLACK_BOT_TOKEN"]
    if mode == "socket" and not settings.slack_app_token.get_secret_value():
        missing.append("SLACK_APP_TOKEN")
    if mode == "http" and not settings.slack_signing_secret.get_secret_value():
        missing.append("SLACK_SIGNING_SECRET")
    if missing and not chosen:  # neither mode's token: name both ways to start
        raise SystemExit("the Slack bot needs SLACK_BOT_TOKEN plus SLACK_APP_TOKEN for Socket Mode, or "
                         "SLACK_SIGNING_SECRET for HTTP mode (--mode http); see docs/slack.md")
    if missing:
        raise SystemExit(f"Slack {mode} mode needs {', '.join(missing)} (see docs/slack.md)")
    return mode


def run(settings: Settings, mode: str | None = None) -> None:
    """Start the bot: Socket Mode, or HTTP on ``http://{settings.host}:{settings.slack_port}/slack/events``."""
    from ..pipeline import Assistant
    from .app import EVENTS_PATH, make_http_server

    mode = check_settings(settings, mode)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    assistant = Assistant(settings)
    try:
        if not assistant.stats().documents:
            log.warning("the store in %s is empty: run `assistant ingest corpus/` first", settings.data_dir)
        app = build_bolt_app(assistant, settings)
        if mode == "socket":
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
        else:
            server = make_http_server(app, settings.host, settings.slack_port)
            log.info("Slack bot listening on http://%s:%s%s", settings.host, settings.slack_port, EVENTS_PATH)
            try:
                server.serve_forever()
            finally:
                server.server_close()
    finally:
        assistant.close()
