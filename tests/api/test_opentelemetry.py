"""FastAPI's OpenTelemetry reporting is off unless `opentelemetry` is set: with a tracer provider configured in
the process, requests start spans only when it is on. Each case runs in a process of its own, as the global
provider can be set once per process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan

started = []

class Tracer(trace.Tracer):
    def start_span(self, name, *args, **kwargs):
        started.append(name)
        return NonRecordingSpan(INVALID_SPAN_CONTEXT)

    def start_as_current_span(self, name, *args, **kwargs):
        started.append(name)
        return trace.use_span(NonRecordingSpan(INVALID_SPAN_CONTEXT))

class Provider(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        return Tracer()

trace.set_tracer_provider(Provider())
from fastapi.testclient import TestClient
from ttsign.api.app import create_app
from ttsign.config import Settings

app = create_app(Settings(opentelemetry=sys.argv[1] == "on", store_path=sys.argv[2]))
with TestClient(app) as client:
    assert client.get("/healthz").status_code == 200
print(len(started))
"""


@pytest.mark.parametrize(("setting", "spans"), [("on", True), ("off", False)])
def test_spans_are_started_only_when_opentelemetry_is_on(setting: str, spans: bool, tmp_path: Path) -> None:
    store = str(tmp_path / "ttsign.sqlite3")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, setting, store], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    started = int(done.stdout.strip().splitlines()[-1])
    assert (started > 0) is spans, done.stdout
