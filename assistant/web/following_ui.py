"""The web chat's parts for feeds and standing questions: "follow this question" under the chat with the new
answers followed questions have had, and the feeds section of the corpus tab (list, add, remove, poll now)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import gradio as gr

from .render import esc, safe_url, t

if TYPE_CHECKING:
    from ..feeds.store import Feed
    from ..following import Following
    from ..watches import Watch, WatchHit
    from .service import WebService

REFRESH_S = 5.0  # how often the list of new answers is refreshed while the page is open
FOLLOW_CSS = """
#na-followed .na-watch { margin: 0.4em 0; } #na-followed .na-hit { margin: 0.2em 0 0.2em 1em; }
#na-followed .na-when { color: var(--body-text-color-subdued); font-size: 0.9em; }
#na-feeds .na-feed-error { color: var(--error-text-color, #b91c1c); }
"""


def user_of(request: gr.Request | None) -> str:
    """The logged-in user (empty without a login)."""
    return (getattr(request, "username", None) or "") if request is not None else ""


def followed_html(following: Following, user: str) -> str:
    """This user's followed questions, each with its new answers (newest first)."""
    watches = [w for w in following.watches.all() if w.channel == "web" and w.target == user]
    if not watches:
        return '<div class="na-followed-empty"></div>'  # nothing followed yet: the button above says what to do
    return "".join(watch_html(w, following.watches.hits(w.id)) for w in watches)


def watch_html(watch: Watch, hits: list[WatchHit]) -> str:
    """One followed question and its new answers."""
    state = " (пауза)" if watch.paused else ""
    rows = "".join(hit_html(h) for h in hits[:10]) or '<div class="na-hit na-when">Новых ответов пока нет · no new answers yet</div>'
    return (f'<div class="na-watch" data-watch="{watch.id}"><b>«{esc(watch.question)}»</b>{state} — '
            f"новых ответов: {len(hits)}{rows}</div>")


def hit_html(hit: WatchHit) -> str:
    """A new answer: each quote with its article's title, publication date, source and link."""
    parts = []
    for c in hit.answer.get("citations", []):
        url = safe_url(str(c.get("url") or ""))
        title = f'<a href="{esc(url)}" target="_blank" rel="noopener">{esc(c.get("title"))}</a>' if url \
            else esc(c.get("title"))
        parts.append(f'<div class="na-hit">«{esc(c.get("quote"))}» — {title}, <span class="na-when">опубликовано '
                     f'{esc(c.get("date") or "без даты")}, {esc(c.get("source") or "")}</span></div>')
    found = time.strftime("%Y-%m-%d %H:%M", time.localtime(hit.created_at))
    return f'<div class="na-hit-group"><span class="na-when">найдено {esc(found)}</span>{"".join(parts)}</div>'


def feeds_html(feeds: list[Feed]) -> str:
    """The followed feeds with their last poll's result or error."""
    if not feeds:
        return "<div>Лент нет: добавьте RSS, Atom, JSON Feed или sitemap · No feeds yet.</div>"
    rows = "".join(
        f"<tr><td>{f.id}</td><td>{esc(f.name or '—')}</td><td>{esc(f.url)}</td><td>{f.every_s // 60} мин</td>"
        f"<td class=\"{'na-feed-error' if f.last_error else ''}\">{esc(f.last_result or 'ещё не опрашивалась')}"
        f"{f' (ошибок подряд: {f.failures})' if f.failures else ''}</td></tr>" for f in feeds)
    return ('<div class="na-table-wrap"><table class="na-table"><thead><tr><th>#</th><th>Название</th><th>URL</th>'
            f"<th>Интервал</th><th>Последний опрос · last poll</th></tr></thead><tbody>{rows}</tbody></table></div>")


class FollowBox:
    """Under the chat: the follow button and the followed questions' new answers."""

    def __init__(self) -> None:
        with gr.Accordion(t("ru", "followed"), open=True, elem_id="na-follow-box") as self.box:
            self.follow = gr.Button(t("ru", "follow"), elem_id="na-follow", size="sm")
            self.note = gr.Markdown(elem_id="na-follow-note")
            self.panel = gr.HTML(elem_id="na-followed")
            self.timer = gr.Timer(REFRESH_S)


class FeedsBox:
    """In the corpus tab: the feeds, and adding, removing and polling them."""

    def __init__(self) -> None:
        gr.Markdown("### Ленты · Feeds (RSS, Atom, JSON Feed, sitemap)")
        self.table = gr.HTML(elem_id="na-feeds")
        with gr.Row(equal_height=True):
            self.url = gr.Textbox(label="URL ленты · feed URL", elem_id="na-feed-url", scale=4)
            self.name = gr.Textbox(label="Источник · source name", elem_id="na-feed-name", scale=2)
            self.every = gr.Textbox("15m", label="Интервал · every", elem_id="na-feed-every", scale=1, min_width=80)
            self.add = gr.Button("Добавить · Add", elem_id="na-feed-add", scale=1)
        with gr.Row(equal_height=True):
            self.pick = gr.Dropdown(choices=[], value=None, label="Лента · feed", elem_id="na-feed-pick", scale=4)
            self.remove = gr.Button("Удалить ленту · Remove", elem_id="na-feed-remove", scale=1)
            self.poll = gr.Button("Опросить сейчас · Poll now", elem_id="na-feed-poll", scale=1)
        self.note = gr.Markdown(elem_id="na-feed-note")


class FollowHandlers:
    """What the follow and feeds controls do."""

    def __init__(self, service: WebService) -> None:
        self.service = service

    @property
    def following(self) -> Following:
        """The service's feeds and watches."""
        assert self.service.following is not None
        return self.service.following

    def follow(self, past: list[dict[str, Any]], request: gr.Request) -> tuple[str, str]:
        """Follow the question of the last answer."""
        asked = [a for a in past if not a.get("error")]
        if not asked:
            return "Сначала задайте вопрос · ask a question first.", gr.skip()
        question = str(asked[-1].get("question", ""))
        watch = self.following.watches.add(question, "web", user_of(request))
        return (f"Слежу за вопросом «{esc(question)}»: новые ответы появятся здесь · following (watch {watch.id}).",
                followed_html(self.following, user_of(request)))

    def followed(self, request: gr.Request) -> str:
        """The followed questions' panel."""
        return followed_html(self.following, user_of(request))

    def feeds(self) -> tuple[str, Any]:
        """The feeds table and the remove choices."""
        feeds = self.following.feeds.all()
        return feeds_html(feeds), gr.update(choices=[(f"{f.id}: {f.name or f.url}", str(f.id)) for f in feeds])

    def add(self, url: str, name: str, every: str) -> tuple[str, Any, str]:
        """Follow a feed."""
        from ..following import parse_every

        url = (url or "").strip()
        if not url.startswith(("http://", "https://")):
            return *self.feeds(), "URL должен начинаться с http:// или https:// · the URL must be http(s)."
        try:
            every_s = parse_every(every or self.service.settings.feed_every)
        except ValueError as exc:
            return *self.feeds(), esc(exc)
        feed = self.following.feeds.add(url, (name or "").strip(), every_s)
        return *self.feeds(), f"Лента {feed.id} добавлена · feed added: {esc(feed.url)}"

    def remove(self, pick: str | None) -> tuple[str, Any, str]:
        """Stop following a feed (its articles stay)."""
        feed = self.following.feeds.remove(pick) if pick else None
        note = f"Лента удалена · removed: {esc(feed.url)}" if feed else "Выберите ленту · pick a feed."
        return *self.feeds(), note

    def poll(self, request: gr.Request) -> tuple[str, Any, str, str]:
        """Poll every feed now; the followed questions' panel shows any new answer."""
        results = self.following.poller.poll_all()
        note = "; ".join(f"{r.name or r.url}: {r.summary()}" for r in results) or "Лент нет · no feeds."
        return *self.feeds(), esc(note), followed_html(self.following, user_of(request))


def wire_following(follow: FollowBox, feeds: FeedsBox, past: Any, service: WebService) -> None:
    """Connect the follow and feeds controls (nothing is shown when the service has no feeds and watches)."""
    if service.following is None:
        return
    h = FollowHandlers(service)
    private: dict[str, Any] = {"api_visibility": "private"}
    follow.follow.click(h.follow, [past], [follow.note, follow.panel], **private)
    follow.timer.tick(h.followed, None, [follow.panel], **private)
    feeds.add.click(h.add, [feeds.url, feeds.name, feeds.every], [feeds.table, feeds.pick, feeds.note], **private)
    feeds.remove.click(h.remove, [feeds.pick], [feeds.table, feeds.pick, feeds.note], **private)
    feeds.poll.click(h.poll, None, [feeds.table, feeds.pick, feeds.note, follow.panel], **private)


def load_following(demo: gr.Blocks, follow: FollowBox, feeds: FeedsBox, service: WebService) -> None:
    """Fill the panels on page load."""
    if service.following is None:
        return
    h = FollowHandlers(service)
    demo.load(h.followed, None, [follow.panel], api_visibility="private")
    demo.load(h.feeds, None, [feeds.table, feeds.pick], api_visibility="private")
