"""Do chunk vectors need their own embedding pass? Dense retrieval on XQuAD-ru with chunk vectors embedded from the
chunk text vs derived from the stored sentence vectors (mean, max), exact search in numpy.

Run: python bench/chunk_vectors.py [--limit 400]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from assistant.chunking import SentenceSplitter, chunk_article, sentence_spans
from assistant.embedding import make_embedder
from assistant.evaluation import load_squad
from assistant.settings import Settings
from assistant.store import index_text

XQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "eval-data" / "xquad-ru" / "xquad.ru.json"


def unit(m: np.ndarray) -> np.ndarray:
    """Rows L2-normalised."""
    return m / np.maximum(np.linalg.norm(m, axis=-1, keepdims=True), 1e-12)


def hits(ranked_docs: list[list[str]], gold: list[str]) -> tuple[float, float]:
    """hit@1, hit@5 of doc rankings."""
    h1 = sum(r[:1] == [g] for r, g in zip(ranked_docs, gold, strict=True)) / len(gold)
    h5 = sum(g in r[:5] for r, g in zip(ranked_docs, gold, strict=True)) / len(gold)
    return h1, h5


def main() -> int:
    """Measure and print a markdown table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=400)
    ap.add_argument("--cache", default="", help="an .npz file to keep the embeddings in between runs")
    args = ap.parse_args()
    if not XQUAD.exists():
        print(f"skipped: {XQUAD} is absent")
        return 0
    settings = Settings()
    emb = make_embedder(settings)
    evalset = load_squad(XQUAD, args.limit)
    splitter = SentenceSplitter(settings.chunk_chars, settings.chunk_overlap_sentences)
    chunks = [c for a in evalset.articles for c in chunk_article(a, splitter)]
    titles = {a.doc_id: a.title for a in evalset.articles}
    sents = {a.doc_id: sentence_spans(a.text) for a in evalset.articles}
    texts = {a.doc_id: a.text for a in evalset.articles}
    flat = [(d, s) for d, spans in sents.items() for s in spans]
    cache = Path(args.cache) if args.cache else None
    t0 = time.perf_counter()
    if cache and cache.exists():
        saved = np.load(cache)
        chunk_vecs, svecs, tvecs = saved["chunks"], saved["sents"], saved["titles"]
        t_chunks = t_sents = float("nan")
    else:
        chunk_vecs = emb.embed_passages([index_text(titles[c.doc_id], c.text) for c in chunks])
        t_chunks = time.perf_counter() - t0
        t0 = time.perf_counter()
        svecs = emb.embed_passages([texts[d][s.start:s.end] for d, s in flat])
        tvecs = emb.embed_passages(list(titles.values()))
        t_sents = time.perf_counter() - t0
        if cache:
            np.savez(cache, chunks=chunk_vecs, sents=svecs, titles=tvecs)
    title_vecs = dict(zip(titles, tvecs, strict=True))
    by_doc: dict[str, list[tuple[int, int, np.ndarray]]] = {}
    for (d, s), v in zip(flat, svecs, strict=True):
        by_doc.setdefault(d, []).append((s.start, s.end, v))
    inside = [np.array([v for a, b, v in by_doc[c.doc_id] if a < c.end and b > c.start]) for c in chunks]
    lens = [np.array([b - a for a, b, _ in by_doc[c.doc_id] if a < c.end and b > c.start], float) for c in chunks]
    variants = {
        "embedded (title + chunk text)": chunk_vecs,
        "mean of sentence vectors": unit(np.array([m.mean(0) for m in inside])),
        "length-weighted mean of sentences": unit(np.array([(m * w[:, None]).sum(0) for m, w in zip(inside, lens, strict=True)])),
        "mean of sentences + title": unit(np.array([m.mean(0) + 0.5 * title_vecs[c.doc_id] for m, c in zip(inside, chunks, strict=True)])),
    }
    q = emb.embed_queries([x.question for x in evalset.questions])
    gold = [x.doc_id or "" for x in evalset.questions]
    print(f"{len(evalset.articles)} paragraphs, {len(chunks)} chunks, {len(flat)} sentences, {len(gold)} questions; "
          f"embedding chunks {t_chunks:.1f} s, sentences + titles {t_sents:.1f} s")
    print("| chunk vector | hit@1 | hit@5 |\n|---|---|---|")
    for name, mat in variants.items():
        order = np.argsort(-(q @ mat.T), axis=1)[:, :20]
        ranked = [list(dict.fromkeys(chunks[i].doc_id for i in row)) for row in order]
        print(f"| {name} | {hits(ranked, gold)[0]:.3f} | {hits(ranked, gold)[1]:.3f} |")
    sims = q @ svecs.T  # sentence retrieval, aggregated to the article by its best sentence
    ranked = [list(dict.fromkeys(flat[i][0] for i in row)) for row in np.argsort(-sims, axis=1)[:, :60]]
    print(f"| (no chunk vectors) best sentence | {hits(ranked, gold)[0]:.3f} | {hits(ranked, gold)[1]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
