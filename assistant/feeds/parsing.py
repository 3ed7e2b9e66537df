"""Feed documents into items: RSS 2.0 and Atom (feedparser), JSON Feed (json), XML sitemaps incl. Google News."""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..dates import parse_date

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


class FeedError(ValueError):
    """A document that is no feed we can read; the message names what was wrong."""


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed: its page's URL, and what the feed itself says of it."""

    url: str
    title: str = ""
    date: str | None = None  # ISO YYYY-MM-DD
    text: str = ""  # the full text when the feed carries it (else the page is fetched)
    source: str = ""


@dataclass
class ParsedFeed:
    """A feed's title, kind, items, and the sitemaps a sitemap index points to."""

    kind: str  # rss, atom, json, sitemap, sitemapindex
    title: str = ""
    items: list[FeedItem] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def parse_feed(body: bytes, url: str = "") -> ParsedFeed:
    """Parse a feed by its content; raises FeedError for anything malformed or unknown."""
    head = body[:2048].lstrip()
    if head.startswith((b"{", b"[")):
        return parse_json_feed(body, url)
    if b"<urlset" in body[:4096] or b"<sitemapindex" in body[:4096]:
        return parse_sitemap(body, url)
    return parse_xml_feed(body, url)


def parse_xml_feed(body: bytes, url: str) -> ParsedFeed:
    """RSS 0.9x/1.0/2.0 and Atom through feedparser (lenient; a feed with no readable entry is an error)."""
    import feedparser

    parsed = feedparser.parse(body)
    if not parsed.version and (parsed.bozo or not parsed.entries):
        reason = parsed.get("bozo_exception") or "no <rss>, <feed> or <urlset> element"
        raise FeedError(f"{url or 'the document'} is not a feed we can read ({reason}): check the URL "
                        "(RSS 2.0, Atom, JSON Feed or an XML sitemap)")
    title = html_text(parsed.feed.get("title", ""))
    items = [item for e in parsed.entries if (item := entry_item(e, title))]
    kind = "atom" if parsed.version.startswith("atom") else "rss"
    return ParsedFeed(kind, title, items)


def entry_item(entry: Any, source: str) -> FeedItem | None:
    """A feedparser entry as an item (None without a link)."""
    link = entry.get("link") or (entry.get("id") if str(entry.get("id", "")).startswith("http") else "")
    if not link:
        return None
    content = entry.get("content") or []
    text = html_text(content[0].get("value", "")) if content else ""
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    day = datetime.fromtimestamp(calendar.timegm(stamp), UTC).date().isoformat() if stamp else None
    return FeedItem(link.strip(), html_text(entry.get("title", "")), day, text, source)


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"{url or 'the document'} is not valid JSON ({exc}): a JSON Feed must be UTF-8 JSON") from None
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")) \
            or not isinstance(data.get("items"), list):
        raise FeedError(f"{url or 'the document'} is JSON but not a JSON Feed (needs version "
                        "https://jsonfeed.org/version/1.1 and an items list)")
    title = str(data.get("title", ""))
    items = []
    for entry in data["items"]:
        link = entry.get("url") or entry.get("external_url") if isinstance(entry, dict) else None
        if link:
            html = entry.get("content_html") or ""
            text = html_text(html) if html else str(entry.get("content_text") or "")
            items.append(FeedItem(str(link), str(entry.get("title", "")), iso_day(entry.get("date_published")),
                                  text, title))
    return ParsedFeed("json", title, items)


def parse_sitemap(body: bytes, url: str) -> ParsedFeed:
    """``<urlset>`` (with Google News ``<news:news>`` titles, dates and publication names) or ``<sitemapindex>``."""
    from lxml import etree

    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"{url or 'the sitemap'} is not well-formed XML ({exc})") from None
    if root.tag == f"{SITEMAP_NS}sitemapindex":
        locs = [node.findtext(f"{SITEMAP_NS}loc", "").strip() for node in root.iter(f"{SITEMAP_NS}sitemap")]
        return ParsedFeed("sitemapindex", sitemaps=[loc for loc in locs if loc])
    items = []
    for node in root.iter(f"{SITEMAP_NS}url"):
        loc = node.findtext(f"{SITEMAP_NS}loc", "").strip()
        if not loc:
            continue
        news = node.find(f"{NEWS_NS}news")
        title = news.findtext(f"{NEWS_NS}title", "") if news is not None else ""
        when = news.findtext(f"{NEWS_NS}publication_date", "") if news is not None else ""
        source = news.findtext(f"{NEWS_NS}publication/{NEWS_NS}name", "") if news is not None else ""
        items.append(FeedItem(loc, title.strip(), iso_day(when or node.findtext(f"{SITEMAP_NS}lastmod", "")),
                              "", source.strip()))
    return ParsedFeed("sitemap", "", items)


def iso_day(value: object) -> str | None:
    """An ISO date (YYYY-MM-DD) from an RFC 3339 / ISO 8601 stamp or a written date; None when absent."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).astimezone(UTC).date().isoformat() \
            if "T" in value else datetime.fromisoformat(value.strip()[:10]).date().isoformat()
    except ValueError:
        return parse_date(value)


def html_text(markup: str) -> str:
    """Plain text of an HTML fragment (paragraphs on their own lines)."""
    if "<" not in markup and "&" not in markup:
        return markup.strip()
    from bs4 import BeautifulSoup

    return BeautifulSoup(markup, "html.parser").get_text("\n", strip=True)
