"""Relay fan-out: one room's events to many WebSocket consumers through `ttsign serve` (issue 14).

Starts `ttsign emulate` (step mode: the benchmark pushes the events) and `ttsign serve --upstream <emulator>`
on port 0, connects `--consumers` Euler-style consumers to /ws, then has the emulator send `--rate` chat
events a second for `--seconds`, in frames of `--per-frame` messages (TikTok batches a room's messages per
frame too; one Python client process could not read 200 frames a second on 1,000 sockets). Prints:

  delivered     events received over all consumers, per second, and any lost (sent x consumers - received)
  delay         p50/p99 from the emulator's send (a frame's first createTime, ms) to a consumer's receipt
  cpu           ttsign's CPU per delivered event (its /proc counters over the load)
  memory        ttsign's RSS growth per connected consumer
  sockets       TikTok sockets opened for the room: with the relay, and what the clients would open direct

Targets (issue 14): p99 < 100 ms at 200 events/s to 1,000 consumers, < 50 KB per consumer. The consumers,
the emulator and ttsign share this machine's cores, so the delay includes the consumers' own reading time.
Usage: .venv/bin/python benchmarks/relay_fanout.py [--consumers 1000] [--rate 200] [--per-frame 20]
       [--seconds 20] [--deflate]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import secrets
import tempfile
import time
from pathlib import Path

import httpx
import uvloop
import yaml
from paced import percentile
from procs import Proc, cpu_seconds
from websockets.asyncio.client import connect

STREAMER = "emu_streamer"
CHAT = '"type":"WebcastChatMessage"'
STAMP = '{"timestamp":'
CREATED = '"createTime":"'  # the emulator's send time (ms) of the frame's first message
COMPRESSION = "deflate"  # consumers offer permessage-deflate, as browsers do; the server decides (--deflate)
TARGET_P99_MS, TARGET_KB = 100.0, 50.0


REDIS_URL = os.environ.get("TTSIGN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")  # --workers: rooms shared


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def process_tree(pid: int) -> list[int]:
    """The process and its children (the workers of `serve --workers N`), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue += children.get(current, [])
    return tree


def tree_rss_kb(pid: int) -> int:
    return sum(rss_kb(each) for each in process_tree(pid))


def tree_cpu_s(pid: int) -> float:
    return sum(cpu_seconds(each) for each in process_tree(pid))


def scenario_file() -> str:
    scenario = {
        "streamer": {"unique_id": STREAMER, "user_id": "6900000000000000001", "nickname": "Emu",
                     "room_id": "7390000000000000001"},
        "room": {"state": "live"},
        "users": {"u1": {"id": 1001, "unique_id": "viewer1", "nickname": "Viewer 1"}},
        "websocket": {"ping_interval_s": 1, "gzip": "auto", "need_ack": True, "route_params": {"wrss": "emu-wrss"}},
        "timeline": [],
    }  # fmt: skip
    path = Path(tempfile.mkdtemp(prefix="ttsign-relay-bench-")) / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return str(path)


class Tally:
    def __init__(self) -> None:
        self.received = 0
        self.delays_ms: list[float] = []
        self.upstream_ms: list[float] = []  # emulator send -> ttsign fan-out, the part before the consumers
        self.ready = 0


async def consume(url: str, tally: Tally, stop: asyncio.Event) -> None:
    async with connect(url, max_size=2**22, ping_interval=None, compression=COMPRESSION) as ws:
        tally.ready += 1
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            now_ms = time.time() * 1000
            # Counted and timed with string scans, not a JSON parse: one Python process reads every
            # consumer, and parsing 200,000 messages a second would measure this client, not ttsign.
            count = text.count(CHAT)
            if count:
                tally.received += count
                at = text.index(CREATED) + len(CREATED)
                created = int(text[at : text.index('"', at)])
                tally.delays_ms.append(now_ms - created)
                relayed = int(text[len(STAMP) : text.index(",")])  # when ttsign fanned the frame out
                tally.upstream_ms.append(relayed - created)


async def connect_all(url: str, count: int, tally: Tally, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    tasks = []
    for start in range(0, count, 50):  # in waves: a thousand handshakes at once would time out on 2 cores
        wave = [asyncio.create_task(consume(url, tally, stop)) for _ in range(start, min(count, start + 50))]
        tasks += wave
        while tally.ready < len(tasks):
            await asyncio.sleep(0.05)
    return tasks


async def push_load(emu: str, rate: int, per_frame: int, seconds: float) -> int:
    frames_per_s = rate / per_frame
    sent, next_id = 0, 100_000
    async with httpx.AsyncClient(timeout=10) as http:
        start = time.monotonic()
        frame = 0
        while time.monotonic() - start < seconds:
            batch = [{"type": "chat", "user": "u1", "content": f"m{next_id + i}"} for i in range(per_frame)]
            steps = [{"id": next_id, "batch": batch}]
            next_id += per_frame
            await http.post(f"{emu}/__emu/push", json=steps)
            sent += per_frame
            frame += 1
            await asyncio.sleep(max(0.0, start + frame / frames_per_s - time.monotonic()))
    return sent


async def main(args: argparse.Namespace) -> None:
    emu = Proc("emulate", "--host", "127.0.0.1", "--port", "0", "--scenario", scenario_file(), "--lenient")
    env = {
        "TTSIGN_RELAY_MAX_SOCKETS_PER_KEY": "1000000",
        "TTSIGN_LOG_LEVEL": "WARNING",
        "TTSIGN_ACCESS_LOG": "false",
        "TTSIGN_RELAY_DEFLATE": "true" if args.deflate else "false",
    }
    if args.workers > 1:  # the workers share the room through Redis: one holds its socket, all fan out
        env |= {"TTSIGN_REDIS_URL": REDIS_URL, "TTSIGN_REDIS_KEY_PREFIX": f"ttsign-fanout-{secrets.token_hex(4)}:"}
    workers = ("--workers", str(args.workers))
    server = Proc("serve", "--host", "127.0.0.1", "--port", "0", "--upstream", emu.url, *workers, env=env)
    stop = asyncio.Event()
    tally = Tally()
    try:
        ws_url = (
            server.url.replace("http://", "ws://")
            + f"/ws?uniqueId={STREAMER}&features.closeInactiveWebSocketAfter=3600"
        )
        rss_before = tree_rss_kb(server.popen.pid)
        tasks = await connect_all(ws_url, args.consumers, tally, stop)
        await asyncio.sleep(1.0)  # let the handshakes' garbage settle before reading RSS
        gc.collect()
        gc.freeze()  # the consumers' own collector pauses (1,000 sockets' objects) are not ttsign's delay
        rss_after = tree_rss_kb(server.popen.pid)
        cpu_before, own_before, emu_before = tree_cpu_s(server.popen.pid), os.times(), emu.cpu_s()
        started = time.monotonic()
        sent = await push_load(emu.url, args.rate, args.per_frame, args.seconds)
        expected = sent * args.consumers
        deadline = time.monotonic() + 10
        while tally.received < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        cpu_used = tree_cpu_s(server.popen.pid) - cpu_before
        wall = time.monotonic() - started
        own = os.times()
        client_cpu = own.user + own.system - own_before.user - own_before.system
        emu_cpu = emu.cpu_s() - emu_before
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        sockets = sum(1 for entry in httpx.get(f"{emu.url}/__emu/log", params={"kind": "ws_open"}).json())
    finally:
        server.stop()
        emu.stop()
    delays = sorted(tally.delays_ms)
    per_consumer_kb = (rss_after - rss_before) / max(1, args.consumers)
    print(f"relay fan-out: 1 room, {args.workers} worker(s), {args.consumers} consumers, {args.rate} events/s "
          f"in frames of {args.per_frame}, {args.seconds:g} s")  # fmt: skip
    print(f"  delivered  {tally.received} of {expected} ({expected - tally.received} lost), "
          f"{tally.received / args.seconds:,.0f} events/s")  # fmt: skip
    print(f"  delay      p50 {percentile(delays, 50):.1f} ms, p99 {percentile(delays, 99):.1f} ms "
          f"(target p99 < {TARGET_P99_MS:g} ms)")  # fmt: skip
    up = sorted(tally.upstream_ms)
    print(f"  of which   emulator to ttsign's fan-out p50 {percentile(up, 50):.1f} ms, p99 {percentile(up, 99):.1f} ms")
    print(f"  cpu        ttsign {cpu_used * 1e6 / max(1, tally.received):.1f} µs per delivered event "
          f"({cpu_used:.2f} s over the load)")  # fmt: skip
    print(f"  cores      over {wall:.1f} s: ttsign {cpu_used / wall:.2f}, consumers {client_cpu / wall:.2f}, "
          f"emulator {emu_cpu / wall:.2f}")  # fmt: skip
    print(f"  memory     ttsign RSS +{per_consumer_kb:.1f} KB per consumer (target < {TARGET_KB:g} KB)")
    print(f"  sockets    TikTok sockets for the room: {sockets} through the relay, {args.consumers} direct")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--per-frame", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1, help="serve --workers N (with Redis, see REDIS_URL)")
    parser.add_argument("--deflate", action="store_true", help="the server compresses (TTSIGN_RELAY_DEFLATE=true)")
    uvloop.run(main(parser.parse_args()))
