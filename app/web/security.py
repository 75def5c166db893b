"""CORS and security headers for everything the app serves.

The widget's script and assets are loaded by other websites through a plain ``<script>`` tag,
which CORS does not govern; its API calls from a foreign origin do, so that origin must be in
``KUNRUYI_CORS_ORIGINS`` (empty = same origin only, ``*`` = any).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings


def content_security_policy(frame_ancestors: str) -> str:
    """Our own pages load scripts, styles and API calls from this origin only (the widget included)."""
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors or 'none'}",
    ])


class SecurityHeadersMiddleware:
    """Adds ``X-Content-Type-Options`` and ``Referrer-Policy`` to every response and a CSP to HTML
    pages that do not set their own. The interactive API docs (Swagger UI loads its code from a CDN)
    are left alone."""

    def __init__(self, app: ASGIApp, *, csp: str, exempt_paths: tuple[str, ...] = ()):
        self.app = app
        self.csp = csp.encode()
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exempt = scope["path"] in self.exempt_paths

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if (content_type.startswith(b"text/html") and not exempt
                        and b"content-security-policy" not in names):
                    headers.append((b"content-security-policy", self.csp))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_web_security(app: FastAPI, settings: Settings) -> None:
    """Register CORS (origins from settings) and the security-header middleware on ``app``."""
    exempt = tuple(p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p)
    app.add_middleware(SecurityHeadersMiddleware, csp=content_security_policy(settings.frame_ancestors),
                       exempt_paths=exempt)
    origins = settings.cors_origin_list
    if origins:
        # No cookies are used: the widget keeps its conversation id in localStorage.
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "OPTIONS"], allow_headers=["Content-Type", "Accept"],
                           max_age=600)
