"""Issue 12 item 5, with Redis: replicas can only share a generated JWT secret through Redis itself, so the
server says at start that TTSIGN_JWT_SECRET should be set (and never prints the secret)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ttsign.api.app import create_app
from ttsign.config import Settings

WARNING = "set TTSIGN_JWT_SECRET"


def start_messages(caplog: pytest.LogCaptureFixture, settings: Settings) -> list[str]:
    with caplog.at_level(logging.WARNING, logger="ttsign"):
        create_app(settings)  # Redis connects lazily: nothing is opened here
    return [record.getMessage() for record in caplog.records]


def test_redis_without_a_jwt_secret_warns_at_start(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    settings = Settings(redis_url="redis://127.0.0.1:6379/13", store_path=tmp_path / "s.sqlite3")
    assert any(WARNING in message for message in start_messages(caplog, settings))


def test_redis_with_a_jwt_secret_does_not_warn(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    secret = "operator-chosen-" + "s" * 32
    settings = Settings(redis_url="redis://127.0.0.1:6379/13", jwt_secret=secret, store_path=tmp_path / "s.sqlite3")
    messages = start_messages(caplog, settings)
    assert not any(WARNING in message for message in messages)
    assert not any(secret in message for message in messages)


def test_the_embedded_store_does_not_warn(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    assert not any(WARNING in m for m in start_messages(caplog, Settings(store_path=tmp_path / "s.sqlite3")))
