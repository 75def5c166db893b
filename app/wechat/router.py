"""WeChat Official Account (``/wechat/mp``) and WeCom app (``/wechat/work``) callbacks."""

from __future__ import annotations

import asyncio
import contextvars
import time

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import PlainTextResponse, Response

from app.api.deps import services_of
from app.errors import ChannelNotConfigured
from app.wechat.service import NOT_CONFIGURED, WeChatChannel

router = APIRouter(prefix="/wechat", tags=["wechat"])


def _channel(request: Request, name: str) -> WeChatChannel:
    """The account built at start (raises the Chinese "not configured" error when it is off)."""
    channel = services_of(request).channels.get(name)
    if channel is None:
        raise ChannelNotConfigured(NOT_CONFIGURED[name])
    return channel


def _base_url(request: Request) -> str:
    return services_of(request).settings.public_base_url or str(request.base_url)


async def _receive(request: Request, background: BackgroundTasks, channel: WeChatChannel) -> Response:
    started = time.monotonic()
    body = await request.body()
    # The channel's own threads, not the shared pool that /api/chat fills while it waits for the model:
    # a callback queued behind 40 chat requests would miss WeChat's 5 seconds whatever the budget.
    context = contextvars.copy_context()  # the request id in the log lines, as run_in_threadpool does
    result = await asyncio.get_running_loop().run_in_executor(
        channel.callback_executor, context.run, channel.receive, request.query_params, body, _base_url(request),
        started)
    if result.follow is not None:
        # After the response, so that these parts follow the passive reply.
        background.add_task(channel.dispatcher.deliver_later, result.user, result.follow)
    return Response(result.content, media_type=result.media_type)


def _add_routes(path: str, name: str, label: str) -> None:
    def verify(request: Request) -> PlainTextResponse:
        return PlainTextResponse(_channel(request, name).verify(request.query_params))

    async def receive(request: Request, background: BackgroundTasks) -> Response:
        return await _receive(request, background, _channel(request, name))

    router.add_api_route(path, verify, methods=["GET"], response_class=PlainTextResponse,
                         summary=f"{label}: URL verification",
                         description="Checks the signature and returns the (decrypted) ``echostr``; 403 otherwise.")
    router.add_api_route(path, receive, methods=["POST"], summary=f"{label}: messages and events",
                         description="Checked, decrypted and answered once: passively within the reply budget "
                                     "(Official Account) or through the platform's send API.")


_add_routes("/mp", "mp", "WeChat Official Account")
_add_routes("/work", "work", "WeCom app")
