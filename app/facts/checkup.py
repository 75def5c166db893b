"""WeChat "政策体检": a four-question sequence that builds a company profile, then the matched list.

The profile is keyed to the account's OpenID (per channel), kept so that a later
"我们公司能申请哪些？" can use it, and deleted at once with "删除我的信息". Nothing personal is
asked for: 区镇, 行业/类型, 营收/研发/员工/成立年份, planned events.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import sessionmaker

from app.facts.eligibility import Eligibility, profile_from_text, wants_matching
from app.facts.matching import CompanyProfile
from app.facts.models import CheckupRow
from app.services.answering.base import Answer

START = re.compile(r"^\s*(?:政策体检|企业体检|政策匹配|开始体检)\s*[!！。.]?\s*$")
DELETE = re.compile(r"^\s*(?:删除我的信息|删除我的资料|删除企业信息)\s*[!！。.]?\s*$")
QUIT = re.compile(r"^\s*(?:退出|取消|结束)(?:体检)?\s*$")
SKIP = re.compile(r"^\s*(?:跳过|不清楚|不知道|略过|-)\s*$")
NONE = re.compile(r"^\s*(?:无|没有|都没有|暂无|否)\s*$")

QUESTIONS = (
    "政策体检 1/4：您的企业在哪个区镇？（如 玉山镇、花桥镇、昆山开发区；回复“跳过”可略过）",
    "政策体检 2/4：企业所属行业和企业类型/资质？（如“制造业，规上工业、高新技术企业”；可多填）",
    "政策体检 3/4：上年营业收入、研发费用、员工数和成立年份？（如“营收3000万元，研发费用150万元，员工80人，2015年成立”）",
    "政策体检 4/4：今年是否有以下事项：招用应届高校毕业生、购置设备（金额）、拿地、引进人才、首次认定高企/专精特新？（没有请回复“无”）",
)
INTRO = ("好的，开始政策体检，共4个问题，只问企业情况，不涉及个人信息。您的回答会与本微信账号关联保存，"
         "便于下次直接匹配；随时回复“删除我的信息”即可删除，回复“退出”结束体检。\n\n")
DELETED = "已删除您保存的企业信息。如需重新匹配，请回复“政策体检”。"
NOTHING = "您没有保存过企业信息，无需删除。"


class Checkup:
    """The WeChat side of the 政策计算器; ``reply`` is None for messages it does not handle."""

    def __init__(self, eligibility: Eligibility, session_factory: sessionmaker, *, form_url: str = "/"):
        self.eligibility = eligibility
        self._sessions = session_factory
        self.form_url = form_url

    # -- storage ----------------------------------------------------------------------------

    def saved(self, channel: str, user: str) -> CheckupRow | None:
        with self._sessions() as session:
            return session.get(CheckupRow, f"{channel}:{user}")

    def _save(self, channel: str, user: str, profile: dict[str, Any], step: int) -> None:
        with self._sessions.begin() as session:
            row = session.get(CheckupRow, f"{channel}:{user}")
            if row is None:
                session.add(CheckupRow(user_key=f"{channel}:{user}", profile=profile, step=step))
            else:
                row.profile, row.step = profile, step

    def delete(self, channel: str, user: str) -> bool:
        with self._sessions.begin() as session:
            return session.execute(delete(CheckupRow).where(CheckupRow.user_key == f"{channel}:{user}")).rowcount > 0

    # -- the conversation -----------------------------------------------------------------------

    def reply(self, channel: str, user: str, text: str, base_url: str = "") -> Answer | None:
        if DELETE.match(text):
            return Answer(text=DELETED if self.delete(channel, user) else NOTHING, citations=[], grounded=False,
                          refusal_reason="profile_deleted")
        row = self.saved(channel, user)
        if START.match(text):
            self._save(channel, user, {}, 1)
            return Answer(text=INTRO + QUESTIONS[0], citations=[], grounded=False, refusal_reason="need_profile")
        if row is not None and row.step:
            if QUIT.match(text):
                self._save(channel, user, row.profile, 0)
                return Answer(text="已结束政策体检。已回答的信息已保存，回复“删除我的信息”可删除。", citations=[],
                              grounded=False, refusal_reason="need_profile")
            profile = self._merge(row.profile, row.step, text)
            if row.step < len(QUESTIONS):
                self._save(channel, user, profile, row.step + 1)
                return Answer(text=QUESTIONS[row.step], citations=[], grounded=False, refusal_reason="need_profile")
            self._save(channel, user, profile, 0)
            return self._result(profile, base_url)
        if row is not None and row.profile and wants_matching(text):
            stated = profile_from_text(text)[0].model_dump(exclude_none=True)
            return self._result({**row.profile, **stated}, base_url)
        return None

    def _merge(self, profile: dict[str, Any], step: int, text: str) -> dict[str, Any]:
        profile = dict(profile)
        if SKIP.match(text):
            return profile
        if step == 4 and NONE.match(text):
            profile["events"] = []
            return profile
        stated = profile_from_text(text)[0].model_dump(exclude_none=True)
        if step == 4 and "events" not in stated:
            stated["events"] = []  # answered, none of the listed events
        profile.update(stated)
        return profile

    def _result(self, profile: dict[str, Any], base_url: str) -> Answer:
        model = CompanyProfile(**profile)
        answer = self.eligibility.compose(model, profile_phrases(model))
        link = f"{base_url.rstrip('/')}{self.form_url}" if base_url else self.form_url
        answer.text += f"\n\n完整结果和每项条件可在网页“政策匹配”中查看：{link}\n回复“删除我的信息”可删除保存的企业信息。"
        return answer


def profile_phrases(profile: CompanyProfile, *, labelled: bool = True) -> list[str]:
    """What a company profile says, one short phrase a known field: labelled for the 政策体检 result
    (位于玉山镇, 行业为制造业, 上年营收…), bare for the push confirmation (玉山镇, 制造业, 营收…)."""
    located, sector, last_year = ("位于", "行业为", "上年") if labelled else ("", "", "")
    out = []
    if profile.district:
        out.append(f"{located}{profile.district}")
    if profile.industry:
        out.append(f"{sector}{profile.industry.split()[-1]}")
    if profile.enterprise_types:
        out.append("、".join(profile.enterprise_types))
    if profile.revenue_wan is not None:
        out.append(f"{last_year}营收{profile.revenue_wan:g}万元")
    if profile.employees is not None:
        out.append(f"员工{profile.employees}人")
    if profile.events:
        out.append("计划/已有：" + "、".join(profile.events))
    return out
