from __future__ import annotations

from typing import Callable

from app.services.answering.extractive import ExtractiveAnswerer
from app.settings import Settings


def create_answerer(settings: Settings, term_weight: Callable[[str], float]):
    """The configured backend; the extractive one is always built too, as the fallback."""
    extractive = ExtractiveAnswerer(term_weight)
    if settings.answer_backend == "extractive":
        return extractive, extractive
    if settings.answer_backend == "openai":
        from app.services.answering.llm import OpenAIAnswerer

        return OpenAIAnswerer(settings), extractive
    from app.services.answering.llm import LlamaCppAnswerer

    return LlamaCppAnswerer(settings), extractive
