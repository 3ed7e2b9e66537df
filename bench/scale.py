"""Scale check on full-length news (Nezavisimaya Gazeta, read from ../shared, never copied): ingest rate, disk
and memory, ask latency, and subtitle → article retrieval (an externally written check).

Run: python bench/scale.py [--articles 400] [--questions 200]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.types import Article

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "eval-data" / "ru-kw-eval-news"
URL_DATE = re.compile(r"/(\d{4}-\d{2}-\d{2})/")


def ng_articles(n: int) -> list[tuple[Article, str]]:
    """The first n NG articles with their subtitles (summary)."""
    out: list[tuple[Article, str]] = []
    with zipfile.ZipFile(SHARED / "ng_0.jsonlines.zip") as zf, zf.open(zf.namelist()[0]) as fh:
        for i, line in enumerate(fh):
            obj = json.loads(line)
            date = URL_DATE.search(obj["url"])
            out.append((Article(doc_id=f"ng-{i}", title=obj["title"], text=obj["content"], source="НГ",
                                url=obj["url"], date=date.group(1) if date else None), obj.get("summary") or ""))
            if len(out) >= n:
                break
    return out


def disk_mb(path: Path) -> float:
    """Size of a folder in MB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> int:
    """Measure and print."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=400)
    ap.add_argument("--questions", type=int, default=200)
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent (evaluation data lives beside the repository only)")
        return 0
    data = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    assistant = Assistant(Settings(data_dir=data))
    pairs = ng_articles(args.articles)
    started = time.perf_counter()
    results = assistant.ingest_articles([a for a, _ in pairs])
    secs = time.perf_counter() - started
    docs, chunks = assistant.docstore.counts()
    chars = sum(len(a.text) for a, _ in pairs)
    print(f"ingest: {docs} articles, {chars / 1e6:.1f} M chars, {chunks} chunks in {secs:.0f} s "
          f"({chunks / secs:.1f} chunks/s, {docs / secs * 60:.0f} articles/min); failed "
          f"{sum(r.status == 'failed' for r in results)}; store on disk {disk_mb(data):.0f} MB")
    questions = [(a.doc_id, s) for a, s in pairs if s.strip()][: args.questions]
    hits1 = hits5 = 0
    times = []
    for doc_id, subtitle in questions:
        t0 = time.perf_counter()
        ranking = assistant.trace(subtitle).doc_ranking
        times.append((time.perf_counter() - t0) * 1000)
        hits1 += ranking[:1] == [doc_id]
        hits5 += doc_id in ranking[:5]
    times.sort()
    n = max(1, len(questions))
    print(f"subtitle → article over {docs} articles: hit@1 {hits1 / n:.3f}, hit@5 {hits5 / n:.3f} (n={len(questions)})")
    print(f"ask latency (first time each): p50 {times[len(times) // 2]:.0f} ms, p95 {times[int(len(times) * .95) - 1]:.0f} ms")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
