"""Chunk ids: ``{doc_id}::{content hash, 16 hex}::{index, 4 digits}``.

The id names the document version a chunk belongs to, so re-running an ingest writes the same
ids, and the served version's chunks are the ids that start with its prefix.
"""

from __future__ import annotations

SEP = "::"


def chunk_prefix(doc_id: str, content_hash: str) -> str:
    """``doc::hash16::``: what every chunk id of one document version starts with."""
    return f"{doc_id}{SEP}{content_hash[:16]}{SEP}"


def chunk_id(prefix: str, index: int) -> str:
    """The id of chunk ``index`` of the version with ``prefix`` (``doc::hash16::0003``)."""
    return f"{prefix}{index:04d}"


def split_chunk_id(chunk_id: str) -> tuple[str, int | None]:
    """(version prefix, index) of ``doc::hash16::0001``; an id without ``::`` is its own prefix."""
    head, sep, tail = chunk_id.rpartition(SEP)
    if not sep:
        return chunk_id, None
    return head + sep, int(tail) if tail.isdigit() else None
