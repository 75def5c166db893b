"""Staff tokens: ``name:role:sha256hex`` entries in KUNRUYI_ADMIN_TOKENS, checked in one dependency.

Only the SHA-256 of each token is configured; tokens are 256-bit random strings, so a fast hash
is enough. The dependency protects the whole admin API router: a missing or wrong token is a
401, a ``viewer`` calling anything but a read is a 403, and with no token configured at all the
API is closed (503) with a message that says how to create one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.errors import AdminDisabled, AdminForbidden, AdminUnauthorized

ROLES = ("editor", "viewer", "reviewer")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Issue 16: a POST that changes nothing (命中测试) is open to every role; approving or rejecting a
# version waiting for review (审核) is the reviewer's, who otherwise only reads.
READ_ONLY_POSTS = frozenset({"retrieval-test"})
REVIEW_ACTIONS = frozenset({"approve", "reject"})
_ENTRY = re.compile(r"^([^:\s]{1,64}):(editor|viewer|reviewer):([0-9a-f]{64})$")

HOW_TO_CONFIGURE = ("请在服务器上运行 python -m app.admin token --name 姓名 --role editor 生成令牌，"
                    "把输出的配置项加入环境变量 KUNRUYI_ADMIN_TOKENS 后重启服务")


@dataclass(frozen=True)
class TokenEntry:
    name: str
    role: str
    digest: str


@dataclass(frozen=True)
class Principal:
    """The signed-in staff member (the token's name) and what they may do."""

    name: str
    role: str

    @property
    def can_write(self) -> bool:
        return self.role == "editor"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(name: str, role: str) -> tuple[str, str]:
    """A fresh random token and the ``name:role:sha256`` entry to configure for it."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if not re.fullmatch(r"[^:\s,]{1,64}", name):
        raise ValueError("name: 1-64 characters, no spaces, colons or commas")
    token = secrets.token_urlsafe(32)
    return token, f"{name}:{role}:{hash_token(token)}"


def parse_tokens(value: str) -> list[TokenEntry]:
    """Parse KUNRUYI_ADMIN_TOKENS; a malformed entry makes the whole setting invalid (ValueError)."""
    entries = []
    for raw in (part.strip() for part in value.split(",")):
        if not raw:
            continue
        match = _ENTRY.match(raw)
        if match is None:
            raise ValueError(f"malformed admin token entry (expected name:editor|viewer|reviewer:sha256hex): {raw[:20]}…")
        entries.append(TokenEntry(*match.groups()))
    return entries


class TokenChecker:
    def __init__(self, admin_tokens: str):
        try:
            self.entries, self.problem = parse_tokens(admin_tokens), ""
        except ValueError as exc:
            self.entries, self.problem = [], str(exc)

    def principal(self, token: str | None) -> Principal:
        if self.problem:
            raise AdminDisabled(f"管理令牌配置有误（KUNRUYI_ADMIN_TOKENS 的每一项应为 名称:editor|viewer|reviewer:sha256），"
                                f"管理后台暂不可用。{HOW_TO_CONFIGURE}")
        if not self.entries:
            raise AdminDisabled(f"管理后台尚未启用：未配置管理令牌。{HOW_TO_CONFIGURE}")
        if not token:
            raise AdminUnauthorized("请先登录：请求需携带管理令牌（Authorization: Bearer 令牌）")
        digest = hash_token(token)
        found = None
        for entry in self.entries:  # no early exit: every entry is compared
            if secrets.compare_digest(entry.digest, digest):
                found = entry
        if found is None:
            raise AdminUnauthorized("管理令牌无效或已停用，请检查后重新登录")
        return Principal(found.name, found.role)


_bearer = HTTPBearer(auto_error=False, description="Staff token from `python -m app.admin token`")


def require_admin(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """Authenticate the staff member; viewers may only read. Used once, on the whole admin API router."""
    checker: TokenChecker = request.app.state.services.admin.tokens
    principal = checker.principal(credentials.credentials if credentials else None)
    action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    if request.method not in READ_METHODS and not principal.can_write and action not in READ_ONLY_POSTS \
            and not (principal.role == "reviewer" and action in REVIEW_ACTIONS):
        raise AdminForbidden("当前账号为只读权限（viewer），不能修改政策库或处理记录" if principal.role == "viewer"
                             else "审核员（reviewer）只能审核通过或退回待审核的版本，不能修改政策库")
    request.state.admin = principal
    return principal


def current_principal(request: Request) -> Principal:
    return request.state.admin


PrincipalDep = Annotated[Principal, Depends(current_principal)]
