"""Secrets never leak: canary keys, session ids and cookies sent to a real server never reach its logs or answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import FETCH_PATH_ENV, EmulatorHandle, Proc, serve_argv, start_emulator

CANARY_KEY = "tts_canary00_CANARYKEYdoNotLogMe0123456789abcdefghij"
CANARY_SESSION = "CANARYSESSIONdoNotLogMe9876543210"
CANARY_COOKIE = "CANARYCOOKIEdoNotLogMe55555"
CANARIES = (CANARY_KEY, CANARY_SESSION, CANARY_COOKIE, "CANARYKEY", "CANARYSESSION", "CANARYCOOKIE")


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    emu = start_emulator(None, tls=False, era="2026-08")
    yield emu
    emu.proc.stop()


def test_canaries_never_appear_in_logs_or_answers(emulator: EmulatorHandle, tmp_path: Path) -> None:
    env = {"TTSIGN_LOG_LEVEL": "DEBUG", "TTSIGN_STORE_PATH": str(tmp_path / "s.sqlite3"), **FETCH_PATH_ENV}
    server = Proc(serve_argv(emulator.url), name="secrets", env=env).start()
    answers: list[str] = []
    try:
        url = server.wait_ready()["url"]
        cookie_header = f"sessionid={CANARY_SESSION}; tt-target-idc=useast1a; sid_tt={CANARY_COOKIE}"
        with httpx.Client(base_url=url, timeout=10) as http:
            requests = [
                http.get(
                    "/webcast/fetch",
                    params={"room_id": "7390000000000000001", "session_id": CANARY_SESSION, "apiKey": CANARY_KEY},
                ),
                http.get(
                    "/webcast/fetch",
                    params={"room_id": "7390000000000000001", "session_id": CANARY_SESSION},
                    headers={"x-cookie-header": cookie_header, "Cookie": cookie_header},
                ),
                http.get("/webcast/rooms/1/connect", headers={"X-Api-Key": CANARY_KEY}),
                http.post(
                    "/webcast/sign_url",
                    json={
                        "url": "https://webcast.tiktok.com/webcast/gift/list/?aid=1988",
                        "sessionId": CANARY_SESSION,
                        "ttTargetIdc": "useast1a",
                    },
                ),
                http.post("/webcast/sign_url/", data={"url": "not a url", "sessionId": CANARY_SESSION}),
                http.post(
                    "/webcast/chat",
                    json={"content": "hi", "sessionId": CANARY_SESSION},
                    headers={"x-cookie-header": cookie_header},
                ),
                http.get("/webcast/rate_limits", headers={"X-Api-Key": CANARY_KEY}),
                http.get("/webcast/fetch", params={"room_id": "bad", "session_id": CANARY_SESSION}),
                http.get("/no/such/route", params={"apiKey": CANARY_KEY}),
                http.post("/accounts/me/jwt", headers={"X-Api-Key": CANARY_KEY}, json={}),
                http.get(
                    "/webcast/fetch", params={"room_id": "7390000000000000001"}, headers={"x-jwt-key": CANARY_KEY}
                ),
            ]
            answers = [f"{r.status_code} {r.headers} {r.text}" for r in requests]
            assert requests[0].status_code == 401  # the canary key is not a real key
            assert requests[1].status_code == 200  # the session id is ignored, not used
    finally:
        server.stop()
    logs = server.stderr_text()
    assert "DEBUG" in logs or "INFO" in logs  # the log is there and was written at the most verbose level
    for canary in CANARIES:
        assert canary not in logs, f"{canary} leaked into the server log"
        for answer in answers:
            assert canary not in answer, f"{canary} leaked into an answer: {answer[:300]}"
    emulator_log = str(emulator.log())
    assert CANARY_SESSION not in emulator_log and CANARY_KEY not in emulator_log  # nothing forwarded upstream
