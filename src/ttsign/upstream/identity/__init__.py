"""Identities, split by concept: the value (`value`), how one is obtained (`bootstrap`), the pool that keeps
them warm and shares them between replicas (`pool`), and what each may spend on socket connects (`budget`).

An identity is bootstrapped from a www.tiktok.com page that mints `ttwid` (and `msToken`), then reused until
TikTok refuses it, it ages out, or its connect budget is spent.
"""

from ttsign.upstream.identity.bootstrap import bootstrap_identity, browser_page_headers
from ttsign.upstream.identity.budget import ConnectBudget
from ttsign.upstream.identity.pool import IdentityFactory, IdentityPool
from ttsign.upstream.identity.value import Identity, identity_slot, new_device_id

__all__ = [
    "ConnectBudget",
    "Identity",
    "IdentityFactory",
    "IdentityPool",
    "bootstrap_identity",
    "browser_page_headers",
    "identity_slot",
    "new_device_id",
]
