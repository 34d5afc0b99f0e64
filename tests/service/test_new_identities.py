"""The new-identity budget: a caller's new browser User-Agents start identities only within its budget."""

from __future__ import annotations

from ttsign.service.new_identities import NewIdentityBudget
from ttsign.signing import BrowserProfile, default_profile, profile_from_user_agent

DEFAULT = default_profile()


def chrome(version: int) -> BrowserProfile:
    return profile_from_user_agent(
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0 "
        "Safari/537.36"
    )


class Pool:
    """Stands in for IdentityPool.holds: which profiles' slots are warm."""

    def __init__(self, *held: BrowserProfile) -> None:
        self.held = [p.user_agent for p in held]

    def holds(self, profile: BrowserProfile) -> bool:
        return profile.user_agent in self.held


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_gets_its_budget_of_new_identities_then_the_default() -> None:
    clock = Clock()
    budget = NewIdentityBudget(per_caller_per_minute=2, per_minute=100, clock=clock)
    pool = Pool()
    chosen = [budget.choose(chrome(v), DEFAULT, pool, "key:a") for v in (120, 121, 122, 123)]  # type: ignore[arg-type]
    assert [p.user_agent for p in chosen] == [chrome(120).user_agent, chrome(121).user_agent] + [DEFAULT.user_agent] * 2
    assert budget.choose(chrome(124), DEFAULT, pool, "key:b") == chrome(124)  # type: ignore[arg-type]  # another caller
    clock.now += 60  # the next minute
    assert budget.choose(chrome(125), DEFAULT, pool, "key:a") == chrome(125)  # type: ignore[arg-type]


def test_held_profiles_and_the_default_cost_nothing_and_the_total_is_capped() -> None:
    budget = NewIdentityBudget(per_caller_per_minute=10, per_minute=2, clock=Clock())
    pool = Pool(chrome(120))
    for _ in range(5):
        assert budget.choose(chrome(120), DEFAULT, pool, "key:a") == chrome(120)  # type: ignore[arg-type]
        assert budget.choose(DEFAULT, DEFAULT, pool, "key:a") == DEFAULT  # type: ignore[arg-type]
    assert budget.choose(chrome(121), DEFAULT, pool, "key:a") == chrome(121)  # type: ignore[arg-type]
    assert budget.choose(chrome(122), DEFAULT, pool, None) == chrome(122)  # type: ignore[arg-type]
    assert budget.choose(chrome(123), DEFAULT, pool, "key:c") == DEFAULT  # type: ignore[arg-type]  # all callers: 2
