"""``/news watch QUESTION`` in Slack: save a standing question whose new answers are posted where it was asked."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..watches import Watch, WatchStore

WATCH_RE = re.compile(r"^\s*(?:watch|follow|следить|слежу|подписаться)\b[:\s]*(.*)$", re.IGNORECASE | re.DOTALL)
STOP_RE = re.compile(r"^(?:stop|remove|стоп|удалить)\s+#?(\d+)$", re.IGNORECASE)


def target_of(command: dict[str, Any]) -> str:
    """Where notifications go: the channel the command was given in, or the user (a DM) from a DM or group DM."""
    channel = str(command.get("channel_id") or "")
    return channel if channel.startswith(("C", "G")) else str(command.get("user_id") or channel)


def follow(store: WatchStore, question: str, target: str) -> tuple[Watch, bool]:
    """The watch of this question for this channel or user, and whether it is new (a second click adds none)."""
    for watch in store.all():
        if watch.channel == "slack" and watch.target == target and watch.question == question.strip():
            return watch, False
    return store.add(question, "slack", target), True


def watch_command(store: WatchStore, command: dict[str, Any]) -> str | None:
    """The reply to ``/news watch …`` (``watch list``, ``watch stop N``), or None when the text is a question."""
    match = WATCH_RE.match(str(command.get("text") or ""))
    if not match:
        return None
    rest, target = match.group(1).strip(), target_of(command)
    mine = [w for w in store.all() if w.channel == "slack" and w.target == target]
    if not rest or rest.lower() in ("list", "список"):
        if not mine:
            return "Здесь нет вопросов, за которыми я слежу. Добавьте: `/news watch Что нового о …?`"
        return "\n".join(f"{w.id}. «{w.question}»{' (пауза)' if w.paused else ''}" for w in mine)
    if stop := STOP_RE.match(rest):
        watch_id = int(stop.group(1))
        if watch_id not in {w.id for w in mine}:
            return f"Вопроса №{watch_id} здесь нет: `/news watch list` покажет список."
        store.remove(watch_id)
        return f"Больше не слежу за вопросом №{watch_id}."
    watch = store.add(rest, "slack", target)
    return (f"Слежу за вопросом «{watch.question}» (№{watch.id}). Когда в новых статьях появится уверенный ответ, "
            f"пришлю его сюда с цитатами. Остановить: `/news watch stop {watch.id}`.")
