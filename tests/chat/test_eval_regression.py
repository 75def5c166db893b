"""A regression in retrieval quality on our eval set fails here (figures: bench/data/expected.json)."""

from __future__ import annotations

import json

from bench.common import ROOT, load_eval
from bench.eval import evaluate_answers, evaluate_retrieval

EXPECTED = json.loads((ROOT / "bench" / "data" / "expected.json").read_text(encoding="utf-8"))


def test_eval_set_is_the_one_the_issue_asks_for():
    items = load_eval()
    assert len(items) >= 60
    assert sum(item.should_refuse for item in items) >= 10
    assert {item.type for item in items} >= {"direct", "paraphrase", "detail", "followup", "refuse"}


def test_retrieval_does_not_regress(sample_services):
    metrics, _ = evaluate_retrieval(sample_services, load_eval())
    for name, expected in EXPECTED["retrieval"].items():
        assert metrics[name] >= expected - EXPECTED["tolerance"], (name, metrics)


def test_answers_and_refusals_do_not_regress(sample_services):
    metrics = evaluate_answers(sample_services, load_eval())
    for name, expected in EXPECTED["answers"].items():
        assert metrics[name] >= expected - EXPECTED["tolerance"], (name, metrics)
    assert metrics["false_refusal_rate"] <= 0.05, metrics
