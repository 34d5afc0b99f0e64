from __future__ import annotations

from pathlib import Path

import pytest

from ttsign.emulator.faults import RouteFault
from ttsign.emulator.scenario import (
    DEFAULT_SCENARIO,
    BatchStep,
    GiftEvent,
    ScenarioError,
    load_scenario,
    parse_scenario,
)


def test_default_scenario_covers_every_event_then_ends() -> None:
    scenario = load_scenario(None)
    kinds = [getattr(step, "type", "batch") for step in scenario.timeline]
    for kind in ("chat", "gift", "like", "member", "follow", "share", "room_user_seq"):
        assert kind in kinds
    assert kinds[-1] == "control"
    assert scenario.timeline[-1].action == "stream_ended"  # type: ignore[union-attr]
    gift = next(s for s in scenario.timeline if isinstance(s, GiftEvent))
    assert gift.repeat_count > 1
    assert scenario.initial, "the initial fetch result should carry a viewer count"
    assert load_scenario(DEFAULT_SCENARIO) == scenario


def test_json_is_accepted_and_batches_parse(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        '{"users": {"a": {"id": 1, "unique_id": "a"}}, "timeline": '
        '[{"id": 5, "batch": [{"type": "chat", "user": "a", "content": "x"}, {"type": "like", "count": 2}]}]}'
    )
    scenario = load_scenario(path)
    step = scenario.timeline[0]
    assert isinstance(step, BatchStep)
    assert [e.type for e in step.batch] == ["chat", "like"]


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ({"timeline": [{"type": "dance"}]}, "timeline.0"),
        ({"timeline": [{"type": "chat", "user": "ghost", "content": "x"}]}, "'ghost'"),
        ({"room": {"state": "sleeping"}}, "room.state"),
        ({"streamr": {}}, "streamr"),
        ({"websocket": {"route_params": {}}}, "route_params"),
        ({"timeline": [{"type": "chat"}]}, "content"),
        ({"faults": {"im_fetch": {"reset": True, "empty_200": True}}}, "at most one"),
        ({"faults": {"im_fetch": {"timeout_s": 1000}}}, "timeout_s"),
        ({"faults": {"nowhere": {}}}, "nowhere"),
        ([1, 2], "mapping"),
    ],
)
def test_bad_scenarios_get_a_clear_error(document: object, needle: str) -> None:
    with pytest.raises(ScenarioError) as excinfo:
        parse_scenario(document)
    assert needle in str(excinfo.value)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("streamer: {unique_id: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(bad)


def test_route_fault_outcome_names() -> None:
    assert RouteFault(latency_ms=5).outcome is None
    assert RouteFault(status_5xx=502).outcome == "status_5xx"
    assert RouteFault(captcha_html=True).outcome == "captcha_html"


def test_the_documented_examples_are_valid() -> None:
    import re

    import yaml

    readme = (DEFAULT_SCENARIO.parent / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    assert len(blocks) == 2
    full = parse_scenario(yaml.safe_load(blocks[0]))
    assert full.timeline[-1].type == "control"  # type: ignore[union-attr]
    faults = parse_scenario(yaml.safe_load(blocks[1])).faults
    assert faults.for_route("room_info").timeout_s == 30  # type: ignore[union-attr]
    assert faults.for_route("ws_handshake").outcome == "empty_200"  # type: ignore[union-attr]
