"""Whether a message asks the bot something: rules for when the bot stays quiet in threads and DMs."""

from __future__ import annotations

import re
from typing import Literal

Intent = Literal["mention", "question", "request", "thanks", "other_person", "statement"]

_USER_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_WORD = re.compile(r"[\w-]+", re.UNICODE)


def _wordset(text: str) -> frozenset[str]:
    """The whitespace-separated words of a text."""
    return frozenset(text.split())


# Acknowledgements, thanks and reactions: the whole message is made of these (and emoji/punctuation).
_ACK_WORDS = _wordset("""
спасибо спс спасиб благодарю пасиб мерси ок окей оки ок-ок ага угу ясно понятно понял поняла понял-принял принято
хорошо отлично супер класс круто здорово прекрасно замечательно норм нормально годится договорились да нет неа
ну большое огромное всё все тебе вам бот ботик ещё раз
thanks thank you thx ty ok okay k cool great nice perfect got it awesome yes no yep nope sure fine alright
much a lot so bot again
""")
_QUESTION_WORDS = _wordset("""
что чего чем чём кто кого кому кем когда где куда откуда почему зачем как какой какая какое какие каких каким
какого какую сколько чей чья чьё чьи ли разве неужели отчего насколько каков какова
what who whom whose when where why how which whether is are was were do does did can could will would should
""")
# Imperatives and request words that ask the bot for something even without a question mark.
_REQUEST_STEMS = ("расскаж", "покаж", "найд", "найт", "объясн", "дай", "дайте", "напиш", "уточн", "перечисл",
                  "процитир", "привед", "подскаж", "опиш", "сравн", "поищ", "выясн", "проверь", "повтор",
                  "подробн", "поясн", "ответь", "скажи", "скажите", "хочу узнать", "интересует", "нужн",
                  "tell", "show", "find", "explain", "give", "list", "quote", "describe", "compare", "search",
                  "summar", "more detail", "look up", "check", "what about", "please")


def mentioned_users(text: str) -> list[str]:
    """User ids mentioned in Slack markup (``<@U123>`` or ``<@U123|name>``)."""
    return _USER_MENTION.findall(text)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(_USER_MENTION.sub(" ", text))]


def is_acknowledgement(text: str) -> bool:
    """Thanks, «ок», a reaction or emoji only: nothing to answer (a question mark makes it a question)."""
    if "?" in text:
        return False
    words = _words(re.sub(r":[a-z0-9_+-]+:", " ", text))  # :+1: style emoji codes
    return all(w in _ACK_WORDS or w.isdigit() for w in words)


def classify(text: str, bot_user_id: str | None) -> Intent:
    """What a message (raw Slack markup) is, from the bot's point of view."""
    users = mentioned_users(text)
    if bot_user_id and bot_user_id in users:
        return "mention"
    if users:
        return "other_person"  # addressed to someone else
    if is_acknowledgement(text):
        return "thanks"
    if "?" in text:
        return "question"
    words = _words(text)
    if words and words[0] in ("а", "and", "and?") and len(words) <= 6:
        return "question"  # «А в 2016» — an elliptic follow-up
    if any(w in _QUESTION_WORDS for w in words[:3]):
        return "question"
    lowered = " ".join(words)
    if any(re.search(rf"(?<!\w){re.escape(stem)}", lowered) for stem in _REQUEST_STEMS):
        return "request"
    return "statement"


def wants_answer(text: str, bot_user_id: str | None, direct: bool) -> bool:
    """In a thread: only questions, requests and mentions of the bot; in a DM: anything but thanks and the like."""
    intent = classify(text, bot_user_id)
    if direct:
        return intent != "thanks"
    return intent in ("mention", "question", "request")
