"""Connect strategies (`direct`, `fetch`, `relay`): one small interface (`base.ConnectStrategy`), one module each."""

from ttsign.service.strategies.base import Connected, ConnectRequest, ConnectStrategy, Target, falls_through
from ttsign.service.strategies.direct import DirectStrategy
from ttsign.service.strategies.fetch import FetchStrategy
from ttsign.service.strategies.relay import RelayDoor, RelayDoorSlot, RelayStrategy
from ttsign.service.strategies.steps import ConnectSteps, OnRetry

STRATEGY_NAMES = ("direct", "fetch", "relay")

__all__ = [
    "STRATEGY_NAMES",
    "ConnectRequest",
    "ConnectSteps",
    "ConnectStrategy",
    "Connected",
    "DirectStrategy",
    "FetchStrategy",
    "OnRetry",
    "RelayDoor",
    "RelayDoorSlot",
    "RelayStrategy",
    "Target",
    "falls_through",
]
