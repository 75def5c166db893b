from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import CorpusDep

router = APIRouter(prefix="/api/documents", tags=["documents"])


class DocumentPublic(BaseModel):
    doc_id: str = Field(description="Stable document id")
    title: str = Field(description="标题")
    doc_number: str | None = Field(None, description="文号, e.g. 昆政发〔2021〕4号")
    issuer: str | None = Field(None, description="发文机关")
    published: dt.date | None = Field(None, description="发布日期")
    expires: dt.date | None = Field(None, description="有效期至")
    expired: bool = Field(description="True when the policy has expired")
    category: str = Field(description="subsidy | land | procedure | talent | service | other")
    url: str | None = Field(None, description="Official link")
    source: str = Field(description="Original file name")
    sample: bool = Field(description="Illustrative sample document")
    chunk_count: int
    status: str
    version: int


@router.get("", response_model=list[DocumentPublic])
def list_documents(corpus: CorpusDep, category: str | None = Query(None)) -> list[DocumentPublic]:
    """Documents in the policy index, with the metadata a citizen needs."""
    return [DocumentPublic.model_validate(d, from_attributes=True) for d in corpus.list_documents(category)]
