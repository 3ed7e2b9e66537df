"""A bounded loopback load test of the web app: N clients asking for S seconds on /api/ask or the Gradio queue.

By hand (records the numbers in docs/benchmarks.md, "Load"): ``python -m tests.loadtest --seconds 30 --clients 20``
(ingests the demo corpus into a temporary data dir first). The test suite runs a shorter version.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

QUESTIONS = [
    "Какие документы были подписаны во время визита?",
    "Что заблокировал Роскомнадзор?",
    "Кто выиграл выборы?",
    "Где произошло землетрясение?",
    "Сколько человек погибло?",
]


@dataclass
class LoadResult:
    """Latencies of the successful requests and the errors, of one run."""

    target: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def pct(self, q: float) -> float:
        """The q-quantile latency in seconds."""
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")

    def line(self) -> str:
        """One line: requests, rate, p50/p95, errors."""
        n = len(self.latencies)
        mean = statistics.fmean(self.latencies) if self.latencies else float("nan")
        return (f"{self.target}: {n} answers in {self.seconds:.0f} s ({n / self.seconds:.1f} req/s), "
                f"p50 {self.pct(0.5):.2f} s, p95 {self.pct(0.95):.2f} s, mean {mean:.2f} s, errors {len(self.errors)}")


def ask_api(http: httpx.Client, question: str) -> None:
    """One /api/ask request; raises on any failure."""
    resp = http.post("/api/ask", json={"question": question})
    resp.raise_for_status()
    assert resp.json()["answer"]


def ask_queue(http: httpx.Client, question: str) -> None:
    """One call through the Gradio queue (POST /gradio_api/call/ask, then its event stream); raises on failure."""
    resp = http.post("/gradio_api/call/ask", json={"data": [question, "", "", [], []]})
    resp.raise_for_status()
    event_id = resp.json()["event_id"]
    with http.stream("GET", f"/gradio_api/call/ask/{event_id}") as stream:
        events = [line for line in stream.iter_lines() if line.startswith("event:")]
    if not events or events[-1].strip() != "event: complete":
        raise RuntimeError(f"queue call ended with {events[-1:] or 'nothing'}")


def run_load(base_url: str, target: str = "api", clients: int = 20, seconds: float = 10.0) -> LoadResult:
    """``clients`` threads asking in a loop for ``seconds``; every failure is recorded."""
    call = ask_api if target == "api" else ask_queue
    result = LoadResult(target=f"{target} ({clients} clients)", seconds=seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as http:
            i = n
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    call(http, QUESTIONS[i % len(QUESTIONS)])
                except Exception as exc:  # noqa: BLE001 - every failure counts
                    with lock:
                        result.errors.append(f"{exc.__class__.__name__}: {exc}")
                else:
                    with lock:
                        result.latencies.append(time.perf_counter() - started)
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result


def main() -> None:
    """Serve the demo corpus on a free loopback port and load it."""
    from assistant.pipeline import Assistant
    from assistant.settings import Settings
    from assistant.web import build_app
    from assistant.web.server import BackgroundServer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings(data_dir=Path(tmp), llm=""))
        assistant.ingest([Path(__file__).resolve().parent.parent / "corpus"])
        with BackgroundServer(build_app(assistant)) as url:
            run_load(url, "api", clients=1, seconds=1)  # warm up: keyword index, model
            for target in ("api", "queue"):
                print(run_load(url, target, args.clients, args.seconds).line(), flush=True)
        assistant.close()


if __name__ == "__main__":
    main()
