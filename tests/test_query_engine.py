"""Questions are embedded by ONNX Runtime (exported offline from the converted checkpoint): fp32 matches
sentence-transformers, int8 stays close; the torch model is loaded only when passages are embedded."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embedding import E5SentenceTransformer, EmbeddingError, OnnxE5
from assistant.pipeline import Assistant

from .conftest import cache_dir, make_settings

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
