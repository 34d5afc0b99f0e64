"""Build the signer chain a server uses from its settings: environment, backends in order, metrics."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from ttsign.config import Settings
from ttsign.signers.backend import SignerBackend
from ttsign.signers.chain import SignerChain
from ttsign.signers.environments import active_environment
from ttsign.signers.native import NativeBackend
from ttsign.signers.observe import backend_metrics
from ttsign.signers.remote import RemoteBackend
from ttsign.signers.vendor_script import VendorScriptBackend, VendorScriptOptions
from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy, BreakerState


def native_backend(settings: Settings) -> NativeBackend:
    """The in-process signer in the configured environment (raises when the environment file is bad)."""
    return NativeBackend(active_environment(settings.signer_env_file, settings.signer_env))


def build_chain(
    settings: Settings,
    native: NativeBackend,
    *,
    ms_token: Callable[[], str],
    registry: CollectorRegistry | None = None,
    on_breaker: Callable[[str, BreakerState], None] | None = None,
) -> SignerChain:
    backends: list[SignerBackend] = []
    for name in settings.signer_backends:
        if name == "native":
            backends.append(native)
        elif name == "vendor-script":
            assert settings.vendor_script_path is not None  # Settings refuses vendor-script without it
            options = VendorScriptOptions(
                settings.vendor_script_path,
                workers=settings.vendor_script_workers,
                timeout_s=settings.vendor_script_timeout_s,
            )
            backends.append(VendorScriptBackend(options, ms_token=ms_token))
        else:
            assert settings.remote_signer_url is not None  # likewise
            backends.append(
                RemoteBackend(
                    settings.remote_signer_url,
                    api_key=settings.remote_signer_api_key,
                    timeout_s=settings.attempt_timeout_s,
                )
            )
    policy = BreakerPolicy(settings.breaker_failure_threshold, settings.breaker_cooldown_s)
    breakers = BreakerBoard("signer_backend", policy, on_change=on_breaker)
    observe = backend_metrics(registry) if registry is not None else None
    return SignerChain(backends, breakers=breakers, **({"on_outcome": observe} if observe else {}))
