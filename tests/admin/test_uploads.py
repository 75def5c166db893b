"""Refused uploads: each gets a clear Chinese message and writes nothing (no file, row, chunk or job)."""

from __future__ import annotations

import io
import re
import time
import zipfile

import pytest

from tests.admin.conftest import EDITOR, docx_bytes

GOOD_MD = "# 昆山示例上传检查测试办法\n\n第一条 本办法用于上传检查测试，内容为测试样例。\n".encode()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def admin(make_admin):
    # Small caps so the bombs and the oversize file stay small.
    return make_admin(sample=False, upload_max_mb=0.5, upload_max_unpacked_mb=2, upload_max_zip_entries=50)


def refused(admin, files, status, *words, **form):
    before = admin.written()
    response = admin.upload(*files, **form)
    assert response.status_code == status, response.text
    body = response.json()
    assert re.search(r"[\u4e00-\u9fff]", body["message"]), body
    for word in words:
        assert word in body["message"], body["message"]
    assert admin.written() == before, "a refused upload wrote something"
    return body


def test_oversize_file_is_refused(admin):
    big = ("# 很大的文件\n\n" + "政策内容。" * 60_000).encode()
    assert len(big) > 0.5 * 1024 * 1024
    refused(admin, [("big.md", big)], 413, "上限")


@pytest.mark.parametrize(("name", "data", "words"), [
    ("fake.pdf", GOOD_MD, ["不是 PDF"]),
    ("fake.docx", b"%PDF-1.4\n" + b"0" * 200, ["不是 DOCX"]),
    ("program.txt", b"MZ\x90\x00" + b"\x00" * 200, ["可执行程序"]),
    ("renamed.md", b"%PDF-1.7\n%binary", ["PDF", "不符"]),
    ("nul.txt", "正文内容\x00更多内容".encode(), ["二进制"]),
    ("old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, ["加密", ".doc"]),
    ("notword.docx", zip_bytes({"hello.txt": b"hi"}), ["不是有效的 Word"]),
    ("virus.exe", b"MZ\x90\x00", ["不受支持"]),
    ("README", GOOD_MD, ["不受支持"]),
    ("empty.md", b"   \n", ["空文件"]),
], ids=["text-as-pdf", "pdf-as-docx", "exe-as-txt", "pdf-as-md", "nul-bytes", "ole-docx", "zip-not-docx",
        "exe", "no-suffix", "empty"])
def test_content_must_match_a_supported_type(admin, name, data, words):
    refused(admin, [(name, data)], 422, *words)


def test_docx_bombs_are_refused(admin):
    real = docx_bytes("炸弹测试", ["正文"])
    with zipfile.ZipFile(io.BytesIO(real)) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    huge = zip_bytes(parts | {"word/media/zeros.bin": b"\0" * (3 * 1024 * 1024)})  # 3 MB unpacked > 2 MB cap
    assert len(huge) < 100_000
    refused(admin, [("bomb.docx", huge)], 422, "解压后", "压缩炸弹")
    many = zip_bytes(parts | {f"word/media/{i}.xml": b"x" for i in range(60)})  # 60+ entries > 50
    refused(admin, [("many.docx", many)], 422, "个文件", "压缩炸弹")


def test_encrypted_and_broken_pdfs_are_refused(admin, fixtures_dir):
    refused(admin, [("locked.pdf", (fixtures_dir / "encrypted.pdf").read_bytes())], 422, "加密")
    refused(admin, [("broken.pdf", (fixtures_dir / "broken.pdf").read_bytes())], 422, "损坏")


@pytest.mark.parametrize("name", [
    "../../x.md", "..\\..\\x.md", "/etc/x.md", "C:x.md", "C:/Windows/x.md", "a/b.md", "..md", "a..b.md",
    ".hidden.md", "bell\x07.md", "rtl\u202edm.txt", "zero\u200bwidth.md", "tab\tname.md", "what?.md",
    "x" * 300 + ".md",
])
def test_path_tricks_and_odd_names_are_refused(admin, name):
    # Written by hand: HTTP clients escape such names, a hostile client does not.
    boundary = "----kunruyi-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + GOOD_MD + f"\r\n--{boundary}--\r\n".encode()
    before = admin.written()
    response = admin.client.post("/api/admin/documents", content=body, headers={
        **EDITOR, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert "文件名" in message
    assert "\x07" not in message and "\u202e" not in message
    assert admin.written() == before


def test_one_bad_file_refuses_the_whole_request(admin, fixtures_dir):
    body = refused(admin, [("ok.md", GOOD_MD), ("locked.pdf", (fixtures_dir / "encrypted.pdf").read_bytes())],
                   422, "locked.pdf", "加密")
    assert "ok.md" not in body["message"]


def test_unreadable_content_and_bad_metadata_are_refused_before_writing(admin, fixtures_dir):
    refused(admin, [("short.md", "# 短\n\n短".encode())], 422, "正文")
    refused(admin, [("ok.md", GOOD_MD)], 422, "分类", category="weather")
    refused(admin, [("ok.md", GOOD_MD)], 422, "http", url="ftp://example.com/x")
    refused(admin, [("ok.md", GOOD_MD)], 422, "日期", expires="明年")
    refused(admin, [("ok.md", GOOD_MD)], 422, "doc_id", doc_id="../etc")
    refused(admin, [("ok.md", GOOD_MD)], 422, "JSON", metadata="[{]")


def test_a_second_document_with_the_same_id_is_refused(admin):
    admin.upload_and_wait(("same.md", GOOD_MD))
    refused(admin, [("same.md", GOOD_MD)], 409, "已存在", "替换")


def test_accepted_files_are_stored_under_generated_names(admin, fixtures_dir):
    # python-multipart already reduces an old-IE style "C:\\...\\name" to its last part; only that is kept.
    job = admin.upload_and_wait(("C:\\Users\\staff\\ignored.md", GOOD_MD),
                                ("政策 文件（2024）.docx", (fixtures_dir / "policy.docx").read_bytes()))
    stored = sorted(p for p in admin.settings.uploads_dir.iterdir())
    assert len(stored) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}\.(md|docx)", p.name) for p in stored)
    sources = {admin.registry.get(item["doc_id"]).source for item in job["items"]}
    assert sources == {"ignored.md", "政策 文件（2024）.docx"}


def test_alias_bombs_and_over_long_metadata_are_refused_at_once(admin):
    """Issue 12, item 7: a 403-byte alias bomb made a 142,220-character title and stalled chat for 50 s;
    a 50,000-character title field was accepted."""
    levels = ['a: &a ["哈哈哈哈哈哈哈哈哈哈"]'] + [
        f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join(['*' + chr(96 + i)] * 9)}]" for i in range(1, 9)]
    bomb = ("---\n" + "\n".join(levels) + "\ntitle: *i\n---\n").encode() + GOOD_MD
    started = time.monotonic()
    refused(admin, [("bomb.md", bomb)], 422, "bomb.md", "别名")
    assert time.monotonic() - started < 10
    refused(admin, [("ok.md", GOOD_MD)], 422, "标题过长", "最多 200 个", title="长" * 50_000)
    refused(admin, [("ok.md", GOOD_MD)], 422, "发文机关过长", issuer="局" * 5_000)
    refused(admin, [("ok.md", GOOD_MD)], 422, "文号过长", metadata='[{"doc_number": "' + "号" * 500 + '"}]')
    job = admin.upload_and_wait(("ok.md", GOOD_MD))
    doc_id = job["items"][0]["doc_id"]
    patched = admin.client.patch(f"/api/admin/documents/{doc_id}", json={"title": "长" * 201}, headers=EDITOR)
    assert patched.status_code == 422 and "title" in patched.json()["message"]
