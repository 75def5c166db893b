"""Cleaning a whole extracted document as a citizen would want to read it.

The character-level rules (simplified characters, ASCII digits, spaces, punctuation) live in
``zhtext.normalize`` and are the same ones questions go through; this module adds what only a
file needs: line endings, control characters and the debris lines portal templates leave.
"""

from __future__ import annotations

import re
import unicodedata

from zhtext.normalize import fold_width, strip_pinyin, tidy_spaces, to_simplified, widen_punctuation

# Lines that web scrapers and portal templates leave behind. Matched after conversion to
# simplified characters, against whole lines (a policy sentence is never removed).
_DEBRIS_LINE = re.compile(
    r"^\s*(?:"
    r"请输入验证码|验证码[:：]?|看不清[，,]?换一张|"
    r"分享到[:：]?.*|打印本页|关闭窗口|打印|关闭|收藏|返回顶部|【?字体[:：]?\s*[【\[]?大[】\]]?\s*[【\[]?中[】\]]?\s*[【\[]?小[】\]]?】?|"
    r"扫一扫在手机(?:上)?打开当前页|扫一扫|"
    r"(?:苏|京|沪|浙)ICP备\S*|.*公网安备\s*\d+号.*|网站标识码[:：]?\s*\w+|"
    r"上一篇[:：].*|下一篇[:：].*|相关链接|当前位置[:：].*|您当前的位置[:：].*"
    r")\s*$"
)

_MULTI_NEWLINE = re.compile(r"\n{3,}")


def drop_debris_lines(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not _DEBRIS_LINE.match(line))


def clean_document(text: str) -> str:
    """Clean a whole extracted document as a citizen would want to read it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    text = fold_width(to_simplified(text))
    text = widen_punctuation(strip_pinyin(text))
    text = drop_debris_lines(text)
    lines = [tidy_spaces(line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return _MULTI_NEWLINE.sub("\n\n", text).strip()
