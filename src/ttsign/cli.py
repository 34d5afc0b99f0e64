"""The `ttsign` command line: serve, emulate, sign, verify, vectors, bench."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="ttsign",
    help="Self-hosted sign server for TikTok LIVE clients, with a local TikTok LIVE emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8080,
    upstream: Annotated[
        str | None,
        typer.Option(help="Base URL that stands in for both TikTok hosts, e.g. http://127.0.0.1:18080."),
    ] = None,
) -> None:
    """Run the sign server."""
    from ttsign.api.server import run

    run(host=host, port=port, upstream=upstream)


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
