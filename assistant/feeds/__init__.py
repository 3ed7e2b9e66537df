"""Feeds stage: RSS, Atom, JSON Feed and XML sitemaps polled into the archive (``FeedPoller``)."""

from .parsing import FeedItem, ParsedFeed, parse_feed
from .store import Feed, FeedStore, SqliteFeedStore, make_feed_store

__all__ = ["Feed", "FeedItem", "FeedStore", "ParsedFeed", "SqliteFeedStore", "make_feed_store", "parse_feed"]
