"""Keyword index: the persistent SQLite FTS5 index against the in-memory bm25s index it replaces — build/open time and
query latency on an existing store (e.g. the 40k-chunk archive of bench/archive.py), and keyword-only XQuAD-ru
hit@1/hit@5 of both.

Run: nice -n 10 python bench/keyword_index.py --data /tmp/h9-archive [--questions 60]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.chunking import SentenceSplitter, chunk_article
from assistant.evaluation import load_squad
from assistant.keyword import FtsKeywordIndex, KeywordIndex
from assistant.store import DocStore, index_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from archive import SHARED, ng_articles  # noqa: E402

XQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "eval-data" / "xquad-ru" / "xquad.ru.json"


def latency(fn: object, questions: list[str]) -> tuple[float, float]:
    """p50 and p95 milliseconds of ``fn(question)``."""
    times = []
    for q in questions:
        t0 = time.perf_counter()
        fn(q)  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def on_store(data: Path, questions: list[str]) -> None:
    """Open/build times and query latency of both indexes over the store's chunks."""
    t0 = time.perf_counter()
    store = DocStore(data / "articles.sqlite")
    fts = FtsKeywordIndex(store)
    opened = time.perf_counter() - t0
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    chunks = store.all_chunks()
    titles = {d.doc_id: d.title for d in store.list_docs()}
    mem = KeywordIndex([index_text(titles[c.doc_id], c.text) for c in chunks])
    built = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    f50, f95 = latency(lambda q: fts.search(q, 24), questions)
    b50, b95 = latency(lambda q: mem.top(q, 24), questions)
    print(f"{len(chunks):,} chunks; {len(questions)} questions (k = 24, as retrieval asks)")
    print("| index | ready after | query p50 ms | query p95 ms |\n|---|---|---|---|")
    print(f"| SQLite FTS5 (persistent, incremental) | {opened:.2f} s (open) | {f50:.1f} | {f95:.1f} |")
    print(f"| bm25s in memory (rebuilt at start and after each upload) | {built:.1f} s (read all chunks + index; "
          f"+{rss1 - rss0:,.0f} MB peak RSS) | {b50:.1f} | {b95:.1f} |")
    store.close()


def on_xquad() -> None:
    """Keyword-only article hit@1/hit@5 of both indexes on XQuAD-ru."""
    evalset = load_squad(XQUAD)
    store = DocStore(Path(tempfile.mkdtemp(prefix="bench-kw-")) / "articles.sqlite")
    fts = FtsKeywordIndex(store)
    splitter = SentenceSplitter(1000, 1)
    for art in evalset.articles:
        store.put(art, art.doc_id, chunk_article(art, splitter))
    chunks = store.all_chunks()
    titles = {a.doc_id: a.title for a in evalset.articles}
    mem = KeywordIndex([index_text(titles[c.doc_id], c.text) for c in chunks])
    rows = {"SQLite FTS5": [], "bm25s": []}  # type: dict[str, list[list[str]]]
    for q in evalset.questions:
        rows["SQLite FTS5"].append(list(dict.fromkeys(h.chunk_id.rsplit(":", 1)[0] for h in fts.search(q.question, 20))))
        rows["bm25s"].append(list(dict.fromkeys(chunks[i].doc_id for i, _ in mem.top(q.question, 20))))
    gold = [q.doc_id for q in evalset.questions]
    print(f"\nXQuAD-ru, keyword retrieval alone, {len(gold)} questions:\n| index | hit@1 | hit@5 |\n|---|---|---|")
    for name, ranked in rows.items():
        h1 = np.mean([r[:1] == [g] for r, g in zip(ranked, gold, strict=True)])
        h5 = np.mean([g in r[:5] for r, g in zip(ranked, gold, strict=True)])
        print(f"| {name} | {h1:.3f} | {h5:.3f} |")


def main() -> int:
    """Measure and print."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=None, help="an existing store (else only the XQuAD comparison)")
    ap.add_argument("--questions", type=int, default=60)
    args = ap.parse_args()
    if args.data and SHARED.is_dir():
        on_store(args.data, [s for _, s in ng_articles(args.questions + 10) if s.strip()][: args.questions])
    if XQUAD.exists():
        on_xquad()
    return 0


if __name__ == "__main__":
    sys.exit(main())
