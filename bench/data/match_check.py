"""Checks the hand-labelled 政策计算器 data (match_items.jsonl, match_profiles.jsonl) for consistency.

    python bench/data/match_check.py          # verify: vocabulary, unique keys, expected sets
    python bench/data/match_check.py --write  # recompute every profile's expected sets after editing labels

The expected sets follow the reference rules in MATCH_README.md: a condition is met, failed or
unknown (the profile does not give the field); expired items are never eligible.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ITEMS = HERE / "match_items.jsonl"
PROFILES = HERE / "match_profiles.jsonl"
TODAY = dt.date(2026, 11, 30)

FIELDS = {"region", "industry", "enterprise_type", "revenue_wan", "rd_expense_wan", "rd_ratio", "investment_wan",
          "employees", "years_established", "land_mu", "event"}
OPS = {"eq", "in", "gte", "gt", "lte", "lt", "has"}
BENEFITS = {"奖励", "补贴", "贴息", "用地", "人才", "资质认定"}
PROFILE_FIELDS = {"district", "industry", "enterprise_types", "revenue_wan", "rd_expense_wan", "employees",
                  "founded_year", "events", "equipment_investment_wan", "land_mu"}
KUNSHAN = {"玉山镇", "巴城镇", "周市镇", "陆家镇", "花桥镇", "花桥经济开发区", "张浦镇", "千灯镇", "淀山湖镇",
           "周庄镇", "锦溪镇", "昆山开发区", "昆山高新区", "昆山市"}
SUZHOU_OTHER = {"苏州工业园区", "苏州高新区", "虎丘区", "吴中区", "相城区", "姑苏区", "吴江区", "常熟市",
                "张家港市", "太仓市", "苏州市"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def profile_value(profile: dict, field: str):
    """The profile's value for a condition field, or None when the profile does not give it."""
    if field == "region":
        return profile.get("district")
    if field == "enterprise_type":
        return profile.get("enterprise_types")
    if field == "event":
        return profile.get("events")
    if field == "rd_ratio":
        rd, revenue = profile.get("rd_expense_wan"), profile.get("revenue_wan")
        return None if rd is None or not revenue else rd / revenue
    if field == "years_established":
        year = profile.get("founded_year")
        return None if year is None else TODAY.year - year
    if field == "investment_wan":
        return profile.get("equipment_investment_wan")
    return profile.get(field)


def _in_region(district: str, value: str) -> bool:
    if value == "昆山":
        return district in KUNSHAN
    if value == "苏州":
        return district in KUNSHAN or district in SUZHOU_OTHER
    return district == value


def condition_met(profile: dict, cond: dict) -> bool | None:
    field, op, value = cond["field"], cond["op"], cond["value"]
    have = profile_value(profile, field)
    if have is None:
        return None
    values = value if isinstance(value, list) else [value]
    if field == "region":
        return any(_in_region(have, v) for v in values)
    if field == "industry":  # compare the GB/T 4754 门类 letter
        return have.split()[0] in {v.split()[0] for v in values}
    if field in ("enterprise_type", "event"):  # a list on the profile: has / in = any of
        return any(v in have for v in values)
    compare = {"gte": float.__ge__, "gt": float.__gt__, "lte": float.__le__, "lt": float.__lt__, "eq": float.__eq__}[op]
    return compare(float(have), float(value))


def expected_status(profile: dict, item: dict) -> str:
    if item.get("expires") and dt.date.fromisoformat(item["expires"]) < TODAY:
        return "ineligible"
    results = [condition_met(profile, c) for c in item["conditions"]]
    if False in results:
        return "ineligible"
    if None in results:
        return "possible"
    return "eligible"


def expected_sets(profile: dict, items: list[dict]) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {"eligible": [], "possible": [], "ineligible": []}
    for item in items:
        sets[expected_status(profile, item)].append(item["key"])
    return sets


def check_items(items: list[dict]) -> list[str]:
    problems = []
    keys = [i["key"] for i in items]
    problems += [f"duplicate key {k}" for k in sorted({k for k in keys if keys.count(k) > 1})]
    for i in items:
        if i["key"] != f"{i['doc_id']}#{i['article']}":
            problems.append(f"{i['key']}: key is not doc_id#article")
        if i["benefit"] not in BENEFITS:
            problems.append(f"{i['key']}: benefit {i['benefit']}")
        for c in i["conditions"]:
            if c["field"] not in FIELDS or c["op"] not in OPS:
                problems.append(f"{i['key']}: condition {c}")
        window = i.get("window") or {}
        for key in ("start", "end"):
            if window.get(key):
                dt.date.fromisoformat(window[key])
    return problems


def main(write: bool = False) -> int:
    items = read_jsonl(ITEMS)
    profiles = read_jsonl(PROFILES)
    problems = check_items(items)
    for p in profiles:
        unknown = set(p["profile"]) - PROFILE_FIELDS
        if unknown:
            problems.append(f"{p['id']}: unknown profile fields {sorted(unknown)}")
        sets = expected_sets(p["profile"], items)
        if write:
            p["expected"] = sets
        elif {k: sorted(v) for k, v in p["expected"].items()} != {k: sorted(v) for k, v in sets.items()}:
            problems.append(f"{p['id']}: expected sets differ from the reference rules")
    if write:
        PROFILES.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in profiles), encoding="utf-8")
    for line in problems:
        print(line)
    docs = {i["doc_id"] for i in items}
    eligible = sum(len(p["expected"]["eligible"]) for p in profiles) if not write else sum(
        len(expected_sets(p["profile"], items)["eligible"]) for p in profiles)
    print(f"{len(items)} items in {len(docs)} documents, {len(profiles)} profiles, "
          f"{eligible} eligible pairs, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(write="--write" in sys.argv))
