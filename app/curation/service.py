"""The curation feature's services, built once from the app's Services (see app/main.py)."""

from __future__ import annotations

from dataclasses import dataclass

from app.curation.answers import CuratedAnswers
from app.curation.log import ConversationLog
from app.curation.review import ReviewGate
from app.curation.versions import Versions


@dataclass
class CurationServices:
    answers: CuratedAnswers
    gate: ReviewGate
    versions: Versions
    log: ConversationLog

    @classmethod
    def build(cls, services) -> "CurationServices":
        settings, admin = services.settings, services.admin
        sessions = services.sessions
        answers = CuratedAnswers(settings, sessions, services.retriever.embedder, services.retriever.live,
                                 services.store, admin.audit)
        gate = ReviewGate(settings, sessions, admin.jobs, admin.audit)
        previous = admin.jobs.before_activate

        def before_activate(doc) -> None:
            if previous is not None:
                previous(doc)
            gate.before_activate(doc)

        admin.jobs.before_activate = before_activate  # the review gate and version texts
        services.chat.curated = answers  # corrected answers are served before retrieval
        return cls(answers=answers, gate=gate, versions=Versions(sessions, admin.jobs, gate, admin.audit),
                   log=ConversationLog(sessions))
