"""Embedded and server mode side by side at ~40k chunks, in one run: ask latency in each mode and the ratio, an
upload on replica A answerable on replica B, and ingest articles/s with one and with two workers in server mode.

How: the embedded store is built as bench/archive.py builds it (``--base`` NG articles embedded for real, replicas
with vectors from its ``CachedEmbedder``); ``assistant migrate`` copies it, without embedding, into a throw-away
PostgreSQL and a Chroma server started as the tests start them (tests/pg_server.py). Asks use the real model in both
modes, the same new questions (NG subtitles), one mode after the other. Replicas: two ``assistant serve`` processes
on the server store; new NG articles are uploaded through A's /api/ingest, and B's /api/ask is asked the article's
title until a citation quotes it (the time from the upload's return). Ingest: worker processes with the real embedder
(OMP_NUM_THREADS=1 each) ingesting shard K of N of a JSONL file of new NG articles, as ``assistant ingest --shard K/N``
does: one worker, then two at once on another file of the same size; the clock starts when every worker has loaded
its model and stops at the last one's end. The load average is printed beside every timing.

Run: nice -n 10 python bench/modes.py --chunks 40000 --base 64 --questions 60 --uploads 5 --ingest-articles 40
(Debian's postgresql must be installed, as for the tests)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from assistant.backends.migrate import migrate
from assistant.embedding import make_embedder
from assistant.pipeline import Assistant
from assistant.settings import Settings
from assistant.types import Article

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from archive import CachedEmbedder, free_port, grow, measure_asks, ng_articles, wait_health  # noqa: E402

from tests.pg_server import free_port_pair, start_chroma, start_postgres  # noqa: E402


def load() -> str:
    """The 1-minute load average, for the line beside a timing."""
    return f"load {os.getloadavg()[0]:.1f}"


def build_embedded(settings: Settings, base: list[Article], chunks: int, cache: Path) -> tuple[int, int, float]:
    """The embedded store grown to ``chunks`` chunks (replicas embedded from the memo); articles, chunks, seconds."""
    embedder = CachedEmbedder(make_embedder(settings), cache)
    assistant = Assistant(settings, embedder=embedder)
    t0 = time.perf_counter()
    grow(assistant, base, chunks, 0)
    seconds = time.perf_counter() - t0
    embedder.save()
    docs, stored = assistant.docstore.counts()
    assistant.close()
    return docs, stored, seconds


def asks(settings: Settings, questions: list[str], n: int) -> dict[str, float]:
    """archive.py's latency figures (floor, retrieval, whole ask) on a fresh assistant with the real model."""
    assistant = Assistant(settings)
    try:
        return measure_asks(assistant, questions, n)
    finally:
        assistant.close()


def replica_lag(env: dict[str, str], uploads: list[Article], root: Path) -> list[float]:
    """Seconds from an upload's return on replica A until replica B's answer quotes it, per upload."""
    import httpx

    ports = [free_port(), free_port()]
    procs = [subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--no-demo", "--port", str(port)],
                              env={**env, "ASSISTANT_DATA_DIR": str(root / f"replica{i}")},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i, port in enumerate(ports)]
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    lags = []
    try:
        for base in (a, b):
            wait_health(base, time.perf_counter())
        for art in uploads:
            text = f"title {art.title}\ndate {art.date}\nsource НГ\n\n{art.text}"
            res = httpx.post(f"{a}/api/ingest", files={"files": (f"{art.doc_id}.txt", text.encode())}, timeout=300)
            doc_id = res.json()["results"][0]["doc_id"]
            t0, lag = time.perf_counter(), float("nan")
            while time.perf_counter() - t0 < 60:  # a hang guard
                answer = httpx.post(f"{b}/api/ask", json={"question": art.title}, timeout=120).json()
                if any(c["doc_id"] == doc_id for c in answer["citations"]):
                    lag = time.perf_counter() - t0
                    lags.append(lag)
                    break
            print(f"upload {doc_id}: answered on B after {lag:.2f} s ({load()})", file=sys.stderr, flush=True)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(60)
    return lags


WORKER = """
import json, sys, time
from pathlib import Path
from assistant.loading import Shard
from assistant.pipeline import Assistant
from assistant.settings import Settings
a = Assistant(Settings())
a.embedder.embed_passages(["Прогрев модели."])  # the passage model is loaded before the clock starts
print("ready", flush=True)
sys.stdin.readline()
t0 = time.perf_counter()
report = a.ingest([Path(sys.argv[1])], shard=Shard.parse(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - t0, "added": report.count("added")}), flush=True)
"""


def ingest_workers(env: dict[str, str], articles: list[Article], workers: int, root: Path) -> tuple[float, int]:
    """``workers`` processes ingesting shard K of N of one JSONL file (``Assistant.ingest``, as ``assistant ingest
    --shard K/N`` does), started together once each has loaded its model: wall seconds, articles added."""
    path = root / f"ingest-{workers}.jsonl"
    path.write_text("".join(json.dumps({"id": f"{a.doc_id}-w{workers}", "title": a.title, "text": a.text,
                                        "date": a.date, "source": a.source, "url": a.url}, ensure_ascii=False) + "\n"
                            for a in articles), encoding="utf-8")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), f"{k}/{workers}"],
                              env={**env, "OMP_NUM_THREADS": "1", "ASSISTANT_DATA_DIR": str(root / f"w{workers}-{k}")},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for k in range(1, workers + 1)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", "an ingest worker failed to start"
    t0 = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    added = sum(json.loads(proc.communicate(timeout=1800)[0])["added"] for proc in procs)
    return time.perf_counter() - t0, added


def main() -> int:
    """Build, migrate, measure, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=40000)
    ap.add_argument("--base", type=int, default=64, help="real NG articles embedded (the rest are replicas)")
    ap.add_argument("--questions", type=int, default=60, help="new questions per mode (NG subtitles)")
    ap.add_argument("--uploads", type=int, default=5, help="uploads on replica A polled on replica B")
    ap.add_argument("--ingest-articles", type=int, default=40, help="articles per ingest run (one, then two workers)")
    ap.add_argument("--data", type=Path, default=None, help="work folder (default: a new temporary one)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bench-archive-embeddings.npz")
    args = ap.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="bench-modes-"))
    root.mkdir(parents=True, exist_ok=True)
    pairs = ng_articles(args.base)
    questions = [s for _, s in pairs if s.strip()][: args.questions]
    embedded = Settings(data_dir=root / "embedded", chroma_url="", database_url=SecretStr(""))
    docs, chunks, built = build_embedded(embedded, [a for a, _ in pairs], args.chunks, args.cache)
    print(f"embedded store: {docs} articles, {chunks} chunks, built in {built:.0f} s ({load()})", file=sys.stderr)
    pg_port, chroma_port = free_port_pair()
    pg, chroma = start_postgres(pg_port), start_chroma(chroma_port)
    try:
        server = embedded.model_copy(update={"data_dir": root / "server", "database_url": SecretStr(pg.url),
                                             "chroma_url": chroma.url})
        t0 = time.perf_counter()
        migrate(embedded, server, progress=lambda line: print(line, file=sys.stderr))
        print(f"migrated in {time.perf_counter() - t0:.0f} s ({load()})", file=sys.stderr, flush=True)
        rows = {}
        for name, settings in (("embedded", embedded), ("server", server)):
            rows[name] = {**asks(settings, questions, len(questions)), "load": os.getloadavg()[0]}
            print(name, json.dumps(rows[name]), file=sys.stderr, flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ASSISTANT_DATABASE_URL": pg.url, "ASSISTANT_CHROMA_URL": chroma.url}
        new = [a for a, _ in ng_articles(args.uploads + 2 * args.ingest_articles, skip=args.base + 50)]
        lags = replica_lag(env, new[: args.uploads], root)
        lag_load = os.getloadavg()[0]
        rest = new[args.uploads:]
        ingest = {n: (*ingest_workers(env, rest[(n - 1) * args.ingest_articles: n * args.ingest_articles], n, root),
                      os.getloadavg()[0]) for n in (1, 2)}
    finally:
        chroma.stop()
        pg.stop()
    report(rows, chunks, lags, lag_load, ingest)
    return 0


def report(rows: dict[str, dict[str, float]], chunks: int, lags: list[float], lag_load: float,
           ingest: dict[int, tuple[float, int, float]]) -> None:
    """One markdown table."""
    e, s = rows["embedded"], rows["server"]
    print(f"\n| measurement ({chunks:,} chunks) | embedded | server (PostgreSQL + Chroma server) | server / embedded |"
          "\n|---|---|---|---|")
    for key, label in (("floor", "floor (query embedding + vector search) p50 / p95"),
                       ("retrieval", "retrieval + stored sentence vectors p50 / p95"), ("ask", "**ask p50 / p95**")):
        print(f"| {label} | {e[key + '_p50']:.0f} / {e[key + '_p95']:.0f} ms | {s[key + '_p50']:.0f} / "
              f"{s[key + '_p95']:.0f} ms | {s[key + '_p50'] / e[key + '_p50']:.2f} / "
              f"{s[key + '_p95'] / e[key + '_p95']:.2f} |")
    print(f"| load average during the asks | {e['load']:.1f} | {s['load']:.1f} | |")
    print(f"| upload on replica A → answer quoting it on replica B, median (max) of {len(lags)} | — | "
          f"{statistics.median(lags):.2f} s ({max(lags):.2f} s), load {lag_load:.1f} | |" if lags else
          "| upload on A → answer on B | — | never answered | |")
    for n, (seconds, added, at) in ingest.items():
        print(f"| ingest, {n} worker{'s' if n > 1 else ''} at once (real embedder, models loaded) | — | "
              f"{added} articles in {seconds:.0f} s: {added / seconds:.2f} articles/s, load {at:.1f} | |")


if __name__ == "__main__":
    sys.exit(main())
