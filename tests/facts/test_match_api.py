"""The 政策计算器 through the app factory over the real sample index: /api/match, /api/calendar,
the chat hook, the staff review API, and a review kept through a re-ingest of the same version."""

from __future__ import annotations

import json
from pathlib import Path

from tests.facts.conftest import EDITOR, VIEWER

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"


def profile(pid: str) -> dict:
    for line in (DATA / "match_profiles.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["id"] == pid:
            return row
    raise KeyError(pid)


def by_key(items: list[dict]) -> dict[str, dict]:
    return {f"{i['doc_id']}#{i['article']}": i for i in items}


def test_match_statuses_urls_and_order(facts_client):
    p01 = profile("p01")  # 玉山镇规上高企, 设备投入800万元, 研发费用增长
    response = facts_client.post("/api/match", json={"profile": p01["profile"], "limit": 5000})
    assert response.status_code == 200, response.text
    data = response.json()
    items = data["items"]
    assert data["today"] == "2026-11-30" and sum(data["counts"].values()) == len(items) >= 59
    order = {"eligible": 0, "possible": 1, "ineligible": 2}
    assert [order[i["status"]] for i in items] == sorted(order[i["status"]] for i in items)
    eligible = [i for i in items if i["status"] == "eligible"]
    amounts = [i["amount_max_wan"] or 0 for i in eligible]
    assert amounts == sorted(amounts, reverse=True)
    found = by_key(items)
    renovation = next(v for k, v in found.items() if k.startswith("ks-tech-renovation-equipment-subsidy#") and k.endswith("（一）"))
    assert renovation["status"] == "eligible" and renovation["amount_max_wan"] == 500
    assert renovation["window"]["start"] == "2027-04-01"  # this year's window closed: next year's
    assert all(c["met"] is not False for c in renovation["conditions"] if c["why"].startswith("✓"))
    # expired programmes are never eligible, and say why
    for item in items:
        if item["doc_id"] in ("ks-zhigai-shuzhuan-2021", "ks-shenggui-reward-2023", "ks-innovation-consortium-2024"):
            assert item["status"] == "ineligible" and item["conditions"][0]["met"] is False
            assert "到期失效" in item["conditions"][0]["why"]
    # the card links to the article in the document page, like a citation does
    assert renovation["url"].startswith("/documents/ks-tech-renovation-equipment-subsidy#chunk-")
    page = facts_client.get(renovation["url"].split("#")[0])
    assert page.status_code == 200 and f'id="chunk-{renovation["url"].split("#chunk-")[1]}"' in page.text


def test_unknown_fields_make_items_possible(facts_client):
    data = facts_client.post("/api/match", json={"profile": {"revenue_wan": 3000, "industry": "C 制造业"}}).json()
    assert data["counts"]["eligible"] == 0 and data["counts"]["possible"] > 0
    possible = next(i for i in data["items"] if i["status"] == "possible")
    assert any(c["met"] is None and "未填写" in c["why"] for c in possible["conditions"])


def test_bad_profile_is_refused_in_chinese(facts_client):
    response = facts_client.post("/api/match", json={"profile": {"employees": -3}})
    assert response.status_code == 422


def test_calendar_with_countdown(facts_client):
    response = facts_client.get("/api/calendar", params={"from": "2026-11-01", "to": "2026-11-30"})
    assert response.status_code == 200, response.text
    entries = response.json()["items"]
    sme = [e for e in entries if e["doc_id"] == "ks-tech-sme-support"]
    assert sme and all(e["window"]["start"] == "2026-11-15" and e["countdown"] == "距截止还有15天" for e in sme)
    assert not any(e["doc_id"] == "ks-shenggui-reward-2023" for e in entries)  # expired
    assert facts_client.get("/api/calendar", params={"from": "2026-12-01", "to": "2026-01-01"}).status_code == 422


def test_profile_fields_documented_in_openapi(facts_client):
    schema = facts_client.get("/openapi.json").json()["components"]["schemas"]["CompanyProfile"]["properties"]
    assert set(schema) >= {"district", "industry", "enterprise_types", "revenue_wan", "rd_expense_wan", "employees",
                           "founded_year", "events", "equipment_investment_wan", "land_mu"}
    assert "所在区镇" in schema["district"]["description"] and "GB/T 4754" in schema["industry"]["description"]


def test_chat_answers_with_the_matched_list_cited(facts_client):
    data = facts_client.post("/api/chat", json={"message": "我们是年营收3000万的制造企业，能申请哪些补贴？"}).json()
    assert data["grounded"] and data["citations"], data
    assert "上年营收3000万元" in data["answer"] and "[1]" in data["answer"]
    first = data["citations"][0]
    assert first["chunk_id"].startswith(first["doc_id"] + "::")
    asked = facts_client.post("/api/chat", json={"message": "我们公司能申请哪些？"}).json()
    assert not asked["grounded"] and "所在区镇" in asked["answer"] and not asked["citations"]


def test_staff_review_survives_reingest_of_the_same_version(facts_client, facts_services):
    assert facts_client.get("/api/admin/facts").status_code == 401
    listing = facts_client.get("/api/admin/facts", params={"doc_id": "ks-tech-sme-support"}, headers=VIEWER).json()
    assert listing["coverage"]["documents_with_items"] >= 10 and listing["coverage"]["items"] >= 25
    target = next(i for i in listing["items"] if i["article"] == "第三条")
    item_id = target["item_id"]
    assert facts_client.patch(f"/api/admin/facts/{item_id}", json={"review": "rejected"}, headers=VIEWER).status_code == 403
    edited = facts_client.patch(f"/api/admin/facts/{item_id}", headers=EDITOR, json={
        "review": "edited", "amount_max_wan": 3, "amount_text": "一次性奖励3万元", "note": "按2026年口径"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["item"]["amount_max_wan"] == 3 and edited.json()["review"] == "edited"
    audit = facts_client.get("/api/admin/audit", params={"action": "facts_edited"}, headers=VIEWER).json()
    assert audit and audit[0]["actor"] == "carol" and audit[0]["doc_id"] == "ks-tech-sme-support"

    # Re-index the same file: the same version, so the staff edit stays and is what users see.
    ingest = facts_services.ingest
    row = ingest.registry.get("ks-tech-sme-support")
    ingest.index(ingest.prepare_file(Path(row.path)), path=row.path)
    kept = facts_services.ingest.facts.get(item_id)
    assert kept is not None and kept.review == "edited" and kept.item().amount_max_wan == 3
    matched = by_key(facts_client.post("/api/match", json={"profile": {}, "limit": 5000}).json()["items"])
    assert matched["ks-tech-sme-support#第三条"]["amount_max_wan"] == 3

    # A rejected item leaves the calculator.
    assert facts_client.patch(f"/api/admin/facts/{item_id}", json={"review": "rejected"}, headers=EDITOR).status_code == 200
    matched = by_key(facts_client.post("/api/match", json={"profile": {}, "limit": 5000}).json()["items"])
    assert "ks-tech-sme-support#第三条" not in matched
    pending = facts_client.get("/api/admin/facts", params={"review": "rejected"}, headers=VIEWER).json()["items"]
    assert [i["item_id"] for i in pending] == [item_id]
