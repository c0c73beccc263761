"""The answer stage: from retrieved chunks to a short answer with citations."""
