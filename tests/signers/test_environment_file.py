"""Signer environments from an operator's TOML file: what loads, and one clear line per bad field."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ttsign.signers.environments import (
    EnvironmentFileError,
    UnknownEnvironmentError,
    active_environment,
    environment_toml,
    parse_environments,
)
from ttsign.signing import default_profile, sign_request, xgnarly
from ttsign.signing.environment import BUILTIN_ENVIRONMENTS, VENDOR_5_1_3, FieldOrderPolicy, IntWidthPolicy

NEWER = """
[environments.web-5-3-2]
payload_version = "5.3.2"
sdk_build = "2.0.0.520"
envcode = 1

[environments.web-5-3-2.endpoints]
"*" = ["msToken", "X-Bogus", "X-Gnarly"]
"/webcast/im/fetch/" = ["msToken", "X-Bogus"]

[environments.web-fixed]
base = "web-5-3-2"
field_order = "fixed"
fixed_field_order = [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
"""


def test_a_file_environment_overrides_its_base_and_signs_with_it() -> None:
    envs = parse_environments(NEWER)
    newer = envs["web-5-3-2"]
    assert (newer.payload_version, newer.sdk_build, newer.browser_values.envcode) == ("5.3.2", "2.0.0.520", 1)
    assert newer.field_order is FieldOrderPolicy.SHUFFLED  # from the vendor base
    assert newer.signatures_for("/webcast/im/fetch/") == {"msToken", "X-Bogus"}
    fixed = envs["web-fixed"]
    assert fixed.payload_version == "5.3.2"  # a base earlier in the same file
    signed = sign_request(
        "GET",
        "https://webcast.tiktok.com/webcast/room/info/?aid=1988",
        "",
        default_profile(),
        now_ms=1767225600000,
        rng=random.Random(1),
        environment=fixed,
    )
    envelope = xgnarly.decode(signed.tokens["X-Gnarly"])
    assert envelope.field_order == tuple(range(15, -1, -1))
    assert (envelope.fields[9], envelope.fields[10], envelope.fields[1]) == ("5.3.2", "2.0.0.520", 1)


@pytest.mark.parametrize("name", list(BUILTIN_ENVIRONMENTS))
def test_what_env_show_prints_loads_back_to_the_same_environment(name: str) -> None:
    builtin = BUILTIN_ENVIRONMENTS[name]
    text = environment_toml(builtin).replace(f'"{name}"', '"copy"')
    copy = parse_environments(text)["copy"]
    assert dataclasses.replace(copy, name=name) == builtin


BAD = """
[environments.x]
envcode = 300
field_order = "random"
fixed_int_widths = { "1" = 3 }
chacha_rounds = "fast"
colour = "blue"

[environments.x.endpoints]
"im" = ["X-Bogus"]
"/webcast/" = ["X-Bogux"]

[environments.x.profiles]
phone = "curl/8.0"
"""


def test_every_bad_field_gets_its_own_line() -> None:
    with pytest.raises(EnvironmentFileError) as caught:
        parse_environments(BAD, "env.toml")
    problems = caught.value.problems
    for where, why in [
        ("environments.x.envcode", "less than or equal to 255"),
        ("environments.x.field_order", "'shuffled' or 'fixed'"),
        ("environments.x.fixed_int_widths.1", "2 or 4"),
        ("environments.x.chacha_rounds", "'key'"),
        ("environments.x.colour", "Extra inputs"),
        ("environments.x.endpoints", "starts with '/'"),
        ("environments.x.profiles", "Mozilla/5.0"),
    ]:
        assert any(p.startswith(where + ":") and why in p for p in problems), (where, problems)
    assert len(problems) == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[environments.y]\nbase = 'nope'\n", "environments.y.base: no environment 'nope'"),
        ("[environments.z]\nint_width = 'fixed'\n", "fixed_int_widths has no width for fields [0, 1, 2"),
        ('[environments."vendor-5.1.3"]\n', "built-in environment names"),
        ("environments = 1\n", "environments"),
        ("[environments.a\n", "not valid TOML"),
        ("[environments.w]\nfixed_field_order = [1, 1]\n", "more than once"),
        (
            "[environments.p.profiles]\n"
            "mine = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'\n"
            "[environments.p]\ndefault_profile = 'other'\n",
            "default_profile 'other'",
        ),
    ],
)
def test_inconsistent_files_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(EnvironmentFileError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_environments(text, "env.toml")


def test_active_environment_is_a_builtin_or_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "envs.toml"
    path.write_text(NEWER)
    assert active_environment(None, None) is VENDOR_5_1_3
    assert active_environment(path, "web-5-3-2").payload_version == "5.3.2"
    with pytest.raises(UnknownEnvironmentError, match="web-5-3-2"):
        active_environment(None, "web-5-3-2")


def test_fixed_widths_from_a_file_are_written_as_given() -> None:
    text = "[environments.w]\nint_width = 'fixed'\n[environments.w.fixed_int_widths]\n" + "\n".join(
        f'"{k}" = 4' for k in (0, 1, 2, 6, 7, 8, 11, 12, 13, 14, 15)
    )
    env = parse_environments(text)["w"]
    assert env.int_width is IntWidthPolicy.FIXED
    signed = sign_request(
        "GET", "https://webcast.tiktok.com/webcast/room/info/?a=1", "", default_profile(), now_ms=1767225600000,
        rng=random.Random(2), environment=env,
    )  # fmt: skip
    widths = xgnarly.decode(signed.tokens["X-Gnarly"]).field_widths
    assert all(widths[k] == 4 for k in (0, 1, 2, 6, 7, 8, 11, 12, 13, 14, 15))


def _ttsign(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ttsign.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_cli_env_list_show_check_and_sign(tmp_path: Path) -> None:
    path = tmp_path / "envs.toml"
    path.write_text(NEWER)
    settings = {"TTSIGN_SIGNER_ENV_FILE": str(path), "TTSIGN_SIGNER_ENV": "web-fixed", "COLUMNS": "200"}
    listed = _ttsign("env", "list", env=settings)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("│")[2].strip(): line for line in listed.stdout.splitlines() if line.count("│") > 3}
    assert set(rows) >= {*BUILTIN_ENVIRONMENTS, "web-5-3-2", "web-fixed"}
    assert "*" in rows["web-fixed"].split("│")[1] and "file" in rows["web-fixed"]
    shown = _ttsign("env", "show", "vendor-5.1.3-ztca")
    assert 'payload_version = "5.1.3-ZTCA"' in shown.stdout and "canvas = 3181061566" in shown.stdout
    checked = _ttsign("env", "check", str(path))
    assert checked.returncode == 0 and checked.stdout.strip().endswith("2 environment(s) valid")
    signed = _ttsign("sign", "https://webcast.tiktok.com/webcast/room/info/?aid=1988", "--json", env=settings)
    assert signed.returncode == 0, signed.stderr
    envelope = xgnarly.decode(json.loads(signed.stdout)["tokens"]["X-Gnarly"])
    assert envelope.fields[9] == "5.3.2" and envelope.field_order == tuple(range(15, -1, -1))
    ztca = _ttsign(
        "sign", "https://webcast.tiktok.com/webcast/room/info/?aid=1988", "--json", "--env", "vendor-5.1.3-ztca"
    )
    assert xgnarly.decode(json.loads(ztca.stdout)["tokens"]["X-Gnarly"]).fields[9] == "5.1.3-ZTCA"


def test_cli_env_check_prints_one_line_per_bad_field_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    result = _ttsign("env", "check", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 7 and all(line.startswith(f"error: {path}: environments.x.") for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["env", "show", "nope"], "unknown signer environment 'nope'"),
        (["sign", "https://webcast.tiktok.com/webcast/room/info/?a=1", "--env", "nope"], "unknown signer environment"),
        (["env", "check", "/nonexistent.toml"], "cannot read the file"),
    ],
)
def test_cli_env_errors_are_one_line(args: list[str], message: str) -> None:
    result = _ttsign(*args)
    assert result.returncode in (1, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_verify_accepts_an_environments_own_version_and_rounds_only_when_told(tmp_path: Path) -> None:
    path = tmp_path / "envs.toml"
    path.write_text('[environments.next]\npayload_version = "5.3.2"\nchacha_rounds = 20\n')
    settings = {"TTSIGN_SIGNER_ENV_FILE": str(path)}
    signed = _ttsign("sign", "https://webcast.tiktok.com/webcast/room/info/?aid=1988", "--env", "next", env=settings)
    url, ua_line = signed.stdout.strip().splitlines()
    ua = ua_line.removeprefix("User-Agent: ")
    plain = _ttsign("verify", url, "--ua", ua, env=settings)
    # Without the environment: 20 fixed rounds do not decode (or, for a key that derives 20, 5.3.2 is unknown).
    failed = [line for line in plain.stdout.splitlines() if "x_gnarly." in line and "FAIL" in line]
    assert plain.returncode == 1 and failed, plain.stdout
    told = _ttsign("verify", url, "--ua", ua, "--env", "next", env=settings)
    assert told.returncode == 0, told.stdout
    assert "x_gnarly.version" in told.stdout and "all checks passed" in told.stdout


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"signer_env": "nope"}, "unknown signer environment 'nope'; known: vendor-5.1.3"),
        ({"signer_env_file": "/nonexistent/envs.toml"}, "cannot read the file"),
    ],
)
def test_settings_refuse_an_unknown_environment_or_a_bad_file(settings: dict[str, str], message: str) -> None:
    from pydantic import ValidationError

    from ttsign.config import Settings

    with pytest.raises(ValidationError, match=message):
        Settings(**settings)  # type: ignore[arg-type]
