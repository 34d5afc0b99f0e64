"""`ttsign serve --workers 2`: /metrics in any worker reports every worker's samples (multiprocess mode)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.harness import Proc, serve_argv

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]
REQUESTS = 60


def healthz_count(text: str) -> float:
    total = 0.0
    for labels, value in re.findall(r"^ttsign_http_requests_total\{(.*)\} (\S+)$", text, re.MULTILINE):
        if 'route="/healthz"' in labels:
            total += float(value)
    return total


def test_metrics_add_up_across_workers() -> None:
    proc = Proc(serve_argv(None, "--workers", "2"), name="metrics-workers")
    proc.start()
    try:
        url = proc.wait_ready()["url"]

        def one(_: int) -> int:
            with httpx.Client(base_url=url, timeout=5) as fresh:  # a new connection: any worker may take it
                health = fresh.get("/healthz")
                assert health.status_code == 200
                return int(health.json()["worker"])

        with ThreadPoolExecutor(8) as pool:
            answered_by = set(pool.map(one, range(REQUESTS)))
        # Both workers counted some of them: a scrape reporting only its own worker would come up short.
        assert len(answered_by) == 2, answered_by
        for _ in range(10):  # whichever worker answers the scrape, it reports all of them
            with httpx.Client(base_url=url, timeout=5) as fresh:
                scrape = fresh.get("/metrics")
            assert scrape.status_code == 200
            assert healthz_count(scrape.text) == REQUESTS
    finally:
        assert proc.stop() == 0
    stderr = proc.stderr_text()
    assert "Traceback" not in stderr
    for line in stderr.splitlines():
        json.loads(line)
