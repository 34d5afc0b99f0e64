"""`ttsign env`: list, show and check signer environments (the built-ins and the operator's TOML file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ttsign.signing.environment import BUILTIN_ENVIRONMENTS, IntWidthPolicy, SignerEnvironment

env_app = typer.Typer(help="Signer environments: SDK versions, constants and policies as data.", no_args_is_help=True)
_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    _err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def _configured() -> tuple[Path | None, str]:
    """(signer_env_file, signer_env) from the settings; a bad settings file is a one-line error."""
    from ttsign.config import ConfigFileError, Settings

    try:
        settings = Settings()
    except (ConfigFileError, ValueError) as exc:
        _fail(f"cannot read the settings: {exc}")
    return settings.signer_env_file, settings.signer_env


def _catalog() -> tuple[dict[str, SignerEnvironment], str]:
    from ttsign.signers.environments import EnvironmentFileError, catalog

    path, active = _configured()
    try:
        return dict(catalog(path)), active
    except EnvironmentFileError as exc:
        _fail(f"TTSIGN_SIGNER_ENV_FILE {exc}")


def environment_named(name: str | None) -> SignerEnvironment:
    """The environment `name` names (default: the configured one), or a one-line error and exit 2."""
    known, active = _catalog()
    wanted = name or active
    if wanted not in known:
        _fail(f"unknown signer environment {wanted!r}; known: {', '.join(known)}")
    return known[wanted]


def _order(env: SignerEnvironment) -> str:
    return env.field_order.value


def _widths(env: SignerEnvironment) -> str:
    if env.int_width is IntWidthPolicy.FIXED:
        return "fixed"
    return f"minimal (<{env.short_int_limit})"


@env_app.command("list")
def env_list() -> None:
    """Every environment, built-in and from TTSIGN_SIGNER_ENV_FILE; `*` marks the active one."""
    known, active = _catalog()
    table = Table("", "name", "payload", "sdk build", "field order", "int widths", "source")
    for name, env in known.items():
        source = "built-in" if name in BUILTIN_ENVIRONMENTS else "file"
        table.add_row(
            "*" if name == active else "",
            name,
            env.payload_version,
            env.sdk_build or "-",
            _order(env),
            _widths(env),
            source,
        )
    _out.print(table)


@env_app.command("show")
def env_show(name: Annotated[str, typer.Argument(help="Environment name (see `ttsign env list`).")]) -> None:
    """Print one environment as TOML: copy it into your file, rename it, change what TikTok changed."""
    from ttsign.signers.environments import environment_toml

    _out.print(environment_toml(environment_named(name)), markup=False, end="")


@env_app.command("check")
def env_check(path: Annotated[Path, typer.Argument(help="A signer environment TOML file.")]) -> None:
    """Validate a file: one line per bad field and exit 1, or the environments it defines."""
    from ttsign.signers.environments import EnvironmentFileError, load_environment_file

    try:
        loaded = load_environment_file(path)
    except EnvironmentFileError as exc:
        for problem in exc.problems:
            _err.print(f"error: {exc.source}: {problem}", markup=False)
        raise typer.Exit(1) from None
    for name, env in loaded.items():
        _out.print(
            f"ok {name}: payload {env.payload_version}, {_order(env)} order, {_widths(env)} widths", markup=False
        )
    _out.print(f"{len(loaded)} environment(s) valid", markup=False)
