"""Bad input, generated: schemathesis drives the app in-process (ASGI) from its own /openapi.json.

A few thousand cases, positive and negative, over every documented operation. Every answer must be a
non-5xx (TikTok is a well-behaved fake here, so any 5xx is ttsign's own fault) and must agree with the schema:
a documented status code, content type, headers and body shape.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import Receive, Scope, Send

from tests.upstream.fake_tiktok import FakeTikTok
from ttsign.api.app import create_app
from ttsign.config import Settings
from ttsign.store.memory import MemoryKeyStore

pytestmark = pytest.mark.timeout(300)

EXAMPLES_PER_OPERATION = 160  # x 17 operations, positive and negative: over two thousand requests
MIN_CASES = 2000

app = create_app(
    Settings(upstream="http://127.0.0.1:9", contact_email="ops@example.org", chat_enabled=True),
    transport=FakeTikTok(),
    store=MemoryKeyStore(),
)


async def without_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """The app, minus startup/shutdown: schemathesis opens a fresh ASGI client (and lifespan) per case, and
    shutting the app down after every request would close its store and transport thousands of times."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await app(scope, receive, send)


schema = schemathesis.openapi.from_asgi("/openapi.json", without_lifespan)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def cases_by_operation() -> Iterator[Counter[str]]:
    """Counts the generated cases; at the module's end (whatever order its tests ran in) the whole generated
    suite must have run a few thousand. Not judged when only some operations were selected."""
    counted: Counter[str] = Counter()
    yield counted
    if len(counted) == len(list(schema.get_all_operations())):
        assert sum(counted.values()) >= MIN_CASES, counted


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is reproducible, never flaky
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_get_schema_conformant_non_5xx_answers(
    case: schemathesis.Case, cases_by_operation: Counter[str]
) -> None:
    cases_by_operation[case.operation.label] += 1
    case.call_and_validate(checks=CHECKS)
