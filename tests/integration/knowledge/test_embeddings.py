"""Semantic search with all-MiniLM-L6-v2 in NumPy: tested only where the embeddings extra
and the model's weights are installed (the skip says what is missing); the refusal without
them is tested everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imperium.adapters.knowledge.embeddings import (
    EmbeddingsUnavailableError,
    MiniLMEncoder,
    load_embedder,
)


def test_a_missing_model_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingsUnavailableError, match="imperium\\[embeddings\\]"):
        load_embedder(str(tmp_path))


@pytest.fixture(scope="module")
def encoder() -> Iterator[MiniLMEncoder]:
    try:
        yield load_embedder()
    except EmbeddingsUnavailableError as exc:
        pytest.skip(f"embeddings not installed here: {exc}")


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_published_similarity_of_a_pair(encoder: MiniLMEncoder) -> None:
    """sentence-transformers' documentation prints 0.7553 for this pair with this model."""
    food, bread = encoder.embed(["A man is eating food.", "A man is eating a piece of bread."])
    assert cosine(food, bread) == pytest.approx(0.7553, abs=0.002)
    assert cosine(food, food) == pytest.approx(1.0, abs=1e-5)


def test_meaning_without_shared_words(encoder: MiniLMEncoder) -> None:
    query, close, far = encoder.embed([
        "stop a running coroutine", "How do I cancel an asyncio task?", "Tomatoes need sun",
    ])  # fmt: skip
    assert cosine(query, close) > cosine(query, far) + 0.2
