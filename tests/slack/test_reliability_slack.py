"""The Slack bot in HTTP mode under bursts, rate limits, replays and hostile requests (against the local fake)."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from assistant import backends
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.slackbot import build_bolt_app
from assistant.slackbot.app import HttpServer, Redact, make_http_server
from assistant.slackbot.dedupe import SeenRequests

from ..conftest import SEED_QUESTION, SEED_QUOTE, make_settings
from ..slack_fake import BOT_USER_ID, TEAM_ID, FakeSlack, sign, start_fake_slack

pytestmark = pytest.mark.e2e
SECRET = "rel-signing-secret-123"
TOKEN = "xoxb-rel-secret-token-456"
_ids = itertools.count(1)


@dataclass
class Bot:
    url: str
    fake: FakeSlack
    settings: Settings
    server: HttpServer


def start_bot(assistant: Assistant, settings: Settings, fake: FakeSlack) -> Bot:
    """The bolt app under uvicorn on a free loopback port."""
    server = make_http_server(build_bolt_app(assistant, settings), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Bot(f"http://127.0.0.1:{server.server_address[1]}/slack/events", fake, settings, server)


def stop_bot(bot: Bot) -> None:
    bot.server.shutdown()
    bot.server.server_close()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    fake, server = start_fake_slack()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rel-slack")


@pytest.fixture(scope="module")
def bot(assistant: Assistant, fake: FakeSlack, data_dir: Path) -> Iterator[Bot]:
    settings = make_settings(data_dir, slack_bot_token=TOKEN, slack_signing_secret=SECRET, slack_api_url=fake.api_url)
    running = start_bot(assistant, settings, fake)
    yield running
    stop_bot(running)


def mention(channel: str, text: str = SEED_QUESTION) -> str:
    """A signed-able app_mention envelope."""
    return json.dumps({
        "token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0001", "type": "event_callback",
        "event_id": f"EvRel{next(_ids):06d}", "event_time": int(time.time()),
        "event": {"type": "app_mention", "channel": channel, "user": "U1", "ts": f"1700001000.{next(_ids):06d}",
                  "text": f"<@{BOT_USER_ID}> {text}"},
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }, ensure_ascii=False)


def post(url: str, body: str, content_type: str = "application/json", **headers: str) -> httpx.Response:
    return httpx.post(url, content=body.encode(), timeout=30,
                      headers={**sign(SECRET, body), "Content-Type": content_type, **headers})


def posts_in(fake: FakeSlack, channel: str, method: str = "chat.postMessage") -> list[Any]:
    return [c for c in fake.of(method) if c.params.get("channel") == channel]


@pytest.mark.slow
def test_fifty_simultaneous_events_acked_fast_and_answered_once(bot: Bot) -> None:
    bodies = [(f"CBURST{i:02d}", mention(f"CBURST{i:02d}")) for i in range(50)]
    acks: dict[str, tuple[int, float, float]] = {}  # channel -> (status, seconds to the ack, when it came)
    lock = threading.Lock()
    start = threading.Barrier(50)

    def send(channel: str, body: str) -> None:
        start.wait()
        began = time.monotonic()
        status = post(bot.url, body).status_code
        with lock:
            acks[channel] = (status, time.monotonic() - began, time.monotonic())

    threads = [threading.Thread(target=send, args=cb) for cb in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [acks[ch][0] for ch, _ in bodies] == [200] * 50
    waits = sorted(d for _, d, _ in acks.values())
    print(f"50 events: slowest ack {waits[-1]:.2f} s, median {waits[25]:.2f} s")  # the figure; no wall-clock assert
    bot.fake.wait_for(lambda: all(posts_in(bot.fake, ch, "reactions.remove") for ch, _ in bodies), timeout=240)
    assert all(len(posts_in(bot.fake, ch)) == 1 for ch, _ in bodies)
    # acked before answered: no event's HTTP answer waited for its reply to be composed and posted
    late = [ch for ch, _ in bodies if acks[ch][2] > posts_in(bot.fake, ch)[0].at]
    assert not late, late


def test_answer_arrives_after_a_429(bot: Bot) -> None:
    bot.fake.http_errors["chat.postMessage"] = [429]
    assert post(bot.url, mention("CRATE")).status_code == 200
    answer = bot.fake.wait_for(lambda: posts_in(bot.fake, "CRATE"), timeout=60)
    assert len(answer) == 1 and SEED_QUOTE in json.dumps(answer[0].params, ensure_ascii=False)  # not the apology
    assert bot.fake.of("chat.postMessage!429"), "the first try was rate limited"


def test_bad_timestamps_and_huge_unsigned_bodies_are_refused_and_never_logged(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = mention("CBADTS")
    for ts in ("abc", "1e9", "", "-5"):
        headers = {**sign(SECRET, body), "X-Slack-Request-Timestamp": ts, "Content-Type": "application/json"}
        assert httpx.post(bot.url, content=body.encode(), headers=headers, timeout=10).status_code == 401, ts
    marker = "UNSIGNED_BODY_MARKER"
    huge = httpx.post(bot.url, content=(marker * 110_000).encode(), headers={"Content-Type": "application/json"},
                      timeout=30)
    assert huge.status_code == 413
    small = httpx.post(bot.url, content=(marker * 1000).encode(), headers={"Content-Type": "application/json"})
    assert small.status_code == 401
    assert post(bot.url, mention("CLOGGED")).status_code == 200
    bot.fake.wait_for(lambda: posts_in(bot.fake, "CLOGGED", "reactions.remove"))
    lines = [r.getMessage() for r in caplog.records]
    assert any("refused" in line for line in lines)
    for line in lines:
        assert marker not in line and TOKEN not in line and SECRET not in line
        assert len(line) <= 600


def test_redaction_filter_masks_tokens_and_caps_length() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token %s sig %s %s", (TOKEN, "v0=" + "a" * 64,
                               "y" * 5000), None)
    Redact([SECRET]).filter(record)
    text = record.getMessage()
    assert TOKEN not in text and "a" * 64 not in text and "xoxb-[redacted]" in text and len(text) < 600


def ask_command(trigger: str, response_name: str, fake: FakeSlack) -> str:
    return urlencode({"command": "/ask", "text": SEED_QUESTION, "user_id": "U1", "user_name": "u1",
                      "channel_id": "CREPLAY", "team_id": TEAM_ID, "trigger_id": trigger,
                      "response_url": fake.response_url(response_name), "api_app_id": "A0001"})


def responses(fake: FakeSlack, name: str) -> list[Any]:
    return [c for c in fake.of("response_url") if c.path.endswith("/" + name)]


def test_replayed_commands_and_clicks_run_once_even_after_a_restart(bot: Bot, assistant: Assistant) -> None:
    form = "application/x-www-form-urlencoded"
    command = ask_command("trigger-replay-1", "replay", bot.fake)
    assert post(bot.url, command, form).status_code == 200
    bot.fake.wait_for(lambda: responses(bot.fake, "replay"))
    assert post(bot.url, command, form).status_code == 200  # the same signed request again
    payload = {"type": "block_actions", "user": {"id": "U1", "team_id": TEAM_ID}, "team": {"id": TEAM_ID},
               "api_app_id": "A0001", "trigger_id": "trigger-click-1", "response_url": bot.fake.response_url("click"),
               "channel": {"id": "CREPLAY", "name": "news"},
               "container": {"type": "message", "message_ts": "1.000001", "channel_id": "CREPLAY"},
               "actions": [{"action_id": "feedback_up", "block_id": "answer-actions", "type": "button",
                            "value": "{}", "action_ts": "1700002000.000001"}]}
    click = urlencode({"payload": json.dumps(payload)})
    for _ in range(2):
        assert post(bot.url, click, form).status_code == 200
    time.sleep(2.0)
    assert len(responses(bot.fake, "replay")) == 1 and len(responses(bot.fake, "click")) <= 1
    restarted = start_bot(assistant, bot.settings, bot.fake)  # a new process would read the same SQLite window
    try:
        assert post(restarted.url, command, form).status_code == 200
        time.sleep(2.0)
        assert len(responses(bot.fake, "replay")) == 1
    finally:
        stop_bot(restarted)


def test_seen_requests_persist_and_expire(backend_settings: Settings) -> None:
    now = [1000.0]

    def open_seen() -> SeenRequests:
        seen = backends.open_seen(backend_settings)
        assert isinstance(seen, SeenRequests)
        seen.window, seen.clock = 60, lambda: now[0]
        return seen

    seen = open_seen()
    assert seen.first_time("event:1") and not seen.first_time("event:1")
    seen.close()
    again = open_seen()  # another process (or replica) sees the same window
    assert not again.first_time("event:1")
    now[0] += 61
    assert again.first_time("event:1")
    again.close()
