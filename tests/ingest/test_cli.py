"""`python -m ingest` as staff run it: a subprocess configured through KUNRUYI_* variables."""

from __future__ import annotations

import shutil

SUMMARY_LABELS = ["新增 added", "更新 updated", "未变 unchanged", "删除 removed", "失败 failed", "跳过 skipped"]


def summary(stdout: str) -> dict[str, int]:
    """The counts of the 入库汇总 Summary table that the CLI prints (rich box drawing)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "入库汇总 Summary" in line)
    header = next(line for line in lines[start:] if line.startswith("┃"))
    values = next(line for line in lines[start:] if line.startswith("│"))
    labels = [cell.strip() for cell in header.strip().strip("┃").split("┃")]
    counts = [int(cell.strip()) for cell in values.strip().strip("│").split("│")]
    assert labels == SUMMARY_LABELS, labels
    return {label.split()[1]: count for label, count in zip(labels, counts)}


def counts(**nonzero: int) -> dict[str, int]:
    base = {label.split()[1]: 0 for label in SUMMARY_LABELS}
    base.update(nonzero)
    return base


def problem_rows(stdout: str) -> list[list[str]]:
    """Rows of the 未入库的文件 table: [file, status, reason]."""
    lines = stdout.splitlines()
    if not any("未入库的文件" in line for line in lines):
        return []
    start = next(i for i, line in enumerate(lines) if "未入库的文件" in line)
    end = next(i for i, line in enumerate(lines) if "入库汇总 Summary" in line)
    return [[cell.strip() for cell in line.strip().strip("│").split("│")]
            for line in lines[start:end] if line.startswith("│")]


def test_cli_sync_prints_the_summary_and_exit_codes(tmp_path, make_corpus, small_docs, station_edit, fixtures_dir,
                                                    ingest_cli):
    corpus = make_corpus(files=small_docs)
    shutil.copy(fixtures_dir / "broken.pdf", corpus / "broken.pdf")
    shutil.copy(fixtures_dir / "unsupported.xyz", corpus / "unsupported.xyz")
    data = tmp_path / "data"

    dry = ingest_cli(corpus, "--dry-run", "-q", data_dir=data)
    assert dry.returncode == 1, dry.stdout + dry.stderr  # broken.pdf fails in a dry run too
    assert "试运行" in dry.stdout
    assert summary(dry.stdout) == counts(added=3, failed=1, skipped=1)

    first = ingest_cli(corpus, "-q", data_dir=data)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "试运行" not in first.stdout
    assert summary(first.stdout) == counts(added=3, failed=1, skipped=1)
    problems = {row[0].rsplit("/", 1)[-1]: row[1:] for row in problem_rows(first.stdout)}
    assert problems["broken.pdf"][0] == "失败 failed" and "损坏" in problems["broken.pdf"][1]
    assert problems["unsupported.xyz"][0] == "跳过 skipped" and "不支持" in problems["unsupported.xyz"][1]

    (corpus / "broken.pdf").unlink()
    (corpus / "unsupported.xyz").unlink()
    (corpus / "station.md").write_text(small_docs["station.md"] + station_edit, encoding="utf-8")
    (corpus / "talent.md").unlink()
    second = ingest_cli(corpus, "-q", data_dir=data)
    assert second.returncode == 0, second.stdout + second.stderr
    assert summary(second.stdout) == counts(updated=1, unchanged=1, removed=1)
    assert problem_rows(second.stdout) == []

    # Without -q the progress bar is transient: the summary is printed all the same.
    third = ingest_cli(corpus, data_dir=data)
    assert third.returncode == 0
    assert summary(third.stdout) == counts(unchanged=2)


def test_cli_list_and_remove(tmp_path, make_corpus, small_docs, ingest_cli):
    corpus = make_corpus(files=small_docs)
    data = tmp_path / "data"
    # No path given: the CLI syncs KUNRUYI_CORPUS_DIR.
    first = ingest_cli("-q", data_dir=data, extra_env={"KUNRUYI_CORPUS_DIR": str(corpus)})
    assert first.returncode == 0, first.stdout + first.stderr
    assert summary(first.stdout) == counts(added=3)

    listed = ingest_cli("--list", data_dir=data)
    assert listed.returncode == 0
    for doc_id, title in (("t-bond", "工业用地履约保证金管理办法（测试）"), ("t-station", "企业服务驿站常见问答（测试）"),
                          ("t-talent", "青年人才生活补贴办法（测试）")):
        row = next(line for line in listed.stdout.splitlines() if f" {doc_id} " in line)
        assert title in row and "active" in row
    assert "2027-06-19" in next(line for line in listed.stdout.splitlines() if " t-bond " in line)

    removed = ingest_cli("--remove", "t-bond", data_dir=data)
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert summary(removed.stdout) == counts(removed=1)
    listed = ingest_cli("--list", data_dir=data)
    assert " t-bond " not in listed.stdout and " t-station " in listed.stdout

    unknown = ingest_cli("--remove", "no-such-doc", data_dir=data)
    assert unknown.returncode == 1
    assert summary(unknown.stdout) == counts(failed=1)
    assert "文档不存在" in unknown.stdout
