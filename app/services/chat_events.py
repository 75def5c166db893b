"""What one chat turn produces, in order: ``Started``, ``Delta``…, then ``Finished`` or ``Failed``.

``ChatService.events`` yields them; the blocking endpoint (and WeChat) keeps the ``Finished``
result, the streaming endpoint sends each as a Server-Sent Event named ``event.name`` with
``event.data()`` as its JSON payload (the wire format the web widget reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Union

FAILED_MESSAGE = "抱歉，服务暂时出现问题，您的问题已记录，请稍后重试。"


@dataclass
class ChatResult:
    conversation_id: str
    message_id: str
    answer: str
    grounded: bool
    fallback: bool
    citations: list[dict[str, Any]]
    standalone_question: str = ""
    refusal_reason: str | None = None
    curated: bool = False  # served from a corrected answer (issue 16)
    answer_id: str | None = None


@dataclass
class Started:
    """The question is stored and understood: the ids, and the passages the answer may cite."""

    name: ClassVar[str] = "meta"
    conversation_id: str
    message_id: str
    question_id: str
    citations: list[dict[str, Any]]

    def data(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "message_id": self.message_id,
                "question_id": self.question_id, "citations": self.citations}


@dataclass
class Delta:
    """The next piece of the answer text; the pieces joined are the final answer."""

    name: ClassVar[str] = "delta"
    text: str

    def data(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass
class Finished:
    """The answer is stored (exactly once): the final text, citations, grounded and fallback flags."""

    name: ClassVar[str] = "done"
    result: ChatResult

    def data(self) -> dict[str, Any]:
        r = self.result
        return {"conversation_id": r.conversation_id, "message_id": r.message_id, "answer": r.answer,
                "grounded": r.grounded, "fallback": r.fallback, "citations": r.citations,
                "curated": r.curated, "answer_id": r.answer_id}


@dataclass
class Failed:
    """Answering failed after the question was stored (it is marked failed, never lost silently)."""

    name: ClassVar[str] = "error"
    conversation_id: str
    question_id: str
    error: Exception

    def data(self) -> dict[str, Any]:
        return {"message": FAILED_MESSAGE, "conversation_id": self.conversation_id,
                "question_id": self.question_id, "error": type(self.error).__name__}


ChatEvent = Union[Started, Delta, Finished, Failed]
