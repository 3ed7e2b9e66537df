"""Replay Telegram news posts as two JSON Feeds in date order, with standing questions; measure the notifications.

    python bench/feeds_replay.py [--shared ../shared] [--channels bbc,ria] [--step-hours 1] [--answers asks.json]
                                 [--json out.json]

Each step moves the clock on, serves each channel's newest 30 posts up to then (so every poll repeats old items),
polls both feeds through the real poller, and the real watch runner asks every standing question over the new posts.
Every answer a watch gets is recorded (``--answers`` keeps them: a second run with the same file only re-scores), so
the watch bar (``assistant/watchbar.py``) can be applied to them afterwards: a post is notified when a quote of it in
a confident answer clears the bar. The bar is chosen out of fold, leaving one standing question out at a time
(the most correct alerts at precision >= 0.9 over the others), and the notifications are checked against the
labels: precision (notified posts that answer) and recall (answering posts notified), out of fold and fitted on all.
Prints a markdown table; ``--json`` writes it with every watch's alerts and quotes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from assistant.watchbar import WATCH_BAR, WatchBar, next_sentence

ROOT = Path(__file__).resolve().parent.parent
CHANNELS = {"bbc": ("1001003921752_messages.json", "BBC News Русская служба"),
            "ria": ("1001101170442_messages.json", "РИА Новости")}
WINDOW = 30
LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
AIM = 0.9  # precision the bar is chosen for
COVERAGES = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
GRID = [WatchBar(c, f) for c in COVERAGES for f in (False, True)]


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


def replay(posts: list[Post], questions: list[str], data_dir: Path, step: timedelta) -> dict[str, Any]:
    """Run the replay through the real poller and watch runner; returns every answer each watch got (the quotes'
    posts as channel:message_id) and the posts the runner alerted on."""
    from assistant.feeds.fetching import Fetcher
    from assistant.feeds.polling import FeedPoller, feed_doc_id
    from assistant.feeds.store import SqliteFeedStore
    from assistant.pipeline import Assistant
    from assistant.settings import Settings
    from assistant.watches import SqliteWatchStore, WatchRunner, sentence_after

    feeds: dict[str, bytes] = {}
    server, base = serve(feeds)
    assistant = Assistant(Settings(data_dir=data_dir))
    store, watches = SqliteFeedStore(data_dir / "feeds.sqlite"), SqliteWatchStore(data_dir / "watches.sqlite")
    doc_key = {feed_doc_id(f"{base}/{p.key.replace(':', '/')}"): p.key for p in posts}
    asked: dict[str, list[dict[str, Any]]] = {q: [] for q in questions}
    ask_within = assistant.ask_within

    def recorded(question: str, doc_ids: Any) -> Any:  # every answer a watch gets, whatever the watch bar decides
        answer = ask_within(question, doc_ids)
        asked[question].append({"part": [doc_key.get(d, d) for d in doc_ids], "answered": answer.answered,
                                "confident": answer.confident,
                                "citations": [{"post": doc_key.get(c.doc_id, c.doc_id), "title": c.title,
                                               "quote": c.quote, "score": c.score,
                                               "after": sentence_after(assistant.get_article(c.doc_id), c.end)}
                                              for c in answer.citations]})
        return answer

    assistant.ask_within = recorded  # type: ignore[method-assign]
    WatchRunner(assistant, watches).attach()
    poller = FeedPoller(assistant, store, Fetcher(timeout=30, host_delay=0.0, respect_robots=False))
    ids = {q: watches.add(q).id for q in questions}
    channels = sorted({p.channel for p in posts})
    for channel in channels:
        store.add(f"{base}/{channel}.json", CHANNELS[channel][1], 900)
    clock, started = posts[0].when, time.monotonic()
    while clock <= posts[-1].when + step:
        clock += step
        for channel in channels:
            shown = [p for p in posts if p.channel == channel and p.when <= clock][-WINDOW:]
            feeds[channel] = feed_body(base, channel, shown)
        for result in poller.poll_all():
            if result.status == "failed" or result.failures:
                print(f"{clock:%m-%d %H:%M} {result.url}: {result.summary()}", file=sys.stderr)
        print(f"{clock:%m-%d %H:%M} stored {assistant.stats().documents} in {time.monotonic() - started:.0f} s",
              file=sys.stderr, flush=True)
    alerted = {q: sorted({doc_key.get(d, d) for h in watches.hits(ids[q]) for d in h.doc_ids}) for q in questions}
    server.shutdown()
    assistant.close()
    return {"asks": asked, "alerted": alerted, "seconds": round(time.monotonic() - started)}


def alerts(asks: list[dict[str, Any]], question: str, bar: WatchBar) -> dict[str, str]:
    """The posts a watch alerts on under this bar, each with its first quote that clears it (in a confident
    answer)."""
    found: dict[str, str] = {}
    for a in asks:
        for c in a["citations"] if a["answered"] and a["confident"] else []:
            if c["post"] in a["part"] and bar.passes(question, c["quote"], c["title"], c["after"]):
                found.setdefault(c["post"], c["quote"])
    return found


def decide(asks: list[dict[str, Any]], question: str, bar: WatchBar) -> set[str]:
    """The posts a watch alerts on under this bar."""
    return set(alerts(asks, question, bar))


def counts(asks: dict[str, list[dict[str, Any]]], labelled: dict[str, set[str]], bar: WatchBar,
           questions: list[str]) -> tuple[int, int, int]:
    """Notified, correct and labelled posts summed over these watches."""
    n = c = t = 0
    for q in questions:
        got = decide(asks[q], q, bar)
        n, c, t = n + len(got), c + len(got & labelled[q]), t + len(labelled[q])
    return n, c, t


def choose(asks: dict[str, list[dict[str, Any]]], labelled: dict[str, set[str]], questions: list[str]) -> WatchBar:
    """The bar with the most correct alerts at precision >= AIM over these watches (else the most precise); among
    equals, the more precise, then the stricter bar (a false alert costs more than a missed one)."""
    def key(bar: WatchBar) -> tuple[bool, float, float, float]:
        n, c, _ = counts(asks, labelled, bar, questions)
        precision = c / n if n else 0.0
        return (precision >= AIM, c if precision >= AIM else precision, precision,
                bar.min_coverage + bar.figure)

    return max(GRID, key=key)


def out_of_fold(asks: dict[str, list[dict[str, Any]]], labelled: dict[str, set[str]]) -> dict[str, WatchBar]:
    """Each watch's bar, chosen over the other watches only."""
    questions = list(labelled)
    return {q: choose(asks, labelled, [o for o in questions if o != q]) for q in questions}


def table(rows: list[tuple[str, set[str], set[str], set[str], set[str], set[str]]]) -> str:
    """Markdown: per watch, labelled posts, then notified/correct with no watch bar, out of fold and fitted; then
    precision and recall of each (summed over the watches)."""
    lines = ["| standing question | labelled | no bar: notified | correct | out of fold: notified | correct "
             "| fitted: notified | correct |", "|---|---|---|---|---|---|---|---|"]
    total = [0] * 7
    for question, labelled, none, oof, fitted, _ in rows:
        nums = [len(labelled)] + [x for got in (none, oof, fitted) for x in (len(got), len(got & labelled))]
        total = [a + b for a, b in zip(total, nums, strict=True)]
        lines.append(f"| {question} | " + " | ".join(map(str, nums)) + " |")
    lines.append("| **all** | " + " | ".join(f"**{x}**" for x in total) + " |")
    t = max(1, total[0])
    (nn, nc), (on, oc), (fn, fc) = total[1:3], total[3:5], total[5:7]
    lines.append(f"\nOut of fold: precision **{oc / max(1, on):.2f}**, recall **{oc / t:.2f}**. "
                 f"Fitted: precision {fc / max(1, fn):.2f}, recall {fc / t:.2f}. "
                 f"No bar: precision {nc / max(1, nn):.2f}, recall {nc / t:.2f}.")
    return "\n".join(lines)


def with_after(asks: dict[str, list[dict[str, Any]]], posts: list[Post]) -> dict[str, list[dict[str, Any]]]:
    """The recorded answers, each quote with the sentence after it in its post (for answers recorded without)."""
    text = {p.key: p.text for p in posts}
    for c in (c for q in asks.values() for a in q for c in a["citations"] if "after" not in c):
        body = text.get(c["post"], "")
        at = body.find(c["quote"])
        c["after"] = next_sentence(body, at + len(c["quote"])) if at >= 0 else ""
    return asks


def report(recorded: dict[str, Any], labels: dict[str, Any], channels: list[str]) -> dict[str, Any]:
    """Per watch: labelled posts, the alerts out of fold, fitted and live (``WATCH_BAR``), with their quotes."""
    asks = recorded["asks"]
    labelled = {w["question"]: {a for a in w["answers"] if a.split(":")[0] in channels} for w in labels["watches"]}
    oof = out_of_fold(asks, labelled)
    fitted = choose(asks, labelled, list(labelled))
    quotes = {q: alerts(asks[q], q, WATCH_BAR) | alerts(asks[q], q, fitted) | alerts(asks[q], q, oof[q])
              for q in labelled}
    rows = [(q, labelled[q], decide(asks[q], q, WatchBar()), decide(asks[q], q, oof[q]), decide(asks[q], q, fitted),
             decide(asks[q], q, WATCH_BAR)) for q in labelled]
    return {"fitted_bar": vars(fitted), "live_bar": vars(WATCH_BAR), "seconds": recorded.get("seconds"),
            "table": table(rows),
            "watches": {q: {"labelled": sorted(lab), "bar_out_of_fold": vars(oof[q]), "out_of_fold": sorted(o),
                            "fitted": sorted(f), "live": sorted(live), "alerted_in_replay": recorded["alerted"][q],
                            "quotes": {p: quotes[q][p] for p in sorted(o | f | live)}}
                        for q, lab, _, o, f, live in rows}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--labels", type=Path, default=ROOT / "bench" / "feeds_replay_labels.json")
    parser.add_argument("--step-hours", type=float, default=1.0,
                        help="Hours of post time between polls (with 2, some spans of RIA overflow the 30-item feed).")
    parser.add_argument("--channels", default="bbc,ria", help="Which channels to replay (bbc, ria or both).")
    parser.add_argument("--answers", type=Path, default=None,
                        help="Every answer the watches got: read from here when it exists, else written here.")
    parser.add_argument("--limit", type=int, default=0, help="Replay only the first N posts (a quick look).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the notifications and labels here.")
    args = parser.parse_args()
    folder = args.shared / "eval-data" / "telegram-news-posts"
    if not folder.is_dir():
        sys.exit(f"{folder} is absent: the Telegram posts live in the project's ../shared folder")
    labels = json.loads(args.labels.read_text(encoding="utf-8"))
    channels = args.channels.split(",")
    start, end = labels["window"]
    posts = load_posts(folder, start, end, channels)[:args.limit or None]
    if args.answers and args.answers.exists():
        recorded = json.loads(args.answers.read_text(encoding="utf-8"))
        recorded["asks"] = with_after(recorded["asks"], posts)
    else:
        print(f"{len(posts)} posts, {len(labels['watches'])} standing questions", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="feeds-replay-") as tmp:
            recorded = replay(posts, [w["question"] for w in labels["watches"]], Path(tmp),
                              timedelta(hours=args.step_hours))
        if args.answers:
            args.answers.write_text(json.dumps(recorded, ensure_ascii=False), encoding="utf-8")
    result = report(recorded, labels, channels)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(result["table"])


if __name__ == "__main__":
    main()
