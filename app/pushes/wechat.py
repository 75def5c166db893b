"""WeChat / WeCom keywords of the pushes: "订阅" (optionally with topics: "订阅 人才 用地"),
"退订", "删除我的信息". ``reply`` is None for any other message (the chat answers it).

"订阅" takes the company profile saved by the 政策计算器's 政策体检 (app.facts.checkup, per
OpenID) or the subscription's own; when fewer than two facts are known it asks for them in one
message, and the next message that states them completes the subscription.
"""

from __future__ import annotations

import re
from typing import Any

from app.facts.checkup import profile_phrases
from app.facts.eligibility import profile_from_text
from app.facts.matching import CompanyProfile
from app.pushes.models import ACTIVE
from app.pushes.service import TOPICS

_TOPIC_WORDS = "|".join(TOPICS)
SUBSCRIBE = re.compile(r"^\s*订阅(?:政策)?(?:推送|提醒)?((?:[\s、，,]*(?:" + _TOPIC_WORDS + r"))*)\s*[!！。.]?\s*$")
UNSUBSCRIBE = re.compile(r"^\s*(?:退订|取消订阅|取消推送|停止推送)\s*[!！。.]?\s*$")
DELETE = re.compile(r"^\s*(?:删除我的信息|删除我的资料|删除企业信息)\s*[!！。.]?\s*$")
STEP_PROFILE = "profile"

ASK = ("开通政策推送前，请在一条消息里告诉我企业的基本情况（知道几项说几项，不涉及个人信息）：所在区镇、行业和企业类型/资质、"
       "上年营收、员工数，以及今年是否计划招用应届高校毕业生、购置设备、拿地。\n"
       "例如：“我们在玉山镇，制造业，规上工业和高新技术企业，营收3000万元，员工80人，今年计划招用应届高校毕业生。”\n"
       "也可以先回复“政策体检”逐项填写，完成后再回复“订阅”。")
UNSUBSCRIBED = "已为您退订政策推送，今后不再主动发送消息。您的企业信息仍保留，回复“删除我的信息”可删除；回复“订阅”可重新开通。"
NOT_SUBSCRIBED = "您目前没有订阅政策推送。回复“订阅”即可开通。"


def _summary(profile: dict[str, Any]) -> str:
    return "，".join(profile_phrases(CompanyProfile(**profile), labelled=False))


def confirmation(profile: dict[str, Any], topics: list[str], weekly_limit: int, quiet: str) -> str:
    return (f"已为您开通政策推送（类别：{'、'.join(topics) if topics else '全部'}）。按您的企业信息（{_summary(profile) or '未填写'}）"
            "匹配，当有符合条件的新政策上线、申报开始或即将截止、您关注的政策到期或被替代时，我们会通过本账号通知您"
            + (f"（每周最多{weekly_limit}条" if weekly_limit else "（")
            + (f"，{quiet.replace('-', '至')}不打扰）。" if quiet else "）。")
            + "回复“订阅 人才 用地”等可只接收这些类别（可选：" + "、".join(TOPICS) + "）；回复“退订”随时停止，回复“删除我的信息”删除企业信息。")


def _known(profile: dict[str, Any]) -> int:
    return sum(1 for v in profile.values() if v not in (None, [], ""))


def reply(pushes, channel: str, user: str, text: str, *, checkup=None) -> str | None:
    """The answer to a push keyword (or to our request for profile facts), else None."""
    service, settings = pushes.service, pushes.settings
    if DELETE.match(text):
        forgot = service.forget(channel, user)
        profile = bool(checkup.delete(channel, user)) if checkup is not None else False
        if not (forgot or profile):
            return "您没有保存过企业信息或推送订阅，无需删除。"
        return "已删除您的企业信息" + ("和政策推送订阅及推送记录" if forgot else "") + "，今后不再主动发送消息。如需重新开通，请回复“订阅”。"
    if UNSUBSCRIBE.match(text):
        return UNSUBSCRIBED if service.unsubscribe(channel, user) else NOT_SUBSCRIBED
    found = SUBSCRIBE.match(text)
    row = service.subscription(channel, user)
    if found:
        topics = re.findall(_TOPIC_WORDS, found.group(1) or "")
        profile: dict[str, Any] = {}
        if row is not None and row.profile:
            profile = dict(row.profile)
        saved = checkup.saved(channel, user) if checkup is not None else None
        if saved is not None and saved.profile:
            profile = {**profile, **{k: v for k, v in saved.profile.items() if v is not None}}
        if _known(profile) < 2:
            service.set_step(channel, user, f"{STEP_PROFILE}:{','.join(topics)}")
            return ASK
        service.subscribe(channel, user, profile, topics=topics)
        return confirmation(profile, topics, settings.weekly_limit, settings.quiet_hours)
    if row is not None and row.step and row.step.startswith(STEP_PROFILE):
        parsed, said = profile_from_text(text)
        facts = parsed.model_dump(exclude_none=True)
        if len(said) < 2:
            service.set_step(channel, user, None)  # not an answer to our question: the chat takes it
            return None
        topics = [t for t in row.step.split(":", 1)[-1].split(",") if t]
        profile = {**(row.profile or {}), **facts}
        service.subscribe(channel, user, profile, topics=topics)
        return confirmation(profile, topics, settings.weekly_limit, settings.quiet_hours)
    return None


def subscribed(pushes, channel: str, user: str) -> bool:
    row = pushes.service.subscription(channel, user)
    return row is not None and row.status == ACTIVE


def channel_reply(chat, channel: str, user: str, text: str) -> str | None:
    """The hook app.wechat calls before answering a text (inside its once-only dispatch): the
    reply to a push keyword, or None. Inactive unless KUNRUYI_PUSH_ENABLED (start_pushes attaches
    the pushes to the chat service)."""
    pushes = getattr(chat, "pushes", None)
    if pushes is None or not pushes.settings.enabled:
        return None
    return reply(pushes, channel, user, text, checkup=getattr(chat, "checkup", None))
