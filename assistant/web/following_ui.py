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


TEXTS = {
    "ru": {
        "paused": " (пауза)", "no_hits": "Новых ответов пока нет", "answers": "новых ответов: {n}",
        "published": "опубликовано {date}", "undated": "без даты", "found": "найдено {when}",
        "no_feeds": "Лент нет: добавьте RSS, Atom, JSON Feed или sitemap.", "name": "Название",
        "every": "Интервал", "last_poll": "Последний опрос", "minutes": "{n} мин", "never": "ещё не опрашивалась",
        "failures": " (ошибок подряд: {n})", "feeds_title": "### Ленты (RSS, Atom, JSON Feed, sitemap)",
        "feed_url": "URL ленты", "feed_name": "Источник", "add": "Добавить", "feed": "Лента",
        "remove": "Удалить ленту", "poll": "Опросить сейчас", "ask_first": "Сначала задайте вопрос.",
        "following": "Слежу за вопросом «{q}» (№{id}): новые ответы появятся здесь.",
        "bad_url": "URL ленты должен начинаться с http:// или https://.", "added": "Лента {id} добавлена: {url}",
        "removed": "Лента удалена: {url}", "pick": "Выберите ленту.", "none": "Лент нет.",
    },
    "en": {
        "paused": " (paused)", "no_hits": "No new answers yet", "answers": "new answers: {n}",
        "published": "published {date}", "undated": "undated", "found": "found {when}",
        "no_feeds": "No feeds yet: add an RSS, Atom, JSON Feed or sitemap URL.", "name": "Name",
        "every": "Every", "last_poll": "Last poll", "minutes": "{n} min", "never": "not polled yet",
        "failures": " (failed {n}× in a row)", "feeds_title": "### Feeds (RSS, Atom, JSON Feed, sitemap)",
        "feed_url": "Feed URL", "feed_name": "Source name", "add": "Add", "feed": "Feed",
        "remove": "Remove feed", "poll": "Poll now", "ask_first": "Ask a question first.",
        "following": "Following “{q}” (#{id}): new answers will appear here.",
        "bad_url": "A feed URL starts with http:// or https://.", "added": "Feed {id} added: {url}",
        "removed": "Feed removed: {url}", "pick": "Pick a feed.", "none": "No feeds.",
    },
}


def ft(lang: str, key: str, **values: object) -> str:
    """A follow or feeds message in the interface's language (Russian unless English)."""
    text = TEXTS["en" if lang == "en" else "ru"][key]
    return text.format(**values) if values else text


def user_of(request: gr.Request | None) -> str:
    """The logged-in user (empty without a login)."""
    return (getattr(request, "username", None) or "") if request is not None else ""


def followed_html(following: Following, user: str, lang: str = "ru") -> str:
    """This user's followed questions, each with its new answers (newest first)."""
    watches = [w for w in following.watches.all() if w.channel == "web" and w.target == user]
    if not watches:
        return '<div class="na-followed-empty"></div>'  # nothing followed yet: the button above says what to do
    return "".join(watch_html(w, following.watches.hits(w.id), lang) for w in watches)


def watch_html(watch: Watch, hits: list[WatchHit], lang: str = "ru") -> str:
    """One followed question and its new answers."""
    state = ft(lang, "paused") if watch.paused else ""
    rows = "".join(hit_html(h, lang) for h in hits[:10]) or f'<div class="na-hit na-when">{ft(lang, "no_hits")}</div>'
    return (f'<div class="na-watch" data-watch="{watch.id}"><b>«{esc(watch.question)}»</b>{state} — '
            f"{ft(lang, 'answers', n=len(hits))}{rows}</div>")


def hit_html(hit: WatchHit, lang: str = "ru") -> str:
    """A new answer: each quote with its article's title, publication date, source and link."""
    parts = []
    for c in hit.answer.get("citations", []):
        url = safe_url(str(c.get("url") or ""))
        title = f'<a href="{esc(url)}" target="_blank" rel="noopener">{esc(c.get("title"))}</a>' if url \
            else esc(c.get("title"))
        published = ft(lang, "published", date=c.get("date") or ft(lang, "undated"))
        parts.append(f'<div class="na-hit">«{esc(c.get("quote"))}» — {title}, <span class="na-when">'
                     f'{esc(published)}, {esc(c.get("source") or "")}</span></div>')
    found = time.strftime("%Y-%m-%d %H:%M", time.localtime(hit.created_at))
    return f'<div class="na-hit-group"><span class="na-when">{esc(ft(lang, "found", when=found))}</span>{"".join(parts)}</div>'


def feeds_html(feeds: list[Feed], lang: str = "ru") -> str:
    """The followed feeds with their last poll's result or error."""
    if not feeds:
        return f"<div>{ft(lang, 'no_feeds')}</div>"
    rows = "".join(
        f"<tr><td>{f.id}</td><td>{esc(f.name or '—')}</td><td>{esc(f.url)}</td>"
        f"<td>{ft(lang, 'minutes', n=f.every_s // 60)}</td>"
        f"<td class=\"{'na-feed-error' if f.last_error else ''}\">{esc(f.last_result or ft(lang, 'never'))}"
        f"{ft(lang, 'failures', n=f.failures) if f.failures else ''}</td></tr>" for f in feeds)
    head = "".join(f"<th>{h}</th>" for h in ("#", ft(lang, "name"), "URL", ft(lang, "every"), ft(lang, "last_poll")))
    return f'<div class="na-table-wrap"><table class="na-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


class FollowBox:
    """Under the chat: the follow button and the followed questions' new answers."""

    def __init__(self) -> None:
        with gr.Accordion(t("ru", "followed"), open=True, elem_id="na-follow-box") as self.box:
            self.follow = gr.Button(t("ru", "follow"), elem_id="na-follow", size="sm")
            self.note = gr.Markdown(elem_id="na-follow-note")
            self.panel = gr.HTML(elem_id="na-followed")
            self.timer = gr.Timer(REFRESH_S)


class FeedsBox:
    """In the corpus tab: the feeds, and adding, removing and polling them (labelled in the interface's language)."""

    def __init__(self) -> None:
        self.title = gr.Markdown(ft("ru", "feeds_title"))
        self.table = gr.HTML(elem_id="na-feeds")
        with gr.Row(equal_height=True):
            self.url = gr.Textbox(label=ft("ru", "feed_url"), elem_id="na-feed-url", scale=4)
            self.name = gr.Textbox(label=ft("ru", "feed_name"), elem_id="na-feed-name", scale=2)
            self.every = gr.Textbox("15m", label=ft("ru", "every"), elem_id="na-feed-every", scale=1, min_width=80)
            self.add = gr.Button(ft("ru", "add"), elem_id="na-feed-add", scale=1)
        with gr.Row(equal_height=True):
            self.pick = gr.Dropdown(choices=[], value=None, label=ft("ru", "feed"), elem_id="na-feed-pick", scale=4)
            self.remove = gr.Button(ft("ru", "remove"), elem_id="na-feed-remove", scale=1)
            self.poll = gr.Button(ft("ru", "poll"), elem_id="na-feed-poll", scale=1)
        self.note = gr.Markdown(elem_id="na-feed-note")

    def relabelled(self) -> list[Any]:
        """The components a language switch relabels, in ``FollowHandlers.relabel`` order."""
        return [self.title, self.url, self.name, self.every, self.add, self.pick, self.remove, self.poll]


class FollowHandlers:
    """What the follow and feeds controls do; every message in the interface's language."""

    def __init__(self, service: WebService) -> None:
        self.service = service

    @property
    def following(self) -> Following:
        """The service's feeds and watches."""
        assert self.service.following is not None
        return self.service.following

    def follow(self, past: list[dict[str, Any]], lang: str, request: gr.Request) -> tuple[str, str]:
        """Follow the question of the last answer."""
        asked = [a for a in past if not a.get("error")]
        if not asked:
            return ft(lang, "ask_first"), gr.skip()
        question = str(asked[-1].get("question", ""))
        watch = self.following.watches.add(question, "web", user_of(request))
        return ft(lang, "following", q=esc(question), id=watch.id), followed_html(self.following, user_of(request), lang)

    def followed(self, lang: str, request: gr.Request) -> str:
        """The followed questions' panel."""
        return followed_html(self.following, user_of(request), lang)

    def feeds(self, lang: str) -> tuple[str, Any]:
        """The feeds table and the remove choices."""
        feeds = self.following.feeds.all()
        return feeds_html(feeds, lang), gr.update(choices=[(f"{f.id}: {f.name or f.url}", str(f.id)) for f in feeds])

    def add(self, url: str, name: str, every: str, lang: str) -> tuple[str, Any, str]:
        """Follow a feed."""
        from ..following import parse_every

        url = (url or "").strip()
        if not url.startswith(("http://", "https://")):
            return *self.feeds(lang), ft(lang, "bad_url")
        try:
            every_s = parse_every(every or self.service.settings.feed_every)
        except ValueError as exc:
            return *self.feeds(lang), esc(exc)
        feed = self.following.feeds.add(url, (name or "").strip(), every_s)
        return *self.feeds(lang), ft(lang, "added", id=feed.id, url=esc(feed.url))

    def remove(self, pick: str | None, lang: str) -> tuple[str, Any, str]:
        """Stop following a feed (its articles stay)."""
        feed = self.following.feeds.remove(pick) if pick else None
        note = ft(lang, "removed", url=esc(feed.url)) if feed else ft(lang, "pick")
        return *self.feeds(lang), note

    def poll(self, lang: str, request: gr.Request) -> tuple[str, Any, str, str]:
        """Poll every feed now; the followed questions' panel shows any new answer."""
        results = self.following.poller.poll_all()
        note = "; ".join(f"{r.name or r.url}: {r.summary()}" for r in results) or ft(lang, "none")
        return *self.feeds(lang), esc(note), followed_html(self.following, user_of(request), lang)

    def relabel(self, lang: str, request: gr.Request) -> tuple[Any, ...]:
        """The feeds section's labels and both panels in the chosen language (``FeedsBox.relabelled`` order)."""
        def label(key: str) -> Any:
            return gr.update(label=ft(lang, key))

        def value(key: str) -> Any:
            return gr.update(value=ft(lang, key))

        return (value("feeds_title"), label("feed_url"), label("feed_name"), label("every"), value("add"),
                label("feed"), value("remove"), value("poll"), *self.feeds(lang), self.followed(lang, request))


def wire_following(follow: FollowBox, feeds: FeedsBox, past: Any, lang: Any, service: WebService) -> None:
    """Connect the follow and feeds controls (nothing is shown when the service has no feeds and watches)."""
    if service.following is None:
        return
    h = FollowHandlers(service)
    private: dict[str, Any] = {"api_visibility": "private"}
    follow.follow.click(h.follow, [past, lang], [follow.note, follow.panel], **private)
    follow.timer.tick(h.followed, [lang], [follow.panel], **private)
    feeds.add.click(h.add, [feeds.url, feeds.name, feeds.every, lang], [feeds.table, feeds.pick, feeds.note],
                    **private)
    feeds.remove.click(h.remove, [feeds.pick, lang], [feeds.table, feeds.pick, feeds.note], **private)
    feeds.poll.click(h.poll, [lang], [feeds.table, feeds.pick, feeds.note, follow.panel], **private)
    lang.change(h.relabel, [lang], [*feeds.relabelled(), feeds.table, feeds.pick, follow.panel], **private)


def load_following(demo: gr.Blocks, follow: FollowBox, feeds: FeedsBox, lang: Any, service: WebService) -> None:
    """Fill the panels on page load (in the interface's language; a switch re-renders them)."""
    if service.following is None:
        return
    h = FollowHandlers(service)
    demo.load(h.followed, [lang], [follow.panel], api_visibility="private")
    demo.load(h.feeds, [lang], [feeds.table, feeds.pick], api_visibility="private")
