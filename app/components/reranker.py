"""Optional cross-encoder reranking (sentence-transformers ``CrossEncoder``); off by default."""

from __future__ import annotations

import os

from app.errors import ConfigurationError, MissingExtraError
from app.settings import Settings


def create_reranker(settings: Settings):
    if not settings.reranker_model:
        return None
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as exc:
        raise MissingExtraError("sentence-transformers 未安装：请安装可选依赖 pip install '.[st]'") from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return CrossEncoder(settings.reranker_model, device="cpu")
    except OSError as exc:
        raise ConfigurationError(f"无法加载重排序模型 {settings.reranker_model}：{exc}") from exc
