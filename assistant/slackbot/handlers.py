"""What the bot does with mentions, DMs, thread follow-ups, /ask, feedback buttons and the comment modal."""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..types import Answer, Turn
from .blocks import (
    CONTINUED,
    FEEDBACK_UP,
    answer_blocks,
    escape,
    fallback_text,
    feedback_buttons,
    follow_button,
    section,
    share_button,
    split_messages,
)
from .intent import wants_answer
from .refs import pack_answer, unpack_answer
from .watching import follow, target_of, watch_command

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from ..backends import FeedbackLog as FeedbackStore
    from ..pipeline import Assistant
    from ..watches import WatchStore

Event = dict[str, Any]
WORKING_REACTION = "eyes"
MAX_HISTORY_TURNS = 12
DM_HISTORY_SECONDS = 3600.0  # a DM's top-level messages this recent are the conversation a follow-up continues
COMMENT_CALLBACK = "feedback_comment"
USER_SUBTYPES = (None, "thread_broadcast", "file_share")  # everything else (edits, joins, bots...) is ignored

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_SPECIAL = re.compile(r"<!([^>|]*)(?:\|([^>]*))?>")
_LINK = re.compile(r"<(#?)([^>|]+)(?:\|([^>]*))?>")
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)

MESSAGES = {
    "ru": {
        "help": "Задайте вопрос о новостях, например: «Какие документы были подписаны во время визита?»",
        "sorry": ":warning: Извините, не получилось ответить: что-то пошло не так. Попробуйте ещё раз чуть позже.",
        "thanks": "Спасибо за отзыв!",
        "share_failed": "Не получилось отправить ответ в канал ({}). Добавьте бота в канал: /invite @бот",
        "modal_title": "Спасибо за отзыв", "modal_submit": "Отправить", "modal_close": "Закрыть",
        "modal_label": "Что было не так? (необязательно)",
        "followed": "Слежу за вопросом «{q}» (№{id}). Когда в новых статьях появится уверенный ответ, пришлю его "
                    "сюда с цитатами. Остановить: `{cmd} watch stop {id}`.",
        "already": "Я уже слежу здесь за вопросом «{q}» (№{id}). Остановить: `{cmd} watch stop {id}`.",
    },
    "en": {
        "help": "Ask a question about the news, e.g. “Which documents were signed during the visit?”",
        "sorry": ":warning: Sorry, I could not answer: something went wrong. Please try again a bit later.",
        "thanks": "Thank you for the feedback!",
        "share_failed": "Could not post the answer to the channel ({}). Invite the bot: /invite @bot",
        "modal_title": "Thanks for the feedback", "modal_submit": "Send", "modal_close": "Close",
        "modal_label": "What was wrong? (optional)",
        "followed": "Following “{q}” (#{id}). When new articles answer it confidently, I will post the answer "
                    "here with its quotes. To stop: `{cmd} watch stop {id}`.",
        "already": "I already follow “{q}” here (#{id}). To stop: `{cmd} watch stop {id}`.",
    },
}


def lang_of(text: str) -> str:
    """UI language for a question: English when it has Latin letters and no Cyrillic, else Russian."""
    return "en" if _LATIN.search(text) and not _CYRILLIC.search(text) else "ru"


def say(lang: str, key: str) -> str:
    """A UI message in the language."""
    return MESSAGES["en" if lang == "en" else "ru"][key]


def plain_text(text: str) -> str:
    """Slack message text as the user meant it: mentions dropped, links to their labels, entities decoded."""
    text = _MENTION.sub(" ", text)
    text = _SPECIAL.sub(lambda m: m.group(2) or "", text)
    text = _LINK.sub(lambda m: m.group(1) + (m.group(3) or m.group(2)), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def is_own(msg: Event, bot_user_id: str | None, bot_id: str | None) -> bool:
    """Whether a message was posted by this bot."""
    return bool((bot_user_id and msg.get("user") == bot_user_id) or (bot_id and msg.get("bot_id") == bot_id))


def thread_history(messages: list[Event], current_ts: str, bot_user_id: str | None,
                   bot_id: str | None) -> list[Turn]:
    """Earlier turns of a thread: users' messages and this bot's answers (other bots and noise skipped)."""
    turns: list[Turn] = []
    for msg in sorted(messages, key=lambda m: float(m.get("ts", 0))):
        if float(msg.get("ts", 0)) >= float(current_ts):
            break
        own = is_own(msg, bot_user_id, bot_id)
        if own and msg.get("text") == CONTINUED:
            continue
        if not own and (msg.get("bot_id") or msg.get("subtype") not in USER_SUBTYPES):
            continue
        content = plain_text(msg.get("text", ""))
        if content:
            turns.append(Turn("assistant" if own else "user", content))
    return turns[-MAX_HISTORY_TURNS:]


class SeenKeys:
    """A bounded, thread-safe set of handled keys (event ids, message timestamps) for answering once."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def first_time(self, key: str) -> bool:
        """Record the key; True only the first time it is seen."""
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self._capacity:
                self._keys.popitem(last=False)
            return True


class SlackBot:
    """The bot's behaviour; bolt listeners call these methods (see ``app.register``)."""

    def __init__(self, assistant: Assistant, feedback: FeedbackStore, logger: logging.Logger | None = None,
                 command: str = "/ask", watches: WatchStore | None = None) -> None:
        self.assistant = assistant
        self.watches = watches  # standing questions (``/news watch …``); None: the command only answers
        self.feedback = feedback
        self.command = command  # the slash command's name (settings.slack_command)
        self.seen = SeenKeys()
        self.log = logger or logging.getLogger("assistant.slackbot")

    # ---- messages ------------------------------------------------------------------------------------------

    def on_mention(self, event: Event, client: WebClient, context: Any) -> None:
        """An @mention in a channel: answer in its thread (with the thread as history)."""
        if event.get("bot_id") or event.get("subtype") not in USER_SUBTYPES:
            return
        self.answer(client, event, context)

    def on_message(self, event: Event, client: WebClient, context: Any) -> None:
        """A message: DMs that ask something; in channels, questions in threads the bot has answered in."""
        if event.get("bot_id") or event.get("subtype") not in USER_SUBTYPES or not event.get("user"):
            return
        if is_own(event, context.bot_user_id, context.bot_id):
            return
        text = event.get("text", "")
        if event.get("channel_type") == "im":
            if wants_answer(text, context.bot_user_id, direct=True):
                self.answer(client, event, context)
            return
        thread_ts = event.get("thread_ts")
        mentioned = context.bot_user_id and f"<@{context.bot_user_id}" in text
        if not thread_ts or thread_ts == event.get("ts") or mentioned:
            return  # a new top-level message, or a mention (app_mention answers those)
        if not wants_answer(text, context.bot_user_id, direct=False):
            return  # «спасибо», «ок», a message to someone else: stay quiet
        try:
            messages = self.replies(client, event["channel"], thread_ts)
        except Exception:
            self.log.exception("could not read thread %s in %s", thread_ts, event.get("channel"))
            return
        if any(is_own(m, context.bot_user_id, context.bot_id) for m in messages):
            self.answer(client, event, context, messages)

    def replies(self, client: WebClient, channel: str, thread_ts: str) -> list[Event]:
        """The messages of a thread (conversations.replies, first page of up to 200)."""
        response = client.conversations_replies(channel=channel, ts=thread_ts, limit=200)
        return list(response.get("messages") or [])

    def dm_history(self, client: WebClient, channel: str, ts: str) -> list[Event]:
        """A DM's recent top-level messages before ``ts`` (conversations.history, the last hour, up to 20)."""
        oldest = f"{float(ts) - DM_HISTORY_SECONDS:.6f}"
        response = client.conversations_history(channel=channel, latest=ts, oldest=oldest, limit=20, inclusive=False)
        return list(response.get("messages") or [])

    def history_for(self, client: WebClient, event: Event, context: Any, messages: list[Event] | None) -> list[Turn]:
        """The conversation a message continues: its thread, or a DM's recent top-level messages."""
        channel, ts = event["channel"], event["ts"]
        if event.get("thread_ts"):
            thread = messages if messages is not None else self.replies(client, channel, event["thread_ts"])
        elif event.get("channel_type") == "im":
            try:
                thread = self.dm_history(client, channel, ts)
            except Exception as err:  # e.g. a missing im:history scope: answer without the history
                self.log.warning("could not read the DM history of %s: %s", channel, err)
                return []
        else:
            return []
        return thread_history(thread, ts, context.bot_user_id, context.bot_id)

    def answer(self, client: WebClient, event: Event, context: Any, messages: list[Event] | None = None) -> None:
        """Answer a message in its thread, with the eyes reaction while working and an apology on errors."""
        channel, ts = event["channel"], event["ts"]
        if not self.seen.first_time(f"msg:{channel}:{ts}"):
            return
        top_level_dm = event.get("channel_type") == "im" and not event.get("thread_ts")
        thread_ts = None if top_level_dm else event.get("thread_ts") or ts  # DMs are answered at the top level
        question = plain_text(event.get("text", ""))
        lang = lang_of(question)
        self.react(client.reactions_add, channel, ts)
        try:
            if not question:
                self.post_text(client, channel, thread_ts, say(lang, "help"))
                return
            history = self.history_for(client, event, context, messages)
            self.post_answer(client, channel, thread_ts, self.assistant.ask(question, history))
        except Exception:
            self.log.exception("failed to answer message %s in %s", ts, channel)
            self.apologize(client, channel, thread_ts, lang)
        finally:
            self.react(client.reactions_remove, channel, ts)

    def react(self, method: Callable[..., Any], channel: str, ts: str) -> None:
        """Add or remove the working reaction; a failure here is logged, never fatal."""
        try:
            method(channel=channel, timestamp=ts, name=WORKING_REACTION)
        except Exception as err:
            self.log.warning("reaction %s failed on %s/%s: %s", WORKING_REACTION, channel, ts, err)

    def post_text(self, client: WebClient, channel: str, thread_ts: str | None, text: str) -> None:
        """A short plain message."""
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=[section(escape(text))])

    def apologize(self, client: WebClient, channel: str, thread_ts: str | None, lang: str) -> None:
        """The short apology that replaces silence when something failed."""
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=say(lang, "sorry"))
        except Exception:
            self.log.exception("could not even apologize in %s", channel)

    def post_answer(self, client: WebClient, channel: str, thread_ts: str | None, answer: Answer,
                    asker: str = "") -> None:
        """Post an answer with feedback (and follow) buttons, split over several messages when it is long."""
        blocks = answer_blocks(answer, [*feedback_buttons(pack_answer(answer)), *self.follow_buttons(answer)], asker)
        for i, part in enumerate(split_messages(blocks)):
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, blocks=part,
                                    text=fallback_text(answer) if i == 0 else CONTINUED,
                                    unfurl_links=False, unfurl_media=False)

    # ---- /ask ----------------------------------------------------------------------------------------------

    def on_command(self, command: Event, respond: Callable[..., Any]) -> None:
        """``/ask question``: an ephemeral answer with «Share in channel» and feedback buttons."""
        if self.watches is not None and (reply := watch_command(self.watches, command)):
            respond(response_type="ephemeral", text=reply)
            return
        question = plain_text(command.get("text", ""))
        lang = lang_of(question)
        if not question:
            respond(response_type="ephemeral", text=say(lang, "help"))
            return
        try:
            answer = self.assistant.ask(question)
            value = pack_answer(answer)
            blocks = answer_blocks(answer, [share_button(value), *feedback_buttons(value), *self.follow_buttons(answer)])
            for i, part in enumerate(split_messages(blocks)):
                respond(response_type="ephemeral", replace_original=False, blocks=part,
                        text=fallback_text(answer) if i == 0 else CONTINUED)
        except Exception:
            self.log.exception("failed to answer /ask from %s", command.get("user_id"))
            respond(response_type="ephemeral", replace_original=False, text=say(lang, "sorry"))

    def on_share(self, body: Event, action: Event, client: WebClient, respond: Callable[..., Any]) -> None:
        """«Share in channel»: post the ephemeral answer to the channel, then remove the ephemeral copy."""
        channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
        answer = Answer(question="", text="")
        try:
            answer = unpack_answer(action["value"], self.assistant)
            self.post_answer(client, channel, None, answer, asker=body["user"]["id"])
        except Exception as err:
            from slack_sdk.errors import SlackApiError

            self.log.warning("could not share an answer in %s: %s", channel, err)
            error = str(err.response.get("error")) if isinstance(err, SlackApiError) else type(err).__name__
            respond(response_type="ephemeral", replace_original=False,
                    text=say(answer.lang, "share_failed").format(error))
            return
        respond(delete_original=True)

    # ---- following a question ------------------------------------------------------------------------------

    def follow_buttons(self, answer: Answer) -> list[Event]:
        """The «Следить» / "Follow" button when standing questions are kept (none for an empty question)."""
        return [follow_button(answer)] if self.watches is not None and answer.question.strip() else []

    def on_follow(self, body: Event, action: Event, client: WebClient, respond: Callable[..., Any]) -> None:
        """«Следить»: save the answer's question as a watch for this channel (or the user, from a DM), and
        confirm in the answer's thread (an ephemeral answer is confirmed privately)."""
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
        question = str(action.get("value") or "")
        lang = lang_of(question)
        try:
            if self.watches is None:
                raise RuntimeError("standing questions are not kept by this bot (no watch store)")
            watch, new = follow(self.watches, question, target_of({"channel_id": channel,
                                                                   "user_id": body["user"]["id"]}))
            reply = say(lang, "followed" if new else "already").format(q=watch.question, id=watch.id,
                                                                       cmd=self.command)
            message = body.get("message") or {}
            thread_ts = (container.get("thread_ts") or message.get("thread_ts") or container.get("message_ts")
                         or message.get("ts"))
            if container.get("is_ephemeral") or not thread_ts:
                respond(response_type="ephemeral", replace_original=False, text=reply)
            else:
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=reply)
        except Exception:
            self.log.exception("could not follow a question for %s in %s", body.get("user", {}).get("id"), channel)
            respond(response_type="ephemeral", replace_original=False, text=say(lang, "sorry"))

    # ---- feedback ------------------------------------------------------------------------------------------

    def on_feedback(self, body: Event, action: Event, client: WebClient, respond: Callable[..., Any]) -> None:
        """👍 / 👎: store the rating (channel "slack"); 👎 also opens a modal for an optional comment."""
        try:
            answer = unpack_answer(action["value"], self.assistant)
            rating = 1 if action["action_id"] == FEEDBACK_UP else -1
            feedback_id = self.feedback.add(channel="slack", rating=rating, answer=answer, user=body["user"]["id"])
            self.log.info("feedback %s stored: rating %+d from %s", feedback_id, rating, body["user"]["id"])
        except Exception:
            self.log.exception("could not store feedback from %s", body.get("user", {}).get("id"))
            respond(response_type="ephemeral", replace_original=False, text=say("ru", "sorry"))
            return
        if rating < 0 and body.get("trigger_id"):
            client.views_open(trigger_id=body["trigger_id"], view=self.comment_view(feedback_id, answer.lang))
        else:
            respond(response_type="ephemeral", replace_original=False, text=say(answer.lang, "thanks"))

    def comment_view(self, feedback_id: int, lang: str) -> Event:
        """The modal asking what was wrong with an answer."""
        def plain(key: str) -> Event:
            return {"type": "plain_text", "text": say(lang, key)[:24]}  # Slack's limit for these three

        return {
            "type": "modal", "callback_id": COMMENT_CALLBACK, "private_metadata": str(feedback_id),
            "title": plain("modal_title"), "submit": plain("modal_submit"), "close": plain("modal_close"),
            "blocks": [{"type": "input", "block_id": "comment", "optional": True,
                        "label": {"type": "plain_text", "text": say(lang, "modal_label")},
                        "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                                    "max_length": 2000}}],
        }

    def on_comment(self, view: Event) -> None:
        """The comment modal was submitted: attach the comment to the stored rating."""
        value = (((view.get("state") or {}).get("values") or {}).get("comment") or {}).get("text") or {}
        comment = (value.get("value") or "").strip()
        if comment:
            self.feedback.set_comment(int(view["private_metadata"]), comment)
