"""What citizens could not get answered: refusals grouped, answers rated down, handoffs, daily counts, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from app.admin.insight import CST
from tests.admin.conftest import EDITOR, VIEWER

UNANSWERED = [
    "北京积分落户要多少分？",
    "北京积分落户需要多少分",
    "请问北京积分落户要多少分？",
    "=HYPERLINK(\"http://evil\") 明天天气怎么样？",  # a formula: the CSV export must defuse it
]
ANSWERED = "昆山对省级创新联合体给多少支持？"


@pytest.fixture(scope="module")
def used(request, tmp_path_factory, embedder, sample_corpus_dir):
    """One app over a copy of the sample index with some conversations in it (shared by the module)."""
    import shutil

    from fastapi.testclient import TestClient

    from app.main import Services, create_app
    from app.settings import Settings
    from tests.admin.conftest import ADMIN_TOKENS

    data_dir = tmp_path_factory.mktemp("insight") / "data"
    shutil.copytree(request.getfixturevalue("sample_index"), data_dir)
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir, admin_tokens=ADMIN_TOKENS)
    services = Services.build(settings, embedder=embedder)
    with TestClient(create_app(settings, services=services)) as client:
        refusals = [client.post("/api/chat", json={"message": q}).json() for q in UNANSWERED]
        assert not any(r["grounded"] for r in refusals), refusals
        good = client.post("/api/chat", json={"message": ANSWERED}).json()
        assert good["grounded"]
        assert client.post("/api/feedback", json={"message_id": good["message_id"], "rating": "down",
                                                  "comment": "没有说明申报时间"}).status_code == 201
        assert client.post("/api/feedback", json={"message_id": refusals[0]["message_id"],
                                                  "rating": "up"}).status_code == 201
        handoff = services.conversations.add_handoff(good["conversation_id"], name="王<b>经理</b>", phone="13800000000",
                                                     company="昆山示例精密机械有限公司", note="想咨询申报材料")
        yield client, services, good, handoff


def test_unanswered_questions_grouped_by_similarity(used):
    client, *_ = used
    groups = client.get("/api/admin/insight/unanswered", headers=VIEWER).json()
    assert [g["count"] for g in groups] == [3, 1], groups
    assert set(groups[0]["examples"]) == set(UNANSWERED[:3])
    assert groups[1]["question"] == UNANSWERED[3]
    assert sum(groups[0]["reasons"].values()) == 3
    strict = client.get("/api/admin/insight/unanswered", params={"threshold": 0.999}, headers=VIEWER).json()
    assert len(strict) > 2


def test_rated_down_answers_with_comment_answer_and_citations(used):
    client, _, good, _ = used
    rows = client.get("/api/admin/insight/rated-down", headers=VIEWER).json()
    assert len(rows) == 1
    row = rows[0]
    assert (row["comment"], row["question"], row["answer"], row["message_id"]) == (
        "没有说明申报时间", ANSWERED, good["answer"], good["message_id"])
    assert row["citations"] and row["citations"][0]["title"] == good["citations"][0]["title"]


def test_handoffs_listed_and_their_status_changed(used):
    client, services, _, handoff = used
    rows = client.get("/api/admin/insight/handoffs", headers=VIEWER).json()
    assert [(h["id"], h["name"], h["status"]) for h in rows] == [(handoff, "王<b>经理</b>", "new")]
    assert client.patch(f"/api/admin/insight/handoffs/{handoff}", json={"status": "contacted"},
                        headers=VIEWER).status_code == 403
    response = client.patch(f"/api/admin/insight/handoffs/{handoff}", json={"status": "contacted"}, headers=EDITOR)
    assert response.status_code == 200 and response.json()["status"] == "contacted"
    assert client.get("/api/admin/insight/handoffs", params={"status": "new"}, headers=VIEWER).json() == []
    assert client.patch(f"/api/admin/insight/handoffs/{handoff}", json={"status": "lost"}, headers=EDITOR).status_code == 422
    assert client.patch("/api/admin/insight/handoffs/999999", json={"status": "closed"}, headers=EDITOR).status_code == 404
    audit = client.get("/api/admin/audit", params={"action": "handoff_status"}, headers=VIEWER).json()
    assert audit[0]["actor"] == "alice" and audit[0]["detail"] == {"handoff_id": handoff, "status": "contacted"}


def test_daily_counts(used):
    client, *_ = used
    today = dt.datetime.now(CST).date()
    rows = client.get("/api/admin/insight/daily", params={"start": (today - dt.timedelta(days=6)).isoformat(),
                                                          "end": today.isoformat()}, headers=VIEWER).json()
    assert len(rows) == 7 and rows[-1]["day"] == today.isoformat()
    assert {k: rows[-1][k] for k in ("questions", "refusals", "rated_down", "handoffs")} == {
        "questions": 5, "refusals": 4, "rated_down": 1, "handoffs": 1}
    assert all(r["questions"] == 0 for r in rows[:-1])
    bad = client.get("/api/admin/insight/daily", params={"start": today.isoformat(),
                                                         "end": (today - dt.timedelta(days=1)).isoformat()}, headers=VIEWER)
    assert bad.status_code == 422 and "日期" in bad.json()["message"]


def test_csv_export_of_conversations_in_a_date_range(used):
    client, _, good, _ = used
    today = dt.datetime.now(CST).date()
    response = client.get("/api/admin/insight/export.csv", params={"start": today.isoformat(), "end": today.isoformat()},
                          headers=VIEWER)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["会话ID", "渠道", "消息ID", "时间", "角色", "内容"]
    body = rows[1:]
    assert len(body) == 10  # five questions, five answers
    assert {r[5] for r in body if r[4] == "用户"} == set(UNANSWERED[:3] + ["'" + UNANSWERED[3], ANSWERED])
    rated = next(r for r in body if r[2] == good["message_id"])
    assert (rated[6], rated[9], rated[10]) == ("是", "踩", "没有说明申报时间")
    assert good["citations"][0]["title"] in rated[8]
    earlier = client.get("/api/admin/insight/export.csv", params={"start": "2020-01-01", "end": "2020-01-31"},
                         headers=VIEWER)
    assert len(list(csv.reader(io.StringIO(earlier.content.decode("utf-8-sig"))))) == 1
    assert client.get("/api/admin/insight/export.csv", params={"start": "2020-01-01", "end": "2024-01-01"},
                      headers=VIEWER).status_code == 422
    assert client.get("/api/admin/audit", params={"action": "export"}, headers=VIEWER).json()[0]["actor"] == "bob"


def test_csv_export_defuses_formulas_behind_a_tab_or_carriage_return(make_admin):
    """Some spreadsheets skip a leading TAB or CR and run the formula after it (issue 12, item 11)."""
    app = make_admin(sample=False)
    payloads = ["\t=HYPERLINK(\"http://evil.example\",\"点我\")", "\r=1+1", "=cmd|' /C calc'!A0", "@SUM(1)", "+1", "-1"]
    ids = []
    for text in payloads:
        answer = app.client.post("/api/chat", json={"message": "明天天气怎么样？"}).json()
        assert app.client.post("/api/feedback", json={"message_id": answer["message_id"], "rating": "down",
                                                      "comment": text}).status_code == 201
        ids.append(answer["message_id"])
    today = dt.datetime.now(CST).date().isoformat()
    response = app.client.get("/api/admin/insight/export.csv", params={"start": today, "end": today}, headers=VIEWER)
    rows = {r[2]: r for r in csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))}
    assert [rows[i][10] for i in ids] == ["'" + p for p in payloads]
