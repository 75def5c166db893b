"""Issue 16 fixtures: staff apps (editor, viewer, and reviewer tokens) over an empty index with the
invented 萤火虫 policy uploaded, so every test starts from a document only uploads can answer about."""

from __future__ import annotations

import pytest

from app.admin.auth import hash_token
from tests.admin.conftest import (ADMIN_TOKENS, EDITOR, FIREFLY_V1, AdminApp, gate, make_admin,  # noqa: F401
                                  sample_index)

REVIEWER_TOKEN = "test-reviewer-token-5b2d7c9e1a"
REVIEWER = {"Authorization": f"Bearer {REVIEWER_TOKEN}"}
TOKENS = f"{ADMIN_TOKENS},carol:reviewer:{hash_token(REVIEWER_TOKEN)}"

# Refused by the rules (a personal tax question), which is what a staff member corrects.
UNANSWERED = "萤火虫栖息地保护补贴需要缴纳个人所得税吗？"
PARAPHRASES = ("萤火虫栖息地保护补贴要交个人所得税吗？", "萤火虫栖息地保护补贴需不需要缴个税？")
CORRECTED = "萤火虫栖息地保护补贴发放给企业，不涉及个人所得税；企业收到的补贴按规定计入企业收入。"
AMOUNT_QUESTION = "萤火虫栖息地保护补贴每平方米补贴多少钱？"


def firefly_doc_id(app: AdminApp) -> str:
    return next(d["doc_id"] for d in app.client.get("/api/admin/documents", headers=EDITOR).json()
                if "萤火虫" in d["title"])


@pytest.fixture
def staff(make_admin):  # noqa: F811
    """``staff(**settings)``: an empty index with the 萤火虫 policy indexed and a reviewer token."""

    def make(**overrides) -> AdminApp:
        app = make_admin(sample=False, admin_tokens=TOKENS, rate_limit_per_ip=0, rate_limit_per_conversation=0,
                         **overrides)
        job = app.upload(("firefly.md", FIREFLY_V1.encode()))
        assert job.status_code == 202, job.text
        assert app.wait_job(job.json()["id"])["status"] == "done"
        return app

    return make
