"""BufferedSystemRandom: kernel randomness in blocks, the SystemRandom API, distinct bytes after a fork."""

from __future__ import annotations

import os
import re
import statistics
from unittest import mock

import pytest

from ttsign.randomness import BufferedSystemRandom, fresh_request_id


def test_one_urandom_call_serves_many_draws() -> None:
    rng = BufferedSystemRandom(block_bytes=4096)
    with mock.patch("ttsign.randomness.os.urandom", wraps=os.urandom) as urandom:
        for _ in range(60):  # a connect's draws: 16 + 32 + 384 bits
            rng.getrandbits(16), rng.getrandbits(32), rng.getrandbits(384)
    assert urandom.call_count == 1  # 60 * 56 bytes fit in one 4 KiB block
    assert rng.randbytes(5000) != rng.randbytes(5000)  # larger than a block: straight from the kernel


def test_bytes_are_handed_out_once() -> None:
    rng = BufferedSystemRandom(block_bytes=64)
    chunks = [rng.randbytes(16) for _ in range(40)]  # spans several blocks
    assert len(set(chunks)) == len(chunks)
    assert all(len(chunk) == 16 for chunk in chunks)


@pytest.mark.parametrize("bits", [1, 7, 8, 16, 31, 32, 384])
def test_getrandbits_stays_in_range_and_uses_the_top_bit(bits: int) -> None:
    rng = BufferedSystemRandom()
    values = [rng.getrandbits(bits) for _ in range(2000)]
    assert all(0 <= value < 2**bits for value in values)
    assert any(value >> (bits - 1) for value in values)  # the highest bit is set sometimes


def test_the_derived_methods_behave_like_system_random() -> None:
    rng = BufferedSystemRandom()
    floats = [rng.random() for _ in range(5000)]
    assert all(0.0 <= value < 1.0 for value in floats)
    assert 0.45 < statistics.fmean(floats) < 0.55
    assert {rng.randrange(6) for _ in range(500)} == set(range(6))
    order = list(range(16))
    rng.shuffle(order)
    assert sorted(order) == list(range(16))
    with pytest.raises(ValueError):
        rng.getrandbits(-1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_the_parents_block() -> None:
    rng = BufferedSystemRandom()
    rng.randbytes(1)  # the block is filled before the fork
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next bytes and leave at once
        os.write(write_end, rng.randbytes(32))
        os._exit(0)
    os.close(write_end)
    child_bytes = os.read(read_end, 32)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert child_bytes != rng.randbytes(32)


def test_request_ids_are_32_hex_digits_and_distinct() -> None:
    ids = {fresh_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
