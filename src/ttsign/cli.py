"""The `ttsign` command line: serve, emulate, sign, verify, vectors, bench."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ttsign.service.keys import KeyService
    from ttsign.store.base import KeyRecord

T = TypeVar("T")

app = typer.Typer(
    name="ttsign",
    help="Self-hosted sign server for TikTok LIVE clients, with a local TikTok LIVE emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
vectors_app = typer.Typer(help="Golden signature vectors.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys in the store (plaintext shown once, kept hashed).", no_args_is_help=True)
app.add_typer(vectors_app, name="vectors")
app.add_typer(bench_app, name="bench")
app.add_typer(keys_app, name="keys")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: bad input never ends in a traceback."""
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8080,
    upstream: Annotated[
        str | None,
        typer.Option(help="Base URL that stands in for both TikTok hosts, e.g. http://127.0.0.1:18080."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes sharing the port.")] = 1,
) -> None:
    """Run the sign server."""
    from ttsign.api.server import run

    run(host=host, port=port, upstream=upstream, workers=workers)


@app.command()
def emulate(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Plain HTTP port (0 picks a free one).")] = 18080,
    scenario: Annotated[Path | None, typer.Option(help="Scenario file (YAML or JSON).")] = None,
    tls_port: Annotated[int | None, typer.Option(help="Extra TLS listener with a self-signed cert.")] = None,
    strict: Annotated[bool, typer.Option("--strict/--lenient", help="Verify signatures like TikTok.")] = True,
) -> None:
    """Run the local TikTok LIVE emulator."""
    from ttsign.emulator.runner import run

    run(host=host, port=port, scenario=scenario, tls_port=tls_port, strict=strict)


@app.command()
def sign(
    url: Annotated[str, typer.Argument(help="TikTok webcast URL to sign.")],
    ua: Annotated[str | None, typer.Option("--ua", help="User-Agent to sign for (must be a real browser's).")] = None,
    profile: Annotated[str | None, typer.Option(help="Built-in browser profile (instead of --ua).")] = None,
    method: Annotated[str, typer.Option(help="HTTP method the URL will be sent with.")] = "GET",
    body: Annotated[str, typer.Option(help="Request body to bind into the signatures.")] = "",
    ms_token: Annotated[str | None, typer.Option(help="msToken to use (default: a fresh well-formed one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every token and header as JSON.")] = False,
) -> None:
    """Sign a URL; print the signed URL and the User-Agent to send it with."""
    from ttsign.service.policy import PolicyError, SigningPolicy
    from ttsign.signing import ProfileError, default_profile, generate_ms_token, profile_from_user_agent, sign_request
    from ttsign.signing.mstoken import is_valid_ms_token

    if ua and profile:
        fail("give either --ua or --profile, not both")
    try:
        url = SigningPolicy().check(url)  # sign the URL as a browser reads it, the form that was checked
        chosen = profile_from_user_agent(ua) if ua else default_profile(profile)
    except (PolicyError, ProfileError) as exc:
        fail(str(exc))
    rng = random.SystemRandom()
    token = generate_ms_token(rng) if ms_token is None else ms_token
    if not is_valid_ms_token(token):
        fail("--ms-token is not a well-formed msToken (100-200 base64url characters)")
    try:
        signed = sign_request(method, url, body, chosen, now_ms=time.time_ns() // 1_000_000, rng=rng, ms_token=token)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        payload = {
            "signed_url": signed.url,
            "method": signed.method,
            "user_agent": chosen.user_agent,
            "profile": chosen.name,
            "browser_name": chosen.browser_name,
            "browser_version": chosen.browser_version,
            "tokens": signed.tokens,
            "request_headers": signed.headers,
        }
        out.print(json.dumps(payload, indent=2), markup=False)
        return
    out.print(signed.url, markup=False)
    out.print(f"User-Agent: {chosen.user_agent}", markup=False)


@app.command()
def verify(
    url: Annotated[str, typer.Argument(help="Signed URL (or raw query string) to check.")],
    ua: Annotated[str, typer.Option("--ua", help="The User-Agent header the URL was sent with.")],
    body: Annotated[str, typer.Option(help="The request body that was sent.")] = "",
    now_ms: Annotated[int | None, typer.Option(help="Judge timestamps against this time (ms).")] = None,
    window_s: Annotated[int, typer.Option(help="Accepted clock skew in seconds.")] = 300,
) -> None:
    """Decode every signature on a URL and report each check; exit 1 when any check fails."""
    from ttsign.signing import VerifyPolicy, verify_request

    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    result = verify_request(url, body, ua, now_ms=now, policy=VerifyPolicy(window_s=window_s))
    table = Table("check", "result", "detail")
    for check in result.checks:
        table.add_row(check.name, "ok" if check.ok else "FAIL", check.detail)
    out.print(table)
    out.print("all checks passed" if result.ok else f"{len(result.failures)} check(s) failed", markup=False)
    if not result.ok:
        raise typer.Exit(1)


@vectors_app.command("check")
def vectors_check(
    files: Annotated[list[Path], typer.Argument(help="Vector files in the shared/vectors format.")],
) -> None:
    """Encode and decode every vector; print one line per failure and 'N passed, M failed'."""
    from ttsign import vectors

    try:
        loaded = [vectors.load(path) for path in files]
    except vectors.VectorFileError as exc:
        fail(str(exc))
    passed = failed = 0
    for outcome in vectors.check(loaded):
        if outcome.ok:
            passed += 1
            continue
        failed += 1
        out.print(f"FAIL {outcome.file} {outcome.vector_id}: {'; '.join(outcome.problems)}", markup=False)
    out.print(f"{passed} passed, {failed} failed", markup=False)
    if failed:
        raise typer.Exit(1)


@bench_app.command("signing")
def bench_signing(
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    runs: Annotated[int, typer.Option(min=1, help="Timed runs per signature (the median is reported).")] = 5,
    seconds: Annotated[float, typer.Option(min=0.05, help="Length of one run in seconds.")] = 1.0,
) -> None:
    """Signatures per second on one core for vector c001 (a ~1 KB im/fetch query)."""
    from ttsign import benchmark

    results = benchmark.run(runs=runs, seconds=seconds)
    if as_json:
        data = [
            {"signature": r.name, "per_second": round(r.per_second), "runs": [round(x) for x in r.runs]}
            for r in results
        ]
        out.print(json.dumps(data, indent=2), markup=False)
        return
    table = Table("signature", "per second (median)", "runs")
    for r in results:
        table.add_row(r.name, f"{r.per_second:,.0f}", " ".join(f"{x:,.0f}" for x in r.runs))
    out.print(table)


PerMinute = Annotated[int | None, typer.Option(min=1, help="Requests per minute (default: the server's).")]
PerHour = Annotated[int | None, typer.Option(min=1, help="Requests per hour.")]
PerDay = Annotated[int | None, typer.Option(min=1, help="Requests per day.")]
RoomsPerHour = Annotated[int | None, typer.Option(min=1, help="Distinct rooms per hour.")]


def _keys_call(action: Callable[[KeyService], Awaitable[T]]) -> T:
    """Run one key-store action against the configured store, closing it afterwards."""
    from ttsign.config import ConfigFileError, Settings
    from ttsign.service.keys import KeyService
    from ttsign.store.backends import open_key_store
    from ttsign.store.base import KeyNotFoundError, StoreUnavailable

    try:
        settings = Settings()
        store = open_key_store(
            store_path=settings.store_path,
            redis_url=settings.redis_url,
            prefix=settings.redis_key_prefix,
            timeout_s=settings.redis_timeout_s,
        )
    except (ConfigFileError, ValueError, OSError) as exc:
        fail(f"cannot open the store: {exc}")

    async def run() -> T:
        try:
            return await action(KeyService(store))
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except KeyNotFoundError as exc:
        fail(f"no key with id {exc}")
    except StoreUnavailable as exc:
        fail(f"the store is unreachable: {exc}", 1)


def _key_row(record: KeyRecord) -> dict[str, object]:
    limits = {k: v for k, v in dataclasses.asdict(record.limits).items() if v is not None}
    return {
        "key_id": record.key_id,
        "name": record.name,
        "created_at": record.created_at,
        "revoked": record.revoked_at is not None,
        "limits": limits or "server defaults",
        "chat_enabled": record.chat_enabled,
    }


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="What the key is for.")],
    per_minute: PerMinute = None,
    per_hour: PerHour = None,
    per_day: PerDay = None,
    rooms_per_hour: RoomsPerHour = None,
    chat: Annotated[bool, typer.Option(help="Allow this key to use the chat routes.")] = False,
) -> None:
    """Create a key; its plaintext is printed once and never stored."""
    from ttsign.store.base import Limits

    limits = Limits(per_minute, per_hour, per_day, rooms_per_hour)
    record, plaintext = _keys_call(lambda keys: keys.create(name, limits, chat_enabled=chat))
    out.print(json.dumps({**_key_row(record), "api_key": plaintext}, indent=2), markup=False)
    err.print("Store the api_key now: ttsign keeps only its hash.", markup=False)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (ids and limits; never the keys)."""
    records = _keys_call(lambda keys: keys.list())
    table = Table("key_id", "name", "revoked", "limits", "chat")
    for row in map(_key_row, records):
        table.add_row(
            str(row["key_id"]), str(row["name"]), str(row["revoked"]), str(row["limits"]), str(row["chat_enabled"])
        )
    out.print(table)


@keys_app.command("show")
def keys_show(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """One key's settings."""
    out.print(json.dumps(_key_row(_keys_call(lambda keys: keys.get(key_id))), indent=2), markup=False)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key (every server refuses it within a second)."""
    out.print(json.dumps(_key_row(_keys_call(lambda keys: keys.revoke(key_id))), indent=2), markup=False)


@keys_app.command("set-limits")
def keys_set_limits(
    key_id: Annotated[str, typer.Argument(help="The key's id.")],
    per_minute: PerMinute = None,
    per_hour: PerHour = None,
    per_day: PerDay = None,
    rooms_per_hour: RoomsPerHour = None,
    chat: Annotated[bool | None, typer.Option("--chat/--no-chat", help="Allow the chat routes.")] = None,
) -> None:
    """Replace a key's limits (omitted windows fall back to the server defaults)."""
    from ttsign.store.base import Limits

    limits = Limits(per_minute, per_hour, per_day, rooms_per_hour)
    record = _keys_call(lambda keys: keys.update(key_id, limits=limits, chat_enabled=chat))
    out.print(json.dumps(_key_row(record), indent=2), markup=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
