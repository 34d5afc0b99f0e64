"""Settings: defaults, environment, TOML file, the upstream override and validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ttsign.config import ConfigFileError, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("TTSIGN_"):
            monkeypatch.delenv(name)


def test_defaults_need_no_setup() -> None:
    settings = Settings()
    assert settings.www_base == "https://www.tiktok.com"
    assert settings.webcast_base == "https://webcast.tiktok.com"
    assert settings.upstream_total_timeout_s < 3.0  # the Java client gives up at 3 s
    assert settings.session_id_policy == "ignore"
    assert settings.proxy is None


def test_upstream_points_both_hosts_at_one_base() -> None:
    settings = Settings(upstream="http://127.0.0.1:18080/")
    assert settings.www_base == settings.webcast_base == "http://127.0.0.1:18080"


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTSIGN_CONTACT_EMAIL", "ops@example.org")
    monkeypatch.setenv("TTSIGN_UPSTREAM_TOTAL_TIMEOUT_S", "1.5")
    monkeypatch.setenv("TTSIGN_TIKTOK_WEBCAST_URL", "http://webcast.test")
    settings = Settings()
    assert settings.contact_email == "ops@example.org"
    assert settings.upstream_total_timeout_s == 1.5
    assert settings.webcast_base == "http://webcast.test"
    assert settings.www_base == "https://www.tiktok.com"


def test_toml_file_below_environment_below_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ttsign.toml"
    config.write_text('contact_email = "file@example.org"\nidentity_pool_size = 3\nport = 9000\n')
    monkeypatch.setenv("TTSIGN_CONFIG_FILE", str(config))
    monkeypatch.setenv("TTSIGN_IDENTITY_POOL_SIZE", "5")
    settings = Settings(port=9100)
    assert settings.contact_email == "file@example.org"
    assert settings.identity_pool_size == 5
    assert settings.port == 9100


def test_missing_config_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTSIGN_CONFIG_FILE", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigFileError, match=r"nope\.toml"):
        Settings()


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ttsign.toml"
    config.write_text("contact_emial = 'typo@example.org'\n")
    monkeypatch.setenv("TTSIGN_CONFIG_FILE", str(config))
    with pytest.raises(ValidationError, match="contact_emial"):
        Settings()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"upstream": "127.0.0.1:8080"},
        {"tiktok_www_url": "ftp://x"},
        {"upstream_connect_timeout_s": 3.0, "upstream_total_timeout_s": 2.0},
        {"upstream_total_timeout_s": 0},
        {"port": 70000},
        {"session_id_policy": "forward"},
        {"default_profile": "netscape4"},
        {"log_level": "chatty"},
    ],
)
def test_invalid_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**kwargs)  # type: ignore[arg-type]


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, name


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`TTSIGN_{name.upper()}`" not in readme]
    assert missing == []
