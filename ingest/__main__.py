"""python -m ingest [PATH ...]: bring the policy index in line with files and folders."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.errors import EmbeddingModelMismatch, KunruyiError
from app.settings import get_settings
from ingest.pipeline import ADDED, FAILED, REMOVED, SKIPPED, UNCHANGED, UPDATED, IngestReport, build_ingest_service

STATUS_LABELS = {ADDED: "新增 added", UPDATED: "更新 updated", UNCHANGED: "未变 unchanged",
                 REMOVED: "删除 removed", FAILED: "失败 failed", SKIPPED: "跳过 skipped"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingest", description="Ingest policy documents into the index.")
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: KUNRUYI_CORPUS_DIR)")
    parser.add_argument("--rebuild", action="store_true", help="drop the index and embed everything again")
    parser.add_argument("--remove", metavar="DOC_ID", action="append", default=[], help="remove a document")
    parser.add_argument("--list", action="store_true", help="list indexed documents")
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def _print_list(console: Console, service) -> None:
    table = Table(title="已索引文档 Indexed documents")
    for column in ("doc_id", "标题", "文号", "分类", "有效期至", "块数", "状态"):
        table.add_column(column)
    for row in service.registry.list():
        table.add_row(row.doc_id, row.title, row.doc_number or "", row.category,
                      row.expires.isoformat() if row.expires else "", str(row.chunk_count), row.status)
    console.print(table)


def _print_report(console: Console, report: IngestReport) -> None:
    problems = [r for r in report.results if r.status in (FAILED, SKIPPED)]
    if problems:
        table = Table(title="未入库的文件 Files not ingested")
        table.add_column("文件 file")
        table.add_column("状态")
        table.add_column("原因 reason")
        for r in problems:
            table.add_row(r.name, STATUS_LABELS[r.status], r.reason)
        console.print(table)
    counts = report.counts()
    summary = Table(title="入库汇总 Summary" + ("（试运行 dry run，未写入）" if report.dry_run else ""))
    for status in (ADDED, UPDATED, UNCHANGED, REMOVED, FAILED, SKIPPED):
        summary.add_column(STATUS_LABELS[status], justify="right")
    summary.add_row(*(str(counts.get(s, 0)) for s in (ADDED, UPDATED, UNCHANGED, REMOVED, FAILED, SKIPPED)))
    console.print(summary)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    console = Console(stderr=False)
    settings = get_settings()
    try:
        service = build_ingest_service(settings)
    except EmbeddingModelMismatch as exc:
        if not args.rebuild:
            console.print(f"[red]{exc.message}[/red]")
            return 2
        service = _build_for_rebuild(settings)
    except KunruyiError as exc:
        console.print(f"[red]{exc.message}[/red]")
        return 2

    if args.list:
        _print_list(console, service)
        return 0
    if args.remove:
        report = IngestReport(dry_run=args.dry_run)
        for doc_id in args.remove:
            report.results.append(service.remove(doc_id) if not args.dry_run else
                                  _dry_remove(service, doc_id))
        _print_report(console, report)
        return 1 if report.failed else 0

    paths = args.paths or [settings.corpus_dir]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[current]}"), console=console, disable=args.quiet,
                  transient=True) as bar:
        task = bar.add_task("入库 ingesting", total=None, current="")
        report = service.sync(
            paths, dry_run=args.dry_run, rebuild=args.rebuild,
            on_start=lambda n: bar.update(task, total=n),
            progress=lambda name: bar.update(task, advance=1, current=name),
        )
    _print_report(console, report)
    return 1 if report.failed else 0


def _build_for_rebuild(settings):
    """--rebuild after an embedding-model change: drop the old collection, then open it anew."""
    from app.components.vector_store import connect

    client = connect(settings)
    try:
        client.delete_collection(settings.chroma_collection)
    except Exception:  # noqa: BLE001 - already gone
        pass
    return build_ingest_service(settings)


def _dry_remove(service, doc_id):
    from ingest.pipeline import FileResult

    row = service.registry.get(doc_id)
    if row is None or row.status == "deleted":
        return FileResult(doc_id, FAILED, doc_id=doc_id, reason="文档不存在或已删除")
    return FileResult(row.source, REMOVED, doc_id=doc_id)


if __name__ == "__main__":
    sys.exit(main())
