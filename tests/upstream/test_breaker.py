"""Circuit breakers over an injected clock: closed → open → half-open → closed or open again."""

from __future__ import annotations

from ttsign.upstream.breaker import BreakerBoard, BreakerPolicy, BreakerState, Transition


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


# --- transitions shared with other replicas ---------------------------------------------------------------


def reporting_board(clock: Clock, **policy: float) -> tuple[BreakerBoard, list[Transition]]:
    seen: list[Transition] = []
    options = {"failure_threshold": 3, "cooldown_s": 10.0, "max_keys": 100} | policy
    b = BreakerBoard(
        "room",
        BreakerPolicy(int(options["failure_threshold"]), options["cooldown_s"], int(options["max_keys"])),
        clock=clock,
        on_transition=seen.append,
    )
    return b, seen


def test_opening_and_closing_are_reported_with_the_key_and_reopen_time_half_open_is_not() -> None:
    clock = Clock()
    b, seen = reporting_board(clock)
    for _ in range(3):
        b.record_failure("r1")
    clock.now += 10
    assert b.check("r1") is None  # half-open probe: not a transition anyone else needs
    b.record_failure("r1")  # the probe failed: open again, from now
    clock.now += 10
    assert b.check("r1") is None
    b.record_success("r1")
    assert seen == [
        Transition("room", "r1", BreakerState.OPEN, 1010.0),
        Transition("room", "r1", BreakerState.OPEN, 1020.0),
        Transition("room", "r1", BreakerState.CLOSED),
    ]
    b.record_success("r2")  # closed already: nothing to tell
    assert len(seen) == 3


def test_apply_open_holds_the_key_open_until_the_given_time_without_reporting_it() -> None:
    clock = Clock()
    changes: list[tuple[str, BreakerState]] = []
    seen: list[Transition] = []
    b = BreakerBoard(
        "room", BreakerPolicy(3, 10.0), clock=clock, on_change=lambda *c: changes.append(c), on_transition=seen.append
    )
    b.apply_open("r1", 1004.0)
    assert b.state("r1") is BreakerState.OPEN and b.check("r1") == 4.0
    assert b.open_count() == 1
    clock.now += 4
    assert b.state("r1") is BreakerState.HALF_OPEN
    assert b.check("r1") is None  # this replica's own probe
    b.record_success("r1")
    assert b.state("r1") is BreakerState.CLOSED
    assert changes == [("room", BreakerState.HALF_OPEN), ("room", BreakerState.CLOSED)]  # not the applied open
    assert seen == [Transition("room", "r1", BreakerState.CLOSED)]  # the probe's own verdict is news


def test_apply_open_keeps_a_later_local_reopen_time_and_ignores_times_already_past() -> None:
    clock = Clock()
    b, seen = reporting_board(clock)
    for _ in range(3):
        b.record_failure("r1")  # open here until 1010
    b.apply_open("r1", 1005.0)
    assert b.check("r1") == 10.0
    b.apply_open("r1", 1012.0)  # another replica's probe failed later: its pause is longer
    assert b.check("r1") == 12.0
    b.apply_open("r2", 999.0)
    b.apply_open("r3", 1000.0)
    assert b.state("r2") is BreakerState.CLOSED and b.state("r3") is BreakerState.CLOSED
    assert len(seen) == 1


def test_apply_open_replaces_a_half_open_probe() -> None:
    clock = Clock()
    b, _ = reporting_board(clock)
    for _ in range(3):
        b.record_failure("r1")
    clock.now += 10
    assert b.check("r1") is None  # our probe is out
    b.apply_open("r1", 1030.0)  # meanwhile another replica's probe failed
    assert b.state("r1") is BreakerState.OPEN and b.check("r1") == 20.0


def test_apply_close_closes_and_forgets_the_failures() -> None:
    clock = Clock()
    b, seen = reporting_board(clock)
    b.record_failure("r1")
    b.record_failure("r1")
    b.apply_close("r1")
    b.record_failure("r1")
    b.record_failure("r1")
    assert b.state("r1") is BreakerState.CLOSED  # the count started over
    b.apply_open("r2", 1010.0)
    b.apply_close("r2")
    assert b.state("r2") is BreakerState.CLOSED and b.check("r2") is None and b.open_count() == 0
    b.apply_close("never-seen")
    assert seen == []


def test_applied_keys_are_bounded_too() -> None:
    clock = Clock()
    b, _ = reporting_board(clock, max_keys=50)
    for n in range(500):
        b.apply_open(f"room-{n}", 1010.0)
    assert b.open_count() == 50
    assert b.check("room-499") is not None and b.check("room-0") is None
