"""Relay at breadth: 100 rooms x 10 WebSocket consumers for 60 s through `ttsign serve` (issue 14).

Starts `ttsign emulate` serving `--rooms` live rooms (scenario `rooms:`; emu_streamer, emu_streamer_1, ...)
and `ttsign serve --upstream <emulator>`, connects `--per-room` Euler-style consumers to each room's /ws and
waits for each one's roomInfo (it is on the room), then has the emulator push `--rate` chat events a second
to every room (all rooms at once: a burst of 100 frames, harsher than independent rooms) for `--warmup` and
then `--seconds`, in frames of `--per-frame`. Every consumer counts the chat events it gets;
each must get every one. Then, in the same run, the same number of clients open their own push socket to
the emulator, as they would without the relay, and the emulator's log counts the sockets it saw both ways.
Prints:

  delivered   events each consumer got of those sent to its room; lost over all, consumers short of any
  delay       p50/p99 from the emulator's send (a frame's first createTime) to a consumer's receipt
  rss         ttsign's RSS after the warm-up (buffers at their steady size) and when the load ends, growth in %
  sockets     TikTok (emulator) sockets opened: through the relay, and the clients direct

Targets (issue 14): zero lost events, RSS growth < 5%.
Usage: .venv/bin/python benchmarks/relay_rooms.py [--rooms 100] [--per-room 10] [--seconds 60]
       [--rate 20] [--per-frame 4] [--warmup SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
from pathlib import Path

import httpx
import uvloop
import yaml
from paced import percentile
from procs import Proc
from relay_fanout import CHAT, CREATED, STAMP, rss_kb
from websockets.asyncio.client import connect

from ttsign.relay.session import SEEN_IDS

STREAMER, FIRST_ROOM = "emu_streamer", 7390000000000000001
PUSH_PATH = "/webcast/im/ws_proxy/ws_reuse_supplement/"
TARGET_RSS_GROWTH = 5.0


def room_name(index: int) -> str:
    return STREAMER if index == 0 else f"{STREAMER}_{index}"


def scenario_file(rooms: int) -> str:
    scenario = {
        "streamer": {"unique_id": STREAMER, "room_id": str(FIRST_ROOM)},
        "rooms": rooms,
        "users": {"u1": {"id": 1001, "unique_id": "viewer1", "nickname": "Viewer 1"}},
        "websocket": {"ping_interval_s": 1, "gzip": "auto", "need_ack": True},
        "timeline": [],
    }
    path = Path(tempfile.mkdtemp(prefix="ttsign-relay-rooms-")) / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return str(path)


class Consumer:
    def __init__(self) -> None:
        self.received = 0
        self.on_room = asyncio.Event()


class Tally:
    def __init__(self) -> None:
        self.delays_ms: list[float] = []
        self.upstream_ms: list[float] = []  # emulator send -> ttsign fan-out, the part before the consumers


async def consume(url: str, me: Consumer, tally: Tally, stop: asyncio.Event) -> None:
    async with connect(url, max_size=2**22, ping_interval=None) as ws:
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            assert isinstance(text, str)
            if not me.on_room.is_set() and '"type":"roomInfo"' in text:
                me.on_room.set()
            count = text.count(CHAT)  # string scans, not a JSON parse: this process reads every consumer
            if count:
                now_ms = time.time() * 1000
                me.received += count
                at = text.index(CREATED) + len(CREATED)
                created = int(text[at : text.index('"', at)])
                tally.delays_ms.append(now_ms - created)
                tally.upstream_ms.append(int(text[len(STAMP) : text.index(",")]) - created)


async def connect_consumers(
    base: str, rooms: int, per_room: int, tally: Tally, stop: asyncio.Event
) -> tuple[list[Consumer], list[asyncio.Task[None]]]:
    consumers: list[Consumer] = []
    tasks: list[asyncio.Task[None]] = []
    query = "features.closeInactiveWebSocketAfter=3600"
    for index in range(rooms):  # a room at a time: a thousand handshakes at once would time out on 2 cores
        url = base.replace("http://", "ws://") + f"/ws?uniqueId={room_name(index)}&{query}"
        wave = [Consumer() for _ in range(per_room)]
        tasks += [asyncio.create_task(consume(url, me, tally, stop)) for me in wave]
        consumers += wave
        await asyncio.wait_for(asyncio.gather(*(me.on_room.wait() for me in wave)), 30)
    return consumers, tasks


async def push_load(emu: str, rate: int, per_frame: int, seconds: float, first_id: int = 100_000) -> int:
    """Chat events pushed to every room's socket; returns how many each room was sent."""
    sent, next_id, frame = 0, first_id, 0
    async with httpx.AsyncClient(timeout=30) as http:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            batch = [{"type": "chat", "user": "u1", "content": f"m{next_id + i}"} for i in range(per_frame)]
            await http.post(f"{emu}/__emu/push", json=[{"id": next_id, "batch": batch}])
            next_id += per_frame
            sent += per_frame
            frame += 1
            await asyncio.sleep(max(0.0, start + frame * per_frame / rate - time.monotonic()))
    return sent


async def direct_sockets(emu: str, rooms: int, per_room: int) -> None:
    """Each client opening its own push socket to its room, as it would without the relay."""
    base = emu.replace("http://", "ws://") + PUSH_PATH

    async def one(room: int) -> None:
        async with connect(f"{base}?room_id={room}&wrss=emu-wrss", ping_interval=None):
            return None

    for index in range(rooms):
        await asyncio.gather(*(one(FIRST_ROOM + index) for _ in range(per_room)))


def sockets_opened(emu: str, after_session: int = 0) -> tuple[int, int]:
    """(push sockets the emulator opened after session `after_session`, the last session id)."""
    entries = httpx.get(f"{emu}/__emu/log", params={"kind": "ws_open"}, timeout=30).json()
    sessions = [entry["session"] for entry in entries if entry["session"] > after_session]
    return len(sessions), max(sessions, default=after_session)


async def main(args: argparse.Namespace) -> None:
    emu = Proc("emulate", "--host", "127.0.0.1", "--port", "0", "--scenario", scenario_file(args.rooms), "--lenient")
    env = {"TTSIGN_RELAY_MAX_SOCKETS_PER_KEY": "1000000", "TTSIGN_LOG_LEVEL": "WARNING", "TTSIGN_ACCESS_LOG": "false"}
    server = Proc("serve", "--host", "127.0.0.1", "--port", "0", "--upstream", emu.url, env=env)
    stop, tally = asyncio.Event(), Tally()
    try:
        consumers, tasks = await connect_consumers(server.url, args.rooms, args.per_room, tally, stop)
        relayed_sockets, last_session = sockets_opened(emu.url)
        gc.collect()
        gc.freeze()  # this process's own collector pauses over 1,000 sockets are not ttsign's delay
        rss_connected = rss_kb(server.popen.pid)
        # Warm-up: each room's bounded buffers reach their steady size (the msg_ids remembered against
        # replays, 64 recent frames), so the growth measured after it is what a long run would keep adding.
        # Its events count too.
        warmup_s = args.warmup if args.warmup is not None else 1.1 * SEEN_IDS / args.rate
        warmup = await push_load(emu.url, args.rate, args.per_frame, warmup_s, first_id=10_000_000)
        rss_start = rss_kb(server.popen.pid)
        cpu = (server.cpu_s(), emu.cpu_s(), os.times(), time.monotonic())
        sent = warmup + await push_load(emu.url, args.rate, args.per_frame, args.seconds)
        deadline = time.monotonic() + 15
        while any(me.received < sent for me in consumers) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        rss_end = rss_kb(server.popen.pid)
        own, wall = os.times(), time.monotonic() - cpu[3]
        cores = (
            (server.cpu_s() - cpu[0]) / wall,
            (emu.cpu_s() - cpu[1]) / wall,
            (own.user + own.system - cpu[2].user - cpu[2].system) / wall,
        )
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        last_session = max(last_session, sockets_opened(emu.url, last_session)[1])  # any reconnect
        await direct_sockets(emu.url, args.rooms, args.per_room)
        direct = sockets_opened(emu.url, last_session)[0]
    finally:
        server.stop()
        emu.stop()
    expected = sent * len(consumers)
    received = sum(me.received for me in consumers)
    lost = sum(max(0, sent - me.received) for me in consumers)
    short = sum(1 for me in consumers if me.received < sent)
    extra = sum(max(0, me.received - sent) for me in consumers)
    delays = sorted(tally.delays_ms)
    growth = 100.0 * (rss_end - rss_start) / max(1, rss_start)
    print(f"relay rooms: {args.rooms} rooms x {args.per_room} consumers, {args.rate} events/s per room in frames "
          f"of {args.per_frame}, {args.seconds:g} s")  # fmt: skip
    print(f"  delivered  {received} of {expected}: {lost} lost ({short} consumers short), {extra} duplicated; "
          f"{sent} events sent to each room")  # fmt: skip
    print(f"  delay      p50 {percentile(delays, 50):.1f} ms, p99 {percentile(delays, 99):.1f} ms")
    up = sorted(tally.upstream_ms)
    print(f"  of which   emulator to ttsign's fan-out p50 {percentile(up, 50):.1f} ms, p99 {percentile(up, 99):.1f} ms")
    print(f"  cores      ttsign {cores[0]:.2f}, emulator {cores[1]:.2f}, consumers {cores[2]:.2f}")
    print(f"  rss        ttsign {rss_connected / 1024:.1f} MB with the consumers connected, "
          f"{rss_start / 1024:.1f} MB after {warmup_s:.0f} s of warm-up load")  # fmt: skip
    print(f"             {rss_start / 1024:.1f} MB at the start, {rss_end / 1024:.1f} MB at the end: "
          f"{growth:+.2f}% (target < {TARGET_RSS_GROWTH:g}%)")  # fmt: skip
    print(f"  sockets    TikTok (emulator) sockets opened: {relayed_sockets} through the relay, "
          f"{direct} with the clients direct")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--per-room", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=20, help="chat events a second to each room")
    parser.add_argument("--per-frame", type=int, default=4)
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds of load before RSS is first read (default: until each "
        "room's relay has seen as many msg_ids as it remembers, SEEN_IDS / rate, plus 10%%)"
    )  # fmt: skip
    uvloop.run(main(parser.parse_args()))
