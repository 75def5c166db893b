"""The serving set has no gaps (issue 11, item 7): while a document is replaced, every answer about
it cites it (old or new version, never another document), and once it is deleted no answer cites
it and the question is refused rather than answered from other documents' figures."""

from __future__ import annotations

import shutil
import threading

from app.main import Services
from app.settings import Settings

QUESTION = "昆山的人才购房补贴硕士能拿多少？"
DOC_ID = "ks-talent-housing-subsidy"


def test_answers_during_replace_and_delete_stay_in_the_live_set(tmp_path, sample_index, embedder, sample_corpus_dir):
    data_dir = tmp_path / "data"
    shutil.copytree(sample_index, data_dir)
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir, keyword_refresh_seconds=0,
                        rate_limit_per_ip=0, rate_limit_per_conversation=0)
    services = Services.build(settings, embedder=embedder)
    ingest = services.ingest
    row = ingest.registry.get(DOC_ID)
    source = (sample_corpus_dir / "talent" / "ks-talent-housing-subsidy.md").read_bytes()
    edited = source + "\n\n**第十条** 本办法由市人才办负责解释。\n".encode()

    answers: list[tuple[str, list[str], bool]] = []
    stop, polled = threading.Event(), threading.Condition()
    phase = ["before"]

    def poll():
        while not stop.is_set():
            result = services.chat.answer(QUESTION)
            with polled:
                answers.append((phase[0], [c["doc_id"] for c in result.citations], result.grounded))
                polled.notify_all()

    def wait_for(count: int) -> None:
        with polled:
            assert polled.wait_for(lambda: len(answers) >= count, timeout=300)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        wait_for(2)

        def between_write_and_activate(_doc):
            # The new version's chunks are in Chroma but not yet activated: answer while it is so.
            phase[0] = "switching"
            wait_for(len(answers) + 3)

        doc = ingest.prepare(edited, name="ks-talent-housing-subsidy.md", suffix=".md")
        ingest.index(doc, path=row.path, before_activate=between_write_and_activate)
        phase[0] = "replaced"
        wait_for(len(answers) + 3)
        ingest.remove(DOC_ID)
        phase[0] = "deleted"
        wait_for(len(answers) + 3)
    finally:
        stop.set()
        poller.join(300)

    live = [a for a in answers if a[0] != "deleted"]
    assert len([a for a in live if a[0] == "switching"]) >= 3
    assert all(grounded and cited and set(cited) == {DOC_ID} for _, cited, grounded in live), live
    deleted = [a for a in answers if a[0] == "deleted"][1:]  # the first may have started before the delete
    assert deleted and all(DOC_ID not in cited for _, cited, _ in deleted), deleted
    assert all(not grounded for _, _, grounded in deleted), deleted
    versions = ingest.registry.versions(DOC_ID)
    assert [v.status for v in versions][-1] == "deleted"


def test_repeated_question_is_served_from_the_cache_until_the_corpus_changes(tmp_path, sample_index, embedder,
                                                                              sample_corpus_dir):
    data_dir = tmp_path / "data"
    shutil.copytree(sample_index, data_dir)
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir, keyword_refresh_seconds=0)
    services = Services.build(settings, embedder=embedder)
    retriever = services.retriever
    first = retriever.search("专精特新奖励什么时候申报？")
    assert retriever.search("专精特新奖励什么时候申报？") is first
    assert retriever.search("专精特新奖励要准备哪些材料？") is not first
    services.ingest.remove("ks-talent-housing-subsidy")  # any corpus change moves the generation
    again = retriever.search("专精特新奖励什么时候申报？")
    assert again is not first and again.chunks[0].doc_id == first.chunks[0].doc_id
