"""Keyword search in both backends side by side: SQLite FTS5 (embedded) and PostgreSQL postings with FTS5's BM25
(server mode), on the same NG articles, chunked as ingest does: load time, query latency (the articles' editor-written
subtitles as queries) and how often the two agree on the first hit.

Run: nice -n 10 python bench/keyword_pg.py --articles 8000 --queries 300
(starts a throw-away PostgreSQL from tests/pg_server.py; Debian's postgresql must be installed)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant import backends
from assistant.chunking import SentenceSplitter, chunk_article
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from archive import ng_articles  # noqa: E402

from tests.pg_server import start_postgres  # noqa: E402


def latency(fn: object, queries: list[str]) -> tuple[float, float, list[object]]:
    """p50 and p95 milliseconds of ``fn(query)``, and the results."""
    times, out = [], []
    for q in queries:
        t0 = time.perf_counter()
        out.append(fn(q))  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95)), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=8000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--port", type=int, default=55499)
    args = parser.parse_args()
    items = ng_articles(args.articles)
    splitter = SentenceSplitter(1000, 1)
    chunked = [(a, chunk_article(a, splitter)) for a, _ in items]
    print(f"{len(chunked)} articles, {sum(len(c) for _, c in chunked)} chunks")
    server = start_postgres(args.port)
    try:
        tmp = Path(tempfile.mkdtemp(prefix="bench-kw-pg-"))
        modes = {"embedded (SQLite FTS5)": Settings(data_dir=tmp / "e"),
                 "server (PostgreSQL postings)": Settings(data_dir=tmp / "s", database_url=server.url)}
        step = max(1, len(items) // args.queries)
        queries = [s for _, s in items[::step] if s.strip()][: args.queries]
        firsts = {}
        for name, settings in modes.items():
            store = backends.open_articles(settings)
            index = backends.open_keyword(settings, store)
            t0 = time.perf_counter()
            for article, chunks in chunked:
                store.put(article, article.doc_id, chunks)
            load = time.perf_counter() - t0
            index.search("прогрев", 24)
            p50, p95, hits = latency(lambda q, index=index: index.search(q, 24), queries)
            firsts[name] = [h[0].chunk_id if h else "" for h in hits]  # type: ignore[index]
            print(f"{name}: load {len(chunked) / load:.0f} articles/s; k=24 p50 {p50:.1f} ms, p95 {p95:.1f} ms "
                  f"({len(queries)} queries)")
        a, b = firsts.values()
        print(f"same first hit: {sum(x == y for x, y in zip(a, b, strict=True))}/{len(a)}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
