"""Check golden-vector files (the format of shared/vectors/) against ttsign's signing core.

A file names its algorithm; every vector is encoded from its inputs where the file gives them and
decoded where it gives an output. A vector a peer could not sign (marked `error`) is signed by ttsign
and verified against its own inputs and against any other loaded file that has the same input id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttsign.signing import acrawler, xbogus, xgnarly
from ttsign.signing.sdk_session import Environment, RequestDigest, SdkSession, fields_5_1_0, fields_5_1_1, fields_5_1_3

Vector = dict[str, Any]
_STD_BASE64 = re.compile(r"[A-Za-z0-9+/]+")


class VectorFileError(ValueError):
    """A file that is not a vector file ttsign understands."""


@dataclass(frozen=True)
class Outcome:
    file: str
    vector_id: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Context:
    """What other loaded files say about an input id (e.g. the X-Bogus the SDK produced for it)."""

    x_bogus_by_id: dict[str, str] = field(default_factory=dict)


def _expect(problems: list[str], what: str, got: object, want: object) -> None:
    if got != want:
        problems.append(f"{what}: got {got!r}, want {want!r}")


def _check_x_bogus(v: Vector, ctx: _Context) -> list[str]:
    problems: list[str] = []
    env = v["env"]
    token = xbogus.encode(
        v["query"],
        v["body"],
        v["user_agent"],
        ts=v["ts"],
        envcode=env["byte1_envcode"],
        ubcode=env["byte2_ubcode"],
        canvas=env["canvas_hash"],
    )
    expected = v.get("x_bogus") or ctx.x_bogus_by_id.get(v["id"])
    if expected is not None:
        _expect(problems, "x_bogus", token, expected)
    decoded = xbogus.decode(expected or token)
    match = xbogus.match(decoded, v["query"], v["body"], v["user_agent"])
    if not (match.query and match.body and match.user_agent):
        problems.append(f"decoded X-Bogus does not match its request: {match}")
    if "decoded" in v:
        want = v["decoded"]
        _expect(problems, "decoded.query", decoded.query_hash.hex(), want["query_md5md5_14_15"])
        _expect(problems, "decoded.body", decoded.body_hash.hex(), want["body_md5md5_14_15"])
        _expect(problems, "decoded.ua", decoded.ua_hash.hex(), want["ua_hash_14_15"])
        _expect(problems, "decoded.ts", decoded.ts, want["ts"])
    return problems


def _gnarly_fields_from_inputs(v: Vector) -> tuple[dict[int, xgnarly.FieldValue], xgnarly.PayloadFormat]:
    """Rebuild the payload from the request; only the random material is taken from `decoded`."""
    recorded = {int(k): value for k, value in v["decoded"]["fields"].items()}
    env = Environment(recorded[1], recorded[2], recorded[7])
    digest = RequestDigest.of(v["query"], v["body"], v["user_agent"])
    version = v.get("version", "5.1.3")
    if version == "5.1.0":
        return fields_5_1_0(digest, env, now_ms=v["ts_ms"]), xgnarly.FORMAT_LEGACY
    if version == "5.1.1":
        return fields_5_1_1(digest, env, now_ms=v["ts_ms"]), xgnarly.FORMAT_LEGACY
    counters = v["counters"]
    session = SdkSession(tuple(v["decoded"]["field_order"]), int(recorded[8]))
    fields = fields_5_1_3(
        digest,
        env,
        session,
        now_ms=v["ts_ms"],
        rand16=int(recorded[14]) & 0xFFFF,
        rand32=int(recorded[15]),
        requests_total=counters["totalXHRRequests"] + counters["totalFetchRequests"],
        requests_intercepted=counters["interceptedXHRRequests"] + counters["interceptedFetchRequests"],
    )
    return fields, xgnarly.FORMAT_5_1_3


def _check_x_gnarly(v: Vector, ctx: _Context) -> list[str]:
    problems: list[str] = []
    want = v["decoded"]
    fields, fmt = _gnarly_fields_from_inputs(v)
    _expect(problems, "fields", fields, {int(k): value for k, value in want["fields"].items()})
    token = xgnarly.encode(fields, want["field_order"], bytes.fromhex(want["key_hex"]), fmt)
    _expect(problems, "x_gnarly", token, v["x_gnarly"])
    envelope = xgnarly.decode(v["x_gnarly"])
    _expect(problems, "decoded.field_order", list(envelope.field_order), want["field_order"])
    _expect(problems, "decoded.key_hex", envelope.key.hex(), want["key_hex"])
    _expect(problems, "decoded.key_insert_pos", envelope.key_position, want["key_insert_pos"])
    _expect(problems, "decoded.chacha_rounds", envelope.rounds, want["chacha_rounds"])
    _expect(
        problems, "decoded.field_widths", {str(k): w for k, w in envelope.field_widths.items()}, want["field_widths"]
    )
    if "x_bogus_same_call" in v:
        same_call = {key: v[key] for key in ("id", "query", "body", "user_agent", "ts")}
        same_call.update(x_bogus=v["x_bogus_same_call"], env=_env_of(fields))
        problems += [f"same-call {p}" for p in _check_x_bogus(same_call, ctx)]
    return problems


def _env_of(fields: dict[int, xgnarly.FieldValue]) -> dict[str, xgnarly.FieldValue]:
    return {"byte1_envcode": fields[1], "byte2_ubcode": fields[2], "canvas_hash": fields[7]}


def _check_signature(v: Vector, ctx: _Context) -> list[str]:
    problems: list[str] = []
    token = acrawler.sign(v["url"], v["user_agent"], referer=v["referer"], ts=v["ts"], canvas=v["canvas_hash"])
    expected = v.get("_signature")
    if expected is not None:
        _expect(problems, "_signature", token, expected)
    decoded = acrawler.verify(expected or token, v["url"], v["user_agent"], referer=v["referer"])
    _expect(problems, "decoded.ts", decoded.ts, v["ts"])
    _expect(problems, "decoded.canvas", decoded.canvas, v["canvas_hash"])
    return problems


def _check_frontier(v: Vector, ctx: _Context) -> list[str]:
    token = v["output"]["X-Bogus"]
    if len(token) != 16 or not _STD_BASE64.fullmatch(token):
        return [f"frontierSign output {token!r} is not 16 characters of standard base64"]
    return []


_CHECKERS: dict[str, Callable[[Vector, _Context], list[str]]] = {
    "X-Bogus": _check_x_bogus,
    "X-Gnarly": _check_x_gnarly,
    "X-Gnarly (older payload versions)": _check_x_gnarly,
    "_signature": _check_signature,
    "frontierSign": _check_frontier,
}


def _checker_for(algorithm: str) -> Callable[[Vector, _Context], list[str]]:
    for prefix, checker in _CHECKERS.items():
        if algorithm == prefix or algorithm.startswith(prefix) or prefix in algorithm:
            return checker
    raise VectorFileError(f"unknown algorithm {algorithm!r}")


@dataclass(frozen=True)
class VectorFile:
    name: str
    algorithm: str
    vectors: list[Vector]


def load(path: Path) -> VectorFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VectorFileError(f"{path}: cannot read a JSON vector file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("vectors"), list) or "algorithm" not in data:
        raise VectorFileError(f"{path}: not a vector file (needs 'algorithm' and a 'vectors' list)")
    _checker_for(str(data["algorithm"]))
    return VectorFile(path.name, str(data["algorithm"]), data["vectors"])


def _context(files: Iterable[VectorFile]) -> _Context:
    ctx = _Context()
    for vf in files:
        for v in vf.vectors:
            token = v.get("x_bogus") or v.get("x_bogus_same_call")
            if isinstance(token, str) and "id" in v and "error" not in v:
                ctx.x_bogus_by_id.setdefault(str(v["id"]), token)
    return ctx


def check(files: list[VectorFile]) -> Iterator[Outcome]:
    """Check every vector of every file; a crash on malformed data is a failed vector, not an abort."""
    ctx = _context(files)
    for vf in files:
        checker = _checker_for(vf.algorithm)
        for index, v in enumerate(vf.vectors):
            vector_id = str(v.get("id", f"#{index}"))
            try:
                problems = checker(v, ctx)
            except (KeyError, TypeError, ValueError) as exc:
                problems = [f"cannot check: {type(exc).__name__}: {exc}"]
            yield Outcome(vf.name, vector_id, tuple(problems))
