"""转人工: a request to reach a person, stored with the conversation for staff."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.components.conversations import ConversationStore
from app.errors import ConversationNotFound, InvalidContact

# Mainland mobile and landline numbers, with optional +86, area code, hyphens, spaces and extension.
PHONE = re.compile(r"^\+?[0-9][0-9\- ]{4,18}[0-9](?:(?:转|-|#)[0-9]{1,6})?$")

LIMITS = {"name": ("姓名", 50), "phone": ("电话", 30), "company": ("企业名称", 100), "note": ("问题说明", 1000)}


@dataclass
class HandoffReceipt:
    id: int
    contact: str


class HandoffService:
    def __init__(self, conversations: ConversationStore, service_contact: str):
        self.conversations = conversations
        self.service_contact = service_contact

    @staticmethod
    def clean(field: str, value: str | None) -> str | None:
        """Strip a contact field; empty becomes None, over-long or malformed raises InvalidContact."""
        text = (value or "").strip()
        if not text:
            return None
        label, limit = LIMITS[field]
        if len(text) > limit:
            raise InvalidContact(f"{label}太长了，请控制在{limit}字以内")
        if field == "phone" and not PHONE.match(text):
            raise InvalidContact("电话号码格式不正确，请填写手机号或带区号的固定电话")
        return text

    def request(self, conversation_id: str, *, name: str | None = None, phone: str | None = None,
                company: str | None = None, note: str | None = None) -> HandoffReceipt:
        if not conversation_id or self.conversations.get_conversation(conversation_id) is None:
            raise ConversationNotFound("未找到该会话，请先提问后再转人工")
        values = {"name": name, "phone": phone, "company": company, "note": note}
        cleaned = {field: self.clean(field, value) for field, value in values.items()}
        handoff_id = self.conversations.add_handoff(conversation_id, **cleaned)
        return HandoffReceipt(id=handoff_id, contact=self.service_contact)
