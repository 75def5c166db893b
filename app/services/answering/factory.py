from __future__ import annotations

from typing import Callable

from app.services.answering.base import Answerer
from app.services.answering.extractive import ExtractiveAnswerer
from app.services.answering.fallback import WithFallback
from app.settings import Settings


def create_answerer(settings: Settings, term_weight: Callable[[str], float]) -> Answerer:
    """The configured backend; an LLM backend is wrapped so that the extractive one answers when it fails."""
    extractive = ExtractiveAnswerer(term_weight)
    if settings.answer_backend == "extractive":
        return extractive
    if settings.answer_backend == "openai":
        from app.services.answering.llm import OpenAIAnswerer

        return WithFallback(OpenAIAnswerer(settings), extractive)
    from app.services.answering.llm import LlamaCppAnswerer

    return WithFallback(LlamaCppAnswerer(settings), extractive)
