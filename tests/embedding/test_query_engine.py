"""Questions are embedded by ONNX Runtime (exported offline from the converted checkpoint): fp32 matches
sentence-transformers, int8 stays close; the torch model is loaded only when passages are embedded."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embedding import E5SentenceTransformer, EmbeddingError, OnnxE5
from assistant.pipeline import Assistant

from ..conftest import cache_dir, make_settings

QUESTIONS = ["Какие документы были подписаны во время визита?", "Что заблокировал Роскомнадзор?",
             "Where will Obama's daughter study?"]


def test_onnx_query_vectors_match_torch(tmp_path: object, assistant: Assistant) -> None:
    embedder = assistant.embedder
    assert isinstance(embedder, E5SentenceTransformer) and embedder.query_engine is not None
    torch_fp32 = E5SentenceTransformer(make_settings(tmp_path, query_engine="torch", bf16="off"))  # type: ignore[arg-type]
    reference = torch_fp32.embed_queries(QUESTIONS)
    onnx_fp32 = OnnxE5(embedder.path, cache_dir(), int8=False).embed(QUESTIONS, "query")
    assert (onnx_fp32 * reference).sum(1).min() > 0.9999
    int8 = embedder.embed_queries(QUESTIONS)  # the default query engine
    assert int8.shape == (3, 384) and np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    assert (int8 * reference).sum(1).min() > 0.97
    long_text = "Новость. " * 400  # over 510 tokens: windows averaged like encode_e5
    assert (OnnxE5(embedder.path, cache_dir(), int8=False).embed([long_text], "passage")
            @ torch_fp32.embed_passages([long_text]).T)[0, 0] > 0.9999


def test_a_process_that_only_asks_never_loads_torch_model(tmp_path: object) -> None:
    embedder = E5SentenceTransformer(make_settings(tmp_path))  # type: ignore[arg-type]
    embedder.embed_query("Что заблокировал Роскомнадзор?")
    assert embedder._model is None
    with pytest.raises(EmbeddingError, match="ASSISTANT_QUERY_ENGINE"):
        E5SentenceTransformer(make_settings(tmp_path, query_engine="gpu"))  # type: ignore[arg-type]


def test_openai_embeddings_are_retried_after_a_503(tmp_path: object) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from assistant.embedding import make_embedder

    calls: list[int] = []

    class Flaky(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 - the http.server interface
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append(len(body["input"]))
            status = 503 if len(calls) == 1 else 200
            data = {"data": [{"index": i, "embedding": [1.0, float(i)]} for i in range(len(body["input"]))]}
            payload = json.dumps(data if status == 200 else {"error": "warming up"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        embedder = make_embedder(make_settings(tmp_path, embeddings=f"openai:{url}", embed_batch_size=2))  # type: ignore[arg-type]
        vectors = embedder.embed_passages(["а", "б", "в"])
    finally:
        server.shutdown()
    assert calls == [2, 2, 1] and vectors.shape == (3, 2)  # the first batch was sent again after the 503
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
