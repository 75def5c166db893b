"""Homophone typos in questions: 申抱 → 申报, 延其 → 延期, 保废 → 保费.

Officers type with pinyin input methods, so their typos are words that sound like the intended
one. A question word is corrected only when jieba's dictionary does not know it (jieba guessed
it from characters), the library's text never contains it, the library holds a word that sounds
the same and differs from it in one character, and that word stands in some passage next to
another word of the question (延期 beside 施工许可证; 功能, which sounds like the 工能 of
开不了工能延其, does not). Words jieba knows are never touched (补多少 stays, although 不多
sounds alike), nor is anything the library itself says.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Callable, Iterable

from pypinyin import Style, lazy_pinyin

from zhtext.docnumbers import ISSUER_TAIL
from zhtext.normalize import normalize
from zhtext.tokens import STOPWORDS, segmenter, tokenize, words

_HAN = re.compile(r"^[\u4e00-\u9fff]+$")
MAX_LEN = 4
# Misspelt question words that jieba's dictionary holds as words (so the rule above never touches
# them) and that no policy uses: 什么时侯申报 asks 什么时候.
_MISSPELT = {"时侯": "时候", "甚么": "什么", "怎末": "怎么", "怎莫": "怎么"}


def _sound(word: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(word, style=Style.NORMAL, errors="ignore"))


class Homophones:
    """The library's words by their sound (toneless pinyin), for correcting question typos."""

    def __init__(self, vocabulary: Iterable[str], frequency: Callable[[str], float] | None = None):
        self._by_sound: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for word in set(vocabulary):
            if 2 <= len(word) <= MAX_LEN and _HAN.match(word) and not ISSUER_TAIL.match(word):
                self._by_sound[_sound(word)].append(word)
        self._frequency = frequency or (lambda w: 0.0)

    def suggest(self, piece: str) -> str | None:
        """The library's word that sounds like ``piece`` and differs from it in one character."""
        near = [w for w in self._by_sound.get(_sound(piece), ())
                if len(w) == len(piece) and sum(a != b for a, b in zip(w, piece)) == 1]
        return max(near, key=lambda w: (self._frequency(w), w)) if near else None

    def correct(self, text: str, known: Callable[[str], bool],
                together: Callable[[str, list[str]], bool]) -> str:
        """``text`` with its homophone typos replaced (and normalised, if any was); ``known(piece)``
        says whether the library's text contains a piece (such a piece is never a typo),
        ``together(word, others)`` whether some passage holds the word and one of the others."""
        plain = normalize(text)
        misspelt = {w: right for w, right in _MISSPELT.items() if w in plain and not known(w)}
        for w, right in misspelt.items():
            plain = plain.replace(w, right)
        dictionary = segmenter().dt.FREQ  # jieba's words and their prefixes
        context = [t for t in tokenize(plain) if len(t) >= 2 and t not in STOPWORDS and known(t)]
        fixes: dict[str, str] = {}
        for word in words(plain):
            if not _HAN.match(word) or word in dictionary or known(word):
                continue
            # jieba may have glued the typo to a neighbour (能延其): try each piece of the word.
            for size in range(min(len(word), MAX_LEN), 1, -1):
                for start in range(len(word) - size + 1):
                    piece = word[start:start + size]
                    if piece in fixes or known(piece) or piece in dictionary:
                        continue
                    better = self.suggest(piece)
                    if better and together(better, context):
                        fixes[piece] = better
                        break
                else:
                    continue
                break
        # jieba may also have cut the typo apart (智改数专 → 智 / 改数 / 专): try runs of
        # neighbouring words, three characters or more.
        pieces = list(words(plain))
        for i in range(len(pieces)):
            span = ""
            for j in range(i, len(pieces)):
                span += pieces[j]
                if len(span) > MAX_LEN or not _HAN.match(span):
                    break
                if j == i or len(span) < 3 or span in fixes or known(span) or span in dictionary:
                    continue
                better = self.suggest(span)
                if better and together(better, context):
                    fixes[span] = better
                    break
        if not fixes:
            return plain if misspelt else text
        for piece, better in fixes.items():
            plain = plain.replace(piece, better)
        return plain
