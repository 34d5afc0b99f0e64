"""Test hooks under /__emu: read the log, replace or patch the scenario, push entries, close sessions.

- ``GET /__emu/log[?since=SEQ&kind=K]``: the structured event log as a JSON list; ``DELETE`` clears it.
- ``GET /__emu/scenario``: the scenario in force; ``POST`` replaces it; ``PATCH`` replaces top-level keys
  (e.g. ``{"faults": {...}}`` to switch faults without a restart). Bad input: 400 with the reason.
- ``POST /__emu/push``: one timeline entry or a list; sent now to every open session (queued for the next
  session if none is open). Step mode is a scenario with ``timeline: []`` driven through this route.
- ``POST /__emu/close``: ``{"code": 4001, "reason": "x"}`` closes open sessions with that code;
  ``{"clean": true}`` sends a stream-end control message and closes the way the scenario's ``end`` says.
- ``GET /__emu/state``: listener URLs, strict flag, open sessions, requests received per route.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ttsign.emulator.scenario import ScenarioError, parse_scenario
from ttsign.emulator.state import Emulator


def _emu(request: Request) -> Emulator:
    emu: Emulator = request.app.state.emu
    return emu


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise ScenarioError(f"request body is not JSON: {exc}") from None


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def log(request: Request) -> Response:
    emu = _emu(request)
    if request.method == "DELETE":
        emu.log.clear()
        return JSONResponse({"cleared": True})
    try:
        since = int(request.query_params.get("since", "0"))
    except ValueError:
        return _bad("since must be an integer")
    return JSONResponse(emu.log.entries(since=since, kind=request.query_params.get("kind")))


async def scenario(request: Request) -> Response:
    emu = _emu(request)
    if request.method == "GET":
        return JSONResponse(emu.scenario.model_dump(mode="json"))
    try:
        body = await _json_body(request)
        if request.method == "PATCH":
            if not isinstance(body, dict):
                raise ScenarioError("PATCH needs a JSON object of top-level scenario keys")
            body = {**emu.scenario.model_dump(mode="json"), **body}
        new = parse_scenario(body)
    except ScenarioError as exc:
        return _bad(str(exc))
    emu.replace_scenario(new)
    emu.log.add("scenario_replaced", method=request.method, keys=sorted(body) if isinstance(body, dict) else [])
    return JSONResponse({"ok": True})


async def push(request: Request) -> Response:
    emu = _emu(request)
    try:
        body = await _json_body(request)
        entries = body if isinstance(body, list) else [body]
        # Validate against the scenario in force so user references resolve.
        steps = parse_scenario({**emu.scenario.model_dump(mode="json"), "timeline": entries}).timeline
    except ScenarioError as exc:
        return _bad(str(exc).replace("timeline", "push"))
    sessions = [s for s in emu.sessions if not s.closed.is_set()]
    if not sessions:
        emu.pending.extend(steps)
        return JSONResponse({"delivered": 0, "queued": len(emu.pending)})
    for session in sessions:
        for step in steps:
            await session.push(step)
    return JSONResponse({"delivered": len(sessions), "queued": 0})


async def close(request: Request) -> Response:
    emu = _emu(request)
    try:
        body = await _json_body(request) or {}
        if not isinstance(body, dict):
            raise ScenarioError("close needs a JSON object")
        code = body.get("code", 1000)
        if not isinstance(code, int) or not 1000 <= code <= 4999:
            raise ScenarioError("code must be a WebSocket close code (1000..4999)")
    except ScenarioError as exc:
        return _bad(str(exc))
    sessions = [s for s in emu.sessions if not s.closed.is_set()]
    if body.get("clean"):
        steps = parse_scenario(
            {
                **emu.scenario.model_dump(mode="json"),
                "timeline": [{"type": "control", "action": "stream_ended"}],
            }
        ).timeline
        for session in sessions:
            await session.push(steps[0])
    else:
        for session in sessions:
            await session.close(code, str(body.get("reason", "")))
    return JSONResponse({"closed": len(sessions)})


async def state(request: Request) -> Response:
    emu = _emu(request)
    return JSONResponse(
        {
            "url": emu.plain_url,
            "tls_url": emu.tls_url,
            "strict": emu.strict,
            "era": emu.era,
            "sessions": [{"id": s.id, "entered": s.entered.is_set()} for s in emu.sessions],
            "push_server": emu.push_server,
            # Requests received per route since the scenario was last replaced, counted on arrival: a test
            # compares them with the logged (finished) requests to wait until nothing is in flight.
            "hits": dict(emu.hits),
        }
    )
