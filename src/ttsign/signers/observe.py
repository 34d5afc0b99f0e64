"""Signer backend metrics, labelled by `backend`: attempts by outcome, and how long each attempt took."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from ttsign.signers.chain import OnOutcome


def backend_metrics(registry: CollectorRegistry) -> OnOutcome:
    """Register the two metrics on the app's registry; the returned callback feeds them."""
    attempts = Counter(
        "ttsign_signer_backend_attempts",
        "Signing attempts per signer backend, by outcome (signed, or why it refused).",
        ["backend", "outcome"],
        registry=registry,
    )
    seconds = Histogram(
        "ttsign_signer_backend_seconds",
        "Time one signer backend took per attempt.",
        ["backend"],
        buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
        registry=registry,
    )

    def observed(backend: str, outcome: str, elapsed_s: float) -> None:
        attempts.labels(backend, outcome).inc()
        seconds.labels(backend).observe(elapsed_s)

    return observed
