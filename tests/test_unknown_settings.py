"""Which TTSIGN_* variables name no setting (issue 12 item 10)."""

from __future__ import annotations

from ttsign.unknown_settings import unknown_setting_names, unknown_setting_warnings


def test_only_variables_no_setting_reads_are_reported() -> None:
    environ = {
        "TTSIGN_PORT": "1",
        "ttsign_host": "x",  # settings match names case-insensitively
        "TTSIGN_CONFIG_FILE": "/etc/ttsign.toml",
        "TTSIGN_PROT": "1",
        "TTSIGN_REDIS_ULR": "redis://h",
        "PORT": "1",
    }
    assert unknown_setting_names(environ) == ["TTSIGN_PROT", "TTSIGN_REDIS_ULR"]


def test_a_warning_names_the_variable_never_its_value() -> None:
    [warning] = unknown_setting_warnings({"TTSIGN_JWT_SECRT": "s3cret-value"})
    assert "TTSIGN_JWT_SECRT" in warning and "s3cret-value" not in warning
