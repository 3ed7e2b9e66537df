"""Ingest throughput on the same real articles: ``Assistant.ingest_articles`` vs the raw embedding backend on the
texts it embeds vs a plain LangChain pipeline (RecursiveCharacterTextSplitter, HuggingFaceEmbeddings on the same
converted model, ``Chroma.from_documents``). Articles are NG news read from ../shared (never copied).

Run: nice -n 10 python bench/ingest.py [--articles 100] [--out docs/bench_ingest.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from assistant.chunking import sentence_spans
from assistant.embedding import E5SentenceTransformer
from assistant.pipeline import Assistant
from assistant.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from archive import SHARED, ng_articles  # noqa: E402


def langchain_pipeline(texts: list[str], settings: Settings) -> tuple[float, int]:
    """Seconds and chunks of the plain LangChain pipeline over the texts (fp32, as HuggingFaceEmbeddings runs)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.e5convert import ensure_e5_model

    model = HuggingFaceEmbeddings(model_name=str(ensure_e5_model(settings.cache_dir)),
                                  model_kwargs={"device": "cpu", "local_files_only": True},
                                  encode_kwargs={"normalize_embeddings": True, "prompt": "passage: "})
    model.embed_documents(["разогрев модели"])  # loading and warm-up are left out, as for ours
    t0 = time.perf_counter()
    docs = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        [Document(page_content=t, metadata={"i": i}) for i, t in enumerate(texts)])
    client = chromadb.PersistentClient(path=tempfile.mkdtemp(prefix="lc-ingest-"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    Chroma.from_documents(docs, model, client=client, collection_name="plain")
    return time.perf_counter() - t0, len(docs)


def main() -> int:
    """Measure and print a markdown table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=100)
    ap.add_argument("--skip", type=int, default=1000, help="start this far into the NG files (a fresh sample)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent")
        return 0
    articles = [a for a, _ in ng_articles(args.articles, skip=args.skip)]
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-ingest-")))
    embedder = E5SentenceTransformer(settings)
    assistant = Assistant(settings, embedder=embedder)
    tokenized = embedder.model.tokenizer([a.text for a in articles])["input_ids"]
    tokens = int(sum(len(ids) for ids in tokenized))
    assistant.embedder.embed_passages(["разогрев модели"])  # load and warm up, outside the timings
    t0 = time.perf_counter()
    assistant.ingest_articles(articles)
    ours = time.perf_counter() - t0
    chunks = assistant.docstore.counts()[1]
    embedded = [a.text[s.start:s.end] for a in articles for s in sentence_spans(a.text)] + [a.title for a in articles]
    t0 = time.perf_counter()
    assistant.embedder.embed_passages(embedded)
    raw = time.perf_counter() - t0
    lc, lc_chunks = langchain_pipeline([a.text for a in articles], settings)
    n = len(articles)
    print(f"{n} NG articles, {sum(len(a.text) for a in articles) / 1e6:.2f} M chars, {tokens:,} tokens; "
          f"our ingest embeds {len(embedded):,} texts (sentences + titles), bf16={embedder.bf16}")
    print("| pipeline | seconds | articles/s | chunks/s | tokens/s |\n|---|---|---|---|---|")
    for name, secs, nch in (("`assistant` ingest (sentences embedded once, chunk vectors derived)", ours, chunks),
                            ("raw backend on the texts our ingest embeds", raw, chunks),
                            ("plain LangChain (1000/200 splitter, HuggingFaceEmbeddings fp32, Chroma)", lc, lc_chunks)):
        print(f"| {name} | {secs:.1f} | {n / secs:.2f} | {nch / secs:.1f} | {tokens / secs:,.0f} |")
    print(f"ours / LangChain: {lc / ours:.2f}×; ours / raw backend: {raw / ours:.2f}×")
    if args.out:
        plot({"assistant ingest": n / ours, "raw backend": n / raw, "plain LangChain": n / lc}, args.out)
    return 0


def plot(rates: dict[str, float], out: Path) -> None:
    """Articles per second, as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.barh(list(rates), list(rates.values()), color=["#4c72b0", "#8172b2", "#c44e52"])
    ax.set_xlabel("articles per second (2 CPU cores)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
