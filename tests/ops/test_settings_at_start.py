"""Wrong settings fail at start, not on the first request (issue 13): a malformed admin token entry, an
EncodingAESKey that is no key, half a WeCom configuration, contradictory values, an optional package
that is not installed. Each stops ``python -m app`` before the server starts, with one message in
Chinese and English naming the setting (and never its value); good values still start."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.admin.auth import new_token
from app.errors import MissingExtraError
from app.main import Services, create_app
from app import settings as settings_module
from app.settings import Settings, describe_invalid
from tests.conftest import cli_env, free_port
from tests.wechat.conftest import MP_AES_KEY, MP_APP_ID, MP_TOKEN, WORK_AES_KEY, WORK_CORP_ID, WORK_TOKEN

_, GOOD_TOKEN_ENTRY = new_token("alice", "editor")
NOT_A_KEY = MP_AES_KEY[:-1] + "!"  # 43 characters, not base64
WECHAT = {"wechat_mp_token": MP_TOKEN, "wechat_mp_aes_key": MP_AES_KEY, "wechat_mp_app_id": MP_APP_ID,
          "wework_token": WORK_TOKEN, "wework_aes_key": WORK_AES_KEY, "wework_corp_id": WORK_CORP_ID}

BAD = [  # (settings, the variable the message names, a value that must not be printed)
    ({"admin_tokens": "alice:editor:nothex"}, "KUNRUYI_ADMIN_TOKENS", None),
    ({"admin_tokens": f"{GOOD_TOKEN_ENTRY},bob:root:{'0' * 64}"}, "KUNRUYI_ADMIN_TOKENS", None),
    ({**WECHAT, "wechat_mp_aes_key": NOT_A_KEY}, "KUNRUYI_WECHAT_MP_AES_KEY", NOT_A_KEY),
    ({**WECHAT, "wework_aes_key": WORK_AES_KEY[:30]}, "KUNRUYI_WEWORK_AES_KEY", WORK_AES_KEY[:30]),
    ({**WECHAT, "wechat_mp_app_id": ""}, "KUNRUYI_WECHAT_MP_APP_ID", MP_AES_KEY),
    ({**WECHAT, "wework_corp_id": ""}, "KUNRUYI_WEWORK_CORP_ID", WORK_AES_KEY),
    ({"answer_backend": "openai"}, "KUNRUYI_LLM_BASE_URL", None),
    ({"answer_backend": "llamacpp"}, "KUNRUYI_LLAMACPP_MODEL_PATH", None),
    ({"embedding_backend": "sentence-transformers"}, "KUNRUYI_EMBEDDING_MODEL", None),
    ({"chunk_min_chars": "300", "chunk_max_chars": "250"}, "KUNRUYI_CHUNK_MIN_CHARS", None),
    ({"port": "eighty"}, "KUNRUYI_PORT", "eighty"),
]


def _run_app(tmp_path, values: dict[str, str], prelude: str = "") -> subprocess.CompletedProcess:
    """``python -m app`` with these KUNRUYI_* values (``prelude``: Python run first, in the same process)."""
    env = cli_env(tmp_path / "data", {f"KUNRUYI_{k.upper()}": str(v) for k, v in
                                      {"port": free_port(), **values}.items()})
    code = f"{prelude}\nimport sys\nfrom app.__main__ import main\nsys.exit(main())"
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def _assert_one_clear_message(stderr: str, variable: str, secret: str | None) -> None:
    assert "拒绝启动 Refusing to start" in stderr and variable in stderr, stderr[-3000:]
    assert "配置有误" in stderr and "Invalid setting" in stderr, stderr[-3000:]
    assert "Traceback" not in stderr and "Started server process" not in stderr, stderr[-3000:]
    if secret:
        assert secret not in stderr


@pytest.mark.parametrize(("values", "variable", "secret"), BAD, ids=[b[1] for b in BAD])
def test_a_wrong_setting_stops_the_start_with_one_message_naming_it(tmp_path, values, variable, secret):
    out = _run_app(tmp_path, values)
    assert out.returncode == 2, out.stderr[-3000:]
    _assert_one_clear_message(out.stderr, variable, secret)
    assert not (tmp_path / "data").exists(), "nothing is written before the settings are checked"


def test_a_missing_optional_package_stops_the_start(tmp_path):
    # The package made unimportable in the server's own process, as on a host without the extra.
    out = _run_app(tmp_path, {"answer_backend": "llamacpp", "llamacpp_model_path": str(tmp_path / "m.gguf")},
                   prelude="import sys; sys.modules['xllamacpp'] = None")
    assert out.returncode == 2, out.stderr[-3000:]
    _assert_one_clear_message(out.stderr, "KUNRUYI_ANSWER_BACKEND", None)
    assert "xllamacpp" in out.stderr and "pip install '.[llamacpp]'" in out.stderr


def test_services_refuse_a_missing_package_before_building_anything(make_settings, embedder, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    settings = make_settings(reranker_model="BAAI/bge-reranker-base")
    with pytest.raises(MissingExtraError) as info:
        Services.build(settings, embedder=embedder)
    assert "KUNRUYI_RERANKER_MODEL" in info.value.message and "pip install '.[st]'" in info.value.message
    assert not settings.data_dir.exists()
    # The app built from settings fails its start-up with the same message in the log.
    with caplog.at_level(logging.ERROR, logger="app.main"), pytest.raises(MissingExtraError):
        with TestClient(create_app(settings)):
            pass
    assert any("启动失败 start-up failed" in r.getMessage() and "KUNRUYI_RERANKER_MODEL" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize(("values", "variable", "_secret"), BAD, ids=[b[1] for b in BAD])
def test_settings_refuse_the_same_values_in_process(make_settings, values, variable, _secret):
    with pytest.raises(ValidationError) as info:
        make_settings(**values)
    message = describe_invalid(info.value)
    assert message.startswith("配置有误 " + variable) and "Invalid setting " + variable in message


def test_good_values_start_with_the_channels_and_token_checker_built_once(make_settings, embedder):
    settings = make_settings(admin_tokens=GOOD_TOKEN_ENTRY, **WECHAT)
    services = Services.build(settings, embedder=embedder)
    assert set(services.channels) == {"mp", "work"}
    app = create_app(settings, services)
    with TestClient(app) as client:
        assert client.app.state.services is services and services.settings is settings
        assert client.get("/api/admin/me", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/wechat/mp", params={"timestamp": "1", "nonce": "x"}).status_code == 403  # checked, not 503
        channel = services.channels["mp"]
        client.get("/wechat/mp")
        assert services.channels["mp"] is channel, "built at start, not per request"
    # Another app over the same services with other edge settings gets its own, and only one settings object.
    plain = make_settings(data_dir=settings.data_dir)
    with TestClient(create_app(plain, services)) as client:
        assert client.app.state.services.settings is plain and client.app.state.services.channels == {}
        assert client.post("/wechat/mp", content=b"<xml/>").json()["error"] == "channel_not_configured"
        assert client.app.state.services.store is services.store


def test_the_groups_make_one_settings_object_with_the_env_names_unchanged(tmp_path, monkeypatch):
    groups = [cls for cls in Settings.__mro__[1:] if cls.__module__ == settings_module.__name__
              and cls.__name__.endswith("Settings")]
    assert len(groups) >= 6 and all(cls.__doc__ for cls in groups), "each group says what it holds"
    fields = [name for cls in groups for name in cls.model_fields if name in vars(cls).get("__annotations__", {})]
    assert sorted(fields) == sorted(Settings.model_fields), "every setting in exactly one group"
    # The env prefix, the .env file and each group's validators apply to the combined object.
    (tmp_path / ".env").write_text(f"KUNRUYI_RETRIEVAL_TOP_K=7\nKUNRUYI_ADMIN_TOKENS={GOOD_TOKEN_ENTRY}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUNRUYI_WECHAT_REPLY_BUDGET", "2.5")
    settings = Settings()
    assert (settings.retrieval_top_k, settings.wechat_reply_budget, settings.admin_tokens) == (7, 2.5, GOOD_TOKEN_ENTRY)
    monkeypatch.setenv("KUNRUYI_WEWORK_TOKEN", "t")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert "KUNRUYI_WEWORK_AES_KEY" in describe_invalid(info.value)
