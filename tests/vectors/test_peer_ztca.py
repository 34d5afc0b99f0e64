"""A peer's implementation, run at test time: carcabot tiktok-signature 4.3.6 `xgnarly.mjs` (payload
5.1.3-ZTCA). ttsign's built-in vendor-5.1.3-ztca environment reproduces its tokens byte for byte, and
`ttsign vectors check` checks a file of its outputs in the environment the file declares."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.signers.vendor_bundles import ROOT
from ttsign.signing import default_profile, xgnarly
from ttsign.signing.environment import VENDOR_5_1_3_ZTCA
from ttsign.signing.sdk_session import Environment, RequestDigest, SdkSession

XGNARLY_MJS = ROOT / "tests" / "e2e" / "node-webmssdk" / "node_modules" / "tiktok-signature" / "xgnarly.mjs"
pytestmark = pytest.mark.skipif(not XGNARLY_MJS.is_file(), reason=f"{XGNARLY_MJS} is missing: run scripts/e2e-deps.sh")
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
INPUTS = [
    ("z0", "aid=1988&room_id=7390000000000000001&msToken=", "", 1767225600123, (0, 1, 0, 0)),
    ("z1", "aid=1988&count=35&cursor=0&secUid=MS4wLjABAAAA&msToken=abc", "", 1767225601999, (2, 3, 1, 0)),
    ("z2", "aid=1988&room_id=1", "content=hi%20there", 1767225700000, (40, 30, 7, 9)),
    ("z3", "", "", 1799999999999, (70000, 0, 0, 0)),  # a counter past 65535: fixed 2-byte width keeps low bytes
]

# Runs the peer with its randomness fixed per input; prints one JSON line per token.
PEER = """
import { encode } from %(module)s;
const inputs = JSON.parse(process.argv[1]);
for (const [id, query, body, ua, ts, c, seed] of inputs) {
  const bytes = (n, k) => Uint8Array.from({ length: n }, (_, i) => (seed * 31 + k * 7 + i * 13) & 255);
  const token = encode(query, body, ua,
    { totalXHRRequests: c[0], totalFetchRequests: c[1], interceptedXHRRequests: c[2], interceptedFetchRequests: c[3] },
    { timestampMs: ts, randomLow16: bytes(2, 1), random32: bytes(4, 2), randomKey: bytes(48, 3) });
  console.log(JSON.stringify({ id, token }));
}
"""


def _peer_tokens() -> dict[str, str]:
    args = [[i, q, b, UA, ts, c, n] for n, (i, q, b, ts, c) in enumerate(INPUTS)]
    script = PEER % {"module": json.dumps(XGNARLY_MJS.as_uri())}
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {row["id"]: row["token"] for row in map(json.loads, result.stdout.splitlines())}


def _bytes(seed: int, k: int, n: int) -> bytes:
    return bytes((seed * 31 + k * 7 + i * 13) & 255 for i in range(n))


@pytest.fixture(scope="module")
def peer() -> dict[str, str]:
    return _peer_tokens()


@pytest.mark.parametrize("index", range(len(INPUTS)))
def test_the_ztca_environment_reproduces_the_peer_byte_for_byte(peer: dict[str, str], index: int) -> None:
    vector_id, query, body, ts_ms, counters = INPUTS[index]
    env = VENDOR_5_1_3_ZTCA
    values = env.apply(default_profile())
    total, intercepted = counters[0] + counters[1], counters[2] + counters[3]
    fields = env.payload(
        RequestDigest.of(query, body, UA),
        Environment(values.envcode, values.ubcode, values.canvas),
        SdkSession(env.fixed_order, 0, total - 1, intercepted),
        now_ms=ts_ms,
        rand16=int.from_bytes(_bytes(index, 1, 2), "big"),
        rand32=int.from_bytes(_bytes(index, 2, 4), "big"),
    )
    token = xgnarly.encode(fields, env.fixed_order, _bytes(index, 3, 48), env.payload_format)
    assert token == peer[vector_id]


def _vector_file(peer: dict[str, str], environment: str) -> dict[str, Any]:
    vectors = [
        {
            "id": vector_id,
            "query": query,
            "body": body,
            "user_agent": UA,
            "ts": ts_ms // 1000,
            "ts_ms": ts_ms,
            "counters": dict(
                zip(
                    ("totalXHRRequests", "totalFetchRequests", "interceptedXHRRequests", "interceptedFetchRequests"),
                    counters,
                    strict=True,
                )
            ),
            "x_gnarly": peer[vector_id],
        }
        for vector_id, query, body, ts_ms, counters in INPUTS
    ]
    return {"algorithm": "X-Gnarly", "implementation": "carcabot xgnarly.mjs", "environment": environment,
            "count": len(vectors), "vectors": vectors}  # fmt: skip


@pytest.mark.parametrize(("environment", "summary"), [
    ("vendor-5.1.3-ztca", "4 passed, 0 failed, 0 skipped"),
    ("vendor-5.1.3", "0 passed, 4 failed, 0 skipped"),
])  # fmt: skip
def test_vectors_check_judges_a_peer_file_in_its_declared_environment(
    peer: dict[str, str], tmp_path: Path, environment: str, summary: str
) -> None:
    path = tmp_path / "ztca.json"
    path.write_text(json.dumps(_vector_file(peer, environment)), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ttsign.cli", "vectors", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.strip().splitlines()[-1] == summary, result.stdout[-2000:]
