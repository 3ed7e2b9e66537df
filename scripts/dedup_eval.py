"""Precision and recall of the near-duplicate detector on hand-labelled pairs of Telegram news posts.

    python scripts/dedup_eval.py [../shared/eval-data/telegram-news-posts] [tests/data/dedup_pairs.tsv]

Every post is indexed in a temporary ``StoryIndex`` in date order (as ingest would see them); a labelled pair is
predicted "one story" when both posts ended in the same cluster. The posts are read from ../shared, never copied.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.dedup import StoryIndex  # noqa: E402
from assistant.types import Article  # noqa: E402

POSTS = ROOT.parent / "shared" / "eval-data" / "telegram-news-posts"
PAIRS = ROOT / "tests" / "data" / "dedup_pairs.tsv"


@dataclass
class Result:
    """Confusion counts on the labelled pairs, and the clusters found in the whole set."""

    tp: int
    fp: int
    fn: int
    tn: int
    posts: int
    clustered: int  # posts in a cluster of two or more
    seconds: float

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)


def load_posts(folder: Path) -> list[Article]:
    """The posts as articles (id ``sender:message``), oldest first."""
    posts = []
    for path in sorted(folder.glob("*_messages.json")):
        for m in json.loads(path.read_text(encoding="utf-8")):
            if m.get("text"):
                posts.append(Article(f"{m['sender_id']}:{m['message_id']}", "", m["text"], m["date"][:10],
                                     m.get("channel", "")))
    return sorted(posts, key=lambda a: (a.date or "", a.doc_id))


def load_pairs(path: Path) -> list[tuple[str, str, int]]:
    """Labelled pairs (a, b, label) from the TSV (comment and header lines skipped)."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith(("#", "a\t"))]
    return [(a, b, int(label)) for a, b, label in rows]


def evaluate(folder: Path = POSTS, pairs_path: Path = PAIRS, threshold: float | None = None) -> Result:
    """Index every post, then score the labelled pairs by cluster co-membership."""
    posts, pairs = load_posts(folder), load_pairs(pairs_path)
    with tempfile.TemporaryDirectory() as tmp:
        index = StoryIndex(Path(tmp) / "stories.sqlite", *(() if threshold is None else (threshold,)))
        started = time.perf_counter()
        for post in posts:
            index.add(post)
        seconds = time.perf_counter() - started
        clusters = index.cluster_of(p.doc_id for p in posts)
        index.close()
    sizes: dict[str, int] = {}
    for cluster in clusters.values():
        sizes[cluster] = sizes.get(cluster, 0) + 1
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for a, b, label in pairs:
        same = clusters[a] == clusters[b]
        counts[("t" if same == bool(label) else "f") + ("p" if same else "n")] += 1
    return Result(**counts, posts=len(posts), clustered=sum(n for n in sizes.values() if n > 1), seconds=seconds)


def main() -> None:
    """Print the figures for docs/dedup.md."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else POSTS
    pairs = Path(sys.argv[2]) if len(sys.argv) > 2 else PAIRS
    if not folder.is_dir():
        raise SystemExit(f"{folder} is absent: the posts live in ../shared beside the repository")
    r = evaluate(folder, pairs)
    print(f"{r.posts} posts indexed in {r.seconds:.1f} s; {r.clustered} posts in clusters of 2+")
    print(f"labelled pairs: {r.tp + r.fp + r.fn + r.tn} ({r.tp + r.fn} same story); "
          f"tp {r.tp} fp {r.fp} fn {r.fn} tn {r.tn}; precision {r.precision:.3f}, recall {r.recall:.3f}")


if __name__ == "__main__":
    main()
