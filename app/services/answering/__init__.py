"""Answer backends: extractive (default, no LLM), any OpenAI-compatible endpoint, local GGUF."""

from app.services.answering.base import Answer, AnswerContext, Citation, compose_footer
from app.services.answering.factory import create_answerer

__all__ = ["Answer", "AnswerContext", "Citation", "compose_footer", "create_answerer"]
