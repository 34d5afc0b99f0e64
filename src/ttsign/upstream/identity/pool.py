"""The identity pool: one warm identity per browser profile, shared between replicas through the shelf."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from ttsign.signing import BrowserProfile
from ttsign.store.base import IdentityRecord, IdentityShelf, StoreUnavailable
from ttsign.upstream.cookies import CookieJar
from ttsign.upstream.identity.value import Identity, identity_slot
from ttsign.upstream.refusals import Refusal

logger = logging.getLogger(__name__)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class IdentityFactory(Protocol):
    """Bootstraps an identity for a profile; `name`, when given, is the streamer whose page to try first."""

    def __call__(self, profile: BrowserProfile, name: str | None = None, /) -> Awaitable[Identity | Refusal]: ...


_SHELF_POLL_S = 0.05  # while another replica bootstraps a profile, how often to look for its identity
_ROTATION_STEP_S = 0.001  # a rotation is always later than the one it replaces, whatever the wall clock says


class IdentityPool:
    """One warm identity per browser profile, at most `size` profiles, least recently used evicted.

    With a `shelf` (Redis), replicas share identities: before bootstrapping, a replica looks on the shelf
    and adopts what another one obtained; one replica at a time bootstraps a profile (a short lock); a
    retirement marks the identity retired for all, and every replica re-checks its warm identity against
    the shelf at least every `recheck_s`. When the shelf is unreachable the pool carries on in-process.

    A msToken or ttwid TikTok rotates reaches the shelf `rotation_save_delay_s` later, off the request
    path, in one write however many rotations came meanwhile; other replicas take it at their next
    re-check. The newest rotation wins (wall clock), and a retired identity is never written back.
    """

    def __init__(
        self,
        factory: IdentityFactory,
        *,
        size: int = 16,
        max_age_s: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
        shelf: IdentityShelf | None = None,
        wall_clock: Callable[[], float] = time.time,
        recheck_s: float = 1.0,
        lock_ttl_s: float = 5.0,
        rotation_save_delay_s: float = 1.0,
    ) -> None:
        self._factory = factory
        self._size = size
        self._max_age_s = max_age_s
        self._clock = clock
        self._shelf = shelf
        self._wall = wall_clock
        self._recheck_s = recheck_s
        self._lock_ttl_s = lock_ttl_s
        self._rotation_save_delay_s = rotation_save_delay_s
        self._saving: set[str] = set()  # identities with a rotation save scheduled
        self._flush = asyncio.Event()  # set by settle(): scheduled saves go now, not after their delay
        self._warm: OrderedDict[str, Identity] = OrderedDict()
        self._pending: dict[str, asyncio.Task[Identity | Refusal]] = {}
        self._names: dict[str, str] = {}  # slot -> the streamer whose page its next bootstrap tries first
        self._confirmed: dict[str, float] = {}  # slot -> when the shelf last agreed with our warm identity
        self._background: set[asyncio.Task[None]] = set()
        self._warned_at = float("-inf")

    def holds(self, profile: BrowserProfile) -> bool:
        """Whether an identity for this profile's slot is warm or on its way (no I/O, no use counted)."""
        key = identity_slot(profile)
        return key in self._warm or key in self._pending

    def ready(self, profile: BrowserProfile) -> Identity | None:
        """The warm identity for this profile when it can be used now, with no I/O; else None (`acquire`)."""
        key = identity_slot(profile)
        identity = self._warm.get(key)
        if identity is not None and self._usable(identity) and self._confirmed_recently(key):
            self._warm.move_to_end(key)
            identity.uses += 1
            return identity
        return None

    async def acquire(self, profile: BrowserProfile, *, name: str | None = None) -> Identity | Refusal:
        """A usable identity for this profile, bootstrapping one (once, shared) when needed; a bootstrap
        visits the page of the streamer `name` first, as a viewer arriving there would."""
        identity = self.ready(profile)
        if identity is not None:
            return identity
        key = identity_slot(profile)
        task = self._pending.get(key)
        if task is None:
            if name:
                self._names[key] = name
            task = asyncio.create_task(self._obtain(key, profile))
            self._pending[key] = task
        # shield: one caller giving up must not cancel the bootstrap the others wait on.
        result = await asyncio.shield(task)
        if isinstance(result, Identity):
            result.uses += 1
        return result

    def _confirmed_recently(self, key: str) -> bool:
        return self._shelf is None or self._clock() - self._confirmed.get(key, float("-inf")) < self._recheck_s

    async def _obtain(self, key: str, profile: BrowserProfile) -> Identity | Refusal:
        try:
            if self._shelf is None:
                return await self._bootstrap(key, profile)
            return await self._obtain_shared(key, profile, self._shelf)
        finally:
            self._pending.pop(key, None)
            self._names.pop(key, None)

    async def _bootstrap(self, key: str, profile: BrowserProfile) -> Identity | Refusal:
        name = self._names.pop(key, None)
        result = await (self._factory(profile) if name is None else self._factory(profile, name))
        if isinstance(result, Identity):
            self._keep(key, result)
            logger.info("identity %s bootstrapped for profile %s", result.key, profile.name)
        else:
            logger.warning("identity bootstrap refused for profile %s: %s", profile.name, result.code)
        return result

    def _keep(self, key: str, identity: Identity) -> None:
        if self._shelf is not None:
            identity.on_rotate = self._rotated
        self._warm[key] = identity
        self._warm.move_to_end(key)
        while len(self._warm) > self._size:
            evicted, _ = self._warm.popitem(last=False)
            self._confirmed.pop(evicted, None)

    def _drop(self, key: str, identity: Identity) -> None:
        if self._warm.get(key) is identity:
            del self._warm[key]
            self._confirmed.pop(key, None)

    def _usable(self, identity: Identity) -> bool:
        return not identity.retired and self._clock() - identity.created_at < self._max_age_s

    def retire(self, identity: Identity, reason: str) -> None:
        """Stop using an identity TikTok refused (everywhere, with a shelf); the next acquire replaces it."""
        identity.retired = True
        key = identity_slot(identity.profile)
        self._drop(key, identity)
        logger.info("identity %s retired: %s", identity.key, reason)
        if self._shelf is not None:
            self._in_background(self._retire_shared(self._shelf, key, identity.key))

    async def settle(self) -> None:
        """Write what is still due to the shelf now (retirements, rotated tokens) and wait for it (tests, shutdown)."""
        self._flush.set()
        try:
            while self._background:
                await asyncio.gather(*self._background, return_exceptions=True)
        finally:
            self._flush.clear()

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def __len__(self) -> int:
        return len(self._warm)

    def warm_identities(self) -> list[tuple[Identity, float]]:
        """Each warm identity with its age in seconds, most recently used last (for the operator console)."""
        now = self._clock()
        return [(identity, now - identity.created_at) for identity in self._warm.values()]

    # --- sharing through the shelf --------------------------------------------------------------------

    async def _obtain_shared(self, key: str, profile: BrowserProfile, shelf: IdentityShelf) -> Identity | Refusal:
        current = self._warm.get(key)
        if current is not None and not self._usable(current):
            self._drop(key, current)
            current = None
        try:
            return await self._sync_with_shelf(key, profile, shelf, current)
        except StoreUnavailable as exc:
            self._warn(exc)
            if current is not None:
                self._confirmed[key] = self._clock()  # ask again in `recheck_s`, not on every request
                return current
            return await self._bootstrap(key, profile)

    async def _sync_with_shelf(
        self, key: str, profile: BrowserProfile, shelf: IdentityShelf, current: Identity | None
    ) -> Identity | Refusal:
        record = await shelf.load(key)
        if record is not None and current is not None and record.identity_id == current.key:
            if not record.retired:
                self._confirmed[key] = self._clock()
                self._take_rotation(current, record)
                return current
            current.retired = True  # another replica saw TikTok refuse it
            self._drop(key, current)
            current = None
        adopted = self._adopt(key, profile, record)
        if adopted is not None:
            return adopted
        if current is not None:  # the shelf lost it (expired, flushed, Redis restarted): share ours again
            await self._publish(shelf, key, current)
            return current
        return await self._bootstrap_shared(key, profile, shelf)

    def _adopt(self, key: str, profile: BrowserProfile, record: IdentityRecord | None) -> Identity | None:
        """Take over another replica's identity for this profile, if the record is live and matches."""
        if record is None or record.retired:
            return None
        if record.profile_name != profile.name or record.user_agent != profile.user_agent:
            return None
        age = max(0.0, self._wall() - record.created_at)
        identity = Identity(
            record.device_id,
            profile,
            CookieJar(record.cookies),
            created_at=self._clock() - age,
            key=record.identity_id,
            rotated_at=record.rotated_at,
        )
        if not self._usable(identity):
            return None
        self._keep(key, identity)
        self._confirmed[key] = self._clock()
        logger.info("identity %s adopted from the shared pool for profile %s", identity.key, profile.name)
        return identity

    async def _bootstrap_shared(self, key: str, profile: BrowserProfile, shelf: IdentityShelf) -> Identity | Refusal:
        token = await shelf.try_lock(key, self._lock_ttl_s)
        for _ in range(max(1, round(self._lock_ttl_s / _SHELF_POLL_S))):
            if token is not None:
                break
            await asyncio.sleep(_SHELF_POLL_S)  # another replica is bootstrapping this profile
            adopted = self._adopt(key, profile, await shelf.load(key))
            if adopted is not None:
                return adopted
            token = await shelf.try_lock(key, self._lock_ttl_s)
        try:
            if token is not None:  # it may have finished between our last look and our lock
                adopted = self._adopt(key, profile, await shelf.load(key))
                if adopted is not None:
                    return adopted
            result = await self._bootstrap(key, profile)
            if isinstance(result, Identity):
                try:
                    await self._publish(shelf, key, result)
                except StoreUnavailable as exc:
                    self._warn(exc)
            return result
        finally:
            if token is not None:
                with contextlib.suppress(StoreUnavailable):
                    await shelf.unlock(key, token)

    async def _publish(self, shelf: IdentityShelf, key: str, identity: Identity) -> None:
        ttl_s = self._max_age_s - (self._clock() - identity.created_at)
        if ttl_s <= 0:
            return
        await shelf.save(key, self._record(identity), ttl_s)
        self._confirmed[key] = self._clock()

    def _record(self, identity: Identity) -> IdentityRecord:
        cookies = {name: identity.cookies.get(name) or "" for name in identity.cookies}
        return IdentityRecord(
            identity_id=identity.key,
            device_id=identity.device_id,
            profile_name=identity.profile.name,
            user_agent=identity.profile.user_agent,
            cookies=cookies,
            created_at=self._wall() - (self._clock() - identity.created_at),
            rotated_at=identity.rotated_at,
        )

    # --- rotated tokens -------------------------------------------------------------------------------

    def _rotated(self, identity: Identity) -> None:
        """TikTok rotated this identity's msToken or ttwid: schedule one write to the shelf (request path)."""
        identity.rotated_at = max(self._wall(), identity.rotated_at + _ROTATION_STEP_S)
        key = identity_slot(identity.profile)
        if self._shelf is None or identity.key in self._saving or identity.retired:
            return
        if self._warm.get(key) is not identity or not _in_event_loop():
            return  # not ours to share any more, or a synchronous caller: nothing can be scheduled
        self._saving.add(identity.key)
        self._in_background(self._save_rotation(self._shelf, key, identity))

    async def _save_rotation(self, shelf: IdentityShelf, key: str, identity: Identity) -> None:
        try:
            with contextlib.suppress(TimeoutError):  # rotations within the delay share this one write
                await asyncio.wait_for(self._flush.wait(), self._rotation_save_delay_s)
        finally:
            self._saving.discard(identity.key)  # a rotation from here on schedules a write of its own
        if identity.retired or self._warm.get(key) is not identity:
            return
        try:
            await shelf.update_cookies(key, self._record(identity))
        except StoreUnavailable as exc:
            self._warn(exc)

    def _take_rotation(self, current: Identity, record: IdentityRecord) -> None:
        """Another replica saw TikTok rotate this identity's tokens later than we did: use its cookies."""
        if record.rotated_at <= current.rotated_at:
            return
        for name, value in record.cookies.items():
            current.cookies.set(name, value)
        current.rotated_at = record.rotated_at
        logger.debug("identity %s: rotated tokens taken from the shared pool", current.key)

    async def _retire_shared(self, shelf: IdentityShelf, key: str, identity_id: str) -> None:
        try:
            await shelf.retire(key, identity_id)
        except StoreUnavailable as exc:
            self._warn(exc)

    def _warn(self, exc: StoreUnavailable) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 10.0:  # one line per interval during an outage, not one per request
            self._warned_at = now
            logger.warning("shared identity pool unavailable (%s); using identities of this process only", exc)
