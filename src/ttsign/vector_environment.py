"""The signer environment a golden vector was made in, read from what the vector records.

Any X-Bogus or X-Gnarly implementation can be checked, not only the vendor SDK: a vector names its
environment (`environment`: a built-in name or an `[environments.NAME]`-style table, on the vector or
on the whole file), or its recorded fields, field order and widths say it (X-Gnarly `decoded`), or its
`env` bytes do (X-Bogus). A vector that records none of these has no environment to check against.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ttsign.signers.environments import EnvironmentFileError, environment_from_table
from ttsign.signing import chacha
from ttsign.signing.environment import (
    BUILTIN_ENVIRONMENTS,
    DEFAULT_ENVIRONMENT,
    BrowserValues,
    FieldOrderPolicy,
    InitStampPolicy,
    IntWidthPolicy,
    PayloadLayout,
    SignerEnvironment,
)
from ttsign.signing.xgnarly import STRING_FIELDS

Vector = Mapping[str, Any]
_LAYOUTS = {
    frozenset(range(16)): PayloadLayout.V5_1_3,
    frozenset(range(10)): PayloadLayout.V5_1_0,
    frozenset(range(13)): PayloadLayout.V5_1_1,
}
# The minimal-width rule of each known payload family: 2 bytes below the limit, 4 from it on.
_SHORT_LIMITS = (1 << 16, 255 * 255)


class NoEnvironment(ValueError):
    """The vector records nothing that says which environment made it."""


def declared(v: Vector, file_environment: object = None) -> SignerEnvironment | None:
    """The environment a vector (or its file) names explicitly, or None when it names none."""
    spec = v.get("environment", file_environment)
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec not in BUILTIN_ENVIRONMENTS:
            raise ValueError(f"unknown environment {spec!r}; built-in: {', '.join(BUILTIN_ENVIRONMENTS)}")
        return BUILTIN_ENVIRONMENTS[spec]
    if isinstance(spec, dict):
        try:
            return environment_from_table("vector", spec, "environment")
        except EnvironmentFileError as exc:
            raise ValueError("; ".join(exc.problems)) from None
    raise ValueError("environment must be a built-in name or a table of environment fields")


def of_x_bogus(v: Vector, file_environment: object = None) -> SignerEnvironment:
    """X-Bogus carries only the environment bytes: from `env`, else from a declared environment."""
    env = declared(v, file_environment)
    recorded = v.get("env")
    if isinstance(recorded, dict):
        values = BrowserValues(recorded["byte1_envcode"], recorded["byte2_ubcode"], recorded["canvas_hash"])
        return dataclasses.replace(env or DEFAULT_ENVIRONMENT, name="vector", browser_values=values)
    if env is None:
        raise NoEnvironment("it records no environment (no 'env' bytes, no 'environment')")
    return env


def of_x_gnarly(v: Vector, file_environment: object = None) -> SignerEnvironment:
    """X-Gnarly: a declared environment wins; else the decoded fields, order and widths define one."""
    env = declared(v, file_environment)
    if env is not None:
        return env
    decoded = v.get("decoded")
    if not isinstance(decoded, dict) or "fields" not in decoded:
        raise NoEnvironment("it records no environment (no decoded fields, no 'environment')")
    return _from_decoded(v, decoded)


def _from_decoded(v: Vector, decoded: Mapping[str, Any]) -> SignerEnvironment:
    fields = {int(k): value for k, value in decoded["fields"].items()}
    layout = _LAYOUTS.get(frozenset(fields))
    if layout is None:
        raise ValueError(f"decoded fields {sorted(fields)} match no known payload layout")
    order = tuple(int(k) for k in decoded.get("field_order", sorted(fields)))
    widths = {int(k): int(w) for k, w in decoded.get("field_widths", {}).items()}
    int_keys = [k for k in fields if k not in STRING_FIELDS]
    base = dataclasses.replace(
        DEFAULT_ENVIRONMENT,
        name="vector",
        description=f"recorded by vector {v.get('id', '?')}",
        payload_layout=layout,
        payload_version=str(fields.get(9, "")),
        sdk_build=str(fields.get(10, "")),
        browser_values=BrowserValues(fields[1], fields[2], fields[7]),
        field_order=FieldOrderPolicy.FIXED,
        fixed_field_order=order,
        init_stamp=_init_stamp_policy(fields.get(8), v.get("ts_ms")),
        chacha_rounds=_rounds(decoded),
    )
    limit = _minimal_limit(fields, widths, int_keys, layout)
    if limit is not None:
        return dataclasses.replace(base, int_width=IntWidthPolicy.MINIMAL, short_int_limit=limit)
    fixed = tuple(sorted((k, widths[k]) for k in int_keys))
    return dataclasses.replace(base, int_width=IntWidthPolicy.FIXED, fixed_int_widths=fixed)


def _minimal_limit(
    fields: dict[int, Any], widths: dict[int, int], int_keys: list[int], layout: PayloadLayout
) -> int | None:
    """The known minimal-width rule the recorded widths follow, or None when they are fixed per field.

    When no value falls between the two limits both rules agree; the layout's own family's is taken.
    """
    limits = _SHORT_LIMITS if layout is PayloadLayout.V5_1_3 else _SHORT_LIMITS[::-1]
    if not widths:
        return limits[0]
    for limit in limits:
        if all(widths.get(k) == (2 if fields[k] < limit else 4) for k in int_keys):
            return limit
    return None


def _init_stamp_policy(stamp: object, ts_ms: object) -> InitStampPolicy:
    """Field 8 from the clock (either known rule) or, failing both, a page-load stamp kept per page."""
    if isinstance(stamp, int) and isinstance(ts_ms, int):
        if stamp == (ts_ms * 1000) % (1 << 31):
            return InitStampPolicy.CLOCK_US
        if stamp == ts_ms % (1 << 31):
            return InitStampPolicy.CLOCK_MS
    return InitStampPolicy.PAGE_LOAD_US


def _rounds(decoded: Mapping[str, Any]) -> int:
    """0 when the recorded round count is the key-derived one (every known SDK), else that count."""
    recorded = decoded.get("chacha_rounds")
    key_hex = decoded.get("key_hex")
    if not isinstance(recorded, int) or not isinstance(key_hex, str):
        return 0
    derived = chacha.rounds_for(chacha.key_words(bytes.fromhex(key_hex)))
    return 0 if recorded == derived else recorded
