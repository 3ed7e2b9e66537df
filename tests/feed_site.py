"""A local news site on loopback for the feed tests: routes of feeds and pages, validators, failures on demand.

``Site.routes`` maps a path to a ``Page`` (status, body, content type, ETag); ``Site.requests`` records what came in.
``/huge`` streams bytes without a Content-Length until the client gives up; ``black_hole()`` is a socket that
accepts connections and never answers (a timeout that does not depend on how loaded the machine is).
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Page:
    """What the site answers on one path."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str = ""


@dataclass
class Site:
    """The routes and the requests seen."""

    routes: dict[str, Page] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        """The absolute URL of a path."""
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[dict[str, str]]:
        """The headers of each request to a path."""
        with self.lock:
            return [h for p, h in self.requests if p == path]


class SiteHandler(BaseHTTPRequestHandler):
    """Answers from ``site.routes``; ``/huge`` streams; an ETag sent back gets a 304."""

    site: Site

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        with self.site.lock:
            self.site.requests.append((self.path, dict(self.headers.items())))
        if self.path == "/huge":
            return self.stream_huge()
        page = self.site.routes.get(self.path)
        if page is None:
            return self.answer(Page(b"not found", "text/plain", 404))
        if page.etag and self.headers.get("If-None-Match") == page.etag:
            return self.answer(Page(b"", status=304, etag=page.etag))
        self.answer(page)

    def answer(self, page: Page) -> None:
        self.send_response(page.status)
        if page.etag:
            self.send_header("ETag", page.etag)
        if page.status != 304:
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
        self.end_headers()
        if page.status != 304:
            self.wfile.write(page.body)

    def stream_huge(self) -> None:
        """50 MB with no Content-Length: the client must stop reading at its cap."""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<!-- " + b"x" * (2**20 - 9) + b" -->"
        try:
            for _ in range(50):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def start_site() -> tuple[Site, ThreadingHTTPServer]:
    """Serve a ``Site`` on a free loopback port (stop with ``server.shutdown()``)."""
    site = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (SiteHandler,), {"site": site}))
    server.daemon_threads = True
    site.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return site, server


def black_hole() -> socket.socket:
    """A listening socket that never accepts: connections open (the kernel's backlog), no answer ever comes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


@dataclass(frozen=True)
class Story:
    """A real article (RIA Novosti, from the corus samples) as the site publishes it."""

    slug: str
    title: str
    html: str  # the article's body HTML, as in the corpus
    date: str  # ISO date given to it in the feeds

    def page(self) -> bytes:
        """The article's own page: a site header and footer around the body."""
        return (f"<!DOCTYPE html><html lang='ru'><head><meta charset='utf-8'><title>{escape(self.title)}</title>"
                f"<meta property='og:title' content='{escape(self.title)}'></head><body>"
                "<header><nav><a href='/'>Главная</a> <a href='/politics'>Политика</a></nav></header>"
                f"<article><h1>{escape(self.title)}</h1>{self.html}</article>"
                "<footer>© РИА Новости. Все права защищены.</footer></body></html>").encode()


def ria_stories(shared: Path) -> list[Story]:
    """The ten RIA articles of the corus samples (HTML bodies), dated over ten days of January 2010."""
    path = shared / "eval-data" / "corus-news-samples" / "ria.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [Story(f"ria-{i}", row["title"].strip().capitalize(), row["text"], f"2010-01-{20 + i:02d}")
            for i, row in enumerate(rows)]


def rfc822(day: str) -> str:
    """An RSS pubDate for an ISO date (noon UTC)."""
    return format_datetime(datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC))


def rss(site: Site, stories: list[Story], title: str = "РИА Новости", full_text: bool = False) -> bytes:
    """RSS 2.0 listing the stories (their pages linked; the full text in content:encoded when asked)."""
    items = "".join(
        f"<item><title>{escape(s.title)}</title><link>{site.url('/news/' + s.slug + '.html')}</link>"
        f"<guid>{site.url('/news/' + s.slug + '.html')}</guid><pubDate>{rfc822(s.date)}</pubDate>"
        f"<description>{escape(s.title)}</description>"
        + (f"<content:encoded><![CDATA[{s.html}]]></content:encoded>" if full_text else "") + "</item>"
        for s in stories)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>{escape(title)}</title>'
            f"<link>{site.url('/')}</link><description>Новости</description>{items}</channel></rss>").encode()


def atom(site: Site, stories: list[Story], title: str = "Лента Атом") -> bytes:
    """Atom 1.0 with each story's full text in <content type="html">."""
    entries = "".join(
        f"<entry><title>{escape(s.title)}</title><link href='{site.url('/a/' + s.slug)}'/>"
        f"<id>{site.url('/a/' + s.slug)}</id><updated>{s.date}T12:00:00Z</updated>"
        f"<content type='html'>{escape(s.html)}</content></entry>" for s in stories)
    return (f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<title>{escape(title)}</title><id>{site.url('/atom')}</id><updated>2010-02-01T00:00:00Z</updated>"
            f"{entries}</feed>").encode()


def news_sitemap(site: Site, stories: list[Story], publication: str = "Новости Сайтмап") -> bytes:
    """A Google News sitemap of the stories' pages."""
    urls = "".join(
        f"<url><loc>{site.url('/news/' + s.slug + '.html')}</loc><news:news><news:publication>"
        f"<news:name>{escape(publication)}</news:name><news:language>ru</news:language></news:publication>"
        f"<news:publication_date>{s.date}T12:00:00+03:00</news:publication_date>"
        f"<news:title>{escape(s.title)}</news:title></news:news></url>" for s in stories)
    return ("<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            f"xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{urls}</urlset>").encode()


def json_feed(site: Site, stories: list[Story], title: str = "JSON Лента") -> bytes:
    """A JSON Feed 1.1 with each story's HTML in content_html."""
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": title,
                       "items": [{"id": s.slug, "url": site.url("/j/" + s.slug), "title": s.title,
                                  "content_html": s.html, "date_published": f"{s.date}T09:00:00Z"}
                                 for s in stories]}, ensure_ascii=False).encode()
