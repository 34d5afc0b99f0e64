"""A relay consumer's options, read from the query Euler's SDK builds (pure; no I/O).

`?uniqueId=&apiKey=|jwtKey=&features.<flag>=<value>` (the SDK's `createWebSocketUrl` flattens the options
with dots). Flags and ranges are the SDK's `WebSocketFeatureFlags`; booleans are true/false/1/0. A flag we
do not know, a value out of range, or a feature ttsign does not offer is an `InvalidOptions` (close 4400)
rather than silently ignored: the client would otherwise wait for messages that never come.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_UNIQUE_ID = re.compile(r"^[A-Za-z0-9._]{1,64}$")
# Accepted for compatibility; they change nothing here (there is one API, and raw bytes ride in raw frames).
_ACCEPTED_NOOPS = frozenset({"useEnterpriseApi", "syntheticPresenceLeaveAfter"})
_UNSUPPORTED = frozenset({"syntheticPresence", "includeRawBytes"})


@dataclass(frozen=True)
class Features:
    bundle_events: bool = True
    raw_messages: bool = False
    normalize_unique_id: bool = True
    close_inactive_after_s: int = 60

    def as_json(self) -> dict[str, object]:
        """The flags as workerInfo reports them (Euler's names, every flag)."""
        return {
            "bundleEvents": self.bundle_events,
            "rawMessages": self.raw_messages,
            "normalizeUniqueId": self.normalize_unique_id,
            "syntheticPresence": False,
            "syntheticPresenceLeaveAfter": 300,
            "closeInactiveWebSocketAfter": self.close_inactive_after_s,
            "schemaVersion": "v2",
            "includeRawBytes": False,
            "useEnterpriseApi": False,
        }


@dataclass(frozen=True)
class ConsumerOptions:
    unique_id: str
    api_key: str = ""
    jwt_key: str = ""
    features: Features = Features()

    def __repr__(self) -> str:  # never the key or token
        return f"ConsumerOptions(unique_id={self.unique_id!r}, features={self.features!r})"


@dataclass(frozen=True)
class InvalidOptions:
    message: str


def normalize_unique_id(raw: str) -> str:
    """A streamer named as a URL, with '@' or spaces, reduced to the id (as the SDK's normalizeUniqueId)."""
    text = raw.strip()
    for prefix in ("https://www.tiktok.com/", "http://www.tiktok.com/", "www.tiktok.com/"):
        text = text.removeprefix(prefix)
    return text.removesuffix("/live").removeprefix("@").strip()


def _boolean(name: str, value: str) -> bool | InvalidOptions:
    found = _BOOLEANS.get(value.lower())
    return InvalidOptions(f"features.{name} must be true, false, 1 or 0") if found is None else found


def _seconds(name: str, value: str, low: int, high: int) -> int | InvalidOptions:
    if not value.isdigit() or not low <= int(value) <= high:
        return InvalidOptions(f"features.{name} must be whole seconds from {low} to {high}")
    return int(value)


def _features(flags: dict[str, str]) -> Features | InvalidOptions:
    values: dict[str, bool | int] = {}
    for name, value in flags.items():
        parsed: bool | int | InvalidOptions
        if name in ("bundleEvents", "rawMessages", "normalizeUniqueId"):
            parsed = _boolean(name, value)
        elif name == "closeInactiveWebSocketAfter":
            parsed = _seconds(name, value, 30, 3600)
        elif name == "schemaVersion":
            parsed = True if value == "v2" else InvalidOptions("features.schemaVersion: only v2 is served")
        elif name in _UNSUPPORTED:
            enabled = _boolean(name, value)
            parsed = InvalidOptions(f"features.{name} is not offered by this server") if enabled is True else False
        elif name in _ACCEPTED_NOOPS:
            parsed = True
        else:
            return InvalidOptions(f"unknown option features.{name}")
        if isinstance(parsed, InvalidOptions):
            return parsed
        values[name] = parsed
    return Features(
        bundle_events=bool(values.get("bundleEvents", True)),
        raw_messages=bool(values.get("rawMessages", False)),
        normalize_unique_id=bool(values.get("normalizeUniqueId", True)),
        close_inactive_after_s=int(values.get("closeInactiveWebSocketAfter", 60)),
    )


def _credential(value: str) -> str:
    # The SDK turns an option left null into the text "null" (String(null)): that is no credential.
    value = value.strip()
    return "" if value in ("null", "undefined") else value


def parse_options(query: Iterable[tuple[str, str]]) -> ConsumerOptions | InvalidOptions:
    """The consumer's options from its query pairs; a name given twice is refused (which one would count?)."""
    params: dict[str, str] = {}
    for name, value in query:
        if name in params:
            return InvalidOptions(f"option {name} given twice")
        params[name] = value
    flags = {name.removeprefix("features."): value for name, value in params.items() if name.startswith("features.")}
    features = _features(flags)
    if isinstance(features, InvalidOptions):
        return features
    raw_id = params.get("uniqueId", "")
    unique_id = normalize_unique_id(raw_id) if features.normalize_unique_id else raw_id
    if not _UNIQUE_ID.match(unique_id):
        return InvalidOptions("uniqueId must be 1..64 letters, digits, '.' or '_'")
    api_key, jwt_key = _credential(params.get("apiKey", "")), _credential(params.get("jwtKey", ""))
    if api_key and jwt_key:
        return InvalidOptions("give apiKey or jwtKey, not both")
    return ConsumerOptions(unique_id=unique_id, api_key=api_key, jwt_key=jwt_key, features=features)
