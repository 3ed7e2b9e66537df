"""e5's ``query: `` / ``passage: `` prefixes written client-side for an embeddings server that ignores
``input_type`` (text-embeddings-inference, Infinity and vLLM do): a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.embedding import make_embedder

from ..conftest import make_settings


class IgnoresInputType(BaseHTTPRequestHandler):
    """``POST /v1/embeddings``: a vector from the text alone (as TEI does), every input recorded."""

    seen: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        IgnoresInputType.seen.extend(body["input"])
        data = [{"index": i, "embedding": vector(t)} for i, t in enumerate(body["input"])]
        out = json.dumps({"data": data, "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def vector(text: str) -> list[float]:
    """A deterministic vector of the text."""
    return np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint8).astype(float).tolist()


@pytest.fixture
def server() -> Iterator[str]:
    """The server's base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), IgnoresInputType)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    IgnoresInputType.seen = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_prefixes_are_written_when_the_server_ignores_input_type(server: str, tmp_path: Path) -> None:
    plain = make_embedder(make_settings(tmp_path, embeddings=f"openai:{server}"))
    same = plain.embed_queries(["снег"])[0], plain.embed_passages(["снег"])[0]
    assert np.allclose(*same)  # without prefixes, such a server embeds a question like a passage
    assert IgnoresInputType.seen == ["снег", "снег"]
    prefixed = make_embedder(make_settings(tmp_path, embeddings=f"openai:{server}", embeddings_prefixes=True))
    query, passage = prefixed.embed_queries(["снег"])[0], prefixed.embed_passages(["снег"])[0]
    assert IgnoresInputType.seen[2:] == ["query: снег", "passage: снег"] and not np.allclose(query, passage)
    assert prefixed.model_id != plain.model_id  # a store built one way refuses the other
