"""Polite HTTP for feeds: conditional requests, a per-host delay, a timeout, a size cap and robots.txt."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

if TYPE_CHECKING:
    import httpx

USER_AGENT = "news-assistant-feeds/0.1 (+https://github.com/; polite: robots.txt, conditional requests)"


class FetchError(Exception):
    """A request that failed; the message says why (and ``gone`` is set for 404/410)."""

    def __init__(self, message: str, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


@dataclass(frozen=True)
class Fetched:
    """A response: 304 (``not_modified``) or a body with its validators."""

    url: str
    status: int
    body: bytes = b""
    etag: str = ""
    last_modified: str = ""
    content_type: str = ""

    @property
    def not_modified(self) -> bool:
        """The server said nothing changed since the validators we sent."""
        return self.status == 304


class Fetcher:
    """One HTTP client for all feeds and pages, with per-host politeness."""

    def __init__(self, timeout: float = 20.0, max_bytes: int = 20 * 2**20, host_delay: float = 1.0,
                 user_agent: str = USER_AGENT, respect_robots: bool = True) -> None:
        import httpx

        self.max_bytes = max_bytes
        self.host_delay = host_delay
        self.user_agent = user_agent
        self.respect_robots = respect_robots
        self.client = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True,
                                   headers={"User-Agent": user_agent})
        self._last: dict[str, float] = {}
        self._robots: dict[str, RobotFileParser] = {}
        self._lock = threading.Lock()

    def get(self, url: str, etag: str = "", last_modified: str = "") -> Fetched:
        """GET with If-None-Match/If-Modified-Since; raises FetchError (robots, HTTP error, timeout, over the cap)."""
        if self.respect_robots and not self.allowed(url):
            raise FetchError(f"robots.txt of {host_of(url)} disallows {url}")
        headers = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        return self._request(url, headers)

    def _request(self, url: str, headers: dict[str, str]) -> Fetched:
        import httpx

        self._wait_turn(host_of(url))
        try:
            with self.client.stream("GET", url, headers=headers) as resp:
                if resp.status_code == 304:
                    return Fetched(url, 304)
                if resp.status_code >= 400:
                    raise FetchError(f"HTTP {resp.status_code} from {url}", gone=resp.status_code in (404, 410))
                body = self._read_capped(resp, url)
                return Fetched(str(resp.url), resp.status_code, body, resp.headers.get("etag", ""),
                               resp.headers.get("last-modified", ""), resp.headers.get("content-type", ""))
        except httpx.TimeoutException:
            raise FetchError(f"no answer from {url} within {self.client.timeout.read}s (timeout)") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"could not fetch {url}: {exc.__class__.__name__}: {exc}") from None

    def _read_capped(self, resp: httpx.Response, url: str) -> bytes:
        """The body, refused as soon as it passes the size cap (announced or streamed)."""
        cap_mb = self.max_bytes / 2**20
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"{url} is {int(declared) / 2**20:.0f} MB, over the {cap_mb:.0f} MB cap "
                             "(ASSISTANT_FEED_MAX_MB): not read")
        parts, size = [], 0
        for part in resp.iter_bytes():
            size += len(part)
            if size > self.max_bytes:
                raise FetchError(f"{url} sent more than the {cap_mb:.0f} MB cap (ASSISTANT_FEED_MAX_MB): "
                                 "stopped reading")
            parts.append(part)
        return b"".join(parts)

    def _wait_turn(self, host: str) -> None:
        """Sleep until ``host_delay`` seconds have passed since the last request to this host."""
        with self._lock:
            wait = self._last.get(host, -1e9) + self.host_delay - time.monotonic()
            self._last[host] = time.monotonic() + max(0.0, wait)
        if wait > 0:
            time.sleep(wait)

    def allowed(self, url: str) -> bool:
        """Whether the site's robots.txt lets our user agent fetch the URL (no robots.txt: allowed)."""
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        if root not in self._robots:
            self._robots[root] = self._read_robots(root)
        return self._robots[root].can_fetch(self.user_agent, url)

    def _read_robots(self, root: str) -> RobotFileParser:
        parser = RobotFileParser(root + "/robots.txt")
        try:
            fetched = self._request(root + "/robots.txt", {})
            parser.parse(fetched.body.decode("utf-8", "replace").splitlines())
        except FetchError:
            parser.parse([])  # no robots.txt (or unreachable): everything is allowed, as crawlers do for 4xx
        return parser

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()


def host_of(url: str) -> str:
    """The host (and port) of a URL."""
    return urlsplit(url).netloc.lower()
