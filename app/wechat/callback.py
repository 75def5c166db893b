"""The callback protocol of WeChat Official Accounts and WeCom: signatures, AES, XML.

Signatures are computed here and compared in constant time (wechatpy compares with ``!=``);
wechatpy's ``PrpCrypto`` does the AES part, including the AppID/CorpID check inside the
ciphertext. Nothing in this module looks at what a message says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
from typing import Any, Callable, Mapping
from xml.parsers.expat import ExpatError

import xmltodict
from wechatpy.crypto import PrpCrypto as MpPrpCrypto
from wechatpy.enterprise.crypto import PrpCrypto as WorkPrpCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidAppIdException

from app.errors import BackendUnavailable, CallbackRejected, MalformedCallback

MAX_CALLBACK_BYTES = 256 * 1024  # real callbacks are a few hundred bytes


def signature(token: str, *parts: str) -> str:
    """SHA1 of the token and parts, sorted and concatenated (both platforms sign this way)."""
    return hashlib.sha1("".join(sorted([token, *parts])).encode("utf-8")).hexdigest()


def _same(expected: str, given: str | None) -> bool:
    return hmac.compare_digest(expected.encode(), (given or "").encode())


def parse_xml(text: str | bytes) -> dict[str, Any]:
    """The ``<xml>`` element as a dict; entity declarations and anything that is not it are rejected."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedCallback("消息不是有效的 UTF-8 XML") from exc
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise MalformedCallback("消息包含不允许的 XML 声明")
    try:
        data = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError) as exc:
        raise MalformedCallback("消息不是有效的 XML") from exc
    root = data.get("xml") if isinstance(data, dict) else None
    if not isinstance(root, dict):
        raise MalformedCallback("消息缺少 <xml> 根元素")
    return root


class CallbackCodec:
    """Checks and opens the callbacks of one account and seals passive replies.

    ``enterprise`` selects WeCom (always encrypted, CorpID inside the ciphertext) over an Official
    Account (plaintext, compatible or safe mode, AppID inside the ciphertext). With an
    EncodingAESKey set, an Official Account accepts encrypted callbacks only (``encrypt_type=aes``):
    a plaintext callback's signature covers no body, so it proves nothing about the message.
    ``clock`` (epoch seconds) is for tests.
    """

    def __init__(self, *, token: str, aes_key: str, receiver_id: str, tolerance: int, enterprise: bool,
                 clock: Callable[[], float] = time.time):
        self.token = token
        self.receiver_id = receiver_id
        self.tolerance = tolerance
        self.enterprise = enterprise
        self.clock = clock
        self._crypto = None
        if aes_key:
            try:
                key = base64.b64decode(aes_key + "=", validate=True)
            except binascii.Error as exc:
                raise BackendUnavailable("EncodingAESKey 配置有误（应为43位字母数字），请检查设置") from exc
            if len(key) != 32:
                raise BackendUnavailable("EncodingAESKey 配置有误（应为43位字母数字），请检查设置")
            self._crypto = (WorkPrpCrypto if enterprise else MpPrpCrypto)(key)

    @property
    def can_decrypt(self) -> bool:
        return self._crypto is not None

    def check_timestamp(self, timestamp: str | None) -> None:
        """Reject replays: a callback's timestamp must be close to now."""
        try:
            sent = int(timestamp or "")
        except ValueError as exc:
            raise CallbackRejected("请求时间戳无效") from exc
        if abs(self.clock() - sent) > self.tolerance:
            raise CallbackRejected("请求已过期（时间戳与当前时间相差过大）")

    def check_signature(self, given: str | None, timestamp: str | None, nonce: str | None, *extra: str) -> None:
        if not given or timestamp is None or nonce is None:
            raise CallbackRejected("缺少签名参数")
        if not _same(signature(self.token, timestamp, nonce, *extra), given):
            raise CallbackRejected("签名校验失败")

    def decrypt(self, ciphertext: str) -> str:
        if self._crypto is None:
            raise MalformedCallback("收到加密消息，但未配置 EncodingAESKey")
        try:
            return self._crypto.decrypt(ciphertext, self.receiver_id)
        except (InvalidAppIdException, InvalidCorpIdException) as exc:
            raise CallbackRejected("消息中的 AppID/CorpID 与配置不符") from exc
        except (binascii.Error, ValueError, struct.error, UnicodeDecodeError, IndexError, TypeError) as exc:
            raise MalformedCallback("加密消息无法解密") from exc

    def encrypt(self, reply_xml: str, nonce: str) -> str:
        timestamp = str(int(self.clock()))
        encrypted = self._crypto.encrypt(reply_xml, self.receiver_id).decode()
        return (
            "<xml>\n"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n"
            f"<MsgSignature><![CDATA[{signature(self.token, timestamp, nonce, encrypted)}]]></MsgSignature>\n"
            f"<TimeStamp>{timestamp}</TimeStamp>\n"
            f"<Nonce><![CDATA[{nonce}]]></Nonce>\n"
            "</xml>"
        )

    # -- the two requests -----------------------------------------------------------------------

    def verify_url(self, query: Mapping[str, str]) -> str:
        """The GET that the platform sends when the server URL is saved: returns what to echo.

        No timestamp check here: the platform signs its own old vectors the same way, and an echo
        has no effect to replay.
        """
        if self.enterprise:
            echo = query.get("echostr", "")
            self.check_signature(query.get("msg_signature"), query.get("timestamp"), query.get("nonce"), echo)
            return self.decrypt(echo)
        self.check_signature(query.get("signature"), query.get("timestamp"), query.get("nonce"))
        return query.get("echostr", "")

    def open(self, query: Mapping[str, str], body: bytes) -> tuple[str, bool]:
        """Check a message callback and return (plaintext XML, whether it was encrypted)."""
        if len(body) > MAX_CALLBACK_BYTES:
            raise MalformedCallback("消息过大")
        timestamp, nonce = query.get("timestamp"), query.get("nonce")
        if not self.enterprise:
            self.check_signature(query.get("signature"), timestamp, nonce)
        encrypted = self.enterprise or query.get("encrypt_type", "raw").lower() == "aes"
        if not encrypted and self.can_decrypt:
            raise CallbackRejected("已配置 EncodingAESKey（安全模式），不接受未加密的消息：请在公众号后台选择安全模式")
        if encrypted:
            envelope = parse_xml(body)
            ciphertext = envelope.get("Encrypt")
            if not isinstance(ciphertext, str) or not ciphertext:
                raise MalformedCallback("加密消息缺少 Encrypt 字段")
            self.check_signature(query.get("msg_signature"), timestamp, nonce, ciphertext)
            self.check_timestamp(timestamp)
            return self.decrypt(ciphertext), True
        self.check_timestamp(timestamp)
        return body.decode("utf-8", errors="replace"), False
