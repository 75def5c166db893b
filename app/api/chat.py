from __future__ import annotations

import json
from typing import Annotated, Iterator, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field

from app.api.deps import ChatDep, ConversationsDep, admit_rate
from app.api.inputs import CleanText
from app.errors import ConversationNotFound, MessageNotFound
from app.services.chat import Turn

router = APIRouter(prefix="/api", tags=["chat"])


class ChatRequest(BaseModel):
    message: CleanText = Field(description="The user's question (1–1000 characters by default)", examples=["昆山对省级创新联合体给多少支持？"])
    conversation_id: CleanText | None = Field(None, max_length=200, description="Continue a conversation; unknown ids start a new one")


class CitationPublic(BaseModel):
    n: int = Field(description="The number used as [n] in the answer")
    doc_id: str
    title: str = Field(description="Document title")
    doc_number: str | None = Field(None, description="文号")
    article: str = Field(description="Article or clause, e.g. 第五条 or （一）支持创新联合体建设")
    heading_path: str = Field("", description="Full heading path of the cited passage")
    source: str = Field(description="Original file name (or URL) of the document")
    url: str | None = Field(None, description="Official link")
    snippet: str = Field(description="The cited passage")
    expires: str | None = Field(None, description="有效期至 (ISO date)")
    expired: bool = Field(description="True when the policy has expired")
    sample: bool = Field(False, description="True for illustrative sample documents")
    chunk_id: str = Field("", description="Id of the cited chunk (for #chunk-… links)")


class ChatResponse(BaseModel):
    conversation_id: str
    message_id: str = Field(description="Id of the answer message (for feedback)")
    answer: str = Field(description="Answer text (Markdown) with [n] citation marks")
    grounded: bool = Field(description="False for refusals: no evidence, off-topic or unsafe questions")
    fallback: bool = Field(description="True when the LLM failed and the extractive answer was used")
    citations: list[CitationPublic]
    curated: bool = Field(False, description="True when the answer is a staff-corrected answer (工作人员答复)")
    answer_id: str | None = Field(None, description="Id of the corrected answer served (when curated)")


class MessagePublic(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    content: str
    status: str
    grounded: bool | None = None
    fallback: bool | None = None
    citations: list[CitationPublic] | None = None
    created_at: str


class ConversationPublic(BaseModel):
    id: str
    messages: list[MessagePublic]


class FeedbackRequest(BaseModel):
    message_id: CleanText = Field(max_length=200)
    rating: Literal["up", "down"]
    comment: CleanText | None = Field(None, max_length=2000)


@router.post("/chat", response_model=ChatResponse, responses={429: {"description": "Too many questions"}})
def chat(body: ChatRequest, service: ChatDep, request: Request) -> ChatResponse:
    """Answer a question from the policy corpus, with citations; refuses honestly when it cannot."""
    result = service.answer(body.message, body.conversation_id, counters=admit_rate(request, body.conversation_id))
    return ChatResponse(conversation_id=result.conversation_id, message_id=result.message_id, answer=result.answer,
                        grounded=result.grounded, fallback=result.fallback,
                        citations=[CitationPublic(**c) for c in result.citations],
                        curated=result.curated, answer_id=result.answer_id)


def admitted(body: ChatRequest, service: ChatDep, request: Request) -> Turn:
    """Input checks and rate limit, and the question stored, before a stream starts: a refused question is
    a 429 or 422, not a stream."""
    return service.begin(body.message, body.conversation_id, counters=admit_rate(request, body.conversation_id))


@router.post("/chat/stream", response_class=EventSourceResponse,
             responses={429: {"description": "Too many questions"}})
def chat_stream(turn: Annotated[Turn, Depends(admitted)], service: ChatDep) -> Iterator[ServerSentEvent]:
    """The same answer as Server-Sent Events: `meta` (ids, candidate citations), `delta` (text), `done`
    (final answer, citations, grounded, fallback) or `error`. Each event's data is one JSON object."""
    for event in service.events(turn.question, turn=turn):
        # raw_data: the JSON keeps Chinese as UTF-8 (the default encoding would escape every character).
        yield ServerSentEvent(event=event.name, raw_data=json.dumps(event.data(), ensure_ascii=False))


@router.get("/conversations/{conversation_id}", response_model=ConversationPublic)
def get_conversation(conversation_id: str, store: ConversationsDep) -> ConversationPublic:
    """A conversation's messages, oldest first."""
    if store.get_conversation(conversation_id) is None:
        raise ConversationNotFound("未找到该会话")
    messages = [
        MessagePublic(id=m.id, role=m.role, content=m.content, status=m.status, grounded=m.grounded,
                      fallback=m.fallback, citations=[CitationPublic(**c) for c in (m.citations or [])] if m.role == "assistant" else None,
                      created_at=m.created_at.isoformat())
        for m in store.history(conversation_id, limit=500)
    ]
    return ConversationPublic(id=conversation_id, messages=messages)


@router.post("/feedback", status_code=201)
def feedback(body: FeedbackRequest, store: ConversationsDep) -> dict:
    """Thumbs up/down and an optional comment on an answer, stored for staff."""
    message = store.get_message(body.message_id)
    if message is None or message.role != "assistant":
        raise MessageNotFound("未找到该回答，无法提交评价")
    return {"id": store.add_feedback(body.message_id, body.rating, body.comment), "status": "ok"}
