"""Questions the assistant must not try to answer from the corpus (follow-ups live in services/query.py)."""

from __future__ import annotations

import re

_INJECTION = re.compile(
    r"忽略.{0,8}(指令|指示|提示|规则|设定|要求)|无视.{0,8}(指令|规则|设定)|(系统|初始|原始)?提示词|system\s*prompt|"
    r"ignore\s+(all\s+|the\s+)?(previous|above|prior)|disregard\s+(all|previous)|"
    r"你的(规则|指令|设定|prompt)|(输出|打印|复述|告诉我|泄露|显示).{0,6}(你的)?(指令|规则|设定|prompt)|"
    r"扮演|假装你是|developer\s*mode|越狱|jailbreak|DAN模式"
    , re.I)
_OFF_TOPIC = re.compile(
    r"写(一|几)?(首|篇|段)?(诗|小说|作文|歌词|笑话)|讲(一|几)?个笑话|天气|股票|基金|彩票|比特币|星座|算命|"
    r"菜谱|怎么做菜|电影推荐|游戏攻略|翻译成|你是谁开发|你喜欢"
)


def classify(question: str) -> str | None:
    """'injection' or 'off_topic' when the question must be refused before retrieval."""
    if _INJECTION.search(question):
        return "injection"
    if _OFF_TOPIC.search(question):
        return "off_topic"
    return None


_LEAK_WINDOW = 16
_NOT_FOUND_PHRASE = "政策库中未找到相关依据"


def _prompt_windows() -> frozenset[str]:
    from app.services.answering.prompts import REWRITE_PROMPT, SYSTEM_PROMPT

    windows = set()
    for prompt in (SYSTEM_PROMPT, REWRITE_PROMPT):
        flat = re.sub(r"\s+", "", prompt).replace(_NOT_FOUND_PHRASE, "\0")
        windows.update(flat[i:i + _LEAK_WINDOW] for i in range(len(flat) - _LEAK_WINDOW + 1))
    return frozenset(w for w in windows if "\0" not in w)


_WINDOWS: frozenset[str] | None = None


def leaks_prompt(text: str) -> bool:
    """True when a model's output repeats a run of the system prompt (a prompt-injection success)."""
    return LeakWatch().feed(text)


class LeakWatch:
    """``leaks_prompt`` for a stream: each piece costs time in its own length, not the answer's."""

    def __init__(self):
        global _WINDOWS
        if _WINDOWS is None:
            _WINDOWS = _prompt_windows()
        self._tail = ""  # the last window-minus-one characters seen (whitespace removed)

    def feed(self, piece: str) -> bool:
        flat = self._tail + re.sub(r"\s+", "", piece)
        leaked = any(flat[i:i + _LEAK_WINDOW] in _WINDOWS for i in range(len(flat) - _LEAK_WINDOW + 1))
        self._tail = flat[-(_LEAK_WINDOW - 1):]
        return leaked
