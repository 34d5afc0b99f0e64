"""`ttsign emulate` as a process: one ready line, both listeners, clean exit on SIGINT/SIGTERM, clear errors."""

from __future__ import annotations

import signal
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import TTSIGN, Proc


def test_era_option_chooses_the_rules_and_refuses_unknown_eras() -> None:
    proc = Proc([TTSIGN, "emulate", "--port", "0", "--era", "2026-08"], name="emulator").start()
    try:
        assert proc.wait_ready()["era"] == "2026-08"
    finally:
        assert proc.stop() == 0
    bad = Proc([TTSIGN, "emulate", "--port", "0", "--era", "2025-01"], name="emulator").start()
    assert bad.process is not None and bad.process.wait(20) == 2
    assert "--era must be one of 2026-08, 2026-09" in bad.stderr_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ready_line_both_listeners_and_clean_exit(sig: signal.Signals) -> None:
    proc = Proc([TTSIGN, "emulate", "--port", "0", "--tls-port", "0"], name="emulator").start()
    try:
        ready = proc.wait_ready()
        assert set(ready) == {"event", "service", "url", "tls_url", "era"}
        assert ready["service"] == "emulator"
        assert ready["era"] == "2026-09"  # the default: TikTok as it is since 2026-09
        assert ready["url"].startswith("http://127.0.0.1:")
        assert ready["tls_url"].startswith("https://127.0.0.1:")
        assert httpx.get(ready["url"] + "/@emu_streamer/live", timeout=5).status_code == 200
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        tls = httpx.get(ready["tls_url"] + "/webcast/gift/list/", verify=context, timeout=5)
        assert tls.json()["data"]["gifts"]
        proc.process.send_signal(sig)  # type: ignore[union-attr]
        assert proc.process.wait(10) == 0  # type: ignore[union-attr]
        assert proc.stdout_lines == [proc.stdout_lines[0]], "only the ready line goes to stdout"
    finally:
        proc.stop()


def test_bad_scenario_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("timeline: [{type: chat, user: ghost, content: hi}]\n")
    done = subprocess.run(
        [TTSIGN, "emulate", "--port", "0", "--scenario", str(bad)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "ghost" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("fault", ["{timeout_s: 100}", "{latency_ms: 60000}"], ids=["hang", "latency"])
def test_shutdown_does_not_wait_for_an_injected_hang(tmp_path: Path, fault: str) -> None:
    import threading
    import time

    scenario = tmp_path / "hang.yaml"
    scenario.write_text(f"faults: {{room_info: {fault}}}\n")
    proc = Proc([TTSIGN, "emulate", "--port", "0", "--scenario", str(scenario)], name="emulator").start()
    try:
        url = proc.wait_ready()["url"]
        errors: list[BaseException] = []

        def hang() -> None:
            try:
                httpx.get(url + "/webcast/room/info/?room_id=1", timeout=30)
            except httpx.HTTPError as exc:
                errors.append(exc)

        caller = threading.Thread(target=hang)
        caller.start()
        time.sleep(0.5)
        started = time.monotonic()
        proc.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        assert proc.process.wait(10) == 0  # type: ignore[union-attr]
        assert time.monotonic() - started < 5
        caller.join(10)
        if "timeout_s" in fault:
            assert errors, "the hanging request must end with a dropped connection, not an answer"
        assert "Traceback" not in proc.stderr_text()
    finally:
        proc.stop()
