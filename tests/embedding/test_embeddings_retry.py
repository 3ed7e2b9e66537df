"""The ``openai:`` embeddings backend against a local endpoint that rate-limits: it waits as ``Retry-After`` says."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from assistant.embedding import EmbeddingError, make_embedder

from ..conftest import make_settings

pytestmark = pytest.mark.slow  # servers, subprocesses or the real model: outside `pytest -m "not slow"`


def rate_limited_server(retry_after: str, limited: int) -> tuple[ThreadingHTTPServer, list[float]]:
    """An embeddings endpoint that answers 429 with ``Retry-After`` to its first ``limited`` requests."""
    calls: list[float] = []

    class Limited(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(time.monotonic())
            if len(calls) <= limited:
                status, data = 429, {"error": {"message": "slow down", "type": "rate_limit"}}
            else:
                status = 200
                data = {"object": "list", "model": body["model"], "data": [
                    {"object": "embedding", "index": i, "embedding": [1.0, float(i)]} for i in range(len(body["input"]))]}
            payload = json.dumps(data).encode()
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Limited)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, calls


def test_a_429_is_retried_after_the_retry_after_wait(tmp_path: Path) -> None:
    server, calls = rate_limited_server("3", limited=1)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        vectors = make_embedder(make_settings(tmp_path, embeddings=f"openai:{url}")).embed_passages(["а", "б"])
    finally:
        server.shutdown()
    assert len(calls) == 2 and vectors.shape == (2, 2) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert calls[1] - calls[0] >= 2.9  # the server asked for 3 s (a fixed backoff waited 0.5 s)


def test_rate_limited_to_the_end_is_a_clear_error(tmp_path: Path) -> None:
    server, calls = rate_limited_server("0", limited=100)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        with pytest.raises(EmbeddingError, match=r"embeddings endpoint http://127\.0\.0\.1:\d+/v1 failed.*429"):
            make_embedder(make_settings(tmp_path, embeddings=f"openai:{url}")).embed_queries(["вопрос"])
    finally:
        server.shutdown()
    assert len(calls) == 4  # the first try and three retries
