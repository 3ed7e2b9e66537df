"""Archive scale: stores of ~1k, ~10k and ~40k chunks built from Nezavisimaya Gazeta articles (read from ../shared,
never copied), replicated with distinct ids; ask latency at each size, cold start and upload-to-answer of a serving
process on the largest, peak memory.

How the stores are built: the first ``--base`` NG articles are embedded for real (sentences and titles, bf16);
replicas ``<id>-r<k>`` repeat their texts, titles, dates and source, and get their vectors from an embedding cache
keyed by the SHA-1 of the text (``CachedEmbedder``; kept in ``--cache`` between runs). Everything else (splitting,
chunking, Chroma and SQLite writes, the keyword index) runs for every replica through ``Assistant.ingest_articles``.

Run: nice -n 10 python bench/archive.py --sizes 1000,10000,40000 --out docs/bench_archive.png
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.embedding import Embedder, make_embedder
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.types import Article

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval-data" / "ru-kw-eval-news"
URL_DATE = re.compile(r"/(\d{4}-\d{2}-\d{2})/")


def ng_articles(n: int, skip: int = 0) -> list[tuple[Article, str]]:
    """NG articles ``skip`` … ``skip + n`` (both NG files in turn) with their editor-written subtitles."""
    out: list[tuple[Article, str]] = []
    i = 0
    for name in ("ng_0.jsonlines.zip", "ng_1.jsonlines.zip"):
        with zipfile.ZipFile(SHARED / name) as zf, zf.open(zf.namelist()[0]) as fh:
            for line in fh:
                i += 1
                if i <= skip:
                    continue
                obj = json.loads(line)
                day = URL_DATE.search(obj["url"])
                out.append((Article(doc_id=f"ng-{i}", title=obj["title"], text=obj["content"], source="НГ",
                                    url=obj["url"], date=day.group(1) if day else None), obj.get("summary") or ""))
                if len(out) >= n:
                    return out
    return out


class CachedEmbedder(Embedder):
    """An embedder whose passage vectors are memoised by the SHA-1 of the text (replicas reuse their vectors)."""

    def __init__(self, inner: Embedder, path: Path | None) -> None:
        self.inner, self.path, self.model_id = inner, path, inner.model_id
        self.memo: dict[str, np.ndarray] = {}
        self.embedded = 0  # texts really embedded
        if path and path.exists():
            saved = np.load(path)
            self.memo = dict(zip(saved["keys"].tolist(), saved["vecs"], strict=True))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors from the memo; texts not seen before are embedded (once) by the real model."""
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self.memo}
        if missing:
            self.memo.update(zip(missing, self.inner.embed_passages(list(missing.values())), strict=True))
            self.embedded += len(missing)
        return np.vstack([self.memo[k] for k in keys])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries always go to the real model."""
        return self.inner.embed_queries(texts)

    def seed(self, assistant: Assistant) -> int:
        """Take the sentence vectors already stored in a store (an interrupted build) into the memo."""
        before = len(self.memo)
        for doc_id in assistant.sentences.doc_ids():
            art = assistant.docstore.get(doc_id)
            stored = assistant.sentences.get(doc_id, art.text) if art else None
            if art is not None and stored is not None:
                for (a, b), vec in zip(stored.offsets.tolist(), stored.vectors, strict=True):
                    self.memo.setdefault(hashlib.sha1(art.text[a:b].encode()).hexdigest(), vec)
        return len(self.memo) - before

    def save(self) -> None:
        """Keep the memo for the next run."""
        if self.path:
            np.savez(self.path, keys=np.array(list(self.memo)), vecs=np.array(list(self.memo.values())))


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of the values."""
    return float(np.percentile(values, q)) if values else float("nan")


def timed(fn: object, items: Sequence[str]) -> list[float]:
    """Milliseconds of ``fn(item)`` for each item."""
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
    return out


def grow(assistant: Assistant, base: list[Article], target: int, start_rep: int) -> int:
    """Ingest replicas of the base articles until the store holds ``target`` chunks; the next replica number."""
    rep = start_rep
    while assistant.docstore.counts()[1] < target:
        batch = [Article(doc_id=f"{a.doc_id}-r{rep}", title=a.title, text=f"{a.text}\n\nКопия {rep}.", date=a.date,
                         source=a.source, url=a.url, path=f"bench:{a.doc_id}-r{rep}") for a in base]
        # a marker line makes each replica's text distinct: exact copies are stored once (assistant/dedup.py)
        for i in range(0, len(batch), 50):
            assistant.ingest_articles(batch[i:i + 50])
            if assistant.docstore.counts()[1] >= target:
                break
        rep += 1
    return rep


def measure_asks(assistant: Assistant, questions: list[str], asks: int) -> dict[str, float]:
    """Latency of the floor (query embedding + one vector search), retrieval, reading the hits' stored sentence
    vectors, the whole ask, and the whole ask repeated."""
    emb, k = assistant.embedder, assistant.settings.top_k

    def floor(q: str) -> None:
        assistant.vectors.search(emb.embed_query(q).tolist(), k)

    def retrieval(q: str) -> None:
        hits = assistant.retriever.retrieve(q, emb.embed_query(q), k)
        for doc_id in {h.chunk.doc_id for h in hits}:
            art = assistant.docstore.get(doc_id)
            assert art is not None
            assistant.sentences.sentence_vectors(art, assistant.sentences.sentence_spans(art))

    out: dict[str, float] = {}
    for name, fn in (("floor", floor), ("retrieval", retrieval), ("ask", assistant.ask)):
        times = timed(fn, questions[:asks] if name == "ask" else questions)
        out.update({f"{name}_p50": pct(times, 50), f"{name}_p95": pct(times, 95), f"{name}_p99": pct(times, 99)})
        out[f"{name}_first"] = times[0]
    again = timed(assistant.ask, questions[: max(5, asks // 4)])
    out["ask_repeated_p50"] = pct(again, 50)
    return out


def langchain_retriever_ms(assistant: Assistant, questions: list[str], settings: Settings) -> dict[str, float]:
    """The plain LangChain retriever (HuggingFaceEmbeddings fp32 + LangChain's Chroma) over the same chunk vectors."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    from assistant.e5convert import ensure_e5_model

    model = HuggingFaceEmbeddings(model_name=str(ensure_e5_model(settings.cache_dir)),
                                  model_kwargs={"device": "cpu", "local_files_only": True},
                                  encode_kwargs={"normalize_embeddings": True}, query_encode_kwargs={"prompt": "query: "})
    client = chromadb.PersistentClient(path=tempfile.mkdtemp(prefix="lc-archive-"),
                                       settings=ChromaSettings(anonymized_telemetry=False))
    col = client.create_collection("plain", configuration={"hnsw": {"space": "cosine"}})
    src = assistant.vectors.collection
    total, step = src.count(), int(client.get_max_batch_size())
    for off in range(0, total, step):
        got = src.get(limit=step, offset=off, include=["embeddings"])
        chunks = assistant.docstore.chunks_by_ids(got["ids"])
        col.add(ids=got["ids"], embeddings=got["embeddings"],
                documents=[chunks[i].text if i in chunks else "" for i in got["ids"]])
    retriever = Chroma(collection_name="plain", client=client, embedding_function=model).as_retriever(
        search_kwargs={"k": assistant.settings.top_k})
    times = timed(retriever.invoke, questions)
    return {"lc_p50": pct(times, 50), "lc_p95": pct(times, 95), "lc_p99": pct(times, 99)}


def serve_checks(data: Path, upload: Article, question: str) -> dict[str, float]:
    """Cold start of ``assistant serve`` on the store, an upload, the time to the first answer quoting it, RSS."""
    import httpx

    port = free_port()
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_PORT": str(port), "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--no-demo"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        cold = wait_health(base, t0)
        first = time.perf_counter()
        httpx.post(f"{base}/api/ask", json={"question": question}, timeout=120)
        first_ask = time.perf_counter() - first
        text = f"title {upload.title}\ndate {upload.date}\nsource НГ\n\n{upload.text}"
        t1 = time.perf_counter()
        res = httpx.post(f"{base}/api/ingest", files={"files": (f"upload-{time.time_ns()}.txt", text.encode())}, timeout=300)
        upload_s = time.perf_counter() - t1
        doc_id = res.json()["results"][0]["doc_id"]
        t2 = time.perf_counter()
        answer = httpx.post(f"{base}/api/ask", json={"question": upload.title}, timeout=120).json()
        to_answer = time.perf_counter() - t2
        quoted = any(c["doc_id"] == doc_id for c in answer["citations"])
        rss = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    return {"cold_start_s": cold, "first_ask_s": first_ask, "upload_s": upload_s, "upload_to_answer_s": to_answer,
            "upload_quoted": float(quoted), "serve_rss_mb": rss}


OPEN_AND_RETRIEVE = """
import sys, time
t0 = time.perf_counter()
from assistant.pipeline import Assistant
from assistant.settings import Settings
a = Assistant(Settings())
t1 = time.perf_counter()
hits = a.retriever.retrieve(sys.argv[1], a.embedder.embed_query(sys.argv[1]), a.settings.top_k)
for d in {h.chunk.doc_id for h in hits}:
    art = a.docstore.get(d)
    a.sentences.sentence_vectors(art, a.sentences.sentence_spans(art))
t2 = time.perf_counter()
for q in sys.argv[2:]:
    hits = a.retriever.retrieve(q, a.embedder.embed_query(q), a.settings.top_k)
    for d in {h.chunk.doc_id for h in hits}:
        art = a.docstore.get(d)
        a.sentences.sentence_vectors(art, a.sentences.sentence_spans(art))
hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(t1 - t0, t2 - t1, int(hwm) / 1024)
"""


def open_and_retrieve(data: Path, questions: list[str]) -> dict[str, float]:
    """A fresh process: seconds to open the stores (imports, model files, Chroma, SQLite) and to the first hits, and
    its peak RSS after retrieving for all the questions (what serving costs without the web UI)."""
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", OPEN_AND_RETRIEVE, *questions], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return {"open_s": float(out[-3]), "first_retrieval_s": float(out[-2]), "retrieval_rss_mb": float(out[-1])}


def free_port() -> int:
    """A free port on loopback."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_health(base: str, t0: float) -> float:
    """Seconds from ``t0`` until ``/api/health`` answers 200."""
    import httpx

    while time.perf_counter() - t0 < 300:
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError("the server did not answer /api/health within 300 s")


def rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    """Build, measure, print tables, plot."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,40000", help="chunk counts to measure at, ascending")
    ap.add_argument("--base", type=int, default=200, help="real NG articles embedded (the rest are replicas)")
    ap.add_argument("--questions", type=int, default=100, help="new questions retrieved for at each size")
    ap.add_argument("--asks", type=int, default=100, help="of which this many are asked in full (whole answer)")
    ap.add_argument("--data", type=Path, default=None, help="store folder (default: a new temporary one)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bench-archive-embeddings.npz")
    ap.add_argument("--no-langchain", action="store_true")
    ap.add_argument("--serve-only", action="store_true", help="only the serving checks, on an existing --data store")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent (evaluation data lives beside the repository only)")
        return 0
    print(f"load average at start: {os.getloadavg()}", file=sys.stderr)
    sizes = [int(s) for s in args.sizes.split(",")]
    data = args.data or Path(tempfile.mkdtemp(prefix="bench-archive-"))
    if args.serve_only:
        pairs = ng_articles(args.base + 51)
        qs = [s for _, s in pairs if s.strip()][1:args.questions]
        serve = {**open_and_retrieve(data, qs), **serve_checks(data, pairs[-1][0], pairs[0][1])}
        report([], serve, float("nan"), -1, 0, data)
        return 0
    settings = Settings(data_dir=data)
    embedder = CachedEmbedder(make_embedder(settings), args.cache)
    assistant = Assistant(settings, embedder=embedder)
    print(f"{embedder.seed(assistant)} sentence vectors taken from the store in {data}", file=sys.stderr)
    pairs = ng_articles(args.base)
    base = [a for a, _ in pairs]
    questions = [s for _, s in pairs if s.strip()]
    rows, rep, built = [], 0, 0.0
    for size in sizes:
        t0 = time.perf_counter()
        rep = grow(assistant, base, size, rep)
        built += time.perf_counter() - t0
        embedder.save()
        docs, chunks = assistant.docstore.counts()
        qs = questions[: args.questions]
        server = Assistant(settings, embedder=embedder.inner)  # asking uses the real model, never the memo
        row = {"size": size, "docs": docs, "chunks": chunks, "build_s": built, **measure_asks(server, qs, args.asks)}
        if not args.no_langchain:
            row.update(langchain_retriever_ms(server, qs, settings))
        server.close()
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    ingest_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sentences = assistant.sentences.count()
    assistant.close()
    upload = ng_articles(1, skip=args.base + 50)[0][0]
    serve = {**open_and_retrieve(data, questions[1:args.questions]), **serve_checks(data, upload, questions[0])}
    report(rows, serve, ingest_rss, sentences, embedder.embedded, data)
    if args.out:
        plot(rows, args.out)
    return 0


def report(rows: list[dict[str, float]], serve: dict[str, float], ingest_rss: float, sentences: int,
           embedded: int, data: Path) -> None:
    """Markdown tables."""
    print(f"store: {data} ({sum(p.stat().st_size for p in data.rglob('*') if p.is_file()) / 1e6:.0f} MB on disk); "
          f"{sentences} stored sentences; {embedded} texts embedded for real in this run")
    print("\n| chunks | articles | floor p50/p95 | retrieval + stored sentence vectors p50/p95/p99 | ask p50/p95/p99 "
          "| first ask | repeated ask p50 | LangChain retriever p50/p95/p99 |\n|---|---|---|---|---|---|---|---|")
    for r in rows:
        lc = f"{r['lc_p50']:.0f} / {r['lc_p95']:.0f} / {r['lc_p99']:.0f}" if "lc_p50" in r else "—"
        print(f"| {r['chunks']:,} | {r['docs']:,} | {r['floor_p50']:.0f} / {r['floor_p95']:.0f} | "
              f"{r['retrieval_p50']:.0f} / {r['retrieval_p95']:.0f} / {r['retrieval_p99']:.0f} | "
              f"{r['ask_p50']:.0f} / {r['ask_p95']:.0f} / {r['ask_p99']:.0f} | {r['ask_first']:.0f} | "
              f"{r['ask_repeated_p50']:.0f} | {lc} |")
    print(f"\n(milliseconds; load average now {os.getloadavg()})\n\n| serving process on the largest store | figure |"
          "\n|---|---|")
    print(f"| new process: imports + opening the stores (`Assistant(settings)`) | {serve['open_s']:.1f} s |")
    print(f"| … then its first retrieval + stored sentence vectors | {serve['first_retrieval_s']:.2f} s |")
    print(f"| … its peak RSS after retrieving for every question (no web UI) | {serve['retrieval_rss_mb']:,.0f} MB |")
    print(f"| cold start (`assistant serve` until /api/health answers) | {serve['cold_start_s']:.1f} s |")
    print(f"| first ask after start | {serve['first_ask_s']:.2f} s |")
    print(f"| upload of one article (until /api/ingest returns) | {serve['upload_s']:.1f} s |")
    print(f"| upload returned → answer quoting it | {serve['upload_to_answer_s']:.2f} s "
          f"({'quoted' if serve['upload_quoted'] else 'NOT quoted'}) |")
    print(f"| serving process peak RSS | {serve['serve_rss_mb']:,.0f} MB |")
    print(f"| ingest process peak RSS (building every size) | {ingest_rss:,.0f} MB |")


def plot(rows: list[dict[str, float]], out: Path) -> None:
    """Latency percentiles against store size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    x = [r["chunks"] for r in rows]
    for key, label in (("floor", "floor: query embedding + vector search"), ("retrieval", "hybrid retrieval + "
                       "stored sentence vectors"), ("ask", "ask (whole answer)"), ("lc", "plain LangChain retriever")):
        if f"{key}_p50" in rows[0]:
            ax.plot(x, [r[f"{key}_p50"] for r in rows], marker="o", label=f"{label} p50")
            ax.plot(x, [r[f"{key}_p95"] for r in rows], marker="x", linestyle=":", label=f"{label} p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the store")
    ax.set_ylabel("ms")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
