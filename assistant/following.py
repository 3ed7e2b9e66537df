"""Feeds and standing questions over one assistant, built at the edge (serve, the CLI, the Slack bot)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .feeds.polling import FeedPoller, FeedScheduler
    from .feeds.store import FeedStore
    from .pipeline import Assistant
    from .settings import Settings
    from .watches import Notifier, WatchRunner, WatchStore

EVERY_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
UNIT_S = {"": 60, "s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_EVERY_S = 60


def parse_every(value: str) -> int:
    """Seconds from ``90s``, ``15m``, ``2h``, ``1d`` (a bare number is minutes); at least a minute."""
    match = EVERY_RE.match(value or "")
    if not match:
        raise ValueError(f"every: {value!r} is not an interval: write 15m, 2h, 1d or 90s")
    seconds = int(match.group(1)) * UNIT_S[match.group(2)]
    if seconds < MIN_EVERY_S:
        raise ValueError(f"every: {value!r} is under a minute: poll a feed at most once a minute")
    return seconds


@dataclass
class Following:
    """The feed store and poller, the watch store and runner (listening to the assistant's ingests)."""

    feeds: FeedStore
    poller: FeedPoller
    watches: WatchStore
    runner: WatchRunner
    scheduler: FeedScheduler | None = None

    def start_polling(self, tick: float = 30.0) -> None:
        """Poll due feeds in a background thread."""
        from .feeds.polling import FeedScheduler

        if self.scheduler is None:
            self.scheduler = FeedScheduler(self.poller, tick).start()

    def close(self) -> None:
        """Stop polling and close the stores."""
        if self.scheduler is not None:
            self.scheduler.stop()
        self.runner.detach()
        self.poller.fetcher.close()
        self.feeds.close()
        self.watches.close()


def open_following(assistant: Assistant, settings: Settings,
                   notifiers: dict[str, Notifier] | None = None) -> Following:
    """Feeds and watches for this assistant (Slack notifications when a bot token is set)."""
    from .feeds.fetching import Fetcher
    from .feeds.polling import FeedPoller
    from .feeds.store import make_feed_store
    from .watches import WatchRunner, make_watch_store

    fetcher = Fetcher(timeout=settings.feed_timeout, max_bytes=int(settings.feed_max_mb * 2**20),
                      host_delay=settings.feed_host_delay)
    feeds = make_feed_store(settings)
    watches = make_watch_store(settings)
    if notifiers is None:
        notifiers = default_notifiers(settings)
    runner = WatchRunner(assistant, watches, notifiers).attach()
    return Following(feeds, FeedPoller(assistant, feeds, fetcher), watches, runner)


def default_notifiers(settings: Settings) -> dict[str, Notifier]:
    """Slack when a bot token is configured; otherwise answers are only stored (web chat, ``watch list``)."""
    if not settings.slack_bot_token.get_secret_value():
        return {}
    from .slackbot.app import make_client
    from .watches import SlackNotifier

    return {"slack": SlackNotifier(make_client(settings))}
