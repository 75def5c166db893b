"""One messaging account (the Official Account or the WeCom app): what to say to each message.

The callback is checked and opened by ``CallbackCodec``; text questions go to the chat service
(one conversation per OpenID/UserID, so follow-ups work); the ``Dispatcher`` makes sure each
message is answered once, passively or through the send API.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from app.components.conversations import ConversationStore
from app.components.shared_state import SharedState
from app.errors import BackendUnavailable, CallbackRejected, ChannelNotConfigured, InvalidQuestion, MalformedCallback
from app.services.chat import ChatService
from app.settings import Settings
from app.wechat.api import PlatformApi, mp_account, work_account
from app.wechat.callback import CallbackCodec, parse_xml
from app.wechat.dispatcher import PART_LIMIT_BYTES, Dispatcher, Reply
from app.wechat.formatting import format_messages

EXAMPLES = ("高新技术企业认定有什么奖励？", "昆山对省级创新联合体给多少支持？", "工业用地履约保证金怎么交？")
WELCOME = ("您好，欢迎使用“昆如意”企业服务助手！我可以依据政策原文解答昆山惠企政策、人才、用地和办事流程等问题，"
           "并附上政策出处。直接发送您的问题即可，例如：\n" + "\n".join(f"· {q}" for q in EXAMPLES))
TEXT_ONLY = "目前仅支持文字提问，请直接输入您想咨询的政策问题，例如：" + EXAMPLES[0]
VOICE_UNRECOGNIZED = "抱歉，没能识别这段语音，请改用文字输入您的问题，例如：" + EXAMPLES[0]
EMPTY_TEXT = "请输入您要咨询的问题，例如：" + EXAMPLES[0]
PLACEHOLDER = "正在为您查询相关政策，请稍候，答复将随后发送。"
CALLBACK_THREADS = 32  # callbacks in progress per process (each waits at most the reply budget)

log = logging.getLogger(__name__)


@dataclass
class CallbackResponse:
    content: str
    media_type: str = "text/plain"
    user: str = ""
    follow: Reply | None = None  # what to send through the API after the response (see Reply)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, content: str) -> str:
    return (f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(content)}</Content></xml>")


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


class WeChatChannel:
    def __init__(self, channel: str, codec: CallbackCodec, dispatcher: Dispatcher, chat: ChatService,
                 conversations: ConversationStore, *, budget: float, silent_reply: str):
        self.channel = channel  # also the conversations' channel: wechat | wework
        self.codec = codec
        self.dispatcher = dispatcher
        self.chat = chat
        self.conversations = conversations
        self.budget = budget
        self.silent_reply = silent_reply  # "success" (Official Account) or "" (WeCom)
        self.callback_executor = ThreadPoolExecutor(CALLBACK_THREADS, thread_name_prefix=f"{channel}-callback")

    def verify(self, query: Mapping[str, str]) -> str:
        return self.codec.verify_url(query)

    def receive(self, query: Mapping[str, str], body: bytes, base_url: str, started: float) -> CallbackResponse:
        """Check, open and answer one callback; ``started`` (monotonic) is when it arrived."""
        plaintext, encrypted = self.codec.open(query, body)
        fields = parse_xml(plaintext)
        self._single_use(query, fields)
        user, account = _text(fields, "FromUserName"), _text(fields, "ToUserName")
        msg_type = _text(fields, "MsgType").lower()
        if not user or not msg_type:
            raise MalformedCallback("消息缺少 FromUserName 或 MsgType")
        produce, question = self._producer(msg_type, fields, user, base_url)
        if produce is None:
            return CallbackResponse(self.silent_reply)
        msg_id = _text(fields, "MsgId")
        # Events carry no MsgId: FromUserName + CreateTime, hashed so the key (which is logged) holds no OpenID.
        event_id = hashlib.sha256(f"{user}:{_text(fields, 'CreateTime')}".encode()).hexdigest()[:24]
        dedupe_id = msg_id if msg_id and msg_type != "event" else f"event-{event_id}"
        reply = self.dispatcher.handle(dedupe_id, user, produce, started + self.budget, question)
        follow = reply if reply.follows else None
        if reply.text is None:
            return CallbackResponse(self.silent_reply, user=user, follow=follow)
        xml = text_reply_xml(user, account, reply.text)
        if encrypted:
            xml = self.codec.encrypt(xml, query.get("nonce") or secrets.token_hex(8))
        return CallbackResponse(xml, "application/xml", user=user, follow=follow)

    def _single_use(self, query: Mapping[str, str], fields: Mapping[str, Any]) -> None:
        """A signed timestamp+nonce carries one message: refuse it with any other message.

        The nonce is claimed in the shared state (every worker) with the message's digest until the
        timestamp leaves the accepted window; WeChat's retry of the same message passes (and is
        deduplicated by MsgId), the same signature with another body or OpenID is a replay (403).
        """
        timestamp, nonce = query.get("timestamp") or "", query.get("nonce") or ""
        ident = hashlib.sha256(f"{timestamp}:{nonce}".encode()).hexdigest()[:32]
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]
        ttl = max(1.0, int(timestamp) + self.codec.tolerance + 1 - self.codec.clock())
        key = f"{self.channel}:nonce:{ident}"
        state = self.dispatcher.state
        try:
            if state.claim(key, ttl, value=digest):
                return
            seen = state.get(key)
        except Exception as exc:  # noqa: BLE001 - like the dedupe claims: answering matters more
            log.warning("%s shared state unavailable (%s): nonce not checked", self.channel, type(exc).__name__)
            return
        if seen is not None and seen != digest:
            raise CallbackRejected("请求的时间戳和随机数已被使用过，不能重复使用（疑似重放）")

    def _producer(self, msg_type: str, fields: Mapping[str, Any], user: str,
                  base_url: str) -> tuple[Callable[[], list[str]] | None, str]:
        """What answers this message (None for events that need no reply), and the question asked."""
        if msg_type == "event":
            event = _text(fields, "Event").lower()
            if event == "subscribe":
                return (lambda: [WELCOME]), ""
            return None, ""  # unsubscribe, menu clicks, location reports…: nothing to say
        if msg_type == "text":
            question = _text(fields, "Content")
        elif msg_type == "voice":
            question = _text(fields, "Recognition")
            if not question:
                return (lambda: [VOICE_UNRECOGNIZED]), ""
        else:
            return (lambda: [TEXT_ONLY]), ""
        if not question:
            return (lambda: [EMPTY_TEXT]), ""
        return (lambda: self._answer(user, question, base_url)), question

    def _answer(self, user: str, question: str, base_url: str) -> list[str]:
        # 政策推送 (issue 17): 订阅 / 退订 / 删除我的信息 (also the 政策体检 profile) when KUNRUYI_PUSH_ENABLED;
        # all logic in app/pushes/wechat.py. None = not a push keyword.
        from app.pushes.wechat import channel_reply

        if (pushed := channel_reply(self.chat, self.channel, user, question)) is not None:
            return [pushed]
        # 政策体检 (issue 15): the question sequence, a saved profile and 删除我的信息, keyed to this
        # OpenID; all logic in app/facts/checkup.py. None = an ordinary question for chat.
        checkup = getattr(self.chat, "checkup", None)
        if checkup is not None and (reply := checkup.reply(self.channel, user, question, base_url)) is not None:
            return format_messages(reply.text, [c.to_dict() for c in reply.citations], base_url, limit=PART_LIMIT_BYTES)
        conversation_id = self.conversations.latest_for(self.channel, user)
        try:
            result = self.chat.answer(question, conversation_id, channel=self.channel, user_ref=user)
        except InvalidQuestion as exc:
            return [exc.message]
        # Each part names the sources of its own marks, and leaves room for a 补发 label if it is kept.
        return format_messages(result.answer, result.citations, base_url, limit=PART_LIMIT_BYTES)


# --- building the two accounts from settings --------------------------------------------------

NOT_CONFIGURED = {"mp": "微信公众号接入未启用：请先配置 KUNRUYI_WECHAT_MP_TOKEN",
                  "work": "企业微信接入未启用：请先配置 KUNRUYI_WEWORK_TOKEN"}


def build_channels(settings: Settings, chat: ChatService, conversations: ConversationStore,
                   state: SharedState) -> dict[str, WeChatChannel]:
    """The accounts whose token is set, by route name (mp, work), built once at start: a wrong key or
    half a configuration fails the start instead of the first callback."""
    builders = {"mp": (settings.wechat_mp_token, build_mp_channel), "work": (settings.wework_token, build_work_channel)}
    return {name: build(settings, chat, conversations, state) for name, (token, build) in builders.items() if token}


def _build(settings: Settings, chat: ChatService, conversations: ConversationStore, state: SharedState, *,
           enterprise: bool, token: str, aes_key: str, receiver_id: str) -> WeChatChannel:
    name = "wework" if enterprise else "wechat"
    codec = CallbackCodec(token=token, aes_key=aes_key, receiver_id=receiver_id,
                          tolerance=settings.wechat_timestamp_tolerance, enterprise=enterprise)
    account = work_account(settings) if enterprise else mp_account(settings)
    dispatcher = Dispatcher(name, state, PlatformApi(account, state, settings.outbound_timeout),
                            ThreadPoolExecutor(4, thread_name_prefix=name),
                            passive=not enterprise, placeholder=None if enterprise else PLACEHOLDER,
                            log_personal_data=settings.log_personal_data)
    return WeChatChannel(name, codec, dispatcher, chat, conversations, budget=settings.wechat_reply_budget,
                         silent_reply="" if enterprise else "success")


def build_mp_channel(settings: Settings, chat: ChatService, conversations: ConversationStore,
                     state: SharedState) -> WeChatChannel:
    """The Official Account: passive replies within the budget, the customer-service API after it."""
    if not settings.wechat_mp_token:
        raise ChannelNotConfigured(NOT_CONFIGURED["mp"])
    if settings.wechat_mp_aes_key and not settings.wechat_mp_app_id:
        raise BackendUnavailable("已配置 EncodingAESKey，但缺少 KUNRUYI_WECHAT_MP_APP_ID，无法解密消息")
    return _build(settings, chat, conversations, state, enterprise=False, token=settings.wechat_mp_token,
                  aes_key=settings.wechat_mp_aes_key, receiver_id=settings.wechat_mp_app_id)


def build_work_channel(settings: Settings, chat: ChatService, conversations: ConversationStore,
                       state: SharedState) -> WeChatChannel:
    """The WeCom app: always encrypted; every answer goes out through the message-send API."""
    if not settings.wework_token:
        raise ChannelNotConfigured(NOT_CONFIGURED["work"])
    if not (settings.wework_aes_key and settings.wework_corp_id):
        raise BackendUnavailable("企业微信配置不完整：需要 KUNRUYI_WEWORK_AES_KEY 和 KUNRUYI_WEWORK_CORP_ID")
    return _build(settings, chat, conversations, state, enterprise=True, token=settings.wework_token,
                  aes_key=settings.wework_aes_key, receiver_id=settings.wework_corp_id)
