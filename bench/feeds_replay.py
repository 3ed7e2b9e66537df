"""Replay Telegram news posts as two JSON Feeds in date order, with standing questions; measure the notifications.

    python bench/feeds_replay.py [--shared ../shared] [--channels bbc,ria] [--step-hours 2] [--json out.json]

Each step moves the clock on, serves each channel's newest 30 posts up to then (so every poll repeats old items),
polls both feeds through the real poller, and lets the watches be asked over the new posts. At the end every
notification is checked against the labels: precision (notified posts that answer) and recall (answering posts
notified). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = {"bbc": ("1001003921752_messages.json", "BBC News Русская служба"),
            "ria": ("1001101170442_messages.json", "РИА Новости")}
WINDOW = 30
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class Post:
    """One Telegram post as a feed item."""

    key: str  # channel:message_id
    channel: str
    when: datetime
    text: str


def clean(text: str) -> str:
    """Telegram markdown to plain text (links keep their words; bold/italic marks dropped)."""
    text = LINK.sub(r"\1", text)
    return re.sub(r"\*\*|__", "", text).strip()


def load_posts(folder: Path, start: str, end: str, channels: list[str]) -> list[Post]:
    """The channels' posts with text in [start, end), oldest first."""
    posts = []
    for channel in channels:
        name = CHANNELS[channel][0]
        for row in json.loads((folder / name).read_text(encoding="utf-8")):
            text = clean(row.get("text") or "")
            if text and start <= row["date"] < end:
                posts.append(Post(f"{channel}:{row['message_id']}", channel,
                                  datetime.fromisoformat(row["date"].replace("Z", "+00:00")), text))
    return sorted(posts, key=lambda p: p.when)


def feed_body(base: str, channel: str, posts: list[Post]) -> bytes:
    """A JSON Feed of the posts (newest first), each with its full text."""
    items = [{"id": p.key, "url": f"{base}/{p.key.replace(':', '/')}", "title": p.text.split("\n", 1)[0][:150],
              "content_text": p.text, "date_published": p.when.isoformat()} for p in reversed(posts)]
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": CHANNELS[channel][1],
                       "items": items}, ensure_ascii=False).encode("utf-8")


def serve(feeds: dict[str, bytes]) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``/bbc.json`` and ``/ria.json`` from the dict (updated between polls)."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = feeds.get(self.path.strip("/").removesuffix(".json"), b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/feed+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def replay(posts: list[Post], labels: dict[str, Any], data_dir: Path, step: timedelta) -> dict[str, Any]:
    """Run the replay; returns per-watch notified and labelled post keys."""
    from assistant.feeds.fetching import Fetcher
    from assistant.feeds.polling import FeedPoller, feed_doc_id
    from assistant.feeds.store import SqliteFeedStore
    from assistant.pipeline import Assistant
    from assistant.settings import Settings
    from assistant.watches import SqliteWatchStore, WatchRunner

    feeds: dict[str, bytes] = {}
    server, base = serve(feeds)
    assistant = Assistant(Settings(data_dir=data_dir))
    store, watches = SqliteFeedStore(data_dir / "feeds.sqlite"), SqliteWatchStore(data_dir / "watches.sqlite")
    WatchRunner(assistant, watches).attach()
    poller = FeedPoller(assistant, store, Fetcher(timeout=30, host_delay=0.0, respect_robots=False))
    ids = {w["question"]: watches.add(w["question"]).id for w in labels["watches"]}
    channels = sorted({p.channel for p in posts})
    for channel in channels:
        store.add(f"{base}/{channel}.json", CHANNELS[channel][1], 900)
    doc_key = {feed_doc_id(f"{base}/{p.key.replace(':', '/')}"): p.key for p in posts}
    clock = posts[0].when
    while clock <= posts[-1].when + step:
        clock += step
        for channel in channels:
            shown = [p for p in posts if p.channel == channel and p.when <= clock][-WINDOW:]
            feeds[channel] = feed_body(base, channel, shown)
        for result in poller.poll_all():
            if result.status == "failed" or result.failures:
                print(f"{clock:%m-%d %H:%M} {result.url}: {result.summary()}", file=sys.stderr)
        print(f"{clock:%m-%d %H:%M} stored {assistant.stats().documents}", file=sys.stderr, flush=True)
    out = {}
    for w in labels["watches"]:
        hits = watches.hits(ids[w["question"]])
        notified = sorted({doc_key.get(d, d) for h in hits for d in h.doc_ids})
        quotes = [(doc_key.get(c["doc_id"], c["doc_id"]), c["quote"]) for h in hits for c in h.answer["citations"]]
        replayed = sorted(a for a in w["answers"] if a.split(":")[0] in channels)  # labels of posts replayed
        out[w["question"]] = {"notified": notified, "labelled": replayed, "quotes": quotes}
    server.shutdown()
    assistant.close()
    return out


def table(results: dict[str, Any]) -> str:
    """Markdown: per watch, notified, correct, labelled, precision and recall; then the totals (micro)."""
    lines = ["| standing question | notified | correct | labelled | precision | recall |", "|---|---|---|---|---|---|"]
    tn = tc = tl = 0
    for question, r in results.items():
        n, labelled = set(r["notified"]), set(r["labelled"])
        c = len(n & labelled)
        tn, tc, tl = tn + len(n), tc + c, tl + len(labelled)
        p = f"{c / len(n):.2f}" if n else "—"
        r_ = f"{c / len(labelled):.2f}" if labelled else "—"
        lines.append(f"| {question} | {len(n)} | {c} | {len(labelled)} | {p} | {r_} |")
    lines.append(f"| **all** | {tn} | {tc} | {tl} | **{tc / max(1, tn):.2f}** | **{tc / max(1, tl):.2f}** |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--labels", type=Path, default=ROOT / "bench" / "feeds_replay_labels.json")
    parser.add_argument("--step-hours", type=float, default=2.0)
    parser.add_argument("--channels", default="bbc,ria", help="Which channels to replay (bbc, ria or both).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the notifications and labels here.")
    args = parser.parse_args()
    folder = args.shared / "eval-data" / "telegram-news-posts"
    if not folder.is_dir():
        sys.exit(f"{folder} is absent: the Telegram posts live in the project's ../shared folder")
    labels = json.loads(args.labels.read_text(encoding="utf-8"))
    posts = load_posts(folder, *labels["window"], args.channels.split(","))
    print(f"{len(posts)} posts, {len(labels['watches'])} standing questions", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="feeds-replay-") as tmp:
        results = replay(posts, labels, Path(tmp), timedelta(hours=args.step_hours))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
