"""Signer environments from an operator's TOML file, beside the built-ins (signing/environment.py).

A file names environments under `[environments.NAME]`; each starts from a `base` (a built-in or an
environment earlier in the file, default `vendor-5.1.3`) and overrides what TikTok changed, e.g.

    [environments.web-5-3-2]
    base = "vendor-5.1.3"
    payload_version = "5.3.2"
    sdk_build = "2.0.0.520"

    [environments.web-5-3-2.endpoints]
    "*" = ["msToken", "X-Bogus", "X-Gnarly"]
    "/webcast/im/fetch/" = ["msToken", "X-Bogus"]

Every bad field is reported with its place in the file (`environments.NAME.FIELD: why`).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ttsign.signing.environment import (
    BUILTIN_ENVIRONMENTS,
    DEFAULT_ENVIRONMENT,
    SIGNATURES,
    BrowserValues,
    EndpointSignatures,
    FieldOrderPolicy,
    InitStampPolicy,
    IntWidthPolicy,
    PayloadLayout,
    SignerEnvironment,
)
from ttsign.signing.profile import ProfileError, profile_from_user_agent

Byte = Annotated[int, Field(ge=0, le=255)]
Uint32 = Annotated[int, Field(ge=0, le=0xFFFFFFFF)]
ShortText = Annotated[str, Field(max_length=64)]


class EnvironmentFileError(ValueError):
    """An environment file that cannot be used; `problems` holds one line per bad field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class UnknownEnvironmentError(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown signer environment {name!r}; known: {', '.join(known)}")


class _EnvironmentSpec(BaseModel):
    """One `[environments.NAME]` table; a field left out keeps the base environment's value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str | None = None
    description: Annotated[str, Field(max_length=200)] | None = None
    payload_layout: PayloadLayout | None = None
    payload_version: ShortText | None = None
    sdk_build: ShortText | None = None
    x_bogus_sdk: ShortText | None = None
    envcode: Byte | None = None
    ubcode: Byte | None = None
    canvas: Uint32 | None = None
    field_order: FieldOrderPolicy | None = None
    fixed_field_order: list[Byte] | None = None
    int_width: IntWidthPolicy | None = None
    short_int_limit: Annotated[int, Field(ge=1, le=1 << 32)] | None = None
    fixed_int_widths: dict[Byte, Literal[2, 4]] | None = None
    chacha_rounds: str | int | None = None
    init_stamp: InitStampPolicy | None = None
    endpoints: dict[Annotated[str, Field(min_length=1, max_length=200)], list[str]] | None = None
    profiles: dict[Annotated[str, Field(min_length=1, max_length=64)], str] | None = None
    default_profile: str | None = None

    @field_validator("chacha_rounds")
    @classmethod
    def _rounds(cls, rounds: str | int | None) -> str | int | None:
        if rounds is None or rounds == "key" or (isinstance(rounds, int) and 1 <= rounds <= 255):
            return rounds
        raise ValueError(f"is 'key' (the key decides, as in every known SDK) or a round count 1..255, got {rounds!r}")

    @field_validator("fixed_field_order")
    @classmethod
    def _unique(cls, order: list[int] | None) -> list[int] | None:
        if order is not None and len(set(order)) != len(order):
            raise ValueError("names a field more than once")
        return order

    @field_validator("endpoints")
    @classmethod
    def _known_signatures(cls, table: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        for prefix, signatures in (table or {}).items():
            unknown = sorted(set(signatures) - SIGNATURES)
            if unknown:
                raise ValueError(f"{prefix!r}: unknown signatures {unknown}; known: {sorted(SIGNATURES)}")
            if prefix != "*" and not prefix.startswith("/"):
                raise ValueError(f"{prefix!r}: a path prefix starts with '/' (or is '*' for every path)")
        return table

    @field_validator("profiles")
    @classmethod
    def _profilable(cls, profiles: dict[str, str] | None) -> dict[str, str] | None:
        for name, user_agent in (profiles or {}).items():
            try:
                profile_from_user_agent(user_agent, name=name)
            except ProfileError as exc:
                raise ValueError(f"profile {name!r}: {exc}") from None
        return profiles


class _EnvironmentFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environments: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")], _EnvironmentSpec] = Field(
        min_length=1
    )

    @model_validator(mode="after")
    def _no_builtin_names(self) -> _EnvironmentFile:
        taken = sorted(set(self.environments) & set(BUILTIN_ENVIRONMENTS))
        if taken:
            raise ValueError(f"{taken} are built-in environment names; give yours another name")
        return self


def _apply(name: str, spec: _EnvironmentSpec, base: SignerEnvironment) -> SignerEnvironment:
    """`base` with what `spec` sets; raises ValueError when the result is inconsistent."""
    given = spec.model_dump(exclude_none=True)
    changes: dict[str, Any] = {k: v for k, v in given.items() if k in _PLAIN_FIELDS}
    changes["name"] = name
    changes.setdefault("description", f"{base.description} (changed in {name})")
    values = base.browser_values
    changes["browser_values"] = BrowserValues(
        given.get("envcode", values.envcode), given.get("ubcode", values.ubcode), given.get("canvas", values.canvas)
    )
    if spec.fixed_field_order is not None:
        changes["fixed_field_order"] = tuple(spec.fixed_field_order)
    if spec.fixed_int_widths is not None:
        changes["fixed_int_widths"] = tuple(sorted(spec.fixed_int_widths.items()))
    if spec.chacha_rounds is not None:
        changes["chacha_rounds"] = 0 if spec.chacha_rounds == "key" else int(spec.chacha_rounds)
    if spec.endpoints is not None:
        changes["endpoint_signatures"] = tuple(
            EndpointSignatures(prefix, frozenset(signatures)) for prefix, signatures in spec.endpoints.items()
        )
    if spec.profiles is not None:
        changes["profiles"] = tuple(spec.profiles.items())
        if spec.default_profile is None and base.default_profile not in spec.profiles:
            changes["default_profile"] = next(iter(spec.profiles))
    env = dataclasses.replace(base, **changes)
    if env.int_width is IntWidthPolicy.FIXED:
        _check_fixed_widths(env)
    return env


_PLAIN_FIELDS = frozenset(
    {
        "description",
        "payload_layout",
        "payload_version",
        "sdk_build",
        "x_bogus_sdk",
        "field_order",
        "int_width",
        "short_int_limit",
        "init_stamp",
        "default_profile",
    }
)


def _check_fixed_widths(env: SignerEnvironment) -> None:
    """Fixed widths must name every integer field of the layout (strings are 3, 4, 5, 9 and 10)."""
    named = {key for key, _ in env.fixed_int_widths}
    missing = [k for k in env.field_keys if k not in (3, 4, 5, 9, 10) and k not in named]
    if missing:
        raise ValueError(f"int_width is fixed but fixed_int_widths has no width for fields {missing}")


def _located(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def parse_environments(text: str, source: str = "<text>") -> dict[str, SignerEnvironment]:
    """The environments a TOML document defines; raise EnvironmentFileError listing every bad field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EnvironmentFileError(source, [f"not valid TOML: {exc}"]) from None
    return environments_from_data(data, source)


def environment_from_table(name: str, table: Mapping[str, Any], source: str = "<table>") -> SignerEnvironment:
    """One environment from an `[environments.NAME]`-style mapping (e.g. recorded in a vector file)."""
    return environments_from_data({"environments": {name: dict(table)}}, source)[name]


def environments_from_data(data: Mapping[str, Any], source: str) -> dict[str, SignerEnvironment]:
    """Validate a parsed document (`{"environments": {NAME: {...}}}`) and build its environments."""
    try:
        parsed = _EnvironmentFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{_located(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors(include_url=False)
        ]
        raise EnvironmentFileError(source, problems) from None
    built: dict[str, SignerEnvironment] = {}
    problems = []
    for name, spec in parsed.environments.items():
        base_name = spec.base or DEFAULT_ENVIRONMENT.name
        base = built.get(base_name) or BUILTIN_ENVIRONMENTS.get(base_name)
        if base is None:
            problems.append(f"environments.{name}.base: no environment {base_name!r} (built-in or earlier in the file)")
            continue
        try:
            built[name] = _apply(name, spec, base)
        except ValueError as exc:
            problems.append(f"environments.{name}: {exc}")
    if problems:
        raise EnvironmentFileError(source, problems)
    return built


def load_environment_file(path: Path) -> dict[str, SignerEnvironment]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvironmentFileError(str(path), [f"cannot read the file ({exc})"]) from None
    return parse_environments(text, str(path))


def catalog(path: Path | None) -> Mapping[str, SignerEnvironment]:
    """The built-in environments, plus the operator's file when one is configured."""
    if path is None:
        return BUILTIN_ENVIRONMENTS
    return MappingProxyType({**BUILTIN_ENVIRONMENTS, **load_environment_file(path)})


def active_environment(path: Path | None, name: str | None) -> SignerEnvironment:
    """The environment the configuration names (default: the vendor SDK 5.1.3)."""
    known = catalog(path)
    wanted = name or DEFAULT_ENVIRONMENT.name
    try:
        return known[wanted]
    except KeyError:
        raise UnknownEnvironmentError(wanted, list(known)) from None


def environment_table(env: SignerEnvironment) -> dict[str, Any]:
    """Every value of `env` as an `[environments.NAME]` table (what `ttsign env show` prints)."""
    values = env.browser_values
    table: dict[str, Any] = {
        "description": env.description,
        "payload_layout": env.payload_layout.value,
        "payload_version": env.payload_version,
        "sdk_build": env.sdk_build,
        "x_bogus_sdk": env.x_bogus_sdk,
        "field_order": env.field_order.value,
        "fixed_field_order": list(env.fixed_field_order),
        "int_width": env.int_width.value,
        "short_int_limit": env.short_int_limit,
        "fixed_int_widths": {str(k): w for k, w in env.fixed_int_widths},
        "chacha_rounds": env.chacha_rounds or "key",
        "init_stamp": env.init_stamp.value,
        "default_profile": env.default_profile,
        "endpoints": {e.path_prefix: sorted(e.signatures) for e in env.endpoint_signatures},
        "profiles": dict(env.profiles),
    }
    # The environment bytes are left out when they come from each browser profile.
    for key, value in (("envcode", values.envcode), ("ubcode", values.ubcode), ("canvas", values.canvas)):
        if value is not None:
            table[key] = value
    return table


def environment_toml(env: SignerEnvironment) -> str:
    return tomli_w.dumps({"environments": {env.name: environment_table(env)}})
