"""Check golden-vector files (the format of shared/vectors/) against ttsign's signing core.

A file names its algorithm; every vector is signed in the environment it was made in (declared, or read
from its recorded fields, order and widths: ttsign.vector_environment), encoded from its inputs where
the file gives them and decoded where it gives an output. A vector a peer could not sign (marked
`error`) is signed by ttsign in its recorded environment and verified against its own inputs and any
other loaded file with the same input id; one that records no environment is skipped, with the reason.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttsign import vector_environment
from ttsign.signing import acrawler, default_profile, xbogus, xgnarly
from ttsign.signing.environment import FieldOrderPolicy, SignerEnvironment
from ttsign.signing.sdk_session import Environment, RequestDigest, SdkSession

Vector = dict[str, Any]
_STD_BASE64 = re.compile(r"[A-Za-z0-9+/]+")


class VectorFileError(ValueError):
    """A file that is not a vector file ttsign understands."""


class _Skipped(Exception):  # a control-flow signal: the outcome is a skip, not a failure
    """The vector cannot be checked at all; the message says why."""


@dataclass(frozen=True)
class Outcome:
    file: str
    vector_id: str
    problems: tuple[str, ...]
    skipped: str | None = None  # why the vector could not be checked

    @property
    def ok(self) -> bool:
        return not self.problems and self.skipped is None


@dataclass
class _Context:
    """What other loaded files say about an input id (e.g. the X-Bogus the SDK produced for it)."""

    x_bogus_by_id: dict[str, str] = field(default_factory=dict)
    file_environment: object = None  # the `environment` a whole file declares


def _expect(problems: list[str], what: str, got: object, want: object) -> None:
    if got != want:
        problems.append(f"{what}: got {got!r}, want {want!r}")


def _environment(v: Vector, read: Callable[[Vector, object], SignerEnvironment], ctx: _Context) -> SignerEnvironment:
    try:
        return read(v, ctx.file_environment)
    except vector_environment.NoEnvironment as exc:
        if "error" in v:
            raise _Skipped(f"the peer could not sign it ({v['error']}) and {exc}") from None
        raise


def _values(env: SignerEnvironment) -> Environment:
    """The environment bytes, the default browser's where the environment leaves them to the profile."""
    profile = env.apply(default_profile())
    return Environment(profile.envcode, profile.ubcode, profile.canvas)


def _check_x_bogus(v: Vector, ctx: _Context) -> list[str]:
    problems: list[str] = []
    values = _values(_environment(v, vector_environment.of_x_bogus, ctx))
    token = xbogus.encode(
        v["query"],
        v["body"],
        v["user_agent"],
        ts=v["ts"],
        envcode=values.envcode,
        ubcode=values.ubcode,
        canvas=values.canvas,
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


# Page state and random material: what a token carries but no environment or request decides.
_PAGE_AND_RANDOM = (8, 12, 13, 14, 15)


def _page(v: Vector, env: SignerEnvironment, material: dict[int, Any], order: tuple[int, ...]) -> SdkSession:
    """The page the vector was signed in; the payload counts the request being signed as one more."""
    counters = v.get("counters")
    if isinstance(counters, dict):
        total = counters["totalXHRRequests"] + counters["totalFetchRequests"]
        intercepted = counters["interceptedXHRRequests"] + counters["interceptedFetchRequests"]
    else:
        total, intercepted = int(material.get(12, 1)), int(material.get(13, 0))
    if env.field_order is FieldOrderPolicy.FIXED:
        order = env.fixed_order
    return SdkSession(order or env.field_keys, int(material.get(8, 0)), total - 1, intercepted)


@dataclass(frozen=True)
class _Sealed:
    """What sealed a token: the page's field order, its page state and random words, and the key."""

    order: tuple[int, ...]
    material: dict[int, Any]
    key: bytes


def _sealed(v: Vector, env: SignerEnvironment, recorded: dict[int, Any]) -> _Sealed:
    """From `decoded` when the file records it, else from the token itself (a file of inputs and outputs)."""
    want = v.get("decoded") or {}
    expected = v.get("x_gnarly")
    if not recorded and isinstance(expected, str):
        envelope = xgnarly.decode(expected, env.chacha_rounds)
        material = {k: envelope.fields[k] for k in _PAGE_AND_RANDOM if k in envelope.fields}
        return _Sealed(envelope.field_order, material, envelope.key)
    seeded = random.Random(str(v.get("id"))).getrandbits(384).to_bytes(48, "little")
    key = bytes.fromhex(want["key_hex"]) if "key_hex" in want else seeded
    return _Sealed(tuple(int(k) for k in want.get("field_order", ())), recorded, key)


def _check_x_gnarly(v: Vector, ctx: _Context) -> list[str]:
    problems: list[str] = []
    env = _environment(v, vector_environment.of_x_gnarly, ctx)
    want = v.get("decoded") or {}
    recorded = {int(k): value for k, value in want.get("fields", {}).items()}
    sealed = _sealed(v, env, recorded)
    page = _page(v, env, sealed.material, sealed.order)
    # Rebuilt from the request: only page state and random material come from the record.
    fields = env.payload(
        RequestDigest.of(v["query"], v["body"], v["user_agent"]),
        _values(env),
        page,
        now_ms=v["ts_ms"],
        rand16=int(sealed.material.get(14, 0)) & 0xFFFF,
        rand32=int(sealed.material.get(15, 0)),
    )
    if recorded:
        _expect(problems, "fields", fields, recorded)
    token = xgnarly.encode(fields, page.field_order, sealed.key, env.payload_format)
    expected = v.get("x_gnarly")
    if expected is None:  # a peer could not sign it: ttsign's own token must decode to what it signed
        envelope = xgnarly.decode(token, env.chacha_rounds)
        _expect(problems, "decoded.fields", envelope.fields, fields)
        return problems
    _expect(problems, "x_gnarly", token, expected)
    envelope = xgnarly.decode(expected, env.chacha_rounds)
    _expect(problems, "decoded.field_order", envelope.field_order, page.field_order)
    for name, got in (
        ("key_hex", envelope.key.hex()),
        ("key_insert_pos", envelope.key_position),
        ("chacha_rounds", envelope.rounds),
        ("field_widths", {str(k): w for k, w in envelope.field_widths.items()}),
    ):
        if name in want:
            _expect(problems, f"decoded.{name}", got, want[name])
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
    if "output" not in v and "error" in v:
        raise _Skipped(f"the peer could not sign it ({v['error']}) and frontierSign is checked only by format")
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
    environment: object = None  # a file-wide `environment` (built-in name or table), if it declares one


def load(path: Path) -> VectorFile:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VectorFileError(f"{path}: cannot read a JSON vector file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("vectors"), list) or "algorithm" not in data:
        raise VectorFileError(f"{path}: not a vector file (needs 'algorithm' and a 'vectors' list)")
    _checker_for(str(data["algorithm"]))
    return VectorFile(path.name, str(data["algorithm"]), data["vectors"], data.get("environment"))


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
        ctx.file_environment = vf.environment
        for index, v in enumerate(vf.vectors):
            vector_id = str(v.get("id", f"#{index}"))
            try:
                problems = checker(v, ctx)
            except _Skipped as skip:
                yield Outcome(vf.name, vector_id, (), skipped=str(skip))
                continue
            except (KeyError, TypeError, ValueError) as exc:
                problems = [f"cannot check: {type(exc).__name__}: {exc}"]
            yield Outcome(vf.name, vector_id, tuple(problems))


@dataclass(frozen=True)
class Summary:
    passed: int
    failed: int
    skipped: int

    def line(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def summarize(outcomes: Iterable[Outcome]) -> Summary:
    listed = list(outcomes)
    skipped = sum(1 for o in listed if o.skipped is not None)
    failed = sum(1 for o in listed if o.problems)
    return Summary(len(listed) - skipped - failed, failed, skipped)
