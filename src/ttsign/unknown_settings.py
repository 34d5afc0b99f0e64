"""`TTSIGN_*` environment variables that name no setting: a typo (TTSIGN_PROT=9000) would otherwise be
silently ignored, and the operator would believe a setting took effect that did not."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ttsign.config import CONFIG_FILE_ENV, Settings

ENV_PREFIX = "TTSIGN_"
# Read by something other than Settings: the config file's name, and the test suite's own Redis.
OTHER_KNOWN = frozenset({CONFIG_FILE_ENV, "TTSIGN_TEST_REDIS_URL"})


def unknown_setting_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of `TTSIGN_*` variables in `environ` (the process's by default) that no setting reads, sorted."""
    environ = os.environ if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | OTHER_KNOWN
    # Settings matches names case-insensitively, so compare in upper case.
    return sorted(name for name in environ if name.upper().startswith(ENV_PREFIX) and name.upper() not in known)


def unknown_setting_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per unknown variable, naming it (never its value: it may be a secret)."""
    return [f"{name} is not a ttsign setting and is ignored" for name in unknown_setting_names(environ)]
