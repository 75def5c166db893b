"""The one sentence splitter for Chinese policy text.

A sentence ends after a run of stops (。！？； and their ASCII forms) together with what belongs
to it: closing quotes and brackets written after the stop (…为准。）) and, when asked, citation
marks (…奖励。[1]); or at a line break. The pieces join back to the text, so a caller that cuts
a message or a chunk loses nothing. Callers differ only in what ends a sentence for them:

- chunking splits an over-long paragraph at every stop, semicolons included;
- the answer step keeps table rows and clauses whole (``stops=STRONG_STOPS``, no semicolons);
- WeChat keeps a sentence's citation marks with it (``marks=True``) so a message never starts "[1]".
"""

from __future__ import annotations

import re
from functools import lru_cache

STRONG_STOPS = "。！？!?"         # full stop, exclamation and question marks (CJK and ASCII)
STOPS = STRONG_STOPS + "；;"       # ... and semicolons, which end a clause
CLOSERS = "”’」』）)"             # closing quotes and brackets that belong to the sentence before them


@lru_cache(maxsize=16)
def _end(stops: str, closers: str, marks: bool, newline: bool) -> re.Pattern[str]:
    after = [f"[{re.escape(closers)}]"] if closers else []
    if marks:
        after.insert(0, r"[ \t]*\[\d+\]")
    tail = f"(?:{'|'.join(after)})*" if after else ""
    return re.compile(f"[{re.escape(stops)}]+{tail}" + (r"|\n" if newline else ""))


def split_sentences(text: str, *, stops: str = STOPS, closers: str = CLOSERS, marks: bool = False,
                    newline: bool = True) -> list[str]:
    """``text`` cut after each sentence end; the pieces (never empty) join back to ``text``.

    ``stops``: the characters that end a sentence; ``closers``: characters after a stop that stay
    with its sentence; ``marks``: citation marks after a stop ([1], " [2]") stay with it too;
    ``newline``: a line break ends a sentence (and stays with it).
    """
    pieces, start = [], 0
    for found in _end(stops, closers, marks, newline).finditer(text):
        pieces.append(text[start:found.end()])
        start = found.end()
    if start < len(text):
        pieces.append(text[start:])
    return [p for p in pieces if p]


def ends_sentence(line: str, *, stops: str = STOPS, closers: str = CLOSERS) -> bool:
    """Does ``line`` end with a stop or a closer (so the next line does not continue it)?"""
    return line.endswith(tuple(stops + closers))
