"""Hybrid retrieval quality on XQuAD-ru (article hit@1 / hit@5 of the fused hits, before quote scoring) for each way
of making chunk vectors and each query engine. One embedding cache is shared, so each text is embedded once.

Run: nice -n 10 python bench/retrieval_quality.py [--limit 1190] [--title-weights 0,0.1,0.25,0.5,1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from assistant.embedding import E5SentenceTransformer
from assistant.evaluation import load_squad
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.types import Article

sys.path.insert(0, str(Path(__file__).resolve().parent))
from archive import CachedEmbedder  # noqa: E402

XQUAD = Path(__file__).resolve().parent.parent.parent / "shared" / "eval-data" / "xquad-ru" / "xquad.ru.json"


def hit_rates(assistant: Assistant, questions: list[tuple[str, str]]) -> tuple[float, float]:
    """Article hit@1 and hit@5 of the fused retrieval hits."""
    h1 = h5 = 0
    for question, gold in questions:
        hits = assistant.retriever.retrieve(question, assistant.embedder.embed_query(question), 8)
        ranking = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        h1 += ranking[:1] == [gold]
        h5 += gold in ranking[:5]
    return h1 / len(questions), h5 / len(questions)


def sweep(base: Settings, cached: CachedEmbedder, articles: list[Article], questions: list[tuple[str, str]],
          weights: list[float]) -> None:
    """Derived chunk vectors with each title weight (a fresh store each; embeddings come from the memo)."""
    import assistant.sentences as sentences

    print(f"| title weight | hit@1 | hit@5 |  (derived, ONNX int8, n={len(questions)})\n|---|---|---|")
    for weight in weights:
        sentences.TITLE_WEIGHT = weight
        data = Path(tempfile.mkdtemp(prefix="bench-rq-w-"))
        store = Assistant(base.model_copy(update={"data_dir": data, "chunk_vectors": "derived"}), embedder=cached)
        store.ingest_articles(articles)
        h1, h5 = hit_rates(store, questions)
        print(f"| {weight} | {h1:.3f} | {h5:.3f} |", flush=True)
        store.close()


def main() -> int:
    """Measure and print a markdown table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=1190)
    ap.add_argument("--title-weights", default="", help="instead: derived vectors with each of these title weights "
                    "(comma-separated), ONNX int8 queries only")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bench-xquad-embeddings.npz")
    args = ap.parse_args()
    if not XQUAD.exists():
        print(f"skipped: {XQUAD} is absent")
        return 0
    evalset = load_squad(XQUAD, args.limit)
    questions = [(q.question, q.doc_id or "") for q in evalset.questions]
    base = Settings()
    inner = E5SentenceTransformer(base)
    cached = CachedEmbedder(inner, args.cache)
    engines = {"onnx-int8": inner.query_engine, "torch": None}
    if args.title_weights:
        sweep(base, cached, evalset.articles, questions, [float(w) for w in args.title_weights.split(",")])
        return 0
    print(f"| chunk vectors | query engine | hit@1 | hit@5 |  (n={len(questions)})\n|---|---|---|---|")
    stores = {}
    for mode in ("embedded", "derived"):
        data = Path(tempfile.mkdtemp(prefix=f"bench-rq-{mode}-"))
        stores[mode] = Assistant(base.model_copy(update={"data_dir": data, "chunk_vectors": mode}), embedder=cached)
        stores[mode].ingest_articles(evalset.articles)
        cached.save()
    for name, engine in engines.items():  # the fast query engine first, for both stores
        inner.query_engine = engine
        for mode, assistant in stores.items():
            h1, h5 = hit_rates(assistant, questions)
            print(f"| {mode} | {name} | {h1:.3f} | {h5:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
