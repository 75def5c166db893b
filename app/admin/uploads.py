"""Checks on an uploaded file before anything is written, and storage under generated names.

The type is decided by the content (magic bytes), not the extension alone; DOCX files are
opened as ZIP archives only to read their table of contents (entry count and declared
uncompressed size, which ``zipfile`` also enforces when the file is later read), encrypted
PDFs are refused, and the client's file name is only ever displayed, never used as a path.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.components.doc_files import SUPPORTED_SUFFIXES
from app.errors import PayloadTooLarge, UploadRefused
from app.settings import Settings

MB = 1024 * 1024
MAX_NAME_CHARS = 200
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm")
# Binary formats a text file must not start with (a renamed PDF, archive, Office 97 file, image, program).
_BINARY_MAGIC = {b"%PDF-": "PDF", b"PK\x03\x04": "压缩包或 Office 文档", b"\xd0\xcf\x11\xe0": "旧版 Office 文档",
                 b"\x89PNG": "图片", b"GIF8": "图片", b"\xff\xd8\xff": "图片", b"MZ": "可执行程序",
                 b"\x7fELF": "可执行程序", b"Rar!": "压缩包", b"7z\xbc\xaf": "压缩包", b"\x1f\x8b": "压缩包"}
_WINDOWS_FORBIDDEN = set('<>:"|?*')
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class CheckedFile:
    name: str     # the client's file name, for display only
    suffix: str   # lower-case, one of SUPPORTED_SUFFIXES
    data: bytes


def check_name(raw: str | None) -> str:
    """The client's file name if it is a plain name; path tricks and odd characters are refused."""
    name = (raw or "").strip()
    if not name:
        raise UploadRefused("文件缺少文件名")
    if "/" in name or "\\" in name or _DRIVE.match(name):
        raise UploadRefused(f"文件名「{_shown(name)}」包含路径，请只上传文件本身（文件名中不能有 / 或 \\ 或盘符）")
    if ".." in name:
        raise UploadRefused(f"文件名「{_shown(name)}」不能包含“..”")
    if name.startswith("."):
        raise UploadRefused(f"文件名「{_shown(name)}」不能以“.”开头")
    odd = [ch for ch in name if unicodedata.category(ch)[0] == "C" or ch in _WINDOWS_FORBIDDEN]
    if odd:
        raise UploadRefused(f"文件名「{_shown(name)}」含有不允许的字符（控制字符或 < > : \" | ? *），请重命名后上传")
    if len(name) > MAX_NAME_CHARS:
        raise UploadRefused(f"文件名过长（{len(name)} 个字符，最多 {MAX_NAME_CHARS} 个）")
    return name


def _shown(name: str) -> str:
    """A refused name made safe to echo: control characters as escapes, length capped."""
    return "".join(ch if unicodedata.category(ch)[0] != "C" else f"\\u{ord(ch):04x}" for ch in name)[:80]


class UploadChecker:
    def __init__(self, settings: Settings):
        self.max_bytes = int(settings.upload_max_mb * MB)
        self.max_unpacked = int(settings.upload_max_unpacked_mb * MB)
        self.max_entries = settings.upload_max_zip_entries
        self.uploads_dir = settings.uploads_dir

    def read(self, stream: BinaryIO, name: str | None) -> bytes:
        """Read at most the size cap (plus one byte to notice a larger file)."""
        data = stream.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(f"文件「{_shown(name or '')}」超过 {self.max_bytes // MB} MB 的上传上限，请压缩或拆分后上传")
        return data

    def check(self, raw_name: str | None, data: bytes) -> CheckedFile:
        name = check_name(raw_name)
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise UploadRefused(f"「{name}」的格式 {suffix or '（无扩展名）'} 不受支持，可上传："
                                f"{'、'.join(s for s in SUPPORTED_SUFFIXES if s != '.markdown')}")
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(f"文件「{name}」超过 {self.max_bytes // MB} MB 的上传上限")
        if not data.strip():
            raise UploadRefused(f"「{name}」是空文件")
        if suffix == ".pdf":
            self._check_pdf(name, data)
        elif suffix == ".docx":
            self._check_docx(name, data)
        else:
            self._check_text(name, data)
        return CheckedFile(name=name, suffix=suffix, data=data)

    @staticmethod
    def _check_pdf(name: str, data: bytes) -> None:
        if b"%PDF-" not in data[:1024]:
            raise UploadRefused(f"「{name}」的内容不是 PDF 文件（扩展名与内容不符）")
        from pypdf import PdfReader

        try:
            encrypted = PdfReader(io.BytesIO(data)).is_encrypted
        except Exception as exc:  # noqa: BLE001 - pypdf raises many types for broken files
            raise UploadRefused(f"「{name}」已损坏，无法作为 PDF 打开（{type(exc).__name__}）") from exc
        if encrypted:
            raise UploadRefused(f"「{name}」是加密的 PDF，无法读取正文。请上传未加密的版本")

    def _check_docx(self, name: str, data: bytes) -> None:
        if data.startswith(b"\xd0\xcf\x11\xe0"):
            raise UploadRefused(f"「{name}」是加密的 Word 文件或旧版 .doc 格式，请另存为未加密的 .docx 后上传")
        if not data.startswith(b"PK\x03\x04"):
            raise UploadRefused(f"「{name}」的内容不是 DOCX 文件（扩展名与内容不符）")
        try:
            entries = zipfile.ZipFile(io.BytesIO(data)).infolist()
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise UploadRefused(f"「{name}」已损坏，无法作为 DOCX 打开") from exc
        if len(entries) > self.max_entries:
            raise UploadRefused(f"「{name}」内含 {len(entries)} 个文件，超过上限 {self.max_entries} 个，"
                                "疑似压缩炸弹，已拒绝")
        unpacked = sum(entry.file_size for entry in entries)
        if unpacked > self.max_unpacked:
            raise UploadRefused(f"「{name}」解压后约 {unpacked / MB:.0f} MB，超过上限 {self.max_unpacked // MB} MB，"
                                "疑似压缩炸弹，已拒绝")
        if "word/document.xml" not in {entry.filename for entry in entries}:
            raise UploadRefused(f"「{name}」不是有效的 Word（.docx）文档")

    @staticmethod
    def _check_text(name: str, data: bytes) -> None:
        for magic, kind in _BINARY_MAGIC.items():
            if data.startswith(magic):
                raise UploadRefused(f"「{name}」的内容是{kind}，与扩展名不符")
        if b"\x00" in data:
            raise UploadRefused(f"「{name}」含有二进制内容，不是文本文件")
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                data.decode(encoding)
                return
            except UnicodeDecodeError:
                continue
        raise UploadRefused(f"「{name}」的文字编码无法识别，请另存为 UTF-8 编码后上传")

    def store(self, checked: CheckedFile) -> Path:
        """Write the file under a generated name (atomically) and return its absolute path."""
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        target = (self.uploads_dir / f"{uuid.uuid4().hex}{checked.suffix}").resolve()
        partial = target.with_name(target.name + ".part")
        with open(partial, "wb") as out:
            out.write(checked.data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
        return target
