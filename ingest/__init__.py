"""Corpus ingestion: files -> clean text -> structured chunks -> embeddings -> Chroma + SQL registry."""
