"""Answer backends: extractive (default, no LLM), any OpenAI-compatible endpoint, local GGUF.

Every backend follows ``Answerer`` (answer, stream, available, and rewrite when ``rewrites``);
``WithFallback`` wraps an LLM backend so that the extractive one answers whenever it fails."""

from app.services.answering.base import Answer, AnswerContext, Answerer, Citation, Generation, compose_footer
from app.services.answering.factory import create_answerer
from app.services.answering.fallback import WithFallback

__all__ = ["Answer", "AnswerContext", "Answerer", "Citation", "Generation", "WithFallback", "compose_footer",
           "create_answerer"]
