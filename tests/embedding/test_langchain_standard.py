"""LangChain's own conformance suites (langchain-tests) against the project's Embeddings and Retriever adapters."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from assistant.embedding import LangChainEmbeddings
from assistant.pipeline import Assistant
from assistant.retrieving import LangChainRetriever

from ..conftest import SEED_QUESTION


class _WithAssistant:
    """Gives the suites' constructor params the session's real assistant (model, Chroma, BM25)."""

    shared: Assistant

    @pytest.fixture(autouse=True)
    def _use_assistant(self, assistant: Assistant) -> None:
        type(self).shared = assistant


class _OurEmbeddings(_WithAssistant):
    """The embeddings under test in both suites: ours, on the session's real model."""

    @property
    def embeddings_class(self) -> type[Embeddings]:
        return LangChainEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"embedder": self.shared.embedder}


class TestEmbeddingsUnit(_OurEmbeddings, EmbeddingsUnitTests):
    pass


class TestEmbeddingsIntegration(_OurEmbeddings, EmbeddingsIntegrationTests):
    pass


class TestRetrieverIntegration(_WithAssistant, RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return LangChainRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"hybrid": self.shared.retriever, "embed_query": self.shared.embedder.embed_query}

    @property
    def retriever_query_example(self) -> str:
        return SEED_QUESTION
