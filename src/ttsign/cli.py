"""The `ttsign` command line: serve, emulate, sign, verify, vectors, bench, keys (cli_keys)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ttsign.cli_env import env_app
from ttsign.cli_keys import keys_app
from ttsign.cli_selftest import selftest
from ttsign.cli_usage import usage

app = typer.Typer(
    name="ttsign",
    help="Self-hosted sign server for TikTok LIVE clients, with a local TikTok LIVE emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
vectors_app = typer.Typer(help="Golden signature vectors.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)
app.add_typer(vectors_app, name="vectors")
app.add_typer(bench_app, name="bench")
app.add_typer(keys_app, name="keys")
app.add_typer(env_app, name="env")
app.command("selftest")(selftest)
app.command("usage")(usage)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: bad input never ends in a traceback."""
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def _print_version(wanted: bool) -> None:
    if wanted:
        from ttsign import __version__

        out.print(f"ttsign {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def options(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    """Self-hosted sign server for TikTok LIVE clients, with a local TikTok LIVE emulator."""
    if ctx.invoked_subcommand == "serve":
        return  # the server logs its own warning, as JSON, once logging is set up
    from ttsign.unknown_settings import unknown_setting_warnings

    for warning in unknown_setting_warnings():
        err.print(f"warning: {warning}", markup=False)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: TTSIGN_HOST, else 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on, 0 picks a free one [default: TTSIGN_PORT, else 8080]."),
    ] = None,
    upstream: Annotated[
        str | None,
        typer.Option(help="Base URL that stands in for both TikTok hosts, e.g. http://127.0.0.1:18080."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes sharing the port.")] = 1,
) -> None:
    """Run the sign server. An option given here wins over the environment and the TOML file."""
    from ttsign.api.server import run

    run(host=host, port=port, upstream=upstream, workers=workers)


@app.command()
def emulate(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Plain HTTP port (0 picks a free one).")] = 18080,
    scenario: Annotated[Path | None, typer.Option(help="Scenario file (YAML or JSON).")] = None,
    tls_port: Annotated[int | None, typer.Option(help="Extra TLS listener with a self-signed cert.")] = None,
    strict: Annotated[bool, typer.Option("--strict/--lenient", help="Verify signatures like TikTok.")] = True,
    era: Annotated[
        str, typer.Option(help="Which TikTok to model: 2026-09 (socket era, im/fetch closed) or 2026-08 (before).")
    ] = "2026-09",
    verify_with: Annotated[
        str, typer.Option(help="Signature reference in strict mode: native (ttsign's verifier) or vendor-script.")
    ] = "native",
    vendor_script: Annotated[
        Path | None, typer.Option(help="TikTok's webmssdk.js, for --verify-with vendor-script (needs node).")
    ] = None,
) -> None:
    """Run the local TikTok LIVE emulator."""
    from ttsign.emulator.era import ERAS
    from ttsign.emulator.runner import run

    chosen = next((known for known in ERAS if known == era), None)
    if chosen is None:
        fail(f"--era must be one of {', '.join(ERAS)}, not {era!r}")
    if verify_with not in ("native", "vendor-script"):
        fail(f"--verify-with must be native or vendor-script, not {verify_with!r}")
    if verify_with == "vendor-script" and (vendor_script is None or not vendor_script.is_file()):
        fail("--verify-with vendor-script needs --vendor-script PATH to TikTok's webmssdk.js (a readable file)")
    reference = vendor_script if verify_with == "vendor-script" else None
    run(host=host, port=port, scenario=scenario, tls_port=tls_port, strict=strict, era=chosen, vendor_script=reference)


@app.command()
def sign(
    url: Annotated[str, typer.Argument(help="TikTok webcast URL to sign.")],
    ua: Annotated[str | None, typer.Option("--ua", help="User-Agent to sign for (must be a real browser's).")] = None,
    profile: Annotated[str | None, typer.Option(help="Built-in browser profile (instead of --ua).")] = None,
    method: Annotated[str, typer.Option(help="HTTP method the URL will be sent with.")] = "GET",
    body: Annotated[str, typer.Option(help="Request body to bind into the signatures.")] = "",
    ms_token: Annotated[str | None, typer.Option(help="msToken to use (default: a fresh well-formed one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every token and header as JSON.")] = False,
    env: Annotated[str | None, typer.Option("--env", help="Signer environment (default: TTSIGN_SIGNER_ENV).")] = None,
) -> None:
    """Sign a URL; print the signed URL and the User-Agent to send it with."""
    from ttsign.cli_env import environment_named
    from ttsign.service.policy import PolicyError, SigningPolicy
    from ttsign.signing import ProfileError, generate_ms_token, profile_from_user_agent, sign_request
    from ttsign.signing.mstoken import is_valid_ms_token
    from ttsign.signing.signer import with_browser_params

    if ua and profile:
        fail("give either --ua or --profile, not both")
    environment = environment_named(env)
    try:
        url = SigningPolicy().check(url)  # sign the URL as a browser reads it, the form that was checked
        chosen = profile_from_user_agent(ua) if ua else environment.profile(profile)
        url = with_browser_params(url, chosen)  # what `ttsign verify` (and TikTok) check against the UA
    except (PolicyError, ProfileError) as exc:
        fail(str(exc))
    rng = random.SystemRandom()
    token = generate_ms_token(rng) if ms_token is None else ms_token
    if not is_valid_ms_token(token):
        fail("--ms-token is not a well-formed msToken (100-200 base64url characters)")
    try:
        now_ms = time.time_ns() // 1_000_000
        signed = sign_request(
            method, url, body, chosen, now_ms=now_ms, rng=rng, ms_token=token, environment=environment
        )
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
    env: Annotated[
        str | None, typer.Option("--env", help="Also accept this signer environment's payload version and rounds.")
    ] = None,
) -> None:
    """Decode every signature on a URL and report each check; exit 1 when any check fails."""
    from ttsign.cli_env import environment_named
    from ttsign.signing import VerifyPolicy, verify_request
    from ttsign.signing.verify import KNOWN_GNARLY_VERSIONS

    policy = VerifyPolicy(window_s=window_s)
    if env is not None:
        environment = environment_named(env)
        versions = KNOWN_GNARLY_VERSIONS | {environment.payload_version}
        policy = VerifyPolicy(window_s=window_s, gnarly_versions=versions, chacha_rounds=environment.chacha_rounds)
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    result = verify_request(url, body, ua, now_ms=now, policy=policy)
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
    """Sign and decode every vector in its recorded environment; one line per failure or skip, then
    'N passed, M failed, K skipped'."""
    from ttsign import vectors

    try:
        loaded = [vectors.load(path) for path in files]
    except vectors.VectorFileError as exc:
        fail(str(exc))
    outcomes = list(vectors.check(loaded))
    for outcome in outcomes:
        if outcome.skipped is not None:
            out.print(f"SKIP {outcome.file} {outcome.vector_id}: {outcome.skipped}", markup=False)
        elif outcome.problems:
            out.print(f"FAIL {outcome.file} {outcome.vector_id}: {'; '.join(outcome.problems)}", markup=False)
    summary = vectors.summarize(outcomes)
    out.print(summary.line(), markup=False)
    if summary.failed:
        raise typer.Exit(1)


@bench_app.command("signing")
def bench_signing(
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    runs: Annotated[int, typer.Option(min=1, help="Timed runs per signature (the median is reported).")] = 5,
    seconds: Annotated[float, typer.Option(min=0.05, help="Length of one run in seconds.")] = 1.0,
) -> None:
    """Signatures per second on one core for vector c001 (a ~1 KB im/fetch query)."""
    from ttsign import benchmark

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
    ) as bar:
        task = bar.add_task("signing benchmark", total=benchmark.planned_runs(runs))

        def advance(name: str) -> None:
            bar.update(task, advance=1, description=f"signing benchmark: {name}")

        results = benchmark.run(runs=runs, seconds=seconds, progress=advance)
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
