"""Ingest time of the demo corpus and ask latency (p50/p95), with peak memory, on a fresh store.

Run: python bench/ask_latency.py [--questions 60]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from assistant.pipeline import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Какие документы были подписаны во время визита?", "Какая лаборатория лишена аккредитации?",
    "Что заблокировал Роскомнадзор?", "Сколько дней астронавт провела в космосе?",
    "Где будет учиться дочь Барака Обамы?", "Какой рецепт борща самый вкусный?",
    "Что было в мае 2016?", "Кто посетил центр искусственного интеллекта?",
]


def main() -> None:
    """Measure and print."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=60)
    args = ap.parse_args()
    started = time.perf_counter()
    assistant = Assistant(Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-"))))
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    report = assistant.ingest([ROOT / "corpus"])
    ingest = time.perf_counter() - started
    docs, chunks = assistant.docstore.counts()
    times = []
    for i in range(args.questions):
        t0 = time.perf_counter()
        assistant.ask(QUESTIONS[i % len(QUESTIONS)])
        times.append((time.perf_counter() - t0) * 1000)
    cold = times[: len(QUESTIONS)]
    warm = sorted(times[len(QUESTIONS):]) or sorted(times)
    print(f"model load {loaded:.1f} s; ingest {report.summary()} — {docs} docs, {chunks} chunks in {ingest:.1f} s "
          f"({chunks / ingest:.1f} chunks/s)")
    print(f"ask, first pass over {len(cold)} questions: mean {statistics.fmean(cold):.0f} ms")
    print(f"ask, repeated: p50 {warm[len(warm) // 2]:.0f} ms, p95 {warm[int(len(warm) * 0.95) - 1]:.0f} ms")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
