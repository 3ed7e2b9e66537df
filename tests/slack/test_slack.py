"""The Slack bot over real HTTP on loopback: signed events in, Web API calls out to a local fake of Slack."""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from assistant.feedback import FeedbackStore
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.slackbot import build_bolt_app, check_settings
from assistant.slackbot.app import make_http_server
from assistant.slackbot.blocks import (
    MAX_BLOCKS,
    MAX_SECTION_CHARS,
    answer_blocks,
    escape,
    feedback_buttons,
    split_messages,
    split_text,
)
from assistant.slackbot.handlers import plain_text, thread_history
from assistant.slackbot.refs import MAX_VALUE_CHARS, pack_answer, unpack_answer
from assistant.types import Answer, Citation, Filters, Turn

from ..conftest import SEED_DATE, SEED_QUESTION, SEED_QUOTE, cache_dir, free_port, make_settings
from ..slack_fake import BOT_ID, BOT_USER_ID, TEAM_ID, Call, FakeSlack, sign, start_fake_slack

SECRET = "test-signing-secret"
NO_ANSWER_QUESTION = "Какова температура ядра Юпитера в кельвинах?"
_ids = itertools.count(1)


@dataclass
class Bot:
    """The running bot: its events URL, the fake Slack it talks to, and its settings."""

    url: str
    fake: FakeSlack
    settings: Settings


@pytest.fixture(scope="module")
def bot(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """The bolt app in HTTP mode on loopback, its Web API client pointed at the fake Slack."""
    fake, fake_server = start_fake_slack()
    settings = make_settings(tmp_path_factory.mktemp("slack"), slack_bot_token="xoxb-test",
                             slack_signing_secret=SECRET, slack_api_url=fake.api_url)
    server = make_http_server(build_bolt_app(assistant, settings), "127.0.0.1", free_port())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield Bot(f"http://127.0.0.1:{server.server_address[1]}/slack/events", fake, settings)
    server.shutdown()
    server.server_close()
    fake_server.shutdown()
    fake_server.server_close()


# ---- helpers ---------------------------------------------------------------------------------------------------


def post_signed(bot: Bot, body: str, content_type: str, **headers: str) -> tuple[httpx.Response, float]:
    """POST a correctly signed body; returns the response and when it arrived (monotonic)."""
    all_headers = {**sign(SECRET, body), "Content-Type": content_type, **headers}
    response = httpx.post(bot.url, content=body.encode(), headers=all_headers, timeout=10)
    return response, time.monotonic()


def event_body(event: dict[str, Any], event_id: str | None = None) -> str:
    """An Events API envelope around an event."""
    return json.dumps({
        "token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0001", "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}", "event_time": int(time.time()), "event": event,
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }, ensure_ascii=False)


def send_event(bot: Bot, event: dict[str, Any], event_id: str | None = None, **headers: str) -> float:
    """Send a signed event; asserts the 200 ack and returns when it arrived."""
    response, at = post_signed(bot, event_body(event, event_id), "application/json", **headers)
    assert response.status_code == 200, response.text
    return at


def send_form(bot: Bot, fields: dict[str, str]) -> float:
    """Send a signed form post (slash command, or ``payload=`` of an interaction); asserts the 200 ack."""
    response, at = post_signed(bot, urlencode(fields), "application/x-www-form-urlencoded")
    assert response.status_code == 200, response.text
    return at


def click(bot: Bot, action: dict[str, Any], channel: str, response_url: str, ephemeral: bool = False) -> None:
    """Send a block_actions payload for a button click by user U1."""
    payload = {
        "type": "block_actions", "user": {"id": "U1", "team_id": TEAM_ID}, "team": {"id": TEAM_ID},
        "api_app_id": "A0001", "trigger_id": f"trigger-{next(_ids)}", "response_url": response_url,
        "channel": {"id": channel, "name": "news"},
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": channel, "is_ephemeral": ephemeral},
        "actions": [{**action, "block_id": "answer-actions", "type": "button", "action_ts": str(time.time())}],
    }
    send_form(bot, {"payload": json.dumps(payload, ensure_ascii=False)})


def in_channel(fake: FakeSlack, method: str, channel: str) -> list[Call]:
    """Recorded calls of a method for one channel."""
    return [c for c in fake.of(method) if c.params.get("channel") == channel]


def wait_done(fake: FakeSlack, channel: str) -> list[Call]:
    """Wait until the bot removed its working reaction in the channel; returns the messages it posted there."""
    fake.wait_for(lambda: in_channel(fake, "reactions.remove", channel))
    return in_channel(fake, "chat.postMessage", channel)


def texts_of(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn/plain text in sections and context blocks."""
    out = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    return out + [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]


def buttons_of(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The buttons of a message by action_id."""
    return {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}


def ask_in_dm(bot: Bot, channel: str, question: str) -> Call:
    """Ask in a DM and return the bot's (single) answer message."""
    send_event(bot, {"type": "message", "channel_type": "im", "channel": channel, "user": "U1",
                     "text": question, "ts": "1700000000.000100"})
    posts = wait_done(bot.fake, channel)
    assert len(posts) == 1
    return posts[0]


# ---- events ----------------------------------------------------------------------------------------------------


def slow_answers(assistant: Assistant, monkeypatch: pytest.MonkeyPatch, seconds: float = 1.5) -> None:
    """Make every answer take a while, so that an ack that waited for it would show."""
    original = assistant.ask

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return original(*args, **kwargs)

    monkeypatch.setattr(assistant, "ask", slow)


def test_mention_answered_in_thread_with_quote_after_ack(bot: Bot, assistant: Assistant,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    slow_answers(assistant, monkeypatch)
    channel, ts = "CMENTION", "1700000100.000100"
    sent = time.monotonic()
    acked = send_event(bot, {"type": "app_mention", "channel": channel, "user": "U1", "ts": ts,
                             "text": f"<@{BOT_USER_ID}> {SEED_QUESTION}"})
    posts = wait_done(bot.fake, channel)
    assert len(posts) == 1
    post = posts[0]
    assert acked - sent < 1.0 and acked < post.at, "the ack must not wait for the answer"
    assert post.params["thread_ts"] == ts
    texts = texts_of(post.params["blocks"])
    quotes = [t for t in texts if SEED_QUOTE in t]
    assert quotes and any(SEED_DATE in t and "\n>" in t for t in quotes), texts
    assert any(t.startswith("Фильтры") for t in texts)
    assert set(buttons_of(post.params["blocks"])) == {"feedback_up", "feedback_down", "follow_question"}
    added, removed = in_channel(bot.fake, "reactions.add", channel), in_channel(bot.fake, "reactions.remove", channel)
    assert [c.params["name"] for c in added + removed] == ["eyes", "eyes"]
    assert added[0].params["timestamp"] == ts and added[0].at < post.at <= removed[0].at
    assert not in_channel(bot.fake, "conversations.replies", channel)


def test_dm_answered(bot: Bot) -> None:
    post = ask_in_dm(bot, "DDIRECT", SEED_QUESTION)
    assert not post.params.get("thread_ts")  # a DM is answered at the top level
    assert any(SEED_QUOTE in t for t in texts_of(post.params["blocks"]))


def test_thread_follow_up_uses_replies_as_history(bot: Bot, assistant: Assistant) -> None:
    channel, root, follow_up = "CTHREAD", "1700000200.000100", "А что ещё там подписали?"
    bot.fake.replies[(channel, root)] = [
        {"type": "message", "user": "U1", "ts": root, "text": f"<@{BOT_USER_ID}> {SEED_QUESTION}"},
        {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": "1700000200.000200",
         "text": f"Вот что говорится в источниках: «{SEED_QUOTE}»", "thread_ts": root},
        {"type": "message", "user": "U1", "ts": "1700000200.000300", "text": follow_up, "thread_ts": root},
    ]
    send_event(bot, {"type": "message", "channel_type": "channel", "channel": channel, "user": "U1",
                     "text": follow_up, "ts": "1700000200.000300", "thread_ts": root})
    posts = wait_done(bot.fake, channel)
    assert len(posts) == 1 and posts[0].params["thread_ts"] == root
    replies = in_channel(bot.fake, "conversations.replies", channel)
    assert [c.params["ts"] for c in replies] == [root]
    # the thread reached the core as history: the follow-up was searched together with the earlier question
    history = [Turn("user", SEED_QUESTION), Turn("assistant", f"Вот что говорится в источниках: «{SEED_QUOTE}»")]
    expected = assistant.ask(follow_up, history)
    assert expected.search_query != follow_up
    assert escape(expected.search_query) in texts_of(posts[0].params["blocks"])[-1]


def test_threads_without_the_bot_and_top_level_messages_are_ignored(bot: Bot) -> None:
    channel, root = "COTHER", "1700000300.000100"
    bot.fake.replies[(channel, root)] = [
        {"type": "message", "user": "U2", "ts": root, "text": "Обсудим визит?"},
        {"type": "message", "user": "U1", "ts": "1700000300.000200", "text": "Какие документы?", "thread_ts": root},
    ]
    send_event(bot, {"type": "message", "channel_type": "channel", "channel": channel, "user": "U3",
                     "text": "Просто сообщение в канале", "ts": "1700000300.000050"})
    send_event(bot, {"type": "message", "channel_type": "channel", "channel": channel, "user": "U1",
                     "text": "Какие документы?", "ts": "1700000300.000200", "thread_ts": root})
    bot.fake.wait_for(lambda: in_channel(bot.fake, "conversations.replies", channel))
    time.sleep(1.0)
    assert len(in_channel(bot.fake, "conversations.replies", channel)) == 1
    assert not in_channel(bot.fake, "chat.postMessage", channel)
    assert not in_channel(bot.fake, "reactions.add", channel)


def test_retried_event_answered_once(bot: Bot) -> None:
    channel = "CRETRY"
    event = {"type": "app_mention", "channel": channel, "user": "U1", "ts": "1700000400.000100",
             "text": f"<@{BOT_USER_ID}> {SEED_QUESTION}"}
    send_event(bot, event, event_id="EvRETRY1")
    send_event(bot, event, event_id="EvRETRY1", **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    # the same message also delivered as a plain message event (other id) must not be answered twice either
    send_event(bot, {**event, "type": "message", "channel_type": "im"}, event_id="EvRETRY2")
    assert len(wait_done(bot.fake, channel)) == 1
    time.sleep(1.0)
    assert len(in_channel(bot.fake, "chat.postMessage", channel)) == 1
    assert len(in_channel(bot.fake, "reactions.add", channel)) == 1


def test_bot_messages_edits_and_joins_are_ignored(bot: Bot) -> None:
    channel = "DIGNORED"
    base = {"type": "message", "channel_type": "im", "channel": channel, "text": SEED_QUESTION}
    send_event(bot, {**base, "subtype": "bot_message", "bot_id": "BOTHER", "ts": "1700000500.000100"})
    send_event(bot, {**base, "user": "UOTHERBOT", "bot_id": "BOTHER", "ts": "1700000500.000200"})
    send_event(bot, {**base, "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": "1700000500.000300"})
    send_event(bot, {**base, "subtype": "message_changed", "ts": "1700000500.000400",
                     "message": {"user": "U1", "text": SEED_QUESTION, "ts": "1700000500.000050"}})
    send_event(bot, {**base, "subtype": "channel_join", "user": "U1", "ts": "1700000500.000500"})
    send_event(bot, {"type": "app_mention", "channel": "CIGNORED", "bot_id": "BOTHER", "user": "UOTHERBOT",
                     "ts": "1700000500.000600", "text": f"<@{BOT_USER_ID}> {SEED_QUESTION}"})
    ask_in_dm(bot, "DIGNORED2", SEED_QUESTION)  # a real question sent after them is answered...
    time.sleep(0.5)
    for name in ("DIGNORED", "CIGNORED"):  # ...while none of them caused any call
        assert not [c for c in bot.fake.calls if c.params.get("channel") == name]


def test_no_answer_reply(bot: Bot, assistant: Assistant) -> None:
    expected = assistant.ask(NO_ANSWER_QUESTION)
    assert not expected.answered
    post = ask_in_dm(bot, "DNOANSWER", NO_ANSWER_QUESTION)
    blocks = post.params["blocks"]
    assert blocks[0]["text"]["text"] == f":mag: {escape(expected.text)}"
    assert not [b for b in blocks if b.get("block_id", "").startswith("cit-")]
    assert set(buttons_of(blocks)) == {"feedback_up", "feedback_down", "follow_question"}


def test_error_becomes_apology_in_thread(bot: Bot) -> None:
    channel, root = "CERROR", "1700000600.000100"
    bot.fake.failures["conversations.replies"] = "internal_error"
    try:
        send_event(bot, {"type": "app_mention", "channel": channel, "user": "U1", "ts": "1700000600.000200",
                         "thread_ts": root, "text": f"<@{BOT_USER_ID}> {SEED_QUESTION}"})
        posts = wait_done(bot.fake, channel)
    finally:
        del bot.fake.failures["conversations.replies"]
    assert len(posts) == 1
    assert posts[0].params["thread_ts"] == root and "Извините" in posts[0].params["text"]


def test_requests_with_bad_or_stale_signature_are_rejected(bot: Bot) -> None:
    body = event_body({"type": "app_mention", "channel": "CBADSIG", "user": "U1", "ts": "1700000700.000100",
                       "text": f"<@{BOT_USER_ID}> {SEED_QUESTION}"})
    bad = {**sign("wrong-secret", body), "Content-Type": "application/json"}
    stale = {**sign(SECRET, body, int(time.time()) - 600), "Content-Type": "application/json"}
    for headers in (bad, stale, {"Content-Type": "application/json"}):
        assert httpx.post(bot.url, content=body.encode(), headers=headers, timeout=10).status_code == 401
    good = post_signed(bot, body, "application/json")[0]
    assert good.status_code == 200  # the same body, correctly signed, is accepted: the 401s were the signature
    wait_done(bot.fake, "CBADSIG")
    assert len(in_channel(bot.fake, "reactions.add", "CBADSIG")) == 1


# ---- feedback, /ask, share -------------------------------------------------------------------------------------


def test_feedback_buttons_store_ratings_and_comment(bot: Bot) -> None:
    post = ask_in_dm(bot, "DFEEDBACK", SEED_QUESTION)
    buttons = buttons_of(post.params["blocks"])
    assert all(len(b["value"]) <= MAX_VALUE_CHARS for b in buttons.values())
    store = FeedbackStore(bot.settings.feedback_path)
    try:
        before = len(store.all())
        click(bot, buttons["feedback_up"], "DFEEDBACK", bot.fake.response_url("up"))
        rows = bot.fake.wait_for(lambda: store.all()[before:])
        assert [(r.channel, r.rating, r.user, r.question) for r in rows] == [("slack", 1, "U1", SEED_QUESTION)]
        assert SEED_QUOTE in rows[0].answer and SEED_QUOTE in json.loads(rows[0].citations)[0]["quote"]
        assert json.loads(rows[0].citations)[0]["date"] == SEED_DATE
        thanks = bot.fake.wait_for(lambda: [c for c in bot.fake.of("response_url") if c.path.endswith("/up")])
        assert thanks[0].params["response_type"] == "ephemeral"

        click(bot, buttons["feedback_down"], "DFEEDBACK", bot.fake.response_url("down"))
        view = bot.fake.wait_for(lambda: bot.fake.of("views.open"))[-1].params["view"]
        down = store.all()[-1]
        assert down.rating == -1 and view["private_metadata"] == str(down.id)
        submission = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": TEAM_ID},
                      "view": {**view, "id": "V0001", "state": {"values": {"comment": {"text": {
                          "type": "plain_text_input", "value": "Не та цитата"}}}}}}
        send_form(bot, {"payload": json.dumps(submission, ensure_ascii=False)})
        assert store.all()[-1].comment == "Не та цитата"
    finally:
        store.close()


def test_ask_command_is_ephemeral_and_can_be_shared(bot: Bot, assistant: Assistant,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    slow_answers(assistant, monkeypatch)
    sent = time.monotonic()
    acked = send_form(bot, {"command": "/ask", "text": SEED_QUESTION, "user_id": "U1", "user_name": "u1",
                            "channel_id": "CSHARE", "team_id": TEAM_ID, "trigger_id": "trigger-ask",
                            "response_url": bot.fake.response_url("ask"), "api_app_id": "A0001"})
    found = bot.fake.wait_for(lambda: [c for c in bot.fake.of("response_url") if c.path.endswith("/ask")])
    reply = found[0]
    assert acked - sent < 1.0 and acked < reply.at and reply.params["response_type"] == "ephemeral"
    assert any(SEED_QUOTE in t for t in texts_of(reply.params["blocks"]))
    buttons = buttons_of(reply.params["blocks"])
    assert buttons["share_answer"]["text"]["text"] == "Share in channel"
    assert not in_channel(bot.fake, "chat.postMessage", "CSHARE")

    click(bot, buttons["share_answer"], "CSHARE", bot.fake.response_url("share"), ephemeral=True)
    shared = bot.fake.wait_for(lambda: in_channel(bot.fake, "chat.postMessage", "CSHARE"))[0]
    texts = texts_of(shared.params["blocks"])
    assert "<@U1>" in texts[0] and SEED_QUESTION in texts[0]
    assert any(SEED_QUOTE in t and SEED_DATE in t for t in texts)
    assert set(buttons_of(shared.params["blocks"])) == {"feedback_up", "feedback_down", "follow_question"}
    deleted = bot.fake.wait_for(lambda: [c for c in bot.fake.of("response_url") if c.path.endswith("/share")])
    assert deleted[0].params.get("delete_original") is True

    bot.fake.failures["chat.postMessage"] = "not_in_channel"  # sharing where the bot is not a member
    try:
        click(bot, buttons["share_answer"], "CSHARE", bot.fake.response_url("share2"), ephemeral=True)
        told = bot.fake.wait_for(lambda: [c for c in bot.fake.of("response_url") if c.path.endswith("/share2")])
    finally:
        del bot.fake.failures["chat.postMessage"]
    assert "not_in_channel" in told[0].params["text"] and not told[0].params.get("delete_original")
    click(bot, buttons["follow_question"], "CSHARE", bot.fake.response_url("follow"), ephemeral=True)
    private = bot.fake.wait_for(lambda: [c for c in bot.fake.of("response_url") if c.path.endswith("/follow")])
    assert private[0].params["response_type"] == "ephemeral" and "Слежу" in private[0].params["text"]
    assert not [c for c in in_channel(bot.fake, "chat.postMessage", "CSHARE") if "Слежу" in c.params["text"]]


def test_follow_button_saves_a_watch_for_the_channel_and_confirms_in_the_thread(bot: Bot) -> None:
    from assistant.watches import make_watch_store

    channel, ts = "CFOLLOW", "1700000300.000100"
    send_event(bot, {"type": "app_mention", "channel": channel, "user": "U1", "ts": ts,
                     "text": f"<@{BOT_USER_ID}> {SEED_QUESTION}"})
    follow = buttons_of(wait_done(bot.fake, channel)[0].params["blocks"])["follow_question"]
    assert follow["text"]["text"] == "Следить" and follow["value"] == SEED_QUESTION
    dm_follow = buttons_of(ask_in_dm(bot, "DFOLLOW", "Who signed the documents during the visit?")
                           .params["blocks"])["follow_question"]
    assert dm_follow["text"]["text"] == "Follow"  # in the answer's language
    store = make_watch_store(bot.settings)
    try:
        for _ in range(2):  # a second click saves nothing new
            click(bot, follow, channel, bot.fake.response_url("follow"))
        def confirmed() -> list[Call]:
            posts = [c for c in in_channel(bot.fake, "chat.postMessage", channel) if "слеж" in c.params["text"].lower()]
            return posts if len(posts) == 2 else []

        confirmations = bot.fake.wait_for(confirmed)
        click(bot, dm_follow, "DFOLLOW", bot.fake.response_url("dm-follow"))
        from_dm = bot.fake.wait_for(lambda: [c for c in in_channel(bot.fake, "chat.postMessage", "DFOLLOW")
                                             if "Following" in c.params["text"]])
        watches = [w for w in store.all() if w.target in (channel, "U1")]  # the module's bot serves other tests
    finally:
        store.close()
    assert [(w.question, w.channel, w.target) for w in watches] == [
        (SEED_QUESTION, "slack", channel),  # notified in the channel
        ("Who signed the documents during the visit?", "slack", "U1")]  # from a DM: by DM
    first, second = (c.params for c in confirmations)
    here, dm = watches[0].id, watches[1].id
    assert first["thread_ts"] == "1.000001" and f"«{SEED_QUESTION}» (№{here})" in first["text"]  # the answer's thread
    assert "уже" in second["text"] and f"/ask watch stop {here}" in second["text"]
    assert f"(#{dm})" in from_dm[0].params["text"] and from_dm[0].params["thread_ts"] == "1.000001"


# ---- rendering (units) -----------------------------------------------------------------------------------------


def citation(n: int, quote: str, title: str = "Заголовок", url: str = "https://example.org/a?x=1&y=2") -> Citation:
    """A citation for rendering tests."""
    return Citation(f"doc{n}", title, "2025-10-27", "Day.Az", url, quote, 0, len(quote), 0.9, n)


def all_text(messages: list[list[dict[str, Any]]]) -> str:
    """Every text of every message, joined."""
    return "\n".join(t for blocks in messages for t in texts_of(blocks))


def test_long_answers_are_split_to_slack_limits() -> None:
    long_quote = "Очень длинная цитата & <b> со словами. " * 300  # ~12,000 chars, escapes included
    cits = [citation(n, long_quote if n % 3 == 0 else f"Цитата номер {n}.") for n in range(1, 41)]
    answer = Answer("Вопрос?", "Ответ. " * 2000, cits)
    messages = split_messages(answer_blocks(answer, feedback_buttons(pack_answer(answer))))
    assert len(messages) > 1
    for blocks in messages:
        assert 0 < len(blocks) <= MAX_BLOCKS
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
    assert messages[-1][-1]["type"] == "actions" and messages[-1][-2]["type"] == "context"
    flat = [b for blocks in messages for b in blocks]
    assert sum(b["type"] == "actions" for b in flat) == 1
    joined = re.sub(r"\s+", "", all_text(messages).replace(">", ""))
    assert re.sub(r"\s+", "", escape(long_quote)).replace(">", "") in joined  # nothing lost in the split
    assert all(f"*[{n}]*" in joined for n in range(1, 41))


@hsettings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab &<>\n", max_size=400), st.integers(min_value=8, max_value=60))
def test_split_text_keeps_limits_and_entities(raw: str, limit: int) -> None:
    escaped = escape(raw)
    pieces = split_text(escaped, limit)
    assert all(len(p) <= limit for p in pieces)
    for piece in pieces:
        assert not re.search(r"&(?!amp;|lt;|gt;)", piece), piece  # no entity cut in half
        assert "<" not in piece and ">" not in piece
    assert "".join(pieces).replace("\n", "").replace(" ", "") == escaped.replace("\n", "").replace(" ", "")


def test_quotes_titles_and_urls_are_escaped() -> None:
    evil = "Внимание <!channel> и <@U999>, жми <http://evil.example|x> & беги"
    cits = [citation(1, evil, title="A <!here> title", url="javascript:alert(1)"), citation(2, "ok", url="")]
    answer = Answer("q", f"Ответ: {evil}", cits)
    text = all_text([answer_blocks(answer)])
    for raw in ("<!channel>", "<@U999>", "<http://evil", "<!here>", "javascript:"):
        assert raw not in text
    assert "&lt;!channel&gt;" in text and "&lt;http://evil.example|x&gt; &amp; беги" in text
    assert "*[1]* A &lt;!here&gt; title — 2025-10-27" in text  # unsafe URL: a plain label, not a link
    linked = all_text([answer_blocks(Answer("q", "a", [citation(3, "q")]))])
    assert "<https://example.org/a?x=1&amp;y=2|Заголовок — 2025-10-27>" in linked
    sections = [b for b in answer_blocks(answer) if b["type"] == "section"]
    assert all(b["text"]["verbatim"] for b in sections)


def test_filters_line_describes_applied_filters() -> None:
    filters = Filters.from_dict({"date_from": "2025-10-01", "sources": ["Day.Az"]})
    answer = Answer("Что подписали?", "a", [], filters_applied=filters, search_query="подписание документов")
    context = answer_blocks(answer)[-1]["elements"][0]["text"]
    assert "2025-10-01" in context and "Day.Az" in context and "подписание документов" in context
    assert "нет" in answer_blocks(Answer("q", "a"))[-1]["elements"][0]["text"]


# ---- references, history, text (units) -------------------------------------------------------------------------


def test_packed_answer_fits_a_button_and_rederives_quotes(assistant: Assistant) -> None:
    answer = assistant.ask(SEED_QUESTION)
    value = pack_answer(answer)
    assert len(value) <= MAX_VALUE_CHARS
    again = unpack_answer(value, assistant)
    assert again.question == answer.question and again.text == answer.text
    assert [(c.doc_id, c.quote, c.date, c.title) for c in again.citations] == \
        [(c.doc_id, c.quote, c.date, c.title) for c in answer.citations]
    huge = Answer("в" * 5000, "\"ответ\"\n" * 2000, answer.citations)
    packed = pack_answer(huge)
    assert len(packed) <= MAX_VALUE_CHARS and len(unpack_answer(packed, assistant).citations) == len(answer.citations)


def test_thread_history_turns() -> None:
    messages = [
        {"user": "U1", "ts": "10.1", "text": f"<@{BOT_USER_ID}> Какие документы подписали?"},
        {"user": BOT_USER_ID, "bot_id": BOT_ID, "ts": "10.2", "text": "Подписаны ряд документов &amp; соглашений"},
        {"user": BOT_USER_ID, "bot_id": BOT_ID, "ts": "10.25", "text": "(…)"},
        {"bot_id": "BOTHER", "subtype": "bot_message", "ts": "10.3", "text": "чужой бот"},
        {"user": "U2", "subtype": "channel_join", "ts": "10.4", "text": "<@U2> has joined"},
        {"user": "U1", "ts": "10.6", "text": "А когда?"},
        {"user": "U1", "ts": "10.5", "text": "А где?"},
        {"user": "U1", "ts": "10.7", "text": "после текущего"},
    ]
    assert thread_history(messages, "10.6", BOT_USER_ID, BOT_ID) == [
        Turn("user", "Какие документы подписали?"),
        Turn("assistant", "Подписаны ряд документов & соглашений"),
        Turn("user", "А где?"),
    ]


def test_plain_text_from_slack_markup() -> None:
    assert plain_text("<@UBOT> что на <https://a.b/c|сайте> и <#C1|general> &lt;тег&gt; &amp; <!here>?") == \
        "что на сайте и #general <тег> & ?"


def test_mode_and_required_tokens(tmp_path: Path) -> None:
    http = make_settings(tmp_path, slack_bot_token="xoxb-1", slack_signing_secret="s", slack_app_token="")
    assert check_settings(http, None) == "http"
    socket = make_settings(tmp_path, slack_bot_token="xoxb-1", slack_app_token="xapp-1", slack_signing_secret="")
    assert check_settings(socket, None) == "socket"
    with pytest.raises(SystemExit, match="SLACK_SIGNING_SECRET"):
        check_settings(socket, "http")
    with pytest.raises(SystemExit, match="SLACK_BOT_TOKEN"):
        check_settings(make_settings(tmp_path, slack_bot_token="", slack_signing_secret="s"), "http")


def test_manifest_asks_for_what_the_bot_uses() -> None:
    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "slack" / "manifest.yml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "reactions:write", "channels:history", "groups:history",
            "im:history", "mpim:history"} <= scopes
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention", "message.channels", "message.groups", "message.im", "message.mpim"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/ask"]


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:port (fail early if the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listening on {port} after {timeout}s")


@pytest.mark.slow
def test_assistant_slack_command_serves_http_mode(tmp_path: Path) -> None:
    fake, fake_server = start_fake_slack()
    port = free_port()
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-cli", "SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": "",
           "ASSISTANT_SLACK_API_URL": fake.api_url, "ASSISTANT_CACHE_DIR": str(cache_dir()),
           "ASSISTANT_EMBEDDINGS": os.environ.get("ASSISTANT_EMBEDDINGS", "e5-small"), "ASSISTANT_HOST": "127.0.0.1"}
    cmd = [sys.executable, "-m", "assistant.cli", "slack", "--port", str(port), "--data-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_listening(port, proc)
        url = f"http://127.0.0.1:{port}/slack/events"
        body = json.dumps({"token": "legacy", "challenge": "c-123", "type": "url_verification"})
        ok = httpx.post(url, content=body, headers={**sign(SECRET, body), "Content-Type": "application/json"})
        assert ok.status_code == 200 and ok.json() == {"challenge": "c-123"}
        assert httpx.post(url, content=body, headers=sign("other", body)).status_code == 401
        assert fake.of("auth.test"), "the bot checks its token with Slack's Web API (here: the fake) on start"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        fake_server.shutdown()
        fake_server.server_close()
