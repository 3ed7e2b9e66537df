"""When the Slack bot stays quiet (thanks, «ок», messages to others), DM follow-ups, the configurable command."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from assistant.pipeline import Assistant
from assistant.slackbot import build_bolt_app
from assistant.slackbot.app import make_http_server
from assistant.slackbot.intent import classify, wants_answer
from assistant.slackbot.manifest import render_manifest
from assistant.types import Turn

from ..conftest import SEED_QUESTION, SEED_QUOTE, free_port, make_settings
from ..slack_fake import BOT_ID, BOT_USER_ID, TEAM_ID, start_fake_slack
from .test_slack import SECRET, Bot, bot, in_channel, post_signed, send_event, send_form, texts_of, wait_done

__all__ = ["bot"]  # the module-scoped fixture, shared with test_slack


@pytest.mark.parametrize(("text", "intent"), [
    ("Спасибо!", "thanks"), ("ок", "thanks"), ("Ок, понятно 👍", "thanks"), ("спасибо большое :+1:", "thanks"),
    ("thanks a lot", "thanks"), ("+1", "thanks"), ("", "thanks"),
    ("<@U2> глянь, тут про визит", "other_person"), ("<@U2|anna> согласна?", "other_person"),
    (f"<@{BOT_USER_ID}> а что ещё?", "mention"),
    ("А когда это было?", "question"), ("когда это было", "question"), ("А в 2016", "question"),
    ("What was signed", "question"), ("Расскажи подробнее про соглашения", "request"),
    ("покажи источник", "request"), ("Tell me more", "request"),
    ("Интересная история, я читал её вчера утром в газете", "statement"),
])
def test_classify(text: str, intent: str) -> None:
    assert classify(text, BOT_USER_ID) == intent


def test_wants_answer_in_threads_and_dms() -> None:
    assert not wants_answer("спасибо", BOT_USER_ID, direct=False)
    assert not wants_answer("спасибо", BOT_USER_ID, direct=True)
    assert not wants_answer("Интересно, я не знал", BOT_USER_ID, direct=False)  # a remark in a thread
    assert wants_answer("визит Алиева документы", BOT_USER_ID, direct=True)  # a DM is addressed to the bot
    assert wants_answer("Что подписали <@U2>?", BOT_USER_ID, direct=True)
    assert not wants_answer("<@U2> а ты что думаешь?", BOT_USER_ID, direct=False)
    assert wants_answer("А когда это было?", BOT_USER_ID, direct=False)


def thread_with_answer(bot: Bot, channel: str, root: str) -> None:
    """Script a thread in which the bot has answered the seed question."""
    bot.fake.replies[(channel, root)] = [
        {"type": "message", "user": "U1", "ts": root, "text": f"<@{BOT_USER_ID}> {SEED_QUESTION}"},
        {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": f"{root[:-1]}2",
         "text": f"Вот что говорится в источниках: «{SEED_QUOTE}»", "thread_ts": root},
    ]


def test_thanks_ok_and_messages_to_others_get_no_answer(bot: Bot) -> None:
    channel, root = "CQUIET", "1700001000.000100"
    thread_with_answer(bot, channel, root)
    for i, text in enumerate(["Спасибо!", "ок", "<@U2> посмотри, это про наш визит", "Интересно, не знал"]):
        send_event(bot, {"type": "message", "channel_type": "channel", "channel": channel, "user": "U1",
                         "text": text, "ts": f"1700001000.0002{i:02d}", "thread_ts": root})
    time.sleep(1.5)
    assert not in_channel(bot.fake, "chat.postMessage", channel)
    assert not in_channel(bot.fake, "reactions.add", channel)
    # a real follow-up in the same thread is answered, with the thread as history
    send_event(bot, {"type": "message", "channel_type": "channel", "channel": channel, "user": "U1",
                     "text": "А когда это было?", "ts": "1700001000.000300", "thread_ts": root})
    posts = wait_done(bot.fake, channel)
    assert len(posts) == 1 and posts[0].params["thread_ts"] == root
    assert "2025-10-27" in "\n".join(texts_of(posts[0].params["blocks"]))


def test_dm_top_level_follow_up_uses_dm_history(bot: Bot, assistant: Assistant) -> None:
    channel, follow_up = "DFOLLOW", "А когда это было?"
    answer_text = f"Вот что говорится в источниках: «{SEED_QUOTE}»"
    bot.fake.history[channel] = [
        {"type": "message", "user": "U1", "ts": "1700002000.000100", "text": "визит Путина в Индию"},  # stale
        {"type": "message", "user": "U1", "ts": "1700009000.000100", "text": SEED_QUESTION},
        {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": "1700009000.000200", "text": answer_text},
    ]
    send_event(bot, {"type": "message", "channel_type": "im", "channel": channel, "user": "U1",
                     "text": follow_up, "ts": "1700009100.000100"})
    posts = wait_done(bot.fake, channel)
    assert len(posts) == 1 and not posts[0].params.get("thread_ts"), "DMs are answered at the top level"
    (call,) = in_channel(bot.fake, "conversations.history", channel)
    assert call.params["latest"] == "1700009100.000100"
    expected = assistant.ask(follow_up, [Turn("user", SEED_QUESTION), Turn("assistant", answer_text)])
    assert expected.search_query != follow_up and "Индию" not in expected.search_query
    texts = texts_of(posts[0].params["blocks"])
    assert expected.search_query.replace("«", "") in texts[-1].replace("«", "")
    assert any("Визит Ильхама Алиева в Казахстан" in t for t in texts), "answered from the story asked about"


def test_dm_thanks_gets_no_answer(bot: Bot) -> None:
    send_event(bot, {"type": "message", "channel_type": "im", "channel": "DTHANKS", "user": "U1",
                     "text": "Спасибо, ок!", "ts": "1700003000.000100"})
    time.sleep(1.0)
    assert not [c for c in bot.fake.calls if c.params.get("channel") == "DTHANKS"]


def test_slash_command_name_is_configurable(assistant: Assistant, tmp_path: Path) -> None:
    fake, fake_server = start_fake_slack()
    settings = make_settings(tmp_path, slack_bot_token="xoxb-test", slack_signing_secret=SECRET,
                             slack_api_url=fake.api_url, slack_command="/news")
    server = make_http_server(build_bolt_app(assistant, settings), "127.0.0.1", free_port())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    other = Bot(f"http://127.0.0.1:{server.server_address[1]}/slack/events", fake, settings)
    try:
        fields = {"text": SEED_QUESTION, "user_id": "U1", "channel_id": "CCMD", "team_id": TEAM_ID,
                  "trigger_id": "t", "api_app_id": "A0001"}
        unknown = urlencode({**fields, "command": "/ask", "response_url": fake.response_url("ask")})
        assert post_signed(other, unknown, "application/x-www-form-urlencoded")[0].status_code == 404
        # each invocation has its own trigger id (replays of one are answered once: slackbot/dedupe.py)
        send_form(other, {**fields, "command": "/news", "trigger_id": "t2", "response_url": fake.response_url("news")})
        found = fake.wait_for(lambda: fake.of("response_url"))
        time.sleep(0.5)
        assert [c.path for c in fake.of("response_url")] == ["/response/news"] == [c.path for c in found]
    finally:
        server.shutdown()
        server.server_close()
        fake_server.shutdown()
        fake_server.server_close()
    manifest = render_manifest("/news")
    assert "- command: /news" in manifest and "- command: /ask" not in manifest


def test_syndicated_story_lists_its_other_sources() -> None:
    from assistant.slackbot.blocks import answer_blocks
    from assistant.types import Answer, Citation, SourceRef

    also = (SourceRef("bbc", "Снег <b>", "2024-11-26", "Би-би-си", "https://bbc.example/a"),
            SourceRef("tass", "Снегопад", None, "ТАСС"))
    cit = Citation("ria", "Снегопад", "2024-11-26", "РИА Новости", "", "выпало сорок сантиметров", 0, 24, 0.9, 1, also)
    blocks = answer_blocks(Answer("Сколько снега?", "Вот что говорится в источниках:", [cit]))
    line = [b for b in blocks if b.get("block_id") == "cit-1-also"][0]["elements"][0]["text"]
    assert line == ("Эта же история: <https://bbc.example/a|Снег &lt;b&gt; — 2024-11-26> · _Би-би-си_; "
                    "Снегопад · _ТАСС_")
