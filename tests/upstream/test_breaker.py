"""Circuit breakers over an injected clock: closed → open → half-open → closed or open again."""

from __future__ import annotations

from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy, BreakerState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def board(clock: Clock, threshold: int = 3, cooldown: float = 10.0, max_keys: int = 100) -> BreakerBoard:
    changes: list[tuple[str, BreakerState]] = []
    b = BreakerBoard(
        "room", BreakerPolicy(threshold, cooldown, max_keys), clock=clock, on_change=lambda *c: changes.append(c)
    )
    b.changes = changes  # type: ignore[attr-defined]
    return b


def test_opens_after_k_consecutive_failures_and_refuses_for_the_cooldown() -> None:
    clock = Clock()
    b = board(clock)
    for _ in range(2):
        b.record_failure("r1")
        assert b.check("r1") is None
    b.record_failure("r1")
    assert b.state("r1") is BreakerState.OPEN
    assert b.check("r1") == 10.0
    clock.now += 4
    assert b.check("r1") == 6.0
    assert b.check("r2") is None  # other keys are unaffected
    assert b.open_count() == 1
    assert b.changes == [("room", BreakerState.OPEN)]  # type: ignore[attr-defined]


def test_a_success_resets_the_count() -> None:
    clock = Clock()
    b = board(clock)
    b.record_failure("r1")
    b.record_failure("r1")
    b.record_success("r1")
    b.record_failure("r1")
    b.record_failure("r1")
    assert b.check("r1") is None and b.state("r1") is BreakerState.CLOSED


def test_half_open_lets_one_probe_through_and_its_success_closes() -> None:
    clock = Clock()
    b = board(clock)
    for _ in range(3):
        b.record_failure("r1")
    clock.now += 10
    assert b.state("r1") is BreakerState.HALF_OPEN
    assert b.check("r1") is None  # the probe
    assert b.check("r1") is not None  # a second caller waits for the probe's verdict
    b.record_success("r1")
    assert b.state("r1") is BreakerState.CLOSED and b.check("r1") is None
    assert b.open_count() == 0
    assert b.changes == [  # type: ignore[attr-defined]
        ("room", BreakerState.OPEN),
        ("room", BreakerState.HALF_OPEN),
        ("room", BreakerState.CLOSED),
    ]


def test_a_failed_probe_opens_for_another_full_cooldown() -> None:
    clock = Clock()
    b = board(clock)
    for _ in range(3):
        b.record_failure("r1")
    clock.now += 11
    assert b.check("r1") is None
    b.record_failure("r1")
    assert b.state("r1") is BreakerState.OPEN
    assert b.check("r1") == 10.0


def test_late_failures_of_calls_started_before_opening_do_not_extend_the_cooldown() -> None:
    clock = Clock()
    b = board(clock)
    for _ in range(3):
        b.record_failure("r1")
    clock.now += 5
    b.record_failure("r1")
    assert b.check("r1") == 5.0


def test_a_probe_that_never_reports_expires() -> None:
    clock = Clock()
    b = board(clock)
    for _ in range(3):
        b.record_failure("r1")
    clock.now += 10
    assert b.check("r1") is None  # probe leaves and never comes back
    clock.now += 10
    assert b.check("r1") is None  # a new probe is allowed


def test_tracked_keys_are_bounded() -> None:
    clock = Clock()
    b = board(clock, threshold=1, max_keys=50)
    for n in range(500):
        b.record_failure(f"room-{n}")
    assert b.open_count() == 50
    assert b.check("room-499") is not None
    assert b.check("room-0") is None  # the oldest were forgotten
