"""`ttsign selftest`: does the native signer still sign like TikTok's own SDK? (the drift check)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ttsign.signers.drift import Observed

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    _err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def selftest(
    bundle: Annotated[
        Path | None, typer.Option(help="TikTok's webmssdk.js to compare with [default: TTSIGN_VENDOR_SCRIPT_PATH].")
    ] = None,
    env: Annotated[str | None, typer.Option("--env", help="Native environment [default: TTSIGN_SIGNER_ENV].")] = None,
    pages: Annotated[int, typer.Option(min=2, max=8, help="SDK pages to sign on (shows a per-page order).")] = 2,
) -> None:
    """Sign fixed requests with the vendor script and native; report each field where they disagree,
    with the environment TOML that would make native agree. Exit status 1 on drift."""
    from ttsign.cli_env import environment_named
    from ttsign.config import Settings
    from ttsign.signers.backend import BackendRefusal
    from ttsign.signers.drift import UnreadableToken
    from ttsign.signers.environments import environment_toml
    from ttsign.signers.selftest import drift_check

    environment = environment_named(env)
    path = bundle or Settings().vendor_script_path
    if path is None:
        _fail("no vendor script to compare with: pass --bundle or set TTSIGN_VENDOR_SCRIPT_PATH")
    try:
        report = asyncio.run(drift_check(path, environment, pages=pages))
    except BackendRefusal as exc:
        _fail(f"the vendor script did not sign: {exc}")
    except UnreadableToken as exc:
        _out.print(f"DRIFT: {exc} (a new envelope or cipher: native cannot follow without a release)", markup=False)
        raise typer.Exit(1) from None
    drifted = {d.field: d for d in report.drifts}
    table = Table("field", f"native ({environment.name})", "vendor script", "")
    for name, value in _observed_rows(report.observed, pages):
        row = drifted.get(name)
        table.add_row(name, row.native if row else value, row.vendor if row else value, "DRIFT" if row else "ok")
    _out.print(table)
    if not report.drifted:
        _out.print(f"no drift: native ({environment.name}) signs like {path.name}", markup=False)
        return
    _out.print(f"{len(report.drifts)} field(s) drifted. This environment makes native agree:", markup=False)
    _out.print(environment_toml(report.agreeing), markup=False, end="")
    if "fields" in drifted:
        _out.print("note: the payload's field set changed: that needs a ttsign release, not only this file.")
    raise typer.Exit(1)


def _observed_rows(observed: Observed, pages: int) -> list[tuple[str, str]]:
    return [
        ("payload_version", observed.payload_version),
        ("sdk_build", observed.sdk_build),
        ("envcode", str(observed.values.envcode)),
        ("ubcode", str(observed.values.ubcode)),
        ("canvas", str(observed.values.canvas)),
        ("fields", str(sorted(observed.keys))),
        ("field_order", f"{len(observed.orders)} order(s) on {pages} pages"),
        ("int_width", "as observed"),
        ("init_stamp", "as observed"),
    ]
