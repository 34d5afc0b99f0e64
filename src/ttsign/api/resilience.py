"""Settings → the upstream retry policy and circuit breakers, reporting to the metrics (and, with a shared
store, to the other replicas)."""

from __future__ import annotations

from ttsign.config import Settings
from ttsign.metrics import Metrics
from ttsign.plain_metrics import Increments
from ttsign.service.breaker_sharing import BreakerSharing
from ttsign.service.connect import OnOutcome, OnRetry
from ttsign.service.resilience import ConnectBreakers
from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy, BreakerState
from ttsign.upstream.refusals import Refusal
from ttsign.upstream.retry import RetryPolicy


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.upstream_max_attempts,
        base_delay_s=settings.upstream_retry_base_delay_s,
        max_delay_s=settings.upstream_retry_max_delay_s,
        attempt_timeout_s=settings.attempt_timeout_s,
    )


def connect_breakers(settings: Settings, metrics: Metrics, sharing: BreakerSharing | None = None) -> ConnectBreakers:
    """The room and identity breakers; with `sharing`, their transitions are exchanged with other replicas."""
    policy = BreakerPolicy(settings.breaker_failure_threshold, settings.breaker_cooldown_s)

    def changed(scope: str, state: BreakerState) -> None:
        metrics.breaker_transitions.labels(scope, str(state)).inc()

    observe = sharing.observe if sharing is not None else None
    breakers = ConnectBreakers(
        rooms=BreakerBoard("room", policy, on_change=changed, on_transition=observe),
        identities=BreakerBoard("identity", policy, on_change=changed, on_transition=observe),
    )
    if sharing is not None:
        sharing.track(breakers.rooms, breakers.identities)
    return breakers


def count_retries(metrics: Metrics) -> OnRetry:
    def retried(step: str, refusal: Refusal) -> None:
        metrics.upstream_retries.labels(step, str(refusal.code)).inc()

    return retried


def strategy_breakers(settings: Settings, metrics: Metrics) -> BreakerBoard:
    """One breaker per connect strategy (keyed by its name): a strategy TikTok keeps refusing is skipped."""

    def changed(scope: str, state: BreakerState) -> None:
        metrics.breaker_transitions.labels(scope, str(state)).inc()

    policy = BreakerPolicy(settings.breaker_failure_threshold, settings.breaker_cooldown_s)
    return BreakerBoard("strategy", policy, on_change=changed)


def count_strategy_outcomes(metrics: Metrics) -> OnOutcome:
    children: dict[tuple[str, str], Increments] = {}  # a closed set of label pairs: `labels` costs more than `inc`

    def counted(strategy: str, outcome: str) -> None:
        child = children.get((strategy, outcome))
        if child is None:
            child = children[strategy, outcome] = metrics.connect_outcomes.labels(strategy, outcome)
        child.inc()

    return counted
